/* SPDX-License-Identifier: MIT */
/*
 * cidr.c - cidr: tables, Postfix's cidr_table(5) syntax: "pattern result"
 * rules tried in file order, the first match wins.  A pattern is an IPv4
 * or IPv6 address with an optional "/prefix" (the address may be written
 * in [brackets]), optionally negated with '!'.  "if pattern" ... "endif"
 * blocks apply the rules inside only to matching addresses.  Unlike
 * Postfix, which skips a bad rule with a warning, a bad rule is an error:
 * a skipped rule in mynetworks or an access table changes who is allowed.
 */
#include "table/table_int.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum rule_kind { RULE_MATCH, RULE_IF, RULE_ENDIF };

struct rule {
        enum rule_kind kind;
        int family;            /* AF_INET or AF_INET6 */
        unsigned char net[16]; /* network bytes */
        int prefix;            /* prefix length in bits */
        bool negate;           /* '!pattern' */
        size_t end;            /* RULE_IF: index after the matching endif */
        char *pattern;         /* as written, for table_walk */
        char *value;           /* RULE_MATCH: the result */
};

struct table_cidr_rules {
        struct rule *v;
        size_t n, cap;
};

/* parse_addr - an IPv4 or IPv6 address into bytes; 0 or -1 */
static int parse_addr(const char *s, int *family, unsigned char *out)
{
        if (strchr(s, ':') != NULL) {
                *family = AF_INET6;
                return inet_pton(AF_INET6, s, out) == 1 ? 0 : -1;
        }
        *family = AF_INET;
        return inet_pton(AF_INET, s, out) == 1 ? 0 : -1;
}

/* prefix_match - whether addr is inside net/prefix */
static bool prefix_match(const unsigned char *net, int prefix,
                         const unsigned char *addr)
{
        int full = prefix / 8, bits = prefix % 8;

        if (memcmp(net, addr, (size_t)full) != 0)
                return false;
        if (bits == 0)
                return true;
        unsigned char mask = (unsigned char)(0xff << (8 - bits));

        return (net[full] & mask) == (addr[full] & mask);
}

/* parse_pattern - "[!]addr[/len]" with optional brackets into r */
static int parse_pattern(const char *name, unsigned long lineno,
                         const char *pat, struct rule *r, char **err)
{
        const char *p = pat;
        char *addr, *slash, *end;
        size_t alen;
        int maxbits;

        if (*p == '!') {
                r->negate = true;
                p++;
        }
        addr = xstrdup(p);
        if ((slash = strchr(addr, '/')) != NULL)
                *slash++ = 0;
        alen = strlen(addr);
        if (alen >= 2 && addr[0] == '[' && addr[alen - 1] == ']') {
                memmove(addr, addr + 1, alen - 2);
                addr[alen - 2] = 0;
        }
        if (parse_addr(addr, &r->family, r->net) < 0) {
                table_err(err, "%s, line %lu: bad address pattern: \"%s\"",
                          name, lineno, pat);
                free(addr);
                return -1;
        }
        maxbits = r->family == AF_INET ? 32 : 128;
        r->prefix = maxbits;
        if (slash) {
                long len;

                if (*slash < '0' || *slash > '9' || strlen(slash) > 3 ||
                    (len = strtol(slash, &end, 10), *end != 0) ||
                    len > maxbits) {
                        table_err(err,
                                  "%s, line %lu: bad mask length in \"%s\"",
                                  name, lineno, pat);
                        free(addr);
                        return -1;
                }
                r->prefix = (int)len;
        }
        free(addr);
        /* host bits must be zero, as in Postfix */
        for (int bit = r->prefix; bit < maxbits; bit++) {
                if (r->net[bit / 8] & (0x80 >> (bit % 8))) {
                        unsigned char net[16];
                        char buf[INET6_ADDRSTRLEN];

                        memcpy(net, r->net, sizeof(net));
                        for (int b = r->prefix; b < maxbits; b++)
                                net[b / 8] &= (unsigned char)~(0x80 >> (b % 8));
                        inet_ntop(r->family, net, buf, sizeof(buf));
                        table_err(err,
                                  "%s, line %lu: non-null host address bits "
                                  "in \"%s\", perhaps you should use "
                                  "\"%s/%d\" instead",
                                  name, lineno, pat, buf, r->prefix);
                        return -1;
                }
        }
        return 0;
}

struct parse_ctx {
        const char *name;
        struct table_cidr_rules *rules;
        struct table_ifs ifs;
};

/* push_rule - append a rule */
static struct rule *push_rule(struct table_cidr_rules *c)
{
        if (c->n == c->cap) {
                c->cap = c->cap ? c->cap * 2 : 16;
                c->v = xreallocarray(c->v, c->cap, sizeof(*c->v));
        }
        memset(&c->v[c->n], 0, sizeof(c->v[0]));
        return &c->v[c->n++];
}

/* cidr_line - one logical line of a cidr table */
static int cidr_line(void *arg, char *text, unsigned long lineno, char **err)
{
        struct parse_ctx *ctx = arg;
        struct rule r = {0};
        char *pat = text, *rest = text;

        while (*rest && !table_isspace((unsigned char)*rest))
                rest++;
        if (*rest)
                *rest++ = 0;
        while (*rest && table_isspace((unsigned char)*rest))
                rest++;

        if (strcasecmp(pat, "endif") == 0) {
                size_t open;

                if (table_ifs_close(&ctx->ifs, rest, ctx->name, lineno, &open,
                                    err) < 0)
                        return -1;
                push_rule(ctx->rules)->kind = RULE_ENDIF;
                ctx->rules->v[open].end = ctx->rules->n;
                return 0;
        }
        if (strcasecmp(pat, "if") == 0) {
                pat = rest;
                while (*rest && !table_isspace((unsigned char)*rest))
                        rest++;
                if (*rest)
                        *rest++ = 0;
                while (*rest && table_isspace((unsigned char)*rest))
                        rest++;
                if (*pat == 0 || *rest) {
                        table_err(err,
                                  "%s, line %lu: IF needs one address pattern",
                                  ctx->name, lineno);
                        return -1;
                }
                if (parse_pattern(ctx->name, lineno, pat, &r, err) < 0)
                        return -1;
                r.kind = RULE_IF;
                r.pattern = xstrdup(pat);
                *push_rule(ctx->rules) = r;
                table_ifs_open(&ctx->ifs, ctx->rules->n - 1, lineno);
                return 0;
        }
        if (parse_pattern(ctx->name, lineno, pat, &r, err) < 0)
                return -1;
        if (*rest == 0) {
                table_err(err, "%s, line %lu: no lookup result for \"%s\"",
                          ctx->name, lineno, pat);
                return -1;
        }
        r.kind = RULE_MATCH;
        r.pattern = xstrdup(pat);
        r.value = xstrdup(rest);
        *push_rule(ctx->rules) = r;
        return 0;
}

/* table_cidr_free - release */
void table_cidr_free(struct table_cidr_rules *c)
{
        if (c == NULL)
                return;
        for (size_t i = 0; i < c->n; i++) {
                free(c->v[i].pattern);
                free(c->v[i].value);
        }
        free(c->v);
        free(c);
}

/* table_cidr_parse - the rules of a cidr table */
int table_cidr_parse(const char *name, const char *buf, size_t len,
                     struct table_cidr_rules **out, char **err)
{
        struct parse_ctx ctx = {
            .name = name, .rules = xcalloc(1, sizeof(struct table_cidr_rules))};
        int rc = table_read_lines(name, buf, len, cidr_line, &ctx, err);

        if (table_ifs_finish(&ctx.ifs, rc, name, err) < 0) {
                table_cidr_free(ctx.rules);
                *out = NULL;
                return -1;
        }
        *out = ctx.rules;
        return 0;
}

/* rule_matches - whether addr matches r; a rule of the other address
 * family never matches, negated or not (as in Postfix) */
static bool rule_matches(const struct rule *r, int family,
                         const unsigned char *addr)
{
        if (r->family != family)
                return false;
        return prefix_match(r->net, r->prefix, addr) != r->negate;
}

/* table_cidr_match - first matching rule */
const char *table_cidr_match(const struct table_cidr_rules *c, const char *key)
{
        unsigned char addr[16];
        int family;
        size_t i = 0;

        if (parse_addr(key, &family, addr) < 0)
                return NULL;
        while (i < c->n) {
                const struct rule *r = &c->v[i];

                switch (r->kind) {
                case RULE_IF:
                        i = rule_matches(r, family, addr) ? i + 1 : r->end;
                        break;
                case RULE_ENDIF:
                        i++;
                        break;
                case RULE_MATCH:
                        if (rule_matches(r, family, addr))
                                return r->value;
                        i++;
                        break;
                }
        }
        return NULL;
}

/* cidr_lookup - table_ops lookup */
static enum table_status cidr_lookup(struct table *t, const char *key,
                                     const char **value, char **err)
{
        const char *v = table_cidr_match(t->priv, key);

        (void)err;
        if (v == NULL)
                return TABLE_NOTFOUND;
        *value = v;
        return TABLE_FOUND;
}

/* cidr_walk - match rules in file order */
static int cidr_walk(struct table *t, table_walk_fn fn, void *arg, char **err)
{
        const struct table_cidr_rules *c = t->priv;

        for (size_t i = 0; i < c->n; i++) {
                if (c->v[i].kind != RULE_MATCH)
                        continue;
                if (fn(c->v[i].pattern, c->v[i].value, arg) < 0) {
                        if (err)
                                *err = NULL;
                        return -1;
                }
        }
        return 0;
}

/* cidr_close - release */
static void cidr_close(struct table *t)
{
        table_cidr_free(t->priv);
}

static const struct table_ops cidr_ops = {cidr_lookup, cidr_walk, cidr_close};

/* table_cidr_open - read and parse the file */
int table_cidr_open(struct table *t, const char *name, char **err)
{
        struct table_cidr_rules *c;
        char *buf;
        size_t len;

        if (table_read_file(name, &buf, &len, err) < 0)
                return -1;
        if (table_cidr_parse(name, buf, len, &c, err) < 0) {
                free(buf);
                return -1;
        }
        free(buf);
        t->ops = &cidr_ops;
        t->priv = c;
        t->file = xstrdup(name);
        t->fold = false;
        return 0;
}

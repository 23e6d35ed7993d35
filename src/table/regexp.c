/* SPDX-License-Identifier: MIT */
/*
 * regexp.c - regexp: tables, Postfix's regexp_table(5): "/pattern/flags
 * result" rules tried in file order, the first match wins.  Patterns are
 * POSIX regular expressions (regcomp), extended and case-insensitive by
 * default; the flags i, x and m toggle case, extended syntax and
 * multi-line mode.  The delimiter is the rule's first character (any but
 * white space, letters and digits).  "!/pattern/" matches keys the pattern
 * does not match.  "if /pattern/" ... "endif" blocks apply the rules
 * inside only to matching keys.  A result may use $1 ... $9, ${n} or $(n)
 * for what the groups matched ("" for a group that did not), and $$ for a
 * dollar.  As in cidr.c, a bad rule is an error, not a skipped line.
 */
#include "table/table_int.h"

#include <ctype.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum rule_kind { RULE_MATCH, RULE_IF, RULE_ENDIF };

struct rule {
        enum rule_kind kind;
        regex_t re;
        bool compiled;
        bool negate;   /* "!/pattern/" */
        size_t end;    /* RULE_IF: index after the matching endif */
        char *pattern; /* as written, for table_walk */
        char *value;   /* RULE_MATCH: the result template */
};

struct table_regexp_rules {
        struct rule *v;
        size_t n, cap;
        struct strbuf out; /* the last result, with $n filled in */
};

struct parse_ctx {
        const char *name;
        struct table_regexp_rules *rules;
        struct table_ifs ifs;
};

/* push_rule - append a rule */
static struct rule *push_rule(struct table_regexp_rules *c)
{
        if (c->n == c->cap) {
                c->cap = c->cap ? c->cap * 2 : 16;
                c->v = xreallocarray(c->v, c->cap, sizeof(*c->v));
        }
        memset(&c->v[c->n], 0, sizeof(c->v[0]));
        return &c->v[c->n++];
}

/* max_group - the highest $n a result template refers to (0 also when
 * it refers to none: *any tells), or -1 for a syntax error ("$" not
 * followed by a digit, "$", "{n}" or "(n)") */
static int max_group(const char *t, bool *any)
{
        int max = 0;

        *any = false;
        for (const char *p = t; *p; p++) {
                if (*p != '$')
                        continue;
                p++;
                if (*p == '$')
                        continue;
                if ((*p == '{' || *p == '(') && isdigit((unsigned char)p[1]) &&
                    p[2] == (*p == '{' ? '}' : ')')) {
                        max = p[1] - '0' > max ? p[1] - '0' : max;
                        *any = true;
                        p += 2;
                } else if (isdigit((unsigned char)*p)) {
                        max = *p - '0' > max ? *p - '0' : max;
                        *any = true;
                } else {
                        return -1;
                }
        }
        return max;
}

/* parse_pattern - "[!]/regex/flags" at *pp into r (compiled); *pp moves
 * past it.  -1 with *err naming the table and line. */
static int parse_pattern(const struct parse_ctx *ctx, unsigned long lineno,
                         char **pp, struct rule *r, char **err)
{
        char *p = *pp, delim, *re;
        int cflags = REG_EXTENDED | REG_ICASE, rc;

        if (*p == '!') {
                r->negate = true;
                p++;
        }
        delim = *p;
        if (delim == 0 || table_isspace((unsigned char)delim) ||
            isalnum((unsigned char)delim) || delim == '\\') {
                table_err(err,
                          "%s, line %lu: a pattern must look like "
                          "/regexp/flags",
                          ctx->name, lineno);
                return -1;
        }
        re = ++p;
        /* the closing delimiter; a backslash escapes the next byte */
        while (*p && *p != delim) {
                if (*p == '\\' && p[1])
                        p++;
                p++;
        }
        if (*p != delim) {
                table_err(err, "%s, line %lu: no closing %c in pattern",
                          ctx->name, lineno, delim);
                return -1;
        }
        *p++ = 0;
        char *flags = p;
        for (; *p && !table_isspace((unsigned char)*p); p++) {
                switch (*p) {
                case 'i':
                        cflags ^= REG_ICASE;
                        break;
                case 'x':
                        cflags ^= REG_EXTENDED;
                        break;
                case 'm':
                        cflags ^= REG_NEWLINE;
                        break;
                default:
                        table_err(err, "%s, line %lu: unknown flag '%c'",
                                  ctx->name, lineno, *p);
                        return -1;
                }
        }
        /* as written, for table_walk (the terminator above cut it) */
        r->pattern = xasprintf("%s%c%s%c%.*s", r->negate ? "!" : "", delim, re,
                               delim, (int)(p - flags), flags);
        if ((rc = regcomp(&r->re, re, cflags)) != 0) {
                char why[200];
                regerror(rc, &r->re, why, sizeof(why));
                table_err(err, "%s, line %lu: bad regular expression: %s",
                          ctx->name, lineno, why);
                return -1;
        }
        r->compiled = true;
        *pp = p;
        return 0;
}

/* rule_clear - what a rule owns */
static void rule_clear(struct rule *r)
{
        if (r->compiled)
                regfree(&r->re);
        free(r->pattern);
        free(r->value);
}

/* regexp_line - one logical line of a regexp table */
static int regexp_line(void *arg, char *text, unsigned long lineno, char **err)
{
        struct parse_ctx *ctx = arg;
        struct rule r = {0};
        char *p = text;

        if (strncasecmp(p, "endif", 5) == 0 &&
            (p[5] == 0 || table_isspace((unsigned char)p[5]))) {
                size_t open;

                if (table_ifs_close(&ctx->ifs, p + 5, ctx->name, lineno, &open,
                                    err) < 0)
                        return -1;
                push_rule(ctx->rules)->kind = RULE_ENDIF;
                ctx->rules->v[open].end = ctx->rules->n;
                return 0;
        }
        if (strncasecmp(p, "if", 2) == 0 &&
            table_isspace((unsigned char)p[2])) {
                p += 2;
                while (*p && table_isspace((unsigned char)*p))
                        p++;
                if (parse_pattern(ctx, lineno, &p, &r, err) < 0) {
                        rule_clear(&r);
                        return -1;
                }
                while (*p && table_isspace((unsigned char)*p))
                        p++;
                if (*p) {
                        rule_clear(&r);
                        table_err(err, "%s, line %lu: garbage after IF",
                                  ctx->name, lineno);
                        return -1;
                }
                r.kind = RULE_IF;
                *push_rule(ctx->rules) = r;
                table_ifs_open(&ctx->ifs, ctx->rules->n - 1, lineno);
                return 0;
        }
        if (parse_pattern(ctx, lineno, &p, &r, err) < 0) {
                rule_clear(&r);
                return -1;
        }
        while (*p && table_isspace((unsigned char)*p))
                p++;
        if (*p == 0) {
                table_err(err, "%s, line %lu: no lookup result for %s",
                          ctx->name, lineno, r.pattern);
                rule_clear(&r);
                return -1;
        }
        bool any;
        int groups = max_group(p, &any);
        if (groups < 0 || (r.negate && any) || (size_t)groups > r.re.re_nsub) {
                table_err(err,
                          groups < 0 ? "%s, line %lu: bad $ in the result"
                          : r.negate ? "%s, line %lu: $n in the result of a "
                                       "negated pattern"
                                     : "%s, line %lu: $n beyond the "
                                       "pattern's groups",
                          ctx->name, lineno);
                rule_clear(&r);
                return -1;
        }
        r.kind = RULE_MATCH;
        r.value = xstrdup(p);
        *push_rule(ctx->rules) = r;
        return 0;
}

/* table_regexp_free - release */
void table_regexp_free(struct table_regexp_rules *c)
{
        if (c == NULL)
                return;
        for (size_t i = 0; i < c->n; i++)
                rule_clear(&c->v[i]);
        free(c->v);
        strbuf_clear(&c->out);
        free(c);
}

/* table_regexp_parse - the rules of a regexp table */
int table_regexp_parse(const char *name, const char *buf, size_t len,
                       struct table_regexp_rules **out, char **err)
{
        struct parse_ctx ctx = {
            .name = name,
            .rules = xcalloc(1, sizeof(struct table_regexp_rules))};
        int rc;

        strbuf_init(&ctx.rules->out);
        rc = table_read_lines(name, buf, len, regexp_line, &ctx, err);
        if (table_ifs_finish(&ctx.ifs, rc, name, err) < 0) {
                table_regexp_free(ctx.rules);
                *out = NULL;
                return -1;
        }
        *out = ctx.rules;
        return 0;
}

/* expand - a result template with the groups of a match */
static void expand(const char *t, const char *key, const regmatch_t *m,
                   struct strbuf *out)
{
        strbuf_reset(out);
        for (const char *p = t; *p; p++) {
                int g = -1;
                if (*p != '$') {
                        strbuf_addc(out, *p);
                        continue;
                }
                p++;
                if (*p == '$') {
                        strbuf_addc(out, '$');
                        continue;
                }
                if (*p == '{' || *p == '(') {
                        g = p[1] - '0';
                        p += 2;
                } else {
                        g = *p - '0';
                }
                if (m[g].rm_so >= 0)
                        strbuf_add(out, key + m[g].rm_so,
                                   (size_t)(m[g].rm_eo - m[g].rm_so));
        }
}

/* table_regexp_match - first matching rule's result, with $n filled in */
const char *table_regexp_match(struct table_regexp_rules *c, const char *key)
{
        regmatch_t m[10];
        size_t i = 0;

        while (i < c->n) {
                struct rule *r = &c->v[i];
                bool hit;

                switch (r->kind) {
                case RULE_IF:
                        hit = regexec(&r->re, key, 0, NULL, 0) == 0;
                        i = hit != r->negate ? i + 1 : r->end;
                        break;
                case RULE_ENDIF:
                        i++;
                        break;
                case RULE_MATCH:
                        hit = regexec(&r->re, key, 10, m, 0) == 0;
                        if (hit != r->negate) {
                                expand(r->value, key, m, &c->out);
                                return strbuf_cstr(&c->out);
                        }
                        i++;
                        break;
                }
        }
        return NULL;
}

/* regexp_lookup - table_ops lookup */
static enum table_status regexp_lookup(struct table *t, const char *key,
                                       const char **value, char **err)
{
        const char *v = table_regexp_match(t->priv, key);

        (void)err;
        if (v == NULL)
                return TABLE_NOTFOUND;
        *value = v;
        return TABLE_FOUND;
}

/* regexp_walk - the rules in file order, result templates as written */
static int regexp_walk(struct table *t, table_walk_fn fn, void *arg, char **err)
{
        const struct table_regexp_rules *c = t->priv;

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

/* regexp_close - release */
static void regexp_close(struct table *t)
{
        table_regexp_free(t->priv);
}

static const struct table_ops regexp_ops = {regexp_lookup, regexp_walk,
                                            regexp_close};

/* table_regexp_open - read and parse the file */
int table_regexp_open(struct table *t, const char *name, char **err)
{
        struct table_regexp_rules *c;
        char *buf;
        size_t len;

        if (table_read_file(name, &buf, &len, err) < 0)
                return -1;
        if (table_regexp_parse(name, buf, len, &c, err) < 0) {
                free(buf);
                return -1;
        }
        free(buf);
        t->ops = &regexp_ops;
        t->priv = c;
        t->file = xstrdup(name);
        t->fold = false;
        return 0;
}

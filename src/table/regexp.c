/* SPDX-License-Identifier: MIT */
/*
 * regexp.c - the rule tables of Postfix's regexp_table(5) and
 * pcre_table(5): "/pattern/flags result" rules tried in file order, the
 * first match wins.  The delimiter is the rule's first character (any but
 * white space, letters, digits and backslash).  "!/pattern/" matches keys
 * the pattern does not match.  "if /pattern/" ... "endif" blocks apply the
 * rules inside only to matching keys.  A result may use $1 ... $9, ${n} or
 * $(n) for what the groups matched ("" for a group that did not), and $$
 * for a dollar.  As in cidr.c, a bad rule is an error, not a skipped line.
 *
 * The syntax, the blocks and the substitution are the same for both
 * types; only the pattern engine differs (struct table_re_engine): POSIX
 * regcomp here for regexp:, PCRE2 in pcre.c for pcre:.  regexp: patterns
 * are extended and case-insensitive by default; the flags i, x and m
 * toggle case, extended syntax and multi-line mode.
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
        void *re;    /* compiled by the engine, or NULL */
        bool negate; /* "!/pattern/" */
        size_t end;  /* RULE_IF: index after the matching endif */
        unsigned long line;
        char *pattern; /* as written, for table_walk */
        char *value;   /* RULE_MATCH: the result template */
};

struct table_regexp_rules {
        const struct table_re_engine *engine;
        char *name; /* for lookup errors */
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
 * it refers to none: *any tells; *zero whether $0 is used), or -1 for a
 * syntax error ("$" not followed by a digit, "$", "{n}" or "(n)") */
static int max_group(const char *t, bool *any, bool *zero)
{
        int max = 0, g;

        *any = *zero = false;
        for (const char *p = t; *p; p++) {
                if (*p != '$')
                        continue;
                p++;
                if (*p == '$')
                        continue;
                if ((*p == '{' || *p == '(') && isdigit((unsigned char)p[1]) &&
                    p[2] == (*p == '{' ? '}' : ')')) {
                        g = p[1] - '0';
                        p += 2;
                } else if (isdigit((unsigned char)*p)) {
                        g = *p - '0';
                } else {
                        return -1;
                }
                max = g > max ? g : max;
                *zero |= g == 0;
                *any = true;
        }
        return max;
}

/* parse_pattern - "[!]/regex/flags" at *pp into r (compiled); *pp moves
 * past it.  -1 with *err naming the table and line. */
static int parse_pattern(const struct parse_ctx *ctx, unsigned long lineno,
                         char **pp, struct rule *r, size_t *groups, char **err)
{
        const struct table_re_engine *e = ctx->rules->engine;
        char *p = *pp, delim, *re, *why = NULL;
        unsigned opts = e->defaults;

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
                unsigned bit = e->flag(*p);

                if (bit == 0) {
                        table_err(err, "%s, line %lu: unknown flag '%c'",
                                  ctx->name, lineno, *p);
                        return -1;
                }
                opts ^= bit;
        }
        /* as written, for table_walk (the terminator above cut it) */
        r->pattern = xasprintf("%s%c%s%c%.*s", r->negate ? "!" : "", delim, re,
                               delim, (int)(p - flags), flags);
        r->line = lineno;
        if (e->compile(re, opts, &r->re, groups, &why) < 0) {
                table_err(err, "%s, line %lu: bad regular expression: %s",
                          ctx->name, lineno, why);
                free(why);
                return -1;
        }
        *pp = p;
        return 0;
}

/* rule_clear - what a rule owns */
static void rule_clear(const struct table_re_engine *e, struct rule *r)
{
        if (r->re)
                e->free(r->re);
        free(r->pattern);
        free(r->value);
}

/* skip_space - past white space */
static char *skip_space(char *p)
{
        while (*p && table_isspace((unsigned char)*p))
                p++;
        return p;
}

/* result_err - what is wrong with the result template t of rule r (whose
 * pattern has groups capture groups), or NULL */
static const char *result_err(const struct table_re_engine *e,
                              const struct rule *r, size_t groups,
                              const char *t)
{
        bool any, zero;
        int max = max_group(t, &any, &zero);

        if (max < 0)
                return "bad $ in the result";
        if (r->negate && any)
                return "$n in the result of a negated pattern";
        /* Postfix's pcre: numbers groups from 1 and skips a rule with $0 */
        if (zero && !e->group0)
                return "$0 in the result (groups are $1 ... $9)";
        if ((size_t)max > groups)
                return "$n beyond the pattern's groups";
        return NULL;
}

/* regexp_line - one logical line of a regexp table */
static int regexp_line(void *arg, char *text, unsigned long lineno, char **err)
{
        struct parse_ctx *ctx = arg;
        const struct table_re_engine *e = ctx->rules->engine;
        struct rule r = {0};
        char *p = text;
        const char *why;
        size_t groups;

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
                p = skip_space(p + 2);
                if (parse_pattern(ctx, lineno, &p, &r, &groups, err) < 0) {
                        rule_clear(e, &r);
                        return -1;
                }
                if (*skip_space(p)) {
                        rule_clear(e, &r);
                        table_err(err, "%s, line %lu: garbage after IF",
                                  ctx->name, lineno);
                        return -1;
                }
                r.kind = RULE_IF;
                *push_rule(ctx->rules) = r;
                table_ifs_open(&ctx->ifs, ctx->rules->n - 1, lineno);
                return 0;
        }
        if (parse_pattern(ctx, lineno, &p, &r, &groups, err) < 0) {
                rule_clear(e, &r);
                return -1;
        }
        p = skip_space(p);
        if (*p == 0) {
                table_err(err, "%s, line %lu: no lookup result for %s",
                          ctx->name, lineno, r.pattern);
                rule_clear(e, &r);
                return -1;
        }
        if ((why = result_err(e, &r, groups, p)) != NULL) {
                table_err(err, "%s, line %lu: %s", ctx->name, lineno, why);
                rule_clear(e, &r);
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
                rule_clear(c->engine, &c->v[i]);
        free(c->v);
        free(c->name);
        strbuf_clear(&c->out);
        free(c);
}

/* table_regexp_parse - the rules of a regexp or pcre table */
int table_regexp_parse(const struct table_re_engine *e, const char *name,
                       const char *buf, size_t len,
                       struct table_regexp_rules **out, char **err)
{
        struct parse_ctx ctx = {
            .name = name,
            .rules = xcalloc(1, sizeof(struct table_regexp_rules))};
        int rc;

        ctx.rules->engine = e;
        ctx.rules->name = xstrdup(name);
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
static void expand(const char *t, const char *key,
                   const struct table_re_span *m, struct strbuf *out)
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
                if (m[g].so >= 0)
                        strbuf_add(out, key + m[g].so,
                                   (size_t)(m[g].eo - m[g].so));
        }
}

/* rule_match - 1 when rule r matches key (m filled when not NULL), 0
 * when not, -1 with *err naming the table and the rule's line */
static int rule_match(const struct table_regexp_rules *c, const struct rule *r,
                      const char *key, struct table_re_span *m, char **err)
{
        char *why = NULL;
        int rc = c->engine->match(r->re, key, m, &why);

        if (rc < 0) {
                table_err(err, "%s, line %lu: matching \"%s\": %s", c->name,
                          r->line, key, why);
                free(why);
        }
        return rc;
}

/* table_regexp_match - first matching rule's result, with $n filled in */
enum table_status table_regexp_match(struct table_regexp_rules *c,
                                     const char *key, const char **value,
                                     char **err)
{
        struct table_re_span m[TABLE_RE_GROUPS];
        size_t i = 0;
        int hit;

        while (i < c->n) {
                struct rule *r = &c->v[i];

                switch (r->kind) {
                case RULE_IF:
                        if ((hit = rule_match(c, r, key, NULL, err)) < 0)
                                return TABLE_ERROR;
                        i = (hit == 1) != r->negate ? i + 1 : r->end;
                        break;
                case RULE_ENDIF:
                        i++;
                        break;
                case RULE_MATCH:
                        hit = rule_match(c, r, key, r->negate ? NULL : m, err);
                        if (hit < 0)
                                return TABLE_ERROR;
                        if ((hit == 1) != r->negate) {
                                /* a negated rule has no $n (only $$) */
                                expand(r->value, key, m, &c->out);
                                *value = strbuf_cstr(&c->out);
                                return TABLE_FOUND;
                        }
                        i++;
                        break;
                }
        }
        return TABLE_NOTFOUND;
}

/* regexp_lookup - table_ops lookup */
static enum table_status regexp_lookup(struct table *t, const char *key,
                                       const char **value, char **err)
{
        return table_regexp_match(t->priv, key, value, err);
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

/* rules_open - read and parse the file with engine e */
static int rules_open(struct table *t, const struct table_re_engine *e,
                      const char *name, char **err)
{
        struct table_regexp_rules *c;
        char *buf;
        size_t len;

        if (table_read_file(name, &buf, &len, err) < 0)
                return -1;
        if (table_regexp_parse(e, name, buf, len, &c, err) < 0) {
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

/* table_regexp_open - regexp:FILE, POSIX patterns */
int table_regexp_open(struct table *t, const char *name, char **err)
{
        return rules_open(t, &table_re_posix, name, err);
}

/* table_pcre_open - pcre:FILE, PCRE2 patterns */
int table_pcre_open(struct table *t, const char *name, char **err)
{
        return rules_open(t, &table_re_pcre, name, err);
}

/* The POSIX engine of regexp: tables.  Option bits are regcomp's. */

/* posix_flag - i, x, m toggle REG_ICASE, REG_EXTENDED, REG_NEWLINE */
static unsigned posix_flag(int c)
{
        switch (c) {
        case 'i':
                return REG_ICASE;
        case 'x':
                return REG_EXTENDED;
        case 'm':
                return REG_NEWLINE;
        }
        return 0;
}

/* posix_compile - regcomp into a heap regex_t */
static int posix_compile(const char *pattern, unsigned opts, void **out,
                         size_t *groups, char **why)
{
        regex_t *re = xmalloc(sizeof(*re));
        int rc;

        if ((rc = regcomp(re, pattern, (int)opts)) != 0) {
                char msg[200];

                regerror(rc, re, msg, sizeof(msg));
                *why = xstrdup(msg);
                free(re);
                *out = NULL;
                return -1;
        }
        *out = re;
        *groups = re->re_nsub;
        return 0;
}

/* posix_match - regexec; groups past $9 are not asked for */
static int posix_match(void *arg, const char *key, struct table_re_span *m,
                       char **why)
{
        regmatch_t pm[TABLE_RE_GROUPS];
        int rc = regexec(arg, key, m ? TABLE_RE_GROUPS : 0, m ? pm : NULL, 0);

        if (rc == REG_NOMATCH)
                return 0;
        if (rc != 0) {
                char msg[200];

                regerror(rc, arg, msg, sizeof(msg));
                *why = xstrdup(msg);
                return -1;
        }
        for (size_t i = 0; m && i < TABLE_RE_GROUPS; i++) {
                m[i].so = pm[i].rm_so;
                m[i].eo = pm[i].rm_eo;
        }
        return 1;
}

/* posix_free - regfree and the regex_t */
static void posix_free(void *re)
{
        regfree(re);
        free(re);
}

const struct table_re_engine table_re_posix = {
    .defaults = REG_EXTENDED | REG_ICASE,
    .group0 = true,
    .flag = posix_flag,
    .compile = posix_compile,
    .match = posix_match,
    .free = posix_free,
};

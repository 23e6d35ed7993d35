/* SPDX-License-Identifier: MIT */
/* conf.c - main.cf: parsing, expansion, typing */
#include "conf/conf.h"
#include "conf/conf_int.h"
#include "log/log.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The parameter table, generated from params.def. */
static const struct conf_param param_table[] = {
#define P(name, type, def, desc) {#name, CONF_##type, def, desc},
#include "conf/params.def"
#undef P
};

/* Expansion deeper than this is a loop (Postfix stops at 100 as well). */
#define CONF_EXPAND_DEPTH 100

/* conf_params - the table */
const struct conf_param *conf_params(void)
{
        return param_table;
}

/* conf_param_find - by name */
const struct conf_param *conf_param_find(const char *name)
{
        for (size_t i = 0; i < ARRAY_SIZE(param_table); i++)
                if (strcmp(param_table[i].name, name) == 0)
                        return &param_table[i];
        return NULL;
}

/* param_index - row number of a known parameter, or -1 */
static int param_index(const char *name)
{
        const struct conf_param *p = conf_param_find(name);

        return p ? (int)(p - param_table) : -1;
}

/* store_find - the entry main.cf or -o gave a name, or NULL */
static struct conf_entry *store_find(const struct conf_store *st,
                                     const char *name)
{
        for (size_t i = 0; i < st->n; i++)
                if (strcmp(st->v[i].name, name) == 0)
                        return &st->v[i];
        return NULL;
}

/* computed_default - defaults Postfix computes from the system */
static const char *computed_default(struct conf_store *st, int idx)
{
        const char *def = param_table[idx].def;

        if (strcmp(def, "@VERSION@") == 0)
                return POSTERN_VERSION;
        if (strcmp(def, "@HOSTNAME@") == 0) {
                if (st->hostname == NULL) {
                        char buf[256] = "";

                        if (gethostname(buf, sizeof(buf) - 1) < 0 || !*buf)
                                snprintf(buf, sizeof(buf), "localhost");
                        buf[sizeof(buf) - 1] = 0;
                        str_lower(buf);
                        /* Postfix: an unqualified name gets ".localdomain" */
                        if (strchr(buf, '.') == NULL)
                                st->hostname = xasprintf("%s.localdomain", buf);
                        else
                                st->hostname = xstrdup(buf);
                }
                return st->hostname;
        }
        if (strcmp(def, "@DOMAIN@") == 0) {
                if (st->domain == NULL) {
                        struct strbuf sb;
                        const char *err;
                        const char *dot;

                        strbuf_init(&sb);
                        if (conf_store_expand(st, "$myhostname", &sb, &err) < 0)
                                strbuf_reset(&sb);
                        dot = strchr(strbuf_cstr(&sb), '.');
                        st->domain =
                            xstrdup(dot && dot[1] ? dot + 1 : "localdomain");
                        strbuf_clear(&sb);
                }
                return st->domain;
        }
        return def;
}

/* conf_store_value - raw or default text of a name, or NULL */
const char *conf_store_value(struct conf_store *st, const char *name)
{
        struct conf_entry *e = store_find(st, name);
        int idx;

        if (e)
                return e->value;
        if ((idx = param_index(name)) >= 0)
                return computed_default(st, idx);
        return NULL;
}

/* mark_used - note that a value refers to a name (for unused warnings) */
static void mark_used(struct conf_store *st, const char *name)
{
        struct conf_entry *e = store_find(st, name);

        if (e)
                e->referenced = true;
}

static int expand(struct conf_store *, const char *, size_t, struct strbuf *,
                  int, const char **);

/* braced - parse "{text}" at *p (after optional white space); returns the
 * inner text span or -1 when *p does not start a braced group */
static int braced(const char **p, const char *end, const char **in,
                  size_t *inlen)
{
        const char *s = *p;
        int depth = 0;

        while (s < end && isspace((unsigned char)*s))
                s++;
        if (s >= end || *s != '{')
                return -1;
        for (const char *q = s; q < end; q++) {
                if (*q == '{')
                        depth++;
                else if (*q == '}' && --depth == 0) {
                        *in = s + 1;
                        *inlen = (size_t)(q - s - 1);
                        q++;
                        while (q < end && isspace((unsigned char)*q))
                                q++;
                        *p = q;
                        return 0;
                }
        }
        return -1;
}

/* expand_name - append the expanded value of one parameter */
static int expand_name(struct conf_store *st, const char *name,
                       struct strbuf *out, int depth, const char **err)
{
        const char *v = conf_store_value(st, name);

        mark_used(st, name);
        if (v == NULL) {
                if (!st->quiet)
                        log_warnx("%s: undefined parameter: %s", st->path,
                                  name);
                return 0;
        }
        return expand(st, v, strlen(v), out, depth + 1, err);
}

/* is_defined - a name with a non-empty expanded value */
static int is_defined(struct conf_store *st, const char *name, int depth,
                      bool *yes, const char **err)
{
        const char *v = conf_store_value(st, name);
        struct strbuf sb;
        int rc;

        mark_used(st, name);
        *yes = false;
        if (v == NULL)
                return 0;
        strbuf_init(&sb);
        rc = expand(st, v, strlen(v), &sb, depth + 1, err);
        *yes = rc == 0 && sb.len > 0;
        strbuf_clear(&sb);
        return rc;
}

/* level_parse - a compatibility level "3", "3.6" or "3.6.1" as three
 * numbers; -1 if it is not one */
static int level_parse(const char *s, long v[3])
{
        v[0] = v[1] = v[2] = 0;
        for (int i = 0; i < 3; i++) {
                char *e;
                if (!isdigit((unsigned char)*s))
                        return -1;
                errno = 0;
                v[i] = strtol(s, &e, 10);
                if (errno == ERANGE)
                        return -1;
                s = e;
                if (*s == 0)
                        return 0;
                if (*s++ != '.')
                        return -1;
        }
        return -1;
}

/* all_digits - a non-empty string of ASCII digits that fits a long */
static bool all_digits(const char *s, long *v)
{
        char *e;

        if (*s == 0 || strspn(s, "0123456789") != strlen(s))
                return false;
        errno = 0;
        *v = strtol(s, &e, 10);
        return errno != ERANGE;
}

/* relation - Postfix 3's ${{text} OP {text} ...}: p points at the first
 * '{'; both texts are expanded, compared numerically when both are all
 * digits, else byte-wise; OP is ==, !=, <, <=, >= or >, with "level"
 * appended comparing compatibility levels (3.6 < 3.10).  *pp moves past
 * the second operand. */
static int relation(struct conf_store *st, const char **pp, const char *end,
                    int depth, bool *result, const char **err)
{
        static const char *const ops[] = {"==", "!=", "<", "<=", ">=", ">"};
        const char *p = *pp, *a, *b;
        size_t alen, blen, oplen;
        struct strbuf left, right;
        int op = -1, rc = -1;
        bool level = false;
        long cmp = 0;

        if (braced(&p, end, &a, &alen) < 0) {
                *err = "unbalanced {} in ${{...}...}";
                return -1;
        }
        oplen = strspn(p, "<>!=");
        if ((size_t)(end - p) < oplen)
                oplen = (size_t)(end - p);
        for (int k = 0; k < (int)ARRAY_SIZE(ops); k++)
                if (strlen(ops[k]) == oplen && strncmp(p, ops[k], oplen) == 0)
                        op = k;
        if (op < 0) {
                *err = "\"==\", \"!=\", \"<\", \"<=\", \">=\" or \">\" "
                       "expected after {text} in ${{text} op {text}}";
                return -1;
        }
        p += oplen;
        if (p < end && isalnum((unsigned char)*p)) {
                if ((size_t)(end - p) < 5 || strncmp(p, "level", 5) != 0 ||
                    (p + 5 < end && isalnum((unsigned char)p[5]))) {
                        *err = "bad operator suffix in ${{text} op {text}} "
                               "(only \"level\" is known)";
                        return -1;
                }
                level = true;
                p += 5;
        }
        if (braced(&p, end, &b, &blen) < 0) {
                *err = "\"{text}\" expected after the operator in "
                       "${{text} op {text}}";
                return -1;
        }
        strbuf_init(&left);
        strbuf_init(&right);
        if (expand(st, a, alen, &left, depth + 1, err) < 0 ||
            expand(st, b, blen, &right, depth + 1, err) < 0)
                goto out;
        if (level) {
                long lv[3], rv[3];
                if (level_parse(strbuf_cstr(&left), lv) < 0 ||
                    level_parse(strbuf_cstr(&right), rv) < 0) {
                        *err = "bad compatibility level in a \"level\" "
                               "comparison";
                        goto out;
                }
                for (int k = 0; k < 3 && cmp == 0; k++)
                        cmp = lv[k] < rv[k] ? -1 : lv[k] > rv[k];
        } else {
                long l, r;
                if (all_digits(strbuf_cstr(&left), &l) &&
                    all_digits(strbuf_cstr(&right), &r))
                        cmp = l < r ? -1 : l > r;
                else
                        cmp = strcmp(strbuf_cstr(&left), strbuf_cstr(&right));
        }
        switch (op) {
        case 0:
                *result = cmp == 0;
                break;
        case 1:
                *result = cmp != 0;
                break;
        case 2:
                *result = cmp < 0;
                break;
        case 3:
                *result = cmp <= 0;
                break;
        case 4:
                *result = cmp >= 0;
                break;
        default:
                *result = cmp > 0;
                break;
        }
        *pp = p;
        rc = 0;
out:
        strbuf_clear(&left);
        strbuf_clear(&right);
        return rc;
}

/* conditional - the "?text}", ":text}", "?{t}:{f}}" ... rest of a ${...}
 * whose name (or relation) is defined and non-empty or not; p points at
 * the '?' or ':' */
static int conditional(struct conf_store *st, const char **pp, const char *p,
                       const char *end, bool defined, struct strbuf *out,
                       int depth, const char **err)
{
        char op = *p++;
        /* The text runs to the matching close brace. */
        int level = 1;
        const char *text = p, *q = p;
        for (; q < end; q++) {
                if (*q == '{')
                        level++;
                else if (*q == '}' && --level == 0)
                        break;
        }
        if (q >= end) {
                *err = "missing '}' in ${...}";
                return -1;
        }
        *pp = q + 1;

        /* Postfix 3 form: {when-true}:{when-false} or a single {text}. */
        const char *t1 = NULL, *t2 = NULL;
        size_t l1 = 0, l2 = 0;
        const char *r = text;
        if (braced(&r, q, &t1, &l1) == 0) {
                if (r < q && *r == ':') {
                        r++;
                        if (braced(&r, q, &t2, &l2) < 0 || r != q) {
                                *err = "bad ${name?{text}:{text}} syntax";
                                return -1;
                        }
                } else if (r != q) {
                        *err = "bad ${name?{text}} syntax";
                        return -1;
                }
                if (op == '?') {
                        if (defined)
                                return expand(st, t1, l1, out, depth + 1, err);
                        return t2 ? expand(st, t2, l2, out, depth + 1, err) : 0;
                }
                if (!defined)
                        return expand(st, t1, l1, out, depth + 1, err);
                return t2 ? expand(st, t2, l2, out, depth + 1, err) : 0;
        }
        if ((op == '?' && defined) || (op == ':' && !defined))
                return expand(st, text, (size_t)(q - text), out, depth + 1,
                              err);
        return 0;
}

/* expand_braced_ref - ${name}, ${name?text}, ${name:text}, Postfix 3's
 * ${name?{text}:{text}} forms and ${{text} op {text} ...} relations (whose
 * value is "true" or empty, as in Postfix); p points after "${" */
static int expand_braced_ref(struct conf_store *st, const char **pp,
                             const char *end, struct strbuf *out, int depth,
                             const char **err)
{
        const char *p = *pp;
        const char *name = p;
        char namebuf[256];
        size_t nlen;
        bool defined;

        const char *sp = p;
        while (sp < end && isspace((unsigned char)*sp))
                sp++;
        if (sp < end && *sp == '{') {
                p = sp;
                if (relation(st, &p, end, depth, &defined, err) < 0)
                        return -1;
                if (p < end && *p == '}') {
                        *pp = p + 1;
                        if (defined)
                                strbuf_adds(out, "true");
                        return 0;
                }
                if (p >= end || (*p != '?' && *p != ':')) {
                        *err = "missing '}' in ${{text} op {text}}";
                        return -1;
                }
                return conditional(st, pp, p, end, defined, out, depth, err);
        }
        while (p < end && (isalnum((unsigned char)*p) || *p == '_'))
                p++;
        nlen = (size_t)(p - name);
        if (nlen == 0 || nlen >= sizeof(namebuf)) {
                *err = "bad parameter name after \"${\"";
                return -1;
        }
        memcpy(namebuf, name, nlen);
        namebuf[nlen] = 0;
        if (p < end && *p == '}') {
                *pp = p + 1;
                return expand_name(st, namebuf, out, depth, err);
        }
        if (p >= end || (*p != '?' && *p != ':')) {
                *err = "missing '}' in ${...}";
                return -1;
        }
        if (is_defined(st, namebuf, depth, &defined, err) < 0)
                return -1;
        return conditional(st, pp, p, end, defined, out, depth, err);
}

/* expand - $name expansion of len bytes of text, appended to out */
static int expand(struct conf_store *st, const char *text, size_t len,
                  struct strbuf *out, int depth, const char **err)
{
        const char *p = text, *end = text + len;

        if (depth > CONF_EXPAND_DEPTH) {
                *err = "unreasonable macro call nesting (a parameter refers to "
                       "itself)";
                return -1;
        }
        while (p < end) {
                const char *dollar = memchr(p, '$', (size_t)(end - p));

                if (dollar == NULL) {
                        strbuf_add(out, p, (size_t)(end - p));
                        break;
                }
                strbuf_add(out, p, (size_t)(dollar - p));
                p = dollar + 1;
                if (p < end && (*p == '{' || *p == '(')) {
                        if (*p == '(') {
                                /* $(name) is ${name} */
                                const char *close = memchr(p, ')', end - p);
                                char nb[256];
                                size_t nl;
                                if (close == NULL ||
                                    (nl = (size_t)(close - p - 1)) == 0 ||
                                    nl >= sizeof(nb)) {
                                        *err = "bad $(name) syntax";
                                        return -1;
                                }
                                memcpy(nb, p + 1, nl);
                                nb[nl] = 0;
                                p = close + 1;
                                if (expand_name(st, nb, out, depth, err) < 0)
                                        return -1;
                                continue;
                        }
                        p++;
                        if (expand_braced_ref(st, &p, end, out, depth, err) < 0)
                                return -1;
                        continue;
                }
                const char *name = p;
                while (p < end && (isalnum((unsigned char)*p) || *p == '_'))
                        p++;
                if (p == name) {
                        /* A lone '$' stays as it is, as in Postfix. */
                        strbuf_addc(out, '$');
                        continue;
                }
                char nb[256];
                size_t nl = (size_t)(p - name);
                if (nl >= sizeof(nb)) {
                        *err = "parameter name too long after '$'";
                        return -1;
                }
                memcpy(nb, name, nl);
                nb[nl] = 0;
                if (expand_name(st, nb, out, depth, err) < 0)
                        return -1;
        }
        return 0;
}

/* conf_store_expand - expand text against the store */
int conf_store_expand(struct conf_store *st, const char *text,
                      struct strbuf *out, const char **err)
{
        return expand(st, text, strlen(text), out, 0, err);
}

/* conf_expand - expand text against a loaded configuration */
int conf_expand(const struct conf *c, const char *text, struct strbuf *out,
                const char **err)
{
        return conf_store_expand(c->store, text, out, err);
}

/* conf_parse_bool - yes / no */
int conf_parse_bool(const char *s, bool *out, const char **why)
{
        if (str_eq_ci(s, "yes") || str_eq_ci(s, "true")) {
                *out = true;
                return 0;
        }
        if (str_eq_ci(s, "no") || str_eq_ci(s, "false")) {
                *out = false;
                return 0;
        }
        *why = "expected yes or no";
        return -1;
}

/* parse_number - a non-negative decimal with an optional one-letter
 * suffix; returns the suffix (0 when none) */
static int parse_number(const char *s, long long *n, char *suffix,
                        const char **why)
{
        char *end;

        while (isspace((unsigned char)*s))
                s++;
        if (!isdigit((unsigned char)*s)) {
                *why = "expected a number";
                return -1;
        }
        errno = 0;
        *n = strtoll(s, &end, 10);
        if (errno == ERANGE) {
                *why = "number out of range";
                return -1;
        }
        *suffix = 0;
        if (*end && !isspace((unsigned char)*end))
                *suffix = (char)tolower((unsigned char)*end++);
        while (isspace((unsigned char)*end))
                end++;
        if (*end) {
                *why = "unexpected text after the number";
                return -1;
        }
        return 0;
}

/* conf_parse_int - decimal integer */
int conf_parse_int(const char *s, long long *out, const char **why)
{
        char suffix;
        bool neg = false;

        while (isspace((unsigned char)*s))
                s++;
        if (*s == '-') {
                neg = true;
                s++;
        }
        if (parse_number(s, out, &suffix, why) < 0)
                return -1;
        if (suffix) {
                *why = "expected a number without a unit";
                return -1;
        }
        if (neg)
                *out = -*out;
        return 0;
}

/* scale - multiply with an overflow check */
static int scale(long long *n, long long by, const char **why)
{
        if (*n > LLONG_MAX / by) {
                *why = "number out of range";
                return -1;
        }
        *n *= by;
        return 0;
}

/* conf_parse_time - number with unit s m h d w */
int conf_parse_time(const char *s, char default_unit, long long *out,
                    const char **why)
{
        char unit;

        if (parse_number(s, out, &unit, why) < 0)
                return -1;
        if (unit == 0)
                unit = default_unit ? default_unit : 's';
        switch (unit) {
        case 's':
                return 0;
        case 'm':
                return scale(out, 60, why);
        case 'h':
                return scale(out, 3600, why);
        case 'd':
                return scale(out, 86400, why);
        case 'w':
                return scale(out, 7 * 86400, why);
        default:
                *why = "bad time unit (use s, m, h, d or w)";
                return -1;
        }
}

/* conf_parse_size - bytes with optional k m g */
int conf_parse_size(const char *s, long long *out, const char **why)
{
        char unit;

        if (parse_number(s, out, &unit, why) < 0)
                return -1;
        switch (unit) {
        case 0:
        case 'b':
                return 0;
        case 'k':
                return scale(out, 1024, why);
        case 'm':
                return scale(out, 1024 * 1024, why);
        case 'g':
                return scale(out, 1024LL * 1024 * 1024, why);
        default:
                *why = "bad size unit (use k, m or g)";
                return -1;
        }
}

/* default_unit - the unit letter of a TIME default ("5d" -> 'd') */
static char default_unit(const char *def)
{
        size_t n = strlen(def);

        if (n > 0 && isalpha((unsigned char)def[n - 1]))
                return def[n - 1];
        return 's';
}

/* Values a parameter may take beyond its type. */
static const struct {
        const char *name;
        const char *allowed; /* space separated; "" allows the empty value */
} enum_params[] = {
    {"smtpd_tls_security_level", " none may encrypt"},
    {"smtp_tls_security_level",
     " none may encrypt dane dane-only fingerprint verify secure"},
    {"smtp_tls_dane_insecure_mx_policy", " dane may"},
    {"smtpd_tls_fingerprint_digest", "md5 sha1 sha256 sha512"},
    {"smtp_tls_fingerprint_digest", "md5 sha1 sha256 sha512"},
    {"smtpd_forbid_bare_newline", "yes no normalize"},
    {"smtp_dns_support_level", " disabled enabled dnssec"},
    {"smtpd_starttls_pipelining", "reject discard"},
    {"smtpd_tls_ciphers", "export low medium high null"},
    {"smtpd_tls_mandatory_ciphers", "export low medium high null"},
    {"smtp_tls_ciphers", "export low medium high null"},
    {"smtp_tls_mandatory_ciphers", "export low medium high null"},
    {"smtp_address_preference", "any ipv4 ipv6"},
};

/* check_enum - whether v is one of the allowed words of name */
static int check_enum(const char *name, const char *v, const char **why)
{
        for (size_t i = 0; i < ARRAY_SIZE(enum_params); i++) {
                if (strcmp(enum_params[i].name, name) != 0)
                        continue;
                const char *a = enum_params[i].allowed;
                size_t vl = strlen(v);
                if (vl == 0)
                        return a[0] == ' ' ? 0 : (*why = "empty value", -1);
                for (const char *p = a; *p;) {
                        while (*p == ' ')
                                p++;
                        size_t wl = strcspn(p, " ");
                        if (wl == vl && strncasecmp(p, v, vl) == 0)
                                return 0;
                        p += wl;
                }
                static char buf[160];
                snprintf(buf, sizeof(buf), "expected one of:%s%s",
                         a[0] == ' ' ? " (empty)" : " ", a);
                *why = buf;
                return -1;
        }
        return 0;
}

/* check_tables - every element of a TABLE value must be type:name */
static int check_tables(const char *v, const char **why)
{
        struct strlist l = {0};
        int rc = 0;

        conf_split_list(v, &l);
        for (size_t i = 0; i < l.n; i++) {
                const char *colon = strchr(l.v[i], ':');
                if (colon == NULL || colon == l.v[i]) {
                        static char buf[200];
                        snprintf(buf, sizeof(buf),
                                 "\"%.120s\" is not a table (need type:name)",
                                 l.v[i]);
                        *why = buf;
                        rc = -1;
                        break;
                }
        }
        strlist_clear(&l);
        return rc;
}

/* conf_split_list - split a list value at commas and white space, keeping
 * {...} groups (inline: tables, braced texts) whole */
void conf_split_list(const char *v, struct strlist *out)
{
        const char *p = v;

        while (*p) {
                while (*p && strchr(LIST_SEPS, *p))
                        p++;
                if (!*p)
                        break;
                const char *start = p;
                int depth = 0;
                while (*p && (depth > 0 || !strchr(LIST_SEPS, *p))) {
                        if (*p == '{')
                                depth++;
                        else if (*p == '}' && depth > 0)
                                depth--;
                        p++;
                }
                strlist_pushn(out, start, (size_t)(p - start));
        }
}

/* origin_value - myorigin as Debian's Postfix reads it: a value starting
 * with "/" names a file (/etc/mailname) whose first line, trimmed, is the
 * domain; either way it must be one word */
static int origin_value(struct conf *c, const char *v, const char **kept,
                        const char **why)
{
        static char buf[300];

        *kept = v;
        if (*v == '/') {
                FILE *f = fopen(v, "r");
                char line[256];
                if (f == NULL) {
                        snprintf(buf, sizeof(buf), "cannot read %.200s: %s", v,
                                 strerror(errno));
                        *why = buf;
                        return -1;
                }
                if (fgets(line, sizeof(line), f) == NULL)
                        line[0] = 0;
                fclose(f);
                char *b = line, *e;
                while (isspace((unsigned char)*b))
                        b++;
                for (e = b + strlen(b); e > b && isspace((unsigned char)e[-1]);)
                        *--e = 0;
                if (*b == 0) {
                        snprintf(buf, sizeof(buf), "file %.200s is empty", v);
                        *why = buf;
                        return -1;
                }
                strlist_push(&c->store->expanded, b);
                *kept = c->store->expanded.v[c->store->expanded.n - 1];
        }
        if ((*kept)[strcspn(*kept, ", \t\r\n")] != 0) {
                *why = "must be one domain, not a list";
                return -1;
        }
        return 0;
}

/* set_field - type one expanded value into the struct conf field */
static int set_field(struct conf *c, int idx, const char *v, const char **why)
{
        const struct conf_param *p = &param_table[idx];
        bool b = false;
        long long n = 0;
        const char *kept = v; /* owned by the store */

        switch (p->type) {
        case CONF_BOOL:
                if (conf_parse_bool(v, &b, why) < 0)
                        return -1;
                break;
        case CONF_INT:
                if (conf_parse_int(v, &n, why) < 0)
                        return -1;
                break;
        case CONF_TIME:
                if (conf_parse_time(v, default_unit(p->def), &n, why) < 0)
                        return -1;
                break;
        case CONF_SIZE:
                if (conf_parse_size(v, &n, why) < 0)
                        return -1;
                break;
        case CONF_TABLE:
                if (check_tables(v, why) < 0)
                        return -1;
                break;
        case CONF_STR:
        case CONF_LIST:
                if (check_enum(p->name, v, why) < 0)
                        return -1;
                break;
        }
        if (idx == CONF_ID_myorigin && origin_value(c, v, &kept, why) < 0)
                return -1;

        switch (idx) {
#define P(name, type, def, desc)                                               \
        case CONF_ID_##name:                                                   \
                CONF_ASSIGN_##type(c->name, kept, b, n);                       \
                break;
#include "conf/params.def"
#undef P
        default:
                BUG("set_field: bad index %d", idx);
        }
        return 0;
}

/* derive_legacy - Postfix's legacy and computed settings */
static void derive_legacy(struct conf *c)
{
        if (*c->smtpd_tls_security_level == 0)
                c->smtpd_tls_security_level = c->smtpd_enforce_tls ? "encrypt"
                                              : c->smtpd_use_tls   ? "may"
                                                                   : "none";
        if (*c->smtp_tls_security_level == 0)
                c->smtp_tls_security_level =
                    c->smtp_enforce_tls
                        ? (c->smtp_tls_enforce_peername ? "verify" : "encrypt")
                    : c->smtp_use_tls ? "may"
                                      : "none";
        if (*c->smtp_tls_dane_insecure_mx_policy == 0)
                c->smtp_tls_dane_insecure_mx_policy =
                    strcmp(c->smtp_tls_security_level, "dane") == 0 ? "dane"
                                                                    : "may";
        if (*c->smtp_dns_support_level == 0)
                c->smtp_dns_support_level =
                    c->disable_dns_lookups ? "disabled" : "enabled";
}

/* conf_free - release */
void conf_free(struct conf *c)
{
        if (c == NULL)
                return;
        conf_store_free(c->store);
        free(c);
}

/* Parameters whose $names belong to another expansion, later (Postfix's
 * raw parameters): their text is kept as written. */
static const char *const raw_params[] = {"smtpd_reject_footer",
                                         "default_rbl_reply"};

/* is_raw - whether name is one of raw_params */
static bool is_raw(const char *name)
{
        for (size_t i = 0; i < ARRAY_SIZE(raw_params); i++)
                if (strcmp(name, raw_params[i]) == 0)
                        return true;
        return false;
}

/* conf_build - expand and type every parameter of a store; takes it */
int conf_build(struct conf_store *st, struct conf **out, char **err)
{
        struct conf *c = xcalloc(1, sizeof(*c));

        c->store = st;
        for (int i = 0; i < (int)ARRAY_SIZE(param_table); i++) {
                const char *name = param_table[i].name;
                const char *raw = conf_store_value(st, name);
                struct strbuf sb;
                const char *why = NULL;
                char *v;

                strbuf_init(&sb);
                if (is_raw(name) && raw)
                        strbuf_adds(&sb, raw);
                if ((is_raw(name) && raw) ||
                    conf_store_expand(st, raw, &sb, &why) == 0) {
                        v = strbuf_detach(&sb);
                        strlist_push(&st->expanded, v);
                        free(v);
                        v = st->expanded.v[st->expanded.n - 1];
                        if (set_field(c, i, v, &why) == 0)
                                continue;
                }
                strbuf_clear(&sb);
                struct conf_entry *e = store_find(st, name);
                if (e && e->file)
                        *err = xasprintf("%s: parameter %s: %s", e->origin,
                                         name, why);
                else if (e)
                        *err = xasprintf("%s %s: %s", e->origin, name, why);
                else
                        *err = xasprintf("%s: parameter %s (default \"%s\"): "
                                         "%s",
                                         st->path, name, raw, why);
                conf_free(c);
                return -1;
        }
        c->config_dir = conf_store_value(st, "config_directory");
        derive_legacy(c);
        conf_store_warn_unused(st);
        *out = c;
        return 0;
}

/* conf_load - read, expand and type main.cf */
int conf_load(const char *dir, const struct strlist *overrides,
              struct conf **out, char **err)
{
        struct conf_store *st;

        *out = NULL;
        *err = NULL;
        if (conf_store_read(dir, &st, err) < 0)
                return -1;
        if (conf_store_apply_overrides(st, overrides, err) < 0) {
                conf_store_free(st);
                return -1;
        }
        return conf_build(st, out, err);
}

/* conf_load_defaults - every parameter at its default */
int conf_load_defaults(struct conf **out, char **err)
{
        struct conf_store *st = xcalloc(1, sizeof(*st));

        st->path = xstrdup("(defaults)");
        *out = NULL;
        *err = NULL;
        return conf_build(st, out, err);
}

/* conf_raw - text from main.cf or -o */
const char *conf_raw(const struct conf *c, const char *name)
{
        struct conf_entry *e = store_find(c->store, name);

        return e ? e->value : NULL;
}

/* conf_value - raw text or default */
const char *conf_value(const struct conf *c, const char *name)
{
        return conf_store_value(c->store, name);
}

/* conf_origin - where a name was set */
const char *conf_origin(const struct conf *c, const char *name)
{
        struct conf_entry *e = store_find(c->store, name);

        return e ? e->origin : NULL;
}

/* cmp_str - qsort helper */
static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* conf_sort_names - sort a list of names as postconf prints them */
void conf_sort_names(struct strlist *l)
{
        qsort(l->v, l->n, sizeof(*l->v), cmp_str);
}

/* conf_set_names - names main.cf or -o set that postern knows or that a
 * value refers to, sorted (what postconf -n shows) */
void conf_set_names(const struct conf *c, struct strlist *out)
{
        const struct conf_store *st = c->store;
        size_t first = out->n;

        for (size_t i = 0; i < st->n; i++)
                if (param_index(st->v[i].name) >= 0 || st->v[i].referenced)
                        strlist_push(out, st->v[i].name);
        qsort(out->v + first, out->n - first, sizeof(*out->v), cmp_str);
}

/* conf_main_cf - path read */
const char *conf_main_cf(const struct conf *c)
{
        return c->store->path;
}

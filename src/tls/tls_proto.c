/* SPDX-License-Identifier: MIT */
/*
 * tls_proto.c - Postfix protocol lists and cipher grades as plain strings.
 * No OpenSSL here: the parsers are fuzzed on their own.
 */
#include "tls/tls.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char proto_err[256];

/* The protocols Postfix knows, lowest first.  SSLv2 has no wire version
 * OpenSSL 3 can speak: it is accepted in lists and otherwise ignored. */
static const struct {
        const char *name;
        int version;
} proto_table[] = {
    {"SSLv2", 0x0200},
    {"SSLv3", TLS_VERSION_SSL3},
    {"TLSv1", TLS_VERSION_TLS1},
    {"TLSv1.1", TLS_VERSION_TLS1_1},
    {"TLSv1.2", TLS_VERSION_TLS1_2},
    {"TLSv1.3", TLS_VERSION_TLS1_3},
};

/* proto_lookup - version of a protocol name, or -1 */
static int proto_lookup(const char *name)
{
        for (size_t i = 0; i < ARRAY_SIZE(proto_table); i++)
                if (str_eq_ci(name, proto_table[i].name))
                        return proto_table[i].version;
        return -1;
}

/* tls_version_name - name of a wire version */
const char *tls_version_name(int version)
{
        for (size_t i = 0; i < ARRAY_SIZE(proto_table); i++)
                if (proto_table[i].version == version)
                        return proto_table[i].name;
        return "unknown";
}

/* parse_bound - a name or a hexadecimal version after >= or <= */
static int parse_bound(const char *tok, int *version)
{
        int v = proto_lookup(tok);
        char *end;
        unsigned long ul;

        if (v >= 0) {
                *version = v;
                return 0;
        }
        if (str_eq_ci(tok, "None")) {
                *version = 0;
                return 0;
        }
        if (!isxdigit((unsigned char)*tok))
                return -1;
        errno = 0;
        ul = strtoul(tok, &end, 16);
        if (*end != 0 || errno != 0 || ul > 0xffff)
                return -1;
        *version = (int)ul;
        return 0;
}

/* tls_protocols_parse - Postfix protocol list to a version range */
int tls_protocols_parse(const char *list, struct tls_protocols *out,
                        const char **errstr)
{
        struct strlist toks = {0};
        unsigned include = 0, exclude = 0;
        int floor = 0, ceiling = 0;
        int rc = -1;

        out->min_version = out->max_version = 0;
        str_split(list ? list : "", " \t\r\n,:", &toks);
        for (size_t i = 0; i < toks.n; i++) {
                const char *tok = toks.v[i];
                int v;

                if (strncmp(tok, ">=", 2) == 0 || strncmp(tok, "<=", 2) == 0) {
                        if (parse_bound(tok + 2, &v) < 0)
                                goto bad;
                        if (tok[0] == '>')
                                floor = v;
                        else
                                ceiling = v;
                        continue;
                }
                bool neg = tok[0] == '!';
                size_t k;
                for (k = 0; k < ARRAY_SIZE(proto_table); k++)
                        if (str_eq_ci(tok + neg, proto_table[k].name))
                                break;
                if (k == ARRAY_SIZE(proto_table))
                        goto bad;
                if (neg)
                        exclude |= 1u << k;
                else
                        include |= 1u << k;
                continue;
        bad:
                snprintf(
                    proto_err, sizeof(proto_err),
                    "invalid TLS protocol list \"%s\": bad token \"%.40s\"",
                    list, tok);
                *errstr = proto_err;
                goto out;
        }

        /* The allowed set among the protocols OpenSSL 3 can speak. */
        unsigned allowed = 0;
        for (size_t k = 1; k < ARRAY_SIZE(proto_table); k++) {
                int v = proto_table[k].version;
                if (include && !(include & (1u << k)))
                        continue;
                if (exclude & (1u << k))
                        continue;
                if (floor && v < floor)
                        continue;
                if (ceiling && v > ceiling)
                        continue;
                allowed |= 1u << k;
        }
        if (allowed == 0) {
                snprintf(proto_err, sizeof(proto_err),
                         "invalid TLS protocol list \"%s\": no protocol left",
                         list);
                *errstr = proto_err;
                goto out;
        }
        /* The contiguous run that ends at the highest allowed protocol. */
        size_t hi = ARRAY_SIZE(proto_table) - 1;
        while (!(allowed & (1u << hi)))
                hi--;
        size_t lo = hi;
        while (lo > 1 && (allowed & (1u << (lo - 1))))
                lo--;
        out->min_version = lo == 1 ? 0 : proto_table[lo].version;
        out->max_version =
            hi == ARRAY_SIZE(proto_table) - 1 ? 0 : proto_table[hi].version;
        /* A floor or ceiling beyond the known protocols is kept as given. */
        if (floor > TLS_VERSION_TLS1_3)
                out->min_version = floor;
        if (ceiling && ceiling < TLS_VERSION_SSL3)
                out->max_version = ceiling;
        rc = 0;
out:
        strlist_clear(&toks);
        return rc;
}

/* Postfix 3.7's default tls_*_cipherlist values, their parameters and
 * where a configured value sits in struct tls_cipher_grades. */
static const struct {
        const char *grade;
        const char *param;
        const char *list;
        size_t off;
} grade_table[] = {
    {"export", "tls_export_cipherlist",
     "aNULL:-aNULL:HIGH:MEDIUM:LOW:EXPORT:+RC4:@STRENGTH",
     offsetof(struct tls_cipher_grades, export)},
    {"low", "tls_low_cipherlist", "aNULL:-aNULL:HIGH:MEDIUM:LOW:+RC4:@STRENGTH",
     offsetof(struct tls_cipher_grades, low)},
    {"medium", "tls_medium_cipherlist",
     "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH",
     offsetof(struct tls_cipher_grades, medium)},
    {"high", "tls_high_cipherlist", "aNULL:-aNULL:HIGH:@STRENGTH",
     offsetof(struct tls_cipher_grades, high)},
    {"null", "tls_null_cipherlist", "eNULL:!aNULL",
     offsetof(struct tls_cipher_grades, null)},
};

/* grade_override - the configured list of grade_table[i], or NULL */
static const char *grade_override(const struct tls_cipher_grades *lists,
                                  size_t i)
{
        const char *v;

        if (lists == NULL)
                return NULL;
        memcpy(&v, (const char *)lists + grade_table[i].off, sizeof(v));
        return v && *v ? v : NULL;
}

/* tls_cipher_grade - a grade's cipher string and parameter name */
int tls_cipher_grade(const struct tls_cipher_grades *lists, const char *grade,
                     const char **list, const char **param, const char **errstr)
{
        static char err[256];

        if (grade == NULL || *grade == 0)
                grade = "medium";
        for (size_t i = 0; i < ARRAY_SIZE(grade_table); i++) {
                if (!str_eq_ci(grade, grade_table[i].grade))
                        continue;
                const char *v = grade_override(lists, i);
                *list = v ? v : grade_table[i].list;
                *param = grade_table[i].param;
                return 0;
        }
        snprintf(err, sizeof(err),
                 "invalid cipher grade \"%.60s\" (use export, low, "
                 "medium, high or null)",
                 grade);
        *errstr = err;
        return -1;
}

/* tls_cipherlist_grades - grade plus exclusions to an OpenSSL string */
int tls_cipherlist_grades(const struct tls_cipher_grades *lists,
                          const char *grade, const char *exclude,
                          struct strbuf *out, const char **errstr)
{
        static char err[256];
        const char *base = NULL, *param = NULL;
        struct strlist toks = {0};
        struct strbuf tmp;

        if (tls_cipher_grade(lists, grade, &base, &param, errstr) < 0)
                return -1;
        strbuf_init(&tmp);
        strbuf_adds(&tmp, base);
        str_split(exclude ? exclude : "", " \t\r\n,:", &toks);
        for (size_t i = 0; i < toks.n; i++) {
                if (strchr("!+-@", toks.v[i][0]) != NULL) {
                        snprintf(err, sizeof(err),
                                 "invalid unary '!+-@' in cipher exclusion: "
                                 "%.60s",
                                 toks.v[i]);
                        *errstr = err;
                        strlist_clear(&toks);
                        strbuf_clear(&tmp);
                        return -1;
                }
                strbuf_printf(&tmp, ":!%s", toks.v[i]);
        }
        strlist_clear(&toks);
        strbuf_adds(out, strbuf_cstr(&tmp));
        strbuf_clear(&tmp);
        return 0;
}

/* tls_cipherlist - with Postfix's default grade strings */
int tls_cipherlist(const char *grade, const char *exclude, struct strbuf *out,
                   const char **errstr)
{
        return tls_cipherlist_grades(NULL, grade, exclude, out, errstr);
}

/* Postfix 3.7's tls_ssl_options names. */
static const struct {
        const char *name;
        unsigned bit;
} ssl_option_table[] = {
    {"ENABLE_MIDDLEBOX_COMPAT", TLS_OPT_ENABLE_MIDDLEBOX_COMPAT},
    {"LEGACY_SERVER_CONNECT", TLS_OPT_LEGACY_SERVER_CONNECT},
    {"NO_TICKET", TLS_OPT_NO_TICKET},
    {"NO_COMPRESSION", TLS_OPT_NO_COMPRESSION},
    {"NO_RENEGOTIATION", TLS_OPT_NO_RENEGOTIATION},
    {"NO_SESSION_RESUMPTION_ON_RENEGOTIATION",
     TLS_OPT_NO_SESSION_RESUMPTION_ON_RENEGOTIATION},
    {"PRIORITIZE_CHACHA", TLS_OPT_PRIORITIZE_CHACHA},
};

/* parse_hex_mask - "0x" and 1 to 16 hexadecimal digits */
static int parse_hex_mask(const char *tok, uint64_t *out)
{
        uint64_t v = 0;
        size_t n = 0;

        if (tok[0] != '0' || (tok[1] != 'x' && tok[1] != 'X'))
                return -1;
        for (const char *p = tok + 2; *p; p++, n++) {
                int d;
                if (*p >= '0' && *p <= '9')
                        d = *p - '0';
                else if (*p >= 'a' && *p <= 'f')
                        d = *p - 'a' + 10;
                else if (*p >= 'A' && *p <= 'F')
                        d = *p - 'A' + 10;
                else
                        return -1;
                if (n == 16)
                        return -1;
                v = v << 4 | (uint64_t)d;
        }
        if (n == 0)
                return -1;
        *out = v;
        return 0;
}

/* tls_ssl_options_parse - names and hex masks to option bits */
void tls_ssl_options_parse(const char *list, struct tls_ssl_options *out,
                           struct strlist *unknown)
{
        struct strlist toks = {0};

        out->named = 0;
        out->mask = 0;
        str_split(list ? list : "", LIST_SEPS, &toks);
        for (size_t i = 0; i < toks.n; i++) {
                const char *tok = toks.v[i];
                uint64_t m;
                size_t k;

                for (k = 0; k < ARRAY_SIZE(ssl_option_table); k++)
                        if (str_eq_ci(tok, ssl_option_table[k].name))
                                break;
                if (k < ARRAY_SIZE(ssl_option_table))
                        out->named |= ssl_option_table[k].bit;
                else if (parse_hex_mask(tok, &m) == 0)
                        out->mask |= m;
                else if (unknown)
                        strlist_push(unknown, tok);
        }
        strlist_clear(&toks);
}

/* match_one - one certificate name against one reference domain */
static bool match_one(const char *certid, const char *domain, bool subdomain,
                      bool single_label)
{
        size_t idlen = strlen(certid), domlen = strlen(domain);

        if (domlen == 0)
                return false;
        if (subdomain)
                return idlen > domlen + 1 &&
                       certid[idlen - domlen - 1] == '.' &&
                       str_eq_ci(certid + idlen - domlen, domain);
        if (str_eq_ci(certid, domain))
                return true;
        /* "*.example.org": the wildcard is the whole leftmost label and
         * stands for one label, or several unless single_label. */
        if (certid[0] != '*' || certid[1] != '.' || certid[2] == 0)
                return false;
        const char *parent = strchr(domain, '.');
        if (parent == NULL || parent == domain)
                return false;
        size_t plen = strlen(parent), tail = idlen - 1; /* ".example.org" */
        if (tail > plen)
                return false;
        if (single_label)
                return str_eq_ci(parent, certid + 1);
        return str_eq_ci(parent + plen - tail, certid + 1);
}

/* strip_brackets - "[host]:port" or "[host]" nexthop to "host" */
static char *strip_brackets(const char *s)
{
        if (s == NULL)
                return xstrdup("");
        if (*s == '[') {
                const char *e = strchr(s, ']');
                if (e)
                        return xstrndup(s + 1, (size_t)(e - s - 1));
        }
        return xstrdup(s);
}

/* tls_match_certid - certificate name against a Postfix match list */
bool tls_match_certid(const char *certid, const struct tls_match *m)
{
        struct strlist items = {0};
        bool found = false;
        char *nexthop = strip_brackets(m->nexthop);

        if (certid == NULL || *certid == 0)
                goto out;
        str_split(m->match ? m->match : "", " \t\r\n,:", &items);
        for (size_t i = 0; i < items.n && !found; i++) {
                const char *item = items.v[i];
                const char *domain;
                bool sub = false;

                if (str_eq_ci(item, "nexthop")) {
                        domain = nexthop;
                } else if (str_eq_ci(item, "hostname")) {
                        domain = m->hostname ? m->hostname : "";
                } else if (str_eq_ci(item, "dot-nexthop")) {
                        domain = nexthop;
                        sub = true;
                } else if (item[0] == '.' && item[1] != 0) {
                        domain = item + 1;
                        sub = true;
                } else {
                        domain = item;
                }
                found =
                    match_one(certid, domain, sub, m->single_label_wildcards);
        }
        strlist_clear(&items);
out:
        free(nexthop);
        return found;
}

/* SPDX-License-Identifier: MIT */
/*
 * tls_check.c - syntax checks of TLS policy table entries for `postern
 * check`: the level and the attributes Postfix's smtp_tls_policy_maps
 * accepts.  Plain string code, no OpenSSL; fuzzed by fuzz_tls_policy.
 */
#include "conf/conf.h"
#include "tls/tls.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char tls_check_errbuf[512];

/* The levels of Postfix's smtp_tls_policy_maps. */
static const struct {
        const char *name;
        bool needs_ca;
        bool needs_match;
} tls_check_levels[] = {
    {"none", false, false},      {"may", false, false},
    {"encrypt", false, false},   {"dane", false, false},
    {"dane-only", false, false}, {"fingerprint", false, true},
    {"verify", true, false},     {"secure", true, false},
};

/* The attributes Postfix accepts after the level. */
static const char *const tls_check_attrs[] = {
    "ciphers", "exclude",          "match",      "protocols",
    "tafile",  "connection_reuse", "servername", "enable_rpk",
};

/* tls_check_fail - format the error into the per-thread buffer */
static int tls_check_fail(const char **errstr, const char *fmt, ...)
    PRINTFLIKE(2, 3);
static int tls_check_fail(const char **errstr, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(tls_check_errbuf, sizeof(tls_check_errbuf), fmt, ap);
        va_end(ap);
        *errstr = tls_check_errbuf;
        return -1;
}

/* tls_check_attr - one name=value attribute of a policy entry */
static int tls_check_attr(const char *tok, struct tls_policy_info *out,
                          const char **errstr)
{
        const char *eq = strchr(tok, '=');
        size_t nlen = eq ? (size_t)(eq - tok) : strlen(tok);
        const char *val = eq ? eq + 1 : "";
        char *name = xstrndup(tok, nlen);
        bool known = false;
        int rc = 0;

        for (size_t i = 0; i < ARRAY_SIZE(tls_check_attrs); i++)
                if (str_eq_ci(name, tls_check_attrs[i]))
                        known = true;
        if (!known) {
                rc =
                    tls_check_fail(errstr, "unknown attribute \"%.64s\"", name);
        } else if (eq == NULL) {
                rc = tls_check_fail(errstr,
                                    "attribute \"%.64s\" without =value", name);
        } else if (str_eq_ci(name, "match")) {
                if (*val == 0)
                        rc = tls_check_fail(errstr, "empty match= attribute");
                out->has_match = true;
        } else if (str_eq_ci(name, "tafile")) {
                if (*val == 0)
                        rc = tls_check_fail(errstr, "empty tafile= attribute");
                out->has_tafile = true;
        } else if (str_eq_ci(name, "protocols")) {
                struct tls_protocols p;
                const char *why = NULL;

                if (tls_protocols_parse(val, &p, &why) < 0)
                        rc = tls_check_fail(errstr, "protocols=%.64s: %s", val,
                                            why ? why : "invalid");
        } else if (str_eq_ci(name, "ciphers")) {
                struct strbuf sb;
                const char *why = NULL;

                strbuf_init(&sb);
                if (tls_cipherlist(val, "", &sb, &why) < 0)
                        rc = tls_check_fail(errstr, "ciphers=%.64s: %s", val,
                                            why ? why : "invalid");
                strbuf_clear(&sb);
        } else if (str_eq_ci(name, "connection_reuse") ||
                   str_eq_ci(name, "enable_rpk")) {
                bool b;
                const char *why = NULL;

                if (conf_parse_bool(val, &b, &why) < 0)
                        rc = tls_check_fail(errstr, "%s=%.64s: %s", name, val,
                                            why ? why : "not yes or no");
        }
        free(name);
        return rc;
}

/* tls_policy_check - check one smtp_tls_policy_maps value */
int tls_policy_check(const char *value, struct tls_policy_info *out,
                     const char **errstr)
{
        struct strlist tok = {0};
        size_t i;
        int rc = 0;

        memset(out, 0, sizeof(*out));
        str_split(value, LIST_SEPS, &tok);
        if (tok.n == 0) {
                strlist_clear(&tok);
                return tls_check_fail(errstr, "no security level");
        }
        for (i = 0; i < ARRAY_SIZE(tls_check_levels); i++) {
                if (str_eq_ci(tok.v[0], tls_check_levels[i].name))
                        break;
        }
        if (i == ARRAY_SIZE(tls_check_levels)) {
                rc = tls_check_fail(errstr, "unknown security level \"%.64s\"",
                                    tok.v[0]);
                strlist_clear(&tok);
                return rc;
        }
        out->level = tls_check_levels[i].name;
        out->needs_ca = tls_check_levels[i].needs_ca;
        for (size_t j = 1; j < tok.n && rc == 0; j++)
                rc = tls_check_attr(tok.v[j], out, errstr);
        if (rc == 0 && tls_check_levels[i].needs_match && !out->has_match)
                rc = tls_check_fail(errstr,
                                    "level %s needs match=FINGERPRINT[|...]",
                                    out->level);
        strlist_clear(&tok);
        return rc;
}

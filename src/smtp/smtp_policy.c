/* SPDX-License-Identifier: MIT */
/*
 * smtp_policy.c - TLS security levels and smtp_tls_policy_maps entries in
 * Postfix's syntax: "level attr=value ...".
 */
#include "smtp/smtp.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SMTP_TLS_LEVEL_NAME(e, s) s,
static const char *const level_names[] = {SMTP_TLS_LEVELS(SMTP_TLS_LEVEL_NAME)};
#undef SMTP_TLS_LEVEL_NAME

/* smtp_tls_level_name - the level's Postfix name */
const char *smtp_tls_level_name(enum smtp_tls_level l)
{
        if ((unsigned)l >= SMTP_TLS_NLEVELS)
                return "unknown";
        return level_names[l];
}

/* smtp_tls_level_parse - a level from its name */
int smtp_tls_level_parse(const char *s, enum smtp_tls_level *out)
{
        for (size_t i = 0; i < SMTP_TLS_NLEVELS; i++) {
                if (str_eq_ci(s, level_names[i])) {
                        *out = (enum smtp_tls_level)i;
                        return 0;
                }
        }
        return -1;
}

/* smtp_tls_policy_clear - release the strings */
void smtp_tls_policy_clear(struct smtp_tls_policy *p)
{
        free(p->match);
        free(p->protocols);
        free(p->ciphers);
        free(p->exclude);
        free(p->servername);
        free(p->tafile);
        memset(p, 0, sizeof(*p));
}

/* set_attr - replace an attribute's value */
static void set_attr(char **slot, const char *v)
{
        free(*slot);
        *slot = xstrdup(v);
}

/* smtp_tls_policy_parse - one policy table value */
int smtp_tls_policy_parse(const char *value, struct smtp_tls_policy *p,
                          char **err)
{
        struct strlist words = {0};
        int rc = -1;

        memset(p, 0, sizeof(*p));
        *err = NULL;
        str_split(value ? value : "", " \t\r\n", &words);
        if (words.n == 0) {
                *err = xstrdup("empty TLS policy");
                goto out;
        }
        if (smtp_tls_level_parse(words.v[0], &p->level) < 0) {
                *err =
                    xasprintf("invalid TLS security level \"%s\"", words.v[0]);
                goto out;
        }
        for (size_t i = 1; i < words.n; i++) {
                const char *w = words.v[i];
                const char *eq = strchr(w, '=');
                if (eq == NULL || eq == w) {
                        *err = xasprintf("malformed TLS policy attribute "
                                         "\"%s\" (expected name=value)",
                                         w);
                        goto out;
                }
                size_t n = (size_t)(eq - w);
                const char *v = eq + 1;
                if (n == 5 && strncasecmp(w, "match", 5) == 0) {
                        if (*v == 0) {
                                *err = xstrdup("empty match= attribute");
                                goto out;
                        }
                        /* Repeated match= accumulate: ':' joins names,
                         * '|' joins fingerprints (digests contain ':'). */
                        char sep = p->level == SMTP_TLS_FINGERPRINT ? '|' : ':';
                        if (p->match) {
                                char *m = xasprintf("%s%c%s", p->match, sep, v);
                                free(p->match);
                                p->match = m;
                        } else {
                                p->match = xstrdup(v);
                        }
                } else if (n == 9 && strncasecmp(w, "protocols", 9) == 0) {
                        set_attr(&p->protocols, v);
                } else if (n == 7 && strncasecmp(w, "ciphers", 7) == 0) {
                        set_attr(&p->ciphers, v);
                } else if (n == 7 && strncasecmp(w, "exclude", 7) == 0) {
                        set_attr(&p->exclude, v);
                } else if (n == 10 && strncasecmp(w, "servername", 10) == 0) {
                        set_attr(&p->servername, v);
                } else if (n == 6 && strncasecmp(w, "tafile", 6) == 0) {
                        /* several tafile= accumulate, as in Postfix */
                        char *all = p->tafile ? xasprintf("%s %s", p->tafile, v)
                                              : xstrdup(v);
                        free(p->tafile);
                        p->tafile = all;
                } else if (n == 16 &&
                           strncasecmp(w, "connection_reuse", 16) == 0) {
                        /* Accepted for compatibility: Postfix's scache
                         * (postern always reuses by policy). */
                } else {
                        *err = xasprintf("invalid TLS policy attribute "
                                         "\"%.*s\"",
                                         (int)n, w);
                        goto out;
                }
        }
        rc = 0;
out:
        strlist_clear(&words);
        if (rc < 0)
                smtp_tls_policy_clear(p);
        return rc;
}

/* smtp_tls_policy_key - canonical text for cache keys */
void smtp_tls_policy_key(const struct smtp_tls_policy *p, struct strbuf *out)
{
        strbuf_printf(
            out, "%s&m=%s&p=%s&c=%s&x=%s&s=", smtp_tls_level_name(p->level),
            p->match ? p->match : "", p->protocols ? p->protocols : "",
            p->ciphers ? p->ciphers : "", p->exclude ? p->exclude : "");
        strbuf_adds(out, p->servername ? p->servername : "");
        strbuf_printf(out, "&t=%s", p->tafile ? p->tafile : "");
}

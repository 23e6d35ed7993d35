/* SPDX-License-Identifier: MIT */
/*
 * smtp_sasl.c - the SMTP client's SASL authentication to a relay host, as
 * Postfix's smtp_sasl_* parameters describe it, with the two mechanisms a
 * relay host offers for passwords: PLAIN (RFC 4616) and LOGIN.  Which one
 * may be used follows smtp_sasl_security_options (without TLS) and
 * smtp_sasl_tls_security_options (inside TLS): "noplaintext" forbids both,
 * which is Postfix's default, so credentials never cross the network in
 * the clear unless the administrator allows it.
 */
#include "smtp/smtp_int.h"
#include "conf/conf.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* smtp_sasl_base64 - RFC 4648 base64 of len bytes (caller frees) */
char *smtp_sasl_base64(const void *data, size_t len)
{
        static const char tab[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        const unsigned char *p = data;
        char *out = xmalloc((len + 2) / 3 * 4 + 1), *o = out;

        for (size_t i = 0; i < len; i += 3) {
                unsigned v = (unsigned)p[i] << 16;
                if (i + 1 < len)
                        v |= (unsigned)p[i + 1] << 8;
                if (i + 2 < len)
                        v |= p[i + 2];
                *o++ = tab[v >> 18 & 63];
                *o++ = tab[v >> 12 & 63];
                *o++ = i + 1 < len ? tab[v >> 6 & 63] : '=';
                *o++ = i + 2 < len ? tab[v & 63] : '=';
        }
        *o = 0;
        return out;
}

/* list_has - whether a Postfix list value holds word (any case) */
static bool list_has(const char *list, const char *word)
{
        struct strlist l = {0};
        bool found = false;

        str_split(list ? list : "", LIST_SEPS, &l);
        for (size_t i = 0; i < l.n && !found; i++)
                found = strcasecmp(l.v[i], word) == 0;
        strlist_clear(&l);
        return found;
}

/* smtp_sasl_mechanism - the mechanism to use with a server offering
 * features (SMTP_FEATURE_AUTH_*): SMTP_FEATURE_AUTH_PLAIN, then LOGIN, or
 * 0 when the options (for a TLS session or not) and the mechanism filter
 * leave none */
unsigned smtp_sasl_mechanism(const struct conf *c, unsigned features, bool tls)
{
        const char *opts = tls ? c->smtp_sasl_tls_security_options
                               : c->smtp_sasl_security_options;
        const char *filter = c->smtp_sasl_mechanism_filter;
        unsigned ok =
            features & (SMTP_FEATURE_AUTH_PLAIN | SMTP_FEATURE_AUTH_LOGIN);

        if (list_has(opts, "noplaintext"))
                return 0; /* both send the password as it is */
        if (filter && *filter) {
                if (!list_has(filter, "plain"))
                        ok &= ~SMTP_FEATURE_AUTH_PLAIN;
                if (!list_has(filter, "login"))
                        ok &= ~SMTP_FEATURE_AUTH_LOGIN;
        }
        if (ok & SMTP_FEATURE_AUTH_PLAIN)
                return SMTP_FEATURE_AUTH_PLAIN;
        return ok & SMTP_FEATURE_AUTH_LOGIN;
}

/* smtp_sasl_split - "user:password" into its parts (caller frees both); -1
 * when there is no ':' or the user is empty */
int smtp_sasl_split(const char *value, char **user, char **pass)
{
        const char *colon = strchr(value, ':');

        if (colon == NULL || colon == value)
                return -1;
        *user = xstrndup(value, (size_t)(colon - value));
        *pass = xstrdup(colon + 1);
        return 0;
}

/* smtp_sasl_plain - the PLAIN initial response: base64 of
 * "\0user\0password" (caller frees) */
char *smtp_sasl_plain(const char *user, const char *pass)
{
        size_t ul = strlen(user), pl = strlen(pass);
        char *msg = xmalloc(ul + pl + 2), *out;

        msg[0] = 0;
        memcpy(msg + 1, user, ul);
        msg[1 + ul] = 0;
        memcpy(msg + 2 + ul, pass, pl);
        out = smtp_sasl_base64(msg, ul + pl + 2);
        explicit_bzero(msg, ul + pl + 2);
        free(msg);
        return out;
}

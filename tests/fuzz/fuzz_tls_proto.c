/* SPDX-License-Identifier: MIT */
/*
 * fuzz_tls_proto - the Postfix protocol-list parser, the cipher grade and
 * exclusion parser (with configured grade lists), the tls_ssl_options
 * parser, and the certificate name matcher.  The input is one string; for
 * name matching, a NUL or newline separates the certificate name from the
 * match list.
 */
#include "tls/tls.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *s = xstrndup((const char *)data, size);
        struct tls_protocols p;
        const char *err = NULL;
        struct strbuf sb;

        if (tls_protocols_parse(s, &p, &err) == 0) {
                if (p.min_version && p.max_version &&
                    p.min_version > p.max_version && p.max_version >= 0x0300 &&
                    p.min_version <= 0x0304)
                        abort(); /* an empty range must be an error */
        } else if (err == NULL) {
                abort();
        }
        strbuf_init(&sb);
        (void)tls_cipherlist(s, "", &sb, &err);
        (void)tls_cipherlist("high", s, &sb, &err);
        const struct tls_cipher_grades lists = {.high = s, .null = s};
        for (size_t i = 0; i < 2; i++) {
                const char *grade = i ? "null" : "high", *list, *param;
                strbuf_clear(&sb);
                if (tls_cipherlist_grades(&lists, grade, "", &sb, &err) < 0 ||
                    tls_cipher_grade(&lists, grade, &list, &param, &err) < 0)
                        abort(); /* a known grade never fails */
                if (*s && strcmp(strbuf_cstr(&sb), s) != 0)
                        abort(); /* the configured list, unchanged */
        }
        strbuf_clear(&sb);

        struct tls_ssl_options o;
        struct strlist unknown = {0};
        tls_ssl_options_parse(s, &o, &unknown);
        if (o.named & ~(TLS_OPT_ENABLE_MIDDLEBOX_COMPAT |
                        TLS_OPT_LEGACY_SERVER_CONNECT | TLS_OPT_NO_TICKET |
                        TLS_OPT_NO_COMPRESSION | TLS_OPT_NO_RENEGOTIATION |
                        TLS_OPT_NO_SESSION_RESUMPTION_ON_RENEGOTIATION |
                        TLS_OPT_PRIORITIZE_CHACHA))
                abort(); /* only the TLS_OPT_* bits */
        strlist_clear(&unknown);

        const char *list = "hostname";
        char *nl = memchr(s, '\n', strlen(s));
        if (nl) {
                *nl = 0;
                list = nl + 1;
        }
        (void)tls_match_certid(
            s,
            &(struct tls_match){.match = list, .nexthop = s, .hostname = list});
        (void)tls_match_certid(
            s, &(struct tls_match){.match = list,
                                   .nexthop = "[example.org]:25",
                                   .hostname = "mx.example.org",
                                   .single_label_wildcards = true});
        free(s);
        return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * fuzz_tls_proto - the Postfix protocol-list parser, the cipher grade and
 * exclusion parser, and the certificate name matcher.  The input is one
 * string; for name matching, a NUL or newline separates the certificate
 * name from the match list.
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
        strbuf_clear(&sb);

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

/* SPDX-License-Identifier: MIT */
/*
 * fuzz_certfile.c - the certificate-file reader (PEM bundles, DER, PKCS#7,
 * PKCS#12, keys) from memory, plus what callers do with the result.
 */
#include "tls/tls.h"

#include <stdint.h>
#include <stdlib.h>

/* exercise - touch every accessor of every certificate */
static void exercise(const struct tls_certlist *l)
{
        for (size_t i = 0; i < tls_certlist_count(l); i++) {
                const struct tls_cert *c = tls_certlist_get(l, i);
                struct strlist names = {0};
                const char *err, *curve;
                char *s;
                int bits;
                long long nb, na;

                free(tls_cert_subject(c));
                free(tls_cert_issuer(c));
                free(tls_cert_serial(c));
                free(tls_cert_label(c));
                free(tls_cert_cn(c));
                tls_cert_sans(c, &names);
                tls_cert_names(c, &names);
                strlist_clear(&names);
                (void)tls_cert_times(c, &nb, &na);
                (void)tls_cert_key_desc(c, &bits, &curve);
                (void)tls_cert_is_ca(c, NULL);
                (void)tls_cert_match_host(c, "mx.example.org");
                if (tls_cert_fingerprint(c, "sha256", true, &s, &err) == 0)
                        free(s);
        }
        size_t bad;
        const char *err;
        (void)tls_certlist_check_order(l, &bad, &err);
}

/* LLVMFuzzerTestOneInput - parse as certificates, then as a key */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct tls_certlist *l;
        struct tls_key *k;
        const char *err;
        struct tls_pass pass = {.pass = "fuzz"};

        if (tls_certlist_parse(data, size, "fuzz", NULL, &l, &err) == 0) {
                exercise(l);
                tls_certlist_sort_chain(l);
                free(tls_certlist_pem(l));
                tls_certlist_free(l);
        }
        if (tls_key_parse(data, size, "fuzz", &pass, &k, NULL, &err) == 0)
                tls_key_free(k);
        return 0;
}

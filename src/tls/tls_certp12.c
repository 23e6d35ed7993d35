/* SPDX-License-Identifier: MIT */
/* tls_certp12.c - writing PKCS#12 files */
#include "tls/tls_int.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pkcs12.h>

#define P12_ITER 2048

/* tls_p12_export - key, certificate and chain as PKCS#12 DER */
int tls_p12_export(const struct tls_key *key, const struct tls_cert *cert,
                   const struct tls_certlist *chain, const char *name,
                   const char *pass, bool legacy, unsigned char **der,
                   size_t *len, const char **errstr)
{
        STACK_OF(X509) *ca = sk_X509_new_null();
        PKCS12 *p12;
        int nid =
            legacy ? NID_pbe_WithSHA1And3_Key_TripleDES_CBC : NID_aes_256_cbc;
        unsigned char *out = NULL;
        int n;

        ERR_clear_error();
        if (ca == NULL)
                return tls_cert_seterr(errstr, "out of memory");
        for (size_t i = 0; chain && i < chain->n; i++)
                sk_X509_push(ca, chain->v[i]->x509);
        /* No MAC from PKCS12_create: it would be HMAC-SHA1; set it below. */
        p12 = PKCS12_create(pass, name, key->pkey, cert->x509, ca, nid, nid,
                            P12_ITER, -1, 0);
        sk_X509_free(ca);
        if (p12 == NULL)
                return tls_cert_seterr(errstr,
                                       "cannot create the PKCS#12 file");
        if (!PKCS12_set_mac(p12, pass, -1, NULL, 0, P12_ITER,
                            legacy ? EVP_sha1() : EVP_sha256())) {
                PKCS12_free(p12);
                return tls_cert_seterr(errstr, "cannot add the PKCS#12 MAC");
        }
        n = i2d_PKCS12(p12, &out);
        PKCS12_free(p12);
        if (n <= 0)
                return tls_cert_seterr(errstr, "cannot encode PKCS#12");
        *der = xmalloc((size_t)n);
        memcpy(*der, out, (size_t)n);
        OPENSSL_free(out);
        *len = (size_t)n;
        return 0;
}

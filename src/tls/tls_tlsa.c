/* SPDX-License-Identifier: MIT */
/*
 * tls_tlsa.c - the association data of TLSA records (RFC 6698, 7671):
 * selector 0 is the DER certificate, 1 its DER SubjectPublicKeyInfo;
 * matching type 0 is the data itself, 1 its SHA-256, 2 its SHA-512.
 * Computing it from the certificate, never from a hand-made pipeline, is
 * what keeps a "3 1 1" record from carrying a full-certificate digest.
 */
#include "tls/tls.h"
#include "tls/tls_int.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

/* tlsa_finish - the matching type applied to DER bytes (takes der) */
static int tlsa_finish(unsigned char *der, int len, int mtype,
                       unsigned char **out, size_t *outlen, const char **errstr)
{
        const EVP_MD *md = NULL;
        unsigned char dig[EVP_MAX_MD_SIZE];
        unsigned int dlen = 0;

        if (len <= 0) {
                *errstr = "cannot encode the certificate or key";
                return -1;
        }
        if (mtype == 0) {
                *out = xmalloc((size_t)len);
                memcpy(*out, der, (size_t)len);
                *outlen = (size_t)len;
                OPENSSL_free(der);
                return 0;
        }
        md = mtype == 1 ? EVP_sha256() : mtype == 2 ? EVP_sha512() : NULL;
        if (md == NULL) {
                OPENSSL_free(der);
                *errstr = "matching type must be 0, 1 or 2";
                return -1;
        }
        if (!EVP_Digest(der, (size_t)len, dig, &dlen, md, NULL)) {
                OPENSSL_free(der);
                *errstr = "digest failed";
                return -1;
        }
        OPENSSL_free(der);
        *out = xmalloc(dlen);
        memcpy(*out, dig, dlen);
        *outlen = dlen;
        return 0;
}

/* tls_tlsa_data - association data for a certificate */
int tls_tlsa_data(const struct tls_cert *cert, int selector, int mtype,
                  unsigned char **out, size_t *outlen, const char **errstr)
{
        unsigned char *der = NULL;
        int len;

        if (selector == 0)
                len = i2d_X509(cert->x509, &der);
        else if (selector == 1)
                len = i2d_PUBKEY(X509_get0_pubkey(cert->x509), &der);
        else {
                *errstr = "selector must be 0 or 1";
                return -1;
        }
        return tlsa_finish(der, len, mtype, out, outlen, errstr);
}

/* tls_tlsa_key_data - association data for a key's public half */
int tls_tlsa_key_data(const struct tls_key *key, int mtype, unsigned char **out,
                      size_t *outlen, const char **errstr)
{
        unsigned char *der = NULL;
        int len = i2d_PUBKEY(key->pkey, &der);

        return tlsa_finish(der, len, mtype, out, outlen, errstr);
}

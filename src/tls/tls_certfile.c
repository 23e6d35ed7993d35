/* SPDX-License-Identifier: MIT */
/*
 * tls_certfile.c - reading certificate and key files in every format users
 * have (PEM bundles, DER, PKCS#7, PKCS#12), passphrases, and writing files
 * safely.
 */
#include "tls/tls_int.h"
#include "log/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/provider.h>

/* PKCS#12 files with more MAC iterations than this are refused: a hostile
 * file could otherwise keep us busy for hours. */
#define P12_MAX_ITER 10000000L

/* tls_file_read - a whole regular file */
int tls_file_read(const char *path, unsigned char **buf, size_t *len,
                  const char **errstr)
{
        struct stat st;
        unsigned char *b;
        size_t n = 0;
        int fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);

        if (fd < 0)
                return tls_cert_seterr(errstr, "%s: %s", path, strerror(errno));
        if (fstat(fd, &st) < 0) {
                int e = errno;
                close(fd);
                return tls_cert_seterr(errstr, "%s: %s", path, strerror(e));
        }
        if (S_ISDIR(st.st_mode)) {
                close(fd);
                return tls_cert_seterr(errstr, "%s: is a directory, not a file",
                                       path);
        }
        if (!S_ISREG(st.st_mode)) {
                close(fd);
                return tls_cert_seterr(errstr, "%s: not a regular file", path);
        }
        if ((unsigned long long)st.st_size > TLS_FILE_MAX) {
                close(fd);
                return tls_cert_seterr(
                    errstr,
                    "%s: too large for a certificate or key file "
                    "(%lld bytes, the limit is %u)",
                    path, (long long)st.st_size, TLS_FILE_MAX);
        }
        b = xmalloc(TLS_FILE_MAX + 1);
        for (;;) {
                ssize_t r = read(fd, b + n, TLS_FILE_MAX + 1 - n);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0) {
                        int e = errno;
                        close(fd);
                        free(b);
                        return tls_cert_seterr(errstr, "%s: read: %s", path,
                                               strerror(e));
                }
                if (r == 0)
                        break;
                n += (size_t)r;
                if (n > TLS_FILE_MAX) {
                        close(fd);
                        free(b);
                        return tls_cert_seterr(errstr, "%s: too large", path);
                }
        }
        close(fd);
        b = xrealloc(b, n + 1);
        b[n] = 0;
        *buf = b;
        *len = n;
        return 0;
}

/* write_all - write n bytes */
static int write_all(int fd, const void *data, size_t n)
{
        const char *p = data;

        while (n > 0) {
                ssize_t w = write(fd, p, n);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return -1;
                p += w;
                n -= (size_t)w;
        }
        return 0;
}

/* tls_file_write - temporary file, fsync, then link or rename */
int tls_file_write(const char *path, const void *data, size_t len,
                   unsigned mode, bool force, const char **errstr)
{
        char *tmp = xasprintf("%s.tmpXXXXXX", path);
        int fd, e;

        if (!force && access(path, F_OK) == 0) {
                free(tmp);
                return tls_cert_seterr(errstr,
                                       "%s: already exists (use --force to "
                                       "replace it)",
                                       path);
        }
        fd = mkstemp(tmp);
        if (fd < 0) {
                e = errno;
                free(tmp);
                return tls_cert_seterr(errstr, "%s: cannot create: %s", path,
                                       strerror(e));
        }
        if (fchmod(fd, (mode_t)mode) < 0 || write_all(fd, data, len) < 0 ||
            fsync(fd) < 0) {
                e = errno;
                close(fd);
                unlink(tmp);
                free(tmp);
                return tls_cert_seterr(errstr, "%s: write: %s", path,
                                       strerror(e));
        }
        if (close(fd) < 0) {
                e = errno;
                unlink(tmp);
                free(tmp);
                return tls_cert_seterr(errstr, "%s: close: %s", path,
                                       strerror(e));
        }
        if (force ? rename(tmp, path) : link(tmp, path)) {
                e = errno;
                unlink(tmp);
                free(tmp);
                if (e == EEXIST)
                        return tls_cert_seterr(errstr,
                                               "%s: already exists (use "
                                               "--force to replace it)",
                                               path);
                return tls_cert_seterr(errstr, "%s: %s", path, strerror(e));
        }
        if (!force)
                unlink(tmp);
        free(tmp);
        return 0;
}

/* tls_pass_resolve - pass:, env:, file:, fd: */
int tls_pass_resolve(const char *spec, char **out, const char **errstr)
{
        if (str_has_prefix(spec, "pass:")) {
                *out = xstrdup(spec + 5);
                return 0;
        }
        if (str_has_prefix(spec, "env:")) {
                const char *v = getenv(spec + 4);
                if (v == NULL)
                        return tls_cert_seterr(errstr,
                                               "environment variable %s is "
                                               "not set",
                                               spec + 4);
                *out = xstrdup(v);
                return 0;
        }
        if (str_has_prefix(spec, "file:") || str_has_prefix(spec, "fd:")) {
                unsigned char *buf = NULL;
                size_t len = 0;
                if (str_has_prefix(spec, "file:")) {
                        if (tls_file_read(spec + 5, &buf, &len, errstr) < 0)
                                return -1;
                } else {
                        char *end;
                        long fd = strtol(spec + 3, &end, 10);
                        struct strbuf sb;
                        char chunk[512];
                        ssize_t r;
                        if (*end || end == spec + 3 || fd < 0)
                                return tls_cert_seterr(errstr,
                                                       "bad descriptor in "
                                                       "\"%s\"",
                                                       spec);
                        strbuf_init(&sb);
                        while ((r = read((int)fd, chunk, sizeof(chunk))) > 0 &&
                               sb.len < 65536)
                                strbuf_add(&sb, chunk, (size_t)r);
                        len = sb.len;
                        buf = (unsigned char *)strbuf_detach(&sb);
                }
                size_t n = strcspn((char *)buf, "\r\n");
                *out = xstrndup((char *)buf, n);
                OPENSSL_cleanse(buf, len);
                free(buf);
                return 0;
        }
        return tls_cert_seterr(errstr,
                               "bad passphrase source \"%s\": use pass:TEXT, "
                               "file:PATH, env:VAR or fd:N",
                               spec);
}

/* Passphrase state while one file is read. */
struct pwctx {
        const struct tls_pass *pass;
        const char *name;
        char *asked; /* from ask(), wiped and freed at the end */
        bool called; /* the file asked for a passphrase */
        bool none;   /* ... and none was available */
};

/* pw_get - the passphrase for ctx, asking at most once; NULL when none */
static const char *pw_get(struct pwctx *ctx)
{
        ctx->called = true;
        if (ctx->pass == NULL)
                return NULL;
        if (ctx->pass->pass)
                return ctx->pass->pass;
        if (ctx->asked == NULL && ctx->pass->ask && !ctx->none) {
                char *prompt = xasprintf("Passphrase for %s: ", ctx->name);
                ctx->asked = ctx->pass->ask(prompt, ctx->pass->arg);
                free(prompt);
        }
        return ctx->asked;
}

/* pw_cb - OpenSSL's pem_password_cb */
static int pw_cb(char *buf, int size, int rwflag, void *u)
{
        struct pwctx *ctx = u;
        const char *p = pw_get(ctx);
        size_t n;

        (void)rwflag;
        if (p == NULL) {
                ctx->none = true;
                return -1;
        }
        n = strlen(p);
        if (n > (size_t)size)
                n = (size_t)size;
        memcpy(buf, p, n);
        return (int)n;
}

/* pw_done - wipe what was asked */
static void pw_done(struct pwctx *ctx)
{
        if (ctx->asked) {
                OPENSSL_cleanse(ctx->asked, strlen(ctx->asked));
                free(ctx->asked);
                ctx->asked = NULL;
        }
}

/* key_error - the error for a key that did not load */
static int key_error(struct pwctx *ctx, const char *what, const char **errstr)
{
        if (ctx->none)
                return tls_cert_seterr(errstr,
                                       "%s: the private key is encrypted and "
                                       "no passphrase was given (use --passin)",
                                       what);
        if (ctx->called)
                return tls_cert_seterr(errstr,
                                       "%s: cannot decrypt the private key: "
                                       "wrong passphrase?",
                                       what);
        return tls_cert_seterr(errstr, "%s: cannot decode the private key",
                               what);
}

/* take_key - keep the first key of a file */
static void take_key(struct tls_certlist *l, EVP_PKEY *pk, bool encrypted)
{
        if (l->key) {
                EVP_PKEY_free(pk);
                return;
        }
        l->key = tls_key_wrap(pk);
        if (encrypted)
                l->encrypted = true;
}

/* push_p7 - the certificates of a PKCS#7 structure */
static int push_p7(struct tls_certlist *l, PKCS7 *p7)
{
        STACK_OF(X509) *certs = NULL;
        int nid = OBJ_obj2nid(p7->type);

        if (nid == NID_pkcs7_signed && p7->d.sign)
                certs = p7->d.sign->cert;
        else if (nid == NID_pkcs7_signedAndEnveloped &&
                 p7->d.signed_and_enveloped)
                certs = p7->d.signed_and_enveloped->cert;
        else
                return -1;
        for (int i = 0; i < sk_X509_num(certs); i++) {
                X509 *x = sk_X509_value(certs, i);
                X509_up_ref(x);
                tls_certlist_push(l, x);
        }
        return 0;
}

static OSSL_PROVIDER *prov_default, *prov_legacy;

/* legacy_unload - release the providers at exit (keeps leak checkers
 * quiet: OpenSSL's own cleanup does not drop our references) */
static void legacy_unload(void)
{
        if (prov_legacy)
                OSSL_PROVIDER_unload(prov_legacy);
        if (prov_default)
                OSSL_PROVIDER_unload(prov_default);
        prov_legacy = prov_default = NULL;
}

/* legacy_providers - load the legacy provider (RC2, RC4, DES) next to the
 * default one, once; returns whether it is available */
static bool legacy_providers(void)
{
        static int state; /* 0 unknown, 1 loaded, -1 unavailable */

        if (state == 0) {
                prov_default = OSSL_PROVIDER_try_load(NULL, "default", 1);
                prov_legacy = OSSL_PROVIDER_try_load(NULL, "legacy", 1);
                state = prov_default && prov_legacy ? 1 : -1;
                atexit(legacy_unload);
                ERR_clear_error();
        }
        return state == 1;
}

/* parse_p12 - key and certificates of a PKCS#12 file */
static int parse_p12(PKCS12 *p12, const char *name, struct pwctx *pw,
                     struct tls_certlist *l, const char **errstr)
{
        const char *pass = "";
        EVP_PKEY *pk = NULL;
        X509 *cert = NULL;
        STACK_OF(X509) *ca = NULL;

        if (PKCS12_mac_present(p12)) {
                const ASN1_INTEGER *iter = NULL;
                PKCS12_get0_mac(NULL, NULL, NULL, &iter, p12);
                long it = iter ? ASN1_INTEGER_get(iter) : 1;
                if (it < 0 || it > P12_MAX_ITER)
                        return tls_cert_seterr(errstr,
                                               "%s: PKCS#12 iteration count "
                                               "%ld is out of range",
                                               name, it);
                if (!PKCS12_verify_mac(p12, "", 0) &&
                    !PKCS12_verify_mac(p12, NULL, 0)) {
                        pass = pw_get(pw);
                        if (pass == NULL)
                                return tls_cert_seterr(
                                    errstr,
                                    "%s: the PKCS#12 file is protected by "
                                    "a passphrase and none was given (use "
                                    "--passin)",
                                    name);
                        if (!PKCS12_verify_mac(p12, pass, -1)) {
                                ERR_clear_error();
                                return tls_cert_seterr(
                                    errstr,
                                    "%s: wrong passphrase (PKCS#12 MAC "
                                    "verification failed)",
                                    name);
                        }
                        l->encrypted = true;
                }
        } else if (pw->pass && pw->pass->pass) {
                pass = pw->pass->pass;
        }
        ERR_clear_error();
        if (!PKCS12_parse(p12, pass, &pk, &cert, &ca)) {
                /* RC2-40 and friends live in the legacy provider. */
                if (!legacy_providers() ||
                    !PKCS12_parse(p12, pass, &pk, &cert, &ca))
                        return tls_cert_seterr(errstr,
                                               "%s: cannot decode the PKCS#12 "
                                               "contents",
                                               name);
        }
        if (pk)
                take_key(l, pk, false);
        if (cert)
                tls_certlist_push(l, cert);
        for (int i = 0; i < sk_X509_num(ca); i++)
                tls_certlist_push(l, sk_X509_value(ca, i));
        sk_X509_free(ca);
        tls_certlist_sort_chain(l);
        return 0;
}

/* parse_der_key - an unencrypted or encrypted DER private key */
static EVP_PKEY *parse_der_key(const unsigned char *buf, size_t len,
                               struct pwctx *pw)
{
        EVP_PKEY *pk = NULL;
        OSSL_DECODER_CTX *dctx = OSSL_DECODER_CTX_new_for_pkey(
            &pk, "DER", NULL, NULL, EVP_PKEY_KEYPAIR, NULL, NULL);
        const unsigned char *p = buf;
        size_t left = len;

        if (dctx == NULL)
                return NULL;
        OSSL_DECODER_CTX_set_pem_password_cb(dctx, pw_cb, pw);
        if (!OSSL_DECODER_from_data(dctx, &p, &left) || left != 0) {
                EVP_PKEY_free(pk);
                pk = NULL;
        }
        OSSL_DECODER_CTX_free(dctx);
        return pk;
}

/* parse_der - DER certificates, PKCS#7, PKCS#12 or a key */
static int parse_der(const unsigned char *buf, size_t len, const char *name,
                     struct pwctx *pw, struct tls_certlist *l,
                     const char **errstr)
{
        const unsigned char *p = buf, *end = buf + len;
        X509 *x;

        if (len < 2 || buf[0] != 0x30)
                return tls_cert_seterr(errstr,
                                       "%s: not a certificate or key file "
                                       "(neither PEM nor DER)",
                                       name);
        if ((x = d2i_X509(NULL, &p, (long)len)) != NULL) {
                l->format = TLS_FILE_DER;
                tls_certlist_push(l, x);
                while (p < end) {
                        const unsigned char *at = p;
                        x = d2i_X509(NULL, &p, (long)(end - p));
                        if (x == NULL)
                                return tls_cert_seterr(
                                    errstr,
                                    "%s: garbage after certificate %zu "
                                    "(offset %zu)",
                                    name, l->n, (size_t)(at - buf));
                        tls_certlist_push(l, x);
                }
                return 0;
        }
        p = buf;
        PKCS7 *p7 = d2i_PKCS7(NULL, &p, (long)len);
        if (p7 != NULL) {
                int r = push_p7(l, p7);
                PKCS7_free(p7);
                if (r < 0)
                        return tls_cert_seterr(errstr,
                                               "%s: PKCS#7 file without "
                                               "certificates",
                                               name);
                l->format = TLS_FILE_PKCS7;
                return 0;
        }
        p = buf;
        PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)len);
        if (p12 != NULL) {
                int r;
                l->format = TLS_FILE_PKCS12;
                r = parse_p12(p12, name, pw, l, errstr);
                PKCS12_free(p12);
                return r;
        }
        ERR_clear_error();
        EVP_PKEY *pk = parse_der_key(buf, len, pw);
        if (pk != NULL) {
                l->format = TLS_FILE_DER;
                take_key(l, pk, pw->called);
                return 0;
        }
        if (pw->called)
                return key_error(pw, name, errstr);
        ERR_clear_error(); /* the decoders' guesses say nothing useful */
        return tls_cert_seterr(errstr,
                               "%s: not a certificate, PKCS#7, PKCS#12 or key "
                               "in DER form",
                               name);
}

/* mem_find - first occurrence of needle in buf[from..len) at the start of
 * a line, or len */
static size_t mem_find_line(const char *buf, size_t len, size_t from,
                            const char *needle)
{
        size_t nl = strlen(needle);

        for (size_t i = from; i + nl <= len; i++) {
                if ((i == 0 || buf[i - 1] == '\n') &&
                    memcmp(buf + i, needle, nl) == 0)
                        return i;
                const char *q = memchr(buf + i, '\n', len - i);
                if (q == NULL)
                        break;
                i = (size_t)(q - buf); /* the loop's i++ skips the newline */
        }
        return len;
}

/* line_of - 1-based line number of offset off */
static size_t line_of(const char *buf, size_t off)
{
        size_t n = 1;

        for (size_t i = 0; i < off; i++)
                n += buf[i] == '\n';
        return n;
}

/* label_is - whether the label is one of the NULL-terminated list */
static bool label_is(const char *label, const char *const *list)
{
        for (; *list; list++)
                if (strcmp(label, *list) == 0)
                        return true;
        return false;
}

static const char *const cert_labels[] = {"CERTIFICATE", "X509 CERTIFICATE",
                                          "TRUSTED CERTIFICATE", NULL};
static const char *const p7_labels[] = {"PKCS7", "PKCS #7 SIGNED DATA", NULL};
static const char *const key_labels[] = {
    "PRIVATE KEY",         "ENCRYPTED PRIVATE KEY",
    "RSA PRIVATE KEY",     "EC PRIVATE KEY",
    "DSA PRIVATE KEY",     "ANY PRIVATE KEY",
    "ED25519 PRIVATE KEY", NULL};

/* parse_pem_block - one BEGIN..END block */
static int parse_pem_block(const char *block, size_t blen, const char *label,
                           const char *name, size_t line, struct pwctx *pw,
                           struct tls_certlist *l, const char **errstr)
{
        BIO *b = BIO_new_mem_buf(block, (int)blen);
        int r = 0;

        if (b == NULL)
                BUG("out of memory");
        if (label_is(label, cert_labels)) {
                X509 *x = PEM_read_bio_X509_AUX(b, NULL, NULL, NULL);
                if (x == NULL)
                        r = tls_cert_seterr(errstr,
                                            "%s: line %zu: cannot decode the "
                                            "certificate",
                                            name, line);
                else
                        tls_certlist_push(l, x);
        } else if (label_is(label, p7_labels)) {
                PKCS7 *p7 = PEM_read_bio_PKCS7(b, NULL, NULL, NULL);
                if (p7 == NULL)
                        r = tls_cert_seterr(errstr,
                                            "%s: line %zu: cannot decode the "
                                            "PKCS#7 block",
                                            name, line);
                else {
                        if (push_p7(l, p7) < 0)
                                r = tls_cert_seterr(
                                    errstr,
                                    "%s: line %zu: PKCS#7 "
                                    "block without certificates",
                                    name, line);
                        else if (l->format == TLS_FILE_PEM && l->n > 0)
                                l->format = TLS_FILE_PKCS7;
                        PKCS7_free(p7);
                }
        } else if (label_is(label, key_labels) && l->key == NULL &&
                   !(pw->pass && pw->pass->certs_only)) {
                EVP_PKEY *pk = PEM_read_bio_PrivateKey(b, NULL, pw_cb, pw);
                if (pk == NULL) {
                        char *what = xasprintf("%s: line %zu", name, line);
                        r = key_error(pw, what, errstr);
                        free(what);
                } else
                        take_key(l, pk, pw->called);
        }
        BIO_free(b);
        return r;
}

/* parse_pem - every block of a PEM file */
static int parse_pem(const char *buf, size_t len, const char *name,
                     struct pwctx *pw, struct tls_certlist *l,
                     const char **errstr)
{
        size_t pos = 0;
        size_t blocks = 0;

        while ((pos = mem_find_line(buf, len, pos, "-----BEGIN ")) < len) {
                size_t ls = pos + 11, le = ls;
                char label[81], endmark[100];

                while (le < len && le - ls < 80 && buf[le] != '-' &&
                       buf[le] != '\n')
                        le++;
                if (le + 5 > len || memcmp(buf + le, "-----", 5) != 0) {
                        pos = ls;
                        continue;
                }
                memcpy(label, buf + ls, le - ls);
                label[le - ls] = 0;
                snprintf(endmark, sizeof(endmark), "-----END %s-----", label);
                size_t end = mem_find_line(buf, len, le, endmark);
                if (end >= len)
                        return tls_cert_seterr(errstr,
                                               "%s: line %zu: truncated PEM "
                                               "block \"%s\" (no END line)",
                                               name, line_of(buf, pos), label);
                end += strlen(endmark);
                blocks++;
                if (parse_pem_block(buf + pos, end - pos, label, name,
                                    line_of(buf, pos), pw, l, errstr) < 0)
                        return -1;
                pos = end;
        }
        if (blocks == 0)
                return tls_cert_seterr(errstr, "%s: no PEM block found", name);
        return 0;
}

/* is_pem - whether buf has a BEGIN line */
static bool is_pem(const char *buf, size_t len)
{
        return mem_find_line(buf, len, 0, "-----BEGIN ") < len;
}

/* parse_any - certificates and a key from any supported format;
 * *encrypted (may be NULL) tells whether a passphrase was asked for */
static int parse_any(const void *buf, size_t len, const char *name,
                     const struct tls_pass *pass, struct tls_certlist **out,
                     bool *encrypted, const char **errstr)
{
        struct pwctx pw = {.pass = pass, .name = name};
        struct tls_certlist *l = tls_certlist_new(TLS_FILE_PEM);
        int r;

        ERR_clear_error();
        if (len == 0)
                r = tls_cert_seterr(errstr, "%s: empty file", name);
        else if (len > TLS_FILE_MAX)
                r = tls_cert_seterr(errstr, "%s: too large", name);
        else if (is_pem(buf, len))
                r = parse_pem(buf, len, name, &pw, l, errstr);
        else
                r = parse_der(buf, len, name, &pw, l, errstr);
        if (encrypted)
                *encrypted = pw.called;
        pw_done(&pw);
        ERR_clear_error();
        if (r < 0) {
                tls_certlist_free(l);
                return -1;
        }
        *out = l;
        return 0;
}

/* tls_certlist_parse - certificates of a file in memory */
int tls_certlist_parse(const void *buf, size_t len, const char *name,
                       const struct tls_pass *pass, struct tls_certlist **out,
                       const char **errstr)
{
        struct tls_certlist *l;

        if (parse_any(buf, len, name, pass, &l, NULL, errstr) < 0)
                return -1;
        if (l->n == 0 && l->key == NULL) {
                tls_certlist_free(l);
                return tls_cert_seterr(
                    errstr, "%s: no certificate or private key found", name);
        }
        *out = l;
        return 0;
}

/* tls_certlist_load - read and parse */
int tls_certlist_load(const char *path, const struct tls_pass *pass,
                      struct tls_certlist **out, const char **errstr)
{
        unsigned char *buf;
        size_t len;
        int r;

        if (tls_file_read(path, &buf, &len, errstr) < 0)
                return -1;
        r = tls_certlist_parse(buf, len, path, pass, out, errstr);
        OPENSSL_cleanse(buf, len);
        free(buf);
        return r;
}

/* tls_key_parse - the first private key */
int tls_key_parse(const void *buf, size_t len, const char *name,
                  const struct tls_pass *pass, struct tls_key **out,
                  bool *encrypted, const char **errstr)
{
        struct tls_certlist *l;
        int r = 0;

        if (parse_any(buf, len, name, pass, &l, encrypted, errstr) < 0)
                return -1;
        if (l->key == NULL)
                r = tls_cert_seterr(errstr, "%s: no private key found", name);
        else {
                *out = l->key;
                l->key = NULL;
        }
        tls_certlist_free(l);
        return r;
}

/* tls_key_load - read and parse a key file */
int tls_key_load(const char *path, const struct tls_pass *pass,
                 struct tls_key **out, bool *encrypted, const char **errstr)
{
        unsigned char *buf;
        size_t len;
        int r;

        if (encrypted)
                *encrypted = false;
        if (tls_file_read(path, &buf, &len, errstr) < 0)
                return -1;
        r = tls_key_parse(buf, len, path, pass, out, encrypted, errstr);
        OPENSSL_cleanse(buf, len);
        free(buf);
        return r;
}

/* tls_pass_tty - prompt on the terminal without echo */
char *tls_pass_tty(const char *prompt, void *arg)
{
        struct termios old, raw;
        char buf[1024];
        size_t n = 0;
        bool echo_off = false;
        int fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);

        (void)arg;
        if (fd < 0)
                return NULL;
        if (tcgetattr(fd, &old) == 0) {
                raw = old;
                raw.c_lflag &= (tcflag_t) ~(ECHO | ECHONL);
                raw.c_lflag |= ICANON;
                echo_off = tcsetattr(fd, TCSANOW, &raw) == 0;
        }
        if (write(fd, prompt, strlen(prompt)) < 0) {
                /* nothing to do: the read below still works */
        }
        for (;;) {
                char c;
                ssize_t r = read(fd, &c, 1);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0 || c == '\n' || c == '\r')
                        break;
                if (n + 1 < sizeof(buf))
                        buf[n++] = c;
        }
        buf[n] = 0;
        if (echo_off)
                tcsetattr(fd, TCSANOW, &old);
        if (write(fd, "\n", 1) < 0) {
                /* ignore */
        }
        close(fd);
        char *s = xstrdup(buf);
        OPENSSL_cleanse(buf, sizeof(buf));
        return s;
}

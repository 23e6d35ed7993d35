/* SPDX-License-Identifier: MIT */
/*
 * tls_ctx.c - server and client contexts from plain settings structs:
 * keys and certificates (with explanations for every layout users bring
 * from other software), trust anchors, protocols, ciphers, session
 * tickets with keys shared by all worker processes.
 */
#include "tls/tls_int.h"
#include "log/log.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <time.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char ctx_err[2048];

/* tls_ctx_seterr - static error message; clears OpenSSL's queue */
int tls_ctx_seterr(const char **errstr, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(ctx_err, sizeof(ctx_err), fmt, ap);
        va_end(ap);
        ERR_clear_error();
        if (errstr)
                *errstr = ctx_err;
        return -1;
}

/* seterr_ssl - like tls_ctx_seterr, with OpenSSL's reason appended */
static int seterr_ssl(const char **errstr, const char *what)
{
        unsigned long e = ERR_peek_last_error();
        char reason[256] = "unknown error";

        if (e)
                ERR_error_string_n(e, reason, sizeof(reason));
        return tls_ctx_seterr(errstr, "%s: %s", what, reason);
}

/* empty - NULL or "" */
static bool empty(const char *s)
{
        return s == NULL || *s == 0;
}

/* apply_groups - tls_eecdh_auto_curves: the key-exchange groups in that
 * order, skipping names this OpenSSL does not have (as Postfix does); 0,
 * or -1 when none of them is usable */
static int apply_groups(SSL_CTX *ctx, const char *list, const char **errstr)
{
        struct strbuf ok;
        char *copy, *save = NULL;
        int rc = 0;

        if (empty(list))
                return 0;
        strbuf_init(&ok);
        copy = xstrdup(list);
        for (char *w = strtok_r(copy, " \t,:", &save); w;
             w = strtok_r(NULL, " \t,:", &save)) {
                if (SSL_CTX_set1_groups_list(ctx, w) != 1) {
                        ERR_clear_error();
                        continue;
                }
                strbuf_printf(&ok, "%s%s", ok.len ? ":" : "", w);
        }
        if (ok.len == 0 || SSL_CTX_set1_groups_list(ctx, ok.s) != 1)
                rc = tls_ctx_seterr(errstr,
                                    "tls_eecdh_auto_curves: no usable group in "
                                    "\"%s\"",
                                    list);
        free(copy);
        strbuf_clear(&ok);
        return rc;
}

/* ---- reading key and certificate files ---- */

/* One key with its certificate chain, as it will be handed to OpenSSL. */
struct group {
        EVP_PKEY *key;
        X509 *leaf;
        STACK_OF(X509) * chain;
        char *keyfile;
        char *certfile;
};

struct groups {
        struct group *v;
        size_t n;
        size_t cap;
};

/* groups_clear - free every group */
static void groups_clear(struct groups *g)
{
        for (size_t i = 0; i < g->n; i++) {
                EVP_PKEY_free(g->v[i].key);
                X509_free(g->v[i].leaf);
                sk_X509_pop_free(g->v[i].chain, X509_free);
                free(g->v[i].keyfile);
                free(g->v[i].certfile);
        }
        free(g->v);
        memset(g, 0, sizeof(*g));
}

/* groups_add - a new empty group */
static struct group *groups_add(struct groups *g)
{
        if (g->n == g->cap) {
                g->cap = g->cap ? 2 * g->cap : 4;
                g->v = xreallocarray(g->v, g->cap, sizeof(*g->v));
        }
        memset(&g->v[g->n], 0, sizeof(g->v[0]));
        g->v[g->n].chain = sk_X509_new_null();
        return &g->v[g->n++];
}

/* read_file - the whole file; a missing file is named */
static int read_file(const char *what, const char *path, unsigned char **buf,
                     size_t *len, const char **errstr)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct stat st;
        size_t cap = 0, n = 0;
        unsigned char *p = NULL;

        if (fd < 0)
                return tls_ctx_seterr(errstr, "cannot open %s %s: %s", what,
                                      path, strerror(errno));
        if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
                close(fd);
                return tls_ctx_seterr(
                    errstr, "%s %s is a directory, not a file", what, path);
        }
        for (;;) {
                if (cap - n < 4096) {
                        cap = cap ? 2 * cap : 8192;
                        p = xrealloc(p, cap + 1);
                }
                ssize_t r = read(fd, p + n, cap - n);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0) {
                        int e = errno;
                        close(fd);
                        free(p);
                        return tls_ctx_seterr(errstr, "cannot read %s %s: %s",
                                              what, path, strerror(e));
                }
                if (r == 0)
                        break;
                n += (size_t)r;
        }
        close(fd);
        p[n] = 0;
        *buf = p;
        *len = n;
        return 0;
}

/* check_key_mode - refuse a private key readable by group or other */
static int check_key_mode(const char *path, const char **errstr)
{
        struct stat st;

        if (stat(path, &st) < 0)
                return tls_ctx_seterr(errstr, "cannot stat %s: %s", path,
                                      strerror(errno));
        if (st.st_mode & (S_IRGRP | S_IROTH))
                return tls_ctx_seterr(
                    errstr,
                    "private key file %s is readable by other users (mode "
                    "%04o); a secret key must be readable by its owner only: "
                    "run chmod 600 %s",
                    path, (unsigned)(st.st_mode & 07777), path);
        return 0;
}

/* explain_binary - name what a non-PEM file is and how to convert it */
static int explain_binary(const char *path, const unsigned char *buf,
                          size_t len, const char **errstr)
{
        const unsigned char *p;
        long l = len > (size_t)LONG_MAX ? LONG_MAX : (long)len;

        p = buf;
        PKCS12 *p12 = d2i_PKCS12(NULL, &p, l);
        if (p12) {
                PKCS12_free(p12);
                return tls_ctx_seterr(
                    errstr,
                    "%s is a PKCS#12 file (key and certificates in one binary "
                    "bundle, often .p12 or .pfx); postern needs PEM: run "
                    "openssl pkcs12 -in %s -nodes -out %s.pem (or postern "
                    "certs "
                    "convert %s %s.pem), then chmod 600 %s.pem",
                    path, path, path, path, path, path);
        }
        p = buf;
        PKCS7 *p7 = d2i_PKCS7(NULL, &p, l);
        if (p7) {
                PKCS7_free(p7);
                return tls_ctx_seterr(
                    errstr,
                    "%s is a PKCS#7 certificate bundle in DER (often .p7b or "
                    ".spc); postern needs PEM: run openssl pkcs7 -inform der "
                    "-print_certs -in %s -out %s.pem (or postern certs convert "
                    "%s %s.pem)",
                    path, path, path, path, path);
        }
        p = buf;
        X509 *x = d2i_X509(NULL, &p, l);
        if (x) {
                X509_free(x);
                return tls_ctx_seterr(
                    errstr,
                    "%s is a DER (binary) certificate; postern needs PEM: run "
                    "openssl x509 -inform der -in %s -out %s.pem (or postern "
                    "certs convert %s %s.pem)",
                    path, path, path, path, path);
        }
        p = buf;
        EVP_PKEY *k = d2i_AutoPrivateKey(NULL, &p, l);
        if (k) {
                EVP_PKEY_free(k);
                return tls_ctx_seterr(
                    errstr,
                    "%s is a DER (binary) private key; postern needs PEM: run "
                    "openssl pkey -inform der -in %s -out %s.pem (or postern "
                    "certs convert %s %s.pem), then chmod 600 %s.pem",
                    path, path, path, path, path, path);
        }
        p = buf;
        X509_SIG *sig = d2i_X509_SIG(NULL, &p, l);
        if (sig) {
                X509_SIG_free(sig);
                return tls_ctx_seterr(
                    errstr,
                    "%s is a passphrase-protected private key in DER; a mail "
                    "server cannot type the passphrase at start-up: run "
                    "openssl pkey -inform der -in %s -out %s.pem (it asks for "
                    "the passphrase once), then chmod 600 %s.pem",
                    path, path, path, path);
        }
        ERR_clear_error();
        return tls_ctx_seterr(errstr,
                              "%s is not a PEM file (no \"-----BEGIN\" line); "
                              "if it is a certificate or key in another "
                              "format, postern certs convert %s %s.pem turns "
                              "it into PEM",
                              path, path, path);
}

/* no_passphrase - a PEM password callback that never prompts */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
        (void)buf;
        (void)size;
        (void)rwflag;
        (void)u;
        return -1;
}

/* One parsed PEM object, in file order. */
struct pem_obj {
        X509 *cert;
        EVP_PKEY *key;
};

/* encrypted_msg - the explanation for a passphrase-protected key */
static int encrypted_msg(const char *path, const char **errstr)
{
        return tls_ctx_seterr(
            errstr,
            "the private key in %s is protected by a passphrase, which a mail "
            "server cannot type at start-up; remove it with openssl pkey -in "
            "%s -out %s.key (it asks for the passphrase once), run chmod 600 "
            "%s.key and point the key file setting at %s.key",
            path, path, path, path, path);
}

/* parse_pem - every certificate and key of a PEM file, in order */
static int parse_pem(const char *path, const unsigned char *buf, size_t len,
                     struct pem_obj **objs, size_t *nobjs, const char **errstr)
{
        BIO *in;
        size_t n = 0, cap = 0;
        struct pem_obj *v = NULL;
        int rc = -1;

        if (len > (size_t)INT_MAX)
                return tls_ctx_seterr(errstr, "%s: file too large", path);
        if (strstr((const char *)buf, "-----BEGIN") == NULL)
                return explain_binary(path, buf, len, errstr);
        in = BIO_new_mem_buf(buf, (int)len);
        for (;;) {
                char *name = NULL, *header = NULL;
                unsigned char *data = NULL;
                long dlen = 0;

                if (!PEM_read_bio(in, &name, &header, &data, &dlen)) {
                        unsigned long e = ERR_peek_last_error();
                        if (ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
                                ERR_clear_error();
                                break;
                        }
                        seterr_ssl(errstr, path);
                        goto out;
                }
                struct pem_obj o = {0};
                const unsigned char *p = data;
                if (strcmp(name, "CERTIFICATE") == 0 ||
                    strcmp(name, "X509 CERTIFICATE") == 0) {
                        o.cert = d2i_X509(NULL, &p, dlen);
                } else if (strcmp(name, "TRUSTED CERTIFICATE") == 0) {
                        o.cert = d2i_X509_AUX(NULL, &p, dlen);
                } else if (strcmp(name, "ENCRYPTED PRIVATE KEY") == 0 ||
                           (strstr(name, "PRIVATE KEY") != NULL &&
                            header != NULL && strstr(header, "ENCRYPTED"))) {
                        OPENSSL_free(name);
                        OPENSSL_free(header);
                        OPENSSL_free(data);
                        encrypted_msg(path, errstr);
                        goto out;
                } else if (strstr(name, "PRIVATE KEY") != NULL) {
                        BIO *one = BIO_new(BIO_s_mem());
                        PEM_write_bio(one, name, header, data, dlen);
                        o.key = PEM_read_bio_PrivateKey(one, NULL,
                                                        no_passphrase, NULL);
                        BIO_free(one);
                } else if (strcmp(name, "PKCS7") == 0 ||
                           strcmp(name, "CERTIFICATE CHAIN") == 0) {
                        OPENSSL_free(name);
                        OPENSSL_free(header);
                        OPENSSL_free(data);
                        tls_ctx_seterr(
                            errstr,
                            "%s holds a PKCS#7 certificate bundle; postern "
                            "needs plain PEM certificates: run openssl pkcs7 "
                            "-print_certs -in %s -out %s.pem (or postern certs "
                            "convert %s %s.pem)",
                            path, path, path, path, path);
                        goto out;
                } else if (strcmp(name, "CERTIFICATE REQUEST") == 0 ||
                           strcmp(name, "NEW CERTIFICATE REQUEST") == 0) {
                        OPENSSL_free(name);
                        OPENSSL_free(header);
                        OPENSSL_free(data);
                        tls_ctx_seterr(
                            errstr,
                            "%s holds a certificate signing request, not a "
                            "certificate: send it to the CA and use the "
                            "certificate it returns",
                            path);
                        goto out;
                } else {
                        /* "EC PARAMETERS", "DH PARAMETERS"...: not ours. */
                        OPENSSL_free(name);
                        OPENSSL_free(header);
                        OPENSSL_free(data);
                        continue;
                }
                bool ok = o.cert != NULL || o.key != NULL;
                OPENSSL_free(name);
                OPENSSL_free(header);
                OPENSSL_free(data);
                if (!ok) {
                        seterr_ssl(errstr, path);
                        goto out;
                }
                if (n == cap) {
                        cap = cap ? 2 * cap : 8;
                        v = xreallocarray(v, cap, sizeof(*v));
                }
                v[n++] = o;
        }
        rc = 0;
out:
        BIO_free(in);
        if (rc < 0) {
                for (size_t i = 0; i < n; i++) {
                        X509_free(v[i].cert);
                        EVP_PKEY_free(v[i].key);
                }
                free(v);
                v = NULL;
                n = 0;
        }
        *objs = v;
        *nobjs = n;
        return rc;
}

/* load_objs - read and parse one file */
static int load_objs(const char *what, const char *path, struct pem_obj **objs,
                     size_t *n, const char **errstr)
{
        unsigned char *buf;
        size_t len;
        int rc;

        if (read_file(what, path, &buf, &len, errstr) < 0)
                return -1;
        rc = parse_pem(path, buf, len, objs, n, errstr);
        OPENSSL_cleanse(buf, len);
        free(buf);
        return rc;
}

/* free_objs - free what was not taken */
static void free_objs(struct pem_obj *v, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                X509_free(v[i].cert);
                EVP_PKEY_free(v[i].key);
        }
        free(v);
}

/* load_pair - cert_file (+ chain) and key_file (may be the same file) */
static int load_pair(const char *certfile, const char *keyfile,
                     struct groups *gs, const char **errstr)
{
        struct pem_obj *v = NULL, *kv = NULL;
        size_t n = 0, kn = 0;
        struct group *g;
        bool same = empty(keyfile) || strcmp(keyfile, certfile) == 0;
        int rc = -1;

        if (load_objs("certificate file", certfile, &v, &n, errstr) < 0)
                return -1;
        g = groups_add(gs);
        g->certfile = xstrdup(certfile);
        for (size_t i = 0; i < n; i++) {
                if (v[i].cert && g->leaf == NULL) {
                        g->leaf = v[i].cert;
                } else if (v[i].cert) {
                        sk_X509_push(g->chain, v[i].cert);
                } else if (v[i].key && same && g->key == NULL) {
                        g->key = v[i].key;
                } else {
                        EVP_PKEY_free(v[i].key);
                }
                v[i].cert = NULL;
                v[i].key = NULL;
        }
        if (g->leaf == NULL) {
                tls_ctx_seterr(errstr,
                               "no certificate found in %s (expected a PEM "
                               "\"-----BEGIN CERTIFICATE-----\" block: the "
                               "server certificate first, then intermediate "
                               "CA certificates)",
                               certfile);
                goto out;
        }
        if (same) {
                if (g->key == NULL) {
                        tls_ctx_seterr(
                            errstr,
                            "no private key found in %s; set the key file "
                            "setting to the file that holds the key, or "
                            "append the key: cat KEY.pem >> %s; chmod 600 %s",
                            certfile, certfile, certfile);
                        goto out;
                }
                g->keyfile = xstrdup(certfile);
        } else {
                if (load_objs("key file", keyfile, &kv, &kn, errstr) < 0)
                        goto out;
                for (size_t i = 0; i < kn && g->key == NULL; i++)
                        if (kv[i].key) {
                                g->key = kv[i].key;
                                kv[i].key = NULL;
                        }
                if (g->key == NULL) {
                        tls_ctx_seterr(errstr,
                                       "no private key found in %s (expected "
                                       "a PEM \"-----BEGIN PRIVATE KEY-----\" "
                                       "block)",
                                       keyfile);
                        goto out;
                }
                g->keyfile = xstrdup(keyfile);
        }
        rc = 0;
out:
        free_objs(v, n);
        free_objs(kv, kn);
        return rc;
}

/* load_chain_files - smtpd_tls_chain_files: key, certificate, chain, ... */
static int load_chain_files(const char *list, struct groups *gs,
                            const char **errstr)
{
        struct strlist files = {0};
        struct group *g = NULL;
        int rc = -1;

        str_split(list, LIST_SEPS, &files);
        for (size_t f = 0; f < files.n; f++) {
                struct pem_obj *v;
                size_t n;

                if (load_objs("chain file", files.v[f], &v, &n, errstr) < 0)
                        goto out;
                for (size_t i = 0; i < n; i++) {
                        if (v[i].key) {
                                if (g == NULL || g->key != NULL)
                                        g = groups_add(gs);
                                g->key = v[i].key;
                                g->keyfile = xstrdup(files.v[f]);
                        } else {
                                if (g == NULL)
                                        g = groups_add(gs);
                                if (g->leaf == NULL) {
                                        g->leaf = v[i].cert;
                                        g->certfile = xstrdup(files.v[f]);
                                } else {
                                        sk_X509_push(g->chain, v[i].cert);
                                }
                        }
                        v[i].key = NULL;
                        v[i].cert = NULL;
                }
                free_objs(v, n);
        }
        for (size_t i = 0; i < gs->n; i++) {
                if (gs->v[i].key == NULL) {
                        tls_ctx_seterr(errstr,
                                       "%s: certificate without a private key "
                                       "(each key must come before its "
                                       "certificate chain)",
                                       gs->v[i].certfile);
                        goto out;
                }
                if (gs->v[i].leaf == NULL) {
                        tls_ctx_seterr(errstr,
                                       "%s: private key without a certificate",
                                       gs->v[i].keyfile);
                        goto out;
                }
        }
        rc = 0;
out:
        strlist_clear(&files);
        return rc;
}

/* use_groups - check each key against its certificate and install them */
static int use_groups(SSL_CTX *ctx, struct groups *gs, const char **errstr)
{
        for (size_t i = 0; i < gs->n; i++) {
                struct group *g = &gs->v[i];

                if (check_key_mode(g->keyfile, errstr) < 0)
                        return -1;
                if (!X509_check_private_key(g->leaf, g->key)) {
                        bool same = strcmp(g->keyfile, g->certfile) == 0;
                        return tls_ctx_seterr(
                            errstr,
                            "the private key in %s does not match the "
                            "certificate in %s%s; compare openssl x509 -noout "
                            "-pubkey -in %s with openssl pkey -pubout -in %s "
                            "and use the key that belongs to the certificate",
                            g->keyfile, g->certfile,
                            same ? " (the first certificate in the file must "
                                   "be the server's own, then its CAs, depth "
                                   "first)"
                                 : "",
                            g->certfile, g->keyfile);
                }
                if (!SSL_CTX_use_cert_and_key(ctx, g->leaf, g->key, g->chain,
                                              1)) {
                        char what[1024];
                        snprintf(what, sizeof(what),
                                 "cannot use the certificate in %s",
                                 g->certfile);
                        return seterr_ssl(errstr, what);
                }
        }
        return 0;
}

/* ---- protocols, ciphers, trust ---- */

/* tls_apply_protocols - version range from a Postfix list */
int tls_apply_protocols(SSL_CTX *ctx, SSL *ssl, const char *list,
                        const char **errstr)
{
        struct tls_protocols p;
        const char *e;

        if (tls_protocols_parse(list, &p, &e) < 0)
                return tls_ctx_seterr(errstr, "%s", e);
        if (ctx) {
                SSL_CTX_set_min_proto_version(ctx, p.min_version);
                SSL_CTX_set_max_proto_version(ctx, p.max_version);
        } else {
                SSL_set_min_proto_version(ssl, p.min_version);
                SSL_set_max_proto_version(ssl, p.max_version);
        }
        return 0;
}

/* tls_apply_ciphers - cipher list from a grade and exclusions */
int tls_apply_ciphers(SSL_CTX *ctx, SSL *ssl,
                      const struct tls_cipher_grades *lists, const char *grade,
                      const char *exclude, const char **errstr)
{
        struct strbuf sb;
        const char *e, *base = NULL, *param = NULL;
        int ok;

        strbuf_init(&sb);
        if (tls_cipherlist_grades(lists, grade, exclude, &sb, &e) < 0 ||
            tls_cipher_grade(lists, grade, &base, &param, &e) < 0) {
                strbuf_clear(&sb);
                return tls_ctx_seterr(errstr, "%s", e);
        }
        ERR_clear_error();
        ok = ctx ? SSL_CTX_set_cipher_list(ctx, strbuf_cstr(&sb))
                 : SSL_set_cipher_list(ssl, strbuf_cstr(&sb));
        if (!ok) {
                /* the grade's own string, or the exclusions? (the
                 * object is discarded after a failure either way) */
                ERR_clear_error();
                ok = ctx ? SSL_CTX_set_cipher_list(ctx, base)
                         : SSL_set_cipher_list(ssl, base);
                if (!ok)
                        tls_ctx_seterr(errstr,
                                       "%s = \"%s\" (cipher grade %s) leaves "
                                       "no usable cipher",
                                       param, base,
                                       empty(grade) ? "medium" : grade);
                else
                        tls_ctx_seterr(errstr,
                                       "cipher grade \"%s\" with exclusions "
                                       "\"%s\" leaves no usable cipher "
                                       "(\"%s\")",
                                       empty(grade) ? "medium" : grade,
                                       exclude ? exclude : "",
                                       strbuf_cstr(&sb));
                strbuf_clear(&sb);
                return -1;
        }
        strbuf_clear(&sb);
        return 0;
}

/* tls_ciphers_check - a grade's cipher string, tried on a spare context */
int tls_ciphers_check(const struct tls_cipher_grades *lists, const char *grade,
                      const char *exclude, const char **errstr)
{
        SSL_CTX *ctx = SSL_CTX_new(TLS_method());
        int rc;

        if (ctx == NULL)
                return seterr_ssl(errstr, "cannot create a TLS context");
        rc = tls_apply_ciphers(ctx, NULL, lists, grade, exclude, errstr);
        SSL_CTX_free(ctx);
        return rc;
}

/* The tls_ssl_options names and OpenSSL's bits. */
static const struct {
        unsigned opt;
        uint64_t op;
} ssl_op_map[] = {
    {TLS_OPT_ENABLE_MIDDLEBOX_COMPAT, SSL_OP_ENABLE_MIDDLEBOX_COMPAT},
    {TLS_OPT_LEGACY_SERVER_CONNECT, SSL_OP_LEGACY_SERVER_CONNECT},
    {TLS_OPT_NO_TICKET, SSL_OP_NO_TICKET},
    {TLS_OPT_NO_COMPRESSION, SSL_OP_NO_COMPRESSION},
    {TLS_OPT_NO_RENEGOTIATION, SSL_OP_NO_RENEGOTIATION},
    {TLS_OPT_NO_SESSION_RESUMPTION_ON_RENEGOTIATION,
     SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION},
    {TLS_OPT_PRIORITIZE_CHACHA, SSL_OP_PRIORITIZE_CHACHA},
};

/* ssl_options_bits - tls_ssl_options as SSL_OP_* bits; unknown names are
 * logged once per value and ignored (Postfix warns the same way).  Bits
 * other settings own (protocol versions, server cipher preference) are
 * dropped from hexadecimal masks, as in Postfix. */
static uint64_t ssl_options_bits(const char *list)
{
        static char *warned; /* the value last warned about */
        struct tls_ssl_options o;
        struct strlist unknown = {0};
        uint64_t bits;

        if (empty(list))
                return 0;
        tls_ssl_options_parse(list, &o, &unknown);
        if (unknown.n && (warned == NULL || strcmp(warned, list) != 0)) {
                for (size_t i = 0; i < unknown.n; i++)
                        log_warnx("unknown tls_ssl_options value \"%s\" in "
                                  "\"%s\"",
                                  unknown.v[i], list);
                free(warned);
                warned = xstrdup(list);
        }
        strlist_clear(&unknown);
        bits = o.mask & ~(uint64_t)(SSL_OP_NO_SSL_MASK |
                                    SSL_OP_CIPHER_SERVER_PREFERENCE);
        for (size_t i = 0; i < ARRAY_SIZE(ssl_op_map); i++)
                if (o.named & ssl_op_map[i].opt)
                        bits |= ssl_op_map[i].op;
        return bits;
}

/* grades_copy - owned copies of the grade strings */
static void grades_copy(struct tls_cipher_grades *dst,
                        const struct tls_cipher_grades *src)
{
        dst->high = empty(src->high) ? NULL : xstrdup(src->high);
        dst->medium = empty(src->medium) ? NULL : xstrdup(src->medium);
        dst->low = empty(src->low) ? NULL : xstrdup(src->low);
        dst->export = empty(src->export) ? NULL : xstrdup(src->export);
        dst->null = empty(src->null) ? NULL : xstrdup(src->null);
}

/* grades_free - free what grades_copy made */
static void grades_free(struct tls_cipher_grades *g)
{
        free((char *)g->high);
        free((char *)g->medium);
        free((char *)g->low);
        free((char *)g->export);
        free((char *)g->null);
        memset(g, 0, sizeof(*g));
}

/* load_dh - smtpd_tls_dh1024_param_file: PEM DH parameters for DHE
 * ciphers, kept in tc->dh; empty or "auto": OpenSSL picks them by the
 * strength of the certificate's key */
static int load_dh(struct tls_ctx *tc, const char *path, const char **errstr)
{
        unsigned char *buf;
        size_t len;
        BIO *in;
        EVP_PKEY *dh;

        if (empty(path) || strcmp(path, "auto") == 0) {
                SSL_CTX_set_dh_auto(tc->ssl_ctx, 1);
                return 0;
        }
        if (read_file("DH parameter file", path, &buf, &len, errstr) < 0)
                return -1;
        if (len > (size_t)INT_MAX) {
                free(buf);
                return tls_ctx_seterr(errstr, "%s: file too large", path);
        }
        in = BIO_new_mem_buf(buf, (int)len);
        dh = in ? PEM_read_bio_Parameters(in, NULL) : NULL;
        BIO_free(in);
        free(buf);
        if (dh == NULL || (EVP_PKEY_get_base_id(dh) != EVP_PKEY_DH &&
                           EVP_PKEY_get_base_id(dh) != EVP_PKEY_DHX)) {
                EVP_PKEY_free(dh);
                return tls_ctx_seterr(
                    errstr,
                    "smtpd_tls_dh1024_param_file: no DH parameters in %s (it "
                    "must hold a PEM \"-----BEGIN DH PARAMETERS-----\" block, "
                    "as openssl dhparam -out %s 2048 writes; or leave the "
                    "setting empty for OpenSSL's own choice)",
                    path, path);
        }
        if (!EVP_PKEY_up_ref(dh))
                BUG("EVP_PKEY_up_ref failed");
        if (!SSL_CTX_set0_tmp_dh_pkey(tc->ssl_ctx, dh)) {
                char what[1200];
                snprintf(what, sizeof(what),
                         "smtpd_tls_dh1024_param_file: cannot use the DH "
                         "parameters in %s",
                         path);
                EVP_PKEY_free(dh); /* the reference set0 did not take */
                EVP_PKEY_free(dh);
                return seterr_ssl(errstr, what);
        }
        tc->dh = dh;
        return 0;
}

/* share_dh - an SNI context uses its listener's DH parameters */
static void share_dh(struct tls_ctx *child, EVP_PKEY *dh)
{
        if (dh == NULL || !EVP_PKEY_up_ref(dh))
                return;
        if (!SSL_CTX_set0_tmp_dh_pkey(child->ssl_ctx, dh)) {
                EVP_PKEY_free(dh);
                ERR_clear_error();
                return;
        }
        SSL_CTX_set_dh_auto(child->ssl_ctx, 0);
}

/* ticket_cipher - tls_session_ticket_cipher: NULL for an empty value (no
 * tickets) or one that is not a CBC cipher with 128-bit blocks and a key
 * of 128 to 256 bits (logged once per value: tickets are then disabled,
 * as in Postfix) */
static EVP_CIPHER *ticket_cipher(const char *name)
{
        static char *warned; /* the value last warned about */
        EVP_CIPHER *c;
        int klen;

        if (name == NULL)
                name = "aes-256-cbc";
        if (*name == 0)
                return NULL;
        c = EVP_CIPHER_fetch(NULL, name, NULL);
        klen = c ? EVP_CIPHER_get_key_length(c) : 0;
        if (c == NULL || EVP_CIPHER_get_mode(c) != EVP_CIPH_CBC_MODE ||
            EVP_CIPHER_get_block_size(c) != 16 ||
            EVP_CIPHER_get_iv_length(c) != 16 || klen < 16 ||
            klen > (int)sizeof(((struct tls_ticket_key *)0)->aes)) {
                EVP_CIPHER_free(c);
                ERR_clear_error();
                if (warned == NULL || strcmp(warned, name) != 0) {
                        log_warnx("tls_session_ticket_cipher: invalid value: "
                                  "%s; session tickets disabled",
                                  name);
                        free(warned);
                        warned = xstrdup(name);
                }
                return NULL;
        }
        return c;
}

/* load_trust - CAfile and CApath, and with append_default OpenSSL's
 * default store (its files, or SSL_CERT_FILE / SSL_CERT_DIR) as well */
static int load_trust(SSL_CTX *ctx, const char *CAfile, const char *CApath,
                      bool append_default, const char **errstr)
{
        if (append_default && !SSL_CTX_set_default_verify_paths(ctx))
                return seterr_ssl(errstr, "tls_append_default_CA: cannot "
                                          "load OpenSSL's default CA store");
        if (!empty(CAfile)) {
                if (access(CAfile, R_OK) < 0)
                        return tls_ctx_seterr(errstr,
                                              "cannot open CAfile %s: %s",
                                              CAfile, strerror(errno));
                if (!SSL_CTX_load_verify_file(ctx, CAfile)) {
                        char what[1024];
                        snprintf(what, sizeof(what),
                                 "cannot load CA certificates from %s (it "
                                 "must hold PEM certificates; a DER file "
                                 "converts with openssl x509 -inform der -in "
                                 "%s -out %s.pem)",
                                 CAfile, CAfile, CAfile);
                        return seterr_ssl(errstr, what);
                }
        }
        if (!empty(CApath)) {
                struct stat st;
                if (stat(CApath, &st) < 0 || !S_ISDIR(st.st_mode))
                        return tls_ctx_seterr(
                            errstr, "CApath %s is not a directory", CApath);
                if (!SSL_CTX_load_verify_dir(ctx, CApath))
                        return seterr_ssl(errstr, CApath);
        }
        return 0;
}

/* ta_load - one trust-anchor store from PEM files: their certificates
 * are the only trust anchors, intermediates and end-entity certificates
 * included (X509_V_FLAG_PARTIAL_CHAIN); NULL with *errstr */
static X509_STORE *ta_load(const char *files, const char **errstr)
{
        X509_STORE *store = X509_STORE_new();
        char *copy = xstrdup(files), *save = NULL;
        int certs = 0;

        for (char *f = strtok_r(copy, " \t,", &save); f && store;
             f = strtok_r(NULL, " \t,", &save)) {
                if (access(f, R_OK) < 0) {
                        tls_ctx_seterr(errstr,
                                       "cannot open trust anchor "
                                       "file %s: %s",
                                       f, strerror(errno));
                        X509_STORE_free(store);
                        store = NULL;
                } else if (X509_STORE_load_file(store, f) != 1) {
                        char what[1200];
                        snprintf(what, sizeof(what),
                                 "cannot load trust anchor file %s (PEM "
                                 "certificates; bare public keys are not "
                                 "supported)",
                                 f);
                        seterr_ssl(errstr, what);
                        X509_STORE_free(store);
                        store = NULL;
                }
        }
        if (store) {
                STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(store);
                for (int i = 0; i < sk_X509_OBJECT_num(objs); i++)
                        if (X509_OBJECT_get_type(
                                sk_X509_OBJECT_value(objs, i)) == X509_LU_X509)
                                certs++;
                if (certs == 0) {
                        tls_ctx_seterr(errstr,
                                       "no certificate in trust anchor "
                                       "file(s) %s (bare public keys are not "
                                       "supported: use the certificate)",
                                       files);
                        X509_STORE_free(store);
                        store = NULL;
                } else {
                        X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
                }
        }
        free(copy);
        ERR_clear_error();
        return store;
}

/* tls_ctx_ta_store - a tafile's store, loaded once */
int tls_ctx_ta_store(struct tls_ctx *tc, const char *files, X509_STORE **out,
                     const char **errstr)
{
        X509_STORE *store;

        for (size_t i = 0; i < tc->nta; i++)
                if (strcmp(tc->ta[i].files, files) == 0) {
                        *out = tc->ta[i].store;
                        return 0;
                }
        if ((store = ta_load(files, errstr)) == NULL)
                return -1;
        tc->ta = xreallocarray(tc->ta, tc->nta + 1, sizeof(*tc->ta));
        tc->ta[tc->nta++] =
            (struct tls_ta_store){.files = xstrdup(files), .store = store};
        *out = store;
        return 0;
}

/* verify_accept - record, never abort: trust is decided after the
 * handshake, so "may" and "encrypt" sessions still complete. */
static int verify_accept(int ok, X509_STORE_CTX *store)
{
        SSL *ssl = X509_STORE_CTX_get_ex_data(
            store, SSL_get_ex_data_X509_STORE_CTX_idx());
        struct tls_conn *c = ssl ? SSL_get_app_data(ssl) : NULL;

        /* One counter-example is enough: remember the first. */
        if (!ok && c != NULL && c->verify_err == 0) {
                X509 *cert = X509_STORE_CTX_get_current_cert(store);
                c->verify_err = X509_STORE_CTX_get_error(store);
                c->verify_depth = X509_STORE_CTX_get_error_depth(store);
                if (cert)
                        X509_NAME_oneline(X509_get_issuer_name(cert),
                                          c->verify_issuer,
                                          sizeof(c->verify_issuer));
                else
                        snprintf(c->verify_issuer, sizeof(c->verify_issuer),
                                 "<unknown>");
        }
        return 1;
}

/* ---- session tickets ---- */

/* tls_ticket_keys_new - one random key */
struct tls_ticket_keys *tls_ticket_keys_new(void)
{
        struct tls_ticket_keys *k = xcalloc(1, sizeof(*k));

        k->refs = 1;
        tls_ticket_keys_rotate(k);
        return k;
}

/* tls_ticket_keys_rotate - new encrypting key, previous kept to decrypt */
void tls_ticket_keys_rotate(struct tls_ticket_keys *k)
{
        struct tls_ticket_key nk;

        if (RAND_bytes(nk.name, sizeof(nk.name)) != 1 ||
            RAND_priv_bytes(nk.hmac, sizeof(nk.hmac)) != 1 ||
            RAND_priv_bytes(nk.aes, sizeof(nk.aes)) != 1)
                BUG("tls_ticket_keys_rotate: no random bytes");
        memmove(&k->v[1], &k->v[0],
                sizeof(k->v[0]) * (TLS_TICKET_KEYS_MAX - 1));
        k->v[0] = nk;
        if (k->n < TLS_TICKET_KEYS_MAX)
                k->n++;
        OPENSSL_cleanse(&nk, sizeof(nk));
}

/* derive_key - the key of one interval: HMAC-SHA256(secret, label|epoch)
 * for each of its parts */
static void derive_key(const struct tls_ticket_keys *k, long long epoch,
                       struct tls_ticket_key *out)
{
        static const char *const labels[] = {"name", "hmac", "aes"};
        unsigned char *parts[] = {out->name, out->hmac, out->aes};
        size_t sizes[] = {sizeof(out->name), sizeof(out->hmac),
                          sizeof(out->aes)};

        for (size_t i = 0; i < 3; i++) {
                unsigned char msg[16], mac[32];
                size_t maclen = 0;
                int n = snprintf((char *)msg, sizeof(msg), "%s%lld", labels[i],
                                 epoch);
                if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, k->secret,
                              sizeof(k->secret), msg, (size_t)n, mac,
                              sizeof(mac), &maclen) == NULL ||
                    maclen < sizes[i])
                        BUG("ticket key derivation failed");
                memcpy(parts[i], mac, sizes[i]);
                OPENSSL_cleanse(mac, sizeof(mac));
        }
}

/* tls_ticket_keys_new_rotating - keys that change every interval seconds,
 * the same in every process that inherits them: new tickets use the
 * current interval's key, tickets of the previous interval still decrypt
 * (and are renewed) */
struct tls_ticket_keys *tls_ticket_keys_new_rotating(long interval)
{
        struct tls_ticket_keys *k = xcalloc(1, sizeof(*k));

        k->refs = 1;
        k->rotating = true;
        k->interval = interval > 0 ? interval : 3600;
        k->epoch = -1;
        if (RAND_priv_bytes(k->secret, sizeof(k->secret)) != 1)
                BUG("tls_ticket_keys_new_rotating: no random bytes");
        return k;
}

/* keys_refresh - move rotating keys to the current interval */
static void keys_refresh(struct tls_ticket_keys *k)
{
        long long epoch;

        if (!k->rotating)
                return;
        epoch = (long long)time(NULL) / k->interval;
        if (epoch == k->epoch)
                return;
        derive_key(k, epoch, &k->v[0]);
        derive_key(k, epoch - 1, &k->v[1]);
        k->n = 2;
        k->epoch = epoch;
}

#define TICKET_MAGIC "postern-ticket-keys-1\n"

/* tls_ticket_keys_save - write atomically with mode 0600 */
int tls_ticket_keys_save(const struct tls_ticket_keys *k, const char *path,
                         const char **errstr)
{
        char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        struct strbuf sb;
        bool ok;

        if (fd < 0) {
                tls_ctx_seterr(errstr, "cannot create %s: %s", tmp,
                               strerror(errno));
                free(tmp);
                return -1;
        }
        strbuf_init(&sb);
        strbuf_adds(&sb, TICKET_MAGIC);
        strbuf_add(&sb, k->v, k->n * sizeof(k->v[0]));
        ok = write(fd, sb.s, sb.len) == (ssize_t)sb.len && fsync(fd) == 0;
        OPENSSL_cleanse(sb.s, sb.len);
        strbuf_clear(&sb);
        if (close(fd) < 0)
                ok = false;
        if (!ok || rename(tmp, path) < 0) {
                tls_ctx_seterr(errstr, "cannot write %s: %s", path,
                               strerror(errno));
                unlink(tmp);
                free(tmp);
                return -1;
        }
        free(tmp);
        return 0;
}

/* tls_ticket_keys_load - read a file written by tls_ticket_keys_save */
struct tls_ticket_keys *tls_ticket_keys_load(const char *path,
                                             const char **errstr)
{
        unsigned char *buf;
        size_t len, mlen = strlen(TICKET_MAGIC), rec;
        struct tls_ticket_keys *k;

        if (read_file("session ticket key file", path, &buf, &len, errstr) < 0)
                return NULL;
        if (check_key_mode(path, errstr) < 0) {
                free(buf);
                return NULL;
        }
        rec = sizeof(struct tls_ticket_key);
        if (len < mlen + rec || memcmp(buf, TICKET_MAGIC, mlen) != 0 ||
            (len - mlen) % rec != 0 ||
            (len - mlen) / rec > TLS_TICKET_KEYS_MAX) {
                OPENSSL_cleanse(buf, len);
                free(buf);
                tls_ctx_seterr(errstr,
                               "%s is not a postern session ticket key file",
                               path);
                return NULL;
        }
        k = xcalloc(1, sizeof(*k));
        k->refs = 1;
        k->n = (len - mlen) / rec;
        memcpy(k->v, buf + mlen, k->n * rec);
        OPENSSL_cleanse(buf, len);
        free(buf);
        return k;
}

/* tls_ticket_keys_free - drop one reference */
void tls_ticket_keys_free(struct tls_ticket_keys *k)
{
        if (k == NULL || --k->refs > 0)
                return;
        OPENSSL_cleanse(k, sizeof(*k));
        free(k);
}

/* ticket_cb - encrypt new tickets with v[0], decrypt with any key */
static int ticket_cb(SSL *ssl, unsigned char key_name[16], unsigned char *iv,
                     EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
        struct tls_ctx *tc = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
        struct tls_ticket_keys *k = tc ? tc->keys : NULL;
        const struct tls_ticket_key *key = NULL;
        OSSL_PARAM params[3];
        int ret = 1;

        if (k != NULL)
                keys_refresh(k);
        if (k == NULL || k->n == 0 || tc->ticket_aes == NULL)
                return enc ? -1 : 0;
        if (enc) {
                key = &k->v[0];
                if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(tc->ticket_aes)) !=
                    1)
                        return -1;
                memcpy(key_name, key->name, 16);
                if (!EVP_EncryptInit_ex(cctx, tc->ticket_aes, NULL, key->aes,
                                        iv))
                        return -1;
        } else {
                for (size_t i = 0; i < k->n; i++)
                        if (memcmp(key_name, k->v[i].name, 16) == 0) {
                                key = &k->v[i];
                                ret = i == 0 ? 1 : 2; /* 2: renew the ticket */
                                break;
                        }
                if (key == NULL)
                        return 0; /* unknown key: full handshake */
                if (!EVP_DecryptInit_ex(cctx, tc->ticket_aes, NULL, key->aes,
                                        iv))
                        return -1;
        }
        params[0] = OSSL_PARAM_construct_octet_string(
            OSSL_MAC_PARAM_KEY, (void *)key->hmac, sizeof(key->hmac));
        params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                     (char *)"SHA256", 0);
        params[2] = OSSL_PARAM_construct_end();
        if (!EVP_MAC_CTX_set_params(hctx, params))
                return -1;
        return ret;
}

/* ---- contexts ---- */

/* ctx_alloc - common set-up of both roles */
static struct tls_ctx *ctx_alloc(bool server, const char *mdalg, int loglevel,
                                 const char **errstr)
{
        struct tls_ctx *tc;
        SSL_CTX *ctx;

        if (empty(mdalg))
                mdalg = "sha256";
        if (EVP_get_digestbyname(mdalg) == NULL) {
                tls_ctx_seterr(errstr,
                               "unknown fingerprint digest \"%s\" (use sha256, "
                               "sha1 or md5)",
                               mdalg);
                return NULL;
        }
        ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
        if (ctx == NULL) {
                seterr_ssl(errstr, "cannot create a TLS context");
                return NULL;
        }
        tc = xcalloc(1, sizeof(*tc));
        tc->refs = 1;
        tc->server = server;
        tc->ssl_ctx = ctx;
        tc->mdalg = xstrdup(mdalg);
        tc->loglevel = loglevel;
        SSL_CTX_set_app_data(ctx, tc);
        SSL_CTX_set_options(ctx, SSL_OP_ALL | SSL_OP_NO_RENEGOTIATION |
                                     SSL_OP_NO_COMPRESSION |
                                     SSL_OP_IGNORE_UNEXPECTED_EOF);
        /* a server keeps its record buffers between records (allocating
         * and freeing ~17 KB twice per reply cost 2 % of a message's CPU)
         * and gives them back when a session goes idle
         * (tls_conn_release_buffers); a client releases them at once */
        SSL_CTX_set_mode(ctx, (server ? 0 : SSL_MODE_RELEASE_BUFFERS) |
                                  SSL_MODE_ENABLE_PARTIAL_WRITE |
                                  SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        /* one read(2) per burst of records rather than two per record
         * (header, then body); callers read until TLS_IO_WANT_READ, so
         * nothing buffered is left waiting for the socket */
        SSL_CTX_set_read_ahead(ctx, 1);
        SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
        return tc;
}

/* tls_ctx_ref - one more reference */
struct tls_ctx *tls_ctx_ref(struct tls_ctx *tc)
{
        tc->refs++;
        return tc;
}

/* tls_ctx_free - drop one reference */
void tls_ctx_free(struct tls_ctx *tc)
{
        if (tc == NULL || --tc->refs > 0)
                return;
        for (size_t i = 0; i < tc->nsni_ctx; i++) {
                free(tc->sni_ctx[i].files);
                tls_ctx_free(tc->sni_ctx[i].tc);
        }
        free(tc->sni_ctx);
        free(tc->sni);
        for (size_t i = 0; i < tc->nta; i++) {
                free(tc->ta[i].files);
                X509_STORE_free(tc->ta[i].store);
        }
        free(tc->ta);
        SSL_CTX_free(tc->ssl_ctx);
        tls_ticket_keys_free(tc->keys);
        EVP_CIPHER_free(tc->ticket_aes);
        free(tc->mdalg);
        free(tc->grade);
        free(tc->exclude);
        grades_free(&tc->lists);
        EVP_PKEY_free(tc->dh);
        free(tc);
}

/* tls_ctx_set_ticket_keys - swap in a new key set */
int tls_ctx_set_ticket_keys(struct tls_ctx *tc, struct tls_ticket_keys *k)
{
        if (!tc->server || tc->keys == NULL || k == NULL)
                return -1;
        k->refs++;
        tls_ticket_keys_free(tc->keys);
        tc->keys = k;
        return 0;
}

/* load_identity - every configured key and certificate */
static int load_identity(SSL_CTX *ctx, const char *cert, const char *key,
                         const char *eccert, const char *eckey,
                         const char *chain_files, bool required,
                         const char **errstr)
{
        struct groups gs = {0};
        int rc = -1;

        if (!empty(chain_files)) {
                if (load_chain_files(chain_files, &gs, errstr) < 0)
                        goto out;
        } else {
                if (!empty(cert) && load_pair(cert, key, &gs, errstr) < 0)
                        goto out;
                if (!empty(eccert) && load_pair(eccert, eckey, &gs, errstr) < 0)
                        goto out;
                if (empty(cert) && !empty(key)) {
                        tls_ctx_seterr(errstr,
                                       "a key file (%s) is set but no "
                                       "certificate file",
                                       key);
                        goto out;
                }
        }
        if (required && gs.n == 0) {
                tls_ctx_seterr(errstr,
                               "no server certificate: set cert_file and "
                               "key_file (smtpd_tls_cert_file, "
                               "smtpd_tls_key_file) or chain_files");
                goto out;
        }
        rc = use_groups(ctx, &gs, errstr);
out:
        groups_clear(&gs);
        return rc;
}

/* sni_build - the context of one tls_server_sni_maps result: the
 * listener's settings with these key and chain files; remembered, also
 * when the files do not load (NULL, *err says why) */
static struct tls_ctx *sni_build(struct tls_ctx *tc, const char *files,
                                 const char **err)
{
        struct tls_server_settings ss = *tc->sni;
        struct tls_ctx *child;

        ss.cert_file = ss.key_file = ss.eccert_file = ss.eckey_file = "";
        ss.chain_files = files;
        ss.sni_lookup = NULL;
        ss.dh_param_file = NULL; /* the listener's, read at start */
        child = tls_server_ctx_new(&ss, err);
        if (child)
                share_dh(child, tc->dh);
        tc->sni_ctx =
            xreallocarray(tc->sni_ctx, tc->nsni_ctx + 1, sizeof(*tc->sni_ctx));
        tc->sni_ctx[tc->nsni_ctx++] =
            (struct tls_sni_ctx){.files = xstrdup(files), .tc = child};
        return child;
}

/* sni_find - the entry built for these files, or NULL */
static const struct tls_sni_ctx *sni_find(const struct tls_ctx *tc,
                                          const char *files)
{
        for (size_t i = 0; i < tc->nsni_ctx; i++)
                if (strcmp(tc->sni_ctx[i].files, files) == 0)
                        return &tc->sni_ctx[i];
        return NULL;
}

/* tls_server_ctx_sni_preload - one result's context, built now */
int tls_server_ctx_sni_preload(struct tls_ctx *tc, const char *files,
                               const char **errstr)
{
        const struct tls_sni_ctx *e;

        if (tc->sni == NULL)
                return tls_ctx_seterr(errstr, "no tls_server_sni_maps");
        if ((e = sni_find(tc, files)) != NULL)
                return e->tc
                           ? 0
                           : tls_ctx_seterr(errstr, "%s: did not load", files);
        return sni_build(tc, files, errstr) ? 0 : -1;
}

/* sni_ctx_for - the context of a result at run time: built at start, or
 * now (a table changed since; the files may be unreadable after the
 * privileges were dropped: logged once, then the default certificate) */
static struct tls_ctx *sni_ctx_for(struct tls_ctx *tc, const char *files)
{
        const struct tls_sni_ctx *e = sni_find(tc, files);
        const char *err = NULL;
        struct tls_ctx *child;

        if (e)
                return e->tc;
        child = sni_build(tc, files, &err);
        if (child == NULL)
                log_warnx("tls_server_sni_maps: %s: %s", files,
                          err ? err : "cannot load");
        return child;
}

/* sni_cb - a client named a server by SNI: the certificate for that name
 * from tls_server_sni_maps (the name, then ".parent" domains), or the
 * default one */
static int sni_cb(SSL *ssl, int *alert, void *arg)
{
        struct tls_ctx *tc = arg;
        const char *sent = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
        char name[256], *files = NULL;
        size_t n;
        int found = 0;

        (void)alert;
        if (sent == NULL || (n = strlen(sent)) == 0 || n >= sizeof(name))
                return SSL_TLSEXT_ERR_OK;
        for (size_t i = 0; i <= n; i++) {
                unsigned char ch = (unsigned char)sent[i];
                if (ch && !isalnum(ch) && ch != '-' && ch != '.' && ch != '_')
                        return SSL_TLSEXT_ERR_OK; /* not a host name */
                name[i] = (char)tolower(ch);
        }
        for (const char *k = name; k && *k && found == 0;) {
                char key[258];
                snprintf(key, sizeof(key), "%s%s", k == name ? "" : ".", k);
                found = tc->sni->sni_lookup(tc->sni->sni_arg, key, &files);
                k = strchr(k, '.');
                if (k)
                        k++;
        }
        if (found == 1 && files && *files) {
                struct tls_ctx *child = sni_ctx_for(tc, files);
                if (child)
                        SSL_set_SSL_CTX(ssl, child->ssl_ctx);
        }
        free(files);
        return SSL_TLSEXT_ERR_OK;
}

/* tls_server_ctx_new - server context from settings */
struct tls_ctx *tls_server_ctx_new(const struct tls_server_settings *s,
                                   const char **errstr)
{
        struct tls_ctx *tc;
        SSL_CTX *ctx;
        long timeout =
            s->session_cache_timeout < 0 ? 3600 : s->session_cache_timeout;
        static const unsigned char sid_ctx[] = "postern-smtpd";

        tc = ctx_alloc(true, s->fingerprint_digest, s->loglevel, errstr);
        if (tc == NULL)
                return NULL;
        ctx = tc->ssl_ctx;
        if (load_identity(ctx, s->cert_file, s->key_file, s->eccert_file,
                          s->eckey_file, s->chain_files, true, errstr) < 0)
                goto bad;
        if (load_trust(ctx, s->CAfile, s->CApath, s->append_default_ca,
                       errstr) < 0)
                goto bad;
        tc->have_ca =
            !empty(s->CAfile) || !empty(s->CApath) || s->append_default_ca;
        if (tls_apply_protocols(
                ctx, NULL, s->mandatory ? s->mandatory_protocols : s->protocols,
                errstr) < 0)
                goto bad;
        if (tls_apply_ciphers(ctx, NULL, &s->cipherlists,
                              s->mandatory ? s->mandatory_ciphers : s->ciphers,
                              s->mandatory ? s->mandatory_exclude_ciphers
                                           : s->exclude_ciphers,
                              errstr) < 0)
                goto bad;
        SSL_CTX_set_options(ctx, ssl_options_bits(s->ssl_options));
        if (s->preempt_ciphers)
                SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
        if (apply_groups(ctx, s->groups, errstr) < 0)
                goto bad;
        if (load_dh(tc, s->dh_param_file, errstr) < 0)
                goto bad;

        /* Client certificates: ask (and maybe require), decide later. */
        tc->ask_ccert = s->ask_ccert || s->req_ccert;
        tc->req_ccert = s->req_ccert;
        if (tc->ask_ccert) {
                int mode = SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE;
                if (s->req_ccert)
                        mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
                SSL_CTX_set_verify(ctx, mode, verify_accept);
                SSL_CTX_set_verify_depth(
                    ctx, s->ccert_verifydepth > 0 ? s->ccert_verifydepth : 9);
                if (!empty(s->CAfile)) {
                        STACK_OF(X509_NAME) *names =
                            SSL_load_client_CA_file(s->CAfile);
                        if (names)
                                SSL_CTX_set_client_CA_list(ctx, names);
                        ERR_clear_error();
                }
        }

        /* Resumption by ticket only: no per-process server cache, so any
         * worker holding the same keys resumes any client. */
        SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
        SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
        /* an explicit fetch: EVP_aes_256_cbc() would make OpenSSL 3 look
         * the cipher up in its provider store per ticket */
        if (timeout != 0 && !(SSL_CTX_get_options(ctx) & SSL_OP_NO_TICKET))
                tc->ticket_aes = ticket_cipher(s->ticket_cipher);
        if (tc->ticket_aes == NULL) {
                /* no tickets: no resumption at all (there is no cache) */
                SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
                SSL_CTX_set_num_tickets(ctx, 0);
        } else {
                SSL_CTX_set_timeout(ctx, timeout);
                SSL_CTX_set_num_tickets(ctx, 1);
                if (s->ticket_keys) {
                        tc->keys = s->ticket_keys;
                        tc->keys->refs++;
                } else {
                        tc->keys = tls_ticket_keys_new();
                }
                SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
        }
        if (s->sni_lookup) {
                tc->sni = xmalloc(sizeof(*tc->sni));
                *tc->sni = *s;
                SSL_CTX_set_tlsext_servername_callback(ctx, sni_cb);
                SSL_CTX_set_tlsext_servername_arg(ctx, tc);
        }
        return tc;
bad:
        tls_ctx_free(tc);
        return NULL;
}

/* tls_client_ctx_new - client context from settings */
struct tls_ctx *tls_client_ctx_new(const struct tls_client_settings *s,
                                   const char **errstr)
{
        struct tls_ctx *tc;
        SSL_CTX *ctx;
        long timeout =
            s->session_cache_timeout < 0 ? 3600 : s->session_cache_timeout;

        tc = ctx_alloc(false, s->fingerprint_digest, s->loglevel, errstr);
        if (tc == NULL)
                return NULL;
        ctx = tc->ssl_ctx;
        if (load_identity(ctx, s->cert_file, s->key_file, s->eccert_file,
                          s->eckey_file, s->chain_files, false, errstr) < 0)
                goto bad;
        if (load_trust(ctx, s->CAfile, s->CApath, s->append_default_ca,
                       errstr) < 0)
                goto bad;
        tc->have_ca =
            !empty(s->CAfile) || !empty(s->CApath) || s->append_default_ca;
        if (tls_apply_protocols(ctx, NULL, s->protocols, errstr) < 0)
                goto bad;
        if (tls_apply_ciphers(ctx, NULL, &s->cipherlists, s->ciphers,
                              s->exclude_ciphers, errstr) < 0)
                goto bad;
        SSL_CTX_set_options(ctx, ssl_options_bits(s->ssl_options));
        if (apply_groups(ctx, s->groups, errstr) < 0)
                goto bad;
        if (tls_dane_ctx_init(tc, s->dane_digests, errstr) < 0)
                goto bad;
        tc->grade = xstrdup(empty(s->ciphers) ? "medium" : s->ciphers);
        tc->exclude = xstrdup(s->exclude_ciphers ? s->exclude_ciphers : "");
        grades_copy(&tc->lists, &s->cipherlists);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_accept);
        SSL_CTX_set_verify_depth(ctx, s->verifydepth > 0 ? s->verifydepth : 9);
        if (timeout == 0) {
                SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
                SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
        } else {
                SSL_CTX_set_timeout(ctx, timeout);
                SSL_CTX_set_session_cache_mode(
                    ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
                SSL_CTX_sess_set_new_cb(ctx, tls_conn_new_session);
        }
        return tc;
bad:
        tls_ctx_free(tc);
        return NULL;
}

/* SPDX-License-Identifier: MIT */
/*
 * tls_int - internals shared by the files of src/tls/ (OpenSSL types
 * allowed here; never include this outside src/tls/).
 */
#ifndef POSTERN_TLS_INT_H
#define POSTERN_TLS_INT_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "tls/tls.h"

/* ---- certificate files and toolbox (tls_cert*.c, tls_ca.c) ---- */

struct tls_cert {
        X509 *x509;
};

struct tls_certlist {
        struct tls_cert **v;
        size_t n;
        size_t cap;
        struct tls_key *key; /* the first private key in the file, or NULL */
        enum tls_file_format format;
        bool encrypted;
};

struct tls_key {
        EVP_PKEY *pkey;
};

/* tls_cert_seterr - format an error into the per-thread buffer, append the
 * most specific OpenSSL reason (if any) and clear OpenSSL's error queue;
 * sets *errstr (when errstr is not NULL) and returns -1. */
int tls_cert_seterr(const char **errstr, const char *fmt, ...) PRINTFLIKE(2, 3);
/* tls_cert_wrap - a struct tls_cert owning x509 (reference taken over). */
struct tls_cert *tls_cert_wrap(X509 *);
/* tls_cert_free_one - free a wrapped certificate. */
void tls_cert_free_one(struct tls_cert *);
/* tls_certlist_new - an empty list of the given format. */
struct tls_certlist *tls_certlist_new(enum tls_file_format);
/* tls_certlist_push - append x509 (reference taken over). */
void tls_certlist_push(struct tls_certlist *, X509 *);
/* tls_key_wrap - a struct tls_key owning pkey. */
struct tls_key *tls_key_wrap(EVP_PKEY *);
/* tls_pem_of_bio - the contents of a memory BIO as a heap C string. */
char *tls_pem_of_bio(BIO *);

/* ---- end certificate files and toolbox ---- */

/* ---- contexts, sessions and handshakes (tls_ctx.c, tls_conn.c) ---- */

#include <openssl/ssl.h>

#define TLS_TICKET_KEYS_MAX 2

/* One session ticket key: a 16-byte name, an HMAC-SHA256 key and an
 * AES-256-CBC key (Postfix's tls_session_ticket_cipher default). */
struct tls_ticket_key {
        unsigned char name[16];
        unsigned char hmac[32];
        unsigned char aes[32];
};

struct tls_ticket_keys {
        int refs;
        size_t n; /* v[0] encrypts, all decrypt */
        struct tls_ticket_key v[TLS_TICKET_KEYS_MAX];
        /* rotating keys: derived from secret for each interval, so every
         * process that shares the secret agrees without talking */
        bool rotating;
        long interval;
        long long epoch;
        unsigned char secret[32];
};

struct tls_ctx {
        int refs;
        bool server;
        SSL_CTX *ssl_ctx;
        char *mdalg;    /* fingerprint digest name */
        bool ask_ccert; /* server: a client certificate was requested */
        bool req_ccert; /* server: a client certificate is required */
        bool have_ca;   /* CAfile or CApath given */
        int loglevel;
        struct tls_ticket_keys *keys; /* server, may be NULL */
        EVP_CIPHER *ticket_aes;       /* tls_session_ticket_cipher (default
                                         AES-256-CBC) fetched once, with keys */
        /* client DANE: matching type -> order in tls_dane_digests, higher
         * is stronger; 0 full data, -1 not used */
        short dane_mord[256];
        char *grade;   /* client: default cipher grade */
        char *exclude; /* client: default exclusions */
        /* client: tls_*_cipherlist (owned copies), for policy ciphers= */
        struct tls_cipher_grades lists;
        EVP_PKEY *dh; /* server: smtpd_tls_dh1024_param_file, or NULL (SNI
                         contexts share it: the file may be unreadable
                         once the privileges are dropped) */
        /* server: tls_server_sni_maps (the settings to build a context
         * for other key and chain files, and those built so far) */
        struct tls_server_settings *sni;
        struct tls_sni_ctx *sni_ctx;
        size_t nsni_ctx;
        /* client: trust anchor stores by tafile text (tls_start.tafile) */
        struct tls_ta_store *ta;
        size_t nta;
};

/* The trust anchors of one tls_start.tafile text. */
struct tls_ta_store {
        char *files;
        X509_STORE *store;
};

/* One context of tls_server_sni_maps: for these files. */
struct tls_sni_ctx {
        char *files;
        struct tls_ctx *tc; /* NULL: the files did not load (logged once) */
};

struct tls_conn {
        struct tls_ctx *ctx;
        SSL *ssl;
        char *namaddr;
        int loglevel;
        bool have_match;
        struct tls_match match; /* owned copies of the strings */
        bool handshake_done;
        struct tls_info info;
        struct strlist strs;     /* owned strings behind info */
        SSL_SESSION *session;    /* client: latest resumable session */
        int verify_err;          /* the first verification error seen */
        int verify_depth;        /* its depth in the chain */
        char verify_issuer[256]; /* issuer of the certificate at fault */
        char err[512];
        bool name_mismatch; /* chain trusted, no name of the match list */
        bool dane;          /* DANE records were given (client) */
        bool have_ta;       /* trust anchors replace the CAs (client) */
        int dane_usable;    /* of which OpenSSL accepted */
        const char *dane_resume_match; /* the DANE-EE record the offered
                                          session's certificate matches
                                          (tls_dane_resumable), or NULL */
        /* tls_start.coalesce: the session's own socket BIO */
        int fd;
        bool coalesce;
        bool rd_empty;  /* the socket had no more input at the last read */
        char *out;      /* records not yet sent */
        size_t out_len; /* bytes in out */
        size_t out_cap;
};

/* tls_conn_new_session - SSL_CTX_sess_set_new_cb for client contexts. */
int tls_conn_new_session(SSL *, SSL_SESSION *);
/* tls_log_handshake - the log lines of a completed handshake. */
void tls_log_handshake(const struct tls_conn *);

/* tls_ctx_ref - one more reference (a session holds its context). */
struct tls_ctx *tls_ctx_ref(struct tls_ctx *);
/* tls_ctx_seterr - format a message into tls_ctx's static error buffer,
 * set *errstr, clear OpenSSL's error queue; returns -1. */
int tls_ctx_seterr(const char **errstr, const char *fmt, ...) PRINTFLIKE(2, 3);
/* tls_apply_protocols - set the version range of an SSL_CTX or SSL (one of
 * them NULL) from a Postfix protocol list. */
int tls_apply_protocols(SSL_CTX *, SSL *, const char *list,
                        const char **errstr);
/* tls_apply_ciphers - set the cipher list from a grade (its string from
 * lists, NULL = Postfix's defaults) and exclusions; a grade string with no
 * usable cipher names its parameter. */
int tls_apply_ciphers(SSL_CTX *, SSL *, const struct tls_cipher_grades *lists,
                      const char *grade, const char *exclude,
                      const char **errstr);
/* tls_dane_ctx_init - DANE on a client context with the digest order of
 * tls_dane_digests (tls_dane.c). */
int tls_dane_ctx_init(struct tls_ctx *, const char *digests,
                      const char **errstr);
/* tls_dane_conn_init - the TLSA records and names of one session. */
int tls_dane_conn_init(struct tls_conn *, const struct tls_start *,
                       const char **errstr);
/* tls_dane_resumable - whether a cached session may be offered to a DANE
 * server: its certificate matches a current DANE-EE record (OpenSSL does
 * not verify a resumed session again). */
bool tls_dane_resumable(struct tls_conn *, SSL_SESSION *,
                        const struct tls_start *);
/* tls_dane_collect - after the handshake: match, depth; sets trusted and
 * verified when a usable record matched. */
void tls_dane_collect(struct tls_conn *, struct tls_info *);
/* tls_conn_keep_own - keep a heap string for the session's life. */
const char *tls_conn_keep_own(struct tls_conn *, char *);
/* tls_digest_hex - "AB:CD:..." of a byte string with a named digest into
 * a heap string, or NULL for an unknown digest. */
char *tls_digest_hex(const char *mdalg, const unsigned char *, size_t);

/* ---- end contexts, sessions and handshakes ---- */

/* tls_ctx_ta_store - the trust-anchor store of a tafile text (loaded
 * once per context, then shared; the caller takes no reference): 0, or -1
 * with *errstr naming the file. */
int tls_ctx_ta_store(struct tls_ctx *, const char *files, X509_STORE **out,
                     const char **errstr);

#endif

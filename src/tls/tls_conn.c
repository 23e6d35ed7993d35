/* SPDX-License-Identifier: MIT */
/*
 * tls_conn.c - one TLS session over a non-blocking socket the caller's
 * event loop owns: start, handshake steps, read, write, shutdown, and what
 * the handshake established (protocol, cipher, peer certificate, trust).
 */
#include "tls/tls_int.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* keep - an owned copy of s ("" for NULL) that lives as long as c */
static const char *keep(struct tls_conn *c, const char *s)
{
        strlist_push(&c->strs, s ? s : "");
        return c->strs.v[c->strs.n - 1];
}

/* keep_own - like keep, taking a heap string (may be NULL) */
static const char *keep_own(struct tls_conn *c, char *s)
{
        const char *r = keep(c, s);
        free(s);
        return r;
}

/* conn_seterr - the session's error text, with OpenSSL's reason */
static enum tls_io conn_seterr(struct tls_conn *c, const char *what)
{
        unsigned long e = ERR_peek_last_error();
        char reason[256];

        if (e) {
                ERR_error_string_n(e, reason, sizeof(reason));
                snprintf(c->err, sizeof(c->err), "%s: %s", what, reason);
        } else if (errno) {
                snprintf(c->err, sizeof(c->err), "%s: %s", what,
                         strerror(errno));
        } else {
                snprintf(c->err, sizeof(c->err), "%s: lost connection", what);
        }
        ERR_clear_error();
        return TLS_IO_ERROR;
}

/* tls_conn_new_session - remember the client's latest session */
int tls_conn_new_session(SSL *ssl, SSL_SESSION *sess)
{
        struct tls_conn *c = SSL_get_app_data(ssl);

        if (c == NULL)
                return 0;
        SSL_SESSION_free(c->session);
        c->session = sess; /* the reference OpenSSL handed us */
        return 1;
}

/* ---- the coalescing socket BIO (tls_start.coalesce) ---- */

#define OUT_MAX 16384 /* held bytes before a write must send first */

/* out_send - send what is held; 1 all sent, 0 the socket is full, -1
 * failed (errno set) */
static int out_send(struct tls_conn *c)
{
        size_t off = 0;
        int rc = 1;

        while (off < c->out_len) {
                ssize_t n =
                    send(c->fd, c->out + off, c->out_len - off, MSG_NOSIGNAL);
                if (n > 0) {
                        off += (size_t)n;
                        continue;
                }
                if (n < 0 && errno == EINTR)
                        continue;
                if (n == 0)
                        errno = EPIPE;
                rc =
                    n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
                break;
        }
        c->out_len -= off;
        if (c->out_len > 0)
                memmove(c->out, c->out + off, c->out_len);
        return rc;
}

/* bio_write - hold the bytes; past OUT_MAX, send first */
static int bio_write(BIO *b, const char *data, int len)
{
        struct tls_conn *c = BIO_get_data(b);

        BIO_clear_retry_flags(b);
        if (len <= 0)
                return 0;
        if (c->out_len >= OUT_MAX) {
                int rc = out_send(c);
                if (rc < 0)
                        return -1;
                if (c->out_len >= OUT_MAX) {
                        BIO_set_retry_write(b);
                        return -1;
                }
        }
        if (c->out_len + (size_t)len > c->out_cap) {
                size_t cap = c->out_cap ? c->out_cap : 4096;
                while (cap < c->out_len + (size_t)len)
                        cap *= 2;
                c->out = xrealloc(c->out, cap);
                c->out_cap = cap;
        }
        memcpy(c->out + c->out_len, data, (size_t)len);
        c->out_len += (size_t)len;
        return len;
}

/* bio_read - send what is held (the peer may be waiting for it), then
 * read; a socket found drained is not asked again until
 * tls_conn_readable */
static int bio_read(BIO *b, char *buf, int len)
{
        struct tls_conn *c = BIO_get_data(b);

        BIO_clear_retry_flags(b);
        if (len <= 0)
                return 0;
        if (c->out_len > 0) {
                int rc = out_send(c);
                if (rc < 0)
                        return -1;
                if (rc == 0) {
                        BIO_set_retry_write(b);
                        return -1;
                }
        }
        if (c->rd_empty) {
                BIO_set_retry_read(b);
                return -1;
        }
        for (;;) {
                ssize_t n = recv(c->fd, buf, (size_t)len, 0);
                if (n > 0) {
                        /* a short read emptied the receive queue: more
                         * input shows up as a readable event */
                        c->rd_empty = n < len;
                        return (int)n;
                }
                if (n == 0)
                        return 0;
                if (errno == EINTR)
                        continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                        c->rd_empty = true;
                        BIO_set_retry_read(b);
                }
                return -1;
        }
}

/* bio_ctrl - flushes wait for the next read: that is the coalescing */
static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
        struct tls_conn *c = BIO_get_data(b);

        (void)num;
        switch (cmd) {
        case BIO_CTRL_FLUSH:
                return 1;
        case BIO_CTRL_WPENDING:
                return (long)c->out_len;
        case BIO_C_GET_FD:
                if (ptr)
                        *(int *)ptr = c->fd;
                return c->fd;
        default:
                return 0;
        }
}

/* bio_create - nothing to set up: the data is the tls_conn */
static int bio_create(BIO *b)
{
        BIO_set_init(b, 1);
        return 1;
}

/* coalescing_bio - a BIO of the coalescing method for c */
static BIO *coalescing_bio(struct tls_conn *c)
{
        static BIO_METHOD *m;
        BIO *b;

        if (m == NULL) {
                m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
                                 "postern socket");
                if (m == NULL || !BIO_meth_set_write(m, bio_write) ||
                    !BIO_meth_set_read(m, bio_read) ||
                    !BIO_meth_set_ctrl(m, bio_ctrl) ||
                    !BIO_meth_set_create(m, bio_create)) {
                        BIO_meth_free(m);
                        m = NULL;
                        return NULL;
                }
        }
        b = BIO_new(m);
        if (b)
                BIO_set_data(b, c);
        return b;
}

/* tls_conn_flush - send what a coalescing session holds */
enum tls_io tls_conn_flush(struct tls_conn *c)
{
        if (!c->coalesce || c->out_len == 0)
                return TLS_IO_DONE;
        switch (out_send(c)) {
        case 1:
                return TLS_IO_DONE;
        case 0:
                return TLS_IO_WANT_WRITE;
        default:
                snprintf(c->err, sizeof(c->err), "TLS write error: %s",
                         strerror(errno));
                return TLS_IO_ERROR;
        }
}

/* tls_conn_release_buffers - an idle session's record buffers back */
void tls_conn_release_buffers(struct tls_conn *c)
{
        (void)SSL_free_buffers(c->ssl); /* 0 while they hold data */
        if (c->out_len == 0) {
                free(c->out);
                c->out = NULL;
                c->out_cap = 0;
        }
}

/* tls_conn_readable - input may be waiting again */
void tls_conn_readable(struct tls_conn *c)
{
        c->rd_empty = false;
}

/* tls_conn_start - a new session on fd */
int tls_conn_start(const struct tls_start *st, struct tls_conn **out,
                   const char **errstr)
{
        struct tls_conn *c;
        struct tls_ctx *tc = st->ctx;

        *out = NULL;
        if (tc == NULL)
                return tls_ctx_seterr(errstr, "tls_conn_start: no context");
        c = xcalloc(1, sizeof(*c));
        c->ctx = tls_ctx_ref(tc);
        c->namaddr = xstrdup(st->namaddr ? st->namaddr : "unknown");
        c->loglevel = st->loglevel > 0 ? st->loglevel : tc->loglevel;
        c->ssl = SSL_new(tc->ssl_ctx);
        if (c->ssl == NULL) {
                tls_conn_free(c);
                return tls_ctx_seterr(errstr, "cannot create a TLS session");
        }
        SSL_set_app_data(c->ssl, c);
        c->fd = st->fd;
        c->coalesce = st->coalesce;
        if (c->coalesce) {
                BIO *b = coalescing_bio(c);
                if (b == NULL) {
                        tls_conn_free(c);
                        return tls_ctx_seterr(errstr,
                                              "cannot create a socket BIO");
                }
                SSL_set_bio(c->ssl, b, b); /* one reference, now the SSL's */
        } else if (!SSL_set_fd(c->ssl, st->fd)) {
                tls_conn_free(c);
                return tls_ctx_seterr(errstr, "cannot attach fd %d", st->fd);
        }
        if (tc->server) {
                SSL_set_accept_state(c->ssl);
        } else {
                SSL_set_connect_state(c->ssl);
                if (st->sni && *st->sni &&
                    !SSL_set_tlsext_host_name(c->ssl, st->sni)) {
                        tls_conn_free(c);
                        return tls_ctx_seterr(errstr, "invalid SNI name \"%s\"",
                                              st->sni);
                }
                if (st->protocols &&
                    tls_apply_protocols(NULL, c->ssl, st->protocols, errstr) <
                        0) {
                        tls_conn_free(c);
                        return -1;
                }
                if ((st->ciphers || st->exclude) &&
                    tls_apply_ciphers(NULL, c->ssl, &tc->lists,
                                      st->ciphers ? st->ciphers : tc->grade,
                                      st->exclude ? st->exclude : tc->exclude,
                                      errstr) < 0) {
                        tls_conn_free(c);
                        return -1;
                }
                if (st->tafile && *st->tafile) {
                        X509_STORE *ta;
                        if (tls_ctx_ta_store(tc, st->tafile, &ta, errstr) < 0) {
                                tls_conn_free(c);
                                return -1;
                        }
                        if (!SSL_set1_verify_cert_store(c->ssl, ta)) {
                                tls_conn_free(c);
                                return tls_ctx_seterr(errstr,
                                                      "cannot use the trust "
                                                      "anchors of %s",
                                                      st->tafile);
                        }
                        X509_VERIFY_PARAM_set_flags(SSL_get0_param(c->ssl),
                                                    X509_V_FLAG_PARTIAL_CHAIN);
                        c->have_ta = true;
                }
                if (st->match) {
                        c->have_match = true;
                        c->match.match = keep(c, st->match->match);
                        c->match.nexthop = keep(c, st->match->nexthop);
                        c->match.hostname = keep(c, st->match->hostname);
                        c->match.single_label_wildcards =
                            st->match->single_label_wildcards;
                }
                if (st->ntlsa > 0 && tls_dane_conn_init(c, st, errstr) < 0) {
                        tls_conn_free(c);
                        return -1;
                }
                if (st->session && st->session_len > 0 &&
                    st->session_len < (size_t)LONG_MAX) {
                        const unsigned char *p = st->session;
                        SSL_SESSION *s =
                            d2i_SSL_SESSION(NULL, &p, (long)st->session_len);
                        /* A stale or damaged cache entry, or one the
                         * DANE records no longer vouch for, means a full
                         * handshake, not an error. */
                        if (s && (!c->dane || tls_dane_resumable(c, s, st)))
                                SSL_set_session(c->ssl, s);
                        SSL_SESSION_free(s);
                        ERR_clear_error();
                }
        }
        *out = c;
        return 0;
}

/* tls_conn_peer_chain - the certificates the peer sent, leaf first */
struct tls_certlist *tls_conn_peer_chain(const struct tls_conn *c)
{
        STACK_OF(X509) *sk = SSL_get_peer_cert_chain(c->ssl);
        X509 *leaf = SSL_get0_peer_certificate(c->ssl);
        struct tls_certlist *l;

        if (leaf == NULL)
                return NULL;
        l = xcalloc(1, sizeof(*l));
        /* a server's stack lacks the client's leaf; a client's has it */
        if (sk == NULL || sk_X509_num(sk) == 0 ||
            X509_cmp(sk_X509_value(sk, 0), leaf) != 0) {
                X509_up_ref(leaf);
                tls_certlist_push(l, leaf);
        }
        for (int i = 0; sk && i < sk_X509_num(sk); i++) {
                X509 *x = sk_X509_value(sk, i);
                X509_up_ref(x);
                tls_certlist_push(l, x);
        }
        return l;
}

/* tls_conn_keep_own - public name of keep_own for tls_dane.c */
const char *tls_conn_keep_own(struct tls_conn *c, char *s)
{
        return keep_own(c, s);
}

/* hexdigest - "AB:CD:..." of data */
char *tls_digest_hex(const char *mdalg, const unsigned char *data, size_t len)
{
        const EVP_MD *md = EVP_get_digestbyname(mdalg);
        unsigned char d[EVP_MAX_MD_SIZE];
        unsigned int dlen = 0;
        static const char hex[] = "0123456789ABCDEF";

        if (md == NULL || !EVP_Digest(data, len, d, &dlen, md, NULL))
                return NULL;
        char *s = xmalloc(dlen * 3 + 1);
        for (unsigned int i = 0; i < dlen; i++) {
                s[3 * i] = hex[d[i] >> 4];
                s[3 * i + 1] = hex[d[i] & 15];
                s[3 * i + 2] = i + 1 < dlen ? ':' : 0;
        }
        if (dlen == 0)
                s[0] = 0;
        return s;
}

/* name_entry - text of the first nid entry of a name, sanitized */
static char *name_entry(const X509_NAME *name, int nid)
{
        int pos = X509_NAME_get_index_by_NID(name, nid, -1);
        unsigned char *utf8 = NULL;

        if (pos < 0)
                return NULL;
        const ASN1_STRING *s =
            X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, pos));
        int n = ASN1_STRING_to_UTF8(&utf8, s);
        if (n < 0)
                return NULL;
        char *r = xstrndup((const char *)utf8, (size_t)n);
        OPENSSL_free(utf8);
        /* A log line must not be cut or forged by a peer's name. */
        for (char *p = r; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        *p = '?';
        if ((size_t)n != strlen(r)) { /* embedded NUL */
                free(r);
                return NULL;
        }
        return r;
}

/* key_sig_params - Postfix's signature name, curve and bits of a key */
static void key_sig_params(struct tls_conn *c, EVP_PKEY *pk, const char **name,
                           const char **curve, int *bits)
{
        char grp[80];

        if (EVP_PKEY_is_a(pk, "RSA")) {
                /* TLS 1.3 mandates PSS with RSA keys. */
                *name = "RSA-PSS";
                *bits = EVP_PKEY_get_bits(pk);
        } else if (EVP_PKEY_is_a(pk, "EC")) {
                *name = "ECDSA";
                if (EVP_PKEY_get_group_name(pk, grp, sizeof(grp), NULL))
                        *curve = keep(c, grp);
        } else {
                *name = keep(c, EVP_PKEY_get0_type_name(pk));
        }
}

/* collect_sig - TLS 1.3 key exchange and signature details */
static void collect_sig(struct tls_conn *c)
{
        SSL *ssl = c->ssl;
        struct tls_info *i = &c->info;
        bool srvr = c->ctx->server;
        EVP_PKEY *dh = NULL;
        int nid;

        if (SSL_version(ssl) < TLS1_3_VERSION)
                return;
        if (SSL_get_peer_tmp_key(ssl, &dh) || SSL_get_tmp_key(ssl, &dh)) {
                char grp[80];
                if (EVP_PKEY_is_a(dh, "DH")) {
                        i->kex_name = "DHE";
                        i->kex_bits = EVP_PKEY_get_bits(dh);
                } else if (EVP_PKEY_is_a(dh, "EC")) {
                        i->kex_name = "ECDHE";
                        if (EVP_PKEY_get_group_name(dh, grp, sizeof(grp), NULL))
                                i->kex_curve = keep(c, grp);
                } else {
                        i->kex_name = keep(c, EVP_PKEY_get0_type_name(dh));
                }
                EVP_PKEY_free(dh);
        }
        ERR_clear_error();

        /* The local end: a client's certificate counts only if used. */
        X509 *local = NULL;
        if (srvr || SSL_get_signature_nid(ssl, &nid))
                local = SSL_get_certificate(ssl);
        if (local) {
                const char **name =
                    srvr ? &i->srvr_sig_name : &i->clnt_sig_name;
                const char **curve =
                    srvr ? &i->srvr_sig_curve : &i->clnt_sig_curve;
                int *bits = srvr ? &i->srvr_sig_bits : &i->clnt_sig_bits;
                key_sig_params(c, X509_get0_pubkey(local), name, curve, bits);
                if (SSL_get_signature_nid(ssl, &nid) && nid != NID_undef)
                        *(srvr ? &i->srvr_sig_dgst : &i->clnt_sig_dgst) =
                            OBJ_nid2sn(nid);
        }
        X509 *peer = SSL_get0_peer_certificate(ssl);
        if (peer) {
                const char **name =
                    srvr ? &i->clnt_sig_name : &i->srvr_sig_name;
                const char **curve =
                    srvr ? &i->clnt_sig_curve : &i->srvr_sig_curve;
                int *bits = srvr ? &i->clnt_sig_bits : &i->srvr_sig_bits;
                key_sig_params(c, X509_get0_pubkey(peer), name, curve, bits);
                if (SSL_get_peer_signature_nid(ssl, &nid) && nid != NID_undef)
                        *(srvr ? &i->clnt_sig_dgst : &i->srvr_sig_dgst) =
                            OBJ_nid2sn(nid);
        }
        ERR_clear_error();
}

/* match_peer_names - DNS SANs (or the CN without them) vs the match list */
static bool match_peer_names(struct tls_conn *c, X509 *peer)
{
        GENERAL_NAMES *gens =
            X509_get_ext_d2i(peer, NID_subject_alt_name, NULL, NULL);
        bool any_dns = false, found = false;

        for (int k = 0; gens && k < sk_GENERAL_NAME_num(gens) && !found; k++) {
                const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, k);
                if (g->type != GEN_DNS)
                        continue;
                any_dns = true;
                const ASN1_STRING *s = g->d.dNSName;
                const char *p = (const char *)ASN1_STRING_get0_data(s);
                int len = ASN1_STRING_length(s);
                if (len <= 0 || memchr(p, 0, (size_t)len) != NULL)
                        continue;
                char *name = xstrndup(p, (size_t)len);
                found = tls_match_certid(name, &c->match);
                free(name);
        }
        GENERAL_NAMES_free(gens);
        if (!any_dns && *c->info.peer_CN)
                found = tls_match_certid(c->info.peer_CN, &c->match);
        return found;
}

/* collect_info - what the completed handshake established */
static void collect_info(struct tls_conn *c)
{
        SSL *ssl = c->ssl;
        struct tls_info *i = &c->info;
        const SSL_CIPHER *cipher = SSL_get_current_cipher(ssl);

        i->protocol = SSL_get_version(ssl);
        i->cipher = cipher ? SSL_CIPHER_get_name(cipher) : "";
        i->cipher_usebits =
            cipher ? SSL_CIPHER_get_bits(cipher, &i->cipher_algbits) : 0;
        i->kex_name = i->kex_curve = "";
        i->srvr_sig_name = i->srvr_sig_curve = i->srvr_sig_dgst = "";
        i->clnt_sig_name = i->clnt_sig_curve = i->clnt_sig_dgst = "";
        i->peer_CN = i->issuer_CN = i->cert_fprint = i->pkey_fprint = "";
        i->verify_error = "";
        i->reused = SSL_session_reused(ssl) == 1;
        i->sni = "";
        if (c->ctx->server) {
                const char *sni =
                    SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
                i->sni = keep(c, sni);
        }
        collect_sig(c);

        X509 *peer = SSL_get0_peer_certificate(ssl);
        if (peer == NULL)
                return;
        i->peer_cert = true;
        i->verify_result = SSL_get_verify_result(ssl);
        i->verify_error = X509_verify_cert_error_string(i->verify_result);
        i->trusted =
            (c->ctx->have_ca || c->have_ta) && i->verify_result == X509_V_OK;
        i->peer_CN = keep_own(
            c, name_entry(X509_get_subject_name(peer), NID_commonName));
        char *icn = name_entry(X509_get_issuer_name(peer), NID_commonName);
        if (icn == NULL)
                icn = name_entry(X509_get_issuer_name(peer),
                                 NID_organizationName);
        i->issuer_CN = keep_own(c, icn);

        unsigned char *der = NULL;
        int len = i2d_X509(peer, &der);
        if (len > 0)
                i->cert_fprint = keep_own(
                    c, tls_digest_hex(c->ctx->mdalg, der, (size_t)len));
        OPENSSL_free(der);
        der = NULL;
        len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(peer), &der);
        if (len > 0)
                i->pkey_fprint = keep_own(
                    c, tls_digest_hex(c->ctx->mdalg, der, (size_t)len));
        OPENSSL_free(der);
        if (!c->ctx->server && c->have_match && i->trusted && !c->dane) {
                i->verified = match_peer_names(c, peer);
                /* As in Postfix, where the name check is part of the
                 * chain verification: a trusted chain with none of the
                 * required names is not trusted at all. */
                if (!i->verified) {
                        i->trusted = false;
                        c->name_mismatch = true;
                }
        }
        if (c->dane) {
                /* DANE decides alone: no PKIX trust without a match */
                i->trusted = i->verified = false;
                tls_dane_collect(c, i);
        }
        ERR_clear_error();
}

/* io_result - map an OpenSSL return to the caller's convention */
static enum tls_io io_result(struct tls_conn *c, int ret, const char *what)
{
        int e = SSL_get_error(c->ssl, ret);

        switch (e) {
        case SSL_ERROR_WANT_READ:
                return TLS_IO_WANT_READ;
        case SSL_ERROR_WANT_WRITE:
                return TLS_IO_WANT_WRITE;
        case SSL_ERROR_ZERO_RETURN:
                return TLS_IO_CLOSED;
        case SSL_ERROR_SYSCALL:
                if (ERR_peek_error() == 0 && errno == 0) {
                        snprintf(c->err, sizeof(c->err), "%s: lost connection",
                                 what);
                        return TLS_IO_ERROR;
                }
                return conn_seterr(c, what);
        default:
                return conn_seterr(c, what);
        }
}

/* tls_conn_handshake - one step of the handshake */
enum tls_io tls_conn_handshake(struct tls_conn *c)
{
        char what[300];
        int ret;

        if (c->handshake_done)
                return TLS_IO_DONE;
        ERR_clear_error();
        errno = 0;
        ret = SSL_do_handshake(c->ssl);
        if (ret == 1) {
                c->handshake_done = true;
                collect_info(c);
                tls_log_handshake(c);
                return TLS_IO_DONE;
        }
        snprintf(what, sizeof(what), "%s %s",
                 c->ctx->server ? "SSL_accept error from"
                                : "SSL_connect error to",
                 c->namaddr);
        enum tls_io r = io_result(c, ret, what);
        /* A peer that closed during the handshake is an error here. */
        if (r == TLS_IO_CLOSED) {
                snprintf(c->err, sizeof(c->err), "%s: lost connection", what);
                r = TLS_IO_ERROR;
        }
        return r;
}

/* tls_conn_read - read decrypted bytes */
enum tls_io tls_conn_read(struct tls_conn *c, void *buf, size_t len,
                          size_t *got)
{
        *got = 0;
        ERR_clear_error();
        errno = 0;
        if (SSL_read_ex(c->ssl, buf, len, got) == 1)
                return TLS_IO_DONE;
        enum tls_io r = io_result(c, 0, "TLS read error");
        if (r == TLS_IO_ERROR && strstr(c->err, "lost connection"))
                return TLS_IO_CLOSED;
        return r;
}

/* tls_conn_write - write bytes */
enum tls_io tls_conn_write(struct tls_conn *c, const void *buf, size_t len,
                           size_t *put)
{
        *put = 0;
        ERR_clear_error();
        errno = 0;
        if (SSL_write_ex(c->ssl, buf, len, put) == 1)
                return TLS_IO_DONE;
        return io_result(c, 0, "TLS write error");
}

/* tls_conn_pending - bytes already decrypted */
size_t tls_conn_pending(const struct tls_conn *c)
{
        int n = SSL_pending(c->ssl);
        return n > 0 ? (size_t)n : 0;
}

/* tls_conn_shutdown - send close_notify */
enum tls_io tls_conn_shutdown(struct tls_conn *c)
{
        int ret;

        ERR_clear_error();
        errno = 0;
        ret = SSL_shutdown(c->ssl);
        if (c->coalesce)
                (void)out_send(c); /* the last reply and close_notify */
        if (ret >= 0)
                return TLS_IO_DONE;
        return io_result(c, ret, "TLS shutdown error");
}

/* tls_conn_error - the last error */
const char *tls_conn_error(const struct tls_conn *c)
{
        return c->err[0] ? c->err : "no error";
}

/* tls_conn_info - after the handshake */
const struct tls_info *tls_conn_info(const struct tls_conn *c)
{
        return c->handshake_done ? &c->info : NULL;
}

/* tls_conn_session_export - serialize the client's session */
int tls_conn_session_export(const struct tls_conn *c, unsigned char **buf,
                            size_t *len)
{
        SSL_SESSION *s = c->session;
        unsigned char *p;

        *buf = NULL;
        *len = 0;
        if (s == NULL || !SSL_SESSION_is_resumable(s))
                return -1;
        int n = i2d_SSL_SESSION(s, NULL);
        if (n <= 0)
                return -1;
        *buf = p = xmalloc((size_t)n);
        i2d_SSL_SESSION(s, &p);
        *len = (size_t)n;
        return 0;
}

/* tls_conn_free - release the session (not the fd) */
void tls_conn_free(struct tls_conn *c)
{
        if (c == NULL)
                return;
        SSL_free(c->ssl);
        free(c->out);
        SSL_SESSION_free(c->session);
        tls_ctx_free(c->ctx);
        free(c->namaddr);
        strlist_clear(&c->strs);
        free(c);
}

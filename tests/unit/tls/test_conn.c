/* SPDX-License-Identifier: MIT */
/*
 * test_conn.c - real handshakes between postern's server and client over a
 * socketpair: protocols, trust words and log lines, client certificates
 * and their fingerprints (compared with what the openssl command prints),
 * resumption by ticket across contexts sharing keys, garbage instead of a
 * ClientHello.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "log/log.h"
#include <stdio.h>
#include <time.h>

#include "tls/tls.h"

#include "test_ctx_certs.h"

/* setup - certificates for every test */
static int setup(void **state)
{
        (void)state;
        return certs_make();
}

/* teardown - remove them */
static int teardown(void **state)
{
        (void)state;
        if (getenv("KEEP_CERTS") == NULL)
                certs_remove();
        return 0;
}

struct pair {
        int fd[2]; /* [0] server, [1] client */
        struct tls_conn *s, *c;
        enum tls_io rs, rc;
        bool coalesce; /* the server session's tls_start.coalesce */
};

/* pair_open - a non-blocking socketpair */
static void pair_open(struct pair *p)
{
        memset(p, 0, sizeof(*p));
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, p->fd), 0);
        for (int i = 0; i < 2; i++)
                fcntl(p->fd[i], F_SETFL, fcntl(p->fd[i], F_GETFL) | O_NONBLOCK);
}

/* pair_close - free both sessions and fds */
static void pair_close(struct pair *p)
{
        tls_conn_free(p->s);
        tls_conn_free(p->c);
        close(p->fd[0]);
        close(p->fd[1]);
}

/* wait_io - poll the fd for what a step asked for */
static void wait_io(int fd0, enum tls_io r0, int fd1, enum tls_io r1)
{
        struct pollfd pfd[2] = {{.fd = fd0}, {.fd = fd1}};
        pfd[0].events = r0 == TLS_IO_WANT_READ    ? POLLIN
                        : r0 == TLS_IO_WANT_WRITE ? POLLOUT
                                                  : 0;
        pfd[1].events = r1 == TLS_IO_WANT_READ    ? POLLIN
                        : r1 == TLS_IO_WANT_WRITE ? POLLOUT
                                                  : 0;
        (void)poll(pfd, 2, 1000);
}

/* handshake - drive both ends until neither wants more */
static void handshake(struct pair *p, struct tls_ctx *sctx,
                      struct tls_ctx *cctx, const struct tls_start *cstart)
{
        const char *err = NULL;
        struct tls_start cs = *cstart;

        assert_int_equal(
            tls_conn_start(&(struct tls_start){.ctx = sctx,
                                               .fd = p->fd[0],
                                               .namaddr = "client.example.org"
                                                          "[127.0.0.1]",
                                               .loglevel = -1,
                                               .coalesce = p->coalesce},
                           &p->s, &err),
            0);
        cs.ctx = cctx;
        cs.fd = p->fd[1];
        if (cs.namaddr == NULL)
                cs.namaddr = "mx.example.org[127.0.0.1]:25";
        assert_int_equal(tls_conn_start(&cs, &p->c, &err), 0);
        p->rs = p->rc = TLS_IO_WANT_READ;
        for (int i = 0; i < 200; i++) {
                if (p->rs > 0) {
                        /* an event loop that was woken (level-triggered) */
                        tls_conn_readable(p->s);
                        p->rs = tls_conn_handshake(p->s);
                }
                if (p->rc > 0)
                        p->rc = tls_conn_handshake(p->c);
                if (p->rs <= 0 && p->rc <= 0)
                        return;
                if (p->rs <= 0 && p->rc == TLS_IO_WANT_READ && p->rs < 0)
                        return;
                if (p->rc < 0 && p->rs == TLS_IO_WANT_READ)
                        return; /* the server waits for a client that failed */
                wait_io(p->fd[0], p->rs, p->fd[1], p->rc);
        }
        fail_msg("handshake did not finish");
}

/* exchange - one line each way, so TLS 1.3 tickets reach the client */
static void exchange(struct pair *p)
{
        char buf[64];
        size_t n = 0;
        enum tls_io r;

        assert_int_equal(tls_conn_write(p->c, "EHLO x\r\n", 8, &n),
                         TLS_IO_DONE);
        assert_int_equal(n, 8);
        for (int i = 0; i < 100; i++) {
                r = tls_conn_read(p->s, buf, sizeof(buf), &n);
                if (r == TLS_IO_DONE)
                        break;
                assert_true(r == TLS_IO_WANT_READ);
                wait_io(p->fd[0], r, -1, 0);
        }
        assert_int_equal(n, 8);
        assert_memory_equal(buf, "EHLO x\r\n", 8);
        assert_int_equal(tls_conn_write(p->s, "250 ok\r\n", 8, &n),
                         TLS_IO_DONE);
        for (int i = 0; i < 100; i++) {
                r = tls_conn_read(p->c, buf, sizeof(buf), &n);
                if (r == TLS_IO_DONE)
                        break;
                assert_true(r == TLS_IO_WANT_READ);
                wait_io(-1, 0, p->fd[1], r);
        }
        assert_int_equal(n, 8);
        assert_memory_equal(buf, "250 ok\r\n", 8);
}

/* summary - the log line of a session */
static char *summary(struct tls_conn *c)
{
        struct strbuf sb;
        strbuf_init(&sb);
        tls_conn_summary(c, &sb);
        return strbuf_detach(&sb);
}

/* srv - a server context with RSA (and optionally more) */
static struct tls_ctx *srv(const struct tls_server_settings *s)
{
        const char *err = NULL;
        struct tls_ctx *c = tls_server_ctx_new(s, &err);
        if (c == NULL)
                fail_msg("server ctx: %s", err);
        return c;
}

/* cli - a client context */
static struct tls_ctx *cli(const struct tls_client_settings *s)
{
        const char *err = NULL;
        struct tls_ctx *c = tls_client_ctx_new(s, &err);
        if (c == NULL)
                fail_msg("client ctx: %s", err);
        return c;
}

static const struct tls_match verify_mx = {.match = "hostname",
                                           .nexthop = "example.org",
                                           .hostname = "mx.example.org"};
static const struct tls_match verify_other = {
    .match = "hostname", .nexthop = "example.org", .hostname = "mx.other.net"};

static void test_tls13_verified(void **state)
{
        struct pair p;
        (void)state;
        struct tls_ctx *s =
            srv(&(struct tls_server_settings){.cert_file = P("srv.pem"),
                                              .key_file = P("srv.key"),
                                              .loglevel = 1});
        struct tls_ctx *c = cli(&(struct tls_client_settings){
            .CAfile = P("ca.pem"), .loglevel = 1});
        pair_open(&p);
        handshake(&p, s, c,
                  &(struct tls_start){.sni = "mx.example.org",
                                      .match = &verify_mx,
                                      .loglevel = -1});
        assert_int_equal(p.rs, TLS_IO_DONE);
        assert_int_equal(p.rc, TLS_IO_DONE);
        const struct tls_info *ci = tls_conn_info(p.c),
                              *si = tls_conn_info(p.s);
        assert_string_equal(ci->protocol, "TLSv1.3");
        assert_true(ci->peer_cert && ci->trusted && ci->verified);
        assert_false(si->peer_cert);
        assert_string_equal(si->sni, "mx.example.org");
        char *line = summary(p.c);
        assert_string_equal(
            line, "Verified TLS connection established to "
                  "mx.example.org[127.0.0.1]:25: TLSv1.3 with cipher "
                  "TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 "
                  "server-signature RSA-PSS (2048 bits) server-digest SHA256");
        free(line);
        line = summary(p.s);
        assert_string_equal(
            line, "Anonymous TLS connection established from "
                  "client.example.org[127.0.0.1]: TLSv1.3 with cipher "
                  "TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 "
                  "server-signature RSA-PSS (2048 bits) server-digest SHA256");
        free(line);
        struct strbuf sb;
        strbuf_init(&sb);
        tls_conn_received(p.s, false, &sb);
        assert_string_equal(
            strbuf_cstr(&sb),
            "(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)\n"
            "\t key-exchange X25519 server-signature RSA-PSS (2048 bits) "
            "server-digest SHA256)\n\t(No client certificate requested)");
        strbuf_clear(&sb);
        exchange(&p);
        assert_int_equal(tls_conn_shutdown(p.c), TLS_IO_DONE);
        char b[8];
        size_t n;
        enum tls_io r;
        for (int i = 0; i < 100; i++) {
                r = tls_conn_read(p.s, b, sizeof(b), &n);
                if (r != TLS_IO_WANT_READ)
                        break;
                wait_io(p.fd[0], r, -1, 0);
        }
        assert_int_equal(r, TLS_IO_CLOSED);
        pair_close(&p);
        tls_ctx_free(s);
        tls_ctx_free(c);
}

/* file_has - whether a file contains a string */
static bool file_has(const char *path, const char *want)
{
        char buf[65536];
        FILE *fp = fopen(path, "r");
        size_t n = fp ? fread(buf, 1, sizeof(buf) - 1, fp) : 0;

        if (fp)
                fclose(fp);
        buf[n] = 0;
        return strstr(buf, want) != NULL;
}

static void test_trust_words(void **state)
{
        struct pair p;
        const char *err;
        (void)state;
        struct tls_ctx *s = srv(&(struct tls_server_settings){
            .cert_file = P("srv.pem"), .key_file = P("srv.key")});
        struct tls_ctx *noca =
            cli(&(struct tls_client_settings){.loglevel = 1});
        struct tls_ctx *ca = cli(&(struct tls_client_settings){
            .CAfile = P("ca.pem"), .loglevel = 1});
        assert_int_equal(log_open(P("maillog"), "test", &err), 0);
        struct tls_ctx *sx = srv(&(struct tls_server_settings){
            .cert_file = P("expired.pem"), .key_file = P("srv.key")});

        /* No CAfile: Untrusted, even when the name matches. */
        pair_open(&p);
        handshake(&p, s, noca, &(struct tls_start){.match = &verify_mx});
        char *line = summary(p.c);
        assert_true(str_has_prefix(line, "Untrusted TLS connection established "
                                         "to mx.example.org[127.0.0.1]:25: "));
        free(line);
        pair_close(&p);

        /* Trusted chain, but none of the required names: Untrusted, as
         * Postfix 3.7 says (its name check is part of verification). */
        pair_open(&p);
        handshake(&p, s, ca, &(struct tls_start){.match = &verify_other});
        line = summary(p.c);
        assert_true(
            str_has_prefix(line, "Untrusted TLS connection established"));
        assert_false(tls_conn_info(p.c)->trusted);
        assert_false(tls_conn_info(p.c)->verified);
        free(line);
        pair_close(&p);

        /* Trusted chain, no name check asked: Trusted. */
        pair_open(&p);
        handshake(&p, s, ca, &(struct tls_start){0});
        line = summary(p.c);
        assert_true(str_has_prefix(line, "Trusted TLS connection established"));
        free(line);
        pair_close(&p);

        /* The same anchor from a hashed CApath directory: Verified. */
        struct tls_ctx *capath =
            cli(&(struct tls_client_settings){.CApath = P("capath")});
        pair_open(&p);
        handshake(&p, s, capath, &(struct tls_start){.match = &verify_mx});
        line = summary(p.c);
        assert_true(
            str_has_prefix(line, "Verified TLS connection established"));
        free(line);
        pair_close(&p);
        tls_ctx_free(capath);

        /* Expired leaf: Untrusted, with the reason. */
        pair_open(&p);
        handshake(&p, sx, ca, &(struct tls_start){.match = &verify_mx});
        const struct tls_info *ci = tls_conn_info(p.c);
        assert_false(ci->trusted);
        assert_false(ci->verified);
        assert_string_equal(ci->verify_error, "certificate has expired");
        pair_close(&p);

        /* With a name check asked for, loglevel 1 says why, as Postfix. */
        log_open("/dev/stderr", "test", &err);
        assert_true(file_has(P("maillog"),
                             "]: certificate verification failed for "
                             "mx.example.org[127.0.0.1]:25: untrusted issuer "
                             "/CN=Postern Test Root\n"));
        assert_true(file_has(P("maillog"),
                             "]: server certificate verification "
                             "failed for mx.example.org[127.0.0.1]:25: "
                             "num=62:hostname mismatch\n"));
        assert_true(file_has(P("maillog"),
                             "]: server certificate verification "
                             "failed for mx.example.org[127.0.0.1]:25: "
                             "certificate has expired\n"));
        assert_true(file_has(P("maillog"),
                             "]: Untrusted TLS connection established "
                             "to mx.example.org[127.0.0.1]:25: TLSv1.3"));

        tls_ctx_free(s);
        tls_ctx_free(sx);
        tls_ctx_free(noca);
        tls_ctx_free(ca);
}

/* fingerprint - what the openssl command prints for a certificate */
static char *fingerprint(const char *file, const char *dgst, bool pkey)
{
        char cmd[700];
        if (pkey)
                snprintf(cmd, sizeof(cmd),
                         "openssl x509 -in %s -noout -pubkey | openssl pkey "
                         "-pubin -outform DER | openssl dgst -%s -c",
                         file, dgst);
        else
                snprintf(cmd, sizeof(cmd),
                         "openssl x509 -noout -fingerprint -%s -in %s", dgst,
                         file);
        char *s = cmd_output(cmd, true);
        for (char *q = s; q && *q; q++)
                if (*q >= 'a' && *q <= 'f')
                        *q = (char)(*q - 'a' + 'A');
        return s;
}

static void test_client_certificate(void **state)
{
        static const char *digests[] = {"sha256", "sha1", "md5"};
        (void)state;
        struct tls_ctx *c =
            cli(&(struct tls_client_settings){.cert_file = P("cli.pem"),
                                              .key_file = P("cli.key"),
                                              .CAfile = P("ca.pem")});
        for (size_t d = 0; d < ARRAY_SIZE(digests); d++) {
                struct pair p;
                struct tls_ctx *s = srv(&(struct tls_server_settings){
                    .cert_file = P("srv.pem"),
                    .key_file = P("srv.key"),
                    .CAfile = P("ca.pem"),
                    .ask_ccert = true,
                    .fingerprint_digest = digests[d]});
                pair_open(&p);
                handshake(&p, s, c, &(struct tls_start){0});
                assert_int_equal(p.rs, TLS_IO_DONE);
                const struct tls_info *si = tls_conn_info(p.s);
                assert_true(si->peer_cert);
                assert_true(si->trusted);
                assert_string_equal(si->peer_CN, "client.example.org");
                assert_string_equal(si->issuer_CN, "Postern Test Root");
                char *want = fingerprint(P("cli.pem"), digests[d], false);
                assert_string_equal(si->cert_fprint, want);
                free(want);
                want = fingerprint(P("cli.pem"), digests[d], true);
                assert_string_equal(si->pkey_fprint, want);
                free(want);
                char *line = summary(p.s);
                assert_true(str_has_prefix(
                    line,
                    "Trusted TLS connection established from "
                    "client.example.org[127.0.0.1]: TLSv1.3 with cipher"));
                assert_non_null(strstr(line, " client-signature RSA-PSS (2048 "
                                             "bits) client-digest SHA256"));
                free(line);
                struct strbuf sb;
                strbuf_init(&sb);
                tls_conn_received(p.s, true, &sb);
                assert_non_null(strstr(strbuf_cstr(&sb),
                                       "(Client CN \"client.example.org\", "
                                       "Issuer \"Postern Test Root\" "
                                       "(verified OK))"));
                strbuf_clear(&sb);
                pair_close(&p);
                tls_ctx_free(s);
        }
        tls_ctx_free(c);

        /* No client certificate with req_ccert: the handshake fails. */
        struct pair p;
        struct tls_ctx *s =
            srv(&(struct tls_server_settings){.cert_file = P("srv.pem"),
                                              .key_file = P("srv.key"),
                                              .CAfile = P("ca.pem"),
                                              .req_ccert = true});
        c = cli(&(struct tls_client_settings){.CAfile = P("ca.pem")});
        pair_open(&p);
        handshake(&p, s, c, &(struct tls_start){0});
        assert_int_equal(p.rs, TLS_IO_ERROR);
        assert_non_null(strstr(tls_conn_error(p.s), "SSL_accept error from "
                                                    "client.example.org"));
        pair_close(&p);
        tls_ctx_free(s);
        tls_ctx_free(c);
}

static void test_protocols_and_ecdsa(void **state)
{
        struct pair p;
        (void)state;
        /* TLS 1.2 only: no TLS 1.3 details in the line. */
        struct tls_ctx *s12 = srv(&(struct tls_server_settings){
            .cert_file = P("srv.pem"),
            .key_file = P("srv.key"),
            .protocols = "!SSLv2, !SSLv3, !TLSv1, !TLSv1.1, !TLSv1.3"});
        struct tls_ctx *c =
            cli(&(struct tls_client_settings){.CAfile = P("ca.pem")});
        pair_open(&p);
        handshake(&p, s12, c, &(struct tls_start){0});
        char *line = summary(p.c);
        assert_string_equal(line,
                            "Trusted TLS connection established to "
                            "mx.example.org[127.0.0.1]:25: TLSv1.2 with cipher "
                            "ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)");
        free(line);
        pair_close(&p);

        /* Server wants >= 1.3, client offers <= 1.2: refused both ends. */
        struct tls_ctx *s13 =
            srv(&(struct tls_server_settings){.cert_file = P("srv.pem"),
                                              .key_file = P("srv.key"),
                                              .protocols = ">=TLSv1.3"});
        pair_open(&p);
        handshake(&p, s13, c, &(struct tls_start){.protocols = "<=TLSv1.2"});
        assert_int_equal(p.rc, TLS_IO_ERROR);
        assert_int_equal(p.rs, TLS_IO_ERROR);
        if (strstr(tls_conn_error(p.s), "protocol") == NULL)
                fail_msg("%s", tls_conn_error(p.s));
        pair_close(&p);

        /* Mandatory lists apply when asked for. */
        struct tls_ctx *sm = srv(
            &(struct tls_server_settings){.cert_file = P("srv.pem"),
                                          .key_file = P("srv.key"),
                                          .mandatory = true,
                                          .protocols = ">=TLSv1",
                                          .mandatory_protocols = ">=TLSv1.3"});
        pair_open(&p);
        handshake(&p, sm, c, &(struct tls_start){.protocols = "TLSv1.2"});
        assert_int_equal(p.rs, TLS_IO_ERROR);
        pair_close(&p);

        /* RSA and ECDSA side by side: an ECDSA-only client gets ECDSA. */
        struct tls_ctx *sboth =
            srv(&(struct tls_server_settings){.cert_file = P("srv.pem"),
                                              .key_file = P("srv.key"),
                                              .eccert_file = P("combo.pem")});
        pair_open(&p);
        handshake(&p, sboth, c,
                  &(struct tls_start){.match = &verify_mx,
                                      .protocols = "TLSv1.2",
                                      .exclude = "aRSA"});
        line = summary(p.c);
        assert_string_equal(line,
                            "Verified TLS connection established to "
                            "mx.example.org[127.0.0.1]:25: TLSv1.2 with cipher "
                            "ECDHE-ECDSA-AES256-GCM-SHA384 (256/256 bits)");
        free(line);
        pair_close(&p);
        struct tls_ctx *sec =
            srv(&(struct tls_server_settings){.chain_files = P("combo.pem")});
        pair_open(&p);
        handshake(&p, sec, c, &(struct tls_start){0});
        line = summary(p.c);
        assert_non_null(strstr(line, " server-signature ECDSA (prime256v1) "
                                     "server-digest SHA256"));
        free(line);
        pair_close(&p);

        tls_ctx_free(s12);
        tls_ctx_free(s13);
        tls_ctx_free(sm);
        tls_ctx_free(sboth);
        tls_ctx_free(sec);
        tls_ctx_free(c);
}

/* cipher_with - the TLS 1.2 cipher the client context c gets from s with
 * the per-session policy ciphers= and exclude= (NULL: none) */
static char *cipher_with(struct tls_ctx *s, struct tls_ctx *c,
                         const char *ciphers, const char *exclude)
{
        struct pair p;
        char *got;

        pair_open(&p);
        handshake(&p, s, c,
                  &(struct tls_start){.protocols = "TLSv1.2",
                                      .ciphers = ciphers,
                                      .exclude = exclude});
        assert_int_equal(p.rc, TLS_IO_DONE);
        got = xstrdup(tls_conn_info(p.c)->cipher);
        pair_close(&p);
        return got;
}

static void test_client_cipher_grade_lists(void **state)
{
        (void)state;
        struct tls_ctx *s = srv(&(struct tls_server_settings){
            .cert_file = P("srv.pem"), .key_file = P("srv.key")});
        /* the defaults: the strongest first */
        struct tls_ctx *plain =
            cli(&(struct tls_client_settings){.ciphers = "high"});
        char *got = cipher_with(s, plain, NULL, NULL);
        assert_string_equal(got, "ECDHE-RSA-AES256-GCM-SHA384");
        free(got);
        /* tls_high_cipherlist for smtp_tls_ciphers = high */
        struct tls_ctx *c = cli(&(struct tls_client_settings){
            .ciphers = "high",
            .cipherlists = {.high = "ECDHE-RSA-AES128-GCM-SHA256"}});
        got = cipher_with(s, c, NULL, NULL);
        assert_string_equal(got, "ECDHE-RSA-AES128-GCM-SHA256");
        free(got);
        /* the same list for a policy's ciphers=high on a context whose
         * own grade is medium, and with the context's grade when a
         * policy gives only exclude= */
        struct tls_ctx *m = cli(&(struct tls_client_settings){
            .cipherlists = {.high = "ECDHE-RSA-AES128-GCM-SHA256",
                            .medium = "ECDHE-RSA-CHACHA20-POLY1305"}});
        got = cipher_with(s, m, NULL, NULL);
        assert_string_equal(got, "ECDHE-RSA-CHACHA20-POLY1305");
        free(got);
        got = cipher_with(s, m, "high", NULL);
        assert_string_equal(got, "ECDHE-RSA-AES128-GCM-SHA256");
        free(got);
        got = cipher_with(s, m, NULL, "AES256");
        assert_string_equal(got, "ECDHE-RSA-CHACHA20-POLY1305");
        free(got);
        got = cipher_with(s, plain, "high", "AES256");
        assert_string_equal(got, "ECDHE-RSA-CHACHA20-POLY1305");
        free(got);
        /* a policy grade whose list has no cipher fails that session
         * only, naming the parameter */
        struct tls_ctx *bad = cli(&(struct tls_client_settings){
            .cipherlists = {.low = "NO-SUCH-CIPHER"}});
        struct tls_conn *conn = NULL;
        const char *err = NULL;
        int fd[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0);
        assert_int_equal(
            tls_conn_start(&(struct tls_start){.ctx = bad,
                                               .fd = fd[1],
                                               .namaddr = "mx[127.0.0.1]:25",
                                               .ciphers = "low"},
                           &conn, &err),
            -1);
        assert_non_null(strstr(err, "tls_low_cipherlist"));
        close(fd[0]);
        close(fd[1]);
        tls_ctx_free(bad);
        tls_ctx_free(m);
        tls_ctx_free(c);
        tls_ctx_free(plain);
        tls_ctx_free(s);
}

/* resume_once - a first session, then a second one offering its ticket;
 * returns whether the second was resumed */
static bool resume_once(struct tls_ctx *s1, struct tls_ctx *s2,
                        struct tls_ctx *c, const char *protocols)
{
        struct pair p;
        unsigned char *sess = NULL;
        size_t len = 0;

        pair_open(&p);
        handshake(&p, s1, c, &(struct tls_start){.protocols = protocols});
        assert_int_equal(p.rc, TLS_IO_DONE);
        assert_false(tls_conn_info(p.c)->reused);
        exchange(&p);
        assert_int_equal(tls_conn_session_export(p.c, &sess, &len), 0);
        pair_close(&p);

        pair_open(&p);
        handshake(&p, s2, c,
                  &(struct tls_start){.protocols = protocols,
                                      .session = sess,
                                      .session_len = len});
        assert_int_equal(p.rc, TLS_IO_DONE);
        bool reused = tls_conn_info(p.c)->reused;
        assert_int_equal(reused, tls_conn_info(p.s)->reused);
        if (reused) /* the peer certificate is known on resumption too */
                assert_true(tls_conn_info(p.c)->trusted);
        pair_close(&p);
        free(sess);
        return reused;
}

static void test_resumption(void **state)
{
        (void)state;
        struct tls_ticket_keys *k = tls_ticket_keys_new();
        struct tls_server_settings ss = {.cert_file = P("srv.pem"),
                                         .key_file = P("srv.key"),
                                         .ticket_keys = k,
                                         .session_cache_timeout = -1};
        /* Two contexts sharing keys stand for two worker processes. */
        struct tls_ctx *s1 = srv(&ss), *s2 = srv(&ss);
        ss.ticket_keys = NULL;
        struct tls_ctx *other = srv(&ss);
        ss.session_cache_timeout = 0;
        struct tls_ctx *none = srv(&ss);
        struct tls_ctx *c = cli(&(struct tls_client_settings){
            .CAfile = P("ca.pem"), .session_cache_timeout = -1});

        assert_true(resume_once(s1, s2, c, NULL));
        assert_true(resume_once(s1, s2, c, "TLSv1.2"));
        assert_false(resume_once(s1, other, c, NULL));

        /* After one rotation old tickets still work, after two they don't. */
        struct pair p;
        unsigned char *sess;
        size_t len;
        pair_open(&p);
        handshake(&p, s1, c, &(struct tls_start){0});
        exchange(&p);
        assert_int_equal(tls_conn_session_export(p.c, &sess, &len), 0);
        pair_close(&p);
        tls_ticket_keys_rotate(k);
        pair_open(&p);
        handshake(&p, s2, c,
                  &(struct tls_start){.session = sess, .session_len = len});
        assert_true(tls_conn_info(p.s)->reused);
        pair_close(&p);
        tls_ticket_keys_rotate(k);
        pair_open(&p);
        handshake(&p, s2, c,
                  &(struct tls_start){.session = sess, .session_len = len});
        assert_false(tls_conn_info(p.s)->reused);
        pair_close(&p);
        free(sess);

        /* A worker that reloads the rotated keys resumes again. */
        struct tls_ticket_keys *k2 = tls_ticket_keys_new();
        assert_int_equal(tls_ctx_set_ticket_keys(s1, k2), 0);
        assert_int_equal(tls_ctx_set_ticket_keys(s2, k2), 0);
        assert_int_equal(tls_ctx_set_ticket_keys(c, k2), -1);
        tls_ticket_keys_free(k2);
        assert_true(resume_once(s1, s2, c, NULL));
        assert_false(resume_once(s1, other, c, NULL));

        /* Tickets off: no session to export. */
        pair_open(&p);
        handshake(&p, none, c, &(struct tls_start){0});
        exchange(&p);
        assert_int_equal(tls_conn_session_export(p.c, &sess, &len), -1);
        pair_close(&p);

        /* A damaged cache entry is a full handshake, not an error. */
        pair_open(&p);
        handshake(&p, s1, c,
                  &(struct tls_start){.session = "garbage", .session_len = 7});
        assert_int_equal(p.rc, TLS_IO_DONE);
        assert_false(tls_conn_info(p.c)->reused);
        pair_close(&p);

        tls_ticket_keys_free(k);
        tls_ctx_free(s1);
        tls_ctx_free(s2);
        tls_ctx_free(other);
        tls_ctx_free(none);
        tls_ctx_free(c);
}

/* wait_epoch - wait until the clock has passed the start of epoch (in
 * seconds): the event the rotating keys depend on */
static void wait_epoch(time_t epoch)
{
        while (time(NULL) < epoch) {
                struct timespec ts = {.tv_nsec = 20 * 1000 * 1000};
                nanosleep(&ts, NULL);
        }
}

static void test_rotating_keys(void **state)
{
        (void)state;
        /* interval 1 s: keys derived per second from a shared secret */
        struct tls_ticket_keys *k = tls_ticket_keys_new_rotating(1);
        struct tls_ticket_keys *stranger = tls_ticket_keys_new_rotating(1);
        struct tls_server_settings ss = {.cert_file = P("srv.pem"),
                                         .key_file = P("srv.key"),
                                         .ticket_keys = k,
                                         .session_cache_timeout = -1};
        struct tls_ctx *s1 = srv(&ss), *s2 = srv(&ss);
        ss.ticket_keys = stranger;
        struct tls_ctx *other = srv(&ss);
        struct tls_ctx *c = cli(&(struct tls_client_settings){
            .CAfile = P("ca.pem"), .session_cache_timeout = -1});
        struct pair p;
        unsigned char *sess;
        size_t len;

        /* two workers agree without sharing anything but the secret */
        assert_true(resume_once(s1, s2, c, NULL));
        assert_false(resume_once(s1, other, c, NULL));

        time_t issued = time(NULL);
        pair_open(&p);
        handshake(&p, s1, c, &(struct tls_start){0});
        exchange(&p);
        assert_int_equal(tls_conn_session_export(p.c, &sess, &len), 0);
        pair_close(&p);
        /* next interval: the previous key still decrypts */
        wait_epoch(issued + 1);
        if (time(NULL) == issued + 1) {
                pair_open(&p);
                handshake(
                    &p, s2, c,
                    &(struct tls_start){.session = sess, .session_len = len});
                assert_true(tls_conn_info(p.s)->reused);
                pair_close(&p);
        }
        /* two intervals on: the key is gone everywhere */
        wait_epoch(issued + 2);
        pair_open(&p);
        handshake(&p, s2, c,
                  &(struct tls_start){.session = sess, .session_len = len});
        assert_false(tls_conn_info(p.s)->reused);
        pair_close(&p);
        free(sess);

        tls_ticket_keys_free(k);
        tls_ticket_keys_free(stranger);
        tls_ctx_free(s1);
        tls_ctx_free(s2);
        tls_ctx_free(other);
        tls_ctx_free(c);
}

/* tlsa - a record whose data is the contents of a file */
static struct tls_tlsa_rr tlsa(uint8_t u, uint8_t s, uint8_t m,
                               const char *file, unsigned char *buf)
{
        FILE *fp = fopen(P(file), "rb");
        size_t n;

        assert_non_null(fp);
        n = fread(buf, 1, 64, fp);
        fclose(fp);
        return (struct tls_tlsa_rr){u, s, m, buf, n};
}

/* dane_run - one DANE handshake; returns the client info copy fields */
static bool dane_run(struct tls_ctx *s, struct tls_ctx *c,
                     const struct tls_tlsa_rr *rr, size_t n, const char *base,
                     const char *host, int *depth, char *match, size_t msz,
                     int *usable)
{
        struct pair p;
        bool verified;

        pair_open(&p);
        handshake(&p, s, c,
                  &(struct tls_start){.tlsa = rr,
                                      .ntlsa = n,
                                      .dane_base = base,
                                      .dane_hostname = host,
                                      .loglevel = -1});
        assert_int_equal(p.rc, TLS_IO_DONE);
        const struct tls_info *i = tls_conn_info(p.c);
        assert_true(i->dane);
        verified = i->verified;
        assert_int_equal(i->trusted, i->verified);
        if (depth)
                *depth = i->dane_depth;
        if (match)
                snprintf(match, msz, "%s", i->dane_match);
        if (usable)
                *usable = i->dane_usable;
        if (verified) {
                char *line = summary(p.c);
                assert_non_null(strstr(line, "Verified TLS connection "
                                             "established to"));
                free(line);
        }
        pair_close(&p);
        return verified;
}

static void test_dane(void **state)
{
        (void)state;
        unsigned char b1[64], b2[64], wrong[64];
        char match[512];
        int depth, usable;
        struct tls_ctx *rsa = srv(&(struct tls_server_settings){
            .cert_file = P("srv.pem"), .key_file = P("srv.key")});
        struct tls_ctx *expired = srv(&(struct tls_server_settings){
            .cert_file = P("expired.pem"), .key_file = P("srv.key")});
        struct tls_ctx *ecchain = srv(&(struct tls_server_settings){
            .cert_file = P("ecchain.pem"), .key_file = P("ec.key")});
        /* no CAfile: only DANE can authenticate */
        struct tls_ctx *c = cli(&(struct tls_client_settings){.loglevel = 1});
        struct tls_ctx *c256 =
            cli(&(struct tls_client_settings){.dane_digests = "sha256"});

        memset(wrong, 0xA5, sizeof(wrong));
        /* DANE-EE public key, and whole certificate */
        struct tls_tlsa_rr ee = tlsa(3, 1, 1, "srv.spki256", b1);
        assert_true(dane_run(rsa, c, &ee, 1, "mx.example.org", NULL, &depth,
                             match, sizeof(match), NULL));
        assert_int_equal(depth, 0);
        assert_true(
            strncmp(match, "end entity public-key sha256 digest ", 36) == 0);
        struct tls_tlsa_rr ee0 = tlsa(3, 0, 1, "srv.cert256", b2);
        assert_true(dane_run(rsa, c, &ee0, 1, "mx.example.org", NULL, NULL,
                             NULL, 0, NULL));
        /* a digest of something else: not verified, not even trusted */
        struct tls_tlsa_rr bad = {3, 1, 1, wrong, 32};
        assert_false(dane_run(rsa, c, &bad, 1, "mx.example.org", NULL, &depth,
                              NULL, 0, NULL));
        assert_int_equal(depth, -1);
        /* DANE-EE ignores names and dates */
        assert_true(dane_run(rsa, c, &ee, 1, "unrelated.example", NULL, NULL,
                             NULL, 0, NULL));
        assert_true(dane_run(expired, c, &ee, 1, "mx.example.org", NULL, NULL,
                             NULL, 0, NULL));

        /* DANE-TA: the intermediate's key, chain sent, name checked
         * against the TLSA base domain or the MX host name */
        struct tls_tlsa_rr ta = tlsa(2, 1, 1, "int.spki256", b1);
        assert_true(dane_run(ecchain, c, &ta, 1, "mx.example.org", NULL, &depth,
                             match, sizeof(match), NULL));
        assert_int_equal(depth, 1);
        assert_true(strncmp(match, "trust anchor public-key", 23) == 0);
        assert_false(dane_run(ecchain, c, &ta, 1, "other.example",
                              "mx.other.net", NULL, NULL, 0, NULL));
        assert_true(dane_run(ecchain, c, &ta, 1, "other.example",
                             "mx.example.org", NULL, NULL, 0, NULL));
        /* a TA record for a CA the server does not chain to */
        assert_false(dane_run(rsa, c, &ta, 1, "mx.example.org", NULL, NULL,
                              NULL, 0, NULL));

        /* PKIX usages are unusable for SMTP */
        struct tls_tlsa_rr pkix = tlsa(1, 1, 1, "srv.spki256", b1);
        assert_false(dane_run(rsa, c, &pkix, 1, "mx.example.org", NULL, NULL,
                              NULL, 0, &usable));
        assert_int_equal(usable, 0);

        /* digest agility: the strongest listed type decides */
        struct tls_tlsa_rr two[2];
        two[0] = (struct tls_tlsa_rr){3, 1, 1, wrong, 32};
        two[1] = tlsa(3, 1, 2, "srv.spki512", b2);
        assert_true(dane_run(rsa, c, two, 2, "mx.example.org", NULL, NULL, NULL,
                             0, NULL));
        two[0] = tlsa(3, 1, 1, "srv.spki256", b1);
        /* (a SHA-512 record must be 64 bytes to be usable at all) */
        two[1] = (struct tls_tlsa_rr){3, 1, 2, wrong, 64};
        assert_false(dane_run(rsa, c, two, 2, "mx.example.org", NULL, NULL,
                              NULL, 0, NULL));
        /* with tls_dane_digests = sha256, SHA-512 records are not used */
        assert_true(dane_run(rsa, c256, two, 2, "mx.example.org", NULL, NULL,
                             NULL, 0, NULL));

        tls_ctx_free(rsa);
        tls_ctx_free(expired);
        tls_ctx_free(ecchain);
        tls_ctx_free(c);
        tls_ctx_free(c256);
}

/* dane_resume - a verified DANE session with the records first, then a
 * second offering its ticket with the records rr: whether that one was
 * resumed, and whether it was verified */
static void dane_resume(struct tls_ctx *s, struct tls_ctx *c,
                        const struct tls_tlsa_rr *first,
                        const struct tls_tlsa_rr *rr, size_t n, bool *reused,
                        bool *verified)
{
        struct pair p;
        unsigned char *sess = NULL;
        size_t len = 0;

        pair_open(&p);
        handshake(&p, s, c,
                  &(struct tls_start){.tlsa = first,
                                      .ntlsa = 1,
                                      .dane_base = "mx.example.org",
                                      .loglevel = -1});
        assert_int_equal(p.rc, TLS_IO_DONE);
        assert_true(tls_conn_info(p.c)->verified);
        exchange(&p);
        assert_int_equal(tls_conn_session_export(p.c, &sess, &len), 0);
        pair_close(&p);

        pair_open(&p);
        handshake(&p, s, c,
                  &(struct tls_start){.tlsa = rr,
                                      .ntlsa = n,
                                      .dane_base = "mx.example.org",
                                      .session = sess,
                                      .session_len = len,
                                      .loglevel = -1});
        assert_int_equal(p.rc, TLS_IO_DONE);
        *reused = tls_conn_info(p.c)->reused;
        *verified = tls_conn_info(p.c)->verified;
        pair_close(&p);
        free(sess);
}

/* test_dane_resumption - OpenSSL does not check DANE on a resumed
 * session: a session is offered only when its certificate matches the
 * current DANE-EE records, strongest digest first, never for DANE-TA */
static void test_dane_resumption(void **state)
{
        (void)state;
        unsigned char b1[64], b2[64], wrong[64];
        bool reused, verified;
        struct tls_ticket_keys *k = tls_ticket_keys_new();
        struct tls_server_settings ss = {.cert_file = P("srv.pem"),
                                         .key_file = P("srv.key"),
                                         .ticket_keys = k,
                                         .session_cache_timeout = -1};
        struct tls_ctx *rsa = srv(&ss);
        ss.cert_file = P("ecchain.pem");
        ss.key_file = P("ec.key");
        struct tls_ctx *ecchain = srv(&ss);
        struct tls_ctx *c =
            cli(&(struct tls_client_settings){.session_cache_timeout = -1});
        struct tls_ctx *c256 = cli(&(struct tls_client_settings){
            .dane_digests = "sha256", .session_cache_timeout = -1});

        memset(wrong, 0xA5, sizeof(wrong));
        struct tls_tlsa_rr ee = tlsa(3, 1, 1, "srv.spki256", b1);
        dane_resume(rsa, c, &ee, &ee, 1, &reused, &verified);
        assert_true(reused);
        assert_true(verified);

        /* the records changed to another key: no resumption, no trust */
        struct tls_tlsa_rr bad = {3, 1, 1, wrong, 32};
        dane_resume(rsa, c, &ee, &bad, 1, &reused, &verified);
        assert_false(reused);
        assert_false(verified);

        /* a SHA-512 record was added that does not match: it outranks the
         * matching SHA-256 one, as in a full handshake */
        struct tls_tlsa_rr two[2] = {ee, {3, 1, 2, wrong, 64}};
        dane_resume(rsa, c, &ee, two, 2, &reused, &verified);
        assert_false(reused);
        assert_false(verified);
        /* unless SHA-512 is not among tls_dane_digests */
        dane_resume(rsa, c256, &ee, two, 2, &reused, &verified);
        assert_true(reused);
        assert_true(verified);
        /* a SHA-512 record of the wrong length is unusable and ranks
         * nothing */
        two[1] = (struct tls_tlsa_rr){3, 1, 2, wrong, 32};
        dane_resume(rsa, c, &ee, two, 2, &reused, &verified);
        assert_true(reused);
        assert_true(verified);

        /* DANE-TA: never resumed, verified by a full handshake */
        struct tls_tlsa_rr ta = tlsa(2, 1, 1, "int.spki256", b2);
        dane_resume(ecchain, c, &ta, &ta, 1, &reused, &verified);
        assert_false(reused);
        assert_true(verified);

        tls_ctx_free(rsa);
        tls_ctx_free(ecchain);
        tls_ctx_free(c);
        tls_ctx_free(c256);
        tls_ticket_keys_free(k);
}

static void test_garbage_client_hello(void **state)
{
        static const char *junk[] = {
            "EHLO client.example.org\r\n",
            "\x16\x03\x01\xff\xff garbage that claims to be a huge record",
            "\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00",
            "\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80",
        };
        (void)state;
        struct tls_ctx *s = srv(&(struct tls_server_settings){
            .cert_file = P("srv.pem"), .key_file = P("srv.key")});
        for (size_t i = 0; i < ARRAY_SIZE(junk); i++) {
                int fd[2];
                const char *err;
                struct tls_conn *c;
                assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fd), 0);
                fcntl(fd[0], F_SETFL, O_NONBLOCK);
                assert_int_equal(
                    tls_conn_start(&(struct tls_start){.ctx = s,
                                                       .fd = fd[0],
                                                       .namaddr = "x[1.2.3.4]"},
                                   &c, &err),
                    0);
                assert_int_equal(tls_conn_handshake(c), TLS_IO_WANT_READ);
                assert_true(write(fd[1], junk[i], strlen(junk[i])) > 0);
                shutdown(fd[1], SHUT_WR);
                enum tls_io r;
                for (int k = 0; k < 50; k++) {
                        r = tls_conn_handshake(c);
                        if (r != TLS_IO_WANT_READ)
                                break;
                        wait_io(fd[0], r, -1, 0);
                }
                assert_int_equal(r, TLS_IO_ERROR);
                assert_non_null(strstr(tls_conn_error(c),
                                       "SSL_accept error from x[1.2.3.4]"));
                assert_null(tls_conn_info(c));
                tls_conn_free(c);
                close(fd[0]);
                close(fd[1]);
        }
        tls_ctx_free(s);
}

/* pending - bytes waiting to be read on fd */
static int pending(int fd)
{
        int n = -1;

        assert_int_equal(ioctl(fd, FIONREAD, &n), 0);
        return n;
}

/* read_all - read len bytes from a session, waiting as needed */
static void read_all(struct tls_conn *c, int fd, char *buf, size_t len)
{
        size_t have = 0;

        for (int i = 0; have < len && i < 100; i++) {
                size_t n = 0;
                tls_conn_readable(c);
                enum tls_io r = tls_conn_read(c, buf + have, len - have, &n);
                if (r == TLS_IO_DONE) {
                        have += n;
                        continue;
                }
                assert_true(r == TLS_IO_WANT_READ);
                wait_io(fd, r, -1, 0);
        }
        assert_int_equal(have, len);
}

/* test_coalesce - a coalescing server session holds what it writes (the
 * ticket, a reply) until it reads, flushes or shuts down, then sends it
 * all; it does not read a drained socket again until told; and a peer
 * that does not read makes it wait, not buffer without end */
static void test_coalesce(void **state)
{
        struct pair p;
        char buf[64];
        size_t n = 0;
        (void)state;
        struct tls_ctx *s =
            srv(&(struct tls_server_settings){.cert_file = P("srv.pem"),
                                              .key_file = P("srv.key"),
                                              .session_cache_timeout = -1});
        struct tls_ctx *c =
            cli(&(struct tls_client_settings){.session_cache_timeout = -1});
        unsigned char *sess = NULL;
        size_t sess_len = 0;

        pair_open(&p);
        p.coalesce = true;
        handshake(&p, s, c, &(struct tls_start){.loglevel = -1});
        assert_int_equal(p.rs, TLS_IO_DONE);
        assert_int_equal(p.rc, TLS_IO_DONE);
        /* the session ticket is held: nothing reached the client yet */
        assert_int_equal(pending(p.fd[1]), 0);
        assert_int_equal(tls_conn_write(p.s, "220 hi\r\n", 8, &n), TLS_IO_DONE);
        assert_int_equal(pending(p.fd[1]), 0);
        /* the read that finds no input sends ticket and reply together */
        tls_conn_readable(p.s);
        assert_int_equal(tls_conn_read(p.s, buf, sizeof(buf), &n),
                         TLS_IO_WANT_READ);
        assert_true(pending(p.fd[1]) > 0);
        read_all(p.c, p.fd[1], buf, 8);
        assert_memory_equal(buf, "220 hi\r\n", 8);
        assert_int_equal(tls_conn_session_export(p.c, &sess, &sess_len), 0);
        free(sess);

        /* drained: input that arrives later is read after
         * tls_conn_readable, not before */
        assert_int_equal(tls_conn_write(p.c, "EHLO x\r\n", 8, &n), TLS_IO_DONE);
        assert_true(pending(p.fd[0]) > 0);
        assert_int_equal(tls_conn_read(p.s, buf, sizeof(buf), &n),
                         TLS_IO_WANT_READ);
        read_all(p.s, p.fd[0], buf, 8);
        assert_memory_equal(buf, "EHLO x\r\n", 8);

        /* tls_conn_flush sends at once */
        assert_int_equal(tls_conn_write(p.s, "250 ok\r\n", 8, &n), TLS_IO_DONE);
        assert_int_equal(pending(p.fd[1]), 0);
        assert_int_equal(tls_conn_flush(p.s), TLS_IO_DONE);
        read_all(p.c, p.fd[1], buf, 8);
        assert_memory_equal(buf, "250 ok\r\n", 8);

        /* a client that does not read: the server must wait, and then
         * everything arrives intact */
        static char big[1 << 20], got[1 << 20];
        size_t put = 0;
        bool waited = false;
        for (size_t i = 0; i < sizeof(big); i++)
                big[i] = (char)(i * 7 + i / 4096);
        while (put < sizeof(big)) {
                enum tls_io r =
                    tls_conn_write(p.s, big + put, sizeof(big) - put, &n);
                if (r == TLS_IO_DONE) {
                        put += n;
                        continue;
                }
                assert_int_equal(r, TLS_IO_WANT_WRITE);
                waited = true;
                break;
        }
        assert_true(waited);
        assert_true(put < sizeof(big));
        size_t have = 0;
        while (have < sizeof(big)) {
                if (put < sizeof(big)) {
                        enum tls_io r = tls_conn_write(p.s, big + put,
                                                       sizeof(big) - put, &n);
                        if (r == TLS_IO_DONE)
                                put += n;
                        else
                                assert_int_equal(r, TLS_IO_WANT_WRITE);
                } else {
                        assert_true(tls_conn_flush(p.s) != TLS_IO_ERROR);
                }
                enum tls_io r =
                    tls_conn_read(p.c, got + have, sizeof(got) - have, &n);
                if (r == TLS_IO_DONE)
                        have += n;
                else
                        assert_int_equal(r, TLS_IO_WANT_READ);
        }
        assert_memory_equal(big, got, sizeof(big));

        /* shutdown sends the last reply with close_notify */
        assert_int_equal(tls_conn_write(p.s, "221 by\r\n", 8, &n), TLS_IO_DONE);
        assert_int_equal(pending(p.fd[1]), 0);
        assert_int_equal(tls_conn_shutdown(p.s), TLS_IO_DONE);
        read_all(p.c, p.fd[1], buf, 8);
        assert_memory_equal(buf, "221 by\r\n", 8);
        enum tls_io r = TLS_IO_WANT_READ;
        for (int i = 0; i < 100 && r == TLS_IO_WANT_READ; i++) {
                r = tls_conn_read(p.c, buf, sizeof(buf), &n);
                if (r == TLS_IO_WANT_READ)
                        wait_io(-1, 0, p.fd[1], r);
        }
        assert_int_equal(r, TLS_IO_CLOSED);
        pair_close(&p);
        tls_ctx_free(s);
        tls_ctx_free(c);
}

/* heap_in_use - bytes malloc has handed out (0 where a sanitizer's
 * allocator replaces glibc's) */
static size_t heap_in_use(void)
{
        struct mallinfo2 mi = mallinfo2();

        return mi.uordblks;
}

/* test_release_buffers - an idle server session gives OpenSSL's record
 * buffers back, and goes on working; buffers that hold unread input are
 * kept */
static void test_release_buffers(void **state)
{
        struct pair p;
        char buf[64];
        size_t n = 0;
        (void)state;
        struct tls_ctx *s = srv(&(struct tls_server_settings){
            .cert_file = P("srv.pem"), .key_file = P("srv.key")});
        struct tls_ctx *c = cli(&(struct tls_client_settings){0});

        pair_open(&p);
        handshake(&p, s, c, &(struct tls_start){.loglevel = -1});
        assert_int_equal(p.rs, TLS_IO_DONE);
        exchange(&p);
        size_t before = heap_in_use();
        tls_conn_release_buffers(p.s);
        size_t after = heap_in_use();
        if (before > 0) /* glibc's allocator: a read and a write buffer */
                assert_true(before - after >= 16384);
        exchange(&p); /* allocated again on demand */

        /* two records, one read of half: the rest stays readable */
        assert_int_equal(tls_conn_write(p.c, "abcd", 4, &n), TLS_IO_DONE);
        assert_int_equal(tls_conn_write(p.c, "efgh", 4, &n), TLS_IO_DONE);
        for (int i = 0; i < 100; i++) {
                enum tls_io r = tls_conn_read(p.s, buf, 4, &n);
                if (r == TLS_IO_DONE)
                        break;
                wait_io(p.fd[0], r, -1, 0);
        }
        assert_memory_equal(buf, "abcd", 4);
        tls_conn_release_buffers(p.s);
        read_all(p.s, p.fd[0], buf, 4);
        assert_memory_equal(buf, "efgh", 4);
        pair_close(&p);
        tls_ctx_free(s);
        tls_ctx_free(c);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_tls13_verified),
            cmocka_unit_test(test_trust_words),
            cmocka_unit_test(test_client_certificate),
            cmocka_unit_test(test_protocols_and_ecdsa),
            cmocka_unit_test(test_client_cipher_grade_lists),
            cmocka_unit_test(test_resumption),
            cmocka_unit_test(test_rotating_keys),
            cmocka_unit_test(test_dane),
            cmocka_unit_test(test_dane_resumption),
            cmocka_unit_test(test_garbage_client_hello),
            cmocka_unit_test(test_coalesce),
            cmocka_unit_test(test_release_buffers),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}

/* SPDX-License-Identifier: MIT */
/*
 * tlsfloor.c - what OpenSSL alone costs a server per full TLS handshake.
 *
 * Both ends run in this process over a memory BIO pair, so no system call,
 * event loop or SMTP is involved: the figure is the CPU time of the server
 * side only (SSL_new, the handshake with its session ticket, one short
 * record each way, SSL_free), measured with the thread CPU clock around
 * the server's calls.  It is the floor any server using this OpenSSL pays
 * per STARTTLS session, postern and Postfix alike.
 *
 *   tlsfloor CERT KEY [HANDSHAKES]
 *
 * prints one JSON object: the mean server CPU per handshake in ms with one
 * session ticket (as both servers are configured) and without.
 */
#define _POSIX_C_SOURCE 200809L
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* cpu_us - this thread's CPU time in microseconds */
static double cpu_us(void)
{
        struct timespec t;

        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
        return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* die - report OpenSSL's errors and stop */
static void die(const char *what)
{
        fprintf(stderr, "tlsfloor: %s\n", what);
        ERR_print_errors_fp(stderr);
        exit(1);
}

/* server_ctx - the benchmark's server settings: TLS 1.3 by default, one
 * ticket or none, no session cache, read-ahead, buffers kept */
static SSL_CTX *server_ctx(const char *cert, const char *key, int tickets)
{
        SSL_CTX *s = SSL_CTX_new(TLS_server_method());

        if (s == NULL || SSL_CTX_use_certificate_chain_file(s, cert) != 1 ||
            SSL_CTX_use_PrivateKey_file(s, key, SSL_FILETYPE_PEM) != 1)
                die("cannot load the certificate and key");
        SSL_CTX_set_session_cache_mode(s, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_num_tickets(s, (size_t)tickets);
        if (tickets == 0)
                SSL_CTX_set_options(s, SSL_OP_NO_TICKET);
        SSL_CTX_set_read_ahead(s, 1);
        return s;
}

/* one - a handshake and an exchange; returns the server's CPU in us */
static double one(SSL_CTX *sctx, SSL_CTX *cctx)
{
        SSL *c = SSL_new(cctx), *s;
        BIO *cb = NULL, *sb = NULL;
        char buf[64];
        double t0, used = 0;
        int done = 0;

        if (c == NULL || !BIO_new_bio_pair(&cb, 0, &sb, 0))
                die("cannot set up a client");
        SSL_set_bio(c, cb, cb);
        SSL_set_connect_state(c);
        t0 = cpu_us();
        s = SSL_new(sctx);
        if (s == NULL)
                die("SSL_new");
        SSL_set_bio(s, sb, sb);
        SSL_set_accept_state(s);
        used += cpu_us() - t0;
        for (int k = 0; k < 20 && !done; k++) {
                (void)SSL_do_handshake(c);
                t0 = cpu_us();
                done = SSL_do_handshake(s) == 1;
                used += cpu_us() - t0;
        }
        if (!done || SSL_write(c, "EHLO x\r\n", 8) != 8)
                die("handshake");
        t0 = cpu_us();
        if (SSL_read(s, buf, sizeof(buf)) != 8 ||
            SSL_write(s, "250 ok\r\n", 8) != 8)
                die("server exchange");
        used += cpu_us() - t0;
        if (SSL_read(c, buf, sizeof(buf)) != 8)
                die("client read");
        SSL_free(c);
        t0 = cpu_us();
        SSL_free(s);
        return used + cpu_us() - t0;
}

/* mean_ms - the mean of n handshakes, after n / 10 not counted */
static double mean_ms(SSL_CTX *sctx, SSL_CTX *cctx, int n)
{
        double sum = 0;

        for (int i = 0; i < n / 10; i++)
                (void)one(sctx, cctx);
        for (int i = 0; i < n; i++)
                sum += one(sctx, cctx);
        return sum / n / 1000.0;
}

int main(int argc, char **argv)
{
        int n = argc > 3 ? atoi(argv[3]) : 2000;
        SSL_CTX *cctx, *with, *without;

        if (argc < 3 || n <= 0) {
                fprintf(stderr, "usage: tlsfloor CERT KEY [HANDSHAKES]\n");
                return 2;
        }
        cctx = SSL_CTX_new(TLS_client_method());
        if (cctx == NULL)
                die("SSL_CTX_new");
        with = server_ctx(argv[1], argv[2], 1);
        without = server_ctx(argv[1], argv[2], 0);
        double a = mean_ms(with, cctx, n);
        double b = mean_ms(without, cctx, n);
        printf("{\"handshakes\": %d, \"server_ms_per_handshake\": %.4f, "
               "\"server_ms_per_handshake_no_ticket\": %.4f, "
               "\"openssl\": \"%s\"}\n",
               n, a, b, OpenSSL_version(OPENSSL_VERSION));
        SSL_CTX_free(with);
        SSL_CTX_free(without);
        SSL_CTX_free(cctx);
        return 0;
}

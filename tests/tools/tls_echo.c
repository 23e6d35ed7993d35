/* SPDX-License-Identifier: MIT */
/*
 * tls_echo - a test-only TLS echo server on loopback built on postern's
 * tls layer, for the integration tests (Python ssl and openssl s_client
 * connect to it).  It prints "ready PORT" once listening, then for every
 * connection one "summary: ..." line (Postfix's "... TLS connection
 * established ..." text), one "peer: ..." line, and "error: ..." when a
 * handshake fails; it echoes what it reads until the client closes.
 *
 *   tls_echo -c CERT [-k KEY] [-e ECCERT] [-C CAFILE] [-a] [-r]
 *            [-p PROTOCOLS] [-g GRADE] [-x EXCLUDE] [-d DIGEST]
 *            [-t TICKETKEYFILE] [-l PORT]
 *   tls_echo -K TICKETKEYFILE       write a fresh ticket key file and exit
 */
#include "tls/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXCONN 64

struct client {
        int fd;
        struct tls_conn *tls;
        bool established;
        enum tls_io want;
        char buf[4096];
        size_t len; /* bytes waiting to be echoed */
};

static struct client clients[MAXCONN];

/* client_close - drop one connection */
static void client_close(struct client *c)
{
        tls_conn_free(c->tls);
        close(c->fd);
        memset(c, 0, sizeof(*c));
        c->fd = -1;
}

/* client_step - advance one connection as far as it goes */
static void client_step(struct client *c)
{
        for (;;) {
                if (!c->established) {
                        c->want = tls_conn_handshake(c->tls);
                        if (c->want == TLS_IO_ERROR) {
                                printf("error: %s\n", tls_conn_error(c->tls));
                                fflush(stdout);
                                client_close(c);
                                return;
                        }
                        if (c->want != TLS_IO_DONE)
                                return;
                        c->established = true;
                        const struct tls_info *i = tls_conn_info(c->tls);
                        struct strbuf sb;
                        strbuf_init(&sb);
                        tls_conn_summary(c->tls, &sb);
                        printf("summary: %s\n", strbuf_cstr(&sb));
                        printf("peer: cert=%d trusted=%d reused=%d CN=%s "
                               "issuer=%s fingerprint=%s pkey_fingerprint=%s\n",
                               i->peer_cert, i->trusted, i->reused, i->peer_CN,
                               i->issuer_CN, i->cert_fprint, i->pkey_fprint);
                        fflush(stdout);
                        strbuf_clear(&sb);
                }
                size_t n;
                if (c->len > 0) {
                        c->want = tls_conn_write(c->tls, c->buf, c->len, &n);
                        if (c->want == TLS_IO_DONE) {
                                memmove(c->buf, c->buf + n, c->len - n);
                                c->len -= n;
                                continue;
                        }
                } else {
                        c->want =
                            tls_conn_read(c->tls, c->buf, sizeof(c->buf), &n);
                        if (c->want == TLS_IO_DONE) {
                                c->len = n;
                                continue;
                        }
                }
                if (c->want == TLS_IO_CLOSED || c->want == TLS_IO_ERROR) {
                        if (c->want == TLS_IO_CLOSED)
                                (void)tls_conn_shutdown(c->tls);
                        else
                                printf("closed: %s\n", tls_conn_error(c->tls));
                        fflush(stdout);
                        client_close(c);
                }
                return;
        }
}

int main(int argc, char **argv)
{
        struct tls_server_settings s = {.session_cache_timeout = -1};
        const char *ticket_file = NULL, *err;
        int port = 0, opt;

        signal(SIGPIPE, SIG_IGN);
        while ((opt = getopt(argc, argv, "c:k:e:C:arp:g:x:d:t:l:K:")) != -1) {
                switch (opt) {
                case 'c':
                        s.cert_file = optarg;
                        break;
                case 'k':
                        s.key_file = optarg;
                        break;
                case 'e':
                        s.eccert_file = optarg;
                        break;
                case 'C':
                        s.CAfile = optarg;
                        break;
                case 'a':
                        s.ask_ccert = true;
                        break;
                case 'r':
                        s.req_ccert = true;
                        break;
                case 'p':
                        s.protocols = optarg;
                        break;
                case 'g':
                        s.ciphers = optarg;
                        break;
                case 'x':
                        s.exclude_ciphers = optarg;
                        break;
                case 'd':
                        s.fingerprint_digest = optarg;
                        break;
                case 't':
                        ticket_file = optarg;
                        break;
                case 'l':
                        port = atoi(optarg);
                        break;
                case 'K': {
                        struct tls_ticket_keys *k = tls_ticket_keys_new();
                        if (tls_ticket_keys_save(k, optarg, &err) < 0) {
                                fprintf(stderr, "tls_echo: %s\n", err);
                                return 1;
                        }
                        tls_ticket_keys_free(k);
                        return 0;
                }
                default:
                        fprintf(stderr, "usage: see tests/tools/tls_echo.c\n");
                        return 2;
                }
        }
        if (ticket_file) {
                s.ticket_keys = tls_ticket_keys_load(ticket_file, &err);
                if (s.ticket_keys == NULL) {
                        fprintf(stderr, "tls_echo: %s\n", err);
                        return 1;
                }
        }
        struct tls_ctx *ctx = tls_server_ctx_new(&s, &err);
        tls_ticket_keys_free(s.ticket_keys);
        if (ctx == NULL) {
                fprintf(stderr, "tls_echo: %s\n", err);
                return 1;
        }

        int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        struct sockaddr_in sin = {.sin_family = AF_INET,
                                  .sin_port = htons((uint16_t)port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t slen = sizeof(sin);
        setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
            listen(lfd, 16) < 0 ||
            getsockname(lfd, (struct sockaddr *)&sin, &slen) < 0) {
                perror("tls_echo: bind");
                return 1;
        }
        printf("ready %d\n", ntohs(sin.sin_port));
        fflush(stdout);
        for (int i = 0; i < MAXCONN; i++)
                clients[i].fd = -1;

        for (;;) {
                struct pollfd pfd[MAXCONN + 1];
                int idx[MAXCONN + 1], n = 0;

                pfd[n].fd = lfd;
                pfd[n].events = POLLIN;
                idx[n++] = -1;
                for (int i = 0; i < MAXCONN; i++) {
                        if (clients[i].fd < 0)
                                continue;
                        pfd[n].fd = clients[i].fd;
                        pfd[n].events = clients[i].want == TLS_IO_WANT_WRITE
                                            ? POLLOUT
                                            : POLLIN;
                        idx[n++] = i;
                }
                if (poll(pfd, (nfds_t)n, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        perror("tls_echo: poll");
                        return 1;
                }
                for (int k = 1; k < n; k++)
                        if (pfd[k].revents)
                                client_step(&clients[idx[k]]);
                if (pfd[0].revents & POLLIN) {
                        struct sockaddr_in peer;
                        socklen_t plen = sizeof(peer);
                        int fd = accept(lfd, (struct sockaddr *)&peer, &plen);
                        if (fd < 0)
                                continue;
                        int i;
                        for (i = 0; i < MAXCONN && clients[i].fd >= 0; i++)
                                ;
                        if (i == MAXCONN) {
                                close(fd);
                                continue;
                        }
                        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
                        if (tls_conn_start(
                                &(struct tls_start){.ctx = ctx,
                                                    .fd = fd,
                                                    .namaddr =
                                                        "localhost[127.0."
                                                        "0.1]",
                                                    .loglevel = -1},
                                &clients[i].tls, &err) < 0) {
                                printf("error: %s\n", err);
                                close(fd);
                                continue;
                        }
                        clients[i].fd = fd;
                        client_step(&clients[i]);
                }
        }
}

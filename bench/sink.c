/* SPDX-License-Identifier: MIT */
/*
 * sink - SMTP sink server for the outbound benchmark.
 *
 * One process, non-blocking sockets, epoll, OpenSSL.  Listens on one
 * address, offers PIPELINING, SIZE, 8BITMIME, ENHANCEDSTATUSCODES and (unless
 * -S) STARTTLS, accepts every MAIL, RCPT and DATA, discards the content and
 * counts the messages whose final dot it acknowledged with 250.  It never
 * offers CHUNKING, DSN or SMTPUTF8.
 *
 * The driver asks for the counters with the command XSTAT on any connection
 * (reply "250 MESSAGES CONNECTIONS TLS_FULL TLS_RESUMED"); when standard
 * input is closed the sink prints the same counters as one JSON object on
 * standard output and exits.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* What a connection is doing. */
enum cstate {
        C_CMD,       /* reading command lines */
        C_DATA,      /* reading message content up to the final dot */
        C_HANDSHAKE, /* TLS handshake after 220 to STARTTLS */
        C_CLOSING,   /* flushing the last reply, then close */
};

/* Where the end-of-data scanner stands (the last bytes seen). */
enum dotstate {
        D_LINE,   /* inside a line */
        D_CR,     /* CR inside a line */
        D_BOL,    /* at the start of a line */
        D_DOT,    /* "." at the start of a line */
        D_DOT_CR, /* ".\r" at the start of a line */
};

struct conn {
        int fd;
        SSL *ssl;
        enum cstate st;
        enum dotstate ds;
        bool tls;
        bool want_write;
        char in[16384];
        size_t inlen;
        char out[8192];
        size_t outlen;
        size_t outoff;
};

struct counters {
        long messages;
        long conns;
        long tls_full;
        long tls_resumed;
        long errors;
};

static struct counters N;
static SSL_CTX *ctx;
static int ep;
static int lfd;
static bool starttls = true;
static const char *hostname = "sink.bench.test";

/* die - print a message and exit */
static void die(const char *what)
{
        perror(what);
        exit(2);
}

/* reply - queue a reply line (CRLF added); flushed after the input batch */
static void reply(struct conn *c, const char *text)
{
        size_t n = strlen(text);
        if (c->outlen + n + 2 > sizeof(c->out))
                return; /* cannot happen with the replies below */
        memcpy(c->out + c->outlen, text, n);
        c->outlen += n;
        c->out[c->outlen++] = '\r';
        c->out[c->outlen++] = '\n';
}

/* conn_close - forget a connection */
static void conn_close(struct conn *c)
{
        if (c->ssl)
                SSL_free(c->ssl);
        close(c->fd);
        free(c);
}

/* conn_interest - tell epoll what the connection waits for */
static void conn_interest(struct conn *c)
{
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (c->want_write || c->outoff < c->outlen)
                ev.events |= EPOLLOUT;
        if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
                die("epoll_ctl");
}

/* tls_wait - after an SSL call on c returned r <= 0: 0 when it must
 * wait (want_write set when for writing), -1 on an error */
static int tls_wait(struct conn *c, int r)
{
        switch (SSL_get_error(c->ssl, r)) {
        case SSL_ERROR_WANT_READ:
                return 0;
        case SSL_ERROR_WANT_WRITE:
                c->want_write = true;
                return 0;
        default:
                return -1;
        }
}

/* flush - write queued replies; 0 done or blocked, -1 error */
static int flush(struct conn *c)
{
        c->want_write = false;
        while (c->outoff < c->outlen) {
                size_t left = c->outlen - c->outoff;
                if (c->ssl && c->tls) {
                        int n =
                            SSL_write(c->ssl, c->out + c->outoff, (int)left);
                        if (n <= 0) {
                                int e = SSL_get_error(c->ssl, n);
                                if (e == SSL_ERROR_WANT_WRITE ||
                                    e == SSL_ERROR_WANT_READ) {
                                        c->want_write = true;
                                        return 0;
                                }
                                return -1;
                        }
                        c->outoff += (size_t)n;
                } else {
                        ssize_t n =
                            send(c->fd, c->out + c->outoff, left, MSG_NOSIGNAL);
                        if (n < 0) {
                                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                                        c->want_write = true;
                                        return 0;
                                }
                                return -1;
                        }
                        c->outoff += (size_t)n;
                }
        }
        c->outlen = c->outoff = 0;
        return 0;
}

/* data_scan - consume content; returns bytes used, sets C_CMD at the dot */
static size_t data_scan(struct conn *c, const char *p, size_t n)
{
        enum dotstate d = c->ds;
        for (size_t i = 0; i < n; i++) {
                char ch = p[i];
                switch (d) {
                case D_LINE:
                        d = ch == '\r' ? D_CR : D_LINE;
                        break;
                case D_CR:
                        d = ch == '\n' ? D_BOL : ch == '\r' ? D_CR : D_LINE;
                        break;
                case D_BOL:
                        d = ch == '.' ? D_DOT : ch == '\r' ? D_CR : D_LINE;
                        break;
                case D_DOT:
                        d = ch == '\r' ? D_DOT_CR : D_LINE;
                        break;
                case D_DOT_CR:
                        if (ch == '\n') {
                                char buf[64];
                                N.messages++;
                                snprintf(buf, sizeof(buf),
                                         "250 2.0.0 Ok: queued as S%ld",
                                         N.messages);
                                reply(c, buf);
                                c->st = C_CMD;
                                c->ds = D_BOL;
                                return i + 1;
                        }
                        d = ch == '\r' ? D_CR : D_LINE;
                        break;
                default:
                        d = D_LINE;
                }
        }
        c->ds = d;
        return n;
}

/* is_cmd - does the line start with this command (case-insensitive) */
static bool is_cmd(const char *line, size_t len, const char *cmd)
{
        size_t n = strlen(cmd);
        return len >= n && strncasecmp(line, cmd, n) == 0 &&
               (len == n || line[n] == ' ' || line[n] == '\r');
}

/* command - handle one command line (without its LF) */
static void command(struct conn *c, const char *line, size_t len)
{
        if (is_cmd(line, len, "EHLO")) {
                char buf[128];
                snprintf(buf, sizeof(buf), "250-%s", hostname);
                reply(c, buf);
                reply(c, "250-PIPELINING");
                reply(c, "250-SIZE 104857600");
                if (starttls && !c->tls)
                        reply(c, "250-STARTTLS");
                reply(c, "250-ENHANCEDSTATUSCODES");
                reply(c, "250 8BITMIME");
        } else if (is_cmd(line, len, "HELO")) {
                reply(c, "250 sink.bench.test");
        } else if (is_cmd(line, len, "MAIL")) {
                reply(c, "250 2.1.0 Ok");
        } else if (is_cmd(line, len, "RCPT")) {
                reply(c, "250 2.1.5 Ok");
        } else if (is_cmd(line, len, "DATA")) {
                reply(c, "354 End data with <CR><LF>.<CR><LF>");
                c->st = C_DATA;
                c->ds = D_BOL;
        } else if (is_cmd(line, len, "RSET") || is_cmd(line, len, "NOOP")) {
                reply(c, "250 2.0.0 Ok");
        } else if (is_cmd(line, len, "QUIT")) {
                reply(c, "221 2.0.0 Bye");
                c->st = C_CLOSING;
        } else if (is_cmd(line, len, "STARTTLS") && starttls && !c->tls) {
                reply(c, "220 2.0.0 Ready to start TLS");
                c->st = C_HANDSHAKE;
        } else if (is_cmd(line, len, "XSTAT")) {
                char buf[160];
                snprintf(buf, sizeof(buf), "250 %ld %ld %ld %ld", N.messages,
                         N.conns, N.tls_full, N.tls_resumed);
                reply(c, buf);
        } else {
                reply(c, "502 5.5.2 Error: command not recognized");
        }
}

/* consume - handle buffered input in command or data mode */
static void consume(struct conn *c)
{
        size_t off = 0;
        while (off < c->inlen && (c->st == C_CMD || c->st == C_DATA)) {
                if (c->st == C_DATA) {
                        off += data_scan(c, c->in + off, c->inlen - off);
                        continue;
                }
                char *eol = memchr(c->in + off, '\n', c->inlen - off);
                if (!eol)
                        break;
                size_t len = (size_t)(eol - (c->in + off));
                command(c, c->in + off, len);
                off += len + 1;
        }
        if (c->st == C_HANDSHAKE)
                off = c->inlen; /* plaintext after STARTTLS is dropped */
        memmove(c->in, c->in + off, c->inlen - off);
        c->inlen -= off;
        if (c->inlen == sizeof(c->in) && c->st == C_CMD)
                c->inlen = 0; /* an absurd line: drop it */
}

/* conn_read - read what is available; 0 go on, -1 close */
static int conn_read(struct conn *c)
{
        for (;;) {
                if (c->st == C_HANDSHAKE || c->st == C_CLOSING)
                        return 0;
                size_t room = sizeof(c->in) - c->inlen;
                ssize_t n;
                if (c->tls) {
                        int r = SSL_read(c->ssl, c->in + c->inlen, (int)room);
                        if (r <= 0)
                                return tls_wait(c, r);
                        n = r;
                } else {
                        n = recv(c->fd, c->in + c->inlen, room, 0);
                        if (n < 0)
                                return errno == EAGAIN || errno == EWOULDBLOCK
                                           ? 0
                                           : -1;
                        if (n == 0)
                                return -1;
                }
                c->inlen += (size_t)n;
                consume(c);
                /* a long pipelined batch: send what is due before reading
                 * on, so the reply buffer never overflows */
                if (c->outlen > sizeof(c->out) / 2) {
                        if (flush(c) < 0)
                                return -1;
                        if (c->outoff < c->outlen)
                                return 0;
                }
        }
}

/* handshake - progress the TLS handshake; 0 go on, -1 close */
static int handshake(struct conn *c)
{
        if (!c->ssl) {
                c->ssl = SSL_new(ctx);
                if (!c->ssl)
                        return -1;
                SSL_set_fd(c->ssl, c->fd);
        }
        int r = SSL_accept(c->ssl);
        if (r == 1) {
                c->tls = true;
                c->st = C_CMD;
                c->ds = D_BOL;
                if (SSL_session_reused(c->ssl))
                        N.tls_resumed++;
                else
                        N.tls_full++;
                return 0;
        }
        if (tls_wait(c, r) == 0)
                return 0;
        N.errors++;
        return -1;
}

/* conn_event - progress a connection after an epoll event */
static void conn_event(struct conn *c, uint32_t events)
{
        if ((events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLIN)) {
                conn_close(c);
                return;
        }
        for (;;) {
                if (flush(c) < 0) {
                        conn_close(c);
                        return;
                }
                if (c->outoff < c->outlen)
                        break; /* blocked: wait for EPOLLOUT */
                if (c->st == C_CLOSING) {
                        conn_close(c);
                        return;
                }
                if (c->st == C_HANDSHAKE) {
                        if (handshake(c) < 0) {
                                conn_close(c);
                                return;
                        }
                        if (c->st == C_HANDSHAKE)
                                break;
                }
                if (conn_read(c) < 0) {
                        conn_close(c);
                        return;
                }
                /* replies or a state change to act on: loop once more */
                if (c->outlen == 0 && c->st != C_HANDSHAKE &&
                    c->st != C_CLOSING)
                        break;
        }
        conn_interest(c);
}

/* accept_all - take every pending connection */
static void accept_all(void)
{
        for (;;) {
                int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) {
                        if (errno != EAGAIN && errno != EWOULDBLOCK &&
                            errno != EINTR && errno != ECONNABORTED)
                                perror("accept");
                        return;
                }
                int one = 1;
                (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
                                 sizeof(one));
                struct conn *c = calloc(1, sizeof(*c));
                if (!c) {
                        close(fd);
                        continue;
                }
                c->fd = fd;
                c->st = C_CMD;
                N.conns++;
                char buf[128];
                snprintf(buf, sizeof(buf), "220 %s ESMTP sink", hostname);
                reply(c, buf);
                struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT,
                                         .data.ptr = c};
                if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
                        die("epoll_ctl add");
                conn_event(c, 0);
        }
}

/* ctx_make - the server TLS context with the given certificate */
static void ctx_make(const char *cert, const char *key)
{
        ctx = SSL_CTX_new(TLS_server_method());
        if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
                ERR_print_errors_fp(stderr);
                exit(2);
        }
        SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
}

/* usage - print the options and exit */
static void usage(void)
{
        fprintf(stderr, "usage: sink [-H addr] -p port [-C cert.pem -K "
                        "key.pem] [-S (no STARTTLS)]\n");
        exit(2);
}

int main(int argc, char **argv)
{
        const char *host = "127.0.0.1", *cert = NULL, *key = NULL;
        int port = 0, ch;
        while ((ch = getopt(argc, argv, "H:p:C:K:Sh")) != -1) {
                switch (ch) {
                case 'H':
                        host = optarg;
                        break;
                case 'p':
                        port = atoi(optarg);
                        break;
                case 'C':
                        cert = optarg;
                        break;
                case 'K':
                        key = optarg;
                        break;
                case 'S':
                        starttls = false;
                        break;
                default:
                        usage();
                }
        }
        if (port <= 0 || (starttls && (!cert || !key)))
                usage();
        signal(SIGPIPE, SIG_IGN);
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
                rl.rlim_cur = rl.rlim_max;
                (void)setrlimit(RLIMIT_NOFILE, &rl);
        }
        if (starttls)
                ctx_make(cert, key);
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_port = htons((uint16_t)port)};
        if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
                usage();
        lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1;
        (void)setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            listen(lfd, 1024) < 0)
                die("listen");
        ep = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
        struct epoll_event sev = {.events = EPOLLIN, .data.ptr = &N};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0 ||
            epoll_ctl(ep, EPOLL_CTL_ADD, 0, &sev) < 0)
                die("epoll_ctl");
        printf("listening %s:%d\n", host, port);
        fflush(stdout);
        struct epoll_event evs[256];
        for (bool done = false; !done;) {
                int n = epoll_wait(ep, evs, 256, -1);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        die("epoll_wait");
                }
                for (int i = 0; i < n; i++) {
                        if (evs[i].data.ptr == NULL) {
                                accept_all();
                        } else if (evs[i].data.ptr == &N) {
                                char b[256];
                                if (read(0, b, sizeof(b)) <= 0)
                                        done = true;
                        } else {
                                conn_event(evs[i].data.ptr, evs[i].events);
                        }
                }
        }
        printf("{\"messages\": %ld, \"connections\": %ld, \"tls_full\": %ld, "
               "\"tls_resumed\": %ld, \"tls_errors\": %ld}\n",
               N.messages, N.conns, N.tls_full, N.tls_resumed, N.errors);
        fflush(stdout);
        return 0;
}

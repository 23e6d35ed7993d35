/* SPDX-License-Identifier: MIT */
/*
 * loadgen - SMTP load generator for the inbound benchmark.
 *
 * One process, non-blocking sockets, epoll.  Keeps a fixed number of
 * sessions open; each session connects, reads the greeting, sends EHLO,
 * optionally STARTTLS (or starts TLS at once: implicit TLS), then sends
 * messages: MAIL, RCPT and DATA pipelined in one write, the content and the
 * final dot, and checks every reply code.  A message counts as delivered only
 * when the reply after the dot is 250.  Latency of the first message of a
 * connection is measured from connect(); of later ones from their MAIL.
 *
 * Idle mode (-i N) opens N TLS sessions, completes EHLO after STARTTLS and
 * holds them until standard input is closed, so that the server's memory can
 * be measured with N concurrent sessions.
 *
 * The result is one JSON object on standard output.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum mode { MODE_PLAIN, MODE_STARTTLS, MODE_TLS };

/* What a session waits for next. */
enum state {
        ST_CONNECT,   /* non-blocking connect in progress */
        ST_HANDSHAKE, /* TLS handshake */
        ST_GREETING,  /* 220 */
        ST_EHLO,      /* 250 to EHLO */
        ST_STARTTLS,  /* 220 to STARTTLS */
        ST_EHLO2,     /* 250 to EHLO after TLS */
        ST_TRANS,     /* 250 250 354 to pipelined MAIL RCPT DATA */
        ST_DOT,       /* 250 after the content */
        ST_QUIT,      /* 221 */
        ST_IDLE,      /* idle mode: session established, held open */
};

/* What reading replies led to. */
enum progress {
        P_MORE, /* wait for more input */
        P_DONE, /* the session ended cleanly (221 or close after QUIT) */
        P_FAIL, /* an unexpected reply or an I/O error */
};

struct opts {
        const char *host;
        int port;
        int concurrency;
        long messages;
        long size;
        int per_conn;
        enum mode mode;
        bool resume;
        const char *cert;
        const char *key;
        int idle;
        int timeout_s;
        const char *helo;
        const char *from;
        const char *rcpt;
};

struct sess {
        struct sess *prev, *next; /* every open session */
        int fd;
        SSL *ssl;
        enum state st;
        int replies_left; /* in ST_TRANS: replies still expected */
        int sent;         /* messages completed on this connection */
        double t_conn;    /* connect() time */
        double t_msg;     /* start of the current message */
        char in[8192];
        size_t inlen;
        const char *out; /* pending output (not owned) */
        size_t outlen;
        size_t outoff;
        char cmdbuf[512];
        bool want_write;
        bool tls_started;
        bool claimed; /* has claimed a message (or given up claiming) */
};

struct stats {
        long started;  /* messages handed to a session */
        long ok;       /* 250 after the dot */
        long failed;   /* any other outcome of a started message */
        long conns;    /* connections opened */
        long conn_err; /* connections that failed before or during a message */
        long tls_resumed;
        long tls_full;
        long idle_up;
        double *lat; /* latencies of ok messages, seconds */
        long nlat;
        char first_error[256];
};

static struct opts O = {
    .host = "127.0.0.1",
    .port = 25,
    .concurrency = 10,
    .messages = 1000,
    .size = 4096,
    .per_conn = 1,
    .mode = MODE_STARTTLS,
    .timeout_s = 60,
    .helo = "loadgen.bench.test",
    .from = "sender@loadgen.bench.test",
    .rcpt = "user@sink.bench.test",
};
static struct stats S;
static SSL_CTX *ctx;
static SSL_SESSION *last_session;
static int ep;
static char *body;
static size_t bodylen;
static struct sockaddr_in target;
static long active;
static long pending;     /* sessions open that have not claimed a message */
static struct sess *all; /* list of open sessions */

/* now - monotonic time in seconds */
static double now(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* note_error - remember the first error text for the report */
static void note_error(const char *what, const char *detail)
{
        if (S.first_error[0] == 0)
                snprintf(S.first_error, sizeof(S.first_error), "%s: %s", what,
                         detail ? detail : "");
}

/* body_make - build one message of about size bytes, dot-safe, CRLF lines */
static void body_make(long size)
{
        static const char hdr[] = "From: <sender@loadgen.bench.test>\r\n"
                                  "To: <user@sink.bench.test>\r\n"
                                  "Subject: postern benchmark\r\n"
                                  "Message-ID: <bench@loadgen.bench.test>\r\n"
                                  "\r\n";
        size_t cap = (size_t)size + sizeof(hdr) + 128;
        body = malloc(cap);
        if (!body) {
                perror("malloc");
                exit(2);
        }
        memcpy(body, hdr, sizeof(hdr) - 1);
        size_t n = sizeof(hdr) - 1;
        int line = 0;
        while ((long)n + 78 < size) {
                n += (size_t)snprintf(body + n, cap - n, "%05d ",
                                      line++ % 100000);
                for (int i = 0; i < 70; i++)
                        body[n++] = (char)('a' + (i + line) % 26);
                body[n++] = '\r';
                body[n++] = '\n';
        }
        memcpy(body + n, ".\r\n", 3);
        n += 3;
        bodylen = n;
}

/* on_new_session - keep the newest session ticket for resumption */
static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
        (void)ssl;
        if (!O.resume)
                return 0;
        if (last_session)
                SSL_SESSION_free(last_session);
        last_session = sess;
        return 1; /* we keep the reference */
}

/* ctx_make - the client TLS context: no verification, optional cert */
static void ctx_make(void)
{
        ctx = SSL_CTX_new(TLS_client_method());
        if (!ctx) {
                ERR_print_errors_fp(stderr);
                exit(2);
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
        SSL_CTX_set_session_cache_mode(
            ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(ctx, on_new_session);
        if (O.cert) {
                if (SSL_CTX_use_certificate_chain_file(ctx, O.cert) != 1 ||
                    SSL_CTX_use_PrivateKey_file(ctx, O.key ? O.key : O.cert,
                                                SSL_FILETYPE_PEM) != 1) {
                        ERR_print_errors_fp(stderr);
                        exit(2);
                }
        }
}

/* sess_interest - tell epoll what the session waits for */
static void sess_interest(struct sess *s)
{
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
        if (s->want_write || s->st == ST_CONNECT ||
            (s->out && s->outoff < s->outlen))
                ev.events |= EPOLLOUT;
        if (epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev) < 0)
                perror("epoll_ctl");
}

/* sess_claimed - the session no longer counts as pending */
static void sess_claimed(struct sess *s)
{
        if (!s->claimed) {
                s->claimed = true;
                pending--;
        }
}

/* sess_close - end a session; ok: it ended cleanly */
static void sess_close(struct sess *s, bool ok, const char *why)
{
        if (!ok) {
                S.conn_err++;
                note_error("session", why);
                if (s->st == ST_TRANS || s->st == ST_DOT)
                        S.failed++;
        }
        sess_claimed(s);
        if (s->ssl) {
                if (ok)
                        (void)SSL_shutdown(s->ssl);
                SSL_free(s->ssl);
        }
        close(s->fd);
        if (s->prev)
                s->prev->next = s->next;
        else
                all = s->next;
        if (s->next)
                s->next->prev = s->prev;
        free(s);
        active--;
}

/* sess_open - start one connection; returns 0 or -1 */
static int sess_open(void)
{
        struct sess *s = calloc(1, sizeof(*s));
        if (!s)
                return -1;
        s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s->fd < 0) {
                note_error("socket", strerror(errno));
                free(s);
                return -1;
        }
        int one = 1;
        (void)setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        s->t_conn = now();
        s->st = ST_CONNECT;
        S.conns++;
        active++;
        pending++;
        if (connect(s->fd, (struct sockaddr *)&target, sizeof(target)) < 0 &&
            errno != EINPROGRESS) {
                note_error("connect", strerror(errno));
                S.conn_err++;
                close(s->fd);
                free(s);
                active--;
                pending--;
                return -1;
        }
        struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = s};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev) < 0) {
                perror("epoll_ctl add");
                exit(2);
        }
        s->next = all;
        if (all)
                all->prev = s;
        all = s;
        return 0;
}

/* tls_begin - create the SSL object and start the handshake */
static void tls_begin(struct sess *s)
{
        s->ssl = SSL_new(ctx);
        SSL_set_fd(s->ssl, s->fd);
        SSL_set_tlsext_host_name(s->ssl, "mx.bench.test");
        if (O.resume && last_session) {
                /*
                 * A copy: OpenSSL marks a TLS 1.3 session that a client with
                 * a session cache has resumed as not resumable (single use),
                 * and the servers here send no new ticket on resumption.
                 */
                SSL_SESSION *copy = SSL_SESSION_dup(last_session);
                if (copy) {
                        SSL_set_session(s->ssl, copy);
                        SSL_SESSION_free(copy);
                }
        }
        s->st = ST_HANDSHAKE;
        s->tls_started = true;
}

/* sess_send - queue a command (copied) or the message content (not copied) */
static void sess_send(struct sess *s, const char *data, size_t len, bool copy)
{
        if (copy) {
                memcpy(s->cmdbuf, data, len);
                data = s->cmdbuf;
        }
        s->out = data;
        s->outlen = len;
        s->outoff = 0;
}

/* sess_cmd - queue a command line (with its CRLF) */
static void sess_cmd(struct sess *s, const char *line)
{
        sess_send(s, line, strlen(line), true);
}

/* sess_ehlo - queue EHLO */
static void sess_ehlo(struct sess *s)
{
        char buf[300];
        int n = snprintf(buf, sizeof(buf), "EHLO %s\r\n", O.helo);
        sess_send(s, buf, (size_t)n, true);
}

/* sess_flush - write pending output; 0 done or blocked, -1 error */
static int sess_flush(struct sess *s)
{
        s->want_write = false;
        while (s->out && s->outoff < s->outlen) {
                size_t left = s->outlen - s->outoff;
                if (s->ssl) {
                        int n = SSL_write(s->ssl, s->out + s->outoff,
                                          left > 65536 ? 65536 : (int)left);
                        if (n <= 0) {
                                int e = SSL_get_error(s->ssl, n);
                                if (e == SSL_ERROR_WANT_WRITE) {
                                        s->want_write = true;
                                        return 0;
                                }
                                if (e == SSL_ERROR_WANT_READ)
                                        return 0;
                                return -1;
                        }
                        s->outoff += (size_t)n;
                } else {
                        ssize_t n =
                            send(s->fd, s->out + s->outoff, left, MSG_NOSIGNAL);
                        if (n < 0) {
                                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                                        s->want_write = true;
                                        return 0;
                                }
                                return -1;
                        }
                        s->outoff += (size_t)n;
                }
        }
        s->out = NULL;
        return 0;
}

/* msg_start - claim a message and send MAIL RCPT DATA pipelined */
static bool msg_start(struct sess *s)
{
        sess_claimed(s);
        if (S.started >= O.messages || s->sent >= O.per_conn)
                return false;
        S.started++;
        if (s->sent > 0)
                s->t_msg = now();
        else
                s->t_msg = s->t_conn;
        char buf[512];
        int n = snprintf(buf, sizeof(buf),
                         "MAIL FROM:<%s> SIZE=%zu\r\nRCPT TO:<%s>\r\nDATA\r\n",
                         O.from, bodylen, O.rcpt);
        sess_send(s, buf, (size_t)n, true);
        s->st = ST_TRANS;
        s->replies_left = 3;
        return true;
}

/* after_ehlo - the session is ready: start a message, idle, or quit */
static void after_ehlo(struct sess *s)
{
        if (O.idle) {
                s->st = ST_IDLE;
                S.idle_up++;
                return;
        }
        if (!msg_start(s)) {
                sess_cmd(s, "QUIT\r\n");
                s->st = ST_QUIT;
        }
}

/* on_reply - one complete reply with its code */
static enum progress on_reply(struct sess *s, int code, const char *line)
{
        switch (s->st) {
        case ST_GREETING:
                if (code != 220)
                        goto bad;
                sess_ehlo(s);
                s->st = ST_EHLO;
                return P_MORE;
        case ST_EHLO:
        case ST_EHLO2:
                if (code != 250)
                        goto bad;
                if (s->st == ST_EHLO && O.mode == MODE_STARTTLS) {
                        sess_cmd(s, "STARTTLS\r\n");
                        s->st = ST_STARTTLS;
                        return P_MORE;
                }
                after_ehlo(s);
                return P_MORE;
        case ST_STARTTLS:
                if (code != 220)
                        goto bad;
                if (s->inlen != 0)
                        goto bad; /* data after 220: not allowed */
                tls_begin(s);
                return P_MORE;
        case ST_TRANS:
                if (code != (s->replies_left == 1 ? 354 : 250))
                        goto bad;
                if (--s->replies_left == 0) {
                        sess_send(s, body, bodylen, false);
                        s->st = ST_DOT;
                }
                return P_MORE;
        case ST_DOT:
                if (code != 250)
                        goto bad;
                S.ok++;
                if (S.nlat < O.messages)
                        S.lat[S.nlat++] = now() - s->t_msg;
                s->sent++;
                if (!msg_start(s)) {
                        sess_cmd(s, "QUIT\r\n");
                        s->st = ST_QUIT;
                }
                return P_MORE;
        case ST_QUIT:
                return P_DONE;
        default:
                goto bad;
        }
bad:
        note_error("unexpected reply", line);
        return P_FAIL;
}

/* sess_read - read available input and handle complete replies */
static enum progress sess_read(struct sess *s)
{
        for (;;) {
                if (s->inlen >= sizeof(s->in) - 1)
                        return P_FAIL;
                ssize_t n;
                if (s->ssl) {
                        int r = SSL_read(s->ssl, s->in + s->inlen,
                                         (int)(sizeof(s->in) - 1 - s->inlen));
                        if (r <= 0) {
                                int e = SSL_get_error(s->ssl, r);
                                if (e == SSL_ERROR_WANT_READ)
                                        break;
                                if (e == SSL_ERROR_WANT_WRITE) {
                                        s->want_write = true;
                                        break;
                                }
                                return s->st == ST_QUIT ? P_DONE : P_FAIL;
                        }
                        n = r;
                } else {
                        n = recv(s->fd, s->in + s->inlen,
                                 sizeof(s->in) - 1 - s->inlen, 0);
                        if (n < 0) {
                                if (errno == EAGAIN || errno == EWOULDBLOCK)
                                        break;
                                return P_FAIL;
                        }
                        if (n == 0)
                                return s->st == ST_QUIT ? P_DONE : P_FAIL;
                }
                s->inlen += (size_t)n;
                /* complete replies: a line whose 4th character is a space */
                for (;;) {
                        char *eol = memchr(s->in, '\n', s->inlen);
                        if (!eol)
                                break;
                        size_t ll = (size_t)(eol - s->in) + 1;
                        bool last = ll >= 4 && s->in[3] != '-';
                        int code = ll >= 4 ? atoi(s->in) : 0;
                        char line[128];
                        snprintf(line, sizeof(line), "%.*s",
                                 (int)(ll > 100 ? 100 : ll - 1), s->in);
                        memmove(s->in, s->in + ll, s->inlen - ll);
                        s->inlen -= ll;
                        if (!last)
                                continue;
                        enum progress r = on_reply(s, code, line);
                        if (r != P_MORE)
                                return r;
                        if (s->st == ST_HANDSHAKE)
                                return P_MORE; /* the rest is TLS */
                }
        }
        return P_MORE;
}

/* sess_event - progress a session after an epoll event */
static void sess_event(struct sess *s, uint32_t events)
{
        if (s->st == ST_CONNECT) {
                int err = 0;
                socklen_t len = sizeof(err);
                getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err) {
                        sess_close(s, false, strerror(err));
                        return;
                }
                if (O.mode == MODE_TLS)
                        tls_begin(s);
                else
                        s->st = ST_GREETING;
        }
        if ((events & (EPOLLERR | EPOLLHUP)) && !(events & EPOLLIN)) {
                sess_close(s, false, "connection reset");
                return;
        }
        for (;;) {
                if (s->st == ST_HANDSHAKE) {
                        int r = SSL_connect(s->ssl);
                        if (r != 1) {
                                int e = SSL_get_error(s->ssl, r);
                                if (e == SSL_ERROR_WANT_READ ||
                                    e == SSL_ERROR_WANT_WRITE) {
                                        s->want_write =
                                            e == SSL_ERROR_WANT_WRITE;
                                        sess_interest(s);
                                        return;
                                }
                                char buf[160];
                                ERR_error_string_n(ERR_get_error(), buf,
                                                   sizeof(buf));
                                sess_close(s, false, buf);
                                return;
                        }
                        if (SSL_session_reused(s->ssl))
                                S.tls_resumed++;
                        else
                                S.tls_full++;
                        if (O.mode == MODE_TLS) {
                                s->st = ST_GREETING;
                        } else {
                                sess_ehlo(s);
                                s->st = ST_EHLO2;
                        }
                }
                if (sess_flush(s) < 0) {
                        sess_close(s, false, "write failed");
                        return;
                }
                enum state before = s->st;
                enum progress r = sess_read(s);
                if (r == P_FAIL) {
                        sess_close(s, false, "read failed or bad reply");
                        return;
                }
                if (r == P_DONE) {
                        sess_close(s, true, NULL);
                        return;
                }
                /* a reply may have queued output or started TLS: go on */
                if (s->st == ST_HANDSHAKE && before != ST_HANDSHAKE)
                        continue;
                if (s->out && s->outoff < s->outlen && !s->want_write)
                        continue;
                break;
        }
        sess_interest(s);
}

/* cmp_double - qsort order for latencies */
static int cmp_double(const void *a, const void *b)
{
        double x = *(const double *)a, y = *(const double *)b;
        return x < y ? -1 : x > y;
}

/* pct - the p-th percentile of the sorted latencies, in ms */
static double pct(double p)
{
        if (S.nlat == 0)
                return 0;
        long i = (long)(p / 100.0 * (double)(S.nlat - 1) + 0.5);
        return S.lat[i] * 1000.0;
}

/* usage - print the options and exit */
static void usage(void)
{
        fprintf(stderr,
                "usage: loadgen [-H host] [-p port] [-c concurrency] [-n "
                "messages]\n"
                "               [-s size] [-m msgs-per-conn] [-M "
                "plain|starttls|tls]\n"
                "               [-r (resume TLS sessions)] [-C cert.pem] [-K "
                "key.pem]\n"
                "               [-i idle-sessions] [-t timeout-seconds]\n");
        exit(2);
}

/* parse_args - fill O from the command line */
static void parse_args(int argc, char **argv)
{
        int c;
        while ((c = getopt(argc, argv, "H:p:c:n:s:m:M:rC:K:i:t:h")) != -1) {
                switch (c) {
                case 'H':
                        O.host = optarg;
                        break;
                case 'p':
                        O.port = atoi(optarg);
                        break;
                case 'c':
                        O.concurrency = atoi(optarg);
                        break;
                case 'n':
                        O.messages = atol(optarg);
                        break;
                case 's':
                        O.size = atol(optarg);
                        break;
                case 'm':
                        O.per_conn = atoi(optarg);
                        break;
                case 'M':
                        if (!strcmp(optarg, "plain"))
                                O.mode = MODE_PLAIN;
                        else if (!strcmp(optarg, "starttls"))
                                O.mode = MODE_STARTTLS;
                        else if (!strcmp(optarg, "tls"))
                                O.mode = MODE_TLS;
                        else
                                usage();
                        break;
                case 'r':
                        O.resume = true;
                        break;
                case 'C':
                        O.cert = optarg;
                        break;
                case 'K':
                        O.key = optarg;
                        break;
                case 'i':
                        O.idle = atoi(optarg);
                        break;
                case 't':
                        O.timeout_s = atoi(optarg);
                        break;
                default:
                        usage();
                }
        }
        if (O.concurrency < 1 || O.messages < 0 || O.per_conn < 1 || O.size < 0)
                usage();
        if (O.idle && O.mode == MODE_PLAIN)
                O.mode = MODE_STARTTLS;
        if (O.idle)
                O.messages = 0;
}

/* raise_nofile - allow as many descriptors as the hard limit */
static void raise_nofile(void)
{
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
                rl.rlim_cur = rl.rlim_max;
                (void)setrlimit(RLIMIT_NOFILE, &rl);
        }
}

/* loop - run epoll until done() says so or the deadline passes */
static int loop(bool (*done)(void), double deadline)
{
        struct epoll_event evs[256];
        while (!done()) {
                if (!O.idle) {
                        /* keep the concurrency: replace finished sessions */
                        while (active < O.concurrency &&
                               S.started + pending < O.messages) {
                                if (S.conn_err > 100 + O.messages / 10) {
                                        note_error("giving up",
                                                   "too many errors");
                                        return -1;
                                }
                                if (sess_open() < 0)
                                        break;
                        }
                }
                if (now() > deadline) {
                        note_error("timeout", "deadline passed");
                        return -1;
                }
                int n = epoll_wait(ep, evs, 256, 200);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        perror("epoll_wait");
                        return -1;
                }
                for (int i = 0; i < n; i++)
                        sess_event(evs[i].data.ptr, evs[i].events);
        }
        return 0;
}

/* load_done - every message answered and every session closed */
static bool load_done(void)
{
        return active == 0 && S.started >= O.messages;
}

static long idle_target;

/* idle_reached - the sessions opened so far are established (or failed) */
static bool idle_reached(void)
{
        return S.idle_up + S.conn_err >= idle_target;
}

/* report - print the result as one JSON object */
static void report(double secs, int rc)
{
        qsort(S.lat, (size_t)S.nlat, sizeof(double), cmp_double);
        double sum = 0;
        for (long i = 0; i < S.nlat; i++)
                sum += S.lat[i];
        printf(
            "{\"rc\": %d, \"seconds\": %.4f, \"ok\": %ld, \"failed\": %ld, "
            "\"not_sent\": %ld, \"unfinished\": %ld, \"connections\": %ld, "
            "\"conn_errors\": %ld, "
            "\"tls_full\": %ld, \"tls_resumed\": %ld, \"idle_up\": %ld, "
            "\"msgs_per_s\": %.2f, \"lat_p50_ms\": %.3f, \"lat_p99_ms\": %.3f, "
            "\"lat_mean_ms\": %.3f, \"first_error\": \"",
            rc, secs, S.ok, S.failed, O.messages - S.started,
            S.started - S.ok - S.failed, S.conns, S.conn_err, S.tls_full,
            S.tls_resumed, S.idle_up, secs > 0 ? (double)S.ok / secs : 0,
            pct(50), pct(99), S.nlat ? sum / (double)S.nlat * 1000.0 : 0);
        for (const char *p = S.first_error; *p; p++)
                if (*p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
                        putchar(*p);
        printf("\"}\n");
        fflush(stdout);
}

/* cleanup - close what is still open (idle sessions) and free all */
static void cleanup(void)
{
        while (all)
                sess_close(all, true, NULL);
        if (last_session)
                SSL_SESSION_free(last_session);
        SSL_CTX_free(ctx);
        free(body);
        free(S.lat);
        close(ep);
}

int main(int argc, char **argv)
{
        parse_args(argc, argv);
        signal(SIGPIPE, SIG_IGN);
        raise_nofile();
        target.sin_family = AF_INET;
        target.sin_port = htons((uint16_t)O.port);
        if (inet_pton(AF_INET, O.host, &target.sin_addr) != 1) {
                fprintf(stderr, "loadgen: host must be an IPv4 address: %s\n",
                        O.host);
                return 2;
        }
        ctx_make();
        body_make(O.size);
        S.lat = calloc((size_t)O.messages + 1, sizeof(double));
        ep = epoll_create1(EPOLL_CLOEXEC);
        double t0 = now();
        double deadline = t0 + O.timeout_s;
        int rc = 0;
        if (O.idle) {
                /* open in batches so as not to overflow the listen queue */
                while (idle_target < O.idle && rc == 0) {
                        int batch = O.idle - (int)idle_target;
                        if (batch > O.concurrency)
                                batch = O.concurrency;
                        for (int i = 0; i < batch; i++)
                                (void)sess_open();
                        idle_target += batch;
                        rc = loop(idle_reached, deadline);
                }
                report(now() - t0, rc);
                /* hold the sessions until standard input is closed */
                char c;
                while (read(0, &c, 1) > 0)
                        ;
                rc = rc == 0 && S.conn_err == 0 ? 0 : 1;
        } else {
                rc = loop(load_done, deadline);
                report(now() - t0, rc);
                rc = rc == 0 && S.failed == 0 && S.conn_err == 0 &&
                             S.ok == O.messages
                         ? 0
                         : 1;
        }
        cleanup();
        return rc;
}

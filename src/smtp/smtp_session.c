/* SPDX-License-Identifier: MIT */
/*
 * smtp_session.c - one delivery attempt as a state machine on the caller's
 * loop: connect, greeting, EHLO/HELO, STARTTLS and the TLS policy checks,
 * MAIL/RCPT/DATA (pipelined when offered, with separate send and receive
 * cursors), the body, the end-of-data reply, and the connection's end:
 * QUIT or the idle cache for the next message to the same destination
 * under the same TLS policy.  The LMTP client (client->lmtp) is the same
 * machine with LHLO for EHLO, unix-domain sockets, and one end-of-data
 * reply per accepted recipient (RFC 2033 section 4.2).
 */
#include "smtp/smtp_int.h"

#include "conf/conf.h"
#include "event/event.h"
#include "log/log.h"
#include "queue/queue.h"
#include "table/table.h"
#include "tls/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Postfix's smtp_connection_cache_time_limit default: how long an idle
 * connection waits for the next message. */
#define SMTP_IDLE_SECONDS 2
/* Bytes of unparsed input that make a reply garbage. */
#define SMTP_RBUF_MAX (128u * 1024)
/* Body bytes read from the queue file per step. */
#define SMTP_BODY_CHUNK 16384

#define SMTP_STATE_NAME(e) #e,
static const char *const state_names[] = {SMTP_STATES(SMTP_STATE_NAME)};
#undef SMTP_STATE_NAME

/* smtp_state_name - the state's name */
const char *smtp_state_name(enum smtp_state s)
{
        return (unsigned)s < SMTP_NSTATES ? state_names[s] : "?";
}

/* What the handlers tell the I/O loop. */
enum step { STEP_GO_ON, STEP_STOP };

struct smtp_attempt {
        struct smtp_client *client;
        struct smtp_job *job;
        void (*done)(void *, struct smtp_job *);
        void *arg;
        struct smtp_attempt *next; /* client->attempts */
        const struct queue_env *env;

        struct smtp_nexthop nh;
        struct smtp_tls_policy pol;
        enum smtp_tls_level level;      /* effective, for the current host */
        enum smtp_tls_level dane_level; /* dane or dane-only policy, or
                                           NONE when DANE is not in play */
        struct smtp_dane_state_s *dane; /* TLSA lookups under way */
        char *reuse_key;
        struct smtp_route_state *route;
        struct smtp_addr *addrs;
        size_t naddr, cur;
        long long sessions;
        bool plain_retry; /* this connection stays plaintext (may) */
        /* AUTH LOGIN in progress: the credentials and the next step */
        char *sasl_user, *sasl_pass;
        int sasl_step;
        bool plain_next;  /* may: the handshake failed, reconnect to the
                             same address in plaintext */
        char *last_relay; /* the last server that answered */
        bool reused;      /* the connection came from the idle cache */
        bool tls_active;
        bool wrapper;          /* smtp_tls_wrappermode: TLS from byte one */
        bool wrapper_greeting; /* ... and the greeting comes after it */
        bool tx_started;       /* MAIL sent: no other server may be tried */
        bool rset_pending;     /* RSET pipelined before MAIL: its reply is
                                  still to come, nothing can be delivered
                                  yet */

        struct smtp_conn *conn;
        enum smtp_state st;
        struct smtp_reply reply;
        const struct smtp_reply *rp; /* the complete reply being handled */

        size_t *tx; /* indexes of the recipients in this transaction */
        size_t ntx;
        bool *accepted;
        size_t naccepted;
        size_t send_cur, recv_cur; /* 0 MAIL, 1..ntx RCPT, ntx+1 DATA */
        bool mail_failed;
        bool dot_ignore; /* "." sent only to end an empty DATA */
        size_t dot_cur;  /* LMTP: the tx index whose end-of-data reply
                            comes next */
        bool line_start;
        bool prev_cr;
        size_t line_len; /* body bytes on the current line */

        struct event_timer *timer;
        double t_start, t_tx;
        char last_dsn[16];
        struct strbuf last_err;
};

static enum step attempt_pump(struct smtp_attempt *a);
static void attempt_connect_next(struct smtp_attempt *a);
static void attempt_finish(struct smtp_attempt *a);
static void conn_io_cb(int fd, int what, void *arg);
static void conn_close(struct smtp_conn *c);
static bool dane_host_level(struct smtp_attempt *a, const struct smtp_addr *ad);

/* ---- small helpers ---- */

/* smtp_attempt_client - accessor for smtp_route.c */
struct smtp_client *smtp_attempt_client(struct smtp_attempt *a)
{
        return a->client;
}

/* smtp_attempt_nexthop - accessor for smtp_route.c */
const struct smtp_nexthop *smtp_attempt_nexthop(struct smtp_attempt *a)
{
        return &a->nh;
}

/* smtp_attempt_route_slot - accessor for smtp_route.c */
struct smtp_route_state **smtp_attempt_route_slot(struct smtp_attempt *a)
{
        return &a->route;
}

/* smtp_attempt_add_addr_dnssec - one more address to try, with what
 * DNSSEC said of how it was found */
void smtp_attempt_add_addr_dnssec(struct smtp_attempt *a, const char *host,
                                  const char *addr, bool mx_secure,
                                  bool addr_secure, const char *canonical)
{
        for (size_t i = 0; i < a->naddr; i++)
                if (strcmp(a->addrs[i].addr, addr) == 0)
                        return;
        a->addrs = xreallocarray(a->addrs, a->naddr + 1, sizeof(*a->addrs));
        memset(&a->addrs[a->naddr], 0, sizeof(a->addrs[0]));
        a->addrs[a->naddr].host = xstrdup(host);
        a->addrs[a->naddr].addr = xstrdup(addr);
        a->addrs[a->naddr].mx_secure = mx_secure;
        a->addrs[a->naddr].addr_secure = addr_secure;
        a->addrs[a->naddr].canonical = canonical ? xstrdup(canonical) : NULL;
        a->naddr++;
}

/* smtp_attempt_add_addr - one more address, found without DNSSEC */
void smtp_attempt_add_addr(struct smtp_attempt *a, const char *host,
                           const char *addr)
{
        smtp_attempt_add_addr_dnssec(a, host, addr, false, false, NULL);
}

/* smtp_attempt_addrs - accessor for smtp_dane.c */
struct smtp_addr *smtp_attempt_addrs(struct smtp_attempt *a, size_t *n)
{
        *n = a->naddr;
        return a->addrs;
}

/* smtp_attempt_policy_level - the dane level being applied */
enum smtp_tls_level smtp_attempt_policy_level(struct smtp_attempt *a)
{
        return a->dane_level;
}

/* smtp_attempt_dane_slot - accessor for smtp_dane.c */
struct smtp_dane_state_s **smtp_attempt_dane_slot(struct smtp_attempt *a)
{
        return &a->dane;
}

/* enter - every state change goes through here */
static void enter(struct smtp_attempt *a, enum smtp_state next)
{
        if (log_verbose())
                log_debug("%s: %s: %s -> %s",
                          a->env && a->env->id ? a->env->id : "smtp",
                          a->conn ? a->conn->relay : a->job->nexthop,
                          smtp_state_name(a->st), smtp_state_name(next));
        a->st = next;
}

/* fmt_delay - Postfix's delay numbers: at most two decimals, no
 * trailing zeros */
static void fmt_delay(struct strbuf *out, double v)
{
        char b[64];

        if (v < 0.005) {
                strbuf_adds(out, "0");
                return;
        }
        snprintf(b, sizeof(b), v < 10 ? "%.2f" : "%.0f", v);
        if (strchr(b, '.')) {
                size_t n = strlen(b);
                while (b[n - 1] == '0')
                        b[--n] = 0;
                if (b[n - 1] == '.')
                        b[--n] = 0;
        }
        strbuf_adds(out, b);
}

/* copy_dsn - a status code into a small buffer, cut if too long */
static void copy_dsn(char *dst, size_t size, const char *src)
{
        size_t n = strnlen(src, size - 1);
        memcpy(dst, src, n);
        dst[n] = 0;
}

/* set_last_errv - the site-level error that pending recipients get */
static void set_last_errv(struct smtp_attempt *a, const char *dsn,
                          const char *fmt, va_list ap) VPRINTFLIKE(3);
static void set_last_errv(struct smtp_attempt *a, const char *dsn,
                          const char *fmt, va_list ap)
{
        copy_dsn(a->last_dsn, sizeof(a->last_dsn), dsn);
        strbuf_reset(&a->last_err);
        strbuf_vprintf(&a->last_err, fmt, ap);
}

/* set_last_err - set_last_errv with arguments */
static void set_last_err(struct smtp_attempt *a, const char *dsn,
                         const char *fmt, ...) PRINTFLIKE(3, 4);
static void set_last_err(struct smtp_attempt *a, const char *dsn,
                         const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        set_last_errv(a, dsn, fmt, ap);
        va_end(ap);
}

/* rcpt_status_name - Postfix's status= words */
static const char *rcpt_status_name(enum smtp_rcpt_status s)
{
        switch (s) {
        case SMTP_RCPT_SENT:
                return "sent";
        case SMTP_RCPT_DEFER:
                return "deferred";
        case SMTP_RCPT_BOUNCE:
                return "bounced";
        default:
                return "pending";
        }
}

/* rcpt_set - record and log one recipient's outcome */
static void rcpt_set(struct smtp_attempt *a, struct smtp_rcpt *r,
                     const char *dsn, const char *text)
{
        double now = smtp_now();
        double arrival = a->env ? (double)a->env->arrival : a->t_start;
        struct strbuf line;

        if (r->status != SMTP_RCPT_PENDING)
                return;
        r->status = dsn[0] == '2'   ? SMTP_RCPT_SENT
                    : dsn[0] == '5' ? SMTP_RCPT_BOUNCE
                                    : SMTP_RCPT_DEFER;
        copy_dsn(r->dsn, sizeof(r->dsn), dsn);
        strbuf_reset(&r->text);
        strbuf_adds(&r->text, text);

        const char *addr = "";
        if (a->env && r->index < a->env->nrcpt)
                addr = a->env->rcpt[r->index].addr;
        double tx = a->t_tx > 0 ? a->t_tx : now;
        strbuf_init(&line);
        strbuf_printf(&line, "%s: to=<%s>, relay=%s, delay=",
                      a->env && a->env->id ? a->env->id : "NOQUEUE", addr,
                      a->conn         ? a->conn->relay
                      : a->last_relay ? a->last_relay
                                      : "none");
        fmt_delay(&line, now - arrival);
        strbuf_adds(&line, ", delays=");
        fmt_delay(&line, a->t_start - arrival);
        strbuf_adds(&line, "/0/");
        fmt_delay(&line, tx - a->t_start);
        strbuf_adds(&line, "/");
        fmt_delay(&line, now - tx);
        strbuf_printf(&line, ", dsn=%s, status=%s (%s)", r->dsn,
                      rcpt_status_name(r->status), text);
        log_info("%s", strbuf_cstr(&line));
        strbuf_clear(&line);
}

/* reply_dsn - the reply's enhanced code, or a default for its class */
static void reply_dsn(const struct smtp_reply *rp, char *dsn, size_t len)
{
        if (rp->dsn[0])
                copy_dsn(dsn, len, rp->dsn);
        else
                snprintf(dsn, len, "%d.0.0", rp->code / 100);
}

/* rcpt_fail_reply - a recipient rejected by the server's reply */
static void rcpt_fail_reply(struct smtp_attempt *a, struct smtp_rcpt *r,
                            const char *cmd)
{
        char dsn[16];
        struct strbuf t;

        reply_dsn(a->rp, dsn, sizeof(dsn));
        strbuf_init(&t);
        strbuf_printf(&t, "host %s said: ", a->conn->namaddr);
        smtp_reply_oneline(a->rp, &t);
        strbuf_printf(&t, " (in reply to %s command)", cmd);
        rcpt_set(a, r, dsn, strbuf_cstr(&t));
        strbuf_clear(&t);
}

/* stage_timeout - the reply timeout of the current state, in ms */
static long stage_timeout(struct smtp_attempt *a)
{
        const struct conf *cf = a->client->conf;
        long long t;

        switch (a->st) {
        case SMTP_ST_CONNECT:
                t = cf->smtp_connect_timeout;
                break;
        case SMTP_ST_GREETING:
        case SMTP_ST_EHLO:
        case SMTP_ST_HELO:
        case SMTP_ST_AUTH:
                t = cf->smtp_helo_timeout;
                break;
        case SMTP_ST_STARTTLS:
        case SMTP_ST_TLS_HANDSHAKE:
                t = cf->smtp_starttls_timeout;
                break;
        case SMTP_ST_TRANSACTION:
                if (a->rset_pending)
                        t = cf->smtp_quit_timeout; /* as RSET alone */
                else if (a->recv_cur == 0)
                        t = cf->smtp_mail_timeout;
                else if (a->recv_cur <= a->ntx)
                        t = cf->smtp_rcpt_timeout;
                else
                        t = cf->smtp_data_init_timeout;
                break;
        case SMTP_ST_BODY:
                t = cf->smtp_data_xfer_timeout;
                break;
        case SMTP_ST_DOT:
                t = cf->smtp_data_done_timeout;
                break;
        default:
                t = cf->smtp_quit_timeout;
                break;
        }
        if (t <= 0)
                t = 300;
        return (long)(t * 1000);
}

/* stage_text - what was going on, in Postfix's words */
static const char *stage_text(struct smtp_attempt *a)
{
        switch (a->st) {
        case SMTP_ST_GREETING:
                return "receiving the initial server greeting";
        case SMTP_ST_EHLO:
                return a->client->lmtp ? "performing the LHLO handshake"
                                       : "performing the EHLO handshake";
        case SMTP_ST_HELO:
                return "performing the HELO handshake";
        case SMTP_ST_STARTTLS:
                return "sending STARTTLS";
        case SMTP_ST_TLS_HANDSHAKE:
                return "performing the TLS handshake";
        case SMTP_ST_AUTH:
                return "sending AUTH";
        case SMTP_ST_RSET:
                return "sending RSET";
        case SMTP_ST_TRANSACTION:
                if (a->rset_pending)
                        return "sending RSET";
                if (a->recv_cur == 0)
                        return "sending MAIL FROM";
                if (a->recv_cur <= a->ntx)
                        return "sending RCPT TO";
                return "sending DATA command";
        case SMTP_ST_BODY:
                return "sending message body";
        case SMTP_ST_DOT:
                return "sending end of data -- message may be sent more "
                       "than once";
        default:
                return "talking to the server";
        }
}

/* is_ip_literal - a numeric address (never sent as SNI) */
static bool is_ip_literal(const char *s)
{
        unsigned char b[16];
        return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

/* ---- connections ---- */

/* conn_new - a connection object for an address (not connected yet) */
static struct smtp_conn *conn_new(struct smtp_client *cl, const char *host,
                                  const char *addr, unsigned port)
{
        struct smtp_conn *c = xcalloc(1, sizeof(*c));

        c->client = cl;
        c->fd = -1;
        c->host = xstrdup(host);
        c->addr = xstrdup(addr);
        c->port = port;
        c->namaddr = xasprintf("%s[%s]", host, addr);
        /* a unix-domain socket has no port: "host[private/dovecot-lmtp]",
         * as Postfix logs it */
        c->relay = port ? xasprintf("%s[%s]:%u", host, addr, port)
                        : xstrdup(c->namaddr);
        c->born = smtp_now();
        strbuf_init(&c->rbuf);
        strbuf_init(&c->wbuf);
        return c;
}

/* list_remove - unlink c from a connection list */
static void list_remove(struct smtp_conn **head, struct smtp_conn *c)
{
        for (struct smtp_conn **pp = head; *pp; pp = &(*pp)->next) {
                if (*pp == c) {
                        *pp = c->next;
                        c->next = NULL;
                        return;
                }
        }
}

/* conn_close - release everything of a connection */
static void conn_close(struct smtp_conn *c)
{
        if (c == NULL)
                return;
        list_remove(&c->client->idle, c);
        list_remove(&c->client->closing, c);
        event_io_free(c->io);
        event_timer_free(c->idle_timer);
        if (c->tls) {
                if (!c->eof)
                        (void)tls_conn_shutdown(c->tls);
                tls_conn_free(c->tls);
        }
        if (c->fd >= 0)
                close(c->fd);
        strbuf_clear(&c->rbuf);
        strbuf_clear(&c->wbuf);
        free(c->host);
        free(c->addr);
        free(c->namaddr);
        free(c->relay);
        free(c->reuse_key);
        free(c);
}

/* conn_write - send what is buffered; 0 (maybe partial), -1 on error */
static int conn_write(struct smtp_conn *c)
{
        while (c->wpos < c->wbuf.len) {
                size_t n = c->wbuf.len - c->wpos, put = 0;
                if (c->tls) {
                        enum tls_io r = tls_conn_write(
                            c->tls, c->wbuf.s + c->wpos, n, &put);
                        if (r == TLS_IO_WANT_READ || r == TLS_IO_WANT_WRITE)
                                return 0;
                        if (r != TLS_IO_DONE)
                                return -1;
                } else {
                        ssize_t w =
                            send(c->fd, c->wbuf.s + c->wpos, n, MSG_NOSIGNAL);
                        if (w < 0) {
                                if (errno == EAGAIN || errno == EWOULDBLOCK ||
                                    errno == EINTR)
                                        return 0;
                                return -1;
                        }
                        put = (size_t)w;
                }
                c->wpos += put;
        }
        strbuf_reset(&c->wbuf);
        c->wpos = 0;
        return 0;
}

/* conn_read - take what the peer sent into rbuf; -1 on error, EOF sets
 * c->eof */
static int conn_read(struct smtp_conn *c)
{
        char buf[8192];

        while (!c->eof && c->rbuf.len < SMTP_RBUF_MAX) {
                size_t got = 0;
                if (c->tls) {
                        enum tls_io r =
                            tls_conn_read(c->tls, buf, sizeof(buf), &got);
                        if (r == TLS_IO_WANT_READ || r == TLS_IO_WANT_WRITE)
                                return 0;
                        if (r == TLS_IO_CLOSED) {
                                c->eof = true;
                                return 0;
                        }
                        if (r != TLS_IO_DONE)
                                return -1;
                } else {
                        ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
                        if (n < 0) {
                                if (errno == EAGAIN || errno == EWOULDBLOCK ||
                                    errno == EINTR)
                                        return 0;
                                return -1;
                        }
                        if (n == 0) {
                                c->eof = true;
                                return 0;
                        }
                        got = (size_t)n;
                }
                strbuf_add(&c->rbuf, buf, got);
        }
        return 0;
}

/* conn_line - take one line (CR LF or LF) out of rbuf; 0 when there is
 * none yet */
static size_t conn_line(struct smtp_conn *c, char *line, size_t max, bool *got)
{
        char *nl = c->rbuf.len ? memchr(c->rbuf.s, '\n', c->rbuf.len) : NULL;
        size_t n, take;

        *got = false;
        if (nl == NULL)
                return 0;
        take = (size_t)(nl - c->rbuf.s) + 1;
        n = take - 1;
        if (n > 0 && c->rbuf.s[n - 1] == '\r')
                n--;
        if (n >= max)
                n = max - 1;
        memcpy(line, c->rbuf.s, n);
        line[n] = 0;
        memmove(c->rbuf.s, c->rbuf.s + take, c->rbuf.len - take);
        c->rbuf.len -= take;
        c->rbuf.s[c->rbuf.len] = 0;
        *got = true;
        return n;
}

/* conn_arm - wait for the next event */
static void conn_arm(struct smtp_conn *c, bool rd, long timeout_ms)
{
        bool wr = c->wpos < c->wbuf.len;
        (void)event_io_want(c->io, rd, wr, timeout_ms);
}

/* conn_cmd - queue one command line */
static void conn_cmd(struct smtp_conn *c, const char *fmt, ...)
    PRINTFLIKE(2, 3);
static void conn_cmd(struct smtp_conn *c, const char *fmt, ...)
{
        va_list ap;
        size_t before = c->wbuf.len;

        va_start(ap, fmt);
        strbuf_vprintf(&c->wbuf, fmt, ap);
        va_end(ap);
        if (log_verbose())
                log_debug("> %s: %s", c->namaddr, c->wbuf.s + before);
        strbuf_adds(&c->wbuf, "\r\n");
}

/* closing_io - a connection that sent QUIT: wait for the reply or EOF */
static void closing_io(struct smtp_conn *c, int what)
{
        if ((what & EVENT_TIMEOUT) || conn_write(c) < 0 || conn_read(c) < 0 ||
            c->eof || memchr(c->rbuf.s ? c->rbuf.s : "", '\n', c->rbuf.len)) {
                conn_close(c);
                return;
        }
        conn_arm(c, true,
                 (long)(c->client->conf->smtp_quit_timeout > 0
                            ? c->client->conf->smtp_quit_timeout * 1000
                            : 300000));
}

/* conn_quit - send QUIT and close when the server answers */
static void conn_quit(struct smtp_conn *c)
{
        c->owner = NULL;
        c->closing = true;
        if (c->eof || c->fd < 0) {
                conn_close(c);
                return;
        }
        strbuf_reset(&c->rbuf);
        conn_cmd(c, "QUIT");
        c->next = c->client->closing;
        c->client->closing = c;
        if (conn_write(c) < 0) {
                conn_close(c);
                return;
        }
        conn_arm(c, true, 10000);
}

/* smtp_conn_quit_now - QUIT without waiting */
void smtp_conn_quit_now(struct smtp_conn *c)
{
        if (!c->eof && c->fd >= 0) {
                conn_cmd(c, "QUIT");
                (void)conn_write(c);
        }
        conn_close(c);
}

/* smtp_conn_close - close at once */
void smtp_conn_close(struct smtp_conn *c)
{
        conn_close(c);
}

/* idle_expired - an idle connection was not reused in time */
static void idle_expired(void *arg)
{
        struct smtp_conn *c = arg;

        list_remove(&c->client->idle, c);
        conn_quit(c);
}

/* idle_timer_cb - idle_expired, its lines logged as postern/smtp (or
 * lmtp) */
static void idle_timer_cb(void *arg)
{
        const char *prev =
            log_service(((struct smtp_conn *)arg)->client->log_ident);

        idle_expired(arg);
        (void)log_service(prev);
}

/* idle_io - anything from an idle server (421, EOF) ends it */
static void idle_io(struct smtp_conn *c, int what)
{
        (void)what;
        list_remove(&c->client->idle, c);
        conn_close(c);
}

/* conn_io - the one event callback of a connection */
static void conn_io(int fd, int what, void *arg)
{
        struct smtp_conn *c = arg;

        (void)fd;
        if (c->owner) {
                struct smtp_attempt *a = c->owner;
                if (what & EVENT_TIMEOUT) {
                        if (a->st == SMTP_ST_CONNECT)
                                set_last_err(a, "4.4.1",
                                             "connect to %s: Connection "
                                             "timed out",
                                             c->relay);
                        else
                                set_last_err(a, "4.4.2",
                                             "conversation with %s timed out "
                                             "while %s",
                                             c->namaddr, stage_text(a));
                        log_info("%s", strbuf_cstr(&a->last_err));
                        attempt_connect_next(a);
                        return;
                }
                (void)attempt_pump(a);
        } else if (c->closing) {
                closing_io(c, what);
        } else {
                idle_io(c, what);
        }
}

/* conn_io_cb - conn_io, its lines logged as postern/smtp (or lmtp) */
static void conn_io_cb(int fd, int what, void *arg)
{
        const char *prev =
            log_service(((struct smtp_conn *)arg)->client->log_ident);

        conn_io(fd, what, arg);
        (void)log_service(prev);
}

/* conn_cache - keep a connection for the next message, or QUIT */
static void conn_cache(struct smtp_attempt *a, struct smtp_conn *c)
{
        const struct conf *cf = a->client->conf;
        double age = smtp_now() - c->born;

        c->owner = NULL;
        c->uses++;
        /* with credentials per sender, a connection is never handed to
         * mail of another sender (Postfix turns the cache off too) */
        if (cf->smtp_sender_dependent_authentication || c->eof ||
            c->rbuf.len > 0 || c->wpos < c->wbuf.len ||
            (cf->smtp_connection_reuse_time_limit > 0 &&
             age >= (double)cf->smtp_connection_reuse_time_limit) ||
            (cf->smtp_connection_reuse_count_limit > 0 &&
             c->uses >=
                 (unsigned long long)cf->smtp_connection_reuse_count_limit)) {
                conn_quit(c);
                return;
        }
        free(c->reuse_key);
        c->reuse_key = xstrdup(a->reuse_key);
        c->idle_timer = event_timer_new(a->client->loop, idle_timer_cb, c);
        event_timer_add(c->idle_timer, SMTP_IDLE_SECONDS * 1000);
        c->next = a->client->idle;
        a->client->idle = c;
        (void)event_io_want(c->io, true, false, 0);
}

/* conn_from_cache - an idle connection for this destination and policy */
static struct smtp_conn *conn_from_cache(struct smtp_client *cl,
                                         const char *key)
{
        for (struct smtp_conn *c = cl->idle; c; c = c->next) {
                if (c->reuse_key && strcmp(c->reuse_key, key) == 0) {
                        list_remove(&cl->idle, c);
                        event_timer_free(c->idle_timer);
                        c->idle_timer = NULL;
                        return c;
                }
        }
        return NULL;
}

/* ---- the attempt ---- */

/* attempt_drop_conn - forget the connection: QUIT when polite, else
 * close */
static void attempt_drop_conn(struct smtp_attempt *a, bool quit)
{
        struct smtp_conn *c = a->conn;

        if (c == NULL)
                return;
        a->conn = NULL;
        c->owner = NULL;
        a->tls_active = false;
        if (a->st != SMTP_ST_CONNECT) {
                free(a->last_relay);
                a->last_relay = xstrdup(c->relay);
        }
        if (quit && !c->eof)
                conn_quit(c);
        else
                conn_close(c);
}

/* attempt_fail_all - every pending recipient gets the last error */
static void attempt_fail_pending(struct smtp_attempt *a)
{
        for (size_t i = 0; i < a->job->nrcpt; i++)
                rcpt_set(a, &a->job->rcpt[i],
                         a->last_dsn[0] ? a->last_dsn : "4.4.0",
                         a->last_err.len ? strbuf_cstr(&a->last_err)
                                         : "delivery temporarily suspended");
}

/* attempt_unlink - remove from the client's list */
static void attempt_unlink(struct smtp_attempt *a)
{
        for (struct smtp_attempt **pp = &a->client->attempts; *pp;
             pp = &(*pp)->next) {
                if (*pp == a) {
                        *pp = a->next;
                        return;
                }
        }
}

/* attempt_free - release the attempt (not the job) */
static void attempt_free(struct smtp_attempt *a)
{
        smtp_route_cancel(a);
        smtp_dane_cancel(a);
        attempt_unlink(a);
        event_timer_free(a->timer);
        smtp_nexthop_clear(&a->nh);
        smtp_tls_policy_clear(&a->pol);
        free(a->reuse_key);
        free(a->last_relay);
        if (a->sasl_pass)
                explicit_bzero(a->sasl_pass, strlen(a->sasl_pass));
        free(a->sasl_user);
        free(a->sasl_pass);
        for (size_t i = 0; i < a->naddr; i++) {
                free(a->addrs[i].host);
                free(a->addrs[i].addr);
                free(a->addrs[i].canonical);
                smtp_addr_clear_dane(&a->addrs[i]);
        }
        free(a->addrs);
        free(a->tx);
        free(a->accepted);
        smtp_reply_clear(&a->reply);
        strbuf_clear(&a->last_err);
        free(a);
}

/* smtp_attempt_abort - cancel without calling done */
void smtp_attempt_abort(struct smtp_attempt *a)
{
        attempt_drop_conn(a, false);
        attempt_free(a);
}

/* attempt_finish - every recipient has a status: report */
static void attempt_finish(struct smtp_attempt *a)
{
        struct smtp_job *job = a->job;
        void (*done)(void *, struct smtp_job *) = a->done;
        void *arg = a->arg;

        attempt_fail_pending(a);
        enter(a, SMTP_ST_DONE);
        attempt_drop_conn(a, true);
        attempt_free(a);
        done(arg, job);
}

/* attempt_final_fail - a failure that no other server can fix */
static void attempt_final_fail(struct smtp_attempt *a, bool quit)
{
        attempt_fail_pending(a);
        attempt_drop_conn(a, quit);
        attempt_finish(a);
}

/* attempt_next_addr - the server failed softly: try the next one */
static void attempt_next_addr(struct smtp_attempt *a, bool quit)
{
        attempt_drop_conn(a, quit);
        if (a->tx_started) {
                attempt_finish(a);
                return;
        }
        a->cur++;
        a->plain_retry = a->plain_next = false;
        attempt_connect_next(a);
}

/* set_nonblock - O_NONBLOCK on fd */
static int set_nonblock(int fd)
{
        int fl = fcntl(fd, F_GETFL);
        return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* bind_source - smtp_bind_address / smtp_bind_address6, when set */
static int bind_source(const struct conf *cf, int fd, int family)
{
        const char *src =
            family == AF_INET ? cf->smtp_bind_address : cf->smtp_bind_address6;
        struct sockaddr_storage ss;
        socklen_t len;

        if (src == NULL || *src == 0 || family == AF_UNIX)
                return 0;
        memset(&ss, 0, sizeof(ss));
        if (family == AF_INET) {
                struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
                s4->sin_family = AF_INET;
                len = sizeof(*s4);
                if (inet_pton(AF_INET, src, &s4->sin_addr) != 1) {
                        errno = EINVAL;
                        return -1;
                }
        } else {
                struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
                s6->sin6_family = AF_INET6;
                len = sizeof(*s6);
                if (inet_pton(AF_INET6, src, &s6->sin6_addr) != 1) {
                        errno = EINVAL;
                        return -1;
                }
        }
        return bind(fd, (struct sockaddr *)&ss, len);
}

/* unix_sockaddr - the address of an LMTP unix: next hop; -1 with last_err
 * set when it does not fit */
static int unix_sockaddr(struct smtp_attempt *a, struct sockaddr_storage *ss,
                         socklen_t *len)
{
        struct sockaddr_un *su = (struct sockaddr_un *)ss;
        char *path = smtp_lmtp_socket_path(a->client->conf, &a->nh);
        size_t n = strlen(path);

        if (n >= sizeof(su->sun_path)) {
                log_warnx("unix-domain name too long: %s", path);
                set_last_err(a, "4.3.5", "Server configuration error");
                free(path);
                return -1;
        }
        su->sun_family = AF_UNIX;
        memcpy(su->sun_path, path, n + 1);
        *len = (socklen_t)sizeof(*su);
        free(path);
        return 0;
}

/* attempt_connect_next - connect to addrs[cur] (or give up) */
static void attempt_connect_next(struct smtp_attempt *a)
{
        const struct conf *cf = a->client->conf;
        struct sockaddr_storage ss;
        socklen_t sslen;
        int fd;

        /* a pipelined RSET not yet answered: no transaction started */
        if (a->rset_pending) {
                a->rset_pending = false;
                a->tx_started = false;
        }
        /* called after a soft failure of the current connection too */
        if (a->conn) {
                attempt_drop_conn(a, false);
                if (a->tx_started) {
                        attempt_finish(a);
                        return;
                }
                if (a->reused) {
                        /* a cached connection died: start afresh */
                        a->reused = false;
                        enter(a, SMTP_ST_RESOLVE);
                        smtp_route_start(a);
                        return;
                }
                if (a->plain_next) {
                        a->plain_next = false;
                        a->plain_retry = true;
                } else {
                        a->cur++;
                        a->plain_retry = false;
                }
        }
        for (;;) {
                if (a->cur >= a->naddr ||
                    (cf->smtp_mx_session_limit > 0 &&
                     a->sessions >= cf->smtp_mx_session_limit)) {
                        attempt_finish(a);
                        return;
                }
                const struct smtp_addr *ad = &a->addrs[a->cur];
                if (a->dane_level != SMTP_TLS_NONE && !dane_host_level(a, ad)) {
                        log_info("%s: %s", ad->host, strbuf_cstr(&a->last_err));
                        a->cur++;
                        continue;
                }
                memset(&ss, 0, sizeof(ss));
                struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
                struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
                if (a->nh.path) {
                        if (unix_sockaddr(a, &ss, &sslen) < 0) {
                                attempt_finish(a);
                                return;
                        }
                } else if (inet_pton(AF_INET, ad->addr, &s4->sin_addr) == 1) {
                        s4->sin_family = AF_INET;
                        s4->sin_port = htons((uint16_t)a->nh.port);
                        sslen = sizeof(*s4);
                } else if (inet_pton(AF_INET6, ad->addr, &s6->sin6_addr) == 1) {
                        s6->sin6_family = AF_INET6;
                        s6->sin6_port = htons((uint16_t)a->nh.port);
                        sslen = sizeof(*s6);
                } else {
                        a->cur++;
                        continue;
                }
                a->conn = conn_new(a->client, ad->host, ad->addr, a->nh.port);
                a->conn->owner = a;
                fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (fd < 0 || set_nonblock(fd) < 0 ||
                    bind_source(cf, fd, ss.ss_family) < 0) {
                        set_last_err(a, "4.4.1", "connect to %s: %s",
                                     a->conn->relay, strerror(errno));
                        if (fd >= 0)
                                close(fd);
                        attempt_drop_conn(a, false);
                        a->cur++;
                        continue;
                }
                a->conn->fd = fd;
                a->conn->io =
                    event_io_new(a->client->loop, fd, conn_io_cb, a->conn);
                enter(a, SMTP_ST_CONNECT);
                if (connect(fd, (struct sockaddr *)&ss, sslen) < 0 &&
                    errno != EINPROGRESS) {
                        set_last_err(a, "4.4.1", "connect to %s: %s",
                                     a->conn->relay, strerror(errno));
                        log_info("%s", strbuf_cstr(&a->last_err));
                        attempt_drop_conn(a, false);
                        a->cur++;
                        continue;
                }
                (void)event_io_want(a->conn->io, false, true, stage_timeout(a));
                return;
        }
}

/* ---- protocol ---- */

/* send_ehlo - EHLO (or HELO when configured so), LMTP's LHLO */
static void send_ehlo(struct smtp_attempt *a)
{
        const char *name = a->client->conf->smtp_helo_name;

        if (name == NULL || *name == 0)
                name = "localhost";
        if (a->client->lmtp) {
                conn_cmd(a->conn, "LHLO %s", name);
                enter(a, SMTP_ST_EHLO);
        } else if (a->client->conf->smtp_never_send_ehlo) {
                conn_cmd(a->conn, "HELO %s", name);
                enter(a, SMTP_ST_HELO);
        } else {
                conn_cmd(a->conn, "EHLO %s", name);
                enter(a, SMTP_ST_EHLO);
        }
}

/* xtext - RFC 3461 encoding */
static void xtext(struct strbuf *out, const char *s)
{
        for (; *s; s++) {
                unsigned char ch = (unsigned char)*s;
                if (ch < 33 || ch > 126 || ch == '+' || ch == '=')
                        strbuf_printf(out, "+%02X", ch);
                else
                        strbuf_addc(out, (char)ch);
        }
}

/* safe_param - an ORCPT value as received: printable, no spaces */
static bool safe_param(const char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
                        return false;
        return true;
}

/* send_tx_cmd - transaction command i (MAIL, RCPT k, DATA) */
static void send_tx_cmd(struct smtp_attempt *a, size_t i)
{
        const struct queue_env *env = a->env;
        struct smtp_conn *c = a->conn;
        bool dsn = (c->features & SMTP_FEATURE_DSN) != 0;
        struct strbuf p;

        strbuf_init(&p);
        if (i == 0) {
                if (c->features & SMTP_FEATURE_SIZE)
                        strbuf_printf(&p, " SIZE=%llu",
                                      (unsigned long long)env->size);
                if ((env->body == QUEUE_BODY_8BITMIME ||
                     env->body == QUEUE_BODY_BINARYMIME) &&
                    (c->features & SMTP_FEATURE_8BITMIME))
                        strbuf_adds(&p, " BODY=8BITMIME");
                if (env->smtputf8 && (c->features & SMTP_FEATURE_SMTPUTF8))
                        strbuf_adds(&p, " SMTPUTF8");
                if (dsn && env->ret == QUEUE_RET_FULL)
                        strbuf_adds(&p, " RET=FULL");
                if (dsn && env->ret == QUEUE_RET_HDRS)
                        strbuf_adds(&p, " RET=HDRS");
                if (dsn && env->envid) {
                        strbuf_adds(&p, " ENVID=");
                        xtext(&p, env->envid);
                }
                conn_cmd(c, "MAIL FROM:<%s>%s", env->sender ? env->sender : "",
                         p.len ? p.s : "");
        } else if (i <= a->ntx) {
                const struct queue_rcpt *qr =
                    &env->rcpt[a->job->rcpt[a->tx[i - 1]].index];
                if (dsn && qr->notify) {
                        if (qr->notify & QUEUE_NOTIFY_NEVER) {
                                strbuf_adds(&p, " NOTIFY=NEVER");
                        } else {
                                const char *sep = " NOTIFY=";
                                if (qr->notify & QUEUE_NOTIFY_SUCCESS) {
                                        strbuf_printf(&p, "%sSUCCESS", sep);
                                        sep = ",";
                                }
                                if (qr->notify & QUEUE_NOTIFY_FAILURE) {
                                        strbuf_printf(&p, "%sFAILURE", sep);
                                        sep = ",";
                                }
                                if (qr->notify & QUEUE_NOTIFY_DELAY)
                                        strbuf_printf(&p, "%sDELAY", sep);
                        }
                }
                if (dsn && qr->orcpt && safe_param(qr->orcpt))
                        strbuf_printf(&p, " ORCPT=%s", qr->orcpt);
                conn_cmd(c, "RCPT TO:<%s>%s", qr->addr, p.len ? p.s : "");
        } else {
                conn_cmd(c, "DATA");
        }
        strbuf_clear(&p);
}

/* start_transaction - MAIL, RCPT..., DATA: all at once with PIPELINING,
 * after the RSET of a reused connection when rset_pending is set (RFC
 * 2920 allows RSET anywhere in a group); STEP_STOP when the attempt
 * ended (the attempt is then freed) */
static enum step start_transaction(struct smtp_attempt *a)
{
        struct smtp_conn *c = a->conn;
        const struct queue_env *env = a->env;
        bool rset = a->rset_pending;

        a->rset_pending = false; /* sent below, or never */

        a->t_tx = smtp_now();
        if (env->smtputf8 && !(c->features & SMTP_FEATURE_SMTPUTF8)) {
                set_last_err(a, "5.6.7",
                             "SMTPUTF8 is required, but was not offered by "
                             "host %s",
                             c->namaddr);
                attempt_final_fail(a, true);
                return STEP_STOP;
        }
        if ((c->features & SMTP_FEATURE_SIZE) && c->size_limit > 0 &&
            env->size > c->size_limit) {
                set_last_err(a, "5.3.4",
                             "message size %llu exceeds size limit %llu of "
                             "server %s",
                             (unsigned long long)env->size, c->size_limit,
                             c->namaddr);
                attempt_final_fail(a, true);
                return STEP_STOP;
        }
        a->ntx = 0;
        free(a->tx);
        free(a->accepted);
        a->tx = xcalloc(a->job->nrcpt + 1, sizeof(*a->tx));
        a->accepted = xcalloc(a->job->nrcpt + 1, sizeof(*a->accepted));
        for (size_t i = 0; i < a->job->nrcpt; i++)
                if (a->job->rcpt[i].status == SMTP_RCPT_PENDING &&
                    a->job->rcpt[i].index < env->nrcpt)
                        a->tx[a->ntx++] = i;
        if (a->ntx == 0) {
                attempt_finish(a);
                return STEP_STOP;
        }
        a->naccepted = 0;
        a->mail_failed = false;
        a->send_cur = a->recv_cur = 0;
        a->tx_started = true;
        enter(a, SMTP_ST_TRANSACTION);
        if (rset) {
                conn_cmd(c, "RSET");
                a->rset_pending = true;
        }
        if (c->features & SMTP_FEATURE_PIPELINING) {
                for (; a->send_cur < a->ntx + 2; a->send_cur++)
                        send_tx_cmd(a, a->send_cur);
        } else {
                send_tx_cmd(a, a->send_cur++);
        }
        return STEP_GO_ON;
}

/* tx_end - the transaction is over with the connection in a clean state */
static void tx_end(struct smtp_attempt *a, bool reusable)
{
        struct smtp_conn *c = a->conn;

        attempt_fail_pending(a);
        if (reusable && c && !c->eof) {
                a->conn = NULL;
                conn_cache(a, c);
        }
        attempt_finish(a);
}

/* body_fill - the next chunks of the body, dot-stuffed, CR LF ends, up
 * to SMTP_BODY_CHUNK bytes or the end; then the final "." (in the same
 * write as the end of the body) only when the whole body was read and
 * its checksum verified */
static enum step body_fill(struct smtp_attempt *a)
{
        struct smtp_conn *c = a->conn;
        char buf[SMTP_BODY_CHUNK];
        long long limit = a->client->conf->smtp_line_length_limit;

        while (c->wbuf.len < SMTP_BODY_CHUNK) {
                size_t got = 0;
                const char *errstr = NULL;
                if (queue_file_read_body(a->job->qf, buf, sizeof(buf), &got,
                                         &errstr) < 0) {
                        /* Never end the DATA: the server must not get a
                         * truncated or corrupt message.  Closing without
                         * "." aborts it. */
                        log_warnx("%s: error reading message body: %s",
                                  a->env->id ? a->env->id : "NOQUEUE",
                                  errstr ? errstr : "unknown");
                        set_last_err(a, "4.3.0",
                                     "error reading the queue file: %s; "
                                     "delivery to %s aborted",
                                     errstr ? errstr : "unknown", c->namaddr);
                        attempt_drop_conn(a, false);
                        attempt_finish(a);
                        return STEP_STOP;
                }
                if (got == 0) {
                        if (!a->line_start)
                                strbuf_adds(&c->wbuf, "\r\n");
                        strbuf_adds(&c->wbuf, ".\r\n");
                        enter(a, SMTP_ST_DOT);
                        return STEP_GO_ON;
                }
                for (size_t i = 0; i < got; i++) {
                        char ch = buf[i];
                        /* smtp_line_length_limit: longer lines are broken
                         * with CR LF SPACE, as Postfix does */
                        if (limit > 0 && ch != '\n' && ch != '\r' &&
                            a->line_len >= (size_t)limit) {
                                strbuf_adds(&c->wbuf, "\r\n ");
                                a->line_len = 1;
                                a->line_start = false;
                        }
                        if (a->line_start && ch == '.')
                                strbuf_addc(&c->wbuf, '.');
                        if (ch == '\n') {
                                /* a bare LF becomes CR LF */
                                if (!a->prev_cr)
                                        strbuf_addc(&c->wbuf, '\r');
                                strbuf_addc(&c->wbuf, '\n');
                                a->line_start = true;
                                a->prev_cr = false;
                                a->line_len = 0;
                                continue;
                        }
                        strbuf_addc(&c->wbuf, ch);
                        if (ch != '\r')
                                a->line_len++;
                        a->line_start = false;
                        a->prev_cr = ch == '\r';
                }
        }
        return STEP_GO_ON;
}

/* tls_exclude - the exclusions of this session */
static char *tls_exclude(struct smtp_attempt *a, bool mandatory)
{
        const struct conf *cf = a->client->conf;
        struct strbuf b;

        strbuf_init(&b);
        strbuf_adds(&b, cf->smtp_tls_exclude_ciphers
                            ? cf->smtp_tls_exclude_ciphers
                            : "");
        if (mandatory && cf->smtp_tls_mandatory_exclude_ciphers)
                strbuf_printf(&b, " %s",
                              cf->smtp_tls_mandatory_exclude_ciphers);
        if (a->pol.exclude)
                strbuf_printf(&b, " %s", a->pol.exclude);
        return strbuf_detach(&b);
}

/* tls_sess_key - the TLS session cache key */
static char *tls_sess_key(struct smtp_attempt *a)
{
        return xasprintf("%s&%s&%s", a->reuse_key, a->conn->addr,
                         a->conn->host);
}

/* tls_nexthop - the next-hop name certificates are matched against:
 * myhostname for a unix-domain socket, as in Postfix */
static const char *tls_nexthop(const struct smtp_attempt *a)
{
        return a->nh.path ? a->client->conf->myhostname : a->nh.host;
}

/* start_tls - the handshake after "220" to STARTTLS */
static enum step start_tls(struct smtp_attempt *a)
{
        const struct conf *cf = a->client->conf;
        struct smtp_conn *c = a->conn;
        bool mandatory = a->level >= SMTP_TLS_ENCRYPT;
        struct tls_match m = {0};
        const char *errstr = NULL;
        const char *sni =
            a->pol.servername ? a->pol.servername : cf->smtp_tls_servername;

        /* Plaintext the server sent after its 220 was never protected:
         * drop it, or it would be read as a reply inside TLS
         * (CVE-2011-0411). */
        if (c->rbuf.len > 0) {
                log_info("%s: discarding %zu bytes of plaintext received "
                         "after the STARTTLS reply",
                         c->namaddr, c->rbuf.len);
                strbuf_reset(&c->rbuf);
        }
        if (sni && str_eq_ci(sni, "hostname"))
                sni = c->host;
        else if (sni && str_eq_ci(sni, "nexthop"))
                sni = tls_nexthop(a);
        if (sni && *sni == 0)
                sni = NULL;
        if (sni && is_ip_literal(sni))
                sni = NULL;
        if (a->level == SMTP_TLS_VERIFY || a->level == SMTP_TLS_SECURE) {
                m.match = a->pol.match ? a->pol.match
                          : a->level == SMTP_TLS_VERIFY
                              ? cf->smtp_tls_verify_cert_match
                              : cf->smtp_tls_secure_cert_match;
                m.nexthop = tls_nexthop(a);
                m.hostname = c->host;
                m.single_label_wildcards =
                    !cf->tls_wildcard_matches_multiple_labels;
        }
        char *excl = tls_exclude(a, mandatory);
        char *skey = tls_sess_key(a);
        const struct smtp_tls_sess *cached = smtp_tls_sess_get(a->client, skey);
        free(skey);
        struct tls_start st = {
            .ctx = a->level == SMTP_TLS_FINGERPRINT ? a->client->tls_ctx_quiet
                                                    : a->client->tls_ctx,
            .fd = c->fd,
            .namaddr = c->relay,
            .sni = sni,
            .protocols = a->pol.protocols ? a->pol.protocols
                         : mandatory      ? cf->smtp_tls_mandatory_protocols
                                          : NULL,
            .ciphers = a->pol.ciphers ? a->pol.ciphers
                       : mandatory    ? cf->smtp_tls_mandatory_ciphers
                                      : NULL,
            .exclude = *excl ? excl : NULL,
            .match = m.match ? &m : NULL,
            .session = cached ? cached->data : NULL,
            .session_len = cached ? cached->len : 0,
            /* trust anchors replace the CAs for the levels that verify */
            .tafile = a->level == SMTP_TLS_VERIFY || a->level == SMTP_TLS_SECURE
                          ? (a->pol.tafile ? a->pol.tafile
                                           : cf->smtp_tls_trust_anchor_file)
                          : NULL,
        };
        if (a->level == SMTP_TLS_DANE) {
                const struct smtp_addr *ad = &a->addrs[a->cur];
                st.tlsa = ad->tlsa;
                st.ntlsa = ad->ntlsa;
                st.dane_base = ad->dane_base;
                st.dane_hostname = c->host;
                st.sni = ad->dane_base; /* RFC 7672 section 8.1 */
                st.match = NULL;
        }
        int rc = tls_conn_start(&st, &c->tls, &errstr);
        free(excl);
        if (rc < 0) {
                log_warnx("%s: TLS policy error: %s", c->namaddr,
                          errstr ? errstr : "unknown");
                set_last_err(a, "4.7.5",
                             "TLS is required, but our TLS engine is "
                             "unavailable");
                if (!mandatory) {
                        a->plain_next = true;
                        attempt_connect_next(a);
                        return STEP_STOP;
                }
                attempt_next_addr(a, false);
                return STEP_STOP;
        }
        a->tls_active = true;
        enter(a, SMTP_ST_TLS_HANDSHAKE);
        return STEP_GO_ON;
}

/* fingerprint_match - the peer's certificate or key digest is listed */
static bool fingerprint_match(struct smtp_attempt *a, const struct tls_info *in)
{
        const char *list =
            a->pol.match ? a->pol.match
                         : a->client->conf->smtp_tls_fingerprint_cert_match;
        struct strlist fps = {0};
        bool ok = false;

        if (!in->peer_cert || list == NULL)
                return false;
        str_split(list, "| \t\r\n,", &fps);
        for (size_t i = 0; i < fps.n && !ok; i++)
                ok = str_eq_ci(fps.v[i], in->cert_fprint) ||
                     str_eq_ci(fps.v[i], in->pkey_fprint);
        strlist_clear(&fps);
        return ok;
}

/* tls_done - the handshake finished: enforce the level, then EHLO */
static enum step tls_done(struct smtp_attempt *a)
{
        struct smtp_conn *c = a->conn;
        const struct tls_info *in = tls_conn_info(c->tls);
        bool ok = true;
        const char *why = NULL;

        if (a->level == SMTP_TLS_FINGERPRINT) {
                /* Postfix 3.7 matches fingerprints without the CA trust
                 * chain: a match is Verified, anything else Untrusted
                 * (it logs the failure as a DANE-style verify error). */
                ok = fingerprint_match(a, in);
                if (a->client->conf->smtp_tls_loglevel >= 1) {
                        struct strbuf sb;
                        strbuf_init(&sb);
                        if (!ok && in->peer_cert)
                                log_info("server certificate verification "
                                         "failed for %s: num=65:no matching "
                                         "DANE TLSA records",
                                         c->relay);
                        tls_conn_summary(c->tls, &sb);
                        const char *rest = strchr(sb.s ? sb.s : "", ' ');
                        const char *word = ok              ? "Verified"
                                           : in->peer_cert ? "Untrusted"
                                                           : "Anonymous";
                        log_info("%s%s", word, rest ? rest : "");
                        strbuf_clear(&sb);
                }
                if (!ok)
                        why = "Server certificate not verified";
        } else if (a->level == SMTP_TLS_DANE) {
                /* usable TLSA records: only a match authenticates, and
                 * nothing is sent over a connection that did not match */
                if (!in->verified)
                        why = "Server certificate not verified";
                else if (a->client->conf->smtp_tls_loglevel >= 2)
                        log_info("%s: depth=%d matched %s", c->relay,
                                 in->dane_depth, in->dane_match);
        } else if (a->level == SMTP_TLS_VERIFY || a->level == SMTP_TLS_SECURE) {
                /* Postfix 3.7 checks "matched" first, and a certificate
                 * that is not trusted never matches: both failures read
                 * "Server certificate not verified". */
                if (!in->trusted || !in->verified)
                        why = "Server certificate not verified";
        }
        if (in->reused)
                log_debug("%s: TLS session resumed", c->relay);
        if (why) {
                set_last_err(a, "4.7.5", "%s", why);
                log_info("%s: %s", c->relay, why);
                attempt_next_addr(a, true);
                return STEP_STOP;
        }
        if (a->wrapper_greeting) {
                a->wrapper_greeting = false;
                enter(a, SMTP_ST_GREETING);
                return STEP_GO_ON;
        }
        send_ehlo(a);
        return STEP_GO_ON;
}

/* drive_handshake - one step of the TLS handshake */
static enum step drive_handshake(struct smtp_attempt *a)
{
        struct smtp_conn *c = a->conn;
        enum tls_io r = tls_conn_handshake(c->tls);

        if (r == TLS_IO_WANT_READ || r == TLS_IO_WANT_WRITE) {
                (void)event_io_want(c->io, r == TLS_IO_WANT_READ,
                                    r == TLS_IO_WANT_WRITE, stage_timeout(a));
                return STEP_STOP;
        }
        if (r == TLS_IO_DONE)
                return tls_done(a);
        log_info("%s", tls_conn_error(c->tls));
        set_last_err(a, "4.7.5", "Cannot start TLS: handshake failure");
        if (a->level == SMTP_TLS_MAY) {
                /* Opportunistic TLS: a new connection in plaintext. */
                log_info("%s: TLS handshake failed; retrying in plaintext "
                         "(%s_tls_security_level = may)",
                         c->relay, a->client->service);
                a->plain_next = true;
                attempt_connect_next(a);
                return STEP_STOP;
        }
        attempt_next_addr(a, false);
        return STEP_STOP;
}

/* on_ehlo - the EHLO/HELO reply */
static enum step after_ehlo(struct smtp_attempt *a);

static enum step on_ehlo(struct smtp_attempt *a, bool helo)
{
        struct smtp_conn *c = a->conn;
        const struct smtp_reply *rp = a->rp;
        bool mandatory = a->level >= SMTP_TLS_ENCRYPT;

        if (rp->code / 100 != 2) {
                /* LMTP has no HELO to fall back to */
                if (!helo && !a->tls_active && !a->client->lmtp) {
                        conn_cmd(c, "HELO %s",
                                 a->client->conf->smtp_helo_name &&
                                         *a->client->conf->smtp_helo_name
                                     ? a->client->conf->smtp_helo_name
                                     : "localhost");
                        enter(a, SMTP_ST_HELO);
                        return STEP_GO_ON;
                }
                char dsn[16];
                struct strbuf t;
                reply_dsn(rp, dsn, sizeof(dsn));
                strbuf_init(&t);
                strbuf_printf(&t, "host %s said: ", c->namaddr);
                smtp_reply_oneline(rp, &t);
                strbuf_printf(&t, " (in reply to %s command)",
                              helo              ? "HELO"
                              : a->client->lmtp ? "LHLO"
                                                : "EHLO");
                set_last_err(a, dsn, "%s", strbuf_cstr(&t));
                strbuf_clear(&t);
                if (dsn[0] == '5')
                        attempt_final_fail(a, true);
                else
                        attempt_next_addr(a, true);
                return STEP_STOP;
        }
        c->features = helo ? 0 : smtp_ehlo_features(rp, &c->size_limit);
        if (a->tls_active) {
                /* TLS 1.3 tickets arrive after the handshake: now. */
                unsigned char *buf = NULL;
                size_t len = 0;
                if (tls_conn_session_export(c->tls, &buf, &len) == 0) {
                        char *k = tls_sess_key(a);
                        smtp_tls_sess_put(a->client, k, buf, len);
                        free(k);
                }
                return after_ehlo(a);
        }
        if (a->level == SMTP_TLS_NONE || a->plain_retry) {
                if (a->level == SMTP_TLS_NONE &&
                    (c->features & SMTP_FEATURE_STARTTLS) &&
                    a->client->conf->smtp_tls_note_starttls_offer)
                        log_info("Host offered STARTTLS: [%s]", c->host);
                return after_ehlo(a);
        }
        if (!(c->features & SMTP_FEATURE_STARTTLS) ||
            a->client->tls_ctx == NULL) {
                if (!mandatory) {
                        return after_ehlo(a);
                }
                if (a->client->tls_ctx == NULL)
                        set_last_err(a, "4.7.5",
                                     "TLS is required, but our TLS engine is "
                                     "unavailable");
                else
                        set_last_err(a, "4.7.4",
                                     "TLS is required, but was not offered by "
                                     "host %s",
                                     c->namaddr);
                log_info("%s", strbuf_cstr(&a->last_err));
                attempt_next_addr(a, true);
                return STEP_STOP;
        }
        conn_cmd(c, "STARTTLS");
        enter(a, SMTP_ST_STARTTLS);
        return STEP_GO_ON;
}

/* host_failed - log last_err; a 5XX ends the attempt, anything else
 * moves on to the next address */
static enum step host_failed(struct smtp_attempt *a, const char *dsn)
{
        log_info("%s", strbuf_cstr(&a->last_err));
        if (dsn[0] == '5')
                attempt_final_fail(a, true);
        else
                attempt_next_addr(a, true);
        return STEP_STOP;
}

/* sasl_forget - wipe and free the credentials of an AUTH LOGIN */
static void sasl_forget(struct smtp_attempt *a)
{
        if (a->sasl_pass)
                explicit_bzero(a->sasl_pass, strlen(a->sasl_pass));
        free(a->sasl_user);
        free(a->sasl_pass);
        a->sasl_user = a->sasl_pass = NULL;
}

/* sasl_failed - authentication did not work with this server: try the
 * next one (Postfix: smtp_sasl_auth_soft_bounce makes a 5XX a deferral) */
static enum step sasl_failed(struct smtp_attempt *a, const char *dsn)
{
        sasl_forget(a);
        return host_failed(a, dsn);
}

/* after_ehlo - AUTH when smtp_sasl_auth_enable has credentials for this
 * server and the server offers AUTH, then the transaction */
static enum step after_ehlo(struct smtp_attempt *a)
{
        struct smtp_conn *c = a->conn;
        const struct conf *cf = a->client->conf;
        const char *value = NULL;
        char *err = NULL, *user = NULL, *pass = NULL;
        enum table_status st = TABLE_NOTFOUND;
        struct strbuf dest;

        if (a->client->sasl_maps == NULL || c->authenticated ||
            !(c->features &
              (SMTP_FEATURE_AUTH_PLAIN | SMTP_FEATURE_AUTH_LOGIN)))
                return start_transaction(a);
        /* with smtp_sender_dependent_authentication the sender, then its
         * @domain; the server's name, then the next hop as written */
        const char *sender = queue_file_env(a->job->qf)->sender;
        const char *at = sender ? strrchr(sender, '@') : NULL;
        bool by_sender =
            cf->smtp_sender_dependent_authentication && sender && *sender;
        strbuf_init(&dest);
        strbuf_printf(&dest, a->nh.no_mx ? "[%s]" : "%s", a->nh.host);
        if (a->nh.port != 25)
                strbuf_printf(&dest, ":%u", a->nh.port);
        const char *keys[] = {by_sender ? sender : NULL, by_sender ? at : NULL,
                              c->host, strbuf_cstr(&dest)};
        for (size_t i = 0; i < ARRAY_SIZE(keys) && st == TABLE_NOTFOUND; i++)
                if (keys[i])
                        st = table_list_lookup(a->client->sasl_maps, keys[i],
                                               &value, NULL, &err);
        strbuf_clear(&dest);
        if (st == TABLE_ERROR) {
                set_last_err(a, "4.3.0",
                             "smtp_sasl_password_maps lookup error: %s",
                             err ? err : "unknown");
                free(err);
                return sasl_failed(a, "4.3.0");
        }
        if (st == TABLE_NOTFOUND)
                return start_transaction(a);
        if (smtp_sasl_split(value, &user, &pass) < 0) {
                set_last_err(a, "4.3.5",
                             "smtp_sasl_password_maps: the entry for %s is "
                             "not user:password",
                             c->host);
                return sasl_failed(a, "4.3.5");
        }
        unsigned mech = smtp_sasl_mechanism(cf, c->features, a->tls_active);
        if (mech == 0) {
                free(user);
                explicit_bzero(pass, strlen(pass));
                free(pass);
                set_last_err(a, "4.7.0",
                             "SASL authentication failed; cannot "
                             "authenticate to server %s: no mechanism "
                             "available",
                             c->namaddr);
                return sasl_failed(a, "4.7.0");
        }
        if (mech == SMTP_FEATURE_AUTH_PLAIN) {
                char *resp = smtp_sasl_plain(user, pass);
                conn_cmd(c, "AUTH PLAIN %s", resp);
                explicit_bzero(resp, strlen(resp));
                free(resp);
                free(user);
                explicit_bzero(pass, strlen(pass));
                free(pass);
        } else {
                conn_cmd(c, "AUTH LOGIN");
                a->sasl_user = user;
                a->sasl_pass = pass;
                a->sasl_step = 0;
        }
        enter(a, SMTP_ST_AUTH);
        return STEP_GO_ON;
}

/* on_auth - the server's reply to AUTH (or to a LOGIN step) */
static enum step on_auth(struct smtp_attempt *a)
{
        struct smtp_conn *c = a->conn;
        const struct smtp_reply *rp = a->rp;

        if (rp->code == 235) {
                sasl_forget(a);
                c->authenticated = true;
                return start_transaction(a);
        }
        if (rp->code == 334 && a->sasl_user && a->sasl_step < 2) {
                const char *s =
                    a->sasl_step++ == 0 ? a->sasl_user : a->sasl_pass;
                char *b = smtp_sasl_base64(s, strlen(s));
                conn_cmd(c, "%s", b);
                explicit_bzero(b, strlen(b));
                free(b);
                return STEP_GO_ON;
        }
        char dsn[16];
        struct strbuf t;
        reply_dsn(rp, dsn, sizeof(dsn));
        if (dsn[0] == '5' && a->client->conf->smtp_sasl_auth_soft_bounce)
                dsn[0] = '4';
        strbuf_init(&t);
        smtp_reply_oneline(rp, &t);
        set_last_err(a, dsn, "SASL authentication failed; server %s said: %s",
                     c->namaddr, strbuf_cstr(&t));
        strbuf_clear(&t);
        return sasl_failed(a, dsn);
}

/* dot_outcome - recipient r's outcome from the end-of-data reply */
static void dot_outcome(struct smtp_attempt *a, struct smtp_rcpt *r)
{
        if (a->rp->code / 100 == 2) {
                char dsn[16];
                struct strbuf t;
                reply_dsn(a->rp, dsn, sizeof(dsn));
                strbuf_init(&t);
                smtp_reply_oneline(a->rp, &t);
                rcpt_set(a, r, dsn, strbuf_cstr(&t));
                strbuf_clear(&t);
        } else {
                rcpt_fail_reply(a, r, "end of DATA");
        }
}

/* on_lmtp_dot - LMTP: one end-of-data reply per recipient that RCPT
 * accepted, in RCPT order (RFC 2033 section 4.2), each deciding that
 * recipient alone: a 452 for a full mailbox defers that one only.
 * Recipients are recorded reply by reply, so a connection lost half-way
 * leaves only those without a reply to be tried again. */
static enum step on_lmtp_dot(struct smtp_attempt *a)
{
        while (a->dot_cur < a->ntx && !a->accepted[a->dot_cur])
                a->dot_cur++;
        if (a->dot_cur < a->ntx)
                dot_outcome(a, &a->job->rcpt[a->tx[a->dot_cur++]]);
        while (a->dot_cur < a->ntx && !a->accepted[a->dot_cur])
                a->dot_cur++;
        if (a->dot_cur < a->ntx)
                return STEP_GO_ON; /* more replies to come */
        tx_end(a, true);
        return STEP_STOP;
}

/* on_reply - a complete reply in the current state */
static enum step on_reply(struct smtp_attempt *a)
{
        struct smtp_conn *c = a->conn;
        const struct smtp_reply *rp = a->rp;
        int cls = rp->code / 100;

        switch (a->st) {
        case SMTP_ST_GREETING:
                if (cls == 2) {
                        send_ehlo(a);
                        return STEP_GO_ON;
                } else {
                        char dsn[16];
                        struct strbuf t;
                        reply_dsn(rp, dsn, sizeof(dsn));
                        strbuf_init(&t);
                        strbuf_printf(
                            &t, "host %s refused to talk to me: ", c->namaddr);
                        smtp_reply_oneline(rp, &t);
                        set_last_err(a, dsn, "%s", strbuf_cstr(&t));
                        strbuf_clear(&t);
                        log_info("%s", strbuf_cstr(&a->last_err));
                        if (cls == 5 &&
                            !a->client->conf->smtp_skip_5xx_greeting) {
                                attempt_final_fail(a, true);
                        } else {
                                /* skipped: another server, or a retry */
                                a->last_dsn[0] = '4';
                                attempt_next_addr(a, true);
                        }
                        return STEP_STOP;
                }
        case SMTP_ST_EHLO:
                return on_ehlo(a, false);
        case SMTP_ST_HELO:
                return on_ehlo(a, true);
        case SMTP_ST_AUTH:
                return on_auth(a);
        case SMTP_ST_STARTTLS:
                if (rp->code == 220)
                        return start_tls(a);
                if (a->level >= SMTP_TLS_ENCRYPT) {
                        char dsn[16];
                        struct strbuf t;
                        reply_dsn(rp, dsn, sizeof(dsn));
                        strbuf_init(&t);
                        smtp_reply_oneline(rp, &t);
                        set_last_err(a, dsn,
                                     "TLS is required, but host %s refused "
                                     "to start TLS: %s",
                                     c->namaddr, strbuf_cstr(&t));
                        strbuf_clear(&t);
                        return host_failed(a, dsn);
                }
                /* may: go on in plaintext on this connection */
                return start_transaction(a);
        case SMTP_ST_RSET:
                if (cls == 2) {
                        a->t_start = smtp_now();
                        return start_transaction(a);
                }
                set_last_err(a, "4.4.2", "cached connection to %s failed RSET",
                             c->namaddr);
                attempt_connect_next(a);
                return STEP_STOP;
        case SMTP_ST_TRANSACTION: {
                if (a->rset_pending) {
                        a->rset_pending = false;
                        if (cls == 2)
                                return STEP_GO_ON;
                        set_last_err(a, "4.4.2",
                                     "cached connection to %s failed RSET",
                                     c->namaddr);
                        a->tx_started = false; /* start afresh */
                        attempt_connect_next(a);
                        return STEP_STOP;
                }
                size_t i = a->recv_cur++;
                if (i == 0) {
                        if (cls != 2) {
                                a->mail_failed = true;
                                for (size_t k = 0; k < a->ntx; k++)
                                        rcpt_fail_reply(a,
                                                        &a->job->rcpt[a->tx[k]],
                                                        "MAIL FROM");
                        }
                } else if (i <= a->ntx) {
                        if (!a->mail_failed) {
                                if (cls == 2) {
                                        a->accepted[i - 1] = true;
                                        a->naccepted++;
                                } else {
                                        rcpt_fail_reply(
                                            a, &a->job->rcpt[a->tx[i - 1]],
                                            "RCPT TO");
                                }
                        }
                } else {
                        /* the DATA reply */
                        if (a->mail_failed || a->naccepted == 0) {
                                if (rp->code == 354) {
                                        /* end the empty message at once */
                                        strbuf_adds(&c->wbuf, ".\r\n");
                                        a->dot_ignore = true;
                                        enter(a, SMTP_ST_DOT);
                                        return STEP_GO_ON;
                                }
                                conn_cmd(c, "RSET");
                                tx_end(a, false);
                                return STEP_STOP;
                        }
                        if (rp->code != 354) {
                                for (size_t k = 0; k < a->ntx; k++)
                                        if (a->accepted[k])
                                                rcpt_fail_reply(
                                                    a, &a->job->rcpt[a->tx[k]],
                                                    "DATA");
                                tx_end(a, false);
                                return STEP_STOP;
                        }
                        queue_file_rewind_body(a->job->qf);
                        a->dot_cur = 0;
                        a->line_start = true;
                        a->prev_cr = false;
                        a->line_len = 0;
                        enter(a, SMTP_ST_BODY);
                        return STEP_GO_ON;
                }
                /* Without PIPELINING: one command per reply. */
                if (!(c->features & SMTP_FEATURE_PIPELINING)) {
                        if (a->mail_failed ||
                            (a->send_cur == a->ntx + 1 && a->naccepted == 0)) {
                                tx_end(a, false);
                                return STEP_STOP;
                        }
                        send_tx_cmd(a, a->send_cur++);
                }
                return STEP_GO_ON;
        }
        case SMTP_ST_DOT:
                if (a->dot_ignore) {
                        a->dot_ignore = false;
                        tx_end(a, cls == 2);
                        return STEP_STOP;
                }
                if (a->client->lmtp)
                        return on_lmtp_dot(a);
                for (size_t k = 0; k < a->ntx; k++)
                        if (a->accepted[k])
                                dot_outcome(a, &a->job->rcpt[a->tx[k]]);
                tx_end(a, true);
                return STEP_STOP;
        default:
                return STEP_GO_ON;
        }
}

/* expecting - whether the state waits for a server reply */
static bool expecting(const struct smtp_attempt *a)
{
        switch (a->st) {
        case SMTP_ST_GREETING:
        case SMTP_ST_EHLO:
        case SMTP_ST_HELO:
        case SMTP_ST_STARTTLS:
        case SMTP_ST_AUTH:
        case SMTP_ST_RSET:
        case SMTP_ST_DOT:
                return true;
        case SMTP_ST_TRANSACTION:
                return a->rset_pending || a->recv_cur < a->send_cur;
        default:
                return false;
        }
}

/* lost - the connection broke */
static void lost(struct smtp_attempt *a)
{
        set_last_err(a, "4.4.2", "lost connection with %s while %s",
                     a->conn->namaddr, stage_text(a));
        log_info("%s", strbuf_cstr(&a->last_err));
        if (a->st == SMTP_ST_TLS_HANDSHAKE && a->level == SMTP_TLS_MAY)
                a->plain_next = true;
        attempt_connect_next(a);
}

/* connected - the non-blocking connect finished */
static enum step connected(struct smtp_attempt *a)
{
        struct smtp_conn *c = a->conn;
        int err = 0;
        socklen_t len = sizeof(err);

        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
                err = errno;
        if (err) {
                set_last_err(a, "4.4.1", "connect to %s: %s", c->relay,
                             strerror(err));
                log_info("%s", strbuf_cstr(&a->last_err));
                attempt_connect_next(a);
                return STEP_STOP;
        }
        int one = 1;
        a->sessions++;
        (void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (a->wrapper) {
                /* SMTPS (port 465): the handshake first, the greeting
                 * inside TLS; nothing can fall back to plaintext, so an
                 * opportunistic level is encrypt here */
                if (a->level == SMTP_TLS_MAY)
                        a->level = SMTP_TLS_ENCRYPT;
                a->wrapper_greeting = true;
                return start_tls(a);
        }
        enter(a, SMTP_ST_GREETING);
        return STEP_GO_ON;
}

/* attempt_pump - move bytes and replies until the socket would block */
static enum step attempt_pump(struct smtp_attempt *a)
{
        char line[4096];

        for (;;) {
                struct smtp_conn *c = a->conn;
                if (a->st == SMTP_ST_CONNECT) {
                        if (connected(a) == STEP_STOP)
                                return STEP_STOP;
                        continue;
                }
                if (a->st == SMTP_ST_TLS_HANDSHAKE) {
                        if (drive_handshake(a) == STEP_STOP)
                                return STEP_STOP;
                        continue;
                }
                if (conn_write(c) < 0) {
                        lost(a);
                        return STEP_STOP;
                }
                if (a->st == SMTP_ST_BODY && c->wpos >= c->wbuf.len) {
                        if (body_fill(a) == STEP_STOP)
                                return STEP_STOP;
                        continue;
                }
                if (conn_read(c) < 0) {
                        lost(a);
                        return STEP_STOP;
                }
                bool progressed = false;
                while (expecting(a)) {
                        bool got;
                        size_t n = conn_line(c, line, sizeof(line), &got);
                        if (!got)
                                break;
                        const char *errstr = NULL;
                        if (log_verbose())
                                log_debug("< %s: %s", c->namaddr, line);
                        if (smtp_reply_line(&a->reply, line, n, &errstr) < 0) {
                                set_last_err(a, "4.4.2",
                                             "malformed reply from %s while "
                                             "%s: %s",
                                             c->namaddr, stage_text(a), errstr);
                                log_info("%s", strbuf_cstr(&a->last_err));
                                smtp_reply_clear(&a->reply);
                                attempt_connect_next(a);
                                return STEP_STOP;
                        }
                        if (!a->reply.done)
                                continue;
                        /* the handler may end the attempt: the reply
                         * must not live inside it */
                        struct smtp_reply done = a->reply;
                        smtp_reply_init(&a->reply);
                        a->rp = &done;
                        enum step s = on_reply(a);
                        smtp_reply_clear(&done);
                        if (s == STEP_STOP)
                                return STEP_STOP;
                        progressed = true;
                        break; /* new state: write before reading more */
                }
                if (progressed)
                        continue;
                if (c->eof && (expecting(a) || a->st == SMTP_ST_BODY)) {
                        lost(a);
                        return STEP_STOP;
                }
                if (c->rbuf.len >= SMTP_RBUF_MAX) {
                        set_last_err(a, "4.4.2",
                                     "reply line too long from %s while %s",
                                     c->namaddr, stage_text(a));
                        attempt_connect_next(a);
                        return STEP_STOP;
                }
                if (a->st == SMTP_ST_BODY && c->wpos >= c->wbuf.len)
                        continue;
                conn_arm(c, true, stage_timeout(a));
                return STEP_GO_ON;
        }
}

/* route done: DANE lookups first when the policy asks for DANE */
void smtp_route_done(struct smtp_attempt *a)
{
        a->cur = 0;
        if (a->dane_level != SMTP_TLS_NONE) {
                smtp_dane_start(a);
                return;
        }
        attempt_connect_next(a);
}

/* smtp_dane_done - every MX host has its DANE state: connect */
void smtp_dane_done(struct smtp_attempt *a)
{
        a->cur = 0;
        attempt_connect_next(a);
}

/* dane_host_level - the level for one host of a dane policy; false when
 * the host must be skipped (the reason is in last_err) */
static bool dane_host_level(struct smtp_attempt *a, const struct smtp_addr *ad)
{
        switch (ad->dane) {
        case SMTP_DANE_RECORDS:
                a->level = SMTP_TLS_DANE;
                return true;
        case SMTP_DANE_UNUSABLE:
                /* RFC 7672 section 2.2: secure but unusable records
                 * still mean TLS is mandatory, without authentication */
                a->level = SMTP_TLS_ENCRYPT;
                return true;
        case SMTP_DANE_FAIL:
                set_last_err(a, "4.7.5", "%s",
                             ad->dane_why ? ad->dane_why : "TLSA lookup error");
                return false;
        default:
                if (a->dane_level == SMTP_TLS_DANE_ONLY) {
                        set_last_err(a, "4.7.5",
                                     "TLS is required, but host %s has no "
                                     "DNSSEC-validated TLSA records "
                                     "(dane-only)",
                                     ad->host);
                        return false;
                }
                a->level = SMTP_TLS_MAY;
                return true;
        }
}

/* smtp_route_failed - no address: every recipient gets the error */
void smtp_route_failed(struct smtp_attempt *a, const char *dsn, const char *fmt,
                       ...)
{
        va_list ap;

        va_start(ap, fmt);
        set_last_errv(a, dsn, fmt, ap);
        va_end(ap);
        attempt_finish(a);
}

/* policy_key - the TLS policy lookup key of the attempt: the job's, else
 * the next hop; for LMTP, as Postfix looks it up, the socket path or the
 * destination without "inet:" */
static const char *policy_key(const struct smtp_attempt *a)
{
        const char *k = a->job->nexthop;

        if (a->job->policy_key)
                return a->job->policy_key;
        if (a->client->lmtp && a->nh.path)
                return a->nh.path;
        if (a->client->lmtp && k && str_has_prefix(k, "inet:"))
                return k + 5;
        return k;
}

/* attempt_begin - on the loop: a cached connection, or routing */
static void attempt_begin(void *arg)
{
        struct smtp_attempt *a = arg;
        const char *errstr = NULL;
        char *err = NULL;

        a->t_start = smtp_now();
        a->env = queue_file_env(a->job->qf);
        if ((a->client->lmtp
                 ? smtp_lmtp_nexthop_parse(
                       a->job->nexthop, a->client->lmtp_port, &a->nh, &errstr)
                 : smtp_nexthop_parse(a->job->nexthop, &a->nh, &errstr)) < 0) {
                set_last_err(a, "4.3.5", "bad next-hop \"%s\": %s",
                             a->job->nexthop ? a->job->nexthop : "", errstr);
                attempt_finish(a);
                return;
        }
        if (smtp_policy_lookup(a->client, policy_key(a), &a->pol, &err) < 0) {
                log_warnx("%s", err);
                set_last_err(a, "4.7.5", "%s", err);
                free(err);
                attempt_finish(a);
                return;
        }
        a->level = a->pol.level;
        a->dane_level = SMTP_TLS_NONE;
        if (a->nh.path && a->level == SMTP_TLS_MAY) {
                /* as Postfix: a private channel gains nothing from
                 * unauthenticated encryption, and no plaintext retry is
                 * wanted there */
                log_warnx("%s: opportunistic TLS encryption is not "
                          "appropriate for unix-domain destinations.",
                          a->nh.path);
                a->level = SMTP_TLS_NONE;
        }
        a->wrapper = a->client->conf->smtp_tls_wrappermode;
        if (a->wrapper && a->level == SMTP_TLS_NONE) {
                set_last_err(a, "4.7.5",
                             "%s_tls_wrappermode requires TLS, but the TLS "
                             "security level for %s is none",
                             a->client->service, a->nh.host);
                log_warnx("%s", strbuf_cstr(&a->last_err));
                attempt_finish(a);
                return;
        }
        if (a->level == SMTP_TLS_DANE || a->level == SMTP_TLS_DANE_ONLY) {
                if (a->client->dns == NULL ||
                    strcmp(a->client->conf->smtp_dns_support_level, "dnssec") !=
                        0) {
                        /* DANE needs DNSSEC: as Postfix, dane becomes may
                         * without it, and dane-only cannot be met */
                        if (a->level == SMTP_TLS_DANE_ONLY) {
                                set_last_err(a, "4.7.5",
                                             "dane-only policy for %s, but "
                                             "%s_dns_support_level is not "
                                             "dnssec",
                                             a->nh.host, a->client->service);
                                attempt_finish(a);
                                return;
                        }
                        a->level = SMTP_TLS_MAY;
                } else {
                        a->dane_level = a->level;
                }
        }
        struct strbuf k;
        strbuf_init(&k);
        strbuf_printf(&k, "%s:%u&", a->nh.host, a->nh.port);
        strbuf_adds(&k, a->nh.no_mx ? "nomx&" : "mx&");
        smtp_tls_policy_key(&a->pol, &k);
        a->reuse_key = strbuf_detach(&k);

        struct smtp_conn *c = conn_from_cache(a->client, a->reuse_key);
        if (c) {
                a->conn = c;
                c->owner = a;
                a->reused = true;
                a->tls_active = c->tls != NULL;
                a->plain_retry = c->tls == NULL;
                log_debug("%s: reusing cached connection to %s",
                          a->env->id ? a->env->id : "NOQUEUE", c->relay);
                if (c->features & SMTP_FEATURE_PIPELINING) {
                        /* RSET, MAIL, RCPT..., DATA in one write */
                        a->t_start = smtp_now();
                        a->rset_pending = true;
                        if (start_transaction(a) == STEP_STOP)
                                return;
                } else {
                        conn_cmd(c, "RSET");
                        enter(a, SMTP_ST_RSET);
                }
                (void)attempt_pump(a);
                return;
        }
        enter(a, SMTP_ST_RESOLVE);
        if (a->nh.path) {
                /* a unix-domain socket: Postfix names it myhostname[path] */
                smtp_attempt_add_addr(a, a->client->conf->myhostname,
                                      a->nh.path);
                smtp_route_done(a);
                return;
        }
        smtp_route_start(a);
}

/* attempt_start - attempt_begin, its lines logged as postern/smtp (or
 * lmtp) */
static void attempt_start(void *arg)
{
        const char *prev =
            log_service(((struct smtp_attempt *)arg)->client->log_ident);

        attempt_begin(arg);
        (void)log_service(prev);
}

/* smtp_deliver - start one attempt */
int smtp_deliver(struct smtp_client *cl, struct smtp_job *job,
                 void (*done)(void *, struct smtp_job *), void *arg)
{
        struct smtp_attempt *a;

        if (cl == NULL || job == NULL || job->qf == NULL || done == NULL ||
            job->nrcpt == 0)
                return -1;
        a = xcalloc(1, sizeof(*a));
        a->client = cl;
        a->job = job;
        a->done = done;
        a->arg = arg;
        a->st = SMTP_ST_START;
        smtp_reply_init(&a->reply);
        strbuf_init(&a->last_err);
        a->timer = event_timer_new(cl->loop, attempt_start, a);
        if (a->timer == NULL || event_timer_add(a->timer, 0) < 0) {
                event_timer_free(a->timer);
                free(a);
                return -1;
        }
        a->next = cl->attempts;
        cl->attempts = a;
        return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * smtpd_policy.c - the client side of Postfix's policy delegation
 * protocol (check_policy_service): "name=value" lines and an empty line
 * each way, one request at a time on a connection kept open, requests of
 * all the worker's sessions queued in order.  Nothing here blocks: the
 * connect, the writes and the reads run from the worker's event loop.
 */
#include "smtpd/smtpd_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "event/event.h"
#include "log/log.h"

#define REPLY_MAX_BYTES (64 * 1024)
/* Connections a request is tried on before it fails (Postfix's
 * smtpd_policy_service_try_limit): a server that closes an idle
 * connection just as a request goes out costs no 451. */
#define TRY_LIMIT 2

/* policy_reply_parse - the action of one reply (its lines, without the
 * final empty line): 0 with *action pointing into text, -1 when there
 * is no action= attribute or a line has no '=' */
int policy_reply_parse(char *text, const char **action)
{
        *action = NULL;
        for (char *line = text; line && *line;) {
                char *nl = strchr(line, '\n');
                if (nl)
                        *nl = 0;
                char *eq = strchr(line, '=');
                if (eq == NULL)
                        return -1;
                *eq = 0;
                if (strcmp(line, "action") == 0 && *action == NULL)
                        *action = eq + 1;
                line = nl ? nl + 1 : NULL;
        }
        return *action && **action ? 0 : -1;
}

struct policy_req {
        unsigned id;
        char *text;     /* the request, empty line included */
        unsigned tries; /* connections it was sent on */
        time_t sent;
        policy_done_fn *done; /* NULL: cancelled */
        void *arg;
        struct policy_req *next;
};

struct policy_client {
        struct event_loop *loop;
        char *service; /* "inet:host:port", "unix:path" (for logs) */
        char *target;  /* for smtpd_connect_start: inet:host:port, or the
                          socket path with relative paths resolved */
        long timeout_s;
        int fd;
        bool connected; /* the connect finished */
        struct event_io *io;
        struct event_timer *timer;   /* request timeouts */
        struct event_timer *deliver; /* failures, from the loop */
        struct strbuf in, out;
        size_t out_off;
        struct policy_req *head, *tail; /* head: sent, or next to send */
        struct policy_req *dead;        /* failed, to deliver */
        unsigned next_id;
        bool closing; /* policy_client_free: no new connection */
};

static void on_io(int fd, int what, void *arg);

/* on_deliver - failed requests get their answer (NULL) */
static void on_deliver(void *arg)
{
        struct policy_client *p = arg;

        while (p->dead) {
                struct policy_req *r = p->dead;
                p->dead = r->next;
                if (r->done)
                        r->done(r->arg, NULL);
                free(r->text);
                free(r);
        }
}

/* policy_client_new - a client of service ("inet:host:port" or
 * "unix:path", a relative path under queue_dir) with a per-request
 * timeout; nothing is connected until the first request */
struct policy_client *policy_client_new(struct event_loop *loop,
                                        const char *service,
                                        const char *queue_dir, long timeout_s)
{
        struct policy_client *p = xcalloc(1, sizeof(*p));

        p->loop = loop;
        p->service = xstrdup(service);
        p->timeout_s = timeout_s > 0 ? timeout_s : 100;
        p->fd = -1;
        if (str_has_prefix(service, "unix:")) {
                const char *path = service + 5;
                p->target = path[0] == '/'
                                ? xstrdup(path)
                                : xasprintf("%s/%s", queue_dir, path);
        } else {
                p->target = xstrdup(service);
        }
        p->deliver = event_timer_new(loop, on_deliver, p);
        return p;
}

static int start_connect(struct policy_client *p);
static void send_next(struct policy_client *p);
static void want(struct policy_client *p);

/* fail_head - the request in flight fails (from the loop) */
static void fail_head(struct policy_client *p)
{
        struct policy_req *r = p->head;

        p->head = r->next;
        if (p->head == NULL)
                p->tail = NULL;
        r->next = p->dead;
        p->dead = r;
        event_timer_add(p->deliver, 0);
}

/* disconnect - close.  With retry, the request in flight is sent again
 * on a new connection until TRY_LIMIT; without, it fails.  The requests
 * behind it go on a new connection, or fail when none can be made. */
static void disconnect(struct policy_client *p, const char *why, bool retry)
{
        bool in_flight = p->head && p->out.len > 0;

        if (why && (p->head || p->fd >= 0))
                log_warnx("policy service %s: %s", p->service, why);
        event_io_free(p->io);
        p->io = NULL;
        event_timer_free(p->timer);
        p->timer = NULL;
        if (p->fd >= 0)
                close(p->fd);
        p->fd = -1;
        p->connected = false;
        strbuf_reset(&p->in);
        strbuf_reset(&p->out);
        p->out_off = 0;
        if (in_flight && (!retry || p->head->tries >= TRY_LIMIT))
                fail_head(p);
        if (p->head == NULL || p->closing)
                goto fail_rest;
        if (start_connect(p) == 0) {
                send_next(p);
                want(p);
                return;
        }
        log_warnx("policy service %s: connect: %s", p->service,
                  strerror(errno));
        if (p->fd >= 0)
                close(p->fd);
        p->fd = -1;
fail_rest:
        while (p->head)
                fail_head(p);
}

/* policy_client_free - close; pending requests are dropped unanswered */
void policy_client_free(struct policy_client *p)
{
        if (p == NULL)
                return;
        for (struct policy_req *r = p->head; r; r = r->next)
                r->done = NULL;
        p->closing = true;
        disconnect(p, NULL, false);
        for (struct policy_req *r = p->dead; r; r = r->next)
                r->done = NULL;
        on_deliver(p);
        event_timer_free(p->deliver);
        strbuf_clear(&p->in);
        strbuf_clear(&p->out);
        free(p->service);
        free(p->target);
        free(p);
}

/* on_timer - the request sent has waited too long */
static void on_timer(void *arg)
{
        struct policy_client *p = arg;

        if (p->head && time(NULL) - p->head->sent >= p->timeout_s) {
                disconnect(p, "timeout", false);
                return;
        }
        if (p->head)
                event_timer_add(p->timer, 1000);
}

/* start_connect - a non-blocking connect; 0, or -1 */
static int start_connect(struct policy_client *p)
{
        bool pending;

        p->fd = smtpd_connect_start(p->target, &pending);
        if (p->fd < 0)
                return -1;
        p->connected = !pending;
        p->io = event_io_new_armed(p->loop, p->fd, on_io, p);
        p->timer = event_timer_new(p->loop, on_timer, p);
        return 0;
}

/* want - the watch that fits: write while a request is going out or the
 * connect is in progress, read always (an idle server may close) */
static void want(struct policy_client *p)
{
        bool wr = !p->connected || p->out_off < p->out.len;

        if (event_io_want(p->io, true, wr, 0) < 0)
                disconnect(p, "cannot watch the socket", false);
}

/* send_next - put the head request in the output buffer */
static void send_next(struct policy_client *p)
{
        if (p->head == NULL || p->out.len > 0)
                return;
        strbuf_adds(&p->out, p->head->text);
        p->out_off = 0;
        p->head->tries++;
        p->head->sent = time(NULL);
        event_timer_add(p->timer, 1000);
}

/* on_io - connect finished, room to write, or a reply */
static void on_io(int fd, int what, void *arg)
{
        struct policy_client *p = arg;

        if (!p->connected && (what & EVENT_WRITE)) {
                if (smtpd_connect_result(fd) < 0) {
                        disconnect(p, strerror(errno), true);
                        return;
                }
                p->connected = true;
        }
        if (p->connected && smtpd_conn_send(fd, &p->out, &p->out_off) < 0) {
                disconnect(p, strerror(errno), true);
                return;
        }
        /* the replies that came before an error or the end of the stream
         * count */
        int rc = (what & EVENT_READ)
                     ? smtpd_conn_recv(fd, &p->in, REPLY_MAX_BYTES)
                     : 0;
        int e = errno;
        /* complete replies: up to an empty line */
        char *end;
        while (p->in.len && (end = strstr(p->in.s, "\n\n")) != NULL) {
                size_t n = (size_t)(end - p->in.s);
                char *text = xstrndup(p->in.s, n);
                const char *action = NULL;
                struct policy_req *r = p->head;
                memmove(p->in.s, end + 2, p->in.len - n - 2);
                p->in.len -= n + 2;
                p->in.s[p->in.len] = 0;
                if (r == NULL || p->out_off < p->out.len) {
                        free(text);
                        disconnect(p, "reply without a request", false);
                        return;
                }
                if (policy_reply_parse(text, &action) < 0) {
                        log_warnx("policy service %s: malformed reply",
                                  p->service);
                        action = NULL;
                }
                p->head = r->next;
                if (p->head == NULL)
                        p->tail = NULL;
                strbuf_reset(&p->out);
                p->out_off = 0;
                if (r->done)
                        r->done(r->arg, action);
                free(text);
                free(r->text);
                free(r);
                if (p->fd < 0)
                        return; /* the callback's new request failed */
                send_next(p);
        }
        if (rc < 0 && p->fd >= 0) {
                disconnect(p,
                           e         ? strerror(e)
                           : p->head ? "connection closed"
                                     : NULL,
                           true);
                return;
        }
        if (p->in.len >= REPLY_MAX_BYTES) {
                disconnect(p, "reply too long", false);
                return;
        }
        if (p->fd >= 0)
                want(p);
}

/* policy_ask - queue a request (attribute lines, each "name=value\n";
 * the empty line is added); done is called later from the loop with the
 * action, or NULL when the service failed.  The request's ID, or 0 when
 * the service cannot be reached (done is not called then). */
unsigned policy_ask(struct policy_client *p, const char *request,
                    policy_done_fn *done, void *arg)
{
        struct policy_req *r;

        if (p->fd < 0 && start_connect(p) < 0) {
                log_warnx("policy service %s: connect: %s", p->service,
                          strerror(errno));
                if (p->fd >= 0)
                        close(p->fd);
                p->fd = -1;
                return 0;
        }
        r = xcalloc(1, sizeof(*r));
        if (++p->next_id == 0)
                p->next_id = 1;
        r->id = p->next_id;
        r->text = xasprintf("%s\n", request);
        r->done = done;
        r->arg = arg;
        if (p->tail)
                p->tail->next = r;
        else
                p->head = r;
        p->tail = r;
        send_next(p);
        want(p);
        return r->id;
}

/* policy_cancel - the answer to request id is not wanted any more */
void policy_cancel(struct policy_client *p, unsigned id)
{
        struct policy_req *lists[] = {p->head, p->dead};

        for (size_t i = 0; i < ARRAY_SIZE(lists); i++)
                for (struct policy_req *r = lists[i]; r; r = r->next)
                        if (r->id == id)
                                r->done = NULL;
}

/* SPDX-License-Identifier: MIT */
/*
 * smtpd_sasl.c - the client side of Dovecot's authentication protocol
 * (smtpd_sasl_type = dovecot): one connection per worker and listener to
 * the auth-client socket, requests multiplexed by ID, answers delivered
 * to the session that asked from the worker's event loop.
 *
 * The handshake is read synchronously (bounded) when a connection is
 * made, because EHLO needs the mechanism list at once; AUTH and CONT are
 * answered asynchronously (Dovecot delays failures by auth_failure_delay,
 * and no other session may wait for that).
 */
#include "smtpd/smtpd_int.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "event/event.h"
#include "log/log.h"

#define HANDSHAKE_MS 2000    /* bound on connect + handshake */
#define RETRY_AFTER_S 5      /* after a failed connect */
#define REQUEST_TIMEOUT_S 60 /* no answer to AUTH/CONT: temp failure */
#define LINE_MAX_BYTES (64 * 1024)

/* Mechanism flags from Dovecot's MECH lines. */
static const struct {
        const char *name;
        unsigned bit;
} mech_flags[] = {
    {"anonymous", SASL_MECH_ANONYMOUS},
    {"plaintext", SASL_MECH_PLAINTEXT},
    {"dictionary", SASL_MECH_DICTIONARY},
    {"active", SASL_MECH_ACTIVE},
    {"forward-secrecy", SASL_MECH_FORWARD_SECRECY},
    {"mutual-auth", SASL_MECH_MUTUAL_AUTH},
    {"private", SASL_MECH_PRIVATE},
};

/* unescape - Dovecot's tab escaping (\001 followed by 1 t r n), in place */
static void unescape(char *s)
{
        char *o = s;

        for (; *s; s++) {
                if (*s != '\001' || s[1] == 0) {
                        *o++ = *s;
                        continue;
                }
                s++;
                *o++ = *s == 't'   ? '\t'
                       : *s == 'r' ? '\r'
                       : *s == 'n' ? '\n'
                       : *s == '1' ? '\001'
                                   : *s;
        }
        *o = 0;
}

/* next_field - split at the next tab: the field, or NULL at the end */
static char *next_field(char **p)
{
        char *f = *p, *t;

        if (f == NULL)
                return NULL;
        t = strchr(f, '\t');
        if (t) {
                *t = 0;
                *p = t + 1;
        } else {
                *p = NULL;
        }
        return f;
}

/* parse_uint - decimal, 0 .. UINT_MAX */
static int parse_uint(const char *s, unsigned *out)
{
        unsigned long v = 0;

        if (*s == 0 || strlen(s) > 10)
                return -1;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return -1;
                v = v * 10 + (unsigned long)(*s - '0');
        }
        if (v > 0xffffffffUL)
                return -1;
        *out = (unsigned)v;
        return 0;
}

/* sasl_line_parse - one line from the auth server */
int sasl_line_parse(char *line, struct sasl_line *l)
{
        char *rest = line, *cmd, *f;

        memset(l, 0, sizeof(*l));
        cmd = next_field(&rest);
        if (strcmp(cmd, "VERSION") == 0) {
                char *maj = next_field(&rest), *min = next_field(&rest);
                if (maj == NULL || min == NULL ||
                    parse_uint(maj, &l->major) < 0 ||
                    parse_uint(min, &l->minor) < 0)
                        return -1;
                l->kind = SASL_LINE_VERSION;
                return 0;
        }
        if (strcmp(cmd, "MECH") == 0) {
                if ((l->mech = next_field(&rest)) == NULL || *l->mech == 0)
                        return -1;
                while ((f = next_field(&rest)) != NULL)
                        for (size_t i = 0; i < ARRAY_SIZE(mech_flags); i++)
                                if (strcasecmp(f, mech_flags[i].name) == 0)
                                        l->flags |= mech_flags[i].bit;
                l->kind = SASL_LINE_MECH;
                return 0;
        }
        if (strcmp(cmd, "DONE") == 0) {
                l->kind = SASL_LINE_DONE;
                return 0;
        }
        if (strcmp(cmd, "OK") && strcmp(cmd, "CONT") && strcmp(cmd, "FAIL")) {
                l->kind = SASL_LINE_OTHER; /* SPID, CUID, COOKIE, ... */
                return 0;
        }
        if ((f = next_field(&rest)) == NULL || parse_uint(f, &l->id) < 0 ||
            l->id == 0)
                return -1;
        if (strcmp(cmd, "CONT") == 0) {
                /* the challenge: base64, no escaping needed */
                if ((l->data = next_field(&rest)) == NULL)
                        return -1;
                l->kind = SASL_LINE_CONT;
                return 0;
        }
        l->kind = strcmp(cmd, "OK") == 0 ? SASL_LINE_OK : SASL_LINE_FAIL;
        while ((f = next_field(&rest)) != NULL) {
                unescape(f);
                if (strncmp(f, "user=", 5) == 0)
                        l->user = f + 5;
                else if (strncmp(f, "reason=", 7) == 0)
                        l->reason = f + 7;
                else if (strcmp(f, "temp") == 0)
                        l->temp = true;
        }
        return 0;
}

/* sasl_mechs_filter - the blank-separated names of the mechanisms in
 * mechs[] (flags in flags[]) that security options opts allow:
 * noanonymous, noplaintext, nodictionary, noactive, mutual_auth,
 * forward_secrecy.  Unknown words are ignored here (the configuration
 * check names them).  Returns a new string. */
char *sasl_mechs_filter(const struct strlist *mechs, const unsigned *flags,
                        const char *opts)
{
        unsigned deny = 0, need = 0;
        struct strlist w = {0};
        struct strbuf b;

        str_split(opts, " \t,", &w);
        for (size_t i = 0; i < w.n; i++) {
                if (str_eq_ci(w.v[i], "noanonymous"))
                        deny |= SASL_MECH_ANONYMOUS;
                else if (str_eq_ci(w.v[i], "noplaintext"))
                        deny |= SASL_MECH_PLAINTEXT;
                else if (str_eq_ci(w.v[i], "nodictionary"))
                        deny |= SASL_MECH_DICTIONARY;
                else if (str_eq_ci(w.v[i], "noactive"))
                        deny |= SASL_MECH_ACTIVE;
                else if (str_eq_ci(w.v[i], "mutual_auth"))
                        need |= SASL_MECH_MUTUAL_AUTH;
                else if (str_eq_ci(w.v[i], "forward_secrecy"))
                        need |= SASL_MECH_FORWARD_SECRECY;
        }
        strlist_clear(&w);
        strbuf_init(&b);
        for (size_t i = 0; i < mechs->n; i++) {
                if ((flags[i] & deny) || (flags[i] & need) != need ||
                    (flags[i] & SASL_MECH_PRIVATE))
                        continue;
                strbuf_printf(&b, "%s%s", b.len ? " " : "", mechs->v[i]);
        }
        return b.s ? strbuf_detach(&b) : xstrdup("");
}

/* ---- the connection ---- */

struct sasl_req {
        unsigned id;
        time_t sent;
        sasl_done_fn *done;
        void *arg;
        struct sasl_req *next;
};

struct sasl_dovecot {
        struct event_loop *loop;
        char *path, *service;
        int fd;
        struct event_io *io;
        struct event_timer *timer; /* request timeouts */
        struct strbuf in, out;
        struct strlist mechs;
        unsigned *flags;
        char *opts[2];  /* security options: [0] without TLS, [1] with */
        char *offer[2]; /* the mechanisms they leave, once connected */
        unsigned next_id;
        time_t retry_at;
        struct sasl_req *reqs;
        struct sasl_req *dead;       /* failed by a disconnect, to deliver */
        struct event_timer *deliver; /* ... from the loop, never from
                                        inside a caller's own request */
};

static void on_deliver(void *);

/* sasl_dovecot_new - a client for the auth-client socket at path; nothing
 * is connected until it is needed */
struct sasl_dovecot *sasl_dovecot_new(struct event_loop *loop, const char *path,
                                      const char *service,
                                      const char *plain_opts,
                                      const char *tls_opts)
{
        struct sasl_dovecot *d = xcalloc(1, sizeof(*d));

        d->loop = loop;
        d->opts[0] = xstrdup(plain_opts);
        d->opts[1] = xstrdup(tls_opts);
        d->path = xstrdup(path);
        d->service = xstrdup(service && *service ? service : "smtp");
        d->fd = -1;
        d->deliver = event_timer_new(loop, on_deliver, d);
        return d;
}

/* on_deliver - requests that a lost connection failed get their answer */
static void on_deliver(void *arg)
{
        struct sasl_dovecot *d = arg;

        while (d->dead) {
                struct sasl_req *r = d->dead;
                d->dead = r->next;
                r->done(r->arg, SMTPD_AUTH_TEMP,
                        "Connection lost to authentication server");
                free(r);
        }
}

/* fail_all - every pending request will end with a temporary failure */
static void fail_all(struct sasl_dovecot *d)
{
        while (d->reqs) {
                struct sasl_req *r = d->reqs;
                d->reqs = r->next;
                r->next = d->dead;
                d->dead = r;
        }
        if (d->dead)
                event_timer_add(d->deliver, 0);
}

/* disconnect - drop the connection (pending requests are failed) */
static void disconnect(struct sasl_dovecot *d)
{
        event_io_free(d->io);
        d->io = NULL;
        event_timer_free(d->timer);
        d->timer = NULL;
        if (d->fd >= 0)
                close(d->fd);
        d->fd = -1;
        strbuf_reset(&d->in);
        strbuf_reset(&d->out);
        strlist_clear(&d->mechs);
        free(d->flags);
        d->flags = NULL;
        for (int i = 0; i < 2; i++) {
                free(d->offer[i]);
                d->offer[i] = NULL;
        }
        fail_all(d);
}

/* sasl_dovecot_free - close (pending requests get temporary failures) */
void sasl_dovecot_free(struct sasl_dovecot *d)
{
        if (d == NULL)
                return;
        disconnect(d);
        event_timer_free(d->deliver);
        while (d->dead) {
                struct sasl_req *r = d->dead;
                d->dead = r->next;
                free(r);
        }
        strbuf_clear(&d->in);
        strbuf_clear(&d->out);
        free(d->path);
        free(d->service);
        free(d->opts[0]);
        free(d->opts[1]);
        free(d);
}

/* flush - write what is buffered; -1 when the connection broke */
static int flush(struct sasl_dovecot *d)
{
        size_t off = 0;
        int rc;

        if (d->out.len == 0)
                return 0;
        rc = smtpd_conn_send(d->fd, &d->out, &off);
        memmove(d->out.s, d->out.s + off, d->out.len - off);
        d->out.len -= off;
        d->out.s[d->out.len] = 0;
        return rc;
}

/* take_line - the next complete line of d->in (NUL-terminated, newline
 * removed) copied into *line; false when none is complete */
static bool take_line(struct sasl_dovecot *d, char **line)
{
        char *nl = d->in.len ? memchr(d->in.s, '\n', d->in.len) : NULL;
        size_t n;

        if (nl == NULL)
                return false;
        n = (size_t)(nl - d->in.s);
        *line = xstrndup(d->in.s, n);
        memmove(d->in.s, nl + 1, d->in.len - n - 1);
        d->in.len -= n + 1;
        d->in.s[d->in.len] = 0;
        return true;
}

/* answer - a reply line for a request */
static void answer(struct sasl_dovecot *d, const struct sasl_line *l)
{
        struct sasl_req **pp = &d->reqs, *r;

        while (*pp && (*pp)->id != l->id)
                pp = &(*pp)->next;
        if ((r = *pp) == NULL)
                return; /* cancelled */
        if (l->kind == SASL_LINE_CONT) {
                r->sent = time(NULL);
                r->done(r->arg, SMTPD_AUTH_CONTINUE, l->data);
                return;
        }
        *pp = r->next;
        if (l->kind == SASL_LINE_OK && l->user && *l->user)
                r->done(r->arg, SMTPD_AUTH_OK, l->user);
        else if (l->kind == SASL_LINE_OK) {
                log_warnx("SASL: missing Dovecot server OK username field");
                r->done(r->arg, SMTPD_AUTH_FAIL,
                        "Authentication backend error");
        } else
                r->done(r->arg, l->temp ? SMTPD_AUTH_TEMP : SMTPD_AUTH_FAIL,
                        l->reason ? l->reason : "");
        free(r);
}

/* on_io - replies from the server, or room to write */
static void on_io(int fd, int what, void *arg)
{
        struct sasl_dovecot *d = arg;
        char *line;

        (void)what;
        /* the lines that came before an error or the end count */
        int rc = smtpd_conn_recv(fd, &d->in, LINE_MAX_BYTES);
        int e = errno;
        while (take_line(d, &line)) {
                struct sasl_line l;
                if (sasl_line_parse(line, &l) < 0) {
                        log_warnx("SASL: protocol error from %s", d->path);
                        free(line);
                        disconnect(d);
                        return;
                }
                if (l.kind == SASL_LINE_OK || l.kind == SASL_LINE_CONT ||
                    l.kind == SASL_LINE_FAIL)
                        answer(d, &l);
                free(line);
                /* an answer may have led to a new request whose send
                 * broke the connection */
                if (d->fd < 0)
                        return;
        }
        if (rc < 0 || d->in.len >= LINE_MAX_BYTES) {
                log_warnx("SASL: connection to %s %s", d->path,
                          rc == 0 ? "sent an overlong line"
                          : e     ? strerror(e)
                                  : "closed by the server");
                disconnect(d);
                return;
        }
        if (flush(d) < 0) {
                disconnect(d);
                return;
        }
        event_io_want(d->io, true, d->out.len > 0, 0);
}

/* on_timer - requests the server never answered */
static void on_timer(void *arg)
{
        struct sasl_dovecot *d = arg;
        time_t now = time(NULL);

        for (struct sasl_req *r = d->reqs; r; r = r->next)
                if (now - r->sent >= REQUEST_TIMEOUT_S) {
                        log_warnx("SASL: no answer from %s in %d s", d->path,
                                  REQUEST_TIMEOUT_S);
                        disconnect(d);
                        return;
                }
        if (d->reqs)
                event_timer_add(d->timer, 1000);
}

/* handshake_read - read until DONE, within the bound */
static int handshake_read(struct sasl_dovecot *d, struct timespec *end)
{
        char buf[4096], *line;
        bool have_mech = false;

        for (;;) {
                while (take_line(d, &line)) {
                        struct sasl_line l;
                        int bad = sasl_line_parse(line, &l) < 0;
                        if (!bad && l.kind == SASL_LINE_VERSION &&
                            l.major != 1) {
                                log_warnx("SASL: %s: protocol version "
                                          "mismatch (%u vs. 1)",
                                          d->path, l.major);
                                bad = 1;
                        } else if (!bad && l.kind == SASL_LINE_MECH) {
                                d->flags =
                                    xreallocarray(d->flags, d->mechs.n + 1,
                                                  sizeof(*d->flags));
                                d->flags[d->mechs.n] = l.flags;
                                strlist_push(&d->mechs, l.mech);
                                have_mech = true;
                        } else if (!bad && l.kind == SASL_LINE_DONE) {
                                free(line);
                                if (!have_mech)
                                        log_warnx("SASL: %s offers no "
                                                  "mechanisms (the auth-master "
                                                  "socket instead of "
                                                  "auth-client?)",
                                                  d->path);
                                return have_mech ? 0 : -1;
                        }
                        free(line);
                        if (bad)
                                return -1;
                }
                struct timespec now;
                clock_gettime(CLOCK_MONOTONIC, &now);
                long ms = (end->tv_sec - now.tv_sec) * 1000 +
                          (end->tv_nsec - now.tv_nsec) / 1000000;
                struct pollfd p = {.fd = d->fd, .events = POLLIN};
                if (ms <= 0 || poll(&p, 1, (int)ms) <= 0) {
                        log_warnx("SASL: %s: no handshake from the server",
                                  d->path);
                        return -1;
                }
                ssize_t n = recv(d->fd, buf, sizeof(buf), 0);
                if (n < 0 && (errno == EINTR || errno == EAGAIN))
                        continue;
                if (n <= 0 || d->in.len + (size_t)n > LINE_MAX_BYTES) {
                        log_warnx("SASL: %s: handshake failed: %s", d->path,
                                  n < 0 ? strerror(errno) : "connection lost");
                        return -1;
                }
                strbuf_add(&d->in, buf, (size_t)n);
        }
}

/* open_socket - a connected socket to the auth server: path, or
 * "inet:host:port" (a Dovecot inet_listener), by *end; -1 with errno */
static int open_socket(struct sasl_dovecot *d, const struct timespec *end)
{
        bool pending;
        struct timespec now;
        int e = 0;
        socklen_t l = sizeof(e);

        d->fd = smtpd_connect_start(d->path, &pending);
        if (d->fd < 0 || !pending)
                return d->fd < 0 ? -1 : 0;
        /* bounded like the handshake */
        clock_gettime(CLOCK_MONOTONIC, &now);
        long ms = (end->tv_sec - now.tv_sec) * 1000 +
                  (end->tv_nsec - now.tv_nsec) / 1000000;
        struct pollfd p = {.fd = d->fd, .events = POLLOUT};
        if (ms <= 0 || poll(&p, 1, (int)ms) <= 0) {
                errno = ETIMEDOUT;
                return -1;
        }
        if (getsockopt(d->fd, SOL_SOCKET, SO_ERROR, &e, &l) < 0 || e) {
                errno = e ? e : errno;
                return -1;
        }
        return 0;
}

/* connect_server - connect and read the handshake; 0 or -1 */
static int connect_server(struct sasl_dovecot *d)
{
        struct timespec end;
        char hello[64];
        time_t now = time(NULL);

        if (d->fd >= 0)
                return 0;
        if (now < d->retry_at)
                return -1;
        clock_gettime(CLOCK_MONOTONIC, &end);
        end.tv_sec += HANDSHAKE_MS / 1000;
        if (open_socket(d, &end) < 0) {
                log_warnx("SASL: Connect to %s failed: %s", d->path,
                          strerror(errno));
                goto bad;
        }
        snprintf(hello, sizeof(hello), "VERSION\t1\t2\nCPID\t%ld\n",
                 (long)getpid());
        strbuf_adds(&d->out, hello);
        if (flush(d) < 0 || d->out.len > 0 || handshake_read(d, &end) < 0)
                goto bad;
        for (int i = 0; i < 2; i++)
                d->offer[i] =
                    sasl_mechs_filter(&d->mechs, d->flags, d->opts[i]);
        d->io = event_io_new_armed(d->loop, d->fd, on_io, d);
        d->timer = event_timer_new(d->loop, on_timer, d);
        event_io_want(d->io, true, false, 0);
        return 0;
bad:
        disconnect(d);
        d->retry_at = now + RETRY_AFTER_S;
        return -1;
}

/* sasl_dovecot_probe - connect, read the handshake, close */
int sasl_dovecot_probe(const char *path, struct strlist *mechs,
                       unsigned **flags, char **err)
{
        struct sasl_dovecot d = {.fd = -1, .path = (char *)path};
        struct timespec end;
        char hello[64];
        int rc = -1;

        clock_gettime(CLOCK_MONOTONIC, &end);
        end.tv_sec += HANDSHAKE_MS / 1000;
        if (open_socket(&d, &end) < 0) {
                *err = xasprintf("cannot connect: %s", strerror(errno));
                goto out;
        }
        snprintf(hello, sizeof(hello), "VERSION\t1\t2\nCPID\t%ld\n",
                 (long)getpid());
        strbuf_adds(&d.out, hello);
        if (flush(&d) < 0 || d.out.len > 0 || handshake_read(&d, &end) < 0) {
                *err = xstrdup("no auth-client handshake (is it Dovecot's "
                               "auth-client socket?)");
                goto out;
        }
        *mechs = d.mechs;
        *flags = d.flags;
        d.mechs = (struct strlist){0};
        d.flags = NULL;
        rc = 0;
out:
        disconnect(&d); /* no requests: nothing to deliver */
        strbuf_clear(&d.in);
        strbuf_clear(&d.out);
        return rc;
}

/* sasl_dovecot_mechs - what the handshake offered, filtered at connect
 * time by the session's security options ("" when unreachable) */
const char *sasl_dovecot_mechs(struct sasl_dovecot *d, bool tls)
{
        if (connect_server(d) < 0)
                return "";
        return d->offer[tls];
}

/* sasl_dovecot_auth - send AUTH; the request's ID (> 0), or 0 when it
 * could not be sent (done is not called then) */
unsigned sasl_dovecot_auth(struct sasl_dovecot *d, const struct sasl_request *q,
                           sasl_done_fn *done, void *arg)
{
        struct sasl_req *r;

        if (connect_server(d) < 0)
                return 0;
        if (++d->next_id == 0)
                d->next_id = 1;
        strbuf_printf(&d->out, "AUTH\t%u\t%s\tservice=%s\tnologin", d->next_id,
                      q->mech, d->service);
        /* addresses and the response are plain tokens: no tabs */
        if (q->local_addr && *q->local_addr && !strpbrk(q->local_addr, "\t\n"))
                strbuf_printf(&d->out, "\tlip=%s", q->local_addr);
        if (q->client_addr && *q->client_addr &&
            !strpbrk(q->client_addr, "\t\n"))
                strbuf_printf(&d->out, "\trip=%s", q->client_addr);
        if (q->secured)
                strbuf_adds(&d->out, "\tsecured");
        if (q->resp)
                strbuf_printf(&d->out, "\tresp=%s", q->resp);
        strbuf_adds(&d->out, "\n");
        if (flush(d) < 0) {
                disconnect(d);
                return 0;
        }
        r = xcalloc(1, sizeof(*r));
        r->id = d->next_id;
        r->sent = time(NULL);
        r->done = done;
        r->arg = arg;
        r->next = d->reqs;
        d->reqs = r;
        event_io_want(d->io, true, d->out.len > 0, 0);
        event_timer_add(d->timer, 1000);
        return r->id;
}

/* sasl_dovecot_cont - the client's next response for request id; 0 or
 * -1 when the connection broke (the request is forgotten, done is not
 * called for it) */
int sasl_dovecot_cont(struct sasl_dovecot *d, unsigned id, const char *resp)
{
        if (d->fd < 0) {
                sasl_dovecot_cancel(d, id);
                return -1;
        }
        strbuf_printf(&d->out, "CONT\t%u\t%s\n", id, resp);
        if (flush(d) < 0) {
                sasl_dovecot_cancel(d, id);
                disconnect(d);
                return -1;
        }
        for (struct sasl_req *r = d->reqs; r; r = r->next)
                if (r->id == id)
                        r->sent = time(NULL);
        event_io_want(d->io, true, d->out.len > 0, 0);
        return 0;
}

/* sasl_dovecot_cancel - forget request id: its answer is ignored */
void sasl_dovecot_cancel(struct sasl_dovecot *d, unsigned id)
{
        struct sasl_req **lists[] = {&d->reqs, &d->dead};

        for (size_t i = 0; i < ARRAY_SIZE(lists); i++)
                for (struct sasl_req **pp = lists[i]; *pp; pp = &(*pp)->next)
                        if ((*pp)->id == id) {
                                struct sasl_req *r = *pp;
                                *pp = r->next;
                                free(r);
                                return;
                        }
}

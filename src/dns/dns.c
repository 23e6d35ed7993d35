/* SPDX-License-Identifier: MIT */
/*
 * dns.c - the asynchronous resolver over libunbound.  One ub_ctx per
 * resolver, running its queries in a libunbound thread; the result pipe
 * (ub_fd) is watched by the caller's event loop and drained with
 * ub_process, which calls ub_done for every finished query.  Each query
 * has its own event timer: when it fires first, the query is cancelled
 * with ub_cancel and answered DNS_TIMEOUT.
 */
#include "dns/dns.h"
#include "base/base.h"
#include "dns/dns_int.h"
#include "event/event.h"
#include "log/log.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unbound.h>
#include <unistd.h>

#define DNS_DEFAULT_TIMEOUT_MS 30000L
#define DNS_CLASS_IN 1
#define DNS_RCODE_NOERROR 0

struct dns_pending {
        struct dns_resolver *r;
        struct dns_pending *prev, *next; /* async ones only */
        char *name;
        int type;
        dns_cb cb; /* NULL: a dns_query_sync query */
        void *arg;
        int id; /* libunbound's async_id */
        struct event_timer *timer;
        struct dns_answer *answer; /* sync: set when done */
};

struct dns_resolver {
        struct ub_ctx *ctx;
        struct event_loop *loop;
        struct event_io *io;
        long timeout_ms;
        struct dns_pending *pending; /* async queries in flight */
        int busy;                    /* nesting of our calls into users */
        bool dying;                  /* freed while busy: free when idle */
};

/* dns_result_name - text of a result */
const char *dns_result_name(enum dns_result r)
{
        switch (r) {
        case DNS_OK:
                return "OK";
        case DNS_NXDOMAIN:
                return "NXDOMAIN";
        case DNS_NODATA:
                return "NODATA";
        case DNS_SERVFAIL:
                return "SERVFAIL";
        case DNS_TIMEOUT:
                return "TIMEOUT";
        case DNS_ERROR:
                return "ERROR";
        }
        return "unknown";
}

/* dns_security_name - text of a security status */
const char *dns_security_name(enum dns_security s)
{
        switch (s) {
        case DNS_SEC_INSECURE:
                return "insecure";
        case DNS_SEC_SECURE:
                return "secure";
        case DNS_SEC_BOGUS:
                return "bogus";
        }
        return "unknown";
}

/* dns_answer_free - release an answer */
void dns_answer_free(struct dns_answer *a)
{
        if (a == NULL)
                return;
        for (size_t i = 0; i < a->n; i++)
                dns_rr_clear(&a->rr[i]);
        free(a->rr);
        free((char *)a->why_bogus);
        free(a->qname);
        free(a->canonical);
        free(a);
}

/* name_nodot - a copy of name without one trailing dot (root stays ".") */
static char *name_nodot(const char *name)
{
        size_t n = strlen(name);

        if (n > 1 && name[n - 1] == '.')
                n--;
        return xstrndup(name, n);
}

/* answer_new - an empty answer to name/type */
static struct dns_answer *answer_new(const char *name, int type,
                                     enum dns_result result)
{
        struct dns_answer *a = xcalloc(1, sizeof(*a));

        a->qname = xstrdup(name);
        a->canonical = name_nodot(name);
        a->type = type;
        a->result = result;
        a->security = DNS_SEC_INSECURE;
        return a;
}

/* answer_from_ub - translate libunbound's verdict */
static struct dns_answer *answer_from_ub(const struct dns_pending *p, int err,
                                         const struct ub_result *res)
{
        struct dns_answer *a = answer_new(p->name, p->type, DNS_ERROR);
        const char *why = NULL;

        if (err != 0 || res == NULL) {
                log_warnx("dns: %s/%d: %s", p->name, p->type,
                          err ? ub_strerror(err) : "no result");
                return a;
        }
        if (res->canonname != NULL && res->canonname[0] != '\0') {
                free(a->canonical);
                a->canonical = name_nodot(res->canonname);
        }
        if (res->secure)
                a->security = DNS_SEC_SECURE;
        if (res->bogus) {
                a->security = DNS_SEC_BOGUS;
                a->result = DNS_SERVFAIL;
                a->why_bogus = xstrdup(res->why_bogus && res->why_bogus[0]
                                           ? res->why_bogus
                                           : "validation failure");
        } else if (res->havedata) {
                if (dns_answer_fill(a, p->type, res->data, res->len,
                                    res->ttl > 0 ? (uint32_t)res->ttl : 0,
                                    &why) < 0) {
                        log_warnx("dns: %s/%d: malformed answer: %s", p->name,
                                  p->type, why);
                        a->result = DNS_ERROR;
                } else {
                        a->result = DNS_OK;
                }
        } else if (res->nxdomain) {
                a->result = DNS_NXDOMAIN;
        } else if (res->rcode == DNS_RCODE_NOERROR) {
                a->result = DNS_NODATA;
        } else {
                a->result = DNS_SERVFAIL;
        }
        return a;
}

/* pending_unlink - take an async query off the list */
static void pending_unlink(struct dns_pending *p)
{
        struct dns_resolver *r = p->r;

        if (p->prev)
                p->prev->next = p->next;
        else if (r->pending == p)
                r->pending = p->next;
        if (p->next)
                p->next->prev = p->prev;
        p->prev = p->next = NULL;
}

/* pending_free - release a query record */
static void pending_free(struct dns_pending *p)
{
        event_timer_free(p->timer);
        free(p->name);
        free(p);
}

/* resolver_destroy - the real free */
static void resolver_destroy(struct dns_resolver *r)
{
        while (r->pending) {
                struct dns_pending *p = r->pending;

                pending_unlink(p);
                (void)ub_cancel(r->ctx, p->id);
                pending_free(p);
        }
        event_io_free(r->io);
        if (r->ctx)
                ub_ctx_delete(r->ctx);
        free(r);
}

/* resolver_rearm - watch the result pipe while async queries are out */
static void resolver_rearm(struct dns_resolver *r)
{
        if (r->io == NULL || r->dying)
                return;
        if (event_io_want(r->io, r->pending != NULL, false, 0) < 0)
                log_warnx("dns: cannot watch the resolver pipe");
}

/* deliver - hand an async answer to its owner, then forget the query */
static void deliver(struct dns_pending *p, struct dns_answer *a)
{
        struct dns_resolver *r = p->r;

        pending_unlink(p);
        if (!r->dying) {
                r->busy++;
                p->cb(p->arg, a);
                r->busy--;
        }
        dns_answer_free(a);
        pending_free(p);
}

/* ub_done - libunbound's callback, from ub_process */
static void ub_done(void *arg, int err, struct ub_result *res)
{
        struct dns_pending *p = arg;
        struct dns_answer *a = answer_from_ub(p, err, res);

        ub_resolve_free(res);
        if (p->cb == NULL) {
                p->answer = a;
                return;
        }
        deliver(p, a);
}

/* resolver_process - drain finished queries; may free r */
static void resolver_process(struct dns_resolver *r)
{
        int err;

        r->busy++;
        err = ub_process(r->ctx);
        r->busy--;
        if (err != 0)
                log_warnx("dns: ub_process: %s", ub_strerror(err));
        if (r->dying) {
                if (r->busy == 0)
                        resolver_destroy(r);
                return;
        }
        resolver_rearm(r);
}

/* on_pipe - the result pipe is readable */
static void on_pipe(int fd, int what, void *arg)
{
        (void)fd;
        (void)what;
        resolver_process(arg);
}

/* on_timeout - a query ran out of time */
static void on_timeout(void *arg)
{
        struct dns_pending *p = arg;
        struct dns_resolver *r = p->r;

        (void)ub_cancel(r->ctx, p->id);
        r->busy++;
        deliver(p, answer_new(p->name, p->type, DNS_TIMEOUT));
        r->busy--;
        if (r->dying) {
                if (r->busy == 0)
                        resolver_destroy(r);
                return;
        }
        resolver_rearm(r);
}

/* set_option - one unbound.conf option, with a message on failure */
static int set_option(struct ub_ctx *ctx, const char *opt, const char *val,
                      char **err)
{
        int e = ub_ctx_set_option(ctx, opt, val);

        if (e != 0) {
                *err =
                    xasprintf("cannot set %s %s: %s", opt, val, ub_strerror(e));
                return -1;
        }
        return 0;
}

/* setup_forwarders - dns_resolver_addresses */
static int setup_forwarders(struct ub_ctx *ctx, const char *list,
                            bool have_stub, char **err)
{
        struct strlist l = {0};
        int e, rc = 0;

        if (strcmp(list, "recursive") == 0)
                return 0;
        if (list[0] == '\0') {
                if (have_stub)
                        return 0; /* the test stubs replace the system's */
                e = ub_ctx_resolvconf(ctx, NULL);
                if (e != 0) {
                        *err = xasprintf("cannot read resolv.conf: %s",
                                         e == UB_READFILE ? strerror(errno)
                                                          : ub_strerror(e));
                        return -1;
                }
                return 0;
        }
        str_split(list, LIST_SEPS, &l);
        for (size_t i = 0; i < l.n; i++) {
                e = ub_ctx_set_fwd(ctx, l.v[i]);
                if (e != 0) {
                        *err = xasprintf("bad resolver address \"%s\": %s",
                                         l.v[i], ub_strerror(e));
                        rc = -1;
                        break;
                }
        }
        strlist_clear(&l);
        return rc;
}

/* setup_stubs - the test-only "zone@host@port, ..." list */
static int setup_stubs(struct ub_ctx *ctx, const char *list, char **err)
{
        struct strlist l = {0};
        int rc = 0;

        str_split(list, LIST_SEPS, &l);
        for (size_t i = 0; i < l.n; i++) {
                char *at = strchr(l.v[i], '@');
                int e;

                if (at == NULL || at == l.v[i] || at[1] == '\0') {
                        *err = xasprintf(
                            "bad stub \"%s\": want zone@host[@port]", l.v[i]);
                        rc = -1;
                        break;
                }
                *at = '\0';
                /* No priming: the server is on a private port, which the
                 * NS records of a primed zone cannot carry. */
                e = ub_ctx_set_stub(ctx, l.v[i], at + 1, 0);
                if (e != 0) {
                        *err = xasprintf("bad stub \"%s@%s\": %s", l.v[i],
                                         at + 1, ub_strerror(e));
                        rc = -1;
                        break;
                }
        }
        strlist_clear(&l);
        return rc;
}

/* setup - configure a fresh context */
static int setup(struct ub_ctx *ctx, const struct dns_settings *s, char **err)
{
        const char *ta = s->trust_anchor_file ? s->trust_anchor_file : "";
        const char *stub = s->stub ? s->stub : "";
        int e;

        /* Loopback resolvers (127.0.0.53, a local unbound, the test world)
         * must be usable. */
        if (set_option(ctx, "do-not-query-localhost:", "no", err) < 0)
                return -1;
        if (stub[0] != '\0' && setup_stubs(ctx, stub, err) < 0)
                return -1;
        if (setup_forwarders(ctx, s->resolvers ? s->resolvers : "",
                             stub[0] != '\0', err) < 0)
                return -1;
        if (s->dnssec && ta[0] != '\0') {
                if (access(ta, R_OK) < 0) {
                        *err = xasprintf("trust anchor file %s: %s", ta,
                                         strerror(errno));
                        return -1;
                }
                e = ub_ctx_add_ta_file(ctx, ta);
                if (e != 0) {
                        *err = xasprintf("trust anchor file %s: %s", ta,
                                         ub_strerror(e));
                        return -1;
                }
        } else if (set_option(ctx, "module-config:", "iterator", err) < 0) {
                return -1;
        }
        e = ub_ctx_async(ctx, 1);
        if (e != 0) {
                *err = xasprintf("cannot start the resolver thread: %s",
                                 ub_strerror(e));
                return -1;
        }
        /* libunbound reads the trust anchor file and builds its modules
         * only when finalizing, which the first query would do.  Removing
         * a local zone that does not exist finalizes now, so a bad file
         * fails here, naming the setting, not at the first query. */
        e = ub_ctx_zone_remove(ctx, "postern-config-check.invalid.");
        if (e != 0) {
                *err =
                    xasprintf("resolver configuration%s%s: %s",
                              ta[0] && s->dnssec ? ": trust anchor file " : "",
                              ta[0] && s->dnssec ? ta : "", ub_strerror(e));
                return -1;
        }
        return 0;
}

/* dns_resolver_new - a configured resolver */
int dns_resolver_new(struct event_loop *loop, const struct dns_settings *s,
                     struct dns_resolver **out, char **err)
{
        struct dns_resolver *r = xcalloc(1, sizeof(*r));

        *out = NULL;
        r->loop = loop;
        r->timeout_ms =
            s->timeout_ms > 0 ? s->timeout_ms : DNS_DEFAULT_TIMEOUT_MS;
        r->ctx = ub_ctx_create();
        if (r->ctx == NULL) {
                *err = xstrdup("cannot create a libunbound context");
                free(r);
                return -1;
        }
        if (setup(r->ctx, s, err) < 0) {
                resolver_destroy(r);
                return -1;
        }
        if (loop != NULL) {
                r->io = event_io_new(loop, ub_fd(r->ctx), on_pipe, r);
                if (r->io == NULL) {
                        *err = xstrdup("cannot watch the resolver pipe");
                        resolver_destroy(r);
                        return -1;
                }
        }
        *out = r;
        return 0;
}

/* dns_resolver_free - cancel everything and release (later, when busy) */
void dns_resolver_free(struct dns_resolver *r)
{
        if (r == NULL || r->dying)
                return;
        if (r->busy > 0) {
                /* Called from a callback inside ub_process or a timer:
                 * forget the queries now, free the context on the way out.
                 */
                r->dying = true;
                while (r->pending) {
                        struct dns_pending *p = r->pending;

                        pending_unlink(p);
                        (void)ub_cancel(r->ctx, p->id);
                        pending_free(p);
                }
                (void)event_io_want(r->io, false, false, 0);
                return;
        }
        resolver_destroy(r);
}

/* name_ok - worth sending to libunbound */
static bool name_ok(const char *name)
{
        size_t n = name ? strlen(name) : 0;

        if (n == 0 || n > 254)
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)name[i] <= ' ' || name[i] == 0x7f)
                        return false;
        return true;
}

/* type_ok - a type the parser knows */
static bool type_ok(int type)
{
        return type == DNS_T_A || type == DNS_T_AAAA || type == DNS_T_MX ||
               type == DNS_T_CNAME || type == DNS_T_TLSA || type == DNS_T_TXT ||
               type == DNS_T_NS || type == DNS_T_PTR;
}

/* pending_new - a query record */
static struct dns_pending *pending_new(struct dns_resolver *r, const char *name,
                                       int type, dns_cb cb, void *arg)
{
        struct dns_pending *p = xcalloc(1, sizeof(*p));

        p->r = r;
        p->name = xstrdup(name);
        p->type = type;
        p->cb = cb;
        p->arg = arg;
        return p;
}

/* dns_query - start an asynchronous query */
int dns_query(struct dns_resolver *r, const char *name, int type, dns_cb cb,
              void *arg)
{
        struct dns_pending *p;
        int e;

        if (r == NULL || r->dying || r->io == NULL || cb == NULL ||
            !name_ok(name) || !type_ok(type))
                return -1;
        p = pending_new(r, name, type, cb, arg);
        p->timer = event_timer_new(r->loop, on_timeout, p);
        if (p->timer == NULL) {
                pending_free(p);
                return -1;
        }
        e = ub_resolve_async(r->ctx, name, type, DNS_CLASS_IN, p, ub_done,
                             &p->id);
        if (e != 0) {
                log_warnx("dns: %s/%d: %s", name, type, ub_strerror(e));
                pending_free(p);
                return -1;
        }
        if (event_timer_add(p->timer, r->timeout_ms) < 0) {
                (void)ub_cancel(r->ctx, p->id);
                pending_free(p);
                return -1;
        }
        p->next = r->pending;
        if (p->next)
                p->next->prev = p;
        r->pending = p;
        resolver_rearm(r);
        return 0;
}

/* now_ms - a monotonic clock */
static long long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* dns_query_sync - ask and wait (polling the result pipe ourselves) */
int dns_query_sync(struct dns_resolver *r, const char *name, int type,
                   struct dns_answer **out, char **err)
{
        struct dns_pending *p;
        long long deadline;
        int e;

        *out = NULL;
        if (r == NULL || r->dying) {
                *err = xstrdup("no resolver");
                return -1;
        }
        if (!name_ok(name)) {
                *err = xasprintf("bad domain name \"%s\"", name ? name : "");
                return -1;
        }
        if (!type_ok(type)) {
                *err = xasprintf("unsupported query type %d", type);
                return -1;
        }
        p = pending_new(r, name, type, NULL, NULL);
        e = ub_resolve_async(r->ctx, name, type, DNS_CLASS_IN, p, ub_done,
                             &p->id);
        if (e != 0) {
                *err = xasprintf("%s: %s", name, ub_strerror(e));
                pending_free(p);
                return -1;
        }
        deadline = now_ms() + r->timeout_ms;
        while (p->answer == NULL) {
                long long left = deadline - now_ms();
                struct pollfd pfd = {.fd = ub_fd(r->ctx), .events = POLLIN};
                int n;

                if (left <= 0) {
                        (void)ub_cancel(r->ctx, p->id);
                        p->answer = answer_new(name, type, DNS_TIMEOUT);
                        break;
                }
                n = poll(&pfd, 1, (int)(left > 60000 ? 60000 : left));
                if (n < 0 && errno != EINTR) {
                        *err = xasprintf("poll: %s", strerror(errno));
                        (void)ub_cancel(r->ctx, p->id);
                        pending_free(p);
                        return -1;
                }
                if (n > 0) {
                        r->busy++;
                        e = ub_process(r->ctx);
                        r->busy--;
                        if (e != 0)
                                log_warnx("dns: ub_process: %s",
                                          ub_strerror(e));
                }
        }
        *out = p->answer;
        pending_free(p);
        if (r->dying && r->busy == 0)
                resolver_destroy(r); /* freed by a callback meanwhile */
        return 0;
}

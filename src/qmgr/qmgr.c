/* SPDX-License-Identifier: MIT */
/*
 * qmgr.c - the queue manager daemon: scans, scheduling, outcomes,
 * retries, bounces and the request socket.  docs/queue.md describes the
 * behaviour; the crash-safety rule is simple: an outcome is synced into
 * the queue file (queue_file_set_rcpt + queue_file_sync) before anything
 * depends on it, so a delivered recipient is never tried again and one
 * whose outcome was not synced is.  A file deleted once its DSNs are
 * committed needs no sync of its last outcomes (msg_finish).
 */
#include "qmgr/qmgr.h"
#include "conf/conf.h"
#include "dns/dns.h"
#include "event/event.h"
#include "local/local.h"
#include "log/log.h"
#include "queue/queue.h"
#include "smtp/smtp.h"
#include "smtpd/smtpd.h"

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define QMGR_READY_SCAN_MS 5000  /* periodic scan of ready/ */
#define QMGR_TMP_MAX_AGE 86400   /* tmp/ files older than this go */
#define QMGR_TMP_SCAN_MS 3600000 /* how often tmp/ is cleaned */

struct qmsg;

/* Per recipient, what this activation learned (for DSNs and expiry). */
struct qrinfo {
        bool failed_now;
        bool delivered_now;
        bool final_local; /* delivered by local/virtual/discard */
        bool smtp_diag;
        char dsn[16];
        char *diag;
};

struct qdest;

/* A transport the queue manager delivers with: a built-in one (smtp,
 * relay, lmtp, local, virtual) or one of master.cf, whose deliveries
 * count against its maxproc as Postfix's processes do. */
struct qtransport {
        char *name;
        enum qmgr_transport kind;
        const struct conf *conf;    /* its own (master.cf -o), or main's */
        struct smtp_client *client; /* SMTP, LMTP: NULL when unavailable */
        bool own_client;            /* client is this transport's */
        char *err;                  /* why there is no client */
        long long limit;            /* concurrent deliveries; 0: none */
        long long active;
        size_t rcpt_lim; /* per delivery; 0: not known yet */
        struct qtransport *next;
};

struct qjob {
        struct qmsg *m;
        struct qdest *d;
        struct qtransport *tr;
        enum qmgr_transport t;
        char *nexthop;
        struct smtp_rcpt *rcpt;
        size_t nrcpt, cap;
        struct smtp_job sj;
        struct qjob *next; /* in the destination's wait list */
        size_t slot;       /* in the message's jobs[] */
};

struct qdest {
        char *key; /* "transport:nexthop" */
        struct qtransport *tr;
        long long limit;
        long long active;
        struct qjob *head, *tail;
        struct qdest *next;
};

enum qafter { QAFTER_NONE, QAFTER_HOLD, QAFTER_DELETE };

struct qmsg {
        struct qmgr *q;
        char id[QUEUE_ID_SIZE];
        enum queue_state state;
        struct queue_file *qf;
        struct qrinfo *ri;
        struct qjob **jobs; /* every job, NULL once done */
        size_t njobs_all;
        size_t njobs;
        enum qafter after;
        bool unsynced;            /* outcomes recorded but not synced */
        struct qmsg *next, *prev; /* in the active list */
        struct qmsg *hnext;       /* in the active hash chain */
};

struct qmgr {
        const struct conf *conf;
        struct queue *queue;
        int nfd;
        struct event_loop *loop;
        struct event_io *nio;
        struct event_timer *t_ready, *t_deferred, *t_pump, *t_tmp;
        struct event_timer *sig_term, *sig_int;
        struct dns_resolver *dns;
        struct smtp_client *smtp;
        char *smtp_err;
        struct smtp_client *lmtp; /* the lmtp: transport */
        char *lmtp_err;
        const struct qmgr_transport_def *defs; /* master.cf's transports */
        size_t ndefs;
        struct qtransport *transports;
        struct local *local;
        struct qmgr_routes *routes;
        struct qmgr_aliases *aliases;
        struct qmsg *active;
        size_t nactive;
        size_t active_limit; /* qmgr_message_active_limit, clamped */
        size_t active_low;   /* resume a truncated scan below this */
        struct qmsg **htab;  /* active messages by queue ID */
        size_t hmask;        /* htab has hmask + 1 buckets */
        bool more_ready;     /* the last scan of ready/ left files */
        bool more_deferred;  /* the last scan of deferred/ left files */
        bool resume_ready;   /* on_ready runs because room freed */
        struct qdest *dests;
        bool pump_armed;
        bool pumping;
        /* non_smtpd_milters and the header and body checks: the
         * milters, the checks, the maildrop files they are working on,
         * and the ones deferred (not before until) */
        struct milter_spec *milters;
        size_t nmilters;
        struct smtpd_hbc *hbc;
        struct pickup *pickups;
        struct pickup_wait *waits;
};

/* One maildrop file going through the checks and non_smtpd_milters. */
struct pickup {
        struct qmgr *q;
        char id[QUEUE_ID_SIZE];
        struct queue_file *qf;
        struct strbuf content; /* as the checks left it */
        bool checked_edit;     /* the checks changed it */
        char *filter;          /* its content filter, or NULL */
        bool refilter;         /* that is not what the file says */
        struct smtpd_hbc_result hres;
        struct milter_msg msg;
        struct milter_run *run;
        struct pickup *next;
};

/* A maildrop file a milter or a check deferred. */
struct pickup_wait {
        char id[QUEUE_ID_SIZE];
        long long until;
        struct pickup_wait *next;
};

/* now_s - wall clock seconds */
static long long now_s(void)
{
        return (long long)time(NULL);
}

/* id_hash - FNV-1a of a queue ID */
static size_t id_hash(const char *id)
{
        uint32_t h = 2166136261u;

        for (const unsigned char *p = (const unsigned char *)id; *p; p++)
                h = (h ^ *p) * 16777619u;
        return h;
}

/* msg_find - an active message by ID */
static struct qmsg *msg_find(struct qmgr *q, const char *id)
{
        for (struct qmsg *m = q->htab[id_hash(id) & q->hmask]; m; m = m->hnext)
                if (strcmp(m->id, id) == 0)
                        return m;
        return NULL;
}

/* msg_link - add a message to the active list and hash */
static void msg_link(struct qmgr *q, struct qmsg *m)
{
        struct qmsg **b = &q->htab[id_hash(m->id) & q->hmask];

        m->hnext = *b;
        *b = m;
        m->prev = NULL;
        m->next = q->active;
        if (q->active)
                q->active->prev = m;
        q->active = m;
        q->nactive++;
}

/* msg_unlink - remove a message from the active list and hash; a scan
 * that stopped at the active limit resumes once there is room again */
static void msg_unlink(struct qmgr *q, struct qmsg *m)
{
        for (struct qmsg **pp = &q->htab[id_hash(m->id) & q->hmask]; *pp;
             pp = &(*pp)->hnext)
                if (*pp == m) {
                        *pp = m->hnext;
                        break;
                }
        if (m->prev)
                m->prev->next = m->next;
        else
                q->active = m->next;
        if (m->next)
                m->next->prev = m->prev;
        q->nactive--;
        if (q->nactive >= q->active_low)
                return;
        if (q->more_ready) {
                q->more_ready = false;
                q->resume_ready = true;
                event_timer_add(q->t_ready, 0);
        }
        if (q->more_deferred) {
                q->more_deferred = false;
                event_timer_add(q->t_deferred, 0);
        }
}

/* pump_soon - run the dispatcher from the loop */
static void pump_soon(struct qmgr *q)
{
        if (!q->pump_armed) {
                q->pump_armed = true;
                event_timer_add(q->t_pump, 0);
        }
}

/* transport_param - NAME_suffix of main.cf for a transport (Postfix's
 * per-transport parameters: smtp-amavis_destination_recipient_limit),
 * else dflt; a value that does not parse is dflt too */
static long long transport_param(struct qmgr *q, const struct qtransport *tr,
                                 const char *suffix, long long dflt)
{
        char *name = xasprintf("%s_%s", tr->name, suffix);
        const char *raw = conf_value(q->conf, name);
        const char *why = NULL;
        struct strbuf v;
        long long n = dflt;

        strbuf_init(&v);
        if (raw && (conf_expand(q->conf, raw, &v, &why) < 0 ||
                    conf_parse_int(strbuf_cstr(&v), &n, &why) < 0)) {
                log_warnx("%s = %s: %s", name, raw, why ? why : "bad value");
                n = dflt;
        }
        strbuf_clear(&v);
        free(name);
        return n;
}

/* is_builtin - whether a transport is one of postern's own, not
 * master.cf's */
static bool is_builtin(const struct qmgr *q, const struct qtransport *tr)
{
        for (size_t i = 0; i < q->ndefs; i++)
                if (strcmp(q->defs[i].name, tr->name) == 0)
                        return false;
        return true;
}

/* dest_get - the destination of a transport and next hop */
static struct qdest *dest_get(struct qmgr *q, struct qtransport *tr,
                              const char *nexthop)
{
        const struct conf *c = q->conf;
        char *key = xasprintf("%s:%s", tr->name, nexthop ? nexthop : "");
        for (struct qdest *d = q->dests; d; d = d->next)
                if (strcmp(d->key, key) == 0) {
                        free(key);
                        return d;
                }
        struct qdest *d = xcalloc(1, sizeof(*d));
        d->key = key;
        d->tr = tr;
        /* TRANSPORT_destination_concurrency_limit; a built-in transport
         * without one (relay, virtual) has its kind's */
        long long dflt =
            !is_builtin(q, tr)        ? c->default_destination_concurrency_limit
            : tr->kind == QMGR_T_SMTP ? c->smtp_destination_concurrency_limit
            : tr->kind == QMGR_T_LMTP ? c->lmtp_destination_concurrency_limit
                                      : c->local_destination_concurrency_limit;
        d->limit =
            transport_param(q, tr, "destination_concurrency_limit", dflt);
        if (d->limit <= 0)
                d->limit = c->default_destination_concurrency_limit;
        if (d->limit <= 0)
                d->limit = 1;
        d->next = q->dests;
        q->dests = d;
        return d;
}

/* rcpt_limit - recipients per delivery for a transport */
static size_t rcpt_limit(struct qmgr *q, struct qtransport *tr)
{
        const struct conf *c = q->conf;

        if (tr->rcpt_lim)
                return tr->rcpt_lim;
        long long dflt =
            !is_builtin(q, tr)        ? c->default_destination_recipient_limit
            : tr->kind == QMGR_T_SMTP ? c->smtp_destination_recipient_limit
            : tr->kind == QMGR_T_LMTP ? c->lmtp_destination_recipient_limit
                                      : c->local_destination_recipient_limit;
        long long n =
            transport_param(q, tr, "destination_recipient_limit", dflt);
        if (n <= 0)
                n = c->default_destination_recipient_limit;
        tr->rcpt_lim = n > 0 ? (size_t)n : 1;
        return tr->rcpt_lim;
}

/* transport_get - the transport of a route's name, made on first use
 * for a built-in one (master.cf's are made by qmgr_new) */
static struct qtransport *transport_get(struct qmgr *q, const char *name,
                                        enum qmgr_transport kind)
{
        struct qtransport *tr;

        for (tr = q->transports; tr; tr = tr->next)
                if (strcmp(tr->name, name) == 0)
                        return tr;
        tr = xcalloc(1, sizeof(*tr));
        tr->name = xstrdup(name);
        tr->kind = kind;
        tr->conf = q->conf;
        if (kind == QMGR_T_SMTP || kind == QMGR_T_LMTP) {
                tr->client = kind == QMGR_T_SMTP ? q->smtp : q->lmtp;
                tr->err = xstrdup(kind == QMGR_T_SMTP
                                      ? (q->smtp_err ? q->smtp_err
                                                     : "smtp client "
                                                       "unavailable")
                                      : (q->lmtp_err ? q->lmtp_err
                                                     : "lmtp client "
                                                       "unavailable"));
        }
        tr->next = q->transports;
        q->transports = tr;
        return tr;
}

/* log_outcome - a Postfix-shaped line for an outcome decided here;
 * service: the Postfix program that would log it ("error", "retry",
 * "discard"), NULL for the queue manager's own */
static void log_outcome(struct qmsg *m, size_t i, const char *service,
                        const char *dsn, const char *status, const char *text)
{
        const struct queue_env *env = queue_file_env(m->qf);
        long long d = now_s() - env->arrival;
        const char *prev = log_service(service);

        log_info("%s: to=<%s>, relay=none, delay=%lld, delays=%lld/0/0/0, "
                 "dsn=%s, status=%s (%s)",
                 m->id, env->rcpt[i].addr, d < 0 ? 0 : d, d < 0 ? 0 : d, dsn,
                 status, text);
        (void)log_service(prev);
}

/* dsn_of - "5.1.1" from the start of a text, or def */
static void dsn_of(const char *text, const char *def, char out[16])
{
        const char *p = text;
        /* skip an SMTP reply code: "550 5.1.1 ..." */
        if (strlen(p) > 4 && p[0] >= '2' && p[0] <= '5' && p[3] == ' ')
                p += 4;
        if ((p[0] == '2' || p[0] == '4' || p[0] == '5') && p[1] == '.') {
                size_t n = strspn(p, "0123456789.");
                if (n >= 5 && n < 16) {
                        memcpy(out, p, n);
                        out[n] = 0;
                        return;
                }
        }
        snprintf(out, 16, "%s", def);
}

/* record - one recipient's outcome into the file (not yet synced) */
static void record(struct qmsg *m, size_t i, enum queue_rcpt_state st,
                   const char *dsn, const char *reason, bool smtp)
{
        const char *err;
        struct qrinfo *ri = &m->ri[i];

        if (queue_file_set_rcpt(m->qf, i, st, reason, 0, &err) < 0)
                log_warnx("%s: recipient %zu: %s", m->id, i, err);
        m->unsynced = true;
        snprintf(ri->dsn, sizeof(ri->dsn), "%s", dsn);
        free(ri->diag);
        ri->diag = reason ? xstrdup(reason) : NULL;
        ri->smtp_diag = smtp;
        ri->failed_now = st == QUEUE_RCPT_FAILED;
        ri->delivered_now = st == QUEUE_RCPT_DELIVERED;
}

/* sync - make recorded outcomes durable */
static void sync_file(struct qmsg *m)
{
        const char *err;

        if (queue_file_sync(m->qf, &err) < 0)
                log_warnx("%s: cannot record delivery status: %s", m->id, err);
        m->unsynced = false;
}

static void msg_finish(struct qmsg *m);

/* job_free - release a job */
static void job_free(struct qjob *j)
{
        j->m->jobs[j->slot] = NULL;
        for (size_t i = 0; i < j->nrcpt; i++)
                strbuf_clear(&j->rcpt[i].text);
        free(j->rcpt);
        free(j->nexthop);
        free(j);
}

/* job_done - record a finished job's outcomes, then maybe the message */
static void job_done(struct qjob *j)
{
        struct qmsg *m = j->m;
        struct qmgr *q = m->q;
        /* LMTP outcomes are server replies too ("host ... said: 550 ..."),
         * and a success there is not a final delivery postern made */
        bool smtp = j->t == QMGR_T_SMTP || j->t == QMGR_T_LMTP;

        for (size_t k = 0; k < j->nrcpt; k++) {
                struct smtp_rcpt *r = &j->rcpt[k];
                const char *text = strbuf_cstr(&r->text);
                switch (r->status) {
                case SMTP_RCPT_SENT:
                        record(m, r->index, QUEUE_RCPT_DELIVERED,
                               r->dsn[0] ? r->dsn : "2.0.0", NULL, smtp);
                        m->ri[r->index].final_local = !smtp;
                        break;
                case SMTP_RCPT_BOUNCE:
                        record(m, r->index, QUEUE_RCPT_FAILED,
                               r->dsn[0] ? r->dsn : "5.0.0", text, smtp);
                        break;
                case SMTP_RCPT_PENDING:
                        log_warnx("%s: transport %s left recipient %zu "
                                  "undecided",
                                  m->id, j->tr->name, r->index);
                        record(m, r->index, QUEUE_RCPT_DEFERRED, "4.3.0",
                               "delivery status unknown", false);
                        break;
                default:
                        record(m, r->index, QUEUE_RCPT_DEFERRED,
                               r->dsn[0] ? r->dsn : "4.0.0", text, smtp);
                        break;
                }
        }
        /* the last job's outcomes are synced by msg_finish, after the
         * DSNs they cause are committed, and not at all when the file is
         * deleted */
        if (m->njobs > 1)
                sync_file(m);
        if (j->d) {
                j->d->active--;
                j->tr->active--;
        }
        job_free(j);
        if (--m->njobs == 0)
                msg_finish(m);
        pump_soon(q);
}

/* smtp_done - the SMTP (or LMTP) client's callback; what follows is the queue
 * manager's again, logged under its own name */
static void smtp_done(void *arg, struct smtp_job *sj)
{
        const char *prev = log_service(NULL);

        (void)sj;
        job_done(arg);
        (void)log_service(prev);
}

/* job_run_local - deliver a local/virtual job inline */
static void job_run_local(struct qjob *j)
{
        for (size_t k = 0; k < j->nrcpt; k++) {
                struct local_result r;
                struct smtp_rcpt *sr = &j->rcpt[k];
                local_deliver(j->m->q->local, j->m->qf, sr->index,
                              j->t == QMGR_T_VIRTUAL, &r);
                sr->status = r.status == LOCAL_SENT    ? SMTP_RCPT_SENT
                             : r.status == LOCAL_DEFER ? SMTP_RCPT_DEFER
                                                       : SMTP_RCPT_BOUNCE;
                snprintf(sr->dsn, sizeof(sr->dsn), "%s", r.dsn);
                strbuf_reset(&sr->text);
                strbuf_adds(&sr->text, r.text);
        }
        job_done(j);
}

/* job_fail_all - a job that could not start: defer every recipient */
static void job_fail_all(struct qjob *j, const char *why)
{
        for (size_t k = 0; k < j->nrcpt; k++) {
                struct smtp_rcpt *sr = &j->rcpt[k];
                sr->status = SMTP_RCPT_DEFER;
                snprintf(sr->dsn, sizeof(sr->dsn), "4.3.0");
                strbuf_reset(&sr->text);
                strbuf_adds(&sr->text, why);
                log_outcome(j->m, sr->index, NULL, "4.3.0", "deferred", why);
        }
        job_done(j);
}

/* job_start - one delivery attempt of a job */
static void job_start(struct qjob *j)
{
        j->d->active++;
        j->tr->active++;
        if (j->t != QMGR_T_SMTP && j->t != QMGR_T_LMTP) {
                job_run_local(j);
                return;
        }
        bool lmtp = j->t == QMGR_T_LMTP;
        struct smtp_client *cl = j->tr->client;
        if (cl == NULL) {
                job_fail_all(j, j->tr->err ? j->tr->err
                                : lmtp     ? "lmtp client unavailable"
                                           : "smtp client unavailable");
                return;
        }
        /* LMTP: the client derives the policy key from the next hop */
        j->sj = (struct smtp_job){.qf = j->m->qf,
                                  .nexthop = j->nexthop,
                                  .policy_key = lmtp ? NULL : j->nexthop,
                                  .rcpt = j->rcpt,
                                  .nrcpt = j->nrcpt};
        if (smtp_deliver(cl, &j->sj, smtp_done, j) < 0)
                job_fail_all(j, lmtp ? "lmtp delivery could not start"
                                     : "smtp delivery could not start");
}

/* on_pump - start waiting jobs within each destination's limit and
 * each transport's (master.cf's maxproc) */
static void on_pump(void *arg)
{
        struct qmgr *q = arg;

        q->pump_armed = false;
        if (q->pumping)
                return;
        q->pumping = true;
        for (struct qdest *d = q->dests; d; d = d->next) {
                while (d->head && d->active < d->limit &&
                       (d->tr->limit <= 0 || d->tr->active < d->tr->limit)) {
                        struct qjob *j = d->head;
                        d->head = j->next;
                        if (d->head == NULL)
                                d->tail = NULL;
                        j->next = NULL;
                        job_start(j);
                }
        }
        q->pumping = false;
}

/* job_queue - append a job to its destination */
static void job_queue(struct qmgr *q, struct qjob *j)
{
        j->d = dest_get(q, j->tr, j->nexthop);
        if (j->d->tail)
                j->d->tail->next = j;
        else
                j->d->head = j;
        j->d->tail = j;
}

/* msg_free - release an active message (file closed, unlinked from the
 * active list) */
static void msg_free(struct qmsg *m)
{
        struct qmgr *q = m->q;
        const struct queue_env *env = queue_file_env(m->qf);

        msg_unlink(q, m);
        for (size_t i = 0; m->ri && i < env->nrcpt; i++)
                free(m->ri[i].diag);
        for (size_t i = 0; i < m->njobs_all; i++)
                if (m->jobs[i])
                        job_free(m->jobs[i]);
        free(m->jobs);
        free(m->ri);
        queue_file_close(m->qf);
        free(m);
}

/* read_original - the message (up to the DSN limit plus one byte) */
static void read_original(struct qmsg *m, struct strbuf *sb)
{
        char buf[65536];
        size_t got;
        const char *err;

        queue_file_rewind_body(m->qf);
        while (sb->len <= 1000000) {
                if (queue_file_read_body(m->qf, buf, sizeof(buf), &got, &err) <
                        0 ||
                    got == 0)
                        break;
                strbuf_add(sb, buf, got);
        }
}

/* send_dsn - compose and enqueue a notification about some recipients;
 * 0 once it is committed, -1 (logged, the reason in why) if it is not */
static int send_dsn(struct qmsg *m, enum qmgr_dsn_action a,
                    const struct qmgr_dsn_rcpt *r, size_t n, char *why,
                    size_t whylen)
{
        struct qmgr *q = m->q;
        const struct queue_env *env = queue_file_env(m->qf);
        struct strbuf orig, out;
        struct queue_msg *qm = NULL;
        struct queue_env denv;
        const char *err = NULL, *newid = NULL;
        int rc = 0;

        strbuf_init(&orig);
        strbuf_init(&out);
        read_original(m, &orig);
        qmgr_dsn_compose(q->conf, env, a, r, n, orig.s ? orig.s : "", orig.len,
                         now_s(), &out);
        queue_env_init(&denv);
        denv.sender = xstrdup("");
        denv.client_name = xstrdup("localhost");
        denv.client_addr = xstrdup("127.0.0.1");
        denv.protocol = xstrdup("ESMTP");
        queue_env_add_rcpt(&denv, env->sender, NULL, QUEUE_NOTIFY_NEVER);
        if (queue_msg_new(q->queue, &qm, &err) < 0 ||
            queue_msg_write(qm, out.s, out.len, &err) < 0 ||
            queue_msg_finish(qm, &denv, &newid, &err) < 0 ||
            queue_commit(q->queue, &qm, 1, &err) < 0) {
                snprintf(why, whylen, "%s", err ? err : "unknown error");
                log_warnx("%s: cannot queue delivery status notification: %s",
                          m->id, why);
                rc = -1;
        } else {
                const char *prev = log_service("bounce");
                log_info("%s: sender %s notification: %s", m->id,
                         a == QMGR_DSN_FAILED    ? "non-delivery"
                         : a == QMGR_DSN_DELAYED ? "delay"
                                                 : "delivery status",
                         newid);
                (void)log_service(prev);
                pump_soon(q);
                event_timer_add(q->t_ready, 0);
        }
        queue_msg_free(qm);
        queue_env_clear(&denv);
        strbuf_clear(&orig);
        strbuf_clear(&out);
        return rc;
}

/* keep_for_bounce - a failed recipient whose bounce could not be queued
 * goes back to deferred: the message stays, and the next attempt fails
 * it again and bounces it then (Postfix does the same when its bounce
 * service fails), so the sender is never left without the notice */
static void keep_for_bounce(struct qmsg *m, size_t i, const char *why)
{
        const char *was = m->ri[i].diag ? m->ri[i].diag : "(no reason)";
        char *text = xasprintf("cannot return a non-delivery notification "
                               "to the sender: %s; the failure was: %s",
                               why, was);

        log_outcome(m, i, NULL, "4.3.0", "deferred", text);
        record(m, i, QUEUE_RCPT_DEFERRED, "4.3.0", text, false);
        free(text);
}

/* notify_sender - DSNs for what this activation decided; true if a
 * failed recipient had to be kept because its bounce could not be
 * queued */
static bool notify_sender(struct qmsg *m)
{
        const struct queue_env *env = queue_file_env(m->qf);
        struct qmgr_dsn_rcpt *r = xcalloc(env->nrcpt, sizeof(*r));
        char why[512];
        bool kept = false;
        size_t n;

        if (env->sender == NULL || *env->sender == 0) {
                free(r);
                return false; /* never bounce a bounce */
        }
        n = 0;
        for (size_t i = 0; i < env->nrcpt; i++)
                if (m->ri[i].failed_now &&
                    qmgr_dsn_wanted(env->rcpt[i].notify, QMGR_DSN_FAILED))
                        r[n++] =
                            (struct qmgr_dsn_rcpt){.index = i,
                                                   .status = m->ri[i].dsn,
                                                   .diag = m->ri[i].diag,
                                                   .smtp = m->ri[i].smtp_diag};
        if (n && send_dsn(m, QMGR_DSN_FAILED, r, n, why, sizeof(why)) < 0) {
                for (size_t k = 0; k < n; k++)
                        keep_for_bounce(m, r[k].index, why);
                kept = true;
        }
        n = 0;
        for (size_t i = 0; i < env->nrcpt; i++)
                if (m->ri[i].delivered_now && m->ri[i].final_local &&
                    qmgr_dsn_wanted(env->rcpt[i].notify, QMGR_DSN_DELIVERED))
                        r[n++] = (struct qmgr_dsn_rcpt){
                            .index = i,
                            .status = m->ri[i].dsn,
                            .diag = "delivered to mailbox"};
        /* a success notice that cannot be queued is logged and dropped:
         * the mail itself was delivered, and delivering it again to
         * retry the notice would be a duplicate */
        if (n)
                (void)send_dsn(m, QMGR_DSN_DELIVERED, r, n, why, sizeof(why));
        free(r);
        return kept;
}

/* warn_delayed - once per message, when it has waited delay_warning_time
 * and still has recipients to try: a "delayed" notice for those whose
 * NOTIFY asks for it or was not given (as Postfix does).  Not marked as
 * sent if it cannot be queued, so the next attempt tries again */
static void warn_delayed(struct qmsg *m, long long now)
{
        const struct queue_env *env = queue_file_env(m->qf);
        struct qmgr_dsn_rcpt *r = xcalloc(env->nrcpt, sizeof(*r));
        char why[512];
        const char *err;
        size_t n = 0;

        for (size_t i = 0; i < env->nrcpt; i++) {
                const struct queue_rcpt *rc = &env->rcpt[i];
                if ((rc->state == QUEUE_RCPT_DEFERRED ||
                     rc->state == QUEUE_RCPT_PENDING) &&
                    qmgr_dsn_wanted(rc->notify, QMGR_DSN_DELAYED))
                        r[n++] = (struct qmgr_dsn_rcpt){
                            .index = i,
                            .status =
                                m->ri[i].dsn[0] == '4' ? m->ri[i].dsn : "4.0.0",
                            .diag = rc->reason,
                            .smtp = m->ri[i].smtp_diag};
        }
        if (n == 0 ||
            send_dsn(m, QMGR_DSN_DELAYED, r, n, why, sizeof(why)) == 0)
                if (queue_file_set_warned(m->qf, now, &err) < 0)
                        log_warnx("%s: %s", m->id, err);
        free(r);
}

/* msg_finish - every job of this activation is done: expire, notify,
 * then delete the file, or defer it with its next attempt time.  The
 * outcomes not yet synced are synced after the DSNs are committed (a
 * crash in between sends a DSN twice, never not at all), and not at all
 * before the file is deleted: a crash can then only bring the file back
 * with older recipient states, a duplicate delivery
 * (docs/queue-format.md, "delete") */
static void msg_finish(struct qmsg *m)
{
        struct qmgr *q = m->q;
        const struct conf *c = q->conf;
        const struct queue_env *env = queue_file_env(m->qf);
        long long now = now_s();
        bool null_sender = env->sender == NULL || *env->sender == 0;
        long long life =
            null_sender ? c->bounce_queue_lifetime : c->maximal_queue_lifetime;
        bool deferred = false;
        const char *err;

        for (size_t i = 0; i < env->nrcpt; i++) {
                const struct queue_rcpt *r = &env->rcpt[i];
                if (r->state != QUEUE_RCPT_DEFERRED &&
                    r->state != QUEUE_RCPT_PENDING)
                        continue;
                if (now - env->arrival < life) {
                        deferred = true;
                        continue;
                }
                /* expired: the last reason becomes the bounce reason */
                char *why = xasprintf("message expired after %lld seconds: %s",
                                      now - env->arrival,
                                      r->reason ? r->reason : "(no reason)");
                char dsn[16];
                dsn_of(m->ri[i].dsn[0] ? m->ri[i].dsn : "4.4.7", "4.4.7", dsn);
                bool smtp = m->ri[i].smtp_diag;
                log_outcome(m, i, NULL, dsn, "expired, returned to sender",
                            why);
                record(m, i, QUEUE_RCPT_FAILED, dsn, why, smtp);
                free(why);
        }
        if (notify_sender(m))
                deferred = true;
        if (deferred && m->after != QAFTER_DELETE && !null_sender &&
            c->delay_warning_time > 0 && env->warned == 0 &&
            now - env->arrival >= c->delay_warning_time)
                warn_delayed(m, now);
        if (deferred) {
                unsigned att = env->attempts + 1;
                long long next =
                    now + qmgr_backoff(c->minimal_backoff_time,
                                       c->maximal_backoff_time, att);
                if (queue_file_set_attempts(m->qf, att, next, &err) < 0)
                        log_warnx("%s: %s", m->id, err);
                sync_file(m);
                /* fold the update log away now and then, so a message
                 * retried for days does not grow without bound */
                if (att % 16 == 0 && queue_file_compact(m->qf, &err) < 0)
                        log_warnx("%s: compact: %s", m->id, err);
                if (m->state != QUEUE_DEFERRED &&
                    queue_move(q->queue, m->id, m->state, QUEUE_DEFERRED,
                               &err) < 0)
                        log_warnx("%s: move to deferred: %s", m->id, err);
                else
                        m->state = QUEUE_DEFERRED;
                if (m->after == QAFTER_HOLD &&
                    queue_move(q->queue, m->id, m->state, QUEUE_HOLD, &err) ==
                        0)
                        log_info("%s: placed on hold", m->id);
        }
        if (!deferred || m->after == QAFTER_DELETE) {
                if (queue_delete(q->queue, m->state, m->id, &err) < 0) {
                        log_warnx("%s: delete: %s", m->id, err);
                        if (m->unsynced)
                                sync_file(m); /* the file stays */
                } else {
                        log_info("%s: removed", m->id);
                }
        }
        msg_free(m);
}

/* job_for - the job of a message for a route with room for a recipient */
static struct qjob *job_for(struct qmsg *m, struct qjob **jobs, size_t *njobs,
                            const struct qmgr_route *rt)
{
        struct qtransport *tr = transport_get(m->q, rt->name, rt->transport);
        size_t lim = rcpt_limit(m->q, tr);

        for (size_t i = 0; i < *njobs; i++) {
                struct qjob *j = jobs[i];
                if (j->tr == tr && j->nrcpt < lim &&
                    ((j->nexthop == NULL && rt->nexthop == NULL) ||
                     (j->nexthop && rt->nexthop &&
                      strcmp(j->nexthop, rt->nexthop) == 0)))
                        return j;
        }
        struct qjob *j = xcalloc(1, sizeof(*j));
        j->m = m;
        j->tr = tr;
        j->t = rt->transport;
        j->nexthop = rt->nexthop ? xstrdup(rt->nexthop) : NULL;
        j->slot = *njobs;
        jobs[(*njobs)++] = j;
        return j;
}

/* delivered_to - whether the message's header has "Delivered-To: addr":
 * it went through this alias before (Postfix's local(8) loop check) */
static bool delivered_to(struct qmsg *m, const char *addr)
{
        struct strbuf sb;
        char buf[8192];
        size_t got, alen = strlen(addr);
        const char *err, *p, *end;
        bool found = false;

        strbuf_init(&sb);
        queue_file_rewind_body(m->qf);
        /* the header only, the first blank line ends it */
        while (sb.len < 1000000 &&
               (sb.s == NULL || !strstr(sb.s, "\r\n\r\n"))) {
                if (queue_file_read_body(m->qf, buf, sizeof(buf), &got, &err) <
                        0 ||
                    got == 0)
                        break;
                strbuf_add(&sb, buf, got);
        }
        end = strbuf_cstr(&sb);
        end = strstr(end, "\r\n\r\n") ? strstr(end, "\r\n\r\n") : end + sb.len;
        for (p = strbuf_cstr(&sb); p && p < end && !found;) {
                if (strncasecmp(p, "Delivered-To:", 13) == 0) {
                        const char *v = p + 13;
                        while (*v == ' ' || *v == '\t')
                                v++;
                        found = strncasecmp(v, addr, alen) == 0 &&
                                (v[alen] == '\r' || v[alen] == '\n' ||
                                 v[alen] == 0);
                }
                p = strchr(p, '\n');
                if (p)
                        p++;
        }
        strbuf_clear(&sb);
        return found;
}

/* alias_forward - the message again, to what recipient i's aliases
 * expand to, committed as a new queue file (as Postfix's local(8)
 * resubmits an expansion through cleanup).  The new recipients keep the
 * original as ORCPT; an expansion into several turns their NOTIFY=SUCCESS
 * off, the original recipient reporting "delivered" (RFC 3461, 6.2.7.3).
 * 0 with the new ID in newid, or -1 with why */
static int alias_forward(struct qmsg *m, size_t i,
                         const struct qmgr_alias_result *ar, char *newid,
                         size_t idlen, char **why)
{
        struct qmgr *q = m->q;
        const struct queue_env *env = queue_file_env(m->qf);
        const struct queue_rcpt *r = &env->rcpt[i];
        struct queue_msg *qm = NULL;
        struct queue_env ne;
        struct strbuf hdr;
        char buf[65536];
        size_t got = 0;
        const char *err = NULL, *id = NULL;
        unsigned notify = r->notify;
        char *orcpt =
            r->orcpt ? xstrdup(r->orcpt) : xasprintf("rfc822;%s", r->addr);
        int rc = -1;

        if (ar->addrs.n > 1 && (notify & QUEUE_NOTIFY_SUCCESS)) {
                notify &= ~QUEUE_NOTIFY_SUCCESS;
                if (notify == 0)
                        notify = QUEUE_NOTIFY_NEVER;
        }
        queue_env_init(&ne);
        ne.sender = xstrdup(env->sender ? env->sender : "");
        ne.envid = env->envid ? xstrdup(env->envid) : NULL;
        ne.ret = env->ret;
        ne.body = env->body;
        ne.smtputf8 = env->smtputf8;
        ne.requiretls = env->requiretls;
        ne.client_name = xstrdup("localhost");
        ne.client_addr = xstrdup("127.0.0.1");
        ne.protocol = xstrdup(env->protocol ? env->protocol : "ESMTP");
        for (size_t k = 0; k < ar->addrs.n; k++)
                queue_env_add_rcpt(&ne, ar->addrs.v[k], orcpt, notify)
                    ->mailbox = ar->mailbox[k];
        /* Delivered-To, as Postfix prepends when it forwards: a copy
         * that comes back is a loop (delivered_to) */
        strbuf_init(&hdr);
        strbuf_printf(&hdr, "Delivered-To: %s\r\n", r->addr);
        queue_file_rewind_body(m->qf);
        if (queue_msg_new(q->queue, &qm, &err) < 0 ||
            queue_msg_write(qm, hdr.s, hdr.len, &err) < 0)
                goto out;
        do {
                if (queue_file_read_body(m->qf, buf, sizeof(buf), &got, &err) <
                        0 ||
                    (got && queue_msg_write(qm, buf, got, &err) < 0))
                        goto out;
        } while (got > 0);
        if (queue_msg_finish(qm, &ne, &id, &err) < 0 ||
            queue_commit(q->queue, &qm, 1, &err) < 0)
                goto out;
        snprintf(newid, idlen, "%s", id);
        pump_soon(q);
        event_timer_add(q->t_ready, 0);
        rc = 0;
out:
        if (rc < 0)
                *why = xasprintf("cannot queue the alias expansion: %s",
                                 err ? err : "unknown error");
        queue_msg_free(qm);
        queue_env_clear(&ne);
        strbuf_clear(&hdr);
        free(orcpt);
        return rc;
}

/* alias_done - recipient i through alias_maps: true when the aliases
 * decided its outcome (forwarded, deferred, bounced), false when it goes
 * to its mailbox */
static bool alias_done(struct qmsg *m, size_t i)
{
        const struct queue_env *env = queue_file_env(m->qf);
        const char *addr = env->rcpt[i].addr;
        struct qmgr_alias_result ar;
        char newid[QUEUE_ID_SIZE], *why = NULL, *text;

        qmgr_alias_expand(m->q->aliases, env->sender, addr, &ar);
        if (ar.status == QMGR_ALIAS_EXPANDED && delivered_to(m, addr)) {
                ar.status = QMGR_ALIAS_BOUNCE;
                snprintf(ar.dsn, sizeof(ar.dsn), "5.4.6");
                free(ar.text);
                ar.text = xasprintf("mail forwarding loop for %s", addr);
        }
        switch (ar.status) {
        case QMGR_ALIAS_NONE:
                qmgr_alias_result_clear(&ar);
                return false;
        case QMGR_ALIAS_DEFER:
                log_outcome(m, i, "local", ar.dsn, "deferred", ar.text);
                record(m, i, QUEUE_RCPT_DEFERRED, ar.dsn, ar.text, false);
                break;
        case QMGR_ALIAS_BOUNCE:
                log_outcome(m, i, "local", ar.dsn, "bounced", ar.text);
                record(m, i, QUEUE_RCPT_FAILED, ar.dsn, ar.text, false);
                break;
        case QMGR_ALIAS_EXPANDED:
                if (alias_forward(m, i, &ar, newid, sizeof(newid), &why) < 0) {
                        log_outcome(m, i, "local", "4.3.0", "deferred", why);
                        record(m, i, QUEUE_RCPT_DEFERRED, "4.3.0", why, false);
                        free(why);
                        break;
                }
                text = xasprintf("forwarded as %s", newid);
                log_outcome(m, i, "local", "2.0.0", "sent", text);
                record(m, i, QUEUE_RCPT_DELIVERED, "2.0.0", NULL, false);
                /* an expansion into several is reported here ("expanded");
                 * one address carries the NOTIFY on */
                m->ri[i].final_local = ar.addrs.n > 1;
                free(text);
                break;
        }
        qmgr_alias_result_clear(&ar);
        return true;
}

/* msg_activate - open a committed message and start its deliveries;
 * due_only skips a deferred message whose time has not come */
static void msg_activate(struct qmgr *q, enum queue_state st, const char *id,
                         bool due_only)
{
        struct queue_file *qf;
        const char *err;

        if (msg_find(q, id) || q->nactive >= q->active_limit)
                return;
        if (queue_file_open(q->queue, st, id, QUEUE_OPEN_RDWR, &qf, &err) < 0) {
                if (str_has_prefix(err, "corrupt queue file")) {
                        log_warnx("%s: %s: moved to corrupt", id, err);
                        (void)queue_move(q->queue, id, st, QUEUE_CORRUPT, &err);
                } else if (errno != ENOENT) {
                        log_warnx("%s: %s", id, err);
                }
                return;
        }
        const struct queue_env *env = queue_file_env(qf);
        if (due_only && env->next_try > now_s()) {
                queue_file_close(qf);
                return;
        }
        struct qmsg *m = xcalloc(1, sizeof(*m));
        m->q = q;
        snprintf(m->id, sizeof(m->id), "%s", id);
        m->state = st;
        m->qf = qf;
        m->ri = xcalloc(env->nrcpt ? env->nrcpt : 1, sizeof(*m->ri));
        msg_link(q, m);
        log_info("%s: from=<%s>, size=%llu, nrcpt=%zu (queue active)", id,
                 env->sender ? env->sender : "", (unsigned long long)env->size,
                 env->nrcpt);

        struct qjob **jobs =
            xcalloc(env->nrcpt ? env->nrcpt : 1, sizeof(*jobs));
        size_t njobs = 0;
        for (size_t i = 0; i < env->nrcpt; i++) {
                const struct queue_rcpt *r = &env->rcpt[i];
                struct qmgr_route rt;
                char *rerr = NULL;
                char dsn[16];
                if (r->state != QUEUE_RCPT_PENDING &&
                    r->state != QUEUE_RCPT_DEFERRED)
                        continue;
                /* a message to be filtered goes there whole, whatever
                 * its recipients are; the filter sends it back as a new
                 * one (Postfix's qmgr: content filtering overrides the
                 * address resolver) */
                int rrc = env->filter
                              ? qmgr_route_filter(q->routes, env->filter,
                                                  r->addr, &rt, &rerr)
                              : qmgr_route(q->routes, env->sender, r->addr, &rt,
                                           &rerr);
                if (rrc < 0) {
                        log_outcome(m, i, NULL, "4.3.0", "deferred", rerr);
                        record(m, i, QUEUE_RCPT_DEFERRED, "4.3.0", rerr, false);
                        free(rerr);
                        continue;
                }
                if (rt.aliases && !r->mailbox && alias_done(m, i)) {
                        qmgr_route_clear(&rt);
                        continue;
                }
                switch (rt.transport) {
                case QMGR_T_ERROR:
                        dsn_of(rt.text, "5.0.0", dsn);
                        if (dsn[0] != '5')
                                snprintf(dsn, sizeof(dsn), "5.0.0");
                        log_outcome(m, i, "error", dsn, "bounced", rt.text);
                        record(m, i, QUEUE_RCPT_FAILED, dsn, rt.text, false);
                        break;
                case QMGR_T_RETRY:
                        dsn_of(rt.text, "4.0.0", dsn);
                        log_outcome(m, i, "retry", dsn, "deferred", rt.text);
                        record(m, i, QUEUE_RCPT_DEFERRED, dsn, rt.text, false);
                        break;
                case QMGR_T_DISCARD:
                        log_outcome(m, i, "discard", "2.0.0", "sent",
                                    rt.text ? rt.text : "discarded");
                        record(m, i, QUEUE_RCPT_DELIVERED, "2.0.0", NULL,
                               false);
                        m->ri[i].final_local = true;
                        break;
                default: {
                        struct qjob *j = job_for(m, jobs, &njobs, &rt);
                        if (j->nrcpt == j->cap) {
                                j->cap = j->cap ? j->cap * 2 : 4;
                                j->rcpt = xreallocarray(j->rcpt, j->cap,
                                                        sizeof(*j->rcpt));
                        }
                        struct smtp_rcpt *sr = &j->rcpt[j->nrcpt++];
                        memset(sr, 0, sizeof(*sr));
                        sr->index = i;
                        sr->status = SMTP_RCPT_PENDING;
                        strbuf_init(&sr->text);
                        break;
                }
                }
                qmgr_route_clear(&rt);
        }
        /* what was decided here is synced with the first job's outcomes,
         * or by msg_finish */
        m->njobs = njobs;
        m->njobs_all = njobs;
        m->jobs = jobs;
        for (size_t i = 0; i < njobs; i++)
                job_queue(q, jobs[i]);
        if (njobs == 0)
                msg_finish(m);
        else
                pump_soon(q);
}

/* pickup_free - unlink and release a pickup */
static void pickup_free(struct pickup *p)
{
        struct pickup **pp = &p->q->pickups;

        while (*pp && *pp != p)
                pp = &(*pp)->next;
        if (*pp)
                *pp = p->next;
        milter_run_free(p->run);
        queue_file_close(p->qf);
        strbuf_clear(&p->content);
        free(p->filter);
        smtpd_hbc_result_clear(&p->hres);
        strlist_clear(&p->msg.rcpt);
        strlist_clear(&p->msg.rcpt_params);
        free(p);
}

/* pickup_waiting - whether a milter deferred id and its time has not
 * come; forgets the entries whose time has come */
static bool pickup_waiting(struct qmgr *q, const char *id)
{
        long long now = now_s();
        bool waiting = false;

        for (struct pickup_wait **wp = &q->waits; *wp;) {
                struct pickup_wait *w = *wp;
                if (w->until <= now) {
                        *wp = w->next;
                        free(w);
                        continue;
                }
                waiting |= strcmp(w->id, id) == 0;
                wp = &w->next;
        }
        return waiting;
}

/* pickup_requeue - the maildrop file with the edits of the checks and
 * the milters (r, or NULL) and its content filter, as a new queue file
 * in state to; then the old one goes (logged as "ID: what, queued as
 * NEWID").  0, or -1 (logged) */
static int pickup_requeue(struct pickup *p, const struct milter_result *r,
                          enum queue_state to, const char *what)
{
        struct qmgr *q = p->q;
        const struct queue_env *old = queue_file_env(p->qf);
        struct queue_msg *m = NULL;
        struct queue_env env;
        struct strbuf out;
        const char *err = NULL;
        int rc = -1;

        queue_env_init(&env);
        strbuf_init(&out);
        env.sender = xstrdup(r && r->sender ? r->sender
                             : old->sender  ? old->sender
                                            : "");
        env.envid = old->envid ? xstrdup(old->envid) : NULL;
        env.ret = old->ret;
        env.body = old->body;
        env.smtputf8 = old->smtputf8;
        env.requiretls = old->requiretls;
        env.protocol = old->protocol ? xstrdup(old->protocol) : NULL;
        env.filter = p->filter ? xstrdup(p->filter) : NULL;
        for (size_t i = 0; i < old->nrcpt; i++) {
                bool gone = false;
                for (size_t d = 0; r && d < r->del_rcpt.n && !gone; d++)
                        gone = strcasecmp(old->rcpt[i].addr,
                                          r->del_rcpt.v[d]) == 0;
                if (!gone)
                        queue_env_add_rcpt(&env, old->rcpt[i].addr,
                                           old->rcpt[i].orcpt,
                                           old->rcpt[i].notify);
        }
        for (size_t a = 0; r && a < r->add_rcpt.n; a++)
                queue_env_add_rcpt(&env, r->add_rcpt.v[a], NULL, 0);
        smtpd_hbc_add_bcc(&p->hres, &env);
        smtpd_hbc_redirect(&p->hres, &env);
        if (r)
                milter_apply(r, p->content.s ? p->content.s : "",
                             p->content.len, 0, &out);
        else
                strbuf_add(&out, p->content.s ? p->content.s : "",
                           p->content.len);
        if (queue_msg_new(q->queue, &m, &err) < 0 ||
            queue_msg_write(m, out.s ? out.s : "", out.len, &err) < 0 ||
            queue_msg_finish(m, &env, NULL, &err) < 0 ||
            queue_commit_to(q->queue, to, &m, 1, &err) < 0) {
                log_warnx("%s: %s: %s", p->id, what, err);
                goto out;
        }
        log_info("%s: %s, queued as %s", p->id, what, queue_msg_id(m));
        if (queue_delete(q->queue, QUEUE_MAILDROP, p->id, &err) < 0)
                log_warnx("%s: delete from maildrop: %s", p->id, err);
        rc = 0;
out:
        queue_msg_free(m);
        queue_env_clear(&env);
        strbuf_clear(&out);
        return rc;
}

/* pickup_defer - the maildrop file stays until the next try, after
 * queue_run_delay */
static void pickup_defer(struct pickup *p)
{
        struct qmgr *q = p->q;
        struct pickup_wait *w = xcalloc(1, sizeof(*w));

        snprintf(w->id, sizeof(w->id), "%s", p->id);
        w->until =
            now_s() +
            (q->conf->queue_run_delay > 0 ? q->conf->queue_run_delay : 300);
        w->next = q->waits;
        q->waits = w;
}

/* pickup_hold - a rejected local submission: there is nobody to refuse it
 * to, so it is kept on hold for the postmaster, never delivered as it is */
static void pickup_hold(struct pickup *p)
{
        const char *err = NULL;

        if (queue_move(p->q->queue, p->id, QUEUE_MAILDROP, QUEUE_HOLD, &err) <
            0)
                log_warnx("%s: move to hold: %s", p->id, err);
        else
                log_info("%s: placed on hold", p->id);
}

/* pickup_remove - a discarded local submission */
static void pickup_remove(struct pickup *p)
{
        const char *err = NULL;

        if (queue_delete(p->q->queue, QUEUE_MAILDROP, p->id, &err) < 0)
                log_warnx("%s: delete from maildrop: %s", p->id, err);
        else
                log_info("%s: removed", p->id);
}

/* pickup_settle - into ready/ (or hold/), written anew when the checks
 * or the milters (r, or NULL; edited says) changed it */
static void pickup_settle(struct pickup *p, const struct milter_result *r,
                          bool edited, bool hold)
{
        enum queue_state to = hold || p->hres.hold ? QUEUE_HOLD : QUEUE_READY;
        const char *err = NULL;

        if (edited || p->checked_edit || p->refilter)
                (void)pickup_requeue(p, r, to,
                                     edited            ? "milter edits applied"
                                     : p->checked_edit ? "check edits applied"
                                                       : "content filter "
                                                         "recorded");
        else if (queue_move(p->q->queue, p->id, QUEUE_MAILDROP, to, &err) < 0)
                log_warnx("%s: maildrop pickup: %s", p->id, err);
}

/* pickup_done - what the milters decided about a maildrop file */
static void pickup_done(void *arg, struct milter_result *r)
{
        struct pickup *p = arg;
        struct qmgr *q = p->q;
        const struct queue_env *env = queue_file_env(p->qf);
        bool edited = r->nedits || r->body_replaced || r->sender ||
                      r->add_rcpt.n || r->del_rcpt.n;
        const char *what = r->verdict == MILTER_V_DISCARD ? "milter-discard"
                           : r->verdict == MILTER_V_HOLD  ? "milter-hold"
                                                          : "milter-reject";
        const char *text =
            r->verdict == MILTER_V_DISCARD ? "milter triggers DISCARD action"
            : r->verdict == MILTER_V_HOLD  ? "milter triggers HOLD action"
            : r->reply                     ? r->reply + 4
                                           : "";

        if (r->verdict != MILTER_V_QUEUE)
                log_info("%s: %s: %s from localhost[127.0.0.1]: %s; "
                         "from=<%s> to=<%s>",
                         p->id, what, r->stage ? r->stage : "END-OF-MESSAGE",
                         text, env->sender ? env->sender : "",
                         env->nrcpt ? env->rcpt[0].addr : "");
        switch (r->verdict) {
        case MILTER_V_TEMPFAIL:
                pickup_defer(p);
                break;
        case MILTER_V_REJECT:
                pickup_hold(p);
                break;
        case MILTER_V_DISCARD:
                pickup_remove(p);
                break;
        case MILTER_V_QUEUE:
        case MILTER_V_HOLD:
                pickup_settle(p, r, edited, r->verdict == MILTER_V_HOLD);
                break;
        }
        milter_result_free(r);
        pickup_free(p);
        event_timer_add(q->t_ready, 0);
}

/* collect - what the checks let through */
static int collect(void *arg, const char *p, size_t n)
{
        strbuf_add(arg, p, n);
        return 0;
}

/* pickup_check - the header and body checks of a local submission (its
 * log lines say "from local", as Postfix's): true when it goes on to the
 * milters or the queue, false when they decided (deferred, held,
 * removed) */
static bool pickup_check(struct pickup *p)
{
        const struct queue_env *env = queue_file_env(p->qf);
        struct smtpd_hbc_origin o = {
            .queue_id = p->id,
            .client = "local",
            .sender = env->sender ? env->sender : "",
            .rcpt = env->nrcpt ? env->rcpt[0].addr : NULL,
        };
        struct strbuf out;
        struct smtpd_hbc_stream *st;
        int rc;

        strbuf_init(&out);
        st = smtpd_hbc_start(p->q->hbc, &o, collect, &out);
        (void)smtpd_hbc_write(st, p->content.s ? p->content.s : "",
                              p->content.len);
        rc = smtpd_hbc_finish(st, &p->hres);
        smtpd_hbc_stream_free(st);
        if (rc == 0 && p->hres.verdict == SMTPD_HBC_QUEUE) {
                p->checked_edit =
                    out.len != p->content.len ||
                    (out.len && memcmp(out.s, p->content.s, out.len) != 0) ||
                    p->hres.bcc.n || p->hres.redirect;
                strbuf_clear(&p->content);
                p->content = out;
                return true;
        }
        strbuf_clear(&out);
        if (rc < 0 ||
            (p->hres.verdict == SMTPD_HBC_REFUSE && p->hres.reply[0] == '4'))
                pickup_defer(p); /* a table error, REJECT 4.x.x */
        else if (p->hres.verdict == SMTPD_HBC_REFUSE)
                pickup_hold(p);
        else
                pickup_remove(p); /* DISCARD */
        return false;
}

/* pickup_filter - the content filter of a local submission: a FILTER
 * of the header or body checks, else main.cf's content_filter, as
 * Postfix's pickup and cleanup give it; never what the file says
 * (whoever can write to maildrop/ must not choose or escape it) */
static void pickup_filter(struct pickup *p)
{
        const struct queue_env *env = queue_file_env(p->qf);
        const char *want =
            p->hres.filter ? p->hres.filter : p->q->conf->content_filter;

        free(p->filter);
        p->filter = *want ? xstrdup(want) : NULL;
        p->refilter = (p->filter == NULL) != (env->filter == NULL) ||
                      (p->filter && strcmp(p->filter, env->filter) != 0);
}

/* pickup_start - a maildrop file through the header and body checks and
 * non_smtpd_milters, as Postfix's cleanup does for local submissions: the
 * milters' client is localhost[127.0.0.1] */
static void pickup_start(struct qmgr *q, const char *id, struct queue_file *qf)
{
        const struct queue_env *env = queue_file_env(qf);
        struct pickup *p = xcalloc(1, sizeof(*p));
        const char *err = NULL;
        char buf[16384];
        size_t got = 0;
        int rc;

        p->q = q;
        p->qf = qf;
        snprintf(p->id, sizeof(p->id), "%s", id);
        strbuf_init(&p->content);
        p->next = q->pickups;
        q->pickups = p;
        queue_file_rewind_body(qf);
        while ((rc = queue_file_read_body(qf, buf, sizeof(buf), &got, &err)) ==
                   0 &&
               got > 0)
                strbuf_add(&p->content, buf, got);
        if (rc < 0) {
                log_warnx("%s: read: %s", id, err);
                pickup_free(p);
                return;
        }
        if (q->hbc && !pickup_check(p)) {
                pickup_free(p);
                event_timer_add(q->t_ready, 0);
                return;
        }
        pickup_filter(p);
        if (q->nmilters == 0) {
                pickup_settle(p, NULL, false, false);
                pickup_free(p);
                event_timer_add(q->t_ready, 0);
                return;
        }
        struct milter_msg *g = &p->msg;
        g->myhostname = q->conf->myhostname;
        g->daemon_name = q->conf->milter_macro_daemon_name;
        g->daemon_addr = "127.0.0.1";
        g->version = q->conf->milter_macro_v;
        g->client_name = "localhost";
        g->client_addr = "127.0.0.1";
        g->family = 4;
        g->helo = "localhost";
        g->queue_id = p->id;
        g->sender = env->sender ? env->sender : "";
        for (size_t i = 0; i < env->nrcpt; i++) {
                strlist_push(&g->rcpt, env->rcpt[i].addr);
                strlist_push(&g->rcpt_params, "");
        }
        g->content = p->content.s ? p->content.s : "";
        g->len = p->content.len;
        p->run = milter_run_start(q->loop, q->milters, q->nmilters, g,
                                  pickup_done, p);
}

/* maildrop_pickup - local submissions into ready/, through the
 * non_smtpd_milters when there are any */
static void maildrop_pickup(struct qmgr *q)
{
        struct strlist ids = {0};
        const char *err;

        if (queue_list(q->queue, QUEUE_MAILDROP, &ids, &err) < 0)
                return;
        for (size_t i = 0; i < ids.n; i++) {
                struct queue_file *qf;
                enum queue_state to = QUEUE_READY;
                bool busy = false;
                for (struct pickup *p = q->pickups; p && !busy; p = p->next)
                        busy = strcmp(p->id, ids.v[i]) == 0;
                if (busy ||
                    ((q->nmilters || q->hbc) && pickup_waiting(q, ids.v[i])))
                        continue;
                if (queue_file_open(q->queue, QUEUE_MAILDROP, ids.v[i], 0, &qf,
                                    &err) < 0) {
                        if (!str_has_prefix(err, "corrupt queue file"))
                                continue;
                        log_warnx("%s: %s: moved to corrupt", ids.v[i], err);
                        to = QUEUE_CORRUPT;
                } else if (q->nmilters || q->hbc || *q->conf->content_filter ||
                           queue_file_env(qf)->filter) {
                        /* checked, or given its content filter */
                        pickup_start(q, ids.v[i], qf);
                        continue;
                }
                queue_file_close(qf);
                if (queue_move(q->queue, ids.v[i], QUEUE_MAILDROP, to, &err) <
                    0)
                        log_warnx("%s: maildrop pickup: %s", ids.v[i], err);
        }
        strlist_clear(&ids);
}

/* scan - activate the messages of a state directory, up to the active
 * limit; when it stops there with files left, msg_unlink scans again as
 * soon as the active set falls below its low-water mark */
static void scan(struct qmgr *q, enum queue_state st)
{
        bool *more = st == QUEUE_DEFERRED ? &q->more_deferred : &q->more_ready;
        struct strlist ids = {0};
        const char *err;
        size_t i;

        *more = false;
        if (queue_list(q->queue, st, &ids, &err) < 0) {
                log_warnx("scan %s: %s", queue_state_name(st), err);
                return;
        }
        for (i = 0; i < ids.n && q->nactive < q->active_limit; i++)
                msg_activate(q, st, ids.v[i], st == QUEUE_DEFERRED);
        for (; i < ids.n && !*more; i++)
                *more = msg_find(q, ids.v[i]) == NULL;
        strlist_clear(&ids);
}

/* on_ready - scan maildrop/ and ready/ */
static void on_ready(void *arg)
{
        struct qmgr *q = arg;

        if (q->resume_ready)
                log_info("active queue below its limit (%zu of %zu "
                         "messages): scanning ready again",
                         q->nactive, q->active_limit);
        q->resume_ready = false;
        /* armed first: a message queued during the scan (a bounce of a
         * message it activated) sets it to 0 again, and that must win */
        event_timer_add(q->t_ready, QMGR_READY_SCAN_MS);
        maildrop_pickup(q);
        scan(q, QUEUE_READY);
}

/* on_deferred - scan deferred/ for messages whose time has come */
static void on_deferred(void *arg)
{
        struct qmgr *q = arg;
        long long d = q->conf->queue_run_delay;

        scan(q, QUEUE_DEFERRED);
        event_timer_add(q->t_deferred, (d > 0 ? d : 1) * 1000);
}

/* on_tmp - remove abandoned files from tmp/ */
static void on_tmp(void *arg)
{
        struct qmgr *q = arg;
        size_t n = 0;
        const char *err;

        if (queue_clean_tmp(q->queue, QMGR_TMP_MAX_AGE, &n, &err) < 0)
                log_warnx("clean tmp: %s", err);
        else if (n)
                log_info("removed %zu abandoned files from tmp", n);
        event_timer_add(q->t_tmp, QMGR_TMP_SCAN_MS);
}

/* request - one administrative request; the answer goes into reply */
static void request(struct qmgr *q, const char *cmd, const char *id,
                    struct strbuf *reply)
{
        enum queue_state st;
        const char *err;
        struct qmsg *m;

        if (strcmp(cmd, "flush") == 0) {
                struct strlist ids = {0};
                size_t n = 0;
                if (queue_list(q->queue, QUEUE_DEFERRED, &ids, &err) == 0)
                        for (size_t i = 0; i < ids.n; i++)
                                if (!msg_find(q, ids.v[i]) &&
                                    queue_move(q->queue, ids.v[i],
                                               QUEUE_DEFERRED, QUEUE_READY,
                                               &err) == 0)
                                        n++;
                strlist_clear(&ids);
                event_timer_add(q->t_ready, 0);
                strbuf_printf(reply, "ok flushed %zu", n);
                return;
        }
        if (id == NULL || !queue_id_valid(id)) {
                strbuf_printf(reply, "error bad request");
                return;
        }
        m = msg_find(q, id);
        if (m && strcmp(cmd, "release") != 0) {
                m->after =
                    strcmp(cmd, "hold") == 0 ? QAFTER_HOLD : QAFTER_DELETE;
                strbuf_printf(reply,
                              "ok %s: %s after the delivery attempt "
                              "in progress",
                              id, cmd);
                return;
        }
        if (queue_find(q->queue, id, &st, &err) < 0) {
                strbuf_printf(reply, "error %s: no such message", id);
                return;
        }
        int rc = 0;
        if (strcmp(cmd, "hold") == 0) {
                if (st != QUEUE_HOLD)
                        rc = queue_move(q->queue, id, st, QUEUE_HOLD, &err);
                if (rc == 0)
                        log_info("%s: placed on hold", id);
        } else if (strcmp(cmd, "release") == 0) {
                if (st == QUEUE_HOLD)
                        rc = queue_move(q->queue, id, st, QUEUE_READY, &err);
                if (rc == 0 && st == QUEUE_HOLD) {
                        log_info("%s: released from hold", id);
                        event_timer_add(q->t_ready, 0);
                }
        } else if (strcmp(cmd, "delete") == 0) {
                rc = queue_delete(q->queue, st, id, &err);
                if (rc == 0)
                        log_info("%s: removed", id);
        } else {
                strbuf_printf(reply, "error unknown request %s", cmd);
                return;
        }
        if (rc < 0)
                strbuf_printf(reply, "error %s: %s", id, err);
        else
                strbuf_printf(reply, "ok %s", id);
}

/* on_notify - datagrams: "R" wake-ups from writers, requests from
 * postern queue */
static void on_notify(int fd, int what, void *arg)
{
        struct qmgr *q = arg;
        bool kick = false;

        (void)what;
        for (;;) {
                char buf[256];
                struct sockaddr_un from;
                socklen_t flen = sizeof(from);
                ssize_t n = recvfrom(fd, buf, sizeof(buf) - 1, 0,
                                     (struct sockaddr *)&from, &flen);
                if (n < 0)
                        break;
                buf[n] = 0;
                if (n <= 1) {
                        kick = true;
                        continue;
                }
                char *sp = strchr(buf, ' ');
                if (sp)
                        *sp++ = 0;
                struct strbuf reply;
                strbuf_init(&reply);
                request(q, buf, sp, &reply);
                if (flen > sizeof(sa_family_t))
                        (void)sendto(fd, reply.s, reply.len, MSG_DONTWAIT,
                                     (struct sockaddr *)&from, flen);
                strbuf_clear(&reply);
        }
        if (kick)
                event_timer_add(q->t_ready, 0);
        event_io_want(q->nio, true, false, 0); /* watchers are one-shot */
}

/* on_term - stop the loop; unfinished attempts are retried later */
static void on_term(void *arg)
{
        struct qmgr *q = arg;

        log_info("terminating on signal");
        event_loop_exit(q->loop);
}

/* start_lmtp - the LMTP client; without a resolver it still reaches
 * unix-domain sockets and address literals, and host names through
 * getaddrinfo (LMTP has no MX lookups) */
static void start_lmtp(struct qmgr *q)
{
        char *err = NULL;

        if (smtp_client_new_lmtp(q->loop, q->conf, q->dns, &q->lmtp, &err) <
            0) {
                log_warnx("lmtp client: %s", err);
                q->lmtp_err = xasprintf("lmtp client unavailable: %s", err);
                free(err);
        }
}

/* start_smtp - the resolver and the SMTP client; without them only
 * SMTP deliveries wait (deferred with the reason) */
static void start_smtp(struct qmgr *q)
{
        const struct conf *c = q->conf;
        struct dns_settings ds = {
            .resolvers = c->dns_resolver_addresses,
            .trust_anchor_file = c->dnssec_trust_anchor_file,
            .dnssec = strcmp(c->smtp_dns_support_level, "dnssec") == 0,
        };
        char *err = NULL;

        if (access(ds.trust_anchor_file, R_OK) < 0)
                ds.trust_anchor_file = "";
        if (dns_resolver_new(q->loop, &ds, &q->dns, &err) < 0) {
                log_warnx("dns resolver: %s", err);
                q->smtp_err = xasprintf("dns resolver unavailable: %s", err);
                free(err);
                return;
        }
        if (smtp_client_new(q->loop, c, q->dns, &q->smtp, &err) < 0) {
                log_warnx("smtp client: %s", err);
                q->smtp_err = xasprintf("smtp client unavailable: %s", err);
                free(err);
        }
}

/* start_transports - master.cf's transports; one with a configuration
 * of its own (-o overrides) gets its own SMTP or LMTP client, logged
 * under its own syslog_name when it has one.  Without a resolver, its
 * client still reaches [address] next hops, which is what a content
 * filter on the loopback is */
static void start_transports(struct qmgr *q)
{
        for (size_t i = 0; i < q->ndefs; i++) {
                const struct qmgr_transport_def *d = &q->defs[i];
                struct qtransport *tr = transport_get(q, d->name, d->kind);
                bool lmtp = d->kind == QMGR_T_LMTP;
                char *ident = NULL, *err = NULL;

                tr->limit = d->maxproc;
                if (d->conf == NULL ||
                    (d->kind != QMGR_T_SMTP && d->kind != QMGR_T_LMTP))
                        continue;
                tr->conf = d->conf;
                tr->client = NULL;
                free(tr->err);
                tr->err = NULL;
                if (strcmp(d->conf->syslog_name, q->conf->syslog_name) != 0)
                        ident = xasprintf("%s/%s", d->conf->syslog_name,
                                          lmtp ? "lmtp" : "smtp");
                if (smtp_client_new_as(q->loop, d->conf, q->dns, lmtp, ident,
                                       &tr->client, &err) < 0) {
                        log_warnx("transport %s: %s client: %s", d->name,
                                  lmtp ? "lmtp" : "smtp", err);
                        tr->err = xasprintf("%s client unavailable: %s",
                                            lmtp ? "lmtp" : "smtp", err);
                        free(err);
                } else {
                        tr->own_client = true;
                }
                free(ident);
        }
}

/* active_setup - the active limit (qmgr_message_active_limit, at most
 * half the descriptor limit: every active message holds its file open),
 * its low-water mark and the hash of active messages */
static void active_setup(struct qmgr *q)
{
        long long want = q->conf->qmgr_message_active_limit;
        size_t lim = want > 0 ? (size_t)want : 1;
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
            rl.rlim_cur != RLIM_INFINITY && lim > rl.rlim_cur / 2) {
                size_t fd_lim = rl.rlim_cur / 2 > 0 ? rl.rlim_cur / 2 : 1;
                log_debug("qmgr_message_active_limit %lld: only %zu messages "
                          "fit half of the open files limit %llu",
                          want, fd_lim, (unsigned long long)rl.rlim_cur);
                lim = fd_lim;
        }
        q->active_limit = lim;
        q->active_low = lim - lim / 4;
        q->hmask = 63;
        while (q->hmask < lim && q->hmask < (1u << 20) - 1)
                q->hmask = q->hmask * 2 + 1;
        q->htab = xcalloc(q->hmask + 1, sizeof(*q->htab));
}

/* alias_open - alias_maps; a table that does not open is a warning here
 * (qmgr_aliases_new decides what it means for delivery) */
static int alias_open(struct qmgr *q)
{
        char *warn = NULL;

        (void)qmgr_aliases_new(q->conf, q->routes, &q->aliases, &warn);
        if (warn) {
                log_warnx("%s", warn);
                free(warn);
        }
        return 0;
}

/* qmgr_new - what needs privileges */
int qmgr_new(const struct conf *c, const struct qmgr_transport_def *defs,
             size_t ndefs, uid_t uid, gid_t gid, struct qmgr **out, char **err)
{
        struct qmgr *q = xcalloc(1, sizeof(*q));
        const char *qerr;

        q->conf = c;
        q->defs = defs;
        q->ndefs = defs ? ndefs : 0;
        q->nfd = -1;
        *out = NULL;
        active_setup(q);
        if (queue_open(c->queue_directory, &q->queue, &qerr) < 0 ||
            queue_notify_listen(q->queue, &q->nfd, &qerr) < 0) {
                *err = xasprintf("queue_directory %s: %s", c->queue_directory,
                                 qerr);
                goto bad;
        }
        if (uid != (uid_t)-1) {
                char *sock =
                    xasprintf("%s/%s", c->queue_directory, QUEUE_NOTIFY_SOCKET);
                int rc = chown(sock, uid, gid);
                free(sock);
                if (rc < 0) {
                        *err = xasprintf("chown %s/%s: %s", c->queue_directory,
                                         QUEUE_NOTIFY_SOCKET, strerror(errno));
                        goto bad;
                }
        }
        if (uid != (uid_t)-1) {
                /* postern send and postern queue run by root while no
                 * queue manager ran leave root's files: hand them over */
                static const enum queue_state sts[] = {
                    QUEUE_MAILDROP, QUEUE_READY, QUEUE_DEFERRED, QUEUE_HOLD};
                struct strlist ids = {0};
                for (size_t k = 0; k < ARRAY_SIZE(sts); k++) {
                        if (queue_list(q->queue, sts[k], &ids, &qerr) < 0)
                                continue;
                        for (size_t i = 0; i < ids.n; i++) {
                                struct stat st;
                                char *p = xasprintf(
                                    "%s/%s/%s", c->queue_directory,
                                    queue_state_name(sts[k]), ids.v[i]);
                                if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) &&
                                    st.st_uid != uid && chown(p, uid, gid) < 0)
                                        log_warn("chown %s", p);
                                free(p);
                        }
                        strlist_clear(&ids);
                }
        }
        if (uid != (uid_t)-1 && *c->data_directory) {
                /* local delivery runs unprivileged: its base belongs to
                 * mail_owner */
                char *mail = xasprintf("%s/mail", c->data_directory);
                (void)mkdir(c->data_directory, 0755);
                if ((mkdir(mail, 0700) < 0 && errno != EEXIST) ||
                    chown(mail, uid, gid) < 0)
                        log_warn("local delivery directory %s", mail);
                free(mail);
        }
        if (qmgr_routes_new(c, q->defs, q->ndefs, &q->routes, err) < 0 ||
            alias_open(q) < 0 || local_new(c, &q->local, err) < 0 ||
            smtpd_local_intake(c, &q->milters, &q->nmilters, &q->hbc, err) < 0)
                goto bad;
        /* the SMTP client reads its key now, while still privileged */
        q->loop = event_loop_new();
        if (q->loop == NULL) {
                *err = xasprintf("cannot create the event loop");
                goto bad;
        }
        start_smtp(q);
        start_lmtp(q);
        start_transports(q);
        *out = q;
        return 0;
bad:
        qmgr_free(q);
        return -1;
}

/* qmgr_run - the loop */
int qmgr_run(struct qmgr *q)
{
        q->nio = event_io_new(q->loop, q->nfd, on_notify, q);
        q->t_ready = event_timer_new(q->loop, on_ready, q);
        q->t_deferred = event_timer_new(q->loop, on_deferred, q);
        q->t_pump = event_timer_new(q->loop, on_pump, q);
        q->t_tmp = event_timer_new(q->loop, on_tmp, q);
        q->sig_term = event_signal_new(q->loop, SIGTERM, on_term, q);
        q->sig_int = event_signal_new(q->loop, SIGINT, on_term, q);
        event_io_want(q->nio, true, false, 0);
        event_timer_add(q->t_ready, 0);
        event_timer_add(q->t_deferred, 0);
        event_timer_add(q->t_tmp, QMGR_TMP_SCAN_MS);
        log_info("queue manager started, queue %s", q->conf->queue_directory);
        int rc = event_loop_run(q->loop);
        return rc < 0 ? -1 : 0;
}

/* qmgr_free - release everything; attempts in flight are dropped and
 * their recipients stay pending on disk */
void qmgr_free(struct qmgr *q)
{
        if (q == NULL)
                return;
        for (struct qtransport *t = q->transports; t; t = t->next)
                if (t->own_client)
                        smtp_client_free(t->client);
        smtp_client_free(q->smtp);
        smtp_client_free(q->lmtp);
        dns_resolver_free(q->dns);
        q->more_ready = q->more_deferred = false; /* no more scans */
        while (q->active)
                msg_free(q->active); /* with their jobs */
        while (q->pickups)
                pickup_free(q->pickups); /* left in maildrop/ */
        for (struct pickup_wait *w = q->waits, *wn; w; w = wn) {
                wn = w->next;
                free(w);
        }
        milter_specs_free(q->milters, q->nmilters);
        smtpd_hbc_free(q->hbc);
        free(q->htab);
        for (struct qdest *d = q->dests, *dn; d; d = dn) {
                dn = d->next;
                free(d->key);
                free(d);
        }
        for (struct qtransport *t = q->transports, *tn; t; t = tn) {
                tn = t->next;
                free(t->name);
                free(t->err);
                free(t);
        }
        event_io_free(q->nio);
        event_timer_free(q->t_ready);
        event_timer_free(q->t_deferred);
        event_timer_free(q->t_pump);
        event_timer_free(q->t_tmp);
        event_timer_free(q->sig_term);
        event_timer_free(q->sig_int);
        if (q->loop)
                event_loop_free(q->loop);
        if (q->nfd >= 0)
                close(q->nfd);
        free(q->smtp_err);
        free(q->lmtp_err);
        local_free(q->local);
        qmgr_aliases_free(q->aliases);
        qmgr_routes_free(q->routes);
        queue_close(q->queue);
        free(q);
}

/* qmgr_request - the client side of the request socket */
int qmgr_request(const char *queue_dir, const char *cmd, struct strbuf *reply,
                 bool *running, char **err)
{
        struct sockaddr_un to = {.sun_family = AF_UNIX};
        struct sockaddr_un me = {.sun_family = AF_UNIX};
        int fd;

        *running = false;
        if ((size_t)snprintf(to.sun_path, sizeof(to.sun_path), "%s/%s",
                             queue_dir,
                             QUEUE_NOTIFY_SOCKET) >= sizeof(to.sun_path)) {
                *err = xasprintf("queue directory path too long");
                return -1;
        }
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                *err = xasprintf("socket: %s", strerror(errno));
                return -1;
        }
        /* autobind: an abstract address the queue manager can answer */
        if (bind(fd, (struct sockaddr *)&me, sizeof(sa_family_t)) < 0 ||
            connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0) {
                *err = xasprintf("%s: %s", to.sun_path, strerror(errno));
                close(fd);
                return -1; /* nobody listens: *running stays false */
        }
        *running = true;
        struct timeval tv = {.tv_sec = 30};
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        if (send(fd, cmd, strlen(cmd), 0) < 0) {
                *running = errno != ECONNREFUSED && errno != ENOENT;
                *err =
                    xasprintf("send to %s: %s", to.sun_path, strerror(errno));
                close(fd);
                return -1;
        }
        char buf[512];
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
        if (n < 0) {
                *err = xasprintf("no answer from the queue manager: %s",
                                 strerror(errno));
                close(fd);
                return -1;
        }
        buf[n] = 0;
        strbuf_adds(reply, buf);
        close(fd);
        return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * smtp - the SMTP client: routing to a next hop, the per-destination TLS
 * policy, and one delivery attempt of one message to a batch of its
 * recipients, asynchronously on the caller's event loop.
 *
 * The delivery agent logs each recipient's outcome in Postfix's shape:
 *   QUEUEID: to=<rcpt>, relay=host[addr]:port, delay=1.2,
 *     delays=0.1/0/0.5/0.6, dsn=2.0.0, status=sent (250 2.0.0 Ok ...)
 * and the TLS "... TLS connection established to ..." lines.
 */
#ifndef POSTERN_SMTP_H
#define POSTERN_SMTP_H

#include <stdbool.h>
#include <stddef.h>

#include "base/base.h"

struct conf;
struct event_loop;
struct dns_resolver;
struct queue_file;

/* One recipient of a delivery attempt: filled in by the caller, the
 * outcome by smtp. */
enum smtp_rcpt_status {
        SMTP_RCPT_PENDING, /* not decided (set by the caller) */
        SMTP_RCPT_SENT,    /* accepted by the next hop */
        SMTP_RCPT_DEFER,   /* temporary failure: retry later */
        SMTP_RCPT_BOUNCE,  /* permanent failure: return to sender */
};

struct smtp_rcpt {
        size_t index;             /* recipient number in the queue file */
        enum smtp_rcpt_status status;
        char dsn[16];             /* "2.0.0", "4.4.1", "5.1.1" */
        struct strbuf text;       /* the reply or the reason, for logs and
                                     DSNs: "host mx[1.2.3.4] said: 550 ..." */
};

/* One delivery attempt. */
struct smtp_job {
        struct queue_file *qf;  /* open; envelope and body read from it */
        const char *nexthop;    /* "example.org" (MX lookup), "[host]",
                                   "[host]:port", "host:port" */
        const char *policy_key; /* the TLS policy lookup key: the recipient
                                   domain, or the nexthop as written */
        struct smtp_rcpt *rcpt; /* the batch, all to this nexthop */
        size_t nrcpt;
};

struct smtp_client;

/* smtp_client_new - what every delivery of this process shares: TLS
 * client context, policy tables, DNS, the connection and TLS session
 * caches.  Returns 0, or -1 with *err (caller frees) naming the parameter
 * or file at fault. */
int smtp_client_new(struct event_loop *, const struct conf *,
                    struct dns_resolver *, struct smtp_client **out,
                    char **err);
/* smtp_client_free - closes cached connections (QUIT).  NULL ok. */
void smtp_client_free(struct smtp_client *);

/* smtp_deliver - start one attempt; done(arg, job) runs on the loop when
 * every recipient of the job has a status (never synchronously from
 * within smtp_deliver).  The job and everything it points to must live
 * until done.  Returns 0, or -1 when it could not start (no callback). */
int smtp_deliver(struct smtp_client *, struct smtp_job *,
                 void (*done)(void *arg, struct smtp_job *), void *arg);

#endif

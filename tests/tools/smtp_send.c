/* SPDX-License-Identifier: MIT */
/*
 * smtp_send - a test-only driver of the SMTP client: it enqueues one
 * message with src/queue (the body from a file, LF or CR LF line ends),
 * then runs smtp_deliver on an event loop to one next hop, and prints
 * each recipient's outcome as "rcpt=<ADDR> status=STATUS dsn=X.Y.Z
 * text=TEXT".  Log lines (the Postfix-shaped "to=<...>, relay=..." and the
 * TLS lines) go to stderr.
 *
 *   smtp_send -c CONFDIR -q QUEUEDIR [-o name=value]... [-f SENDER]
 *             [-m MSGFILE] [-k POLICYKEY] [-n COUNT] [-8] [-u] [-v]
 *             [-E ENVID] [-N NOTIFY] [-R RET] [-D STUBS] NEXTHOP RCPT...
 *
 * -n COUNT delivers the same message COUNT times in a row through one
 * client (connection reuse); several -k options are used in turn, one
 * per round; -8 marks the body 8BITMIME, -u SMTPUTF8.
 * -X MARKER corrupts the queued body after commit (the first byte of
 * MARKER in the file is changed), so the body checksum fails at the end.
 * -D "zone@host@port,..." makes a DNS resolver (src/dns) that asks those
 * test servers, without DNSSEC, so MX routing runs; without -D only
 * bracketed next hops work (getaddrinfo).
 * Exit status: 0 when every attempt completed (whatever the statuses).
 */
#include "conf/conf.h"
#include "dns/dns.h"
#include "event/event.h"
#include "log/log.h"
#include "queue/queue.h"
#include "smtp/smtp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct run {
        struct event_loop *loop;
        struct smtp_client *client;
        struct queue_file *qf;
        const char *nexthop;
        struct strlist keys; /* -k, one per round, cycling */
        long round;
        size_t nrcpt;
        long left;
        struct smtp_job job;
        int failed;
};

static void start(struct run *r);

/* usage - print the synopsis and exit */
static void usage(void)
{
        fprintf(stderr,
                "usage: smtp_send -c CONFDIR -q QUEUEDIR [-o name=value] "
                "[-f SENDER] [-m MSGFILE] [-k POLICYKEY] [-n COUNT] [-8] "
                "[-u] [-v] [-E ENVID] [-N NOTIFY] [-R RET] [-D STUBS] NEXTHOP "
                "RCPT...\n");
        exit(2);
}

/* status_name - the printed status word */
static const char *status_name(enum smtp_rcpt_status s)
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

/* on_done - print the outcome, then the next round or the end */
static void on_done(void *arg, struct smtp_job *job)
{
        struct run *r = arg;
        const struct queue_env *env = queue_file_env(r->qf);

        for (size_t i = 0; i < job->nrcpt; i++) {
                struct smtp_rcpt *rc = &job->rcpt[i];
                printf("rcpt=<%s> status=%s dsn=%s text=%s\n",
                       env->rcpt[rc->index].addr, status_name(rc->status),
                       rc->dsn, strbuf_cstr(&rc->text));
                strbuf_clear(&rc->text);
        }
        fflush(stdout);
        free(job->rcpt);
        job->rcpt = NULL;
        if (--r->left > 0) {
                start(r);
                return;
        }
        smtp_client_free(r->client);
        r->client = NULL;
        event_loop_exit(r->loop);
}

/* start - one delivery attempt of every recipient */
static void start(struct run *r)
{
        r->job = (struct smtp_job){
            .qf = r->qf,
            .nexthop = r->nexthop,
            .policy_key = r->keys.n ? r->keys.v[r->round % r->keys.n] : NULL,
            .nrcpt = r->nrcpt,
        };
        r->job.rcpt = xcalloc(r->nrcpt, sizeof(*r->job.rcpt));
        for (size_t i = 0; i < r->nrcpt; i++) {
                r->job.rcpt[i].index = i;
                strbuf_init(&r->job.rcpt[i].text);
        }
        r->round++;
        if (smtp_deliver(r->client, &r->job, on_done, r) < 0) {
                fprintf(stderr, "smtp_send: smtp_deliver failed\n");
                exit(1);
        }
}

/* read_file - the whole file, LF line ends turned into CR LF */
static void read_message(const char *path, struct strbuf *out)
{
        FILE *f = path ? fopen(path, "rb") : NULL;
        int ch, prev = 0;

        if (path == NULL) {
                strbuf_adds(out, "Subject: test\r\nFrom: <sender@example.org>"
                                 "\r\n\r\nHello.\r\n.leading dot\r\n");
                return;
        }
        if (f == NULL) {
                perror(path);
                exit(1);
        }
        while ((ch = getc(f)) != EOF) {
                if (ch == '\n' && prev != '\r')
                        strbuf_addc(out, '\r');
                strbuf_addc(out, (char)ch);
                prev = ch;
        }
        fclose(f);
}

/* corrupt_body - change the first byte of marker inside the queue file */
static int corrupt_body(const char *qdir, const char *id, const char *marker)
{
        char *path = xasprintf("%s/ready/%s", qdir, id);
        struct strbuf buf;
        FILE *f = fopen(path, "r+b");
        int ch, rc = -1;

        strbuf_init(&buf);
        if (f == NULL) {
                perror(path);
                free(path);
                return -1;
        }
        while ((ch = getc(f)) != EOF)
                strbuf_addc(&buf, (char)ch);
        const char *hit =
            buf.len ? memmem(buf.s, buf.len, marker, strlen(marker)) : NULL;
        if (hit && fseek(f, (long)(hit - buf.s), SEEK_SET) == 0 &&
            putc(*hit == 'X' ? 'Y' : 'X', f) != EOF)
                rc = 0;
        if (fclose(f) != 0)
                rc = -1;
        if (rc < 0)
                fprintf(stderr, "smtp_send: cannot corrupt %s\n", path);
        free(path);
        strbuf_clear(&buf);
        return rc;
}

int main(int argc, char **argv)
{
        const char *confdir = NULL, *qdir = NULL,
                   *sender = "sender@example.org";
        const char *msgfile = NULL, *envid = NULL, *notify = NULL, *ret = NULL;
        const char *stubs = NULL, *corrupt = NULL;
        struct dns_resolver *dns = NULL;
        struct strlist overrides = {0};
        struct run r = {0};
        bool eightbit = false, utf8 = false;
        int ch, verbose = 0;

        r.left = 1;
        while ((ch = getopt(argc, argv, "c:q:o:f:m:k:n:8uvE:N:R:D:X:")) != -1) {
                switch (ch) {
                case 'c':
                        confdir = optarg;
                        break;
                case 'q':
                        qdir = optarg;
                        break;
                case 'o':
                        strlist_push(&overrides, optarg);
                        break;
                case 'f':
                        sender = optarg;
                        break;
                case 'm':
                        msgfile = optarg;
                        break;
                case 'k':
                        strlist_push(&r.keys, optarg);
                        break;
                case 'n':
                        r.left = atol(optarg);
                        break;
                case '8':
                        eightbit = true;
                        break;
                case 'u':
                        utf8 = true;
                        break;
                case 'v':
                        verbose++;
                        break;
                case 'E':
                        envid = optarg;
                        break;
                case 'N':
                        notify = optarg;
                        break;
                case 'R':
                        ret = optarg;
                        break;
                case 'D':
                        stubs = optarg;
                        break;
                case 'X':
                        corrupt = optarg;
                        break;
                default:
                        usage();
                }
        }
        argc -= optind;
        argv += optind;
        if (confdir == NULL || qdir == NULL || argc < 2 || r.left < 1)
                usage();
        r.nexthop = argv[0];

        log_init("smtp");
        log_set_verbose(verbose);
        struct conf *conf = NULL;
        char *err = NULL;
        if (conf_load(confdir, &overrides, &conf, &err) < 0) {
                fprintf(stderr, "smtp_send: %s\n", err);
                return 1;
        }

        /* Enqueue the message. */
        const char *errstr = NULL;
        struct queue *q = NULL;
        struct queue_msg *m = NULL;
        const char *id = NULL;
        if (queue_init(qdir, &errstr) < 0 ||
            queue_open(qdir, &q, &errstr) < 0 ||
            queue_msg_new(q, &m, &errstr) < 0) {
                fprintf(stderr, "smtp_send: queue: %s\n", errstr);
                return 1;
        }
        struct strbuf body;
        strbuf_init(&body);
        read_message(msgfile, &body);
        struct queue_env env;
        queue_env_init(&env);
        env.sender = xstrdup(sender);
        env.body = eightbit ? QUEUE_BODY_8BITMIME : QUEUE_BODY_NONE;
        env.smtputf8 = utf8;
        if (envid)
                env.envid = xstrdup(envid);
        if (ret)
                env.ret =
                    strcmp(ret, "HDRS") == 0 ? QUEUE_RET_HDRS : QUEUE_RET_FULL;
        unsigned nf = 0;
        if (notify) {
                if (strstr(notify, "NEVER"))
                        nf |= QUEUE_NOTIFY_NEVER;
                if (strstr(notify, "SUCCESS"))
                        nf |= QUEUE_NOTIFY_SUCCESS;
                if (strstr(notify, "FAILURE"))
                        nf |= QUEUE_NOTIFY_FAILURE;
                if (strstr(notify, "DELAY"))
                        nf |= QUEUE_NOTIFY_DELAY;
        }
        for (int i = 1; i < argc; i++)
                queue_env_add_rcpt(&env, argv[i], NULL, nf);
        if (queue_msg_write(m, body.s, body.len, &errstr) < 0 ||
            queue_msg_finish(m, &env, &id, &errstr) < 0 ||
            queue_commit(q, &m, 1, &errstr) < 0) {
                fprintf(stderr, "smtp_send: queue: %s\n", errstr);
                return 1;
        }
        char *qid = xstrdup(id);
        queue_msg_free(m);
        queue_env_clear(&env);
        strbuf_clear(&body);
        if (corrupt && corrupt_body(qdir, qid, corrupt) < 0)
                return 1;
        if (queue_file_open(q, QUEUE_READY, qid, 0, &r.qf, &errstr) < 0) {
                fprintf(stderr, "smtp_send: %s\n", errstr);
                return 1;
        }
        printf("queued %s\n", qid);
        fflush(stdout);
        r.nrcpt = (size_t)(argc - 1);

        r.loop = event_loop_new();
        if (r.loop == NULL) {
                fprintf(stderr, "smtp_send: no event loop\n");
                return 1;
        }
        if (stubs) {
                /* with smtp_dns_support_level = dnssec, validate from
                 * dnssec_trust_anchor_file, as the daemon does */
                bool dnssec =
                    strcmp(conf->smtp_dns_support_level, "dnssec") == 0;
                struct dns_settings ds = {
                    .resolvers = "",
                    .trust_anchor_file =
                        dnssec ? conf->dnssec_trust_anchor_file : "",
                    .dnssec = dnssec,
                    .timeout_ms = 10000,
                    .stub = stubs};
                if (dns_resolver_new(r.loop, &ds, &dns, &err) < 0) {
                        fprintf(stderr, "smtp_send: dns: %s\n", err);
                        return 1;
                }
        }
        if (smtp_client_new(r.loop, conf, dns, &r.client, &err) < 0) {
                fprintf(stderr, "smtp_send: %s\n", err);
                return 1;
        }
        start(&r);
        event_loop_run(r.loop);
        smtp_client_free(r.client);
        dns_resolver_free(dns);
        event_loop_free(r.loop);
        queue_file_close(r.qf);
        queue_close(q);
        conf_free(conf);
        strlist_clear(&overrides);
        strlist_clear(&r.keys);
        free(qid);
        return r.failed;
}

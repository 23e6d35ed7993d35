/* SPDX-License-Identifier: MIT */
/*
 * cmd_queue.c - postern queue: list, flush, hold, release, delete, show
 * (postqueue -p / -f, postsuper -h / -H / -d, postcat -q).
 *
 * The queue manager is the only process that changes committed files.
 * Commands that change a message's state are therefore sent to it over
 * its socket (qmgr_request); it applies them at once, or after the
 * delivery attempt in progress for that message.  Only when no queue
 * manager listens does this command move or delete the files itself.
 */
#include "cli/cli.h"
#include "conf/conf.h"
#include "qmgr/qmgr.h"
#include "queue/queue.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char queue_usage[] =
    "postern queue [-c DIR] [-o name=value] "
    "[list | flush | show ID | hold ID|ALL | release ID|ALL | delete ID|ALL]";

static const char queue_help[] =
    "Inspect and steer the mail queue.\n"
    "\n"
    "  list              the queue, as postqueue -p prints it (default);\n"
    "                    '*' marks a message ready for delivery, '!' one\n"
    "                    on hold; deferred recipients show their reason\n"
    "  flush             retry every deferred message now (postqueue -f)\n"
    "  show ID           envelope and message (postcat -q)\n"
    "  hold ID|ALL       put messages on hold (postsuper -h)\n"
    "  release ID|ALL    release held messages (postsuper -H)\n"
    "  delete ID|ALL     delete messages (postsuper -d)\n"
    "\n"
    "hold, release, delete and flush are carried out by the running queue\n"
    "manager; when the mail system is stopped, on the files directly.\n";

/* print_time - arrival time as postqueue shows it */
static void fmt_time(long long t, char *buf, size_t len)
{
        time_t tt = (time_t)t;
        struct tm tm;

        localtime_r(&tt, &tm);
        strftime(buf, len, "%a %b %e %H:%M:%S", &tm);
}

/* list_state - one state directory of the listing */
static void list_state(struct queue *q, enum queue_state st, char mark,
                       unsigned long long *bytes, size_t *count)
{
        struct strlist ids = {0};
        const char *err;

        if (queue_list(q, st, &ids, &err) < 0) {
                fprintf(stderr, "postern queue: %s: %s\n", queue_state_name(st),
                        err);
                return;
        }
        for (size_t i = 0; i < ids.n; i++) {
                struct queue_file *qf;
                if (queue_file_open(q, st, ids.v[i], 0, &qf, &err) < 0)
                        continue; /* delivered meanwhile, or unreadable */
                const struct queue_env *env = queue_file_env(qf);
                char when[64];
                fmt_time(env->arrival, when, sizeof(when));
                if (*count == 0)
                        printf("-Queue ID-        --Size-- "
                               "----Arrival Time---- "
                               "-Sender/Recipient-------\n");
                printf("%-17s%c%8llu %-20s %s\n", ids.v[i], mark,
                       (unsigned long long)env->size, when,
                       env->sender && *env->sender ? env->sender
                                                   : "MAILER-DAEMON");
                for (size_t r = 0; r < env->nrcpt; r++) {
                        const struct queue_rcpt *rc = &env->rcpt[r];
                        if (rc->state == QUEUE_RCPT_DELIVERED ||
                            rc->state == QUEUE_RCPT_FAILED)
                                continue;
                        if (rc->reason)
                                printf("%*s(%s)\n", 8, "", rc->reason);
                        printf("%*s%s\n", 48, "", rc->addr);
                }
                printf("\n");
                *bytes += env->size;
                (*count)++;
                queue_file_close(qf);
        }
        strlist_clear(&ids);
}

/* do_list - postqueue -p */
static int do_list(struct queue *q)
{
        unsigned long long bytes = 0;
        size_t n = 0;

        list_state(q, QUEUE_MAILDROP, ' ', &bytes, &n);
        list_state(q, QUEUE_READY, '*', &bytes, &n);
        list_state(q, QUEUE_DEFERRED, ' ', &bytes, &n);
        list_state(q, QUEUE_HOLD, '!', &bytes, &n);
        if (n == 0)
                printf("Mail queue is empty\n");
        else
                printf("-- %llu Kbytes in %zu Request%s.\n",
                       (bytes + 1023) / 1024, n, n == 1 ? "" : "s");
        return 0;
}

/* do_show - postcat -q */
static int do_show(struct queue *q, const char *id)
{
        enum queue_state st;
        struct queue_file *qf;
        const char *err;
        char buf[65536], when[64];
        size_t got;

        if (!queue_id_valid(id) || queue_find(q, id, &st, &err) < 0) {
                fprintf(stderr, "postern queue: %s: no such message\n", id);
                return 1;
        }
        if (queue_file_open(q, st, id, 0, &qf, &err) < 0) {
                fprintf(stderr, "postern queue: %s\n", err);
                return 1;
        }
        const struct queue_env *env = queue_file_env(qf);
        fmt_time(env->arrival, when, sizeof(when));
        printf("*** ENVELOPE RECORDS %s/%s ***\n", queue_state_name(st), id);
        printf("message_size: %llu\n", (unsigned long long)env->size);
        printf("message_arrival_time: %s\n", when);
        printf("sender: %s\n", env->sender ? env->sender : "");
        if (env->envid)
                printf("envid: %s\n", env->envid);
        printf("delivery_attempts: %u\n", env->attempts);
        if (env->filter) /* postcat's words for it */
                printf("content_filter: %s\n", env->filter);
        if (env->client_addr)
                printf("client: %s[%s]:%u\n",
                       env->client_name ? env->client_name : "unknown",
                       env->client_addr, env->client_port);
        if (env->tls.protocol)
                printf("tls: %s with cipher %s (%d/%d bits), %s\n",
                       env->tls.protocol,
                       env->tls.cipher ? env->tls.cipher : "?", env->tls.bits,
                       env->tls.alg_bits,
                       env->tls.trust ? env->tls.trust : "?");
        if (env->tls.peer_fingerprint)
                printf("tls_client_fingerprint: %s\n",
                       env->tls.peer_fingerprint);
        for (size_t r = 0; r < env->nrcpt; r++) {
                const struct queue_rcpt *rc = &env->rcpt[r];
                printf("recipient: %s (%s%s%s)\n", rc->addr,
                       queue_rcpt_state_name(rc->state), rc->reason ? ": " : "",
                       rc->reason ? rc->reason : "");
        }
        printf("*** MESSAGE CONTENTS %s/%s ***\n", queue_state_name(st), id);
        for (;;) {
                if (queue_file_read_body(qf, buf, sizeof(buf), &got, &err) <
                    0) {
                        fprintf(stderr, "postern queue: %s\n", err);
                        queue_file_close(qf);
                        return 1;
                }
                if (got == 0)
                        break;
                for (size_t i = 0; i < got; i++)
                        if (buf[i] != '\r')
                                putchar(buf[i]);
        }
        printf("*** END OF MESSAGE ***\n");
        queue_file_close(qf);
        return 0;
}

/* direct - what the queue manager would do, on the files (it is not
 * running) */
static int direct(struct queue *q, const char *cmd, const char *id,
                  const char **err)
{
        enum queue_state st;

        if (queue_find(q, id, &st, err) < 0)
                return -1;
        if (strcmp(cmd, "hold") == 0)
                return st == QUEUE_HOLD
                           ? 0
                           : queue_move(q, id, st, QUEUE_HOLD, err);
        if (strcmp(cmd, "release") == 0)
                return st != QUEUE_HOLD
                           ? 0
                           : queue_move(q, id, st, QUEUE_READY, err);
        return queue_delete(q, st, id, err);
}

/* do_change - hold / release / delete of one ID or ALL */
static int do_change(struct queue *q, const struct conf *c, const char *cmd,
                     const char *arg)
{
        struct strlist ids = {0};
        const char *err;
        size_t done = 0;
        int rc = 0;

        if (strcmp(arg, "ALL") == 0) {
                static const enum queue_state from_hold[] = {QUEUE_HOLD};
                static const enum queue_state from_any[] = {
                    QUEUE_MAILDROP, QUEUE_READY, QUEUE_DEFERRED, QUEUE_HOLD};
                bool release = strcmp(cmd, "release") == 0;
                const enum queue_state *v = release ? from_hold : from_any;
                size_t n = release ? 1 : ARRAY_SIZE(from_any);
                for (size_t i = 0; i < n; i++)
                        if (queue_list(q, v[i], &ids, &err) < 0)
                                fprintf(stderr, "postern queue: %s\n", err);
        } else if (!queue_id_valid(arg)) {
                fprintf(stderr, "postern queue: %s: not a queue ID\n", arg);
                return 1;
        } else {
                strlist_push(&ids, arg);
        }
        for (size_t i = 0; i < ids.n; i++) {
                char *req = xasprintf("%s %s", cmd, ids.v[i]);
                struct strbuf reply;
                bool running;
                char *rerr = NULL;
                strbuf_init(&reply);
                if (qmgr_request(c->queue_directory, req, &reply, &running,
                                 &rerr) == 0) {
                        if (str_has_prefix(strbuf_cstr(&reply), "ok"))
                                done++;
                        else {
                                fprintf(stderr, "postern queue: %s\n",
                                        strbuf_cstr(&reply) + 6);
                                rc = 1;
                        }
                } else if (running) {
                        fprintf(stderr, "postern queue: %s\n", rerr);
                        rc = 1;
                } else if (direct(q, cmd, ids.v[i], &err) == 0) {
                        done++;
                } else {
                        fprintf(stderr, "postern queue: %s: %s\n", ids.v[i],
                                err);
                        rc = 1;
                }
                free(rerr);
                free(req);
                strbuf_clear(&reply);
        }
        printf("postern queue: %s: %zu message%s\n",
               strcmp(cmd, "hold") == 0      ? "Placed on hold"
               : strcmp(cmd, "release") == 0 ? "Released from hold"
                                             : "Deleted",
               done, done == 1 ? "" : "s");
        strlist_clear(&ids);
        return rc;
}

/* do_flush - postqueue -f */
static int do_flush(struct queue *q, const struct conf *c)
{
        struct strbuf reply;
        bool running;
        char *rerr = NULL;
        int rc = 0;

        strbuf_init(&reply);
        if (qmgr_request(c->queue_directory, "flush", &reply, &running,
                         &rerr) == 0) {
                /* nothing to print, as postqueue -f */
        } else if (running) {
                fprintf(stderr, "postern queue: %s\n", rerr);
                rc = 1;
        } else {
                struct strlist ids = {0};
                const char *err;
                if (queue_list(q, QUEUE_DEFERRED, &ids, &err) == 0)
                        for (size_t i = 0; i < ids.n; i++)
                                (void)queue_move(q, ids.v[i], QUEUE_DEFERRED,
                                                 QUEUE_READY, &err);
                strlist_clear(&ids);
        }
        free(rerr);
        strbuf_clear(&reply);
        return rc;
}

/* cmd_queue - the subcommand */
int cmd_queue(int argc, char **argv)
{
        struct cli_common common;
        struct conf *c = NULL;
        struct queue *q = NULL;
        const char *qerr;
        char *err = NULL;
        int ch, bad = 0, rc = 1;

        if (cli_wants_help(argc, argv)) {
                printf("usage: %s\n\n%s", queue_usage, queue_help);
                return 0;
        }
        cli_common_init(&common);
        optind = 1;
        while ((ch = getopt(argc, argv, "+c:o:")) != -1) {
                if (cli_common_opt(&common, ch, optarg, &bad) == 0)
                        continue;
                cli_common_clear(&common);
                return cli_usage("queue", queue_usage,
                                 bad ? NULL : "bad option");
        }
        const char *sub = optind < argc ? argv[optind++] : "list";
        const char *arg = optind < argc ? argv[optind++] : NULL;
        bool needs_arg = strcmp(sub, "show") == 0 || strcmp(sub, "hold") == 0 ||
                         strcmp(sub, "release") == 0 ||
                         strcmp(sub, "delete") == 0;
        if ((needs_arg && arg == NULL) || (!needs_arg && arg != NULL) ||
            optind < argc ||
            (!needs_arg && strcmp(sub, "list") && strcmp(sub, "flush"))) {
                cli_common_clear(&common);
                return cli_usage("queue", queue_usage, "bad arguments");
        }
        if (conf_load(common.config_dir, &common.overrides, &c, &err) < 0) {
                fprintf(stderr, "postern queue: %s\n", err);
                free(err);
                goto out;
        }
        if (queue_open(c->queue_directory, &q, &qerr) < 0) {
                fprintf(stderr, "postern queue: %s\n", qerr);
                goto out;
        }
        if (strcmp(sub, "list") == 0)
                rc = do_list(q);
        else if (strcmp(sub, "show") == 0)
                rc = do_show(q, arg);
        else if (strcmp(sub, "flush") == 0)
                rc = do_flush(q, c);
        else
                rc = do_change(q, c, sub, arg);
out:
        queue_close(q);
        conf_free(c);
        cli_common_clear(&common);
        return rc;
}

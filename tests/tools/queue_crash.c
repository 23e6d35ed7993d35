/* SPDX-License-Identifier: MIT */
/*
 * queue_crash - a test-only driver for tests/integration/test_queue_crash.py,
 * which kills it with SIGKILL at random moments.
 *
 *   queue_crash init DIR         create the queue directory.
 *   queue_crash write DIR SEED   commit messages forever; print a line
 *                                only after the step it names returned:
 *                                "C ID" committed (queue_commit returned),
 *                                "U ID" recipient 0 delivered (sync
 *                                returned), "K ID" recipient 1 deferred
 *                                and the file compacted, "M ID" moved to
 *                                deferred/.
 *   queue_crash verify DIR       read every committed file with the
 *                                reader, check its body against the
 *                                content derived from its ID; print
 *                                "ok STATE ID R0STATE R1STATE ATTEMPTS"
 *                                per file
 *                                or "BAD ..." and exit 1.
 *   queue_crash clean DIR        remove every tmp/ file; print "cleaned N".
 *
 * The body of a message is a function of its ID (queue_crash_body), so a
 * checker knows what each file must hold.  The Python test implements the
 * same function.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "queue/queue.h"

/* body_size - the body length for an ID: mostly small, some large */
static size_t body_size(const char *id)
{
        uint32_t h = queue_crc32(0, id, strlen(id));

        if (h % 8 == 0)
                return 65536 + h % 250000; /* several write buffers */
        return h % 4000;
}

/* body_make - the body for an ID: a Subject line, then numbered lines,
 * cut at body_size */
static void body_make(const char *id, struct strbuf *sb)
{
        size_t size = body_size(id);

        strbuf_printf(sb, "Subject: %s\r\n\r\n", id);
        for (unsigned k = 0; sb->len < size; k++)
                strbuf_printf(
                    sb, "%s %08u %.*s\r\n", id, k, (int)(k % 50),
                    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
        sb->len = size;
        if (sb->s != NULL)
                sb->s[size] = 0;
}

/* rnd - a small PRNG (xorshift) so runs are reproducible per seed */
static uint32_t rnd(uint32_t *s)
{
        *s ^= *s << 13;
        *s ^= *s >> 17;
        *s ^= *s << 5;
        return *s;
}

/* die - report and exit */
static int die(const char *what, const char *err)
{
        fprintf(stderr, "queue_crash: %s: %s\n", what, err);
        return 2;
}

/* do_write - the endless commit loop */
static int do_write(const char *dir, uint32_t seed)
{
        struct queue *q;
        const char *err;
        size_t removed;

        if (queue_init(dir, &err) < 0 || queue_open(dir, &q, &err) < 0)
                return die("open", err);
        /* As the supervisor does before any worker runs. */
        if (queue_clean_tmp(q, 0, &removed, &err) < 0)
                return die("clean", err);
        seed |= 1;
        for (;;) {
                struct queue_msg *batch[8];
                size_t n = 1 + rnd(&seed) % 8, ok = 0;
                for (size_t i = 0; i < n; i++) {
                        struct queue_msg *m;
                        struct queue_env env;
                        struct strbuf body;
                        if (queue_msg_new(q, &m, &err) < 0)
                                return die("new", err);
                        const char *id = queue_msg_id(m);
                        strbuf_init(&body);
                        body_make(id, &body);
                        for (size_t off = 0; off < body.len;) {
                                size_t c = 1 + rnd(&seed) % 9000;
                                if (c > body.len - off)
                                        c = body.len - off;
                                if (queue_msg_write(m, body.s + off, c, &err) <
                                    0)
                                        return die("write", err);
                                off += c;
                        }
                        strbuf_clear(&body);
                        if (rnd(&seed) % 10 == 0) {
                                queue_msg_abort(m); /* a client gone mid-DATA */
                                continue;
                        }
                        queue_env_init(&env);
                        env.sender = xasprintf("sender-%s@example.org", id);
                        char *rcpt = xasprintf("rcpt-%s@example.net", id);
                        queue_env_add_rcpt(&env, rcpt, NULL, 0);
                        queue_env_add_rcpt(&env, "second@example.net", NULL, 0);
                        free(rcpt);
                        if (queue_msg_finish(m, &env, NULL, &err) < 0)
                                return die("finish", err);
                        queue_env_clear(&env);
                        batch[ok++] = m;
                }
                if (ok == 0)
                        continue;
                if (queue_commit(q, batch, ok, &err) < 0)
                        return die("commit", err);
                for (size_t i = 0; i < ok; i++)
                        printf("C %s\n", queue_msg_id(batch[i]));
                fflush(stdout);
                queue_notify(q);

                /* A state change on one message of the batch. */
                char id[QUEUE_ID_SIZE];
                snprintf(id, sizeof(id), "%s",
                         queue_msg_id(batch[rnd(&seed) % ok]));
                for (size_t i = 0; i < ok; i++)
                        queue_msg_free(batch[i]);
                uint32_t what = rnd(&seed) % 5;
                if (what == 0) {
                        struct queue_file *f;
                        if (queue_file_open(q, QUEUE_READY, id, QUEUE_OPEN_RDWR,
                                            &f, &err) < 0 ||
                            queue_file_set_rcpt(f, 0, QUEUE_RCPT_DELIVERED,
                                                "250 2.0.0 Ok", 0, &err) < 0 ||
                            queue_file_set_attempts(f, 1, 0, &err) < 0 ||
                            queue_file_sync(f, &err) < 0)
                                return die("update", err);
                        queue_file_close(f);
                        printf("U %s\n", id);
                        fflush(stdout);
                } else if (what == 2) {
                        struct queue_file *f;
                        if (queue_file_open(q, QUEUE_READY, id, QUEUE_OPEN_RDWR,
                                            &f, &err) < 0 ||
                            queue_file_set_rcpt(f, 1, QUEUE_RCPT_DEFERRED,
                                                "451 4.3.0 later", 1764400000,
                                                &err) < 0 ||
                            queue_file_sync(f, &err) < 0 ||
                            queue_file_compact(f, &err) < 0)
                                return die("compact", err);
                        queue_file_close(f);
                        printf("K %s\n", id);
                        fflush(stdout);
                } else if (what == 1) {
                        if (queue_move(q, id, QUEUE_READY, QUEUE_DEFERRED,
                                       &err) < 0)
                                return die("move", err);
                        printf("M %s\n", id);
                        fflush(stdout);
                }
        }
}

/* verify_one - read and check one file; 0 or -1 with a printed reason */
static int verify_one(struct queue *q, enum queue_state st, const char *id)
{
        struct queue_file *f;
        struct strbuf want, got;
        const char *err;
        char buf[5000];
        size_t n;

        if (queue_file_open(q, st, id, 0, &f, &err) < 0) {
                printf("BAD %s %s open: %s\n", queue_state_name(st), id, err);
                return -1;
        }
        strbuf_init(&want);
        strbuf_init(&got);
        body_make(id, &want);
        int rc = 0;
        do {
                if (queue_file_read_body(f, buf, sizeof(buf), &n, &err) < 0) {
                        printf("BAD %s %s body: %s\n", queue_state_name(st), id,
                               err);
                        rc = -1;
                        break;
                }
                strbuf_add(&got, buf, n);
        } while (n > 0);
        const struct queue_env *env = queue_file_env(f);
        char *sender = xasprintf("sender-%s@example.org", id);
        if (rc == 0 && (got.len != want.len ||
                        (want.len && memcmp(got.s, want.s, want.len) != 0) ||
                        strcmp(env->sender, sender) != 0 || env->nrcpt != 2)) {
                printf("BAD %s %s content differs\n", queue_state_name(st), id);
                rc = -1;
        }
        if (rc == 0)
                printf("ok %s %s %s %s %u\n", queue_state_name(st), id,
                       queue_rcpt_state_name(env->rcpt[0].state),
                       queue_rcpt_state_name(env->rcpt[1].state),
                       env->attempts);
        free(sender);
        strbuf_clear(&want);
        strbuf_clear(&got);
        queue_file_close(f);
        return rc;
}

/* do_verify - every committed file */
static int do_verify(const char *dir)
{
        struct queue *q;
        const char *err;
        int bad = 0;

        if (queue_open(dir, &q, &err) < 0)
                return die("open", err);
        for (size_t s = 0; s < QUEUE_NSTATES; s++) {
                struct strlist ids = {0};
                if (queue_list(q, (enum queue_state)s, &ids, &err) < 0)
                        return die("list", err);
                for (size_t i = 0; i < ids.n; i++)
                        if (verify_one(q, (enum queue_state)s, ids.v[i]) < 0)
                                bad = 1;
                strlist_clear(&ids);
        }
        queue_close(q);
        return bad;
}

/* do_clean - empty tmp/ */
static int do_clean(const char *dir)
{
        struct queue *q;
        const char *err;
        size_t n = 0;

        if (queue_open(dir, &q, &err) < 0 ||
            queue_clean_tmp(q, 0, &n, &err) < 0)
                return die("clean", err);
        printf("cleaned %zu\n", n);
        queue_close(q);
        return 0;
}

int main(int argc, char **argv)
{
        if (argc == 4 && strcmp(argv[1], "write") == 0)
                return do_write(argv[2], (uint32_t)strtoul(argv[3], NULL, 10));
        if (argc == 3 && strcmp(argv[1], "init") == 0) {
                const char *err;
                if (queue_init(argv[2], &err) < 0)
                        return die("init", err);
                return 0;
        }
        if (argc == 3 && strcmp(argv[1], "verify") == 0)
                return do_verify(argv[2]);
        if (argc == 3 && strcmp(argv[1], "clean") == 0)
                return do_clean(argv[2]);
        fprintf(stderr, "usage: queue_crash init DIR | write DIR SEED | "
                        "verify DIR | clean DIR\n");
        return 2;
}

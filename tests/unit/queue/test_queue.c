/* SPDX-License-Identifier: MIT */
/*
 * test_queue.c - the queue module on a real file system, in a fresh
 * temporary directory per test: round trips of every envelope field,
 * group commit, state updates and moves, truncation and bit flips,
 * record injection, tmp/ cleaning, notification.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "../scratch.h"
#include "base/base.h"
#include "queue/queue.h"

struct fixture {
        char top[64];
        char dir[128];
        struct queue *q;
};

/* setup - a fresh queue in a temporary directory */
static int setup(void **state)
{
        struct fixture *fx = xcalloc(1, sizeof(*fx));
        const char *err = NULL;

        snprintf(fx->top, sizeof(fx->top), "/tmp/postern-qtest-XXXXXX");
        if (mkdtemp(fx->top) == NULL)
                return -1;
        snprintf(fx->dir, sizeof(fx->dir), "%s/queue", fx->top);
        if (queue_init(fx->dir, &err) < 0) {
                fprintf(stderr, "queue_init: %s\n", err);
                return -1;
        }
        if (queue_open(fx->dir, &fx->q, &err) < 0) {
                fprintf(stderr, "queue_open: %s\n", err);
                return -1;
        }
        *state = fx;
        return 0;
}

/* teardown - remove the directory */
static int teardown(void **state)
{
        struct fixture *fx = *state;

        queue_close(fx->q);
        (void)scratch_remove(fx->top);
        free(fx);
        return 0;
}

/* full_env - an envelope with every field set */
static void full_env(struct queue_env *env)
{
        queue_env_init(env);
        env->arrival = 1764300000;
        env->sender = xstrdup("alice@example.org");
        env->envid = xstrdup("QQ314159");
        env->ret = QUEUE_RET_HDRS;
        env->body = QUEUE_BODY_8BITMIME;
        env->smtputf8 = true;
        env->requiretls = true;
        env->attempts = 3;
        env->next_try = 1764303600;
        env->filter = xstrdup("smtp-amavis:[127.0.0.1]:10024");
        env->client_name = xstrdup("mail.example.org");
        env->client_addr = xstrdup("2001:db8::25");
        env->client_port = 48123;
        env->helo = xstrdup("mail.example.org");
        env->protocol = xstrdup("ESMTPSA");
        env->tls.protocol = xstrdup("TLSv1.3");
        env->tls.cipher = xstrdup("TLS_AES_256_GCM_SHA384");
        env->tls.bits = 256;
        env->tls.alg_bits = 256;
        env->tls.trust = xstrdup("Trusted");
        env->tls.peer_subject = xstrdup("CN=client.example.org,O=Example");
        env->tls.peer_issuer = xstrdup("CN=Example CA");
        env->tls.peer_fingerprint =
            xstrdup("5E:6F:2A:11:90:AB:CD:EF:01:23:45:67:89:AB:CD:EF:00:11:22:"
                    "33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF");
        queue_env_add_rcpt(env, "bob@example.net", "rfc822;bob@example.net",
                           QUEUE_NOTIFY_SUCCESS | QUEUE_NOTIFY_FAILURE |
                               QUEUE_NOTIFY_DELAY);
        queue_env_add_rcpt(env, "carol@example.net", NULL, QUEUE_NOTIFY_NEVER);
        struct queue_rcpt *r =
            queue_env_add_rcpt(env, "dave@example.net", NULL, 0);
        r->state = QUEUE_RCPT_DEFERRED;
        r->reason = xstrdup("451 4.7.1 try later");
        r->next_try = 1764304000;
}

/* streq - both NULL or equal */
static void assert_str_same(const char *a, const char *b)
{
        if (a == NULL || b == NULL)
                assert_ptr_equal(a, b);
        else
                assert_string_equal(a, b);
}

/* assert_env_equal - every field but id and size */
static void assert_env_equal(const struct queue_env *a,
                             const struct queue_env *b)
{
        if (a->arrival == 0)
                assert_true(b->arrival > 1700000000); /* 0 written as now */
        else
                assert_int_equal(a->arrival, b->arrival);
        assert_str_same(a->sender, b->sender);
        assert_str_same(a->envid, b->envid);
        assert_int_equal(a->ret, b->ret);
        assert_int_equal(a->body, b->body);
        assert_int_equal(a->smtputf8, b->smtputf8);
        assert_int_equal(a->requiretls, b->requiretls);
        assert_int_equal(a->attempts, b->attempts);
        assert_int_equal(a->next_try, b->next_try);
        assert_str_same(a->filter, b->filter);
        assert_str_same(a->client_name, b->client_name);
        assert_str_same(a->client_addr, b->client_addr);
        assert_int_equal(a->client_port, b->client_port);
        assert_str_same(a->helo, b->helo);
        assert_str_same(a->protocol, b->protocol);
        assert_str_same(a->tls.protocol, b->tls.protocol);
        assert_str_same(a->tls.cipher, b->tls.cipher);
        assert_int_equal(a->tls.bits, b->tls.bits);
        assert_int_equal(a->tls.alg_bits, b->tls.alg_bits);
        assert_str_same(a->tls.trust, b->tls.trust);
        assert_str_same(a->tls.peer_subject, b->tls.peer_subject);
        assert_str_same(a->tls.peer_issuer, b->tls.peer_issuer);
        assert_str_same(a->tls.peer_fingerprint, b->tls.peer_fingerprint);
        assert_int_equal(a->nrcpt, b->nrcpt);
        for (size_t i = 0; i < a->nrcpt; i++) {
                assert_string_equal(a->rcpt[i].addr, b->rcpt[i].addr);
                assert_str_same(a->rcpt[i].orcpt, b->rcpt[i].orcpt);
                assert_int_equal(a->rcpt[i].notify, b->rcpt[i].notify);
                assert_int_equal(a->rcpt[i].state, b->rcpt[i].state);
                assert_str_same(a->rcpt[i].reason, b->rcpt[i].reason);
                assert_int_equal(a->rcpt[i].next_try, b->rcpt[i].next_try);
        }
}

/* put - write, finish and commit one message; returns its ID (static) */
static const char *put(struct queue *q, const struct queue_env *env,
                       const void *body, size_t len)
{
        static char id[QUEUE_ID_SIZE];
        struct queue_msg *m;
        const char *err = NULL, *mid;

        assert_int_equal(queue_msg_new(q, &m, &err), 0);
        assert_int_equal(queue_msg_write(m, body, len, &err), 0);
        assert_int_equal(queue_msg_finish(m, env, &mid, &err), 0);
        assert_string_equal(mid, queue_msg_id(m));
        if (queue_commit(q, &m, 1, &err) < 0)
                fail_msg("commit: %s", err);
        snprintf(id, sizeof(id), "%s", mid);
        queue_msg_free(m);
        return id;
}

/* read_body - the whole body into a strbuf */
static int read_body(struct queue_file *f, struct strbuf *out)
{
        char buf[777];
        size_t got;
        const char *err;

        do {
                if (queue_file_read_body(f, buf, sizeof(buf), &got, &err) < 0)
                        return -1;
                strbuf_add(out, buf, got);
        } while (got > 0);
        return 0;
}

/* slurp - a whole file */
static char *slurp(const char *path, size_t *len)
{
        FILE *fp = fopen(path, "rb");
        struct strbuf sb;
        char buf[4096];
        size_t n;

        assert_non_null(fp);
        strbuf_init(&sb);
        while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
                strbuf_add(&sb, buf, n);
        fclose(fp);
        *len = sb.len;
        return strbuf_detach(&sb);
}

/* spit - write a whole file */
static void spit(const char *path, const void *buf, size_t len)
{
        FILE *fp = fopen(path, "wb");

        assert_non_null(fp);
        assert_int_equal(fwrite(buf, 1, len, fp), len);
        assert_int_equal(fclose(fp), 0);
}

/* count_dir - entries in a subdirectory (not . and ..) */
static int count_dir(struct fixture *fx, const char *sub)
{
        char cmd[512];
        int n = 0;

        snprintf(cmd, sizeof(cmd), "ls -A '%s/%s' | wc -l", fx->dir, sub);
        FILE *p = popen(cmd, "r");
        assert_non_null(p);
        assert_int_equal(fscanf(p, "%d", &n), 1);
        pclose(p);
        return n;
}

/* tmp_file_size - size of the one file in tmp/ */
static uint64_t tmp_file_size(struct fixture *fx)
{
        char path[256];
        struct dirent *e;
        struct stat st;
        uint64_t size = 0;

        snprintf(path, sizeof(path), "%s/tmp", fx->dir);
        DIR *d = opendir(path);
        assert_non_null(d);
        while ((e = readdir(d)) != NULL) {
                if (e->d_name[0] == '.')
                        continue;
                assert_int_equal(fstatat(dirfd(d), e->d_name, &st, 0), 0);
                size = (uint64_t)st.st_size;
        }
        closedir(d);
        return size;
}

static const char small_body[] = "From: a@example.org\r\n"
                                 "Subject: hi\r\n"
                                 "\r\n"
                                 "hello\r\n"
                                 ".leading dot kept after unstuffing\r\n";

/* test_init_modes - directory modes and the writable-by-others check */
static void test_init_modes(void **state)
{
        struct fixture *fx = *state;
        const char *subs[] = {"tmp", "ready", "deferred", "hold", "corrupt"};
        char path[256];
        struct stat st;
        struct queue *q2;
        const char *err = NULL;

        assert_int_equal(stat(fx->dir, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
        for (size_t i = 0; i < ARRAY_SIZE(subs); i++) {
                snprintf(path, sizeof(path), "%s/%s", fx->dir, subs[i]);
                assert_int_equal(stat(path, &st), 0);
                assert_int_equal(st.st_mode & 07777, 0700);
        }
        snprintf(path, sizeof(path), "%s/maildrop", fx->dir);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0730);

        /* Running queue_init again is harmless. */
        assert_int_equal(queue_init(fx->dir, &err), 0);

        assert_int_equal(chmod(fx->dir, 0702), 0);
        assert_int_equal(queue_open(fx->dir, &q2, &err), -1);
        assert_non_null(strstr(err, "writable by others"));
        assert_non_null(strstr(err, "chmod o-w"));
        assert_int_equal(chmod(fx->dir, 0700), 0);

        snprintf(path, sizeof(path), "%s/deferred", fx->dir);
        assert_int_equal(chmod(path, 0770), 0);
        assert_int_equal(queue_open(fx->dir, &q2, &err), -1);
        assert_non_null(strstr(err, "deferred"));
        assert_non_null(strstr(err, "chmod g-w"));
        assert_int_equal(chmod(path, 0700), 0);

        snprintf(path, sizeof(path), "%s/hold", fx->dir);
        assert_int_equal(chmod(path, 0703), 0);
        assert_int_equal(queue_open(fx->dir, &q2, &err), -1);
        assert_int_equal(chmod(path, 0700), 0);

        /* A missing subdirectory is an error naming it. */
        snprintf(path, sizeof(path), "%s/corrupt", fx->dir);
        assert_int_equal(rmdir(path), 0);
        assert_int_equal(queue_open(fx->dir, &q2, &err), -1);
        assert_non_null(strstr(err, "corrupt"));
        assert_int_equal(queue_init(fx->dir, &err), 0);
        assert_int_equal(queue_open(fx->dir, &q2, &err), 0);
        queue_close(q2);
}

/* test_roundtrip_all_fields - every envelope field survives */
static void test_roundtrip_all_fields(void **state)
{
        struct fixture *fx = *state;
        struct queue_env env;
        struct queue_file *f;
        struct strbuf body;
        const char *err = NULL;

        full_env(&env);
        const char *id = put(fx->q, &env, small_body, strlen(small_body));
        assert_true(queue_id_valid(id));

        assert_int_equal(queue_file_open(fx->q, QUEUE_READY, id, 0, &f, &err),
                         0);
        const struct queue_env *got = queue_file_env(f);
        assert_string_equal(got->id, id);
        assert_int_equal(got->size, strlen(small_body));
        assert_env_equal(&env, got);
        assert_false(queue_file_torn(f));
        strbuf_init(&body);
        assert_int_equal(read_body(f, &body), 0);
        assert_int_equal(body.len, strlen(small_body));
        assert_memory_equal(body.s, small_body, body.len);
        /* Rewind and verify. */
        assert_int_equal(queue_file_verify(f, &err), 0);
        strbuf_reset(&body);
        assert_int_equal(read_body(f, &body), 0);
        assert_int_equal(body.len, strlen(small_body));
        strbuf_clear(&body);
        queue_file_close(f);
        queue_env_clear(&env);

        /* A minimal envelope: absent fields stay absent. */
        queue_env_init(&env);
        env.sender = xstrdup("x@example.org");
        queue_env_add_rcpt(&env, "y@example.org", NULL, 0);
        id = put(fx->q, &env, "", 0);
        assert_int_equal(queue_file_open(fx->q, QUEUE_READY, id, 0, &f, &err),
                         0);
        got = queue_file_env(f);
        assert_null(got->envid);
        assert_null(got->tls.protocol);
        assert_null(got->helo);
        assert_int_equal(got->ret, QUEUE_RET_NONE);
        assert_int_equal(got->body, QUEUE_BODY_NONE);
        assert_int_equal(got->size, 0);
        /* arrival 0 means "now". */
        assert_true(got->arrival > 1700000000);
        assert_int_equal(queue_file_verify(f, &err), 0);
        queue_file_close(f);
        queue_env_clear(&env);
}

/* test_null_sender_utf8 - <> and UTF-8 addresses */
static void test_null_sender_utf8(void **state)
{
        struct fixture *fx = *state;
        struct queue_env env;
        struct queue_file *f;
        const char *err;

        queue_env_init(&env);
        env.sender = xstrdup("");
        env.smtputf8 = true;
        queue_env_add_rcpt(&env, "用户@例子.广告", "utf-8;用户@例子.广告",
                           QUEUE_NOTIFY_FAILURE);
        queue_env_add_rcpt(&env, "Pelé@exämple.org", NULL, 0);
        const char *id = put(fx->q, &env, small_body, strlen(small_body));
        assert_int_equal(queue_file_open(fx->q, QUEUE_READY, id, 0, &f, &err),
                         0);
        assert_string_equal(queue_file_env(f)->sender, "");
        assert_env_equal(&env, queue_file_env(f));
        queue_file_close(f);
        queue_env_clear(&env);

        /* A NULL sender is written as the null sender. */
        queue_env_init(&env);
        queue_env_add_rcpt(&env, "postmaster@example.org", NULL, 0);
        id = put(fx->q, &env, "x", 1);
        assert_int_equal(queue_file_open(fx->q, QUEUE_READY, id, 0, &f, &err),
                         0);
        assert_string_equal(queue_file_env(f)->sender, "");
        queue_file_close(f);
        queue_env_clear(&env);
}

/* test_many_recipients - 10,000 recipients and updates to them */
static void test_many_recipients(void **state)
{
        struct fixture *fx = *state;
        struct queue_env env;
        struct queue_file *f;
        const char *err;
        char addr[64];

        queue_env_init(&env);
        env.sender = xstrdup("list@example.org");
        for (int i = 0; i < 10000; i++) {
                snprintf(addr, sizeof(addr), "member%05d@example.net", i);
                queue_env_add_rcpt(&env, addr, NULL, 0);
        }
        const char *id = put(fx->q, &env, small_body, strlen(small_body));
        char saved[QUEUE_ID_SIZE];
        snprintf(saved, sizeof(saved), "%s", id);

        assert_int_equal(queue_file_open(fx->q, QUEUE_READY, saved,
                                         QUEUE_OPEN_RDWR, &f, &err),
                         0);
        assert_int_equal(queue_file_env(f)->nrcpt, 10000);
        assert_env_equal(&env, queue_file_env(f));
        /* Every third delivered, every seventh deferred, in one sync. */
        for (size_t i = 0; i < 10000; i++) {
                if (i % 3 == 0)
                        assert_int_equal(
                            queue_file_set_rcpt(f, i, QUEUE_RCPT_DELIVERED,
                                                NULL, 0, &err),
                            0);
                else if (i % 7 == 0)
                        assert_int_equal(queue_file_set_rcpt(
                                             f, i, QUEUE_RCPT_DEFERRED,
                                             "450 mailbox busy",
                                             1764400000 + (long long)i, &err),
                                         0);
        }
        assert_int_equal(queue_file_sync(f, &err), 0);
        queue_file_close(f);

        assert_int_equal(
            queue_file_open(fx->q, QUEUE_READY, saved, 0, &f, &err), 0);
        const struct queue_env *got = queue_file_env(f);
        for (size_t i = 0; i < 10000; i++) {
                snprintf(addr, sizeof(addr), "member%05zu@example.net", i);
                assert_string_equal(got->rcpt[i].addr, addr);
                if (i % 3 == 0) {
                        assert_int_equal(got->rcpt[i].state,
                                         QUEUE_RCPT_DELIVERED);
                } else if (i % 7 == 0) {
                        assert_int_equal(got->rcpt[i].state,
                                         QUEUE_RCPT_DEFERRED);
                        assert_string_equal(got->rcpt[i].reason,
                                            "450 mailbox busy");
                        assert_int_equal(got->rcpt[i].next_try,
                                         1764400000 + (long long)i);
                } else {
                        assert_int_equal(got->rcpt[i].state,
                                         QUEUE_RCPT_PENDING);
                }
        }
        queue_file_close(f);
        queue_env_clear(&env);
}

/* pattern - the byte at offset i of the big body */
static unsigned char pattern(uint64_t i)
{
        if (i % 80 == 78)
                return '\r';
        if (i % 80 == 79)
                return '\n';
        return (unsigned char)('!' + (i * 7 + i / 80) % 90);
}

/* test_big_body - 20 MB streamed in and out in odd chunk sizes */
static void test_big_body(void **state)
{
        struct fixture *fx = *state;
        const uint64_t total = 20u * 1024 * 1024;
        struct queue_env env;
        struct queue_msg *m;
        struct queue_file *f;
        const char *err, *id;
        unsigned char chunk[3001];
        char path[256];
        struct stat st;

        queue_env_init(&env);
        env.sender = xstrdup("big@example.org");
        queue_env_add_rcpt(&env, "r@example.org", NULL, 0);
        assert_int_equal(queue_msg_new(fx->q, &m, &err), 0);
        for (uint64_t off = 0; off < total;) {
                size_t n = sizeof(chunk);
                if (n > total - off)
                        n = (size_t)(total - off);
                for (size_t k = 0; k < n; k++)
                        chunk[k] = pattern(off + k);
                assert_int_equal(queue_msg_write(m, chunk, n, &err), 0);
                off += n;
        }
        assert_int_equal(queue_msg_size(m), total);
        /* The body is on disk before finish (all but the last buffer):
         * memory stays bounded. */
        assert_int_equal(count_dir(fx, "tmp"), 1);
        assert_true(tmp_file_size(fx) >= total - 64 * 1024);
        assert_int_equal(queue_msg_finish(m, &env, &id, &err), 0);
        assert_int_equal(queue_commit(fx->q, &m, 1, &err), 0);
        char saved[QUEUE_ID_SIZE];
        snprintf(saved, sizeof(saved), "%s", id);
        queue_msg_free(m);

        snprintf(path, sizeof(path), "%s/ready/%s", fx->dir, saved);
        assert_int_equal(stat(path, &st), 0);
        assert_true((uint64_t)st.st_size > total);

        assert_int_equal(
            queue_file_open(fx->q, QUEUE_READY, saved, 0, &f, &err), 0);
        assert_int_equal(queue_file_env(f)->size, total);
        unsigned char buf[65536 + 3];
        uint64_t off = 0;
        size_t got;
        do {
                assert_int_equal(
                    queue_file_read_body(f, buf, sizeof(buf), &got, &err), 0);
                for (size_t k = 0; k < got; k++)
                        if (buf[k] != pattern(off + k))
                                fail_msg("byte %llu differs",
                                         (unsigned long long)(off + k));
                off += got;
        } while (got > 0);
        assert_int_equal(off, total);
        queue_file_close(f);
        queue_env_clear(&env);
}

/* test_updates_survive_reopen - sync, reopen, torn tails */
static void test_updates_survive_reopen(void **state)
{
        struct fixture *fx = *state;
        struct queue_env env;
        struct queue_file *f;
        const char *err;
        char path[256], id[QUEUE_ID_SIZE];

        full_env(&env);
        snprintf(id, sizeof(id), "%s",
                 put(fx->q, &env, small_body, strlen(small_body)));
        snprintf(path, sizeof(path), "%s/ready/%s", fx->dir, id);

        /* Read-only handles cannot sync. */
        assert_int_equal(queue_file_open(fx->q, QUEUE_READY, id, 0, &f, &err),
                         0);
        assert_int_equal(
            queue_file_set_rcpt(f, 0, QUEUE_RCPT_DELIVERED, NULL, 0, &err), 0);
        assert_int_equal(queue_file_sync(f, &err), -1);
        assert_non_null(strstr(err, "read-only"));
        queue_file_close(f);

        assert_int_equal(
            queue_file_open(fx->q, QUEUE_READY, id, QUEUE_OPEN_RDWR, &f, &err),
            0);
        assert_int_equal(
            queue_file_set_rcpt(f, 3, QUEUE_RCPT_DELIVERED, NULL, 0, &err), -1);
        assert_int_equal(
            queue_file_set_rcpt(f, 0, QUEUE_RCPT_DELIVERED, NULL, 0, &err), 0);
        assert_int_equal(queue_file_set_rcpt(f, 1, QUEUE_RCPT_FAILED,
                                             "550 5.1.1 no such user", 0, &err),
                         0);
        assert_int_equal(queue_file_set_attempts(f, 4, 1764309999, &err), 0);
        /* Unsynced changes are dropped on close. */
        queue_file_close(f);
        assert_int_equal(
            queue_file_open(fx->q, QUEUE_READY, id, QUEUE_OPEN_RDWR, &f, &err),
            0);
        assert_int_equal(queue_file_env(f)->rcpt[0].state, QUEUE_RCPT_PENDING);
        assert_int_equal(
            queue_file_set_rcpt(f, 0, QUEUE_RCPT_DELIVERED, NULL, 0, &err), 0);
        assert_int_equal(queue_file_set_rcpt(f, 1, QUEUE_RCPT_FAILED,
                                             "550 5.1.1 no such user", 0, &err),
                         0);
        assert_int_equal(queue_file_set_attempts(f, 4, 1764309999, &err), 0);
        assert_int_equal(queue_file_env(f)->warned, 0);
        assert_int_equal(queue_file_set_warned(f, -1, &err), -1);
        assert_int_equal(queue_file_set_warned(f, 1764300000, &err), 0);
        assert_int_equal(queue_file_sync(f, &err), 0);
        /* An empty sync is a no-op. */
        assert_int_equal(queue_file_sync(f, &err), 0);
        queue_file_close(f);

        assert_int_equal(queue_file_open(fx->q, QUEUE_READY, id, 0, &f, &err),
                         0);
        const struct queue_env *got = queue_file_env(f);
        assert_int_equal(got->rcpt[0].state, QUEUE_RCPT_DELIVERED);
        assert_null(got->rcpt[0].reason);
        assert_int_equal(got->rcpt[1].state, QUEUE_RCPT_FAILED);
        assert_string_equal(got->rcpt[1].reason, "550 5.1.1 no such user");
        /* The deferred recipient from the envelope is unchanged. */
        assert_int_equal(got->rcpt[2].state, QUEUE_RCPT_DEFERRED);
        assert_string_equal(got->rcpt[2].reason, "451 4.7.1 try later");
        assert_int_equal(got->attempts, 4);
        assert_int_equal(got->next_try, 1764309999);
        assert_int_equal(got->warned, 1764300000);
        assert_int_equal(queue_file_verify(f, &err), 0);
        queue_file_close(f);

        /* A torn update (crash inside sync) at every length is ignored. */
        size_t len;
        char *good = slurp(path, &len);
        const char torn_rec[] = "UPD 00000016 12345678\nridx 1 2\nrstate 9 "
                                "delivered\n";
        for (size_t cut = 1; cut < sizeof(torn_rec) - 1; cut++) {
                char *img = xmalloc(len + cut);
                memcpy(img, good, len);
                memcpy(img + len, torn_rec, cut);
                spit(path, img, len + cut);
                free(img);
                assert_int_equal(
                    queue_file_open(fx->q, QUEUE_READY, id, 0, &f, &err), 0);
                assert_true(queue_file_torn(f));
                assert_int_equal(queue_file_env(f)->rcpt[2].state,
                                 QUEUE_RCPT_DEFERRED);
                queue_file_close(f);
        }
        /* The next sync cuts the torn tail off and appends after it. */
        assert_int_equal(
            queue_file_open(fx->q, QUEUE_READY, id, QUEUE_OPEN_RDWR, &f, &err),
            0);
        assert_true(queue_file_torn(f));
        assert_int_equal(
            queue_file_set_rcpt(f, 2, QUEUE_RCPT_DELIVERED, NULL, 0, &err), 0);
        assert_int_equal(queue_file_sync(f, &err), 0);
        queue_file_close(f);
        assert_int_equal(queue_file_open(fx->q, QUEUE_READY, id, 0, &f, &err),
                         0);
        assert_false(queue_file_torn(f));
        assert_int_equal(queue_file_env(f)->rcpt[2].state,
                         QUEUE_RCPT_DELIVERED);
        assert_int_equal(queue_file_env(f)->rcpt[0].state,
                         QUEUE_RCPT_DELIVERED);
        queue_file_close(f);

        /* A checksummed update that does not parse is corruption. */
        size_t len2;
        char *cur = slurp(path, &len2);
        const char payload[] = "ridx 1 9\nrstate 9 delivered\n"; /* idx 9 */
        char hdr[32];
        snprintf(hdr, sizeof(hdr), "UPD %08zx %08x\n", strlen(payload),
                 (unsigned)queue_crc32(0, payload, strlen(payload)));
        struct strbuf img;
        strbuf_init(&img);
        strbuf_add(&img, cur, len2);
        strbuf_adds(&img, hdr);
        strbuf_adds(&img, payload);
        spit(path, img.s, img.len);
        assert_int_equal(queue_file_open(fx->q, QUEUE_READY, id, 0, &f, &err),
                         -1);
        assert_non_null(strstr(err, "corrupt queue file"));
        assert_non_null(strstr(err, "recipient index"));
        strbuf_clear(&img);
        free(cur);
        free(good);
        queue_env_clear(&env);
}

/* test_state_moves - ready -> deferred -> ready, hold, corrupt, delete */
static void test_state_moves(void **state)
{
        struct fixture *fx = *state;
        struct queue_env env;
        struct queue_file *f;
        struct strlist ids = {0};
        enum queue_state st;
        const char *err;
        char id[QUEUE_ID_SIZE];

        full_env(&env);
        snprintf(id, sizeof(id), "%s",
                 put(fx->q, &env, small_body, strlen(small_body)));
        assert_int_equal(queue_find(fx->q, id, &st, &err), 0);
        assert_int_equal(st, QUEUE_READY);

        assert_int_equal(
            queue_move(fx->q, id, QUEUE_READY, QUEUE_DEFERRED, &err), 0);
        assert_int_equal(queue_find(fx->q, id, &st, &err), 0);
        assert_int_equal(st, QUEUE_DEFERRED);
        assert_int_equal(queue_list(fx->q, QUEUE_READY, &ids, &err), 0);
        assert_int_equal(ids.n, 0);
        assert_int_equal(queue_list(fx->q, QUEUE_DEFERRED, &ids, &err), 0);
        assert_int_equal(ids.n, 1);
        assert_string_equal(ids.v[0], id);
        strlist_clear(&ids);
        /* Open in the wrong state fails, in the right one works. */
        assert_int_equal(queue_file_open(fx->q, QUEUE_READY, id, 0, &f, &err),
                         -1);
        assert_int_equal(
            queue_file_open(fx->q, QUEUE_DEFERRED, id, 0, &f, &err), 0);
        queue_file_close(f);
        /* Moving what is not there fails and changes nothing. */
        assert_int_equal(queue_move(fx->q, id, QUEUE_READY, QUEUE_HOLD, &err),
                         -1);

        assert_int_equal(
            queue_move(fx->q, id, QUEUE_DEFERRED, QUEUE_READY, &err), 0);
        assert_int_equal(queue_move(fx->q, id, QUEUE_READY, QUEUE_HOLD, &err),
                         0);
        assert_int_equal(queue_find(fx->q, id, &st, &err), 0);
        assert_int_equal(st, QUEUE_HOLD);
        assert_int_equal(queue_move(fx->q, id, QUEUE_HOLD, QUEUE_READY, &err),
                         0);
        assert_int_equal(
            queue_move(fx->q, id, QUEUE_READY, QUEUE_CORRUPT, &err), 0);
        assert_int_equal(queue_find(fx->q, id, &st, &err), 0);
        assert_int_equal(st, QUEUE_CORRUPT);
        assert_int_equal(queue_file_open(fx->q, QUEUE_CORRUPT, id, 0, &f, &err),
                         0);
        assert_env_equal(&env, queue_file_env(f));
        queue_file_close(f);

        assert_int_equal(queue_delete(fx->q, QUEUE_CORRUPT, id, &err), 0);
        assert_int_equal(queue_find(fx->q, id, &st, &err), -1);
        assert_int_equal(queue_delete(fx->q, QUEUE_CORRUPT, id, &err), -1);
        /* Names that are not IDs are refused, never used as paths. */
        assert_int_equal(
            queue_move(fx->q, "../x", QUEUE_READY, QUEUE_HOLD, &err), -1);
        assert_int_equal(queue_delete(fx->q, QUEUE_READY, "../tmp", &err), -1);
        assert_int_equal(
            queue_file_open(fx->q, QUEUE_READY, "a/b", 0, &f, &err), -1);

        enum queue_state s2;
        assert_int_equal(queue_state_parse("deferred", &s2), 0);
        assert_int_equal(s2, QUEUE_DEFERRED);
        assert_int_equal(queue_state_parse("tmp", &s2), -1);
        assert_string_equal(queue_state_name(QUEUE_MAILDROP), "maildrop");
        queue_env_clear(&env);
}

/* committed_image - a small committed file and its bytes */
static char *committed_image(struct fixture *fx, const struct queue_env *env,
                             char *id, size_t *len)
{
        char path[256];

        snprintf(id, QUEUE_ID_SIZE, "%s",
                 put(fx->q, env, small_body, strlen(small_body)));
        snprintf(path, sizeof(path), "%s/ready/%s", fx->dir, id);
        return slurp(path, len);
}

/* test_truncation - every proper prefix of a committed file is corrupt */
static void test_truncation(void **state)
{
        struct fixture *fx = *state;
        struct queue_env env;
        struct queue_file *f;
        const char *err;
        char id[QUEUE_ID_SIZE], path[256];
        size_t len;

        full_env(&env);
        char *img = committed_image(fx, &env, id, &len);
        snprintf(path, sizeof(path), "%s/ready/%s", fx->dir, id);

        assert_int_equal(queue_file_open_mem(img, len, &f, &err), 0);
        assert_env_equal(&env, queue_file_env(f));
        queue_file_close(f);
        for (size_t cut = 0; cut < len; cut++) {
                /* A copy of exactly cut bytes, so ASan sees any overread. */
                char *p = xmalloc(cut ? cut : 1);
                memcpy(p, img, cut);
                if (queue_file_open_mem(p, cut, &f, &err) == 0)
                        fail_msg("truncation at %zu accepted", cut);
                assert_non_null(strstr(err, "corrupt queue file"));
                free(p);
                /* The same through the file system. */
                spit(path, img, cut);
                if (queue_file_open(fx->q, QUEUE_READY, id, 0, &f, &err) == 0)
                        fail_msg("file truncated at %zu accepted", cut);
                assert_non_null(strstr(err, "corrupt queue file"));
        }
        spit(path, img, len);
        assert_int_equal(queue_file_open(fx->q, QUEUE_READY, id, 0, &f, &err),
                         0);
        queue_file_close(f);
        free(img);
        queue_env_clear(&env);
}

/* test_bit_flips - every single-bit flip is rejected at open, or (in the
 * body) at the end of the body read; never accepted silently */
static void test_bit_flips(void **state)
{
        struct fixture *fx = *state;
        struct queue_env env;
        struct queue_file *f;
        const char *err;
        char id[QUEUE_ID_SIZE];
        size_t len;

        full_env(&env);
        char *img = committed_image(fx, &env, id, &len);
        char *p = xmalloc(len);
        size_t body_start = 69, body_end = 69 + strlen(small_body);
        for (size_t i = 0; i < len; i++) {
                for (int b = 0; b < 8; b++) {
                        memcpy(p, img, len);
                        p[i] ^= (char)(1 << b);
                        int rc = queue_file_open_mem(p, len, &f, &err);
                        if (i < body_start || i >= body_end) {
                                if (rc == 0)
                                        fail_msg("flip %zu/%d accepted", i, b);
                                assert_non_null(
                                    strstr(err, "corrupt queue file"));
                                continue;
                        }
                        if (rc < 0)
                                fail_msg("flip %zu/%d in body: %s", i, b, err);
                        assert_env_equal(&env, queue_file_env(f));
                        assert_int_equal(queue_file_verify(f, &err), -1);
                        assert_non_null(strstr(err, "checksum"));
                        queue_file_close(f);
                }
        }
        free(p);
        free(img);
        queue_env_clear(&env);
}

/* test_tmp_not_committed - tmp files are invisible and get cleaned */
static void test_tmp_not_committed(void **state)
{
        struct fixture *fx = *state;
        struct queue_env env;
        struct queue_msg *m1, *m2, *m3;
        struct strlist ids = {0};
        enum queue_state st;
        const char *err, *id2;
        size_t removed = 99;
        char path[256];

        full_env(&env);
        /* m1 being received, m2 finished but not committed. */
        assert_int_equal(queue_msg_new(fx->q, &m1, &err), 0);
        assert_int_equal(queue_msg_write(m1, "partial", 7, &err), 0);
        assert_int_equal(queue_msg_new(fx->q, &m2, &err), 0);
        assert_int_equal(queue_msg_write(m2, small_body, 10, &err), 0);
        assert_int_equal(queue_msg_finish(m2, &env, &id2, &err), 0);
        /* Finish twice, write after finish: refused. */
        assert_int_equal(queue_msg_finish(m2, &env, &id2, &err), -1);
        assert_int_equal(queue_msg_write(m2, "x", 1, &err), -1);
        for (size_t i = 0; i < QUEUE_NSTATES; i++) {
                assert_int_equal(
                    queue_list(fx->q, (enum queue_state)i, &ids, &err), 0);
                assert_int_equal(ids.n, 0);
        }
        assert_int_equal(queue_find(fx->q, id2, &st, &err), -1);
        assert_int_equal(queue_find(fx->q, queue_msg_id(m1), &st, &err), -1);
        assert_int_equal(count_dir(fx, "tmp"), 2);
        /* An unfinished message cannot be committed. */
        assert_int_equal(queue_commit(fx->q, &m1, 1, &err), -1);
        assert_int_equal(count_dir(fx, "ready"), 0);

        /* Abort removes the tmp file. */
        queue_msg_abort(m1);
        assert_int_equal(count_dir(fx, "tmp"), 1);

        /* Fresh files survive an age-bounded clean, an old one does not. */
        assert_int_equal(queue_msg_new(fx->q, &m3, &err), 0);
        assert_int_equal(queue_clean_tmp(fx->q, 3600, &removed, &err), 0);
        assert_int_equal(removed, 0);
        snprintf(path, sizeof(path), "%s/tmp/stale-from-crash", fx->dir);
        spit(path, "junk", 4);
        struct timeval old[2] = {{time(NULL) - 7200, 0},
                                 {time(NULL) - 7200, 0}};
        assert_int_equal(utimes(path, old), 0);
        assert_int_equal(queue_clean_tmp(fx->q, 3600, &removed, &err), 0);
        assert_int_equal(removed, 1);
        assert_int_equal(count_dir(fx, "tmp"), 2);
        /* At supervisor start everything goes. */
        assert_int_equal(queue_clean_tmp(fx->q, 0, &removed, &err), 0);
        assert_int_equal(removed, 2);
        assert_int_equal(count_dir(fx, "tmp"), 0);
        queue_msg_free(m2);
        queue_msg_free(m3);
        for (size_t i = 0; i < QUEUE_NSTATES; i++) {
                assert_int_equal(
                    queue_list(fx->q, (enum queue_state)i, &ids, &err), 0);
                assert_int_equal(ids.n, 0);
        }
        queue_env_clear(&env);
}

/* test_group_commit - many messages, one commit */
static void test_group_commit(void **state)
{
        struct fixture *fx = *state;
        struct queue_env env;
        struct queue_msg *m[40];
        struct strlist ids = {0}, want = {0};
        const char *err;

        full_env(&env);
        for (size_t i = 0; i < ARRAY_SIZE(m); i++) {
                char body[64];
                int n = snprintf(body, sizeof(body), "Subject: %zu\r\n\r\n", i);
                assert_int_equal(queue_msg_new(fx->q, &m[i], &err), 0);
                assert_int_equal(queue_msg_write(m[i], body, (size_t)n, &err),
                                 0);
                assert_int_equal(queue_msg_finish(m[i], &env, NULL, &err), 0);
                strlist_push(&want, queue_msg_id(m[i]));
        }
        assert_int_equal(count_dir(fx, "ready"), 0);
        assert_int_equal(queue_commit(fx->q, m, ARRAY_SIZE(m), &err), 0);
        /* Committing twice is refused. */
        assert_int_equal(queue_commit(fx->q, m, 1, &err), -1);
        for (size_t i = 0; i < ARRAY_SIZE(m); i++)
                queue_msg_free(m[i]);
        assert_int_equal(count_dir(fx, "tmp"), 0);
        assert_int_equal(queue_list(fx->q, QUEUE_READY, &ids, &err), 0);
        assert_int_equal(ids.n, ARRAY_SIZE(m));
        for (size_t i = 0; i < ids.n; i++) {
                struct queue_file *f;
                bool found = false;
                if (i > 0)
                        assert_true(strcmp(ids.v[i - 1], ids.v[i]) < 0);
                for (size_t k = 0; k < want.n; k++)
                        found = found || strcmp(want.v[k], ids.v[i]) == 0;
                assert_true(found);
                assert_int_equal(
                    queue_file_open(fx->q, QUEUE_READY, ids.v[i], 0, &f, &err),
                    0);
                assert_int_equal(queue_file_verify(f, &err), 0);
                queue_file_close(f);
        }
        strlist_clear(&ids);
        strlist_clear(&want);

        /* Commit into maildrop/ and hold/. */
        struct queue_msg *md;
        assert_int_equal(queue_msg_new(fx->q, &md, &err), 0);
        assert_int_equal(queue_msg_finish(md, &env, NULL, &err), 0);
        assert_int_equal(queue_commit_to(fx->q, QUEUE_CORRUPT, &md, 1, &err),
                         -1);
        assert_int_equal(queue_commit_to(fx->q, QUEUE_MAILDROP, &md, 1, &err),
                         0);
        queue_msg_free(md);
        assert_int_equal(count_dir(fx, "maildrop"), 1);
        queue_env_clear(&env);
}

/* test_ids - unique, sortable by time, safe file names */
static void test_ids(void **state)
{
        struct fixture *fx = *state;
        struct strlist ids = {0};
        struct queue_msg *live[150];
        size_t nlive = 0;
        const char *err;
        long long sec, psec = 0;
        long usec, pusec = 0;
        time_t now = time(NULL);

        for (int i = 0; i < 300; i++) {
                struct queue_msg *m;
                assert_int_equal(queue_msg_new(fx->q, &m, &err), 0);
                const char *id = queue_msg_id(m);
                assert_true(queue_id_valid(id));
                for (const char *p = id; *p; p++)
                        assert_true((*p >= '0' && *p <= '9') ||
                                    (*p >= 'A' && *p <= 'Z'));
                assert_int_equal(queue_id_time(id, &sec, &usec), 0);
                assert_true(sec >= now - 5 && sec <= now + 5);
                assert_true(sec > psec || (sec == psec && usec > pusec));
                psec = sec;
                pusec = usec;
                for (size_t k = 0; k < ids.n; k++)
                        assert_string_not_equal(ids.v[k], id);
                strlist_push(&ids, id);
                if (i > 0)
                        assert_true(strcmp(ids.v[ids.n - 2], id) < 0);
                /* Keep half of them alive so inodes are in use at once; free
                 * the others at once so their inodes get reused. */
                if (i % 2)
                        queue_msg_abort(m);
                else
                        live[nlive++] = m;
        }
        for (size_t k = 0; k < nlive; k++)
                queue_msg_free(live[k]);
        strlist_clear(&ids);
        assert_false(queue_id_valid(""));
        assert_false(queue_id_valid("../../etc/pas"));
        assert_false(queue_id_valid("0ABCDEFGHIJZ"));    /* no inode */
        assert_false(queue_id_valid("0abcdefghijZ12"));  /* lower case */
        assert_false(queue_id_valid("0ABCDEFGHIJZ012")); /* leading zero */
        assert_false(queue_id_valid("0ABCDEFVVVVZ12"));  /* usec > 999999 */
        assert_false(queue_id_valid("0ABCDEFGHIJX12"));  /* separator */
        assert_true(queue_id_valid("0ABCDEFGHIJZ12"));
        assert_false(queue_id_valid("0ABCDEFGHIJZ1234567890123456789"));
}

/* test_injection - CR, LF and record syntax in values stay values */
static void test_injection(void **state)
{
        struct fixture *fx = *state;
        struct queue_env env;
        struct queue_file *f;
        const char *err;
        char id[QUEUE_ID_SIZE];

        queue_env_init(&env);
        env.sender = xstrdup("evil@example.org\nrcpt 13 x@example.org\n");
        env.helo = xstrdup("h\r\nend 0 \n");
        env.client_name = xstrdup("UPD 00000010 00000000\nridx 1 0\n");
        env.protocol = xstrdup("ESMTP\n\n\n");
        env.envid = xstrdup("id 14 0ABCDEFGHIJZ12\n");
        queue_env_add_rcpt(&env,
                           "victim@example.org\r\nrcpt 1 y\nrstate 9 "
                           "delivered\n",
                           "rfc822;a\nnotify 5 never", QUEUE_NOTIFY_DELAY);
        snprintf(id, sizeof(id), "%s", put(fx->q, &env, "x\r\n", 3));
        assert_int_equal(
            queue_file_open(fx->q, QUEUE_READY, id, QUEUE_OPEN_RDWR, &f, &err),
            0);
        assert_int_equal(queue_file_env(f)->nrcpt, 1);
        assert_string_equal(queue_file_env(f)->id, id);
        assert_env_equal(&env, queue_file_env(f));
        /* The same through an update reason. */
        assert_int_equal(queue_file_set_rcpt(
                             f, 0, QUEUE_RCPT_DEFERRED,
                             "4.4.1\nridx 1 0\nrstate 9 delivered\n", 5, &err),
                         0);
        assert_int_equal(queue_file_sync(f, &err), 0);
        queue_file_close(f);
        assert_int_equal(queue_file_open(fx->q, QUEUE_READY, id, 0, &f, &err),
                         0);
        assert_int_equal(queue_file_env(f)->rcpt[0].state, QUEUE_RCPT_DEFERRED);
        assert_string_equal(queue_file_env(f)->rcpt[0].reason,
                            "4.4.1\nridx 1 0\nrstate 9 delivered\n");
        queue_file_close(f);
        queue_env_clear(&env);
}

/* image - a file image from an envelope section and a body, with correct
 * checksums, built from docs/queue-format.md (not from the writer) */
static char *image(const char *envs, size_t envlen, const char *body,
                   size_t *len)
{
        char hdr[80];
        struct strbuf sb;
        size_t bl = strlen(body);

        snprintf(hdr, sizeof(hdr), "POSTERN-QUEUE 1\n%016zx %08zx %08x %08x ",
                 bl, envlen, (unsigned)queue_crc32(0, body, bl),
                 (unsigned)queue_crc32(0, envs, envlen));
        strbuf_init(&sb);
        strbuf_adds(&sb, hdr);
        strbuf_printf(&sb, "%08x\n", (unsigned)queue_crc32(0, hdr, 60));
        strbuf_adds(&sb, body);
        strbuf_add(&sb, envs, envlen);
        *len = sb.len;
        return strbuf_detach(&sb);
}

/* test_handmade_files - the documented format, and what it refuses */
static void test_handmade_files(void **state)
{
        struct queue_file *f;
        const char *err;
        size_t len;
        char *img;
        (void)state;

        static const char good[] = "id 14 0ABCDEFGHIJZ12\n"
                                   "arrival 10 1764300000\n"
                                   "sender 0 \n"
                                   "size 1 2\n"
                                   "attempts 1 0\n"
                                   "rcpt 13 a@example.org\n"
                                   "rstate 7 pending\n"
                                   "end 0 \n";
        char envs[512];
        snprintf(envs, sizeof(envs), "%s", good);
        img = image(envs, strlen(envs), "hi", &len);
        assert_int_equal(queue_file_open_mem(img, len, &f, &err), 0);
        assert_string_equal(queue_file_env(f)->id, "0ABCDEFGHIJZ12");
        assert_string_equal(queue_file_env(f)->sender, "");
        assert_null(queue_file_env(f)->filter); /* files from before it */
        assert_int_equal(queue_file_env(f)->nrcpt, 1);
        assert_int_equal(queue_file_verify(f, &err), 0);
        queue_file_close(f);
        free(img);

        static const struct {
                const char *from, *to, *why;
        } bad[] = {
            {"sender 0 \n", "sender 3 a\0b\n", "NUL"},
            {"sender 0 \n", "sender 5 a\n", "record"},
            {"sender 0 \n", "sender 01 a\n", "leading zero"},
            {"sender 0 \n", "sender 0 \nsender 0 \n", "repeated"},
            {"sender 0 \n", "", "missing"},
            {"end 0 \n", "", "no end"},
            {"end 0 \n", "end 0 \nhelo 0 \n", "after the end"},
            {"rstate 7 pending\n", "", "state"},
            {"rstate 7 pending\n", "rstate 4 done\n", "recipient"},
            {"attempts 1 0\n", "attempts 1 0\nbogus 0 \n", "unknown"},
            {"rcpt 13 a@example.org\nrstate 7 pending\n", "", "recipients"},
            {"rstate 7 pending\n", "rstate 7 pending\nhelo 0 \n",
             "after the recipients"},
            {"id 14 0ABCDEFGHIJZ12\n", "id 4 ../x\n", "queue ID"},
            {"attempts 1 0\n", "attempts 1 0\ntls-cipher 1 x\n", "TLS"},
            {"attempts 1 0\n", "attempts 1 0\nfilter 2 x:\nfilter 2 y:\n",
             "repeated"},
            {"size 1 2\n", "size 1 3\n", "size"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                char e2[512];
                char *at = strstr(envs, bad[i].from);
                assert_non_null(at);
                size_t pre = (size_t)(at - envs);
                size_t tolen = strlen(bad[i].to);
                if (strcmp(bad[i].why, "NUL") == 0)
                        tolen = 13;
                memcpy(e2, envs, pre);
                memcpy(e2 + pre, bad[i].to, tolen);
                size_t rest = strlen(at + strlen(bad[i].from));
                memcpy(e2 + pre + tolen, at + strlen(bad[i].from), rest);
                img = image(e2, pre + tolen + rest, "hi", &len);
                if (queue_file_open_mem(img, len, &f, &err) == 0)
                        fail_msg("case %zu (%s) accepted", i, bad[i].why);
                assert_non_null(strstr(err, "corrupt queue file"));
                if (strstr(err, bad[i].why) == NULL)
                        fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err,
                                 bad[i].why);
                free(img);
        }

        /* Another version is named as such. */
        img = image(envs, strlen(envs), "hi", &len);
        img[14] = '2';
        assert_int_equal(queue_file_open_mem(img, len, &f, &err), -1);
        assert_non_null(strstr(err, "version"));
        memcpy(img, "From: x@y\r\n", 11);
        assert_int_equal(queue_file_open_mem(img, len, &f, &err), -1);
        assert_non_null(strstr(err, "bad magic"));
        free(img);
}

/* test_id_mismatch - a file under another ID's name is corrupt */
static void test_id_mismatch(void **state)
{
        struct fixture *fx = *state;
        struct queue_env env;
        struct queue_file *f;
        const char *err;
        char id[QUEUE_ID_SIZE], path[256];
        size_t len;

        full_env(&env);
        char *img = committed_image(fx, &env, id, &len);
        snprintf(path, sizeof(path), "%s/ready/0ABCDEFGHIJZ12", fx->dir);
        spit(path, img, len);
        assert_int_equal(
            queue_file_open(fx->q, QUEUE_READY, "0ABCDEFGHIJZ12", 0, &f, &err),
            -1);
        assert_non_null(strstr(err, "differs from the file name"));
        free(img);
        queue_env_clear(&env);
}

/* test_finish_refuses - invalid envelopes never reach the disk */
static void test_finish_refuses(void **state)
{
        struct fixture *fx = *state;
        struct queue_env env;
        struct queue_msg *m;
        const char *err;

        queue_env_init(&env);
        env.sender = xstrdup("a@example.org");
        assert_int_equal(queue_msg_new(fx->q, &m, &err), 0);
        assert_int_equal(queue_msg_finish(m, &env, NULL, &err), -1);
        assert_non_null(strstr(err, "no recipients"));
        queue_env_add_rcpt(&env, "b@example.org", NULL,
                           QUEUE_NOTIFY_NEVER | QUEUE_NOTIFY_DELAY);
        assert_int_equal(queue_msg_finish(m, &env, NULL, &err), -1);
        assert_non_null(strstr(err, "NOTIFY"));
        env.rcpt[0].notify = QUEUE_NOTIFY_NEVER;
        assert_int_equal(queue_msg_finish(m, &env, NULL, &err), 0);
        queue_msg_abort(m);
        assert_int_equal(count_dir(fx, "tmp"), 0);
        queue_env_clear(&env);
}

/* test_compact - rewrite with current states, log gone, body intact */
static void test_compact(void **state)
{
        struct fixture *fx = *state;
        struct queue_env env;
        struct queue_file *f;
        const char *err;
        char id[QUEUE_ID_SIZE], path[256];
        struct stat before, after;
        struct strbuf body;

        full_env(&env);
        snprintf(id, sizeof(id), "%s",
                 put(fx->q, &env, small_body, strlen(small_body)));
        snprintf(path, sizeof(path), "%s/ready/%s", fx->dir, id);
        assert_int_equal(
            queue_file_open(fx->q, QUEUE_READY, id, QUEUE_OPEN_RDWR, &f, &err),
            0);
        for (int round = 0; round < 50; round++) {
                assert_int_equal(queue_file_set_rcpt(f, 1, QUEUE_RCPT_DEFERRED,
                                                     "451 again",
                                                     1764400000 + round, &err),
                                 0);
                assert_int_equal(queue_file_set_attempts(f, (unsigned)round + 1,
                                                         1764400000 + round,
                                                         &err),
                                 0);
                if (round == 10)
                        assert_int_equal(
                            queue_file_set_warned(f, 1764400010, &err), 0);
                assert_int_equal(queue_file_sync(f, &err), 0);
        }
        assert_int_equal(
            queue_file_set_rcpt(f, 0, QUEUE_RCPT_DELIVERED, NULL, 0, &err), 0);
        /* Unsynced changes are refused. */
        assert_int_equal(queue_file_compact(f, &err), -1);
        assert_int_equal(queue_file_sync(f, &err), 0);
        assert_int_equal(stat(path, &before), 0);
        assert_int_equal(queue_file_compact(f, &err), 0);
        assert_int_equal(stat(path, &after), 0);
        assert_true(after.st_size < before.st_size);
        assert_int_not_equal(after.st_ino, before.st_ino);
        assert_int_equal(count_dir(fx, "tmp"), 0);
        /* The handle keeps working on the new file. */
        assert_int_equal(
            queue_file_set_rcpt(f, 2, QUEUE_RCPT_FAILED, "550 no", 0, &err), 0);
        assert_int_equal(queue_file_sync(f, &err), 0);
        queue_file_close(f);

        assert_int_equal(queue_file_open(fx->q, QUEUE_READY, id, 0, &f, &err),
                         0);
        const struct queue_env *got = queue_file_env(f);
        assert_int_equal(got->rcpt[0].state, QUEUE_RCPT_DELIVERED);
        assert_int_equal(got->rcpt[1].state, QUEUE_RCPT_DEFERRED);
        assert_string_equal(got->rcpt[1].reason, "451 again");
        assert_int_equal(got->rcpt[1].next_try, 1764400049);
        assert_int_equal(got->rcpt[2].state, QUEUE_RCPT_FAILED);
        assert_int_equal(got->attempts, 50);
        assert_int_equal(got->next_try, 1764400049);
        assert_int_equal(got->warned, 1764400010); /* in the new envelope */
        assert_string_equal(got->sender, env.sender);
        assert_string_equal(got->tls.peer_subject, env.tls.peer_subject);
        strbuf_init(&body);
        assert_int_equal(read_body(f, &body), 0);
        assert_int_equal(body.len, strlen(small_body));
        assert_memory_equal(body.s, small_body, body.len);
        strbuf_clear(&body);
        queue_file_close(f);

        /* A file moved since it was opened is not compacted back. */
        assert_int_equal(
            queue_file_open(fx->q, QUEUE_READY, id, QUEUE_OPEN_RDWR, &f, &err),
            0);
        assert_int_equal(
            queue_move(fx->q, id, QUEUE_READY, QUEUE_DEFERRED, &err), 0);
        assert_int_equal(queue_file_compact(f, &err), -1);
        assert_non_null(strstr(err, "moved"));
        assert_int_equal(count_dir(fx, "ready"), 0);
        queue_file_close(f);

        /* A body that fails its CRC is not laundered into a new file. */
        snprintf(path, sizeof(path), "%s/deferred/%s", fx->dir, id);
        size_t len;
        char *img = slurp(path, &len);
        img[69 + 3] ^= 1;
        spit(path, img, len);
        assert_int_equal(queue_file_open(fx->q, QUEUE_DEFERRED, id,
                                         QUEUE_OPEN_RDWR, &f, &err),
                         0);
        assert_int_equal(queue_file_compact(f, &err), -1);
        assert_non_null(strstr(err, "checksum"));
        queue_file_close(f);
        size_t len2;
        char *img2 = slurp(path, &len2);
        assert_int_equal(len2, len);
        assert_memory_equal(img, img2, len);
        assert_int_equal(count_dir(fx, "tmp"), 0);
        free(img);
        free(img2);
        queue_env_clear(&env);
}

/* test_commit_rollback - a failed batch leaves nothing committed */
static void test_commit_rollback(void **state)
{
        struct fixture *fx = *state;
        struct queue_env env;
        struct queue_msg *m[3];
        struct strlist ids = {0};
        const char *err;
        char path[256];

        full_env(&env);
        for (size_t i = 0; i < ARRAY_SIZE(m); i++) {
                assert_int_equal(queue_msg_new(fx->q, &m[i], &err), 0);
                assert_int_equal(queue_msg_write(m[i], "x\r\n", 3, &err), 0);
                assert_int_equal(queue_msg_finish(m[i], &env, NULL, &err), 0);
        }
        /* Something already has the third ID: the commit must not replace
         * it, and must take the first two back. */
        snprintf(path, sizeof(path), "%s/ready/%s", fx->dir,
                 queue_msg_id(m[2]));
        spit(path, "precious", 8);
        assert_int_equal(queue_commit(fx->q, m, ARRAY_SIZE(m), &err), -1);
        assert_non_null(strstr(err, "rename"));
        assert_int_equal(count_dir(fx, "ready"), 1);
        assert_int_equal(count_dir(fx, "tmp"), 3);
        size_t len;
        char *keep = slurp(path, &len);
        assert_int_equal(len, 8);
        assert_memory_equal(keep, "precious", 8);
        free(keep);
        /* Once the obstacle is gone the same batch commits. */
        assert_int_equal(unlink(path), 0);
        assert_int_equal(queue_commit(fx->q, m, ARRAY_SIZE(m), &err), 0);
        for (size_t i = 0; i < ARRAY_SIZE(m); i++)
                queue_msg_free(m[i]);
        assert_int_equal(queue_list(fx->q, QUEUE_READY, &ids, &err), 0);
        assert_int_equal(ids.n, 3);
        assert_int_equal(count_dir(fx, "tmp"), 0);
        strlist_clear(&ids);
        queue_env_clear(&env);
}

/* test_notify - a datagram per notify; no listener is not an error */
static void test_notify(void **state)
{
        struct fixture *fx = *state;
        const char *err;
        char buf[16];
        int fd;

        queue_notify(fx->q); /* nobody listens: returns, no error */
        assert_int_equal(queue_notify_listen(fx->q, &fd, &err), 0);
        queue_notify(fx->q);
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        assert_int_equal(n, 1);
        assert_int_equal(buf[0], 'R');
        /* Nothing more queued. */
        assert_int_equal(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), -1);
        /* A full socket buffer never blocks the sender. */
        for (int i = 0; i < 5000; i++)
                queue_notify(fx->q);
        close(fd);
        queue_notify(fx->q); /* stale socket file, no listener */
        /* A second listener replaces the stale socket. */
        assert_int_equal(queue_notify_listen(fx->q, &fd, &err), 0);
        close(fd);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
            T(test_init_modes),       T(test_roundtrip_all_fields),
            T(test_null_sender_utf8), T(test_many_recipients),
            T(test_big_body),         T(test_updates_survive_reopen),
            T(test_state_moves),      T(test_truncation),
            T(test_bit_flips),        T(test_tmp_not_committed),
            T(test_group_commit),     T(test_ids),
            T(test_injection),        cmocka_unit_test(test_handmade_files),
            T(test_id_mismatch),      T(test_finish_refuses),
            T(test_compact),          T(test_commit_rollback),
            T(test_notify),
#undef T
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

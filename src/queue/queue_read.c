/* SPDX-License-Identifier: MIT */
/* queue_read.c - opening and checking queue files, body, state updates */
#include "queue/queue_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct queue_file {
        int fd;                   /* -1 for an image in memory */
        const unsigned char *mem; /* the image, or NULL */
        uint64_t file_size;
        bool writable;
        char name[96]; /* for messages: "ready/ID" or "(memory)" */
        uint64_t body_len;
        uint32_t body_crc;
        uint64_t log_off; /* start of the update log */
        uint64_t log_end; /* end of the last valid update record */
        bool torn;
        struct queue_env env;
        uint64_t body_pos;
        uint32_t body_run;
        struct strbuf pending;
        struct queue *q; /* NULL for an image in memory */
        enum queue_state state;
};

/* src_read - exactly len bytes at off */
static int src_read(struct queue_file *f, void *buf, size_t len, uint64_t off)
{
        char *p = buf;

        if (off > f->file_size || len > f->file_size - off) {
                errno = EIO;
                return -1;
        }
        if (f->mem != NULL) {
                memcpy(buf, f->mem + off, len);
                return 0;
        }
        while (len > 0) {
                ssize_t n = pread(f->fd, p, len, (off_t)off);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -1;
                }
                if (n == 0) {
                        errno = EIO; /* shrank under us */
                        return -1;
                }
                p += n;
                len -= (size_t)n;
                off += (uint64_t)n;
        }
        return 0;
}

/* corrupt - the error for a bad file */
static const char *corrupt(const struct queue_file *f, const char *why)
{
        return queue_err("corrupt queue file %s: %s", f->name, why);
}

/* upd_parse - one update record header; its payload length and CRC */
static int upd_parse(const char *h, uint32_t *len, uint32_t *crc)
{
        uint64_t l, c;

        if (memcmp(h, "UPD ", 4) != 0 || h[12] != ' ' || h[21] != '\n' ||
            qf_hex_field(h + 4, 8, &l) < 0 || qf_hex_field(h + 13, 8, &c) < 0)
                return -1;
        *len = (uint32_t)l;
        *crc = (uint32_t)c;
        return 0;
}

/*
 * replay - apply the update records after the envelope.  The first record
 * that is incomplete or fails its CRC ends the log: it is the torn tail of
 * a sync that never returned, and everything after it is ignored.  A
 * record with a good CRC that does not parse is corruption.
 */
static int replay(struct queue_file *f, uint64_t off, const char **errstr)
{
        const char *why;
        uint64_t left = f->file_size - off;
        char *log;

        f->log_off = off;
        f->log_end = off;
        if (left == 0)
                return 0;
        if (left > QF_LOG_MAX) {
                *errstr = corrupt(f, "update log too large");
                return -1;
        }
        log = xmalloc((size_t)left);
        if (src_read(f, log, (size_t)left, off) < 0) {
                *errstr = queue_errno("read %s", f->name);
                free(log);
                return -1;
        }
        size_t p = 0;
        while (p < left) {
                uint32_t len, crc;
                if (left - p < QF_UPD_LEN ||
                    upd_parse(log + p, &len, &crc) < 0 ||
                    len > left - p - QF_UPD_LEN ||
                    queue_crc32(0, log + p + QF_UPD_LEN, len) != crc) {
                        f->torn = true;
                        break;
                }
                if (qf_upd_apply(log + p + QF_UPD_LEN, len, &f->env, &why) <
                    0) {
                        *errstr = corrupt(f, why);
                        free(log);
                        return -1;
                }
                p += QF_UPD_LEN + len;
                f->log_end = off + p;
        }
        free(log);
        return 0;
}

/* file_load - check header and envelope, replay updates */
static int file_load(struct queue_file *f, const char *want_id,
                     const char **errstr)
{
        char hdr[QF_HDR_LEN];
        uint32_t env_len, env_crc;
        const char *why;
        char *env;

        queue_env_init(&f->env);
        strbuf_init(&f->pending);
        if (f->file_size < QF_HDR_LEN) {
                *errstr = corrupt(f, "truncated header");
                return -1;
        }
        if (src_read(f, hdr, QF_HDR_LEN, 0) < 0) {
                *errstr = queue_errno("read %s", f->name);
                return -1;
        }
        if (qf_hdr_decode(hdr, &f->body_len, &env_len, &f->body_crc, &env_crc,
                          &why) < 0) {
                *errstr = corrupt(f, why);
                return -1;
        }
        uint64_t room = f->file_size - QF_HDR_LEN;
        if (f->body_len > room || env_len > room - f->body_len) {
                *errstr = corrupt(f, "truncated (shorter than its header "
                                     "says)");
                return -1;
        }
        if (env_len > QF_ENV_MAX) {
                *errstr = corrupt(f, "envelope too large");
                return -1;
        }
        env = xmalloc(env_len ? env_len : 1);
        if (src_read(f, env, env_len, QF_HDR_LEN + f->body_len) < 0) {
                *errstr = queue_errno("read %s", f->name);
                free(env);
                return -1;
        }
        if (queue_crc32(0, env, env_len) != env_crc) {
                *errstr = corrupt(f, "envelope checksum mismatch");
                free(env);
                return -1;
        }
        int rc = qf_env_decode(env, env_len, &f->env, &why);
        free(env);
        if (rc < 0) {
                *errstr = corrupt(f, why);
                return -1;
        }
        if (f->env.size != f->body_len) {
                *errstr = corrupt(f, "size record differs from the header");
                return -1;
        }
        if (want_id != NULL && strcmp(want_id, f->env.id) != 0) {
                *errstr = corrupt(f, "queue ID differs from the file name");
                return -1;
        }
        return replay(f, QF_HDR_LEN + f->body_len + env_len, errstr);
}

/* queue_file_open - open ready/ID etc. */
int queue_file_open(struct queue *q, enum queue_state st, const char *id,
                    int flags, struct queue_file **out, const char **errstr)
{
        struct queue_file *f;
        struct stat sb;

        if ((unsigned)st >= QUEUE_NSTATES) {
                *errstr = queue_err("bad queue state %d", (int)st);
                return -1;
        }
        if (!queue_id_valid(id)) {
                *errstr = queue_err("bad queue ID \"%.40s\"", id);
                return -1;
        }
        f = xcalloc(1, sizeof(*f));
        snprintf(f->name, sizeof(f->name), "%s/%s", queue_state_name(st), id);
        f->writable = (flags & QUEUE_OPEN_RDWR) != 0;
        f->q = q;
        f->state = st;
        f->fd =
            openat(q->statefd[st], id,
                   (f->writable ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC);
        if (f->fd < 0) {
                *errstr = queue_errno("open %s/%s", q->path, f->name);
                free(f);
                return -1;
        }
        if (fstat(f->fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
                *errstr =
                    queue_err("%s/%s: not a regular file", q->path, f->name);
                queue_file_close(f);
                return -1;
        }
        f->file_size = (uint64_t)sb.st_size;
        if (file_load(f, id, errstr) < 0) {
                queue_file_close(f);
                return -1;
        }
        *out = f;
        return 0;
}

/* queue_file_open_mem - the same checks on a memory image */
int queue_file_open_mem(const void *buf, size_t len, struct queue_file **out,
                        const char **errstr)
{
        struct queue_file *f = xcalloc(1, sizeof(*f));

        f->fd = -1;
        f->mem = buf;
        f->file_size = len;
        snprintf(f->name, sizeof(f->name), "(memory)");
        if (file_load(f, NULL, errstr) < 0) {
                queue_file_close(f);
                return -1;
        }
        *out = f;
        return 0;
}

/* queue_file_close - release */
void queue_file_close(struct queue_file *f)
{
        if (f == NULL)
                return;
        if (f->fd >= 0)
                close(f->fd);
        queue_env_clear(&f->env);
        strbuf_clear(&f->pending);
        free(f);
}

/* queue_file_env - the envelope */
const struct queue_env *queue_file_env(const struct queue_file *f)
{
        return &f->env;
}

/* queue_file_torn - whether a torn tail was ignored */
bool queue_file_torn(const struct queue_file *f)
{
        return f->torn;
}

/* queue_file_read_body - stream the body */
int queue_file_read_body(struct queue_file *f, void *buf, size_t len,
                         size_t *got, const char **errstr)
{
        uint64_t left = f->body_len - f->body_pos;
        size_t n = left < len ? (size_t)left : len;

        *got = 0;
        if (n == 0) {
                /* At the end (also of an empty body): the CRC decides. */
                if (f->body_pos == f->body_len && f->body_run != f->body_crc) {
                        *errstr = corrupt(f, "message body checksum mismatch");
                        return -1;
                }
                return 0;
        }
        if (src_read(f, buf, n, QF_HDR_LEN + f->body_pos) < 0) {
                *errstr = queue_errno("read %s", f->name);
                return -1;
        }
        f->body_run = queue_crc32(f->body_run, buf, n);
        f->body_pos += n;
        if (f->body_pos == f->body_len && f->body_run != f->body_crc) {
                *errstr = corrupt(f, "message body checksum mismatch");
                return -1;
        }
        *got = n;
        return 0;
}

/* queue_file_rewind_body - start over */
void queue_file_rewind_body(struct queue_file *f)
{
        f->body_pos = 0;
        f->body_run = 0;
}

/* queue_file_verify - whole-body CRC check */
int queue_file_verify(struct queue_file *f, const char **errstr)
{
        char buf[65536];
        size_t got;

        queue_file_rewind_body(f);
        do {
                if (queue_file_read_body(f, buf, sizeof(buf), &got, errstr) < 0)
                        return -1;
        } while (got > 0);
        queue_file_rewind_body(f);
        return 0;
}

/* queue_file_set_rcpt - change one recipient */
int queue_file_set_rcpt(struct queue_file *f, size_t i,
                        enum queue_rcpt_state st, const char *reason,
                        long long next_try, const char **errstr)
{
        if (i >= f->env.nrcpt || (unsigned)st > QUEUE_RCPT_DEFERRED ||
            next_try < 0) {
                *errstr = queue_err("%s: bad recipient update", f->name);
                return -1;
        }
        struct queue_rcpt *r = &f->env.rcpt[i];
        free(r->reason);
        r->reason = reason ? xstrdup(reason) : NULL;
        r->state = st;
        r->next_try = next_try;
        qf_upd_rcpt(&f->pending, i, st, reason, next_try);
        return 0;
}

/* queue_file_set_attempts - message retry data */
int queue_file_set_attempts(struct queue_file *f, unsigned attempts,
                            long long next_try, const char **errstr)
{
        if (next_try < 0) {
                *errstr = queue_err("%s: bad next attempt time", f->name);
                return -1;
        }
        f->env.attempts = attempts;
        f->env.next_try = next_try;
        qf_upd_attempts(&f->pending, attempts, next_try);
        return 0;
}

/* queue_file_set_warned - the delay notice's time */
int queue_file_set_warned(struct queue_file *f, long long t,
                          const char **errstr)
{
        if (t < 0) {
                *errstr = queue_err("%s: bad delay notice time", f->name);
                return -1;
        }
        f->env.warned = t;
        qf_upd_warned(&f->pending, t);
        return 0;
}

/* queue_file_sync - append one update record and fdatasync */
int queue_file_sync(struct queue_file *f, const char **errstr)
{
        char hdr[QF_UPD_LEN + 1];

        if (f->pending.len == 0)
                return 0;
        if (!f->writable || f->fd < 0) {
                *errstr = queue_err("%s: opened read-only", f->name);
                return -1;
        }
        if (f->pending.len > UINT32_MAX ||
            f->log_end - f->log_off + QF_UPD_LEN + f->pending.len >
                QF_LOG_MAX) {
                *errstr = queue_err("%s: update log full", f->name);
                return -1;
        }
        /* Cut off a torn tail so the new record follows a valid one. */
        if (f->log_end < f->file_size) {
                if (ftruncate(f->fd, (off_t)f->log_end) < 0) {
                        *errstr = queue_errno("truncate %s", f->name);
                        return -1;
                }
                f->file_size = f->log_end;
                f->torn = false;
        }
        snprintf(hdr, sizeof(hdr), "UPD %08x %08x\n", (unsigned)f->pending.len,
                 (unsigned)queue_crc32(0, f->pending.s, f->pending.len));
        struct strbuf rec;
        strbuf_init(&rec);
        strbuf_add(&rec, hdr, QF_UPD_LEN);
        strbuf_add(&rec, f->pending.s, f->pending.len);
        /* One pwrite of header and payload, then the sync. */
        size_t done = 0;
        int rc = 0;
        while (done < rec.len) {
                ssize_t n = pwrite(f->fd, rec.s + done, rec.len - done,
                                   (off_t)(f->log_end + done));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        rc = -1;
                        break;
                }
                done += (size_t)n;
        }
        while (rc == 0 && fdatasync(f->fd) < 0) {
                if (errno != EINTR)
                        rc = -1;
        }
        if (rc < 0) {
                *errstr = queue_errno("update %s", f->name);
                strbuf_clear(&rec);
                return -1;
        }
        f->log_end += rec.len;
        f->file_size = f->log_end;
        strbuf_clear(&rec);
        strbuf_reset(&f->pending);
        return 0;
}

/* copy_body - copy the body of f into fd at the same offset, checking
 * its CRC on the way */
static int copy_body(struct queue_file *f, int fd, const char **errstr)
{
        char buf[65536];
        size_t got;
        uint64_t off = QF_HDR_LEN;

        queue_file_rewind_body(f);
        for (;;) {
                if (queue_file_read_body(f, buf, sizeof(buf), &got, errstr) < 0)
                        return -1;
                if (got == 0)
                        return 0;
                for (size_t done = 0; done < got;) {
                        ssize_t n = pwrite(fd, buf + done, got - done,
                                           (off_t)(off + done));
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0) {
                                *errstr =
                                    queue_errno("write compacted %s", f->name);
                                return -1;
                        }
                        done += (size_t)n;
                }
                off += got;
        }
}

/* write_all_at - pwrite everything */
static int write_all_at(int fd, const char *p, size_t len, uint64_t off)
{
        while (len > 0) {
                ssize_t n = pwrite(fd, p, len, (off_t)off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return -1;
                p += n;
                len -= (size_t)n;
                off += (uint64_t)n;
        }
        return 0;
}

/* queue_file_compact - rewrite with the current states, no update log */
int queue_file_compact(struct queue_file *f, const char **errstr)
{
        struct queue *q = f->q;
        struct stat a, b;
        char tmpname[48], hdr[QF_HDR_LEN];
        const char *why;
        struct strbuf sb;
        int fd;

        if (q == NULL || !f->writable) {
                *errstr = queue_err("%s: opened read-only", f->name);
                return -1;
        }
        if (f->pending.len > 0) {
                *errstr =
                    queue_err("%s: compact with unsynced changes", f->name);
                return -1;
        }
        if (qf_env_check(&f->env, &why) < 0) {
                *errstr = corrupt(f, why);
                return -1;
        }
        /* The file must still be where it was opened: renaming the copy
         * into the old state directory would duplicate a moved message. */
        if (fstat(f->fd, &a) < 0 ||
            fstatat(q->statefd[f->state], f->env.id, &b, AT_SYMLINK_NOFOLLOW) <
                0 ||
            a.st_ino != b.st_ino || a.st_dev != b.st_dev) {
                *errstr = queue_err("%s: moved or removed since it was opened",
                                    f->name);
                return -1;
        }
        for (int tries = 0;; tries++) {
                snprintf(tmpname, sizeof(tmpname), "c%ld.%u",
                         (long)base_getpid(), q->counter++);
                fd = openat(q->tmpfd, tmpname,
                            O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
                if (fd >= 0)
                        break;
                if (errno != EEXIST || tries > 1000) {
                        *errstr =
                            queue_errno("create %s/tmp/%s", q->path, tmpname);
                        return -1;
                }
        }
        strbuf_init(&sb);
        qf_env_encode(&f->env, f->env.id, f->body_len, &sb);
        qf_hdr_encode(hdr, f->body_len, (uint32_t)sb.len, f->body_crc,
                      queue_crc32(0, sb.s, sb.len));
        int rc = copy_body(f, fd, errstr);
        if (rc == 0 &&
            (write_all_at(fd, sb.s, sb.len, QF_HDR_LEN + f->body_len) < 0 ||
             write_all_at(fd, hdr, QF_HDR_LEN, 0) < 0 || fdatasync(fd) < 0)) {
                *errstr = queue_errno("write compacted %s", f->name);
                rc = -1;
        }
        /* The rename replaces the old file atomically: a crash leaves the
         * old file with its log or the new one, which say the same. */
        if (rc == 0 &&
            renameat(q->tmpfd, tmpname, q->statefd[f->state], f->env.id) < 0) {
                *errstr = queue_errno("rename compacted %s", f->name);
                rc = -1;
        }
        if (rc < 0) {
                (void)unlinkat(q->tmpfd, tmpname, 0);
                close(fd);
                strbuf_clear(&sb);
                queue_file_rewind_body(f);
                return -1;
        }
        if (qf_fsync_dir(q->statefd[f->state]) < 0) {
                /* The new file is in place; only its durability is unknown,
                 * and the old one says the same. */
                *errstr = queue_errno("fsync %s/%s", q->path,
                                      queue_state_name(f->state));
                rc = -1;
        }
        close(f->fd);
        f->fd = fd;
        f->file_size = QF_HDR_LEN + f->body_len + sb.len;
        f->log_off = f->log_end = f->file_size;
        f->torn = false;
        queue_file_rewind_body(f);
        strbuf_clear(&sb);
        return rc;
}

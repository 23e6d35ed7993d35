/* SPDX-License-Identifier: MIT */
/* queue_write.c - writing a message into tmp/ and committing batches */
#include "queue/queue_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

/* Body bytes buffered before a write(2): bounds memory per message. */
#define MSG_BUF_SIZE (64 * 1024)

enum msg_phase { MSG_WRITING, MSG_FINISHED, MSG_COMMITTED, MSG_FAILED };

struct queue_msg {
        struct queue *q;
        int fd;
        enum msg_phase phase;
        char tmpname[48];
        char id[QUEUE_ID_SIZE];
        long long created;
        unsigned char *buf;
        size_t buflen;
        uint64_t body_len; /* bytes accepted, buffered or on disk */
        uint32_t crc;
};

/* pwrite_all - write everything at off, retrying short writes */
static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
        const char *p = buf;

        while (len > 0) {
                ssize_t n = pwrite(fd, p, len, (off_t)off);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -1;
                }
                if (n == 0) {
                        errno = EIO;
                        return -1;
                }
                p += n;
                len -= (size_t)n;
                off += (uint64_t)n;
        }
        return 0;
}

/* queue_msg_new - create the tmp file and the ID */
int queue_msg_new(struct queue *q, struct queue_msg **out, const char **errstr)
{
        struct queue_msg *m = xcalloc(1, sizeof(*m));
        struct timeval tv;
        struct stat st;

        m->q = q;
        m->fd = -1;
        for (int tries = 0; m->fd < 0; tries++) {
                snprintf(m->tmpname, sizeof(m->tmpname), "t%ld.%u",
                         (long)base_getpid(), q->counter++);
                m->fd = openat(q->tmpfd, m->tmpname,
                               O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
                if (m->fd < 0 && (errno != EEXIST || tries > 1000)) {
                        *errstr = queue_errno("create %s/tmp/%s", q->path,
                                              m->tmpname);
                        free(m);
                        return -1;
                }
        }
        if (fstat(m->fd, &st) < 0) {
                *errstr = queue_errno("fstat %s/tmp/%s", q->path, m->tmpname);
                queue_msg_abort(m);
                return -1;
        }
        /* The inode makes the ID unique among files that exist at once;
         * the time in front makes IDs sort by arrival. */
        gettimeofday(&tv, NULL);
        long long sec = (long long)tv.tv_sec;
        long usec = (long)tv.tv_usec;
        /* Strictly increasing within a process, so an inode freed by an
         * abort and reused at once still gets a new ID. */
        if (sec < q->last_sec || (sec == q->last_sec && usec <= q->last_usec)) {
                sec = q->last_sec;
                usec = q->last_usec + 1;
                if (usec > 999999) {
                        sec++;
                        usec = 0;
                }
        }
        q->last_sec = sec;
        q->last_usec = usec;
        qf_id_make(m->id, sec, usec, (unsigned long long)st.st_ino);
        m->created = (long long)tv.tv_sec;
        m->buf = xmalloc(MSG_BUF_SIZE);
        m->phase = MSG_WRITING;
        *out = m;
        return 0;
}

/* queue_msg_id - the ID */
const char *queue_msg_id(const struct queue_msg *m)
{
        return m->id;
}

/* queue_msg_size - bytes so far */
uint64_t queue_msg_size(const struct queue_msg *m)
{
        return m->body_len;
}

/* msg_flush - write the buffered body bytes */
static int msg_flush(struct queue_msg *m, const char **errstr)
{
        if (m->buflen == 0)
                return 0;
        if (pwrite_all(m->fd, m->buf, m->buflen,
                       QF_HDR_LEN + m->body_len - m->buflen) < 0) {
                *errstr =
                    queue_errno("write %s/tmp/%s", m->q->path, m->tmpname);
                m->phase = MSG_FAILED;
                return -1;
        }
        m->buflen = 0;
        return 0;
}

/* queue_msg_write - append body bytes */
int queue_msg_write(struct queue_msg *m, const void *data, size_t len,
                    const char **errstr)
{
        const unsigned char *p = data;

        if (m->phase != MSG_WRITING) {
                *errstr = queue_err("queue file %s: write after error or "
                                    "finish",
                                    m->id);
                return -1;
        }
        m->crc = queue_crc32(m->crc, data, len);
        while (len > 0) {
                size_t room = MSG_BUF_SIZE - m->buflen;
                size_t n = len < room ? len : room;
                memcpy(m->buf + m->buflen, p, n);
                m->buflen += n;
                m->body_len += n;
                p += n;
                len -= n;
                if (m->buflen == MSG_BUF_SIZE && msg_flush(m, errstr) < 0)
                        return -1;
        }
        return 0;
}

/* pwritev_all - write the vectors at off, retrying short writes */
static int pwritev_all(int fd, struct iovec *iov, int n, uint64_t off)
{
        while (n > 0) {
                ssize_t w = pwritev(fd, iov, n, (off_t)off);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -1;
                }
                if (w == 0) {
                        errno = EIO;
                        return -1;
                }
                off += (uint64_t)w;
                while (n > 0 && (size_t)w >= iov->iov_len) {
                        w -= (ssize_t)iov->iov_len;
                        iov++;
                        n--;
                }
                if (n > 0) {
                        iov->iov_base = (char *)iov->iov_base + w;
                        iov->iov_len -= (size_t)w;
                }
        }
        return 0;
}

/* finish_write - the buffered body, the envelope and the header: one
 * write for a message that never left the buffer (most of them), else
 * the rest of the body with the envelope, then the header */
static int finish_write(struct queue_msg *m, const char *hdr,
                        const struct strbuf *env)
{
        struct iovec iov[3];
        int n = 0;

        if (m->buflen == m->body_len)
                iov[n++] = (struct iovec){(void *)hdr, QF_HDR_LEN};
        iov[n++] = (struct iovec){m->buf, m->buflen};
        iov[n++] = (struct iovec){env->s, env->len};
        if (n == 3)
                return pwritev_all(m->fd, iov, n, 0);
        if (pwritev_all(m->fd, iov, n, QF_HDR_LEN + m->body_len - m->buflen) <
            0)
                return -1;
        m->buflen = 0;
        return pwrite_all(m->fd, hdr, QF_HDR_LEN, 0);
}

/* queue_msg_finish - envelope and header; the data sync is the commit's */
int queue_msg_finish(struct queue_msg *m, const struct queue_env *env,
                     const char **id, const char **errstr)
{
        struct strbuf sb;
        char hdr[QF_HDR_LEN];
        const char *why;
        struct queue_env copy;

        if (m->phase != MSG_WRITING) {
                *errstr = queue_err("queue file %s: finish after error or "
                                    "finish",
                                    m->id);
                return -1;
        }
        if (qf_env_check(env, &why) < 0) {
                *errstr = queue_err("queue file %s: %s", m->id, why);
                return -1;
        }
        copy = *env;
        if (copy.arrival == 0)
                copy.arrival = m->created;
        strbuf_init(&sb);
        qf_env_encode(&copy, m->id, m->body_len, &sb);
        if (sb.len > QF_ENV_MAX) {
                strbuf_clear(&sb);
                *errstr = queue_err("queue file %s: envelope too large", m->id);
                m->phase = MSG_FAILED;
                return -1;
        }
        qf_hdr_encode(hdr, m->body_len, (uint32_t)sb.len, m->crc,
                      queue_crc32(0, sb.s, sb.len));
        int rc = finish_write(m, hdr, &sb);
        strbuf_clear(&sb);
        if (rc < 0) {
                *errstr =
                    queue_errno("write %s/tmp/%s", m->q->path, m->tmpname);
                m->phase = MSG_FAILED;
                return -1;
        }
        free(m->buf);
        m->buf = NULL;
        m->phase = MSG_FINISHED;
        if (id != NULL)
                *id = m->id;
        return 0;
}

/* sync_file - fdatasync, retried after a signal */
static int sync_file(int fd)
{
        while (fdatasync(fd) < 0) {
                if (errno != EINTR)
                        return -1;
        }
        return 0;
}

/* batch_sync - make a batch's files durable before any of them is renamed.
 * One message: its fdatasync.  Several: one syncfs of the queue's file
 * system, which writes their data and inodes together (neighbouring inodes
 * share a block) and flushes the disk cache once instead of once per
 * message.  If syncfs fails (it also reports other files' write-back
 * errors), each file's own fdatasync decides. */
static int batch_sync(struct queue *q, struct queue_msg **msgs, size_t n,
                      const char **errstr)
{
        if (n > 1 && syncfs(q->tmpfd) == 0)
                return 0;
        for (size_t i = 0; i < n; i++) {
                if (sync_file(msgs[i]->fd) < 0) {
                        *errstr = queue_errno("fdatasync %s/tmp/%s", q->path,
                                              msgs[i]->tmpname);
                        return -1;
                }
        }
        return 0;
}

/* queue_commit - into ready/ */
int queue_commit(struct queue *q, struct queue_msg **msgs, size_t n,
                 const char **errstr)
{
        return queue_commit_to(q, QUEUE_READY, msgs, n, errstr);
}

/* rollback - undo the first n renames of a failed batch, best effort */
static void rollback(struct queue *q, int tofd, struct queue_msg **msgs,
                     size_t n)
{
        for (size_t i = 0; i < n; i++) {
                if (renameat(tofd, msgs[i]->id, q->tmpfd, msgs[i]->tmpname) ==
                    0)
                        msgs[i]->phase = MSG_FINISHED;
        }
}

/* queue_commit_to - sync a batch, rename it, one directory fsync */
int queue_commit_to(struct queue *q, enum queue_state st,
                    struct queue_msg **msgs, size_t n, const char **errstr)
{
        if ((unsigned)st >= QUEUE_NSTATES || st == QUEUE_CORRUPT) {
                *errstr = queue_err("cannot commit into state %d", (int)st);
                return -1;
        }
        for (size_t i = 0; i < n; i++) {
                if (msgs[i]->q != q || msgs[i]->phase != MSG_FINISHED) {
                        *errstr = queue_err("queue file %s: commit of an "
                                            "unfinished message",
                                            msgs[i]->id);
                        return -1;
                }
        }
        if (batch_sync(q, msgs, n, errstr) < 0)
                return -1;
        int tofd = q->statefd[st];
        for (size_t i = 0; i < n; i++) {
                struct queue_msg *m = msgs[i];
                if (qf_rename_noreplace(q->tmpfd, m->tmpname, tofd, m->id) <
                    0) {
                        *errstr = queue_errno("rename %s/tmp/%s to %s/%s",
                                              q->path, m->tmpname,
                                              queue_state_name(st), m->id);
                        rollback(q, tofd, msgs, i);
                        return -1;
                }
                m->phase = MSG_COMMITTED;
        }
        if (qf_fsync_dir(tofd) < 0) {
                *errstr =
                    queue_errno("fsync %s/%s", q->path, queue_state_name(st));
                rollback(q, tofd, msgs, n);
                return -1;
        }
        for (size_t i = 0; i < n; i++) {
                close(msgs[i]->fd);
                msgs[i]->fd = -1;
        }
        return 0;
}

/* queue_msg_abort - discard */
void queue_msg_abort(struct queue_msg *m)
{
        if (m == NULL)
                return;
        if (m->phase != MSG_COMMITTED)
                (void)unlinkat(m->q->tmpfd, m->tmpname, 0);
        if (m->fd >= 0)
                close(m->fd);
        free(m->buf);
        free(m);
}

/* queue_msg_free - free; uncommitted means abort */
void queue_msg_free(struct queue_msg *m)
{
        queue_msg_abort(m);
}

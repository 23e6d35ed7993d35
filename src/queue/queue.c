/* SPDX-License-Identifier: MIT */
/* queue.c - queue directories, listing, moves, tmp cleaning, notification */
#include "queue/queue_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define TMP_DIR "tmp"

/* dir_mode - the mode a subdirectory is created with */
static mode_t dir_mode(const char *name)
{
        return strcmp(name, "maildrop") == 0 ? 0730 : 0700;
}

/* mkdir_one - create a directory with exactly its mode if missing */
static int mkdir_one(int atfd, const char *path, const char *name, mode_t mode)
{
        if (mkdirat(atfd, name, mode) < 0) {
                if (errno == EEXIST)
                        return 0;
                queue_errno("create queue directory %s/%s", path, name);
                return -1;
        }
        /* mkdir applies the umask; set what was asked. */
        if (fchmodat(atfd, name, mode, 0) < 0) {
                queue_errno("chmod queue directory %s/%s", path, name);
                return -1;
        }
        return 0;
}

/* queue_init - create the directories, then check them */
int queue_init(const char *dir, const char **errstr)
{
        struct queue *q;
        int fd;

        if (mkdir(dir, 0700) == 0) {
                if (chmod(dir, 0700) < 0) {
                        *errstr = queue_errno("chmod queue directory %s", dir);
                        return -1;
                }
        } else if (errno != EEXIST) {
                *errstr = queue_errno("create queue directory %s", dir);
                return -1;
        }
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                *errstr = queue_errno("open queue directory %s", dir);
                return -1;
        }
        int rc = mkdir_one(fd, dir, TMP_DIR, 0700);
        for (size_t i = 0; rc == 0 && i < QUEUE_NSTATES; i++) {
                const char *name = queue_state_name((enum queue_state)i);
                rc = mkdir_one(fd, dir, name, dir_mode(name));
        }
        close(fd);
        if (rc < 0) {
                *errstr = queue_last_error();
                return -1;
        }
        if (queue_open(dir, &q, errstr) < 0)
                return -1;
        queue_close(q);
        return 0;
}

/* check_dir - refuse a directory others could write or that is foreign */
static int check_dir(int fd, const char *path, const char *name, bool group_ok)
{
        struct stat st;
        char full[4096];

        snprintf(full, sizeof(full), "%s%s%s", path, name ? "/" : "",
                 name ? name : "");
        if (fstat(fd, &st) < 0) {
                queue_errno("stat queue directory %s", full);
                return -1;
        }
        if (!S_ISDIR(st.st_mode)) {
                queue_err("queue directory %s is not a directory", full);
                return -1;
        }
        if (st.st_mode & S_IWOTH) {
                queue_err("queue directory %s is writable by others: "
                          "chmod o-w %s",
                          full, full);
                return -1;
        }
        if ((st.st_mode & S_IWGRP) && !group_ok) {
                queue_err("queue directory %s is writable by its group: "
                          "chmod g-w %s",
                          full, full);
                return -1;
        }
        if (st.st_uid != geteuid() && geteuid() != 0) {
                queue_err("queue directory %s is owned by uid %lu, not by "
                          "uid %lu running postern",
                          full, (unsigned long)st.st_uid,
                          (unsigned long)geteuid());
                return -1;
        }
        return 0;
}

/* open_sub - open and check one subdirectory */
static int open_sub(struct queue *q, const char *name, int *out)
{
        int fd = openat(q->dirfd, name,
                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

        if (fd < 0) {
                queue_errno("open queue directory %s/%s (run postern "
                            "queue init?)",
                            q->path, name);
                return -1;
        }
        if (check_dir(fd, q->path, name, strcmp(name, "maildrop") == 0) < 0) {
                close(fd);
                return -1;
        }
        *out = fd;
        return 0;
}

/* queue_open - open and check an existing queue */
int queue_open(const char *dir, struct queue **out, const char **errstr)
{
        struct queue *q = xcalloc(1, sizeof(*q));

        q->path = xstrdup(dir);
        q->tmpfd = -1;
        q->notifyfd = -1;
        /* tmp/ names are tPID.COUNTER: start the counter somewhere new so
         * a reused PID rarely meets the leftovers of a crashed process. */
        q->counter = (unsigned)time(NULL) * 2654435761u;
        for (size_t i = 0; i < QUEUE_NSTATES; i++)
                q->statefd[i] = -1;
        q->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (q->dirfd < 0) {
                *errstr = queue_errno("open queue directory %s", dir);
                queue_close(q);
                return -1;
        }
        if (check_dir(q->dirfd, dir, NULL, false) < 0 ||
            open_sub(q, TMP_DIR, &q->tmpfd) < 0)
                goto fail;
        for (size_t i = 0; i < QUEUE_NSTATES; i++)
                if (open_sub(q, queue_state_name((enum queue_state)i),
                             &q->statefd[i]) < 0)
                        goto fail;
        *out = q;
        return 0;
fail:
        *errstr = queue_last_error();
        queue_close(q);
        return -1;
}

/* queue_close - release */
void queue_close(struct queue *q)
{
        if (q == NULL)
                return;
        if (q->dirfd >= 0)
                close(q->dirfd);
        if (q->tmpfd >= 0)
                close(q->tmpfd);
        for (size_t i = 0; i < QUEUE_NSTATES; i++)
                if (q->statefd[i] >= 0)
                        close(q->statefd[i]);
        if (q->notifyfd >= 0)
                close(q->notifyfd);
        free(q->path);
        free(q);
}

/* queue_path - the directory */
const char *queue_path(const struct queue *q)
{
        return q->path;
}

/* qf_fsync_dir - make a directory's entries durable */
int qf_fsync_dir(int fd)
{
        while (fsync(fd) < 0) {
                if (errno != EINTR)
                        return -1;
        }
        return 0;
}

/* qf_rename_noreplace - rename that fails with EEXIST rather than replace */
int qf_rename_noreplace(int fromfd, const char *from, int tofd, const char *to)
{
        if (renameat2(fromfd, from, tofd, to, RENAME_NOREPLACE) == 0)
                return 0;
        if (errno != EINVAL && errno != ENOSYS)
                return -1;
        /* A file system without RENAME_NOREPLACE: link fails on EEXIST. */
        if (linkat(fromfd, from, tofd, to, 0) < 0)
                return -1;
        if (unlinkat(fromfd, from, 0) < 0 && errno != ENOENT)
                return -1;
        return 0;
}

/* state_ok - a valid state */
static int state_ok(enum queue_state st, const char **errstr)
{
        if ((unsigned)st >= QUEUE_NSTATES) {
                *errstr = queue_err("bad queue state %d", (int)st);
                return -1;
        }
        return 0;
}

/* id_cmp - qsort comparison of IDs (time order) */
static int id_cmp(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* queue_list - sorted IDs of one state */
int queue_list(struct queue *q, enum queue_state st, struct strlist *ids,
               const char **errstr)
{
        DIR *d;
        struct dirent *e;
        size_t first = ids->n;

        if (state_ok(st, errstr) < 0)
                return -1;
        int fd =
            openat(q->statefd[st], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || (d = fdopendir(fd)) == NULL) {
                *errstr =
                    queue_errno("open %s/%s", q->path, queue_state_name(st));
                if (fd >= 0)
                        close(fd);
                return -1;
        }
        errno = 0;
        while ((e = readdir(d)) != NULL) {
                if (queue_id_valid(e->d_name))
                        strlist_push(ids, e->d_name);
                errno = 0;
        }
        if (errno != 0) {
                *errstr =
                    queue_errno("read %s/%s", q->path, queue_state_name(st));
                closedir(d);
                return -1;
        }
        closedir(d);
        if (ids->n > first)
                qsort(ids->v + first, ids->n - first, sizeof(char *), id_cmp);
        return 0;
}

/* queue_find - which state holds id */
int queue_find(struct queue *q, const char *id, enum queue_state *st,
               const char **errstr)
{
        struct stat sb;

        if (!queue_id_valid(id)) {
                *errstr = queue_err("bad queue ID \"%.40s\"", id);
                return -1;
        }
        for (size_t i = 0; i < QUEUE_NSTATES; i++) {
                if (fstatat(q->statefd[i], id, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
                        *st = (enum queue_state)i;
                        return 0;
                }
        }
        *errstr = queue_err("%s: no such message in the queue", id);
        return -1;
}

/* queue_move - crash-safe change of state */
int queue_move(struct queue *q, const char *id, enum queue_state from,
               enum queue_state to, const char **errstr)
{
        if (state_ok(from, errstr) < 0 || state_ok(to, errstr) < 0)
                return -1;
        if (!queue_id_valid(id)) {
                *errstr = queue_err("bad queue ID \"%.40s\"", id);
                return -1;
        }
        if (from == to)
                return 0;
        if (qf_rename_noreplace(q->statefd[from], id, q->statefd[to], id) < 0) {
                *errstr =
                    queue_errno("move %s from %s to %s", id,
                                queue_state_name(from), queue_state_name(to));
                return -1;
        }
        /* New name first: a crash leaves the file in one place or both
         * (links), never in none. */
        if (qf_fsync_dir(q->statefd[to]) < 0 ||
            qf_fsync_dir(q->statefd[from]) < 0) {
                *errstr =
                    queue_errno("fsync %s/%s", q->path, queue_state_name(to));
                return -1;
        }
        return 0;
}

/* queue_delete - remove a message */
int queue_delete(struct queue *q, enum queue_state st, const char *id,
                 const char **errstr)
{
        if (state_ok(st, errstr) < 0)
                return -1;
        if (!queue_id_valid(id)) {
                *errstr = queue_err("bad queue ID \"%.40s\"", id);
                return -1;
        }
        if (unlinkat(q->statefd[st], id, 0) < 0) {
                *errstr = queue_errno("delete %s/%s/%s", q->path,
                                      queue_state_name(st), id);
                return -1;
        }
        return 0;
}

/* queue_clean_tmp - remove abandoned files from tmp/ */
int queue_clean_tmp(struct queue *q, long long max_age, size_t *removed,
                    const char **errstr)
{
        DIR *d;
        struct dirent *e;
        size_t n = 0;
        time_t now = time(NULL);

        int fd = openat(q->tmpfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || (d = fdopendir(fd)) == NULL) {
                *errstr = queue_errno("open %s/tmp", q->path);
                if (fd >= 0)
                        close(fd);
                return -1;
        }
        while ((e = readdir(d)) != NULL) {
                struct stat st;
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                        continue;
                if (fstatat(q->tmpfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                        continue;
                if (S_ISDIR(st.st_mode))
                        continue;
                if (max_age > 0 && (long long)(now - st.st_mtime) < max_age)
                        continue;
                if (unlinkat(q->tmpfd, e->d_name, 0) == 0)
                        n++;
        }
        closedir(d);
        if (removed != NULL)
                *removed = n;
        return 0;
}

/* notify_addr - the socket address; -1 if the path does not fit */
static int notify_addr(struct queue *q, struct sockaddr_un *sun)
{
        memset(sun, 0, sizeof(*sun));
        sun->sun_family = AF_UNIX;
        int n = snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/%s", q->path,
                         QUEUE_NOTIFY_SOCKET);
        if (n < 0 || (size_t)n >= sizeof(sun->sun_path))
                return -1;
        return 0;
}

/* queue_notify - wake the queue manager, best effort.  The socket is
 * named through the queue's open directory (/proc/self/fd/N/qmgr.sock),
 * so that a worker that dropped privileges reaches it even when a parent
 * of queue_directory is closed to mail_owner; the full path where /proc
 * is not mounted. */
void queue_notify(struct queue *q)
{
        static int have_proc = -1;
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        int saved = errno;

        if (have_proc < 0)
                have_proc = access("/proc/self/fd", X_OK) == 0;
        if (have_proc)
                snprintf(sun.sun_path, sizeof(sun.sun_path),
                         "/proc/self/fd/%d/%s", q->dirfd, QUEUE_NOTIFY_SOCKET);
        else if (notify_addr(q, &sun) < 0)
                return;
        if (q->notifyfd < 0)
                q->notifyfd = socket(
                    AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (q->notifyfd >= 0)
                (void)sendto(q->notifyfd, "R", 1, MSG_DONTWAIT | MSG_NOSIGNAL,
                             (struct sockaddr *)&sun, sizeof(sun));
        errno = saved;
}

/* queue_notify_listen - bind the qmgr side of the notification socket */
int queue_notify_listen(struct queue *q, int *out, const char **errstr)
{
        struct sockaddr_un sun;
        int fd;

        if (notify_addr(q, &sun) < 0) {
                *errstr = queue_err("queue directory path %s too long for a "
                                    "socket",
                                    q->path);
                return -1;
        }
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                *errstr = queue_errno("socket");
                return -1;
        }
        (void)unlinkat(q->dirfd, QUEUE_NOTIFY_SOCKET, 0);
        if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
                *errstr = queue_errno("bind %s", sun.sun_path);
                close(fd);
                return -1;
        }
        *out = fd;
        return 0;
}

/* SPDX-License-Identifier: MIT */
/* local.c - Maildir delivery for mydestination and virtual mailboxes */
#include "local/local.h"
#include "conf/conf.h"
#include "log/log.h"
#include "queue/queue.h"
#include "table/table.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct local {
        const struct conf *conf;
        struct table_list *vmaps;
        unsigned counter;
};

/* local_new - open the virtual mailbox tables */
int local_new(const struct conf *c, struct local **out, char **err)
{
        struct local *l = xcalloc(1, sizeof(*l));

        l->conf = c;
        if (table_list_open(c->virtual_mailbox_maps, &l->vmaps, err) < 0) {
                free(l);
                *out = NULL;
                return -1;
        }
        *out = l;
        return 0;
}

/* local_free - release */
void local_free(struct local *l)
{
        if (l == NULL)
                return;
        table_list_close(l->vmaps);
        free(l);
}

/* result_set - fill in an outcome */
static void result_set(struct local_result *r, enum local_status st,
                       const char *dsn, const char *fmt, ...) PRINTFLIKE(4, 5);
static void result_set(struct local_result *r, enum local_status st,
                       const char *dsn, const char *fmt, ...)
{
        va_list ap;

        r->status = st;
        snprintf(r->dsn, sizeof(r->dsn), "%s", dsn);
        va_start(ap, fmt);
        vsnprintf(r->text, sizeof(r->text), fmt, ap);
        va_end(ap);
}

/* safe_component - whether s can be one path component of a mailbox */
static bool safe_component(const char *s)
{
        if (*s == 0 || *s == '.')
                return false;
        for (; *s; s++)
                if (*s == '/' || (unsigned char)*s < 0x21 || *s == 0x7f)
                        return false;
        return true;
}

/* safe_relpath - a relative path without "." or ".." components */
static bool safe_relpath(const char *p)
{
        if (*p == '/' || *p == 0)
                return false;
        while (*p) {
                const char *e = strchr(p, '/');
                size_t n = e ? (size_t)(e - p) : strlen(p);
                if ((n == 1 && p[0] == '.') ||
                    (n == 2 && p[0] == '.' && p[1] == '.'))
                        return false;
                for (size_t i = 0; i < n; i++)
                        if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
                                return false;
                p += n;
                while (*p == '/')
                        p++;
        }
        return true;
}

/* local_maildir - where a recipient's mail goes */
int local_maildir(struct local *l, const char *rcpt, bool virtual, char **path,
                  struct local_result *r)
{
        const char *at = strrchr(rcpt, '@');
        *path = NULL;

        if (!virtual) {
                char *lp =
                    at ? xstrndup(rcpt, (size_t)(at - rcpt)) : xstrdup(rcpt);
                const char *delim = l->conf->recipient_delimiter;
                str_lower(lp);
                if (delim && *delim) {
                        char *cut = strpbrk(lp, delim);
                        if (cut && cut != lp)
                                *cut = 0;
                }
                if (!safe_component(lp)) {
                        result_set(r, LOCAL_BOUNCE, "5.1.3",
                                   "bad address syntax");
                        free(lp);
                        return -1;
                }
                *path = xasprintf("%s/mail/%s/Maildir/",
                                  l->conf->data_directory, lp);
                free(lp);
                return 0;
        }
        char *key = xstrdup(rcpt);
        const char *val = NULL;
        char *err = NULL;
        enum table_status st;
        str_lower(key);
        st = table_list_lookup(l->vmaps, key, &val, NULL, &err);
        if (st == TABLE_NOTFOUND && at) {
                free(key);
                key = xstrdup(at);
                str_lower(key);
                st = table_list_lookup(l->vmaps, key, &val, NULL, &err);
        }
        free(key);
        if (st == TABLE_ERROR) {
                result_set(r, LOCAL_DEFER, "4.3.0",
                           "virtual_mailbox_maps lookup error: %s", err);
                free(err);
                return -1;
        }
        if (st == TABLE_NOTFOUND) {
                result_set(r, LOCAL_BOUNCE, "5.1.1", "unknown user: \"%s\"",
                           rcpt);
                return -1;
        }
        if (!safe_relpath(val)) {
                result_set(r, LOCAL_DEFER, "4.3.5",
                           "unsafe mailbox path \"%s\" in "
                           "virtual_mailbox_maps",
                           val);
                return -1;
        }
        if (val[strlen(val) - 1] != '/') {
                result_set(r, LOCAL_DEFER, "4.3.5",
                           "mailbox \"%s\" is not a Maildir (no trailing /): "
                           "mbox delivery is not supported",
                           val);
                return -1;
        }
        if (*l->conf->virtual_mailbox_base == 0) {
                result_set(r, LOCAL_DEFER, "4.3.5",
                           "virtual_mailbox_base is not set");
                return -1;
        }
        *path = xasprintf("%s/%s", l->conf->virtual_mailbox_base, val);
        return 0;
}

/* mkdirs - mkdir -p, 0700 */
static int mkdirs(const char *path)
{
        char *p = xstrdup(path);
        int rc = 0;

        for (char *s = p + 1;; s++) {
                if (*s != '/' && *s != 0)
                        continue;
                char c = *s;
                *s = 0;
                if (mkdir(p, 0700) < 0 && errno != EEXIST) {
                        rc = -1;
                        break;
                }
                *s = c;
                if (c == 0)
                        break;
        }
        free(p);
        return rc;
}

/* fsync_dir - make a rename in dir durable */
static int fsync_dir(const char *dir)
{
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int rc;

        if (fd < 0)
                return -1;
        rc = fsync(fd);
        close(fd);
        return rc;
}

/* A Maildir file being written and what it may still take: the local
 * and virtual mailbox size limits apply to each file, as in Postfix. */
struct mfile {
        int fd;
        bool limited;
        bool overflow; /* a write went past the limit */
        unsigned long long room;
};

/* write_all - write everything or fail; EFBIG past the file's limit */
static int write_all(struct mfile *f, const char *p, size_t n)
{
        if (f->limited) {
                if (n > f->room) {
                        f->overflow = true;
                        errno = EFBIG;
                        return -1;
                }
                f->room -= n;
        }
        int fd = f->fd;
        while (n > 0) {
                ssize_t w = write(fd, p, n);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -1;
                }
                p += w;
                n -= (size_t)w;
        }
        return 0;
}

/* copy_body - the message with CRLF turned into LF; -1 with *why */
static int copy_body(struct queue_file *qf, struct mfile *f, const char **why)
{
        char in[65536], out[65536];
        size_t got;
        bool cr = false;

        queue_file_rewind_body(qf);
        for (;;) {
                if (queue_file_read_body(qf, in, sizeof(in), &got, why) < 0)
                        return -1;
                if (got == 0)
                        break;
                size_t o = 0;
                for (size_t i = 0; i < got; i++) {
                        if (cr && in[i] != '\n')
                                out[o++] = '\r';
                        cr = in[i] == '\r';
                        if (!cr)
                                out[o++] = in[i];
                        if (o >= sizeof(out) - 2) {
                                if (write_all(f, out, o) < 0) {
                                        *why = strerror(errno);
                                        return -1;
                                }
                                o = 0;
                        }
                }
                if (o && write_all(f, out, o) < 0) {
                        *why = strerror(errno);
                        return -1;
                }
        }
        if (cr && write_all(f, "\r", 1) < 0) {
                *why = strerror(errno);
                return -1;
        }
        return 0;
}

/* maildir_write - one message into a Maildir, tmp/ then new/ */
static int maildir_write(struct local *l, const char *dir,
                         struct queue_file *qf, const char *rcpt, bool virtual,
                         struct local_result *r)
{
        const struct queue_env *env = queue_file_env(qf);
        char *tmpd = xasprintf("%stmp", dir), *newd = xasprintf("%snew", dir);
        char *curd = xasprintf("%scur", dir), *tmpf = NULL, *newf = NULL;
        char host[256];
        struct timespec ts;
        struct stat st;
        const char *why = NULL;
        int fd = -1, rc = -1;

        if (mkdirs(tmpd) < 0 || mkdirs(newd) < 0 || mkdirs(curd) < 0) {
                result_set(r, LOCAL_DEFER, "4.2.0",
                           "cannot create maildir %s: %s", dir,
                           strerror(errno));
                goto out;
        }
        snprintf(host, sizeof(host), "%s", l->conf->myhostname);
        for (char *h = host; *h; h++)
                if (*h == '/' || *h == ':')
                        *h = '_';
        clock_gettime(CLOCK_REALTIME, &ts);
        tmpf = xasprintf("%s/%lld.M%ldP%ldQ%u.%s", tmpd, (long long)ts.tv_sec,
                         ts.tv_nsec / 1000, (long)base_getpid(), ++l->counter,
                         host);
        fd = open(tmpf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        long long limit = virtual ? l->conf->virtual_mailbox_limit
                                  : l->conf->mailbox_size_limit;
        struct mfile mf = {.fd = fd,
                           .limited = limit > 0,
                           .room = limit > 0 ? (unsigned long long)limit : 0};
        if (fd < 0) {
                result_set(r, LOCAL_DEFER, "4.2.0",
                           "create maildir file %s: %s", tmpf, strerror(errno));
                goto out;
        }
        struct strbuf h;
        strbuf_init(&h);
        strbuf_printf(&h, "Return-Path: <%s>\n",
                      env->sender ? env->sender : "");
        strbuf_printf(&h, "Delivered-To: %s\n", rcpt);
        int wrc = write_all(&mf, h.s, h.len);
        strbuf_clear(&h);
        if (wrc < 0) {
                why = strerror(errno);
        } else if (copy_body(qf, &mf, &why) == 0) {
                if (fsync(fd) < 0 || fstat(fd, &st) < 0)
                        why = strerror(errno);
        }
        if (close(fd) < 0 && why == NULL)
                why = strerror(errno);
        fd = -1;
        if (why && mf.overflow) {
                /* Postfix: a permanent "mailbox full" (mbox_dsn) */
                result_set(r, LOCAL_BOUNCE, "5.2.2",
                           "maildir delivery failed: error writing message: "
                           "%s (%s %lld)",
                           strerror(EFBIG),
                           virtual ? "virtual_mailbox_limit"
                                   : "mailbox_size_limit",
                           limit);
                unlink(tmpf);
                goto out;
        }
        if (why) {
                result_set(r, LOCAL_DEFER, "4.2.0", "write maildir file %s: %s",
                           tmpf, why);
                unlink(tmpf);
                goto out;
        }
        newf = xasprintf("%s/%lld.M%ldP%ldI%llu.%s", newd, (long long)ts.tv_sec,
                         ts.tv_nsec / 1000, (long)base_getpid(),
                         (unsigned long long)st.st_ino, host);
        if (rename(tmpf, newf) < 0 || fsync_dir(newd) < 0) {
                result_set(r, LOCAL_DEFER, "4.2.0",
                           "move maildir file into %s: %s", newd,
                           strerror(errno));
                unlink(tmpf);
                goto out;
        }
        result_set(r, LOCAL_SENT, "2.0.0", "delivered to maildir");
        rc = 0;
out:
        free(tmpd);
        free(newd);
        free(curd);
        free(tmpf);
        free(newf);
        return rc;
}

/* fmt_delay - seconds as Postfix prints delays: 13, 1.2, 0.35, 0 */
static void fmt_delay(double x, char *buf, size_t len)
{
        if (x >= 10)
                snprintf(buf, len, "%.0f", x);
        else if (x >= 1)
                snprintf(buf, len, "%.1f", x);
        else if (x >= 0.01)
                snprintf(buf, len, "%.2f", x);
        else
                snprintf(buf, len, "0");
}

/* local_deliver - one recipient, logged */
void local_deliver(struct local *l, struct queue_file *qf, size_t i,
                   bool virtual, struct local_result *r)
{
        const struct queue_env *env = queue_file_env(qf);
        const char *rcpt = env->rcpt[i].addr;
        char *dir = NULL;
        struct timespec t0, t1;

        clock_gettime(CLOCK_REALTIME, &t0);
        if (local_maildir(l, rcpt, virtual, &dir, r) == 0)
                (void)maildir_write(l, dir, qf, rcpt, virtual, r);
        clock_gettime(CLOCK_REALTIME, &t1);
        double before =
            (double)t0.tv_sec + t0.tv_nsec / 1e9 - (double)env->arrival;
        double took =
            (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
        if (before < 0)
                before = 0;
        const char *status = r->status == LOCAL_SENT    ? "sent"
                             : r->status == LOCAL_DEFER ? "deferred"
                                                        : "bounced";
        char d_all[32], d_before[32], d_took[32];
        fmt_delay(before + took, d_all, sizeof(d_all));
        fmt_delay(before, d_before, sizeof(d_before));
        fmt_delay(took, d_took, sizeof(d_took));
        /* as Postfix's local(8) and virtual(8) would log it */
        const char *prev = log_service(virtual ? "virtual" : "local");
        log_info("%s: to=<%s>, relay=%s, delay=%s, delays=%s/0/0/%s, "
                 "dsn=%s, status=%s (%s)",
                 env->id, rcpt, virtual ? "virtual" : "local", d_all, d_before,
                 d_took, r->dsn, status, r->text);
        (void)log_service(prev);
        free(dir);
}

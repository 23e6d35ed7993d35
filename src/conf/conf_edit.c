/* SPDX-License-Identifier: MIT */
/* conf_edit.c - postconf -e / -X: edit main.cf in place, safely */
#include "conf/conf_int.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct edit {
        char *name;
        char *value; /* NULL: remove */
        bool done;
};

/* line_name - the parameter name a logical-line start defines, copied to
 * buf; 0 when the line is not "name = ..." */
static size_t line_name(const char *p, size_t n, char *buf, size_t bufsz)
{
        size_t i = 0;

        while (i < n && (isalnum((unsigned char)p[i]) || p[i] == '_'))
                i++;
        if (i == 0 || i >= bufsz)
                return 0;
        size_t j = i;
        while (j < n && (p[j] == ' ' || p[j] == '\t'))
                j++;
        if (j >= n || p[j] != '=')
                return 0;
        memcpy(buf, p, i);
        buf[i] = 0;
        return i;
}

/* find_edit - the edit for a name, or NULL */
static struct edit *find_edit(struct edit *ed, size_t n, const char *name)
{
        for (size_t i = 0; i < n; i++)
                if (strcmp(ed[i].name, name) == 0)
                        return &ed[i];
        return NULL;
}

/* write_replace - write data to path through a temporary file, fsync,
 * rename, fsync the directory */
static int write_replace(const char *path, const char *data, size_t len,
                         mode_t mode, char **err)
{
        char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
        char *dcopy = xstrdup(path);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        int rc = -1;

        if (fd < 0) {
                *err = xasprintf("%s: cannot create: %s", tmp, strerror(errno));
                goto out;
        }
        (void)fchmod(fd, mode);
        for (size_t off = 0; off < len;) {
                ssize_t w = write(fd, data + off, len - off);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w < 0) {
                        *err = xasprintf("%s: write: %s", tmp, strerror(errno));
                        close(fd);
                        unlink(tmp);
                        goto out;
                }
                off += (size_t)w;
        }
        if (fsync(fd) < 0 || close(fd) < 0) {
                *err = xasprintf("%s: fsync: %s", tmp, strerror(errno));
                unlink(tmp);
                goto out;
        }
        if (rename(tmp, path) < 0) {
                *err = xasprintf("rename %s to %s: %s", tmp, path,
                                 strerror(errno));
                unlink(tmp);
                goto out;
        }
        int dfd = open(dirname(dcopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
                (void)fsync(dfd);
                close(dfd);
        }
        rc = 0;
out:
        free(tmp);
        free(dcopy);
        return rc;
}

/* parse_edits - settings and removals into one array */
static int parse_edits(const struct strlist *settings,
                       const struct strlist *removes, struct edit **out,
                       size_t *nout, char **err)
{
        size_t n = (settings ? settings->n : 0) + (removes ? removes->n : 0);
        struct edit *ed = xcalloc(n ? n : 1, sizeof(*ed));
        size_t k = 0;

        for (size_t i = 0; settings && i < settings->n; i++) {
                const char *s = settings->v[i];
                const char *eq = strchr(s, '=');
                char *name;

                if (eq == NULL) {
                        *err = xasprintf("-e \"%s\": need name = value", s);
                        goto bad;
                }
                name = xstrndup(s, (size_t)(eq - s));
                char *tn = str_trim(name);
                char *value = xstrdup(eq + 1);
                char *tv = str_trim(value);
                bool ok = *tn != 0;
                for (char *p = tn; *p; p++)
                        if (!isalnum((unsigned char)*p) && *p != '_')
                                ok = false;
                if (!ok || strpbrk(tv, "\r\n")) {
                        *err = xasprintf("-e \"%s\": %s", s,
                                         ok ? "value must be one line"
                                            : "bad parameter name");
                        free(name);
                        free(value);
                        goto bad;
                }
                struct edit *prev = find_edit(ed, k, tn);
                if (prev) { /* the later setting wins */
                        free(prev->value);
                        prev->value = xstrdup(tv);
                } else {
                        ed[k].name = xstrdup(tn);
                        ed[k].value = xstrdup(tv);
                        k++;
                }
                free(name);
                free(value);
        }
        for (size_t i = 0; removes && i < removes->n; i++) {
                ed[k].name = xstrdup(removes->v[i]);
                ed[k].value = NULL;
                k++;
        }
        *out = ed;
        *nout = k;
        return 0;
bad:
        for (size_t i = 0; i < k; i++) {
                free(ed[i].name);
                free(ed[i].value);
        }
        free(ed);
        return -1;
}

/* conf_edit - apply -e settings and -X removals to DIR/main.cf */
int conf_edit(const char *dir, const struct strlist *settings,
              const struct strlist *removes, char **err)
{
        char *path = xasprintf("%s/main.cf", dir);
        char *data = NULL;
        size_t len = 0;
        struct edit *ed = NULL;
        size_t ned = 0;
        mode_t mode = 0644;
        struct stat sb;
        int rc = -1;

        *err = NULL;
        if (parse_edits(settings, removes, &ed, &ned, err) < 0)
                goto out;
        if (conf_read_file(path, &data, &len) < 0) {
                if (errno != ENOENT) {
                        *err = xasprintf("%s: cannot read: %s", path,
                                         strerror(errno));
                        goto out;
                }
                data = xstrdup("");
                len = 0;
        } else if (stat(path, &sb) == 0) {
                mode = sb.st_mode & 07777;
        }

        struct strbuf outb;
        strbuf_init(&outb);
        const char *p = data, *end = data + len;
        bool skipping = false; /* inside an entry being replaced/removed */
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t n = (size_t)((nl ? nl : end) - p);
                size_t full = nl ? n + 1 : n;
                char name[256];
                bool blank_or_comment, cont;

                const char *q = p;
                while (q < p + n && isspace((unsigned char)*q))
                        q++;
                blank_or_comment = q == p + n || *q == '#';
                cont = !blank_or_comment && q != p;
                bool copy = true;
                if (cont) {
                        copy = !skipping;
                } else if (!blank_or_comment) {
                        struct edit *e = NULL;
                        skipping = false;
                        if (line_name(p, n, name, sizeof(name)))
                                e = find_edit(ed, ned, name);
                        if (e != NULL) {
                                copy = false;
                                skipping = true;
                                if (e->value)
                                        strbuf_printf(&outb, "%s = %s\n",
                                                      e->name, e->value);
                                e->done = true;
                        }
                }
                if (copy) {
                        strbuf_add(&outb, p, full);
                        if (!nl)
                                strbuf_addc(&outb, '\n');
                }
                p = nl ? nl + 1 : end;
        }
        for (size_t i = 0; i < ned; i++)
                if (ed[i].value && !ed[i].done)
                        strbuf_printf(&outb, "%s = %s\n", ed[i].name,
                                      ed[i].value);
        rc = write_replace(path, strbuf_cstr(&outb), outb.len, mode, err);
        strbuf_clear(&outb);
out:
        for (size_t i = 0; i < ned; i++) {
                free(ed[i].name);
                free(ed[i].value);
        }
        free(ed);
        free(data);
        free(path);
        return rc;
}

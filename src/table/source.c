/* SPDX-License-Identifier: MIT */
/* source.c - Postfix table source syntax: logical lines and entries */
#include "table/table_int.h"
#include "log/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* table_isspace - Postfix's ISSPACE in the C locale */
bool table_isspace(int c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
               c == '\r';
}

/* table_err - formatted error for the caller */
void table_err(char **err, const char *fmt, ...)
{
        struct strbuf sb;
        va_list ap;

        if (err == NULL)
                return;
        strbuf_init(&sb);
        va_start(ap, fmt);
        strbuf_vprintf(&sb, fmt, ap);
        va_end(ap);
        *err = strbuf_detach(&sb);
}

/* table_read_file - slurp a file */
int table_read_file(const char *path, char **buf, size_t *len, char **err)
{
        struct strbuf sb;
        char chunk[65536];
        int fd;

        *buf = NULL;
        *len = 0;
        if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
                table_err(err, "open %s: %s", path, strerror(errno));
                return -1;
        }
        strbuf_init(&sb);
        for (;;) {
                ssize_t n = read(fd, chunk, sizeof(chunk));

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        table_err(err, "read %s: %s", path, strerror(errno));
                        strbuf_clear(&sb);
                        close(fd);
                        return -1;
                }
                if (n == 0)
                        break;
                strbuf_add(&sb, chunk, (size_t)n);
        }
        close(fd);
        *len = sb.len;
        strbuf_cstr(&sb);
        *buf = strbuf_detach(&sb);
        return 0;
}

/* rtrim - drop trailing white space of a strbuf */
static void rtrim(struct strbuf *sb)
{
        while (sb->len > 0 && table_isspace((unsigned char)sb->s[sb->len - 1]))
                sb->len--;
        if (sb->s)
                sb->s[sb->len] = 0;
}

/* flush - hand the pending logical line to fn */
static int flush(struct strbuf *line, unsigned long *first, table_line_fn fn,
                 void *arg, char **err)
{
        int rc = 0;

        if (*first == 0)
                return 0;
        rtrim(line);
        rc = fn(arg, line->s, *first, err);
        strbuf_reset(line);
        *first = 0;
        return rc;
}

/* table_read_lines - logical lines, as Postfix's readllines */
int table_read_lines(const char *name, const char *buf, size_t len,
                     table_line_fn fn, void *arg, char **err)
{
        struct strbuf line;
        unsigned long lineno = 0, first = 0;
        size_t pos = 0;
        int rc = 0;

        strbuf_init(&line);
        strbuf_cstr(&line);
        while (pos < len) {
                const char *p = buf + pos;
                const char *nl = memchr(p, '\n', len - pos);
                size_t n = nl ? (size_t)(nl - p) : len - pos;
                size_t i = 0;

                pos += n + (nl != NULL);
                lineno++;
                if (memchr(p, 0, n) != NULL) {
                        table_err(err, "%s, line %lu: NUL byte in table source",
                                  name, lineno);
                        rc = -1;
                        break;
                }
                if (n > 0 && p[n - 1] == '\r')
                        n--;
                while (i < n && table_isspace((unsigned char)p[i]))
                        i++;
                if (i == n || p[i] == '#')
                        continue; /* blank or comment: ends nothing */
                if (i > 0) {
                        if (first == 0) {
                                log_warnx("%s, line %lu: logical line must not "
                                          "start with whitespace: \"%.*s\"",
                                          name, lineno,
                                          (int)(n > 100 ? 100 : n), p);
                                continue;
                        }
                        strbuf_add(&line, p, n);
                        continue;
                }
                if ((rc = flush(&line, &first, fn, arg, err)) < 0)
                        break;
                first = lineno;
                strbuf_add(&line, p, n);
        }
        if (rc == 0)
                rc = flush(&line, &first, fn, arg, err);
        strbuf_clear(&line);
        return rc < 0 ? -1 : 0;
}

struct entry_ctx {
        const char *name;
        table_entry_fn fn;
        void *arg;
};

/* entry_line - split one logical line into key and value */
static int entry_line(void *arg, char *text, unsigned long lineno, char **err)
{
        struct entry_ctx *ctx = arg;
        char *value = text;

        while (*value && !table_isspace((unsigned char)*value))
                value++;
        if (*value)
                *value++ = 0;
        while (*value && table_isspace((unsigned char)*value))
                value++;
        if (*value == 0) {
                log_warnx("%s, line %lu: expected format: key whitespace value "
                          "-- ignoring this line",
                          ctx->name, lineno);
                return 0;
        }
        str_lower(text);
        return ctx->fn(ctx->arg, text, value, lineno, err);
}

/* table_parse_source - "key value" entries */
int table_parse_source(const char *name, const char *buf, size_t len,
                       table_entry_fn fn, void *arg, char **err)
{
        struct entry_ctx ctx = {name, fn, arg};

        return table_read_lines(name, buf, len, entry_line, &ctx, err);
}

/* table_ifs_open - push a block */
void table_ifs_open(struct table_ifs *s, size_t rule, unsigned long lineno)
{
        if (s->n == s->cap) {
                s->cap = s->cap ? s->cap * 2 : 8;
                s->v = xreallocarray(s->v, s->cap, sizeof(*s->v));
        }
        s->v[s->n++] = (struct table_if){rule, lineno};
}

/* table_ifs_close - pop the innermost block */
int table_ifs_close(struct table_ifs *s, const char *rest, const char *name,
                    unsigned long lineno, size_t *rule, char **err)
{
        while (*rest && table_isspace((unsigned char)*rest))
                rest++;
        if (*rest) {
                table_err(err, "%s, line %lu: garbage after ENDIF", name,
                          lineno);
                return -1;
        }
        if (s->n == 0) {
                table_err(err, "%s, line %lu: ENDIF without IF", name, lineno);
                return -1;
        }
        *rule = s->v[--s->n].rule;
        return 0;
}

/* table_ifs_finish - check that every block was closed */
int table_ifs_finish(struct table_ifs *s, int rc, const char *name, char **err)
{
        if (rc == 0 && s->n > 0) {
                table_err(err, "%s, line %lu: IF has no matching ENDIF", name,
                          s->v[s->n - 1].line);
                rc = -1;
        }
        free(s->v);
        *s = (struct table_ifs){0};
        return rc;
}

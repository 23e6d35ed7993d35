/* SPDX-License-Identifier: MIT */
/* conf_store.c - reading main.cf into name = value entries */
#include "conf/conf_int.h"
#include "log/log.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The largest main.cf postern reads: far beyond any real one, small enough
 * that a wrong path (a disk image, /dev/zero) fails cleanly. */
#define CONF_MAX_FILE (64L * 1024 * 1024)

/* conf_read_file - the whole file in memory, NUL-terminated; *len excludes
 * the terminator.  -1 with errno; ENOENT is the caller's business. */
int conf_read_file(const char *path, char **data, size_t *len)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        struct strbuf sb;
        struct stat st;
        char buf[65536];
        ssize_t n;

        if (fd < 0)
                return -1;
        if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
                close(fd);
                errno = EISDIR;
                return -1;
        }
        strbuf_init(&sb);
        while ((n = read(fd, buf, sizeof(buf))) != 0) {
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        int saved = errno;
                        strbuf_clear(&sb);
                        close(fd);
                        errno = saved;
                        return -1;
                }
                if (sb.len + (size_t)n > (size_t)CONF_MAX_FILE) {
                        strbuf_clear(&sb);
                        close(fd);
                        errno = EFBIG;
                        return -1;
                }
                strbuf_add(&sb, buf, (size_t)n);
        }
        close(fd);
        *len = sb.len;
        *data = strbuf_detach(&sb);
        return 0;
}

/* valid_name - Postfix parameter names: letters, digits, underscore,
 * and '-', which the per-transport parameters of a master.cf transport
 * with one in its name have (smtp-amavis_destination_recipient_limit;
 * Postfix accepts them, though $name cannot refer to them) */
static bool valid_name(const char *s, size_t n)
{
        if (n == 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
                        return false;
        return true;
}

/* add_entry - store name = value, warning about an earlier entry */
static void add_entry(struct conf_store *st, const char *name,
                      const char *value, const char *file, int line)
{
        for (size_t i = 0; i < st->n; i++) {
                struct conf_entry *e = &st->v[i];
                if (strcmp(e->name, name) != 0)
                        continue;
                if (file)
                        log_warnx("%s, line %d: overriding earlier entry: "
                                  "%s=%s",
                                  file, line, e->name, e->value);
                free(e->value);
                free(e->origin);
                e->value = xstrdup(value);
                e->origin =
                    file ? xasprintf("%s, line %d", file, line) : xstrdup("-o");
                e->file = file;
                e->line = line;
                return;
        }
        if (st->n == st->cap) {
                st->cap = st->cap ? st->cap * 2 : 32;
                st->v = xreallocarray(st->v, st->cap, sizeof(*st->v));
        }
        struct conf_entry *e = &st->v[st->n++];
        memset(e, 0, sizeof(*e));
        e->name = xstrdup(name);
        e->value = xstrdup(value);
        e->origin = file ? xasprintf("%s, line %d", file, line) : xstrdup("-o");
        e->file = file;
        e->line = line;
}

/* split_nameval - "name = value" of one logical line; -1 with *why */
static int split_nameval(char *text, char **name, char **value,
                         const char **why)
{
        char *p = text;

        while (*p && !isspace((unsigned char)*p) && *p != '=')
                p++;
        if (p == text) {
                *why = "missing attribute name";
                return -1;
        }
        char *name_end = p;
        while (isspace((unsigned char)*p))
                p++;
        if (*p != '=') {
                *why = "missing '=' after attribute name";
                return -1;
        }
        *name_end = 0;
        if (!valid_name(text, strlen(text))) {
                *why = "bad parameter name (letters, digits, _ and - "
                       "only)";
                return -1;
        }
        *name = text;
        *value = str_trim(p + 1);
        return 0;
}

/* finish_logical - parse and store one logical line */
static int finish_logical(struct conf_store *st, struct strbuf *logical,
                          int line, char **err)
{
        char *name, *value;
        const char *why;

        if (logical->len == 0)
                return 0;
        char *text = str_trim(logical->s);
        if (split_nameval(text, &name, &value, &why) < 0) {
                *err =
                    xasprintf("%s, line %d: %s: \"%.100s%s\"", st->path, line,
                              why, text, strlen(text) > 100 ? "..." : "");
                return -1;
        }
        add_entry(st, name, value, st->path, line);
        strbuf_reset(logical);
        return 0;
}

/* parse_main_cf - physical lines to logical lines to entries */
static int parse_main_cf(struct conf_store *st, const char *data, size_t len,
                         char **err)
{
        struct strbuf logical;
        int lineno = 0, logical_line = 0;
        const char *p = data, *end = data + len;
        int rc = 0;

        strbuf_init(&logical);
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                const char *eol = nl ? nl : end;
                size_t n = (size_t)(eol - p);

                lineno++;
                if (memchr(p, 0, n) != NULL) {
                        *err = xasprintf("%s, line %d: NUL byte in line "
                                         "(is this a text file?)",
                                         st->path, lineno);
                        rc = -1;
                        break;
                }
                while (n > 0 && isspace((unsigned char)p[n - 1]))
                        n--; /* trailing white space, CR of CRLF files */
                const char *q = p;
                while (q < p + n && isspace((unsigned char)*q))
                        q++;
                if (q == p + n || *q == '#') {
                        /* Blank and comment lines neither start nor end a
                         * logical line (as Postfix reads them). */
                } else if (q != p) {
                        if (logical.len == 0) {
                                log_warnx("%s, line %d: logical line must not "
                                          "start with white space: \"%.*s\"",
                                          st->path, lineno,
                                          (int)(n > 100 ? 100 : n), p);
                        } else {
                                strbuf_addc(&logical, ' ');
                                strbuf_add(&logical, q, (size_t)(p + n - q));
                        }
                } else {
                        if ((rc = finish_logical(st, &logical, logical_line,
                                                 err)) < 0)
                                break;
                        logical_line = lineno;
                        strbuf_add(&logical, p, n);
                }
                p = nl ? nl + 1 : end;
        }
        if (rc == 0)
                rc = finish_logical(st, &logical, logical_line, err);
        strbuf_clear(&logical);
        return rc;
}

/* conf_store_read - parse DIR/main.cf */
int conf_store_read(const char *dir, struct conf_store **out, char **err)
{
        struct conf_store *st = xcalloc(1, sizeof(*st));
        char *data = NULL;
        size_t len = 0;

        st->path = xasprintf("%s/main.cf", dir);
        *out = NULL;
        if (conf_read_file(st->path, &data, &len) < 0) {
                if (errno != ENOENT) {
                        *err = xasprintf("%s: cannot read: %s", st->path,
                                         strerror(errno));
                        conf_store_free(st);
                        return -1;
                }
        } else if (parse_main_cf(st, data, len, err) < 0) {
                free(data);
                conf_store_free(st);
                return -1;
        }
        free(data);
        /* -c DIR counts as a setting, as postconf shows it with -n. */
        if (strcmp(dir, "/etc/postern") != 0) {
                add_entry(st, "config_directory", dir, NULL, 0);
                free(st->v[st->n - 1].origin);
                st->v[st->n - 1].origin = xstrdup("-c");
        }
        *out = st;
        return 0;
}

/* conf_store_parse - a store from main.cf text in memory */
int conf_store_parse(const char *label, const char *data, size_t len,
                     struct conf_store **out, char **err)
{
        struct conf_store *st = xcalloc(1, sizeof(*st));

        st->path = xstrdup(label);
        *out = NULL;
        if (parse_main_cf(st, data, len, err) < 0) {
                conf_store_free(st);
                return -1;
        }
        *out = st;
        return 0;
}

/* conf_store_apply_overrides - -o name=value */
int conf_store_apply_overrides(struct conf_store *st, const struct strlist *ov,
                               char **err)
{
        for (size_t i = 0; ov && i < ov->n; i++) {
                char *copy = xstrdup(ov->v[i]);
                char *name, *value;
                const char *why;

                if (split_nameval(str_trim(copy), &name, &value, &why) < 0) {
                        *err = xasprintf("-o %s: %s", ov->v[i], why);
                        free(copy);
                        return -1;
                }
                add_entry(st, name, value, NULL, 0);
                free(copy);
        }
        return 0;
}

/* edit_distance - Levenshtein distance, capped, for "did you mean" */
static size_t edit_distance(const char *a, const char *b)
{
        size_t la = strlen(a), lb = strlen(b);
        size_t row[128];

        if (la >= ARRAY_SIZE(row) || lb >= ARRAY_SIZE(row))
                return 99;
        for (size_t j = 0; j <= lb; j++)
                row[j] = j;
        for (size_t i = 1; i <= la; i++) {
                size_t prev = row[0];
                row[0] = i;
                for (size_t j = 1; j <= lb; j++) {
                        size_t cur = row[j];
                        size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
                        size_t best = prev + cost;
                        if (row[j] + 1 < best)
                                best = row[j] + 1;
                        if (row[j - 1] + 1 < best)
                                best = row[j - 1] + 1;
                        row[j] = best;
                        prev = cur;
                }
        }
        return row[lb];
}

/* conf_suggest - the known name closest to an unknown one, or NULL */
const char *conf_suggest(const char *name)
{
        const struct conf_param *t = conf_params();
        const char *best = NULL;
        size_t bestd = 3;

        for (size_t i = 0; i < CONF_NPARAMS; i++) {
                size_t d = edit_distance(name, t[i].name);
                if (d < bestd) {
                        bestd = d;
                        best = t[i].name;
                }
        }
        return best;
}

/* Parameters postern does not implement whose value postern's behaviour
 * matches is not Postfix's default: no warning for that value (Debian's
 * biff = no), a warning for the default when it is set explicitly. */
static const struct {
        const char *name;
        const char *behaves_as;
} unimplemented_value[] = {
    {"biff", "no"},
    {"smtpd_delay_reject", "yes"},
};

/* matches_behaviour - whether a "Not implemented" parameter's value is
 * what postern does anyway */
static bool matches_behaviour(const struct conf_param *p, const char *value)
{
        for (size_t i = 0; i < ARRAY_SIZE(unimplemented_value); i++)
                if (strcmp(p->name, unimplemented_value[i].name) == 0)
                        return strcasecmp(value,
                                          unimplemented_value[i].behaves_as) ==
                               0;
        return strcmp(value, p->def) == 0;
}

/* master_cf_refers - whether master.cf next to main.cf refers to name in
 * a value ($name, ${name}, $(name)), as "-o smtpd_milters=$my_milters"
 * does: Postfix counts that as a use */
static bool master_cf_refers(const char *text, const char *name)
{
        size_t n = strlen(name);

        for (const char *p = text; p && (p = strchr(p, '$')) != NULL; p++) {
                const char *q = p + 1;
                char close = 0;
                if (*q == '{' || *q == '(') {
                        close = *q == '{' ? '}' : ')';
                        q++;
                }
                if (strncmp(q, name, n) != 0)
                        continue;
                q += n;
                if (close ? (*q == close || *q == '?' || *q == ':')
                          : !(isalnum((unsigned char)*q) || *q == '_'))
                        return true;
        }
        return false;
}

/* master_cf_transport_param - whether name is a per-transport parameter
 * the queue manager reads (TRANSPORT_destination_concurrency_limit,
 * TRANSPORT_destination_recipient_limit) of a service that master.cf
 * defines */
static bool master_cf_transport_param(const char *text, const char *name)
{
        static const char *const suffixes[] = {"_destination_concurrency_limit",
                                               "_destination_recipient_limit"};
        size_t n = strlen(name);

        for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
                size_t sl = strlen(suffixes[i]);
                if (n <= sl || strcmp(name + n - sl, suffixes[i]) != 0)
                        continue;
                size_t svc = n - sl;
                for (const char *p = text; p && *p;) {
                        if (strncmp(p, name, svc) == 0 &&
                            (p[svc] == ' ' || p[svc] == '\t'))
                                return true;
                        p = strchr(p, '\n');
                        p = p ? p + 1 : NULL;
                }
        }
        return false;
}

/* conf_store_warn_unused - unknown names nothing refers to, and known
 * ones postern accepts but does not implement, set to a value postern
 * does not behave as (params.def: "Not implemented: ...") */
void conf_store_warn_unused(struct conf_store *st)
{
        char *master = NULL;
        size_t mlen = 0;
        bool master_read = false;

        for (size_t i = 0; i < st->n; i++) {
                struct conf_entry *e = &st->v[i];
                const struct conf_param *p = conf_param_find(e->name);
                if (p && str_has_prefix(p->desc, "Not implemented") &&
                    !matches_behaviour(p, e->value))
                        log_warnx("%s: %s=%s: accepted for Postfix "
                                  "compatibility but not implemented by "
                                  "postern: the setting has no effect",
                                  e->origin, e->name, e->value);
                if (e->referenced || p)
                        continue;
                if (!master_read && st->path) {
                        char *dir = xstrdup(st->path), *slash;
                        if ((slash = strrchr(dir, '/')) != NULL) {
                                *slash = 0;
                                char *mp = xasprintf("%s/master.cf", dir);
                                if (conf_read_file(mp, &master, &mlen) < 0)
                                        master = NULL;
                                free(mp);
                        }
                        free(dir);
                        master_read = true;
                }
                if (master && (master_cf_refers(master, e->name) ||
                               master_cf_transport_param(master, e->name)))
                        continue;
                const char *hint = conf_suggest(e->name);
                if (hint)
                        log_warnx("%s: unknown parameter: %s=%s (did you mean "
                                  "%s?)",
                                  e->origin, e->name, e->value, hint);
                else
                        log_warnx("%s: unknown parameter: %s=%s", e->origin,
                                  e->name, e->value);
        }
        free(master);
}

/* conf_refused - the first parameter set whose description starts
 * "Refused:" (postern does not implement it, and running without it would
 * change what happens to mail), as "FILE, line N: parameter NAME: why" */
int conf_refused(const struct conf *c, char **err)
{
        struct conf_store *st = c->store;

        for (size_t i = 0; i < st->n; i++) {
                const struct conf_entry *e = &st->v[i];
                const struct conf_param *p = conf_param_find(e->name);
                if (p == NULL || !str_has_prefix(p->desc, "Refused: ") ||
                    *e->value == 0 || strcasecmp(e->value, p->def) == 0)
                        continue;
                const char *why = p->desc + strlen("Refused: ");
                int wl = (int)strlen(why);
                if (wl > 0 && why[wl - 1] == '.')
                        wl--;
                if (e->file)
                        *err = xasprintf("%s: parameter %s: not implemented "
                                         "by postern, so the start is "
                                         "refused (%.*s); remove the setting "
                                         "to run without it",
                                         e->origin, e->name, wl, why);
                else
                        *err = xasprintf("%s %s: not implemented by postern, "
                                         "so the start is refused (%.*s); "
                                         "remove the setting to run without "
                                         "it",
                                         e->origin, e->name, wl, why);
                return -1;
        }
        return 0;
}

/* conf_store_free - release */
void conf_store_free(struct conf_store *st)
{
        if (st == NULL)
                return;
        for (size_t i = 0; i < st->n; i++) {
                free(st->v[i].name);
                free(st->v[i].value);
                free(st->v[i].origin);
        }
        free(st->v);
        strlist_clear(&st->expanded);
        free(st->hostname);
        free(st->domain);
        free(st->path);
        free(st);
}

/* SPDX-License-Identifier: MIT */
/* table.c - table specs, lookups, table lists, compilation and freshness */
#include "table/table_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The known types.  hash: and btree: are aliases of lmdb: so that an
 * existing main.cf works. */
static const struct table_type {
        const char *name;
        int (*open)(struct table *, const char *, char **);
        bool fold;     /* keys folded to lower case */
        bool compiled; /* built by table_compile into FILE.lmdb */
        bool pattern;  /* matched by rules: whole keys only */
} table_types[] = {
    {"texthash", table_texthash_open, true, false, false},
    {"lmdb", table_lmdb_open, true, true, false},
    {"hash", table_lmdb_open, true, true, false},
    {"btree", table_lmdb_open, true, true, false},
    {"inline", table_inline_open, true, false, false},
    {"cidr", table_cidr_open, false, false, true},
    {"regexp", table_regexp_open, false, false, true},
    {"pcre", table_pcre_open, false, false, true},
    {"static", table_static_open, false, false, false},
};

/* spec_split - the type row and the name of "type:name" */
static int spec_split(const char *spec, const struct table_type **type,
                      const char **name, char **err)
{
        const char *colon;

        /* proxy:TYPE:NAME (Postfix's proxymap) is TYPE:NAME here: postern
         * opens its tables in-process */
        if (strncmp(spec, "proxy:", 6) == 0)
                spec += 6;
        colon = strchr(spec, ':');

        if (colon == NULL || colon == spec || colon[1] == 0) {
                table_err(err, "expecting \"type:name\" form instead of \"%s\"",
                          spec);
                return -1;
        }
        for (size_t i = 0; i < ARRAY_SIZE(table_types); i++) {
                size_t n = strlen(table_types[i].name);

                if ((size_t)(colon - spec) == n &&
                    strncmp(spec, table_types[i].name, n) == 0) {
                        *type = &table_types[i];
                        *name = colon + 1;
                        return 0;
                }
        }
        table_err(err, "unsupported table type \"%.*s\" in \"%s\"",
                  (int)(colon - spec), spec, spec);
        return -1;
}

/* table_open - open by spec */
int table_open(const char *spec, struct table **out, char **err)
{
        return table_open_flags(spec, 0, out, err);
}

/* table_open_flags - open by spec, aliases(5) sources on request */
int table_open_flags(const char *spec, unsigned flags, struct table **out,
                     char **err)
{
        const struct table_type *type;
        const char *name;
        struct table *t;
        struct stat st;

        *out = NULL;
        if (spec_split(spec, &type, &name, err) < 0)
                return -1;
        t = xcalloc(1, sizeof(*t));
        t->spec = xstrdup(spec);
        t->fold = type->fold;
        t->pattern = type->pattern;
        t->aliases = (flags & TABLE_OPEN_ALIASES) != 0;
        strbuf_init(&t->key);
        strbuf_init(&t->value);
        if (type->open(t, name, err) < 0) {
                free(t->spec);
                free(t->file);
                free(t);
                return -1;
        }
        if (t->file && stat(t->file, &st) == 0) {
                t->dev = st.st_dev;
                t->ino = st.st_ino;
                t->mtime = st.st_mtim;
        }
        *out = t;
        return 0;
}

/* table_close - release */
void table_close(struct table *t)
{
        if (t == NULL)
                return;
        t->ops->close(t);
        strbuf_clear(&t->key);
        strbuf_clear(&t->value);
        free(t->file);
        free(t->spec);
        free(t);
}

/* table_spec - as opened */
const char *table_spec(const struct table *t)
{
        return t->spec;
}

/* table_lookup - exact, key folded when the type folds */
enum table_status table_lookup(struct table *t, const char *key,
                               const char **value, char **err)
{
        if (t->fold) {
                strbuf_reset(&t->key);
                strbuf_adds(&t->key, key);
                key = str_lower((char *)strbuf_cstr(&t->key));
        }
        return t->ops->lookup(t, key, value, err);
}

/* next_name - the next candidate of a domain lookup: cur itself first
 * (cur == NULL), then each ".parent"; NULL when done.  Names that are not
 * plain domains ("[host]:port") have only the exact candidate. */
static const char *next_name(const char *name, const char *cur)
{
        if (cur == NULL)
                return name;
        if (*cur == 0 || strpbrk(name, "[]:") != NULL)
                return NULL;
        return strchr(cur + 1, '.');
}

/* table_lookup_domain - exact, then ".parent" keys */
enum table_status table_lookup_domain(struct table *t, const char *domain,
                                      const char **value, char **err)
{
        for (const char *n = next_name(domain, NULL);
             n && !(t->pattern && n != domain); n = next_name(domain, n)) {
                enum table_status s = table_lookup(t, n, value, err);

                if (s != TABLE_NOTFOUND)
                        return s;
        }
        return TABLE_NOTFOUND;
}

/* table_lookup_nexthop - explicit next-hops exactly, domains by parent */
enum table_status table_lookup_nexthop(struct table *t, const char *nexthop,
                                       const char **value, char **err)
{
        return table_lookup_domain(t, nexthop, value, err);
}

/* table_walk - every entry */
int table_walk(struct table *t, table_walk_fn fn, void *arg, char **err)
{
        return t->ops->walk(t, fn, arg, err);
}

/* table_changed - file replaced or modified since open */
bool table_changed(const struct table *t)
{
        struct stat st;

        if (t->file == NULL)
                return false;
        if (stat(t->file, &st) < 0)
                return true;
        return st.st_dev != t->dev || st.st_ino != t->ino ||
               st.st_mtim.tv_sec != t->mtime.tv_sec ||
               st.st_mtim.tv_nsec != t->mtime.tv_nsec;
}

/* table_compile - FILE into FILE.lmdb */
int table_compile(const char *spec, char **err)
{
        return table_compile_flags(spec, 0, err);
}

/* table_compile_flags - FILE into FILE.lmdb, maybe as aliases(5) */
int table_compile_flags(const char *spec, unsigned flags, char **err)
{
        const struct table_type *type;
        const char *name;
        char *db;
        int rc;

        if (spec_split(spec, &type, &name, err) < 0)
                return -1;
        if (!type->compiled) {
                table_err(err,
                          "unsupported table type: %s does not support "
                          "compilation (only lmdb:, hash: and btree: do)",
                          type->name);
                return -1;
        }
        db = xasprintf("%s.lmdb", name);
        rc = table_lmdb_build(name, db, (flags & TABLE_OPEN_ALIASES) != 0, err);
        free(db);
        return rc;
}

struct source_walk {
        table_source_fn fn;
        void *arg;
};

/* source_entry - one parsed entry to the caller's function */
static int source_entry(void *arg, const char *key, const char *value,
                        unsigned long lineno, char **err)
{
        struct source_walk *w = arg;

        (void)err;
        return w->fn(key, value, lineno, w->arg);
}

/* table_source_walk - the entries of FILE, with their lines */
int table_source_walk(const char *spec, unsigned flags, table_source_fn fn,
                      void *arg, char **err)
{
        struct source_walk w = {fn, arg};
        const struct table_type *type;
        const char *name;
        char *buf = NULL;
        size_t len = 0;
        int rc;

        if (spec_split(spec, &type, &name, err) < 0)
                return -1;
        if (!type->compiled && type->open != table_texthash_open) {
                table_err(err, "%s: no source file of entries", spec);
                return -1;
        }
        if (table_read_file(name, &buf, &len, err) < 0)
                return -1;
        rc = (flags & TABLE_OPEN_ALIASES)
                 ? table_parse_aliases(name, buf, len, source_entry, &w, err)
                 : table_parse_source(name, buf, len, source_entry, &w, err);
        free(buf);
        return rc;
}

/* ts_before - whether a is earlier than b */
static bool ts_before(const struct timespec *a, const struct timespec *b)
{
        return a->tv_sec < b->tv_sec ||
               (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* table_freshness - FILE.lmdb against FILE */
int table_freshness(const char *spec, enum table_freshness *out, char **err)
{
        const struct table_type *type;
        const char *name;
        struct stat src, db;
        char *path;
        int rc = 0;

        if (spec_split(spec, &type, &name, err) < 0)
                return -1;
        if (!type->compiled) {
                *out = TABLE_NOT_COMPILED;
                return 0;
        }
        if (stat(name, &src) < 0) {
                table_err(err, "stat %s: %s", name, strerror(errno));
                return -1;
        }
        path = xasprintf("%s.lmdb", name);
        if (stat(path, &db) < 0) {
                if (errno == ENOENT) {
                        *out = TABLE_NOT_BUILT;
                } else {
                        table_err(err, "stat %s: %s", path, strerror(errno));
                        rc = -1;
                }
        } else {
                *out = ts_before(&db.st_mtim, &src.st_mtim) ? TABLE_OLDER
                                                            : TABLE_UP_TO_DATE;
        }
        free(path);
        return rc;
}

/* table_freshness_name - words for messages */
const char *table_freshness_name(enum table_freshness f)
{
        switch (f) {
        case TABLE_UP_TO_DATE:
                return "up to date";
        case TABLE_OLDER:
                return "older than its source";
        case TABLE_NOT_BUILT:
                return "not built";
        case TABLE_NOT_COMPILED:
                return "not a compiled table";
        }
        return "unknown";
}

struct table_list {
        struct table **v;
        size_t n;
};

/* table_list_open - open each element of a list value */
int table_list_open(const char *value, struct table_list **out, char **err)
{
        return table_list_open_flags(value, 0, out, err);
}

/* table_list_open_flags - the same with TABLE_OPEN_* flags */
int table_list_open_flags(const char *value, unsigned flags,
                          struct table_list **out, char **err)
{
        struct table_list *l = xcalloc(1, sizeof(*l));
        size_t pos = 0, start;
        long n;

        *out = NULL;
        while ((n = str_list_token(value, &pos, &start)) > 0) {
                char *spec = xstrndup(value + start, (size_t)n);
                struct table *t;

                if (table_open_flags(spec, flags, &t, err) < 0) {
                        free(spec);
                        table_list_close(l);
                        return -1;
                }
                free(spec);
                l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
                l->v[l->n++] = t;
        }
        if (n < 0) {
                table_err(err, "unbalanced braces in table list \"%s\"", value);
                table_list_close(l);
                return -1;
        }
        *out = l;
        return 0;
}

/* table_list_close - close all */
void table_list_close(struct table_list *l)
{
        if (l == NULL)
                return;
        for (size_t i = 0; i < l->n; i++)
                table_close(l->v[i]);
        free(l->v);
        free(l);
}

/* table_list_count - how many */
size_t table_list_count(const struct table_list *l)
{
        return l->n;
}

/* table_list_get - one */
struct table *table_list_get(const struct table_list *l, size_t i)
{
        return i < l->n ? l->v[i] : NULL;
}

/* list_find - each table in order for one name */
static enum table_status list_find(struct table_list *l, const char *key,
                                   bool partial, const char **value,
                                   struct table **from, char **err)
{
        for (size_t i = 0; i < l->n; i++) {
                if (partial && l->v[i]->pattern)
                        continue;
                enum table_status s = table_lookup(l->v[i], key, value, err);

                if (s == TABLE_NOTFOUND)
                        continue;
                if (from)
                        *from = l->v[i];
                return s;
        }
        return TABLE_NOTFOUND;
}

/* table_list_lookup - first table that knows the key */
enum table_status table_list_lookup(struct table_list *l, const char *key,
                                    const char **value, struct table **from,
                                    char **err)
{
        return list_find(l, key, false, value, from, err);
}

/* table_list_lookup_partial - the same, but pattern tables are left out:
 * they see only whole keys, as in Postfix */
enum table_status table_list_lookup_partial(struct table_list *l,
                                            const char *key, const char **value,
                                            struct table **from, char **err)
{
        return list_find(l, key, true, value, from, err);
}

/* table_list_lookup_domain - candidate names outermost, tables inner */
enum table_status table_list_lookup_domain(struct table_list *l,
                                           const char *domain,
                                           const char **value,
                                           struct table **from, char **err)
{
        for (const char *n = next_name(domain, NULL); n;
             n = next_name(domain, n)) {
                enum table_status s =
                    list_find(l, n, n != domain, value, from, err);

                if (s != TABLE_NOTFOUND)
                        return s;
        }
        return TABLE_NOTFOUND;
}

/* add_key - one key of an address, unless it is there already */
static void add_key(struct strlist *keys, enum table_addr_key *kinds,
                    enum table_addr_key kind, const char *s, size_t n)
{
        for (size_t i = 0; i < keys->n; i++)
                if (strlen(keys->v[i]) == n && memcmp(keys->v[i], s, n) == 0)
                        return;
        if (kinds)
                kinds[keys->n] = kind;
        strlist_pushn(keys, s, n);
}

/* table_addr_keys - address, unextended address, local parts, @domain */
void table_addr_keys(const char *rcpt, const char *delim, unsigned opts,
                     struct strlist *keys, enum table_addr_key *kinds)
{
        char *addr = str_lower(xstrdup(rcpt));
        char *at = strrchr(addr, '@');
        size_t local = at ? (size_t)(at - addr) : strlen(addr);
        size_t cut = *delim ? strcspn(addr, delim) : local;
        struct strlist mine = {0};

        if (cut == 0 || cut > local)
                cut = local; /* "+ext@domain": no user to cut it from */
        add_key(&mine, kinds, TABLE_KEY_FULL, addr, strlen(addr));
        if (cut < local) {
                char *base = xasprintf("%.*s%s", (int)cut, addr, at ? at : "");
                add_key(&mine, kinds, TABLE_KEY_BARE, base, strlen(base));
                free(base);
        }
        if (opts & TABLE_ADDR_LOCAL) {
                add_key(&mine, kinds, TABLE_KEY_LOCAL, addr, local);
                add_key(&mine, kinds, TABLE_KEY_LOCAL_BARE, addr, cut);
        }
        if (at && at[1] && !(opts & TABLE_ADDR_NO_DOMAIN))
                add_key(&mine, kinds, TABLE_KEY_DOMAIN, at, strlen(at));
        for (size_t i = 0; i < mine.n; i++)
                strlist_push(keys, mine.v[i]);
        strlist_clear(&mine);
        free(addr);
}

/* table_list_find_addr - by table_addr_keys */
enum table_status table_list_find_addr(struct table_list *l, const char *addr,
                                       const char *delim, unsigned opts,
                                       const char **value,
                                       enum table_addr_key *which, char **err)
{
        struct strlist keys = {0};
        enum table_addr_key kinds[TABLE_ADDR_MAXKEYS];
        enum table_status st = TABLE_NOTFOUND;
        size_t i;

        /* no tables (an empty setting): no keys to build, as the queue
         * manager asks for every recipient it routes */
        if (l == NULL || l->n == 0)
                return TABLE_NOTFOUND;
        table_addr_keys(addr, delim, opts, &keys, kinds);
        for (i = 0; i < keys.n && st == TABLE_NOTFOUND; i++)
                st = list_find(l, keys.v[i], i > 0, value, NULL, err);
        if (st == TABLE_FOUND && which)
                *which = kinds[i - 1];
        strlist_clear(&keys);
        return st;
}

/* table_addr_extension - the extension of addr's local part (from the
 * first delimiter character on, when a user comes before it), or NULL */
char *table_addr_extension(const char *addr, const char *delim)
{
        const char *at = strrchr(addr, '@');
        size_t local = at ? (size_t)(at - addr) : strlen(addr);
        size_t cut = *delim ? strcspn(addr, delim) : local;

        if (cut == 0 || cut >= local)
                return NULL;
        return xstrndup(addr + cut, local - cut);
}

/* table_addr_with_ext - addr with ext put at the end of its local part */
char *table_addr_with_ext(const char *addr, const char *ext)
{
        const char *at = strrchr(addr, '@');
        size_t n = at ? (size_t)(at - addr) : strlen(addr);

        return xasprintf("%.*s%s%s", (int)n, addr, ext, at ? at : "");
}

/* table_list_lookup_addr - by table_addr_keys, no options */
enum table_status table_list_lookup_addr(struct table_list *l, const char *addr,
                                         const char *delim, const char **value,
                                         char **err)
{
        return table_list_find_addr(l, addr, delim, 0, value, NULL, err);
}

/* table_list_lookup_nexthop - as table_lookup_nexthop over the list */
enum table_status table_list_lookup_nexthop(struct table_list *l,
                                            const char *nexthop,
                                            const char **value,
                                            struct table **from, char **err)
{
        return table_list_lookup_domain(l, nexthop, value, from, err);
}

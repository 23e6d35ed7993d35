/* SPDX-License-Identifier: MIT */
/* memtab.c - in-memory tables: the storage of texthash: and inline: */
#include "table/table_int.h"
#include "log/log.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct table_memtab_entry {
        char *key;
        char *value;
};

struct table_memtab {
        struct table_memtab_entry *v; /* insertion order */
        size_t n, cap;
        size_t *slot; /* open addressing: index + 1, 0 = empty */
        size_t nslot; /* a power of two, at least twice n */
};

/* hash - FNV-1a */
static uint64_t hash(const char *s)
{
        uint64_t h = 1469598103934665603ULL;

        for (; *s; s++) {
                h ^= (unsigned char)*s;
                h *= 1099511628211ULL;
        }
        return h;
}

/* table_memtab_new - empty */
struct table_memtab *table_memtab_new(void)
{
        struct table_memtab *m = xcalloc(1, sizeof(*m));

        m->nslot = 16;
        m->slot = xcalloc(m->nslot, sizeof(*m->slot));
        return m;
}

/* table_memtab_free - release */
void table_memtab_free(struct table_memtab *m)
{
        if (m == NULL)
                return;
        for (size_t i = 0; i < m->n; i++) {
                free(m->v[i].key);
                free(m->v[i].value);
        }
        free(m->v);
        free(m->slot);
        free(m);
}

/* find - the slot holding key, or the empty slot where it would go */
static size_t find(const struct table_memtab *m, const char *key)
{
        size_t mask = m->nslot - 1;
        size_t i = (size_t)hash(key) & mask;

        while (m->slot[i] != 0 && strcmp(m->v[m->slot[i] - 1].key, key) != 0)
                i = (i + 1) & mask;
        return i;
}

/* grow - double the slot array */
static void grow(struct table_memtab *m)
{
        free(m->slot);
        m->nslot *= 2;
        m->slot = xcalloc(m->nslot, sizeof(*m->slot));
        for (size_t i = 0; i < m->n; i++)
                m->slot[find(m, m->v[i].key)] = i + 1;
}

/* table_memtab_put - insert or keep */
bool table_memtab_put(struct table_memtab *m, const char *key,
                      const char *value, bool replace)
{
        size_t i = find(m, key);

        if (m->slot[i] != 0) {
                struct table_memtab_entry *e = &m->v[m->slot[i] - 1];

                if (replace) {
                        free(e->value);
                        e->value = xstrdup(value);
                }
                return false;
        }
        if (m->n == m->cap) {
                m->cap = m->cap ? m->cap * 2 : 16;
                m->v = xreallocarray(m->v, m->cap, sizeof(*m->v));
        }
        m->v[m->n].key = xstrdup(key);
        m->v[m->n].value = xstrdup(value);
        m->n++;
        m->slot[i] = m->n;
        if (m->n * 2 > m->nslot)
                grow(m);
        return true;
}

/* table_memtab_get - lookup */
const char *table_memtab_get(const struct table_memtab *m, const char *key)
{
        size_t i = find(m, key);

        return m->slot[i] ? m->v[m->slot[i] - 1].value : NULL;
}

/* table_memtab_count - entries */
size_t table_memtab_count(const struct table_memtab *m)
{
        return m->n;
}

/* table_memtab_walk - in insertion order */
int table_memtab_walk(const struct table_memtab *m, table_walk_fn fn, void *arg)
{
        for (size_t i = 0; i < m->n; i++)
                if (fn(m->v[i].key, m->v[i].value, arg) < 0)
                        return -1;
        return 0;
}

/* mem_lookup - lookup for memtab-backed types */
static enum table_status mem_lookup(struct table *t, const char *key,
                                    const char **value, char **err)
{
        const char *v = table_memtab_get(t->priv, key);

        (void)err;
        if (v == NULL)
                return TABLE_NOTFOUND;
        *value = v;
        return TABLE_FOUND;
}

/* mem_walk - list */
static int mem_walk(struct table *t, table_walk_fn fn, void *arg, char **err)
{
        if (table_memtab_walk(t->priv, fn, arg) < 0) {
                if (err)
                        *err = NULL;
                return -1;
        }
        return 0;
}

/* mem_close - release */
static void mem_close(struct table *t)
{
        table_memtab_free(t->priv);
}

static const struct table_ops mem_ops = {mem_lookup, mem_walk, mem_close};

struct text_ctx {
        const char *name;
        struct table_memtab *m;
};

/* text_entry - add one entry; the first of a key wins */
static int text_entry(void *arg, const char *key, const char *value,
                      unsigned long lineno, char **err)
{
        struct text_ctx *ctx = arg;

        (void)err;
        if (!table_memtab_put(ctx->m, key, value, false))
                log_warnx("%s, line %lu: duplicate entry: \"%s\"", ctx->name,
                          lineno, key);
        return 0;
}

/* table_texthash_open - read the source file now */
int table_texthash_open(struct table *t, const char *name, char **err)
{
        struct text_ctx ctx = {name, NULL};
        char *buf;
        size_t len;

        if (table_read_file(name, &buf, &len, err) < 0)
                return -1;
        ctx.m = table_memtab_new();
        if ((t->aliases ? table_parse_aliases : table_parse_source)(
                name, buf, len, text_entry, &ctx, err) < 0) {
                table_memtab_free(ctx.m);
                free(buf);
                return -1;
        }
        free(buf);
        t->ops = &mem_ops;
        t->priv = ctx.m;
        t->file = xstrdup(name);
        return 0;
}

/* table_inline_open - inline:{ key=value, ... } */
int table_inline_open(struct table *t, const char *name, char **err)
{
        struct table_memtab *m = table_memtab_new();

        if (table_inline_parse(name, m, err) < 0) {
                table_memtab_free(m);
                return -1;
        }
        t->ops = &mem_ops;
        t->priv = m;
        return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * lmdb.c - lmdb: tables, the compiled form of a source file.
 *
 * FILE.lmdb is one LMDB file (MDB_NOSUBDIR) with Postfix's layout: the main
 * database maps "key\0" to "value\0", so postern reads tables built by
 * Postfix's postmap and the other way round.  A table is never written in
 * place: table_lmdb_build writes a temporary file beside the target,
 * syncs it and renames it over FILE.lmdb.  Because a file is never changed
 * after the rename, readers open it MDB_RDONLY|MDB_NOLOCK: no lock file,
 * no reader table, and a reader keeps the version it opened.
 */
#include "table/table_int.h"
#include "log/log.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct lmdb_tab {
        MDB_env *env;
        MDB_dbi dbi;
        struct strbuf key; /* walk */
};

/* value_copy - a datum without its trailing NUL, NUL-terminated in sb */
static const char *value_copy(struct strbuf *sb, const MDB_val *v)
{
        size_t n = v->mv_size;

        if (n > 0 && ((const char *)v->mv_data)[n - 1] == 0)
                n--;
        strbuf_reset(sb);
        strbuf_add(sb, v->mv_data, n);
        return strbuf_cstr(sb);
}

/* lmdb_lookup - "key\0" first (postern and Postfix), then "key" */
static enum table_status lmdb_lookup(struct table *t, const char *key,
                                     const char **value, char **err)
{
        struct lmdb_tab *l = t->priv;
        MDB_txn *txn;
        MDB_val k, v;
        int rc;

        if ((rc = mdb_txn_begin(l->env, NULL, MDB_RDONLY, &txn)) != 0) {
                table_err(err, "%s: lookup: %s", t->spec, mdb_strerror(rc));
                return TABLE_ERROR;
        }
        k.mv_data = (void *)key;
        k.mv_size = strlen(key) + 1;
        rc = mdb_get(txn, l->dbi, &k, &v);
        if (rc == MDB_NOTFOUND && k.mv_size > 1) {
                k.mv_size--;
                rc = mdb_get(txn, l->dbi, &k, &v);
        }
        if (rc == 0)
                *value = value_copy(&t->value, &v);
        mdb_txn_abort(txn);
        if (rc == 0)
                return TABLE_FOUND;
        /* a key too long to be stored cannot be there */
        if (rc == MDB_NOTFOUND || rc == MDB_BAD_VALSIZE)
                return TABLE_NOTFOUND;
        table_err(err, "%s: lookup of \"%s\": %s", t->spec, key,
                  mdb_strerror(rc));
        return TABLE_ERROR;
}

/* lmdb_walk - every entry, in key order */
static int lmdb_walk(struct table *t, table_walk_fn fn, void *arg, char **err)
{
        struct lmdb_tab *l = t->priv;
        MDB_txn *txn = NULL;
        MDB_cursor *cur;
        MDB_val k, v;
        int rc;

        if ((rc = mdb_txn_begin(l->env, NULL, MDB_RDONLY, &txn)) != 0 ||
            (rc = mdb_cursor_open(txn, l->dbi, &cur)) != 0) {
                if (rc != 0 && txn)
                        mdb_txn_abort(txn);
                table_err(err, "%s: %s", t->spec, mdb_strerror(rc));
                return -1;
        }
        while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0) {
                const char *key = value_copy(&l->key, &k);

                if (fn(key, value_copy(&t->value, &v), arg) < 0) {
                        mdb_cursor_close(cur);
                        mdb_txn_abort(txn);
                        if (err)
                                *err = NULL;
                        return -1;
                }
        }
        mdb_cursor_close(cur);
        mdb_txn_abort(txn);
        if (rc != MDB_NOTFOUND) {
                table_err(err, "%s: %s", t->spec, mdb_strerror(rc));
                return -1;
        }
        return 0;
}

/* lmdb_close - release */
static void lmdb_close(struct table *t)
{
        struct lmdb_tab *l = t->priv;

        mdb_env_close(l->env);
        strbuf_clear(&l->key);
        free(l);
}

static const struct table_ops lmdb_ops = {lmdb_lookup, lmdb_walk, lmdb_close};

/* table_lmdb_open - open FILE.lmdb read-only, without locks */
int table_lmdb_open(struct table *t, const char *name, char **err)
{
        char *path = xasprintf("%s.lmdb", name);
        struct lmdb_tab *l = xcalloc(1, sizeof(*l));
        MDB_txn *txn = NULL;
        struct stat st;
        int rc;

        strbuf_init(&l->key);
        /* LMDB's errors do not name the file; a missing table whose source
         * exists gets a hint */
        if (stat(path, &st) < 0) {
                int e = errno;

                if (e == ENOENT && stat(name, &st) == 0)
                        table_err(err,
                                  "open database %s: %s (compile it with "
                                  "\"postern map lmdb:%s\")",
                                  path, strerror(e), name);
                else
                        table_err(err, "open database %s: %s", path,
                                  strerror(e));
                goto fail;
        }
        if (!S_ISREG(st.st_mode)) {
                table_err(err, "open database %s: not a regular file", path);
                goto fail;
        }
        if ((rc = mdb_env_create(&l->env)) != 0 ||
            (rc = mdb_env_open(
                 l->env, path,
                 MDB_RDONLY | MDB_NOSUBDIR | MDB_NOLOCK | MDB_NOTLS, 0644)) !=
                0 ||
            (rc = mdb_txn_begin(l->env, NULL, MDB_RDONLY, &txn)) != 0 ||
            (rc = mdb_dbi_open(txn, NULL, 0, &l->dbi)) != 0) {
                table_err(err, "open database %s: %s", path, mdb_strerror(rc));
                if (txn)
                        mdb_txn_abort(txn);
                goto fail;
        }
        mdb_txn_abort(txn);
        t->ops = &lmdb_ops;
        t->priv = l;
        t->file = path;
        return 0;
fail:
        if (l->env)
                mdb_env_close(l->env);
        free(l);
        free(path);
        return -1;
}

struct build_ctx {
        const char *name;       /* source file */
        struct table_memtab *m; /* unique entries, first wins */
        size_t maxkey;          /* longest key LMDB stores, NUL included */
        size_t bytes;           /* keys and values */
        MDB_txn *txn;           /* while inserting */
        MDB_dbi dbi;
        int rc; /* LMDB error of the insert */
};

/* build_entry - collect one source entry */
static int build_entry(void *arg, const char *key, const char *value,
                       unsigned long lineno, char **err)
{
        struct build_ctx *ctx = arg;
        size_t klen = strlen(key) + 1;

        if (klen > ctx->maxkey) {
                table_err(err,
                          "%s, line %lu: key is %zu bytes long, lmdb keys "
                          "are at most %zu",
                          ctx->name, lineno, klen - 1, ctx->maxkey - 1);
                return -1;
        }
        if (!table_memtab_put(ctx->m, key, value, false))
                log_warnx("%s, line %lu: duplicate entry: \"%s\"", ctx->name,
                          lineno, key);
        else
                ctx->bytes += klen + strlen(value) + 1;
        return 0;
}

/* build_put - insert one entry into the new database */
static int build_put(const char *key, const char *value, void *arg)
{
        struct build_ctx *ctx = arg;
        MDB_val k = {strlen(key) + 1, (void *)key};
        MDB_val v = {strlen(value) + 1, (void *)value};

        ctx->rc = mdb_put(ctx->txn, ctx->dbi, &k, &v, MDB_NOOVERWRITE);
        return ctx->rc == 0 ? 0 : -1;
}

/* build_try - write all entries to tmp with a map of mapsize bytes;
 * returns 0, MDB_MAP_FULL to retry bigger, or another error */
static int build_try(struct build_ctx *ctx, const char *tmp, size_t mapsize)
{
        MDB_env *env = NULL;
        int rc;

        ctx->txn = NULL;
        if ((rc = mdb_env_create(&env)) != 0 ||
            (rc = mdb_env_set_mapsize(env, mapsize)) != 0 ||
            (rc = mdb_env_open(env, tmp, MDB_NOSUBDIR | MDB_NOLOCK, 0600)) !=
                0 ||
            (rc = mdb_txn_begin(env, NULL, 0, &ctx->txn)) != 0 ||
            (rc = mdb_dbi_open(ctx->txn, NULL, 0, &ctx->dbi)) != 0)
                goto out;
        if (table_memtab_walk(ctx->m, build_put, ctx) < 0) {
                rc = ctx->rc;
                goto out;
        }
        rc = mdb_txn_commit(ctx->txn);
        ctx->txn = NULL;
        if (rc == 0)
                rc = mdb_env_sync(env, 1);
out:
        if (ctx->txn)
                mdb_txn_abort(ctx->txn);
        if (env)
                mdb_env_close(env);
        return rc;
}

/* sync_dir - fsync the directory holding path, so the rename lasts */
static int sync_dir(const char *path)
{
        char *copy = xstrdup(path);
        int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int rc = -1;

        if (fd >= 0) {
                rc = fsync(fd);
                close(fd);
        }
        free(copy);
        return rc;
}

/* new_tmp - create an empty temporary file beside db; heap path */
static char *new_tmp(const char *db, char **err)
{
        char *tmp = xasprintf("%s.tmpXXXXXX", db);
        int fd = mkstemp(tmp);

        if (fd < 0) {
                table_err(err, "create %s: %s", tmp, strerror(errno));
                free(tmp);
                return NULL;
        }
        close(fd);
        return tmp;
}

/* table_lmdb_build - compile src into db through a temporary file */
int table_lmdb_build(const char *src, const char *db, bool aliases, char **err)
{
        struct build_ctx ctx = {.name = src};
        MDB_env *probe;
        struct stat st;
        char *buf = NULL, *tmp = NULL;
        size_t len, mapsize;
        int rc = -1, mrc;

        if (mdb_env_create(&probe) != 0) {
                table_err(err, "%s: cannot create an LMDB environment", db);
                return -1;
        }
        ctx.maxkey = (size_t)mdb_env_get_maxkeysize(probe);
        mdb_env_close(probe);

        if (table_read_file(src, &buf, &len, err) < 0)
                return -1;
        if (stat(src, &st) < 0) {
                table_err(err, "stat %s: %s", src, strerror(errno));
                goto out;
        }
        ctx.m = table_memtab_new();
        if ((aliases ? table_parse_aliases : table_parse_source)(
                src, buf, len, build_entry, &ctx, err) < 0)
                goto out;
        if ((tmp = new_tmp(db, err)) == NULL)
                goto out;
        /* room for the data twice over plus B-tree overhead; grown on
         * MDB_MAP_FULL */
        mapsize = (ctx.bytes + table_memtab_count(ctx.m) * 64) * 2 + (1 << 20);
        for (;;) {
                mrc = build_try(&ctx, tmp, mapsize);
                if (mrc != MDB_MAP_FULL)
                        break;
                /* start over with a bigger map in a fresh file */
                if (truncate(tmp, 0) < 0) {
                        table_err(err, "truncate %s: %s", tmp, strerror(errno));
                        goto out;
                }
                mapsize *= 2;
        }
        if (mrc != 0) {
                table_err(err, "write %s: %s", tmp, mdb_strerror(mrc));
                goto out;
        }
        /* the table gets the permissions (and, for root, the owner) of its
         * source, as with postmap: a private source stays private */
        if (chmod(tmp, st.st_mode & 0666) < 0 ||
            (geteuid() == 0 && chown(tmp, st.st_uid, st.st_gid) < 0)) {
                table_err(err, "chmod %s: %s", tmp, strerror(errno));
                goto out;
        }
        if (rename(tmp, db) < 0) {
                table_err(err, "rename %s to %s: %s", tmp, db, strerror(errno));
                goto out;
        }
        free(tmp);
        tmp = NULL;
        if (sync_dir(db) < 0) {
                table_err(err, "fsync directory of %s: %s", db,
                          strerror(errno));
                goto out;
        }
        rc = 0;
out:
        if (tmp) {
                unlink(tmp);
                free(tmp);
        }
        table_memtab_free(ctx.m);
        free(buf);
        return rc;
}

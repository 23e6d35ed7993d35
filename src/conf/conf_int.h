/* SPDX-License-Identifier: MIT */
/* conf_int.h - internals of src/conf shared by its files */
#ifndef POSTERN_CONF_INT_H
#define POSTERN_CONF_INT_H

#include "conf/conf.h"

/* One name = value from main.cf or an -o override. */
struct conf_entry {
        char *name;
        char *value;
        char *origin;     /* "FILE, line N", "-o" or "-c" */
        const char *file; /* store->path when from main.cf, else NULL */
        int line;
        bool referenced; /* some value expands $name */
};

struct conf_store {
        char *path; /* DIR/main.cf */
        struct conf_entry *v;
        size_t n, cap;
        struct strlist expanded; /* owned storage for struct conf's strings */
        char *hostname, *domain; /* computed defaults */
        bool quiet;              /* no warnings while expanding */
};

/* conf_store_read - parse DIR/main.cf (missing file: empty store).  -1 with
 * *err (caller frees) on a syntax error naming file and line. */
int conf_store_read(const char *dir, struct conf_store **out, char **err);
/* conf_store_parse - like conf_store_read, from len bytes in memory; label
 * stands for the file name in messages. */
int conf_store_parse(const char *label, const char *data, size_t len,
                     struct conf_store **out, char **err);
/* conf_build - expand and type every parameter; takes the store. */
int conf_build(struct conf_store *, struct conf **out, char **err);
/* conf_store_apply_overrides - "name=value" strings; -1 with *err. */
int conf_store_apply_overrides(struct conf_store *, const struct strlist *,
                               char **err);
/* conf_store_value - text main.cf gives name, else its default, else NULL. */
const char *conf_store_value(struct conf_store *, const char *name);
/* conf_store_expand - expand $name references, appending to out. */
int conf_store_expand(struct conf_store *, const char *text, struct strbuf *,
                      const char **err);
/* conf_store_warn_unused - warn about unknown names no value refers to. */
void conf_store_warn_unused(struct conf_store *);
/* conf_store_free - release (NULL ok). */
void conf_store_free(struct conf_store *);

/* conf_read_file - whole file, NUL-terminated; -1 with errno. */
int conf_read_file(const char *path, char **data, size_t *len);
/* conf_suggest - the known parameter name nearest to name, or NULL. */
const char *conf_suggest(const char *name);

/* Assigning an expanded value to a typed struct conf field. */
#define CONF_ASSIGN_STR(f, s, b, n) ((f) = (s))
#define CONF_ASSIGN_LIST(f, s, b, n) ((f) = (s))
#define CONF_ASSIGN_TABLE(f, s, b, n) ((f) = (s))
#define CONF_ASSIGN_BOOL(f, s, b, n) ((f) = (b))
#define CONF_ASSIGN_INT(f, s, b, n) ((f) = (n))
#define CONF_ASSIGN_TIME(f, s, b, n) ((f) = (n))
#define CONF_ASSIGN_SIZE(f, s, b, n) ((f) = (n))

#endif

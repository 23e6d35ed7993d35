/* SPDX-License-Identifier: MIT */
/*
 * table_int.h - internals of the table module, shared by its files, its
 * unit tests and its fuzz targets.  Not for other modules.
 */
#ifndef POSTERN_TABLE_INT_H
#define POSTERN_TABLE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "base/base.h"
#include "table/table.h"

/* What each table type provides. */
struct table_ops {
        /* key is already folded when the type folds keys */
        enum table_status (*lookup)(struct table *, const char *key,
                                    const char **value, char **err);
        int (*walk)(struct table *, table_walk_fn, void *, char **err);
        void (*close)(struct table *);
};

struct table {
        const struct table_ops *ops;
        char *spec;          /* "type:name" as given */
        bool fold;           /* fold keys to lower case before lookup */
        bool pattern;        /* cidr, regexp, pcre: whole keys only */
        struct strbuf key;   /* folded key */
        struct strbuf value; /* value storage for types that copy */
        void *priv;          /* the type's own data */
        char *file;          /* the file behind the table, or NULL */
        dev_t dev;           /* its identity when opened */
        ino_t ino;
        struct timespec mtime;
        bool aliases; /* TABLE_OPEN_ALIASES: texthash: reads aliases(5) */
};

/* The white space of Postfix's ISSPACE in the C locale. */
#define TABLE_SPACE " \t\n\v\f\r"
/* table_isspace - whether c is one of TABLE_SPACE. */
bool table_isspace(int c);

/* table_err - set *err (when err is not NULL) to a formatted heap string. */
void table_err(char **err, const char *fmt, ...) PRINTFLIKE(2, 3);

/* table_read_file - the whole content of path in a heap buffer (NUL
 * terminated after len bytes).  -1 with *err naming the file. */
int table_read_file(const char *path, char **buf, size_t *len, char **err);

/* table_line_fn - one logical line: text (trailing white space removed,
 * writable) and the number of its first physical line. */
typedef int (*table_line_fn)(void *arg, char *text, unsigned long lineno,
                             char **err);
/* table_read_lines - split buf into Postfix logical lines: blank lines and
 * lines whose first non-blank byte is '#' are skipped; a line starting with
 * white space continues the previous logical line (the newline is dropped,
 * the white space kept); a CR before LF is dropped.  A continuation line
 * with nothing to continue is a warning.  A NUL byte is an error naming
 * name and line.  Returns 0 or -1 (from fn, or the NUL error). */
int table_read_lines(const char *name, const char *buf, size_t len,
                     table_line_fn fn, void *arg, char **err);

/* The IF blocks of a rule table (cidr:, regexp:, pcre:) still open while it is
 * parsed: the rule index and line of each unclosed IF, innermost last. */
struct table_ifs {
        struct table_if {
                size_t rule;
                unsigned long line;
        } * v;
        size_t n, cap;
};
/* table_ifs_open - the IF at rule index rule, line lineno, opens a block. */
void table_ifs_open(struct table_ifs *, size_t rule, unsigned long lineno);
/* table_ifs_close - an ENDIF line (rest: what follows the word) closes the
 * innermost block: 0 with *rule its IF's index, or -1 with *err naming
 * name and line ("garbage after ENDIF", "ENDIF without IF"). */
int table_ifs_close(struct table_ifs *, const char *rest, const char *name,
                    unsigned long lineno, size_t *rule, char **err);
/* table_ifs_finish - end of parsing with result rc: rc, or -1 with *err
 * when rc is 0 and a block is still open.  Releases the stack. */
int table_ifs_finish(struct table_ifs *, int rc, const char *name, char **err);

/* table_entry_fn - one "key value" entry: key folded to lower case. */
typedef int (*table_entry_fn)(void *arg, const char *key, const char *value,
                              unsigned long lineno, char **err);
/* table_parse_source - parse Postfix table source text: each logical line
 * is "key whitespace value"; a line without a value is a warning naming
 * name and line, and is skipped.  Returns 0 or -1 as table_read_lines. */
int table_parse_source(const char *name, const char *buf, size_t len,
                       table_entry_fn fn, void *arg, char **err);

/* table_parse_aliases - parse aliases(5) source text: each logical line
 * is "name: value, value, ...", the name folded to lower case and
 * unquoted, the value normalized to "value, value" (table_alias_split).
 * A line without a colon, name or value is a warning naming name and line,
 * and is skipped.  Returns 0 or -1 as table_read_lines. */
int table_parse_aliases(const char *name, const char *buf, size_t len,
                        table_entry_fn fn, void *arg, char **err);

/* An in-memory hash table of owned strings, in insertion order. */
struct table_memtab;
/* table_memtab_new - an empty table. */
struct table_memtab *table_memtab_new(void);
/* table_memtab_free - release (NULL ok). */
void table_memtab_free(struct table_memtab *);
/* table_memtab_put - insert key=value.  When the key exists: replace it if
 * replace, else keep the old one.  Returns true when the key was new. */
bool table_memtab_put(struct table_memtab *, const char *key, const char *value,
                      bool replace);
/* table_memtab_get - the value of key, or NULL.  Borrowed while the memtab
 * lives. */
const char *table_memtab_get(const struct table_memtab *, const char *key);
/* table_memtab_count - number of entries. */
size_t table_memtab_count(const struct table_memtab *);
/* table_memtab_walk - entries in insertion order. */
int table_memtab_walk(const struct table_memtab *, table_walk_fn, void *);

/* The types.  Each open function fills t->ops, t->priv (and t->file) from
 * name, the text after "type:". */
int table_texthash_open(struct table *, const char *name, char **err);
int table_lmdb_open(struct table *, const char *name, char **err);
int table_cidr_open(struct table *, const char *name, char **err);
int table_regexp_open(struct table *, const char *name, char **err);
int table_pcre_open(struct table *, const char *name, char **err);
int table_inline_open(struct table *, const char *name, char **err);
int table_static_open(struct table *, const char *name, char **err);

/* table_lmdb_build - compile source file src into db (FILE.lmdb path),
 * in aliases(5) format when aliases. */
int table_lmdb_build(const char *src, const char *db, bool aliases, char **err);

/* table_inline_parse - parse the text after "inline:" into m (keys folded,
 * last entry of a key wins, as in Postfix).  -1 with *err on bad syntax. */
int table_inline_parse(const char *text, struct table_memtab *m, char **err);
/* table_static_parse - the value of "static:TEXT" (caller frees). */
int table_static_parse(const char *text, char **value, char **err);

/* The rules of a cidr: table. */
struct table_cidr_rules;
/* table_cidr_parse - parse cidr source text; name is used in messages. */
int table_cidr_parse(const char *name, const char *buf, size_t len,
                     struct table_cidr_rules **out, char **err);
/* table_cidr_match - the result of the first rule matching addr, or NULL
 * (also for a key that is not an IP address).  Borrowed. */
const char *table_cidr_match(const struct table_cidr_rules *, const char *addr);
/* table_cidr_free - release (NULL ok). */
void table_cidr_free(struct table_cidr_rules *);

/* The rules of a regexp: or pcre: table: one parser, IF/ENDIF and $n
 * substitution for both, with the patterns compiled and matched by an
 * engine (POSIX regcomp for regexp:, PCRE2 for pcre:). */
struct table_regexp_rules;

/* $0 ... $9: the groups a result may use */
#define TABLE_RE_GROUPS 10
/* What a group of a match covers in the key: byte offsets, -1 for a
 * group that did not take part. */
struct table_re_span {
        long so, eo;
};
/* A pattern engine. */
struct table_re_engine {
        unsigned defaults; /* option bits before a rule's flags */
        bool group0;       /* a result may use $0 (the whole match) */
        /* flag - the option bit that flag letter c toggles, 0 when the
         * engine knows no such flag */
        unsigned (*flag)(int c);
        /* compile - 0 with *re (freed by free) and *groups (the number of
         * capture groups), or -1 with *why (heap) */
        int (*compile)(const char *pattern, unsigned opts, void **re,
                       size_t *groups, char **why);
        /* match - 1 when re matches key, with m[0 .. TABLE_RE_GROUPS-1]
         * filled when m is not NULL; 0 when not; -1 with *why (heap) when
         * the match failed (a resource limit) */
        int (*match)(void *re, const char *key, struct table_re_span *m,
                     char **why);
        void (*free)(void *re);
};
/* regexp_table(5): POSIX extended, case-insensitive by default. */
extern const struct table_re_engine table_re_posix;
/* pcre_table(5): PCRE2 in byte mode, with a match limit. */
extern const struct table_re_engine table_re_pcre;

/* table_regexp_parse - parse regexp_table(5) / pcre_table(5) source text
 * with engine e; name is used in messages.  A bad rule is an error. */
int table_regexp_parse(const struct table_re_engine *e, const char *name,
                       const char *buf, size_t len,
                       struct table_regexp_rules **out, char **err);
/* table_regexp_match - the result of the first rule matching key, with
 * $n filled in (*value borrowed until the next call on the rules), or
 * TABLE_NOTFOUND; TABLE_ERROR with *err naming the table and line when
 * the engine fails (pcre:'s match limit). */
enum table_status table_regexp_match(struct table_regexp_rules *,
                                     const char *key, const char **value,
                                     char **err);
/* table_regexp_free - release (NULL ok). */
void table_regexp_free(struct table_regexp_rules *);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * table - lookup tables in Postfix's syntax.
 *
 * A table is named "type:name" as in main.cf:
 *   texthash:FILE   the source file, read when the table is opened
 *   lmdb:FILE       FILE.lmdb, compiled from FILE by `postern map`
 *   hash:FILE, btree:FILE   aliases of lmdb: (so an existing main.cf works)
 *   inline:{ key=value, { key = text with spaces } }
 *   cidr:FILE       "network/prefix result" rules, first match wins
 *   regexp:FILE     "/pattern/flags result" rules, POSIX regular expressions
 *   pcre:FILE       the same rules with PCRE2 patterns
 *   static:value, static:{ text with spaces }   every key has this value
 *
 * Source files use Postfix's syntax: "key whitespace value", '#' comment
 * lines, blank lines, and lines starting with white space continue the
 * previous logical line.  Keys are folded to lower case (except cidr:,
 * whose keys are addresses, and regexp: and pcre:, whose patterns are
 * case-insensitive by default).  A line without a value and a duplicate key
 * are warnings naming file and line (logged with log_warnx); the first
 * entry of a key wins.  Real syntax errors (a NUL byte, a bad cidr rule,
 * unbalanced inline braces) make table_open fail with "FILE, line N: why".
 *
 * Tables are immutable once open.  A struct table is not safe for use by
 * two threads at once (lookups reuse per-table buffers); open one per
 * thread.  smtpd and the queue manager open their tables in the
 * supervisor, before the workers fork: LMDB asks that an environment not
 * be carried across fork(), for its lock file and reader table, which
 * lmdb: tables do not use (they are opened MDB_RDONLY|MDB_NOLOCK and never
 * written in place: lmdb.c), so each process only reads its copy of the
 * mapping.  A table type with locks of its own would have to be opened
 * after the fork.  table_changed() tells a long-running process when to
 * reopen.
 */
#ifndef POSTERN_TABLE_H
#define POSTERN_TABLE_H

#include <stdbool.h>

#include "base/base.h"

struct table;      /* one open table; opaque */
struct table_list; /* several tables searched in order; opaque */

/* The result of a lookup: three distinct outcomes. */
enum table_status {
        TABLE_ERROR = -1,   /* *err is set (caller frees) */
        TABLE_FOUND = 0,    /* *value is set (borrowed) */
        TABLE_NOTFOUND = 1, /* neither is touched */
};

/* table_open - open the table SPEC ("type:name").  Returns 0 with *out
 * set, or -1 with *err (caller frees) naming the file, and the line for a
 * syntax error; *out is then NULL. */
int table_open(const char *spec, struct table **out, char **err);
/* Flags of table_open_flags, table_list_open_flags and
 * table_compile_flags. */
#define TABLE_OPEN_ALIASES                                                     \
        (1u << 0) /* the source is an aliases(5) file ("name: a, b"):          \
                     texthash: parses it so, table_compile builds it so */
/* table_open_flags - table_open with TABLE_OPEN_* flags. */
int table_open_flags(const char *spec, unsigned flags, struct table **out,
                     char **err);
/* table_close - release a table (NULL ok). */
void table_close(struct table *);
/* table_spec - the "type:name" the table was opened with.  Borrowed, valid
 * while the table is open. */
const char *table_spec(const struct table *);

/* table_lookup - exact lookup of key (folded to lower case for every type
 * but cidr:, regexp: and pcre:).  On TABLE_FOUND *value is borrowed until
 * the next call on this table or table_close.  TABLE_ERROR is a failed
 * lookup (an unreadable lmdb: file, pcre:'s match limit): callers defer
 * rather than treat it as "not found". */
enum table_status table_lookup(struct table *, const char *key,
                               const char **value, char **err);
/* table_lookup_domain - lookup for policy tables, as Postfix's
 * smtp_tls_policy_maps: the domain itself, then ".parent" entries for each
 * parent domain (sub.example.com tries sub.example.com, .example.com,
 * .com).  Only explicit ".domain" keys match subdomains.  A name that is not
 * a plain domain (it holds '[', ']' or ':', as "[host]:port" next-hops do)
 * is looked up exactly and nothing else.  Same ownership as table_lookup. */
enum table_status table_lookup_domain(struct table *, const char *domain,
                                      const char **value, char **err);
/* table_lookup_nexthop - lookup of an SMTP next-hop: "[host]:port",
 * "[host]" and "host:port" match only that exact key (explicit next-hops
 * name one policy, as in Postfix); a bare domain is looked up as
 * table_lookup_domain does.  Same ownership as table_lookup. */
enum table_status table_lookup_nexthop(struct table *, const char *nexthop,
                                       const char **value, char **err);

/* table_walk_fn - called by table_walk for each entry; key and value are
 * borrowed for the call.  Return 0 to go on, -1 to stop the walk. */
typedef int (*table_walk_fn)(const char *key, const char *value, void *arg);
/* table_walk - every entry of the table: lmdb: in key order, texthash: and
 * inline: in source order (first entry of each key), cidr: rules in file
 * order as "network/prefix".  static: has no entries to list.  Returns 0,
 * or -1 with *err (caller frees) when the table cannot be listed or fn
 * stopped (then *err is NULL). */
int table_walk(struct table *, table_walk_fn fn, void *arg, char **err);

/* table_changed - whether the file behind the table was replaced or
 * modified since it was opened (a long-running process then reopens it).
 * False for tables without a file. */
bool table_changed(const struct table *);

/* table_compile - build the compiled form of SPEC: for lmdb:FILE (and the
 * hash:/btree: aliases) read FILE and write FILE.lmdb.  The new table is
 * written to a temporary file beside the target, synced, and renamed over
 * FILE.lmdb, so a reader never sees a half-built table.  Warnings (no
 * value, duplicates) are logged; the first entry of a key wins.  Returns 0,
 * or -1 with *err (caller frees) naming file and line.  Other types
 * cannot be compiled (-1). */
int table_compile(const char *spec, char **err);

/* table_compile_flags - table_compile with TABLE_OPEN_* flags:
 * TABLE_OPEN_ALIASES reads FILE as aliases(5) (Postfix's postalias). */
int table_compile_flags(const char *spec, unsigned flags, char **err);

/* table_alias_split - the elements of an aliases(5) value, appended to
 * out: split at commas outside double quotes (a backslash quotes the next
 * byte), white space around each dropped and runs of it outside quotes
 * made one space, quotes kept, empty elements left out. */
void table_alias_split(const char *value, struct strlist *out);

/* table_source_fn - called by table_source_walk for each entry of a
 * source file, with the line it starts on; key and value are borrowed
 * for the call.  Return 0 to go on, -1 to stop. */
typedef int (*table_source_fn)(const char *key, const char *value,
                               unsigned long lineno, void *arg);
/* table_source_walk - every entry of the source file behind SPEC
 * (lmdb:, hash:, btree: or texthash:), read as table_compile_flags reads
 * it (TABLE_OPEN_ALIASES: aliases(5)), duplicates included: for
 * messages that name the line (`postern check`).  Returns 0, or -1 with
 * *err (caller frees) when SPEC has no source file or it cannot be read
 * (or fn stopped: then *err is NULL). */
int table_source_walk(const char *spec, unsigned flags, table_source_fn fn,
                      void *arg, char **err);

/* Whether a compiled table is older than its source (for `postern check`). */
enum table_freshness {
        TABLE_UP_TO_DATE,   /* FILE.lmdb exists and is not older than FILE */
        TABLE_OLDER,        /* FILE.lmdb is older than FILE: recompile */
        TABLE_NOT_BUILT,    /* FILE exists, FILE.lmdb does not */
        TABLE_NOT_COMPILED, /* a type without a compiled form */
};
/* table_freshness - compare FILE.lmdb with FILE for lmdb:/hash:/btree:
 * specs.  Returns 0 with *out set, or -1 with *err (caller frees) when the
 * spec is malformed or the source file cannot be examined. */
int table_freshness(const char *spec, enum table_freshness *out, char **err);
/* table_freshness_name - "up to date", "older than its source", ...
 * (static storage). */
const char *table_freshness_name(enum table_freshness);

/* table_list_open - open every table of a parameter value such as
 * "lmdb:/a, texthash:/b" (separated by commas or white space; braces of
 * inline:{...} and static:{...} are kept together).  An empty value is an
 * empty list, in which nothing is found.  Returns 0 with *out, or -1 with
 * *err (caller frees) from the first table that fails to open. */
int table_list_open(const char *value, struct table_list **out, char **err);
/* table_list_open_flags - table_list_open with TABLE_OPEN_* flags. */
int table_list_open_flags(const char *value, unsigned flags,
                          struct table_list **out, char **err);
/* table_list_close - close every table (NULL ok). */
void table_list_close(struct table_list *);
/* table_list_count - the number of tables in the list. */
size_t table_list_count(const struct table_list *);
/* table_list_get - the i-th table (borrowed). */
struct table *table_list_get(const struct table_list *, size_t i);
/* table_list_lookup - table_lookup on each table in order; the first one
 * that finds the key (or fails) decides.  *value is borrowed until the
 * next call on the list; *from (if not NULL) is the table that answered. */
enum table_status table_list_lookup(struct table_list *, const char *key,
                                    const char **value, struct table **from,
                                    char **err);
/* table_list_lookup_partial - table_list_lookup of a key derived from
 * the whole one (a parent domain, an address without its extension or
 * local part, a network prefix): pattern tables (cidr, regexp, pcre) are
 * left out, as Postfix asks them only for the whole string. */
enum table_status table_list_lookup_partial(struct table_list *,
                                            const char *key, const char **value,
                                            struct table **from, char **err);
/* Options of table_addr_keys and table_list_find_addr. */
#define TABLE_ADDR_LOCAL                                                       \
        (1u << 0)                      /* the domain is this host's: also      \
                                          user+ext and user */
#define TABLE_ADDR_NO_DOMAIN (1u << 1) /* no "@domain" key */

/* Which of an address's keys a lookup found it by (the caller of a
 * mapping needs to know: an unmatched extension may go on to the
 * result, "@domain" replaces only the domain). */
enum table_addr_key {
        TABLE_KEY_FULL,       /* user+ext@domain, as given */
        TABLE_KEY_BARE,       /* user@domain: the extension cut */
        TABLE_KEY_LOCAL,      /* user+ext */
        TABLE_KEY_LOCAL_BARE, /* user */
        TABLE_KEY_DOMAIN,     /* @domain */
};
/* The most keys an address has. */
#define TABLE_ADDR_MAXKEYS 5

/* table_addr_keys - the keys an address is looked up by in Postfix's
 * address tables (virtual, relocated, BCC, canonical, relay per sender),
 * in order: the address, the address without its extension (cut at the
 * first character of delim in the local part, when delim is not empty
 * and the cut leaves a user), with TABLE_ADDR_LOCAL the local part with
 * and without its extension, then "@domain" unless TABLE_ADDR_NO_DOMAIN;
 * lower case, none twice, appended to keys.  kinds (NULL, or room for
 * TABLE_ADDR_MAXKEYS) gets what each key is. */
void table_addr_keys(const char *addr, const char *delim, unsigned opts,
                     struct strlist *keys, enum table_addr_key *kinds);
/* table_addr_extension - the extension of addr's local part, from the
 * first character of delim on, when a user comes before it; NULL when
 * there is none.  Caller frees. */
char *table_addr_extension(const char *addr, const char *delim);
/* table_addr_with_ext - addr with ext added to the end of its local part
 * ("bob@x", "+lists" gives "bob+lists@x").  Caller frees. */
char *table_addr_with_ext(const char *addr, const char *ext);
/* table_list_lookup_addr - the first of those keys (no options) that the
 * list finds (or a table error); pattern tables see only the address
 * itself.  *value is borrowed as for table_list_lookup. */
enum table_status table_list_lookup_addr(struct table_list *, const char *addr,
                                         const char *delim, const char **value,
                                         char **err);
/* table_list_find_addr - table_list_lookup_addr with TABLE_ADDR_*
 * options; on TABLE_FOUND *which (if not NULL) is the key that found
 * it. */
enum table_status table_list_find_addr(struct table_list *, const char *addr,
                                       const char *delim, unsigned opts,
                                       const char **value,
                                       enum table_addr_key *which, char **err);
/* table_list_lookup_domain - as table_lookup_domain; for each candidate
 * name (the domain, then each ".parent") every table is searched in order
 * before the next candidate, as Postfix's maps do; pattern tables see
 * only the domain itself. */
enum table_status table_list_lookup_domain(struct table_list *,
                                           const char *domain,
                                           const char **value,
                                           struct table **from, char **err);
/* table_list_lookup_nexthop - as table_lookup_nexthop over the list. */
enum table_status table_list_lookup_nexthop(struct table_list *,
                                            const char *nexthop,
                                            const char **value,
                                            struct table **from, char **err);

#endif

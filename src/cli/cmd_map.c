/* SPDX-License-Identifier: MIT */
/*
 * cmd_map.c - `postern map`: compile, query and list lookup tables, as
 * Postfix's postmap.  Exit status: 0 success (key found), 1 key not found
 * (as postmap), 2 an error (bad usage, unreadable table, syntax error).
 */
#include "cli/cli.h"
#include "conf/conf.h"
#include "log/log.h"
#include "table/table.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAP_USAGE                                                              \
        "postern map [-c DIR] [-o name=value] [TYPE:]FILE...\n"                \
        "       postern map [-c DIR] [-o name=value] -q KEY|- "                \
        "[TYPE:]FILE...\n"                                                     \
        "       postern map [-c DIR] [-o name=value] -s [TYPE:]FILE..."

static const char map_help[] =
    "Compile, query or list lookup tables (Postfix's postmap).\n"
    "\n"
    "  postern map lmdb:FILE  compile FILE into FILE.lmdb (written to a\n"
    "                         temporary file, then renamed)\n"
    "  -q KEY                 print KEY's value from the first table\n"
    "                         that has it; exit 1 when none has it\n"
    "  -q -                   read keys from stdin; print key<TAB>value\n"
    "                         for each key found\n"
    "  -s                     list every key<TAB>value of the tables\n"
    "  -c DIR                 configuration directory\n"
    "  -o name=value          parameter override; default_database_type\n"
    "                         is the type of a FILE without TYPE:\n"
    "\n"
    "Types: lmdb: (hash: and btree: are aliases), texthash:, cidr:,\n"
    "regexp:, pcre:, inline:{ key=value, ... }, static:value.  Without\n"
    "TYPE:, lmdb: is used.  Exit status: 0 found or done, 1 not found,\n"
    "2 error (also a failed lookup, such as pcre:'s match limit).\n";

/* map_fatal - "postern: fatal: text" on stderr; returns the exit status */
static int map_fatal(const char *fmt, ...) PRINTFLIKE(1, 2);
static int map_fatal(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        log_vmsg("fatal", fmt, ap);
        va_end(ap);
        return 2;
}

/* map_spec - "type:name" for a command-line argument (heap) */
static char *map_spec(const char *arg, const char *deftype)
{
        const char *colon = strchr(arg, ':');

        /* "type:" is a prefix only when it looks like a type name */
        if (colon && colon > arg && strcspn(arg, "/.") > (size_t)(colon - arg))
                return xstrdup(arg);
        return xasprintf("%s:%s", deftype, arg);
}

/* print_entry - one "key\tvalue" line for -s */
static int print_entry(const char *key, const char *value, void *arg)
{
        (void)arg;
        printf("%s\t%s\n", key, value);
        return 0;
}

/* open_all - open the tables; 0 or the exit status of an error */
static int open_all(struct strlist *specs, unsigned flags, struct table ***out)
{
        struct table **t = xcalloc(specs->n + 1, sizeof(*t));

        for (size_t i = 0; i < specs->n; i++) {
                char *err = NULL;

                if (table_open_flags(specs->v[i], flags, &t[i], &err) < 0) {
                        map_fatal("%s", err);
                        free(err);
                        for (size_t j = 0; j < i; j++)
                                table_close(t[j]);
                        free(t);
                        return 2;
                }
        }
        *out = t;
        return 0;
}

/* query_one - key in each table in order: 0 found, 1 not, 2 error */
static int query_one(struct table **t, size_t n, const char *key,
                     const char **value)
{
        for (size_t i = 0; i < n; i++) {
                char *err = NULL;

                switch (table_lookup(t[i], key, value, &err)) {
                case TABLE_FOUND:
                        return 0;
                case TABLE_NOTFOUND:
                        break;
                case TABLE_ERROR:
                        map_fatal("%s", err);
                        free(err);
                        return 2;
                }
        }
        return 1;
}

/* do_query - -q KEY or -q - */
static int do_query(struct strlist *specs, unsigned flags, const char *key)
{
        struct table **t;
        const char *value;
        int rc;

        if ((rc = open_all(specs, flags, &t)) != 0)
                return rc;
        if (strcmp(key, "-") != 0) {
                if ((rc = query_one(t, specs->n, key, &value)) == 0)
                        printf("%s\n", value);
        } else {
                char *line = NULL;
                size_t cap = 0;
                ssize_t len;
                int found = 0;

                rc = 0;
                while (rc != 2 && (len = getline(&line, &cap, stdin)) >= 0) {
                        while (len > 0 && strchr(" \t\r\n", line[len - 1]))
                                line[--len] = 0;
                        if (len == 0)
                                continue;
                        rc = query_one(t, specs->n, line, &value);
                        if (rc == 0) {
                                printf("%s\t%s\n", line, value);
                                found = 1;
                        }
                }
                free(line);
                if (rc != 2)
                        rc = found ? 0 : 1;
        }
        for (size_t i = 0; i < specs->n; i++)
                table_close(t[i]);
        free(t);
        if (fflush(stdout) != 0)
                return map_fatal("write standard output: error");
        return rc;
}

/* do_list - -s */
static int do_list(struct strlist *specs, unsigned flags)
{
        struct table **t;
        int rc;

        if ((rc = open_all(specs, flags, &t)) != 0)
                return rc;
        for (size_t i = 0; i < specs->n && rc == 0; i++) {
                char *err = NULL;

                if (table_walk(t[i], print_entry, NULL, &err) < 0) {
                        rc = map_fatal("%s", err ? err : "listing stopped");
                        free(err);
                }
        }
        for (size_t i = 0; i < specs->n; i++)
                table_close(t[i]);
        free(t);
        if (fflush(stdout) != 0 && rc == 0)
                rc = map_fatal("write standard output: error");
        return rc;
}

/* do_compile - build each table */
static int do_compile(struct strlist *specs, unsigned flags)
{
        for (size_t i = 0; i < specs->n; i++) {
                char *err = NULL;

                if (table_compile_flags(specs->v[i], flags, &err) < 0) {
                        map_fatal("%s", err);
                        free(err);
                        return 2;
                }
        }
        return 0;
}

/* alias_database_specs - newaliases: the tables of alias_database
 * (a file without a type gets deftype); 0 or the exit status */
static int alias_database_specs(const struct cli_common *common,
                                const char *deftype, struct strlist *specs)
{
        struct conf *c = NULL;
        struct strlist all = {0};
        char *err = NULL;

        if (conf_load(common->config_dir, &common->overrides, &c, &err) < 0) {
                int rc = map_fatal("%s", err);
                free(err);
                return rc;
        }
        conf_split_list(c->alias_database, &all);
        for (size_t i = 0; i < all.n; i++) {
                char *spec = map_spec(all.v[i], deftype);
                strlist_push(specs, spec);
                free(spec);
        }
        strlist_clear(&all);
        conf_free(c);
        return 0;
}

/* cmd_map - postern map */
int cmd_map(int argc, char **argv)
{
        return cli_map_main(argc, argv,
                            &(struct cli_map_mode){
                                .cmd = "map",
                                .usage = MAP_USAGE,
                                .help = map_help,
                            });
}

/* cli_map_main - postern map and postern aliases */
int cli_map_main(int argc, char **argv, const struct cli_map_mode *mode)
{
        struct cli_common common;
        struct strlist specs = {0};
        const char *query = NULL, *deftype = "lmdb";
        bool list = false;
        int opt, bad = 0, rc;

        /* warnings read as postmap's: "postern: warning: FILE, line N: ..." */
        log_init(NULL);
        if (cli_wants_help(argc, argv)) {
                printf("usage: %s\n\n%s", mode->usage, mode->help);
                return 0;
        }
        cli_common_init(&common);
        optind = 1;
        opterr = 0;
        while ((opt = getopt(argc, argv, ":c:o:q:s")) != -1) {
                switch (opt) {
                case ':':
                        cli_common_clear(&common);
                        return cli_usage(mode->cmd, mode->usage,
                                         "option -%c needs an argument",
                                         optopt);
                case '?':
                        cli_common_clear(&common);
                        return cli_usage(mode->cmd, mode->usage,
                                         "unknown option -%c", optopt);
                case 'q':
                        query = optarg;
                        break;
                case 's':
                        list = true;
                        break;
                default:
                        if (cli_common_opt(&common, opt, optarg, &bad) == 0)
                                break;
                        cli_common_clear(&common);
                        return cli_usage(mode->cmd, mode->usage, NULL);
                }
        }
        /* The only parameter postern map uses.  postern compiles one type, so
         * hash and btree (Postfix's usual defaults) mean lmdb as well. */
        for (size_t i = 0; i < common.overrides.n; i++)
                if (str_has_prefix(common.overrides.v[i],
                                   "default_database_type="))
                        deftype = strchr(common.overrides.v[i], '=') + 1;
        if (!*deftype)
                deftype = "lmdb";
        if (optind >= argc && mode->aliases &&
            (rc = alias_database_specs(&common, deftype, &specs)) != 0) {
                cli_common_clear(&common);
                return rc;
        }
        if (optind >= argc && specs.n == 0) {
                cli_common_clear(&common);
                return cli_usage(mode->cmd, mode->usage,
                                 "missing table argument");
        }
        if (query && list) {
                cli_common_clear(&common);
                return cli_usage(mode->cmd, mode->usage,
                                 "-q and -s cannot be used together");
        }
        for (int i = optind; i < argc; i++) {
                char *spec = map_spec(argv[i], deftype);

                strlist_push(&specs, spec);
                free(spec);
        }
        unsigned flags = mode->aliases ? TABLE_OPEN_ALIASES : 0;
        if (query)
                rc = do_query(&specs, flags, query);
        else if (list)
                rc = do_list(&specs, flags);
        else
                rc = do_compile(&specs, flags);
        strlist_clear(&specs);
        cli_common_clear(&common);
        return rc;
}

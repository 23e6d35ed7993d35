/* SPDX-License-Identifier: MIT */
/*
 * fuzz_table_source.c - the Postfix table source parser (texthash: and
 * the input of lmdb: builds): logical lines, continuations, comments,
 * key/value split, then lookups of every parsed key.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"
#include "table/table_int.h"

/* add_entry - store like texthash: does (first entry wins) */
static int add_entry(void *arg, const char *key, const char *value,
                     unsigned long lineno, char **err)
{
        (void)lineno;
        (void)err;
        if (*key == 0 || *value == 0)
                abort(); /* the parser never yields empty keys or values */
        table_memtab_put(arg, key, value, false);
        return 0;
}

/* check_entry - every listed key is found with its value */
static int check_entry(const char *key, const char *value, void *arg)
{
        const char *v = table_memtab_get(arg, key);

        if (v == NULL || strcmp(v, value) != 0)
                abort();
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static int quiet;
        struct table_memtab *m = table_memtab_new();
        char *err = NULL;

        if (!quiet) {
                const char *e;

                log_open("/dev/null", "fuzz", &e);
                quiet = 1;
        }
        if (table_parse_source("fuzz", (const char *)data, size, add_entry, m,
                               &err) < 0) {
                if (err == NULL || strstr(err, "fuzz, line ") == NULL)
                        abort(); /* errors name file and line */
                free(err);
        }
        table_memtab_walk(m, check_entry, m);
        table_memtab_free(m);
        return 0;
}

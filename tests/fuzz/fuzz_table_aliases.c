/* SPDX-License-Identifier: MIT */
/*
 * fuzz_table_aliases.c - the aliases(5) source parser (postern aliases,
 * texthash: in alias_maps): names, quoting, the colon, value
 * normalization, then the split of every stored value.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"
#include "table/table_int.h"

/* add_entry - store as texthash: does (first entry wins) */
static int add_entry(void *arg, const char *key, const char *value,
                     unsigned long lineno, char **err)
{
        (void)lineno;
        (void)err;
        if (*key == 0 || *value == 0)
                abort(); /* the parser never yields empty names or values */
        table_memtab_put(arg, key, value, false);
        return 0;
}

/* check_entry - a stored value splits into elements that, joined again,
 * give the stored value back (it is normalized once and for all) */
static int check_entry(const char *key, const char *value, void *arg)
{
        struct strlist l = {0};
        struct strbuf sb;

        (void)key;
        (void)arg;
        strbuf_init(&sb);
        table_alias_split(value, &l);
        if (l.n == 0)
                abort();
        for (size_t i = 0; i < l.n; i++)
                strbuf_printf(&sb, "%s%s", i ? ", " : "", l.v[i]);
        if (strcmp(strbuf_cstr(&sb), value) != 0)
                abort();
        strbuf_clear(&sb);
        strlist_clear(&l);
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
        if (table_parse_aliases("fuzz", (const char *)data, size, add_entry, m,
                                &err) < 0) {
                if (err == NULL || strstr(err, "fuzz, line ") == NULL)
                        abort(); /* errors name file and line */
                free(err);
        }
        table_memtab_walk(m, check_entry, NULL);
        table_memtab_free(m);
        return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * fuzz_table_inline.c - the inline:{...} and static:{...} parsers and the
 * brace-aware list splitter used for main.cf table lists.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "table/table_int.h"

/* check_entry - inline keys are folded and non-empty */
static int check_entry(const char *key, const char *value, void *arg)
{
        (void)arg;
        if (*key == 0 || *value == 0)
                abort();
        for (const char *p = key; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                        abort();
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *text = xstrndup((const char *)data, size);
        struct table_memtab *m = table_memtab_new();
        char *err = NULL, *value = NULL;
        size_t pos = 0, start;
        long n;

        if (table_inline_parse(text, m, &err) < 0)
                free(err);
        else
                table_memtab_walk(m, check_entry, NULL);
        table_memtab_free(m);
        if (table_static_parse(text, &value, &err) < 0)
                free(err);
        else if (*value == 0)
                abort();
        free(value);
        while ((n = str_list_token(text, &pos, &start)) > 0)
                if (start + (size_t)n > strlen(text))
                        abort();
        free(text);
        return 0;
}

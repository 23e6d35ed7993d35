/* SPDX-License-Identifier: MIT */
/*
 * fuzz_rules.h - the body of the rule-table fuzz targets (regexp: and
 * pcre: share one parser): parse the input with an engine, then look up a
 * few fixed keys and the first words of the input.  A parse or lookup
 * error must name the table; a result may not outgrow its template by
 * more than the key's length for each $n.  Header-only.
 */
#ifndef POSTERN_FUZZ_RULES_H
#define POSTERN_FUZZ_RULES_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"
#include "table/table_int.h"

static const char *const fuzz_rules_probes[] = {
    "",
    "a",
    "mx1.example.com",
    "EXAMPLE.ORG",
    "user@example.org",
    "127.0.0.1",
    "sub.foo.test",
    "$1",
    "a/b",
    "a\nb\n",
    "caf\xc3\xa9 \xff\xfe",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
};

/* fuzz_rules_lookup - one key; abort on a broken answer */
static void fuzz_rules_lookup(struct table_regexp_rules *rules, const char *key,
                              size_t size)
{
        const char *v = NULL;
        char *err = NULL;

        switch (table_regexp_match(rules, key, &v, &err)) {
        case TABLE_ERROR:
                if (err == NULL || strstr(err, "fuzz") == NULL)
                        abort();
                free(err);
                break;
        case TABLE_FOUND:
                if (strlen(v) > size * (strlen(key) + 1) + 1)
                        abort();
                break;
        case TABLE_NOTFOUND:
                break;
        }
}

/* fuzz_rules - one input for engine e */
static int fuzz_rules(const struct table_re_engine *e, const uint8_t *data,
                      size_t size)
{
        static int quiet;
        struct table_regexp_rules *rules;
        char *err = NULL;

        if (!quiet) {
                const char *why;

                log_open("/dev/null", "fuzz", &why);
                quiet = 1;
        }
        if (table_regexp_parse(e, "fuzz", (const char *)data, size, &rules,
                               &err) < 0) {
                if (err == NULL || strstr(err, "fuzz") == NULL)
                        abort();
                free(err);
                return 0;
        }
        for (size_t i = 0; i < ARRAY_SIZE(fuzz_rules_probes); i++)
                fuzz_rules_lookup(rules, fuzz_rules_probes[i], size);
        /* the first words of the input as keys (a few: a pattern may take
         * up to its match limit on each) */
        char *copy = xstrndup((const char *)data, size), *save = NULL;
        int n = 0;
        for (char *w = strtok_r(copy, " \t\r\n", &save); w && n < 32;
             w = strtok_r(NULL, " \t\r\n", &save), n++)
                fuzz_rules_lookup(rules, w, size);
        free(copy);
        table_regexp_free(rules);
        return 0;
}

#endif

/* SPDX-License-Identifier: MIT */
/*
 * fuzz_table_regexp.c - the regexp: table parser, then lookups of a few
 * fixed keys and of every word of the input.  A parse error must name the
 * table; a result may not outgrow its template by more than the key's
 * length for each $n.  glibc's regcomp needs memory exponential in stacked
 * repetition operators ("a+++++..."); such inputs are skipped, as the
 * patterns are the administrator's own, not the network's.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"
#include "table/table_int.h"

static const char *const probes[] = {
    "",
    "a",
    "mx1.example.com",
    "EXAMPLE.ORG",
    "user@example.org",
    "127.0.0.1",
    "sub.foo.test",
    "$1",
    "a/b",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static int quiet;
        struct table_regexp_rules *rules;
        char *err = NULL;

        if (!quiet) {
                const char *e;

                log_open("/dev/null", "fuzz", &e);
                quiet = 1;
        }
        for (size_t i = 0, run = 0; i < size; i++) {
                run = strchr("+*?{}", data[i]) && data[i] ? run + 1 : 0;
                if (run > 3)
                        return 0;
        }
        if (table_regexp_parse(&table_re_posix, "fuzz", (const char *)data,
                               size, &rules, &err) < 0) {
                if (err == NULL || strstr(err, "fuzz") == NULL)
                        abort();
                free(err);
                return 0;
        }
        for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
                const char *v = NULL;

                switch (table_regexp_match(rules, probes[i], &v, &err)) {
                case TABLE_ERROR:
                        if (err == NULL || strstr(err, "fuzz") == NULL)
                                abort();
                        free(err);
                        err = NULL;
                        break;
                case TABLE_FOUND:
                        if (strlen(v) > size * (strlen(probes[i]) + 1) + 1)
                                abort();
                        break;
                case TABLE_NOTFOUND:
                        break;
                }
        }
        /* each word of the input as a key */
        char *copy = xstrndup((const char *)data, size), *save = NULL;
        for (char *w = strtok_r(copy, " \t\r\n", &save); w;
             w = strtok_r(NULL, " \t\r\n", &save)) {
                const char *v;

                if (table_regexp_match(rules, w, &v, &err) == TABLE_ERROR) {
                        free(err);
                        err = NULL;
                }
        }
        free(copy);
        table_regexp_free(rules);
        return 0;
}

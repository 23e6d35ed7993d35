/* SPDX-License-Identifier: MIT */
/*
 * fuzz_table_cidr.c - the cidr: table parser, then lookups of a few fixed
 * addresses and of every address-looking word of the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"
#include "table/table_int.h"

static const char *const probes[] = {
    "127.0.0.1", "10.1.2.3",    "0.0.0.0", "255.255.255.255", "::",
    "::1",       "2001:db8::1", "fe80::1", "::ffff:10.1.2.3",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static int quiet;
        struct table_cidr_rules *rules;
        char *err = NULL;

        if (!quiet) {
                const char *e;

                log_open("/dev/null", "fuzz", &e);
                quiet = 1;
        }
        if (table_cidr_parse("fuzz", (const char *)data, size, &rules, &err) <
            0) {
                if (err == NULL || strstr(err, "fuzz") == NULL)
                        abort();
                free(err);
                return 0;
        }
        for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
                table_cidr_match(rules, probes[i]);
        /* each word of the input as a key */
        char *copy = xstrndup((const char *)data, size), *save = NULL;
        for (char *w = strtok_r(copy, " \t\r\n/[]!", &save); w;
             w = strtok_r(NULL, " \t\r\n/[]!", &save))
                table_cidr_match(rules, w);
        free(copy);
        table_cidr_free(rules);
        return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * fuzz_stats_line.c - the mail log statistics parser: the input is split
 * into lines at LF and fed to stats_feed (the first line's bytes also pick
 * the starting year), then all three outputs are written to memory.  The
 * counters must add up: every line is used, other or skipped.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats/stats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* drain - write one output to memory and drop it */
static void drain(const struct stats *s, int which)
{
        char *buf = NULL;
        size_t len = 0;
        const char *err = NULL;
        FILE *fp = open_memstream(&buf, &len);

        if (fp == NULL)
                abort();
        if (which == 0)
                stats_print_text(s, fp);
        else if (which == 1)
                stats_print_json(s, fp);
        else if (stats_write_svg(s, fp, 0, &err) < 0)
                abort(); /* the automatic interval always fits */
        fclose(fp);
        free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *p = (const char *)data, *end = p + size;
        struct stats *s =
            stats_new(1970 + (size > 0 ? data[0] : 0) * 31 % 8000);
        const struct stats_totals *t;

        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                const char *le = nl ? nl : end;
                stats_feed(s, p, (size_t)(le - p));
                p = nl ? nl + 1 : end;
        }
        t = stats_totals(s);
        if (t->used + t->other + t->skipped != t->lines)
                abort();
        for (int i = 0; i < 3; i++)
                drain(s, i);
        stats_free(s);
        return 0;
}

/* SPDX-License-Identifier: MIT */
/* stats_int.h - the statistics' internals, shared by the parser (stats.c)
 * and the output (stats_out.c) */
#ifndef POSTERN_STATS_INT_H
#define POSTERN_STATS_INT_H

#include "stats/stats.h"

/* One name of a keyed table with its counts. */
struct stats_entry {
        char *name;
        unsigned long n[STATS_NDIR][STATS_NTRUST];
        unsigned long total;
};

/* An open-addressing hash of entries by name. */
struct stats_tab {
        struct stats_entry **slot;
        size_t cap, n;
};

/* TLS connections of one minute. */
struct stats_minute {
        long long minute; /* seconds / 60 */
        unsigned long n[STATS_NDIR][STATS_NTRUST];
        int used;
};

struct stats {
        struct stats_totals t;
        struct stats_tab tab[STATS_NTABLES];
        struct stats_minute *min; /* hash by minute */
        size_t min_cap, min_n;
        int year;       /* of yearless timestamps */
        int prev_month; /* 0..11, -1 before the first timestamp */
        char *scratch;  /* STATS_LINE_MAX + 1 */
};

/* "Verified", "Trusted", "Untrusted", "Anonymous", by enum stats_trust:
 * the words of the log lines and the tables' row names */
extern const char *const stats_trust_words[STATS_NTRUST];

/* stats_tab_sorted - the entries by total (descending), then name; the
 * array is the caller's (free it), the entries are borrowed. */
struct stats_entry **stats_tab_sorted(const struct stats_tab *, size_t *n);

#endif

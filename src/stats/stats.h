/* SPDX-License-Identifier: MIT */
/*
 * stats - TLS statistics from a mail log in Postfix's shape (postern's own
 * lines and Postfix's): TLS connections per direction and trust level,
 * protocols, ciphers, outbound destinations, deliveries, rejects and TLS
 * failures, printed as text tables, JSON or an SVG graph.  Lines are fed
 * one at a time; feeding never fails (what is not understood is counted).
 */
#ifndef POSTERN_STATS_H
#define POSTERN_STATS_H

#include <stddef.h>
#include <stdio.h>

/* Longer lines are counted as skipped without being examined. */
#define STATS_LINE_MAX 65536

enum stats_dir { STATS_IN, STATS_OUT, STATS_NDIR };
enum stats_trust {
        STATS_VERIFIED,
        STATS_TRUSTED,
        STATS_UNTRUSTED,
        STATS_ANONYMOUS,
        STATS_NTRUST
};
enum stats_status {
        STATS_SENT,
        STATS_DEFERRED,
        STATS_BOUNCED,
        STATS_EXPIRED,
        STATS_NSTATUS
};
/* The keyed tables: counts per name, direction and trust level. */
enum stats_table {
        STATS_PROTOCOLS,
        STATS_CIPHERS,
        STATS_DESTINATIONS,
        STATS_NTABLES
};

/* The plain counters (read them after feeding). */
struct stats_totals {
        unsigned long lines;   /* every line fed */
        unsigned long used;    /* lines that counted somewhere */
        unsigned long other;   /* mail-log lines of no interest */
        unsigned long skipped; /* other programs, garbage, too long */
        unsigned long tls[STATS_NDIR][STATS_NTRUST];
        unsigned long connects;              /* smtpd "connect from" */
        unsigned long hs_fail[STATS_NDIR];   /* handshake failures */
        unsigned long cert_fail[STATS_NDIR]; /* verification failures */
        unsigned long plain_fallback;        /* outbound retried plaintext */
        unsigned long delivery[STATS_NSTATUS];
        unsigned long relay_remote; /* deliveries to a host[addr]:port */
        unsigned long relay_local;  /* local, virtual, none, discard... */
        unsigned long received;     /* "QUEUEID: client=" */
        unsigned long rejected;     /* "NOQUEUE: reject:" and "ID: reject:" */
        long long first, last;      /* wall-clock seconds, when have_time */
        int have_time;
};

struct stats;

/* stats_new - empty statistics; start_year is the year of the first
 * traditional (yearless) timestamp.  Never NULL. */
struct stats *stats_new(int start_year);
/* stats_free - release everything; NULL ok. */
void stats_free(struct stats *);
/* stats_feed - one log line of len bytes (a trailing CR/LF is ignored; any
 * bytes are allowed).  Never fails: what is not understood is counted as
 * skipped or other. */
void stats_feed(struct stats *, const char *line, size_t len);
/* stats_skip - count one line that the caller did not feed (too long). */
void stats_skip(struct stats *);
/* stats_totals - the counters; borrowed, valid until the next feed. */
const struct stats_totals *stats_totals(const struct stats *);
/* stats_count - count of name in a table for a direction and trust level
 * (trust STATS_NTRUST: all levels); 0 when absent. */
unsigned long stats_count(const struct stats *, enum stats_table,
                          const char *name, enum stats_dir, enum stats_trust);

/* stats_print_text - the tables, for people. */
void stats_print_text(const struct stats *, FILE *);
/* stats_print_json - the same data as one JSON object and a newline. */
void stats_print_json(const struct stats *, FILE *);
/* stats_svg_interval - the automatic bucket width in seconds for the
 * period seen (300 up to a day, 3600 up to 14 days, 86400 up to a year,
 * else a week, or whole weeks giving about a thousand bars). */
long stats_svg_interval(const struct stats *);
/* stats_write_svg - a graph of TLS connections per bucket of interval
 * seconds (0: automatic; else a multiple of 60), outbound and inbound
 * panels, stacked by trust level.  -1 with *errstr (static) when interval
 * is invalid or gives too many buckets; nothing is written then. */
int stats_write_svg(const struct stats *, FILE *, long interval,
                    const char **errstr);

#endif

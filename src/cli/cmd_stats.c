/* SPDX-License-Identifier: MIT */
/* cmd_stats.c - postern stats: TLS statistics from mail logs (postern's
 * and Postfix's lines) as tables, JSON or an SVG graph */
#include "cli/cli.h"
#include "stats/stats.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char stats_usage[] =
    "postern stats [--json] [--svg FILE] [--interval SECONDS] [--year YYYY]\n"
    "       [FILE...]";

static const char stats_help[] =
    "Read mail logs in Postfix's shape (postern/... and postfix/... lines,\n"
    "traditional syslog or RFC 3339 timestamps) and print TLS statistics:\n"
    "inbound and outbound TLS connections by trust level (Verified,\n"
    "Trusted, Untrusted, Anonymous), protocols, ciphers, top outbound\n"
    "destinations, deliveries by status, rejects and TLS failures.\n"
    "FILE '-' or no FILE reads stdin; several files are read in order.\n"
    "\n"
    "  --json           print one JSON object instead of the tables\n"
    "  --svg FILE       also write a graph (outbound and inbound panels,\n"
    "                   stacked bars per trust level); '-' is stdout, in\n"
    "                   which case no tables are printed\n"
    "  --interval S     seconds per bar, a multiple of 60 (default: 300 for\n"
    "                   up to a day of log, 3600 up to 14 days, 86400 up\n"
    "                   to a year, else a week)\n"
    "  --year YYYY      year of the first yearless timestamp (default: the\n"
    "                   current year); a month going back by more than six\n"
    "                   starts the next year\n"
    "\n"
    "Lines of other programs, garbage and lines over 64 KB are skipped and\n"
    "counted.  Exit status: 0 ok (also when nothing was recognised),\n"
    "2 usage or an unreadable file.  See docs/stats.md.\n";

/* read_stream - feed every line of fp; lines over STATS_LINE_MAX are
 * skipped whole.  0, or -1 on a read error (errno set). */
static int read_stream(struct stats *st, FILE *fp, char *buf)
{
        size_t n = 0;
        int c, overlong = 0;

        while ((c = getc_unlocked(fp)) != EOF) {
                if (c == '\n') {
                        if (overlong)
                                stats_skip(st);
                        else
                                stats_feed(st, buf, n);
                        n = 0;
                        overlong = 0;
                } else if (n < STATS_LINE_MAX + 2) {
                        buf[n++] = (char)c;
                } else {
                        overlong = 1;
                }
        }
        if (ferror(fp))
                return -1;
        if (overlong)
                stats_skip(st);
        else if (n > 0)
                stats_feed(st, buf, n);
        return 0;
}

/* read_file - one operand; 0 or -1 (reported) */
static int read_file(struct stats *st, const char *path, char *buf)
{
        int stdin_ = strcmp(path, "-") == 0;
        FILE *fp = stdin_ ? stdin : fopen(path, "r");
        int rc;

        if (fp == NULL) {
                fprintf(stderr, "postern stats: %s: %s\n", path,
                        strerror(errno));
                return -1;
        }
        errno = 0;
        rc = read_stream(st, fp, buf);
        if (rc < 0)
                fprintf(stderr, "postern stats: %s: %s\n",
                        stdin_ ? "stdin" : path, strerror(errno ? errno : EIO));
        if (!stdin_)
                fclose(fp);
        return rc;
}

/* current_year - this year, local time */
static int current_year(void)
{
        time_t now = time(NULL);
        struct tm tm;

        if (localtime_r(&now, &tm) == NULL)
                return 1970;
        return tm.tm_year + 1900;
}

/* write_svg - the graph to path ("-": stdout); 0 or -1 (reported) */
static int write_svg(const struct stats *st, const char *path, long interval)
{
        int to_stdout = strcmp(path, "-") == 0;
        FILE *fp = to_stdout ? stdout : fopen(path, "w");
        const char *err = NULL;
        int rc = 0;

        if (fp == NULL) {
                fprintf(stderr, "postern stats: %s: %s\n", path,
                        strerror(errno));
                return -1;
        }
        if (stats_write_svg(st, fp, interval, &err) < 0) {
                fprintf(stderr, "postern stats: --interval %ld: %s\n", interval,
                        err);
                rc = -1;
        }
        if (to_stdout) {
                if (fflush(fp) != 0)
                        rc = -1;
        } else if (fclose(fp) != 0) {
                fprintf(stderr, "postern stats: %s: %s\n", path,
                        strerror(errno));
                rc = -1;
        }
        return rc;
}

/* cmd_stats - the subcommand */
int cmd_stats(int argc, char **argv)
{
        static const struct option longopts[] = {
            {"json", no_argument, NULL, 'j'},
            {"svg", required_argument, NULL, 's'},
            {"interval", required_argument, NULL, 'i'},
            {"year", required_argument, NULL, 'y'},
            {NULL, 0, NULL, 0},
        };
        const char *svg = NULL;
        bool json = false;
        long interval = 0, year = 0;
        char *end, *buf;
        struct stats *st;
        int ch, status = 0;

        if (cli_wants_help(argc, argv)) {
                printf("usage: %s\n\n%s", stats_usage, stats_help);
                return 0;
        }
        optind = 1;
        while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
                switch (ch) {
                case 'j':
                        json = true;
                        break;
                case 's':
                        svg = optarg;
                        break;
                case 'i':
                        errno = 0;
                        interval = strtol(optarg, &end, 10);
                        if (errno || *optarg == 0 || *end || interval < 60 ||
                            interval % 60 != 0)
                                return cli_usage("stats", stats_usage,
                                                 "--interval: %s: a multiple "
                                                 "of 60 seconds is needed",
                                                 optarg);
                        break;
                case 'y':
                        errno = 0;
                        year = strtol(optarg, &end, 10);
                        if (errno || *optarg == 0 || *end || year < 1970 ||
                            year > 9999)
                                return cli_usage("stats", stats_usage,
                                                 "--year: %s: a year from "
                                                 "1970 to 9999 is needed",
                                                 optarg);
                        break;
                default:
                        return cli_usage("stats", stats_usage, NULL);
                }
        }
        st = stats_new(year ? (int)year : current_year());
        buf = xmalloc(STATS_LINE_MAX + 2);
        if (optind >= argc) {
                if (read_file(st, "-", buf) < 0)
                        status = 2;
        } else {
                for (int i = optind; i < argc && status == 0; i++)
                        if (read_file(st, argv[i], buf) < 0)
                                status = 2;
        }
        free(buf);
        if (status == 0 && svg && write_svg(st, svg, interval) < 0)
                status = 2;
        if (status == 0 && !(svg && strcmp(svg, "-") == 0)) {
                if (json)
                        stats_print_json(st, stdout);
                else
                        stats_print_text(st, stdout);
                if (fflush(stdout) != 0) {
                        fprintf(stderr, "postern stats: stdout: %s\n",
                                strerror(errno));
                        status = 2;
                }
        }
        stats_free(st);
        return status;
}

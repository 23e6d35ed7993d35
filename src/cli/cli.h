/* SPDX-License-Identifier: MIT */
/*
 * cli - the postern command: one subcommand per file (cmd_NAME.c defines
 * int cmd_NAME(int argc, char **argv), argv[0] being the subcommand name),
 * dispatched from main.c.  Shared option handling lives here.
 */
#ifndef POSTERN_CLI_H
#define POSTERN_CLI_H

#include <stdbool.h>

#include "base/base.h"

/* The options every subcommand that reads the configuration takes. */
struct cli_common {
        const char *config_dir;   /* -c DIR, POSTERN_CONFIG_DIR, /etc/postern */
        struct strlist overrides; /* -o name=value, in order */
};

#define CLI_DEFAULT_CONFIG_DIR "/etc/postern"

/* cli_common_init - defaults: config_dir from the environment or
 * /etc/postern, no overrides. */
void cli_common_init(struct cli_common *);
/* cli_common_clear - free the overrides. */
void cli_common_clear(struct cli_common *);
/* cli_common_opt - handle -c and -o from getopt; returns 0 when opt was
 * one of them, -1 otherwise (including a malformed -o, which is reported
 * on stderr and sets *bad). */
int cli_common_opt(struct cli_common *, int opt, const char *arg, int *bad);
/* cli_usage - print "postern CMD: MESSAGE" (when fmt is not NULL) and the
 * usage line to stderr; returns the exit status for usage errors (2). */
int cli_usage(const char *cmd, const char *usage, const char *fmt, ...)
    PRINTFLIKE(3, 4);
/* cli_wants_help - whether argv holds --help or -h before any "--"
 * (used before getopt so every subcommand answers --help). */
int cli_wants_help(int argc, char **argv);

/* cli_tlsa_check - postern tlsa --check (in cmd_finger.c, which owns the
 * probing): compare DEST's DNSSEC-secure TLSA records with the chain it
 * serves and, with next_file, with a planned certificate or key.  Exit
 * status: 0 all covered, 1 a mismatch or no usable records, 2 usage. */
int cli_tlsa_check(const struct cli_common *, const char *dest,
                   const char *next_file, bool implicit, int timeout);

/* What distinguishes postern aliases from postern map. */
struct cli_map_mode {
        const char *cmd;   /* "map" */
        const char *usage; /* usage lines */
        const char *help;  /* --help text after the usage */
        bool aliases;      /* aliases(5) sources; no FILE: alias_database */
};
/* cli_map_main - the postmap-style compile / -q / -s command line (in
 * cmd_map.c), shared by postern map and postern aliases.  Exit status as
 * postmap's: 0 done or found, 1 not found, 2 error. */
int cli_map_main(int argc, char **argv, const struct cli_map_mode *);

/* The subcommands.  Each prints its own help for --help. */
int cmd_conf(int, char **);
int cmd_map(int, char **);
int cmd_aliases(int, char **);
int cmd_serve(int, char **);
int cmd_queue(int, char **);
int cmd_send(int, char **);
int cmd_finger(int, char **);
int cmd_tlsa(int, char **);
int cmd_certs(int, char **);
int cmd_ca(int, char **);
int cmd_check(int, char **);
int cmd_stats(int, char **);

#endif

/* SPDX-License-Identifier: MIT */
/* main.c - the postern command: dispatch to a subcommand */
#include "cli/cli.h"
#include "log/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * A subcommand whose file is not part of this build links as NULL, so the
 * dispatcher can say so instead of failing to link while the project grows.
 */
#define CMD_LIST(X)                                                            \
        X(serve, "run the mail system (supervisor, smtpd, queue manager)")     \
        X(conf, "show or edit main.cf parameters (postconf)")                  \
        X(map, "compile or query a lookup table (postmap)")                    \
        X(aliases, "compile or query alias tables (postalias, newaliases)")    \
        X(queue, "list, flush, hold, release or delete queued mail")           \
        X(send, "submit a message from stdin (sendmail)")                      \
        X(finger, "probe a destination's TLS and DANE (posttls-finger)")       \
        X(tlsa, "print TLSA records; check them against DNS")                  \
        X(certs, "list, split, convert, rehash and fingerprint certificates")  \
        X(ca, "a small CA for server and client certificates")                 \
        X(check, "check configuration, keys, chains and tables")               \
        X(stats, "TLS statistics from a mail log")

#define WEAK(name, text) int cmd_##name(int, char **) __attribute__((weak));
CMD_LIST(WEAK)
#undef WEAK

struct command {
        const char *name;
        int (*run)(int, char **);
        const char *summary;
};

static const struct command commands[] = {
#define ROW(name, text) {#name, cmd_##name, text},
    CMD_LIST(ROW)
#undef ROW
};

/* usage - the top-level help */
static int usage(FILE *fp, int status)
{
        fprintf(fp, "usage: postern COMMAND [options] [args]\n\n"
                    "commands:\n");
        for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
                if (commands[i].run)
                        fprintf(fp, "  %-8s %s\n", commands[i].name,
                                commands[i].summary);
        fprintf(fp, "\n'postern COMMAND --help' describes one command.\n");
        return status;
}

int main(int argc, char **argv)
{
        log_init(NULL);
        if (argc < 2)
                return usage(stderr, 2);
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
            strcmp(argv[1], "help") == 0)
                return usage(stdout, 0);
        if (strcmp(argv[1], "--version") == 0) {
                printf("postern %s\n", POSTERN_VERSION);
                return 0;
        }
        for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
                if (strcmp(argv[1], commands[i].name) != 0)
                        continue;
                if (commands[i].run == NULL) {
                        fprintf(stderr,
                                "postern: %s: not part of this build yet\n",
                                argv[1]);
                        return 2;
                }
                log_init(commands[i].name);
                return commands[i].run(argc - 1, argv + 1);
        }
        fprintf(stderr, "postern: unknown command: %s\n", argv[1]);
        return usage(stderr, 2);
}

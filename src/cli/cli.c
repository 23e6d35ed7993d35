/* SPDX-License-Identifier: MIT */
/* cli.c - options shared by the subcommands */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cli_common_init - defaults */
void cli_common_init(struct cli_common *c)
{
        const char *env = getenv("POSTERN_CONFIG_DIR");

        c->config_dir = (env && *env) ? env : CLI_DEFAULT_CONFIG_DIR;
        memset(&c->overrides, 0, sizeof(c->overrides));
}

/* cli_common_clear - free */
void cli_common_clear(struct cli_common *c)
{
        strlist_clear(&c->overrides);
}

/* cli_common_opt - -c DIR and -o name=value */
int cli_common_opt(struct cli_common *c, int opt, const char *arg, int *bad)
{
        switch (opt) {
        case 'c':
                c->config_dir = arg;
                return 0;
        case 'o':
                if (strchr(arg, '=') == NULL || arg[0] == '=') {
                        fprintf(stderr,
                                "postern: -o needs name=value, got \"%s\"\n",
                                arg);
                        *bad = 1;
                        return -1;
                }
                strlist_push(&c->overrides, arg);
                return 0;
        default:
                return -1;
        }
}

/* cli_usage - message and usage line */
int cli_usage(const char *cmd, const char *usage, const char *fmt, ...)
{
        if (fmt) {
                va_list ap;

                fprintf(stderr, "postern %s: ", cmd);
                va_start(ap, fmt);
                vfprintf(stderr, fmt, ap);
                va_end(ap);
                fputc('\n', stderr);
        }
        fprintf(stderr, "usage: %s\n", usage);
        return 2;
}

/* cli_wants_help - --help anywhere before "--" */
int cli_wants_help(int argc, char **argv)
{
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--") == 0)
                        return 0;
                if (strcmp(argv[i], "--help") == 0)
                        return 1;
        }
        return 0;
}

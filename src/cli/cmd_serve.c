/* SPDX-License-Identifier: MIT */
/* cmd_serve.c - postern serve: run the mail system in the foreground */
#include "cli/cli.h"
#include "master/master.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static const char serve_usage[] =
    "postern serve [-c DIR] [-o name=value] [-w WORKERS] [-v]";

static const char serve_help[] =
    "Run the mail system in the foreground: a supervisor that binds\n"
    "the listeners of master.cf (inet services whose command is smtpd,\n"
    "with their -o overrides; without master.cf, port 25 on\n"
    "inet_interfaces), drops privileges to mail_owner in the workers\n"
    "when started as root, and forks one smtpd worker per core.\n"
    "\n"
    "  -c DIR        configuration directory\n"
    "  -o name=value override a main.cf parameter\n"
    "  -w WORKERS    number of smtpd workers (default: one per core)\n"
    "  -v            copy log lines to stderr as well\n"
    "\n"
    "Signals: SIGTERM or SIGINT stop cleanly; SIGHUP re-reads main.cf,\n"
    "master.cf, certificates and tables without refusing connections.\n"
    "A worker that dies is restarted and the event is logged.\n";

/* cmd_serve - the subcommand */
int cmd_serve(int argc, char **argv)
{
        struct cli_common common;
        struct master_opts o = {0};
        int ch, bad = 0, rc;

        if (cli_wants_help(argc, argv)) {
                printf("usage: %s\n\n%s", serve_usage, serve_help);
                return 0;
        }
        cli_common_init(&common);
        optind = 1;
        while ((ch = getopt(argc, argv, "c:o:w:v")) != -1) {
                switch (ch) {
                case 'w':
                        o.workers = atoi(optarg);
                        if (o.workers < 1 || o.workers > 1024) {
                                cli_common_clear(&common);
                                return cli_usage("serve", serve_usage,
                                                 "-w needs 1..1024");
                        }
                        break;
                case 'v':
                        o.foreground_stderr = true;
                        break;
                default:
                        if (cli_common_opt(&common, ch, optarg, &bad) == 0)
                                break;
                        cli_common_clear(&common);
                        return cli_usage("serve", serve_usage,
                                         bad ? NULL : "bad option");
                }
        }
        if (optind != argc) {
                cli_common_clear(&common);
                return cli_usage("serve", serve_usage, "unexpected operand");
        }
        o.config_dir = common.config_dir;
        o.overrides = &common.overrides;
        rc = master_run(&o);
        cli_common_clear(&common);
        return rc;
}

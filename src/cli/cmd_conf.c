/* SPDX-License-Identifier: MIT */
/* cmd_conf.c - postern conf: show and edit main.cf (Postfix's postconf) */
#include "cli/cli.h"
#include "conf/conf.h"
#include "log/log.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char conf_usage[] =
    "postern conf [-c DIR] [-o name=value] [-n | -d] [-h] [-x] [NAME...]\n"
    "       postern conf [-c DIR] -e 'name = value'...\n"
    "       postern conf [-c DIR] -X NAME...";

static const char conf_help[] =
    "Show or edit main.cf parameters, as Postfix's postconf does.\n"
    "\n"
    "  (no option)   every parameter with its effective value\n"
    "  -n            only parameters set in main.cf (or by -o / -c)\n"
    "  -d            default values\n"
    "  -h            values only, without 'name = '\n"
    "  -x            expand $name references in the printed values\n"
    "  -e SETTING... edit main.cf: each 'name = value' replaces that\n"
    "                parameter's line in place (comments and order are\n"
    "                kept) or is appended; the file is replaced "
    "atomically\n"
    "  -X NAME...    remove parameters from main.cf\n"
    "  -c DIR        configuration directory (default /etc/postern, or\n"
    "                $POSTERN_CONFIG_DIR)\n"
    "  -o name=value override a parameter for this run\n"
    "\n"
    "NAME... limits the output to those parameters.  A bad value in\n"
    "main.cf is an error naming file, line and parameter (exit 1); an\n"
    "unknown parameter is a warning.  Exit status: 0 ok, 1 error or\n"
    "unknown NAME, 2 usage.\n";

/* print_param - one line of output */
static int print_param(const struct conf *c, const char *name,
                       const char *value, bool values_only, bool expand)
{
        struct strbuf sb;
        const char *err = NULL;

        strbuf_init(&sb);
        if (expand) {
                if (conf_expand(c, value, &sb, &err) < 0) {
                        log_warnx("%s: %s", name, err);
                        strbuf_clear(&sb);
                        return -1;
                }
                value = strbuf_cstr(&sb);
        }
        /* postconf prints white space runs as one space */
        struct strbuf norm;
        strbuf_init(&norm);
        for (const char *p = value; *p; p++) {
                if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
                        if (norm.len > 0 && norm.s[norm.len - 1] != ' ')
                                strbuf_addc(&norm, ' ');
                } else {
                        strbuf_addc(&norm, *p);
                }
        }
        if (norm.len > 0 && norm.s[norm.len - 1] == ' ')
                norm.s[--norm.len] = 0;
        value = strbuf_cstr(&norm);
        if (values_only)
                printf("%s\n", value);
        else if (*value)
                printf("%s = %s\n", name, value);
        else
                printf("%s =\n", name);
        strbuf_clear(&norm);
        strbuf_clear(&sb);
        return 0;
}

/* cmd_conf - the subcommand */
int cmd_conf(int argc, char **argv)
{
        struct cli_common common;
        bool opt_n = false, opt_d = false, opt_h = false, opt_x = false;
        bool opt_e = false, opt_X = false;
        int bad = 0, status = 0, ch;
        struct conf *c = NULL;
        char *err = NULL;

        if (cli_wants_help(argc, argv)) {
                printf("usage: %s\n\n%s", conf_usage, conf_help);
                return 0;
        }
        cli_common_init(&common);
        optind = 1;
        while ((ch = getopt(argc, argv, "+c:o:ndhxeX")) != -1) {
                switch (ch) {
                case 'n':
                        opt_n = true;
                        break;
                case 'd':
                        opt_d = true;
                        break;
                case 'h':
                        opt_h = true;
                        break;
                case 'x':
                        opt_x = true;
                        break;
                case 'e':
                        opt_e = true;
                        break;
                case 'X':
                        opt_X = true;
                        break;
                default:
                        if (cli_common_opt(&common, ch, optarg, &bad) == 0)
                                break;
                        cli_common_clear(&common);
                        return cli_usage("conf", conf_usage,
                                         bad ? NULL : "bad option");
                }
        }
        if ((opt_n && opt_d) || (opt_e && opt_X) ||
            ((opt_e || opt_X) && (opt_n || opt_d || opt_h || opt_x))) {
                cli_common_clear(&common);
                return cli_usage("conf", conf_usage, "conflicting options");
        }

        if (opt_e || opt_X) {
                struct strlist names = {0};
                if (optind >= argc) {
                        cli_common_clear(&common);
                        return cli_usage("conf", conf_usage,
                                         "-e and -X need operands");
                }
                for (int i = optind; i < argc; i++)
                        strlist_push(&names, argv[i]);
                if (conf_edit(common.config_dir, opt_e ? &names : NULL,
                              opt_X ? &names : NULL, &err) < 0) {
                        log_warnx("%s", err);
                        status = 1;
                }
                free(err);
                strlist_clear(&names);
                cli_common_clear(&common);
                return status;
        }

        if (opt_d) {
                if (conf_load_defaults(&c, &err) < 0) {
                        fprintf(stderr, "postern conf: %s\n", err);
                        free(err);
                        cli_common_clear(&common);
                        return 1;
                }
        } else if (conf_load(common.config_dir, &common.overrides, &c, &err) <
                   0) {
                fprintf(stderr, "postern conf: %s\n", err);
                free(err);
                cli_common_clear(&common);
                return 1;
        }

        struct strlist names = {0};
        if (optind < argc) {
                for (int i = optind; i < argc; i++)
                        strlist_push(&names, argv[i]);
        } else if (opt_n) {
                conf_set_names(c, &names);
        } else {
                const struct conf_param *t = conf_params();
                for (size_t i = 0; i < CONF_NPARAMS; i++)
                        strlist_push(&names, t[i].name);
                conf_sort_names(&names);
        }
        for (size_t i = 0; i < names.n; i++) {
                const char *name = names.v[i];
                const char *value =
                    opt_n ? conf_raw(c, name) : conf_value(c, name);
                if (value == NULL) {
                        if (conf_param_find(name) == NULL &&
                            conf_raw(c, name) == NULL)
                                log_warnx("%s: unknown parameter", name);
                        else
                                log_warnx("%s: not set in %s", name,
                                          conf_main_cf(c));
                        status = 1;
                        continue;
                }
                if (print_param(c, name, value, opt_h, opt_x) < 0)
                        status = 1;
        }
        strlist_clear(&names);
        conf_free(c);
        cli_common_clear(&common);
        return status;
}

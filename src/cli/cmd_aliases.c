/* SPDX-License-Identifier: MIT */
/*
 * cmd_aliases.c - `postern aliases`: Postfix's postalias and newaliases.
 * The command line is postern map's (cli_map_main); what differs is the
 * source format, aliases(5), and that without a FILE it rebuilds every
 * table of alias_database, as newaliases does.
 */
#include "cli/cli.h"

#define ALIASES_USAGE                                                          \
        "postern aliases [-c DIR] [-o name=value] [[TYPE:]FILE...]\n"          \
        "       postern aliases [-c DIR] [-o name=value] -q KEY|- "            \
        "[TYPE:]FILE...\n"                                                     \
        "       postern aliases [-c DIR] [-o name=value] -s [TYPE:]FILE..."

static const char aliases_help[] =
    "Compile, query or list alias tables (Postfix's postalias and\n"
    "newaliases).  The source is an aliases(5) file: \"name: value, "
    "value\".\n"
    "\n"
    "  postern aliases        compile every table of alias_database\n"
    "                         (newaliases): hash:/etc/aliases gives\n"
    "                         /etc/aliases.lmdb, read by alias_maps\n"
    "  postern aliases FILE   compile FILE into FILE.lmdb\n"
    "  -q KEY                 print KEY's value; exit 1 when not found\n"
    "  -q -                   keys from stdin; key<TAB>value for each found\n"
    "  -s                     list every name<TAB>value\n"
    "  -c DIR                 configuration directory\n"
    "  -o name=value          parameter override\n"
    "\n"
    "texthash:FILE reads the aliases file itself, without compiling.\n"
    "Exit status: 0 found or done, 1 not found, 2 error.\n";

/* cmd_aliases - postern aliases */
int cmd_aliases(int argc, char **argv)
{
        return cli_map_main(argc, argv,
                            &(struct cli_map_mode){
                                .cmd = "aliases",
                                .usage = ALIASES_USAGE,
                                .help = aliases_help,
                                .aliases = true,
                            });
}

/* SPDX-License-Identifier: MIT */
/* cmd_tlsa.c - postern tlsa: TLSA records computed from the files that are
 * served, so the published digest always matches its selector */
#include "cli/cli.h"
#include "tls/tls.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char tlsa_usage[] =
    "postern tlsa [--usage U] [--selector S] [--mtype M] [--port P]...\n"
    "       [--host NAME]... [--ttl SECONDS] [--data-only] FILE...";

static const char tlsa_help[] =
    "Print TLSA records (RFC 6698) for a certificate, a chain or a key,\n"
    "ready to paste into a zone file:\n"
    "  _25._tcp.mx1.example.org. 3600 IN TLSA 3 1 1 <sha256 of the key>\n"
    "\n"
    "  --usage U     3 DANE-EE (default): the server's own certificate or\n"
    "                key (the first certificate of FILE, or a key file);\n"
    "                2 DANE-TA: every CA certificate in FILE (give the\n"
    "                chain file the server sends); 0 and 1 (PKIX) are\n"
    "                not usable for SMTP (RFC 7672) and get a warning\n"
    "  --selector S  1 public key (default), 0 whole certificate\n"
    "  --mtype M     1 SHA-256 (default), 2 SHA-512, 0 full data\n"
    "  --port P      port(s), comma separated or repeated (default 25)\n"
    "  --host NAME   owner host name(s) (default: the certificate's DNS\n"
    "                names without wildcards, else its CN)\n"
    "  --ttl T       TTL written in the record (default 3600)\n"
    "  --data-only   print only 'U S M HEX' lines\n"
    "\n"
    "A key file gives selector 1 records before the certificate exists,\n"
    "so the record for a planned key can be published two TTLs before\n"
    "the switch.  Exit status: 0 ok, 1 bad input, 2 usage.\n";

/* parse_small - a number 0..max */
static int parse_small(const char *s, int max, int *out)
{
        char *end;
        long v = strtol(s, &end, 10);

        if (*s == 0 || *end || v < 0 || v > max)
                return -1;
        *out = (int)v;
        return 0;
}

/* print_records - one line per host and port */
static void print_records(const struct strlist *hosts,
                          const struct strlist *ports, long ttl, bool data_only,
                          int usage, int selector, int mtype,
                          const unsigned char *data, size_t len)
{
        struct strbuf hex;

        strbuf_init(&hex);
        for (size_t i = 0; i < len; i++)
                strbuf_printf(&hex, "%02x", data[i]);
        if (data_only) {
                printf("%d %d %d %s\n", usage, selector, mtype,
                       strbuf_cstr(&hex));
        } else {
                for (size_t h = 0; h < hosts->n; h++)
                        for (size_t p = 0; p < ports->n; p++)
                                printf("_%s._tcp.%s. %ld IN TLSA %d %d %d "
                                       "%s\n",
                                       ports->v[p], hosts->v[h], ttl, usage,
                                       selector, mtype, strbuf_cstr(&hex));
        }
        strbuf_clear(&hex);
}

/* default_hosts - the leaf's DNS names without wildcards, else its CN */
static void default_hosts(const struct tls_cert *leaf, struct strlist *out)
{
        struct strlist names = {0};

        tls_cert_names(leaf, &names);
        for (size_t i = 0; i < names.n; i++) {
                size_t n = strlen(names.v[i]);
                if (names.v[i][0] == '*' || strchr(names.v[i], '.') == NULL)
                        continue;
                if (n > 0 && names.v[i][n - 1] == '.')
                        names.v[i][n - 1] = 0;
                strlist_push(out, names.v[i]);
        }
        strlist_clear(&names);
}

/* tlsa_file - records for one file; 0 or -1 */
static int tlsa_file(const char *path, int usage, int selector, int mtype,
                     const struct strlist *hosts_opt,
                     const struct strlist *ports, long ttl, bool data_only)
{
        struct tls_pass pass = {.certs_only = false};
        struct tls_certlist *cl = NULL;
        const char *err = NULL;
        int rc = 0;

        if (tls_certlist_load(path, &pass, &cl, &err) < 0) {
                fprintf(stderr, "postern tlsa: %s\n", err);
                return -1;
        }
        size_t n = tls_certlist_count(cl);
        const struct tls_key *key = tls_certlist_key(cl);
        struct strlist hosts = {0};

        for (size_t i = 0; i < hosts_opt->n; i++)
                strlist_push(&hosts, hosts_opt->v[i]);
        if (n == 0 && key == NULL) {
                fprintf(stderr,
                        "postern tlsa: %s: no certificate or key found\n",
                        path);
                tls_certlist_free(cl);
                return -1;
        }
        if (hosts.n == 0 && n > 0)
                default_hosts(tls_certlist_get(cl, 0), &hosts);
        if (hosts.n == 0 && !data_only) {
                fprintf(stderr,
                        "postern tlsa: %s: no host name to use: give "
                        "--host NAME\n",
                        path);
                tls_certlist_free(cl);
                strlist_clear(&hosts);
                return -1;
        }

        if (n == 0) {
                /* a key alone: only the public key can be matched */
                unsigned char *data;
                size_t len;
                if (selector != 1) {
                        fprintf(stderr,
                                "postern tlsa: %s holds a key only: a "
                                "selector 0 record needs the certificate\n",
                                path);
                        rc = -1;
                } else if (tls_tlsa_key_data(key, mtype, &data, &len, &err) <
                           0) {
                        fprintf(stderr, "postern tlsa: %s: %s\n", path, err);
                        rc = -1;
                } else {
                        print_records(&hosts, ports, ttl, data_only, usage,
                                      selector, mtype, data, len);
                        free(data);
                }
        } else {
                size_t done = 0;
                for (size_t i = 0; i < n && rc == 0; i++) {
                        const struct tls_cert *c = tls_certlist_get(cl, i);
                        bool want = (usage == 3 || usage == 1)
                                        ? i == 0
                                        : tls_cert_is_ca(c, NULL);
                        unsigned char *data;
                        size_t len;
                        if (!want)
                                continue;
                        if (tls_tlsa_data(c, selector, mtype, &data, &len,
                                          &err) < 0) {
                                fprintf(stderr, "postern tlsa: %s: %s\n", path,
                                        err);
                                rc = -1;
                                break;
                        }
                        print_records(&hosts, ports, ttl, data_only, usage,
                                      selector, mtype, data, len);
                        free(data);
                        done++;
                }
                if (rc == 0 && done == 0) {
                        fprintf(stderr,
                                "postern tlsa: %s: no CA certificate in the "
                                "file: a usage %d record is for the issuer; "
                                "give the chain file the server sends\n",
                                path, usage);
                        rc = -1;
                }
        }
        strlist_clear(&hosts);
        tls_certlist_free(cl);
        return rc;
}

/* cmd_tlsa - the subcommand */
int cmd_tlsa(int argc, char **argv)
{
        static const struct option longopts[] = {
            {"usage", required_argument, NULL, 'u'},
            {"selector", required_argument, NULL, 's'},
            {"mtype", required_argument, NULL, 'm'},
            {"port", required_argument, NULL, 'p'},
            {"host", required_argument, NULL, 'H'},
            {"ttl", required_argument, NULL, 't'},
            {"data-only", no_argument, NULL, 'D'},
            {"check", required_argument, NULL, 'K'},
            {"next-cert", required_argument, NULL, 'N'},
            {"implicit-tls", no_argument, NULL, 'I'},
            {"timeout", required_argument, NULL, 'W'},
            {NULL, 0, NULL, 0},
        };
        struct cli_common common;
        const char *check = NULL, *next_cert = NULL;
        bool implicit = false;
        int timeout = 30, bad = 0;
        int usage = 3, selector = 1, mtype = 1, ch, status = 0;
        long ttl = 3600;
        bool data_only = false;
        struct strlist hosts = {0}, ports = {0};

        if (cli_wants_help(argc, argv)) {
                printf("usage: %s\n\n%s", tlsa_usage, tlsa_help);
                return 0;
        }
        cli_common_init(&common);
        optind = 1;
        while ((ch = getopt_long(argc, argv, "u:s:m:p:H:t:Dc:o:", longopts,
                                 NULL)) != -1) {
                switch (ch) {
                case 'K':
                        check = optarg;
                        break;
                case 'N':
                        next_cert = optarg;
                        break;
                case 'I':
                        implicit = true;
                        break;
                case 'W':
                        timeout = atoi(optarg);
                        if (timeout <= 0)
                                goto bad_value;
                        break;
                case 'c':
                case 'o':
                        if (cli_common_opt(&common, ch, optarg, &bad) < 0) {
                                status = 2;
                                goto out;
                        }
                        break;
                case 'u':
                        if (parse_small(optarg, 3, &usage) < 0)
                                goto bad_value;
                        break;
                case 's':
                        if (parse_small(optarg, 1, &selector) < 0)
                                goto bad_value;
                        break;
                case 'm':
                        if (parse_small(optarg, 2, &mtype) < 0)
                                goto bad_value;
                        break;
                case 'p': {
                        struct strlist l = {0};
                        str_split(optarg, ", ", &l);
                        for (size_t i = 0; i < l.n; i++) {
                                int port;
                                if (parse_small(l.v[i], 65535, &port) < 0 ||
                                    port == 0) {
                                        strlist_clear(&l);
                                        goto bad_value;
                                }
                                strlist_push(&ports, l.v[i]);
                        }
                        strlist_clear(&l);
                        break;
                }
                case 'H':
                        str_split(optarg, ", ", &hosts);
                        break;
                case 't':
                        ttl = strtol(optarg, NULL, 10);
                        if (ttl <= 0)
                                goto bad_value;
                        break;
                case 'D':
                        data_only = true;
                        break;
                default:
                        status = cli_usage("tlsa", tlsa_usage, NULL);
                        goto out;
                }
        }
        if (check) {
                if (optind != argc)
                        status = cli_usage("tlsa", tlsa_usage,
                                           "--check takes no file operand");
                else
                        status = cli_tlsa_check(&common, check, next_cert,
                                                implicit, timeout);
                goto out;
        }
        if (optind >= argc) {
                status = cli_usage("tlsa", tlsa_usage,
                                   "a certificate, chain or key file is "
                                   "needed");
                goto out;
        }
        if (usage < 2)
                fprintf(stderr,
                        "postern tlsa: warning: usage %d (PKIX) records are "
                        "not usable for SMTP (RFC 7672 section 3.1.3): "
                        "publish 3 1 1 or 2 1 1 instead\n",
                        usage);
        if (ports.n == 0)
                strlist_push(&ports, "25");
        for (size_t i = 0; i < hosts.n; i++) {
                size_t n = strlen(hosts.v[i]);
                if (n > 0 && hosts.v[i][n - 1] == '.')
                        hosts.v[i][n - 1] = 0;
        }
        for (int i = optind; i < argc; i++)
                if (tlsa_file(argv[i], usage, selector, mtype, &hosts, &ports,
                              ttl, data_only) < 0)
                        status = 1;
out:
        strlist_clear(&hosts);
        strlist_clear(&ports);
        cli_common_clear(&common);
        return status;
bad_value:
        status =
            cli_usage("tlsa", tlsa_usage, "bad value for -%c: %s", ch, optarg);
        goto out;
}

/* SPDX-License-Identifier: MIT */
/*
 * cmd_ca.c - postern ca: a small CA in a directory for mutual-TLS set-ups
 * (server and client certificates, PKCS#12 export, revocation and CRL).
 */
#include "cli/cli.h"
#include "tls/tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CA_DEFAULT_DIR "./postern-ca"
#define CA_DEFAULT_RSA 3072

#define CA_USAGE                                                               \
        "postern ca [--dir DIR] init [--name NAME] [--rsa [BITS]] [--days N] " \
        "[--force]\n"                                                          \
        "       postern ca [--dir DIR] issue server NAME... [--days N] "       \
        "[--rsa [BITS]] [--force]\n"                                           \
        "       postern ca [--dir DIR] issue client NAME [--days N] "          \
        "[--rsa [BITS]] [--force]\n"                                           \
        "       postern ca [--dir DIR] export NAME [--out FILE] "              \
        "[--passout SRC] [--legacy] [--force]\n"                               \
        "       postern ca [--dir DIR] list\n"                                 \
        "       postern ca [--dir DIR] revoke NAME|SERIAL\n"                   \
        "       postern ca [--dir DIR] crl [--days N]"

static const char ca_help[] =
    "usage: " CA_USAGE "\n"
    "\n"
    "A small certificate authority in DIR (default " CA_DEFAULT_DIR ") for\n"
    "mutual TLS: smtpd_tls_CAfile = DIR/ca.crt trusts what it issues.\n"
    "\n"
    "  init    create the CA key (ECDSA P-256, or RSA with --rsa) and its\n"
    "          self-signed certificate ca.crt, an index and an empty CRL\n"
    "  issue   a server (serverAuth) or client (clientAuth) certificate:\n"
    "          DIR/NAME.crt and DIR/NAME.key (0600)\n"
    "  export  NAME's key, certificate and ca.crt as PKCS#12 for mail\n"
    "          clients (AES-256; --legacy: 3DES for old clients)\n"
    "  list    issued certificates: serial, name, role, expiry, status\n"
    "  revoke  revoke by name or serial and re-sign DIR/crl.pem\n"
    "  crl     re-sign DIR/crl.pem (it is valid for 30 days by default)\n"
    "\n"
    "'postern ca COMMAND --help' describes one command.\n";

static const char init_help[] =
    "usage: postern ca [--dir DIR] init [--name NAME] [--rsa [BITS]] "
    "[--days N] [--force]\n"
    "\n"
    "Create a CA in DIR (default " CA_DEFAULT_DIR "): ca.key (mode 0600),\n"
    "ca.crt (CA:TRUE, pathlen 0, keyCertSign and cRLSign), index.txt and\n"
    "crl.pem.\n"
    "  --name NAME    the CA's common name (default \"postern CA on HOST\")\n"
    "  --rsa [BITS]   an RSA key (default 3072 bits) instead of ECDSA P-256\n"
    "  --days N       validity of the CA certificate (default 3650)\n"
    "  --force        replace an existing CA\n";

static const char issue_help[] =
    "usage: postern ca [--dir DIR] issue server NAME... [--days N] "
    "[--rsa [BITS]] [--force]\n"
    "       postern ca [--dir DIR] issue client NAME [--days N] "
    "[--rsa [BITS]] [--force]\n"
    "\n"
    "Issue a certificate and a new key: DIR/NAME.crt (the leaf; the CA\n"
    "signs directly, so there are no intermediates) and DIR/NAME.key\n"
    "(mode 0600).  The first NAME is the common name; every NAME is a\n"
    "subjectAltName (DNS, IP for addresses, email for a client name with\n"
    "an @).  The serial is random (128 bits); basicConstraints CA:FALSE,\n"
    "keyUsage digitalSignature (and keyEncipherment for RSA),\n"
    "extendedKeyUsage serverAuth or clientAuth.  For a client the line to\n"
    "add to relay_clientcerts is printed.\n"
    "  --days N       validity (default 365)\n"
    "  --rsa [BITS]   an RSA key (default 3072) instead of the CA's key type\n"
    "  --force        replace DIR/NAME.crt and NAME.key (the old\n"
    "                 certificate stays valid until revoked by serial)\n";

static const char export_help[] =
    "usage: postern ca [--dir DIR] export NAME [--out FILE] "
    "[--passout SRC] [--legacy] [--force]\n"
    "\n"
    "Write NAME's key, certificate and the CA certificate as PKCS#12 to\n"
    "FILE (default DIR/NAME.p12, mode 0600).  The passphrase comes from\n"
    "--passout (pass:TEXT, file:PATH, env:VAR, fd:N) or is asked twice on\n"
    "the terminal.  Default encryption is AES-256-CBC with PBKDF2 and an\n"
    "HMAC-SHA256 MAC; --legacy uses 3DES for keys and certificates and a\n"
    "SHA-1 MAC, which old mail clients read.\n";

static const char list_help[] = "usage: postern ca [--dir DIR] list\n"
                                "\n"
                                "Print the issued certificates: serial, role, "
                                "expiry, status, name.\n";

static const char revoke_help[] =
    "usage: postern ca [--dir DIR] revoke NAME|SERIAL\n"
    "\n"
    "Revoke every valid certificate issued for NAME, or the one with\n"
    "SERIAL (hex, colons allowed), and re-sign DIR/crl.pem.  Remove the\n"
    "certificate's line from relay_clientcerts too: Postfix does not\n"
    "check CRLs for client certificates.\n";

static const char crl_help[] =
    "usage: postern ca [--dir DIR] crl [--days N]\n"
    "\n"
    "Re-sign DIR/crl.pem, valid for N days (default 30).\n";

struct ca_opts {
        const char *dir, *name, *out, *passout;
        int rsa_bits, days;
        bool force, legacy;
        struct strlist args;
};

/* all_digits - a non-empty decimal number */
static bool all_digits(const char *s)
{
        if (*s == 0)
                return false;
        for (; *s; s++)
                if (*s < '0' || *s > '9')
                        return false;
        return true;
}

/* ca_parse - options anywhere on the line */
static int ca_parse(int argc, char **argv, struct ca_opts *o)
{
        bool done = false;

        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                const char **sval = NULL;
                int *ival = NULL;

                if (done || a[0] != '-') {
                        strlist_push(&o->args, a);
                        continue;
                }
                if (strcmp(a, "--") == 0) {
                        done = true;
                        continue;
                }
                if (strcmp(a, "--force") == 0) {
                        o->force = true;
                        continue;
                }
                if (strcmp(a, "--legacy") == 0) {
                        o->legacy = true;
                        continue;
                }
                if (strcmp(a, "--rsa") == 0) {
                        o->rsa_bits = CA_DEFAULT_RSA;
                        if (i + 1 < argc && all_digits(argv[i + 1]))
                                ival = &o->rsa_bits;
                        else
                                continue;
                } else if (str_has_prefix(a, "--rsa=")) {
                        a += 6;
                        if (!all_digits(a))
                                return cli_usage(
                                    "ca", CA_USAGE,
                                    "--rsa needs a number of bits");
                        o->rsa_bits = atoi(a);
                        continue;
                } else if (strcmp(a, "--dir") == 0) {
                        sval = &o->dir;
                } else if (strcmp(a, "--name") == 0) {
                        sval = &o->name;
                } else if (strcmp(a, "--out") == 0) {
                        sval = &o->out;
                } else if (strcmp(a, "--passout") == 0) {
                        sval = &o->passout;
                } else if (strcmp(a, "--days") == 0) {
                        ival = &o->days;
                } else {
                        return cli_usage("ca", CA_USAGE, "unknown option %s",
                                         a);
                }
                if (i + 1 >= argc)
                        return cli_usage("ca", CA_USAGE, "%s needs a value", a);
                if (sval) {
                        *sval = argv[++i];
                } else {
                        if (!all_digits(argv[i + 1]) ||
                            strlen(argv[i + 1]) > 6 || atoi(argv[i + 1]) < 1)
                                return cli_usage("ca", CA_USAGE,
                                                 "%s needs a positive number",
                                                 a);
                        *ival = atoi(argv[++i]);
                }
        }
        if (o->rsa_bits && (o->rsa_bits < 2048 || o->rsa_bits > 16384))
                return cli_usage("ca", CA_USAGE,
                                 "--rsa: bits must be 2048 to 16384");
        return 0;
}

/* ca_init - postern ca init */
static int ca_init(struct ca_opts *o)
{
        char host[256] = "localhost";
        char *name = NULL;
        const char *err;
        int r;

        if (o->args.n != 1)
                return cli_usage("ca", CA_USAGE, "init takes no arguments");
        if (o->name == NULL) {
                gethostname(host, sizeof(host) - 1);
                host[sizeof(host) - 1] = 0;
                name = xasprintf("postern CA on %s", host);
        }
        r = tls_ca_create(
            &(struct tls_ca_init){.dir = o->dir,
                                  .name = o->name ? o->name : name,
                                  .rsa_bits = o->rsa_bits,
                                  .days = o->days ? o->days : 3650,
                                  .force = o->force},
            &err);
        if (r < 0)
                fprintf(stderr, "postern ca: %s\n", err);
        else
                printf("created CA \"%s\" in %s\n"
                       "  %s/ca.crt  trust it: smtpd_tls_CAfile = %s/ca.crt\n"
                       "  %s/ca.key  keep it secret (mode 0600)\n",
                       o->name ? o->name : name, o->dir, o->dir, o->dir,
                       o->dir);
        free(name);
        return r < 0 ? 1 : 0;
}

/* fmt_day - YYYY-MM-DD */
static void fmt_day(long long t, char *buf, size_t size)
{
        time_t tt = (time_t)t;
        struct tm tm;

        gmtime_r(&tt, &tm);
        strftime(buf, size, "%Y-%m-%d", &tm);
}

/* ca_issue - postern ca issue server|client NAME... */
static int ca_issue(struct ca_opts *o)
{
        struct tls_ca_issued out;
        enum tls_ca_role role;
        const char *err;

        if (o->args.n < 3)
                return cli_usage("ca", CA_USAGE,
                                 "issue needs server|client and a NAME");
        if (strcmp(o->args.v[1], "server") == 0)
                role = TLS_CA_SERVER;
        else if (strcmp(o->args.v[1], "client") == 0)
                role = TLS_CA_CLIENT;
        else
                return cli_usage("ca", CA_USAGE,
                                 "issue server or issue client, not %s",
                                 o->args.v[1]);
        if (role == TLS_CA_CLIENT && o->args.n != 3)
                return cli_usage("ca", CA_USAGE,
                                 "a client certificate has one NAME");
        if (tls_ca_issue(
                &(struct tls_ca_issue){.dir = o->dir,
                                       .role = role,
                                       .names =
                                           (const char *const *)o->args.v + 2,
                                       .n_names = o->args.n - 2,
                                       .rsa_bits = o->rsa_bits,
                                       .days = o->days ? o->days : 365,
                                       .force = o->force},
                &out, &err) < 0) {
                fprintf(stderr, "postern ca: %s\n", err);
                tls_ca_issued_clear(&out);
                return 1;
        }
        printf("issued %s certificate for %s, serial %s\n"
               "  certificate: %s\n"
               "  key:         %s (mode 0600)\n",
               role == TLS_CA_SERVER ? "server" : "client", o->args.v[2],
               out.serial, out.cert_path, out.key_path);
        if (role == TLS_CA_CLIENT)
                printf("add this line to relay_clientcerts "
                       "(smtpd_tls_fingerprint_digest = sha256):\n"
                       "%s %s\n",
                       out.fp_sha256, out.label);
        tls_ca_issued_clear(&out);
        return 0;
}

/* ca_export - postern ca export NAME */
static int ca_export(struct ca_opts *o)
{
        char *pass = NULL, *out;
        const char *err;
        int r;

        if (o->args.n != 2)
                return cli_usage("ca", CA_USAGE, "export needs one NAME");
        if (o->passout) {
                if (tls_pass_resolve(o->passout, &pass, &err) < 0) {
                        fprintf(stderr, "postern ca: --passout: %s\n", err);
                        return 1;
                }
        } else {
                char *again;
                pass = tls_pass_tty("Export passphrase: ", NULL);
                if (pass == NULL) {
                        fprintf(stderr, "postern ca: no terminal to ask for "
                                        "the passphrase: use --passout\n");
                        return 1;
                }
                again = tls_pass_tty("Again: ", NULL);
                if (again == NULL || strcmp(again, pass) != 0) {
                        fprintf(stderr, "postern ca: the passphrases differ\n");
                        free(again);
                        free(pass);
                        return 1;
                }
                free(again);
        }
        out = o->out ? xstrdup(o->out)
                     : xasprintf("%s/%s.p12", o->dir, o->args.v[1]);
        r = tls_ca_export(o->dir, o->args.v[1], out, pass, o->legacy, o->force,
                          &err);
        if (r < 0)
                fprintf(stderr, "postern ca: %s\n", err);
        else
                printf("%s: PKCS#12 (%s) of %s's key, certificate and the "
                       "CA certificate (mode 0600)\n",
                       out, o->legacy ? "legacy 3DES" : "AES-256",
                       o->args.v[1]);
        memset(pass, 0, strlen(pass));
        free(pass);
        free(out);
        return r < 0 ? 1 : 0;
}

/* ca_list - postern ca list */
static int ca_list(struct ca_opts *o)
{
        struct tls_ca_entry *v;
        size_t n;
        const char *err;
        long long now = (long long)time(NULL);

        if (o->args.n != 1)
                return cli_usage("ca", CA_USAGE, "list takes no arguments");
        if (tls_ca_list(o->dir, &v, &n, &err) < 0) {
                fprintf(stderr, "postern ca: %s\n", err);
                return 1;
        }
        printf("%-34s %-6s %-10s %-8s %s\n", "SERIAL", "ROLE", "EXPIRES",
               "STATUS", "NAME");
        for (size_t i = 0; i < n; i++) {
                char day[16];
                fmt_day(v[i].not_after, day, sizeof(day));
                printf("%-34s %-6s %-10s %-8s %s\n", v[i].serial,
                       v[i].role == TLS_CA_SERVER ? "server" : "client", day,
                       v[i].revoked_at        ? "revoked"
                       : v[i].not_after < now ? "expired"
                                              : "valid",
                       v[i].name);
        }
        tls_ca_list_free(v, n);
        return 0;
}

/* ca_revoke - postern ca revoke NAME|SERIAL */
static int ca_revoke(struct ca_opts *o)
{
        struct strlist done = {0};
        const char *err;

        if (o->args.n != 2)
                return cli_usage("ca", CA_USAGE,
                                 "revoke needs one NAME or SERIAL");
        if (tls_ca_revoke(o->dir, o->args.v[1], &done, &err) < 0) {
                fprintf(stderr, "postern ca: %s\n", err);
                strlist_clear(&done);
                return 1;
        }
        for (size_t i = 0; i < done.n; i++)
                printf("revoked serial %s\n", done.v[i]);
        printf("wrote %s/crl.pem\n", o->dir);
        strlist_clear(&done);
        return 0;
}

/* ca_crl - postern ca crl */
static int ca_crl(struct ca_opts *o)
{
        const char *err;

        if (o->args.n != 1)
                return cli_usage("ca", CA_USAGE, "crl takes no arguments");
        if (tls_ca_crl(o->dir, o->days ? o->days : 30, &err) < 0) {
                fprintf(stderr, "postern ca: %s\n", err);
                return 1;
        }
        printf("wrote %s/crl.pem\n", o->dir);
        return 0;
}

static const struct {
        const char *name;
        const char *help;
        int (*run)(struct ca_opts *);
} ca_cmds[] = {
    {"init", init_help, ca_init},       {"issue", issue_help, ca_issue},
    {"export", export_help, ca_export}, {"list", list_help, ca_list},
    {"revoke", revoke_help, ca_revoke}, {"crl", crl_help, ca_crl},
};

/* cmd_ca - postern ca SUBCOMMAND ... */
int cmd_ca(int argc, char **argv)
{
        struct ca_opts o = {0};
        int r;

        if (cli_wants_help(argc, argv) ||
            (argc > 1 && strcmp(argv[1], "-h") == 0)) {
                for (int a = 1; a < argc; a++)
                        for (size_t i = 0; i < ARRAY_SIZE(ca_cmds); i++)
                                if (strcmp(argv[a], ca_cmds[i].name) == 0) {
                                        fputs(ca_cmds[i].help, stdout);
                                        return 0;
                                }
                fputs(ca_help, stdout);
                return 0;
        }
        r = ca_parse(argc, argv, &o);
        if (r != 0) {
                strlist_clear(&o.args);
                return r;
        }
        if (o.dir == NULL)
                o.dir = CA_DEFAULT_DIR;
        if (o.args.n == 0 || strcmp(o.args.v[0], "help") == 0) {
                bool asked = o.args.n > 0;
                fputs(ca_help, asked ? stdout : stderr);
                strlist_clear(&o.args);
                return asked ? 0 : 2;
        }
        for (size_t i = 0; i < ARRAY_SIZE(ca_cmds); i++) {
                if (strcmp(o.args.v[0], ca_cmds[i].name) != 0)
                        continue;
                r = ca_cmds[i].run(&o);
                strlist_clear(&o.args);
                return r;
        }
        r = cli_usage("ca", CA_USAGE, "unknown command %s", o.args.v[0]);
        strlist_clear(&o.args);
        return r;
}

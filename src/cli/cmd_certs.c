/* SPDX-License-Identifier: MIT */
/*
 * cmd_certs.c - postern certs: list, split, convert, rehash and
 * fingerprint certificate files (PEM, DER, PKCS#7, PKCS#12).
 */
#include "cli/cli.h"
#include "tls/tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CERTS_USAGE                                                            \
        "postern certs list [--short] [--passin SRC] FILE...\n"                \
        "       postern certs split [--force] [--passin SRC] FILE DIR\n"       \
        "       postern certs convert [--passin SRC] [--key-out KEYFILE] "     \
        "[--force] IN OUT\n"                                                   \
        "       postern certs rehash DIR...\n"                                 \
        "       postern certs fingerprint [--digest sha256|sha1|md5] "         \
        "[--pubkey] [--passin SRC] FILE..."

static const char certs_help[] =
    "usage: " CERTS_USAGE "\n"
    "\n"
    "Certificate files in every format: PEM files and bundles, DER, PKCS#7\n"
    "(PEM or DER) and PKCS#12; the format is detected.\n"
    "\n"
    "  list         every certificate of each FILE, in file order\n"
    "  split        one PEM file per certificate, in DIR\n"
    "  convert      IN (any format) to PEM as Postfix wants it\n"
    "  rehash       CApath index links, as `openssl rehash` makes them\n"
    "  fingerprint  lines for relay_clientcerts / check_ccert_access\n"
    "\n"
    "--passin SRC is pass:TEXT, file:PATH, env:VAR or fd:N; without it a\n"
    "passphrase is asked on the terminal when a file needs one.\n"
    "'postern certs COMMAND --help' describes one command.\n";

static const char list_help[] =
    "usage: postern certs list [--short] [--passin SRC] FILE...\n"
    "\n"
    "Print every certificate of each FILE (PEM or DER file or bundle,\n"
    "PKCS#7, PKCS#12): subject, issuer, serial, validity, key, SANs, CA\n"
    "flag and SHA-256 fingerprints of the certificate and its public key.\n"
    "\n"
    "  --short        one line per certificate:\n"
    "                 FILE #N: subject=S; issuer=I; "
    "expires=YYYY-MM-DDTHH:MM:SSZ; status=valid|expired|not-yet-valid\n"
    "  --passin SRC   PKCS#12 or key passphrase: pass:TEXT, file:PATH,\n"
    "                 env:VAR, fd:N (else asked on the terminal)\n"
    "Exit status 1 when a file cannot be read.\n";

static const char split_help[] =
    "usage: postern certs split [--force] [--passin SRC] FILE DIR\n"
    "\n"
    "Write each certificate of FILE to DIR/NN-NAME.pem (NN from 01, NAME\n"
    "from the common name), creating DIR if needed.  Existing files are\n"
    "kept unless --force.\n";

static const char convert_help[] =
    "usage: postern certs convert [--passin SRC] [--key-out KEYFILE] "
    "[--force] IN OUT\n"
    "\n"
    "Convert IN to PEM, detecting its format:\n"
    "  DER certificate(s)      -> PEM certificate(s)\n"
    "  PKCS#7 (PEM or DER)     -> PEM chain, leaf first, then its issuers\n"
    "  PKCS#12                 -> PEM key followed by the chain (leaf first)\n"
    "                             in OUT, as Postfix's smtpd_tls_cert_file\n"
    "                             and smtpd_tls_key_file can share, or the\n"
    "                             key in KEYFILE with --key-out\n"
    "  encrypted private key   -> unencrypted key\n"
    "A file holding a private key is written with mode 0600, others 0644.\n"
    "OUT and KEYFILE are not overwritten unless --force.\n";

static const char rehash_help[] =
    "usage: postern certs rehash DIR...\n"
    "\n"
    "Make the CApath index of each DIR (smtpd_tls_CApath, smtp_tls_CApath):\n"
    "HASH.N symbolic links to each .pem, .crt, .cer file holding one\n"
    "certificate and HASH.rN links to CRLs (.crl), the same links\n"
    "`openssl rehash` makes; stale hash links are removed.\n";

static const char fp_help[] =
    "usage: postern certs fingerprint [--digest sha256|sha1|md5] [--pubkey] "
    "[--passin SRC] FILE...\n"
    "\n"
    "Print one line per certificate, \"AB:CD:...  NAME\", the form that\n"
    "relay_clientcerts and check_ccert_access tables take (NAME is the\n"
    "common name, or the first subjectAltName).  The fingerprint is the\n"
    "digest of the DER certificate, or with --pubkey of its DER public key\n"
    "(SubjectPublicKeyInfo), as Postfix computes them; use the digest of\n"
    "smtpd_tls_fingerprint_digest (sha256 by default, since Postfix 3.6).\n";

/* Options the subcommands share. */
struct certs_opts {
        bool short_form, force, pubkey;
        bool want_keys; /* convert: private keys are read too */
        const char *passin, *key_out, *digest;
        struct strlist args;
};

/* opt_allowed - whether name is one of the space-separated options */
static bool opt_allowed(const char *allowed, const char *name)
{
        size_t n = strlen(name);

        for (const char *p = allowed; *p;) {
                size_t k = strcspn(p, " ");
                if (k == n && strncmp(p, name, n) == 0)
                        return true;
                p += k;
                p += strspn(p, " ");
        }
        return false;
}

/* certs_parse - options anywhere on the line; "--" ends them */
static int certs_parse(int argc, char **argv, const char *allowed,
                       struct certs_opts *o, const char *usage)
{
        bool opts_done = false;

        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                const char *val = NULL;
                char name[32];

                if (opts_done || a[0] != '-' || strcmp(a, "-") == 0) {
                        strlist_push(&o->args, a);
                        continue;
                }
                if (strcmp(a, "--") == 0) {
                        opts_done = true;
                        continue;
                }
                const char *eq = strchr(a, '=');
                size_t n = eq ? (size_t)(eq - a) : strlen(a);
                if (n >= sizeof(name))
                        n = sizeof(name) - 1;
                memcpy(name, a, n);
                name[n] = 0;
                bool takes = strcmp(name, "--passin") == 0 ||
                             strcmp(name, "--key-out") == 0 ||
                             strcmp(name, "--digest") == 0;
                if (!opt_allowed(allowed, name))
                        return cli_usage("certs", usage, "unknown option %s",
                                         a);
                if (takes) {
                        if (eq)
                                val = eq + 1;
                        else if (i + 1 < argc)
                                val = argv[++i];
                        else
                                return cli_usage("certs", usage,
                                                 "%s needs a value", name);
                } else if (eq) {
                        return cli_usage("certs", usage, "%s takes no value",
                                         name);
                }
                if (strcmp(name, "--short") == 0)
                        o->short_form = true;
                else if (strcmp(name, "--force") == 0 ||
                         strcmp(name, "-f") == 0)
                        o->force = true;
                else if (strcmp(name, "--pubkey") == 0)
                        o->pubkey = true;
                else if (strcmp(name, "--passin") == 0)
                        o->passin = val;
                else if (strcmp(name, "--key-out") == 0)
                        o->key_out = val;
                else if (strcmp(name, "--digest") == 0)
                        o->digest = val;
        }
        return 0;
}

/* certs_pass - struct tls_pass from --passin or the terminal; keys are
 * skipped unless the command writes them (convert) */
static int certs_pass(const struct certs_opts *o, struct tls_pass *p,
                      char **owned)
{
        const char *err;

        memset(p, 0, sizeof(*p));
        p->certs_only = o->key_out == NULL && !o->want_keys;
        *owned = NULL;
        if (o->passin) {
                if (tls_pass_resolve(o->passin, owned, &err) < 0) {
                        fprintf(stderr, "postern certs: --passin: %s\n", err);
                        return -1;
                }
                p->pass = *owned;
        } else {
                p->ask = tls_pass_tty;
        }
        return 0;
}

/* pass_clear - wipe a resolved passphrase */
static void pass_clear(char *s)
{
        if (s) {
                memset(s, 0, strlen(s));
                free(s);
        }
}

/* fmt_utc - "YYYY-MM-DD HH:MM:SS UTC" or ISO form */
static void fmt_utc(long long t, bool iso, char *buf, size_t size)
{
        time_t tt = (time_t)t;
        struct tm tm;

        gmtime_r(&tt, &tm);
        strftime(buf, size,
                 iso ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%d %H:%M:%S UTC", &tm);
}

/* validity_word - valid / expired / not-yet-valid */
static const char *validity_word(enum tls_cert_validity v)
{
        switch (v) {
        case TLS_CERT_VALID:
                return "valid";
        case TLS_CERT_NOT_YET_VALID:
                return "not-yet-valid";
        case TLS_CERT_EXPIRED:
                return "expired";
        }
        return "?";
}

/* list_one - the long description of one certificate */
static void list_one(const char *file, const struct tls_certlist *l, size_t i)
{
        const struct tls_cert *c = tls_certlist_get(l, i);
        char *subj = tls_cert_subject(c), *iss = tls_cert_issuer(c);
        char *serial = tls_cert_serial(c), *fp = NULL, *kfp = NULL;
        char nb[40] = "?", na[40] = "?";
        long long tb = 0, ta = 0, now = (long long)time(NULL);
        int bits;
        const char *curve, *err;
        const char *kt = tls_cert_key_desc(c, &bits, &curve);
        long pathlen;
        bool ca = tls_cert_is_ca(c, &pathlen);
        struct strlist sans = {0};

        if (tls_cert_times(c, &tb, &ta) == 0) {
                fmt_utc(tb, false, nb, sizeof(nb));
                fmt_utc(ta, false, na, sizeof(na));
        }
        tls_cert_sans(c, &sans);
        if (tls_cert_fingerprint(c, "sha256", false, &fp, &err) < 0)
                fp = xstrdup(err);
        if (tls_cert_fingerprint(c, "sha256", true, &kfp, &err) < 0)
                kfp = xstrdup(err);
        printf("%s: certificate %zu of %zu (%s)\n", file, i + 1,
               tls_certlist_count(l),
               tls_file_format_name(tls_certlist_format(l)));
        printf("  subject:         %s\n", subj);
        printf("  issuer:          %s%s\n", iss,
               tls_cert_self_signed(c) ? " (self-signed)" : "");
        printf("  serial:          %s\n", serial);
        printf("  not before:      %s%s\n", nb,
               tls_cert_validity_at(c, now) == TLS_CERT_NOT_YET_VALID
                   ? " (NOT YET VALID)"
                   : "");
        if (tls_cert_validity_at(c, now) == TLS_CERT_EXPIRED)
                printf("  not after:       %s (EXPIRED %lld days ago)\n", na,
                       (now - ta) / 86400);
        else
                printf("  not after:       %s (%lld days left)\n", na,
                       (ta - now) / 86400);
        if (curve)
                printf("  key:             %s %s (%d bits)\n", kt, curve, bits);
        else
                printf("  key:             %s %d bits\n", kt, bits);
        printf("  SANs:            ");
        for (size_t k = 0; k < sans.n; k++)
                printf("%s%s", k ? ", " : "", sans.v[k]);
        printf("%s\n", sans.n ? "" : "(none)");
        if (ca && pathlen >= 0)
                printf("  CA:              yes (path length %ld)\n", pathlen);
        else
                printf("  CA:              %s\n", ca ? "yes" : "no");
        printf("  SHA-256:         %s\n", fp);
        printf("  pubkey SHA-256:  %s\n", kfp);
        strlist_clear(&sans);
        free(subj);
        free(iss);
        free(serial);
        free(fp);
        free(kfp);
}

/* certs_list - postern certs list */
static int certs_list(struct certs_opts *o)
{
        struct tls_pass pass;
        char *owned;
        int status = 0;

        if (o->args.n == 0)
                return cli_usage("certs",
                                 "postern certs list [--short] "
                                 "[--passin SRC] FILE...",
                                 "no file given");
        if (certs_pass(o, &pass, &owned) < 0)
                return 1;
        for (size_t f = 0; f < o->args.n; f++) {
                struct tls_certlist *l;
                const char *err, *file = o->args.v[f];
                long long now = (long long)time(NULL);

                if (tls_certlist_load(file, &pass, &l, &err) < 0) {
                        fprintf(stderr, "postern certs: %s\n", err);
                        status = 1;
                        continue;
                }
                if (tls_certlist_count(l) == 0) {
                        fprintf(stderr,
                                "postern certs: %s: no certificate (only a "
                                "private key)\n",
                                file);
                        status = 1;
                }
                for (size_t i = 0; i < tls_certlist_count(l); i++) {
                        const struct tls_cert *c = tls_certlist_get(l, i);
                        if (!o->short_form) {
                                if (i || f)
                                        printf("\n");
                                list_one(file, l, i);
                                continue;
                        }
                        char *s = tls_cert_subject(c), *is = tls_cert_issuer(c);
                        char na[40] = "?";
                        long long tb, ta;
                        if (tls_cert_times(c, &tb, &ta) == 0)
                                fmt_utc(ta, true, na, sizeof(na));
                        printf("%s #%zu: subject=%s; issuer=%s; expires=%s; "
                               "status=%s\n",
                               file, i + 1, s, is, na,
                               validity_word(tls_cert_validity_at(c, now)));
                        free(s);
                        free(is);
                }
                tls_certlist_free(l);
        }
        pass_clear(owned);
        return status;
}

/* safe_name - a file-name-safe version of a label */
static char *safe_name(const char *s)
{
        char *r = xstrndup(s, 60);

        for (char *p = r; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' ||
                      *p == '_'))
                        *p = '_';
        return r;
}

/* certs_split - postern certs split */
static int certs_split(struct certs_opts *o)
{
        struct tls_pass pass;
        struct tls_certlist *l;
        const char *err;
        char *owned;
        int status = 0;

        if (o->args.n != 2)
                return cli_usage("certs",
                                 "postern certs split [--force] "
                                 "[--passin SRC] FILE DIR",
                                 "need FILE and DIR");
        if (certs_pass(o, &pass, &owned) < 0)
                return 1;
        if (tls_certlist_load(o->args.v[0], &pass, &l, &err) < 0) {
                fprintf(stderr, "postern certs: %s\n", err);
                pass_clear(owned);
                return 1;
        }
        pass_clear(owned);
        if (tls_certlist_count(l) == 0) {
                fprintf(stderr, "postern certs: %s: no certificate\n",
                        o->args.v[0]);
                tls_certlist_free(l);
                return 1;
        }
        if (mkdir(o->args.v[1], 0755) < 0 && errno != EEXIST) {
                fprintf(stderr, "postern certs: %s: %s\n", o->args.v[1],
                        strerror(errno));
                tls_certlist_free(l);
                return 1;
        }
        for (size_t i = 0; i < tls_certlist_count(l); i++) {
                const struct tls_cert *c = tls_certlist_get(l, i);
                char *label = tls_cert_label(c), *sn = safe_name(label);
                char *path =
                    xasprintf("%s/%02zu-%s.pem", o->args.v[1], i + 1, sn);
                char *pem = tls_cert_pem(c);
                if (tls_file_write(path, pem, strlen(pem), 0644, o->force,
                                   &err) < 0) {
                        fprintf(stderr, "postern certs: %s\n", err);
                        status = 1;
                } else {
                        printf("%s\n", path);
                }
                free(pem);
                free(path);
                free(sn);
                free(label);
        }
        tls_certlist_free(l);
        return status;
}

/* certs_convert - postern certs convert */
static int certs_convert(struct certs_opts *o)
{
        struct tls_pass pass;
        struct tls_certlist *l;
        const struct tls_key *key;
        const char *err, *in, *out;
        char *owned;
        struct strbuf sb;
        int status = 1;

        if (o->args.n != 2)
                return cli_usage("certs",
                                 "postern certs convert [--passin SRC] "
                                 "[--key-out KEYFILE] [--force] IN OUT",
                                 "need IN and OUT");
        in = o->args.v[0];
        out = o->args.v[1];
        o->want_keys = true;
        if (certs_pass(o, &pass, &owned) < 0)
                return 1;
        if (tls_certlist_load(in, &pass, &l, &err) < 0) {
                fprintf(stderr, "postern certs: %s\n", err);
                pass_clear(owned);
                return 1;
        }
        pass_clear(owned);
        key = tls_certlist_key(l);
        if (o->key_out && key == NULL) {
                fprintf(stderr,
                        "postern certs: %s: no private key to write to "
                        "%s\n",
                        in, o->key_out);
                tls_certlist_free(l);
                return 1;
        }
        if (tls_certlist_format(l) == TLS_FILE_PKCS7 ||
            tls_certlist_format(l) == TLS_FILE_PKCS12 || key != NULL)
                tls_certlist_sort_chain(l);
        if (key && tls_certlist_count(l) > 0 &&
            !tls_key_matches(key, tls_certlist_get(l, 0)))
                fprintf(stderr,
                        "postern certs: warning: %s: the private key matches "
                        "none of the certificates\n",
                        in);
        strbuf_init(&sb);
        char *chain = tls_certlist_pem(l);
        if (key && o->key_out) {
                char *k = tls_key_pem(key);
                if (tls_file_write(o->key_out, k, strlen(k), 0600, o->force,
                                   &err) < 0) {
                        fprintf(stderr, "postern certs: %s\n", err);
                        memset(k, 0, strlen(k));
                        free(k);
                        goto done;
                }
                memset(k, 0, strlen(k));
                free(k);
                printf("%s: private key (mode 0600)\n", o->key_out);
        } else if (key) {
                char *k = tls_key_pem(key);
                strbuf_adds(&sb, k);
                memset(k, 0, strlen(k));
                free(k);
        }
        strbuf_adds(&sb, chain);
        if (sb.len == 0) {
                fprintf(stderr, "postern certs: %s: nothing to write\n", in);
                goto done;
        }
        bool has_key = key && !o->key_out;
        if (tls_file_write(out, sb.s, sb.len, has_key ? 0600 : 0644, o->force,
                           &err) < 0) {
                fprintf(stderr, "postern certs: %s\n", err);
                goto done;
        }
        printf("%s: %s%zu certificate%s%s (mode %s)\n", out,
               has_key ? "private key and " : "", tls_certlist_count(l),
               tls_certlist_count(l) == 1 ? "" : "s",
               tls_certlist_count(l) > 1 ? ", leaf first" : "",
               has_key ? "0600" : "0644");
        status = 0;
done:
        if (sb.s)
                memset(sb.s, 0, sb.len);
        strbuf_clear(&sb);
        free(chain);
        tls_certlist_free(l);
        return status;
}

/* certs_rehash - postern certs rehash */
static int certs_rehash(struct certs_opts *o)
{
        int status = 0;

        if (o->args.n == 0)
                return cli_usage("certs", "postern certs rehash DIR...",
                                 "no directory given");
        for (size_t i = 0; i < o->args.n; i++) {
                struct strlist msgs = {0};
                const char *err;
                int r = tls_cert_rehash(o->args.v[i], &msgs, &err);
                for (size_t k = 0; k < msgs.n; k++)
                        fprintf(stderr, "postern certs: %s: %s\n", o->args.v[i],
                                msgs.v[k]);
                if (r < 0) {
                        fprintf(stderr, "postern certs: %s\n", err);
                        status = 1;
                }
                strlist_clear(&msgs);
        }
        return status;
}

/* certs_fingerprint - postern certs fingerprint */
static int certs_fingerprint(struct certs_opts *o)
{
        const char *digest = o->digest ? o->digest : "sha256";
        struct tls_pass pass;
        char *owned;
        int status = 0;

        if (strcmp(digest, "sha256") && strcmp(digest, "sha1") &&
            strcmp(digest, "md5") && strcmp(digest, "sha512") &&
            strcmp(digest, "sha384") && strcmp(digest, "sha224"))
                return cli_usage("certs",
                                 "postern certs fingerprint [--digest "
                                 "sha256|sha1|md5] [--pubkey] [--passin SRC] "
                                 "FILE...",
                                 "unknown digest %s", digest);
        if (o->args.n == 0)
                return cli_usage("certs",
                                 "postern certs fingerprint [--digest "
                                 "sha256|sha1|md5] [--pubkey] [--passin SRC] "
                                 "FILE...",
                                 "no file given");
        if (certs_pass(o, &pass, &owned) < 0)
                return 1;
        for (size_t f = 0; f < o->args.n; f++) {
                struct tls_certlist *l;
                const char *err;

                if (tls_certlist_load(o->args.v[f], &pass, &l, &err) < 0) {
                        fprintf(stderr, "postern certs: %s\n", err);
                        status = 1;
                        continue;
                }
                if (tls_certlist_count(l) == 0) {
                        fprintf(stderr, "postern certs: %s: no certificate\n",
                                o->args.v[f]);
                        status = 1;
                }
                for (size_t i = 0; i < tls_certlist_count(l); i++) {
                        const struct tls_cert *c = tls_certlist_get(l, i);
                        char *fp, *label;
                        if (tls_cert_fingerprint(c, digest, o->pubkey, &fp,
                                                 &err) < 0) {
                                fprintf(stderr, "postern certs: %s\n", err);
                                status = 1;
                                continue;
                        }
                        label = tls_cert_label(c);
                        printf("%s %s\n", fp, label);
                        free(fp);
                        free(label);
                }
                tls_certlist_free(l);
        }
        pass_clear(owned);
        return status;
}

/* The subcommands: name, options allowed, help text, function. */
static const struct {
        const char *name;
        const char *options;
        const char *help;
        int (*run)(struct certs_opts *);
} certs_cmds[] = {
    {"list", "--short --passin", list_help, certs_list},
    {"split", "--force -f --passin", split_help, certs_split},
    {"convert", "--force -f --passin --key-out", convert_help, certs_convert},
    {"rehash", "", rehash_help, certs_rehash},
    {"fingerprint", "--digest --pubkey --passin", fp_help, certs_fingerprint},
};

/* cmd_certs - postern certs SUBCOMMAND ... */
int cmd_certs(int argc, char **argv)
{
        if (argc < 2) {
                fputs(certs_help, stderr);
                return 2;
        }
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
            strcmp(argv[1], "help") == 0) {
                fputs(certs_help, stdout);
                return 0;
        }
        for (size_t i = 0; i < ARRAY_SIZE(certs_cmds); i++) {
                struct certs_opts o = {0};
                int r;

                if (strcmp(argv[1], certs_cmds[i].name) != 0)
                        continue;
                if (cli_wants_help(argc - 1, argv + 1)) {
                        fputs(certs_cmds[i].help, stdout);
                        return 0;
                }
                r = certs_parse(argc - 1, argv + 1, certs_cmds[i].options, &o,
                                CERTS_USAGE);
                if (r == 0)
                        r = certs_cmds[i].run(&o);
                strlist_clear(&o.args);
                return r;
        }
        return cli_usage("certs", CERTS_USAGE, "unknown command %s", argv[1]);
}

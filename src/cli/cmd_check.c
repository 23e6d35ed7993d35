/* SPDX-License-Identifier: MIT */
/*
 * cmd_check.c - `postern check`: read main.cf, master.cf and everything
 * they point to (keys, certificates, CA files, tables, restriction lists)
 * and report what would break or weaken TLS before the daemon meets it.
 *
 * Each finding is one line on stdout:
 *   error: PARAM (FILE): message [where]
 *   warning: PARAM (FILE): message [where]
 * PARAM names the parameter, FILE the file at fault (main.cf itself for a
 * problem of the configuration), where is main.cf's "FILE, line N" of the
 * parameter (or "-o", or the master.cf service whose -o overrides made the
 * configuration).  A summary line follows.  Exit status: 0 clean, 1
 * warnings only, 2 errors.
 */
#include "cli/cli.h"
#include "conf/conf.h"
#include "master/master.h"
#include "qmgr/qmgr.h"
#include "smtp/smtp.h"
#include "smtpd/smtpd.h"
#include "table/table.h"
#include "tls/tls.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHECK_USAGE "postern check [-c DIR] [-o name=value] [--days N] [-q]"

static const char check_help[] =
    "usage: " CHECK_USAGE "\n"
    "\n"
    "Check main.cf, master.cf (each smtpd service's -o overrides make a\n"
    "configuration of their own) and every file they name: certificates,\n"
    "private keys, CA files, lookup tables and restriction lists.\n"
    "\n"
    "  -c DIR        configuration directory\n"
    "  -o name=value parameter override (may be repeated)\n"
    "  --days N      warn about certificates that expire within N days\n"
    "                (default 30)\n"
    "  -q            print only the findings, no summary line\n"
    "\n"
    "Each finding is one line:\n"
    "  error: PARAM (FILE): message [main.cf, line N]\n"
    "  warning: PARAM (FILE): message [master.cf, line N: service NAME]\n"
    "Exit status: 0 no findings, 1 warnings only, 2 errors (or bad usage).\n"
    "See docs/check.md for every check.\n";

enum check_sev {
        CHECK_WARNING,
        CHECK_ERROR,
};

/* One finding. */
struct check_finding {
        enum check_sev sev;
        char *param;
        char *file;
        char *msg;
        char *where; /* NULL when nothing better than PARAM is known */
};

/* Every finding of every configuration checked. */
struct check_report {
        struct check_finding *f;
        size_t n;
        size_t cap;
};

/* One configuration being checked (main.cf, or one master.cf service). */
struct check_run {
        struct check_report *rep;
        const struct conf *c;
        const struct master_service *svc;       /* NULL for main.cf alone */
        const char *master_cf;                  /* path, for svc findings */
        const struct qmgr_transport_def *tdefs; /* master.cf's transports */
        size_t ntdefs;
        long long now;
        long long days;
        struct tls_certlist *smtpd_ca; /* smtpd_tls_CAfile, or NULL */
        struct tls_certlist *smtp_ca;  /* smtp_tls_CAfile, or NULL */
};

/* check_add - record a finding unless the same one is already known */
static void check_add(struct check_run *r, enum check_sev sev,
                      const char *param, const char *file, const char *fmt, ...)
    PRINTFLIKE(5, 6);
static void check_add(struct check_run *r, enum check_sev sev,
                      const char *param, const char *file, const char *fmt, ...)
{
        struct check_report *rep = r->rep;
        struct check_finding *f;
        struct strbuf msg;
        va_list ap;

        strbuf_init(&msg);
        va_start(ap, fmt);
        strbuf_vprintf(&msg, fmt, ap);
        va_end(ap);
        if (file == NULL || *file == 0)
                file = conf_main_cf(r->c);
        for (size_t i = 0; i < rep->n; i++) {
                f = &rep->f[i];
                if (f->sev == sev && strcmp(f->param, param) == 0 &&
                    strcmp(f->file, file) == 0 &&
                    strcmp(f->msg, strbuf_cstr(&msg)) == 0) {
                        strbuf_clear(&msg);
                        return;
                }
        }
        if (rep->n == rep->cap) {
                rep->cap = rep->cap ? 2 * rep->cap : 16;
                rep->f = xreallocarray(rep->f, rep->cap, sizeof(*rep->f));
        }
        f = &rep->f[rep->n++];
        f->sev = sev;
        f->param = xstrdup(param);
        f->file = xstrdup(file);
        f->msg = strbuf_detach(&msg);
        if (r->svc) {
                f->where = xasprintf("%s, line %d: service %s", r->master_cf,
                                     r->svc->line, r->svc->name);
        } else {
                const char *o = conf_origin(r->c, param);

                f->where = o ? xstrdup(o) : NULL;
        }
}

/* check_report_clear - free the findings */
static void check_report_clear(struct check_report *rep)
{
        for (size_t i = 0; i < rep->n; i++) {
                free(rep->f[i].param);
                free(rep->f[i].file);
                free(rep->f[i].msg);
                free(rep->f[i].where);
        }
        free(rep->f);
}

/* check_date - "2026-11-28 16:00:00 UTC" into buf */
static const char *check_date(long long t, char *buf, size_t len)
{
        time_t tt = (time_t)t;
        struct tm tm;

        if (gmtime_r(&tt, &tm) == NULL ||
            strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
                snprintf(buf, len, "@%lld", t);
        return buf;
}

/* check_path - whether path names a readable file (or directory) */
static int check_path(struct check_run *r, const char *param, const char *path,
                      bool want_dir)
{
        struct stat st;
        int fd;

        if (stat(path, &st) < 0) {
                if (errno == ENOENT)
                        check_add(r, CHECK_ERROR, param, path,
                                  "%s does not exist",
                                  want_dir ? "directory" : "file");
                else
                        check_add(r, CHECK_ERROR, param, path,
                                  "cannot examine: %s", strerror(errno));
                return -1;
        }
        if (want_dir && !S_ISDIR(st.st_mode)) {
                check_add(r, CHECK_ERROR, param, path, "not a directory");
                return -1;
        }
        if (!want_dir && !S_ISREG(st.st_mode)) {
                check_add(r, CHECK_ERROR, param, path, "not a regular file");
                return -1;
        }
        fd = open(path, O_RDONLY | (want_dir ? O_DIRECTORY : 0));
        if (fd < 0) {
                check_add(r, CHECK_ERROR, param, path, "cannot read: %s",
                          strerror(errno));
                return -1;
        }
        close(fd);
        return 0;
}

/* check_validity - expired, not yet valid, or expiring soon */
static void check_validity(struct check_run *r, const char *param,
                           const char *path, const struct tls_cert *cert,
                           const char *what, bool ca)
{
        long long nb, na;
        char date[64];
        char *subj;

        if (tls_cert_times(cert, &nb, &na) < 0)
                return;
        subj = tls_cert_subject(cert);
        switch (tls_cert_validity_at(cert, r->now)) {
        case TLS_CERT_EXPIRED:
                check_add(r, ca ? CHECK_WARNING : CHECK_ERROR, param, path,
                          "%s expired on %s (%s)", what,
                          check_date(na, date, sizeof(date)), subj);
                break;
        case TLS_CERT_NOT_YET_VALID:
                check_add(r, ca ? CHECK_WARNING : CHECK_ERROR, param, path,
                          "%s is not valid before %s (%s)", what,
                          check_date(nb, date, sizeof(date)), subj);
                break;
        case TLS_CERT_VALID:
                if (na - r->now < r->days * 86400)
                        check_add(r, CHECK_WARNING, param, path,
                                  "%s expires on %s, in %lld days (%s)", what,
                                  check_date(na, date, sizeof(date)),
                                  (na - r->now) / 86400, subj);
                break;
        }
        free(subj);
}

/* check_in_ca - whether a certificate of ca issued cert */
static bool check_in_ca(const struct tls_certlist *ca,
                        const struct tls_cert *cert)
{
        for (size_t i = 0; ca && i < tls_certlist_count(ca); i++)
                if (tls_cert_issued_by(cert, tls_certlist_get(ca, i)))
                        return true;
        return false;
}

/* check_chain - the certificates of one file: dates, order, intermediates
 * and (server) the names */
static void check_chain(struct check_run *r, const char *param,
                        const char *path, const struct tls_certlist *certs,
                        bool server)
{
        size_t n = tls_certlist_count(certs);
        const struct tls_cert *leaf = tls_certlist_get(certs, 0);
        const struct tls_cert *last = tls_certlist_get(certs, n - 1);
        const char *ca_param = server ? "smtpd_tls_CAfile" : "smtp_tls_CAfile";
        const char *errstr = NULL;
        size_t bad = 0;

        for (size_t i = 0; i < n; i++) {
                char *what = i == 0 ? xstrdup("certificate")
                                    : xasprintf("chain certificate %zu", i + 1);

                check_validity(r, param, path, tls_certlist_get(certs, i), what,
                               false);
                free(what);
        }
        if (n > 1 && tls_certlist_check_order(certs, &bad, &errstr) < 0) {
                char *subj = tls_cert_subject(tls_certlist_get(certs, bad));

                check_add(r, CHECK_ERROR, param, path,
                          "chain in the wrong order: certificate %zu (%s) is "
                          "not issued by the one after it (%s); put the "
                          "server certificate first, then each "
                          "certificate's issuer",
                          bad + 1, subj, errstr ? errstr : "not its issuer");
                free(subj);
        } else if (!tls_cert_self_signed(last) && !tls_cert_is_ca(last, NULL) &&
                   !check_in_ca(server ? r->smtpd_ca : r->smtp_ca, last)) {
                /* A chain that ends in a CA certificate is normal (the root
                 * is left out on purpose); one that ends in a leaf whose
                 * issuer nobody has means the intermediate was forgotten. */
                char *issuer = tls_cert_issuer(last);

                check_add(r, CHECK_WARNING, param, path,
                          "missing intermediate? the last certificate is "
                          "issued by %s, which is neither in the file nor "
                          "in %s",
                          issuer, ca_param);
                free(issuer);
        }
        if (server && r->c->myhostname && *r->c->myhostname &&
            !tls_cert_match_host(leaf, r->c->myhostname)) {
                struct strlist names = {0};
                struct strbuf sb;

                tls_cert_names(leaf, &names);
                strbuf_init(&sb);
                for (size_t i = 0; i < names.n; i++)
                        strbuf_printf(&sb, "%s%s", i ? ", " : "", names.v[i]);
                check_add(r, CHECK_WARNING, param, path,
                          "certificate names (%s) do not cover myhostname "
                          "= %s",
                          names.n ? strbuf_cstr(&sb) : "none",
                          r->c->myhostname);
                strbuf_clear(&sb);
                strlist_clear(&names);
        }
}

/* check_key - a private key file: mode, passphrase, and (when cert is
 * given) whether it matches.  Returns the key (caller frees) or NULL. */
static struct tls_key *check_key(struct check_run *r, const char *param,
                                 const char *path, bool report_missing)
{
        struct tls_key *key = NULL;
        const char *errstr = NULL;
        bool encrypted = false;
        struct stat st;

        if (tls_key_load(path, NULL, &key, &encrypted, &errstr) < 0) {
                if (encrypted)
                        check_add(r, CHECK_ERROR, param, path,
                                  "private key is protected by a passphrase, "
                                  "which the daemon cannot ask for; fix: "
                                  "postern certs convert %s NEWFILE, then "
                                  "point %s at NEWFILE",
                                  path, param);
                else if (report_missing)
                        check_add(r, CHECK_ERROR, param, path,
                                  "no usable private key: %s",
                                  errstr ? errstr : "unknown error");
                key = NULL;
                if (!encrypted)
                        return NULL;
        }
        if (stat(path, &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH)))
                check_add(r, CHECK_ERROR, param, path,
                          "private key is readable by group or others (mode "
                          "%04o); fix: chmod 600 %s",
                          (unsigned)(st.st_mode & 07777), path);
        return key;
}

/* check_key_match - key against the leaf of a certificate file */
static void check_key_match(struct check_run *r, const char *key_param,
                            const char *key_path, const struct tls_key *key,
                            const char *cert_param, const char *cert_path,
                            const struct tls_certlist *certs)
{
        if (key == NULL || certs == NULL || tls_certlist_count(certs) == 0)
                return;
        if (!tls_key_matches(key, tls_certlist_get(certs, 0)))
                check_add(r, CHECK_ERROR, key_param, key_path,
                          "private key does not match the certificate in %s "
                          "(%s)",
                          cert_path, cert_param);
}

/* check_certfile - load a certificate file; NULL after a finding */
static struct tls_certlist *check_certfile(struct check_run *r,
                                           const char *param, const char *path,
                                           bool ca)
{
        struct tls_pass pass = {.certs_only = true};
        struct tls_certlist *certs = NULL;
        const char *errstr = NULL;

        if (tls_certlist_load(path, &pass, &certs, &errstr) < 0) {
                check_add(r, CHECK_ERROR, param, path,
                          ca ? "no certificates in CA file: %s"
                             : "cannot load certificates: %s",
                          errstr ? errstr : "unknown error");
                return NULL;
        }
        if (tls_certlist_count(certs) == 0) {
                check_add(r, CHECK_ERROR, param, path,
                          ca ? "no certificates in CA file"
                             : "no certificate in the file");
                tls_certlist_free(certs);
                return NULL;
        }
        return certs;
}

/* check_pair - a certificate parameter and its key parameter */
static void check_pair(struct check_run *r, const char *cert_param,
                       const char *cert_path, const char *key_param,
                       const char *key_path, bool server)
{
        struct tls_certlist *certs = NULL;
        struct tls_key *key = NULL;
        bool cert_ok;

        if (cert_path == NULL || *cert_path == 0) {
                if (key_path && *key_path)
                        check_add(r, CHECK_WARNING, key_param, key_path,
                                  "a key without %s is never used", cert_param);
                return;
        }
        cert_ok = check_path(r, cert_param, cert_path, false) == 0;
        if (cert_ok &&
            (certs = check_certfile(r, cert_param, cert_path, false)) != NULL)
                check_chain(r, cert_param, cert_path, certs, server);
        if (key_path == NULL || *key_path == 0)
                key_path = cert_path;
        if (strcmp(key_path, cert_path) == 0
                ? cert_ok
                : check_path(r, key_param, key_path, false) == 0)
                key = check_key(r, key_param, key_path, true);
        check_key_match(r, key_param, key_path, key, cert_param, cert_path,
                        certs);
        tls_key_free(key);
        tls_certlist_free(certs);
}

/* check_cert_first - whether a PEM file has a certificate before its
 * first private key */
static bool check_cert_first(const char *path)
{
        unsigned char *buf = NULL;
        const char *errstr = NULL;
        const char *cert, *key;
        size_t len;
        bool first;

        if (tls_file_read(path, &buf, &len, &errstr) < 0)
                return false;
        cert = strstr((char *)buf, "-----BEGIN CERTIFICATE-----");
        key = strstr((char *)buf, "PRIVATE KEY-----");
        first = cert && key && cert < key;
        free(buf);
        return first;
}

/* check_chain_files - smtpd_tls_chain_files: keys, each followed by its
 * certificate chain, in one file or several */
static void check_chain_files(struct check_run *r, const char *param,
                              const char *value, bool server)
{
        struct strlist files = {0};
        struct tls_key *key = NULL;
        const char *key_path = NULL;

        str_split(value ? value : "", LIST_SEPS, &files);
        for (size_t i = 0; i < files.n; i++) {
                const char *path = files.v[i];
                struct tls_pass pass = {.certs_only = true};
                struct tls_certlist *certs = NULL;
                const char *errstr = NULL;
                struct tls_key *k;

                if (check_path(r, param, path, false) < 0)
                        continue;
                if ((k = check_key(r, param, path, false)) != NULL) {
                        tls_key_free(key);
                        key = k;
                        key_path = path;
                }
                if (tls_certlist_load(path, &pass, &certs, &errstr) < 0 ||
                    tls_certlist_count(certs) == 0) {
                        if (k == NULL && key_path != path)
                                check_add(r, CHECK_ERROR, param, path,
                                          "neither a private key nor a "
                                          "certificate: %s",
                                          errstr ? errstr : "empty");
                        tls_certlist_free(certs);
                        continue;
                }
                check_chain(r, param, path, certs, server);
                if (k != NULL && check_cert_first(path))
                        check_add(r, CHECK_ERROR, param, path,
                                  "a certificate comes before the private "
                                  "key in this file (each key must precede "
                                  "its chain)");
                else if (key == NULL)
                        check_add(r, CHECK_ERROR, param, path,
                                  "certificate without a private key before "
                                  "it (each key must precede its chain)");
                else
                        check_key_match(r, param, key_path, key, param, path,
                                        certs);
                tls_key_free(key);
                key = NULL;
                key_path = NULL;
                tls_certlist_free(certs);
        }
        if (key)
                check_add(r, CHECK_ERROR, param, key_path,
                          "private key without a certificate chain after it");
        tls_key_free(key);
        strlist_clear(&files);
}

/* check_cafile - a CA file: present, readable, holding certificates */
static struct tls_certlist *check_cafile(struct check_run *r, const char *param,
                                         const char *path)
{
        struct tls_certlist *ca;

        if (path == NULL || *path == 0)
                return NULL;
        if (check_path(r, param, path, false) < 0)
                return NULL;
        if ((ca = check_certfile(r, param, path, true)) == NULL)
                return NULL;
        for (size_t i = 0; i < tls_certlist_count(ca); i++) {
                char *what = xasprintf("CA certificate %zu", i + 1);

                check_validity(r, param, path, tls_certlist_get(ca, i), what,
                               true);
                free(what);
        }
        return ca;
}

/* check_hashname - whether name looks like an openssl rehash link */
static bool check_hashname(const char *name)
{
        size_t i;

        for (i = 0; i < 8; i++)
                if (!isxdigit((unsigned char)name[i]))
                        return false;
        if (name[i++] != '.')
                return false;
        if (name[i] == 'r')
                i++;
        if (!isdigit((unsigned char)name[i]))
                return false;
        while (isdigit((unsigned char)name[i]))
                i++;
        return name[i] == 0;
}

/* check_capath - a CA directory with hash links */
static void check_capath(struct check_run *r, const char *param,
                         const char *path)
{
        DIR *d;
        struct dirent *de;
        size_t links = 0;

        if (path == NULL || *path == 0 || check_path(r, param, path, true) < 0)
                return;
        if ((d = opendir(path)) == NULL) {
                check_add(r, CHECK_ERROR, param, path, "cannot read: %s",
                          strerror(errno));
                return;
        }
        while ((de = readdir(d)) != NULL)
                if (check_hashname(de->d_name))
                        links++;
        closedir(d);
        if (links == 0)
                check_add(r, CHECK_WARNING, param, path,
                          "no HASH.N links, so no CA certificate in it is "
                          "found; fix: postern certs rehash %s",
                          path);
}

/* check_table_file - the file behind a table spec, or the spec itself */
static char *check_table_file(const char *spec)
{
        static const char *const file_types[] = {
            "lmdb", "hash", "btree", "texthash", "cidr", "regexp", "pcre"};
        const char *colon = strchr(spec, ':');

        if (colon) {
                for (size_t i = 0; i < ARRAY_SIZE(file_types); i++)
                        if (strlen(file_types[i]) == (size_t)(colon - spec) &&
                            strncmp(spec, file_types[i], colon - spec) == 0)
                                return xstrdup(colon + 1);
        }
        return xstrdup(spec);
}

/* check_table - freshness of a compiled table, then open it (flags:
 * TABLE_OPEN_*; an aliases(5) table is compiled by postern aliases);
 * returns the open table (caller closes) or NULL after a finding */
static struct table *check_table(struct check_run *r, const char *param,
                                 const char *spec, const char *what,
                                 unsigned flags)
{
        const char *fix =
            (flags & TABLE_OPEN_ALIASES) ? "postern aliases" : "postern map";
        char *file = check_table_file(spec);
        enum table_freshness fr = TABLE_NOT_COMPILED;
        char *fr_err = NULL;
        struct table *t = NULL;
        char *err = NULL;

        if (table_freshness(spec, &fr, &fr_err) < 0)
                fr = TABLE_NOT_COMPILED;
        if (fr == TABLE_NOT_BUILT) {
                check_add(r, CHECK_ERROR, param, file,
                          "%s%s.lmdb does not exist; fix: %s %s", what, file,
                          fix, spec);
                goto out;
        }
        if (table_open_flags(spec, flags, &t, &err) < 0) {
                check_add(r, CHECK_ERROR, param, file,
                          "%scannot open table %s: %s", what, spec,
                          err ? err : "unknown error");
                free(err);
                t = NULL;
                goto out;
        }
        if (fr == TABLE_OLDER)
                check_add(r, CHECK_WARNING, param, file,
                          "%s%s.lmdb is older than its source file; fix: "
                          "%s %s",
                          what, file, fix, spec);
        else if (fr_err)
                check_add(r, CHECK_WARNING, param, file, "%s%s", what, fr_err);
out:
        free(fr_err);
        free(file);
        return t;
}

/* State of a table walk. */
struct check_walk {
        struct check_run *r;
        const char *param;
        const char *file;
        size_t expect_bytes; /* relay_clientcerts */
        const char *digest;
};

/* client_trust - whether the SMTP client has anything to verify a server
 * with besides a policy's tafile= */
static bool client_trust(const struct conf *c)
{
        return (c->smtp_tls_CAfile && *c->smtp_tls_CAfile) ||
               (c->smtp_tls_CApath && *c->smtp_tls_CApath) ||
               (c->smtp_tls_trust_anchor_file &&
                *c->smtp_tls_trust_anchor_file) ||
               c->tls_append_default_CA;
}

/* check_policy_entry - one smtp_tls_policy_maps entry */
static int check_policy_entry(const char *key, const char *value, void *arg)
{
        struct check_walk *w = arg;
        const struct conf *c = w->r->c;
        struct tls_policy_info info;
        const char *errstr = NULL;

        if (tls_policy_check(value, &info, &errstr) < 0) {
                check_add(w->r, CHECK_ERROR, w->param, w->file, "key %s: %s",
                          key, errstr);
                return 0;
        }
        if (info.needs_ca && !info.has_tafile && !client_trust(c))
                check_add(w->r, CHECK_ERROR, w->param, w->file,
                          "key %s: level %s needs smtp_tls_CAfile, "
                          "smtp_tls_CApath, smtp_tls_trust_anchor_file, "
                          "tls_append_default_CA or tafile=, and none is set",
                          key, info.level);
        return 0;
}

/* check_digest_bytes - the digest length of a fingerprint digest name */
static size_t check_digest_bytes(const char *digest)
{
        static const struct {
                const char *name;
                size_t bytes;
        } d[] = {{"md5", 16},    {"sha1", 20},   {"sha224", 28},
                 {"sha256", 32}, {"sha384", 48}, {"sha512", 64}};

        for (size_t i = 0; i < ARRAY_SIZE(d); i++)
                if (str_eq_ci(digest, d[i].name))
                        return d[i].bytes;
        return 0;
}

/* check_clientcert_entry - one relay_clientcerts key */
static int check_clientcert_entry(const char *key, const char *value, void *arg)
{
        struct check_walk *w = arg;
        size_t len = strlen(key), bytes = (len + 1) / 3;
        bool shape = len >= 2 && (len + 1) % 3 == 0;

        (void)value;
        for (size_t i = 0; shape && i < len; i++)
                shape = (i % 3 == 2) ? key[i] == ':'
                                     : isxdigit((unsigned char)key[i]) != 0;
        if (!shape) {
                check_add(w->r, CHECK_WARNING, w->param, w->file,
                          "key %s is not a fingerprint (hex byte pairs "
                          "joined by ':')",
                          key);
                return 0;
        }
        if (w->expect_bytes && bytes != w->expect_bytes)
                check_add(w->r, CHECK_WARNING, w->param, w->file,
                          "key %s is a %zu-byte digest, but "
                          "smtpd_tls_fingerprint_digest = %s gives %zu "
                          "bytes (%zu characters with colons): it never "
                          "matches",
                          key, bytes, w->digest, w->expect_bytes,
                          w->expect_bytes * 3 - 1);
        return 0;
}

/* check_table_list - every table of a TABLE parameter; fn (may be NULL)
 * is called for each entry */
static void check_table_list(struct check_run *r, const char *param,
                             const char *value, table_walk_fn fn,
                             struct check_walk *w)
{
        struct strlist specs = {0};

        conf_split_list(value ? value : "", &specs);
        for (size_t i = 0; i < specs.n; i++) {
                struct table *t = check_table(r, param, specs.v[i], "", 0);
                char *file = check_table_file(specs.v[i]);
                char *err = NULL;

                if (t && fn) {
                        w->file = file;
                        if (table_walk(t, fn, w, &err) < 0 && err)
                                check_add(r, CHECK_ERROR, param, file,
                                          "cannot list table %s: %s",
                                          specs.v[i], err);
                        free(err);
                }
                free(file);
                table_close(t);
        }
        strlist_clear(&specs);
}

/* check_transport - a transport:nexthop setting (value; key names a
 * table entry, or NULL) whose transport is neither built in nor a
 * master.cf smtp or lmtp service: its mail would only be deferred */
static void check_transport(struct check_run *r, const char *param,
                            const char *file, const char *key,
                            const char *value)
{
        enum qmgr_transport kind;
        size_t n = strcspn(value, ":");

        while (*value == ' ' || *value == '\t')
                value++, n--;
        if (n == 0 || qmgr_transport_find(r->tdefs, r->ntdefs, value, n, &kind,
                                          NULL) == 0)
                return;
        check_add(r, CHECK_ERROR, param, file,
                  "%s%s%sunknown mail transport \"%.*s\" (neither built in "
                  "nor a master.cf service running smtp or lmtp): mail there "
                  "is deferred",
                  key ? "key " : "", key ? key : "", key ? ": " : "", (int)n,
                  value);
}

/* check_filter - a FILTER action of a table (header checks, access
 * tables): it needs transport:nexthop, and a transport that exists */
static void check_filter(struct check_walk *w, const char *key,
                         const char *text)
{
        if (strchr(text, ':') == NULL)
                check_add(w->r, CHECK_WARNING, w->param, w->file,
                          "%s: FILTER %s: needs transport:destination; the "
                          "action is ignored",
                          key, text);
        else
                check_transport(w->r, w->param, w->file, key, text);
}

/* check_hbc_entry - one rule of a header or body checks table: an action
 * postern cannot carry out, or does not know */
static int check_hbc_entry(const char *key, const char *value, void *arg)
{
        struct check_walk *w = arg;
        const char *text;

        switch (smtpd_hbc_action(value, &text)) {
        case SMTPD_HBC_FILTER:
                check_filter(w, key, text);
                break;
        case SMTPD_HBC_UNKNOWN:
                check_add(w->r, CHECK_WARNING, w->param, w->file,
                          "%s: unknown action \"%s\": treated as DUNNO", key,
                          value);
                break;
        default:
                break;
        }
        return 0;
}

/* check_hbc - the tables of header_checks and the like (each spec once:
 * mime_ and nested_header_checks are $header_checks by default), and
 * receive_override_options */
static void check_hbc(struct check_run *r, struct check_walk *w)
{
        const struct conf *c = r->c;
        const struct {
                const char *param, *value;
        } t[] = {
            {"header_checks", c->header_checks},
            {"mime_header_checks", c->mime_header_checks},
            {"nested_header_checks", c->nested_header_checks},
            {"body_checks", c->body_checks},
        };
        unsigned flags;
        char *err = NULL;

        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                bool seen = false;
                for (size_t k = 0; k < i; k++)
                        seen |= t[i].value && t[k].value &&
                                strcmp(t[k].value, t[i].value) == 0;
                if (seen)
                        continue;
                w->param = t[i].param;
                check_table_list(r, t[i].param, t[i].value, check_hbc_entry, w);
        }
        if (smtpd_receive_overrides(c, &flags, &err) < 0) {
                const char *why = err + strcspn(err, ":");
                check_add(r, CHECK_ERROR, "receive_override_options",
                          conf_main_cf(c), "%s; postern serve would not start",
                          *why ? why + 2 : err);
                free(err);
        }
}

/* check_canonical - the canonical maps' tables, then the rest of the
 * address rewriting settings (classes, masquerade_exceptions,
 * local_header_rewrite_clients) as postern serve would read them */
static void check_canonical(struct check_run *r, struct check_walk *w)
{
        const struct conf *c = r->c;
        const struct {
                const char *param, *value;
        } t[] = {
            {"sender_canonical_maps", c->sender_canonical_maps},
            {"recipient_canonical_maps", c->recipient_canonical_maps},
            {"canonical_maps", c->canonical_maps},
        };
        struct smtpd_canon *k = NULL;
        char *err = NULL;

        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                w->param = t[i].param;
                check_table_list(r, t[i].param, t[i].value, NULL, w);
        }
        if (smtpd_canon_new(c, &k, &err) < 0) {
                size_t n = strcspn(err, ":");
                bool reported = false; /* a map's table, just above */
                for (size_t i = 0; i < ARRAY_SIZE(t); i++)
                        reported |= strlen(t[i].param) == n &&
                                    strncmp(err, t[i].param, n) == 0;
                if (!reported) {
                        char *param = xstrndup(err, n);
                        check_add(r, CHECK_ERROR, param, conf_main_cf(c),
                                  "%s; postern serve would not start",
                                  err[n] ? err + n + 2 : err);
                        free(param);
                }
                free(err);
        }
        smtpd_canon_free(k);
}

/* check_list_has - whether a restriction list names word */
static bool check_list_has(const char *value, const char *word)
{
        struct strlist v = {0};
        bool found = false;

        conf_split_list(value ? value : "", &v);
        for (size_t i = 0; i < v.n && !found; i++)
                found = str_eq_ci(v.v[i], word);
        strlist_clear(&v);
        return found;
}

/* check_access_entry - one entry of an access(5) table: a FILTER action
 * naming a transport that does not exist */
static int check_access_entry(const char *key, const char *value, void *arg)
{
        size_t n = strcspn(value, " \t");

        if (n == 6 && strncasecmp(value, "FILTER", 6) == 0) {
                const char *text = value + n + strspn(value + n, " \t");
                check_filter(arg, key, text);
        }
        return 0;
}

/* check_restrictions - tables in restriction lists, and the relay gotcha */
static void check_restrictions(struct check_run *r)
{
        const struct conf *c = r->c;

        const struct {
                const char *param;
                const char *value;
        } lists[] = {
            {"smtpd_client_restrictions", c->smtpd_client_restrictions},
            {"smtpd_helo_restrictions", c->smtpd_helo_restrictions},
            {"smtpd_sender_restrictions", c->smtpd_sender_restrictions},
            {"smtpd_relay_restrictions", c->smtpd_relay_restrictions},
            {"smtpd_recipient_restrictions", c->smtpd_recipient_restrictions},
            {"smtpd_data_restrictions", c->smtpd_data_restrictions},
        };

        bool tables_ok = true;

        for (size_t p = 0; p < ARRAY_SIZE(lists); p++) {
                const char *param = lists[p].param;
                struct strlist v = {0};

                conf_split_list(lists[p].value ? lists[p].value : "", &v);
                for (size_t i = 0; i + 1 < v.n; i++) {
                        if (str_has_prefix(v.v[i], "check_") &&
                            strlen(v.v[i]) > 13 &&
                            strcmp(v.v[i] + strlen(v.v[i]) - 7, "_access") ==
                                0) {
                                char *what = xasprintf("%s: ", v.v[i]);
                                struct table *t =
                                    check_table(r, param, v.v[i + 1], what, 0);
                                char *file = check_table_file(v.v[i + 1]);
                                struct check_walk w = {
                                    .r = r, .param = param, .file = file};
                                char *err = NULL;

                                if (t)
                                        (void)table_walk(t, check_access_entry,
                                                         &w, &err);
                                free(err);
                                free(file);
                                tables_ok = tables_ok && t != NULL;
                                table_close(t);
                                free(what);
                                i++;
                        }
                }
                strlist_clear(&v);
        }

        /* the lists as postern serve compiles them: unknown restrictions,
         * what smtpd_data_restrictions cannot do, the open-relay guard
         * (table errors were reported above) */
        if (tables_ok) {
                struct smtpd_checks *k = NULL;
                char *e = NULL;

                if (smtpd_checks_new(c, &k, &e) < 0) {
                        check_add(r, CHECK_ERROR, "smtpd_*_restrictions",
                                  conf_main_cf(c),
                                  "%s; postern serve would not start", e);
                        free(e);
                }
                smtpd_checks_free(k);
        }

        /* Postfix >= 2.10: smtpd_relay_restrictions are evaluated first;
         * its default ends in defer_unauth_destination, so a client
         * certificate permitted only in smtpd_recipient_restrictions never
         * gets to relay. */
        bool in_rcpt = check_list_has(c->smtpd_recipient_restrictions,
                                      "permit_tls_clientcerts") ||
                       check_list_has(c->smtpd_recipient_restrictions,
                                      "permit_tls_all_clientcerts");
        bool in_relay = check_list_has(c->smtpd_relay_restrictions,
                                       "permit_tls_clientcerts") ||
                        check_list_has(c->smtpd_relay_restrictions,
                                       "permit_tls_all_clientcerts");
        bool blocks = check_list_has(c->smtpd_relay_restrictions,
                                     "defer_unauth_destination") ||
                      check_list_has(c->smtpd_relay_restrictions,
                                     "reject_unauth_destination");

        if (in_rcpt && !in_relay && blocks)
                check_add(r, CHECK_WARNING, "smtpd_relay_restrictions",
                          conf_main_cf(c),
                          "permit_tls_clientcerts is only in "
                          "smtpd_recipient_restrictions, but "
                          "smtpd_relay_restrictions (%s) is evaluated first "
                          "and refuses relaying with "
                          "defer/reject_unauth_destination before it is "
                          "reached; add permit_tls_clientcerts to "
                          "smtpd_relay_restrictions",
                          c->smtpd_relay_restrictions);
        if ((in_rcpt || in_relay) && !c->smtpd_tls_ask_ccert &&
            !c->smtpd_tls_req_ccert)
                check_add(r, CHECK_WARNING, "smtpd_tls_ask_ccert",
                          conf_main_cf(c),
                          "permit_tls_clientcerts is used but "
                          "smtpd_tls_ask_ccert = no: clients are never asked "
                          "for a certificate, so it never permits");
}

/* check_server_level - TLS offered or required without a certificate */
static void check_server_level(struct check_run *r)
{
        const struct conf *c = r->c;
        const char *level = c->smtpd_tls_security_level;
        const char *param = "smtpd_tls_security_level";

        /* conf derives the level from the legacy booleans when it is not
         * set; name the parameter the user wrote */
        if (level == NULL || *level == 0 ||
            conf_raw(c, "smtpd_tls_security_level") == NULL) {
                if (c->smtpd_enforce_tls) {
                        level = "encrypt";
                        param = "smtpd_enforce_tls";
                } else if (c->smtpd_use_tls) {
                        level = "may";
                        param = "smtpd_use_tls";
                } else if (level == NULL || *level == 0) {
                        level = "none";
                }
        }
        if (c->smtpd_tls_wrappermode && strcmp(level, "none") == 0) {
                level = "wrappermode";
                param = "smtpd_tls_wrappermode";
        }
        if (strcmp(level, "none") == 0)
                return;
        if ((c->smtpd_tls_cert_file == NULL || !*c->smtpd_tls_cert_file) &&
            (c->smtpd_tls_eccert_file == NULL || !*c->smtpd_tls_eccert_file) &&
            (c->smtpd_tls_chain_files == NULL || !*c->smtpd_tls_chain_files))
                check_add(r, CHECK_ERROR, param, conf_main_cf(c),
                          "TLS is offered (%s) but no server certificate is "
                          "configured: set smtpd_tls_cert_file and "
                          "smtpd_tls_key_file (or smtpd_tls_chain_files)",
                          level);
}

/* check_client_level - verify/secure need a CA */
static void check_client_level(struct check_run *r)
{
        const struct conf *c = r->c;
        const char *level = c->smtp_tls_security_level;

        if (level &&
            (strcmp(level, "verify") == 0 || strcmp(level, "secure") == 0) &&
            !client_trust(c))
                check_add(r, CHECK_ERROR, "smtp_tls_security_level",
                          conf_main_cf(c),
                          "level %s needs smtp_tls_CAfile, smtp_tls_CApath, "
                          "smtp_tls_trust_anchor_file or "
                          "tls_append_default_CA, and none is set: no server "
                          "would be trusted",
                          level);
}

/* check_trust_anchors - smtp_tls_trust_anchor_file: each file is there
 * and holds certificates (the SMTP client would defer the mail) */
static void check_trust_anchors(struct check_run *r)
{
        struct strlist files = {0};

        conf_split_list(r->c->smtp_tls_trust_anchor_file
                            ? r->c->smtp_tls_trust_anchor_file
                            : "",
                        &files);
        for (size_t i = 0; i < files.n; i++)
                tls_certlist_free(
                    check_cafile(r, "smtp_tls_trust_anchor_file", files.v[i]));
        strlist_clear(&files);
}

/* check_ciphers - each cipher grade in use, with its exclusions, leaves
 * a cipher OpenSSL can use (the server would refuse to start, the client
 * would defer the mail that needs TLS) */
static void check_ciphers(struct check_run *r)
{
        const struct conf *c = r->c;
        const struct tls_cipher_grades lists = {
            .high = c->tls_high_cipherlist,
            .medium = c->tls_medium_cipherlist,
            .low = c->tls_low_cipherlist,
            .export = c->tls_export_cipherlist,
            .null = c->tls_null_cipherlist,
        };
        const struct {
                const char *param, *grade, *exclude;
        } uses[] = {
            {"smtpd_tls_ciphers", c->smtpd_tls_ciphers,
             c->smtpd_tls_exclude_ciphers},
            {"smtpd_tls_mandatory_ciphers", c->smtpd_tls_mandatory_ciphers,
             c->smtpd_tls_mandatory_exclude_ciphers},
            {"smtp_tls_ciphers", c->smtp_tls_ciphers,
             c->smtp_tls_exclude_ciphers},
            {"smtp_tls_mandatory_ciphers", c->smtp_tls_mandatory_ciphers,
             c->smtp_tls_mandatory_exclude_ciphers},
        };

        for (size_t i = 0; i < ARRAY_SIZE(uses); i++) {
                const char *err = NULL;
                if (tls_ciphers_check(&lists, uses[i].grade, uses[i].exclude,
                                      &err) < 0)
                        check_add(r, CHECK_ERROR, uses[i].param,
                                  conf_main_cf(c), "%s", err);
        }
}

/* check_sasl - smtp_sasl_auth_enable with options that allow neither
 * mechanism postern has: every authenticated relay would defer */
static void check_sasl(struct check_run *r)
{
        const struct conf *c = r->c;
        unsigned both = SMTP_FEATURE_AUTH_PLAIN | SMTP_FEATURE_AUTH_LOGIN;

        if (!c->smtp_sasl_auth_enable)
                return;
        if (c->smtp_sasl_password_maps == NULL || !*c->smtp_sasl_password_maps)
                check_add(r, CHECK_WARNING, "smtp_sasl_auth_enable",
                          conf_main_cf(c),
                          "is yes, but smtp_sasl_password_maps is empty: no "
                          "server gets a password");
        else if (smtp_sasl_mechanism(c, both, false) == 0 &&
                 smtp_sasl_mechanism(c, both, true) == 0)
                check_add(r, CHECK_ERROR, "smtp_sasl_tls_security_options",
                          conf_main_cf(c),
                          "leaves no SASL mechanism postern has (PLAIN, "
                          "LOGIN: both need the password itself, which "
                          "noplaintext forbids), so mail to every relay "
                          "that requires AUTH is deferred; set "
                          "smtp_sasl_tls_security_options = noanonymous");
}

/* check_smtpd_sasl - smtpd_sasl_auth_enable: settings that cannot work
 * are errors; no socket (Dovecot not running, or no unix_listener for
 * postern) and AUTH that is never offered are warnings */
static void check_smtpd_sasl(struct check_run *r)
{
        const struct conf *c = r->c;
        char *path = NULL, *err = NULL;
        struct stat st;

        if (smtpd_sasl_socket(c, &path, &err) < 0) {
                check_add(r, CHECK_ERROR, "smtpd_sasl_auth_enable",
                          conf_main_cf(c), "is yes, but %s", err);
                free(err);
                return;
        }
        if (path == NULL)
                return;
        if (!str_has_prefix(path, "inet:") &&
            (stat(path, &st) < 0 || !S_ISSOCK(st.st_mode))) {
                check_add(r, CHECK_WARNING, "smtpd_sasl_path", conf_main_cf(c),
                          "%s: %s: AUTH is not offered until Dovecot listens "
                          "there (service auth { unix_listener ... })",
                          path,
                          stat(path, &st) < 0 ? strerror(errno)
                                              : "not a socket");
        } else {
                /* ask Dovecot what EHLO would offer */
                char *plain = NULL, *tls = NULL;
                if (smtpd_sasl_probe(c, &plain, &tls, &err) < 0) {
                        check_add(r, CHECK_WARNING, "smtpd_sasl_path",
                                  conf_main_cf(c), "%s: %s", path, err);
                        free(err);
                } else if (!*tls && !*plain) {
                        check_add(r, CHECK_WARNING,
                                  "smtpd_sasl_tls_security_options",
                                  conf_main_cf(c),
                                  "leaves none of the mechanisms Dovecot "
                                  "offers: AUTH is never offered");
                }
                free(plain);
                free(tls);
        }
        if (c->smtpd_tls_auth_only && !c->smtpd_tls_wrappermode &&
            (!strcmp(c->smtpd_tls_security_level, "none") ||
             !*c->smtpd_tls_security_level))
                check_add(r, CHECK_WARNING, "smtpd_tls_auth_only",
                          conf_main_cf(c),
                          "is yes, but this service offers no TLS: AUTH is "
                          "never offered");
        free(path);
}

/* check_lmtp_hop - one transport setting ("lmtp:unix:private/x"): a
 * next hop the LMTP client cannot parse is an error, a unix-domain socket
 * that is not there a warning (its mail is deferred until a server such
 * as Dovecot listens there); other transports are not looked at */
static void check_lmtp_hop(struct check_run *r, const char *param,
                           const char *file, const char *key, const char *value)
{
        const struct conf *c = r->c;
        struct smtp_nexthop nh;
        const char *errstr = NULL;
        struct stat st;
        long long port = 24; /* any: only the form matters here */

        while (*value == ' ' || *value == '\t')
                value++;
        if (!str_has_prefix(value, "lmtp:") || value[5] == 0)
                return;
        char *what = key ? xasprintf("key %s: %s", key, value) : xstrdup(value);
        (void)conf_parse_int(c->lmtp_tcp_port, &port, &errstr);
        if (smtp_lmtp_nexthop_parse(value + 5, port > 0 ? (unsigned)port : 24,
                                    &nh, &errstr) < 0) {
                check_add(r, CHECK_ERROR, param, file,
                          "%s: %s: mail there is deferred", what, errstr);
        } else if (nh.path) {
                char *path = smtp_lmtp_socket_path(c, &nh);
                if (stat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
                        check_add(r, CHECK_WARNING, param, file,
                                  "%s: %s: %s: LMTP deliveries there are "
                                  "deferred until a server listens (Dovecot: "
                                  "service lmtp { unix_listener ... })",
                                  what, path,
                                  stat(path, &st) < 0 ? strerror(errno)
                                                      : "not a socket");
                free(path);
        }
        smtp_nexthop_clear(&nh);
        free(what);
}

/* check_transport_entry - a transport_maps entry: its transport, and
 * an lmtp: next hop */
static int check_transport_entry(const char *key, const char *value, void *arg)
{
        struct check_walk *w = arg;

        check_transport(w->r, w->param, w->file, key, value);
        check_lmtp_hop(w->r, w->param, w->file, key, value);
        return 0;
}

/* check_transports - the transports and lmtp: next hops the queue
 * manager is given (main.cf only: master.cf's -o overrides of a listener
 * concern its smtpd, but for content_filter) */
static void check_transports(struct check_run *r)
{
        const struct conf *c = r->c;
        const struct {
                const char *param, *value;
        } t[] = {{"virtual_transport", c->virtual_transport},
                 {"local_transport", c->local_transport},
                 {"mailbox_transport", c->mailbox_transport},
                 {"default_transport", c->default_transport}};
        const char *origin = conf_origin(c, "content_filter");

        /* a listener's own content_filter, or main.cf's */
        if (*c->content_filter &&
            (!r->svc || (origin && strcmp(origin, "-o") == 0)))
                check_transport(r, "content_filter", conf_main_cf(c), NULL,
                                c->content_filter);
        if (r->svc)
                return;
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                check_transport(r, t[i].param, conf_main_cf(c), NULL,
                                t[i].value);
                check_lmtp_hop(r, t[i].param, conf_main_cf(c), NULL,
                               t[i].value);
        }
}

/* check_alias_entry - one alias (lineno 0: read from the compiled
 * table): the elements whose mail the queue manager defers */
static int check_alias_entry(const char *key, const char *value,
                             unsigned long lineno, void *arg)
{
        struct check_walk *w = arg;
        struct strlist els = {0};
        char line[32] = "";

        if (lineno)
                snprintf(line, sizeof(line), "line %lu: ", lineno);
        table_alias_split(value, &els);
        for (size_t i = 0; i < els.n; i++)
                if (qmgr_alias_undeliverable(els.v[i]))
                        check_add(w->r, CHECK_WARNING, w->param, w->file,
                                  "%salias %s: postern does not deliver to "
                                  "commands or files (%s): mail to %s is "
                                  "deferred (4.3.0)",
                                  line, key, els.v[i], key);
        strlist_clear(&els);
        return 0;
}

/* check_alias_walk - check_alias_entry for table_walk */
static int check_alias_walk(const char *key, const char *value, void *arg)
{
        return check_alias_entry(key, value, 0, arg);
}

/* check_aliases - alias_maps as the queue manager opens it (main.cf
 * only): each table, built and up to date, and the aliases it defers
 * (named by line when the source file can be read).  The default
 * alias_maps not built is only a warning: the queue manager skips it,
 * so the aliases file is quietly not in effect. */
static void check_aliases(struct check_run *r)
{
        const struct conf *c = r->c;
        const struct conf_param *p = conf_param_find("alias_maps");
        bool dflt = p && strcmp(c->alias_maps, p->def) == 0;
        struct strlist specs = {0};
        char *value;

        if (r->svc)
                return;
        value = qmgr_alias_specs(c->alias_maps);
        conf_split_list(value, &specs);
        free(value);
        for (size_t i = 0; i < specs.n; i++) {
                const char *spec = specs.v[i];
                char *file = check_table_file(spec);
                struct check_walk w = {
                    .r = r, .param = "alias_maps", .file = file};
                enum table_freshness fr = TABLE_NOT_COMPILED;
                struct table *t = NULL;
                char *err = NULL;

                if (dflt && (table_freshness(spec, &fr, &err) < 0 ||
                             fr == TABLE_NOT_BUILT)) {
                        if (err == NULL)
                                check_add(r, CHECK_WARNING, w.param, file,
                                          "%s.lmdb does not exist, so the "
                                          "default alias_maps is skipped: "
                                          "mail to the names in %s goes to "
                                          "mailboxes of the same name; fix: "
                                          "postern aliases %s",
                                          file, file, spec);
                        goto next;
                }
                t = check_table(r, w.param, spec, "", TABLE_OPEN_ALIASES);
                if (t && table_source_walk(spec, TABLE_OPEN_ALIASES,
                                           check_alias_entry, &w, &err) < 0) {
                        free(err);
                        err = NULL;
                        (void)table_walk(t, check_alias_walk, &w, &err);
                }
        next:
                free(err);
                table_close(t);
                free(file);
        }
        strlist_clear(&specs);
}

/* check_milters - smtpd_milters and non_smtpd_milters: a malformed
 * setting refuses the start
 * (error); a milter that does not answer now is a warning, since mail
 * then gets its default_action */
static void check_milters(struct check_run *r)
{
        const struct conf *c = r->c;
        const struct {
                const char *param, *list;
        } lists[] = {{"smtpd_milters", c->smtpd_milters},
                     /* the queue manager's: main.cf alone */
                     {"non_smtpd_milters", r->svc ? "" : c->non_smtpd_milters}};

        for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
                struct strlist down = {0};
                char *err = NULL;
                if (*lists[l].list == 0)
                        continue;
                if (smtpd_milters_probe(c, lists[l].list, &down, &err) < 0) {
                        check_add(r, CHECK_ERROR, lists[l].param,
                                  conf_main_cf(c), "%s", err);
                        free(err);
                        continue;
                }
                for (size_t i = 0; i < down.n; i++)
                        check_add(r, CHECK_WARNING, lists[l].param,
                                  conf_main_cf(c), "%s", down.v[i]);
                strlist_clear(&down);
        }
}

/* check_client - the checks of the SMTP client's settings: all a
 * master.cf delivery transport's -o overrides can change */
static void check_client(struct check_run *r)
{
        const struct conf *c = r->c;
        struct check_walk w = {.r = r};

        check_client_level(r);
        check_sasl(r);
        r->smtp_ca = check_cafile(r, "smtp_tls_CAfile", c->smtp_tls_CAfile);
        check_capath(r, "smtp_tls_CApath", c->smtp_tls_CApath);
        check_trust_anchors(r);
        check_pair(r, "smtp_tls_cert_file", c->smtp_tls_cert_file,
                   "smtp_tls_key_file", c->smtp_tls_key_file, false);
        check_pair(r, "smtp_tls_eccert_file", c->smtp_tls_eccert_file,
                   "smtp_tls_eckey_file", c->smtp_tls_eckey_file, false);
        check_chain_files(r, "smtp_tls_chain_files", c->smtp_tls_chain_files,
                          false);
        w.param = "smtp_tls_policy_maps";
        check_table_list(r, w.param, c->smtp_tls_policy_maps,
                         check_policy_entry, &w);
        tls_certlist_free(r->smtp_ca);
        r->smtp_ca = NULL;
}

/* check_conf - every check of one configuration */
static void check_conf(struct check_run *r)
{
        const struct conf *c = r->c;
        struct check_walk w = {.r = r};

        if (r->svc && r->svc->kind == MASTER_DELIVERY) {
                check_ciphers(r);
                check_client(r);
                return;
        }
        check_server_level(r);
        check_ciphers(r);
        check_smtpd_sasl(r);
        check_milters(r);

        r->smtpd_ca = check_cafile(r, "smtpd_tls_CAfile", c->smtpd_tls_CAfile);
        check_capath(r, "smtpd_tls_CApath", c->smtpd_tls_CApath);
        check_pair(r, "smtpd_tls_cert_file", c->smtpd_tls_cert_file,
                   "smtpd_tls_key_file", c->smtpd_tls_key_file, true);
        check_pair(r, "smtpd_tls_eccert_file", c->smtpd_tls_eccert_file,
                   "smtpd_tls_eckey_file", c->smtpd_tls_eckey_file, true);
        check_chain_files(r, "smtpd_tls_chain_files", c->smtpd_tls_chain_files,
                          true);
        check_client(r);

        w.param = "relay_clientcerts";
        w.digest =
            c->smtpd_tls_fingerprint_digest && *c->smtpd_tls_fingerprint_digest
                ? c->smtpd_tls_fingerprint_digest
                : "sha256";
        w.expect_bytes = check_digest_bytes(w.digest);
        check_table_list(r, w.param, c->relay_clientcerts,
                         check_clientcert_entry, &w);
        w.param = "transport_maps";
        check_table_list(r, w.param, c->transport_maps,
                         r->svc ? NULL : check_transport_entry, &w);
        check_transports(r);
        check_aliases(r);
        w.param = "sender_dependent_relayhost_maps";
        check_table_list(r, w.param, c->sender_dependent_relayhost_maps, NULL,
                         &w);
        check_canonical(r, &w);
        w.param = "sender_bcc_maps";
        check_table_list(r, w.param, c->sender_bcc_maps, NULL, &w);
        w.param = "recipient_bcc_maps";
        check_table_list(r, w.param, c->recipient_bcc_maps, NULL, &w);
        w.param = "virtual_alias_maps";
        check_table_list(r, w.param, c->virtual_alias_maps, NULL, &w);
        w.param = "relocated_maps";
        check_table_list(r, w.param, c->relocated_maps, NULL, &w);
        w.param = "rbl_reply_maps";
        check_table_list(r, w.param, c->rbl_reply_maps, NULL, &w);
        check_hbc(r, &w);
        check_restrictions(r);

        tls_certlist_free(r->smtpd_ca);
        r->smtpd_ca = NULL;
}

/* check_conf_error - a configuration that does not load: "FILE, line N:
 * parameter NAME: why" becomes "error: NAME (FILE, line N): why" */
static void check_conf_error(struct check_report *rep, const char *err,
                             const struct master_service *svc,
                             const char *master_cf)
{
        const char *p = strstr(err, ": parameter ");
        struct check_finding *f;

        if (rep->n == rep->cap) {
                rep->cap = rep->cap ? 2 * rep->cap : 16;
                rep->f = xreallocarray(rep->f, rep->cap, sizeof(*rep->f));
        }
        f = &rep->f[rep->n++];
        f->sev = CHECK_ERROR;
        f->where = svc ? xasprintf("%s, line %d: service %s", master_cf,
                                   svc->line, svc->name)
                       : NULL;
        if (p) {
                const char *name = p + strlen(": parameter ");
                const char *colon = strchr(name, ':');

                if (colon) {
                        f->param = xstrndup(name, colon - name);
                        f->file = xstrndup(err, p - err);
                        f->msg =
                            xstrdup(colon[1] == ' ' ? colon + 2 : colon + 1);
                        return;
                }
        }
        if (str_has_prefix(err, "-o ") && (p = strchr(err, ':')) != NULL) {
                /* "-o NAME: why": an override from master.cf or the
                 * command line */
                f->param = xstrndup(err + 3, p - (err + 3));
                f->file = xstrdup(svc ? master_cf : "-o");
                f->msg = xstrdup(p[1] == ' ' ? p + 2 : p + 1);
                return;
        }
        f->param = xstrdup(svc ? "master.cf" : "main.cf");
        f->file = xstrdup(svc ? master_cf : "configuration");
        f->msg = xstrdup(err);
}

/* check_print - the findings, then the summary; returns the exit status */
static int check_print(const struct check_report *rep, bool quiet)
{
        size_t errors = 0, warnings = 0;

        for (size_t i = 0; i < rep->n; i++) {
                const struct check_finding *f = &rep->f[i];

                if (f->sev == CHECK_ERROR)
                        errors++;
                else
                        warnings++;
                printf("%s: %s (%s): %s",
                       f->sev == CHECK_ERROR ? "error" : "warning", f->param,
                       f->file, f->msg);
                if (f->where)
                        printf(" [%s]", f->where);
                putchar('\n');
        }
        if (!quiet) {
                if (errors + warnings == 0)
                        printf("postern check: no problems found\n");
                else
                        printf("postern check: %zu error%s, %zu warning%s\n",
                               errors, errors == 1 ? "" : "s", warnings,
                               warnings == 1 ? "" : "s");
        }
        fflush(stdout);
        return errors ? 2 : warnings ? 1 : 0;
}

/* cmd_check - postern check */
int cmd_check(int argc, char **argv)
{
        static const struct option longopts[] = {
            {"days", required_argument, NULL, 'd'},
            {NULL, 0, NULL, 0},
        };
        struct cli_common common;
        struct check_report rep = {0};
        struct check_run run = {.rep = &rep};
        struct master_service *svc = NULL;
        struct conf *c = NULL;
        char *err = NULL;
        char *master_cf = NULL;
        struct qmgr_transport_def *tdefs = NULL;
        size_t nsvc = 0, ntdefs = 0;
        bool quiet = false;
        long long days = 30;
        int opt, bad = 0, rc;

        if (cli_wants_help(argc, argv)) {
                fputs(check_help, stdout);
                return 0;
        }
        cli_common_init(&common);
        opterr = 0;
        while ((opt = getopt_long(argc, argv, ":c:o:q", longopts, NULL)) !=
               -1) {
                const char *why = NULL;

                if (cli_common_opt(&common, opt, optarg, &bad) == 0)
                        continue;
                if (bad) {
                        cli_common_clear(&common);
                        return cli_usage("check", CHECK_USAGE, NULL);
                }
                switch (opt) {
                case 'q':
                        quiet = true;
                        break;
                case 'd':
                        if (conf_parse_int(optarg, &days, &why) < 0 ||
                            days < 0) {
                                cli_common_clear(&common);
                                return cli_usage("check", CHECK_USAGE,
                                                 "--days: bad number \"%s\"",
                                                 optarg);
                        }
                        break;
                default:
                        cli_common_clear(&common);
                        return cli_usage("check", CHECK_USAGE,
                                         "bad option or missing argument");
                }
        }
        if (optind < argc) {
                cli_common_clear(&common);
                return cli_usage("check", CHECK_USAGE, "unexpected argument %s",
                                 argv[optind]);
        }
        run.now = (long long)time(NULL);
        run.days = days;

        if (conf_load(common.config_dir, &common.overrides, &c, &err) < 0) {
                check_conf_error(&rep, err, NULL, NULL);
                free(err);
                goto done;
        }
        run.c = c;
        if (conf_refused(c, &err) < 0) {
                check_conf_error(&rep, err, NULL, NULL);
                free(err);
        }
        /* master.cf first: its transports are names main.cf may use */
        master_cf = xasprintf("%s/master.cf", common.config_dir);
        char *merr = NULL;
        if (master_cf_read(common.config_dir, &svc, &nsvc, &merr) < 0)
                nsvc = 0;
        master_transports(svc, nsvc, NULL, c, &tdefs, &ntdefs);
        run.tdefs = tdefs;
        run.ntdefs = ntdefs;
        check_conf(&run);
        if (merr) {
                run.svc = NULL;
                check_add(&run, CHECK_ERROR, "master.cf", master_cf, "%s",
                          merr);
                free(merr);
        }
        for (size_t i = 0; i < nsvc; i++) {
                struct strlist ov = {0};
                struct conf *sc = NULL;

                if (svc[i].overrides.n == 0)
                        continue;
                for (size_t j = 0; j < svc[i].overrides.n; j++)
                        strlist_push(&ov, svc[i].overrides.v[j]);
                for (size_t j = 0; j < common.overrides.n; j++)
                        strlist_push(&ov, common.overrides.v[j]);
                char *sn = xasprintf("service_name=%s", svc[i].name);
                strlist_push(&ov, sn);
                free(sn);
                if (conf_load(common.config_dir, &ov, &sc, &err) < 0) {
                        check_conf_error(&rep, err, &svc[i], master_cf);
                        free(err);
                } else {
                        if (conf_refused(sc, &err) < 0) {
                                check_conf_error(&rep, err, &svc[i], master_cf);
                                free(err);
                        }
                        struct check_run sr = {.rep = &rep,
                                               .c = sc,
                                               .svc = &svc[i],
                                               .master_cf = master_cf,
                                               .tdefs = tdefs,
                                               .ntdefs = ntdefs,
                                               .now = run.now,
                                               .days = run.days};

                        check_conf(&sr);
                }
                conf_free(sc);
                strlist_clear(&ov);
        }
        free(tdefs);
        master_services_free(svc, nsvc);
        free(master_cf);
done:
        rc = check_print(&rep, quiet);
        check_report_clear(&rep);
        conf_free(c);
        cli_common_clear(&common);
        return rc;
}

/* SPDX-License-Identifier: MIT */
/*
 * tls_ca.c - a small CA in a directory for mutual-TLS set-ups:
 *
 *   ca.key     the CA's private key (0600)
 *   ca.crt     the self-signed CA certificate (what peers trust)
 *   index.txt  one line per issued certificate (format in docs/certs.md)
 *   crl.pem    the CRL, re-signed on every revocation
 *   NAME.crt / NAME.key   issued certificates and their keys (0600)
 *   .lock      serializes changes (flock)
 */
#include "tls/tls_int.h"
#include "log/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#define INDEX_HEADER                                                           \
        "# postern ca index v1\n"                                              \
        "# status serial role not_after revoked_at name (tab separated)\n"

/* ca_path - DIR/FILE */
static char *ca_path(const char *dir, const char *file)
{
        return xasprintf("%s/%s", dir, file);
}

/* ca_lock - exclusive lock on DIR/.lock; returns the fd or -1 */
static int ca_lock(const char *dir, bool create, const char **errstr)
{
        char *p = ca_path(dir, "ca.key");
        int fd;

        if (!create && access(p, F_OK) < 0) {
                tls_cert_seterr(errstr,
                                "%s: no CA here (%s: %s); create one with "
                                "`postern ca --dir %s init`",
                                dir, p, strerror(errno), dir);
                free(p);
                return -1;
        }
        free(p);
        p = ca_path(dir, ".lock");
        fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

        if (fd < 0) {
                tls_cert_seterr(errstr, "%s: %s", p, strerror(errno));
                free(p);
                return -1;
        }
        free(p);
        while (flock(fd, LOCK_EX) < 0 && errno == EINTR)
                ;
        return fd;
}

/* gen_key - ECDSA P-256, or RSA of bits */
static EVP_PKEY *gen_key(int rsa_bits, const char **errstr)
{
        EVP_PKEY *pk =
            rsa_bits ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)rsa_bits)
                     : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

        if (pk == NULL)
                tls_cert_seterr(errstr, "cannot generate a key");
        return pk;
}

/* set_serial - a random positive 128-bit serial */
static int set_serial(X509 *x, const char **errstr)
{
        unsigned char b[16];
        BIGNUM *bn;
        ASN1_INTEGER *ai;

        if (RAND_bytes(b, sizeof(b)) != 1)
                return tls_cert_seterr(errstr, "no random bytes");
        b[0] = (unsigned char)((b[0] & 0x7f) | 0x40); /* positive, 127 bits */
        bn = BN_bin2bn(b, sizeof(b), NULL);
        ai = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
        BN_free(bn);
        if (ai == NULL || !X509_set_serialNumber(x, ai)) {
                ASN1_INTEGER_free(ai);
                return tls_cert_seterr(errstr, "cannot set the serial");
        }
        ASN1_INTEGER_free(ai);
        return 0;
}

/* add_ext - one extension from its openssl.cnf-style value */
static int add_ext(X509 *x, X509 *issuer, int nid, const char *value,
                   const char **errstr)
{
        X509V3_CTX ctx;
        X509_EXTENSION *ext;

        X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
        ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
        if (ext == NULL || !X509_add_ext(x, ext, -1)) {
                X509_EXTENSION_free(ext);
                return tls_cert_seterr(errstr, "cannot add extension %s",
                                       OBJ_nid2sn(nid));
        }
        X509_EXTENSION_free(ext);
        return 0;
}

/* new_cert - version 3, serial, names, validity, key */
static X509 *new_cert(const char *cn, X509 *issuer, EVP_PKEY *pk, int days,
                      const char **errstr)
{
        X509 *x = X509_new();
        X509_NAME *n = X509_NAME_new();

        if (x == NULL || n == NULL ||
            !X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
                                        (const unsigned char *)cn, -1, -1, 0)) {
                X509_free(x);
                X509_NAME_free(n);
                tls_cert_seterr(errstr, "bad name \"%s\"", cn);
                return NULL;
        }
        if (!X509_set_version(x, X509_VERSION_3) || set_serial(x, errstr) < 0 ||
            !X509_set_subject_name(x, n) ||
            !X509_set_issuer_name(x,
                                  issuer ? X509_get_subject_name(issuer) : n) ||
            !X509_gmtime_adj(X509_getm_notBefore(x), -300) ||
            !X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) ||
            !X509_set_pubkey(x, pk)) {
                X509_free(x);
                X509_NAME_free(n);
                tls_cert_seterr(errstr, "cannot build the certificate");
                return NULL;
        }
        X509_NAME_free(n);
        return x;
}

/* pem_key - unencrypted PKCS#8 PEM of pk */
static char *pem_key(EVP_PKEY *pk)
{
        struct tls_key k = {.pkey = pk};

        return tls_key_pem(&k);
}

/* pem_cert - PEM of x */
static char *pem_cert(X509 *x)
{
        struct tls_cert c = {.x509 = x};

        return tls_cert_pem(&c);
}

/* write_str - write a heap string to a file, wipe and free it */
static int write_str(const char *path, char *s, unsigned mode, bool force,
                     const char **errstr)
{
        size_t n = strlen(s);
        int r = tls_file_write(path, s, n, mode, force, errstr);

        OPENSSL_cleanse(s, n);
        free(s);
        return r;
}

/* load_ca - the CA key and certificate of dir */
static int load_ca(const char *dir, EVP_PKEY **pk, X509 **x,
                   const char **errstr)
{
        char *kp = ca_path(dir, "ca.key"), *cp = ca_path(dir, "ca.crt");
        struct tls_certlist *l = NULL;
        struct tls_key *k = NULL;
        struct stat st;
        int r = -1;

        if (stat(kp, &st) < 0) {
                tls_cert_seterr(errstr,
                                "%s: %s (create the CA with `postern ca init`)",
                                kp, strerror(errno));
                goto out;
        }
        if (st.st_mode & 077) {
                tls_cert_seterr(errstr,
                                "%s: the CA key is accessible to group or "
                                "others; run: chmod 600 %s",
                                kp, kp);
                goto out;
        }
        if (tls_key_load(kp, NULL, &k, NULL, errstr) < 0 ||
            tls_certlist_load(cp, NULL, &l, errstr) < 0)
                goto out;
        if (l->n == 0) {
                tls_cert_seterr(errstr, "%s: no certificate", cp);
                goto out;
        }
        if (!tls_key_matches(k, l->v[0])) {
                tls_cert_seterr(errstr, "%s does not match %s", kp, cp);
                goto out;
        }
        *pk = k->pkey;
        k->pkey = NULL;
        *x = l->v[0]->x509;
        X509_up_ref(*x);
        r = 0;
out:
        tls_key_free(k);
        tls_certlist_free(l);
        free(kp);
        free(cp);
        return r;
}

/* fmt_time - YYYYmmddHHMMSSZ */
static void fmt_time(long long t, char *buf, size_t size)
{
        time_t tt = (time_t)t;
        struct tm tm;

        gmtime_r(&tt, &tm);
        strftime(buf, size, "%Y%m%d%H%M%SZ", &tm);
}

/* parse_time - YYYYmmddHHMMSSZ */
static int parse_time(const char *s, long long *out)
{
        struct tm tm;
        const char *e;

        memset(&tm, 0, sizeof(tm));
        e = strptime(s, "%Y%m%d%H%M%SZ", &tm);
        if (e == NULL || *e)
                return -1;
        *out = (long long)timegm(&tm);
        return 0;
}

/* tls_ca_list_free - free entries */
void tls_ca_list_free(struct tls_ca_entry *v, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(v[i].serial);
                free(v[i].name);
        }
        free(v);
}

/* tls_ca_list - read index.txt */
int tls_ca_list(const char *dir, struct tls_ca_entry **out, size_t *nout,
                const char **errstr)
{
        char *p = ca_path(dir, "index.txt");
        unsigned char *buf;
        size_t len, n = 0, lineno = 0;
        struct tls_ca_entry *v = NULL;
        char *line, *save = NULL;

        if (tls_file_read(p, &buf, &len, errstr) < 0) {
                free(p);
                return -1;
        }
        for (line = strtok_r((char *)buf, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
                struct strlist f = {0};
                const char *s;
                lineno++;
                if (line[0] == '#' || line[0] == 0)
                        continue;
                for (s = line;;) {
                        size_t k = strcspn(s, "\t");
                        strlist_pushn(&f, s, k);
                        if (s[k] == 0)
                                break;
                        s += k + 1;
                }
                struct tls_ca_entry e = {0};
                if (f.n != 6 || (strcmp(f.v[0], "V") && strcmp(f.v[0], "R")) ||
                    (strcmp(f.v[2], "server") && strcmp(f.v[2], "client")) ||
                    parse_time(f.v[3], &e.not_after) < 0 ||
                    (f.v[0][0] == 'R' &&
                     parse_time(f.v[4], &e.revoked_at) < 0)) {
                        strlist_clear(&f);
                        tls_ca_list_free(v, n);
                        free(buf);
                        tls_cert_seterr(errstr, "%s: line %zu: malformed entry",
                                        p, lineno);
                        free(p);
                        return -1;
                }
                e.serial = xstrdup(f.v[1]);
                e.role = f.v[2][0] == 's' ? TLS_CA_SERVER : TLS_CA_CLIENT;
                e.name = xstrdup(f.v[5]);
                v = xreallocarray(v, n + 1, sizeof(*v));
                v[n++] = e;
                strlist_clear(&f);
        }
        free(buf);
        free(p);
        *out = v;
        *nout = n;
        return 0;
}

/* write_index - rewrite index.txt from entries */
static int write_index(const char *dir, const struct tls_ca_entry *v, size_t n,
                       const char **errstr)
{
        char *p = ca_path(dir, "index.txt");
        struct strbuf sb;
        int r;

        strbuf_init(&sb);
        strbuf_adds(&sb, INDEX_HEADER);
        for (size_t i = 0; i < n; i++) {
                char na[32], ra[32] = "-";
                fmt_time(v[i].not_after, na, sizeof(na));
                if (v[i].revoked_at)
                        fmt_time(v[i].revoked_at, ra, sizeof(ra));
                strbuf_printf(&sb, "%s\t%s\t%s\t%s\t%s\t%s\n",
                              v[i].revoked_at ? "R" : "V", v[i].serial,
                              v[i].role == TLS_CA_SERVER ? "server" : "client",
                              na, ra, v[i].name);
        }
        r = tls_file_write(p, strbuf_cstr(&sb), sb.len, 0644, true, errstr);
        strbuf_clear(&sb);
        free(p);
        return r;
}

/* make_crl - sign a CRL of the revoked entries and write crl.pem */
static int make_crl(const char *dir, EVP_PKEY *cakey, X509 *ca,
                    const struct tls_ca_entry *v, size_t n, int days,
                    const char **errstr)
{
        X509_CRL *crl = X509_CRL_new();
        ASN1_TIME *now = ASN1_TIME_new(), *next = ASN1_TIME_new();
        ASN1_INTEGER *num = ASN1_INTEGER_new();
        X509V3_CTX ctx;
        X509_EXTENSION *ext;
        BIO *b = NULL;
        char *p = NULL;
        int r = -1;

        if (crl == NULL || now == NULL || next == NULL || num == NULL ||
            !X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
            !X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) ||
            !X509_gmtime_adj(now, 0) ||
            !X509_time_adj_ex(next, days, 0, NULL) ||
            !X509_CRL_set1_lastUpdate(crl, now) ||
            !X509_CRL_set1_nextUpdate(crl, next)) {
                tls_cert_seterr(errstr, "cannot build the CRL");
                goto out;
        }
        for (size_t i = 0; i < n; i++) {
                if (!v[i].revoked_at)
                        continue;
                X509_REVOKED *rv = X509_REVOKED_new();
                BIGNUM *bn = NULL;
                ASN1_INTEGER *ser = NULL;
                ASN1_TIME *t = ASN1_TIME_new();
                if (rv == NULL || t == NULL || !BN_hex2bn(&bn, v[i].serial) ||
                    (ser = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
                    !X509_REVOKED_set_serialNumber(rv, ser) ||
                    !ASN1_TIME_set(t, (time_t)v[i].revoked_at) ||
                    !X509_REVOKED_set_revocationDate(rv, t) ||
                    !X509_CRL_add0_revoked(crl, rv)) {
                        X509_REVOKED_free(rv);
                        BN_free(bn);
                        ASN1_INTEGER_free(ser);
                        ASN1_TIME_free(t);
                        tls_cert_seterr(errstr, "bad serial %s in the index",
                                        v[i].serial);
                        goto out;
                }
                BN_free(bn);
                ASN1_INTEGER_free(ser);
                ASN1_TIME_free(t);
        }
        X509_CRL_sort(crl);
        ASN1_INTEGER_set_int64(num, (int64_t)time(NULL));
        X509V3_set_ctx(&ctx, ca, NULL, NULL, crl, 0);
        if (!X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) ||
            (ext =
                 X509V3_EXT_nconf_nid(NULL, &ctx, NID_authority_key_identifier,
                                      "keyid:always")) == NULL) {
                tls_cert_seterr(errstr, "cannot add CRL extensions");
                goto out;
        }
        X509_CRL_add_ext(crl, ext, -1);
        X509_EXTENSION_free(ext);
        if (!X509_CRL_sign(crl, cakey, EVP_sha256())) {
                tls_cert_seterr(errstr, "cannot sign the CRL");
                goto out;
        }
        b = BIO_new(BIO_s_mem());
        if (b == NULL || !PEM_write_bio_X509_CRL(b, crl)) {
                tls_cert_seterr(errstr, "cannot write the CRL");
                goto out;
        }
        p = ca_path(dir, "crl.pem");
        r = write_str(p, tls_pem_of_bio(b), 0644, true, errstr);
out:
        free(p);
        BIO_free(b);
        X509_CRL_free(crl);
        ASN1_TIME_free(now);
        ASN1_TIME_free(next);
        ASN1_INTEGER_free(num);
        return r;
}

#define CRL_DAYS 30

/* tls_ca_create - a new CA */
int tls_ca_create(const struct tls_ca_init *in, const char **errstr)
{
        char *kp = ca_path(in->dir, "ca.key"), *cp = ca_path(in->dir, "ca.crt");
        EVP_PKEY *pk = NULL;
        X509 *x = NULL;
        int r = -1, lock = -1;
        char *idx = NULL;

        if (mkdir(in->dir, 0755) < 0 && errno != EEXIST) {
                tls_cert_seterr(errstr, "%s: %s", in->dir, strerror(errno));
                goto out;
        }
        if ((lock = ca_lock(in->dir, true, errstr)) < 0)
                goto out;
        if (!in->force && (access(kp, F_OK) == 0 || access(cp, F_OK) == 0)) {
                tls_cert_seterr(errstr,
                                "%s: a CA exists already (use --force to "
                                "replace it)",
                                in->dir);
                goto out;
        }
        if ((pk = gen_key(in->rsa_bits, errstr)) == NULL ||
            (x = new_cert(in->name, NULL, pk, in->days, errstr)) == NULL ||
            add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0",
                    errstr) < 0 ||
            add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign",
                    errstr) < 0 ||
            add_ext(x, x, NID_subject_key_identifier, "hash", errstr) < 0 ||
            add_ext(x, x, NID_authority_key_identifier, "keyid:always",
                    errstr) < 0)
                goto out;
        if (!X509_sign(x, pk, EVP_sha256())) {
                tls_cert_seterr(errstr, "cannot sign the CA certificate");
                goto out;
        }
        if (write_str(kp, pem_key(pk), 0600, in->force, errstr) < 0 ||
            write_str(cp, pem_cert(x), 0644, in->force, errstr) < 0)
                goto out;
        idx = ca_path(in->dir, "index.txt");
        if (tls_file_write(idx, INDEX_HEADER, strlen(INDEX_HEADER), 0644, true,
                           errstr) < 0 ||
            make_crl(in->dir, pk, x, NULL, 0, CRL_DAYS, errstr) < 0)
                goto out;
        r = 0;
out:
        if (lock >= 0)
                close(lock);
        free(idx);
        EVP_PKEY_free(pk);
        X509_free(x);
        free(kp);
        free(cp);
        return r;
}

/* name_ok - a name usable as CN, SAN and file name */
static bool name_ok(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n > 253 || s[0] == '.' || s[0] == '-')
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                      (*p >= '0' && *p <= '9') || strchr(".-_*@+:", *p)))
                        return false;
        return true;
}

/* add_sans - subjectAltName from names */
static int add_sans(X509 *x, enum tls_ca_role role, const char *const *names,
                    size_t n, const char **errstr)
{
        GENERAL_NAMES *gens = GENERAL_NAMES_new();
        int r = -1;

        if (gens == NULL)
                return tls_cert_seterr(errstr, "out of memory");
        for (size_t i = 0; i < n; i++) {
                unsigned char a[16];
                GENERAL_NAME *g = NULL;
                bool ip = inet_pton(AF_INET, names[i], a) == 1 ||
                          inet_pton(AF_INET6, names[i], a) == 1;
                if (ip) {
                        g = a2i_GENERAL_NAME(NULL, NULL, NULL, GEN_IPADD,
                                             names[i], 0);
                } else if (strchr(names[i], '@')) {
                        if (role != TLS_CA_CLIENT) {
                                tls_cert_seterr(errstr,
                                                "\"%s\": a server name must be "
                                                "a host name or address",
                                                names[i]);
                                goto out;
                        }
                        g = a2i_GENERAL_NAME(NULL, NULL, NULL, GEN_EMAIL,
                                             names[i], 0);
                } else {
                        g = a2i_GENERAL_NAME(NULL, NULL, NULL, GEN_DNS,
                                             names[i], 0);
                }
                if (g == NULL || !sk_GENERAL_NAME_push(gens, g)) {
                        GENERAL_NAME_free(g);
                        tls_cert_seterr(errstr, "bad name \"%s\"", names[i]);
                        goto out;
                }
        }
        if (!X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, 0)) {
                tls_cert_seterr(errstr, "cannot add subjectAltName");
                goto out;
        }
        r = 0;
out:
        GENERAL_NAMES_free(gens);
        return r;
}

/* file_base - NAME with '*' made file-safe */
static char *file_base(const char *name)
{
        char *s = xstrdup(name);

        for (char *p = s; *p; p++)
                if (*p == '*' || *p == ':')
                        *p = '_';
        return s;
}

/* tls_ca_issued_clear - free the result strings */
void tls_ca_issued_clear(struct tls_ca_issued *o)
{
        free(o->cert_path);
        free(o->key_path);
        free(o->serial);
        free(o->fp_sha256);
        free(o->label);
        memset(o, 0, sizeof(*o));
}

/* tls_ca_issue - a server or client certificate */
int tls_ca_issue(const struct tls_ca_issue *in, struct tls_ca_issued *out,
                 const char **errstr)
{
        EVP_PKEY *cakey = NULL, *pk = NULL;
        X509 *ca = NULL, *x = NULL;
        struct tls_ca_entry *v = NULL;
        size_t n = 0;
        int r = -1, lock = -1, bits;
        char *base = NULL;
        const char *curve;

        memset(out, 0, sizeof(*out));
        if (in->n_names == 0)
                return tls_cert_seterr(errstr, "no name given");
        for (size_t i = 0; i < in->n_names; i++)
                if (!name_ok(in->names[i]))
                        return tls_cert_seterr(errstr,
                                               "bad name \"%s\": use letters, "
                                               "digits and . - _ * @ + :",
                                               in->names[i]);
        if (in->role == TLS_CA_CLIENT && in->n_names != 1)
                return tls_cert_seterr(errstr,
                                       "a client certificate has one name");
        base = file_base(in->names[0]);
        if (strcmp(base, "ca") == 0 || strcmp(base, "crl") == 0 ||
            strcmp(base, "index") == 0) {
                free(base);
                return tls_cert_seterr(errstr, "\"%s\" is reserved",
                                       in->names[0]);
        }
        if ((lock = ca_lock(in->dir, false, errstr)) < 0 ||
            load_ca(in->dir, &cakey, &ca, errstr) < 0 ||
            tls_ca_list(in->dir, &v, &n, errstr) < 0)
                goto out;
        out->cert_path = xasprintf("%s/%s.crt", in->dir, base);
        out->key_path = xasprintf("%s/%s.key", in->dir, base);
        if (!in->force && (access(out->cert_path, F_OK) == 0 ||
                           access(out->key_path, F_OK) == 0)) {
                tls_cert_seterr(errstr,
                                "%s: already issued (use --force to issue a "
                                "new one; revoke the old one by serial)",
                                out->cert_path);
                goto out;
        }
        {
                struct tls_cert cc = {.x509 = ca};
                bits = 0;
                const char *t = tls_cert_key_desc(&cc, &bits, &curve);
                if (in->rsa_bits)
                        bits = in->rsa_bits;
                else if (strcmp(t, "RSA") != 0)
                        bits = 0;
        }
        if ((pk = gen_key(bits, errstr)) == NULL ||
            (x = new_cert(in->names[0], ca, pk, in->days, errstr)) == NULL ||
            add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE", errstr) <
                0 ||
            add_ext(x, ca, NID_key_usage,
                    bits ? "critical,digitalSignature,keyEncipherment"
                         : "critical,digitalSignature",
                    errstr) < 0 ||
            add_ext(x, ca, NID_ext_key_usage,
                    in->role == TLS_CA_SERVER ? "serverAuth" : "clientAuth",
                    errstr) < 0 ||
            add_ext(x, ca, NID_subject_key_identifier, "hash", errstr) < 0 ||
            add_ext(x, ca, NID_authority_key_identifier, "keyid:always",
                    errstr) < 0 ||
            add_sans(x, in->role, in->names, in->n_names, errstr) < 0)
                goto out;
        if (!X509_sign(x, cakey, EVP_sha256())) {
                tls_cert_seterr(errstr, "cannot sign the certificate");
                goto out;
        }
        struct tls_cert leaf = {.x509 = x};
        long long nb, na;
        if (tls_cert_fingerprint(&leaf, "sha256", false, &out->fp_sha256,
                                 errstr) < 0 ||
            tls_cert_times(&leaf, &nb, &na) < 0)
                goto out;
        out->serial = tls_cert_serial(&leaf);
        out->label = tls_cert_label(&leaf);
        /* Key first: a certificate without its key is useless. */
        if (write_str(out->key_path, pem_key(pk), 0600, in->force, errstr) <
                0 ||
            write_str(out->cert_path, pem_cert(x), 0644, in->force, errstr) < 0)
                goto out;
        v = xreallocarray(v, n + 1, sizeof(*v));
        v[n].serial = xstrdup(out->serial);
        v[n].name = xstrdup(in->names[0]);
        v[n].role = in->role;
        v[n].not_after = na;
        v[n].revoked_at = 0;
        n++;
        if (write_index(in->dir, v, n, errstr) < 0)
                goto out;
        r = 0;
out:
        if (lock >= 0)
                close(lock);
        tls_ca_list_free(v, n);
        EVP_PKEY_free(cakey);
        EVP_PKEY_free(pk);
        X509_free(ca);
        X509_free(x);
        free(base);
        return r;
}

/* tls_ca_revoke - mark entries revoked and re-sign the CRL */
int tls_ca_revoke(const char *dir, const char *what, struct strlist *done,
                  const char **errstr)
{
        EVP_PKEY *cakey = NULL;
        X509 *ca = NULL;
        struct tls_ca_entry *v = NULL;
        size_t n = 0, hits = 0, already = 0;
        int r = -1, lock;
        const char *w = what;

        if ((lock = ca_lock(dir, false, errstr)) < 0)
                return -1;
        if (load_ca(dir, &cakey, &ca, errstr) < 0 ||
            tls_ca_list(dir, &v, &n, errstr) < 0)
                goto out;
        /* Serials may be written with colons or a 0x prefix. */
        struct strbuf ser;
        strbuf_init(&ser);
        if (str_has_prefix(w, "0x") || str_has_prefix(w, "0X"))
                w += 2;
        for (const char *p = w; *p; p++)
                if (*p != ':')
                        strbuf_addc(&ser, *p);
        for (size_t i = 0; i < n; i++) {
                const char *s = v[i].serial;
                const char *q = strbuf_cstr(&ser);
                while (*s == '0' && s[1])
                        s++;
                while (*q == '0' && q[1])
                        q++;
                if (strcmp(v[i].name, what) != 0 && !str_eq_ci(s, q))
                        continue;
                if (v[i].revoked_at) {
                        already++;
                        continue;
                }
                v[i].revoked_at = (long long)time(NULL);
                strlist_push(done, v[i].serial);
                hits++;
        }
        strbuf_clear(&ser);
        if (hits == 0) {
                tls_cert_seterr(errstr,
                                already
                                    ? "%s: already revoked"
                                    : "%s: no such name or serial in the index",
                                what);
                goto out;
        }
        if (write_index(dir, v, n, errstr) < 0 ||
            make_crl(dir, cakey, ca, v, n, CRL_DAYS, errstr) < 0)
                goto out;
        r = 0;
out:
        close(lock);
        tls_ca_list_free(v, n);
        EVP_PKEY_free(cakey);
        X509_free(ca);
        return r;
}

/* tls_ca_crl - re-sign the CRL */
int tls_ca_crl(const char *dir, int days, const char **errstr)
{
        EVP_PKEY *cakey = NULL;
        X509 *ca = NULL;
        struct tls_ca_entry *v = NULL;
        size_t n = 0;
        int r = -1, lock;

        if ((lock = ca_lock(dir, false, errstr)) < 0)
                return -1;
        if (load_ca(dir, &cakey, &ca, errstr) == 0 &&
            tls_ca_list(dir, &v, &n, errstr) == 0 &&
            make_crl(dir, cakey, ca, v, n, days, errstr) == 0)
                r = 0;
        close(lock);
        tls_ca_list_free(v, n);
        EVP_PKEY_free(cakey);
        X509_free(ca);
        return r;
}

/* tls_ca_export - PKCS#12 of an issued certificate */
int tls_ca_export(const char *dir, const char *name, const char *out,
                  const char *pass, bool legacy, bool force,
                  const char **errstr)
{
        char *base = file_base(name);
        char *kp = xasprintf("%s/%s.key", dir, base);
        char *cp = xasprintf("%s/%s.crt", dir, base);
        char *cap = ca_path(dir, "ca.crt");
        struct tls_key *k = NULL;
        struct tls_certlist *l = NULL, *cal = NULL;
        unsigned char *der = NULL;
        size_t len = 0;
        int r = -1;

        if (tls_key_load(kp, NULL, &k, NULL, errstr) < 0 ||
            tls_certlist_load(cp, NULL, &l, errstr) < 0 ||
            tls_certlist_load(cap, NULL, &cal, errstr) < 0)
                goto out;
        if (l->n == 0 || !tls_key_matches(k, l->v[0])) {
                tls_cert_seterr(errstr, "%s does not match %s", kp, cp);
                goto out;
        }
        if (tls_p12_export(k, l->v[0], cal, name, pass, legacy, &der, &len,
                           errstr) < 0 ||
            tls_file_write(out, der, len, 0600, force, errstr) < 0)
                goto out;
        r = 0;
out:
        free(der);
        tls_key_free(k);
        tls_certlist_free(l);
        tls_certlist_free(cal);
        free(base);
        free(kp);
        free(cp);
        free(cap);
        return r;
}

/* SPDX-License-Identifier: MIT */
/*
 * tls_cert.c - certificates and keys as small postern objects: accessors,
 * names, host matching, fingerprints, chain order.
 */
#include "tls/tls_int.h"
#include "log/log.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

static _Thread_local char tls_cert_errbuf[1024];

/* tls_cert_seterr - error text plus OpenSSL's reason */
int tls_cert_seterr(const char **errstr, const char *fmt, ...)
{
        va_list ap;
        unsigned long e = ERR_peek_last_error();
        size_t n;

        va_start(ap, fmt);
        vsnprintf(tls_cert_errbuf, sizeof(tls_cert_errbuf), fmt, ap);
        va_end(ap);
        n = strlen(tls_cert_errbuf);
        if (e != 0 && ERR_reason_error_string(e) != NULL)
                snprintf(tls_cert_errbuf + n, sizeof(tls_cert_errbuf) - n,
                         " (%s)", ERR_reason_error_string(e));
        ERR_clear_error();
        if (errstr)
                *errstr = tls_cert_errbuf;
        return -1;
}

/* tls_cert_wrap - own an X509 */
struct tls_cert *tls_cert_wrap(X509 *x)
{
        struct tls_cert *c = xcalloc(1, sizeof(*c));

        c->x509 = x;
        return c;
}

/* tls_cert_free_one - free a wrapped certificate */
void tls_cert_free_one(struct tls_cert *c)
{
        if (c == NULL)
                return;
        X509_free(c->x509);
        free(c);
}

/* tls_certlist_new - empty list */
struct tls_certlist *tls_certlist_new(enum tls_file_format format)
{
        struct tls_certlist *l = xcalloc(1, sizeof(*l));

        l->format = format;
        return l;
}

/* tls_certlist_push - append a certificate */
void tls_certlist_push(struct tls_certlist *l, X509 *x)
{
        if (l->n == l->cap) {
                l->cap = l->cap ? l->cap * 2 : 8;
                l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
        }
        l->v[l->n++] = tls_cert_wrap(x);
}

/* tls_certlist_free - free the list, its certificates and key */
void tls_certlist_free(struct tls_certlist *l)
{
        if (l == NULL)
                return;
        for (size_t i = 0; i < l->n; i++)
                tls_cert_free_one(l->v[i]);
        free(l->v);
        tls_key_free(l->key);
        free(l);
}

/* tls_certlist_count - number of certificates */
size_t tls_certlist_count(const struct tls_certlist *l)
{
        return l->n;
}

/* tls_certlist_get - certificate i */
const struct tls_cert *tls_certlist_get(const struct tls_certlist *l, size_t i)
{
        return i < l->n ? l->v[i] : NULL;
}

/* tls_certlist_format - format read */
enum tls_file_format tls_certlist_format(const struct tls_certlist *l)
{
        return l->format;
}

/* tls_file_format_name - printable format name */
const char *tls_file_format_name(enum tls_file_format f)
{
        switch (f) {
        case TLS_FILE_PEM:
                return "PEM";
        case TLS_FILE_DER:
                return "DER";
        case TLS_FILE_PKCS7:
                return "PKCS#7";
        case TLS_FILE_PKCS12:
                return "PKCS#12";
        }
        return "unknown";
}

/* tls_certlist_encrypted - whether a passphrase was used */
bool tls_certlist_encrypted(const struct tls_certlist *l)
{
        return l->encrypted;
}

/* tls_key_wrap - own an EVP_PKEY */
struct tls_key *tls_key_wrap(EVP_PKEY *pk)
{
        struct tls_key *k = xcalloc(1, sizeof(*k));

        k->pkey = pk;
        return k;
}

/* tls_certlist_key - the file's private key (a borrowed view) */
const struct tls_key *tls_certlist_key(const struct tls_certlist *l)
{
        return l->key;
}

/* tls_key_free - free a key */
void tls_key_free(struct tls_key *k)
{
        if (k == NULL)
                return;
        EVP_PKEY_free(k->pkey);
        free(k);
}

/* tls_pem_of_bio - memory BIO contents as a C string */
char *tls_pem_of_bio(BIO *b)
{
        char *data = NULL;
        long n = BIO_get_mem_data(b, &data);

        return xstrndup(n > 0 ? data : "", n > 0 ? (size_t)n : 0);
}

/* name_oneline - X509_NAME the way openssl x509 -subject prints it */
static char *name_oneline(const X509_NAME *name)
{
        BIO *b = BIO_new(BIO_s_mem());
        char *s;

        if (b == NULL)
                BUG("out of memory");
        X509_NAME_print_ex(b, name, 0, XN_FLAG_ONELINE);
        s = tls_pem_of_bio(b);
        BIO_free(b);
        return s;
}

/* tls_cert_subject - one-line subject */
char *tls_cert_subject(const struct tls_cert *c)
{
        return name_oneline(X509_get_subject_name(c->x509));
}

/* tls_cert_issuer - one-line issuer */
char *tls_cert_issuer(const struct tls_cert *c)
{
        return name_oneline(X509_get_issuer_name(c->x509));
}

/* tls_cert_serial - hex serial */
char *tls_cert_serial(const struct tls_cert *c)
{
        BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(c->x509), NULL);
        char *hex, *s;

        if (bn == NULL)
                return xstrdup("?");
        hex = BN_bn2hex(bn);
        BN_free(bn);
        if (hex == NULL)
                return xstrdup("?");
        /* openssl prints an even number of digits: "0A", not "A". */
        s = (strlen(hex) % 2 && hex[0] != '-') ? xasprintf("0%s", hex)
                                               : xstrdup(hex);
        OPENSSL_free(hex);
        return s;
}

/* asn1_time_t - ASN1_TIME to seconds since the epoch */
static int asn1_time_t(const ASN1_TIME *t, long long *out)
{
        struct tm tm;

        memset(&tm, 0, sizeof(tm));
        if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
                return -1;
        *out = (long long)timegm(&tm);
        return 0;
}

/* tls_cert_times - validity window */
int tls_cert_times(const struct tls_cert *c, long long *nb, long long *na)
{
        if (asn1_time_t(X509_get0_notBefore(c->x509), nb) < 0 ||
            asn1_time_t(X509_get0_notAfter(c->x509), na) < 0)
                return -1;
        return 0;
}

/* tls_cert_validity_at - valid / not yet / expired */
enum tls_cert_validity tls_cert_validity_at(const struct tls_cert *c,
                                            long long now)
{
        long long nb, na;

        if (tls_cert_times(c, &nb, &na) < 0)
                return TLS_CERT_EXPIRED;
        if (now < nb)
                return TLS_CERT_NOT_YET_VALID;
        if (now > na)
                return TLS_CERT_EXPIRED;
        return TLS_CERT_VALID;
}

/* tls_cert_key_desc - key algorithm, size and curve */
const char *tls_cert_key_desc(const struct tls_cert *c, int *bits,
                              const char **curve)
{
        EVP_PKEY *pk = X509_get0_pubkey(c->x509);
        char group[80];
        size_t glen = 0;

        *bits = 0;
        *curve = NULL;
        if (pk == NULL)
                return "unknown";
        *bits = EVP_PKEY_get_bits(pk);
        if (EVP_PKEY_get_group_name(pk, group, sizeof(group), &glen) == 1) {
                int nid = OBJ_sn2nid(group);
                const char *nist =
                    nid != NID_undef ? EC_curve_nid2nist(nid) : NULL;
                *curve =
                    nist ? nist : (nid != NID_undef ? OBJ_nid2sn(nid) : NULL);
        }
        const char *t = EVP_PKEY_get0_type_name(pk);
        return t ? t : "unknown";
}

/* tls_cert_is_ca - basicConstraints CA flag */
bool tls_cert_is_ca(const struct tls_cert *c, long *pathlen)
{
        BASIC_CONSTRAINTS *bc =
            X509_get_ext_d2i(c->x509, NID_basic_constraints, NULL, NULL);
        bool ca = false;

        if (pathlen)
                *pathlen = -1;
        if (bc == NULL)
                return false;
        ca = bc->ca != 0;
        if (pathlen && bc->pathlen)
                *pathlen = ASN1_INTEGER_get(bc->pathlen);
        BASIC_CONSTRAINTS_free(bc);
        return ca;
}

/* tls_cert_self_signed - self-issued and self-signed */
bool tls_cert_self_signed(const struct tls_cert *c)
{
        bool r = X509_self_signed(c->x509, 1) == 1;

        ERR_clear_error();
        return r;
}

/* printable - a copy of n bytes with control and non-ASCII bytes as '?'
 * unless utf8 allows bytes >= 0x80 */
static char *printable(const unsigned char *p, size_t n, bool utf8)
{
        char *s = xmalloc(n + 1);

        for (size_t i = 0; i < n; i++)
                s[i] = (p[i] >= 0x20 && p[i] != 0x7f && (utf8 || p[i] < 0x80))
                           ? (char)p[i]
                           : '?';
        s[n] = 0;
        return s;
}

/* tls_cert_cn - last commonName */
char *tls_cert_cn(const struct tls_cert *c)
{
        const X509_NAME *name = X509_get_subject_name(c->x509);
        int i = -1, last = -1;
        unsigned char *utf8 = NULL;
        char *s;
        int n;

        while ((i = X509_NAME_get_index_by_NID(name, NID_commonName, i)) >= 0)
                last = i;
        if (last < 0)
                return NULL;
        n = ASN1_STRING_to_UTF8(
            &utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, last)));
        if (n < 0)
                return NULL;
        s = printable(utf8, (size_t)n, true);
        OPENSSL_free(utf8);
        return s;
}

/* gen_string - one GENERAL_NAME as "TYPE:value" (or only value) */
static char *gen_string(const GENERAL_NAME *g, bool with_type)
{
        const ASN1_STRING *a = NULL;
        const char *type = NULL;
        char *v, *s;

        switch (g->type) {
        case GEN_DNS:
                a = g->d.dNSName, type = "DNS";
                break;
        case GEN_EMAIL:
                a = g->d.rfc822Name, type = "email";
                break;
        case GEN_URI:
                a = g->d.uniformResourceIdentifier, type = "URI";
                break;
        case GEN_IPADD: {
                char buf[INET6_ADDRSTRLEN];
                const ASN1_OCTET_STRING *ip = g->d.iPAddress;
                int len = ASN1_STRING_length(ip);
                const unsigned char *d = ASN1_STRING_get0_data(ip);

                if (len == 4)
                        inet_ntop(AF_INET, d, buf, sizeof(buf));
                else if (len == 16)
                        inet_ntop(AF_INET6, d, buf, sizeof(buf));
                else
                        snprintf(buf, sizeof(buf), "<invalid>");
                return with_type ? xasprintf("IP:%s", buf) : xstrdup(buf);
        }
        case GEN_DIRNAME:
                v = name_oneline(g->d.directoryName);
                s = with_type ? xasprintf("DirName:%s", v) : xstrdup(v);
                free(v);
                return s;
        case GEN_RID:
                return xstrdup("RID");
        default:
                return xstrdup("othername");
        }
        v = printable(ASN1_STRING_get0_data(a), (size_t)ASN1_STRING_length(a),
                      false);
        if (!with_type)
                return v;
        s = xasprintf("%s:%s", type, v);
        free(v);
        return s;
}

/* tls_cert_sans - every subjectAltName */
void tls_cert_sans(const struct tls_cert *c, struct strlist *out)
{
        GENERAL_NAMES *gens =
            X509_get_ext_d2i(c->x509, NID_subject_alt_name, NULL, NULL);

        for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
                char *s = gen_string(sk_GENERAL_NAME_value(gens, i), true);
                strlist_push(out, s);
                free(s);
        }
        GENERAL_NAMES_free(gens);
}

/* strlist_has - whether l holds s (ASCII case-insensitive) */
static bool strlist_has(const struct strlist *l, const char *s)
{
        for (size_t i = 0; i < l->n; i++)
                if (str_eq_ci(l->v[i], s))
                        return true;
        return false;
}

/* tls_cert_names - CN then DNS SANs */
void tls_cert_names(const struct tls_cert *c, struct strlist *out)
{
        struct strlist tmp = {0};
        char *cn = tls_cert_cn(c);
        GENERAL_NAMES *gens;

        if (cn)
                strlist_push(&tmp, cn);
        free(cn);
        gens = X509_get_ext_d2i(c->x509, NID_subject_alt_name, NULL, NULL);
        for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
                const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
                if (g->type != GEN_DNS)
                        continue;
                char *s = gen_string(g, false);
                if (!strlist_has(&tmp, s))
                        strlist_push(&tmp, s);
                free(s);
        }
        GENERAL_NAMES_free(gens);
        for (size_t i = 0; i < tmp.n; i++)
                strlist_push(out, tmp.v[i]);
        strlist_clear(&tmp);
}

/* tls_cert_label - name for a table entry */
char *tls_cert_label(const struct tls_cert *c)
{
        char *cn = tls_cert_cn(c);
        GENERAL_NAMES *gens;
        char *s = NULL;

        if (cn && *cn)
                return cn;
        free(cn);
        gens = X509_get_ext_d2i(c->x509, NID_subject_alt_name, NULL, NULL);
        if (gens && sk_GENERAL_NAME_num(gens) > 0)
                s = gen_string(sk_GENERAL_NAME_value(gens, 0), false);
        GENERAL_NAMES_free(gens);
        return s ? s : xstrdup("unnamed");
}

/* tls_cert_match_host - RFC 6125 host name or IP check */
bool tls_cert_match_host(const struct tls_cert *c, const char *host)
{
        unsigned char addr[16];
        int r;

        if (host == NULL || *host == 0)
                return false;
        if (inet_pton(AF_INET, host, addr) == 1 ||
            inet_pton(AF_INET6, host, addr) == 1)
                r = X509_check_ip_asc(c->x509, host, 0);
        else
                r = X509_check_host(c->x509, host, strlen(host),
                                    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL);
        ERR_clear_error();
        return r == 1;
}

/* tls_cert_issued_by - name chaining and signature */
bool tls_cert_issued_by(const struct tls_cert *c, const struct tls_cert *by)
{
        EVP_PKEY *pk;
        bool ok;

        if (X509_check_issued(by->x509, c->x509) != X509_V_OK)
                return false;
        pk = X509_get0_pubkey(by->x509);
        ok = pk != NULL && X509_verify(c->x509, pk) == 1;
        ERR_clear_error();
        return ok;
}

/* tls_cert_digest - raw digest of certificate or SPKI */
int tls_cert_digest(const struct tls_cert *c, const char *digest, bool pubkey,
                    unsigned char *out, size_t *outlen, const char **errstr)
{
        const EVP_MD *md = EVP_get_digestbyname(digest);
        unsigned int n = 0;

        if (md == NULL)
                return tls_cert_seterr(errstr, "unknown digest \"%s\"", digest);
        if (!pubkey) {
                if (!X509_digest(c->x509, md, out, &n))
                        return tls_cert_seterr(errstr, "cannot digest");
        } else {
                unsigned char *der = NULL;
                int len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(c->x509), &der);
                if (len <= 0)
                        return tls_cert_seterr(errstr, "cannot encode key");
                int ok = EVP_Digest(der, (size_t)len, out, &n, md, NULL);
                OPENSSL_free(der);
                if (!ok)
                        return tls_cert_seterr(errstr, "cannot digest key");
        }
        *outlen = n;
        return 0;
}

/* tls_cert_fingerprint - AB:CD:... */
int tls_cert_fingerprint(const struct tls_cert *c, const char *digest,
                         bool pubkey, char **out, const char **errstr)
{
        unsigned char md[EVP_MAX_MD_SIZE];
        size_t n;
        struct strbuf sb;

        if (tls_cert_digest(c, digest, pubkey, md, &n, errstr) < 0)
                return -1;
        strbuf_init(&sb);
        for (size_t i = 0; i < n; i++)
                strbuf_printf(&sb, "%s%02X", i ? ":" : "", md[i]);
        *out = strbuf_detach(&sb);
        return 0;
}

/* tls_cert_pem - PEM text */
char *tls_cert_pem(const struct tls_cert *c)
{
        BIO *b = BIO_new(BIO_s_mem());
        char *s;

        if (b == NULL || !PEM_write_bio_X509(b, c->x509))
                BUG("cannot write PEM");
        s = tls_pem_of_bio(b);
        BIO_free(b);
        return s;
}

/* tls_certlist_pem - every certificate as PEM */
char *tls_certlist_pem(const struct tls_certlist *l)
{
        struct strbuf sb;

        strbuf_init(&sb);
        for (size_t i = 0; i < l->n; i++) {
                char *s = tls_cert_pem(l->v[i]);
                strbuf_adds(&sb, s);
                free(s);
        }
        return strbuf_detach(&sb);
}

/* tls_certlist_check_order - each issued by the next */
int tls_certlist_check_order(const struct tls_certlist *l, size_t *bad,
                             const char **errstr)
{
        for (size_t i = 0; i + 1 < l->n; i++) {
                if (tls_cert_issued_by(l->v[i], l->v[i + 1]))
                        continue;
                *bad = i;
                char *s = tls_cert_subject(l->v[i]);
                char *is = tls_cert_issuer(l->v[i]);
                char *n = tls_cert_subject(l->v[i + 1]);
                tls_cert_seterr(errstr,
                                "certificate %zu (%s) was issued by \"%s\", "
                                "but certificate %zu is \"%s\"",
                                i + 1, s, is, i + 2, n);
                free(s);
                free(is);
                free(n);
                return -1;
        }
        return 0;
}

/* tls_certlist_sort_chain - leaf first, then issuers */
void tls_certlist_sort_chain(struct tls_certlist *l)
{
        struct tls_cert **out;
        bool *used;
        size_t n = 0, start = l->n;

        if (l->n < 2)
                return;
        used = xcalloc(l->n, sizeof(*used));
        out = xcalloc(l->n, sizeof(*out));
        for (size_t i = 0; l->key && i < l->n && start == l->n; i++)
                if (EVP_PKEY_eq(X509_get0_pubkey(l->v[i]->x509),
                                l->key->pkey) == 1)
                        start = i;
        for (size_t i = 0; i < l->n && start == l->n; i++) {
                bool issuer_of_other = false;
                for (size_t j = 0; j < l->n && !issuer_of_other; j++)
                        if (j != i && tls_cert_issued_by(l->v[j], l->v[i]))
                                issuer_of_other = true;
                if (!issuer_of_other)
                        start = i;
        }
        if (start == l->n)
                start = 0;
        for (size_t cur = start;;) {
                size_t next = l->n;
                out[n++] = l->v[cur];
                used[cur] = true;
                for (size_t j = 0; j < l->n && next == l->n; j++)
                        if (!used[j] && tls_cert_issued_by(l->v[cur], l->v[j]))
                                next = j;
                if (next == l->n)
                        break;
                cur = next;
        }
        for (size_t i = 0; i < l->n; i++)
                if (!used[i])
                        out[n++] = l->v[i];
        memcpy(l->v, out, l->n * sizeof(*out));
        free(out);
        free(used);
        ERR_clear_error();
}

/* tls_key_matches - key pairs with certificate */
bool tls_key_matches(const struct tls_key *k, const struct tls_cert *c)
{
        EVP_PKEY *pk = X509_get0_pubkey(c->x509);
        bool r = pk != NULL && EVP_PKEY_eq(pk, k->pkey) == 1;

        ERR_clear_error();
        return r;
}

/* tls_key_pem - unencrypted PKCS#8 PEM */
char *tls_key_pem(const struct tls_key *k)
{
        BIO *b = BIO_new(BIO_s_secmem());
        char *s;

        if (b == NULL)
                b = BIO_new(BIO_s_mem());
        if (b == NULL ||
            !PEM_write_bio_PrivateKey(b, k->pkey, NULL, NULL, 0, NULL, NULL))
                BUG("cannot write key");
        s = tls_pem_of_bio(b);
        BIO_free(b);
        return s;
}

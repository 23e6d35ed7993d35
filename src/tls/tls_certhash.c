/* SPDX-License-Identifier: MIT */
/*
 * tls_certhash.c - the CApath index: HASH.N links to certificates and
 * HASH.rN links to CRLs, made the way `openssl rehash` makes them so that
 * a directory indexed by either tool looks the same.
 *
 * The rules (those of OpenSSL 3's apps/rehash.c): directory entries are
 * visited in strcmp order.  An entry that is a symbolic link named
 * 8-hex-digits "." ["r"] digits is an existing hash link (remembered with
 * its number and target).  Any other entry whose name ends in .pem, .crt,
 * .cer or .crl (any case) and that holds exactly one certificate or CRL in
 * PEM is indexed under the subject (issuer for a CRL) name hash; a second
 * file with the same SHA-1 digest in the same hash bucket is a duplicate
 * and skipped.  Then, per bucket, an existing link whose number is below
 * the number of files needing links stays as it is; each other file gets
 * the lowest free number; any other hash link is removed.
 */
#include "tls/tls_int.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#define REHASH_MAX_COLLISIONS 256

/* One file (or link target) in a bucket. */
struct rh_entry {
        char *filename;
        unsigned old_id; /* number of an existing link to it, or UINT_MAX */
        bool need_link;
        unsigned char digest[EVP_MAX_MD_SIZE];
};

/* All entries with the same type and name hash. */
struct rh_bucket {
        int type; /* 0 certificate, 1 CRL */
        unsigned long hash;
        struct rh_entry *v;
        size_t n;
        unsigned num_needed;
};

struct rh_state {
        struct rh_bucket *b;
        size_t n;
        struct strlist *msgs;
        int errs;
};

/* rh_say - one "error: ..." (counted) or "warning: ..." message */
static void PRINTFLIKE(3, 4)
    rh_say(struct rh_state *st, bool error, const char *fmt, ...)
{
        struct strbuf sb;
        va_list ap;

        strbuf_init(&sb);
        strbuf_adds(&sb, error ? "error: " : "warning: ");
        va_start(ap, fmt);
        strbuf_vprintf(&sb, fmt, ap);
        va_end(ap);
        strlist_push(st->msgs, strbuf_cstr(&sb));
        strbuf_clear(&sb);
        if (error)
                st->errs++;
}

/* rh_bucket_get - the bucket for type and hash, created when missing */
static struct rh_bucket *rh_bucket_get(struct rh_state *st, int type,
                                       unsigned long hash)
{
        for (size_t i = 0; i < st->n; i++)
                if (st->b[i].type == type && st->b[i].hash == hash)
                        return &st->b[i];
        st->b = xreallocarray(st->b, st->n + 1, sizeof(*st->b));
        memset(&st->b[st->n], 0, sizeof(st->b[st->n]));
        st->b[st->n].type = type;
        st->b[st->n].hash = hash;
        return &st->b[st->n++];
}

/* rh_add - record a file needing a link (digest set) or an existing link
 * (digest NULL, old_id its number) */
static void rh_add(struct rh_state *st, int type, unsigned long hash,
                   const char *filename, const unsigned char *digest,
                   unsigned old_id)
{
        struct rh_bucket *bp = rh_bucket_get(st, type, hash);
        struct rh_entry *found = NULL;

        for (size_t i = 0; i < bp->n; i++) {
                struct rh_entry *ep = &bp->v[i];
                if (digest && ep->need_link &&
                    memcmp(digest, ep->digest, 20) == 0) {
                        rh_say(st, false, "skipping duplicate %s in %s",
                               type == 0 ? "certificate" : "CRL", filename);
                        return;
                }
                if (strcmp(filename, ep->filename) == 0) {
                        found = ep;
                        if (digest == NULL)
                                break;
                }
        }
        if (found == NULL) {
                if (bp->num_needed >= REHASH_MAX_COLLISIONS) {
                        rh_say(st, true, "hash table overflow for %s",
                               filename);
                        return;
                }
                bp->v = xreallocarray(bp->v, bp->n + 1, sizeof(*bp->v));
                found = &bp->v[bp->n++];
                memset(found, 0, sizeof(*found));
                found->filename = xstrdup(filename);
                found->old_id = UINT_MAX;
        }
        if (old_id < found->old_id)
                found->old_id = old_id;
        if (digest && !found->need_link) {
                found->need_link = true;
                bp->num_needed++;
                memcpy(found->digest, digest, 20);
        }
}

/* rh_link - an existing hash link: name and target */
static int rh_link(struct rh_state *st, const char *name, const char *path)
{
        unsigned long hash = 0;
        int type = 0;
        size_t i;
        char target[PATH_MAX];
        ssize_t n;

        for (i = 0; i < 8; i++) {
                if (!isxdigit((unsigned char)name[i]))
                        return -1;
                hash = (hash << 4) |
                       (unsigned long)(isdigit((unsigned char)name[i])
                                           ? name[i] - '0'
                                           : tolower((unsigned char)name[i]) -
                                                 'a' + 10);
        }
        if (name[i++] != '.')
                return -1;
        if (name[i] == 'r' || name[i] == 'R')
                type = 1, i++;
        char *end;
        unsigned long id = strtoul(name + i, &end, 10);
        if (*end != 0 || id > 65535)
                return -1;
        n = readlink(path, target, sizeof(target));
        if (n < 0 || n >= (ssize_t)sizeof(target))
                return -1;
        target[n] = 0;
        rh_add(st, type, hash, target, NULL, (unsigned)id);
        return 0;
}

/* rh_file - a certificate or CRL file */
static void rh_file(struct rh_state *st, const char *name, const char *path)
{
        static const char *const exts[] = {"pem", "crt", "cer", "crl"};
        const char *ext = strrchr(name, '.');
        STACK_OF(X509_INFO) * inf;
        bool ok = false;
        BIO *b;

        if (ext == NULL)
                return;
        for (size_t i = 0; i < ARRAY_SIZE(exts) && !ok; i++)
                ok = strcasecmp(ext + 1, exts[i]) == 0;
        if (!ok)
                return;
        if ((b = BIO_new_file(path, "r")) == NULL) {
                rh_say(st, true, "skipping %s, cannot open file", name);
                ERR_clear_error();
                return;
        }
        inf = PEM_X509_INFO_read_bio(b, NULL, NULL, NULL);
        BIO_free(b);
        ERR_clear_error();
        if (inf == NULL)
                return;
        if (sk_X509_INFO_num(inf) != 1) {
                rh_say(st, false,
                       "skipping %s, it does not contain exactly one "
                       "certificate or CRL",
                       name);
                sk_X509_INFO_pop_free(inf, X509_INFO_free);
                return;
        }
        X509_INFO *x = sk_X509_INFO_value(inf, 0);
        unsigned char digest[EVP_MAX_MD_SIZE];
        unsigned int dlen = 0;
        const X509_NAME *xn = NULL;
        int type = 0;
        if (x->x509 != NULL) {
                xn = X509_get_subject_name(x->x509);
                ok = X509_digest(x->x509, EVP_sha1(), digest, &dlen);
        } else if (x->crl != NULL) {
                type = 1;
                xn = X509_CRL_get_issuer(x->crl);
                ok = X509_CRL_digest(x->crl, EVP_sha1(), digest, &dlen);
        } else {
                ok = false;
        }
        if (ok) {
                int hok = 0;
                unsigned long h = X509_NAME_hash_ex(xn, NULL, NULL, &hok);
                if (hok)
                        rh_add(st, type, h, name, digest, UINT_MAX);
                else
                        ok = false;
        }
        if (!ok)
                st->errs++;
        ERR_clear_error();
        sk_X509_INFO_pop_free(inf, X509_INFO_free);
}

/* cmp_str - qsort strcmp */
static int cmp_str(const void *a, const void *b)
{
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* rh_apply - create, keep and remove the links of one bucket */
static void rh_apply(struct rh_state *st, const char *dir, struct rh_bucket *bp)
{
        unsigned char used[REHASH_MAX_COLLISIONS / 8 + 1];
        unsigned nextid = 0;
        const char *sfx = bp->type ? "r" : "";

        memset(used, 0, sizeof(used));
        for (size_t i = 0; i < bp->n; i++)
                if (bp->v[i].old_id < bp->num_needed)
                        used[bp->v[i].old_id / 8] |=
                            (unsigned char)(1u << (bp->v[i].old_id % 8));
        for (size_t i = 0; i < bp->n; i++) {
                struct rh_entry *ep = &bp->v[i];
                char *path;

                if (ep->old_id < bp->num_needed)
                        continue; /* the link exists and is right */
                if (ep->need_link) {
                        while (used[nextid / 8] & (1u << (nextid % 8)))
                                nextid++;
                        path = xasprintf("%s/%08lx.%s%u", dir, bp->hash, sfx,
                                         nextid);
                        if (unlink(path) < 0 && errno != ENOENT)
                                rh_say(st, true, "cannot unlink %s: %s", path,
                                       strerror(errno));
                        if (symlink(ep->filename, path) < 0)
                                rh_say(st, true, "cannot link %s to %s: %s",
                                       path, ep->filename, strerror(errno));
                        used[nextid / 8] |= (unsigned char)(1u << (nextid % 8));
                        free(path);
                } else {
                        path = xasprintf("%s/%08lx.%s%u", dir, bp->hash, sfx,
                                         ep->old_id);
                        if (unlink(path) < 0 && errno != ENOENT)
                                rh_say(st, true, "cannot unlink %s: %s", path,
                                       strerror(errno));
                        free(path);
                }
        }
}

/* tls_cert_rehash - index a CApath directory */
int tls_cert_rehash(const char *dir, struct strlist *msgs, const char **errstr)
{
        struct rh_state st = {.msgs = msgs};
        struct strlist names = {0};
        struct stat sb;
        struct dirent *e;
        DIR *d;

        if (stat(dir, &sb) < 0)
                return tls_cert_seterr(errstr, "%s: %s", dir, strerror(errno));
        if (!S_ISDIR(sb.st_mode))
                return tls_cert_seterr(errstr, "%s: not a directory", dir);
        if (access(dir, W_OK) < 0)
                return tls_cert_seterr(errstr, "%s: cannot write: %s", dir,
                                       strerror(errno));
        if ((d = opendir(dir)) == NULL)
                return tls_cert_seterr(errstr, "%s: %s", dir, strerror(errno));
        while ((e = readdir(d)) != NULL)
                strlist_push(&names, e->d_name);
        closedir(d);
        qsort(names.v, names.n, sizeof(*names.v), cmp_str);
        for (size_t i = 0; i < names.n; i++) {
                char *path = xasprintf("%s/%s", dir, names.v[i]);
                if (lstat(path, &sb) == 0 &&
                    !(S_ISLNK(sb.st_mode) &&
                      rh_link(&st, names.v[i], path) == 0))
                        rh_file(&st, names.v[i], path);
                free(path);
        }
        strlist_clear(&names);
        for (size_t i = 0; i < st.n; i++) {
                rh_apply(&st, dir, &st.b[i]);
                for (size_t j = 0; j < st.b[i].n; j++)
                        free(st.b[i].v[j].filename);
                free(st.b[i].v);
        }
        free(st.b);
        if (st.errs)
                return tls_cert_seterr(errstr, "%s: %d error%s while indexing",
                                       dir, st.errs, st.errs == 1 ? "" : "s");
        return 0;
}

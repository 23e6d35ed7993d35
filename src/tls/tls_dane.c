/* SPDX-License-Identifier: MIT */
/*
 * tls_dane.c - DANE authentication of SMTP servers (RFC 7671, RFC 7672)
 * on top of OpenSSL's built-in DANE verifier.
 *
 * The caller brings TLSA records from a DNSSEC-secure answer; this file
 * applies SMTP's profile: PKIX usages 0 and 1 are not used, DANE-EE(3)
 * ignores names and validity dates, DANE-TA(2) requires a chain to the
 * matched anchor with valid dates and a name matching the TLSA base
 * domain or the MX host name, and with several matching types the
 * strongest listed in tls_dane_digests decides (digest agility).
 */
#include "tls/tls.h"
#include "tls/tls_int.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <stdlib.h>

/* tls_dane_ctx_init - enable DANE on a client context; digests is the
 * tls_dane_digests list, strongest first ("name" or "name:mtype") */
int tls_dane_ctx_init(struct tls_ctx *tc, const char *digests,
                      const char **errstr)
{
        SSL_CTX *ctx = tc->ssl_ctx;
        struct strlist l = {0};
        bool seen[3] = {true, false, false}; /* mtype 0 is always usable */

        for (size_t m = 0; m < ARRAY_SIZE(tc->dane_mord); m++)
                tc->dane_mord[m] = -1;
        tc->dane_mord[0] = 0;

        if (SSL_CTX_dane_enable(ctx) <= 0)
                return tls_ctx_seterr(errstr, "cannot enable DANE");
        str_split(digests && *digests ? digests : "sha512 sha256", ", \t", &l);
        for (size_t i = 0; i < l.n; i++) {
                char *name = l.v[i];
                char *colon = strchr(name, ':');
                int mtype = -1;
                if (colon) {
                        *colon = 0;
                        mtype = atoi(colon + 1);
                } else if (!strcasecmp(name, "sha256")) {
                        mtype = 1;
                } else if (!strcasecmp(name, "sha512")) {
                        mtype = 2;
                }
                const EVP_MD *md = EVP_get_digestbyname(name);
                if (md == NULL || mtype < 1 || mtype > 255) {
                        strlist_clear(&l);
                        return tls_ctx_seterr(errstr,
                                              "tls_dane_digests: bad digest "
                                              "\"%s\" (use sha512, sha256 "
                                              "or name:number)",
                                              name);
                }
                /* earlier in the list = stronger = higher order */
                if (SSL_CTX_dane_mtype_set(ctx, md, (uint8_t)mtype,
                                           (uint8_t)(l.n - i)) <= 0) {
                        strlist_clear(&l);
                        return tls_ctx_seterr(errstr,
                                              "tls_dane_digests: cannot use "
                                              "%s",
                                              name);
                }
                if (mtype < 3)
                        seen[mtype] = true;
                tc->dane_mord[mtype] = (short)(l.n - i);
        }
        strlist_clear(&l);
        /* the standard matching types not listed are not trusted */
        for (int m = 1; m < 3; m++)
                if (!seen[m])
                        (void)SSL_CTX_dane_mtype_set(ctx, NULL, (uint8_t)m, 0);
        return 0;
}

/* tls_dane_conn_init - the records of one session */
int tls_dane_conn_init(struct tls_conn *c, const struct tls_start *st,
                       const char **errstr)
{
        const char *base =
            st->dane_base && *st->dane_base ? st->dane_base : st->dane_hostname;

        if (base == NULL || *base == 0)
                return tls_ctx_seterr(errstr, "DANE needs the TLSA base "
                                              "domain");
        if (SSL_dane_enable(c->ssl, base) <= 0)
                return tls_ctx_seterr(errstr, "cannot enable DANE for %s",
                                      base);
        /* RFC 7672 section 3.1.1: DANE-EE ignores names */
        SSL_dane_set_flags(c->ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
        if (st->dane_hostname && *st->dane_hostname &&
            strcasecmp(st->dane_hostname, base) != 0)
                (void)SSL_add1_host(c->ssl, st->dane_hostname);
        c->dane = true;
        for (size_t i = 0; i < st->ntlsa; i++) {
                const struct tls_tlsa_rr *r = &st->tlsa[i];
                /* RFC 7672 section 3.1.3: PKIX-TA(0) and PKIX-EE(1) are
                 * unusable for SMTP */
                if (r->usage != 2 && r->usage != 3)
                        continue;
                int rc = SSL_dane_tlsa_add(c->ssl, r->usage, r->selector,
                                           r->mtype, r->data, r->len);
                if (rc > 0)
                        c->dane_usable++;
                ERR_clear_error();
        }
        return 0;
}

/* match_text - "end entity public-key sha256 digest AB:..." as
 * posttls-finger prints a match (heap) */
static char *match_text(uint8_t usage, uint8_t selector, uint8_t mtype,
                        const unsigned char *data, size_t dlen)
{
        struct strbuf sb;

        strbuf_init(&sb);
        strbuf_printf(&sb, "%s %s ", usage == 3 ? "end entity" : "trust anchor",
                      selector == 0 ? "certificate" : "public-key");
        if (mtype == 0) {
                strbuf_adds(&sb, "full data ");
                for (size_t k = 0; k < dlen && k < 64; k++)
                        strbuf_printf(&sb, "%s%02X", k ? ":" : "", data[k]);
                if (dlen > 64)
                        strbuf_adds(&sb, ":...");
        } else {
                strbuf_printf(&sb, "%s digest ",
                              mtype == 1   ? "sha256"
                              : mtype == 2 ? "sha512"
                                           : "other");
                for (size_t k = 0; k < dlen; k++)
                        strbuf_printf(&sb, "%s%02X", k ? ":" : "", data[k]);
        }
        return strbuf_detach(&sb);
}

/* tls_dane_resumable - whether a cached session may be offered under
 * DANE: OpenSSL does not run the DANE verifier again on a resumed
 * session, so the session's server certificate must match one of the
 * current DANE-EE records, with digest agility as in a full handshake:
 * per selector only the records of the strongest usable matching type
 * count (the match is kept for tls_dane_collect).  DANE-TA needs the
 * chain, which a serialized session does not keep: those sessions get a
 * full handshake. */
bool tls_dane_resumable(struct tls_conn *c, SSL_SESSION *sess,
                        const struct tls_start *st)
{
        X509 *peer = SSL_SESSION_get0_peer(sess);
        struct tls_cert cert = {.x509 = peer};
        const short *mord = c->ctx->dane_mord;
        short best[2] = {-1, -1};
        size_t n = st->ntlsa;
        unsigned char **got = xcalloc(n ? n : 1, sizeof(*got));
        size_t *glen = xcalloc(n ? n : 1, sizeof(*glen));
        bool found = false;

        c->dane_resume_match = NULL;
        /* the usable DANE-EE records: a known matching type whose data has
         * the length of its digest (OpenSSL drops the others before
         * choosing the strongest type) */
        for (size_t i = 0; peer != NULL && i < n; i++) {
                const struct tls_tlsa_rr *r = &st->tlsa[i];
                const char *err;
                if (r->usage != 3 || r->selector > 1 || mord[r->mtype] < 0 ||
                    tls_tlsa_data(&cert, r->selector, r->mtype, &got[i],
                                  &glen[i], &err) < 0)
                        continue;
                if (r->mtype != 0 && glen[i] != r->len) {
                        free(got[i]);
                        got[i] = NULL;
                        continue;
                }
                if (mord[r->mtype] > best[r->selector])
                        best[r->selector] = mord[r->mtype];
        }
        for (size_t i = 0; i < n; i++) {
                const struct tls_tlsa_rr *r = &st->tlsa[i];
                if (!found && got[i] != NULL &&
                    mord[r->mtype] == best[r->selector] && glen[i] == r->len &&
                    memcmp(got[i], r->data, r->len) == 0) {
                        c->dane_resume_match = tls_conn_keep_own(
                            c, match_text(r->usage, r->selector, r->mtype,
                                          r->data, r->len));
                        found = true;
                }
                free(got[i]);
        }
        free(got);
        free(glen);
        ERR_clear_error();
        return found;
}

/* tls_dane_collect - the DANE outcome after the handshake */
void tls_dane_collect(struct tls_conn *c, struct tls_info *i)
{
        uint8_t usage = 0, selector = 0, mtype = 0;
        const unsigned char *data = NULL;
        size_t dlen = 0;
        int depth;

        i->dane = c->dane;
        i->dane_usable = c->dane_usable;
        i->dane_depth = -1;
        i->dane_match = "";
        if (!c->dane || c->dane_usable == 0)
                return;
        if (SSL_session_reused(c->ssl) == 1) {
                /* no DANE verification ran: the session was offered only
                 * when its certificate matched a DANE-EE record */
                if (c->dane_resume_match == NULL ||
                    SSL_get_verify_result(c->ssl) != X509_V_OK)
                        return;
                i->dane_depth = 0;
                i->trusted = i->verified = true;
                i->dane_match = c->dane_resume_match;
                return;
        }
        depth =
            SSL_get0_dane_tlsa(c->ssl, &usage, &selector, &mtype, &data, &dlen);
        if (depth < 0 || SSL_get_verify_result(c->ssl) != X509_V_OK)
                return;
        i->dane_depth = depth;
        i->trusted = i->verified = true;
        i->dane_match = tls_conn_keep_own(
            c, match_text(usage, selector, mtype, data, dlen));
}

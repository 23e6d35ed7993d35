/* SPDX-License-Identifier: MIT */
/*
 * tls_log.c - the TLS log lines and Received-header comment, in the exact
 * shape of Postfix 3.7 (tls_log_summary, smtpd_tls_received_header), so
 * log readers built for Postfix read postern's lines unchanged.
 */
#include "tls/tls_int.h"
#include "log/log.h"

/* trust_word - Anonymous, Untrusted, Trusted or Verified */
static const char *trust_word(const struct tls_info *i)
{
        if (!i->peer_cert)
                return "Anonymous";
        if (i->verified)
                return "Verified";
        if (i->trusted)
                return "Trusted";
        return "Untrusted";
}

/* sig_detail - " NAME (CURVE)" or " NAME (BITS bits)" */
static void sig_detail(struct strbuf *out, const char *name, const char *curve,
                       int bits)
{
        strbuf_printf(out, " %s", name);
        if (*curve)
                strbuf_printf(out, " (%s)", curve);
        else if (bits > 0)
                strbuf_printf(out, " (%d bits)", bits);
}

/* tls13_details - key-exchange, server- and client-signature details */
static void tls13_details(const struct tls_info *i, struct strbuf *out)
{
        if (*i->kex_name) {
                strbuf_printf(out, " key-exchange %s", i->kex_name);
                if (*i->kex_curve)
                        strbuf_printf(out, " (%s)", i->kex_curve);
                else if (i->kex_bits > 0)
                        strbuf_printf(out, " (%d bits)", i->kex_bits);
        }
        if (*i->srvr_sig_name) {
                strbuf_adds(out, " server-signature");
                sig_detail(out, i->srvr_sig_name, i->srvr_sig_curve,
                           i->srvr_sig_bits);
                if (*i->srvr_sig_dgst)
                        strbuf_printf(out, " server-digest %s",
                                      i->srvr_sig_dgst);
        }
        if (*i->clnt_sig_name) {
                strbuf_adds(out, " client-signature");
                sig_detail(out, i->clnt_sig_name, i->clnt_sig_curve,
                           i->clnt_sig_bits);
                if (*i->clnt_sig_dgst)
                        strbuf_printf(out, " client-digest %s",
                                      i->clnt_sig_dgst);
        }
}

/* tls_conn_summary - the "... TLS connection established ..." line */
void tls_conn_summary(const struct tls_conn *c, struct strbuf *out)
{
        const struct tls_info *i = &c->info;

        if (!c->handshake_done)
                return;
        strbuf_printf(out,
                      "%s TLS connection established %s %s: %s with cipher "
                      "%s (%d/%d bits)",
                      trust_word(i), c->ctx->server ? "from" : "to", c->namaddr,
                      i->protocol, i->cipher, i->cipher_usebits,
                      i->cipher_algbits);
        tls13_details(i, out);
}

/* tls_conn_received - smtpd_tls_received_header comment lines */
void tls_conn_received(const struct tls_conn *c, bool ask_ccert,
                       struct strbuf *out)
{
        const struct tls_info *i = &c->info;
        struct strbuf d;

        if (!c->handshake_done)
                return;
        strbuf_printf(out, "(using %s with cipher %s (%d/%d bits)", i->protocol,
                      i->cipher, i->cipher_usebits, i->cipher_algbits);
        strbuf_init(&d);
        tls13_details(i, &d);
        if (d.len > 0)
                strbuf_printf(out, "\n\t%s", strbuf_cstr(&d));
        strbuf_clear(&d);
        strbuf_adds(out, ")\n\t");
        if (i->peer_cert)
                strbuf_printf(out, "(Client CN \"%s\", Issuer \"%s\" (%s))",
                              i->peer_CN, i->issuer_CN,
                              i->trusted ? "verified OK" : "not verified");
        else if (ask_ccert)
                strbuf_adds(out, "(Client did not present a certificate)");
        else
                strbuf_adds(out, "(No client certificate requested)");
}

/* printable - make a string safe for a log line */
static void printable(char *s)
{
        for (; *s; s++)
                if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
                        *s = '?';
}

/* log_verify_error - why the peer certificate is not trusted (or not
 * matched), in the words of Postfix's tls_verify.c */
static void log_verify_error(const struct tls_conn *c)
{
        const struct tls_info *i = &c->info;
        long err = c->verify_err ? c->verify_err : i->verify_result;
        int depth = c->verify_err ? c->verify_depth : 0;
        const char *purpose = depth > 0        ? "CA"
                              : c->ctx->server ? "client"
                                               : "server";
        char issuer[256];

        if (c->name_mismatch) {
                /* A trusted chain that no name of the match list fits:
                 * what OpenSSL's own name check reports. */
                log_info("server certificate verification failed for %s: "
                         "num=%d:%s",
                         c->namaddr, X509_V_ERR_HOSTNAME_MISMATCH,
                         X509_verify_cert_error_string(
                             X509_V_ERR_HOSTNAME_MISMATCH));
                return;
        }
        if (i->trusted)
                return;
        if (err == X509_V_OK) /* no CAfile/CApath: nothing is trusted */
                err = X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY;
        snprintf(issuer, sizeof(issuer), "%s",
                 c->verify_issuer[0] ? c->verify_issuer : "<unknown>");
        printable(issuer);
        switch (err) {
        case X509_V_ERR_CERT_UNTRUSTED:
                log_info("certificate verification failed for %s: not "
                         "trusted by local or TLSA policy",
                         c->namaddr);
                break;
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
                log_info("certificate verification failed for %s: "
                         "self-signed certificate",
                         c->namaddr);
                break;
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
                log_info("certificate verification failed for %s: untrusted "
                         "issuer %s",
                         c->namaddr, issuer);
                break;
        case X509_V_ERR_CERT_NOT_YET_VALID:
        case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD:
                log_info("%s certificate verification failed for %s: "
                         "certificate not yet valid",
                         purpose, c->namaddr);
                break;
        case X509_V_ERR_CERT_HAS_EXPIRED:
        case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD:
                log_info("%s certificate verification failed for %s: "
                         "certificate has expired",
                         purpose, c->namaddr);
                break;
        case X509_V_ERR_INVALID_PURPOSE:
                log_info("certificate verification failed for %s: not "
                         "designated for use as a %s certificate",
                         c->namaddr, purpose);
                break;
        case X509_V_ERR_CERT_CHAIN_TOO_LONG:
                log_info("certificate verification failed for %s: "
                         "certificate chain longer than limit(%d)",
                         c->namaddr, depth - 1);
                break;
        default:
                log_info("%s certificate verification failed for %s: "
                         "num=%ld:%s",
                         purpose, c->namaddr, err,
                         X509_verify_cert_error_string(err));
                break;
        }
}

/* tls_log_handshake - loglevel 1: the summary; 2: the peer certificate */
void tls_log_handshake(const struct tls_conn *c)
{
        const struct tls_info *i = &c->info;
        struct strbuf sb;

        if (c->loglevel >= 2 && i->peer_cert)
                log_info("%s: subject_CN=%s, %s=%s, fingerprint=%s, "
                         "pkey_fingerprint=%s",
                         c->namaddr, i->peer_CN,
                         c->ctx->server ? "issuer" : "issuer_CN", i->issuer_CN,
                         i->cert_fprint, i->pkey_fprint);
        if (i->peer_cert &&
            (c->loglevel >= 2 ||
             (c->loglevel >= 1 &&
              (c->ctx->server ? c->ctx->req_ccert : c->have_match))))
                log_verify_error(c);
        if (c->loglevel < 1)
                return;
        strbuf_init(&sb);
        tls_conn_summary(c, &sb);
        log_info("%s", strbuf_cstr(&sb));
        strbuf_clear(&sb);
}

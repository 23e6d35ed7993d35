/* SPDX-License-Identifier: MIT */
/*
 * smtpd_received.c - Postfix's Received: header shape, including the TLS
 * comment of smtpd_tls_received_header (Postfix 3.4 and later):
 *
 *   Received: from helo (name [addr])
 *   	(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)
 *   	 key-exchange X25519 server-signature ECDSA (P-256) server-digest
 * SHA256) (No client certificate requested) by myhostname (postern) with ESMTPS
 * id QUEUEID for <rcpt@example.org>; Sat, 28 Nov 2026 15:47:20 +0000 (UTC)
 */
#include "smtpd/smtpd_int.h"

#include <string.h>
#include <time.h>

/* sanitize_comment - printable ASCII, no backslash, balanced parens */
static void sanitize_comment(struct strbuf *b, const char *s)
{
        size_t start = b->len;
        int depth = 0;

        strbuf_adds(b, s ? s : "");
        for (size_t i = start; i < b->len; i++) {
                unsigned char c = b->s[i];
                if (c < 32 || c > 126 || c == '\\' || c == '"') {
                        b->s[i] = '?';
                } else if (c == '(') {
                        depth++;
                } else if (c == ')') {
                        if (depth > 0)
                                depth--;
                        else
                                b->s[i] = '?';
                }
        }
        while (depth-- > 0)
                strbuf_addc(b, ')');
}

/* sig_detail - " (P-256)" or " (2048 bits)" */
static void sig_detail(struct strbuf *b, const char *curve, int bits)
{
        if (curve && *curve)
                strbuf_printf(b, " (%s)", curve);
        else if (bits > 0)
                strbuf_printf(b, " (%d bits)", bits);
}

/* mail_date - RFC 5322 date, locale-independent */
static void mail_date(struct strbuf *b, time_t when)
{
        static const char *const days[] = {"Sun", "Mon", "Tue", "Wed",
                                           "Thu", "Fri", "Sat"};
        static const char *const mons[] = {"Jan", "Feb", "Mar", "Apr",
                                           "May", "Jun", "Jul", "Aug",
                                           "Sep", "Oct", "Nov", "Dec"};
        struct tm tm;
        char zone[16], name[64];

        localtime_r(&when, &tm);
        strftime(zone, sizeof(zone), "%z", &tm);
        strftime(name, sizeof(name), "%Z", &tm);
        strbuf_printf(b, "%s, %02d %s %d %02d:%02d:%02d %s (%s)",
                      days[tm.tm_wday % 7], tm.tm_mday, mons[tm.tm_mon % 12],
                      tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, zone,
                      name);
}

/* smtpd_received_format - the header text */
void smtpd_received_format(struct strbuf *b, const struct smtpd_info *info,
                           const char *myhostname, const char *mail_name,
                           const char *queue_id, time_t when)
{
        const struct smtpd_tls_info *t = info->tls;
        const char *addr = info->addr ? info->addr : "unknown";
        /* "ESMTPS" when the caller left out the TLS details */
        bool esmtp = info->protocol && str_has_prefix(info->protocol, "ESMTP");
        bool add_s = t && info->protocol && !strcmp(info->protocol, "ESMTP");

        strbuf_printf(b, "Received: from %s (%s [%s%s])",
                      info->helo ? info->helo : info->name, info->name,
                      strchr(addr, ':') ? "IPv6:" : "", addr);
        if (t) {
                bool cont = false;

                strbuf_printf(b, "\r\n\t(using %s with cipher %s (%d/%d bits)",
                              t->protocol ? t->protocol : "unknown",
                              t->cipher ? t->cipher : "unknown",
                              t->cipher_usebits, t->cipher_algbits);
                if (t->kex_name && *t->kex_name) {
                        strbuf_printf(b, "\r\n\t key-exchange %s", t->kex_name);
                        sig_detail(b, t->kex_curve, t->kex_bits);
                        cont = true;
                }
                if (t->srvr_sig && *t->srvr_sig) {
                        strbuf_printf(b, "%sserver-signature %s",
                                      cont ? " " : "\r\n\t ", t->srvr_sig);
                        sig_detail(b, t->srvr_curve, t->srvr_bits);
                        if (t->srvr_digest && *t->srvr_digest)
                                strbuf_printf(b, " server-digest %s",
                                              t->srvr_digest);
                        cont = true;
                }
                if (t->clnt_sig && *t->clnt_sig) {
                        strbuf_printf(b, "\r\n\t client-signature %s",
                                      t->clnt_sig);
                        sig_detail(b, t->clnt_curve, t->clnt_bits);
                        if (t->clnt_digest && *t->clnt_digest)
                                strbuf_printf(b, " client-digest %s",
                                              t->clnt_digest);
                }
                strbuf_adds(b, ")");
                if (t->ccert_present) {
                        strbuf_adds(b, "\r\n\t(Client CN \"");
                        sanitize_comment(b, t->peer_cn);
                        strbuf_adds(b, "\", Issuer \"");
                        sanitize_comment(b, t->issuer_cn);
                        strbuf_printf(b, "\" (%s))",
                                      t->ccert_trusted ? "verified OK"
                                                       : "not verified");
                } else if (t->ccert_requested) {
                        strbuf_adds(b, "\r\n\t(Client did not present a "
                                       "certificate)");
                } else {
                        strbuf_adds(b, "\r\n\t(No client certificate "
                                       "requested)");
                }
        }
        if (info->sasl_username) {
                strbuf_adds(b, "\r\n\t(Authenticated sender: ");
                sanitize_comment(b, info->sasl_username);
                strbuf_adds(b, ")");
        }
        /* RFC 3848: ESMTPS, ESMTPA, ESMTPSA */
        strbuf_printf(b, "\r\n\tby %s (%s) with %s%s%s", myhostname,
                      mail_name ? mail_name : "postern",
                      info->protocol ? info->protocol : "SMTP",
                      add_s ? "S" : "",
                      (info->sasl_method && esmtp) ? "A" : "");
        if (queue_id)
                strbuf_printf(b, " id %s", queue_id);
        if (info->env && info->env->nrcpt == 1) {
                strbuf_printf(b, "\r\n\tfor <%s>; ", info->env->rcpt[0].addr);
        } else {
                strbuf_adds(b, ";\r\n\t");
        }
        mail_date(b, when);
}

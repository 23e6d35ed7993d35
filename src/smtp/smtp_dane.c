/* SPDX-License-Identifier: MIT */
/*
 * smtp_dane.c - which MX hosts of a dane or dane-only destination get DANE
 * authentication (RFC 7672 section 2.2).
 *
 * TLSA records count only when the MX answer (or, without MX, the address
 * answer of the next hop) and the TLSA answer are DNSSEC-secure; an
 * insecure MX is looked up anyway when smtp_tls_dane_insecure_mx_policy is
 * dane, as in Postfix.  Secure records that are all unusable mean TLS
 * without authentication at dane, and skip the host at dane-only (no
 * fallback, as Postfix's dane-only).  The TLSA base domain is the target
 * of a secure CNAME chain of the MX host, else the host itself.  A bogus
 * or failed TLSA lookup never turns into cleartext or unauthenticated
 * TLS: that host is skipped and the delivery deferred if no other host
 * remains.
 */
#include "smtp/smtp_int.h"

#include "conf/conf.h"
#include "dns/dns.h"
#include "log/log.h"
#include "tls/tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct smtp_dane_state_s {
        struct smtp_attempt *a; /* NULL once the attempt went away */
        size_t host;            /* the address whose host is looked up */
        bool canonical_tried;   /* phase: canonical name asked already */
        bool pending;           /* a query is outstanding */
};

static void dane_next(struct smtp_dane_state_s *d);

/* smtp_addr_clear_dane - free an address's DANE data */
void smtp_addr_clear_dane(struct smtp_addr *ad)
{
        for (size_t i = 0; i < ad->ntlsa; i++)
                free((void *)ad->tlsa[i].data);
        free(ad->tlsa);
        free(ad->dane_base);
        free(ad->dane_why);
        ad->tlsa = NULL;
        ad->ntlsa = 0;
        ad->dane_base = ad->dane_why = NULL;
}

/* copy_decision - an address of a host already decided */
static void copy_decision(struct smtp_addr *to, const struct smtp_addr *from)
{
        to->dane = from->dane;
        to->dane_base = from->dane_base ? xstrdup(from->dane_base) : NULL;
        to->dane_why = from->dane_why ? xstrdup(from->dane_why) : NULL;
        to->ntlsa = from->ntlsa;
        to->tlsa = from->ntlsa
                       ? xreallocarray(NULL, from->ntlsa, sizeof(*to->tlsa))
                       : NULL;
        for (size_t i = 0; i < from->ntlsa; i++) {
                unsigned char *data = xmalloc(from->tlsa[i].len);
                memcpy(data, from->tlsa[i].data, from->tlsa[i].len);
                to->tlsa[i] = from->tlsa[i];
                to->tlsa[i].data = data;
        }
}

/* base_name - the name whose TLSA records are asked for now */
static const char *base_name(const struct smtp_dane_state_s *d,
                             const struct smtp_addr *ad)
{
        return ad->canonical && !d->canonical_tried ? ad->canonical : ad->host;
}

/* hex - the data as lower-case hex (static, for log lines) */
static const char *hex(const unsigned char *p, size_t n)
{
        static char buf[2 * 64 + 4];
        size_t k;

        for (k = 0; k < n && k < 64; k++)
                snprintf(buf + 2 * k, 3, "%02x", p[k]);
        buf[2 * k] = 0;
        if (n > 64)
                strcat(buf, "...");
        return buf;
}

/* tlsa_answered - the TLSA answer of one host */
static void tlsa_answered(void *arg, const struct dns_answer *ans)
{
        struct smtp_dane_state_s *d = arg;
        struct smtp_attempt *a = d->a;
        size_t n;

        d->pending = false;
        if (a == NULL) {
                free(d);
                return;
        }
        struct smtp_addr *ad = &smtp_attempt_addrs(a, &n)[d->host];
        const struct conf *cf = smtp_attempt_client(a)->conf;
        const char *base = base_name(d, ad);

        if (ans->security == DNS_SEC_BOGUS || ans->result == DNS_SERVFAIL ||
            ans->result == DNS_TIMEOUT || ans->result == DNS_ERROR) {
                ad->dane = SMTP_DANE_FAIL;
                ad->dane_why = xasprintf("TLSA lookup error for %s:%u: %s%s%s",
                                         base, smtp_attempt_nexthop(a)->port,
                                         ans->security == DNS_SEC_BOGUS
                                             ? "DNSSEC validation failed"
                                             : dns_result_name(ans->result),
                                         ans->why_bogus ? ": " : "",
                                         ans->why_bogus ? ans->why_bogus : "");
                log_warnx("%s", ad->dane_why);
        } else if (ans->result == DNS_OK && ans->security == DNS_SEC_SECURE) {
                ad->dane_base = xstrdup(base);
                for (size_t i = 0; i < ans->n; i++) {
                        const struct dns_rr *rr = &ans->rr[i];
                        bool usable = (rr->usage == 2 || rr->usage == 3) &&
                                      rr->selector <= 1 && rr->mtype <= 2 &&
                                      rr->len > 0;
                        if (cf->smtp_tls_loglevel >= 2)
                                log_info("%s DANE RR: _%u._tcp.%s IN TLSA %u "
                                         "%u %u %s",
                                         usable ? "using" : "ignoring",
                                         smtp_attempt_nexthop(a)->port, base,
                                         rr->usage, rr->selector, rr->mtype,
                                         hex(rr->data, rr->len));
                        if (!usable)
                                continue;
                        unsigned char *data = xmalloc(rr->len);
                        memcpy(data, rr->data, rr->len);
                        ad->tlsa = xreallocarray(ad->tlsa, ad->ntlsa + 1,
                                                 sizeof(*ad->tlsa));
                        ad->tlsa[ad->ntlsa++] = (struct tls_tlsa_rr){
                            rr->usage, rr->selector, rr->mtype, data, rr->len};
                }
                ad->dane = ad->ntlsa ? SMTP_DANE_RECORDS : SMTP_DANE_UNUSABLE;
                if (ad->dane == SMTP_DANE_UNUSABLE &&
                    smtp_attempt_policy_level(a) == SMTP_TLS_DANE_ONLY) {
                        /* dane-only has no fallback to encrypt: skip the
                         * host, as Postfix does ("TLSA records
                         * unusable") */
                        ad->dane = SMTP_DANE_FAIL;
                        ad->dane_why = xasprintf(
                            "TLS is required, but host %s has no usable "
                            "TLSA records (dane-only)",
                            ad->host);
                } else if (ad->dane == SMTP_DANE_UNUSABLE)
                        log_info("%s: all TLSA records unusable: TLS is "
                                 "mandatory, without authentication",
                                 base);
        } else if (ans->result == DNS_OK) {
                ad->dane = SMTP_DANE_NONE; /* insecure TLSA: not used */
                if (cf->smtp_tls_loglevel >= 2)
                        log_info("%s: TLSA records are not DNSSEC-secure: "
                                 "not used",
                                 base);
        } else if (ad->canonical && !d->canonical_tried) {
                /* no TLSA at the CNAME target: try the MX host name */
                d->canonical_tried = true;
                dane_next(d);
                return;
        } else {
                ad->dane = SMTP_DANE_NONE;
        }
        d->host++;
        d->canonical_tried = false;
        dane_next(d);
}

/* on_tlsa - tlsa_answered, its lines logged as its client's */
static void on_tlsa(void *arg, const struct dns_answer *ans)
{
        struct smtp_dane_state_s *d = arg;
        const char *prev =
            log_service(d->a ? smtp_attempt_client(d->a)->log_ident : "smtp");

        tlsa_answered(arg, ans);
        (void)log_service(prev);
}

/* dane_next - decide the next host, or hand over */
static void dane_next(struct smtp_dane_state_s *d)
{
        struct smtp_attempt *a = d->a;
        struct smtp_client *cl = smtp_attempt_client(a);
        size_t n;
        struct smtp_addr *v = smtp_attempt_addrs(a, &n);

        while (d->host < n) {
                struct smtp_addr *ad = &v[d->host];
                bool done = false;

                if (ad->dane != SMTP_DANE_UNKNOWN) {
                        d->host++;
                        continue;
                }
                for (size_t j = 0; j < d->host && !done; j++)
                        if (v[j].dane != SMTP_DANE_UNKNOWN &&
                            strcasecmp(v[j].host, ad->host) == 0) {
                                copy_decision(ad, &v[j]);
                                done = true;
                        }
                if (done) {
                        d->host++;
                        continue;
                }
                if (!ad->addr_secure ||
                    (!ad->mx_secure &&
                     strcmp(cl->conf->smtp_tls_dane_insecure_mx_policy,
                            "dane") != 0)) {
                        /* RFC 7672 section 2.2: no TLSA lookup for hosts
                         * found through insecure answers */
                        ad->dane = SMTP_DANE_NONE;
                        d->host++;
                        continue;
                }
                char *owner =
                    xasprintf("_%u._tcp.%s", smtp_attempt_nexthop(a)->port,
                              base_name(d, ad));
                d->pending = true;
                int rc = dns_query(cl->dns, owner, DNS_T_TLSA, on_tlsa, d);
                free(owner);
                if (rc == 0)
                        return;
                d->pending = false;
                ad->dane = SMTP_DANE_FAIL;
                ad->dane_why = xasprintf("TLSA lookup error for %s: cannot "
                                         "send the query",
                                         ad->host);
                d->host++;
        }
        *smtp_attempt_dane_slot(a) = NULL;
        free(d);
        smtp_dane_done(a);
}

/* smtp_dane_start - look up the TLSA records of every host */
void smtp_dane_start(struct smtp_attempt *a)
{
        struct smtp_dane_state_s *d = xcalloc(1, sizeof(*d));

        d->a = a;
        *smtp_attempt_dane_slot(a) = d;
        dane_next(d);
}

/* smtp_dane_cancel - the attempt goes away */
void smtp_dane_cancel(struct smtp_attempt *a)
{
        struct smtp_dane_state_s **slot = smtp_attempt_dane_slot(a);
        struct smtp_dane_state_s *d = *slot;

        *slot = NULL;
        if (d == NULL)
                return;
        d->a = NULL;
        if (!d->pending)
                free(d);
}

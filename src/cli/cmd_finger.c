/* SPDX-License-Identifier: MIT */
/*
 * cmd_finger.c - postern finger: probe a destination's TLS and DANE the
 * way the SMTP client would meet it (Postfix's posttls-finger), without
 * sending mail: MX and address lookups with their DNSSEC status, the TLSA
 * records, STARTTLS (or implicit TLS), the certificate chain with
 * subjects, issuers and fingerprints, what matched at which depth, and the
 * final "... TLS connection established ..." line.  The exit status says
 * whether the level's requirements were met.
 */
#include "cli/cli.h"
#include "conf/conf.h"
#include "dns/dns.h"
#include "log/log.h"
#include "smtp/smtp.h"
#include "tls/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static const char finger_usage[] =
    "postern finger [-c DIR] [-o name=value] [-l LEVEL] [-F CAfile]\n"
    "       [-P CApath] [-p protocols] [-t seconds] [-T seconds]\n"
    "       [-L names] [-m count] [-r delay] [--implicit-tls] [-w]\n"
    "       DESTINATION [MATCH...]";

static const char finger_help[] =
    "Probe DESTINATION (domain, host:port or [host]:port) as the SMTP\n"
    "client would, without sending mail: MX and address lookups with\n"
    "their DNSSEC status, TLSA records, STARTTLS, the certificate\n"
    "chain, what matched, and the established line.\n"
    "\n"
    "  -l LEVEL        none, may, encrypt, dane (default), dane-only,\n"
    "                  verify, secure; dane without usable TLSA\n"
    "                  records probes as secure, as posttls-finger does\n"
    "  MATCH...        names for verify/secure (default: nexthop,\n"
    "                  dot-nexthop for secure, hostname for verify)\n"
    "  -F / -P         CAfile / CApath (default smtp_tls_CAfile/CApath)\n"
    "  -p PROTOCOLS    TLS protocols, Postfix syntax\n"
    "  -t / -T         connect / command timeout (default 30 s)\n"
    "  -L NAMES        what to print, posttls-finger's names:\n"
    "                  summary (or routine) the established line,\n"
    "                  peercert the certificate's names and\n"
    "                  fingerprints, certmatch the chain and what\n"
    "                  matched (and peercert), verbose all, none;\n"
    "                  default routine,certmatch\n"
    "  -m COUNT        probe the first COUNT addresses (default 1) in the\n"
    "                  order the SMTP client tries them: MX preference,\n"
    "                  then each host's addresses (at most\n"
    "                  smtp_mx_address_limit); each has its own TLSA\n"
    "                  lookup, connection and verdict\n"
    "  -r DELAY        after the handshake keep the TLS session, QUIT,\n"
    "                  reconnect after DELAY seconds offering it, and\n"
    "                  report whether the server resumed it\n"
    "  --implicit-tls  TLS from the first byte (port 465)\n"
    "  -w              write the server's chain as PEM to stdout\n"
    "\n"
    "DNS uses dns_resolver_addresses and dnssec_trust_anchor_file.\n"
    "Exit status: 0 every probed address met the level's requirements\n"
    "(on the reconnection too, with -r; a session that is not resumed\n"
    "is reported, not a failure), 1 one did not (or could not be\n"
    "reached), 2 usage.\n";

struct probe {
        int fd;
        struct tls_conn *tls;
        char buf[16384];
        size_t len;
        int timeout;
        const char *namaddr;
};

/* say - one line of output */
static void PRINTFLIKE(1, 2) say(const char *fmt, ...)
{
        va_list ap;

        fputs("postern-finger: ", stdout);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        fputc('\n', stdout);
}

/* p_fill - more bytes from the server; -1 on EOF, error or timeout */
static int p_fill(struct probe *p)
{
        size_t got = 0;

        if (p->len == sizeof(p->buf))
                return -1;
        if (p->tls) {
                if (tls_conn_read(p->tls, p->buf + p->len,
                                  sizeof(p->buf) - p->len, &got) != TLS_IO_DONE)
                        return -1;
        } else {
                ssize_t n =
                    recv(p->fd, p->buf + p->len, sizeof(p->buf) - p->len, 0);
                if (n <= 0)
                        return -1;
                got = (size_t)n;
        }
        p->len += got;
        return 0;
}

/* p_reply - read one whole reply; 0 with r filled, -1 on failure */
static int p_reply(struct probe *p, struct smtp_reply *r)
{
        const char *err;

        smtp_reply_clear(r);
        smtp_reply_init(r);
        for (;;) {
                char *nl = memchr(p->buf, '\n', p->len);
                if (nl == NULL) {
                        if (p_fill(p) < 0)
                                return -1;
                        continue;
                }
                size_t n = (size_t)(nl - p->buf);
                size_t ll = n > 0 && p->buf[n - 1] == '\r' ? n - 1 : n;
                int rc = smtp_reply_line(r, p->buf, ll, &err);
                memmove(p->buf, nl + 1, p->len - n - 1);
                p->len -= n + 1;
                if (rc < 0)
                        return -1;
                if (r->done)
                        return 0;
        }
}

/* p_send - one command */
static int p_send(struct probe *p, const char *cmd)
{
        char line[512];
        int n = snprintf(line, sizeof(line), "%s\r\n", cmd);
        size_t put = 0;

        if (p->tls)
                return tls_conn_write(p->tls, line, (size_t)n, &put) ==
                               TLS_IO_DONE
                           ? 0
                           : -1;
        return send(p->fd, line, (size_t)n, MSG_NOSIGNAL) == n ? 0 : -1;
}

/* p_connect - a blocking connection with a connect timeout */
static int p_connect(const char *addr, unsigned port, int timeout)
{
        struct sockaddr_storage ss = {0};
        socklen_t sl;
        struct sockaddr_in *s4 = (void *)&ss;
        struct sockaddr_in6 *s6 = (void *)&ss;
        struct timeval tv = {.tv_sec = timeout};
        int fd;

        if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
                s4->sin_family = AF_INET;
                s4->sin_port = htons((uint16_t)port);
                sl = sizeof(*s4);
        } else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
                s6->sin6_family = AF_INET6;
                s6->sin6_port = htons((uint16_t)port);
                sl = sizeof(*s6);
        } else {
                return -1;
        }
        fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -1;
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
                close(fd);
                return -1;
        }
        return fd;
}

/* One address the SMTP client would try, in its order. */
struct finger_addr {
        char *host;      /* the MX host (or the next hop itself) */
        char *addr;      /* "192.0.2.1" */
        char *canonical; /* a secure CNAME target of host, or NULL */
        bool mx_secure;  /* the MX answer (without MX: the address
                            answer) was DNSSEC-secure */
        bool addr_secure;
};

/* host_addrs - append host's A, then AAAA, addresses to *v (at most
 * limit in all), with the DNSSEC status of each answer */
static void host_addrs(const struct conf *cf, struct dns_resolver *dns,
                       const char *host, bool mx_secure, bool from_mx,
                       size_t limit, struct finger_addr **v, size_t *n)
{
        static const int types[] = {DNS_T_A, DNS_T_AAAA};

        if (smtp_host_is_literal(host)) {
                *v = xreallocarray(*v, *n + 1, sizeof(**v));
                (*v)[(*n)++] = (struct finger_addr){
                    .host = xstrdup(host),
                    .addr = xstrdup(host),
                    .mx_secure = mx_secure,
                };
                return;
        }
        for (size_t t = 0; t < 2 && dns && *n < limit; t++) {
                struct dns_answer *ans = NULL;
                char *err = NULL;
                if (!smtp_family_wanted(cf, t == 0 ? AF_INET : AF_INET6))
                        continue;
                if (dns_query_sync(dns, host, types[t], &ans, &err) < 0) {
                        say("%s %s: %s", host, t ? "AAAA" : "A", err);
                        free(err);
                        continue;
                }
                say("%s %s: %s (%s)", host, t ? "AAAA" : "A",
                    dns_result_name(ans->result),
                    dns_security_name(ans->security));
                bool sec = ans->security == DNS_SEC_SECURE;
                for (size_t i = 0;
                     ans->result == DNS_OK && i < ans->n && *n < limit; i++) {
                        if (ans->rr[i].addr == NULL)
                                continue;
                        *v = xreallocarray(*v, *n + 1, sizeof(**v));
                        (*v)[(*n)++] = (struct finger_addr){
                            .host = xstrdup(host),
                            .addr = xstrdup(ans->rr[i].addr),
                            .canonical =
                                sec && ans->canonical &&
                                        strcasecmp(ans->canonical, host) != 0
                                    ? xstrdup(ans->canonical)
                                    : NULL,
                            /* without MX the address answer is the one
                             * that must be secure (RFC 7672 2.2.1) */
                            .mx_secure = mx_secure || (!from_mx && sec),
                            .addr_secure = sec,
                        };
                }
                dns_answer_free(ans);
        }
}

/* -L names, as posttls-finger's: what is printed besides the probe's
 * progress and verdict */
#define FLOG_SUMMARY 0x1u   /* the "... TLS connection established" line */
#define FLOG_PEERCERT 0x2u  /* subject_CN, issuer_CN, fingerprints */
#define FLOG_CERTMATCH 0x4u /* the chain, DANE records, what matched */
#define FLOG_DEFAULT (FLOG_SUMMARY | FLOG_CERTMATCH | FLOG_PEERCERT)

static const struct {
        const char *name;
        unsigned bits;
} flog_names[] = {
    {"none", 0},
    {"routine", FLOG_SUMMARY},
    {"summary", FLOG_SUMMARY},
    {"peercert", FLOG_PEERCERT},
    {"certmatch", FLOG_CERTMATCH | FLOG_PEERCERT},
    {"verbose", FLOG_DEFAULT},
    /* accepted for posttls-finger command lines; nothing more to show */
    {"untrusted", 0},
    {"cache", 0},
    {"dane", 0},
    {"ssl-debug", 0},
    {"ssl-handshake-packet-dump", 0},
    {"ssl-session-packet-dump", 0},
};

/* finger_log_parse - a -L list ("routine,certmatch"); -1 names the
 * unknown word in *bad */
static int finger_log_parse(const char *arg, unsigned *out, char **bad)
{
        struct strlist l = {0};
        int rc = 0;

        *out = 0;
        str_split(arg, ", \t:", &l);
        for (size_t i = 0; i < l.n && rc == 0; i++) {
                size_t k = 0;
                while (k < ARRAY_SIZE(flog_names) &&
                       strcasecmp(l.v[i], flog_names[k].name) != 0)
                        k++;
                if (k == ARRAY_SIZE(flog_names)) {
                        *bad = xstrdup(l.v[i]);
                        rc = -1;
                } else {
                        *out |= flog_names[k].bits;
                }
        }
        strlist_clear(&l);
        return rc;
}

/* print_chain - depth, subject, issuer and fingerprints (certmatch), the
 * peer certificate's summary (peercert) */
static void print_chain(const struct tls_conn *tls, const char *relay,
                        bool write_pem, unsigned log)
{
        struct tls_certlist *chain = tls_conn_peer_chain(tls);
        const struct tls_info *in = tls_conn_info(tls);

        if (chain == NULL)
                return;
        for (size_t i = 0;
             (log & FLOG_CERTMATCH) && i < tls_certlist_count(chain); i++) {
                const struct tls_cert *c = tls_certlist_get(chain, i);
                char *subj = tls_cert_subject(c), *iss = tls_cert_issuer(c);
                char *fp = NULL, *pk = NULL;
                const char *e;
                (void)tls_cert_fingerprint(c, "sha256", false, &fp, &e);
                (void)tls_cert_fingerprint(c, "sha256", true, &pk, &e);
                say("%s: depth=%zu subject=%s", relay, i, subj);
                say("%s: depth=%zu issuer=%s", relay, i, iss);
                say("%s: depth=%zu fingerprint=%s, pkey_fingerprint=%s", relay,
                    i, fp ? fp : "?", pk ? pk : "?");
                free(subj);
                free(iss);
                free(fp);
                free(pk);
        }
        if ((log & FLOG_CERTMATCH) && in->dane && in->dane_depth >= 0)
                say("%s: depth=%d matched %s", relay, in->dane_depth,
                    in->dane_match);
        if (log & FLOG_PEERCERT)
                say("%s: subject_CN=%s, issuer_CN=%s, fingerprint=%s, "
                    "pkey_fingerprint=%s",
                    relay, in->peer_CN, in->issuer_CN, in->cert_fprint,
                    in->pkey_fprint);
        if (write_pem) {
                char *pem = tls_certlist_pem(chain);
                fputs(pem, stdout);
                free(pem);
        }
        tls_certlist_free(chain);
}

struct finger_opts {
        const char *level, *cafile, *capath, *protocols;
        int ctimeout, timeout;
        int max_probes; /* -m: addresses to probe */
        int reconnect;  /* -r: seconds before reconnecting; < 0 off */
        bool implicit, write_pem;
        unsigned log; /* -L: FLOG_* */
        struct strlist match;
};

/* lookup_tlsa - the usable records of _port._tcp.host; returns the
 * number of records kept, -1 on a failed or bogus lookup; *absent (may
 * be NULL) tells whether the name had no TLSA records at all */
static int lookup_tlsa(struct dns_resolver *dns, const char *host,
                       unsigned port, struct tls_tlsa_rr **out,
                       struct dns_answer **keep, bool *absent)
{
        char *owner = xasprintf("_%u._tcp.%s", port, host);
        char *err = NULL;
        struct dns_answer *ans = NULL;
        int n = 0;

        *out = NULL;
        *keep = NULL;
        if (dns_query_sync(dns, owner, DNS_T_TLSA, &ans, &err) < 0) {
                say("TLSA lookup for %s: %s", owner, err);
                free(err);
                free(owner);
                return -1;
        }
        say("%s TLSA: %s (%s)", owner, dns_result_name(ans->result),
            dns_security_name(ans->security));
        if (absent)
                *absent =
                    ans->result == DNS_NXDOMAIN || ans->result == DNS_NODATA;
        if (ans->security == DNS_SEC_BOGUS || ans->result == DNS_SERVFAIL ||
            ans->result == DNS_TIMEOUT || ans->result == DNS_ERROR) {
                free(owner);
                dns_answer_free(ans);
                return -1;
        }
        if (ans->result == DNS_OK && ans->security == DNS_SEC_SECURE) {
                *out = xcalloc(ans->n ? ans->n : 1, sizeof(**out));
                for (size_t i = 0; i < ans->n; i++) {
                        const struct dns_rr *rr = &ans->rr[i];
                        struct strbuf hx;
                        strbuf_init(&hx);
                        for (size_t k = 0; k < rr->len; k++)
                                strbuf_printf(&hx, "%s%02X", k ? ":" : "",
                                              rr->data[k]);
                        bool usable = (rr->usage == 2 || rr->usage == 3) &&
                                      rr->selector <= 1 && rr->mtype <= 2;
                        say("%s DANE RR: %s IN TLSA %u %u %u %s",
                            usable ? "using" : "unusable", owner, rr->usage,
                            rr->selector, rr->mtype, strbuf_cstr(&hx));
                        strbuf_clear(&hx);
                        if (usable)
                                (*out)[n++] = (struct tls_tlsa_rr){
                                    rr->usage, rr->selector, rr->mtype,
                                    rr->data, rr->len};
                }
                *keep = ans;
        } else {
                dns_answer_free(ans);
        }
        free(owner);
        return n;
}

/* The destination a probe talks to: every address the SMTP client would
 * try, and the one being probed now (target_select). */
struct target {
        struct smtp_nexthop nh;
        struct dns_resolver *dns;
        struct finger_addr *v;
        size_t n;
        const char *host, *addr; /* borrowed from v[cur] */
        bool mx_secure, addr_secure;
        char relay[512];
};

/* target_clear - release */
static void target_clear(struct target *t)
{
        dns_resolver_free(t->dns);
        for (size_t i = 0; i < t->n; i++) {
                free(t->v[i].host);
                free(t->v[i].addr);
                free(t->v[i].canonical);
        }
        free(t->v);
        smtp_nexthop_clear(&t->nh);
}

/* target_select - make address i the one probed */
static void target_select(struct target *t, size_t i)
{
        const struct finger_addr *a = &t->v[i];

        t->host = a->host;
        t->addr = a->addr;
        t->mx_secure = a->mx_secure;
        t->addr_secure = a->addr_secure;
        snprintf(t->relay, sizeof(t->relay), "%s[%s]:%u", a->host, a->addr,
                 t->nh.port);
}

/* mx_hosts - append the MX hosts of a domain to hosts by preference (ties
 * in DNS order); 0 (hosts stays empty when the domain has no MX: the
 * domain itself is the host), or -1 when the lookup failed or the domain
 * has a null MX (said why) */
static int mx_hosts(struct target *t, struct strlist *hosts, bool *secure)
{
        struct dns_answer *mx = NULL;
        char *err = NULL;
        size_t *order = NULL, n = 0;
        bool null_mx = false;

        if (dns_query_sync(t->dns, t->nh.host, DNS_T_MX, &mx, &err) < 0) {
                say("%s MX: %s", t->nh.host, err);
                free(err);
                return 0; /* as before: fall back to the address */
        }
        say("%s MX: %s (%s)", t->nh.host, dns_result_name(mx->result),
            dns_security_name(mx->security));
        *secure = mx->security == DNS_SEC_SECURE;
        if (mx->security == DNS_SEC_BOGUS || mx->result == DNS_SERVFAIL ||
            mx->result == DNS_TIMEOUT || mx->result == DNS_ERROR) {
                dns_answer_free(mx);
                say("MX lookup failed: not probing");
                return -1;
        }
        if (mx->result == DNS_OK) {
                order = xreallocarray(NULL, mx->n + 1, sizeof(*order));
                for (size_t i = 0; i < mx->n; i++) {
                        const char *h = mx->rr[i].host;
                        say("  MX %u %s", mx->rr[i].pref, h ? h : "?");
                        if (h == NULL)
                                continue;
                        if (*h == 0 || strcmp(h, ".") == 0) {
                                null_mx = true;
                                continue;
                        }
                        /* insertion: equal preferences keep DNS order */
                        size_t j = n++;
                        while (j > 0 &&
                               mx->rr[order[j - 1]].pref > mx->rr[i].pref) {
                                order[j] = order[j - 1];
                                j--;
                        }
                        order[j] = i;
                }
                for (size_t i = 0; i < n; i++)
                        strlist_push(hosts, mx->rr[order[i]].host);
        }
        free(order);
        dns_answer_free(mx);
        if (null_mx && n == 0) {
                /* RFC 7505: the domain accepts no mail; its own
                 * addresses are never tried */
                say("%s: no address: null MX, the domain does not accept "
                    "mail (nullMX)",
                    t->nh.host);
                return -1;
        }
        return 0;
}

/* target_resolve - the addresses the SMTP client would try (at most
 * limit), with the DNSSEC status of the answers, the first one selected;
 * 0, -1 (said why), 2 usage */
static int target_resolve(const struct conf *cf, const char *dest, int timeout,
                          size_t limit, struct target *t)
{
        const char *errstr;
        char *err = NULL;
        struct strlist hosts = {0};
        bool mx_secure = false, from_mx = false;

        memset(t, 0, sizeof(*t));
        if (smtp_nexthop_parse(dest, &t->nh, &errstr) < 0) {
                fprintf(stderr, "postern: %s: %s\n", dest, errstr);
                return 2;
        }
        struct dns_settings ds = {
            .resolvers = cf->dns_resolver_addresses,
            .trust_anchor_file = cf->dnssec_trust_anchor_file,
            .dnssec = true,
            .timeout_ms = (long)timeout * 1000,
        };
        if (dns_resolver_new(NULL, &ds, &t->dns, &err) < 0) {
                say("DNS resolver: %s (no DNSSEC)", err);
                free(err);
                t->dns = NULL;
        }
        if (!t->nh.no_mx && t->dns && !smtp_host_is_literal(t->nh.host)) {
                if (mx_hosts(t, &hosts, &mx_secure) < 0) {
                        strlist_clear(&hosts);
                        return -1;
                }
                from_mx = hosts.n > 0;
        }
        if (hosts.n == 0)
                strlist_push(&hosts, t->nh.host);
        for (size_t i = 0; i < hosts.n && t->n < limit; i++) {
                size_t before = t->n;
                host_addrs(cf, t->dns, hosts.v[i], mx_secure, from_mx, limit,
                           &t->v, &t->n);
                if (t->n == before)
                        say("%s: no address", hosts.v[i]);
        }
        strlist_clear(&hosts);
        if (t->n == 0)
                return -1;
        target_select(t, 0);
        return 0;
}

/* client_ctx - the probe's TLS client context */
static struct tls_ctx *client_ctx(const struct conf *cf,
                                  const struct finger_opts *o)
{
        const char *terr = NULL;
        struct tls_client_settings ts = {
            .CAfile = o->cafile ? o->cafile : cf->smtp_tls_CAfile,
            .CApath = o->capath ? o->capath : cf->smtp_tls_CApath,
            .cert_file = cf->smtp_tls_cert_file,
            .key_file = cf->smtp_tls_key_file,
            .protocols =
                o->protocols ? o->protocols : cf->smtp_tls_mandatory_protocols,
            .ciphers = cf->smtp_tls_mandatory_ciphers,
            .cipherlists =
                {
                    .high = cf->tls_high_cipherlist,
                    .medium = cf->tls_medium_cipherlist,
                    .low = cf->tls_low_cipherlist,
                    .export = cf->tls_export_cipherlist,
                    .null = cf->tls_null_cipherlist,
                },
            .ssl_options = cf->tls_ssl_options,
            .append_default_ca = cf->tls_append_default_CA,
            .dane_digests = cf->tls_dane_digests,
            .loglevel = 1,
            /* resumption only when -r asks for it */
            .session_cache_timeout = o->reconnect > 0 ? -1 : 0,
        };
        struct tls_ctx *ctx = tls_client_ctx_new(&ts, &terr);

        if (ctx == NULL)
                say("TLS: %s", terr);
        return ctx;
}

/* open_session - connect, greet, EHLO and STARTTLS (unless implicit) and
 * complete the handshake with st (whose ctx, fd and namaddr are filled in
 * here).  0: TLS is up; 1: STARTTLS not offered; -1: failed (said why).
 * On return p->fd is open (or -1) and p->tls set or NULL. */
static int open_session(const struct conf *cf, const struct finger_opts *o,
                        const struct target *t, struct tls_ctx *ctx,
                        struct tls_start *st, struct probe *p)
{
        struct smtp_reply r;
        const char *terr = NULL;
        int rc = -1;

        memset(p, 0, sizeof(*p));
        p->timeout = o->timeout;
        p->namaddr = t->relay;
        smtp_reply_init(&r);
        say("Connected to %s", t->relay);
        p->fd = p_connect(t->addr, t->nh.port, o->ctimeout);
        if (p->fd < 0) {
                say("connect to %s: %s", t->relay, strerror(errno));
                goto out;
        }
        if (!o->implicit) {
                char ehlo[300];
                if (p_reply(p, &r) < 0 || r.code != 220) {
                        say("no 220 greeting from %s", t->relay);
                        goto out;
                }
                snprintf(ehlo, sizeof(ehlo), "EHLO %s", cf->smtp_helo_name);
                if (p_send(p, ehlo) < 0 || p_reply(p, &r) < 0 ||
                    r.code != 250) {
                        say("EHLO failed at %s", t->relay);
                        goto out;
                }
                if (!(smtp_ehlo_features(&r, NULL) & SMTP_FEATURE_STARTTLS)) {
                        say("%s: STARTTLS not offered", t->relay);
                        rc = 1;
                        goto out;
                }
                if (p_send(p, "STARTTLS") < 0 || p_reply(p, &r) < 0 ||
                    r.code != 220) {
                        say("STARTTLS refused by %s", t->relay);
                        goto out;
                }
                p->len = 0; /* plaintext after the 220 is never trusted */
        }
        st->ctx = ctx;
        st->fd = p->fd;
        st->namaddr = t->relay;
        if (tls_conn_start(st, &p->tls, &terr) < 0) {
                say("TLS: %s", terr);
                goto out;
        }
        if (tls_conn_handshake(p->tls) != TLS_IO_DONE) {
                say("%s", tls_conn_error(p->tls));
                goto out;
        }
        rc = 0;
out:
        smtp_reply_clear(&r);
        return rc;
}

/* close_session - EHLO again (as the client would; after implicit TLS the
 * greeting first), QUIT, free.  With sess, the resumable session is
 * exported into *sess / *sess_len once the EHLO reply is read (TLS 1.3
 * tickets arrive after the handshake); NULL when there is none. */
static void close_session(const struct conf *cf, const struct finger_opts *o,
                          struct probe *p, unsigned char **sess,
                          size_t *sess_len)
{
        if (sess) {
                *sess = NULL;
                *sess_len = 0;
        }
        if (p->tls && tls_conn_info(p->tls)) {
                struct smtp_reply r;
                char ehlo[300];
                smtp_reply_init(&r);
                if (!o->implicit || p_reply(p, &r) == 0) {
                        snprintf(ehlo, sizeof(ehlo), "EHLO %s",
                                 cf->smtp_helo_name);
                        if (p_send(p, ehlo) == 0)
                                (void)p_reply(p, &r);
                }
                if (sess && tls_conn_session_export(p->tls, sess, sess_len) < 0)
                        *sess = NULL;
                (void)p_send(p, "QUIT");
                smtp_reply_clear(&r);
        }
        tls_conn_free(p->tls);
        p->tls = NULL;
        if (p->fd >= 0)
                close(p->fd);
        p->fd = -1;
}

/* One host's TLSA records, looked up once for all of its addresses. */
struct host_tlsa {
        char *host;             /* whose records these are */
        const char *base;       /* TLSA base domain (borrowed from the
                                   target) */
        int n;                  /* usable records, -1 lookup failed */
        struct tls_tlsa_rr *rr; /* data borrowed from ans */
        struct dns_answer *ans;
};

/* host_tlsa_clear - release */
static void host_tlsa_clear(struct host_tlsa *h)
{
        free(h->host);
        free(h->rr);
        dns_answer_free(h->ans);
        memset(h, 0, sizeof(*h));
}

/* host_tlsa_lookup - the records of the selected address's host: those
 * of its secure CNAME target, else of the host name (RFC 7672 2.2.2) */
static void host_tlsa_lookup(struct target *t, const struct finger_addr *a,
                             struct host_tlsa *h)
{
        bool absent = false;

        if (h->host && strcasecmp(h->host, a->host) == 0)
                return; /* another address of the same host */
        host_tlsa_clear(h);
        h->host = xstrdup(a->host);
        if (a->canonical) {
                h->base = a->canonical;
                h->n = lookup_tlsa(t->dns, a->canonical, t->nh.port, &h->rr,
                                   &h->ans, &absent);
                if (h->n != 0 || !absent)
                        return;
        }
        h->base = a->host;
        h->n = lookup_tlsa(t->dns, a->host, t->nh.port, &h->rr, &h->ans, NULL);
}

/* reconnect - -r: offer the saved session to the same address after the
 * delay; 0 when the reconnection met the requirements (resumed or not),
 * 1 when not */
static int reconnect(const struct conf *cf, const struct finger_opts *o,
                     const struct target *t, struct tls_ctx *ctx,
                     struct tls_start *st, bool auth, const unsigned char *sess,
                     size_t sess_len)
{
        struct probe p = {.fd = -1};
        int status = 1;

        if (sess == NULL) {
                say("Server declined session caching. Done reconnecting.");
                return 0;
        }
        say("%s: save session to memory cache (%zu bytes)", t->relay, sess_len);
        say("Reconnecting after %d seconds", o->reconnect);
        sleep((unsigned)o->reconnect);
        st->session = sess;
        st->session_len = sess_len;
        int rc = open_session(cf, o, t, ctx, st, &p);
        st->session = NULL;
        st->session_len = 0;
        if (rc == 0) {
                const struct tls_info *in = tls_conn_info(p.tls);
                struct strbuf sum;
                say(in->reused ? "%s: Reusing old session"
                               : "%s: session not reused: full handshake",
                    t->relay);
                strbuf_init(&sum);
                tls_conn_summary(p.tls, &sum);
                if (o->log & FLOG_SUMMARY)
                        say("%s", strbuf_cstr(&sum));
                strbuf_clear(&sum);
                status = !auth || in->verified ? 0 : 1;
        } else if (rc == 1) {
                status = 1; /* STARTTLS offered before, not now */
        }
        close_session(cf, o, &p, NULL, NULL);
        return status;
}

/* probe_one - the selected address: its TLSA records, the connection, the
 * chain and what matched; 0 when the level's requirements were met, 1
 * when not */
static int probe_one(const struct conf *cf, const struct finger_opts *o,
                     struct target *t, const struct finger_addr *a,
                     enum smtp_tls_level level, struct tls_ctx *ctx,
                     struct host_tlsa *ht)
{
        struct probe p = {.fd = -1};
        struct strbuf ml;
        int ntlsa = 0, status = 1, rc;
        const char *base = t->host;
        const struct tls_tlsa_rr *tlsa = NULL;
        unsigned char *sess = NULL;
        size_t sess_len = 0;

        strbuf_init(&ml);

        /* DANE: records only from secure MX, address and TLSA answers */
        if ((level == SMTP_TLS_DANE || level == SMTP_TLS_DANE_ONLY) && t->dns &&
            t->mx_secure && t->addr_secure) {
                host_tlsa_lookup(t, a, ht);
                if (ht->n < 0) {
                        say("TLSA lookup failed: a DANE client defers");
                        goto verdict;
                }
                ntlsa = ht->n;
                tlsa = ht->rr;
                base = ht->base;
        }
        if (level == SMTP_TLS_DANE && ntlsa == 0)
                level = SMTP_TLS_SECURE; /* as posttls-finger */
        if (level == SMTP_TLS_DANE_ONLY && ntlsa == 0) {
                say("no usable TLSA records: dane-only cannot be met");
                goto verdict;
        }
        for (size_t i = 0; i < o->match.n; i++)
                strbuf_printf(&ml, "%s%s", i ? ":" : "", o->match.v[i]);
        struct tls_match m = {
            .match = ml.len ? ml.s
                     : level == SMTP_TLS_VERIFY
                         ? cf->smtp_tls_verify_cert_match
                         : cf->smtp_tls_secure_cert_match,
            .nexthop = t->nh.host,
            .hostname = t->host,
            .single_label_wildcards = !cf->tls_wildcard_matches_multiple_labels,
        };
        bool auth = level >= SMTP_TLS_VERIFY ||
                    (level == SMTP_TLS_DANE && ntlsa > 0) ||
                    level == SMTP_TLS_DANE_ONLY;
        struct tls_start st = {
            .sni = ntlsa > 0 ? base : NULL, /* RFC 7672 section 8.1 */
            .match = level >= SMTP_TLS_VERIFY ? &m : NULL,
            .tlsa = tlsa,
            .ntlsa = (size_t)ntlsa,
            .dane_base = base,
            .dane_hostname = t->host,
            .loglevel = -1,
        };
        rc = open_session(cf, o, t, ctx, &st, &p);
        if (rc == 1) {
                status = level <= SMTP_TLS_MAY ? 0 : 1;
        } else if (rc == 0) {
                struct strbuf sum;
                print_chain(p.tls, t->relay, o->write_pem, o->log);
                strbuf_init(&sum);
                tls_conn_summary(p.tls, &sum);
                if (o->log & FLOG_SUMMARY)
                        say("%s", strbuf_cstr(&sum));
                strbuf_clear(&sum);
                status = !auth || tls_conn_info(p.tls)->verified ? 0 : 1;
        }
        close_session(cf, o, &p, o->reconnect > 0 && rc == 0 ? &sess : NULL,
                      &sess_len);
        if (o->reconnect > 0 && rc == 0 &&
            reconnect(cf, o, t, ctx, &st, auth, sess, sess_len) != 0)
                status = 1;
        free(sess);
verdict:
        say("%s: %s level requirements %s", t->relay,
            smtp_tls_level_name(level), status == 0 ? "met" : "NOT met");
        strbuf_clear(&ml);
        return status;
}

/* probe - every address asked for (-m); the exit status */
static int probe(const struct conf *cf, const struct finger_opts *o,
                 const char *dest)
{
        struct target t;
        enum smtp_tls_level level;
        struct tls_ctx *ctx = NULL;
        struct host_tlsa ht = {0};
        size_t limit = (size_t)o->max_probes, met = 0;
        int status = 1, rc;

        if (smtp_tls_level_parse(o->level, &level) < 0) {
                fprintf(stderr, "postern finger: unknown level %s\n", o->level);
                return 2;
        }
        if (cf->smtp_mx_address_limit > 0 &&
            (long long)limit > cf->smtp_mx_address_limit)
                limit = (size_t)cf->smtp_mx_address_limit;
        if ((rc = target_resolve(cf, dest, o->timeout, limit, &t)) != 0) {
                status = rc == 2 ? 2 : 1;
                goto out;
        }
        if ((ctx = client_ctx(cf, o)) == NULL)
                goto out;
        for (size_t i = 0; i < t.n; i++) {
                target_select(&t, i);
                if (t.n > 1)
                        say("probe %zu of %zu: %s", i + 1, t.n, t.relay);
                if (probe_one(cf, o, &t, &t.v[i], level, ctx, &ht) == 0)
                        met++;
        }
        if (t.n > 1)
                say("%zu of %zu probed addresses met the level's requirements",
                    met, t.n);
        status = met == t.n ? 0 : 1;
out:
        host_tlsa_clear(&ht);
        tls_ctx_free(ctx);
        target_clear(&t);
        return status;
}

/* record_matches - whether one TLSA record matches a certificate */
static bool record_matches(const struct tls_tlsa_rr *r,
                           const struct tls_cert *c)
{
        unsigned char *data;
        size_t len;
        const char *err;
        bool ok;

        if (tls_tlsa_data(c, r->selector, r->mtype, &data, &len, &err) < 0)
                return false;
        ok = len == r->len && memcmp(data, r->data, len) == 0;
        free(data);
        return ok;
}

/* covers - whether a record matches a chain (or key) in the DANE sense:
 * usage 3 the leaf, usage 2 a CA certificate */
static bool covers(const struct tls_tlsa_rr *r, const struct tls_certlist *l,
                   const struct tls_key *key)
{
        size_t n = l ? tls_certlist_count(l) : 0;

        if (n == 0 && key && r->usage == 3 && r->selector == 1) {
                unsigned char *data;
                size_t len;
                const char *err;
                bool ok = false;
                if (tls_tlsa_key_data(key, r->mtype, &data, &len, &err) == 0) {
                        ok = len == r->len && memcmp(data, r->data, len) == 0;
                        free(data);
                }
                return ok;
        }
        for (size_t i = 0; i < n; i++) {
                const struct tls_cert *c = tls_certlist_get(l, i);
                if (r->usage == 3 && i > 0)
                        break;
                if (r->usage == 2 && !tls_cert_is_ca(c, NULL))
                        continue;
                if (record_matches(r, c))
                        return true;
        }
        return false;
}

/* cli_tlsa_check - postern tlsa --check: the published records against
 * the served chain, and a planned certificate or key against the records */
int cli_tlsa_check(const struct cli_common *common, const char *dest,
                   const char *next_file, bool implicit, int timeout)
{
        struct finger_opts o = {.level = "dane",
                                .ctimeout = timeout,
                                .timeout = timeout,
                                .max_probes = 1,
                                .reconnect = -1,
                                .implicit = implicit};
        struct conf *cf = NULL;
        struct target t;
        struct tls_tlsa_rr *tlsa = NULL;
        struct dns_answer *ans = NULL;
        struct tls_ctx *ctx = NULL;
        struct probe p = {.fd = -1};
        char *err = NULL;
        int ntlsa, rc, status = 1;

        if (conf_load(common->config_dir, &common->overrides, &cf, &err) < 0) {
                fprintf(stderr, "postern tlsa: %s\n", err);
                free(err);
                return 2;
        }
        if ((rc = target_resolve(cf, dest, timeout, 1, &t)) != 0) {
                status = rc == 2 ? 2 : 1;
                goto out;
        }
        if (!t.mx_secure || !t.addr_secure)
                say("warning: the %s lookup of %s is not DNSSEC-secure: DANE "
                    "clients ignore its TLSA records",
                    t.mx_secure ? "address" : "MX", t.host);
        ntlsa = t.dns ? lookup_tlsa(t.dns, t.host, t.nh.port, &tlsa, &ans, NULL)
                      : -1;
        if (ntlsa <= 0) {
                say(ntlsa < 0 ? "TLSA lookup failed: DANE clients defer mail "
                                "to %s"
                              : "no usable DNSSEC-secure TLSA records for %s",
                    t.host);
                goto out;
        }
        /* the chain the server serves now */
        if ((ctx = client_ctx(cf, &o)) == NULL)
                goto out;
        struct tls_start st = {.sni = t.host, .loglevel = -1};
        if (open_session(cf, &o, &t, ctx, &st, &p) != 0)
                goto out_session;
        struct tls_certlist *served = tls_conn_peer_chain(p.tls);
        bool ok = false;
        for (int i = 0; i < ntlsa; i++) {
                bool m = covers(&tlsa[i], served, NULL);
                say("TLSA %u %u %u %s the served chain", tlsa[i].usage,
                    tlsa[i].selector, tlsa[i].mtype,
                    m ? "matches" : "does not match");
                ok |= m;
        }
        say(ok ? "the served certificate matches the published TLSA records"
               : "NO published TLSA record matches the served certificate: "
                 "DANE clients defer mail to %s",
            t.relay);
        status = ok ? 0 : 1;

        if (next_file) {
                struct tls_pass pass = {0};
                struct tls_certlist *next = NULL;
                const char *lerr = NULL;
                if (tls_certlist_load(next_file, &pass, &next, &lerr) < 0) {
                        fprintf(stderr, "postern tlsa: %s\n", lerr);
                        status = 2;
                } else {
                        bool covered = false;
                        uint32_t ttl = 0;
                        for (size_t i = 0; i < ans->n; i++)
                                ttl =
                                    ans->rr[i].ttl > ttl ? ans->rr[i].ttl : ttl;
                        for (int i = 0; i < ntlsa && !covered; i++)
                                covered = covers(&tlsa[i], next,
                                                 tls_certlist_key(next));
                        if (covered) {
                                say("%s is already covered by the published "
                                    "records: it can be put in service",
                                    next_file);
                        } else {
                                unsigned char *data = NULL;
                                size_t len = 0;
                                const char *e = NULL;
                                int r2 = tls_certlist_count(next) > 0
                                             ? tls_tlsa_data(
                                                   tls_certlist_get(next, 0), 1,
                                                   1, &data, &len, &e)
                                             : tls_tlsa_key_data(
                                                   tls_certlist_key(next), 1,
                                                   &data, &len, &e);
                                say("%s is NOT covered by the published "
                                    "records: publish this record and wait "
                                    "two TTLs (%u s) before you switch:",
                                    next_file, 2 * ttl);
                                if (r2 == 0) {
                                        struct strbuf hx;
                                        strbuf_init(&hx);
                                        for (size_t k = 0; k < len; k++)
                                                strbuf_printf(&hx, "%02x",
                                                              data[k]);
                                        printf("_%u._tcp.%s. %u IN TLSA 3 1 1 "
                                               "%s\n",
                                               t.nh.port, t.host,
                                               ttl ? ttl : 3600,
                                               strbuf_cstr(&hx));
                                        strbuf_clear(&hx);
                                        free(data);
                                }
                                status = 1;
                        }
                        tls_certlist_free(next);
                }
        }
        tls_certlist_free(served);
out_session:
        close_session(cf, &o, &p, NULL, NULL);
out:
        tls_ctx_free(ctx);
        free(tlsa);
        dns_answer_free(ans);
        target_clear(&t);
        conf_free(cf);
        return status;
}

/* finger_count - a decimal number >= min (and <= 3600) from an option */
static int finger_count(const char *arg, int min, int *out)
{
        char *end;
        long v;

        errno = 0;
        v = strtol(arg, &end, 10);
        if (errno || end == arg || *end || v < min || v > 3600)
                return -1;
        *out = (int)v;
        return 0;
}

/* cmd_finger - the subcommand */
int cmd_finger(int argc, char **argv)
{
        static const struct option longopts[] = {
            {"implicit-tls", no_argument, NULL, 'I'},
            {NULL, 0, NULL, 0},
        };
        struct cli_common common;
        struct finger_opts o = {.level = "dane",
                                .ctimeout = 30,
                                .timeout = 30,
                                .max_probes = 1,
                                .reconnect = -1,
                                .log = FLOG_DEFAULT};
        struct conf *cf = NULL;
        char *err = NULL;
        int ch, bad = 0, rc;

        if (cli_wants_help(argc, argv)) {
                printf("usage: %s\n\n%s", finger_usage, finger_help);
                return 0;
        }
        cli_common_init(&common);
        optind = 1;
        while ((ch = getopt_long(argc, argv, "c:o:l:F:P:p:t:T:wL:m:r:",
                                 longopts, NULL)) != -1) {
                switch (ch) {
                case 'l':
                        o.level = optarg;
                        break;
                case 'F':
                        o.cafile = optarg;
                        break;
                case 'P':
                        o.capath = optarg;
                        break;
                case 'p':
                        o.protocols = optarg;
                        break;
                case 't':
                        o.ctimeout = atoi(optarg) > 0 ? atoi(optarg) : 30;
                        break;
                case 'T':
                        o.timeout = atoi(optarg) > 0 ? atoi(optarg) : 30;
                        break;
                case 'w':
                        o.write_pem = true;
                        break;
                case 'm':
                        if (finger_count(optarg, 1, &o.max_probes) < 0) {
                                cli_common_clear(&common);
                                return cli_usage("finger", finger_usage,
                                                 "-m needs a count of 1 or "
                                                 "more");
                        }
                        break;
                case 'r':
                        if (finger_count(optarg, 0, &o.reconnect) < 0) {
                                cli_common_clear(&common);
                                return cli_usage("finger", finger_usage,
                                                 "-r needs a delay in "
                                                 "seconds");
                        }
                        break;
                case 'L': {
                        char *word = NULL;
                        if (finger_log_parse(optarg, &o.log, &word) < 0) {
                                cli_common_clear(&common);
                                rc = cli_usage("finger", finger_usage,
                                               "-L: unknown name \"%s\"", word);
                                free(word);
                                return rc;
                        }
                        break;
                }
                case 'I':
                        o.implicit = true;
                        break;
                default:
                        if (cli_common_opt(&common, ch, optarg, &bad) == 0)
                                break;
                        cli_common_clear(&common);
                        return cli_usage("finger", finger_usage,
                                         bad ? NULL : "bad option");
                }
        }
        if (optind >= argc) {
                cli_common_clear(&common);
                return cli_usage("finger", finger_usage,
                                 "a destination is needed");
        }
        if (conf_load(common.config_dir, &common.overrides, &cf, &err) < 0) {
                fprintf(stderr, "postern finger: %s\n", err);
                free(err);
                cli_common_clear(&common);
                return 2;
        }
        log_also_stderr(false);
        for (int i = optind + 1; i < argc; i++)
                strlist_push(&o.match, argv[i]);
        rc = probe(cf, &o, argv[optind]);
        strlist_clear(&o.match);
        conf_free(cf);
        cli_common_clear(&common);
        return rc;
}

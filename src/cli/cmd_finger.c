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
    "       [--implicit-tls] [-w] DESTINATION [MATCH...]";

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
    "  --implicit-tls  TLS from the first byte (port 465)\n"
    "  -w              write the server's chain as PEM to stdout\n"
    "\n"
    "DNS uses dns_resolver_addresses and dnssec_trust_anchor_file.\n"
    "Exit status: 0 the level's requirements were met, 1 they were\n"
    "not (or the server could not be reached), 2 usage.\n";

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

/* first_addr - the first A (then AAAA) address of host */
static char *first_addr(struct dns_resolver *dns, const char *host,
                        bool *secure)
{
        static const int types[] = {DNS_T_A, DNS_T_AAAA};
        char *found = NULL;
        unsigned char tmp[16];

        if (inet_pton(AF_INET, host, tmp) == 1 ||
            inet_pton(AF_INET6, host, tmp) == 1) {
                *secure = false;
                return xstrdup(host);
        }
        for (size_t t = 0; t < 2 && found == NULL; t++) {
                struct dns_answer *ans = NULL;
                char *err = NULL;
                if (dns == NULL ||
                    dns_query_sync(dns, host, types[t], &ans, &err) < 0) {
                        free(err);
                        continue;
                }
                say("%s %s: %s (%s)", host, t ? "AAAA" : "A",
                    dns_result_name(ans->result),
                    dns_security_name(ans->security));
                if (ans->result == DNS_OK && ans->n > 0 && ans->rr[0].addr) {
                        found = xstrdup(ans->rr[0].addr);
                        *secure = ans->security == DNS_SEC_SECURE;
                }
                dns_answer_free(ans);
        }
        return found;
}

/* print_chain - depth, subject, issuer and fingerprints */
static void print_chain(const struct tls_conn *tls, const char *relay,
                        bool write_pem)
{
        struct tls_certlist *chain = tls_conn_peer_chain(tls);
        const struct tls_info *in = tls_conn_info(tls);

        if (chain == NULL)
                return;
        for (size_t i = 0; i < tls_certlist_count(chain); i++) {
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
        if (in->dane && in->dane_depth >= 0)
                say("%s: depth=%d matched %s", relay, in->dane_depth,
                    in->dane_match);
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
        bool implicit, write_pem;
        struct strlist match;
};

/* lookup_tlsa - the usable records of _port._tcp.host; returns the
 * number of records kept, -1 on a failed or bogus lookup */
static int lookup_tlsa(struct dns_resolver *dns, const char *host,
                       unsigned port, struct tls_tlsa_rr **out,
                       struct dns_answer **keep)
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

/* The destination a probe talks to. */
struct target {
        struct smtp_nexthop nh;
        struct dns_resolver *dns;
        char *host, *addr;
        bool mx_secure, addr_secure;
        char relay[512];
};

/* target_clear - release */
static void target_clear(struct target *t)
{
        dns_resolver_free(t->dns);
        free(t->host);
        free(t->addr);
        smtp_nexthop_clear(&t->nh);
}

/* target_resolve - the first MX host (or the host) and its first address,
 * with the DNSSEC status of both answers; 0, -1 (said why), 2 usage */
static int target_resolve(const struct conf *cf, const char *dest, int timeout,
                          struct target *t)
{
        const char *errstr;
        char *err = NULL;

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
        t->host = xstrdup(t->nh.host);
        if (!t->nh.no_mx && t->dns) {
                struct dns_answer *mx = NULL;
                if (dns_query_sync(t->dns, t->nh.host, DNS_T_MX, &mx, &err) ==
                    0) {
                        say("%s MX: %s (%s)", t->nh.host,
                            dns_result_name(mx->result),
                            dns_security_name(mx->security));
                        t->mx_secure = mx->security == DNS_SEC_SECURE;
                        unsigned best = 65536;
                        for (size_t i = 0; i < mx->n; i++) {
                                say("  MX %u %s", mx->rr[i].pref,
                                    mx->rr[i].host);
                                if (mx->rr[i].pref < best && mx->rr[i].host &&
                                    *mx->rr[i].host) {
                                        best = mx->rr[i].pref;
                                        free(t->host);
                                        t->host = xstrdup(mx->rr[i].host);
                                }
                        }
                        bool failed = mx->security == DNS_SEC_BOGUS ||
                                      mx->result == DNS_SERVFAIL;
                        dns_answer_free(mx);
                        if (failed) {
                                say("MX lookup failed: not probing");
                                return -1;
                        }
                } else {
                        free(err);
                }
        }
        t->addr = first_addr(t->dns, t->host, &t->addr_secure);
        if (t->addr == NULL) {
                say("%s: no address", t->host);
                return -1;
        }
        if (t->nh.no_mx)
                t->mx_secure = t->addr_secure;
        snprintf(t->relay, sizeof(t->relay), "%s[%s]:%u", t->host, t->addr,
                 t->nh.port);
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
            .dane_digests = cf->tls_dane_digests,
            .loglevel = 1,
            .session_cache_timeout = 0,
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

/* close_session - EHLO again (as the client would), QUIT, free */
static void close_session(const struct conf *cf, const struct finger_opts *o,
                          struct probe *p)
{
        if (p->tls && tls_conn_info(p->tls)) {
                struct smtp_reply r;
                smtp_reply_init(&r);
                if (!o->implicit) {
                        char ehlo[300];
                        snprintf(ehlo, sizeof(ehlo), "EHLO %s",
                                 cf->smtp_helo_name);
                        (void)p_send(p, ehlo);
                        (void)p_reply(p, &r);
                }
                (void)p_send(p, "QUIT");
                smtp_reply_clear(&r);
        }
        tls_conn_free(p->tls);
        p->tls = NULL;
        if (p->fd >= 0)
                close(p->fd);
        p->fd = -1;
}

/* probe - the whole conversation; the exit status */
static int probe(const struct conf *cf, const struct finger_opts *o,
                 const char *dest)
{
        struct target t;
        enum smtp_tls_level level;
        struct tls_tlsa_rr *tlsa = NULL;
        struct dns_answer *tlsa_ans = NULL;
        struct tls_ctx *ctx = NULL;
        struct probe p = {.fd = -1};
        struct strbuf ml;
        int ntlsa = 0, status = 1, rc;

        if (smtp_tls_level_parse(o->level, &level) < 0) {
                fprintf(stderr, "postern finger: unknown level %s\n", o->level);
                return 2;
        }
        strbuf_init(&ml);
        if ((rc = target_resolve(cf, dest, o->timeout, &t)) != 0) {
                status = rc == 2 ? 2 : 1;
                goto out;
        }
        /* DANE: records only from secure MX, address and TLSA answers */
        if ((level == SMTP_TLS_DANE || level == SMTP_TLS_DANE_ONLY) && t.dns &&
            t.mx_secure && t.addr_secure) {
                ntlsa = lookup_tlsa(t.dns, t.host, t.nh.port, &tlsa, &tlsa_ans);
                if (ntlsa < 0) {
                        say("TLSA lookup failed: a DANE client defers");
                        goto out;
                }
        }
        if (level == SMTP_TLS_DANE && ntlsa == 0)
                level = SMTP_TLS_SECURE; /* as posttls-finger */
        if (level == SMTP_TLS_DANE_ONLY && ntlsa == 0) {
                say("no usable TLSA records: dane-only cannot be met");
                goto out;
        }
        if ((ctx = client_ctx(cf, o)) == NULL)
                goto out;
        for (size_t i = 0; i < o->match.n; i++)
                strbuf_printf(&ml, "%s%s", i ? ":" : "", o->match.v[i]);
        struct tls_match m = {
            .match = ml.len ? ml.s
                     : level == SMTP_TLS_VERIFY
                         ? cf->smtp_tls_verify_cert_match
                         : cf->smtp_tls_secure_cert_match,
            .nexthop = t.nh.host,
            .hostname = t.host,
            .single_label_wildcards = !cf->tls_wildcard_matches_multiple_labels,
        };
        bool auth = level >= SMTP_TLS_VERIFY ||
                    (level == SMTP_TLS_DANE && ntlsa > 0) ||
                    level == SMTP_TLS_DANE_ONLY;
        struct tls_start st = {
            .sni = ntlsa > 0 ? t.host : NULL,
            .match = level >= SMTP_TLS_VERIFY ? &m : NULL,
            .tlsa = tlsa,
            .ntlsa = (size_t)(ntlsa > 0 ? ntlsa : 0),
            .dane_base = t.host,
            .dane_hostname = t.host,
            .loglevel = -1,
        };
        rc = open_session(cf, o, &t, ctx, &st, &p);
        if (rc == 1) {
                status = level <= SMTP_TLS_MAY ? 0 : 1;
        } else if (rc == 0) {
                struct strbuf sum;
                print_chain(p.tls, t.relay, o->write_pem);
                strbuf_init(&sum);
                tls_conn_summary(p.tls, &sum);
                say("%s", strbuf_cstr(&sum));
                strbuf_clear(&sum);
                status = !auth || tls_conn_info(p.tls)->verified ? 0 : 1;
        }
        close_session(cf, o, &p);
out:
        strbuf_clear(&ml);
        tls_ctx_free(ctx);
        free(tlsa);
        dns_answer_free(tlsa_ans);
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
        if ((rc = target_resolve(cf, dest, timeout, &t)) != 0) {
                status = rc == 2 ? 2 : 1;
                goto out;
        }
        if (!t.mx_secure || !t.addr_secure)
                say("warning: the %s lookup of %s is not DNSSEC-secure: DANE "
                    "clients ignore its TLSA records",
                    t.mx_secure ? "address" : "MX", t.host);
        ntlsa = t.dns ? lookup_tlsa(t.dns, t.host, t.nh.port, &tlsa, &ans) : -1;
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
        close_session(cf, &o, &p);
out:
        tls_ctx_free(ctx);
        free(tlsa);
        dns_answer_free(ans);
        target_clear(&t);
        conf_free(cf);
        return status;
}

/* cmd_finger - the subcommand */
int cmd_finger(int argc, char **argv)
{
        static const struct option longopts[] = {
            {"implicit-tls", no_argument, NULL, 'I'},
            {NULL, 0, NULL, 0},
        };
        struct cli_common common;
        struct finger_opts o = {.level = "dane", .ctimeout = 30, .timeout = 30};
        struct conf *cf = NULL;
        char *err = NULL;
        int ch, bad = 0, rc;

        if (cli_wants_help(argc, argv)) {
                printf("usage: %s\n\n%s", finger_usage, finger_help);
                return 0;
        }
        cli_common_init(&common);
        optind = 1;
        while ((ch = getopt_long(argc, argv, "c:o:l:F:P:p:t:T:wL:", longopts,
                                 NULL)) != -1) {
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
                case 'L':
                        break; /* posttls-finger compatibility: accepted */
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

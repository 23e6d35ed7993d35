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

/* probe - the whole conversation; the exit status */
static int probe(const struct conf *cf, const struct finger_opts *o,
                 const char *dest)
{
        struct smtp_nexthop nh;
        const char *errstr;
        char *err = NULL, *host = NULL, *addr = NULL;
        struct dns_resolver *dns = NULL;
        enum smtp_tls_level level;
        bool mx_secure = false, addr_secure = false;
        int status = 1;

        if (smtp_tls_level_parse(o->level, &level) < 0) {
                fprintf(stderr, "postern finger: unknown level %s\n", o->level);
                return 2;
        }
        if (smtp_nexthop_parse(dest, &nh, &errstr) < 0) {
                fprintf(stderr, "postern finger: %s: %s\n", dest, errstr);
                return 2;
        }
        struct dns_settings ds = {
            .resolvers = cf->dns_resolver_addresses,
            .trust_anchor_file = cf->dnssec_trust_anchor_file,
            .dnssec = true,
            .timeout_ms = (long)o->timeout * 1000,
        };
        if (dns_resolver_new(NULL, &ds, &dns, &err) < 0) {
                say("DNS resolver: %s (no DNSSEC)", err);
                free(err);
                dns = NULL;
        }
        host = xstrdup(nh.host);
        if (!nh.no_mx && dns) {
                struct dns_answer *mx = NULL;
                if (dns_query_sync(dns, nh.host, DNS_T_MX, &mx, &err) == 0) {
                        say("%s MX: %s (%s)", nh.host,
                            dns_result_name(mx->result),
                            dns_security_name(mx->security));
                        mx_secure = mx->security == DNS_SEC_SECURE;
                        unsigned best = 65536;
                        for (size_t i = 0; i < mx->n; i++) {
                                say("  MX %u %s", mx->rr[i].pref,
                                    mx->rr[i].host);
                                if (mx->rr[i].pref < best && mx->rr[i].host &&
                                    *mx->rr[i].host) {
                                        best = mx->rr[i].pref;
                                        free(host);
                                        host = xstrdup(mx->rr[i].host);
                                }
                        }
                        if (mx->security == DNS_SEC_BOGUS ||
                            mx->result == DNS_SERVFAIL) {
                                say("MX lookup failed: not probing");
                                dns_answer_free(mx);
                                goto out;
                        }
                        dns_answer_free(mx);
                } else {
                        free(err);
                }
        }
        addr = first_addr(dns, host, &addr_secure);
        if (addr == NULL) {
                say("%s: no address", host);
                goto out;
        }
        if (nh.no_mx)
                mx_secure = addr_secure;

        /* DANE: records only from secure MX, address and TLSA answers */
        struct tls_tlsa_rr *tlsa = NULL;
        struct dns_answer *tlsa_ans = NULL;
        int ntlsa = 0;
        if ((level == SMTP_TLS_DANE || level == SMTP_TLS_DANE_ONLY) && dns &&
            mx_secure && addr_secure) {
                ntlsa = lookup_tlsa(dns, host, nh.port, &tlsa, &tlsa_ans);
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

        char relay[512];
        snprintf(relay, sizeof(relay), "%s[%s]:%u", host, addr, nh.port);
        struct probe p = {.timeout = o->timeout, .namaddr = relay};
        struct smtp_reply r;
        smtp_reply_init(&r);
        say("Connected to %s", relay);
        p.fd = p_connect(addr, nh.port, o->ctimeout);
        if (p.fd < 0) {
                say("connect to %s: %s", relay, strerror(errno));
                goto out_tlsa;
        }
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
        const char *terr = NULL;
        struct tls_ctx *ctx = tls_client_ctx_new(&ts, &terr);
        if (ctx == NULL) {
                say("TLS: %s", terr);
                goto out_conn;
        }
        if (!o->implicit) {
                char ehlo[300];
                if (p_reply(&p, &r) < 0 || r.code != 220) {
                        say("no 220 greeting from %s", relay);
                        goto out_ctx;
                }
                snprintf(ehlo, sizeof(ehlo), "EHLO %s", cf->smtp_helo_name);
                if (p_send(&p, ehlo) < 0 || p_reply(&p, &r) < 0 ||
                    r.code != 250) {
                        say("EHLO failed at %s", relay);
                        goto out_ctx;
                }
                if (!(smtp_ehlo_features(&r, NULL) & SMTP_FEATURE_STARTTLS)) {
                        say("%s: STARTTLS not offered", relay);
                        status = level <= SMTP_TLS_MAY ? 0 : 1;
                        goto out_ctx;
                }
                if (level == SMTP_TLS_NONE) {
                        status = 0;
                        goto out_ctx;
                }
                if (p_send(&p, "STARTTLS") < 0 || p_reply(&p, &r) < 0 ||
                    r.code != 220) {
                        say("STARTTLS refused by %s", relay);
                        goto out_ctx;
                }
                p.len = 0; /* plaintext after the 220 is never trusted */
        }
        struct strbuf ml;
        strbuf_init(&ml);
        for (size_t i = 0; i < o->match.n; i++)
                strbuf_printf(&ml, "%s%s", i ? ":" : "", o->match.v[i]);
        struct tls_match m = {
            .match = ml.len ? ml.s
                     : level == SMTP_TLS_VERIFY
                         ? cf->smtp_tls_verify_cert_match
                         : cf->smtp_tls_secure_cert_match,
            .nexthop = nh.host,
            .hostname = host,
            .single_label_wildcards = !cf->tls_wildcard_matches_multiple_labels,
        };
        bool auth = level >= SMTP_TLS_VERIFY ||
                    (level == SMTP_TLS_DANE && ntlsa > 0) ||
                    level == SMTP_TLS_DANE_ONLY;
        struct tls_start st = {
            .ctx = ctx,
            .fd = p.fd,
            .namaddr = relay,
            .sni = ntlsa > 0 ? host : NULL,
            .match = level >= SMTP_TLS_VERIFY ? &m : NULL,
            .tlsa = tlsa,
            .ntlsa = (size_t)(ntlsa > 0 ? ntlsa : 0),
            .dane_base = host,
            .dane_hostname = host,
            .loglevel = -1,
        };
        if (tls_conn_start(&st, &p.tls, &terr) < 0) {
                say("TLS: %s", terr);
                strbuf_clear(&ml);
                goto out_ctx;
        }
        strbuf_clear(&ml);
        if (tls_conn_handshake(p.tls) != TLS_IO_DONE) {
                say("%s", tls_conn_error(p.tls));
                goto out_tls;
        }
        print_chain(p.tls, relay, o->write_pem);
        {
                struct strbuf sum;
                strbuf_init(&sum);
                tls_conn_summary(p.tls, &sum);
                say("%s", strbuf_cstr(&sum));
                strbuf_clear(&sum);
        }
        const struct tls_info *in = tls_conn_info(p.tls);
        status = !auth || in->verified ? 0 : 1;
        if (!o->implicit) {
                char ehlo[300];
                snprintf(ehlo, sizeof(ehlo), "EHLO %s", cf->smtp_helo_name);
                (void)p_send(&p, ehlo);
                (void)p_reply(&p, &r);
        }
        (void)p_send(&p, "QUIT");
out_tls:
        tls_conn_free(p.tls);
out_ctx:
        tls_ctx_free(ctx);
out_conn:
        close(p.fd);
        smtp_reply_clear(&r);
out_tlsa:
        free(tlsa);
        dns_answer_free(tlsa_ans);
out:
        dns_resolver_free(dns);
        free(host);
        free(addr);
        smtp_nexthop_clear(&nh);
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

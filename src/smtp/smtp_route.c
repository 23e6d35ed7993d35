/* SPDX-License-Identifier: MIT */
/*
 * smtp_route.c - next hops and addresses: "[host]:port" goes to that
 * host, a domain to its MX hosts sorted by preference (each one's A and
 * AAAA records), or to its own addresses when it has no MX (RFC 5321
 * section 5.1).  DNS is asynchronous through src/dns; without a resolver
 * only bracketed next hops work, through getaddrinfo.
 */
#include "smtp/smtp_int.h"

#include "conf/conf.h"
#include "dns/dns.h"
#include "log/log.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* One MX host. */
struct mx_host {
        char *host;
        unsigned pref;
};

/* What an attempt's lookups need between callbacks. */
struct smtp_route_state {
        struct smtp_attempt *a; /* NULL once cancelled */
        struct mx_host *mx;
        size_t nmx, cur;
        int phase;     /* 0 = A, 1 = AAAA of mx[cur] */
        bool pending;  /* a query is outstanding */
        bool any_temp; /* some lookup failed temporarily */
        size_t naddr;
        bool mx_secure;   /* the MX answer (or its denial) was secure */
        bool mx_from_dns; /* the hosts came from MX records */
};

/* smtp_nexthop_clear - release */
void smtp_nexthop_clear(struct smtp_nexthop *nh)
{
        if (nh == NULL)
                return;
        free(nh->host);
        free(nh->path);
        memset(nh, 0, sizeof(*nh));
}

/* parse_port - a decimal port 1..65535 */
static int parse_port(const char *s, unsigned *port)
{
        unsigned long v = 0;

        if (*s == 0)
                return -1;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return -1;
                v = v * 10 + (unsigned long)(*s - '0');
                if (v > 65535)
                        return -1;
        }
        if (v == 0)
                return -1;
        *port = (unsigned)v;
        return 0;
}

/* nexthop_parse - "[host]:port" and friends, port when none is given */
static int nexthop_parse(const char *s, unsigned port, struct smtp_nexthop *nh,
                         const char **errstr)
{
        const char *host, *hend, *rest;

        memset(nh, 0, sizeof(*nh));
        nh->port = port;
        if (s == NULL || *s == 0) {
                *errstr = "empty next-hop destination";
                return -1;
        }
        if (*s == '[') {
                host = s + 1;
                hend = strchr(host, ']');
                if (hend == NULL) {
                        *errstr = "missing ']' in next-hop destination";
                        return -1;
                }
                rest = hend + 1;
                nh->no_mx = true;
        } else {
                host = s;
                hend = strrchr(s, ':');
                /* An IPv6 address without brackets has several colons:
                 * the whole string is the host then. */
                if (hend && strchr(s, ':') != hend)
                        hend = NULL;
                if (hend == NULL)
                        hend = s + strlen(s);
                rest = hend;
        }
        if (hend == host) {
                *errstr = "empty host in next-hop destination";
                return -1;
        }
        if (*rest == ':') {
                if (parse_port(rest + 1, &nh->port) < 0) {
                        *errstr = "bad port in next-hop destination";
                        return -1;
                }
        } else if (*rest != 0) {
                *errstr = "garbage after ']' in next-hop destination";
                return -1;
        }
        nh->host = xstrndup(host, (size_t)(hend - host));
        for (const char *p = nh->host; *p; p++) {
                if ((unsigned char)*p <= ' ' || *p == '[' || *p == ']' ||
                    *p == '/' || (unsigned char)*p >= 0x7f) {
                        smtp_nexthop_clear(nh);
                        *errstr = "bad character in next-hop host";
                        return -1;
                }
        }
        str_lower(nh->host);
        return 0;
}

/* smtp_nexthop_parse - an SMTP next hop: port 25 unless given */
int smtp_nexthop_parse(const char *s, struct smtp_nexthop *nh,
                       const char **errstr)
{
        return nexthop_parse(s, 25, nh, errstr);
}

/* smtp_lmtp_nexthop_parse - an LMTP next hop: a unix-domain socket, or a
 * host (never an MX lookup: RFC 2033 has no MX) */
int smtp_lmtp_nexthop_parse(const char *s, unsigned port,
                            struct smtp_nexthop *nh, const char **errstr)
{
        if (s && str_has_prefix(s, "unix:")) {
                const char *path = s + 5;
                memset(nh, 0, sizeof(*nh));
                if (*path == 0) {
                        *errstr = "empty path in unix: next-hop destination";
                        return -1;
                }
                for (const char *p = path; *p; p++)
                        if ((unsigned char)*p < ' ' || *p == 0x7f) {
                                *errstr = "bad character in unix: next-hop "
                                          "path";
                                return -1;
                        }
                nh->path = xstrdup(path);
                nh->host = xstrdup(path);
                nh->no_mx = true;
                return 0;
        }
        if (s && str_has_prefix(s, "inet:"))
                s += 5;
        if (nexthop_parse(s, port, nh, errstr) < 0)
                return -1;
        nh->no_mx = true;
        return 0;
}

/* smtp_lmtp_socket_path - an LMTP socket path, relative ones under
 * queue_directory */
char *smtp_lmtp_socket_path(const struct conf *conf,
                            const struct smtp_nexthop *nh)
{
        const char *qdir = conf->queue_directory;

        if (nh->path[0] == '/')
                return xstrdup(nh->path);
        return xasprintf("%s/%s", qdir && *qdir ? qdir : ".", nh->path);
}

/* smtp_family_wanted - whether inet_protocols allows this address family */
bool smtp_family_wanted(const struct conf *conf, int family)
{
        const char *p = conf->inet_protocols ? conf->inet_protocols : "all";

        if (strstr(p, "all") || *p == 0)
                return true;
        if (family == AF_INET)
                return strstr(p, "ipv4") != NULL;
        return strstr(p, "ipv6") != NULL;
}

/* smtp_host_is_literal - whether host is a numeric IPv4 or IPv6 address */
bool smtp_host_is_literal(const char *host)
{
        unsigned char buf[16];
        const char *h = host;

        if (str_has_prefix(h, "ipv6:") || str_has_prefix(h, "IPv6:"))
                h += 5;
        return inet_pton(AF_INET, h, buf) == 1 ||
               inet_pton(AF_INET6, h, buf) == 1;
}

/* route_native - getaddrinfo for a bracketed host name (blocking: only
 * used without a resolver, as the fallback the tests run with) */
static void route_native(struct smtp_attempt *a, const char *host)
{
        struct smtp_client *c = smtp_attempt_client(a);
        struct addrinfo hints = {0}, *res = NULL;
        char buf[INET6_ADDRSTRLEN];
        int n = 0, rc;

        hints.ai_socktype = SOCK_STREAM;
        hints.ai_family = AF_UNSPEC;
        rc = getaddrinfo(host, NULL, &hints, &res);
        if (rc != 0) {
                bool perm = rc == EAI_NONAME
#ifdef EAI_NODATA
                            || rc == EAI_NODATA
#endif
                    ;
                smtp_route_failed(a, perm ? "5.4.4" : "4.4.3",
                                  "Host or domain name not found. Name service "
                                  "error for name=%s type=A: %s",
                                  host,
                                  perm ? "Host not found" : gai_strerror(rc));
                return;
        }
        for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
                const void *src;
                if (ai->ai_family == AF_INET)
                        src = &((struct sockaddr_in *)(void *)ai->ai_addr)
                                   ->sin_addr;
                else if (ai->ai_family == AF_INET6)
                        src = &((struct sockaddr_in6 *)(void *)ai->ai_addr)
                                   ->sin6_addr;
                else
                        continue;
                if (!smtp_family_wanted(c->conf, ai->ai_family))
                        continue;
                if (inet_ntop(ai->ai_family, src, buf, sizeof(buf)) == NULL)
                        continue;
                if (n >= c->conf->smtp_mx_address_limit &&
                    c->conf->smtp_mx_address_limit > 0)
                        break;
                smtp_attempt_add_addr(a, host, buf);
                n++;
        }
        freeaddrinfo(res);
        if (n == 0) {
                smtp_route_failed(a, "5.4.4",
                                  "Host or domain name not found. Name service "
                                  "error for name=%s type=A: No address "
                                  "associated with hostname",
                                  host);
                return;
        }
        smtp_route_done(a);
}

static void route_next_query(struct smtp_route_state *r);

/* route_service - the log name of a lookup's client ("smtp", "lmtp") */
static const char *route_service(void *arg)
{
        struct smtp_route_state *r = arg;

        return r->a ? smtp_attempt_client(r->a)->log_ident : "smtp";
}

/* route_detach - the attempt no longer points at its routing state */
static void route_detach(struct smtp_route_state *r)
{
        if (r->a)
                *smtp_attempt_route_slot(r->a) = NULL;
        r->a = NULL;
}

/* route_free - release the routing state */
static void route_free(struct smtp_route_state *r)
{
        for (size_t i = 0; i < r->nmx; i++)
                free(r->mx[i].host);
        free(r->mx);
        free(r);
}

/* route_advance - after a host's A (phase 0), its AAAA; after that, the
 * next host's A */
static void route_advance(struct smtp_route_state *r)
{
        if (r->phase == 0) {
                r->phase = 1;
        } else {
                r->phase = 0;
                r->cur++;
        }
}

/* addr_answered - an A or AAAA answer for mx[cur] */
static void addr_answered(void *arg, const struct dns_answer *ans)
{
        struct smtp_route_state *r = arg;

        r->pending = false;
        if (r->a == NULL) {
                route_free(r);
                return;
        }
        struct smtp_client *c = smtp_attempt_client(r->a);
        long long limit = c->conf->smtp_mx_address_limit;
        if (ans->result == DNS_OK) {
                for (size_t i = 0; i < ans->n; i++) {
                        if (limit > 0 && (long long)r->naddr >= limit)
                                break;
                        if (ans->rr[i].addr == NULL)
                                continue;
                        bool sec = ans->security == DNS_SEC_SECURE;
                        const char *canon =
                            sec && ans->canonical &&
                                    strcasecmp(ans->canonical,
                                               r->mx[r->cur].host) != 0
                                ? ans->canonical
                                : NULL;
                        /* without MX the address lookup is the one that
                         * must be secure (RFC 7672 section 2.2.1) */
                        smtp_attempt_add_addr_dnssec(
                            r->a, r->mx[r->cur].host, ans->rr[i].addr,
                            r->mx_secure ||
                                (r->nmx == 1 && sec && !r->mx_from_dns),
                            sec, canon);
                        r->naddr++;
                }
        } else if (ans->result != DNS_NXDOMAIN && ans->result != DNS_NODATA) {
                r->any_temp = true;
        }
        route_advance(r);
        route_next_query(r);
}

/* on_addr - addr_answered, its lines logged as postern/smtp (lmtp) */
static void on_addr(void *arg, const struct dns_answer *ans)
{
        const char *prev = log_service(route_service(arg));

        addr_answered(arg, ans);
        (void)log_service(prev);
}

/* route_next_query - ask for the next A/AAAA, or finish */
static void route_next_query(struct smtp_route_state *r)
{
        struct smtp_attempt *a = r->a;
        struct smtp_client *c = smtp_attempt_client(a);
        long long limit = c->conf->smtp_mx_address_limit;

        while (r->cur < r->nmx && (limit <= 0 || (long long)r->naddr < limit)) {
                int family = r->phase == 0 ? AF_INET : AF_INET6;
                if (!smtp_family_wanted(c->conf, family)) {
                        route_advance(r);
                        continue;
                }
                if (smtp_host_is_literal(r->mx[r->cur].host)) {
                        /* An MX or nexthop that is an address literal. */
                        if (r->phase == 0)
                                smtp_attempt_add_addr(a, r->mx[r->cur].host,
                                                      r->mx[r->cur].host);
                        r->phase = 0;
                        r->cur++;
                        r->naddr++;
                        continue;
                }
                r->pending = true;
                if (dns_query(c->dns, r->mx[r->cur].host,
                              family == AF_INET ? DNS_T_A : DNS_T_AAAA, on_addr,
                              r) == 0)
                        return;
                r->pending = false;
                r->any_temp = true;
                route_advance(r);
        }
        /* Done with lookups: hand the addresses over. */
        route_detach(r);
        if (r->naddr > 0) {
                route_free(r);
                smtp_route_done(a);
                return;
        }
        bool temp = r->any_temp;
        char *names = NULL;
        if (r->nmx > 0)
                names = xstrdup(r->mx[0].host);
        route_free(r);
        if (temp)
                smtp_route_failed(a, "4.4.3",
                                  "Host or domain name not found. Name service "
                                  "error for name=%s type=A: Host not found, "
                                  "try again",
                                  names ? names : "");
        else
                smtp_route_failed(a, "5.4.4",
                                  "Host or domain name not found. Name service "
                                  "error for name=%s type=A: Host not found",
                                  names ? names : "");
        free(names);
}

/* mx_cmp - by preference, stable enough (ties keep DNS order: qsort is
 * not stable, so the index breaks ties) */
static int mx_cmp(const void *x, const void *y)
{
        const struct mx_host *p = x, *q = y;
        if (p->pref != q->pref)
                return p->pref < q->pref ? -1 : 1;
        return 0;
}

/* mx_answered - the MX answer of a domain */
static void mx_answered(void *arg, const struct dns_answer *ans)
{
        struct smtp_route_state *r = arg;

        r->pending = false;
        if (r->a == NULL) {
                route_free(r);
                return;
        }
        struct smtp_attempt *a = r->a;
        const struct smtp_nexthop *nh = smtp_attempt_nexthop(a);
        r->mx_secure = ans->security == DNS_SEC_SECURE;
        switch (ans->result) {
        case DNS_OK:
                r->mx_from_dns = true;
                for (size_t i = 0; i < ans->n; i++) {
                        const char *h = ans->rr[i].host;
                        if (h == NULL)
                                continue;
                        if (*h == 0 || strcmp(h, ".") == 0) {
                                if (ans->n == 1) { /* RFC 7505 null MX */
                                        route_detach(r);
                                        route_free(r);
                                        smtp_route_failed(
                                            a, "5.1.10",
                                            "Domain %s does not accept mail "
                                            "(nullMX)",
                                            nh->host);
                                        return;
                                }
                                continue;
                        }
                        r->mx =
                            xreallocarray(r->mx, r->nmx + 1, sizeof(*r->mx));
                        r->mx[r->nmx].host = str_lower(xstrdup(h));
                        r->mx[r->nmx].pref = ans->rr[i].pref;
                        r->nmx++;
                }
                /* insertion sort keeps equal preferences in DNS order */
                for (size_t i = 1; i < r->nmx; i++) {
                        struct mx_host t = r->mx[i];
                        size_t j = i;
                        while (j > 0 && mx_cmp(&r->mx[j - 1], &t) > 0) {
                                r->mx[j] = r->mx[j - 1];
                                j--;
                        }
                        r->mx[j] = t;
                }
                break;
        case DNS_NODATA:
                /* RFC 5321 5.1: no MX, the domain is its own host. */
                r->mx = xcalloc(1, sizeof(*r->mx));
                r->mx[0].host = xstrdup(nh->host);
                r->nmx = 1;
                break;
        case DNS_NXDOMAIN:
                route_detach(r);
                route_free(r);
                smtp_route_failed(a, "5.4.4",
                                  "Host or domain name not found. Name service "
                                  "error for name=%s type=MX: Host not found",
                                  nh->host);
                return;
        default:
                route_detach(r);
                route_free(r);
                smtp_route_failed(a, "4.4.3",
                                  "Host or domain name not found. Name service "
                                  "error for name=%s type=MX: Host not found, "
                                  "try again",
                                  nh->host);
                return;
        }
        route_next_query(r);
}

/* on_mx - mx_answered, its lines logged as postern/smtp (lmtp) */
static void on_mx(void *arg, const struct dns_answer *ans)
{
        const char *prev = log_service(route_service(arg));

        mx_answered(arg, ans);
        (void)log_service(prev);
}

/* smtp_route_start - resolve the next hop of an attempt */
void smtp_route_start(struct smtp_attempt *a)
{
        struct smtp_client *c = smtp_attempt_client(a);
        const struct smtp_nexthop *nh = smtp_attempt_nexthop(a);
        struct smtp_route_state *r;

        if (smtp_host_is_literal(nh->host)) {
                const char *h = nh->host;
                if (str_has_prefix(h, "ipv6:"))
                        h += 5;
                smtp_attempt_add_addr(a, h, h);
                smtp_route_done(a);
                return;
        }
        if (c->dns == NULL) {
                if (nh->no_mx) {
                        route_native(a, nh->host);
                        return;
                }
                smtp_route_failed(a, "4.3.5",
                                  "MX lookup for %s: no DNS resolver is "
                                  "configured",
                                  nh->host);
                return;
        }
        r = xcalloc(1, sizeof(*r));
        r->a = a;
        *smtp_attempt_route_slot(a) = r;
        if (nh->no_mx) {
                r->mx = xcalloc(1, sizeof(*r->mx));
                r->mx[0].host = xstrdup(nh->host);
                r->nmx = 1;
                route_next_query(r);
                return;
        }
        r->pending = true;
        if (dns_query(c->dns, nh->host, DNS_T_MX, on_mx, r) < 0) {
                route_detach(r);
                route_free(r);
                smtp_route_failed(a, "4.3.0", "cannot send DNS query for %s",
                                  nh->host);
        }
}

/* smtp_route_cancel - the attempt goes away before its lookups finish */
void smtp_route_cancel(struct smtp_attempt *a)
{
        struct smtp_route_state **slot = smtp_attempt_route_slot(a);
        struct smtp_route_state *r = *slot;

        *slot = NULL;
        if (r == NULL)
                return;
        if (r->a == NULL) /* already handed over */
                return;
        r->a = NULL;
        if (!r->pending)
                route_free(r);
        /* else the callback (or the resolver's end) frees it */
}

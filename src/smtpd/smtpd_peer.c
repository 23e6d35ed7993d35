/* SPDX-License-Identifier: MIT */
/*
 * smtpd_peer.c - the client's host name, as Postfix's smtpd finds it
 * (smtpd_peername_lookup): the PTR record of the address, then the
 * addresses of that name, which must include the client's.  A name that
 * does not lead back to the address is not believed: the client is
 * "unknown", though the PTR name stays the reverse_client_name.  The
 * lookups go through the embedder's DNS (the one the restrictions use),
 * which answers PENDING until it knows, so the whole decision is simply
 * taken again once an answer comes in.
 */
#include "smtpd/smtpd_int.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"

/* smtpd_reverse_name - the octets of addr (IPv6: its nibbles) reversed,
 * then domain; NULL when addr is no address */
char *smtpd_reverse_name(const char *addr, const char *domain)
{
        unsigned char b[16];
        struct strbuf n;

        strbuf_init(&n);
        if (inet_pton(AF_INET, addr, b) == 1) {
                strbuf_printf(&n, "%u.%u.%u.%u.%s", b[3], b[2], b[1], b[0],
                              domain);
        } else if (inet_pton(AF_INET6, addr, b) == 1) {
                for (int i = 15; i >= 0; i--)
                        strbuf_printf(&n, "%x.%x.", b[i] & 15, b[i] >> 4);
                strbuf_adds(&n, domain);
        } else {
                return NULL;
        }
        return strbuf_detach(&n);
}

/* numeric - a name that reads as an address: a PTR record must not make
 * a client look like another address in logs and access tables */
static bool numeric(const char *name)
{
        unsigned char b[16];
        int family;

        return smtpd_addr_parse(name, &family, b) == 0;
}

/* same_addr - whether two address strings name the same address */
static bool same_addr(const char *a, const char *b)
{
        unsigned char x[16], y[16];
        int fa, fb;

        return smtpd_addr_parse(a, &fa, x) == 0 &&
               smtpd_addr_parse(b, &fb, y) == 0 && fa == fb &&
               memcmp(x, y, fa == AF_INET6 ? 16 : 4) == 0;
}

/* set - the outcome */
static void set(struct smtpd_peer *p, const char *name,
                enum smtpd_peer_status ns, const char *reverse,
                enum smtpd_peer_status rs)
{
        smtpd_peer_clear(p);
        p->name = xstrdup(name);
        p->name_status = ns;
        p->reverse = xstrdup(reverse);
        p->reverse_status = rs;
}

/* smtpd_peer_lookup - the client at addr named from DNS answers */
enum smtpd_dns_state smtpd_peer_lookup(const char *addr, smtpd_dns_fn dns,
                                       void *arg, struct smtpd_peer *p)
{
        bool v6 = strchr(addr, ':') != NULL;
        char *q = smtpd_reverse_name(addr, v6 ? "ip6.arpa" : "in-addr.arpa");
        const char *const *v;
        size_t n;
        enum smtpd_dns_state st;

        if (q == NULL) {
                set(p, "unknown", SMTPD_PEER_PERM, "unknown", SMTPD_PEER_PERM);
                return SMTPD_DNS_FOUND;
        }
        st = dns(arg, q, DNS_T_PTR, &v, &n);
        free(q);
        if (st == SMTPD_DNS_PENDING)
                return st;
        if (st != SMTPD_DNS_FOUND || n == 0 || *v[0] == 0) {
                enum smtpd_peer_status s = st == SMTPD_DNS_TEMPFAIL
                                               ? SMTPD_PEER_TEMP
                                               : SMTPD_PEER_PERM;
                set(p, "unknown", s, "unknown", s);
                return SMTPD_DNS_FOUND;
        }
        /* as getnameinfo, the first name; one that is an address or no
         * host name is no name at all */
        const char *ptr = v[0];
        bool num = numeric(ptr);
        if (num || !smtpd_valid_hostname(ptr) || ptr[0] == '[') {
                set(p, "unknown", SMTPD_PEER_PERM, "unknown", SMTPD_PEER_PERM);
                p->warning =
                    xasprintf("%s: %s hostname from the PTR record: "
                              "%.100s",
                              addr, num ? "numeric" : "malformed", ptr);
                return SMTPD_DNS_FOUND;
        }
        char *name = xstrdup(ptr); /* v is the DNS's, replaced below */
        st = dns(arg, name, v6 ? DNS_T_AAAA : DNS_T_A, &v, &n);
        if (st == SMTPD_DNS_PENDING) {
                free(name);
                return st;
        }
        size_t i = 0;
        while (st == SMTPD_DNS_FOUND && i < n && !same_addr(addr, v[i]))
                i++;
        if (st == SMTPD_DNS_FOUND && i < n) {
                set(p, name, SMTPD_PEER_OK, name, SMTPD_PEER_OK);
        } else if (st == SMTPD_DNS_FOUND) {
                set(p, "unknown", SMTPD_PEER_PERM, name, SMTPD_PEER_OK);
                p->warning = xasprintf(
                    "hostname %s does not resolve to address %s", name, addr);
        } else {
                /* glibc's words for EAI_AGAIN and EAI_NONAME, as in
                 * Postfix's line */
                bool temp = st == SMTPD_DNS_TEMPFAIL;
                set(p, "unknown", temp ? SMTPD_PEER_TEMP : SMTPD_PEER_PERM,
                    name, SMTPD_PEER_OK);
                p->warning =
                    xasprintf("hostname %s does not resolve to address %s: %s",
                              name, addr,
                              temp ? "Temporary failure in name resolution"
                                   : "Name or service not known");
        }
        free(name);
        return SMTPD_DNS_FOUND;
}

/* smtpd_peer_unknown - a client not looked up (smtpd_peername_lookup =
 * no) */
void smtpd_peer_unknown(struct smtpd_peer *p)
{
        set(p, "unknown", SMTPD_PEER_PERM, "unknown", SMTPD_PEER_PERM);
}

/* smtpd_peer_clear - free the names */
void smtpd_peer_clear(struct smtpd_peer *p)
{
        free(p->name);
        free(p->reverse);
        free(p->warning);
        p->name = p->reverse = p->warning = NULL;
}

/* smtpd_peer_copy - *to becomes a copy of *from */
void smtpd_peer_copy(struct smtpd_peer *to, const struct smtpd_peer *from)
{
        set(to, from->name, from->name_status, from->reverse,
            from->reverse_status);
        to->warning = from->warning ? xstrdup(from->warning) : NULL;
}

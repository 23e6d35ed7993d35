/* SPDX-License-Identifier: MIT */
/*
 * smtpd_check.c - access and relay control: mynetworks, mydestination,
 * relay_domains and the restriction lists smtpd_client_restrictions,
 * smtpd_helo_restrictions, smtpd_sender_restrictions,
 * smtpd_relay_restrictions and smtpd_recipient_restrictions, all applied
 * at RCPT TO as with Postfix's default smtpd_delay_reject = yes, with the
 * restrictions Postfix administrators use for TLS-authenticated relaying
 * and the usual client, HELO and sender checks.
 *
 * Restriction lists are compiled once per listener at start-up; an unknown
 * restriction or a list that could make an open relay is a configuration
 * error then, not a surprise at the first RCPT.
 */
#include "smtpd/smtpd_int.h"
#include "dns/dns.h"
#include "conf/conf.h"
#include "log/log.h"
#include "table/table.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RESTRICTIONS(X)                                                        \
        X(PERMIT, "permit", 0)                                                 \
        X(REJECT, "reject", 0)                                                 \
        X(DEFER, "defer", 0)                                                   \
        X(PERMIT_MYNETWORKS, "permit_mynetworks", 0)                           \
        X(PERMIT_SASL, "permit_sasl_authenticated", 0)                         \
        X(PERMIT_TLS_CLIENTCERTS, "permit_tls_clientcerts", 0)                 \
        X(PERMIT_TLS_ALL, "permit_tls_all_clientcerts", 0)                     \
        X(CHECK_CCERT, "check_ccert_access", 1)                                \
        X(CHECK_CLIENT, "check_client_access", 1)                              \
        X(CHECK_HELO, "check_helo_access", 1)                                  \
        X(CHECK_SENDER, "check_sender_access", 1)                              \
        X(CHECK_RCPT, "check_recipient_access", 1)                             \
        X(REJECT_INVALID_HELO, "reject_invalid_helo_hostname", 0)              \
        X(REJECT_NON_FQDN_HELO, "reject_non_fqdn_helo_hostname", 0)            \
        X(REJECT_NON_FQDN_SENDER, "reject_non_fqdn_sender", 0)                 \
        X(REJECT_NON_FQDN_RCPT, "reject_non_fqdn_recipient", 0)                \
        X(REJECT_UNLISTED_RCPT, "reject_unlisted_recipient", 0)                \
        X(REJECT_UNAUTH_DEST, "reject_unauth_destination", 0)                  \
        X(DEFER_UNAUTH_DEST, "defer_unauth_destination", 0)                    \
        X(REJECT_UNAUTH_PIPELINING, "reject_unauth_pipelining", 0)             \
        X(REJECT_SENDER_LOGIN, "reject_sender_login_mismatch", 0)              \
        X(REJECT_KNOWN_SENDER_LOGIN, "reject_known_sender_login_mismatch", 0)  \
        X(REJECT_AUTH_SENDER_LOGIN,                                            \
          "reject_authenticated_sender_login_mismatch", 0)                     \
        X(REJECT_UNAUTH_SENDER_LOGIN,                                          \
          "reject_unauthenticated_sender_login_mismatch", 0)                   \
        X(REJECT_RBL_CLIENT, "reject_rbl_client", 2)                           \
        X(PERMIT_DNSWL_CLIENT, "permit_dnswl_client", 2)                       \
        X(REJECT_RHSBL_SENDER, "reject_rhsbl_sender", 2)                       \
        X(REJECT_RHSBL_HELO, "reject_rhsbl_helo", 2)                           \
        X(REJECT_RHSBL_RCPT, "reject_rhsbl_recipient", 2)                      \
        X(REJECT_UNKNOWN_SENDER_DOMAIN, "reject_unknown_sender_domain", 0)     \
        X(REJECT_UNKNOWN_RCPT_DOMAIN, "reject_unknown_recipient_domain", 0)    \
        X(REJECT_UNKNOWN_HELO, "reject_unknown_helo_hostname", 0)              \
        X(REJECT_UNKNOWN_CLIENT, "reject_unknown_client_hostname", 0)          \
        X(REJECT_UNKNOWN_CLIENT_OLD, "reject_unknown_client", 0)               \
        X(REJECT_UNKNOWN_REV_CLIENT, "reject_unknown_reverse_client_hostname", \
          0)                                                                   \
        X(CHECK_REV_CLIENT, "check_reverse_client_hostname_access", 1)         \
        X(REJECT_RHSBL_CLIENT, "reject_rhsbl_client", 2)                       \
        X(REJECT_RHSBL_REV_CLIENT, "reject_rhsbl_reverse_client", 2)           \
        X(CHECK_POLICY, "check_policy_service", 3)                             \
        X(REJECT_PLAINTEXT, "reject_plaintext_session", 0)                     \
        X(CHECK_SENDER_MX, "check_sender_mx_access", 1)                        \
        X(CHECK_RCPT_MX, "check_recipient_mx_access", 1)                       \
        X(CHECK_HELO_MX, "check_helo_mx_access", 1)                            \
        X(CHECK_SENDER_NS, "check_sender_ns_access", 1)                        \
        X(CHECK_RCPT_NS, "check_recipient_ns_access", 1)                       \
        X(CHECK_HELO_NS, "check_helo_ns_access", 1)

enum restriction_kind {
#define R_ENUM(e, name, arg) R_##e,
        RESTRICTIONS(R_ENUM)
#undef R_ENUM
};

static const struct {
        const char *name;
        int takes_table;
} restriction_names[] = {
#define R_ROW(e, name, arg) {name, arg},
    RESTRICTIONS(R_ROW)
#undef R_ROW
};

struct restriction {
        enum restriction_kind kind;
        struct table_list *tables; /* for check_*_access */
        char *domain;              /* reject_rbl_client DOMAIN=FILTER; the
                                      service of check_policy_service */
        bool relay_list;           /* in smtpd_relay_ or _recipient_
                                      restrictions */
        char *filter;              /* ... or NULL: any A record lists */
};

/* One evaluation of the lists for a RCPT. */
struct eval {
        bool pending;            /* a DNS or policy answer is awaited */
        struct strbuf dip_reply; /* DEFER_IF_PERMIT: what a final permit
                                    becomes (empty: nothing) */
        struct strbuf dir_reply; /* DEFER_IF_REJECT: what a final reject
                                    becomes */
        struct strlist prepend;  /* PREPEND headers */
        struct strlist notes;    /* WARN/INFO/FILTER: "warn", text, ... */
        char *filter;            /* the last FILTER's transport:nexthop */
};

/* The restriction lists, in the order they apply at RCPT TO. */
enum rlist_id { RL_CLIENT, RL_HELO, RL_SENDER, RL_RELAY, RL_RCPT, RL_N };

/* One compiled list. */
struct rlist {
        struct restriction *r;
        size_t n;
};

/* An address range of mynetworks. */
struct netrange {
        int family;
        unsigned char addr[16];
        int prefix;
};

struct smtpd_checks {
        struct netrange *nets;
        size_t nnets;
        struct table_list *net_tables;
        struct smtpd_domlist mydest, relay, vmbox, valias;
        struct rlist lists[RL_N];
        struct table_list *vmaps;     /* virtual_mailbox_maps, or NULL */
        struct table_list *vamaps;    /* virtual_alias_maps, or NULL */
        struct table_list *relocated; /* relocated_maps, or NULL */
        struct table_list *lmaps;     /* local_recipient_maps, or NULL */
        int local_code;               /* unknown_local_recipient_reject_code */
        char *delim;                  /* recipient_delimiter */
        bool reject_unlisted;         /* smtpd_reject_unlisted_recipient */
        bool no_unknown_rcpt; /* receive_override_options: never unlisted */
        bool access_parent;   /* parent_domain_matches_subdomains lists
                                 smtpd_access_maps: "d" matches subdomains */
        struct table_list *relay_clientcerts;
        struct table_list *login_maps; /* smtpd_sender_login_maps */
        int rbl_code, unk_addr_code, unk_name_code, unk_client_code,
            plaintext_code;
        const char *rbl_reply;       /* default_rbl_reply */
        struct table_list *rbl_maps; /* rbl_reply_maps, or NULL */
        char *policy_default;        /* smtpd_policy_service_default_action */
        bool allow_untrusted_routing;
        /* smtpd_forbid_bare_newline_exclusions: only nets and net_tables
         * of this inner object are used */
        struct smtpd_checks *bare_excl;
        /* smtpd_client_event_limit_exceptions, the same way */
        struct smtpd_checks *limit_excl;
        /* smtpd_sasl_exceptions_networks, the same way */
        struct smtpd_checks *sasl_excl;
};

/* parse_net - "a.b.c.d/n", "[v6]/n", "v6/n", a bare address */
static int parse_net(const char *s, struct netrange *n)
{
        char buf[128];
        const char *slash = strrchr(s, '/');
        size_t alen = slash ? (size_t)(slash - s) : strlen(s);
        int maxbits;

        if (alen == 0 || alen >= sizeof(buf))
                return -1;
        memcpy(buf, s, alen);
        buf[alen] = 0;
        char *a = buf;
        if (a[0] == '[') {
                size_t l = strlen(a);
                if (l < 3 || a[l - 1] != ']')
                        return -1;
                a[l - 1] = 0;
                a++;
        }
        memset(n, 0, sizeof(*n));
        if (inet_pton(AF_INET, a, n->addr) == 1) {
                n->family = AF_INET;
                maxbits = 32;
        } else if (inet_pton(AF_INET6, a, n->addr) == 1) {
                n->family = AF_INET6;
                maxbits = 128;
        } else {
                return -1;
        }
        n->prefix = maxbits;
        if (slash) {
                char *end;
                long p = strtol(slash + 1, &end, 10);
                if (*end || end == slash + 1 || p < 0 || p > maxbits)
                        return -1;
                n->prefix = (int)p;
        }
        /* clear host bits, as Postfix does after warning */
        for (int bit = n->prefix; bit < maxbits; bit++)
                n->addr[bit / 8] &= (unsigned char)~(0x80 >> (bit % 8));
        return 0;
}

/* net_match - whether addr (text) lies in the range */
static bool net_match(const struct netrange *n, int family,
                      const unsigned char *addr)
{
        if (family != n->family)
                return false;
        for (int bit = 0; bit < n->prefix; bit++) {
                unsigned char m = (unsigned char)(0x80 >> (bit % 8));
                if ((addr[bit / 8] & m) != (n->addr[bit / 8] & m))
                        return false;
        }
        return true;
}

/* smtpd_addr_parse - a client address into family and bytes;
 * IPv4-mapped IPv6 addresses count as IPv4 */
int smtpd_addr_parse(const char *s, int *family, unsigned char *addr)
{
        if (inet_pton(AF_INET, s, addr) == 1) {
                *family = AF_INET;
                return 0;
        }
        if (inet_pton(AF_INET6, s, addr) == 1) {
                static const unsigned char mapped[12] = {
                    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
                if (memcmp(addr, mapped, 12) == 0) {
                        memmove(addr, addr + 12, 4);
                        *family = AF_INET;
                } else {
                        *family = AF_INET6;
                }
                return 0;
        }
        return -1;
}

/* open_tables - a table_list from the type:name elements of a list */
static int open_tables(const struct strlist *specs, struct table_list **out,
                       char **err)
{
        struct strbuf sb;
        int rc;

        *out = NULL;
        if (specs->n == 0)
                return 0;
        strbuf_init(&sb);
        for (size_t i = 0; i < specs->n; i++) {
                if (i)
                        strbuf_addc(&sb, ' ');
                strbuf_adds(&sb, specs->v[i]);
        }
        rc = table_list_open(strbuf_cstr(&sb), out, err);
        strbuf_clear(&sb);
        return rc;
}

/* smtpd_is_table - "type:name", not an IPv6 address */
bool smtpd_is_table(const char *s)
{
        const char *colon = strchr(s, ':');

        if (colon == NULL || colon == s || s[0] == '[')
                return false;
        for (const char *p = s; p < colon; p++)
                if (!isalnum((unsigned char)*p) && *p != '_')
                        return false;
        return true;
}

/* load_nets - mynetworks */
static int load_nets(struct smtpd_checks *k, const char *param,
                     const char *value, char **err)
{
        struct strlist items = {0}, tables = {0};
        int rc = 0;

        conf_split_list(value, &items);
        for (size_t i = 0; i < items.n; i++) {
                struct netrange n;
                if (smtpd_is_table(items.v[i])) {
                        strlist_push(&tables, items.v[i]);
                        continue;
                }
                if (parse_net(items.v[i], &n) < 0) {
                        *err = xasprintf("%s: \"%s\" is not an "
                                         "address, network/prefix or "
                                         "type:table",
                                         param, items.v[i]);
                        rc = -1;
                        break;
                }
                k->nets =
                    xreallocarray(k->nets, k->nnets + 1, sizeof(*k->nets));
                k->nets[k->nnets++] = n;
        }
        if (rc == 0) {
                char *e = NULL;
                if (open_tables(&tables, &k->net_tables, &e) < 0) {
                        *err = xasprintf("%s: %s", param, e);
                        free(e);
                        rc = -1;
                }
        }
        strlist_clear(&items);
        strlist_clear(&tables);
        return rc;
}

/* smtpd_open_maps - the tables of a setting, NULL when it is empty */
int smtpd_open_maps(const char *param, const char *value,
                    struct table_list **out, char **err)
{
        char *e = NULL;

        *out = NULL;
        if (value == NULL || *value == 0)
                return 0;
        if (table_list_open(value, out, &e) < 0) {
                *err = xasprintf("%s: %s", param, e);
                free(e);
                return -1;
        }
        return 0;
}

/* smtpd_domlist_load - mydestination, relay_domains,
 * virtual_mailbox_domains */
int smtpd_domlist_load(struct smtpd_domlist *d, const char *param,
                       const char *value, bool parent_matches, char **err)
{
        struct strlist items = {0}, tables = {0};
        int rc = 0;

        d->parent_matches = parent_matches;
        conf_split_list(value, &items);
        for (size_t i = 0; i < items.n; i++) {
                if (smtpd_is_table(items.v[i]))
                        strlist_push(&tables, items.v[i]);
                else
                        strlist_push(&d->names, str_lower(items.v[i]));
        }
        char *e = NULL;
        if (open_tables(&tables, &d->tables, &e) < 0) {
                *err = xasprintf("%s: %s", param, e);
                free(e);
                rc = -1;
        }
        strlist_clear(&items);
        strlist_clear(&tables);
        return rc;
}

/* octet_match - one octet of a reply filter, "2", "[2..11]" or
 * "[2;4;8]": 1 matches v, 0 not, -1 malformed */
static int octet_match(const char *pat, size_t n, unsigned v)
{
        char buf[64];

        if (n == 0 || n >= sizeof(buf))
                return -1;
        memcpy(buf, pat, n);
        buf[n] = 0;
        if (buf[0] != '[')
                return strspn(buf, "0123456789") != n ? -1
                       : (unsigned)atoi(buf) == v     ? 1
                                                      : 0;
        if (n < 3 || buf[n - 1] != ']' ||
            strspn(buf + 1, "0123456789.;") != n - 2)
                return -1;
        buf[n - 1] = 0;
        char *dots = strstr(buf + 1, "..");
        if (dots) {
                *dots = 0;
                return (unsigned)atoi(buf + 1) <= v &&
                       v <= (unsigned)atoi(dots + 2);
        }
        int hit = 0;
        for (char *p = strtok(buf + 1, ";"); p; p = strtok(NULL, ";"))
                hit |= (unsigned)atoi(p) == v;
        return hit;
}

/* smtpd_dnsbl_filter_match - an A record of a DNSBL against
 * DOMAIN=FILTER's filter */
int smtpd_dnsbl_filter_match(const char *filter, const char *addr)
{
        unsigned o[4] = {0, 0, 0, 0};
        const char *p = filter;
        int all = 1;

        unsigned char b[4];
        if (inet_pton(AF_INET, addr, b) == 1)
                for (int i = 0; i < 4; i++)
                        o[i] = b[i];
        else
                all = 0;
        for (int i = 0; i < 4; i++) {
                size_t n = p[0] == '[' ? strcspn(p, "]") + 1 : strcspn(p, ".");
                int m = octet_match(p, n, o[i]);
                if (m < 0)
                        return -1;
                all &= m;
                p += n;
                if (i < 3 && *p++ != '.')
                        return -1;
        }
        return *p == 0 ? all : -1;
}

/* dnsbl_arg - "domain" or "domain=filter": the domain (a new string, lower
 * case) and the filter (a new string or NULL); NULL when malformed */
static char *dnsbl_arg(const char *w, char **filter)
{
        const char *eq = strchr(w, '=');
        char *d = eq ? xstrndup(w, (size_t)(eq - w)) : xstrdup(w);

        *filter = NULL;
        if (*d == 0 || d[0] == '.' ||
            strspn(d, "abcdefghijklmnopqrstuvwxyz"
                      "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                      "0123456789-._") != strlen(d)) {
                free(d);
                return NULL;
        }
        if (eq) {
                if (smtpd_dnsbl_filter_match(eq + 1, "0.0.0.0") < 0) {
                        free(d);
                        return NULL;
                }
                *filter = xstrdup(eq + 1);
        }
        return str_lower(d);
}

/* load_restrictions - compile one restriction list */
static int load_restrictions(const char *param, const char *value,
                             struct restriction **out, size_t *n, char **err)
{
        struct strlist w = {0};
        struct restriction *r = NULL;
        size_t nr = 0;
        int rc = 0;

        conf_split_list(value, &w);
        for (size_t i = 0; i < w.n; i++) {
                size_t k;
                for (k = 0; k < ARRAY_SIZE(restriction_names); k++)
                        if (!strcmp(w.v[i], restriction_names[k].name))
                                break;
                if (k == ARRAY_SIZE(restriction_names)) {
                        struct strbuf known;
                        strbuf_init(&known);
                        for (size_t j = 0; j < ARRAY_SIZE(restriction_names);
                             j++)
                                strbuf_printf(&known, "%s%s", j ? ", " : "",
                                              restriction_names[j].name);
                        *err = xasprintf("%s: unknown restriction \"%s\" "
                                         "(postern knows: %s)",
                                         param, w.v[i], strbuf_cstr(&known));
                        strbuf_clear(&known);
                        rc = -1;
                        break;
                }
                r = xreallocarray(r, nr + 1, sizeof(*r));
                r[nr] = (struct restriction){.kind = k};
                nr++;
                if (restriction_names[k].takes_table == 3) {
                        const char *a = i + 1 < w.n ? w.v[i + 1] : "";
                        if ((!str_has_prefix(a, "inet:") &&
                             !str_has_prefix(a, "unix:")) ||
                            strlen(a) < 6 ||
                            (str_has_prefix(a, "inet:") &&
                             !strrchr(a + 5, ':'))) {
                                *err = xasprintf("%s: %s needs a service: "
                                                 "inet:host:port or "
                                                 "unix:path",
                                                 param, w.v[i]);
                                rc = -1;
                                break;
                        }
                        r[nr - 1].domain = xstrdup(a);
                        i++;
                } else if (restriction_names[k].takes_table == 2) {
                        if (i + 1 >= w.n || strchr(w.v[i + 1], ':') ||
                            (r[nr - 1].domain = dnsbl_arg(
                                 w.v[i + 1], &r[nr - 1].filter)) == NULL) {
                                *err = xasprintf("%s: %s needs a DNS domain "
                                                 "argument (domain or "
                                                 "domain=127.0.0.2)",
                                                 param, w.v[i]);
                                rc = -1;
                                break;
                        }
                        i++;
                } else if (restriction_names[k].takes_table) {
                        char *e = NULL;
                        if (i + 1 >= w.n || !smtpd_is_table(w.v[i + 1])) {
                                *err = xasprintf("%s: %s needs a "
                                                 "type:table argument",
                                                 param, w.v[i]);
                                rc = -1;
                                break;
                        }
                        if (table_list_open(w.v[++i], &r[nr - 1].tables, &e) <
                            0) {
                                *err = xasprintf("%s: %s", param, e);
                                free(e);
                                rc = -1;
                                break;
                        }
                }
        }
        strlist_clear(&w);
        *out = r;
        *n = nr;
        return rc;
}

/* has_working_relay_check - the anti-open-relay rule of Postfix */
static bool has_working_relay_check(const struct restriction *r, size_t n)
{
        for (size_t i = 0; i < n; i++)
                switch (r[i].kind) {
                case R_REJECT:
                case R_DEFER:
                case R_REJECT_UNAUTH_DEST:
                case R_DEFER_UNAUTH_DEST:
                        return true;
                default:
                        break;
                }
        return false;
}

/* free_restrictions - release one compiled list */
static void free_restrictions(struct restriction *r, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                table_list_close(r[i].tables);
                free(r[i].domain);
                free(r[i].filter);
        }
        free(r);
}

/* load_data_restrictions - smtpd_data_restrictions: only what needs no
 * DATA-time check is accepted (reject_unauth_pipelining is the engine's
 * own), so that a list postern would not apply is an error, not silence */
static int load_data_restrictions(const char *value, char **err)
{
        struct restriction *r = NULL;
        size_t n = 0;
        int rc =
            load_restrictions("smtpd_data_restrictions", value, &r, &n, err);

        for (size_t i = 0; rc == 0 && i < n; i++)
                if (r[i].kind != R_REJECT_UNAUTH_PIPELINING &&
                    r[i].kind != R_PERMIT && r[i].kind != R_PERMIT_MYNETWORKS) {
                        *err = xasprintf("smtpd_data_restrictions: \"%s\" is "
                                         "not supported there (postern "
                                         "accepts permit, permit_mynetworks "
                                         "and reject_unauth_pipelining)",
                                         restriction_names[r[i].kind].name);
                        rc = -1;
                }
        free_restrictions(r, n);
        return rc;
}

/* uses_login_maps - a list names a reject_*sender_login_mismatch */
static bool uses_login_maps(const struct smtpd_checks *k)
{
        for (int l = 0; l < RL_N; l++)
                for (size_t i = 0; i < k->lists[l].n; i++)
                        switch (k->lists[l].r[i].kind) {
                        case R_REJECT_SENDER_LOGIN:
                        case R_REJECT_KNOWN_SENDER_LOGIN:
                        case R_REJECT_AUTH_SENDER_LOGIN:
                        case R_REJECT_UNAUTH_SENDER_LOGIN:
                                return true;
                        default:
                                break;
                        }
        return false;
}

/* smtpd_checks_new - compile the access and relay control of one
 * listener */
int smtpd_checks_new(const struct conf *c, struct smtpd_checks **out,
                     char **err)
{
        struct smtpd_checks *k = xcalloc(1, sizeof(*k));
        bool relay_parent = strstr(c->parent_domain_matches_subdomains,
                                   "relay_domains") != NULL;
        const struct {
                const char *param, *value;
        } lists[RL_N] = {
            [RL_CLIENT] = {"smtpd_client_restrictions",
                           c->smtpd_client_restrictions},
            [RL_HELO] = {"smtpd_helo_restrictions", c->smtpd_helo_restrictions},
            [RL_SENDER] = {"smtpd_sender_restrictions",
                           c->smtpd_sender_restrictions},
            [RL_RELAY] = {"smtpd_relay_restrictions",
                          c->smtpd_relay_restrictions},
            [RL_RCPT] = {"smtpd_recipient_restrictions",
                         c->smtpd_recipient_restrictions},
        };

        *out = NULL;
        k->allow_untrusted_routing = c->allow_untrusted_routing;
        k->bare_excl = xcalloc(1, sizeof(*k->bare_excl));
        k->limit_excl = xcalloc(1, sizeof(*k->limit_excl));
        k->sasl_excl = xcalloc(1, sizeof(*k->sasl_excl));
        if (load_nets(k, "mynetworks", c->mynetworks, err) < 0 ||
            load_nets(k->bare_excl, "smtpd_forbid_bare_newline_exclusions",
                      c->smtpd_forbid_bare_newline_exclusions, err) < 0 ||
            load_nets(k->limit_excl, "smtpd_client_event_limit_exceptions",
                      c->smtpd_client_event_limit_exceptions, err) < 0 ||
            load_nets(k->sasl_excl, "smtpd_sasl_exceptions_networks",
                      c->smtpd_sasl_exceptions_networks, err) < 0 ||
            smtpd_domlist_load(&k->mydest, "mydestination", c->mydestination,
                               false, err) < 0 ||
            smtpd_domlist_load(&k->relay, "relay_domains", c->relay_domains,
                               relay_parent, err) < 0 ||
            smtpd_domlist_load(&k->vmbox, "virtual_mailbox_domains",
                               c->virtual_mailbox_domains, false, err) < 0 ||
            smtpd_domlist_load(&k->valias, "virtual_alias_domains",
                               c->virtual_alias_domains, false, err) < 0 ||
            load_data_restrictions(c->smtpd_data_restrictions, err) < 0)
                goto bad;
        for (int l = 0; l < RL_N; l++)
                if (load_restrictions(lists[l].param,
                                      lists[l].value ? lists[l].value : "",
                                      &k->lists[l].r, &k->lists[l].n, err) < 0)
                        goto bad;
        for (int l = RL_RELAY; l <= RL_RCPT; l++)
                for (size_t i = 0; i < k->lists[l].n; i++)
                        k->lists[l].r[i].relay_list = true;
        if (!has_working_relay_check(k->lists[RL_RELAY].r,
                                     k->lists[RL_RELAY].n) &&
            !has_working_relay_check(k->lists[RL_RCPT].r,
                                     k->lists[RL_RCPT].n)) {
                *err = xstrdup("in parameters smtpd_relay_restrictions or "
                               "smtpd_recipient_restrictions, specify at "
                               "least one working instance of: "
                               "reject_unauth_destination, "
                               "defer_unauth_destination, reject or defer "
                               "(otherwise this is an open relay)");
                goto bad;
        }
        k->reject_unlisted = c->smtpd_reject_unlisted_recipient;
        unsigned no = 0;
        char *oerr = NULL;
        if (smtpd_receive_overrides(c, &no, &oerr) < 0)
                free(oerr); /* the listener reports it (lconf_init) */
        k->no_unknown_rcpt = no & SMTPD_NO_UNKNOWN_RCPT_CHECKS;
        k->access_parent = strstr(c->parent_domain_matches_subdomains,
                                  "smtpd_access_maps") != NULL;
        if (smtpd_open_maps("virtual_mailbox_maps", c->virtual_mailbox_maps,
                            &k->vmaps, err) < 0 ||
            smtpd_open_maps("virtual_alias_maps", c->virtual_alias_maps,
                            &k->vamaps, err) < 0 ||
            smtpd_open_maps("relocated_maps", c->relocated_maps, &k->relocated,
                            err) < 0 ||
            smtpd_open_maps("rbl_reply_maps", c->rbl_reply_maps, &k->rbl_maps,
                            err) < 0)
                goto bad;
        if (*c->local_recipient_maps) {
                char *e = NULL;
                if (table_list_open(c->local_recipient_maps, &k->lmaps, &e) <
                    0) {
                        *err = xasprintf("local_recipient_maps: %s (postern "
                                         "has no unix:passwd.byname: list "
                                         "the local users in a table)",
                                         e);
                        free(e);
                        goto bad;
                }
        }
        if (c->unknown_local_recipient_reject_code < 400 ||
            c->unknown_local_recipient_reject_code > 599) {
                *err = xasprintf("unknown_local_recipient_reject_code = %lld: "
                                 "not a 4XX or 5XX reply code",
                                 c->unknown_local_recipient_reject_code);
                goto bad;
        }
        k->local_code = (int)c->unknown_local_recipient_reject_code;
        k->rbl_code = (int)c->rbl_code;
        k->rbl_reply = c->default_rbl_reply;
        k->plaintext_code = (int)c->plaintext_reject_code;
        k->policy_default = xstrdup(c->smtpd_policy_service_default_action);
        k->unk_addr_code = (int)c->unknown_address_reject_code;
        k->unk_name_code = (int)c->unknown_hostname_reject_code;
        k->unk_client_code = (int)c->unknown_client_reject_code;
        k->delim = xstrdup(c->recipient_delimiter);
        if (smtpd_open_maps("relay_clientcerts", c->relay_clientcerts,
                            &k->relay_clientcerts, err) < 0 ||
            smtpd_open_maps("smtpd_sender_login_maps",
                            c->smtpd_sender_login_maps, &k->login_maps,
                            err) < 0)
                goto bad;
        if (k->login_maps == NULL && uses_login_maps(k)) {
                /* Postfix would defer every sender: say so at start */
                *err = xstrdup("the reject_*sender_login_mismatch "
                               "restrictions need smtpd_sender_login_maps");
                goto bad;
        }
        *out = k;
        return 0;
bad:
        smtpd_checks_free(k);
        return -1;
}

/* smtpd_checks_free - release */
void smtpd_checks_free(struct smtpd_checks *k)
{
        if (k == NULL)
                return;
        free(k->nets);
        table_list_close(k->net_tables);
        struct smtpd_domlist *d[] = {&k->mydest, &k->relay, &k->vmbox,
                                     &k->valias};
        for (size_t i = 0; i < ARRAY_SIZE(d); i++)
                smtpd_domlist_clear(d[i]);
        for (int l = 0; l < RL_N; l++)
                free_restrictions(k->lists[l].r, k->lists[l].n);
        table_list_close(k->relay_clientcerts);
        table_list_close(k->login_maps);
        table_list_close(k->vmaps);
        table_list_close(k->vamaps);
        table_list_close(k->relocated);
        table_list_close(k->rbl_maps);
        table_list_close(k->lmaps);
        free(k->delim);
        free(k->policy_default);
        smtpd_checks_free(k->bare_excl);
        smtpd_checks_free(k->limit_excl);
        smtpd_checks_free(k->sasl_excl);
        free(k);
}

/* smtpd_checks_mynetworks - whether a client address is in mynetworks */
bool smtpd_checks_mynetworks(struct smtpd_checks *k, const char *addr)
{
        unsigned char a[16];
        int family;

        if (smtpd_addr_parse(addr, &family, a) < 0)
                return false;
        for (size_t i = 0; i < k->nnets; i++)
                if (net_match(&k->nets[i], family, a))
                        return true;
        if (k->net_tables) {
                const char *v;
                char *err = NULL;
                enum table_status st =
                    table_list_lookup(k->net_tables, addr, &v, NULL, &err);
                if (st == TABLE_ERROR) {
                        log_warnx("mynetworks lookup of %s: %s", addr, err);
                        free(err);
                        return false;
                }
                /* cidr: tables answer with an action; anything but a
                 * rejection counts as a match, as Postfix's
                 * mynetworks tables do */
                return st == TABLE_FOUND && strncasecmp(v, "reject", 6) != 0;
        }
        return false;
}

/* smtpd_checks_bare_newline_excluded - whether a client address is in
 * smtpd_forbid_bare_newline_exclusions */
bool smtpd_checks_bare_newline_excluded(struct smtpd_checks *k,
                                        const char *addr)
{
        return k->bare_excl && smtpd_checks_mynetworks(k->bare_excl, addr);
}

/* smtpd_checks_limit_exempt - whether a client address is in
 * smtpd_client_event_limit_exceptions */
bool smtpd_checks_limit_exempt(struct smtpd_checks *k, const char *addr)
{
        return k->limit_excl && smtpd_checks_mynetworks(k->limit_excl, addr);
}

/* smtpd_checks_sasl_hidden - whether a client address is in
 * smtpd_sasl_exceptions_networks */
bool smtpd_checks_sasl_hidden(struct smtpd_checks *k, const char *addr)
{
        return k->sasl_excl && smtpd_checks_mynetworks(k->sasl_excl, addr);
}

/* smtpd_domlist_clear - release */
void smtpd_domlist_clear(struct smtpd_domlist *d)
{
        strlist_clear(&d->names);
        table_list_close(d->tables);
        d->tables = NULL;
}

/* smtpd_domlist_match - whether a lower-case domain is in a list */
bool smtpd_domlist_match(struct smtpd_domlist *d, const char *dom)
{
        for (size_t i = 0; i < d->names.n; i++) {
                const char *n = d->names.v[i];
                size_t nl = strlen(n), dl = strlen(dom);
                if (!strcmp(n, dom))
                        return true;
                /* ".d" matches subdomains; "d" too with parent matching */
                const char *suffix = n[0] == '.' ? n : NULL;
                if (suffix == NULL && d->parent_matches && dl > nl &&
                    dom[dl - nl - 1] == '.' && !strcmp(dom + dl - nl, n))
                        return true;
                if (suffix && dl > nl && !strcmp(dom + dl - nl, suffix))
                        return true;
        }
        if (d->tables) {
                const char *v;
                char *err = NULL;
                enum table_status st =
                    d->parent_matches
                        ? table_list_lookup_domain(d->tables, dom, &v, NULL,
                                                   &err)
                        : table_list_lookup(d->tables, dom, &v, NULL, &err);
                if (st == TABLE_ERROR) {
                        log_warnx("domain lookup of %s: %s", dom, err);
                        free(err);
                }
                return st == TABLE_FOUND;
        }
        return false;
}

/* rcpt_domain - lower-case domain of an address ("" for none) */
static char *rcpt_domain(const char *rcpt)
{
        const char *at = strrchr(rcpt, '@');
        char *d = xstrdup(at ? at + 1 : "");
        size_t n = strlen(d);

        if (n > 0 && d[n - 1] == '.')
                d[n - 1] = 0;
        return str_lower(d);
}

/* auth_destination - whether rcpt is for this host or a relay domain
 * (what reject_unauth_destination permits) */
static bool auth_destination(struct smtpd_checks *k, const char *rcpt)
{
        char *dom = rcpt_domain(rcpt);
        bool ok;

        if (*dom == 0) {
                ok = true; /* local: "postmaster" and friends */
        } else if (smtpd_domlist_match(&k->mydest, dom) ||
                   smtpd_domlist_match(&k->vmbox, dom) ||
                   smtpd_domlist_match(&k->valias, dom)) {
                ok = true;
        } else if (smtpd_domlist_match(&k->relay, dom)) {
                /* user%host@relay and user@host@relay would relay
                 * onwards: untrusted clients may not route */
                const char *at = strrchr(rcpt, '@');
                size_t l = (size_t)(at - rcpt);
                ok = k->allow_untrusted_routing ||
                     (memchr(rcpt, '%', l) == NULL &&
                      memchr(rcpt, '!', l) == NULL &&
                      memchr(rcpt, '@', l) == NULL);
        } else {
                ok = false;
        }
        free(dom);
        return ok;
}

/* access_reply - "CODE D.D.D <what>: CLS rejected: text": a DSN at the
 * start of text (as in "REJECT 5.7.1 go away") is used, in the class of
 * code */
static void access_reply(struct strbuf *reply, const char *code, char cls_digit,
                         const char *what, const char *cls, const char *text,
                         const char *dflt)
{
        const char *dsn = "x.7.1";
        size_t dl = strspn(text, "0123456789.");

        if (dl >= 5 && dl <= 9 && (text[dl] == ' ' || text[dl] == 0) &&
            (text[0] == '4' || text[0] == '5') && text[1] == '.') {
                strbuf_printf(reply, "%.3s %c%.*s <%s>: %s rejected: %s", code,
                              cls_digit, (int)dl - 1, text + 1, what, cls,
                              text[dl] ? text + dl + 1 : dflt);
                return;
        }
        strbuf_printf(reply, "%.3s %c%s <%s>: %s rejected: %s", code, cls_digit,
                      dsn + 1, what, cls, *text ? text : dflt);
}

/* access_filter - FILTER transport:nexthop: the message's content filter
 * from now on (the last one wins, as in Postfix), and a log line; one
 * without transport:nexthop is only a warning.  The list goes on */
static void access_filter(const char *v, const char *text, const char *what,
                          const char *cls, struct eval *ev)
{
        if (*text == 0 || strchr(text, ':') == NULL) {
                log_warnx("access table result \"%s\" for %s: FILTER needs "
                          "transport:destination: ignored",
                          v, what);
                return;
        }
        free(ev->filter);
        ev->filter = xstrdup(text);
        char *note = xasprintf("<%s>: %s triggers FILTER %s", what, cls, text);
        strlist_push(&ev->notes, "filter");
        strlist_push(&ev->notes, note);
        free(note);
}

/* access_result - an access(5) table or policy service answer as a
 * verdict (text for REJECT/DEFER replies); DEFER_IF_PERMIT,
 * DEFER_IF_REJECT, PREPEND, WARN, INFO and FILTER go to ev and the list
 * goes on */
static int access_result(const char *v, const char *what, const char *cls,
                         struct eval *ev, enum smtpd_verdict *verdict,
                         struct strbuf *reply)
{
        const char *sp = v + strcspn(v, " \t");
        size_t wl = (size_t)(sp - v);
        const char *text = sp + strspn(sp, " \t");

#define WORD(w) (wl == sizeof(w) - 1 && !strncasecmp(v, w, wl))
        if (WORD("OK") || WORD("PERMIT")) {
                *verdict = SMTPD_ACCEPT;
                return 1;
        }
        if (WORD("DUNNO"))
                return 0;
        if (WORD("REJECT")) {
                *verdict = SMTPD_REJECT;
                access_reply(reply, "554", '5', what, cls, text,
                             "Access denied");
                return 1;
        }
        if (WORD("DEFER")) {
                *verdict = SMTPD_DEFER;
                access_reply(reply, "450", '4', what, cls, text,
                             "Try again later");
                return 1;
        }
        if (WORD("DEFER_IF_PERMIT") || WORD("DEFER_IF_REJECT")) {
                struct strbuf *b =
                    WORD("DEFER_IF_PERMIT") ? &ev->dip_reply : &ev->dir_reply;
                if (b->len == 0)
                        access_reply(b, "450", '4', what, cls, text,
                                     "Service unavailable");
                return 0;
        }
        if (WORD("PREPEND")) {
                if (*text && strchr(text, ':'))
                        strlist_push(&ev->prepend, text);
                return 0;
        }
        if (WORD("WARN") || WORD("INFO")) {
                strlist_push(&ev->notes, WORD("WARN") ? "warn" : "info");
                strlist_push(&ev->notes, text);
                return 0;
        }
        if (WORD("FILTER")) {
                access_filter(v, text, what, cls, ev);
                return 0;
        }
#undef WORD
        if (wl == 3 && (v[0] == '4' || v[0] == '5') &&
            isdigit((unsigned char)v[1]) && isdigit((unsigned char)v[2])) {
                *verdict = v[0] == '4' ? SMTPD_DEFER : SMTPD_REJECT;
                access_reply(reply, v, v[0], what, cls, text, "Access denied");
                return 1;
        }
        /* anything else (a restriction name, HOLD, REDIRECT...) is not
         * supported: fail safe with a temporary error */
        log_warnx("access table result \"%s\" for %s is not supported: "
                  "deferring",
                  v, what);
        *verdict = SMTPD_DEFER;
        strbuf_printf(reply, "451 4.3.5 <%s>: Server configuration error",
                      what);
        return 1;
}

/* lookup_access - one check_*_access table list for several keys, the
 * first nwhole of them whole strings (an address, a host name), the others
 * derived from them (parent domains, network prefixes, "user@"), which
 * pattern tables (cidr, regexp, pcre) are not asked for, as in Postfix */
static int lookup_access(struct table_list *t, const char *const *keys,
                         size_t nkeys, size_t nwhole, const char *what,
                         const char *cls, struct eval *ev,
                         enum smtpd_verdict *verdict, struct strbuf *reply)
{
        for (size_t i = 0; i < nkeys; i++) {
                const char *v;
                char *err = NULL;
                if (keys[i] == NULL || *keys[i] == 0)
                        continue;
                enum table_status st =
                    i < nwhole
                        ? table_list_lookup(t, keys[i], &v, NULL, &err)
                        : table_list_lookup_partial(t, keys[i], &v, NULL, &err);
                if (st == TABLE_ERROR) {
                        log_warnx("%s lookup: %s", cls, err);
                        free(err);
                        *verdict = SMTPD_DEFER;
                        strbuf_printf(reply,
                                      "451 4.3.0 <%s>: Temporary lookup "
                                      "failure",
                                      what);
                        return 1;
                }
                if (st == TABLE_FOUND)
                        return access_result(v, what, cls, ev, verdict, reply);
        }
        return 0;
}

/* smtpd_checks_ccert_listed - the client certificate's fingerprint (or
 * public-key fingerprint) is in relay_clientcerts */
bool smtpd_checks_ccert_listed(struct smtpd_checks *k,
                               const struct smtpd_check_client *cl)
{
        const char *keys[] = {cl->cert_fprint, cl->pkey_fprint};

        if (k->relay_clientcerts == NULL || !cl->ccert_present)
                return false;
        for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
                const char *v;
                char *err = NULL;
                if (keys[i] == NULL || *keys[i] == 0)
                        continue;
                enum table_status st = table_list_lookup(
                    k->relay_clientcerts, keys[i], &v, NULL, &err);
                if (st == TABLE_ERROR) {
                        log_warnx("relay_clientcerts lookup: %s", err);
                        free(err);
                        return false;
                }
                if (st == TABLE_FOUND)
                        return true;
        }
        return false;
}

/* unlisted_local - a recipient of a local domain that
 * local_recipient_maps does not list: 1 with the reply, else 0 */
static int unlisted_local(struct smtpd_checks *k, const char *rcpt,
                          enum smtpd_verdict *verdict, struct strbuf *reply)
{
        const char *v;
        char *err = NULL;
        /* user+ext@domain, user@domain, user+ext, user */
        enum table_status st = table_list_find_addr(
            k->lmaps, rcpt, k->delim, TABLE_ADDR_LOCAL | TABLE_ADDR_NO_DOMAIN,
            &v, NULL, &err);

        if (st == TABLE_ERROR) {
                log_warnx("local_recipient_maps lookup: %s", err);
                free(err);
                *verdict = SMTPD_DEFER;
                strbuf_printf(reply, "451 4.3.0 <%s>: Temporary lookup failure",
                              rcpt);
                return 1;
        }
        if (st == TABLE_FOUND)
                return 0;
        *verdict = k->local_code >= 500 ? SMTPD_REJECT : SMTPD_DEFER;
        strbuf_printf(reply,
                      "%d %s <%s>: Recipient address rejected: User unknown "
                      "in local recipient table",
                      k->local_code, k->local_code >= 500 ? "5.1.1" : "4.1.1",
                      rcpt);
        return 1;
}

/* relocated - a recipient relocated_maps lists (the address, without its
 * extension, @domain): 1 with "550 5.1.6 <addr>: Recipient address
 * rejected: User has moved to WHERE", 451 for a table error; else 0 */
static int relocated(struct smtpd_checks *k, const char *rcpt,
                     enum smtpd_verdict *verdict, struct strbuf *reply)
{
        const char *v = NULL;
        char *err = NULL;
        enum table_status st;

        if (k->relocated == NULL)
                return 0;
        st = table_list_lookup_addr(k->relocated, rcpt, k->delim, &v, &err);
        if (st == TABLE_NOTFOUND)
                return 0;
        if (st == TABLE_ERROR) {
                log_warnx("relocated_maps lookup: %s", err);
                free(err);
                *verdict = SMTPD_DEFER;
                strbuf_printf(reply, "451 4.3.0 <%s>: Temporary lookup failure",
                              rcpt);
                return 1;
        }
        *verdict = SMTPD_REJECT;
        strbuf_printf(reply,
                      "550 5.1.6 <%s>: Recipient address rejected: User has "
                      "moved to %s",
                      rcpt, v);
        return 1;
}

/* unlisted - a recipient that no table lists: not an alias of
 * virtual_alias_maps (which lists it whatever its domain), and in a
 * virtual alias domain, or in a virtual mailbox domain that
 * virtual_mailbox_maps does not list (neither the address nor its
 * "@domain" catch-all), or local and not in local_recipient_maps: 1 with
 * the reply (550, or 451 for a table error), 0 when it is listed or not
 * in such a domain */
static int unlisted(struct smtpd_checks *k, const char *rcpt,
                    enum smtpd_verdict *verdict, struct strbuf *reply)
{
        char *dom;
        int d = 0;

        if (k->no_unknown_rcpt)
                return 0; /* behind a content filter: checked before */
        dom = rcpt_domain(rcpt);
        /* a user who has moved is gone, whatever else lists him */
        if ((d = relocated(k, rcpt, verdict, reply)) != 0) {
                free(dom);
                return d;
        }
        /* an alias is a valid recipient whatever its domain; in a
         * virtual alias domain nothing else is */
        if (k->vamaps) {
                char *value = NULL, *err = NULL;
                int found =
                    smtpd_addr_lookup(k->vamaps, rcpt, k->delim, &value, &err);
                free(value);
                if (found < 0) {
                        log_warnx("virtual_alias_maps lookup: %s", err);
                        free(err);
                        *verdict = SMTPD_DEFER;
                        strbuf_printf(reply,
                                      "451 4.3.0 <%s>: Temporary lookup "
                                      "failure",
                                      rcpt);
                        free(dom);
                        return 1;
                }
                if (found > 0) {
                        free(dom);
                        return 0;
                }
        }
        if (*dom && smtpd_domlist_match(&k->valias, dom)) {
                *verdict = SMTPD_REJECT;
                strbuf_printf(reply,
                              "550 5.1.1 <%s>: Recipient address rejected: "
                              "User unknown in virtual alias table",
                              rcpt);
                free(dom);
                return 1;
        }
        if (k->vmaps && *dom && smtpd_domlist_match(&k->vmbox, dom)) {
                char *addr = str_lower(xstrdup(rcpt));
                char *catchall = xasprintf("@%s", dom);
                const char *keys[] = {addr, catchall};
                const char *v;
                char *err = NULL;
                enum table_status st = TABLE_NOTFOUND;
                st = table_list_lookup(k->vmaps, keys[0], &v, NULL, &err);
                if (st == TABLE_NOTFOUND)
                        st = table_list_lookup_partial(k->vmaps, keys[1], &v,
                                                       NULL, &err);
                if (st == TABLE_ERROR) {
                        log_warnx("virtual_mailbox_maps lookup: %s", err);
                        free(err);
                        *verdict = SMTPD_DEFER;
                        strbuf_printf(reply,
                                      "451 4.3.0 <%s>: Temporary lookup "
                                      "failure",
                                      rcpt);
                        d = 1;
                } else if (st == TABLE_NOTFOUND) {
                        *verdict = SMTPD_REJECT;
                        strbuf_printf(reply,
                                      "550 5.1.1 <%s>: Recipient address "
                                      "rejected: User unknown in virtual "
                                      "mailbox table",
                                      rcpt);
                        d = 1;
                }
                free(addr);
                free(catchall);
        }
        if (!d && k->lmaps && (!*dom || smtpd_domlist_match(&k->mydest, dom)))
                d = unlisted_local(k, rcpt, verdict, reply);
        free(dom);
        return d;
}

/* What a generic reject or defer in a list names: Postfix's wording per
 * list ("<unknown[192.0.2.1]>: Client host rejected: ..."). */
struct stage {
        const char *subject;
        const char *cls;
};

/* smtpd_valid_hostname - letters, digits, hyphens and dots, no empty label, or
 * an address literal ("[192.0.2.1]", "[IPv6:...]") */
bool smtpd_valid_hostname(const char *h)
{
        size_t n = strlen(h), label = 0;

        if (n == 0 || n > 255)
                return false;
        if (h[0] == '[')
                return n > 2 && h[n - 1] == ']';
        for (const char *p = h; *p; p++) {
                if (*p == '.') {
                        if (label == 0)
                                return false;
                        label = 0;
                } else if (isalnum((unsigned char)*p) ||
                           (*p == '-' && label > 0) || *p == '_') {
                        if (++label > 63)
                                return false;
                } else {
                        return false;
                }
        }
        return h[n - 1] == '.' || label > 0;
}

/* fqdn - a name with a dot inside, or an address literal */
static bool fqdn(const char *h)
{
        const char *dot = strchr(h, '.');

        return h[0] == '[' || (dot != NULL && dot != h && dot[1] != 0);
}

/* domain_keys - the access(5) keys of a domain: the domain, then each
 * parent domain ("b.c", "c"), or with parent matching off the ".b.c",
 * ".c" forms that match subdomains only */
static void domain_keys(const char *dom, bool parent, struct strlist *keys)
{
        if (*dom == 0)
                return;
        strlist_push(keys, dom);
        if (*dom == '[')
                return; /* an address literal has no parents */
        for (const char *p = strchr(dom, '.'); p && p[1];
             p = strchr(p + 1, '.'))
                strlist_push(keys, parent ? p + 1 : p);
}

/* address_keys - the access(5) keys of an address: "user@domain", the
 * domain and its parents, then "user@" */
static void address_keys(const char *addr, bool parent, struct strlist *keys)
{
        char *lower = str_lower(xstrdup(addr));
        char *dom = rcpt_domain(addr);
        const char *at = strrchr(lower, '@');

        strlist_push(keys, lower);
        domain_keys(dom, parent, keys);
        if (at)
                strlist_pushn(keys, lower, (size_t)(at - lower) + 1);
        free(dom);
        free(lower);
}

/* client_keys - the access(5) keys of a client address: the address,
 * then its network prefixes ("192.0.2", "192.0", "192"; IPv6 cut at each
 * ':' from the right), as Postfix looks them up */
static void client_keys(const char *addr, struct strlist *keys)
{
        char *a = xstrdup(addr);
        char delim = strchr(a, ':') ? ':' : '.';

        strlist_push(keys, a);
        for (char *p = strrchr(a, delim); p; p = strrchr(a, delim)) {
                *p = 0;
                if (*a)
                        strlist_push(keys, a);
        }
        free(a);
}

/* non_fqdn_address - an address whose domain is missing or not fully
 * qualified (the null sender is fine) */
static bool non_fqdn_address(const char *addr)
{
        char *dom;
        bool bad;

        if (addr == NULL || *addr == 0)
                return false;
        dom = rcpt_domain(addr);
        bad = *dom == 0 || !fqdn(dom);
        free(dom);
        return bad;
}

/* sender_owners - smtpd_sender_login_maps for sender: the owners (a new
 * string), NULL when unlisted; -1 on a table error */
static int sender_owners(struct smtpd_checks *k, const char *sender,
                         char **owners)
{
        const char *v = NULL;
        char *err = NULL;

        *owners = NULL;
        /* user+ext@domain, user@domain, @domain */
        enum table_status st =
            table_list_lookup_addr(k->login_maps, sender, k->delim, &v, &err);
        if (st == TABLE_ERROR) {
                log_warnx("smtpd_sender_login_maps lookup: %s", err);
                free(err);
                return -1;
        }
        if (st == TABLE_FOUND)
                *owners = xstrdup(v);
        return 0;
}

/* login_mismatch - the reject_*sender_login_mismatch restrictions, as
 * Postfix: an authenticated client must own the sender address (unless
 * "known" and the address is unlisted); an unauthenticated client may
 * not use an address that has an owner.  1 with the reply, else 0. */
static int login_mismatch(struct smtpd_checks *k,
                          const struct smtpd_check_client *cl,
                          enum restriction_kind kind,
                          enum smtpd_verdict *verdict, struct strbuf *reply)
{
        const char *user = cl->sasl_username;
        bool check_auth = kind != R_REJECT_UNAUTH_SENDER_LOGIN;
        bool check_unauth = kind != R_REJECT_AUTH_SENDER_LOGIN;
        char *owners = NULL;
        int found = 0;

        if (cl->sender == NULL || *cl->sender == 0 || k->login_maps == NULL)
                return 0; /* the null sender, VRFY */
        if (user ? !check_auth : !check_unauth)
                return 0;
        if (sender_owners(k, cl->sender, &owners) < 0) {
                *verdict = SMTPD_DEFER;
                strbuf_printf(reply, "451 4.3.0 <%s>: Temporary lookup failure",
                              cl->sender);
                return 1;
        }
        if (user == NULL) {
                bool owned = owners != NULL;
                free(owners);
                if (!owned)
                        return 0;
                *verdict = SMTPD_REJECT;
                strbuf_printf(reply,
                              "553 5.7.1 <%s>: Sender address rejected: not "
                              "logged in",
                              cl->sender);
                return 1;
        }
        if (owners == NULL && kind == R_REJECT_KNOWN_SENDER_LOGIN)
                return 0;
        if (owners) {
                struct strlist names = {0};
                str_split(owners, ", \t", &names);
                for (size_t i = 0; i < names.n && !found; i++)
                        found = strcasecmp(names.v[i], user) == 0;
                strlist_clear(&names);
                free(owners);
        }
        if (found)
                return 0;
        *verdict = SMTPD_REJECT;
        strbuf_printf(reply,
                      "553 5.7.1 <%s>: Sender address rejected: not owned by "
                      "user %s",
                      cl->sender, user);
        return 1;
}

/* dsn_class - "4.1.8" with the class of code (5.1.8 for a 5XX) */
static const char *dsn_class(int code, const char *dsn, char buf[16])
{
        snprintf(buf, 16, "%c%s", code >= 500 ? '5' : '4', dsn + 1);
        return buf;
}

/* peer_name, peer_reverse - the client's verified and PTR names, or
 * "unknown" */
static const char *peer_name(const struct smtpd_check_client *cl)
{
        return cl->peer && cl->peer->name ? cl->peer->name : "unknown";
}

static const char *peer_reverse(const struct smtpd_check_client *cl)
{
        return cl->peer && cl->peer->reverse ? cl->peer->reverse : "unknown";
}

/* rbl_reply - the reply of a listed DNSBL: its rbl_reply_maps template
 * (by the DNSBL domain) or default_rbl_reply, filled in; an enhanced
 * status code is added when the template has none.  1, with the verdict
 * its code gives (451 when the table fails) */
static int rbl_reply(struct smtpd_checks *k,
                     const struct smtpd_check_client *cl,
                     const struct restriction *r, const char *what,
                     const char *cls, const char *rcpt, const char *reason,
                     enum smtpd_verdict *verdict, struct strbuf *reply)
{
        const char *tmpl = k->rbl_reply, *v = NULL;
        char code[16], dsn[16], *err = NULL, *copy = NULL;
        char *sdom = cl->sender ? rcpt_domain(cl->sender) : NULL;
        char *rdom = rcpt ? rcpt_domain(rcpt) : NULL;
        char *sname =
            cl->sender ? xstrndup(cl->sender, strcspn(cl->sender, "@")) : NULL;
        char *rname = rcpt ? xstrndup(rcpt, strcspn(rcpt, "@")) : NULL;
        struct strbuf text;

        switch (k->rbl_maps
                    ? table_list_lookup(k->rbl_maps, r->domain, &v, NULL, &err)
                    : TABLE_NOTFOUND) {
        case TABLE_FOUND:
                tmpl = copy = xstrdup(v);
                break;
        case TABLE_ERROR:
                log_warnx("rbl_reply_maps lookup: %s", err);
                free(err);
                *verdict = SMTPD_DEFER;
                strbuf_adds(reply, "451 4.3.0 Temporary lookup failure");
                goto out;
        default:
                break;
        }
        snprintf(code, sizeof(code), "%d", k->rbl_code);
        static const char *const names[] = {
            "rbl_code",        "rbl_class",   "rbl_what",
            "rbl_domain",      "rbl_reason",  "rbl_txt",
            "client_address",  "client_name", "reverse_client_name",
            "helo_name",       "sender",      "sender_name",
            "sender_domain",   "recipient",   "recipient_name",
            "recipient_domain"};
        const char *values[] = {code,      cls,           what,
                                r->domain, reason,        reason,
                                cl->addr,  peer_name(cl), peer_reverse(cl),
                                cl->helo,  cl->sender,    sname,
                                sdom,      rcpt,          rname,
                                rdom};
        strbuf_init(&text);
        smtpd_template(tmpl, names, values, ARRAY_SIZE(names), &text);
        /* "NNN text": the code decides; "NNN d.d.d text" keeps its own */
        const char *t = strbuf_cstr(&text), *rest = t;
        int n = k->rbl_code; /* a template without a code: rbl_code */
        if ((t[0] == '4' || t[0] == '5') && isdigit((unsigned char)t[1]) &&
            isdigit((unsigned char)t[2]) && t[3] == ' ') {
                n = (t[0] - '0') * 100 + (t[1] - '0') * 10 + (t[2] - '0');
                rest = t + 4;
        }
        bool has_dsn = isdigit((unsigned char)rest[0]) && rest[1] == '.';
        *verdict = n >= 500 ? SMTPD_REJECT : SMTPD_DEFER;
        if (has_dsn)
                strbuf_printf(reply, "%d %s", n, rest);
        else
                strbuf_printf(reply, "%d %s %s", n, dsn_class(n, "4.7.1", dsn),
                              rest);
        strbuf_clear(&text);
out:
        free(copy);
        free(sdom);
        free(rdom);
        free(sname);
        free(rname);
        return 1;
}

/* unknown_client - reject_unknown_client_hostname (no name, or one that
 * does not resolve back to the address) and
 * reject_unknown_reverse_client_hostname (no PTR name): Postfix's reply,
 * 450 when the lookup failed only for now.  1 when it refused */
static int unknown_client(struct smtpd_checks *k,
                          const struct smtpd_check_client *cl,
                          enum restriction_kind kind,
                          enum smtpd_verdict *verdict, struct strbuf *reply)
{
        bool rev = kind == R_REJECT_UNKNOWN_REV_CLIENT;
        enum smtpd_peer_status s = cl->peer == NULL ? SMTPD_PEER_PERM
                                   : rev            ? cl->peer->reverse_status
                                                    : cl->peer->name_status;
        char dsn[16];

        if (s == SMTPD_PEER_OK)
                return 0;
        int code = s == SMTPD_PEER_TEMP ? 450 : k->unk_client_code;
        *verdict = code >= 500 ? SMTPD_REJECT : SMTPD_DEFER;
        strbuf_printf(
            reply,
            "%d %s Client host rejected: cannot find your %shostname, "
            "[%s]",
            code, dsn_class(code, "4.7.25", dsn), rev ? "reverse " : "",
            cl->addr);
        return 1;
}

/* dnsbl - reject_rbl_client (subject: the client address) and
 * reject_rhsbl_* (subject: a domain), as Postfix's default_rbl_reply:
 * 1 listed (the reply, with the TXT record's text), 0 not listed (or the
 * lookup failed: not listed, as Postfix), 2 waiting for DNS */
static int dnsbl(struct smtpd_checks *k, const struct smtpd_check_client *cl,
                 const struct restriction *r, const char *subject,
                 const char *cls, const char *rcpt, enum smtpd_verdict *verdict,
                 struct strbuf *reply)
{
        const char *const *v;
        size_t n;
        char *name;
        bool listed = false;
        int rc = 0;

        if (subject == NULL || *subject == 0 || *subject == '[')
                return 0;
        bool by_addr =
            r->kind == R_REJECT_RBL_CLIENT || r->kind == R_PERMIT_DNSWL_CLIENT;
        name = by_addr ? smtpd_reverse_name(subject, r->domain)
                       : xasprintf("%s.%s", subject, r->domain);
        if (name == NULL)
                return 0;
        switch (cl->dns(cl->dns_arg, name, DNS_T_A, &v, &n)) {
        case SMTPD_DNS_PENDING:
                rc = 2;
                break;
        case SMTPD_DNS_FOUND:
                for (size_t i = 0; i < n && !listed; i++)
                        listed = r->filter == NULL ||
                                 smtpd_dnsbl_filter_match(r->filter, v[i]) == 1;
                break;
        default:
                break;
        }
        if (listed && r->kind == R_PERMIT_DNSWL_CLIENT) {
                *verdict = SMTPD_ACCEPT;
                rc = 1;
        } else if (listed) {
                const char *reason = NULL;
                enum smtpd_dns_state t =
                    cl->dns(cl->dns_arg, name, DNS_T_TXT, &v, &n);
                if (t == SMTPD_DNS_PENDING) {
                        free(name);
                        return 2;
                }
                if (t == SMTPD_DNS_FOUND && n > 0 && *v[0])
                        reason = v[0];
                rc = rbl_reply(k, cl, r, subject, cls, rcpt, reason, verdict,
                               reply);
        }
        free(name);
        return rc;
}

/* unknown_domain - reject_unknown_{sender,recipient}_domain (mailhost:
 * MX first, a null MX refuses) and reject_unknown_helo_hostname: a name
 * with none of MX, A and AAAA is refused with code; a failed lookup
 * defers the request if it would otherwise be permitted
 * (defer_if_permit).  1 decided, 0 go on, 2 waiting for DNS. */
static int unknown_domain(const struct smtpd_check_client *cl, const char *name,
                          bool mailhost, const char *shown, const char *cls,
                          int code, const char *dsn, struct eval *ev,
                          enum smtpd_verdict *verdict, struct strbuf *reply)
{
        const int mail_types[] = {DNS_T_MX, DNS_T_A, DNS_T_AAAA};
        const int host_types[] = {DNS_T_A, DNS_T_AAAA, DNS_T_MX};
        const int *types = mailhost ? mail_types : host_types;
        bool tempfail = false;
        char d[16];

        if (name == NULL || *name == 0 || *name == '[')
                return 0;
        for (int i = 0; i < 3; i++) {
                const char *const *v;
                size_t n;
                switch (cl->dns(cl->dns_arg, name, types[i], &v, &n)) {
                case SMTPD_DNS_PENDING:
                        return 2;
                case SMTPD_DNS_TEMPFAIL:
                        tempfail = true;
                        break;
                case SMTPD_DNS_FOUND:
                        if (mailhost && types[i] == DNS_T_MX && n > 0 &&
                            *v[0] == 0) {
                                /* RFC 7505 */
                                *verdict = SMTPD_REJECT;
                                strbuf_printf(reply,
                                              "550 %s <%s>: %s rejected: "
                                              "Domain %s does not accept "
                                              "mail (nullMX)",
                                              strcmp(dsn, "4.1.8") ? "5.1.10"
                                                                   : "5.7.27",
                                              shown, cls, name);
                                return 1;
                        }
                        return 0;
                default:
                        break;
                }
        }
        if (tempfail) {
                if (ev->dip_reply.len == 0)
                        strbuf_printf(&ev->dip_reply,
                                      "450 %s <%s>: %s rejected: %s not found",
                                      dsn, shown, cls,
                                      mailhost ? "Domain" : "Host");
                return 0;
        }
        *verdict = code >= 500 ? SMTPD_REJECT : SMTPD_DEFER;
        strbuf_printf(reply, "%d %s <%s>: %s rejected: %s not found", code,
                      dsn_class(code, dsn, d), shown, cls,
                      mailhost ? "Domain" : "Host");
        return 1;
}

/* Servers looked at per domain (each costs two address lookups). */
#define MX_ACCESS_HOSTS 5

/* server_hosts - the servers check_*_mx_access (type DNS_T_MX: the MX
 * hosts, or name itself without MX) or check_*_ns_access (DNS_T_NS: the
 * name servers of name, or of its nearest parent that has some, the top
 * level domain excepted) look at, into hosts.  1 known, 0 the lookup
 * failed, 2 waiting for DNS. */
static int server_hosts(const struct smtpd_check_client *cl, const char *name,
                        int type, struct strlist *hosts)
{
        const char *const *v;
        size_t n;

        for (const char *d = name; d && strchr(d, '.');
             d = strchr(d, '.') + 1) {
                switch (cl->dns(cl->dns_arg, d, type, &v, &n)) {
                case SMTPD_DNS_PENDING:
                        return 2;
                case SMTPD_DNS_FOUND:
                        for (size_t i = 0; i < n && hosts->n < MX_ACCESS_HOSTS;
                             i++)
                                if (*v[i])
                                        strlist_push(hosts, v[i]);
                        return 1;
                case SMTPD_DNS_NONE:
                        if (type == DNS_T_MX) {
                                strlist_push(hosts, name);
                                return 1;
                        }
                        break; /* NS: the parent domain's */
                default:
                        return 0;
                }
        }
        return 1;
}

/* mx_access - check_{sender,recipient,helo}_{mx,ns}_access: the MX hosts
 * (or name servers, type) of name in the table, by host name and parent
 * domains, then by each address and its networks.  OK counts as DUNNO,
 * as in Postfix (a server cannot vouch for the mail).  1 decided, 0 go
 * on, 2 waiting for DNS. */
static int mx_access(struct smtpd_checks *k,
                     const struct smtpd_check_client *cl,
                     const struct restriction *r, const char *name, int type,
                     const char *shown, const char *cls, struct eval *ev,
                     enum smtpd_verdict *verdict, struct strbuf *reply)
{
        const char *const *v;
        size_t n;
        struct strlist hosts = {0};
        int rc = 0;

        if (name == NULL || *name == 0 || *name == '[')
                return 0;
        switch (server_hosts(cl, name, type, &hosts)) {
        case 2:
                strlist_clear(&hosts);
                return 2;
        case 0:
                strlist_clear(&hosts);
                if (ev->dip_reply.len == 0)
                        strbuf_printf(&ev->dip_reply,
                                      "450 4.4.3 <%s>: %s rejected: Unable "
                                      "to look up %s information",
                                      shown, cls,
                                      type == DNS_T_MX ? "mail exchanger"
                                                       : "name server");
                return 0;
        default:
                break;
        }
        for (size_t h = 0; h < hosts.n && rc != 1; h++) {
                struct strlist addrs = {0};
                for (int t = 0; t < 2; t++) {
                        int at = t ? DNS_T_AAAA : DNS_T_A;
                        switch (cl->dns(cl->dns_arg, hosts.v[h], at, &v, &n)) {
                        case SMTPD_DNS_PENDING:
                                rc = 2; /* ask for all, then wait */
                                break;
                        case SMTPD_DNS_FOUND:
                                for (size_t i = 0; i < n; i++)
                                        strlist_push(&addrs, v[i]);
                                break;
                        default:
                                break;
                        }
                }
                /* the name, then each address, each with what derives
                 * from it */
                for (size_t a = 0; rc == 0 && a <= addrs.n; a++) {
                        struct strlist keys = {0};
                        if (a == 0) {
                                char *lower = str_lower(xstrdup(hosts.v[h]));
                                domain_keys(lower, k->access_parent, &keys);
                                free(lower);
                        } else {
                                client_keys(addrs.v[a - 1], &keys);
                        }
                        if (lookup_access(r->tables,
                                          (const char *const *)keys.v, keys.n,
                                          1, shown, cls, ev, verdict, reply)) {
                                if (*verdict == SMTPD_ACCEPT)
                                        strbuf_reset(reply); /* OK: DUNNO */
                                else
                                        rc = 1;
                        }
                        strlist_clear(&keys);
                }
                strlist_clear(&addrs);
        }
        strlist_clear(&hosts);
        return rc;
}

/* dns_restriction - one of the DNS-based restrictions, as dnsbl,
 * unknown_domain and mx_access answer */
static int dns_restriction(struct smtpd_checks *k,
                           const struct smtpd_check_client *cl,
                           const struct restriction *r, const char *rcpt,
                           struct eval *ev, enum smtpd_verdict *verdict,
                           struct strbuf *reply)
{
        char *dom = NULL;
        int d = 0;

        switch (r->kind) {
        case R_REJECT_RBL_CLIENT:
                return dnsbl(k, cl, r, cl->addr, "Client host", rcpt, verdict,
                             reply);
        case R_PERMIT_DNSWL_CLIENT:
                /* as Postfix, never a way around reject_unauth_destination:
                 * in the relay and recipient lists it permits only mail
                 * for this host and its relay domains */
                if (rcpt && r->relay_list && !auth_destination(k, rcpt))
                        return 0;
                return dnsbl(k, cl, r, cl->addr, "Client host", rcpt, verdict,
                             reply);
        case R_REJECT_RHSBL_HELO:
                if (cl->helo) {
                        char *h = str_lower(xstrdup(cl->helo));
                        d = dnsbl(k, cl, r, h, "Helo command", rcpt, verdict,
                                  reply);
                        free(h);
                }
                return d;
        case R_REJECT_RHSBL_CLIENT:
        case R_REJECT_RHSBL_REV_CLIENT: {
                bool rev = r->kind == R_REJECT_RHSBL_REV_CLIENT;
                const char *name = rev ? peer_reverse(cl) : peer_name(cl);
                if (!strcmp(name, "unknown"))
                        return 0;
                dom = str_lower(xstrdup(name));
                d = dnsbl(k, cl, r, dom,
                          rev ? "Unverified Client host" : "Client host", rcpt,
                          verdict, reply);
                break;
        }
        case R_REJECT_RHSBL_SENDER:
        case R_REJECT_RHSBL_RCPT:
                if (r->kind == R_REJECT_RHSBL_SENDER && cl->sender == NULL)
                        return 0;
                dom = rcpt_domain(r->kind == R_REJECT_RHSBL_SENDER ? cl->sender
                                                                   : rcpt);
                d = dnsbl(k, cl, r, dom,
                          r->kind == R_REJECT_RHSBL_SENDER
                              ? "Sender address"
                              : "Recipient address",
                          rcpt, verdict, reply);
                break;
        case R_REJECT_UNKNOWN_SENDER_DOMAIN:
                if (cl->sender == NULL || *cl->sender == 0)
                        return 0; /* the null sender */
                dom = rcpt_domain(cl->sender);
                d = unknown_domain(cl, dom, true, cl->sender, "Sender address",
                                   k->unk_addr_code, "4.1.8", ev, verdict,
                                   reply);
                break;
        case R_REJECT_UNKNOWN_RCPT_DOMAIN:
                dom = rcpt_domain(rcpt);
                d = unknown_domain(cl, dom, true, rcpt, "Recipient address",
                                   k->unk_addr_code, "4.1.2", ev, verdict,
                                   reply);
                break;
        case R_CHECK_SENDER_MX:
        case R_CHECK_SENDER_NS:
                if (cl->sender == NULL || *cl->sender == 0)
                        return 0;
                dom = rcpt_domain(cl->sender);
                d = mx_access(k, cl, r, dom,
                              r->kind == R_CHECK_SENDER_MX ? DNS_T_MX
                                                           : DNS_T_NS,
                              cl->sender, "Sender address", ev, verdict, reply);
                break;
        case R_CHECK_RCPT_MX:
        case R_CHECK_RCPT_NS:
                dom = rcpt_domain(rcpt);
                d = mx_access(k, cl, r, dom,
                              r->kind == R_CHECK_RCPT_MX ? DNS_T_MX : DNS_T_NS,
                              rcpt, "Recipient address", ev, verdict, reply);
                break;
        case R_CHECK_HELO_MX:
        case R_CHECK_HELO_NS:
                if (cl->helo == NULL)
                        return 0;
                dom = str_lower(xstrdup(cl->helo));
                d = mx_access(k, cl, r, dom,
                              r->kind == R_CHECK_HELO_MX ? DNS_T_MX : DNS_T_NS,
                              cl->helo, "Helo command", ev, verdict, reply);
                break;
        case R_REJECT_UNKNOWN_HELO:
                if (cl->helo == NULL)
                        return 0;
                dom = str_lower(xstrdup(cl->helo));
                d = unknown_domain(cl, dom, false, cl->helo, "Helo command",
                                   k->unk_name_code, "4.7.1", ev, verdict,
                                   reply);
                break;
        default:
                break;
        }
        free(dom);
        return d;
}

/* run_list - evaluate one restriction list for the stage st; 1 when it
 * decided (the verdict in *verdict, the reply for REJECT/DEFER); 0 when
 * it did not, also when it waits for DNS (ev->pending) */
static int run_list(struct smtpd_checks *k, const struct rlist *l,
                    const struct stage *st, const struct smtpd_check_client *cl,
                    const char *rcpt, struct eval *ev,
                    enum smtpd_verdict *verdict, struct strbuf *reply)
{
        const struct restriction *r = l->r;

        for (size_t i = 0; i < l->n; i++) {
                switch (r[i].kind) {
                case R_PERMIT:
                        *verdict = SMTPD_ACCEPT;
                        return 1;
                case R_REJECT:
                        *verdict = SMTPD_REJECT;
                        strbuf_printf(reply,
                                      "554 5.7.1 <%s>: %s rejected: Access "
                                      "denied",
                                      st->subject, st->cls);
                        return 1;
                case R_DEFER:
                        *verdict = SMTPD_DEFER;
                        strbuf_printf(reply,
                                      "450 4.7.1 <%s>: %s rejected: Try "
                                      "again later",
                                      st->subject, st->cls);
                        return 1;
                case R_PERMIT_MYNETWORKS:
                        if (cl->mynetworks) {
                                *verdict = SMTPD_ACCEPT;
                                return 1;
                        }
                        break;
                case R_PERMIT_SASL:
                        /* as Postfix: ANONYMOUS is no authentication */
                        if (cl->sasl_username && cl->sasl_method &&
                            strcasecmp(cl->sasl_method, "ANONYMOUS") != 0) {
                                *verdict = SMTPD_ACCEPT;
                                return 1;
                        }
                        break;
                case R_REJECT_UNAUTH_PIPELINING:
                        break; /* the engine checks pipelining */
                case R_REJECT_SENDER_LOGIN:
                case R_REJECT_KNOWN_SENDER_LOGIN:
                case R_REJECT_AUTH_SENDER_LOGIN:
                case R_REJECT_UNAUTH_SENDER_LOGIN:
                        if (login_mismatch(k, cl, r[i].kind, verdict, reply))
                                return 1;
                        break;
                case R_CHECK_POLICY: {
                        const char *action = NULL;
                        if (cl->policy == NULL)
                                break; /* VRFY */
                        switch (cl->policy(cl->dns_arg, r[i].domain, rcpt,
                                           &action)) {
                        case SMTPD_DNS_PENDING:
                                ev->pending = true;
                                return 0;
                        case SMTPD_DNS_FOUND:
                                if (access_result(action, st->subject, st->cls,
                                                  ev, verdict, reply))
                                        return 1;
                                break;
                        default:
                                /* smtpd_policy_service_default_action: an
                                 * access(5) result, as in Postfix */
                                if (access_result(k->policy_default,
                                                  st->subject, st->cls, ev,
                                                  verdict, reply))
                                        return 1;
                                break;
                        }
                        break;
                }
                case R_REJECT_RBL_CLIENT:
                case R_PERMIT_DNSWL_CLIENT:
                case R_REJECT_RHSBL_SENDER:
                case R_REJECT_RHSBL_HELO:
                case R_REJECT_RHSBL_RCPT:
                case R_REJECT_RHSBL_CLIENT:
                case R_REJECT_RHSBL_REV_CLIENT:
                case R_REJECT_UNKNOWN_SENDER_DOMAIN:
                case R_REJECT_UNKNOWN_RCPT_DOMAIN:
                case R_CHECK_SENDER_MX:
                case R_CHECK_RCPT_MX:
                case R_CHECK_HELO_MX:
                case R_CHECK_SENDER_NS:
                case R_CHECK_RCPT_NS:
                case R_CHECK_HELO_NS:
                case R_REJECT_UNKNOWN_HELO: {
                        int d = cl->dns ? dns_restriction(k, cl, &r[i], rcpt,
                                                          ev, verdict, reply)
                                        : 0;
                        if (d == 2) {
                                ev->pending = true;
                                return 0;
                        }
                        if (d)
                                return 1;
                        break;
                }
                case R_PERMIT_TLS_CLIENTCERTS:
                        if (smtpd_checks_ccert_listed(k, cl)) {
                                *verdict = SMTPD_ACCEPT;
                                return 1;
                        }
                        break;
                case R_REJECT_PLAINTEXT:
                        if (!cl->tls) {
                                char d[16];
                                int code = k->plaintext_code;
                                *verdict =
                                    code >= 500 ? SMTPD_REJECT : SMTPD_DEFER;
                                strbuf_printf(reply,
                                              "%d %s Session encryption is "
                                              "required",
                                              code,
                                              dsn_class(code, "4.7.1", d));
                                return 1;
                        }
                        break;
                case R_PERMIT_TLS_ALL:
                        if (cl->ccert_present && cl->ccert_trusted) {
                                *verdict = SMTPD_ACCEPT;
                                return 1;
                        }
                        break;
                case R_CHECK_CCERT:
                        if (cl->ccert_present) {
                                const char *keys[] = {cl->cert_fprint,
                                                      cl->pkey_fprint};
                                if (lookup_access(r[i].tables, keys, 2, 2,
                                                  cl->cert_fprint,
                                                  "Client certificate", ev,
                                                  verdict, reply))
                                        return 1;
                        }
                        break;
                case R_CHECK_CLIENT:
                case R_CHECK_REV_CLIENT: {
                        /* the name and its parent domains, then the
                         * address and its networks */
                        bool rev = r[i].kind == R_CHECK_REV_CLIENT;
                        const char *name =
                            rev ? peer_reverse(cl) : peer_name(cl);
                        const char *shown = rev           ? name
                                            : cl->namaddr ? cl->namaddr
                                                          : cl->addr;
                        const char *ccls =
                            rev ? "Unverified Client host" : "Client host";
                        struct strlist nkeys = {0}, akeys = {0};
                        char *lower = str_lower(xstrdup(name));
                        if (strcmp(lower, "unknown") != 0)
                                domain_keys(lower, k->access_parent, &nkeys);
                        client_keys(cl->addr, &akeys);
                        int d =
                            lookup_access(r[i].tables,
                                          (const char *const *)nkeys.v, nkeys.n,
                                          1, shown, ccls, ev, verdict, reply) ||
                            lookup_access(r[i].tables,
                                          (const char *const *)akeys.v, akeys.n,
                                          1, shown, ccls, ev, verdict, reply);
                        strlist_clear(&nkeys);
                        strlist_clear(&akeys);
                        free(lower);
                        if (d)
                                return 1;
                        break;
                }
                case R_REJECT_UNKNOWN_CLIENT:
                case R_REJECT_UNKNOWN_CLIENT_OLD:
                case R_REJECT_UNKNOWN_REV_CLIENT:
                        if (unknown_client(k, cl, r[i].kind, verdict, reply))
                                return 1;
                        break;
                case R_CHECK_HELO:
                        if (cl->helo && *cl->helo) {
                                char *lower = str_lower(xstrdup(cl->helo));
                                struct strlist keys = {0};
                                domain_keys(lower, k->access_parent, &keys);
                                int d = lookup_access(
                                    r[i].tables, (const char *const *)keys.v,
                                    keys.n, 1, cl->helo, "Helo command", ev,
                                    verdict, reply);
                                strlist_clear(&keys);
                                free(lower);
                                if (d)
                                        return 1;
                        }
                        break;
                case R_CHECK_SENDER:
                case R_CHECK_RCPT: {
                        bool snd = r[i].kind == R_CHECK_SENDER;
                        const char *a = snd ? cl->sender : rcpt;
                        if (a == NULL)
                                break; /* VRFY: no sender */
                        if (*a == 0) {
                                /* smtpd_null_access_lookup_key */
                                const char *nk[] = {"<>"};
                                if (lookup_access(r[i].tables, nk, 1, 1, "",
                                                  "Sender address", ev, verdict,
                                                  reply))
                                        return 1;
                                break;
                        }
                        struct strlist keys = {0};
                        address_keys(a, k->access_parent, &keys);
                        int d = lookup_access(
                            r[i].tables, (const char *const *)keys.v, keys.n, 1,
                            a, snd ? "Sender address" : "Recipient address", ev,
                            verdict, reply);
                        strlist_clear(&keys);
                        if (d)
                                return 1;
                        break;
                }
                case R_REJECT_INVALID_HELO:
                        if (cl->helo && !smtpd_valid_hostname(cl->helo)) {
                                *verdict = SMTPD_REJECT;
                                strbuf_printf(reply,
                                              "501 5.5.2 <%s>: Helo command "
                                              "rejected: Invalid name",
                                              cl->helo);
                                return 1;
                        }
                        break;
                case R_REJECT_NON_FQDN_HELO:
                        if (cl->helo && !fqdn(cl->helo)) {
                                *verdict = SMTPD_REJECT;
                                strbuf_printf(reply,
                                              "504 5.5.2 <%s>: Helo command "
                                              "rejected: need fully-qualified "
                                              "hostname",
                                              cl->helo);
                                return 1;
                        }
                        break;
                case R_REJECT_NON_FQDN_SENDER:
                case R_REJECT_NON_FQDN_RCPT: {
                        bool snd = r[i].kind == R_REJECT_NON_FQDN_SENDER;
                        const char *a = snd ? cl->sender : rcpt;
                        if (non_fqdn_address(a)) {
                                *verdict = SMTPD_REJECT;
                                strbuf_printf(reply,
                                              "504 5.5.2 <%s>: %s address "
                                              "rejected: need fully-qualified "
                                              "address",
                                              a, snd ? "Sender" : "Recipient");
                                return 1;
                        }
                        break;
                }
                case R_REJECT_UNLISTED_RCPT:
                        if (unlisted(k, rcpt, verdict, reply))
                                return 1;
                        break;
                case R_REJECT_UNAUTH_DEST:
                case R_DEFER_UNAUTH_DEST:
                        if (!auth_destination(k, rcpt)) {
                                bool rej = r[i].kind == R_REJECT_UNAUTH_DEST;
                                *verdict = rej ? SMTPD_REJECT : SMTPD_DEFER;
                                strbuf_printf(
                                    reply, "%s <%s>: Relay access denied",
                                    rej ? "554 5.7.1" : "454 4.7.1", rcpt);
                                return 1;
                        }
                        break;
                }
        }
        return 0;
}

/* smtpd_checks_rcpt - the client, HELO, sender, relay and recipient
 * lists in turn: a permit ends its own list, a reject or defer ends all;
 * permit when none rejects */
enum smtpd_verdict smtpd_checks_rcpt(struct smtpd_checks *k,
                                     const struct smtpd_check_client *cl,
                                     const char *rcpt, struct strbuf *reply)
{
        const struct stage stages[RL_N] = {
            [RL_CLIENT] = {cl->namaddr ? cl->namaddr : cl->addr, "Client host"},
            [RL_HELO] = {cl->helo ? cl->helo : "", "Helo command"},
            [RL_SENDER] = {cl->sender ? cl->sender : "", "Sender address"},
            [RL_RELAY] = {rcpt, "Recipient address"},
            [RL_RCPT] = {rcpt, "Recipient address"},
        };

        struct eval ev = {0};
        enum smtpd_verdict v = SMTPD_ACCEPT;

        for (int l = 0; l < RL_N; l++) {
                v = SMTPD_ACCEPT;
                strbuf_reset(reply);
                if (run_list(k, &k->lists[l], &stages[l], cl, rcpt, &ev, &v,
                             reply) &&
                    v != SMTPD_ACCEPT)
                        goto done;
                if (ev.pending) {
                        /* asked again with the answer */
                        v = SMTPD_PENDING;
                        goto done;
                }
        }
        strbuf_reset(reply);
        /* smtpd_reject_unlisted_recipient: after the lists, as Postfix */
        v = SMTPD_ACCEPT;
        if (k->reject_unlisted && unlisted(k, rcpt, &v, reply))
                goto done;
        v = SMTPD_ACCEPT;
done:
        if (v == SMTPD_ACCEPT && ev.dip_reply.len) {
                /* DEFER_IF_PERMIT (or a failed DNS lookup earlier) */
                strbuf_reset(reply);
                strbuf_add(reply, ev.dip_reply.s, ev.dip_reply.len);
                v = SMTPD_DEFER;
        } else if (v == SMTPD_REJECT && ev.dir_reply.len) {
                strbuf_reset(reply);
                strbuf_add(reply, ev.dir_reply.s, ev.dir_reply.len);
                v = SMTPD_DEFER;
        }
        if (v != SMTPD_PENDING && cl->action) {
                for (size_t i = 0; i < ev.prepend.n; i++)
                        cl->action(cl->dns_arg, "prepend", ev.prepend.v[i]);
                for (size_t i = 0; i + 1 < ev.notes.n; i += 2)
                        cl->action(cl->dns_arg, ev.notes.v[i],
                                   ev.notes.v[i + 1]);
                if (ev.filter)
                        cl->action(cl->dns_arg, "content_filter", ev.filter);
        }
        free(ev.filter);
        strbuf_clear(&ev.dip_reply);
        strbuf_clear(&ev.dir_reply);
        strlist_clear(&ev.prepend);
        strlist_clear(&ev.notes);
        return v;
}

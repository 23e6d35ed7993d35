/* SPDX-License-Identifier: MIT */
/*
 * smtpd_check.c - relay control: mynetworks, mydestination, relay_domains,
 * smtpd_relay_restrictions and smtpd_recipient_restrictions with the
 * restrictions Postfix administrators use for TLS-authenticated relaying.
 *
 * Restriction lists are compiled once per listener at start-up; an unknown
 * restriction or a list that could make an open relay is a configuration
 * error then, not a surprise at the first RCPT.
 */
#include "smtpd/smtpd.h"
#include "conf/conf.h"
#include "log/log.h"
#include "table/table.h"

#include <arpa/inet.h>
#include <ctype.h>
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
        X(CHECK_RCPT, "check_recipient_access", 1)                             \
        X(REJECT_UNAUTH_DEST, "reject_unauth_destination", 0)                  \
        X(DEFER_UNAUTH_DEST, "defer_unauth_destination", 0)                    \
        X(REJECT_UNAUTH_PIPELINING, "reject_unauth_pipelining", 0)

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
};

/* An address range of mynetworks. */
struct netrange {
        int family;
        unsigned char addr[16];
        int prefix;
};

/* A domain list: literal names and tables. */
struct domlist {
        struct strlist names; /* lower case; ".d" = subdomains of d */
        struct table_list *tables;
        bool parent_matches; /* "d" also matches subdomains */
};

struct smtpd_checks {
        struct netrange *nets;
        size_t nnets;
        struct table_list *net_tables;
        struct domlist mydest, relay, vmbox;
        struct restriction *relay_r, *rcpt_r;
        size_t nrelay_r, nrcpt_r;
        struct table_list *relay_clientcerts;
        bool allow_untrusted_routing;
        /* smtpd_forbid_bare_newline_exclusions: only nets and net_tables
         * of this inner object are used */
        struct smtpd_checks *bare_excl;
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

/* parse_addr - a client address into family and bytes; IPv4-mapped IPv6
 * addresses count as IPv4 */
static int parse_addr(const char *s, int *family, unsigned char *addr)
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

/* is_table - "type:name" (but not an IPv6 address) */
static bool is_table(const char *s)
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
                if (is_table(items.v[i])) {
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

/* load_domains - mydestination, relay_domains, virtual_mailbox_domains */
static int load_domains(struct domlist *d, const char *param, const char *value,
                        bool parent_matches, char **err)
{
        struct strlist items = {0}, tables = {0};
        int rc = 0;

        d->parent_matches = parent_matches;
        conf_split_list(value, &items);
        for (size_t i = 0; i < items.n; i++) {
                if (is_table(items.v[i]))
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
                        *err = xasprintf("%s: unknown restriction \"%s\" "
                                         "(postern knows: permit, reject, "
                                         "defer, permit_mynetworks, "
                                         "permit_tls_clientcerts, "
                                         "permit_tls_all_clientcerts, "
                                         "check_ccert_access, "
                                         "check_client_access, "
                                         "check_recipient_access, "
                                         "reject_unauth_destination, "
                                         "defer_unauth_destination)",
                                         param, w.v[i]);
                        rc = -1;
                        break;
                }
                r = xreallocarray(r, nr + 1, sizeof(*r));
                r[nr] = (struct restriction){.kind = k};
                nr++;
                if (restriction_names[k].takes_table) {
                        char *e = NULL;
                        if (i + 1 >= w.n || !is_table(w.v[i + 1])) {
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

/* smtpd_checks_new - compile the relay control of one listener */
int smtpd_checks_new(const struct conf *c, struct smtpd_checks **out,
                     char **err)
{
        struct smtpd_checks *k = xcalloc(1, sizeof(*k));
        bool relay_parent = strstr(c->parent_domain_matches_subdomains,
                                   "relay_domains") != NULL;

        *out = NULL;
        k->allow_untrusted_routing = c->allow_untrusted_routing;
        k->bare_excl = xcalloc(1, sizeof(*k->bare_excl));
        if (load_nets(k, "mynetworks", c->mynetworks, err) < 0 ||
            load_nets(k->bare_excl, "smtpd_forbid_bare_newline_exclusions",
                      c->smtpd_forbid_bare_newline_exclusions, err) < 0 ||
            load_domains(&k->mydest, "mydestination", c->mydestination, false,
                         err) < 0 ||
            load_domains(&k->relay, "relay_domains", c->relay_domains,
                         relay_parent, err) < 0 ||
            load_domains(&k->vmbox, "virtual_mailbox_domains",
                         c->virtual_mailbox_domains, false, err) < 0 ||
            load_restrictions("smtpd_relay_restrictions",
                              c->smtpd_relay_restrictions, &k->relay_r,
                              &k->nrelay_r, err) < 0 ||
            load_restrictions("smtpd_recipient_restrictions",
                              c->smtpd_recipient_restrictions, &k->rcpt_r,
                              &k->nrcpt_r, err) < 0)
                goto bad;
        if (!has_working_relay_check(k->relay_r, k->nrelay_r) &&
            !has_working_relay_check(k->rcpt_r, k->nrcpt_r)) {
                *err = xstrdup("in parameters smtpd_relay_restrictions or "
                               "smtpd_recipient_restrictions, specify at "
                               "least one working instance of: "
                               "reject_unauth_destination, "
                               "defer_unauth_destination, reject or defer "
                               "(otherwise this is an open relay)");
                goto bad;
        }
        if (*c->relay_clientcerts) {
                char *e = NULL;
                if (table_list_open(c->relay_clientcerts, &k->relay_clientcerts,
                                    &e) < 0) {
                        *err = xasprintf("relay_clientcerts: %s", e);
                        free(e);
                        goto bad;
                }
        }
        *out = k;
        return 0;
bad:
        smtpd_checks_free(k);
        return -1;
}

/* free_restrictions - release one compiled list */
static void free_restrictions(struct restriction *r, size_t n)
{
        for (size_t i = 0; i < n; i++)
                table_list_close(r[i].tables);
        free(r);
}

/* smtpd_checks_free - release */
void smtpd_checks_free(struct smtpd_checks *k)
{
        if (k == NULL)
                return;
        free(k->nets);
        table_list_close(k->net_tables);
        struct domlist *d[] = {&k->mydest, &k->relay, &k->vmbox};
        for (size_t i = 0; i < ARRAY_SIZE(d); i++) {
                strlist_clear(&d[i]->names);
                table_list_close(d[i]->tables);
        }
        free_restrictions(k->relay_r, k->nrelay_r);
        free_restrictions(k->rcpt_r, k->nrcpt_r);
        table_list_close(k->relay_clientcerts);
        smtpd_checks_free(k->bare_excl);
        free(k);
}

/* smtpd_checks_mynetworks - whether a client address is in mynetworks */
bool smtpd_checks_mynetworks(struct smtpd_checks *k, const char *addr)
{
        unsigned char a[16];
        int family;

        if (parse_addr(addr, &family, a) < 0)
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

/* domlist_match - whether a lower-case domain is in a list */
static bool domlist_match(struct domlist *d, const char *dom)
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
        } else if (domlist_match(&k->mydest, dom) ||
                   domlist_match(&k->vmbox, dom)) {
                ok = true;
        } else if (domlist_match(&k->relay, dom)) {
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

/* access_result - an access(5) table answer as a verdict; text for
 * REJECT/DEFER replies */
static int access_result(const char *v, const char *what, const char *cls,
                         enum smtpd_verdict *verdict, struct strbuf *reply)
{
        const char *sp = v + strcspn(v, " \t");
        size_t wl = (size_t)(sp - v);
        const char *text = sp + strspn(sp, " \t");

        if ((wl == 2 && !strncasecmp(v, "OK", 2)) ||
            (wl == 6 && !strncasecmp(v, "PERMIT", 6))) {
                *verdict = SMTPD_ACCEPT;
                return 1;
        }
        if (wl == 5 && !strncasecmp(v, "DUNNO", 5))
                return 0;
        if (wl == 6 && !strncasecmp(v, "REJECT", 6)) {
                *verdict = SMTPD_REJECT;
                strbuf_printf(reply, "554 5.7.1 <%s>: %s rejected: %s", what,
                              cls, *text ? text : "Access denied");
                return 1;
        }
        if (wl == 5 && !strncasecmp(v, "DEFER", 5)) {
                *verdict = SMTPD_DEFER;
                strbuf_printf(reply, "450 4.7.1 <%s>: %s rejected: %s", what,
                              cls, *text ? text : "Try again later");
                return 1;
        }
        if (wl == 3 && (v[0] == '4' || v[0] == '5') &&
            isdigit((unsigned char)v[1]) && isdigit((unsigned char)v[2])) {
                *verdict = v[0] == '4' ? SMTPD_DEFER : SMTPD_REJECT;
                strbuf_printf(reply, "%.3s %c.7.1 <%s>: %s rejected: %s", v,
                              v[0], what, cls, *text ? text : "Access denied");
                return 1;
        }
        /* anything else (a restriction name, FILTER, HOLD...) is not
         * supported: fail safe with a temporary error */
        log_warnx("access table result \"%s\" for %s is not supported: "
                  "deferring",
                  v, what);
        *verdict = SMTPD_DEFER;
        strbuf_printf(reply, "451 4.3.5 <%s>: Server configuration error",
                      what);
        return 1;
}

/* lookup_access - one check_*_access table list for several keys */
static int lookup_access(struct table_list *t, const char *const *keys,
                         size_t nkeys, const char *what, const char *cls,
                         enum smtpd_verdict *verdict, struct strbuf *reply)
{
        for (size_t i = 0; i < nkeys; i++) {
                const char *v;
                char *err = NULL;
                if (keys[i] == NULL || *keys[i] == 0)
                        continue;
                enum table_status st =
                    table_list_lookup(t, keys[i], &v, NULL, &err);
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
                        return access_result(v, what, cls, verdict, reply);
        }
        return 0;
}

/* ccert_listed - the client certificate's fingerprint (or public-key
 * fingerprint) is in relay_clientcerts */
static bool ccert_listed(struct smtpd_checks *k,
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

/* run_list - evaluate one restriction list; 1 when it decided */
static int run_list(struct smtpd_checks *k, const struct restriction *r,
                    size_t n, const struct smtpd_check_client *cl,
                    const char *rcpt, enum smtpd_verdict *verdict,
                    struct strbuf *reply)
{
        for (size_t i = 0; i < n; i++) {
                switch (r[i].kind) {
                case R_PERMIT:
                        *verdict = SMTPD_ACCEPT;
                        return 1;
                case R_REJECT:
                        *verdict = SMTPD_REJECT;
                        strbuf_printf(reply,
                                      "554 5.7.1 <%s>: Recipient address "
                                      "rejected: Access denied",
                                      rcpt);
                        return 1;
                case R_DEFER:
                        *verdict = SMTPD_DEFER;
                        strbuf_printf(reply,
                                      "450 4.7.1 <%s>: Recipient address "
                                      "rejected: Try again later",
                                      rcpt);
                        return 1;
                case R_PERMIT_MYNETWORKS:
                        if (cl->mynetworks) {
                                *verdict = SMTPD_ACCEPT;
                                return 1;
                        }
                        break;
                case R_PERMIT_SASL:
                case R_REJECT_UNAUTH_PIPELINING:
                        break; /* no SASL yet; pipelining: the engine */
                case R_PERMIT_TLS_CLIENTCERTS:
                        if (ccert_listed(k, cl)) {
                                *verdict = SMTPD_ACCEPT;
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
                                if (lookup_access(
                                        r[i].tables, keys, 2, cl->cert_fprint,
                                        "Client certificate", verdict, reply))
                                        return 1;
                        }
                        break;
                case R_CHECK_CLIENT: {
                        const char *keys[] = {cl->addr};
                        if (lookup_access(r[i].tables, keys, 1, cl->addr,
                                          "Client host", verdict, reply))
                                return 1;
                        break;
                }
                case R_CHECK_RCPT: {
                        char *lower = str_lower(xstrdup(rcpt));
                        char *dom = rcpt_domain(rcpt);
                        const char *at = strrchr(lower, '@');
                        char *localpart_at =
                            at ? xstrndup(lower, (size_t)(at - lower) + 1)
                               : NULL;
                        const char *keys[] = {lower, dom, localpart_at};
                        int d =
                            lookup_access(r[i].tables, keys, 3, rcpt,
                                          "Recipient address", verdict, reply);
                        free(lower);
                        free(dom);
                        free(localpart_at);
                        if (d)
                                return 1;
                        break;
                }
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

/* smtpd_checks_rcpt - smtpd_relay_restrictions, then
 * smtpd_recipient_restrictions; permit when neither rejects */
enum smtpd_verdict smtpd_checks_rcpt(struct smtpd_checks *k,
                                     const struct smtpd_check_client *cl,
                                     const char *rcpt, struct strbuf *reply)
{
        enum smtpd_verdict v = SMTPD_ACCEPT;

        if (run_list(k, k->relay_r, k->nrelay_r, cl, rcpt, &v, reply) &&
            v != SMTPD_ACCEPT)
                return v;
        v = SMTPD_ACCEPT;
        strbuf_reset(reply);
        if (run_list(k, k->rcpt_r, k->nrcpt_r, cl, rcpt, &v, reply))
                return v;
        return SMTPD_ACCEPT;
}

/* SPDX-License-Identifier: MIT */
/*
 * smtpd_canon.c - Postfix's canonical address mapping (canonical(5):
 * canonical_maps, sender_canonical_maps, recipient_canonical_maps) and
 * address masquerading (masquerade_domains), which its cleanup applies to
 * every message as it is queued: to the envelope sender and recipients,
 * and to the addresses in the sender and recipient headers of mail from
 * clients that count as local (local_header_rewrite_clients, local
 * submissions) or, with remote_header_rewrite_domain, from any client.
 *
 * A sender goes through sender_canonical_maps, then canonical_maps, a
 * recipient through recipient_canonical_maps, then canonical_maps, each
 * as far as its *_classes say; masquerading comes last.  A map is applied
 * again to its own result until the result stays the same or nothing is
 * found (at most ten times: more is a loop, and the message is not
 * accepted).  An address is looked up as user+ext@domain, user@domain,
 * then, when the domain is this host's (myorigin, mydestination, an
 * [address] of inet_interfaces or proxy_interfaces), user+ext and user,
 * then @domain; pattern tables see only the whole address.  A result
 * "@other" replaces only the domain; a result without a domain gets
 * @myorigin; an extension that the lookup cut off goes on to the result
 * when propagate_unmatched_extensions says canonical.  A table error
 * leaves the message unaccepted (451), never queued unrewritten.
 *
 * In headers only the addr-specs change: display names, comments,
 * quoting and folding stay byte for byte (Postfix rebuilds a rewritten
 * header from its tokens instead).  Then the address lists of the
 * virtual aliases and automatic BCC copies follow (smtpd_mappings_*),
 * in the order of Postfix's cleanup.
 */
#include "smtpd/smtpd_int.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "conf/conf.h"
#include "log/log.h"
#include "mime/mime.h"
#include "queue/queue.h"
#include "table/table.h"

/* Postfix's cleanup gives up after this many rounds of one map. */
#define CANON_RECURSION 10

/* The three maps, in the order a sender or a recipient meets them. */
enum { MAP_SENDER, MAP_RCPT, MAP_COMMON, MAP_N };

static const char *const map_param[MAP_N] = {
    "sender_canonical_maps",
    "recipient_canonical_maps",
    "canonical_maps",
};

/* One of this host's addresses. */
struct own_addr {
        int family;
        unsigned char a[16];
};

/* One element of masquerade_exceptions: a name or a table. */
struct masq_exception {
        char *name; /* or NULL */
        struct table_list *table;
};

/* local_header_rewrite_clients words */
#define LHRC_INET (1u << 0)
#define LHRC_MYNETWORKS (1u << 1)
#define LHRC_SASL (1u << 2)
#define LHRC_CCERTS (1u << 3)
#define LHRC_ALL_CCERTS (1u << 4)

struct smtpd_canon {
        struct table_list *maps[MAP_N]; /* NULL when not set */
        unsigned map_classes[MAP_N];
        unsigned masq_classes;      /* 0 without masquerade_domains */
        struct strlist masq;        /* masquerade_domains, "!" kept */
        struct masq_exception *exc; /* masquerade_exceptions */
        size_t nexc;
        char *delim;    /* recipient_delimiter */
        bool propagate; /* propagate_unmatched_extensions: canonical */
        char *myorigin;
        char *remote_domain; /* remote_header_rewrite_domain, or NULL */
        struct smtpd_domlist mydest;
        struct own_addr *inet, *proxy; /* inet_interfaces, proxy_... */
        size_t ninet, nproxy;
        unsigned lhrc;                  /* LHRC_* */
        struct table_list *lhrc_tables; /* or NULL */
};

/* The words of the *_classes settings. */
static const struct smtpd_word class_words[] = {
    {"envelope_sender", SMTPD_CANON_ENV_SENDER},
    {"envelope_recipient", SMTPD_CANON_ENV_RCPT},
    {"header_sender", SMTPD_CANON_HDR_SENDER},
    {"header_recipient", SMTPD_CANON_HDR_RCPT},
};

/* parse_classes - a *_classes setting as SMTPD_CANON_* bits */
static int parse_classes(const char *param, const char *value, unsigned *out,
                         char **err)
{
        return smtpd_words_mask(param, "address class", value, class_words,
                                ARRAY_SIZE(class_words), out, err);
}

/* smtpd_propagate_mask - propagate_unmatched_extensions as bits */
int smtpd_propagate_mask(const char *value, unsigned *bits, char **err)
{
        static const struct smtpd_word words[] = {
            {"canonical", SMTPD_PROPAGATE_CANONICAL},
            {"virtual", SMTPD_PROPAGATE_VIRTUAL},
            {"alias", 4},
            {"forward", 8},
            {"include", 16},
            {"generic", 32}};

        return smtpd_words_mask("propagate_unmatched_extensions", "word",
                                value ? value : "", words, ARRAY_SIZE(words),
                                bits, err);
}

/* parse_propagate - whether propagate_unmatched_extensions names
 * canonical (the other words are for other mechanisms) */
static int parse_propagate(const char *value, bool *canonical, char **err)
{
        unsigned bits = 0;
        int rc = smtpd_propagate_mask(value, &bits, err);

        *canonical = bits & SMTPD_PROPAGATE_CANONICAL;
        return rc;
}

/* own_add - one address of this host, once */
static void own_add(struct own_addr **v, size_t *n, int family,
                    const void *bytes, size_t len)
{
        struct own_addr a = {.family = family};

        memcpy(a.a, bytes, len);
        for (size_t i = 0; i < *n; i++)
                if (memcmp(&(*v)[i], &a, sizeof(a)) == 0)
                        return;
        *v = xreallocarray(*v, *n + 1, sizeof(**v));
        (*v)[(*n)++] = a;
}

/* own_sockaddr - the address of a sockaddr, when it is IPv4 or IPv6 */
static void own_sockaddr(struct own_addr **v, size_t *n,
                         const struct sockaddr *sa)
{
        if (sa == NULL)
                return;
        if (sa->sa_family == AF_INET)
                own_add(
                    v, n, AF_INET,
                    &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                    4);
        else if (sa->sa_family == AF_INET6)
                own_add(
                    v, n, AF_INET6,
                    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                    16);
}

/* own_addrs - the addresses of an inet_interfaces-like list: "all" is
 * every interface's, "loopback-only" 127.0.0.1 and ::1, a name its
 * addresses (at start-up, so a lookup may block) */
static void own_addrs(const char *param, const char *value, struct own_addr **v,
                      size_t *n)
{
        struct strlist w = {0};

        str_split(value ? value : "", LIST_SEPS, &w);
        for (size_t i = 0; i < w.n; i++) {
                char *a = w.v[i];
                size_t len = strlen(a);
                unsigned char b[16];
                int family;
                if (str_eq_ci(a, "all")) {
                        struct ifaddrs *ifs = NULL;
                        if (getifaddrs(&ifs) == 0)
                                for (struct ifaddrs *f = ifs; f;
                                     f = f->ifa_next)
                                        own_sockaddr(v, n, f->ifa_addr);
                        freeifaddrs(ifs);
                        continue;
                }
                if (str_eq_ci(a, "loopback-only")) {
                        own_add(v, n, AF_INET, "\x7f\0\0\1", 4);
                        own_add(v, n, AF_INET6, &in6addr_loopback, 16);
                        continue;
                }
                if (len > 2 && a[0] == '[' && a[len - 1] == ']') {
                        a[len - 1] = 0;
                        a++;
                }
                if (smtpd_addr_parse(a, &family, b) == 0) {
                        own_add(v, n, family, b, family == AF_INET ? 4 : 16);
                        continue;
                }
                struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
                if (getaddrinfo(a, NULL, &hints, &res) != 0) {
                        log_warnx("%s: cannot find the addresses of "
                                  "\"%s\"",
                                  param, a);
                        continue;
                }
                for (struct addrinfo *r = res; r; r = r->ai_next)
                        own_sockaddr(v, n, r->ai_addr);
                freeaddrinfo(res);
        }
        strlist_clear(&w);
}

/* own_match - whether text is one of v's addresses */
static bool own_match(const struct own_addr *v, size_t n, const char *text)
{
        struct own_addr a = {0};

        if (smtpd_addr_parse(text, &a.family, a.a) < 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (memcmp(&v[i], &a, sizeof(a)) == 0)
                        return true;
        return false;
}

/* load_exceptions - masquerade_exceptions: names and tables in order */
static int load_exceptions(struct smtpd_canon *k, const char *value, char **err)
{
        struct strlist items = {0};
        int rc = 0;

        conf_split_list(value ? value : "", &items);
        k->exc = xcalloc(items.n + 1, sizeof(*k->exc));
        for (size_t i = 0; i < items.n && rc == 0; i++) {
                struct masq_exception *e = &k->exc[k->nexc++];
                if (smtpd_is_table(items.v[i]))
                        rc = smtpd_open_maps("masquerade_exceptions",
                                             items.v[i], &e->table, err);
                else
                        e->name = xstrdup(items.v[i]);
        }
        strlist_clear(&items);
        return rc;
}

/* load_lhrc - local_header_rewrite_clients */
static int load_lhrc(struct smtpd_canon *k, const char *value, char **err)
{
        static const struct {
                const char *word;
                unsigned flag;
        } words[] = {
            {"permit_inet_interfaces", LHRC_INET},
            {"permit_mynetworks", LHRC_MYNETWORKS},
            {"permit_sasl_authenticated", LHRC_SASL},
            {"permit_tls_clientcerts", LHRC_CCERTS},
            {"permit_tls_all_clientcerts", LHRC_ALL_CCERTS},
        };
        struct strlist items = {0};
        struct strbuf tables;
        int rc = 0;

        strbuf_init(&tables);
        conf_split_list(value ? value : "", &items);
        for (size_t i = 0; i < items.n && rc == 0; i++) {
                const char *w = items.v[i];
                size_t j = 0;
                while (j < ARRAY_SIZE(words) && !str_eq_ci(w, words[j].word))
                        j++;
                if (j < ARRAY_SIZE(words)) {
                        k->lhrc |= words[j].flag;
                        continue;
                }
                if (str_eq_ci(w, "check_address_map") && i + 1 < items.n)
                        w = items.v[++i];
                if (!smtpd_is_table(w)) {
                        *err = xasprintf("local_header_rewrite_clients: "
                                         "unknown element \"%s\"",
                                         w);
                        rc = -1;
                        break;
                }
                strbuf_printf(&tables, "%s%s", tables.len ? " " : "", w);
        }
        if (rc == 0 && tables.len)
                rc =
                    smtpd_open_maps("local_header_rewrite_clients",
                                    strbuf_cstr(&tables), &k->lhrc_tables, err);
        strbuf_clear(&tables);
        strlist_clear(&items);
        return rc;
}

/* smtpd_canon_new - the settings of c */
int smtpd_canon_new(const struct conf *c, struct smtpd_canon **out, char **err)
{
        const char *maps[MAP_N] = {c->sender_canonical_maps,
                                   c->recipient_canonical_maps,
                                   c->canonical_maps};
        const char *classes[MAP_N] = {c->sender_canonical_classes,
                                      c->recipient_canonical_classes,
                                      c->canonical_classes};
        static const char *const class_param[MAP_N] = {
            "sender_canonical_classes", "recipient_canonical_classes",
            "canonical_classes"};
        static const unsigned allowed[MAP_N] = {
            SMTPD_CANON_ENV_SENDER | SMTPD_CANON_HDR_SENDER,
            SMTPD_CANON_ENV_RCPT | SMTPD_CANON_HDR_RCPT, ~0u};
        struct smtpd_canon *k;
        bool any = c->masquerade_domains && *c->masquerade_domains;

        *out = NULL;
        for (int i = 0; i < MAP_N; i++)
                any |= maps[i] && *maps[i];
        if (!any)
                return 0;
        k = xcalloc(1, sizeof(*k));
        for (int i = 0; i < MAP_N; i++) {
                if (smtpd_open_maps(map_param[i], maps[i], &k->maps[i], err) <
                        0 ||
                    parse_classes(class_param[i], classes[i],
                                  &k->map_classes[i], err) < 0)
                        goto bad;
                /* a sender map never sees recipients, and the other way
                 * round, whatever its classes say */
                k->map_classes[i] &= allowed[i];
                if (k->maps[i] == NULL)
                        k->map_classes[i] = 0;
        }
        if (parse_classes("masquerade_classes", c->masquerade_classes,
                          &k->masq_classes, err) < 0 ||
            parse_propagate(c->propagate_unmatched_extensions, &k->propagate,
                            err) < 0 ||
            load_exceptions(k, c->masquerade_exceptions, err) < 0 ||
            load_lhrc(k, c->local_header_rewrite_clients, err) < 0 ||
            smtpd_domlist_load(&k->mydest, "mydestination", c->mydestination,
                               false, err) < 0)
                goto bad;
        str_split(c->masquerade_domains ? c->masquerade_domains : "", LIST_SEPS,
                  &k->masq);
        if (k->masq.n == 0)
                k->masq_classes = 0;
        k->delim =
            xstrdup(c->recipient_delimiter ? c->recipient_delimiter : "");
        k->myorigin = xstrdup(c->myorigin ? c->myorigin : "");
        if (c->remote_header_rewrite_domain && *c->remote_header_rewrite_domain)
                k->remote_domain = xstrdup(c->remote_header_rewrite_domain);
        own_addrs("inet_interfaces", c->inet_interfaces, &k->inet, &k->ninet);
        own_addrs("proxy_interfaces", c->proxy_interfaces, &k->proxy,
                  &k->nproxy);
        *out = k;
        return 0;
bad:
        smtpd_canon_free(k);
        return -1;
}

/* smtpd_canon_free - release */
void smtpd_canon_free(struct smtpd_canon *k)
{
        if (k == NULL)
                return;
        for (int i = 0; i < MAP_N; i++)
                table_list_close(k->maps[i]);
        strlist_clear(&k->masq);
        for (size_t i = 0; i < k->nexc; i++) {
                free(k->exc[i].name);
                table_list_close(k->exc[i].table);
        }
        free(k->exc);
        free(k->delim);
        free(k->myorigin);
        free(k->remote_domain);
        smtpd_domlist_clear(&k->mydest);
        free(k->inet);
        free(k->proxy);
        table_list_close(k->lhrc_tables);
        free(k);
}

/* smtpd_canon_classes - what anything applies to */
unsigned smtpd_canon_classes(const struct smtpd_canon *k)
{
        unsigned cls = 0;

        if (k == NULL)
                return 0;
        for (int i = 0; i < MAP_N; i++)
                cls |= k->map_classes[i];
        return cls | k->masq_classes;
}

/* local_domain - whether a domain is this host's, for the user+ext and
 * user keys: myorigin, mydestination, or an [address] of its own */
static bool local_domain(struct smtpd_canon *k, const char *domain)
{
        size_t n = strlen(domain);

        if (str_eq_ci(domain, k->myorigin))
                return true;
        if (n > 2 && domain[0] == '[' && domain[n - 1] == ']') {
                char *lit = xstrndup(domain + 1, n - 2);
                const char *a = lit;
                if (strncasecmp(a, "IPv6:", 5) == 0)
                        a += 5;
                bool own = own_match(k->inet, k->ninet, a) ||
                           own_match(k->proxy, k->nproxy, a);
                free(lit);
                return own;
        }
        char *d = str_lower(xstrdup(domain));
        bool mine = smtpd_domlist_match(&k->mydest, d);
        free(d);
        return mine;
}

/* map_once - one lookup of addr in maps (param names them for the log):
 * 1 with *out (heap), 0 when nothing is found, -1 with *err */
static int map_once(struct smtpd_canon *k, struct table_list *maps,
                    const char *param, const char *addr, char **out, char **err)
{
        const char *at = strrchr(addr, '@');
        unsigned opts = !at || local_domain(k, at + 1) ? TABLE_ADDR_LOCAL : 0;
        /* a quoted local part (a header's) is looked up whole: a
         * delimiter inside the quotes cuts no extension */
        const char *delim = addr[0] == '"' ? "" : k->delim;
        enum table_addr_key which = TABLE_KEY_FULL;
        struct strlist results = {0};
        const char *v = NULL;
        char *e = NULL;

        switch (table_list_find_addr(maps, addr, delim, opts, &v, &which, &e)) {
        case TABLE_ERROR:
                *err = xasprintf("%s map lookup problem for %s: %s", param,
                                 addr, e);
                free(e);
                return -1;
        case TABLE_NOTFOUND:
                return 0;
        case TABLE_FOUND:
                break;
        }
        str_split(v, ", \t\r\n", &results);
        if (results.n == 0) {
                strlist_clear(&results);
                return 0;
        }
        if (results.n > 1)
                log_warnx("multi-valued %s entry for %s", param, addr);
        char *first = milter_addr(results.v[0]); /* without <> */
        strlist_clear(&results);
        /* the extension the key left out goes on to the result */
        char *ext = which == TABLE_KEY_BARE || which == TABLE_KEY_LOCAL_BARE
                        ? table_addr_extension(addr, delim)
                        : NULL;
        struct strbuf r;
        strbuf_init(&r);
        if (first[0] == '@') {
                /* the same user in another domain */
                size_t local = at ? (size_t)(at - addr) : strlen(addr);
                if (ext)
                        local -= strlen(ext);
                strbuf_add(&r, addr, local);
                strbuf_adds(&r, first);
        } else {
                strbuf_adds(&r, first);
                if (strchr(first, '@') == NULL && *k->myorigin)
                        strbuf_printf(&r, "@%s", k->myorigin);
        }
        free(first);
        char *res = strbuf_detach(&r);
        if (ext && k->propagate) {
                char *with = table_addr_with_ext(res, ext);
                free(res);
                res = with;
        }
        free(ext);
        *out = res;
        return 1;
}

/* map11 - *addr through one map until it stays the same: whether it
 * changed, or -1 with *err */
static int map11(struct smtpd_canon *k, int m, char **addr, char **err)
{
        int changed = 0;

        for (int round = 0; round < CANON_RECURSION; round++) {
                char *next = NULL;
                int rc =
                    map_once(k, k->maps[m], map_param[m], *addr, &next, err);
                if (rc <= 0)
                        return rc < 0 ? -1 : changed;
                bool same = strcasecmp(next, *addr) == 0;
                changed |= strcmp(next, *addr) != 0;
                free(*addr);
                *addr = next;
                if (same)
                        return changed;
        }
        *err = xasprintf("unreasonable %s map nesting for %s", map_param[m],
                         *addr);
        return -1;
}

/* excepted - whether masquerade_exceptions names the user: 1, 0, or
 * -1 with *err */
static int excepted(struct smtpd_canon *k, const char *user, char **err)
{
        for (size_t i = 0; i < k->nexc; i++) {
                const struct masq_exception *x = &k->exc[i];
                if (x->name) {
                        if (strcasecmp(x->name, user) == 0)
                                return 1;
                        continue;
                }
                const char *v;
                char *e = NULL;
                switch (table_list_lookup(x->table, user, &v, NULL, &e)) {
                case TABLE_FOUND:
                        return 1;
                case TABLE_ERROR:
                        *err = xasprintf("masquerade_exceptions map lookup "
                                         "problem for %s: %s",
                                         user, e);
                        free(e);
                        return -1;
                case TABLE_NOTFOUND:
                        break;
                }
        }
        return 0;
}

/* masquerade - *addr with its domain cut to the first masquerade domain
 * it lies below: whether it changed, or -1 with *err */
static int masquerade(struct smtpd_canon *k, char **addr, char **err)
{
        char *at = strrchr(*addr, '@');

        if (at == NULL)
                return 0;
        char *user = xstrndup(*addr, (size_t)(at - *addr));
        int rc = excepted(k, user, err);
        const char *domain = at + 1;
        size_t dl = strlen(domain);

        for (size_t i = 0; i < k->masq.n && rc == 0; i++) {
                const char *m = k->masq.v[i];
                bool cut = true;
                for (; *m == '!'; m++)
                        cut = !cut;
                size_t ml = strlen(m);
                if (ml == 0)
                        continue;
                if (ml == dl && strcasecmp(m, domain) == 0)
                        break; /* the domain itself stays */
                if (ml < dl && domain[dl - ml - 1] == '.' &&
                    strcasecmp(domain + dl - ml, m) == 0) {
                        if (cut) {
                                char *n = xasprintf("%s@%s", user, m);
                                free(*addr);
                                *addr = n;
                                rc = 1;
                        }
                        break;
                }
        }
        free(user);
        return rc;
}

/* smtpd_canon_addr - one address through the maps of its class */
int smtpd_canon_addr(struct smtpd_canon *k, unsigned cls, const char *addr,
                     char **out, char **err)
{
        bool sender = cls & (SMTPD_CANON_ENV_SENDER | SMTPD_CANON_HDR_SENDER);
        const int order[2] = {sender ? MAP_SENDER : MAP_RCPT, MAP_COMMON};
        char *a = xstrdup(addr);
        int rc = 0;

        *out = NULL;
        for (int i = 0; i < 2 && rc >= 0; i++)
                if (k->map_classes[order[i]] & cls)
                        rc = map11(k, order[i], &a, err);
        if (rc >= 0 && (k->masq_classes & cls))
                rc = masquerade(k, &a, err);
        if (rc < 0 || strcmp(a, addr) == 0) {
                free(a);
                return rc < 0 ? -1 : 0;
        }
        *out = a;
        return 1;
}

/* smtpd_canon_envelope - the sender, and the recipients from first on */
int smtpd_canon_envelope(struct smtpd_canon *k, struct queue_env *env,
                         bool sender, size_t first, char **err)
{
        char *n = NULL;
        int rc;

        if (k == NULL)
                return 0;
        if (sender && env->sender && *env->sender) {
                if ((rc = smtpd_canon_addr(k, SMTPD_CANON_ENV_SENDER,
                                           env->sender, &n, err)) < 0)
                        return -1;
                if (rc) {
                        free(env->sender);
                        env->sender = n;
                }
        }
        for (size_t i = first; i < env->nrcpt; i++) {
                struct queue_rcpt *r = &env->rcpt[i];
                if ((rc = smtpd_canon_addr(k, SMTPD_CANON_ENV_RCPT, r->addr, &n,
                                           err)) < 0)
                        return -1;
                if (rc == 0)
                        continue;
                bool dup = false;
                for (size_t j = 0; j < env->nrcpt && !dup; j++)
                        dup = j != i && strcasecmp(env->rcpt[j].addr, n) == 0;
                if (dup) {
                        /* two addresses became one: one delivery */
                        free(n);
                        queue_env_del_rcpt(env, i--);
                        continue;
                }
                /* a DSN names the address the client gave */
                if (r->orcpt == NULL)
                        r->orcpt = xasprintf("rfc822;%s", r->addr);
                free(r->addr);
                r->addr = n;
        }
        return 0;
}

/* smtpd_canon_header_domain - where headers are rewritten */
const char *smtpd_canon_header_domain(const struct smtpd_canon *k, bool local)
{
        if (!(smtpd_canon_classes(k) & SMTPD_CANON_HEADERS))
                return NULL;
        return local ? k->myorigin : k->remote_domain;
}

/* The headers whose addresses are senders or recipients (Postfix's
 * header_opts). */
static const struct {
        const char *name;
        unsigned cls;
} addr_headers[] = {
    {"From", SMTPD_CANON_HDR_SENDER},
    {"Sender", SMTPD_CANON_HDR_SENDER},
    {"Reply-To", SMTPD_CANON_HDR_SENDER},
    {"Errors-To", SMTPD_CANON_HDR_SENDER},
    {"Resent-From", SMTPD_CANON_HDR_SENDER},
    {"Resent-Sender", SMTPD_CANON_HDR_SENDER},
    {"Return-Path", SMTPD_CANON_HDR_SENDER},
    {"Return-Receipt-To", SMTPD_CANON_HDR_SENDER},
    {"Mail-Followup-To", SMTPD_CANON_HDR_SENDER},
    {"Disposition-Notification-To", SMTPD_CANON_HDR_SENDER},
    {"To", SMTPD_CANON_HDR_RCPT},
    {"Cc", SMTPD_CANON_HDR_RCPT},
    {"Bcc", SMTPD_CANON_HDR_RCPT},
    {"Resent-To", SMTPD_CANON_HDR_RCPT},
    {"Resent-Cc", SMTPD_CANON_HDR_RCPT},
    {"Resent-Bcc", SMTPD_CANON_HDR_RCPT},
    {"Resent-Reply-To", SMTPD_CANON_HDR_RCPT},
    {"Apparently-To", SMTPD_CANON_HDR_RCPT},
};

/* One header on its way through the rewriting. */
struct hdr_rewrite {
        struct smtpd_canon *k;
        unsigned cls;
        const char *domain;
        const char *value; /* the text the scanner's offsets count from */
        size_t done;       /* value bytes copied to out so far */
        struct strbuf out; /* the value rewritten so far */
        char *err;         /* the first error; nothing more is looked up */
};

/* on_addr - one address of the header */
static void on_addr(void *arg, const struct mime_addr *m)
{
        struct hdr_rewrite *h = arg;
        char *qual = NULL, *n = NULL;

        if (h->err)
                return;
        if (strchr(m->addr, '@') == NULL && h->domain && *h->domain)
                qual = xasprintf("%s@%s", m->addr, h->domain);
        int rc =
            smtpd_canon_addr(h->k, h->cls, qual ? qual : m->addr, &n, &h->err);
        const char *final = rc > 0 ? n : qual;
        if (rc >= 0 && final && strcmp(final, m->addr) != 0) {
                strbuf_add(&h->out, h->value + h->done, m->off - h->done);
                strbuf_adds(&h->out, final);
                h->done = m->off + m->len;
        }
        free(qual);
        free(n);
}

/* smtpd_canon_header - the addresses of one header */
int smtpd_canon_header(struct smtpd_canon *k, const char *domain,
                       const char *text, size_t len, struct strbuf *out,
                       char **err)
{
        size_t name = mime_header_name(text, len);
        unsigned cls = 0;

        if (k == NULL || name == 0)
                return 0;
        for (size_t i = 0; i < ARRAY_SIZE(addr_headers) && !cls; i++)
                if (strlen(addr_headers[i].name) == name &&
                    strncasecmp(text, addr_headers[i].name, name) == 0)
                        cls = addr_headers[i].cls;
        if (cls == 0)
                return 0;
        const char *colon = memchr(text, ':', len);
        size_t head = (size_t)(colon + 1 - text);
        struct hdr_rewrite h = {
            .k = k,
            .cls = cls,
            .domain = domain,
            .value = text + head,
        };
        strbuf_init(&h.out);
        mime_addrlist_scan(h.value, len - head, on_addr, &h);
        int rc = h.err ? -1 : h.done > 0;
        if (rc > 0) {
                strbuf_add(out, text, head);
                strbuf_add(out, h.out.s, h.out.len);
                strbuf_add(out, h.value + h.done, len - head - h.done);
        }
        *err = h.err;
        strbuf_clear(&h.out);
        return rc;
}

/* smtpd_canon_local_client - local_header_rewrite_clients */
bool smtpd_canon_local_client(struct smtpd_canon *k,
                              const struct smtpd_canon_client *cl)
{
        if (k == NULL)
                return false;
        if (((k->lhrc & LHRC_INET) && cl->addr &&
             own_match(k->inet, k->ninet, cl->addr)) ||
            ((k->lhrc & LHRC_MYNETWORKS) && cl->mynetworks) ||
            ((k->lhrc & LHRC_SASL) && cl->sasl) ||
            ((k->lhrc & LHRC_CCERTS) && cl->ccert_listed) ||
            ((k->lhrc & LHRC_ALL_CCERTS) && cl->ccert_trusted))
                return true;
        if (k->lhrc_tables && cl->addr) {
                const char *v;
                char *e = NULL;
                switch (
                    table_list_lookup(k->lhrc_tables, cl->addr, &v, NULL, &e)) {
                case TABLE_FOUND:
                        return true;
                case TABLE_ERROR:
                        log_warnx("local_header_rewrite_clients lookup of "
                                  "%s: %s",
                                  cl->addr, e);
                        free(e);
                        break;
                case TABLE_NOTFOUND:
                        break;
                }
        }
        return false;
}

/* smtpd_mappings_open - the mappings of c */
int smtpd_mappings_open(const struct conf *c, struct smtpd_mappings *m,
                        char **err)
{
        unsigned no = 0;

        memset(m, 0, sizeof(*m));
        if (smtpd_receive_overrides(c, &no, err) < 0)
                return -1;
        if (no & SMTPD_NO_ADDRESS_MAPPINGS)
                return 0;
        if (smtpd_canon_new(c, &m->canon, err) < 0 ||
            smtpd_bcc_new(c, &m->bcc, err) < 0 ||
            smtpd_virtual_new(c, &m->valias, err) < 0) {
                smtpd_mappings_close(m);
                return -1;
        }
        return 0;
}

/* smtpd_mappings_close - release */
void smtpd_mappings_close(struct smtpd_mappings *m)
{
        smtpd_canon_free(m->canon);
        smtpd_bcc_free(m->bcc);
        smtpd_virtual_free(m->valias);
        memset(m, 0, sizeof(*m));
}

/* smtpd_mappings_apply - as Postfix's cleanup: canonical and masquerade,
 * then the copies (looked up by the rewritten addresses, and rewritten
 * in turn), then aliases of them all */
int smtpd_mappings_apply(const struct smtpd_mappings *m,
                         const struct strlist *bcc, struct queue_env *env,
                         char **err)
{
        if (smtpd_canon_envelope(m->canon, env, true, 0, err) < 0)
                return -1;
        size_t n = env->nrcpt;
        for (size_t i = 0; bcc && i < bcc->n; i++)
                smtpd_bcc_copy(env, bcc->v[i]);
        if (smtpd_bcc_add(m->bcc, env, err) < 0 ||
            (n < env->nrcpt &&
             smtpd_canon_envelope(m->canon, env, false, n, err) < 0) ||
            smtpd_virtual_expand(m->valias, env, err) < 0)
                return -1;
        return 0;
}

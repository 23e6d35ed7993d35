/* SPDX-License-Identifier: MIT */
/* qmgr_route.c - recipient routing (trivial-rewrite's job) and back-off */
#include "qmgr/qmgr.h"
#include "conf/conf.h"
#include "table/table.h"

#include <stdlib.h>
#include <string.h>

struct qmgr_routes {
        const struct conf *conf;
        const struct qmgr_transport_def *defs; /* master.cf transports */
        size_t ndefs;
        struct table_list *transport;
        struct table_list *sdrelay;   /* sender_dependent_relayhost_maps */
        struct table_list *relocated; /* relocated_maps */
        struct strlist mydest;        /* literal domains, lower case */
        struct table_list *mydest_t;  /* type:table entries */
        struct strlist vdom;
        struct table_list *vdom_t;
        struct strlist valias; /* virtual_alias_domains */
        struct table_list *valias_t;
};

/* split_domains - literal entries and type:table entries of a LIST */
static int split_domains(const char *value, struct strlist *lit,
                         struct table_list **tabs, char **err)
{
        struct strlist all = {0};
        struct strbuf specs;

        strbuf_init(&specs);
        conf_split_list(value, &all);
        for (size_t i = 0; i < all.n; i++) {
                if (strchr(all.v[i], ':') && all.v[i][0] != '[') {
                        strbuf_printf(&specs, "%s%s", specs.len ? " " : "",
                                      all.v[i]);
                        continue;
                }
                char *d = xstrdup(all.v[i]);
                strlist_push(lit, str_lower(d));
                free(d);
        }
        strlist_clear(&all);
        int rc = table_list_open(strbuf_cstr(&specs), tabs, err);
        strbuf_clear(&specs);
        return rc;
}

/* qmgr_routes_new - open the routing tables */
int qmgr_routes_new(const struct conf *c, const struct qmgr_transport_def *defs,
                    size_t ndefs, struct qmgr_routes **out, char **err)
{
        struct qmgr_routes *r = xcalloc(1, sizeof(*r));

        r->conf = c;
        r->defs = defs;
        r->ndefs = defs ? ndefs : 0;
        *out = NULL;
        if (table_list_open(c->transport_maps, &r->transport, err) < 0 ||
            table_list_open(c->sender_dependent_relayhost_maps, &r->sdrelay,
                            err) < 0 ||
            table_list_open(c->relocated_maps, &r->relocated, err) < 0 ||
            split_domains(c->mydestination, &r->mydest, &r->mydest_t, err) <
                0 ||
            split_domains(c->virtual_mailbox_domains, &r->vdom, &r->vdom_t,
                          err) < 0 ||
            split_domains(c->virtual_alias_domains, &r->valias, &r->valias_t,
                          err) < 0) {
                qmgr_routes_free(r);
                return -1;
        }
        *out = r;
        return 0;
}

/* qmgr_routes_free - release */
void qmgr_routes_free(struct qmgr_routes *r)
{
        if (r == NULL)
                return;
        table_list_close(r->transport);
        table_list_close(r->sdrelay);
        table_list_close(r->relocated);
        table_list_close(r->mydest_t);
        table_list_close(r->vdom_t);
        table_list_close(r->valias_t);
        strlist_clear(&r->mydest);
        strlist_clear(&r->vdom);
        strlist_clear(&r->valias);
        free(r);
}

/* qmgr_route_clear - free a route's strings */
void qmgr_route_clear(struct qmgr_route *rt)
{
        free(rt->name);
        free(rt->nexthop);
        free(rt->policy_key);
        free(rt->text);
        memset(rt, 0, sizeof(*rt));
}

/* qmgr_transport_name - printable transport */
const char *qmgr_transport_name(enum qmgr_transport t)
{
        static const char *const names[] = {
            "smtp", "lmtp", "local", "virtual", "discard", "error", "retry"};
        return (size_t)t < ARRAY_SIZE(names) ? names[t] : "?";
}

/* qmgr_backoff - exponential back-off between min and max */
long long qmgr_backoff(long long min, long long max, unsigned attempts)
{
        long long d = min > 0 ? min : 1;

        if (max < d)
                max = d;
        for (unsigned i = 1; i < attempts && d < max; i++)
                d = d > max / 2 ? max : d * 2;
        return d < max ? d : max;
}

/* in_domains - whether domain is one of a list's domains or tables */
static int in_domains(const struct strlist *lit, struct table_list *tabs,
                      const char *domain, bool *yes, char **err)
{
        const char *v;

        *yes = false;
        for (size_t i = 0; i < lit->n; i++)
                if (strcmp(lit->v[i], domain) == 0) {
                        *yes = true;
                        return 0;
                }
        enum table_status st = table_list_lookup(tabs, domain, &v, NULL, err);
        if (st == TABLE_ERROR)
                return -1;
        *yes = st == TABLE_FOUND;
        return 0;
}

/* qmgr_transport_find - a master.cf transport, else a built-in one */
int qmgr_transport_find(const struct qmgr_transport_def *defs, size_t n,
                        const char *name, size_t len, enum qmgr_transport *t,
                        const struct qmgr_transport_def **def)
{
        static const struct {
                const char *name;
                enum qmgr_transport t;
        } map[] = {
            {"smtp", QMGR_T_SMTP},       {"relay", QMGR_T_SMTP},
            {"lmtp", QMGR_T_LMTP},       {"local", QMGR_T_LOCAL},
            {"virtual", QMGR_T_VIRTUAL}, {"discard", QMGR_T_DISCARD},
            {"error", QMGR_T_ERROR},     {"retry", QMGR_T_RETRY},
        };

        if (def)
                *def = NULL;
        for (size_t i = 0; defs && i < n; i++)
                if (strlen(defs[i].name) == len &&
                    strncmp(defs[i].name, name, len) == 0) {
                        *t = defs[i].kind;
                        if (def)
                                *def = &defs[i];
                        return 0;
                }
        for (size_t i = 0; i < ARRAY_SIZE(map); i++)
                if (strlen(map[i].name) == len &&
                    strncmp(map[i].name, name, len) == 0) {
                        *t = map[i].t;
                        return 0;
                }
        return -1;
}

/* parse_transport - "name:nexthop" into a transport, its name (NULL when
 * the value names none: ":nexthop" keeps the default) and a nexthop (NULL
 * when empty); -1 for an unknown transport name */
static int parse_transport(const struct qmgr_routes *r, const char *value,
                           enum qmgr_transport *t, char **name, char **nexthop)
{
        const char *colon = strchr(value, ':');
        size_t n = colon ? (size_t)(colon - value) : strlen(value);
        const char *rest = colon ? colon + 1 : "";

        *name = NULL;
        *nexthop = NULL;
        if (n > 0 &&
            qmgr_transport_find(r->defs, r->ndefs, value, n, t, NULL) < 0)
                return -1;
        while (*rest == ' ' || *rest == '\t')
                rest++;
        *nexthop = *rest ? xstrdup(rest) : NULL;
        *name = n > 0 ? xstrndup(value, n) : NULL;
        return 0;
}

/* relay_for - the relay host for mail from sender:
 * sender_dependent_relayhost_maps (the address, then "@domain"; the null
 * sender as empty_address_relayhost_maps_lookup_key; DUNNO ends the search
 * without a result), else relayhost.  *relay is NULL when neither names
 * one; -1 with *err on a table error */
static int relay_for(struct qmgr_routes *r, const char *sender, char **relay,
                     char **err)
{
        const struct conf *c = r->conf;
        enum table_status st = TABLE_NOTFOUND;
        const char *v = NULL;

        *relay = NULL;
        if (sender && *sender == 0)
                st = table_list_lookup(
                    r->sdrelay, c->empty_address_relayhost_maps_lookup_key, &v,
                    NULL, err);
        else if (sender)
                st = table_list_lookup_addr(r->sdrelay, sender, "", &v, err);
        if (st == TABLE_ERROR)
                return -1;
        if (st == TABLE_FOUND && strcasecmp(v, "DUNNO") != 0)
                *relay = xstrdup(v);
        else if (*c->relayhost)
                *relay = xstrdup(c->relayhost);
        return 0;
}

/* route_fill - the route's strings once its transport is known: smtp
 * and lmtp go to hop, else dhop, else the domain; error and retry say
 * hop */
static void route_fill(struct qmgr_route *out, enum qmgr_transport t,
                       char *name, const char *hop, const char *dhop,
                       const char *domain)
{
        out->transport = t;
        out->name = name;
        switch (t) {
        case QMGR_T_SMTP:
        case QMGR_T_LMTP:
                out->nexthop = xstrdup(hop ? hop : dhop ? dhop : domain);
                out->policy_key = xstrdup(out->nexthop);
                break;
        case QMGR_T_ERROR:
        case QMGR_T_RETRY:
                out->text = xstrdup(hop ? hop : "mail transport unavailable");
                break;
        default:
                break;
        }
}

/* qmgr_route - one recipient */
int qmgr_route(struct qmgr_routes *r, const char *sender, const char *rcpt,
               struct qmgr_route *out, char **err)
{
        const struct conf *c = r->conf;
        const char *at = strrchr(rcpt, '@');
        char *domain = xstrdup(at ? at + 1 : "");
        char *addr = xstrdup(rcpt);
        const char *v = NULL, *deftext;
        enum table_status st;
        enum qmgr_transport t;
        char *hop = NULL, *dhop = NULL, *name = NULL, *mname = NULL;
        bool yes, local = false;
        int rc = -1;

        memset(out, 0, sizeof(*out));
        str_lower(domain);
        str_lower(addr);
        /* a user who has moved: bounced with his new address */
        st = table_list_lookup_addr(r->relocated, addr, c->recipient_delimiter,
                                    &v, err);
        if (st == TABLE_ERROR)
                goto out;
        if (st == TABLE_FOUND) {
                out->transport = QMGR_T_ERROR;
                out->name = xstrdup("error");
                out->text = xasprintf("5.1.6 User has moved to %s", v);
                rc = 0;
                goto out;
        }
        /* the default for the domain's class */
        if (in_domains(&r->mydest, r->mydest_t, domain, &yes, err) < 0)
                goto out;
        local = yes;
        if (yes || *domain == 0) {
                deftext = c->local_transport;
        } else if (in_domains(&r->valias, r->valias_t, domain, &yes, err) < 0) {
                goto out;
        } else if (yes) {
                /* an address of a virtual alias domain that no alias
                 * replaced (postern send, or the table changed since) */
                out->transport = QMGR_T_ERROR;
                out->name = xstrdup("error");
                out->text = xstrdup("5.1.1 User unknown in virtual alias "
                                    "table");
                rc = 0;
                goto out;
        } else {
                if (in_domains(&r->vdom, r->vdom_t, domain, &yes, err) < 0)
                        goto out;
                deftext = yes ? c->virtual_transport : c->default_transport;
        }
        if (parse_transport(r, deftext, &t, &name, &dhop) < 0 || name == NULL) {
                *err = xasprintf("unknown mail transport \"%s\"", deftext);
                goto out;
        }
        if (t == QMGR_T_LOCAL || t == QMGR_T_VIRTUAL) {
                free(dhop); /* local:$myhostname names no real next hop */
                dhop = NULL;
        } else if (t == QMGR_T_SMTP && dhop == NULL &&
                   relay_for(r, sender, &dhop, err) < 0) {
                goto out;
        }
        /* transport_maps: the address, the domain (and .parents), "*" */
        st = table_list_lookup(r->transport, addr, &v, NULL, err);
        if (st == TABLE_NOTFOUND && *domain)
                st = table_list_lookup_domain(r->transport, domain, &v, NULL,
                                              err);
        if (st == TABLE_NOTFOUND)
                st = table_list_lookup(r->transport, "*", &v, NULL, err);
        if (st == TABLE_ERROR)
                goto out;
        if (st == TABLE_FOUND) {
                enum qmgr_transport mt = t;
                if (parse_transport(r, v, &mt, &mname, &hop) < 0) {
                        *err = xasprintf("transport_maps: unknown mail "
                                         "transport in \"%s\"",
                                         v);
                        goto out;
                }
                if (mname && strcmp(mname, name) != 0) {
                        free(dhop);
                        dhop = NULL;
                        if (mt == QMGR_T_SMTP &&
                            relay_for(r, sender, &dhop, err) < 0)
                                goto out;
                        free(name);
                        name = mname;
                        mname = NULL;
                }
                t = mt;
        }
        out->aliases = t == QMGR_T_LOCAL;
        /* local(8)'s mailbox_transport: what would be delivered locally
         * goes there instead (Dovecot's LMTP, most often), after the
         * aliases */
        if (t == QMGR_T_LOCAL && (local || *domain == 0) &&
            *c->mailbox_transport) {
                free(hop);
                free(name);
                if (parse_transport(r, c->mailbox_transport, &t, &name, &hop) <
                        0 ||
                    name == NULL) {
                        *err = xasprintf("mailbox_transport: unknown mail "
                                         "transport \"%s\"",
                                         c->mailbox_transport);
                        goto out;
                }
                if (t == QMGR_T_LOCAL) {
                        free(hop);
                        hop = NULL;
                }
        }
        route_fill(out, t, name, hop, dhop, domain);
        name = NULL;
        rc = 0;
out:
        free(name);
        free(mname);
        free(hop);
        free(dhop);
        free(domain);
        free(addr);
        return rc;
}

/* qmgr_route_filter - one recipient of a message with a content filter */
int qmgr_route_filter(struct qmgr_routes *r, const char *filter,
                      const char *rcpt, struct qmgr_route *out, char **err)
{
        const char *at = strrchr(rcpt, '@');
        enum qmgr_transport t;
        char *name = NULL, *hop = NULL;

        memset(out, 0, sizeof(*out));
        if (parse_transport(r, filter, &t, &name, &hop) < 0 || name == NULL) {
                *err = xasprintf("content filter \"%s\": unknown mail "
                                 "transport",
                                 filter);
                free(hop);
                return -1;
        }
        /* no next hop: default_filter_nexthop, else the recipient domain
         * (Postfix 2.7 and later), else this host */
        const char *dhop = *r->conf->default_filter_nexthop
                               ? r->conf->default_filter_nexthop
                           : at && at[1] ? at + 1
                                         : r->conf->myhostname;
        char *domain = str_lower(xstrdup(dhop));
        route_fill(out, t, name, hop, NULL, domain);
        free(domain);
        free(hop);
        return 0;
}

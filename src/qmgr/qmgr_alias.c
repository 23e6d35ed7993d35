/* SPDX-License-Identifier: MIT */
/*
 * qmgr_alias.c - alias_maps, as Postfix's local(8) expands aliases(5)
 * before a mailbox delivery.  The expansion is pure: it turns one
 * recipient into the addresses that replace it, and the queue manager
 * queues them as a new message (qmgr.c, alias_forward).
 *
 * A local name in a result is expanded again, in process, as local(8)
 * does; an alias that names itself (root: root, admin@example.org) is
 * the mailbox, and an expansion that comes back to a name further up
 * its chain is an alias database loop (5.4.6).  Commands, files and
 * :include: are not delivered by postern: such an entry defers the
 * recipient, so the mail waits while the administrator fixes the alias.
 */
#include "conf/conf.h"
#include "qmgr/qmgr.h"
#include "table/table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* the depth at which Postfix's local(8) calls it a loop */
#define ALIAS_MAX_DEPTH 100

struct qmgr_aliases {
        const struct conf *conf;
        struct qmgr_routes *routes;
        struct table_list *maps; /* NULL: unavailable, see err */
        char *err;               /* why alias_maps could not be opened */
        bool propagate;          /* propagate_unmatched_extensions: alias */
};

/* qmgr_alias_specs - the tables of alias_maps postern can open: NIS has
 * no equivalent here (Postfix's own default names nis:mail.aliases, which
 * finds nothing on a host without NIS) */
char *qmgr_alias_specs(const char *value)
{
        struct strlist all = {0};
        struct strbuf sb;

        strbuf_init(&sb);
        conf_split_list(value, &all);
        for (size_t i = 0; i < all.n; i++)
                if (strncmp(all.v[i], "nis:", 4) != 0 &&
                    strncmp(all.v[i], "nisplus:", 8) != 0)
                        strbuf_printf(&sb, "%s%s", sb.len ? " " : "", all.v[i]);
        strlist_clear(&all);
        char *s = xstrdup(strbuf_cstr(&sb));
        strbuf_clear(&sb);
        return s;
}

/* qmgr_aliases_new - open alias_maps */
int qmgr_aliases_new(const struct conf *c, struct qmgr_routes *routes,
                     struct qmgr_aliases **out, char **warn)
{
        struct qmgr_aliases *a = xcalloc(1, sizeof(*a));
        const struct conf_param *p = conf_param_find("alias_maps");
        struct strlist words = {0};
        char *specs = qmgr_alias_specs(c->alias_maps), *err = NULL;

        *warn = NULL;
        a->conf = c;
        a->routes = routes;
        conf_split_list(c->propagate_unmatched_extensions, &words);
        for (size_t i = 0; i < words.n; i++)
                a->propagate |= strcasecmp(words.v[i], "alias") == 0;
        strlist_clear(&words);
        if (table_list_open_flags(specs, TABLE_OPEN_ALIASES, &a->maps, &err) <
            0) {
                /* the default names /etc/aliases whether or not anyone
                 * built it: without a table, mail goes to the mailboxes,
                 * as before alias_maps was implemented.  A table the
                 * administrator named must work: until it does, local mail
                 * waits (as with Postfix's local(8)) */
                if (p && strcmp(c->alias_maps, p->def) == 0) {
                        a->maps = NULL; /* quietly: nothing was asked */
                        free(err);
                } else {
                        *warn = xasprintf("alias_maps: %s", err);
                        a->err = xasprintf("alias_maps unavailable: %s", err);
                        free(err);
                }
        }
        free(specs);
        *out = a;
        return 0;
}

/* qmgr_aliases_free - release */
void qmgr_aliases_free(struct qmgr_aliases *a)
{
        if (a == NULL)
                return;
        table_list_close(a->maps);
        free(a->err);
        free(a);
}

/* qmgr_alias_result_clear - free a result */
void qmgr_alias_result_clear(struct qmgr_alias_result *r)
{
        strlist_clear(&r->addrs);
        free(r->mailbox);
        free(r->text);
        memset(r, 0, sizeof(*r));
}

/* set_outcome - a defer or a bounce, with its text */
static int set_outcome(struct qmgr_alias_result *r, enum qmgr_alias_status st,
                       const char *dsn, char *text)
{
        r->status = st;
        snprintf(r->dsn, sizeof(r->dsn), "%s", dsn);
        free(r->text);
        r->text = text;
        return -1;
}

/* add_target - one resulting address, once */
static void add_target(struct qmgr_alias_result *r, const char *addr,
                       bool mailbox)
{
        for (size_t i = 0; i < r->addrs.n; i++)
                if (strcasecmp(r->addrs.v[i], addr) == 0)
                        return;
        strlist_push(&r->addrs, addr);
        r->mailbox = xreallocarray(r->mailbox, r->addrs.n, sizeof(bool));
        r->mailbox[r->addrs.n - 1] = mailbox;
}

/* unquote - an element that is one quoted string, without its quotes
 * ("|cmd arg" -> |cmd arg); else a copy */
static char *unquote(const char *el)
{
        size_t n = strlen(el);

        if (n >= 2 && el[0] == '"' && el[n - 1] == '"')
                return xstrndup(el + 1, n - 2);
        return xstrdup(el);
}

/* internal - the first n bytes of a local part without its quoting
 * ("loop a" -> loop a), the form alias names are stored in (heap) */
static char *internal(const char *s, size_t n)
{
        char *out = xmalloc(n + 1), *o = out;

        for (size_t i = 0; i < n; i++) {
                if (s[i] == '\\' && i + 1 < n)
                        *o++ = s[++i];
                else if (s[i] != '"')
                        *o++ = s[i];
        }
        *o = 0;
        return out;
}

/* qmgr_alias_undeliverable - a command, a file or an include list */
bool qmgr_alias_undeliverable(const char *el)
{
        char *u = unquote(el);
        bool bad =
            u[0] == '|' || u[0] == '/' || strncasecmp(u, ":include:", 9) == 0;

        free(u);
        return bad;
}

struct chain {
        const char *name;
        const struct chain *up;
};

static int expand_name(struct qmgr_aliases *a, const char *sender,
                       const char *name, const char *ext,
                       const struct chain *up, unsigned depth,
                       struct qmgr_alias_result *r, bool *found);

/* expand_element - one element of name's alias value */
static int expand_element(struct qmgr_aliases *a, const char *sender,
                          const char *el, const char *ext,
                          const struct chain *self, unsigned depth,
                          struct qmgr_alias_result *r)
{
        struct qmgr_route rt;
        char *rerr = NULL, *addr;
        int rc = 0;

        if (qmgr_alias_undeliverable(el)) {
                char *u = unquote(el);

                rc = set_outcome(
                    r, QMGR_ALIAS_DEFER, "4.3.0",
                    xasprintf("alias %s: postern does not deliver to commands "
                              "or files: %s",
                              self->name, u));
                free(u);
                return rc;
        }
        /* an unqualified name gets @myorigin, as Postfix's cleanup adds */
        addr = strchr(el, '@') ? xstrdup(el)
                               : xasprintf("%s@%s", el, a->conf->myorigin);
        if (a->propagate && ext) {
                char *x = table_addr_with_ext(addr, ext);
                free(addr);
                addr = x;
        }
        if (qmgr_route(a->routes, sender, addr, &rt, &rerr) < 0) {
                rc = set_outcome(r, QMGR_ALIAS_DEFER, "4.3.0",
                                 xasprintf("alias %s: %s", self->name, rerr));
                free(rerr);
                free(addr);
                return rc;
        }
        if (!rt.aliases) {
                add_target(r, addr, false); /* leaves local(8): forwarded */
        } else {
                const char *at = strrchr(addr, '@');
                char *local = internal(addr, (size_t)(at - addr));
                bool found = false;
                str_lower(local);
                /* an alias that names itself is its mailbox; another
                 * local name is expanded in turn, or is a mailbox */
                if (strcmp(local, self->name) != 0)
                        rc = expand_name(a, sender, local, NULL, self,
                                         depth + 1, r, &found);
                if (rc == 0 && !found)
                        add_target(r, addr, true);
                free(local);
        }
        qmgr_route_clear(&rt);
        free(addr);
        return rc;
}

/* expand_name - the alias of a local name (user+ext tried before user
 * when ext is given) into r; *found false when it has none.  -1 when the
 * expansion stops (r says why: a loop, a table error, a command) */
static int expand_name(struct qmgr_aliases *a, const char *sender,
                       const char *name, const char *ext,
                       const struct chain *up, unsigned depth,
                       struct qmgr_alias_result *r, bool *found)
{
        const struct chain self = {name, up};
        const char *v = NULL;
        char *err = NULL, *key = NULL;
        enum table_status st = TABLE_NOTFOUND;
        struct strlist els = {0};
        int rc = 0;

        *found = false;
        for (const struct chain *c = up; c; c = c->up)
                if (strcmp(c->name, name) == 0 || depth > ALIAS_MAX_DEPTH)
                        return set_outcome(
                            r, QMGR_ALIAS_BOUNCE, "5.4.6",
                            xasprintf("alias database loop for %s", name));
        if (ext) {
                key = xasprintf("%s%s", name, ext);
                st = table_list_lookup(a->maps, key, &v, NULL, &err);
                if (st == TABLE_FOUND)
                        ext = NULL; /* matched whole: nothing to propagate */
                free(key);
        }
        if (st == TABLE_NOTFOUND)
                st = table_list_lookup(a->maps, name, &v, NULL, &err);
        if (st == TABLE_ERROR) {
                rc = set_outcome(r, QMGR_ALIAS_DEFER, "4.3.0",
                                 xasprintf("alias_maps: %s", err));
                free(err);
                return rc;
        }
        if (st == TABLE_NOTFOUND)
                return 0;
        *found = true;
        /* split before the next lookup: v is borrowed until then */
        table_alias_split(v, &els);
        for (size_t i = 0; i < els.n && rc == 0; i++)
                rc = expand_element(a, sender, els.v[i], ext, &self, depth, r);
        strlist_clear(&els);
        return rc;
}

/* qmgr_alias_expand - one recipient through alias_maps */
void qmgr_alias_expand(struct qmgr_aliases *a, const char *sender,
                       const char *rcpt, struct qmgr_alias_result *r)
{
        const char *delim = a->conf->recipient_delimiter;
        const char *at = strrchr(rcpt, '@');
        char *local = internal(rcpt, at ? (size_t)(at - rcpt) : strlen(rcpt));
        char *ext = NULL;

        memset(r, 0, sizeof(*r));
        if (a->err) {
                set_outcome(r, QMGR_ALIAS_DEFER, "4.3.0", xstrdup(a->err));
                free(local);
                return;
        }
        if (a->maps == NULL) {
                free(local);
                return;
        }
        str_lower(local);
        /* user+ext: the alias of user+ext, else that of user, the
         * extension going on to the result when asked */
        size_t cut = *delim ? strcspn(local, delim) : strlen(local);
        if (cut > 0 && local[cut]) {
                ext = xstrdup(local + cut);
                local[cut] = 0;
        }
        bool found = false;
        if (expand_name(a, sender, local, ext, NULL, 0, r, &found) == 0 &&
            found)
                r->status = QMGR_ALIAS_EXPANDED;
        free(ext);
        free(local);
}

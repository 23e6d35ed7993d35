/* SPDX-License-Identifier: MIT */
/*
 * smtpd_virtual.c - Postfix's virtual_alias_maps: each recipient of a
 * message is replaced, as the message is queued (by smtpd and by postern
 * send), by what the table maps it to, recursively.  An address is looked
 * up as user+ext@domain, user@domain (the extension cut at the first
 * recipient_delimiter character), then @domain; a result is one or more
 * addresses separated by commas or blanks.  When user@domain matched,
 * the extension goes on to each of them while
 * propagate_unmatched_extensions names virtual (Postfix's default), so
 * bob+lists@example.com reaches bob+lists@elsewhere.example.  An address whose
 * result names itself is kept (the usual "keep a copy here" entry), one without
 * an entry is kept as it is, and every final address is kept once.
 * Nesting deeper than virtual_alias_recursion_limit or more than
 * virtual_alias_expansion_limit addresses from one recipient is an error:
 * the message is not queued (451), as Postfix defers it.
 */
#include "smtpd/smtpd_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/conf.h"
#include "queue/queue.h"
#include "table/table.h"

struct smtpd_virtual {
        struct table_list *maps;
        char *delim;           /* recipient_delimiter */
        unsigned depth_limit;  /* virtual_alias_recursion_limit */
        unsigned expand_limit; /* virtual_alias_expansion_limit */
        bool propagate;        /* propagate_unmatched_extensions: virtual */
};

/* smtpd_addr_lookup - the entry of an address in an address table
 * (virtual aliases, BCC maps): 1 with *value (heap), 0 when there is
 * none, -1 with *err */
int smtpd_addr_lookup(struct table_list *maps, const char *addr,
                      const char *delim, char **value, char **err)
{
        const char *v = NULL;
        enum table_status st =
            table_list_lookup_addr(maps, addr, delim, &v, err);

        *value = NULL;
        if (st == TABLE_ERROR)
                return -1;
        if (st == TABLE_NOTFOUND)
                return 0;
        *value = xstrdup(v);
        return 1;
}

/* smtpd_virtual_new - open virtual_alias_maps of c */
int smtpd_virtual_new(const struct conf *c, struct smtpd_virtual **out,
                      char **err)
{
        struct smtpd_virtual *v;
        char *e = NULL;

        *out = NULL;
        if (!*c->virtual_alias_maps)
                return 0;
        v = xcalloc(1, sizeof(*v));
        if (smtpd_open_maps("virtual_alias_maps", c->virtual_alias_maps,
                            &v->maps, err) < 0) {
                free(v);
                return -1;
        }
        unsigned bits = 0;
        if (smtpd_propagate_mask(c->propagate_unmatched_extensions, &bits, &e) <
            0) {
                *err = e;
                table_list_close(v->maps);
                free(v);
                return -1;
        }
        v->propagate = bits & SMTPD_PROPAGATE_VIRTUAL;
        v->delim = xstrdup(c->recipient_delimiter);
        v->depth_limit = c->virtual_alias_recursion_limit > 0
                             ? (unsigned)c->virtual_alias_recursion_limit
                             : 1000;
        v->expand_limit = c->virtual_alias_expansion_limit > 0
                              ? (unsigned)c->virtual_alias_expansion_limit
                              : 1000;
        *out = v;
        return 0;
}

/* smtpd_virtual_free - release */
void smtpd_virtual_free(struct smtpd_virtual *v)
{
        if (v == NULL)
                return;
        table_list_close(v->maps);
        free(v->delim);
        free(v);
}

/* keep - a final address, once */
static void keep(struct strlist *out, const char *addr)
{
        for (size_t i = 0; i < out->n; i++)
                if (strcasecmp(out->v[i], addr) == 0)
                        return;
        strlist_push(out, addr);
}

/* expand - the final addresses of addr into out */
static int expand(struct smtpd_virtual *v, const char *addr, unsigned depth,
                  struct strlist *out, char **err)
{
        struct strlist results = {0};
        const char *found = NULL;
        enum table_addr_key which = TABLE_KEY_FULL;
        char *value, *ext = NULL;
        int rc;

        switch (table_list_find_addr(v->maps, addr, v->delim, 0, &found, &which,
                                     err)) {
        case TABLE_ERROR:
                return -1;
        case TABLE_NOTFOUND:
                keep(out, addr);
                return 0;
        case TABLE_FOUND:
                break;
        }
        value = xstrdup(found);
        if (v->propagate && which == TABLE_KEY_BARE)
                ext = table_addr_extension(addr, v->delim);
        if (depth >= v->depth_limit) {
                *err = xasprintf("virtual_alias_maps: more than %u levels of "
                                 "aliases for %s",
                                 v->depth_limit, addr);
                free(value);
                free(ext);
                return -1;
        }
        str_split(value, ", \t\r\n", &results);
        free(value);
        rc = 0;
        for (size_t i = 0; i < results.n && rc == 0; i++) {
                char *r = milter_addr(results.v[i]); /* without <> */
                if (*r && ext) {
                        char *x = table_addr_with_ext(r, ext);
                        free(r);
                        r = x;
                }
                if (*r == 0)
                        ;
                else if (strcasecmp(r, addr) == 0)
                        keep(out, r); /* it names itself: delivered here */
                else
                        rc = expand(v, r, depth + 1, out, err);
                free(r);
                if (rc == 0 && out->n > v->expand_limit) {
                        *err = xasprintf("virtual_alias_maps: more than %u "
                                         "addresses for %s",
                                         v->expand_limit, addr);
                        rc = -1;
                }
        }
        strlist_clear(&results);
        free(ext);
        return rc;
}

/* smtpd_virtual_expand - replace env's recipients by their aliases */
int smtpd_virtual_expand(struct smtpd_virtual *v, struct queue_env *env,
                         char **err)
{
        struct queue_env tmp;
        int rc = 0;

        if (v == NULL)
                return 0;
        queue_env_init(&tmp);
        for (size_t i = 0; i < env->nrcpt && rc == 0; i++) {
                const struct queue_rcpt *r = &env->rcpt[i];
                struct strlist out = {0};
                rc = expand(v, r->addr, 0, &out, err);
                for (size_t k = 0; rc == 0 && k < out.n; k++) {
                        bool dup = false;
                        for (size_t j = 0; j < tmp.nrcpt && !dup; j++)
                                dup =
                                    strcasecmp(tmp.rcpt[j].addr, out.v[k]) == 0;
                        if (dup)
                                continue;
                        /* a DSN names the address the client gave */
                        char *orcpt =
                            r->orcpt || strcasecmp(out.v[k], r->addr) == 0
                                ? NULL
                                : xasprintf("rfc822;%s", r->addr);
                        queue_env_add_rcpt(&tmp, out.v[k],
                                           r->orcpt ? r->orcpt : orcpt,
                                           r->notify);
                        free(orcpt);
                }
                strlist_clear(&out);
        }
        if (rc == 0) {
                /* the new list in, the old one out with tmp */
                struct queue_rcpt *rv = env->rcpt;
                size_t n = env->nrcpt, cap = env->rcpt_cap;
                env->rcpt = tmp.rcpt;
                env->nrcpt = tmp.nrcpt;
                env->rcpt_cap = tmp.rcpt_cap;
                tmp.rcpt = rv;
                tmp.nrcpt = n;
                tmp.rcpt_cap = cap;
        }
        queue_env_clear(&tmp);
        return rc;
}

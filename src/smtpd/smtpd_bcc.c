/* SPDX-License-Identifier: MIT */
/*
 * smtpd_bcc.c - Postfix's always_bcc, sender_bcc_maps and
 * recipient_bcc_maps: blind copies added to the envelope of a message as
 * it is queued (by smtpd, and by postern send for local submissions).
 * Each copy goes with NOTIFY=NEVER, as in Postfix, so that its fate never
 * reaches the sender; an address that already is a recipient is not added
 * again.
 */
#include "smtpd/smtpd_int.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/conf.h"
#include "queue/queue.h"
#include "table/table.h"

struct smtpd_bcc {
        char *always;              /* always_bcc, or NULL */
        struct table_list *sender; /* sender_bcc_maps, or NULL */
        struct table_list *rcpt;   /* recipient_bcc_maps, or NULL */
};

/* smtpd_bcc_new - open the BCC settings of c */
int smtpd_bcc_new(const struct conf *c, struct smtpd_bcc **out, char **err)
{
        struct smtpd_bcc *b;
        char *e = NULL;

        *out = NULL;
        if (!*c->always_bcc && !*c->sender_bcc_maps && !*c->recipient_bcc_maps)
                return 0;
        b = xcalloc(1, sizeof(*b));
        if (*c->always_bcc)
                b->always = xstrdup(c->always_bcc);
        if ((*c->sender_bcc_maps &&
             table_list_open(c->sender_bcc_maps, &b->sender, &e) < 0) ||
            (*c->recipient_bcc_maps &&
             table_list_open(c->recipient_bcc_maps, &b->rcpt, &e) < 0)) {
                *err = xasprintf("%s: %s",
                                 b->sender || !*c->sender_bcc_maps
                                     ? "recipient_bcc_maps"
                                     : "sender_bcc_maps",
                                 e);
                free(e);
                smtpd_bcc_free(b);
                return -1;
        }
        *out = b;
        return 0;
}

/* smtpd_bcc_free - release */
void smtpd_bcc_free(struct smtpd_bcc *b)
{
        if (b == NULL)
                return;
        free(b->always);
        table_list_close(b->sender);
        table_list_close(b->rcpt);
        free(b);
}

/* lookup - an address in a BCC table: the address, then @domain; 1 with
 * *copy (heap), 0 when not found, -1 with *err */
static int lookup(struct table_list *t, const char *addr, char **copy,
                  char **err)
{
        const char *v = NULL;
        enum table_status st;

        *copy = NULL;
        if (t == NULL || *addr == 0)
                return 0;
        st = table_list_lookup_addr(t, addr, "", &v, err);
        if (st == TABLE_ERROR)
                return -1;
        if (st == TABLE_NOTFOUND)
                return 0;
        *copy = xstrdup(v);
        return 1;
}

/* add - one copy, unless it is already a recipient */
static void add(struct queue_env *env, char *addr)
{
        char *a = str_trim(addr);
        size_t n = strlen(a);

        if (n >= 2 && a[0] == '<' && a[n - 1] == '>') {
                a[n - 1] = 0;
                a++;
        }
        if (*a == 0)
                return;
        for (size_t i = 0; i < env->nrcpt; i++)
                if (strcasecmp(env->rcpt[i].addr, a) == 0)
                        return;
        queue_env_add_rcpt(env, a, NULL, QUEUE_NOTIFY_NEVER);
}

/* smtpd_bcc_add - the copies of one message */
int smtpd_bcc_add(struct smtpd_bcc *b, struct queue_env *env, char **err)
{
        struct strlist copies = {0};
        char *copy;
        int rc;

        if (b == NULL)
                return 0;
        if (b->always)
                strlist_push(&copies, b->always);
        if ((rc = lookup(b->sender, env->sender ? env->sender : "", &copy,
                         err)) < 0)
                goto out;
        if (rc > 0) {
                strlist_push(&copies, copy);
                free(copy);
        }
        /* only the recipients the client gave, not the copies */
        for (size_t i = 0, n = env->nrcpt; i < n; i++) {
                if ((rc = lookup(b->rcpt, env->rcpt[i].addr, &copy, err)) < 0)
                        goto out;
                if (rc > 0) {
                        strlist_push(&copies, copy);
                        free(copy);
                }
        }
        for (size_t i = 0; i < copies.n; i++)
                add(env, copies.v[i]);
        rc = 0;
out:
        strlist_clear(&copies);
        return rc < 0 ? -1 : 0;
}

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

        *out = NULL;
        if (!*c->always_bcc && !*c->sender_bcc_maps && !*c->recipient_bcc_maps)
                return 0;
        b = xcalloc(1, sizeof(*b));
        if (*c->always_bcc)
                b->always = xstrdup(c->always_bcc);
        if (smtpd_open_maps("sender_bcc_maps", c->sender_bcc_maps, &b->sender,
                            err) < 0 ||
            smtpd_open_maps("recipient_bcc_maps", c->recipient_bcc_maps,
                            &b->rcpt, err) < 0) {
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

/* smtpd_bcc_copy - one copy, unless it is already a recipient */
void smtpd_bcc_copy(struct queue_env *env, const char *addr)
{
        char *copy = xstrdup(addr);
        char *a = str_trim(copy);
        size_t n = strlen(a);

        if (n >= 2 && a[0] == '<' && a[n - 1] == '>') {
                a[n - 1] = 0;
                a++;
        }
        bool dup = *a == 0;
        for (size_t i = 0; i < env->nrcpt && !dup; i++)
                dup = strcasecmp(env->rcpt[i].addr, a) == 0;
        if (!dup)
                queue_env_add_rcpt(env, a, NULL, QUEUE_NOTIFY_NEVER);
        free(copy);
}

/* copy_for - the copy t names for addr (not for the null sender) into
 * copies: 0, or -1 with *err */
static int copy_for(struct table_list *t, const char *addr,
                    struct strlist *copies, char **err)
{
        char *copy;
        int rc;

        if (t == NULL || *addr == 0)
                return 0;
        if ((rc = smtpd_addr_lookup(t, addr, "", &copy, err)) <= 0)
                return rc;
        strlist_push(copies, copy);
        free(copy);
        return 0;
}

/* smtpd_bcc_add - the copies of one message */
int smtpd_bcc_add(struct smtpd_bcc *b, struct queue_env *env, char **err)
{
        struct strlist copies = {0};
        int rc;

        if (b == NULL)
                return 0;
        if (b->always)
                strlist_push(&copies, b->always);
        rc = copy_for(b->sender, env->sender ? env->sender : "", &copies, err);
        /* only the recipients the client gave, not the copies */
        for (size_t i = 0, n = env->nrcpt; i < n && rc == 0; i++)
                rc = copy_for(b->rcpt, env->rcpt[i].addr, &copies, err);
        if (rc == 0)
                for (size_t i = 0; i < copies.n; i++)
                        smtpd_bcc_copy(env, copies.v[i]);
        strlist_clear(&copies);
        return rc;
}

/* SPDX-License-Identifier: MIT */
/* qmgr_dsn.c - RFC 3464 delivery status notifications */
#include "qmgr/qmgr.h"
#include "conf/conf.h"
#include "queue/queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Larger originals are returned as headers only, as Postfix does with
 * bounce_size_limit. */
#define DSN_FULL_LIMIT 1000000

/* qmgr_dsn_wanted - NOTIFY= against an action */
bool qmgr_dsn_wanted(unsigned notify, enum qmgr_dsn_action a)
{
        if (notify & QUEUE_NOTIFY_NEVER)
                return false;
        switch (a) {
        case QMGR_DSN_FAILED:
                return notify == 0 || (notify & QUEUE_NOTIFY_FAILURE);
        case QMGR_DSN_DELAYED:
                return notify == 0 || (notify & QUEUE_NOTIFY_DELAY);
        case QMGR_DSN_DELIVERED:
                return (notify & QUEUE_NOTIFY_SUCCESS) != 0;
        }
        return false;
}

/* rfc5322_date - "Sat, 28 Nov 2026 16:32:42 +0000" */
static void rfc5322_date(long long t, char *buf, size_t len)
{
        time_t tt = (time_t)t;
        struct tm tm;

        localtime_r(&tt, &tm);
        strftime(buf, len, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

/* add_clean - text with bare CR or LF made into spaces (reasons come
 * from remote servers, and must not break the report's lines) */
static void add_clean(struct strbuf *out, const char *s)
{
        for (; *s; s++)
                strbuf_addc(out, (*s == '\r' || *s == '\n') ? ' ' : *s);
}

/* header_end - length of the header section (up to the empty line) */
static size_t header_end(const char *msg, size_t len)
{
        for (size_t i = 0; i + 1 < len; i++) {
                if (msg[i] != '\n')
                        continue;
                if (msg[i + 1] == '\n')
                        return i + 1;
                if (msg[i + 1] == '\r' && i + 2 < len && msg[i + 2] == '\n')
                        return i + 1;
        }
        return len;
}

/* qmgr_dsn_compose - the multipart/report */
void qmgr_dsn_compose(const struct conf *c, const struct queue_env *env,
                      enum qmgr_dsn_action a, const struct qmgr_dsn_rcpt *r,
                      size_t n, const char *msg, size_t msglen, long long now,
                      struct strbuf *out)
{
        char date[64], arr[64];
        const char *host = c->myhostname;
        const char *id = env->id ? env->id : "unknown";
        /* the whole message only comes back with a failure (RFC 3461
         * section 4.3; Postfix's delay and success notices carry the
         * headers) */
        bool hdrs = env->ret == QUEUE_RET_HDRS || msglen > DSN_FULL_LIMIT ||
                    a != QMGR_DSN_FAILED;
        static const char *const action[] = {"failed", "delayed", "delivered"};
        static const char *const subject[] = {
            "Undelivered Mail Returned to Sender",
            "Delayed Mail (still being retried)",
            "Successful Mail Delivery Report"};

        rfc5322_date(now, date, sizeof(date));
        rfc5322_date(env->arrival, arr, sizeof(arr));
        char *boundary = xasprintf("%s.%lld/%s", id, now, host);
        strbuf_printf(out, "Date: %s\r\n", date);
        strbuf_printf(out, "From: MAILER-DAEMON@%s (Mail Delivery System)\r\n",
                      host);
        strbuf_adds(out, "To: <");
        add_clean(out, env->sender ? env->sender : "");
        strbuf_adds(out, ">\r\n");
        strbuf_printf(out, "Subject: %s\r\n", subject[a]);
        strbuf_printf(out, "Message-Id: <%s.%lld.dsn@%s>\r\n", id, now, host);
        strbuf_adds(out, "Auto-Submitted: auto-replied\r\n");
        strbuf_adds(out, "MIME-Version: 1.0\r\n");
        strbuf_printf(out,
                      "Content-Type: multipart/report; "
                      "report-type=delivery-status;\r\n"
                      "\tboundary=\"%s\"\r\n",
                      boundary);
        strbuf_adds(out, "Content-Transfer-Encoding: 8bit\r\n\r\n");
        strbuf_adds(out, "This is a MIME-encapsulated message.\r\n\r\n");

        /* 1: the human-readable part */
        strbuf_printf(out,
                      "--%s\r\nContent-Description: Notification\r\n"
                      "Content-Type: text/plain; charset=us-ascii\r\n\r\n",
                      boundary);
        strbuf_printf(out, "This is the mail system at host %s.\r\n\r\n", host);
        if (a == QMGR_DSN_FAILED)
                strbuf_adds(out, "I'm sorry to have to inform you that your "
                                 "message could not\r\nbe delivered to one or "
                                 "more recipients. It's attached below.\r\n\r\n"
                                 "For further assistance, please send mail to "
                                 "postmaster.\r\n\r\n");
        else if (a == QMGR_DSN_DELAYED)
                strbuf_adds(out, "Your message could not be delivered yet; "
                                 "the mail system will keep\r\ntrying. You "
                                 "do not have to resend it.\r\n\r\n");
        else
                strbuf_adds(out, "Your message was successfully delivered "
                                 "to the destination(s)\r\nlisted below.\r\n"
                                 "\r\n");
        strbuf_adds(out, "                   The mail system\r\n\r\n");
        for (size_t i = 0; i < n; i++) {
                strbuf_adds(out, "<");
                add_clean(out, env->rcpt[r[i].index].addr);
                strbuf_adds(out, ">: ");
                add_clean(out, r[i].diag ? r[i].diag : action[a]);
                strbuf_adds(out, "\r\n");
        }
        strbuf_adds(out, "\r\n");

        /* 2: message/delivery-status */
        strbuf_printf(out,
                      "--%s\r\nContent-Description: Delivery report\r\n"
                      "Content-Type: message/delivery-status\r\n\r\n",
                      boundary);
        strbuf_printf(out, "Reporting-MTA: dns; %s\r\n", host);
        strbuf_printf(out, "X-Postfix-Queue-ID: %s\r\n", id);
        strbuf_adds(out, "X-Postfix-Sender: rfc822; ");
        add_clean(out, env->sender ? env->sender : "");
        strbuf_adds(out, "\r\n");
        if (env->envid) {
                strbuf_adds(out, "Original-Envelope-Id: ");
                add_clean(out, env->envid);
                strbuf_adds(out, "\r\n");
        }
        strbuf_printf(out, "Arrival-Date: %s\r\n", arr);
        for (size_t i = 0; i < n; i++) {
                const struct queue_rcpt *rc = &env->rcpt[r[i].index];
                strbuf_adds(out, "\r\nFinal-Recipient: rfc822; ");
                add_clean(out, rc->addr);
                strbuf_adds(out, "\r\n");
                if (rc->orcpt) {
                        /* "type;address" as received; RFC 3464 wants a
                         * space after the semicolon only by custom */
                        strbuf_adds(out, "Original-Recipient: ");
                        add_clean(out, rc->orcpt);
                        strbuf_adds(out, "\r\n");
                }
                strbuf_printf(out, "Action: %s\r\n", action[a]);
                strbuf_printf(out, "Status: %s\r\n", r[i].status);
                if (a == QMGR_DSN_DELAYED && c->maximal_queue_lifetime > 0) {
                        char until[64];
                        rfc5322_date(env->arrival + c->maximal_queue_lifetime,
                                     until, sizeof(until));
                        strbuf_printf(out, "Will-Retry-Until: %s\r\n", until);
                }
                if (r[i].diag) {
                        const char *d = r[i].diag;
                        bool smtp = false;
                        if (r[i].smtp) {
                                /* "host mx[1.2.3.4] said: 550 ..." gives
                                 * the reply; text without a reply (DNS,
                                 * connection failures) is Postfix's own */
                                const char *said = strstr(d, " said: ");
                                if (said)
                                        d = said + 7;
                                smtp = d[0] >= '2' && d[0] <= '5' &&
                                       d[1] >= '0' && d[1] <= '9' &&
                                       d[2] >= '0' && d[2] <= '9';
                        }
                        strbuf_printf(out, "Diagnostic-Code: %s; ",
                                      smtp ? "smtp" : "X-Postfix");
                        add_clean(out, smtp ? d : r[i].diag);
                        strbuf_adds(out, "\r\n");
                }
        }
        strbuf_adds(out, "\r\n");

        /* 3: the original message or its headers */
        size_t hlen = header_end(msg, msglen);
        strbuf_printf(out,
                      "--%s\r\nContent-Description: %s\r\n"
                      "Content-Type: %s\r\n\r\n",
                      boundary,
                      hdrs ? "Undelivered Message Headers"
                           : "Undelivered Message",
                      hdrs ? "text/rfc822-headers" : "message/rfc822");
        strbuf_add(out, msg, hdrs ? hlen : msglen);
        if (out->len >= 2 && memcmp(out->s + out->len - 2, "\r\n", 2) != 0)
                strbuf_adds(out, "\r\n");
        strbuf_printf(out, "\r\n--%s--\r\n", boundary);
        free(boundary);
}

/* SPDX-License-Identifier: MIT */
/*
 * smtpd_hops.c - the Received: headers of a message, counted as its
 * content streams in, for Postfix's hopcount_limit: a message that has
 * been through too many hops is in a mail loop.  As in Postfix, only the
 * message's own header section counts (it ends at the first empty line),
 * the header name is matched without regard to case, and X-Received or
 * Received-SPF are other headers.
 */
#include "smtpd/smtpd_int.h"

#include <ctype.h>

enum {
        HOPS_LINE, /* at the start of a header line */
        HOPS_CR,   /* a CR at the start of a line: the end, if LF */
        HOPS_NAME, /* matching "received:" */
        HOPS_SKIP, /* the rest of a line */
        HOPS_BODY, /* past the header section */
};

/* smtpd_hops_init - a message begins */
void smtpd_hops_init(struct smtpd_hops *h)
{
        h->count = 0;
        h->state = HOPS_LINE;
        h->matched = 0;
}

/* smtpd_hops_feed - n more bytes of the message */
void smtpd_hops_feed(struct smtpd_hops *h, const char *p, size_t n)
{
        static const char name[] = "received:";

        for (size_t i = 0; i < n && h->state != HOPS_BODY; i++) {
                unsigned char ch = (unsigned char)p[i];
                switch (h->state) {
                case HOPS_LINE:
                        if (ch == '\n') {
                                h->state = HOPS_BODY;
                        } else if (ch == '\r') {
                                h->state = HOPS_CR;
                        } else if (tolower(ch) == name[0]) {
                                h->state = HOPS_NAME;
                                h->matched = 1;
                        } else {
                                h->state = HOPS_SKIP;
                        }
                        break;
                case HOPS_CR:
                        h->state = ch == '\n' ? HOPS_BODY : HOPS_SKIP;
                        break;
                case HOPS_NAME:
                        if (tolower(ch) == name[h->matched]) {
                                if (++h->matched == sizeof(name) - 1) {
                                        h->count++;
                                        h->state = HOPS_SKIP;
                                }
                        } else {
                                h->state = ch == '\n' ? HOPS_LINE : HOPS_SKIP;
                        }
                        break;
                case HOPS_SKIP:
                        if (ch == '\n')
                                h->state = HOPS_LINE;
                        break;
                }
        }
}

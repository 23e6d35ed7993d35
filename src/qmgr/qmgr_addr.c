/* SPDX-License-Identifier: MIT */
/* qmgr_addr.c - addresses of To:/Cc:/Bcc: header values */
#include "qmgr/qmgr.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* push_addr - trim an address candidate and keep it when plausible */
static void push_addr(struct strbuf *a, struct strlist *out)
{
        char *copy = xstrdup(strbuf_cstr(a));
        char *s = str_trim(copy);

        if (*s && strchr(s, ' ') == NULL && strchr(s, '\t') == NULL)
                strlist_push(out, s);
        free(copy);
        strbuf_reset(a);
}

/* qmgr_addrlist_parse - split an address-list into addr-specs */
void qmgr_addrlist_parse(const char *v, struct strlist *out)
{
        struct strbuf cur, angle;
        bool in_angle = false, have_angle = false;
        int depth = 0;

        strbuf_init(&cur);
        strbuf_init(&angle);
        for (const char *p = v;; p++) {
                char c = *p;
                if (c == 0 || (c == ',' && depth == 0 && !in_angle) ||
                    (c == ';' && depth == 0 && !in_angle)) {
                        if (have_angle)
                                push_addr(&angle, out);
                        else
                                push_addr(&cur, out);
                        strbuf_reset(&cur);
                        strbuf_reset(&angle);
                        have_angle = in_angle = false;
                        if (c == 0)
                                break;
                        continue;
                }
                if (c == '"' && depth == 0) {
                        /* a quoted string: display name or local part */
                        struct strbuf *dst = in_angle ? &angle : &cur;
                        strbuf_addc(dst, '"');
                        for (p++; *p && *p != '"'; p++) {
                                if (*p == '\\' && p[1])
                                        strbuf_addc(dst, *p++);
                                strbuf_addc(dst, *p);
                        }
                        if (*p == 0)
                                break;
                        strbuf_addc(dst, '"');
                        continue;
                }
                if (c == '(') {
                        depth++;
                        continue;
                }
                if (c == ')' && depth > 0) {
                        depth--;
                        continue;
                }
                if (depth > 0) {
                        if (c == '\\' && p[1])
                                p++;
                        continue;
                }
                if (c == '<') {
                        in_angle = have_angle = true;
                        strbuf_reset(&angle);
                        continue;
                }
                if (c == '>' && in_angle) {
                        in_angle = false;
                        continue;
                }
                if (c == ':' && !in_angle) {
                        /* "group:" - what came before is the group name */
                        strbuf_reset(&cur);
                        continue;
                }
                if (isspace((unsigned char)c) && !in_angle) {
                        /* "Name Surname" before an angle address: only the
                         * last word could be an address */
                        if (cur.len && !have_angle)
                                strbuf_addc(&cur, ' ');
                        continue;
                }
                strbuf_addc(in_angle ? &angle : &cur, c);
        }
        strbuf_clear(&cur);
        strbuf_clear(&angle);
}

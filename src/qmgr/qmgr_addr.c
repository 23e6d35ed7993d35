/* SPDX-License-Identifier: MIT */
/* qmgr_addr.c - addresses of To:/Cc:/Bcc: header values */
#include "qmgr/qmgr.h"

#include <string.h>

#include "mime/mime.h"

/* push_addr - an address an envelope can carry: no blank in it (a
 * quoted local part may have one) */
static void push_addr(void *arg, const struct mime_addr *a)
{
        if (strpbrk(a->addr, " \t") == NULL)
                strlist_push(arg, a->addr);
}

/* qmgr_addrlist_parse - split an address-list into addr-specs */
void qmgr_addrlist_parse(const char *v, struct strlist *out)
{
        mime_addrlist_scan(v, strlen(v), push_addr, out);
}

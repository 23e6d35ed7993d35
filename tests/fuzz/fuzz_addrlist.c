/* SPDX-License-Identifier: MIT */
/* fuzz_addrlist.c - To:/Cc:/Bcc: address lists (postern send -t) */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qmgr/qmgr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
        char *s = xstrndup((const char *)data, len); /* stops at a NUL */
        struct strlist l = {0};

        qmgr_addrlist_parse(s, &l);
        for (size_t i = 0; i < l.n; i++)
                if (l.v[i][0] == 0 || strchr(l.v[i], ' '))
                        abort(); /* never an empty or spaced address */
        strlist_clear(&l);
        free(s);
        return 0;
}

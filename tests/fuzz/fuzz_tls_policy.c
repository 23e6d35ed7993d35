/* SPDX-License-Identifier: MIT */
/*
 * fuzz_tls_policy - the smtp_tls_policy_maps value checker behind
 * `postern check`.  The input is one policy value ("level name=value ...").
 */
#include "tls/tls.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *s = xstrndup((const char *)data, size);
        struct tls_policy_info info;
        const char *err = NULL;

        if (tls_policy_check(s, &info, &err) == 0) {
                if (info.level == NULL)
                        abort(); /* success always names the level */
                if (info.needs_ca && strcmp(info.level, "verify") != 0 &&
                    strcmp(info.level, "secure") != 0)
                        abort();
        } else if (err == NULL || *err == 0) {
                abort(); /* a failure always says why */
        }
        free(s);
        return 0;
}

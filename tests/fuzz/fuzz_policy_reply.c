/* SPDX-License-Identifier: MIT */
/*
 * fuzz_policy_reply.c - a policy server's reply (policy_reply_parse):
 * the action found lies inside the reply, is not empty and has no line
 * break.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd/smtpd_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *text = xstrndup((const char *)data, size);
        size_t n = strlen(text);
        const char *action = NULL;

        if (policy_reply_parse(text, &action) == 0) {
                if (action == NULL || *action == 0 || action < text ||
                    action + strlen(action) > text + n || strchr(action, '\n'))
                        abort();
        }
        free(text);
        return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * fuzz_hops.c - the Received: header counter of hopcount_limit, fed the
 * input whole and then in pieces whose sizes come from the input's own
 * bytes: the counts must agree, and never exceed the number of lines.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd/smtpd_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *p = (const char *)data;
        struct smtpd_hops whole, parts;
        size_t lines = 1;

        smtpd_hops_init(&whole);
        smtpd_hops_feed(&whole, p, size);
        smtpd_hops_init(&parts);
        for (size_t at = 0; at < size;) {
                size_t n = (size_t)(data[at] % 7) + 1;
                if (n > size - at)
                        n = size - at;
                smtpd_hops_feed(&parts, p + at, n);
                at += n;
        }
        for (size_t i = 0; i < size; i++)
                lines += data[i] == '\n';
        if (whole.count != parts.count || whole.count > lines)
                abort();
        return 0;
}

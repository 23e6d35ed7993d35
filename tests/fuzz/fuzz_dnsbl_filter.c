/* SPDX-License-Identifier: MIT */
/*
 * fuzz_dnsbl_filter.c - the reply filter of reject_rbl_client
 * DOMAIN=FILTER against an A record.  Input: filter, a newline, address.
 * A filter that parses matches the address it describes literally (all
 * plain octets), and a match needs an IPv4 address.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd/smtpd_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *in = xstrndup((const char *)data, size);
        char *nl = strchr(in, '\n');
        const char *addr = nl ? nl + 1 : "127.0.0.2";
        unsigned char b[4];

        if (nl)
                *nl = 0;
        int m = smtpd_dnsbl_filter_match(in, addr);
        if (m < -1 || m > 1)
                abort();
        if (m == 1 && inet_pton(AF_INET, addr, b) != 1)
                abort();
        /* a filter of four plain octets matches that very address */
        if (m >= 0 && strspn(in, "0123456789.") == strlen(in) &&
            inet_pton(AF_INET, in, b) == 1 &&
            smtpd_dnsbl_filter_match(in, in) != 1)
                abort();
        free(in);
        return 0;
}

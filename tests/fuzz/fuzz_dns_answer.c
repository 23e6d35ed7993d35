/* SPDX-License-Identifier: MIT */
/*
 * fuzz_dns_answer - the answer parser (dns_answer_fill) on arbitrary rdata.
 * Input: one byte choosing the type (0..5: A, AAAA, MX, CNAME, TLSA, TXT;
 * any other value as is), then items of a 1-byte length and that many bytes
 * (a short last item is cut at the end of the input).  Each item gets its
 * own heap allocation, as libunbound's data[] do, so a read past len[i] is
 * caught by ASan.
 */
#include "dns/dns.h"
#include "dns/dns_int.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ITEMS 64

int LLVMFuzzerTestOneInput(const uint8_t *buf, size_t size)
{
        static const int types[] = {DNS_T_A,     DNS_T_AAAA, DNS_T_MX,
                                    DNS_T_CNAME, DNS_T_TLSA, DNS_T_TXT,
                                    DNS_T_NS};
        char *data[MAX_ITEMS + 1];
        int len[MAX_ITEMS] = {0};
        struct dns_answer a = {0};
        const char *err = NULL;
        size_t off = 1, n = 0;
        int type;

        if (size < 1)
                return 0;
        type =
            buf[0] < sizeof(types) / sizeof(types[0]) ? types[buf[0]] : buf[0];
        while (off < size && n < MAX_ITEMS) {
                size_t l = buf[off++];

                if (l > size - off)
                        l = size - off;
                data[n] = malloc(l ? l : 1);
                if (data[n] == NULL)
                        abort();
                memcpy(data[n], buf + off, l);
                len[n++] = (int)l;
                off += l;
        }
        data[n] = NULL;
        if (dns_answer_fill(&a, type, data, len, 300, &err) == 0) {
                for (size_t i = 0; i < a.n; i++) {
                        /* touch every string */
                        if (a.rr[i].host && strlen(a.rr[i].host) > 4 * 255)
                                abort();
                        if (a.rr[i].addr && strlen(a.rr[i].addr) > 45)
                                abort();
                        /* TXT: shorter than its item, printable only */
                        if (a.rr[i].text) {
                                size_t tl = strlen(a.rr[i].text);

                                if (tl >= (size_t)len[i])
                                        abort();
                                for (size_t k = 0; k < tl; k++)
                                        if (a.rr[i].text[k] < 32 ||
                                            a.rr[i].text[k] > 126)
                                                abort();
                        }
                        dns_rr_clear(&a.rr[i]);
                }
                free(a.rr);
        }
        for (size_t i = 0; i < n; i++)
                free(data[i]);
        return 0;
}

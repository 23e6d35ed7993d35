/* SPDX-License-Identifier: MIT */
/* test_dns_parse.c - the answer parser on hand-built rdata, as libunbound
 * hands it over (data[]/len[]), including malformed names and records */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "dns/dns.h"
#include "dns/dns_int.h"

/* heap - a copy of n bytes in its own allocation, so ASan sees overreads */
static char *heap(const void *p, size_t n)
{
        char *c = malloc(n ? n : 1);

        assert_non_null(c);
        memcpy(c, p, n);
        return c;
}

/* decode - dns_name_decode on a heap copy; the text or NULL */
static char *decode(const void *wire, size_t n, size_t *used)
{
        char *buf = heap(wire, n);
        char *out = NULL;
        const char *err = NULL;
        size_t u = 0;

        if (dns_name_decode((unsigned char *)buf, n, &u, &out, &err) < 0) {
                assert_non_null(err);
                out = NULL;
        }
        free(buf);
        if (used)
                *used = u;
        return out;
}

/* test_name_ok - ordinary names, the root, escapes */
static void test_name_ok(void **state)
{
        size_t used;
        char *s;

        (void)state;
        s = decode("\3mx1\7example\3org\0", 17, &used);
        assert_string_equal(s, "mx1.example.org");
        assert_int_equal(used, 17);
        free(s);
        s = decode("\0", 1, &used);
        assert_string_equal(s, "");
        assert_int_equal(used, 1);
        free(s);
        /* a dot and a space inside a label are escaped, never a separator */
        s = decode("\3a.b\2c \0", 8, &used);
        assert_string_equal(s, "a\\046b.c\\032");
        free(s);
        s = decode("\4_25_\1*\0", 8, &used);
        assert_string_equal(s, "_25_.*");
        free(s);
        /* bytes after the name are left for the caller */
        s = decode("\1a\0\xff\xff", 5, &used);
        assert_string_equal(s, "a");
        assert_int_equal(used, 3);
        free(s);
}

/* test_name_bad - truncation, compression, reserved types, lengths */
static void test_name_bad(void **state)
{
        unsigned char big[300];

        (void)state;
        assert_null(decode("", 0, NULL));
        assert_null(decode("\3mx1", 4, NULL));       /* no root label */
        assert_null(decode("\5ab", 3, NULL));        /* label past end */
        assert_null(decode("\1a\xc0\x0c", 4, NULL)); /* pointer */
        assert_null(decode("\x40\0", 2, NULL));      /* extended label */
        assert_null(decode("\x80\0", 2, NULL));      /* reserved */
        assert_null(decode("\x3f", 1, NULL));        /* 63, nothing after */
        /* a 64-byte label is a reserved type (0x40) */
        memset(big, 'a', sizeof(big));
        big[0] = 64;
        assert_null(decode(big, sizeof(big), NULL));
        /* 256 wire bytes: four 63-byte labels + root = 257 */
        for (size_t i = 0; i < 4; i++)
                big[i * 64] = 63;
        big[256] = 0;
        assert_null(decode(big, 257, NULL));
        /* 255 bytes exactly is fine: 3 x 63 + 61 + 1 */
        big[192] = 61;
        big[254] = 0;
        {
                size_t used;
                char *s = decode(big, 255, &used);

                assert_non_null(s);
                assert_int_equal(used, 255);
                assert_int_equal(strlen(s), 63 * 3 + 61 + 3);
                free(s);
        }
}

/* parse - dns_rr_parse on a heap copy */
static int parse(int type, const void *p, size_t n, struct dns_rr *rr)
{
        char *buf = heap(p, n);
        const char *err = NULL;
        int rc = dns_rr_parse(type, (unsigned char *)buf, n, 60, rr, &err);

        if (rc < 0) {
                assert_non_null(err);
                assert_null(rr->host);
                assert_null(rr->addr);
                assert_null(rr->data);
                assert_null(rr->text);
        }
        free(buf);
        return rc;
}

/* test_rr_types - each type once, well formed */
static void test_rr_types(void **state)
{
        struct dns_rr rr;
        static const unsigned char v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};

        (void)state;
        assert_int_equal(parse(DNS_T_A, "\xc0\x00\x02\x01", 4, &rr), 0);
        assert_string_equal(rr.addr, "192.0.2.1");
        assert_int_equal(rr.ttl, 60);
        dns_rr_clear(&rr);
        assert_int_equal(parse(DNS_T_AAAA, v6, 16, &rr), 0);
        assert_string_equal(rr.addr, "2001:db8::1");
        dns_rr_clear(&rr);
        assert_int_equal(parse(DNS_T_MX, "\x01\x00\2mx\3org\0", 10, &rr), 0);
        assert_int_equal(rr.pref, 256);
        assert_string_equal(rr.host, "mx.org");
        dns_rr_clear(&rr);
        /* null MX (RFC 7505): preference 0, the root */
        assert_int_equal(parse(DNS_T_MX, "\0\0\0", 3, &rr), 0);
        assert_int_equal(rr.pref, 0);
        assert_string_equal(rr.host, "");
        dns_rr_clear(&rr);
        assert_int_equal(parse(DNS_T_CNAME, "\1b\0", 3, &rr), 0);
        assert_string_equal(rr.host, "b");
        dns_rr_clear(&rr);
        assert_int_equal(parse(DNS_T_NS, "\3ns1\1b\0", 7, &rr), 0);
        assert_string_equal(rr.host, "ns1.b");
        dns_rr_clear(&rr);
        assert_int_equal(parse(DNS_T_TLSA, "\3\1\1\xab\xcd", 5, &rr), 0);
        assert_int_equal(rr.usage, 3);
        assert_int_equal(rr.selector, 1);
        assert_int_equal(rr.mtype, 1);
        assert_int_equal(rr.len, 2);
        assert_memory_equal(rr.data, "\xab\xcd", 2);
        dns_rr_clear(&rr);
        /* empty association data is kept, not refused */
        assert_int_equal(parse(DNS_T_TLSA, "\3\1\1", 3, &rr), 0);
        assert_int_equal(rr.len, 0);
        assert_non_null(rr.data);
        dns_rr_clear(&rr);
}

/* test_rr_bad - truncated and oversized records */
static void test_rr_bad(void **state)
{
        struct dns_rr rr;
        static const unsigned char v6[17] = {0};

        (void)state;
        assert_int_equal(parse(DNS_T_A, "\1\2\3", 3, &rr), -1);
        assert_int_equal(parse(DNS_T_A, "\1\2\3\4\5", 5, &rr), -1);
        assert_int_equal(parse(DNS_T_A, "", 0, &rr), -1);
        assert_int_equal(parse(DNS_T_AAAA, v6, 15, &rr), -1);
        assert_int_equal(parse(DNS_T_AAAA, v6, 17, &rr), -1);
        assert_int_equal(parse(DNS_T_AAAA, "\xc0\0\2\1", 4, &rr), -1);
        assert_int_equal(parse(DNS_T_MX, "\0", 1, &rr), -1);
        assert_int_equal(parse(DNS_T_MX, "\0\5", 2, &rr), -1);
        assert_int_equal(parse(DNS_T_MX, "\0\5\2mx", 5, &rr), -1);
        assert_int_equal(parse(DNS_T_MX, "\0\5\xc0\x0c", 4, &rr), -1);
        assert_int_equal(parse(DNS_T_MX, "\0\5\1a\0junk", 9, &rr), -1);
        assert_int_equal(parse(DNS_T_CNAME, "", 0, &rr), -1);
        assert_int_equal(parse(DNS_T_CNAME, "\1a\0\0", 4, &rr), -1);
        assert_int_equal(parse(DNS_T_TLSA, "\3\1", 2, &rr), -1);
        assert_int_equal(parse(DNS_T_TLSA, "", 0, &rr), -1);
        assert_int_equal(parse(99, "\1\2\3\4", 4, &rr), -1);
}

/* test_rr_txt - character-strings concatenated, made printable */
static void test_rr_txt(void **state)
{
        struct dns_rr rr;
        unsigned char big[256 * 2];

        (void)state;
        /* one string */
        assert_int_equal(parse(DNS_T_TXT, "\x0blisted here", 12, &rr), 0);
        assert_string_equal(rr.text, "listed here");
        assert_int_equal(rr.ttl, 60);
        assert_null(rr.host);
        assert_null(rr.addr);
        assert_null(rr.data);
        dns_rr_clear(&rr);
        assert_null(rr.text);
        /* several strings, joined without a separator */
        assert_int_equal(parse(DNS_T_TXT, "\x08part one\x08 and two", 18, &rr),
                         0);
        assert_string_equal(rr.text, "part one and two");
        dns_rr_clear(&rr);
        assert_int_equal(parse(DNS_T_TXT, "\1a\0\2bc\0\1d", 9, &rr), 0);
        assert_string_equal(rr.text, "abcd");
        dns_rr_clear(&rr);
        /* one empty string, and only empty strings */
        assert_int_equal(parse(DNS_T_TXT, "\0", 1, &rr), 0);
        assert_non_null(rr.text);
        assert_string_equal(rr.text, "");
        dns_rr_clear(&rr);
        assert_int_equal(parse(DNS_T_TXT, "\0\0\0", 3, &rr), 0);
        assert_string_equal(rr.text, "");
        dns_rr_clear(&rr);
        /* bytes outside 32..126 become '?': controls, CR LF, DEL, 8 bit,
         * NUL; space and '~' are kept */
        assert_int_equal(
            parse(DNS_T_TXT, "\x0a\ta\r\nb\x7f\xc3\xa9\0~\x03 x\x1b", 15, &rr),
            0);
        assert_string_equal(rr.text, "?a??b????~ x?");
        dns_rr_clear(&rr);
        /* the largest strings: 255 bytes each, text as long as the data */
        memset(big, 'x', sizeof(big));
        big[0] = 255;
        big[256] = 255;
        assert_int_equal(parse(DNS_T_TXT, big, 512, &rr), 0);
        assert_int_equal(strlen(rr.text), 510);
        dns_rr_clear(&rr);
}

/* test_rr_txt_bad - a string running past the end, no string at all */
static void test_rr_txt_bad(void **state)
{
        struct dns_rr rr;
        unsigned char big[256];

        (void)state;
        assert_int_equal(parse(DNS_T_TXT, "\5abcd", 5, &rr), -1);
        assert_int_equal(parse(DNS_T_TXT, "\1", 1, &rr), -1);
        /* the first string fits, the second does not */
        assert_int_equal(parse(DNS_T_TXT, "\2ab\3cd", 6, &rr), -1);
        /* a length byte with nothing after it, after a good string */
        assert_int_equal(parse(DNS_T_TXT, "\2ab\1", 4, &rr), -1);
        /* 255 claimed, 254 there */
        memset(big, 'x', sizeof(big));
        big[0] = 255;
        assert_int_equal(parse(DNS_T_TXT, big, 255, &rr), -1);
        assert_int_equal(parse(DNS_T_TXT, big, 256, &rr), 0);
        dns_rr_clear(&rr);
        /* RFC 1035: one or more strings; empty rdata is malformed */
        assert_int_equal(parse(DNS_T_TXT, "", 0, &rr), -1);
}

/* test_answer_fill - a whole rdata list; one bad item spoils all */
static void test_answer_fill(void **state)
{
        struct dns_answer a = {0};
        char *data[4];
        int len[3];
        const char *err = NULL;

        (void)state;
        data[0] = heap("\0\x0a\3mx1\0", 7);
        data[1] = heap("\0\x14\3mx2\0", 7);
        data[2] = NULL;
        len[0] = len[1] = 7;
        assert_int_equal(dns_answer_fill(&a, DNS_T_MX, data, len, 5, &err), 0);
        assert_int_equal(a.n, 2);
        assert_int_equal(a.rr[0].pref, 10);
        assert_string_equal(a.rr[1].host, "mx2");
        assert_int_equal(a.rr[1].ttl, 5);
        for (size_t i = 0; i < a.n; i++)
                dns_rr_clear(&a.rr[i]);
        free(a.rr);

        /* the second item claims more than it has */
        memset(&a, 0, sizeof(a));
        len[1] = 6;
        assert_int_equal(dns_answer_fill(&a, DNS_T_MX, data, len, 5, &err), -1);
        assert_non_null(err);
        assert_int_equal(a.n, 0);
        assert_null(a.rr);

        /* a negative length */
        len[1] = -1;
        assert_int_equal(dns_answer_fill(&a, DNS_T_MX, data, len, 5, &err), -1);
        assert_int_equal(a.n, 0);

        /* no data at all */
        data[0] = (free(data[0]), NULL);
        assert_int_equal(dns_answer_fill(&a, DNS_T_MX, data, len, 5, &err), 0);
        assert_int_equal(a.n, 0);
        assert_int_equal(dns_answer_fill(&a, DNS_T_MX, NULL, NULL, 5, &err), 0);
        free(data[1]);
}

/* test_answer_fill_txt - TXT through the list parser, as dns.c calls it;
 * a malformed item makes the whole answer malformed, as for MX */
static void test_answer_fill_txt(void **state)
{
        struct dns_answer *a = calloc(1, sizeof(*a));
        char *data[3];
        int len[2];
        const char *err = NULL;

        (void)state;
        assert_non_null(a);
        data[0] = heap("\x04v=ok\x05 text", 11);
        data[1] = heap("\x02\xff\x01", 3);
        data[2] = NULL;
        len[0] = 11;
        len[1] = 3;
        assert_int_equal(dns_answer_fill(a, DNS_T_TXT, data, len, 9, &err), 0);
        assert_int_equal(a->n, 2);
        assert_string_equal(a->rr[0].text, "v=ok text");
        assert_string_equal(a->rr[1].text, "??");
        assert_int_equal(a->rr[1].ttl, 9);
        dns_answer_free(a); /* frees the texts (ASan/LSan check) */

        a = calloc(1, sizeof(*a));
        assert_non_null(a);
        len[1] = 2; /* the second string now runs past its item */
        assert_int_equal(dns_answer_fill(a, DNS_T_TXT, data, len, 9, &err), -1);
        assert_non_null(strstr(err, "TXT"));
        assert_int_equal(a->n, 0);
        assert_null(a->rr);
        dns_answer_free(a);
        free(data[0]);
        free(data[1]);
}

/* test_names - result and security names */
static void test_names(void **state)
{
        (void)state;
        assert_string_equal(dns_result_name(DNS_NXDOMAIN), "NXDOMAIN");
        assert_string_equal(dns_result_name(DNS_NODATA), "NODATA");
        assert_string_equal(dns_result_name(DNS_TIMEOUT), "TIMEOUT");
        assert_string_equal(dns_security_name(DNS_SEC_SECURE), "secure");
        assert_string_equal(dns_security_name(DNS_SEC_BOGUS), "bogus");
        dns_answer_free(NULL);
}

/* test_resolver_settings - bad settings are refused with a message */
static void test_resolver_settings(void **state)
{
        struct dns_resolver *r = NULL;
        char *err = NULL;

        (void)state;
        assert_int_equal(
            dns_resolver_new(NULL,
                             &(struct dns_settings){.resolvers = "recursive",
                                                    .trust_anchor_file =
                                                        "/nonexistent/root.key",
                                                    .dnssec = true},
                             &r, &err),
            -1);
        assert_null(r);
        assert_non_null(strstr(err, "/nonexistent/root.key"));
        free(err);
        assert_int_equal(
            dns_resolver_new(
                NULL,
                &(struct dns_settings){.resolvers = "", .stub = "example.@"},
                &r, &err),
            -1);
        assert_non_null(strstr(err, "bad stub"));
        free(err);
        /* a good one; no loop, so only the blocking call is allowed */
        assert_int_equal(
            dns_resolver_new(NULL,
                             &(struct dns_settings){.resolvers = "127.0.0.1@1",
                                                    .timeout_ms = 200},
                             &r, &err),
            0);
        assert_int_equal(dns_query(r, "a.example", DNS_T_A, NULL, NULL), -1);
        {
                struct dns_answer *a = NULL;

                assert_int_equal(
                    dns_query_sync(r, "bad name", DNS_T_A, &a, &err), -1);
                assert_null(a);
                free(err);
                /* a type the parser does not know (SRV) */
                assert_int_equal(dns_query_sync(r, "a.example", 33, &a, &err),
                                 -1);
                assert_non_null(strstr(err, "type"));
                free(err);
        }
        {
                struct dns_answer *a = NULL;

                /* nothing listens on port 1: the blocking call times out */
                assert_int_equal(
                    dns_query_sync(r, "a.example", DNS_T_MX, &a, &err), 0);
                assert_int_equal(a->result, DNS_TIMEOUT);
                assert_int_equal(a->security, DNS_SEC_INSECURE);
                assert_string_equal(a->qname, "a.example");
                assert_int_equal(a->type, DNS_T_MX);
                assert_int_equal(a->n, 0);
                dns_answer_free(a);
                /* TXT is a type dns_query_sync accepts (and sends) */
                assert_int_equal(dns_query_sync(r, "2.0.0.127.bl.example",
                                                DNS_T_TXT, &a, &err),
                                 0);
                assert_int_equal(a->result, DNS_TIMEOUT);
                assert_int_equal(a->type, DNS_T_TXT);
                dns_answer_free(a);
        }
        dns_resolver_free(r);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_name_ok),
            cmocka_unit_test(test_name_bad),
            cmocka_unit_test(test_rr_types),
            cmocka_unit_test(test_rr_bad),
            cmocka_unit_test(test_rr_txt),
            cmocka_unit_test(test_rr_txt_bad),
            cmocka_unit_test(test_answer_fill),
            cmocka_unit_test(test_answer_fill_txt),
            cmocka_unit_test(test_names),
            cmocka_unit_test(test_resolver_settings),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}

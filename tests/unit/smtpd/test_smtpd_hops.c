/* SPDX-License-Identifier: MIT */
/*
 * test_smtpd_hops.c - the Received: header count of hopcount_limit: the
 * header section only, the name without regard to case, other headers
 * that merely start alike not counted, the same count for any split of
 * the input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "smtpd/smtpd_int.h"

/* count - the count of text fed whole, checked against every split in
 * two and a byte at a time */
static unsigned count(const char *text)
{
        size_t n = strlen(text);
        struct smtpd_hops h;

        smtpd_hops_init(&h);
        smtpd_hops_feed(&h, text, n);
        unsigned whole = h.count;
        for (size_t cut = 0; cut <= n; cut++) {
                smtpd_hops_init(&h);
                smtpd_hops_feed(&h, text, cut);
                smtpd_hops_feed(&h, text + cut, n - cut);
                assert_int_equal(h.count, whole);
        }
        smtpd_hops_init(&h);
        for (size_t i = 0; i < n; i++)
                smtpd_hops_feed(&h, text + i, 1);
        assert_int_equal(h.count, whole);
        return whole;
}

static void test_counts(void **state)
{
        (void)state;
        assert_int_equal(count(""), 0);
        assert_int_equal(count("Received: from a\r\nReceived: from b\r\n"
                               "Subject: x\r\n\r\nbody\r\n"),
                         2);
        /* any case; a folded Received: is one header */
        assert_int_equal(count("rEcEiVeD: a\r\n\tby b\r\nRECEIVED: c\r\n"
                               "\r\n"),
                         2);
        /* X-Received, Received-SPF, and a header that only starts alike */
        assert_int_equal(count("X-Received: a\r\nReceived-SPF: pass\r\n"
                               "Receive: x\r\nReceivedx: y\r\n\r\n"),
                         0);
        /* the body does not count, nor an attached message's headers */
        assert_int_equal(count("Subject: x\r\n\r\nReceived: in the body\r\n"
                               "Received: again\r\n"),
                         0);
        /* bare LF line ends, and a bare LF that ends the headers */
        assert_int_equal(count("Received: a\nReceived: b\n\nReceived: c\n"), 2);
        /* a CR that is not a line end does not end the headers */
        assert_int_equal(count("\rX: y\r\nReceived: a\r\n\r\n"), 1);
        /* no empty line at all: everything is headers */
        assert_int_equal(count("Received: a\r\nReceived: b"), 2);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_counts),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}

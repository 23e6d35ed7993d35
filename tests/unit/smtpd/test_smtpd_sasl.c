/* SPDX-License-Identifier: MIT */
/*
 * test_smtpd_sasl.c - the Dovecot auth protocol lines as Dovecot 2.3
 * sends them, and the security-option filter of the mechanism list.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtpd/smtpd_int.h"

/* parse - a copy of text parsed; the copy is freed by the caller */
static char *parse(const char *text, struct sasl_line *l, int want)
{
        char *line = xstrdup(text);
        assert_int_equal(sasl_line_parse(line, l), want);
        return line;
}

static void test_handshake_lines(void **state)
{
        struct sasl_line l;
        char *p;
        (void)state;

        p = parse("VERSION\t1\t2", &l, 0);
        assert_int_equal(l.kind, SASL_LINE_VERSION);
        assert_int_equal(l.major, 1);
        assert_int_equal(l.minor, 2);
        free(p);
        p = parse("MECH\tPLAIN\tplaintext", &l, 0);
        assert_int_equal(l.kind, SASL_LINE_MECH);
        assert_string_equal(l.mech, "PLAIN");
        assert_int_equal(l.flags, SASL_MECH_PLAINTEXT);
        free(p);
        p = parse("MECH\tCRAM-MD5\tdictionary\tactive", &l, 0);
        assert_int_equal(l.flags, SASL_MECH_DICTIONARY | SASL_MECH_ACTIVE);
        free(p);
        p = parse("MECH\tANONYMOUS\tanonymous", &l, 0);
        assert_int_equal(l.flags, SASL_MECH_ANONYMOUS);
        free(p);
        p = parse("SPID\t4242", &l, 0);
        assert_int_equal(l.kind, SASL_LINE_OTHER);
        free(p);
        p = parse("COOKIE\t0123abcd", &l, 0);
        assert_int_equal(l.kind, SASL_LINE_OTHER);
        free(p);
        p = parse("DONE", &l, 0);
        assert_int_equal(l.kind, SASL_LINE_DONE);
        free(p);
        free(parse("VERSION\t1", &l, -1));
        free(parse("VERSION\tx\t2", &l, -1));
        free(parse("MECH", &l, -1));
}

static void test_answers(void **state)
{
        struct sasl_line l;
        char *p;
        (void)state;

        p = parse("OK\t1\tuser=alice", &l, 0);
        assert_int_equal(l.kind, SASL_LINE_OK);
        assert_int_equal(l.id, 1);
        assert_string_equal(l.user, "alice");
        assert_null(l.reason);
        free(p);
        p = parse("CONT\t3\tVXNlcm5hbWU6", &l, 0);
        assert_int_equal(l.kind, SASL_LINE_CONT);
        assert_int_equal(l.id, 3);
        assert_string_equal(l.data, "VXNlcm5hbWU6");
        free(p);
        /* Dovecot escapes tabs and newlines in values with \001 */
        p = parse("FAIL\t2\tuser=alice\treason=bad\001tpass\001nword\0011", &l,
                  0);
        assert_int_equal(l.kind, SASL_LINE_FAIL);
        assert_int_equal(l.id, 2);
        assert_string_equal(l.user, "alice");
        assert_string_equal(l.reason, "bad\tpass\nword\001");
        assert_false(l.temp);
        free(p);
        p = parse("FAIL\t9\ttemp", &l, 0);
        assert_true(l.temp);
        assert_null(l.reason);
        free(p);
        free(parse("OK\t0\tuser=alice", &l, -1));
        free(parse("OK\t-1", &l, -1));
        free(parse("CONT\t4294967296\tx", &l, -1));
        free(parse("CONT\t5", &l, -1));
        free(parse("FAIL", &l, -1));
}

static void test_filter(void **state)
{
        struct strlist m = {0};
        unsigned flags[] = {SASL_MECH_PLAINTEXT,
                            SASL_MECH_PLAINTEXT,
                            SASL_MECH_DICTIONARY | SASL_MECH_ACTIVE,
                            SASL_MECH_ANONYMOUS,
                            SASL_MECH_PRIVATE,
                            SASL_MECH_MUTUAL_AUTH};
        char *s;
        (void)state;

        strlist_push(&m, "PLAIN");
        strlist_push(&m, "LOGIN");
        strlist_push(&m, "CRAM-MD5");
        strlist_push(&m, "ANONYMOUS");
        strlist_push(&m, "SECRET");
        strlist_push(&m, "GSSAPI");
        s = sasl_mechs_filter(&m, flags, "noanonymous");
        assert_string_equal(s, "PLAIN LOGIN CRAM-MD5 GSSAPI");
        free(s);
        s = sasl_mechs_filter(&m, flags, "noplaintext, noanonymous");
        assert_string_equal(s, "CRAM-MD5 GSSAPI");
        free(s);
        s = sasl_mechs_filter(&m, flags, "nodictionary noplaintext");
        assert_string_equal(s, "ANONYMOUS GSSAPI");
        free(s);
        s = sasl_mechs_filter(&m, flags, "mutual_auth");
        assert_string_equal(s, "GSSAPI");
        free(s);
        s = sasl_mechs_filter(&m, flags,
                              "noplaintext noanonymous "
                              "nodictionary noactive mutual_auth");
        assert_string_equal(s, "GSSAPI");
        free(s);
        s = sasl_mechs_filter(&m, flags, "");
        assert_string_equal(s, "PLAIN LOGIN CRAM-MD5 ANONYMOUS GSSAPI");
        free(s);
        strlist_clear(&m);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_handshake_lines),
            cmocka_unit_test(test_answers),
            cmocka_unit_test(test_filter),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

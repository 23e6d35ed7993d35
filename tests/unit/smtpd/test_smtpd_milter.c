/* SPDX-License-Identifier: MIT */
/*
 * test_smtpd_milter.c - the Milter codec and edits without a milter:
 * replies parsed as libmilter sends them, malformed ones refused, header
 * edits by position and by name (n-th occurrence, any case, the name as
 * the milter spells it, delete, not found),
 * the server's own headers (above an insert at 0, invisible to a change),
 * body replacement with bare LFs, smtpd_milters syntax.  The conversation
 * itself is tested against real milters (test_smtpd_milter.py).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtpd/smtpd_int.h"

static const char msg[] = "Subject: one\r\n"
                          "To: a@example.com,\r\n"
                          "\tb@example.com\r\n"
                          "Subject: two\r\n"
                          "\r\n"
                          "body\r\n";

/* add - parse one packet and add it to r */
static void add(struct milter_result *r, char cmd, const char *data, size_t len,
                bool leadspc)
{
        struct milter_reply rep;

        assert_int_equal(milter_reply_parse(cmd, data, len, &rep), 0);
        milter_result_add(r, &rep, leadspc);
}

/* hdr - an INSHEADER or CHGHEADER packet: index, name, value */
static size_t hdr(char *buf, uint32_t index, const char *name,
                  const char *value)
{
        size_t n = 4;

        buf[0] = (char)(index >> 24);
        buf[1] = (char)(index >> 16);
        buf[2] = (char)(index >> 8);
        buf[3] = (char)index;
        memcpy(buf + n, name, strlen(name) + 1);
        n += strlen(name) + 1;
        memcpy(buf + n, value, strlen(value) + 1);
        return n + strlen(value) + 1;
}

/* applied - msg with r's edits */
static char *applied(const struct milter_result *r)
{
        struct strbuf out;

        strbuf_init(&out);
        milter_apply(r, msg, strlen(msg), 0, &out);
        return strbuf_detach(&out);
}

/* test_no_edits - the message comes out byte for byte */
static void test_no_edits(void **state)
{
        struct milter_result r = {0};
        char *out;

        (void)state;
        out = applied(&r);
        assert_string_equal(out, msg);
        free(out);
}

/* test_header_edits - insert, add, change the second Subject, delete the
 * folded To, and a change of a header that is not there adds it */
static void test_header_edits(void **state)
{
        struct milter_result *r = xcalloc(1, sizeof(*r));
        char buf[256];
        char *out;

        (void)state;
        add(r, SMFIR_INSHEADER, buf,
            hdr(buf, 0, "DKIM-Signature", "v=1;\n\tb=x"), false);
        add(r, SMFIR_ADDHEADER, "X-Spam\0yes", 11, false);
        add(r, SMFIR_CHGHEADER, buf, hdr(buf, 2, "subject", "changed"), false);
        add(r, SMFIR_CHGHEADER, buf, hdr(buf, 1, "To", ""), false);
        add(r, SMFIR_CHGHEADER, buf, hdr(buf, 1, "X-New", " lead"), true);
        add(r, SMFIR_CHGHEADER, buf, hdr(buf, 3, "Subject", ""), false);
        out = applied(r);
        assert_string_equal(out, "DKIM-Signature: v=1;\r\n"
                                 "\tb=x\r\n"
                                 "Subject: one\r\n"
                                 "subject: changed\r\n"
                                 "X-Spam: yes\r\n"
                                 "X-New: lead\r\n"
                                 "\r\n"
                                 "body\r\n");
        free(out);
        milter_result_free(r);
}

/* test_insert_position - an index past the end appends; 1 is after the
 * first header */
static void test_insert_position(void **state)
{
        struct milter_result *r = xcalloc(1, sizeof(*r));
        char buf[256];
        char *out;

        (void)state;
        add(r, SMFIR_INSHEADER, buf, hdr(buf, 1, "X-One", "1"), false);
        add(r, SMFIR_INSHEADER, buf, hdr(buf, 99, "X-End", "e"), false);
        out = applied(r);
        assert_string_equal(out, "Subject: one\r\n"
                                 "X-One: 1\r\n"
                                 "To: a@example.com,\r\n"
                                 "\tb@example.com\r\n"
                                 "Subject: two\r\n"
                                 "X-End: e\r\n"
                                 "\r\n"
                                 "body\r\n");
        free(out);
        milter_result_free(r);
}

/* test_hidden - the server's own header: index 0 is above it, a change
 * by name does not see it */
static void test_hidden(void **state)
{
        struct milter_result *r = xcalloc(1, sizeof(*r));
        char *full = xasprintf("Received: by us\r\n%s", msg);
        struct strbuf out;
        char buf[256];

        (void)state;
        add(r, SMFIR_INSHEADER, buf, hdr(buf, 0, "DKIM-Signature", "x"), false);
        add(r, SMFIR_INSHEADER, buf, hdr(buf, 2, "X-Two", "2"), false);
        add(r, SMFIR_CHGHEADER, buf, hdr(buf, 1, "Received", "forged"), false);
        strbuf_init(&out);
        milter_apply(r, full, strlen(full), 1, &out);
        assert_string_equal(out.s, "DKIM-Signature: x\r\n"
                                   "Received: by us\r\n"
                                   "X-Two: 2\r\n"
                                   "Subject: one\r\n"
                                   "To: a@example.com,\r\n"
                                   "\tb@example.com\r\n"
                                   "Subject: two\r\n"
                                   "Received: forged\r\n"
                                   "\r\n"
                                   "body\r\n");
        assert_int_equal(milter_count_headers(full, strlen(full)), 4);
        strbuf_clear(&out);
        free(full);
        milter_result_free(r);
}

/* test_body - chunks of a new body, bare LFs become CRLF, a last line
 * without one gets it */
static void test_body(void **state)
{
        struct milter_result *r = xcalloc(1, sizeof(*r));
        char *out;

        (void)state;
        add(r, SMFIR_REPLBODY, "new\nbo", 6, false);
        add(r, SMFIR_REPLBODY, "dy\r\nend", 7, false);
        out = applied(r);
        assert_string_equal(out, "Subject: one\r\n"
                                 "To: a@example.com,\r\n"
                                 "\tb@example.com\r\n"
                                 "Subject: two\r\n"
                                 "\r\n"
                                 "new\r\nbody\r\nend\r\n");
        free(out);
        milter_result_free(r);
}

/* test_envelope - addresses lose their brackets */
static void test_envelope(void **state)
{
        struct milter_result *r = xcalloc(1, sizeof(*r));

        (void)state;
        add(r, SMFIR_CHGFROM, "<new@example.com>\0SIZE=10", 26, false);
        add(r, SMFIR_ADDRCPT, "<c@example.com>", 16, false);
        add(r, SMFIR_ADDRCPT_PAR, "d@example.com\0NOTIFY=NEVER", 27, false);
        add(r, SMFIR_DELRCPT, "<a@example.com>", 16, false);
        add(r, SMFIR_QUARANTINE, "spam", 5, false);
        assert_string_equal(r->sender, "new@example.com");
        assert_int_equal(r->add_rcpt.n, 2);
        assert_string_equal(r->add_rcpt.v[0], "c@example.com");
        assert_string_equal(r->add_rcpt.v[1], "d@example.com");
        assert_string_equal(r->del_rcpt.v[0], "a@example.com");
        assert_string_equal(r->hold_reason, "spam");
        milter_result_free(r);
}

/* test_bad_replies - what the parser refuses */
static void test_bad_replies(void **state)
{
        struct milter_reply rep;
        static const struct {
                char cmd;
                const char *data;
                size_t len;
        } bad[] = {
            {SMFIR_REPLYCODE, "250 ok", 7},    /* not 4XX or 5XX */
            {SMFIR_REPLYCODE, "550", 4},       /* no text separator */
            {SMFIR_REPLYCODE, "550 5.7.1", 9}, /* no NUL */
            {SMFIR_ADDHEADER, "X-A\0v", 5},    /* value without NUL */
            {SMFIR_ADDHEADER, "\0v", 3},       /* empty name */
            {SMFIR_ADDHEADER, "X:A\0v", 6},    /* colon in the name */
            {SMFIR_ADDHEADER, "X A\0v", 6},    /* blank in the name */
            {SMFIR_INSHEADER, "\0\0\0", 3},    /* no index */
            {SMFIR_ADDRCPT, "", 1},            /* empty address */
            {SMFIR_OPTNEG, "\0\0\0\6", 4},     /* short */
            {'Z', "", 0},                      /* unknown */
        };

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
                assert_int_equal(milter_reply_parse(bad[i].cmd, bad[i].data,
                                                    bad[i].len, &rep),
                                 -1);
        assert_int_equal(
            milter_reply_parse(SMFIR_REPLYCODE, "451-4.7.1 wait", 15, &rep), 0);
        assert_string_equal(rep.text, "451-4.7.1 wait");
}

/* test_specs - smtpd_milters syntax */
static void test_specs(void **state)
{
        struct milter_spec d, *v;
        size_t n;
        char *err = NULL;

        (void)state;
        assert_int_equal(
            milter_settings_init(&d, "tempfail", 30, 30, 300, 6, &err), 0);
        assert_int_equal(
            milter_specs_parse("inet:127.0.0.1:8891, { unix:milter/s , "
                               "default_action = accept, command_timeout = "
                               "2m, protocol = 4 } /run/m.sock",
                               &d, "/q", &v, &n, &err),
            0);
        assert_int_equal(n, 3);
        assert_string_equal(v[0].target, "inet:127.0.0.1:8891");
        assert_int_equal(v[0].default_action, MILTER_TEMPFAIL);
        assert_string_equal(v[1].name, "unix:milter/s");
        assert_string_equal(v[1].target, "/q/milter/s");
        assert_int_equal(v[1].default_action, MILTER_ACCEPT);
        assert_int_equal(v[1].command_ms, 120000);
        assert_int_equal(v[1].content_ms, 300000);
        assert_int_equal(v[1].version, 4);
        assert_string_equal(v[2].target, "/run/m.sock");
        milter_specs_free(v, n);

        static const char *const bad[] = {
            "localhost:8891",
            "{ inet:h:1, nope = 1 }",
            "{ inet:h:1, default_action = maybe }",
            "{ inet:h:1, protocol = 7 }",
            "{ inet:h:1",
            "{ }",
            "{ inet:h:1, connect_timeout }",
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                assert_int_equal(
                    milter_specs_parse(bad[i], &d, "/q", &v, &n, &err), -1);
                assert_non_null(err);
                free(err);
                err = NULL;
        }
        assert_int_equal(
            milter_settings_init(&d, "bounce", 30, 30, 300, 6, &err), -1);
        free(err);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_no_edits),
            cmocka_unit_test(test_header_edits),
            cmocka_unit_test(test_insert_position),
            cmocka_unit_test(test_hidden),
            cmocka_unit_test(test_body),
            cmocka_unit_test(test_envelope),
            cmocka_unit_test(test_bad_replies),
            cmocka_unit_test(test_specs),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/*
 * test_mime.c - the MIME structure parser: header classes, folded
 * headers, multipart nesting, attached messages, digests, limits, and
 * that any split of the input gives the same units, which add up to the
 * input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "mime/mime.h"

/* What the callback saw. */
struct seen {
        struct strbuf log;  /* "P|key\n" per unit (B|offset|key for body) */
        struct strbuf text; /* the units' text, concatenated */
        unsigned truncated;
};

static const char cls_letter[] = {'P', 'M', 'N', 'B'};

/* on_unit - record one unit */
static void on_unit(void *arg, const struct mime_unit *u)
{
        struct seen *s = arg;

        if (u->cls == MIME_BODY)
                strbuf_printf(&s->log, "B|%zu|%s\n", u->offset,
                              u->key ? u->key : "(null)");
        else
                strbuf_printf(&s->log, "%c|%s\n", cls_letter[u->cls], u->key);
        strbuf_add(&s->text, u->text, u->len);
        s->truncated += u->truncated;
}

/* run - the units of in, fed in pieces of step bytes (0: all at once) */
static void run(const struct mime_settings *set, const char *in, size_t step,
                struct seen *s)
{
        struct mime_parser *p = mime_parser_new(set, on_unit, s);
        size_t n = strlen(in);

        memset(s, 0, sizeof(*s));
        strbuf_init(&s->log);
        strbuf_init(&s->text);
        for (size_t off = 0; off < n;) {
                size_t k = step && step < n - off ? step : n - off;
                mime_parser_feed(p, in + off, k);
                off += k;
        }
        mime_parser_finish(p);
        mime_parser_free(p);
        strbuf_adds(&s->log, ""); /* never NULL */
}

/* check - the units of in, with every split, are expect; and they add
 * up to the input */
static void check(const struct mime_settings *set, const char *in,
                  const char *expect)
{
        static const size_t steps[] = {0, 1, 2, 3, 7, 64};

        for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
                struct seen s;
                run(set, in, steps[i], &s);
                if (strcmp(s.log.s, expect) != 0)
                        fail_msg("step %zu:\n%s\nexpected:\n%s", steps[i],
                                 s.log.s, expect);
                if (s.truncated == 0) {
                        assert_int_equal(s.text.len, strlen(in));
                        assert_memory_equal(s.text.s, in, s.text.len);
                }
                strbuf_clear(&s.log);
                strbuf_clear(&s.text);
        }
}

/* settings - the defaults with body keys */
static struct mime_settings settings(void)
{
        struct mime_settings set;

        mime_settings_init(&set);
        set.body_keys = true;
        return set;
}

/* test_simple - folded headers keep their newlines; the empty line and
 * the body are body lines with their offsets */
static void test_simple(void **state)
{
        struct mime_settings set = settings();
        (void)state;

        check(&set,
              "Received: from a\r\n\tby b\r\n"
              "Subject: foo\r\n bar\r\n"
              "Subject : obsolete\r\n"
              "MIME-Version: 1.0\r\n"
              "Content-Type: text/plain\r\n"
              "\r\n"
              "line one\r\n"
              "--not a boundary\r\n"
              "Subject: in the body\r\n",
              "P|Received: from a\n\tby b\n"
              "P|Subject: foo\n bar\n"
              "P|Subject: obsolete\n"
              "M|MIME-Version: 1.0\n"
              "M|Content-Type: text/plain\n"
              "B|0|\n"
              "B|1|line one\n"
              "B|10|--not a boundary\n"
              "B|27|Subject: in the body\n");
        /* no body keys: NULL */
        set.body_keys = false;
        check(&set, "A: b\r\n\r\nx\r\n", "P|A: b\nB|0|(null)\nB|1|(null)\n");
        /* no empty line: a non-header line starts the body; the last line
         * has no line ending */
        set.body_keys = true;
        check(&set, "A: b\r\nnot a header\r\nC: d",
              "P|A: b\nB|0|not a header\n"
              "B|13|C: d\n");
        /* a bare CR inside a header stays in the key */
        check(&set, "A: b\rc\r\n\r\n", "P|A: b\rc\nB|0|\n");
}

/* The message of test_multipart: mixed, with an alternative inside, an
 * attachment, and a preamble and epilogue. */
static const char multipart[] =
    "From: a@example.org\r\n"
    "Content-Type: multipart/mixed;\r\n"
    "\tboundary=\"outer (x)\"\r\n"
    "\r\n"
    "preamble\r\n"
    "--outer (x)\r\n"
    "Content-Type: multipart/alternative; BOUNDARY=inner\r\n"
    "X-Part: 1\r\n"
    "\r\n"
    "--inner\r\n"
    "Content-Type: text/plain\r\n"
    "\r\n"
    "plain\r\n"
    "--inner\r\n"
    "\r\n"
    "default text\r\n"
    "--outer (x)\r\n"
    "Content-Type: application/octet-stream (a comment)\r\n"
    "Content-Disposition: attachment; filename=\"evil.exe\"\r\n"
    "\r\n"
    "TVqQAAMAAAAEAAAA\r\n"
    "--outer (x)--   \r\n"
    "epilogue\r\n"
    "Subject: not a header\r\n";

/* test_multipart - part headers are MIME class, boundaries and bodies
 * are body lines, and the outer boundary closes the inner part */
static void test_multipart(void **state)
{
        struct mime_settings set = settings();
        (void)state;

        check(&set, multipart,
              "P|From: a@example.org\n"
              "M|Content-Type: multipart/mixed;\n\tboundary=\"outer (x)\"\n"
              "B|0|\n"
              "B|1|preamble\n"
              "B|10|--outer (x)\n"
              "M|Content-Type: multipart/alternative; BOUNDARY=inner\n"
              "M|X-Part: 1\n"
              "B|0|\n"
              "B|1|--inner\n"
              "M|Content-Type: text/plain\n"
              "B|0|\n"
              "B|1|plain\n"
              "B|7|--inner\n"
              "B|0|\n"
              "B|1|default text\n"
              "B|14|--outer (x)\n"
              "M|Content-Type: application/octet-stream (a comment)\n"
              "M|Content-Disposition: attachment; filename=\"evil.exe\"\n"
              "B|0|\n"
              "B|1|TVqQAAMAAAAEAAAA\n"
              "B|0|--outer (x)--   \n"
              "B|17|epilogue\n"
              "B|26|Subject: not a header\n");
        /* disable_mime_input_processing: the structure is not looked at,
         * a MIME header of the message is still MIME class */
        set.no_mime = true;
        struct seen s;
        run(&set, multipart, 0, &s);
        assert_non_null(strstr(s.log.s, "M|Content-Type: multipart/mixed;"));
        assert_non_null(strstr(s.log.s, "|X-Part: 1\n"));
        assert_null(strstr(s.log.s, "M|X-Part: 1\n"));
        assert_null(strstr(s.log.s, "M|Content-Disposition"));
        strbuf_clear(&s.log);
        strbuf_clear(&s.text);
}

/* test_nested - an attached message's headers are nested class (its MIME
 * headers MIME class), also in a digest and in a top-level message/rfc822
 */
static void test_nested(void **state)
{
        struct mime_settings set = settings();
        (void)state;

        check(&set,
              "Content-Type: multipart/mixed; boundary=b1\r\n"
              "\r\n"
              "--b1\r\n"
              "Content-Type: message/rfc822\r\n"
              "\r\n"
              "Subject: attached\r\n"
              "Content-Type: text/plain\r\n"
              "\r\n"
              "Subject: body of it\r\n"
              "--b1--\r\n",
              "M|Content-Type: multipart/mixed; boundary=b1\n"
              "B|0|\n"
              "B|1|--b1\n"
              "M|Content-Type: message/rfc822\n"
              "B|0|\n"
              "N|Subject: attached\n"
              "M|Content-Type: text/plain\n"
              "B|0|\n"
              "B|1|Subject: body of it\n"
              "B|0|--b1--\n");
        check(&set,
              "Content-Type: multipart/digest; boundary=\"d\"\r\n"
              "\r\n"
              "--d\r\n"
              "\r\n"
              "Subject: one\r\n"
              "\r\n"
              "--d\r\n"
              "Content-Type: text/plain\r\n"
              "\r\n"
              "Subject: two\r\n"
              "--d--\r\n",
              "M|Content-Type: multipart/digest; boundary=\"d\"\n"
              "B|0|\n"
              "B|1|--d\n"
              "B|0|\n"
              "N|Subject: one\n"
              "B|0|\n"
              "B|1|--d\n"
              "M|Content-Type: text/plain\n"
              "B|0|\n"
              "B|1|Subject: two\n"
              "B|0|--d--\n");
        check(&set,
              "Content-Type: message/rfc822\r\n"
              "\r\n"
              "Subject: forwarded\r\n"
              "Content-Type: multipart/mixed; boundary=z\r\n"
              "\r\n"
              "--z\r\n"
              "X-In-Part: yes\r\n"
              "\r\n"
              "--z--\r\n",
              "M|Content-Type: message/rfc822\n"
              "B|0|\n"
              "N|Subject: forwarded\n"
              "M|Content-Type: multipart/mixed; boundary=z\n"
              "B|0|\n"
              "B|1|--z\n"
              "M|X-In-Part: yes\n"
              "B|0|\n"
              "B|0|--z--\n");
        /* message/partial is not parsed */
        check(&set, "Content-Type: message/partial\r\n\r\nSubject: x\r\n",
              "M|Content-Type: message/partial\nB|0|\nB|1|Subject: x\n");
}

/* test_limits - header_size_limit truncates (the rest is dropped),
 * line_length_limit cuts body lines into pieces, boundaries are seen only
 * at the start of a line, the nesting limit stops new multiparts */
static void test_limits(void **state)
{
        struct mime_settings set = settings();
        struct seen s;
        char big[400];
        (void)state;

        set.header_limit = 20;
        run(&set, "Subject: 0123456789abcdef\r\n next line\r\n\r\nx\r\n", 0,
            &s);
        assert_string_equal(s.log.s, "P|Subject: 0123456789a\nB|0|\nB|1|x\n");
        assert_string_equal(s.text.s, "Subject: 0123456789a\r\n\r\nx\r\n");
        assert_int_equal(s.truncated, 1);
        strbuf_clear(&s.log);
        strbuf_clear(&s.text);

        set = settings();
        set.line_limit = 80; /* the smallest */
        memset(big, 'x', sizeof(big));
        memcpy(big, "--b", 3);
        big[sizeof(big) - 1] = 0;
        char *in = xasprintf("Content-Type: multipart/mixed; boundary=b\r\n"
                             "\r\n"
                             "A%s\r\n"
                             "%s\r\n"
                             "--b\r\n"
                             "\r\n",
                             big, big);
        run(&set, in, 0, &s);
        /* 401 bytes plus CRLF: pieces of 80, the last with the ending */
        assert_non_null(strstr(s.log.s, "B|1|A--bxxx"));
        assert_non_null(strstr(s.log.s, "B|81|xxx"));
        assert_non_null(strstr(s.log.s, "\nB|401|\n"));
        /* the second long line starts with "--b": a boundary (the part's
         * headers follow: its next pieces are not headers, so body) */
        assert_non_null(strstr(s.log.s, "B|402|--bxxx"));
        assert_int_equal(s.text.len, strlen(in));
        strbuf_clear(&s.log);
        strbuf_clear(&s.text);
        free(in);

        set = settings();
        set.max_depth = 1;
        check(&set,
              "Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\n"
              "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
              "X: 1\r\n",
              "M|Content-Type: multipart/mixed; boundary=a\nB|0|\nB|1|--a\n"
              "M|Content-Type: multipart/mixed; boundary=b\nB|0|\n"
              "B|1|--b\nB|5|X: 1\n");
        /* the boundary limit: compared by its start */
        set = settings();
        set.boundary_limit = 3;
        check(&set,
              "Content-Type: multipart/mixed; boundary=abcdef\r\n\r\n"
              "--abcXYZ\r\nX: 1\r\n",
              "M|Content-Type: multipart/mixed; boundary=abcdef\nB|0|\n"
              "B|1|--abcXYZ\nM|X: 1\n");
}

/* test_cut - the MTA's own header cannot be continued by the client's
 * content: a continuation line after the cut is body */
static void test_cut(void **state)
{
        struct mime_settings set = settings();
        struct mime_parser *p;
        struct seen s = {0};
        (void)state;

        p = mime_parser_new(&set, on_unit, &s);
        mime_parser_feed(p, "Received: by mx\r\n", 17);
        mime_parser_cut(p);
        assert_string_equal(s.log.s, "P|Received: by mx\n");
        mime_parser_feed(p, " continued?\r\nSubject: x\r\n", 25);
        mime_parser_finish(p);
        mime_parser_free(p);
        assert_string_equal(s.log.s, "P|Received: by mx\nB|0| continued?\n"
                                     "B|12|Subject: x\n");
        strbuf_clear(&s.log);
        strbuf_clear(&s.text);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_simple), cmocka_unit_test(test_multipart),
            cmocka_unit_test(test_nested), cmocka_unit_test(test_limits),
            cmocka_unit_test(test_cut),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/*
 * test_smtpd_hbc.c - header and body checks without a server: the
 * action words, each action's effect on the content and the decision,
 * Postfix's log lines and replies, which table sees which header, the
 * body_checks_size_limit, receive_override_options, and the envelope
 * edits of BCC and REDIRECT.  The server around them is tested with
 * real clients (test_header_checks.py).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../capture.h"
#include "../scratch.h"
#include "../settings.h"
#include "conf/conf.h"
#include "queue/queue.h"
#include "smtpd/smtpd_int.h"

static char dir[64];

/* setup - a scratch directory with the tables */
static int setup(void **state)
{
        static const struct {
                const char *name, *text;
        } tables[] = {
            {"header", "/^Subject: viagra/ REJECT\n"
                       "/^Subject: later/ REJECT 4.7.1 try again later\n"
                       "/^Subject: success/ REJECT 2.0.0 odd\n"
                       "/^Subject: own text/ REJECT go away\n"
                       "/^X-Ignore:/ IGNORE\n"
                       "/^X-Strip:/ strip why\n"
                       "/^Subject: prepend/ PREPEND X-Pre: 1\n"
                       "/^Subject: badprepend/ PREPEND not a header\n"
                       "/^Subject: replace (.*)/ REPLACE Subject: [$1]\n"
                       "/^Subject: discard/ DISCARD gone\n"
                       "/^Subject: hold/ HOLD look at it\n"
                       "/^Subject: redirect/ REDIRECT <x@redirect.example>\n"
                       "/^Subject: badredirect/ REDIRECT nobody\n"
                       "/^Subject: bcc/ BCC copy@bcc.example\n"
                       "/^Subject: warn/ WARN careful\n"
                       "/^Subject: info/ INFO\n"
                       "/^Subject: filter/ FILTER smtp:[127.0.0.1]:10025\n"
                       "/^Subject: refilter/ FILTER scan:[127.0.0.1]:10026\n"
                       "/^Subject: nohop/ FILTER scan\n"
                       "/^Subject: pass/ PASS\n"
                       "/^Subject: dunno/ DUNNO\n"
                       "/^Subject: frobnicate/ FROBNICATE\n"
                       "/^Subject: folded.*second/ WARN folded\n"
                       "/^Received: from h/ INFO ours\n"},
            {"mime", "/^Content-Disposition:.*evil\\.exe/ REJECT no exe\n"
                     "/^Subject:/ WARN mime saw a subject\n"},
            {"nested", "/^Subject: nested/ REJECT nested bad\n"},
            {"body", "/^bad line/ REJECT 5.7.0 no bad lines\n"
                     "/^edit me/ REPLACE edited\n"
                     "/^drop me/ IGNORE\n"
                     "/^before me/ PREPEND inserted\n"},
        };
        (void)state;
        snprintf(dir, sizeof(dir), "/tmp/postern-hbc-XXXXXX");
        assert_non_null(mkdtemp(dir));
        for (size_t i = 0; i < ARRAY_SIZE(tables); i++)
                settings_file(dir, tables[i].name, tables[i].text);
        return 0;
}

/* teardown - remove the scratch directory */
static int teardown(void **state)
{
        (void)state;
        return scratch_remove(dir);
}

/* load - a configuration from "name=value" settings (NULL-terminated),
 * with the scratch tables as DIR/name */
static struct conf *load(const char *const *settings)
{
        return settings_load(dir, NULL, settings);
}

/* The checks of every test: all four tables. */
static const char *const all[] = {
    "header_checks=regexp:DIR/header",
    "mime_header_checks=regexp:DIR/mime",
    "nested_header_checks=regexp:DIR/nested",
    "body_checks=regexp:DIR/body",
    "body_checks_size_limit=100",
    NULL,
};

/* collect - the stream's output */
static int collect(void *arg, const char *p, size_t n)
{
        strbuf_add(arg, p, n);
        return 0;
}

/* A message through the checks. */
struct run {
        struct strbuf out;
        struct smtpd_hbc_result res;
        int rc;
        char *log;
};

/* check - in through c's checks, fed in pieces of step bytes, with
 * "Received: from h\r\n" (cut) before it */
static void check(const struct conf *c, const char *in, size_t step,
                  struct run *r)
{
        struct smtpd_hbc *h = NULL;
        char *err = NULL;
        char *logf = xasprintf("%s/log", dir);
        struct smtpd_hbc_origin o = {
            .queue_id = "QID",
            .client = "client.example[192.0.2.1]",
            .sender = "a@b.example",
            .rcpt = "c@d.example",
            .proto = "ESMTP",
            .helo = "h.example",
        };

        assert_int_equal(smtpd_hbc_new(c, true, false, &h, &err), 0);
        assert_non_null(h);
        strbuf_init(&r->out);
        capture_begin(logf);
        struct smtpd_hbc_stream *st = smtpd_hbc_start(h, &o, collect, &r->out);
        assert_int_equal(smtpd_hbc_write(st, "Received: from h\r\n", 18), 0);
        smtpd_hbc_cut(st);
        for (size_t off = 0, n = strlen(in); off < n;) {
                size_t k = step && step < n - off ? step : n - off;
                (void)smtpd_hbc_write(st, in + off, k);
                off += k;
        }
        r->rc = smtpd_hbc_finish(st, &r->res);
        smtpd_hbc_stream_free(st);
        r->log = capture_end(logf);
        smtpd_hbc_free(h);
        free(logf);
        strbuf_adds(&r->out, "");
}

/* done - release a run */
static void done(struct run *r)
{
        strbuf_clear(&r->out);
        smtpd_hbc_result_clear(&r->res);
        free(r->log);
}

/* test_action_words - the action and its text */
static void test_action_words(void **state)
{
        static const struct {
                const char *value;
                enum smtpd_hbc_action a;
                const char *text;
        } t[] = {
            {"REJECT", SMTPD_HBC_REJECT, ""},
            {"reject  some text ", SMTPD_HBC_REJECT, "some text "},
            {"Dunno", SMTPD_HBC_DUNNO, ""},
            {"OK", SMTPD_HBC_DUNNO, ""},
            {"IGNORE\tx", SMTPD_HBC_IGNORE, "x"},
            {"PREPEND X-A: b", SMTPD_HBC_PREPEND, "X-A: b"},
            {"REPLACE", SMTPD_HBC_REPLACE, ""},
            {"REDIRECT a@b", SMTPD_HBC_REDIRECT, "a@b"},
            {"BCC a@b", SMTPD_HBC_BCC, "a@b"},
            {"FILTER smtp:x", SMTPD_HBC_FILTER, "smtp:x"},
            {"WARN", SMTPD_HBC_WARN, ""},
            {"INFO i", SMTPD_HBC_INFO, "i"},
            {"HOLD", SMTPD_HBC_HOLD, ""},
            {"DISCARD d", SMTPD_HBC_DISCARD, "d"},
            {"PASS", SMTPD_HBC_PASS, ""},
            {"STRIP", SMTPD_HBC_STRIP, ""},
            {"REJECTED", SMTPD_HBC_UNKNOWN, ""},
            {"550 no", SMTPD_HBC_UNKNOWN, "no"},
            {"", SMTPD_HBC_UNKNOWN, ""},
        };
        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                const char *text = NULL;
                assert_int_equal(smtpd_hbc_action(t[i].value, &text), t[i].a);
                assert_string_equal(text, t[i].text);
        }
}

/* test_reject - replies and log lines of REJECT; nothing is written or
 * checked after it */
static void test_reject(void **state)
{
        static const struct {
                const char *subject, *reply, *log;
        } t[] = {
            {"viagra", "550 5.7.1 message content rejected",
             "postern: QID: reject: header Subject: viagra from "
             "client.example[192.0.2.1]; from=<a@b.example> "
             "to=<c@d.example> proto=ESMTP helo=<h.example>: 5.7.1 "
             "message content rejected\n"},
            {"later", "451 4.7.1 try again later", ": 4.7.1 try again later\n"},
            {"own text", "550 5.7.1 go away", ": 5.7.1 go away\n"},
            {"success", "451 4.0.0 odd",
             "warning: bad DSN action in 2.0.0 odd -- need 4.x.x or "
             "5.x.x\n"},
        };
        struct conf *c = load(all);
        (void)state;

        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                struct run r;
                char *in = xasprintf("From: x\r\nSubject: %s\r\n"
                                     "Subject: warn\r\n\r\nbad line\r\n",
                                     t[i].subject);
                check(c, in, 0, &r);
                assert_int_equal(r.rc, 0);
                assert_int_equal(r.res.verdict, SMTPD_HBC_REFUSE);
                assert_string_equal(r.res.reply, t[i].reply);
                assert_non_null(strstr(r.log, t[i].log));
                /* the first decides: no "warning:" for the next header,
                 * no body reject, nothing written after it */
                assert_null(strstr(r.log, "careful"));
                assert_null(strstr(r.log, "bad lines"));
                assert_string_equal(r.out.s, "Received: from h\r\n"
                                             "From: x\r\n");
                done(&r);
                free(in);
        }
        conf_free(c);
}

/* test_edits - IGNORE, STRIP, PREPEND, REPLACE ($1), WARN, INFO, DUNNO,
 * an unknown action and a bad PREPEND, in headers and body lines, for
 * every split of the input */
static void test_edits(void **state)
{
        static const char in[] = "X-Ignore: gone\r\n"
                                 "Subject: prepend\r\n"
                                 "Subject: replace this one\r\n"
                                 "X-Strip: gone too\r\n"
                                 "Subject: badprepend\r\n"
                                 "Subject: frobnicate\r\n"
                                 "Subject: dunno\r\n"
                                 "Subject: folded\r\n\tsecond line\r\n"
                                 "Subject: info\r\n"
                                 "\r\n"
                                 "edit me\r\n"
                                 "drop me\r\n"
                                 "before me\r\n"
                                 "kept\r\n";
        static const char out[] = "Received: from h\r\n"
                                  "X-Pre: 1\r\n"
                                  "Subject: prepend\r\n"
                                  "Subject: [this one]\r\n"
                                  "Subject: badprepend\r\n"
                                  "Subject: frobnicate\r\n"
                                  "Subject: dunno\r\n"
                                  "Subject: folded\r\n\tsecond line\r\n"
                                  "Subject: info\r\n"
                                  "\r\n"
                                  "edited\r\n"
                                  "inserted\r\n"
                                  "before me\r\n"
                                  "kept\r\n";
        static const size_t steps[] = {0, 1, 5};
        struct conf *c = load(all);
        (void)state;

        for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
                struct run r;
                check(c, in, steps[i], &r);
                assert_int_equal(r.rc, 0);
                assert_int_equal(r.res.verdict, SMTPD_HBC_QUEUE);
                assert_false(r.res.hold);
                assert_string_equal(r.out.s, out);
                static const char *const lines[] = {
                    "QID: info: header Received: from h from "
                    "client.example[192.0.2.1]; from=<a@b.example> "
                    "to=<c@d.example> proto=ESMTP helo=<h.example>: ours\n",
                    "QID: prepend: header Subject: prepend from ",
                    "helo=<h.example>: X-Pre: 1\n",
                    "QID: replace: header Subject: replace this one from ",
                    ": Subject: [this one]\n",
                    "QID: strip: header X-Strip: gone too from ",
                    "helo=<h.example>: why\n",
                    "warning: bad PREPEND header text \"not a header\" in "
                    "header_checks map -- need \"headername: "
                    "headervalue\"\n",
                    "warning: unknown command in header_checks map: "
                    "FROBNICATE\n",
                    /* the key keeps the folding's newline ("?" in logs) */
                    "QID: warning: header Subject: folded?\tsecond line from",
                    "QID: info: header Subject: info from "
                    "client.example[192.0.2.1]; from=<a@b.example> "
                    "to=<c@d.example> proto=ESMTP helo=<h.example>\n",
                    "QID: replace: body edit me from ",
                    "QID: prepend: body before me from ",
                };
                for (size_t k = 0; k < ARRAY_SIZE(lines); k++)
                        if (strstr(r.log, lines[k]) == NULL)
                                fail_msg("no %s in %s", lines[k], r.log);
                assert_null(strstr(r.log, "X-Ignore"));
                assert_null(strstr(r.log, "dunno"));
                done(&r);
        }
        conf_free(c);
}

/* test_decisions - DISCARD, HOLD, FILTER (the last one wins, the checks
 * go on), REDIRECT (ends the checks), BCC, PASS */
static void test_decisions(void **state)
{
        struct conf *c = load(all);
        struct run r;
        (void)state;

        check(c, "Subject: discard\r\nSubject: viagra\r\n\r\nx\r\n", 0, &r);
        assert_int_equal(r.res.verdict, SMTPD_HBC_DROP);
        assert_non_null(strstr(r.log, "QID: discard: header Subject: discard "
                                      "from client.example[192.0.2.1]; "));
        assert_non_null(strstr(r.log, "helo=<h.example>: gone\n"));
        assert_null(strstr(r.log, "reject"));
        done(&r);

        check(c, "Subject: hold\r\nSubject: hold\r\n\r\nx\r\n", 0, &r);
        assert_int_equal(r.res.verdict, SMTPD_HBC_QUEUE);
        assert_true(r.res.hold);
        assert_non_null(strstr(r.log, ": look at it\n"));
        assert_int_equal(strstr(strstr(r.log, "hold:") + 1, "hold:"), NULL);
        assert_non_null(strstr(r.out.s, "\r\n\r\nx\r\n"));
        done(&r);

        check(c, "Subject: filter\r\n\r\nx\r\n", 0, &r);
        assert_int_equal(r.res.verdict, SMTPD_HBC_QUEUE);
        assert_string_equal(r.res.filter, "smtp:[127.0.0.1]:10025");
        assert_non_null(strstr(r.log, "QID: filter: header Subject: filter "
                                      "from client.example[192.0.2.1]; "));
        assert_non_null(strstr(r.log, ": smtp:[127.0.0.1]:10025\n"));
        assert_non_null(strstr(r.out.s, "Subject: filter\r\n\r\nx\r\n"));
        done(&r);

        check(c,
              "Subject: filter\r\nSubject: refilter\r\nSubject: nohop\r\n"
              "Subject: warn\r\n\r\nx\r\n",
              0, &r);
        assert_int_equal(r.res.verdict, SMTPD_HBC_QUEUE);
        assert_string_equal(r.res.filter, "scan:[127.0.0.1]:10026");
        assert_non_null(strstr(r.log, "warning: bad FILTER command scan in "
                                      "header_checks -- need "
                                      "transport:destination\n"));
        assert_non_null(strstr(r.log, ": careful\n")); /* checks go on */
        done(&r);

        check(c,
              "Subject: bcc\r\nSubject: badredirect\r\n"
              "Subject: redirect\r\nSubject: viagra\r\n\r\nbad line\r\n",
              0, &r);
        assert_int_equal(r.res.verdict, SMTPD_HBC_QUEUE);
        assert_string_equal(r.res.redirect, "<x@redirect.example>");
        assert_int_equal(r.res.bcc.n, 1);
        assert_string_equal(r.res.bcc.v[0], "copy@bcc.example");
        assert_non_null(strstr(r.log, "warning: bad REDIRECT target "
                                      "\"nobody\" in header_checks map -- "
                                      "need user@domain\n"));
        assert_non_null(strstr(r.log, ": redirect: header Subject: "));
        assert_non_null(strstr(r.log, ": bcc: header Subject: bcc from "));
        assert_null(strstr(r.log, "reject")); /* checks end at REDIRECT */
        assert_non_null(strstr(r.out.s, "Subject: viagra\r\n"));

        /* the envelope: BCC added (once), REDIRECT replaces everyone */
        struct queue_env env;
        queue_env_init(&env);
        queue_env_add_rcpt(&env, "c@d.example", NULL, QUEUE_NOTIFY_SUCCESS);
        queue_env_add_rcpt(&env, "copy@bcc.example", NULL, 0);
        smtpd_hbc_add_bcc(&r.res, &env);
        assert_int_equal(env.nrcpt, 2);
        queue_env_del_rcpt(&env, 1);
        smtpd_hbc_add_bcc(&r.res, &env);
        assert_int_equal(env.nrcpt, 2);
        assert_string_equal(env.rcpt[1].addr, "copy@bcc.example");
        assert_int_equal(env.rcpt[1].notify, QUEUE_NOTIFY_NEVER);
        smtpd_hbc_redirect(&r.res, &env);
        assert_int_equal(env.nrcpt, 1);
        assert_string_equal(env.rcpt[0].addr, "x@redirect.example");
        assert_int_equal(env.rcpt[0].notify, 0);
        queue_env_clear(&env);
        done(&r);

        check(c, "Subject: pass\r\nSubject: viagra\r\n\r\nbad line\r\n", 0, &r);
        assert_int_equal(r.res.verdict, SMTPD_HBC_QUEUE);
        assert_non_null(strstr(r.log, "QID: pass: header Subject: pass"));
        done(&r);
        conf_free(c);
}

/* The message of test_classes: an attachment and an attached message. */
static const char mime_msg[] =
    "Subject: plain\r\n"
    "Content-Type: multipart/mixed; boundary=\"b\"\r\n"
    "\r\n"
    "--b\r\n"
    "Content-Type: application/octet-stream\r\n"
    "Content-Disposition: attachment; filename=\"%s\"\r\n"
    "\r\n"
    "TVqQ\r\n"
    "--b\r\n"
    "Content-Type: message/rfc822\r\n"
    "\r\n"
    "Subject: %s\r\n"
    "\r\n"
    "text\r\n"
    "--b--\r\n";

/* test_classes - mime_header_checks see Content-Disposition,
 * nested_header_checks the attached message's Subject; header_checks
 * see neither; disable_mime_input_processing makes them body */
static void test_classes(void **state)
{
        struct conf *c = load(all);
        struct run r;
        char *in;
        (void)state;

        in = xasprintf(mime_msg, "evil.exe", "fine");
        check(c, in, 0, &r);
        assert_int_equal(r.res.verdict, SMTPD_HBC_REFUSE);
        assert_string_equal(r.res.reply, "550 5.7.1 no exe");
        assert_non_null(strstr(r.log, "QID: reject: header "
                                      "Content-Disposition: attachment; "
                                      "filename=\"evil.exe\" from "));
        done(&r);
        free(in);

        in = xasprintf(mime_msg, "fine.txt", "nested one");
        check(c, in, 3, &r);
        assert_string_equal(r.res.reply, "550 5.7.1 nested bad");
        assert_non_null(strstr(r.log, "reject: header Subject: nested one "));
        /* the message's own Subject went to header_checks only */
        assert_null(strstr(r.log, "mime saw a subject"));
        done(&r);
        free(in);

        /* the same message without MIME processing: all body */
        const char *const nomime[] = {
            "header_checks=regexp:DIR/header",
            "mime_header_checks=regexp:DIR/mime",
            "nested_header_checks=regexp:DIR/nested",
            "disable_mime_input_processing=yes",
            NULL,
        };
        conf_free(c);
        c = load(nomime);
        in = xasprintf(mime_msg, "evil.exe", "nested one");
        check(c, in, 0, &r);
        assert_int_equal(r.res.verdict, SMTPD_HBC_QUEUE);
        assert_string_equal(r.out.s + 18, in);
        done(&r);
        free(in);
        conf_free(c);
}

/* test_body_limit - body_checks_size_limit bytes of each body part are
 * checked */
static void test_body_limit(void **state)
{
        struct conf *c = load(all);
        struct run r;
        char pad[120];
        char *in;
        (void)state;

        memset(pad, 'x', sizeof(pad) - 1);
        pad[sizeof(pad) - 1] = 0;
        /* the line at offset 121 is past the limit (100) */
        in = xasprintf("Subject: s\r\n\r\n%s\r\nbad line\r\n", pad);
        check(c, in, 0, &r);
        assert_int_equal(r.res.verdict, SMTPD_HBC_QUEUE);
        assert_string_equal(r.out.s + 18, in);
        done(&r);
        free(in);
        /* each body part starts again at 0 */
        in = xasprintf("Content-Type: multipart/mixed; boundary=b\r\n\r\n"
                       "--b\r\n\r\n%s\r\n--b\r\n\r\nbad line\r\n--b--\r\n",
                       pad);
        check(c, in, 0, &r);
        assert_int_equal(r.res.verdict, SMTPD_HBC_REFUSE);
        assert_string_equal(r.res.reply, "550 5.7.0 no bad lines");
        done(&r);
        free(in);
        conf_free(c);
}

/* test_settings - what refuses the start, and what sets nothing up */
static void test_settings(void **state)
{
        struct smtpd_hbc *h = (struct smtpd_hbc *)1;
        struct conf *c;
        char *err = NULL;
        unsigned flags = 9;
        (void)state;

        c = load((const char *const[]){NULL});
        assert_int_equal(smtpd_hbc_new(c, true, false, &h, &err), 0);
        assert_null(h);
        assert_int_equal(smtpd_receive_overrides(c, &flags, &err), 0);
        assert_int_equal(flags, 0);
        conf_free(c);

        c = load((const char *const[]){
            "body_checks=regexp:DIR/missing",
            "receive_override_options=no_header_body_checks, no_milters "
            "no_address_mappings,no_unknown_recipient_checks",
            NULL});
        assert_int_equal(smtpd_hbc_new(c, true, false, &h, &err), -1);
        assert_non_null(strstr(err, "body_checks: "));
        assert_non_null(strstr(err, "/missing"));
        free(err);
        assert_int_equal(smtpd_receive_overrides(c, &flags, &err), 0);
        assert_int_equal(flags, SMTPD_NO_HEADER_BODY_CHECKS | SMTPD_NO_MILTERS |
                                    SMTPD_NO_ADDRESS_MAPPINGS |
                                    SMTPD_NO_UNKNOWN_RCPT_CHECKS);
        conf_free(c);

        c = load((const char *const[]){
            "header_checks=regexp:DIR/header", "header_size_limit=-1",
            "receive_override_options=no_such", NULL});
        assert_int_equal(smtpd_hbc_new(c, true, false, &h, &err), -1);
        assert_string_equal(err, "header_size_limit = -1: must not be "
                                 "negative");
        free(err);
        assert_int_equal(smtpd_receive_overrides(c, &flags, &err), -1);
        assert_non_null(strstr(err, "unknown option \"no_such\""));
        free(err);
        conf_free(c);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_action_words),
            cmocka_unit_test(test_reject),
            cmocka_unit_test(test_edits),
            cmocka_unit_test(test_decisions),
            cmocka_unit_test(test_classes),
            cmocka_unit_test(test_body_limit),
            cmocka_unit_test(test_settings),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}

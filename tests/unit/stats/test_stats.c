/* SPDX-License-Identifier: MIT */
/* test_stats.c - mail log statistics: exact counts for postern's and
 * Postfix's lines, both timestamp formats, year rollover, multi-part
 * service names, garbage; escaping in the JSON and SVG output */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats/stats.h"

/* feed_all - every line of a NULL-terminated list */
static void feed_all(struct stats *s, const char *const *lines)
{
        for (size_t i = 0; lines[i]; i++)
                stats_feed(s, lines[i], strlen(lines[i]));
}

/* Postfix 3.x lines as they appear in /var/log/mail.log. */
static const char *const postfix_lines[] = {
    "Nov 28 20:48:06 mail postfix/smtpd[11677]: connect from "
    "mail-ed1-f50.google.com[209.85.208.50]",
    "Nov 28 20:48:07 mail postfix/smtpd[11677]: Anonymous TLS connection "
    "established from mail-ed1-f50.google.com[209.85.208.50]: TLSv1.3 with "
    "cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 "
    "server-signature RSA-PSS (2048 bits) server-digest SHA256\n",
    "Nov 28 20:48:08 mail postfix/smtpd[11677]: 4MbXyZ1abcz9sRG: "
    "client=mail-ed1-f50.google.com[209.85.208.50]\r\n",
    "Nov 28 20:48:09 mail postfix/smtpd[11677]: disconnect from "
    "mail-ed1-f50.google.com[209.85.208.50] ehlo=2 starttls=1 mail=1 "
    "rcpt=1 data=1 quit=1 commands=7",
    "Nov 28 20:48:09 mail postfix/smtpd[11680]: connect from "
    "unknown[192.0.2.66]",
    "Nov 28 20:48:10 mail postfix/smtpd[11680]: NOQUEUE: reject: RCPT from "
    "unknown[192.0.2.66]: 554 5.7.1 <x@example.net>: Relay access denied; "
    "from=<a@example.com> to=<x@example.net> proto=ESMTP helo=<spam>",
    "Nov 28 20:48:10 mail postfix/smtpd[11681]: connect from "
    "unknown[192.0.2.67]",
    "Nov 28 20:48:10 mail postfix/smtpd[11681]: SSL_accept error from "
    "unknown[192.0.2.67]: lost connection",
    "Nov 28 20:48:11 mail postfix/qmgr[900]: 4MbXyZ1abcz9sRG: "
    "from=<a@example.com>, size=1234, nrcpt=1 (queue active)",
    "Nov 28 20:48:12 mail postfix/smtp[11700]: Verified TLS connection "
    "established to gmail-smtp-in.l.google.com[142.250.102.27]:25: TLSv1.3 "
    "with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 "
    "server-signature ECDSA (P-256) server-digest SHA256",
    "Nov 28 20:48:13 mail postfix/smtp[11700]: 4MbXyZ1abcz9sRG: "
    "to=<x@gmail.com>, relay=gmail-smtp-in.l.google.com[142.250.102.27]:25, "
    "delay=1.2, delays=0.1/0/0.5/0.6, dsn=2.0.0, status=sent (250 2.0.0 OK "
    "1669 - gsmtp)",
    "Nov 28 20:48:14 mail postfix/smtp[11701]: Untrusted TLS connection "
    "established to mx.e.example[2001:db8::12]:25: TLSv1.2 with cipher "
    "ECDHE-RSA-AES256-GCM-SHA384 (256/256 bits)",
    "Nov 28 20:48:14 mail postfix/smtp[11701]: server certificate "
    "verification failed for mx.e.example[192.0.2.12]:25: num=62:hostname "
    "mismatch",
    "Nov 28 20:48:15 mail postfix/smtp[11702]: SSL_connect error to "
    "mx.d.example[192.0.2.11]:25: lost connection",
    "Nov 28 20:48:16 mail postfix/smtp[11701]: 4Mc000000000001: "
    "to=<b@e.example>, relay=mx.e.example[2001:db8::12]:25, delay=3, "
    "delays=0/0/1/2, dsn=5.1.1, status=bounced (host mx.e.example said: "
    "550 5.1.1 unknown user (in reply to RCPT TO command))",
    "Nov 28 20:48:17 mail postfix/smtp[11703]: 4Mc000000000002: "
    "to=<c@d.example>, relay=none, delay=30, delays=0/0/30/0, dsn=4.4.1, "
    "status=deferred (connect to mx.d.example[192.0.2.11]:25: Connection "
    "timed out)",
    "Nov 28 20:48:18 mail postfix/local[11704]: 3F2A1: to=<root@mail>, "
    "orig_to=<root>, relay=local, delay=0.01, delays=0/0/0/0, dsn=2.0.0, "
    "status=sent (delivered to mailbox)",
    "Nov 28 20:48:19 mail postfix/submission/smtpd[11705]: Trusted TLS "
    "connection established from laptop.example[198.51.100.7]: TLSv1.3 with "
    "cipher TLS_AES_128_GCM_SHA256 (128/128 bits)",
    "Nov 28 20:48:20 mail postfix/postscreen[500]: CONNECT from "
    "[192.0.2.99]:41234 to [192.0.2.1]:25",
    "Nov 28 20:48:20 mail postfix/qmgr[900]: 4Mc000000000003: "
    "from=<a@example.com>, status=expired, returned to sender",
    NULL,
};

/* test_postfix - counts from Postfix's own wording */
static void test_postfix(void **state)
{
        struct stats *s = stats_new(2026);
        const struct stats_totals *t;

        (void)state;
        feed_all(s, postfix_lines);
        t = stats_totals(s);
        assert_int_equal(t->lines, 20);
        assert_int_equal(t->skipped, 0);
        assert_int_equal(t->other, 3); /* disconnect, qmgr, postscreen */
        assert_int_equal(t->used, 17);
        assert_int_equal(t->connects, 3);
        assert_int_equal(t->tls[STATS_IN][STATS_ANONYMOUS], 1);
        assert_int_equal(t->tls[STATS_IN][STATS_TRUSTED], 1);
        assert_int_equal(t->tls[STATS_IN][STATS_VERIFIED], 0);
        assert_int_equal(t->tls[STATS_OUT][STATS_VERIFIED], 1);
        assert_int_equal(t->tls[STATS_OUT][STATS_UNTRUSTED], 1);
        assert_int_equal(t->tls[STATS_OUT][STATS_ANONYMOUS], 0);
        assert_int_equal(t->hs_fail[STATS_IN], 1);
        assert_int_equal(t->hs_fail[STATS_OUT], 1);
        assert_int_equal(t->cert_fail[STATS_OUT], 1);
        assert_int_equal(t->cert_fail[STATS_IN], 0);
        assert_int_equal(t->received, 1);
        assert_int_equal(t->rejected, 1);
        assert_int_equal(t->delivery[STATS_SENT], 2);
        assert_int_equal(t->delivery[STATS_BOUNCED], 1);
        assert_int_equal(t->delivery[STATS_DEFERRED], 1);
        assert_int_equal(t->delivery[STATS_EXPIRED], 1);
        assert_int_equal(t->relay_remote, 2);
        assert_int_equal(t->relay_local, 2);
        assert_int_equal(
            stats_count(s, STATS_PROTOCOLS, "TLSv1.3", STATS_IN, STATS_NTRUST),
            2);
        assert_int_equal(
            stats_count(s, STATS_PROTOCOLS, "TLSv1.3", STATS_OUT, STATS_NTRUST),
            1);
        assert_int_equal(stats_count(s, STATS_PROTOCOLS, "TLSv1.2", STATS_OUT,
                                     STATS_UNTRUSTED),
                         1);
        assert_int_equal(stats_count(s, STATS_CIPHERS, "TLS_AES_256_GCM_SHA384",
                                     STATS_IN, STATS_ANONYMOUS),
                         1);
        assert_int_equal(stats_count(s, STATS_DESTINATIONS,
                                     "gmail-smtp-in.l.google.com", STATS_OUT,
                                     STATS_VERIFIED),
                         1);
        assert_int_equal(stats_count(s, STATS_DESTINATIONS, "mx.e.example",
                                     STATS_OUT, STATS_UNTRUSTED),
                         1);
        /* inbound names are not destinations */
        assert_int_equal(stats_count(s, STATS_DESTINATIONS, "laptop.example",
                                     STATS_IN, STATS_NTRUST),
                         0);
        assert_true(t->have_time);
        /* 2026-11-28 20:48:06 and 20:48:20, as written */
        assert_int_equal(t->first, 1795898886LL);
        assert_int_equal(t->last, 1795898900LL);
        stats_free(s);
}

/* postern's lines: RFC 3339 stamps, qmgr (older) and smtp outbound */
static const char *const postern_lines[] = {
    "2026-11-28T20:48:06.123456+01:00 mx postern/smtpd[10]: connect from "
    "unknown[127.0.0.1]",
    "2026-11-28T20:48:06.200000+01:00 mx postern/smtpd[10]: Anonymous TLS "
    "connection established from unknown[127.0.0.1]: TLSv1.3 with cipher "
    "TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 "
    "server-signature ECDSA (prime256v1) server-digest SHA256",
    "2026-11-28T20:48:07+0000 mx postern/smtpd[10]: 0123456789AB: "
    "client=unknown[127.0.0.1]",
    "2026-11-28T20:48:08+00:00 mx postern/qmgr[11]: Trusted TLS connection "
    "established to mx.peer.test[127.0.0.2]:2525: TLSv1.3 with cipher "
    "TLS_AES_256_GCM_SHA384 (256/256 bits)",
    "2026-11-28T20:48:09+00:00 mx postern/smtp[12]: Anonymous TLS "
    "connection established to mx.peer.test[127.0.0.2]:2525: TLSv1.2 with "
    "cipher ECDHE-ECDSA-AES256-GCM-SHA384 (256/256 bits)",
    "2026-11-28T20:48:10+00:00 mx postern/smtp[12]: SSL_connect error to "
    "mx.bad.test[127.0.0.3]:25: handshake failure",
    "2026-11-28T20:48:10+00:00 mx postern/smtp[12]: "
    "mx.bad.test[127.0.0.3]:25: TLS handshake failed; retrying in plaintext "
    "(smtp_tls_security_level = may)",
    "2026-11-28T20:48:11+00:00 mx postern/smtpd[10]: timeout during TLS "
    "handshake from unknown[127.0.0.1]",
    "2026-11-28T20:48:12+00:00 mx postern/smtpd[10]: certificate "
    "verification failed for unknown[127.0.0.1]: untrusted issuer /CN=Other",
    "2026-11-28T20:48:12+00:00 mx postern/smtpd[10]: NOQUEUE: abort: TLS "
    "from unknown[127.0.0.1]: no client certificate",
    "2026-11-28T20:48:13+00:00 mx postern/qmgr[11]: 0123456789AB: "
    "to=<a@mx.postern.test>, relay=virtual, delay=1, delays=1/0/0/0, "
    "dsn=2.0.0, status=sent (delivered to maildir)",
    "2026-11-28T20:48:14+00:00 mx postern/error[11]: 0123456789AC: "
    "to=<old@x.test>, relay=none, delay=432000, delays=432000/0/0/0, "
    "dsn=4.4.7, status=expired (message too old)",
    "2026-11-28T20:48:15+00:00 mx postern/smtpd[10]: 0123456789AD: reject: "
    "DATA from unknown[127.0.0.1]: 552 too big",
    NULL,
};

/* test_postern - postern's wording, RFC 3339 */
static void test_postern(void **state)
{
        struct stats *s = stats_new(1999);
        const struct stats_totals *t;

        (void)state;
        feed_all(s, postern_lines);
        t = stats_totals(s);
        assert_int_equal(t->lines, 13);
        assert_int_equal(t->skipped, 0);
        assert_int_equal(t->used, 13);
        assert_int_equal(t->connects, 1);
        assert_int_equal(t->tls[STATS_IN][STATS_ANONYMOUS], 1);
        assert_int_equal(t->tls[STATS_OUT][STATS_TRUSTED], 1);
        assert_int_equal(t->tls[STATS_OUT][STATS_ANONYMOUS], 1);
        assert_int_equal(stats_count(s, STATS_DESTINATIONS, "mx.peer.test",
                                     STATS_OUT, STATS_NTRUST),
                         2);
        assert_int_equal(t->hs_fail[STATS_OUT], 1);
        assert_int_equal(t->plain_fallback, 1);
        assert_int_equal(t->hs_fail[STATS_IN], 1);
        assert_int_equal(t->cert_fail[STATS_IN], 2);
        assert_int_equal(t->received, 1);
        assert_int_equal(t->rejected, 1);
        assert_int_equal(t->delivery[STATS_SENT], 1);
        assert_int_equal(t->delivery[STATS_EXPIRED], 1);
        assert_int_equal(t->relay_local, 2);
        assert_int_equal(t->relay_remote, 0);
        /* the offset is ignored: wall clock as written, year from it */
        assert_int_equal(t->first, 1795898886LL);
        assert_int_equal(t->last, 1795898895LL);
        stats_free(s);
}

/* test_year_rollover - Dec then Jan is the next year; --year sets the
 * first one; a small step back is not a new year */
static void test_year_rollover(void **state)
{
        static const char *const lines[] = {
            "Dec 31 23:59:58 h postfix/smtpd[1]: connect from a[192.0.2.1]",
            "Dec 31 23:59:50 h postfix/smtpd[1]: connect from a[192.0.2.1]",
            "Jan  1 00:00:01 h postfix/smtpd[1]: connect from a[192.0.2.1]",
            "Jun  1 00:00:01 h postfix/smtpd[1]: connect from a[192.0.2.1]",
            NULL,
        };
        struct stats *s = stats_new(2025);
        const struct stats_totals *t;

        (void)state;
        feed_all(s, lines);
        t = stats_totals(s);
        assert_int_equal(t->connects, 4);
        assert_int_equal(t->first, 1767225590LL); /* 2025-12-31 23:59:50 */
        assert_int_equal(t->last, 1780272001LL);  /* 2026-06-01 00:00:01 */
        stats_free(s);
}

/* test_garbage - skipped, never counted as anything else */
static void test_garbage(void **state)
{
        static const char *const lines[] = {
            "",
            "hello",
            "Nov 28 20:48:06 mail dovecot: imap-login: Login: user=<x>",
            "Nov 28 20:48:06 mail systemd[1]: Started Postfix.",
            "Nov 99 20:48:06 mail postfix/smtpd[1]: connect from a[192.0.2.1]",
            "Nov 28 25:48:06 mail postfix/smtpd[1]: connect from a[192.0.2.1]",
            "2026-13-28T20:48:06Z mail postfix/smtpd[1]: connect from "
            "a[1.2.3.4]",
            "Nov 28 20:48:06 mail postfix/smtpd[x]: connect from a[192.0.2.1]",
            "Nov 28 20:48:06 mail /smtpd[1]: connect from a[192.0.2.1]",
            "Nov 28 20:48:06 mail postfix/[1]: connect from a[192.0.2.1]",
            "Nov 28 20:48:06",
            "Nov 28 20:48:06 mail",
            NULL,
        };
        static const char *const other[] = {
            /* mail lines whose message is not one of ours */
            "Nov 28 20:48:06 m postfix/smtpd[1]: Verified TLS connection "
            "established from",
            "Nov 28 20:48:06 m postfix/smtpd[1]: Anonymous TLS connection "
            "established from x[1.2.3.4] TLSv1.3 with cipher C",
            "Nov 28 20:48:06 m postfix/smtpd[1]: Bogus TLS connection "
            "established from x[1.2.3.4]: TLSv1.3 with cipher C",
            "Nov 28 20:48:06 m postfix/smtp[1]: ABC: to=<a>, relay=x, "
            "status=delivered",
            "Nov 28 20:48:06 m postfix/smtp[1]: NOQUEUE: client=x",
            NULL,
        };
        char nul[] = "Nov 28 20:48:06 m postfix/smtpd[1]: connect from "
                     "a[1.2.3.4]\0 tail";
        struct stats *s = stats_new(2026);
        const struct stats_totals *t;
        char *big = malloc(STATS_LINE_MAX + 10);
        char bin[256];

        (void)state;
        feed_all(s, lines);
        feed_all(s, other);
        stats_feed(s, nul, sizeof(nul) - 1);
        /* a valid line made too long by its tail */
        memset(big, 'x', STATS_LINE_MAX + 10);
        memcpy(big, postfix_lines[0], strlen(postfix_lines[0]));
        stats_feed(s, big, STATS_LINE_MAX + 10);
        for (int i = 0; i < 256; i++)
                bin[i] = (char)(255 - i);
        stats_feed(s, bin, sizeof(bin));
        stats_skip(s);
        t = stats_totals(s);
        assert_int_equal(t->lines, 12 + 5 + 4);
        assert_int_equal(t->skipped, 12 + 4);
        assert_int_equal(t->other, 5);
        assert_int_equal(t->used, 0);
        assert_int_equal(t->connects, 0);
        assert_int_equal(t->tls[STATS_IN][STATS_VERIFIED], 0);
        assert_int_equal(t->tls[STATS_IN][STATS_ANONYMOUS], 0);
        assert_int_equal(t->received, 0);
        free(big);
        stats_free(s);
}

/* output - one of the writers into a string */
static char *output(const struct stats *s, int which)
{
        char *buf = NULL;
        size_t len = 0;
        const char *err = NULL;
        FILE *fp = open_memstream(&buf, &len);

        assert_non_null(fp);
        if (which == 0)
                stats_print_text(s, fp);
        else if (which == 1)
                stats_print_json(s, fp);
        else
                assert_int_equal(stats_write_svg(s, fp, 0, &err), 0);
        fclose(fp);
        return buf;
}

/* test_output - escaping of names from the log, bars, the skip line */
static void test_output(void **state)
{
        static const char *const lines[] = {
            "Nov 28 20:48:06 m postfix/smtp[1]: Verified TLS connection "
            "established to we\"ird<&>\x01\xc3\xa9[192.0.2.1]:25: TLSv1.3 "
            "with cipher TLS_AES_128_GCM_SHA256 (128/128 bits)",
            "Nov 28 21:48:06 m postfix/smtpd[1]: Anonymous TLS connection "
            "established from x[192.0.2.2]: TLSv1.2 with cipher "
            "ECDHE-RSA-AES128-GCM-SHA256 (128/128 bits)",
            "junk",
            NULL,
        };
        struct stats *s = stats_new(2026);
        const char *err = NULL;
        char *text, *json, *svg;
        FILE *null;

        (void)state;
        feed_all(s, lines);
        text = output(s, 0);
        assert_non_null(strstr(text, "we\"ird<&>??? "));
        assert_non_null(strstr(text, "2026-11-28 20:48:06 .. 2026-11-28 "
                                     "21:48:06"));
        assert_non_null(strstr(text, "\n1 lines skipped\n"));
        json = output(s, 1);
        assert_non_null(
            strstr(json, "{\"host\":\"we\\\"ird<&>\\u0001\\u00c3\\u00a9\","
                         "\"tls\":{\"verified\":1,\"trusted\":0,"
                         "\"untrusted\":0,\"anonymous\":0,\"total\":1}}"));
        assert_non_null(strstr(json, "\"lines\":{\"read\":3,\"used\":2,"
                                     "\"other\":0,\"skipped\":1}"));
        svg = output(s, 2);
        assert_non_null(
            strstr(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert_non_null(strstr(svg, "class=\"bar verified\""));
        assert_non_null(strstr(svg, "class=\"bar anonymous\""));
        assert_null(strstr(svg, "class=\"bar trusted\""));
        /* one hour: 5 minute bars */
        assert_int_equal(stats_svg_interval(s), 300);
        assert_non_null(strstr(svg, "per 5 minutes<"));
        null = fopen("/dev/null", "w");
        assert_non_null(null);
        assert_int_equal(stats_write_svg(s, null, 90, &err), -1);
        assert_non_null(err);
        assert_int_equal(stats_write_svg(s, null, 60, &err), 0);
        fclose(null);
        free(text);
        free(json);
        free(svg);
        stats_free(s);
}

/* test_empty - zeros, no period, a valid SVG */
static void test_empty(void **state)
{
        struct stats *s = stats_new(2026);
        char *json, *svg;

        (void)state;
        json = output(s, 1);
        assert_non_null(strstr(json, "\"period\":null"));
        assert_non_null(strstr(json, "\"inbound\":{\"connections\":0,"));
        svg = output(s, 2);
        assert_non_null(strstr(svg, "</svg>\n"));
        assert_null(strstr(svg, "class=\"bar "));
        free(json);
        free(svg);
        stats_free(s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_postfix),
            cmocka_unit_test(test_postern),
            cmocka_unit_test(test_year_rollover),
            cmocka_unit_test(test_garbage),
            cmocka_unit_test(test_output),
            cmocka_unit_test(test_empty),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

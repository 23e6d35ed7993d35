/* SPDX-License-Identifier: MIT */
/*
 * test_smtpd_data.c - DATA and BDAT content: SMTP smuggling variants,
 * dot-stuffing, bare newline policies, BDAT edge cases, the Received:
 * header helper, and the parsers' corner cases.
 */
#include "dialogue.h"

#include "smtpd/smtpd_int.h"

#define GREET_EHLO                                                             \
        "S~ 220\n"                                                             \
        "C: EHLO client.example\n"                                             \
        "S~ 250-\n"                                                            \
        "S~ 250-\n"                                                            \
        "S~ 250-\n"                                                            \
        "S~ 250-\n"                                                            \
        "S~ 250-\n"                                                            \
        "S~ 250-\n"                                                            \
        "S~ 250-\n"                                                            \
        "S~ 250-\n"                                                            \
        "S: 250 CHUNKING\n"

#define ENVELOPE                                                               \
        GREET_EHLO "C: MAIL FROM:<a@example.org>\n"                            \
                   "C: RCPT TO:<b@example.net>\n"

/* The smuggling class: sequences some servers take for end of DATA. */
static const char *const variants[] = {
    "\\n.\\n",    "\\r.\\n", "\\n.\\r\\n", "\\r\\n.\\n",
    "\\r\\n.\\r", "\\r.\\r", "\\n.\\r",    "\\r\\n.\\r\\r\\n",
};

/* smuggle_script - DATA with a variant followed by a second message */
static char *smuggle_script(const char *v, const char *tail)
{
        return xasprintf(ENVELOPE "C: DATA\n"
                                  "S~ 250\n"
                                  "S~ 250\n"
                                  "S: 354 End data with <CR><LF>.<CR><LF>\n"
                                  "R: Subject: a\\r\\n\\r\\nbody%s"
                                  "MAIL FROM:<evil@example.org>\\r\\n"
                                  "RCPT TO:<victim@example.net>\\r\\n"
                                  "DATA\\r\\nsmuggled\\r\\n.\\r\\n\n"
                                  "%s",
                         v, tail);
}

/* test_smuggling_normalize - one message, the commands are content */
static void test_smuggling_normalize(void **state)
{
        struct smtpd_settings set;
        (void)state;
        test_settings(&set);
        set.bare_newline = SMTPD_BARE_NEWLINE_NORMALIZE;
        for (size_t i = 0; i < ARRAY_SIZE(variants); i++) {
                char *sc = smuggle_script(variants[i],
                                          "S: 250 2.0.0 Ok: queued as QID1\n"
                                          "N: 1\n");
                for (int m = 0; m < 2; m++) {
                        struct fake f;
                        fake_init(&f);
                        dialogue_run(sc, &set, &f, m ? FEED_BYTES : FEED_BULK,
                                     NULL);
                        assert_int_equal(f.nmsgs, 1);
                        assert_int_equal(f.msgs[0].rcpts.n, 1);
                        assert_string_equal(f.msgs[0].rcpts.v[0],
                                            "b@example.net");
                        assert_non_null(strstr(f.msgs[0].content.s,
                                               "MAIL FROM:<evil@example.org>"));
                        /* Stored content has CRLF line endings only. */
                        const char *c = f.msgs[0].content.s;
                        for (size_t k = 0; k < f.msgs[0].content.len; k++)
                                if (c[k] == '\n')
                                        assert_true(k > 0 && c[k - 1] == '\r');
                        fake_clear(&f);
                }
                free(sc);
        }
        /* Postfix's "no" is treated as normalize: never smuggled. */
        set.bare_newline = SMTPD_BARE_NEWLINE_NO;
        char *sc = smuggle_script("\\n.\\n", "S: 250 2.0.0 Ok: queued as "
                                             "QID1\n"
                                             "N: 1\n");
        struct fake f;
        fake_init(&f);
        dialogue_run(sc, &set, &f, FEED_BULK, NULL);
        fake_clear(&f);
        free(sc);
}

/* test_smuggling_reject - the default: 550, disconnect, nothing queued */
static void test_smuggling_reject(void **state)
{
        struct smtpd_settings set;
        (void)state;
        test_settings(&set);
        for (size_t i = 0; i < ARRAY_SIZE(variants); i++) {
                bool cr = strncmp(variants[i], "\\r.", 3) == 0 ||
                          strcmp(variants[i], "\\r\\n.\\r") == 0 ||
                          strcmp(variants[i], "\\r\\n.\\r\\r\\n") == 0;
                char *tail = xasprintf(
                    "S: 550 5.5.2 mx.example Error: bare <%s> received\n"
                    "A: close\n"
                    "N: 0\n"
                    "L: bare <%s> received after DATA (",
                    cr ? "CR" : "LF", cr ? "CR" : "LF");
                char *sc = smuggle_script(variants[i], tail);
                for (int m = 0; m < 2; m++) {
                        struct fake f;
                        fake_init(&f);
                        dialogue_run(sc, &set, &f, m ? FEED_BYTES : FEED_BULK,
                                     NULL);
                        assert_int_equal(f.nmsgs, 0);
                        assert_false(f.open);
                        fake_clear(&f);
                }
                free(sc);
                free(tail);
        }
        /* The reject code is smtpd_forbid_bare_newline_reject_code. */
        set.bare_newline_reject_code = 521;
        struct fake f;
        fake_init(&f);
        dialogue_run("S~ 220\n"
                     "R: EHLO client.example\\n\n"
                     "S: 521 5.5.2 mx.example Error: bare <LF> received\n"
                     "A: close\n",
                     &set, &f, FEED_BULK, NULL);
        fake_clear(&f);
        /* smtpd_forbid_bare_newline_exclusions: this client may. */
        struct smtpd_client c = {
            .name = "c", .addr = "192.0.2.9", .bare_newline_excluded = true};
        struct smtpd_session *s = smtpd_session_new(&set, &c, NULL, NULL);
        const char *p;
        size_t n;
        smtpd_session_input(s, "HELO c\n", 7);
        smtpd_session_input(s, "NOOP\n", 5);
        smtpd_session_output(s, &p, &n);
        assert_non_null(strstr(p, "250 mx.example\r\n250 2.0.0 Ok\r\n"));
        smtpd_session_free(s);
}

/* test_bare_newline_commands - commands under each policy */
static void test_bare_newline_commands(void **state)
{
        struct smtpd_settings set;
        (void)state;
        test_settings(&set);
        dialogue_both("S~ 220\n"
                      "R: HELO c\\rx\\r\\n\n"
                      "S: 550 5.5.2 mx.example Error: bare <CR> received\n"
                      "A: close\n",
                      &set);
        set.bare_newline = SMTPD_BARE_NEWLINE_NORMALIZE;
        set.forbid_unauth_pipelining = false;
        dialogue_both(
            "S~ 220\n"
            "R: HELO c\\nNOOP\\r\\n\n"
            "S: 250 mx.example\n"
            "S: 250 2.0.0 Ok\n"
            "R: MAIL FROM:<a@example.org>\\nRCPT TO:<b@example.net>\\n"
            "DATA\\n\n"
            "S~ 250\n"
            "S~ 250\n"
            "S~ 354\n"
            /* DATA ended with a bare LF: this dot is not the end */
            "R: .\\r\\nline\\n.\\r\\n\n"
            "N: 0\n"
            "R: .\\r\\n\n"
            "S: 250 2.0.0 Ok: queued as QID1\n"
            "N: 1\n",
            &set);
}

/* test_data_content - dot-stuffing, empty messages, long lines */
static void test_data_content(void **state)
{
        struct smtpd_settings set;
        struct fake f;
        (void)state;
        test_settings(&set);
        fake_init(&f);
        dialogue_run(ENVELOPE
                     "C: DATA\n"
                     "S~ 250\n"
                     "S~ 250\n"
                     "S~ 354\n"
                     "C: .\n"
                     "S: 250 2.0.0 Ok: queued as QID1\n"
                     "C: MAIL FROM:<a@example.org>\n"
                     "C: RCPT TO:<b@example.net>\n"
                     "C: DATA\n"
                     "S~ 250\n"
                     "S~ 250\n"
                     "S~ 354\n"
                     "R: ...\\r\\n.x\\r\\n. \\r\\na.b\\r\\n..\\r\\n\\r\\n"
                     ".\\r\\n\n"
                     "S: 250 2.0.0 Ok: queued as QID2\n",
                     &set, &f, FEED_BYTES, NULL);
        assert_int_equal(f.nmsgs, 2);
        assert_int_equal(f.msgs[0].content.len, 0);
        assert_string_equal(f.msgs[1].content.s,
                            "..\r\nx\r\n \r\na.b\r\n.\r\n\r\n");
        fake_clear(&f);

        /* A 1 MB content line is fine: DATA is not line-buffered. */
        struct smtpd_client c = {.name = "c", .addr = "192.0.2.9"};
        fake_init(&f);
        struct smtpd_session *s = smtpd_session_new(&set, &c, &fake_ops, &f);
        const char *p;
        size_t n;
        smtpd_session_input(s, "EHLO c\r\n", 8);
        smtpd_session_input(s, "MAIL FROM:<a@example.org>\r\n", 27);
        smtpd_session_input(s, "RCPT TO:<b@example.net>\r\n", 25);
        smtpd_session_input(s, "DATA\r\n", 6);
        char *big = xmalloc(1 << 20);
        memset(big, 'x', 1 << 20);
        smtpd_session_input(s, big, 1 << 20);
        smtpd_session_input(s, "\r\n.\r\n", 5);
        smtpd_session_output(s, &p, &n);
        assert_non_null(strstr(p, "250 2.0.0 Ok: queued as QID1\r\n"));
        assert_int_equal(f.msgs[0].content.len, (1 << 20) + 2);
        smtpd_session_free(s);
        free(big);
        fake_clear(&f);
}

/* test_bdat - RFC 3030 */
static void test_bdat(void **state)
{
        struct smtpd_settings set;
        struct fake f;
        (void)state;
        test_settings(&set);
        set.message_size_limit = 1000;
        fake_init(&f);
        dialogue_run(
            GREET_EHLO
            /* Chunks are skipped even when there is no transaction. */
            "R: BDAT 6\\r\\nQUIT\\r\\n\n"
            "S: 503 5.5.1 Error: need RCPT command\n"
            "A: read\n"
            "C: MAIL FROM:<a@example.org>\n"
            "S: 250 2.1.0 Ok\n"
            "R: BDAT 4\\r\\nRSET\n"
            "S: 554 5.5.1 Error: no valid recipients\n"
            "C: RCPT TO:<b@example.net>\n"
            "S: 503 5.5.1 Error: RCPT after BDAT\n"
            "R: BDAT 3\\r\\nabc\n"
            "S: 551 5.0.0 Discarded 3 bytes after earlier error\n"
            "R: BDAT 2 LAST\\r\\nab\n"
            "S: 551 5.0.0 Discarded 2 bytes after earlier error\n"
            /* The transaction was reset by LAST. */
            "C: RCPT TO:<b@example.net>\n"
            "S: 503 5.5.1 Error: need MAIL command\n"
            "C: MAIL FROM:<a@example.org>\n"
            "C: RCPT TO:<b@example.net>\n"
            "S: 250 2.1.0 Ok\n"
            "S: 250 2.1.5 Ok\n"
            "R: BDAT 0\\r\\n\n"
            "S: 551 5.7.1 Null BDAT request\n"
            "C: RSET\n"
            "S: 250 2.0.0 Ok\n"
            "C: MAIL FROM:<a@example.org>\n"
            "C: RCPT TO:<b@example.net>\n"
            "S: 250 2.1.0 Ok\n"
            "S: 250 2.1.5 Ok\n"
            /* Raw bytes: no dot-unstuffing, no end of data; a CR at the
             * end of one chunk and LF at the start of the next is CRLF. */
            "R: BDAT 9\\r\\n.\\r\\n..\\r\\nx\\r\n"
            "S: 250 2.0.0 Ok: 9 bytes\n"
            "C: DATA\n"
            "S: 503 5.5.1 Error: DATA after BDAT\n"
            "C: MAIL FROM:<a@example.org>\n"
            "S: 503 5.5.1 Error: MAIL after BDAT\n"
            "R: BDAT 3 last\\r\\n\\nyz\n"
            "S: 250 2.0.0 Ok: 14 bytes queued as QID1\n"
            "N: 1\n"
            /* BDAT 0 LAST: an empty message. */
            "C: MAIL FROM:<a@example.org>\n"
            "C: RCPT TO:<b@example.net>\n"
            "S~ 250\n"
            "S~ 250\n"
            "C: BDAT 0 LAST\n"
            "S: 250 2.0.0 Ok: 0 bytes queued as QID2\n"
            /* Size limit over chunks. */
            "C: MAIL FROM:<a@example.org>\n"
            "C: RCPT TO:<b@example.net>\n"
            "S~ 250\n"
            "S~ 250\n"
            "R: BDAT 1001 LAST\\r\\n\n"
            "L: warning: NOQUEUE: BDAT request from client.example[192.0.2.1] "
            "exceeds message size limit\n"
            "C: DATA\n"
            "N: 2\n",
            &set, &f, FEED_BULK, NULL);
        assert_int_equal(f.nmsgs, 2);
        assert_string_equal(f.msgs[0].content.s, ".\r\n..\r\nx\r\nyz\r\n");
        assert_int_equal(f.msgs[1].content.len, 0);
        fake_clear(&f);

        /* The 1001-byte chunk is skipped whole, then the reply. */
        fake_init(&f);
        struct strbuf sc;
        strbuf_init(&sc);
        strbuf_adds(&sc, ENVELOPE "S~ 250\nS~ 250\nR: BDAT 1001 LAST\\r\\n");
        for (int i = 0; i < 1001; i++)
                strbuf_addc(&sc, 'Q');
        strbuf_adds(&sc, "\n"
                         "S: 552 5.3.4 Chunk exceeds message size limit\n"
                         "C: MAIL FROM:<a@example.org>\n"
                         "S: 250 2.1.0 Ok\n"
                         "N: 0\n");
        dialogue_run(sc.s, &set, &f, FEED_BULK, NULL);
        dialogue_both(sc.s, &set);
        strbuf_clear(&sc);
        fake_clear(&f);
}

/* test_bdat_syntax - an unknown chunk size means hanging up */
static void test_bdat_syntax(void **state)
{
        static const char *const bad[] = {
            "BDAT",    "BDAT x",        "BDAT 5 LASTX",
            "BDAT -1", "BDAT 5 LAST x", "BDAT 99999999999999999999999999"};
        struct smtpd_settings set;
        (void)state;
        test_settings(&set);
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                char *sc = xasprintf(ENVELOPE "S~ 250\n"
                                              "S~ 250\n"
                                              "C: %s\n"
                                              "S: 521 5.5.4 Syntax: BDAT count "
                                              "[LAST]\n"
                                              "A: close\n",
                                     bad[i]);
                dialogue_both(sc, &set);
                free(sc);
        }
        /* A hang-up between chunks drops the open queue file (found by
         * fuzz_smtp_data); so do EHLO and RSET. */
        static const char *const enders[] = {
            "C: BDAT x\nS: 521 5.5.4 Syntax: BDAT count [LAST]\n",
            "C: HELO again.example\nS: 250 mx.example\n",
            "C: RSET\nS: 250 2.0.0 Ok\n"};
        for (size_t i = 0; i < ARRAY_SIZE(enders); i++) {
                struct fake f;
                char *sc = xasprintf(ENVELOPE "S~ 250\n"
                                              "S~ 250\n"
                                              "R: BDAT 2\\r\\nab\n"
                                              "S: 250 2.0.0 Ok: 2 bytes\n"
                                              "%s",
                                     enders[i]);
                fake_init(&f);
                dialogue_run(sc, &set, &f, FEED_BULK, NULL);
                free(sc);
                assert_false(f.open);
                assert_int_equal(f.aborts, 1);
                assert_int_equal(f.nmsgs, 0);
                fake_clear(&f);
        }
}

/* test_bdat_bare_newline - BDAT content under each policy */
static void test_bdat_bare_newline(void **state)
{
        struct smtpd_settings set;
        struct fake f;
        (void)state;
        test_settings(&set);
        for (size_t i = 0; i < ARRAY_SIZE(variants); i++) {
                struct strbuf raw;
                strbuf_init(&raw);
                unescape(&raw, variants[i]);
                char *sc = xasprintf(ENVELOPE "S~ 250\n"
                                              "S~ 250\n"
                                              "R: BDAT %zu LAST\\r\\nok%s\n"
                                              "S~ 550 5.5.2 mx.example Error: "
                                              "bare <\n"
                                              "A: close\n"
                                              "N: 0\n",
                                     raw.len + 2, variants[i]);
                dialogue_both(sc, &set);
                free(sc);
                strbuf_clear(&raw);
        }
        /* normalize: bare LF stored as CRLF, bare CR kept */
        set.bare_newline = SMTPD_BARE_NEWLINE_NORMALIZE;
        fake_init(&f);
        dialogue_run(ENVELOPE "S~ 250\n"
                              "S~ 250\n"
                              "R: BDAT 8 LAST\\r\\na\\nb\\rc\\n.\\n\n"
                              "S: 250 2.0.0 Ok: 11 bytes queued as QID1\n",
                     &set, &f, FEED_BYTES, NULL);
        assert_string_equal(f.msgs[0].content.s, "a\r\nb\rc\r\n.\r\n");
        fake_clear(&f);
}

/* test_decoder - the state machine on its own */
static void test_decoder(void **state)
{
        struct smtpd_decoder d;
        struct strbuf out;
        size_t used;
        (void)state;
        strbuf_init(&out);
        smtpd_dec_init(&d, true, false, true, &out);
        assert_int_equal(smtpd_dec_feed(&d, "a\r\n.", 4, &used), DEC_MORE);
        assert_int_equal(smtpd_dec_feed(&d, "\r", 1, &used), DEC_MORE);
        assert_int_equal(smtpd_dec_feed(&d, "\nNEXT", 5, &used), DEC_END);
        assert_int_equal(used, 1);
        assert_string_equal(out.s, "a\r\n");
        assert_int_equal(d.bytes, 3);
        strbuf_reset(&out);
        smtpd_dec_init(&d, true, true, true, &out);
        assert_int_equal(smtpd_dec_feed(&d, "ab\ncd", 5, &used), DEC_BARE_LF);
        assert_int_equal(used, 2);
        smtpd_dec_init(&d, false, true, true, &out);
        assert_int_equal(smtpd_dec_feed(&d, "ab\r", 3, &used), DEC_MORE);
        assert_int_equal(smtpd_dec_finish(&d), DEC_BARE_CR);
        strbuf_clear(&out);
}

/* test_received_format - Postfix's header with the TLS comment */
static void test_received_format(void **state)
{
        struct smtpd_tls_info t = {
            .protocol = "TLSv1.3",
            .cipher = "TLS_AES_256_GCM_SHA384",
            .cipher_usebits = 256,
            .cipher_algbits = 256,
            .kex_name = "X25519",
            .srvr_sig = "ECDSA",
            .srvr_curve = "P-256",
            .srvr_digest = "SHA256",
        };
        struct smtpd_rcpt r = {.addr = "b@example.net"};
        struct smtpd_envelope env = {
            .sender = "a@example.org", .rcpt = &r, .nrcpt = 1};
        struct smtpd_info info = {.name = "client.example",
                                  .addr = "192.0.2.1",
                                  .helo = "helo.example",
                                  .protocol = "ESMTP",
                                  .tls = &t,
                                  .env = &env};
        struct strbuf b;
        (void)state;
        setenv("TZ", "UTC", 1);
        tzset();
        strbuf_init(&b);
        smtpd_received_format(&b, &info, "mx.example", "postern", "4ABC",
                              1795880840);
        assert_string_equal(
            b.s,
            "Received: from helo.example (client.example [192.0.2.1])\r\n"
            "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 "
            "(256/256 bits)\r\n"
            "\t key-exchange X25519 server-signature ECDSA (P-256) "
            "server-digest SHA256)\r\n"
            "\t(No client certificate requested)\r\n"
            "\tby mx.example (postern) with ESMTPS id 4ABC\r\n"
            "\tfor <b@example.net>; Sat, 28 Nov 2026 15:47:20 +0000 (UTC)");
        strbuf_reset(&b);
        t.kex_name = "ECDHE";
        t.kex_curve = "P-384";
        t.srvr_sig = "RSA-PSS";
        t.srvr_curve = NULL;
        t.srvr_bits = 2048;
        t.clnt_sig = "ECDSA";
        t.clnt_curve = "P-256";
        t.clnt_digest = "SHA256";
        t.ccert_present = true;
        t.ccert_trusted = true;
        t.peer_cn = "client (\"one\")";
        t.issuer_cn = "CA\\1";
        info.addr = "2001:db8::1";
        env.nrcpt = 0;
        smtpd_received_format(&b, &info, "mx.example", "postern", NULL,
                              1795880840);
        assert_string_equal(
            b.s, "Received: from helo.example (client.example "
                 "[IPv6:2001:db8::1])\r\n"
                 "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 "
                 "(256/256 bits)\r\n"
                 "\t key-exchange ECDHE (P-384) server-signature RSA-PSS "
                 "(2048 bits) server-digest SHA256\r\n"
                 "\t client-signature ECDSA (P-256) client-digest SHA256)\r\n"
                 "\t(Client CN \"client (?one?)\", Issuer \"CA?1\" (verified "
                 "OK))\r\n"
                 "\tby mx.example (postern) with ESMTPS;\r\n"
                 "\tSat, 28 Nov 2026 15:47:20 +0000 (UTC)");
        strbuf_reset(&b);
        info.tls = NULL;
        info.protocol = "SMTP";
        info.helo = NULL;
        smtpd_received_format(&b, &info, "mx.example", NULL, "Q", 1795880840);
        assert_string_equal(b.s,
                            "Received: from client.example (client.example "
                            "[IPv6:2001:db8::1])\r\n"
                            "\tby mx.example (postern) with SMTP id Q;\r\n"
                            "\tSat, 28 Nov 2026 15:47:20 +0000 (UTC)");
        strbuf_clear(&b);
}

/* test_parsers - addresses, xtext, NOTIFY, ORCPT, BDAT */
static void test_parsers(void **state)
{
        struct smtpd_parse_opts o = {
            .dsn = true, .smtputf8_enable = true, .size_limit = 0};
        struct smtpd_envelope env = {0};
        struct smtpd_rcpt r = {0};
        struct strbuf err, x;
        size_t sz;
        bool last;
        (void)state;
        strbuf_init(&err);
        strbuf_init(&x);

        assert_int_equal(smtpd_parse_mail("FROM: <\"a b\"@example.org> "
                                          "SIZE=0",
                                          &o, &env, &err),
                         0);
        assert_string_equal(env.sender, "\"a b\"@example.org");
        smtpd_envelope_clear(&env);
        assert_int_equal(
            smtpd_parse_mail("from:<a@[192.0.2.1]>", &o, &env, &err), 0);
        smtpd_envelope_clear(&env);
        static const char *const bad_from[] = {"FROM:<a b@example.org>",
                                               "FROM:<a@example..org>",
                                               "FROM:<a@-x.org",
                                               "FROM:<a@[1.2.3.4>",
                                               "FROM:<a@ex ample.org>",
                                               "FROM:<@x.org>",
                                               "FROM:<a@b>x",
                                               "FROM:<a\x01@b.org>",
                                               "FROM:<postmaster>"};
        for (size_t i = 0; i < ARRAY_SIZE(bad_from); i++) {
                strbuf_reset(&err);
                assert_int_equal(smtpd_parse_mail(bad_from[i], &o, &env, &err),
                                 -1);
                smtpd_envelope_clear(&env);
                assert_string_equal(err.s,
                                    "501 5.1.7 Bad sender address syntax");
        }
        strbuf_reset(&err);
        assert_int_equal(smtpd_parse_rcpt("TO:<b@example.net> "
                                          "NOTIFY=FAILURE,DELAY,SUCCESS "
                                          "ORCPT=UTF-8;b+40x",
                                          &o, &r, &err),
                         0);
        assert_int_equal(r.notify, SMTPD_NOTIFY_FAILURE | SMTPD_NOTIFY_DELAY |
                                       SMTPD_NOTIFY_SUCCESS);
        assert_string_equal(r.orcpt_type, "utf-8");
        assert_string_equal(r.orcpt, "b@x");
        smtpd_rcpt_clear(&r);
        assert_int_equal(
            smtpd_parse_rcpt("TO:<b@example.net> NOTIFY=NEVER", &o, &r, &err),
            0);
        assert_int_equal(r.notify, SMTPD_NOTIFY_NEVER);
        smtpd_rcpt_clear(&r);
        static const char *const bad_notify[] = {
            "NOTIFY=NEVER,DELAY", "NOTIFY=SUCCESS,", "NOTIFY=,SUCCESS",
            "NOTIFY=OFTEN", "NOTIFY=DELAY NOTIFY=DELAY"};
        for (size_t i = 0; i < ARRAY_SIZE(bad_notify); i++) {
                char *a = xasprintf("TO:<b@example.net> %s", bad_notify[i]);
                strbuf_reset(&err);
                assert_int_equal(smtpd_parse_rcpt(a, &o, &r, &err), -1);
                smtpd_rcpt_clear(&r);
                assert_string_equal(err.s, "501 5.5.4 Error: Bad NOTIFY "
                                           "parameter syntax");
                free(a);
        }
        assert_int_equal(smtpd_xtext_decode("a+2Bb+3d", &x), 0);
        assert_string_equal(x.s, "a+b=");
        strbuf_reset(&x);
        assert_int_equal(smtpd_xtext_decode("a=b", &x), -1);
        assert_int_equal(smtpd_xtext_decode("a+0A", &x), -1);
        assert_int_equal(smtpd_xtext_decode("a+4", &x), -1);
        assert_int_equal(smtpd_parse_bdat(" 12  LAST ", &sz, &last), 0);
        assert_int_equal(sz, 12);
        assert_true(last);
        assert_int_equal(smtpd_parse_bdat("0", &sz, &last), 0);
        assert_false(last);
        assert_int_equal(smtpd_parse_bdat("12LAST", &sz, &last), -1);
        assert_true(smtpd_utf8_valid("j\xc3\xb6rg", 5));
        assert_false(smtpd_utf8_valid("\xc0\xaf", 2));         /* overlong */
        assert_false(smtpd_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
        assert_false(smtpd_utf8_valid("\xf4\x90\x80\x80", 4)); /* > 10FFFF */
        strbuf_clear(&err);
        strbuf_clear(&x);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_smuggling_normalize),
            cmocka_unit_test(test_smuggling_reject),
            cmocka_unit_test(test_bare_newline_commands),
            cmocka_unit_test(test_data_content),
            cmocka_unit_test(test_bdat),
            cmocka_unit_test(test_bdat_syntax),
            cmocka_unit_test(test_bdat_bare_newline),
            cmocka_unit_test(test_decoder),
            cmocka_unit_test(test_received_format),
            cmocka_unit_test(test_parsers),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

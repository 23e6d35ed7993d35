/* SPDX-License-Identifier: MIT */
/*
 * test_smtpd_dialogue.c - scripted SMTP dialogues against the engine:
 * every reply of docs/smtpd.md, pipelining, STARTTLS, limits.
 */
#include "dialogue.h"

#define EHLO_REPLY                                                             \
        "S: 250-mx.example\n"                                                  \
        "S: 250-PIPELINING\n"                                                  \
        "S: 250-SIZE 10240000\n"                                               \
        "S: 250-VRFY\n"                                                        \
        "S: 250-ENHANCEDSTATUSCODES\n"                                         \
        "S: 250-8BITMIME\n"                                                    \
        "S: 250-DSN\n"                                                         \
        "S: 250-SMTPUTF8\n"                                                    \
        "S: 250 CHUNKING\n"

#define GREET_EHLO                                                             \
        "S: 220 mx.example ESMTP postern\n"                                    \
        "C: EHLO client.example\n" EHLO_REPLY

/* EHLO replies with AUTH (smtpd_sasl_auth_enable) */
#define EHLO_AUTH_HEAD                                                         \
        "C: EHLO client.example\n"                                             \
        "S: 250-mx.example\n"                                                  \
        "S: 250-PIPELINING\n"                                                  \
        "S: 250-SIZE 10240000\n"                                               \
        "S: 250-VRFY\n"
#define EHLO_AUTH_TAIL                                                         \
        "S: 250-ENHANCEDSTATUSCODES\n"                                         \
        "S: 250-8BITMIME\n"                                                    \
        "S: 250-DSN\n"                                                         \
        "S: 250-SMTPUTF8\n"                                                    \
        "S: 250 CHUNKING\n"
#define GREET "S: 220 mx.example ESMTP postern\n"
#define EHLO_AUTH_PLAIN EHLO_AUTH_HEAD "S: 250-AUTH PLAIN\n" EHLO_AUTH_TAIL
#define GREET_EHLO_AUTH                                                        \
        GREET EHLO_AUTH_HEAD "S: 250-AUTH PLAIN LOGIN\n" EHLO_AUTH_TAIL
#define GREET_EHLO_AUTH_PLAIN GREET EHLO_AUTH_PLAIN

/* run_both - a dialogue with the default test settings */
static void run_both(const char *script)
{
        struct smtpd_settings set;
        test_settings(&set);
        dialogue_both(script, &set);
}

/* run_bulk - a dialogue fed one packet per input call only */
static struct fake *run_bulk(const char *script,
                             const struct smtpd_settings *set)
{
        static struct fake f;
        fake_clear(&f);
        fake_init(&f);
        dialogue_run(script, set, &f, FEED_BULK, NULL);
        return &f;
}

/* test_basic_transaction - a plain message, pipelined envelope */
static void test_basic_transaction(void **state)
{
        (void)state;
        run_both(GREET_EHLO "C: MAIL FROM:<a@example.org>\n"
                            "C: RCPT TO:<b@example.net>\n"
                            "C: DATA\n"
                            "S: 250 2.1.0 Ok\n"
                            "S: 250 2.1.5 Ok\n"
                            "S: 354 End data with <CR><LF>.<CR><LF>\n"
                            "C: Subject: hi\n"
                            "C: \n"
                            "C: ..leading dot\n"
                            "C: .\n"
                            "S: 250 2.0.0 Ok: queued as QID1\n"
                            "N: 1\n"
                            "C: QUIT\n"
                            "S: 221 2.0.0 Bye\n"
                            "A: close\n");

        struct smtpd_settings set;
        test_settings(&set);
        struct fake *f = run_bulk(GREET_EHLO "C: MAIL FROM:<a@example.org>\n"
                                             "C: RCPT TO:<b@example.net>\n"
                                             "C: DATA\n"
                                             "S~ 250\n"
                                             "S~ 250\n"
                                             "S~ 354\n"
                                             "C: Subject: hi\n"
                                             "C: \n"
                                             "C: ..leading dot\n"
                                             "C: .\n"
                                             "S~ 250 2.0.0 Ok: queued as\n"
                                             "C: QUIT\n"
                                             "S: 221 2.0.0 Bye\n",
                                  &set);
        assert_int_equal(f->nmsgs, 1);
        assert_string_equal(f->msgs[0].sender, "a@example.org");
        assert_int_equal(f->msgs[0].rcpts.n, 1);
        assert_string_equal(f->msgs[0].rcpts.v[0], "b@example.net");
        assert_string_equal(f->msgs[0].content.s,
                            "Subject: hi\r\n\r\n.leading dot\r\n");
        bool connect = false, disconnect = false;
        for (size_t i = 0; i < f->logs.n; i++) {
                if (strcmp(f->logs.v[i],
                           "connect from client.example[192.0.2.1]") == 0)
                        connect = true;
                if (strcmp(f->logs.v[i],
                           "disconnect from client.example[192.0.2.1] ehlo=1 "
                           "mail=1 rcpt=1 data=1 quit=1 commands=5") == 0)
                        disconnect = true;
        }
        assert_true(connect);
        assert_true(disconnect);
        fake_clear(f);
}

/* test_sequence_errors - 503s, syntax, unknown commands */
static void test_sequence_errors(void **state)
{
        struct smtpd_settings set;
        (void)state;
        test_settings(&set);
        set.hard_error_limit = 100;
        dialogue_both(
            "S: 220 mx.example ESMTP postern\n"
            "C: HELO\n"
            "S: 501 Syntax: HELO hostname\n"
            "C: EHLO\n"
            "S: 501 Syntax: EHLO hostname\n"
            "C: HELO client.example\n"
            "S: 250 mx.example\n"
            "C: RCPT TO:<b@example.net>\n"
            "S: 503 5.5.1 Error: need MAIL command\n"
            "C: DATA\n"
            "S: 503 5.5.1 Error: need RCPT command\n"
            "C: MAIL FROM:a@example.org\n"
            "S: 250 2.1.0 Ok\n"
            "C: MAIL FROM:<a@example.org>\n"
            "S: 503 5.5.1 Error: nested MAIL command\n"
            "C: DATA\n"
            "S: 554 5.5.1 Error: no valid recipients\n"
            "C: RCPT TO:<reject@example.net>\n"
            "S: 554 5.7.1 <reject@example.net>: Relay access denied\n"
            "C: RCPT TO:<defer@example.net>\n"
            "S: 450 4.7.1 <defer@example.net>: try again\n"
            "C: RCPT TO:<bad@example.net>\n"
            "S: 554 5.7.1 Recipient address rejected\n"
            "C: RCPT TO:<b@example.net>\n"
            "S: 250 2.1.5 Ok\n"
            "C: DATA extra\n"
            "S: 501 5.5.4 Syntax: DATA\n"
            "C: RSET x\n"
            "S: 501 5.5.4 Syntax: RSET\n"
            "C: RSET\n"
            "S: 250 2.0.0 Ok\n"
            "C: NOOP\n"
            "S: 250 2.0.0 Ok\n"
            "C: HELP\n"
            "S: 500 5.5.2 Error: command not recognized\n"
            "C: ETRN example.org\n"
            "S: 500 5.5.2 Error: command not recognized\n"
            "C: AUTH PLAIN\n"
            "S: 503 5.5.1 Error: authentication not enabled\n"
            "C: \n"
            "S: 500 5.5.2 Error: bad syntax\n"
            "C: MAIL TO:<a@example.org>\n"
            "S: 501 5.5.4 Syntax: MAIL FROM:<address>\n"
            "C: MAIL FROM:\n"
            "S: 501 5.5.4 Syntax: MAIL FROM:<address>\n"
            "C: MAIL FROM:<a@@example.org>\n"
            "S: 501 5.1.7 Bad sender address syntax\n"
            "C: MAIL FROM:<a@example.org\n"
            "S: 501 5.1.7 Bad sender address syntax\n"
            "C: MAIL FROM:<spammer@example.org>\n"
            "S: 554 5.7.1 <spammer@example.org>: Sender address "
            "rejected\n"
            "C: MAIL FROM:<>\n"
            "S: 250 2.1.0 Ok\n"
            "C: RCPT FROM:<b@example.net>\n"
            "S: 501 5.5.4 Syntax: RCPT TO:<address>\n"
            "C: RCPT TO:<b@>\n"
            "S: 501 5.1.3 Bad recipient address syntax\n"
            "C: RCPT TO:<>\n"
            "S: 501 5.1.3 Bad recipient address syntax\n"
            "C: RCPT TO:<Postmaster>\n"
            "S: 250 2.1.5 Ok\n"
            "C: RCPT TO:<@relay.example:c@example.net>\n"
            "S: 250 2.1.5 Ok\n"
            "C: VRFY\n"
            "S: 501 5.5.4 Syntax: VRFY address\n"
            "C: VRFY <b@example.net>\n"
            "S: 252 2.0.0 <b@example.net>\n"
            "C: VRFY reject@example.net\n"
            "S: 554 5.7.1 <reject@example.net>: Relay access denied\n"
            "C: QUIT\n"
            "S: 221 2.0.0 Bye\n"
            "L: NOQUEUE: reject: RCPT from client.example[192.0.2.1]: "
            "554 5.7.1 <reject@example.net>: Relay access denied; "
            "from=<a@example.org> to=<reject@example.net> proto=SMTP "
            "helo=<client.example>\n",
            &set);
}

/* test_helo_required_vrfy_disabled - smtpd_helo_required, VRFY off */
static void test_helo_required_vrfy_disabled(void **state)
{
        struct smtpd_settings set;
        (void)state;
        test_settings(&set);
        set.helo_required = true;
        set.disable_vrfy = true;
        dialogue_both("S: 220 mx.example ESMTP postern\n"
                      "C: MAIL FROM:<a@example.org>\n"
                      "S: 503 5.5.1 Error: send HELO/EHLO first\n"
                      "C: VRFY a@example.org\n"
                      "S: 502 5.5.1 VRFY command is disabled\n"
                      "C: EHLO client.example\n"
                      "S: 250-mx.example\n"
                      "S: 250-PIPELINING\n"
                      "S: 250-SIZE 10240000\n"
                      "S: 250-ENHANCEDSTATUSCODES\n"
                      "S: 250-8BITMIME\n"
                      "S: 250-DSN\n"
                      "S: 250-SMTPUTF8\n"
                      "S: 250 CHUNKING\n"
                      "C: MAIL FROM:<a@example.org>\n"
                      "S: 250 2.1.0 Ok\n",
                      &set);
}

/* test_discard_ehlo_keywords - smtpd_discard_ehlo_keywords */
static void test_discard_ehlo_keywords(void **state)
{
        struct smtpd_settings set;
        (void)state;
        test_settings(&set);
        set.discard_ehlo_keywords = "dsn, enhancedstatuscodes chunking";
        set.message_size_limit = 0;
        dialogue_both("S: 220 mx.example ESMTP postern\n"
                      "C: EHLO client.example\n"
                      "S: 250-mx.example\n"
                      "S: 250-PIPELINING\n"
                      "S: 250-SIZE\n"
                      "S: 250-VRFY\n"
                      "S: 250-8BITMIME\n"
                      "S: 250 SMTPUTF8\n",
                      &set);
}

/* test_discard_keywords_effect - discarded DSN and CHUNKING refuse */
static void test_discard_keywords_effect(void **state)
{
        struct smtpd_settings set;
        (void)state;
        test_settings(&set);
        set.discard_ehlo_keywords = "dsn chunking enhancedstatuscodes";
        dialogue_both("S~ 220\n"
                      "C: EHLO client.example\n"
                      "S: 250-mx.example\n"
                      "S: 250-PIPELINING\n"
                      "S: 250-SIZE 10240000\n"
                      "S: 250-VRFY\n"
                      "S: 250-8BITMIME\n"
                      "S: 250 SMTPUTF8\n"
                      "L: discarding EHLO keywords: enhancedstatuscodes dsn "
                      "chunking\n"
                      "C: MAIL FROM:<a@example.org> RET=FULL\n"
                      "S: 501 DSN support is disabled\n"
                      "C: MAIL FROM:<a@example.org>\n"
                      "S: 250 Ok\n"
                      "C: RCPT TO:<b@example.org>\n"
                      "S: 250 Ok\n"
                      "C: BDAT 3 LAST\n"
                      "S: 521 Error: command not implemented\n"
                      "A: close\n",
                      &set);
}

/* test_pipelining_coalesced - replies to a group come in one write */
static void test_pipelining_coalesced(void **state)
{
        struct smtpd_settings set;
        struct smtpd_client c = {.name = "c", .addr = "192.0.2.9"};
        struct fake f;
        const char *p;
        size_t n;
        static const char group[] = "MAIL FROM:<a@example.org>\r\n"
                                    "RCPT TO:<b@example.org>\r\n"
                                    "RCPT TO:<reject@example.org>\r\n"
                                    "RCPT TO:<c@example.org>\r\n"
                                    "DATA\r\n";
        (void)state;
        test_settings(&set);
        fake_init(&f);
        struct smtpd_session *s = smtpd_session_new(&set, &c, &fake_ops, &f);
        smtpd_session_output(s, &p, &n);
        smtpd_session_consume(s, n);
        smtpd_session_input(s, "EHLO c\r\n", 8);
        smtpd_session_output(s, &p, &n);
        smtpd_session_consume(s, n);
        smtpd_session_input(s, group, sizeof(group) - 1);
        smtpd_session_output(s, &p, &n);
        assert_int_equal(smtpd_session_action(s), SMTPD_ACTION_READ);
        static const char want[] =
            "250 2.1.0 Ok\r\n"
            "250 2.1.5 Ok\r\n"
            "554 5.7.1 <reject@example.org>: Relay access denied\r\n"
            "250 2.1.5 Ok\r\n"
            "354 End data with <CR><LF>.<CR><LF>\r\n";
        assert_int_equal(n, sizeof(want) - 1);
        assert_memory_equal(p, want, n);
        /* A partial write leaves the rest for the next one. */
        smtpd_session_consume(s, 10);
        smtpd_session_output(s, &p, &n);
        assert_int_equal(n, sizeof(want) - 1 - 10);
        assert_memory_equal(p, want + 10, n);
        smtpd_session_consume(s, n);
        smtpd_session_free(s);
        fake_clear(&f);
}

/* test_unauth_pipelining - smtpd_forbid_unauth_pipelining */
static void test_unauth_pipelining(void **state)
{
        struct smtpd_settings set;
        (void)state;
        test_settings(&set);
        /* Commands pipelined after EHLO before its reply. */
        run_bulk("S~ 220\n"
                 "C: EHLO client.example\n"
                 "C: MAIL FROM:<a@example.org>\n" EHLO_REPLY
                 "S: 554 5.5.0 Error: SMTP protocol synchronization\n"
                 "A: close\n"
                 "L: improper command pipelining after EHLO from "
                 "client.example[192.0.2.1]: MAIL FROM:<a@example.org>\n",
                 &set);
        /* Message content sent with DATA, before the 354. */
        run_bulk(GREET_EHLO
                 "C: MAIL FROM:<a@example.org>\n"
                 "C: RCPT TO:<b@example.net>\n"
                 "C: DATA\n"
                 "C: Subject: early\n"
                 "S: 250 2.1.0 Ok\n"
                 "S: 250 2.1.5 Ok\n"
                 "S: 354 End data with <CR><LF>.<CR><LF>\n"
                 "S: 554 5.5.0 Error: SMTP protocol synchronization\n"
                 "A: close\n"
                 "N: 0\n",
                 &set);
        /* HELO clients were never offered PIPELINING. */
        run_bulk("S~ 220\n"
                 "C: HELO client.example\n"
                 "S: 250 mx.example\n"
                 "C: MAIL FROM:<a@example.org>\n"
                 "C: RCPT TO:<b@example.net>\n"
                 "S: 250 2.1.0 Ok\n"
                 "S: 554 5.5.0 Error: SMTP protocol synchronization\n"
                 "A: close\n",
                 &set);
        /* Allowed when the setting is off. */
        set.forbid_unauth_pipelining = false;
        run_bulk("S~ 220\n"
                 "C: HELO client.example\n"
                 "C: MAIL FROM:<a@example.org>\n"
                 "S: 250 mx.example\n"
                 "S: 250 2.1.0 Ok\n"
                 "A: read\n",
                 &set);
}

/* test_forbidden_commands - HTTP and header lines hang up */
static void test_forbidden_commands(void **state)
{
        (void)state;
        run_both("S~ 220\n"
                 "C: GET / HTTP/1.0\n"
                 "S: 221 2.7.0 Error: I can break rules, too. Goodbye.\n"
                 "A: close\n"
                 "L: warning: client.example[192.0.2.1] sent non-SMTP "
                 "command: GET / HTTP/1.0\n");
}

/* test_size_limits - SIZE= at MAIL and the size at end of data */
static void test_size_limits(void **state)
{
        struct smtpd_settings set;
        (void)state;
        test_settings(&set);
        set.message_size_limit = 100;
        dialogue_both(
            "S~ 220\n"
            "C: EHLO client.example\n"
            "S: 250-mx.example\n"
            "S: 250-PIPELINING\n"
            "S: 250-SIZE 100\n"
            "S~ 250-VRFY\n"
            "S~ 250-ENH\n"
            "S~ 250-8BIT\n"
            "S~ 250-DSN\n"
            "S~ 250-SMTPUTF8\n"
            "S~ 250 CHUNKING\n"
            "C: MAIL FROM:<a@example.org> SIZE=101\n"
            "S: 552 5.3.4 Message size exceeds fixed limit\n"
            "C: MAIL FROM:<a@example.org> SIZE=1x\n"
            "S: 501 5.5.4 Bad message size syntax\n"
            "C: MAIL FROM:<a@example.org> SIZE=99999999999999999999999999\n"
            "S: 552 5.3.4 Message size exceeds file system imposed limit\n"
            "C: MAIL FROM:<a@example.org> SIZE=100\n"
            "S: 250 2.1.0 Ok\n"
            "C: RCPT TO:<b@example.net>\n"
            "S: 250 2.1.5 Ok\n"
            "C: DATA\n"
            "S~ 354\n"
            "C: 0123456789012345678901234567890123456789\n"
            "C: 0123456789012345678901234567890123456789\n"
            "C: 0123456789012345678901234567890123456789\n"
            "C: .\n"
            "S: 552 5.3.4 Message size exceeds fixed limit\n"
            "N: 0\n"
            "C: MAIL FROM:<a@example.org>\n"
            "S: 250 2.1.0 Ok\n"
            "C: RCPT TO:<b@example.net>\n"
            "S: 250 2.1.5 Ok\n"
            "C: DATA\n"
            "S~ 354\n"
            "C: small\n"
            "C: .\n"
            "S: 250 2.0.0 Ok: queued as QID1\n"
            "N: 1\n",
            &set);
}

/* test_dsn - RFC 3461 parameters and their errors */
static void test_dsn(void **state)
{
        struct smtpd_settings set;
        struct fake *f;
        (void)state;
        test_settings(&set);
        run_both(GREET_EHLO
                 "C: MAIL FROM:<a@example.org> RET=FULLISH\n"
                 "S: 501 5.5.4 Bad RET parameter syntax\n"
                 "C: MAIL FROM:<a@example.org> RET=FULL RET=HDRS\n"
                 "S: 501 5.5.4 Bad RET parameter syntax\n"
                 "C: MAIL FROM:<a@example.org> ENVID=a+2\n"
                 "S: 501 5.5.4 Bad ENVID parameter syntax\n"
                 "C: MAIL FROM:<a@example.org> ENVID=a+00\n"
                 "S: 501 5.5.4 Bad ENVID parameter syntax\n"
                 "C: MAIL FROM:<a@example.org> BODY=BINARYMIME\n"
                 "S: 555 5.5.4 Unsupported option: BODY=BINARYMIME\n"
                 "C: MAIL FROM:<a@example.org> FOO=BAR\n"
                 "S: 555 5.5.4 Unsupported option: FOO=BAR\n"
                 "C: MAIL FROM:<a@example.org> RET=HDRS ENVID=QQ+2B1 "
                 "BODY=8BITMIME\n"
                 "S: 250 2.1.0 Ok\n"
                 "C: RCPT TO:<b@example.net> NOTIFY=NEVER,SUCCESS\n"
                 "S: 501 5.5.4 Error: Bad NOTIFY parameter syntax\n"
                 "C: RCPT TO:<b@example.net> NOTIFY=SUCCESS,SUCCESS\n"
                 "S: 501 5.5.4 Error: Bad NOTIFY parameter syntax\n"
                 "C: RCPT TO:<b@example.net> NOTIFY=\n"
                 "S: 501 5.5.4 Error: Bad NOTIFY parameter syntax\n"
                 "C: RCPT TO:<b@example.net> ORCPT=rfc822\n"
                 "S: 501 5.5.4 Error: Bad ORCPT parameter syntax\n"
                 "C: RCPT TO:<b@example.net> ORCPT=rfc822;b+ZZ\n"
                 "S: 501 5.5.4 Error: Bad ORCPT parameter syntax\n"
                 "C: RCPT TO:<b@example.net> ORCPT=;b@example.net\n"
                 "S: 501 5.5.4 Error: Bad ORCPT parameter syntax\n"
                 "C: RCPT TO:<b@example.net> XYZ\n"
                 "S: 555 5.5.4 Unsupported option: XYZ\n"
                 "C: RCPT TO:<b@example.net> NOTIFY=success,delay "
                 "ORCPT=rfc822;b+2Bx@example.net\n"
                 "S: 250 2.1.5 Ok\n");

        /* The decoded values reach the envelope. */
        static struct fake fk;
        struct smtpd_client c = {.name = "c", .addr = "192.0.2.9"};
        struct smtpd_session *s;
        const struct smtpd_info *info;
        fake_init(&fk);
        f = &fk;
        s = smtpd_session_new(&set, &c, &fake_ops, f);
        static const char in[] = "EHLO c\r\n";
        static const char in2[] =
            "MAIL FROM:<a@example.org> RET=HDRS ENVID=QQ+2B1 BODY=8BITMIME\r\n"
            "RCPT TO:<b@example.net> NOTIFY=success,delay "
            "ORCPT=rfc822;b+2Bx@example.net\r\n";
        smtpd_session_input(s, in, sizeof(in) - 1);
        smtpd_session_input(s, in2, sizeof(in2) - 1);
        info = smtpd_session_info(s);
        assert_int_equal(info->env->ret, SMTPD_RET_HDRS);
        assert_string_equal(info->env->envid, "QQ+1");
        assert_int_equal(info->env->body, SMTPD_BODY_8BITMIME);
        assert_int_equal(info->env->nrcpt, 1);
        assert_int_equal(info->env->rcpt[0].notify,
                         SMTPD_NOTIFY_SUCCESS | SMTPD_NOTIFY_DELAY);
        assert_string_equal(info->env->rcpt[0].orcpt_type, "rfc822");
        assert_string_equal(info->env->rcpt[0].orcpt, "b+x@example.net");
        smtpd_session_free(s);
        fake_clear(f);
}

/* test_smtputf8 - RFC 6531 */
static void test_smtputf8(void **state)
{
        (void)state;
        run_both(GREET_EHLO
                 "C: MAIL FROM:<j\xc3\xb6rg@example.org>\n"
                 "S: 553 5.6.7 Must declare SMTPUTF8 to send unicode address\n"
                 "C: MAIL FROM:<a@example.org> BODY=8BITMIME\n"
                 "S: 250 2.1.0 Ok\n"
                 "C: RCPT TO:<j\xc3\xb6rg@example.org>\n"
                 "S: 553 5.6.7 Must declare SMTPUTF8 to send unicode address\n"
                 "C: RSET\n"
                 "S: 250 2.0.0 Ok\n"
                 "C: MAIL FROM:<j\xc3\xb6rg@example.org> SMTPUTF8\n"
                 "S: 250 2.1.0 Ok\n"
                 "C: RCPT TO:<j\xc3\xb6rg@b\xc3\xbc\x63her.example>\n"
                 "S: 250 2.1.5 Ok\n"
                 "C: RCPT TO:<x\xc3@example.org>\n"
                 "S: 500 5.5.2 Error: bad UTF-8 syntax\n");
}

/* test_line_too_long - a 10 MB command line is skipped, not stored */
static void test_line_too_long(void **state)
{
        struct smtpd_settings set;
        struct smtpd_client c = {.name = "c", .addr = "192.0.2.9"};
        struct fake f;
        const char *p;
        size_t n, chunk = 65536, total = 10 * 1024 * 1024;
        char *buf = xmalloc(chunk);
        (void)state;

        test_settings(&set);
        fake_init(&f);
        struct smtpd_session *s = smtpd_session_new(&set, &c, &fake_ops, &f);
        smtpd_session_output(s, &p, &n);
        smtpd_session_consume(s, n);
        memset(buf, 'A', chunk);
        memcpy(buf, "NOOP ", 5);
        for (size_t sent = 0; sent < total; sent += chunk) {
                smtpd_session_input(s, buf, chunk);
                memset(buf, 'A', 5);
                /* No reply while the line goes on. */
                smtpd_session_output(s, &p, &n);
                assert_int_equal(n, 0);
        }
        smtpd_session_input(s, "\r\nNOOP\r\n", 8);
        smtpd_session_output(s, &p, &n);
        static const char want[] = "500 5.5.0 Error: line too long\r\n"
                                   "250 2.0.0 Ok\r\n";
        assert_int_equal(n, sizeof(want) - 1);
        assert_memory_equal(p, want, n);
        smtpd_session_free(s);
        fake_clear(&f);
        free(buf);

        /* Exactly at the limit is fine (2048 bytes plus CRLF). */
        struct strbuf sc;
        strbuf_init(&sc);
        strbuf_adds(&sc, "S~ 220\nC: NOOP ");
        for (int i = 0; i < 2048 - 5; i++)
                strbuf_addc(&sc, 'x');
        strbuf_adds(&sc, "\nS: 250 2.0.0 Ok\nC: NOOP ");
        for (int i = 0; i < 2048 - 4; i++)
                strbuf_addc(&sc, 'x');
        strbuf_adds(&sc, "\nS: 500 5.5.0 Error: line too long\n");
        dialogue_both(sc.s, &set);
        strbuf_clear(&sc);
}

/* test_recipient_limit - 10,000 pipelined RCPTs */
static void test_recipient_limit(void **state)
{
        struct smtpd_settings set;
        struct smtpd_client c = {.name = "c", .addr = "192.0.2.9"};
        struct fake f;
        struct strbuf in;
        const char *p;
        size_t n;
        (void)state;

        test_settings(&set);
        fake_init(&f);
        strbuf_init(&in);
        struct smtpd_session *s = smtpd_session_new(&set, &c, &fake_ops, &f);
        smtpd_session_input(s, "EHLO c\r\n", 8);
        smtpd_session_output(s, &p, &n);
        smtpd_session_consume(s, n);
        strbuf_adds(&in, "MAIL FROM:<a@example.org>\r\n");
        for (int i = 0; i < 10000; i++)
                strbuf_printf(&in, "RCPT TO:<r%d@example.net>\r\n", i);
        smtpd_session_input(s, in.s, in.len);
        smtpd_session_output(s, &p, &n);
        /* 1000 accepted, 1000 overshoot 452s that are not errors, then 20
         * 452s counted as errors, then the hard error limit. */
        size_t ok = 0, full = 0, lines = 0;
        const char *q = p, *end = p + n;
        while (q < end) {
                const char *e = strstr(q, "\r\n");
                assert_non_null(e);
                if (strncmp(q, "250 2.1.5 Ok", 12) == 0)
                        ok++;
                if (strncmp(q, "452 4.5.3 Error: too many recipients", 36) == 0)
                        full++;
                lines++;
                q = e + 2;
        }
        assert_int_equal(ok, 1000);
        assert_int_equal(full, 1000 + 20);
        assert_true(
            strstr(p, "421 4.7.0 mx.example Error: too many errors\r\n"));
        assert_int_equal(smtpd_session_action(s), SMTPD_ACTION_CLOSE);
        assert_int_equal(lines, 1 + 1000 + 1020 + 1);
        smtpd_session_free(s);
        bool logged = false;
        for (size_t i = 0; i < f.logs.n; i++)
                if (strcmp(f.logs.v[i], "too many errors after RCPT from "
                                        "c[192.0.2.9]") == 0)
                        logged = true;
        assert_true(logged);
        fake_clear(&f);
        strbuf_clear(&in);
}

/* test_error_limits - soft limit delays, hard limit disconnects */
static void test_error_limits(void **state)
{
        struct smtpd_settings set;
        struct smtpd_client c = {.name = "c", .addr = "192.0.2.9"};
        const char *p;
        size_t n;
        (void)state;

        test_settings(&set);
        set.soft_error_limit = 2;
        set.hard_error_limit = 4;
        set.error_sleep_time = 3;
        struct smtpd_session *s = smtpd_session_new(&set, &c, NULL, NULL);
        assert_int_equal(smtpd_session_delay(s), 0);
        smtpd_session_input(s, "XXXX\r\n", 6);
        assert_int_equal(smtpd_session_delay(s), 0);
        smtpd_session_input(s, "XXXX\r\n", 6);
        assert_int_equal(smtpd_session_delay(s), 0);
        /* error_count is now 2: every reply is delayed (Postfix) */
        smtpd_session_input(s, "NOOP\r\n", 6);
        assert_int_equal(smtpd_session_delay(s), 3);
        assert_int_equal(smtpd_session_delay(s), 0);
        smtpd_session_input(s, "XXXX\r\n", 6);
        smtpd_session_input(s, "XXXX\r\n", 6);
        smtpd_session_output(s, &p, &n);
        assert_non_null(strstr(p, "500 5.5.2 Error: command not recognized\r\n"
                                  "421 4.7.0 mx.example Error: too many "
                                  "errors\r\n"));
        assert_int_equal(smtpd_session_action(s), SMTPD_ACTION_CLOSE);
        /* Input after the close is ignored. */
        smtpd_session_consume(s, n);
        smtpd_session_input(s, "NOOP\r\n", 6);
        smtpd_session_output(s, &p, &n);
        assert_int_equal(n, 0);
        smtpd_session_free(s);
}

/* test_timeout_and_eof - the embedder's timers and lost connections */
static void test_timeout_and_eof(void **state)
{
        (void)state;
        run_both(GREET_EHLO "C: MAIL FROM:<a@example.org>\n"
                            "C: RCPT TO:<b@example.net>\n"
                            "C: DATA\n"
                            "S~ 250\n"
                            "S~ 250\n"
                            "S~ 354\n"
                            "C: partial\n"
                            "E: timeout\n"
                            "S: 421 4.4.2 mx.example Error: timeout exceeded\n"
                            "A: close\n"
                            "N: 0\n"
                            "L: timeout after DATA (9 bytes) from "
                            "client.example[192.0.2.1]\n");
        run_both(GREET_EHLO "C: MAIL FROM:<a@example.org>\n"
                            "S~ 250\n"
                            "E: eof\n"
                            "A: close\n"
                            "L: lost connection after MAIL from "
                            "client.example[192.0.2.1]\n");
}

/* test_starttls - RFC 3207 and the state reset */
static void test_starttls(void **state)
{
        struct smtpd_settings set;
        (void)state;
        test_settings(&set);
        set.tls_level = SMTPD_TLS_MAY;
        dialogue_both("S~ 220\n"
                      "C: EHLO client.example\n"
                      "S: 250-mx.example\n"
                      "S: 250-PIPELINING\n"
                      "S: 250-SIZE 10240000\n"
                      "S: 250-VRFY\n"
                      "S: 250-STARTTLS\n"
                      "S: 250-ENHANCEDSTATUSCODES\n"
                      "S: 250-8BITMIME\n"
                      "S: 250-DSN\n"
                      "S: 250-SMTPUTF8\n"
                      "S: 250 CHUNKING\n"
                      "C: STARTTLS now\n"
                      "S: 501 5.5.4 Syntax: STARTTLS\n"
                      "C: MAIL FROM:<a@example.org>\n"
                      "S: 250 2.1.0 Ok\n"
                      "C: STARTTLS\n"
                      "S: 503 5.5.1 Error: MAIL transaction in progress\n"
                      "C: RSET\n"
                      "S: 250 2.0.0 Ok\n"
                      "C: STARTTLS\n"
                      "S: 220 2.0.0 Ready to start TLS\n"
                      "A: starttls\n"
                      "T: tls\n"
                      "A: read\n"
                      "C: MAIL FROM:<a@example.org>\n"
                      "S: 503 5.5.1 Error: send HELO/EHLO first\n"
                      "C: EHLO client.example\n"
                      "S: 250-mx.example\n"
                      "S: 250-PIPELINING\n"
                      "S: 250-SIZE 10240000\n"
                      "S: 250-VRFY\n"
                      "S: 250-ENHANCEDSTATUSCODES\n"
                      "S: 250-8BITMIME\n"
                      "S: 250-DSN\n"
                      "S: 250-SMTPUTF8\n"
                      "S: 250 CHUNKING\n"
                      "C: STARTTLS\n"
                      "S: 554 5.5.1 Error: TLS already active\n"
                      "C: QUIT\n"
                      "S: 221 2.0.0 Bye\n"
                      "X: -\n"
                      "L: disconnect from client.example[192.0.2.1] ehlo=2 "
                      "starttls=1/4 mail=1/2 rset=1 quit=1 commands=6/10\n",
                      &set);
        /* Not offered at level none. */
        run_both("S~ 220\n"
                 "C: STARTTLS\n"
                 "S: 502 5.5.1 Error: command not implemented\n");
}

/* test_starttls_encrypt - smtpd_tls_security_level = encrypt */
static void test_starttls_encrypt(void **state)
{
        struct smtpd_settings set;
        (void)state;
        test_settings(&set);
        set.tls_level = SMTPD_TLS_ENCRYPT;
        dialogue_both("S~ 220\n"
                      "C: HELO client.example\n"
                      "S: 250 mx.example\n"
                      "C: MAIL FROM:<a@example.org>\n"
                      "S: 530 5.7.0 Must issue a STARTTLS command first\n"
                      "C: RSET\n"
                      "S: 530 5.7.0 Must issue a STARTTLS command first\n"
                      "C: NOOP\n"
                      "S: 250 2.0.0 Ok\n"
                      "C: STARTTLS\n"
                      "S: 220 2.0.0 Ready to start TLS\n"
                      "T: tls\n"
                      "C: HELO client.example\n"
                      "S: 250 mx.example\n"
                      "C: MAIL FROM:<a@example.org>\n"
                      "S: 250 2.1.0 Ok\n",
                      &set);
}

/* test_starttls_injection - CVE-2011-0411: pipelined plaintext after
 * STARTTLS is never executed */
static void test_starttls_injection(void **state)
{
        struct smtpd_settings set;
        struct fake *f;
        (void)state;
        test_settings(&set);
        set.tls_level = SMTPD_TLS_MAY;
        /* Default: the 220, then close. */
        f = run_bulk("S~ 220\n"
                     "C: EHLO client.example\n"
                     "S~ 250-\n"
                     "S~ 250-\n"
                     "S~ 250-\n"
                     "S~ 250-\n"
                     "S~ 250-\n"
                     "S~ 250-\n"
                     "S~ 250-\n"
                     "S~ 250-\n"
                     "S~ 250-\n"
                     "S~ 250 \n"
                     "C: STARTTLS\n"
                     "C: MAIL FROM:<evil@example.org>\n"
                     "C: RCPT TO:<b@example.net>\n"
                     "S: 220 2.0.0 Ready to start TLS\n"
                     "A: close\n"
                     "L: warning: client.example[192.0.2.1]: plaintext "
                     "pipelined after STARTTLS\n",
                     &set);
        assert_int_equal(f->begins, 0);
        /* Postfix's way: discard silently, go on with the handshake; the
         * injected MAIL must not be remembered after it. */
        set.starttls_pipelining = SMTPD_STARTTLS_PIPE_DISCARD;
        run_bulk("S~ 220\n"
                 "C: HELO client.example\n"
                 "S~ 250\n"
                 "C: STARTTLS\n"
                 "C: MAIL FROM:<evil@example.org>\n"
                 "S: 220 2.0.0 Ready to start TLS\n"
                 "A: starttls\n"
                 "T: tls\n"
                 "C: HELO client.example\n"
                 "S: 250 mx.example\n"
                 "C: RCPT TO:<b@example.net>\n"
                 "S: 503 5.5.1 Error: need MAIL command\n",
                 &set);
}

/* test_wrappermode - TLS from the start (smtps) */
static void test_wrappermode(void **state)
{
        struct smtpd_settings set;
        struct smtpd_tls_info ti = {.protocol = "TLSv1.3"};
        struct smtpd_client c = {.name = "c", .addr = "192.0.2.9", .tls = &ti};
        const char *p;
        size_t n;
        (void)state;
        test_settings(&set);
        set.tls_level = SMTPD_TLS_ENCRYPT;
        struct smtpd_session *s = smtpd_session_new(&set, &c, NULL, NULL);
        smtpd_session_input(s, "EHLO c\r\n", 8);
        smtpd_session_output(s, &p, &n);
        assert_null(strstr(p, "STARTTLS"));
        assert_non_null(smtpd_session_info(s)->tls);
        smtpd_session_consume(s, n);
        smtpd_session_input(s, "MAIL FROM:<a@example.org>\r\n", 27);
        smtpd_session_output(s, &p, &n);
        assert_string_equal(p, "250 2.1.0 Ok\r\n");
        smtpd_session_free(s);
}

/* test_auth - AUTH through the embedder's auth_step, as Postfix answers */
static void test_auth(void **state)
{
        struct smtpd_settings set;
        struct fake f;
        (void)state;
        test_settings(&set);
        /* not enabled */
        fake_init(&f);
        f.mechs = "PLAIN LOGIN";
        dialogue_run(GREET_EHLO
                     "C: AUTH PLAIN AGFsaWNlAHMzY3JldA==\n"
                     "S: 503 5.5.1 Error: authentication not enabled\n"
                     "C: MAIL FROM:<a@example.org> AUTH=<>\n"
                     "S: 503 5.5.4 Error: authentication disabled\n"
                     "U: \n",
                     &set, &f, FEED_BULK, NULL);
        fake_clear(&f);

        set.sasl_enable = true;
        fake_init(&f);
        f.mechs = "PLAIN LOGIN";
        dialogue_run(GREET_EHLO_AUTH
                     "C: AUTH CRAM-MD5\n"
                     "S: 535 5.7.8 Error: authentication failed: Invalid "
                     "authentication mechanism\n"
                     "C: AUTH plain !!\n"
                     "S: 535 5.7.8 Error: authentication failed: Invalid "
                     "base64 data in initial response\n"
                     "C: AUTH PLAIN a b\n"
                     "S: 501 5.5.4 Syntax: AUTH mechanism\n"
                     "L: SASL CRAM-MD5 authentication failed: Invalid "
                     "authentication mechanism\n"
                     /* input after AUTH waits for the answer */
                     "C: auth plain AGFsaWNlAHMzY3JldA==\n"
                     "C: NOOP\n"
                     "A: wait\n"
                     "U: PLAIN AGFsaWNlAHMzY3JldA==\n"
                     "Z: ok alice\n"
                     "S: 235 2.7.0 Authentication successful\n"
                     "S: 250 2.0.0 Ok\n"
                     "A: read\n"
                     "C: AUTH LOGIN\n"
                     "S: 503 5.5.1 Error: already authenticated\n"
                     "C: MAIL FROM:<a@example.org> AUTH=<a@example.org>\n"
                     "S: 250 2.1.0 Ok\n"
                     "X: -\n"
                     "L: disconnect from client.example[192.0.2.1] ehlo=1 "
                     "auth=1/5 mail=1 noop=1 commands=4/8\n",
                     &set, &f, FEED_BULK, NULL);
        fake_clear(&f);

        /* LOGIN: challenges, a failure, "*", a temporary failure, and
         * an exchange the client leaves */
        fake_init(&f);
        f.mechs = "PLAIN LOGIN";
        dialogue_run(GREET_EHLO_AUTH
                     "C: AUTH LOGIN\n"
                     "A: wait\n"
                     "Z: cont VXNlcm5hbWU6\n"
                     "S: 334 VXNlcm5hbWU6\n"
                     "A: read\n"
                     "C: YWxpY2U=\n"
                     "A: wait\n"
                     "Z: cont UGFzc3dvcmQ6\n"
                     "S: 334 UGFzc3dvcmQ6\n"
                     "C: d3Jvbmc=\n"
                     "Z: fail\n"
                     "S: 535 5.7.8 Error: authentication failed: (reason "
                     "unavailable)\n"
                     "L: warning: client.example[192.0.2.1]: SASL LOGIN "
                     "authentication failed: (reason unavailable)\n"
                     "U: LOGIN -|YWxpY2U=|d3Jvbmc=\n"
                     "C: AUTH LOGIN\n"
                     "Z: cont VXNlcm5hbWU6\n"
                     "S: 334 VXNlcm5hbWU6\n"
                     "C: *\n"
                     "S: 501 5.7.0 Authentication aborted\n"
                     "L: SASL LOGIN authentication aborted\n"
                     "U: LOGIN -|YWxpY2U=|d3Jvbmc=|LOGIN -|abort\n"
                     "C: AUTH PLAIN =\n"
                     "Z: temp Connection lost to authentication server\n"
                     "S: 454 4.7.0 Temporary authentication failure: "
                     "Connection lost to authentication server\n"
                     "U: LOGIN -|YWxpY2U=|d3Jvbmc=|LOGIN -|abort|PLAIN \n"
                     "C: AUTH LOGIN\n"
                     "Z: cont VXNlcm5hbWU6\n"
                     "S: 334 VXNlcm5hbWU6\n"
                     "C: not base64!\n"
                     "S: 535 5.7.8 Error: authentication failed: Invalid "
                     "base64 data in continued response\n"
                     "C: AUTH PLAIN\n"
                     "A: wait\n"
                     "E: eof\n"
                     "U: LOGIN -|YWxpY2U=|d3Jvbmc=|LOGIN -|abort|PLAIN "
                     "|LOGIN -|abort|PLAIN -|abort\n",
                     &set, &f, FEED_BULK, NULL);
        fake_clear(&f);

        /* smtpd_tls_auth_only: nothing before TLS; STARTTLS forgets */
        set.sasl_tls_only = true;
        set.tls_level = SMTPD_TLS_MAY;
        fake_init(&f);
        f.mechs = "PLAIN";
        dialogue_run(GREET EHLO_AUTH_HEAD
                     "S: 250-STARTTLS\n" EHLO_AUTH_TAIL "C: AUTH PLAIN\n"
                     "S: 504 5.5.4 Encryption required for requested "
                     "authentication mechanism\n"
                     "C: STARTTLS\n"
                     "S: 220 2.0.0 Ready to start TLS\n"
                     "T: tls\n" EHLO_AUTH_PLAIN
                     "C: AUTH PLAIN AGFsaWNlAHMzY3JldA==\n"
                     "Z: ok alice\n"
                     "S: 235 2.7.0 Authentication successful\n",
                     &set, &f, FEED_BULK, NULL);
        fake_clear(&f);

        /* broken_sasl_auth_clients: also the AUTH= form */
        set.sasl_broken_clients = true;
        set.sasl_tls_only = false;
        set.tls_level = SMTPD_TLS_NONE;
        fake_init(&f);
        f.mechs = "PLAIN";
        dialogue_run(GREET EHLO_AUTH_HEAD "S: 250-AUTH PLAIN\n"
                                          "S: 250-AUTH=PLAIN\n" EHLO_AUTH_TAIL,
                     &set, &f, FEED_BULK, NULL);
        fake_clear(&f);
        set.sasl_broken_clients = false;

        /* the embedder cannot ask: 454 at once */
        set.sasl_tls_only = false;
        set.tls_level = SMTPD_TLS_NONE;
        fake_init(&f);
        f.mechs = "PLAIN";
        f.fail_step = true;
        dialogue_run(GREET_EHLO_AUTH_PLAIN
                     "C: AUTH PLAIN AGFsaWNlAHMzY3JldA==\n"
                     "S: 454 4.7.0 Temporary authentication failure: Can't "
                     "connect to authentication server\n"
                     "A: read\n",
                     &set, &f, FEED_BULK, NULL);
        fake_clear(&f);
}

/* test_async_commit - msg_end PENDING until the group commit */
static void test_async_commit(void **state)
{
        struct smtpd_settings set;
        struct fake f;
        (void)state;
        test_settings(&set);
        fake_init(&f);
        f.commit = SMTPD_COMMIT_PENDING;
        dialogue_run(GREET_EHLO "C: MAIL FROM:<a@example.org>\n"
                                "C: RCPT TO:<b@example.net>\n"
                                "C: DATA\n"
                                "S~ 250\n"
                                "S~ 250\n"
                                "S~ 354\n"
                                "C: hello\n"
                                "C: .\n"
                                "C: MAIL FROM:<c@example.org>\n"
                                "A: wait\n"
                                "D: Q42\n"
                                "S: 250 2.0.0 Ok: queued as Q42\n"
                                "S: 250 2.1.0 Ok\n"
                                "A: read\n"
                                "C: RCPT TO:<b@example.net>\n"
                                "C: DATA\n"
                                "S~ 250\n"
                                "S~ 354\n"
                                "C: .\n"
                                "A: wait\n"
                                "D: -\n"
                                "S: 451 4.3.0 Error: queue file write error\n",
                     &set, &f, FEED_BULK, NULL);
        fake_clear(&f);
}

/* The dialogue of test_refused_commit; %s is the reply to the end of
 * DATA. */
#define REFUSED_SCRIPT                                                         \
        GREET_EHLO "C: MAIL FROM:<a@example.org>\n"                            \
                   "C: RCPT TO:<b@example.net>\n"                              \
                   "C: DATA\n"                                                 \
                   "S~ 250\n"                                                  \
                   "S~ 250\n"                                                  \
                   "S~ 354\n"                                                  \
                   "C: Subject: viagra\n"                                      \
                   "C: .\n"                                                    \
                   "S: %s\n"                                                   \
                   "C: MAIL FROM:<c@example.org>\n"                            \
                   "S: 250 2.1.0 Ok\n"

/* test_refused_commit - msg_end refuses the message with a reply of its
 * own (header checks); a malformed one is a temporary failure */
static void test_refused_commit(void **state)
{
        static const struct {
                const char *refusal, *reply;
        } t[] = {
            {"550 5.7.1 message content rejected",
             "550 5.7.1 message content rejected"},
            {"451 4.7.1 try again later", "451 4.7.1 try again later"},
            {"250 fine", "451 4.3.0 Error: queue file write error"},
            {"550 two\r\nlines", "451 4.3.0 Error: queue file write error"},
        };
        struct smtpd_settings set;
        (void)state;
        test_settings(&set);
        for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
                struct fake f;
                char *sc = xasprintf(REFUSED_SCRIPT, t[i].reply);
                fake_init(&f);
                f.commit = SMTPD_COMMIT_REFUSED;
                f.refusal = t[i].refusal;
                dialogue_run(sc, &set, &f, FEED_BULK, NULL);
                assert_int_equal(f.nmsgs, 0);
                fake_clear(&f);
                free(sc);
        }
}

/* test_pending_rcpt - rcpt_check decides later (DNS restrictions): input
 * waits, counts and replies come when it is decided */
static void test_pending_rcpt(void **state)
{
        struct smtpd_settings set;
        (void)state;
        test_settings(&set);
        run_bulk(GREET_EHLO "C: MAIL FROM:<a@example.org>\n"
                            "C: RCPT TO:<pending1@example.net>\n"
                            "C: RCPT TO:<b@example.net>\n"
                            "C: DATA\n"
                            "S: 250 2.1.0 Ok\n"
                            "A: wait\n"
                            "V: accept\n"
                            "S: 250 2.1.5 Ok\n"
                            "S: 250 2.1.5 Ok\n"
                            "S: 354 End data with <CR><LF>.<CR><LF>\n"
                            "C: .\n"
                            "S~ 250 2.0.0 Ok: queued as\n"
                            "N: 1\n"
                            "C: MAIL FROM:<a@example.org>\n"
                            "C: RCPT TO:<pending2@example.net>\n"
                            "S: 250 2.1.0 Ok\n"
                            "V: reject 554 5.7.1 Service unavailable; Client "
                            "host [192.0.2.1] blocked using bl.example\n"
                            "S: 554 5.7.1 Service unavailable; Client host "
                            "[192.0.2.1] blocked using bl.example\n"
                            "L: NOQUEUE: reject: RCPT from "
                            "client.example[192.0.2.1]: 554 5.7.1 Service "
                            "unavailable\n"
                            "C: RCPT TO:<pending3@example.net>\n"
                            "V: defer\n"
                            "S: 450 4.7.1 Recipient address rejected\n"
                            "C: DATA\n"
                            "S: 554 5.5.1 Error: no valid recipients\n"
                            "C: RCPT TO:<pending4@example.net>\n"
                            "A: wait\n"
                            "E: eof\n"
                            "X: -\n"
                            "L: lost connection after RCPT\n"
                            "L: rcpt=2/4\n",
                 &set);
}

/* test_queue_failures - msg_begin, msg_write and msg_end failures */
#define TX_HEAD                                                                \
        GREET_EHLO "C: MAIL FROM:<a@example.org>\n"                            \
                   "C: RCPT TO:<b@example.net>\n"                              \
                   "C: DATA\n"                                                 \
                   "S~ 250\n"                                                  \
                   "S~ 250\n"
static void test_queue_failures(void **state)
{
        struct smtpd_settings set;
        struct fake f;
        static const char tx_fail[] =
            TX_HEAD "S: 451 4.3.0 Error: queue file write error\n";
        static const char tx_body[] =
            TX_HEAD "S: 354 End data with <CR><LF>.<CR><LF>\n"
                    "C: body\n"
                    "C: .\n"
                    "S: 451 4.3.0 Error: queue file write error\n"
                    "N: 0\n";
        (void)state;
        test_settings(&set);
        fake_init(&f);
        f.fail_begin = true;
        dialogue_run(tx_fail, &set, &f, FEED_BULK, NULL);
        fake_clear(&f);
        fake_init(&f);
        f.fail_write = true;
        dialogue_run(tx_body, &set, &f, FEED_BULK, NULL);
        assert_int_equal(f.aborts, 1);
        fake_clear(&f);
        fake_init(&f);
        f.commit = SMTPD_COMMIT_FAIL;
        dialogue_run(tx_body, &set, &f, FEED_BULK, NULL);
        fake_clear(&f);
}

/* test_received_hook - the Received: header comes first */
static void test_received_hook(void **state)
{
        struct smtpd_settings set;
        struct fake f;
        (void)state;
        test_settings(&set);
        fake_init(&f);
        f.received = true;
        dialogue_run(GREET_EHLO "C: MAIL FROM:<a@example.org>\n"
                                "C: RCPT TO:<b@example.net>\n"
                                "C: DATA\n"
                                "S~ 250\n"
                                "S~ 250\n"
                                "S~ 354\n"
                                "C: body\n"
                                "C: .\n"
                                "S~ 250 2.0.0 Ok: queued as\n",
                     &set, &f, FEED_BULK, NULL);
        assert_int_equal(f.nmsgs, 1);
        assert_string_equal(f.msgs[0].content.s,
                            "Received: from client.example\r\nbody\r\n");
        fake_clear(&f);
}

/* test_random_splits - any split of a dialogue gives the same bytes */
static void test_random_splits(void **state)
{
        static const char client[] =
            "EHLO c\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n"
            "DATA\r\nline 1\r\n..dot\r\nbare\nlf\r\n.\r\n"
            "MAIL FROM:<> BODY=8BITMIME\r\nRCPT TO:<c@example.net>\r\n"
            "BDAT 10\r\n0123456789BDAT 5 LAST\r\nab\r\ncRSET\r\nQUIT\r\n";
        struct smtpd_settings set;
        struct smtpd_client c = {.name = "c", .addr = "192.0.2.9"};
        struct strbuf ref;
        (void)state;
        test_settings(&set);
        set.forbid_unauth_pipelining = false;
        set.bare_newline = SMTPD_BARE_NEWLINE_NORMALIZE;
        strbuf_init(&ref);
        srand(12345);
        for (int round = 0; round < 200; round++) {
                struct fake f;
                struct strbuf out;
                const char *p;
                size_t n, off = 0;
                fake_init(&f);
                strbuf_init(&out);
                struct smtpd_session *s =
                    smtpd_session_new(&set, &c, &fake_ops, &f);
                while (off < sizeof(client) - 1) {
                        size_t k = round == 0 ? sizeof(client) - 1 - off
                                              : 1 + (size_t)rand() % 17;
                        if (k > sizeof(client) - 1 - off)
                                k = sizeof(client) - 1 - off;
                        smtpd_session_input(s, client + off, k);
                        off += k;
                        smtpd_session_output(s, &p, &n);
                        strbuf_add(&out, p, n);
                        smtpd_session_consume(s, n);
                }
                smtpd_session_free(s);
                assert_int_equal(f.nmsgs, 2);
                assert_string_equal(f.msgs[0].content.s,
                                    "line 1\r\n.dot\r\nbare\r\nlf\r\n");
                assert_string_equal(f.msgs[1].content.s,
                                    "0123456789ab\r\nc\r\n");
                if (round == 0) {
                        strbuf_add(&ref, out.s, out.len);

                        assert_non_null(strstr(ref.s,
                                               "250 2.0.0 Ok: 10 bytes\r\n"
                                               "250 2.0.0 Ok: 17 bytes "
                                               "queued as QID2\r\n"));
                } else {
                        assert_int_equal(out.len, ref.len);
                        assert_memory_equal(out.s, ref.s, ref.len);
                }
                strbuf_clear(&out);
                fake_clear(&f);
        }
        strbuf_clear(&ref);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_basic_transaction),
            cmocka_unit_test(test_sequence_errors),
            cmocka_unit_test(test_helo_required_vrfy_disabled),
            cmocka_unit_test(test_discard_ehlo_keywords),
            cmocka_unit_test(test_discard_keywords_effect),
            cmocka_unit_test(test_pipelining_coalesced),
            cmocka_unit_test(test_unauth_pipelining),
            cmocka_unit_test(test_forbidden_commands),
            cmocka_unit_test(test_size_limits),
            cmocka_unit_test(test_dsn),
            cmocka_unit_test(test_smtputf8),
            cmocka_unit_test(test_line_too_long),
            cmocka_unit_test(test_recipient_limit),
            cmocka_unit_test(test_error_limits),
            cmocka_unit_test(test_timeout_and_eof),
            cmocka_unit_test(test_starttls),
            cmocka_unit_test(test_starttls_encrypt),
            cmocka_unit_test(test_starttls_injection),
            cmocka_unit_test(test_wrappermode),
            cmocka_unit_test(test_async_commit),
            cmocka_unit_test(test_refused_commit),
            cmocka_unit_test(test_auth),
            cmocka_unit_test(test_pending_rcpt),
            cmocka_unit_test(test_queue_failures),
            cmocka_unit_test(test_received_hook),
            cmocka_unit_test(test_random_splits),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

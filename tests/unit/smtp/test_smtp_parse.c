/* SPDX-License-Identifier: MIT */
/* test_smtp_parse.c - the SMTP client's parsers: replies (multiline,
 * enhanced codes, garbage), EHLO features, next hops and TLS policy
 * entries */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "smtp/smtp.h"
#include "smtp/smtp_int.h"

/* feed - lines separated by '\n' into a fresh reply; returns the last rc */
static int feed(struct smtp_reply *r, const char *text)
{
        const char *errstr = NULL;
        int rc = 0;

        smtp_reply_init(r);
        while (*text) {
                const char *nl = strchr(text, '\n');
                size_t n = nl ? (size_t)(nl - text) : strlen(text);
                rc = smtp_reply_line(r, text, n, &errstr);
                if (rc < 0)
                        return rc;
                text += n + (nl ? 1 : 0);
        }
        return rc;
}

static void test_reply_multiline(void **state)
{
        struct smtp_reply r;
        struct strbuf one;

        (void)state;
        assert_int_equal(feed(&r, "550-5.1.1 first\n550 5.1.1 No such user"),
                         0);
        assert_true(r.done);
        assert_int_equal(r.code, 550);
        assert_string_equal(r.dsn, "5.1.1");
        strbuf_init(&one);
        smtp_reply_oneline(&r, &one);
        assert_string_equal(strbuf_cstr(&one),
                            "550-5.1.1 first 550 5.1.1 No such user");
        strbuf_clear(&one);
        smtp_reply_clear(&r);

        assert_int_equal(feed(&r, "250-mx.example\n250-PIPE"), 0);
        assert_false(r.done);
        smtp_reply_clear(&r);

        assert_int_equal(feed(&r, "220"), 0);
        assert_true(r.done);
        assert_string_equal(r.dsn, "");
        smtp_reply_clear(&r);
}

static void test_reply_dsn(void **state)
{
        struct smtp_reply r;

        (void)state;
        /* the class must agree with the reply code */
        assert_int_equal(feed(&r, "450 5.1.1 mismatch"), 0);
        assert_string_equal(r.dsn, "");
        smtp_reply_clear(&r);
        assert_int_equal(feed(&r, "421 4.7.0x text"), 0);
        assert_string_equal(r.dsn, "");
        smtp_reply_clear(&r);
        assert_int_equal(feed(&r, "250 2.0.0 Ok: queued"), 0);
        assert_string_equal(r.dsn, "2.0.0");
        smtp_reply_clear(&r);
}

static void test_reply_garbage(void **state)
{
        struct smtp_reply r;
        const char *bad[] = {"25",           "abc",
                             "250x ok",      "199 too low",
                             "600 too high", "250-a\n251 changed"};

        (void)state;
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                assert_int_equal(feed(&r, bad[i]), -1);
                smtp_reply_clear(&r);
        }
        const char *errstr = NULL;
        smtp_reply_init(&r);
        assert_int_equal(smtp_reply_line(&r, "250 a\0b", 7, &errstr), -1);
        smtp_reply_clear(&r);
}

static void test_ehlo_features(void **state)
{
        struct smtp_reply r;
        unsigned long long size = 0;

        (void)state;
        feed(&r, "250-mx.example STARTTLS\n250-PIPELINING\n250-SIZE 1000\n"
                 "250-starttls\n250-8BITMIME\n250-DSN\n250 SMTPUTF8");
        unsigned f = smtp_ehlo_features(&r, &size);
        assert_true(f & SMTP_FEATURE_PIPELINING);
        assert_true(f & SMTP_FEATURE_STARTTLS);
        assert_true(f & SMTP_FEATURE_8BITMIME);
        assert_true(f & SMTP_FEATURE_DSN);
        assert_true(f & SMTP_FEATURE_SMTPUTF8);
        assert_int_equal(size, 1000);
        smtp_reply_clear(&r);
        /* the greeting line's words are not keywords */
        feed(&r, "250 mx.example STARTTLS");
        f = smtp_ehlo_features(&r, NULL);
        assert_false(f & SMTP_FEATURE_STARTTLS);
        smtp_reply_clear(&r);
        /* AUTH mechanisms, also in the old AUTH= form */
        feed(&r, "250-mx.example\n250-AUTH CRAM-MD5 plain\n250 OK");
        f = smtp_ehlo_features(&r, NULL);
        assert_true(f & SMTP_FEATURE_AUTH_PLAIN);
        assert_false(f & SMTP_FEATURE_AUTH_LOGIN);
        smtp_reply_clear(&r);
        feed(&r, "250-mx.example\n250 AUTH=LOGIN");
        f = smtp_ehlo_features(&r, NULL);
        assert_int_equal(
            f & (SMTP_FEATURE_AUTH_PLAIN | SMTP_FEATURE_AUTH_LOGIN),
            SMTP_FEATURE_AUTH_LOGIN);
        smtp_reply_clear(&r);
}

static void test_sasl(void **state)
{
        struct conf *c;
        char *err = NULL, *user, *pass, *s;
        unsigned both = SMTP_FEATURE_AUTH_PLAIN | SMTP_FEATURE_AUTH_LOGIN;

        (void)state;
        /* RFC 4648 section 10 */
        const char *const in[] = {"",     "f",     "fo",    "foo",
                                  "foob", "fooba", "foobar"};
        const char *const out[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                   "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
        for (size_t i = 0; i < 7; i++) {
                s = smtp_sasl_base64(in[i], strlen(in[i]));
                assert_string_equal(s, out[i]);
                free(s);
        }
        s = smtp_sasl_plain("alice", "s3cret");
        assert_string_equal(s, "AGFsaWNlAHMzY3JldA==");
        free(s);
        assert_int_equal(smtp_sasl_split("alice:pa:ss", &user, &pass), 0);
        assert_string_equal(user, "alice");
        assert_string_equal(pass, "pa:ss");
        free(user);
        free(pass);
        assert_int_equal(smtp_sasl_split(":x", &user, &pass), -1);
        assert_int_equal(smtp_sasl_split("nopass", &user, &pass), -1);
        /* Postfix's defaults: noplaintext, with and without TLS */
        assert_int_equal(conf_load_defaults(&c, &err), 0);
        assert_int_equal(smtp_sasl_mechanism(c, both, false), 0);
        assert_int_equal(smtp_sasl_mechanism(c, both, true), 0);
        conf_free(c);
}

static void test_nexthop(void **state)
{
        struct smtp_nexthop nh;
        const char *errstr;

        (void)state;
        assert_int_equal(smtp_nexthop_parse("[MX.example]:587", &nh, &errstr),
                         0);
        assert_string_equal(nh.host, "mx.example");
        assert_int_equal(nh.port, 587);
        assert_true(nh.no_mx);
        smtp_nexthop_clear(&nh);
        assert_int_equal(smtp_nexthop_parse("example.org", &nh, &errstr), 0);
        assert_int_equal(nh.port, 25);
        assert_false(nh.no_mx);
        smtp_nexthop_clear(&nh);
        assert_int_equal(smtp_nexthop_parse("example.org:26", &nh, &errstr), 0);
        assert_int_equal(nh.port, 26);
        smtp_nexthop_clear(&nh);
        assert_int_equal(smtp_nexthop_parse("[::1]:2525", &nh, &errstr), 0);
        assert_string_equal(nh.host, "::1");
        smtp_nexthop_clear(&nh);
        const char *bad[] = {"",        "[]", "[x",   "x:0",
                             "x:65536", "x:", "[x]y", "a b"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_equal(smtp_nexthop_parse(bad[i], &nh, &errstr), -1);
}

static void test_lmtp_nexthop(void **state)
{
        struct smtp_nexthop nh;
        const char *errstr;

        (void)state;
        /* unix: a path as written, relative ones stay relative */
        assert_int_equal(smtp_lmtp_nexthop_parse("unix:private/dovecot-lmtp",
                                                 24, &nh, &errstr),
                         0);
        assert_string_equal(nh.path, "private/dovecot-lmtp");
        assert_string_equal(nh.host, "private/dovecot-lmtp");
        assert_int_equal(nh.port, 0);
        smtp_nexthop_clear(&nh);
        assert_int_equal(
            smtp_lmtp_nexthop_parse("unix:/run/dovecot/lmtp", 24, &nh, &errstr),
            0);
        assert_string_equal(nh.path, "/run/dovecot/lmtp");
        smtp_nexthop_clear(&nh);
        /* inet: and bare hosts: the lmtp_tcp_port unless given, and never
         * an MX lookup */
        static const struct {
                const char *in, *host;
                unsigned port;
        } ok[] = {
            {"inet:127.0.0.1:24", "127.0.0.1", 24},
            {"inet:[127.0.0.1]:2424", "127.0.0.1", 2424},
            {"inet:[::1]", "::1", 24},
            {"inet:Mail.Example", "mail.example", 24},
            {"mail.example:26", "mail.example", 26},
            {"[192.0.2.1]", "192.0.2.1", 24},
            {"mail.example", "mail.example", 24},
        };
        for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
                assert_int_equal(
                    smtp_lmtp_nexthop_parse(ok[i].in, 24, &nh, &errstr), 0);
                assert_string_equal(nh.host, ok[i].host);
                assert_int_equal(nh.port, ok[i].port);
                assert_true(nh.no_mx);
                assert_null(nh.path);
                smtp_nexthop_clear(&nh);
        }
        /* another default port (lmtp_tcp_port) */
        assert_int_equal(smtp_lmtp_nexthop_parse("inet:h", 2003, &nh, &errstr),
                         0);
        assert_int_equal(nh.port, 2003);
        smtp_nexthop_clear(&nh);
        const char *bad[] = {
            "",        "unix:",     "inet:",    "inet:[x", "inet:x:0",
            "x:65536", "unix:a\nb", "inet:a b", NULL};
        assert_int_equal(smtp_lmtp_nexthop_parse(NULL, 24, &nh, &errstr), -1);
        for (size_t i = 0; bad[i]; i++)
                assert_int_equal(
                    smtp_lmtp_nexthop_parse(bad[i], 24, &nh, &errstr), -1);
}

static void test_policy(void **state)
{
        struct smtp_tls_policy p;
        char *err = NULL;

        (void)state;
        assert_int_equal(smtp_tls_policy_parse("secure match=nexthop:.ex "
                                               "match=host.ex ciphers=high",
                                               &p, &err),
                         0);
        assert_int_equal(p.level, SMTP_TLS_SECURE);
        assert_string_equal(p.match, "nexthop:.ex:host.ex");
        assert_string_equal(p.ciphers, "high");
        smtp_tls_policy_clear(&p);
        assert_int_equal(
            smtp_tls_policy_parse("fingerprint match=AB:CD match=EF", &p, &err),
            0);
        assert_string_equal(p.match, "AB:CD|EF");
        smtp_tls_policy_clear(&p);
        assert_int_equal(smtp_tls_policy_parse("DANE-only", &p, &err), 0);
        assert_int_equal(p.level, SMTP_TLS_DANE_ONLY);
        smtp_tls_policy_clear(&p);
        assert_int_equal(smtp_tls_policy_parse("strong", &p, &err), -1);
        assert_non_null(strstr(err, "invalid TLS security level"));
        free(err);
        assert_int_equal(smtp_tls_policy_parse("may foo=bar", &p, &err), -1);
        free(err);
        assert_int_equal(smtp_tls_policy_parse("may match", &p, &err), -1);
        free(err);
        assert_int_equal(smtp_tls_policy_parse("", &p, &err), -1);
        free(err);
        for (int l = 0; l < SMTP_TLS_NLEVELS; l++) {
                enum smtp_tls_level back;
                assert_int_equal(
                    smtp_tls_level_parse(smtp_tls_level_name(l), &back), 0);
                assert_int_equal((int)back, l);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_reply_multiline),
            cmocka_unit_test(test_reply_dsn),
            cmocka_unit_test(test_reply_garbage),
            cmocka_unit_test(test_ehlo_features),
            cmocka_unit_test(test_sasl),
            cmocka_unit_test(test_nexthop),
            cmocka_unit_test(test_lmtp_nexthop),
            cmocka_unit_test(test_policy),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/* test_conf.c - main.cf parsing, expansion and typing edge cases */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../capture.h"
#include "../scratch.h"
#include "conf/conf.h"
#include "log/log.h"

static char dir[256];
static char errfile[300];

/* write_main_cf - replace main.cf with len bytes */
static void write_main_cf(const char *data, size_t len)
{
        char path[300];
        FILE *fp;

        snprintf(path, sizeof(path), "%s/main.cf", dir);
        fp = fopen(path, "wb");
        assert_non_null(fp);
        assert_int_equal(fwrite(data, 1, len, fp), len);
        fclose(fp);
}

/* load - main.cf from text; returns conf or NULL with *err */
static struct conf *load(const char *text, char **err)
{
        struct conf *c = NULL;

        write_main_cf(text, strlen(text));
        *err = NULL;
        if (conf_load(dir, NULL, &c, err) < 0)
                return NULL;
        return c;
}

static int setup(void **state)
{
        (void)state;
        snprintf(dir, sizeof(dir), "/tmp/postern-conf-test.XXXXXX");
        assert_non_null(mkdtemp(dir));
        snprintf(errfile, sizeof(errfile), "%s/stderr", dir);
        assert_non_null(freopen(errfile, "w", stderr));
        log_init("test");
        return 0;
}

/* teardown - remove the scratch directory (stderr went into it) */
static int teardown(void **state)
{
        (void)state;
        return scratch_remove(dir);
}

static void test_continuation_and_comments(void **state)
{
        char *err;
        struct conf *c;

        (void)state;
        c = load("# comment\n"
                 "smtpd_recipient_restrictions =\n"
                 "    permit_mynetworks\n"
                 "\n"
                 "# a comment inside does not end the logical line\n"
                 "\treject_unauth_destination   \n"
                 "myhostname = mx.example.org\n",
                 &err);
        assert_non_null(c);
        assert_string_equal(c->smtpd_recipient_restrictions,
                            "permit_mynetworks reject_unauth_destination");
        assert_string_equal(c->myhostname, "mx.example.org");
        assert_string_equal(c->mydomain, "example.org");
        assert_string_equal(
            conf_origin(c, "myhostname"),
            strcat(strcpy((char[400]){0}, dir), "/main.cf, line 7"));
        conf_free(c);
}

static void test_crlf(void **state)
{
        char *err;
        struct conf *c;

        (void)state;
        c = load("myhostname = a.example\r\nsmtpd_timeout = 10s\r\n"
                 "relayhost =\r\n  [b.example]:587\r\n",
                 &err);
        assert_non_null(c);
        assert_string_equal(c->myhostname, "a.example");
        assert_int_equal(c->smtpd_timeout, 10);
        assert_string_equal(c->relayhost, "[b.example]:587");
        conf_free(c);
}

static void test_types(void **state)
{
        char *err;
        struct conf *c;

        (void)state;
        c = load("maximal_queue_lifetime = 2\n" /* unit of "5d": days */
                 "minimal_backoff_time = 2m\n"  /* minutes */
                 "message_size_limit = 10k\n"
                 "smtpd_use_tls = YES\n"
                 "smtp_tls_policy_maps = lmdb:/a, texthash:/b "
                 "inline:{ x=y, { z = a b } }\n",
                 &err);
        assert_non_null(c);
        assert_int_equal(c->maximal_queue_lifetime, 2 * 86400);
        assert_int_equal(c->minimal_backoff_time, 120);
        assert_int_equal(c->message_size_limit, 10240);
        assert_true(c->smtpd_use_tls);
        /* legacy smtpd_use_tls means level may */
        assert_string_equal(c->smtpd_tls_security_level, "may");
        struct strlist l = {0};
        conf_split_list(c->smtp_tls_policy_maps, &l);
        assert_int_equal(l.n, 3);
        assert_string_equal(l.v[2], "inline:{ x=y, { z = a b } }");
        strlist_clear(&l);
        conf_free(c);
}

static void test_defaults(void **state)
{
        char *err;
        struct conf *c;

        (void)state;
        c = load("", &err);
        assert_non_null(c);
        assert_int_equal(c->message_size_limit, 10240000);
        assert_int_equal(c->smtpd_timeout, 300);
        assert_int_equal(c->maximal_queue_lifetime, 5 * 86400);
        assert_string_equal(c->smtpd_forbid_bare_newline, "yes");
        assert_string_equal(c->smtpd_tls_security_level, "none");
        assert_string_equal(c->smtp_tls_security_level, "none");
        assert_string_equal(c->mynetworks, "127.0.0.0/8 [::1]/128");
        assert_string_equal(c->smtpd_tls_fingerprint_digest, "sha256");
        assert_string_equal(c->smtp_tls_dane_insecure_mx_policy, "may");
        conf_free(c);

        c = load("smtp_tls_security_level = dane\n", &err);
        assert_non_null(c);
        assert_string_equal(c->smtp_tls_dane_insecure_mx_policy, "dane");
        conf_free(c);
}

static void test_expansion_forms(void **state)
{
        char *err;
        struct conf *c;

        (void)state;
        capture_begin(errfile);
        c = load("myhostname = h.example\n"
                 "mine = /d\n"
                 "smtpd_banner = $myhostname ${mine}/x $(mine) "
                 "${mine?set} ${nothere?no} ${nothere:dflt} ${mine:no} "
                 "${mine?{A}:{B}} ${nothere?{A}:{B}}\n"
                 "empty =\n"
                 "smtp_bind_address = $nothere\n"
                 "smtp_helo_name = ${empty?x}${empty:y}\n",
                 &err);
        assert_non_null(c);
        assert_string_equal(c->smtpd_banner,
                            "h.example /d/x /d set  dflt  A B");
        assert_string_equal(c->smtp_helo_name, "y");
        assert_string_equal(c->smtp_bind_address, "");
        char *e = capture_end(errfile);
        assert_non_null(strstr(e, "undefined parameter: nothere"));
        free(e);
        conf_free(c);
}

static void test_relational_expansion(void **state)
{
        char *err;
        struct conf *c;

        (void)state;
        c = load("compatibility_level = 3.6\n"
                 "myhostname = mx.example\n"
                 "smtpd_banner = ${{$compatibility_level} <level {3.10} ? "
                 "{a} : {b}} ${{10} < {9}?{c}:{d}} ${{abc} < {abd}?{e}} "
                 "[${{x} == {x}}] [${{x} != {x}}] "
                 "${ {$myhostname} == {mx.example} ? {f} : {g}} "
                 "${{1}=={2}:h}\n",
                 &err);
        assert_non_null(c);
        assert_string_equal(c->smtpd_banner, "a d e [true] [] f h");
        conf_free(c);
}

static void test_expansion_loop(void **state)
{
        char *err;
        struct conf *c;

        (void)state;
        c = load("a = $b\nb = ${a}\nmyhostname = $a\n", &err);
        assert_null(c);
        assert_non_null(err);
        assert_non_null(strstr(err, "main.cf, line 3: parameter myhostname"));
        assert_non_null(strstr(err, "nesting"));
        free(err);

        c = load("myhostname = $myhostname\n", &err);
        assert_null(c);
        assert_non_null(strstr(err, "line 1: parameter myhostname"));
        free(err);

        c = load("myhostname = ${unterminated\n", &err);
        assert_null(c);
        assert_non_null(strstr(err, "line 1: parameter myhostname"));
        free(err);
}

static void test_empty_values(void **state)
{
        char *err;
        struct conf *c;

        (void)state;
        c = load("relayhost =\nmydestination=\n", &err);
        assert_non_null(c);
        assert_string_equal(c->relayhost, "");
        assert_string_equal(c->mydestination, "");
        assert_string_equal(conf_raw(c, "mydestination"), "");
        conf_free(c);

        /* an empty number is an error, not zero */
        c = load("\n\nsmtpd_recipient_limit =\n", &err);
        assert_null(c);
        assert_non_null(strstr(err, "main.cf, line 3: parameter "
                                    "smtpd_recipient_limit"));
        free(err);
}

static void test_bad_values(void **state)
{
        static const struct {
                const char *text, *expect;
        } cases[] = {
            {"smtpd_timeout = 5y\n", "line 1: parameter smtpd_timeout: "
                                     "bad time unit"},
            {"x = 1\nsmtpd_use_tls = maybe\n",
             "line 2: parameter smtpd_use_tls: expected yes or no"},
            {"message_size_limit = -1\n",
             "line 1: parameter message_size_limit: expected a number"},
            {"message_size_limit = 99999999999999999999999\n", "out of range"},
            {"smtp_tls_security_level = paranoid\n",
             "line 1: parameter smtp_tls_security_level: expected one of"},
            {"relay_clientcerts = /etc/postfix/certs\n",
             "line 1: parameter relay_clientcerts: \"/etc/postfix/certs\" "
             "is not a table"},
            {"garbage line\n", "line 1: missing '=' after attribute name"},
            {"= value\n", "line 1: missing attribute name"},
            {"my.name = 1\n", "line 1: bad parameter name"},
            {"smtpd_banner = ${{a} ~ {b}}\n",
             "line 1: parameter smtpd_banner: \"==\", \"!=\""},
            {"smtpd_banner = ${{a} ==x {b}}\n", "bad operator suffix"},
            {"smtpd_banner = ${{a} == b}\n", "\"{text}\" expected"},
            {"smtpd_banner = ${{3.x} <level {3.6}}\n",
             "bad compatibility level"},
            {"smtpd_banner = ${{a} == {b}\n", "missing '}'"},
        };
        (void)state;
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char *err;
                struct conf *c = load(cases[i].text, &err);
                assert_null(c);
                assert_non_null(err);
                if (strstr(err, cases[i].expect) == NULL ||
                    strstr(err, "/main.cf") == NULL)
                        fail_msg("case %zu: got \"%s\"", i, err);
                free(err);
        }
}

static void test_long_line(void **state)
{
        size_t n = 100 * 1024;
        char *text = malloc(n + 64);
        char *err;
        struct conf *c;

        (void)state;
        strcpy(text, "smtpd_banner = ");
        size_t off = strlen(text);
        memset(text + off, 'x', n);
        strcpy(text + off + n, "\nmyhostname = z.example\n");
        c = load(text, &err);
        assert_non_null(c);
        assert_int_equal(strlen(c->smtpd_banner), n);
        assert_string_equal(c->myhostname, "z.example");
        conf_free(c);
        free(text);
}

static void test_nul_byte(void **state)
{
        static const char data[] = "myhostname = a\nsmtpd_banner = x\0y\n";
        struct conf *c = NULL;
        char *err = NULL;

        (void)state;
        write_main_cf(data, sizeof(data) - 1);
        assert_int_equal(conf_load(dir, NULL, &c, &err), -1);
        assert_non_null(strstr(err, "main.cf, line 2: NUL byte"));
        free(err);
}

static void test_non_utf8(void **state)
{
        char *err;
        struct conf *c;

        (void)state;
        c = load("smtpd_banner = caf\xe9 \xff\xfe\n", &err);
        assert_non_null(c);
        assert_string_equal(c->smtpd_banner, "caf\xe9 \xff\xfe");
        conf_free(c);
}

static void test_missing_and_unreadable(void **state)
{
        char path[300], *err = NULL;
        struct conf *c = NULL;

        (void)state;
        /* missing main.cf: every default */
        snprintf(path, sizeof(path), "%s/main.cf", dir);
        unlink(path);
        assert_int_equal(conf_load(dir, NULL, &c, &err), 0);
        assert_int_equal(c->message_size_limit, 10240000);
        conf_free(c);

        /* a directory where main.cf should be (unreadable even for root) */
        assert_int_equal(mkdir(path, 0755), 0);
        assert_int_equal(conf_load(dir, NULL, &c, &err), -1);
        assert_non_null(strstr(err, "main.cf: cannot read"));
        free(err);
        rmdir(path);
}

static void test_unknown_and_duplicate(void **state)
{
        char *err;
        struct conf *c;

        (void)state;
        capture_begin(errfile);
        c = load("myhostname = a.example\n"
                 "smtpd_tls_ask_cert = yes\n"
                 "used_elsewhere = /x\n"
                 "smtpd_tls_cert_file = $used_elsewhere\n"
                 "myhostname = b.example\n",
                 &err);
        assert_non_null(c);
        char *e = capture_end(errfile);
        assert_non_null(strstr(e, "main.cf, line 2: unknown parameter: "
                                  "smtpd_tls_ask_cert=yes (did you mean "
                                  "smtpd_tls_ask_ccert?)"));
        assert_null(strstr(e, "used_elsewhere=")); /* referenced: no warning */
        assert_non_null(strstr(e, "line 5: overriding earlier entry: "
                                  "myhostname=a.example"));
        assert_string_equal(c->myhostname, "b.example");
        struct strlist names = {0};
        conf_set_names(c, &names);
        /* postconf -n lists known and referenced names, not the unused */
        int found = 0;
        for (size_t i = 0; i < names.n; i++) {
                assert_string_not_equal(names.v[i], "smtpd_tls_ask_cert");
                found += strcmp(names.v[i], "used_elsewhere") == 0;
        }
        assert_int_equal(found, 1);
        strlist_clear(&names);
        free(e);
        conf_free(c);
}

static void test_overrides(void **state)
{
        struct strlist ov = {0};
        struct conf *c = NULL;
        char *err = NULL;

        (void)state;
        write_main_cf("smtpd_timeout = 10s\n", 20);
        strlist_push(&ov, "smtpd_timeout=20s");
        strlist_push(&ov, "smtpd_tls_security_level = encrypt");
        assert_int_equal(conf_load(dir, &ov, &c, &err), 0);
        assert_int_equal(c->smtpd_timeout, 20);
        assert_string_equal(c->smtpd_tls_security_level, "encrypt");
        conf_free(c);
        strlist_clear(&ov);

        strlist_push(&ov, "smtpd_timeout=forever");
        assert_int_equal(conf_load(dir, &ov, &c, &err), -1);
        assert_non_null(strstr(err, "-o smtpd_timeout"));
        free(err);
        strlist_clear(&ov);
}

static void test_edit(void **state)
{
        struct strlist set = {0}, del = {0};
        char *err = NULL, path[300], buf[1024];
        FILE *fp;
        size_t n;

        (void)state;
        write_main_cf("# keep\nmyhostname = a\n  continued\nrelayhost = x\n",
                      48);
        strlist_push(&set, "myhostname = b.example");
        strlist_push(&set, "newone=1");
        strlist_push(&del, "relayhost");
        assert_int_equal(conf_edit(dir, &set, NULL, &err), 0);
        assert_int_equal(conf_edit(dir, NULL, &del, &err), 0);
        snprintf(path, sizeof(path), "%s/main.cf", dir);
        fp = fopen(path, "r");
        assert_non_null(fp);
        n = fread(buf, 1, sizeof(buf) - 1, fp);
        buf[n] = 0;
        fclose(fp);
        assert_string_equal(buf, "# keep\nmyhostname = b.example\nnewone = "
                                 "1\n");
        strlist_clear(&set);
        strlist_clear(&del);

        strlist_push(&set, "no equals sign");
        assert_int_equal(conf_edit(dir, &set, NULL, &err), -1);
        assert_non_null(strstr(err, "need name = value"));
        free(err);
        strlist_clear(&set);
}

static void test_parsers(void **state)
{
        long long n;
        bool b;
        const char *why;

        (void)state;
        assert_int_equal(conf_parse_time("1w", 's', &n, &why), 0);
        assert_int_equal(n, 604800);
        assert_int_equal(conf_parse_time("3", 'h', &n, &why), 0);
        assert_int_equal(n, 3 * 3600);
        assert_int_equal(conf_parse_time("", 's', &n, &why), -1);
        assert_int_equal(conf_parse_time("9999999999999999999d", 's', &n, &why),
                         -1);
        assert_int_equal(conf_parse_time("999999999999999d", 's', &n, &why),
                         -1);
        assert_int_equal(conf_parse_size("2g", &n, &why), 0);
        assert_int_equal(n, 2LL << 30);
        assert_int_equal(conf_parse_bool("No", &b, &why), 0);
        assert_false(b);
        assert_int_equal(conf_parse_int("-5", &n, &why), 0);
        assert_int_equal(n, -5);
        assert_int_equal(conf_parse_int("5s", &n, &why), -1);
}

static void test_every_param_documented(void **state)
{
        const struct conf_param *t = conf_params();

        (void)state;
        for (size_t i = 0; i < CONF_NPARAMS; i++) {
                assert_non_null(t[i].desc);
                if (strlen(t[i].desc) < 10)
                        fail_msg("%s has no description", t[i].name);
                for (size_t j = 0; j < i; j++)
                        assert_string_not_equal(t[i].name, t[j].name);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_continuation_and_comments),
            cmocka_unit_test(test_crlf),
            cmocka_unit_test(test_types),
            cmocka_unit_test(test_defaults),
            cmocka_unit_test(test_expansion_forms),
            cmocka_unit_test(test_relational_expansion),
            cmocka_unit_test(test_expansion_loop),
            cmocka_unit_test(test_empty_values),
            cmocka_unit_test(test_bad_values),
            cmocka_unit_test(test_long_line),
            cmocka_unit_test(test_nul_byte),
            cmocka_unit_test(test_non_utf8),
            cmocka_unit_test(test_missing_and_unreadable),
            cmocka_unit_test(test_unknown_and_duplicate),
            cmocka_unit_test(test_overrides),
            cmocka_unit_test(test_edit),
            cmocka_unit_test(test_parsers),
            cmocka_unit_test(test_every_param_documented),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}

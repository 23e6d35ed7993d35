/* SPDX-License-Identifier: MIT */
/* test_master_cf.c - master.cf services, overrides and errors */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "log/log.h"
#include "master/master.h"
#include "qmgr/qmgr.h"

/* parse - master.cf text; returns rc */
static int parse(const char *text, struct master_service **v, size_t *n,
                 char **err)
{
        *err = NULL;
        return master_cf_parse("master.cf", text, strlen(text), v, n, err);
}

static void test_debian_style(void **state)
{
        struct master_service *v;
        size_t n;
        char *err;

        (void)state;
        assert_int_equal(
            parse("# service type  private unpriv  chroot  wakeup  maxproc "
                  "command + args\n"
                  "smtp      inet  n       -       y       -       -       "
                  "smtpd\n"
                  "#submission inet n       -       y       -       -       "
                  "smtpd\n"
                  "submission inet n - y - - smtpd\n"
                  "  -o syslog_name=postfix/submission\n"
                  "\n"
                  "  -o smtpd_tls_security_level=encrypt\n"
                  "smtps     inet  n       -       y       -       -       "
                  "smtpd\n"
                  "  -o smtpd_tls_wrappermode=yes\n"
                  "  -o { smtpd_client_restrictions = permit_mynetworks, "
                  "reject }\n"
                  "127.0.0.1:2525 inet n - n - - smtpd -o "
                  "smtpd_recipient_restrictions=$mua\n"
                  "[::1]:2526 inet n - n - - smtpd\n"
                  "pickup    unix  n       -       y       60      1       "
                  "pickup\n"
                  "cleanup   unix  n       -       y       -       0       "
                  "cleanup\n",
                  &v, &n, &err),
            0);
        assert_int_equal(n, 5);
        assert_string_equal(v[0].name, "smtp");
        assert_string_equal(v[0].port, "25");
        assert_null(v[0].host);
        assert_int_equal(v[0].line, 2);
        assert_string_equal(v[1].port, "587");
        assert_int_equal(v[1].overrides.n, 2);
        assert_string_equal(v[1].overrides.v[1],
                            "smtpd_tls_security_level=encrypt");
        assert_string_equal(v[2].port, "465");
        assert_string_equal(v[2].overrides.v[0], "smtpd_tls_wrappermode=yes");
        assert_string_equal(v[2].overrides.v[1],
                            "smtpd_client_restrictions = permit_mynetworks, "
                            "reject");
        assert_string_equal(v[3].host, "127.0.0.1");
        assert_string_equal(v[3].port, "2525");
        assert_string_equal(v[3].overrides.v[0],
                            "smtpd_recipient_restrictions=$mua");
        assert_string_equal(v[4].host, "::1");
        assert_string_equal(v[4].port, "2526");
        master_services_free(v, n);
}

/* A master.cf text and what its error message says. */
struct bad_case {
        const char *text, *expect;
};

/* expect_errors - each case is refused with its message */
static void expect_errors(const struct bad_case *cases, size_t ncases)
{
        for (size_t i = 0; i < ncases; i++) {
                struct master_service *v;
                size_t n;
                char *err;
                if (parse(cases[i].text, &v, &n, &err) != -1)
                        fail_msg("case %zu accepted", i);
                if (strstr(err, cases[i].expect) == NULL)
                        fail_msg("case %zu: \"%s\"", i, err);
                free(err);
        }
}

static void test_errors(void **state)
{
        static const struct bad_case cases[] = {
            {"smtp inet n - y -\n", "master.cf, line 1: too few fields"},
            {"\n  -o x=y\n", "line 2: a service must not start"},
            {"nosuchservice inet n - y - - smtpd\n",
             "line 1: service \"nosuchservice\": unknown port"},
            {"99999 inet n - y - - smtpd\n", "unknown port"},
            {"smtp inet n - y - - smtpd -o\n", "line 1: -o needs"},
            {"smtp inet n - y - - smtpd -o novalue\n", "-o needs"},
            {"smtp inet n - y - - smtpd -x\n", "not supported"},
            {"smtp inet n - y - - smtpd -o { a = b\n", "missing '}'"},
            {"smtp inet n - y - - smtpd\n25 inet n - n - - smtpd\n",
             "line 2: service 25 duplicates line 1"},
            {"[::1 inet n - n - - smtpd\n", "bad [address]:port"},
        };
        (void)state;
        expect_errors(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_default_without_file(void **state)
{
        struct master_service *v;
        size_t n;
        char *err;

        (void)state;
        assert_int_equal(
            master_cf_read("/nonexistent-postern-dir", &v, &n, &err), 0);
        assert_int_equal(n, 1);
        assert_string_equal(v[0].port, "25");
        master_services_free(v, n);
}

/* test_transports - unix services running smtp, lmtp, discard or error
 * are transports named by the service, with their -o overrides and
 * maxproc; the rest of Debian's stock lines are skipped */
static void test_transports(void **state)
{
        static const char text[] =
            "smtp      inet  n       -       y       -       -       smtpd\n"
            "pickup    unix  n       -       y       60      1       pickup\n"
            "qmgr      unix  n       -       n       300     1       qmgr\n"
            "smtp      unix  -       -       y       -       -       smtp\n"
            "relay     unix  -       -       y       -       -       smtp\n"
            "        -o syslog_name=postfix/$service_name\n"
            "error     unix  -       -       y       -       -       error\n"
            "retry     unix  -       -       y       -       -       error\n"
            "discard   unix  -       -       y       -       -       discard\n"
            "local     unix  -       n       n       -       -       local\n"
            "lmtp      unix  -       -       y       -       -       lmtp\n"
            "maildrop  unix  -       n       n       -       -       pipe\n"
            "  flags=DRXhu user=vmail argv=/usr/bin/maildrop -d ${recipient}\n"
            "smtp-amavis unix - - n - 2 smtp\n"
            "  -o smtp_data_done_timeout=1200\n"
            "  -o smtp_send_xforward_command=yes\n"
            "  -o disable_dns_lookups=yes\n"
            "  -o max_use=20\n"
            "127.0.0.1:10025 inet n - n - - smtpd\n"
            "  -o content_filter=\n"
            "dovecot-lmtp unix - - n - 0 lmtp -v\n";
        struct master_service *v;
        struct qmgr_transport_def *d;
        struct conf *main = NULL, *confs[13] = {0};
        size_t n, nd;
        char *err;

        (void)state;
        assert_int_equal(parse(text, &v, &n, &err), 0);
        assert_int_equal(n, 10);
        assert_int_equal(master_cf_listeners(v, n), 2);
        assert_int_equal(v[0].kind, MASTER_SMTPD);
        assert_int_equal(v[1].kind, MASTER_DELIVERY);
        assert_string_equal(v[1].name, "smtp");
        assert_string_equal(v[1].command, "smtp");
        assert_null(v[1].port);
        assert_int_equal(v[1].maxproc, -1);
        assert_string_equal(v[2].name, "relay");
        assert_string_equal(v[2].overrides.v[0],
                            "syslog_name=postfix/$service_name");
        assert_string_equal(v[4].name, "retry");
        assert_string_equal(v[4].command, "error");
        assert_string_equal(v[6].name, "lmtp");
        assert_string_equal(v[7].name, "smtp-amavis");
        assert_int_equal(v[7].maxproc, 2);
        assert_int_equal(v[7].overrides.n, 4);
        assert_string_equal(v[7].overrides.v[0], "smtp_data_done_timeout=1200");
        assert_int_equal(v[8].kind, MASTER_SMTPD);
        assert_string_equal(v[8].port, "10025");
        assert_string_equal(v[9].name, "dovecot-lmtp");
        assert_int_equal(v[9].maxproc, 0);

        /* as the queue manager gets them: the kind of each, maxproc "-"
         * as default_process_limit, a conf only with overrides */
        assert_int_equal(conf_load_defaults(&main, &err), 0);
        confs[2] = main; /* stands for relay's own */
        confs[7] = main;
        confs[1] = main; /* smtp has no -o: main.cf's */
        master_transports(v, n, confs, main, &d, &nd);
        assert_int_equal(nd, 8);
        assert_string_equal(d[0].name, "smtp");
        assert_int_equal(d[0].kind, QMGR_T_SMTP);
        assert_null(d[0].conf);
        assert_int_equal(d[0].maxproc, 100);
        assert_string_equal(d[1].name, "relay");
        assert_ptr_equal(d[1].conf, main);
        assert_int_equal(d[2].kind, QMGR_T_ERROR);
        assert_int_equal(d[3].kind, QMGR_T_RETRY);
        assert_int_equal(d[4].kind, QMGR_T_DISCARD);
        assert_int_equal(d[5].kind, QMGR_T_LMTP);
        assert_string_equal(d[6].name, "smtp-amavis");
        assert_int_equal(d[6].kind, QMGR_T_SMTP);
        assert_int_equal(d[6].maxproc, 2);
        assert_ptr_equal(d[6].conf, main);
        assert_string_equal(d[7].name, "dovecot-lmtp");
        assert_int_equal(d[7].maxproc, 0);
        free(d);
        conf_free(main);
        master_services_free(v, n);
}

/* test_transport_errors - what a transport line must not be */
static void test_transport_errors(void **state)
{
        static const struct bad_case cases[] = {
            {"a:b unix - - n - - smtp\n", "must not contain ':'"},
            {"f unix - - n - many smtp\n", "bad maxproc \"many\""},
            {"f unix - - n - -1 smtp\n", "bad maxproc"},
            {"f unix - - n - 2 smtp -x\n",
             "line 1: smtp argument \"-x\" is not supported"},
            {"f unix - - n - 2 lmtp -o\n", "-o needs"},
            {"f unix - - n - 2 smtp\nf unix - - n - 1 lmtp\n",
             "line 2: service f duplicates line 1"},
        };
        (void)state;
        expect_errors(cases, sizeof(cases) / sizeof(cases[0]));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_debian_style),
            cmocka_unit_test(test_errors),
            cmocka_unit_test(test_default_without_file),
            cmocka_unit_test(test_transports),
            cmocka_unit_test(test_transport_errors),
        };
        log_init("test");
        return cmocka_run_group_tests(tests, NULL, NULL);
}

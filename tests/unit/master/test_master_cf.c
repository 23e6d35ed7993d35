/* SPDX-License-Identifier: MIT */
/* test_master_cf.c - master.cf services, overrides and errors */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "log/log.h"
#include "master/master.h"

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

static void test_errors(void **state)
{
        static const struct {
                const char *text, *expect;
        } cases[] = {
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
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
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

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_debian_style),
            cmocka_unit_test(test_errors),
            cmocka_unit_test(test_default_without_file),
        };
        log_init("test");
        return cmocka_run_group_tests(tests, NULL, NULL);
}

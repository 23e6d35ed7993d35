/* SPDX-License-Identifier: MIT */
/*
 * test_cert.c - the certificate toolbox API that `postern check` uses:
 * loading, names, host matching, chain order, key matching, encrypted
 * keys, and bad input.  Material comes from tls_ca_create/tls_ca_issue in
 * a temporary directory, so the test needs nothing outside itself.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../scratch.h"
#include "tls/tls.h"

static char dir[64];

/* slurp - a file's contents */
static char *slurp(const char *path, size_t *len)
{
        unsigned char *buf;
        const char *err;

        assert_int_equal(tls_file_read(path, &buf, len, &err), 0);
        return (char *)buf;
}

/* setup - a CA, a server and a client certificate */
static int setup(void **state)
{
        const char *err;
        const char *names[] = {"mx.example.org", "*.mail.example.org",
                               "192.0.2.25"};
        const char *client[] = {"alice"};
        struct tls_ca_issued out;

        (void)state;
        snprintf(dir, sizeof(dir), "/tmp/postern-unit-XXXXXX");
        if (mkdtemp(dir) == NULL)
                return -1;
        if (tls_ca_create(&(struct tls_ca_init){.dir = dir,
                                                .name = "Unit CA",
                                                .days = 30},
                          &err) < 0)
                return -1;
        if (tls_ca_issue(&(struct tls_ca_issue){.dir = dir,
                                                .role = TLS_CA_SERVER,
                                                .names = names,
                                                .n_names = 3,
                                                .days = 10},
                         &out, &err) < 0)
                return -1;
        tls_ca_issued_clear(&out);
        if (tls_ca_issue(&(struct tls_ca_issue){.dir = dir,
                                                .role = TLS_CA_CLIENT,
                                                .names = client,
                                                .n_names = 1,
                                                .days = 10},
                         &out, &err) < 0)
                return -1;
        tls_ca_issued_clear(&out);
        return 0;
}

/* teardown - remove the directory */
static int teardown(void **state)
{
        (void)state;
        return scratch_remove(dir);
}

/* path - dir/name (static buffer) */
static const char *path(const char *name)
{
        static char buf[256];

        snprintf(buf, sizeof(buf), "%s/%s", dir, name);
        return buf;
}

/* test_names_and_hosts - CN, SANs, host matching */
static void test_names_and_hosts(void **state)
{
        struct tls_certlist *l;
        struct strlist names = {0}, sans = {0};
        const char *err;
        char *s;

        (void)state;
        assert_int_equal(
            tls_certlist_load(path("mx.example.org.crt"), NULL, &l, &err), 0);
        assert_int_equal(tls_certlist_count(l), 1);
        assert_int_equal(tls_certlist_format(l), TLS_FILE_PEM);
        const struct tls_cert *c = tls_certlist_get(l, 0);
        s = tls_cert_cn(c);
        assert_string_equal(s, "mx.example.org");
        free(s);
        s = tls_cert_subject(c);
        assert_string_equal(s, "CN = mx.example.org");
        free(s);
        s = tls_cert_issuer(c);
        assert_string_equal(s, "CN = Unit CA");
        free(s);
        tls_cert_names(c, &names);
        assert_int_equal(names.n, 2);
        assert_string_equal(names.v[0], "mx.example.org");
        assert_string_equal(names.v[1], "*.mail.example.org");
        tls_cert_sans(c, &sans);
        assert_int_equal(sans.n, 3);
        assert_string_equal(sans.v[2], "IP:192.0.2.25");
        strlist_clear(&names);
        strlist_clear(&sans);
        assert_true(tls_cert_match_host(c, "mx.example.org"));
        assert_true(tls_cert_match_host(c, "MX.Example.ORG"));
        assert_true(tls_cert_match_host(c, "a.mail.example.org"));
        assert_false(tls_cert_match_host(c, "a.b.mail.example.org"));
        assert_false(tls_cert_match_host(c, "example.org"));
        assert_true(tls_cert_match_host(c, "192.0.2.25"));
        assert_false(tls_cert_match_host(c, "192.0.2.26"));
        assert_false(tls_cert_match_host(c, ""));
        assert_false(tls_cert_is_ca(c, NULL));

        long long nb, na, now = (long long)time(NULL);
        assert_int_equal(tls_cert_times(c, &nb, &na), 0);
        assert_true(nb <= now && na > now + 9 * 86400 &&
                    na <= now + 10 * 86400 + 60);
        assert_int_equal(tls_cert_validity_at(c, now), TLS_CERT_VALID);
        assert_int_equal(tls_cert_validity_at(c, na + 1), TLS_CERT_EXPIRED);
        assert_int_equal(tls_cert_validity_at(c, nb - 1),
                         TLS_CERT_NOT_YET_VALID);
        int bits;
        const char *curve;
        assert_string_equal(tls_cert_key_desc(c, &bits, &curve), "EC");
        assert_int_equal(bits, 256);
        assert_string_equal(curve, "P-256");
        tls_certlist_free(l);
}

/* test_chain_order - leaf then CA passes; reversed fails */
static void test_chain_order(void **state)
{
        size_t la, lb, bad = 99;
        char *a = slurp(path("mx.example.org.crt"), &la);
        char *b = slurp(path("ca.crt"), &lb);
        char *good = xasprintf("%s%s", a, b), *rev = xasprintf("%s%s", b, a);
        struct tls_certlist *l;
        const char *err;

        (void)state;
        assert_int_equal(
            tls_certlist_parse(good, strlen(good), "good", NULL, &l, &err), 0);
        assert_int_equal(tls_certlist_count(l), 2);
        assert_int_equal(tls_certlist_check_order(l, &bad, &err), 0);
        assert_true(
            tls_cert_issued_by(tls_certlist_get(l, 0), tls_certlist_get(l, 1)));
        assert_true(tls_cert_is_ca(tls_certlist_get(l, 1), NULL));
        assert_true(tls_cert_self_signed(tls_certlist_get(l, 1)));
        tls_certlist_free(l);
        assert_int_equal(
            tls_certlist_parse(rev, strlen(rev), "rev", NULL, &l, &err), 0);
        assert_int_equal(tls_certlist_check_order(l, &bad, &err), -1);
        assert_int_equal(bad, 0);
        assert_non_null(strstr(err, "Unit CA"));
        tls_certlist_sort_chain(l);
        assert_int_equal(tls_certlist_check_order(l, &bad, &err), 0);
        tls_certlist_free(l);
        free(a);
        free(b);
        free(good);
        free(rev);
}

/* test_keys - matching, encryption detection */
static void test_keys(void **state)
{
        struct tls_certlist *srv, *cli;
        struct tls_key *k;
        bool enc = true;
        const char *err;

        (void)state;
        assert_int_equal(
            tls_certlist_load(path("mx.example.org.crt"), NULL, &srv, &err), 0);
        assert_int_equal(tls_certlist_load(path("alice.crt"), NULL, &cli, &err),
                         0);
        assert_int_equal(
            tls_key_load(path("mx.example.org.key"), NULL, &k, &enc, &err), 0);
        assert_false(enc);
        assert_true(tls_key_matches(k, tls_certlist_get(srv, 0)));
        assert_false(tls_key_matches(k, tls_certlist_get(cli, 0)));

        /* An encrypted copy through PKCS#12: needs the passphrase. */
        unsigned char *der;
        size_t len;
        assert_int_equal(tls_p12_export(k, tls_certlist_get(srv, 0), NULL, "x",
                                        "secret", false, &der, &len, &err),
                         0);
        struct tls_certlist *p;
        assert_int_equal(tls_certlist_parse(der, len, "x.p12", NULL, &p, &err),
                         -1);
        assert_non_null(strstr(err, "x.p12"));
        struct tls_pass wrong = {.pass = "nope"}, right = {.pass = "secret"};
        assert_int_equal(
            tls_certlist_parse(der, len, "x.p12", &wrong, &p, &err), -1);
        assert_non_null(strstr(err, "wrong passphrase"));
        assert_int_equal(
            tls_certlist_parse(der, len, "x.p12", &right, &p, &err), 0);
        assert_int_equal(tls_certlist_format(p), TLS_FILE_PKCS12);
        assert_true(tls_certlist_encrypted(p));
        assert_non_null(tls_certlist_key(p));
        assert_true(
            tls_key_matches(tls_certlist_key(p), tls_certlist_get(p, 0)));
        tls_certlist_free(p);
        free(der);

        /* Fingerprints: digest names and format. */
        char *fp;
        assert_int_equal(tls_cert_fingerprint(tls_certlist_get(srv, 0), "md5",
                                              false, &fp, &err),
                         0);
        assert_int_equal(strlen(fp), 16 * 3 - 1);
        free(fp);
        assert_int_equal(tls_cert_fingerprint(tls_certlist_get(srv, 0), "nope",
                                              false, &fp, &err),
                         -1);
        tls_key_free(k);
        tls_certlist_free(srv);
        tls_certlist_free(cli);
}

/* test_bad_input - errors name the file, never crash */
static void test_bad_input(void **state)
{
        static const char *const inputs[] = {
            "",
            "garbage",
            "-----BEGIN CERTIFICATE-----\nMIIB\n",
            "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
            "\x30\x03\x02\x01\x01",
            "-----BEGIN X509 CRL-----\n-----END X509 CRL-----\n",
        };
        struct tls_certlist *l;
        const char *err;

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(inputs); i++) {
                err = NULL;
                assert_int_equal(tls_certlist_parse(inputs[i],
                                                    strlen(inputs[i]),
                                                    "bad.pem", NULL, &l, &err),
                                 -1);
                assert_non_null(err);
                assert_non_null(strstr(err, "bad.pem"));
        }
        assert_int_equal(tls_certlist_load(dir, NULL, &l, &err), -1);
        assert_non_null(strstr(err, "directory"));
        assert_int_equal(
            tls_certlist_load("/nonexistent/x.pem", NULL, &l, &err), -1);
        assert_non_null(strstr(err, "/nonexistent/x.pem"));
}

/* test_pass_resolve - pass:, env:, file: */
static void test_pass_resolve(void **state)
{
        char *s;
        const char *err;

        (void)state;
        assert_int_equal(tls_pass_resolve("pass:a b", &s, &err), 0);
        assert_string_equal(s, "a b");
        free(s);
        setenv("POSTERN_UNIT_PW", "envpw", 1);
        assert_int_equal(tls_pass_resolve("env:POSTERN_UNIT_PW", &s, &err), 0);
        assert_string_equal(s, "envpw");
        free(s);
        assert_int_equal(
            tls_file_write(path("pw"), "filepw\nrest\n", 12, 0600, false, &err),
            0);
        char *spec = xasprintf("file:%s", path("pw"));
        assert_int_equal(tls_pass_resolve(spec, &s, &err), 0);
        assert_string_equal(s, "filepw");
        free(s);
        free(spec);
        assert_int_equal(tls_file_write(path("pw"), "x", 1, 0600, false, &err),
                         -1);
        struct stat st;
        assert_int_equal(stat(path("pw"), &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(tls_pass_resolve("bogus", &s, &err), -1);
}

/* main - run the tests in one CA directory */
int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_names_and_hosts),
            cmocka_unit_test(test_chain_order),
            cmocka_unit_test(test_keys),
            cmocka_unit_test(test_bad_input),
            cmocka_unit_test(test_pass_resolve),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}

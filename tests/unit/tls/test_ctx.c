/* SPDX-License-Identifier: MIT */
/*
 * test_ctx.c - tls contexts from real files made by the openssl command
 * line: every accepted layout loads, every refused layout is explained
 * (file name and fixing command), protocol and cipher lists in every
 * Postfix form, and the smtp client's certificate name matching.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "tls/tls.h"

#include "test_ctx_certs.h"

/* setup - certificates for every test */
static int setup(void **state)
{
        (void)state;
        return certs_make();
}

/* teardown - remove them */
static int teardown(void **state)
{
        (void)state;
        certs_remove();
        return 0;
}

/* server - a server context from cert/key (NULL ok) */
static struct tls_ctx *server(const char *cert, const char *key,
                              const char **err)
{
        return tls_server_ctx_new(
            &(struct tls_server_settings){.cert_file = cert,
                                          .key_file = key,
                                          .session_cache_timeout = -1},
            err);
}

/* expect_refused - the context is refused with a message holding all of
 * the given strings */
static void expect_refused(struct tls_ctx *ctx, const char *err, ...)
{
        va_list ap;
        const char *s;

        assert_null(ctx);
        assert_non_null(err);
        va_start(ap, err);
        while ((s = va_arg(ap, const char *)) != NULL) {
                if (strstr(err, s) == NULL)
                        fail_msg("message \"%s\" lacks \"%s\"", err, s);
        }
        va_end(ap);
}

static void test_separate_key(void **state)
{
        const char *err = NULL;
        (void)state;
        struct tls_ctx *c = server(P("srv.pem"), P("srv.key"), &err);
        assert_non_null(c);
        tls_ctx_free(c);
}

static void test_key_and_chain_in_one_file(void **state)
{
        const char *err = NULL;
        (void)state;
        /* cert, intermediate, key in one file; key_file unset or the same */
        struct tls_ctx *c = server(P("combo.pem"), NULL, &err);
        assert_non_null(c);
        tls_ctx_free(c);
        c = server(P("combo.pem"), P("combo.pem"), &err);
        assert_non_null(c);
        tls_ctx_free(c);
}

static void test_rsa_and_ecdsa(void **state)
{
        const char *err = NULL;
        (void)state;
        struct tls_ctx *c = tls_server_ctx_new(
            &(struct tls_server_settings){.cert_file = P("srv.pem"),
                                          .key_file = P("srv.key"),
                                          .eccert_file = P("combo.pem")},
            &err);
        assert_non_null(c);
        tls_ctx_free(c);
        c = tls_server_ctx_new(
            &(struct tls_server_settings){.chain_files = P("chain.pem")}, &err);
        if (c == NULL)
                fail_msg("%s", err);
        tls_ctx_free(c);
}

static void test_missing_file(void **state)
{
        const char *err = NULL;
        (void)state;
        struct tls_ctx *c = server(P("nonexistent.pem"), P("srv.key"), &err);
        expect_refused(c, err, P("nonexistent.pem"), "No such file", NULL);
        c = server(P("srv.pem"), P("nokey.pem"), &err);
        expect_refused(c, err, P("nokey.pem"), NULL);
        c = server(NULL, NULL, &err);
        expect_refused(c, err, "smtpd_tls_cert_file", NULL);
}

static void test_passphrase_key(void **state)
{
        const char *err = NULL;
        (void)state;
        struct tls_ctx *c = server(P("srv.pem"), P("enc.key"), &err);
        expect_refused(c, err, P("enc.key"), "passphrase", "openssl pkey -in ",
                       NULL);
}

static void test_der_certificate(void **state)
{
        const char *err = NULL;
        char fix[600];
        (void)state;
        struct tls_ctx *c = server(P("srv.der"), P("srv.key"), &err);
        snprintf(fix, sizeof(fix),
                 "openssl x509 -inform der -in %s -out %s.pem", P("srv.der"),
                 P("srv.der"));
        expect_refused(c, err, "DER", fix, "postern certs convert", NULL);
        c = server(P("srv.pem"), P("srvkey.der"), &err);
        snprintf(fix, sizeof(fix), "openssl pkey -inform der -in %s",
                 P("srvkey.der"));
        expect_refused(c, err, "DER", fix, NULL);
}

static void test_pkcs12(void **state)
{
        const char *err = NULL;
        char fix[600];
        (void)state;
        struct tls_ctx *c = server(P("srv.p12"), NULL, &err);
        snprintf(fix, sizeof(fix), "openssl pkcs12 -in %s -nodes -out %s.pem",
                 P("srv.p12"), P("srv.p12"));
        expect_refused(c, err, "PKCS#12", fix, NULL);
}

static void test_pkcs7(void **state)
{
        const char *err = NULL;
        char fix[600];
        (void)state;
        struct tls_ctx *c = server(P("srv.p7b"), P("srv.key"), &err);
        snprintf(fix, sizeof(fix), "openssl pkcs7 -print_certs -in %s -out",
                 P("srv.p7b"));
        expect_refused(c, err, "PKCS#7", fix, NULL);
        c = server(P("srvder.p7b"), P("srv.key"), &err);
        snprintf(fix, sizeof(fix),
                 "openssl pkcs7 -inform der -print_certs -in %s",
                 P("srvder.p7b"));
        expect_refused(c, err, "PKCS#7", fix, NULL);
}

static void test_key_mismatch(void **state)
{
        const char *err = NULL;
        (void)state;
        struct tls_ctx *c = server(P("srv.pem"), P("ec.key"), &err);
        expect_refused(c, err, P("ec.key"), P("srv.pem"), "does not match",
                       NULL);
}

static void test_key_readable_by_others(void **state)
{
        const char *err = NULL;
        char fix[400];
        (void)state;
        struct tls_ctx *c = server(P("srv.pem"), P("open.key"), &err);
        snprintf(fix, sizeof(fix), "chmod 600 %s", P("open.key"));
        expect_refused(c, err, fix, "0644", NULL);
}

static void test_bad_settings(void **state)
{
        const char *err = NULL;
        (void)state;
        struct tls_ctx *c = tls_server_ctx_new(
            &(struct tls_server_settings){.cert_file = P("srv.pem"),
                                          .key_file = P("srv.key"),
                                          .protocols = ">=TLSv9"},
            &err);
        expect_refused(c, err, "TLSv9", NULL);
        c = tls_server_ctx_new(
            &(struct tls_server_settings){.cert_file = P("srv.pem"),
                                          .key_file = P("srv.key"),
                                          .ciphers = "superb"},
            &err);
        expect_refused(c, err, "superb", NULL);
        c = tls_server_ctx_new(
            &(struct tls_server_settings){.cert_file = P("srv.pem"),
                                          .key_file = P("srv.key"),
                                          .CAfile = P("none.pem")},
            &err);
        expect_refused(c, err, P("none.pem"), NULL);
        c = tls_server_ctx_new(
            &(struct tls_server_settings){.cert_file = P("srv.pem"),
                                          .key_file = P("srv.key"),
                                          .fingerprint_digest = "sha999"},
            &err);
        expect_refused(c, err, "sha999", NULL);
}

static void test_ticket_keys_file(void **state)
{
        const char *err = NULL;
        (void)state;
        struct tls_ticket_keys *k = tls_ticket_keys_new();
        tls_ticket_keys_rotate(k);
        assert_int_equal(tls_ticket_keys_save(k, P("tickets.key"), &err), 0);
        struct tls_ticket_keys *k2 =
            tls_ticket_keys_load(P("tickets.key"), &err);
        assert_non_null(k2);
        tls_ticket_keys_free(k2);
        assert_int_equal(chmod(P("tickets.key"), 0644), 0);
        k2 = tls_ticket_keys_load(P("tickets.key"), &err);
        assert_null(k2);
        assert_non_null(strstr(err, "chmod 600"));
        k2 = tls_ticket_keys_load(P("srv.pem"), &err);
        assert_null(k2);
        tls_ticket_keys_free(k);
}

struct proto_case {
        const char *list;
        int rc, min, max;
};

static void test_protocols(void **state)
{
        static const struct proto_case cases[] = {
            {"", 0, 0, 0},
            {">=TLSv1", 0, 0x0301, 0},
            {">=TLSv1.2", 0, 0x0303, 0},
            {">=TLSv1.3", 0, 0x0304, 0},
            {"<=TLSv1.2", 0, 0, 0x0303},
            {">=TLSv1.2 <=TLSv1.2", 0, 0x0303, 0x0303},
            {">=0x0303", 0, 0x0303, 0},
            {"!SSLv2", 0, 0, 0},
            {"!SSLv2, !SSLv3", 0, 0x0301, 0},
            {"!SSLv2, !SSLv3, !TLSv1", 0, 0x0302, 0},
            {"!SSLv2:!SSLv3:!TLSv1:!TLSv1.1", 0, 0x0303, 0},
            {"!SSLv2, !SSLv3, !TLSv1, !TLSv1.1, !TLSv1.3", 0, 0x0303, 0x0303},
            {"TLSv1.2 TLSv1.3", 0, 0x0303, 0},
            {"TLSv1.2", 0, 0x0303, 0x0303},
            {"TLSv1, TLSv1.1, TLSv1.2", 0, 0x0301, 0x0303},
            {"TLSv1 TLSv1.2", 0, 0x0303, 0x0303}, /* hole: upper run */
            {"!TLSv1.2", 0, 0x0304, 0},
            {"tlsv1.3", 0, 0x0304, 0},
            {"TLSv1.4", -1, 0, 0},
            {">=", -1, 0, 0},
            {">=TLSv9", -1, 0, 0},
            {"!", -1, 0, 0},
            {"TLSv1.3 !TLSv1.3", -1, 0, 0},
            {">=TLSv1.3 <=TLSv1.2", -1, 0, 0},
        };
        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                struct tls_protocols p = {-1, -1};
                const char *err = NULL;
                int rc = tls_protocols_parse(cases[i].list, &p, &err);
                if (rc != cases[i].rc)
                        fail_msg("\"%s\": rc %d, want %d", cases[i].list, rc,
                                 cases[i].rc);
                if (rc < 0) {
                        assert_non_null(err);
                        continue;
                }
                if (p.min_version != cases[i].min ||
                    p.max_version != cases[i].max)
                        fail_msg("\"%s\": %#x-%#x, want %#x-%#x", cases[i].list,
                                 p.min_version, p.max_version, cases[i].min,
                                 cases[i].max);
        }
        assert_string_equal(tls_version_name(0x0304), "TLSv1.3");
        assert_string_equal(tls_version_name(0x0301), "TLSv1");
}

static void test_ciphers(void **state)
{
        static const struct {
                const char *grade, *exclude, *want;
        } cases[] = {
            {"high", "", "aNULL:-aNULL:HIGH:@STRENGTH"},
            {"HIGH", NULL, "aNULL:-aNULL:HIGH:@STRENGTH"},
            {"medium", "", "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH"},
            {"", "", "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH"},
            {"low", "", "aNULL:-aNULL:HIGH:MEDIUM:LOW:+RC4:@STRENGTH"},
            {"export", "",
             "aNULL:-aNULL:HIGH:MEDIUM:LOW:EXPORT:+RC4:@STRENGTH"},
            {"null", "", "eNULL:!aNULL"},
            {"high", "aNULL, RC4 MD5:3DES",
             "aNULL:-aNULL:HIGH:@STRENGTH:!aNULL:!RC4:!MD5:!3DES"},
        };
        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                struct strbuf sb;
                const char *err = NULL;
                strbuf_init(&sb);
                assert_int_equal(
                    tls_cipherlist(cases[i].grade, cases[i].exclude, &sb, &err),
                    0);
                assert_string_equal(strbuf_cstr(&sb), cases[i].want);
                strbuf_clear(&sb);
        }
        struct strbuf sb;
        const char *err = NULL;
        strbuf_init(&sb);
        assert_int_equal(tls_cipherlist("strong", "", &sb, &err), -1);
        assert_non_null(strstr(err, "strong"));
        assert_int_equal(tls_cipherlist("high", "!RC4", &sb, &err), -1);
        assert_non_null(strstr(err, "!RC4"));
        assert_int_equal(tls_cipherlist("high", "+RC4", &sb, &err), -1);
        assert_int_equal(tls_cipherlist("high", "@STRENGTH", &sb, &err), -1);
        strbuf_clear(&sb);
}

static void test_cipher_grade_lists(void **state)
{
        const struct tls_cipher_grades lists = {
            .high = "ECDHE-RSA-AES128-GCM-SHA256",
            .medium = "HIGH:!aNULL",
            .low = "",
            .export = NULL,
            .null = "eNULL"};
        static const struct {
                const char *grade, *exclude, *want, *param;
        } cases[] = {
            {"high", "", "ECDHE-RSA-AES128-GCM-SHA256", "tls_high_cipherlist"},
            {"High", "RC4", "ECDHE-RSA-AES128-GCM-SHA256:!RC4",
             "tls_high_cipherlist"},
            {"", "", "HIGH:!aNULL", "tls_medium_cipherlist"},
            {"medium", NULL, "HIGH:!aNULL", "tls_medium_cipherlist"},
            /* empty or NULL: Postfix's default for that grade */
            {"low", "", "aNULL:-aNULL:HIGH:MEDIUM:LOW:+RC4:@STRENGTH",
             "tls_low_cipherlist"},
            {"export", "", "aNULL:-aNULL:HIGH:MEDIUM:LOW:EXPORT:+RC4:@STRENGTH",
             "tls_export_cipherlist"},
            {"null", "", "eNULL", "tls_null_cipherlist"},
        };
        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                struct strbuf sb;
                const char *err = NULL, *list = NULL, *param = NULL;
                strbuf_init(&sb);
                assert_int_equal(tls_cipherlist_grades(&lists, cases[i].grade,
                                                       cases[i].exclude, &sb,
                                                       &err),
                                 0);
                assert_string_equal(strbuf_cstr(&sb), cases[i].want);
                strbuf_clear(&sb);
                assert_int_equal(tls_cipher_grade(&lists, cases[i].grade, &list,
                                                  &param, &err),
                                 0);
                assert_string_equal(param, cases[i].param);
        }
        const char *err = NULL, *list = NULL, *param = NULL;
        assert_int_equal(tls_cipher_grade(&lists, "ultra", &list, &param, &err),
                         -1);
        assert_non_null(strstr(err, "ultra"));
        assert_int_equal(tls_cipher_grade(NULL, "high", &list, &param, &err),
                         0);
        assert_string_equal(list, "aNULL:-aNULL:HIGH:@STRENGTH");
}

static void test_unusable_cipher_lists(void **state)
{
        const char *err = NULL;
        (void)state;
        /* the grade in use has no cipher: the parameter is named */
        struct tls_ctx *c = tls_server_ctx_new(
            &(struct tls_server_settings){
                .cert_file = P("srv.pem"),
                .key_file = P("srv.key"),
                .ciphers = "high",
                .cipherlists = {.high = "NO-SUCH-CIPHER"}},
            &err);
        expect_refused(c, err, "tls_high_cipherlist = \"NO-SUCH-CIPHER\"",
                       "no usable cipher", NULL);
        c = tls_server_ctx_new(
            &(struct tls_server_settings){.cert_file = P("srv.pem"),
                                          .key_file = P("srv.key"),
                                          .mandatory = true,
                                          .mandatory_ciphers = "low",
                                          .cipherlists = {.low = "!ALL"}},
            &err);
        expect_refused(c, err, "tls_low_cipherlist", NULL);
        c = tls_client_ctx_new(
            &(struct tls_client_settings){.cipherlists = {.medium = "BOGUS"}},
            &err);
        expect_refused(c, err, "tls_medium_cipherlist = \"BOGUS\"", NULL);
        /* exclusions that leave nothing: the old message */
        c = tls_client_ctx_new(
            &(struct tls_client_settings){
                .ciphers = "high",
                .exclude_ciphers = "ALL",
                .cipherlists = {.high = "ECDHE-RSA-AES128-GCM-SHA256"}},
            &err);
        expect_refused(c, err, "with exclusions \"ALL\"", NULL);
        /* the same check without a context, for postern check */
        const struct tls_cipher_grades lists = {.high = "NO-SUCH-CIPHER",
                                                .medium = "AESGCM"};
        assert_int_equal(tls_ciphers_check(&lists, "high", "", &err), -1);
        assert_non_null(strstr(err, "tls_high_cipherlist = \"NO-SUCH-CIPHER\" "
                                    "(cipher grade high) leaves no usable "
                                    "cipher"));
        assert_int_equal(tls_ciphers_check(&lists, "medium", "", &err), 0);
        assert_int_equal(tls_ciphers_check(&lists, "", "AESGCM", &err), -1);
        assert_non_null(strstr(err, "exclusions \"AESGCM\""));
        assert_int_equal(tls_ciphers_check(NULL, "high", NULL, &err), 0);
        assert_int_equal(tls_ciphers_check(NULL, "bogus", NULL, &err), -1);
        assert_non_null(strstr(err, "bogus"));
        /* a broken list of a grade not in use does not matter */
        c = tls_server_ctx_new(
            &(struct tls_server_settings){.cert_file = P("srv.pem"),
                                          .key_file = P("srv.key"),
                                          .cipherlists = {.low = "BOGUS"}},
            &err);
        assert_non_null(c);
        tls_ctx_free(c);
}

static void test_ssl_options(void **state)
{
        static const struct {
                const char *list;
                unsigned named;
                uint64_t mask;
                const char *unknown; /* joined by '|' */
        } cases[] = {
            {"", 0, 0, ""},
            {NULL, 0, 0, ""},
            {"NO_TICKET", TLS_OPT_NO_TICKET, 0, ""},
            {"no_ticket, No_Compression",
             TLS_OPT_NO_TICKET | TLS_OPT_NO_COMPRESSION, 0, ""},
            {"ENABLE_MIDDLEBOX_COMPAT LEGACY_SERVER_CONNECT\tNO_RENEGOTIATION,"
             "NO_SESSION_RESUMPTION_ON_RENEGOTIATION PRIORITIZE_CHACHA",
             TLS_OPT_ENABLE_MIDDLEBOX_COMPAT | TLS_OPT_LEGACY_SERVER_CONNECT |
                 TLS_OPT_NO_RENEGOTIATION |
                 TLS_OPT_NO_SESSION_RESUMPTION_ON_RENEGOTIATION |
                 TLS_OPT_PRIORITIZE_CHACHA,
             0, ""},
            {"0x4000", 0, 0x4000, ""},
            {"0X4000 0x1,no_ticket", TLS_OPT_NO_TICKET, 0x4001, ""},
            {"0xffffffffffffffff", 0, UINT64_MAX, ""},
            {"bogus, NO_TICKET, 0x, 0xg1, 0x10000000000000000",
             TLS_OPT_NO_TICKET, 0, "bogus|0x|0xg1|0x10000000000000000"},
            {"NO-TICKET no_tickets", 0, 0, "NO-TICKET|no_tickets"},
        };
        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                struct tls_ssl_options o = {.named = 99, .mask = 99};
                struct strlist unknown = {0};
                struct strbuf sb;
                tls_ssl_options_parse(cases[i].list, &o, &unknown);
                assert_int_equal(o.named, cases[i].named);
                assert_true(o.mask == cases[i].mask);
                strbuf_init(&sb);
                for (size_t k = 0; k < unknown.n; k++)
                        strbuf_printf(&sb, "%s%s", k ? "|" : "", unknown.v[k]);
                assert_string_equal(strbuf_cstr(&sb), cases[i].unknown);
                strbuf_clear(&sb);
                strlist_clear(&unknown);
                /* unknown may be NULL */
                tls_ssl_options_parse(cases[i].list, &o, NULL);
                assert_int_equal(o.named, cases[i].named);
        }
        /* contexts take them, unknown names included */
        const char *err = NULL;
        struct tls_ctx *c = tls_server_ctx_new(
            &(struct tls_server_settings){.cert_file = P("srv.pem"),
                                          .key_file = P("srv.key"),
                                          .ssl_options = "no_ticket, nope"},
            &err);
        assert_non_null(c);
        tls_ctx_free(c);
        c = tls_client_ctx_new(
            &(struct tls_client_settings){.ssl_options = "0x4000 nope"}, &err);
        assert_non_null(c);
        tls_ctx_free(c);
}

static void test_dh_param_file(void **state)
{
        const char *err = NULL;
        (void)state;
        struct tls_ctx *c = tls_server_ctx_new(
            &(struct tls_server_settings){.cert_file = P("srv.pem"),
                                          .key_file = P("srv.key"),
                                          .dh_param_file = P("srv.pem")},
            &err);
        expect_refused(c, err, "smtpd_tls_dh1024_param_file",
                       "no DH parameters in", P("srv.pem"), NULL);
        c = tls_server_ctx_new(
            &(struct tls_server_settings){.cert_file = P("srv.pem"),
                                          .key_file = P("srv.key"),
                                          .dh_param_file = P("nodh.pem")},
            &err);
        expect_refused(c, err, "cannot open DH parameter file", P("nodh.pem"),
                       NULL);
        c = tls_server_ctx_new(
            &(struct tls_server_settings){.cert_file = P("srv.pem"),
                                          .key_file = P("srv.key"),
                                          .dh_param_file = "auto"},
            &err);
        assert_non_null(c);
        tls_ctx_free(c);
}

struct match_case {
        const char *certid, *match, *nexthop, *hostname;
        bool single;
        bool want;
};

static void test_name_matching(void **state)
{
        static const struct match_case cases[] = {
            /* hostname: the MX host name */
            {"mx.example.org", "hostname", "example.org", "mx.example.org", 0,
             1},
            {"MX.Example.ORG", "hostname", "example.org", "mx.example.org", 0,
             1},
            {"mx2.example.org", "hostname", "example.org", "mx.example.org", 0,
             0},
            /* nexthop and dot-nexthop */
            {"example.org", "nexthop", "example.org", "mx.example.org", 0, 1},
            {"mx.example.org", "nexthop", "example.org", "mx.example.org", 0,
             0},
            {"mx.example.org", "nexthop, dot-nexthop", "example.org",
             "mx.example.org", 0, 1},
            {"example.org", "dot-nexthop", "example.org", "x", 0, 0},
            {"a.b.example.org", "dot-nexthop", "example.org", "x", 0, 1},
            {"badexample.org", "dot-nexthop", "example.org", "x", 0, 0},
            {"relay.example.org", "nexthop", "[relay.example.org]:587", "x", 0,
             1},
            /* literal names and .domain suffixes */
            {"www.example.com", "www.example.com", "example.com", "x", 0, 1},
            {"www.example.com", "example.com", "example.com", "x", 0, 0},
            {"smtp.example.com", ".example.com", "example.com", "x", 0, 1},
            {"example.com", ".example.com", "example.com", "x", 0, 0},
            {"smtp.example.com", "other.net:.example.com", "x", "y", 0, 1},
            /* wildcards: whole leftmost label only */
            {"*.example.org", "hostname", "x", "mx.example.org", 0, 1},
            {"*.example.org", "hostname", "x", "example.org", 0, 0},
            {"*.example.org", "hostname", "x", "a.b.example.org", 0, 1},
            {"*.example.org", "hostname", "x", "a.b.example.org", 1, 0},
            {"*.example.org", "hostname", "x", "a.example.org", 1, 1},
            {"*.example.org", "hostname", "x", "a.example.net", 0, 0},
            {"*.org", "hostname", "x", "example.org", 0, 1},
            {"m*.example.org", "hostname", "x", "mx.example.org", 0, 0},
            {"*", "hostname", "x", "localhost", 0, 0},
            {"*.", "hostname", "x", "a.", 0, 0},
            {"mx.example.org.", "hostname", "x", "mx.example.org", 0, 0},
            {"", "hostname", "x", "", 0, 0},
            {"mx.example.org", "", "x", "mx.example.org", 0, 0},
        };
        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                const struct match_case *c = &cases[i];
                bool got = tls_match_certid(
                    c->certid,
                    &(struct tls_match){.match = c->match,
                                        .nexthop = c->nexthop,
                                        .hostname = c->hostname,
                                        .single_label_wildcards = c->single});
                if (got != c->want)
                        fail_msg("certid \"%s\" match \"%s\" nexthop \"%s\" "
                                 "hostname \"%s\" single %d: got %d",
                                 c->certid, c->match, c->nexthop, c->hostname,
                                 c->single, got);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_separate_key),
            cmocka_unit_test(test_key_and_chain_in_one_file),
            cmocka_unit_test(test_rsa_and_ecdsa),
            cmocka_unit_test(test_missing_file),
            cmocka_unit_test(test_passphrase_key),
            cmocka_unit_test(test_der_certificate),
            cmocka_unit_test(test_pkcs12),
            cmocka_unit_test(test_pkcs7),
            cmocka_unit_test(test_key_mismatch),
            cmocka_unit_test(test_key_readable_by_others),
            cmocka_unit_test(test_bad_settings),
            cmocka_unit_test(test_ticket_keys_file),
            cmocka_unit_test(test_protocols),
            cmocka_unit_test(test_ciphers),
            cmocka_unit_test(test_cipher_grade_lists),
            cmocka_unit_test(test_unusable_cipher_lists),
            cmocka_unit_test(test_ssl_options),
            cmocka_unit_test(test_dh_param_file),
            cmocka_unit_test(test_name_matching),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}

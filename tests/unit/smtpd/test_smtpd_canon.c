/* SPDX-License-Identifier: MIT */
/*
 * test_smtpd_canon.c - canonical address mapping and masquerading
 * without a server: the lookup order and what each kind of result does,
 * extensions, recursion and loops, the maps of senders and recipients and
 * their classes, masquerade_domains with "!" and exceptions, envelopes
 * (ORCPT, duplicates), headers (only the addresses change), which clients
 * count as local, the order of the mappings with BCC and virtual
 * aliases, header rewriting in the checks' stream, and the settings that
 * refuse the start.  The server around them is tested with real clients
 * (test_canonical.py).
 */
#include <setjmp.h>
#include <ctype.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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

/* setup - a scratch directory with a table whose lookups fail */
static int setup(void **state)
{
        (void)state;
        snprintf(dir, sizeof(dir), "/tmp/postern-canon-XXXXXX");
        assert_non_null(mkdtemp(dir));
        settings_file(dir, "runaway",
                      "/^(a+)+@runaway\\.example$/ never@x.example\n"
                      "/^(.*)@pattern\\.example$/ $1@rewritten.example\n");
        return 0;
}

/* teardown - remove the scratch directory */
static int teardown(void **state)
{
        (void)state;
        return scratch_remove(dir);
}

/* load - a configuration from "name=value" settings (NULL-terminated),
 * DIR standing for the scratch directory, this host's names first */
static struct conf *load(const char *const *settings)
{
        static const char *const host[] = {
            "myorigin=example.com", "mydestination=example.com, localhost",
            "inet_interfaces=127.0.0.1", NULL};

        return settings_load(dir, host, settings);
}

/* canon - the canon of settings, which must load and not be empty */
static struct smtpd_canon *canon(const char *const *settings, struct conf **c)
{
        struct smtpd_canon *k = NULL;
        char *err = NULL;

        *c = load(settings);
        if (smtpd_canon_new(*c, &k, &err) < 0)
                fail_msg("smtpd_canon_new: %s", err);
        assert_non_null(k);
        return k;
}

/* expect - addr of class cls becomes want (NULL: stays) */
static void expect(struct smtpd_canon *k, unsigned cls, const char *addr,
                   const char *want)
{
        char *out = NULL, *err = NULL;
        int rc = smtpd_canon_addr(k, cls, addr, &out, &err);

        if (rc < 0)
                fail_msg("%s: %s", addr, err);
        if (want == NULL) {
                if (rc != 0)
                        fail_msg("%s: became %s", addr, out);
                return;
        }
        if (rc != 1 || strcmp(out, want) != 0)
                fail_msg("%s: %s, not %s", addr, rc ? out : "unchanged", want);
        free(out);
}

#define ENV_S SMTPD_CANON_ENV_SENDER
#define ENV_R SMTPD_CANON_ENV_RCPT
#define HDR_S SMTPD_CANON_HDR_SENDER
#define HDR_R SMTPD_CANON_HDR_RCPT

static const char *const maps[] = {
    "recipient_delimiter=+",
    "canonical_maps=inline:{ john=john.smith@example.com, "
    "@olddomain.example=@newdomain.example, alice@x.example=@y.example, "
    "carol@x.example=carol.c, a@r.example=b@r.example, "
    "b@r.example=c@r.example, l1@r.example=l2@r.example, "
    "l2@r.example=l1@r.example, s@x.example=s@x.example, "
    "{ m@x.example = <first@y.example>, second@y.example }, "
    "exact+tag@x.example=tagged@y.example }",
    NULL,
};

/* the lookup order, what each kind of result does, extensions */
static void test_lookups(void **state)
{
        struct conf *c;
        struct smtpd_canon *k = canon(maps, &c);

        (void)state;
        /* "user" for this host's domains only; an unmatched extension
         * goes on */
        expect(k, ENV_S, "john@example.com", "john.smith@example.com");
        expect(k, ENV_S, "John@Example.COM", "john.smith@example.com");
        expect(k, ENV_R, "john+tag@localhost", "john.smith+tag@example.com");
        expect(k, ENV_S, "john@other.example", NULL);
        /* @domain: the same user (and extension) in the other domain */
        expect(k, ENV_S, "bob@olddomain.example", "bob@newdomain.example");
        expect(k, ENV_S, "bob+x@olddomain.example", "bob+x@newdomain.example");
        expect(k, ENV_S, "alice+t@x.example", "alice+t@y.example");
        /* a result without a domain gets myorigin */
        expect(k, ENV_S, "carol@x.example", "carol.c@example.com");
        /* recursive; an address that maps to itself stays */
        expect(k, ENV_S, "a@r.example", "c@r.example");
        expect(k, ENV_S, "s@x.example", NULL);
        /* the whole address matched: no extension to carry */
        expect(k, ENV_S, "exact+tag@x.example", "tagged@y.example");
        /* several results: the first, without its brackets */
        char *log = xasprintf("%s/log", dir);
        capture_begin(log);
        expect(k, ENV_S, "m@x.example", "first@y.example");
        char *text = capture_end(log);
        assert_non_null(strstr(text, "multi-valued canonical_maps entry for "
                                     "m@x.example"));
        free(text);
        free(log);
        /* a loop is an error, never a half-rewritten address */
        char *out = NULL, *err = NULL;
        assert_int_equal(smtpd_canon_addr(k, ENV_R, "l1@r.example", &out, &err),
                         -1);
        assert_null(out);
        assert_string_equal(err, "unreasonable canonical_maps map nesting for "
                                 "l1@r.example");
        free(err);
        smtpd_canon_free(k);
        conf_free(c);
}

/* propagate_unmatched_extensions without canonical */
static void test_no_propagation(void **state)
{
        const char *const s[] = {
            maps[0], maps[1], "propagate_unmatched_extensions=virtual", NULL};
        struct conf *c;
        struct smtpd_canon *k = canon(s, &c);

        (void)state;
        expect(k, ENV_R, "john+tag@example.com", "john.smith@example.com");
        expect(k, ENV_R, "alice+t@x.example", "alice@y.example");
        smtpd_canon_free(k);
        conf_free(c);
}

/* the sender and recipient maps, before canonical_maps, and the classes */
static void test_maps_and_classes(void **state)
{
        const char *const s[] = {
            "sender_canonical_maps=inline:{ u@a.example=u@b.example }",
            "recipient_canonical_maps=inline:{ r@a.example=r@b.example }",
            "canonical_maps=inline:{ u@b.example=v@c.example, "
            "r@b.example=w@c.example, h@a.example=h@z.example }",
            "canonical_classes=envelope_sender, envelope_recipient, "
            "header_recipient",
            /* a sender map never applies to recipients, whatever its
             * classes say */
            "sender_canonical_classes=envelope_sender, envelope_recipient",
            NULL};
        struct conf *c;
        struct smtpd_canon *k = canon(s, &c);

        (void)state;
        expect(k, ENV_S, "u@a.example", "v@c.example");
        expect(k, ENV_R, "u@a.example", NULL);
        expect(k, ENV_R, "r@a.example", "w@c.example");
        expect(k, ENV_S, "r@a.example", NULL);
        /* canonical_classes leaves header senders alone */
        expect(k, HDR_S, "h@a.example", NULL);
        expect(k, HDR_R, "h@a.example", "h@z.example");
        /* sender_canonical_classes: no header_sender */
        expect(k, HDR_S, "u@a.example", NULL);
        assert_int_equal(smtpd_canon_classes(k), ENV_S | ENV_R | HDR_R);
        smtpd_canon_free(k);
        conf_free(c);
}

/* pattern tables see the whole address; a failing lookup is an error */
static void test_patterns_and_errors(void **state)
{
        const char *const s[] = {"canonical_maps=pcre:DIR/runaway", NULL};
        struct conf *c;
        struct smtpd_canon *k = canon(s, &c);
        char *out = NULL, *err = NULL;

        (void)state;
        expect(k, ENV_S, "Who@pattern.example", "who@rewritten.example");
        assert_int_equal(smtpd_canon_addr(k, ENV_S,
                                          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                          "aaaaaaab@runaway.example",
                                          &out, &err),
                         -1);
        assert_non_null(strstr(err, "canonical_maps map lookup problem for "
                                    "aaaa"));
        assert_non_null(strstr(err, "match limit exceeded"));
        free(err);
        smtpd_canon_free(k);
        conf_free(c);
}

/* masquerade_domains: the first match wins, "!" leaves a domain alone,
 * exceptions; only the classes of masquerade_classes */
static void test_masquerade(void **state)
{
        const char *const s[] = {
            "masquerade_domains=!sub.example.com, foo.example.com, "
            "example.com",
            "masquerade_exceptions=root, inline:{ postmaster=yes }", NULL};
        struct conf *c;
        struct smtpd_canon *k = canon(s, &c);

        (void)state;
        expect(k, ENV_S, "user@host.example.com", "user@example.com");
        expect(k, ENV_S, "user@Any.Thing.Foo.Example.Com",
               "user@foo.example.com");
        expect(k, HDR_R, "user@a.sub.example.com", NULL);
        expect(k, HDR_S, "user@sub.example.com", NULL);
        expect(k, HDR_S, "user@example.com", NULL);
        expect(k, HDR_S, "user@notexample.com", NULL);
        expect(k, ENV_S, "root@host.example.com", NULL);
        expect(k, ENV_S, "PostMaster@host.example.com", NULL);
        /* not in the default masquerade_classes */
        expect(k, ENV_R, "user@host.example.com", NULL);
        smtpd_canon_free(k);
        conf_free(c);
}

/* an envelope: sender, recipients, ORCPT, duplicates, the null sender */
static void test_envelope(void **state)
{
        struct conf *c;
        struct smtpd_canon *k = canon(maps, &c);
        struct queue_env env;
        char *err = NULL;

        (void)state;
        queue_env_init(&env);
        env.sender = xstrdup("john@example.com");
        queue_env_add_rcpt(&env, "bob@olddomain.example", NULL, 0);
        queue_env_add_rcpt(&env, "a@r.example", "rfc822;given@x.example",
                           QUEUE_NOTIFY_SUCCESS);
        queue_env_add_rcpt(&env, "c@r.example", NULL, 0);
        queue_env_add_rcpt(&env, "keep@other.example", NULL, 0);
        assert_int_equal(smtpd_canon_envelope(k, &env, true, 0, &err), 0);
        assert_string_equal(env.sender, "john.smith@example.com");
        assert_int_equal(env.nrcpt, 3);
        assert_string_equal(env.rcpt[0].addr, "bob@newdomain.example");
        assert_string_equal(env.rcpt[0].orcpt, "rfc822;bob@olddomain.example");
        /* a@r.example became c@r.example, which is there already */
        assert_string_equal(env.rcpt[1].addr, "c@r.example");
        assert_null(env.rcpt[1].orcpt);
        assert_string_equal(env.rcpt[2].addr, "keep@other.example");
        assert_null(env.rcpt[2].orcpt);
        /* a recipient's client ORCPT stays */
        queue_env_add_rcpt(&env, "carol@x.example", "rfc822;given@x.example",
                           0);
        free(env.sender);
        env.sender = xstrdup("");
        assert_int_equal(smtpd_canon_envelope(k, &env, true, 3, &err), 0);
        assert_string_equal(env.sender, "");
        assert_string_equal(env.rcpt[3].addr, "carol.c@example.com");
        assert_string_equal(env.rcpt[3].orcpt, "rfc822;given@x.example");
        queue_env_clear(&env);
        smtpd_canon_free(k);
        conf_free(c);
}

/* header - text through smtpd_canon_header with domain: the result, or
 * NULL when it stays (heap) */
static char *header(struct smtpd_canon *k, const char *domain, const char *text)
{
        struct strbuf out;
        char *err = NULL;

        strbuf_init(&out);
        strbuf_adds(&out, "kept|");
        int rc = smtpd_canon_header(k, domain, text, strlen(text), &out, &err);
        if (rc < 0)
                fail_msg("%s: %s", text, err);
        if (rc == 0) {
                assert_string_equal(strbuf_cstr(&out), "kept|");
                strbuf_clear(&out);
                return NULL;
        }
        char *r = xstrdup(strbuf_cstr(&out) + 5);
        strbuf_clear(&out);
        return r;
}

/* expect_header - text becomes want (NULL: stays) */
static void expect_header(struct smtpd_canon *k, const char *domain,
                          const char *text, const char *want)
{
        char *got = header(k, domain, text);

        if (want == NULL && got)
                fail_msg("%s: became %s", text, got);
        if (want && (got == NULL || strcmp(got, want) != 0))
                fail_msg("%s: %s, not %s", text, got ? got : "unchanged", want);
        free(got);
}

/* headers: only the addr-specs change; which headers; incomplete
 * addresses; an error */
static void test_headers(void **state)
{
        struct conf *c;
        struct smtpd_canon *k = canon(maps, &c);

        (void)state;
        expect_header(k, "example.com",
                      "From: John Smith <john@example.com> (the boss)\r\n",
                      "From: John Smith <john.smith@example.com> "
                      "(the boss)\r\n");
        expect_header(k, "example.com",
                      "to :\t\"Doe, Bob\" <bob@olddomain.example>,\r\n"
                      "\tjohn@example.com (John),\r\n"
                      "\tteam: s@x.example, carol@x.example;\r\n",
                      "to :\t\"Doe, Bob\" <bob@newdomain.example>,\r\n"
                      "\tjohn.smith@example.com (John),\r\n"
                      "\tteam: s@x.example, carol.c@example.com;\r\n");
        /* an incomplete address gets the domain, then is looked up */
        expect_header(k, "example.com", "Cc: root, john\r\n",
                      "Cc: root@example.com, john.smith@example.com\r\n");
        expect_header(k, "remote.example", "Reply-To: root\r\n",
                      "Reply-To: root@remote.example\r\n");
        /* the other sender and recipient headers */
        expect_header(k, "", "Resent-From: <john@example.com>\r\n",
                      "Resent-From: <john.smith@example.com>\r\n");
        expect_header(k, "", "Return-Path: <john@example.com>\r\n",
                      "Return-Path: <john.smith@example.com>\r\n");
        expect_header(k, "", "Apparently-To: john@example.com\r\n",
                      "Apparently-To: john.smith@example.com\r\n");
        /* nothing to change, no address header, not understood */
        expect_header(k, "example.com", "To: x@y.example, <>\r\n", NULL);
        expect_header(k, "example.com", "Subject: john@example.com\r\n", NULL);
        expect_header(k, "example.com", "X-To: john@example.com\r\n", NULL);
        expect_header(k, "example.com", "To: \"john@example.com\r\n", NULL);
        expect_header(k, "example.com", "not a header\r\n", NULL);
        /* a loop in a header is an error */
        struct strbuf out;
        char *err = NULL;
        const char *loop = "To: ok@x.example, l1@r.example\r\n";
        strbuf_init(&out);
        assert_int_equal(
            smtpd_canon_header(k, "", loop, strlen(loop), &out, &err), -1);
        assert_int_equal(out.len, 0);
        assert_non_null(strstr(err, "map nesting for l1@r.example"));
        free(err);
        smtpd_canon_free(k);
        conf_free(c);
}

/* which clients count as local, and the domain their headers get */
static void test_local_clients(void **state)
{
        static const char *const variants[][2] = {
            {"permit_inet_interfaces", "127.0.0.1"},
            {"permit_mynetworks", "mynetworks"},
            {"permit_sasl_authenticated", "sasl"},
            {"permit_tls_clientcerts", "listed"},
            {"permit_tls_all_clientcerts", "trusted"},
            {"check_address_map inline:{ 192.0.2.9=yes }", "192.0.2.9"},
            {"cidr:DIR/nets", "192.0.2.77"},
            {"static:all", "anyone"},
        };
        settings_file(dir, "nets", "192.0.2.64/26 OK\n");
        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(variants); i++) {
                char *set = xasprintf("local_header_rewrite_clients=%s",
                                      variants[i][0]);
                const char *const s[] = {maps[1], set, NULL};
                struct conf *c;
                struct smtpd_canon *k = canon(s, &c);
                const char *who = variants[i][1];
                struct smtpd_canon_client cl = {
                    .addr = isdigit((unsigned char)who[0]) ? who : "192.0.2.1",
                    .mynetworks = !strcmp(who, "mynetworks"),
                    .sasl = !strcmp(who, "sasl"),
                    .ccert_listed = !strcmp(who, "listed"),
                    .ccert_trusted = !strcmp(who, "trusted"),
                };
                struct smtpd_canon_client other = {.addr = "192.0.2.1"};
                assert_true(smtpd_canon_local_client(k, &cl));
                assert_int_equal(smtpd_canon_local_client(k, &other),
                                 strcmp(who, "anyone") == 0);
                assert_string_equal(smtpd_canon_header_domain(k, true),
                                    "example.com");
                assert_null(smtpd_canon_header_domain(k, false));
                smtpd_canon_free(k);
                conf_free(c);
                free(set);
        }
        const char *const r[] = {
            maps[1], "remote_header_rewrite_domain=r.example", NULL};
        struct conf *c;
        struct smtpd_canon *k = canon(r, &c);
        assert_string_equal(smtpd_canon_header_domain(k, false), "r.example");
        smtpd_canon_free(k);
        conf_free(c);
        /* envelope classes only: no header rewriting at all */
        const char *const e[] = {maps[1],
                                 "canonical_classes=envelope_recipient", NULL};
        k = canon(e, &c);
        assert_null(smtpd_canon_header_domain(k, true));
        assert_null(smtpd_canon_header_domain(NULL, true));
        smtpd_canon_free(k);
        conf_free(c);
}

/* settings that refuse the start, and none at all */
static void test_settings(void **state)
{
        static const char *const bad[][2] = {
            {"canonical_classes=envelope_sender, header_from",
             "canonical_classes: unknown address class \"header_from\""},
            {"masquerade_classes=bogus", "masquerade_classes: unknown"},
            {"local_header_rewrite_clients=permit_everyone",
             "local_header_rewrite_clients: unknown element "
             "\"permit_everyone\""},
            {"propagate_unmatched_extensions=canonical, sideways",
             "propagate_unmatched_extensions: unknown word \"sideways\""},
            {"sender_canonical_maps=texthash:DIR/missing",
             "sender_canonical_maps: "},
            {"masquerade_exceptions=texthash:DIR/missing",
             "masquerade_exceptions: "},
        };
        struct smtpd_canon *k = NULL;
        struct conf *c;
        char *err = NULL;

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                const char *const s[] = {"canonical_maps=inline:{ a=b }",
                                         "masquerade_domains=example.com",
                                         bad[i][0], NULL};
                c = load(s);
                assert_int_equal(smtpd_canon_new(c, &k, &err), -1);
                assert_null(k);
                if (strstr(err, bad[i][1]) == NULL)
                        fail_msg("%s: %s", bad[i][0], err);
                free(err);
                conf_free(c);
        }
        /* nothing set: nothing to do, whatever the classes say */
        const char *const none[] = {"canonical_classes=bogus", NULL};
        c = load(none);
        assert_int_equal(smtpd_canon_new(c, &k, &err), 0);
        assert_null(k);
        assert_int_equal(smtpd_canon_classes(k), 0);
        conf_free(c);
}

/* the order of the mappings: canonical, then the copies (looked up and
 * rewritten as canonical addresses), then virtual aliases; and
 * no_address_mappings */
static void test_mappings(void **state)
{
        const char *const s[] = {
            "canonical_maps=inline:{ @old.example=@new.example }",
            "sender_bcc_maps=inline:{ s@new.example=copy@old.example }",
            "virtual_alias_maps=inline:{ v@new.example=final@z.example }",
            NULL};
        struct smtpd_mappings m;
        struct strlist hbcc = {0};
        struct queue_env env;
        char *err = NULL;
        struct conf *c = load(s);

        (void)state;
        assert_int_equal(smtpd_mappings_open(c, &m, &err), 0);
        queue_env_init(&env);
        env.sender = xstrdup("s@old.example");
        queue_env_add_rcpt(&env, "v@old.example", NULL, 0);
        strlist_push(&hbcc, "hdr@old.example");
        assert_int_equal(smtpd_mappings_apply(&m, &hbcc, &env, &err), 0);
        assert_string_equal(env.sender, "s@new.example");
        assert_int_equal(env.nrcpt, 3);
        assert_string_equal(env.rcpt[0].addr, "final@z.example");
        assert_string_equal(env.rcpt[0].orcpt, "rfc822;v@old.example");
        assert_string_equal(env.rcpt[1].addr, "hdr@new.example");
        assert_int_equal(env.rcpt[1].notify, QUEUE_NOTIFY_NEVER);
        assert_string_equal(env.rcpt[2].addr, "copy@new.example");
        queue_env_clear(&env);
        smtpd_mappings_close(&m);
        conf_free(c);
        strlist_clear(&hbcc);

        const char *const off[] = {
            s[0], s[1], s[2], "receive_override_options=no_address_mappings",
            NULL};
        c = load(off);
        assert_int_equal(smtpd_mappings_open(c, &m, &err), 0);
        assert_null(m.canon);
        assert_null(m.bcc);
        assert_null(m.valias);
        queue_env_init(&env);
        env.sender = xstrdup("s@old.example");
        queue_env_add_rcpt(&env, "v@old.example", NULL, 0);
        assert_int_equal(smtpd_mappings_apply(&m, NULL, &env, &err), 0);
        assert_string_equal(env.sender, "s@old.example");
        assert_int_equal(env.nrcpt, 1);
        queue_env_clear(&env);
        smtpd_mappings_close(&m);
        conf_free(c);
}

/* collect - a stream's output */
static int collect(void *arg, const char *p, size_t n)
{
        strbuf_add(arg, p, n);
        return 0;
}

/* the checks' stream rewrites the message's own headers only, after the
 * checks (a REPLACE's header too), with no checks at all as well */
static void test_stream(void **state)
{
        static const char in[] = "From: J <john@example.com>\r\n"
                                 "Subject: replace me\r\n"
                                 "Content-Type: multipart/mixed; boundary=b\r\n"
                                 "\r\n"
                                 "--b\r\n"
                                 "Content-Type: message/rfc822\r\n"
                                 "\r\n"
                                 "From: john@example.com\r\n"
                                 "\r\n"
                                 "john@example.com in the body\r\n"
                                 "--b--\r\n";
        settings_file(dir, "hc",
                      "/^Subject: replace/ REPLACE Reply-To: "
                      "john@example.com\n");
        (void)state;
        for (int with_checks = 0; with_checks < 2; with_checks++) {
                const char *const s[] = {
                    maps[1], with_checks ? "header_checks=regexp:DIR/hc" : NULL,
                    NULL};
                struct conf *c;
                struct smtpd_canon *k = canon(s, &c);
                struct smtpd_hbc *h = NULL;
                struct smtpd_hbc_result res = {0};
                char *err = NULL;
                struct strbuf out;
                assert_int_equal(smtpd_hbc_new(c, true, !with_checks, &h, &err),
                                 0);
                assert_non_null(h);
                assert_int_equal(smtpd_hbc_checks(h), with_checks);
                struct smtpd_hbc_origin o = {
                    .queue_id = "QID",
                    .client = "local",
                    .canon = k,
                    .canon_domain = "example.com",
                };
                strbuf_init(&out);
                struct smtpd_hbc_stream *st =
                    smtpd_hbc_start(h, &o, collect, &out);
                for (size_t i = 0; in[i]; i++) /* byte by byte */
                        assert_int_equal(smtpd_hbc_write(st, in + i, 1), 0);
                assert_int_equal(smtpd_hbc_finish(st, &res), 0);
                smtpd_hbc_stream_free(st);
                const char *got = strbuf_cstr(&out);
                assert_non_null(
                    strstr(got, "From: J <john.smith@example.com>\r\n"));
                assert_int_equal(
                    strstr(got, "Reply-To: john.smith@example.com\r\n") != NULL,
                    with_checks);
                /* the attached message's headers, the body: as they came */
                assert_non_null(strstr(got, "\r\n\r\nFrom: john@example.com\r\n"
                                            "\r\njohn@example.com in the "
                                            "body\r\n"));
                strbuf_clear(&out);
                smtpd_hbc_result_clear(&res);
                smtpd_hbc_free(h);
                smtpd_canon_free(k);
                conf_free(c);
        }
}

/* a lookup error in the stream fails the message */
static void test_stream_error(void **state)
{
        const char *const s[] = {"canonical_maps=pcre:DIR/runaway", NULL};
        static const char in[] = "To: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                 "b@runaway.example\r\n\r\nbody\r\n";
        struct conf *c;
        struct smtpd_canon *k = canon(s, &c);
        struct smtpd_hbc *h = NULL;
        struct smtpd_hbc_result res = {0};
        struct strbuf out;
        char *err = NULL;
        char *log = xasprintf("%s/log", dir);

        (void)state;
        assert_int_equal(smtpd_hbc_new(c, false, true, &h, &err), 0);
        struct smtpd_hbc_origin o = {.queue_id = "QID", .canon = k};
        strbuf_init(&out);
        capture_begin(log);
        struct smtpd_hbc_stream *st = smtpd_hbc_start(h, &o, collect, &out);
        (void)smtpd_hbc_write(st, in, strlen(in));
        assert_int_equal(smtpd_hbc_finish(st, &res), -1);
        char *text = capture_end(log);
        assert_non_null(strstr(text, "QID: canonical_maps map lookup problem "
                                     "for aaaa"));
        assert_non_null(strstr(text, "-- message not accepted, try again "
                                     "later"));
        assert_int_equal(out.len, 0);
        free(text);
        free(log);
        smtpd_hbc_stream_free(st);
        strbuf_clear(&out);
        smtpd_hbc_free(h);
        smtpd_canon_free(k);
        conf_free(c);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_lookups),
            cmocka_unit_test(test_no_propagation),
            cmocka_unit_test(test_maps_and_classes),
            cmocka_unit_test(test_patterns_and_errors),
            cmocka_unit_test(test_masquerade),
            cmocka_unit_test(test_envelope),
            cmocka_unit_test(test_headers),
            cmocka_unit_test(test_local_clients),
            cmocka_unit_test(test_settings),
            cmocka_unit_test(test_mappings),
            cmocka_unit_test(test_stream),
            cmocka_unit_test(test_stream_error),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}

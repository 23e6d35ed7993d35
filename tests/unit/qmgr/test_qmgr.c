/* SPDX-License-Identifier: MIT */
/* test_qmgr.c - routing, back-off, the DSN composer and address lists */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "qmgr/qmgr.h"
#include "queue/queue.h"

/* load - a configuration from overrides only (no main.cf) */
static struct conf *load(const char *const *ov)
{
        struct strlist l = {0};
        struct conf *c = NULL;
        char *err = NULL;

        strlist_push(&l, "myhostname=mx.example.net");
        for (; ov && *ov; ov++)
                strlist_push(&l, *ov);
        if (conf_load("/nonexistent-postern-dir", &l, &c, &err) < 0)
                fail_msg("conf_load: %s", err);
        strlist_clear(&l);
        return c;
}

/* route_from - route one address of mail from sender; returns the route
 * (caller clears) */
static struct qmgr_route route_from(struct qmgr_routes *r, const char *sender,
                                    const char *addr)
{
        struct qmgr_route rt;
        char *err = NULL;

        if (qmgr_route(r, sender, addr, &rt, &err) < 0)
                fail_msg("qmgr_route %s: %s", addr, err);
        return rt;
}

/* route - route one address, sender unknown */
static struct qmgr_route route(struct qmgr_routes *r, const char *addr)
{
        return route_from(r, NULL, addr);
}

static void test_route_classes(void **state)
{
        static const char *const ov[] = {
            "mydestination=$myhostname, localhost",
            "virtual_mailbox_domains=virt.example",
            "virtual_alias_domains=alias.example",
            "recipient_delimiter=+",
            "relocated_maps=inline:{ gone@relay.example=new@elsewhere.example,"
            " { @old.example = ask the postmaster } }",
            "transport_maps=inline:{ relay.example=smtp:[10.0.0.1]:2525, "
            "user@special.example=local:, drop.example=discard:, "
            "{ dead.example = error:5.1.2 gone away }, "
            ".sub.example=smtp:sub-relay.example }",
            NULL};
        struct conf *c = load(ov);
        struct qmgr_routes *r;
        struct qmgr_route rt;
        char *err = NULL;

        (void)state;
        assert_int_equal(qmgr_routes_new(c, NULL, 0, &r, &err), 0);

        rt = route(r, "Bob@MX.example.NET");
        assert_int_equal(rt.transport, QMGR_T_LOCAL);
        assert_null(rt.nexthop);
        qmgr_route_clear(&rt);

        rt = route(r, "postmaster");
        assert_int_equal(rt.transport, QMGR_T_LOCAL);
        qmgr_route_clear(&rt);

        rt = route(r, "a@virt.example");
        assert_int_equal(rt.transport, QMGR_T_VIRTUAL);
        qmgr_route_clear(&rt);

        rt = route(r, "a@relay.example");
        assert_int_equal(rt.transport, QMGR_T_SMTP);
        assert_string_equal(rt.nexthop, "[10.0.0.1]:2525");
        assert_string_equal(rt.policy_key, "[10.0.0.1]:2525");
        qmgr_route_clear(&rt);

        /* the full address wins over the domain */
        rt = route(r, "user@special.example");
        assert_int_equal(rt.transport, QMGR_T_LOCAL);
        qmgr_route_clear(&rt);
        rt = route(r, "other@special.example");
        assert_int_equal(rt.transport, QMGR_T_SMTP);
        assert_string_equal(rt.nexthop, "special.example");
        qmgr_route_clear(&rt);

        /* a user who has moved, with or without extension, a domain */
        rt = route(r, "Gone+x@relay.example");
        assert_int_equal(rt.transport, QMGR_T_ERROR);
        assert_string_equal(rt.text,
                            "5.1.6 User has moved to new@elsewhere.example");
        qmgr_route_clear(&rt);
        rt = route(r, "x@old.example");
        assert_string_equal(rt.text,
                            "5.1.6 User has moved to ask the postmaster");
        qmgr_route_clear(&rt);

        /* an address of a virtual alias domain no alias replaced */
        rt = route(r, "x@Alias.example");
        assert_int_equal(rt.transport, QMGR_T_ERROR);
        assert_string_equal(rt.text, "5.1.1 User unknown in virtual alias "
                                     "table");
        qmgr_route_clear(&rt);

        rt = route(r, "x@drop.example");
        assert_int_equal(rt.transport, QMGR_T_DISCARD);
        qmgr_route_clear(&rt);

        rt = route(r, "x@dead.example");
        assert_int_equal(rt.transport, QMGR_T_ERROR);
        assert_string_equal(rt.text, "5.1.2 gone away");
        qmgr_route_clear(&rt);

        /* .parent matches subdomains only */
        rt = route(r, "x@a.sub.example");
        assert_int_equal(rt.transport, QMGR_T_SMTP);
        assert_string_equal(rt.nexthop, "sub-relay.example");
        qmgr_route_clear(&rt);
        rt = route(r, "x@sub.example");
        assert_string_equal(rt.nexthop, "sub.example");
        qmgr_route_clear(&rt);

        /* default: smtp to the recipient domain */
        rt = route(r, "x@Example.ORG");
        assert_int_equal(rt.transport, QMGR_T_SMTP);
        assert_string_equal(rt.nexthop, "example.org");
        qmgr_route_clear(&rt);

        qmgr_routes_free(r);
        conf_free(c);
}

/* expect_named - addr routes to transport t and nexthop (NULL: none),
 * the transport called name (NULL: any) */
static void expect_named(struct qmgr_routes *r, const char *addr,
                         const char *name, enum qmgr_transport t,
                         const char *nexthop)
{
        struct qmgr_route rt = route(r, addr);

        if (name)
                assert_string_equal(rt.name, name);
        assert_int_equal(rt.transport, t);
        if (nexthop)
                assert_string_equal(rt.nexthop, nexthop);
        else
                assert_null(rt.nexthop);
        qmgr_route_clear(&rt);
}

/* expect - addr routes to transport t and nexthop (NULL: none) */
static void expect(struct qmgr_routes *r, const char *addr,
                   enum qmgr_transport t, const char *nexthop)
{
        expect_named(r, addr, NULL, t, nexthop);
}

static void test_route_lmtp(void **state)
{
        static const char *const ov[] = {
            "mydestination=$myhostname, localhost",
            "virtual_mailbox_domains=virt.example",
            "virtual_transport=lmtp:unix:private/dovecot-lmtp",
            "relayhost=[smarthost.example]",
            "transport_maps=inline:{ lm.example=lmtp:inet:127.0.0.1:24, "
            "bare.example=lmtp:, smtp.example=smtp: }",
            NULL};
        struct conf *c = load(ov);
        struct qmgr_routes *r;
        char *err = NULL;

        (void)state;
        assert_int_equal(qmgr_routes_new(c, NULL, 0, &r, &err), 0);
        assert_string_equal(qmgr_transport_name(QMGR_T_LMTP), "lmtp");
        expect(r, "a@Virt.example", QMGR_T_LMTP, "unix:private/dovecot-lmtp");
        expect(r, "a@lm.example", QMGR_T_LMTP, "inet:127.0.0.1:24");
        /* no next hop: the recipient domain, never the relayhost */
        expect(r, "a@bare.example", QMGR_T_LMTP, "bare.example");
        expect(r, "a@smtp.example", QMGR_T_SMTP, "[smarthost.example]");
        /* without mailbox_transport local domains stay local */
        expect(r, "a@localhost", QMGR_T_LOCAL, NULL);
        qmgr_routes_free(r);
        conf_free(c);
}

static void test_route_mailbox_transport(void **state)
{
        static const char *const ov[] = {
            "mydestination=$myhostname, localhost",
            "mailbox_transport=lmtp:unix:/run/dovecot/lmtp",
            "transport_maps=inline:{ user@localhost=local:, "
            "other@localhost=smtp:[10.0.0.1] }",
            NULL};
        static const char *const bad[] = {"mailbox_transport=pigeon:x", NULL};
        struct conf *c = load(ov);
        struct qmgr_routes *r;
        struct qmgr_route rt;
        char *err = NULL;

        (void)state;
        assert_int_equal(qmgr_routes_new(c, NULL, 0, &r, &err), 0);
        /* what would be delivered locally goes to mailbox_transport,
         * with or without a domain, and after transport_maps said local */
        expect(r, "a@MX.example.net", QMGR_T_LMTP, "unix:/run/dovecot/lmtp");
        expect(r, "postmaster", QMGR_T_LMTP, "unix:/run/dovecot/lmtp");
        expect(r, "user@localhost", QMGR_T_LMTP, "unix:/run/dovecot/lmtp");
        /* transport_maps sending it elsewhere wins; remote mail is not
         * concerned */
        expect(r, "other@localhost", QMGR_T_SMTP, "[10.0.0.1]");
        expect(r, "a@example.org", QMGR_T_SMTP, "example.org");
        qmgr_routes_free(r);
        conf_free(c);

        c = load(bad);
        assert_int_equal(qmgr_routes_new(c, NULL, 0, &r, &err), 0);
        assert_int_equal(qmgr_route(r, NULL, "a@localhost", &rt, &err), -1);
        assert_non_null(strstr(err, "mailbox_transport"));
        free(err);
        qmgr_routes_free(r);
        conf_free(c);
}

static void test_route_relayhost(void **state)
{
        static const char *const ov[] = {
            "relayhost=[smarthost.example]:587",
            "transport_maps=inline:{ direct.example=smtp: , "
            "bad.example=carrier-pigeon:x }",
            NULL};
        struct conf *c = load(ov);
        struct qmgr_routes *r;
        struct qmgr_route rt;
        char *err = NULL;

        (void)state;
        assert_int_equal(qmgr_routes_new(c, NULL, 0, &r, &err), 0);
        rt = route(r, "x@example.org");
        assert_string_equal(rt.nexthop, "[smarthost.example]:587");
        qmgr_route_clear(&rt);
        /* an empty nexthop in transport_maps keeps the default */
        rt = route(r, "x@direct.example");
        assert_int_equal(rt.transport, QMGR_T_SMTP);
        assert_string_equal(rt.nexthop, "[smarthost.example]:587");
        qmgr_route_clear(&rt);
        /* local domains never go to the relayhost */
        rt = route(r, "x@localhost");
        assert_int_equal(rt.transport, QMGR_T_LOCAL);
        qmgr_route_clear(&rt);
        /* an unknown transport is an error the caller defers */
        assert_int_equal(qmgr_route(r, NULL, "x@bad.example", &rt, &err), -1);
        assert_non_null(strstr(err, "carrier-pigeon"));
        free(err);
        qmgr_routes_free(r);
        conf_free(c);
}

/* test_route_sender_relay - sender_dependent_relayhost_maps: the
 * address, then @domain, the null sender by its key, DUNNO keeps
 * relayhost, transport_maps next hops win, local mail is not relayed */
static void test_route_sender_relay(void **state)
{
        static const char *const ov[] = {
            "relayhost=[smarthost.example]:587",
            "sender_dependent_relayhost_maps=inline:{ "
            "alice@one.example=[alice-relay.example], "
            "@one.example=[one-relay.example]:2525, "
            "@two.example=DUNNO, <>=[bounce-relay.example] }",
            "transport_maps=inline:{ direct.example=smtp:[10.0.0.1] , "
            "viasmtp.example=relay: }",
            NULL};
        struct conf *c = load(ov);
        struct qmgr_routes *r;
        struct qmgr_route rt;
        char *err = NULL;
        static const struct {
                const char *sender, *rcpt, *nexthop;
        } cases[] = {
            {"alice@one.example", "x@example.org", "[alice-relay.example]"},
            {"Alice@ONE.example", "x@example.org", "[alice-relay.example]"},
            {"bob@one.example", "x@example.org", "[one-relay.example]:2525"},
            {"carol@two.example", "x@example.org", "[smarthost.example]:587"},
            {"dave@three.example", "x@example.org", "[smarthost.example]:587"},
            {"", "x@example.org", "[bounce-relay.example]"},
            {NULL, "x@example.org", "[smarthost.example]:587"},
            /* a next hop of transport_maps wins */
            {"bob@one.example", "x@direct.example", "[10.0.0.1]"},
            /* a transport without a next hop takes the sender's relay */
            {"bob@one.example", "x@viasmtp.example",
             "[one-relay.example]:2525"},
        };

        (void)state;
        assert_int_equal(qmgr_routes_new(c, NULL, 0, &r, &err), 0);
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                rt = route_from(r, cases[i].sender, cases[i].rcpt);
                assert_int_equal(rt.transport, QMGR_T_SMTP);
                assert_string_equal(rt.nexthop, cases[i].nexthop);
                assert_string_equal(rt.policy_key, cases[i].nexthop);
                qmgr_route_clear(&rt);
        }
        rt = route_from(r, "alice@one.example", "x@localhost");
        assert_int_equal(rt.transport, QMGR_T_LOCAL);
        qmgr_route_clear(&rt);
        qmgr_routes_free(r);
        conf_free(c);
}

/* test_route_master_transports - names master.cf defines work wherever
 * a transport is named, and replace a built-in one of the same name */
static void test_route_master_transports(void **state)
{
        static const char *const ov[] = {
            "mydestination=$myhostname, localhost",
            "relayhost=[smarthost.example]", "default_transport=outbound:",
            "transport_maps=inline:{ filtered.example=my-filter:[127.0.0.1]:"
            "10024, lm.example=dove:unix:private/lmtp, "
            "{ gone.example = bounce-it:5.1.2 no such domain }, "
            "trap.example=blackhole:, { later.example = retry:4.3.2 wait } }",
            NULL};
        const struct qmgr_transport_def defs[] = {
            {.name = "my-filter", .kind = QMGR_T_SMTP, .maxproc = 2},
            {.name = "outbound", .kind = QMGR_T_SMTP},
            {.name = "dove", .kind = QMGR_T_LMTP},
            {.name = "bounce-it", .kind = QMGR_T_ERROR},
            {.name = "blackhole", .kind = QMGR_T_DISCARD},
            {.name = "retry", .kind = QMGR_T_RETRY},
        };
        struct conf *c = load(ov);
        struct qmgr_routes *r;
        struct qmgr_route rt;
        enum qmgr_transport k;
        const struct qmgr_transport_def *d;
        char *err = NULL;

        (void)state;
        assert_int_equal(qmgr_routes_new(c, defs, ARRAY_SIZE(defs), &r, &err),
                         0);
        expect_named(r, "a@filtered.example", "my-filter", QMGR_T_SMTP,
                     "[127.0.0.1]:10024");
        /* default_transport names one: with the relayhost, as smtp */
        expect_named(r, "a@example.org", "outbound", QMGR_T_SMTP,
                     "[smarthost.example]");
        expect_named(r, "a@lm.example", "dove", QMGR_T_LMTP,
                     "unix:private/lmtp");
        expect_named(r, "a@localhost", "local", QMGR_T_LOCAL, NULL);
        rt = route(r, "a@gone.example");
        assert_string_equal(rt.name, "bounce-it");
        assert_int_equal(rt.transport, QMGR_T_ERROR);
        assert_string_equal(rt.text, "5.1.2 no such domain");
        qmgr_route_clear(&rt);
        rt = route(r, "a@trap.example");
        assert_int_equal(rt.transport, QMGR_T_DISCARD);
        qmgr_route_clear(&rt);
        rt = route(r, "a@later.example");
        assert_int_equal(rt.transport, QMGR_T_RETRY);
        qmgr_route_clear(&rt);

        /* lookups: master.cf's first, then the built-in ones */
        assert_int_equal(
            qmgr_transport_find(defs, ARRAY_SIZE(defs), "dove", 4, &k, &d), 0);
        assert_int_equal(k, QMGR_T_LMTP);
        assert_ptr_equal(d, &defs[2]);
        assert_int_equal(
            qmgr_transport_find(defs, ARRAY_SIZE(defs), "relay", 5, &k, &d), 0);
        assert_int_equal(k, QMGR_T_SMTP);
        assert_null(d);
        assert_int_equal(
            qmgr_transport_find(defs, ARRAY_SIZE(defs), "doveX", 4, &k, NULL),
            0);
        assert_int_equal(qmgr_transport_find(NULL, 0, "dove", 4, &k, NULL), -1);
        qmgr_routes_free(r);

        /* without master.cf, its names are unknown: mail is deferred */
        assert_int_equal(qmgr_routes_new(c, NULL, 0, &r, &err), 0);
        assert_int_equal(qmgr_route(r, NULL, "a@example.org", &rt, &err), -1);
        assert_non_null(strstr(err, "unknown mail transport \"outbound:\""));
        free(err);
        assert_int_equal(qmgr_route(r, NULL, "a@localhost", &rt, &err), 0);
        qmgr_route_clear(&rt);
        qmgr_routes_free(r);
        conf_free(c);
}

/* test_route_filter - a message with a content filter: every recipient
 * to it, whatever transport_maps, relocated_maps, relayhost or local
 * delivery say */
static void test_route_filter(void **state)
{
        static const char *const ov[] = {
            "mydestination=$myhostname, localhost",
            "relayhost=[smarthost.example]",
            "relocated_maps=inline:{ moved@example.org=new@example.net }",
            "transport_maps=inline:{ special.example=smtp:[10.0.0.1] }", NULL};
        static const char *const with_default[] = {
            "default_filter_nexthop=[127.0.0.1]:10026", NULL};
        const struct qmgr_transport_def defs[] = {
            {.name = "smtp-amavis", .kind = QMGR_T_SMTP, .maxproc = 2},
            {.name = "scan", .kind = QMGR_T_LMTP},
        };
        static const char *const rcpts[] = {
            "Bob@LocalHost", "postmaster", "moved@example.org",
            "x@special.example", "y@example.org"};
        struct conf *c = load(ov);
        struct qmgr_routes *r;
        struct qmgr_route rt;
        char *err = NULL;

        (void)state;
        assert_int_equal(qmgr_routes_new(c, defs, ARRAY_SIZE(defs), &r, &err),
                         0);
        for (size_t i = 0; i < ARRAY_SIZE(rcpts); i++) {
                assert_int_equal(
                    qmgr_route_filter(r, "smtp-amavis:[127.0.0.1]:10024",
                                      rcpts[i], &rt, &err),
                    0);
                assert_string_equal(rt.name, "smtp-amavis");
                assert_int_equal(rt.transport, QMGR_T_SMTP);
                assert_string_equal(rt.nexthop, "[127.0.0.1]:10024");
                assert_string_equal(rt.policy_key, "[127.0.0.1]:10024");
                qmgr_route_clear(&rt);
        }
        /* no next hop: the recipient domain, else this host */
        assert_int_equal(
            qmgr_route_filter(r, "smtp-amavis:", "a@Example.ORG", &rt, &err),
            0);
        assert_string_equal(rt.nexthop, "example.org");
        qmgr_route_clear(&rt);
        assert_int_equal(
            qmgr_route_filter(r, "smtp-amavis", "postmaster", &rt, &err), 0);
        assert_string_equal(rt.nexthop, "mx.example.net");
        qmgr_route_clear(&rt);
        /* built-in transports and LMTP ones filter too */
        assert_int_equal(qmgr_route_filter(r, "scan:unix:private/scan",
                                           "a@example.org", &rt, &err),
                         0);
        assert_int_equal(rt.transport, QMGR_T_LMTP);
        assert_string_equal(rt.nexthop, "unix:private/scan");
        qmgr_route_clear(&rt);
        assert_int_equal(qmgr_route_filter(r, "smtp:[10.1.1.1]:25",
                                           "a@localhost", &rt, &err),
                         0);
        assert_string_equal(rt.name, "smtp");
        assert_string_equal(rt.nexthop, "[10.1.1.1]:25");
        qmgr_route_clear(&rt);
        /* an unknown transport: an error (the caller defers), never the
         * usual route */
        assert_int_equal(qmgr_route_filter(r, "nosuch:[127.0.0.1]:10024",
                                           "a@example.org", &rt, &err),
                         -1);
        assert_non_null(strstr(err, "content filter \"nosuch:"));
        free(err);
        assert_int_equal(
            qmgr_route_filter(r, ":[127.0.0.1]", "a@example.org", &rt, &err),
            -1);
        free(err);
        qmgr_routes_free(r);
        conf_free(c);

        c = load(with_default);
        assert_int_equal(qmgr_routes_new(c, defs, ARRAY_SIZE(defs), &r, &err),
                         0);
        assert_int_equal(
            qmgr_route_filter(r, "smtp-amavis:", "a@example.org", &rt, &err),
            0);
        assert_string_equal(rt.nexthop, "[127.0.0.1]:10026");
        qmgr_route_clear(&rt);
        qmgr_routes_free(r);
        conf_free(c);
}

static void test_backoff(void **state)
{
        (void)state;
        assert_int_equal(qmgr_backoff(300, 4000, 1), 300);
        assert_int_equal(qmgr_backoff(300, 4000, 2), 600);
        assert_int_equal(qmgr_backoff(300, 4000, 3), 1200);
        assert_int_equal(qmgr_backoff(300, 4000, 4), 2400);
        assert_int_equal(qmgr_backoff(300, 4000, 5), 4000);
        assert_int_equal(qmgr_backoff(300, 4000, 1000000), 4000);
        assert_int_equal(qmgr_backoff(1, 4, 0), 1);
        /* max below min: min wins; never zero */
        assert_int_equal(qmgr_backoff(10, 5, 3), 10);
        assert_int_equal(qmgr_backoff(0, 0, 1), 1);
        assert_int_equal(qmgr_backoff(1LL << 40, 1LL << 62, 100), 1LL << 62);
}

static void test_dsn_wanted(void **state)
{
        (void)state;
        assert_true(qmgr_dsn_wanted(0, QMGR_DSN_FAILED));
        assert_false(qmgr_dsn_wanted(0, QMGR_DSN_DELIVERED));
        assert_false(qmgr_dsn_wanted(QUEUE_NOTIFY_NEVER, QMGR_DSN_FAILED));
        assert_false(qmgr_dsn_wanted(QUEUE_NOTIFY_SUCCESS, QMGR_DSN_FAILED));
        assert_true(qmgr_dsn_wanted(QUEUE_NOTIFY_SUCCESS | QUEUE_NOTIFY_FAILURE,
                                    QMGR_DSN_DELIVERED));
        assert_true(qmgr_dsn_wanted(QUEUE_NOTIFY_DELAY, QMGR_DSN_DELAYED));
}

/* compose_full - a DSN for a two-recipient message */
static char *compose_full(enum queue_ret ret, const char *msg, const char *diag,
                          bool smtp)
{
        struct conf *c = load(NULL);
        struct queue_env env;
        struct strbuf out;
        struct queue_rcpt *r;

        queue_env_init(&env);
        env.id = xstrdup("1LGLUHR8VPLZAEIQC");
        env.sender = xstrdup("alice@example.org");
        env.envid = xstrdup("ENV-42");
        env.arrival = 1700000000;
        env.ret = ret;
        queue_env_add_rcpt(&env, "ok@example.com", NULL, 0);
        r = queue_env_add_rcpt(&env, "bad@example.com",
                               "rfc822;Bad@Example.com", QUEUE_NOTIFY_FAILURE);
        (void)r;
        struct qmgr_dsn_rcpt dr = {
            .index = 1, .status = "5.1.1", .diag = diag, .smtp = smtp};
        strbuf_init(&out);
        qmgr_dsn_compose(c, &env, QMGR_DSN_FAILED, &dr, 1, msg, strlen(msg),
                         1700000100, &out);
        queue_env_clear(&env);
        conf_free(c);
        return strbuf_detach(&out);
}

/* compose - the usual DSN */
static char *compose(enum queue_ret ret, const char *msg)
{
        return compose_full(ret, msg, "550 5.1.1 no such\r\nuser", true);
}

/* compose_diag - a DSN with a given diagnostic */
static char *compose_diag(const char *diag, bool smtp)
{
        return compose_full(QUEUE_RET_NONE, "Subject: x\r\n\r\nx\r\n", diag,
                            smtp);
}

static void test_dsn_compose(void **state)
{
        const char *msg = "Subject: test\r\nFrom: alice@example.org\r\n\r\n"
                          "secret body\r\n";
        char *d = compose(QUEUE_RET_NONE, msg);

        (void)state;
        assert_non_null(strstr(d, "To: <alice@example.org>\r\n"));
        assert_non_null(strstr(d, "Content-Type: multipart/report; "
                                  "report-type=delivery-status;"));
        assert_non_null(strstr(d, "Content-Type: message/delivery-status"));
        assert_non_null(strstr(d, "Reporting-MTA: dns; mx.example.net\r\n"));
        assert_non_null(strstr(d, "Original-Envelope-Id: ENV-42\r\n"));
        assert_non_null(strstr(d, "Arrival-Date: "));
        assert_non_null(
            strstr(d, "Final-Recipient: rfc822; bad@example.com\r\n"));
        assert_non_null(
            strstr(d, "Original-Recipient: rfc822;Bad@Example.com\r\n"));
        assert_non_null(strstr(d, "Action: failed\r\nStatus: 5.1.1\r\n"));
        /* a CR LF inside a remote reply cannot start a new field */
        assert_non_null(
            strstr(d, "Diagnostic-Code: smtp; 550 5.1.1 no such  user\r\n"));
        assert_null(strstr(d, "ok@example.com"));
        assert_non_null(strstr(d, "Content-Type: message/rfc822\r\n"));
        assert_non_null(strstr(d, "secret body"));
        /* every line ends in CR LF */
        for (const char *p = strchr(d, '\n'); p; p = strchr(p + 1, '\n'))
                assert_true(p > d && p[-1] == '\r');
        free(d);

        d = compose_diag("host mx.example.com[192.0.2.1] said: 550 5.1.1 "
                         "unknown (in reply to RCPT TO command)",
                         true);
        assert_non_null(strstr(d, "Diagnostic-Code: smtp; 550 5.1.1 unknown "
                                  "(in reply to RCPT TO command)\r\n"));
        free(d);
        d = compose_diag("Host or domain name not found", true);
        assert_non_null(strstr(
            d,
            "Diagnostic-Code: X-Postfix; Host or domain name not found\r\n"));
        free(d);
        d = compose_diag("unknown user: \"eve@virt.test\"", false);
        assert_non_null(strstr(d, "Diagnostic-Code: X-Postfix; unknown user"));
        free(d);

        d = compose(QUEUE_RET_HDRS, msg);
        assert_non_null(strstr(d, "Content-Type: text/rfc822-headers\r\n"));
        assert_non_null(strstr(d, "Subject: test"));
        assert_null(strstr(d, "secret body"));
        free(d);
}

static void test_addrlist(void **state)
{
        struct strlist l = {0};

        (void)state;
        qmgr_addrlist_parse(
            "Bob Smith <bob@example.org>, carol@example.org (Carol), "
            "\"Doe, John\" <john@example.org>, team: dan@example.org, "
            "<eve@example.org>; ,, broken address here",
            &l);
        assert_int_equal(l.n, 5);
        assert_string_equal(l.v[0], "bob@example.org");
        assert_string_equal(l.v[1], "carol@example.org");
        assert_string_equal(l.v[2], "john@example.org");
        assert_string_equal(l.v[3], "dan@example.org");
        assert_string_equal(l.v[4], "eve@example.org");
        strlist_clear(&l);
        qmgr_addrlist_parse("", &l);
        qmgr_addrlist_parse("\"unterminated <x@y>", &l);
        qmgr_addrlist_parse("(((", &l);
        assert_int_equal(l.n, 0);
        strlist_clear(&l);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_route_classes),
            cmocka_unit_test(test_route_lmtp),
            cmocka_unit_test(test_route_mailbox_transport),
            cmocka_unit_test(test_route_relayhost),
            cmocka_unit_test(test_route_sender_relay),
            cmocka_unit_test(test_route_master_transports),
            cmocka_unit_test(test_route_filter),
            cmocka_unit_test(test_backoff),
            cmocka_unit_test(test_dsn_wanted),
            cmocka_unit_test(test_dsn_compose),
            cmocka_unit_test(test_addrlist),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

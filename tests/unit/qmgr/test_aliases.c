/* SPDX-License-Identifier: MIT */
/* test_aliases.c - alias_maps expansion (qmgr_alias.c) without a queue:
 * chains, an alias naming itself, loops, extensions, commands and files,
 * a table that does not open */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../scratch.h"
#include "conf/conf.h"
#include "qmgr/qmgr.h"

static char dir[256];
static char aliases[300];

static const char source[] = "postmaster: root\n"
                             "root: localadmin, admin@example.org\n"
                             "keeper: keeper, other\n"
                             "\"Loop A\": loopb\n"
                             "loopb: \"loop a\"\n"
                             "deep: deeper\n"
                             "deeper: deep\n"
                             "runme: localadmin, \"|/bin/touch /tmp/x\"\n"
                             "lists: listowner, owner@example.org\n"
                             "lists+exact: exact\n"
                             "twice: localadmin, root\n";

/* One expansion under test. */
struct fix {
        struct conf *c;
        struct qmgr_routes *routes;
        struct qmgr_aliases *a;
        struct qmgr_alias_result r;
};

/* fix_open - alias_maps (and more overrides) for mx.example.net */
static void fix_open(struct fix *f, const char *alias_maps, const char *more)
{
        struct strlist ov = {0};
        char *err = NULL, *warn = NULL, *s;

        memset(f, 0, sizeof(*f));
        strlist_push(&ov, "myhostname=mx.example.net");
        strlist_push(&ov, "recipient_delimiter=+");
        s = xasprintf("alias_maps=%s", alias_maps);
        strlist_push(&ov, s);
        free(s);
        if (more)
                strlist_push(&ov, more);
        if (conf_load("/nonexistent-postern-dir", &ov, &f->c, &err) < 0)
                fail_msg("conf_load: %s", err);
        strlist_clear(&ov);
        if (qmgr_routes_new(f->c, NULL, 0, &f->routes, &err) < 0)
                fail_msg("qmgr_routes_new: %s", err);
        assert_int_equal(qmgr_aliases_new(f->c, f->routes, &f->a, &warn), 0);
        if (warn && strstr(alias_maps, "missing") == NULL)
                fail_msg("qmgr_aliases_new: %s", warn);
        free(warn);
}

/* fix_expand - rcpt through the aliases into f->r (cleared first) */
static void fix_expand(struct fix *f, const char *rcpt)
{
        qmgr_alias_result_clear(&f->r);
        qmgr_alias_expand(f->a, "sender@example.org", rcpt, &f->r);
}

/* fix_close - release */
static void fix_close(struct fix *f)
{
        qmgr_alias_result_clear(&f->r);
        qmgr_aliases_free(f->a);
        qmgr_routes_free(f->routes);
        conf_free(f->c);
}

/* assert_addrs - the expansion gave these addresses, in order, and
 * which of them are local mailboxes ("m") or forwarded ("f") */
static void assert_addrs(const struct fix *f, const char *const *want,
                         const char *kinds)
{
        size_t n = strlen(kinds);

        assert_int_equal(f->r.status, QMGR_ALIAS_EXPANDED);
        assert_int_equal(f->r.addrs.n, n);
        for (size_t i = 0; i < n; i++) {
                assert_string_equal(f->r.addrs.v[i], want[i]);
                assert_int_equal(f->r.mailbox[i], kinds[i] == 'm');
        }
}

/* assert_outcome - the expansion stopped with this status, DSN code and
 * text (a prefix of it when text ends in "...") */
static void assert_outcome(const struct fix *f, enum qmgr_alias_status st,
                           const char *dsn, const char *text)
{
        size_t n = strlen(text);

        assert_int_equal(f->r.status, st);
        assert_string_equal(f->r.dsn, dsn);
        if (n > 3 && strcmp(text + n - 3, "...") == 0)
                assert_int_equal(strncmp(f->r.text, text, n - 3), 0);
        else
                assert_string_equal(f->r.text, text);
}

static int setup(void **state)
{
        FILE *fp;

        (void)state;
        snprintf(dir, sizeof(dir), "/tmp/postern-unit-aliases-XXXXXX");
        if (mkdtemp(dir) == NULL)
                return -1;
        snprintf(aliases, sizeof(aliases), "texthash:%s/aliases", dir);
        fp = fopen(aliases + strlen("texthash:"), "w");
        if (fp == NULL)
                return -1;
        fputs(source, fp);
        return fclose(fp);
}

static int teardown(void **state)
{
        (void)state;
        return scratch_remove(dir);
}

static void test_chain(void **state)
{
        static const char *const want[] = {"localadmin@mx.example.net",
                                           "admin@example.org"};
        struct fix f;

        (void)state;
        fix_open(&f, aliases, NULL);
        /* postmaster -> root -> both, in the same step */
        fix_expand(&f, "Postmaster@MX.example.net");
        assert_addrs(&f, want, "mf");
        /* a target named twice is there once */
        fix_expand(&f, "twice@mx.example.net");
        assert_addrs(&f, want, "mf");
        /* no alias: the mailbox */
        fix_expand(&f, "nobody@mx.example.net");
        assert_int_equal(f.r.status, QMGR_ALIAS_NONE);
        assert_int_equal(f.r.addrs.n, 0);
        fix_close(&f);
}

static void test_self_reference(void **state)
{
        static const char *const want[] = {"keeper@mx.example.net",
                                           "other@mx.example.net"};
        struct fix f;

        (void)state;
        fix_open(&f, aliases, NULL);
        fix_expand(&f, "keeper@mx.example.net");
        assert_addrs(&f, want, "mm");
        fix_close(&f);
}

static void test_loops(void **state)
{
        struct fix f;

        (void)state;
        fix_open(&f, aliases, NULL);
        fix_expand(&f, "loopb@mx.example.net");
        assert_outcome(&f, QMGR_ALIAS_BOUNCE, "5.4.6",
                       "alias database loop for loopb");
        /* a quoted local part is the quoted alias name */
        fix_expand(&f, "\"Loop A\"@mx.example.net");
        assert_outcome(&f, QMGR_ALIAS_BOUNCE, "5.4.6",
                       "alias database loop for loop a");
        fix_expand(&f, "deep@mx.example.net");
        assert_outcome(&f, QMGR_ALIAS_BOUNCE, "5.4.6",
                       "alias database loop for deep");
        fix_close(&f);
}

static void test_extensions(void **state)
{
        static const char *const prop[] = {"listowner+foo@mx.example.net",
                                           "owner+foo@example.org"};
        static const char *const bare[] = {"listowner@mx.example.net",
                                           "owner@example.org"};
        static const char *const exact[] = {"exact@mx.example.net"};
        struct fix f;

        (void)state;
        fix_open(&f, aliases,
                 "propagate_unmatched_extensions=canonical, alias");
        fix_expand(&f, "lists+foo@mx.example.net");
        assert_addrs(&f, prop, "mf");
        /* user+ext that has an alias of its own: nothing left over */
        fix_expand(&f, "lists+exact@mx.example.net");
        assert_addrs(&f, exact, "m");
        fix_close(&f);

        /* Postfix's default (canonical, virtual) keeps it for itself */
        fix_open(&f, aliases, NULL);
        fix_expand(&f, "lists+foo@mx.example.net");
        assert_addrs(&f, bare, "mf");
        fix_close(&f);
}

static void test_commands_and_files(void **state)
{
        struct fix f;

        (void)state;
        fix_open(&f, aliases, NULL);
        /* the whole recipient waits, the mailbox target too */
        fix_expand(&f, "runme@mx.example.net");
        assert_outcome(&f, QMGR_ALIAS_DEFER, "4.3.0",
                       "alias runme: postern does not deliver to commands "
                       "or files: |/bin/touch /tmp/x");
        fix_close(&f);

        assert_true(qmgr_alias_undeliverable("|cmd"));
        assert_true(qmgr_alias_undeliverable("\"|cmd arg\""));
        assert_true(qmgr_alias_undeliverable("/var/mail/file"));
        assert_true(qmgr_alias_undeliverable(":INCLUDE:/etc/list"));
        assert_false(qmgr_alias_undeliverable("user"));
        assert_false(qmgr_alias_undeliverable("user@example.org"));
        assert_false(qmgr_alias_undeliverable("\"a|b\"@example.org"));
}

static void test_tables(void **state)
{
        char *specs, *missing;
        struct fix f;

        (void)state;
        specs = qmgr_alias_specs("hash:/etc/aliases, nis:mail.aliases "
                                 "nisplus:x texthash:/a");
        assert_string_equal(specs, "hash:/etc/aliases texthash:/a");
        free(specs);

        /* a table named in main.cf that does not open: every local
         * recipient waits, an alias or not */
        missing = xasprintf("lmdb:%s/missing", dir);
        fix_open(&f, missing, NULL);
        fix_expand(&f, "nobody@mx.example.net");
        assert_outcome(&f, QMGR_ALIAS_DEFER, "4.3.0",
                       "alias_maps unavailable: ...");
        fix_close(&f);
        free(missing);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_chain),
            cmocka_unit_test(test_self_reference),
            cmocka_unit_test(test_loops),
            cmocka_unit_test(test_extensions),
            cmocka_unit_test(test_commands_and_files),
            cmocka_unit_test(test_tables),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}

/* SPDX-License-Identifier: MIT */
/*
 * test_mime_addr.c - the address-list scanner: display names, quoted
 * strings, comments, groups, routes, folding; where each address is in
 * the text; what is skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "mime/mime.h"

/* What the scanner found: "addr=as written" per address, "<>" marking
 * angle addresses. */
struct found {
        const char *text;
        struct strbuf log;
};

/* on_addr - record one address, and check its place */
static void on_addr(void *arg, const struct mime_addr *a)
{
        struct found *f = arg;

        strbuf_printf(&f->log, "%s%s=%.*s\n", a->angle ? "<>" : "", a->addr,
                      (int)a->len, f->text + a->off);
}

/* scan - the log of one value (heap) */
static char *scan(const char *text)
{
        struct found f = {.text = text};

        strbuf_init(&f.log);
        mime_addrlist_scan(text, strlen(text), on_addr, &f);
        return strbuf_detach(&f.log);
}

/* expect - text scans to log */
static void expect(const char *text, const char *log)
{
        char *got = scan(text);

        assert_string_equal(got, log);
        free(got);
}

static void test_forms(void **state)
{
        (void)state;
        expect(" John Smith <john@example.com>, \"Doe, Jane\" "
               "<jane@x.org> (work), bob@y.org (Bob)",
               "<>john@example.com=john@example.com\n"
               "<>jane@x.org=jane@x.org\n"
               "bob@y.org=bob@y.org\n");
        /* groups: the name is no address; an empty group has none */
        expect(" team: a@b.example, <c@d.example>; undisclosed-recipients:;",
               "a@b.example=a@b.example\n<>c@d.example=c@d.example\n");
        /* a route is skipped, <> is no address */
        expect("<@r1.example,@r2.example:u@d.example>, <>, Nobody <>",
               "<>u@d.example=u@d.example\n");
        /* unqualified, quoted local part, domain literal, UTF-8 */
        expect("root, \"a b\"@x.example, u@[192.0.2.1], j\xc3\xb6rg@ex.de",
               "root=root\n\"a b\"@x.example=\"a b\"@x.example\n"
               "u@[192.0.2.1]=u@[192.0.2.1]\n"
               "j\xc3\xb6rg@ex.de=j\xc3\xb6rg@ex.de\n");
        /* an encoded word in the display name */
        expect(" =?utf-8?q?J=C3=B6rg?= <j@x.example>",
               "<>j@x.example=j@x.example\n");
}

static void test_folding_and_comments(void **state)
{
        (void)state;
        /* folded lines between and around the parts */
        expect("\r\n\tJohn\r\n <john@example.com>,\r\n bob@y.org\r\n",
               "<>john@example.com=john@example.com\n"
               "bob@y.org=bob@y.org\n");
        /* white space and comments inside an addr-spec (obsolete
         * syntax): the address is its tokens, the place all of it */
        expect("john . doe (x) @ example . com",
               "john.doe@example.com=john . doe (x) @ example . com\n");
        /* nested comment with a quoted pair, and commas inside */
        expect("a@b.example (x (y, z) \\) w), c@d.example",
               "a@b.example=a@b.example\nc@d.example=c@d.example\n");
}

static void test_skipped(void **state)
{
        (void)state;
        /* phrases: words without dots between them */
        expect("broken address here, a b@c.example, ok@e.example",
               "ok@e.example=ok@e.example\n");
        /* what does not close ends the scan */
        expect("a@b.example, \"unterminated <x@y.example>",
               "a@b.example=a@b.example\n");
        expect("(((", "");
        expect("u@[1.2.3.4", "");
        expect("a@b.example, x+@[@[127.0.0.1], c@d.example",
               "a@b.example=a@b.example\n");
        /* "<" without ">" */
        expect("Name <a@b.example, c@d.example", "");
        /* specials where they make no sense */
        expect("a@@b.example, a@b@c.example, @b.example, a@, a.@b.",
               "a.@b.=a.@b.\n");
        expect("", "");
        expect("  ,,; ", "");
        /* a NUL in a quoted string: not an address to hand on */
        static const char nul[] = "\"a\0b\"@x.example, c@d.example";
        struct found f = {.text = nul};
        strbuf_init(&f.log);
        mime_addrlist_scan(nul, sizeof(nul) - 1, on_addr, &f);
        assert_string_equal(strbuf_cstr(&f.log), "c@d.example=c@d.example\n");
        strbuf_clear(&f.log);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_forms),
            cmocka_unit_test(test_folding_and_comments),
            cmocka_unit_test(test_skipped),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}

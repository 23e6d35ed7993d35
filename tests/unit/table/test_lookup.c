/* SPDX-License-Identifier: MIT */
/* test_lookup.c - domain and next-hop lookups, table lists, lmdb: builds */
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
#include <time.h>
#include <unistd.h>

#include "../scratch.h"
#include "log/log.h"
#include "table/table.h"

static char dir[256];

/* path_of - DIR/name (heap) */
static char *path_of(const char *name)
{
        return xasprintf("%s/%s", dir, name);
}

/* write_file - DIR/name with text; returns the path (heap) */
static char *write_file(const char *name, const char *text)
{
        char *path = path_of(name);
        FILE *fp = fopen(path, "w");

        assert_non_null(fp);
        fputs(text, fp);
        fclose(fp);
        return path;
}

/* open_spec - table_open that must succeed */
static struct table *open_spec(const char *type, const char *arg)
{
        char *spec = xasprintf("%s:%s", type, arg), *err = NULL;
        struct table *t = NULL;

        if (table_open(spec, &t, &err) < 0)
                fail_msg("%s: %s", spec, err);
        free(spec);
        return t;
}

/* domain - table_lookup_domain result value or NULL */
static const char *domain(struct table *t, const char *name)
{
        const char *v = NULL;
        char *err = NULL;
        enum table_status s = table_lookup_domain(t, name, &v, &err);

        assert_int_not_equal(s, TABLE_ERROR);
        return s == TABLE_FOUND ? v : NULL;
}

/* nexthop - table_lookup_nexthop result value or NULL */
static const char *nexthop(struct table *t, const char *name)
{
        const char *v = NULL;
        char *err = NULL;
        enum table_status s = table_lookup_nexthop(t, name, &v, &err);

        assert_int_not_equal(s, TABLE_ERROR);
        return s == TABLE_FOUND ? v : NULL;
}

/* same - string equality with NULL */
static void same(const char *got, const char *want)
{
        if (want == NULL)
                assert_null(got);
        else
                assert_string_equal(got, want);
}

static const char policy[] = "example.com       secure\n"
                             ".example.com      verify\n"
                             "plain.org         encrypt\n"
                             ".com              may\n"
                             "[mx.example.net]:587  dane\n"
                             "[mx.example.net]  fingerprint\n"
                             "mx.example.net    none\n";

static void test_domain_parent_matching(void **state)
{
        char *src = write_file("policy", policy);
        struct table *t = open_spec("texthash", src);

        (void)state;
        same(domain(t, "example.com"), "secure");
        same(domain(t, "EXAMPLE.COM"), "secure");
        same(domain(t, "sub.example.com"), "verify");
        same(domain(t, "a.b.Example.Com"), "verify");
        /* no ".plain.org": only explicit .domain entries match subdomains */
        same(domain(t, "plain.org"), "encrypt");
        same(domain(t, "www.plain.org"), NULL);
        same(domain(t, "other.com"), "may");
        same(domain(t, "com"), NULL);
        same(domain(t, ""), NULL);
        same(domain(t, "."), NULL);
        /* a plain lookup never does parent matching */
        {
                const char *v;
                char *err;

                assert_int_equal(table_lookup(t, "sub.example.com", &v, &err),
                                 TABLE_NOTFOUND);
        }
        table_close(t);
        free(src);
}

static void test_nexthop(void **state)
{
        char *src = write_file("policy", policy);
        struct table *t = open_spec("texthash", src);

        (void)state;
        same(nexthop(t, "[mx.example.net]:587"), "dane");
        same(nexthop(t, "[MX.Example.NET]:587"), "dane");
        same(nexthop(t, "[mx.example.net]"), "fingerprint");
        same(nexthop(t, "mx.example.net"), "none");
        /* explicit next-hops match only their own entry */
        same(nexthop(t, "[mx.example.net]:25"), NULL);
        same(nexthop(t, "[sub.example.com]"), NULL);
        same(nexthop(t, "sub.example.com:25"), NULL);
        same(nexthop(t, "sub.example.com"), "verify");
        table_close(t);
        free(src);
}

static void test_list_order(void **state)
{
        char *a = write_file("a", "one.example  from-a\n.example  a-parent\n");
        char *b = write_file("b", "one.example  from-b\n"
                                  "two.example  from-b\n"
                                  "sub.two.example  b-exact\n");
        char *value = xasprintf("texthash:%s, texthash:%s inline:{ "
                                "{ three.example = from inline } }, "
                                "static:{ last resort }",
                                a, b);
        struct table_list *l;
        struct table *from = NULL;
        const char *v;
        char *err = NULL;

        (void)state;
        assert_int_equal(table_list_open(value, &l, &err), 0);
        assert_int_equal(table_list_count(l), 4);
        assert_int_equal(table_list_lookup(l, "one.example", &v, &from, &err),
                         TABLE_FOUND);
        assert_string_equal(v, "from-a");
        assert_ptr_equal(from, table_list_get(l, 0));
        assert_int_equal(table_list_lookup(l, "TWO.example", &v, &from, &err),
                         TABLE_FOUND);
        assert_string_equal(v, "from-b");
        assert_ptr_equal(from, table_list_get(l, 1));
        assert_int_equal(table_list_lookup(l, "three.example", &v, &from, &err),
                         TABLE_FOUND);
        assert_string_equal(v, "from inline");
        assert_int_equal(table_list_lookup(l, "none", &v, &from, &err),
                         TABLE_FOUND);
        assert_string_equal(v, "last resort");
        assert_ptr_equal(from, table_list_get(l, 3));
        /* the exact name in any table beats a parent in an earlier one */
        assert_int_equal(
            table_list_lookup_domain(l, "sub.two.example", &v, &from, &err),
            TABLE_FOUND);
        assert_string_equal(v, "b-exact");
        table_list_close(l);

        /* an empty value is an empty list */
        assert_int_equal(table_list_open(" , ", &l, &err), 0);
        assert_int_equal(table_list_count(l), 0);
        assert_int_equal(table_list_lookup(l, "x", &v, NULL, &err),
                         TABLE_NOTFOUND);
        table_list_close(l);

        /* a bad member fails the list, naming it */
        free(value);
        value = xasprintf("texthash:%s, lmdb:%s/none", a, dir);
        assert_int_equal(table_list_open(value, &l, &err), -1);
        assert_null(l);
        assert_non_null(strstr(err, "none.lmdb"));
        free(err);
        assert_int_equal(table_list_open("inline:{ a=b", &l, &err), -1);
        free(err);
        free(value);
        free(a);
        free(b);
}

static void test_lmdb_compile(void **state)
{
        char *src = write_file("tls_policy", policy);
        char *spec = xasprintf("lmdb:%s", src), *err = NULL;
        char *db = xasprintf("%s.lmdb", src), *lock;
        enum table_freshness f;
        struct table *t;
        struct stat st;

        (void)state;
        assert_int_equal(table_freshness(spec, &f, &err), 0);
        assert_int_equal(f, TABLE_NOT_BUILT);
        assert_int_equal(table_compile(spec, &err), 0);
        assert_int_equal(stat(db, &st), 0);
        lock = xasprintf("%s-lock", db);
        assert_int_not_equal(stat(lock, &st), 0);
        assert_int_equal(table_freshness(spec, &f, &err), 0);
        assert_int_equal(f, TABLE_UP_TO_DATE);

        t = open_spec("hash", src); /* an alias */
        same(domain(t, "sub.example.com"), "verify");
        same(nexthop(t, "[mx.example.net]:587"), "dane");
        assert_false(table_changed(t));

        /* touch the source into the future: the table is older */
        struct timespec ts[2] = {{0, UTIME_OMIT}, {time(NULL) + 10, 0}};
        assert_int_equal(utimensat(AT_FDCWD, src, ts, 0), 0);
        assert_int_equal(table_freshness(spec, &f, &err), 0);
        assert_int_equal(f, TABLE_OLDER);
        assert_string_equal(table_freshness_name(f), "older than its source");

        /* rebuilding replaces the file: the open table sees the change but
         * keeps answering from the version it opened */
        free(write_file("tls_policy", "example.com  new\n"));
        assert_int_equal(table_compile(spec, &err), 0);
        assert_true(table_changed(t));
        same(domain(t, "example.com"), "secure");
        table_close(t);
        t = open_spec("proxy:lmdb", src); /* Postfix's proxymap prefix */
        same(domain(t, "example.com"), "new");
        same(domain(t, "sub.example.com"), NULL);
        table_close(t);

        assert_int_equal(table_freshness("texthash:/x", &f, &err), 0);
        assert_int_equal(f, TABLE_NOT_COMPILED);
        assert_int_equal(table_compile("texthash:/x", &err), -1);
        assert_non_null(strstr(err, "texthash"));
        free(err);
        free(lock);
        free(db);
        free(spec);
        free(src);
}

static void test_lmdb_errors(void **state)
{
        char *big = xmalloc(2000), *src, *spec, *err = NULL;
        struct table *t;

        (void)state;
        memset(big, 'k', 1000);
        strcpy(big + 1000, " value\n");
        src = write_file("long", big);
        spec = xasprintf("lmdb:%s", src);
        assert_int_equal(table_compile(spec, &err), -1);
        assert_non_null(strstr(err, "long, line 1: key is 1000 bytes"));
        free(err);
        free(spec);
        free(src);
        free(big);

        /* a file that is not LMDB */
        src = write_file("junk.lmdb", "this is not a database\n");
        spec = xasprintf("lmdb:%s/junk", dir);
        assert_int_equal(table_open(spec, &t, &err), -1);
        assert_non_null(strstr(err, "junk.lmdb"));
        free(err);
        free(spec);
        free(src);

        /* a source that was never compiled: the error says how */
        src = write_file("uncompiled", "a b\n");
        spec = xasprintf("lmdb:%s", src);
        assert_int_equal(table_open(spec, &t, &err), -1);
        assert_non_null(strstr(err, "uncompiled.lmdb: No such file"));
        assert_non_null(strstr(err, "postern map lmdb:"));
        free(err);
        free(spec);
        free(src);

        /* missing source */
        spec = xasprintf("lmdb:%s/nosource", dir);
        assert_int_equal(table_compile(spec, &err), -1);
        assert_non_null(strstr(err, "nosource: No such file"));
        free(err);
        free(spec);
}

static void test_lmdb_empty_and_walk(void **state)
{
        char *src = write_file("empty", "# nothing\n\n");
        char *spec = xasprintf("lmdb:%s", src), *err = NULL;
        struct table *t;
        const char *v;

        (void)state;
        assert_int_equal(table_compile(spec, &err), 0);
        assert_int_equal(table_open(spec, &t, &err), 0);
        assert_int_equal(table_lookup(t, "x", &v, &err), TABLE_NOTFOUND);
        assert_int_equal(table_lookup(t, "", &v, &err), TABLE_NOTFOUND);
        table_close(t);
        free(spec);
        free(src);
}

/* setup - a scratch directory */
static int setup(void **state)
{
        (void)state;
        snprintf(dir, sizeof(dir), "/tmp/postern-table-XXXXXX");
        if (mkdtemp(dir) == NULL)
                return -1;
        log_init("test");
        return 0;
}

/* teardown - remove it */
static int teardown(void **state)
{
        (void)state;
        return scratch_remove(dir);
}

/* test_pattern_whole_keys - pattern tables are asked for whole keys
 * only: no parent domains, no address without its extension or local
 * part, as Postfix's access(5) and address tables */
static void test_pattern_whole_keys(void **state)
{
        char *dom = write_file("d.re", "/^\\.x\\.example$/ dotted\n");
        char *neg = write_file("n.re", "!/@/ no-at\n");
        char *th = write_file("p.th", "example  parent\n.example  parent\n");
        char *v1 = xasprintf("regexp:%s texthash:%s", dom, th);
        char *v2 = xasprintf("regexp:%s texthash:%s", neg, th);
        struct table_list *l;
        const char *v;
        char *err = NULL;

        (void)state;
        /* a parent domain (".x.example", which the pattern matches when
         * it is the whole key) is for the texthash table only */
        assert_int_equal(table_list_open(v1, &l, &err), 0);
        assert_int_equal(
            table_list_lookup_domain(l, "a.x.example", &v, NULL, &err),
            TABLE_FOUND);
        assert_string_equal(v, "parent");
        assert_int_equal(
            table_list_lookup_domain(l, ".x.example", &v, NULL, &err),
            TABLE_FOUND);
        assert_string_equal(v, "dotted");
        table_list_close(l);
        /* "!/@/" sees only whole keys; "example" is one when asked for
         * as such */
        assert_int_equal(table_list_open(v2, &l, &err), 0);
        assert_int_equal(
            table_list_lookup_addr(l, "u+e@example", "+", &v, &err),
            TABLE_NOTFOUND);
        assert_int_equal(
            table_list_lookup_partial(l, "example", &v, NULL, &err),
            TABLE_FOUND);
        assert_string_equal(v, "parent");
        assert_int_equal(table_list_lookup(l, "example", &v, NULL, &err),
                         TABLE_FOUND);
        assert_string_equal(v, "no-at");
        table_list_close(l);
        free(v1);
        free(v2);
        free(dom);
        free(neg);
        free(th);
}

/* the keys of an address in order, with what each one is */
static void test_addr_keys(void **state)
{
        struct strlist k = {0};
        enum table_addr_key kinds[TABLE_ADDR_MAXKEYS];

        (void)state;
        table_addr_keys("User+Ext@Example.ORG", "+-", TABLE_ADDR_LOCAL, &k,
                        kinds);
        assert_int_equal(k.n, 5);
        assert_string_equal(k.v[0], "user+ext@example.org");
        assert_string_equal(k.v[1], "user@example.org");
        assert_string_equal(k.v[2], "user+ext");
        assert_string_equal(k.v[3], "user");
        assert_string_equal(k.v[4], "@example.org");
        assert_int_equal(kinds[1], TABLE_KEY_BARE);
        assert_int_equal(kinds[3], TABLE_KEY_LOCAL_BARE);
        assert_int_equal(kinds[4], TABLE_KEY_DOMAIN);
        strlist_clear(&k);
        /* no extension, no domain key, no local keys */
        table_addr_keys("a@b", "+", TABLE_ADDR_NO_DOMAIN, &k, NULL);
        assert_int_equal(k.n, 1);
        strlist_clear(&k);
        /* a delimiter first in the local part cuts nothing; an
         * unqualified address is its own local part, once */
        table_addr_keys("+x@b", "+", TABLE_ADDR_LOCAL, &k, kinds);
        assert_int_equal(k.n, 3);
        assert_string_equal(k.v[1], "+x");
        assert_int_equal(kinds[1], TABLE_KEY_LOCAL);
        strlist_clear(&k);
        table_addr_keys("u-e", "-", TABLE_ADDR_LOCAL, &k, kinds);
        assert_int_equal(k.n, 2);
        assert_string_equal(k.v[1], "u");
        assert_int_equal(kinds[1], TABLE_KEY_BARE);
        strlist_clear(&k);
}

/* which key found an address; pattern tables see the whole address */
static void test_find_addr(void **state)
{
        char *re = write_file("fa.re", "/^whole\\+x@d$/ pattern\n");
        char *v1 = xasprintf("regexp:%s inline:{ u@d=bare, u=local, "
                             "@d=domain, whole=local-whole }",
                             re);
        struct table_list *l;
        enum table_addr_key which;
        const char *v;
        char *err = NULL;

        (void)state;
        assert_int_equal(table_list_open(v1, &l, &err), 0);
        assert_int_equal(
            table_list_find_addr(l, "u+x@d", "+", 0, &v, &which, &err),
            TABLE_FOUND);
        assert_string_equal(v, "bare");
        assert_int_equal(which, TABLE_KEY_BARE);
        assert_int_equal(table_list_find_addr(l, "u+x@other", "+",
                                              TABLE_ADDR_LOCAL, &v, &which,
                                              &err),
                         TABLE_FOUND);
        assert_string_equal(v, "local");
        assert_int_equal(which, TABLE_KEY_LOCAL_BARE);
        assert_int_equal(
            table_list_find_addr(l, "v@d", "+", 0, &v, &which, &err),
            TABLE_FOUND);
        assert_int_equal(which, TABLE_KEY_DOMAIN);
        assert_int_equal(table_list_find_addr(l, "whole+x@d", "+",
                                              TABLE_ADDR_LOCAL, &v, &which,
                                              &err),
                         TABLE_FOUND);
        assert_string_equal(v, "pattern");
        assert_int_equal(which, TABLE_KEY_FULL);
        assert_int_equal(table_list_find_addr(l, "v@e", "+",
                                              TABLE_ADDR_NO_DOMAIN, &v, &which,
                                              &err),
                         TABLE_NOTFOUND);
        table_list_close(l);
        free(v1);
        free(re);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_domain_parent_matching),
            cmocka_unit_test(test_nexthop),
            cmocka_unit_test(test_list_order),
            cmocka_unit_test(test_pattern_whole_keys),
            cmocka_unit_test(test_addr_keys),
            cmocka_unit_test(test_find_addr),
            cmocka_unit_test(test_lmdb_compile),
            cmocka_unit_test(test_lmdb_errors),
            cmocka_unit_test(test_lmdb_empty_and_walk),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}

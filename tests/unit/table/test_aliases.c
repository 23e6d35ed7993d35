/* SPDX-License-Identifier: MIT */
/* test_aliases.c - the aliases(5) source format: parser, texthash: and
 * lmdb: builds with TABLE_OPEN_ALIASES, value splitting */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../capture.h"
#include "../scratch.h"
#include "log/log.h"
#include "table/table.h"
#include "table/table_int.h"

static char dir[256];
static char errfile[300];

/* The file postalias was compared with (tests/integration/test_aliases.py
 * compares the two programs on it too). */
static const char sample[] = "# comment\n"
                             "Postmaster: root\n"
                             "\"Foo Bar\": a, b,\n"
                             "  c\n"
                             "nocolon value\n"
                             "empty:\n"
                             "\"q:x\"  :  z\n"
                             "a:  x,    y  ,z\n"
                             "b: \"q  r\"@x\n"
                             "c\t:x\n"
                             "\"d\\\"e\": f\n"
                             "user+ext: g\n"
                             "\n"
                             "  cont\n"
                             "pipe: \"|/bin/cmd arg\", /var/f, :include:/x\n"
                             "postmaster: second\n";

/* write_sample - DIR/aliases; returns the path (static) */
static const char *write_sample(void)
{
        static char path[600];
        FILE *fp;

        snprintf(path, sizeof(path), "%s/aliases", dir);
        fp = fopen(path, "w");
        assert_non_null(fp);
        fputs(sample, fp);
        fclose(fp);
        return path;
}

/* expect - key has value in t (NULL: not found) */
static void expect(struct table *t, const char *key, const char *want)
{
        const char *v = NULL;
        char *err = NULL;
        enum table_status s = table_lookup(t, key, &v, &err);

        if (want == NULL) {
                assert_int_equal(s, TABLE_NOTFOUND);
                return;
        }
        assert_int_equal(s, TABLE_FOUND);
        assert_string_equal(v, want);
}

/* check_sample - the entries postalias makes of sample */
static void check_sample(struct table *t)
{
        expect(t, "postmaster", "root");
        expect(t, "foo bar", "a, b, c");
        expect(t, "q:x", "z");
        expect(t, "a", "x, y, z");
        expect(t, "b", "\"q  r\"@x");
        expect(t, "c", "x");
        expect(t, "d\"e", "f");
        expect(t, "user+ext", "g cont");
        expect(t, "pipe", "\"|/bin/cmd arg\", /var/f, :include:/x");
        expect(t, "nocolon", NULL);
        expect(t, "nocolon value", NULL);
        expect(t, "empty", NULL);
}

static void test_texthash(void **state)
{
        char *spec = xasprintf("texthash:%s", write_sample());
        struct table *t = NULL;
        char *err = NULL, *out;

        (void)state;
        capture_begin(errfile);
        assert_int_equal(table_open_flags(spec, TABLE_OPEN_ALIASES, &t, &err),
                         0);
        out = capture_end(errfile);
        check_sample(t);
        /* warnings name file and line, as postalias's */
        assert_non_null(strstr(out, "aliases, line 5: need name:value pair"));
        assert_non_null(strstr(out, "aliases, line 6: need name:value pair"));
        assert_non_null(strstr(out, "aliases, line 16: duplicate entry: "
                                    "\"postmaster\""));
        free(out);
        table_close(t);
        /* without the flag, the same file is a plain "key value" table */
        capture_begin(errfile);
        assert_int_equal(table_open(spec, &t, &err), 0);
        free(capture_end(errfile));
        expect(t, "postmaster:", "root");
        expect(t, "postmaster", NULL);
        table_close(t);
        free(spec);
}

static void test_lmdb_build(void **state)
{
        char *spec = xasprintf("hash:%s", write_sample());
        struct table *t = NULL;
        char *err = NULL;

        (void)state;
        capture_begin(errfile);
        assert_int_equal(table_compile_flags(spec, TABLE_OPEN_ALIASES, &err),
                         0);
        free(capture_end(errfile));
        /* a compiled table reads the same whatever the flag */
        assert_int_equal(table_open(spec, &t, &err), 0);
        check_sample(t);
        table_close(t);
        free(spec);
}

static void test_nul_byte(void **state)
{
        static const char text[] = "a: b\n\0: c\n";
        struct table_memtab *m = table_memtab_new();
        char *err = NULL;

        (void)state;
        assert_int_equal(
            table_parse_aliases("f", text, sizeof(text) - 1, NULL, m, &err),
            -1);
        assert_non_null(err);
        assert_non_null(strstr(err, "f, line 2: NUL byte"));
        free(err);
        table_memtab_free(m);
}

/* split - table_alias_split of value joined with "|" */
static void split(const char *value, const char *want)
{
        struct strlist l = {0};
        struct strbuf sb;

        strbuf_init(&sb);
        table_alias_split(value, &l);
        for (size_t i = 0; i < l.n; i++)
                strbuf_printf(&sb, "%s%s", i ? "|" : "", l.v[i]);
        assert_string_equal(strbuf_cstr(&sb), want);
        strbuf_clear(&sb);
        strlist_clear(&l);
}

static void test_split(void **state)
{
        (void)state;
        split("a, b,c", "a|b|c");
        split("  a  b , , c\t", "a b|c");
        split("\"x, y\"@d, e", "\"x, y\"@d|e");
        split("\"a\\\"b, c\"@d", "\"a\\\"b, c\"@d");
        split("a\\,b", "a\\,b");
        split("", "");
        split(",,", "");
        split("\"unterminated, x", "\"unterminated, x");
}

/* setup - a scratch directory */
static int setup(void **state)
{
        (void)state;
        snprintf(dir, sizeof(dir), "/tmp/postern-aliases-XXXXXX");
        if (mkdtemp(dir) == NULL)
                return -1;
        snprintf(errfile, sizeof(errfile), "%s/stderr", dir);
        log_init("test");
        return 0;
}

/* teardown - remove the scratch directory */
static int teardown(void **state)
{
        (void)state;
        return scratch_remove(dir);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_texthash),
            cmocka_unit_test(test_lmdb_build),
            cmocka_unit_test(test_nul_byte),
            cmocka_unit_test(test_split),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}

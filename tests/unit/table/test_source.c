/* SPDX-License-Identifier: MIT */
/* test_source.c - table source parsing: texthash:, cidr:, inline:, static: */
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
#include <unistd.h>

#include "../scratch.h"
#include "../capture.h"
#include "log/log.h"
#include "table/table.h"
#include "table/table_int.h"

static char dir[256];
static char errfile[300];

/* path_of - DIR/name in a static buffer */
static const char *path_of(const char *name)
{
        static char path[600];

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        return path;
}

/* write_file - DIR/name with len bytes; returns the path */
static const char *write_file(const char *name, const char *data, size_t len)
{
        const char *path = path_of(name);
        FILE *fp = fopen(path, "wb");

        assert_non_null(fp);
        assert_int_equal(fwrite(data, 1, len, fp), len);
        fclose(fp);
        return path;
}

/* open_text - texthash: table of text; NULL with *err on failure */
static struct table *open_text(const char *text, size_t len, char **err)
{
        const char *path = write_file("src", text, len);
        char *spec = xasprintf("texthash:%s", path);
        struct table *t = NULL;

        *err = NULL;
        if (table_open(spec, &t, err) < 0)
                t = NULL;
        free(spec);
        return t;
}

/* expect - key has value in t */
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

static void test_continuation_and_comments(void **state)
{
        const char text[] = "# comment\n"
                            "\n"
                            "a   one\n"
                            "  two\n"
                            "\n"
                            "    # an indented comment does not end it\n"
                            "\tthree \t \n"
                            "B\tx\n"
                            "#c y\n";
        char *err;
        struct table *t = open_text(text, sizeof(text) - 1, &err);

        (void)state;
        assert_non_null(t);
        expect(t, "a", "one  two\tthree");
        expect(t, "b", "x");
        expect(t, "B", "x");
        expect(t, "#c", NULL);
        expect(t, "two", NULL);
        table_close(t);
}

static void test_warnings_name_file_and_line(void **state)
{
        const char text[] = "  leading value\n"
                            "k first\n"
                            "novalue\n"
                            "k second\n"
                            "trailing \t \n";
        char *err, *out;
        struct table *t;

        (void)state;
        capture_begin(errfile);
        t = open_text(text, sizeof(text) - 1, &err);
        out = capture_end(errfile);
        assert_non_null(t);
        expect(t, "k", "first");
        expect(t, "novalue", NULL);
        expect(t, "trailing", NULL);
        assert_non_null(strstr(out, "src, line 1: logical line must not start "
                                    "with whitespace"));
        assert_non_null(strstr(out, "src, line 3: expected format: key "
                                    "whitespace value"));
        assert_non_null(strstr(out, "src, line 4: duplicate entry: \"k\""));
        assert_non_null(strstr(out, "src, line 5: expected format"));
        assert_non_null(strstr(out, "warning: "));
        free(out);
        table_close(t);
}

static void test_crlf(void **state)
{
        const char text[] = "a.example  encrypt\r\n"
                            "b.example  secure\r\n"
                            "  match=x\r\n"
                            "\r\n"
                            "#x\r\n";
        char *err;
        struct table *t = open_text(text, sizeof(text) - 1, &err);

        (void)state;
        assert_non_null(t);
        expect(t, "a.example", "encrypt");
        expect(t, "b.example", "secure  match=x");
        table_close(t);
}

static void test_long_line(void **state)
{
        size_t n = 100 * 1024;
        char *text = xmalloc(n + 64);
        char *err;
        struct table *t;
        const char *v;

        (void)state;
        memcpy(text, "big ", 4);
        memset(text + 4, 'v', n);
        memcpy(text + 4 + n, "\nsmall s\n", 9);
        t = open_text(text, n + 13, &err);
        assert_non_null(t);
        assert_int_equal(table_lookup(t, "big", &v, &err), TABLE_FOUND);
        assert_int_equal(strlen(v), n);
        expect(t, "small", "s");
        table_close(t);
        free(text);
}

static void test_nul_byte(void **state)
{
        const char text[] = "a b\nc d\0e\nf g\n";
        char *err;
        struct table *t = open_text(text, sizeof(text) - 1, &err);

        (void)state;
        assert_null(t);
        assert_non_null(err);
        assert_non_null(strstr(err, "src, line 2: NUL byte"));
        free(err);
}

static void test_missing_and_unreadable(void **state)
{
        struct table *t;
        char *err = NULL, *spec;

        (void)state;
        spec = xasprintf("texthash:%s", path_of("nonexistent"));
        assert_int_equal(table_open(spec, &t, &err), -1);
        assert_null(t);
        assert_non_null(strstr(err, path_of("nonexistent")));
        assert_non_null(strstr(err, "No such file"));
        free(err);
        free(spec);

        /* a directory cannot be read as a table, even by root */
        spec = xasprintf("texthash:%s", dir);
        assert_int_equal(table_open(spec, &t, &err), -1);
        assert_non_null(strstr(err, dir));
        free(err);
        free(spec);

        if (geteuid() != 0) {
                const char *p = write_file("private", "a b\n", 4);

                chmod(p, 0);
                spec = xasprintf("cidr:%s", p);
                assert_int_equal(table_open(spec, &t, &err), -1);
                assert_non_null(strstr(err, "Permission denied"));
                assert_non_null(strstr(err, p));
                free(err);
                free(spec);
        }
}

static void test_non_utf8_and_case(void **state)
{
        const char text[] = "caf\xe9.example  latin1 \xff\xfe\n"
                            "MiXeD.Example  KeepCase\n";
        char *err;
        struct table *t = open_text(text, sizeof(text) - 1, &err);

        (void)state;
        assert_non_null(t);
        expect(t, "caf\xe9.example", "latin1 \xff\xfe");
        expect(t, "CAF\xe9.EXAMPLE", "latin1 \xff\xfe");
        expect(t, "mixed.example", "KeepCase");
        table_close(t);
}

static void test_empty_file(void **state)
{
        char *err;
        struct table *t = open_text("", 0, &err);

        (void)state;
        assert_non_null(t);
        expect(t, "anything", NULL);
        table_close(t);
}

/* open_spec - table_open; NULL with *err */
static struct table *open_spec(const char *spec, char **err)
{
        struct table *t = NULL;

        *err = NULL;
        if (table_open(spec, &t, err) < 0)
                return NULL;
        return t;
}

static void test_inline(void **state)
{
        char *err;
        struct table *t;

        (void)state;
        t = open_spec("inline:{ Key=Value, { k2 = text with spaces }, "
                      "k3=v3 {k4=a,b} k5={x} k6=a=b }",
                      &err);
        assert_non_null(t);
        expect(t, "KEY", "Value");
        expect(t, "k2", "text with spaces");
        expect(t, "k3", "v3");
        expect(t, "k4", "a,b");
        expect(t, "k5", "{x}");
        expect(t, "k6", "a=b");
        expect(t, "nothere", NULL);
        table_close(t);

        t = open_spec("inline:{ k=1, k=2 }", &err); /* the last wins */
        assert_non_null(t);
        expect(t, "k", "2");
        table_close(t);

        static const char *const bad[] = {
            "inline:{ k1 }",    "inline:{ k1 = v1 }", "inline:{}",
            "inline:k=v",       "inline:{ k=v",       "inline:{ k=v }}",
            "inline:{ =v }",    "inline:{ k= }",      "inline:{ {k=v }",
            "inline:{ k=v } x",
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                t = open_spec(bad[i], &err);
                if (t != NULL)
                        fail_msg("%s: opened", bad[i]);
                assert_non_null(err);
                /* the message quotes the spec */
                assert_non_null(strstr(err, bad[i] + 7));
                free(err);
        }
}

static void test_static(void **state)
{
        char *err;
        struct table *t;

        (void)state;
        t = open_spec("static:{ text with spaces }", &err);
        assert_non_null(t);
        expect(t, "anything", "text with spaces");
        table_close(t);
        t = open_spec("static:OK", &err);
        assert_non_null(t);
        expect(t, "x", "OK");
        table_close(t);

        static const char *const bad[] = {"static:", "static:{}",
                                          "static:{ unbalanced", "static:{ }"};
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                t = open_spec(bad[i], &err);
                if (t != NULL)
                        fail_msg("%s: opened", bad[i]);
                assert_non_null(err);
                free(err);
        }
}

static void test_bad_specs(void **state)
{
        static const char *const bad[] = {
            "", "texthash", "texthash:", ":x", "nis:/etc/x", "LMDB:/x"};
        char *err;

        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                if (open_spec(bad[i], &err) != NULL)
                        fail_msg("%s: opened", bad[i]);
                assert_non_null(err);
                free(err);
        }
}

/* cidr_err - the error of a cidr source, or NULL when it opens */
static char *cidr_err(const char *text)
{
        const char *path = write_file("c.cidr", text, strlen(text));
        char *spec = xasprintf("cidr:%s", path);
        struct table *t;
        char *err = NULL;

        if (table_open(spec, &t, &err) == 0)
                table_close(t);
        free(spec);
        return err;
}

static void test_cidr(void **state)
{
        const char text[] = "192.168.1.0/24 first\n"
                            "192.168.0.0/16 second\n"
                            "[2001:db8::]/32 six\n"
                            "[::1] loop\n"
                            "10.0.0.1  one host\n"
                            "if 172.16.0.0/12\n"
                            "  # comment\n"
                            "!172.16.0.0/16 not16\n"
                            "endif\n"
                            "0.0.0.0/0 any\n";
        const char *path = write_file("c.cidr", text, sizeof(text) - 1);
        char *spec = xasprintf("cidr:%s", path), *err;
        struct table *t = open_spec(spec, &err);

        (void)state;
        assert_non_null(t);
        expect(t, "192.168.1.9", "first");
        expect(t, "192.168.7.9", "second");
        expect(t, "2001:DB8::5", "six");
        expect(t, "::1", "loop");
        expect(t, "10.0.0.1", "one host");
        expect(t, "172.17.0.1", "not16");
        expect(t, "172.16.0.1", "any");
        expect(t, "8.8.8.8", "any");
        expect(t, "::2", NULL);
        expect(t, "[::1]", NULL);
        expect(t, "host.example", NULL);
        table_close(t);
        free(spec);

        static const struct {
                const char *text, *want;
        } bad[] = {
            {"garbage x\n", "line 1: bad address pattern"},
            {"a b\n1.2.3.0/24\n", "line 1: bad address pattern"},
            {"1.2.3.0/24 ok\n1.2.3.0/24\n", "line 2: no lookup result"},
            {"1.2.3.4/33 x\n", "line 1: bad mask length"},
            {"::/129 x\n", "bad mask length"},
            {"1.2.3.4/ x\n", "bad mask length"},
            {"1.2.3.4/-1 x\n", "bad mask length"},
            {"10.0.0.1/8 x\n", "line 1: non-null host address bits"},
            {"2001:db8::1/32 x\n", "perhaps you should use \"2001:db8::/32\""},
            {"300.1.1.1 x\n", "bad address pattern"},
            {"endif\n", "line 1: ENDIF without IF"},
            {"endif x\n", "line 1: garbage after ENDIF"},
            {"if 1.0.0.0/8\nif 1.2.0.0/16\nendif\n",
             "line 1: IF has no matching"},
            {"1.0.0.0/8 a\nif 1.0.0.0/8\n", "line 2: IF has no matching"},
            {"if\n", "IF needs one address pattern"},
            {"1.2.3.4 a\0b\n", "line 1: NUL byte"},
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                /* the NUL case needs its length */
                size_t len = strlen(bad[i].text);

                if (i == ARRAY_SIZE(bad) - 1)
                        len = 12; /* "1.2.3.4 a\0b\n" */
                write_file("c.cidr", bad[i].text, len);
                spec = xasprintf("cidr:%s", path);
                t = open_spec(spec, &err);
                free(spec);
                if (t != NULL || err == NULL)
                        fail_msg("case %zu opened", i);
                if (strstr(err, bad[i].want) == NULL ||
                    strstr(err, path) == NULL)
                        fail_msg("case %zu: %s", i, err);
                free(err);
        }
        /* the message suggests the network */
        err = cidr_err("10.0.0.1/8 x\n");
        assert_non_null(strstr(err, "\"10.0.0.0/8\""));
        free(err);
}

/* count_entry - table_walk callback */
static int count_entry(const char *key, const char *value, void *arg)
{
        (void)key;
        (void)value;
        (*(int *)arg)++;
        return 0;
}

static void test_walk_order(void **state)
{
        const char text[] = "z 1\na 2\nm 3\na 4\n";
        char *err, *out;
        struct table *t;
        int n = 0;

        (void)state;
        capture_begin(errfile);
        t = open_text(text, sizeof(text) - 1, &err);
        out = capture_end(errfile);
        free(out);
        assert_non_null(t);
        assert_int_equal(table_walk(t, count_entry, &n, &err), 0);
        assert_int_equal(n, 3);
        table_close(t);
}

/* setup - a scratch directory */
static int setup(void **state)
{
        (void)state;
        snprintf(dir, sizeof(dir), "/tmp/postern-table-XXXXXX");
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
            cmocka_unit_test(test_continuation_and_comments),
            cmocka_unit_test(test_warnings_name_file_and_line),
            cmocka_unit_test(test_crlf),
            cmocka_unit_test(test_long_line),
            cmocka_unit_test(test_nul_byte),
            cmocka_unit_test(test_missing_and_unreadable),
            cmocka_unit_test(test_non_utf8_and_case),
            cmocka_unit_test(test_empty_file),
            cmocka_unit_test(test_inline),
            cmocka_unit_test(test_static),
            cmocka_unit_test(test_bad_specs),
            cmocka_unit_test(test_cidr),
            cmocka_unit_test(test_walk_order),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}

/* SPDX-License-Identifier: MIT */
/* test_rules.c - the rule tables regexp: and pcre: (one parser, two
 * pattern engines) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../scratch.h"
#include "log/log.h"
#include "table/table.h"
#include "table/table_int.h"

static char dir[256];
static char path[300];

/* open_rules - TYPE:FILE for a file holding text; NULL with *err */
static struct table *open_rules(const char *type, const char *text, char **err)
{
        FILE *fp = fopen(path, "wb");
        char *spec = xasprintf("%s:%s", type, path);
        struct table *t = NULL;

        assert_non_null(fp);
        assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
        fclose(fp);
        *err = NULL;
        if (table_open(spec, &t, err) < 0)
                t = NULL;
        free(spec);
        return t;
}

/* xopen_rules - open_rules that must succeed */
static struct table *xopen_rules(const char *type, const char *text)
{
        char *err;
        struct table *t = open_rules(type, text, &err);

        if (t == NULL)
                fail_msg("%s: %s", type, err);
        return t;
}

/* expect - key has value in t (NULL: not found) */
static void expect(struct table *t, const char *key, const char *want)
{
        const char *v = NULL;
        char *err = NULL;
        enum table_status s = table_lookup(t, key, &v, &err);

        if (s == TABLE_ERROR)
                fail_msg("%s: %s", key, err);
        if (want == NULL) {
                if (s != TABLE_NOTFOUND)
                        fail_msg("%s: found \"%s\"", key, v);
                return;
        }
        if (s != TABLE_FOUND)
                fail_msg("%s: not found, want \"%s\"", key, want);
        assert_string_equal(v, want);
}

/* expect_err - opening TYPE with text fails with "FILE, line N: why" */
static void expect_err(const char *type, const char *text, unsigned line,
                       const char *why)
{
        char *err, *want = xasprintf("%s, line %u: %s", path, line, why);
        struct table *t = open_rules(type, text, &err);

        if (t != NULL)
                fail_msg("%s: %s opened", type, text);
        assert_non_null(err);
        if (strncmp(err, want, strlen(want)) != 0)
                fail_msg("%s: got \"%s\", want \"%s...\"", type, err, want);
        free(err);
        free(want);
}

/* The syntax both types share. */
static const char shared[] =
    "# comment\n"
    "/^mx([0-9]+)\\.(com|net)$/\tOK $1 in ${2}, $(1) costs $$5\n"
    "/^(x)|(y)$/\tone=[$1] two=[$2]\n"
    "if /\\.example\\.org$/\n"
    "if !/^smtp/\n"
    "/^(www|mail)\\./\tREJECT $1\n"
    "endif\n"
    "!/^smtp1/\tother smtp $$\n"
    "endif\n"
    "|^a/b$|\tslashes\n"
    "/^multi/\tfirst\n"
    "  continued\n";

/* shared_lookups - what the shared rules answer, for either type */
static void shared_lookups(struct table *t)
{
        expect(t, "mx12.net", "OK 12 in net, 12 costs $5");
        expect(t, "MX3.COM", "OK 3 in COM, 3 costs $5");
        expect(t, "x", "one=[x] two=[]");
        expect(t, "y", "one=[] two=[y]");
        expect(t, "www.example.org", "REJECT www");
        expect(t, "smtp.example.org", "other smtp $");
        expect(t, "smtp1.example.org", NULL);
        expect(t, "relay.example.org", "other smtp $");
        expect(t, "www.example.com", NULL);
        expect(t, "a/b", "slashes");
        expect(t, "multi", "first  continued");
        expect(t, "", NULL);
}

static void test_regexp_syntax(void **state)
{
        struct table *t = xopen_rules("regexp", shared);

        (void)state;
        shared_lookups(t);
        table_close(t);
}

static void test_regexp_flags(void **state)
{
        struct table *t = xopen_rules("regexp", "/^CASE$/i\tsensitive\n"
                                                "/^case$/\tinsensitive\n"
                                                "/^a(b)+$/x\tbasic\n"
                                                "/^l$/m\tline\n");

        (void)state;
        expect(t, "CASE", "sensitive");
        expect(t, "Case", "insensitive");
        /* x toggles the extended syntax off: "(b)+" is then literal */
        expect(t, "ab+", NULL);
        expect(t, "a(b)+", "basic");
        expect(t, "k\nl", "line");
        table_close(t);
}

static void test_regexp_errors(void **state)
{
        (void)state;
        expect_err("regexp", "# one\n/a/q x\n", 2, "unknown flag 'q'");
        expect_err("regexp", "/[a-/ x\n", 1, "bad regular expression: ");
        expect_err("regexp", "/(a)/ $2\n", 1, "$n beyond the pattern's groups");
        expect_err("regexp", "!/(a)/ $1\n", 1,
                   "$n in the result of a negated pattern");
        expect_err("regexp", "/a/ $x\n", 1, "bad $ in the result");
        expect_err("regexp", "/a/\n", 1, "no lookup result");
        expect_err("regexp", "/a b\n", 1, "no closing /");
        expect_err("regexp", "\n\nendif\n", 3, "ENDIF without IF");
        expect_err("regexp", "if /a/\n/b/ c\n", 1, "IF has no matching ENDIF");
}

/* setup - a scratch directory */
static int setup(void **state)
{
        (void)state;
        snprintf(dir, sizeof(dir), "/tmp/postern-rules-XXXXXX");
        if (mkdtemp(dir) == NULL)
                return -1;
        snprintf(path, sizeof(path), "%s/rules", dir);
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
            cmocka_unit_test(test_regexp_syntax),
            cmocka_unit_test(test_regexp_flags),
            cmocka_unit_test(test_regexp_errors),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}

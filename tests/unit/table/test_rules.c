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

/* walk_entry - "key=value;" appended to the strbuf arg */
static int walk_entry(const char *key, const char *value, void *arg)
{
        strbuf_printf(arg, "%s=%s;", key, value);
        return 0;
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

/* the types: one parser, so the same rules answer the same */
static const char *const types[] = {"regexp", "pcre"};

static void test_syntax(void **state)
{
        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
                struct table *t = xopen_rules(types[i], shared);

                shared_lookups(t);
                table_close(t);
        }
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

static void test_errors(void **state)
{
        (void)state;
        for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
                const char *ty = types[i];

                expect_err(ty, "# one\n/a/q x\n", 2, "unknown flag 'q'");
                expect_err(ty, "/(a)/ $2\n", 1,
                           "$n beyond the pattern's groups");
                expect_err(ty, "!/(a)/ $1\n", 1,
                           "$n in the result of a negated pattern");
                expect_err(ty, "/a/ $x\n", 1, "bad $ in the result");
                expect_err(ty, "/a/\n", 1, "no lookup result");
                expect_err(ty, "/a b\n", 1, "no closing /");
                expect_err(ty, "\n\nendif\n", 3, "ENDIF without IF");
                expect_err(ty, "if /a/\n/b/ c\n", 1,
                           "IF has no matching ENDIF");
                expect_err(ty, "if /(/\nendif\n", 1,
                           "bad regular expression: ");
        }
        expect_err("regexp", "/[a-/ x\n", 1, "bad regular expression: ");
}

static void test_pcre_flags(void **state)
{
        struct table *t = xopen_rules("pcre", "/^CASE$/i\tsensitive\n"
                                              "/^case$/\tinsensitive\n"
                                              "/^a.b$/\tdot all\n"
                                              "/^c.d$/s\tdot\n"
                                              "/^e$/m\tline\n"
                                              "/^f$/E\tend only\n"
                                              "/^g(a+)/U\tungreedy $1\n"
                                              "/^h(a+)/\tgreedy $1\n"
                                              "/k l/x\textended\n"
                                              "/l/A\tanchored\n"
                                              "/^X$/X\textra\n"
                                              "/^(?<n>n)(o)?$/\tnamed $1 [$2]\n"
                                              "/^u(.)$/\tbyte $1\n");

        (void)state;
        /* caseless by default (keys are not folded), i toggles it */
        expect(t, "CASE", "sensitive");
        expect(t, "Case", "insensitive");
        /* DOTALL by default, s toggles it */
        expect(t, "a\nb", "dot all");
        expect(t, "c\nd", NULL);
        expect(t, "cxd", "dot");
        expect(t, "q\ne", "line");
        expect(t, "f\n", NULL);
        expect(t, "f", "end only");
        expect(t, "gaaa", "ungreedy a");
        expect(t, "haaa", "greedy aaa");
        expect(t, "kl", "extended");
        expect(t, "k l", NULL);
        expect(t, "la", "anchored");
        expect(t, "al", NULL);
        expect(t, "x", "extra");
        expect(t, "n", "named n []");
        /* byte mode: one byte is one character, any byte is a key */
        expect(t, "u\xff", "byte \xff");
        expect(t, "u\xc3\xa9", NULL);
        table_close(t);
}

static void test_pcre_errors(void **state)
{
        (void)state;
        expect_err("pcre", "/a/I x\n", 1, "unknown flag 'I'");
        expect_err("pcre", "\n\n/a(b/ x\n", 3,
                   "bad regular expression: missing closing parenthesis at "
                   "offset 3");
        expect_err("pcre", "/(*UTF)a/ x\n", 1,
                   "bad regular expression: using UTF is disabled");
        /* Postfix skips such a rule: groups are numbered from 1 */
        expect_err("pcre", "/(a)/ $0\n", 1, "$0 in the result");
}

static void test_pcre_match_limit(void **state)
{
        const char *v = NULL;
        char *err = NULL, *want;
        struct table *t = xopen_rules("pcre", "/^b/\tb\n"
                                              "# runaway backtracking\n"
                                              "/^(a+)+$/\tall a\n"
                                              "/^a/\tstarts with a\n");

        (void)state;
        expect(t, "aaaa", "all a");
        expect(t, "b", "b");
        /* the limit stops the match: a lookup error, not "not found" and
         * not the next rule's result */
        assert_int_equal(
            table_lookup(t, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", &v, &err),
            TABLE_ERROR);
        assert_non_null(err);
        want = xasprintf("%s, line 3: ", path);
        assert_memory_equal(err, want, strlen(want));
        assert_non_null(strstr(err, "match limit exceeded"));
        free(want);
        free(err);
        /* and the table still works */
        expect(t, "aab", "starts with a");
        table_close(t);
}

static void test_walk(void **state)
{
        struct table *t = xopen_rules("pcre", "if /x/\n/^(a)/i\tA $1\n"
                                              "endif\n!|b|\tnot b\n");
        struct strbuf sb;
        char *err = NULL;

        (void)state;
        strbuf_init(&sb);
        assert_int_equal(table_walk(t, walk_entry, &sb, &err), 0);
        assert_string_equal(strbuf_cstr(&sb), "/^(a)/i=A $1;!|b|=not b;");
        strbuf_clear(&sb);
        table_close(t);
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
            cmocka_unit_test(test_syntax),
            cmocka_unit_test(test_errors),
            cmocka_unit_test(test_regexp_flags),
            cmocka_unit_test(test_pcre_flags),
            cmocka_unit_test(test_pcre_errors),
            cmocka_unit_test(test_pcre_match_limit),
            cmocka_unit_test(test_walk),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}

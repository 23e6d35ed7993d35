/* SPDX-License-Identifier: MIT */
/* test_log_file.c - maillog_file lines: shape, the process ID after a
 * fork (the ID is cached per process), held lines and their flushes */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log/log.h"

/* count_pid_lines - lines of path that carry "[pid]: text" */
static int count_pid_lines(const char *path, long pid, const char *text)
{
        char want[128], line[1024];
        int n = 0;
        FILE *f = fopen(path, "r");

        assert_non_null(f);
        snprintf(want, sizeof(want), "[%ld]: %s", pid, text);
        while (fgets(line, sizeof(line), f))
                if (strstr(line, want))
                        n++;
        fclose(f);
        return n;
}

/* test_pid_after_fork - parent and child each log under their own ID,
 * before and after the fork */
static void test_pid_after_fork(void **state)
{
        char path[] = "/tmp/postern-log-XXXXXX";
        const char *err = NULL;
        int fd = mkstemp(path);
        pid_t child;
        int status;

        (void)state;
        assert_true(fd >= 0);
        close(fd);
        log_init("postern/test");
        assert_int_equal(log_open(path, "host.test", &err), 0);
        log_info("before fork");
        child = fork();
        assert_true(child >= 0);
        if (child == 0) {
                log_info("in the child");
                _exit(0);
        }
        assert_int_equal(waitpid(child, &status, 0), child);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        log_info("after fork");
        assert_int_equal(count_pid_lines(path, getpid(), "before fork"), 1);
        assert_int_equal(count_pid_lines(path, child, "in the child"), 1);
        assert_int_equal(count_pid_lines(path, getpid(), "after fork"), 1);
        assert_int_equal(count_pid_lines(path, getpid(), "in the child"), 0);
        unlink(path);
}

/* file_lines - lines in path */
static int file_lines(const char *path)
{
        char line[1024];
        int n = 0;
        FILE *f = fopen(path, "r");

        assert_non_null(f);
        while (fgets(line, sizeof(line), f))
                n++;
        fclose(f);
        return n;
}

/* line_at - line k (0-based) of path contains text */
static bool line_at(const char *path, int k, const char *text)
{
        char line[1024];
        bool ok = false;
        FILE *f = fopen(path, "r");

        assert_non_null(f);
        for (int i = 0; fgets(line, sizeof(line), f); i++)
                if (i == k)
                        ok = strstr(line, text) != NULL;
        fclose(f);
        return ok;
}

/* open_temp_log - a fresh log file in *path (a mkstemp template) */
static void open_temp_log(char *path, const char *ident)
{
        const char *err = NULL;
        int fd = mkstemp(path);

        assert_true(fd >= 0);
        close(fd);
        log_init(ident);
        assert_int_equal(log_open(path, "host.test", &err), 0);
}

/* test_hold_until_flush - held lines reach the file at log_flush, whole
 * and in order; log_hold(false) writes what is left */
static void test_hold_until_flush(void **state)
{
        char path[] = "/tmp/postern-log-XXXXXX";

        (void)state;
        open_temp_log(path, "test");
        log_hold(true);
        log_info("one");
        log_warnx("two");
        assert_int_equal(file_lines(path), 0);
        log_flush();
        assert_int_equal(file_lines(path), 2);
        assert_true(line_at(path, 0, "postern/test["));
        assert_true(line_at(path, 0, "]: one"));
        assert_true(line_at(path, 1, "]: warning: two"));
        log_info("three");
        assert_int_equal(file_lines(path), 2);
        log_hold(false);
        assert_int_equal(file_lines(path), 3);
        log_info("four"); /* not holding: written at once */
        assert_int_equal(file_lines(path), 4);
        assert_true(line_at(path, 3, "]: four"));
        unlink(path);
}

/* test_hold_bounded - a turn that logs a lot does not grow without end:
 * past 16 KB the held lines are written */
static void test_hold_bounded(void **state)
{
        char path[] = "/tmp/postern-log-XXXXXX";
        char pad[200];

        (void)state;
        memset(pad, 'x', sizeof(pad) - 1);
        pad[sizeof(pad) - 1] = 0;
        open_temp_log(path, "test");
        log_hold(true);
        for (int i = 0; i < 100; i++)
                log_info("%d %s", i, pad);
        int written = file_lines(path);
        assert_true(written > 0 && written < 100);
        log_hold(false);
        assert_int_equal(file_lines(path), 100);
        assert_true(line_at(path, 99, "]: 99 x"));
        unlink(path);
}

/* test_fatal_flushes - a process that holds lines and dies through
 * fatalx leaves them in the file, before its fatal line */
static void test_fatal_flushes(void **state)
{
        char path[] = "/tmp/postern-log-XXXXXX";
        pid_t child;
        int status;

        (void)state;
        open_temp_log(path, "test");
        child = fork();
        assert_true(child >= 0);
        if (child == 0) {
                log_hold(true);
                log_info("held line");
                fatalx("the end");
        }
        assert_int_equal(waitpid(child, &status, 0), child);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
        assert_int_equal(file_lines(path), 2);
        assert_true(line_at(path, 0, "]: held line"));
        assert_true(line_at(path, 1, "]: fatal: the end"));
        unlink(path);
}

/* test_ident_change - the cached line prefix follows log_init */
static void test_ident_change(void **state)
{
        char path[] = "/tmp/postern-log-XXXXXX";

        (void)state;
        open_temp_log(path, "first");
        log_info("a");
        log_init("second");
        log_info("b");
        assert_true(line_at(path, 0, "postern/first["));
        assert_true(line_at(path, 1, "postern/second["));
        unlink(path);
}

/* test_service - log_service names the lines that follow, nests, and
 * goes back to the process's own name; log_init resets it */
static void test_service(void **state)
{
        char path[] = "/tmp/postern-log-XXXXXX";

        (void)state;
        open_temp_log(path, "qmgr");
        log_hold(true);
        log_info("a");
        assert_null(log_service("smtp"));
        log_info("b");
        assert_string_equal(log_service("local"), "smtp");
        log_info("c");
        assert_string_equal(log_program(), "postern/local");
        assert_string_equal(log_service(NULL), "local");
        log_info("d");
        (void)log_service("bounce");
        log_init("qmgr");
        log_info("e");
        log_hold(false);
        assert_int_equal(file_lines(path), 5);
        assert_true(line_at(path, 0, "postern/qmgr["));
        assert_true(line_at(path, 1, "postern/smtp["));
        assert_true(line_at(path, 1, "]: b"));
        assert_true(line_at(path, 2, "postern/local["));
        assert_true(line_at(path, 3, "postern/qmgr["));
        assert_true(line_at(path, 4, "postern/qmgr["));
        unlink(path);
}

/* test_syslog_name - log_set_name renames every ident, the service too,
 * and "" or NULL goes back to "postern" */
static void test_syslog_name(void **state)
{
        char path[] = "/tmp/postern-log-XXXXXX";

        (void)state;
        open_temp_log(path, "qmgr");
        log_set_name("postfix-out");
        log_info("a");
        (void)log_service("smtp");
        log_info("b");
        log_set_name(NULL);
        log_info("c");
        (void)log_service(NULL);
        log_info("d");
        assert_true(line_at(path, 0, "postfix-out/qmgr["));
        assert_true(line_at(path, 1, "postfix-out/smtp["));
        assert_true(line_at(path, 2, "postern/smtp["));
        assert_true(line_at(path, 3, "postern/qmgr["));
        unlink(path);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_pid_after_fork),
            cmocka_unit_test(test_hold_until_flush),
            cmocka_unit_test(test_hold_bounded),
            cmocka_unit_test(test_fatal_flushes),
            cmocka_unit_test(test_ident_change),
            cmocka_unit_test(test_service),
            cmocka_unit_test(test_syslog_name),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

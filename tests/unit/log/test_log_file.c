/* SPDX-License-Identifier: MIT */
/* test_log_file.c - maillog_file lines: shape and the process ID after a
 * fork (the ID is cached per process) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

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

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_pid_after_fork),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: MIT */
/*
 * capture.h - unit tests: catch what the code under test writes to stderr
 * (log lines, warnings) in a file.  Header-only; include after cmocka.h.
 */
#ifndef POSTERN_TEST_CAPTURE_H
#define POSTERN_TEST_CAPTURE_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int capture_saved_stderr = -1;

/* capture_begin - send stderr to path (truncated) */
static void capture_begin(const char *path)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

        assert_true(fd >= 0);
        fflush(stderr);
        capture_saved_stderr = dup(2);
        dup2(fd, 2);
        close(fd);
}

/* capture_end - restore stderr; what was written to path since
 * capture_begin, NUL-terminated (caller frees) */
static char *capture_end(const char *path)
{
        FILE *fp;
        char *buf = NULL;
        size_t n = 0, cap = 0;
        int ch;

        fflush(stderr);
        dup2(capture_saved_stderr, 2);
        close(capture_saved_stderr);
        fp = fopen(path, "r");
        assert_non_null(fp);
        do {
                ch = fgetc(fp);
                if (n + 1 >= cap) {
                        cap = cap ? cap * 2 : 4096;
                        buf = realloc(buf, cap);
                        assert_non_null(buf);
                }
                buf[n++] = ch == EOF ? 0 : (char)ch;
        } while (ch != EOF);
        fclose(fp);
        return buf;
}

#endif

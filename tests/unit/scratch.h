/* SPDX-License-Identifier: MIT */
/*
 * scratch.h - unit tests: remove a scratch directory tree made with
 * mkdtemp, without a shell.  Header-only.
 */
#ifndef POSTERN_TEST_SCRATCH_H
#define POSTERN_TEST_SCRATCH_H

#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

/* scratch_rm_one - nftw callback: remove one entry, deepest first */
static int scratch_rm_one(const char *path, const struct stat *sb, int flag,
                          struct FTW *ftw)
{
        (void)sb;
        (void)flag;
        (void)ftw;
        return remove(path);
}

/* scratch_remove - delete dir and everything below it; 0, or -1 */
static int scratch_remove(const char *dir)
{
        return nftw(dir, scratch_rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0
                                                                        : -1;
}

#endif

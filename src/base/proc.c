/* SPDX-License-Identifier: MIT */
/* proc.c - facts about this process */
#include "base/base.h"

#include <pthread.h>
#include <stdbool.h>
#include <unistd.h>

static pid_t cached_pid; /* 0 when unknown */

/* forked - a child has another process ID */
static void forked(void)
{
        cached_pid = 0;
}

/* base_getpid - getpid() once per process (glibc no longer caches it, so
 * each call is a system call); reset in forked children */
pid_t base_getpid(void)
{
        static bool hooked;

        if (!hooked) {
                (void)pthread_atfork(NULL, NULL, forked);
                hooked = true;
        }
        if (cached_pid == 0)
                cached_pid = getpid();
        return cached_pid;
}

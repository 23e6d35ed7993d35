/* SPDX-License-Identifier: MIT */
/* xmalloc.c - allocation that never returns NULL */
#include "base/base.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* oom - report and abort; there is no sensible recovery */
static void NORETURN oom(size_t n)
{
        fprintf(stderr, "postern: fatal: out of memory (%zu bytes)\n", n);
        abort();
}

/* xmalloc - malloc that aborts on failure */
void *xmalloc(size_t n)
{
        void *p = malloc(n ? n : 1);

        if (p == NULL)
                oom(n);
        return p;
}

/* xcalloc - zeroed array allocation */
void *xcalloc(size_t n, size_t size)
{
        void *p = calloc(n ? n : 1, size ? size : 1);

        if (p == NULL)
                oom(n * size);
        return p;
}

/* xrealloc - realloc that aborts on failure */
void *xrealloc(void *p, size_t n)
{
        void *q = realloc(p, n ? n : 1);

        if (q == NULL)
                oom(n);
        return q;
}

/* xreallocarray - realloc of n elements, overflow-checked */
void *xreallocarray(void *p, size_t n, size_t size)
{
        if (size != 0 && n > SIZE_MAX / size)
                oom(SIZE_MAX);
        return xrealloc(p, n * size);
}

/* xstrdup - copy a C string */
char *xstrdup(const char *s)
{
        return xstrndup(s, strlen(s));
}

/* xstrndup - copy at most n bytes */
char *xstrndup(const char *s, size_t n)
{
        size_t len = strnlen(s, n);
        char *p = xmalloc(len + 1);

        memcpy(p, s, len);
        p[len] = 0;
        return p;
}

/* xasprintf - formatted heap string */
char *xasprintf(const char *fmt, ...)
{
        struct strbuf sb;
        va_list ap;

        strbuf_init(&sb);
        va_start(ap, fmt);
        strbuf_vprintf(&sb, fmt, ap);
        va_end(ap);
        return strbuf_detach(&sb);
}

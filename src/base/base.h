/* SPDX-License-Identifier: MIT */
/*
 * base - allocation, growable strings, string lists and small string
 * helpers.  No mail knowledge lives here.  The x-prefixed allocators never
 * fail: they abort the process when memory runs out.
 */
#ifndef POSTERN_BASE_H
#define POSTERN_BASE_H

#include <stdarg.h>
#include <stdbool.h>
#include <sys/types.h>
#include <stddef.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define PRINTFLIKE(f, a) __attribute__((format(printf, f, a)))
#define VPRINTFLIKE(f) __attribute__((format(printf, f, 0)))
#define NORETURN __attribute__((noreturn))
#else
#define PRINTFLIKE(f, a)
#define VPRINTFLIKE(f)
#define NORETURN
#endif

/* xmalloc - malloc that aborts on failure; never returns NULL. */
void *xmalloc(size_t);
/* xcalloc - zeroed allocation of n elements; aborts on overflow or failure. */
void *xcalloc(size_t, size_t);
/* xrealloc - realloc that aborts on failure. */
void *xrealloc(void *, size_t);
/* xreallocarray - realloc of n elements of size; aborts on overflow. */
void *xreallocarray(void *, size_t, size_t);
/* xstrdup - copy of a C string. */
char *xstrdup(const char *);
/* xstrndup - copy of at most n bytes, always NUL-terminated. */
char *xstrndup(const char *, size_t);
/* xasprintf - formatted, heap-allocated string; caller frees. */
char *xasprintf(const char *, ...) PRINTFLIKE(1, 2);

/* A growable byte string, always NUL-terminated when cap > 0. */
struct strbuf {
        char *s;
        size_t len;
        size_t cap;
};

/* strbuf_init - an empty buffer that owns no memory yet. */
void strbuf_init(struct strbuf *);
/* strbuf_clear - release the memory of the buffer; it may be reused. */
void strbuf_clear(struct strbuf *);
/* strbuf_reset - make the buffer empty, keeping its memory. */
void strbuf_reset(struct strbuf *);
/* strbuf_add - append n bytes (which may contain NUL). */
void strbuf_add(struct strbuf *, const void *, size_t);
/* strbuf_adds - append a C string. */
void strbuf_adds(struct strbuf *, const char *);
/* strbuf_addc - append one byte. */
void strbuf_addc(struct strbuf *, char);
/* strbuf_printf - append formatted text. */
void strbuf_printf(struct strbuf *, const char *, ...) PRINTFLIKE(2, 3);
/* strbuf_vprintf - append formatted text from a va_list. */
void strbuf_vprintf(struct strbuf *, const char *, va_list) VPRINTFLIKE(2);
/* strbuf_cstr - the contents as a C string (valid until the next change). */
const char *strbuf_cstr(struct strbuf *);
/* strbuf_detach - hand the heap string to the caller; buffer becomes empty. */
char *strbuf_detach(struct strbuf *);

/* A growable array of owned strings. */
struct strlist {
        char **v;
        size_t n;
        size_t cap;
};

/* strlist_push - append a copy of s. */
void strlist_push(struct strlist *, const char *);
/* strlist_pushn - append a copy of the first n bytes of s. */
void strlist_pushn(struct strlist *, const char *, size_t);
/* strlist_clear - free every element and the array. */
void strlist_clear(struct strlist *);

/* str_lower - fold ASCII letters to lower case in place; returns s. */
char *str_lower(char *);
/* str_trim - strip leading and trailing white space in place; returns the
 * first non-space byte (inside s). */
char *str_trim(char *);
/* str_split - split s at any byte of seps, skipping empty fields, appending
 * copies to out.  Postfix lists use " \t\r\n,". */
void str_split(const char *, const char *, struct strlist *);
/* str_list_token - the next element of a list such as "a, b {c d}": skips
 * separators (LIST_SEPS), then takes bytes up to a separator outside
 * braces.  Returns the length, 0 at the end, or -1 when braces do not
 * balance.  *pos advances past the token; *start is where it begins. */
long str_list_token(const char *s, size_t *pos, size_t *start);
/* str_has_prefix - whether s starts with prefix. */
bool str_has_prefix(const char *, const char *);
/* str_eq_ci - ASCII case-insensitive equality. */
bool str_eq_ci(const char *, const char *);

/* base_getpid - this process's ID, cached (one system call per process,
 * not per use), right in children of fork(). */
pid_t base_getpid(void);

/* The separators of Postfix parameter lists. */
#define LIST_SEPS " \t\r\n,"

#endif

/* SPDX-License-Identifier: MIT */
/* strbuf.c - growable strings and string lists */
#include "base/base.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* strbuf_init - empty buffer */
void strbuf_init(struct strbuf *sb)
{
        sb->s = NULL;
        sb->len = 0;
        sb->cap = 0;
}

/* strbuf_clear - release memory */
void strbuf_clear(struct strbuf *sb)
{
        free(sb->s);
        strbuf_init(sb);
}

/* strbuf_reset - empty, keep memory */
void strbuf_reset(struct strbuf *sb)
{
        sb->len = 0;
        if (sb->s)
                sb->s[0] = 0;
}

/* strbuf_grow - room for n more bytes plus the NUL */
static void strbuf_grow(struct strbuf *sb, size_t n)
{
        size_t need = sb->len + n + 1;

        if (need <= sb->cap)
                return;
        size_t cap = sb->cap ? sb->cap : 64;
        while (cap < need)
                cap *= 2;
        sb->s = xrealloc(sb->s, cap);
        sb->cap = cap;
}

/* strbuf_add - append bytes */
void strbuf_add(struct strbuf *sb, const void *p, size_t n)
{
        strbuf_grow(sb, n);
        if (n)
                memcpy(sb->s + sb->len, p, n);
        sb->len += n;
        sb->s[sb->len] = 0;
}

/* strbuf_adds - append a C string */
void strbuf_adds(struct strbuf *sb, const char *s)
{
        strbuf_add(sb, s, strlen(s));
}

/* strbuf_addc - append a byte */
void strbuf_addc(struct strbuf *sb, char c)
{
        strbuf_add(sb, &c, 1);
}

/* strbuf_vprintf - append formatted text */
void strbuf_vprintf(struct strbuf *sb, const char *fmt, va_list ap)
{
        va_list cp;
        int n;

        va_copy(cp, ap);
        n = vsnprintf(NULL, 0, fmt, cp);
        va_end(cp);
        if (n < 0)
                return;
        strbuf_grow(sb, (size_t)n);
        vsnprintf(sb->s + sb->len, (size_t)n + 1, fmt, ap);
        sb->len += (size_t)n;
}

/* strbuf_printf - append formatted text */
void strbuf_printf(struct strbuf *sb, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        strbuf_vprintf(sb, fmt, ap);
        va_end(ap);
}

/* strbuf_cstr - contents as C string */
const char *strbuf_cstr(struct strbuf *sb)
{
        if (sb->s == NULL)
                strbuf_grow(sb, 0), sb->s[0] = 0;
        return sb->s;
}

/* strbuf_detach - give the heap string away */
char *strbuf_detach(struct strbuf *sb)
{
        char *s;

        strbuf_cstr(sb);
        s = sb->s;
        strbuf_init(sb);
        return s;
}

/* strlist_pushn - append a copy of n bytes */
void strlist_pushn(struct strlist *l, const char *s, size_t n)
{
        if (l->n == l->cap) {
                l->cap = l->cap ? l->cap * 2 : 8;
                l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
        }
        l->v[l->n++] = xstrndup(s, n);
}

/* strlist_push - append a copy */
void strlist_push(struct strlist *l, const char *s)
{
        strlist_pushn(l, s, strlen(s));
}

/* strlist_clear - free all */
void strlist_clear(struct strlist *l)
{
        for (size_t i = 0; i < l->n; i++)
                free(l->v[i]);
        free(l->v);
        l->v = NULL;
        l->n = l->cap = 0;
}

/* str_lower - ASCII fold in place */
char *str_lower(char *s)
{
        for (char *p = s; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                        *p = (char)(*p - 'A' + 'a');
        return s;
}

/* str_trim - strip white space */
char *str_trim(char *s)
{
        size_t n;

        while (*s && isspace((unsigned char)*s))
                s++;
        n = strlen(s);
        while (n > 0 && isspace((unsigned char)s[n - 1]))
                s[--n] = 0;
        return s;
}

/* str_split - split at separators, skipping empty fields */
void str_split(const char *s, const char *seps, struct strlist *out)
{
        while (*s) {
                size_t skip = strspn(s, seps);
                s += skip;
                if (*s == 0)
                        break;
                size_t n = strcspn(s, seps);
                strlist_pushn(out, s, n);
                s += n;
        }
}

/* str_has_prefix - prefix test */
bool str_has_prefix(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* str_eq_ci - ASCII case-insensitive equality */
bool str_eq_ci(const char *a, const char *b)
{
        for (; *a && *b; a++, b++) {
                int ca = (*a >= 'A' && *a <= 'Z') ? *a - 'A' + 'a' : *a;
                int cb = (*b >= 'A' && *b <= 'Z') ? *b - 'A' + 'a' : *b;
                if (ca != cb)
                        return false;
        }
        return *a == *b;
}

/* str_list_token - next list element, braces kept together */
long str_list_token(const char *s, size_t *pos, size_t *start)
{
        size_t i = *pos;
        int depth = 0;

        while (s[i] && strchr(LIST_SEPS, s[i]))
                i++;
        *start = i;
        if (s[i] == 0) {
                *pos = i;
                return 0;
        }
        for (; s[i]; i++) {
                if (s[i] == '{')
                        depth++;
                else if (s[i] == '}' && --depth < 0)
                        return -1;
                else if (depth == 0 && strchr(LIST_SEPS, s[i]))
                        break;
        }
        if (depth != 0)
                return -1;
        *pos = i;
        return (long)(i - *start);
}

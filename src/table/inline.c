/* SPDX-License-Identifier: MIT */
/* inline.c - inline:{ key=value, ... } and static:value tables */
#include "table/table_int.h"

#include <stdlib.h>
#include <string.h>

#define INLINE_NEED "need \"inline:{name=value...}\""

/* braced - when text is "{ ... }" with matching outer braces, the inside
 * (trimmed, heap) in *inner; returns 1, 0 when not braced, -1 when the
 * braces do not balance */
static int braced(const char *text, size_t len, char **inner)
{
        int depth = 0;

        if (len == 0 || text[0] != '{')
                return 0;
        for (size_t i = 0; i < len; i++) {
                if (text[i] == '{') {
                        depth++;
                } else if (text[i] == '}' && --depth == 0) {
                        if (i != len - 1)
                                return -1;
                        char *s = xstrndup(text + 1, len - 2);
                        char *t = str_trim(s);

                        memmove(s, t, strlen(t) + 1);
                        *inner = s;
                        return 1;
                }
        }
        return -1;
}

/* trim_copy - text between p and p+n without surrounding white space */
static char *trim_copy(const char *p, size_t n)
{
        while (n > 0 && table_isspace((unsigned char)*p))
                p++, n--;
        while (n > 0 && table_isspace((unsigned char)p[n - 1]))
                n--;
        return xstrndup(p, n);
}

/* inline_elem - one name=value element */
static int inline_elem(const char *text, const char *elem, size_t n,
                       struct table_memtab *m, char **err)
{
        char *inner = NULL, *key, *value;
        const char *eq;
        int b = braced(elem, n, &inner);

        if (b < 0) {
                table_err(err,
                          "bad syntax: \"inline:%s\": unbalanced "
                          "braces; " INLINE_NEED,
                          text);
                return -1;
        }
        if (b == 1) {
                elem = inner;
                n = strlen(inner);
        }
        if ((eq = memchr(elem, '=', n)) == NULL) {
                table_err(err,
                          "bad syntax: \"inline:%s\": missing '=' after "
                          "attribute name \"%.*s\"; " INLINE_NEED,
                          text, (int)n, elem);
                free(inner);
                return -1;
        }
        key = trim_copy(elem, (size_t)(eq - elem));
        value = trim_copy(eq + 1, n - (size_t)(eq - elem) - 1);
        free(inner);
        if (*key == 0 || *value == 0) {
                table_err(err,
                          "bad syntax: \"inline:%s\": empty %s in \"%s=%s\"",
                          text, *key ? "value" : "name", key, value);
                free(key);
                free(value);
                return -1;
        }
        str_lower(key);
        table_memtab_put(m, key, value, true);
        free(key);
        free(value);
        return 0;
}

/* table_inline_parse - inline:{ ... } */
int table_inline_parse(const char *text, struct table_memtab *m, char **err)
{
        char *all = trim_copy(text, strlen(text)), *inner = NULL;
        size_t pos = 0, start;
        long n;
        int rc = 0;

        if (braced(all, strlen(all), &inner) != 1) {
                table_err(err, "bad syntax: \"inline:%s\"; " INLINE_NEED, text);
                free(all);
                return -1;
        }
        free(all);
        while ((n = str_list_token(inner, &pos, &start)) > 0)
                if ((rc = inline_elem(text, inner + start, (size_t)n, m, err)) <
                    0)
                        break;
        if (rc == 0 && n < 0) {
                table_err(err,
                          "bad syntax: \"inline:%s\": unbalanced "
                          "braces; " INLINE_NEED,
                          text);
                rc = -1;
        }
        if (rc == 0 && table_memtab_count(m) == 0) {
                table_err(err,
                          "bad syntax: \"inline:%s\": no entries; " INLINE_NEED,
                          text);
                rc = -1;
        }
        free(inner);
        return rc;
}

/* table_static_parse - static:value, static:{ text } */
int table_static_parse(const char *text, char **value, char **err)
{
        char *inner = NULL;
        int b = braced(text, strlen(text), &inner);

        *value = NULL;
        if (b < 0) {
                table_err(err,
                          "bad static:name syntax: unbalanced braces in "
                          "\"%s\"",
                          text);
                return -1;
        }
        if (b == 0)
                inner = xstrdup(text);
        if (*inner == 0) {
                table_err(err,
                          "bad static:name syntax: empty value in "
                          "\"static:%s\"",
                          text);
                free(inner);
                return -1;
        }
        *value = inner;
        return 0;
}

/* static_lookup - every key has the value */
static enum table_status static_lookup(struct table *t, const char *key,
                                       const char **value, char **err)
{
        (void)key;
        (void)err;
        *value = t->priv;
        return TABLE_FOUND;
}

/* static_walk - nothing to list */
static int static_walk(struct table *t, table_walk_fn fn, void *arg, char **err)
{
        (void)fn;
        (void)arg;
        table_err(err, "table %s: listing is not supported", t->spec);
        return -1;
}

/* static_close - release */
static void static_close(struct table *t)
{
        free(t->priv);
}

static const struct table_ops static_ops = {static_lookup, static_walk,
                                            static_close};

/* table_static_open - static: */
int table_static_open(struct table *t, const char *name, char **err)
{
        char *value;

        if (table_static_parse(name, &value, err) < 0)
                return -1;
        t->ops = &static_ops;
        t->priv = value;
        return 0;
}

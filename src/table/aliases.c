/* SPDX-License-Identifier: MIT */
/*
 * aliases.c - the aliases(5) source format: "name: value, value, ...",
 * as Postfix's postalias reads it.  Logical lines, comments and
 * continuations are the table source rules (table_read_lines); what
 * differs is the colon after the name, a name that may be quoted, and a
 * value that is a list: stored normalized ("a, b, c") the way postalias
 * stores it, so `postern aliases -q` and `postalias -q` print the same.
 */
#include "log/log.h"
#include "table/table_int.h"

#include <stdlib.h>
#include <string.h>

/* table_alias_split - the elements of an alias value */
void table_alias_split(const char *value, struct strlist *out)
{
        struct strbuf el;
        bool quoted = false, space = false;

        strbuf_init(&el);
        for (const char *p = value;; p++) {
                int c = (unsigned char)*p;
                if (c == 0 || (c == ',' && !quoted)) {
                        if (el.len > 0)
                                strlist_push(out, strbuf_cstr(&el));
                        strbuf_reset(&el);
                        space = false;
                        if (c == 0)
                                break;
                        continue;
                }
                if (!quoted && table_isspace(c)) {
                        space = el.len > 0; /* collapsed, dropped at ends */
                        continue;
                }
                if (space)
                        strbuf_addc(&el, ' ');
                space = false;
                strbuf_addc(&el, (char)c);
                if (c == '\\' && p[1]) {
                        strbuf_addc(&el, *++p); /* quoted pair, kept */
                } else if (c == '"') {
                        quoted = !quoted;
                }
        }
        strbuf_clear(&el);
}

struct alias_ctx {
        const char *name;
        table_entry_fn fn;
        void *arg;
};

/* alias_name - the name before the colon, unquoted, in *key; returns
 * the position after the colon, or NULL when there is none */
static char *alias_name(char *text, struct strbuf *key)
{
        bool quoted = false;
        size_t lastq = 0; /* key length after the last quoted byte */
        char *p;

        for (p = text; *p; p++) {
                if (*p == '\\' && p[1]) {
                        strbuf_addc(key, *++p);
                        lastq = key->len;
                } else if (*p == '"') {
                        quoted = !quoted;
                        lastq = key->len;
                } else if (*p == ':' && !quoted) {
                        break;
                } else if (quoted || key->len > 0 ||
                           !table_isspace((unsigned char)*p)) {
                        strbuf_addc(key, *p);
                        if (quoted)
                                lastq = key->len;
                }
        }
        /* trailing white space outside quotes ("name\t: value") goes */
        while (key->len > lastq &&
               table_isspace((unsigned char)key->s[key->len - 1]))
                key->len--;
        strbuf_cstr(key);
        if (key->s)
                key->s[key->len] = 0;
        return *p == ':' ? p + 1 : NULL;
}

/* alias_line - one logical line into a key and a normalized value */
static int alias_line(void *arg, char *text, unsigned long lineno, char **err)
{
        struct alias_ctx *ctx = arg;
        struct strbuf key, value;
        struct strlist els = {0};
        char *rest;
        int rc = 0;

        strbuf_init(&key);
        strbuf_init(&value);
        rest = alias_name(text, &key);
        if (rest)
                table_alias_split(rest, &els);
        if (rest == NULL || key.len == 0 || els.n == 0) {
                log_warnx("%s, line %lu: need name:value pair -- ignoring "
                          "this line",
                          ctx->name, lineno);
                goto out;
        }
        for (size_t i = 0; i < els.n; i++)
                strbuf_printf(&value, "%s%s", i ? ", " : "", els.v[i]);
        rc = ctx->fn(ctx->arg, str_lower(key.s), strbuf_cstr(&value), lineno,
                     err);
out:
        strlist_clear(&els);
        strbuf_clear(&key);
        strbuf_clear(&value);
        return rc;
}

/* table_parse_aliases - "name: value, ..." entries */
int table_parse_aliases(const char *name, const char *buf, size_t len,
                        table_entry_fn fn, void *arg, char **err)
{
        struct alias_ctx ctx = {name, fn, arg};

        return table_read_lines(name, buf, len, alias_line, &ctx, err);
}

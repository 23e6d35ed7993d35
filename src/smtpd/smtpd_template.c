/* SPDX-License-Identifier: MIT */
/*
 * smtpd_template.c - Postfix's reply templates (default_rbl_reply,
 * rbl_reply_maps, smtpd_reject_footer): $name and ${name} are replaced by
 * the value of name, ${name?text} by text when the value is not empty,
 * ${name:text} by text when it is, and $$ by a dollar; text may itself
 * hold $names.  A name that is not known stays as written.
 */
#include "smtpd/smtpd_int.h"

#include <ctype.h>
#include <string.h>

/* name_len - the length of the name at p (letters, digits, '_') */
static size_t name_len(const char *p)
{
        size_t n = 0;

        while (isalnum((unsigned char)p[n]) || p[n] == '_')
                n++;
        return n;
}

/* lookup - the value of name[0..len), or NULL when it is not known */
static const char *lookup(const char *name, size_t len,
                          const char *const names[], const char *const values[],
                          size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (strlen(names[i]) == len &&
                    strncmp(names[i], name, len) == 0)
                        return values[i] ? values[i] : "";
        return NULL;
}

/* closing - the '}' that ends the braces opened before p, or NULL */
static const char *closing(const char *p)
{
        int depth = 1;

        for (; *p; p++) {
                if (*p == '{')
                        depth++;
                else if (*p == '}' && --depth == 0)
                        return p;
        }
        return NULL;
}

/* expand - t[0..len) into out; depth bounds nested conditionals */
static void expand(const char *t, size_t len, const char *const names[],
                   const char *const values[], size_t n, int depth,
                   struct strbuf *out)
{
        const char *end = t + len;

        while (t < end) {
                if (*t != '$' || t + 1 >= end) {
                        strbuf_addc(out, *t++);
                        continue;
                }
                if (t[1] == '$') {
                        strbuf_addc(out, '$');
                        t += 2;
                        continue;
                }
                if (t[1] != '{') {
                        size_t l = name_len(t + 1);
                        const char *v =
                            l ? lookup(t + 1, l, names, values, n) : NULL;
                        if (v == NULL) {
                                strbuf_addc(out, *t++);
                                continue;
                        }
                        strbuf_adds(out, v);
                        t += 1 + l;
                        continue;
                }
                const char *name = t + 2, *close = closing(name);
                size_t l = name_len(name);
                const char *v = l ? lookup(name, l, names, values, n) : NULL;
                if (close == NULL || close > end || v == NULL ||
                    (name[l] != '}' && name[l] != '?' && name[l] != ':') ||
                    depth > 8) {
                        strbuf_addc(out, *t++);
                        continue;
                }
                if (name[l] == '}')
                        strbuf_adds(out, v);
                else if ((name[l] == '?') == (*v != 0))
                        expand(name + l + 1, (size_t)(close - name - l - 1),
                               names, values, n, depth + 1, out);
                t = close + 1;
        }
}

/* smtpd_template - a template with the named values filled in */
void smtpd_template(const char *t, const char *const names[],
                    const char *const values[], size_t n, struct strbuf *out)
{
        expand(t, strlen(t), names, values, n, 0, out);
}

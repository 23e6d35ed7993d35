/* SPDX-License-Identifier: MIT */
/*
 * fuzz_sasl_line.c - lines from Dovecot's auth server (sasl_line_parse)
 * and the mechanism filter.  Whatever a parsed line points to lies inside
 * the line; an answer always has a non-zero ID; a filtered list holds
 * only names that were offered.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd/smtpd_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* inside - s is NULL or a string within [b, b + n] */
static void inside(const char *s, const char *b, size_t n)
{
        if (s && (s < b || s > b + n || s + strlen(s) > b + n))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const char *const opts[] = {
            "noanonymous", "noplaintext, noanonymous", "nodictionary noactive",
            "mutual_auth", "forward_secrecy",          ""};
        struct strlist mechs = {0};
        unsigned flags[8];
        char *line = xstrndup((const char *)data, size);
        size_t n = strlen(line);
        struct sasl_line l;

        if (sasl_line_parse(line, &l) == 0) {
                inside(l.mech, line, n);
                inside(l.data, line, n);
                inside(l.user, line, n);
                inside(l.reason, line, n);
                if ((l.kind == SASL_LINE_OK || l.kind == SASL_LINE_CONT ||
                     l.kind == SASL_LINE_FAIL) &&
                    l.id == 0)
                        abort();
                if (l.kind == SASL_LINE_MECH &&
                    (l.mech == NULL || *l.mech == 0))
                        abort();
        }
        free(line);

        /* the filter: up to 8 names from the input, flags from its bytes */
        line = xstrndup((const char *)data, size);
        str_split(line, " \t\n", &mechs);
        size_t all = mechs.n;
        if (mechs.n > 8)
                mechs.n = 8;
        for (size_t i = 0; i < 8; i++)
                flags[i] = i < size ? data[i] : 0;
        char *out =
            sasl_mechs_filter(&mechs, flags, opts[size % ARRAY_SIZE(opts)]);
        struct strlist got = {0};
        str_split(out, " ", &got);
        for (size_t i = 0; i < got.n; i++) {
                bool found = false;
                for (size_t j = 0; j < mechs.n && !found; j++)
                        found = strcmp(got.v[i], mechs.v[j]) == 0;
                if (!found)
                        abort();
        }
        strlist_clear(&got);
        free(out);
        mechs.n = all;
        strlist_clear(&mechs);
        free(line);
        return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * fuzz_reply_template.c - Postfix reply templates (smtpd_template, as
 * default_rbl_reply, rbl_reply_maps and smtpd_reject_footer use it): the
 * input is the template, then (after a NUL) the values of three names
 * separated by newlines.  Checks: a template without '$' comes out as it
 * is, and one made only of known names and text never grows beyond the
 * template plus the values for each reference.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd/smtpd_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *nul = memchr(data, 0, size);
        size_t tlen = nul ? (size_t)(nul - (const char *)data) : size;
        char *t = xstrndup((const char *)data, tlen);
        char *rest = nul ? xstrndup(nul + 1, size - tlen - 1) : xstrdup("");
        static const char *const names[] = {"rbl_code", "rbl_reason",
                                            "client_address"};
        const char *values[3] = {NULL, NULL, NULL};
        struct strbuf out;
        size_t vmax = 0, refs = 0;

        /* up to three values, newline separated */
        char *p = rest;
        for (int i = 0; i < 3 && p; i++) {
                values[i] = p;
                p = strchr(p, '\n');
                if (p)
                        *p++ = 0;
        }
        for (int i = 0; i < 3; i++)
                if (values[i] && strlen(values[i]) > vmax)
                        vmax = strlen(values[i]);
        for (const char *q = t; *q; q++)
                refs += *q == '$';
        strbuf_init(&out);
        smtpd_template(t, names, values, 3, &out);
        if (strchr(t, '$') == NULL &&
            (out.len != strlen(t) || memcmp(out.s ? out.s : "", t, out.len)))
                abort();
        if (out.len > strlen(t) + refs * vmax)
                abort();
        strbuf_clear(&out);
        free(t);
        free(rest);
        return 0;
}

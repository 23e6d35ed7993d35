/* SPDX-License-Identifier: MIT */
/*
 * fuzz_milter.c - what a milter sends and how postern applies it: the
 * input is a message (up to the first NUL byte), then milter packets
 * (command byte, 2-byte big-endian length, data).  Each packet goes
 * through milter_reply_parse; the modifications among them go into a
 * result with milter_result_add, which milter_apply then applies to the
 * message.  Checks: pointers the parser returns lie inside the packet,
 * reply codes are 4XX or 5XX, header edits have a name without a colon,
 * and a message with CRLF line endings comes out unchanged when no packet
 * edits it.  Also milter_specs_parse on the message text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd/smtpd_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* inside - whether s (NUL-terminated) lies within [p, p + n) */
static bool inside(const char *s, const char *p, size_t n)
{
        return s >= p && s < p + n && s + strlen(s) < p + n;
}

/* crlf_only - every LF of s comes after a CR */
static bool crlf_only(const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
                        return false;
        return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *nul = memchr(data, 0, size);
        size_t mlen = nul ? (size_t)(nul - (const char *)data) : size;
        char *msg = xstrndup((const char *)data, mlen);
        struct milter_result *res = xcalloc(1, sizeof(*res));
        struct milter_spec d = {0}, *specs = NULL;
        size_t nspecs = 0, off = nul ? mlen + 1 : size;
        bool edited = false;
        char *err = NULL;

        while (size - off >= 3) {
                char cmd = (char)data[off];
                size_t len = (size_t)data[off + 1] << 8 | data[off + 2];
                if (len > size - off - 3)
                        len = size - off - 3;
                char *pk = xmalloc(len ? len : 1);
                memcpy(pk, data + off + 3, len);
                struct milter_reply r;
                if (milter_reply_parse(cmd, pk, len, &r) == 0) {
                        if (r.name && (!inside(r.name, pk, len) ||
                                       *r.name == 0 || strchr(r.name, ':')))
                                abort();
                        if (r.value && !inside(r.value, pk, len))
                                abort();
                        if (cmd == SMFIR_REPLYCODE &&
                            (!inside(r.text, pk, len) ||
                             (r.text[0] != '4' && r.text[0] != '5')))
                                abort();
                        size_t before = res->nedits;
                        bool body = res->body_replaced;
                        milter_result_add(res, &r, cmd & 1);
                        edited |=
                            res->nedits != before || res->body_replaced != body;
                }
                free(pk);
                off += 3 + len;
        }
        struct strbuf out;
        strbuf_init(&out);
        milter_apply(res, msg, mlen, size ? data[size - 1] % 4 : 0, &out);
        if (!edited && crlf_only(msg, mlen) &&
            (out.len != mlen || memcmp(out.s ? out.s : "", msg, mlen) != 0))
                abort();
        strbuf_clear(&out);
        milter_result_free(res);

        d.version = 6;
        if (milter_specs_parse(msg, &d, "/q", &specs, &nspecs, &err) == 0) {
                for (size_t i = 0; i < nspecs; i++)
                        if (specs[i].target == NULL || specs[i].version < 2 ||
                            specs[i].version > 6)
                                abort();
                milter_specs_free(specs, nspecs);
        } else {
                if (err == NULL)
                        abort();
                free(err);
        }
        free(msg);
        return 0;
}

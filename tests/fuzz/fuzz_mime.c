/* SPDX-License-Identifier: MIT */
/*
 * fuzz_mime.c - the MIME structure parser fed arbitrary content.  Byte 0
 * picks the settings (small limits, no MIME, a cut after the first line),
 * byte 1 how the input is split; the rest is the content.  Checked: the
 * units add up to the input (unless a header was truncated, which then
 * ends in CRLF and keeps the limit), a header key has a newline between
 * its lines and none at the end, eol says whether the text ends in a
 * newline, and a byte-by-byte feed gives exactly the same units.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "mime/mime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct rec {
        struct strbuf log;
        struct strbuf text;
        bool truncated;
        size_t limit;
};

/* on_unit - check and record one unit */
static void on_unit(void *arg, const struct mime_unit *u)
{
        struct rec *r = arg;
        size_t kl = u->key_len;

        if (u->cls > MIME_BODY || (u->cls != MIME_BODY && u->key == NULL) ||
            (u->key && u->key[kl] != 0) || (u->key == NULL && kl))
                abort();
        if (u->cls != MIME_BODY) {
                if (u->len == 0 || (kl && u->key[kl - 1] == '\n'))
                        abort();
                size_t lines = 0, nls = 0;
                for (size_t i = 0; i < u->len; i++)
                        lines += u->text[i] == '\n';
                for (size_t i = 0; i < kl; i++)
                        nls += u->key[i] == '\n';
                if (!u->truncated && nls + u->eol != lines)
                        abort(); /* one "\n" between lines, none at the end */
                if (u->truncated &&
                    (u->len > r->limit + 2 || u->text[u->len - 1] != '\n'))
                        abort();
        }
        if (u->eol != (u->len && u->text[u->len - 1] == '\n'))
                abort();
        r->truncated |= u->truncated;
        strbuf_printf(&r->log, "%d|%zu|%zu|", (int)u->cls, u->offset, u->len);
        if (u->key)
                strbuf_add(&r->log, u->key, kl);
        strbuf_addc(&r->log, '\n');
        strbuf_add(&r->text, u->text, u->len);
}

/* run - the units of in; split 0 means byte by byte */
static void run(const struct mime_settings *set, bool cut, const uint8_t *in,
                size_t n, unsigned split, struct rec *r)
{
        struct mime_parser *p = mime_parser_new(set, on_unit, r);
        const uint8_t *nl = memchr(in, '\n', n);
        size_t first = cut && nl ? (size_t)(nl - in) + 1 : 0;
        unsigned seed = split;

        r->limit = set->header_limit;
        for (size_t off = 0; off < n;) {
                size_t k = 1;
                if (split) {
                        seed = seed * 1103515245u + 12345u;
                        k = 1 + (seed >> 16) % 200;
                }
                if (first && off < first && off + k > first)
                        k = first - off; /* the cut is at a line boundary */
                if (k > n - off)
                        k = n - off;
                mime_parser_feed(p, (const char *)in + off, k);
                off += k;
                if (off == first)
                        mime_parser_cut(p);
        }
        mime_parser_finish(p);
        mime_parser_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct mime_settings set;
        struct rec a = {0}, b = {0};
        bool cut;

        if (size < 2)
                return 0;
        mime_settings_init(&set);
        set.body_keys = data[0] & 1;
        set.no_mime = data[0] & 2;
        cut = data[0] & 4;
        if (data[0] & 8) {
                set.header_limit = 1 + data[1] % 64;
                set.line_limit = 80;
                set.max_depth = 3;
                set.boundary_limit = 5;
        }
        run(&set, cut, data + 2, size - 2, 1u + data[1], &a);
        if (!a.truncated &&
            (a.text.len != size - 2 ||
             (a.text.len && memcmp(a.text.s, data + 2, a.text.len) != 0)))
                abort();
        if (size < 20000) {
                run(&set, cut, data + 2, size - 2, 0, &b);
                if (a.log.len != b.log.len ||
                    (a.log.len && memcmp(a.log.s, b.log.s, a.log.len)) ||
                    a.text.len != b.text.len ||
                    (a.text.len && memcmp(a.text.s, b.text.s, a.text.len)))
                        abort();
        }
        strbuf_clear(&a.log);
        strbuf_clear(&a.text);
        strbuf_clear(&b.log);
        strbuf_clear(&b.text);
        return 0;
}

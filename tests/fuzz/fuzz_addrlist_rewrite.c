/* SPDX-License-Identifier: MIT */
/*
 * fuzz_addrlist_rewrite.c - the address-list scanner and header rewriting
 * (canonical maps, masquerading, completing addresses) on any header
 * value: the addresses it reports lie in the text, in order, without
 * overlap, and their tokens come from their place; a rewritten header
 * starts with the same name, has as many addresses, and every byte
 * between them is the input's.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "mime/mime.h"
#include "smtpd/smtpd.h"

/* Where the addresses of a text are. */
struct spans {
        const char *text;
        size_t n;
        size_t *off, *len;
        size_t count;
};

/* on_addr - check one address, and remember where it is */
static void on_addr(void *arg, const struct mime_addr *a)
{
        struct spans *s = arg;
        size_t prev =
            s->count ? s->off[s->count - 1] + s->len[s->count - 1] : 0;

        if (a->len == 0 || a->off < prev || a->off + a->len > s->n ||
            a->addr[0] == 0)
                abort();
        /* the address is its place's bytes, some (blanks, comments) left
         * out */
        size_t k = 0;
        for (size_t i = a->off; i < a->off + a->len && a->addr[k]; i++)
                if (s->text[i] == a->addr[k])
                        k++;
        if (a->addr[k] != 0)
                abort();
        s->off = realloc(s->off, (s->count + 1) * sizeof(*s->off));
        s->len = realloc(s->len, (s->count + 1) * sizeof(*s->len));
        if (s->off == NULL || s->len == NULL)
                abort();
        s->off[s->count] = a->off;
        s->len[s->count] = a->len;
        s->count++;
}

/* scan - the addresses of text */
static void scan(const char *text, size_t n, struct spans *s)
{
        memset(s, 0, sizeof(*s));
        s->text = text;
        s->n = n;
        mime_addrlist_scan(text, n, on_addr, s);
}

/* gap - the bytes before address i (after the one before it), or after
 * the last for i == count */
static void gap(const struct spans *s, size_t i, const char **p, size_t *n)
{
        size_t from = i ? s->off[i - 1] + s->len[i - 1] : 0;
        size_t to = i < s->count ? s->off[i] : s->n;

        *p = s->text + from;
        *n = to - from;
}

/* rewriter - one canon for every input (tables, no DNS) */
static struct smtpd_canon *rewriter(void)
{
        static struct smtpd_canon *k;
        static struct conf *c; /* both live as long as the process */
        static const char *const settings[] = {
            "myorigin=example.com",
            "mydestination=example.com",
            "inet_interfaces=127.0.0.1",
            "recipient_delimiter=+-",
            "canonical_maps=inline:{ @a.example=@b.example, x=y@z.example, "
            "u@v.example=w, @loop.example=@loop2.example, "
            "@loop2.example=@loop.example }",
            "masquerade_domains=!keep.example.com, example.com",
            "masquerade_exceptions=root",
            "masquerade_classes=header_sender, header_recipient",
        };
        struct strlist o = {0};
        char *err = NULL;

        if (k)
                return k;
        for (size_t i = 0; i < sizeof(settings) / sizeof(*settings); i++)
                strlist_push(&o, settings[i]);
        if (conf_load("/nonexistent", &o, &c, &err) < 0 ||
            smtpd_canon_new(c, &k, &err) < 0 || k == NULL)
                abort();
        strlist_clear(&o);
        return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
        static const char name[] = "To:";
        struct smtpd_canon *k = rewriter();
        struct spans in, out;
        struct strbuf hdr, res;
        char *err = NULL;

        scan((const char *)data, len, &in);
        strbuf_init(&hdr);
        strbuf_init(&res);
        strbuf_adds(&hdr, name);
        strbuf_add(&hdr, data, len);
        int rc =
            smtpd_canon_header(k, "example.com", hdr.s, hdr.len, &res, &err);
        if (rc < 0 && err == NULL)
                abort();
        if (rc > 0) {
                if (res.len < sizeof(name) - 1 ||
                    memcmp(res.s, name, sizeof(name) - 1) != 0)
                        abort();
                scan(res.s + sizeof(name) - 1, res.len - (sizeof(name) - 1),
                     &out);
                if (out.count != in.count)
                        abort();
                for (size_t i = 0; i <= in.count; i++) {
                        const char *a, *b;
                        size_t an, bn;
                        gap(&in, i, &a, &an);
                        gap(&out, i, &b, &bn);
                        if (an != bn || memcmp(a, b, an) != 0)
                                abort();
                }
                free(out.off);
                free(out.len);
        }
        free(err);
        free(in.off);
        free(in.len);
        strbuf_clear(&hdr);
        strbuf_clear(&res);
        return 0;
}

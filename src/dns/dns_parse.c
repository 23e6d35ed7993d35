/* SPDX-License-Identifier: MIT */
/* dns_parse.c - rdata items from libunbound to struct dns_rr */
#include "dns/dns_int.h"
#include "base/base.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

/* name_plain - a label byte written as is */
static bool name_plain(unsigned char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
               (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '*';
}

/* dns_name_decode - wire name to text */
int dns_name_decode(const unsigned char *data, size_t len, size_t *used,
                    char **out, const char **err)
{
        struct strbuf sb;
        size_t off = 0;

        strbuf_init(&sb);
        strbuf_adds(&sb, "");
        for (;;) {
                size_t lab;

                if (off >= len) {
                        *err = "truncated name";
                        goto fail;
                }
                lab = data[off];
                if ((lab & 0xc0) == 0xc0) {
                        *err = "compressed name";
                        goto fail;
                }
                if (lab & 0xc0) {
                        *err = "reserved label type";
                        goto fail;
                }
                if (off + 1 + lab > DNS_NAME_WIRE_MAX) {
                        *err = "name too long";
                        goto fail;
                }
                if (lab == 0) {
                        off++;
                        break;
                }
                if (lab > len - off - 1) {
                        *err = "truncated label";
                        goto fail;
                }
                if (sb.len > 0)
                        strbuf_addc(&sb, '.');
                for (size_t i = 0; i < lab; i++) {
                        unsigned char c = data[off + 1 + i];

                        if (name_plain(c))
                                strbuf_addc(&sb, (char)c);
                        else
                                strbuf_printf(&sb, "\\%03u", (unsigned)c);
                }
                off += 1 + lab;
        }
        *used = off;
        *out = strbuf_detach(&sb);
        return 0;
fail:
        strbuf_clear(&sb);
        return -1;
}

/* dns_rr_clear - release */
void dns_rr_clear(struct dns_rr *rr)
{
        free(rr->host);
        free(rr->addr);
        free(rr->data);
        free(rr->text);
        memset(rr, 0, sizeof(*rr));
}

/* rr_addr - A or AAAA rdata to text */
static int rr_addr(int af, const unsigned char *data, size_t len,
                   struct dns_rr *rr, const char **err)
{
        char buf[INET6_ADDRSTRLEN];
        size_t want = af == AF_INET ? 4 : 16;

        if (len != want) {
                *err = af == AF_INET ? "A record not 4 bytes"
                                     : "AAAA record not 16 bytes";
                return -1;
        }
        if (inet_ntop(af, data, buf, sizeof(buf)) == NULL) {
                *err = "bad address";
                return -1;
        }
        rr->addr = xstrdup(buf);
        return 0;
}

/* rr_name - a name filling the whole rdata from off */
static int rr_name(const unsigned char *data, size_t len, size_t off,
                   struct dns_rr *rr, const char **err)
{
        size_t used;

        if (dns_name_decode(data + off, len - off, &used, &rr->host, err) < 0)
                return -1;
        if (off + used != len) {
                free(rr->host);
                rr->host = NULL;
                *err = "trailing bytes after name";
                return -1;
        }
        return 0;
}

/* rr_txt - TXT rdata (one or more <length><bytes> character-strings) to
 * one string, concatenated without a separator; bytes outside printable
 * ASCII become '?' */
static int rr_txt(const unsigned char *data, size_t len, struct dns_rr *rr,
                  const char **err)
{
        size_t off = 0, n = 0;
        char *text;

        if (len == 0) {
                *err = "TXT record empty";
                return -1;
        }
        text = xmalloc(len); /* at least one length byte is not copied */
        while (off < len) {
                size_t l = data[off++];

                if (l > len - off) {
                        free(text);
                        *err = "TXT string past the end of the record";
                        return -1;
                }
                for (size_t i = 0; i < l; i++) {
                        unsigned char c = data[off + i];

                        text[n++] = c >= 32 && c <= 126 ? (char)c : '?';
                }
                off += l;
        }
        text[n] = '\0';
        rr->text = text;
        return 0;
}

/* dns_rr_parse - one rdata item */
int dns_rr_parse(int type, const unsigned char *data, size_t len, uint32_t ttl,
                 struct dns_rr *rr, const char **err)
{
        memset(rr, 0, sizeof(*rr));
        rr->ttl = ttl;
        if (data == NULL && len > 0) {
                *err = "no data";
                return -1;
        }
        switch (type) {
        case DNS_T_A:
                return rr_addr(AF_INET, data, len, rr, err);
        case DNS_T_AAAA:
                return rr_addr(AF_INET6, data, len, rr, err);
        case DNS_T_CNAME:
        case DNS_T_NS:
        case DNS_T_PTR:
                return rr_name(data, len, 0, rr, err);
        case DNS_T_MX:
                if (len < 3) {
                        *err = "MX record too short";
                        return -1;
                }
                rr->pref = (unsigned)data[0] << 8 | data[1];
                return rr_name(data, len, 2, rr, err);
        case DNS_T_TLSA:
                if (len < 3) {
                        *err = "TLSA record too short";
                        return -1;
                }
                rr->usage = data[0];
                rr->selector = data[1];
                rr->mtype = data[2];
                rr->len = len - 3;
                rr->data = xmalloc(rr->len ? rr->len : 1);
                if (rr->len)
                        memcpy(rr->data, data + 3, rr->len);
                return 0;
        case DNS_T_TXT:
                return rr_txt(data, len, rr, err);
        default:
                *err = "unsupported type";
                return -1;
        }
}

/* dns_answer_fill - every item of data[] */
int dns_answer_fill(struct dns_answer *a, int type, char *const *data,
                    const int *len, uint32_t ttl, const char **err)
{
        size_t n = 0;

        if (data == NULL)
                return 0;
        while (data[n] != NULL)
                n++;
        if (n == 0)
                return 0;
        if (len == NULL) {
                *err = "no lengths";
                return -1;
        }
        a->rr = xcalloc(n, sizeof(*a->rr));
        for (a->n = 0; a->n < n; a->n++) {
                if (len[a->n] < 0 ||
                    dns_rr_parse(type, (const unsigned char *)data[a->n],
                                 (size_t)len[a->n], ttl, &a->rr[a->n],
                                 err) < 0) {
                        if (len[a->n] < 0)
                                *err = "negative length";
                        while (a->n > 0)
                                dns_rr_clear(&a->rr[--a->n]);
                        free(a->rr);
                        a->rr = NULL;
                        return -1;
                }
        }
        return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * smtp_reply.c - the SMTP client's reply parser: multiline replies,
 * enhanced status codes (RFC 3463), EHLO keywords, and garbage.
 */
#include "smtp/smtp.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A reply longer than this is garbage (Postfix reads at most a few KB per
 * line and limits the number of lines too). */
#define SMTP_REPLY_MAX (64u * 1024)
#define SMTP_REPLY_MAXLINES 1000

/* smtp_reply_init - an empty reply */
void smtp_reply_init(struct smtp_reply *r)
{
        memset(r, 0, sizeof(*r));
        strbuf_init(&r->text);
}

/* smtp_reply_clear - forget the reply, keep nothing */
void smtp_reply_clear(struct smtp_reply *r)
{
        strbuf_clear(&r->text);
        smtp_reply_init(r);
}

/* parse_dsn - "x.y.z " at the start of text: class 2, 4 or 5, then 1-3 and
 * 1-3 digits (RFC 3463); returns its length or 0 */
static size_t parse_dsn(const char *s, size_t len, int code)
{
        size_t i = 0, n;

        if (len < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') ||
            s[0] != '0' + code / 100 || s[1] != '.')
                return 0;
        i = 2;
        for (int part = 0; part < 2; part++) {
                for (n = 0; i < len && isdigit((unsigned char)s[i]) && n < 4;
                     i++, n++)
                        ;
                if (n == 0 || n > 3)
                        return 0;
                if (part == 0) {
                        if (i >= len || s[i] != '.')
                                return 0;
                        i++;
                }
        }
        if (i < len && s[i] != ' ' && s[i] != '\t')
                return 0;
        return i;
}

/* smtp_reply_line - one line of a reply */
int smtp_reply_line(struct smtp_reply *r, const char *line, size_t len,
                    const char **errstr)
{
        int code;
        bool more;

        if (r->done) {
                *errstr = "reply already complete";
                return -1;
        }
        if (len < 3 || !isdigit((unsigned char)line[0]) ||
            !isdigit((unsigned char)line[1]) ||
            !isdigit((unsigned char)line[2])) {
                *errstr = "reply without a status code";
                return -1;
        }
        if (memchr(line, 0, len) != NULL) {
                *errstr = "NUL byte in reply";
                return -1;
        }
        code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
        if (code < 200 || code > 599) {
                *errstr = "reply code out of range";
                return -1;
        }
        if (len == 3 || line[3] == ' ') {
                more = false;
        } else if (line[3] == '-') {
                more = true;
        } else {
                *errstr = "malformed reply separator";
                return -1;
        }
        if (r->nlines > 0 && code != r->code) {
                *errstr = "reply code changed in a multiline reply";
                return -1;
        }
        if (r->text.len + len + 1 > SMTP_REPLY_MAX ||
            r->nlines + 1 > SMTP_REPLY_MAXLINES) {
                *errstr = "reply too long";
                return -1;
        }
        if (r->nlines == 0) {
                r->code = code;
                size_t d = len > 4 ? parse_dsn(line + 4, len - 4, code) : 0;
                if (d > 0 && d < sizeof(r->dsn)) {
                        memcpy(r->dsn, line + 4, d);
                        r->dsn[d] = 0;
                }
        } else {
                strbuf_addc(&r->text, '\n');
        }
        strbuf_add(&r->text, line, len);
        r->nlines++;
        r->done = !more;
        return 0;
}

/* smtp_reply_oneline - the text on one line, safe for a log */
void smtp_reply_oneline(const struct smtp_reply *r, struct strbuf *out)
{
        for (size_t i = 0; i < r->text.len; i++) {
                unsigned char c = (unsigned char)r->text.s[i];
                if (c == '\n')
                        c = ' ';
                else if (c < 0x20 || c == 0x7f)
                        c = '?';
                strbuf_addc(out, (char)c);
        }
}

/* keyword_is - whether the line's keyword (after "250-") is kw */
static bool keyword_is(const char *p, size_t n, const char *kw)
{
        size_t k = strlen(kw);
        return n == k && strncasecmp(p, kw, k) == 0;
}

/* auth_mechanisms - the SMTP_FEATURE_AUTH_* bits of the mechanisms after
 * "AUTH" (" PLAIN LOGIN" or the old "=PLAIN LOGIN") up to le */
static unsigned auth_mechanisms(const char *q, const char *le)
{
        unsigned f = 0;

        while (q < le) {
                while (q < le && (*q == ' ' || *q == '='))
                        q++;
                const char *w = q;
                while (q < le && *q != ' ')
                        q++;
                if (keyword_is(w, (size_t)(q - w), "PLAIN"))
                        f |= SMTP_FEATURE_AUTH_PLAIN;
                else if (keyword_is(w, (size_t)(q - w), "LOGIN"))
                        f |= SMTP_FEATURE_AUTH_LOGIN;
        }
        return f;
}

/* smtp_ehlo_features - the extensions an EHLO reply announces */
unsigned smtp_ehlo_features(const struct smtp_reply *r,
                            unsigned long long *size)
{
        unsigned f = SMTP_FEATURE_ESMTP;
        const char *s = r->text.s ? r->text.s : "";
        const char *end = s + r->text.len;
        bool first = true;

        if (size)
                *size = 0;
        while (s < end) {
                const char *nl = memchr(s, '\n', (size_t)(end - s));
                const char *le = nl ? nl : end;
                /* The first line is the greeting part: no keyword. */
                if (!first && le - s > 4) {
                        const char *p = s + 4, *q = p;
                        while (q < le && *q != ' ' && *q != '=')
                                q++;
                        size_t n = (size_t)(q - p);
                        if (keyword_is(p, n, "PIPELINING"))
                                f |= SMTP_FEATURE_PIPELINING;
                        else if (keyword_is(p, n, "STARTTLS"))
                                f |= SMTP_FEATURE_STARTTLS;
                        else if (keyword_is(p, n, "8BITMIME"))
                                f |= SMTP_FEATURE_8BITMIME;
                        else if (keyword_is(p, n, "DSN"))
                                f |= SMTP_FEATURE_DSN;
                        else if (keyword_is(p, n, "SMTPUTF8"))
                                f |= SMTP_FEATURE_SMTPUTF8;
                        else if (keyword_is(p, n, "ENHANCEDSTATUSCODES"))
                                f |= SMTP_FEATURE_ENHANCEDSTATUSCODES;
                        else if (keyword_is(p, n, "CHUNKING"))
                                f |= SMTP_FEATURE_CHUNKING;
                        else if (keyword_is(p, n, "AUTH"))
                                f |= auth_mechanisms(q, le);
                        else if (keyword_is(p, n, "SIZE")) {
                                f |= SMTP_FEATURE_SIZE;
                                unsigned long long v = 0;
                                bool ok = true;
                                while (q < le && (*q == ' ' || *q == '='))
                                        q++;
                                const char *d = q;
                                for (; q < le && isdigit((unsigned char)*q);
                                     q++) {
                                        if (v > (~0ULL - 9) / 10) {
                                                ok = false;
                                                break;
                                        }
                                        v = v * 10 + (unsigned)(*q - '0');
                                }
                                if (size && ok && q > d)
                                        *size = v;
                        }
                }
                first = false;
                s = nl ? nl + 1 : end;
        }
        return f;
}

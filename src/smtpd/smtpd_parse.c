/* SPDX-License-Identifier: MIT */
/*
 * smtpd_parse.c - MAIL/RCPT/VRFY/BDAT argument parsing: paths, ESMTP
 * parameters (SIZE, BODY, SMTPUTF8, RET, ENVID, NOTIFY, ORCPT) and xtext.
 *
 * The replies are Postfix's for the same errors.  Addresses are kept as
 * the client wrote them inside the brackets (quoting included), minus an
 * RFC 5321 source route.  Postfix accepts "MAIL FROM: <a>" with a space
 * and a path without brackets; so does postern.
 */
#include "smtpd/smtpd_int.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ENVID_MAX 100 /* RFC 3461 section 4.4 */
#define ORCPT_MAX 500 /* RFC 3461 section 4.2 */
#define ADDR_MAX 1000

/* smtpd_utf8_valid - strict UTF-8 check */
bool smtpd_utf8_valid(const char *s, size_t n)
{
        const unsigned char *p = (const unsigned char *)s;
        size_t i = 0;

        while (i < n) {
                unsigned c = p[i];
                size_t len;
                unsigned min, cp;

                if (c < 0x80) {
                        i++;
                        continue;
                } else if ((c & 0xe0) == 0xc0) {
                        len = 2, min = 0x80, cp = c & 0x1f;
                } else if ((c & 0xf0) == 0xe0) {
                        len = 3, min = 0x800, cp = c & 0x0f;
                } else if ((c & 0xf8) == 0xf0) {
                        len = 4, min = 0x10000, cp = c & 0x07;
                } else {
                        return false;
                }
                if (n - i < len)
                        return false;
                for (size_t k = 1; k < len; k++) {
                        if ((p[i + k] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (p[i + k] & 0x3f);
                }
                if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                i += len;
        }
        return true;
}

/* smtpd_xtext_decode - RFC 3461 xtext */
int smtpd_xtext_decode(const char *s, struct strbuf *out)
{
        for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
                if (*p == '+') {
                        int v = 0;
                        for (int k = 1; k <= 2; k++) {
                                int c = p[k];
                                if (c >= '0' && c <= '9')
                                        v = v * 16 + c - '0';
                                else if (c >= 'A' && c <= 'F')
                                        v = v * 16 + c - 'A' + 10;
                                else if (c >= 'a' && c <= 'f')
                                        v = v * 16 + c - 'a' + 10;
                                else
                                        return -1;
                        }
                        /* The decoded text must be printable ASCII. */
                        if (v < 0x20 || v > 0x7e)
                                return -1;
                        strbuf_addc(out, (char)v);
                        p += 2;
                } else if (*p < 33 || *p > 126 || *p == '=') {
                        return -1;
                } else {
                        strbuf_addc(out, (char)*p);
                }
        }
        return 0;
}

/* skip_sp - skip blanks */
static const char *skip_sp(const char *p)
{
        while (*p == ' ' || *p == '\t')
                p++;
        return p;
}

/* is_atext - RFC 5322 atext (plus '.') */
static bool is_atext(unsigned char c)
{
        return isalnum(c) || strchr("!#$%&'*+-/=?^_`{|}~.", c) != NULL;
}

enum addr_err { ADDR_OK = 0, ADDR_BAD = -1, ADDR_UTF8 = -2 };

/* check_domain - hostname labels or an address literal */
static bool check_domain(const char *d, size_t n, bool utf8_ok)
{
        if (n == 0)
                return false;
        if (d[0] == '[') {
                if (n < 3 || d[n - 1] != ']')
                        return false;
                for (size_t i = 1; i < n - 1; i++) {
                        unsigned char c = d[i];
                        if (c < 33 || c > 126 || c == '[' || c == ']' ||
                            c == '\\')
                                return false;
                }
                return true;
        }
        size_t label = 0;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = d[i];
                if (c == '.') {
                        if (label == 0)
                                return false;
                        label = 0;
                        continue;
                }
                if (!(isalnum(c) || c == '-' || (c >= 0x80 && utf8_ok)))
                        return false;
                if (++label > 63)
                        return false;
        }
        return true;
}

/* check_addr - validate the text inside the brackets (route removed) */
static enum addr_err check_addr(const char *a, size_t n, bool allow_empty,
                                const struct smtpd_parse_opts *o)
{
        bool eight = false;
        size_t i = 0;

        if (n == 0)
                return allow_empty ? ADDR_OK : ADDR_BAD;
        if (n > ADDR_MAX)
                return ADDR_BAD;
        for (size_t k = 0; k < n; k++)
                if ((unsigned char)a[k] >= 0x80)
                        eight = true;
        if (eight && !o->smtputf8_enable)
                return ADDR_BAD;
        if (eight && !smtpd_utf8_valid(a, n))
                return ADDR_BAD;

        /* local part */
        if (a[0] == '"') {
                for (i = 1; i < n && a[i] != '"'; i++) {
                        unsigned char c = a[i];
                        if (c == '\\') {
                                if (++i >= n)
                                        return ADDR_BAD;
                                c = a[i];
                        }
                        if (c < 32 || c == 127)
                                return ADDR_BAD;
                }
                if (i >= n)
                        return ADDR_BAD;
                i++; /* closing quote */
        } else {
                for (; i < n && a[i] != '@'; i++) {
                        unsigned char c = a[i];
                        if (!is_atext(c) && !(c >= 0x80))
                                return ADDR_BAD;
                }
                if (i == 0)
                        return ADDR_BAD;
        }
        if (i == n) {
                /* No domain: only "postmaster" (RFC 5321 4.5.1). */
                if (n == 10 && strncasecmp(a, "postmaster", 10) == 0 &&
                    !allow_empty)
                        return ADDR_OK;
                return ADDR_BAD;
        }
        if (a[i] != '@')
                return ADDR_BAD;
        if (!check_domain(a + i + 1, n - i - 1, true))
                return ADDR_BAD;
        if (eight && !o->smtputf8)
                return ADDR_UTF8;
        return ADDR_OK;
}

/* take_path - the path after "FROM:"/"TO:": sets the address text range
 * (brackets and source route removed) and returns the rest, or NULL */
static const char *take_path(const char *p, const char **a, size_t *n)
{
        if (*p == '<') {
                const char *q = p + 1;
                bool quoted = false;
                for (; *q; q++) {
                        if (*q == '\\' && q[1]) {
                                q++;
                                continue;
                        }
                        if (*q == '"')
                                quoted = !quoted;
                        else if (*q == '>' && !quoted)
                                break;
                }
                if (*q != '>')
                        return NULL;
                *a = p + 1;
                *n = (size_t)(q - p - 1);
                q++;
                if (*q != 0 && *q != ' ' && *q != '\t')
                        return NULL;
                p = q;
        } else {
                const char *q = p;
                while (*q && *q != ' ' && *q != '\t')
                        q++;
                if (q == p)
                        return NULL;
                *a = p;
                *n = (size_t)(q - p);
                p = q;
        }
        /* RFC 5321 source route: "@a,@b:user@domain" */
        if (*n > 0 && (*a)[0] == '@') {
                const char *colon = memchr(*a, ':', *n);
                if (colon == NULL)
                        return NULL;
                *n -= (size_t)(colon + 1 - *a);
                *a = colon + 1;
        }
        return p;
}

/* next_param - the next blank-separated parameter into buf; false at
 * the end */
static bool next_param(const char **pp, struct strbuf *buf)
{
        const char *p = skip_sp(*pp);
        const char *q = p;

        if (*p == 0)
                return false;
        while (*q && *q != ' ' && *q != '\t')
                q++;
        strbuf_reset(buf);
        strbuf_add(buf, p, (size_t)(q - p));
        *pp = q;
        return true;
}

/* has_kw - "KEYWORD=" prefix, case-insensitive */
static bool has_kw(const char *s, const char *kw)
{
        size_t n = strlen(kw);
        return strncasecmp(s, kw, n) == 0;
}

/* parse_size - decimal digits only; -1 on syntax, -2 on overflow */
static int parse_size(const char *s, size_t *out)
{
        size_t v = 0;

        if (*s == 0)
                return -1;
        for (; *s; s++) {
                if (*s < '0' || *s > '9')
                        return -1;
                if (v > (SIZE_MAX - 9) / 10)
                        return -2;
                v = v * 10 + (size_t)(*s - '0');
        }
        *out = v;
        return 0;
}

/* smtpd_parse_mail - MAIL FROM:<a> [params] */
int smtpd_parse_mail(const char *args, const struct smtpd_parse_opts *o,
                     struct smtpd_envelope *env, struct strbuf *err)
{
        const char *p = skip_sp(args), *a;
        size_t n;
        struct strbuf prm, tmp;
        int rc = -1;
        bool have_ret = false, have_envid = false, have_size = false;
        bool have_auth = false;
        struct smtpd_parse_opts ao = *o;

        if (strncasecmp(p, "FROM:", 5) != 0) {
                strbuf_adds(err, "501 5.5.4 Syntax: MAIL FROM:<address>");
                return -1;
        }
        p = skip_sp(p + 5);
        if (*p == 0) {
                strbuf_adds(err, "501 5.5.4 Syntax: MAIL FROM:<address>");
                return -1;
        }
        if ((o->strict_rfc821 && *p != '<') ||
            (p = take_path(p, &a, &n)) == NULL) {
                strbuf_adds(err, "501 5.1.7 Bad sender address syntax");
                return -1;
        }
        const char *params = skip_sp(p);
        strbuf_init(&prm);
        strbuf_init(&tmp);
        /* Parameters first: SMTPUTF8 decides what the address may hold. */
        while (next_param(&p, &prm)) {
                const char *s = prm.s;
                if (str_eq_ci(s, "BODY=8BITMIME")) {
                        env->body = SMTPD_BODY_8BITMIME;
                } else if (str_eq_ci(s, "BODY=7BIT")) {
                        env->body = SMTPD_BODY_7BIT;
                } else if (has_kw(s, "SIZE=")) {
                        int r = parse_size(s + 5, &env->size);
                        if (r == -1) {
                                strbuf_adds(err, "501 5.5.4 Bad message size "
                                                 "syntax");
                                goto out;
                        }
                        if (r == -2) {
                                strbuf_adds(err, "552 5.3.4 Message size "
                                                 "exceeds file system imposed "
                                                 "limit");
                                goto out;
                        }
                        have_size = true;
                } else if (str_eq_ci(s, "SMTPUTF8") && o->smtputf8_enable) {
                        env->smtputf8 = true;
                } else if (has_kw(s, "RET=")) {
                        if (!o->dsn) {
                                strbuf_adds(err, "501 5.7.1 DSN support is "
                                                 "disabled");
                                goto out;
                        }
                        if (have_ret) {
                                strbuf_adds(err, "501 5.5.4 Bad RET parameter "
                                                 "syntax");
                                goto out;
                        }
                        if (str_eq_ci(s + 4, "FULL"))
                                env->ret = SMTPD_RET_FULL;
                        else if (str_eq_ci(s + 4, "HDRS"))
                                env->ret = SMTPD_RET_HDRS;
                        else {
                                strbuf_adds(err, "501 5.5.4 Bad RET parameter "
                                                 "syntax");
                                goto out;
                        }
                        have_ret = true;
                } else if (has_kw(s, "ENVID=")) {
                        if (!o->dsn) {
                                strbuf_adds(err, "501 5.7.1 DSN support is "
                                                 "disabled");
                                goto out;
                        }
                        strbuf_reset(&tmp);
                        if (have_envid || s[6] == 0 ||
                            smtpd_xtext_decode(s + 6, &tmp) < 0 ||
                            tmp.len > ENVID_MAX) {
                                strbuf_adds(err, "501 5.5.4 Bad ENVID "
                                                 "parameter syntax");
                                goto out;
                        }
                        env->envid = xstrndup(tmp.s, tmp.len);
                        have_envid = true;
                } else if (has_kw(s, "AUTH=")) {
                        /* RFC 4954 section 5, as Postfix: kept for the
                         * log, never trusted */
                        if (!o->auth) {
                                strbuf_adds(err, "503 5.5.4 Error: "
                                                 "authentication disabled");
                                goto out;
                        }
                        if (have_auth) {
                                strbuf_adds(err, "503 5.5.4 Error: multiple "
                                                 "AUTH= options");
                                goto out;
                        }
                        have_auth = true;
                        if (strcmp(s + 5, "<>") != 0) {
                                env->auth = xstrdup(s + 5);
                                for (char *q = env->auth; *q; q++)
                                        if ((unsigned char)*q < 33 ||
                                            (unsigned char)*q > 126)
                                                *q = '?';
                        }
                } else {
                        strbuf_printf(
                            err, "555 5.5.4 Unsupported option: %.100s", s);
                        goto out;
                }
        }
        ao.smtputf8 = env->smtputf8;
        switch (check_addr(a, n, true, &ao)) {
        case ADDR_OK:
                break;
        case ADDR_UTF8:
                strbuf_adds(err, "553 5.6.7 Must declare SMTPUTF8 to send "
                                 "unicode address");
                goto out;
        default:
                strbuf_adds(err, "501 5.1.7 Bad sender address syntax");
                goto out;
        }
        if (have_size && o->size_limit > 0 && env->size > o->size_limit) {
                strbuf_adds(err, "552 5.3.4 Message size exceeds fixed limit");
                goto out;
        }
        env->sender = xstrndup(a, n);
        env->params = xstrdup(params);
        rc = 0;
out:
        strbuf_clear(&prm);
        strbuf_clear(&tmp);
        return rc;
}

/* parse_notify - NEVER, or a list of SUCCESS, FAILURE, DELAY */
static unsigned parse_notify(const char *s)
{
        unsigned mask = 0;

        if (str_eq_ci(s, "NEVER"))
                return SMTPD_NOTIFY_NEVER;
        while (*s) {
                const char *e = strchr(s, ',');
                size_t n = e ? (size_t)(e - s) : strlen(s);
                unsigned bit;
                if (n == 7 && strncasecmp(s, "SUCCESS", 7) == 0)
                        bit = SMTPD_NOTIFY_SUCCESS;
                else if (n == 7 && strncasecmp(s, "FAILURE", 7) == 0)
                        bit = SMTPD_NOTIFY_FAILURE;
                else if (n == 5 && strncasecmp(s, "DELAY", 5) == 0)
                        bit = SMTPD_NOTIFY_DELAY;
                else
                        return 0;
                if (mask & bit)
                        return 0;
                mask |= bit;
                if (e == NULL)
                        break;
                s = e + 1;
                if (*s == 0)
                        return 0;
        }
        return mask;
}

/* parse_orcpt - "type;xtext" */
static int parse_orcpt(const char *s, struct smtpd_rcpt *r)
{
        const char *semi = strchr(s, ';');
        struct strbuf tmp;

        if (semi == NULL || semi == s || semi[1] == 0 || strlen(s) > ORCPT_MAX)
                return -1;
        for (const char *t = s; t < semi; t++)
                if (!(isalnum((unsigned char)*t) || *t == '-'))
                        return -1;
        strbuf_init(&tmp);
        if (smtpd_xtext_decode(semi + 1, &tmp) < 0) {
                strbuf_clear(&tmp);
                return -1;
        }
        r->orcpt_type = xstrndup(s, (size_t)(semi - s));
        str_lower(r->orcpt_type);
        r->orcpt = strbuf_detach(&tmp);
        return 0;
}

/* smtpd_parse_rcpt - RCPT TO:<a> [params] */
int smtpd_parse_rcpt(const char *args, const struct smtpd_parse_opts *o,
                     struct smtpd_rcpt *r, struct strbuf *err)
{
        const char *p = skip_sp(args), *a;
        size_t n;
        struct strbuf prm;
        int rc = -1;

        if (strncasecmp(p, "TO:", 3) != 0) {
                strbuf_adds(err, "501 5.5.4 Syntax: RCPT TO:<address>");
                return -1;
        }
        p = skip_sp(p + 3);
        if (*p == 0) {
                strbuf_adds(err, "501 5.5.4 Syntax: RCPT TO:<address>");
                return -1;
        }
        if ((o->strict_rfc821 && *p != '<') ||
            (p = take_path(p, &a, &n)) == NULL) {
                strbuf_adds(err, "501 5.1.3 Bad recipient address syntax");
                return -1;
        }
        const char *params = skip_sp(p);
        switch (check_addr(a, n, false, o)) {
        case ADDR_OK:
                break;
        case ADDR_UTF8:
                strbuf_adds(err, "553 5.6.7 Must declare SMTPUTF8 to send "
                                 "unicode address");
                return -1;
        default:
                strbuf_adds(err, "501 5.1.3 Bad recipient address syntax");
                return -1;
        }
        strbuf_init(&prm);
        while (next_param(&p, &prm)) {
                const char *s = prm.s;
                if (has_kw(s, "NOTIFY=")) {
                        if (!o->dsn) {
                                strbuf_adds(err, "501 5.7.1 DSN support is "
                                                 "disabled");
                                goto out;
                        }
                        if (r->notify ||
                            (r->notify = parse_notify(s + 7)) == 0) {
                                strbuf_adds(err, "501 5.5.4 Error: Bad NOTIFY "
                                                 "parameter syntax");
                                goto out;
                        }
                } else if (has_kw(s, "ORCPT=")) {
                        if (!o->dsn) {
                                strbuf_adds(err, "501 5.7.1 DSN support is "
                                                 "disabled");
                                goto out;
                        }
                        if (r->orcpt || parse_orcpt(s + 6, r) < 0) {
                                strbuf_adds(err, "501 5.5.4 Error: Bad ORCPT "
                                                 "parameter syntax");
                                goto out;
                        }
                } else {
                        strbuf_printf(
                            err, "555 5.5.4 Unsupported option: %.100s", s);
                        goto out;
                }
        }
        r->addr = xstrndup(a, n);
        r->params = xstrdup(params);
        rc = 0;
out:
        strbuf_clear(&prm);
        return rc;
}

/* smtpd_parse_vrfy - VRFY address */
int smtpd_parse_vrfy(const char *args, const struct smtpd_parse_opts *o,
                     struct strbuf *out, struct strbuf *err)
{
        const char *p = skip_sp(args), *a;
        size_t n;
        struct smtpd_parse_opts vo = *o;

        if (*p == 0) {
                strbuf_adds(err, "501 5.5.4 Syntax: VRFY address");
                return -1;
        }
        vo.smtputf8 = o->smtputf8_enable;
        if ((p = take_path(p, &a, &n)) == NULL || *skip_sp(p) != 0 ||
            check_addr(a, n, false, &vo) != ADDR_OK) {
                strbuf_adds(err, "501 5.1.3 Bad recipient address syntax");
                return -1;
        }
        strbuf_add(out, a, n);
        return 0;
}

/* smtpd_parse_bdat - BDAT size [LAST] */
int smtpd_parse_bdat(const char *args, size_t *size, bool *last)
{
        const char *p = skip_sp(args), *q = p;
        char num[32];

        while (*q >= '0' && *q <= '9')
                q++;
        if (q == p || (size_t)(q - p) >= sizeof(num))
                return -1;
        memcpy(num, p, (size_t)(q - p));
        num[q - p] = 0;
        if (parse_size(num, size) < 0)
                return -1;
        if (*q != 0 && *q != ' ' && *q != '\t')
                return -1;
        p = skip_sp(q);
        *last = false;
        if (*p == 0)
                return 0;
        if (strncasecmp(p, "LAST", 4) != 0)
                return -1;
        p = skip_sp(p + 4);
        if (*p != 0)
                return -1;
        *last = true;
        return 0;
}

/* smtpd_rcpt_clear - free one recipient */
void smtpd_rcpt_clear(struct smtpd_rcpt *r)
{
        free(r->addr);
        free(r->orcpt_type);
        free(r->orcpt);
        free(r->params);
        memset(r, 0, sizeof(*r));
}

/* smtpd_envelope_clear - free the envelope */
void smtpd_envelope_clear(struct smtpd_envelope *e)
{
        free(e->sender);
        free(e->envid);
        free(e->auth);
        free(e->params);
        free(e->filter);
        strlist_clear(&e->prepend);
        for (size_t i = 0; i < e->nrcpt; i++)
                smtpd_rcpt_clear(&e->rcpt[i]);
        free(e->rcpt);
        memset(e, 0, sizeof(*e));
}

/* SPDX-License-Identifier: MIT */
/*
 * fuzz_smtp_command.c - the SMTP command argument parsers: MAIL, RCPT,
 * VRFY, BDAT, xtext and UTF-8.  The first input byte picks the parser and
 * its options; the rest is the argument text.  Accepted addresses must not
 * carry line breaks or NULs into the envelope.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd/smtpd_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* no_ctl - accepted strings never contain CR or LF */
static void no_ctl(const char *s)
{
        if (s && strpbrk(s, "\r\n"))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct smtpd_parse_opts o;
        struct smtpd_envelope env = {0};
        struct smtpd_rcpt r = {0};
        struct strbuf err, out;
        char *arg;
        size_t sz;
        bool last;

        if (size < 1)
                return 0;
        o.dsn = data[0] & 0x08;
        o.smtputf8_enable = data[0] & 0x10;
        o.smtputf8 = data[0] & 0x20;
        o.size_limit = (data[0] & 0x40) ? 1000 : 0;
        o.strict_rfc821 = data[0] & 0x80;
        o.auth = data[0] & 0x08;
        arg = xstrndup((const char *)data + 1, size - 1);
        strbuf_init(&err);
        strbuf_init(&out);
        switch (data[0] & 0x07) {
        case 0:
                if (smtpd_parse_mail(arg, &o, &env, &err) == 0) {
                        no_ctl(env.sender);
                        no_ctl(env.envid);
                        no_ctl(env.auth);
                        if (env.size > o.size_limit && o.size_limit)
                                abort();
                } else if (err.len < 4) {
                        abort();
                }
                smtpd_envelope_clear(&env);
                break;
        case 1:
                if (smtpd_parse_rcpt(arg, &o, &r, &err) == 0) {
                        no_ctl(r.addr);
                        no_ctl(r.orcpt);
                        if (r.addr == NULL || r.addr[0] == 0)
                                abort();
                } else if (err.len < 4) {
                        abort();
                }
                smtpd_rcpt_clear(&r);
                break;
        case 2:
                if (smtpd_parse_vrfy(arg, &o, &out, &err) == 0)
                        no_ctl(out.s);
                break;
        case 3:
                if (smtpd_parse_bdat(arg, &sz, &last) == 0 && strchr(arg, '-'))
                        abort();
                break;
        case 4:
                if (smtpd_xtext_decode(arg, &out) == 0)
                        for (size_t i = 0; i < out.len; i++)
                                if (out.s[i] < 0x20 || out.s[i] > 0x7e)
                                        abort();
                break;
        default:
                (void)smtpd_utf8_valid((const char *)data + 1, size - 1);
                break;
        }
        strbuf_clear(&err);
        strbuf_clear(&out);
        free(arg);
        return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * fuzz_smtp_reply.c - the SMTP client's reply parser, EHLO feature parser,
 * TLS policy entries and next-hop syntax.  The input is split into lines
 * at LF (a CR before it is dropped) and fed to smtp_reply_line; complete
 * replies are checked for invariants and parsed as EHLO replies.  The
 * first line is also parsed as a policy entry and as an SMTP and an LMTP next
 * hop.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtp/smtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check_reply - invariants of a complete reply */
static void check_reply(const struct smtp_reply *r)
{
        unsigned long long limit = 0;
        struct strbuf one;

        if (r->code < 200 || r->code > 599 || r->nlines == 0)
                abort();
        if (r->dsn[0] && r->dsn[0] != '0' + r->code / 100)
                abort();
        strbuf_init(&one);
        smtp_reply_oneline(r, &one);
        if (one.len != r->text.len || strpbrk(strbuf_cstr(&one), "\r\n"))
                abort();
        strbuf_clear(&one);
        (void)smtp_ehlo_features(r, &limit);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct smtp_reply r;
        const char *p = (const char *)data, *end = p + size;
        const char *errstr;
        bool first = true;

        smtp_reply_init(&r);
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                const char *le = nl ? nl : end;
                size_t n = (size_t)(le - p);
                if (n > 0 && p[n - 1] == '\r')
                        n--;
                if (first) {
                        char *s = malloc(n + 1);
                        memcpy(s, p, n);
                        s[n] = 0;
                        if (strlen(s) == n) {
                                struct smtp_tls_policy pol;
                                struct smtp_nexthop nh;
                                char *err = NULL;
                                if (smtp_tls_policy_parse(s, &pol, &err) == 0) {
                                        struct strbuf k;
                                        strbuf_init(&k);
                                        smtp_tls_policy_key(&pol, &k);
                                        strbuf_clear(&k);
                                        smtp_tls_policy_clear(&pol);
                                } else if (err == NULL) {
                                        abort();
                                }
                                free(err);
                                if (smtp_nexthop_parse(s, &nh, &errstr) == 0) {
                                        if (nh.host == NULL || *nh.host == 0 ||
                                            nh.port == 0)
                                                abort();
                                        smtp_nexthop_clear(&nh);
                                }
                                /* an LMTP next hop: a socket path, or a
                                 * host with a port and no MX lookup */
                                if (smtp_lmtp_nexthop_parse(s, 24, &nh,
                                                            &errstr) == 0) {
                                        if (nh.host == NULL || *nh.host == 0 ||
                                            !nh.no_mx ||
                                            (nh.path == NULL) != (nh.port != 0))
                                                abort();
                                        smtp_nexthop_clear(&nh);
                                }
                        }
                        free(s);
                        first = false;
                }
                if (smtp_reply_line(&r, p, n, &errstr) < 0) {
                        smtp_reply_clear(&r);
                } else if (r.done) {
                        check_reply(&r);
                        smtp_reply_clear(&r);
                }
                p = nl ? nl + 1 : end;
        }
        smtp_reply_clear(&r);
        return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * fuzz_smtp_data.c - a whole SMTP server session fed arbitrary bytes,
 * including DATA and BDAT content.  Byte 0 picks the settings, byte 1 how
 * the input is split; the rest is what the client sends.  Checked: every
 * reply is a well-formed reply line, stored content has CRLF line endings
 * only, nothing is written after the session closed, and (when no
 * split-dependent feature is on) a byte-by-byte feed gives exactly the
 * same replies and messages as the chosen split.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd/smtpd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct rec {
        struct strbuf transcript;
        struct strbuf msgs; /* every committed message, separated */
        struct strbuf cur;
        bool open;
        bool async;
        unsigned commits;
};

/* rcpt_check - a few rejections to exercise those paths */
static enum smtpd_verdict rcpt_check(void *ctx, const struct smtpd_info *i,
                                     const char *rcpt, bool vrfy,
                                     struct strbuf *reply)
{
        (void)ctx, (void)i, (void)vrfy;
        if (rcpt[0] == 'r') {
                strbuf_adds(reply, "554 5.7.1 Relay access denied");
                return SMTPD_REJECT;
        }
        if (rcpt[0] == 'd')
                return SMTPD_DEFER; /* no reply: the engine's default */
        return SMTPD_ACCEPT;
}

/* msg_begin - open */
static int msg_begin(void *ctx, const struct smtpd_info *i)
{
        struct rec *r = ctx;
        if (r->open || i->env->nrcpt == 0)
                abort();
        r->open = true;
        strbuf_reset(&r->cur);
        return 0;
}

/* msg_write - append */
static int msg_write(void *ctx, const char *p, size_t n)
{
        struct rec *r = ctx;
        if (!r->open)
                abort();
        strbuf_add(&r->cur, p, n);
        return 0;
}

/* msg_end - commit, sometimes asynchronously */
static enum smtpd_commit msg_end(void *ctx, char *qid, size_t n)
{
        struct rec *r = ctx;
        if (!r->open)
                abort();
        r->open = false;
        /* CRLF line endings only. */
        for (size_t i = 0; i < r->cur.len; i++)
                if (r->cur.s[i] == '\n' && (i == 0 || r->cur.s[i - 1] != '\r'))
                        abort();
        strbuf_add(&r->msgs, r->cur.s, r->cur.len);
        strbuf_add(&r->msgs, "\0", 1);
        snprintf(qid, n, "Q%u", ++r->commits);
        return r->async ? SMTPD_COMMIT_PENDING : SMTPD_COMMIT_OK;
}

/* msg_abort - drop */
static void msg_abort(void *ctx)
{
        struct rec *r = ctx;
        if (!r->open)
                abort();
        r->open = false;
}

/* quiet - no log output while fuzzing */
static void quiet(void *ctx, const char *line)
{
        (void)ctx, (void)line;
}

static const struct smtpd_ops ops = {
    .rcpt_check = rcpt_check,
    .msg_begin = msg_begin,
    .msg_write = msg_write,
    .msg_end = msg_end,
    .msg_abort = msg_abort,
    .log = quiet,
};

/* check_output - well-formed reply lines; collect them */
static void check_output(struct smtpd_session *s, struct rec *r)
{
        const char *p;
        size_t n;

        smtpd_session_output(s, &p, &n);
        if (n && (n < 5 || p[n - 2] != '\r' || p[n - 1] != '\n'))
                abort();
        for (size_t i = 0; i < n;) {
                const char *e = memchr(p + i, '\n', n - i);
                if (e == NULL || e == p + i || e[-1] != '\r')
                        abort();
                if (p[i] < '2' || p[i] > '5' ||
                    (p[i + 3] != ' ' && p[i + 3] != '-'))
                        abort();
                for (const char *q = p + i; q < e - 1; q++)
                        if (*q == '\r' || *q == 0)
                                abort();
                i = (size_t)(e - p) + 1;
        }
        strbuf_add(&r->transcript, p, n);
        smtpd_session_consume(s, n);
}

/* run - one session; split 0 means byte by byte */
static void run(const struct smtpd_settings *set, bool excluded,
                const uint8_t *in, size_t n, unsigned split, struct rec *r)
{
        struct smtpd_tls_info tls = {.protocol = "TLSv1.3"};
        struct smtpd_client c = {.name = "c",
                                 .addr = "192.0.2.1",
                                 .bare_newline_excluded = excluded};
        struct smtpd_session *s = smtpd_session_new(set, &c, &ops, r);
        size_t off = 0;
        unsigned seed = split;
        unsigned done = 0;

        check_output(s, r);
        while (off < n) {
                size_t k = 1;
                if (split) {
                        seed = seed * 1103515245u + 12345u;
                        k = 1 + (seed >> 16) % 64;
                }
                if (k > n - off)
                        k = n - off;
                bool closed = smtpd_session_action(s) == SMTPD_ACTION_CLOSE;
                smtpd_session_input(s, (const char *)in + off, k);
                off += k;
                if (closed) {
                        const char *p;
                        size_t len;
                        smtpd_session_output(s, &p, &len);
                        if (len)
                                abort(); /* nothing after close */
                }
                check_output(s, r);
                switch (smtpd_session_action(s)) {
                case SMTPD_ACTION_STARTTLS:
                        smtpd_session_tls_done(s, &tls);
                        break;
                case SMTPD_ACTION_WAIT:
                        /* Held input may hold more messages. */
                        while (smtpd_session_action(s) == SMTPD_ACTION_WAIT) {
                                smtpd_session_msg_done(s, (done++ % 3) ? "Q"
                                                                       : NULL);
                                check_output(s, r);
                        }
                        break;
                default:
                        break;
                }
        }
        smtpd_session_eof(s);
        check_output(s, r);
        if (r->open)
                abort();
        smtpd_session_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct smtpd_settings set;
        struct rec a = {0}, b = {0};
        bool excluded;

        if (size < 2)
                return 0;
        smtpd_settings_init(&set);
        set.myhostname = "mx.example";
        /* smtpd_reject_footer on every 4XX/5XX reply, in both forms */
        if (data[0] & 0x40)
                set.reject_footer = (data[0] & 0x80)
                                        ? "\\cCall $client_address\\nat "
                                          "${localtime} $server_name $x"
                                        : "Call\\n\\n$client_port";
        switch (data[0] & 3) {
        case 0:
                set.bare_newline = SMTPD_BARE_NEWLINE_NO;
                break;
        case 1:
                set.bare_newline = SMTPD_BARE_NEWLINE_NORMALIZE;
                break;
        default:
                set.bare_newline = SMTPD_BARE_NEWLINE_REJECT;
        }
        excluded = (data[0] & 3) == 3;
        if (data[0] & 0x04)
                set.tls_level = SMTPD_TLS_MAY;
        if (data[0] & 0x08)
                set.discard_ehlo_keywords = "chunking dsn enhancedstatuscodes";
        if (data[0] & 0x10)
                set.message_size_limit = 200;
        a.async = b.async = data[0] & 0x20;
        set.forbid_unauth_pipelining = data[0] & 0x40;
        if (data[0] & 0x80) {
                set.smtputf8_enable = false;
                set.recipient_limit = 3;
                set.recipient_overshoot = 2;
                set.hard_error_limit = 5;
                set.line_length_limit = 40;
        }
        run(&set, excluded, data + 2, size - 2, 1u + data[1], &a);
        /* Without timing-dependent features, any split is the same. */
        if (!set.forbid_unauth_pipelining && set.tls_level == SMTPD_TLS_NONE &&
            size < 20000) {
                run(&set, excluded, data + 2, size - 2, 0, &b);
                if (a.transcript.len != b.transcript.len ||
                    memcmp(a.transcript.s, b.transcript.s, a.transcript.len) ||
                    a.msgs.len != b.msgs.len ||
                    (a.msgs.len && memcmp(a.msgs.s, b.msgs.s, a.msgs.len)))
                        abort();
        }
        strbuf_clear(&a.transcript);
        strbuf_clear(&a.msgs);
        strbuf_clear(&a.cur);
        strbuf_clear(&b.transcript);
        strbuf_clear(&b.msgs);
        strbuf_clear(&b.cur);
        return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * dialogue.h - a fake event layer that replays scripted SMTP dialogues
 * against the smtpd engine, with fake ops that record queued messages.
 *
 * Script format, one directive per line ('#' starts a comment line):
 *   C: text     a client line; CRLF is appended
 *   R: text     raw client bytes with C escapes (\r \n \t \\ \xNN), no CRLF
 *   S: text     the next reply line must be exactly text
 *   S~ text     the next reply line must start with text
 *   A: read|starttls|wait|close   the action after the input so far
 *   N: n        exactly n messages have been queued so far
 *   T: tls      the TLS handshake completed (smtpd_session_tls_done)
 *   D: qid      complete a pending commit (D: - for a failure)
 *   E: eof|timeout
 *   L: text     some log line so far contains text
 *   X: -        end the session now (smtpd_session_free); L: may follow
 *   Z: ok|cont|fail|temp [text]   the auth server's answer
 *               (smtpd_session_auth_done)
 *   V: accept|reject|defer [reply]   decide a pending RCPT
 *               (smtpd_session_rcpt_done)
 *   U: text     the auth steps so far, "MECH resp|resp|..." ("-" for no
 *               initial response; "abort" for each auth_abort)
 * Consecutive C:/R: lines form one packet, given to smtpd_session_input in
 * one call (FEED_BULK) or one byte per call (FEED_BYTES).  When a packet
 * ends, all output is collected; S: lines consume it in order.  At the end
 * of the script no unexpected reply may remain.
 */
#ifndef DIALOGUE_H
#define DIALOGUE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/base.h"
#include "smtpd/smtpd.h"

enum feed_mode { FEED_BULK, FEED_BYTES };

struct fake_msg {
        char *sender;
        struct strlist rcpts;
        struct strbuf content;
        char qid[32];
};

struct fake {
        struct fake_msg msgs[64];
        size_t nmsgs;
        struct fake_msg cur;
        bool open;
        int begins, aborts, writes;
        enum smtpd_commit commit; /* what msg_end answers */
        const char *refusal;      /* the reply of a REFUSED commit */
        bool fail_write;
        bool fail_begin;
        bool received; /* add a Received: header */
        struct strlist logs;
        int qid_seq;
        const char *mechs;   /* what auth_mechs answers (NULL: no AUTH) */
        struct strbuf steps; /* auth_step and auth_abort calls */
        bool fail_step;      /* auth_step returns -1 */
};

/* fake_reset - empty recorder */
static void fake_init(struct fake *f)
{
        memset(f, 0, sizeof(*f));
        f->commit = SMTPD_COMMIT_OK;
}

/* fake_clear - free recorder */
static void fake_clear(struct fake *f)
{
        for (size_t i = 0; i < f->nmsgs; i++) {
                free(f->msgs[i].sender);
                strlist_clear(&f->msgs[i].rcpts);
                strbuf_clear(&f->msgs[i].content);
        }
        free(f->cur.sender);
        strlist_clear(&f->cur.rcpts);
        strbuf_clear(&f->cur.content);
        strlist_clear(&f->logs);
        strbuf_clear(&f->steps);
        memset(f, 0, sizeof(*f));
}

/* fake_rcpt_check - "reject*" local parts are relay-denied, "defer*"
 * deferred, "bad*" get a malformed reply (the engine substitutes). */
static enum smtpd_verdict fake_rcpt_check(void *ctx,
                                          const struct smtpd_info *info,
                                          const char *rcpt, bool vrfy,
                                          struct strbuf *reply)
{
        (void)ctx, (void)info, (void)vrfy;
        if (strncmp(rcpt, "reject", 6) == 0) {
                strbuf_printf(reply, "554 5.7.1 <%s>: Relay access denied",
                              rcpt);
                return SMTPD_REJECT;
        }
        if (strncmp(rcpt, "defer", 5) == 0) {
                strbuf_printf(reply, "450 4.7.1 <%s>: try again", rcpt);
                return SMTPD_DEFER;
        }
        if (strncmp(rcpt, "pending", 7) == 0 && !vrfy)
                return SMTPD_PENDING;
        if (strncmp(rcpt, "bad", 3) == 0) {
                strbuf_adds(reply, "250 ok\r\n250 injected");
                return SMTPD_REJECT;
        }
        return SMTPD_ACCEPT;
}

/* fake_mail_check - sender "spammer@..." is rejected */
static enum smtpd_verdict fake_mail_check(void *ctx,
                                          const struct smtpd_info *info,
                                          const char *sender,
                                          struct strbuf *reply)
{
        (void)ctx, (void)info;
        if (strncmp(sender, "spammer", 7) == 0) {
                strbuf_printf(reply, "554 5.7.1 <%s>: Sender address rejected",
                              sender);
                return SMTPD_REJECT;
        }
        return SMTPD_ACCEPT;
}

/* fake_received - a short Received: header */
static char *fake_received(void *ctx, const struct smtpd_info *info)
{
        struct fake *f = ctx;
        if (!f->received)
                return NULL;
        return xasprintf("Received: from %s", info->helo ? info->helo : "?");
}

/* fake_begin - open a message */
static int fake_begin(void *ctx, const struct smtpd_info *info)
{
        struct fake *f = ctx;
        assert_false(f->open);
        f->begins++;
        if (f->fail_begin)
                return -1;
        memset(&f->cur, 0, sizeof(f->cur));
        f->cur.sender = xstrdup(info->env->sender);
        for (size_t i = 0; i < info->env->nrcpt; i++)
                strlist_push(&f->cur.rcpts, info->env->rcpt[i].addr);
        f->open = true;
        return 0;
}

/* fake_write - content */
static int fake_write(void *ctx, const char *p, size_t n)
{
        struct fake *f = ctx;
        assert_true(f->open);
        f->writes++;
        if (f->fail_write)
                return -1;
        strbuf_add(&f->cur.content, p, n);
        return 0;
}

/* fake_end - commit */
static enum smtpd_commit fake_end(void *ctx, char *qid, size_t n)
{
        struct fake *f = ctx;
        assert_true(f->open);
        f->open = false;
        if (f->commit == SMTPD_COMMIT_FAIL ||
            f->commit == SMTPD_COMMIT_REFUSED) {
                if (f->commit == SMTPD_COMMIT_REFUSED)
                        snprintf(qid, n, "%s", f->refusal);
                free(f->cur.sender);
                strlist_clear(&f->cur.rcpts);
                strbuf_clear(&f->cur.content);
                memset(&f->cur, 0, sizeof(f->cur));
                return f->commit;
        }
        assert_true(f->nmsgs < ARRAY_SIZE(f->msgs));
        snprintf(f->cur.qid, sizeof(f->cur.qid), "QID%d", ++f->qid_seq);
        snprintf(qid, n, "%s", f->cur.qid);
        f->msgs[f->nmsgs++] = f->cur;
        memset(&f->cur, 0, sizeof(f->cur));
        return f->commit;
}

/* fake_abort - drop */
static void fake_abort(void *ctx)
{
        struct fake *f = ctx;
        assert_true(f->open);
        f->open = false;
        f->aborts++;
        free(f->cur.sender);
        strlist_clear(&f->cur.rcpts);
        strbuf_clear(&f->cur.content);
        memset(&f->cur, 0, sizeof(f->cur));
}

/* fake_log - keep log lines */
static void fake_log(void *ctx, const char *line)
{
        struct fake *f = ctx;
        strlist_push(&f->logs, line);
}

/* fake_auth_mechs - f->mechs, with or without TLS */
static const char *fake_auth_mechs(void *ctx, bool tls)
{
        struct fake *f = ctx;
        (void)tls;
        return f->mechs;
}

/* fake_auth_step - record the step */
static int fake_auth_step(void *ctx, const struct smtpd_info *info,
                          const char *mech, const char *resp)
{
        struct fake *f = ctx;
        (void)info;
        if (f->steps.len)
                strbuf_addc(&f->steps, '|');
        if (mech)
                strbuf_printf(&f->steps, "%s %s", mech, resp ? resp : "-");
        else
                strbuf_adds(&f->steps, resp);
        return f->fail_step ? -1 : 0;
}

/* fake_auth_abort - record the abort */
static void fake_auth_abort(void *ctx)
{
        struct fake *f = ctx;
        if (f->steps.len)
                strbuf_addc(&f->steps, '|');
        strbuf_adds(&f->steps, "abort");
}

static const struct smtpd_ops fake_ops = {
    .auth_mechs = fake_auth_mechs,
    .auth_step = fake_auth_step,
    .auth_abort = fake_auth_abort,
    .mail_check = fake_mail_check,
    .rcpt_check = fake_rcpt_check,
    .received_header = fake_received,
    .msg_begin = fake_begin,
    .msg_write = fake_write,
    .msg_end = fake_end,
    .msg_abort = fake_abort,
    .log = fake_log,
};

/* test_settings - the settings most dialogues use */
static void test_settings(struct smtpd_settings *set)
{
        smtpd_settings_init(set);
        set->myhostname = "mx.example";
        set->message_size_limit = 10240000;
}

/* unescape - C escapes of R: lines */
static void unescape(struct strbuf *b, const char *s)
{
        for (; *s; s++) {
                if (*s != '\\' || s[1] == 0) {
                        strbuf_addc(b, *s);
                        continue;
                }
                s++;
                switch (*s) {
                case 'r':
                        strbuf_addc(b, '\r');
                        break;
                case 'n':
                        strbuf_addc(b, '\n');
                        break;
                case 't':
                        strbuf_addc(b, '\t');
                        break;
                case 'x': {
                        char hex[3] = {s[1], s[2], 0};
                        strbuf_addc(b, (char)strtol(hex, NULL, 16));
                        s += 2;
                        break;
                }
                default:
                        strbuf_addc(b, *s);
                }
        }
}

struct dialogue {
        struct smtpd_session *s;
        struct fake *f;
        enum feed_mode mode;
        struct strbuf packet;
        struct strbuf got;        /* output not yet matched */
        struct strbuf transcript; /* every output byte */
        int lineno;
};

/* dlg_feed - hand the pending packet to the engine */
static void dlg_feed(struct dialogue *d)
{
        const char *p;
        size_t n;

        if (d->s == NULL)
                return;
        if (d->packet.len) {
                if (d->mode == FEED_BULK) {
                        smtpd_session_input(d->s, d->packet.s, d->packet.len);
                } else {
                        for (size_t i = 0; i < d->packet.len; i++)
                                smtpd_session_input(d->s, d->packet.s + i, 1);
                }
                strbuf_reset(&d->packet);
        }
        (void)smtpd_session_delay(d->s);
        smtpd_session_output(d->s, &p, &n);
        strbuf_add(&d->got, p, n);
        strbuf_add(&d->transcript, p, n);
        smtpd_session_consume(d->s, n);
}

/* dlg_next_reply - pop one reply line */
static char *dlg_next_reply(struct dialogue *d)
{
        char *crlf = d->got.s ? strstr(d->got.s, "\r\n") : NULL;
        char *line;
        size_t n;

        if (crlf == NULL)
                return NULL;
        n = (size_t)(crlf - d->got.s);
        line = xstrndup(d->got.s, n);
        memmove(d->got.s, crlf + 2, d->got.len - n - 2);
        d->got.len -= n + 2;
        d->got.s[d->got.len] = 0;
        return line;
}

static const char *const action_names[] = {"read", "starttls", "wait", "close"};

/* dialogue_run - replay script; fails the test with the script line */
static void dialogue_run(const char *script, const struct smtpd_settings *set,
                         struct fake *f, enum feed_mode mode,
                         struct strbuf *transcript)
{
        struct dialogue d;
        struct smtpd_client client = {
            .name = "client.example", .addr = "192.0.2.1", .port = "40000"};
        const char *p = script;

        memset(&d, 0, sizeof(d));
        d.f = f;
        d.mode = mode;
        d.s = smtpd_session_new(set, &client, &fake_ops, f);
        while (*p) {
                const char *e = strchr(p, '\n');
                size_t n = e ? (size_t)(e - p) : strlen(p);
                char *l = xstrndup(p, n);
                const char *arg = n > 3 ? l + 3 : "";

                d.lineno++;
                p += n + (e ? 1 : 0);
                if (n == 0 || l[0] == '#') {
                        free(l);
                        continue;
                }
                if (n < 2 || (l[1] != ':' && l[1] != '~'))
                        fail_msg("script line %d: bad directive '%s'", d.lineno,
                                 l);
                switch (l[0]) {
                case 'C':
                        strbuf_adds(&d.packet, arg);
                        strbuf_adds(&d.packet, "\r\n");
                        break;
                case 'R':
                        unescape(&d.packet, arg);
                        break;
                case 'S': {
                        char *r;
                        dlg_feed(&d);
                        r = dlg_next_reply(&d);
                        if (r == NULL)
                                fail_msg("script line %d: expected '%s', got "
                                         "no reply",
                                         d.lineno, arg);
                        if (l[1] == ':' ? strcmp(r, arg) != 0
                                        : strncmp(r, arg, strlen(arg)) != 0)
                                fail_msg("script line %d: expected '%s', got "
                                         "'%s'",
                                         d.lineno, arg, r);
                        free(r);
                        break;
                }
                case 'A': {
                        enum smtpd_action a;
                        dlg_feed(&d);
                        a = smtpd_session_action(d.s);
                        if (strcmp(action_names[a], arg) != 0)
                                fail_msg("script line %d: action %s, expected "
                                         "%s",
                                         d.lineno, action_names[a], arg);
                        break;
                }
                case 'N':
                        dlg_feed(&d);
                        if (f->nmsgs != (size_t)atoi(arg))
                                fail_msg("script line %d: %zu messages queued, "
                                         "expected %s",
                                         d.lineno, f->nmsgs, arg);
                        break;
                case 'T': {
                        struct smtpd_tls_info ti = {
                            .protocol = "TLSv1.3",
                            .cipher = "TLS_AES_256_GCM_SHA384",
                            .cipher_usebits = 256,
                            .cipher_algbits = 256};
                        dlg_feed(&d);
                        smtpd_session_tls_done(d.s, &ti);
                        break;
                }
                case 'D':
                        dlg_feed(&d);
                        smtpd_session_msg_done(d.s,
                                               strcmp(arg, "-") ? arg : NULL);
                        break;
                case 'E':
                        dlg_feed(&d);
                        if (strcmp(arg, "eof") == 0)
                                smtpd_session_eof(d.s);
                        else
                                smtpd_session_timeout(d.s);
                        break;
                case 'Z': {
                        static const char *const r[] = {"ok", "cont", "fail",
                                                        "temp"};
                        size_t k = strcspn(arg, " ");
                        int i = 0;
                        while (i < 4 && (strlen(r[i]) != k ||
                                         strncmp(arg, r[i], k) != 0))
                                i++;
                        if (i == 4)
                                fail_msg("script line %d: bad Z: '%s'",
                                         d.lineno, arg);
                        dlg_feed(&d);
                        smtpd_session_auth_done(d.s, (enum smtpd_auth_result)i,
                                                arg[k] ? arg + k + 1 : "");
                        break;
                }
                case 'V': {
                        size_t k = strcspn(arg, " ");
                        enum smtpd_verdict v =
                            !strncmp(arg, "accept", k)   ? SMTPD_ACCEPT
                            : !strncmp(arg, "reject", k) ? SMTPD_REJECT
                                                         : SMTPD_DEFER;
                        dlg_feed(&d);
                        smtpd_session_rcpt_done(d.s, v,
                                                arg[k] ? arg + k + 1 : NULL);
                        break;
                }
                case 'U':
                        dlg_feed(&d);
                        if (strcmp(f->steps.s ? f->steps.s : "", arg) != 0)
                                fail_msg("script line %d: auth steps '%s', "
                                         "expected '%s'",
                                         d.lineno, f->steps.s ? f->steps.s : "",
                                         arg);
                        break;
                case 'X':
                        dlg_feed(&d);
                        if (d.got.len)
                                fail_msg("unexpected reply: '%s'", d.got.s);
                        smtpd_session_free(d.s);
                        d.s = NULL;
                        break;
                case 'L': {
                        bool found = false;
                        dlg_feed(&d);
                        for (size_t i = 0; i < f->logs.n; i++)
                                if (strstr(f->logs.v[i], arg))
                                        found = true;
                        for (size_t i = 0; !found && i < f->logs.n; i++)
                                print_message("log: %s\n", f->logs.v[i]);
                        if (!found)
                                fail_msg("script line %d: no log line with "
                                         "'%s'",
                                         d.lineno, arg);
                        break;
                }
                default:
                        fail_msg("script line %d: bad directive '%s'", d.lineno,
                                 l);
                }
                free(l);
        }
        if (d.s) {
                dlg_feed(&d);
                if (d.got.len)
                        fail_msg("unexpected reply after the script: '%s'",
                                 d.got.s);
                smtpd_session_free(d.s);
        }
        if (transcript)
                strbuf_add(transcript, d.transcript.s, d.transcript.len);
        strbuf_clear(&d.packet);
        strbuf_clear(&d.got);
        strbuf_clear(&d.transcript);
}

/* dialogue_both - run a script bulk and byte-by-byte; both must pass
 * and give the same transcript and the same queued messages */
static void dialogue_both(const char *script, const struct smtpd_settings *set)
{
        struct fake f1, f2;
        struct strbuf t1, t2;

        strbuf_init(&t1);
        strbuf_init(&t2);
        fake_init(&f1);
        fake_init(&f2);
        dialogue_run(script, set, &f1, FEED_BULK, &t1);
        dialogue_run(script, set, &f2, FEED_BYTES, &t2);
        assert_int_equal(t1.len, t2.len);
        assert_memory_equal(t1.s, t2.s, t1.len);
        assert_int_equal(f1.nmsgs, f2.nmsgs);
        for (size_t i = 0; i < f1.nmsgs; i++) {
                assert_int_equal(f1.msgs[i].content.len,
                                 f2.msgs[i].content.len);
                if (f1.msgs[i].content.len)
                        assert_memory_equal(f1.msgs[i].content.s,
                                            f2.msgs[i].content.s,
                                            f1.msgs[i].content.len);
        }
        fake_clear(&f1);
        fake_clear(&f2);
        strbuf_clear(&t1);
        strbuf_clear(&t2);
}

#endif

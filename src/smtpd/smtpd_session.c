/* SPDX-License-Identifier: MIT */
/*
 * smtpd_session.c - one SMTP server session as a state machine.
 *
 * Bytes come in through smtpd_session_input; in command states they are
 * cut into lines (bounded by line_length_limit) and dispatched through
 * the command table; in DATA and BDAT states they go through the content
 * decoder to the embedder's msg_write.  Replies accumulate in one output
 * buffer.  The embedder reads smtpd_session_action() to learn whether to
 * read on, start TLS, wait for a queue commit or close.
 */
#include "smtpd/smtpd_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/log.h"

#define SMTPD_STATES(X)                                                        \
        X(GREETED)                                                             \
        X(READY)                                                               \
        X(MAIL)                                                                \
        X(RCPT)                                                                \
        X(DATA)                                                                \
        X(BDAT)                                                                \
        X(CHUNKING)                                                            \
        X(TLS_HANDSHAKE)                                                       \
        X(COMMIT)                                                              \
        X(AUTH)                                                                \
        X(AUTH_LINE)                                                           \
        X(RCPT_WAIT)                                                           \
        X(CLOSED)

#define X_ENUM(n) SMTPD_##n,
enum smtpd_state { SMTPD_STATES(X_ENUM) };
#undef X_ENUM

/* smtpd_state_name - the name of a state, for debug logs */
static const char *smtpd_state_name(enum smtpd_state st)
{
#define X_NAME(n) #n,
        static const char *const names[] = {SMTPD_STATES(X_NAME)};
#undef X_NAME
        return (size_t)st < ARRAY_SIZE(names) ? names[st] : "?";
}

/* EHLO keywords that smtpd_discard_ehlo_keywords can remove. */
#define EHLO_PIPELINING (1u << 0)
#define EHLO_SIZE (1u << 1)
#define EHLO_VRFY (1u << 2)
#define EHLO_ETRN (1u << 3)
#define EHLO_STARTTLS (1u << 4)
#define EHLO_ENHANCED (1u << 5)
#define EHLO_8BITMIME (1u << 6)
#define EHLO_DSN (1u << 7)
#define EHLO_SMTPUTF8 (1u << 8)
#define EHLO_CHUNKING (1u << 9)
#define EHLO_AUTH (1u << 10)
#define EHLO_SILENT (1u << 11)

static const struct {
        const char *name;
        unsigned bit;
} ehlo_words[] = {
    {"pipelining", EHLO_PIPELINING},
    {"size", EHLO_SIZE},
    {"vrfy", EHLO_VRFY},
    {"etrn", EHLO_ETRN},
    {"starttls", EHLO_STARTTLS},
    {"enhancedstatuscodes", EHLO_ENHANCED},
    {"8bitmime", EHLO_8BITMIME},
    {"dsn", EHLO_DSN},
    {"smtputf8", EHLO_SMTPUTF8},
    {"chunking", EHLO_CHUNKING},
    {"auth", EHLO_AUTH},
    {"silent-discard", EHLO_SILENT},
};

/* Command counters, in the order of Postfix's disconnect line. */
enum {
        CNT_HELO,
        CNT_EHLO,
        CNT_STARTTLS,
        CNT_AUTH,
        CNT_MAIL,
        CNT_RCPT,
        CNT_DATA,
        CNT_BDAT,
        CNT_RSET,
        CNT_NOOP,
        CNT_VRFY,
        CNT_QUIT,
        CNT_UNKNOWN,
        CNT_MAX
};
static const char *const cnt_names[CNT_MAX] = {
    "helo", "ehlo", "starttls", "auth", "mail", "rcpt",   "data",
    "bdat", "rset", "noop",     "vrfy", "quit", "unknown"};

/* Results of a command handler. */
enum cmd_result {
        CMD_OK,
        CMD_ERR,
        CMD_LATER, /* counted when the message or chunk is complete */
};

struct smtpd_session {
        const struct smtpd_settings *set;
        const struct smtpd_ops *ops;
        void *ctx;
        enum smtpd_state state;
        struct smtpd_info info;

        char *name, *addr, *port, *namaddr, *helo;
        const char *protocol;
        struct smtpd_tls_info tls;
        struct strlist tls_strings; /* owns the strings of tls */
        bool tls_active;
        bool tls_started; /* by STARTTLS: HELO/EHLO is required again */
        bool ehlo_done;   /* PIPELINING was announced */
        bool bare_reject; /* reject mode for this client */
        bool auth_hidden; /* smtpd_sasl_exceptions_networks */
        char *sasl_method, *sasl_username; /* after a successful AUTH */
        char *auth_mech;       /* the exchange in progress (AUTH, AUTH_LINE) */
        unsigned transactions; /* MAIL commands accepted */
        struct smtpd_rcpt wait_rcpt; /* RCPT_WAIT: the recipient decided */
        enum smtpd_state wait_from;  /* ... and the state to go back to */
        unsigned discard; /* EHLO_* removed by smtpd_discard_ehlo_keywords */

        struct smtpd_envelope env;

        /* command line assembly */
        struct strbuf line;
        bool line_overflow;
        char line_last;
        bool line_crlf; /* the last complete line ended with CRLF */
        bool more_input;
        const char *rest; /* unprocessed input after the current line */
        size_t rest_len;

        /* content */
        struct smtpd_decoder dec;
        struct strbuf content;
        bool msg_open;
        bool msg_err;
        bool size_exceeded;
        size_t bdat_remaining;
        size_t bdat_chunk;
        bool bdat_last;
        bool bdat_discard;
        bool bdat_failed;
        struct strbuf bdat_reply;
        bool commit_bdat; /* the pending commit came from BDAT LAST */
        int later_cnt;    /* counter of the CMD_LATER command */

        /* output and requests */
        struct strbuf out;
        struct strbuf pending; /* input held while waiting for a commit */
        unsigned delay;
        bool want_close;

        unsigned error_count;
        unsigned junk_cmds;
        size_t rcpt_overshoot;
        const char *where;
        const char *reason;
        bool reason_logged;
        bool in_content; /* inside DATA or BDAT content, for the log */
        unsigned cnt_ok[CNT_MAX], cnt_total[CNT_MAX];
        struct strbuf scratch;
};

/* smtpd_settings_init - defaults */
void smtpd_settings_init(struct smtpd_settings *set)
{
        memset(set, 0, sizeof(*set));
        set->myhostname = "localhost";
        set->banner = NULL;
        set->mail_name = "postern";
        set->message_size_limit = 10240000;
        set->recipient_limit = 1000;
        set->recipient_overshoot = 1000;
        set->line_length_limit = 2048;
        set->hard_error_limit = 20;
        set->soft_error_limit = 10;
        set->error_sleep_time = 1;
        set->junk_command_limit = 100;
        set->bare_newline = SMTPD_BARE_NEWLINE_REJECT;
        set->bare_newline_reject_code = 550;
        set->tls_level = SMTPD_TLS_NONE;
        set->starttls_pipelining = SMTPD_STARTTLS_PIPE_CLOSE;
        set->smtputf8_enable = true;
        set->helo_required = false;
        set->disable_vrfy = false;
        set->forbid_unauth_pipelining = true;
        set->discard_ehlo_keywords = "";
        set->sasl_response_limit = 12288;
}

/* slog - one log line through the embedder or the log module */
static void slog(struct smtpd_session *s, bool warn, const char *fmt, ...)
    PRINTFLIKE(3, 4);
static void slog(struct smtpd_session *s, bool warn, const char *fmt, ...)
{
        va_list ap;

        strbuf_reset(&s->scratch);
        if (warn)
                strbuf_adds(&s->scratch, "warning: ");
        va_start(ap, fmt);
        strbuf_vprintf(&s->scratch, fmt, ap);
        va_end(ap);
        if (s->ops->log)
                s->ops->log(s->ctx, s->scratch.s);
        else if (warn)
                log_warnx("%s", s->scratch.s + strlen("warning: "));
        else
                log_info("%s", s->scratch.s);
}

/* smtpd_enter - every state change goes through here */
static void smtpd_enter(struct smtpd_session *s, enum smtpd_state next)
{
        if (s->state == next)
                return;
        if (log_verbose())
                log_debug("%s: %s -> %s", s->namaddr,
                          smtpd_state_name(s->state), smtpd_state_name(next));
        s->state = next;
}

/* sync_info - refresh what callbacks see */
static void sync_info(struct smtpd_session *s)
{
        s->info.name = s->name;
        s->info.addr = s->addr;
        s->info.port = s->port;
        s->info.namaddr = s->namaddr;
        s->info.helo = s->helo;
        s->info.protocol = s->protocol;
        s->info.tls = s->tls_active ? &s->tls : NULL;
        s->info.env = &s->env;
        s->info.sasl_method = s->sasl_method;
        s->info.sasl_username = s->sasl_username;
        s->info.transactions = s->transactions;
}

/* reply - queue one reply line; strips the enhanced status code when
 * ENHANCEDSTATUSCODES is discarded, and counts the error-sleep delay */
/* footer_text - smtpd_reject_footer with its $names filled in for this
 * session and control characters made '?'; "\\n" stays for the caller */
static void footer_text(struct smtpd_session *s, const char *t,
                        struct strbuf *out)
{
        static const char *const names[] = {"client_address", "client_port",
                                            "localtime", "server_name"};
        char when[32];
        time_t now = time(NULL);
        struct tm tm;

        localtime_r(&now, &tm);
        strftime(when, sizeof(when), "%b %e %H:%M:%S", &tm);
        const char *values[] = {s->addr, s->port, when, s->set->myhostname};
        struct strbuf text;

        strbuf_init(&text);
        smtpd_template(t, names, values, ARRAY_SIZE(names), &text);
        for (size_t i = 0; i < text.len; i++)
                strbuf_addc(out,
                            (unsigned char)text.s[i] < 32 || text.s[i] == 127
                                ? '?'
                                : text.s[i]);
        strbuf_clear(&text);
}

/* add_footer - smtpd_reject_footer after the 4XX or 5XX reply line that
 * starts at start: each footer line ("\\n" breaks) gets the reply's code
 * and enhanced status, all but the last with "-"; a leading "\\c" puts
 * the first one on the reply's own line.  Not logged, as in Postfix. */
static void add_footer(struct smtpd_session *s, size_t start)
{
        const char *f = s->set->reject_footer;
        char *line = s->out.s + start, code[4], status[16] = "";
        struct strbuf text;
        bool same_line = false;

        if (f == NULL || *f == 0 || s->out.len - start < 4 ||
            (line[0] != '4' && line[0] != '5') || line[3] != ' ')
                return;
        memcpy(code, line, 3);
        code[3] = 0;
        /* "5.1.1 " after the code, unless EHLO discarded ENHANCEDSTATUS */
        size_t sl = strcspn(line + 4, " ");
        if (sl > 0 && sl < sizeof(status) && line[4] == code[0] &&
            line[5] == '.' && line[4 + sl] == ' ') {
                memcpy(status, line + 4, sl);
                status[sl] = 0;
        }
        if (strncmp(f, "\\c", 2) == 0) {
                same_line = true;
                f += 2;
        }
        strbuf_init(&text);
        footer_text(s, f, &text);
        const char *p = strbuf_cstr(&text);
        if (same_line) {
                const char *nl = strstr(p, "\\n");
                size_t n = nl ? (size_t)(nl - p) : strlen(p);
                strbuf_addc(&s->out, ' ');
                strbuf_add(&s->out, p, n);
                p = nl ? nl + 2 : p + n;
                if (!nl) {
                        strbuf_clear(&text);
                        return;
                }
        }
        /* the reply line continues: "550-5.1.1 ..." */
        s->out.s[start + 3] = '-';
        for (;;) {
                const char *nl = strstr(p, "\\n");
                size_t n = nl ? (size_t)(nl - p) : strlen(p);
                strbuf_printf(&s->out, "\r\n%s%c%s%s", code, nl ? '-' : ' ',
                              status, *status ? " " : "");
                strbuf_add(&s->out, p, n);
                if (!nl)
                        break;
                p = nl + 2;
        }
        strbuf_clear(&text);
}

static void reply(struct smtpd_session *s, const char *fmt, ...)
    PRINTFLIKE(2, 3);
static void reply(struct smtpd_session *s, const char *fmt, ...)
{
        va_list ap;
        size_t start = s->out.len;

        va_start(ap, fmt);
        strbuf_vprintf(&s->out, fmt, ap);
        va_end(ap);
        /* Client text echoed in a reply must not break the reply. */
        for (size_t i = start; i < s->out.len; i++)
                if ((unsigned char)s->out.s[i] < 32 || s->out.s[i] == 127)
                        s->out.s[i] = '?';
        if (s->discard & EHLO_ENHANCED) {
                /* "250 2.0.0 Ok" -> "250 Ok" */
                char *p = s->out.s + start;
                size_t n = s->out.len - start;
                if (n > 4 && (p[4] == '2' || p[4] == '4' || p[4] == '5') &&
                    p[5] == '.') {
                        size_t k = 4;
                        while (k < n && p[k] != ' ')
                                k++;
                        if (k < n) {
                                memmove(p + 4, p + k + 1, n - k - 1);
                                s->out.len -= k + 1 - 4;
                                s->out.s[s->out.len] = 0;
                        }
                }
        }
        add_footer(s, start);
        strbuf_add(&s->out, "\r\n", 2);
        if (s->error_count >= s->set->soft_error_limit)
                s->delay += s->set->error_sleep_time;
}

static void log_reason(struct smtpd_session *);

static void mail_reset(struct smtpd_session *);

static void auth_forget(struct smtpd_session *);

/* close_session - no more input: drop any open message, log the reason */
static void close_session(struct smtpd_session *s, const char *reason)
{
        auth_forget(s);
        mail_reset(s);
        if (reason && !s->reason)
                s->reason = reason;
        s->want_close = true;
        smtpd_enter(s, SMTPD_CLOSED);
        log_reason(s);
}

/* msg_abort - drop an open queue file */
static void msg_abort(struct smtpd_session *s)
{
        if (s->msg_open && s->ops->msg_abort)
                s->ops->msg_abort(s->ctx);
        s->msg_open = false;
        s->msg_err = false;
        s->size_exceeded = false;
        strbuf_reset(&s->content);
}

/* mail_reset - end the transaction: RSET, HELO, end of message */
static void mail_reset(struct smtpd_session *s)
{
        msg_abort(s);
        smtpd_envelope_clear(&s->env);
        smtpd_rcpt_clear(&s->wait_rcpt);
        memset(&s->wait_rcpt, 0, sizeof(s->wait_rcpt));
        s->rcpt_overshoot = 0;
        s->bdat_failed = false;
        s->bdat_discard = false;
        s->bdat_remaining = 0;
}

/* idle_state - the command state outside a transaction */
static enum smtpd_state idle_state(struct smtpd_session *s)
{
        return s->helo ? SMTPD_READY : SMTPD_GREETED;
}

/* count - one command's outcome for the disconnect line */
static void count(struct smtpd_session *s, int idx, bool ok)
{
        s->cnt_total[idx]++;
        if (ok)
                s->cnt_ok[idx]++;
}

/* fail - a command failed: counts towards the error limits */
static void fail(struct smtpd_session *s)
{
        s->error_count++;
}

/* check_hard_limit - Postfix checks before reading the next command */
static void check_hard_limit(struct smtpd_session *s)
{
        if (s->state == SMTPD_CLOSED)
                return;
        if (s->error_count >= s->set->hard_error_limit) {
                reply(s, "421 4.7.0 %s Error: too many errors",
                      s->set->myhostname);
                mail_reset(s);
                close_session(s, "too many errors");
        }
}

/* bare_newline - reject mode met a bare LF or CR */
static void bare_newline(struct smtpd_session *s, const char *what)
{
        mail_reset(s);
        reply(s, "%d 5.5.2 %s Error: bare <%s> received",
              s->set->bare_newline_reject_code, s->set->myhostname, what);
        close_session(s, strcmp(what, "LF") == 0 ? "bare <LF> received"
                                                 : "bare <CR> received");
}

/* parse_opts - the parser options for this session */
static struct smtpd_parse_opts parse_opts(struct smtpd_session *s)
{
        struct smtpd_parse_opts o = {
            .dsn = !(s->discard & EHLO_DSN),
            .smtputf8_enable =
                s->set->smtputf8_enable && !(s->discard & EHLO_SMTPUTF8),
            .smtputf8 = s->env.smtputf8,
            .size_limit = s->set->message_size_limit,
            .strict_rfc821 = s->set->strict_rfc821,
            .auth = s->set->sasl_enable && !(s->discard & EHLO_AUTH),
        };
        return o;
}

/* check_reply - a callback's reply, or a default of the right class */
static void check_reply(enum smtpd_verdict v, struct strbuf *r,
                        const char *def5, const char *def4)
{
        char want = v == SMTPD_DEFER ? '4' : '5';
        const char *p = r->s ? r->s : "";
        bool ok = r->len >= 3 && p[0] == want && p[1] >= '0' && p[1] <= '9' &&
                  p[2] >= '0' && p[2] <= '9' && (p[3] == 0 || p[3] == ' ') &&
                  strpbrk(p, "\r\n") == NULL;

        if (!ok) {
                strbuf_reset(r);
                strbuf_adds(r, v == SMTPD_DEFER ? def4 : def5);
        }
}

/* log_reject - Postfix's "NOQUEUE: reject:" line */
static void log_reject(struct smtpd_session *s, const char *cmd,
                       const char *text, const char *to)
{
        struct strbuf b;

        strbuf_init(&b);
        if (s->env.sender)
                strbuf_printf(&b, " from=<%s>", s->env.sender);
        if (to)
                strbuf_printf(&b, " to=<%s>", to);
        slog(s, false, "NOQUEUE: reject: %s from %s: %s;%s proto=%s helo=<%s>",
             cmd, s->namaddr, text, b.s ? b.s : "", s->protocol,
             s->helo ? s->helo : "");
        strbuf_clear(&b);
}

/* flush_content - hand decoded content to the queue */
static void flush_content(struct smtpd_session *s)
{
        size_t limit = s->set->message_size_limit;

        if (limit > 0 && s->dec.bytes > limit)
                s->size_exceeded = true;
        if (s->content.len == 0)
                return;
        if (s->msg_open && !s->msg_err && !s->size_exceeded &&
            s->ops->msg_write &&
            s->ops->msg_write(s->ctx, s->content.s, s->content.len) < 0)
                s->msg_err = true;
        strbuf_reset(&s->content);
}

/* msg_start - open the queue file and write our Received: header */
static int msg_start(struct smtpd_session *s)
{
        sync_info(s);
        if (s->ops->msg_begin && s->ops->msg_begin(s->ctx, &s->info) < 0)
                return -1;
        s->msg_open = true;
        s->msg_err = false;
        s->size_exceeded = false;
        /* policy PREPEND headers, then our Received: header */
        for (size_t i = 0; i < s->env.prepend.n; i++) {
                strbuf_adds(&s->content, s->env.prepend.v[i]);
                strbuf_adds(&s->content, "\r\n");
        }
        if (s->ops->received_header) {
                char *h = s->ops->received_header(s->ctx, &s->info);
                if (h) {
                        strbuf_adds(&s->content, h);
                        strbuf_adds(&s->content, "\r\n");
                        free(h);
                }
        }
        /* Not client content: keep it out of the size. */
        if (s->content.len && s->ops->msg_write &&
            s->ops->msg_write(s->ctx, s->content.s, s->content.len) < 0)
                s->msg_err = true;
        strbuf_reset(&s->content);
        if (s->ops->msg_content)
                s->ops->msg_content(s->ctx);
        return 0;
}

/* queued_reply - the 250 for a committed message */
static void queued_reply(struct smtpd_session *s, const char *qid)
{
        /* A successful message forgives earlier errors (Postfix). */
        s->error_count = 0;
        s->junk_cmds = 0;
        if (s->commit_bdat)
                reply(s, "250 2.0.0 Ok: %zu bytes queued as %s", s->dec.bytes,
                      qid);
        else
                reply(s, "250 2.0.0 Ok: queued as %s", qid);
}

/* msg_over - the end of message was answered: back to idle */
static void msg_over(struct smtpd_session *s, bool ok)
{
        count(s, s->later_cnt, ok);
        if (!ok)
                fail(s);
        mail_reset(s);
        smtpd_enter(s, idle_state(s));
        check_hard_limit(s);
}

/* refusal_ok - a REFUSED reply is one 4XX or 5XX line */
static bool refusal_ok(const char *r)
{
        return (r[0] == '4' || r[0] == '5') && r[1] >= '0' && r[1] <= '9' &&
               r[2] >= '0' && r[2] <= '9' && (r[3] == ' ' || r[3] == 0) &&
               strpbrk(r, "\r\n") == NULL;
}

/* msg_finish - end of DATA or BDAT LAST: commit or report */
static void msg_finish(struct smtpd_session *s, bool bdat)
{
        char qid[512]; /* or a REFUSED reply */
        bool ok = false;

        flush_content(s);
        s->in_content = false;
        s->where = "END-OF-MESSAGE";
        s->commit_bdat = bdat;
        if (s->size_exceeded) {
                msg_abort(s);
                reply(s, "552 5.3.4 Message size exceeds fixed limit");
        } else if (s->msg_err || !s->msg_open) {
                msg_abort(s);
                reply(s, "451 4.3.0 Error: queue file write error");
        } else {
                enum smtpd_commit c = SMTPD_COMMIT_FAIL;
                qid[0] = 0;
                if (s->ops->msg_end)
                        c = s->ops->msg_end(s->ctx, qid, sizeof(qid));
                else
                        c = SMTPD_COMMIT_OK, snprintf(qid, sizeof(qid), "?");
                if (c == SMTPD_COMMIT_PENDING) {
                        s->msg_open = false;
                        smtpd_enter(s, SMTPD_COMMIT);
                        return;
                }
                s->msg_open = false;
                qid[sizeof(qid) - 1] = 0;
                if (c == SMTPD_COMMIT_OK) {
                        queued_reply(s, qid);
                        ok = true;
                } else if (c == SMTPD_COMMIT_REFUSED && refusal_ok(qid)) {
                        reply(s, "%s", qid);
                } else {
                        reply(s, "451 4.3.0 Error: queue file write error");
                }
        }
        msg_over(s, ok);
}

/* in_transaction - MAIL accepted */
static bool in_transaction(struct smtpd_session *s)
{
        return s->env.sender != NULL;
}

/* ehlo_keywords - the discard mask from settings */
static unsigned ehlo_discard_mask(const char *list)
{
        struct strlist l = {0};
        unsigned mask = 0;

        if (list == NULL)
                return 0;
        str_split(list, LIST_SEPS, &l);
        for (size_t i = 0; i < l.n; i++)
                for (size_t k = 0; k < ARRAY_SIZE(ehlo_words); k++)
                        if (str_eq_ci(l.v[i], ehlo_words[k].name))
                                mask |= ehlo_words[k].bit;
        strlist_clear(&l);
        return mask;
}

/* starttls_offered - STARTTLS is available now */
static bool starttls_offered(struct smtpd_session *s)
{
        return s->set->tls_level != SMTPD_TLS_NONE &&
               !(s->discard & EHLO_STARTTLS);
}

/* auth_tls_only - AUTH waits for TLS: smtpd_tls_auth_only, or TLS is
 * required anyway */
static bool auth_tls_only(const struct smtpd_session *s)
{
        return s->set->sasl_tls_only || s->set->tls_level == SMTPD_TLS_ENCRYPT;
}

/* auth_offered - the mechanisms AUTH offers this session now, or NULL */
static const char *auth_offered(struct smtpd_session *s)
{
        const char *m;

        if (!s->set->sasl_enable || (s->discard & EHLO_AUTH) ||
            s->ops->auth_mechs == NULL || s->ops->auth_step == NULL)
                return NULL;
        if (auth_tls_only(s) && !s->tls_active)
                return NULL;
        m = s->ops->auth_mechs(s->ctx, s->tls_active);
        return m && *m ? m : NULL;
}

/* set_helo - HELO/EHLO common part */
static void set_helo(struct smtpd_session *s, const char *arg,
                     const char *proto)
{
        mail_reset(s);
        free(s->helo);
        s->helo = xstrdup(arg);
        /* Neuter characters that could break headers and logs: control
         * characters and Postfix's NEUTER_CHARACTERS; an address literal
         * keeps its brackets ("from [192.0.2.1] (unknown [192.0.2.1])") */
        for (char *p = s->helo; *p; p++)
                if ((unsigned char)*p < 32 || *p == 127 ||
                    strchr(" <>()\\\";@", *p) != NULL)
                        *p = '?';
        s->protocol = proto;
        s->tls_started = false;
        smtpd_enter(s, SMTPD_READY);
}

/* cmd_helo - HELO hostname */
static enum cmd_result cmd_helo(struct smtpd_session *s, const char *arg)
{
        if (*arg == 0) {
                reply(s, "501 Syntax: HELO hostname");
                return CMD_ERR;
        }
        set_helo(s, arg, "SMTP");
        s->ehlo_done = false;
        reply(s, "250 %s", s->set->myhostname);
        return CMD_OK;
}

/* ehlo_line - one line of the EHLO reply */
static void ehlo_line(struct strlist *l, const char *fmt, ...) PRINTFLIKE(2, 3);
static void ehlo_line(struct strlist *l, const char *fmt, ...)
{
        va_list ap;
        struct strbuf b;

        strbuf_init(&b);
        va_start(ap, fmt);
        strbuf_vprintf(&b, fmt, ap);
        va_end(ap);
        strlist_push(l, b.s);
        strbuf_clear(&b);
}

/* cmd_ehlo - EHLO hostname, keywords in Postfix's order */
static enum cmd_result cmd_ehlo(struct smtpd_session *s, const char *arg)
{
        struct strlist l = {0};
        unsigned d = s->discard;

        if (*arg == 0) {
                reply(s, "501 Syntax: EHLO hostname");
                return CMD_ERR;
        }
        set_helo(s, arg, "ESMTP");
        s->ehlo_done = !(d & EHLO_PIPELINING);
        if (d && !(d & EHLO_SILENT)) {
                struct strbuf b;
                strbuf_init(&b);
                for (size_t k = 0; k < ARRAY_SIZE(ehlo_words); k++)
                        if (d & ehlo_words[k].bit)
                                strbuf_printf(&b, "%s%s", b.len ? " " : "",
                                              ehlo_words[k].name);
                slog(s, false, "discarding EHLO keywords: %s", b.s);
                strbuf_clear(&b);
        }
        ehlo_line(&l, "%s", s->set->myhostname);
        if (!(d & EHLO_PIPELINING))
                ehlo_line(&l, "PIPELINING");
        if (!(d & EHLO_SIZE)) {
                if (s->set->message_size_limit)
                        ehlo_line(&l, "SIZE %zu", s->set->message_size_limit);
                else
                        ehlo_line(&l, "SIZE");
        }
        if (!(d & EHLO_VRFY) && !s->set->disable_vrfy)
                ehlo_line(&l, "VRFY");
        if (starttls_offered(s) && !s->tls_active)
                ehlo_line(&l, "STARTTLS");
        const char *mechs = s->auth_hidden ? NULL : auth_offered(s);
        if (mechs) {
                ehlo_line(&l, "AUTH %s", mechs);
                if (s->set->sasl_broken_clients)
                        ehlo_line(&l, "AUTH=%s", mechs);
        }
        if (!(d & EHLO_ENHANCED))
                ehlo_line(&l, "ENHANCEDSTATUSCODES");
        if (!(d & EHLO_8BITMIME))
                ehlo_line(&l, "8BITMIME");
        if (!(d & EHLO_DSN))
                ehlo_line(&l, "DSN");
        if (!(d & EHLO_SMTPUTF8) && s->set->smtputf8_enable)
                ehlo_line(&l, "SMTPUTF8");
        if (!(d & EHLO_CHUNKING))
                ehlo_line(&l, "CHUNKING");
        for (size_t i = 0; i < l.n; i++) {
                /* No enhanced codes in EHLO replies: write directly. */
                strbuf_printf(&s->out, "250%c%s\r\n", i + 1 < l.n ? '-' : ' ',
                              l.v[i]);
        }
        if (s->error_count >= s->set->soft_error_limit)
                s->delay += s->set->error_sleep_time;
        strlist_clear(&l);
        return CMD_OK;
}

/* over_limit - the embedder's rate control for ev; true after its reply
 * was queued */
static bool over_limit(struct smtpd_session *s, enum smtpd_event ev)
{
        struct strbuf r;
        bool over;

        if (s->ops->event_limit == NULL)
                return false;
        strbuf_init(&r);
        over = s->ops->event_limit(s->ctx, ev, &r);
        if (over)
                reply(s, "%s",
                      r.len ? strbuf_cstr(&r)
                            : "450 4.7.1 Error: too many "
                              "requests");
        strbuf_clear(&r);
        return over;
}

/* cmd_starttls - RFC 3207 */
static enum cmd_result cmd_starttls(struct smtpd_session *s, const char *arg)
{
        if (!starttls_offered(s)) {
                reply(s, "502 5.5.1 Error: command not implemented");
                return CMD_ERR;
        }
        if (*arg) {
                reply(s, "501 5.5.4 Syntax: STARTTLS");
                return CMD_ERR;
        }
        if (s->tls_active) {
                reply(s, "554 5.5.1 Error: TLS already active");
                return CMD_ERR;
        }
        if (in_transaction(s)) {
                reply(s, "503 5.5.1 Error: MAIL transaction in progress");
                return CMD_ERR;
        }
        if (over_limit(s, SMTPD_EVENT_STARTTLS))
                return CMD_ERR;
        reply(s, "220 2.0.0 Ready to start TLS");
        smtpd_enter(s, SMTPD_TLS_HANDSHAKE);
        return CMD_OK;
}

/* need_helo - HELO/EHLO required and missing */
static bool need_helo(struct smtpd_session *s)
{
        return s->helo == NULL && (s->set->helo_required || s->tls_started);
}

/* cmd_mail - MAIL FROM */
static enum cmd_result cmd_mail(struct smtpd_session *s, const char *arg)
{
        struct smtpd_parse_opts o = parse_opts(s);
        struct strbuf err;

        if (need_helo(s)) {
                reply(s, "503 5.5.1 Error: send HELO/EHLO first");
                return CMD_ERR;
        }
        if (s->state == SMTPD_CHUNKING) {
                reply(s, "503 5.5.1 Error: MAIL after BDAT");
                return CMD_ERR;
        }
        if (in_transaction(s)) {
                reply(s, "503 5.5.1 Error: nested MAIL command");
                return CMD_ERR;
        }
        if (strncasecmp(arg + strspn(arg, " "), "FROM:", 5) == 0 &&
            over_limit(s, SMTPD_EVENT_MAIL))
                return CMD_ERR;
        strbuf_init(&err);
        if (smtpd_parse_mail(arg, &o, &s->env, &err) < 0) {
                smtpd_envelope_clear(&s->env);
                reply(s, "%s", err.s);
                strbuf_clear(&err);
                return CMD_ERR;
        }
        if (s->ops->mail_check) {
                enum smtpd_verdict v;
                sync_info(s);
                v = s->ops->mail_check(s->ctx, &s->info, s->env.sender, &err);
                if (v != SMTPD_ACCEPT) {
                        check_reply(v, &err,
                                    "554 5.7.1 Sender address rejected",
                                    "450 4.7.1 Sender address rejected");
                        log_reject(s, "MAIL", err.s, NULL);
                        reply(s, "%s", err.s);
                        smtpd_envelope_clear(&s->env);
                        strbuf_clear(&err);
                        return CMD_ERR;
                }
        }
        strbuf_clear(&err);
        s->transactions++;
        reply(s, "250 2.1.0 Ok");
        smtpd_enter(s, SMTPD_MAIL);
        return CMD_OK;
}

/* rcpt_decided - the recipient is accepted (250) or refused with the
 * reply in err; r is taken */
static enum cmd_result rcpt_decided(struct smtpd_session *s,
                                    struct smtpd_rcpt *r, enum smtpd_verdict v,
                                    struct strbuf *err)
{
        if (v != SMTPD_ACCEPT) {
                check_reply(v, err, "554 5.7.1 Recipient address rejected",
                            "450 4.7.1 Recipient address rejected");
                log_reject(s, "RCPT", err->s, r->addr);
                reply(s, "%s", err->s);
                smtpd_rcpt_clear(r);
                return CMD_ERR;
        }
        if (s->env.nrcpt == s->env.rcpt_cap) {
                s->env.rcpt_cap = s->env.rcpt_cap ? 2 * s->env.rcpt_cap : 8;
                s->env.rcpt = xreallocarray(s->env.rcpt, s->env.rcpt_cap,
                                            sizeof(*s->env.rcpt));
        }
        s->env.rcpt[s->env.nrcpt++] = *r;
        memset(r, 0, sizeof(*r));
        reply(s, "250 2.1.5 Ok");
        smtpd_enter(s, SMTPD_RCPT);
        return CMD_OK;
}

/* cmd_rcpt - RCPT TO */
static enum cmd_result cmd_rcpt(struct smtpd_session *s, const char *arg)
{
        struct smtpd_parse_opts o = parse_opts(s);
        struct smtpd_rcpt r = {0};
        struct strbuf err;

        if (s->state == SMTPD_CHUNKING) {
                reply(s, "503 5.5.1 Error: RCPT after BDAT");
                return CMD_ERR;
        }
        if (!in_transaction(s)) {
                reply(s, "503 5.5.1 Error: need MAIL command");
                return CMD_ERR;
        }
        if (strncasecmp(arg + strspn(arg, " "), "TO:", 3) == 0 &&
            over_limit(s, SMTPD_EVENT_RCPT))
                return CMD_ERR;
        strbuf_init(&err);
        if (smtpd_parse_rcpt(arg, &o, &r, &err) < 0) {
                smtpd_rcpt_clear(&r);
                reply(s, "%s", err.s);
                strbuf_clear(&err);
                return CMD_ERR;
        }
        if (s->set->recipient_limit &&
            s->env.nrcpt >= s->set->recipient_limit) {
                smtpd_rcpt_clear(&r);
                strbuf_clear(&err);
                reply(s, "452 4.5.3 Error: too many recipients");
                if (s->rcpt_overshoot++ < s->set->recipient_overshoot)
                        return CMD_OK;
                return CMD_ERR;
        }
        enum smtpd_verdict v = SMTPD_ACCEPT;
        if (s->ops->rcpt_check) {
                sync_info(s);
                v = s->ops->rcpt_check(s->ctx, &s->info, r.addr, false, &err);
        }
        if (v == SMTPD_PENDING) {
                s->wait_rcpt = r;
                s->wait_from = s->state;
                s->later_cnt = CNT_RCPT;
                smtpd_enter(s, SMTPD_RCPT_WAIT);
                strbuf_clear(&err);
                return CMD_LATER;
        }
        enum cmd_result rc = rcpt_decided(s, &r, v, &err);
        strbuf_clear(&err);
        return rc;
}

/* cmd_data - DATA */
static enum cmd_result cmd_data(struct smtpd_session *s, const char *arg)
{
        if (s->state == SMTPD_CHUNKING) {
                reply(s, "503 5.5.1 Error: DATA after BDAT");
                return CMD_ERR;
        }
        if (s->env.nrcpt == 0) {
                if (!in_transaction(s))
                        reply(s, "503 5.5.1 Error: need RCPT command");
                else
                        reply(s, "554 5.5.1 Error: no valid recipients");
                return CMD_ERR;
        }
        if (*arg) {
                reply(s, "501 5.5.4 Syntax: DATA");
                return CMD_ERR;
        }
        if (msg_start(s) < 0) {
                reply(s, "451 4.3.0 Error: queue file write error");
                return CMD_ERR;
        }
        smtpd_dec_init(&s->dec, true, s->bare_reject, s->line_crlf,
                       &s->content);
        reply(s, "354 End data with <CR><LF>.<CR><LF>");
        s->in_content = true;
        smtpd_enter(s, SMTPD_DATA);
        s->later_cnt = CNT_DATA;
        return CMD_LATER;
}

/* bdat_chunk_done - all bytes of a chunk were read */
static void bdat_chunk_done(struct smtpd_session *s)
{
        s->later_cnt = CNT_BDAT;
        if (!s->bdat_last)
                s->in_content = false;
        if (s->bdat_discard) {
                s->in_content = false;
                reply(s, "%s", s->bdat_reply.s);
                count(s, CNT_BDAT, false);
                fail(s);
                s->bdat_discard = false;
                if (s->bdat_last || !in_transaction(s)) {
                        mail_reset(s);
                        smtpd_enter(s, idle_state(s));
                } else {
                        smtpd_enter(s, SMTPD_CHUNKING);
                }
                check_hard_limit(s);
                return;
        }
        if (!s->bdat_last) {
                flush_content(s);
                reply(s, "250 2.0.0 Ok: %zu bytes", s->bdat_chunk);
                count(s, CNT_BDAT, true);
                smtpd_enter(s, SMTPD_CHUNKING);
                return;
        }
        if (smtpd_dec_finish(&s->dec) != DEC_END) {
                bare_newline(s, "CR");
                return;
        }
        msg_finish(s, true);
}

/* cmd_bdat - RFC 3030 BDAT size [LAST] */
static enum cmd_result cmd_bdat(struct smtpd_session *s, const char *arg)
{
        size_t size;
        bool last;

        if (s->discard & EHLO_CHUNKING) {
                /* The chunk cannot be told from commands: hang up. */
                reply(s, "521 5.5.1 Error: command not implemented");
                close_session(s, NULL);
                return CMD_ERR;
        }
        if (smtpd_parse_bdat(arg, &size, &last) < 0) {
                slog(s, true,
                     "%s: malformed BDAT command syntax from %s: %.100s",
                     "NOQUEUE", s->namaddr, arg);
                reply(s, "521 5.5.4 Syntax: BDAT count [LAST]");
                close_session(s, NULL);
                return CMD_ERR;
        }
        strbuf_reset(&s->bdat_reply);
        s->bdat_discard = true;
        if (s->bdat_failed) {
                strbuf_printf(&s->bdat_reply,
                              "551 5.0.0 Discarded %zu bytes after earlier "
                              "error",
                              size);
        } else if (s->env.nrcpt == 0) {
                strbuf_adds(&s->bdat_reply,
                            in_transaction(s)
                                ? "554 5.5.1 Error: no valid recipients"
                                : "503 5.5.1 Error: need RCPT command");
        } else if (size == 0 && !last) {
                slog(s, true, "%s: null BDAT request from %s", "NOQUEUE",
                     s->namaddr);
                strbuf_adds(&s->bdat_reply, "551 5.7.1 Null BDAT request");
        } else if (s->set->message_size_limit &&
                   (size > s->set->message_size_limit ||
                    (s->state == SMTPD_CHUNKING ? s->dec.bytes : 0) >
                        s->set->message_size_limit - size)) {
                slog(s, true,
                     "%s: BDAT request from %s exceeds message size "
                     "limit",
                     "NOQUEUE", s->namaddr);
                strbuf_adds(&s->bdat_reply,
                            "552 5.3.4 Chunk exceeds message size limit");
        } else if (s->state != SMTPD_CHUNKING && msg_start(s) < 0) {
                strbuf_adds(&s->bdat_reply,
                            "451 4.3.0 Error: queue file write error");
        } else {
                if (s->state != SMTPD_CHUNKING)
                        smtpd_dec_init(&s->dec, false, s->bare_reject, true,
                                       &s->content);
                s->bdat_discard = false;
        }
        if (s->bdat_discard && in_transaction(s)) {
                msg_abort(s);
                s->bdat_failed = true;
        }
        s->bdat_remaining = size;
        s->bdat_chunk = size;
        s->bdat_last = last;
        s->in_content = true;
        smtpd_enter(s, SMTPD_BDAT);
        if (size == 0)
                bdat_chunk_done(s);
        return CMD_LATER;
}

/* cmd_rset - RSET */
static enum cmd_result cmd_rset(struct smtpd_session *s, const char *arg)
{
        if (*arg) {
                reply(s, "501 5.5.4 Syntax: RSET");
                return CMD_ERR;
        }
        mail_reset(s);
        smtpd_enter(s, idle_state(s));
        reply(s, "250 2.0.0 Ok");
        return CMD_OK;
}

/* cmd_noop - NOOP */
static enum cmd_result cmd_noop(struct smtpd_session *s, const char *arg)
{
        (void)arg;
        reply(s, "250 2.0.0 Ok");
        return CMD_OK;
}

/* cmd_vrfy - VRFY, 252 as Postfix with disable_vrfy_command = no */
static enum cmd_result cmd_vrfy(struct smtpd_session *s, const char *arg)
{
        struct smtpd_parse_opts o = parse_opts(s);
        struct strbuf addr, err;
        enum cmd_result rc = CMD_OK;

        if (s->set->disable_vrfy || (s->discard & EHLO_VRFY)) {
                reply(s, "502 5.5.1 VRFY command is disabled");
                return CMD_ERR;
        }
        strbuf_init(&addr);
        strbuf_init(&err);
        if (smtpd_parse_vrfy(arg, &o, &addr, &err) < 0) {
                reply(s, "%s", err.s);
                rc = CMD_ERR;
        } else if (s->ops->rcpt_check) {
                enum smtpd_verdict v;
                sync_info(s);
                v = s->ops->rcpt_check(s->ctx, &s->info, addr.s, true, &err);
                if (v != SMTPD_ACCEPT) {
                        check_reply(v, &err,
                                    "554 5.7.1 Recipient address rejected",
                                    "450 4.7.1 Recipient address rejected");
                        log_reject(s, "VRFY", err.s, addr.s);
                        reply(s, "%s", err.s);
                        rc = CMD_ERR;
                }
        }
        if (rc == CMD_OK)
                reply(s, "252 2.0.0 %s", arg);
        strbuf_clear(&addr);
        strbuf_clear(&err);
        return rc;
}

/* cmd_auth - no SASL in postern's server */
/* word_listed - w is one of the blank-separated words of list (any case) */
static bool word_listed(const char *list, const char *w)
{
        size_t n = strlen(w);

        for (const char *p = list; *p;) {
                size_t k = strcspn(p, " \t");
                if (k == n && strncasecmp(p, w, n) == 0)
                        return true;
                p += k;
                p += strspn(p, " \t");
        }
        return false;
}

/* base64_chars - only the characters of base64, as Postfix checks before
 * passing a response on */
static bool base64_chars(const char *p)
{
        for (; *p; p++)
                if (!isalnum((unsigned char)*p) && *p != '+' && *p != '/' &&
                    *p != '=')
                        return false;
        return true;
}

/* auth_refused - 535 for a failed exchange, and the warning that
 * fail2ban's postfix-sasl filter reads */
static void auth_refused(struct smtpd_session *s, const char *mech,
                         const char *reason)
{
        /* reply() and the log make control characters '?' */
        const char *r = *reason ? reason : "(reason unavailable)";

        slog(s, true, "%s: SASL %s authentication failed: %s", s->namaddr, mech,
             r);
        reply(s, "535 5.7.8 Error: authentication failed: %s", r);
}

/* auth_forget - end an exchange in progress without an answer */
static void auth_forget(struct smtpd_session *s)
{
        if ((s->state == SMTPD_AUTH || s->state == SMTPD_AUTH_LINE) &&
            s->ops->auth_abort)
                s->ops->auth_abort(s->ctx);
        free(s->auth_mech);
        s->auth_mech = NULL;
}

/* auth_finish - the exchange ends: OK, FAIL or TEMP */
static void auth_finish(struct smtpd_session *s, enum smtpd_auth_result r,
                        const char *text)
{
        bool ok = r == SMTPD_AUTH_OK;

        switch (r) {
        case SMTPD_AUTH_OK:
                reply(s, "235 2.7.0 Authentication successful");
                s->sasl_method = s->auth_mech;
                s->auth_mech = NULL;
                s->sasl_username = xstrdup(text);
                for (char *p = s->sasl_username; *p; p++)
                        if ((unsigned char)*p < 32 || *p == 127)
                                *p = '?';
                break;
        case SMTPD_AUTH_TEMP:
                slog(s, true, "%s: SASL %s authentication failed: %s",
                     s->namaddr, s->auth_mech, text);
                reply(s, "454 4.7.0 Temporary authentication failure: %s",
                      text);
                break;
        default:
                auth_refused(s, s->auth_mech, text);
                break;
        }
        free(s->auth_mech);
        s->auth_mech = NULL;
        count(s, CNT_AUTH, ok);
        if (!ok)
                fail(s);
        smtpd_enter(s, idle_state(s));
        sync_info(s);
        check_hard_limit(s);
}

/* auth_line - the client's answer to a 334 challenge */
static void auth_line(struct smtpd_session *s, char *line)
{
        if (strcmp(line, "*") == 0) {
                slog(s, true, "%s: SASL %s authentication aborted", s->namaddr,
                     s->auth_mech);
                auth_forget(s);
                reply(s, "501 5.7.0 Authentication aborted");
                count(s, CNT_AUTH, false);
                fail(s);
                smtpd_enter(s, idle_state(s));
                check_hard_limit(s);
                return;
        }
        if (!base64_chars(line)) {
                char *mech = xstrdup(s->auth_mech);
                auth_forget(s);
                s->auth_mech = mech;
                auth_finish(s, SMTPD_AUTH_FAIL,
                            "Invalid base64 data in continued response");
                return;
        }
        smtpd_enter(s, SMTPD_AUTH);
        sync_info(s);
        if (s->ops->auth_step(s->ctx, &s->info, NULL, line) < 0)
                auth_finish(s, SMTPD_AUTH_TEMP,
                            "Connection lost to authentication server");
}

static enum cmd_result cmd_auth(struct smtpd_session *s, const char *arg)
{
        const char *mechs, *resp;
        char mech[64];
        size_t n = strcspn(arg, " \t");

        if (need_helo(s)) {
                reply(s, "503 5.5.1 Error: send HELO/EHLO first");
                return CMD_ERR;
        }
        if (!s->set->sasl_enable || (s->discard & EHLO_AUTH)) {
                reply(s, "503 5.5.1 Error: authentication not enabled");
                return CMD_ERR;
        }
        if (auth_tls_only(s) && !s->tls_active) {
                /* RFC 4954 section 4 */
                reply(s, "504 5.5.4 Encryption required for requested "
                         "authentication mechanism");
                return CMD_ERR;
        }
        if (s->sasl_username) {
                reply(s, "503 5.5.1 Error: already authenticated");
                return CMD_ERR;
        }
        if (in_transaction(s)) {
                reply(s, "503 5.5.1 Error: MAIL transaction in progress");
                return CMD_ERR;
        }
        resp = arg + n + strspn(arg + n, " \t");
        if (n == 0 || strpbrk(resp, " \t")) {
                reply(s, "501 5.5.4 Syntax: AUTH mechanism");
                return CMD_ERR;
        }
        snprintf(mech, sizeof(mech), "%.*s", (int)(n < 63 ? n : 63), arg);
        for (char *p = mech; *p; p++)
                *p = (unsigned char)*p < 33 || (unsigned char)*p > 126
                         ? '?'
                         : (char)toupper((unsigned char)*p);
        mechs = auth_offered(s);
        if (mechs == NULL) {
                /* the auth server is unreachable (or offers nothing the
                 * security options allow): Postfix's smtpd would exit */
                slog(s, true,
                     "%s: SASL %s authentication failed: no "
                     "mechanism available",
                     s->namaddr, mech);
                reply(s, "454 4.7.0 Temporary authentication failure: Can't "
                         "connect to authentication server");
                return CMD_ERR;
        }
        if (n > 63 || !word_listed(mechs, mech)) {
                auth_refused(s, mech, "Invalid authentication mechanism");
                return CMD_ERR;
        }
        if (*resp && !base64_chars(resp)) {
                auth_refused(s, mech,
                             "Invalid base64 data in initial response");
                return CMD_ERR;
        }
        /* RFC 4954: "=" is an empty initial response */
        if (strcmp(resp, "=") == 0)
                resp = "";
        free(s->auth_mech);
        s->auth_mech = xstrdup(mech);
        s->later_cnt = CNT_AUTH;
        smtpd_enter(s, SMTPD_AUTH);
        sync_info(s);
        if (s->ops->auth_step(s->ctx, &s->info, mech, arg[n] ? resp : NULL) < 0)
                auth_finish(s, SMTPD_AUTH_TEMP,
                            "Can't connect to authentication server");
        return CMD_LATER;
}

/* cmd_quit - QUIT */
static enum cmd_result cmd_quit(struct smtpd_session *s, const char *arg)
{
        (void)arg;
        mail_reset(s);
        reply(s, "221 2.0.0 Bye");
        close_session(s, NULL);
        return CMD_OK;
}

#define F_PRE_TLS (1u << 0) /* allowed before STARTTLS with encrypt */
#define F_LIMIT (1u << 1)   /* counts towards smtpd_junk_command_limit */
#define F_LAST (1u << 2)    /* must end a pipelined group (RFC 2920) */
#define F_FORBID (1u << 3)  /* not SMTP: an HTTP or mail header line */

static const struct smtpd_cmd {
        const char *name;
        enum cmd_result (*fn)(struct smtpd_session *, const char *);
        unsigned flags;
        int cnt;
} smtpd_cmd_table[] = {
    {"HELO", cmd_helo, F_PRE_TLS | F_LIMIT | F_LAST, CNT_HELO},
    {"EHLO", cmd_ehlo, F_PRE_TLS | F_LIMIT | F_LAST, CNT_EHLO},
    {"STARTTLS", cmd_starttls, F_PRE_TLS, CNT_STARTTLS},
    {"AUTH", cmd_auth, 0, CNT_AUTH},
    {"MAIL", cmd_mail, 0, CNT_MAIL},
    {"RCPT", cmd_rcpt, 0, CNT_RCPT},
    {"DATA", cmd_data, F_LAST, CNT_DATA},
    {"BDAT", cmd_bdat, 0, CNT_BDAT},
    {"RSET", cmd_rset, F_LIMIT, CNT_RSET},
    {"NOOP", cmd_noop, F_PRE_TLS | F_LIMIT | F_LAST, CNT_NOOP},
    {"VRFY", cmd_vrfy, F_LIMIT | F_LAST, CNT_VRFY},
    {"QUIT", cmd_quit, F_PRE_TLS, CNT_QUIT},
    {"Received:", NULL, F_FORBID, 0},
    {"Reply-To:", NULL, F_FORBID, 0},
    {"Message-ID:", NULL, F_FORBID, 0},
    {"Subject:", NULL, F_FORBID, 0},
    {"From:", NULL, F_FORBID, 0},
    {"CONNECT", NULL, F_FORBID, 0},
    {"User-Agent:", NULL, F_FORBID, 0},
    {"GET", NULL, F_FORBID, 0},
    {"POST", NULL, F_FORBID, 0},
};

/* printable_excerpt - up to 100 bytes of input, safe for a log line */
static void printable_excerpt(struct strbuf *b, const char *p, size_t n)
{
        if (n > 100)
                n = 100;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = p[i];
                strbuf_addc(b, (c >= 32 && c < 127) ? (char)c : '?');
        }
}

/* pipelining_violation - smtpd_forbid_unauth_pipelining */
static void pipelining_violation(struct smtpd_session *s, const char *cmd)
{
        struct strbuf b;

        strbuf_init(&b);
        printable_excerpt(&b, s->rest, s->rest_len);
        slog(s, false, "improper command pipelining after %s from %s: %s", cmd,
             s->namaddr, b.s ? b.s : "");
        strbuf_clear(&b);
        mail_reset(s);
        reply(s, "554 5.5.0 Error: SMTP protocol synchronization");
        close_session(s, NULL);
}

/* exec_line - one complete command line (line terminator removed) */
static void exec_line(struct smtpd_session *s, char *line, size_t len)
{
        const struct smtpd_cmd *cmd = NULL;
        char *verb, *arg;
        enum cmd_result rc;

        if (memchr(line, '\r', len) && s->bare_reject) {
                bare_newline(s, "CR");
                return;
        }
        if (s->set->smtputf8_enable && !smtpd_utf8_valid(line, len)) {
                reply(s, "500 5.5.2 Error: bad UTF-8 syntax");
                fail(s);
                check_hard_limit(s);
                return;
        }
        verb = line;
        while (*verb == ' ' || *verb == '\t')
                verb++;
        if (memchr(line, 0, len) || *verb == 0) {
                reply(s, "500 5.5.2 Error: bad syntax");
                fail(s);
                check_hard_limit(s);
                return;
        }
        arg = verb + strcspn(verb, " \t");
        if (*arg) {
                *arg++ = 0;
                while (*arg == ' ' || *arg == '\t')
                        arg++;
                /* trailing blanks */
                char *e = arg + strlen(arg);
                while (e > arg && (e[-1] == ' ' || e[-1] == '\t'))
                        *--e = 0;
        }
        for (size_t i = 0; i < ARRAY_SIZE(smtpd_cmd_table); i++)
                if (str_eq_ci(verb, smtpd_cmd_table[i].name)) {
                        cmd = &smtpd_cmd_table[i];
                        break;
                }
        if (cmd == NULL) {
                s->where = "UNKNOWN";
                reply(s, "500 5.5.2 Error: command not recognized");
                count(s, CNT_UNKNOWN, false);
                fail(s);
                check_hard_limit(s);
                return;
        }
        if (cmd->flags & F_FORBID) {
                struct strbuf b;
                strbuf_init(&b);
                printable_excerpt(&b, verb, strlen(verb));
                slog(s, true, "%s sent non-SMTP command: %s%s%.80s", s->namaddr,
                     b.s, *arg ? " " : "", arg);
                strbuf_clear(&b);
                mail_reset(s);
                reply(s, "221 2.7.0 Error: I can break rules, too. Goodbye.");
                close_session(s, NULL);
                return;
        }
        s->where = cmd->name;
        if (s->set->tls_level == SMTPD_TLS_ENCRYPT && !s->tls_active &&
            !(cmd->flags & F_PRE_TLS)) {
                reply(s, "530 5.7.0 Must issue a STARTTLS command first");
                count(s, cmd->cnt, false);
                fail(s);
                check_hard_limit(s);
                return;
        }
        rc = cmd->fn(s, arg);
        if (rc != CMD_LATER) {
                count(s, cmd->cnt, rc == CMD_OK);
                if (rc == CMD_ERR)
                        fail(s);
        }
        if ((cmd->flags & F_LIMIT) &&
            s->junk_cmds++ > s->set->junk_command_limit)
                fail(s);
        if (s->state == SMTPD_CLOSED || s->state == SMTPD_TLS_HANDSHAKE)
                return;
        if (s->set->forbid_unauth_pipelining && s->more_input &&
            (!s->ehlo_done ||
             ((cmd->flags & F_LAST) &&
              (cmd->fn != cmd_data || s->state == SMTPD_DATA)))) {
                pipelining_violation(s, cmd->name);
                return;
        }
        check_hard_limit(s);
}

/* feed_cmd - command-line bytes; returns how many were used */
static size_t feed_cmd(struct smtpd_session *s, const char *p, size_t n)
{
        const char *lf = memchr(p, '\n', n);
        size_t take = lf ? (size_t)(lf - p) : n;
        size_t limit = s->set->line_length_limit;
        bool crlf;

        if (s->state == SMTPD_AUTH_LINE && limit < s->set->sasl_response_limit)
                limit = s->set->sasl_response_limit;

        /* Bounded: a line longer than the limit is skipped, not stored.
         * One extra byte is kept for the CR of CRLF. */
        if (!s->line_overflow) {
                size_t room =
                    limit + 1 > s->line.len ? limit + 1 - s->line.len : 0;
                if (take > room) {
                        s->line_overflow = true;
                        strbuf_reset(&s->line);
                } else {
                        strbuf_add(&s->line, p, take);
                }
        }
        if (take > 0)
                s->line_last = p[take - 1];
        if (lf == NULL)
                return n;

        crlf = s->line_last == '\r';
        if (!s->line_overflow && crlf)
                s->line.len--, s->line.s[s->line.len] = 0;
        if (!s->line_overflow && s->line.len > limit)
                s->line_overflow = true;
        s->line_last = 0;
        s->more_input = take + 1 < n;
        s->rest = p + take + 1;
        s->rest_len = n - take - 1;
        s->line_crlf = crlf;

        if (!crlf && s->bare_reject) {
                strbuf_reset(&s->line);
                s->line_overflow = false;
                bare_newline(s, "LF");
                return take + 1;
        }
        if (s->line_overflow) {
                strbuf_reset(&s->line);
                s->line_overflow = false;
                if (s->state == SMTPD_AUTH_LINE) {
                        auth_forget(s);
                        count(s, CNT_AUTH, false);
                        smtpd_enter(s, idle_state(s));
                }
                reply(s, "500 5.5.0 Error: line too long");
                fail(s);
                check_hard_limit(s);
                return take + 1;
        }
        {
                /* exec_line may re-enter nothing but may change state;
                 * work on a private copy of the line. */
                size_t len = s->line.len;
                char *line = strbuf_detach(&s->line);
                if (line == NULL)
                        line = xstrdup("");
                if (s->state == SMTPD_AUTH_LINE)
                        auth_line(s, line);
                else
                        exec_line(s, line, len);
                free(line);
        }
        return take + 1;
}

/* feed_data - DATA content */
static size_t feed_data(struct smtpd_session *s, const char *p, size_t n)
{
        size_t used = 0;
        enum smtpd_dec_result r = smtpd_dec_feed(&s->dec, p, n, &used);

        switch (r) {
        case DEC_MORE:
                flush_content(s);
                return n;
        case DEC_END:
                msg_finish(s, false);
                return used;
        case DEC_BARE_LF:
                bare_newline(s, "LF");
                return n;
        case DEC_BARE_CR:
                bare_newline(s, "CR");
                return n;
        }
        return n;
}

/* feed_bdat - BDAT chunk bytes, taken raw */
static size_t feed_bdat(struct smtpd_session *s, const char *p, size_t n)
{
        size_t m = n < s->bdat_remaining ? n : s->bdat_remaining;

        if (!s->bdat_discard) {
                size_t used;
                enum smtpd_dec_result r = smtpd_dec_feed(&s->dec, p, m, &used);
                if (r == DEC_BARE_LF || r == DEC_BARE_CR) {
                        bare_newline(s, r == DEC_BARE_LF ? "LF" : "CR");
                        return n;
                }
                flush_content(s);
        }
        s->bdat_remaining -= m;
        if (s->bdat_remaining == 0)
                bdat_chunk_done(s);
        return m;
}

/* injected - plaintext after STARTTLS, before the handshake */
static void injected(struct smtpd_session *s, const char *p, size_t n)
{
        if (s->set->starttls_pipelining == SMTPD_STARTTLS_PIPE_DISCARD) {
                if (log_verbose())
                        log_debug("%s: discarding %zu bytes of plaintext "
                                  "after STARTTLS",
                                  s->namaddr, n);
                return;
        }
        struct strbuf b;
        strbuf_init(&b);
        printable_excerpt(&b, p, n);
        slog(s, true,
             "%s: plaintext pipelined after STARTTLS (possible command "
             "injection, CVE-2011-0411): %zu bytes discarded: %s",
             s->namaddr, n, b.s ? b.s : "");
        strbuf_clear(&b);
        close_session(s, NULL);
}

/* feed - dispatch input by state */
static void feed(struct smtpd_session *s, const char *p, size_t n)
{
        size_t off = 0;

        while (off < n) {
                switch (s->state) {
                case SMTPD_CLOSED:
                        return;
                case SMTPD_COMMIT:
                case SMTPD_AUTH:
                case SMTPD_RCPT_WAIT:
                        strbuf_add(&s->pending, p + off, n - off);
                        return;
                case SMTPD_TLS_HANDSHAKE:
                        injected(s, p + off, n - off);
                        return;
                case SMTPD_DATA:
                        off += feed_data(s, p + off, n - off);
                        break;
                case SMTPD_BDAT:
                        off += feed_bdat(s, p + off, n - off);
                        break;
                default:
                        off += feed_cmd(s, p + off, n - off);
                        break;
                }
        }
}

/* smtpd_session_input - bytes from the client */
void smtpd_session_input(struct smtpd_session *s, const char *p, size_t n)
{
        if (n == 0)
                return;
        feed(s, p, n);
        s->more_input = false;
        s->rest = NULL;
        s->rest_len = 0;
}

/* copy_tls - own copies of the TLS facts */
static void copy_tls(struct smtpd_session *s, const struct smtpd_tls_info *t)
{
        const char **fields[] = {
            &s->tls.protocol,    &s->tls.cipher,   &s->tls.kex_name,
            &s->tls.kex_curve,   &s->tls.srvr_sig, &s->tls.srvr_curve,
            &s->tls.srvr_digest, &s->tls.clnt_sig, &s->tls.clnt_curve,
            &s->tls.clnt_digest, &s->tls.peer_cn,  &s->tls.issuer_cn,
        };

        strlist_clear(&s->tls_strings);
        s->tls = *t;
        for (size_t i = 0; i < ARRAY_SIZE(fields); i++) {
                if (*fields[i] == NULL)
                        continue;
                strlist_push(&s->tls_strings, *fields[i]);
                *fields[i] = s->tls_strings.v[s->tls_strings.n - 1];
        }
        s->tls_active = true;
}

/* smtpd_session_new - greet a new client */
struct smtpd_session *smtpd_session_new(const struct smtpd_settings *set,
                                        const struct smtpd_client *c,
                                        const struct smtpd_ops *ops, void *ctx)
{
        static const struct smtpd_ops no_ops;
        struct smtpd_session *s = xcalloc(1, sizeof(*s));

        s->set = set;
        s->ops = ops ? ops : &no_ops;
        s->ctx = ctx;
        s->name = xstrdup(c && c->name ? c->name : "unknown");
        s->addr = xstrdup(c && c->addr ? c->addr : "unknown");
        s->port = xstrdup(c && c->port ? c->port : "unknown");
        s->namaddr = set->port_logging
                         ? xasprintf("%s[%s]:%s", s->name, s->addr, s->port)
                         : xasprintf("%s[%s]", s->name, s->addr);
        s->protocol = "SMTP";
        s->bare_reject = set->bare_newline == SMTPD_BARE_NEWLINE_REJECT &&
                         !(c && c->bare_newline_excluded);
        s->auth_hidden = c && c->auth_hidden;
        s->discard = ehlo_discard_mask(set->discard_ehlo_keywords);
        s->where = "CONNECT";
        s->state = SMTPD_GREETED;
        s->line_crlf = true;
        if (c && c->tls)
                copy_tls(s, c->tls);
        sync_info(s);
        slog(s, false, "connect from %s", s->namaddr);
        if (set->banner)
                reply(s, "220 %s", set->banner);
        else
                reply(s, "220 %s ESMTP %s", set->myhostname,
                      set->mail_name ? set->mail_name : "postern");
        return s;
}

/* log_reason - "timeout after DATA (12 bytes) from name[addr]" */
static void log_reason(struct smtpd_session *s)
{
        if (s->reason == NULL || s->reason_logged)
                return;
        s->reason_logged = true;
        if (s->in_content)
                slog(s, false, "%s after %s (%zu bytes) from %s", s->reason,
                     s->where, s->dec.bytes, s->namaddr);
        else if (strcmp(s->where, "END-OF-MESSAGE") ||
                 strcmp(s->reason, "lost connection"))
                slog(s, false, "%s after %s from %s", s->reason, s->where,
                     s->namaddr);
}

/* smtpd_session_free - disconnect */
void smtpd_session_free(struct smtpd_session *s)
{
        struct strbuf b;
        unsigned ok = 0, total = 0;

        if (s == NULL)
                return;
        log_reason(s);
        auth_forget(s);
        msg_abort(s);
        strbuf_init(&b);
        for (int i = 0; i < CNT_MAX; i++) {
                if (s->cnt_total[i] == 0)
                        continue;
                ok += s->cnt_ok[i];
                total += s->cnt_total[i];
                if (s->cnt_ok[i] == s->cnt_total[i])
                        strbuf_printf(&b, " %s=%u", cnt_names[i],
                                      s->cnt_total[i]);
                else
                        strbuf_printf(&b, " %s=%u/%u", cnt_names[i],
                                      s->cnt_ok[i], s->cnt_total[i]);
        }
        if (ok == total)
                strbuf_printf(&b, " commands=%u", total);
        else
                strbuf_printf(&b, " commands=%u/%u", ok, total);
        slog(s, false, "disconnect from %s%s", s->namaddr, b.s);
        strbuf_clear(&b);
        smtpd_envelope_clear(&s->env);
        strbuf_clear(&s->line);
        strbuf_clear(&s->content);
        strbuf_clear(&s->bdat_reply);
        strbuf_clear(&s->out);
        strbuf_clear(&s->pending);
        strbuf_clear(&s->scratch);
        strlist_clear(&s->tls_strings);
        free(s->name);
        free(s->addr);
        free(s->port);
        free(s->namaddr);
        free(s->helo);
        free(s->sasl_method);
        free(s->sasl_username);
        free(s);
}

/* smtpd_session_output - pending replies */
void smtpd_session_output(struct smtpd_session *s, const char **p, size_t *len)
{
        *p = s->out.s ? s->out.s : "";
        *len = s->out.len;
}

/* smtpd_session_consume - n bytes were written */
void smtpd_session_consume(struct smtpd_session *s, size_t n)
{
        if (n >= s->out.len) {
                strbuf_reset(&s->out);
                return;
        }
        memmove(s->out.s, s->out.s + n, s->out.len - n);
        s->out.len -= n;
        s->out.s[s->out.len] = 0;
}

/* smtpd_session_action - what next */
enum smtpd_action smtpd_session_action(const struct smtpd_session *s)
{
        if (s->want_close || s->state == SMTPD_CLOSED)
                return SMTPD_ACTION_CLOSE;
        if (s->state == SMTPD_TLS_HANDSHAKE)
                return SMTPD_ACTION_STARTTLS;
        if (s->state == SMTPD_COMMIT || s->state == SMTPD_AUTH ||
            s->state == SMTPD_RCPT_WAIT)
                return SMTPD_ACTION_WAIT;
        return SMTPD_ACTION_READ;
}

/* smtpd_session_delay - error sleep before the pending output */
unsigned smtpd_session_delay(struct smtpd_session *s)
{
        unsigned d = s->delay;

        s->delay = 0;
        return d;
}

/* smtpd_session_tls_done - RFC 3207 reset after the handshake */
void smtpd_session_tls_done(struct smtpd_session *s,
                            const struct smtpd_tls_info *t)
{
        if (s->state != SMTPD_TLS_HANDSHAKE)
                return;
        copy_tls(s, t);
        mail_reset(s);
        free(s->helo);
        s->helo = NULL;
        free(s->sasl_method);
        free(s->sasl_username);
        s->sasl_method = s->sasl_username = NULL;
        s->protocol = "SMTP";
        s->ehlo_done = false;
        s->tls_started = true;
        strbuf_reset(&s->line);
        s->line_overflow = false;
        s->line_last = 0;
        s->line_crlf = true;
        smtpd_enter(s, SMTPD_GREETED);
        sync_info(s);
}

/* resume - process the input held while the session waited */
static void resume(struct smtpd_session *s)
{
        struct strbuf held = s->pending;

        strbuf_init(&s->pending);
        if (held.len)
                smtpd_session_input(s, held.s, held.len);
        strbuf_clear(&held);
}

/* smtpd_session_msg_done - an asynchronous commit finished */
void smtpd_session_msg_done(struct smtpd_session *s, const char *qid)
{
        if (s->state != SMTPD_COMMIT)
                return;
        if (qid)
                queued_reply(s, qid);
        else
                reply(s, "451 4.3.0 Error: queue file write error");
        msg_over(s, qid != NULL);
        resume(s);
}

/* smtpd_session_msg_refused - an asynchronous end of message refused */
void smtpd_session_msg_refused(struct smtpd_session *s, const char *text)
{
        if (s->state != SMTPD_COMMIT)
                return;
        reply(s, "%s", text);
        msg_over(s, false);
        resume(s);
}

/* smtpd_session_prepend - a header for the message of this transaction */
void smtpd_session_prepend(struct smtpd_session *s, const char *header)
{
        if (!in_transaction(s) || s->env.prepend.n >= 100)
                return;
        char *h = xstrdup(header);
        for (char *p = h; *p; p++)
                if ((unsigned char)*p < 32 && *p != '\t')
                        *p = ' '; /* one header line, whatever it says */
        strlist_push(&s->env.prepend, h);
        free(h);
}

/* smtpd_session_filter - a FILTER for the message of this transaction */
void smtpd_session_filter(struct smtpd_session *s, const char *filter)
{
        if (!in_transaction(s))
                return;
        free(s->env.filter);
        s->env.filter = xstrdup(filter);
}

/* smtpd_session_rcpt_done - the embedder decided a pending RCPT */
void smtpd_session_rcpt_done(struct smtpd_session *s, enum smtpd_verdict v,
                             const char *text)
{
        struct strbuf err;
        enum cmd_result rc;

        if (s->state != SMTPD_RCPT_WAIT)
                return;
        smtpd_enter(s, s->wait_from);
        strbuf_init(&err);
        if (v != SMTPD_ACCEPT && text)
                strbuf_adds(&err, text);
        rc = rcpt_decided(s, &s->wait_rcpt,
                          v == SMTPD_PENDING ? SMTPD_DEFER : v, &err);
        strbuf_clear(&err);
        count(s, CNT_RCPT, rc == CMD_OK);
        if (rc == CMD_ERR)
                fail(s);
        check_hard_limit(s);
        resume(s);
}

/* smtpd_session_auth_done - the authentication server answered */
void smtpd_session_auth_done(struct smtpd_session *s, enum smtpd_auth_result r,
                             const char *text)
{
        if (s->state != SMTPD_AUTH)
                return;
        if (r == SMTPD_AUTH_CONTINUE) {
                reply(s, "334 %s", text ? text : "");
                smtpd_enter(s, SMTPD_AUTH_LINE);
        } else {
                auth_finish(s, r, text ? text : "");
        }
        resume(s);
}

/* smtpd_session_timeout - smtpd_timeout expired */
void smtpd_session_timeout(struct smtpd_session *s)
{
        if (s->state == SMTPD_CLOSED)
                return;
        mail_reset(s);
        reply(s, "421 4.4.2 %s Error: timeout exceeded", s->set->myhostname);
        close_session(s, "timeout");
        log_reason(s);
}

/* smtpd_session_eof - the client disconnected */
void smtpd_session_eof(struct smtpd_session *s)
{
        if (s->state == SMTPD_CLOSED)
                return;
        close_session(s, "lost connection");
        log_reason(s);
        mail_reset(s);
}

/* smtpd_session_info - facts for the embedder */
const struct smtpd_info *smtpd_session_info(const struct smtpd_session *s)
{
        return &s->info;
}

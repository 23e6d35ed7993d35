/* SPDX-License-Identifier: MIT */
/*
 * smtpd_hbc.c - Postfix's built-in content inspection (header_checks(5),
 * done by its cleanup(8)): header_checks, mime_header_checks,
 * nested_header_checks and body_checks, applied while the message
 * streams to its queue file.
 *
 * The MIME parser (src/mime/) cuts the content into logical headers and
 * body lines and says which table each one goes to; a header is looked
 * up as Postfix does, with the newlines of its folding kept ("Subject:
 * a\n\tb": a pattern may use them, or the m flag), an empty line never.
 * The table's result is an action; what passes, edited, goes on to the
 * queue file at once, so the checks cost no copy of the message.  After
 * REJECT and DISCARD nothing more is written or checked; after REDIRECT
 * and PASS nothing more is checked; FILTER (the last one wins) names the
 * message's content filter.
 * Log lines and replies are Postfix's, word for word.
 */
#include "smtpd/smtpd_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/conf.h"
#include "log/log.h"
#include "mime/mime.h"
#include "queue/queue.h"
#include "table/table.h"

/* The four checks, indexed by the class of what they look at. */
#define CHECK_N (MIME_BODY + 1)

static const char *const check_param[CHECK_N] = {
    "header_checks",
    "mime_header_checks",
    "nested_header_checks",
    "body_checks",
};

struct smtpd_hbc {
        struct table_list *t[CHECK_N]; /* NULL when not set; equal
                                          settings share one list */
        struct mime_settings set;
        size_t body_limit; /* body_checks_size_limit, 0: none */
};

struct smtpd_hbc_stream {
        struct smtpd_hbc *h;
        struct mime_parser *mp;
        struct smtpd_canon *canon; /* header rewriting, or NULL */
        char *canon_domain;
        struct strbuf rw; /* a rewritten header */
        char *qid, *client, *sender, *rcpt, *proto, *helo;
        smtpd_hbc_write_fn *out;
        void *arg;
        bool checking; /* the checks still apply */
        bool writing;  /* the content still matters */
        bool failed;   /* out failed, or a table could not be read */
        struct smtpd_hbc_result res;
};

/* The words of receive_override_options. */
static const struct smtpd_word overrides[] = {
    {"no_header_body_checks", SMTPD_NO_HEADER_BODY_CHECKS},
    {"no_milters", SMTPD_NO_MILTERS},
    {"no_address_mappings", SMTPD_NO_ADDRESS_MAPPINGS},
    {"no_unknown_recipient_checks", SMTPD_NO_UNKNOWN_RCPT_CHECKS},
};

/* smtpd_words_mask - a list of words as bits (Postfix's name_mask) */
int smtpd_words_mask(const char *param, const char *what, const char *value,
                     const struct smtpd_word *words, size_t n, unsigned *out,
                     char **err)
{
        struct strlist w = {0};
        int rc = 0;

        *out = 0;
        str_split(value ? value : "", LIST_SEPS, &w);
        for (size_t i = 0; i < w.n && rc == 0; i++) {
                size_t k = 0;
                while (k < n && !str_eq_ci(w.v[i], words[k].word))
                        k++;
                if (k < n) {
                        *out |= words[k].bit;
                        continue;
                }
                struct strbuf b;
                strbuf_init(&b);
                for (k = 0; k < n; k++)
                        strbuf_printf(&b, "%s%s",
                                      k == 0       ? ""
                                      : k == n - 1 ? " or "
                                                   : ", ",
                                      words[k].word);
                *err = xasprintf("%s: unknown %s \"%s\" (%s)", param, what,
                                 w.v[i], strbuf_cstr(&b));
                strbuf_clear(&b);
                rc = -1;
        }
        strlist_clear(&w);
        return rc;
}

/* smtpd_receive_overrides - receive_override_options as bits */
int smtpd_receive_overrides(const struct conf *c, unsigned *flags, char **err)
{
        return smtpd_words_mask("receive_override_options", "option",
                                c->receive_override_options, overrides,
                                ARRAY_SIZE(overrides), flags, err);
}

/* The action words; OK is an old name of DUNNO. */
static const struct {
        const char *word;
        enum smtpd_hbc_action action;
} actions[] = {
    {"DUNNO", SMTPD_HBC_DUNNO},     {"OK", SMTPD_HBC_DUNNO},
    {"REJECT", SMTPD_HBC_REJECT},   {"WARN", SMTPD_HBC_WARN},
    {"INFO", SMTPD_HBC_INFO},       {"FILTER", SMTPD_HBC_FILTER},
    {"PASS", SMTPD_HBC_PASS},       {"DISCARD", SMTPD_HBC_DISCARD},
    {"HOLD", SMTPD_HBC_HOLD},       {"PREPEND", SMTPD_HBC_PREPEND},
    {"REPLACE", SMTPD_HBC_REPLACE}, {"REDIRECT", SMTPD_HBC_REDIRECT},
    {"BCC", SMTPD_HBC_BCC},         {"STRIP", SMTPD_HBC_STRIP},
    {"IGNORE", SMTPD_HBC_IGNORE},
};

/* smtpd_hbc_action - split a table result into action and text */
enum smtpd_hbc_action smtpd_hbc_action(const char *value, const char **text)
{
        size_t n = strcspn(value, " \t");
        const char *t = value + n;

        while (*t && isspace((unsigned char)*t))
                t++;
        *text = t;
        for (size_t i = 0; i < ARRAY_SIZE(actions); i++)
                if (strlen(actions[i].word) == n &&
                    strncasecmp(value, actions[i].word, n) == 0)
                        return actions[i].action;
        return SMTPD_HBC_UNKNOWN;
}

/* limit - a size limit that must not be negative */
static int limit(const char *name, long long v, size_t *out, char **err)
{
        if (v < 0) {
                *err = xasprintf("%s = %lld: must not be negative", name, v);
                return -1;
        }
        *out = (size_t)v;
        return 0;
}

/* smtpd_hbc_new - the checks of c */
int smtpd_hbc_new(const struct conf *c, bool checks, bool always,
                  struct smtpd_hbc **out, char **err)
{
        const char *v[CHECK_N] = {c->header_checks, c->mime_header_checks,
                                  c->nested_header_checks, c->body_checks};
        struct smtpd_hbc *h;
        bool any = false;

        *out = NULL;
        for (int i = 0; i < CHECK_N; i++) {
                v[i] = v[i] && checks ? v[i] : "";
                any |= *v[i] != 0;
        }
        if (!any && !always)
                return 0;
        h = xcalloc(1, sizeof(*h));
        mime_settings_init(&h->set);
        for (int i = 0; i < CHECK_N; i++) {
                for (int k = 0; k < i && !h->t[i]; k++)
                        if (strcmp(v[k], v[i]) == 0)
                                h->t[i] = h->t[k]; /* opened once */
                if (h->t[i] || *v[i] == 0)
                        continue;
                if (smtpd_open_maps(check_param[i], v[i], &h->t[i], err) < 0)
                        goto bad;
        }
        size_t depth;
        if (limit("header_size_limit", c->header_size_limit,
                  &h->set.header_limit, err) < 0 ||
            limit("line_length_limit", c->line_length_limit, &h->set.line_limit,
                  err) < 0 ||
            limit("body_checks_size_limit", c->body_checks_size_limit,
                  &h->body_limit, err) < 0 ||
            limit("mime_nesting_limit", c->mime_nesting_limit, &depth, err) <
                0 ||
            limit("mime_boundary_length_limit", c->mime_boundary_length_limit,
                  &h->set.boundary_limit, err) < 0)
                goto bad;
        h->set.max_depth = depth > 1000000 ? 1000000 : (unsigned)depth;
        h->set.no_mime = c->disable_mime_input_processing;
        h->set.body_keys = h->t[MIME_BODY] != NULL;
        *out = h;
        return 0;
bad:
        smtpd_hbc_free(h);
        return -1;
}

/* smtpd_hbc_checks - whether any check is set */
bool smtpd_hbc_checks(const struct smtpd_hbc *h)
{
        for (int i = 0; h && i < CHECK_N; i++)
                if (h->t[i])
                        return true;
        return false;
}

/* smtpd_hbc_free - release the tables, each once */
void smtpd_hbc_free(struct smtpd_hbc *h)
{
        if (h == NULL)
                return;
        for (int i = 0; i < CHECK_N; i++) {
                bool shared = false;
                for (int k = i + 1; k < CHECK_N; k++)
                        shared |= h->t[k] == h->t[i];
                if (!shared)
                        table_list_close(h->t[i]);
        }
        free(h);
}

/* smtpd_hbc_result_clear - release */
void smtpd_hbc_result_clear(struct smtpd_hbc_result *r)
{
        free(r->reply);
        free(r->redirect);
        free(r->filter);
        strlist_clear(&r->bcc);
        memset(r, 0, sizeof(*r));
}

/* emit - content on to out, while it matters */
static void emit(struct smtpd_hbc_stream *st, const char *p, size_t n)
{
        if (!st->writing || st->failed || n == 0)
                return;
        if (st->out(st->arg, p, n) < 0)
                st->failed = true;
}

/* emit_unit - a header or body line that goes on: the message's own
 * headers with their addresses rewritten, when they are to be */
static void emit_unit(struct smtpd_hbc_stream *st, enum mime_class cls,
                      const char *p, size_t n)
{
        char *err = NULL;
        int rc = 0;

        if (st->canon && cls == MIME_PRIMARY && st->writing && !st->failed) {
                strbuf_reset(&st->rw);
                rc = smtpd_canon_header(st->canon, st->canon_domain, p, n,
                                        &st->rw, &err);
        }
        if (rc < 0) {
                log_warnx("%s: %s -- message not accepted, try again later",
                          st->qid, err);
                free(err);
                st->failed = true;
                st->checking = st->writing = false;
                return;
        }
        if (rc > 0)
                emit(st, st->rw.s, st->rw.len);
        else
                emit(st, p, n);
}

/* act_log - Postfix's cleanup line for an action: "QID: ACTION: CONTEXT
 * TEXT from CLIENT; from=<S> to=<R> proto=P helo=<H>: why" */
static void act_log(const struct smtpd_hbc_stream *st, const char *action,
                    const char *context, const char *content, const char *why)
{
        struct strbuf b;

        strbuf_init(&b);
        strbuf_printf(&b, "%s: %s: %s %.200s from %s;", st->qid, action,
                      context, content, st->client);
        if (st->sender)
                strbuf_printf(&b, " from=<%s>", st->sender);
        if (st->rcpt)
                strbuf_printf(&b, " to=<%s>", st->rcpt);
        if (st->proto)
                strbuf_printf(&b, " proto=%s", st->proto);
        if (st->helo)
                strbuf_printf(&b, " helo=<%s>", st->helo);
        if (why && *why)
                strbuf_printf(&b, ": %s", why);
        log_info("%s", b.s);
        strbuf_clear(&b);
}

/* dsn_len - the length of the RFC 3463 status code text starts with
 * ("5.7.1" followed by a blank or the end), or 0 */
static size_t dsn_len(const char *t)
{
        size_t i = 1, n;

        if (t[0] != '2' && t[0] != '4' && t[0] != '5')
                return 0;
        for (int part = 0; part < 2; part++) {
                if (t[i++] != '.')
                        return 0;
                for (n = 0; isdigit((unsigned char)t[i]) && n < 4; i++, n++)
                        ;
                if (n == 0 || n > 3)
                        return 0;
        }
        return t[i] == 0 || t[i] == ' ' || t[i] == '\t' ? i : 0;
}

/* reject - REJECT [text]: the reply, 5.7.1 unless text has its own
 * status; a 4.x.x status defers (451) */
static void reject(struct smtpd_hbc_stream *st, const char *context,
                   const char *content, const char *text)
{
        char *why = !*text          ? xstrdup("5.7.1 message content rejected")
                    : dsn_len(text) ? xstrdup(text)
                                    : xasprintf("5.7.1 %s", text);

        if (why[0] != '4' && why[0] != '5') {
                log_warnx("bad DSN action in %s -- need 4.x.x or 5.x.x", text);
                why[0] = '4';
        }
        act_log(st, "reject", context, content, why);
        st->res.verdict = SMTPD_HBC_REFUSE;
        st->res.reply = xasprintf("%s %s", why[0] == '4' ? "451" : "550", why);
        free(why);
}

/* address_ok - REDIRECT and BCC need user@domain */
static bool address_ok(const char *text, const char *action, const char *what,
                       const char *param)
{
        if (strchr(text, '@'))
                return true;
        log_warnx("bad %s %s \"%s\" in %s map -- need user@domain", action,
                  what, text, param);
        return false;
}

/* header_text_ok - PREPEND and REPLACE text: not empty, and a header
 * where a header is replaced or prepended to */
static bool header_text_ok(const char *text, bool header, const char *action,
                           const char *param)
{
        if (*text == 0) {
                log_warnx("%s action without text in %s map", action, param);
                return false;
        }
        if (header && mime_header_name(text, strlen(text)) == 0) {
                log_warnx("bad %s header text \"%s\" in %s map -- need "
                          "\"headername: headervalue\"",
                          action, text, param);
                return false;
        }
        return true;
}

/* act - what a matching entry says to do with the unit; whether the unit
 * goes on (as it is) */
static bool act(struct smtpd_hbc_stream *st, const struct mime_unit *u,
                const char *value, const char *param)
{
        bool header = u->cls != MIME_BODY;
        const char *ctx = header ? "header" : "body";
        const char *key = u->key;
        const char *text;

        switch (smtpd_hbc_action(value, &text)) {
        case SMTPD_HBC_REJECT:
                reject(st, ctx, key, text);
                st->checking = st->writing = false;
                return false;
        case SMTPD_HBC_WARN:
                act_log(st, "warning", ctx, key, text);
                return true;
        case SMTPD_HBC_INFO:
                act_log(st, "info", ctx, key, text);
                return true;
        case SMTPD_HBC_FILTER:
                if (*text == 0) {
                        log_warnx("missing FILTER command argument in %s map",
                                  param);
                        return true;
                }
                if (strchr(text, ':') == NULL) {
                        log_warnx("bad FILTER command %s in %s -- need "
                                  "transport:destination",
                                  text, param);
                        return true;
                }
                /* the message's content filter from now on, replacing
                 * the listener's (and an access table's); the checks go
                 * on, as in Postfix's cleanup */
                act_log(st, "filter", ctx, key, text);
                free(st->res.filter);
                st->res.filter = xstrdup(text);
                return true;
        case SMTPD_HBC_PASS:
                act_log(st, "pass", ctx, key, text);
                st->checking = false;
                return true;
        case SMTPD_HBC_DISCARD:
                act_log(st, "discard", ctx, key, text);
                st->res.verdict = SMTPD_HBC_DROP;
                st->checking = st->writing = false;
                return false;
        case SMTPD_HBC_HOLD:
                if (!st->res.hold)
                        act_log(st, "hold", ctx, key, text);
                st->res.hold = true;
                return true;
        case SMTPD_HBC_PREPEND:
                if (header_text_ok(text, header, "PREPEND", param)) {
                        act_log(st, "prepend", ctx, key, text);
                        emit(st, text, strlen(text));
                        emit(st, "\r\n", 2);
                }
                return true;
        case SMTPD_HBC_REPLACE:
                if (!header_text_ok(text, header, "REPLACE", param))
                        return true;
                act_log(st, "replace", ctx, key, text);
                if (header) {
                        /* the new header is the header now, as Postfix's
                         * cleanup goes on with it */
                        struct strbuf h;
                        strbuf_init(&h);
                        strbuf_printf(&h, "%s%s", text, u->eol ? "\r\n" : "");
                        emit_unit(st, u->cls, h.s, h.len);
                        strbuf_clear(&h);
                        return false;
                }
                emit(st, text, strlen(text));
                if (u->eol)
                        emit(st, "\r\n", 2);
                return false;
        case SMTPD_HBC_REDIRECT:
                if (address_ok(text, "REDIRECT", "target", param)) {
                        free(st->res.redirect);
                        st->res.redirect = xstrdup(text);
                        act_log(st, "redirect", ctx, key, text);
                        st->checking = false;
                }
                return true;
        case SMTPD_HBC_BCC:
                if (address_ok(text, "BCC", "address", param)) {
                        strlist_push(&st->res.bcc, text);
                        act_log(st, "bcc", ctx, key, text);
                }
                return true;
        case SMTPD_HBC_STRIP:
                act_log(st, "strip", ctx, key, text);
                return false;
        case SMTPD_HBC_IGNORE:
                return false;
        case SMTPD_HBC_DUNNO:
                return true;
        case SMTPD_HBC_UNKNOWN:
                break;
        }
        log_warnx("unknown command in %s map: %s", param, value);
        return true;
}

/* on_unit - one header or body line from the parser */
static void on_unit(void *arg, const struct mime_unit *u)
{
        struct smtpd_hbc_stream *st = arg;
        struct table_list *t = st->checking ? st->h->t[u->cls] : NULL;
        const char *value = NULL;
        char *err = NULL, *copy;
        bool keep = true;

        if (t && u->key && *u->key &&
            (u->cls != MIME_BODY || st->h->body_limit == 0 ||
             u->offset < st->h->body_limit)) {
                switch (table_list_lookup(t, u->key, &value, NULL, &err)) {
                case TABLE_FOUND:
                        copy = xstrdup(value); /* act may log, look up */
                        keep = act(st, u, copy, check_param[u->cls]);
                        free(copy);
                        break;
                case TABLE_NOTFOUND:
                        break;
                case TABLE_ERROR:
                        log_warnx("%s: %s", check_param[u->cls], err);
                        log_warnx("%s: %s map lookup problem -- message not "
                                  "accepted, try again later",
                                  st->qid, check_param[u->cls]);
                        free(err);
                        st->failed = true;
                        st->checking = st->writing = false;
                        return;
                }
        }
        if (keep)
                emit_unit(st, u->cls, u->text, u->len);
}

/* dup_or_null - a copy of s, or NULL */
static char *dup_or_null(const char *s)
{
        return s ? xstrdup(s) : NULL;
}

/* smtpd_hbc_start - a message begins */
struct smtpd_hbc_stream *smtpd_hbc_start(struct smtpd_hbc *h,
                                         const struct smtpd_hbc_origin *o,
                                         smtpd_hbc_write_fn *out, void *arg)
{
        struct smtpd_hbc_stream *st = xcalloc(1, sizeof(*st));

        st->h = h;
        st->mp = mime_parser_new(&h->set, on_unit, st);
        st->qid = xstrdup(o->queue_id ? o->queue_id : "NOQUEUE");
        st->client = xstrdup(o->client ? o->client : "unknown");
        st->sender = dup_or_null(o->sender);
        st->rcpt = dup_or_null(o->rcpt);
        st->proto = dup_or_null(o->proto);
        st->helo = dup_or_null(o->helo);
        st->out = out;
        st->arg = arg;
        st->checking = smtpd_hbc_checks(h);
        st->writing = true;
        st->canon = o->canon;
        st->canon_domain = xstrdup(o->canon_domain ? o->canon_domain : "");
        strbuf_init(&st->rw);
        return st;
}

/* smtpd_hbc_write - more content */
int smtpd_hbc_write(struct smtpd_hbc_stream *st, const char *p, size_t n)
{
        if (st->writing && !st->failed)
                mime_parser_feed(st->mp, p, n);
        return st->failed ? -1 : 0;
}

/* smtpd_hbc_cut - the MTA's own headers end here */
void smtpd_hbc_cut(struct smtpd_hbc_stream *st)
{
        mime_parser_cut(st->mp);
}

/* smtpd_hbc_finish - the rest, and the decision */
int smtpd_hbc_finish(struct smtpd_hbc_stream *st, struct smtpd_hbc_result *res)
{
        if (st->writing && !st->failed)
                mime_parser_finish(st->mp);
        *res = st->res;
        memset(&st->res, 0, sizeof(st->res));
        if (st->failed) {
                smtpd_hbc_result_clear(res);
                return -1;
        }
        return 0;
}

/* smtpd_hbc_stream_free - release */
void smtpd_hbc_stream_free(struct smtpd_hbc_stream *st)
{
        if (st == NULL)
                return;
        mime_parser_free(st->mp);
        smtpd_hbc_result_clear(&st->res);
        free(st->qid);
        free(st->client);
        free(st->sender);
        free(st->rcpt);
        free(st->proto);
        free(st->helo);
        free(st->canon_domain);
        strbuf_clear(&st->rw);
        free(st);
}

/* smtpd_local_intake - the milters and checks of local submissions */
int smtpd_local_intake(const struct conf *c, struct milter_spec **milters,
                       size_t *n, struct smtpd_hbc **hbc, char **err)
{
        unsigned no = 0;
        char *e = NULL;

        *milters = NULL;
        *n = 0;
        *hbc = NULL;
        if (smtpd_receive_overrides(c, &no, err) < 0)
                return -1;
        if (!(no & SMTPD_NO_MILTERS) &&
            smtpd_milters_parse(c, c->non_smtpd_milters, milters, n, &e) < 0) {
                *err = xasprintf("non_smtpd_milters: %s", e);
                free(e);
                return -1;
        }
        if (!(no & SMTPD_NO_HEADER_BODY_CHECKS) &&
            smtpd_hbc_new(c, true, false, hbc, err) < 0) {
                milter_specs_free(*milters, *n);
                *milters = NULL;
                *n = 0;
                return -1;
        }
        return 0;
}

/* smtpd_hbc_add_bcc - the BCC recipients */
void smtpd_hbc_add_bcc(const struct smtpd_hbc_result *res,
                       struct queue_env *env)
{
        for (size_t i = 0; i < res->bcc.n; i++)
                smtpd_bcc_copy(env, res->bcc.v[i]);
}

/* smtpd_hbc_redirect - one recipient instead of all */
void smtpd_hbc_redirect(const struct smtpd_hbc_result *res,
                        struct queue_env *env)
{
        if (res->redirect == NULL)
                return;
        while (env->nrcpt)
                queue_env_del_rcpt(env, env->nrcpt - 1);
        smtpd_bcc_copy(env, res->redirect);
        if (env->nrcpt)
                env->rcpt[0].notify = 0; /* the DSN defaults, not a BCC's */
}

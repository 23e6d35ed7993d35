/* SPDX-License-Identifier: MIT */
/*
 * smtpd_milter.c - the MTA side of the Sendmail 8 Milter protocol
 * (Postfix's smtpd_milters), for one message at a time: after the end of
 * DATA, each milter of the list in turn gets the whole conversation
 * (option negotiation, CONNECT, HELO, MAIL, RCPT, DATA, the headers, end
 * of headers, the body, end of message) on a connection of its own, one
 * command and its reply at a time.  What the milters answer becomes one
 * result: queue (with their header, body and envelope edits), reject,
 * tempfail, discard or hold.  Nothing here blocks: the connect, writes
 * and reads run from the worker's event loop.
 *
 * Packets are a 4-byte big-endian length (command byte included), the
 * command byte, then its data; strings are NUL-terminated.
 */
#include "smtpd/smtpd_int.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conf/conf.h"
#include "event/event.h"
#include "log/log.h"

/* Commands (MTA to milter). */
#define SMFIC_ABORT 'A'
#define SMFIC_BODY 'B'
#define SMFIC_CONNECT 'C'
#define SMFIC_MACRO 'D'
#define SMFIC_BODYEOB 'E'
#define SMFIC_HELO 'H'
#define SMFIC_HEADER 'L'
#define SMFIC_MAIL 'M'
#define SMFIC_EOH 'N'
#define SMFIC_OPTNEG 'O'
#define SMFIC_QUIT 'Q'
#define SMFIC_RCPT 'R'
#define SMFIC_DATA 'T'

/* Protocol flags: steps the milter does not want, replies it will not
 * send. */
#define SMFIP_NOCONNECT 0x1u
#define SMFIP_NOHELO 0x2u
#define SMFIP_NOMAIL 0x4u
#define SMFIP_NORCPT 0x8u
#define SMFIP_NOBODY 0x10u
#define SMFIP_NOHDRS 0x20u
#define SMFIP_NOEOH 0x40u
#define SMFIP_NR_HDR 0x80u
#define SMFIP_NODATA 0x200u
#define SMFIP_SKIP 0x400u
#define SMFIP_NR_CONN 0x1000u
#define SMFIP_NR_HELO 0x2000u
#define SMFIP_NR_MAIL 0x4000u
#define SMFIP_NR_RCPT 0x8000u
#define SMFIP_NR_DATA 0x10000u
#define SMFIP_NR_EOH 0x40000u
#define SMFIP_NR_BODY 0x80000u
#define SMFIP_HDR_LEADSPC 0x100000u
/* What postern can do: every step can be left out or go unanswered, the
 * milter may skip the rest of the body and have headers with their
 * leading space.  (No SMFIP_NOUNKNOWN, RCPT_REJ: postern sends neither
 * unknown commands nor rejected recipients, so those are moot.) */
#define PROTO_V6 0x1FFFFFu
#define PROTO_V2 0x3Fu

/* Actions the milter may take at the end of the message. */
#define SMFIF_ALL 0x1FFu

#define CHUNK_MAX 65535
#define PACKET_MAX (1024 * 1024)

/* ---- configuration ---- */

/* The default_action values, by enum milter_action. */
static const char *const action_names[] = {"tempfail", "accept", "reject",
                                           "quarantine"};

/* action_parse - default_action's value */
static int action_parse(const char *v, enum milter_action *a)
{
        for (size_t i = 0; i < ARRAY_SIZE(action_names); i++)
                if (strcasecmp(v, action_names[i]) == 0) {
                        *a = (enum milter_action)i;
                        return 0;
                }
        return -1;
}

/* milter_action_name - "tempfail", ... */
const char *milter_action_name(enum milter_action a)
{
        return action_names[a];
}

/* time_ms - a time setting (conf_parse_time: "30", "30s", "2m"...) in
 * milliseconds, or -1 */
static long time_ms(const char *v)
{
        long long sec;
        const char *why;

        if (conf_parse_time(v, 's', &sec, &why) < 0 || sec < 0 || sec > 86400)
                return -1;
        return (long)sec * 1000;
}

/* version_of - a protocol setting, 2 to 6, or 0 */
static unsigned version_of(const char *v)
{
        long long n;
        const char *why;

        if (conf_parse_int(v, &n, &why) < 0 || n < 2 || n > 6)
                return 0;
        return (unsigned)n;
}

/* milter_settings_init - the defaults of every milter */
int milter_settings_init(struct milter_spec *d, const char *default_action,
                         long long connect_s, long long command_s,
                         long long content_s, long long protocol, char **err)
{
        memset(d, 0, sizeof(*d));
        if (action_parse(default_action, &d->default_action) < 0) {
                *err = xasprintf("milter_default_action = %s: not tempfail, "
                                 "accept, reject or quarantine",
                                 default_action);
                return -1;
        }
        if (protocol < 2 || protocol > 6) {
                *err =
                    xasprintf("milter_protocol = %lld: not 2 to 6", protocol);
                return -1;
        }
        d->connect_ms = (long)connect_s * 1000;
        d->command_ms = (long)command_s * 1000;
        d->content_ms = (long)content_s * 1000;
        d->version = (unsigned)protocol;
        return 0;
}

/* spec_option - one "name = value" of a milter's braces */
static int spec_option(struct milter_spec *m, const char *opt, char **err)
{
        const char *eq = strchr(opt, '=');
        char *name, *value;
        int rc = 0;

        if (eq == NULL) {
                *err = xasprintf("milter %s: \"%s\": not name = value", m->name,
                                 opt);
                return -1;
        }
        char *nbuf = xstrndup(opt, (size_t)(eq - opt));
        char *vbuf = xstrdup(eq + 1);
        name = str_trim(nbuf);
        value = str_trim(vbuf);
        if (strcmp(name, "default_action") == 0)
                rc = action_parse(value, &m->default_action);
        else if (strcmp(name, "connect_timeout") == 0)
                rc = (m->connect_ms = time_ms(value)) < 0 ? -1 : 0;
        else if (strcmp(name, "command_timeout") == 0)
                rc = (m->command_ms = time_ms(value)) < 0 ? -1 : 0;
        else if (strcmp(name, "content_timeout") == 0)
                rc = (m->content_ms = time_ms(value)) < 0 ? -1 : 0;
        else if (strcmp(name, "protocol") == 0)
                rc = (m->version = version_of(value)) == 0 ? -1 : 0;
        else {
                *err = xasprintf("milter %s: unknown setting \"%s\"", m->name,
                                 name);
                free(nbuf);
                free(vbuf);
                return -1;
        }
        if (rc < 0)
                *err = xasprintf("milter %s: %s = %s: bad value", m->name, name,
                                 value);
        free(nbuf);
        free(vbuf);
        return rc;
}

/* spec_target - "inet:host:port" or "unix:path" (relative to queue_dir);
 * NULL when the endpoint is neither */
static char *spec_target(const char *name, const char *queue_dir)
{
        if (str_has_prefix(name, "inet:") && strchr(name + 5, ':'))
                return xstrdup(name);
        if (str_has_prefix(name, "unix:") && name[5])
                return name[5] == '/' ? xstrdup(name + 5)
                                      : xasprintf("%s/%s", queue_dir, name + 5);
        if (name[0] == '/')
                return xstrdup(name);
        return NULL;
}

/* milter_specs_parse - smtpd_milters: endpoints, each alone or as
 * "{ endpoint, name = value, ... }", with the defaults d */
int milter_specs_parse(const char *list, const struct milter_spec *d,
                       const char *queue_dir, struct milter_spec **out,
                       size_t *n, char **err)
{
        struct milter_spec *v = NULL;
        size_t nv = 0, pos = 0, start;
        long len;

        *out = NULL;
        *n = 0;
        while ((len = str_list_token(list, &pos, &start)) > 0) {
                char *tok = xstrndup(list + start, (size_t)len);
                struct strlist parts = {0};
                struct milter_spec m = *d;
                int rc = 0;

                if (tok[0] == '{') {
                        size_t tl = strlen(tok);
                        tok[tl - 1] = 0; /* the closing brace */
                        char *p = tok + 1;
                        /* settings are separated by commas only: values
                         * may hold blanks around '=' */
                        for (char *q; p; p = q) {
                                q = strchr(p, ',');
                                if (q)
                                        *q++ = 0;
                                char *t = xstrdup(p);
                                const char *tt = str_trim(t);
                                if (*tt)
                                        strlist_push(&parts, tt);
                                free(t);
                        }
                } else {
                        strlist_push(&parts, tok);
                }
                if (parts.n == 0) {
                        *err = xstrdup("smtpd_milters: empty { }");
                        rc = -1;
                } else {
                        m.name = xstrdup(parts.v[0]);
                        m.target = spec_target(m.name, queue_dir);
                        if (m.target == NULL) {
                                *err = xasprintf("milter %s: not inet:host:"
                                                 "port or unix:path",
                                                 m.name);
                                rc = -1;
                        }
                }
                for (size_t i = 1; rc == 0 && i < parts.n; i++)
                        rc = spec_option(&m, parts.v[i], err);
                strlist_clear(&parts);
                free(tok);
                v = xreallocarray(v, nv + 1, sizeof(*v));
                v[nv++] = m;
                if (rc < 0) {
                        milter_specs_free(v, nv);
                        return -1;
                }
        }
        if (len < 0) {
                milter_specs_free(v, nv);
                *err = xstrdup("smtpd_milters: braces do not balance");
                return -1;
        }
        *out = v;
        *n = nv;
        return 0;
}

/* milter_specs_free - release */
void milter_specs_free(struct milter_spec *v, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(v[i].name);
                free(v[i].target);
        }
        free(v);
}

/* ---- packets ---- */

/* memdup - a heap copy of n bytes */
static char *memdup(const void *p, size_t n)
{
        char *c = xmalloc(n ? n : 1);

        if (n)
                memcpy(c, p, n);
        return c;
}

/* get32 - a big-endian 32-bit number */
static uint32_t get32(const unsigned char *p)
{
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
               (uint32_t)p[2] << 8 | p[3];
}

/* put32 - append a big-endian 32-bit number */
static void put32(struct strbuf *b, uint32_t v)
{
        char c[4] = {(char)(v >> 24), (char)(v >> 16), (char)(v >> 8), (char)v};

        strbuf_add(b, c, 4);
}

/* strz - the NUL-terminated string at *p (within end), advancing *p;
 * NULL when there is no NUL */
static const char *strz(const char **p, const char *end)
{
        const char *s = *p;
        const char *nul = memchr(s, 0, (size_t)(end - s));

        if (nul == NULL)
                return NULL;
        *p = nul + 1;
        return s;
}

/* milter_reply_parse - one packet from a milter: cmd and its data */
int milter_reply_parse(char cmd, const char *data, size_t len,
                       struct milter_reply *r)
{
        const char *p = data, *end = data + len;

        memset(r, 0, sizeof(*r));
        r->cmd = cmd;
        switch (cmd) {
        case SMFIR_OPTNEG:
                if (len < 12)
                        return -1;
                r->version = get32((const unsigned char *)data);
                r->actions = get32((const unsigned char *)data + 4);
                r->protocol = get32((const unsigned char *)data + 8);
                return 0;
        case SMFIR_CONTINUE:
        case SMFIR_ACCEPT:
        case SMFIR_REJECT:
        case SMFIR_TEMPFAIL:
        case SMFIR_DISCARD:
        case SMFIR_SKIP:
        case SMFIR_PROGRESS:
                return 0;
        case SMFIR_REPLYCODE:
                if ((r->text = strz(&p, end)) == NULL)
                        return -1;
                /* "4XX" or "5XX", then a blank or '-' */
                if ((r->text[0] != '4' && r->text[0] != '5') ||
                    r->text[1] < '0' || r->text[1] > '9' || r->text[2] < '0' ||
                    r->text[2] > '9' ||
                    (r->text[3] != ' ' && r->text[3] != '-'))
                        return -1;
                return 0;
        case SMFIR_QUARANTINE:
                return (r->text = strz(&p, end)) ? 0 : -1;
        case SMFIR_INSHEADER:
        case SMFIR_CHGHEADER:
                if (len < 4)
                        return -1;
                r->index = get32((const unsigned char *)data);
                p += 4;
                /* fall through */
        case SMFIR_ADDHEADER:
                if ((r->name = strz(&p, end)) == NULL ||
                    (r->value = strz(&p, end)) == NULL || r->name[0] == 0)
                        return -1;
                for (const char *c = r->name; *c; c++)
                        if (*c == ':' || (unsigned char)*c <= ' ' ||
                            (unsigned char)*c >= 127)
                                return -1;
                return 0;
        case SMFIR_ADDRCPT:
        case SMFIR_DELRCPT:
        case SMFIR_ADDRCPT_PAR:
        case SMFIR_CHGFROM:
                if ((r->text = strz(&p, end)) == NULL || r->text[0] == 0)
                        return -1;
                /* optional ESMTP arguments: accepted, not used */
                return 0;
        case SMFIR_REPLBODY:
                r->text = data;
                r->len = len;
                return 0;
        default:
                return -1;
        }
}

/* ---- the content ---- */

/* One header of the message: its bytes, continuation lines and CRLF
 * included. */
struct hdr {
        const char *p;
        size_t len;
        char *own;   /* a header a milter wrote (p points here) */
        bool hidden; /* the server's own: milters did not see it */
};

/* header_len - the length of the header at p (up to and with the CRLF of
 * its last continuation line), or 0 when p does not start a header */
static size_t header_len(const char *p, const char *end)
{
        const char *q = p;

        while (q < end && *q != ':' && (unsigned char)*q > ' ' &&
               (unsigned char)*q < 127)
                q++;
        if (q == p || q == end || *q != ':')
                return 0;
        for (;;) {
                const char *nl = memchr(q, '\n', (size_t)(end - q));
                if (nl == NULL)
                        return (size_t)(end - p);
                q = nl + 1;
                if (q == end || (*q != ' ' && *q != '\t'))
                        return (size_t)(q - p);
        }
}

/* split - the headers of content, and where its body starts (after the
 * empty line, when there is one) */
static size_t split(const char *content, size_t len, struct hdr **hv,
                    size_t *nh, bool *blank)
{
        const char *p = content, *end = content + len;
        size_t n = 0, cap = 0, l;
        struct hdr *v = NULL;

        *blank = false;
        while (p < end && (l = header_len(p, end)) > 0) {
                if (n == cap) {
                        cap = cap ? cap * 2 : 16;
                        v = xreallocarray(v, cap, sizeof(*v));
                }
                v[n++] = (struct hdr){p, l, NULL, false};
                p += l;
        }
        if (end - p >= 2 && p[0] == '\r' && p[1] == '\n') {
                *blank = true;
                p += 2;
        } else if (p < end && p[0] == '\n') {
                *blank = true;
                p++;
        }
        *hv = v;
        *nh = n;
        return (size_t)(p - content);
}

/* add_crlf - s into b with every bare LF as CRLF and stray CRs dropped */
static void add_crlf(struct strbuf *b, const char *s, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                if (s[i] == '\r')
                        continue;
                if (s[i] == '\n')
                        strbuf_addc(b, '\r');
                strbuf_addc(b, s[i]);
        }
}

/* edit_text - a header a milter asked for, as it goes in the message */
static char *edit_text(const char *name, const char *value, bool leadspc)
{
        struct strbuf b;

        strbuf_init(&b);
        strbuf_adds(&b, name);
        strbuf_adds(&b, leadspc ? ":" : ": ");
        add_crlf(&b, value, strlen(value));
        strbuf_adds(&b, "\r\n");
        return strbuf_detach(&b);
}

/* header_is - whether h is a header called name */
static bool header_is(const struct hdr *h, const char *name)
{
        size_t nl = strlen(name);

        return h->len > nl && h->p[nl] == ':' &&
               strncasecmp(h->p, name, nl) == 0;
}

/* milter_apply - content (the server's own headers, hidden of them,
 * then the client's headers and body; CRLF) with the result's header and
 * body edits, into out */
void milter_apply(const struct milter_result *r, const char *content,
                  size_t len, size_t hidden, struct strbuf *out)
{
        struct hdr *v;
        size_t nh, body_at;
        bool blank;

        body_at = split(content, len, &v, &nh, &blank);
        for (size_t i = 0; i < hidden && i < nh; i++)
                v[i].hidden = true;
        for (size_t e = 0; e < r->nedits; e++) {
                const struct milter_edit *ed = &r->edits[e];
                size_t at = nh;

                if (ed->kind == MILTER_EDIT_CHG) {
                        size_t seen = 0;
                        for (at = 0; at < nh; at++)
                                if (!v[at].hidden &&
                                    header_is(&v[at], ed->name) &&
                                    ++seen == ed->index)
                                        break;
                        if (at < nh) {
                                free(v[at].own);
                                if (ed->text == NULL) { /* delete */
                                        memmove(&v[at], &v[at + 1],
                                                (nh - at - 1) * sizeof(*v));
                                        nh--;
                                        continue;
                                }
                                v[at].own = xstrdup(ed->text);
                                v[at].p = v[at].own;
                                v[at].len = strlen(v[at].own);
                                continue;
                        }
                        if (ed->text == NULL)
                                continue; /* nothing to delete */
                        at = nh;          /* not there: added */
                } else if (ed->kind == MILTER_EDIT_INS) {
                        at = ed->index < nh ? ed->index : nh;
                }
                v = xreallocarray(v, nh + 1, sizeof(*v));
                memmove(&v[at + 1], &v[at], (nh - at) * sizeof(*v));
                v[at].own = xstrdup(ed->text);
                v[at].p = v[at].own;
                v[at].len = strlen(v[at].own);
                v[at].hidden = false;
                nh++;
        }
        for (size_t i = 0; i < nh; i++) {
                strbuf_add(out, v[i].p, v[i].len);
                free(v[i].own);
        }
        free(v);
        if (r->body_replaced) {
                strbuf_adds(out, "\r\n");
                strbuf_add(out, r->body.s ? r->body.s : "", r->body.len);
                if (r->body.len && r->body.s[r->body.len - 1] != '\n')
                        strbuf_adds(out, "\r\n");
                return;
        }
        if (blank)
                strbuf_adds(out, "\r\n");
        strbuf_add(out, content + body_at, len - body_at);
}

/* milter_result_add - a modification (r from milter_reply_parse) into
 * the result */
void milter_result_add(struct milter_result *e, const struct milter_reply *r,
                       bool leadspc)
{
        char *a;

        switch (r->cmd) {
        case SMFIR_ADDHEADER:
        case SMFIR_INSHEADER:
        case SMFIR_CHGHEADER: {
                e->edits =
                    xreallocarray(e->edits, e->nedits + 1, sizeof(*e->edits));
                struct milter_edit *ed = &e->edits[e->nedits++];
                ed->kind = r->cmd == SMFIR_ADDHEADER   ? MILTER_EDIT_ADD
                           : r->cmd == SMFIR_INSHEADER ? MILTER_EDIT_INS
                                                       : MILTER_EDIT_CHG;
                ed->index = r->index;
                ed->name = xstrdup(r->name);
                ed->text = r->cmd == SMFIR_CHGHEADER && *r->value == 0
                               ? NULL
                               : edit_text(r->name, r->value, leadspc);
                break;
        }
        case SMFIR_REPLBODY:
                e->body_replaced = true;
                add_crlf(&e->body, r->text, r->len);
                break;
        case SMFIR_ADDRCPT:
        case SMFIR_ADDRCPT_PAR:
        case SMFIR_DELRCPT:
                a = milter_addr(r->text);
                strlist_push(
                    r->cmd == SMFIR_DELRCPT ? &e->del_rcpt : &e->add_rcpt, a);
                free(a);
                break;
        case SMFIR_CHGFROM:
                free(e->sender);
                e->sender = milter_addr(r->text);
                break;
        case SMFIR_QUARANTINE:
                free(e->hold_reason);
                e->hold_reason = xstrdup(r->text);
                break;
        }
}

/* result_clear - release what r holds; r is empty again */
static void result_clear(struct milter_result *r)
{
        for (size_t i = 0; i < r->nedits; i++) {
                free(r->edits[i].name);
                free(r->edits[i].text);
        }
        free(r->edits);
        strbuf_clear(&r->body);
        free(r->reply);
        free(r->hold_reason);
        free(r->sender);
        strlist_clear(&r->add_rcpt);
        strlist_clear(&r->del_rcpt);
        memset(r, 0, sizeof(*r));
}

/* milter_result_free - release (NULL ok) */
void milter_result_free(struct milter_result *r)
{
        if (r == NULL)
                return;
        result_clear(r);
        free(r);
}

/* milter_count_headers - how many headers text (CRLF) starts with */
size_t milter_count_headers(const char *text, size_t len)
{
        struct hdr *v;
        size_t n;
        bool blank;

        split(text, len, &v, &n, &blank);
        free(v);
        return n;
}

/* milter_addr - an address as a milter gives it, without <> */
char *milter_addr(const char *a)
{
        size_t n = strlen(a);

        if (n >= 2 && a[0] == '<' && a[n - 1] == '>')
                return xstrndup(a + 1, n - 2);
        return xstrdup(a);
}

/* ---- one message through the milters ---- */

/* One packet to send, and what comes back. */
struct pkt {
        char *data;
        size_t len;
        bool reply;        /* a reply is expected */
        bool content;      /* content_timeout applies */
        bool body;         /* a body chunk (SMFIR_SKIP skips the rest) */
        const char *stage; /* for the log: "CONNECT", ... */
        const char *rcpt;  /* RCPT: the recipient */
};

struct milter_run {
        struct event_loop *loop;
        const struct milter_spec *specs;
        size_t nspecs, cur;
        const struct milter_msg *msg;
        milter_done_fn *done;
        void *arg;
        struct milter_result *res;
        struct event_timer *finish; /* delivers the result from the loop */
        /* the current milter */
        int fd;
        bool connected, negotiated;
        struct event_io *io;
        long long deadline; /* ms, monotonic */
        struct strbuf out, in;
        size_t out_off;
        uint32_t version, actions, proto;
        struct pkt *pk;
        size_t npk, ipk;           /* ipk: the packet waiting for its reply */
        struct milter_result mine; /* this milter's edits so far */
};

static void run_next(struct milter_run *);
static void on_io(int fd, int what, void *arg);

/* now_ms - monotonic milliseconds */
static long long now_ms(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* packet - one packet: cmd and data */
static void packet(struct strbuf *b, char cmd, const void *data, size_t len)
{
        put32(b, (uint32_t)len + 1);
        strbuf_addc(b, cmd);
        strbuf_add(b, data, len);
}

/* macro_add - "name\0value\0" when value is set */
static void macro_add(struct strbuf *b, const char *name, const char *value)
{
        if (value == NULL || *value == 0)
                return;
        strbuf_add(b, name, strlen(name) + 1);
        strbuf_add(b, value, strlen(value) + 1);
}

/* push - a packet onto the run's list */
static struct pkt *push(struct milter_run *m, const struct strbuf *b,
                        bool reply, const char *stage)
{
        m->pk = xreallocarray(m->pk, m->npk + 1, sizeof(*m->pk));
        struct pkt *p = &m->pk[m->npk++];
        *p = (struct pkt){.data = memdup(b->s, b->len),
                          .len = b->len,
                          .reply = reply,
                          .stage = stage};
        return p;
}

/* push_macros - a SMFIC_MACRO packet for command cmd */
static void push_macros(struct milter_run *m, char cmd,
                        const struct strbuf *list)
{
        struct strbuf b;

        if (list->len == 0)
                return;
        strbuf_init(&b);
        strbuf_addc(&b, cmd);
        strbuf_add(&b, list->s, list->len);
        struct strbuf p;
        strbuf_init(&p);
        packet(&p, SMFIC_MACRO, b.s, b.len);
        push(m, &p, false, NULL);
        strbuf_clear(&p);
        strbuf_clear(&b);
}

/* push_cmd - a command packet: a reply is expected unless nr_flag is set
 * in the negotiated protocol */
static struct pkt *push_cmd(struct milter_run *m, char cmd,
                            const struct strbuf *data, uint32_t nr_flag,
                            const char *stage)
{
        struct strbuf p;

        strbuf_init(&p);
        packet(&p, cmd, data ? data->s : "", data ? data->len : 0);
        struct pkt *k = push(m, &p, !(m->proto & nr_flag), stage);
        strbuf_clear(&p);
        return k;
}

/* host_of - the domain of an address ("" when none) */
static const char *host_of(const char *addr)
{
        const char *at = strrchr(addr, '@');

        return at ? at + 1 : "";
}

/* add_args - ESMTP parameters as sent ("A=1 B"), each NUL-terminated */
static void add_args(struct strbuf *d, const char *params)
{
        struct strlist l = {0};

        if (params == NULL)
                return;
        str_split(params, " ", &l);
        for (size_t i = 0; i < l.n; i++)
                strbuf_add(d, l.v[i], strlen(l.v[i]) + 1);
        strlist_clear(&l);
}

/* build - every packet for the current milter, by what it negotiated */
static void build(struct milter_run *m)
{
        const struct milter_msg *g = m->msg;
        struct strbuf mac, d;
        char num[32];

        strbuf_init(&mac);
        strbuf_init(&d);
        /* CONNECT */
        if (!(m->proto & SMFIP_NOCONNECT)) {
                char *us = xasprintf("%s [%s]", g->client_name, g->client_addr);
                macro_add(&mac, "j", g->myhostname);
                macro_add(&mac, "{daemon_name}", g->daemon_name);
                macro_add(&mac, "{daemon_addr}", g->daemon_addr);
                macro_add(&mac, "v", g->version);
                macro_add(&mac, "_", us);
                macro_add(&mac, "{client_addr}", g->client_addr);
                macro_add(&mac, "{client_name}", g->client_name);
                macro_add(&mac, "{client_ptr}", g->client_ptr);
                snprintf(num, sizeof(num), "%u", g->client_port);
                macro_add(&mac, "{client_port}", num);
                free(us);
                push_macros(m, SMFIC_CONNECT, &mac);
                strbuf_reset(&mac);
                strbuf_adds(&d, g->client_name);
                strbuf_addc(&d, 0);
                strbuf_addc(&d, g->family == 6 ? '6' : '4');
                char port[2] = {(char)(g->client_port >> 8),
                                (char)g->client_port};
                strbuf_add(&d, port, 2);
                strbuf_add(&d, g->client_addr, strlen(g->client_addr) + 1);
                push_cmd(m, SMFIC_CONNECT, &d, SMFIP_NR_CONN, "CONNECT");
                strbuf_reset(&d);
        }
        /* HELO */
        if (!(m->proto & SMFIP_NOHELO) && g->helo) {
                macro_add(&mac, "{tls_version}", g->tls_version);
                macro_add(&mac, "{cipher}", g->cipher);
                if (g->cipher_bits > 0) {
                        snprintf(num, sizeof(num), "%d", g->cipher_bits);
                        macro_add(&mac, "{cipher_bits}", num);
                }
                macro_add(&mac, "{cert_subject}", g->cert_subject);
                macro_add(&mac, "{cert_issuer}", g->cert_issuer);
                push_macros(m, SMFIC_HELO, &mac);
                strbuf_reset(&mac);
                strbuf_add(&d, g->helo, strlen(g->helo) + 1);
                push_cmd(m, SMFIC_HELO, &d, SMFIP_NR_HELO, "HELO");
                strbuf_reset(&d);
        }
        /* MAIL */
        if (!(m->proto & SMFIP_NOMAIL)) {
                macro_add(&mac, "i", g->queue_id);
                macro_add(&mac, "{auth_type}", g->auth_type);
                macro_add(&mac, "{auth_authen}", g->auth_authen);
                macro_add(&mac, "{auth_author}", g->auth_author);
                macro_add(&mac, "{mail_addr}", g->sender);
                macro_add(&mac, "{mail_host}", host_of(g->sender));
                macro_add(&mac, "{mail_mailer}", "smtp");
                push_macros(m, SMFIC_MAIL, &mac);
                strbuf_reset(&mac);
                strbuf_printf(&d, "<%s>", g->sender);
                strbuf_addc(&d, 0);
                add_args(&d, g->mail_params);
                push_cmd(m, SMFIC_MAIL, &d, SMFIP_NR_MAIL, "MAIL");
                strbuf_reset(&d);
        }
        /* RCPT */
        for (size_t i = 0; !(m->proto & SMFIP_NORCPT) && i < g->rcpt.n; i++) {
                macro_add(&mac, "i", g->queue_id);
                macro_add(&mac, "{rcpt_addr}", g->rcpt.v[i]);
                macro_add(&mac, "{rcpt_host}", host_of(g->rcpt.v[i]));
                macro_add(&mac, "{rcpt_mailer}", "smtp");
                push_macros(m, SMFIC_RCPT, &mac);
                strbuf_reset(&mac);
                strbuf_printf(&d, "<%s>", g->rcpt.v[i]);
                strbuf_addc(&d, 0);
                add_args(&d, i < g->rcpt_params.n ? g->rcpt_params.v[i] : NULL);
                push_cmd(m, SMFIC_RCPT, &d, SMFIP_NR_RCPT, "RCPT")->rcpt =
                    g->rcpt.v[i];
                strbuf_reset(&d);
        }
        /* DATA (protocol 6) */
        if (m->version >= 6 && !(m->proto & SMFIP_NODATA)) {
                macro_add(&mac, "i", g->queue_id);
                push_macros(m, SMFIC_DATA, &mac);
                strbuf_reset(&mac);
                push_cmd(m, SMFIC_DATA, NULL, SMFIP_NR_DATA, "DATA");
        }
        /* the headers, end of headers, the body, the end */
        struct hdr *hv;
        size_t nh;
        bool blank;
        size_t body_at = split(g->content, g->len, &hv, &nh, &blank);
        for (size_t i = 0; !(m->proto & SMFIP_NOHDRS) && i < nh; i++) {
                const char *colon = memchr(hv[i].p, ':', hv[i].len);
                const char *v = colon + 1, *end = hv[i].p + hv[i].len;
                strbuf_add(&d, hv[i].p, (size_t)(colon - hv[i].p));
                strbuf_addc(&d, 0);
                if (!(m->proto & SMFIP_HDR_LEADSPC))
                        while (v < end && (*v == ' ' || *v == '\t'))
                                v++;
                /* folded lines with LF alone, as Sendmail sends them;
                 * no line ending at the end */
                while (end > v && (end[-1] == '\n' || end[-1] == '\r'))
                        end--;
                for (const char *c = v; c < end; c++)
                        if (*c != '\r')
                                strbuf_addc(&d, *c);
                strbuf_addc(&d, 0);
                push_cmd(m, SMFIC_HEADER, &d, SMFIP_NR_HDR, "END-OF-MESSAGE")
                    ->content = true;
                strbuf_reset(&d);
        }
        free(hv);
        if (!(m->proto & SMFIP_NOEOH)) {
                macro_add(&mac, "i", g->queue_id);
                push_macros(m, SMFIC_EOH, &mac);
                strbuf_reset(&mac);
                push_cmd(m, SMFIC_EOH, NULL, SMFIP_NR_EOH, "END-OF-MESSAGE")
                    ->content = true;
        }
        for (size_t off = body_at; !(m->proto & SMFIP_NOBODY) && off < g->len;
             off += CHUNK_MAX) {
                size_t n = g->len - off < CHUNK_MAX ? g->len - off : CHUNK_MAX;
                strbuf_add(&d, g->content + off, n);
                struct pkt *k = push_cmd(m, SMFIC_BODY, &d, SMFIP_NR_BODY,
                                         "END-OF-MESSAGE");
                k->content = k->body = true;
                strbuf_reset(&d);
        }
        macro_add(&mac, "i", g->queue_id);
        push_macros(m, SMFIC_BODYEOB, &mac);
        push_cmd(m, SMFIC_BODYEOB, NULL, 0, "END-OF-MESSAGE")->content = true;
        strbuf_clear(&mac);
        strbuf_clear(&d);
}

/* clear_current - close the current milter's connection, drop its
 * packets and its edits so far */
static void clear_current(struct milter_run *m)
{
        event_io_free(m->io);
        m->io = NULL;
        if (m->fd >= 0)
                close(m->fd);
        m->fd = -1;
        for (size_t i = 0; i < m->npk; i++)
                free(m->pk[i].data);
        free(m->pk);
        m->pk = NULL;
        m->npk = m->ipk = 0;
        strbuf_reset(&m->in);
        strbuf_reset(&m->out);
        m->out_off = 0;
        m->connected = m->negotiated = false;
        result_clear(&m->mine);
}

/* finish - the run is decided: deliver the result from the loop */
static void finish(struct milter_run *m)
{
        clear_current(m);
        m->cur = m->nspecs;
        event_timer_add(m->finish, 0);
}

/* on_finish - hand the result over */
static void on_finish(void *arg)
{
        struct milter_run *m = arg;
        struct milter_result *r = m->res;

        m->res = NULL;
        m->done(m->arg, r);
}

/* decide - the message's fate, from the current milter at stage */
static void decide(struct milter_run *m, enum milter_verdict v,
                   const char *reply, const char *stage)
{
        struct milter_result *r = m->res;

        r->verdict = v;
        r->stage = stage;
        r->rcpt = m->ipk < m->npk ? m->pk[m->ipk].rcpt : NULL;
        r->milter = m->specs[m->cur].name;
        free(r->reply);
        r->reply = reply ? xstrdup(reply) : NULL;
        finish(m);
}

/* keep - the current milter is done and its edits count; on to the next */
static void keep(struct milter_run *m)
{
        struct milter_result *r = m->res, *e = &m->mine;

        r->edits = xreallocarray(r->edits, r->nedits + e->nedits + 1,
                                 sizeof(*r->edits));
        if (e->nedits)
                memcpy(r->edits + r->nedits, e->edits,
                       e->nedits * sizeof(*e->edits));
        r->nedits += e->nedits;
        free(e->edits);
        e->edits = NULL;
        e->nedits = 0;
        if (e->body_replaced) {
                strbuf_clear(&r->body);
                r->body = e->body;
                strbuf_init(&e->body);
                r->body_replaced = true;
        }
        if (e->sender) {
                free(r->sender);
                r->sender = e->sender;
                e->sender = NULL;
        }
        for (size_t i = 0; i < e->add_rcpt.n; i++)
                strlist_push(&r->add_rcpt, e->add_rcpt.v[i]);
        for (size_t i = 0; i < e->del_rcpt.n; i++)
                strlist_push(&r->del_rcpt, e->del_rcpt.v[i]);
        if (e->hold_reason) {
                r->verdict = MILTER_V_HOLD;
                free(r->hold_reason);
                r->hold_reason = e->hold_reason;
                e->hold_reason = NULL;
                r->milter = m->specs[m->cur].name;
        }
        /* tell it we are done; no answer is wanted */
        if (m->fd >= 0 && m->connected) {
                char q[5] = {0, 0, 0, 1, SMFIC_QUIT};
                (void)!send(m->fd, q, sizeof(q), MSG_NOSIGNAL | MSG_DONTWAIT);
        }
        clear_current(m);
        m->cur++;
        run_next(m);
}

/* fail - the current milter broke (why for the log): its default_action */
static void fail(struct milter_run *m, const char *why)
{
        const struct milter_spec *s = &m->specs[m->cur];
        const char *stage = m->ipk < m->npk && m->pk[m->ipk].stage
                                ? m->pk[m->ipk].stage
                                : "CONNECT";

        log_warnx("milter %s: %s", s->name, why);
        switch (s->default_action) {
        case MILTER_ACCEPT:
                clear_current(m);
                m->cur++;
                run_next(m);
                return;
        case MILTER_QUARANTINE:
                clear_current(m);
                m->mine.hold_reason = xstrdup("milter default action");
                keep(m);
                return;
        case MILTER_REJECT:
                decide(m, MILTER_V_REJECT, "550 5.7.1 Command rejected", stage);
                return;
        case MILTER_TEMPFAIL:
                decide(m, MILTER_V_TEMPFAIL,
                       "451 4.7.1 Service unavailable - try again later",
                       stage);
                return;
        }
}

/* want - watch the socket: write while output is pending or the connect
 * runs, read while a reply is due; the deadline as the timeout */
static void want(struct milter_run *m)
{
        bool wr = !m->connected || m->out_off < m->out.len;
        long left = (long)(m->deadline - now_ms());

        if (left < 1)
                left = 1;
        if (event_io_want(m->io, true, wr, left) < 0)
                fail(m, "cannot watch the socket");
}

/* timeout_of - the time limit for packet k */
static long timeout_of(const struct milter_run *m, const struct pkt *k)
{
        const struct milter_spec *s = &m->specs[m->cur];

        return k->content ? s->content_ms : s->command_ms;
}

/* send_more - queue packets up to and including the next one that wants
 * a reply; true when one does */
static bool send_more(struct milter_run *m)
{
        while (m->ipk < m->npk) {
                struct pkt *k = &m->pk[m->ipk];
                strbuf_add(&m->out, k->data, k->len);
                if (k->reply) {
                        m->deadline = now_ms() + timeout_of(m, k);
                        return true;
                }
                m->ipk++;
        }
        return false;
}

/* advance - the reply to the packet at ipk was "go on" */
static void advance(struct milter_run *m)
{
        m->ipk++;
        if (send_more(m))
                return;
        /* only packets without a reply were left: cannot happen, the end
         * of the body always wants one */
        fail(m, "no reply expected at the end");
}

/* skip_body - SMFIR_SKIP: on to the end of the body */
static void skip_body(struct milter_run *m)
{
        m->ipk++;
        while (m->ipk < m->npk && m->pk[m->ipk].body)
                m->ipk++;
        if (!send_more(m))
                fail(m, "no reply expected at the end");
}

/* on_optneg - the milter's options */
static int on_optneg(struct milter_run *m, const struct milter_reply *r)
{
        const struct milter_spec *s = &m->specs[m->cur];
        uint32_t offer = s->version >= 6 ? PROTO_V6 : PROTO_V2;

        if (r->version < 2 || r->version > 6) {
                fail(m, "unsupported protocol version");
                return -1;
        }
        if (r->protocol & ~offer) {
                fail(m, "asks for protocol steps postern did not offer");
                return -1;
        }
        m->actions = r->actions & SMFIF_ALL;
        m->proto = r->protocol;
        m->negotiated = true;
        m->version = r->version;
        build(m);
        m->ipk = 0;
        if (!send_more(m))
                fail(m, "nothing to send");
        return 0;
}

/* stage_of - the stage of the packet waiting for its reply */
static const char *stage_of(const struct milter_run *m)
{
        return m->ipk < m->npk && m->pk[m->ipk].stage ? m->pk[m->ipk].stage
                                                      : "CONNECT";
}

/* reply_line - a milter's SMFIR_REPLYCODE text as one reply line */
static char *reply_line(const char *text)
{
        char *s = xstrdup(text);
        char *nl = strpbrk(s, "\r\n");

        if (nl)
                *nl = 0; /* the first line of a multi-line reply */
        if (s[3] == '-')
                s[3] = ' ';
        for (char *c = s; *c; c++)
                if ((unsigned char)*c < ' ' || (unsigned char)*c == 127)
                        *c = ' ';
        return s;
}

/* on_reply - one packet from the milter; -1 when the run moved on (the
 * connection is gone) */
static int on_reply(struct milter_run *m, const struct milter_reply *r)
{
        const struct milter_spec *s = &m->specs[m->cur];
        bool eom = m->ipk + 1 == m->npk;
        const char *stage = stage_of(m);

        if (!m->negotiated) {
                if (r->cmd != SMFIR_OPTNEG) {
                        fail(m, "no option negotiation reply");
                        return -1;
                }
                return on_optneg(m, r);
        }
        switch (r->cmd) {
        case SMFIR_CONTINUE:
                if (eom) {
                        keep(m);
                        return -1;
                }
                advance(m);
                return 0;
        case SMFIR_ACCEPT:
                keep(m);
                return -1;
        case SMFIR_REJECT:
                decide(m, MILTER_V_REJECT, "550 5.7.1 Command rejected", stage);
                return -1;
        case SMFIR_TEMPFAIL:
                decide(m, MILTER_V_TEMPFAIL,
                       "451 4.7.1 Service unavailable - try again later",
                       stage);
                return -1;
        case SMFIR_REPLYCODE: {
                char *line = reply_line(r->text);
                decide(m, line[0] == '5' ? MILTER_V_REJECT : MILTER_V_TEMPFAIL,
                       line, stage);
                free(line);
                return -1;
        }
        case SMFIR_DISCARD:
                decide(m, MILTER_V_DISCARD, NULL, stage);
                return -1;
        case SMFIR_SKIP:
                if (!m->pk[m->ipk].body || !(m->proto & SMFIP_SKIP)) {
                        fail(m, "SMFIR_SKIP outside the body");
                        return -1;
                }
                skip_body(m);
                return 0;
        case SMFIR_PROGRESS:
                m->deadline = now_ms() + s->content_ms;
                return 0;
        default:
                break;
        }
        /* the modifications: only at the end of the message, and only
         * those the milter announced */
        static const struct {
                char cmd;
                uint32_t action;
        } need[] = {{SMFIR_ADDHEADER, 0x1},  {SMFIR_INSHEADER, 0x1},
                    {SMFIR_CHGHEADER, 0x10}, {SMFIR_REPLBODY, 0x2},
                    {SMFIR_ADDRCPT, 0x4},    {SMFIR_ADDRCPT_PAR, 0x80},
                    {SMFIR_DELRCPT, 0x8},    {SMFIR_CHGFROM, 0x40},
                    {SMFIR_QUARANTINE, 0x20}};
        uint32_t action = 0;
        for (size_t i = 0; i < ARRAY_SIZE(need); i++)
                if (need[i].cmd == r->cmd)
                        action = need[i].action;
        if (!eom || action == 0 || !(m->actions & action)) {
                fail(m, eom ? "modification it did not announce"
                            : "modification before the end of the message");
                return -1;
        }
        milter_result_add(&m->mine, r, m->proto & SMFIP_HDR_LEADSPC);
        return 0;
}

/* read_packets - the complete packets in the input; -1 when the run
 * moved on */
static int read_packets(struct milter_run *m)
{
        size_t off = 0;
        int rc = 0;

        while (m->in.len - off >= 5) {
                const unsigned char *p = (const unsigned char *)m->in.s + off;
                uint32_t len = get32(p);
                struct milter_reply r;

                if (len == 0 || len > PACKET_MAX) {
                        fail(m, "bad packet length");
                        return -1;
                }
                if (m->in.len - off - 4 < len)
                        break;
                /* a copy: the handlers may clear the input */
                char *data = memdup((const char *)p + 5, len - 1);
                char cmd = (char)p[4];
                off += 4 + len;
                if (milter_reply_parse(cmd, data, len - 1, &r) < 0) {
                        free(data);
                        fail(m, "malformed reply");
                        return -1;
                }
                rc = on_reply(m, &r);
                free(data);
                if (rc < 0)
                        return -1;
        }
        if (off > 0) {
                memmove(m->in.s, m->in.s + off, m->in.len - off);
                m->in.len -= off;
        }
        return 0;
}

/* io_fail - a system call on the milter's socket failed (errno; 0 for
 * the end of the stream) */
static void io_fail(struct milter_run *m, const char *what)
{
        char *why = xasprintf("%s: %s", what,
                              errno ? strerror(errno) : "connection closed");

        fail(m, why);
        free(why);
}

/* on_io - connected, room to write, a reply, or the time is up */
static void on_io(int fd, int what, void *arg)
{
        struct milter_run *m = arg;

        if (what & EVENT_TIMEOUT && now_ms() >= m->deadline) {
                fail(m, m->connected ? "timeout" : "connect: timeout");
                return;
        }
        if (!m->connected && (what & EVENT_WRITE)) {
                if (smtpd_connect_result(fd) < 0) {
                        io_fail(m, "connect");
                        return;
                }
                m->connected = true;
        }
        if (m->connected && smtpd_conn_send(fd, &m->out, &m->out_off) < 0) {
                io_fail(m, "write");
                return;
        }
        if (m->out_off == m->out.len) {
                strbuf_reset(&m->out);
                m->out_off = 0;
        }
        /* at most one whole packet at a time: the rest waits in the
         * socket until these are handled.  What came before an error or
         * the end of the stream is handled first: a milter may answer and
         * close. */
        int rc = (what & EVENT_READ)
                     ? smtpd_conn_recv(fd, &m->in, PACKET_MAX + 4)
                     : 0;
        int e = errno;
        if (read_packets(m) < 0)
                return; /* on to the next milter, or decided */
        if (rc < 0) {
                errno = e;
                io_fail(m, "read");
                return;
        }
        want(m);
}

/* optneg - the option negotiation packet: what postern offers s */
static void optneg(struct strbuf *b, const struct milter_spec *s)
{
        struct strbuf d;

        strbuf_init(&d);
        put32(&d, s->version);
        put32(&d, SMFIF_ALL);
        put32(&d, s->version >= 6 ? PROTO_V6 : PROTO_V2);
        packet(b, SMFIC_OPTNEG, d.s, d.len);
        strbuf_clear(&d);
}

/* run_next - start the milter at cur, or finish */
static void run_next(struct milter_run *m)
{
        bool pending;

        if (m->cur >= m->nspecs) {
                finish(m);
                return;
        }
        const struct milter_spec *s = &m->specs[m->cur];
        m->fd = smtpd_connect_start(s->target, &pending);
        if (m->fd < 0) {
                char *why = xasprintf("connect: %s", strerror(errno));
                fail(m, why);
                free(why);
                return;
        }
        m->connected = !pending;
        m->io = event_io_new(m->loop, m->fd, on_io, m);
        optneg(&m->out, s);
        m->deadline = now_ms() + s->connect_ms;
        want(m);
}

/* milter_run_start - send the message (msg, which must stay valid until
 * done runs or the run is cancelled) through the milters; done gets the
 * result later, from the loop, and owns it */
struct milter_run *milter_run_start(struct event_loop *loop,
                                    const struct milter_spec *specs, size_t n,
                                    const struct milter_msg *msg,
                                    milter_done_fn *done, void *arg)
{
        struct milter_run *m = xcalloc(1, sizeof(*m));

        m->loop = loop;
        m->specs = specs;
        m->nspecs = n;
        m->msg = msg;
        m->done = done;
        m->arg = arg;
        m->fd = -1;
        m->res = xcalloc(1, sizeof(*m->res));
        m->res->verdict = MILTER_V_QUEUE;
        strbuf_init(&m->res->body);
        strbuf_init(&m->out);
        strbuf_init(&m->in);
        m->finish = event_timer_new(loop, on_finish, m);
        run_next(m);
        return m;
}

/* milter_run_free - stop (done is not called) or release after done */
void milter_run_free(struct milter_run *m)
{
        if (m == NULL)
                return;
        clear_current(m);
        event_timer_free(m->finish);
        milter_result_free(m->res);
        strbuf_clear(&m->out);
        strbuf_clear(&m->in);
        free(m);
}

/* wait_fd - poll fd for ev until deadline (ms, monotonic): 0, or -1 with
 * errno ETIMEDOUT */
static int wait_fd(int fd, short ev, long long deadline)
{
        struct pollfd p = {.fd = fd, .events = ev};
        int rc;

        do {
                long left = (long)(deadline - now_ms());
                if (left <= 0) {
                        errno = ETIMEDOUT;
                        return -1;
                }
                rc = poll(&p, 1, (int)left);
        } while (rc < 0 && errno == EINTR);
        if (rc == 0)
                errno = ETIMEDOUT;
        return rc > 0 ? 0 : -1;
}

/* milter_probe - connect to s and negotiate options, blocking (for postern
 * check), within limit_ms: 0, or -1 with *why (heap) */
int milter_probe(const struct milter_spec *s, long limit_ms, char **why)
{
        long long deadline = now_ms() + limit_ms;
        struct strbuf out, in;
        struct milter_reply r;
        size_t off = 0;
        bool pending;
        int fd, e = 0;
        socklen_t l = sizeof(e);
        const char *what = "connect";

        strbuf_init(&out);
        strbuf_init(&in);
        fd = smtpd_connect_start(s->target, &pending);
        if (fd < 0)
                goto fail;
        if (pending && (wait_fd(fd, POLLOUT, deadline) < 0 ||
                        getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l) < 0 ||
                        (e && (errno = e))))
                goto fail;
        what = "option negotiation";
        optneg(&out, s);
        while (off < out.len) {
                ssize_t n;
                if (wait_fd(fd, POLLOUT, deadline) < 0 ||
                    (n = send(fd, out.s + off, out.len - off, MSG_NOSIGNAL)) <
                        0)
                        goto fail;
                off += (size_t)n;
        }
        while (in.len < 5 ||
               in.len < 4 + (size_t)get32((const unsigned char *)in.s)) {
                char buf[512];
                ssize_t n;
                if (in.len >= 4 &&
                    get32((const unsigned char *)in.s) > PACKET_MAX) {
                        errno = EPROTO;
                        goto fail;
                }
                if (wait_fd(fd, POLLIN, deadline) < 0 ||
                    (n = recv(fd, buf, sizeof(buf), 0)) < 0)
                        goto fail;
                if (n == 0) {
                        errno = ECONNRESET;
                        goto fail;
                }
                strbuf_add(&in, buf, (size_t)n);
        }
        if (milter_reply_parse(in.s[4], in.s + 5,
                               get32((const unsigned char *)in.s) - 1,
                               &r) < 0 ||
            r.cmd != SMFIR_OPTNEG || r.version < 2 || r.version > 6) {
                errno = EPROTO;
                goto fail;
        }
        strbuf_reset(&out);
        packet(&out, SMFIC_QUIT, "", 0);
        (void)!send(fd, out.s, out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        close(fd);
        strbuf_clear(&out);
        strbuf_clear(&in);
        return 0;
fail:
        *why = xasprintf("%s: %s", what,
                         errno == EPROTO ? "not a milter's answer"
                                         : strerror(errno));
        if (fd >= 0)
                close(fd);
        strbuf_clear(&out);
        strbuf_clear(&in);
        return -1;
}

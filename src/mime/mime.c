/* SPDX-License-Identifier: MIT */
/*
 * mime.c - the MIME structure parser behind header and body checks.
 *
 * Written from RFC 2045/2046 and the behaviour Postfix documents for its
 * mime_state (header_checks(5), cleanup(8)): the input is cut into
 * records (a line, or a piece of line_limit bytes of a longer one), and a
 * small state machine sorts them into header blocks and bodies.  The
 * places where postern differs from Postfix on purpose: a header block
 * that ends in a line that is neither a header nor empty goes on as body
 * without the empty line Postfix inserts (postern does not change the
 * message), a Content-Type of an unknown type makes the part an opaque
 * one (Postfix keeps the type it had), and an empty boundary parameter is
 * ignored (Postfix would take every "--" line as a boundary).
 */
#include "mime/mime.h"

#include "base/base.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Where the parser is. */
enum state {
        ST_PRIMARY, /* the message's headers */
        ST_PART,    /* the headers of a multipart body part */
        ST_NESTED,  /* the headers of an attached message */
        ST_BODY,    /* body text */
};

/* The content types that change the structure. */
enum ctype { CT_TEXT, CT_MESSAGE, CT_MULTIPART, CT_OTHER };

/* One open multipart. */
struct boundary {
        char *s;
        size_t len;
        enum ctype def;  /* what its parts are without a Content-Type */
        bool def_rfc822; /* multipart/digest: message/rfc822 */
};

struct mime_parser {
        struct mime_settings set;
        mime_unit_fn *fn;
        void *arg;
        enum state st;
        enum ctype ctype; /* of the entity whose headers are being read */
        bool rfc822;      /* its subtype is rfc822 */
        struct boundary *stack;
        size_t depth, cap;
        struct strbuf line; /* a line not complete yet */
        bool piece;         /* the last record was a piece of a line */
        bool have_hdr;      /* a header is pending in hdr */
        struct strbuf hdr;  /* the pending header, as it came */
        size_t name_len;    /* its name's length */
        bool hdr_trunc;     /* bytes of it were dropped */
        struct strbuf key;  /* the key of the unit being emitted */
        size_t body_off;
};

/* The headers whose class is MIME wherever they are (Postfix's
 * HDR_OPT_MIME). */
static const char *const mime_names[] = {
    "Content-Description",       "Content-Disposition", "Content-ID",
    "Content-Transfer-Encoding", "Content-Type",        "MIME-Version",
};

/* The special characters of RFC 2045 parameters. */
#define TSPECIALS "()<>@,;:\\\"/[]?="

/* mime_settings_init - Postfix's defaults */
void mime_settings_init(struct mime_settings *s)
{
        memset(s, 0, sizeof(*s));
        s->header_limit = 102400;
        s->line_limit = 2048;
        s->max_depth = 100;
        s->boundary_limit = 2048;
}

/* mime_parser_new - a parser at the start of a message */
struct mime_parser *mime_parser_new(const struct mime_settings *set,
                                    mime_unit_fn *fn, void *arg)
{
        struct mime_parser *p = xcalloc(1, sizeof(*p));

        p->set = *set;
        /* a piece must hold a header name and its colon, a header at
         * least one byte */
        if (p->set.line_limit < 80)
                p->set.line_limit = 80;
        if (p->set.header_limit < 1)
                p->set.header_limit = 1;
        p->fn = fn;
        p->arg = arg;
        p->st = ST_PRIMARY;
        p->ctype = CT_TEXT;
        strbuf_init(&p->line);
        strbuf_init(&p->hdr);
        strbuf_init(&p->key);
        return p;
}

/* pop - close the innermost multipart */
static void pop(struct mime_parser *p)
{
        free(p->stack[--p->depth].s);
}

/* mime_parser_free - release */
void mime_parser_free(struct mime_parser *p)
{
        if (p == NULL)
                return;
        while (p->depth)
                pop(p);
        free(p->stack);
        strbuf_clear(&p->line);
        strbuf_clear(&p->hdr);
        strbuf_clear(&p->key);
        free(p);
}

/* push - a multipart's boundary */
static void push(struct mime_parser *p, const char *s, size_t n, enum ctype def,
                 bool def_rfc822)
{
        if (n == 0 || p->depth >= p->set.max_depth)
                return;
        if (n > p->set.boundary_limit)
                n = p->set.boundary_limit;
        if (p->depth == p->cap) {
                p->cap = p->cap ? p->cap * 2 : 4;
                p->stack = xreallocarray(p->stack, p->cap, sizeof(*p->stack));
        }
        p->stack[p->depth++] = (struct boundary){.s = xstrndup(s, n),
                                                 .len = n,
                                                 .def = def,
                                                 .def_rfc822 = def_rfc822};
}

/* content_len - a record's length without its line ending */
static size_t content_len(const char *text, size_t len, bool eol)
{
        if (eol && len && text[len - 1] == '\n') {
                len--;
                if (len && text[len - 1] == '\r')
                        len--;
        }
        return len;
}

/* mime_header_name - the name's length when text starts a header */
size_t mime_header_name(const char *text, size_t n)
{
        size_t i = 0, name;

        while (i < n && (unsigned char)text[i] > ' ' &&
               (unsigned char)text[i] < 127 && text[i] != ':')
                i++;
        if (i == 0)
                return 0;
        name = i;
        while (i < n && (text[i] == ' ' || text[i] == '\t'))
                i++;
        return i < n && text[i] == ':' ? name : 0;
}

/* is_space - white space inside a header value (lines joined by "\n") */
static bool is_space(char c)
{
        return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* skip_comment - past "( ... )" at *pp, nested, with quoted pairs */
static void skip_comment(const char **pp)
{
        const char *s = *pp;
        int level = 0;

        do {
                if (*s == '\\' && s[1])
                        s++;
                else if (*s == '(')
                        level++;
                else if (*s == ')')
                        level--;
                s++;
        } while (*s && level > 0);
        *pp = s;
}

/* token - the next token of a Content-Type value: 'a' for a word or a
 * quoted string (its text in val), a special character, or 0 at the
 * end; comments are skipped */
static int token(const char **pp, struct strbuf *val)
{
        const char *s = *pp;

        strbuf_reset(val);
        for (;;) {
                while (is_space(*s))
                        s++;
                if (*s != '(')
                        break;
                skip_comment(&s);
        }
        if (*s == 0) {
                *pp = s;
                return 0;
        }
        if (*s == '"') {
                for (s++; *s && *s != '"'; s++) {
                        if (*s == '\\' && s[1])
                                s++;
                        strbuf_addc(val, *s);
                }
                if (*s == '"')
                        s++;
                *pp = s;
                return 'a';
        }
        if (strchr(TSPECIALS, *s)) {
                *pp = s + 1;
                return (unsigned char)*s;
        }
        while (*s && !is_space(*s) && !strchr(TSPECIALS, *s))
                strbuf_addc(val, *s++);
        *pp = s;
        return 'a';
}

/* A parameter group: up to three tokens before the next ';'. */
struct group {
        int type[3];
        struct strbuf val[3];
};

/* group - the tokens up to the next ';' (the first three kept): their
 * number, or -1 at the end of the value */
static int group(const char **pp, struct group *g)
{
        struct strbuf skip;
        int n = 0, t;

        if (**pp == 0)
                return -1;
        strbuf_init(&skip);
        while ((t = token(pp, n < 3 ? &g->val[n] : &skip)) != 0 && t != ';')
                if (n < 3)
                        g->type[n++] = t;
                else
                        n++;
        strbuf_clear(&skip);
        return n > 3 ? 3 : n;
}

/* word_is - whether token i of g is the word w */
static bool word_is(const struct group *g, int n, int i, const char *w)
{
        return i < n && g->type[i] == 'a' && g->val[i].s &&
               strcasecmp(g->val[i].s, w) == 0;
}

/* content_type - a Content-Type value: the type of what follows the
 * header block, and the boundaries of a multipart */
static void content_type(struct mime_parser *p, const char *v)
{
        struct group g;
        int n;

        for (int i = 0; i < 3; i++)
                strbuf_init(&g.val[i]);
        n = group(&v, &g);
        bool sub = n >= 3 && g.type[1] == '/';
        if (word_is(&g, n, 0, "text")) {
                p->ctype = CT_TEXT;
        } else if (word_is(&g, n, 0, "message")) {
                p->ctype = CT_MESSAGE;
                p->rfc822 = sub && word_is(&g, n, 2, "rfc822");
        } else if (word_is(&g, n, 0, "multipart")) {
                bool digest = sub && word_is(&g, n, 2, "digest");
                p->ctype = CT_MULTIPART;
                /* every boundary parameter: a second one could otherwise
                 * hide parts from the checks */
                while ((n = group(&v, &g)) >= 0)
                        if (n == 3 && word_is(&g, n, 0, "boundary") &&
                            g.type[1] == '=' && g.type[2] == 'a')
                                push(p, g.val[2].s, g.val[2].len,
                                     digest ? CT_MESSAGE : CT_TEXT, digest);
        } else {
                p->ctype = CT_OTHER;
        }
        for (int i = 0; i < 3; i++)
                strbuf_clear(&g.val[i]);
}

/* header_key - the pending header as a table sees it */
static void header_key(struct mime_parser *p, size_t n)
{
        const char *s = p->hdr.s;
        size_t i = p->name_len < n ? p->name_len : n;

        strbuf_reset(&p->key);
        strbuf_add(&p->key, s, i);
        while (i < n && (s[i] == ' ' || s[i] == '\t'))
                i++; /* "Name :" is "Name:" */
        while (i < n) {
                const char *cr = memchr(s + i, '\r', n - i);
                size_t k = cr ? (size_t)(cr - s) : n;
                strbuf_add(&p->key, s + i, k - i);
                i = k;
                if (i < n && !(i + 1 < n && s[i + 1] == '\n'))
                        strbuf_addc(&p->key, '\r'); /* a bare CR stays */
                i++; /* of CRLF, only the "\n" stays */
        }
}

/* is_mime - whether the pending header is one of mime_names */
static bool is_mime(const struct mime_parser *p)
{
        for (size_t i = 0; i < ARRAY_SIZE(mime_names); i++)
                if (strlen(mime_names[i]) == p->name_len &&
                    strncasecmp(p->key.s, mime_names[i], p->name_len) == 0)
                        return true;
        return false;
}

/* hdr_add - more of the pending header, as far as the limit allows */
static void hdr_add(struct mime_parser *p, const char *text, size_t len)
{
        size_t room = p->set.header_limit > p->hdr.len
                          ? p->set.header_limit - p->hdr.len
                          : 0;

        if (len > room) {
                len = room;
                p->hdr_trunc = true;
        }
        strbuf_add(&p->hdr, text, len);
}

/* hdr_flush - the pending header goes out */
static void hdr_flush(struct mime_parser *p)
{
        struct mime_unit u = {0};
        size_t n = p->hdr.len;
        bool eol = n && p->hdr.s[n - 1] == '\n';

        if (p->hdr_trunc && !eol) {
                strbuf_add(&p->hdr, "\r\n", 2);
                eol = true;
        }
        header_key(p, content_len(p->hdr.s, p->hdr.len, eol));
        bool mime = is_mime(p);
        if (!p->set.no_mime && p->key.len > p->name_len &&
            p->key.s[p->name_len] == ':' && p->name_len == 12 &&
            strncasecmp(p->key.s, "Content-Type", 12) == 0)
                content_type(p, p->key.s + p->name_len + 1);
        u.cls = mime || p->st == ST_PART ? MIME_MIME
                : p->st == ST_PRIMARY    ? MIME_PRIMARY
                                         : MIME_NESTED;
        u.text = p->hdr.s;
        u.len = p->hdr.len;
        u.key = p->key.s;
        u.key_len = p->key.len;
        u.eol = eol;
        u.truncated = p->hdr_trunc;
        p->fn(p->arg, &u);
        strbuf_reset(&p->hdr);
        p->have_hdr = false;
        p->hdr_trunc = false;
}

/* headers_end - a header block ended; blank: with an empty line */
static void headers_end(struct mime_parser *p, bool blank)
{
        p->body_off = 0;
        if (blank && p->ctype == CT_MESSAGE && p->rfc822) {
                p->st = ST_NESTED; /* the attached message's headers */
                p->ctype = CT_TEXT;
                p->rfc822 = false;
                return;
        }
        if (blank && p->ctype == CT_MULTIPART)
                p->ctype = CT_OTHER; /* the prologue */
        p->st = ST_BODY;
}

/* boundary - a body line "--" s: a boundary of an open multipart? */
static void boundary(struct mime_parser *p, const char *s, size_t n)
{
        for (size_t i = p->depth; i-- > 0;) {
                const struct boundary *b = &p->stack[i];
                if (n < b->len || memcmp(s, b->s, b->len) != 0)
                        continue;
                /* it closes the parts nested inside it */
                while (p->depth > i + 1)
                        pop(p);
                if (n - b->len >= 2 && s[b->len] == '-' &&
                    s[b->len + 1] == '-') {
                        pop(p); /* the end: an epilogue follows */
                        p->st = ST_BODY;
                        p->ctype = CT_OTHER;
                        p->body_off = 0;
                } else {
                        p->st = ST_PART;
                        p->ctype = b->def;
                        p->rfc822 = b->def_rfc822;
                }
                return;
        }
}

/* body_line - a body record */
static void body_line(struct mime_parser *p, const char *text, size_t len,
                      bool eol, bool piece, size_t clen)
{
        struct mime_unit u = {0};

        if (p->depth && !piece && clen >= 2 && text[0] == '-' && text[1] == '-')
                boundary(p, text + 2, clen - 2);
        u.cls = MIME_BODY;
        u.text = text;
        u.len = len;
        if (p->set.body_keys) {
                strbuf_reset(&p->key);
                strbuf_add(&p->key, text, clen);
                u.key = p->key.s;
                u.key_len = p->key.len;
        }
        u.offset = p->body_off;
        u.eol = eol;
        p->body_off += clen + (eol ? 1 : 0);
        p->fn(p->arg, &u);
}

/* record - one line, or a piece of one (eol false) */
static void record(struct mime_parser *p, const char *text, size_t len,
                   bool eol)
{
        bool piece = p->piece; /* it goes on with the last record's line */
        size_t clen = content_len(text, len, eol);

        p->piece = !eol;
        if (p->st != ST_BODY) {
                if (p->have_hdr) {
                        if (piece ||
                            (clen > 0 && (text[0] == ' ' || text[0] == '\t'))) {
                                hdr_add(p, text, len);
                                return;
                        }
                        hdr_flush(p);
                }
                size_t name = piece ? 0 : mime_header_name(text, clen);
                if (name) {
                        p->have_hdr = true;
                        p->name_len = name;
                        hdr_add(p, text, len);
                        return;
                }
                headers_end(p, !piece && eol && clen == 0);
        }
        body_line(p, text, len, eol, piece, clen);
}

/* mime_parser_feed - split into records */
void mime_parser_feed(struct mime_parser *p, const char *buf, size_t n)
{
        while (n > 0) {
                size_t room = p->set.line_limit - p->line.len;
                size_t scan = n < room ? n : room;
                const char *nl = memchr(buf, '\n', scan);
                size_t k;

                if (nl == NULL && scan < room) {
                        strbuf_add(&p->line, buf, n); /* more to come */
                        return;
                }
                k = nl ? (size_t)(nl - buf) + 1 : room;
                if (p->line.len == 0) {
                        record(p, buf, k, nl != NULL); /* no copy */
                } else {
                        strbuf_add(&p->line, buf, k);
                        record(p, p->line.s, p->line.len, nl != NULL);
                        strbuf_reset(&p->line);
                }
                buf += k;
                n -= k;
        }
}

/* mime_parser_cut - end a pending header at a line boundary */
void mime_parser_cut(struct mime_parser *p)
{
        if (p->have_hdr && p->line.len == 0 && !p->piece)
                hdr_flush(p);
}

/* mime_parser_finish - flush what is pending */
void mime_parser_finish(struct mime_parser *p)
{
        if (p->line.len) {
                record(p, p->line.s, p->line.len, false);
                strbuf_reset(&p->line);
        }
        if (p->have_hdr)
                hdr_flush(p);
}

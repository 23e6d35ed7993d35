/* SPDX-License-Identifier: MIT */
/*
 * mime_addr.c - the addresses of an RFC 5322 address-list header value
 * (From:, To:, Cc:, Reply-To: ...), found where they are so that a caller
 * can replace one address and keep every other byte of the header.
 *
 * The value is cut into tokens (atoms, quoted strings, comments, domain
 * literals, white space with folding, special characters), then into
 * addresses at the commas outside angle brackets; a group's name ends at
 * its colon and the group at its semicolon.  An address with an angle
 * address is the addr-spec inside the brackets (an obsolete route before
 * it is skipped); one without is the address itself when it has the
 * shape of an addr-spec (words joined by dots, then "@" and a domain or
 * a domain literal, or no domain at all), else a stray phrase, which is
 * skipped.  Comments and white space are allowed between the tokens, as
 * RFC 5322's obsolete syntax allows.  An unterminated quoted string,
 * comment or domain literal ends the scan, and so does a domain literal
 * with "[" or "@" in it: what follows is not understood, so it is not
 * touched.
 */
#include "mime/mime.h"

#include "base/base.h"

#include <stdlib.h>
#include <string.h>

enum tok {
        T_ATOM,    /* atext run (bytes above 127 included, RFC 6532) */
        T_QSTRING, /* "..." */
        T_DLIT,    /* [...] */
        T_COMMENT, /* (...), nested */
        T_SPACE,   /* blanks, CR, LF */
        T_DOT,
        T_AT,
        T_LT,
        T_GT,
        T_COLON,
        T_SEMI,
        T_COMMA,
        T_OTHER, /* a control character, a stray ")" or "]" or "\" */
};

struct token {
        enum tok t;
        size_t off, len;
};

struct scan {
        const char *s;
        size_t n;
        struct token *v;
        size_t nv, cap;
        struct strbuf addr;
        mime_addr_fn *fn;
        void *arg;
};

/* is_atext - RFC 5322 atext, and any byte of a UTF-8 sequence */
static bool is_atext(unsigned char c)
{
        if (c >= 0x80)
                return true;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9'))
                return true;
        return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* delimited - the end of a token from i (at its opening byte) to its
 * closing byte, with quoted pairs; nested openings count for comments;
 * 0 when it never closes */
static size_t delimited(const char *s, size_t n, size_t i, char open,
                        char close, bool nests)
{
        int level = 0;

        for (; i < n; i++) {
                if (s[i] == '\\') {
                        i++;
                        continue;
                }
                if (s[i] == open && (nests || level == 0))
                        level++;
                else if (s[i] == close && --level == 0)
                        return i + 1;
        }
        return 0;
}

/* push - one token */
static void push(struct scan *sc, enum tok t, size_t off, size_t end)
{
        if (sc->nv == sc->cap) {
                sc->cap = sc->cap ? sc->cap * 2 : 32;
                sc->v = xreallocarray(sc->v, sc->cap, sizeof(*sc->v));
        }
        sc->v[sc->nv++] = (struct token){.t = t, .off = off, .len = end - off};
}

/* tokenize - the value into tokens, up to what does not close */
static void tokenize(struct scan *sc)
{
        static const char specials[] = ".@<>:;,";
        static const enum tok special_tok[] = {T_DOT,   T_AT,   T_LT,   T_GT,
                                               T_COLON, T_SEMI, T_COMMA};
        const char *s = sc->s;
        size_t i = 0, end;

        while (i < sc->n) {
                unsigned char c = (unsigned char)s[i];
                const char *sp = c ? strchr(specials, c) : NULL;
                if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
                        for (end = i; end < sc->n && strchr(" \t\r\n", s[end]);
                             end++)
                                ;
                        push(sc, T_SPACE, i, end);
                } else if (is_atext(c)) {
                        for (end = i;
                             end < sc->n && is_atext((unsigned char)s[end]);
                             end++)
                                ;
                        push(sc, T_ATOM, i, end);
                } else if (c == '"' || c == '(' || c == '[') {
                        char close = c == '"' ? '"' : c == '(' ? ')' : ']';
                        end = delimited(s, sc->n, i, (char)c, close, c == '(');
                        if (end == 0)
                                return; /* unterminated: not understood */
                        /* "[" or "@" inside a domain literal: one
                         * address would have two domains */
                        if (c == '[' && (memchr(s + i + 1, '[', end - i - 2) ||
                                         memchr(s + i + 1, '@', end - i - 2)))
                                return;
                        push(sc,
                             c == '"'   ? T_QSTRING
                             : c == '(' ? T_COMMENT
                                        : T_DLIT,
                             i, end);
                } else if (sp) {
                        end = i + 1;
                        push(sc, special_tok[sp - specials], i, end);
                } else {
                        end = i + 1;
                        push(sc, T_OTHER, i, end);
                }
                i = end;
        }
}

/* cfws - white space or a comment */
static bool cfws(enum tok t)
{
        return t == T_SPACE || t == T_COMMENT;
}

/* dotted - whether tokens [a, b) (white space and comments aside) are
 * words of the kinds allowed joined by dots: at least one, never two
 * without a dot between */
static bool dotted(const struct token *v, size_t a, size_t b, bool qstring)
{
        bool word = false, any = false;

        for (size_t i = a; i < b; i++) {
                if (cfws(v[i].t))
                        continue;
                if (v[i].t == T_DOT) {
                        word = false;
                        continue;
                }
                if (v[i].t != T_ATOM && !(qstring && v[i].t == T_QSTRING))
                        return false;
                if (word)
                        return false; /* "two words": a phrase */
                word = any = true;
        }
        return any;
}

/* addr_spec - report tokens [a, b) when they are an addr-spec */
static void addr_spec(struct scan *sc, size_t a, size_t b, bool angle)
{
        const struct token *v = sc->v;
        size_t at = b, first = b, last = a;

        for (size_t i = a; i < b; i++) {
                if (cfws(v[i].t))
                        continue;
                if (first == b)
                        first = i;
                last = i;
                if (v[i].t == T_AT && at == b)
                        at = i;
        }
        if (first == b)
                return; /* empty: the null address <> */
        if (!dotted(v, a, at, true))
                return;
        if (at < b) {
                size_t d = at + 1;
                while (d < b && cfws(v[d].t))
                        d++;
                bool lit = d < b && v[d].t == T_DLIT;
                if (lit) {
                        for (size_t i = d + 1; i < b; i++)
                                if (!cfws(v[i].t))
                                        return;
                } else if (!dotted(v, at + 1, b, false)) {
                        return;
                }
        }
        strbuf_reset(&sc->addr);
        for (size_t i = first; i <= last; i++)
                if (!cfws(v[i].t))
                        strbuf_add(&sc->addr, sc->s + v[i].off, v[i].len);
        if (strlen(strbuf_cstr(&sc->addr)) != sc->addr.len)
                return; /* a NUL in a quoted string: not a string to use */
        struct mime_addr m = {
            .off = v[first].off,
            .len = v[last].off + v[last].len - v[first].off,
            .addr = strbuf_cstr(&sc->addr),
            .angle = angle,
        };
        sc->fn(sc->arg, &m);
}

/* address - one address of the list, tokens [a, b) */
static void address(struct scan *sc, size_t a, size_t b)
{
        const struct token *v = sc->v;
        size_t lt = b, gt = b;

        for (size_t i = a; i < b && gt == b; i++) {
                if (v[i].t == T_LT && lt == b)
                        lt = i;
                else if (v[i].t == T_GT && lt < b)
                        gt = i;
        }
        if (lt == b) {
                addr_spec(sc, a, b, false);
                return;
        }
        if (gt == b)
                return; /* "<" without ">" */
        size_t start = lt + 1;
        for (size_t i = lt + 1; i < gt; i++)
                if (v[i].t == T_COLON)
                        start = i + 1; /* after "@route,@route:" */
        addr_spec(sc, start, gt, true);
}

/* mime_addrlist_scan - each addr-spec of an address-list */
void mime_addrlist_scan(const char *text, size_t n, mime_addr_fn *fn, void *arg)
{
        struct scan sc = {.s = text, .n = n, .fn = fn, .arg = arg};
        size_t start = 0;
        bool angle = false;

        strbuf_init(&sc.addr);
        tokenize(&sc);
        for (size_t i = 0; i <= sc.nv; i++) {
                enum tok t = i < sc.nv ? sc.v[i].t : T_COMMA;
                if (t == T_LT)
                        angle = true;
                else if (t == T_GT)
                        angle = false;
                if (angle && i < sc.nv)
                        continue; /* a route's commas and colon */
                if (t == T_COLON) {
                        start = i + 1; /* a group: its name is no address */
                } else if (t == T_COMMA || t == T_SEMI) {
                        address(&sc, start, i);
                        start = i + 1;
                        angle = false;
                }
        }
        free(sc.v);
        strbuf_clear(&sc.addr);
}

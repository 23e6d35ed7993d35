/* SPDX-License-Identifier: MIT */
/*
 * mime - a one-pass MIME structure parser for mail content, as Postfix's
 * cleanup sees it for header_checks and body_checks (its mime_state).
 *
 * Content is fed as it arrives, in pieces of any size; the parser splits
 * it into lines and calls back once per logical header (a header with its
 * continuation lines) and once per body line, in order, with the class
 * that picks the table: the message's own headers, MIME headers (the
 * Content-* and MIME-Version headers anywhere, and every header of a
 * multipart body part), the headers of an attached message
 * (message/rfc822, also the parts of multipart/digest), and body lines
 * (the text of every part, the multipart boundaries and prologues, and
 * the empty line that ends each header block).  Together the units are
 * the input, byte for byte, except where a header was longer than the
 * header limit (the excess is dropped, as Postfix does).
 *
 * Multipart boundaries nest (the boundary parameter, quoted or not, of
 * each multipart Content-Type is stacked); a boundary line closes the
 * inner parts it skips.  A body line longer than the line limit comes in
 * pieces, as Postfix's records do; a boundary is recognised only at the
 * start of a line.  Nothing here allocates per line once the buffers
 * have grown; a header costs at most the header limit.
 */
#ifndef POSTERN_MIME_H
#define POSTERN_MIME_H

#include <stdbool.h>
#include <stddef.h>

/* Which table a unit goes to (Postfix's header classes). */
enum mime_class {
        MIME_PRIMARY, /* a header of the message: header_checks */
        MIME_MIME,    /* a MIME header, or a header of a body part:
                         mime_header_checks */
        MIME_NESTED,  /* a header of an attached message:
                         nested_header_checks */
        MIME_BODY,    /* a body line: body_checks */
};

/* What the parser is told. */
struct mime_settings {
        size_t header_limit;   /* header_size_limit (102400): bytes of one
                                  header kept, the rest dropped */
        size_t line_limit;     /* line_length_limit (2048): longer body
                                  lines come in pieces of this size */
        bool no_mime;          /* disable_mime_input_processing: everything
                                  after the message's headers is body */
        unsigned max_depth;    /* mime_nesting_limit (100) */
        size_t boundary_limit; /* mime_boundary_length_limit (2048): a
                                  longer boundary is compared by its start */
        bool body_keys;        /* fill key for body lines too (for
                                  body_checks); headers always have one */
};

/* One header or body line.  Borrowed for the duration of the callback. */
struct mime_unit {
        enum mime_class cls;
        const char *text; /* as it came, line endings included */
        size_t len;
        const char *key; /* what a table is asked: a header's lines joined
                            by "\n" (no CR, no final newline, "Name :"
                            as "Name:"), a body line without its line
                            ending; NUL-terminated; NULL for a body line
                            without body_keys */
        size_t key_len;  /* its length (a NUL byte may come before) */
        size_t offset;   /* body: where the line starts in its body part
                            (a line ending counts one byte) */
        bool eol;        /* text ends with a line ending (false for a
                            piece of a longer line, or the input's end) */
        bool truncated;  /* a header: bytes over the limit were dropped */
};

/* The callback: one unit, in input order. */
typedef void mime_unit_fn(void *arg, const struct mime_unit *);

struct mime_parser;

/* mime_header_name - when text (n bytes) starts a header ("Name:", also
 * the obsolete "Name :"), the length of the name; else 0. */
size_t mime_header_name(const char *text, size_t n);
/* mime_settings_init - Postfix's defaults. */
void mime_settings_init(struct mime_settings *);
/* mime_parser_new - a parser at the start of a message; set is copied.
 * Never fails. */
struct mime_parser *mime_parser_new(const struct mime_settings *set,
                                    mime_unit_fn *fn, void *arg);
/* mime_parser_free - NULL ok. */
void mime_parser_free(struct mime_parser *);
/* mime_parser_feed - n more bytes of content; calls fn for every unit
 * they complete. */
void mime_parser_feed(struct mime_parser *, const char *, size_t n);
/* mime_parser_cut - at a line boundary: a pending header is complete now
 * (a continuation line after this point cannot join it; in the header
 * block it ends the headers).  For the MTA's own headers, which a
 * client's content must not continue. */
void mime_parser_cut(struct mime_parser *);
/* mime_parser_finish - the end of the content: what is pending (a last
 * line without its line ending, a header) goes out. */
void mime_parser_finish(struct mime_parser *);

/* One addr-spec of an address-list (mime_addrlist_scan). */
struct mime_addr {
        size_t off, len;  /* where it is in the text: its first to its last
                             token (a comment or folding inside included) */
        const char *addr; /* its tokens without white space and comments
                             ("john.doe@example.com"; a quoted local part
                             stays quoted); borrowed for the callback */
        bool angle;       /* it was inside <...> */
};
/* The callback: one address, in text order. */
typedef void mime_addr_fn(void *arg, const struct mime_addr *);

/* mime_addrlist_scan - each addr-spec of an RFC 5322 address-list: n
 * bytes of a header value after its colon, folding included, with
 * display names, quoted strings, comments, groups and angle addresses
 * (an obsolete route skipped).  Unqualified addresses ("root") count.
 * The null address <>, phrases that are no address and everything from
 * an unterminated quoted string, comment or domain literal (or one with
 * "[" or "@" inside) on are skipped: never an error. */
void mime_addrlist_scan(const char *text, size_t n, mime_addr_fn *fn,
                        void *arg);

#endif

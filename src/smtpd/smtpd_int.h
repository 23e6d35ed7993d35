/* SPDX-License-Identifier: MIT */
/*
 * smtpd_int.h - internals of the SMTP server engine shared by its files
 * and by its tests and fuzz targets.  Not for other modules.
 */
#ifndef POSTERN_SMTPD_INT_H
#define POSTERN_SMTPD_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/base.h"
#include "smtpd/smtpd.h"

/* Options of the MAIL/RCPT parameter parser. */
struct smtpd_parse_opts {
        bool dsn;             /* DSN announced (not discarded) */
        bool smtputf8_enable; /* SMTPUTF8 offered */
        bool smtputf8;        /* RCPT: the MAIL command declared SMTPUTF8 */
        size_t size_limit;    /* message_size_limit, 0 = none */
        bool strict_rfc821;   /* strict_rfc821_envelopes: <> required */
};

/* smtpd_parse_mail - parse the arguments of MAIL ("FROM:<a> SIZE=1"),
 * filling env's sender and parameters.  0, or -1 with the complete reply
 * (Postfix's text) in err.  env must be empty; on error it may hold
 * partial results that smtpd_envelope_clear frees. */
int smtpd_parse_mail(const char *args, const struct smtpd_parse_opts *,
                     struct smtpd_envelope *env, struct strbuf *err);
/* smtpd_parse_rcpt - parse the arguments of RCPT ("TO:<a> NOTIFY=..."),
 * filling rcpt (zeroed by the caller).  0 or -1 with the reply in err. */
int smtpd_parse_rcpt(const char *args, const struct smtpd_parse_opts *,
                     struct smtpd_rcpt *rcpt, struct strbuf *err);
/* smtpd_parse_vrfy - the address of VRFY (with or without brackets) into
 * out.  0 or -1 with the reply in err. */
int smtpd_parse_vrfy(const char *args, const struct smtpd_parse_opts *,
                     struct strbuf *out, struct strbuf *err);
/* smtpd_parse_bdat - "n" or "n LAST" (case-insensitive).  0 or -1. */
int smtpd_parse_bdat(const char *args, size_t *size, bool *last);
/* smtpd_utf8_valid - whether n bytes are well-formed UTF-8 (no overlong
 * forms, no surrogates, nothing above U+10FFFF). */
bool smtpd_utf8_valid(const char *, size_t);

/* smtpd_rcpt_clear - free a recipient's strings. */
void smtpd_rcpt_clear(struct smtpd_rcpt *);
/* smtpd_envelope_clear - free everything, leave an empty envelope. */
void smtpd_envelope_clear(struct smtpd_envelope *);

/* The content decoder of DATA and BDAT (smtpd_data.c). */
enum smtpd_dec_state {
        DEC_BOL,    /* at the start of a line */
        DEC_DOT,    /* "." at the start of a line (DATA only) */
        DEC_DOT_CR, /* ".\r" at the start of a line (DATA only) */
        DEC_MID,    /* inside a line */
        DEC_CR,     /* "\r" seen, LF not yet */
};

enum smtpd_dec_result {
        DEC_MORE, /* all input consumed, message not complete */
        DEC_END,  /* end of DATA seen; *used says where */
        DEC_BARE_LF,
        DEC_BARE_CR,
};

struct smtpd_decoder {
        enum smtpd_dec_state st;
        bool dot;         /* DATA: dot-stuffing and end-of-data */
        bool reject;      /* bare LF/CR are errors (else: normalize) */
        bool crlf_before; /* the previous line ended with CRLF */
        bool dot_crlf;    /* crlf_before when the "." was seen */
        bool last_lf;     /* the last byte emitted was LF */
        size_t bytes;     /* content bytes emitted */
        struct strbuf *out;
};

/* smtpd_dec_init - a decoder for DATA (dot true: stuffing and
 * CRLF.CRLF) or BDAT (dot false: raw), appending content to out.
 * start_crlf: the DATA command line ended with CRLF. */
void smtpd_dec_init(struct smtpd_decoder *, bool dot, bool reject,
                    bool start_crlf, struct strbuf *out);
/* smtpd_dec_feed - decode n bytes; *used is how many were consumed
 * (all of them unless the result is DEC_END or a bare newline). */
enum smtpd_dec_result smtpd_dec_feed(struct smtpd_decoder *, const char *,
                                     size_t n, size_t *used);
/* smtpd_dec_finish - BDAT LAST: deal with a pending CR and make the
 * content end with CRLF.  DEC_END or DEC_BARE_CR. */
enum smtpd_dec_result smtpd_dec_finish(struct smtpd_decoder *);

#endif

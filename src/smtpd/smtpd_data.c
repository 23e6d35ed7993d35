/* SPDX-License-Identifier: MIT */
/*
 * smtpd_data.c - the DATA and BDAT content decoder.
 *
 * A byte-at-a-time state machine, so any split of the input gives the same
 * result.  The only end of DATA is <CR><LF>.<CR><LF>, where the first
 * <CR><LF> may be the one that ended the DATA command: "\n.\n", "\r.\n",
 * "\n.\r\n", "\r\n.\n" and "\r\n.\r" never end a message (SMTP smuggling,
 * CVE-2023-51764).  In normalize mode a bare LF ends a content line (it is
 * stored as CRLF) but never counts towards the end of DATA, and a bare CR
 * is kept as content, as Postfix does; in reject mode either one stops
 * the decoder.  Stored content always has CRLF line endings and, for DATA,
 * leading dots removed.
 */
#include "smtpd/smtpd_int.h"

#include <string.h>

/* smtpd_dec_init - fresh decoder */
void smtpd_dec_init(struct smtpd_decoder *d, bool dot, bool reject,
                    bool start_crlf, struct strbuf *out)
{
        memset(d, 0, sizeof(*d));
        d->st = DEC_BOL;
        d->dot = dot;
        d->reject = reject;
        d->crlf_before = start_crlf;
        d->last_lf = true;
        d->out = out;
}

/* emit - append content bytes */
static void emit(struct smtpd_decoder *d, const char *p, size_t n)
{
        if (n == 0)
                return;
        strbuf_add(d->out, p, n);
        d->bytes += n;
        d->last_lf = p[n - 1] == '\n';
}

/* emit_eol - a line ending, stored as CRLF */
static void emit_eol(struct smtpd_decoder *d, bool was_crlf)
{
        emit(d, "\r\n", 2);
        d->crlf_before = was_crlf;
        d->st = DEC_BOL;
}

/* smtpd_dec_feed - run the state machine over n bytes */
enum smtpd_dec_result smtpd_dec_feed(struct smtpd_decoder *d, const char *p,
                                     size_t n, size_t *used)
{
        size_t i = 0;

        while (i < n) {
                char c = p[i];

                switch (d->st) {
                case DEC_BOL:
                        if (c == '.' && d->dot) {
                                d->dot_crlf = d->crlf_before;
                                d->st = DEC_DOT;
                                i++;
                                continue;
                        }
                        d->st = DEC_MID;
                        continue; /* same byte, inside the line */
                case DEC_DOT:
                        if (c == '\r') {
                                d->st = DEC_DOT_CR;
                                i++;
                                continue;
                        }
                        /* The dot was stuffing: drop it, go on inside
                         * the line (a bare LF here ends an empty line). */
                        d->st = DEC_MID;
                        continue;
                case DEC_DOT_CR:
                        if (c == '\n') {
                                i++;
                                if (d->dot_crlf) {
                                        *used = i;
                                        return DEC_END;
                                }
                                /* "\n.\r\n": an empty line, not the end. */
                                emit_eol(d, true);
                                continue;
                        }
                        /* ".\r" followed by something else: a bare CR. */
                        if (d->reject) {
                                *used = i;
                                return DEC_BARE_CR;
                        }
                        emit(d, "\r", 1);
                        d->st = DEC_MID;
                        continue;
                case DEC_MID: {
                        /* Fast path: copy up to the next CR or LF. */
                        size_t j = i;
                        while (j < n && p[j] != '\r' && p[j] != '\n')
                                j++;
                        emit(d, p + i, j - i);
                        i = j;
                        if (i == n)
                                break;
                        if (p[i] == '\r') {
                                d->st = DEC_CR;
                                i++;
                                continue;
                        }
                        /* bare LF */
                        if (d->reject) {
                                *used = i;
                                return DEC_BARE_LF;
                        }
                        i++;
                        emit_eol(d, false);
                        continue;
                }
                case DEC_CR:
                        if (c == '\n') {
                                i++;
                                emit_eol(d, true);
                                continue;
                        }
                        if (d->reject) {
                                *used = i;
                                return DEC_BARE_CR;
                        }
                        emit(d, "\r", 1);
                        d->st = DEC_MID;
                        continue;
                }
        }
        *used = n;
        return DEC_MORE;
}

/* smtpd_dec_finish - end of BDAT content */
enum smtpd_dec_result smtpd_dec_finish(struct smtpd_decoder *d)
{
        if (d->st == DEC_CR || d->st == DEC_DOT_CR) {
                if (d->reject)
                        return DEC_BARE_CR;
                emit(d, "\r", 1);
        }
        if (!d->last_lf)
                emit(d, "\r\n", 2);
        d->st = DEC_BOL;
        return DEC_END;
}

/* SPDX-License-Identifier: MIT */
/*
 * dns_int.h - internals of the dns module shared by its files and its unit
 * tests and fuzz target: the answer parser, which turns the rdata items
 * libunbound hands over (data[]/len[], uncompressed wire format) into
 * struct dns_rr.  It never reads outside the given lengths.
 */
#ifndef POSTERN_DNS_INT_H
#define POSTERN_DNS_INT_H

#include "dns/dns.h"

/* The longest name in presentation form we produce: 255 wire bytes, each
 * byte at most "\DDD". */
#define DNS_NAME_WIRE_MAX 255

/* dns_name_decode - the uncompressed wire name at the start of data (len
 * bytes) as text, without the trailing dot ("" for the root); bytes other
 * than letters, digits, '-', '_' and '*' are written as \DDD.  *used gets
 * the wire length.  Returns 0, or -1 with *err (static) on a truncated
 * name, a compression pointer, a reserved label type, a label over 63 or
 * a name over 255 bytes. */
int dns_name_decode(const unsigned char *data, size_t len, size_t *used,
                    char **out, const char **err);

/* dns_rr_parse - one rdata item of type (DNS_T_*) into rr (zeroed first);
 * ttl is copied.  Returns 0, or -1 with *err (static) when the rdata is
 * malformed for its type (then rr owns nothing). */
int dns_rr_parse(int type, const unsigned char *data, size_t len, uint32_t ttl,
                 struct dns_rr *rr, const char **err);

/* dns_rr_clear - release what rr owns. */
void dns_rr_clear(struct dns_rr *rr);

/* dns_answer_fill - parse the NULL-terminated data[] (len[i] bytes each)
 * into a->rr / a->n (a must have none yet).  Returns 0, or -1 with *err
 * (static) on the first malformed item: then a has no records. */
int dns_answer_fill(struct dns_answer *a, int type, char *const *data,
                    const int *len, uint32_t ttl, const char **err);

#endif

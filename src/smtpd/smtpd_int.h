/* SPDX-License-Identifier: MIT */
/*
 * smtpd_int.h - internals of the SMTP server engine shared by its files
 * and by its tests and fuzz targets.  Not for other modules.
 */
#ifndef POSTERN_SMTPD_INT_H
#define POSTERN_SMTPD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "smtpd/smtpd.h"

/* Options of the MAIL/RCPT parameter parser. */
struct smtpd_parse_opts {
        bool dsn;             /* DSN announced (not discarded) */
        bool smtputf8_enable; /* SMTPUTF8 offered */
        bool smtputf8;        /* RCPT: the MAIL command declared SMTPUTF8 */
        size_t size_limit;    /* message_size_limit, 0 = none */
        bool strict_rfc821;   /* strict_rfc821_envelopes: <> required */
        bool auth;            /* AUTH is enabled: MAIL may carry AUTH= */
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

/* smtpd_dnsbl_filter_match - the A record addr ("127.0.0.2") of a DNSBL
 * against the filter of reject_rbl_client DOMAIN=FILTER: four octets,
 * each "n", "[n..m]" or "[n;m;...]".  1 matches, 0 not (also when addr
 * is no IPv4 address), -1 malformed filter (smtpd_check.c). */
int smtpd_dnsbl_filter_match(const char *filter, const char *addr);

/* smtpd_connect_start - a non-blocking stream socket connecting to target
 * ("inet:host:port", host a name, an address or "[v6]", or a UNIX socket
 * path): the socket, with *pending set while the connect is in progress
 * (wait for writability, then read SO_ERROR), or -1 with errno
 * (smtpd_connect.c). */
int smtpd_connect_start(const char *target, bool *pending);
/* smtpd_connect_result - once a pending connect's socket is writable: 0
 * when it connected, or -1 with errno (smtpd_connect.c). */
int smtpd_connect_result(int fd);
/* smtpd_conn_send - send out from *off on (advancing it) until all is
 * sent or the socket is full: 0, or -1 with errno. */
int smtpd_conn_send(int fd, const struct strbuf *out, size_t *off);
/* smtpd_conn_recv - append what the socket has to in, stopping when in
 * holds max bytes: 0 (nothing more for now, or in is full), or -1 with
 * errno, 0 for the end of the stream. */
int smtpd_conn_recv(int fd, struct strbuf *in, size_t max);

/* ---- Dovecot SASL client (smtpd_sasl.c) ---- */

/* Properties of a mechanism, from Dovecot's MECH lines. */
#define SASL_MECH_ANONYMOUS (1u << 0)
#define SASL_MECH_PLAINTEXT (1u << 1)
#define SASL_MECH_DICTIONARY (1u << 2)
#define SASL_MECH_ACTIVE (1u << 3)
#define SASL_MECH_FORWARD_SECRECY (1u << 4)
#define SASL_MECH_MUTUAL_AUTH (1u << 5)
#define SASL_MECH_PRIVATE (1u << 6)

enum sasl_line_kind {
        SASL_LINE_OTHER, /* SPID, CUID, COOKIE and the unknown */
        SASL_LINE_VERSION,
        SASL_LINE_MECH,
        SASL_LINE_DONE,
        SASL_LINE_OK,
        SASL_LINE_CONT,
        SASL_LINE_FAIL,
};

/* One line from the auth server; strings point into the parsed line. */
struct sasl_line {
        enum sasl_line_kind kind;
        unsigned major, minor; /* VERSION */
        const char *mech;      /* MECH */
        unsigned flags;        /* MECH: SASL_MECH_* */
        unsigned id;           /* OK, CONT, FAIL */
        const char *data;      /* CONT: the challenge (base64) */
        const char *user;      /* OK, FAIL: user=, or NULL */
        const char *reason;    /* FAIL: reason= unescaped, or NULL */
        bool temp;             /* FAIL: temp */
};

/* sasl_line_parse - one line (no newline) split in place: 0, or -1 when
 * malformed (a missing or bad ID, a VERSION without numbers). */
int sasl_line_parse(char *line, struct sasl_line *);
/* sasl_mechs_filter - the blank-separated names in mechs (properties in
 * flags, one per name) allowed by smtpd_sasl_security_options words
 * (noanonymous, noplaintext, nodictionary, noactive, mutual_auth,
 * forward_secrecy); a new string. */
char *sasl_mechs_filter(const struct strlist *mechs, const unsigned *flags,
                        const char *opts);

struct event_loop;
struct sasl_dovecot;

/* What one AUTH request carries. */
struct sasl_request {
        const char *mech;        /* "PLAIN" */
        const char *resp;        /* initial response (base64), or NULL */
        const char *local_addr;  /* lip=, may be NULL */
        const char *client_addr; /* rip= */
        bool secured;            /* the session is TLS */
};

/* The answer to a request: OK (text: user), CONTINUE (text: challenge),
 * FAIL (text: reason), TEMP (text: why). */
typedef void sasl_done_fn(void *arg, enum smtpd_auth_result, const char *text);

/* sasl_dovecot_new - a client of the auth-client socket at path for
 * service (smtpd_sasl_service), offering what the security options
 * plain_opts (sessions without TLS) and tls_opts allow; connects when
 * first needed. */
struct sasl_dovecot *sasl_dovecot_new(struct event_loop *, const char *path,
                                      const char *service,
                                      const char *plain_opts,
                                      const char *tls_opts);
/* sasl_dovecot_free - close; pending requests are dropped unanswered.
 * NULL ok. */
void sasl_dovecot_free(struct sasl_dovecot *);
/* sasl_dovecot_probe - connect to path (or inet:host:port), read the
 * handshake and close: the mechanisms in *mechs and their properties in
 * a new *flags (one per name).  0, or -1 with *err (caller frees). */
int sasl_dovecot_probe(const char *path, struct strlist *mechs,
                       unsigned **flags, char **err);
/* sasl_dovecot_mechs - the mechanisms to offer a session with or without
 * TLS, connecting (with a bounded handshake) when needed; "" when none or
 * the server cannot be reached (tried again after 5 s).  Valid until the
 * connection is lost. */
const char *sasl_dovecot_mechs(struct sasl_dovecot *, bool tls);
/* sasl_dovecot_auth - send AUTH; its ID (> 0), or 0 when it could not be
 * sent (done is never called then).  done is called from the event loop
 * for each answer: CONTINUE any number of times, then OK, FAIL or TEMP
 * once (TEMP also when the connection is lost or after 60 s of
 * silence). */
unsigned sasl_dovecot_auth(struct sasl_dovecot *, const struct sasl_request *,
                           sasl_done_fn *done, void *arg);
/* sasl_dovecot_cont - the client's next response for request id: 0, or
 * -1 when it could not be sent (the request is then forgotten). */
int sasl_dovecot_cont(struct sasl_dovecot *, unsigned id, const char *resp);
/* sasl_dovecot_cancel - forget request id; its answer is ignored. */
void sasl_dovecot_cancel(struct sasl_dovecot *, unsigned id);

/* smtpd_template - a Postfix reply template (default_rbl_reply,
 * rbl_reply_maps, smtpd_reject_footer) into out: $name, ${name},
 * ${name?text} (text when the value is not empty), ${name:text} (when it
 * is), $$; names[i] has values[i] (NULL counts as empty); an unknown name
 * stays as written (smtpd_template.c). */
void smtpd_template(const char *t, const char *const names[],
                    const char *const values[], size_t n, struct strbuf *out);

/* A word of a list setting and the bit it stands for. */
struct smtpd_word {
        const char *word;
        unsigned bit;
};
/* smtpd_words_mask - the bits of value's words (case-insensitive, blanks
 * or commas between) in *out: 0, or -1 with *err (heap: "param: unknown
 * what \"w\" (w1, w2 or w3)") for a word not among the n words
 * (smtpd_hbc.c). */
int smtpd_words_mask(const char *param, const char *what, const char *value,
                     const struct smtpd_word *words, size_t n, unsigned *out,
                     char **err);

/* propagate_unmatched_extensions words this module acts on. */
#define SMTPD_PROPAGATE_CANONICAL 1u
#define SMTPD_PROPAGATE_VIRTUAL 2u
/* smtpd_propagate_mask - propagate_unmatched_extensions as bits (the
 * words canonical, virtual, alias, forward, include, generic): 0, or -1
 * with *err for another word (smtpd_canon.c). */
int smtpd_propagate_mask(const char *value, unsigned *bits, char **err);

struct table_list;

/* smtpd_open_maps - the tables of a setting (param names it in *err):
 * 0 with *out, NULL when value is empty; -1 with *err (smtpd_check.c). */
int smtpd_open_maps(const char *param, const char *value,
                    struct table_list **out, char **err);

/* smtpd_addr_parse - a client address ("192.0.2.1", "2001:db8::1") into
 * its family (AF_INET, AF_INET6) and bytes (room for 16); an IPv4-mapped
 * IPv6 address counts as IPv4.  0, or -1 when s is no address
 * (smtpd_check.c). */
int smtpd_addr_parse(const char *s, int *family, unsigned char *addr);
/* smtpd_is_table - whether a list element is a "type:name" table rather
 * than a name or an address. */
bool smtpd_is_table(const char *s);

/* A domain list (mydestination, relay_domains ...): literal names and
 * tables (smtpd_check.c). */
struct smtpd_domlist {
        struct strlist names; /* lower case; ".d" = subdomains of d */
        struct table_list *tables;
        bool parent_matches; /* "d" also matches subdomains */
};
/* smtpd_domlist_load - the names and type:table entries of value (the
 * setting param, for errors) into d (zeroed); -1 with *err (heap) when a
 * table does not open. */
int smtpd_domlist_load(struct smtpd_domlist *d, const char *param,
                       const char *value, bool parent_matches, char **err);
/* smtpd_domlist_match - whether a lower-case domain is in d (a table
 * error is logged and counts as no). */
bool smtpd_domlist_match(struct smtpd_domlist *d, const char *dom);
/* smtpd_domlist_clear - release d's names and tables. */
void smtpd_domlist_clear(struct smtpd_domlist *d);

/* ---- virtual aliases (smtpd_virtual.c) ---- */
/* smtpd_addr_lookup - an address's entry (table_list_lookup_addr:
 * user+ext@domain, user@domain, @domain): 1 with *value (heap), 0
 * when there is none, -1 with *err (heap). */
int smtpd_addr_lookup(struct table_list *maps, const char *addr,
                      const char *delim, char **value, char **err);

/* ---- Milter client (smtpd_milter.c) ---- */

/* Replies (milter to MTA). */
#define SMFIR_ADDRCPT '+'
#define SMFIR_DELRCPT '-'
#define SMFIR_ADDRCPT_PAR '2'
#define SMFIR_ACCEPT 'a'
#define SMFIR_REPLBODY 'b'
#define SMFIR_CONTINUE 'c'
#define SMFIR_DISCARD 'd'
#define SMFIR_CHGFROM 'e'
#define SMFIR_ADDHEADER 'h'
#define SMFIR_INSHEADER 'i'
#define SMFIR_CHGHEADER 'm'
#define SMFIR_OPTNEG 'O'
#define SMFIR_PROGRESS 'p'
#define SMFIR_QUARANTINE 'q'
#define SMFIR_REJECT 'r'
#define SMFIR_SKIP 's'
#define SMFIR_TEMPFAIL 't'
#define SMFIR_REPLYCODE 'y'

/* One packet from a milter, parsed; pointers into the packet's data. */
struct milter_reply {
        char cmd;                            /* SMFIR_* */
        uint32_t version, actions, protocol; /* SMFIR_OPTNEG */
        uint32_t index;                      /* INSHEADER, CHGHEADER */
        const char *name, *value;            /* header edits */
        const char *text; /* REPLYCODE, QUARANTINE, addresses, REPLBODY */
        size_t len;       /* REPLBODY */
};
/* milter_reply_parse - the data of packet cmd: 0, or -1 when it is
 * malformed or unknown (a reply code that is not 4XX or 5XX, a header
 * name that is empty or has a colon, a string without its NUL). */
int milter_reply_parse(char cmd, const char *data, size_t len,
                       struct milter_reply *);

/* milter_probe - connect to the milter and negotiate options, blocking
 * (postern check), within limit_ms: 0, or -1 with *why (heap). */
int milter_probe(const struct milter_spec *, long limit_ms, char **why);
/* milter_result_add - a modification packet (a parsed SMFIR_ADDHEADER,
 * INSHEADER, CHGHEADER, REPLBODY, ADDRCPT, ADDRCPT_PAR, DELRCPT, CHGFROM or
 * QUARANTINE) into r; leadspc: the milter's header values keep their
 * leading space (SMFIP_HDR_LEADSPC).  Other packets are ignored. */
void milter_result_add(struct milter_result *r, const struct milter_reply *,
                       bool leadspc);
/* milter_count_headers - the number of headers text starts with. */
size_t milter_count_headers(const char *text, size_t len);
/* ---- policy service client (smtpd_policy.c) ---- */

struct policy_client;

/* The answer to a policy request: the action ("DUNNO", "REJECT text"),
 * or NULL when the service failed (unreachable, timeout, bad reply). */
typedef void policy_done_fn(void *arg, const char *action);

/* policy_reply_parse - the action= of one reply (its lines without the
 * final empty line), split in place: 0 with *action, -1 when malformed or
 * without an action. */
int policy_reply_parse(char *text, const char **action);
/* policy_client_new - a client of "inet:host:port" or "unix:path"
 * (relative to queue_dir), each request bounded by timeout_s; connects
 * when first asked. */
struct policy_client *policy_client_new(struct event_loop *,
                                        const char *service,
                                        const char *queue_dir, long timeout_s);
/* policy_client_free - close; pending requests are dropped. NULL ok. */
void policy_client_free(struct policy_client *);
/* policy_ask - queue a request (lines "name=value\n"; the empty line is
 * added).  done runs later from the loop, once.  The request's ID, or 0
 * when the service cannot be reached (done is not called then). */
unsigned policy_ask(struct policy_client *, const char *request,
                    policy_done_fn *done, void *arg);
/* policy_cancel - done will not be called for request id. */
void policy_cancel(struct policy_client *, unsigned id);

/* smtpd_reverse_name - the octets of an address (IPv6: its nibbles)
 * reversed, then domain ("2.0.0.127.in-addr.arpa" for domain
 * "in-addr.arpa", a DNSBL name for a DNSBL domain); NULL when addr is no
 * address.  Caller frees. */
char *smtpd_reverse_name(const char *addr, const char *domain);
/* smtpd_valid_hostname - letters, digits, hyphens, underscores and dots,
 * no empty label, or an address literal ("[192.0.2.1]"). */
bool smtpd_valid_hostname(const char *);

/* smtpd_peer_lookup - name the client at addr as Postfix does: its PTR
 * record, whose name must resolve back to addr (else the name is
 * "unknown", the reverse name the PTR's).  Asks dns, so it answers
 * SMTPD_DNS_PENDING until dns knows all it needs; call it again then.
 * When done (SMTPD_DNS_FOUND) *p is filled, with the warning Postfix
 * logs (for the caller to log) when the name was not believed. */
enum smtpd_dns_state smtpd_peer_lookup(const char *addr, smtpd_dns_fn dns,
                                       void *arg, struct smtpd_peer *p);
/* smtpd_peer_unknown - both names "unknown" (PERM): no lookup made. */
void smtpd_peer_unknown(struct smtpd_peer *);
/* smtpd_peer_clear - free the names; NULL names ok. */
void smtpd_peer_clear(struct smtpd_peer *);
/* smtpd_peer_copy - *to (cleared first) becomes a copy of *from. */
void smtpd_peer_copy(struct smtpd_peer *to, const struct smtpd_peer *from);

/* The Received: headers of a message's header section, counted as it
 * streams in (hopcount_limit). */
struct smtpd_hops {
        unsigned count;        /* Received: headers so far */
        unsigned char state;   /* where in a line the scanner is */
        unsigned char matched; /* bytes of "received:" matched */
};
/* smtpd_hops_init - ready for a new message. */
void smtpd_hops_init(struct smtpd_hops *);
/* smtpd_hops_feed - n more bytes of the message (its content as the
 * client sent it, dot-stuffing undone); any split of the input gives the
 * same count. */
void smtpd_hops_feed(struct smtpd_hops *, const char *p, size_t n);

#endif

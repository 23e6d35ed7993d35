/* SPDX-License-Identifier: MIT */
/*
 * smtp - the SMTP client: routing to a next hop, the per-destination TLS
 * policy, and one delivery attempt of one message to a batch of its
 * recipients, asynchronously on the caller's event loop.
 *
 * The delivery agent logs each recipient's outcome in Postfix's shape:
 *   QUEUEID: to=<rcpt>, relay=host[addr]:port, delay=1.2,
 *     delays=0.1/0/0.5/0.6, dsn=2.0.0, status=sent (250 2.0.0 Ok ...)
 * and the TLS "... TLS connection established to ..." lines.
 */
#ifndef POSTERN_SMTP_H
#define POSTERN_SMTP_H

#include <stdbool.h>
#include <stddef.h>

#include "base/base.h"

struct conf;
struct event_loop;
struct dns_resolver;
struct queue_file;

/* One recipient of a delivery attempt: filled in by the caller, the
 * outcome by smtp. */
enum smtp_rcpt_status {
        SMTP_RCPT_PENDING, /* not decided (set by the caller) */
        SMTP_RCPT_SENT,    /* accepted by the next hop */
        SMTP_RCPT_DEFER,   /* temporary failure: retry later */
        SMTP_RCPT_BOUNCE,  /* permanent failure: return to sender */
};

struct smtp_rcpt {
        size_t index; /* recipient number in the queue file */
        enum smtp_rcpt_status status;
        char dsn[16];       /* "2.0.0", "4.4.1", "5.1.1" */
        struct strbuf text; /* the reply or the reason, for logs and
                               DSNs: "host mx[1.2.3.4] said: 550 ..." */
};

/* One delivery attempt. */
struct smtp_job {
        struct queue_file *qf;  /* open; envelope and body read from it */
        const char *nexthop;    /* "example.org" (MX lookup), "[host]",
                                   "[host]:port", "host:port"; LMTP:
                                   "unix:path", "inet:host:port"... */
        const char *policy_key; /* the TLS policy lookup key: the recipient
                                   domain, or the nexthop as written (LMTP
                                   NULL: the path, or host:port) */
        struct smtp_rcpt *rcpt; /* the batch, all to this nexthop */
        size_t nrcpt;
};

struct smtp_client;

/* smtp_client_new - what every delivery of this process shares: TLS
 * client context, policy tables, DNS, the connection and TLS session
 * caches.  Returns 0, or -1 with *err (caller frees) naming the parameter
 * or file at fault (smtp_tls_security_level, smtp_tls_policy_maps).  A
 * TLS context that cannot be built (bad key file) is only a warning, as
 * in Postfix: mail that needs TLS then defers.  conf, the loop and the
 * resolver (NULL: bracketed next hops only, via getaddrinfo) must outlive
 * the client. */
int smtp_client_new(struct event_loop *, const struct conf *,
                    struct dns_resolver *, struct smtp_client **out,
                    char **err);
/* smtp_client_new_lmtp - the same client speaking LMTP (RFC 2033) for
 * lmtp: transports: LHLO, one end-of-data reply per accepted recipient,
 * next hops in smtp_lmtp_nexthop_parse's forms (unix-domain sockets too),
 * and every setting from the lmtp_* twin of the smtp_* parameter
 * (lmtp_lhlo_name for smtp_helo_name...).  Its lines are logged as
 * postern/lmtp.  Errors as smtp_client_new, naming lmtp_* parameters. */
int smtp_client_new_lmtp(struct event_loop *, const struct conf *,
                         struct dns_resolver *, struct smtp_client **out,
                         char **err);
/* smtp_client_new_as - smtp_client_new (lmtp false) or
 * smtp_client_new_lmtp (true) for a master.cf transport with a
 * configuration of its own: its lines are logged as log_ident
 * ("postfix/amavis/smtp", copied) when not NULL, else as postern/smtp or
 * postern/lmtp. */
int smtp_client_new_as(struct event_loop *, const struct conf *,
                       struct dns_resolver *, bool lmtp, const char *log_ident,
                       struct smtp_client **out, char **err);
/* smtp_client_free - closes cached connections (QUIT, not waiting for
 * the reply) and cancels running attempts without calling their done.
 * May be called from within a done callback.  NULL ok. */
void smtp_client_free(struct smtp_client *);

/* smtp_deliver - start one attempt; done(arg, job) runs on the loop when
 * every recipient of the job has a status (never synchronously from
 * within smtp_deliver).  The job and everything it points to must live
 * until done.  Only PENDING recipients are tried; rcpt[i].text must be
 * initialized (strbuf_init) and is replaced.  policy_key NULL means the
 * nexthop.  The body is read from its start (queue_file_rewind_body).
 * Returns 0, or -1 when it could not start (no callback). */
int smtp_deliver(struct smtp_client *, struct smtp_job *,
                 void (*done)(void *arg, struct smtp_job *), void *arg);

/*
 * Reply parser (smtp_reply.c), exposed for the fuzz target and tools.
 * Feed one line at a time (without CR LF); a reply is complete when a
 * line "NNN " or "NNN" (no continuation) arrives with the same code as
 * the first line.
 */
struct smtp_reply {
        int code;           /* 100..599 once the first line is seen */
        char dsn[16];       /* enhanced status "4.7.1" of the first line, or
                               "" when the server sent none */
        struct strbuf text; /* the whole reply, lines joined by '\n', codes
                               included (as Postfix keeps it) */
        size_t nlines;
        bool done;
};

/* smtp_reply_init - an empty reply. */
void smtp_reply_init(struct smtp_reply *);
/* smtp_reply_clear - release the text; the reply may be reused. */
void smtp_reply_clear(struct smtp_reply *);
/* smtp_reply_line - add one line (len bytes, no CR LF; NULs are garbage).
 * Returns 0 (r->done tells whether the reply is complete), or -1 with
 * *errstr (static) for garbage: no 3-digit code in 2xx..5xx, a code that
 * changes inside a multiline reply, a bad separator, an over-long reply.
 * After done or -1, call smtp_reply_clear before the next reply. */
int smtp_reply_line(struct smtp_reply *, const char *line, size_t len,
                    const char **errstr);
/* smtp_reply_oneline - the reply text with line breaks as spaces and
 * control bytes as '?', as Postfix logs it; appends to out. */
void smtp_reply_oneline(const struct smtp_reply *, struct strbuf *out);

/* EHLO features (SMTP_FEATURE_*), parsed from a complete 250 reply. */
#define SMTP_FEATURE_ESMTP 0x001
#define SMTP_FEATURE_PIPELINING 0x002
#define SMTP_FEATURE_STARTTLS 0x004
#define SMTP_FEATURE_8BITMIME 0x008
#define SMTP_FEATURE_SIZE 0x010
#define SMTP_FEATURE_DSN 0x020
#define SMTP_FEATURE_SMTPUTF8 0x040
#define SMTP_FEATURE_ENHANCEDSTATUSCODES 0x080
#define SMTP_FEATURE_CHUNKING 0x100
#define SMTP_FEATURE_AUTH_PLAIN 0x200 /* AUTH with the PLAIN mechanism */
#define SMTP_FEATURE_AUTH_LOGIN 0x400 /* AUTH with the LOGIN mechanism */

struct conf;
/* smtp_sasl_mechanism - SMTP_FEATURE_AUTH_PLAIN or _LOGIN to use with a
 * server offering features, or 0 when smtp_sasl_security_options (or
 * smtp_sasl_tls_security_options inside TLS: tls) and
 * smtp_sasl_mechanism_filter leave none ("noplaintext" forbids both); also
 * for postern check. */
unsigned smtp_sasl_mechanism(const struct conf *, unsigned features, bool tls);

/* smtp_ehlo_features - the SMTP_FEATURE_* bits of an EHLO reply; *size
 * (may be NULL) gets the SIZE limit (0 = none given). */
unsigned smtp_ehlo_features(const struct smtp_reply *,
                            unsigned long long *size);

/*
 * TLS policy (smtp_policy.c).  The levels in Postfix's order, weakest
 * first; SMTP_TLS_LEVELS generates the enum and the names.
 */
#define SMTP_TLS_LEVELS(X)                                                     \
        X(NONE, "none")                                                        \
        X(MAY, "may")                                                          \
        X(ENCRYPT, "encrypt")                                                  \
        X(DANE, "dane")                                                        \
        X(DANE_ONLY, "dane-only")                                              \
        X(FINGERPRINT, "fingerprint")                                          \
        X(VERIFY, "verify")                                                    \
        X(SECURE, "secure")

#define SMTP_TLS_LEVEL_ENUM(e, s) SMTP_TLS_##e,
enum smtp_tls_level { SMTP_TLS_LEVELS(SMTP_TLS_LEVEL_ENUM) SMTP_TLS_NLEVELS };
#undef SMTP_TLS_LEVEL_ENUM

/* smtp_tls_level_name - "none" ... "secure" (static). */
const char *smtp_tls_level_name(enum smtp_tls_level);
/* smtp_tls_level_parse - a level by name (case-insensitive); 0, or -1. */
int smtp_tls_level_parse(const char *, enum smtp_tls_level *);

/* The effective policy of one destination.  Strings are heap-owned by the
 * policy (smtp_tls_policy_clear frees them); NULL means "the global
 * default". */
struct smtp_tls_policy {
        enum smtp_tls_level level;
        char *match;      /* verify/secure: ':'-separated names;
                             fingerprint: '|'-separated digests */
        char *protocols;  /* protocols= */
        char *ciphers;    /* ciphers= */
        char *exclude;    /* exclude= */
        char *servername; /* servername= */
        char *tafile;     /* tafile=: trust anchors (verify, secure) */
};

/* smtp_tls_policy_parse - a policy table value ("secure match=a:b
 * ciphers=high") or a bare level.  Repeated match= attributes accumulate,
 * as in Postfix.  Returns 0, or -1 with *err (caller frees) naming the bad
 * level or attribute; pol is then cleared. */
int smtp_tls_policy_parse(const char *value, struct smtp_tls_policy *pol,
                          char **err);
/* smtp_tls_policy_clear - free the strings (the struct stays usable). */
void smtp_tls_policy_clear(struct smtp_tls_policy *);
/* smtp_tls_policy_key - a canonical text of the policy, for cache keys;
 * appends to out. */
void smtp_tls_policy_key(const struct smtp_tls_policy *, struct strbuf *out);

/*
 * Next hops (smtp_route.c).
 */
struct smtp_nexthop {
        char *host;    /* without brackets and port; LMTP unix: the path */
        unsigned port; /* 25 when not given (LMTP: lmtp_tcp_port); 0 for a
                          unix: path */
        bool no_mx;    /* written in [brackets], or LMTP: no MX lookup */
        char *path;    /* LMTP unix:path as written (relative to
                          queue_directory unless absolute), else NULL */
};

/* smtp_nexthop_parse - "[host]:port", "[host]", "host:port", "host".
 * Returns 0, or -1 with *errstr (static) for an empty host, a bad port or
 * unbalanced brackets; on success free with smtp_nexthop_clear. */
int smtp_nexthop_parse(const char *, struct smtp_nexthop *,
                       const char **errstr);
/* smtp_lmtp_nexthop_parse - an LMTP destination as Postfix's lmtp(8)
 * takes it: "unix:path", or "inet:" followed by (or, without a prefix,
 * just) "host", "host:port", "[host]" or "[host]:port", the port being
 * port when not given.  No form means an MX lookup.  Returns 0, or -1
 * with *errstr (static); on success free with smtp_nexthop_clear. */
int smtp_lmtp_nexthop_parse(const char *, unsigned port, struct smtp_nexthop *,
                            const char **errstr);
/* smtp_lmtp_socket_path - where an LMTP unix: next hop's socket is: its
 * path, under queue_directory unless absolute (Postfix's lmtp runs there,
 * so private/dovecot-lmtp means $queue_directory/private/dovecot-lmtp).
 * Caller frees. */
char *smtp_lmtp_socket_path(const struct conf *, const struct smtp_nexthop *);
/* smtp_nexthop_clear - NULL-safe release of the strings. */
void smtp_nexthop_clear(struct smtp_nexthop *);

/* smtp_host_is_literal - whether a host name is a numeric IPv4 or IPv6
 * address ("ipv6:" prefix allowed): used as is, never looked up. */
bool smtp_host_is_literal(const char *host);
/* smtp_family_wanted - whether inet_protocols lets the client use an
 * address family (AF_INET, AF_INET6). */
bool smtp_family_wanted(const struct conf *, int family);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * smtpd - the SMTP server protocol engine: one state machine per session,
 * with no I/O of its own.
 *
 * The embedding layer (sockets, TLS, queue) feeds the bytes it reads to
 * smtpd_session_input(), writes what smtpd_session_output() returns, and
 * then asks smtpd_session_action() what to do next: read more, start the
 * TLS handshake, wait for a queue commit, or close.  Decisions and effects
 * that need the outside world (relay control, the queue) are callbacks in
 * struct smtpd_ops.  Replies to a pipelined group of commands accumulate in
 * one output buffer, so the embedder writes them with one write.
 *
 * Any split of the input byte stream gives the same replies and the same
 * queued messages, with two deliberate exceptions that exist only to detect
 * clients that do not wait for replies: smtpd_forbid_unauth_pipelining and
 * plaintext pipelined after STARTTLS.
 *
 * Reply texts and log lines are Postfix's (3.7/3.9) for the same
 * situations; docs/smtpd.md lists them.  Everything here runs on the
 * session's event loop thread; nothing blocks.
 */
#ifndef POSTERN_SMTPD_H
#define POSTERN_SMTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base/base.h"

/* smtpd_forbid_bare_newline.  "yes" is Postfix's alias for normalize. */
enum smtpd_bare_newline {
        SMTPD_BARE_NEWLINE_NO,        /* treated as normalize, see docs */
        SMTPD_BARE_NEWLINE_NORMALIZE, /* bare LF ends a line, never DATA */
        SMTPD_BARE_NEWLINE_REJECT,    /* bare LF or CR: reply, disconnect */
};

/* smtpd_tls_security_level as far as the protocol engine cares. */
enum smtpd_tls_level {
        SMTPD_TLS_NONE,    /* STARTTLS not offered */
        SMTPD_TLS_MAY,     /* offered */
        SMTPD_TLS_ENCRYPT, /* required before MAIL (530 5.7.0) */
};

/* What to do with plaintext pipelined after STARTTLS (CVE-2011-0411). */
enum smtpd_starttls_pipelining {
        SMTPD_STARTTLS_PIPE_CLOSE,   /* log, send the 220, then close */
        SMTPD_STARTTLS_PIPE_DISCARD, /* drop it silently (Postfix) */
};

/* Per-listener settings, filled by the embedder from main.cf/master.cf.
 * smtpd_settings_init() sets every field to its default (Postfix's,
 * except where postern is stricter, as documented).  Strings are
 * borrowed and must outlive every session that uses the settings. */
struct smtpd_settings {
        const char *myhostname;      /* "localhost" */
        const char *banner;          /* smtpd_banner text; NULL: myhostname
                                        " ESMTP postern" */
        const char *mail_name;       /* "postern" (Received: header) */
        size_t message_size_limit;   /* 10240000; 0 = no limit */
        size_t recipient_limit;      /* smtpd_recipient_limit, 1000 */
        size_t recipient_overshoot;  /* ..._overshoot_limit, 1000 */
        size_t line_length_limit;    /* 2048, command lines */
        unsigned hard_error_limit;   /* 20 */
        unsigned soft_error_limit;   /* 10 */
        unsigned error_sleep_time;   /* 1 (seconds, see smtpd_session_delay) */
        unsigned junk_command_limit; /* smtpd_junk_command_limit, 100 */
        enum smtpd_bare_newline bare_newline; /* postern: REJECT */
        int bare_newline_reject_code;         /* 550 */
        enum smtpd_tls_level tls_level;       /* NONE */
        enum smtpd_starttls_pipelining starttls_pipelining; /* CLOSE */
        bool smtputf8_enable;                               /* yes */
        bool helo_required;        /* smtpd_helo_required, no */
        bool disable_vrfy;         /* disable_vrfy_command, no */
        bool strict_rfc821;        /* strict_rfc821_envelopes, no: MAIL FROM and
                                      RCPT TO need <address> */
        bool port_logging;         /* smtpd_client_port_logging, no: clients are
                                      logged as name[addr]:port */
        const char *reject_footer; /* smtpd_reject_footer, "": appended to
                                      4XX and 5XX replies, see docs */
        bool forbid_unauth_pipelining; /* yes (Postfix 3.9) */
        bool sasl_enable;              /* smtpd_sasl_auth_enable, no: AUTH, with
                                          ops->auth_mechs and auth_step */
        bool sasl_tls_only;            /* smtpd_tls_auth_only (or encrypt): no
                                          AUTH before TLS */
        bool sasl_broken_clients;      /* broken_sasl_auth_clients: also
                                          "AUTH=PLAIN LOGIN" in EHLO */
        size_t sasl_response_limit;    /* smtpd_sasl_response_limit, 12288 */
        const char *discard_ehlo_keywords; /* list, "" */
};

/* smtpd_settings_init - fill in every default. */
void smtpd_settings_init(struct smtpd_settings *);

/* The TLS facts of a session, for logging and the Received: header.
 * Unknown fields may be NULL or 0. */
struct smtpd_tls_info {
        const char *protocol;    /* "TLSv1.3" */
        const char *cipher;      /* "TLS_AES_256_GCM_SHA384" */
        int cipher_usebits;      /* 256 */
        int cipher_algbits;      /* 256 */
        const char *kex_name;    /* "X25519", "ECDHE", "DHE" */
        const char *kex_curve;   /* "P-256" or NULL */
        int kex_bits;            /* FFDHE bits, when no curve */
        const char *srvr_sig;    /* "ECDSA", "RSA-PSS" */
        const char *srvr_curve;  /* "P-256" or NULL */
        int srvr_bits;           /* RSA bits, when no curve */
        const char *srvr_digest; /* "SHA256" */
        const char *clnt_sig;    /* client certificate signature, or NULL */
        const char *clnt_curve;
        int clnt_bits;
        const char *clnt_digest;
        bool ccert_requested; /* smtpd_tls_ask_ccert */
        bool ccert_present;
        bool ccert_trusted;
        const char *peer_cn; /* client certificate CN */
        const char *issuer_cn;
};

/* The client of one session.  Strings are copied by smtpd_session_new. */
struct smtpd_client {
        const char *name; /* verified name or "unknown" */
        const char *addr; /* "192.0.2.1", "2001:db8::1" */
        const char *port;
        bool bare_newline_excluded; /* matched ..._exclusions: normalize */
        bool auth_hidden; /* smtpd_sasl_exceptions_networks: EHLO does not
                             announce AUTH (the command still works) */
        const struct smtpd_tls_info *tls; /* non-NULL: wrappermode, TLS up */
};

/* RFC 3461 NOTIFY bits. */
#define SMTPD_NOTIFY_NEVER (1u << 0)
#define SMTPD_NOTIFY_SUCCESS (1u << 1)
#define SMTPD_NOTIFY_FAILURE (1u << 2)
#define SMTPD_NOTIFY_DELAY (1u << 3)

enum smtpd_body { SMTPD_BODY_NONE, SMTPD_BODY_7BIT, SMTPD_BODY_8BITMIME };
enum smtpd_ret { SMTPD_RET_NONE, SMTPD_RET_FULL, SMTPD_RET_HDRS };

/* One accepted recipient. */
struct smtpd_rcpt {
        char *addr;       /* internal form, no brackets */
        unsigned notify;  /* SMTPD_NOTIFY_* or 0 when absent */
        char *orcpt_type; /* "rfc822", "utf-8", or NULL when absent */
        char *orcpt;      /* xtext-decoded original recipient, or NULL */
        char *params;     /* the ESMTP parameters as sent ("" for none) */
};

/* The envelope of the current transaction. */
struct smtpd_envelope {
        char *sender;         /* "" for the null sender; NULL: no MAIL yet */
        enum smtpd_body body; /* BODY= */
        enum smtpd_ret ret;   /* RET= */
        char *envid;          /* ENVID= decoded, or NULL */
        char *auth;           /* AUTH= as sent (non-printable as '?'), or
                                 NULL (also for AUTH=<>) */
        bool smtputf8;        /* SMTPUTF8 parameter */
        char *params;         /* the ESMTP parameters as sent ("" for none) */
        size_t size;          /* SIZE= value, 0 when absent */
        struct smtpd_rcpt *rcpt;
        size_t nrcpt;
        size_t rcpt_cap;
        struct strlist prepend; /* headers a policy asked to add, written
                                   above the Received: header */
        char *filter;           /* a FILTER action's transport:nexthop,
                                   or NULL */
};

/* What the callbacks may read about the session (borrowed). */
struct smtpd_info {
        const char *name, *addr, *port;
        const char *namaddr;              /* "name[addr]" */
        const char *helo;                 /* HELO/EHLO argument, or NULL */
        const char *protocol;             /* "SMTP", "ESMTP" */
        const struct smtpd_tls_info *tls; /* NULL: plaintext */
        const struct smtpd_envelope *env;
        const char *sasl_method;   /* AUTH mechanism that succeeded, or NULL */
        const char *sasl_username; /* who authenticated, or NULL */
        unsigned transactions;     /* MAIL commands accepted so far: the
                                      current transaction's number */
};

enum smtpd_verdict {
        SMTPD_ACCEPT,
        SMTPD_REJECT,
        SMTPD_DEFER,
        SMTPD_PENDING, /* rcpt_check only: the answer comes later, by
                          smtpd_session_rcpt_done (DNS lookups) */
};

/* What the authentication server said to one step of an AUTH exchange
 * (smtpd_session_auth_done). */
enum smtpd_auth_result {
        SMTPD_AUTH_OK,       /* text: the authenticated user name */
        SMTPD_AUTH_CONTINUE, /* text: the next challenge, base64 */
        SMTPD_AUTH_FAIL,     /* text: the reason, may be empty */
        SMTPD_AUTH_TEMP,     /* text: why the server is unavailable */
};

/* Client events that the embedder may rate-limit (event_limit). */
enum smtpd_event {
        SMTPD_EVENT_MAIL,     /* a MAIL FROM: counts one */
        SMTPD_EVENT_RCPT,     /* a RCPT TO: counts one */
        SMTPD_EVENT_STARTTLS, /* only looks: may the client start TLS? */
};

/* Results of msg_end. */
enum smtpd_commit {
        SMTPD_COMMIT_OK,      /* durable; queue_id filled */
        SMTPD_COMMIT_FAIL,    /* temporary failure: 451 4.3.0 */
        SMTPD_COMMIT_PENDING, /* call smtpd_session_msg_done later */
        SMTPD_COMMIT_REFUSED, /* not queued: queue_id holds the whole
                                 4XX/5XX reply line (header checks) */
};

/* The embedder's decisions and effects.  Every callback is optional; a
 * NULL one accepts (checks) or does nothing (effects).  ctx is the
 * pointer given to smtpd_session_new. */
struct smtpd_ops {
        /* mail_check - sender restrictions.  On REJECT/DEFER put the whole
         * reply ("554 5.7.1 ...") in reply; a missing or malformed one gets
         * a generic reply of the right class. */
        enum smtpd_verdict (*mail_check)(void *ctx, const struct smtpd_info *,
                                         const char *sender,
                                         struct strbuf *reply);
        /* rcpt_check - recipient and relay restrictions; also used for
         * VRFY (vrfy true).  Same reply rules as mail_check.  For RCPT
         * (not VRFY) it may answer PENDING and decide later through
         * smtpd_session_rcpt_done; input waits meanwhile. */
        enum smtpd_verdict (*rcpt_check)(void *ctx, const struct smtpd_info *,
                                         const char *rcpt, bool vrfy,
                                         struct strbuf *reply);
        /* event_limit - client rate control (Postfix's anvil): true when
         * the client is over its limit, with the whole reply ("450 4.7.1
         * Error: too much mail from ADDR") in reply; the command is then
         * refused without a "reject:" log line (the embedder logs its
         * warning).  Asked before the command's address is parsed, as
         * Postfix does.  NULL: no limits. */
        bool (*event_limit)(void *ctx, enum smtpd_event, struct strbuf *reply);
        /* received_header - text of a Received: header (lines separated by
         * "\r\n", no final CRLF), heap-allocated; the engine frees it and
         * writes it first.  See smtpd_received_format. */
        char *(*received_header)(void *ctx, const struct smtpd_info *);
        /* msg_begin - open a queue file for info->env; 0 or -1 (the client
         * gets 451 4.3.0). */
        int (*msg_begin)(void *ctx, const struct smtpd_info *);
        /* msg_write - append content (CRLF line endings, dots unstuffed);
         * 0 or -1 (remembered: 451 4.3.0 at the end). */
        int (*msg_write)(void *ctx, const char *, size_t);
        /* msg_content - what msg_write gets from now on is the client's
         * content; before, it was the server's own headers (policy
         * PREPENDs, Received:).  NULL ok. */
        void (*msg_content)(void *ctx);
        /* msg_end - commit.  OK only once durable, with the queue ID in
         * queue_id (at most qid_size bytes with the NUL, at least 512: a
         * REFUSED reply goes there too). */
        enum smtpd_commit (*msg_end)(void *ctx, char *queue_id,
                                     size_t qid_size);
        /* msg_abort - drop the open queue file. */
        void (*msg_abort)(void *ctx);
        /* auth_mechs - the SASL mechanisms to offer now, blank-separated
         * ("PLAIN LOGIN"), for a session with or without TLS; NULL or ""
         * when there are none.  NULL callback: no AUTH. */
        const char *(*auth_mechs)(void *ctx, bool tls);
        /* auth_step - start an exchange (mech non-NULL; resp the initial
         * response or NULL) or continue it (mech NULL; resp the client's
         * base64 line).  The answer comes later, by
         * smtpd_session_auth_done.  0, or -1 when the request could not
         * be sent (the client gets 454 4.7.0). */
        int (*auth_step)(void *ctx, const struct smtpd_info *, const char *mech,
                         const char *resp);
        /* auth_abort - forget the exchange in progress (the client gave
         * up, or the session ends while the server is asked). */
        void (*auth_abort)(void *ctx);
        /* log - one Postfix-shaped line ("connect from name[addr]");
         * warnings start with "warning: ".  NULL: log_info/log_warnx. */
        void (*log)(void *ctx, const char *line);
};

/* What the embedder does after writing the pending output. */
enum smtpd_action {
        SMTPD_ACTION_READ,     /* read more and call smtpd_session_input */
        SMTPD_ACTION_STARTTLS, /* handshake, then smtpd_session_tls_done */
        SMTPD_ACTION_WAIT,     /* wait for smtpd_session_msg_done,
                                  smtpd_session_auth_done or
                                  smtpd_session_rcpt_done */
        SMTPD_ACTION_CLOSE,    /* close the connection */
};

struct smtpd_session;

/* smtpd_session_new - a session that has just connected: logs "connect
 * from", queues the 220 greeting.  settings, ops are borrowed for the
 * session's life; client strings are copied.  Never fails. */
struct smtpd_session *smtpd_session_new(const struct smtpd_settings *,
                                        const struct smtpd_client *,
                                        const struct smtpd_ops *, void *ctx);
/* smtpd_session_free - logs "disconnect from ... commands=N", aborts an
 * open message, frees everything.  NULL ok. */
void smtpd_session_free(struct smtpd_session *);

/* smtpd_session_input - consume bytes read from the client.  Bytes that
 * arrive while the action is WAIT are kept and processed after
 * smtpd_session_msg_done (the embedder should stop reading meanwhile);
 * bytes after CLOSE are ignored. */
void smtpd_session_input(struct smtpd_session *, const char *, size_t);
/* smtpd_session_output - the pending reply bytes (borrowed until the
 * next call on the session); *len 0 when nothing is pending. */
void smtpd_session_output(struct smtpd_session *, const char **, size_t *);
/* smtpd_session_consume - n bytes of the output were written. */
void smtpd_session_consume(struct smtpd_session *, size_t n);
/* smtpd_session_action - what to do once the output is written. */
enum smtpd_action smtpd_session_action(const struct smtpd_session *);
/* smtpd_session_delay - seconds to wait before writing the pending
 * output (smtpd_error_sleep_time once the soft error limit is reached);
 * the count is reset by the call. */
unsigned smtpd_session_delay(struct smtpd_session *);

/* smtpd_session_tls_done - the handshake after STARTTLS succeeded: all
 * session state is reset (RFC 3207), HELO/EHLO is required again.  info
 * is copied. */
void smtpd_session_tls_done(struct smtpd_session *,
                            const struct smtpd_tls_info *);
/* smtpd_session_msg_done - completes a PENDING msg_end: queue_id non-NULL
 * means committed, NULL means temporary failure.  Processes input that
 * was held meanwhile, which may end in another PENDING commit: check
 * smtpd_session_action() again afterwards. */
void smtpd_session_msg_done(struct smtpd_session *, const char *queue_id);
/* smtpd_session_msg_refused - completes a PENDING msg_end with reply, a
 * whole 4XX or 5XX reply line ("550 5.7.1 Command rejected"): the message
 * was not queued. */
void smtpd_session_msg_refused(struct smtpd_session *, const char *reply);
/* smtpd_session_auth_done - the answer to an auth_step: OK (235, the
 * session is authenticated as text), CONTINUE (334 text, the client's
 * next line goes to auth_step), FAIL (535 5.7.8, logged as Postfix does)
 * or TEMP (454 4.7.0).  Processes input held meanwhile; check
 * smtpd_session_action() again afterwards. */
void smtpd_session_auth_done(struct smtpd_session *, enum smtpd_auth_result,
                             const char *text);
/* smtpd_session_rcpt_done - the decision on a RCPT that rcpt_check left
 * PENDING: ACCEPT (250), or REJECT/DEFER with the whole reply (as
 * rcpt_check gives it).  Processes input held meanwhile; check
 * smtpd_session_action() again afterwards. */
void smtpd_session_rcpt_done(struct smtpd_session *, enum smtpd_verdict,
                             const char *reply);
/* smtpd_session_prepend - add a header line ("Name: value") above the
 * Received: header of the current transaction's message (a policy
 * service's PREPEND); control characters become blanks.  Ignored outside
 * a transaction. */
void smtpd_session_prepend(struct smtpd_session *, const char *header);
/* smtpd_session_filter - the content filter ("transport:nexthop") of the
 * current transaction's message, replacing an earlier one (an access
 * table's FILTER action).  Ignored outside a transaction. */
void smtpd_session_filter(struct smtpd_session *, const char *filter);
/* smtpd_session_timeout - the embedder's smtpd_timeout expired: queues
 * "421 4.4.2 host Error: timeout exceeded", logs, action becomes CLOSE. */
void smtpd_session_timeout(struct smtpd_session *);
/* smtpd_session_eof - the client went away: logs "lost connection after
 * X from ..." unless the session had already ended; action CLOSE. */
void smtpd_session_eof(struct smtpd_session *);
/* smtpd_session_info - the session facts the callbacks also see. */
const struct smtpd_info *smtpd_session_info(const struct smtpd_session *);

/* smtpd_received_format - append Postfix's Received: header shape for
 * info (helo, client, TLS details with smtpd_tls_received_header, the
 * protocol ESMTPS etc., queue_id when non-NULL, "for <rcpt>" with one
 * recipient, "(Authenticated sender: user)" when info->sasl_username is
 * set, ESMTPA when info->sasl_method is) dated when.  Lines are separated
 * by "\r\n", no final CRLF. */
void smtpd_received_format(struct strbuf *, const struct smtpd_info *,
                           const char *myhostname, const char *mail_name,
                           const char *queue_id, time_t when);

/* smtpd_xtext_decode - RFC 3461 xtext to text, appended to out; -1 on a
 * malformed or non-printable result. */
int smtpd_xtext_decode(const char *, struct strbuf *out);

/* ---- the server around the engine (smtpd_server.c, smtpd_check.c) ---- */

struct conf;

/* One listening socket and the configuration of its master.cf service. */
struct smtpd_listen {
        int fd;                  /* bound, listening, non-blocking */
        const struct conf *conf; /* main.cf plus the service's -o */
        const char *service;     /* master.cf service name, for logs */
};

struct smtpd_server;

/* smtpd_sasl_socket - the path of Dovecot's auth-client socket that
 * smtpd_sasl_path names (relative to queue_directory unless absolute) in
 * *path (caller frees), NULL when smtpd_sasl_auth_enable is no.  -1 with
 * *err (caller frees) when the settings cannot work: smtpd_sasl_type not
 * dovecot, an empty or inet: path. */
int smtpd_sasl_socket(const struct conf *, char **path, char **err);
/* smtpd_sasl_probe - ask Dovecot (as smtpd_sasl_socket finds it) for its
 * mechanisms and filter them as EHLO would: *plain for sessions without
 * TLS, *tls with it (new strings, "" when none; both NULL when AUTH is
 * off).  0, or -1 with *err (caller frees) when the settings are wrong
 * or Dovecot does not answer. */
int smtpd_sasl_probe(const struct conf *, char **plain, char **tls, char **err);
/* Blind copies of queued mail (always_bcc, sender_bcc_maps,
 * recipient_bcc_maps; smtpd_bcc.c). */
struct smtpd_bcc;
struct queue_env;
/* smtpd_bcc_new - c's BCC settings, their tables opened; *out NULL when
 * none is set.  -1 with *err (heap) naming the table that does not open. */
int smtpd_bcc_new(const struct conf *, struct smtpd_bcc **out, char **err);
/* smtpd_bcc_free - release (NULL ok). */
void smtpd_bcc_free(struct smtpd_bcc *);
/* smtpd_bcc_add - add the copies for env's sender (the address, then
 * @domain) and each of its recipients, and always_bcc, each with
 * NOTIFY=NEVER and none that already is a recipient.  0, or -1 with *err
 * (heap) on a table error: the message must not be queued without them. */
int smtpd_bcc_add(struct smtpd_bcc *, struct queue_env *env, char **err);
/* smtpd_bcc_copy - one blind copy for addr (surrounding <> and blanks
 * dropped) with NOTIFY=NEVER, unless it already is a recipient. */
void smtpd_bcc_copy(struct queue_env *env, const char *addr);

/* ---- canonical address mapping and masquerading (smtpd_canon.c):
 * Postfix's canonical_maps, sender_canonical_maps,
 * recipient_canonical_maps and masquerade_domains, applied as its cleanup
 * does to mail from smtpd and to local submissions ---- */

/* The address classes of canonical_classes, masquerade_classes &c. */
#define SMTPD_CANON_ENV_SENDER (1u << 0)
#define SMTPD_CANON_ENV_RCPT (1u << 1)
#define SMTPD_CANON_HDR_SENDER (1u << 2)
#define SMTPD_CANON_HDR_RCPT (1u << 3)
#define SMTPD_CANON_HEADERS (SMTPD_CANON_HDR_SENDER | SMTPD_CANON_HDR_RCPT)

struct smtpd_canon;
/* smtpd_canon_new - c's canonical maps with their classes,
 * masquerade_domains, masquerade_exceptions, masquerade_classes,
 * propagate_unmatched_extensions, local_header_rewrite_clients and
 * remote_header_rewrite_domain; tables opened, this host's addresses
 * (inet_interfaces, proxy_interfaces) listed.  *out NULL when no map and
 * no masquerade domain is set.  -1 with *err (heap) naming the parameter
 * that is wrong or whose table does not open. */
int smtpd_canon_new(const struct conf *, struct smtpd_canon **out, char **err);
/* smtpd_canon_free - release (NULL ok). */
void smtpd_canon_free(struct smtpd_canon *);
/* smtpd_canon_classes - the SMTPD_CANON_* classes a map or masquerading
 * applies to; 0 for NULL. */
unsigned smtpd_canon_classes(const struct smtpd_canon *);
/* smtpd_canon_addr - addr of class cls (one SMTPD_CANON_* bit) through
 * the sender or the recipient maps, canonical_maps and masquerading, as
 * the classes say: 1 with *out (heap) when it changed, 0 when not, -1
 * with *err (heap) on a table error or maps that loop (the message must
 * not be queued: 451, as Postfix). */
int smtpd_canon_addr(struct smtpd_canon *, unsigned cls, const char *addr,
                     char **out, char **err);
/* smtpd_canon_envelope - with sender env's sender (not the null
 * sender), and its recipients from index first on, rewritten (ENV
 * classes); a rewritten recipient without ORCPT gets the address the
 * client gave as ORCPT, one that duplicates another recipient goes.  0,
 * or -1 with *err (heap). */
int smtpd_canon_envelope(struct smtpd_canon *, struct queue_env *env,
                         bool sender, size_t first, char **err);
/* smtpd_canon_header_domain - the domain that completes addresses in the
 * headers of a message from a local client (local_header_rewrite_clients,
 * and local submissions: myorigin) or a remote one
 * (remote_header_rewrite_domain), or NULL when its headers stay as they
 * are (no header classes, or a remote client and no such domain).
 * Borrowed. */
const char *smtpd_canon_header_domain(const struct smtpd_canon *, bool local);
/* smtpd_canon_header - one header ("Name: value\r\n" with its continuation
 * lines): when it is a sender header (From, Sender, Reply-To, Errors-To,
 * Resent-From, Resent-Sender, Return-Path, Return-Receipt-To,
 * Mail-Followup-To, Disposition-Notification-To) or a recipient header
 * (To, Cc, Bcc, Resent-To, Resent-Cc, Resent-Bcc, Resent-Reply-To,
 * Apparently-To), each address completed with domain when it has none
 * and rewritten (HDR classes), every other byte kept.  1 with the new
 * header appended to out, 0 when nothing changed (out untouched), -1
 * with *err (heap) as smtpd_canon_addr. */
int smtpd_canon_header(struct smtpd_canon *, const char *domain,
                       const char *text, size_t len, struct strbuf *out,
                       char **err);

/* What local_header_rewrite_clients asks of an SMTP client. */
struct smtpd_canon_client {
        const char *addr;   /* "192.0.2.1" */
        bool mynetworks;    /* permit_mynetworks */
        bool sasl;          /* permit_sasl_authenticated */
        bool ccert_listed;  /* permit_tls_clientcerts */
        bool ccert_trusted; /* permit_tls_all_clientcerts */
};
/* smtpd_canon_local_client - whether local_header_rewrite_clients counts
 * the client as local (permit_inet_interfaces: its address is one of
 * this host's; check_address_map or a bare type:table: the table lists
 * its address; a table error is logged and counts as no). */
bool smtpd_canon_local_client(struct smtpd_canon *,
                              const struct smtpd_canon_client *);

struct smtpd_virtual;

/* The address mappings of queued mail (receive_override_options
 * no_address_mappings leaves them all out): canonical mapping and
 * masquerading, automatic BCC, virtual aliases. */
struct smtpd_mappings {
        struct smtpd_canon *canon;    /* or NULL */
        struct smtpd_bcc *bcc;        /* or NULL */
        struct smtpd_virtual *valias; /* or NULL */
};
/* smtpd_mappings_open - c's, less what receive_override_options leaves
 * out; -1 with *err (heap) naming the setting. */
int smtpd_mappings_open(const struct conf *, struct smtpd_mappings *,
                        char **err);
/* smtpd_mappings_close - release; reusable. */
void smtpd_mappings_close(struct smtpd_mappings *);
/* smtpd_mappings_apply - Postfix's cleanup order on env: canonical
 * mapping and masquerading, the blind copies (bcc: more of them from the
 * header checks, NULL ok) rewritten the same way, then virtual aliases.
 * 0, or -1 with *err (heap): the message must not be queued. */
int smtpd_mappings_apply(const struct smtpd_mappings *,
                         const struct strlist *bcc, struct queue_env *env,
                         char **err);

/* ---- header and body checks (smtpd_hbc.c): Postfix's header_checks,
 * mime_header_checks, nested_header_checks and body_checks, for smtpd and
 * for the queue manager (local submissions) ---- */

/* receive_override_options: what not to do as mail is received. */
#define SMTPD_NO_HEADER_BODY_CHECKS (1u << 0)
#define SMTPD_NO_MILTERS (1u << 1)
#define SMTPD_NO_ADDRESS_MAPPINGS                                              \
        (1u << 2) /* canonical, masquerading,                                  \
                     virtual aliases, auto BCC */
#define SMTPD_NO_UNKNOWN_RCPT_CHECKS (1u << 3)
/* smtpd_receive_overrides - c's receive_override_options as SMTPD_NO_*
 * bits in *flags: 0, or -1 with *err (heap) for an unknown word. */
int smtpd_receive_overrides(const struct conf *, unsigned *flags, char **err);

/* The actions of a check's table result (header_checks(5)); OK is
 * DUNNO. */
enum smtpd_hbc_action {
        SMTPD_HBC_DUNNO,
        SMTPD_HBC_REJECT,
        SMTPD_HBC_WARN,
        SMTPD_HBC_INFO,
        SMTPD_HBC_FILTER, /* the message's content filter */
        SMTPD_HBC_PASS,
        SMTPD_HBC_DISCARD,
        SMTPD_HBC_HOLD,
        SMTPD_HBC_PREPEND,
        SMTPD_HBC_REPLACE,
        SMTPD_HBC_REDIRECT,
        SMTPD_HBC_BCC,
        SMTPD_HBC_STRIP,
        SMTPD_HBC_IGNORE,
        SMTPD_HBC_UNKNOWN,
};
/* smtpd_hbc_action - the action of a table result ("REJECT text"), the
 * word case-insensitive; *text is what follows it, white space skipped
 * (borrowed from value). */
enum smtpd_hbc_action smtpd_hbc_action(const char *value, const char **text);

struct smtpd_hbc;        /* the checks of a configuration */
struct smtpd_hbc_stream; /* one message going through them */

/* smtpd_hbc_new - c's checks (none without checks) with their limits
 * (header_size_limit, line_length_limit, body_checks_size_limit,
 * disable_mime_input_processing, mime_nesting_limit,
 * mime_boundary_length_limit), the tables opened; *out NULL when none of
 * the four is set, unless always (headers are to be rewritten: the
 * streams then do that alone).  -1 with *err (heap) naming the parameter
 * whose table does not open or whose limit is negative. */
int smtpd_hbc_new(const struct conf *, bool checks, bool always,
                  struct smtpd_hbc **out, char **err);
/* smtpd_hbc_checks - whether h (NULL ok) has any check. */
bool smtpd_hbc_checks(const struct smtpd_hbc *h);
/* smtpd_hbc_free - release (NULL ok). */
void smtpd_hbc_free(struct smtpd_hbc *);

/* What the log lines say about a message (Postfix's cleanup: "QID:
 * reject: header TEXT from CLIENT; from=<> to=<> proto=P helo=<H>:
 * why"); NULL leaves a field out.  Copied. */
struct smtpd_hbc_origin {
        const char *queue_id;
        const char *client; /* "name[addr]", or "local" */
        const char *sender;
        const char *rcpt; /* the first recipient */
        const char *proto;
        const char *helo;
        /* the message's own headers go through smtpd_canon_header with
         * canon_domain, after the checks (NULL: they stay as they are) */
        struct smtpd_canon *canon;
        const char *canon_domain;
};

enum smtpd_hbc_verdict {
        SMTPD_HBC_QUEUE,  /* queue it (maybe on hold) */
        SMTPD_HBC_REFUSE, /* reply with reply, queue nothing */
        SMTPD_HBC_DROP,   /* DISCARD: say it was queued, queue nothing */
};

/* What the checks decided about a message. */
struct smtpd_hbc_result {
        enum smtpd_hbc_verdict verdict;
        char *reply;        /* REFUSE: the whole reply, "550 5.7.1 ..." */
        bool hold;          /* HOLD: into hold/ */
        char *redirect;     /* REDIRECT: the only recipient, or NULL */
        struct strlist bcc; /* BCC: more recipients */
        char *filter;       /* FILTER: the last one's transport:nexthop,
                               or NULL */
};
/* smtpd_hbc_result_clear - release; an empty QUEUE result (reusable). */
void smtpd_hbc_result_clear(struct smtpd_hbc_result *);

/* Where the checked content goes: 0, or -1 (remembered). */
typedef int smtpd_hbc_write_fn(void *arg, const char *, size_t);

/* smtpd_hbc_start - a message through h (and the origin's canon,
 * borrowed for the stream's life); what passes the checks, with their
 * edits, goes to out as soon as each header or line is complete. */
struct smtpd_hbc_stream *smtpd_hbc_start(struct smtpd_hbc *h,
                                         const struct smtpd_hbc_origin *,
                                         smtpd_hbc_write_fn *out, void *arg);
/* smtpd_hbc_write - n more bytes of content (CRLF line endings): 0, or
 * -1 once out failed or a table could not be read. */
int smtpd_hbc_write(struct smtpd_hbc_stream *, const char *, size_t n);
/* smtpd_hbc_cut - what was written so far ends with complete headers:
 * the MTA's own (Received:), which the client's content cannot continue
 * (a client's first line that starts with white space is body). */
void smtpd_hbc_cut(struct smtpd_hbc_stream *);
/* smtpd_hbc_finish - the end of the content: the rest goes to out, the
 * decision into *res (cleared first; the caller clears it).  0, or -1
 * when out failed or a table could not be read (logged; the message must
 * not be queued: 451 4.3.0, as Postfix). */
int smtpd_hbc_finish(struct smtpd_hbc_stream *, struct smtpd_hbc_result *res);
/* smtpd_hbc_stream_free - release (NULL ok). */
void smtpd_hbc_stream_free(struct smtpd_hbc_stream *);

struct milter_spec;
/* smtpd_local_intake - what local submissions go through in the queue
 * manager: non_smtpd_milters (n specs in *milters) and the header and
 * body checks (*hbc, NULL when none), less what main.cf's
 * receive_override_options leaves out.  -1 with *err (heap). */
int smtpd_local_intake(const struct conf *, struct milter_spec **milters,
                       size_t *n, struct smtpd_hbc **hbc, char **err);
/* smtpd_hbc_add_bcc - res's BCC recipients into env (NOTIFY=NEVER, none
 * that already is a recipient); before virtual aliases, as Postfix. */
void smtpd_hbc_add_bcc(const struct smtpd_hbc_result *res,
                       struct queue_env *env);
/* smtpd_hbc_redirect - with a REDIRECT, env's recipients are replaced by
 * that one address (after aliases and BCC: they would all have gone
 * there, as in Postfix's queue manager). */
void smtpd_hbc_redirect(const struct smtpd_hbc_result *res,
                        struct queue_env *env);

/* ---- milters (smtpd_milter.c): for smtpd, and for the queue manager
 * (non_smtpd_milters) ---- */

struct event_loop;

/* What happens when a milter cannot be reached or breaks the protocol. */
enum milter_action {
        MILTER_TEMPFAIL,
        MILTER_ACCEPT,
        MILTER_REJECT,
        MILTER_QUARANTINE
};

/* milter_action_name - the setting's word for a ("tempfail", ...). */
const char *milter_action_name(enum milter_action a);

/* One milter of smtpd_milters. */
struct milter_spec {
        char *name;   /* as written: "inet:127.0.0.1:8891" */
        char *target; /* for smtpd_connect_start */
        enum milter_action default_action;
        long connect_ms, command_ms, content_ms;
        unsigned version; /* milter_protocol, 2..6 */
};

/* milter_settings_init - the defaults of every milter from main.cf's
 * milter_default_action, milter_*_timeout (seconds) and milter_protocol;
 * -1 with *err (heap) naming the bad parameter. */
int milter_settings_init(struct milter_spec *defaults,
                         const char *default_action, long long connect_s,
                         long long command_s, long long content_s,
                         long long protocol, char **err);
/* milter_specs_parse - smtpd_milters: each milter an endpoint
 * ("inet:host:port", "unix:path", a relative path under queue_dir) or
 * "{ endpoint, name = value, ... }" with default_action, connect_timeout,
 * command_timeout, content_timeout or protocol; the rest from defaults.
 * -1 with *err (heap). */
int milter_specs_parse(const char *list, const struct milter_spec *defaults,
                       const char *queue_dir, struct milter_spec **out,
                       size_t *n, char **err);
/* milter_specs_free - release n specs. */
void milter_specs_free(struct milter_spec *, size_t n);

/* What the milters decided. */
enum milter_verdict {
        MILTER_V_QUEUE,   /* queue, with the edits */
        MILTER_V_HOLD,    /* queue on hold (quarantine), with the edits */
        MILTER_V_DISCARD, /* accept and drop */
        MILTER_V_REJECT,  /* reply (5XX) */
        MILTER_V_TEMPFAIL /* reply (4XX) */
};

/* A header edit. */
struct milter_edit {
        enum { MILTER_EDIT_ADD, MILTER_EDIT_INS, MILTER_EDIT_CHG } kind;
        uint32_t index; /* INS: position (0 = first); CHG: n-th of name */
        char *name;
        char *text; /* "Name: value\r\n" as it goes in; NULL: delete */
};

struct milter_result {
        enum milter_verdict verdict;
        const char *stage;  /* where a milter decided: "RCPT", ... */
        const char *rcpt;   /* RCPT: the recipient it refused */
        const char *milter; /* which one (spec name) */
        char *reply;        /* REJECT / TEMPFAIL: the whole reply line */
        char *hold_reason;
        struct milter_edit *edits; /* in the order they apply */
        size_t nedits;
        bool body_replaced;
        struct strbuf body;
        char *sender; /* new envelope sender, or NULL */
        struct strlist add_rcpt, del_rcpt;
};
/* milter_result_free - release (NULL ok). */
void milter_result_free(struct milter_result *);
/* milter_apply - content with the result's header and body edits,
 * appended to out.  content (CRLF line endings) is the whole message: the
 * server's own headers first, hidden of them (not shown to the milters,
 * so a change of the n-th header of a name skips them), then the client's
 * headers and body.  An insert at index 0 goes to the very top, above the
 * server's Received:, as in Sendmail and Postfix. */
void milter_apply(const struct milter_result *, const char *content, size_t len,
                  size_t hidden, struct strbuf *out);
/* milter_addr - an address a milter gave, without its <> (heap). */
char *milter_addr(const char *);

/* What the milters are told about one message. */
struct milter_msg {
        const char *myhostname, *daemon_name, *daemon_addr, *version;
        const char *client_name, *client_addr;
        const char *client_ptr; /* the PTR name, or "unknown" (NULL: none) */
        unsigned client_port;
        int family; /* 4 or 6 */
        const char *helo;
        const char *tls_version, *cipher, *cert_subject, *cert_issuer;
        int cipher_bits;
        const char *queue_id;
        const char *auth_type, *auth_authen, *auth_author;
        const char *sender;      /* without <> */
        const char *mail_params; /* ESMTP parameters of MAIL, as sent */
        struct strlist rcpt;
        struct strlist rcpt_params; /* of each RCPT, as sent */
        const char *content;        /* the client's headers and body */
        size_t len;
};

struct milter_run;
/* The decision; the callee owns r. */
typedef void milter_done_fn(void *arg, struct milter_result *r);
/* milter_run_start - send msg (valid until done runs or the run is
 * freed) through the n milters in turn; done gets the result later, from
 * the loop.  Free the run with milter_run_free after done, or to stop it
 * (done is then not called). */
struct milter_run *milter_run_start(struct event_loop *,
                                    const struct milter_spec *, size_t n,
                                    const struct milter_msg *,
                                    milter_done_fn *done, void *arg);
/* milter_run_free - stop or release (NULL ok). */
void milter_run_free(struct milter_run *);

/* smtpd_milters_parse - a milter list (smtpd_milters, non_smtpd_milters)
 * with c's milter_* defaults: n specs in *v (free with milter_specs_free),
 * none for an empty list; -1 with *err (heap). */
int smtpd_milters_parse(const struct conf *, const char *list,
                        struct milter_spec **v, size_t *n, char **err);

/* Virtual aliases (virtual_alias_maps; smtpd_virtual.c). */
struct smtpd_virtual;
/* smtpd_virtual_new - c's virtual_alias_maps opened; *out NULL when it is
 * empty.  -1 with *err (heap) when a table does not open. */
int smtpd_virtual_new(const struct conf *, struct smtpd_virtual **out,
                      char **err);
/* smtpd_virtual_free - release (NULL ok). */
void smtpd_virtual_free(struct smtpd_virtual *);
/* smtpd_virtual_expand - replace env's recipients by their aliases,
 * recursively (each final address once, with the NOTIFY of the recipient
 * it came from and, for an alias, its address as ORCPT).  0, or -1 with
 * *err (heap) on a table error or a limit: the message must not be
 * queued. */
int smtpd_virtual_expand(struct smtpd_virtual *, struct queue_env *env,
                         char **err);

/* smtpd_milters_probe - a milter list of c (smtpd_milters,
 * non_smtpd_milters): -1 with *err (heap) when the
 * setting is malformed; else 0, with "milter: why (...)" in *down for each
 * milter that does not answer an option negotiation within 5 s (blocking:
 * for postern check). */
int smtpd_milters_probe(const struct conf *, const char *list,
                        struct strlist *down, char **err);

/* smtpd_server_new - in the supervisor, before forking and before
 * dropping privileges: TLS contexts (keys readable only by root), relay
 * control tables, the queue, session ticket keys shared by every worker,
 * and the connection counters of `workers` worker slots.
 * The listeners and confs are borrowed for the server's life.  Returns 0,
 * or -1 with *err naming the service and the problem (caller frees). */
int smtpd_server_new(const struct smtpd_listen *, size_t n, int workers,
                     struct smtpd_server **out, char **err);
/* smtpd_server_run - a worker's event loop in worker slot `slot` (0 ..
 * workers-1; a restarted worker reuses its predecessor's slot and resets
 * its connection counts): accept, run sessions, commit messages in
 * groups.  SIGTERM ends it at once (messages not yet acknowledged are
 * dropped); SIGUSR1 stops accepting and ends it when the last session
 * ends.  The caller forks with SIGTERM and SIGUSR1 blocked; they are
 * unblocked once handled.  Returns 0, or -1 when the loop cannot start. */
int smtpd_server_run(struct smtpd_server *, int slot);
/* smtpd_server_free - NULL ok. */
void smtpd_server_free(struct smtpd_server *);

struct smtpd_checks; /* compiled access and relay control of a listener */

/* What the embedder knows of one DNS name and type, for the DNS-based
 * restrictions (smtpd_check_client.dns). */
enum smtpd_dns_state {
        SMTPD_DNS_FOUND,    /* records: values */
        SMTPD_DNS_NONE,     /* NXDOMAIN or no records of the type */
        SMTPD_DNS_TEMPFAIL, /* SERVFAIL, timeout, no resolver */
        SMTPD_DNS_PENDING,  /* a query was started: ask again later */
};

/* smtpd_dns_fn - the embedder's DNS as the restrictions see it: the
 * answer for name and type as far as it knows it, or PENDING after it
 * asked (the caller is called again when the answer is in). */
typedef enum smtpd_dns_state (*smtpd_dns_fn)(void *arg, const char *name,
                                             int type,
                                             const char *const **values,
                                             size_t *n);

/* How a client name was found, as Postfix's client_name_status. */
enum smtpd_peer_status {
        SMTPD_PEER_OK,   /* found (and, for the client name, verified) */
        SMTPD_PEER_TEMP, /* a DNS failure that may pass */
        SMTPD_PEER_PERM, /* no name, or it does not lead back */
};

/* The client's names (smtpd_peername_lookup). */
struct smtpd_peer {
        char *name;    /* verified host name, or "unknown" */
        char *reverse; /* the PTR record's name, or "unknown" */
        enum smtpd_peer_status name_status, reverse_status;
        char *warning; /* Postfix's warning about the names, or NULL */
};

/* What access and relay control know of the client and the transaction. */
struct smtpd_check_client {
        const char *addr;
        const struct smtpd_peer *peer; /* its names, or NULL: unknown */
        const char *namaddr;           /* "name[addr]" for replies, or NULL */
        const char *helo;              /* HELO/EHLO argument, or NULL */
        const char *sender;            /* MAIL FROM ("" null sender), or NULL */
        bool mynetworks;               /* smtpd_checks_mynetworks(addr) */
        bool ccert_present;            /* a client certificate was presented */
        bool ccert_trusted;            /* and verified against the CAs */
        const char *cert_fprint;       /* smtpd_tls_fingerprint_digest */
        const char *pkey_fprint;
        const char *sasl_username; /* after AUTH, or NULL */
        const char *sasl_method;
        bool tls; /* the session is encrypted */
        /* dns - the answer for name and type (DNS_T_A, _MX (a null MX is
         * the value ""), _AAAA, _TXT) as far as the embedder knows it; on
         * PENDING smtpd_checks_rcpt answers PENDING and is called again
         * when the query is answered.  NULL: the DNS-based restrictions
         * are skipped (VRFY). */
        smtpd_dns_fn dns;
        /* policy - the answer of check_policy_service SERVICE for this
         * RCPT ("action" without "action="), as dns: FOUND with *action,
         * TEMPFAIL, or PENDING after the request was sent.  NULL: the
         * policy restrictions are skipped (VRFY). */
        enum smtpd_dns_state (*policy)(void *arg, const char *service,
                                       const char *rcpt, const char **action);
        /* action - what the restrictions asked besides the verdict, once
         * the verdict is final: kind "prepend" (text: a header for the
         * message), "content_filter" (text: the transport:nexthop of a
         * FILTER action, for the message), "warn", "info" or "filter"
         * (text for the log).  NULL: dropped. */
        void (*action)(void *arg, const char *kind, const char *text);
        void *dns_arg; /* for dns, policy and action */
};

/* smtpd_checks_new - compile mynetworks, mydestination, relay_domains,
 * virtual_mailbox_domains, relay_clientcerts and the restriction lists
 * (client, HELO, sender, relay, recipient; data: only what needs no
 * check at DATA).  An unknown restriction, a bad network, a table that
 * cannot be opened, or lists without reject_unauth_destination /
 * defer_unauth_destination / reject / defer (an open relay) are errors:
 * -1 with *err (caller frees). */
int smtpd_checks_new(const struct conf *, struct smtpd_checks **out,
                     char **err);
/* smtpd_checks_free - NULL ok. */
void smtpd_checks_free(struct smtpd_checks *);
/* smtpd_checks_mynetworks - whether a client address is in mynetworks. */
bool smtpd_checks_mynetworks(struct smtpd_checks *, const char *addr);
/* smtpd_checks_bare_newline_excluded - whether a client address is in
 * smtpd_forbid_bare_newline_exclusions (default $mynetworks). */
bool smtpd_checks_bare_newline_excluded(struct smtpd_checks *,
                                        const char *addr);
/* smtpd_checks_limit_exempt - whether a client address is in
 * smtpd_client_event_limit_exceptions (default $mynetworks): no
 * connection count or rate limits for it. */
bool smtpd_checks_limit_exempt(struct smtpd_checks *, const char *addr);
/* smtpd_checks_sasl_hidden - whether a client address is in
 * smtpd_sasl_exceptions_networks (EHLO does not announce AUTH to it). */
bool smtpd_checks_sasl_hidden(struct smtpd_checks *, const char *addr);
/* smtpd_checks_ccert_listed - whether the client's certificate (its
 * fingerprint or public-key fingerprint) is in relay_clientcerts
 * (permit_tls_clientcerts). */
bool smtpd_checks_ccert_listed(struct smtpd_checks *,
                               const struct smtpd_check_client *);
/* smtpd_checks_rcpt - smtpd_client_restrictions, smtpd_helo_restrictions,
 * smtpd_sender_restrictions, smtpd_relay_restrictions and
 * smtpd_recipient_restrictions for one recipient (Postfix's
 * smtpd_delay_reject = yes); on REJECT or DEFER the whole reply ("554
 * 5.7.1 <rcpt>: Relay access denied") is in reply. */
enum smtpd_verdict smtpd_checks_rcpt(struct smtpd_checks *,
                                     const struct smtpd_check_client *,
                                     const char *rcpt, struct strbuf *reply);

#endif

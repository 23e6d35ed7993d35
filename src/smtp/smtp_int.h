/* SPDX-License-Identifier: MIT */
/*
 * smtp_int.h - internals of the SMTP client shared by its files: the
 * client, a connection (reusable, cached while idle) and one delivery
 * attempt with its state machine.
 */
#ifndef POSTERN_SMTP_INT_H
#define POSTERN_SMTP_INT_H

#include "smtp/smtp.h"

struct tls_ctx;
struct tls_conn;
struct table_list;
struct event_io;
struct event_timer;
struct dns_answer;
struct tls_tlsa_rr;
struct smtp_dane_state_s;

/* The states of one attempt; the list generates the enum and names. */
#define SMTP_STATES(X)                                                         \
        X(START)                                                               \
        X(RESOLVE)                                                             \
        X(CONNECT)                                                             \
        X(GREETING)                                                            \
        X(EHLO)                                                                \
        X(HELO)                                                                \
        X(STARTTLS)                                                            \
        X(TLS_HANDSHAKE)                                                       \
        X(AUTH)                                                                \
        X(RSET)                                                                \
        X(TRANSACTION)                                                         \
        X(BODY)                                                                \
        X(DOT)                                                                 \
        X(DONE)

#define SMTP_STATE_ENUM(e) SMTP_ST_##e,
enum smtp_state { SMTP_STATES(SMTP_STATE_ENUM) SMTP_NSTATES };
#undef SMTP_STATE_ENUM

/* smtp_sasl_base64 - RFC 4648 base64 of len bytes (caller frees). */
char *smtp_sasl_base64(const void *data, size_t len);
/* smtp_sasl_split - "user:password" (caller frees both); -1 without ':' or
 * with an empty user. */
int smtp_sasl_split(const char *value, char **user, char **pass);
/* smtp_sasl_plain - the AUTH PLAIN initial response (caller frees). */
char *smtp_sasl_plain(const char *user, const char *pass);

/* smtp_state_name - "GREETING" (static) */
const char *smtp_state_name(enum smtp_state);

/* One address to try. */
/* What DANE decided for one MX host (smtp_dane.c). */
enum smtp_dane_state {
        SMTP_DANE_UNKNOWN,  /* not looked up (level is not dane) */
        SMTP_DANE_NONE,     /* no secure TLSA records: no DANE */
        SMTP_DANE_RECORDS,  /* usable records: authenticate with them */
        SMTP_DANE_UNUSABLE, /* secure records, none usable: encrypt */
        SMTP_DANE_FAIL,     /* bogus or failed lookup: defer this host */
};

struct smtp_addr {
        char *host;       /* MX host name, or the nexthop host */
        char *addr;       /* numeric */
        bool mx_secure;   /* the MX (or its denial) was DNSSEC-secure */
        bool addr_secure; /* the A/AAAA answer was DNSSEC-secure */
        char *canonical;  /* after a secure CNAME chain, or NULL */
        /* DANE */
        enum smtp_dane_state dane;
        char *dane_base;          /* TLSA base domain used */
        struct tls_tlsa_rr *tlsa; /* usable records; data owned */
        size_t ntlsa;
        char *dane_why; /* FAIL: the reason */
};

/* A TLS session kept for resumption. */
struct smtp_tls_sess {
        char *key;
        unsigned char *data;
        size_t len;
        double expires;
        struct smtp_tls_sess *next;
};

struct smtp_attempt;

/* A connection to one server, owned by an attempt or idle in the cache. */
struct smtp_conn {
        struct smtp_client *client;
        struct smtp_attempt *owner; /* NULL while idle or closing */
        int fd;
        struct event_io *io;
        struct tls_conn *tls;
        struct strbuf rbuf; /* received, not yet parsed */
        struct strbuf wbuf; /* to send, from wpos on */
        size_t wpos;
        bool eof;     /* the peer closed */
        bool closing; /* QUIT sent, waiting for the reply or EOF */
        char *host, *addr;
        unsigned port;
        char *namaddr; /* "host[addr]" */
        char *relay;   /* "host[addr]:port" */
        unsigned features;
        bool authenticated; /* AUTH succeeded on this connection */
        unsigned long long size_limit;
        char *reuse_key; /* nexthop and policy, for the idle cache */
        double born;
        unsigned uses;
        struct event_timer *idle_timer;
        struct smtp_conn *next; /* idle cache list */
};

struct smtp_client {
        struct event_loop *loop;
        const struct conf *conf; /* LMTP: lmtp_conf, the caller's
                                    otherwise */
        bool lmtp;               /* speaks LMTP (smtp_client_new_lmtp) */
        const char *service;     /* "smtp" or "lmtp": the log name and the
                                    prefix of parameter names in messages */
        char *log_ident;         /* what log_service is given: service, or
                                    a transport's "name/smtp" */
        unsigned lmtp_port;      /* lmtp_tcp_port */
        struct conf *lmtp_conf;  /* LMTP: a copy of the caller's conf with
                                    the lmtp_* values in the smtp_* fields */
        struct dns_resolver *dns;
        struct tls_ctx *tls_ctx;       /* logs at smtp_tls_loglevel */
        struct tls_ctx *tls_ctx_quiet; /* fingerprint: smtp logs itself */
        char *tls_err;                 /* why there is no TLS context */
        struct table_list *policy_maps;
        struct table_list *sasl_maps; /* smtp_sasl_password_maps, or NULL */
        enum smtp_tls_level level;    /* the global default */
        struct smtp_conn *idle;       /* cached, ready for reuse */
        struct smtp_conn *closing;    /* QUIT sent, waiting for the end */
        struct smtp_tls_sess *sessions;
        struct smtp_attempt *attempts; /* running, for smtp_client_free */
};

/* smtp_now - wall clock time in seconds */
double smtp_now(void);

/* smtp_route_start - find the addresses of a->nh (MX, A/AAAA); calls
 * smtp_route_done(a) or smtp_route_failed(a, ...) later on the loop. */
void smtp_route_start(struct smtp_attempt *);
/* smtp_route_cancel - forget outstanding lookups of an attempt. */
void smtp_route_cancel(struct smtp_attempt *);
/* smtp_route_done - addresses are in the attempt (smtp_client.c). */
void smtp_route_done(struct smtp_attempt *);
/* smtp_route_failed - the lookup failed for every recipient. */
void smtp_route_failed(struct smtp_attempt *, const char *dsn, const char *fmt,
                       ...) PRINTFLIKE(3, 4);
/* smtp_attempt_add_addr - append an address (copies). */
void smtp_attempt_add_addr(struct smtp_attempt *, const char *host,
                           const char *addr);
/* smtp_attempt_add_addr_dnssec - the same with what DNSSEC said of the
 * MX and address lookups and the secure CNAME target (may be NULL). */
void smtp_attempt_add_addr_dnssec(struct smtp_attempt *, const char *host,
                                  const char *addr, bool mx_secure,
                                  bool addr_secure, const char *canonical);
/* smtp_attempt_addrs - the attempt's addresses (for smtp_dane.c). */
struct smtp_addr *smtp_attempt_addrs(struct smtp_attempt *, size_t *n);
/* smtp_attempt_level - the attempt's policy level. */
enum smtp_tls_level smtp_attempt_policy_level(struct smtp_attempt *);
/* smtp_dane_start - TLSA lookups for every MX host of a dane-level
 * attempt, then smtp_dane_done(a). */
void smtp_dane_start(struct smtp_attempt *);
/* smtp_dane_done - continue the attempt once DANE is decided. */
void smtp_dane_done(struct smtp_attempt *);
/* smtp_dane_cancel - the attempt goes away during the lookups. */
void smtp_dane_cancel(struct smtp_attempt *);
/* smtp_dane_slot - the attempt's DANE lookup state. */
struct smtp_dane_state_s **smtp_attempt_dane_slot(struct smtp_attempt *);
/* smtp_addr_clear_dane - free an address's DANE data. */
void smtp_addr_clear_dane(struct smtp_addr *);
/* smtp_attempt_route_slot - where an attempt keeps its routing state. */
struct smtp_route_state **smtp_attempt_route_slot(struct smtp_attempt *);
/* smtp_attempt_nexthop - the parsed next hop of an attempt. */
const struct smtp_nexthop *smtp_attempt_nexthop(struct smtp_attempt *);
/* smtp_attempt_client - the client of an attempt. */
struct smtp_client *smtp_attempt_client(struct smtp_attempt *);

/* smtp_policy_lookup - the effective TLS policy for key (job->policy_key):
 * the global level, or smtp_tls_policy_maps' entry.  Returns 0, or -1 with
 * *err (caller frees) for a table error or an invalid entry. */
int smtp_policy_lookup(struct smtp_client *, const char *key,
                       struct smtp_tls_policy *, char **err);
/* smtp_tls_sess_get - a cached TLS session (borrowed), or NULL. */
const struct smtp_tls_sess *smtp_tls_sess_get(struct smtp_client *,
                                              const char *key);
/* smtp_tls_sess_put - cache a session; takes data. */
void smtp_tls_sess_put(struct smtp_client *, const char *key,
                       unsigned char *data, size_t len);
/* smtp_attempt_abort - free a running attempt without calling done. */
void smtp_attempt_abort(struct smtp_attempt *);
/* smtp_conn_quit_now - best-effort QUIT without waiting, then close. */
void smtp_conn_quit_now(struct smtp_conn *);
/* smtp_conn_close - close at once and unlink from the client's lists. */
void smtp_conn_close(struct smtp_conn *);

#endif

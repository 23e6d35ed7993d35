/* SPDX-License-Identifier: MIT */
/*
 * dns - an asynchronous resolver over libunbound, driven by the caller's
 * event loop, with DNSSEC validated in-process against a trust anchor file.
 * Every answer says what happened (result) and how much it can be trusted
 * (security): the TLS policy and DANE code decide with both.  No
 * libunbound type appears here.
 */
#ifndef POSTERN_DNS_H
#define POSTERN_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_loop;

/* Query types postern asks for. */
#define DNS_T_A 1
#define DNS_T_NS 2
#define DNS_T_CNAME 5
#define DNS_T_PTR 12
#define DNS_T_MX 15
#define DNS_T_TXT 16
#define DNS_T_AAAA 28
#define DNS_T_TLSA 52

enum dns_result {
        DNS_OK,       /* records in the answer */
        DNS_NXDOMAIN, /* the name does not exist */
        DNS_NODATA,   /* the name exists, no records of the type */
        DNS_SERVFAIL, /* the resolver failed (includes bogus) */
        DNS_TIMEOUT,  /* no answer in time */
        DNS_ERROR,    /* local failure (bad name, no resolver) */
};

enum dns_security {
        DNS_SEC_INSECURE, /* no DNSSEC proof either way (or not asked) */
        DNS_SEC_SECURE,   /* validated from the trust anchor */
        DNS_SEC_BOGUS,    /* validation failed: treat as an attack */
};

/* One record.  Strings and data are owned by the answer. */
struct dns_rr {
        uint32_t ttl;
        /* MX */
        unsigned pref;
        char *host; /* MX exchange, CNAME, NS or PTR target, no trailing dot; ""
                       for the root (null MX); odd label bytes as \DDD */
        /* A / AAAA */
        char *addr; /* "192.0.2.1" / "2001:db8::1" */
        /* TLSA */
        uint8_t usage, selector, mtype;
        unsigned char *data;
        size_t len;
        /* TXT */
        char *text; /* the character-strings concatenated, no separator
                       (as Postfix does); "" for one empty string; bytes
                       outside 32..126 written as '?', so it is safe in
                       an SMTP reply or a log line */
};

struct dns_answer {
        enum dns_result result;
        enum dns_security security;
        const char *why_bogus; /* validator's reason (BOGUS only), or NULL;
                                  owned by the answer */
        char *qname;           /* as asked */
        char *canonical;       /* after CNAMEs (== qname when none), no
                                  trailing dot */
        int type;
        struct dns_rr *rr;
        size_t n;
};

/* Resolver settings: Postfix's parameters as postern maps them. */
struct dns_settings {
        const char *resolvers; /* dns_resolver_addresses: "" = the system's
                                  resolv.conf as forwarders; "host[@port]
                                  ..." forwarders; "recursive" = full
                                  recursion from the root hints */
        const char *trust_anchor_file; /* dnssec_trust_anchor_file; "" =
                                          no validation (all INSECURE) */
        bool dnssec;      /* smtp_dns_support_level = dnssec; false = no
                             validation (all INSECURE) */
        long timeout_ms;  /* per query; 0 = 30 s */
        const char *stub; /* tests: "zone@host@port" entries (comma
                             separated) passed to ub_ctx_set_stub, not
                             primed; with resolvers "" they replace
                             resolv.conf (see docs/dns.md) */
};

struct dns_resolver;

/* dns_resolver_new - a resolver whose file descriptor is watched by loop
 * (NULL loop: only dns_query_sync works).  The trust anchor file is read
 * here.  Returns 0, or -1 with *err (caller frees) naming the bad setting
 * or file. */
int dns_resolver_new(struct event_loop *, const struct dns_settings *,
                     struct dns_resolver **out, char **err);
/* dns_resolver_free - cancels outstanding queries (their callbacks are not
 * called).  May be called from inside a dns_cb.  NULL ok. */
void dns_resolver_free(struct dns_resolver *);

/* The callback of an asynchronous query; the answer is valid only during
 * the call. */
typedef void (*dns_cb)(void *arg, const struct dns_answer *);

/* dns_query - ask for name/type (one of the DNS_T_* above); cb runs later
 * on the loop, exactly once (unless the resolver is freed first).  Returns
 * 0, or -1 when the query could not even be sent (bad name or type, no
 * loop; cb is then not called). */
int dns_query(struct dns_resolver *, const char *name, int type, dns_cb cb,
              void *arg);
/* dns_query_sync - the same, blocking (for command-line tools), with the
 * same timeout (then *out says DNS_TIMEOUT).  Answers to asynchronous
 * queries that arrive meanwhile go to their callbacks from inside this
 * call.  Returns 0 with *out (free with dns_answer_free), or -1 with *err
 * (caller frees). */
int dns_query_sync(struct dns_resolver *, const char *name, int type,
                   struct dns_answer **out, char **err);
/* dns_answer_free - NULL ok. */
void dns_answer_free(struct dns_answer *);

/* dns_result_name, dns_security_name - "NXDOMAIN", "secure", ... */
const char *dns_result_name(enum dns_result);
const char *dns_security_name(enum dns_security);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * smtpd_server.c - the smtpd worker: sockets, TLS and the queue around the
 * protocol engine.
 *
 * One event loop holds every session of the process.  A session is a
 * small state machine of its own: TLS handshake (wrapper mode or after
 * STARTTLS) or SMTP; the engine decides everything about the protocol and
 * this file moves bytes.  Replies to a pipelined group leave in one write.
 * Messages are committed in groups: msg_end finishes the file and parks
 * the session; a zero-delay timer (up to COMMIT_GATHER_MS later while other
 * sessions are mid-message) then syncs every finished message of the
 * batch, renames them into the queue with one directory fsync, and only
 * then do the sessions get their "250 2.0.0 Ok: queued as ID".
 */
#include "smtpd/smtpd_int.h"
#include "conf/conf.h"
#include "dns/dns.h"
#include "event/event.h"
#include "log/log.h"
#include "queue/queue.h"
#include "table/table.h"
#include "tls/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Buckets of the connection counter shared by all workers.  A client
 * address hashes to one bucket; a rare collision only makes the limit a
 * little stricter for two clients.  Each worker slot counts in its own
 * row, which its successor zeroes: a worker that dies (kill -9) cannot
 * leave counts behind that would lock clients out. */
#define CONN_BUCKETS 65536
/* Buckets of the client event rates (anvil's connection, message,
 * recipient and new TLS session rates), shared by all workers: one 64-bit
 * word per bucket, the start of its time unit and the count in it. */
#define RATE_BUCKETS 16384
/* Bytes read per wake-up before other sessions get their turn. */
#define READ_BUDGET (64 * 1024)
/* TLS sessions idle for one to two of these give OpenSSL's record
 * buffers (about 34 KB) back; busy ones keep them */
#define TLS_IDLE_SWEEP_MS 250
/* a sweep that released this many hands the freed pages to the system */
#define IDLE_TRIM_SESSIONS 32
/* Group commit: how long a finished message may wait for the messages
 * other sessions are receiving, so that one sync covers them all.  Never
 * applied when no other session is in the middle of a message. */
#ifndef COMMIT_GATHER_MS
#define COMMIT_GATHER_MS 2
#endif
/* Pause before accepting again when out of file descriptors. */
#define ACCEPT_BACKOFF_MS 100

/* The client events whose rates are limited, as Postfix's anvil counts
 * them. */
enum rate_event {
        RATE_CONN,   /* smtpd_client_connection_rate_limit */
        RATE_MAIL,   /* smtpd_client_message_rate_limit */
        RATE_RCPT,   /* smtpd_client_recipient_rate_limit */
        RATE_NEWTLS, /* smtpd_client_new_tls_session_rate_limit */
        RATE_NEVENTS
};

/* Per-listener configuration, built once in the supervisor. */
struct lconf {
        const struct conf *conf;
        const char *service;
        int fd;
        struct smtpd_settings settings;
        struct smtpd_checks *checks;
        struct tls_ctx *tls;    /* NULL: no TLS on this listener */
        struct table_list *sni; /* tls_server_sni_maps, or NULL */
        bool wrapper;
        bool ask_ccert;
        bool req_ccert; /* smtpd_tls_req_ccert: a trusted certificate */
        bool received_tls;
        long timeout_ms;
        long tls_timeout_ms;
        int conn_limit;
        /* smtpd_client_*_rate_limit per anvil_rate_time_unit; 0 = none */
        unsigned rate_limit[RATE_NEVENTS];
        unsigned rate_unit;  /* seconds */
        struct event_io *io; /* in the worker */
        /* SASL (smtpd_sasl_auth_enable): Dovecot's socket, in the worker */
        char *sasl_path;
        bool sasl_header; /* smtpd_sasl_authenticated_header */
        /* smtpd_milters */
        struct milter_spec *milters;
        size_t nmilters;
        /* canonical maps, masquerading, BCC, virtual aliases */
        struct smtpd_mappings map;
        struct smtpd_hbc *hbc; /* header and body checks (or only header
                                  rewriting), or NULL */
        struct sasl_dovecot *sasl;
};

struct conn;

/* One DNS answer a session's restrictions asked for. */
struct dns_memo {
        char *name;
        int type;
        enum smtpd_dns_state state;
        unsigned ttl; /* seconds the answer holds (0: a failure) */
        struct strlist values;
        struct dns_memo *next;
};

/* One query in flight; conn is NULL once its connection closed. */
struct dns_token {
        struct smtpd_server *srv;
        struct conn *conn;
        char *name;
        int type;
        struct dns_token *next, *prev;
};

/* One policy service of the worker. */
struct policy_conn {
        char *service;
        struct policy_client *pc;
        struct policy_conn *next;
};

/* The memo's type for a policy service's answer (name: the request's
 * key). */
#define MEMO_POLICY (-1)

/* Answers kept per session (RBL, then its TXT, sender and recipient
 * domains: a few per RCPT). */
#define DNS_MEMO_MAX 32

/* The clients' names a worker remembers (direct-mapped by address), for
 * as long as their DNS records hold, at most PEER_TTL_MAX seconds; that
 * a name does not exist, for PEER_TTL_NEG (libunbound caches no longer
 * than the zone says either).  Busy clients (a content filter, a
 * submission host, a big sender's pool) are then named without a round
 * trip to the resolver thread for each connection. */
#define PEER_CACHE_N 256
#define PEER_TTL_MAX 3600
#define PEER_TTL_NEG 60

struct peer_cached {
        char addr[INET6_ADDRSTRLEN];
        struct smtpd_peer peer;
        time_t expires; /* CLOCK_MONOTONIC seconds; 0: empty */
};
/* Answers one RCPT may wait for, one after another, before it is
 * deferred (a list with more lookups than the memo keeps would cycle). */
#define RECHECK_MAX 24

struct smtpd_server {
        struct lconf *lc;
        size_t nlc;
        struct queue *queue;
        struct tls_ticket_keys *keys;
        _Atomic unsigned *conn_count; /* shared, nrows * CONN_BUCKETS */
        size_t nrows;                 /* worker slots */
        _Atomic unsigned *row;        /* this worker's counts */
        _Atomic uint64_t *rates;      /* shared, RATE_NEVENTS * RATE_BUCKETS */
        /* worker state */
        struct event_loop *loop;
        struct conn *conns;
        size_t nconns;
        bool draining;
        struct queue_msg **pending_msg;
        struct conn **pending_conn;
        size_t npending, cappending;
        struct event_timer *commit_timer;
        bool commit_armed;
        bool commit_gathering; /* waiting COMMIT_GATHER_MS for more */
        size_t nreceiving;     /* sessions with a message being received */
        struct event_timer *sig_term, *sig_usr1;
        struct event_timer *idle_timer; /* TLS_IDLE_SWEEP_MS, while TLS
                                           sessions exist */
        /* the DNS-based restrictions: a resolver made when first needed,
         * and every query in flight (a closed connection's too) */
        struct dns_resolver *dns;
        bool dns_failed;
        struct peer_cached *peer_cache; /* PEER_CACHE_N, made when needed */
        struct dns_token *tokens;
        /* check_policy_service clients, one per service string */
        struct policy_conn *policies;
        bool idle_armed;
};

enum conn_phase { PHASE_HANDSHAKE, PHASE_SMTP };

struct conn {
        struct smtpd_server *srv;
        struct lconf *lc;
        int fd;
        struct event_io *io;
        struct event_timer *delay;
        struct tls_conn *tls;
        struct smtpd_session *s;
        enum conn_phase phase;
        char addr[INET6_ADDRSTRLEN];
        char port[8];
        char namaddr[256 + INET6_ADDRSTRLEN + 10]; /* name[addr]:port */
        struct smtpd_peer peer;                    /* the client's names */
        bool peer_wait; /* looking them up: no session yet */
        struct smtpd_tls_info tinfo;
        struct queue_msg *msg;
        const char *msg_id;
        bool receiving; /* counted in srv->nreceiving */
        unsigned bucket;
        bool counted, in_mynetworks;
        bool limit_exempt;   /* smtpd_client_event_limit_exceptions */
        bool connect_logged; /* by conn_new, before the TLS handshake */
        bool busy;           /* I/O since the last idle sweep */
        unsigned auth_id;    /* the SASL request in progress, or 0 */
        char *wait_rcpt;     /* the RCPT whose check waits for DNS */
        unsigned dns_inflight;
        unsigned rechecks;     /* of the waiting RCPT: bounded by RECHECK_MAX */
        struct dns_memo *memo; /* answers for this session, newest first */
        unsigned nmemo;
        bool tls_buffers; /* OpenSSL may hold record buffers */
        /* with smtpd_milters, the message is held until they decide: our
         * own headers, then the client's content */
        struct strbuf mown, mbody;
        bool mcontent;
        struct milter_run *mrun; /* the milters at work, or NULL */
        /* header and body checks: the message on its way through them,
         * then what they decided (for the milters' end) */
        struct smtpd_hbc_stream *hbcs;
        struct smtpd_hops hops; /* the client's Received: headers */
        struct smtpd_hbc_result hres;
        struct milter_msg mmsg; /* what they are told */
        char daemon_addr[INET6_ADDRSTRLEN];
        char mname[INET6_ADDRSTRLEN + 2]; /* "[addr]" */
        struct conn *next, *prev;
};

/* ---- configuration (supervisor side) ---- */

/* bare_newline - smtpd_forbid_bare_newline as the engine's enum */
static enum smtpd_bare_newline bare_newline(const char *v)
{
        if (!strcasecmp(v, "no"))
                return SMTPD_BARE_NEWLINE_NO;
        if (!strcasecmp(v, "normalize"))
                return SMTPD_BARE_NEWLINE_NORMALIZE;
        return SMTPD_BARE_NEWLINE_REJECT;
}

/* sni_preload_one - table_walk: build one result's context */
static int sni_preload_one(const char *key, const char *value, void *arg)
{
        struct tls_ctx *tc = ((void **)arg)[0];
        char **err = ((void **)arg)[1];
        const char *terr = NULL;

        if (tls_server_ctx_sni_preload(tc, value, &terr) == 0)
                return 0;
        *err = xasprintf("tls_server_sni_maps: %s: %s", key, terr);
        return -1;
}

/* sni_preload - every tls_server_sni_maps result, loaded while the key
 * files can still be read: the workers run as mail_owner.  A table that
 * cannot be listed (static:) is left to the lookups at run time. */
static int sni_preload(struct lconf *lc, const char *service, char **err)
{
        for (size_t i = 0; i < table_list_count(lc->sni); i++) {
                char *werr = NULL, *perr = NULL;
                void *arg[2] = {lc->tls, &perr};
                int rc = table_walk(table_list_get(lc->sni, i), sni_preload_one,
                                    arg, &werr);
                free(werr);
                if (rc < 0 && perr) {
                        *err = xasprintf("service %s: %s", service, perr);
                        free(perr);
                        return -1;
                }
        }
        return 0;
}

/* sni_lookup - tls_server_sni_maps: the key and chain files for a name */
static int sni_lookup(void *arg, const char *name, char **files)
{
        const char *v = NULL;
        char *err = NULL;

        switch (table_list_lookup(arg, name, &v, NULL, &err)) {
        case TABLE_FOUND:
                *files = xstrdup(v);
                return 1;
        case TABLE_ERROR:
                log_warnx("tls_server_sni_maps lookup of %s: %s", name, err);
                free(err);
                return -1;
        default:
                return 0;
        }
}

/* lconf_init - one listener's settings, checks and TLS context */
/* smtpd_sasl_socket - where Dovecot's auth-client socket is */
int smtpd_sasl_socket(const struct conf *c, char **path, char **err)
{
        *path = NULL;
        if (!c->smtpd_sasl_auth_enable)
                return 0;
        if (strcasecmp(c->smtpd_sasl_type, "dovecot") != 0) {
                *err = xasprintf("smtpd_sasl_type = %s is not supported: "
                                 "postern speaks to Dovecot's auth server "
                                 "(smtpd_sasl_type = dovecot, "
                                 "smtpd_sasl_path = private/auth)",
                                 c->smtpd_sasl_type);
                return -1;
        }
        bool inet = str_has_prefix(c->smtpd_sasl_path, "inet:");
        if (*c->smtpd_sasl_path == 0 ||
            (inet && !strchr(c->smtpd_sasl_path + 5, ':'))) {
                *err = xasprintf("smtpd_sasl_path = %s: give the path of "
                                 "Dovecot's auth-client socket, or "
                                 "inet:host:port",
                                 c->smtpd_sasl_path);
                return -1;
        }
        *path =
            c->smtpd_sasl_path[0] == '/' || inet
                ? xstrdup(c->smtpd_sasl_path)
                : xasprintf("%s/%s", c->queue_directory, c->smtpd_sasl_path);
        return 0;
}

/* smtpd_sasl_probe - what EHLO would offer, asked of Dovecot now */
int smtpd_sasl_probe(const struct conf *c, char **plain, char **tls, char **err)
{
        char *path = NULL;
        struct strlist mechs = {0};
        unsigned *flags = NULL;

        *plain = *tls = NULL;
        if (smtpd_sasl_socket(c, &path, err) < 0)
                return -1;
        if (path == NULL)
                return 0;
        if (sasl_dovecot_probe(path, &mechs, &flags, err) < 0) {
                free(path);
                return -1;
        }
        *plain =
            sasl_mechs_filter(&mechs, flags, c->smtpd_sasl_security_options);
        *tls = sasl_mechs_filter(&mechs, flags,
                                 c->smtpd_sasl_tls_security_options);
        strlist_clear(&mechs);
        free(flags);
        free(path);
        return 0;
}

/* sasl_init - smtpd_sasl_*: only Dovecot's protocol is spoken */
static int sasl_init(struct lconf *lc, const struct smtpd_listen *l, char **err)
{
        const struct conf *c = l->conf;
        char *e = NULL;

        lc->settings.sasl_enable = c->smtpd_sasl_auth_enable;
        lc->settings.sasl_tls_only = c->smtpd_tls_auth_only;
        lc->settings.sasl_broken_clients = c->broken_sasl_auth_clients;
        lc->settings.sasl_response_limit = (size_t)c->smtpd_sasl_response_limit;
        lc->sasl_header = c->smtpd_sasl_authenticated_header;
        if (smtpd_sasl_socket(c, &lc->sasl_path, &e) < 0) {
                *err = xasprintf("service %s: %s", l->service, e);
                free(e);
                return -1;
        }
        return 0;
}

/* smtpd_milters_parse - a milter list with the milter_* defaults */
int smtpd_milters_parse(const struct conf *c, const char *list,
                        struct milter_spec **v, size_t *n, char **err)
{
        struct milter_spec d;

        *v = NULL;
        *n = 0;
        if (*list == 0)
                return 0;
        if (milter_settings_init(
                &d, c->milter_default_action, c->milter_connect_timeout,
                c->milter_command_timeout, c->milter_content_timeout,
                c->milter_protocol, err) < 0)
                return -1;
        return milter_specs_parse(list, &d, c->queue_directory, v, n, err);
}

/* smtpd_milters_probe - check smtpd_milters and ask each milter */
int smtpd_milters_probe(const struct conf *c, const char *list,
                        struct strlist *down, char **err)
{
        struct milter_spec *v;
        size_t n;

        if (smtpd_milters_parse(c, list, &v, &n, err) < 0)
                return -1;
        for (size_t i = 0; i < n; i++) {
                char *why = NULL;
                if (milter_probe(&v[i], 5000, &why) < 0) {
                        char *line = xasprintf(
                            "%s: %s (mail gets its default_action, %s)",
                            v[i].name, why,
                            milter_action_name(v[i].default_action));
                        strlist_push(down, line);
                        free(line);
                        free(why);
                }
        }
        milter_specs_free(v, n);
        return 0;
}

/* milters_init - the listener's milters */
static int milters_init(struct lconf *lc, const struct smtpd_listen *l,
                        char **err)
{
        char *e = NULL;

        if (smtpd_milters_parse(l->conf, l->conf->smtpd_milters, &lc->milters,
                                &lc->nmilters, &e) < 0) {
                *err = xasprintf("service %s: %s", l->service, e);
                free(e);
                return -1;
        }
        return 0;
}

static int lconf_init(struct smtpd_server *srv, struct lconf *lc,
                      const struct smtpd_listen *l, char **err)
{
        const struct conf *c = l->conf;
        const char *terr = NULL;

        lc->conf = c;
        lc->service = l->service;
        lc->fd = l->fd;
        smtpd_settings_init(&lc->settings);
        lc->settings.myhostname = c->myhostname;
        lc->settings.banner = c->smtpd_banner;
        lc->settings.mail_name = c->mail_name;
        lc->settings.message_size_limit = (size_t)c->message_size_limit;
        lc->settings.recipient_limit = (size_t)c->smtpd_recipient_limit;
        lc->settings.line_length_limit = (size_t)c->line_length_limit;
        lc->settings.hard_error_limit = (unsigned)c->smtpd_hard_error_limit;
        lc->settings.soft_error_limit = (unsigned)c->smtpd_soft_error_limit;
        lc->settings.error_sleep_time = (unsigned)c->smtpd_error_sleep_time;
        lc->settings.bare_newline = bare_newline(c->smtpd_forbid_bare_newline);
        lc->settings.starttls_pipelining =
            strcmp(c->smtpd_starttls_pipelining, "discard") == 0
                ? SMTPD_STARTTLS_PIPE_DISCARD
                : SMTPD_STARTTLS_PIPE_CLOSE;
        lc->settings.smtputf8_enable = c->smtputf8_enable;
        lc->settings.helo_required = c->smtpd_helo_required;
        lc->settings.junk_command_limit = (unsigned)c->smtpd_junk_command_limit;
        lc->settings.recipient_overshoot =
            (size_t)c->smtpd_recipient_overshoot_limit;
        if (c->smtpd_forbid_bare_newline_reject_code < 400 ||
            c->smtpd_forbid_bare_newline_reject_code > 599) {
                *err = xasprintf("service %s: "
                                 "smtpd_forbid_bare_newline_reject_code = "
                                 "%lld: not a 4XX or 5XX reply code",
                                 l->service,
                                 c->smtpd_forbid_bare_newline_reject_code);
                return -1;
        }
        lc->settings.bare_newline_reject_code =
            (int)c->smtpd_forbid_bare_newline_reject_code;
        lc->settings.disable_vrfy = c->disable_vrfy_command;
        lc->settings.strict_rfc821 = c->strict_rfc821_envelopes;
        lc->settings.port_logging = c->smtpd_client_port_logging;
        lc->settings.reject_footer = c->smtpd_reject_footer;
        if (sasl_init(lc, l, err) < 0)
                return -1;
        lc->settings.forbid_unauth_pipelining =
            c->smtpd_forbid_unauth_pipelining;
        lc->settings.discard_ehlo_keywords = c->smtpd_discard_ehlo_keywords;
        lc->wrapper = c->smtpd_tls_wrappermode;
        const char *level = c->smtpd_tls_security_level;
        lc->settings.tls_level = !strcmp(level, "encrypt") ? SMTPD_TLS_ENCRYPT
                                 : !strcmp(level, "may")   ? SMTPD_TLS_MAY
                                                           : SMTPD_TLS_NONE;
        if (lc->wrapper)
                lc->settings.tls_level = SMTPD_TLS_NONE; /* TLS from byte 1 */
        lc->timeout_ms = c->smtpd_timeout * 1000;
        lc->tls_timeout_ms = c->smtpd_starttls_timeout * 1000;
        lc->conn_limit = (int)c->smtpd_client_connection_count_limit;
        lc->rate_limit[RATE_CONN] =
            (unsigned)c->smtpd_client_connection_rate_limit;
        lc->rate_limit[RATE_MAIL] =
            (unsigned)c->smtpd_client_message_rate_limit;
        lc->rate_limit[RATE_RCPT] =
            (unsigned)c->smtpd_client_recipient_rate_limit;
        lc->rate_limit[RATE_NEWTLS] =
            (unsigned)c->smtpd_client_new_tls_session_rate_limit;
        lc->rate_unit = c->anvil_rate_time_unit > 0
                            ? (unsigned)c->anvil_rate_time_unit
                            : 60;
        lc->ask_ccert = c->smtpd_tls_ask_ccert || c->smtpd_tls_req_ccert;
        lc->req_ccert = c->smtpd_tls_req_ccert;
        lc->received_tls = c->smtpd_tls_received_header;

        if (smtpd_checks_new(c, &lc->checks, err) < 0)
                return -1;
        /* receive_override_options (a master.cf -o, after a content
         * filter): what this listener leaves out */
        unsigned no = 0;
        char *be = NULL;
        if (smtpd_receive_overrides(c, &no, &be) < 0 ||
            smtpd_mappings_open(c, &lc->map, &be) < 0) {
                *err = xasprintf("service %s: %s", l->service, be);
                free(be);
                return -1;
        }
        if (!(no & SMTPD_NO_MILTERS) && milters_init(lc, l, err) < 0)
                return -1;
        /* header rewriting runs in the checks' stream, alone if need be */
        bool rewrite = smtpd_canon_classes(lc->map.canon) & SMTPD_CANON_HEADERS;
        if ((!(no & SMTPD_NO_HEADER_BODY_CHECKS) || rewrite) &&
            smtpd_hbc_new(c, !(no & SMTPD_NO_HEADER_BODY_CHECKS), rewrite,
                          &lc->hbc, &be) < 0) {
                *err = xasprintf("service %s: %s", l->service, be);
                free(be);
                return -1;
        }
        if (lc->wrapper || strcmp(level, "none") != 0) {
                struct tls_server_settings ts = {
                    .cert_file = c->smtpd_tls_cert_file,
                    .key_file = c->smtpd_tls_key_file,
                    .eccert_file = c->smtpd_tls_eccert_file,
                    .eckey_file = c->smtpd_tls_eckey_file,
                    .chain_files = c->smtpd_tls_chain_files,
                    .CAfile = c->smtpd_tls_CAfile,
                    .CApath = c->smtpd_tls_CApath,
                    .ask_ccert = c->smtpd_tls_ask_ccert,
                    .req_ccert = c->smtpd_tls_req_ccert,
                    .ccert_verifydepth = (int)c->smtpd_tls_ccert_verifydepth,
                    .mandatory = lc->wrapper || !strcmp(level, "encrypt"),
                    .protocols = c->smtpd_tls_protocols,
                    .mandatory_protocols = c->smtpd_tls_mandatory_protocols,
                    .ciphers = c->smtpd_tls_ciphers,
                    .mandatory_ciphers = c->smtpd_tls_mandatory_ciphers,
                    .exclude_ciphers = c->smtpd_tls_exclude_ciphers,
                    .mandatory_exclude_ciphers =
                        c->smtpd_tls_mandatory_exclude_ciphers,
                    .fingerprint_digest = c->smtpd_tls_fingerprint_digest,
                    .session_cache_timeout =
                        (long)c->smtpd_tls_session_cache_timeout,
                    .ticket_keys = srv->keys,
                    .loglevel = (int)c->smtpd_tls_loglevel,
                    .preempt_ciphers = c->tls_preempt_cipherlist,
                    .groups = c->tls_eecdh_auto_curves,
                    .append_default_ca = c->tls_append_default_CA,
                    .cipherlists =
                        {
                            .high = c->tls_high_cipherlist,
                            .medium = c->tls_medium_cipherlist,
                            .low = c->tls_low_cipherlist,
                            .export = c->tls_export_cipherlist,
                            .null = c->tls_null_cipherlist,
                        },
                    .ssl_options = c->tls_ssl_options,
                    .dh_param_file = c->smtpd_tls_dh1024_param_file,
                    .ticket_cipher = c->tls_session_ticket_cipher,
                };
                bool have_cert =
                    *ts.cert_file || *ts.eccert_file || *ts.chain_files;
                if (!have_cert) {
                        *err = xasprintf(
                            "service %s: smtpd_tls_security_level = %s%s "
                            "needs a certificate: set smtpd_tls_cert_file "
                            "and smtpd_tls_key_file (or "
                            "smtpd_tls_chain_files)",
                            l->service, level,
                            lc->wrapper ? " with smtpd_tls_wrappermode" : "");
                        return -1;
                }
                if (*c->tls_server_sni_maps) {
                        char *e = NULL;
                        if (table_list_open(c->tls_server_sni_maps, &lc->sni,
                                            &e) < 0) {
                                *err = xasprintf("service %s: "
                                                 "tls_server_sni_maps: %s",
                                                 l->service, e);
                                free(e);
                                return -1;
                        }
                        ts.sni_lookup = sni_lookup;
                        ts.sni_arg = lc->sni;
                }
                lc->tls = tls_server_ctx_new(&ts, &terr);
                if (lc->tls == NULL) {
                        *err = xasprintf("service %s: %s", l->service, terr);
                        return -1;
                }
                if (lc->sni && sni_preload(lc, l->service, err) < 0)
                        return -1;
        }
        return 0;
}

/* smtpd_server_new - everything that needs root, before forking */
int smtpd_server_new(const struct smtpd_listen *l, size_t n, int workers,
                     struct smtpd_server **out, char **err)
{
        struct smtpd_server *srv = xcalloc(1, sizeof(*srv));
        const char *qerr = NULL;

        *out = NULL;
        /* ticket keys rotate every smtpd_tls_session_cache_timeout and
         * are derived from one secret, so every worker agrees */
        srv->keys = tls_ticket_keys_new_rotating(
            n > 0 ? (long)l[0].conf->smtpd_tls_session_cache_timeout : 3600);
        srv->lc = xcalloc(n ? n : 1, sizeof(*srv->lc));
        srv->nlc = n;
        for (size_t i = 0; i < n; i++)
                if (lconf_init(srv, &srv->lc[i], &l[i], err) < 0)
                        goto bad;
        if (n > 0 &&
            queue_open(l[0].conf->queue_directory, &srv->queue, &qerr) < 0) {
                *err = xasprintf("queue_directory %s: %s",
                                 l[0].conf->queue_directory, qerr);
                goto bad;
        }
        srv->nrows = workers > 0 ? (size_t)workers : 1;
        srv->conn_count =
            mmap(NULL, srv->nrows * CONN_BUCKETS * sizeof(unsigned),
                 PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (srv->conn_count == MAP_FAILED) {
                srv->conn_count = NULL;
                *err = xasprintf("mmap: %s", strerror(errno));
                goto bad;
        }
        srv->rates =
            mmap(NULL, RATE_NEVENTS * RATE_BUCKETS * sizeof(uint64_t),
                 PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (srv->rates == MAP_FAILED) {
                srv->rates = NULL;
                *err = xasprintf("mmap: %s", strerror(errno));
                goto bad;
        }
        *out = srv;
        return 0;
bad:
        smtpd_server_free(srv);
        return -1;
}

/* smtpd_server_free - release (NULL ok) */
void smtpd_server_free(struct smtpd_server *srv)
{
        if (srv == NULL)
                return;
        for (size_t i = 0; i < srv->nlc; i++) {
                smtpd_checks_free(srv->lc[i].checks);
                tls_ctx_free(srv->lc[i].tls);
                table_list_close(srv->lc[i].sni);
                sasl_dovecot_free(srv->lc[i].sasl);
                free(srv->lc[i].sasl_path);
                milter_specs_free(srv->lc[i].milters, srv->lc[i].nmilters);
                smtpd_mappings_close(&srv->lc[i].map);
                smtpd_hbc_free(srv->lc[i].hbc);
        }
        free(srv->lc);
        if (srv->queue)
                queue_close(srv->queue);
        tls_ticket_keys_free(srv->keys);
        for (size_t i = 0; srv->peer_cache && i < PEER_CACHE_N; i++)
                smtpd_peer_clear(&srv->peer_cache[i].peer);
        free(srv->peer_cache);
        if (srv->conn_count)
                munmap((void *)srv->conn_count,
                       srv->nrows * CONN_BUCKETS * sizeof(unsigned));
        if (srv->rates)
                munmap((void *)srv->rates,
                       RATE_NEVENTS * RATE_BUCKETS * sizeof(uint64_t));
        free(srv);
}

/* ---- sessions (worker side) ---- */

static void conn_pump(struct conn *);
static void conn_close(struct conn *);
static void idle_sweep_arm(struct smtpd_server *);

/* conn_log - the engine's log lines */
static void conn_log(void *ctx, const char *line)
{
        struct conn *c = ctx;

        /* wrapper mode: "connect from" was logged before the handshake */
        if (c->connect_logged && strncmp(line, "connect from ", 13) == 0) {
                c->connect_logged = false;
                return;
        }
        if (strncmp(line, "warning: ", 9) == 0)
                log_warnx("%s", line + 9);
        else
                log_info("%s", line);
}

/* rate_count - anvil's rate of one event of c's client: the events
 * counted since the first one of the current time unit (a unit starts with
 * the first event after the previous unit ended).  count: this is an event
 * (counted, then the rate returned); otherwise only look. */
static unsigned rate_count(struct conn *c, enum rate_event ev, bool count)
{
        _Atomic uint64_t *slot =
            &c->srv
                 ->rates[(size_t)ev * RATE_BUCKETS + c->bucket % RATE_BUCKETS];
        struct timespec ts;
        uint64_t old = atomic_load(slot), next;
        uint32_t start, n;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        uint32_t now = (uint32_t)ts.tv_sec;
        do {
                start = (uint32_t)(old >> 32);
                n = (uint32_t)old;
                if (old == 0 || now - start >= c->lc->rate_unit) {
                        start = now;
                        n = 0;
                }
                if (!count)
                        return n;
                if (n < UINT32_MAX)
                        n++;
                next = (uint64_t)start << 32 | n;
        } while (!atomic_compare_exchange_weak(slot, &old, next));
        return n;
}

/* rate_over - c's rate of ev when this listener limits it and the client
 * is over the limit (the event counted when count), else 0 */
static unsigned rate_over(struct conn *c, enum rate_event ev, bool count)
{
        unsigned limit = c->lc->rate_limit[ev], r;

        if (limit == 0 || c->limit_exempt)
                return 0;
        r = rate_count(c, ev, count);
        return r > limit ? r : 0;
}

/* conn_event_limit - the engine asks before MAIL, RCPT and STARTTLS; the
 * replies and warnings are Postfix's */
static bool conn_event_limit(void *ctx, enum smtpd_event ev,
                             struct strbuf *reply)
{
        struct conn *c = ctx;
        const char *service = c->lc->service;
        unsigned r;

        switch (ev) {
        case SMTPD_EVENT_MAIL:
                if ((r = rate_over(c, RATE_MAIL, true)) == 0)
                        return false;
                strbuf_printf(reply, "450 4.7.1 Error: too much mail from %s",
                              c->addr);
                log_warnx("Message delivery request rate limit exceeded: %u "
                          "from %s for service %s",
                          r, c->namaddr, service);
                return true;
        case SMTPD_EVENT_RCPT:
                if ((r = rate_over(c, RATE_RCPT, true)) == 0)
                        return false;
                strbuf_printf(reply,
                              "450 4.7.1 Error: too many recipients from %s",
                              c->addr);
                log_warnx("Recipient address rate limit exceeded: %u from %s "
                          "for service %s",
                          r, c->namaddr, service);
                return true;
        case SMTPD_EVENT_STARTTLS:
                if (rate_over(c, RATE_NEWTLS, false) == 0)
                        return false;
                strbuf_printf(reply,
                              "454 4.7.0 Error: too many new TLS sessions "
                              "from %s",
                              c->namaddr);
                log_warnx("Refusing STARTTLS request from %s for service %s",
                          c->namaddr, service);
                return true;
        }
        return false;
}

/* newtls_over - after a full handshake: count it; true (the client told,
 * the session to be closed) when the client is over its new TLS session
 * rate.  Resumed sessions cost no public-key operations and do not
 * count. */
static bool newtls_over(struct conn *c)
{
        const struct tls_info *ti = tls_conn_info(c->tls);
        unsigned r;

        if (ti->reused || (r = rate_over(c, RATE_NEWTLS, true)) == 0)
                return false;
        char msg[300];
        size_t put;
        int n = snprintf(msg, sizeof(msg),
                         "421 4.7.0 %s Error: too many new TLS sessions "
                         "from %s\r\n",
                         c->lc->conf->myhostname, c->namaddr);
        log_warnx("New TLS session rate limit exceeded: %u from %s for "
                  "service %s",
                  r, c->namaddr, c->lc->service);
        (void)tls_conn_write(c->tls, msg, (size_t)n, &put);
        return true;
}

/* memo_find - what the session knows of name/type, or NULL */
static struct dns_memo *memo_find(struct conn *c, const char *name, int type)
{
        for (struct dns_memo *m = c->memo; m; m = m->next)
                if (m->type == type && !strcmp(m->name, name))
                        return m;
        return NULL;
}

/* memo_add - remember an answer (the oldest goes past DNS_MEMO_MAX) */
static void memo_add(struct conn *c, const char *name, int type,
                     const struct dns_answer *a)
{
        struct dns_memo *m = xcalloc(1, sizeof(*m));

        m->name = xstrdup(name);
        m->type = type;
        m->state = a == NULL                   ? SMTPD_DNS_TEMPFAIL
                   : a->result == DNS_OK       ? SMTPD_DNS_FOUND
                   : a->result == DNS_NXDOMAIN ? SMTPD_DNS_NONE
                   : a->result == DNS_NODATA   ? SMTPD_DNS_NONE
                                               : SMTPD_DNS_TEMPFAIL;
        m->ttl = m->state == SMTPD_DNS_NONE    ? PEER_TTL_NEG
                 : m->state == SMTPD_DNS_FOUND ? PEER_TTL_MAX
                                               : 0;
        for (size_t i = 0; a && a->result == DNS_OK && i < a->n; i++) {
                const struct dns_rr *rr = &a->rr[i];
                if (rr->ttl < m->ttl)
                        m->ttl = rr->ttl;
                const char *v =
                    type == DNS_T_MX || type == DNS_T_NS || type == DNS_T_PTR
                        ? rr->host
                    : type == DNS_T_TXT ? rr->text
                                        : rr->addr;
                strlist_push(&m->values, v ? v : "");
        }
        if (m->state == SMTPD_DNS_FOUND && m->values.n == 0)
                m->state = SMTPD_DNS_NONE;
        m->next = c->memo;
        c->memo = m;
        if (++c->nmemo > DNS_MEMO_MAX) {
                struct dns_memo **pp = &c->memo;
                while ((*pp)->next)
                        pp = &(*pp)->next;
                strlist_clear(&(*pp)->values);
                free((*pp)->name);
                free(*pp);
                *pp = NULL;
                c->nmemo--;
        }
}

/* memo_add_policy - remember a policy service's action (NULL: failed) */
static void memo_add_policy(struct conn *c, const char *key, const char *action)
{
        struct dns_answer a = {.result = action ? DNS_OK : DNS_SERVFAIL};

        memo_add(c, key, MEMO_POLICY, &a);
        if (action) {
                strlist_push(&c->memo->values, action);
                c->memo->state = SMTPD_DNS_FOUND;
        }
}

/* memo_free - a session's answers */
static void memo_free(struct conn *c)
{
        while (c->memo) {
                struct dns_memo *m = c->memo;
                c->memo = m->next;
                strlist_clear(&m->values);
                free(m->name);
                free(m);
        }
        c->nmemo = 0;
}

static void on_dns(void *arg, const struct dns_answer *a);
static void recheck(struct conn *c);
static void peer_step(struct conn *c);
static struct dns_token *token_new(struct conn *c, const char *name, int type);
static void token_link(struct dns_token *t);
static void token_unlink(struct dns_token *t);

/* conn_dns - the restrictions' DNS: known, or asked now (PENDING) */
static enum smtpd_dns_state conn_dns(void *arg, const char *name, int type,
                                     const char *const **values, size_t *n)
{
        struct conn *c = arg;
        struct smtpd_server *srv = c->srv;
        struct dns_memo *m = memo_find(c, name, type);
        struct dns_token *t;

        *values = NULL;
        *n = 0;
        if (m) {
                *values = (const char *const *)m->values.v;
                *n = m->values.n;
                return m->state;
        }
        for (t = srv->tokens; t; t = t->next)
                if (t->conn == c && t->type == type && !strcmp(t->name, name))
                        return SMTPD_DNS_PENDING;
        if (srv->dns == NULL && !srv->dns_failed) {
                /* the queue manager's settings: with DNSSEC a bogus
                 * answer is a failed lookup, as from a validating
                 * system resolver */
                const struct conf *cf = c->lc->conf;
                struct dns_settings ds = {
                    .resolvers = cf->dns_resolver_addresses,
                    .trust_anchor_file = cf->dnssec_trust_anchor_file,
                    .dnssec = !strcmp(cf->smtp_dns_support_level, "dnssec"),
                };
                if (access(ds.trust_anchor_file, R_OK) < 0)
                        ds.trust_anchor_file = "";
                char *err = NULL;
                if (dns_resolver_new(srv->loop, &ds, &srv->dns, &err) < 0) {
                        log_warnx("dns resolver for the smtpd restrictions: "
                                  "%s",
                                  err);
                        free(err);
                        srv->dns_failed = true;
                }
        }
        t = token_new(c, name, type);
        if (srv->dns == NULL ||
            dns_query(srv->dns, name, type, on_dns, t) < 0) {
                free(t->name);
                free(t);
                memo_add(c, name, type, NULL);
                return SMTPD_DNS_TEMPFAIL;
        }
        token_link(t);
        return SMTPD_DNS_PENDING;
}

/* token_unlink - a token's query is answered */
static void token_unlink(struct dns_token *t)
{
        struct smtpd_server *srv = t->srv;

        if (t->prev)
                t->prev->next = t->next;
        else
                srv->tokens = t->next;
        if (t->next)
                t->next->prev = t->prev;
        if (t->conn)
                t->conn->dns_inflight--;
}

/* token_new - a query in flight for c (name: what the memo keys it by) */
static struct dns_token *token_new(struct conn *c, const char *name, int type)
{
        struct dns_token *t = xcalloc(1, sizeof(*t));

        t->srv = c->srv;
        t->conn = c;
        t->name = xstrdup(name);
        t->type = type;
        return t;
}

/* token_link - the query was sent */
static void token_link(struct dns_token *t)
{
        struct smtpd_server *srv = t->srv;

        t->next = srv->tokens;
        if (t->next)
                t->next->prev = t;
        srv->tokens = t;
        t->conn->dns_inflight++;
}

/* on_policy - a policy service answered a session's request */
static void on_policy(void *arg, const char *action)
{
        struct dns_token *t = arg;
        struct conn *c = t->conn;

        token_unlink(t);
        if (c)
                memo_add_policy(c, t->name, action);
        free(t->name);
        free(t);
        recheck(c);
}

/* policy_attr - one "name=value" line, the value made printable */
static void policy_attr(struct strbuf *b, const char *name, const char *v)
{
        strbuf_printf(b, "%s=", name);
        for (const char *p = v ? v : ""; *p; p++)
                strbuf_addc(b, (unsigned char)*p < 32 || *p == 127 ? '?' : *p);
        strbuf_addc(b, '\n');
}

/* policy_request - Postfix's smtpd_access_policy attributes for rcpt */
static char *policy_request(struct conn *c, const struct smtpd_info *info,
                            const char *rcpt)
{
        const struct tls_info *ti = c->tls ? tls_conn_info(c->tls) : NULL;
        const struct smtpd_envelope *e = info->env;
        bool cert = ti && ti->peer_cert;
        struct strbuf b;
        char num[64];

        strbuf_init(&b);
        policy_attr(&b, "request", "smtpd_access_policy");
        policy_attr(&b, "protocol_state", "RCPT");
        policy_attr(&b, "protocol_name", info->protocol);
        policy_attr(&b, "helo_name", info->helo);
        policy_attr(&b, "queue_id", "");
        policy_attr(&b, "sender", e ? e->sender : "");
        policy_attr(&b, "recipient", rcpt);
        snprintf(num, sizeof(num), "%zu", e ? e->nrcpt : 0);
        policy_attr(&b, "recipient_count", num);
        policy_attr(&b, "client_address", c->addr);
        policy_attr(&b, "client_name", c->peer.name);
        policy_attr(&b, "client_port", c->port);
        policy_attr(&b, "reverse_client_name", c->peer.reverse);
        snprintf(num, sizeof(num), "%lx.%lx.%x", (unsigned long)getpid(),
                 (unsigned long)(uintptr_t)c, info->transactions);
        policy_attr(&b, "instance", num);
        policy_attr(&b, "sasl_method", info->sasl_method);
        policy_attr(&b, "sasl_username", info->sasl_username);
        policy_attr(&b, "sasl_sender", e ? e->auth : NULL);
        snprintf(num, sizeof(num), "%zu", e ? e->size : 0);
        policy_attr(&b, "size", num);
        policy_attr(&b, "ccert_subject", cert ? ti->peer_CN : "");
        policy_attr(&b, "ccert_issuer", cert ? ti->issuer_CN : "");
        policy_attr(&b, "ccert_fingerprint", cert ? ti->cert_fprint : "");
        policy_attr(&b, "ccert_pubkey_fingerprint",
                    cert ? ti->pkey_fprint : "");
        policy_attr(&b, "encryption_protocol", ti ? ti->protocol : "");
        policy_attr(&b, "encryption_cipher", ti ? ti->cipher : "");
        snprintf(num, sizeof(num), "%d", ti ? ti->cipher_usebits : 0);
        policy_attr(&b, "encryption_keysize", num);
        policy_attr(&b, "etrn_domain", "");
        policy_attr(&b, "stress", "");
        policy_attr(&b, "policy_context", "");
        policy_attr(&b, "compatibility_level", "major");
        policy_attr(&b, "mail_version", c->lc->conf->mail_version);
        return strbuf_detach(&b);
}

/* conn_policy - check_policy_service: the answer for this RCPT, known or
 * asked now (PENDING) */
static enum smtpd_dns_state conn_policy(void *arg, const char *service,
                                        const char *rcpt, const char **action)
{
        struct conn *c = arg;
        struct smtpd_server *srv = c->srv;
        const struct smtpd_info *info = smtpd_session_info(c->s);
        char *key = xasprintf("%s\n%u\n%s", service, info->transactions, rcpt);
        struct dns_memo *m = memo_find(c, key, MEMO_POLICY);
        struct policy_conn *pc;
        enum smtpd_dns_state st = SMTPD_DNS_PENDING;

        *action = NULL;
        if (m) {
                free(key);
                if (m->state != SMTPD_DNS_FOUND)
                        return SMTPD_DNS_TEMPFAIL;
                *action = m->values.v[0];
                return SMTPD_DNS_FOUND;
        }
        for (struct dns_token *t = srv->tokens; t; t = t->next)
                if (t->conn == c && t->type == MEMO_POLICY &&
                    !strcmp(t->name, key)) {
                        free(key);
                        return SMTPD_DNS_PENDING;
                }
        for (pc = srv->policies; pc; pc = pc->next)
                if (!strcmp(pc->service, service))
                        break;
        if (pc == NULL) {
                pc = xcalloc(1, sizeof(*pc));
                pc->service = xstrdup(service);
                pc->pc = policy_client_new(
                    srv->loop, service, c->lc->conf->queue_directory,
                    (long)c->lc->conf->smtpd_policy_service_timeout);
                pc->next = srv->policies;
                srv->policies = pc;
        }
        char *req = policy_request(c, info, rcpt);
        struct dns_token *t = token_new(c, key, MEMO_POLICY);
        if (policy_ask(pc->pc, req, on_policy, t) == 0) {
                free(t->name);
                free(t);
                memo_add_policy(c, key, NULL);
                st = SMTPD_DNS_TEMPFAIL;
        } else {
                token_link(t);
        }
        free(req);
        free(key);
        return st;
}

/* conn_action - PREPEND headers and a FILTER for the message,
 * WARN/INFO/FILTER lines for the log */
static void conn_action(void *arg, const char *kind, const char *text)
{
        struct conn *c = arg;
        const struct smtpd_info *info = smtpd_session_info(c->s);

        if (!strcmp(kind, "prepend")) {
                smtpd_session_prepend(c->s, text);
                return;
        }
        if (!strcmp(kind, "content_filter")) {
                smtpd_session_filter(c->s, text);
                return;
        }
        log_info("NOQUEUE: %s: RCPT from %s: %s; from=<%s> proto=%s "
                 "helo=<%s>",
                 kind, c->namaddr, text,
                 info->env && info->env->sender ? info->env->sender : "",
                 info->protocol ? info->protocol : "SMTP",
                 info->helo ? info->helo : "");
}

/* check_client - what the restrictions know of c */
static struct smtpd_check_client
check_client(struct conn *c, const struct smtpd_info *info, bool vrfy)
{
        const struct tls_info *ti = c->tls ? tls_conn_info(c->tls) : NULL;
        struct smtpd_check_client cl = {
            .addr = c->addr,
            .peer = &c->peer,
            .namaddr = info->namaddr,
            .helo = info->helo,
            .sender = info->env && !vrfy ? info->env->sender : NULL,
            .mynetworks = c->in_mynetworks,
            .ccert_present = ti && ti->peer_cert,
            .ccert_trusted = ti && ti->trusted,
            .cert_fprint = ti ? ti->cert_fprint : NULL,
            .pkey_fprint = ti ? ti->pkey_fprint : NULL,
            .sasl_username = info->sasl_username,
            .sasl_method = info->sasl_method,
            .tls = info->tls != NULL,
            .dns = vrfy ? NULL : conn_dns,
            .policy = vrfy ? NULL : conn_policy,
            .action = conn_action,
            .dns_arg = c,
        };
        return cl;
}

/* on_dns - an answer for a session's restrictions: when the last one it
 * waits for is in, its RCPT is checked again */
static void on_dns(void *arg, const struct dns_answer *a)
{
        struct dns_token *t = arg;
        struct conn *c = t->conn;

        token_unlink(t);
        if (c)
                memo_add(c, t->name, t->type, a);
        free(t->name);
        free(t);
        recheck(c);
}

/* recheck - the RCPT waiting for answers is checked again once they are
 * all in */
static void recheck(struct conn *c)
{
        if (c && c->peer_wait && c->dns_inflight == 0) {
                peer_step(c);
                return;
        }
        if (c == NULL || c->dns_inflight > 0 || c->wait_rcpt == NULL)
                return;
        struct strbuf reply;
        struct smtpd_check_client cl =
            check_client(c, smtpd_session_info(c->s), false);
        strbuf_init(&reply);
        enum smtpd_verdict v =
            smtpd_checks_rcpt(c->lc->checks, &cl, c->wait_rcpt, &reply);
        if (v == SMTPD_PENDING && ++c->rechecks > RECHECK_MAX) {
                /* more lookups than the memo keeps: give up */
                log_warnx("%s: more than %d DNS and policy lookups for "
                          "<%s>: deferring",
                          c->namaddr, RECHECK_MAX, c->wait_rcpt);
                strbuf_reset(&reply);
                strbuf_printf(&reply,
                              "451 4.3.0 <%s>: Temporary lookup "
                              "failure",
                              c->wait_rcpt);
                v = SMTPD_DEFER;
        }
        if (v != SMTPD_PENDING) {
                free(c->wait_rcpt);
                c->wait_rcpt = NULL;
                smtpd_session_rcpt_done(c->s, v, reply.s);
                conn_pump(c);
        }
        strbuf_clear(&reply);
}

/* conn_rcpt_check - relay control; PENDING while DNS answers are awaited
 * (on_dns asks again) */
static enum smtpd_verdict conn_rcpt_check(void *ctx,
                                          const struct smtpd_info *info,
                                          const char *rcpt, bool vrfy,
                                          struct strbuf *reply)
{
        struct conn *c = ctx;
        struct smtpd_check_client cl = check_client(c, info, vrfy);

        /* the session logs the refusal ("NOQUEUE: reject: RCPT" or
         * "... VRFY"), once, as Postfix does */
        enum smtpd_verdict v =
            smtpd_checks_rcpt(c->lc->checks, &cl, rcpt, reply);
        if (v == SMTPD_PENDING) {
                free(c->wait_rcpt);
                c->wait_rcpt = xstrdup(rcpt);
                c->rechecks = 0;
        }
        return v;
}

/* conn_received - the Received: header */
static char *conn_received(void *ctx, const struct smtpd_info *info)
{
        struct conn *c = ctx;
        struct strbuf sb;
        struct smtpd_info copy = *info;

        if (!c->lc->received_tls && copy.tls) {
                /* no TLS details, but the protocol still says ESMTPS */
                if (copy.protocol && !strcmp(copy.protocol, "ESMTP"))
                        copy.protocol = "ESMTPS";
                copy.tls = NULL;
        }
        if (!c->lc->sasl_header)
                copy.sasl_username = NULL; /* protocol still says ESMTPA */
        strbuf_init(&sb);
        smtpd_received_format(&sb, &copy, c->lc->conf->myhostname,
                              c->lc->conf->mail_name, c->msg_id, time(NULL));
        return strbuf_detach(&sb);
}

/* receiving_set - whether c is in the middle of a message, for the group
 * commit's decision to wait */
static void receiving_set(struct conn *c, bool on)
{
        if (c->receiving == on)
                return;
        c->receiving = on;
        if (on)
                c->srv->nreceiving++;
        else
                c->srv->nreceiving--;
}

static int conn_store(void *ctx, const char *p, size_t n);

/* header_domain - whether the headers of c's message are rewritten
 * (local_header_rewrite_clients, remote_header_rewrite_domain): the
 * domain for incomplete addresses, or NULL */
static const char *header_domain(struct conn *c, const struct smtpd_info *info)
{
        struct smtpd_canon *k = c->lc->map.canon;

        if (!(smtpd_canon_classes(k) & SMTPD_CANON_HEADERS))
                return NULL;
        struct smtpd_check_client cl = check_client(c, info, true);
        struct smtpd_canon_client rc = {
            .addr = c->addr,
            .mynetworks = c->in_mynetworks,
            .sasl = info->sasl_username != NULL,
            .ccert_listed = smtpd_checks_ccert_listed(c->lc->checks, &cl),
            .ccert_trusted = cl.ccert_trusted,
        };
        return smtpd_canon_header_domain(k, smtpd_canon_local_client(k, &rc));
}

/* conn_msg_begin - a new queue file */
static int conn_msg_begin(void *ctx, const struct smtpd_info *info)
{
        struct conn *c = ctx;
        const char *err = NULL;

        if (queue_msg_new(c->srv->queue, &c->msg, &err) < 0) {
                log_warnx("queue file create: %s", err);
                c->msg = NULL;
                return -1;
        }
        c->msg_id = queue_msg_id(c->msg);
        receiving_set(c, true);
        strbuf_reset(&c->mown);
        strbuf_reset(&c->mbody);
        c->mcontent = false;
        smtpd_hops_init(&c->hops);
        if (info->sasl_username)
                log_info("%s: client=%s, sasl_method=%s, sasl_username=%s%s%s",
                         c->msg_id, c->namaddr, info->sasl_method,
                         info->sasl_username,
                         info->env->auth ? ", sasl_sender=" : "",
                         info->env->auth ? info->env->auth : "");
        else
                log_info("%s: client=%s", c->msg_id, c->namaddr);
        smtpd_hbc_result_clear(&c->hres);
        const char *domain = header_domain(c, info);
        if (smtpd_hbc_checks(c->lc->hbc) || domain) {
                const struct smtpd_envelope *e = info->env;
                struct smtpd_hbc_origin o = {
                    .queue_id = c->msg_id,
                    .client = c->namaddr,
                    .sender = e->sender ? e->sender : "",
                    .rcpt = e->nrcpt ? e->rcpt[0].addr : NULL,
                    .proto = info->protocol,
                    .helo = info->helo,
                    .canon = domain ? c->lc->map.canon : NULL,
                    .canon_domain = domain,
                };
                c->hbcs = smtpd_hbc_start(c->lc->hbc, &o, conn_store, c);
        }
        return 0;
}

/* conn_msg_write - message content, through the header and body checks
 * when there are any */
static int conn_msg_write(void *ctx, const char *p, size_t n)
{
        struct conn *c = ctx;

        if (c->msg == NULL)
                return -1;
        if (c->mcontent)
                smtpd_hops_feed(&c->hops, p, n);
        if (c->hbcs)
                return smtpd_hbc_write(c->hbcs, p, n);
        return conn_store(c, p, n);
}

/* conn_store - content on its way to the queue file */
static int conn_store(void *ctx, const char *p, size_t n)
{
        struct conn *c = ctx;
        const char *err = NULL;

        if (c->lc->nmilters) { /* held until the milters decide */
                strbuf_add(c->mcontent ? &c->mbody : &c->mown, p, n);
                return 0;
        }
        if (queue_msg_write(c->msg, p, n, &err) < 0) {
                log_warnx("%s: queue file write: %s", c->msg_id, err);
                return -1;
        }
        return 0;
}

/* conn_msg_content - the client's content starts */
static void conn_msg_content(void *ctx)
{
        struct conn *c = ctx;

        /* our Received: goes out now: it is ours, not the client's */
        if (c->hbcs)
                smtpd_hbc_cut(c->hbcs);
        c->mcontent = true;
}

/* fill_env - the queue envelope from the session */
static void fill_env(struct conn *c, struct queue_env *env)
{
        const struct smtpd_info *info = smtpd_session_info(c->s);
        const struct smtpd_envelope *e = info->env;
        const struct tls_info *ti = c->tls ? tls_conn_info(c->tls) : NULL;

        queue_env_init(env);
        env->sender = xstrdup(e->sender ? e->sender : "");
        env->envid = e->envid ? xstrdup(e->envid) : NULL;
        env->ret = e->ret == SMTPD_RET_FULL   ? QUEUE_RET_FULL
                   : e->ret == SMTPD_RET_HDRS ? QUEUE_RET_HDRS
                                              : QUEUE_RET_NONE;
        env->body = e->body == SMTPD_BODY_8BITMIME ? QUEUE_BODY_8BITMIME
                    : e->body == SMTPD_BODY_7BIT   ? QUEUE_BODY_7BIT
                                                   : QUEUE_BODY_NONE;
        env->smtputf8 = e->smtputf8;
        env->client_name = xstrdup(info->name ? info->name : "unknown");
        env->client_addr = xstrdup(c->addr);
        env->client_port = (unsigned)atoi(c->port);
        env->helo = info->helo ? xstrdup(info->helo) : NULL;
        env->protocol = xstrdup(info->protocol ? info->protocol : "SMTP");
        /* the content filter the queue manager sends the message to: the
         * last FILTER action (header or body checks come after the
         * access tables), else the listener's content_filter (main.cf's,
         * or its -o: empty on the one a filter sends mail back through,
         * so that it is not filtered again) */
        const char *filter = c->hres.filter ? c->hres.filter
                             : e->filter    ? e->filter
                             : *c->lc->conf->content_filter
                                 ? c->lc->conf->content_filter
                                 : NULL;
        if (filter)
                env->filter = xstrdup(filter);
        if (ti) {
                env->tls.protocol = xstrdup(ti->protocol);
                env->tls.cipher = xstrdup(ti->cipher);
                env->tls.bits = ti->cipher_usebits;
                env->tls.alg_bits = ti->cipher_algbits;
                env->tls.trust = xstrdup(!ti->peer_cert ? "Anonymous"
                                         : ti->trusted  ? "Trusted"
                                                        : "Untrusted");
                if (ti->peer_cert) {
                        env->tls.peer_subject = xstrdup(ti->peer_CN);
                        env->tls.peer_issuer = xstrdup(ti->issuer_CN);
                        env->tls.peer_fingerprint = xstrdup(ti->cert_fprint);
                }
        }
        for (size_t i = 0; i < e->nrcpt; i++) {
                struct strbuf orcpt;
                strbuf_init(&orcpt);
                if (e->rcpt[i].orcpt)
                        strbuf_printf(&orcpt, "%s;%s",
                                      e->rcpt[i].orcpt_type
                                          ? e->rcpt[i].orcpt_type
                                          : "rfc822",
                                      e->rcpt[i].orcpt);
                struct queue_rcpt *r = queue_env_add_rcpt(
                    env, e->rcpt[i].addr,
                    e->rcpt[i].orcpt ? strbuf_cstr(&orcpt) : NULL,
                    e->rcpt[i].notify);
                (void)r;
                strbuf_clear(&orcpt);
        }
}

/* commit_pending - group commit of every finished message whose client
 * is still there; a message whose client left before its 250 is dropped,
 * so the queue holds exactly what was acknowledged */
static void commit_pending(void *arg)
{
        struct smtpd_server *srv = arg;
        const char *err = NULL;
        size_t n = 0;
        int rc = 0;

        /* other sessions are in the middle of a message: wait a moment so
         * that theirs share this batch's syncs (conn_msg_end ends the wait
         * when the last of them finishes).  A lone session is never
         * delayed. */
        if (!srv->commit_gathering && srv->nreceiving > 0) {
                srv->commit_gathering = true;
                event_timer_add(srv->commit_timer, COMMIT_GATHER_MS);
                return;
        }
        srv->commit_gathering = false;
        srv->commit_armed = false;
        for (size_t i = 0; i < srv->npending; i++) {
                if (srv->pending_conn[i] == NULL) {
                        queue_msg_abort(srv->pending_msg[i]); /* frees */
                        continue;
                }
                srv->pending_msg[n] = srv->pending_msg[i];
                srv->pending_conn[n] = srv->pending_conn[i];
                n++;
        }
        srv->npending = 0;
        if (n == 0)
                return;
        rc = queue_commit(srv->queue, srv->pending_msg, n, &err);
        if (rc < 0)
                log_warnx("queue commit of %zu message(s): %s", n, err);
        /* the log shows each message before its client hears 250 */
        log_flush();
        /* sessions may finish more messages while this runs: work on a
         * copy of the batch */
        struct conn **conns = xreallocarray(NULL, n, sizeof(*conns));
        struct queue_msg **msgs = xreallocarray(NULL, n, sizeof(*msgs));
        memcpy(conns, srv->pending_conn, n * sizeof(*conns));
        memcpy(msgs, srv->pending_msg, n * sizeof(*msgs));
        for (size_t i = 0; i < n; i++) {
                struct conn *c = conns[i];
                c->msg = NULL;
                if (rc < 0) {
                        queue_msg_abort(msgs[i]); /* frees */
                        smtpd_session_msg_done(c->s, NULL);
                } else {
                        char id[QUEUE_ID_SIZE];
                        snprintf(id, sizeof(id), "%s", queue_msg_id(msgs[i]));
                        queue_msg_free(msgs[i]);
                        smtpd_session_msg_done(c->s, id);
                }
                c->msg_id = NULL;
        }
        if (rc == 0)
                queue_notify(srv->queue);
        /* pumping may close a connection: after every msg_done */
        for (size_t i = 0; i < n; i++)
                conn_pump(conns[i]);
        free(conns);
        free(msgs);
}

/* milter_env_edit - the milters' new sender and recipients */
static void milter_env_edit(struct conn *c, const struct milter_result *r,
                            struct queue_env *env)
{
        if (r->sender) {
                log_info("%s: milter-change-sender: from=<%s> to <%s>",
                         c->msg_id, env->sender, r->sender);
                free(env->sender);
                env->sender = xstrdup(r->sender);
        }
        for (size_t d = 0; d < r->del_rcpt.n; d++)
                for (size_t i = 0; i < env->nrcpt; i++)
                        if (strcasecmp(env->rcpt[i].addr, r->del_rcpt.v[d]) ==
                            0) {
                                log_info("%s: milter-delete-rcpt: to=<%s>",
                                         c->msg_id, env->rcpt[i].addr);
                                queue_env_del_rcpt(env, i--);
                        }
        for (size_t a = 0; a < r->add_rcpt.n; a++) {
                log_info("%s: milter-add-rcpt: to=<%s>", c->msg_id,
                         r->add_rcpt.v[a]);
                queue_env_add_rcpt(env, r->add_rcpt.v[a], NULL, 0);
        }
}

/* commit_hold - a message a milter quarantined: durable in hold/ now */
static enum smtpd_commit commit_hold(struct conn *c)
{
        const char *err = NULL;

        if (queue_commit_to(c->srv->queue, QUEUE_HOLD, &c->msg, 1, &err) < 0) {
                log_warnx("%s: queue commit to hold: %s", c->msg_id, err);
                queue_msg_abort(c->msg); /* frees */
                c->msg = NULL;
                return SMTPD_COMMIT_FAIL;
        }
        log_flush();
        queue_notify(c->srv->queue);
        return SMTPD_COMMIT_OK;
}

/* enqueue - finish the file, with the milters' envelope edits (r, or
 * NULL); the commit follows in a group, or at once into hold/ */
static enum smtpd_commit enqueue(struct conn *c, const struct milter_result *r)
{
        struct smtpd_server *srv = c->srv;
        struct queue_env env;
        const char *err = NULL;
        int rc;

        fill_env(c, &env);
        if (r)
                milter_env_edit(c, r, &env);
        /* as Postfix's cleanup: canonical mapping and masquerading, the
         * copies, then aliases of them all */
        char *berr = NULL;
        if (smtpd_mappings_apply(&c->lc->map, &c->hres.bcc, &env, &berr) < 0) {
                log_warnx("%s: %s", c->msg_id, berr);
                free(berr);
                queue_env_clear(&env);
                queue_msg_abort(c->msg); /* frees */
                c->msg = NULL;
                return SMTPD_COMMIT_FAIL;
        }
        smtpd_hbc_redirect(&c->hres, &env);
        bool hold = (r && r->verdict == MILTER_V_HOLD) || c->hres.hold;
        smtpd_hbc_result_clear(&c->hres);
        rc = queue_msg_finish(c->msg, &env, NULL, &err);
        queue_env_clear(&env);
        if (rc < 0) {
                log_warnx("%s: queue file finish: %s", c->msg_id, err);
                queue_msg_abort(c->msg); /* frees */
                c->msg = NULL;
                return SMTPD_COMMIT_FAIL;
        }
        if (hold)
                return commit_hold(c);
        if (srv->npending == srv->cappending) {
                srv->cappending = srv->cappending ? srv->cappending * 2 : 16;
                srv->pending_msg =
                    xreallocarray(srv->pending_msg, srv->cappending,
                                  sizeof(*srv->pending_msg));
                srv->pending_conn =
                    xreallocarray(srv->pending_conn, srv->cappending,
                                  sizeof(*srv->pending_conn));
        }
        srv->pending_msg[srv->npending] = c->msg;
        srv->pending_conn[srv->npending] = c;
        srv->npending++;
        if (!srv->commit_armed) {
                srv->commit_armed = true;
                event_timer_add(srv->commit_timer, 0);
        } else if (srv->commit_gathering && srv->nreceiving == 0) {
                event_timer_add(srv->commit_timer, 0); /* all are in */
        }
        return SMTPD_COMMIT_PENDING;
}

/* milter_log - Postfix's line for what a milter did to a message */
static void milter_log(struct conn *c, const char *what,
                       const struct milter_result *r, const char *text)
{
        const struct smtpd_info *info = smtpd_session_info(c->s);
        const struct smtpd_envelope *e = info->env;

        log_info("%s: %s: %s from %s: %s; from=<%s> to=<%s> proto=%s "
                 "helo=<%s>",
                 c->msg_id, what, r->stage ? r->stage : "END-OF-MESSAGE",
                 c->namaddr, text, e->sender ? e->sender : "",
                 r->rcpt    ? r->rcpt
                 : e->nrcpt ? e->rcpt[0].addr
                            : "",
                 info->protocol, info->helo ? info->helo : "");
}

/* milters_clear - forget the held message and what the milters were told */
static void milters_clear(struct conn *c)
{
        milter_run_free(c->mrun);
        c->mrun = NULL;
        strlist_clear(&c->mmsg.rcpt);
        strlist_clear(&c->mmsg.rcpt_params);
        memset(&c->mmsg, 0, sizeof(c->mmsg));
        smtpd_hbc_result_clear(&c->hres);
        /* a large message's memory goes back at once */
        strbuf_clear(&c->mown);
        strbuf_clear(&c->mbody);
}

/* on_milter - the milters decided about the held message */
static void on_milter(void *arg, struct milter_result *r)
{
        struct conn *c = arg;
        const char *err = NULL;
        char id[QUEUE_ID_SIZE];
        enum smtpd_commit rc = SMTPD_COMMIT_FAIL;

        snprintf(id, sizeof(id), "%s", c->msg_id);
        switch (r->verdict) {
        case MILTER_V_REJECT:
        case MILTER_V_TEMPFAIL:
                milter_log(c, "milter-reject", r, r->reply + 4);
                queue_msg_abort(c->msg); /* frees */
                c->msg = NULL;
                c->msg_id = NULL;
                smtpd_session_msg_refused(c->s, r->reply);
                break;
        case MILTER_V_DISCARD:
                milter_log(c, "milter-discard", r,
                           "milter triggers DISCARD action");
                queue_msg_abort(c->msg); /* frees */
                c->msg = NULL;
                c->msg_id = NULL;
                smtpd_session_msg_done(c->s, id);
                break;
        case MILTER_V_HOLD:
        case MILTER_V_QUEUE: {
                struct strbuf out;
                size_t hidden = milter_count_headers(c->mown.s ? c->mown.s : "",
                                                     c->mown.len);
                strbuf_init(&out);
                /* the whole message: an insert at 0 goes above Received: */
                strbuf_add(&c->mown, c->mbody.s ? c->mbody.s : "",
                           c->mbody.len);
                milter_apply(r, c->mown.s ? c->mown.s : "", c->mown.len, hidden,
                             &out);
                if (r->verdict == MILTER_V_HOLD)
                        milter_log(c, "milter-hold", r,
                                   "milter triggers HOLD action");
                if (queue_msg_write(c->msg, out.s ? out.s : "", out.len, &err) <
                    0) {
                        log_warnx("%s: queue file write: %s", c->msg_id, err);
                        queue_msg_abort(c->msg); /* frees */
                        c->msg = NULL;
                } else {
                        rc = enqueue(c, r);
                }
                strbuf_clear(&out);
                if (rc == SMTPD_COMMIT_PENDING)
                        break; /* commit_pending answers */
                if (rc == SMTPD_COMMIT_OK)
                        queue_msg_free(c->msg);
                c->msg = NULL;
                c->msg_id = NULL;
                smtpd_session_msg_done(c->s, rc == SMTPD_COMMIT_OK ? id : NULL);
                break;
        }
        }
        milter_result_free(r);
        milters_clear(c);
        conn_pump(c);
}

/* milters_start - send the held message through the milters */
static void milters_start(struct conn *c)
{
        const struct smtpd_info *info = smtpd_session_info(c->s);
        const struct smtpd_envelope *e = info->env;
        const struct conf *cf = c->lc->conf;
        const struct tls_info *ti = c->tls ? tls_conn_info(c->tls) : NULL;
        struct milter_msg *g = &c->mmsg;
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);

        memset(g, 0, sizeof(*g));
        c->daemon_addr[0] = 0;
        if (getsockname(c->fd, (struct sockaddr *)&ss, &sl) == 0)
                (void)getnameinfo((struct sockaddr *)&ss, sl, c->daemon_addr,
                                  sizeof(c->daemon_addr), NULL, 0,
                                  NI_NUMERICHOST);
        g->myhostname = cf->myhostname;
        g->daemon_name = cf->milter_macro_daemon_name;
        g->daemon_addr = c->daemon_addr;
        g->version = cf->milter_macro_v;
        /* a client without a verified name is "[addr]", as Sendmail
         * names it */
        snprintf(c->mname, sizeof(c->mname), "[%s]", c->addr);
        g->client_name = info->name && strcmp(info->name, "unknown") != 0
                             ? info->name
                             : c->mname;
        g->client_addr = c->addr;
        g->client_ptr = c->peer.reverse;
        g->client_port = (unsigned)atoi(c->port);
        g->family = strchr(c->addr, ':') ? 6 : 4;
        g->helo = info->helo;
        if (ti) {
                g->tls_version = ti->protocol;
                g->cipher = ti->cipher;
                g->cipher_bits = ti->cipher_usebits;
                g->cert_subject = ti->peer_cert ? ti->peer_CN : NULL;
                g->cert_issuer = ti->peer_cert ? ti->issuer_CN : NULL;
        }
        g->queue_id = c->msg_id;
        g->auth_type = info->sasl_method;
        g->auth_authen = info->sasl_username;
        g->auth_author = e->auth;
        g->sender = e->sender ? e->sender : "";
        g->mail_params = e->params;
        for (size_t i = 0; i < e->nrcpt; i++) {
                strlist_push(&g->rcpt, e->rcpt[i].addr);
                strlist_push(&g->rcpt_params,
                             e->rcpt[i].params ? e->rcpt[i].params : "");
        }
        g->content = c->mbody.s ? c->mbody.s : "";
        g->len = c->mbody.len;
        c->mrun = milter_run_start(c->srv->loop, c->lc->milters,
                                   c->lc->nmilters, g, on_milter, c);
}

/* hbc_end - what the header and body checks decided, at the end of the
 * message: COMMIT_PENDING to go on, or the answer (a REFUSED reply, or
 * a DISCARD's queue ID, in qid) with the file gone */
static enum smtpd_commit hbc_end(struct conn *c, char *qid, size_t qsz)
{
        struct smtpd_hbc_result *h = &c->hres;
        int rc = smtpd_hbc_finish(c->hbcs, h);
        enum smtpd_commit v = SMTPD_COMMIT_PENDING;

        smtpd_hbc_stream_free(c->hbcs);
        c->hbcs = NULL;
        if (rc < 0) {
                v = SMTPD_COMMIT_FAIL;
        } else if (h->verdict == SMTPD_HBC_REFUSE) {
                v = SMTPD_COMMIT_REFUSED;
                snprintf(qid, qsz, "%s", h->reply);
        } else if (h->verdict == SMTPD_HBC_DROP) {
                v = SMTPD_COMMIT_OK; /* as if queued, as Postfix says */
                snprintf(qid, qsz, "%s", c->msg_id);
        }
        if (v != SMTPD_COMMIT_PENDING) {
                smtpd_hbc_result_clear(h);
                queue_msg_abort(c->msg); /* frees */
                c->msg = NULL;
                c->msg_id = NULL;
        }
        return v;
}

/* conn_msg_end - the end of the message: the header and body checks'
 * decision, then through the milters when there are any (they see what
 * the checks let through, as in Postfix), then into the queue */
static enum smtpd_commit conn_msg_end(void *ctx, char *qid, size_t qsz)
{
        struct conn *c = ctx;
        enum smtpd_commit v;

        receiving_set(c, false);
        if (c->msg == NULL)
                return SMTPD_COMMIT_FAIL;
        long long hops = c->lc->conf->hopcount_limit;
        if (hops > 0 && c->hops.count + 1 >= (unsigned long long)hops) {
                /* a mail loop: with this server's Received: header the
                 * message would reach the limit (Postfix's rule) */
                log_warnx("%s: message rejected: hopcount exceeded", c->msg_id);
                smtpd_hbc_stream_free(c->hbcs);
                c->hbcs = NULL;
                queue_msg_abort(c->msg); /* frees */
                c->msg = NULL;
                c->msg_id = NULL;
                snprintf(qid, qsz, "554 5.4.0 Error: too many hops");
                return SMTPD_COMMIT_REFUSED;
        }
        if (c->hbcs && (v = hbc_end(c, qid, qsz)) != SMTPD_COMMIT_PENDING)
                return v;
        if (c->lc->nmilters) {
                milters_start(c);
                return SMTPD_COMMIT_PENDING;
        }
        snprintf(qid, qsz, "%s", c->msg_id); /* a HOLD commits at once */
        if ((v = enqueue(c, NULL)) == SMTPD_COMMIT_OK) {
                queue_msg_free(c->msg);
                c->msg = NULL;
                c->msg_id = NULL;
        }
        return v;
}

/* conn_msg_abort - drop the open file */
static void conn_msg_abort(void *ctx)
{
        struct conn *c = ctx;

        receiving_set(c, false);
        smtpd_hbc_stream_free(c->hbcs);
        c->hbcs = NULL;
        if (c->msg == NULL)
                return;
        for (size_t i = 0; i < c->srv->npending; i++)
                if (c->srv->pending_msg[i] == c->msg)
                        return; /* finished: the commit decides */
        milters_clear(c);
        queue_msg_abort(c->msg); /* frees */
        c->msg = NULL;
        c->msg_id = NULL;
}

/* conn_auth_mechs - what Dovecot offers, filtered by the listener's
 * security options for a session with or without TLS */
static const char *conn_auth_mechs(void *ctx, bool tls)
{
        struct conn *c = ctx;
        struct lconf *lc = c->lc;

        if (lc->sasl_path == NULL)
                return NULL;
        if (lc->sasl == NULL)
                lc->sasl = sasl_dovecot_new(
                    c->srv->loop, lc->sasl_path, lc->conf->smtpd_sasl_service,
                    lc->conf->smtpd_sasl_security_options,
                    lc->conf->smtpd_sasl_tls_security_options);
        return sasl_dovecot_mechs(lc->sasl, tls);
}

/* conn_auth_done - Dovecot answered; the session goes on */
static void conn_auth_done(void *arg, enum smtpd_auth_result r,
                           const char *text)
{
        struct conn *c = arg;

        if (r != SMTPD_AUTH_CONTINUE)
                c->auth_id = 0;
        smtpd_session_auth_done(c->s, r, text);
        conn_pump(c);
}

/* conn_auth_step - AUTH or the client's next response, to Dovecot */
static int conn_auth_step(void *ctx, const struct smtpd_info *info,
                          const char *mech, const char *resp)
{
        struct conn *c = ctx;
        struct sockaddr_storage sa;
        socklen_t len = sizeof(sa);
        char lip[INET6_ADDRSTRLEN] = "";

        if (c->lc->sasl == NULL)
                return -1;
        if (mech == NULL) {
                if (c->auth_id == 0 ||
                    sasl_dovecot_cont(c->lc->sasl, c->auth_id, resp) < 0) {
                        c->auth_id = 0;
                        return -1;
                }
                return 0;
        }
        if (getsockname(c->fd, (struct sockaddr *)&sa, &len) == 0) {
                const void *a =
                    sa.ss_family == AF_INET6
                        ? (const void *)&((struct sockaddr_in6 *)&sa)->sin6_addr
                        : (const void *)&((struct sockaddr_in *)&sa)->sin_addr;
                if (inet_ntop(sa.ss_family, a, lip, sizeof(lip)) == NULL)
                        lip[0] = 0;
        }
        struct sasl_request q = {
            .mech = mech,
            .resp = resp,
            .local_addr = lip,
            .client_addr = c->addr,
            .secured = info->tls != NULL,
        };
        c->auth_id = sasl_dovecot_auth(c->lc->sasl, &q, conn_auth_done, c);
        return c->auth_id ? 0 : -1;
}

/* conn_auth_abort - the session no longer waits for the answer */
static void conn_auth_abort(void *ctx)
{
        struct conn *c = ctx;

        if (c->auth_id && c->lc->sasl)
                sasl_dovecot_cancel(c->lc->sasl, c->auth_id);
        c->auth_id = 0;
}

static const struct smtpd_ops conn_ops = {
    .rcpt_check = conn_rcpt_check,
    .auth_mechs = conn_auth_mechs,
    .auth_step = conn_auth_step,
    .auth_abort = conn_auth_abort,
    .event_limit = conn_event_limit,
    .received_header = conn_received,
    .msg_begin = conn_msg_begin,
    .msg_write = conn_msg_write,
    .msg_content = conn_msg_content,
    .msg_end = conn_msg_end,
    .msg_abort = conn_msg_abort,
    .log = conn_log,
};

/* fill_tinfo - the engine's view of the TLS session */
static void fill_tinfo(struct conn *c)
{
        const struct tls_info *t = tls_conn_info(c->tls);
        struct smtpd_tls_info *o = &c->tinfo;

        memset(o, 0, sizeof(*o));
        o->protocol = t->protocol;
        o->cipher = t->cipher;
        o->cipher_usebits = t->cipher_usebits;
        o->cipher_algbits = t->cipher_algbits;
        o->kex_name = *t->kex_name ? t->kex_name : NULL;
        o->kex_curve = *t->kex_curve ? t->kex_curve : NULL;
        o->kex_bits = t->kex_bits;
        o->srvr_sig = *t->srvr_sig_name ? t->srvr_sig_name : NULL;
        o->srvr_curve = *t->srvr_sig_curve ? t->srvr_sig_curve : NULL;
        o->srvr_bits = t->srvr_sig_bits;
        o->srvr_digest = *t->srvr_sig_dgst ? t->srvr_sig_dgst : NULL;
        o->clnt_sig = *t->clnt_sig_name ? t->clnt_sig_name : NULL;
        o->clnt_curve = *t->clnt_sig_curve ? t->clnt_sig_curve : NULL;
        o->clnt_bits = t->clnt_sig_bits;
        o->clnt_digest = *t->clnt_sig_dgst ? t->clnt_sig_dgst : NULL;
        o->ccert_requested = c->lc->ask_ccert;
        o->ccert_present = t->peer_cert;
        o->ccert_trusted = t->trusted;
        o->peer_cn = t->peer_CN;
        o->issuer_cn = t->issuer_CN;
}

/* session_start - the engine takes over (greeting queued) */
static void session_start(struct conn *c)
{
        struct smtpd_client cl = {
            .name = c->peer.name,
            .addr = c->addr,
            .port = c->port,
            .bare_newline_excluded =
                smtpd_checks_bare_newline_excluded(c->lc->checks, c->addr),
            .auth_hidden = c->lc->settings.sasl_enable &&
                           smtpd_checks_sasl_hidden(c->lc->checks, c->addr),
            .tls = c->tls ? &c->tinfo : NULL,
        };

        c->s = smtpd_session_new(&c->lc->settings, &cl, &conn_ops, c);
}

/* on_io - the socket is ready, or the timeout expired */
static void on_io(int fd, int what, void *arg)
{
        struct conn *c = arg;

        (void)fd;
        c->busy = c->tls_buffers = true;
        if ((what & EVENT_READ) && c->tls)
                tls_conn_readable(c->tls);
        if (c->phase == PHASE_SMTP &&
            smtpd_session_action(c->s) == SMTPD_ACTION_WAIT) {
                /* input (or the old timeout) while the session waits for
                 * its commit: stop watching until it is done */
                event_io_want(c->io, false, false, 0);
                return;
        }
        if (what & EVENT_TIMEOUT && !(what & (EVENT_READ | EVENT_WRITE))) {
                if (c->phase == PHASE_HANDSHAKE) {
                        log_info("timeout during TLS handshake from %s",
                                 c->namaddr);
                        conn_close(c);
                        return;
                }
                smtpd_session_timeout(c->s);
        }
        conn_pump(c);
}

/* on_delay - the error sleep is over */
static void on_delay(void *arg)
{
        conn_pump(arg);
}

/* conn_wait - wait for the socket, once what TLS holds is sent (or the
 * socket is full: then wait until it can take more) */
static void conn_wait(struct conn *c, bool rd, bool wr, long ms)
{
        if (c->tls && tls_conn_flush(c->tls) == TLS_IO_WANT_WRITE)
                wr = true; /* a failed send shows up as an error on read */
        if (event_io_want(c->io, rd, wr, ms) < 0) {
                log_warn("event_io_want");
                conn_close(c);
        }
}

/* do_handshake - one step of the TLS handshake; 1 to go on, 0 waiting,
 * -1 closed */
static int do_handshake(struct conn *c)
{
        switch (tls_conn_handshake(c->tls)) {
        case TLS_IO_DONE:
                fill_tinfo(c);
                if (c->lc->req_ccert && !c->tinfo.ccert_trusted) {
                        /* smtpd_tls_req_ccert: no verified client
                         * certificate, no session */
                        char msg[300];
                        size_t put;
                        int n = snprintf(msg, sizeof(msg),
                                         "421 4.7.1 %s Error: client "
                                         "certificate not trusted\r\n",
                                         c->lc->conf->myhostname);
                        log_info("NOQUEUE: abort: TLS from %s: %s", c->namaddr,
                                 c->tinfo.ccert_present
                                     ? "client certificate not trusted"
                                     : "no client certificate");
                        (void)tls_conn_write(c->tls, msg, (size_t)n, &put);
                        if (c->s)
                                smtpd_session_eof(c->s);
                        conn_close(c);
                        return -1;
                }
                if (newtls_over(c)) {
                        if (c->s)
                                smtpd_session_eof(c->s);
                        conn_close(c);
                        return -1;
                }
                c->phase = PHASE_SMTP;
                if (c->s == NULL)
                        session_start(c); /* wrapper mode */
                else
                        smtpd_session_tls_done(c->s, &c->tinfo);
                return 1;
        case TLS_IO_WANT_READ:
                conn_wait(c, true, false, c->lc->tls_timeout_ms);
                return 0;
        case TLS_IO_WANT_WRITE:
                conn_wait(c, false, true, c->lc->tls_timeout_ms);
                return 0;
        default:
                /* "SSL_accept error from name[addr]: why" */
                log_info("%s", tls_conn_error(c->tls));
                if (c->s)
                        smtpd_session_eof(c->s);
                else
                        log_info("lost connection after CONNECT from %s",
                                 c->namaddr);
                conn_close(c);
                return -1;
        }
}

/* do_write - write pending replies; 1 all written, 0 waiting, -1 gone */
static int do_write(struct conn *c)
{
        const char *p;
        size_t n;

        for (;;) {
                smtpd_session_output(c->s, &p, &n);
                if (n == 0)
                        return 1;
                size_t put = 0;
                if (c->tls) {
                        enum tls_io r = tls_conn_write(c->tls, p, n, &put);
                        if (r == TLS_IO_WANT_READ || r == TLS_IO_WANT_WRITE) {
                                conn_wait(c, r == TLS_IO_WANT_READ,
                                          r == TLS_IO_WANT_WRITE,
                                          c->lc->timeout_ms);
                                return 0;
                        }
                        if (r != TLS_IO_DONE)
                                goto gone;
                } else {
                        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
                        if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
                                conn_wait(c, false, true, c->lc->timeout_ms);
                                return 0;
                        }
                        if (w < 0)
                                goto gone;
                        put = (size_t)w;
                }
                smtpd_session_consume(c->s, put);
        }
gone:
        smtpd_session_eof(c->s);
        conn_close(c);
        return -1;
}

/* do_read - read and feed the engine; 1 fed, 0 waiting, -1 gone */
static int do_read(struct conn *c)
{
        char buf[8192];
        size_t total = 0;

        while (total < READ_BUDGET) {
                size_t got = 0;
                if (c->tls) {
                        enum tls_io r =
                            tls_conn_read(c->tls, buf, sizeof(buf), &got);
                        if (r == TLS_IO_WANT_READ || r == TLS_IO_WANT_WRITE) {
                                if (total > 0)
                                        return 1;
                                conn_wait(c, r == TLS_IO_WANT_READ,
                                          r == TLS_IO_WANT_WRITE,
                                          c->lc->timeout_ms);
                                return 0;
                        }
                        if (r != TLS_IO_DONE) {
                                smtpd_session_eof(c->s);
                                return 1;
                        }
                } else {
                        ssize_t n = recv(c->fd, buf, sizeof(buf), 0);
                        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
                                if (total > 0)
                                        return 1;
                                conn_wait(c, true, false, c->lc->timeout_ms);
                                return 0;
                        }
                        if (n <= 0) {
                                smtpd_session_eof(c->s);
                                return 1;
                        }
                        got = (size_t)n;
                }
                total += got;
                smtpd_session_input(c->s, buf, got);
                if (smtpd_session_action(c->s) != SMTPD_ACTION_READ)
                        return 1;
                const char *p;
                size_t n;
                smtpd_session_output(c->s, &p, &n);
                if (n > 0)
                        return 1; /* replies first, then more input */
        }
        /* budget spent: let other sessions run and come back through a
         * zero-delay timer.  Not a socket wait: TLS may hold decrypted
         * input the socket no longer shows, and a short read timeout
         * would end as "timeout exceeded" whenever the client paused */
        event_io_want(c->io, false, false, 0);
        event_timer_add(c->delay, 0);
        return 0;
}

/* conn_pump - run the session until it must wait */
static void conn_pump(struct conn *c)
{
        for (;;) {
                if (c->phase == PHASE_HANDSHAKE) {
                        if (do_handshake(c) <= 0)
                                return;
                        continue;
                }
                unsigned delay = smtpd_session_delay(c->s);
                if (delay > 0) {
                        if (c->tls)
                                (void)tls_conn_flush(c->tls);
                        event_io_want(c->io, false, false, 0);
                        event_timer_add(c->delay, (long)delay * 1000);
                        return;
                }
                int w = do_write(c);
                if (w <= 0)
                        return;
                switch (smtpd_session_action(c->s)) {
                case SMTPD_ACTION_READ:
                        if (do_read(c) <= 0)
                                return;
                        break;
                case SMTPD_ACTION_STARTTLS: {
                        const char *err = NULL;
                        struct tls_start ts = {.ctx = c->lc->tls,
                                               .fd = c->fd,
                                               .namaddr = c->namaddr,
                                               .loglevel = -1,
                                               .coalesce = true};
                        if (c->lc->tls == NULL ||
                            tls_conn_start(&ts, &c->tls, &err) < 0) {
                                log_warnx("%s: cannot start TLS: %s",
                                          c->namaddr, err ? err : "no TLS");
                                smtpd_session_eof(c->s);
                                conn_close(c);
                                return;
                        }
                        idle_sweep_arm(c->srv);
                        c->phase = PHASE_HANDSHAKE;
                        break;
                }
                case SMTPD_ACTION_WAIT:
                        /* the socket watch stays as it is: a client
                         * waiting for the reply sends nothing, and on_io
                         * drops the watch if one does (no epoll_ctl pair
                         * per message).  Replies TLS holds go out now, or
                         * with the 250 when the socket was full. */
                        if (c->tls)
                                (void)tls_conn_flush(c->tls);
                        return;
                case SMTPD_ACTION_CLOSE:
                        conn_close(c);
                        return;
                }
        }
}

/* conn_close - end a connection; the session logs its disconnect line */
static void conn_close(struct conn *c)
{
        struct smtpd_server *srv = c->srv;

        receiving_set(c, false);
        for (size_t i = 0; i < srv->npending; i++)
                if (srv->pending_conn[i] == c)
                        srv->pending_conn[i] = NULL;
        if (c->mrun) { /* the client left while the milters worked */
                queue_msg_abort(c->msg); /* frees */
                c->msg = NULL;
        }
        milters_clear(c);
        smtpd_session_free(c->s);
        for (struct dns_token *t = srv->tokens; c->dns_inflight && t;
             t = t->next)
                if (t->conn == c) {
                        t->conn = NULL; /* on_dns or on_policy frees it */
                        c->dns_inflight--;
                }
        memo_free(c);
        smtpd_peer_clear(&c->peer);
        free(c->wait_rcpt);
        if (c->tls) {
                (void)tls_conn_shutdown(c->tls);
                tls_conn_free(c->tls);
        }
        event_io_free(c->io);
        event_timer_free(c->delay);
        close(c->fd);
        if (c->counted)
                atomic_fetch_sub(&srv->row[c->bucket], 1);
        if (c->prev)
                c->prev->next = c->next;
        else
                srv->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        srv->nconns--;
        free(c);
        if (srv->draining && srv->nconns == 0)
                event_loop_exit(srv->loop);
}

/* addr_bucket - FNV-1a of service and client address: like Postfix's
 * anvil, each service counts its own connections */
static unsigned addr_bucket(const char *service, const char *addr)
{
        uint32_t h = 2166136261u;

        for (const char *p = service; *p; p++)
                h = (h ^ (unsigned char)*p) * 16777619u;
        h = (h ^ (unsigned char)'|') * 16777619u;
        for (const char *p = addr; *p; p++)
                h = (h ^ (unsigned char)*p) * 16777619u;
        return h % CONN_BUCKETS;
}

/* too_many - refuse a new connection over the client's connection
 * concurrency or rate limit: Postfix's warning and 421 (not in wrapper
 * mode, where the client expects a TLS handshake first), then close */
static void too_many(struct conn *c, const char *limit, unsigned n)
{
        char msg[256];
        int len = snprintf(msg, sizeof(msg),
                           "421 4.7.0 %s Error: too many connections from "
                           "%s\r\n",
                           c->lc->conf->myhostname, c->addr);

        log_warnx("Connection %s limit exceeded: %u from %s for service %s",
                  limit, n, c->namaddr, c->lc->service);
        if (!c->lc->wrapper && len > 0)
                (void)send(c->fd, msg, (size_t)len, MSG_NOSIGNAL);
        conn_close(c);
}

static void set_namaddr(struct conn *c);
static void conn_begin(struct conn *c);
static bool peer_cache_get(struct conn *c);
static void peer_done(struct conn *c);

/* conn_new - a connection was accepted */
static void conn_new(struct smtpd_server *srv, struct lconf *lc, int fd,
                     const struct sockaddr_storage *sa)
{
        struct conn *c = xcalloc(1, sizeof(*c));

        c->srv = srv;
        c->lc = lc;
        c->fd = fd;
        if (sa->ss_family == AF_INET) {
                const struct sockaddr_in *s4 = (const void *)sa;
                inet_ntop(AF_INET, &s4->sin_addr, c->addr, sizeof(c->addr));
                snprintf(c->port, sizeof(c->port), "%u", ntohs(s4->sin_port));
        } else {
                const struct sockaddr_in6 *s6 = (const void *)sa;
                inet_ntop(AF_INET6, &s6->sin6_addr, c->addr, sizeof(c->addr));
                snprintf(c->port, sizeof(c->port), "%u", ntohs(s6->sin6_port));
                if (strncmp(c->addr, "::ffff:", 7) == 0 &&
                    strchr(c->addr + 7, '.'))
                        memmove(c->addr, c->addr + 7, strlen(c->addr + 7) + 1);
        }
        /* TCP_NODELAY comes from the listener (smtpd_server_run) */
        c->io = event_io_new_armed(srv->loop, fd, on_io, c);
        c->delay = event_timer_new(srv->loop, on_delay, c);
        c->in_mynetworks = smtpd_checks_mynetworks(lc->checks, c->addr);
        c->next = srv->conns;
        if (srv->conns)
                srv->conns->prev = c;
        srv->conns = c;
        srv->nconns++;

        c->bucket = addr_bucket(lc->service, c->addr);
        atomic_fetch_add(&srv->row[c->bucket], 1);
        c->counted = true;
        c->limit_exempt = smtpd_checks_limit_exempt(lc->checks, c->addr);
        if (lc->conf->smtpd_peername_lookup && !peer_cache_get(c)) {
                /* the name first, as Postfix: it is in every log line */
                smtpd_peer_unknown(&c->peer);
                set_namaddr(c);
                c->peer_wait = true; /* the socket is not watched yet */
                peer_step(c);
                return;
        }
        if (lc->conf->smtpd_peername_lookup) {
                peer_done(c);
                return;
        }
        smtpd_peer_unknown(&c->peer);
        set_namaddr(c);
        conn_begin(c);
}

/* set_namaddr - "name[addr]" (":port" with smtpd_client_port_logging) */
static void set_namaddr(struct conn *c)
{
        if (c->lc->settings.port_logging)
                snprintf(c->namaddr, sizeof(c->namaddr), "%s[%s]:%s",
                         c->peer.name, c->addr, c->port);
        else
                snprintf(c->namaddr, sizeof(c->namaddr), "%s[%s]", c->peer.name,
                         c->addr);
}

/* now_s - CLOCK_MONOTONIC seconds */
static time_t now_s(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec;
}

/* peer_slot - the cache entry for an address */
static struct peer_cached *peer_slot(struct smtpd_server *srv, const char *addr)
{
        if (srv->peer_cache == NULL)
                srv->peer_cache =
                    xcalloc(PEER_CACHE_N, sizeof(struct peer_cached));
        return &srv->peer_cache[addr_bucket("", addr) % PEER_CACHE_N];
}

/* peer_cache_get - the client's names from the cache; false when they
 * are not there (or no longer hold) */
static bool peer_cache_get(struct conn *c)
{
        struct peer_cached *e = peer_slot(c->srv, c->addr);

        if (e->expires == 0 || strcmp(e->addr, c->addr) != 0 ||
            e->expires <= now_s())
                return false;
        smtpd_peer_copy(&c->peer, &e->peer);
        return true;
}

/* memo_ttl - how long the session's answer for name/type holds */
static unsigned memo_ttl(struct conn *c, const char *name, int type)
{
        struct dns_memo *m = name ? memo_find(c, name, type) : NULL;

        return m ? m->ttl : 0;
}

/* peer_cache_put - remember the names just found, as long as the answers
 * they come from hold; a temporary failure is not remembered */
static void peer_cache_put(struct conn *c)
{
        const struct smtpd_peer *p = &c->peer;
        bool v6 = strchr(c->addr, ':') != NULL;
        char *q = smtpd_reverse_name(c->addr, v6 ? "ip6.arpa" : "in-addr.arpa");
        unsigned ttl = memo_ttl(c, q, DNS_T_PTR);

        free(q);
        if (p->reverse_status == SMTPD_PEER_OK) {
                unsigned f = memo_ttl(c, p->reverse, v6 ? DNS_T_AAAA : DNS_T_A);
                ttl = f < ttl ? f : ttl;
        }
        if (ttl == 0 || p->name_status == SMTPD_PEER_TEMP ||
            p->reverse_status == SMTPD_PEER_TEMP)
                return;
        struct peer_cached *e = peer_slot(c->srv, c->addr);
        snprintf(e->addr, sizeof(e->addr), "%s", c->addr);
        smtpd_peer_copy(&e->peer, p);
        e->expires = now_s() + ttl;
}

/* peer_done - the names are known: Postfix's warning, then on */
static void peer_done(struct conn *c)
{
        if (c->peer.warning)
                log_warnx("%s", c->peer.warning);
        set_namaddr(c);
        conn_begin(c);
}

/* peer_step - the client's names, as far as DNS answered: once all is
 * known, the connection goes on */
static void peer_step(struct conn *c)
{
        if (smtpd_peer_lookup(c->addr, conn_dns, c, &c->peer) ==
            SMTPD_DNS_PENDING)
                return;
        c->peer_wait = false;
        peer_cache_put(c);
        peer_done(c);
}

/* conn_begin - past the name lookup: the client's limits, then the TLS
 * handshake (wrapper mode) or the session */
static void conn_begin(struct conn *c)
{
        struct smtpd_server *srv = c->srv;
        struct lconf *lc = c->lc;
        int fd = c->fd;
        unsigned now = 0; /* the client's connections, this one included */

        for (size_t r = 0; r < srv->nrows; r++)
                now +=
                    atomic_load(&srv->conn_count[r * CONN_BUCKETS + c->bucket]);
        if (lc->conn_limit > 0 && !c->limit_exempt &&
            now > (unsigned)lc->conn_limit) {
                too_many(c, "concurrency", now);
                return;
        }
        unsigned rate = rate_over(c, RATE_CONN, true);
        if (rate > 0) {
                too_many(c, "rate", rate);
                return;
        }
        if (lc->wrapper && rate_over(c, RATE_NEWTLS, false) > 0) {
                /* no handshake just to say no, as Postfix */
                log_warnx("Refusing TLS service request from %s for service "
                          "%s",
                          c->namaddr, lc->service);
                conn_close(c);
                return;
        }
        if (lc->wrapper) {
                const char *err = NULL;
                struct tls_start ts = {.ctx = lc->tls,
                                       .fd = fd,
                                       .namaddr = c->namaddr,
                                       .loglevel = -1,
                                       .coalesce = true};
                log_info("connect from %s", c->namaddr);
                c->connect_logged = true;
                if (tls_conn_start(&ts, &c->tls, &err) < 0) {
                        log_warnx("%s: cannot start TLS: %s", c->namaddr, err);
                        conn_close(c);
                        return;
                }
                idle_sweep_arm(srv);
                c->phase = PHASE_HANDSHAKE;
        } else {
                c->phase = PHASE_SMTP;
                session_start(c);
        }
        conn_pump(c);
}

/* accept_ctx - what an accept watcher needs */
struct accept_ctx {
        struct smtpd_server *srv;
        struct lconf *lc;
};

/* on_accept_ctx - accept what is pending, then wait for more */
static void on_accept_ctx(int fd, int what, void *arg)
{
        struct accept_ctx *a = arg;

        (void)what;
        for (int i = 0; i < 64 && !a->srv->draining; i++) {
                struct sockaddr_storage sa;
                socklen_t len = sizeof(sa);
                int cfd = accept4(fd, (struct sockaddr *)&sa, &len,
                                  SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (cfd < 0) {
                        if (errno == EMFILE || errno == ENFILE ||
                            errno == ENOBUFS || errno == ENOMEM) {
                                /* out of descriptors: the socket stays
                                 * readable, so back off instead of
                                 * spinning; retry when the timer fires */
                                log_warn("accept");
                                event_io_want(a->lc->io, false, false,
                                              ACCEPT_BACKOFF_MS);
                                return;
                        }
                        if (errno != EAGAIN && errno != EINTR &&
                            errno != ECONNABORTED)
                                log_warn("accept");
                        break;
                }
                conn_new(a->srv, a->lc, cfd, &sa);
        }
        if (!a->srv->draining)
                event_io_want(a->lc->io, true, false, 0);
}

/* on_term - stop now: open transfers were never acknowledged */
static void on_term(void *arg)
{
        struct smtpd_server *srv = arg;

        while (srv->conns)
                conn_close(srv->conns);
        event_loop_exit(srv->loop);
}

/* on_drain - a reload: stop accepting, finish the sessions */
static void on_drain(void *arg)
{
        struct smtpd_server *srv = arg;

        srv->draining = true;
        for (size_t i = 0; i < srv->nlc; i++)
                event_io_want(srv->lc[i].io, false, false, 0);
        if (srv->nconns == 0)
                event_loop_exit(srv->loop);
}

/* idle_sweep - TLS sessions with no I/O since the last sweep give their
 * record buffers back (OpenSSL allocates them again on the next record);
 * the timer runs while there are TLS sessions */
static void idle_sweep(void *arg)
{
        struct smtpd_server *srv = arg;
        bool any = false;
        size_t released = 0;

        for (struct conn *c = srv->conns; c; c = c->next) {
                if (c->tls == NULL)
                        continue;
                any = true;
                if (!c->busy && c->tls_buffers) {
                        tls_conn_release_buffers(c->tls);
                        c->tls_buffers = false;
                        released++;
                }
                c->busy = false;
        }
        /* many sessions went quiet together (a burst of connections that
         * now idle): hand the freed pages back, or the heap keeps them */
        if (released >= IDLE_TRIM_SESSIONS)
                malloc_trim(0);
        srv->idle_armed = any;
        if (any)
                event_timer_add(srv->idle_timer, TLS_IDLE_SWEEP_MS);
}

/* idle_sweep_arm - a TLS session started: make sure the sweep runs */
static void idle_sweep_arm(struct smtpd_server *srv)
{
        if (srv->idle_armed || srv->idle_timer == NULL)
                return;
        srv->idle_armed = true;
        event_timer_add(srv->idle_timer, TLS_IDLE_SWEEP_MS);
}

/* on_turn - the end of a loop turn: the turn's log lines in one write */
static void on_turn(void *arg)
{
        (void)arg;
        log_flush();
}

/* smtpd_server_run - the worker's loop */
int smtpd_server_run(struct smtpd_server *srv, int slot)
{
        struct accept_ctx *acc = xcalloc(srv->nlc ? srv->nlc : 1, sizeof(*acc));

        signal(SIGPIPE, SIG_IGN);
        signal(SIGHUP, SIG_IGN); /* reloads are the supervisor's */
        /* this slot's row: whatever a dead predecessor counted is gone
         * with its sockets */
        if (slot < 0 || (size_t)slot >= srv->nrows)
                slot = 0;
        srv->row = srv->conn_count + (size_t)slot * CONN_BUCKETS;
        for (size_t b = 0; b < CONN_BUCKETS; b++)
                atomic_store(&srv->row[b], 0);
        srv->loop = event_loop_new();
        if (srv->loop == NULL) {
                log_warnx("cannot create the event loop");
                free(acc);
                return -1;
        }
        srv->commit_timer = event_timer_new(srv->loop, commit_pending, srv);
        srv->idle_timer = event_timer_new(srv->loop, idle_sweep, srv);
        srv->sig_term = event_signal_new(srv->loop, SIGTERM, on_term, srv);
        srv->sig_usr1 = event_signal_new(srv->loop, SIGUSR1, on_drain, srv);
        /* the supervisor forks with both blocked: handled from here on */
        sigset_t sigs;
        sigemptyset(&sigs);
        sigaddset(&sigs, SIGTERM);
        sigaddset(&sigs, SIGUSR1);
        sigprocmask(SIG_UNBLOCK, &sigs, NULL);
        for (size_t i = 0; i < srv->nlc; i++) {
                acc[i] = (struct accept_ctx){.srv = srv, .lc = &srv->lc[i]};
                /* replies go out in one write each, with no Nagle delay
                 * behind them: set on the listener, Linux copies it to
                 * every accepted socket (one system call per worker, not
                 * per connection) */
                (void)setsockopt(srv->lc[i].fd, IPPROTO_TCP, TCP_NODELAY,
                                 &(int){1}, sizeof(int));
                srv->lc[i].io = event_io_new_armed(srv->loop, srv->lc[i].fd,
                                                   on_accept_ctx, &acc[i]);
                event_io_want(srv->lc[i].io, true, false, 0);
        }
        /* log lines wait for the end of their turn (or a commit): a busy
         * worker writes its log once per turn, not once per line */
        log_hold(true);
        event_loop_on_turn(srv->loop, on_turn, NULL);
        event_loop_run(srv->loop);
        /* freeing the signal events restores the default actions: a late
         * SIGUSR1 or SIGTERM must not kill the worker while it finishes */
        sigprocmask(SIG_BLOCK, &sigs, NULL);
        while (srv->conns)
                conn_close(srv->conns);
        commit_pending(srv);
        for (size_t i = 0; i < srv->nlc; i++) {
                event_io_free(srv->lc[i].io);
                sasl_dovecot_free(srv->lc[i].sasl);
                srv->lc[i].sasl = NULL;
        }
        while (srv->policies) {
                struct policy_conn *pc = srv->policies;
                srv->policies = pc->next;
                policy_client_free(pc->pc); /* no more callbacks */
                free(pc->service);
                free(pc);
        }
        dns_resolver_free(srv->dns); /* no more callbacks */
        srv->dns = NULL;
        while (srv->tokens) {
                struct dns_token *t = srv->tokens;
                srv->tokens = t->next;
                free(t->name);
                free(t);
        }
        event_timer_free(srv->commit_timer);
        event_timer_free(srv->idle_timer);
        event_timer_free(srv->sig_term);
        event_timer_free(srv->sig_usr1);
        event_loop_free(srv->loop);
        free(srv->pending_msg);
        free(srv->pending_conn);
        free(acc);
        log_hold(false); /* the caller _exits */
        return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * qmgr - the queue manager: one process, one event loop.  It picks up
 * committed messages (notification socket, periodic scans), routes each
 * recipient to a transport and next hop, runs deliveries with limits per
 * destination, records every outcome crash-safely in the queue file,
 * retries with exponential back-off, and returns RFC 3464 delivery status
 * notifications.  docs/queue.md explains the scheduling and the request
 * protocol used by `postern queue`.
 *
 * The routing, back-off and DSN functions are pure and exposed for unit
 * tests; qmgr_new / qmgr_run are the daemon.
 */
#ifndef POSTERN_QMGR_H
#define POSTERN_QMGR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "base/base.h"

struct conf;
struct queue_env;

/* ---- routing ---- */

enum qmgr_transport {
        QMGR_T_SMTP,    /* smtp, relay: the SMTP client */
        QMGR_T_LMTP,    /* lmtp: the SMTP client speaking LMTP */
        QMGR_T_LOCAL,   /* Maildir under data_directory */
        QMGR_T_VIRTUAL, /* virtual_mailbox_maps */
        QMGR_T_DISCARD, /* accept and drop */
        QMGR_T_ERROR,   /* bounce with the given text */
        QMGR_T_RETRY,   /* defer with the given text */
};

/* A delivery transport that master.cf defines (a unix service running
 * smtp, lmtp, discard or error), besides the built-in ones (smtp, relay,
 * lmtp, local, virtual, discard, error, retry).  One of the same name
 * replaces the built-in one.  Strings and conf are borrowed. */
struct qmgr_transport_def {
        const char *name;         /* "smtp-amavis" */
        enum qmgr_transport kind; /* SMTP, LMTP, DISCARD, ERROR, RETRY */
        const struct conf *conf;  /* main.cf with the service's -o
                                     overrides; NULL: main.cf's */
        long long maxproc;        /* concurrent deliveries in total;
                                     0: no limit */
};

/* qmgr_transport_find - what a transport name (len bytes) is: one of
 * defs (n of them), else a built-in one.  Returns the def (NULL for a
 * built-in one) in *def if def is not NULL; 0 with *kind, or -1 when the
 * name is unknown. */
int qmgr_transport_find(const struct qmgr_transport_def *defs, size_t n,
                        const char *name, size_t len, enum qmgr_transport *kind,
                        const struct qmgr_transport_def **def);

/* Where one recipient goes.  name, nexthop and text are heap-owned. */
struct qmgr_route {
        enum qmgr_transport transport;
        char *name;       /* the transport's name: "smtp", "relay",
                             "smtp-amavis", "local"... */
        char *nexthop;    /* smtp: "example.org", "[h]:25"; lmtp:
                             "unix:private/dovecot-lmtp", "inet:h:24";
                             else NULL */
        char *policy_key; /* smtp, lmtp: TLS policy key: the nexthop */
        char *text;       /* error:/retry: text, or NULL */
        bool aliases;     /* local(8) would deliver it: alias_maps apply
                             (also when mailbox_transport takes it on) */
};

struct qmgr_routes;

/* qmgr_routes_new - open what routing needs from conf (transport_maps,
 * tables in virtual_mailbox_domains); defs (n, may be NULL) are the
 * master.cf transports.  conf and defs are borrowed and must outlive the
 * result.  0, or -1 with *err (caller frees). */
int qmgr_routes_new(const struct conf *, const struct qmgr_transport_def *defs,
                    size_t n, struct qmgr_routes **, char **err);
/* qmgr_routes_free - NULL ok. */
void qmgr_routes_free(struct qmgr_routes *);
/* qmgr_route - route one recipient address of mail from sender (the
 * envelope sender, "" for <>; NULL: unknown, relayhost alone applies).  0
 * with *out filled in (clear with qmgr_route_clear), or -1 with *err
 * (caller frees) on a table error or a malformed transport_maps entry (the
 * caller defers). */
int qmgr_route(struct qmgr_routes *, const char *sender, const char *rcpt,
               struct qmgr_route *out, char **err);
/* qmgr_route_filter - route one recipient of a message that has a
 * content filter ("transport:nexthop", as content_filter or a FILTER
 * action give it): that transport and next hop, whatever the address,
 * transport_maps or relayhost say, as Postfix's queue manager does; an
 * empty next hop is default_filter_nexthop, else the recipient domain.
 * 0 with *out, or -1 with *err (caller frees) for an unknown transport
 * (the caller defers: nothing goes out unfiltered). */
int qmgr_route_filter(struct qmgr_routes *, const char *filter,
                      const char *rcpt, struct qmgr_route *out, char **err);
/* qmgr_route_clear - free the strings of a route. */
void qmgr_route_clear(struct qmgr_route *);
/* qmgr_transport_name - "smtp", "local", ... (static). */
const char *qmgr_transport_name(enum qmgr_transport);

/* ---- aliases (local(8)'s alias_maps) ---- */

struct qmgr_aliases;

/* qmgr_aliases_new - open alias_maps (nis: entries left out) for
 * recipients routed with routes (both borrowed, must outlive it).  Always
 * 0; *warn (caller frees, or NULL) says why the tables could not be
 * opened: a configured alias_maps then makes every expansion defer (the
 * default one is ignored without a word). */
int qmgr_aliases_new(const struct conf *, struct qmgr_routes *,
                     struct qmgr_aliases **, char **warn);
/* qmgr_aliases_free - NULL ok. */
void qmgr_aliases_free(struct qmgr_aliases *);

enum qmgr_alias_status {
        QMGR_ALIAS_NONE,     /* no alias: deliver to the mailbox */
        QMGR_ALIAS_EXPANDED, /* replaced by addrs */
        QMGR_ALIAS_DEFER,    /* keep it: a table error, a command, a file */
        QMGR_ALIAS_BOUNCE,   /* an alias database loop */
};

/* What one recipient's aliases expand to. */
struct qmgr_alias_result {
        enum qmgr_alias_status status;
        struct strlist addrs; /* EXPANDED: the new recipients, no two equal */
        bool *mailbox;        /* per addr: a local mailbox, to be delivered
                                 without another expansion */
        char dsn[16];         /* DEFER, BOUNCE: "4.3.0", "5.4.6" */
        char *text;           /* DEFER, BOUNCE: why */
};

/* qmgr_alias_expand - expand recipient rcpt (routed local by
 * qmgr_route: rt.aliases) of mail from sender, recursively for the local
 * names in the result, as Postfix's local(8): user+ext then user,
 * unqualified names with @myorigin, propagate_unmatched_extensions
 * "alias".  Clear *r with qmgr_alias_result_clear. */
void qmgr_alias_expand(struct qmgr_aliases *, const char *sender,
                       const char *rcpt, struct qmgr_alias_result *r);
/* qmgr_alias_result_clear - free a result. */
void qmgr_alias_result_clear(struct qmgr_alias_result *);
/* qmgr_alias_specs - the tables of an alias_maps value the queue
 * manager opens (nis: and nisplus: left out), space separated (heap). */
char *qmgr_alias_specs(const char *alias_maps);
/* qmgr_alias_undeliverable - whether an element of an alias value (as
 * table_alias_split gives it) is a |command, a /file or an
 * :include:/file, which postern does not deliver: the recipient is
 * deferred with 4.3.0. */
bool qmgr_alias_undeliverable(const char *element);

/* ---- retries ---- */

/* qmgr_backoff - seconds to wait after the attempts-th failed attempt
 * (1 = the first): min doubled per attempt, never above max. */
long long qmgr_backoff(long long min, long long max, unsigned attempts);

/* ---- delivery status notifications ---- */

enum qmgr_dsn_action {
        QMGR_DSN_FAILED,
        QMGR_DSN_DELAYED,
        QMGR_DSN_DELIVERED,
};

/* One recipient reported in a DSN. */
struct qmgr_dsn_rcpt {
        size_t index;       /* recipient in the envelope */
        const char *status; /* "5.1.1" */
        const char *diag;   /* reply or reason text */
        bool smtp;          /* diag came from the SMTP client: an SMTP
                               reply in it ("... said: 550 ...") becomes
                               "Diagnostic-Code: smtp; 550 ...", other
                               text "X-Postfix; text" */
};

/* qmgr_dsn_compose - an RFC 3464 multipart/report for env's sender about
 * the given recipients, into out (CRLF line ends), ready to be written to
 * a queue file.  msg/msglen is the original message (headers only are
 * returned for RET=HDRS, and for RET=FULL messages over 1 MB...): see
 * docs/queue.md.  now is the report time; msgid_out (optional) gets the
 * Message-ID (caller frees). */
void qmgr_dsn_compose(const struct conf *, const struct queue_env *,
                      enum qmgr_dsn_action, const struct qmgr_dsn_rcpt *,
                      size_t n, const char *msg, size_t msglen, long long now,
                      struct strbuf *out);
/* qmgr_dsn_wanted - whether recipient r's NOTIFY= asks for action (no
 * NOTIFY means failures only, as RFC 3461 says). */
bool qmgr_dsn_wanted(unsigned notify, enum qmgr_dsn_action);

/* ---- message headers (postern send -t) ---- */

/* qmgr_addrlist_parse - the addr-specs of an RFC 5322 address-list
 * header value (To:, Cc:, Bcc:): "Name <a@b>, c@d (comment), group: e@f;"
 * gives a@b, c@d, e@f, appended to out.  Quoted strings, comments and
 * angle brackets are honoured; malformed pieces are skipped, never
 * fatal. */
void qmgr_addrlist_parse(const char *value, struct strlist *out);

/* ---- the daemon ---- */

struct qmgr;

/* qmgr_new - open the queue, bind the notification socket (chowned to
 * uid/gid unless uid is (uid_t)-1, so an unprivileged smtpd can write to
 * it), open the tables and create the event loop and the SMTP clients
 * (which read their keys; one more for each of defs with a conf of its
 * own), while still privileged.  conf and defs (n, the master.cf
 * transports; may be NULL) are borrowed.  0, or -1 with *err (caller
 * frees). */
int qmgr_new(const struct conf *, const struct qmgr_transport_def *defs,
             size_t n, uid_t uid, gid_t gid, struct qmgr **, char **err);
/* qmgr_run - the event loop, until SIGTERM/SIGINT.  0, or -1 on a fatal
 * start-up error (logged). */
int qmgr_run(struct qmgr *);
/* qmgr_free - NULL ok. */
void qmgr_free(struct qmgr *);

/* qmgr_request - ask a running queue manager (through QUEUE_DIR/qmgr.sock)
 * to do cmd: "hold ID", "release ID", "delete ID", "flush".  0 with the
 * answer in reply ("ok ..." or "error ..."); -1 with *running false when
 * no queue manager listens (the caller may then act on the files
 * itself), or with *running true and *err (caller frees) when it did not
 * answer. */
int qmgr_request(const char *queue_dir, const char *cmd, struct strbuf *reply,
                 bool *running, char **err);

#endif

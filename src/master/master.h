/* SPDX-License-Identifier: MIT */
/*
 * master - the supervisor: master.cf, listeners, worker processes.
 *
 * master.cf is read as Postfix writes it: one service per logical line
 * (lines starting with white space continue it), fields service, type,
 * private, unpriv, chroot, wakeup, maxproc, command and its arguments.
 * postern runs the inet services whose command is smtpd, with their
 * "-o name=value" overrides.  A unix service whose command is smtp or lmtp
 * (or discard or error) defines a delivery transport named by the service,
 * which the queue manager runs in-process with the service's overrides and
 * its maxproc as the limit of concurrent deliveries.  Every other service
 * is reported and ignored.
 */
#ifndef POSTERN_MASTER_H
#define POSTERN_MASTER_H

#include <stdbool.h>
#include <stddef.h>

#include "base/base.h"

struct conf;
struct qmgr_transport_def;

/* What a service of master.cf is to postern. */
enum master_kind {
        MASTER_SMTPD,    /* inet, smtpd: a listener */
        MASTER_DELIVERY, /* unix, smtp/lmtp/discard/error: a transport */
};

/* One service of master.cf that postern runs. */
struct master_service {
        enum master_kind kind;
        char *name;               /* the service field as written: a
                                     listen address, or a transport name */
        char *command;            /* "smtpd", "smtp", "lmtp", "discard",
                                     "error" */
        char *host;               /* smtpd: listen address, or NULL for
                                     inet_interfaces; else NULL */
        char *port;               /* smtpd: decimal port; else NULL */
        long long maxproc;        /* the maxproc column; -1 for "-"
                                     (default_process_limit), 0: none */
        struct strlist overrides; /* "-o name=value" settings, in order */
        int line;                 /* where it starts in master.cf */
};

/* master_cf_parse - the smtpd services and delivery transports of a
 * master.cf text (len bytes; label names the file in messages), in file
 * order.  Other services are logged as warnings and skipped.  Returns 0
 * with *out (free with master_services_free), or -1 with *err ("FILE,
 * line N: why", caller frees). */
int master_cf_parse(const char *label, const char *data, size_t len,
                    struct master_service **out, size_t *n, char **err);
/* master_cf_read - DIR/master.cf; a missing file gives one service,
 * "smtp" on port 25 of inet_interfaces, as Postfix's default does. */
int master_cf_read(const char *dir, struct master_service **out, size_t *n,
                   char **err);
/* master_services_free - release what master_cf_* returned. */
void master_services_free(struct master_service *, size_t);
/* master_cf_listeners - how many of the services are smtpd listeners. */
size_t master_cf_listeners(const struct master_service *, size_t n);
/* master_transports - the MASTER_DELIVERY services as the queue manager
 * takes them (qmgr_new, qmgr_routes_new): confs[i] is service i's
 * configuration (main.cf with its overrides, or NULL for main), which
 * gives a transport with overrides its own conf and maxproc "-" its
 * default_process_limit.  *out borrows names and confs (free the array
 * alone); *n transports. */
void master_transports(const struct master_service *, size_t nsvc,
                       struct conf *const *confs, const struct conf *main,
                       struct qmgr_transport_def **out, size_t *n);
/* master_cf_wants_qmgr - whether DIR/master.cf has a service whose
 * command is qmgr (Postfix's "qmgr unix n - n 300 1 qmgr"); a missing
 * master.cf means yes, as Postfix's default has one. */
bool master_cf_wants_qmgr(const char *dir);

/* How `postern serve` was started. */
struct master_opts {
        const char *config_dir;
        const struct strlist *overrides; /* -o name=value */
        int workers;                     /* 0: one per core */
        bool foreground_stderr;          /* copy log lines to stderr */
};

/* master_run - the supervisor: bind, fork workers, supervise until
 * SIGTERM/SIGINT; SIGHUP reloads.  Returns the exit status (0 after a
 * clean stop, 1 when the configuration or a listener fails at start). */
int master_run(const struct master_opts *);

#endif

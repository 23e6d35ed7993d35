/* SPDX-License-Identifier: MIT */
/*
 * master - the supervisor: master.cf, listeners, worker processes.
 *
 * master.cf is read as Postfix writes it: one service per logical line
 * (lines starting with white space continue it), fields service, type,
 * private, unpriv, chroot, wakeup, maxproc, command and its arguments.
 * postern runs the inet services whose command is smtpd, with their
 * "-o name=value" overrides; every other service is reported and ignored.
 */
#ifndef POSTERN_MASTER_H
#define POSTERN_MASTER_H

#include <stdbool.h>
#include <stddef.h>

#include "base/base.h"

/* One inet smtpd service of master.cf. */
struct master_service {
        char *name;               /* the service field as written */
        char *host;               /* listen address, or NULL for
                                     inet_interfaces */
        char *port;               /* decimal port */
        struct strlist overrides; /* "-o name=value" settings, in order */
        int line;                 /* where it starts in master.cf */
};

/* master_cf_parse - the smtpd services of a master.cf text (len bytes;
 * label names the file in messages).  Other services are logged as
 * warnings and skipped.  Returns 0 with *out (free with
 * master_services_free), or -1 with *err ("FILE, line N: why", caller
 * frees). */
int master_cf_parse(const char *label, const char *data, size_t len,
                    struct master_service **out, size_t *n, char **err);
/* master_cf_read - DIR/master.cf; a missing file gives one service,
 * "smtp" on port 25 of inet_interfaces, as Postfix's default does. */
int master_cf_read(const char *dir, struct master_service **out, size_t *n,
                   char **err);
/* master_services_free - release what master_cf_* returned. */
void master_services_free(struct master_service *, size_t);
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

/* SPDX-License-Identifier: MIT */
/*
 * local - final delivery into Maildir mailboxes, inline in the queue
 * manager.  Two kinds of recipient (docs/local.md):
 *
 *   local   (mydestination): $data_directory/mail/LOCALPART/Maildir/,
 *           LOCALPART lower-cased and cut at recipient_delimiter; any
 *           local part is accepted (postern has no system users).
 *   virtual (virtual_mailbox_domains): virtual_mailbox_maps gives the path
 *           below virtual_mailbox_base for "user@domain" (or the catch-all
 *           "@domain"); a trailing '/' means Maildir.  An unknown
 *           recipient bounces with 5.1.1.
 *
 * A message is written to tmp/ under a unique name, fsynced, renamed into
 * new/ and new/ is fsynced: after LOCAL_SENT it survives a crash.
 * Return-Path and Delivered-To are prepended as Postfix's local(8) and
 * virtual(8) do, and line ends become LF.
 */
#ifndef POSTERN_LOCAL_H
#define POSTERN_LOCAL_H

#include <stdbool.h>
#include <stddef.h>

#include "base/base.h"

struct conf;
struct queue_file;

enum local_status {
        LOCAL_SENT,   /* in the mailbox */
        LOCAL_DEFER,  /* temporary failure: retry later */
        LOCAL_BOUNCE, /* permanent failure: return to sender */
};

/* The outcome of one recipient's delivery. */
struct local_result {
        enum local_status status;
        char dsn[16];   /* "2.0.0", "4.3.0", "5.1.1" */
        char text[512]; /* "delivered to maildir", or why not */
};

struct local;

/* local_new - open virtual_mailbox_maps of conf (borrowed; must outlive
 * the handle).  0, or -1 with *err (caller frees) naming the table. */
int local_new(const struct conf *, struct local **, char **err);
/* local_free - NULL ok. */
void local_free(struct local *);

/* local_maildir - the Maildir directory (ending in '/') for recipient
 * rcpt, in *path (caller frees).  virtual selects virtual_mailbox_maps
 * over the mydestination rule.  0, or -1 with r filled in (bounce for an
 * unknown or malformed recipient, defer for a table error). */
int local_maildir(struct local *, const char *rcpt, bool virtual, char **path,
                  struct local_result *r);

/* local_deliver - deliver recipient i of the open queue file qf and log
 * Postfix's "QUEUEID: to=<...>, relay=local|virtual, ... status=..."
 * line.  The outcome is in *r; the function itself does not fail. */
void local_deliver(struct local *, struct queue_file *qf, size_t i,
                   bool virtual, struct local_result *r);

#endif

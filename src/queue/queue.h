/* SPDX-License-Identifier: MIT */
/*
 * queue - the durable mail queue: one file per message, in state
 * directories under queue_directory (tmp/, ready/, deferred/, hold/,
 * corrupt/, maildrop/).  The file format, the queue ID scheme, the state
 * machine and the crash-safety argument are in docs/queue-format.md.
 *
 * Writer (smtpd, postern send):
 *   queue_msg_new -> queue_msg_write (chunks, bounded memory) ->
 *   queue_msg_finish (envelope, trailer) ->
 *   queue_commit (sync the batch: fdatasync or one syncfs; rename it into
 *   ready/, one directory fsync) ->
 *   only now reply "250 2.0.0 Ok: queued as ID" -> queue_notify.
 * Reader (qmgr, postern queue): queue_list, queue_file_open,
 *   queue_file_read_body, queue_file_set_rcpt + queue_file_sync,
 *   queue_move, queue_delete.
 *
 * Plain blocking file I/O, no libevent, no OpenSSL.  Processes are single
 * threaded: every const char **errstr points into one module-static buffer,
 * valid until the next failing queue_* call.
 */
#ifndef POSTERN_QUEUE_H
#define POSTERN_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* Committed states, one directory each (tmp/ is not a state). */
#define QUEUE_STATES(X)                                                        \
        X(READY, "ready")                                                      \
        X(DEFERRED, "deferred")                                                \
        X(HOLD, "hold")                                                        \
        X(CORRUPT, "corrupt")                                                  \
        X(MAILDROP, "maildrop")

#define QUEUE_STATE_ENUM(e, s) QUEUE_##e,
enum queue_state { QUEUE_STATES(QUEUE_STATE_ENUM) QUEUE_NSTATES };
#undef QUEUE_STATE_ENUM

/* queue_state_name - directory name of a state ("ready"); static. */
const char *queue_state_name(enum queue_state);
/* queue_state_parse - state from its name; 0, or -1 when unknown. */
int queue_state_parse(const char *, enum queue_state *);

/* Per-recipient delivery state. */
enum queue_rcpt_state {
        QUEUE_RCPT_PENDING,
        QUEUE_RCPT_DELIVERED,
        QUEUE_RCPT_FAILED,
        QUEUE_RCPT_DEFERRED,
};
/* queue_rcpt_state_name - "pending", "delivered", "failed", "deferred". */
const char *queue_rcpt_state_name(enum queue_rcpt_state);

/* DSN NOTIFY= (RFC 3461); 0 means "not given". NEVER excludes the rest. */
#define QUEUE_NOTIFY_NEVER 0x1u
#define QUEUE_NOTIFY_SUCCESS 0x2u
#define QUEUE_NOTIFY_FAILURE 0x4u
#define QUEUE_NOTIFY_DELAY 0x8u

/* DSN RET= (RFC 3461). */
enum queue_ret { QUEUE_RET_NONE, QUEUE_RET_FULL, QUEUE_RET_HDRS };
/* MAIL FROM BODY= (RFC 6152, RFC 3030). */
enum queue_body {
        QUEUE_BODY_NONE,
        QUEUE_BODY_7BIT,
        QUEUE_BODY_8BITMIME,
        QUEUE_BODY_BINARYMIME,
};

/*
 * Strings in these structures are heap-owned (xstrdup) by the structure and
 * freed by queue_env_clear.  NULL means "absent" (the record is not
 * written); "" is a present, empty value.  Strings cannot hold NUL; any
 * other byte, CR and LF included, is stored verbatim and cannot forge a
 * record (every value is length-prefixed).
 */
struct queue_rcpt {
        char *addr;  /* envelope recipient, required */
        char *orcpt; /* DSN ORCPT "type;address" as received, or NULL */
        unsigned notify;
        bool mailbox; /* an alias that names itself: the mailbox, no
                         further alias expansion (docs/local.md) */
        enum queue_rcpt_state state;
        char *reason;       /* why failed / deferred, or NULL */
        long long next_try; /* deferred: earliest next attempt (epoch s) */
};

/* TLS of the receiving session; protocol == NULL means no TLS. */
struct queue_tls {
        char *protocol; /* "TLSv1.3" */
        char *cipher;   /* "TLS_AES_256_GCM_SHA384" */
        int bits;       /* cipher bits used */
        int alg_bits;   /* cipher algorithm bits */
        char *trust;    /* "Anonymous", "Untrusted", "Trusted", "Verified" */
        char *peer_subject; /* client certificate, or NULL when none */
        char *peer_issuer;
        char *peer_fingerprint;
};

struct queue_env {
        char *id; /* reader: the queue ID; ignored by the writer */
        /* epoch seconds; 0 on write means the time of queue_msg_new */
        long long arrival;
        char *sender; /* "" is the null sender <>; NULL written as "" */
        char *envid;  /* DSN ENVID (decoded), or NULL */
        enum queue_ret ret;
        enum queue_body body;
        bool smtputf8;
        bool requiretls;   /* RFC 8689 REQUIRETLS was given */
        uint64_t size;     /* reader: body bytes; ignored by the writer */
        unsigned attempts; /* delivery attempts so far */
        /* message: earliest next attempt (epoch s), 0 = now */
        long long next_try;
        /* when the sender was told the message is delayed (epoch s), 0 =
         * not yet (delay_warning_time) */
        long long warned;
        /* the content filter every recipient goes to first
         * ("transport:nexthop": content_filter or a FILTER action), or
         * NULL: none */
        char *filter;
        char *client_name; /* reverse name or "unknown" */
        char *client_addr; /* "192.0.2.1" or "2001:db8::1" */
        unsigned client_port;
        char *helo;
        char *protocol; /* "SMTP", "ESMTP", "ESMTPS", "ESMTPSA", "UTF8SMTPS" */
        struct queue_tls tls;
        struct queue_rcpt *rcpt;
        size_t nrcpt;
        size_t rcpt_cap;
};

/* queue_env_init - an empty envelope. */
void queue_env_init(struct queue_env *);
/* queue_env_clear - free every string and the recipients; reusable. */
void queue_env_clear(struct queue_env *);
/* queue_env_add_rcpt - append a pending recipient (copies addr, orcpt
 * which may be NULL); returns it for further fields (valid until the next
 * add). */
struct queue_rcpt *queue_env_add_rcpt(struct queue_env *, const char *addr,
                                      const char *orcpt, unsigned notify);
/* queue_env_del_rcpt - remove recipient i (the later ones move up). */
void queue_env_del_rcpt(struct queue_env *, size_t i);

/* The longest queue ID plus its NUL. */
#define QUEUE_ID_SIZE 32

/* queue_id_valid - whether s is shaped like a queue ID (and so is a safe
 * file name). */
bool queue_id_valid(const char *);
/* queue_id_time - the creation time coded in an ID; 0, or -1 if invalid. */
int queue_id_time(const char *, long long *sec, long *usec);
/* queue_crc32 - CRC-32 (ISO-HDLC, as zlib's crc32) continued from crc
 * (start with 0).  Exposed for tools and the fuzz target. */
uint32_t queue_crc32(uint32_t, const void *, size_t);

struct queue;

/* queue_init - create the queue directory and its subdirectories (0700,
 * maildrop 0730) where missing, then check them as queue_open does.
 * 0, or -1 with *errstr. */
int queue_init(const char *dir, const char **errstr);
/* queue_open - open an existing queue directory.  Refuses a directory or
 * subdirectory writable by others (or by group, except maildrop), or owned
 * by another user unless running as root, naming the chmod that fixes it.
 * The handle keeps directory descriptors open; free with queue_close. */
int queue_open(const char *dir, struct queue **, const char **errstr);
/* queue_close - release the handle; NULL ok. */
void queue_close(struct queue *);
/* queue_path - the queue directory (borrowed). */
const char *queue_path(const struct queue *);

/* ---- writer ---- */

struct queue_msg;

/* queue_msg_new - start a message: creates a file in tmp/ and assigns its
 * queue ID.  Free with queue_msg_free or queue_msg_abort. */
int queue_msg_new(struct queue *, struct queue_msg **, const char **errstr);
/* queue_msg_id - the ID assigned by queue_msg_new (borrowed). */
const char *queue_msg_id(const struct queue_msg *);
/* queue_msg_write - append message bytes as received (after dot
 * unstuffing, CRLF line ends); buffered, large messages stream to disk.
 * After an error (disk full...) every later call fails too. */
int queue_msg_write(struct queue_msg *, const void *, size_t,
                    const char **errstr);
/* queue_msg_size - message bytes written so far. */
uint64_t queue_msg_size(const struct queue_msg *);
/* queue_msg_finish - write the envelope and trailer.  The message is
 * still in tmp/ and not yet durable (queue_commit syncs it): nothing is
 * acknowledged yet.
 * *id (optional) is the queue ID (borrowed from m).  Refuses an envelope
 * without recipients or with invalid values. */
int queue_msg_finish(struct queue_msg *, const struct queue_env *,
                     const char **id, const char **errstr);
/* queue_commit - make finished messages durable (fdatasync for one,
 * one syncfs of the file system for several), move them into ready/ and
 * fsync the directory once (group commit).  Only after 0 may they be
 * acknowledged. On -1 none of them may be acknowledged (renames already done
 * are rolled back best-effort).  Messages still need queue_msg_free. */
int queue_commit(struct queue *, struct queue_msg **, size_t,
                 const char **errstr);
/* queue_commit_to - as queue_commit into another state (maildrop/,
 * hold/). */
int queue_commit_to(struct queue *, enum queue_state, struct queue_msg **,
                    size_t, const char **errstr);
/* queue_msg_abort - discard an uncommitted message (unlink its tmp file)
 * and free it; NULL ok. */
void queue_msg_abort(struct queue_msg *);
/* queue_msg_free - free a message; an uncommitted one is aborted.  NULL
 * ok. */
void queue_msg_free(struct queue_msg *);

/* queue_notify - tell the queue manager that something was committed: one
 * datagram to the socket QUEUE_NOTIFY_SOCKET in the queue directory.
 * Never blocks and never fails: if no qmgr listens, its periodic scan
 * finds the message. */
void queue_notify(struct queue *);
#define QUEUE_NOTIFY_SOCKET "qmgr.sock"
/* queue_notify_listen - the receiving side (qmgr): bind the socket
 * (replacing a stale one) and return a non-blocking datagram fd the
 * caller reads and closes. */
int queue_notify_listen(struct queue *, int *fd, const char **errstr);

/* ---- reader ---- */

/* queue_list - the IDs in a state directory, sorted (oldest first),
 * appended to ids.  Files whose names are not queue IDs are skipped. */
int queue_list(struct queue *, enum queue_state, struct strlist *ids,
               const char **errstr);
/* queue_find - the state directory holding id; -1 when it is in none. */
int queue_find(struct queue *, const char *id, enum queue_state *,
               const char **errstr);

struct queue_file;

/* Flags for queue_file_open. */
#define QUEUE_OPEN_RDWR 0x1 /* allow queue_file_set_* and queue_file_sync */

/* queue_file_open - open and check a queue file: header, envelope (CRC and
 * syntax), ID matching the file name, and replay of the update log.  The
 * body is not read.  A truncated or malformed file is refused with
 * *errstr starting "corrupt queue file". */
int queue_file_open(struct queue *, enum queue_state, const char *id, int flags,
                    struct queue_file **, const char **errstr);
/* queue_file_open_mem - the same checks on a file image in memory (tools,
 * tests, fuzzing); read-only, buf must outlive the handle. */
int queue_file_open_mem(const void *buf, size_t len, struct queue_file **,
                        const char **errstr);
/* queue_file_close - release; NULL ok.  Unsynced updates are dropped. */
void queue_file_close(struct queue_file *);
/* queue_file_env - the envelope with current recipient states (borrowed,
 * valid until close). */
const struct queue_env *queue_file_env(const struct queue_file *);
/* queue_file_torn - whether a torn update at the end of the file was
 * ignored (a crash during queue_file_sync); the next sync cuts it off. */
bool queue_file_torn(const struct queue_file *);
/* queue_file_read_body - read up to len bytes of the message into buf;
 * *got is 0 at the end.  The read that reaches the end checks the body
 * CRC and returns -1 on a mismatch: the caller must then not complete a
 * delivery with what it read. */
int queue_file_read_body(struct queue_file *, void *buf, size_t len,
                         size_t *got, const char **errstr);
/* queue_file_rewind_body - read the body from its start again. */
void queue_file_rewind_body(struct queue_file *);
/* queue_file_verify - read the whole body and check its CRC. */
int queue_file_verify(struct queue_file *, const char **errstr);
/* queue_file_set_rcpt - change recipient i (reason may be NULL); takes
 * effect in the envelope at once, on disk at queue_file_sync. */
int queue_file_set_rcpt(struct queue_file *, size_t i, enum queue_rcpt_state,
                        const char *reason, long long next_try,
                        const char **errstr);
/* queue_file_set_attempts - message attempt count and next attempt time. */
int queue_file_set_attempts(struct queue_file *, unsigned attempts,
                            long long next_try, const char **errstr);
/* queue_file_set_warned - the delay notice went out at t (epoch s). */
int queue_file_set_warned(struct queue_file *, long long t,
                          const char **errstr);
/* queue_file_sync - append the pending changes as one checksummed update
 * record and fdatasync.  All of them survive a crash after 0, none or all
 * of them before.  Needs QUEUE_OPEN_RDWR. */
int queue_file_sync(struct queue_file *, const char **errstr);

/* queue_file_compact - rewrite the file through tmp/ with the current
 * recipient states and no update log, fsync, and rename it over the old
 * one (same ID, same state).  Needs QUEUE_OPEN_RDWR and no unsynced
 * changes; refuses a file moved since it was opened, and a body whose CRC
 * does not match (nothing is replaced then).  The handle then reads the
 * new file. */
int queue_file_compact(struct queue_file *, const char **errstr);

/* queue_move - rename id from one state directory to another and fsync
 * both directories (ready -> deferred -> ready, hold, release,
 * corrupt). */
int queue_move(struct queue *, const char *id, enum queue_state from,
               enum queue_state to, const char **errstr);
/* queue_delete - remove a message (delivered or bounced, or by the
 * administrator).  No directory fsync: see docs/queue-format.md. */
int queue_delete(struct queue *, enum queue_state, const char *id,
                 const char **errstr);
/* queue_clean_tmp - remove files in tmp/ not modified for max_age seconds
 * (0: every file, only at start before any writer runs).  *removed
 * (optional) counts them. */
int queue_clean_tmp(struct queue *, long long max_age, size_t *removed,
                    const char **errstr);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * queue_int.h - internals shared by the files of src/queue: the queue
 * handle, the file layout constants, record encoding and the error buffer.
 */
#ifndef POSTERN_QUEUE_INT_H
#define POSTERN_QUEUE_INT_H

#include <stdint.h>

#include "base/base.h"
#include "queue/queue.h"

/* Header: magic line then a fixed-width layout line, 69 bytes in all. */
#define QF_MAGIC "POSTERN-QUEUE 1\n"
#define QF_MAGIC_LEN 16
#define QF_MAGIC_PREFIX "POSTERN-QUEUE "
#define QF_HDR_LEN 69
#define QF_HDR_CRC_OFF 60 /* the header CRC covers bytes [0, 60) */
/* Update record header: "UPD %08x %08x\n". */
#define QF_UPD_LEN 22
/* Bounds a reader enforces before allocating. */
#define QF_ENV_MAX (256u * 1024 * 1024)
#define QF_LOG_MAX (256u * 1024 * 1024)
/* Longest record tag. */
#define QF_TAG_MAX 16

struct queue {
        char *path;
        int dirfd;
        int tmpfd;
        int statefd[QUEUE_NSTATES];
        int notifyfd;
        unsigned counter;
        long long last_sec; /* last ID time: strictly increasing */
        long last_usec;
};

/* One record "tag SP len SP value LF" as parsed. */
struct qf_rec {
        const char *tag;
        size_t taglen;
        const char *val;
        size_t len;
};

/* queue_err - format the module error message; returns the buffer. */
const char *queue_err(const char *, ...) PRINTFLIKE(1, 2);
/* queue_errno - as queue_err with ": strerror(errno)" appended. */
const char *queue_errno(const char *, ...) PRINTFLIKE(1, 2);

/* queue_last_error - the text last set by queue_err or queue_errno. */
const char *queue_last_error(void);

/* qf_rec_add - append a record with a byte value. */
void qf_rec_add(struct strbuf *, const char *tag, const char *val, size_t);
/* qf_rec_adds - append a record with a string value (NULL: nothing). */
void qf_rec_adds(struct strbuf *, const char *tag, const char *val);
/* qf_rec_addnum - append a record with a decimal value. */
void qf_rec_addnum(struct strbuf *, const char *tag, unsigned long long);
/* qf_rec_next - parse the record at *pos of buf; 1 with *r filled, 0 at
 * the end, -1 with a static error text in *why. */
int qf_rec_next(const char *buf, size_t len, size_t *pos, struct qf_rec *,
                const char **why);
/* qf_rec_is - whether the record's tag is tag. */
bool qf_rec_is(const struct qf_rec *, const char *tag);
/* qf_num - strict decimal (no sign, no leading zero) up to max. */
int qf_num(const struct qf_rec *, unsigned long long max, unsigned long long *);

/* qf_env_check - whether an envelope can be written; static text. */
int qf_env_check(const struct queue_env *, const char **why);
/* qf_env_encode - the envelope section of a file, "end" record last. */
void qf_env_encode(const struct queue_env *, const char *id, uint64_t size,
                   struct strbuf *);
/* qf_env_decode - parse an envelope section into env (initialised by the
 * caller); -1 with a static text in *why. */
int qf_env_decode(const char *, size_t, struct queue_env *, const char **why);
/* qf_upd_apply - apply the payload of one update record. */
int qf_upd_apply(const char *, size_t, struct queue_env *, const char **why);
/* qf_upd_rcpt - encode a recipient change. */
void qf_upd_rcpt(struct strbuf *, size_t i, enum queue_rcpt_state,
                 const char *reason, long long next_try);
/* qf_upd_attempts - encode a message attempts change. */
void qf_upd_attempts(struct strbuf *, unsigned, long long);
/* qf_upd_warned - encode the time a delay notice went out. */
void qf_upd_warned(struct strbuf *, long long);
/* qf_hdr_encode - the 69 header bytes into out. */
void qf_hdr_encode(char *out, uint64_t body_len, uint32_t env_len,
                   uint32_t body_crc, uint32_t env_crc);
/* qf_hex_field - the value of exactly n lowercase hex digits at p; 0, or
 * -1 when one is not (the fixed-width fields of headers and records). */
int qf_hex_field(const char *p, int n, uint64_t *out);
/* qf_hdr_decode - check and parse the 69 header bytes. */
int qf_hdr_decode(const char *, uint64_t *body_len, uint32_t *env_len,
                  uint32_t *body_crc, uint32_t *env_crc, const char **why);
/* qf_id_make - the ID for a creation time and an inode number; out has
 * QUEUE_ID_SIZE bytes. */
void qf_id_make(char *out, long long sec, long usec, unsigned long long ino);
/* qf_rename_noreplace - renameat that refuses to replace a file. */
int qf_rename_noreplace(int fromfd, const char *from, int tofd, const char *to);
/* qf_fsync_dir - fsync a directory descriptor. */
int qf_fsync_dir(int fd);

/* queue_crc32_table - queue_crc32 computed by the portable table code
 * even where a faster one exists; for tests that compare the two. */
uint32_t queue_crc32_table(uint32_t, const void *, size_t);
/* queue_crc32_accelerated - whether queue_crc32 uses the PCLMULQDQ
 * folding code on this CPU (x86-64 with PCLMULQDQ and SSE4.1). */
bool queue_crc32_accelerated(void);

#endif

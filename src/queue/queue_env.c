/* SPDX-License-Identifier: MIT */
/* queue_env.c - envelope records, header, names and queue IDs */
#include "queue/queue_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char errbuf[1024];

/* queue_err - set the module error text */
const char *queue_err(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
        va_end(ap);
        return errbuf;
}

/* queue_errno - set the module error text with strerror(errno) */
const char *queue_errno(const char *fmt, ...)
{
        int saved = errno;
        va_list ap;
        size_t n;

        va_start(ap, fmt);
        vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
        va_end(ap);
        n = strlen(errbuf);
        snprintf(errbuf + n, sizeof(errbuf) - n, ": %s", strerror(saved));
        errno = saved;
        return errbuf;
}

/* queue_last_error - the current error text */
const char *queue_last_error(void)
{
        return errbuf;
}

/* ---- names ---- */

static const char *const state_names[] = {
#define QUEUE_STATE_NAME(e, s) s,
    QUEUE_STATES(QUEUE_STATE_NAME)
#undef QUEUE_STATE_NAME
};

/* queue_state_name - directory name of a state */
const char *queue_state_name(enum queue_state st)
{
        if ((unsigned)st >= QUEUE_NSTATES)
                return "?";
        return state_names[st];
}

/* queue_state_parse - state from its directory name */
int queue_state_parse(const char *name, enum queue_state *st)
{
        for (size_t i = 0; i < QUEUE_NSTATES; i++) {
                if (strcmp(name, state_names[i]) == 0) {
                        *st = (enum queue_state)i;
                        return 0;
                }
        }
        return -1;
}

static const char *const rcpt_state_names[] = {"pending", "delivered", "failed",
                                               "deferred"};

/* queue_rcpt_state_name - name of a recipient state */
const char *queue_rcpt_state_name(enum queue_rcpt_state st)
{
        if ((unsigned)st >= ARRAY_SIZE(rcpt_state_names))
                return "?";
        return rcpt_state_names[st];
}

/* ---- queue IDs ---- */

/* RFC 4648 base32hex: its ASCII order is its numeric order. */
static const char id_alpha[] = "0123456789ABCDEFGHIJKLMNOPQRSTUV";
#define ID_SEC_DIGITS 7
#define ID_USEC_DIGITS 4
#define ID_SEP 'Z'
#define ID_INO_DIGITS 13 /* a 64-bit inode number */
#define ID_INO_DIGITS 13 /* a 64-bit inode number */

/* id_digit - value of a base32hex digit, or -1 */
static int id_digit(char c)
{
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'A' && c <= 'V')
                return c - 'A' + 10;
        return -1;
}

/* queue_id_valid - shape check of an ID */
bool queue_id_valid(const char *id)
{
        size_t n = strnlen(id, QUEUE_ID_SIZE);

        if (n < ID_SEC_DIGITS + ID_USEC_DIGITS + 2 ||
            n > ID_SEC_DIGITS + ID_USEC_DIGITS + 1 + ID_INO_DIGITS)
                return false;
        for (size_t i = 0; i < n; i++) {
                if (i == ID_SEC_DIGITS + ID_USEC_DIGITS) {
                        if (id[i] != ID_SEP)
                                return false;
                } else if (id_digit(id[i]) < 0) {
                        return false;
                }
        }
        /* The inode part has no leading zero, so one inode has one ID. */
        if (id[ID_SEC_DIGITS + ID_USEC_DIGITS + 1] == '0' &&
            n > ID_SEC_DIGITS + ID_USEC_DIGITS + 2)
                return false;
        long long sec;
        long usec;
        return queue_id_time(id, &sec, &usec) == 0;
}

/* queue_id_time - decode the time prefix */
int queue_id_time(const char *id, long long *sec, long *usec)
{
        long long s = 0;
        long u = 0;

        if (strnlen(id, ID_SEC_DIGITS + ID_USEC_DIGITS) <
            ID_SEC_DIGITS + ID_USEC_DIGITS)
                return -1;
        for (int i = 0; i < ID_SEC_DIGITS; i++) {
                int d = id_digit(id[i]);
                if (d < 0)
                        return -1;
                s = s * 32 + d;
        }
        for (int i = 0; i < ID_USEC_DIGITS; i++) {
                int d = id_digit(id[ID_SEC_DIGITS + i]);
                if (d < 0)
                        return -1;
                u = u * 32 + d;
        }
        if (u > 999999)
                return -1;
        *sec = s;
        *usec = u;
        return 0;
}

/* qf_id_make - build the ID for a time and an inode number */
void qf_id_make(char *out, long long sec, long usec, unsigned long long ino)
{
        char tmp[16];
        int n = 0;

        for (int i = ID_SEC_DIGITS - 1; i >= 0; i--) {
                out[i] = id_alpha[sec & 31];
                sec >>= 5;
        }
        for (int i = ID_USEC_DIGITS - 1; i >= 0; i--) {
                out[ID_SEC_DIGITS + i] = id_alpha[usec & 31];
                usec >>= 5;
        }
        out[ID_SEC_DIGITS + ID_USEC_DIGITS] = ID_SEP;
        do {
                tmp[n++] = id_alpha[ino & 31];
                ino >>= 5;
        } while (ino);
        char *p = out + ID_SEC_DIGITS + ID_USEC_DIGITS + 1;
        while (n > 0)
                *p++ = tmp[--n];
        *p = 0;
}

/* ---- records ---- */

/* qf_rec_add - "tag len value\n" */
void qf_rec_add(struct strbuf *sb, const char *tag, const char *val, size_t len)
{
        strbuf_printf(sb, "%s %zu ", tag, len);
        strbuf_add(sb, val, len);
        strbuf_addc(sb, '\n');
}

/* qf_rec_adds - string record, nothing for NULL */
void qf_rec_adds(struct strbuf *sb, const char *tag, const char *val)
{
        if (val != NULL)
                qf_rec_add(sb, tag, val, strlen(val));
}

/* qf_rec_addnum - decimal record */
void qf_rec_addnum(struct strbuf *sb, const char *tag, unsigned long long v)
{
        char num[32];
        int n = snprintf(num, sizeof(num), "%llu", v);

        qf_rec_add(sb, tag, num, (size_t)n);
}

/* qf_rec_next - parse one record */
int qf_rec_next(const char *buf, size_t len, size_t *pos, struct qf_rec *r,
                const char **why)
{
        size_t p = *pos, vlen = 0, digits = 0;

        if (p >= len)
                return 0;
        r->tag = buf + p;
        while (p < len && ((buf[p] >= 'a' && buf[p] <= 'z') ||
                           (buf[p] >= '0' && buf[p] <= '9') || buf[p] == '-'))
                p++;
        r->taglen = (size_t)(buf + p - r->tag);
        if (r->taglen == 0 || r->taglen > QF_TAG_MAX) {
                *why = "bad record tag";
                return -1;
        }
        if (p >= len || buf[p] != ' ') {
                *why = "record tag not followed by a space";
                return -1;
        }
        p++;
        while (p < len && buf[p] >= '0' && buf[p] <= '9') {
                if (digits == 1 && vlen == 0) {
                        *why = "record length has a leading zero";
                        return -1;
                }
                if (++digits > 10) {
                        *why = "record length too long";
                        return -1;
                }
                vlen = vlen * 10 + (size_t)(buf[p] - '0');
                p++;
        }
        if (digits == 0 || p >= len || buf[p] != ' ') {
                *why = "bad record length";
                return -1;
        }
        p++;
        if (vlen > len - p || len - p - vlen < 1) {
                *why = "record runs past the end of its section";
                return -1;
        }
        r->val = buf + p;
        r->len = vlen;
        if (memchr(r->val, 0, vlen) != NULL) {
                *why = "NUL byte in a record value";
                return -1;
        }
        p += vlen;
        if (buf[p] != '\n') {
                *why = "record not terminated by LF";
                return -1;
        }
        *pos = p + 1;
        return 1;
}

/* qf_rec_is - tag comparison */
bool qf_rec_is(const struct qf_rec *r, const char *tag)
{
        return strlen(tag) == r->taglen && memcmp(r->tag, tag, r->taglen) == 0;
}

/* qf_rec_val - whether the value equals s */
static bool qf_rec_val(const struct qf_rec *r, const char *s)
{
        return strlen(s) == r->len && memcmp(r->val, s, r->len) == 0;
}

/* qf_num - strict decimal */
int qf_num(const struct qf_rec *r, unsigned long long max,
           unsigned long long *out)
{
        unsigned long long v = 0;

        if (r->len == 0 || r->len > 20 || (r->len > 1 && r->val[0] == '0'))
                return -1;
        for (size_t i = 0; i < r->len; i++) {
                unsigned d = (unsigned)(r->val[i] - '0');
                if (d > 9)
                        return -1;
                if (v > (max - d) / 10)
                        return -1;
                v = v * 10 + d;
        }
        *out = v;
        return 0;
}

/* ---- envelope ---- */

/* queue_env_init - empty envelope */
void queue_env_init(struct queue_env *env)
{
        memset(env, 0, sizeof(*env));
}

/* rcpt_clear - free one recipient's strings */
static void rcpt_clear(struct queue_rcpt *r)
{
        free(r->addr);
        free(r->orcpt);
        free(r->reason);
}

/* queue_env_clear - free all */
void queue_env_clear(struct queue_env *env)
{
        free(env->id);
        free(env->sender);
        free(env->envid);
        free(env->filter);
        free(env->client_name);
        free(env->client_addr);
        free(env->helo);
        free(env->protocol);
        free(env->tls.protocol);
        free(env->tls.cipher);
        free(env->tls.trust);
        free(env->tls.peer_subject);
        free(env->tls.peer_issuer);
        free(env->tls.peer_fingerprint);
        for (size_t i = 0; i < env->nrcpt; i++)
                rcpt_clear(&env->rcpt[i]);
        free(env->rcpt);
        queue_env_init(env);
}

/* queue_env_del_rcpt - remove one recipient */
void queue_env_del_rcpt(struct queue_env *env, size_t i)
{
        if (i >= env->nrcpt)
                return;
        rcpt_clear(&env->rcpt[i]);
        memmove(&env->rcpt[i], &env->rcpt[i + 1],
                (env->nrcpt - i - 1) * sizeof(*env->rcpt));
        env->nrcpt--;
}

/* queue_env_add_rcpt - append a recipient */
struct queue_rcpt *queue_env_add_rcpt(struct queue_env *env, const char *addr,
                                      const char *orcpt, unsigned notify)
{
        struct queue_rcpt *r;

        if (env->nrcpt == env->rcpt_cap) {
                env->rcpt_cap = env->rcpt_cap ? env->rcpt_cap * 2 : 4;
                env->rcpt =
                    xreallocarray(env->rcpt, env->rcpt_cap, sizeof(*env->rcpt));
        }
        r = &env->rcpt[env->nrcpt++];
        memset(r, 0, sizeof(*r));
        r->addr = xstrdup(addr);
        r->orcpt = orcpt ? xstrdup(orcpt) : NULL;
        r->notify = notify;
        return r;
}

/* notify_valid - NEVER alone, only known bits */
static bool notify_valid(unsigned n)
{
        if (n & ~0xfu)
                return false;
        return !((n & QUEUE_NOTIFY_NEVER) && n != QUEUE_NOTIFY_NEVER);
}

/* qf_env_check - can it be written */
int qf_env_check(const struct queue_env *env, const char **why)
{
        if (env->nrcpt == 0) {
                *why = "no recipients";
                return -1;
        }
        if ((unsigned)env->ret > QUEUE_RET_HDRS ||
            (unsigned)env->body > QUEUE_BODY_BINARYMIME) {
                *why = "bad RET or BODY value";
                return -1;
        }
        if (env->arrival < 0 || env->next_try < 0) {
                *why = "negative time";
                return -1;
        }
        if (env->tls.protocol != NULL &&
            (env->tls.bits < 0 || env->tls.alg_bits < 0)) {
                *why = "negative TLS cipher bits";
                return -1;
        }
        for (size_t i = 0; i < env->nrcpt; i++) {
                const struct queue_rcpt *r = &env->rcpt[i];
                if (r->addr == NULL) {
                        *why = "recipient without address";
                        return -1;
                }
                if (!notify_valid(r->notify)) {
                        *why = "bad NOTIFY value";
                        return -1;
                }
                if ((unsigned)r->state > QUEUE_RCPT_DEFERRED ||
                    r->next_try < 0) {
                        *why = "bad recipient state";
                        return -1;
                }
        }
        return 0;
}

static const char *const ret_names[] = {NULL, "FULL", "HDRS"};
static const char *const body_names[] = {NULL, "7BIT", "8BITMIME",
                                         "BINARYMIME"};

/* notify_encode - "never" or "success,failure,delay" subset */
static void notify_encode(struct strbuf *sb, unsigned n)
{
        struct strbuf v;

        strbuf_init(&v);
        if (n & QUEUE_NOTIFY_NEVER)
                strbuf_adds(&v, "never");
        if (n & QUEUE_NOTIFY_SUCCESS)
                strbuf_adds(&v, "success,");
        if (n & QUEUE_NOTIFY_FAILURE)
                strbuf_adds(&v, "failure,");
        if (n & QUEUE_NOTIFY_DELAY)
                strbuf_adds(&v, "delay,");
        if (v.len > 0 && v.s[v.len - 1] == ',')
                v.len--;
        qf_rec_add(sb, "notify", v.s, v.len);
        strbuf_clear(&v);
}

/* rcpt_state_encode - the recipient state records */
static void rcpt_state_encode(struct strbuf *sb, enum queue_rcpt_state st,
                              const char *reason, long long next_try)
{
        qf_rec_adds(sb, "rstate", rcpt_state_names[st]);
        qf_rec_adds(sb, "rreason", reason);
        if (next_try > 0)
                qf_rec_addnum(sb, "rnext", (unsigned long long)next_try);
}

/* qf_env_encode - serialise, fixed order */
void qf_env_encode(const struct queue_env *env, const char *id, uint64_t size,
                   struct strbuf *sb)
{
        const struct queue_tls *t = &env->tls;

        qf_rec_adds(sb, "id", id);
        qf_rec_addnum(sb, "arrival", (unsigned long long)env->arrival);
        qf_rec_adds(sb, "sender", env->sender ? env->sender : "");
        qf_rec_addnum(sb, "size", size);
        qf_rec_adds(sb, "envid", env->envid);
        qf_rec_adds(sb, "ret", ret_names[env->ret]);
        qf_rec_adds(sb, "body", body_names[env->body]);
        if (env->smtputf8)
                qf_rec_adds(sb, "smtputf8", "1");
        if (env->requiretls)
                qf_rec_adds(sb, "requiretls", "1");
        qf_rec_addnum(sb, "attempts", env->attempts);
        if (env->next_try > 0)
                qf_rec_addnum(sb, "next-try",
                              (unsigned long long)env->next_try);
        if (env->warned > 0)
                qf_rec_addnum(sb, "warned", (unsigned long long)env->warned);
        qf_rec_adds(sb, "filter", env->filter);
        qf_rec_adds(sb, "client-name", env->client_name);
        qf_rec_adds(sb, "client-addr", env->client_addr);
        if (env->client_port > 0)
                qf_rec_addnum(sb, "client-port", env->client_port);
        qf_rec_adds(sb, "helo", env->helo);
        qf_rec_adds(sb, "protocol", env->protocol);
        if (t->protocol != NULL) {
                qf_rec_adds(sb, "tls-protocol", t->protocol);
                qf_rec_adds(sb, "tls-cipher", t->cipher);
                qf_rec_addnum(sb, "tls-bits", (unsigned long long)t->bits);
                qf_rec_addnum(sb, "tls-alg-bits",
                              (unsigned long long)t->alg_bits);
                qf_rec_adds(sb, "tls-trust", t->trust);
                qf_rec_adds(sb, "tls-peer-subject", t->peer_subject);
                qf_rec_adds(sb, "tls-peer-issuer", t->peer_issuer);
                qf_rec_adds(sb, "tls-peer-fp", t->peer_fingerprint);
        }
        for (size_t i = 0; i < env->nrcpt; i++) {
                const struct queue_rcpt *r = &env->rcpt[i];
                qf_rec_adds(sb, "rcpt", r->addr);
                qf_rec_adds(sb, "orcpt", r->orcpt);
                if (r->notify)
                        notify_encode(sb, r->notify);
                if (r->mailbox)
                        qf_rec_add(sb, "mailbox", "1", 1);
                rcpt_state_encode(sb, r->state, r->reason, r->next_try);
        }
        qf_rec_add(sb, "end", "", 0);
}

/* notify_decode - parse the notify value */
static int notify_decode(const struct qf_rec *r, unsigned *out)
{
        static const char *const words[] = {"never", "success", "failure",
                                            "delay"};
        unsigned n = 0;
        size_t p = 0;

        while (p < r->len) {
                const char *w = r->val + p;
                const char *comma = memchr(w, ',', r->len - p);
                size_t wl = comma ? (size_t)(comma - w) : r->len - p;
                size_t i;
                for (i = 0; i < ARRAY_SIZE(words); i++)
                        if (strlen(words[i]) == wl &&
                            memcmp(words[i], w, wl) == 0)
                                break;
                if (i == ARRAY_SIZE(words) || (n & (1u << i)))
                        return -1;
                n |= 1u << i;
                p += wl;
                if (comma != NULL) {
                        p++;
                        if (p == r->len)
                                return -1;
                }
        }
        if (n == 0 || !notify_valid(n))
                return -1;
        *out = n;
        return 0;
}

/* name_decode - index of the value in a table of names */
static int name_decode(const struct qf_rec *r, const char *const *names,
                       size_t n)
{
        for (size_t i = 0; i < n; i++)
                if (names[i] != NULL && qf_rec_val(r, names[i]))
                        return (int)i;
        return -1;
}

/* set_str - store a string value once */
static int set_str(char **dst, const struct qf_rec *r)
{
        if (*dst != NULL)
                return -1;
        *dst = xstrndup(r->val, r->len);
        return 0;
}

/* set_time - a non-negative time value */
static int set_time(long long *dst, const struct qf_rec *r)
{
        unsigned long long v;

        if (qf_num(r, (unsigned long long)INT64_MAX, &v) < 0)
                return -1;
        *dst = (long long)v;
        return 0;
}

/* Bits for message-level records seen once. */
enum {
        SEEN_ARRIVAL = 1u << 0,
        SEEN_SIZE = 1u << 1,
        SEEN_RET = 1u << 2,
        SEEN_BODY = 1u << 3,
        SEEN_UTF8 = 1u << 4,
        SEEN_REQTLS = 1u << 5,
        SEEN_ATTEMPTS = 1u << 6,
        SEEN_NEXT = 1u << 7,
        SEEN_PORT = 1u << 8,
        SEEN_TLSBITS = 1u << 9,
        SEEN_TLSALG = 1u << 10,
        SEEN_END = 1u << 11,
        SEEN_WARNED = 1u << 12,
};
/* Bits for recipient records seen once per recipient. */
enum {
        RSEEN_NOTIFY = 1u << 0,
        RSEEN_STATE = 1u << 1,
        RSEEN_NEXT = 1u << 2,
        RSEEN_MAILBOX = 1u << 3,
};

/* rcpt_field - a recipient record; 1 if handled, 0 if not one, -1 bad */
static int rcpt_field(struct queue_rcpt *cur, unsigned *rseen,
                      const struct qf_rec *r)
{
        int v;

        if (qf_rec_is(r, "orcpt"))
                return set_str(&cur->orcpt, r) < 0 ? -1 : 1;
        if (qf_rec_is(r, "rreason"))
                return set_str(&cur->reason, r) < 0 ? -1 : 1;
        if (qf_rec_is(r, "mailbox")) {
                if ((*rseen & RSEEN_MAILBOX) || !qf_rec_val(r, "1"))
                        return -1;
                *rseen |= RSEEN_MAILBOX;
                cur->mailbox = true;
                return 1;
        }
        if (qf_rec_is(r, "notify")) {
                if ((*rseen & RSEEN_NOTIFY) || notify_decode(r, &cur->notify))
                        return -1;
                *rseen |= RSEEN_NOTIFY;
                return 1;
        }
        if (qf_rec_is(r, "rstate")) {
                v = name_decode(r, rcpt_state_names,
                                ARRAY_SIZE(rcpt_state_names));
                if ((*rseen & RSEEN_STATE) || v < 0)
                        return -1;
                cur->state = (enum queue_rcpt_state)v;
                *rseen |= RSEEN_STATE;
                return 1;
        }
        if (qf_rec_is(r, "rnext")) {
                if ((*rseen & RSEEN_NEXT) || set_time(&cur->next_try, r) < 0)
                        return -1;
                *rseen |= RSEEN_NEXT;
                return 1;
        }
        return 0;
}

/* flag_field - a "1" flag record */
static int flag_field(bool *dst, unsigned *seen, unsigned bit,
                      const struct qf_rec *r)
{
        if ((*seen & bit) || !qf_rec_val(r, "1"))
                return -1;
        *seen |= bit;
        *dst = true;
        return 0;
}

/* msg_field - a message-level record; 0 handled, -1 bad or unknown */
static int msg_field(struct queue_env *env, unsigned *seen,
                     const struct qf_rec *r)
{
        struct queue_tls *t = &env->tls;
        unsigned long long v;
        int i;

        if (qf_rec_is(r, "id"))
                return set_str(&env->id, r);
        if (qf_rec_is(r, "sender"))
                return set_str(&env->sender, r);
        if (qf_rec_is(r, "envid"))
                return set_str(&env->envid, r);
        if (qf_rec_is(r, "filter"))
                return set_str(&env->filter, r);
        if (qf_rec_is(r, "client-name"))
                return set_str(&env->client_name, r);
        if (qf_rec_is(r, "client-addr"))
                return set_str(&env->client_addr, r);
        if (qf_rec_is(r, "helo"))
                return set_str(&env->helo, r);
        if (qf_rec_is(r, "protocol"))
                return set_str(&env->protocol, r);
        if (qf_rec_is(r, "tls-protocol"))
                return set_str(&t->protocol, r);
        if (qf_rec_is(r, "tls-cipher"))
                return set_str(&t->cipher, r);
        if (qf_rec_is(r, "tls-trust"))
                return set_str(&t->trust, r);
        if (qf_rec_is(r, "tls-peer-subject"))
                return set_str(&t->peer_subject, r);
        if (qf_rec_is(r, "tls-peer-issuer"))
                return set_str(&t->peer_issuer, r);
        if (qf_rec_is(r, "tls-peer-fp"))
                return set_str(&t->peer_fingerprint, r);
        if (qf_rec_is(r, "smtputf8"))
                return flag_field(&env->smtputf8, seen, SEEN_UTF8, r);
        if (qf_rec_is(r, "requiretls"))
                return flag_field(&env->requiretls, seen, SEEN_REQTLS, r);

        unsigned bit = 0;
        if (qf_rec_is(r, "arrival")) {
                bit = SEEN_ARRIVAL;
                if (set_time(&env->arrival, r) < 0)
                        return -1;
        } else if (qf_rec_is(r, "next-try")) {
                bit = SEEN_NEXT;
                if (set_time(&env->next_try, r) < 0)
                        return -1;
        } else if (qf_rec_is(r, "warned")) {
                bit = SEEN_WARNED;
                if (set_time(&env->warned, r) < 0)
                        return -1;
        } else if (qf_rec_is(r, "size")) {
                bit = SEEN_SIZE;
                if (qf_num(r, UINT64_MAX, &v) < 0)
                        return -1;
                env->size = v;
        } else if (qf_rec_is(r, "attempts")) {
                bit = SEEN_ATTEMPTS;
                if (qf_num(r, UINT32_MAX, &v) < 0)
                        return -1;
                env->attempts = (unsigned)v;
        } else if (qf_rec_is(r, "client-port")) {
                bit = SEEN_PORT;
                if (qf_num(r, 65535, &v) < 0)
                        return -1;
                env->client_port = (unsigned)v;
        } else if (qf_rec_is(r, "tls-bits")) {
                bit = SEEN_TLSBITS;
                if (qf_num(r, INT32_MAX, &v) < 0)
                        return -1;
                t->bits = (int)v;
        } else if (qf_rec_is(r, "tls-alg-bits")) {
                bit = SEEN_TLSALG;
                if (qf_num(r, INT32_MAX, &v) < 0)
                        return -1;
                t->alg_bits = (int)v;
        } else if (qf_rec_is(r, "ret")) {
                bit = SEEN_RET;
                if ((i = name_decode(r, ret_names, ARRAY_SIZE(ret_names))) < 0)
                        return -1;
                env->ret = (enum queue_ret)i;
        } else if (qf_rec_is(r, "body")) {
                bit = SEEN_BODY;
                if ((i = name_decode(r, body_names, ARRAY_SIZE(body_names))) <
                    0)
                        return -1;
                env->body = (enum queue_body)i;
        } else {
                return -1;
        }
        if (*seen & bit)
                return -1;
        *seen |= bit;
        return 0;
}

/* qf_env_decode - parse the envelope section */
int qf_env_decode(const char *buf, size_t len, struct queue_env *env,
                  const char **why)
{
        struct qf_rec r;
        struct queue_rcpt *cur = NULL;
        unsigned seen = 0, rseen = 0;
        size_t pos = 0;
        int rc;

        while ((rc = qf_rec_next(buf, len, &pos, &r, why)) == 1) {
                if (seen & SEEN_END) {
                        *why = "record after the end record";
                        return -1;
                }
                if (qf_rec_is(&r, "end")) {
                        if (r.len != 0) {
                                *why = "end record with a value";
                                return -1;
                        }
                        seen |= SEEN_END;
                        continue;
                }
                if (qf_rec_is(&r, "rcpt")) {
                        if (cur != NULL && !(rseen & RSEEN_STATE)) {
                                *why = "recipient without state";
                                return -1;
                        }
                        char *a = xstrndup(r.val, r.len);
                        cur = queue_env_add_rcpt(env, a, NULL, 0);
                        free(a);
                        rseen = 0;
                        continue;
                }
                if (cur != NULL) {
                        int h = rcpt_field(cur, &rseen, &r);
                        if (h < 0) {
                                *why = "bad or repeated recipient record";
                                return -1;
                        }
                        if (h > 0)
                                continue;
                        *why = "message record after the recipients";
                        return -1;
                }
                if (msg_field(env, &seen, &r) < 0) {
                        *why = "unknown, bad or repeated envelope record";
                        return -1;
                }
        }
        if (rc < 0)
                return -1;
        if (!(seen & SEEN_END)) {
                *why = "no end record";
                return -1;
        }
        if (env->id == NULL || env->sender == NULL || !(seen & SEEN_ARRIVAL) ||
            !(seen & SEEN_SIZE) || !(seen & SEEN_ATTEMPTS)) {
                *why = "required envelope record missing";
                return -1;
        }
        if (!queue_id_valid(env->id)) {
                *why = "bad queue ID in envelope";
                return -1;
        }
        if (env->nrcpt == 0 || !(rseen & RSEEN_STATE)) {
                *why = "no recipients, or recipient without state";
                return -1;
        }
        bool tls_any = env->tls.cipher || env->tls.trust ||
                       env->tls.peer_subject || env->tls.peer_issuer ||
                       env->tls.peer_fingerprint || (seen & SEEN_TLSBITS) ||
                       (seen & SEEN_TLSALG);
        if (env->tls.protocol == NULL && tls_any) {
                *why = "TLS details without tls-protocol";
                return -1;
        }
        return 0;
}

/* ---- update records ---- */

/* qf_upd_rcpt - encode a recipient change */
void qf_upd_rcpt(struct strbuf *sb, size_t i, enum queue_rcpt_state st,
                 const char *reason, long long next_try)
{
        qf_rec_addnum(sb, "ridx", i);
        rcpt_state_encode(sb, st, reason, next_try);
}

/* qf_upd_attempts - encode an attempts change */
void qf_upd_attempts(struct strbuf *sb, unsigned attempts, long long next)
{
        qf_rec_addnum(sb, "attempts", attempts);
        qf_rec_addnum(sb, "next-try", (unsigned long long)next);
}

/* qf_upd_warned - encode a delay notice's time */
void qf_upd_warned(struct strbuf *sb, long long t)
{
        qf_rec_addnum(sb, "warned", (unsigned long long)t);
}

/*
 * qf_upd_apply - one update payload: a sequence of groups, each either
 * "ridx N" + "rstate" [+ "rreason"] [+ "rnext"], "attempts" +
 * "next-try", or "warned".  A group replaces the whole state of its
 * recipient.
 */
int qf_upd_apply(const char *buf, size_t len, struct queue_env *env,
                 const char **why)
{
        struct qf_rec r;
        struct queue_rcpt *cur = NULL;
        unsigned rseen = 0;
        size_t pos = 0;
        int rc;
        bool want_next = false;
        unsigned long long v;

        while ((rc = qf_rec_next(buf, len, &pos, &r, why)) == 1) {
                if (want_next) {
                        if (!qf_rec_is(&r, "next-try") ||
                            set_time(&env->next_try, &r) < 0) {
                                *why = "bad next-try update";
                                return -1;
                        }
                        want_next = false;
                        continue;
                }
                if (cur != NULL && rseen == 0 && !qf_rec_is(&r, "rstate")) {
                        *why = "recipient update without rstate";
                        return -1;
                }
                if (qf_rec_is(&r, "ridx")) {
                        if (qf_num(&r, SIZE_MAX, &v) < 0 || v >= env->nrcpt) {
                                *why = "bad recipient index in update";
                                return -1;
                        }
                        cur = &env->rcpt[v];
                        free(cur->reason);
                        cur->reason = NULL;
                        cur->next_try = 0;
                        rseen = 0;
                        continue;
                }
                if (qf_rec_is(&r, "warned")) {
                        if (set_time(&env->warned, &r) < 0) {
                                *why = "bad warned update";
                                return -1;
                        }
                        cur = NULL;
                        continue;
                }
                if (qf_rec_is(&r, "attempts")) {
                        if (qf_num(&r, UINT32_MAX, &v) < 0) {
                                *why = "bad attempts update";
                                return -1;
                        }
                        env->attempts = (unsigned)v;
                        want_next = true;
                        cur = NULL;
                        continue;
                }
                if (cur == NULL || qf_rec_is(&r, "orcpt") ||
                    qf_rec_is(&r, "notify") || qf_rec_is(&r, "mailbox") ||
                    rcpt_field(cur, &rseen, &r) <= 0) {
                        *why = "bad record in update";
                        return -1;
                }
        }
        if (rc < 0)
                return -1;
        if (want_next || (cur != NULL && rseen == 0)) {
                *why = "incomplete update";
                return -1;
        }
        return 0;
}

/* ---- header ---- */

/* qf_hdr_encode - the fixed 69-byte header */
void qf_hdr_encode(char *out, uint64_t body_len, uint32_t env_len,
                   uint32_t body_crc, uint32_t env_crc)
{
        char tmp[QF_HDR_LEN + 1];

        snprintf(tmp, sizeof(tmp), "%s%016llx %08x %08x %08x ", QF_MAGIC,
                 (unsigned long long)body_len, (unsigned)env_len,
                 (unsigned)body_crc, (unsigned)env_crc);
        uint32_t h = queue_crc32(0, tmp, QF_HDR_CRC_OFF);
        snprintf(tmp + QF_HDR_CRC_OFF, sizeof(tmp) - QF_HDR_CRC_OFF, "%08x\n",
                 (unsigned)h);
        memcpy(out, tmp, QF_HDR_LEN);
}

/* qf_hex_field - exactly n lowercase hex digits */
int qf_hex_field(const char *p, int n, uint64_t *out)
{
        uint64_t v = 0;

        for (int i = 0; i < n; i++) {
                int d;
                if (p[i] >= '0' && p[i] <= '9')
                        d = p[i] - '0';
                else if (p[i] >= 'a' && p[i] <= 'f')
                        d = p[i] - 'a' + 10;
                else
                        return -1;
                v = v << 4 | (uint64_t)d;
        }
        *out = v;
        return 0;
}

/* qf_hdr_decode - check the header */
int qf_hdr_decode(const char *h, uint64_t *body_len, uint32_t *env_len,
                  uint32_t *body_crc, uint32_t *env_crc, const char **why)
{
        uint64_t bl, el, bc, ec, hc;

        if (memcmp(h, QF_MAGIC, QF_MAGIC_LEN) != 0) {
                if (memcmp(h, QF_MAGIC_PREFIX, strlen(QF_MAGIC_PREFIX)) == 0)
                        *why = "unsupported queue file version";
                else
                        *why = "not a queue file (bad magic)";
                return -1;
        }
        if (qf_hex_field(h + 16, 16, &bl) < 0 || h[32] != ' ' ||
            qf_hex_field(h + 33, 8, &el) < 0 || h[41] != ' ' ||
            qf_hex_field(h + 42, 8, &bc) < 0 || h[50] != ' ' ||
            qf_hex_field(h + 51, 8, &ec) < 0 || h[59] != ' ' ||
            qf_hex_field(h + 60, 8, &hc) < 0 || h[68] != '\n') {
                *why = "malformed header";
                return -1;
        }
        if (queue_crc32(0, h, QF_HDR_CRC_OFF) != (uint32_t)hc) {
                *why = "header checksum mismatch";
                return -1;
        }
        *body_len = bl;
        *env_len = (uint32_t)el;
        *body_crc = (uint32_t)bc;
        *env_crc = (uint32_t)ec;
        return 0;
}

/* SPDX-License-Identifier: MIT */
/*
 * stats.c - reading mail log lines: the timestamp (traditional syslog
 * "Nov 28 20:48:06" or RFC 3339), host, "NAME/SERVICE[pid]:" ident, and
 * the few messages that matter for TLS statistics, in the wording both
 * postern and Postfix write.  Times are kept as written (wall clock; an
 * RFC 3339 offset is ignored so both formats of one host agree).
 */
#include "stats/stats_int.h"
#include "base/base.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char *const month_names[12] = {"Jan", "Feb", "Mar", "Apr",
                                            "May", "Jun", "Jul", "Aug",
                                            "Sep", "Oct", "Nov", "Dec"};
const char *const stats_trust_words[STATS_NTRUST] = {"Verified", "Trusted",
                                                     "Untrusted", "Anonymous"};
static const char *const status_words[STATS_NSTATUS] = {"sent", "deferred",
                                                        "bounced", "expired"};

/* Names longer than this are cut (a host name is at most 253 bytes). */
#define NAME_MAX_LEN 255

/* stats_new - empty statistics */
struct stats *stats_new(int start_year)
{
        struct stats *s = xcalloc(1, sizeof(*s));

        s->year = start_year;
        s->prev_month = -1;
        s->scratch = xmalloc(STATS_LINE_MAX + 1);
        return s;
}

/* tab_clear - free a table's entries */
static void tab_clear(struct stats_tab *t)
{
        for (size_t i = 0; i < t->cap; i++)
                if (t->slot[i]) {
                        free(t->slot[i]->name);
                        free(t->slot[i]);
                }
        free(t->slot);
}

/* stats_free - release everything */
void stats_free(struct stats *s)
{
        if (s == NULL)
                return;
        for (int i = 0; i < STATS_NTABLES; i++)
                tab_clear(&s->tab[i]);
        free(s->min);
        free(s->scratch);
        free(s);
}

/* hash_str - FNV-1a of n bytes */
static uint64_t hash_str(const char *p, size_t n)
{
        uint64_t h = 1469598103934665603ULL;

        for (size_t i = 0; i < n; i++) {
                h ^= (unsigned char)p[i];
                h *= 1099511628211ULL;
        }
        return h;
}

/* tab_find - the slot for a name (empty when absent) */
static size_t tab_find(const struct stats_tab *t, const char *name, size_t n)
{
        size_t i = (size_t)hash_str(name, n) & (t->cap - 1);

        while (t->slot[i] && (strlen(t->slot[i]->name) != n ||
                              memcmp(t->slot[i]->name, name, n) != 0))
                i = (i + 1) & (t->cap - 1);
        return i;
}

/* tab_get - the entry for a name, added when new */
static struct stats_entry *tab_get(struct stats_tab *t, const char *name,
                                   size_t n)
{
        size_t i;

        if (n > NAME_MAX_LEN)
                n = NAME_MAX_LEN;
        if (t->cap == 0 || (t->n + 1) * 10 > t->cap * 7) {
                struct stats_tab old = *t;
                t->cap = old.cap ? old.cap * 2 : 16;
                t->slot = xcalloc(t->cap, sizeof(*t->slot));
                for (size_t j = 0; j < old.cap; j++) {
                        struct stats_entry *e = old.slot[j];
                        if (e)
                                t->slot[tab_find(t, e->name, strlen(e->name))] =
                                    e;
                }
                free(old.slot);
        }
        i = tab_find(t, name, n);
        if (t->slot[i] == NULL) {
                t->slot[i] = xcalloc(1, sizeof(struct stats_entry));
                t->slot[i]->name = xstrndup(name, n);
                t->n++;
        }
        return t->slot[i];
}

/* cmp_entry - by total descending, then by name */
static int cmp_entry(const void *a, const void *b)
{
        const struct stats_entry *x = *(const struct stats_entry *const *)a;
        const struct stats_entry *y = *(const struct stats_entry *const *)b;

        if (x->total != y->total)
                return x->total > y->total ? -1 : 1;
        return strcmp(x->name, y->name);
}

/* stats_tab_sorted - the entries in output order */
struct stats_entry **stats_tab_sorted(const struct stats_tab *t, size_t *n)
{
        struct stats_entry **v = xcalloc(t->n + 1, sizeof(*v));
        size_t k = 0;

        for (size_t i = 0; i < t->cap; i++)
                if (t->slot[i])
                        v[k++] = t->slot[i];
        qsort(v, k, sizeof(*v), cmp_entry);
        *n = k;
        return v;
}

/* stats_count - one count of a table */
unsigned long stats_count(const struct stats *s, enum stats_table tab,
                          const char *name, enum stats_dir dir,
                          enum stats_trust trust)
{
        const struct stats_tab *t = &s->tab[tab];
        const struct stats_entry *e;
        unsigned long sum = 0;
        size_t n = strlen(name);

        if (t->cap == 0 || (int)dir < 0 || dir >= STATS_NDIR)
                return 0;
        e = t->slot[tab_find(t, name, n > NAME_MAX_LEN ? NAME_MAX_LEN : n)];
        if (e == NULL)
                return 0;
        if (trust < STATS_NTRUST)
                return e->n[dir][trust];
        for (int i = 0; i < STATS_NTRUST; i++)
                sum += e->n[dir][i];
        return sum;
}

/* minute_add - one TLS connection in the minute of when */
static void minute_add(struct stats *s, long long when, enum stats_dir dir,
                       enum stats_trust trust)
{
        long long m = when >= 0 ? when / 60 : -((-when + 59) / 60);
        size_t i;

        if (s->min_cap == 0 || (s->min_n + 1) * 10 > s->min_cap * 7) {
                struct stats_minute *old = s->min;
                size_t ocap = s->min_cap;
                s->min_cap = ocap ? ocap * 2 : 256;
                s->min = xcalloc(s->min_cap, sizeof(*s->min));
                for (size_t j = 0; j < ocap; j++) {
                        if (!old[j].used)
                                continue;
                        i = (size_t)hash_str((const char *)&old[j].minute,
                                             sizeof(old[j].minute)) &
                            (s->min_cap - 1);
                        while (s->min[i].used)
                                i = (i + 1) & (s->min_cap - 1);
                        s->min[i] = old[j];
                }
                free(old);
        }
        i = (size_t)hash_str((const char *)&m, sizeof(m)) & (s->min_cap - 1);
        while (s->min[i].used && s->min[i].minute != m)
                i = (i + 1) & (s->min_cap - 1);
        if (!s->min[i].used) {
                s->min[i].used = 1;
                s->min[i].minute = m;
                s->min_n++;
        }
        s->min[i].n[dir][trust]++;
}

/* days_from_civil - days since 1970-01-01 of a proleptic Gregorian date */
static long long days_from_civil(long long y, int m, int d)
{
        y -= m <= 2;
        long long era = (y >= 0 ? y : y - 399) / 400;
        long long yoe = y - era * 400;
        long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

        return era * 146097 + doe - 719468;
}

/* num - n decimal digits at p; -1 when one is not a digit */
static int num(const char *p, int n)
{
        int v = 0;

        for (int i = 0; i < n; i++) {
                if (!isdigit((unsigned char)p[i]))
                        return -1;
                v = v * 10 + (p[i] - '0');
        }
        return v;
}

/* valid_time - whether the fields are a plausible wall-clock time */
static int valid_time(int mon, int day, int h, int mi, int sec)
{
        return mon >= 1 && mon <= 12 && day >= 1 && day <= 31 && h >= 0 &&
               h <= 23 && mi >= 0 && mi <= 59 && sec >= 0 && sec <= 60;
}

/* skip_frac - past ".digits" */
static const char *skip_frac(const char *p)
{
        if (*p == '.' && isdigit((unsigned char)p[1]))
                for (p++; isdigit((unsigned char)*p);)
                        p++;
        return p;
}

/* parse_time - the timestamp at the start of p; the rest after one space,
 * or NULL.  Traditional timestamps take the year from s, advancing it
 * when the month goes back by more than six. */
static const char *parse_time(struct stats *s, const char *p, long long *when)
{
        int y, mon = 0, day, h, mi, sec;

        if (isdigit((unsigned char)p[0])) {
                /* 2026-11-28T20:48:06.123456+00:00 */
                y = num(p, 4);
                if (y < 0 || p[4] != '-' || p[7] != '-' || p[10] != 'T' ||
                    p[13] != ':' || p[16] != ':')
                        return NULL;
                mon = num(p + 5, 2);
                day = num(p + 8, 2);
                h = num(p + 11, 2);
                mi = num(p + 14, 2);
                sec = num(p + 17, 2);
                if (!valid_time(mon, day, h, mi, sec))
                        return NULL;
                p = skip_frac(p + 19);
                if (*p == 'Z' || *p == 'z') {
                        p++;
                } else if (*p == '+' || *p == '-') {
                        /* +hh:mm (rsyslog) or +hhmm (journalctl) */
                        if (num(p + 1, 2) < 0)
                                return NULL;
                        p += 3;
                        if (*p == ':')
                                p++;
                        if (num(p, 2) < 0)
                                return NULL;
                        p += 2;
                }
                s->year = y;
        } else {
                /* Nov 28 20:48:06 (day space-padded) */
                for (mon = 0; mon < 12; mon++)
                        if (strncmp(p, month_names[mon], 3) == 0)
                                break;
                if (mon == 12 || p[3] != ' ')
                        return NULL;
                p += 4;
                if (*p == ' ')
                        p++;
                if (!isdigit((unsigned char)*p))
                        return NULL;
                day = *p++ - '0';
                if (isdigit((unsigned char)*p))
                        day = day * 10 + (*p++ - '0');
                if (*p != ' ' || num(p + 1, 2) < 0 || p[3] != ':' ||
                    p[6] != ':')
                        return NULL;
                h = num(p + 1, 2);
                mi = num(p + 4, 2);
                sec = num(p + 7, 2);
                mon++;
                if (!valid_time(mon, day, h, mi, sec))
                        return NULL;
                p = skip_frac(p + 9);
                if (s->prev_month >= 0 && s->prev_month - (mon - 1) > 6)
                        s->year++;
                y = s->year;
        }
        if (*p != ' ')
                return NULL;
        s->prev_month = mon - 1;
        *when = days_from_civil(y, mon, day) * 86400 + h * 3600 + mi * 60 + sec;
        return p + 1;
}

/* parse_ident - "host NAME/.../SERVICE[pid]: " at p: the service (not
 * terminated: *svc_len bytes) and the text after it, or NULL */
static const char *parse_ident(const char *p, const char **svc, size_t *svc_len)
{
        const char *host_end = strchr(p, ' ');
        const char *id, *end, *slash;

        if (host_end == NULL || host_end == p)
                return NULL;
        id = host_end + 1;
        end = id + strcspn(id, "[: ");
        slash = NULL;
        for (const char *q = id; q < end; q++)
                if (*q == '/')
                        slash = q;
        if (slash == NULL || slash == id || slash + 1 == end)
                return NULL;
        *svc = slash + 1;
        *svc_len = (size_t)(end - *svc);
        if (*end == '[') {
                end++;
                if (!isdigit((unsigned char)*end))
                        return NULL;
                while (isdigit((unsigned char)*end))
                        end++;
                if (*end++ != ']')
                        return NULL;
        }
        if (end[0] != ':' || end[1] != ' ')
                return NULL;
        return end + 2;
}

/* svc_is - whether the service is name */
static int svc_is(const char *svc, size_t n, const char *name)
{
        return strlen(name) == n && memcmp(svc, name, n) == 0;
}

/* inbound_service - whether a service's TLS is the server side */
static int inbound_service(const char *svc, size_t n)
{
        return svc_is(svc, n, "smtpd") || svc_is(svc, n, "tlsproxy") ||
               svc_is(svc, n, "postscreen");
}

/* parse_tls - "TRUST TLS connection established from|to NAME[ADDR][:PORT]:
 * PROTOCOL with cipher CIPHER ..."; 0 or -1 */
static int parse_tls(struct stats *s, const char *text, long long when)
{
        int trust;
        enum stats_dir dir;
        const char *p, *name, *lb, *rb, *proto, *cipher;
        size_t n;
        struct stats_entry *e;

        for (trust = 0; trust < STATS_NTRUST; trust++) {
                n = strlen(stats_trust_words[trust]);
                if (strncmp(text, stats_trust_words[trust], n) == 0 &&
                    text[n] == ' ')
                        break;
        }
        if (trust == STATS_NTRUST)
                return -1;
        p = text + n + 1;
        if (!str_has_prefix(p, "TLS connection established "))
                return -1;
        p += strlen("TLS connection established ");
        if (str_has_prefix(p, "from "))
                dir = STATS_IN;
        else if (str_has_prefix(p, "to "))
                dir = STATS_OUT;
        else
                return -1;
        name = strchr(p, ' ') + 1;
        lb = strchr(name, '[');
        if (lb == NULL || memchr(name, ' ', (size_t)(lb - name)))
                return -1;
        rb = strchr(lb, ']');
        if (rb == NULL)
                return -1;
        p = rb + 1;
        if (*p == ':' && isdigit((unsigned char)p[1]))
                for (p++; isdigit((unsigned char)*p);)
                        p++;
        if (p[0] != ':' || p[1] != ' ')
                return -1;
        proto = p + 2;
        n = strcspn(proto, " ");
        if (n == 0 || !str_has_prefix(proto + n, " with cipher "))
                return -1;
        cipher = proto + n + strlen(" with cipher ");
        if (strcspn(cipher, " ") == 0)
                return -1;

        s->t.tls[dir][trust]++;
        e = tab_get(&s->tab[STATS_PROTOCOLS], proto, n);
        e->n[dir][trust]++;
        e->total++;
        e = tab_get(&s->tab[STATS_CIPHERS], cipher, strcspn(cipher, " "));
        e->n[dir][trust]++;
        e->total++;
        if (dir == STATS_OUT) {
                e = tab_get(&s->tab[STATS_DESTINATIONS], name,
                            (size_t)(lb - name));
                e->n[dir][trust]++;
                e->total++;
        }
        minute_add(s, when, dir, trust);
        return 0;
}

/* parse_failure - TLS handshake and certificate failures; 0 or -1 */
static int parse_failure(struct stats *s, const char *text, const char *svc,
                         size_t svc_len)
{
        enum stats_dir dir =
            inbound_service(svc, svc_len) ? STATS_IN : STATS_OUT;

        if (str_has_prefix(text, "SSL_accept error from ")) {
                s->t.hs_fail[STATS_IN]++;
        } else if (str_has_prefix(text, "SSL_connect error to ")) {
                s->t.hs_fail[STATS_OUT]++;
        } else if (str_has_prefix(text, "timeout during TLS handshake ")) {
                s->t.hs_fail[dir]++;
        } else if (strstr(text, ": TLS handshake failed; retrying in "
                                "plaintext")) {
                /* postern's smtp after its SSL_connect error line: not a
                 * second failure, but a fallback worth knowing */
                s->t.plain_fallback++;
        } else if (strstr(text, "certificate verification failed for ")) {
                if (str_has_prefix(text, "server certificate"))
                        dir = STATS_OUT;
                else if (str_has_prefix(text, "client certificate"))
                        dir = STATS_IN;
                s->t.cert_fail[dir]++;
        } else if (str_has_prefix(text, "NOQUEUE: abort: TLS from ")) {
                s->t.cert_fail[STATS_IN]++;
        } else {
                return -1;
        }
        return 0;
}

/* queue_id - length of a queue ID followed by ": " at p, else 0 */
static size_t queue_id(const char *p)
{
        size_t n = 0;

        while (isalnum((unsigned char)p[n]))
                n++;
        return n > 0 && p[n] == ':' && p[n + 1] == ' ' ? n : 0;
}

/* parse_queue - "ID: to=<>, relay=, status=", "ID: client=", rejects;
 * 0 or -1 */
static int parse_queue(struct stats *s, const char *text)
{
        size_t n = queue_id(text);
        const char *p, *st;

        if (n == 0)
                return -1;
        p = text + n + 2;
        if (str_has_prefix(p, "reject: ")) {
                s->t.rejected++;
                return 0;
        }
        if (n == 7 && memcmp(text, "NOQUEUE", 7) == 0)
                return -1;
        if (str_has_prefix(p, "client=")) {
                s->t.received++;
                return 0;
        }
        if (str_has_prefix(p, "from=<") &&
            strstr(p, ">, status=expired, returned to sender")) {
                /* Postfix's qmgr: the whole message expired */
                s->t.delivery[STATS_EXPIRED]++;
                return 0;
        }
        if (!str_has_prefix(p, "to=<"))
                return -1;
        st = strstr(p, ", status=");
        if (st == NULL)
                return -1;
        st += strlen(", status=");
        for (int i = 0; i < STATS_NSTATUS; i++) {
                size_t k = strlen(status_words[i]);
                if (strncmp(st, status_words[i], k) != 0 ||
                    (st[k] != ' ' && st[k] != ',' && st[k] != 0))
                        continue;
                const char *r = strstr(p, ", relay=");
                s->t.delivery[i]++;
                if (r && r < st) {
                        r += strlen(", relay=");
                        size_t rl = strcspn(r, ",");
                        if (memchr(r, '[', rl))
                                s->t.relay_remote++;
                        else
                                s->t.relay_local++;
                }
                return 0;
        }
        return -1;
}

/* stats_skip - a line not fed */
void stats_skip(struct stats *s)
{
        s->t.lines++;
        s->t.skipped++;
}

/* stats_feed - one line */
void stats_feed(struct stats *s, const char *line, size_t len)
{
        const char *p, *text, *svc;
        size_t svc_len;
        long long when = 0;
        int used;

        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                len--;
        if (len > STATS_LINE_MAX || memchr(line, 0, len)) {
                stats_skip(s);
                return;
        }
        s->t.lines++;
        memcpy(s->scratch, line, len);
        s->scratch[len] = 0;
        p = parse_time(s, s->scratch, &when);
        if (p == NULL || (text = parse_ident(p, &svc, &svc_len)) == NULL) {
                s->t.skipped++;
                return;
        }
        if (!s->t.have_time || when < s->t.first)
                s->t.first = when;
        if (!s->t.have_time || when > s->t.last)
                s->t.last = when;
        s->t.have_time = 1;

        used = 1;
        if (parse_tls(s, text, when) == 0)
                ;
        else if (str_has_prefix(text, "connect from ") &&
                 svc_is(svc, svc_len, "smtpd"))
                s->t.connects++;
        else if (parse_failure(s, text, svc, svc_len) == 0)
                ;
        else if (parse_queue(s, text) == 0)
                ;
        else
                used = 0;
        if (used)
                s->t.used++;
        else
                s->t.other++;
}

/* stats_totals - the counters */
const struct stats_totals *stats_totals(const struct stats *s)
{
        return &s->t;
}

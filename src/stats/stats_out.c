/* SPDX-License-Identifier: MIT */
/*
 * stats_out.c - the statistics as text tables, one JSON object, or an SVG
 * graph in the spirit of mailgraph (time buckets, stacked bars per trust
 * level, outbound and inbound panels).  Names from the log are escaped for
 * each format: JSON \u00XX for control and non-ASCII bytes, XML character
 * references, '?' on a terminal.
 */
#include "stats/stats_int.h"
#include "base/base.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const trust_keys[STATS_NTRUST] = {"verified", "trusted",
                                                     "untrusted", "anonymous"};
static const char *const status_keys[STATS_NSTATUS] = {"sent", "deferred",
                                                       "bounced", "expired"};
static const char *const trust_colors[STATS_NTRUST] = {"#2e7d32", "#1565c0",
                                                       "#ef6c00", "#9e9e9e"};

/* Rows of the text tables. */
#define TOP_CIPHERS 10
#define TOP_DESTINATIONS 20
/* A name as printed on a terminal (stored names are at most 255 bytes). */
#define NAME_BUF 260
/* The most buckets an SVG may have. */
#define SVG_MAX_BUCKETS 5000

/* fmt_time - "YYYY-MM-DD HH:MM:SS" (sep ' ') or ISO 8601 (sep 'T') */
static void fmt_time(long long when, char sep, char *buf, size_t len)
{
        time_t t = (time_t)when;
        struct tm tm;

        if (gmtime_r(&t, &tm) == NULL) {
                snprintf(buf, len, "0000-00-00%c00:00:00", sep);
                return;
        }
        snprintf(buf, len, "%04d-%02d-%02d%c%02d:%02d:%02d", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, sep, tm.tm_hour, tm.tm_min,
                 tm.tm_sec);
}

/* tls_sum - TLS connections of one direction */
static unsigned long tls_sum(const struct stats_totals *t, enum stats_dir d)
{
        unsigned long n = 0;

        for (int i = 0; i < STATS_NTRUST; i++)
                n += t->tls[d][i];
        return n;
}

/* plain_in - inbound connections without a TLS line */
static unsigned long plain_in(const struct stats_totals *t)
{
        unsigned long tls = tls_sum(t, STATS_IN);

        return t->connects > tls ? t->connects - tls : 0;
}

/* pct - a share in percent */
static double pct(unsigned long part, unsigned long whole)
{
        return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* term_name - a log name made safe for a terminal, in buf */
static const char *term_name(const char *s, char *buf, size_t len)
{
        size_t i;

        for (i = 0; s[i] && i + 1 < len; i++)
                buf[i] =
                    (unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f
                        ? '?'
                        : s[i];
        buf[i] = 0;
        return buf;
}

/* entry_dir - an entry's count in one direction */
static unsigned long entry_dir(const struct stats_entry *e, enum stats_dir d)
{
        unsigned long n = 0;

        for (int i = 0; i < STATS_NTRUST; i++)
                n += e->n[d][i];
        return n;
}

/* text_trust - the trust level table of one direction */
static void text_trust(const struct stats_totals *t, enum stats_dir d, FILE *fp)
{
        unsigned long all = tls_sum(t, d);

        fprintf(fp, "\n%-30s %8s  %6s\n",
                d == STATS_IN ? "Inbound TLS connections"
                              : "Outbound TLS connections",
                "count", "%");
        for (int i = 0; i < STATS_NTRUST; i++)
                fprintf(fp, "  %-28s %8lu  %5.1f%%\n", stats_trust_words[i],
                        t->tls[d][i], pct(t->tls[d][i], all));
        fprintf(fp, "  %-28s %8lu  %5.1f%%\n", "TLS total", all,
                all ? 100.0 : 0.0);
        if (d == STATS_IN) {
                fprintf(fp, "  %-28s %8lu\n", "connections (smtpd)",
                        t->connects);
                fprintf(fp, "  %-28s %8lu  %5.1f%%\n",
                        "plaintext or failed TLS", plain_in(t),
                        pct(plain_in(t), t->connects));
        }
        fprintf(fp, "  %-28s %8lu\n", "TLS handshake failures", t->hs_fail[d]);
        fprintf(fp, "  %-28s %8lu\n", "certificate failures", t->cert_fail[d]);
        if (d == STATS_OUT)
                fprintf(fp, "  %-28s %8lu\n", "retried in plaintext",
                        t->plain_fallback);
}

/* text_dirtab - a keyed table with inbound and outbound columns */
static void text_dirtab(const struct stats_tab *tab, const char *title,
                        size_t top, FILE *fp)
{
        size_t n;
        struct stats_entry **v = stats_tab_sorted(tab, &n);
        char buf[NAME_BUF];

        fprintf(fp, "\n%-40s  inbound  outbound\n", title);
        for (size_t i = 0; i < n && i < top; i++)
                fprintf(fp, "  %-38s %8lu  %8lu\n",
                        term_name(v[i]->name, buf, sizeof(buf)),
                        entry_dir(v[i], STATS_IN), entry_dir(v[i], STATS_OUT));
        if (n == 0)
                fprintf(fp, "  (none)\n");
        else if (n > top)
                fprintf(fp, "  (%zu more)\n", n - top);
        free(v);
}

/* text_dests - the top outbound destinations with their trust levels */
static void text_dests(const struct stats_tab *tab, FILE *fp)
{
        size_t n;
        struct stats_entry **v = stats_tab_sorted(tab, &n);
        char buf[NAME_BUF];

        fprintf(fp, "\nTop outbound destinations (top %d)\n", TOP_DESTINATIONS);
        fprintf(fp, "  %-34s %7s %9s %8s %10s %10s\n", "host", "total",
                "Verified", "Trusted", "Untrusted", "Anonymous");
        for (size_t i = 0; i < n && i < TOP_DESTINATIONS; i++)
                fprintf(fp, "  %-34s %7lu %9lu %8lu %10lu %10lu\n",
                        term_name(v[i]->name, buf, sizeof(buf)), v[i]->total,
                        v[i]->n[STATS_OUT][STATS_VERIFIED],
                        v[i]->n[STATS_OUT][STATS_TRUSTED],
                        v[i]->n[STATS_OUT][STATS_UNTRUSTED],
                        v[i]->n[STATS_OUT][STATS_ANONYMOUS]);
        if (n == 0)
                fprintf(fp, "  (none)\n");
        else if (n > TOP_DESTINATIONS)
                fprintf(fp, "  (%zu more)\n", n - TOP_DESTINATIONS);
        free(v);
}

/* stats_print_text - the tables */
void stats_print_text(const struct stats *s, FILE *fp)
{
        const struct stats_totals *t = &s->t;
        char a[64], b[64];

        fprintf(fp, "Summary\n");
        if (t->have_time) {
                fmt_time(t->first, ' ', a, sizeof(a));
                fmt_time(t->last, ' ', b, sizeof(b));
                fprintf(fp, "  %-28s %s .. %s\n", "period", a, b);
        } else {
                fprintf(fp, "  %-28s %s\n", "period", "(no timestamps)");
        }
        fprintf(fp, "  %-28s %8lu\n", "lines read", t->lines);
        fprintf(fp, "  %-28s %8lu\n", "lines used", t->used);
        fprintf(fp, "  %-28s %8lu\n", "other mail log lines", t->other);
        fprintf(fp, "  %-28s %8lu\n", "messages received", t->received);
        fprintf(fp, "  %-28s %8lu\n", "rejected (NOQUEUE etc.)", t->rejected);
        text_trust(t, STATS_IN, fp);
        text_trust(t, STATS_OUT, fp);
        text_dirtab(&s->tab[STATS_PROTOCOLS], "TLS protocols", (size_t)-1, fp);
        text_dirtab(&s->tab[STATS_CIPHERS], "Ciphers (top 10)", TOP_CIPHERS,
                    fp);
        text_dests(&s->tab[STATS_DESTINATIONS], fp);
        fprintf(fp, "\n%-30s %8s\n", "Deliveries (recipients)", "count");
        for (int i = 0; i < STATS_NSTATUS; i++)
                fprintf(fp, "  %-28s %8lu\n", status_keys[i], t->delivery[i]);
        fprintf(fp, "  %-28s %8lu\n", "to remote hosts", t->relay_remote);
        fprintf(fp, "  %-28s %8lu\n", "local or other", t->relay_local);
        fprintf(fp, "\n%lu lines skipped\n", t->skipped);
}

/* json_str - a JSON string literal of a log name; bytes outside printable
 * ASCII become \u00XX so the output is valid whatever the input */
static void json_str(const char *p, FILE *fp)
{
        fputc('"', fp);
        for (; *p; p++) {
                unsigned char c = (unsigned char)*p;
                if (c == '"' || c == '\\')
                        fprintf(fp, "\\%c", c);
                else if (c < 0x20 || c >= 0x7f)
                        fprintf(fp, "\\u%04x", c);
                else
                        fputc(c, fp);
        }
        fputc('"', fp);
}

/* json_trust - {"verified":N,...,"total":N} */
static void json_trust(const unsigned long *n, FILE *fp)
{
        unsigned long all = 0;

        fputc('{', fp);
        for (int i = 0; i < STATS_NTRUST; i++) {
                fprintf(fp, "\"%s\":%lu,", trust_keys[i], n[i]);
                all += n[i];
        }
        fprintf(fp, "\"total\":%lu}", all);
}

/* json_dirtab - [{"name":..,"inbound":N,"outbound":N,"total":N},...] */
static void json_dirtab(const struct stats_tab *tab, FILE *fp)
{
        size_t n;
        struct stats_entry **v = stats_tab_sorted(tab, &n);

        fputc('[', fp);
        for (size_t i = 0; i < n; i++) {
                fprintf(fp, "%s{\"name\":", i ? "," : "");
                json_str(v[i]->name, fp);
                fprintf(fp, ",\"inbound\":%lu,\"outbound\":%lu,\"total\":%lu}",
                        entry_dir(v[i], STATS_IN), entry_dir(v[i], STATS_OUT),
                        v[i]->total);
        }
        fputc(']', fp);
        free(v);
}

/* stats_print_json - one object */
void stats_print_json(const struct stats *s, FILE *fp)
{
        const struct stats_totals *t = &s->t;
        char a[64], b[64];
        size_t n;
        struct stats_entry **v;

        fputc('{', fp);
        if (t->have_time) {
                fmt_time(t->first, 'T', a, sizeof(a));
                fmt_time(t->last, 'T', b, sizeof(b));
                fprintf(fp, "\"period\":{\"first\":\"%s\",\"last\":\"%s\"},", a,
                        b);
        } else {
                fprintf(fp, "\"period\":null,");
        }
        fprintf(fp,
                "\"lines\":{\"read\":%lu,\"used\":%lu,\"other\":%lu,"
                "\"skipped\":%lu},",
                t->lines, t->used, t->other, t->skipped);
        fprintf(fp, "\"inbound\":{\"connections\":%lu,\"tls\":", t->connects);
        json_trust(t->tls[STATS_IN], fp);
        fprintf(fp,
                ",\"plaintext_or_failed\":%lu,\"handshake_failures\":%lu,"
                "\"certificate_failures\":%lu},",
                plain_in(t), t->hs_fail[STATS_IN], t->cert_fail[STATS_IN]);
        fprintf(fp, "\"outbound\":{\"tls\":");
        json_trust(t->tls[STATS_OUT], fp);
        fprintf(fp,
                ",\"handshake_failures\":%lu,\"certificate_failures\":%lu,"
                "\"plaintext_fallbacks\":%lu},",
                t->hs_fail[STATS_OUT], t->cert_fail[STATS_OUT],
                t->plain_fallback);
        fprintf(fp, "\"protocols\":");
        json_dirtab(&s->tab[STATS_PROTOCOLS], fp);
        fprintf(fp, ",\"ciphers\":");
        json_dirtab(&s->tab[STATS_CIPHERS], fp);
        fprintf(fp, ",\"destinations\":[");
        v = stats_tab_sorted(&s->tab[STATS_DESTINATIONS], &n);
        for (size_t i = 0; i < n; i++) {
                fprintf(fp, "%s{\"host\":", i ? "," : "");
                json_str(v[i]->name, fp);
                fprintf(fp, ",\"tls\":");
                json_trust(v[i]->n[STATS_OUT], fp);
                fputc('}', fp);
        }
        free(v);
        fprintf(fp, "],\"deliveries\":{");
        for (int i = 0; i < STATS_NSTATUS; i++)
                fprintf(fp, "\"%s\":%lu,", status_keys[i], t->delivery[i]);
        fprintf(fp, "\"remote\":%lu,\"local\":%lu},", t->relay_remote,
                t->relay_local);
        fprintf(fp, "\"messages\":{\"received\":%lu,\"rejected\":%lu}}\n",
                t->received, t->rejected);
}

/* stats_svg_interval - the automatic bucket width */
long stats_svg_interval(const struct stats *s)
{
        long long span = s->t.have_time ? s->t.last - s->t.first : 0;

        if (span <= 86400)
                return 300;
        if (span <= 14 * 86400)
                return 3600;
        if (span <= 366 * 86400)
                return 86400;
        if (span <= 1000LL * 7 * 86400)
                return 7 * 86400;
        /* centuries of log (a wrong --year): about a thousand bars */
        return (long)(span / 1000 / (7 * 86400) + 1) * 7 * 86400;
}

/* floor_div - division rounding towards minus infinity */
static long long floor_div(long long a, long long b)
{
        long long q = a / b;

        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* nice_max - a round axis maximum at least v (1, 2, 5 times 10^k) */
static unsigned long nice_max(unsigned long v)
{
        unsigned long m = 1;

        while (m < v) {
                if (m * 2 >= v)
                        return m * 2;
                if (m * 5 >= v)
                        return m * 5;
                if (m > (unsigned long)-1 / 10)
                        return v;
                m *= 10;
        }
        return m;
}

/* xml_text - text for an XML document: markup escaped, bytes that XML 1.0
 * cannot hold become '?', other bytes character references */
static void xml_text(const char *p, FILE *fp)
{
        for (; *p; p++) {
                unsigned char c = (unsigned char)*p;
                if (c == '<')
                        fputs("&lt;", fp);
                else if (c == '>')
                        fputs("&gt;", fp);
                else if (c == '&')
                        fputs("&amp;", fp);
                else if (c == '"')
                        fputs("&quot;", fp);
                else if (c == '\'')
                        fputs("&#39;", fp);
                else if (c < 0x20 || c == 0x7f)
                        fputc('?', fp);
                else if (c >= 0x80)
                        fprintf(fp, "&#%u;", c);
                else
                        fputc(c, fp);
        }
}

/* fmt_interval - "minute", "5 minutes", "hour", "2 days"... */
static void fmt_interval(long iv, char *buf, size_t len)
{
        static const struct {
                long secs;
                const char *name;
        } units[] = {{7 * 86400, "week"},
                     {86400, "day"},
                     {3600, "hour"},
                     {60, "minute"}};

        for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
                if (iv % units[i].secs != 0)
                        continue;
                if (iv == units[i].secs)
                        snprintf(buf, len, "%s", units[i].name);
                else
                        snprintf(buf, len, "%ld %ss", iv / units[i].secs,
                                 units[i].name);
                return;
        }
        snprintf(buf, len, "%ld s", iv);
}

/* Geometry of the graph. */
#define SVG_W 860
#define SVG_LEFT 70
#define SVG_RIGHT 20
#define SVG_PANEL_H 200
#define SVG_TOP 50
#define SVG_GAP 70

/* svg_panel - one direction's stacked bars; buckets[i][trust] */
static void svg_panel(FILE *fp, enum stats_dir d,
                      unsigned long (*b)[STATS_NTRUST], size_t nb,
                      long long start, long interval, int top)
{
        double pw = SVG_W - SVG_LEFT - SVG_RIGHT;
        double bw = pw / (double)nb;
        unsigned long max = 0, ymax;
        char tbuf[64], per[64];

        fmt_interval(interval, per, sizeof(per));
        for (size_t i = 0; i < nb; i++) {
                unsigned long sum = 0;
                for (int k = 0; k < STATS_NTRUST; k++)
                        sum += b[i][k];
                if (sum > max)
                        max = sum;
        }
        ymax = nice_max(max ? max : 1);
        fprintf(fp,
                "<g class=\"panel %s\">\n<text x=\"%d\" y=\"%d\" "
                "class=\"ptitle\">%s TLS connections per %s</text>\n",
                d == STATS_IN ? "inbound" : "outbound", SVG_LEFT, top - 8,
                d == STATS_IN ? "Inbound (smtpd)" : "Outbound (smtp)", per);
        fprintf(fp,
                "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%d\" "
                "fill=\"#fafafa\" stroke=\"#888\"/>\n",
                SVG_LEFT, top, pw, SVG_PANEL_H);
        for (int k = 0; k <= 4; k++) {
                double y = top + SVG_PANEL_H - SVG_PANEL_H * k / 4.0;
                fprintf(fp,
                        "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" "
                        "stroke=\"#ddd\"/>\n",
                        SVG_LEFT, y, SVG_W - SVG_RIGHT, y);
                /* whole numbers only: no quarter connections */
                if (ymax * (unsigned long)k % 4 == 0)
                        fprintf(fp,
                                "<text x=\"%d\" y=\"%.1f\" "
                                "text-anchor=\"end\">%lu</text>\n",
                                SVG_LEFT - 5, y + 4,
                                ymax * (unsigned long)k / 4);
        }
        fprintf(fp,
                "<text x=\"15\" y=\"%d\" transform=\"rotate(-90 15 %d)\" "
                "text-anchor=\"middle\">connections</text>\n",
                top + SVG_PANEL_H / 2, top + SVG_PANEL_H / 2);
        for (size_t i = 0; i < nb; i++) {
                double y = top + SVG_PANEL_H;
                for (int k = 0; k < STATS_NTRUST; k++) {
                        double h;
                        if (b[i][k] == 0)
                                continue;
                        h = SVG_PANEL_H * (double)b[i][k] / (double)ymax;
                        y -= h;
                        fprintf(fp,
                                "<rect class=\"bar %s\" x=\"%.2f\" y=\"%.2f\" "
                                "width=\"%.2f\" height=\"%.2f\" "
                                "fill=\"%s\" data-count=\"%lu\"/>\n",
                                trust_keys[k], SVG_LEFT + bw * (double)i, y,
                                bw > 2 ? bw - 1 : bw, h, trust_colors[k],
                                b[i][k]);
                }
        }
        /* about six time labels along the axis */
        size_t step = nb / 6 + 1;
        for (size_t i = 0; i < nb; i += step) {
                fmt_time(start + (long long)i * interval, ' ', tbuf,
                         sizeof(tbuf));
                tbuf[16] = 0; /* no seconds */
                if (interval >= 86400)
                        tbuf[10] = 0; /* no time of day */
                fprintf(fp,
                        "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
                        "stroke=\"#888\"/>\n<text x=\"%.1f\" y=\"%d\" "
                        "text-anchor=\"middle\">%s</text>\n",
                        SVG_LEFT + bw * (double)i, top + SVG_PANEL_H,
                        SVG_LEFT + bw * (double)i, top + SVG_PANEL_H + 5,
                        SVG_LEFT + bw * (double)i, top + SVG_PANEL_H + 18,
                        interval >= 86400 ? tbuf : tbuf + 5);
        }
        fprintf(fp, "</g>\n");
}

/* stats_write_svg - the graph */
int stats_write_svg(const struct stats *s, FILE *fp, long interval,
                    const char **errstr)
{
        const struct stats_totals *t = &s->t;
        long long start = 0, end = 0;
        size_t nb = 1;
        unsigned long(*b[STATS_NDIR])[STATS_NTRUST];
        char a[64], z[64], title[160];
        int height = SVG_TOP + 2 * SVG_PANEL_H + SVG_GAP + 60;

        if (interval == 0)
                interval = stats_svg_interval(s);
        if (interval < 60 || interval % 60 != 0) {
                *errstr = "the interval must be a multiple of 60 seconds";
                return -1;
        }
        if (t->have_time) {
                start = floor_div(t->first, interval) * interval;
                end = floor_div(t->last, interval) * interval;
                if ((end - start) / interval >= SVG_MAX_BUCKETS) {
                        *errstr = "the interval is too small for the period "
                                  "(more than 5000 bars)";
                        return -1;
                }
                nb = (size_t)((end - start) / interval) + 1;
        }
        for (int d = 0; d < STATS_NDIR; d++)
                b[d] = xcalloc(nb, sizeof(*b[d]));
        for (size_t i = 0; i < s->min_cap; i++) {
                const struct stats_minute *m = &s->min[i];
                if (!m->used)
                        continue;
                long long k = floor_div(m->minute * 60 - start, interval);
                if (k < 0 || (size_t)k >= nb)
                        continue;
                for (int d = 0; d < STATS_NDIR; d++)
                        for (int j = 0; j < STATS_NTRUST; j++)
                                b[d][k][j] += m->n[d][j];
        }

        if (t->have_time) {
                fmt_time(t->first, ' ', a, sizeof(a));
                fmt_time(t->last, ' ', z, sizeof(z));
                snprintf(title, sizeof(title), "TLS connections %s .. %s", a,
                         z);
        } else {
                snprintf(title, sizeof(title), "TLS connections (no data)");
        }
        fprintf(fp,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
                "height=\"%d\" viewBox=\"0 0 %d %d\" "
                "font-family=\"sans-serif\" font-size=\"11\">\n"
                "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
                "<title>",
                SVG_W, height, SVG_W, height);
        xml_text(title, fp);
        fprintf(fp,
                "</title>\n<text x=\"%d\" y=\"22\" text-anchor=\"middle\" "
                "font-size=\"15\" class=\"title\">",
                SVG_W / 2);
        xml_text(title, fp);
        fprintf(fp, "</text>\n");
        svg_panel(fp, STATS_OUT, b[STATS_OUT], nb, start, interval, SVG_TOP);
        svg_panel(fp, STATS_IN, b[STATS_IN], nb, start, interval,
                  SVG_TOP + SVG_PANEL_H + SVG_GAP);
        /* legend */
        fprintf(fp, "<g class=\"legend\">\n");
        for (int k = 0; k < STATS_NTRUST; k++) {
                int x = SVG_LEFT + 130 * k, y = height - 22;
                fprintf(fp,
                        "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" "
                        "fill=\"%s\"/>\n<text x=\"%d\" y=\"%d\">%s</text>\n",
                        x, y, trust_colors[k], x + 17, y + 10,
                        stats_trust_words[k]);
        }
        fprintf(fp, "</g>\n</svg>\n");
        for (int d = 0; d < STATS_NDIR; d++)
                free(b[d]);
        return 0;
}

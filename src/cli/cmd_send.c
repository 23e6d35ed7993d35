/* SPDX-License-Identifier: MIT */
/*
 * cmd_send.c - postern send: sendmail-compatible local submission.  The
 * message is read from standard input, completed (Date, Message-ID, From
 * when missing, a Received line) and written into the queue directly, so
 * it works whether or not the daemon runs: the queue manager picks it up
 * when it starts.  Files go through maildrop/ and are handed to the queue
 * directory's owner (docs/queue.md says why and what an unprivileged
 * user would need).
 */
#include "cli/cli.h"
#include "conf/conf.h"
#include "qmgr/qmgr.h"
#include "queue/queue.h"
#include "smtpd/smtpd.h"

#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* sendmail's exit codes (sysexits.h) */
#define EX_USAGE 64
#define EX_DATAERR 65
#define EX_TEMPFAIL 75
#define EX_CONFIG 78

static const char send_usage[] =
    "postern send [-c DIR] [-o name=value] [-t] [-i|-oi] [-f sender] "
    "[-F name] [-N dsn] [-R ret] [-V envid] [recipient ...]";

static const char send_help[] =
    "Submit a message from standard input, as sendmail does.\n"
    "\n"
    "  -t            take recipients from To:, Cc: and Bcc: (added to\n"
    "                those on the command line; Bcc: is removed)\n"
    "  -i, -oi       a line with a single dot does not end the message\n"
    "  -f SENDER     envelope sender (-r is the same; \"\" or <> is null)\n"
    "  -F NAME       full name for a From: header that is added\n"
    "  -N LIST       DSN NOTIFY: never, or success,failure,delay\n"
    "  -R full|hdrs  DSN RET\n"
    "  -V ENVID      DSN ENVID\n"
    "  -c DIR, -o name=value   configuration, as every subcommand\n"
    "Canonical maps, masquerading (envelope and headers), always_bcc,\n"
    "sender_bcc_maps, recipient_bcc_maps and virtual aliases apply, as\n"
    "for mail received over SMTP from a local client.\n"
    "Other sendmail options (-oX, -bm, -B, -v, -L...) are accepted and\n"
    "ignored.  Exit status 0, or sendmail's (64 usage, 65 data, 75\n"
    "temporary failure: nothing was queued).\n";

struct send {
        struct conf *conf;
        char *sender;
        const char *fullname;
        bool extract, dots_end;
        unsigned notify;
        enum queue_ret ret;
        const char *envid;
        struct strlist rcpts;
};

/* qualify - append @myorigin to an address without a domain */
static char *qualify(const struct conf *c, const char *addr)
{
        if (*addr == 0 || strchr(addr, '@'))
                return xstrdup(addr);
        return xasprintf("%s@%s", addr, c->myorigin);
}

/* strip_angle - "<a@b>" into "a@b" */
static char *strip_angle(const char *s)
{
        size_t n = strlen(s);

        if (n >= 2 && s[0] == '<' && s[n - 1] == '>')
                return xstrndup(s + 1, n - 2);
        return xstrdup(s);
}

/* read_input - standard input into sb, LF and CRLF line ends made CRLF;
 * a lone "." line ends it unless -i */
static int read_input(struct send *s, struct strbuf *sb)
{
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;

        while ((n = getline(&line, &cap, stdin)) > 0) {
                size_t len = (size_t)n;
                bool nl = line[len - 1] == '\n';
                if (nl)
                        len--;
                if (nl && len && line[len - 1] == '\r')
                        len--;
                if (s->dots_end && len == 1 && line[0] == '.')
                        break;
                strbuf_add(sb, line, len);
                strbuf_adds(sb, "\r\n");
                if ((long long)sb->len > s->conf->message_size_limit &&
                    s->conf->message_size_limit > 0) {
                        free(line);
                        fprintf(stderr, "postern send: message too large "
                                        "(message_size_limit)\n");
                        return -1;
                }
        }
        free(line);
        return ferror(stdin) ? -1 : 0;
}

/* header_name_is - whether a header line starts with "name:" */
static bool header_name_is(const char *h, size_t len, const char *name)
{
        size_t n = strlen(name);

        return len > n && h[n] == ':' && strncasecmp(h, name, n) == 0;
}

/* rfc5322_now - the current date for Date: and Received: */
static void rfc5322_now(char *buf, size_t len)
{
        time_t t = time(NULL);
        struct tm tm;

        localtime_r(&t, &tm);
        strftime(buf, len, "%a, %d %b %Y %H:%M:%S %z", &tm);
}

/* add_header - one header into out, its addresses rewritten when canon
 * says (a local submission's headers always are): 0, or -1 with *err */
static int add_header(struct smtpd_canon *canon, const char *domain,
                      const char *h, size_t l, struct strbuf *out, char **err)
{
        int rc = domain ? smtpd_canon_header(canon, domain, h, l, out, err) : 0;

        if (rc == 0)
                strbuf_add(out, h, l);
        return rc < 0 ? -1 : 0;
}

/* build_message - headers checked, completed and rewritten (canon, NULL
 * ok), -t recipients taken, Bcc: removed; into out.  0, or -1 with *err
 * (a table error) */
static int build_message(struct send *s, const char *qid, const char *in,
                         size_t len, struct smtpd_canon *canon,
                         struct strbuf *out, char **err)
{
        const struct conf *c = s->conf;
        size_t i = 0, hend;
        bool has_date = false, has_msgid = false, has_from = false;
        char date[64];
        struct strbuf hdrs, one;
        const char *domain = smtpd_canon_header_domain(canon, true);
        int rc = 0;

        /* the header section ends at the first empty line, or at a line
         * that is not a header (then everything is body) */
        for (hend = 0; hend < len;) {
                const char *eol = memchr(in + hend, '\n', len - hend);
                size_t l = eol ? (size_t)(eol - (in + hend)) + 1 : len - hend;
                const char *h = in + hend;
                if (l <= 2)
                        break; /* "\r\n": the empty line */
                if (!(h[0] == ' ' || h[0] == '\t')) {
                        const char *colon = memchr(h, ':', l);
                        if (colon == NULL || colon == h)
                                break;
                        for (const char *p = h; p < colon; p++)
                                if (*p <= ' ' || *p > '~')
                                        goto body;
                } else if (hend == 0) {
                        break;
                }
                hend += l;
        }
body:
        strbuf_init(&hdrs);
        strbuf_init(&one);
        rfc5322_now(date, sizeof(date));
        strbuf_printf(out,
                      "Received: by %s (%s, from userid %ld)\r\n\tid %s; "
                      "%s\r\n",
                      c->myhostname, c->mail_name, (long)getuid(), qid, date);
        for (i = 0; i < hend && rc == 0;) {
                /* one header field with its continuation lines */
                size_t start = i;
                do {
                        const char *eol = memchr(in + i, '\n', hend - i);
                        i = eol ? (size_t)(eol - in) + 1 : hend;
                } while (i < hend && (in[i] == ' ' || in[i] == '\t'));
                /* rewritten first: -t takes what the headers say then */
                strbuf_reset(&one);
                rc =
                    add_header(canon, domain, in + start, i - start, &one, err);
                const char *h = one.s ? one.s : "";
                size_t l = one.len;
                has_date |= header_name_is(h, l, "date");
                has_msgid |= header_name_is(h, l, "message-id");
                has_from |= header_name_is(h, l, "from");
                bool bcc = header_name_is(h, l, "bcc");
                if (s->extract && (bcc || header_name_is(h, l, "to") ||
                                   header_name_is(h, l, "cc"))) {
                        const char *colon = memchr(h, ':', l);
                        char *v =
                            xstrndup(colon + 1, l - (size_t)(colon + 1 - h));
                        for (char *p = v; *p; p++)
                                if (*p == '\r' || *p == '\n')
                                        *p = ' ';
                        qmgr_addrlist_parse(v, &s->rcpts);
                        free(v);
                }
                if (!bcc)
                        strbuf_add(&hdrs, h, l);
        }
        if (!has_from && rc == 0) {
                strbuf_reset(&one);
                if (s->fullname)
                        strbuf_printf(&one, "From: %s <%s>\r\n", s->fullname,
                                      s->sender);
                else
                        strbuf_printf(&one, "From: %s\r\n", s->sender);
                rc = add_header(canon, domain, one.s, one.len, out, err);
        }
        if (!has_date)
                strbuf_printf(out, "Date: %s\r\n", date);
        if (!has_msgid)
                strbuf_printf(out, "Message-Id: <%s@%s>\r\n", qid,
                              c->myhostname);
        strbuf_add(out, hdrs.s ? hdrs.s : "", hdrs.len);
        if (hend == len || hend == 0 || in[hend] != '\r')
                strbuf_adds(out, "\r\n"); /* the empty line was missing */
        strbuf_add(out, in + hend, len - hend);
        strbuf_clear(&hdrs);
        strbuf_clear(&one);
        return rc;
}

/* parse_notify - "-N never" or "success,failure,delay" */
static int parse_notify(const char *v, unsigned *out)
{
        struct strlist l = {0};
        int rc = 0;

        *out = 0;
        str_split(v, ", ", &l);
        for (size_t i = 0; i < l.n; i++) {
                if (str_eq_ci(l.v[i], "never"))
                        *out |= QUEUE_NOTIFY_NEVER;
                else if (str_eq_ci(l.v[i], "success"))
                        *out |= QUEUE_NOTIFY_SUCCESS;
                else if (str_eq_ci(l.v[i], "failure"))
                        *out |= QUEUE_NOTIFY_FAILURE;
                else if (str_eq_ci(l.v[i], "delay"))
                        *out |= QUEUE_NOTIFY_DELAY;
                else
                        rc = -1;
        }
        strlist_clear(&l);
        if ((*out & QUEUE_NOTIFY_NEVER) && *out != QUEUE_NOTIFY_NEVER)
                rc = -1;
        return rc;
}

/* enqueue - write, commit into maildrop/, give the file to the queue's
 * owner, wake the queue manager */
static int enqueue(struct send *s, const char *in, size_t len)
{
        const struct conf *c = s->conf;
        struct queue *q = NULL;
        struct queue_msg *m = NULL;
        struct queue_env env;
        struct strbuf msg;
        struct smtpd_mappings map;
        const char *err = NULL, *qid;
        char *merr = NULL;
        int rc = EX_TEMPFAIL;
        struct stat st;

        queue_env_init(&env);
        strbuf_init(&msg);
        /* the address mappings of main.cf, as Postfix's pickup and
         * cleanup apply them to local submissions */
        if (smtpd_mappings_open(c, &map, &merr) < 0) {
                fprintf(stderr, "postern send: %s\n", merr);
                free(merr);
                strbuf_clear(&msg);
                return EX_TEMPFAIL;
        }
        if (queue_init(c->queue_directory, &err) < 0 ||
            queue_open(c->queue_directory, &q, &err) < 0 ||
            queue_msg_new(q, &m, &err) < 0)
                goto fail;
        qid = queue_msg_id(m);
        if (build_message(s, qid, in, len, map.canon, &msg, &merr) < 0) {
                fprintf(stderr, "postern send: %s\n", merr);
                free(merr);
                goto out;
        }
        if (s->rcpts.n == 0) {
                fprintf(stderr, "postern send: no recipients specified\n");
                rc = EX_USAGE;
                goto out;
        }
        env.sender = xstrdup(s->sender);
        env.envid = s->envid ? xstrdup(s->envid) : NULL;
        env.ret = s->ret;
        env.protocol = xstrdup("local");
        for (size_t i = 0; i < s->rcpts.n; i++) {
                char *a = strip_angle(s->rcpts.v[i]);
                char *r = qualify(c, a);
                if (*r)
                        queue_env_add_rcpt(&env, r, NULL, s->notify);
                free(a);
                free(r);
        }
        if (env.nrcpt == 0) {
                fprintf(stderr, "postern send: no recipients specified\n");
                rc = EX_USAGE;
                goto out;
        }
        /* canonical mapping, the BCC copies, virtual aliases, as smtpd */
        if (smtpd_mappings_apply(&map, NULL, &env, &merr) < 0) {
                fprintf(stderr, "postern send: %s\n", merr);
                free(merr);
                goto out;
        }
        if (queue_msg_write(m, msg.s, msg.len, &err) < 0 ||
            queue_msg_finish(m, &env, NULL, &err) < 0 ||
            queue_commit_to(q, QUEUE_MAILDROP, &m, 1, &err) < 0)
                goto fail;
        /* the queue manager runs as the queue's owner */
        if (geteuid() == 0 && stat(c->queue_directory, &st) == 0 &&
            st.st_uid != 0) {
                char *p = xasprintf("%s/maildrop/%s", c->queue_directory, qid);
                if (chown(p, st.st_uid, st.st_gid) < 0)
                        fprintf(stderr, "postern send: warning: chown %s: %s\n",
                                p, strerror(errno));
                free(p);
        }
        queue_notify(q);
        rc = 0;
        goto out;
fail:
        fprintf(stderr, "postern send: cannot queue the message: %s\n",
                err ? err : "unknown error");
out:
        queue_msg_free(m);
        queue_close(q);
        queue_env_clear(&env);
        strbuf_clear(&msg);
        smtpd_mappings_close(&map);
        return rc;
}

/* cmd_send - the subcommand */
int cmd_send(int argc, char **argv)
{
        struct cli_common common;
        struct send s = {.dots_end = true};
        struct strbuf in;
        const char *sender = NULL;
        char *err = NULL;
        int i, rc;

        if (cli_wants_help(argc, argv)) {
                printf("usage: %s\n\n%s", send_usage, send_help);
                return 0;
        }
        cli_common_init(&common);
        strbuf_init(&in);
        /* sendmail's options do not suit getopt: -oi vs -o name=value */
        for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
                const char *a = argv[i];
                const char *next = i + 1 < argc ? argv[i + 1] : NULL;
                if (strcmp(a, "--") == 0) {
                        i++;
                        break;
                }
                char o = a[1];
                const char *val = a[2] ? a + 2 : NULL;
                bool takes = strchr("cfrFNRVoBCL", o) != NULL;
                if (o == 'o' && val && strchr(val, '=') == NULL) {
                        if (strcmp(val, "i") == 0)
                                s.dots_end = false;
                        continue; /* -oi, -oem, -odb ...: sendmail's own */
                }
                if (takes && val == NULL) {
                        if (next == NULL) {
                                rc = cli_usage("send", send_usage,
                                               "-%c needs a value", o);
                                goto done;
                        }
                        val = next;
                        i++;
                }
                switch (o) {
                case 't':
                        s.extract = true;
                        break;
                case 'i':
                        s.dots_end = false;
                        break;
                case 'f':
                case 'r':
                        sender = val;
                        break;
                case 'F':
                        s.fullname = val;
                        break;
                case 'N':
                        if (parse_notify(val, &s.notify) < 0) {
                                rc = cli_usage("send", send_usage, "bad -N %s",
                                               val);
                                goto done;
                        }
                        break;
                case 'R':
                        s.ret = str_eq_ci(val, "hdrs")   ? QUEUE_RET_HDRS
                                : str_eq_ci(val, "full") ? QUEUE_RET_FULL
                                                         : QUEUE_RET_NONE;
                        break;
                case 'V':
                        s.envid = val;
                        break;
                case 'c':
                case 'o': {
                        int bad = 0;
                        if (cli_common_opt(&common, o, val, &bad) < 0) {
                                rc = cli_usage("send", send_usage, NULL);
                                goto done;
                        }
                        break;
                }
                default:
                        break; /* -bm, -v, -B, -C, -L ...: ignored */
                }
        }
        if (conf_load(common.config_dir, &common.overrides, &s.conf, &err) <
            0) {
                fprintf(stderr, "postern send: %s\n", err);
                free(err);
                rc = EX_CONFIG;
                goto done;
        }
        for (; i < argc; i++)
                strlist_push(&s.rcpts, argv[i]);
        if (sender) {
                char *a = strip_angle(sender);
                s.sender = qualify(s.conf, a);
                free(a);
        } else {
                struct passwd *pw = getpwuid(getuid());
                s.sender = qualify(s.conf, pw ? pw->pw_name : "nobody");
        }
        if (read_input(&s, &in) < 0) {
                rc = EX_DATAERR;
                goto done;
        }
        rc = enqueue(&s, in.s ? in.s : "", in.len);
done:
        strbuf_clear(&in);
        strlist_clear(&s.rcpts);
        free(s.sender);
        conf_free(s.conf);
        cli_common_clear(&common);
        return rc;
}

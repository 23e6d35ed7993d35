/* SPDX-License-Identifier: MIT */
/* log.c - Postfix-shaped log lines to syslog, a file, or stderr */
#include "log/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

enum log_dest { DEST_STDERR, DEST_SYSLOG, DEST_FILE };

static char log_name[64] = "postern"; /* syslog_name */
static char log_prog[64];             /* log_init's program, or "" */
static char log_ident[160] = "postern";
static char log_own[160] = "postern"; /* log_init's; log_service may differ */
static const char *log_svc;           /* log_service's program, or NULL */
static char log_host[256] = "localhost";
static enum log_dest log_dest = DEST_STDERR;
static int log_fd = -1;
static bool log_stderr_copy;
static int log_level_verbose;
/* log_hold: file lines wait in held until log_flush (one write for all) */
static bool log_holding;
static struct strbuf held;
static unsigned host_gen; /* bumped when log_open changes the host */
#define HELD_MAX 16384    /* flush early beyond this */

/* make_ident - "NAME/PROGRAM", or NAME alone */
static void make_ident(char *out, size_t len, const char *program)
{
        if (program && *program)
                snprintf(out, len, "%s/%s", log_name, program);
        else
                snprintf(out, len, "%s", log_name);
}

/* log_init - set the program name */
void log_init(const char *program)
{
        snprintf(log_prog, sizeof(log_prog), "%s", program ? program : "");
        make_ident(log_own, sizeof(log_own), log_prog);
        snprintf(log_ident, sizeof(log_ident), "%s", log_own);
        log_svc = NULL;
        if (log_dest == DEST_SYSLOG) {
                closelog();
                openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
        }
}

/* log_set_name - syslog_name */
void log_set_name(const char *name)
{
        const char *svc = log_svc;
        char prog[sizeof(log_prog)];

        snprintf(log_name, sizeof(log_name), "%s",
                 name && *name ? name : "postern");
        memcpy(prog, log_prog, sizeof(prog)); /* log_init writes log_prog */
        log_init(prog);
        if (svc)
                (void)log_service(svc);
}

/* log_service - lines from now on as postern/PROGRAM (NULL: our own) */
const char *log_service(const char *program)
{
        const char *prev = log_svc;

        if (program == prev || (program && prev && strcmp(program, prev) == 0))
                return prev;
        log_svc = program;
        if (program && strchr(program, '/'))
                snprintf(log_ident, sizeof(log_ident), "%s", program);
        else if (program && *program)
                make_ident(log_ident, sizeof(log_ident), program);
        else
                snprintf(log_ident, sizeof(log_ident), "%s", log_own);
        if (log_dest == DEST_SYSLOG) /* no new connection: a new tag */
                openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
        return prev;
}

/* log_program - the ident */
const char *log_program(void)
{
        return log_ident;
}

/* log_open - choose destination */
int log_open(const char *file, const char *host, const char **errstr)
{
        log_flush(); /* held lines belong to the old destination */
        host_gen++;
        if (host && *host)
                snprintf(log_host, sizeof(log_host), "%s", host);
        if (file == NULL || *file == 0) {
                if (log_fd >= 0 && log_fd > 2)
                        close(log_fd);
                log_fd = -1;
                log_dest = DEST_SYSLOG;
                openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
                return 0;
        }
        int fd;
        if (strcmp(file, "/dev/stdout") == 0)
                fd = dup(1);
        else if (strcmp(file, "/dev/stderr") == 0)
                fd = dup(2);
        else
                fd =
                    open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
        if (fd < 0) {
                *errstr = strerror(errno);
                return -1;
        }
        (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
        if (log_fd > 2)
                close(log_fd);
        log_fd = fd;
        log_dest = DEST_FILE;
        return 0;
}

/* log_also_stderr - copy lines to stderr */
void log_also_stderr(bool on)
{
        log_stderr_copy = on;
}

/* log_set_verbose - debug level */
void log_set_verbose(int v)
{
        log_level_verbose = v;
}

/* log_verbose - debug level */
int log_verbose(void)
{
        return log_level_verbose;
}

/* write_all - whole lines in one write: O_APPEND writers (other
 * processes) never interleave inside a line */
static void write_all(int fd, const char *p, size_t n)
{
        while (n > 0) {
                ssize_t w = write(fd, p, n);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return;
                }
                p += w;
                n -= (size_t)w;
        }
}

/* log_hold - keep file lines in memory until log_flush */
void log_hold(bool on)
{
        if (!on)
                log_flush();
        log_holding = on;
}

/* log_flush - write the held lines */
void log_flush(void)
{
        if (held.len == 0)
                return;
        if (log_fd >= 0)
                write_all(log_fd, held.s, held.len);
        strbuf_reset(&held);
}

/* file_prefix - append "Mon DD HH:MM:SS host ident[pid]: " to out.  The
 * date and host are formatted once a second (and after log_open), the
 * pid part once per process; the ident is copied as it is, so switching
 * it (log_service, per SMTP client callback) costs nothing. */
static void file_prefix(struct strbuf *out)
{
        static struct strbuf head, tail;
        static time_t head_sec = -1;
        static unsigned head_gen;
        static pid_t tail_pid;
        time_t now = time(NULL);
        pid_t pid = base_getpid();

        if (now != head_sec || head_gen != host_gen) {
                char when[32];
                struct tm tm;

                localtime_r(&now, &tm);
                strftime(when, sizeof(when), "%b %e %H:%M:%S", &tm);
                strbuf_reset(&head);
                strbuf_printf(&head, "%s %s ", when, log_host);
                head_sec = now;
                head_gen = host_gen;
        }
        if (pid != tail_pid || tail.len == 0) {
                strbuf_reset(&tail);
                strbuf_printf(&tail, "[%ld]: ", (long)pid);
                tail_pid = pid;
        }
        strbuf_add(out, head.s, head.len);
        strbuf_adds(out, log_ident);
        strbuf_add(out, tail.s, tail.len);
}

/* log_vmsg - format and emit one line */
void log_vmsg(const char *prefix, const char *fmt, va_list ap)
{
        static struct strbuf text; /* kept: no allocation per line */
        int saved = errno;

        strbuf_reset(&text);
        if (prefix)
                strbuf_printf(&text, "%s: ", prefix);
        strbuf_vprintf(&text, fmt, ap);
        /* A log line is one line: control characters become '?' so a peer
         * cannot forge log entries. */
        for (size_t i = 0; i < text.len; i++)
                if ((unsigned char)text.s[i] < 0x20 && text.s[i] != '\t')
                        text.s[i] = '?';

        if (log_dest == DEST_SYSLOG) {
                syslog(LOG_MAIL | LOG_INFO, "%s", strbuf_cstr(&text));
        } else if (log_dest == DEST_FILE) {
                if (!log_holding)
                        log_flush(); /* whatever was held comes first */
                file_prefix(&held);
                strbuf_add(&held, text.s, text.len);
                strbuf_addc(&held, '\n');
                if (!log_holding || held.len >= HELD_MAX)
                        log_flush();
        }
        if (log_dest == DEST_STDERR || log_stderr_copy) {
                struct strbuf line;

                strbuf_init(&line);
                strbuf_printf(&line, "%s: %s\n", log_ident, strbuf_cstr(&text));
                write_all(2, line.s, line.len);
                strbuf_clear(&line);
        }
        errno = saved;
}

/* log_info - plain line */
void log_info(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        log_vmsg(NULL, fmt, ap);
        va_end(ap);
}

/* log_debug - verbose-only line */
void log_debug(const char *fmt, ...)
{
        va_list ap;

        if (log_level_verbose <= 0)
                return;
        va_start(ap, fmt);
        log_vmsg(NULL, fmt, ap);
        va_end(ap);
}

/* log_warnx - warning without errno */
void log_warnx(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        log_vmsg("warning", fmt, ap);
        va_end(ap);
}

/* log_msgf - log_vmsg with a variadic argument list */
static void PRINTFLIKE(2, 3) log_msgf(const char *prefix, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        log_vmsg(prefix, fmt, ap);
        va_end(ap);
}

/* with_errno - the message with ": strerror(errno)" appended */
static void VPRINTFLIKE(2)
    with_errno(const char *prefix, const char *fmt, va_list ap)
{
        struct strbuf sb;
        const char *err = strerror(errno);

        strbuf_init(&sb);
        strbuf_vprintf(&sb, fmt, ap);
        log_msgf(prefix, "%s: %s", strbuf_cstr(&sb), err);
        strbuf_clear(&sb);
}

/* log_warn - warning with errno */
void log_warn(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        with_errno("warning", fmt, ap);
        va_end(ap);
}

/* fatalx - log and exit */
void fatalx(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        log_vmsg("fatal", fmt, ap);
        va_end(ap);
        log_flush();
        exit(1);
}

/* fatal - log with errno and exit */
void fatal(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        with_errno("fatal", fmt, ap);
        va_end(ap);
        log_flush();
        exit(1);
}

/* log_panic - log and abort */
void log_panic(const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        log_vmsg("panic", fmt, ap);
        va_end(ap);
        log_flush();
        abort();
}

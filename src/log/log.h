/* SPDX-License-Identifier: MIT */
/*
 * log - Postfix-shaped log lines.
 *
 * A line is "Mon DD HH:MM:SS host postern/PROGRAM[PID]: text" in a log file,
 * "text" with ident "postern/PROGRAM" in syslog, and "postern/PROGRAM: text"
 * on stderr.  Warnings, fatal errors and panics carry Postfix's "warning: ",
 * "fatal: " and "panic: " prefixes, so log readers built for Postfix
 * (mailgraph, pflogsumm, fail2ban) read postern's lines unchanged.
 */
#ifndef POSTERN_LOG_H
#define POSTERN_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#include "base/base.h"

/* log_init - name this process ("smtpd" logs as postern/smtpd; NULL or ""
 * logs as plain "postern") and send lines to stderr until log_open. */
void log_init(const char *program);
/* log_set_name - the NAME of "NAME/PROGRAM" (main.cf syslog_name;
 * "postern" until set; "" or NULL: "postern").  Applies to the name
 * log_init gave and to the lines that follow. */
void log_set_name(const char *name);
/* log_program - the "postern/PROGRAM" ident in use (static storage). */
const char *log_program(void);
/* log_service - log the lines that follow as postern/PROGRAM instead of
 * the name log_init gave this process, as Postfix's separate programs
 * would (the queue manager's SMTP client logs as "smtp", its local
 * delivery as "local"); NULL goes back to the process's own name.  A
 * PROGRAM with a '/' is the whole ident ("postfix/amavis/smtp": a
 * master.cf transport's own syslog_name).  PROGRAM is kept, not copied
 * (a string literal, or one that outlives its use).  Returns the service
 * in effect before (NULL: none), to restore it. */
const char *log_service(const char *program);
/* log_open - choose the destination from maillog_file: "" means syslog,
 * anything else is a file opened for append ("/dev/stdout" and
 * "/dev/stderr" work).  host is the name written in file lines.  Returns
 * 0, or -1 with *errstr (static) when the file cannot be opened; the
 * previous destination then stays in use. */
int log_open(const char *maillog_file, const char *host, const char **errstr);
/* log_also_stderr - also copy every line to stderr (foreground runs). */
void log_also_stderr(bool);
/* log_set_verbose - enable log_debug lines. */
void log_set_verbose(int);
/* log_verbose - the level set by log_set_verbose. */
int log_verbose(void);

/* log_hold - with on, lines for a log file wait in memory until log_flush
 * (or until 16 KB are held), so that an event loop writes the lines of one
 * turn with one system call; off flushes.  syslog and stderr lines are
 * never held.  fatal, fatalx and log_panic flush before they end the
 * process; whoever holds must flush before _exit or before telling a peer
 * something the log should already show. */
void log_hold(bool on);
/* log_flush - write the held lines now (nothing held: nothing done). */
void log_flush(void);

/* log_info - an informational line, no prefix. */
void log_info(const char *, ...) PRINTFLIKE(1, 2);
/* log_debug - like log_info, only when verbose. */
void log_debug(const char *, ...) PRINTFLIKE(1, 2);
/* log_warnx - "warning: text". */
void log_warnx(const char *, ...) PRINTFLIKE(1, 2);
/* log_warn - "warning: text: strerror(errno)". */
void log_warn(const char *, ...) PRINTFLIKE(1, 2);
/* log_vmsg - a line with an optional prefix ("warning", "fatal", ...). */
void log_vmsg(const char *prefix, const char *, va_list) VPRINTFLIKE(2);
/* fatalx - "fatal: text", then exit(1).  For bad configuration or
 * environment, never for a peer's input. */
void fatalx(const char *, ...) PRINTFLIKE(1, 2) NORETURN;
/* fatal - like fatalx with ": strerror(errno)" appended. */
void fatal(const char *, ...) PRINTFLIKE(1, 2) NORETURN;
/* log_panic - "panic: text", then abort() for a core. */
void log_panic(const char *, ...) PRINTFLIKE(1, 2) NORETURN;

/* BUG - a "can't happen" condition: log where, then abort. */
#define BUG(...) log_panic(__VA_ARGS__)

#endif

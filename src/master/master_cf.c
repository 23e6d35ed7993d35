/* SPDX-License-Identifier: MIT */
/* master_cf.c - master.cf: the smtpd listeners and their -o overrides */
#include "master/master.h"
#include "conf/conf.h"
#include "log/log.h"
#include "qmgr/qmgr.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The largest master.cf read; a wrong path fails cleanly. */
#define MASTER_CF_MAX (4L * 1024 * 1024)

/* next_field - the next white-space separated field of a logical line;
 * "{ text }" is one field (Postfix 3 syntax), returned without braces */
static char *next_field(char **pp, const char **why)
{
        char *p = *pp, *start;

        while (*p && isspace((unsigned char)*p))
                p++;
        if (*p == 0)
                return NULL;
        if (*p == '{') {
                int depth = 0;
                start = p;
                for (; *p; p++) {
                        if (*p == '{')
                                depth++;
                        else if (*p == '}' && --depth == 0)
                                break;
                }
                if (*p != '}') {
                        *why = "missing '}'";
                        *pp = p;
                        return NULL;
                }
                *p++ = 0;
                *pp = p;
                return str_trim(start + 1);
        }
        start = p;
        while (*p && !isspace((unsigned char)*p))
                p++;
        if (*p)
                *p++ = 0;
        *pp = p;
        return start;
}

/* resolve_port - numeric port, or a service name from /etc/services */
static int resolve_port(const char *s, char **out)
{
        char *end;
        long n = strtol(s, &end, 10);

        if (*s && *end == 0) {
                if (n <= 0 || n > 65535)
                        return -1;
                *out = xasprintf("%ld", n);
                return 0;
        }
        struct servent *se = getservbyname(s, "tcp");
        if (se == NULL)
                return -1;
        *out = xasprintf("%d", ntohs((uint16_t)se->s_port));
        return 0;
}

/* split_service - "port", "host:port", "[v6]:port" into host and port */
static int split_service(const char *svc, char **host, char **port,
                         const char **why)
{
        const char *colon;

        *host = NULL;
        if (svc[0] == '[') {
                const char *close = strchr(svc, ']');
                if (close == NULL || close[1] != ':') {
                        *why = "bad [address]:port";
                        return -1;
                }
                *host = xstrndup(svc + 1, (size_t)(close - svc - 1));
                colon = close + 1;
        } else if ((colon = strrchr(svc, ':')) != NULL) {
                *host = xstrndup(svc, (size_t)(colon - svc));
        }
        const char *p = colon ? colon + 1 : svc;
        if (resolve_port(p, port) < 0) {
                free(*host);
                *host = NULL;
                *why = "unknown port or service name";
                return -1;
        }
        /* "*" and empty mean every address, as inet_interfaces = all */
        if (*host && (strcmp(*host, "*") == 0 || **host == 0)) {
                free(*host);
                *host = NULL;
        }
        return 0;
}

/* delivery_command - whether a unix service's command is one postern
 * runs as a delivery transport: the SMTP and LMTP clients, and the
 * trivial discard and error agents */
static bool delivery_command(const char *command)
{
        static const char *const cmds[] = {"smtp", "lmtp", "discard", "error"};

        for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
                if (strcmp(command, cmds[i]) == 0)
                        return true;
        return false;
}

/* parse_maxproc - the maxproc column: "-" (-1) or a number */
static int parse_maxproc(const char *s, long long *out)
{
        char *end;
        long long n;

        if (strcmp(s, "-") == 0) {
                *out = -1;
                return 0;
        }
        n = strtoll(s, &end, 10);
        if (*s < '0' || *s > '9' || *end || n < 0 || n > 1000000)
                return -1;
        *out = n;
        return 0;
}

/* parse_service - one logical line; 1 when it is a service postern runs
 * (an smtpd listener or a delivery transport), 0 when skipped, -1 on
 * error */
static int parse_service(const char *label, char *text, int line,
                         struct master_service *svc, char **err)
{
        char *p = text;
        char *f[8];
        const char *why = "too few fields (need 8)";

        for (int i = 0; i < 8; i++)
                if ((f[i] = next_field(&p, &why)) == NULL) {
                        *err = xasprintf("%s, line %d: %s", label, line, why);
                        return -1;
                }
        const char *type = f[1], *command = f[7];
        if (strcmp(command, "qmgr") == 0)
                return 0; /* run by the supervisor: master_cf_wants_qmgr */
        bool smtpd = strcmp(type, "inet") == 0 && strcmp(command, "smtpd") == 0;
        bool delivery = strcmp(type, "unix") == 0 && delivery_command(command);
        if (!smtpd && !delivery) {
                log_warnx("%s, line %d: service %s (%s %s) is not run by "
                          "postern: ignored",
                          label, line, f[0], type, command);
                return 0;
        }
        memset(svc, 0, sizeof(*svc));
        svc->kind = smtpd ? MASTER_SMTPD : MASTER_DELIVERY;
        svc->line = line;
        svc->maxproc = -1;
        if (delivery && strchr(f[0], ':')) {
                /* it is named as "transport:nexthop" */
                *err = xasprintf("%s, line %d: service \"%s\": a transport "
                                 "name must not contain ':'",
                                 label, line, f[0]);
                return -1;
        }
        if (delivery && parse_maxproc(f[6], &svc->maxproc) < 0) {
                *err = xasprintf("%s, line %d: service %s: bad maxproc "
                                 "\"%s\" (a number, or -)",
                                 label, line, f[0], f[6]);
                return -1;
        }
        if (smtpd && split_service(f[0], &svc->host, &svc->port, &why) < 0) {
                *err = xasprintf("%s, line %d: service \"%s\": %s", label, line,
                                 f[0], why);
                return -1;
        }
        svc->name = xstrdup(f[0]);
        svc->command = xstrdup(command);
        /* command arguments: -o name=value, -o { name = value }, -v */
        char *arg;
        why = NULL;
        while ((arg = next_field(&p, &why)) != NULL) {
                if (strcmp(arg, "-v") == 0 || strcmp(arg, "-D") == 0)
                        continue;
                if (strncmp(arg, "-o", 2) == 0) {
                        char *val = arg[2] ? arg + 2 : next_field(&p, &why);
                        if (val == NULL || strchr(val, '=') == NULL) {
                                *err = xasprintf("%s, line %d: %s", label, line,
                                                 why ? why
                                                     : "-o needs name=value");
                                goto bad;
                        }
                        strlist_push(&svc->overrides, val);
                        continue;
                }
                *err = xasprintf("%s, line %d: %s argument \"%s\" is "
                                 "not supported (only -o name=value)",
                                 label, line, command, arg);
                goto bad;
        }
        if (why && strcmp(why, "missing '}'") == 0) {
                *err = xasprintf("%s, line %d: missing '}'", label, line);
                goto bad;
        }
        return 1;
bad:
        free(svc->name);
        free(svc->command);
        free(svc->host);
        free(svc->port);
        strlist_clear(&svc->overrides);
        return -1;
}

/* same_socket - two smtpd services that would listen on one address */
static bool same_socket(const struct master_service *a,
                        const struct master_service *b)
{
        return a->kind == MASTER_SMTPD && b->kind == MASTER_SMTPD &&
               strcmp(a->port, b->port) == 0 &&
               (a->host == NULL) == (b->host == NULL) &&
               (a->host == NULL || strcmp(a->host, b->host) == 0);
}

/* same_transport - two delivery services of one name */
static bool same_transport(const struct master_service *a,
                           const struct master_service *b)
{
        return a->kind == MASTER_DELIVERY && b->kind == MASTER_DELIVERY &&
               strcmp(a->name, b->name) == 0;
}

/* master_cf_parse - smtpd services and transports of a master.cf text */
int master_cf_parse(const char *label, const char *data, size_t len,
                    struct master_service **out, size_t *nout, char **err)
{
        struct master_service *v = NULL;
        size_t n = 0, cap = 0;
        struct strbuf logical;
        int lineno = 0, start = 0, rc = 0;
        const char *p = data, *end = data + len;

        *out = NULL;
        *nout = 0;
        strbuf_init(&logical);
        for (;;) {
                const char *nl = p < end ? memchr(p, '\n', end - p) : NULL;
                const char *eol = nl ? nl : end;
                bool at_end = p >= end;
                size_t ln = at_end ? 0 : (size_t)(eol - p);
                bool cont = false, skip = false;

                if (!at_end) {
                        lineno++;
                        if (memchr(p, 0, ln)) {
                                *err = xasprintf("%s, line %d: NUL byte", label,
                                                 lineno);
                                rc = -1;
                                break;
                        }
                        const char *q = p;
                        while (q < eol && isspace((unsigned char)*q))
                                q++;
                        skip = q == eol || *q == '#';
                        cont = !skip && q != p;
                }
                if (cont) {
                        if (logical.len == 0) {
                                *err = xasprintf("%s, line %d: a service "
                                                 "must not start with "
                                                 "white space",
                                                 label, lineno);
                                rc = -1;
                                break;
                        }
                        strbuf_addc(&logical, ' ');
                        strbuf_add(&logical, p, ln);
                } else if (!skip) {
                        if (logical.len > 0) {
                                if (n == cap) {
                                        cap = cap ? cap * 2 : 8;
                                        v = xreallocarray(v, cap, sizeof(*v));
                                }
                                int r = parse_service(label, logical.s, start,
                                                      &v[n], err);
                                if (r < 0) {
                                        rc = -1;
                                        break;
                                }
                                n += (size_t)r;
                                strbuf_reset(&logical);
                        }
                        if (at_end)
                                break;
                        start = lineno;
                        strbuf_add(&logical, p, ln);
                }
                p = nl ? nl + 1 : end;
        }
        strbuf_clear(&logical);
        if (rc < 0) {
                master_services_free(v, n);
                return -1;
        }
        /* two services on one address and port cannot both listen, and a
         * transport name means one transport */
        for (size_t i = 0; i < n; i++)
                for (size_t j = 0; j < i; j++)
                        if (same_socket(&v[i], &v[j]) ||
                            same_transport(&v[i], &v[j])) {
                                *err = xasprintf("%s, line %d: service %s "
                                                 "duplicates line %d",
                                                 label, v[i].line, v[i].name,
                                                 v[j].line);
                                master_services_free(v, n);
                                return -1;
                        }
        *out = v;
        *nout = n;
        return 0;
}

/* master_cf_read - DIR/master.cf or the default service */
int master_cf_read(const char *dir, struct master_service **out, size_t *n,
                   char **err)
{
        char *path = xasprintf("%s/master.cf", dir);
        FILE *fp = fopen(path, "r");
        struct strbuf sb;
        char buf[8192];
        size_t got;
        int rc;

        if (fp == NULL) {
                if (errno != ENOENT) {
                        *err = xasprintf("%s: %s", path, strerror(errno));
                        free(path);
                        return -1;
                }
                free(path);
                static const char def[] = "smtp inet n - y - - smtpd\n";
                return master_cf_parse("(default master.cf)", def,
                                       sizeof(def) - 1, out, n, err);
        }
        strbuf_init(&sb);
        while ((got = fread(buf, 1, sizeof(buf), fp)) > 0) {
                strbuf_add(&sb, buf, got);
                if (sb.len > (size_t)MASTER_CF_MAX)
                        break;
        }
        if (ferror(fp) || sb.len > (size_t)MASTER_CF_MAX) {
                *err =
                    xasprintf("%s: %s", path,
                              ferror(fp) ? strerror(errno) : "file too large");
                fclose(fp);
                strbuf_clear(&sb);
                free(path);
                return -1;
        }
        fclose(fp);
        rc = master_cf_parse(path, strbuf_cstr(&sb), sb.len, out, n, err);
        strbuf_clear(&sb);
        free(path);
        return rc;
}

/* master_services_free - release */
void master_services_free(struct master_service *v, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(v[i].name);
                free(v[i].command);
                free(v[i].host);
                free(v[i].port);
                strlist_clear(&v[i].overrides);
        }
        free(v);
}

/* master_cf_listeners - the smtpd services */
size_t master_cf_listeners(const struct master_service *v, size_t n)
{
        size_t k = 0;

        for (size_t i = 0; i < n; i++)
                k += v[i].kind == MASTER_SMTPD;
        return k;
}

/* master_transports - the delivery services as qmgr transports */
void master_transports(const struct master_service *v, size_t nsvc,
                       struct conf *const *confs, const struct conf *main,
                       struct qmgr_transport_def **out, size_t *n)
{
        struct qmgr_transport_def *d = xcalloc(nsvc ? nsvc : 1, sizeof(*d));
        size_t k = 0;

        for (size_t i = 0; i < nsvc; i++) {
                const struct master_service *s = &v[i];
                if (s->kind != MASTER_DELIVERY)
                        continue;
                /* a transport without -o shares main.cf's configuration
                 * (and so the queue manager's SMTP client) */
                const struct conf *c =
                    confs && confs[i] && s->overrides.n ? confs[i] : NULL;
                d[k].name = s->name;
                d[k].conf = c;
                d[k].maxproc = s->maxproc >= 0
                                   ? s->maxproc
                                   : (c ? c : main)->default_process_limit;
                if (d[k].maxproc < 0)
                        d[k].maxproc = 0;
                /* error(8) run as "retry" defers instead of bouncing */
                d[k].kind = !strcmp(s->command, "smtp")      ? QMGR_T_SMTP
                            : !strcmp(s->command, "lmtp")    ? QMGR_T_LMTP
                            : !strcmp(s->command, "discard") ? QMGR_T_DISCARD
                            : !strcmp(s->name, "retry")      ? QMGR_T_RETRY
                                                             : QMGR_T_ERROR;
                k++;
        }
        *out = d;
        *n = k;
}

/* master_cf_wants_qmgr - whether a service line runs qmgr */
bool master_cf_wants_qmgr(const char *dir)
{
        char *path = xasprintf("%s/master.cf", dir);
        FILE *fp = fopen(path, "r");
        char line[4096];
        bool yes = false;

        free(path);
        if (fp == NULL)
                return errno == ENOENT;
        while (!yes && fgets(line, sizeof(line), fp)) {
                char *f[8], *save = NULL, *p = line;
                int n = 0;
                if (isspace((unsigned char)line[0]) || line[0] == '#')
                        continue;
                while (n < 8 && (f[n] = strtok_r(p, " \t\r\n", &save)))
                        p = NULL, n++;
                yes = n == 8 && strcmp(f[7], "qmgr") == 0;
        }
        fclose(fp);
        return yes;
}

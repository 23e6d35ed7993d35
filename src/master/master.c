/* SPDX-License-Identifier: MIT */
/*
 * master.c - the supervisor behind `postern serve`.
 *
 * It reads main.cf and master.cf, binds every listener, prepares what needs
 * root (TLS keys, tables) and forks one smtpd worker per core; the workers
 * drop to mail_owner.  It restarts a worker that dies, stops everything on
 * SIGTERM/SIGINT, and on SIGHUP builds a new generation of workers from the
 * re-read configuration while the old generation drains: the listening
 * sockets stay open throughout, so a reload refuses no connection.
 */
#include "master/master.h"
#include "conf/conf.h"
#include "log/log.h"
#include "qmgr/qmgr.h"
#include "queue/queue.h"
#include "smtpd/smtpd.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Seconds without a crash after which the restart delay is reset. */
#define RESTART_QUIET_S 60

/* One bound socket and the service it belongs to. */
struct listener {
        int fd;
        char *key; /* "addr|port": the same socket across reloads */
        size_t service;
        bool keep; /* still wanted after a reload */
};

/* Everything one configuration generation needs. */
struct generation {
        unsigned id;
        struct conf *main;
        struct conf **svc_conf; /* per master.cf service */
        struct master_service *svc;
        size_t nsvc;
        struct qmgr_transport_def *tdefs; /* master.cf's transports */
        size_t ntdefs;
        struct smtpd_server *server;
};

struct worker {
        pid_t pid;
        unsigned gen;
        int slot;
        bool draining; /* told to drain (SIGUSR1) */
};

struct master {
        const struct master_opts *opts;
        struct generation *gen; /* current */
        struct listener *ls;
        size_t nls;
        struct worker *workers;
        size_t nworkers, capworkers;
        int nslots;
        bool stopping;
        long restart_delay_ms;
        struct timespec restart_at; /* tv_sec 0: no restart pending */
        time_t last_crash;          /* CLOCK_MONOTONIC seconds */
        uid_t uid;
        gid_t gid;
        bool drop;
        /* the queue manager: one process, when master.cf has a qmgr line */
        bool qmgr_wanted;
        pid_t qmgr_pid;                /* 0: not running */
        struct timespec qmgr_start_at; /* tv_sec 0: no start pending */
        long qmgr_delay_ms;            /* restart delay, grows while it
                                          keeps dying young */
        time_t qmgr_started;           /* CLOCK_MONOTONIC seconds */
};

/* generation_free - release a configuration generation */
static void generation_free(struct generation *g)
{
        if (g == NULL)
                return;
        smtpd_server_free(g->server);
        free(g->tdefs);
        for (size_t i = 0; i < g->nsvc; i++)
                conf_free(g->svc_conf[i]);
        free(g->svc_conf);
        master_services_free(g->svc, g->nsvc);
        conf_free(g->main);
        free(g);
}

/* local_intake_ok - non_smtpd_milters and the header and body checks as
 * the queue manager will read them: a malformed list or a table that does
 * not open refuses the start (or the reload) here, not in a queue manager
 * that would exit and be restarted in a loop */
static int local_intake_ok(const struct conf *c, char **err)
{
        struct milter_spec *v;
        struct smtpd_hbc *h;
        size_t n;

        if (smtpd_local_intake(c, &v, &n, &h, err) < 0)
                return -1;
        milter_specs_free(v, n);
        smtpd_hbc_free(h);
        return 0;
}

/* generation_load - main.cf, master.cf and one conf per service */
static int generation_load(const struct master_opts *o, unsigned id,
                           struct generation **out, char **err)
{
        struct generation *g = xcalloc(1, sizeof(*g));

        g->id = id;
        *out = NULL;
        if (conf_load(o->config_dir, o->overrides, &g->main, err) < 0 ||
            conf_refused(g->main, err) < 0 || local_intake_ok(g->main, err) < 0)
                goto bad;
        if (master_cf_read(o->config_dir, &g->svc, &g->nsvc, err) < 0)
                goto bad;
        if (master_cf_listeners(g->svc, g->nsvc) == 0) {
                *err = xasprintf("%s/master.cf: no inet smtpd service",
                                 o->config_dir);
                goto bad;
        }
        g->svc_conf = xcalloc(g->nsvc, sizeof(*g->svc_conf));
        for (size_t i = 0; i < g->nsvc; i++) {
                struct strlist ov = {0};
                char *e = NULL;
                /* a transport without -o uses main.cf's */
                if (g->svc[i].kind == MASTER_DELIVERY &&
                    g->svc[i].overrides.n == 0)
                        continue;
                for (size_t j = 0; o->overrides && j < o->overrides->n; j++)
                        strlist_push(&ov, o->overrides->v[j]);
                char *sn = xasprintf("service_name=%s", g->svc[i].name);
                strlist_push(&ov, sn);
                free(sn);
                for (size_t j = 0; j < g->svc[i].overrides.n; j++)
                        strlist_push(&ov, g->svc[i].overrides.v[j]);
                int rc = conf_load(o->config_dir, &ov, &g->svc_conf[i], &e);
                strlist_clear(&ov);
                if (rc == 0)
                        rc = conf_refused(g->svc_conf[i], &e);
                if (rc < 0) {
                        *err = xasprintf("master.cf, line %d, service %s: "
                                         "%s",
                                         g->svc[i].line, g->svc[i].name, e);
                        free(e);
                        goto bad;
                }
        }
        master_transports(g->svc, g->nsvc, g->svc_conf, g->main, &g->tdefs,
                          &g->ntdefs);
        *out = g;
        return 0;
bad:
        generation_free(g);
        return -1;
}

/* listen_on - bind and listen on one address; -1 with *err */
static int listen_on(const char *host, const char *port, char **err)
{
        struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                                 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
        struct addrinfo *res;
        int rc, fd, on = 1;

        rc = getaddrinfo(host, port, &hints, &res);
        if (rc != 0) {
                *err = xasprintf("%s port %s: %s", host ? host : "*", port,
                                 gai_strerror(rc));
                return -1;
        }
        fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    0);
        if (fd < 0) {
                *err = xasprintf("socket: %s", strerror(errno));
                freeaddrinfo(res);
                return -1;
        }
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
        if (res->ai_family == AF_INET6)
                (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
                                 sizeof(on));
        if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 ||
            listen(fd, SOMAXCONN) < 0) {
                *err = xasprintf("bind %s port %s: %s", host ? host : "*", port,
                                 strerror(errno));
                close(fd);
                freeaddrinfo(res);
                return -1;
        }
        freeaddrinfo(res);
        return fd;
}

/* service_addresses - where one service listens: its own host, or
 * inet_interfaces filtered by inet_protocols */
static void service_addresses(const struct master_service *svc,
                              const struct conf *c, struct strlist *out)
{
        struct strlist ifs = {0}, protos = {0};
        bool v4 = false, v6 = false;

        if (svc->host) {
                strlist_push(out, svc->host);
                return;
        }
        str_split(c->inet_protocols, LIST_SEPS, &protos);
        for (size_t i = 0; i < protos.n; i++) {
                v4 |=
                    !strcmp(protos.v[i], "all") || !strcmp(protos.v[i], "ipv4");
                v6 |=
                    !strcmp(protos.v[i], "all") || !strcmp(protos.v[i], "ipv6");
        }
        strlist_clear(&protos);
        str_split(c->inet_interfaces, LIST_SEPS, &ifs);
        for (size_t i = 0; i < ifs.n; i++) {
                const char *a = ifs.v[i];
                if (!strcmp(a, "all")) {
                        if (v4)
                                strlist_push(out, "0.0.0.0");
                        if (v6)
                                strlist_push(out, "::");
                } else if (!strcmp(a, "loopback-only")) {
                        if (v4)
                                strlist_push(out, "127.0.0.1");
                        if (v6)
                                strlist_push(out, "::1");
                } else {
                        size_t n = strlen(a);
                        if (a[0] == '[' && n > 2 && a[n - 1] == ']')
                                strlist_pushn(out, a + 1, n - 2);
                        else
                                strlist_push(out, a);
                }
        }
        strlist_clear(&ifs);
}

/* listeners_bind - sockets for every service of a generation, reusing the
 * ones already bound; marks the rest for closing */
static int listeners_bind(struct master *m, struct generation *g, char **err)
{
        for (size_t i = 0; i < m->nls; i++)
                m->ls[i].keep = false;
        for (size_t s = 0; s < g->nsvc; s++) {
                struct strlist addrs = {0};
                if (g->svc[s].kind != MASTER_SMTPD)
                        continue;
                service_addresses(&g->svc[s], g->svc_conf[s], &addrs);
                for (size_t a = 0; a < addrs.n; a++) {
                        char *key =
                            xasprintf("%s|%s", addrs.v[a], g->svc[s].port);
                        size_t k;
                        for (k = 0; k < m->nls; k++)
                                if (!strcmp(m->ls[k].key, key))
                                        break;
                        if (k == m->nls) {
                                int fd =
                                    listen_on(addrs.v[a], g->svc[s].port, err);
                                if (fd < 0) {
                                        free(key);
                                        strlist_clear(&addrs);
                                        return -1;
                                }
                                m->ls = xreallocarray(m->ls, m->nls + 1,
                                                      sizeof(*m->ls));
                                m->ls[m->nls++] =
                                    (struct listener){.fd = fd, .key = key};
                                key = NULL;
                        }
                        m->ls[k].keep = true;
                        m->ls[k].service = s;
                        free(key);
                }
                strlist_clear(&addrs);
        }
        return 0;
}

/* listeners_prune - close sockets no service wants any more */
static void listeners_prune(struct master *m)
{
        size_t j = 0;

        for (size_t i = 0; i < m->nls; i++) {
                if (m->ls[i].keep) {
                        m->ls[j++] = m->ls[i];
                        continue;
                }
                close(m->ls[i].fd);
                free(m->ls[i].key);
        }
        m->nls = j;
}

/* chown_queue - the queue directory and its state directories belong to
 * mail_owner, who writes them */
static int chown_queue(const char *dir, uid_t uid, gid_t gid, char **err)
{
        DIR *d;
        struct dirent *e;

        if (chown(dir, uid, gid) < 0 || (d = opendir(dir)) == NULL) {
                *err = xasprintf("chown %s: %s", dir, strerror(errno));
                return -1;
        }
        while ((e = readdir(d)) != NULL) {
                if (e->d_name[0] == '.')
                        continue;
                char *p = xasprintf("%s/%s", dir, e->d_name);
                struct stat st;
                if (lstat(p, &st) == 0 &&
                    (S_ISDIR(st.st_mode) || S_ISSOCK(st.st_mode) ||
                     S_ISFIFO(st.st_mode)) &&
                    (st.st_uid != uid || st.st_gid != gid) &&
                    chown(p, uid, gid) < 0) {
                        *err = xasprintf("chown %s: %s", p, strerror(errno));
                        free(p);
                        closedir(d);
                        return -1;
                }
                free(p);
        }
        closedir(d);
        return 0;
}

/* generation_prepare - what needs root: TLS keys, tables, the queue */
static int generation_prepare(struct master *m, struct generation *g,
                              char **err)
{
        struct smtpd_listen *l = xcalloc(m->nls ? m->nls : 1, sizeof(*l));
        const char *qerr = NULL;
        int rc;

        if (queue_init(g->main->queue_directory, &qerr) < 0) {
                *err = xasprintf("queue_directory %s: %s",
                                 g->main->queue_directory, qerr);
                free(l);
                return -1;
        }
        if (m->drop &&
            chown_queue(g->main->queue_directory, m->uid, m->gid, err) < 0) {
                free(l);
                return -1;
        }
        for (size_t i = 0; i < m->nls; i++) {
                l[i].fd = m->ls[i].fd;
                l[i].conf = g->svc_conf[m->ls[i].service];
                l[i].service = g->svc[m->ls[i].service].name;
        }
        rc = smtpd_server_new(l, m->nls, m->nslots, &g->server, err);
        free(l);
        return rc;
}

/* reset_signals - a child starts with default dispositions */
static void reset_signals(void)
{
        static const int sigs[] = {SIGTERM, SIGINT,  SIGHUP,
                                   SIGCHLD, SIGUSR1, SIGPIPE};
        sigset_t none;

        for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
                signal(sigs[i], SIG_DFL);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
}

/* worker_signals - an smtpd worker starts with default dispositions, but
 * SIGTERM and SIGUSR1 stay blocked (as they are in the supervisor, so
 * from the fork on) until its event loop handles them and
 * smtpd_server_run unblocks them: a reload right after the fork would
 * otherwise kill it with SIGUSR1's default action */
static void worker_signals(void)
{
        static const int sigs[] = {SIGTERM, SIGINT,  SIGHUP,
                                   SIGCHLD, SIGUSR1, SIGPIPE};
        sigset_t held;

        for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
                signal(sigs[i], SIG_DFL);
        sigemptyset(&held);
        sigaddset(&held, SIGTERM);
        sigaddset(&held, SIGUSR1);
        sigprocmask(SIG_SETMASK, &held, NULL);
}

/* drop_privileges - become mail_owner */
static void drop_privileges(struct master *m)
{
        if (!m->drop)
                return;
        if (setgroups(1, &m->gid) < 0 || setgid(m->gid) < 0 ||
            setuid(m->uid) < 0)
                fatal("cannot drop privileges to uid %ld", (long)m->uid);
}

/* worker_start - fork one smtpd worker of the current generation */
static void worker_start(struct master *m, int slot)
{
        pid_t pid = fork();

        if (pid < 0) {
                log_warn("fork");
                return;
        }
        if (pid == 0) {
                worker_signals();
                log_init("smtpd");
                drop_privileges(m);
                _exit(smtpd_server_run(m->gen->server, slot) < 0 ? 1 : 0);
        }
        if (m->nworkers == m->capworkers) {
                m->capworkers = m->capworkers ? m->capworkers * 2 : 8;
                m->workers = xreallocarray(m->workers, m->capworkers,
                                           sizeof(*m->workers));
        }
        m->workers[m->nworkers++] =
            (struct worker){.pid = pid, .gen = m->gen->id, .slot = slot};
}

/* qmgr_start - fork the queue manager with the current configuration */
static void qmgr_start(struct master *m)
{
        pid_t pid;

        m->qmgr_start_at.tv_sec = 0;
        if (!m->qmgr_wanted || m->qmgr_pid != 0 || m->stopping)
                return;
        pid = fork();
        if (pid < 0) {
                log_warn("fork");
                return;
        }
        if (pid == 0) {
                struct qmgr *q;
                char *err = NULL;
                reset_signals();
                log_init("qmgr");
                for (size_t i = 0; i < m->nls; i++)
                        close(m->ls[i].fd);
                if (qmgr_new(m->gen->main, m->gen->tdefs, m->gen->ntdefs,
                             m->drop ? m->uid : (uid_t)-1, m->gid, &q,
                             &err) < 0)
                        fatalx("%s", err);
                drop_privileges(m);
                int rc = qmgr_run(q);
                qmgr_free(q);
                _exit(rc < 0 ? 1 : 0);
        }
        m->qmgr_pid = pid;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        m->qmgr_started = now.tv_sec;
}

/* qmgr_schedule - start the queue manager after delay_ms */
static void qmgr_schedule(struct master *m, long delay_ms)
{
        clock_gettime(CLOCK_MONOTONIC, &m->qmgr_start_at);
        m->qmgr_start_at.tv_sec += delay_ms / 1000;
        m->qmgr_start_at.tv_nsec += (delay_ms % 1000) * 1000000;
        if (m->qmgr_start_at.tv_nsec >= 1000000000) {
                m->qmgr_start_at.tv_sec++;
                m->qmgr_start_at.tv_nsec -= 1000000000;
        }
}

/* slot_running - whether a current-generation worker holds a slot */
static bool slot_running(struct master *m, int slot)
{
        for (size_t i = 0; i < m->nworkers; i++)
                if (m->workers[i].gen == m->gen->id &&
                    m->workers[i].slot == slot)
                        return true;
        return false;
}

/* fill_slots - start workers for empty slots */
static void fill_slots(struct master *m)
{

        if (m->stopping)
                return;
        for (int s = 0; s < m->nslots; s++)
                if (!slot_running(m, s))
                        worker_start(m, s);
}

/* on_chld - reap workers; restart the current generation's, with a
 * growing delay while they keep dying */
static void on_chld(struct master *m)
{
        int status;
        pid_t pid;
        bool restart = false;

        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
                size_t i;
                if (pid == m->qmgr_pid) {
                        m->qmgr_pid = 0;
                        if (WIFSIGNALED(status) &&
                            (!m->stopping || WTERMSIG(status) != SIGTERM))
                                log_warnx("process qmgr pid %ld killed by "
                                          "signal %d",
                                          (long)pid, WTERMSIG(status));
                        else if (WIFEXITED(status) && WEXITSTATUS(status))
                                log_warnx("process qmgr pid %ld exit status "
                                          "%d",
                                          (long)pid, WEXITSTATUS(status));
                        /* a reload asked it to stop: start the new one at
                         * once; after a crash wait a second, doubling
                         * while it keeps dying young */
                        struct timespec now;
                        clock_gettime(CLOCK_MONOTONIC, &now);
                        if (now.tv_sec - m->qmgr_started > 10 ||
                            m->qmgr_delay_ms < 1000)
                                m->qmgr_delay_ms = 1000;
                        else if (m->qmgr_delay_ms < 60000)
                                m->qmgr_delay_ms *= 2;
                        if (!m->stopping && m->qmgr_start_at.tv_sec == 0)
                                qmgr_schedule(m, m->qmgr_delay_ms);
                        continue;
                }
                for (i = 0; i < m->nworkers; i++)
                        if (m->workers[i].pid == pid)
                                break;
                if (i == m->nworkers)
                        continue;
                struct worker w = m->workers[i];
                m->workers[i] = m->workers[--m->nworkers];
                bool current = w.gen == m->gen->id && !m->stopping;
                if (WIFSIGNALED(status) &&
                    (current || WTERMSIG(status) != SIGTERM))
                        log_warnx("process smtpd pid %ld killed by signal "
                                  "%d",
                                  (long)pid, WTERMSIG(status));
                else if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
                        log_warnx("process smtpd pid %ld exit status %d",
                                  (long)pid, WEXITSTATUS(status));
                else if (current)
                        log_warnx("process smtpd pid %ld exited", (long)pid);
                if (current)
                        restart = true;
        }
        if (restart && m->restart_at.tv_sec == 0) {
                struct timespec now;
                clock_gettime(CLOCK_MONOTONIC, &now);
                /* a crash after a quiet minute starts the back-off over */
                if (now.tv_sec - m->last_crash > RESTART_QUIET_S)
                        m->restart_delay_ms = 1000;
                m->last_crash = now.tv_sec;
                log_info("restarting smtpd in %ld ms", m->restart_delay_ms);
                clock_gettime(CLOCK_MONOTONIC, &m->restart_at);
                m->restart_at.tv_sec += m->restart_delay_ms / 1000;
                m->restart_at.tv_nsec += (m->restart_delay_ms % 1000) * 1000000;
                if (m->restart_at.tv_nsec >= 1000000000) {
                        m->restart_at.tv_sec++;
                        m->restart_at.tv_nsec -= 1000000000;
                }
                if (m->restart_delay_ms < 60000)
                        m->restart_delay_ms *= 2;
        }
}

/* signal_workers - send signo to every worker */
static void signal_workers(struct master *m, int signo)
{
        for (size_t i = 0; i < m->nworkers; i++)
                kill(m->workers[i].pid, signo);
}

/* drain_old - tell older generations' workers, once each, to stop
 * accepting and exit when their sessions end */
static void drain_old(struct master *m)
{
        for (size_t i = 0; i < m->nworkers; i++) {
                struct worker *w = &m->workers[i];
                if (w->gen == m->gen->id || w->draining)
                        continue;
                kill(w->pid, SIGUSR1);
                w->draining = true;
        }
}

/* on_term - stop: workers first, then the loop */
static void on_term(struct master *m)
{

        if (m->stopping)
                return;
        log_info("terminating on signal");
        m->stopping = true;
        signal_workers(m, SIGTERM);
        if (m->qmgr_pid)
                kill(m->qmgr_pid, SIGTERM);
}

/* on_hup - reload: new generation, old one drains */
static void on_hup(struct master *m)
{
        struct generation *g;
        char *err = NULL;
        size_t nls = m->nls; /* sockets of the running configuration */

        if (m->stopping)
                return;
        if (generation_load(m->opts, m->gen->id + 1, &g, &err) < 0 ||
            listeners_bind(m, g, &err) < 0 ||
            generation_prepare(m, g, &err) < 0) {
                log_warnx("reload failed, keeping the running "
                          "configuration: %s",
                          err);
                free(err);
                /* keep every socket of the running configuration; close
                 * the ones this attempt bound, or clients would wait on
                 * a listener no worker accepts from */
                for (size_t i = 0; i < m->nls; i++)
                        m->ls[i].keep = i < nls;
                listeners_prune(m);
                if (g)
                        generation_free(g);
                return;
        }
        generation_free(m->gen);
        m->gen = g;
        log_info("reload -- version %s, configuration %s", POSTERN_VERSION,
                 m->opts->config_dir);
        m->restart_delay_ms = 1000;
        fill_slots(m);
        /* old workers stop accepting and exit when their sessions end */
        drain_old(m);
        listeners_prune(m);
        /* the queue manager restarts with the new configuration once the
         * old one has exited (never two at once: one writer per file) */
        m->qmgr_wanted = master_cf_wants_qmgr(m->opts->config_dir);
        if (m->qmgr_pid) {
                kill(m->qmgr_pid, SIGTERM);
                qmgr_schedule(m, 0);
        } else if (m->qmgr_wanted) {
                qmgr_schedule(m, 0);
        }
}

/* supervise - wait for signals and restart deadlines; the supervisor has
 * no event loop of its own, so nothing of it is inherited by workers */
static void supervise(struct master *m)
{
        sigset_t set;
        int sigs[] = {SIGTERM, SIGINT, SIGHUP, SIGCHLD};

        sigemptyset(&set);
        for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
                sigaddset(&set, sigs[i]);
        sigprocmask(SIG_BLOCK, &set, NULL); /* and SIGUSR1: master_run */
        fill_slots(m);
        qmgr_start(m);
        while (!(m->stopping && m->nworkers == 0 && m->qmgr_pid == 0)) {
                struct timespec wait = {.tv_sec = 1}, now;
                if (m->qmgr_start_at.tv_sec && m->qmgr_pid == 0) {
                        clock_gettime(CLOCK_MONOTONIC, &now);
                        if (now.tv_sec > m->qmgr_start_at.tv_sec ||
                            (now.tv_sec == m->qmgr_start_at.tv_sec &&
                             now.tv_nsec >= m->qmgr_start_at.tv_nsec))
                                qmgr_start(m);
                        else
                                wait = (struct timespec){.tv_nsec = 100000000};
                }
                if (m->restart_at.tv_sec) {
                        clock_gettime(CLOCK_MONOTONIC, &now);
                        long long ns =
                            (long long)(m->restart_at.tv_sec - now.tv_sec) *
                                1000000000LL +
                            (m->restart_at.tv_nsec - now.tv_nsec);
                        if (ns <= 0) {
                                m->restart_at.tv_sec = 0;
                                fill_slots(m);
                                continue;
                        }
                        if (ns < 1000000000LL)
                                wait = (struct timespec){.tv_nsec = (long)ns};
                }
                int sig = sigtimedwait(&set, NULL, &wait);
                switch (sig) {
                case SIGTERM:
                case SIGINT:
                        on_term(m);
                        break;
                case SIGHUP:
                        on_hup(m);
                        break;
                case SIGCHLD:
                        on_chld(m);
                        break;
                default:
                        on_chld(m); /* a missed SIGCHLD costs a second */
                        break;
                }
        }
}

/* lookup_owner - mail_owner's uid and gid, when running as root */
static int lookup_owner(struct master *m, const char *owner, char **err)
{
        struct passwd *pw;

        m->drop = geteuid() == 0;
        if (!m->drop)
                return 0;
        pw = getpwnam(owner);
        if (pw == NULL) {
                *err = xasprintf("mail_owner %s: no such user", owner);
                return -1;
        }
        if (pw->pw_uid == 0) {
                *err = xasprintf("mail_owner %s: must not be root", owner);
                return -1;
        }
        m->uid = pw->pw_uid;
        m->gid = pw->pw_gid;
        return 0;
}

/* raise_nofile - the soft descriptor limit up to the hard one: a worker
 * holds one descriptor per client, and 1024 is a common default */
static void raise_nofile(void)
{
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
                return;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
                log_warn("setrlimit RLIMIT_NOFILE");
}

/* master_run - the supervisor */
int master_run(const struct master_opts *o)
{
        struct master m = {.opts = o, .restart_delay_ms = 1000};
        char *err = NULL;
        const char *lerr;
        sigset_t early;

        /* from the first moment: a SIGTERM that arrives while the
         * listeners are bound but supervise() does not run yet waits for
         * it, instead of killing the supervisor with the default action.
         * SIGUSR1 is never waited for: blocked so that workers are born
         * with it blocked (worker_signals) */
        sigemptyset(&early);
        sigaddset(&early, SIGTERM);
        sigaddset(&early, SIGINT);
        sigaddset(&early, SIGHUP);
        sigaddset(&early, SIGCHLD);
        sigaddset(&early, SIGUSR1);
        sigprocmask(SIG_BLOCK, &early, NULL);
        if (generation_load(o, 0, &m.gen, &err) < 0) {
                fprintf(stderr, "postern serve: %s\n", err);
                free(err);
                return 1;
        }
        if (log_open(m.gen->main->maillog_file, m.gen->main->myhostname,
                     &lerr) < 0) {
                fprintf(stderr, "postern serve: maillog_file %s: %s\n",
                        m.gen->main->maillog_file, lerr);
                generation_free(m.gen);
                return 1;
        }
        log_set_name(m.gen->main->syslog_name);
        log_init("master");
        if (o->foreground_stderr)
                log_also_stderr(true);
        m.nslots =
            o->workers > 0 ? o->workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
        if (m.nslots < 1)
                m.nslots = 1;
        if (lookup_owner(&m, m.gen->main->mail_owner, &err) < 0 ||
            listeners_bind(&m, m.gen, &err) < 0 ||
            generation_prepare(&m, m.gen, &err) < 0) {
                log_warnx("%s", err);
                fprintf(stderr, "postern serve: %s\n", err);
                free(err);
                generation_free(m.gen);
                for (size_t i = 0; i < m.nls; i++) {
                        close(m.ls[i].fd);
                        free(m.ls[i].key);
                }
                free(m.ls);
                return 1;
        }
        signal(SIGPIPE, SIG_IGN);
        m.qmgr_wanted = master_cf_wants_qmgr(o->config_dir);
        raise_nofile();
        log_info("daemon started -- version %s, configuration %s",
                 POSTERN_VERSION, o->config_dir);
        supervise(&m);
        log_info("stopped");
        for (size_t i = 0; i < m.nls; i++) {
                close(m.ls[i].fd);
                free(m.ls[i].key);
        }
        free(m.ls);
        free(m.workers);
        generation_free(m.gen);
        return 0;
}

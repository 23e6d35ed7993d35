/* SPDX-License-Identifier: MIT */
/*
 * dns_query - a test-only client of postern's resolver (src/dns) for the
 * integration tests.  It sends every NAME TYPE pair at once on one event
 * loop (or one after the other with -S, through dns_query_sync) and, once
 * all are answered, prints for each, in the order given:
 *
 *   Q<i> NAME TYPE result=OK security=secure canonical=NAME n=2
 *   Q<i> why_bogus=TEXT                         (only when set)
 *   Q<i> rr MX 10 mx1.example ttl=300
 *   Q<i> rr A 192.0.2.1 ttl=300
 *   Q<i> rr TLSA 3 1 1 ABCD... ttl=300
 *
 *   dns_query [-r RESOLVERS] [-a TRUST_ANCHOR_FILE] [-s STUBS]
 *             [-t TIMEOUT_MS] [-S] [-F N] NAME TYPE [NAME TYPE ...]
 *
 * -F N frees the resolver inside the callback of the N-th answer (the way
 * an SMTP session may give up); the queries still out then print
 * "Q<i> NAME TYPE cancelled" and must never be answered.
 *
 * TYPE is A, AAAA, MX, CNAME, TLSA, TXT or NS.  Exit status 0 when every query
 * got an answer (whatever its result), 1 on a setup or send failure.
 */
#include "base/base.h"
#include "dns/dns.h"
#include "event/event.h"
#include "log/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct job {
        const char *name;
        const char *tname;
        int type;
        struct strbuf out;
        bool done;
};

static struct job *jobs;
static size_t njobs, ndone, free_after;
static struct event_loop *loop;
static struct dns_resolver *resolver;

/* type_of - type name to number */
static int type_of(const char *t)
{
        static const struct {
                const char *name;
                int type;
        } types[] = {{"A", DNS_T_A},       {"AAAA", DNS_T_AAAA},
                     {"MX", DNS_T_MX},     {"CNAME", DNS_T_CNAME},
                     {"TLSA", DNS_T_TLSA}, {"TXT", DNS_T_TXT},
                     {"NS", DNS_T_NS},     {"PTR", DNS_T_PTR}};

        for (size_t i = 0; i < ARRAY_SIZE(types); i++)
                if (strcasecmp(t, types[i].name) == 0)
                        return types[i].type;
        return -1;
}

/* job_format - the answer as text lines */
static void job_format(struct job *j, size_t i, const struct dns_answer *a)
{
        strbuf_printf(&j->out,
                      "Q%zu %s %s result=%s security=%s "
                      "canonical=%s n=%zu\n",
                      i, a->qname, j->tname, dns_result_name(a->result),
                      dns_security_name(a->security), a->canonical, a->n);
        if (a->why_bogus)
                strbuf_printf(&j->out, "Q%zu why_bogus=%s\n", i, a->why_bogus);
        for (size_t k = 0; k < a->n; k++) {
                const struct dns_rr *rr = &a->rr[k];

                strbuf_printf(&j->out, "Q%zu rr %s ", i, j->tname);
                switch (a->type) {
                case DNS_T_MX:
                        strbuf_printf(&j->out, "%u %s", rr->pref, rr->host);
                        break;
                case DNS_T_CNAME:
                case DNS_T_NS:
                case DNS_T_PTR:
                        strbuf_printf(&j->out, "%s", rr->host);
                        break;
                case DNS_T_TXT:
                        strbuf_printf(&j->out, "\"%s\"", rr->text);
                        break;
                case DNS_T_TLSA:
                        strbuf_printf(&j->out, "%u %u %u ", rr->usage,
                                      rr->selector, rr->mtype);
                        for (size_t b = 0; b < rr->len; b++)
                                strbuf_printf(&j->out, "%02X", rr->data[b]);
                        break;
                default:
                        strbuf_printf(&j->out, "%s", rr->addr);
                }
                strbuf_printf(&j->out, " ttl=%u\n", (unsigned)rr->ttl);
        }
        j->done = true;
}

/* on_answer - an asynchronous answer */
static void on_answer(void *arg, const struct dns_answer *a)
{
        struct job *j = arg;

        if (j->done) {
                fprintf(stderr, "dns_query: %s answered twice\n", j->name);
                exit(2);
        }
        if (resolver == NULL) {
                fprintf(stderr, "dns_query: %s answered after free\n", j->name);
                exit(2);
        }
        job_format(j, (size_t)(j - jobs), a);
        if (++ndone == free_after) {
                dns_resolver_free(resolver);
                resolver = NULL;
        }
        if (ndone == njobs)
                event_loop_exit(loop);
}

int main(int argc, char **argv)
{
        struct dns_settings s = {.resolvers = "", .trust_anchor_file = ""};
        bool sync = false;
        char *err = NULL;
        int c;

        log_init("dns_query");
        log_also_stderr(true);
        while ((c = getopt(argc, argv, "r:a:s:t:SF:")) != -1) {
                switch (c) {
                case 'r':
                        s.resolvers = optarg;
                        break;
                case 'a':
                        s.trust_anchor_file = optarg;
                        break;
                case 's':
                        s.stub = optarg;
                        break;
                case 't':
                        s.timeout_ms = atol(optarg);
                        break;
                case 'S':
                        sync = true;
                        break;
                case 'F':
                        free_after = (size_t)atol(optarg);
                        break;
                default:
                        return 1;
                }
        }
        s.dnssec = s.trust_anchor_file[0] != '\0';
        argc -= optind;
        argv += optind;
        if (argc < 2 || argc % 2 != 0) {
                fprintf(stderr, "usage: dns_query [-r resolvers] [-a ta] "
                                "[-s stubs] [-t ms] [-S] name type ...\n");
                return 1;
        }
        njobs = (size_t)argc / 2;
        jobs = xcalloc(njobs, sizeof(*jobs));
        for (size_t i = 0; i < njobs; i++) {
                jobs[i].name = argv[2 * i];
                jobs[i].tname = argv[2 * i + 1];
                jobs[i].type = type_of(jobs[i].tname);
                if (jobs[i].type < 0) {
                        fprintf(stderr, "dns_query: unknown type %s\n",
                                jobs[i].tname);
                        return 1;
                }
        }
        if (!sync && (loop = event_loop_new()) == NULL) {
                fprintf(stderr, "dns_query: no event loop\n");
                return 1;
        }
        if (dns_resolver_new(loop, &s, &resolver, &err) < 0) {
                fprintf(stderr, "dns_query: %s\n", err);
                free(err);
                return 1;
        }
        for (size_t i = 0; i < njobs; i++) {
                if (sync) {
                        struct dns_answer *a;

                        if (dns_query_sync(resolver, jobs[i].name, jobs[i].type,
                                           &a, &err) < 0) {
                                fprintf(stderr, "dns_query: %s\n", err);
                                free(err);
                                return 1;
                        }
                        job_format(&jobs[i], i, a);
                        dns_answer_free(a);
                } else if (dns_query(resolver, jobs[i].name, jobs[i].type,
                                     on_answer, &jobs[i]) < 0) {
                        fprintf(stderr, "dns_query: cannot send %s %s\n",
                                jobs[i].name, jobs[i].tname);
                        return 1;
                }
        }
        if (!sync && event_loop_run(loop) < 0) {
                fprintf(stderr, "dns_query: event loop failed\n");
                return 1;
        }
        for (size_t i = 0; i < njobs; i++) {
                if (!jobs[i].done && free_after > 0) {
                        printf("Q%zu %s %s cancelled\n", i, jobs[i].name,
                               jobs[i].tname);
                        continue;
                }
                if (!jobs[i].done) {
                        fprintf(stderr, "dns_query: %s never answered\n",
                                jobs[i].name);
                        return 1;
                }
                fputs(strbuf_cstr(&jobs[i].out), stdout);
                strbuf_clear(&jobs[i].out);
        }
        dns_resolver_free(resolver);
        event_loop_free(loop);
        free(jobs);
        return 0;
}

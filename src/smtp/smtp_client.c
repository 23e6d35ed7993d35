/* SPDX-License-Identifier: MIT */
/*
 * smtp_client.c - the client, its TLS policy lookup, the idle connection
 * and TLS session caches, and smtp_deliver.
 */
#include "smtp/smtp_int.h"

#include "conf/conf.h"
#include "dns/dns.h"
#include "event/event.h"
#include "log/log.h"
#include "table/table.h"
#include "tls/tls.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* smtp_now - wall clock seconds */
double smtp_now(void)
{
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* global_level - smtp_tls_security_level, or the obsolete booleans;
 * service names the parameter in errors */
static int global_level(const struct conf *conf, const char *service,
                        enum smtp_tls_level *out, char **err)
{
        const char *l = conf->smtp_tls_security_level;

        if (l && *l) {
                if (smtp_tls_level_parse(l, out) < 0) {
                        *err = xasprintf("%s_tls_security_level: invalid "
                                         "TLS security level \"%s\"",
                                         service, l);
                        return -1;
                }
                return 0;
        }
        if (conf->smtp_enforce_tls)
                *out = conf->smtp_tls_enforce_peername ? SMTP_TLS_VERIFY
                                                       : SMTP_TLS_ENCRYPT;
        else if (conf->smtp_use_tls)
                *out = SMTP_TLS_MAY;
        else
                *out = SMTP_TLS_NONE;
        return 0;
}

/* client_tls_ctx - a client context from smtp_tls_* */
static struct tls_ctx *client_tls_ctx(const struct conf *conf, int loglevel,
                                      const char **errstr)
{
        struct tls_client_settings s = {
            .cert_file = conf->smtp_tls_cert_file,
            .key_file = conf->smtp_tls_key_file,
            .eccert_file = conf->smtp_tls_eccert_file,
            .eckey_file = conf->smtp_tls_eckey_file,
            .chain_files = conf->smtp_tls_chain_files,
            .CAfile = conf->smtp_tls_CAfile,
            .CApath = conf->smtp_tls_CApath,
            .verifydepth = (int)conf->smtp_tls_scert_verifydepth,
            .protocols = conf->smtp_tls_protocols,
            .ciphers = conf->smtp_tls_ciphers,
            .exclude_ciphers = conf->smtp_tls_exclude_ciphers,
            .fingerprint_digest = conf->smtp_tls_fingerprint_digest,
            .session_cache_timeout = (long)conf->smtp_tls_session_cache_timeout,
            .loglevel = loglevel,
            .groups = conf->tls_eecdh_auto_curves,
            .append_default_ca = conf->tls_append_default_CA,
            .cipherlists =
                {
                    .high = conf->tls_high_cipherlist,
                    .medium = conf->tls_medium_cipherlist,
                    .low = conf->tls_low_cipherlist,
                    .export = conf->tls_export_cipherlist,
                    .null = conf->tls_null_cipherlist,
                },
            .ssl_options = conf->tls_ssl_options,
        };
        return tls_client_ctx_new(&s, errstr);
}

/*
 * The lmtp_* parameters that the LMTP client reads in place of the smtp_*
 * ones of the same suffix: Postfix's smtp(8) and lmtp(8) are one program
 * that reads either set, and so is postern's client.  SASL is not among
 * them (lmtp_sasl_* are not implemented).
 */
#define LMTP_TWINS(X)                                                          \
        X(use_tls)                                                             \
        X(enforce_tls)                                                         \
        X(tls_enforce_peername)                                                \
        X(tls_security_level)                                                  \
        X(tls_policy_maps)                                                     \
        X(tls_wrappermode)                                                     \
        X(tls_cert_file)                                                       \
        X(tls_key_file)                                                        \
        X(tls_eccert_file)                                                     \
        X(tls_eckey_file)                                                      \
        X(tls_chain_files)                                                     \
        X(tls_CAfile)                                                          \
        X(tls_CApath)                                                          \
        X(tls_protocols)                                                       \
        X(tls_mandatory_protocols)                                             \
        X(tls_ciphers)                                                         \
        X(tls_mandatory_ciphers)                                               \
        X(tls_exclude_ciphers)                                                 \
        X(tls_mandatory_exclude_ciphers)                                       \
        X(tls_secure_cert_match)                                               \
        X(tls_verify_cert_match)                                               \
        X(tls_fingerprint_cert_match)                                          \
        X(tls_fingerprint_digest)                                              \
        X(tls_scert_verifydepth)                                               \
        X(tls_servername)                                                      \
        X(tls_session_cache_timeout)                                           \
        X(tls_loglevel)                                                        \
        X(tls_note_starttls_offer)                                             \
        X(tls_trust_anchor_file)                                               \
        X(dns_support_level)                                                   \
        X(mx_address_limit)                                                    \
        X(mx_session_limit)                                                    \
        X(connect_timeout)                                                     \
        X(mail_timeout)                                                        \
        X(rcpt_timeout)                                                        \
        X(data_init_timeout)                                                   \
        X(data_xfer_timeout)                                                   \
        X(data_done_timeout)                                                   \
        X(quit_timeout)                                                        \
        X(starttls_timeout)                                                    \
        X(bind_address)                                                        \
        X(bind_address6)                                                       \
        X(line_length_limit)                                                   \
        X(skip_5xx_greeting)                                                   \
        X(connection_reuse_time_limit)                                         \
        X(connection_reuse_count_limit)

/* lmtp_conf_new - conf as the LMTP client sees it (caller frees with
 * free(): the strings stay conf's) */
static struct conf *lmtp_conf_new(const struct conf *conf)
{
        struct conf *l = xmalloc(sizeof(*l));

        *l = *conf;
#define LMTP_TWIN(n) l->smtp_##n = conf->lmtp_##n;
        LMTP_TWINS(LMTP_TWIN)
#undef LMTP_TWIN
        l->smtp_helo_name = conf->lmtp_lhlo_name;
        l->smtp_helo_timeout = conf->lmtp_lhlo_timeout;
        l->smtp_never_send_ehlo = false; /* LHLO or nothing */
        l->smtp_sasl_auth_enable = false;
        l->smtp_sender_dependent_authentication = false;
        return l;
}

/* lmtp_port - lmtp_tcp_port: a number, or a name from /etc/services */
static int lmtp_port(const char *s, unsigned *port, char **err)
{
        const char *why = NULL;
        long long v;

        if (conf_parse_int(s, &v, &why) == 0) {
                if (v > 0 && v < 65536) {
                        *port = (unsigned)v;
                        return 0;
                }
        } else {
                struct servent *se = getservbyname(s, "tcp");
                if (se) {
                        *port = ntohs((uint16_t)se->s_port);
                        return 0;
                }
        }
        *err = xasprintf("lmtp_tcp_port: bad port \"%s\"", s);
        return -1;
}

/* client_new - smtp_client_new, smtp_client_new_lmtp and
 * smtp_client_new_as */
static int client_new(struct event_loop *loop, const struct conf *caller,
                      struct dns_resolver *dns, bool lmtp,
                      const char *log_ident, struct smtp_client **out,
                      char **err)
{
        struct smtp_client *c;
        const struct conf *conf = caller;
        const char *errstr = NULL;

        *out = NULL;
        *err = NULL;
        c = xcalloc(1, sizeof(*c));
        c->loop = loop;
        c->dns = dns;
        c->lmtp = lmtp;
        c->service = lmtp ? "lmtp" : "smtp";
        c->log_ident = xstrdup(log_ident ? log_ident : c->service);
        if (lmtp) {
                if (lmtp_port(caller->lmtp_tcp_port, &c->lmtp_port, err) < 0)
                        goto fail;
                c->lmtp_conf = lmtp_conf_new(caller);
                conf = c->lmtp_conf;
        }
        c->conf = conf;
        if (global_level(conf, c->service, &c->level, err) < 0)
                goto fail;
        if (table_list_open(conf->smtp_tls_policy_maps, &c->policy_maps, err) <
            0) {
                char *e = xasprintf("%s_tls_policy_maps: %s", c->service, *err);
                free(*err);
                *err = e;
                goto fail;
        }
        if (conf->smtp_sasl_auth_enable && *conf->smtp_sasl_password_maps &&
            table_list_open(conf->smtp_sasl_password_maps, &c->sasl_maps, err) <
                0) {
                char *e = xasprintf("smtp_sasl_password_maps: %s", *err);
                free(*err);
                *err = e;
                goto fail;
        }
        c->tls_ctx =
            client_tls_ctx(conf, (int)conf->smtp_tls_loglevel, &errstr);
        if (c->tls_ctx == NULL) {
                /* Like Postfix: a broken TLS set-up is not fatal for mail
                 * that does not need TLS; levels that do need it defer. */
                c->tls_err = xstrdup(errstr ? errstr : "unknown error");
                log_warnx("TLS client initialization failed: %s", c->tls_err);
        } else {
                c->tls_ctx_quiet = client_tls_ctx(conf, 0, &errstr);
                if (c->tls_ctx_quiet == NULL) {
                        tls_ctx_free(c->tls_ctx);
                        c->tls_ctx = NULL;
                        c->tls_err = xstrdup(errstr ? errstr : "unknown");
                }
        }
        *out = c;
        return 0;
fail:
        table_list_close(c->policy_maps);
        table_list_close(c->sasl_maps);
        free(c->lmtp_conf);
        free(c->log_ident);
        free(c);
        return -1;
}

/* smtp_client_new - shared state of every SMTP delivery */
int smtp_client_new(struct event_loop *loop, const struct conf *conf,
                    struct dns_resolver *dns, struct smtp_client **out,
                    char **err)
{
        return client_new(loop, conf, dns, false, NULL, out, err);
}

/* smtp_client_new_lmtp - shared state of every LMTP delivery */
int smtp_client_new_lmtp(struct event_loop *loop, const struct conf *conf,
                         struct dns_resolver *dns, struct smtp_client **out,
                         char **err)
{
        return client_new(loop, conf, dns, true, NULL, out, err);
}

/* smtp_client_new_as - a master.cf transport's client */
int smtp_client_new_as(struct event_loop *loop, const struct conf *conf,
                       struct dns_resolver *dns, bool lmtp,
                       const char *log_ident, struct smtp_client **out,
                       char **err)
{
        return client_new(loop, conf, dns, lmtp, log_ident, out, err);
}

/* smtp_policy_lookup - the effective TLS policy of a destination */
int smtp_policy_lookup(struct smtp_client *c, const char *key,
                       struct smtp_tls_policy *pol, char **err)
{
        const char *value = NULL;
        enum table_status st;

        memset(pol, 0, sizeof(*pol));
        *err = NULL;
        pol->level = c->level;
        if (key == NULL || *key == 0 || table_list_count(c->policy_maps) == 0)
                return 0;
        char *k = str_lower(xstrdup(key));
        if (k[0] == '[' || strchr(k, ':'))
                st = table_list_lookup_nexthop(c->policy_maps, k, &value, NULL,
                                               err);
        else
                st = table_list_lookup_domain(c->policy_maps, k, &value, NULL,
                                              err);
        if (st == TABLE_ERROR) {
                char *e = xasprintf("TLS policy lookup for %s: %s", k,
                                    *err ? *err : "table error");
                free(*err);
                *err = e;
                free(k);
                return -1;
        }
        if (st == TABLE_FOUND) {
                char *perr = NULL;
                if (smtp_tls_policy_parse(value, pol, &perr) < 0) {
                        *err =
                            xasprintf("TLS policy lookup for %s: %s", k, perr);
                        free(perr);
                        free(k);
                        return -1;
                }
        }
        free(k);
        return 0;
}

/* smtp_tls_sess_get - a cached TLS session for key, or NULL (borrowed) */
const struct smtp_tls_sess *smtp_tls_sess_get(struct smtp_client *c,
                                              const char *key)
{
        double now = smtp_now();

        for (struct smtp_tls_sess **pp = &c->sessions; *pp;) {
                struct smtp_tls_sess *s = *pp;
                if (s->expires < now) {
                        *pp = s->next;
                        free(s->key);
                        free(s->data);
                        free(s);
                        continue;
                }
                if (strcmp(s->key, key) == 0)
                        return s;
                pp = &s->next;
        }
        return NULL;
}

/* smtp_tls_sess_put - remember a session (takes data) */
void smtp_tls_sess_put(struct smtp_client *c, const char *key,
                       unsigned char *data, size_t len)
{
        long long t = c->conf->smtp_tls_session_cache_timeout;

        if (t <= 0) {
                free(data);
                return;
        }
        for (struct smtp_tls_sess *s = c->sessions; s; s = s->next) {
                if (strcmp(s->key, key) == 0) {
                        free(s->data);
                        s->data = data;
                        s->len = len;
                        s->expires = smtp_now() + (double)t;
                        return;
                }
        }
        struct smtp_tls_sess *s = xcalloc(1, sizeof(*s));
        s->key = xstrdup(key);
        s->data = data;
        s->len = len;
        s->expires = smtp_now() + (double)t;
        s->next = c->sessions;
        c->sessions = s;
}

/* smtp_client_free - close the caches */
void smtp_client_free(struct smtp_client *c)
{
        if (c == NULL)
                return;
        while (c->attempts)
                smtp_attempt_abort(c->attempts);
        while (c->idle) {
                struct smtp_conn *n = c->idle;
                c->idle = n->next;
                n->next = NULL;
                smtp_conn_quit_now(n);
        }
        while (c->closing)
                smtp_conn_close(c->closing);
        while (c->sessions) {
                struct smtp_tls_sess *s = c->sessions;
                c->sessions = s->next;
                free(s->key);
                free(s->data);
                free(s);
        }
        table_list_close(c->policy_maps);
        table_list_close(c->sasl_maps);
        tls_ctx_free(c->tls_ctx);
        tls_ctx_free(c->tls_ctx_quiet);
        free(c->tls_err);
        free(c->lmtp_conf);
        free(c->log_ident);
        free(c);
}

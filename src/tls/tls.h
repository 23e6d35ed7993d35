/* SPDX-License-Identifier: MIT */
/*
 * tls - everything OpenSSL: certificate files and the toolbox behind
 * `postern certs` / `postern ca`, server and client contexts, handshakes,
 * verification, DANE, and the Postfix-shaped TLS log lines.  No OpenSSL
 * type appears in this header; callers see small postern types.
 */
#ifndef POSTERN_TLS_H
#define POSTERN_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"

/* ---- certificate files and toolbox (tls_cert*.c, tls_ca.c) ---- */

/*
 * Certificate files as users have them: PEM files and bundles, DER
 * certificates (one or several concatenated), PKCS#7 (PEM or DER) and
 * PKCS#12.  Errors come back as a const char *errstr that points into a
 * per-thread buffer: valid until the next tls_cert / tls_key / tls_ca call
 * on the same thread; copy it to keep it.  Every heap string returned by
 * the functions below is the caller's to free().
 */
struct tls_cert;     /* one X.509 certificate (opaque) */
struct tls_certlist; /* the certificates of one file, in file order */
struct tls_key;      /* a private key (opaque) */

/* Files larger than this are refused without being parsed. */
#define TLS_FILE_MAX (8u * 1024 * 1024)

/* What a file turned out to be. */
enum tls_file_format {
        TLS_FILE_PEM,
        TLS_FILE_DER,
        TLS_FILE_PKCS7,  /* PEM or DER */
        TLS_FILE_PKCS12, /* always DER */
};

/* Where a passphrase comes from when a file needs one: pass when known
 * (may be ""), else ask(prompt, arg) which returns a heap string or NULL
 * (no passphrase available).  A NULL struct tls_pass * means "none".
 * With certs_only, PEM private keys are skipped (listing a combined
 * key+certificate file then never asks for the key's passphrase). */
struct tls_pass {
        const char *pass;
        char *(*ask)(const char *prompt, void *arg);
        void *arg;
        bool certs_only; /* skip PEM private keys: never ask for them */
};

/* tls_file_read - the contents of a regular file, at most TLS_FILE_MAX
 * bytes, NUL-terminated (the NUL is not counted in *len).  Caller frees
 * *buf.  Errors (missing, directory, too large, unreadable) name path. */
int tls_file_read(const char *path, unsigned char **buf, size_t *len,
                  const char **errstr);
/* tls_file_write - create path with mode (applied with fchmod, so umask
 * does not widen or narrow it) holding data, written to a temporary file
 * in the same directory, fsynced and renamed.  Refuses an existing path
 * unless force. */
int tls_file_write(const char *path, const void *data, size_t len,
                   unsigned mode, bool force, const char **errstr);
/* tls_pass_resolve - a --passin / --passout argument: pass:TEXT,
 * file:PATH (first line), env:VAR or fd:N.  Caller frees *out. */
int tls_pass_resolve(const char *spec, char **out, const char **errstr);
/* tls_pass_tty - read a passphrase from the terminal (/dev/tty) with echo
 * off after printing prompt; a heap string, or NULL when there is no
 * terminal.  Fits struct tls_pass's ask (arg unused). */
char *tls_pass_tty(const char *prompt, void *arg);

/* tls_certlist_parse - every certificate in buf (any supported format;
 * PEM blocks other than certificates, PKCS#7 and private keys are
 * skipped).  The first private key found (PEM, DER or in a PKCS#12) is
 * kept too, see tls_certlist_key.  name is used in error messages.  Fails
 * when nothing usable is found, on a truncated or corrupt block, or on a
 * wrong PKCS#12 passphrase.  On success *out is the caller's. */
int tls_certlist_parse(const void *buf, size_t len, const char *name,
                       const struct tls_pass *, struct tls_certlist **out,
                       const char **errstr);
/* tls_certlist_load - tls_file_read + tls_certlist_parse. */
int tls_certlist_load(const char *path, const struct tls_pass *,
                      struct tls_certlist **out, const char **errstr);
/* tls_certlist_free - NULL ok. */
void tls_certlist_free(struct tls_certlist *);
/* tls_certlist_count - number of certificates (may be 0 when the file held
 * only a key). */
size_t tls_certlist_count(const struct tls_certlist *);
/* tls_certlist_get - certificate i (borrowed, lives as long as the list). */
const struct tls_cert *tls_certlist_get(const struct tls_certlist *, size_t);
/* tls_certlist_format - the format the file was read as. */
enum tls_file_format tls_certlist_format(const struct tls_certlist *);
/* tls_file_format_name - "PEM", "DER", "PKCS#7", "PKCS#12". */
const char *tls_file_format_name(enum tls_file_format);
/* tls_certlist_key - the private key found in the file, or NULL
 * (borrowed). */
const struct tls_key *tls_certlist_key(const struct tls_certlist *);
/* tls_certlist_encrypted - whether a passphrase was needed to read it. */
bool tls_certlist_encrypted(const struct tls_certlist *);
/* tls_certlist_sort_chain - reorder as a server chain: the certificate
 * matching the key (or, with no key, the one that issued none of the
 * others) first, then each one's issuer; certificates outside that chain
 * keep their order at the end. */
void tls_certlist_sort_chain(struct tls_certlist *);
/* tls_certlist_check_order - 0 when each certificate is issued by the next
 * one (signature checked); else -1, *bad = index of the first certificate
 * whose successor is not its issuer, and *errstr says why. */
int tls_certlist_check_order(const struct tls_certlist *, size_t *bad,
                             const char **errstr);
/* tls_certlist_pem - all certificates as PEM text, in list order. */
char *tls_certlist_pem(const struct tls_certlist *);

/* Validity of a certificate at a given time. */
enum tls_cert_validity {
        TLS_CERT_VALID,
        TLS_CERT_NOT_YET_VALID,
        TLS_CERT_EXPIRED,
};

/* tls_cert_subject - one-line subject as `openssl x509 -subject` prints it
 * ("C = US, O = Org, CN = mx.example.org"); heap. */
char *tls_cert_subject(const struct tls_cert *);
/* tls_cert_issuer - the issuer, same form; heap. */
char *tls_cert_issuer(const struct tls_cert *);
/* tls_cert_serial - upper-case hex serial as `openssl x509 -serial`; heap. */
char *tls_cert_serial(const struct tls_cert *);
/* tls_cert_times - notBefore / notAfter as time_t values (UTC). */
int tls_cert_times(const struct tls_cert *, long long *not_before,
                   long long *not_after);
/* tls_cert_validity_at - valid, not yet valid or expired at time now. */
enum tls_cert_validity tls_cert_validity_at(const struct tls_cert *,
                                            long long now);
/* tls_cert_key_desc - "RSA", "EC", "ED25519", ...; *bits = key size;
 * *curve = a static curve name ("P-256") or NULL. */
const char *tls_cert_key_desc(const struct tls_cert *, int *bits,
                              const char **curve);
/* tls_cert_is_ca - basicConstraints CA:TRUE (pathlen in *pathlen, -1 when
 * none; pathlen may be NULL). */
bool tls_cert_is_ca(const struct tls_cert *, long *pathlen);
/* tls_cert_self_signed - subject = issuer and the signature verifies. */
bool tls_cert_self_signed(const struct tls_cert *);
/* tls_cert_cn - the last commonName of the subject, UTF-8; heap; NULL when
 * there is none. */
char *tls_cert_cn(const struct tls_cert *);
/* tls_cert_sans - append every subjectAltName as "DNS:name", "IP:addr",
 * "email:addr", "URI:uri" or "othername". */
void tls_cert_sans(const struct tls_cert *, struct strlist *);
/* tls_cert_names - the names a peer checks: CN (when present) then DNS
 * SANs, each once. */
void tls_cert_names(const struct tls_cert *, struct strlist *);
/* tls_cert_label - the name for a relay_clientcerts entry: CN, else the
 * first SAN value, else "unnamed"; heap. */
char *tls_cert_label(const struct tls_cert *);
/* tls_cert_match_host - whether host (a DNS name or an IP address)
 * matches the certificate as RFC 6125 says: DNS SANs (wildcard only as the
 * whole left-most label), the CN only when there is no DNS SAN; IP SANs for
 * addresses. */
bool tls_cert_match_host(const struct tls_cert *, const char *host);
/* tls_cert_issued_by - whether issuer's name and key issued cert. */
bool tls_cert_issued_by(const struct tls_cert *cert,
                        const struct tls_cert *issuer);
/* tls_cert_digest - raw digest of the DER certificate, or of its DER
 * SubjectPublicKeyInfo when pubkey.  digest is an OpenSSL name ("sha256",
 * "sha1", "md5", "sha512"); out holds at least 64 bytes. */
int tls_cert_digest(const struct tls_cert *, const char *digest, bool pubkey,
                    unsigned char *out, size_t *outlen, const char **errstr);
/* tls_cert_fingerprint - the digest as Postfix prints it and tables take
 * it: upper-case hex pairs joined by ':'; heap. */
int tls_cert_fingerprint(const struct tls_cert *, const char *digest,
                         bool pubkey, char **out, const char **errstr);
/* tls_cert_pem - the certificate as PEM text; heap. */
char *tls_cert_pem(const struct tls_cert *);

/* tls_key_parse - the first private key in buf (PEM or DER, PKCS#8,
 * traditional or encrypted).  *encrypted (may be NULL) tells whether it
 * was protected by a passphrase, also when loading fails for want of
 * one.  Caller frees *out with tls_key_free. */
int tls_key_parse(const void *buf, size_t len, const char *name,
                  const struct tls_pass *, struct tls_key **out,
                  bool *encrypted, const char **errstr);
/* tls_key_load - tls_file_read + tls_key_parse. */
int tls_key_load(const char *path, const struct tls_pass *,
                 struct tls_key **out, bool *encrypted, const char **errstr);
/* tls_key_free - NULL ok. */
void tls_key_free(struct tls_key *);
/* tls_key_matches - whether key is the private half of cert's key. */
bool tls_key_matches(const struct tls_key *, const struct tls_cert *);
/* tls_key_pem - the key unencrypted, PKCS#8 PEM; heap (wipe and free). */
char *tls_key_pem(const struct tls_key *);

/* tls_cert_rehash - make dir's CApath index exactly as `openssl rehash`
 * does: HASH.N symlinks for each *.pem/.crt/.cer/.crl file holding exactly
 * one certificate, HASH.rN for CRLs, numbering collisions in file name
 * order, keeping links that are right, removing hash links to files that
 * no longer need them.  Returns 0, or -1 when something failed; warnings
 * and errors are appended to msgs (one line each). */
int tls_cert_rehash(const char *dir, struct strlist *msgs, const char **errstr);

/* tls_p12_export - a PKCS#12 file of key, cert and chain (may be NULL)
 * protected by pass, with friendlyName name.  Modern: AES-256-CBC with
 * PBKDF2 and an HMAC-SHA256 MAC; legacy: 3DES for keys and certificates
 * with a SHA-1 MAC (what old clients read; no legacy provider needed). */
int tls_p12_export(const struct tls_key *, const struct tls_cert *,
                   const struct tls_certlist *chain, const char *name,
                   const char *pass, bool legacy, unsigned char **der,
                   size_t *len, const char **errstr);

/*
 * A small CA in a directory (tls_ca.c): ca.crt, ca.key (0600), index.txt,
 * crl.pem and NAME.crt / NAME.key per issued certificate.  See
 * docs/certs.md for the index format.
 */
enum tls_ca_role {
        TLS_CA_SERVER,
        TLS_CA_CLIENT,
};

/* Key choice for new keys: ECDSA P-256 when rsa_bits is 0. */
struct tls_ca_init {
        const char *dir;
        const char *name; /* CA subject CN */
        int rsa_bits;
        int days;
        bool force;
};

/* tls_ca_create - create the CA: key, self-signed certificate, empty
 * index and an empty CRL.  Refuses an existing CA unless force. */
int tls_ca_create(const struct tls_ca_init *, const char **errstr);

struct tls_ca_issue {
        const char *dir;
        enum tls_ca_role role;
        const char *const *names; /* first is the CN; all become SANs */
        size_t n_names;
        int rsa_bits; /* 0: the CA's key type */
        int days;
        bool force; /* replace NAME.crt / NAME.key */
};

/* What issuing produced (heap strings, free with tls_ca_issued_clear). */
struct tls_ca_issued {
        char *cert_path;
        char *key_path;
        char *serial;
        char *fp_sha256; /* AB:CD:... of the certificate */
        char *label;     /* the name for relay_clientcerts */
};

/* tls_ca_issue - a new key and certificate signed by the CA in dir, added
 * to the index. */
int tls_ca_issue(const struct tls_ca_issue *, struct tls_ca_issued *out,
                 const char **errstr);
/* tls_ca_issued_clear - free the strings of out. */
void tls_ca_issued_clear(struct tls_ca_issued *);

/* One line of the index. */
struct tls_ca_entry {
        char *serial;
        char *name;
        enum tls_ca_role role;
        long long not_after;
        long long revoked_at; /* 0 when not revoked */
};

/* tls_ca_list - the index, in issue order; free with tls_ca_list_free. */
int tls_ca_list(const char *dir, struct tls_ca_entry **out, size_t *n,
                const char **errstr);
/* tls_ca_list_free - free what tls_ca_list returned. */
void tls_ca_list_free(struct tls_ca_entry *, size_t);
/* tls_ca_revoke - revoke every valid certificate whose name or serial is
 * what; appends the revoked serials to done; rewrites crl.pem. */
int tls_ca_revoke(const char *dir, const char *what, struct strlist *done,
                  const char **errstr);
/* tls_ca_crl - re-sign crl.pem valid for days. */
int tls_ca_crl(const char *dir, int days, const char **errstr);
/* tls_ca_export - NAME's key, certificate and the CA certificate as
 * PKCS#12 (see tls_p12_export), written to out (mode 0600). */
int tls_ca_export(const char *dir, const char *name, const char *out,
                  const char *pass, bool legacy, bool force,
                  const char **errstr);

/* ---- end certificate files and toolbox ---- */

/* ---- contexts, sessions and handshakes (tls_ctx.c, tls_conn.c) ---- */

/*
 * Protocol and cipher lists in Postfix syntax (tls_proto.c).  These are
 * plain string functions: no OpenSSL, safe to fuzz.
 */

/* TLS wire versions, as in the protocol (0x0303 is TLS 1.2). */
#define TLS_VERSION_SSL3 0x0300
#define TLS_VERSION_TLS1 0x0301
#define TLS_VERSION_TLS1_1 0x0302
#define TLS_VERSION_TLS1_2 0x0303
#define TLS_VERSION_TLS1_3 0x0304

/* The outcome of a protocol list: the version range to allow.  0 means
 * "no limit" (the library's own floor or ceiling). */
struct tls_protocols {
        int min_version;
        int max_version;
};

/* tls_protocols_parse - parse a Postfix protocol list (smtpd_tls_protocols
 * syntax): ">=TLSv1.2", "<=TLSv1.2", "!SSLv2, !SSLv3, !TLSv1",
 * "TLSv1.2 TLSv1.3", hexadecimal versions after >= and <=, separators
 * comma, space and colon.  An empty list allows everything.  A list that
 * leaves a hole ("TLSv1 TLSv1.2") keeps the contiguous range ending at the
 * highest allowed version.  Returns 0, or -1 with *errstr (static storage,
 * valid until the next call) naming the bad token or "no protocol left". */
int tls_protocols_parse(const char *list, struct tls_protocols *out,
                        const char **errstr);
/* tls_version_name - "TLSv1.2" for 0x0303; "unknown" otherwise. */
const char *tls_version_name(int version);

/* tls_cipherlist - the OpenSSL cipher string for a Postfix cipher grade
 * (export, low, medium, high, null: Postfix 3.7's tls_*_cipherlist
 * defaults) followed by ":!X" for each token X of exclude (comma, space or
 * colon separated; a token may not start with ! + - @).  Appends to out.
 * Returns 0, or -1 with *errstr (static) for an unknown grade or a bad
 * exclusion. */
int tls_cipherlist(const char *grade, const char *exclude, struct strbuf *out,
                   const char **errstr);

/* The OpenSSL cipher string behind each Postfix cipher grade
 * (tls_high_cipherlist, tls_medium_cipherlist, tls_low_cipherlist,
 * tls_export_cipherlist, tls_null_cipherlist).  A NULL or "" member means
 * Postfix 3.7's default for that grade. */
struct tls_cipher_grades {
        const char *high;
        const char *medium;
        const char *low;
        const char *export;
        const char *null;
};

/* tls_cipher_grade - the cipher string of grade (empty = medium) from
 * lists (NULL = all defaults), and the name of the parameter it comes
 * from ("tls_high_cipherlist"; static).  Returns 0, or -1 with *errstr
 * (static) for an unknown grade. */
int tls_cipher_grade(const struct tls_cipher_grades *lists, const char *grade,
                     const char **list, const char **param,
                     const char **errstr);
/* tls_cipherlist_grades - tls_cipherlist with the grade strings of lists
 * (NULL = Postfix's defaults). */
int tls_cipherlist_grades(const struct tls_cipher_grades *lists,
                          const char *grade, const char *exclude,
                          struct strbuf *out, const char **errstr);

/* tls_ssl_options: Postfix's names of the OpenSSL options it lets users
 * turn on (SSL_OP_ without the prefix).  tls_proto.c knows only these
 * bits; tls_ctx.c maps them to OpenSSL's. */
#define TLS_OPT_ENABLE_MIDDLEBOX_COMPAT 0x01u
#define TLS_OPT_LEGACY_SERVER_CONNECT 0x02u
#define TLS_OPT_NO_TICKET 0x04u
#define TLS_OPT_NO_COMPRESSION 0x08u
#define TLS_OPT_NO_RENEGOTIATION 0x10u
#define TLS_OPT_NO_SESSION_RESUMPTION_ON_RENEGOTIATION 0x20u
#define TLS_OPT_PRIORITIZE_CHACHA 0x40u

/* A parsed tls_ssl_options value. */
struct tls_ssl_options {
        unsigned named; /* TLS_OPT_* of the names given */
        uint64_t mask;  /* OR of the "0x..." tokens: raw SSL_OP_* bits */
};

/* tls_ssl_options_parse - a tls_ssl_options value: names (any case) and
 * hexadecimal masks ("0x4000"), separated by white space or commas.  A
 * token that is neither is appended to unknown (may be NULL) and
 * otherwise ignored, as Postfix warns and ignores it.  Never fails. */
void tls_ssl_options_parse(const char *list, struct tls_ssl_options *out,
                           struct strlist *unknown);

/*
 * Name matching for the smtp client levels verify and secure (tls_match.c).
 */
struct tls_match {
        const char *match;           /* list: hostname, nexthop, dot-nexthop,
                                        literal names, .domain suffixes */
        const char *nexthop;         /* the next-hop domain or [host] */
        const char *hostname;        /* the MX host name connected to */
        bool single_label_wildcards; /* tls_wildcard_matches_multiple_labels
                                        = no */
};

/* tls_match_certid - whether one certificate name (a DNS SAN, or the CN
 * when there are no DNS SANs) satisfies the match list, with Postfix's
 * rules: case-insensitive, "*.example.org" matches the leftmost label(s)
 * only, ".domain" and dot-nexthop match strict sub-domains. */
bool tls_match_certid(const char *certid, const struct tls_match *);

/*
 * Contexts (tls_ctx.c).  A context is built once at start-up (or reload)
 * from a settings struct the caller maps main.cf to; it is immutable
 * afterwards and shared by every session of the process.
 */
struct tls_ctx;         /* opaque: one server or client context */
struct tls_conn;        /* opaque: one TLS session over a socket */
struct tls_ticket_keys; /* opaque: session ticket keys */

/* tls_ticket_keys_new - a fresh random key set (one key).  Create it in the
 * supervisor before forking, or save it to a file the workers load, so
 * every worker process decrypts every other's tickets.  Never fails. */
struct tls_ticket_keys *tls_ticket_keys_new(void);
/* tls_ticket_keys_new_rotating - keys derived from one random secret for
 * each interval of interval seconds (smtpd_tls_session_cache_timeout):
 * every worker forked after this call encrypts with the same current key
 * and accepts tickets of the previous interval, so keys rotate with no
 * communication between processes.  Never fails. */
struct tls_ticket_keys *tls_ticket_keys_new_rotating(long interval);
/* tls_ticket_keys_rotate - make a new random key the one that encrypts;
 * the previous key is kept to decrypt (and renew) older tickets, older
 * keys are dropped. */
void tls_ticket_keys_rotate(struct tls_ticket_keys *);
/* tls_ticket_keys_save - write the keys to path (mode 0600, written to a
 * temporary file and renamed).  Returns 0, or -1 with *errstr (static). */
int tls_ticket_keys_save(const struct tls_ticket_keys *, const char *path,
                         const char **errstr);
/* tls_ticket_keys_load - read keys written by tls_ticket_keys_save; the
 * file must not be readable by group or other.  Returns the keys, or NULL
 * with *errstr (static). */
struct tls_ticket_keys *tls_ticket_keys_load(const char *path,
                                             const char **errstr);
/* tls_ticket_keys_free - NULL ok.  Contexts hold their own reference. */
void tls_ticket_keys_free(struct tls_ticket_keys *);

/* Server settings: Postfix's smtpd_tls_* parameters, mapped by the caller.
 * Strings may be NULL or "" for "not set". */
struct tls_server_settings {
        const char *cert_file;   /* smtpd_tls_cert_file (RSA or any) */
        const char *key_file;    /* smtpd_tls_key_file; "" = cert_file */
        const char *eccert_file; /* smtpd_tls_eccert_file */
        const char *eckey_file;  /* smtpd_tls_eckey_file; "" = eccert_file */
        const char *chain_files; /* smtpd_tls_chain_files: list of files,
                                    each key then certificate chain */
        const char *CAfile;      /* smtpd_tls_CAfile */
        const char *CApath;      /* smtpd_tls_CApath */
        bool append_default_ca;  /* tls_append_default_CA: also trust
                                    OpenSSL's default CA store */
        bool ask_ccert;          /* smtpd_tls_ask_ccert */
        bool req_ccert;          /* smtpd_tls_req_ccert (implies ask) */
        int ccert_verifydepth;   /* smtpd_tls_ccert_verifydepth; 0 = 9 */
        bool mandatory;          /* use the mandatory_* lists (level
                                           encrypt) instead of the opportunistic */
        const char *protocols;   /* smtpd_tls_protocols */
        const char *mandatory_protocols; /* smtpd_tls_mandatory_protocols */
        const char *ciphers;             /* smtpd_tls_ciphers; "" = medium */
        const char *mandatory_ciphers;   /* smtpd_tls_mandatory_ciphers */
        const char *exclude_ciphers;     /* smtpd_tls_exclude_ciphers */
        const char *mandatory_exclude_ciphers; /* ..._mandatory_exclude_... */
        const char *fingerprint_digest;        /* smtpd_tls_fingerprint_digest;
                                                  "" = sha256 (sha1, md5, ...) */
        long session_cache_timeout;            /* seconds; 0 disables tickets;
                                                  negative = 3600 */
        struct tls_ticket_keys *ticket_keys;   /* shared keys; NULL = a
                                                  private random key */
        int loglevel;         /* smtpd_tls_loglevel: 1 logs the summary */
        bool preempt_ciphers; /* tls_preempt_cipherlist: the server's
                                 cipher order wins over the client's */
        const char *groups;   /* tls_eecdh_auto_curves; NULL or "" =
                                 OpenSSL's */
        struct tls_cipher_grades cipherlists; /* tls_*_cipherlist */
        const char *ssl_options;   /* tls_ssl_options: unknown names are
                                      logged (once per value) and ignored;
                                      NO_TICKET disables tickets */
        const char *dh_param_file; /* smtpd_tls_dh1024_param_file: PEM DH
                                      parameters for TLS 1.2 DHE ciphers;
                                      NULL, "" or "auto" = OpenSSL's choice */
        const char *ticket_cipher; /* tls_session_ticket_cipher: a CBC
                                      cipher with 128-bit blocks and a key
                                      of 128 to 256 bits; NULL =
                                      aes-256-cbc, "" = no tickets */
        /* tls_server_sni_maps: the key and chain files (a list, as in
         * smtpd_tls_chain_files) for a name a client sends by SNI, looked
         * up as the name, then ".parent" for each parent domain; 1 found
         * (*files is the caller's to free), 0 not found (the default
         * certificate), -1 a table error (logged; the default).  NULL: no
         * SNI selection.  arg and the settings' strings must outlive the
         * context: contexts for other names are built from them when a
         * name is first seen. */
        int (*sni_lookup)(void *arg, const char *name, char **files);
        void *sni_arg;
};

/* Client settings: Postfix's smtp_tls_* parameters. */
struct tls_client_settings {
        const char *cert_file; /* smtp_tls_cert_file: presented when the
                                  server asks */
        const char *key_file;  /* smtp_tls_key_file; "" = cert_file */
        const char *eccert_file;
        const char *eckey_file;
        const char *chain_files;
        const char *CAfile;     /* smtp_tls_CAfile */
        const char *CApath;     /* smtp_tls_CApath */
        bool append_default_ca; /* tls_append_default_CA */
        int verifydepth;        /* smtp_tls_scert_verifydepth; 0 = 9 */
        const char *protocols;  /* smtp_tls_protocols (per-session
                                   overrides in struct tls_start) */
        const char *ciphers;    /* smtp_tls_ciphers; "" = medium */
        const char *exclude_ciphers;
        const char *fingerprint_digest; /* "" = sha256 */
        const char *dane_digests;       /* tls_dane_digests: strongest
                                           first; "" = "sha512 sha256" */
        long session_cache_timeout;     /* 0 disables resumption;
                                           negative = 3600 */
        int loglevel;                   /* smtp_tls_loglevel */
        const char *groups; /* tls_eecdh_auto_curves; NULL or "" = OpenSSL's */
        struct tls_cipher_grades cipherlists; /* tls_*_cipherlist, also for
                                                 policy ciphers= */
        const char *ssl_options;              /* tls_ssl_options */
};

/* tls_server_ctx_new - a server context.  Every key and certificate
 * problem is explained: a missing file, a passphrase-protected key, a DER,
 * PKCS#12 or PKCS#7 file, a key that does not match its certificate, a key
 * file readable by group or other; the message names the file and the
 * command that fixes it.  A cipher grade list with no usable cipher
 * names its parameter (tls_high_cipherlist ...), a DH parameter file that
 * does not load names the file.  Returns the context, or NULL with
 * *errstr (static storage, valid until the next call into tls_ctx). */
struct tls_ctx *tls_server_ctx_new(const struct tls_server_settings *,
                                   const char **errstr);
/* tls_server_ctx_sni_preload - build now the context of one
 * tls_server_sni_maps result (key and chain files), while the files can
 * still be read (before privileges are dropped); a name that maps to them
 * later uses it.  0, or -1 with *errstr naming the file. */
int tls_server_ctx_sni_preload(struct tls_ctx *, const char *files,
                               const char **errstr);
/* tls_client_ctx_new - a client context, same error conventions.  Without
 * CAfile/CApath no chain is ever trusted (Untrusted at best). */
struct tls_ctx *tls_client_ctx_new(const struct tls_client_settings *,
                                   const char **errstr);
/* tls_ctx_set_ticket_keys - replace a server context's ticket keys (a
 * worker that reloaded the key file after the supervisor rotated it);
 * sessions resumed from now on use the new set.  The context takes its own
 * reference.  Returns 0, or -1 for a client context or one with tickets
 * disabled. */
int tls_ctx_set_ticket_keys(struct tls_ctx *, struct tls_ticket_keys *);
/* tls_ciphers_check - whether a cipher grade (its string from lists, NULL
 * = Postfix's defaults) with exclusions leaves a cipher OpenSSL can use,
 * checked on a throw-away context as tls_server_ctx_new and
 * tls_client_ctx_new would see it (for postern check).  Returns 0, or -1
 * with *errstr (static, as tls_ctx) naming the parameter
 * ("tls_high_cipherlist = ... leaves no usable cipher"), the exclusions or
 * the unknown grade. */
int tls_ciphers_check(const struct tls_cipher_grades *lists, const char *grade,
                      const char *exclude, const char **errstr);
/* tls_ctx_free - NULL ok; sessions still open keep the context alive. */
void tls_ctx_free(struct tls_ctx *);

/*
 * Sessions (tls_conn.c).  The caller owns the non-blocking socket and the
 * event loop: it calls tls_conn_handshake / _read / _write and, on
 * TLS_IO_WANT_READ or TLS_IO_WANT_WRITE, waits for the fd to become
 * readable or writable and calls again.
 */
enum tls_io {
        TLS_IO_ERROR = -1,     /* failed; tls_conn_error() says why */
        TLS_IO_DONE = 0,       /* complete */
        TLS_IO_WANT_READ = 2,  /* wait until the fd is readable */
        TLS_IO_WANT_WRITE = 3, /* wait until the fd is writable */
        TLS_IO_CLOSED = 4,     /* read: the peer closed the session */
};

/* One TLSA record (RFC 6698): data is borrowed. */
struct tls_tlsa_rr {
        uint8_t usage, selector, mtype;
        const unsigned char *data;
        size_t len;
};

struct tls_start {
        struct tls_ctx *ctx; /* the role (server/client) is the ctx's */
        int fd;              /* connected, non-blocking; not owned */
        const char *namaddr; /* "host[addr]" (server) or "host[addr]:port"
                                (client), for log lines */
        /* client only */
        const char *sni;               /* server name to send; NULL = none */
        const char *protocols;         /* policy protocols=; NULL = the ctx's */
        const char *ciphers;           /* policy ciphers= grade; NULL = ctx's */
        const char *exclude;           /* policy exclude=; NULL = ctx's */
        const struct tls_match *match; /* names for "Verified"; NULL =
                                          no name check (Trusted at best) */
        const void *session;           /* tls_conn_session_export() bytes */
        size_t session_len;
        /* trust anchors (smtp_tls_trust_anchor_file, policy tafile=): PEM
         * files, space or comma separated, whose certificates alone are
         * trusted for this session instead of CAfile/CApath; any of them
         * may be an intermediate or the server's own certificate.  NULL or
         * "" = the ctx's CAs.  A file without a certificate is an error. */
        const char *tafile;
        /* DANE (RFC 7672): the TLSA records of the server, all from a
         * DNSSEC-secure answer.  ntlsa > 0 turns DANE authentication on:
         * usages 0 and 1 are skipped (unusable for SMTP), DANE-EE(3)
         * ignores names and dates, DANE-TA(2) needs the chain, valid
         * dates and a name matching dane_base or dane_hostname. */
        const struct tls_tlsa_rr *tlsa;
        size_t ntlsa;
        const char *dane_base;     /* TLSA base domain; also the SNI */
        const char *dane_hostname; /* the MX host name, for DANE-TA */
        int loglevel;              /* 0 = the ctx's; > 0 overrides it */
        /* coalesce: what the session writes waits in a buffer (at most
         * about 16 KB) and goes out in one send before the session next
         * reads, at tls_conn_flush and at tls_conn_shutdown: a handshake
         * flight, a session ticket and a reply share a packet.  A read
         * that found the socket drained is not retried until
         * tls_conn_readable says there is input.  The caller must call
         * tls_conn_flush before waiting for anything but input. */
        bool coalesce;
};

/* tls_conn_start - a new session on fd (no I/O yet).  Returns 0 with *out,
 * or -1 with *errstr (static) for bad per-session policy. */
int tls_conn_start(const struct tls_start *, struct tls_conn **out,
                   const char **errstr);
/* tls_conn_flush - send what a coalescing session holds: TLS_IO_DONE when
 * nothing is left, TLS_IO_WANT_WRITE when the socket is full (call again
 * when it is writable), TLS_IO_ERROR when it failed.  TLS_IO_DONE at once
 * for other sessions. */
enum tls_io tls_conn_flush(struct tls_conn *);
/* tls_conn_readable - the caller's event loop saw the socket readable: a
 * coalescing session reads it again. */
void tls_conn_readable(struct tls_conn *);
/* tls_conn_release_buffers - give OpenSSL's record buffers (about 34 KB)
 * and an empty coalescing buffer back while the session is idle; the next
 * record allocates them again.  Nothing happens while they hold data.  Server
 * contexts keep the buffers between records (client contexts release them after
 * each), so a server calls this for sessions that went quiet. */
void tls_conn_release_buffers(struct tls_conn *);
/* tls_conn_handshake - advance the handshake.  On TLS_IO_DONE the peer
 * info is available and, at loglevel >= 1, the Postfix "... TLS connection
 * established ..." line has been logged.  Garbage from the peer is
 * TLS_IO_ERROR, never a crash.  Renegotiation is always refused. */
enum tls_io tls_conn_handshake(struct tls_conn *);
/* tls_conn_read - read up to len bytes; *got is set on TLS_IO_DONE.
 * TLS_IO_CLOSED when the peer sent close_notify or closed the socket. */
enum tls_io tls_conn_read(struct tls_conn *, void *buf, size_t len,
                          size_t *got);
/* tls_conn_write - write up to len bytes (len > 0); *put is set on
 * TLS_IO_DONE.  After WANT_*, call again with the same buffer. */
enum tls_io tls_conn_write(struct tls_conn *, const void *buf, size_t len,
                           size_t *put);
/* tls_conn_pending - decrypted bytes buffered inside the session (read them
 * before waiting on the fd). */
size_t tls_conn_pending(const struct tls_conn *);
/* tls_conn_shutdown - send close_notify (does not wait for the peer's). */
enum tls_io tls_conn_shutdown(struct tls_conn *);
/* tls_conn_error - why the last call failed (valid until the next call on
 * the session). */
const char *tls_conn_error(const struct tls_conn *);
/* tls_conn_free - NULL ok; does not close the fd. */
void tls_conn_free(struct tls_conn *);

/* What the handshake established.  Strings are borrowed from the session
 * (valid until tls_conn_free) and never NULL ("" when absent). */
struct tls_info {
        const char *protocol; /* "TLSv1.3" */
        const char *cipher;   /* "TLS_AES_256_GCM_SHA384" */
        int cipher_usebits;
        int cipher_algbits;
        const char *kex_name; /* TLS 1.3 only, as Postfix: "X25519",
                                 "ECDHE", "DHE" */
        const char *kex_curve;
        int kex_bits;
        const char *srvr_sig_name; /* "RSA-PSS", "ECDSA" */
        const char *srvr_sig_curve;
        int srvr_sig_bits;
        const char *srvr_sig_dgst; /* "SHA256" */
        const char *clnt_sig_name;
        const char *clnt_sig_curve;
        int clnt_sig_bits;
        const char *clnt_sig_dgst;
        bool reused;              /* resumed session */
        bool peer_cert;           /* the peer presented a certificate */
        bool trusted;             /* its chain verified (CAfile/CApath),
                                     and, when a match list was given, a
                                     name matched (as in Postfix) */
        bool verified;            /* trusted and a name matched (client) */
        long verify_result;       /* X509 verify code, 0 = ok */
        const char *verify_error; /* text for verify_result */
        const char *peer_CN;
        const char *issuer_CN;
        const char *cert_fprint; /* "AB:CD:..." with the ctx's digest */
        const char *pkey_fprint; /* of the DER SubjectPublicKeyInfo */
        const char *sni;         /* server: the name the client sent */
        /* DANE (client) */
        bool dane;              /* DANE was in force for this session */
        int dane_usable;        /* usable TLSA records given */
        int dane_depth;         /* depth of the matched certificate, -1 */
        const char *dane_match; /* "end entity certificate sha256 digest
                                   AB:..." as posttls-finger prints it */
};

/* tls_conn_info - the info after TLS_IO_DONE from tls_conn_handshake;
 * NULL before. */
const struct tls_info *tls_conn_info(const struct tls_conn *);
/* tls_conn_summary - the Postfix one-liner "Trusted TLS connection
 * established from host[addr]: TLSv1.3 with cipher ... (256/256 bits)
 * key-exchange X25519 server-signature ..." (as tls_log_summary in
 * Postfix 3.7).  Appends to out. */
void tls_conn_summary(const struct tls_conn *, struct strbuf *out);
/* tls_conn_received - the TLS comment of smtpd_tls_received_header:
 * "(using TLSv1.3 with cipher ... (256/256 bits)\n\t key-exchange ...)\n\t
 * (Client did not present a certificate)".  ask_ccert selects between
 * "No client certificate requested" and "Client did not present a
 * certificate".  Appends to out. */
void tls_conn_received(const struct tls_conn *, bool ask_ccert,
                       struct strbuf *out);
/* tls_conn_peer_chain - the certificates the peer sent, leaf first, as a
 * new list (free with tls_certlist_free); NULL when it sent none. */
struct tls_certlist *tls_conn_peer_chain(const struct tls_conn *);
/* tls_conn_session_export - the client's resumable session, serialized
 * for a cache keyed by destination and policy.  Returns 0 with a heap
 * buffer (caller frees), or -1 when there is nothing to cache yet (TLS 1.3
 * tickets arrive after the handshake: export after the first read). */
int tls_conn_session_export(const struct tls_conn *, unsigned char **buf,
                            size_t *len);

/* ---- end contexts, sessions and handshakes ---- */

/* ---- configuration checks (tls_check.c) ---- */

/* What one smtp_tls_policy_maps value asks for. */
struct tls_policy_info {
        const char *level; /* "verify" (static storage) */
        bool needs_ca;     /* verify, secure: a CAfile or CApath is needed */
        bool has_match;    /* a match= attribute was given */
        bool has_tafile;   /* a tafile= attribute: its own trust anchors */
};

/* tls_policy_check - check a policy table value "level [name=value ...]"
 * as Postfix's smtp_tls_policy_maps takes it: a known level (none, may,
 * encrypt, dane, dane-only, fingerprint, verify, secure), known attributes
 * (ciphers, exclude, match, protocols, tafile, connection_reuse,
 * servername, enable_rpk) with valid values, match= for fingerprint.
 * Plain string code, no OpenSSL.  Returns 0 with *out set, or -1 with
 * *errstr (per-thread buffer, valid until the next call) naming the bad
 * token. */
int tls_policy_check(const char *value, struct tls_policy_info *out,
                     const char **errstr);

/* ---- end configuration checks ---- */

/* ---- TLSA association data (tls_tlsa.c) ---- */

/* tls_tlsa_data - the data of a TLSA record for cert: selector 0 the DER
 * certificate, 1 its DER SubjectPublicKeyInfo; mtype 0 the data itself,
 * 1 SHA-256, 2 SHA-512.  Returns 0 with *out (heap, caller frees), or -1
 * with *errstr (static) for a bad selector or matching type. */
int tls_tlsa_data(const struct tls_cert *, int selector, int mtype,
                  unsigned char **out, size_t *len, const char **errstr);
/* tls_tlsa_key_data - the same for selector 1 from a key's public half
 * (a record can be published before the certificate exists). */
int tls_tlsa_key_data(const struct tls_key *, int mtype, unsigned char **out,
                      size_t *len, const char **errstr);

/* ---- end TLSA association data ---- */

#endif

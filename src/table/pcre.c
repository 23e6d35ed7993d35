/* SPDX-License-Identifier: MIT */
/*
 * pcre.c - the PCRE2 engine of pcre: tables, Postfix's pcre_table(5).  The
 * rules, IF/ENDIF blocks and $n substitution are regexp.c's; this file
 * only compiles and matches patterns.  It is the only user of libpcre2.
 *
 * As in Postfix, matching is case-insensitive and '.' matches a newline
 * by default; the flags toggle PCRE2 options: i CASELESS, m MULTILINE,
 * s DOTALL, x EXTENDED, A ANCHORED, E DOLLAR_ENDONLY, U UNGREEDY.  X
 * (PCRE_EXTRA, which PCRE2 dropped) is accepted and has no effect, as in
 * Postfix built with PCRE2.
 *
 * Keys come from the network (HELO names, addresses), so a pattern must
 * not turn one into a denial of service: PCRE2 runs in byte mode (never
 * UTF, so no key is invalid UTF-8 and "(*UTF)" is refused when the table
 * is opened), with limits on backtracking and on the memory of a match.
 * A match that hits a limit is a lookup error (smtpd answers 451), not a
 * silent "not found" that would let a client past an access table.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "table/table_int.h"
#include "log/log.h"

#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Backtracking points one match may use (PCRE2's default is 10 million);
 * ordinary rules need a few hundred. */
#define PCRE_MATCH_LIMIT 1000000
/* Heap for the backtracking frames of one match, in KiB. */
#define PCRE_HEAP_LIMIT_KIB 16384

/* The flag letters and the PCRE2 option each toggles.  The option bits of
 * the engine interface are 1 << index into this table, because X has no
 * PCRE2 option. */
enum { PF_I, PF_M, PF_S, PF_X, PF_A, PF_E, PF_U, PF_EXTRA };
static const struct pcre_flag {
        char letter;
        uint32_t option;
} pcre_flags[] = {
    [PF_I] = {'i', PCRE2_CASELESS}, [PF_M] = {'m', PCRE2_MULTILINE},
    [PF_S] = {'s', PCRE2_DOTALL},   [PF_X] = {'x', PCRE2_EXTENDED},
    [PF_A] = {'A', PCRE2_ANCHORED}, [PF_E] = {'E', PCRE2_DOLLAR_ENDONLY},
    [PF_U] = {'U', PCRE2_UNGREEDY}, [PF_EXTRA] = {'X', 0},
};

/* One compiled pattern, with what its matches need. */
struct pcre_re {
        pcre2_code *code;
        pcre2_match_data *md;    /* sized for the pattern's groups */
        pcre2_match_context *mc; /* the limits */
};

/* pcre_flag - the engine option bit of letter c, or 0 */
static unsigned pcre_flag(int c)
{
        for (size_t i = 0; i < ARRAY_SIZE(pcre_flags); i++)
                if (pcre_flags[i].letter == c)
                        return 1u << i;
        return 0;
}

/* pcre_free - everything of a compiled pattern */
static void pcre_free(void *arg)
{
        struct pcre_re *re = arg;

        pcre2_match_data_free(re->md);
        pcre2_match_context_free(re->mc);
        pcre2_code_free(re->code);
        free(re);
}

/* pcre_compile - pattern with the options of opts, in byte mode */
static int pcre_compile(const char *pattern, unsigned opts, void **out,
                        size_t *groups, char **why)
{
        uint32_t options = PCRE2_NEVER_UTF, n = 0;
        struct pcre_re *re;
        PCRE2_SIZE offset;
        int code;

        *out = NULL;
        for (size_t i = 0; i < ARRAY_SIZE(pcre_flags); i++)
                if (opts & (1u << i))
                        options |= pcre_flags[i].option;
        re = xcalloc(1, sizeof(*re));
        re->code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                 options, &code, &offset, NULL);
        if (re->code == NULL) {
                PCRE2_UCHAR msg[256];

                if (pcre2_get_error_message(code, msg, sizeof(msg)) < 0)
                        snprintf((char *)msg, sizeof(msg), "error %d", code);
                *why =
                    xasprintf("%s at offset %zu", (char *)msg, (size_t)offset);
                free(re);
                return -1;
        }
        if (pcre2_pattern_info(re->code, PCRE2_INFO_CAPTURECOUNT, &n) != 0)
                BUG("pcre2_pattern_info CAPTURECOUNT failed");
        re->md = pcre2_match_data_create_from_pattern(re->code, NULL);
        re->mc = pcre2_match_context_create(NULL);
        if (re->md == NULL || re->mc == NULL)
                fatalx("out of memory for a pcre: pattern");
        pcre2_set_match_limit(re->mc, PCRE_MATCH_LIMIT);
        pcre2_set_heap_limit(re->mc, PCRE_HEAP_LIMIT_KIB);
        *groups = n;
        *out = re;
        return 0;
}

/* pcre_match - key against the pattern; groups past $9 are not copied */
static int pcre_match(void *arg, const char *key, struct table_re_span *m,
                      char **why)
{
        struct pcre_re *re = arg;
        int rc = pcre2_match(re->code, (PCRE2_SPTR)key, strlen(key), 0, 0,
                             re->md, re->mc);
        const PCRE2_SIZE *ov;
        uint32_t set;

        if (rc == PCRE2_ERROR_NOMATCH)
                return 0;
        if (rc < 0) {
                PCRE2_UCHAR msg[256];

                if (pcre2_get_error_message(rc, msg, sizeof(msg)) < 0)
                        snprintf((char *)msg, sizeof(msg), "error %d", rc);
                *why = xstrdup((char *)msg);
                return -1;
        }
        if (m == NULL)
                return 1;
        /* rc is one more than the highest group set; 0 means the ovector
         * was too small, which a pattern-sized one never is */
        set = rc == 0 ? pcre2_get_ovector_count(re->md) : (uint32_t)rc;
        ov = pcre2_get_ovector_pointer(re->md);
        for (uint32_t i = 0; i < TABLE_RE_GROUPS; i++) {
                /* unset, or reversed by \K in a lookahead: empty */
                if (i >= set || ov[2 * i] == PCRE2_UNSET ||
                    ov[2 * i + 1] < ov[2 * i]) {
                        m[i].so = m[i].eo = -1;
                        continue;
                }
                m[i].so = (long)ov[2 * i];
                m[i].eo = (long)ov[2 * i + 1];
        }
        return 1;
}

const struct table_re_engine table_re_pcre = {
    .defaults = 1u << PF_I | 1u << PF_S, /* CASELESS, DOTALL */
    .group0 = false,
    .flag = pcre_flag,
    .compile = pcre_compile,
    .match = pcre_match,
    .free = pcre_free,
};

/* SPDX-License-Identifier: MIT */
/*
 * conf - main.cf, Postfix's syntax and parameter names.
 *
 * src/conf/params.def is the one table of every parameter postern knows:
 * P(name, TYPE, "default", "one-line description").  It generates the
 * typed fields of struct conf, the defaults, the parser and what
 * `postern conf` prints.  Types:
 *   STR    free text                         -> const char *
 *   BOOL   yes / no                          -> bool
 *   INT    decimal integer                   -> long long
 *   TIME   number with unit s m h d w; the unit of the default applies to
 *          a bare number, as in Postfix      -> long long (seconds)
 *   SIZE   bytes, optional k/m/g suffix      -> long long (bytes)
 *   LIST   comma or white space separated    -> const char * (expanded;
 *          split with str_split(v, LIST_SEPS, ...))
 *   TABLE  list of type:name table references-> const char * (expanded)
 * Values are stored expanded ($name, ${name}, ${name?text}, ${name:text}).
 * Code receives a const struct conf * and reads fields: conf->smtpd_timeout.
 */
#ifndef POSTERN_CONF_H
#define POSTERN_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "base/base.h"

typedef const char *conf_STR;
typedef bool conf_BOOL;
typedef long long conf_INT;
typedef long long conf_TIME;
typedef long long conf_SIZE;
typedef const char *conf_LIST;
typedef const char *conf_TABLE;

enum conf_type {
        CONF_STR,
        CONF_BOOL,
        CONF_INT,
        CONF_TIME,
        CONF_SIZE,
        CONF_LIST,
        CONF_TABLE,
};

/* CONF_ID_name for every parameter, in params.def order. */
enum conf_id {
#define P(name, type, def, desc) CONF_ID_##name,
#include "conf/params.def"
#undef P
        CONF_NPARAMS
};

/* What params.def says of one parameter. */
struct conf_param {
        const char *name;
        enum conf_type type;
        const char *def; /* Postfix's default, unexpanded */
        const char *desc;
};

struct conf_store; /* raw text and where it came from; private */

/* The effective configuration: every parameter typed and expanded. */
struct conf {
#define P(name, type, def, desc) conf_##type name;
#include "conf/params.def"
#undef P
        const char *config_dir; /* the directory main.cf was read from */
        struct conf_store *store;
};

/* conf_params - the parameter table, CONF_NPARAMS rows in params.def order
 * (static storage). */
const struct conf_param *conf_params(void);
/* conf_refused - 0, or -1 with *err (caller frees; "FILE, line N:
 * parameter NAME: why") when c sets a parameter postern does not
 * implement and would change what happens to mail without (address
 * rewriting): postern serve refuses to start on it, postern check
 * reports it. */
int conf_refused(const struct conf *c, char **err);

/* conf_param_find - a parameter by name, or NULL when postern does not know
 * it. */
const struct conf_param *conf_param_find(const char *name);

/* conf_load - read DIR/main.cf (a missing file means all defaults), apply
 * overrides ("name=value" strings, as -o gives them, later ones winning),
 * expand and type every parameter.  Unknown parameters that no value refers
 * to (in main.cf, or in an -o of master.cf next to it) are logged as
 * warnings naming file and line.  On a bad value returns
 * -1 with *err set (caller frees) to "FILE, line N: parameter NAME: why";
 * *out is then NULL.  The result is immutable; free with conf_free. */
int conf_load(const char *dir, const struct strlist *overrides,
              struct conf **out, char **err);
/* conf_load_defaults - a configuration with every parameter at its
 * default (what postconf -d shows). */
int conf_load_defaults(struct conf **out, char **err);
/* conf_free - release a configuration (NULL ok). */
void conf_free(struct conf *);

/* conf_raw - the text main.cf (or an override) gives NAME, unexpanded, or
 * NULL when it is not set there.  Borrowed, valid while conf lives. */
const char *conf_raw(const struct conf *, const char *name);
/* conf_value - NAME's value unexpanded: main.cf's text, else the default;
 * NULL for a name neither sets nor knows. */
const char *conf_value(const struct conf *, const char *name);
/* conf_expand - expand $name references in text against conf, appending to
 * out.  Returns 0, or -1 with *err (static or borrowed) on a loop or a
 * syntax error. */
int conf_expand(const struct conf *, const char *text, struct strbuf *out,
                const char **err);
/* conf_origin - "FILE, line N" for a parameter set in main.cf, "-o" for an
 * override, or NULL.  Borrowed. */
const char *conf_origin(const struct conf *, const char *name);
/* conf_set_names - every name set in main.cf or by overrides, sorted. */
void conf_set_names(const struct conf *, struct strlist *out);
/* conf_sort_names - sort names in the order postconf prints them. */
void conf_sort_names(struct strlist *);
/* conf_main_cf - path of the main.cf that was read.  Borrowed. */
const char *conf_main_cf(const struct conf *);

/* conf_split_list - split a LIST or TABLE value at commas and white space,
 * keeping {...} groups whole (inline:{ a=b, c=d }), appending to out. */
void conf_split_list(const char *value, struct strlist *out);

/* conf_parse_bool, conf_parse_time, conf_parse_size, conf_parse_int - the
 * value parsers, shared with master.cf and policy attribute parsing.
 * Return 0 or -1 with *why (static). */
int conf_parse_bool(const char *, bool *, const char **why);
int conf_parse_time(const char *, char default_unit, long long *,
                    const char **why);
int conf_parse_size(const char *, long long *, const char **why);
int conf_parse_int(const char *, long long *, const char **why);

/* conf_edit - rewrite DIR/main.cf with settings ("name = value" or
 * "name=value") applied and names removed, keeping comments and order: a
 * set name replaces its existing line (and continuation lines) in place or
 * is appended; the new file is written beside the old, fsync'd and renamed
 * over it.  Returns 0 or -1 with *err (caller frees). */
int conf_edit(const char *dir, const struct strlist *settings,
              const struct strlist *removes, char **err);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * settings.h - unit tests: a configuration from "name=value" settings
 * (what -o gives), "DIR" in them standing for a scratch directory, and
 * small files in that directory.  Header-only; include after cmocka.h.
 */
#ifndef POSTERN_TEST_SETTINGS_H
#define POSTERN_TEST_SETTINGS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "conf/conf.h"

/* settings_load - DIR/main.cf (none: defaults) with base, then settings
 * (both NULL-terminated, base may be NULL) as overrides; fails the test
 * when it does not load */
static struct conf *settings_load(const char *dir, const char *const *base,
                                  const char *const *settings)
{
        const char *const *lists[2] = {base, settings};
        struct strlist o = {0};
        struct conf *c = NULL;
        char *err = NULL;

        for (int l = 0; l < 2; l++)
                for (size_t i = 0; lists[l] && lists[l][i]; i++) {
                        struct strbuf b;
                        strbuf_init(&b);
                        for (const char *p = lists[l][i]; *p; p++) {
                                if (strncmp(p, "DIR", 3) == 0) {
                                        strbuf_adds(&b, dir);
                                        p += 2;
                                } else {
                                        strbuf_addc(&b, *p);
                                }
                        }
                        strlist_push(&o, b.s);
                        strbuf_clear(&b);
                }
        if (conf_load(dir, &o, &c, &err) < 0)
                fail_msg("conf_load: %s", err);
        strlist_clear(&o);
        return c;
}

/* settings_file - DIR/name with text; fails the test when it cannot */
static void settings_file(const char *dir, const char *name, const char *text)
{
        char *p = xasprintf("%s/%s", dir, name);
        FILE *fp = fopen(p, "w");

        assert_non_null(fp);
        fputs(text, fp);
        fclose(fp);
        free(p);
}

#endif

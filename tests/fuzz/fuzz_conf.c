/* SPDX-License-Identifier: MIT */
/* fuzz_conf.c - main.cf parsing, expansion and typing on arbitrary bytes */
#include <stdint.h>
#include <stdlib.h>

#include "conf/conf_int.h"
#include "log/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
        static int init;
        struct conf_store *st;
        struct conf *c;
        char *err = NULL;
        const char *lerr;

        if (!init) {
                log_init("fuzz");
                (void)log_open("/dev/null", "fuzz", &lerr);
                init = 1;
        }
        if (conf_store_parse("fuzz/main.cf", (const char *)data, len, &st,
                             &err) < 0) {
                free(err);
                return 0;
        }
        if (conf_build(st, &c, &err) < 0) {
                free(err);
                return 0;
        }
        struct strlist names = {0};
        conf_set_names(c, &names);
        strlist_clear(&names);
        conf_free(c);
        return 0;
}

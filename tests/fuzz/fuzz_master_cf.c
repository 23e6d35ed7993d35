/* SPDX-License-Identifier: MIT */
/* fuzz_master_cf.c - master.cf parsing on arbitrary bytes */
#include <stdint.h>
#include <stdlib.h>

#include "log/log.h"
#include "master/master.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
        static int init;
        struct master_service *v;
        size_t n;
        char *err = NULL;
        const char *lerr;

        if (!init) {
                log_init("fuzz");
                (void)log_open("/dev/null", "fuzz", &lerr);
                init = 1;
        }
        if (master_cf_parse("fuzz/master.cf", (const char *)data, len, &v, &n,
                            &err) < 0) {
                free(err);
                return 0;
        }
        master_services_free(v, n);
        return 0;
}

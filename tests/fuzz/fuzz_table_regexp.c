/* SPDX-License-Identifier: MIT */
/*
 * fuzz_table_regexp.c - the regexp: table parser with POSIX patterns, then
 * lookups (fuzz_rules.h).  glibc's regcomp needs memory exponential in
 * stacked repetition operators ("a+++++..."); such inputs are skipped, as
 * the patterns are the administrator's own, not the network's.
 */
#include "fuzz_rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        for (size_t i = 0, run = 0; i < size; i++) {
                run = strchr("+*?{}", data[i]) && data[i] ? run + 1 : 0;
                if (run > 3)
                        return 0;
        }
        return fuzz_rules(&table_re_posix, data, size);
}

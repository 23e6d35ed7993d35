/* SPDX-License-Identifier: MIT */
/*
 * fuzz_table_pcre.c - the pcre: table parser with PCRE2 patterns, then
 * lookups (fuzz_rules.h), among them keys that are not UTF-8 and one
 * that makes nested quantifiers backtrack: the match limit must turn
 * those into a lookup error naming the table, never a hang or a crash.
 */
#include "fuzz_rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        return fuzz_rules(&table_re_pcre, data, size);
}

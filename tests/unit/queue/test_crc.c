/* SPDX-License-Identifier: MIT */
/*
 * test_crc.c - queue_crc32 against the bit-at-a-time definition of
 * CRC-32 (ISO-HDLC, as zlib): known vectors, every length up to 300 at
 * every misalignment, large buffers, continuation at random split points,
 * and the PCLMULQDQ path against the table path.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "queue/queue.h"
#include "queue/queue_int.h"

#define BIG (1024 * 1024)

static unsigned char *data; /* BIG + 16 pseudo-random bytes */
static uint32_t rng = 0x9e3779b9u;

/* rnd - xorshift32, deterministic so a failure replays */
static uint32_t rnd(void)
{
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        return rng;
}

/* crc_bitwise - CRC-32 one bit at a time, the definition itself */
static uint32_t crc_bitwise(uint32_t crc, const unsigned char *p, size_t n)
{
        crc = ~crc;
        while (n--) {
                crc ^= *p++;
                for (int k = 0; k < 8; k++)
                        crc = (crc & 1) ? 0xEDB88320u ^ (crc >> 1) : crc >> 1;
        }
        return ~crc;
}

/* check - both implementations equal the definition on p[0..n) */
static void check(uint32_t crc, const unsigned char *p, size_t n)
{
        uint32_t want = crc_bitwise(crc, p, n);

        assert_int_equal(queue_crc32(crc, p, n), want);
        assert_int_equal(queue_crc32_table(crc, p, n), want);
}

/* test_vectors - published values */
static void test_vectors(void **state)
{
        static const char fox[] = "The quick brown fox jumps over the lazy dog";
        unsigned char zeros[4096] = {0};

        (void)state;
        assert_int_equal(queue_crc32(0, "123456789", 9), 0xCBF43926u);
        assert_int_equal(queue_crc32(0, "", 0), 0);
        assert_int_equal(queue_crc32(0x12345678u, "", 0), 0x12345678u);
        assert_int_equal(queue_crc32(0, "a", 1), 0xE8B7BE43u);
        assert_int_equal(queue_crc32(0, fox, strlen(fox)), 0x414FA339u);
        /* Zeros and ones: the register alone decides the value. */
        check(0, zeros, sizeof(zeros));
        memset(zeros, 0xff, sizeof(zeros));
        check(0, zeros, sizeof(zeros));
        check(0xffffffffu, zeros, 100);
}

/* test_lengths - every length 0..300 at every misalignment 0..15, from
 * zero and from a random register (the 4-lane loop starts at 64 bytes,
 * the 1-lane loop and the byte tail below) */
static void test_lengths(void **state)
{
        (void)state;
        for (size_t off = 0; off < 16; off++)
                for (size_t len = 0; len <= 300; len++) {
                        check(0, data + off, len);
                        check(rnd(), data + off, len);
                }
}

/* test_large - 4 KB, 64 KB + 13 at every misalignment, and 1 MB */
static void test_large(void **state)
{
        (void)state;
        for (size_t off = 0; off < 16; off++) {
                check(0, data + off, 4096);
                check(0, data + off, 65536 + 13);
        }
        check(0, data, BIG);
        check(rnd(), data + 7, BIG);
}

/* test_continuation - a CRC continued over pieces cut at random points
 * equals the CRC of the whole */
static void test_continuation(void **state)
{
        (void)state;
        for (int round = 0; round < 220; round++) {
                size_t len = round < 200 ? rnd() % 5000 : rnd() % BIG;
                size_t off = rnd() % 16;
                const unsigned char *p = data + off;
                uint32_t want = crc_bitwise(0, p, len);
                uint32_t crc = 0;
                size_t done = 0;

                while (done < len) {
                        size_t left = len - done;
                        size_t n =
                            rnd() % 4 == 0 ? rnd() % 20 : rnd() % (left + 1);
                        if (n > left)
                                n = left;
                        crc = queue_crc32(crc, p + done, n);
                        done += n;
                }
                assert_int_equal(crc, want);
                size_t cut = len ? rnd() % len : 0;
                assert_int_equal(
                    queue_crc32(queue_crc32(0, p, cut), p + cut, len - cut),
                    want);
        }
}

/* test_paths_agree - the accelerated path is in use where the CPU has
 * it, and agrees with the tables on random slices and registers */
static void test_paths_agree(void **state)
{
        (void)state;
#if defined(__x86_64__)
        __builtin_cpu_init();
        bool have = __builtin_cpu_supports("pclmul") &&
                    __builtin_cpu_supports("sse4.1");
        assert_int_equal(queue_crc32_accelerated(), have);
#endif
        print_message("# queue_crc32 %s\n", queue_crc32_accelerated()
                                                ? "uses PCLMULQDQ"
                                                : "uses the tables");
        for (int i = 0; i < 20000; i++) {
                size_t off = rnd() % 4096;
                size_t len = rnd() % (i % 100 == 0 ? BIG - off : 2048);
                uint32_t crc = rnd();
                assert_int_equal(queue_crc32(crc, data + off, len),
                                 queue_crc32_table(crc, data + off, len));
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_vectors),
            cmocka_unit_test(test_lengths),
            cmocka_unit_test(test_large),
            cmocka_unit_test(test_continuation),
            cmocka_unit_test(test_paths_agree),
        };
        int rc;

        data = xmalloc(BIG + 16);
        for (size_t i = 0; i < BIG + 16; i++)
                data[i] = (unsigned char)(rnd() >> 24);
        rc = cmocka_run_group_tests(tests, NULL, NULL);
        free(data);
        return rc;
}

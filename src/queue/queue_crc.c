/* SPDX-License-Identifier: MIT */
/*
 * queue_crc.c - CRC-32 of queue files: ISO-HDLC, polynomial 0x04C11DB7
 * reflected (0xEDB88320), init and final XOR 0xFFFFFFFF, as zlib's crc32().
 *
 * Two implementations give the same results: slicing-by-8 tables, which
 * run everywhere, and on x86-64 CPUs with PCLMULQDQ and SSE4.1 a folding
 * one after Intel's "Fast CRC Computation for Generic Polynomials Using
 * PCLMULQDQ Instruction".  The choice is made once, at the first call.
 */
#include "queue/queue_int.h"

#include <pthread.h>

#if defined(__x86_64__)
#include <immintrin.h>
#include <wmmintrin.h>
#endif

/* Both implementations work on the CRC register, that is the CRC without
 * its final XOR: queue_crc32 inverts on the way in and out. */
typedef uint32_t crc_fn(uint32_t, const unsigned char *, size_t);

/* Slicing-by-8: crc_table[k][b] is the CRC of byte b followed by k zero
 * bytes, so eight bytes fold into the CRC with eight lookups and no
 * dependency between them. */
static uint32_t crc_table[8][256];
static crc_fn *crc_impl;
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

/* le32 - four bytes as a little-endian number, whatever the host order */
static uint32_t le32(const unsigned char *p)
{
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
               (uint32_t)p[3] << 24;
}

/* crc_slice8 - the table implementation on the CRC register */
static uint32_t crc_slice8(uint32_t crc, const unsigned char *p, size_t len)
{
        const uint32_t(*t)[256] = crc_table;

        for (; len >= 8; p += 8, len -= 8) {
                uint32_t lo = crc ^ le32(p), hi = le32(p + 4);
                crc = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^
                      t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
                      t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^
                      t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
        }
        while (len--)
                crc = t[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
        return crc;
}

#if defined(__x86_64__)
/*
 * Folding with carry-less multiplication.
 *
 * Notation: polynomials over GF(2), P = x^32 + 0x04C11DB7 = 0x104C11DB7.
 * The CRC register after a message M is M(x) * x^32 mod P (the initial
 * value, XORed into the first 32 message bits, is part of M).  Reflected
 * means the first message bit, the least significant bit of the first
 * byte, is the highest power: in a 16-byte lane loaded little-endian,
 * bit i stands for x^(127-i), so the low quadword L holds the high
 * powers and the lane is L * x^64 + H.
 *
 * A reflected constant k of degree < 32 is stored on 33 bits as
 * reflect32(k) << 1, so that bit j stands for x^(32-j).  The carry-less
 * product of a 64-bit reflected operand (bit j for x^(63-j)) with it has
 * bit m for x^(95-m): read as a lane (bit m for x^(127-m)) it is the
 * product times x^32.  Hence the "+32" and "-32" below.
 *
 * Folding a lane D bits forward: L * x^(D+64) + H * x^D is congruent
 * modulo P to clmul(L, k_lo) ^ clmul(H, k_hi) read as a lane, with
 *   k_lo = x^(D+32) mod P,  k_hi = x^(D-32) mod P.
 *   D = 4*128 (four lanes in flight):  k1 = x^(4*128+32) mod P,
 *                                      k2 = x^(4*128-32) mod P;
 *   D = 128 (one lane):                k3 = x^(128+32) mod P,
 *                                      k4 = x^(128-32) mod P.
 * Final reduction of the last lane, whose value is B * x^32 mod P:
 *   128 -> 96 bits: clmul(L, k4) ^ H, now bit m stands for x^(95-m);
 *   96 -> 64 bits: the low 32 bits A (x^95..x^64) times
 *                  k5 = x^64 mod P, XOR the other 64 bits;
 *   64 -> 32 bits, Barrett: with A the low 32 bits (x^63..x^32),
 *                  q = floor(A * mu / x^32), mu = floor(x^64 / P)
 *                  (33 bits, stored reflect33(mu)), then the remainder
 *                  is the high 32 bits of the value XOR clmul(q, P'),
 *                  P' = reflect33(P) = 0x1DB710641.
 * The values were computed with a few lines of Python (polynomial
 * long division), and the whole algorithm checked against zlib on random
 * inputs in a bit-level model before being written here:
 *   k1 = 0x154442BD4  k2 = 0x1C6E41596  k3 = 0x1751997D0
 *   k4 = 0x0CCAA009E  k5 = 0x163CD6124
 *   mu = 0x104D101DF, reflect33(mu) = 0x1F7011641
 * They are the published constants for this polynomial (zlib, Linux).
 */
#define CRC_K1 0x154442bd4ull
#define CRC_K2 0x1c6e41596ull
#define CRC_K3 0x1751997d0ull
#define CRC_K4 0x0ccaa009eull
#define CRC_K5 0x163cd6124ull
#define CRC_MU 0x1f7011641ull
#define CRC_POLY 0x1db710641ull

/* crc_load - 16 bytes at p, any alignment */
__attribute__((target("pclmul,sse4.1"))) static inline __m128i
crc_load(const unsigned char *p)
{
        return _mm_loadu_si128((const __m128i *)(const void *)p);
}

/* crc_fold - x moved forward by the distance coded in k, plus next */
__attribute__((target("pclmul,sse4.1"))) static inline __m128i
crc_fold(__m128i x, __m128i k, __m128i next)
{
        __m128i lo = _mm_clmulepi64_si128(x, k, 0x00);
        __m128i hi = _mm_clmulepi64_si128(x, k, 0x11);

        return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

/* crc_pclmul - the folding implementation on the CRC register */
__attribute__((target("pclmul,sse4.1"))) static uint32_t
crc_pclmul(uint32_t crc, const unsigned char *p, size_t len)
{
        const __m128i k12 =
            _mm_set_epi64x((long long)CRC_K2, (long long)CRC_K1);
        const __m128i k34 =
            _mm_set_epi64x((long long)CRC_K4, (long long)CRC_K3);
        const __m128i k5 = _mm_set_epi64x(0, (long long)CRC_K5);
        const __m128i poly =
            _mm_set_epi64x((long long)CRC_MU, (long long)CRC_POLY);
        const __m128i mask32 = _mm_set_epi32(0, 0, 0, -1);
        __m128i x0, x1, x2, x3, t;

        if (len < 64)
                return crc_slice8(crc, p, len);

        x0 = _mm_xor_si128(crc_load(p), _mm_cvtsi32_si128((int)crc));
        x1 = crc_load(p + 16);
        x2 = crc_load(p + 32);
        x3 = crc_load(p + 48);
        p += 64;
        len -= 64;
        for (; len >= 64; p += 64, len -= 64) {
                x0 = crc_fold(x0, k12, crc_load(p));
                x1 = crc_fold(x1, k12, crc_load(p + 16));
                x2 = crc_fold(x2, k12, crc_load(p + 32));
                x3 = crc_fold(x3, k12, crc_load(p + 48));
        }
        x0 = crc_fold(x0, k34, x1);
        x0 = crc_fold(x0, k34, x2);
        x0 = crc_fold(x0, k34, x3);
        for (; len >= 16; p += 16, len -= 16)
                x0 = crc_fold(x0, k34, crc_load(p));

        /* 128 -> 96 bits: low quadword times k4, XOR the high one. */
        t = _mm_clmulepi64_si128(x0, k34, 0x10);
        x0 = _mm_xor_si128(_mm_srli_si128(x0, 8), t);
        /* 96 -> 64 bits: low 32 bits times k5, XOR the rest. */
        t = _mm_srli_si128(x0, 4);
        x0 = _mm_clmulepi64_si128(_mm_and_si128(x0, mask32), k5, 0x00);
        x0 = _mm_xor_si128(x0, t);
        /* 64 -> 32 bits, Barrett: q = low 32 bits times mu, keep the
         * quotient's 32 bits, times P, XOR: the remainder is bits 32-63. */
        t = _mm_clmulepi64_si128(_mm_and_si128(x0, mask32), poly, 0x10);
        t = _mm_clmulepi64_si128(_mm_and_si128(t, mask32), poly, 0x00);
        x0 = _mm_xor_si128(x0, t);
        crc = (uint32_t)_mm_extract_epi32(x0, 1);

        return crc_slice8(crc, p, len);
}
#endif

/* crc_setup - build the tables and pick the implementation, once */
static void crc_setup(void)
{
        for (uint32_t i = 0; i < 256; i++) {
                uint32_t c = i;
                for (int k = 0; k < 8; k++)
                        c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
                crc_table[0][i] = c;
        }
        for (int k = 1; k < 8; k++)
                for (int i = 0; i < 256; i++)
                        crc_table[k][i] =
                            (crc_table[k - 1][i] >> 8) ^
                            crc_table[0][crc_table[k - 1][i] & 0xff];
        crc_impl = crc_slice8;
#if defined(__x86_64__)
        __builtin_cpu_init();
        if (__builtin_cpu_supports("pclmul") &&
            __builtin_cpu_supports("sse4.1"))
                crc_impl = crc_pclmul;
#endif
}

/* queue_crc32 - continue a CRC-32 over len bytes */
uint32_t queue_crc32(uint32_t crc, const void *buf, size_t len)
{
        (void)pthread_once(&crc_once, crc_setup);
        return ~crc_impl(~crc, buf, len);
}

/* queue_crc32_table - queue_crc32 by the tables, whatever the CPU */
uint32_t queue_crc32_table(uint32_t crc, const void *buf, size_t len)
{
        (void)pthread_once(&crc_once, crc_setup);
        return ~crc_slice8(~crc, buf, len);
}

/* queue_crc32_accelerated - whether queue_crc32 uses PCLMULQDQ */
bool queue_crc32_accelerated(void)
{
        (void)pthread_once(&crc_once, crc_setup);
        return crc_impl != crc_slice8;
}

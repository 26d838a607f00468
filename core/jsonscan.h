/* jsonscan.h - vectorized byte scans of JSON text, chosen at run time.
 *
 * The projection decoder (core/jsonproj.c) spends its time looking for the
 * next byte that ends a run of plain string text. This module gives that
 * scan at the widest vector width the CPU offers (AVX-512BW, AVX2, SSE2, or
 * eight bytes at a time in a 64-bit word), picked when a decoder is made:
 * the binary stays portable to x86-64 machines without AVX, and to other
 * architectures, where only the word-at-a-time scan is built.
 *
 * Every level gives the same answer for every input; the scans read only
 * inside [s, e) (AVX-512 with masked loads, the others with loads that end
 * at e), so a line may end at the last mapped byte.
 *
 * The environment variable SHARDFLOW_SIMD (scalar, sse2, avx2, avx512; any
 * other value is ignored) caps the level for the whole process, and
 * sf_jsonscan_force() does the same for tests, so that every level can be
 * checked on one machine.
 */
#ifndef SF_JSONSCAN_H
#define SF_JSONSCAN_H

#include <stddef.h>

typedef enum sf_simd_level {
    SF_SIMD_SCALAR = 0, /* 8 bytes at a time in a uint64_t */
    SF_SIMD_SSE2,
    SF_SIMD_AVX2,
    SF_SIMD_AVX512 /* AVX-512F + BW */
} sf_simd_level;

/* A scan of [s, e): the first byte that is '"', '\\', below 0x20 or at or
 * above 0x80, or e when there is none. Cannot fail. */
typedef const unsigned char *(*sf_jsonscan_fn)(const unsigned char *s, const unsigned char *e);

/* The scan one byte at a time: the tail every level ends with. */
static inline const unsigned char *sf_jsonscan_bytes(const unsigned char *s,
                                                     const unsigned char *e)
{
    while (s < e && *s != '"' && *s != '\\' && *s >= 0x20 && *s < 0x80)
        s++;
    return s;
}

/* The level decoders made now use: the best this CPU supports, capped by
 * SHARDFLOW_SIMD (read once) and by sf_jsonscan_force(). Cannot fail. */
sf_simd_level sf_jsonscan_level(void);

/* Caps the level of decoders made from now on at want (tests; -1 lifts the
 * cap) and returns the level they will use: want itself when the CPU
 * supports it, else the best below it. Not thread-safe: call it before
 * making decoders. */
sf_simd_level sf_jsonscan_force(int want);

/* "scalar", "sse2", "avx2" or "avx512". */
const char *sf_simd_level_name(sf_simd_level level);

/* The scan for strings at level: a function for AVX2 and AVX-512, which
 * the caller uses once a string has run past its first 16 bytes, NULL for
 * SSE2 and scalar, whose loops the decoder inlines. Cannot fail. */
sf_jsonscan_fn sf_jsonscan_plain_fn(sf_simd_level level);

#endif

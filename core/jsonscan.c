/* jsonscan.c - vectorized byte scans of JSON text (see jsonscan.h).
 *
 * The AVX2 and AVX-512 functions are compiled for their instruction sets
 * with target attributes whatever the build's -march, and are only called
 * after the CPU (and the OS, which must save the wider registers: libgcc's
 * __builtin_cpu_supports checks XGETBV) said it supports them.
 *
 * Class test, all levels: a byte stops the scan when it is '"' or '\\', or
 * when it is below 0x20 as a signed byte, which holds for the control
 * bytes and for every byte at or above 0x80.
 */
#include "core/jsonscan.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define SF_X86 1
#include <immintrin.h>
#endif

static int forced = -1; /* sf_jsonscan_force()'s cap; -1: none */

const char *sf_simd_level_name(sf_simd_level level)
{
    switch (level) {
    case SF_SIMD_SCALAR: return "scalar";
    case SF_SIMD_SSE2: return "sse2";
    case SF_SIMD_AVX2: return "avx2";
    case SF_SIMD_AVX512: return "avx512";
    }
    return "unknown";
}

static sf_simd_level cpu_level(void)
{
#ifdef SF_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw"))
        return SF_SIMD_AVX512;
    if (__builtin_cpu_supports("avx2"))
        return SF_SIMD_AVX2;
#endif
#if defined(__SSE2__)
    return SF_SIMD_SSE2;
#else
    return SF_SIMD_SCALAR;
#endif
}

/* The cap SHARDFLOW_SIMD sets, or the best level when it is unset or unknown. */
static sf_simd_level env_cap(void)
{
    const char *v = getenv("SHARDFLOW_SIMD");
    for (int l = SF_SIMD_SCALAR; v && l <= SF_SIMD_AVX512; l++)
        if (strcmp(v, sf_simd_level_name((sf_simd_level)l)) == 0)
            return (sf_simd_level)l;
    return SF_SIMD_AVX512;
}

static sf_simd_level capped(int cap)
{
    static int cpu = -1, env = -1;
    if (cpu < 0) {
        cpu = (int)cpu_level();
        env = (int)env_cap();
    }
    int l = cpu < env ? cpu : env;
    if (cap >= 0 && cap < l)
        l = cap;
    return (sf_simd_level)l;
}

sf_simd_level sf_jsonscan_level(void) { return capped(forced); }

sf_simd_level sf_jsonscan_force(int want)
{
    forced = want < 0 ? -1 : want;
    return capped(forced);
}

#ifdef SF_X86
__attribute__((target("avx2"))) static const unsigned char *plain_avx2(const unsigned char *s,
                                                                       const unsigned char *e)
{
    const unsigned char *const start = s;
    const __m256i quote = _mm256_set1_epi8('"'), bslash = _mm256_set1_epi8('\\');
    const __m256i space = _mm256_set1_epi8(' ');
#define STOPS(w)                                                                                  \
    _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(w, quote), _mm256_cmpeq_epi8(w, bslash)),   \
                    _mm256_cmpgt_epi8(space, w))
    while (e - s >= 64) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)s);
        __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(s + 32));
        uint64_t bits = (uint32_t)_mm256_movemask_epi8(STOPS(a)) |
                        (uint64_t)(uint32_t)_mm256_movemask_epi8(STOPS(b)) << 32;
        if (bits)
            return s + __builtin_ctzll(bits);
        s += 64;
    }
    if (e - s >= 32) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)s);
        uint32_t bits = (uint32_t)_mm256_movemask_epi8(STOPS(a));
        if (bits)
            return s + __builtin_ctz(bits);
        s += 32;
    }
    if (s < e && e - start >= 32) {
        /* The last 32 bytes, overlapping what was seen: no read past e. */
        __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)(e - 32));
        uint32_t bits = (uint32_t)_mm256_movemask_epi8(STOPS(a)) >> (32 - (e - s));
        return bits ? s + __builtin_ctz(bits) : e;
    }
#undef STOPS
    return sf_jsonscan_bytes(s, e);
}

__attribute__((target("avx512f,avx512bw"))) static const unsigned char *
plain_avx512(const unsigned char *s, const unsigned char *e)
{
    const __m512i quote = _mm512_set1_epi8('"'), bslash = _mm512_set1_epi8('\\');
    const __m512i space = _mm512_set1_epi8(' ');
    while (e - s >= 64) {
        __m512i w = _mm512_loadu_si512((const void *)s);
        __mmask64 m = _mm512_cmpeq_epi8_mask(w, quote) | _mm512_cmpeq_epi8_mask(w, bslash) |
                      _mm512_cmplt_epi8_mask(w, space);
        if (m)
            return s + __builtin_ctzll(m);
        s += 64;
    }
    if (s < e) {
        /* A masked load does not touch (or fault on) the bytes past e. */
        __mmask64 k = (1ull << (e - s)) - 1;
        __m512i w = _mm512_maskz_loadu_epi8(k, (const void *)s);
        __mmask64 m = _mm512_mask_cmpeq_epi8_mask(k, w, quote) |
                      _mm512_mask_cmpeq_epi8_mask(k, w, bslash) |
                      _mm512_mask_cmplt_epi8_mask(k, w, space);
        return m ? s + __builtin_ctzll(m) : e;
    }
    return e;
}
#endif

sf_jsonscan_fn sf_jsonscan_plain_fn(sf_simd_level level)
{
#ifdef SF_X86
    if (level >= SF_SIMD_AVX512)
        return plain_avx512;
    if (level == SF_SIMD_AVX2)
        return plain_avx2;
#else
    (void)level;
#endif
    return NULL;
}

/* xsum.h - exact, mergeable sums of doubles.
 *
 * An sf_xsum holds the exact sum of every double added so far as a list of
 * non-overlapping partials (Shewchuk), so adding in any order, or merging
 * sums built on different ranks, gives the same exact value, and
 * sf_xsum_round() returns that value correctly rounded: the same double as
 * Python's math.fsum over the same inputs. Infinities and NaNs are tracked
 * apart and dominate the result as IEEE addition would (inf + -inf = nan).
 * If the exact sum of finite inputs overflows, the result is +-inf.
 * Most sums need one to three partials; they live inline, more spill to the
 * heap, so sf_xsum_free() must be called on a sum that may have spilled.
 */
#ifndef SF_XSUM_H
#define SF_XSUM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SF_XSUM_INLINE 4

typedef struct sf_xsum {
    double inl[SF_XSUM_INLINE]; /* partials while n <= SF_XSUM_INLINE */
    double *heap;               /* partials when spilled, else NULL */
    uint32_t n;                 /* number of partials */
    uint32_t cap;               /* capacity of heap */
    double special;             /* IEEE sum of the inf/nan inputs */
    uint8_t has_special;
    uint8_t overflow;           /* a finite partial sum overflowed */
} sf_xsum;

/* An empty sum (value 0.0). Cannot fail. */
void sf_xsum_init(sf_xsum *s);

/* Adds x. Returns 0, or SF_E_NOMEM (s unchanged) if a spill failed. */
int sf_xsum_add(sf_xsum *s, double x);

/* Adds the exact value of src to dst. Returns 0 or SF_E_NOMEM. */
int sf_xsum_merge(sf_xsum *dst, const sf_xsum *src);

/* The exact sum correctly rounded to double (round-half-even). */
double sf_xsum_round(const sf_xsum *s);

/* Releases spilled partials; s is then an empty sum again. */
void sf_xsum_free(sf_xsum *s);

/* Serialized form: a self-delimiting little-endian byte string.
 * sf_xsum_serialized_size() is its length; sf_xsum_serialize() writes it to
 * out (which has room for that many bytes) and returns the length. */
size_t sf_xsum_serialized_size(const sf_xsum *s);
size_t sf_xsum_serialize(const sf_xsum *s, void *out);

/* Reads one serialized sum from in (at most avail bytes) and merges it into
 * dst; *used gets the bytes read. Returns 0, SF_E_PARSE on a truncated or
 * malformed input, or SF_E_NOMEM. */
int sf_xsum_merge_serialized(sf_xsum *dst, const void *in, size_t avail, size_t *used);

/* A compact exact sum: 16 bytes where an sf_xsum takes 64, for the group
 * states that hold one per group and are read at random (docs/performance.md,
 * "S4's compact exact sums").
 *
 * While every value added is a multiple of 2^-64 below 2^63 in magnitude
 * (about 2^-11 and up with a full mantissa: prices, amounts, durations) and
 * the running total stays inside 127 bits, the sum is kept as one two's
 * complement 128-bit integer scaled by 2^-64 (lo, hi): each add is an exact
 * shift and an integer add. The first value that does not fit (a tiny
 * fraction, a huge magnitude, an infinity or NaN, or a total that would
 * overflow) moves the sum to a heap sf_xsum (big) holding the same exact
 * value, and every later add goes there. Either way the value is exact, so
 * sf_xsumc_round() returns the same double as an sf_xsum fed the same
 * inputs. All-zero bytes are an empty sum; sf_xsumc_free() releases big.
 * The heap form is hi SF_XSUMC_HEAP with the sf_xsum's address in lo: the
 * integer form never has that hi (a total in [-2^127, -2^127 + 2^64) moves
 * to the heap form as an overflow does), so no third word tells them
 * apart. */
typedef struct sf_xsumc {
    uint64_t lo; /* low 64 bits of the scaled integer; heap form: its address */
    uint64_t hi; /* high 64 bits (two's complement), or SF_XSUMC_HEAP */
} sf_xsumc;

#define SF_XSUMC_HEAP 0x8000000000000000ull

/* The heap form of s (borrowed), or NULL while s is an integer. */
static inline sf_xsum *sf_xsumc_big(const sf_xsumc *s)
{
    return s->hi == SF_XSUMC_HEAP ? (sf_xsum *)(uintptr_t)s->lo : NULL;
}

/* Moves s to its heap form and adds x there (xsum.c). */
int sf_xsumc_add_slow(sf_xsumc *s, double x);

/* Adds x. Returns 0, or SF_E_NOMEM (s unchanged) if the heap form failed. */
static inline int sf_xsumc_add(sf_xsumc *s, double x)
{
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    /* 0.0 and -0.0 leave a compact sum as it is: tested first, the common
     * case of a derived "price or 0" skips the exponent and shift work. */
    if ((b << 1) == 0 && s->hi != SF_XSUMC_HEAP)
        return 0;
    unsigned e = (unsigned)(b >> 52) & 0x7ffu;
    uint64_t m = b & 0xfffffffffffffull;
    if (s->hi == SF_XSUMC_HEAP || e == 0x7ffu)
        return sf_xsumc_add_slow(s, x);
    if (e)
        m |= 1ull << 52;
    else
        e = 1; /* subnormal */
    /* x * 2^64 = m * 2^(e - 1011) */
    int sh = (int)e - 1011;
    unsigned __int128 t;
    if (sh >= 0) {
        if (sh > 74) /* past 2^127 */
            return sf_xsumc_add_slow(s, x);
        t = (unsigned __int128)m << sh;
    } else {
        if (sh < -63 ? m != 0 : (m & ((1ull << -sh) - 1)) != 0)
            return m ? sf_xsumc_add_slow(s, x) : 0;
        t = sh < -63 ? 0 : m >> -sh;
    }
    __int128 v = (__int128)t;
    if (b >> 63)
        v = -v;
    __int128 cur = (__int128)(((unsigned __int128)s->hi << 64) | s->lo);
    __int128 sum;
    if (__builtin_add_overflow(cur, v, &sum) ||
        (uint64_t)((unsigned __int128)sum >> 64) == SF_XSUMC_HEAP)
        return sf_xsumc_add_slow(s, x);
    s->lo = (uint64_t)sum;
    s->hi = (uint64_t)((unsigned __int128)sum >> 64);
    return 0;
}

/* 1 and *v the scaled integer (the sum is *v * 2^-64) while s is in its
 * integer form, else 0. */
static inline int sf_xsumc_get_int(const sf_xsumc *s, __int128 *v)
{
    if (s->hi == SF_XSUMC_HEAP)
        return 0;
    *v = (__int128)(((unsigned __int128)s->hi << 64) | s->lo);
    return 1;
}

/* Adds v * 2^-64 exactly (another compact sum's integer). Returns 0 or
 * SF_E_NOMEM (s unchanged). */
int sf_xsumc_add_int(sf_xsumc *s, __int128 v);

/* The exact sum correctly rounded to double, as sf_xsum_round(). */
double sf_xsumc_round(const sf_xsumc *s);

/* Releases the heap form; s is then an empty sum again. */
void sf_xsumc_free(sf_xsumc *s);

/* The serialized form of an sf_xsum holding the same value (so a record
 * written from either merges into either). */
size_t sf_xsumc_serialized_size(const sf_xsumc *s);
size_t sf_xsumc_serialize(const sf_xsumc *s, void *out);

/* As sf_xsum_merge_serialized(), into a compact sum. */
int sf_xsumc_merge_serialized(sf_xsumc *dst, const void *in, size_t avail, size_t *used);

#endif

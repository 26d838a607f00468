/* xsum.c - exact, mergeable sums of doubles (Shewchuk partials, as behind
 * Python's math.fsum).
 *
 * Invariants a maintainer must keep:
 * - The partials p[0..n) are finite, nonzero, non-overlapping and ordered by
 *   increasing magnitude; their exact (unrounded) sum is the exact sum of all
 *   finite inputs. Every step below relies on IEEE double arithmetic with
 *   round-half-even and no excess precision (hence the FLT_EVAL_METHOD check)
 *   and no value-changing optimisations such as -ffast-math.
 * - Partials live in heap whenever heap != NULL, otherwise in inl. Once a
 *   sum has spilled it stays on the heap until sf_xsum_free(), so a count
 *   that hovers around SF_XSUM_INLINE does not move them back and forth.
 * - has_special means the result is fixed to special: an infinity or NaN
 *   was added (special is their IEEE sum), or the finite part overflowed.
 *   Finite values cannot change such a result, so they are ignored from
 *   then on and the partials are dropped.
 * - All-zero bytes are an empty sum (sf_xsum_init only zeroes), so a zeroed
 *   block, such as a new hash-map value, holds a valid sum without init.
 *
 * Overflow: a partial cannot hold a magnitude above DBL_MAX. When a running
 * sum of finite inputs overflows, the sum saturates: overflow is set and an
 * infinity with the sign of the overflowing (dominant) partial joins
 * special, exactly as if that infinity had been an input, so a later -inf
 * input gives NaN like IEEE addition would. Saturation is the one place where
 * order matters: [1e308, 1e308, -1e308] gives inf, [1e308, -1e308, 1e308]
 * gives 1e308 (Python's fsum raises OverflowError for the first).
 * Python's fsum raises ValueError for inf + -inf; here that is NaN.
 *
 * Serialized form (little-endian, self-delimiting):
 *   u32 count, u8 flags (bit 0 has_special, bit 1 overflow),
 *   f64 special (only if has_special), count x f64 partials.
 */
#include "core/xsum.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#if !defined(FLT_EVAL_METHOD) || FLT_EVAL_METHOD != 0
#error "xsum.c needs doubles evaluated in double precision (FLT_EVAL_METHOD 0)"
#endif

#define XSUM_F_SPECIAL 0x01u
#define XSUM_F_OVERFLOW 0x02u
#define XSUM_HDR 5u /* u32 count + u8 flags */

void sf_xsum_init(sf_xsum *s)
{
    memset(s, 0, sizeof *s);
    s->special = 0.0;
}

static double *xsum_parts(sf_xsum *s)
{
    return s->heap ? s->heap : s->inl;
}

static uint32_t xsum_capacity(const sf_xsum *s)
{
    return s->heap ? s->cap : SF_XSUM_INLINE;
}

/* Makes room for need partials, keeping the current ones. On failure s is
 * unchanged. */
static int xsum_reserve(sf_xsum *s, uint64_t need)
{
    if (need <= xsum_capacity(s))
        return 0;
    if (need > UINT32_MAX / 2)
        return SF_E_NOMEM;
    uint32_t cap = s->heap ? s->cap * 2 : SF_XSUM_INLINE * 2;
    if (cap < need)
        cap = (uint32_t)need;
    if (!s->heap) {
        double *h = malloc((size_t)cap * sizeof *h);
        if (!h)
            return SF_E_NOMEM;
        memcpy(h, s->inl, (size_t)s->n * sizeof *h);
        s->heap = h;
    } else {
        double *h = realloc(s->heap, (size_t)cap * sizeof *h);
        if (!h)
            return SF_E_NOMEM;
        s->heap = h;
    }
    s->cap = cap;
    return 0;
}

/* Fixes the result to v (an infinity or NaN) combined with any earlier
 * special value by IEEE addition. */
static void xsum_add_special(sf_xsum *s, double v)
{
    s->special = s->has_special ? s->special + v : v;
    s->has_special = 1;
    s->n = 0;
}

/* One msum step: folds the finite x into the partials p[0..n) and writes the
 * new partials to out, which may be p itself (each write goes to an index no
 * greater than the one just read) and has room for n + 1. Returns the new
 * count. If the running sum overflowed, the last partial written is an
 * infinity of the overflowing sign (earlier ones are then meaningless). */
static uint32_t xsum_step(const double *p, uint32_t n, double x, double *out)
{
    uint32_t i = 0;
    for (uint32_t j = 0; j < n; j++) {
        double y = p[j];
        if (fabs(x) < fabs(y)) {
            double t = x;
            x = y;
            y = t;
        }
        double hi = x + y;
        double lo = y - (hi - x); /* exact: |x| >= |y| (Dekker's fast two-sum) */
        if (lo != 0.0)
            out[i++] = lo;
        x = hi;
    }
    if (x != 0.0)
        out[i++] = x;
    return i;
}

static int xsum_overflowed(const double *out, uint32_t m)
{
    return m > 0 && !isfinite(out[m - 1]);
}

static void xsum_saturate(sf_xsum *s, double inf)
{
    s->overflow = 1;
    xsum_add_special(s, inf);
}

int sf_xsum_add(sf_xsum *s, double x)
{
    if (!isfinite(x)) {
        xsum_add_special(s, x);
        return 0;
    }
    if (s->has_special || x == 0.0)
        return 0;
    uint32_t n = s->n;
    if (!s->heap && n == SF_XSUM_INLINE) {
        /* Full inline: work on a copy so that a failed spill leaves s as it
         * was, and spill only if the result really needs the room. */
        double tmp[SF_XSUM_INLINE + 1];
        uint32_t m = xsum_step(s->inl, n, x, tmp);
        if (xsum_overflowed(tmp, m)) {
            xsum_saturate(s, tmp[m - 1]);
            return 0;
        }
        if (m > SF_XSUM_INLINE && xsum_reserve(s, m) != 0)
            return SF_E_NOMEM;
        memcpy(xsum_parts(s), tmp, (size_t)m * sizeof tmp[0]);
        s->n = m;
        return 0;
    }
    if (n == xsum_capacity(s) && xsum_reserve(s, (uint64_t)n + 1) != 0)
        return SF_E_NOMEM;
    double *p = xsum_parts(s);
    uint32_t m = xsum_step(p, n, x, p);
    if (xsum_overflowed(p, m)) {
        xsum_saturate(s, p[m - 1]);
        return 0;
    }
    s->n = m;
    return 0;
}

/* Merging adds k partials one by one. To keep a failed merge from leaving
 * half of them in dst, a sum already on the heap reserves the worst case up
 * front (each add grows the count by at most one), and an inline sum, which
 * only spills when it must, is restored from a copy if a spill fails. */
static int xsum_merge_begin(sf_xsum *dst, uint32_t k, sf_xsum *saved)
{
    if (dst->heap && xsum_reserve(dst, (uint64_t)dst->n + k) != 0)
        return SF_E_NOMEM;
    *saved = *dst;
    return 0;
}

static void xsum_merge_abort(sf_xsum *dst, const sf_xsum *saved)
{
    if (!saved->heap)
        free(dst->heap);
    *dst = *saved;
}

/* Doubling a sum scales every partial by two, which is exact and keeps them
 * non-overlapping; only the largest can overflow. */
static void xsum_double(sf_xsum *s)
{
    if (s->has_special) {
        s->special += s->special;
        return;
    }
    double *p = xsum_parts(s);
    for (uint32_t i = 0; i < s->n; i++)
        p[i] *= 2.0;
    if (xsum_overflowed(p, s->n))
        xsum_saturate(s, p[s->n - 1]);
}

int sf_xsum_merge(sf_xsum *dst, const sf_xsum *src)
{
    if (dst == src) {
        xsum_double(dst);
        return 0;
    }
    if (src->has_special) {
        if (src->overflow)
            dst->overflow = 1;
        xsum_add_special(dst, src->special);
        return 0;
    }
    if (dst->has_special || src->n == 0)
        return 0;
    const double *p = src->heap ? src->heap : src->inl;
    uint32_t k = src->n;
    sf_xsum saved;
    if (xsum_merge_begin(dst, k, &saved) != 0)
        return SF_E_NOMEM;
    for (uint32_t i = 0; i < k; i++) {
        if (sf_xsum_add(dst, p[i]) != 0) {
            xsum_merge_abort(dst, &saved);
            return SF_E_NOMEM;
        }
    }
    return 0;
}

double sf_xsum_round(const sf_xsum *s)
{
    if (s->has_special)
        return s->special;
    const double *p = s->heap ? s->heap : s->inl;
    uint32_t n = s->n;
    if (n == 0)
        return 0.0;
    /* Add from the top while the additions are exact; the first inexact one
     * gives the rounded value hi and its error lo. */
    double hi = p[--n];
    double lo = 0.0;
    while (n > 0) {
        double x = hi;
        double y = p[--n];
        hi = x + y;
        lo = y - (hi - x);
        if (lo != 0.0)
            break;
    }
    /* hi + lo was rounded half-even as if nothing lay below lo. If the
     * partials still below push the same way as lo, the true value is past
     * the halfway point, so a tie that went toward hi must go the other way:
     * hi + 2*lo is exactly the neighbouring double in that case. */
    if (n > 0 && ((lo < 0.0 && p[n - 1] < 0.0) || (lo > 0.0 && p[n - 1] > 0.0))) {
        double y = lo * 2.0;
        double x = hi + y;
        if (y == x - hi)
            hi = x;
    }
    return hi;
}

void sf_xsum_free(sf_xsum *s)
{
    free(s->heap);
    sf_xsum_init(s);
}

static void put_u32(unsigned char *o, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        o[i] = (unsigned char)(v >> (8 * i));
}

static void put_f64(unsigned char *o, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    for (int i = 0; i < 8; i++)
        o[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *in)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)in[i] << (8 * i);
    return v;
}

static double get_f64(const unsigned char *in)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)in[i] << (8 * i);
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}

size_t sf_xsum_serialized_size(const sf_xsum *s)
{
    return XSUM_HDR + (s->has_special ? 8u : 0u) + (size_t)s->n * 8u;
}

size_t sf_xsum_serialize(const sf_xsum *s, void *out)
{
    unsigned char *o = out;
    unsigned flags = (s->has_special ? XSUM_F_SPECIAL : 0u) | (s->overflow ? XSUM_F_OVERFLOW : 0u);
    put_u32(o, s->n);
    o[4] = (unsigned char)flags;
    size_t at = XSUM_HDR;
    if (s->has_special) {
        put_f64(o + at, s->special);
        at += 8;
    }
    const double *p = s->heap ? s->heap : s->inl;
    for (uint32_t i = 0; i < s->n; i++, at += 8)
        put_f64(o + at, p[i]);
    return at;
}

int sf_xsum_merge_serialized(sf_xsum *dst, const void *in, size_t avail, size_t *used)
{
    const unsigned char *b = in;
    if (used)
        *used = 0;
    if (avail < XSUM_HDR)
        return SF_E_PARSE;
    uint32_t count = get_u32(b);
    unsigned flags = b[4];
    if (flags & ~(XSUM_F_SPECIAL | XSUM_F_OVERFLOW))
        return SF_E_PARSE;
    int special = (flags & XSUM_F_SPECIAL) != 0;
    /* Overflow always turns into a special value, and a special value drops
     * the partials, so any other combination was not written by us. */
    if ((flags & XSUM_F_OVERFLOW) && !special)
        return SF_E_PARSE;
    if (special && count != 0)
        return SF_E_PARSE;
    uint64_t need = XSUM_HDR + (special ? 8u : 0u) + (uint64_t)count * 8u;
    if (need > avail)
        return SF_E_PARSE;
    const unsigned char *parts = b + XSUM_HDR;
    if (special) {
        double v = get_f64(b + XSUM_HDR);
        if (isfinite(v))
            return SF_E_PARSE;
        if (flags & XSUM_F_OVERFLOW)
            dst->overflow = 1;
        xsum_add_special(dst, v);
        if (used)
            *used = (size_t)need;
        return 0;
    }
    for (uint32_t i = 0; i < count; i++) {
        if (!isfinite(get_f64(parts + (size_t)i * 8)))
            return SF_E_PARSE;
    }
    if (!dst->has_special && count > 0) {
        sf_xsum saved;
        if (xsum_merge_begin(dst, count, &saved) != 0)
            return SF_E_NOMEM;
        for (uint32_t i = 0; i < count; i++) {
            if (sf_xsum_add(dst, get_f64(parts + (size_t)i * 8)) != 0) {
                xsum_merge_abort(dst, &saved);
                return SF_E_NOMEM;
            }
        }
    }
    if (used)
        *used = (size_t)need;
    return 0;
}

/* The compact sum's integer as an sf_xsum: v * 2^-64 split into three parts
 * of at most 43 bits (each exact as a double, and exactly scaled). */
static void xsumc_expand(const sf_xsumc *s, sf_xsum *out)
{
    sf_xsum_init(out);
    __int128 v = (__int128)(((unsigned __int128)s->hi << 64) | s->lo);
    const __int128 mask = ((__int128)1 << 42) - 1;
    double l = (double)(int64_t)(v & mask);
    double m = (double)(int64_t)((v >> 42) & mask);
    double h = (double)(int64_t)(v >> 84);
    /* At most three partials: stays inline, cannot fail. The scalings are
     * by powers of two, exact. */
    (void)sf_xsum_add(out, h * 0x1p20);
    (void)sf_xsum_add(out, m * 0x1p-22);
    (void)sf_xsum_add(out, l * 0x1p-64);
}

/* A heap sf_xsum holding s's integer (the heap form's start), or NULL. */
static sf_xsum *xsumc_heap_of(const sf_xsumc *s)
{
    sf_xsum *b = malloc(sizeof *b);
    if (b)
        xsumc_expand(s, b);
    return b;
}

/* Frees a heap sf_xsum that did not become s's (its merge failed), passing
 * rc on. */
static int xsumc_heap_drop(sf_xsum *b, int rc)
{
    sf_xsum_free(b);
    free(b);
    return rc;
}

/* s takes b as its heap form. */
static int xsumc_heap_adopt(sf_xsumc *s, sf_xsum *b)
{
    s->lo = (uint64_t)(uintptr_t)b;
    s->hi = SF_XSUMC_HEAP;
    return 0;
}

int sf_xsumc_add_slow(sf_xsumc *s, double x)
{
    if (sf_xsumc_big(s))
        return sf_xsum_add(sf_xsumc_big(s), x);
    sf_xsum *b = xsumc_heap_of(s);
    if (!b)
        return SF_E_NOMEM;
    if (sf_xsum_add(b, x) != 0)
        return xsumc_heap_drop(b, SF_E_NOMEM);
    return xsumc_heap_adopt(s, b);
}

int sf_xsumc_add_int(sf_xsumc *s, __int128 v)
{
    __int128 cur, sum;
    if (sf_xsumc_get_int(s, &cur) && !__builtin_add_overflow(cur, v, &sum) &&
        (uint64_t)((unsigned __int128)sum >> 64) != SF_XSUMC_HEAP) {
        s->lo = (uint64_t)sum;
        s->hi = (uint64_t)((unsigned __int128)sum >> 64);
        return 0;
    }
    sf_xsumc t = {(uint64_t)v, (uint64_t)((unsigned __int128)v >> 64)};
    sf_xsum parts;
    xsumc_expand(&t, &parts);
    if (sf_xsumc_big(s))
        return sf_xsum_merge(sf_xsumc_big(s), &parts);
    sf_xsum *b = xsumc_heap_of(s);
    if (!b)
        return SF_E_NOMEM;
    if (sf_xsum_merge(b, &parts) != 0)
        return xsumc_heap_drop(b, SF_E_NOMEM);
    return xsumc_heap_adopt(s, b);
}

double sf_xsumc_round(const sf_xsumc *s)
{
    if (sf_xsumc_big(s))
        return sf_xsum_round(sf_xsumc_big(s));
    __int128 v = (__int128)(((unsigned __int128)s->hi << 64) | s->lo);
    unsigned __int128 u = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
    if (u == 0)
        return 0.0;
    /* The top 53 bits of |v|, rounded half-even by the bits below them. */
    uint64_t top = (uint64_t)(u >> 64);
    int nb = top ? 128 - __builtin_clzll(top) : 64 - __builtin_clzll((uint64_t)u);
    int shift = nb > 53 ? nb - 53 : 0;
    uint64_t mant = (uint64_t)(u >> shift);
    if (shift > 0) {
        unsigned __int128 rem = u & (((unsigned __int128)1 << shift) - 1);
        unsigned __int128 half = (unsigned __int128)1 << (shift - 1);
        if (rem > half || (rem == half && (mant & 1u)))
            mant++; /* may reach 2^53: still exact */
    }
    /* mant * 2^(shift - 64), shift - 64 in [-64, 10]: a normal power of two. */
    uint64_t pb = (uint64_t)(1023 + shift - 64) << 52;
    double p2;
    memcpy(&p2, &pb, sizeof p2);
    double r = (double)mant * p2;
    return v < 0 ? -r : r;
}

void sf_xsumc_free(sf_xsumc *s)
{
    sf_xsum *big = sf_xsumc_big(s);
    if (big) {
        sf_xsum_free(big);
        free(big);
    }
    memset(s, 0, sizeof *s);
}

size_t sf_xsumc_serialized_size(const sf_xsumc *s)
{
    if (sf_xsumc_big(s))
        return sf_xsum_serialized_size(sf_xsumc_big(s));
    sf_xsum t;
    xsumc_expand(s, &t);
    return sf_xsum_serialized_size(&t);
}

size_t sf_xsumc_serialize(const sf_xsumc *s, void *out)
{
    if (sf_xsumc_big(s))
        return sf_xsum_serialize(sf_xsumc_big(s), out);
    sf_xsum t;
    xsumc_expand(s, &t);
    return sf_xsum_serialize(&t, out);
}

int sf_xsumc_merge_serialized(sf_xsumc *dst, const void *in, size_t avail, size_t *used)
{
    if (sf_xsumc_big(dst))
        return sf_xsum_merge_serialized(sf_xsumc_big(dst), in, avail, used);
    /* Merged into a copy first: a malformed or failed record leaves dst as
     * it was, and a value the integer cannot hold moves dst to its heap
     * form with the merged copy. */
    sf_xsumc c = *dst;
    const unsigned char *b = in;
    if (used)
        *used = 0;
    if (avail < XSUM_HDR)
        return SF_E_PARSE;
    uint32_t count = get_u32(b);
    int plain = b[4] == 0 && count <= SF_XSUM_INLINE && XSUM_HDR + (size_t)count * 8u <= avail;
    for (uint32_t i = 0; plain && i < count; i++) {
        double x = get_f64(b + XSUM_HDR + (size_t)i * 8);
        if (!isfinite(x))
            return SF_E_PARSE;
        int rc = sf_xsumc_add(&c, x);
        if (rc)
            return rc; /* c is as before the failed add: still integer */
        if (sf_xsumc_big(&c))
            plain = 0; /* left the integer form: merge the record whole below */
    }
    if (plain) {
        *dst = c;
        if (used)
            *used = XSUM_HDR + (size_t)count * 8u;
        return 0;
    }
    if (sf_xsumc_big(&c))
        sf_xsumc_free(&c);
    sf_xsum *big = xsumc_heap_of(dst);
    if (!big)
        return SF_E_NOMEM;
    int rc = sf_xsum_merge_serialized(big, in, avail, used);
    return rc ? xsumc_heap_drop(big, rc) : xsumc_heap_adopt(dst, big);
}

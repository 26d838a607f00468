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

#endif

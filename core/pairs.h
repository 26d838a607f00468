/* pairs.h - distinct (group, value) pairs of count_distinct aggregates,
 * counted per group: the table a rank keeps for the pairs routed to it
 * when a group's values are spread over ranks.
 *
 * A group here is a dense id (gid) that every rank agrees on, and each
 * pair also names its aggregate (agg, an index among the job's
 * count_distinct aggregates), so one table serves them all. A value of a
 * fixed-width type (int64, double, date, timestamp, bool) is stored as its
 * 64 identity bits (sf_pairs_value_bits: -0.0 and 0.0 are one value, every
 * NaN is one value); a string is interned first into a dictionary of this
 * table (dense ids that never leave it). Pairs sit in one flat
 * open-addressing table of 16-byte slots, no allocation per pair, and a
 * pair is counted for its (gid, agg) the first time it is added, so the
 * counts are exact for the pairs this table saw.
 *
 * Where a pair goes is decided by sf_pairs_hash(), the same on every rank:
 * the group key's hash, the aggregate and the value's identity (a string's
 * bytes, not its id). Pairs travel as records (sf_pairs_encode/_decode).
 * Pure computation: no MPI, no I/O.
 */
#ifndef SF_PAIRS_H
#define SF_PAIRS_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/value.h"

typedef struct sf_pairs sf_pairs;

/* New empty table for ngroups group ids and naggs aggregates; types[a] is
 * aggregate a's argument type (copied). Returns NULL when out of memory or
 * when ngroups * naggs overflows. */
sf_pairs *sf_pairs_new(size_t ngroups, const sf_type *types, size_t naggs);

/* Frees p; NULL is a no-op. */
void sf_pairs_free(sf_pairs *p);

/* Adds the pair (gid, agg, v); a NULL value is ignored. *added (may be
 * NULL) says whether the pair was new. Returns 0, SF_E_INVAL for a gid or
 * agg out of range or a value of another type than agg's, or SF_E_NOMEM
 * (the table is unchanged). */
int sf_pairs_add(sf_pairs *p, uint32_t gid, uint32_t agg, const sf_value *v, int *added);

/* Distinct pairs of (gid, agg) added so far. Cannot fail (0 out of range). */
uint64_t sf_pairs_count(const sf_pairs *p, uint32_t gid, uint32_t agg);

/* Distinct pairs held, over all groups and aggregates. Cannot fail. */
uint64_t sf_pairs_size(const sf_pairs *p);

/* Bytes of memory held. Cannot fail. */
size_t sf_pairs_memory(const sf_pairs *p);

/* Calls fn(ctx, gid, agg, value) for every pair held, in slot order (a
 * string value is borrowed from p until it is freed). Stops at and
 * returns fn's first non-zero return value; else 0. */
typedef int (*sf_pairs_fn)(void *ctx, uint32_t gid, uint32_t agg, const sf_value *v);
int sf_pairs_each(const sf_pairs *p, sf_pairs_fn fn, void *ctx);

/* The routing hash of a pair of aggregate agg, whose argument type is t:
 * the same on every rank and run for the same group key hash, aggregate
 * and value identity (as sf_pairs_value_bits sees it for fixed types).
 * Cannot fail. */
uint64_t sf_pairs_hash(uint64_t group_hash, uint32_t agg, sf_type t, const sf_value *v);

/* The 64 bits that identify a fixed-width value for a distinct set of type
 * t (an int64 set also takes a double, a double set an int64), and the
 * value back from them. Cannot fail. */
uint64_t sf_pairs_value_bits(sf_type t, const sf_value *v);
sf_value sf_pairs_bits_value(sf_type t, uint64_t bits);

/* Appends the record of pair (gid, agg, v) to out. Returns 0 or
 * SF_E_NOMEM. */
int sf_pairs_encode(sf_buf *out, uint32_t gid, uint32_t agg, const sf_value *v);

/* Reads one record of len bytes; a string value is borrowed from rec.
 * Returns 0, or SF_E_PARSE when rec is not exactly one record. */
int sf_pairs_decode(const unsigned char *rec, size_t len, uint32_t *gid, uint32_t *agg,
                    sf_value *v);

#endif

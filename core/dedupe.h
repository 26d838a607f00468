/* dedupe.h - keep the first row per key: the table behind a job's
 * {"dedupe": [cols], "keep": "first"} step.
 *
 * Rows are offered with their key (the encoded dedupe columns), their
 * ordinal (where the row stands in the input: file, chunk, byte offset of
 * its line, row within an exploded line; compared lexicographically) and
 * the record the rest of the pipeline needs. The table keeps, per key, the
 * record with the smallest ordinal seen so far, whatever order rows arrive
 * in, so rows shipped from many ranks give the same survivors as one pass
 * in input order. Memory: one entry per distinct key (key, ordinal, record)
 * in the table's arena; a record displaced by an earlier one is
 * overwritten in place when the newcomer fits, else left in the arena.
 */
#ifndef SF_DEDUPE_H
#define SF_DEDUPE_H

#include <stddef.h>
#include <stdint.h>

typedef struct sf_dedupe_ord {
    uint64_t file, chunk, offset, row;
} sf_dedupe_ord;

typedef struct sf_dedupe sf_dedupe;

/* What sf_dedupe_offer() did with a row. */
enum {
    SF_DEDUPE_NEW = 0,      /* first row of its key: kept */
    SF_DEDUPE_REPLACED = 1, /* earlier than the kept row, which is dropped */
    SF_DEDUPE_DROPPED = 2   /* later than (or the same as) the kept row: dropped */
};

/* New empty table, or NULL when out of memory. */
sf_dedupe *sf_dedupe_new(void);

/* Frees t and everything in it; NULL is a no-op. */
void sf_dedupe_free(sf_dedupe *t);

/* Offers a row: key (klen bytes) with hash (sf_hash_bytes of the key with
 * SF_KEY_HASH_SEED), ordinal ord, record rec (len bytes, copied when kept)
 * and a caller's tag kept with it. Returns SF_DEDUPE_NEW / _REPLACED /
 * _DROPPED, or SF_E_NOMEM (the table unchanged). For _REPLACED, *old_tag
 * (may be NULL) gets the dropped row's tag. */
int sf_dedupe_offer(sf_dedupe *t, const void *key, size_t klen, uint64_t hash,
                    const sf_dedupe_ord *ord, const void *rec, size_t len, int tag,
                    int *old_tag);

/* Number of keys (= rows kept). */
size_t sf_dedupe_count(const sf_dedupe *t);

/* Kept row i (0 <= i < count, in order of first arrival of its key): its
 * record (borrowed until sf_dedupe_free), length, ordinal and tag; any
 * out pointer may be NULL. */
void sf_dedupe_entry(const sf_dedupe *t, size_t i, const void **rec, size_t *len,
                     sf_dedupe_ord *ord, int *tag);

/* The hash of kept row i's key (as given to sf_dedupe_offer). Cannot
 * fail. */
uint64_t sf_dedupe_hash(const sf_dedupe *t, size_t i);

/* Bytes of memory held. */
size_t sf_dedupe_memory(const sf_dedupe *t);

#endif

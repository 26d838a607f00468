/* keycache.h - fixed-width group keys: a short tuple of words standing for
 * a group key, mapped to the group's index in its table (core/groups).
 *
 * When every group-by value of a row is fixed-width (int64, date, bool,
 * timestamp, double) or a string with a dense id (from a dimension table,
 * core/join, or for a string of the line itself from the pipeline's own
 * dictionary of that column), the pipeline builds the key as words: one
 * word of type tags, then one word per column. Finding the group then
 * hashes and compares those words instead of encoding the values
 * (sf_value_encode), hashing the bytes and comparing them again in the
 * group table. The cache only ever answers for tuples it was given: a
 * miss goes the long way (the encoded key, which stays the group's key
 * everywhere: export, spill, shuffle) and adds the tuple with the group it
 * found. What a tuple maps to is the caller's word: the group's handle
 * (core/groups).
 * Invariant the caller keeps: equal tuples stand for equal encoded keys
 * (a string slot's ids all come from one dimension column, or from one
 * dictionary of that slot's strings).
 * The cache holds at most max_entries tuples: past that, add says so and
 * the caller drops the cache (groups many enough to leave the caches gain
 * nothing from it, and it would cost memory per group).
 */
#ifndef SF_KEYCACHE_H
#define SF_KEYCACHE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "core/value.h"

/* Columns a fixed-width key can hold (4 bits of type tag each in word 0). */
#define SF_KEYCACHE_MAX_COLS 15

typedef struct sf_keycache sf_keycache;

/* New empty cache of tuples of nwords words (2 .. SF_KEYCACHE_MAX_COLS +
 * 1), at most max_entries of them. NULL when out of memory or nwords is
 * out of range. */
sf_keycache *sf_keycache_new(size_t nwords, size_t max_entries);

/* Frees c; NULL is a no-op. */
void sf_keycache_free(sf_keycache *c);

/* sf_keycache_find's first try alone (the direct array of a key of up to
 * three columns): 1 with the group in *group, 0 when it cannot answer (then
 * call sf_keycache_find). For a hot loop that has nothing to do on a miss
 * but the general path. Cannot fail. */
int sf_keycache_find_direct(const sf_keycache *c, const sf_value *row, const uint32_t *ids,
                            const int *slots, size_t n, uint64_t *group);

/* sf_keycache_find_direct laid out once for rows that always lie at one
 * place (a pipeline's row and ids arrays): each column's type byte and
 * value word are read through pointers of its own, masked as the array's
 * type for the column says, so a lookup neither reads the slots nor tests
 * the cache's state. Filled by sf_keycache_direct_prepare; valid while
 * the row and ids arrays live and until the next sf_keycache_add or
 * sf_keycache_clear (either may rebuild the array). */
typedef struct sf_keycache_direct {
    const uint8_t *type[3]; /* &row[slot].type */
    const void *word[3];    /* &row[slot].u, or &ids[slot] for a string: 8 bytes read */
    uint64_t mask[3];       /* of the word's bytes, the value's */
    uint64_t base[3];
    uint64_t tag[3];        /* the type the array holds */
    unsigned bits[3], shift[3];
    const uint64_t *cells;
} sf_keycache_direct;

/* Fills *d for keys of row's values at slots (n of them, n <= 3) read
 * from row and ids as they will be at each lookup; ids must have an entry
 * after each slot (8 bytes are read at a string's id). Returns 1 when the
 * direct array can answer, 0 when it cannot (none now, a key of other
 * types or width): then use sf_keycache_find. Cannot fail. */
int sf_keycache_direct_prepare(const sf_keycache *c, const sf_value *row, const uint32_t *ids,
                               const int *slots, size_t n, sf_keycache_direct *d);

/* sf_keycache_find_direct through d (prepared, valid): 1 with the group
 * in *group, 0 when the direct array does not hold the row's key. Cannot
 * fail. */
static inline int sf_keycache_direct_find(const sf_keycache_direct *d, uint64_t *group)
{
    uint64_t bad = 0;
    size_t idx = 0;
    for (int i = 0; i < 3; i++) {
        uint64_t x;
        memcpy(&x, d->word[i], sizeof x);
        uint64_t v = (x & d->mask[i]) - d->base[i];
        bad |= (*d->type[i] ^ d->tag[i]) | v >> d->bits[i];
        idx |= (size_t)v << d->shift[i];
    }
    if (bad)
        return 0;
    uint64_t g = d->cells[idx];
    *group = g - 1;
    return g != 0;
}

/* Finds the group of row's values at slots (n of them, n + 1 being the
 * cache's nwords; w has room for SF_KEYCACHE_MAX_COLS + 1) as a tuple:
 * w[0] the type tags, w[1 + i] the bits of value i, a string's being
 * ids[slot] (its dense id; 0: none). Returns 1 with the word added for
 * the tuple in *group; 0 when the tuple is not in c (w and *h
 * then hold it and its hash, for sf_keycache_add); -1 when a value has no
 * fixed form (a string without an id, a decimal). Cannot fail. */
int sf_keycache_find(const sf_keycache *c, const sf_value *row, const uint32_t *ids,
                     const int *slots, size_t n, uint64_t *w, uint64_t *h, uint64_t *group);

/* Adds tuple w (hash h, not in c) for group (any word but UINT64_MAX).
 * Returns 0, SF_E_LIMIT when
 * the cache holds max_entries tuples already (c unchanged), or
 * SF_E_NOMEM. */
int sf_keycache_add(sf_keycache *c, const uint64_t *w, uint64_t h, uint64_t group);

/* Forgets every tuple (the group table they pointed into was replaced).
 * Cannot fail. */
void sf_keycache_clear(sf_keycache *c);

/* Number of tuples held, and bytes of memory. Cannot fail. */
size_t sf_keycache_count(const sf_keycache *c);
size_t sf_keycache_memory(const sf_keycache *c);

#endif

/* hash.h - hashing and an open-addressing hash map from byte strings to
 * fixed-size value blocks.
 *
 * The map keeps its entries in insertion order in a dense array, with an
 * open-addressing index (linear probing) whose 8-byte slots point straight
 * at each entry's block (stored hash, key, value) with a hash tag beside.
 * Keys and value blocks are copied into the map's own arena, so pointers to
 * them stay valid until sf_hmap_free(). Lookups do no allocation; inserts
 * allocate only when the arena or index grows (amortized, never per row once
 * the map has grown). value_size may be 0 (a set).
 */
#ifndef SF_HASH_H
#define SF_HASH_H

#include <stddef.h>
#include <stdint.h>

/* A fast, well-mixed 64-bit hash; the same on every rank and run. */
uint64_t sf_hash_bytes(const void *p, size_t n, uint64_t seed);

/* The one seed of grouping / routing key hashes: the combiner's table
 * (core/groups) and every routing decision (partition/keyhash) hash a key
 * with it, so a group's hash can be sent along and routed without
 * rehashing. */
#define SF_KEY_HASH_SEED 0x5348415244464c57ull
uint64_t sf_hash_u64(uint64_t x);

typedef struct sf_hmap sf_hmap;

/* New empty map. Returns NULL when out of memory. */
sf_hmap *sf_hmap_new(size_t value_size, size_t initial_capacity);

/* Frees m and everything in it; NULL is a no-op. */
void sf_hmap_free(sf_hmap *m);

/* The value block of key, or NULL if absent. hash must be
 * sf_hash_bytes(key, klen, <seed the caller always uses>). */
void *sf_hmap_find(const sf_hmap *m, const void *key, size_t klen, uint64_t hash);

/* Finds key or inserts it with a zeroed value block; *inserted (may be NULL)
 * says which. Returns the value block (borrowed, stable), or NULL when out of
 * memory (the map is unchanged). For value_size 0 the return is a non-NULL
 * pointer that must not be dereferenced. */
void *sf_hmap_upsert(sf_hmap *m, const void *key, size_t klen, uint64_t hash, int *inserted);

/* Number of entries. */
size_t sf_hmap_count(const sf_hmap *m);

/* Entry i (0 <= i < count) in insertion order: its key (borrowed, stable) and
 * value block. Any of the out pointers may be NULL. */
void sf_hmap_entry(const sf_hmap *m, size_t i, const void **key, size_t *klen,
                   uint64_t *hash, void **value);

/* Drain in insertion order: entries [0, i) will not be read again. The
 * index is freed (no find or upsert may follow the first call), and so are
 * the arena blocks that hold only entries before i. Entry i and later stay
 * readable; i may grow from call to call (the count at most).
 * sf_hmap_free() still frees the rest. */
void sf_hmap_drain_to(sf_hmap *m, size_t i);

/* Bytes of memory held (index, entries, arena). */
size_t sf_hmap_memory(const sf_hmap *m);

#endif

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
#include <string.h>

/* A fast, well-mixed 64-bit hash; the same on every rank and run. */
uint64_t sf_hash_bytes(const void *p, size_t n, uint64_t seed);

/* sf_hash_bytes in steps, for a writer that has the bytes in registers as
 * it makes them (a group key encoded per row: hashing it from memory right
 * after its byte-wise stores waited on every load, the stores not yet
 * forwardable): h = sf_hash_start(n, seed), then sf_hash_word(h, w) for
 * each whole 8-byte word of the n bytes (little-endian), then
 * sf_hash_finish(h, n, tail) with the last n % 8 bytes as a little-endian
 * word, zero above (ignored when n % 8 is 0). The result is
 * sf_hash_bytes(p, n, seed) of the same bytes. Cannot fail. */
#define SF_HASH_K0 0x9e3779b97f4a7c15ull /* 2^64 / golden ratio */
#define SF_HASH_K1 0xc2b2ae3d27d4eb4full
#define SF_HASH_K2 0x165667b19e3779f9ull
#define SF_HASH_K3 0xd6e8feb86659fd93ull

/* The two halves of a 64x64 product xored together. */
static inline uint64_t sf_hash_fold(uint64_t a, uint64_t b)
{
    unsigned __int128 r = (unsigned __int128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t sf_hash_start(size_t n, uint64_t seed)
{
    /* The length goes in first so that keys differing only by trailing
     * zero bytes (the tail is zero-padded) still differ. */
    return seed ^ SF_HASH_K0 ^ ((uint64_t)n * SF_HASH_K2);
}

static inline uint64_t sf_hash_word(uint64_t h, uint64_t w)
{
    return sf_hash_fold(h ^ w, SF_HASH_K1);
}

static inline uint64_t sf_hash_finish(uint64_t h, size_t n, uint64_t tail)
{
    if (n % 8)
        h = sf_hash_fold(h ^ tail ^ SF_HASH_K3, SF_HASH_K1);
    /* Invertible avalanche step: every input bit reaches every output bit. */
    h ^= h >> 32;
    h *= SF_HASH_K3;
    h ^= h >> 29;
    h *= SF_HASH_K1;
    h ^= h >> 32;
    return h;
}

/* The one seed of grouping / routing key hashes: the combiner's table
 * (core/groups) and every routing decision (partition/keyhash) hash a key
 * with it, so a group's hash can be sent along and routed without
 * rehashing. */
#define SF_KEY_HASH_SEED 0x5348415244464c57ull
uint64_t sf_hash_u64(uint64_t x);

/* 1 if the n bytes at a and b are equal. Keys are short, so up to 16
 * bytes are compared inline as two overlapping loads of the widest word
 * that fits, never reading outside either; longer ones by memcmp. */
static inline int sf_key_eq(const char *a, const char *b, size_t n)
{
    if (n >= 8) {
        if (n > 16)
            return memcmp(a, b, n) == 0;
        uint64_t a0, b0, a1, b1;
        memcpy(&a0, a, 8);
        memcpy(&b0, b, 8);
        memcpy(&a1, a + n - 8, 8);
        memcpy(&b1, b + n - 8, 8);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    if (n >= 4) {
        uint32_t a0, b0, a1, b1;
        memcpy(&a0, a, 4);
        memcpy(&b0, b, 4);
        memcpy(&a1, a + n - 4, 4);
        memcpy(&b1, b + n - 4, 4);
        return ((a0 ^ b0) | (a1 ^ b1)) == 0;
    }
    return n == 0 || (a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1]);
}

typedef struct sf_hmap sf_hmap;

/* New empty map. Returns NULL when out of memory. */
sf_hmap *sf_hmap_new(size_t value_size, size_t initial_capacity);

/* Places values 8-aligned instead of 16 (the key padded to 8, not 16):
 * for values of no 16-byte type, whose blocks then take up to 8 bytes
 * less (S3's groups with a 24-byte count_distinct state: 144 -> 128
 * bytes, two cache lines). Only on an empty map: returns 0, or -1
 * (nothing changed) when m holds entries. */
int sf_hmap_set_align8(sf_hmap *m);

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

/* Makes room for n entries in all (those held included): the index
 * grows once to hold them within the load factor, and the entries array
 * to n, so that inserts up to n neither rebuild the index nor move the
 * array. For a caller that knows about how many keys will come (a table
 * of millions grows through a dozen indexes otherwise, each refilled at
 * random). Entries, their numbers and order are unchanged; a smaller n
 * than the map already holds room for is a no-op. Returns 0, or -1 when
 * out of memory, when n cannot be indexed or after sf_hmap_drain_to()
 * (the map is then as before). */
int sf_hmap_reserve(sf_hmap *m, size_t n);

/* Starts loading what an upsert of a key with this hash and length will
 * read, so that a batch of upserts waits for memory once: stage 0 the
 * index slot; stage 1 (after stage 0 had time) the block of the first entry on
 * the probe path (8 slots at most) whose tag matches. Only a hint: m is not changed and
 * no result depends on it. Cannot fail. */
void sf_hmap_prefetch(const sf_hmap *m, uint64_t hash, size_t klen, int stage);

/* The value block of the first entry on this hash's probe path (its
 * home slot and up to 7 after it, up to an empty one) whose tag matches,
 * when the entry's hash and key length match too, else NULL: a guess for
 * a caller that prefetches what the value leads to (it may be another
 * key's value, or NULL for a key held further on). Reads the index slots
 * and the entry's header (after sf_hmap_prefetch stage 1, in cache), never
 * compares keys. Borrowed like sf_hmap_find's. Cannot fail. */
void *sf_hmap_peek(const sf_hmap *m, uint64_t hash, size_t klen);

/* Number of entries, removed ones (sf_hmap_compact) included: entry
 * numbers run to it. */
size_t sf_hmap_count(const sf_hmap *m);

/* Entry i (0 <= i < count) in insertion order: its key (borrowed, stable
 * until sf_hmap_compact) and value block. Any of the out pointers may be
 * NULL. A removed entry gives a NULL key and value, length and hash 0. */
void sf_hmap_entry(const sf_hmap *m, size_t i, const void **key, size_t *klen,
                   uint64_t *hash, void **value);

/* Starts loading entry i's block, for a caller that walks entries in
 * order (their blocks are far apart in memory once the map is large,
 * and a block is several lines). Reads the entries array only, never
 * the block: its extent is where the next entry's block starts, when
 * that follows within 1 KiB (the arena lays blocks out in entry order),
 * else a guess. Only a hint: a removed entry or i past the count is
 * ignored. Cannot fail. */
void sf_hmap_prefetch_entry(const sf_hmap *m, size_t i);

/* Removes every entry for which keep(ctx, i, value) returns 0: its key
 * leaves the index and its block's memory goes. The kept blocks move
 * (keys and values of kept entries get new addresses: pointers taken
 * before are stale); entry numbers do not change, and a removed entry
 * reads as NULL (sf_hmap_entry). The index keeps its slots and holds the
 * kept entries only, so the entries inserted later find room that the
 * removed ones no longer take. Memory: the kept blocks are copied into
 * new arena blocks while the old ones go as the copy passes them, so the
 * map holds about one old block more than its kept entries need. Returns
 * 0, or -1 when out of memory or after sf_hmap_drain_to(): the map is
 * then valid, with every entry keep kept and perhaps some it did not. */
typedef int (*sf_hmap_keep_fn)(void *ctx, size_t i, void *value);
int sf_hmap_compact(sf_hmap *m, sf_hmap_keep_fn keep, void *ctx);

/* Drain in insertion order: entries [0, i) will not be read again. The
 * index is freed (no find or upsert may follow the first call), and so are
 * the arena blocks that hold only entries before i. Entry i and later stay
 * readable; i may grow from call to call (the count at most).
 * sf_hmap_free() still frees the rest. */
void sf_hmap_drain_to(sf_hmap *m, size_t i);

/* Bytes of memory held (index, entries, arena). */
size_t sf_hmap_memory(const sf_hmap *m);

#endif

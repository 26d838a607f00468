/* hash.c - a fixed 64-bit byte hash and an insertion-ordered open-addressing
 * map.
 *
 * The hash must be identical on every rank, run and machine because ranks
 * route rows by it: no random seed, bytes read little-endian whatever the
 * host order, and 128-bit "folded" multiplies (the two halves of a 64x64
 * product xored together) to mix each 8-byte word into the state.
 *
 * Map layout: entries[] is dense and in insertion order, one pointer per
 * entry to its block in the arena. An entry's block holds everything a
 * lookup reads, in the order it reads it: a 16-byte header {hash, key
 * length}, the key (NUL-terminated, padded to 16), then the value
 * (16-aligned, zeroed; 8-aligned, the key padded to 8, for a map that
 * asked for it: sf_hmap_set_align8). Blocks are 16-aligned.
 * index[] is a power of two of 8-byte slots, probed linearly from the slot
 * picked by the low hash bits; 0 is empty, else the slot packs the block's
 * address (16-aligned, so address / 16 fits 44 bits on the 48-bit user
 * address spaces of x86-64 and AArch64; an insert that gets a block above
 * that fails like an allocation) with the top 20 bits of the hash. So one
 * probe reads one slot, the tag skips almost every key compare on a miss,
 * and a hit goes straight from the slot to one run of adjacent cache lines
 * (header, key, value) - no side table in between. Since the partitioner
 * routes by the high bits of the same hash, the low bits that place keys
 * here are still uniform within one rank's partition.
 * Growing the index reads the hashes stored in the blocks: no key is hashed
 * again.
 * Removing entries (sf_hmap_compact) leaves their numbers in entries[] as
 * NULL, so the numbers of the rest do not change; only the live entries
 * count toward the load factor.
 * Invariants: live <= 0.7 * slots (so probes stay short and always meet an
 * empty slot); live <= count < UINT32_MAX; the arena's blocks hold the
 * live entries in entry order (an older block only earlier entries).
 */
#include "core/hash.h"

#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/bigmem.h"

/* The hash's steps and constants are in hash.h (sf_hash_start, _word,
 * _finish), shared with writers that hash as they write. */

static uint64_t load_le64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static uint32_t load_le32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}

uint64_t sf_hash_bytes(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *b = p;
    uint64_t h = sf_hash_start(n, seed);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        h = sf_hash_word(h, load_le64(b + i));
    uint64_t w = 0;
    if (i < n) {
        /* The tail bytes as a little-endian word, zero above: the same
         * value a byte loop gives, from at most three loads. */
        size_t rem = n - i;
        if (n >= 8) {
            w = load_le64(b + n - 8) >> (8 * (8 - rem));
        } else if (rem >= 4) {
            w = (uint64_t)load_le32(b + i) | (uint64_t)load_le32(b + n - 4) << (8 * (rem - 4));
        } else {
            w = (uint64_t)b[i] | (uint64_t)b[i + rem / 2] << (8 * (rem / 2)) |
                (uint64_t)b[n - 1] << (8 * (rem - 1));
        }
    }
    return sf_hash_finish(h, n, w);
}

uint64_t sf_hash_u64(uint64_t x)
{
    return sf_hash_finish(x + SF_HASH_K2, 0, 0); /* the avalanche step alone */
}

/* The head of an entry's block; the key follows it, then the value. */
typedef struct hmap_head {
    uint64_t hash;
    uint64_t klen;
} hmap_head;

typedef uint64_t hmap_slot; /* 0, or (block address / 16) << 20 | tag */

#define HMAP_TAG_BITS 20
#define HMAP_ADDR_BITS 48

static inline hmap_slot hmap_slot_of(const hmap_head *h)
{
    return (uint64_t)(uintptr_t)h >> 4 << HMAP_TAG_BITS | h->hash >> (64 - HMAP_TAG_BITS);
}

static inline hmap_head *hmap_slot_block(hmap_slot s)
{
    return (hmap_head *)(uintptr_t)(s >> HMAP_TAG_BITS << 4);
}

struct sf_hmap {
    size_t value_size;
    hmap_head **entries; /* per entry, in insertion order: its block, NULL
                          * once removed (sf_hmap_compact) */
    size_t count;
    size_t live; /* entries not removed */
    size_t entries_cap;
    hmap_slot *index;
    size_t mask; /* slots - 1 */
    size_t vpad; /* the value's alignment - 1: 15, or 7 (sf_hmap_set_align8) */
    sf_arena arena;
};

/* Bytes from the start of a block to its value: the header and the key
 * with its NUL, rounded up to the value's alignment. */
static inline size_t hmap_value_off(const sf_hmap *m, size_t klen)
{
    return sizeof(hmap_head) + ((klen + 1 + m->vpad) & ~m->vpad);
}

static inline const unsigned char *hmap_key(const hmap_head *h)
{
    return (const unsigned char *)(h + 1);
}

static inline void *hmap_value(const sf_hmap *m, const hmap_head *h)
{
    return (char *)h + hmap_value_off(m, h->klen);
}

#define HMAP_MIN_SLOTS 8
#define HMAP_MAX_ENTRIES ((size_t)UINT32_MAX - 1)

/* Slots needed to hold n entries at load factor <= 0.7, or 0 if that many
 * cannot be indexed. */
static size_t hmap_slots_for(size_t n)
{
    if (n > HMAP_MAX_ENTRIES)
        return 0;
    size_t slots = HMAP_MIN_SLOTS;
    while ((uint64_t)slots * 7 < (uint64_t)n * 10) {
        if (slots > SIZE_MAX / 2 / sizeof(hmap_slot))
            return 0;
        slots *= 2;
    }
    return slots;
}

sf_hmap *sf_hmap_new(size_t value_size, size_t initial_capacity)
{
    if (value_size > SIZE_MAX / 8)
        return NULL;
    size_t slots = hmap_slots_for(initial_capacity);
    if (!slots)
        return NULL;
    sf_hmap *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->value_size = value_size;
    m->vpad = 15;
    m->entries_cap = initial_capacity > HMAP_MIN_SLOTS ? initial_capacity : HMAP_MIN_SLOTS;
    m->entries = malloc(m->entries_cap * sizeof *m->entries);
    m->index = sf_bigmem_calloc(slots, sizeof *m->index);
    if (!m->entries || !m->index) {
        free(m->entries);
        free(m->index);
        free(m);
        return NULL;
    }
    m->mask = slots - 1;
    /* Size the first arena block for the expected entries (keys guessed at
     * 16 bytes), between 1 KiB and the arena's default 64 KiB. */
    size_t per = value_size + hmap_value_off(m, 16);
    size_t guess = initial_capacity * per;
    if (initial_capacity && guess / initial_capacity != per)
        guess = SIZE_MAX;
    size_t block = guess < 1024 ? 1024 : guess > 65536 ? 65536 : guess;
    sf_arena_init(&m->arena, block);
    return m;
}

int sf_hmap_set_align8(sf_hmap *m)
{
    if (m->count)
        return -1;
    m->vpad = 7;
    return 0;
}

void sf_hmap_free(sf_hmap *m)
{
    if (!m)
        return;
    sf_arena_free(&m->arena);
    free(m->entries);
    free(m->index);
    free(m);
}

/* Equal bytes, inline for the short keys that are the rule here (group
 * keys, ids): overlapping word loads instead of a call to memcmp. */
static inline int same_bytes(const unsigned char *a, const unsigned char *b, size_t n)
{
    if (n >= 8 && n <= 32) {
        uint64_t x, y, d = 0;
        size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            memcpy(&x, a + i, 8);
            memcpy(&y, b + i, 8);
            d |= x ^ y;
        }
        memcpy(&x, a + n - 8, 8);
        memcpy(&y, b + n - 8, 8);
        return (d | (x ^ y)) == 0;
    }
    return n == 0 || memcmp(a, b, n) == 0;
}

static int hmap_same(const hmap_head *e, const void *key, size_t klen, uint64_t hash)
{
    return e->hash == hash && e->klen == klen && same_bytes(hmap_key(e), key, klen);
}

/* Slot holding key, or the empty slot where it would go. */
static inline __attribute__((always_inline)) size_t
hmap_probe(const sf_hmap *m, const void *key, size_t klen, uint64_t hash)
{
    uint64_t tag = hash >> (64 - HMAP_TAG_BITS);
    const uint64_t tag_mask = ((uint64_t)1 << HMAP_TAG_BITS) - 1;
    size_t pos = (size_t)hash & m->mask;
    for (;;) {
        hmap_slot s = m->index[pos];
        if (s == 0)
            return pos;
        if ((s & tag_mask) == tag) {
            /* A tag hit is almost always the key: start the loads of the
             * rest of its block (the value the caller updates next) while
             * the key compare waits for the head's line. */
            const char *b = (const char *)hmap_slot_block(s);
            size_t end = hmap_value_off(m, klen) + m->value_size;
            for (size_t off = 64; off < end; off += 64)
                __builtin_prefetch(b + off, 1, 3);
            if (hmap_same(hmap_slot_block(s), key, klen, hash))
                return pos;
        }
        pos = (pos + 1) & m->mask;
    }
}

void *sf_hmap_find(const sf_hmap *m, const void *key, size_t klen, uint64_t hash)
{
    hmap_slot s = m->index[hmap_probe(m, key, klen, hash)];
    return s ? hmap_value(m, hmap_slot_block(s)) : NULL;
}

/* Puts every live entry into the (empty) index, in entry order. The
 * index is read at random (a table of millions of groups: a cache miss
 * each), so the home slot of the entry FILL_AHEAD places on is fetched
 * ahead; the heads are read in allocation order, which the hardware's
 * own prefetcher follows. */
#define FILL_AHEAD 16
static void hmap_fill_index(sf_hmap *m)
{
    for (size_t i = 0; i < m->count; i++) {
        if (i + FILL_AHEAD < m->count && m->entries[i + FILL_AHEAD])
            __builtin_prefetch(&m->index[(size_t)m->entries[i + FILL_AHEAD]->hash & m->mask], 1,
                               3);
        const hmap_head *h = m->entries[i];
        if (!h)
            continue;
        size_t pos = (size_t)h->hash & m->mask;
        while (m->index[pos])
            pos = (pos + 1) & m->mask;
        m->index[pos] = hmap_slot_of(h);
    }
}

/* Rebuilds the index with slots (a power of two) from the stored
 * hashes. On failure the old index stays. */
static int hmap_rebuild_index(sf_hmap *m, size_t slots)
{
    hmap_slot *idx = sf_bigmem_calloc(slots, sizeof *idx);
    if (!idx)
        return -1;
    free(m->index);
    m->index = idx;
    m->mask = slots - 1;
    hmap_fill_index(m);
    return 0;
}

/* Twice the slots. */
static int hmap_grow_index(sf_hmap *m)
{
    if (m->mask + 1 > SIZE_MAX / 2 / sizeof(hmap_slot))
        return -1;
    return hmap_rebuild_index(m, (m->mask + 1) * 2);
}

int sf_hmap_reserve(sf_hmap *m, size_t n)
{
    size_t slots = hmap_slots_for(n);
    if (!slots || !m->index)
        return -1;
    if (n > m->entries_cap) {
        if (n > SIZE_MAX / sizeof *m->entries)
            return -1;
        hmap_head **e = realloc(m->entries, n * sizeof *e);
        if (!e)
            return -1;
        m->entries = e;
        m->entries_cap = n;
    }
    return slots <= m->mask + 1 ? 0 : hmap_rebuild_index(m, slots);
}

/* Inserts key at empty slot pos (from hmap_probe). Out of line: the hit
 * path of sf_hmap_upsert, taken for almost every row, then needs no
 * registers saved for the rare insert and growth. */
static __attribute__((noinline)) void *hmap_insert(sf_hmap *m, size_t pos, const void *key,
                                                   size_t klen, uint64_t hash)
{
    /* The arena doubles its block size until a request fits, so requests
     * near SIZE_MAX must not reach it. */
    if (m->count >= HMAP_MAX_ENTRIES || klen > SIZE_MAX / 4 - m->value_size)
        return NULL;
    /* Grow what is needed before touching anything, so a failure leaves
     * the map as it was (only bigger). */
    if (m->count == m->entries_cap) {
        size_t cap = m->entries_cap * 2;
        if (cap > SIZE_MAX / sizeof *m->entries)
            return NULL;
        hmap_head **e = realloc(m->entries, cap * sizeof *e);
        if (!e)
            return NULL;
        m->entries = e;
        m->entries_cap = cap;
    }
    if ((uint64_t)(m->live + 1) * 10 > (uint64_t)(m->mask + 1) * 7) {
        if (hmap_grow_index(m) != 0)
            return NULL;
        pos = hmap_probe(m, key, klen, hash);
    }
    size_t voff = hmap_value_off(m, klen);
    hmap_head *h = sf_arena_alloc(&m->arena, voff + m->value_size);
    if (!h || (uint64_t)(uintptr_t)h >> HMAP_ADDR_BITS)
        return NULL; /* the arena keeps the block; the map is unchanged */
    h->hash = hash;
    h->klen = klen;
    unsigned char *kcopy = (unsigned char *)(h + 1);
    if (klen)
        memcpy(kcopy, key, klen);
    kcopy[klen] = '\0';
    char *block = (char *)h + voff;
    memset(block, 0, m->value_size);
    m->entries[m->count] = h;
    m->count++;
    m->live++;
    m->index[pos] = hmap_slot_of(h);
    return block;
}

void *sf_hmap_upsert(sf_hmap *m, const void *key, size_t klen, uint64_t hash, int *inserted)
{
    size_t pos = hmap_probe(m, key, klen, hash);
    hmap_slot s = m->index[pos];
    if (s) {
        if (inserted)
            *inserted = 0;
        return hmap_value(m, hmap_slot_block(s));
    }
    void *v = hmap_insert(m, pos, key, klen, hash);
    if (v && inserted)
        *inserted = 1;
    return v;
}

/* The block of the first entry on the probe path of hash whose tag
 * matches, within PEEK_PROBES slots, or NULL (an empty slot first, or none
 * that near). A prefetch's guess: at a load factor near 0.7 linear probing
 * leaves a third of the keys past their home slot, which a look at the
 * home slot alone missed. */
#define PEEK_PROBES 8
static const hmap_head *hmap_tagged(const sf_hmap *m, uint64_t hash)
{
    const uint64_t tag = hash >> (64 - HMAP_TAG_BITS);
    const uint64_t tag_mask = ((uint64_t)1 << HMAP_TAG_BITS) - 1;
    size_t pos = (size_t)hash & m->mask;
    for (int k = 0; k < PEEK_PROBES; k++) {
        hmap_slot s = m->index[pos];
        if (!s)
            return NULL;
        if ((s & tag_mask) == tag)
            return hmap_slot_block(s);
        pos = (pos + 1) & m->mask;
    }
    return NULL;
}

void sf_hmap_prefetch(const sf_hmap *m, uint64_t hash, size_t klen, int stage)
{
    if (!m->index)
        return;
    if (stage == 0) {
        __builtin_prefetch(&m->index[(size_t)hash & m->mask], 0, 3);
        return;
    }
    const char *b = (const char *)hmap_tagged(m, hash);
    if (!b)
        return;
    /* Every line the block touches: a block of a size not a multiple of
     * 64 (S3's 112 bytes) may start anywhere in its first line. */
    const char *end = b + hmap_value_off(m, klen) + m->value_size;
    for (const char *l = b - ((uintptr_t)b & 63); l < end; l += 64)
        __builtin_prefetch(l, 1, 3);
}

void *sf_hmap_peek(const sf_hmap *m, uint64_t hash, size_t klen)
{
    if (!m->index)
        return NULL;
    /* Another key may share the tag: its own length places its value. */
    const hmap_head *h = hmap_tagged(m, hash);
    return h && h->klen == klen && h->hash == hash ? hmap_value(m, h) : NULL;
}

size_t sf_hmap_count(const sf_hmap *m)
{
    return m->count;
}

void sf_hmap_entry(const sf_hmap *m, size_t i, const void **key, size_t *klen,
                   uint64_t *hash, void **value)
{
    const hmap_head *e = m->entries[i];
    if (key)
        *key = e ? hmap_key(e) : NULL;
    if (klen)
        *klen = e ? (size_t)e->klen : 0;
    if (hash)
        *hash = e ? e->hash : 0;
    if (value)
        *value = e ? hmap_value(m, e) : NULL;
}

void sf_hmap_prefetch_entry(const sf_hmap *m, size_t i)
{
    const hmap_head *h = i < m->count ? m->entries[i] : NULL;
    if (!h)
        return;
    uintptr_t b = (uintptr_t)h, next = i + 1 < m->count ? (uintptr_t)m->entries[i + 1] : 0;
    size_t span = next > b && next - b <= 1024 ? (size_t)(next - b) : 64 + m->value_size;
    for (size_t off = 0; off < span; off += 64)
        __builtin_prefetch((const char *)h + off, 0, 3);
}

int sf_hmap_compact(sf_hmap *m, sf_hmap_keep_fn keep, void *ctx)
{
    if (!m->index)
        return -1; /* drained: the entries before the drain are gone */
    /* The kept blocks are copied in entry order into a fresh arena, and
     * each old block goes as soon as the copy has passed it: the map
     * never holds the old and the new blocks whole at once. */
    sf_arena old = m->arena;
    sf_arena_init(&m->arena, 0);
    int rc = 0;
    for (size_t i = 0; i < m->count; i++) {
        hmap_head *h = m->entries[i];
        if (!h)
            continue;
        if ((i & 4095) == 0)
            sf_arena_release_before(&old, h); /* blocks of entries before i */
        if (!keep(ctx, i, hmap_value(m, h))) {
            m->entries[i] = NULL;
            m->live--;
            continue;
        }
        size_t n = hmap_value_off(m, h->klen) + m->value_size;
        hmap_head *c = sf_arena_alloc(&m->arena, n);
        if (!c || (uint64_t)(uintptr_t)c >> HMAP_ADDR_BITS) {
            rc = -1;
            break;
        }
        memcpy(c, h, n);
        m->entries[i] = c;
    }
    if (rc == 0) {
        sf_arena_free(&old);
    } else {
        /* Entries from the failed one on are still in the old blocks,
         * which are newer than the copies: the order invariant holds
         * with the copies behind them. */
        sf_arena_put_behind(&old, &m->arena);
        m->arena = old;
    }
    /* Same slots, only the live entries: no growth for entries gone. */
    memset(m->index, 0, (m->mask + 1) * sizeof *m->index);
    hmap_fill_index(m);
    return rc;
}

void sf_hmap_drain_to(sf_hmap *m, size_t i)
{
    free(m->index);
    m->index = NULL;
    m->mask = 0;
    /* The first live entry still to be read keeps its block and every
     * newer one. */
    while (i < m->count && !m->entries[i])
        i++;
    if (i < m->count) {
        sf_arena_release_before(&m->arena, m->entries[i]);
        return;
    }
    /* Nothing is read any more: every block goes but the newest, which
     * the next entry would have been in. */
    size_t last = m->count;
    while (last > 0 && !m->entries[last - 1])
        last--;
    if (last)
        sf_arena_release_before(&m->arena, m->entries[last - 1]);
    else
        sf_arena_free(&m->arena); /* usable again: sf_arena_free re-initializes */
}

size_t sf_hmap_memory(const sf_hmap *m)
{
    return sizeof *m + m->entries_cap * sizeof *m->entries +
           (m->index ? (m->mask + 1) * sizeof *m->index : 0) + m->arena.reserved;
}

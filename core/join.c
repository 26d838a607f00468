/* join.c - dimension table index.
 *
 * Rows live in one array; the index maps a key to a row number. int64 keys
 * (the common case: ids) use a flat open-addressing table of (key, row + 1)
 * pairs, so a lookup is a multiply-shift hash and usually one cache line;
 * when the keys are dense enough (ids 0..999 of 1,000 users: the range at
 * most DIRECT_SLACK times the rows, plus DIRECT_MIN), a direct-address
 * array of row + 1 by key - base answers instead: one subtraction, one
 * bounds check and one load, no hash. The hashed index stays (it finds
 * duplicates as rows are added, and answers when the keys spread out);
 * string keys (ids like "user_000783") a flat table of 16-byte slots (row
 * + 1 and the key itself when it has at most STR_INLINE bytes, else its
 * hash and length), so a lookup hashes the bytes once and compares a short
 * key in the slot itself (a longer one goes on in the row's own key
 * string), with no encoding and no entry indirection; other key types use
 * the generic byte-keyed map over the encoded key.
 *
 * The other string columns are interned: rows with the same value (the
 * country of 100k users) share one copy, which stays in cache, so a lookup
 * in a table far larger than the caches costs the slot and the row, not a
 * third miss for the selected string.
 *
 * Every string cell gets a dense id as its row is added (sf_join_table_id):
 * the key column its row number + 1, another column its interned string's
 * number + 1, so a joined string can stand for itself as one word (group
 * keys, count_distinct) without being hashed or compared again. The id
 * sits in the 4 bytes before the table's copy of the string, so it costs
 * no array per cell (most copies take no more arena room for it: they are
 * rounded up to 16 bytes anyway).
 */
#include "core/join.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/bigmem.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/hash.h"

#define JOIN_SEED 0x4a4f494eull

typedef struct int_slot {
    int64_t key;
    uint32_t row; /* row index + 1; 0 = empty */
} int_slot;

/* A string key's slot: 16 bytes, four to a cache line. A key of at most
 * STR_INLINE bytes whose last byte is not NUL is held whole, zero-padded
 * in k0 and k1 (its length is the place of its last non-zero byte), so a
 * lookup of it reads the slot and no key copy. Any other key (longer, or
 * ending in NUL) is held as its hash and length, with STR_LONG set in
 * row, and compared through its row's own copy on a match of those. */
#define STR_INLINE 12
#define STR_LONG 0x80000000u
#define STR_ROWS 0x7fffffffu /* row's bits of the row number */

typedef struct str_slot {
    uint64_t k0;  /* inline: the key's bytes 0-7; long: its hash */
    uint32_t k1;  /* inline: the key's bytes 8-11; long: its length */
    uint32_t row; /* row index + 1 (0 = empty), | STR_LONG for a long key */
} str_slot;
_Static_assert(sizeof(str_slot) == 16, "four string slots a cache line");

/* The direct-address array of int keys: its range at most DIRECT_SLACK
 * entries per row plus DIRECT_MIN (4 bytes each: a few words per row). */
#define DIRECT_SLACK 4
#define DIRECT_MIN 4096

struct sf_join_table {
    size_t ncols;
    int key_col;
    sf_value *rows; /* nrows * ncols */
    size_t nrows, cap;
    size_t expect;  /* rows expected (sf_join_table_reserve); 0: unknown */
    int int_keys;   /* the index is ints (decided by the first key added) */
    int_slot *slots;
    int64_t kmin, kmax; /* int keys: the least and greatest added */
    uint32_t *direct;   /* int keys, dense: row + 1 of key direct_base + i (0: none) */
    int64_t direct_base;
    size_t direct_n;    /* entries of direct */
    str_slot *sslots; /* string keys (int_keys == 0, first key a string) */
    size_t mask;      /* of slots (the int index) */
    size_t nslots;    /* sslots' count (not a power of two) */
    sf_hmap *map;   /* encoded key -> uint32 row index */
    sf_hmap *interned; /* non-key string bytes -> their one copy (char *) */
    struct {           /* intern()'s last copies of strings of at most 8 bytes */
        uint64_t bits; /* the bytes, zero-padded */
        size_t len;
        char *copy;    /* NULL: empty entry */
    } short_copies[64];
    sf_arena strings;
    sf_buf key;     /* encoding scratch for adds */
};

size_t sf_join_table_memory(const sf_join_table *t)
{
    if (!t)
        return 0;
    size_t m = t->cap * t->ncols * sizeof *t->rows + t->strings.reserved + t->key.cap;
    if (t->slots)
        m += (t->mask + 1) * sizeof *t->slots;
    if (t->sslots)
        m += t->nslots * sizeof *t->sslots;
    m += t->direct_n * sizeof *t->direct;
    return m + (t->map ? sf_hmap_memory(t->map) : 0);
}

sf_join_table *sf_join_table_new(size_t ncols, int key_col)
{
    sf_join_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ncols = ncols;
    t->key_col = key_col;
    t->int_keys = -1; /* undecided until the first row */
    sf_arena_init(&t->strings, 0);
    return t;
}

void sf_join_table_reserve(sf_join_table *t, size_t nrows)
{
    if (t && !t->rows && nrows <= UINT32_MAX)
        t->expect = nrows;
}

/* The int key index's first size: room for the expected rows at load <=
 * 0.7 (sf_join_table_add's growth test), so a load of as many rows as
 * told never rebuilds it; 64 slots when nothing was told. */
static size_t first_slots(const sf_join_table *t)
{
    size_t slots = 64;
    while ((uint64_t)slots * 7 < (uint64_t)t->expect * 10 + 10)
        slots *= 2;
    return slots;
}

static size_t int_pos(const sf_join_table *t, int64_t key)
{
    return (size_t)sf_hash_u64((uint64_t)key) & t->mask;
}

static int int_index_grow(sf_join_table *t)
{
    size_t slots = t->slots ? 2 * (t->mask + 1) : first_slots(t);
    int_slot *fresh = sf_bigmem_calloc(slots, sizeof *fresh);
    if (!fresh)
        return SF_E_NOMEM;
    int_slot *old = t->slots;
    size_t old_slots = old ? t->mask + 1 : 0;
    t->slots = fresh;
    t->mask = slots - 1;
    for (size_t i = 0; i < old_slots; i++) {
        if (!old[i].row)
            continue;
        size_t p = int_pos(t, old[i].key);
        while (t->slots[p].row)
            p = (p + 1) & t->mask;
        t->slots[p] = old[i];
    }
    free(old);
    return 0;
}

/* Finds key in the int index: the slot holding it or the empty slot where
 * it would go. */
static int_slot *int_probe(const sf_join_table *t, int64_t key)
{
    size_t p = int_pos(t, key);
    while (t->slots[p].row && t->slots[p].key != key)
        p = (p + 1) & t->mask;
    return &t->slots[p];
}

/* Keeps the direct-address array in step with the int index after row
 * `row` (its number + 1) was added with key: sets its entry when the key
 * falls in the array, else builds the array again over the keys' whole
 * range (with as much room again above it, for ids that keep growing) if
 * that range is dense enough, or drops it if not. Returns 0 or
 * SF_E_NOMEM (the table is unchanged but for the row's index slot; the
 * caller undoes nothing: a table without the array still answers). */
static int direct_note(sf_join_table *t, int64_t key, uint32_t row)
{
    if (t->nrows == 1 || key < t->kmin)
        t->kmin = key;
    if (t->nrows == 1 || key > t->kmax)
        t->kmax = key;
    uint64_t off = (uint64_t)key - (uint64_t)t->direct_base;
    if (t->direct && off < t->direct_n) {
        t->direct[off] = row;
        return 0;
    }
    uint64_t range = (uint64_t)t->kmax - (uint64_t)t->kmin; /* + 1, without overflow */
    uint64_t limit = (uint64_t)t->nrows * DIRECT_SLACK + DIRECT_MIN;
    free(t->direct);
    t->direct = NULL;
    t->direct_n = 0;
    if (range >= limit)
        return 0; /* too sparse: the hashed index answers */
    size_t n = (size_t)(2 * (range + 1) < limit ? 2 * (range + 1) : limit);
    uint32_t *d = calloc(n, sizeof *d);
    if (!d)
        return SF_E_NOMEM;
    for (size_t i = 0; i <= t->mask; i++) {
        if (t->slots[i].row)
            d[(uint64_t)t->slots[i].key - (uint64_t)t->kmin] = t->slots[i].row;
    }
    t->direct = d;
    t->direct_n = n;
    t->direct_base = t->kmin;
    return 0;
}

/* Hash of a string key. Ids of 8 to 16 bytes (the "user_000783" kind)
 * take two overlapping word loads and a multiply-xorshift finish, a
 * third of sf_hash_bytes' instructions; the index never leaves the table,
 * so its hash answers to nothing else. */
static inline uint64_t str_hash_words(uint64_t x0, uint64_t x1, size_t n)
{
    uint64_t h = (x0 ^ JOIN_SEED) * 0x9e3779b97f4a7c15ull;
    h ^= (x1 + n) * 0xc2b2ae3d27d4eb4full;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
}

/* The first and the last 8 bytes of a key of 8 to 16 bytes (they overlap
 * below 16): with its length they say every byte. */
static inline void str_words(const char *p, size_t n, uint64_t *x0, uint64_t *x1)
{
    memcpy(x0, p, 8);
    memcpy(x1, p + n - 8, 8);
}

static inline uint64_t str_hash(const char *p, size_t n)
{
    if (n < 8 || n > 16)
        return sf_hash_bytes(p, n, JOIN_SEED);
    uint64_t x0, x1;
    str_words(p, n, &x0, &x1);
    return str_hash_words(x0, x1, n);
}

/* The inline form of a key (see str_slot) in *k0 and *k1: 1, or 0 when
 * the key takes the long form. */
static inline int str_inline(const char *p, size_t n, uint64_t *k0, uint32_t *k1)
{
    if (n > STR_INLINE || (n && p[n - 1] == '\0'))
        return 0;
    unsigned char b[STR_INLINE] = {0};
    if (n)
        memcpy(b, p, n);
    memcpy(k0, b, 8);
    memcpy(k1, b + 8, 4);
    return 1;
}

/* The slot where a key of hash h starts its probe: the hash's top bits
 * scaled to the slots' count (a multiply, not a mask: the count need not
 * be a power of two). */
static inline size_t str_pos(const sf_join_table *t, uint64_t h)
{
    return (size_t)(((unsigned __int128)h * t->nslots) >> 64);
}

/* The row (its number + 1) a slot names; 0 for an empty slot. */
static inline uint32_t slot_row(const str_slot *s) { return s->row & STR_ROWS; }

/* The key cell of row r (its number + 1). */
static inline const sf_value *row_key(const sf_join_table *t, uint32_t r)
{
    return &t->rows[(size_t)(r - 1) * t->ncols + (size_t)t->key_col];
}

/* Finds a string key of hash h (str_hash): the slot holding it or the
 * empty slot where it would go. */
static inline __attribute__((always_inline)) str_slot *str_probe(const sf_join_table *t,
                                                                  const char *p, size_t n,
                                                                  uint64_t h)
{
    uint64_t k0;
    uint32_t k1, form = 0;
    if (!str_inline(p, n, &k0, &k1)) {
        k0 = h;
        k1 = (uint32_t)n;
        form = STR_LONG;
    }
    size_t pos = str_pos(t, h);
    for (;;) {
        str_slot *s = &t->sslots[pos];
        if (!s->row)
            return s;
        if (s->k0 == k0 && s->k1 == k1 && (s->row & STR_LONG) == form) {
            if (!form)
                return s;
            const sf_value *k = row_key(t, slot_row(s));
            if (k->u.s.n == n && sf_key_eq(k->u.s.p, p, n))
                return s;
        }
        if (++pos == t->nslots)
            pos = 0;
    }
}

/* The hash (str_hash) of the key a filled slot holds: its own bytes when
 * inline, so a rebuild reads no row. */
static uint64_t slot_hash(const str_slot *s)
{
    if (s->row & STR_LONG)
        return s->k0;
    unsigned char b[STR_INLINE];
    memcpy(b, &s->k0, 8);
    memcpy(b + 8, &s->k1, 4);
    size_t n = STR_INLINE;
    while (n && !b[n - 1])
        n--;
    return str_hash((const char *)b, n);
}

/* Makes the string index twice as large, or its first: 64 slots, or told
 * the rows to come 1.6 slots a row (not a power of two: str_pos; load
 * 0.625 at the count told, room for 12% more rows before 0.7; the count
 * told is 1/32 under the estimate), where 2^21 slots for 1M rows would be
 * a third more. */
static int str_index_grow(sf_join_table *t)
{
    size_t slots = t->sslots ? 2 * t->nslots : 64;
    if (!t->sslots && (uint64_t)t->expect * 8 / 5 > slots)
        slots = (size_t)((uint64_t)t->expect * 8 / 5);
    str_slot *fresh = sf_bigmem_calloc(slots, sizeof *fresh);
    if (!fresh)
        return SF_E_NOMEM;
    str_slot *old = t->sslots;
    size_t old_slots = old ? t->nslots : 0;
    t->sslots = fresh;
    t->nslots = slots;
    for (size_t i = 0; i < old_slots; i++) {
        if (!old[i].row)
            continue;
        size_t p = str_pos(t, slot_hash(&old[i]));
        while (t->sslots[p].row)
            if (++p == t->nslots)
                p = 0;
        t->sslots[p] = old[i];
    }
    free(old);
    return 0;
}

static int encode_key(sf_buf *b, const sf_value *key)
{
    b->n = 0;
    if (sf_buf_reserve(b, sf_value_encoded_size(key)) != 0)
        return SF_E_NOMEM;
    b->n = sf_value_encode(key, b->p);
    return 0;
}

/* A copy of p[0, n) in the table's arena, NUL-terminated, with id in the
 * 4 bytes before it (sf_join_table_id reads it there). NULL when out of
 * memory. */
static char *copy_with_id(sf_join_table *t, const char *p, size_t n, uint32_t id)
{
    char *q = n <= SIZE_MAX - 5 ? sf_arena_alloc(&t->strings, 4 + n + 1) : NULL;
    if (!q)
        return NULL;
    memcpy(q, &id, 4);
    if (n)
        memcpy(q + 4, p, n);
    q[4 + n] = '\0';
    return q + 4;
}

/* The table's one copy of the string p[0, n), made on its first sight
 * with the id of the string's number + 1 among the distinct ones (the
 * interning map's entry number, entries being numbered in insertion
 * order). NULL when out of memory. */
static char *intern(sf_join_table *t, const char *p, size_t n)
{
    /* Short cells (a country, a plan name) repeat over the rows: a hit in
     * the direct-mapped cache of their copies skips the hash and the map. */
    uint64_t bits = 0;
    size_t at = 0;
    if (n <= 8) {
        /* Byte by byte, not memcpy(&bits, p, n): a call for a few bytes
         * cost more than the cache lookup it serves. */
        for (size_t i = 0; i < n; i++)
            bits |= (uint64_t)(unsigned char)p[i] << (8 * i);
        at = (size_t)(((bits ^ n) * 0x9E3779B97F4A7C15ull) >> 58);
        if (t->short_copies[at].copy && t->short_copies[at].bits == bits &&
            t->short_copies[at].len == n)
            return t->short_copies[at].copy;
    }
    if (!t->interned && !(t->interned = sf_hmap_new(sizeof(char *), 256)))
        return NULL;
    int inserted = 0;
    char **copy = sf_hmap_upsert(t->interned, p, n, sf_hash_bytes(p, n, JOIN_SEED), &inserted);
    if (!copy)
        return NULL;
    if (inserted) /* at most nrows * ncols < 2^32 strings */
        *copy = copy_with_id(t, p, n, (uint32_t)sf_hmap_count(t->interned));
    /* A failed copy stays NULL in the map: the next sight fails too. */
    if (n <= 8 && *copy) {
        t->short_copies[at].bits = bits;
        t->short_copies[at].len = n;
        t->short_copies[at].copy = *copy;
    }
    return *copy;
}

/* Doubles the rows' room. Rows are read at random by lookups (the cells a
 * join selects): from SF_BIGMEM_HUGE bytes on they move to a huge-page
 * block, as the key index does, so a lookup's row costs no page walk. */
static int rows_grow(sf_join_table *t)
{
    /* The first room holds the expected rows, rounded up to the power of
     * two the doublings would have reached: the same memory, made once. */
    size_t cap = 64;
    if (t->cap)
        cap = 2 * t->cap;
    else
        while (cap < t->expect)
            cap *= 2;
    if (t->ncols > SIZE_MAX / sizeof *t->rows / cap)
        return SF_E_NOMEM;
    size_t bytes = cap * t->ncols * sizeof *t->rows;
    sf_value *rows = bytes < SF_BIGMEM_HUGE ? realloc(t->rows, bytes)
                                            : sf_bigmem_calloc(cap * t->ncols, sizeof *rows);
    if (!rows)
        return SF_E_NOMEM;
    if (bytes >= SF_BIGMEM_HUGE) {
        if (t->nrows)
            memcpy(rows, t->rows, t->nrows * t->ncols * sizeof *rows);
        free(t->rows);
    }
    t->rows = rows;
    t->cap = cap;
    return 0;
}

int sf_join_table_add(sf_join_table *t, const sf_value *row)
{
    const sf_value *key = &row[t->key_col];
    int rc = 0;
    if (key->type == SF_NULL)
        return SF_E_INVAL;
    if (t->nrows >= UINT32_MAX - 1)
        return SF_E_NOMEM;
    if (t->int_keys < 0) {
        t->int_keys = key->type == SF_INT;
        if (key->type == SF_STRING) {
            if (str_index_grow(t) != 0)
                return SF_E_NOMEM;
        } else if (!t->int_keys && !(t->map = sf_hmap_new(sizeof(uint32_t), 256))) {
            return SF_E_NOMEM;
        }
    }
    if (t->int_keys && key->type != SF_INT)
        return SF_E_INVAL; /* one key type per table (the spec fixes it) */
    if (t->sslots && (key->type != SF_STRING || key->u.s.n > UINT32_MAX))
        return SF_E_INVAL;
    if (t->sslots && t->nrows >= STR_ROWS - 1)
        return SF_E_NOMEM; /* a slot's row number has 31 bits */

    if (t->nrows == t->cap && rows_grow(t) != 0)
        return SF_E_NOMEM;
    /* Index before copying, so a duplicate leaves the table unchanged. */
    int_slot *slot = NULL;
    str_slot *sslot = NULL;
    uint64_t shash = 0;
    uint32_t *mapped = NULL;
    if (t->sslots) {
        if ((t->nrows + 1) * 10 > t->nslots * 7 && str_index_grow(t) != 0)
            return SF_E_NOMEM;
        shash = str_hash(key->u.s.p, key->u.s.n);
        sslot = str_probe(t, key->u.s.p, key->u.s.n, shash);
        if (sslot->row)
            return SF_E_EXISTS;
    } else if (t->int_keys) {
        if ((t->nrows + 1) * 10 > (t->slots ? t->mask + 1 : 0) * 7 && int_index_grow(t) != 0)
            return SF_E_NOMEM;
        slot = int_probe(t, key->u.i);
        if (slot->row)
            return SF_E_EXISTS;
    } else {
        if (encode_key(&t->key, key) != 0)
            return SF_E_NOMEM;
        int inserted = 0;
        mapped = sf_hmap_upsert(t->map, t->key.p, t->key.n,
                                sf_hash_bytes(t->key.p, t->key.n, JOIN_SEED), &inserted);
        if (!mapped)
            return SF_E_NOMEM;
        if (!inserted)
            return SF_E_EXISTS;
    }
    sf_value *dst = t->rows + t->nrows * t->ncols;
    for (size_t c = 0; c < t->ncols; c++) {
        dst[c] = row[c];
        if (row[c].type == SF_STRING) {
            char *copy = (int)c == t->key_col
                             ? copy_with_id(t, row[c].u.s.p, row[c].u.s.n, (uint32_t)t->nrows + 1)
                             : intern(t, row[c].u.s.p, row[c].u.s.n);
            if (!copy) {
                dst[c] = sf_null(); /* the row is complete (if short of a string) */
                rc = SF_E_NOMEM;
            } else {
                dst[c].u.s.p = copy;
            }
        }
    }
    t->nrows++;
    if (sslot) {
        sslot->row = (uint32_t)t->nrows;
        if (!str_inline(key->u.s.p, key->u.s.n, &sslot->k0, &sslot->k1)) {
            sslot->k0 = shash;
            sslot->k1 = (uint32_t)key->u.s.n;
            sslot->row |= STR_LONG;
        }
    } else if (slot) {
        slot->key = key->u.i;
        slot->row = (uint32_t)t->nrows;
        if (direct_note(t, key->u.i, (uint32_t)t->nrows) != 0 && !rc)
            rc = SF_E_NOMEM;
    } else {
        *mapped = (uint32_t)t->nrows;
    }
    return rc;
}

const sf_value *sf_join_table_find(const sf_join_table *t, const sf_value *key)
{
    uint32_t id;
    return sf_join_table_lookup(t, key, &id);
}

static __attribute__((noinline)) const sf_value *
lookup_other(const sf_join_table *t, const sf_value *key, uint32_t *key_id);

const sf_value *sf_join_table_lookup(const sf_join_table *t, const sf_value *key,
                                     uint32_t *key_id)
{
    /* String ids of 8 to 12 bytes not ending in NUL first ("user_000783":
     * S1's and S3's, looked up for every row): the key's first and last
     * words make the hash and its inline form (see str_slot), compared with
     * the slot's as they are, with no byte compare. Other keys take a call
     * that keeps this path's frame small (no encoding buffer, few
     * registers saved). */
    size_t n = key->u.s.n;
    if (t->sslots && key->type == SF_STRING && n - 8 <= STR_INLINE - 8) {
        uint64_t x0, x1;
        str_words(key->u.s.p, n, &x0, &x1);
        /* bytes 8 to n - 1, zero-padded: the top n - 8 bytes of x1 */
        uint32_t k1 = (uint32_t)((x1 >> (8 * (15 - n))) >> 8);
        if (x1 >> 56) { /* the last byte is not NUL: the inline form */
            const str_slot *s;
            for (size_t pos = str_pos(t, str_hash_words(x0, x1, n));;) {
                s = &t->sslots[pos];
                if (!s->row || (s->k0 == x0 && s->k1 == k1 && !(s->row & STR_LONG)))
                    break;
                if (++pos == t->nslots)
                    pos = 0;
            }
            *key_id = s->row;
            return s->row ? row_key(t, s->row) - t->key_col : NULL;
        }
    }
    return lookup_other(t, key, key_id);
}

/* sf_join_table_lookup of any other key: a string of another length, an
 * int, a key of another type, or one that cannot match. */
static __attribute__((noinline)) const sf_value *
lookup_other(const sf_join_table *t, const sf_value *key, uint32_t *key_id)
{
    if (t->sslots && key->type == SF_STRING) {
        const str_slot *s = str_probe(t, key->u.s.p, key->u.s.n, str_hash(key->u.s.p, key->u.s.n));
        *key_id = slot_row(s);
        return s->row ? row_key(t, slot_row(s)) - t->key_col : NULL;
    }
    *key_id = 0;
    if (t->nrows == 0 || key->type == SF_NULL || t->sslots)
        return NULL;
    if (t->int_keys) {
        if (key->type != SF_INT)
            return NULL;
        uint32_t row;
        uint64_t off = (uint64_t)key->u.i - (uint64_t)t->direct_base;
        if (t->direct)
            row = off < t->direct_n ? t->direct[off] : 0;
        else
            row = int_probe(t, key->u.i)->row;
        return row ? t->rows + (size_t)(row - 1) * t->ncols : NULL;
    }
    /* Encode on the stack: keys are short; a longer one takes the heap. */
    unsigned char small[128];
    size_t klen = sf_value_encoded_size(key);
    unsigned char *k = klen <= sizeof small ? small : malloc(klen);
    if (!k)
        return NULL;
    sf_value_encode(key, k);
    const uint32_t *row = sf_hmap_find(t->map, k, klen, sf_hash_bytes(k, klen, JOIN_SEED));
    if (k != small)
        free(k);
    return row && *row ? t->rows + (size_t)(*row - 1) * t->ncols : NULL;
}

void sf_join_table_prefetch(const sf_join_table *t, const sf_value *key)
{
    if (t->sslots && key->type == SF_STRING) {
        uint64_t h = str_hash(key->u.s.p, key->u.s.n);
        __builtin_prefetch(&t->sslots[str_pos(t, h)], 0, 3);
    } else if (t->int_keys == 1 && key->type == SF_INT) {
        uint64_t off = (uint64_t)key->u.i - (uint64_t)t->direct_base;
        if (t->direct && off < t->direct_n)
            __builtin_prefetch(&t->direct[off], 0, 3);
        else if (t->slots)
            __builtin_prefetch(&t->slots[int_pos(t, key->u.i)], 0, 3);
    }
}

/* The index's layout and its lookup are in join.h (inline in a caller's
 * per-row loop). */
typedef sf_join_cell_entry cell_entry;
_Static_assert(SF_JOIN_CELLS_MAX < SF_JOIN_CELL_LOW, "entry numbers fit the index's low bits");

/* Index words for a table of nrows keys: a power of two, at least 64,
 * at most half full. */
static size_t cells_words(size_t nrows)
{
    size_t n = 64;
    while (n < 2 * nrows)
        n *= 2;
    return n;
}

size_t sf_join_cells_memory(const sf_join_table *t)
{
    if (!t || !t->sslots || t->nrows > SF_JOIN_CELLS_MAX || !t->nrows)
        return 0;
    return sizeof(sf_join_cells) + cells_words(t->nrows) * sizeof(uint32_t) +
           t->nrows * sizeof(cell_entry);
}

sf_join_cells *sf_join_cells_new(const sf_join_table *t, size_t col)
{
    if (!t || !t->sslots || col >= t->ncols || t->nrows > SF_JOIN_CELLS_MAX || !t->nrows)
        return NULL;
    size_t n = cells_words(t->nrows);
    sf_join_cells *c = calloc(1, sizeof *c);
    uint32_t *index = calloc(n, sizeof *index);
    cell_entry *ents = aligned_alloc(64, t->nrows * sizeof *ents);
    if (!c || !index || !ents) {
        free(c);
        free(index);
        free(ents);
        return NULL;
    }
    memset(ents, 0, t->nrows * sizeof *ents);
    *c = (sf_join_cells){t, &t->nrows, col, t->nrows, n - 1, index, ents};
    /* From the table's own index: the keys it finds, with its key ids. */
    for (size_t i = 0; i < t->nslots; i++) {
        uint32_t r = slot_row(&t->sslots[i]);
        const sf_value *k = r ? row_key(t, r) : NULL;
        if (!r || k->u.s.n - 8 > 8)
            continue;
        uint64_t x0, x1;
        str_words(k->u.s.p, k->u.s.n, &x0, &x1);
        uint64_t h = sf_join_cells_hash(x0, x1, k->u.s.n);
        size_t pos = (size_t)h & c->mask;
        while (index[pos])
            pos = (pos + 1) & c->mask;
        index[pos] = sf_join_cell_tag(h) | r; /* the entry of row r is r - 1 */
        const sf_value *cell = &t->rows[(size_t)(r - 1) * t->ncols + col];
        ents[r - 1] =
            (cell_entry){x0, x1, (uint32_t)k->u.s.n, r, sf_join_value_id(cell), 0, *cell, 0};
    }
    return c;
}

int sf_join_cells_other(const sf_join_cells *c, const sf_value *key, sf_value *cell,
                        uint32_t *key_id, uint32_t *cell_id)
{
    const sf_value *row = sf_join_table_lookup(c->t, key, key_id);
    *cell_id = row ? sf_join_value_id(&row[c->col]) : 0;
    if (row)
        *cell = row[c->col];
    return row != NULL;
}

void sf_join_cells_free(sf_join_cells *c)
{
    if (!c)
        return;
    free(c->index);
    free(c->ents);
    free(c);
}

size_t sf_join_table_rows(const sf_join_table *t) { return t->nrows; }

uint32_t sf_join_table_key_id(const sf_join_table *t, const sf_value *row)
{
    return t->sslots ? (uint32_t)((size_t)(row - t->rows) / t->ncols) + 1 : 0;
}

uint32_t sf_join_table_id(const sf_join_table *t, const sf_value *row, size_t col)
{
    (void)t;
    return sf_join_value_id(&row[col]);
}

const sf_value *sf_join_table_row(const sf_join_table *t, size_t i)
{
    return t->rows + i * t->ncols;
}

void sf_join_table_free(sf_join_table *t)
{
    if (!t)
        return;
    free(t->rows);
    free(t->slots);
    free(t->direct);
    free(t->sslots);
    sf_hmap_free(t->map);
    sf_hmap_free(t->interned);
    sf_arena_free(&t->strings);
    sf_buf_free(&t->key);
    free(t);
}

/* keycache.c - tuples of words to groups: a flat open-addressing
 * table (linear probing) of slots of nwords + 1 words, the last holding
 * the group's word + 1 (0: empty). Probing compares whole words; a lookup
 * usually reads one or two cache lines.
 *
 * Keys of up to three columns whose values lie in small ranges (a daily
 * KPI's date and two dimension ids) also go into a direct array: each
 * column's value minus a base, within a power-of-two span, is a bit field
 * of the cell's index, and the cell holds the group's word + 1. A lookup
 * then neither hashes nor compares. The array holds every tuple of the
 * table that has its type tags and fits its spans; it is rebuilt around
 * the ranges seen (rounded up to powers of two) when a tuple falls
 * outside, put off while the cells would be many times the tuples, and
 * given up for good past DIRECT_MAX_CELLS.
 */
#include "core/keycache.h"

#include <stdlib.h>
#include <string.h>


struct sf_keycache {
    size_t nwords;   /* the tuple's words rounded up to 4, 8 or 16 (zeros
                      * after the tuple), so hashing and comparing run over
                      * a constant count the compiler unrolls */
    size_t stride;   /* nwords + 1 */
    size_t max;      /* tuples at most */
    size_t count;
    size_t mask;     /* slots - 1 */
    uint64_t *slots; /* (mask + 1) * stride words */
    /* The direct array (nwords 4 only): NULL when there is none. */
    int direct_off;           /* given up: never built again */
    size_t direct_retry;      /* no build before count reaches this */
    uint64_t dtags;           /* the type tags word of its tuples */
    uint64_t dbase[3];        /* column i's value at field 0 */
    unsigned dbits[3];        /* column i's field width */
    unsigned dshift[3];       /* column i's field position */
    uint64_t *direct;         /* 1 << (dbits sum) cells: group + 1, 0: none */
    /* How direct_find reads column i's word, as tuple() would for its
     * type (by dtags), without a branch: the value's first 8 bytes and
     * its id, each and-ed with its mask (all ones for an int's or a
     * double's bits, the low half for a date's day, the id for a string;
     * zeros for a NULL). */
    uint64_t dwmask[3];
    uint64_t dimask[3];
    int dfast;                /* every column has masks: direct_find may answer */
};


/* Cells of the direct array at most (8 bytes each), and per tuple held. */
#define DIRECT_MAX_CELLS ((size_t)1 << 18)
#define DIRECT_CELLS_PER_TUPLE 32

sf_keycache *sf_keycache_new(size_t nwords, size_t max_entries)
{
    if (nwords < 2 || nwords > SF_KEYCACHE_MAX_COLS + 1)
        return NULL;
    sf_keycache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->nwords = nwords <= 4 ? 4 : nwords <= 8 ? 8 : 16;
    c->stride = c->nwords + 1;
    c->max = max_entries;
    c->mask = 63;
    c->slots = calloc((c->mask + 1) * c->stride, sizeof *c->slots);
    if (!c->slots) {
        free(c);
        return NULL;
    }
    return c;
}

void sf_keycache_free(sf_keycache *c)
{
    if (!c)
        return;
    free(c->slots);
    free(c->direct);
    free(c);
}

/* The tuple of row's values at slots in w; 0 when one has no fixed form. */
static inline int tuple(const sf_value *row, const uint32_t *ids, const int *slots, size_t n,
                        uint64_t *w)
{
    uint64_t tags = 0;
    for (size_t i = 0; i < n; i++) {
        const sf_value *v = &row[slots[i]];
        uint64_t x;
        switch (v->type) {
        case SF_NULL: x = 0; break;
        case SF_BOOL: x = (uint64_t)v->u.b; break;
        case SF_INT:
        case SF_TIMESTAMP: x = (uint64_t)v->u.i; break;
        case SF_DOUBLE: memcpy(&x, &v->u.d, sizeof x); break;
        case SF_DATE: x = (uint32_t)v->u.date; break;
        case SF_STRING:
            if (!ids || !(x = ids[slots[i]]))
                return 0;
            break;
        default: return 0; /* decimal: two words; not worth a wider tuple */
        }
        tags |= (uint64_t)v->type << (4 * i);
        w[1 + i] = x;
    }
    w[0] = tags;
    return 1;
}

/* A multiply-xorshift over the words: the same on every run (the cache
 * never leaves the process, so it needs no agreement with other hashes). */
static inline __attribute__((always_inline)) uint64_t tuple_hash(const uint64_t *w,
                                                                  size_t nwords)
{
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < nwords; i++) {
        h = (h ^ w[i]) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
    }
    return h ^ (h >> 29);
}

static inline __attribute__((always_inline)) int same_words(const uint64_t *a, const uint64_t *b, size_t n)
{
    uint64_t d = 0;
    for (size_t i = 0; i < n; i++)
        d |= a[i] ^ b[i];
    return d == 0;
}

/* The slot holding w (nw words, c->nwords) or the empty slot where it
 * would go. */
static inline __attribute__((always_inline)) uint64_t *probe_n(const sf_keycache *c,
                                                               const uint64_t *w, uint64_t h,
                                                               size_t nw)
{
    size_t pos = (size_t)h & c->mask;
    for (;;) {
        uint64_t *s = c->slots + pos * (nw + 1);
        if (!s[nw] || same_words(s, w, nw))
            return s;
        pos = (pos + 1) & c->mask;
    }
}

static uint64_t *probe(const sf_keycache *c, const uint64_t *w, uint64_t h)
{
    return c->nwords == 4 ? probe_n(c, w, h, 4)
           : c->nwords == 8 ? probe_n(c, w, h, 8)
                            : probe_n(c, w, h, 16);
}

/* The direct array's typed lookup, for S1's rows: each value read the
 * way the array's tags say (no switch on its type, no tuple written) and
 * its field placed at once. 1 with *group on a hit; 0 when the row goes
 * the general way (other tags, a value outside the spans, an empty cell:
 * a string without an id has none, as no tuple holds a 0 id). */
static inline __attribute__((always_inline)) int direct_find(const sf_keycache *c,
                                                              const sf_value *row,
                                                              const uint32_t *ids,
                                                              const int *slots, size_t n,
                                                              uint64_t *group)
{
    uint64_t tags = 0, out = 0;
    size_t idx = 0;
    for (size_t i = 0; i < n; i++) {
        const sf_value *v = &row[slots[i]];
        uint64_t word; /* u.date's 4 bytes are its low half; ids has a word per slot */
        memcpy(&word, &v->u, sizeof word);
        uint64_t x = (word & c->dwmask[i]) | (ids[slots[i]] & c->dimask[i]);
        uint64_t d = x - c->dbase[i];
        tags |= (uint64_t)v->type << (4 * i);
        out |= d >> c->dbits[i];
        idx |= (size_t)d << c->dshift[i];
    }
    if (tags != c->dtags || out)
        return 0;
    uint64_t g = c->direct[idx];
    *group = g - 1;
    return g != 0;
}

/* direct_find where the direct array can answer at all. */
static inline int direct_try(const sf_keycache *c, const sf_value *row, const uint32_t *ids,
                             const int *slots, size_t n, uint64_t *group)
{
    return c->dfast && ids && n <= 3 && direct_find(c, row, ids, slots, n, group);
}

int sf_keycache_find_direct(const sf_keycache *c, const sf_value *row, const uint32_t *ids,
                            const int *slots, size_t n, uint64_t *group)
{
    /* Three columns (a daily KPI's date and two dimension ids): the loop
     * unrolled for the constant count. */
    if (n == 3)
        return c->dfast && ids && direct_find(c, row, ids, slots, 3, group);
    return direct_try(c, row, ids, slots, n, group);
}

int sf_keycache_direct_prepare(const sf_keycache *c, const sf_value *row, const uint32_t *ids,
                               const int *slots, size_t n, sf_keycache_direct *d)
{
    /* A column past n reads a zero word of type 0, as its tuple holds. */
    static const uint64_t zero;
    if (!c->dfast || !ids || n > 3)
        return 0;
    for (size_t i = 0; i < 3; i++) {
        d->tag[i] = (c->dtags >> (4 * i)) & 15;
        d->base[i] = c->dbase[i];
        d->bits[i] = c->dbits[i];
        d->shift[i] = c->dshift[i];
        if (i >= n) {
            d->type[i] = (const uint8_t *)&zero;
            d->word[i] = &zero;
            d->mask[i] = 0;
        } else {
            const sf_value *v = &row[slots[i]];
            d->type[i] = &v->type;
            /* The masks say which of the two the array reads (dfast: one). */
            d->word[i] = c->dimask[i] ? (const void *)&ids[slots[i]] : (const void *)&v->u;
            d->mask[i] = c->dimask[i] ? 0xffffffffull : c->dwmask[i];
        }
    }
    d->cells = c->direct;
    return 1;
}

int sf_keycache_find(const sf_keycache *c, const sf_value *row, const uint32_t *ids,
                     const int *slots, size_t n, uint64_t *w, uint64_t *h, uint64_t *group)
{
    if (direct_try(c, row, ids, slots, n, group))
        return 1;
    if (!tuple(row, ids, slots, n, w))
        return -1;
    for (size_t i = n + 1; i < c->nwords; i++)
        w[i] = 0;
    const uint64_t *s;
    if (c->direct && w[0] == c->dtags) {
        uint64_t d0 = w[1] - c->dbase[0], d1 = w[2] - c->dbase[1], d2 = w[3] - c->dbase[2];
        if (((d0 >> c->dbits[0]) | (d1 >> c->dbits[1]) | (d2 >> c->dbits[2])) == 0) {
            uint64_t g =
                c->direct[(d0 << c->dshift[0]) | (d1 << c->dshift[1]) | (d2 << c->dshift[2])];
            if (g) {
                *group = g - 1;
                return 1;
            }
            *h = tuple_hash(w, 4); /* not in the table either: the array holds all it fits */
            return 0;
        }
    }
    if (c->nwords == 4) {
        *h = tuple_hash(w, 4);
        s = probe_n(c, w, *h, 4);
    } else {
        *h = tuple_hash(w, c->nwords);
        s = probe(c, w, *h);
    }
    if (!s[c->nwords])
        return 0;
    *group = s[c->nwords] - 1;
    return 1;
}

static int grow(sf_keycache *c)
{
    size_t old_n = c->mask + 1, n = 2 * old_n;
    uint64_t *old = c->slots, *fresh = calloc(n * c->stride, sizeof *fresh);
    if (!fresh)
        return SF_E_NOMEM;
    c->slots = fresh;
    c->mask = n - 1;
    for (size_t i = 0; i < old_n; i++) {
        const uint64_t *s = old + i * c->stride;
        if (s[c->nwords])
            memcpy(probe(c, s, tuple_hash(s, c->nwords)), s, c->stride * sizeof *s);
    }
    free(old);
    return 0;
}

/* The cell of tuple w in the direct array, or NULL when it has other
 * tags or falls outside the spans. */
static uint64_t *direct_cell(const sf_keycache *c, const uint64_t *w)
{
    if (w[0] != c->dtags)
        return NULL;
    size_t idx = 0;
    for (int i = 0; i < 3; i++) {
        uint64_t d = w[1 + i] - c->dbase[i];
        if (d >> c->dbits[i])
            return NULL;
        idx |= (size_t)d << c->dshift[i];
    }
    return c->direct + idx;
}

/* The bit fields' order in a cell's index: the column whose values fill
 * its span best in the low bits, the sparsest on top. A daily KPI's
 * tuples (31 days, 10 countries, 8 categories whose ids are spread over
 * 64) then lie in 8 runs of 512 cells, 32 KiB, 6 in 10 cells used,
 * instead of about one used cell a line over some 2,000 lines: far fewer
 * lines to keep in the caches while the input streams past. Sets dshift.
 * Returns 0 or SF_E_NOMEM. */
static int direct_order(sf_keycache *c, const uint64_t *w, const uint64_t *base,
                        const unsigned *bits)
{
    uint64_t distinct[3] = {0, 0, 0};
    size_t slots = c->mask + 1;
    for (int i = 0; i < 3; i++) {
        size_t words = (((size_t)1 << bits[i]) + 63) / 64;
        uint64_t *seen = calloc(words, sizeof *seen);
        if (!seen)
            return SF_E_NOMEM;
        for (size_t k = 0; k <= slots; k++) { /* the slots' tuples, then w */
            const uint64_t *s = k < slots ? c->slots + k * c->stride : w;
            if (k < slots && (!s[4] || s[0] != w[0]))
                continue;
            uint64_t d = s[1 + i] - base[i];
            if (d >> bits[i])
                continue;
            distinct[i] += !(seen[d / 64] >> (d % 64) & 1);
            seen[d / 64] |= (uint64_t)1 << (d % 64);
        }
        free(seen);
    }
    /* Densest first (distinct / span, compared as products); ties keep
     * the last column lowest. */
    int order[3] = {2, 1, 0};
    for (int a = 1; a < 3; a++)
        for (int b = a; b > 0; b--) {
            int x = order[b], y = order[b - 1];
            if (distinct[x] << bits[y] <= distinct[y] << bits[x])
                break;
            order[b] = y;
            order[b - 1] = x;
        }
    unsigned shift = 0;
    for (int k = 0; k < 3; k++) {
        c->dshift[order[k]] = shift;
        shift += bits[order[k]];
    }
    return 0;
}

/* Builds the direct array anew around the table's tuples with the tags of
 * w and w itself (just added): each column's range rounded up to a power
 * of two, the room split below and above it. Gives it up when too large
 * (for now when only sparse for the tuples so far). Returns 0 or
 * SF_E_NOMEM. */
static int direct_build(sf_keycache *c, const uint64_t *w)
{
    uint64_t lo[3], hi[3];
    for (int i = 0; i < 3; i++)
        lo[i] = hi[i] = w[1 + i];
    size_t slots = c->mask + 1;
    for (size_t k = 0; k < slots; k++) {
        const uint64_t *s = c->slots + k * c->stride;
        if (!s[4] || s[0] != w[0])
            continue;
        for (int i = 0; i < 3; i++) {
            lo[i] = s[1 + i] < lo[i] ? s[1 + i] : lo[i];
            hi[i] = s[1 + i] > hi[i] ? s[1 + i] : hi[i];
        }
    }
    unsigned bits[3], total = 0;
    uint64_t base[3];
    for (int i = 0; i < 3; i++) {
        uint64_t range = hi[i] - lo[i]; /* values - 1 */
        if (range >= DIRECT_MAX_CELLS)
            goto give_up;
        unsigned b = 0;
        while (((uint64_t)1 << b) < range + 1)
            b++;
        uint64_t room = ((uint64_t)1 << b) - (range + 1);
        base[i] = lo[i] >= room / 2 ? lo[i] - room / 2 : 0;
        bits[i] = b;
        total += b;
    }
    if (total > 63 || ((size_t)1 << total) > DIRECT_MAX_CELLS)
        goto give_up;
    if (((size_t)1 << total) > DIRECT_CELLS_PER_TUPLE * (c->count + 16)) {
        /* Sparse for the tuples so far: again once they doubled. */
        free(c->direct);
        c->direct = NULL;
        c->dfast = 0;
        c->direct_retry = 2 * c->count;
        return 0;
    }
    uint64_t *cells = calloc((size_t)1 << total, sizeof *cells);
    if (!cells)
        return SF_E_NOMEM;
    free(c->direct);
    c->direct = cells;
    c->dtags = w[0];
    c->dfast = 1;
    for (int i = 0; i < 3; i++) {
        c->dbase[i] = base[i];
        c->dbits[i] = bits[i];
        c->dwmask[i] = c->dimask[i] = 0;
        switch ((w[0] >> (4 * i)) & 15) {
        case SF_NULL: break;
        case SF_INT:
        case SF_TIMESTAMP:
        case SF_DOUBLE: c->dwmask[i] = ~(uint64_t)0; break; /* u.i: the double's bits */
        case SF_DATE: c->dwmask[i] = 0xffffffffull; break;
        case SF_STRING: c->dimask[i] = ~(uint64_t)0; break;
        default: c->dfast = 0; break; /* a bool: u.b */
        }
    }
    if (direct_order(c, w, base, bits) != 0)
        return SF_E_NOMEM;
    for (size_t k = 0; k < slots; k++) {
        const uint64_t *s = c->slots + k * c->stride;
        uint64_t *cell = s[4] ? direct_cell(c, s) : NULL;
        if (cell)
            *cell = s[4];
    }
    return 0;
give_up:
    free(c->direct);
    c->direct = NULL;
    c->dfast = 0;
    c->direct_off = 1;
    return 0;
}

int sf_keycache_add(sf_keycache *c, const uint64_t *w, uint64_t h, uint64_t group)
{
    if (c->count >= c->max)
        return SF_E_LIMIT;
    if ((c->count + 1) * 2 > c->mask + 1 && grow(c) != 0)
        return SF_E_NOMEM;
    uint64_t *s = probe(c, w, h);
    memcpy(s, w, c->nwords * sizeof *w);
    s[c->nwords] = group + 1;
    c->count++;
    if (c->nwords != 4 || c->direct_off || c->count < c->direct_retry)
        return 0;
    uint64_t *cell = c->direct ? direct_cell(c, w) : NULL;
    if (cell) {
        *cell = group + 1;
        return 0;
    }
    if (c->direct && w[0] != c->dtags)
        return 0; /* other tags (a NULL value): the table's only */
    return direct_build(c, w);
}

void sf_keycache_clear(sf_keycache *c)
{
    memset(c->slots, 0, (c->mask + 1) * c->stride * sizeof *c->slots);
    c->count = 0;
    free(c->direct); /* the next tuples may lie elsewhere */
    c->direct = NULL;
    c->dfast = 0;
    c->direct_retry = 0;
}

size_t sf_keycache_count(const sf_keycache *c) { return c->count; }

size_t sf_keycache_memory(const sf_keycache *c)
{
    if (!c)
        return 0;
    size_t cells = 0;
    if (c->direct)
        cells = (size_t)1 << (c->dbits[0] + c->dbits[1] + c->dbits[2]);
    return sizeof *c + (c->mask + 1) * c->stride * sizeof *c->slots + cells * sizeof *c->direct;
}

/* keycache.c - tuples of words to groups: a flat open-addressing
 * table (linear probing) of slots of nwords + 1 words, the last holding
 * the group's word + 1 (0: empty). Probing compares whole words; a lookup
 * usually reads one or two cache lines.
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
};

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

int sf_keycache_find(const sf_keycache *c, const sf_value *row, const uint32_t *ids,
                     const int *slots, size_t n, uint64_t *w, uint64_t *h, uint64_t *group)
{
    if (!tuple(row, ids, slots, n, w))
        return -1;
    for (size_t i = n + 1; i < c->nwords; i++)
        w[i] = 0;
    const uint64_t *s;
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
    return 0;
}

void sf_keycache_clear(sf_keycache *c)
{
    memset(c->slots, 0, (c->mask + 1) * c->stride * sizeof *c->slots);
    c->count = 0;
}

size_t sf_keycache_count(const sf_keycache *c) { return c->count; }

size_t sf_keycache_memory(const sf_keycache *c)
{
    return c ? sizeof *c + (c->mask + 1) * c->stride * sizeof *c->slots : 0;
}

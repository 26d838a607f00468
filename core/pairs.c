/* pairs.c - distinct (group, value) pairs, counted per group.
 *
 * A slot is two words: tag = gid * naggs + agg + 1 (0 = empty) and the
 * value's bits (fixed-width types) or its dictionary id (strings, and the
 * encodings of other types). The table grows at 70% load; the counts per
 * (gid, agg) grow with every new pair, so nothing is counted at the end.
 */
#include "core/pairs.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/hash.h"

#define PAIR_SEED 0x50414952ull /* "PAIR" */

struct sf_pairs {
    size_t ngroups, naggs;
    sf_type *types;
    uint64_t *slots;  /* 2 words per slot */
    size_t mask;      /* slots - 1 */
    uint64_t count;   /* pairs held */
    uint64_t *counts; /* per gid * naggs + agg */
    sf_hmap *dict;    /* interned bytes -> uint32 id (its entry number) */
    sf_buf tmp;       /* encoding of a non-string interned value */
};

/* 1 when values of type t are kept as their bits; else interned. */
static int fixed_type(sf_type t)
{
    return t == SF_INT || t == SF_DOUBLE || t == SF_DATE || t == SF_BOOL || t == SF_TIMESTAMP;
}

sf_pairs *sf_pairs_new(size_t ngroups, const sf_type *types, size_t naggs)
{
    if (naggs == 0 || ngroups > SIZE_MAX / naggs / sizeof(uint64_t) ||
        ngroups * naggs >= UINT64_MAX - 1)
        return NULL;
    sf_pairs *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->ngroups = ngroups;
    p->naggs = naggs;
    p->mask = 1023;
    p->types = malloc(naggs * sizeof *p->types);
    p->slots = calloc(2 * (p->mask + 1), sizeof *p->slots);
    p->counts = calloc(ngroups ? ngroups * naggs : 1, sizeof *p->counts);
    p->dict = sf_hmap_new(sizeof(uint32_t), 1024);
    if (!p->types || !p->slots || !p->counts || !p->dict) {
        sf_pairs_free(p);
        return NULL;
    }
    memcpy(p->types, types, naggs * sizeof *types);
    return p;
}

void sf_pairs_free(sf_pairs *p)
{
    if (!p)
        return;
    free(p->types);
    free(p->slots);
    free(p->counts);
    sf_hmap_free(p->dict);
    sf_buf_free(&p->tmp);
    free(p);
}

uint64_t sf_pairs_value_bits(sf_type t, const sf_value *v)
{
    switch (t) {
    case SF_INT: return (uint64_t)(v->type == SF_DOUBLE ? (int64_t)v->u.d : v->u.i);
    case SF_DOUBLE: {
        double d = v->type == SF_INT ? (double)v->u.i : v->u.d;
        if (d == 0)
            d = 0; /* folds -0.0 */
        if (d != d)
            return 0x7ff8000000000000ull;
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        return bits;
    }
    case SF_DATE: return (uint64_t)(uint32_t)v->u.date;
    case SF_TIMESTAMP: return (uint64_t)v->u.i;
    case SF_BOOL: return (uint64_t)v->u.b;
    default: return 0;
    }
}

sf_value sf_pairs_bits_value(sf_type t, uint64_t bits)
{
    double d;
    switch (t) {
    case SF_INT: return sf_int((int64_t)bits);
    case SF_DOUBLE: memcpy(&d, &bits, sizeof d); return sf_double(d);
    case SF_DATE: return sf_date((int32_t)(uint32_t)bits);
    case SF_TIMESTAMP: return sf_timestamp((int64_t)bits);
    case SF_BOOL: return sf_bool((int)bits);
    default: return sf_null();
    }
}

/* The bytes an interned value of type t is known by: a string's own bytes,
 * else its encoding (in tmp). Returns 0 or SF_E_NOMEM. */
static int interned_bytes(sf_buf *tmp, sf_type t, const sf_value *v, const void **b, size_t *n)
{
    if (t == SF_STRING) {
        *b = v->u.s.p;
        *n = v->u.s.n;
        return 0;
    }
    tmp->n = 0;
    size_t need = sf_value_encoded_size(v);
    if (sf_buf_reserve(tmp, need) != 0)
        return SF_E_NOMEM;
    tmp->n = sf_value_encode(v, tmp->p);
    *b = tmp->p;
    *n = tmp->n;
    return 0;
}

static size_t slot_of(const sf_pairs *p, uint64_t tag, uint64_t bits)
{
    size_t pos = (size_t)sf_hash_u64(bits ^ (tag * 0x9e3779b97f4a7c15ull)) & p->mask;
    while (p->slots[2 * pos] && (p->slots[2 * pos] != tag || p->slots[2 * pos + 1] != bits))
        pos = (pos + 1) & p->mask;
    return pos;
}

static int grow(sf_pairs *p)
{
    size_t old_slots = p->mask + 1;
    uint64_t *old = p->slots, *fresh = calloc(4 * old_slots, sizeof *fresh);
    if (!fresh)
        return SF_E_NOMEM;
    p->slots = fresh;
    p->mask = 2 * old_slots - 1;
    for (size_t i = 0; i < old_slots; i++) {
        if (!old[2 * i])
            continue;
        size_t pos = slot_of(p, old[2 * i], old[2 * i + 1]);
        p->slots[2 * pos] = old[2 * i];
        p->slots[2 * pos + 1] = old[2 * i + 1];
    }
    free(old);
    return 0;
}

int sf_pairs_add(sf_pairs *p, uint32_t gid, uint32_t agg, const sf_value *v, int *added)
{
    if (added)
        *added = 0;
    if (v->type == SF_NULL)
        return 0;
    if (gid >= p->ngroups || agg >= p->naggs)
        return SF_E_INVAL;
    sf_type t = p->types[agg];
    int numeric = v->type == SF_INT || v->type == SF_DOUBLE;
    if (v->type != t && !((t == SF_INT || t == SF_DOUBLE) && numeric))
        return SF_E_INVAL;
    if ((p->count + 1) * 10 > (p->mask + 1) * 7 && grow(p) != 0)
        return SF_E_NOMEM;
    uint64_t bits;
    if (fixed_type(t)) {
        bits = sf_pairs_value_bits(t, v);
    } else {
        const void *b;
        size_t n;
        if (interned_bytes(&p->tmp, t, v, &b, &n) != 0)
            return SF_E_NOMEM;
        size_t before = sf_hmap_count(p->dict);
        int ins = 0;
        uint32_t *id = before >= UINT32_MAX - 1
                           ? NULL
                           : sf_hmap_upsert(p->dict, b, n, sf_hash_bytes(b, n, PAIR_SEED), &ins);
        if (!id)
            return SF_E_NOMEM;
        /* Insertion-ordered: a new value's id is its entry number, which
         * sf_hmap_entry() finds again. */
        if (ins)
            *id = (uint32_t)before;
        bits = *id;
    }
    uint64_t tag = (uint64_t)gid * p->naggs + agg + 1;
    size_t pos = slot_of(p, tag, bits);
    if (p->slots[2 * pos])
        return 0;
    p->slots[2 * pos] = tag;
    p->slots[2 * pos + 1] = bits;
    p->count++;
    p->counts[tag - 1]++;
    if (added)
        *added = 1;
    return 0;
}

uint64_t sf_pairs_count(const sf_pairs *p, uint32_t gid, uint32_t agg)
{
    return gid < p->ngroups && agg < p->naggs ? p->counts[(size_t)gid * p->naggs + agg] : 0;
}

uint64_t sf_pairs_size(const sf_pairs *p) { return p->count; }

size_t sf_pairs_memory(const sf_pairs *p)
{
    return 16 * (p->mask + 1) + p->ngroups * p->naggs * sizeof *p->counts +
           sf_hmap_memory(p->dict) + p->tmp.cap;
}

/* The value a slot's bits stand for in aggregate agg (strings borrowed
 * from the dictionary). */
static sf_value slot_value(const sf_pairs *p, uint32_t agg, uint64_t bits)
{
    sf_type t = p->types[agg];
    if (fixed_type(t))
        return sf_pairs_bits_value(t, bits);
    const void *k;
    size_t kl;
    sf_hmap_entry(p->dict, (size_t)bits, &k, &kl, NULL, NULL);
    if (t == SF_STRING)
        return sf_string(k, kl);
    sf_value v = sf_null();
    sf_value_decode(k, kl, &v);
    return v;
}

int sf_pairs_each(const sf_pairs *p, sf_pairs_fn fn, void *ctx)
{
    for (size_t i = 0; i <= p->mask; i++) {
        uint64_t tag = p->slots[2 * i];
        if (!tag)
            continue;
        uint32_t gid = (uint32_t)((tag - 1) / p->naggs), agg = (uint32_t)((tag - 1) % p->naggs);
        sf_value v = slot_value(p, agg, p->slots[2 * i + 1]);
        int rc = fn(ctx, gid, agg, &v);
        if (rc)
            return rc;
    }
    return 0;
}

uint64_t sf_pairs_hash(uint64_t group_hash, uint32_t agg, sf_type t, const sf_value *v)
{
    uint64_t seed = sf_hash_u64(group_hash ^ ((uint64_t)agg + 1) * 0x9e3779b97f4a7c15ull);
    if (fixed_type(t))
        return sf_hash_u64(sf_pairs_value_bits(t, v) ^ seed);
    if (v->type == SF_STRING)
        return sf_hash_bytes(v->u.s.p, v->u.s.n, seed);
    unsigned char enc[64];
    size_t n = sf_value_encoded_size(v);
    if (n > sizeof enc)
        return seed;
    sf_value_encode(v, enc);
    return sf_hash_bytes(enc, n, seed);
}

int sf_pairs_encode(sf_buf *out, uint32_t gid, uint32_t agg, const sf_value *v)
{
    int rc = sf_buf_put_leb(out, gid);
    if (!rc)
        rc = sf_buf_put_leb(out, agg);
    if (!rc && (rc = sf_buf_reserve(out, sf_value_encoded_size(v))) == 0)
        out->n += sf_value_encode(v, out->p + out->n);
    return rc;
}

int sf_pairs_decode(const unsigned char *rec, size_t len, uint32_t *gid, uint32_t *agg,
                    sf_value *v)
{
    uint64_t g, a;
    size_t p = sf_leb_get(rec, len, &g), q;
    if (!p || g > UINT32_MAX || !(q = sf_leb_get(rec + p, len - p, &a)) || a > UINT32_MAX)
        return SF_E_PARSE;
    p += q;
    size_t used = sf_value_decode(rec + p, len - p, v);
    if (!used || p + used != len)
        return SF_E_PARSE;
    *gid = (uint32_t)g;
    *agg = (uint32_t)a;
    return 0;
}

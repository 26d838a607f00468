/* dedupe.c - first row per key, by ordinal (see dedupe.h). The keys live
 * in an sf_hmap whose value block holds the ordinal and a reference to the
 * record's bytes in the table's own arena. */
#include "core/dedupe.h"

#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/error.h"
#include "core/hash.h"

typedef struct slot {
    sf_dedupe_ord ord;
    unsigned char *rec;
    size_t len, cap;
    int tag;
} slot;

struct sf_dedupe {
    sf_hmap *map;
    sf_arena recs;
};

sf_dedupe *sf_dedupe_new(void)
{
    sf_dedupe *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->map = sf_hmap_new(sizeof(slot), 1024);
    if (!t->map) {
        free(t);
        return NULL;
    }
    sf_arena_init(&t->recs, 0);
    return t;
}

void sf_dedupe_free(sf_dedupe *t)
{
    if (!t)
        return;
    sf_hmap_free(t->map);
    sf_arena_free(&t->recs);
    free(t);
}

static int ord_before(const sf_dedupe_ord *a, const sf_dedupe_ord *b)
{
    if (a->file != b->file)
        return a->file < b->file;
    if (a->chunk != b->chunk)
        return a->chunk < b->chunk;
    if (a->offset != b->offset)
        return a->offset < b->offset;
    return a->row < b->row;
}

/* Stores rec in s, in place when it fits. */
static int store(sf_dedupe *t, slot *s, const void *rec, size_t len)
{
    if (len > s->cap || !s->rec) {
        unsigned char *p = sf_arena_alloc(&t->recs, len ? len : 1);
        if (!p)
            return SF_E_NOMEM;
        s->rec = p;
        s->cap = len;
    }
    memcpy(s->rec, rec, len);
    s->len = len;
    return 0;
}

int sf_dedupe_offer(sf_dedupe *t, const void *key, size_t klen, uint64_t hash,
                    const sf_dedupe_ord *ord, const void *rec, size_t len, int tag,
                    int *old_tag)
{
    slot *s = sf_hmap_find(t->map, key, klen, hash);
    if (s) {
        if (!ord_before(ord, &s->ord))
            return SF_DEDUPE_DROPPED;
        int prev = s->tag;
        if (store(t, s, rec, len) != 0)
            return SF_E_NOMEM;
        s->ord = *ord;
        s->tag = tag;
        if (old_tag)
            *old_tag = prev;
        return SF_DEDUPE_REPLACED;
    }
    /* Room for the record first, so a failure leaves the map unchanged. */
    unsigned char *p = sf_arena_alloc(&t->recs, len ? len : 1);
    if (!p)
        return SF_E_NOMEM;
    int inserted = 0;
    s = sf_hmap_upsert(t->map, key, klen, hash, &inserted);
    if (!s)
        return SF_E_NOMEM;
    memcpy(p, rec, len);
    s->rec = p;
    s->len = s->cap = len;
    s->ord = *ord;
    s->tag = tag;
    return SF_DEDUPE_NEW;
}

size_t sf_dedupe_count(const sf_dedupe *t) { return sf_hmap_count(t->map); }

void sf_dedupe_entry(const sf_dedupe *t, size_t i, const void **rec, size_t *len,
                     sf_dedupe_ord *ord, int *tag)
{
    void *v;
    sf_hmap_entry(t->map, i, NULL, NULL, NULL, &v);
    const slot *s = v;
    if (rec)
        *rec = s->rec;
    if (len)
        *len = s->len;
    if (ord)
        *ord = s->ord;
    if (tag)
        *tag = s->tag;
}

uint64_t sf_dedupe_hash(const sf_dedupe *t, size_t i)
{
    uint64_t h;
    sf_hmap_entry(t->map, i, NULL, NULL, &h, NULL);
    return h;
}

size_t sf_dedupe_memory(const sf_dedupe *t)
{
    return sf_hmap_memory(t->map) + t->recs.reserved;
}

/* join.c - dimension table: hash map from encoded key to the row itself. */
#include "core/join.h"

#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/hash.h"

struct sf_join_table {
    size_t ncols;
    int key_col;
    sf_hmap *map;   /* encoded key -> row (ncols sf_values) */
    sf_arena strings;
    unsigned char keybuf[64];
};

sf_join_table *sf_join_table_new(size_t ncols, int key_col)
{
    sf_join_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ncols = ncols;
    t->key_col = key_col;
    t->map = sf_hmap_new(ncols * sizeof(sf_value), 256);
    if (!t->map) {
        free(t);
        return NULL;
    }
    sf_arena_init(&t->strings, 0);
    return t;
}

/* Encodes key for lookup; a long string key goes to a heap buffer. */
static const unsigned char *encode_key(const sf_value *key, unsigned char *small, size_t cap,
                                       unsigned char **heap, size_t *len)
{
    *len = sf_value_encoded_size(key);
    unsigned char *p = small;
    if (*len > cap) {
        p = *heap = malloc(*len);
        if (!p)
            return NULL;
    }
    sf_value_encode(key, p);
    return p;
}

int sf_join_table_add(sf_join_table *t, const sf_value *row)
{
    const sf_value *key = &row[t->key_col];
    if (key->type == SF_NULL)
        return SF_E_INVAL;
    unsigned char *heap = NULL;
    size_t klen;
    const unsigned char *k = encode_key(key, t->keybuf, sizeof t->keybuf, &heap, &klen);
    if (!k)
        return SF_E_NOMEM;
    int inserted = 0;
    sf_value *dst = sf_hmap_upsert(t->map, k, klen, sf_hash_bytes(k, klen, 0x4a4f494eull),
                                   &inserted);
    free(heap);
    if (!dst)
        return SF_E_NOMEM;
    if (!inserted)
        return SF_E_EXISTS;
    for (size_t c = 0; c < t->ncols; c++) {
        dst[c] = row[c];
        if (row[c].type == SF_STRING) {
            char *copy = sf_arena_memdup(&t->strings, row[c].u.s.p, row[c].u.s.n);
            if (!copy)
                return SF_E_NOMEM;
            dst[c].u.s.p = copy;
        }
    }
    return 0;
}

const sf_value *sf_join_table_find(const sf_join_table *t, const sf_value *key)
{
    unsigned char small[64];
    unsigned char *heap = NULL;
    size_t klen;
    const unsigned char *k = encode_key(key, small, sizeof small, &heap, &klen);
    if (!k)
        return NULL;
    const sf_value *row = sf_hmap_find(t->map, k, klen, sf_hash_bytes(k, klen, 0x4a4f494eull));
    free(heap);
    return row;
}

size_t sf_join_table_rows(const sf_join_table *t) { return sf_hmap_count(t->map); }

void sf_join_table_free(sf_join_table *t)
{
    if (!t)
        return;
    sf_hmap_free(t->map);
    sf_arena_free(&t->strings);
    free(t);
}

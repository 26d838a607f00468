/* rows.c - result row table. */
#include "core/rows.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

void sf_rows_init(sf_rows *r, size_t ncols)
{
    memset(r, 0, sizeof *r);
    r->ncols = ncols;
    sf_arena_init(&r->mem, 0);
}

sf_value *sf_rows_append(sf_rows *r)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 256;
        sf_value *v = realloc(r->v, cap * r->ncols * sizeof *v);
        if (!v)
            return NULL;
        r->v = v;
        r->cap = cap;
    }
    sf_value *row = sf_rows_at(r, r->n++);
    for (size_t c = 0; c < r->ncols; c++)
        row[c] = sf_null();
    return row;
}

int sf_rows_keep_string(sf_rows *r, sf_value *v)
{
    if (v->type != SF_STRING)
        return 0;
    char *p = sf_arena_memdup(&r->mem, v->u.s.p, v->u.s.n);
    if (!p)
        return SF_E_NOMEM;
    v->u.s.p = p;
    return 0;
}

size_t sf_rows_encoded_size(const sf_value *row, size_t ncols)
{
    size_t n = 0;
    for (size_t c = 0; c < ncols; c++)
        n += sf_value_encoded_size(&row[c]);
    return n;
}

size_t sf_rows_encode(const sf_value *row, size_t ncols, unsigned char *out)
{
    size_t n = 0;
    for (size_t c = 0; c < ncols; c++)
        n += sf_value_encode(&row[c], out + n);
    return n;
}

int sf_rows_append_record(sf_rows *r, const unsigned char *rec, size_t len)
{
    unsigned char *copy = sf_arena_alloc(&r->mem, len ? len : 1);
    if (!copy)
        return SF_E_NOMEM;
    memcpy(copy, rec, len);
    sf_value *row = sf_rows_append(r);
    if (!row)
        return SF_E_NOMEM;
    size_t p = 0;
    for (size_t c = 0; c < r->ncols; c++) {
        size_t used = sf_value_decode(copy + p, len - p, &row[c]);
        if (!used) {
            r->n--;
            return SF_E_PARSE;
        }
        p += used;
    }
    if (p != len) {
        r->n--;
        return SF_E_PARSE;
    }
    return 0;
}

/* qsort has no context argument in C11; the sort runs on one thread, so the
 * keys live in file-level variables for its duration. */
static const sf_value *sort_base;
static size_t sort_ncols;
static const int *sort_keys;
static size_t sort_nkeys;

static int cmp_rows(const void *a, const void *b)
{
    const sf_value *x = sort_base + *(const size_t *)a * sort_ncols;
    const sf_value *y = sort_base + *(const size_t *)b * sort_ncols;
    for (size_t k = 0; k < sort_nkeys; k++) {
        int c = sf_value_cmp(&x[sort_keys[k]], &y[sort_keys[k]]);
        if (c)
            return c;
    }
    for (size_t c = 0; c < sort_ncols; c++) {
        int d = sf_value_cmp(&x[c], &y[c]);
        if (d)
            return d;
    }
    /* sf_value_cmp calls 0.0 and -0.0 (and NaNs with other payloads) equal;
     * their encodings differ, which makes the order total. */
    for (size_t c = 0; c < sort_ncols; c++) {
        if (x[c].type == SF_DOUBLE && y[c].type == SF_DOUBLE) {
            uint64_t a, b;
            memcpy(&a, &x[c].u.d, sizeof a);
            memcpy(&b, &y[c].u.d, sizeof b);
            if (a != b)
                return a < b ? -1 : 1;
        }
    }
    return 0;
}

int sf_rows_sort(sf_rows *r, const int *keys, size_t nkeys)
{
    if (r->n < 2)
        return 0;
    size_t *idx = malloc(r->n * sizeof *idx);
    sf_value *sorted = malloc(r->n * r->ncols * sizeof *sorted);
    if (!idx || !sorted) {
        free(idx);
        free(sorted);
        return SF_E_NOMEM;
    }
    for (size_t i = 0; i < r->n; i++)
        idx[i] = i;
    sort_base = r->v;
    sort_ncols = r->ncols;
    sort_keys = keys;
    sort_nkeys = nkeys;
    qsort(idx, r->n, sizeof *idx, cmp_rows);
    for (size_t i = 0; i < r->n; i++)
        memcpy(sorted + i * r->ncols, sf_rows_at(r, idx[i]), r->ncols * sizeof *sorted);
    free(r->v);
    free(idx);
    r->v = sorted;
    r->cap = r->n;
    return 0;
}

void sf_rows_free(sf_rows *r)
{
    free(r->v);
    sf_arena_free(&r->mem);
    size_t ncols = r->ncols;
    sf_rows_init(r, ncols);
}

/* join.h - a dimension table indexed by its key, for broadcast hash joins.
 *
 * Every rank holds the whole table. Rows are arrays of sf_value in the
 * dimension's column order; strings are copied into the table, so rows stay
 * valid for the table's lifetime. Keys are unique: a duplicate key is an
 * error, since an inner join with it would silently multiply fact rows.
 */
#ifndef SF_JOIN_H
#define SF_JOIN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "core/value.h"

typedef struct sf_join_table sf_join_table;

/* New empty table with ncols columns, the key at key_col. NULL when out of
 * memory. */
sf_join_table *sf_join_table_new(size_t ncols, int key_col);

/* A hint before the first row: about nrows rows are coming (a count
 * estimated from the input's size), so the key index and the rows' room
 * are made once at their final size instead of doubling from 64 (each
 * doubling zeroes and faults in fresh memory and rehashes). More rows
 * still fit; the hint is ignored once a row was added. Cannot fail. */
void sf_join_table_reserve(sf_join_table *t, size_t nrows);

/* Adds a row (ncols values; copied). Returns 0, SF_E_EXISTS for a duplicate
 * key, SF_E_INVAL for a NULL key, or SF_E_NOMEM. */
int sf_join_table_add(sf_join_table *t, const sf_value *row);

/* The row whose key equals key (sf_value_same), borrowed; NULL if none. */
const sf_value *sf_join_table_find(const sf_join_table *t, const sf_value *key);

/* sf_join_table_find() that also gives the matched row's key id in
 * *key_id (sf_join_table_key_id(): its number + 1 for a string key; 0
 * for no match or another key type), for the hot path. Cannot fail. */
const sf_value *sf_join_table_lookup(const sf_join_table *t, const sf_value *key,
                                     uint32_t *key_id);

/* A hint before sf_join_table_lookup() of key: starts loading the index
 * slot the lookup reads first (a table far larger than the caches costs a
 * miss there per row). Changes nothing. Cannot fail. */
void sf_join_table_prefetch(const sf_join_table *t, const sf_value *key);

/* The dense id of cell col of row (a row this table returned): for the
 * key column the row's number + 1; for another string column its
 * string's number + 1 among the table's distinct non-key strings (equal
 * strings share one, whichever column they are in); 0 for a NULL or a
 * value of another type. Ids are given as rows are added, so tables
 * built from the same rows in the same order agree (a replicated table:
 * every rank; a partitioned table's share numbers its own rows). Equal
 * ids of one column stand for equal strings. Cannot fail. */
uint32_t sf_join_table_id(const sf_join_table *t, const sf_value *row, size_t col);

/* sf_join_table_id() of row's key cell, from the row's place in the table
 * (no read of the key string, which a lookup of a short key never
 * touches): the row's number + 1 for a string key, 0 for another key
 * type. Cannot fail. */
uint32_t sf_join_table_key_id(const sf_join_table *t, const sf_value *row);

/* sf_join_table_id() of a cell itself, for the hot path: v must be a cell
 * of a row a table returned (or a copy of one), never another value. The
 * id is stored in the 4 bytes before the table's copy of the string. */
static inline uint32_t sf_join_value_id(const sf_value *v)
{
    uint32_t id = 0;
    if (v->type == SF_STRING)
        memcpy(&id, v->u.s.p - 4, sizeof id);
    return id;
}

/* An index of a small table's string keys of 8 to 16 bytes with one
 * column's cell beside each key (a join that selects one column): a
 * lookup probes an array of 4-byte words (a row number and 16 bits of
 * the key's hash: 8 KiB for 1,000 rows, which stays in cache) and reads
 * one 64-byte entry (the key's words, its id, the cell and the cell's
 * id), where sf_join_table_lookup() reads a 16-byte slot and then the
 * row, two dependent misses once the input streaming through the caches
 * has evicted them. A snapshot of the table's rows: a key it does not
 * hold is asked of the table itself once more rows were added. */
typedef struct sf_join_cells sf_join_cells;

/* The index of t's column col; NULL when t has no string keys, its
 * index would be larger than the caches (more than SF_JOIN_CELLS_MAX
 * rows), col is out of range, or memory ran out: the caller looks up
 * in t instead. t is borrowed for the index's lifetime. */
#define SF_JOIN_CELLS_MAX 8192
sf_join_cells *sf_join_cells_new(const sf_join_table *t, size_t col);

/* The index's layout, here only so that sf_join_cells_lookup() runs
 * inline in a caller's per-row loop (core/pipeline's run_steps: S1 does
 * two a line, and a call's frame and its results through memory were a
 * third of a lookup's instructions). Not an API: use the functions. */

/* An entry: one cache line, the key's words first. */
typedef struct sf_join_cell_entry {
    uint64_t k0, k1;  /* the key's first and last 8 bytes */
    uint32_t len;     /* the key's length */
    uint32_t row;     /* row index + 1: the key id */
    uint32_t cell_id; /* sf_join_value_id() of cell */
    uint32_t pad;
    sf_value cell;
    uint64_t spare;
} sf_join_cell_entry;
_Static_assert(sizeof(sf_join_cell_entry) == 64, "a cell entry is one cache line");

/* The index's words: entry number + 1 in the low SF_JOIN_CELL_BITS bits
 * (0 = empty), the top bits of the key's hash above, so a probe reads an
 * entry only when those agree. */
#define SF_JOIN_CELL_BITS 16
#define SF_JOIN_CELL_LOW (((uint32_t)1 << SF_JOIN_CELL_BITS) - 1)

struct sf_join_cells {
    const sf_join_table *t;
    const size_t *live_rows; /* the table's row count, read at each lookup */
    size_t col;
    size_t nrows;      /* the table's rows when the index was made */
    size_t mask;       /* index words - 1 (load at most a half) */
    uint32_t *index;   /* 4 bytes a word: 8 KiB for 1,000 rows, it stays in cache */
    sf_join_cell_entry *ents; /* 64-byte aligned, by row */
};

static inline uint32_t sf_join_cell_tag(uint64_t h)
{
    return (uint32_t)(h >> 48) << SF_JOIN_CELL_BITS;
}

/* The index's hash of a key's two words and length: their 128-bit
 * product, its halves folded (a multiply-fold over both words, as the
 * wyhash family mixes short keys). Its low bits place the key, its top
 * 16 bits are the tag; it never leaves the index. */
static inline uint64_t sf_join_cells_hash(uint64_t x0, uint64_t x1, size_t n)
{
    unsigned __int128 p = (unsigned __int128)(x0 ^ 0xa0761d6478bd642full ^ n) *
                          (x1 ^ 0xe7037ed1a0b428dbull);
    return (uint64_t)p ^ (uint64_t)(p >> 64);
}

/* sf_join_cells_lookup() of a key the index does not hold (not a string
 * of 8 to 16 bytes, NULL, or rows added since the index was made): the
 * table's lookup. */
int sf_join_cells_other(const sf_join_cells *c, const sf_value *key, sf_value *cell,
                        uint32_t *key_id, uint32_t *cell_id);

/* Looks key up: 1 when a row has it, with *cell its cell of the column
 * (a copy; strings borrowed from the table), *key_id as
 * sf_join_table_lookup() gives it and *cell_id as sf_join_value_id()
 * of the cell; 0 when none has it, as for a NULL key (*key_id and
 * *cell_id 0, *cell untouched). key may be *cell: it is read first. Cannot fail. */
static inline int sf_join_cells_lookup(const sf_join_cells *c, const sf_value *key,
                                       sf_value *cell, uint32_t *key_id, uint32_t *cell_id)
{
    size_t n = key->u.s.n;
    if (key->type != SF_STRING || n - 8 > 8)
        goto other;
    uint64_t x0, x1;
    memcpy(&x0, key->u.s.p, 8);
    memcpy(&x1, key->u.s.p + n - 8, 8);
    uint64_t h = sf_join_cells_hash(x0, x1, n);
    uint32_t tag = sf_join_cell_tag(h);
    for (size_t pos = (size_t)h;; pos++) {
        uint32_t e = c->index[pos & c->mask];
        if (!e)
            break;
        const sf_join_cell_entry *s = &c->ents[(e & SF_JOIN_CELL_LOW) - 1];
        if ((e & ~SF_JOIN_CELL_LOW) == tag && s->len == n && s->k0 == x0 && s->k1 == x1) {
            *key_id = s->row;
            *cell_id = s->cell_id;
            *cell = s->cell;
            return 1;
        }
    }
    /* Rows added since the index was made are asked of the table on a
     * miss only: keys are unique and rows never change, so a key the
     * index holds has the same row, id and cell in the table now. */
    if (c->nrows == *c->live_rows) {
        *key_id = 0;
        *cell_id = 0;
        return 0;
    }
other:;
    /* ids of their own: the caller's stay in registers on the common path */
    uint32_t kid, cid;
    int found = sf_join_cells_other(c, key, cell, &kid, &cid);
    *key_id = kid;
    *cell_id = cid;
    return found;
}

/* Frees c; NULL is a no-op. */
void sf_join_cells_free(sf_join_cells *c);

/* Bytes sf_join_cells_new() of t would take (its index words and
 * entries), 0 when it would make none for t's size or key type: for a
 * memory budget that counts what the pipeline adds to the tables. */
size_t sf_join_cells_memory(const sf_join_table *t);

/* Row i (0 <= i < rows), in insertion order; borrowed. */
const sf_value *sf_join_table_row(const sf_join_table *t, size_t i);

/* Number of rows. */
size_t sf_join_table_rows(const sf_join_table *t);

/* Bytes of memory held (rows, index, strings), for the memory budget.
 * Cannot fail; 0 for NULL. */
size_t sf_join_table_memory(const sf_join_table *t);

/* Frees t; NULL is a no-op. */
void sf_join_table_free(sf_join_table *t);

#endif

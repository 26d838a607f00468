/* rows.h - a table of result rows: append, encode for shipping, sort.
 *
 * Rows are arrays of ncols sf_values stored back to back; strings point into
 * the table's arena (records are copied there before decoding), so a row
 * table owns everything it references.
 */
#ifndef SF_ROWS_H
#define SF_ROWS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/value.h"

typedef struct sf_rows {
    size_t ncols;
    size_t n;    /* rows */
    size_t cap;  /* rows allocated */
    sf_value *v; /* n * ncols values */
    sf_arena mem;
} sf_rows;

/* An empty table. Cannot fail. */
void sf_rows_init(sf_rows *r, size_t ncols);

/* Row i (borrowed until the table changes size). */
static inline sf_value *sf_rows_at(const sf_rows *r, size_t i) { return r->v + i * r->ncols; }

/* Makes room for n rows in all (no-op when there is): a table whose size
 * is known up front then holds exactly that, not up to twice as much.
 * Returns 0 or SF_E_NOMEM (the table is unchanged). */
int sf_rows_reserve(sf_rows *r, size_t n);

/* Appends a row of NULLs and returns it, or NULL when out of memory. */
sf_value *sf_rows_append(sf_rows *r);

/* sf_rows_append() for a caller that sets the row's first nset columns at
 * once: only columns [nset, ncols) are set to NULL (the first nset hold
 * whatever the slot held). */
sf_value *sf_rows_append_filled(sf_rows *r, size_t nset);

/* Copies a string into the table's arena so a row can keep it. Returns 0 or
 * SF_E_NOMEM. */
int sf_rows_keep_string(sf_rows *r, sf_value *v);

/* Copies every string of row (ncols values) into the table's arena, all
 * of them in one piece (no NUL after each, unlike sf_rows_keep_string),
 * so a row can keep them. Returns 0 or SF_E_NOMEM (row unchanged). */
int sf_rows_keep_strings(sf_rows *r, sf_value *row);

/* Encoded size of a row / encodes it (sf_value_encode of every column). */
size_t sf_rows_encoded_size(const sf_value *row, size_t ncols);
size_t sf_rows_encode(const sf_value *row, size_t ncols, unsigned char *out);

/* Decodes an encoded record into row (ncols values, the caller's slot,
 * say a row of r), its strings copied into r's arena. Returns 0,
 * SF_E_PARSE when the record does not hold exactly ncols values (row is
 * then undefined), or SF_E_NOMEM. */
int sf_rows_decode_record(sf_rows *r, sf_value *row, const unsigned char *rec, size_t len);

/* Gives back the room of rows allocated but unused, when it is more than
 * an eighth of the table: a table that shrank does not keep its largest
 * size. Rows keep their contents (their addresses may change). Cannot
 * fail (out of memory keeps the room). */
void sf_rows_fit(sf_rows *r);

/* Appends a row from an encoded record (copied). Returns 0, SF_E_PARSE when
 * the record does not hold exactly ncols values, or SF_E_NOMEM. */
int sf_rows_append_record(sf_rows *r, const unsigned char *rec, size_t len);

/* Sorts rows by the columns keys[0..nkeys) (sf_value_cmp), then by every
 * column in order, then by the bits of doubles that sf_value_cmp calls equal
 * (0.0 / -0.0), so the result is one total order whatever the input order.
 * Returns 0 or SF_E_NOMEM. */
int sf_rows_sort(sf_rows *r, const int *keys, size_t nkeys);

/* sf_rows_sort with a direction per key: desc[k] != 0 orders key k
 * descending, the exact reverse of its ascending order (so NULLs, first
 * ascending, come last). desc may be NULL (all ascending). The tie-break
 * over every column stays ascending, so the order is still total. Returns 0
 * or SF_E_NOMEM. */
int sf_rows_sort_dir(sf_rows *r, const int *keys, const unsigned char *desc, size_t nkeys);

/* sf_rows_sort_dir, one partition at a time: the rows' numbers are
 * first grouped by partition (equal values of the first npart keys; the
 * partitions in the order of those keys), then each partition's numbers
 * are sorted alone, so the sort's items are for the largest partition
 * instead of the whole table (beside 4 bytes per row of row numbers);
 * the rows then move once, along the cycles of the whole permutation. The
 * order is exactly sf_rows_sort_dir's. Partitions
 * are told apart by their values' encodings, so a partition column with
 * doubles or decimals, mixed types, or more partitions than
 * max(4096, rows / 64), falls back to sorting the whole table at once.
 * Returns 0 or SF_E_NOMEM. */
int sf_rows_sort_parts(sf_rows *r, const int *keys, const unsigned char *desc, size_t nkeys,
                       size_t npart);

/* sf_rows_sort_parts without moving the rows: *order (malloc'd, the
 * caller frees it) gets r->n row numbers, row order[i] being the i-th in
 * that order, so a writer that only reads the rows visits them sorted
 * with no move. For fewer than 2 rows, or UINT32_MAX or more, the rows
 * themselves are sorted and *order is NULL (the identity). Returns 0 or
 * SF_E_NOMEM (*order NULL). */
int sf_rows_order_parts(sf_rows *r, const int *keys, const unsigned char *desc, size_t nkeys,
                        size_t npart, uint32_t **order);

/* A partition as sf_rows_walk_parts hands it over, sorted. Borrowed for
 * the emit call only. */
typedef struct sf_rows_part {
    size_t index;          /* its place among the partitions in output order */
    const sf_value *first; /* one of its rows (its partition values) */
    size_t n;              /* its rows */
    const uint32_t *order; /* n visit numbers in sort order: order[k] == j when
                              the k-th row is the j-th of this partition that
                              visit was given */
} sf_rows_part;

/* What sf_rows_walk_parts calls. start (may be NULL) learns each
 * partition of a batch and its rows before the batch's pass; visit gets
 * every row of the batch in table order (part: its partition's index)
 * before the batch sorts; emit gets each partition of the batch, in
 * output order, sorted. A nonzero return stops the walk and is its
 * result. */
typedef struct sf_rows_walk {
    int (*start)(void *ctx, size_t part, size_t n);
    int (*visit)(void *ctx, size_t part, const sf_value *row);
    int (*emit)(void *ctx, const sf_rows_part *p);
    void *ctx;
} sf_rows_walk;

/* sf_rows_walk_parts did nothing: the caller sorts another way. */
#define SF_ROWS_NOT_WALKED 1

/* sf_rows_order_parts for a writer that only reads each row once: the
 * partitions (equal values of the first npart keys; npart 0: one of every
 * row) go in batches of about a quarter of the table, and a batch's rows
 * are visited, their sort prefixes made, in one pass in table order - the
 * rows of a batch lie a few apart, not one in every partition count -
 * then each partition sorts alone and is emitted with its order, which
 * is exactly sf_rows_sort_dir's. The rows stay put. Returns 0,
 * SF_E_NOMEM, a callback's nonzero return, or SF_ROWS_NOT_WALKED (before
 * any callback) where sf_rows_order_parts would sort the whole table at
 * once (partition columns it cannot tell apart by encoding, too many
 * partitions, UINT32_MAX rows or more). */
int sf_rows_walk_parts(const sf_rows *r, const int *keys, const unsigned char *desc,
                       size_t nkeys, size_t npart, const sf_rows_walk *w);

/* Appends the byte image of v for sf_rows_sort_images: one byte, 0 for
 * NULL, else 1 and the type's number, then the value: int64 and
 * timestamp big-endian with the sign bit flipped, a date likewise in 4
 * bytes, a bool in one, a string's bytes with each 0x00 written 0x00 0xFF
 * and 0x00 0x00 after them. Images of values are prefix-free and compare
 * as bytes as sf_value_cmp orders the values (types apart by their
 * number, as there); with desc every byte is inverted (the reverse
 * order). Images of several values one after the other compare as the
 * values do in turn. Returns 0, SF_E_NOMEM, or SF_E_TYPE for a double or
 * decimal (sf_value_cmp compares those by value with int64: no image). */
int sf_rows_image_append(sf_buf *out, const sf_value *v, int desc);

/* 1 when one of the 8 bytes of w is 0x00: exactly when (w - 0x01..01) &
 * ~w & 0x80..80 is not zero. */
static inline int sf_rows_word_has_zero(uint64_t w)
{
    return ((w - 0x0101010101010101ull) & ~w & 0x8080808080808080ull) != 0;
}

/* 1 when one of the m bytes at p is 0x00: eight at a time, the rest one
 * by one. */
static inline int sf_rows_has_zero_byte(const unsigned char *p, size_t m)
{
    size_t i = 0;
    for (; i + 8 <= m; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (sf_rows_word_has_zero(w))
            return 1;
    }
    for (; i < m; i++) {
        if (p[i] == 0)
            return 1;
    }
    return 0;
}

/* Bytes sf_rows_image_put may write for v. */
static inline size_t sf_rows_image_size(const sf_value *v)
{
    return 2 + (v->type == SF_STRING ? 2 * v->u.s.n + 2 : 8);
}

/* sf_rows_image_append's image of v written at b (room:
 * sf_rows_image_size), inline for a caller that makes many (the reduce's
 * CSV text path): returns its length, or 0 for a double or decimal. */
static inline size_t sf_rows_image_put(unsigned char *b, const sf_value *v, int desc)
{
    size_t pos = 0;
    b[pos++] = v->type != SF_NULL;
    if (v->type != SF_NULL)
        b[pos++] = v->type;
    switch ((sf_type)v->type) {
    case SF_NULL: break;
    case SF_INT:
    case SF_TIMESTAMP: {
        uint64_t w = (uint64_t)v->u.i ^ (1ull << 63);
        for (int i = 7; i >= 0; i--)
            b[pos++] = (unsigned char)(w >> (8 * i));
        break;
    }
    case SF_DATE: {
        uint32_t w = (uint32_t)v->u.date ^ (1u << 31);
        for (int i = 3; i >= 0; i--)
            b[pos++] = (unsigned char)(w >> (8 * i));
        break;
    }
    case SF_BOOL: b[pos++] = v->u.b != 0; break;
    case SF_STRING: {
        const unsigned char *p = (const unsigned char *)v->u.s.p;
        size_t n = v->u.s.n, i = 0;
        /* Without a zero byte the string is copied as it is: 8 to 16
         * bytes as two overlapping words, checked as they are loaded;
         * shorter ones byte by byte up to a zero; longer ones checked,
         * then copied by memcpy. */
        if (n >= 8 && n <= 16) {
            uint64_t x, y;
            memcpy(&x, p, 8);
            memcpy(&y, p + n - 8, 8);
            if (!sf_rows_word_has_zero(x) && !sf_rows_word_has_zero(y)) {
                memcpy(b + pos, &x, 8);
                memcpy(b + pos + n - 8, &y, 8);
                i = n;
            }
        } else if (n < 8) {
            for (; i < n && p[i]; i++)
                b[pos + i] = p[i];
        } else if (!sf_rows_has_zero_byte(p, n)) {
            memcpy(b + pos, p, n);
            i = n;
        }
        if (i == n) {
            pos += n;
        } else { /* a zero byte: each one escaped */
            for (i = 0; i < n; i++) {
                b[pos++] = p[i];
                if (p[i] == 0)
                    b[pos++] = 0xff;
            }
        }
        b[pos++] = 0;
        b[pos++] = 0;
        break;
    }
    case SF_DOUBLE:
    case SF_DECIMAL: return 0; /* compared by value with int64 */
    }
    if (desc) {
        for (size_t i = 0; i < pos; i++)
            b[i] = (unsigned char)~b[i];
    }
    return pos;
}

/* The sort's room, kept between calls of sf_rows_sort_images. */
typedef struct sf_rows_image_room sf_rows_image_room;
/* Frees the room; NULL is a no-op. */
void sf_rows_image_room_free(sf_rows_image_room *r);
/* Makes *room (NULL at first) hold n images or more: a caller that knows
 * its largest sort reserves it once. Returns 0 or SF_E_NOMEM (*room then
 * NULL). */
int sf_rows_image_room_reserve(sf_rows_image_room **room, size_t n);

/* Sorts n byte images into order[0, n): image i is img[at[j], at[j + 1])
 * with j = ids[i] (ids NULL: j = i), and order[k] is the i of the image
 * k-th in byte order (a shorter one first where one starts another;
 * equal images in the order of i). *room (NULL at first; the caller frees
 * it with sf_rows_image_room_free) is made or grown for n and kept for
 * the next call. Returns 0, SF_E_NOMEM or SF_E_RANGE (UINT32_MAX images
 * or more). */
int sf_rows_sort_images(const unsigned char *img, const uint64_t *at, const uint32_t *ids,
                        size_t n, uint32_t *order, sf_rows_image_room **room);

/* Compares rows a and b (ncols columns each) in the order sf_rows_sort_dir
 * gives them: <0, 0 or >0. */
int sf_rows_cmp_dir(const sf_value *a, const sf_value *b, size_t ncols, const int *keys,
                    const unsigned char *desc, size_t nkeys);
/* sf_rows_cmp_dir with every key ascending: the order sf_rows_sort() puts
 * rows of ncols columns in: < 0, 0 or > 0
 * as x sorts before, with or after y (0 only for rows of equal bytes).
 * An external merge of sorted runs uses it to give the same order.
 * Cannot fail. */
int sf_rows_cmp(const sf_value *x, const sf_value *y, size_t ncols, const int *keys,
                size_t nkeys);

/* Frees everything; the table is empty again. */
void sf_rows_free(sf_rows *r);

#endif

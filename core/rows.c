/* rows.c - result row table. */
#include "core/rows.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/bigmem.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/hash.h"

void sf_rows_init(sf_rows *r, size_t ncols)
{
    memset(r, 0, sizeof *r);
    r->ncols = ncols;
    sf_arena_init(&r->mem, 0);
}

int sf_rows_reserve(sf_rows *r, size_t n)
{
    if (n <= r->cap)
        return 0;
    if (r->ncols && n > SIZE_MAX / r->ncols / sizeof(sf_value))
        return SF_E_NOMEM;
    sf_value *v = realloc(r->v, (n ? n : 1) * r->ncols * sizeof *v);
    if (!v)
        return SF_E_NOMEM;
    r->v = v;
    r->cap = n;
    return 0;
}

sf_value *sf_rows_append(sf_rows *r) { return sf_rows_append_filled(r, 0); }

sf_value *sf_rows_append_filled(sf_rows *r, size_t nset)
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
    for (size_t c = nset; c < r->ncols; c++)
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

/* Copies a row's strings (total bytes in all) into one block of the
 * table's arena. */
static int keep_total(sf_rows *r, sf_value *row, size_t total)
{
    if (!total) {
        for (size_t c = 0; c < r->ncols; c++) {
            if (row[c].type == SF_STRING)
                row[c].u.s.p = ""; /* nothing to keep; not a pointer into the source */
        }
        return 0;
    }
    char *p = sf_arena_alloc(&r->mem, total);
    if (!p)
        return SF_E_NOMEM;
    for (size_t c = 0; c < r->ncols; c++) {
        if (row[c].type != SF_STRING)
            continue;
        memcpy(p, row[c].u.s.p, row[c].u.s.n);
        row[c].u.s.p = p;
        p += row[c].u.s.n;
    }
    return 0;
}

int sf_rows_keep_strings(sf_rows *r, sf_value *row)
{
    size_t total = 0;
    for (size_t c = 0; c < r->ncols; c++)
        total += row[c].type == SF_STRING ? row[c].u.s.n : 0;
    return keep_total(r, row, total);
}

int sf_rows_decode_record(sf_rows *r, sf_value *row, const unsigned char *rec, size_t len)
{
    size_t p = 0, total = 0;
    for (size_t c = 0; c < r->ncols; c++) {
        size_t used = sf_value_decode(rec + p, len - p, &row[c]);
        if (!used)
            return SF_E_PARSE;
        p += used;
        total += row[c].type == SF_STRING ? row[c].u.s.n : 0;
    }
    if (p != len)
        return SF_E_PARSE;
    /* The strings borrow from rec until copied: only they are kept, not
     * the whole record. */
    return keep_total(r, row, total);
}

int sf_rows_append_record(sf_rows *r, const unsigned char *rec, size_t len)
{
    sf_value *row = sf_rows_append(r);
    if (!row)
        return SF_E_NOMEM;
    int rc = sf_rows_decode_record(r, row, rec, len);
    if (rc)
        r->n--;
    return rc;
}

void sf_rows_fit(sf_rows *r)
{
    if (r->cap - r->n < r->cap / 8 || !r->ncols)
        return;
    sf_value *v = realloc(r->v, (r->n ? r->n : 1) * r->ncols * sizeof *v);
    if (v) {
        r->v = v;
        r->cap = r->n ? r->n : 1;
    }
}

/* qsort has no context argument in C11; the sort runs on one thread, so the
 * keys live in file-level variables for its duration. */
static const sf_value *sort_base;
static size_t sort_ncols;
static const int *sort_keys;
static const unsigned char *sort_desc;
static size_t sort_nkeys;
/* The bits of sort_item.row that number the row (sf_rows_walk_parts
 * keeps a visit number above them). */
static size_t sort_row_mask = SIZE_MAX;
/* sf_rows_sort_images: the items are byte images (image i is
 * sort_img[sort_img_at[i], sort_img_at[i + 1])), not rows. */
static const unsigned char *sort_img;
static const uint64_t *sort_img_at;
static const uint32_t *sort_img_ids;

int sf_rows_cmp_dir(const sf_value *x, const sf_value *y, size_t ncols, const int *keys,
                    const unsigned char *desc, size_t nkeys)
{
    for (size_t k = 0; k < nkeys; k++) {
        int c = sf_value_cmp(&x[keys[k]], &y[keys[k]]);
        if (c)
            return desc && desc[k] ? -c : c;
    }
    for (size_t c = 0; c < ncols; c++) {
        int d = sf_value_cmp(&x[c], &y[c]);
        if (d)
            return d;
    }
    /* sf_value_cmp calls 0.0 and -0.0 (and NaNs with other payloads) equal;
     * their encodings differ, which makes the order total. */
    for (size_t c = 0; c < ncols; c++) {
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

int sf_rows_cmp(const sf_value *x, const sf_value *y, size_t ncols, const int *keys, size_t nkeys)
{
    return sf_rows_cmp_dir(x, y, ncols, keys, NULL, nkeys);
}

static int cmp_rows(const void *a, const void *b)
{
    const sf_value *x = sort_base + *(const size_t *)a * sort_ncols;
    const sf_value *y = sort_base + *(const size_t *)b * sort_ncols;
    return sf_rows_cmp_dir(x, y, sort_ncols, sort_keys, sort_desc, sort_nkeys);
}

/* Normalized key prefixes.
 *
 * Each row gets PREFIX_BYTES of an order-preserving byte image of its
 * leading sort keys, so almost every comparison is a few integer compares
 * on data that sits next to the row number, instead of sf_value_cmp
 * through a pointer per row (and another per string). Per key column: one
 * byte, 0 for NULL (sf_value_cmp puts NULL first) and 1 otherwise, then for
 * a non-NULL value its image: int64 and date big-endian with the sign bit
 * flipped; bool one byte; a double's bits made monotone (negative: all bits
 * flipped, else the sign bit; -0.0 as 0.0, every NaN as all ones, last, as
 * sf_value_cmp has them); a string's bytes with each 0x00 written 0x00 0xFF
 * and 0x00 0x00 after the last, so a string sorts before every longer one
 * that starts with it and the next column can follow. A column whose
 * non-NULL values are of more than one type (sf_value_cmp compares int64
 * with double by value) ends the prefix. The image of the whole key list
 * orders rows as the keys do, and cutting it at PREFIX_BYTES keeps that
 * (weakly): prefix(a) < prefix(b) implies row a sorts first, and equal
 * prefixes fall back to cmp_rows. */
#define PREFIX_WORDS 4
#define PREFIX_BYTES (8 * PREFIX_WORDS)

typedef struct sort_item {
    uint64_t k[PREFIX_WORDS]; /* big-endian words of the prefix */
    size_t row;
} sort_item;

/* The 8 bytes at p as a big-endian word. */
static inline uint64_t load_be64(const unsigned char *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t word;
    memcpy(&word, p, 8);
    return __builtin_bswap64(word);
#else
    uint64_t word = 0;
    for (int i = 0; i < 8; i++)
        word = word << 8 | p[i];
    return word;
#endif
}

/* Images x and y (sort_img) as bytes, a shorter one first on a tie. */
static int img_cmp(size_t x, size_t y)
{
    x = sort_img_ids ? sort_img_ids[x] : x;
    y = sort_img_ids ? sort_img_ids[y] : y;
    size_t nx = (size_t)(sort_img_at[x + 1] - sort_img_at[x]);
    size_t ny = (size_t)(sort_img_at[y + 1] - sort_img_at[y]);
    int c = memcmp(sort_img + sort_img_at[x], sort_img + sort_img_at[y], nx < ny ? nx : ny);
    return c ? (c < 0 ? -1 : 1) : (nx > ny) - (nx < ny);
}

/* Prefix, then the rows, then (rows equal under cmp_rows, such as an
 * int64 and a double of one value) the input position: the order of a
 * stable sort, whatever algorithm gets there. */
static int cmp_items(const void *a, const void *b)
{
    const sort_item *x = a, *y = b;
    for (int w = 0; w < PREFIX_WORDS; w++) {
        if (x->k[w] != y->k[w])
            return x->k[w] < y->k[w] ? -1 : 1;
    }
    size_t xr = x->row & sort_row_mask, yr = y->row & sort_row_mask;
    int c = sort_img ? img_cmp(xr, yr) : cmp_rows(&xr, &yr);
    if (c)
        return c;
    return (x->row > y->row) - (x->row < y->row);
}

/* Byte i of an item's prefix. */
static inline unsigned prefix_byte(const sort_item *it, size_t i)
{
    return (unsigned)(it->k[i >> 3] >> (56 - 8 * (i & 7))) & 0xffu;
}

#define SMALL_SORT 32

/* x after y? The prefix words inline, cmp_items only on equal prefixes. */
static inline int item_after(const sort_item *x, const sort_item *y)
{
    for (int w = 0; w < PREFIX_WORDS; w++) {
        if (x->k[w] != y->k[w])
            return x->k[w] > y->k[w];
    }
    return cmp_items(x, y) > 0;
}

static void insertion_sort(sort_item *a, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        sort_item it = a[i];
        size_t j = i;
        while (j > 0 && item_after(&a[j - 1], &it)) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = it;
    }
}

/* Sorts items a[0, n) whose prefixes agree on their first `byte` bytes:
 * most-significant-digit radix sort in place (American flag sort) on the
 * prefix bytes, a byte where every item agrees costing one counting pass;
 * small buckets by insertion, items with equal prefixes by cmp_items (the
 * rows themselves). Linear in the rows for a bounded prefix, no extra
 * memory but 4 KiB of counts per level, at most PREFIX_BYTES levels. */
static void radix_sort(sort_item *a, size_t n, size_t byte)
{
    if (n > SMALL_SORT && byte < PREFIX_BYTES) {
        /* Skip the bytes every item shares (a partition column's value, a
         * common string start) in one pass: the first byte where any
         * item differs from the first one. */
        size_t w0 = byte >> 3;
        uint64_t diff[PREFIX_WORDS] = {0};
        for (size_t i = 1; i < n; i++) {
            for (size_t w = w0; w < PREFIX_WORDS; w++)
                diff[w] |= a[i].k[w] ^ a[0].k[w];
        }
        diff[w0] &= byte & 7 ? UINT64_MAX >> (8 * (byte & 7)) : UINT64_MAX;
        size_t w = w0;
        while (w < PREFIX_WORDS && !diff[w])
            w++;
        byte = w < PREFIX_WORDS ? 8 * w + (size_t)__builtin_clzll(diff[w]) / 8 : PREFIX_BYTES;
    }
    if (n > SMALL_SORT && byte < PREFIX_BYTES) {
        size_t count[256] = {0};
        for (size_t i = 0; i < n; i++)
            count[prefix_byte(&a[i], byte)]++;
        size_t next[256], end[256], at = 0;
        for (int b = 0; b < 256; b++) {
            next[b] = at;
            at += count[b];
            end[b] = at;
        }
        for (int b = 0; b < 256; b++) {
            while (next[b] < end[b]) {
                sort_item it = a[next[b]];
                unsigned d = prefix_byte(&it, byte);
                while (d != (unsigned)b) {
                    sort_item t = a[next[d]];
                    a[next[d]++] = it;
                    it = t;
                    d = prefix_byte(&it, byte);
                }
                a[next[b]++] = it;
            }
        }
        for (int b = 0; b < 256; b++) {
            size_t start = end[b] - count[b];
            if (count[b] > 1)
                radix_sort(a + start, count[b], byte + 1);
        }
        return;
    }
    if (n <= SMALL_SORT)
        insertion_sort(a, n);
    else
        qsort(a, n, sizeof *a, cmp_items); /* equal prefixes: the rows decide */
}

/* A sort item's first eight varying prefix bytes, packed, and where the
 * item is. */
typedef struct packed_key {
    uint64_t key;
    uint32_t at;
} packed_key;

/* sort_packed's room: two packed keys and an item for each of n items. */
typedef struct packed_room {
    packed_key *p, *q;
    sort_item *tmp;
} packed_room;

/* The packed keys p[0, n) (nv packed bytes each, as sort_packed makes
 * them, with count[v][b] items whose v-th packed byte is b) sorted
 * through their ranks: each packed byte is replaced by its rank among
 * the values it takes at its place (the order kept; a digit that takes
 * 10 values needs 4 bits, not 8), and when the ranks of all nv bytes fit
 * 32 bits, words (ranks << 32 | position) are sorted by stable 8-bit
 * counting passes: ceil(bits / 8) passes over 8-byte words instead of nv
 * passes over 16-byte pairs (S3's user ids: 4 against 8). Equal ranks
 * are equal packed keys, in input order. x and y hold n words each.
 * Returns the sorted words (x or y), or NULL when the ranks need more
 * than 32 bits. */
static const uint64_t *rank_sort(const packed_key *p, size_t n, size_t nv,
                                 size_t count[][256], uint64_t *x, uint64_t *y)
{
    uint32_t rank[8][256];
    unsigned bits[8], total = 0;
    for (size_t v = 0; v < nv; v++) {
        uint32_t r = 0;
        for (int b = 0; b < 256; b++) {
            rank[v][b] = r;
            r += count[v][b] != 0;
        }
        bits[v] = r > 1 ? 32u - (unsigned)__builtin_clz(r - 1) : 0;
        total += bits[v];
    }
    if (total > 32)
        return NULL;
    /* Each rank already at its place in the word: a key is the OR of
     * one look-up per packed byte. */
    for (size_t v = nv, shift = 0; v-- > 0; shift += bits[v]) {
        for (int b = 0; b < 256; b++)
            rank[v][b] <<= shift;
    }
    size_t npass = (total + 7) / 8;
    size_t cnt[4][256];
    memset(cnt, 0, npass * sizeof cnt[0]);
    for (size_t i = 0; i < n; i++) {
        uint64_t key = p[i].key, r = 0;
        for (size_t v = 0; v < nv; v++)
            r |= rank[v][key >> (8 * (nv - 1 - v)) & 0xffu];
        x[i] = r << 32 | p[i].at;
        for (size_t d = 0; d < npass; d++)
            cnt[d][r >> (8 * d) & 0xffu]++;
    }
    for (size_t d = 0; d < npass; d++) {
        size_t next[256], at = 0;
        for (int b = 0; b < 256; b++) {
            next[b] = at;
            at += cnt[d][b];
        }
        for (size_t i = 0; i < n; i++)
            y[next[x[i] >> (32 + 8 * d) & 0xffu]++] = x[i];
        uint64_t *t = x;
        x = y;
        y = t;
    }
    return x;
}

/* Sorts items a[0, n) as radix_sort(a, n, 0) does, for a large n whose
 * prefixes vary in few bytes (a partition's rows by user id: a few
 * digits): the first eight bytes where any prefix differs from the
 * first are packed into one word, the words sorted least significant
 * byte first (through their ranks, rank_sort, when those fit 32 bits;
 * else stable counting passes over 16-byte pairs, one per packed byte,
 * instead of MSD levels over 40-byte items that use 10 of their 256
 * buckets), and runs of equal words - equal so far, ties or not - sorted
 * by radix_sort, which looks at the rest (the input order of ties is
 * kept by the stable passes and by radix_sort's last tie-break alike).
 * With order NULL the items are moved into that order; else a is left
 * in any order and order[k] is the position in a of the k-th item,
 * which must be its row (sf_rows_sort_images). room holds n of each. */
static void sort_packed_to(sort_item *a, size_t n, const packed_room *room, uint32_t *order,
                           const uint64_t *known_diff)
{
    if (n <= SMALL_SORT || n > UINT32_MAX) {
        radix_sort(a, n, 0);
        goto items;
    }
    /* The bits where some prefix differs from the first: known_diff when
     * the caller found them as it made the items, else a pass. */
    uint64_t diff[PREFIX_WORDS] = {0};
    for (size_t w = 0; known_diff && w < PREFIX_WORDS; w++)
        diff[w] = known_diff[w];
    for (size_t i = 1; !known_diff && i < n; i++) {
        for (size_t w = 0; w < PREFIX_WORDS; w++)
            diff[w] |= a[i].k[w] ^ a[0].k[w];
    }
    unsigned pos[8];
    size_t nv = 0;
    for (size_t b = 0; b < PREFIX_BYTES && nv < 8; b++) {
        if ((diff[b >> 3] >> (56 - 8 * (b & 7))) & 0xffu)
            pos[nv++] = (unsigned)b;
    }
    if (nv == 0) { /* every prefix equal: the rows decide */
        radix_sort(a, n, 0);
        goto items;
    }
    packed_key *p = room->p, *q = room->q;
    size_t count[8][256];
    memset(count, 0, nv * sizeof count[0]);
    for (size_t i = 0; i < n; i++) {
        uint64_t key = 0;
        for (size_t v = 0; v < nv; v++) {
            unsigned byte = prefix_byte(&a[i], pos[v]);
            key = key << 8 | byte;
            count[v][byte]++;
        }
        p[i].key = key;
        p[i].at = (uint32_t)i;
    }
    /* The words in q (2n of them fit: a packed_key is 16 bytes). */
    const uint64_t *s = rank_sort(p, n, nv, count, (uint64_t *)(void *)q, (uint64_t *)(void *)q + n);
    if (s) {
        for (size_t i = 0; i < n;) {
            size_t j = i + 1;
            while (j < n && s[j] >> 32 == s[i] >> 32)
                j++;
            if (order && j - i == 1) {
                order[i] = (uint32_t)s[i];
            } else {
                sort_item *t = order ? room->tmp : room->tmp + i;
                for (size_t k = i; k < j; k++)
                    t[k - i] = a[(uint32_t)s[k]];
                if (j - i > 1)
                    radix_sort(t, j - i, 0);
                for (size_t k = i; order && k < j; k++)
                    order[k] = (uint32_t)t[k - i].row;
            }
            i = j;
        }
        if (!order)
            memcpy(a, room->tmp, n * sizeof *a);
        return;
    }
    /* Least significant packed byte (the last, v = nv - 1) first. */
    for (size_t v = nv; v-- > 0;) {
        size_t next[256], at = 0;
        for (int b = 0; b < 256; b++) {
            next[b] = at;
            at += count[v][b];
        }
        for (size_t i = 0; i < n; i++)
            q[next[p[i].key >> (8 * (nv - 1 - v)) & 0xffu]++] = p[i];
        packed_key *t = p;
        p = q;
        q = t;
    }
    for (size_t i = 0; i < n; i++)
        room->tmp[i] = a[p[i].at];
    memcpy(a, room->tmp, n * sizeof *a);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && p[j].key == p[i].key)
            j++;
        if (j - i > 1)
            radix_sort(a + i, j - i, 0);
        i = j;
    }
items:
    for (size_t i = 0; order && i < n; i++)
        order[i] = (uint32_t)a[i].row;
}

static void sort_packed(sort_item *a, size_t n, const packed_room *room)
{
    sort_packed_to(a, n, room, NULL, NULL);
}

/* Appends the big-endian bytes of v (width bytes) at b[*pos], as many as
 * fit. */
static inline void put_be(unsigned char *b, size_t *pos, uint64_t v, int width)
{
    if (*pos + 8 <= PREFIX_BYTES) {
        /* Whole words at once; bytes past width are overwritten later or
         * stay as the zero padding they must be. */
        uint64_t w = v << (64 - 8 * width);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        w = __builtin_bswap64(w);
        memcpy(b + *pos, &w, 8); /* one store, not eight */
#else
        for (int i = 0; i < 8; i++)
            b[*pos + (size_t)i] = (unsigned char)(w >> (56 - 8 * i));
#endif
        *pos += (size_t)width;
        return;
    }
    for (int i = width - 1; i >= 0 && *pos < PREFIX_BYTES; i--)
        b[(*pos)++] = (unsigned char)(v >> (8 * i));
}

static void put_byte(unsigned char *b, size_t *pos, unsigned char c)
{
    if (*pos < PREFIX_BYTES)
        b[(*pos)++] = c;
}

static void put_key_image(unsigned char *b, size_t *posp, const sf_value *v, sf_type kt);

/* The prefix of row x over the first nprefix keys, whose non-NULL values
 * have types ktype[]. A descending key has the bytes of its image
 * inverted: the images are prefix-free, so two rows first differ inside
 * one key's image, where inverting reverses the comparison. */
static void make_prefix(sort_item *it, const sf_value *x, const int *keys, size_t nprefix,
                        const sf_type *ktype, const unsigned char *desc)
{
    unsigned char b[PREFIX_BYTES] = {0};
    size_t pos = 0;
    for (size_t k = 0; k < nprefix && pos < PREFIX_BYTES; k++) {
        size_t start = pos;
        put_key_image(b, &pos, &x[keys[k]], ktype[k]);
        for (size_t i = start; desc && desc[k] && i < pos; i++)
            b[i] = (unsigned char)~b[i];
    }
    for (int w = 0; w < PREFIX_WORDS; w++)
        it->k[w] = load_be64(b + 8 * w);
}

/* Appends the order-preserving image of one key value (a NULL flag byte,
 * then the value as described above) at b[*pos], as much as fits. */
static void put_key_image(unsigned char *b, size_t *posp, const sf_value *v, sf_type kt)
{
    size_t pos = *posp;
    b[pos++] = v->type != SF_NULL;
    if (v->type == SF_NULL) {
        *posp = pos;
        return;
    }
    switch (kt) {
    case SF_INT:
    case SF_TIMESTAMP: put_be(b, &pos, (uint64_t)v->u.i ^ (1ull << 63), 8); break;
    case SF_DATE: put_be(b, &pos, (uint32_t)v->u.date ^ (1u << 31), 4); break;
    case SF_BOOL: put_be(b, &pos, (uint64_t)(v->u.b != 0), 1); break;
    case SF_DOUBLE: {
        double d = v->u.d == 0 ? 0.0 : v->u.d;
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        if (d != d)
            bits = UINT64_MAX;
        else
            bits = bits >> 63 ? ~bits : bits ^ (1ull << 63);
        put_be(b, &pos, bits, 8);
        break;
    }
    case SF_STRING: {
        /* Without a 0x00 among them the bytes go as they are. They are
         * looked at where they lie, then copied: read back from the
         * copy, the words waited for the copy's byte stores (S3 1M/10M:
         * 38% of make_prefix on that load). */
        size_t m = v->u.s.n < PREFIX_BYTES - pos ? v->u.s.n : PREFIX_BYTES - pos;
        if (m && !sf_rows_has_zero_byte((const unsigned char *)v->u.s.p, m)) {
            memcpy(b + pos, v->u.s.p, m);
            pos += m;
            if (m == v->u.s.n) {
                put_byte(b, &pos, 0);
                put_byte(b, &pos, 0);
            }
            break;
        }
        for (size_t i = 0; i < v->u.s.n && pos < PREFIX_BYTES; i++) {
            unsigned char c = (unsigned char)v->u.s.p[i];
            b[pos++] = c;
            if (c == 0)
                put_byte(b, &pos, 0xff);
        }
        put_byte(b, &pos, 0);
        put_byte(b, &pos, 0);
        break;
    }
    default: break;
    }
    *posp = pos;
}

int sf_rows_image_append(sf_buf *out, const sf_value *v, int desc)
{
    size_t room = sf_rows_image_size(v);
    if (out->cap - out->n < room && sf_buf_reserve(out, room) != 0)
        return SF_E_NOMEM;
    size_t n = sf_rows_image_put(out->p + out->n, v, desc);
    if (!n)
        return SF_E_TYPE;
    out->n += n;
    return 0;
}

/* Images sf_rows_sort_images fetches ahead of the one it reads. */
#define IMAGE_AHEAD 16

struct sf_rows_image_room {
    size_t cap;
    sort_item *items;
    packed_room room;
};

void sf_rows_image_room_free(sf_rows_image_room *r)
{
    if (!r)
        return;
    free(r->items);
    free(r->room.p);
    free(r->room.q);
    free(r->room.tmp);
    free(r);
}

int sf_rows_image_room_reserve(sf_rows_image_room **roomp, size_t n)
{
    sf_rows_image_room *r = *roomp;
    if (r && r->cap >= n)
        return 0;
    /* Grown for the largest so far, then kept: a sort per partition does
     * not fault in fresh pages each time; large arrays in huge pages
     * (sf_bigmem_alloc: only pages written become resident). */
    sf_rows_image_room_free(r);
    *roomp = r = calloc(1, sizeof *r);
    if (!r)
        return SF_E_NOMEM;
    r->cap = n ? n : 1;
    r->items = sf_bigmem_alloc(r->cap * sizeof *r->items);
    r->room.p = sf_bigmem_alloc(r->cap * sizeof *r->room.p);
    r->room.q = sf_bigmem_alloc(r->cap * sizeof *r->room.q);
    r->room.tmp = sf_bigmem_alloc(r->cap * sizeof *r->room.tmp);
    if (!r->items || !r->room.p || !r->room.q || !r->room.tmp) {
        sf_rows_image_room_free(r);
        *roomp = NULL;
        return SF_E_NOMEM;
    }
    return 0;
}

int sf_rows_sort_images(const unsigned char *img, const uint64_t *at, const uint32_t *ids,
                        size_t n, uint32_t *order, sf_rows_image_room **roomp)
{
    if (n >= UINT32_MAX)
        return SF_E_RANGE;
    int rc = sf_rows_image_room_reserve(roomp, n);
    if (rc)
        return rc;
    sf_rows_image_room *r = *roomp;
    sort_item *items = r->items;
    packed_room room = r->room;
    uint64_t diff[PREFIX_WORDS] = {0};
    for (size_t i = 0; i < n; i++) {
        /* The images lie scattered in the store (a partition's rows among
         * every other's): their offsets and first bytes are fetched
         * ahead. */
        if (i + 2 * IMAGE_AHEAD < n)
            __builtin_prefetch(&at[ids ? ids[i + 2 * IMAGE_AHEAD] : i + 2 * IMAGE_AHEAD]);
        if (i + IMAGE_AHEAD < n) {
            size_t f = ids ? ids[i + IMAGE_AHEAD] : i + IMAGE_AHEAD;
            __builtin_prefetch(img + at[f]);
        }
        /* The first PREFIX_BYTES bytes, zero padded: the images are
         * prefix-free, so two that differ do so inside both. */
        size_t j = ids ? ids[i] : i;
        size_t m = (size_t)(at[j + 1] - at[j]);
        const unsigned char *s = img + at[j];
        for (size_t w = 0; w < PREFIX_WORDS; w++) {
            uint64_t word = 0;
            if (8 * w + 8 <= m) {
                word = load_be64(s + 8 * w);
            } else {
                for (size_t k = 8 * w; k < m && k < 8 * w + 8; k++)
                    word |= (uint64_t)s[k] << (56 - 8 * (k - 8 * w));
            }
            items[i].k[w] = word;
            diff[w] |= word ^ items[0].k[w]; /* sort_packed_to's pass, here */
        }
        items[i].row = i;
    }
    sort_img = img;
    sort_img_at = at;
    sort_img_ids = ids;
    sort_row_mask = SIZE_MAX;
    sort_packed_to(items, n, &room, order, diff);
    sort_img = NULL;
    sort_img_at = NULL;
    sort_img_ids = NULL;
    return 0;
}

int sf_rows_sort(sf_rows *r, const int *keys, size_t nkeys)
{
    return sf_rows_sort_dir(r, keys, NULL, nkeys);
}

/* The prefix's keys (at most nkeys of each, the caller's room). */
typedef struct prefix_keys {
    int *col;
    unsigned char *desc;
    sf_type *type;
    size_t n;
} prefix_keys;

/* What one pass over the rows learns of a candidate prefix column. */
typedef struct key_stats {
    int col;
    sf_type t;       /* its non-NULL type (SF_NULL: none seen) */
    int mixed;       /* non-NULL values of two types */
    int has_null;
    int constant;    /* every row so far holds the first row's value */
    size_t shortest; /* shortest string */
} key_stats;

/* Candidate columns looked at in one pass: the prefix rarely has room
 * for more. */
#define PREFIX_CANDIDATES 8

/* Rows ahead whose values are fetched while one is read: the rows of a
 * partition lie apart in the table (S3: 1 in 31), so each read would
 * otherwise wait for memory. */
#define ROW_PREFETCH 8

/* The first two cache lines of row i, where the leading columns lie. */
#define PREFETCH_ROW(row)                                                                  \
    do {                                                                                   \
        __builtin_prefetch(row);                                                           \
        __builtin_prefetch((const char *)(row) + 64);                                      \
    } while (0)

/* The prefix candidates of a key list: the key columns in order, each
 * once (a column already among the keys would give every row the same
 * bytes), with their direction in kdesc. Returns how many (at most
 * PREFIX_CANDIDATES). */
static size_t stats_init(key_stats *ks, unsigned char *kdesc, const int *keys,
                         const unsigned char *desc, size_t nkeys)
{
    size_t nc = 0;
    for (size_t k = 0; k < nkeys && nc < PREFIX_CANDIDATES; k++) {
        int seen = 0;
        for (size_t e = 0; e < nc && !seen; e++)
            seen = ks[e].col == keys[k];
        if (seen)
            continue;
        ks[nc] = (key_stats){keys[k], SF_NULL, 0, 0, 1, SIZE_MAX};
        kdesc[nc++] = desc && desc[k];
    }
    return nc;
}

/* Adds one row to the candidates' stats: its type, NULLs, shortest
 * string, and whether it holds the value of `first` (the first row of its
 * rows; row == first adds only the type). */
static inline void stats_add(key_stats *ks, size_t nc, const sf_value *row, const sf_value *first)
{
    for (size_t c = 0; c < nc; c++) {
        key_stats *st = &ks[c];
        const sf_value *v = &row[st->col], *a = &first[st->col];
        sf_type vt = (sf_type)v->type;
        if (vt == SF_NULL) {
            st->has_null = 1;
            st->constant = 0;
            continue;
        }
        if (st->t != SF_NULL && vt != st->t)
            st->mixed = 1;
        st->t = vt;
        if (vt == SF_STRING && v->u.s.n < st->shortest)
            st->shortest = v->u.s.n;
        if (st->constant && row != first)
            st->constant = vt == a->type && vt != SF_DECIMAL &&
                           (vt == SF_STRING ? v->u.s.n == a->u.s.n &&
                                                  memcmp(v->u.s.p, a->u.s.p, a->u.s.n) == 0
                                            : memcmp(&v->u, &a->u, sizeof v->u.i) == 0);
    }
}

/* The prefix keys from the candidates' stats: each column's one non-NULL
 * type, up to the first mixed column, and at most as many as can
 * contribute a byte. */
static void stats_prefix(const key_stats *ks, const unsigned char *kdesc, size_t nc,
                         prefix_keys *pk)
{
    size_t least = 0; /* bytes the prefix keys take at least */
    pk->n = 0;
    for (size_t c = 0; c < nc && least < PREFIX_BYTES; c++) {
        sf_type t = ks[c].t;
        /* Decimals compare across scales (sf_value_cmp); they end the
         * prefix rather than trust one scale per column. */
        if (ks[c].mixed || t == SF_DECIMAL)
            break;
        if (ks[c].constant && t != SF_NULL)
            continue;
        pk->col[pk->n] = ks[c].col;
        pk->desc[pk->n] = kdesc[c];
        pk->type[pk->n++] = t;
        /* A key after the first PREFIX_BYTES bytes adds nothing: stop
         * looking at more columns once the keys so far fill the prefix. */
        size_t w = t == SF_INT || t == SF_DOUBLE ? 8 : t == SF_DATE ? 4 : t == SF_BOOL ? 1
                   : t == SF_STRING                                 ? ks[c].shortest + 2
                                                                    : 0;
        least += 1 + (ks[c].has_null ? 0 : w);
    }
}

/* Sorts items for n rows of r (row k is rows[k], an index into r, or k
 * when rows is NULL) on the prefix keys pk already chosen for them. On
 * return items[0, n) hold the rows' numbers in sf_rows_sort_dir's order
 * (ties in the order of rows[]). Cannot fail. */
static void sort_items_prefixed(const sf_rows *r, const uint32_t *rows, size_t n,
                                const int *keys, const unsigned char *desc, size_t nkeys,
                                const prefix_keys *pk, sort_item *items)
{
#define ROW_AT(k) sf_rows_at(r, rows ? (size_t)rows[k] : (k))
    /* The prefix also reads the strings, which lie in the arena in the
     * order the rows were made, not sorted: those of the first string
     * key are fetched half as far ahead, their row being there by then. */
    int scol = pk->n && pk->type[0] == SF_STRING ? pk->col[0] : -1;
    for (size_t i = 0; i < n; i++) {
        if (i + ROW_PREFETCH < n)
            PREFETCH_ROW(ROW_AT(i + ROW_PREFETCH));
        if (scol >= 0 && i + ROW_PREFETCH / 2 < n) {
            const sf_value *v = &ROW_AT(i + ROW_PREFETCH / 2)[scol];
            if (v->type == SF_STRING)
                __builtin_prefetch(v->u.s.p);
        }
        items[i].row = rows ? rows[i] : i;
        make_prefix(&items[i], ROW_AT(i), pk->col, pk->n, pk->type, pk->desc);
    }
#undef ROW_AT
    sort_base = r->v;
    sort_ncols = r->ncols;
    sort_keys = keys;
    sort_desc = desc;
    sort_nkeys = nkeys;
    radix_sort(items, n, 0);
}

/* Sorts items for all n rows of r: one pass for the candidates' stats,
 * then the prefixes (sort_items_prefixed). Cannot fail. */
static void sort_items(const sf_rows *r, size_t n, const int *keys, const unsigned char *desc,
                       size_t nkeys, prefix_keys *pk, sort_item *items)
{
    key_stats ks[PREFIX_CANDIDATES];
    unsigned char kdesc[PREFIX_CANDIDATES];
    size_t nc = stats_init(ks, kdesc, keys, desc, nkeys);
    const sf_value *first = sf_rows_at(r, 0);
    for (size_t i = 0; i < n; i++)
        stats_add(ks, nc, sf_rows_at(r, i), first);
    stats_prefix(ks, kdesc, nc, pk);
    sort_items_prefixed(r, NULL, n, keys, desc, nkeys, pk, items);
}

/* Room for the prefix keys of nkeys sort keys; free with prefix_keys_free.
 * Returns 0 or SF_E_NOMEM. */
static int prefix_keys_init(prefix_keys *pk, size_t nkeys)
{
    size_t m = nkeys ? nkeys : 1;
    pk->col = malloc(m * sizeof *pk->col);
    pk->desc = malloc(m);
    pk->type = malloc(m * sizeof *pk->type);
    pk->n = 0;
    return pk->col && pk->desc && pk->type ? 0 : SF_E_NOMEM;
}

static void prefix_keys_free(prefix_keys *pk)
{
    free(pk->col);
    free(pk->desc);
    free(pk->type);
}

/* Moves the rows of r so that row i becomes the row numbered from(i),
 * along the permutation's cycles with one row of room (tmp) instead of a
 * second table. placed(i) marks row i done. */
#define APPLY_PERMUTATION(r, tmp, from, placed, mark)                                   \
    do {                                                                               \
        size_t width_ = (r)->ncols * sizeof *(tmp);                                    \
        for (size_t i_ = 0; i_ < (r)->n; i_++) {                                       \
            if (placed(i_) || (size_t)(from(i_)) == i_)                                \
                continue;                                                              \
            memcpy((tmp), sf_rows_at((r), i_), width_);                                \
            size_t j_ = i_;                                                            \
            while ((size_t)(from(j_)) != i_) {                                         \
                size_t f_ = (size_t)(from(j_));                                        \
                /* The rows of a cycle lie anywhere: two steps ahead is   */            \
                /* fetched while this one moves (a marked one is skipped). */           \
                size_t a_ = (size_t)(from(f_));                                        \
                if (a_ < (r)->n && (a_ = (size_t)(from(a_))) < (r)->n)                 \
                    PREFETCH_ROW(sf_rows_at((r), a_));                                 \
                memcpy(sf_rows_at((r), j_), sf_rows_at((r), f_), width_);              \
                mark(j_);                                                              \
                j_ = f_;                                                               \
            }                                                                          \
            memcpy(sf_rows_at((r), j_), (tmp), width_);                                \
            mark(j_);                                                                  \
        }                                                                              \
    } while (0)

int sf_rows_sort_dir(sf_rows *r, const int *keys, const unsigned char *desc, size_t nkeys)
{
    if (r->n < 2)
        return 0;
    sort_item *items = malloc(r->n * sizeof *items);
    prefix_keys pk;
    int rc = prefix_keys_init(&pk, nkeys);
    sf_value *tmp = malloc((r->ncols ? r->ncols : 1) * sizeof *tmp);
    if (!items || rc || !tmp) {
        free(items);
        prefix_keys_free(&pk);
        free(tmp);
        return SF_E_NOMEM;
    }
    sort_items(r, r->n, keys, desc, nkeys, &pk, items);
    /* Rows move into place along the cycles of the permutation (row i
     * takes row items[i].row): the peak memory of a sort is its items,
     * not another copy of every row. A placed position is marked
     * SIZE_MAX. */
#define ITEM_FROM(i) items[i].row
#define ITEM_PLACED(i) (items[i].row == SIZE_MAX)
#define ITEM_MARK(i) (items[i].row = SIZE_MAX)
    APPLY_PERMUTATION(r, tmp, ITEM_FROM, ITEM_PLACED, ITEM_MARK);
#undef ITEM_FROM
#undef ITEM_PLACED
#undef ITEM_MARK
    free(items);
    prefix_keys_free(&pk);
    free(tmp);
    return 0;
}

/* ---- sorting one partition at a time ---- */

/* Partition values told apart by their encodings: a column whose values
 * are all NULL or of one of these types has equal encodings exactly where
 * sf_value_cmp says equal (doubles do not: 0.0 and -0.0; nor columns
 * mixing int64 with double or decimal). */
static int parts_encodable(const sf_rows *r, const int *keys, size_t npart)
{
    for (size_t k = 0; k < npart; k++) {
        sf_type t = SF_NULL;
        for (size_t i = 0; i < r->n; i++) {
            sf_type vt = (sf_type)sf_rows_at(r, i)[keys[k]].type;
            if (vt == SF_NULL)
                continue;
            if (vt != SF_INT && vt != SF_DATE && vt != SF_TIMESTAMP && vt != SF_STRING &&
                vt != SF_BOOL)
                return 0;
            if (t != SF_NULL && vt != t)
                return 0;
            t = vt;
        }
    }
    return 1;
}

/* Number of partitions beyond which one sort of the whole table is kept:
 * many small partitions save little and the map of their values costs. */
static size_t parts_max(size_t n)
{
    return n / 64 > 4096 ? n / 64 : 4096;
}

/* Where a row's partition number is looked up: one date or int64 column
 * over a short range (the common date partition) indexes an array by
 * value - lo, NULL at the end; anything else goes through a map of the
 * encoded partition values. */
typedef struct parts_index {
    uint32_t *slot; /* dense: partition number + 1 per value, 0 unseen */
    int64_t lo;
    size_t span;
    int col;
    sf_hmap *map;
    sf_buf key;
    /* A window (no pass before): the dense array covers the span around
     * the first date or int64, other values go through the map, and the
     * caller checks the types (parts_types_ok) as it goes. */
    int window;
} parts_index;

#define PARTS_DENSE_SPAN 65536
#define PARTS_TYPES 16

/* parts_encodable's test, one row at a time: t[k] (SF_NULL at first)
 * keeps column k's type. Returns 0 where the row breaks it. */
static inline int parts_types_ok(const sf_value *row, const int *keys, size_t npart, sf_type *t)
{
    for (size_t k = 0; k < npart; k++) {
        sf_type vt = (sf_type)row[keys[k]].type;
        if (vt == SF_NULL)
            continue;
        if ((vt != SF_INT && vt != SF_DATE && vt != SF_TIMESTAMP && vt != SF_STRING &&
             vt != SF_BOOL) ||
            (t[k] != SF_NULL && vt != t[k]))
            return 0;
        t[k] = vt;
    }
    return 1;
}

/* A window index for the walk (npart <= PARTS_TYPES): no pass over the
 * rows. Returns 0 or SF_E_NOMEM. */
static int parts_index_window(parts_index *x, const sf_rows *r, const int *keys, size_t npart)
{
    memset(x, 0, sizeof *x);
    x->map = sf_hmap_new(sizeof(uint32_t), 64);
    if (!x->map)
        return SF_E_NOMEM;
    const sf_value *v = NULL;
    for (size_t i = 0; npart == 1 && i < r->n && !v; i++) {
        v = &sf_rows_at(r, i)[keys[0]];
        v = v->type == SF_NULL ? NULL : v;
    }
    if (!v || (v->type != SF_DATE && v->type != SF_INT))
        return 0; /* the map alone */
    int64_t a = v->type == SF_DATE ? v->u.date : v->u.i;
    x->window = 1;
    x->col = keys[0];
    x->span = PARTS_DENSE_SPAN;
    x->lo = a < INT64_MIN + PARTS_DENSE_SPAN / 2 ? INT64_MIN : a - PARTS_DENSE_SPAN / 2;
    x->slot = calloc(x->span + 1, sizeof *x->slot);
    return x->slot ? 0 : SF_E_NOMEM;
}

static int parts_index_init(parts_index *x, const sf_rows *r, const int *keys, size_t npart)
{
    memset(x, 0, sizeof *x);
    int64_t lo = INT64_MAX, hi = INT64_MIN;
    for (size_t i = 0; npart == 1 && i < r->n; i++) {
        const sf_value *v = &sf_rows_at(r, i)[keys[0]];
        if (v->type != SF_DATE && v->type != SF_INT && v->type != SF_NULL) {
            hi = INT64_MIN; /* not dense */
            break;
        }
        int64_t a = v->type == SF_DATE ? v->u.date : v->type == SF_INT ? v->u.i : lo;
        if (v->type != SF_NULL) {
            lo = a < lo ? a : lo;
            hi = a > hi ? a : hi;
        }
    }
    if (hi >= lo && (uint64_t)hi - (uint64_t)lo < PARTS_DENSE_SPAN) {
        x->lo = lo;
        x->span = (size_t)((uint64_t)hi - (uint64_t)lo) + 1;
        x->col = keys[0];
        x->slot = calloc(x->span + 1, sizeof *x->slot);
        return x->slot ? 0 : SF_E_NOMEM;
    }
    x->map = sf_hmap_new(sizeof(uint32_t), 64);
    return x->map ? 0 : SF_E_NOMEM;
}

/* The partition number slot of row (0 + 1-based number, or 0 when not
 * seen yet), or NULL when out of memory. */
static uint32_t *parts_slot(parts_index *x, const sf_value *row, const int *keys, size_t npart)
{
    if (x->slot) {
        const sf_value *v = &row[x->col];
        int64_t a = v->type == SF_DATE ? v->u.date : v->u.i;
        size_t at = v->type == SF_NULL ? x->span : (size_t)((uint64_t)a - (uint64_t)x->lo);
        if (!x->window || (at <= x->span && (v->type == SF_DATE || v->type == SF_INT ||
                                             v->type == SF_NULL) &&
                           (at < x->span || v->type == SF_NULL)))
            return &x->slot[at];
    }
    x->key.n = 0;
    for (size_t k = 0; k < npart; k++) {
        const sf_value *v = &row[keys[k]];
        if (sf_buf_reserve(&x->key, sf_value_encoded_size(v)) != 0)
            return NULL;
        x->key.n += sf_value_encode(v, x->key.p + x->key.n);
    }
    return sf_hmap_upsert(x->map, x->key.p, x->key.n, sf_hash_bytes(x->key.p, x->key.n, 0),
                          NULL);
}

static void parts_index_free(parts_index *x)
{
    free(x->slot);
    sf_hmap_free(x->map);
    sf_buf_free(&x->key);
}

/* The partition of each row (part[i], numbered in order of first sight)
 * and each partition's first row (first[p]) and size (size[p]). Returns
 * the number of partitions, 0 when there are more than parts_max(), or
 * SIZE_MAX when out of memory. */
static size_t parts_find_stats(const sf_rows *r, const int *keys, size_t npart, uint32_t *part,
                               size_t **first, size_t **size, const key_stats *ks0, size_t nc,
                               key_stats **ks, int *encodable);

static size_t parts_find(const sf_rows *r, const int *keys, size_t npart, uint32_t *part,
                         size_t **first, size_t **size)
{
    return parts_find_stats(r, keys, npart, part, first, size, NULL, 0, NULL, NULL);
}

/* parts_find, and when ks0 is not NULL each partition's prefix candidates
 * in the same pass: *ks (malloc'd; NULL when parts_find's result is 0 or
 * SIZE_MAX) holds nc (at least one) stats a partition, started from
 * ks0's. When encodable is not NULL, parts_encodable is checked first
 * (in the index's pass): 0 there gives 0 partitions. */
static size_t parts_find_stats(const sf_rows *r, const int *keys, size_t npart, uint32_t *part,
                               size_t **first, size_t **size, const key_stats *ks0, size_t nc,
                               key_stats **ks, int *encodable)
{
    size_t cap = parts_max(r->n), np = 0, nc1 = nc ? nc : 1;
    parts_index x;
    /* With encodable, up to PARTS_TYPES columns are checked in the pass
     * below, through a window index that needs no pass of its own. */
    int inline_types = encodable && npart <= PARTS_TYPES;
    sf_type t[PARTS_TYPES];
    for (size_t k = 0; k < PARTS_TYPES; k++)
        t[k] = SF_NULL;
    *first = *size = NULL;
    if (ks)
        *ks = NULL;
    if (encodable && !inline_types && !(*encodable = parts_encodable(r, keys, npart)))
        return 0;
    if (inline_types)
        *encodable = 1;
    int bad = inline_types ? parts_index_window(&x, r, keys, npart)
                           : parts_index_init(&x, r, keys, npart);
    *first = malloc(cap * sizeof **first);
    *size = calloc(cap, sizeof **size);
    bad |= !*first || !*size;
    if (ks0) {
        *ks = malloc(cap * nc1 * sizeof **ks);
        bad |= !*ks;
    }
    for (size_t i = 0; i < r->n && !bad; i++) {
        const sf_value *row = sf_rows_at(r, i);
        if (inline_types && !parts_types_ok(row, keys, npart, t)) {
            *encodable = 0;
            np = 0;
            break;
        }
        uint32_t *id = parts_slot(&x, row, keys, npart);
        if (!id) {
            bad = 1;
            break;
        }
        if (*id == 0) {
            if (np == cap) {
                np = 0; /* too many: the caller sorts the whole table */
                break;
            }
            if (ks0)
                memcpy(*ks + np * nc1, ks0, nc * sizeof **ks);
            (*first)[np++] = i;
            *id = (uint32_t)np;
        }
        part[i] = *id - 1;
        (*size)[*id - 1]++;
        if (ks0)
            stats_add(*ks + (size_t)(*id - 1) * nc1, nc, row, sf_rows_at(r, (*first)[*id - 1]));
    }
    parts_index_free(&x);
    if (bad || np == 0) {
        free(*first);
        free(*size);
        *first = *size = NULL;
        if (ks0) {
            free(*ks);
            *ks = NULL;
        }
    }
    return bad ? SIZE_MAX : np;
}

/* Partition order (qsort over partition numbers): their first rows by the
 * partition keys; sort_* hold the table and keys meanwhile. */
static const size_t *sort_first;

static int cmp_parts(const void *a, const void *b)
{
    const sf_value *x = sort_base + sort_first[*(const uint32_t *)a] * sort_ncols;
    const sf_value *y = sort_base + sort_first[*(const uint32_t *)b] * sort_ncols;
    return sf_rows_cmp_dir(x, y, sort_ncols, sort_keys, sort_desc, sort_nkeys);
}

/* The whole table's order at once (sort_items over every row) into
 * idx[0, r->n). Returns 0 or SF_E_NOMEM. */
static int whole_order(const sf_rows *r, const int *keys, const unsigned char *desc,
                       size_t nkeys, uint32_t *idx)
{
    sort_item *items = malloc(r->n * sizeof *items);
    prefix_keys pk;
    int rc = prefix_keys_init(&pk, nkeys);
    if (items && !rc) {
        sort_items(r, r->n, keys, desc, nkeys, &pk, items);
        for (size_t i = 0; i < r->n; i++)
            idx[i] = (uint32_t)items[i].row;
    }
    rc = items && !rc ? 0 : SF_E_NOMEM;
    free(items);
    prefix_keys_free(&pk);
    return rc;
}

/* sf_rows_order_parts for 2 <= r->n < UINT32_MAX: the order into
 * idx[0, r->n). Returns 0 or SF_E_NOMEM. */
static int parts_order(const sf_rows *r, const int *keys, const unsigned char *desc,
                       size_t nkeys, size_t npart, uint32_t *idx)
{
    if (npart == 0 || npart > nkeys || !parts_encodable(r, keys, npart))
        return whole_order(r, keys, desc, nkeys, idx);
    uint32_t *part = malloc(r->n * sizeof *part);
    if (!part)
        return SF_E_NOMEM;
    size_t *first, *size;
    size_t np = parts_find(r, keys, npart, part, &first, &size);
    if (np == SIZE_MAX || np == 0) {
        free(part);
        return np ? SF_E_NOMEM : whole_order(r, keys, desc, nkeys, idx);
    }
    uint32_t *order = malloc(np * sizeof *order);
    size_t *next = malloc(np * sizeof *next);
    prefix_keys pk;
    int pkrc = prefix_keys_init(&pk, nkeys);
    size_t largest = 0;
    for (size_t p = 0; p < np; p++)
        largest = size[p] > largest ? size[p] : largest;
    sort_item *items = malloc(largest * sizeof *items);
    /* Each partition's prefix candidates, gathered in one pass over the
     * table in its order: a partition's rows lie apart (S3: 1 in 31), and
     * a pass over them alone waited on memory at every row. */
    key_stats ks0[PREFIX_CANDIDATES];
    unsigned char kdesc[PREFIX_CANDIDATES];
    size_t nc = stats_init(ks0, kdesc, keys + npart, desc ? desc + npart : NULL, nkeys - npart);
    key_stats *ks = malloc(np * (nc ? nc : 1) * sizeof *ks);
    int rc = order && next && !pkrc && items && ks ? 0 : SF_E_NOMEM;
    if (!rc) {
        for (size_t p = 0; p < np; p++)
            order[p] = (uint32_t)p;
        sort_base = r->v;
        sort_ncols = r->ncols;
        sort_keys = keys;
        sort_desc = desc;
        sort_nkeys = npart;
        sort_first = first;
        qsort(order, np, sizeof *order, cmp_parts);
        size_t at = 0;
        for (size_t o = 0; o < np; o++) {
            next[order[o]] = at;
            at += size[order[o]];
        }
        /* Each partition's rows, in input order, in its range of idx,
         * and its candidates' stats. */
        for (size_t p = 0; p < np; p++)
            memcpy(ks + p * nc, ks0, nc * sizeof *ks);
        for (size_t i = 0; i < r->n; i++) {
            uint32_t p = part[i];
            idx[next[p]++] = (uint32_t)i;
            stats_add(ks + (size_t)p * nc, nc, sf_rows_at(r, i), sf_rows_at(r, first[p]));
        }
        /* Within a partition the partition keys are equal: each range
         * sorts on the keys after them, to the order the whole sort gives
         * it (ties in input order, as there), with items for that range
         * only. The rows themselves stay put until the end. */
        at = 0;
        for (size_t o = 0; o < np; o++) {
            size_t m = size[order[o]];
            if (m > 1) {
                stats_prefix(ks + (size_t)order[o] * nc, kdesc, nc, &pk);
                sort_items_prefixed(r, idx + at, m, keys + npart, desc ? desc + npart : NULL,
                                    nkeys - npart, &pk, items);
                for (size_t k = 0; k < m; k++)
                    idx[at + k] = (uint32_t)items[k].row;
            }
            at += m;
        }
    }
    free(part);
    free(order);
    free(next);
    prefix_keys_free(&pk);
    free(items);
    free(ks);
    free(first);
    free(size);
    return rc;
}

/* A batch of sf_rows_walk_parts holds the items (and the caller's text)
 * of a quarter of the table's rows, or of its largest partition. */
#define WALK_BATCH_DIV 4

/* The state of one walk: partitions by number of first sight (part[],
 * first[], size[]), their output order (order[]: output index ->
 * number, rank[]: number -> output index), each one's prefix candidates
 * (ks, nc a partition) and, for the batch, its items. */
typedef struct walk_state {
    const sf_rows *r;
    size_t np, nc;
    uint32_t *part, *order, *rank, *vis;
    uint32_t *mem, *batch; /* rows listed by batch; each partition's batch */
    size_t *bfirst, *at;   /* each batch's first partition; its rows in mem */
    size_t *first, *size, *base, *cnt;
    key_stats *ks;
    unsigned char kdesc[PREFIX_CANDIDATES];
    prefix_keys *pk; /* one per partition of the batch, by output index */
    sort_item *items;
    packed_room room; /* for the largest partition */
} walk_state;

static void walk_free(walk_state *s)
{
    for (size_t o = 0; s->pk && o < s->np; o++)
        prefix_keys_free(&s->pk[o]);
    free(s->pk);
    free(s->part);
    free(s->order);
    free(s->rank);
    free(s->vis);
    free(s->mem);
    free(s->batch);
    free(s->bfirst);
    free(s->at);
    free(s->first);
    free(s->size);
    free(s->base);
    free(s->cnt);
    free(s->ks);
    free(s->items);
    free(s->room.p);
    free(s->room.q);
    free(s->room.tmp);
}

/* One batch, partitions [b0, b1) in output order: a pass over the table
 * makes the prefixes of their rows and visits them, then each sorts and
 * is emitted. */
/* Rows of the batch ahead of the one visited whose lines are fetched,
 * and (half as far) whose strings are. */
#define WALK_AHEAD 16

/* Every cache line of row i. */
static inline void prefetch_whole_row(const sf_rows *r, size_t i)
{
    const char *p = (const char *)sf_rows_at(r, i);
    size_t bytes = r->ncols * sizeof(sf_value);
    for (size_t b = 0; b < bytes; b += 64)
        __builtin_prefetch(p + b);
    __builtin_prefetch(p + bytes - 1);
}

static int walk_batch(walk_state *s, size_t b0, size_t b1, const uint32_t *mem, size_t m,
                      const int *keys, const unsigned char *desc, size_t nkeys,
                      const sf_rows_walk *w)
{
    const sf_rows *r = s->r;
    int rc = 0;
    /* The batch's rows (mem[0, m), in table order) lie a few apart, not
     * in a line the hardware follows: rows WALK_AHEAD ahead are fetched,
     * and the strings of those WALK_AHEAD / 2 ahead, whose rows are there
     * by then. */
    for (size_t k = 0; k < WALK_AHEAD && k < m; k++)
        prefetch_whole_row(r, mem[k]);
    for (size_t k = 0; k < m && !rc; k++) {
        size_t i = mem[k];
        if (k + WALK_AHEAD < m)
            prefetch_whole_row(r, mem[k + WALK_AHEAD]);
        if (k + WALK_AHEAD / 2 < m) {
            const sf_value *ahead = sf_rows_at(r, mem[k + WALK_AHEAD / 2]);
            for (size_t c = 0; c < r->ncols; c++) {
                if (ahead[c].type == SF_STRING)
                    __builtin_prefetch(ahead[c].u.s.p);
            }
        }
        size_t o = s->part[i]; /* its output index by now */
        const sf_value *row = sf_rows_at(r, i);
        size_t j = s->cnt[o]++;
        sort_item *it = &s->items[s->base[o] + j];
        /* The visit number rides above the row's: within a partition
         * both grow together, so the items' last tie-break is kept. */
        it->row = i | (size_t)j << 32;
        const prefix_keys *pk = &s->pk[o];
        make_prefix(it, row, pk->col, pk->n, pk->type, pk->desc);
        rc = w->visit(w->ctx, o, row);
    }
    sort_base = r->v;
    sort_ncols = r->ncols;
    sort_keys = keys;
    sort_desc = desc;
    sort_nkeys = nkeys;
    for (size_t o = b0; o < b1 && !rc; o++) {
        size_t m = s->size[s->order[o]];
        sort_item *a = s->items + s->base[o];
        sort_row_mask = UINT32_MAX;
        sort_packed(a, m, &s->room);
        sort_row_mask = SIZE_MAX;
        for (size_t k = 0; k < m; k++)
            s->vis[k] = (uint32_t)(a[k].row >> 32);
        sf_rows_part p = {o, sf_rows_at(r, s->first[s->order[o]]), m, s->vis};
        rc = w->emit(w->ctx, &p);
    }
    return rc;
}

int sf_rows_walk_parts(const sf_rows *r, const int *keys, const unsigned char *desc,
                       size_t nkeys, size_t npart, const sf_rows_walk *w)
{
    size_t n = r->n;
    if (n == 0)
        return 0;
    if (n >= UINT32_MAX || SIZE_MAX <= UINT32_MAX || npart > nkeys)
        return SF_ROWS_NOT_WALKED;
    walk_state s = {.r = r};
    key_stats ks0[PREFIX_CANDIDATES];
    const unsigned char *kd = desc ? desc + npart : NULL;
    s.nc = stats_init(ks0, s.kdesc, keys + npart, kd, nkeys - npart);
    size_t nc1 = s.nc ? s.nc : 1;
    s.part = malloc(n * sizeof *s.part);
    if (!s.part)
        return SF_E_NOMEM;
    if (npart) {
        /* The partitions and each one's prefix candidates in one pass. */
        int encodable = 0;
        s.np = parts_find_stats(r, keys, npart, s.part, &s.first, &s.size, ks0, s.nc, &s.ks,
                                &encodable);
    } else {
        s.first = calloc(1, sizeof *s.first);
        s.size = malloc(sizeof *s.size);
        s.ks = malloc(nc1 * sizeof *s.ks);
        s.np = s.first && s.size && s.ks ? 1 : SIZE_MAX;
        if (s.np == 1) {
            s.size[0] = n;
            memcpy(s.ks, ks0, s.nc * sizeof *s.ks);
            for (size_t i = 0; i < n; i++)
                stats_add(s.ks, s.nc, sf_rows_at(r, i), sf_rows_at(r, 0));
        }
        memset(s.part, 0, n * sizeof *s.part);
    }
    if (s.np == 0 || s.np == SIZE_MAX) {
        int rc = s.np ? SF_E_NOMEM : SF_ROWS_NOT_WALKED;
        s.np = 0;
        walk_free(&s);
        return rc;
    }
    size_t np = s.np, largest = 0;
    for (size_t p = 0; p < np; p++)
        largest = s.size[p] > largest ? s.size[p] : largest;
    size_t cap = n / WALK_BATCH_DIV > largest ? n / WALK_BATCH_DIV : largest;
    s.order = malloc(np * sizeof *s.order);
    s.rank = malloc(np * sizeof *s.rank);
    s.base = malloc(np * sizeof *s.base);
    s.cnt = malloc(np * sizeof *s.cnt);
    s.pk = calloc(np, sizeof *s.pk);
    s.vis = malloc(largest * sizeof *s.vis);
    s.items = malloc(cap * sizeof *s.items);
    s.mem = malloc(n * sizeof *s.mem);
    s.room.p = malloc(largest * sizeof *s.room.p);
    s.room.q = malloc(largest * sizeof *s.room.q);
    s.room.tmp = malloc(largest * sizeof *s.room.tmp);
    s.batch = malloc(np * sizeof *s.batch);
    s.bfirst = malloc((np + 1) * sizeof *s.bfirst);
    s.at = malloc(np * sizeof *s.at);
    int rc = s.order && s.rank && s.base && s.cnt && s.pk && s.vis && s.items && s.mem &&
                         s.batch && s.bfirst && s.at && s.room.p && s.room.q && s.room.tmp
                 ? 0
                 : SF_E_NOMEM;
    for (size_t o = 0; o < np && !rc; o++)
        rc = prefix_keys_init(&s.pk[o], nkeys - npart);
    if (rc) {
        walk_free(&s);
        return SF_E_NOMEM;
    }
    /* The partitions in output order: their first rows by the partition
     * keys. */
    for (size_t p = 0; p < np; p++)
        s.order[p] = (uint32_t)p;
    if (npart) {
        sort_base = r->v;
        sort_ncols = r->ncols;
        sort_keys = keys;
        sort_desc = desc;
        sort_nkeys = npart;
        sort_first = s.first;
        qsort(s.order, np, sizeof *s.order, cmp_parts);
    }
    for (size_t o = 0; o < np; o++)
        s.rank[s.order[o]] = (uint32_t)o;
    /* The batches (partitions [bfirst[b], bfirst[b + 1]) in output
     * order), then every row listed under its batch in one pass: mem
     * holds batch b's rows from at[b] on, in table order, and part[] the
     * rows' output indexes. */
    size_t nb = 0;
    for (size_t o = 0, in = 0; o < np; o++) {
        if (o == 0 || in + s.size[s.order[o]] > cap) {
            s.bfirst[nb++] = o;
            in = 0;
        }
        s.base[o] = in; /* its items' start within the batch */
        s.cnt[o] = 0;
        in += s.size[s.order[o]];
        s.batch[o] = (uint32_t)(nb - 1);
    }
    s.bfirst[nb] = np;
    for (size_t b = 0, at = 0; b < nb; b++) {
        s.at[b] = at;
        for (size_t o = s.bfirst[b]; o < s.bfirst[b + 1]; o++)
            at += s.size[s.order[o]];
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t o = s.rank[s.part[i]];
        s.part[i] = o;
        s.mem[s.at[s.batch[o]]++] = (uint32_t)i;
    }
    for (size_t b = 0, at = 0; b < nb && !rc; b++) {
        size_t m = s.at[b] - at;
        for (size_t o = s.bfirst[b]; o < s.bfirst[b + 1] && !rc; o++) {
            stats_prefix(s.ks + (size_t)s.order[o] * nc1, s.kdesc, s.nc, &s.pk[o]);
            if (w->start)
                rc = w->start(w->ctx, o, s.size[s.order[o]]);
        }
        if (!rc)
            rc = walk_batch(&s, s.bfirst[b], s.bfirst[b + 1], s.mem + at, m, keys + npart, kd,
                            nkeys - npart, w);
        at = s.at[b];
    }
    walk_free(&s);
    return rc;
}

int sf_rows_order_parts(sf_rows *r, const int *keys, const unsigned char *desc, size_t nkeys,
                        size_t npart, uint32_t **order)
{
    *order = NULL;
    if (r->n < 2 || r->n >= UINT32_MAX)
        return sf_rows_sort_dir(r, keys, desc, nkeys);
    uint32_t *idx = malloc(r->n * sizeof *idx);
    int rc = idx ? parts_order(r, keys, desc, nkeys, npart, idx) : SF_E_NOMEM;
    if (rc)
        free(idx);
    else
        *order = idx;
    return rc;
}

int sf_rows_sort_parts(sf_rows *r, const int *keys, const unsigned char *desc, size_t nkeys,
                       size_t npart)
{
    uint32_t *idx;
    sf_value *tmp = malloc((r->ncols ? r->ncols : 1) * sizeof *tmp);
    int rc = tmp ? sf_rows_order_parts(r, keys, desc, nkeys, npart, &idx) : SF_E_NOMEM;
    if (!rc && idx) {
        /* One move per row, along the cycles of the whole permutation. */
#define IDX_FROM(i) idx[i]
#define IDX_PLACED(i) (idx[i] == UINT32_MAX)
#define IDX_MARK(i) (idx[i] = UINT32_MAX)
        APPLY_PERMUTATION(r, tmp, IDX_FROM, IDX_PLACED, IDX_MARK);
#undef IDX_FROM
#undef IDX_PLACED
#undef IDX_MARK
        free(idx);
    }
    free(tmp);
    return rc;
}

void sf_rows_free(sf_rows *r)
{
    free(r->v);
    sf_arena_free(&r->mem);
    size_t ncols = r->ncols;
    sf_rows_init(r, ncols);
}

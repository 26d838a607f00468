/* flatten_textspool.c - `shardflow flatten`: the row spool of a CSV output
 * with no partition keys, its cells kept as their CSV fields.
 *
 * The schema pass formats each cell once, as the field the file will
 * hold, and the write pass only places the fields in header order: no
 * value is encoded, decoded or typed again. A row is SF_FL_TEXT_HEAD bytes
 * (its byte length and its cell count, 4 bytes each, host order: the file
 * never leaves the process), then its non-NULL cells in document order (a
 * NULL is an empty field, as absent as a missing key), each its column id
 * in this rank's engine (LEB128) and:
 *  - for an int64, the byte TEXT_INT and its 8 bytes: its text depends on
 *    the column's final type (a column of ints and doubles writes 5 as
 *    5.0), known only in the write pass;
 *  - for any other value, LEB128(2 x length) and the field
 *    sf_csv_format_value makes of it, which no later type changes (a
 *    string column writes a bool or a double as that same text).
 * The write pass maps each column id to its header position, notes the
 * field there and its bit in a bitmap of the header, and hands the row to
 * sf_table_writer_append_sparse, which walks the set bits in order: no
 * sort, and no work for the columns a row does not hold beyond a comma.
 */
#include "cli/flatten_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/fmt.h"

#define TEXT_INT 1 /* the header of an int64 cell; a field's is even */

struct fl_text {
    const char **text; /* per header position: the row's field there */
    uint32_t *len;
    uint64_t *bits;    /* the positions the row holds */
    size_t nwords;     /* of bits */
    char *ints;        /* the row's int64 cells as text */
    size_t cap;        /* cells ints has room for */
};

/* Appends one non-NULL cell at o (room: 20 + sf_csv_field_room). */
static inline unsigned char *put_cell(unsigned char *o, uint32_t col, const sf_value *v)
{
    o = sf_fl_put_leb(o, col);
    if (v->type == SF_INT) {
        *o++ = TEXT_INT;
        memcpy(o, &v->u.i, 8);
        return o + 8;
    }
    /* The field is made after a one-byte header and moved up in the rare
     * case its length needs more. A double read from a short decimal
     * literal is written from its digits (core/jsonproj.h). */
    size_t n = v->type == SF_DOUBLE && v->scale
                   ? (size_t)sf_fmt_double_places(v->u.d, v->scale - 1, (char *)o + 1)
                   : sf_csv_format_value(v, (char *)o + 1);
    if (n < 64) {
        *o = (unsigned char)(n << 1);
        return o + 1 + n;
    }
    unsigned char head[10];
    size_t k = (size_t)(sf_fl_put_leb(head, (uint64_t)n << 1) - head);
    memmove(o + k, o + 1, n);
    memcpy(o, head, k);
    return o + k + n;
}

int sf_fl_text_rows(fl *F)
{
    sf_buf *b = &F->spool_out;
    for (size_t r = 0; r < sf_flatten_nrows(F->eng); r++) {
        size_t nc, kept = 0;
        const sf_flatten_cell *cells = sf_flatten_row(F->eng, r, &nc);
        if (b->cap - b->n < SF_FL_TEXT_HEAD && sf_buf_reserve(b, SF_FL_TEXT_HEAD) != 0)
            return sf_fl_nomem(F);
        size_t head = b->n;
        b->n += SF_FL_TEXT_HEAD;
        for (size_t i = 0; i < nc; i++) {
            const sf_value *v = &cells[i].v;
            if (v->type == SF_NULL)
                continue;
            size_t room = 20 + sf_csv_field_room(v);
            if (b->cap - b->n < room && sf_buf_reserve(b, room) != 0)
                return sf_fl_nomem(F);
            b->n = (size_t)(put_cell(b->p + b->n, cells[i].col, v) - b->p);
            kept++;
        }
        if (b->n - head - SF_FL_TEXT_HEAD > UINT32_MAX)
            return sf_error_set(&F->err, SF_E_LIMIT, "a flattened row of %zu bytes is too large "
                                "to keep", b->n - head - SF_FL_TEXT_HEAD);
        uint32_t len = (uint32_t)(b->n - head - SF_FL_TEXT_HEAD), n32 = (uint32_t)kept;
        memcpy(b->p + head, &len, 4);
        memcpy(b->p + head + 4, &n32, 4);
    }
    return 0;
}

/* ---- the write pass ---- */

/* Reads a LEB128 number at *p (before end). Returns 0, or -1 for none. */
static inline int get_leb(const unsigned char **p, const unsigned char *end, uint64_t *n)
{
    if (*p < end && **p < 0x80) {
        *n = *(*p)++;
        return 0;
    }
    size_t k = sf_leb_get(*p, (size_t)(end - *p), n);
    *p += k;
    return k ? 0 : -1;
}

/* Makes F->text, with room for rows of nc cells. */
static int room(fl *F, uint32_t nc)
{
    fl_text *t = F->text;
    if (!t) {
        if (!(t = F->text = calloc(1, sizeof *t)))
            return sf_fl_nomem(F);
        t->nwords = F->ncols / 64 + 1;
        t->text = calloc(F->ncols + 1, sizeof *t->text);
        t->len = calloc(F->ncols + 1, sizeof *t->len);
        t->bits = calloc(t->nwords, sizeof *t->bits);
        if (!t->text || !t->len || !t->bits)
            return sf_fl_nomem(F);
    }
    if (nc <= t->cap)
        return 0;
    char *ints = realloc(t->ints, (size_t)nc * SF_FMT_BUF);
    if (!ints)
        return sf_fl_nomem(F);
    t->ints = ints;
    t->cap = nc;
    return 0;
}

/* Fills F->text's row from the nc cells at p[0..end), and *bytes with
 * the length of its fields. Returns 0 or SF_E_INTERNAL (malformed, or a
 * column twice). */
static int read_row(fl *F, const unsigned char *p, const unsigned char *end, uint32_t nc,
                    size_t *bytes)
{
    fl_text *t = F->text;
    char *ints = t->ints;
    size_t sum = 0;
    for (uint32_t i = 0; i < nc; i++) {
        uint64_t col, h;
        if (get_leb(&p, end, &col) != 0 || get_leb(&p, end, &h) != 0 || col >= F->spool_ncols)
            return sf_fl_spool_corrupt(F);
        uint32_t c = F->spool_map[col];
        uint64_t bit = (uint64_t)1 << (c & 63);
        if (t->bits[c >> 6] & bit)
            return sf_fl_spool_corrupt(F);
        t->bits[c >> 6] |= bit;
        if (h == TEXT_INT) {
            int64_t v;
            if (end - p < 8)
                return sf_fl_spool_corrupt(F);
            memcpy(&v, p, 8);
            p += 8;
            t->text[c] = ints;
            t->len[c] = (uint32_t)(F->types[c] == SF_DOUBLE ? sf_fmt_double((double)v, ints)
                                                            : sf_fmt_int(v, ints));
            ints += t->len[c];
            sum += t->len[c];
            continue;
        }
        if ((h & 1) || (h >> 1) > (uint64_t)(end - p))
            return sf_fl_spool_corrupt(F);
        t->text[c] = (const char *)p;
        t->len[c] = (uint32_t)(h >> 1);
        p += h >> 1;
        sum += h >> 1;
    }
    *bytes = sum;
    return p == end ? 0 : sf_fl_spool_corrupt(F);
}

int sf_fl_text_write_row(fl *F, const unsigned char *p, const unsigned char *end, uint32_t nc)
{
    int rc = room(F, nc);
    if (rc)
        return rc;
    fl_text *t = F->text;
    size_t bytes = 0;
    rc = read_row(F, p, end, nc, &bytes);
    part *pt = F->parts;
    if (!rc && F->nparts == 0)
        rc = sf_fl_open_part(F, &pt);
    if (!rc && (rc = sf_table_writer_append_sparse(pt->w, t->bits, t->text, t->len, bytes)) != 0)
        sf_error_set(&F->err, rc, "%s: not a CSV file", pt->rel);
    if (!rc)
        pt->rows++;
    memset(t->bits, 0, t->nwords * sizeof *t->bits);
    return rc;
}

void sf_fl_text_free(fl *F)
{
    fl_text *t = F->text;
    if (!t)
        return;
    free(t->text);
    free(t->len);
    free(t->bits);
    free(t->ints);
    free(t);
    F->text = NULL;
}

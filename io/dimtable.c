/* dimtable.c - JSONL / CSV dimension tables into sf_join_table.
 *
 * JSONL lines go through the projection decoder (core/jsonproj), which is
 * an order of magnitude faster than building a jansson tree per line; a
 * line it does not accept is read again with jansson, which either accepts
 * it too (jansson's JSON_ALLOW_NUL admits \u0000 in strings) or gives the
 * error message this module has always given. Column names are literal
 * keys here, so a name with a '.' (a path to the decoder) keeps the
 * jansson reader for the whole table.
 */
#include "io/dimtable.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/decimal.h"
#include "core/decode.h"
#include "core/fmt.h"
#include "core/value_text.h"
#include "io/csv.h"

/* One load's figures: rows a "duplicates": "first" dimension skipped. */
typedef struct dim_load {
    uint64_t dropped;
} dim_load;

static int add_row(const sf_job_input *in, sf_join_table *t, const sf_value *row, long line,
                   sf_error *err, dim_load *dl)
{
    int rc = sf_join_table_add(t, row);
    const char *key = in->columns[in->key_col].name;
    if (rc == SF_E_EXISTS && in->keep_first_key) {
        dl->dropped++; /* a later row of a key seen before: the first wins */
        return 0;
    }
    if (rc == SF_E_EXISTS)
        return sf_error_set(err, SF_E_EXISTS, "%s: line %ld: duplicate key %s (keys of a "
                            "dimension table must be unique)", in->path, line, key);
    if (rc == SF_E_INVAL)
        return sf_error_set(err, SF_E_TYPE, "%s: line %ld: key '%s' is missing or null",
                            in->path, line, key);
    if (rc)
        return sf_error_set(err, rc, "%s: out of memory", in->path);
    return 0;
}

static int type_error(const sf_job_input *in, long line, const sf_job_column *c,
                      const char *got, sf_error *err)
{
    char tb[24];
    return sf_error_set(err, SF_E_TYPE, "%s: line %ld: column '%s': expected %s, got %s",
                        in->path, line, c->name, sf_type_format(c->type, c->dec, tb), got);
}

/* A number for decimal column c of a JSONL line (s, n bytes) that the
 * projection decoder refused: jansson keeps no number text, so the column
 * alone is read again from the text, exactly, for its value or its reason.
 * Only on this error path, so the decoder is made and freed here. */
static int decimal_cell(const sf_job_input *in, long line, const sf_job_column *c,
                        const char *s, size_t n, sf_value *out, sf_error *err)
{
    sf_decode_field f = {c->name, SF_DECIMAL, 0, c->dec};
    sf_decoder *d = sf_decoder_new(SF_DECODER_FAST, &f, 1);
    if (!d)
        return sf_error_set(err, SF_E_NOMEM, "%s: out of memory", in->path);
    char msg[256];
    int rc = sf_decoder_decode(d, s, n, out, msg, sizeof msg);
    sf_decoder_free(d);
    if (rc == 0)
        return 0;
    if (rc < 0)
        return sf_error_set(err, rc, "%s: out of memory", in->path);
    return sf_error_set(err, SF_E_TYPE, "%s: line %ld: column %s", in->path, line, msg);
}

/* The projection decoder for in's columns (column c into row[c]), or NULL
 * when a column name is not a plain key or memory ran out. */
static sf_decoder *fast_decoder(const sf_job_input *in)
{
    sf_decode_field *fields = calloc(in->ncolumns ? in->ncolumns : 1, sizeof *fields);
    if (!fields)
        return NULL;
    for (size_t c = 0; c < in->ncolumns; c++) {
        if (strchr(in->columns[c].name, '.')) {
            free(fields);
            return NULL;
        }
        fields[c].path = in->columns[c].name;
        fields[c].type = in->columns[c].type;
        fields[c].slot = (int)c;
        fields[c].dec = in->columns[c].dec;
    }
    sf_decoder *d = sf_decoder_new(SF_DECODER_FAST, fields, in->ncolumns);
    free(fields);
    return d;
}

/* The rows of a partitioned join that this rank keeps (keep NULL: all). */
typedef struct keep_rows {
    sf_dimtable_keep_fn fn;
    void *ctx;
} keep_rows;

static int add_kept(const sf_job_input *in, sf_join_table *t, const sf_value *row, long line,
                    const keep_rows *k, sf_error *err, dim_load *dl)
{
    if (k && k->fn && !k->fn(k->ctx, row))
        return 0;
    return add_row(in, t, row, line, err, dl);
}

/* Rows the projection decoder gave that wait DIM_AHEAD rows for their
 * add: each one's key index slot is prefetched as it comes
 * (sf_join_table_prefetch), so the add finds it in the caches instead of
 * waiting for memory (1M users: a 64 MB index, one miss a row). Adds run
 * in line order, so a duplicate or a later line's error is reported as
 * without the wait. A row waits only while its strings borrow from the
 * data (not from the decoder's unescaped copies, which the next line
 * overwrites). */
#define DIM_AHEAD 8

typedef struct dim_wait {
    sf_value *rows; /* DIM_AHEAD rows of in->ncolumns values */
    long line[DIM_AHEAD];
    size_t head, n;
} dim_wait;

/* Adds the waiting rows, oldest first, until at most keep wait. */
static int wait_drain(const sf_job_input *in, sf_join_table *t, dim_wait *w, size_t keep,
                      sf_error *err, dim_load *dl)
{
    while (w->n > keep) {
        int rc = add_row(in, t, w->rows + w->head * in->ncolumns, w->line[w->head], err, dl);
        w->head = (w->head + 1) % DIM_AHEAD;
        w->n--;
        if (rc)
            return rc;
    }
    return 0;
}

static int borrows_from(const sf_value *row, size_t ncols, const char *data, size_t len)
{
    /* Addresses as integers: a string past data's end (the decoder's own
     * buffer for an unescaped string) must answer 0, and pointer
     * arithmetic across two objects cannot say so. */
    uintptr_t lo = (uintptr_t)data, hi = lo + len;
    for (size_t c = 0; c < ncols; c++) {
        if (row[c].type != SF_STRING || !row[c].u.s.n)
            continue;
        uintptr_t p = (uintptr_t)row[c].u.s.p;
        if (p < lo || p > hi || row[c].u.s.n > hi - p)
            return 0;
    }
    return 1;
}

/* A row the projection decoder gave into the ring's next slot (at): kept
 * or not, then waiting for its add, or added at once when it borrows
 * from the decoder. Returns 0 or the add's error. */
static int take_decoded(const sf_job_input *in, sf_join_table *t, dim_wait *w, size_t at,
                        long line, const keep_rows *keep, const char *data, size_t len,
                        sf_error *err, dim_load *dl)
{
    sf_value *r = w->rows + at * in->ncolumns;
    if (keep && keep->fn && !keep->fn(keep->ctx, r))
        return 0;
    if (!borrows_from(r, in->ncolumns, data, len)) {
        int rc = wait_drain(in, t, w, 0, err, dl);
        return rc ? rc : add_row(in, t, r, line, err, dl); /* copies strings */
    }
    sf_join_table_prefetch(t, &r[in->key_col]);
    w->line[at] = line;
    w->n++;
    return 0;
}

/* Lines data[0..len) numbered from *linep + 1; *linep is advanced. */
static int load_jsonl(const sf_job_input *in, const char *data, size_t len, sf_join_table *t,
                      sf_value *row, long *linep, const keep_rows *keep, sf_error *err,
                      dim_load *dl)
{
    size_t pos = 0;
    long line = *linep;
    sf_decoder *fast = fast_decoder(in);
    dim_wait w = {0};
    if (fast && !(w.rows = calloc(DIM_AHEAD * (in->ncolumns ? in->ncolumns : 1), sizeof *w.rows))) {
        sf_decoder_free(fast);
        return sf_error_set(err, SF_E_NOMEM, "%s: out of memory", in->path);
    }
    int rc = 0;
    while (pos < len && !rc) {
        if (fast && line > 0) {
            /* A line of a shape the decoder learned is read with its end
             * found in the same pass (no search for the newline first);
             * any other line (the first, a blank one, one of a new shape,
             * a bad one, the last without a newline) takes the path
             * below, which gives every verdict. */
            if ((rc = wait_drain(in, t, &w, DIM_AHEAD - 1, err, dl)) != 0)
                break;
            size_t at = (w.head + w.n) % DIM_AHEAD, n;
            size_t took = sf_decoder_decode_window(fast, data + pos, len - pos,
                                                   w.rows + at * in->ncolumns, &n);
            if (took) {
                pos += took;
                rc = take_decoded(in, t, &w, at, ++line, keep, data, len, err, dl);
                continue;
            }
        }
        const char *s = data + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos;
        pos += n + (nl != NULL);
        line++;
        if (line == 1 && n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
            s += 3;
            n -= 3;
        }
        if (n && s[n - 1] == '\r')
            n--;
        if (n == 0)
            continue;
        if (fast) {
            char msg[8];
            if ((rc = wait_drain(in, t, &w, DIM_AHEAD - 1, err, dl)) != 0)
                break;
            size_t at = (w.head + w.n) % DIM_AHEAD;
            sf_value *r = w.rows + at * in->ncolumns;
            rc = sf_decoder_decode(fast, s, n, r, msg, sizeof msg);
            if (rc == 0) {
                rc = take_decoded(in, t, &w, at, line, keep, data, len, err, dl);
                continue;
            }
            /* Rows before this line are added before its error or its
             * jansson reading. */
            int drc = wait_drain(in, t, &w, 0, err, dl);
            if (drc) {
                rc = drc;
                break;
            }
            if (rc < 0) {
                rc = sf_error_set(err, rc, "%s: out of memory", in->path);
                continue;
            }
            rc = 0; /* rejected: jansson has the last word and the message */
        }
        json_error_t jerr;
        json_t *obj = json_loadb(s, n, JSON_ALLOW_NUL, &jerr);
        if (!obj) {
            rc = sf_error_set(err, SF_E_PARSE, "%s: line %ld, column %d: invalid JSON: %s",
                              in->path, line, jerr.column, jerr.text);
            break;
        }
        if (!json_is_object(obj))
            rc = sf_error_set(err, SF_E_PARSE, "%s: line %ld: not a JSON object", in->path,
                              line);
        for (size_t c = 0; c < in->ncolumns && !rc; c++) {
            const sf_job_column *col = &in->columns[c];
            json_t *v = json_object_get(obj, col->name);
            sf_value *out = &row[c];
            int32_t days;
            if (!v || json_is_null(v))
                *out = sf_null();
            else if (col->type == SF_INT && json_is_integer(v))
                *out = sf_int(json_integer_value(v));
            else if (col->type == SF_DOUBLE && json_is_number(v))
                *out = sf_double(json_number_value(v));
            else if (col->type == SF_STRING && json_is_string(v))
                *out = sf_string(json_string_value(v), json_string_length(v));
            else if (col->type == SF_BOOL && json_is_boolean(v))
                *out = sf_bool(json_is_true(v));
            else if (col->type == SF_DATE && json_is_string(v) &&
                     sf_parse_iso_date(json_string_value(v), json_string_length(v), &days) == 0)
                *out = sf_date(days);
            else if (col->type == SF_TIMESTAMP && json_is_string(v) &&
                     sf_value_text_parse(json_string_value(v), json_string_length(v),
                                         SF_TIMESTAMP, out) == 0)
                ;
            else if (col->type == SF_TIMESTAMP && json_is_integer(v) &&
                     sf_timestamp_from_unix(json_integer_value(v), SF_US_PER_SEC, &out->u.i) == 0)
                out->type = SF_TIMESTAMP;
            else if (col->type == SF_DECIMAL && json_is_number(v))
                rc = decimal_cell(in, line, col, s, n, out, err);
            else
                rc = type_error(in, line, col,
                                json_is_string(v) ? "a string" : json_is_integer(v) ? "an int64"
                                : json_is_real(v) ? "a double" : json_is_boolean(v) ? "a bool"
                                : "an object or array", err);
        }
        if (!rc)
            rc = add_kept(in, t, row, line, keep, err, dl); /* copies strings before decref */
        json_decref(obj);
    }
    if (!rc)
        rc = wait_drain(in, t, &w, 0, err, dl);
    free(w.rows);
    sf_decoder_free(fast);
    *linep = line;
    return rc;
}

static int parse_cell(const sf_job_input *in, long line, const sf_job_column *c,
                      const sf_csv_field *f, sf_value *out, sf_error *err)
{
    if (f->n == 0 && !f->quoted) {
        *out = sf_null();
        return 0;
    }
    sf_i128 x;
    if (c->type == SF_DECIMAL) { /* at the column's scale, as from JSON */
        if (sf_dec_parse(f->p, f->n, c->dec.prec, c->dec.scale, &x) == 0) {
            *out = sf_decimal(x, c->dec.scale);
            return 0;
        }
    } else if (sf_value_text_parse(f->p, f->n, c->type, out) == 0) {
        return 0;
    }
    char got[80];
    snprintf(got, sizeof got, "\"%.*s%s\"", (int)(f->n > 40 ? 40 : f->n), f->p,
             f->n > 40 ? "..." : "");
    return type_error(in, line, c, got, err);
}

static int load_csv(const sf_job_input *in, const char *data, size_t len, sf_join_table *t,
                    sf_value *row, sf_error *err, dim_load *dl)
{
    if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
        data += 3;
        len -= 3;
    }
    sf_csv_reader *r = sf_csv_reader_new(data, len, in->path);
    int *colmap = calloc(in->ncolumns, sizeof *colmap); /* spec column -> CSV field */
    if (!r || !colmap) {
        sf_csv_reader_free(r);
        free(colmap);
        return sf_error_set(err, SF_E_NOMEM, "%s: out of memory", in->path);
    }
    const sf_csv_field *f;
    size_t nf;
    int rc = sf_csv_reader_next(r, &f, &nf, err);
    if (rc == 0)
        rc = sf_error_set(err, SF_E_PARSE, "%s: empty file: a CSV dimension table needs a "
                          "header row", in->path);
    if (rc == 1) {
        rc = 0;
        for (size_t c = 0; c < in->ncolumns && !rc; c++) {
            colmap[c] = -1;
            for (size_t k = 0; k < nf; k++) {
                if (strlen(in->columns[c].name) == f[k].n &&
                    memcmp(in->columns[c].name, f[k].p, f[k].n) == 0)
                    colmap[c] = (int)k;
            }
            if (colmap[c] < 0)
                rc = sf_error_set(err, SF_E_PARSE, "%s: line 1: the header has no column '%s'",
                                  in->path, in->columns[c].name);
        }
    }
    size_t width = nf;
    while (rc == 0 && (rc = sf_csv_reader_next(r, &f, &nf, err)) == 1) {
        long line = (long)sf_csv_reader_line(r);
        rc = 0;
        if (nf == 1 && f[0].n == 0 && !f[0].quoted)
            continue; /* blank line */
        if (nf != width) {
            rc = sf_error_set(err, SF_E_PARSE, "%s: line %ld: %zu fields, the header has %zu",
                              in->path, line, nf, width);
            break;
        }
        for (size_t c = 0; c < in->ncolumns && !rc; c++)
            rc = parse_cell(in, line, &in->columns[c], &f[colmap[c]], &row[c], err);
        if (!rc)
            rc = add_row(in, t, row, line, err, dl);
    }
    sf_csv_reader_free(r);
    free(colmap);
    return rc < 0 ? rc : 0;
}

int sf_dimtable_load(const sf_job_input *in, const char *data, size_t len,
                     sf_join_table **out, sf_error *err)
{
    return sf_dimtable_load_counted(in, data, len, out, NULL, err);
}

int sf_dimtable_load_counted(const sf_job_input *in, const char *data, size_t len,
                             sf_join_table **out, uint64_t *dropped, sf_error *err)
{
    dim_load dl = {0};
    *out = NULL;
    sf_join_table *t = sf_join_table_new(in->ncolumns, in->key_col);
    sf_value *row = calloc(in->ncolumns, sizeof *row);
    if (!t || !row) {
        sf_join_table_free(t);
        free(row);
        return sf_error_set(err, SF_E_NOMEM, "%s: out of memory", in->path);
    }
    long line = 0;
    int rc = in->format == SF_FORMAT_CSV ? load_csv(in, data, len, t, row, err, &dl)
                                         : load_jsonl(in, data, len, t, row, &line, NULL, err, &dl);
    if (dropped)
        *dropped = dl.dropped;
    free(row);
    if (rc) {
        sf_join_table_free(t);
        return rc;
    }
    *out = t;
    return 0;
}

int sf_dimtable_load_jsonl_part(const sf_job_input *in, const char *data, size_t len, long *line,
                                sf_dimtable_keep_fn keep, void *ctx, sf_join_table **t,
                                uint64_t *dropped, sf_error *err)
{
    if (!*t && !(*t = sf_join_table_new(in->ncolumns, in->key_col)))
        return sf_error_set(err, SF_E_NOMEM, "%s: out of memory", in->path);
    sf_value *row = calloc(in->ncolumns ? in->ncolumns : 1, sizeof *row);
    if (!row)
        return sf_error_set(err, SF_E_NOMEM, "%s: out of memory", in->path);
    keep_rows k = {keep, ctx};
    dim_load dl = {0};
    int rc = load_jsonl(in, data, len, *t, row, line, &k, err, &dl);
    if (dropped)
        *dropped += dl.dropped;
    free(row);
    return rc;
}

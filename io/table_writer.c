/* table_writer.c - the output formats behind one writer (see table_writer.h). */
#include "io/table_writer.h"

#include <stdlib.h>
#include <string.h>

#include "io/csv.h"

struct sf_table_writer {
    sf_table_format format;
    size_t ncols;
    uint64_t rows;
    sf_csv_writer *csv;
    sf_h5_writer *h5;
    sf_parquet_writer *pq;
    sf_error err; /* why an append failed (Parquet) */
};

int sf_table_format_parse(const char *name, sf_table_format *f)
{
    if (strcmp(name, "csv") == 0)
        *f = SF_TABLE_CSV;
    else if (strcmp(name, "hdf5") == 0)
        *f = SF_TABLE_HDF5;
    else if (strcmp(name, "parquet") == 0)
        *f = SF_TABLE_PARQUET;
    else
        return SF_E_INVAL;
    return 0;
}

const char *sf_table_format_ext(sf_table_format f)
{
    return f == SF_TABLE_HDF5 ? "h5" : f == SF_TABLE_PARQUET ? "parquet" : "csv";
}

const char *sf_table_file_ext(sf_table_format f, const sf_csv_options *csv)
{
    return f == SF_TABLE_CSV ? sf_csv_ext(csv) : sf_table_format_ext(f);
}

int sf_table_writer_open(sf_table_writer **out, sf_table_format f, const char *path,
                         const sf_table_schema *s, sf_error *err)
{
    *out = NULL;
    sf_table_writer *w = calloc(1, sizeof *w);
    if (!w)
        return sf_error_set(err, SF_E_NOMEM, "%s: out of memory", path);
    w->format = f;
    w->ncols = s->ncols;
    int rc;
    if (f == SF_TABLE_HDF5) {
        rc = sf_h5_writer_open(&w->h5, path, s->ncols, s->names, s->types, s->h5, err);
    } else if (f == SF_TABLE_PARQUET) {
        rc = sf_parquet_writer_open(&w->pq, path, s->ncols, s->names, s->types, s->pq, err);
    } else {
        rc = sf_csv_writer_open_opt(&w->csv, path, s->csv, err);
        for (size_t c = 0; !rc && s->header && c < s->ncols; c++)
            sf_csv_write_field(w->csv, s->names[c], strlen(s->names[c]));
        if (!rc && s->header)
            sf_csv_end_row(w->csv);
    }
    if (rc) {
        free(w);
        return rc;
    }
    *out = w;
    return 0;
}

int sf_table_writer_append(sf_table_writer *w, const sf_value *row, const int *cols)
{
    w->rows++;
    if (w->h5)
        return cols ? sf_h5_writer_append_cols(w->h5, row, cols) : sf_h5_writer_append(w->h5, row);
    if (w->pq)
        return cols ? sf_parquet_writer_append_cols(w->pq, row, cols, &w->err)
                    : sf_parquet_writer_append(w->pq, row, &w->err);
    sf_csv_write_row(w->csv, row, w->ncols, cols);
    return 0;
}

int sf_table_writer_append_text(sf_table_writer *w, const char *text, size_t n)
{
    if (!w->csv)
        return SF_E_INVAL;
    w->rows++;
    sf_csv_write_text(w->csv, text, n);
    return 0;
}

int sf_table_writer_append_texts(sf_table_writer *w, const char *text, const uint64_t *at,
                                 const uint32_t *ids, const uint32_t *order, size_t n)
{
    if (!w->csv)
        return SF_E_INVAL;
    w->rows += n;
    sf_csv_write_texts(w->csv, text, at, ids, order, n);
    return 0;
}

int sf_table_writer_append_sparse(sf_table_writer *w, const uint64_t *bits,
                                  const char *const *text, const uint32_t *len, size_t bytes)
{
    if (!w->csv)
        return SF_E_INVAL;
    w->rows++;
    sf_csv_write_sparse(w->csv, w->ncols, bits, text, len, bytes);
    return 0;
}

int sf_table_writer_close(sf_table_writer *w, uint64_t *rows, uint64_t *bytes, sf_error *err)
{
    if (!w)
        return 0;
    int rc;
    if (w->h5) {
        rc = sf_h5_writer_close(w->h5, rows, bytes, err);
    } else if (w->pq) {
        rc = sf_parquet_writer_close(w->pq, rows, bytes, err);
    } else {
        rc = sf_csv_writer_close(w->csv, bytes, err);
        if (rows)
            *rows = w->rows;
    }
    free(w);
    return rc;
}

void sf_table_writer_discard(sf_table_writer *w, sf_error *err)
{
    if (!w)
        return;
    if (err && !err->msg[0] && w->err.msg[0])
        *err = w->err;
    if (w->pq) {
        sf_parquet_writer_discard(w->pq);
    } else {
        sf_error ignored;
        if (w->h5)
            sf_h5_writer_close(w->h5, NULL, NULL, &ignored);
        else
            sf_csv_writer_close(w->csv, NULL, &ignored);
    }
    free(w);
}

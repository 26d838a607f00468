/* table_writer.h - one output file of typed rows, whatever its format.
 *
 * The write phase of every command goes through this interface: open a
 * file for a table (column names and types), append rows, close it and
 * learn its rows and bytes. CSV (io/csv), HDF5 (io/h5file) and Parquet
 * (io/parquet) are its backends; a new format is one more case in
 * table_writer.c and one more sf_table_format, and no command changes.
 */
#ifndef SF_TABLE_WRITER_H
#define SF_TABLE_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/value.h"
#include "io/csv.h"
#include "io/h5file.h"
#include "io/parquet.h"

typedef enum sf_table_format {
    SF_TABLE_CSV = 0,
    SF_TABLE_HDF5,
    SF_TABLE_PARQUET
} sf_table_format;

/* "csv", "hdf5" or "parquet" to a format. Returns 0 or SF_E_INVAL. */
int sf_table_format_parse(const char *name, sf_table_format *f);

/* The file name extension of a format, without the dot: "csv", "h5",
 * "parquet". */
const char *sf_table_format_ext(sf_table_format f);

/* The file name extension of the files a writer makes: as
 * sf_table_format_ext, but "csv.gz" / "csv.zst" for compressed CSV (csv may
 * be NULL: plain). */
const char *sf_table_file_ext(sf_table_format f, const sf_csv_options *csv);

/* What a file holds. The arrays are borrowed for the open call only (the
 * backends copy what they keep). */
typedef struct sf_table_schema {
    size_t ncols;
    const char *const *names;
    const sf_type *types;
    const sf_h5_options *h5; /* HDF5 file options; NULL for the defaults */
    int header;              /* CSV: write the header row (0 for a headless piece) */
    const sf_parquet_options *pq; /* Parquet options (codec, row groups, key-value
                                     metadata); NULL for the defaults */
    const sf_csv_options *csv; /* CSV compression; NULL: plain */
} sf_table_schema;

typedef struct sf_table_writer sf_table_writer;

/* Creates (truncates) path for a table. Returns 0 and *w, or SF_E_INVAL,
 * SF_E_IO or SF_E_NOMEM with err naming path. */
int sf_table_writer_open(sf_table_writer **w, sf_table_format f, const char *path,
                         const sf_table_schema *s, sf_error *err);

/* Appends one row: column c is row[cols[c]], or row[c] when cols is NULL.
 * CSV prints values in their text form (core/value_text) and cannot fail
 * here (write errors come out of close); HDF5 returns 0, SF_E_TYPE (a
 * value whose type is not its column's) or SF_E_NOMEM; Parquet returns 0,
 * SF_E_TYPE, SF_E_IO, SF_E_NOMEM or SF_E_LIMIT (it may write a row group)
 * and keeps the reason for sf_table_writer_discard(). */
int sf_table_writer_append(sf_table_writer *w, const sf_value *row, const int *cols);

/* CSV files only: appends one row already in its CSV form, newline
 * included (sf_csv_format_row of the file's columns). Returns 0, or
 * SF_E_INVAL (nothing written) for a file of another format. */
int sf_table_writer_append_text(sf_table_writer *w, const char *text, size_t n);
/* CSV files only: appends n rows already in CSV form, row k being
 * text[at[j], at[j + 1]) with j = ids[order[k]] (ids NULL: j = order[k];
 * sf_csv_write_texts). Returns 0, or SF_E_INVAL (nothing written) for a
 * file of another format. */
int sf_table_writer_append_texts(sf_table_writer *w, const char *text, const uint64_t *at,
                                 const uint32_t *ids, const uint32_t *order, size_t n);
/* CSV files only: appends one row of the file's columns, all NULL but
 * those whose bit is set in bits, column c holding text[c] of len[c] bytes
 * already in CSV form, bytes in all (sf_csv_write_sparse). Returns 0, or
 * SF_E_INVAL (nothing written) for a file of another format. */
int sf_table_writer_append_sparse(sf_table_writer *w, const uint64_t *bits,
                                  const char *const *text, const uint32_t *len, size_t bytes);
/* Finishes, syncs and closes the file and frees w. Returns 0 with *rows
 * and *bytes (either may be NULL), or the first failure with err naming the
 * file. NULL w is a no-op returning 0. */
int sf_table_writer_close(sf_table_writer *w, uint64_t *rows, uint64_t *bytes, sf_error *err);

/* Abort path (after a failed append, or when the command gives up): closes
 * the file without finishing it and frees w; the partial file stays for the
 * caller's staging to remove. When err is not NULL, holds no message yet
 * and an append failed with a reason, err gets that reason. NULL w is a
 * no-op. */
void sf_table_writer_discard(sf_table_writer *w, sf_error *err);

#endif

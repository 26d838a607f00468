/* h5file.h - HDF5 tables: the per-partition file writer (--layout hive) and
 * the building blocks the single-file layout (mpi/h5single.c) and the reader
 * (io/h5read.c) share. The format is documented in docs/formats.md.
 *
 * A table is an HDF5 group (the root group of a part file) holding one 1-D
 * dataset per column, all of the table's length:
 *   int64  -> H5T_STD_I64LE
 *   double -> H5T_IEEE_F64LE
 *   bool   -> enum over H5T_STD_I8LE {FALSE = 0, TRUE = 1} (h5py: numpy bool)
 *   date   -> H5T_STD_I32LE days since 1970-01-01, attribute units
 *   string -> variable-length UTF-8 string; a column in which some value
 *             holds a NUL byte is stored as variable-length sequences of
 *             H5T_STD_U8LE instead (an HDF5 string ends at its first NUL)
 *   null   -> H5T_STD_U8LE zeros (a column of type null holds only NULLs)
 * Every column dataset has a string attribute "type" (the job spec's type
 * name). NULLs: a column holding at least one NULL gets a sibling dataset
 * "<name>.valid" (H5T_STD_U8LE, 1 = value, 0 = NULL); the NULL slots of the
 * column dataset hold 0, NaN (double) or "" (string). No ".valid" dataset
 * means no NULL in that column of that table.
 * Dataset names are column names with '%' and '/' written as %25 and %2F (a
 * name "." as %2E), since '/' separates HDF5 path components.
 * Table attributes: columns, types (string arrays, in column order),
 * row_count (uint64). File attributes on the root group: shardflow_layout
 * ("hive" or "single"), job, spec_hash, shardflow_version.
 * Datasets are chunked (chunk_rows, clamped to the row count) with the
 * shuffle and deflate filters unless compression is none; empty datasets are
 * contiguous. Deflate compresses the column datasets, but the bytes of
 * variable-length strings live in HDF5's global heap, which is not filtered.
 */
#ifndef SF_H5FILE_H
#define SF_H5FILE_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/value.h"

#define SF_H5_CHUNK_ROWS 65536 /* default rows per chunk */
#define SF_H5_GZIP_DEFAULT 4   /* default deflate level */
#define SF_H5_NO_COMPRESSION (-1)

typedef struct sf_h5_options {
    int gzip;              /* deflate level 0-9 (with shuffle), or SF_H5_NO_COMPRESSION */
    size_t chunk_rows;     /* rows per chunk; 0 means SF_H5_CHUNK_ROWS */
    const char *job;       /* file attribute "job"; NULL writes "" */
    const char *spec_hash; /* file attribute "spec_hash"; NULL writes "" */
    const char *version;   /* file attribute "shardflow_version"; NULL: SF_VERSION */
    int sync_later;        /* close only starts the file's writeback, not waiting for
                            * it: the caller makes it durable, with the other files
                            * it wrote (io/fsutil sf_fsync_files); 0: close fsyncs */
} sf_h5_options;

/* Defaults: gzip 4 with shuffle, SF_H5_CHUNK_ROWS, no job, no hash, fsync
 * at close. Cannot fail. */
void sf_h5_options_init(sf_h5_options *opt);

/* Parses the --compression text into opt->gzip: "none", "gzip" (level 4) or
 * "gzip:N" with N in 0..9. Returns 0, or SF_E_INVAL with err quoting text. */
int sf_h5_parse_compression(const char *text, sf_h5_options *opt, sf_error *err);

/* The most columns an HDF5 table can have. The table attributes "columns"
 * and "types" are arrays of variable-length strings (16 bytes an element in
 * the attribute message); an attribute message of the default (compact)
 * object header holds at most 64 KiB, which is 4091 elements with the
 * message's own header (tests/unit/test_h5file.c writes 4091 and sees 4092
 * fail in the library). */
#define SF_H5_MAX_COLUMNS 4091

/* Checks that names can be stored together: at most SF_H5_MAX_COLUMNS of
 * them (checked first, so a wide table is refused at once with an error
 * that names the count and the limit and suggests CSV or Parquet), none
 * empty, no two equal, and none equal to another's "<name>.valid". Writers
 * call it; a job can call it at plan time to fail before reading data.
 * Returns 0 or SF_E_INVAL naming the column(s). */
int sf_h5_check_columns(size_t ncols, const char *const *names, sf_error *err);

/* ---- per-partition file writer ---- */

typedef struct sf_h5_writer sf_h5_writer;

/* Creates (truncates) path for a table of ncols columns (names and types are
 * copied; opt may be NULL for the defaults, its strings are copied). Rows
 * are buffered column-wise in memory until sf_h5_writer_close() writes the
 * datasets. Returns 0 and *out, or SF_E_INVAL (bad column names),
 * SF_E_IO (the file cannot be created) or SF_E_NOMEM, with err naming path. */
int sf_h5_writer_open(sf_h5_writer **out, const char *path, size_t ncols,
                      const char *const *names, const sf_type *types, const sf_h5_options *opt,
                      sf_error *err);

/* Appends a row of ncols values (strings are copied). Returns 0, SF_E_TYPE
 * (a non-NULL value whose type is not its column's: nothing is converted) or
 * SF_E_NOMEM; the first failure is also kept and reported with its row and
 * column by sf_h5_writer_close(), after which the file is not written. */
int sf_h5_writer_append(sf_h5_writer *w, const sf_value *row);

/* Same with the row's values picked from a wider row: column c is row[cols[c]]. */
int sf_h5_writer_append_cols(sf_h5_writer *w, const sf_value *row, const int *cols);

/* Writes the datasets and attributes, closes and fsyncs the file (with
 * opt->sync_later: starts its writeback only, sf_writeback_start), and frees
 * w. Returns 0 with *rows and *bytes (the file size; either may be NULL), or
 * the first append failure, SF_E_IO or SF_E_NOMEM with err naming the file
 * (and the HDF5 reason). NULL w is a no-op returning 0. */
int sf_h5_writer_close(sf_h5_writer *w, uint64_t *rows, uint64_t *bytes, sf_error *err);

/* ---- building blocks shared with mpi/h5single.c and io/h5read.c ---- */

/* Turns off HDF5's printing of error stacks: failures are reported through
 * sf_error instead. Idempotent; cannot fail. */
void sf_h5_quiet(void);

/* Sets err like sf_error_set() and appends ": <innermost HDF5 error
 * description>" when HDF5 recorded one; clears HDF5's error stack. Returns
 * code. */
int sf_h5_fail(sf_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Datatype of a column in the file (in_memory 0) or in memory (in_memory
 * 1); nul_bytes selects the variable-length uint8 form of strings. Returns
 * a new id (caller H5Tclose) or H5I_INVALID_HID. */
hid_t sf_h5_type(sf_type type, int nul_bytes, int in_memory);

/* Appends the dataset name of column (validity: its "<name>.valid"
 * dataset) to out, NUL-terminated. Returns 0 or SF_E_NOMEM. */
int sf_h5_link_name(const char *column, int validity, sf_buf *out);

/* Writes a scalar string attribute / a 1-D string array attribute / a
 * scalar uint64 attribute on loc (variable-length UTF-8 strings). where
 * names loc in messages. Return 0 or SF_E_IO. */
int sf_h5_attr_string(hid_t loc, const char *name, const char *value, const char *where,
                      sf_error *err);
int sf_h5_attr_strings(hid_t loc, const char *name, const char *const *values, size_t n,
                       const char *where, sf_error *err);
int sf_h5_attr_u64(hid_t loc, const char *name, uint64_t value, const char *where, sf_error *err);

/* Writes the table attributes (columns, types, row_count) on loc. Returns
 * 0, SF_E_NOMEM or SF_E_IO. */
int sf_h5_table_attrs(hid_t loc, size_t ncols, const char *const *names, const sf_type *types,
                      uint64_t rows, const char *where, sf_error *err);

/* Writes the file attributes (shardflow_layout = layout, job, spec_hash,
 * shardflow_version from opt) on the root group of file. Returns 0 or
 * SF_E_IO. */
int sf_h5_file_attrs(hid_t file, const char *layout, const sf_h5_options *opt, const char *where,
                     sf_error *err);

/* Creates the dataset of a column of type in loc for rows values, named
 * after column (validity: its ".valid" dataset, uint8), chunked and filtered
 * as opt says, with its "type" (and "units") attribute. nul_bytes selects
 * the uint8-sequence form of strings. Fixed-width datasets are created with
 * fill time "never" (every element gets written), which parallel HDF5 needs
 * to skip writing fill values. Returns 0 and *out (caller H5Dclose), or
 * SF_E_NOMEM / SF_E_IO naming where and the column. */
int sf_h5_dataset_create(hid_t loc, const char *column, sf_type type, int validity, int nul_bytes,
                         uint64_t rows, const sf_h5_options *opt, const char *where, hid_t *out,
                         sf_error *err);

/* A column's values buffered in their file form, appended one at a time
 * (growth doubles, so appends are amortized O(1)). Strings are copied with a
 * NUL after each; data then holds n + 1 size_t offsets into bytes. */
typedef struct sf_h5_column {
    sf_type type;
    size_t n;            /* values held */
    size_t cap;          /* values allocated */
    unsigned char *data; /* int64 / double / int8 (bool) / int32 (date) / uint8 (null) */
    uint8_t *valid;      /* n flags: 1 value, 0 NULL */
    size_t nnull;        /* NULLs among the n values */
    int nul_bytes;       /* some string holds a NUL byte */
    char *bytes;         /* strings */
    size_t nbytes, bcap;
    void *ptrs;          /* scratch for writes: a char * or hvl_t per string */
    size_t pcap;         /* bytes allocated at ptrs */
} sf_h5_column;

/* An empty column of type. Cannot fail. */
void sf_h5_column_init(sf_h5_column *c, sf_type type);

/* Appends v. Returns 0, SF_E_TYPE (v is neither NULL nor of the column's
 * type) or SF_E_NOMEM; on failure the column is unchanged. */
int sf_h5_column_push(sf_h5_column *c, const sf_value *v);

/* Writes the n values to dset at element offset at, and their flags to
 * valid at the same offset unless valid is H5I_INVALID_HID, with transfer
 * property list dxpl (H5P_DEFAULT or an MPI-IO one). A string column is
 * written in the form dset was created with (string or uint8 sequences).
 * Writes nothing when n is 0. Returns 0, SF_E_NOMEM, or SF_E_IO with err
 * naming what. */
int sf_h5_column_write(sf_h5_column *c, hid_t dset, hid_t valid, uint64_t at, hid_t dxpl,
                       const char *what, sf_error *err);

/* Forgets the values, keeps the memory. Cannot fail. */
void sf_h5_column_clear(sf_h5_column *c);

/* Frees the memory; the column is empty again. */
void sf_h5_column_free(sf_h5_column *c);

#endif

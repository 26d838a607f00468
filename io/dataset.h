/* dataset.h - reading a shardflow output back: its tables, in order.
 *
 * A dataset is an output directory (CSV, HDF5 or Parquet; HDF5 in --layout
 * hive or single) or one .csv / .h5 / .parquet file. Its sources are every part file under the
 * directory, skipping names that start with '_' or '.' (_SUCCESS,
 * _MANIFEST.json, _temporary, ...), and every table group of an .h5 file,
 * sorted by partition path and then by file name; a directory may not mix
 * formats. A table is one source open for reading: its column names, then
 * rows (CSV through mmap and io/csv, HDF5 in batches through io/h5read,
 * Parquet in batches through io/parquet_read, so none needs a whole file in
 * memory). `shardflow
 * inspect` and `cat` (cli/inspect.c) are built on it; partition paths are
 * parsed by io/hive, the manifest by io/manifest. No MPI.
 */
#ifndef SF_DATASET_H
#define SF_DATASET_H

#include <stddef.h>

#include "core/error.h"
#include "io/csv.h"
#include "io/h5read.h"
#include "io/parquet_read.h"

typedef enum { SRC_CSV, SRC_H5, SRC_PQ } sf_dataset_kind;

typedef struct sf_dataset_source {
    char *part;  /* partition path, "" when unpartitioned */
    char *file;  /* path of the file */
    char *name;  /* what inspect lists: the file relative to the output, ":/group" */
    char *group; /* HDF5 table group ("" for the root); NULL for CSV */
    sf_dataset_kind kind;
} sf_dataset_source;

typedef struct sf_dataset {
    const char *path; /* borrowed from sf_dataset_open's caller */
    int is_dir;
    sf_dataset_source *s;
    size_t n, cap;
} sf_dataset;

/* Lists the sources of the dataset at path into *o (zero it first).
 * Returns 0, or SF_E_NOTFOUND, SF_E_IO, SF_E_INVAL (mixed formats, not an
 * output), SF_E_LIMIT or SF_E_NOMEM with err naming the place. */
int sf_dataset_open(sf_dataset *o, const char *path, sf_error *err);

/* Frees the sources; o can be opened again. */
void sf_dataset_free(sf_dataset *o);

/* "a" + sep + "b", or the non-empty one of them. New string or NULL. */
char *sf_dataset_join(const char *a, const char *sep, const char *b);

/* A whole file mapped read-only (p NULL for an empty file). */
typedef struct sf_dataset_map {
    char *p;
    size_t n;
    int heap; /* p is malloc'ed (a decompressed .csv.gz / .csv.zst), not mapped */
} sf_dataset_map;

/* One open table of any kind: csv is positioned after the header line, h5
 * and pq before the first row. */
typedef struct sf_dataset_table {
    const sf_dataset_source *src;
    sf_dataset_map map;
    sf_csv_reader *csv;
    sf_h5_reader *h5;
    sf_parquet_reader *pq;
    char **cols; /* column names (new strings) */
    size_t ncols;
} sf_dataset_table;

/* Opens source s. Returns 0, or SF_E_IO, SF_E_PARSE (an empty CSV file),
 * SF_E_NOMEM, or io/h5read's errors, with err set; close t either way. */
int sf_dataset_table_open(sf_dataset_table *t, const sf_dataset_source *s, sf_error *err);

/* The next at most max typed rows of an HDF5 or Parquet table (t->h5 or
 * t->pq set): *rows holds *n rows of t->ncols values, borrowed until the
 * next call or close; *n is 0 at the end. Returns 0 or the reader's error
 * with err set. */
int sf_dataset_table_next(sf_dataset_table *t, size_t max, const sf_value **rows, size_t *n,
                          sf_error *err);

/* Closes t and frees what it holds; a zeroed t is a no-op. */
void sf_dataset_table_close(sf_dataset_table *t);

#endif

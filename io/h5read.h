/* h5read.h - reads shardflow HDF5 tables back as rows of sf_value.
 *
 * Works for both layouts (docs/formats.md): a part file of --layout hive
 * holds one table at its root; the output.h5 of --layout single holds one
 * table per partition group. Rows come in batches of a size the caller
 * picks, so a big table never has to fit in memory; NULLs come back from the
 * ".valid" datasets. Files are opened read-only with the default (serial)
 * driver, which also reads files written in parallel; no MPI is needed.
 */
#ifndef SF_H5READ_H
#define SF_H5READ_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/value.h"

/* The tables of file path: "" for a table at the root (a part file, or an
 * unpartitioned single-layout file), else the group paths of the partition
 * groups ("date=2025-08-01", "a=1/b=x"), in strcmp order. Returns 0 with
 * *names (new: free with sf_h5_tables_free) and *n, or SF_E_NOTFOUND (no
 * such file), SF_E_PARSE (not an HDF5 file) or SF_E_NOMEM, err naming path. */
int sf_h5_tables(const char *path, char ***names, size_t *n, sf_error *err);

/* Frees what sf_h5_tables() returned; NULL is a no-op. */
void sf_h5_tables_free(char **names, size_t n);

typedef struct sf_h5_reader sf_h5_reader;

/* Opens the table in group of file path (NULL or "" for the root). Checks
 * the table's attributes and that every column dataset exists with the
 * table's length and a type its column can be read as. Returns 0 and *out,
 * or SF_E_NOTFOUND, SF_E_PARSE (not a shardflow table, with the reason) or
 * SF_E_NOMEM, err naming path and group. */
int sf_h5_reader_open(sf_h5_reader **out, const char *path, const char *group, sf_error *err);

/* The table's shape; names are borrowed until close. They cannot fail
 * (col must be < ncols). */
size_t sf_h5_reader_ncols(const sf_h5_reader *r);
const char *sf_h5_reader_name(const sf_h5_reader *r, size_t col);
sf_type sf_h5_reader_type(const sf_h5_reader *r, size_t col);
uint64_t sf_h5_reader_nrows(const sf_h5_reader *r);

/* Bytes the table's datasets take in the file (HDF5 storage size, so after
 * compression; the heap bytes of variable-length strings are not counted). */
uint64_t sf_h5_reader_storage(const sf_h5_reader *r);

/* A string attribute of the file's root group (job, spec_hash,
 * shardflow_version, shardflow_layout), borrowed until close; NULL when the
 * file has none. */
const char *sf_h5_reader_attr(const sf_h5_reader *r, const char *name);

/* Reads the next at most max rows (max 0 means 1). Returns 0 with *rows
 * (*n rows of ncols values each, strings included, borrowed until the next
 * call or close) and *n, which is 0 at the end of the table; or SF_E_IO /
 * SF_E_NOMEM with err naming path, group and the column. */
int sf_h5_reader_next(sf_h5_reader *r, size_t max, const sf_value **rows, size_t *n,
                      sf_error *err);

/* Closes the file and frees r; NULL is a no-op. */
void sf_h5_reader_close(sf_h5_reader *r);

#endif

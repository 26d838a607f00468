/* h5single.h - --layout single: one HDF5 file for the whole output, one group
 * per partition, created collectively with parallel HDF5 (MPI-IO driver).
 *
 * Every rank passes the partitions it owns (any number, zero included; a
 * partition is owned by exactly one rank). The file's root group gets the
 * file attributes (shardflow_layout "single", job, spec_hash,
 * shardflow_version, row_count = total rows, partition_count); each
 * partition is a table (io/h5file.h) in the group named by its Hive path,
 * e.g. /date=2025-08-01 or /a=1/b=x, or the root group itself for an
 * unpartitioned output (a partition named ""). docs/formats.md has the
 * details and how to read the file.
 *
 * How it is written: the ranks exchange partition names, row counts and
 * which columns hold NULLs, then all of them create every group and every
 * fixed-width dataset in the same order (HDF5 object creation is
 * collective) and write them, each rank its own partitions' rows: with
 * collective transfers when compression is on (parallel HDF5 filters need
 * them), independent ones otherwise. String columns come last: parallel
 * HDF5 cannot write variable-length data, so after the parallel file is
 * closed the owning ranks, one after the other in rank order, reopen it with
 * the serial driver and create and write their partitions' string datasets.
 */
#ifndef SF_H5SINGLE_H
#define SF_H5SINGLE_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/value.h"
#include "io/h5file.h"

/* The columns written, and where they sit in the caller's rows. */
typedef struct sf_h5single_table {
    size_t ncols;
    const char *const *names;
    const sf_type *types;
    const int *cols; /* column c is value cols[c] of a row; NULL: value c */
    size_t stride;   /* values per row; 0 means ncols */
} sf_h5single_table;

/* One partition this rank owns. For an sf_rows table t holding it: rows =
 * sf_rows_at(&t, first), nrows = its row count, stride = t.ncols. */
typedef struct sf_h5single_part {
    const char *name;     /* group path (sf_hive_dirname), "" for the root */
    const sf_value *rows; /* nrows rows of stride values, borrowed */
    size_t nrows;
} sf_h5single_part;

/* Collective over comm: writes path (created or truncated) holding every
 * rank's parts, in the group order of their names (strcmp), and makes it
 * durable (rank 0 fsyncs it; with opt->sync_later rank 0 only starts its
 * writeback: the caller's rank 0 fsyncs it, with its other files). opt may
 * be NULL for the defaults. All ranks return the same code: 0 with *rows
 * (total rows) and *bytes (file size), either may be NULL; or SF_E_INVAL (bad
 * column names, a partition named on two ranks or twice), SF_E_TYPE (a value
 * of the wrong type), SF_E_IO or SF_E_NOMEM, with err holding the message of
 * the lowest failing rank, prefixed with its rank. On failure the file is
 * left incomplete (the caller's staging directory is removed on abort). */
int sf_h5single_write(MPI_Comm comm, const char *path, const sf_h5single_table *t,
                      const sf_h5single_part *parts, size_t nparts, const sf_h5_options *opt,
                      uint64_t *rows, uint64_t *bytes, sf_error *err);

#endif

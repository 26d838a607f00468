/* dimtable.h - loads a dimension input (JSONL or CSV bytes) into a join table.
 *
 * Rank 0 reads the file once and broadcasts its bytes; every rank then calls
 * sf_dimtable_load() on the same bytes. Dimension tables are small and must
 * be clean: any bad row is an error naming the file, line and column, since a
 * silently skipped dimension row would silently drop fact rows in a join.
 * The one exception is asked for in the spec: "duplicates": "first" keeps
 * the first row of each key in file order and counts the others.
 */
#ifndef SF_DIMTABLE_H
#define SF_DIMTABLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/join.h"
#include "core/spec.h"

/* Parses data[0..len) as input in (its format, columns and key). Returns 0
 * and a new table (free with sf_join_table_free), or SF_E_PARSE / SF_E_TYPE /
 * SF_E_EXISTS (duplicate key) / SF_E_NOMEM with err naming the place. */
int sf_dimtable_load(const sf_job_input *in, const char *data, size_t len,
                     sf_join_table **out, sf_error *err);

/* As sf_dimtable_load; for an input with "duplicates": "first"
 * (in->keep_first_key), a row whose key an earlier row of the file has is
 * skipped instead of failing the load, and *dropped (when not NULL) gets
 * the number of rows skipped (0 otherwise). */
int sf_dimtable_load_counted(const sf_job_input *in, const char *data, size_t len,
                             sf_join_table **out, uint64_t *dropped, sf_error *err);

/* Whether a row is kept (1) or skipped (0): a partitioned join keeps only
 * the rows whose key this rank owns. */
typedef int (*sf_dimtable_keep_fn)(void *ctx, const sf_value *row);

/* Adds the JSONL lines data[0..len) (whole lines) of input in to *t (a new
 * table when *t is NULL), numbering them from *line + 1 and advancing
 * *line past them, keeping only the rows for which keep (NULL: every row)
 * returns 1. For a JSONL table broadcast in pieces, so no rank holds the
 * whole file and, partitioned, not the whole table either. With
 * "duplicates": "first", rows of a key already in *t are skipped and
 * counted into *dropped (when not NULL). Returns 0 or an error as
 * sf_dimtable_load(); *t stays the caller's to free. */
int sf_dimtable_load_jsonl_part(const sf_job_input *in, const char *data, size_t len, long *line,
                                sf_dimtable_keep_fn keep, void *ctx, sf_join_table **t,
                                uint64_t *dropped, sf_error *err);

#endif

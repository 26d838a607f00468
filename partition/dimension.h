/* dimension.h - which rows of a dimension table a rank keeps for a
 * partitioned (before-join) hash join.
 *
 * A row belongs to the rank that owns the hash of its key value
 * (partition/keyhash, partition/partitioner): the rank the fact rows with
 * that join key are streamed to.
 */
#ifndef SF_PARTITION_DIMENSION_H
#define SF_PARTITION_DIMENSION_H

#include <stddef.h>

#include "core/join.h"

/* A new table (*mine, caller frees) with the rows of all (ncols columns,
 * key in key_col) whose key rank `rank` owns among nranks, with nparts
 * partitions. all is left as it was. Returns 0, or SF_E_NOMEM with *mine
 * NULL. */
int sf_partition_join_table(const sf_join_table *all, size_t ncols, int key_col, int nparts,
                            int nranks, int rank, sf_join_table **mine);

/* 1 when rank `rank` keeps a row with this key value (nranks ranks,
 * nparts partitions), else 0: the rule of sf_partition_join_table(), for
 * a table filtered while it loads. Cannot fail (a key that cannot be
 * hashed is kept everywhere, for the join to report). */
int sf_partition_dimension_keeps(const sf_value *key, int nparts, int nranks, int rank);

#endif

/* dimension.c - a rank's share of a partitioned dimension table. */
#include "partition/dimension.h"

#include "core/error.h"
#include "partition/keyhash.h"
#include "partition/partitioner.h"

int sf_partition_join_table(const sf_join_table *all, size_t ncols, int key_col, int nparts,
                            int nranks, int rank, sf_join_table **mine)
{
    sf_join_table *t = sf_join_table_new(ncols, key_col);
    int rc = t ? 0 : SF_E_NOMEM;
    for (size_t i = 0; i < sf_join_table_rows(all) && !rc; i++) {
        const sf_value *row = sf_join_table_row(all, i);
        uint64_t hash;
        rc = sf_key_hash_value(&row[key_col], &hash);
        if (!rc && sf_partition_rank(hash, nparts, nranks) == rank)
            rc = sf_join_table_add(t, row);
    }
    if (rc) {
        sf_join_table_free(t);
        t = NULL;
    }
    *mine = t;
    return rc ? SF_E_NOMEM : 0;
}

int sf_partition_dimension_keeps(const sf_value *key, int nparts, int nranks, int rank)
{
    uint64_t hash;
    if (sf_key_hash_value(key, &hash) != 0)
        return 1;
    return sf_partition_rank(hash, nparts, nranks) == rank;
}

/* partitioner.c - maps key hashes to partitions; decides where rows go,
 * does not send them.
 *
 * The partition is floor(hash * nparts / 2^64), the high part of a 64x32
 * multiply: it uses the high bits of the hash, costs no division, and splits
 * the hash range into nparts runs of equal length (to within one), so it is
 * uniform for any nparts, not just powers of two as a mask would be, and
 * without the slight bias toward low partitions that hash % nparts has.
 * Per-rank hash maps index by the low bits, which stay uniform within one
 * partition.
 */
#include "partition/partitioner.h"

#include <stdlib.h>

#include "core/error.h"

static inline uint32_t part_of(uint64_t hash, uint32_t nparts)
{
    if (nparts <= 1)
        return 0;
    return (uint32_t)(((unsigned __int128)hash * nparts) >> 64);
}

/* p mod nranks; a partition below nranks is its own owner, which with as
 * many partitions as ranks (the default) is every one: no division for
 * the owner a row's hash asks per row (the step-aside, the row streams). */
static inline int owner_of(uint32_t partition, int nranks)
{
    uint32_t n = (uint32_t)nranks;
    return (int)(partition < n ? partition : partition % n);
}

uint32_t sf_partition_of(uint64_t hash, uint32_t nparts) { return part_of(hash, nparts); }

int sf_partition_owner(uint32_t partition, int nranks) { return owner_of(partition, nranks); }

int sf_partition_rank(uint64_t hash, int nparts, int nranks)
{
    return owner_of(part_of(hash, (uint32_t)nparts), nranks);
}

uint32_t sf_partition_spill(uint64_t hash, uint32_t nspill)
{
    if (nspill <= 1)
        return 0;
    return (uint32_t)(((uint64_t)(uint32_t)(hash >> 16) * nspill) >> 32);
}

uint32_t sf_partition_spill_again(uint64_t hash, uint32_t nsub, int level)
{
    if (nsub <= 1 || level < 1 || level > 5)
        return 0;
    uint32_t byte = (uint32_t)(hash >> (40 - 8 * level)) & 0xffu;
    return (uint32_t)((byte * (uint64_t)nsub) >> 8);
}

/* A bucket to place: heavier first, then the lower number. */
typedef struct balance_item {
    uint64_t count;
    uint32_t bucket;
} balance_item;

static int cmp_balance(const void *a, const void *b)
{
    const balance_item *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return (x->bucket > y->bucket) - (x->bucket < y->bucket);
}

int sf_partition_balance(const uint64_t *count, uint32_t nbuckets, int nranks, int *owner)
{
    if (nranks < 1)
        nranks = 1;
    balance_item *items = malloc((nbuckets ? nbuckets : 1) * sizeof *items);
    uint64_t *load = calloc((size_t)nranks, sizeof *load);
    if (!items || !load) {
        free(items);
        free(load);
        return SF_E_NOMEM;
    }
    uint32_t n = 0;
    for (uint32_t b = 0; b < nbuckets; b++) {
        owner[b] = (int)(b % (uint32_t)nranks);
        if (count[b])
            items[n++] = (balance_item){count[b], b};
    }
    qsort(items, n, sizeof *items, cmp_balance);
    for (uint32_t k = 0; k < n; k++) {
        int least = 0;
        for (int r = 1; r < nranks; r++) {
            if (load[r] < load[least])
                least = r;
        }
        owner[items[k].bucket] = least;
        load[least] += items[k].count;
    }
    free(items);
    free(load);
    return 0;
}

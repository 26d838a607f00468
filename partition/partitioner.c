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

uint32_t sf_partition_of(uint64_t hash, uint32_t nparts)
{
    if (nparts <= 1)
        return 0;
    return (uint32_t)(((unsigned __int128)hash * nparts) >> 64);
}

int sf_partition_owner(uint32_t partition, int nranks)
{
    return (int)(partition % (uint32_t)nranks);
}

int sf_partition_rank(uint64_t hash, int nparts, int nranks)
{
    return sf_partition_owner(sf_partition_of(hash, (uint32_t)nparts), nranks);
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

/* partitioner.h - which partition a key hash belongs to.
 *
 * Partitions are numbered 0..nparts-1 and a key's partition depends only on
 * its 64-bit hash (sf_hash_bytes of the key) and nparts, so every rank agrees
 * on it without talking. This module decides where rows go; it does not
 * send them.
 */
#ifndef SF_PARTITIONER_H
#define SF_PARTITIONER_H

#include <stdint.h>

/* The partition in [0, nparts) of a key with this hash, for nparts >= 1
 * (0 is treated as 1). Cannot fail. */
uint32_t sf_partition_of(uint64_t hash, uint32_t nparts);

/* The rank that owns a partition: partition p belongs to rank p mod
 * nranks (nranks >= 1). Cannot fail. */
int sf_partition_owner(uint32_t partition, int nranks);

/* The rank that owns a key hash: sf_partition_owner(sf_partition_of(hash,
 * nparts), nranks). Cannot fail. */
int sf_partition_rank(uint64_t hash, int nparts, int nranks);

/* Owners for nbuckets buckets of keys (a key's bucket is
 * sf_partition_of(hash, nbuckets)) that even out the rows each rank gets,
 * given count[b], the rows of bucket b on all ranks together: the
 * largest bucket first goes to the rank holding the fewest rows so far
 * (ties: the bucket with the lower number first, the lower rank), an
 * empty bucket to b mod nranks. The same counts give the same owner[] on
 * every rank, so ranks that agree on count[] agree on every key's owner
 * without talking again; a bucket is never split, so one key has one
 * owner. With a few heavy buckets (the dates of a date-partitioned output)
 * hash ownership can give one rank far more rows than another (31 dates on
 * 2 ranks: 64% and 36% measured); this one gives at most the mean plus
 * the largest bucket. Returns 0, or SF_E_NOMEM with owner[] unchanged. */
int sf_partition_balance(const uint64_t *count, uint32_t nbuckets, int nranks, int *owner);

/* The spill partition in [0, nspill) of a key hash (nspill >= 1; 0 is
 * treated as 1): floor(bits 16..47 of the hash * nspill / 2^32). For
 * nspill <= 256 that reads bits 40..47, which neither sf_partition_of()
 * (the top bits, for up to 65536 partitions) nor a hash map's index (the
 * low bits) depends on, so one spill pass holds keys of every rank and
 * fills tables evenly. Cannot fail. */
uint32_t sf_partition_spill(uint64_t hash, uint32_t nspill);

/* The sub-partition in [0, nsub) (nsub <= 256; 0 is treated as 1) of a
 * key hash when a spill partition too big for one pass is split again,
 * for the level-th split (level >= 1): floor(byte * nsub / 256) of the
 * hash's byte at bits 40 - 8 * level .. 47 - 8 * level. Those bits lie
 * below the ones sf_partition_spill() reads for nspill <= 256, so the keys
 * of one spill partition spread over the sub-partitions, and each level
 * reads new bits (levels 1 and 2 stay above a hash map's index bits for
 * tables under 16M slots). Cannot fail. */
uint32_t sf_partition_spill_again(uint64_t hash, uint32_t nsub, int level);

#endif

/* keyhash.h - the hash of a grouping, join or partition key.
 *
 * A key is the concatenated value encoding (core/value.h) of its columns;
 * its hash is sf_hash_bytes with the one key seed (SF_KEY_HASH_SEED), the
 * same hash the combiner files groups under, so every rank routes a key
 * to the same place without talking.
 */
#ifndef SF_KEYHASH_H
#define SF_KEYHASH_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/value.h"

/* Hash of an encoded key (klen bytes). Cannot fail. */
uint64_t sf_key_hash(const void *key, size_t klen);

/* Hash of the key formed by row[cols[0..n)], encoded into scratch (reused,
 * grown as needed; the caller frees it). Returns 0, or SF_E_NOMEM with
 * *hash untouched. */
int sf_key_hash_columns(const sf_value *row, const int *cols, size_t n, sf_buf *scratch,
                        uint64_t *hash);

/* Hash of a single value's encoding, for keys of one column (a join
 * key). Returns 0, or SF_E_NOMEM. */
int sf_key_hash_value(const sf_value *v, uint64_t *hash);

#endif

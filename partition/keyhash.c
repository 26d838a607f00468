/* keyhash.c - key hashes for routing (see keyhash.h). */
#include "partition/keyhash.h"

#include <stdlib.h>

#include "core/error.h"
#include "core/hash.h"

uint64_t sf_key_hash(const void *key, size_t klen)
{
    return sf_hash_bytes(key, klen, SF_KEY_HASH_SEED);
}

int sf_key_hash_columns(const sf_value *row, const int *cols, size_t n, sf_buf *scratch,
                        uint64_t *hash)
{
    scratch->n = 0;
    for (size_t k = 0; k < n; k++) {
        if (sf_buf_reserve(scratch, sf_value_encoded_size(&row[cols[k]])) != 0)
            return SF_E_NOMEM;
        scratch->n += sf_value_encode(&row[cols[k]], scratch->p + scratch->n);
    }
    *hash = sf_key_hash(scratch->p, scratch->n);
    return 0;
}

int sf_key_hash_value(const sf_value *v, uint64_t *hash)
{
    unsigned char small[256];
    size_t klen = sf_value_encoded_size(v);
    unsigned char *k = klen <= sizeof small ? small : malloc(klen);
    if (!k)
        return SF_E_NOMEM;
    sf_value_encode(v, k);
    *hash = sf_key_hash(k, klen);
    if (k != small)
        free(k);
    return 0;
}

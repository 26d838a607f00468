/* salt.c - hot-key sketch and salted routing (see salt.h). */
#include "partition/salt.h"

#include <string.h>

#include "partition/partitioner.h"

void sf_salt_init(sf_salt *s) { memset(s, 0, sizeof *s); }

uint64_t sf_salt_count(sf_salt *s, uint64_t hash)
{
    int min = 0;
    for (int i = 0; i < s->nhot; i++) {
        if (s->hot[i].hash == hash)
            return ++s->hot[i].count;
        if (s->hot[i].count < s->hot[min].count)
            min = i;
    }
    if (s->nhot < SF_SALT_SKETCH) {
        s->hot[s->nhot].hash = hash;
        s->hot[s->nhot].count = 1;
        return s->hot[s->nhot++].count;
    }
    s->hot[min].hash = hash;
    return ++s->hot[min].count;
}

int sf_salt_route(sf_salt *s, uint64_t hash, int nparts, int nranks, int salt)
{
    s->routed++;
    int dest = sf_partition_rank(hash, nparts, nranks);
    if (salt > 1) {
        uint64_t c = sf_salt_count(s, hash);
        if (s->routed >= 1024 && c * 2 * (uint64_t)nparts > s->routed)
            dest = (int)(((uint64_t)dest + s->routed % (uint64_t)salt) % (uint64_t)nranks);
    }
    return dest;
}

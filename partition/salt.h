/* salt.h - salting of hot keys in raw-row shuffles (--salt K).
 *
 * Each rank keeps a space-saving sketch (Metwally, Agrawal, El Abbadi
 * 2005) of the route keys it has sent: 64 counters, a key not in the full
 * sketch replaces the smallest counter and inherits its count, so the
 * count of a key is an upper bound and any key above 1/64 of the rows is
 * in the sketch. A key with more than half a partition's fair share of the
 * rows routed so far is hot: its rows rotate over K consecutive ranks from
 * its owner, as partial owners whose partial aggregates the group shuffle
 * then merges exactly. Decides where; sends nothing.
 */
#ifndef SF_SALT_H
#define SF_SALT_H

#include <stdint.h>

#define SF_SALT_SKETCH 64

typedef struct sf_salt {
    struct {
        uint64_t hash, count;
    } hot[SF_SALT_SKETCH];
    int nhot;
    uint64_t routed; /* rows routed so far */
} sf_salt;

/* An empty sketch. Cannot fail. */
void sf_salt_init(sf_salt *s);

/* Counts a key hash in the sketch; returns its estimated count (an upper
 * bound). Cannot fail. */
uint64_t sf_salt_count(sf_salt *s, uint64_t hash);

/* The rank a row with this key hash goes to: its owner among nranks with
 * nparts partitions, or, for salt > 1 and a hot key (once 1024 rows have
 * been routed), one of salt consecutive ranks from the owner, rotating
 * with every row. Counts the row. Cannot fail. */
int sf_salt_route(sf_salt *s, uint64_t hash, int nparts, int nranks, int salt);

#endif

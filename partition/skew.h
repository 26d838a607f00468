/* skew.h - how unevenly work is spread: max/mean of per-partition or
 * per-rank figures, and the heaviest keys.
 *
 * Pure arithmetic over figures the runtime has gathered (mpi/metrics
 * writes them to _METRICS.json, `shardflow experiment` compares them).
 */
#ifndef SF_SKEW_H
#define SF_SKEW_H

#include <stdint.h>

#define SF_TOP_KEYS 5

typedef struct sf_heavy_key {
    char key[240]; /* group key values joined with '|' */
    uint64_t rows;
} sf_heavy_key;

/* Largest value (0 for none or all negative) and mean (0 for n = 0) of
 * v[0..n). Cannot fail. */
void sf_skew_stats(const double *v, int n, double *max, double *mean);

/* max / mean, or 0 when the mean is 0: 1 is perfectly even. */
double sf_skew_ratio(double max, double mean);

/* Inserts k into top (*n entries, at most SF_TOP_KEYS), kept sorted by
 * rows descending, then key ascending so that ties do not depend on the
 * order keys are offered in. A key lighter than a full list's last is
 * dropped. Cannot fail. */
void sf_skew_top_insert(sf_heavy_key *top, int *n, const sf_heavy_key *k);

#endif

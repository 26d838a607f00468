/* verdict.h - what an experiment may claim: ranges of repeated timings, a
 * "faster" only when ranges do not overlap, and a one-line recommendation.
 *
 * Pure C (no MPI): `shardflow experiment` feeds it the repeats' wall times,
 * bytes moved and scan time per combination.
 */
#ifndef SF_VERDICT_H
#define SF_VERDICT_H

#include <stddef.h>

typedef struct sf_range {
    double min, median, max;
} sf_range;

/* The min, median and max of v[0..n). n >= 1; v is not changed. */
void sf_range_of(const double *v, int n, sf_range *out);

/* The index of the combination whose whole range (max) lies below every
 * other combination's min, or -1 when the lowest range overlaps another
 * (or n < 2): "no clear difference at this size". */
int sf_verdict_fastest(const sf_range *wall, int n);

/* The shape of the data an experiment ran on: what decides which strategy
 * moves less (how much a combiner shrinks the rows) and which one balances
 * (key skew). */
typedef struct sf_shape {
    double rows;      /* rows aggregated */
    double groups;    /* result groups */
    double skew;      /* max/mean input rows per shuffle partition (1: even) */
} sf_shape;

/* Writes one line (no newline) into out (size cap): the verdict and why.
 * names[i] label the combinations; wall[i] their wall-time ranges;
 * mb[i] the median MB moved; scan_share[i] the median share of wall time
 * spent scanning (0..1). shape (may be NULL) ends the line with the data
 * shape the verdict holds for (" Data shape: 1000000 rows into 2480 groups
 * (0.25%: a combiner shrinks the rows to move), partition skew 1.02
 * (max/mean rows: even).") and, for skewed keys (skew >= 1.5), the salting
 * hint. Truncates to cap - 1 chars. */
void sf_verdict_line(char *out, size_t cap, const char *const *names, const sf_range *wall,
                     const double *mb, const double *scan_share, int n, const sf_shape *shape);

#endif

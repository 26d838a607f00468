/* skew.c - skew statistics (see skew.h). */
#include "partition/skew.h"

#include <string.h>

void sf_skew_stats(const double *v, int n, double *max, double *mean)
{
    double sum = 0;
    *max = 0;
    for (int i = 0; i < n; i++) {
        sum += v[i];
        if (v[i] > *max)
            *max = v[i];
    }
    *mean = n ? sum / n : 0;
}

double sf_skew_ratio(double max, double mean) { return mean > 0 ? max / mean : 0; }

void sf_skew_top_insert(sf_heavy_key *top, int *n, const sf_heavy_key *k)
{
    int pos = *n;
    while (pos > 0 && (top[pos - 1].rows < k->rows ||
                       (top[pos - 1].rows == k->rows && strcmp(top[pos - 1].key, k->key) > 0)))
        pos--;
    if (pos >= SF_TOP_KEYS)
        return;
    int keep = *n < SF_TOP_KEYS ? *n : SF_TOP_KEYS - 1;
    memmove(&top[pos + 1], &top[pos], (size_t)(keep - pos) * sizeof *top);
    top[pos] = *k;
    if (*n < SF_TOP_KEYS)
        (*n)++;
}

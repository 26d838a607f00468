/* verdict.c - ranges of repeated timings and the claims they allow. */
#include "cli/verdict.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void sf_range_of(const double *v, int n, sf_range *out)
{
    double s[64];
    int k = n < 64 ? n : 64;
    for (int i = 0; i < k; i++)
        s[i] = v[i];
    qsort(s, (size_t)k, sizeof *s, cmp_double);
    out->min = s[0];
    out->max = s[k - 1];
    out->median = k % 2 ? s[k / 2] : (s[k / 2 - 1] + s[k / 2]) / 2;
}

int sf_verdict_fastest(const sf_range *wall, int n)
{
    if (n < 2)
        return -1;
    int best = 0;
    for (int i = 1; i < n; i++) {
        if (wall[i].max < wall[best].max)
            best = i;
    }
    for (int i = 0; i < n; i++) {
        if (i != best && !(wall[best].max < wall[i].min))
            return -1;
    }
    return best;
}

/* The shape in words: rows, groups, what a combiner does to them, skew. */
static void shape_text(char *out, size_t cap, const sf_shape *s)
{
    double pct = s->rows > 0 ? 100 * s->groups / s->rows : 0;
    const char *combine = pct < 10    ? "a combiner shrinks the rows to move"
                          : pct < 50 ? "a combiner helps somewhat"
                                     : "nearly a group per row, so a combiner barely helps";
    snprintf(out, cap, " Data shape: %.0f rows into %.0f groups (%.2f%%: %s), partition "
             "skew %.2f (max/mean rows: %s).", s->rows, s->groups, pct, combine, s->skew,
             s->skew >= 1.5 ? "skewed keys" : "even");
}

void sf_verdict_line(char *out, size_t cap, const char *const *names, const sf_range *wall,
                     const double *mb, const double *scan_share, int n, const sf_shape *shape)
{
    if (cap == 0)
        return;
    out[0] = '\0';
    if (n < 1)
        return;
    char tail[512] = "";
    if (shape) {
        shape_text(tail, sizeof tail, shape);
        if (shape->skew >= 1.5) {
            size_t used = strlen(tail);
            snprintf(tail + used, sizeof tail - used, " Hot keys make one partition %.1fx the "
                     "mean: try none/salt=K, which spreads them over K ranks.", shape->skew);
        }
    }
    int least = 0; /* moves the least data */
    int most = 0;
    double share = 0;
    for (int i = 0; i < n; i++) {
        if (mb[i] < mb[least])
            least = i;
        if (mb[i] > mb[most])
            most = i;
        share += scan_share[i];
    }
    share = 100 * share / n;
    int best = sf_verdict_fastest(wall, n);
    if (best >= 0) {
        int next = best == 0 ? 1 : 0; /* the runner-up: lowest min among the rest */
        for (int i = 0; i < n; i++) {
            if (i != best && wall[i].min < wall[next].min)
                next = i;
        }
        snprintf(out, cap,
                 "Use %s: faster in every repeat (%.3f..%.3f s against %.3f s at best for %s); "
                 "it moves %.2f MB (all combinations: %.2f..%.2f MB); scan is %.0f%% of wall "
                 "time.%s",
                 names[best], wall[best].min, wall[best].max, wall[next].min, names[next],
                 mb[best], mb[least], mb[most], share, tail);
    } else {
        snprintf(out, cap,
                 "No clear difference at this size: the repeats' ranges overlap and scan, "
                 "which strategies do not change, is %.0f%% of wall time; %s moves the least "
                 "(%.2f MB against %.2f MB at most), so prefer it as the data grows.%s",
                 share, names[least], mb[least], mb[most], tail);
    }
}

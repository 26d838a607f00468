/* coalesce.c - writer groups of --write coalesce=N (see coalesce.h). */
#include "partition/coalesce.h"

#include <stdint.h>

int sf_coalesce_writer(int rank, int nranks, int n, int *file)
{
    if (n > nranks)
        n = nranks;
    int k = (int)((int64_t)rank * n / nranks);
    *file = k;
    /* The first rank r with r*n/nranks == k. */
    return (int)(((int64_t)k * nranks + n - 1) / n);
}

/* scan_assign.c - one stream of neighbouring chunks per rank, with the
 * back half of the fullest share to a rank whose own is spent. */
#include "mpi/scan_assign.h"

#include <stdint.h>
#include <stdlib.h>

static size_t at(const sf_scan_assign *a, size_t pos)
{
    return a->order ? a->order[pos] : pos;
}

static uint64_t pos_bytes(const sf_scan_assign *a, size_t pos)
{
    return a->pos_bytes[pos];
}

static uint64_t share_bytes(const sf_scan_assign *a, int r)
{
    uint64_t b = 0;
    for (size_t p = a->lo[r]; p < a->hi[r]; p++)
        b += pos_bytes(a, p);
    return b;
}

void sf_scan_assign_init(sf_scan_assign *a, const uint64_t *bytes, const size_t *order,
                         size_t n, size_t nfirst, int nranks)
{
    a->order = order;
    a->n = n;
    a->shared = 0;
    a->nfirst = nfirst < n ? nfirst : n;
    a->nranks = nranks > 0 ? nranks : 1;
    a->lo = a->hi = NULL;
    a->tail = a->tail_next = n;
    a->pos_bytes = bytes ? malloc(n * sizeof *a->pos_bytes + 2 * (size_t)a->nranks * sizeof *a->lo)
                         : NULL;
    if (!a->pos_bytes) {
        a->nfirst = n; /* every chunk in turn */
        return;
    }
    a->lo = (size_t *)(a->pos_bytes + n);
    a->hi = a->lo + a->nranks;
    uint64_t largest = 0;
    for (size_t p = 0; p < n; p++) {
        a->pos_bytes[p] = bytes[at(a, p)];
        if (p >= a->nfirst && a->pos_bytes[p] > largest)
            largest = a->pos_bytes[p];
    }
    while (a->tail > a->nfirst && a->pos_bytes[a->tail - 1] < largest)
        a->tail--;
    a->tail_next = a->tail;
    uint64_t total = 0, acc = 0;
    for (size_t p = a->nfirst; p < a->tail; p++)
        total += pos_bytes(a, p);
    /* Share r ends at the first position where the bytes before it reach
     * (r + 1) / nranks of the total. */
    size_t p = a->nfirst;
    for (int r = 0; r < a->nranks; r++) {
        a->lo[r] = p;
        uint64_t goal = total / (uint64_t)a->nranks * (uint64_t)(r + 1) +
                        total % (uint64_t)a->nranks * (uint64_t)(r + 1) / (uint64_t)a->nranks;
        while (p < a->tail && (acc < goal || r + 1 == a->nranks))
            acc += pos_bytes(a, p++);
        a->hi[r] = p;
    }
}

long sf_scan_assign_next(sf_scan_assign *a, int rank)
{
    if (a->shared < a->nfirst)
        return (long)at(a, a->shared++);
    if (!a->lo || rank < 0 || rank >= a->nranks)
        return -1;
    if (a->lo[rank] == a->hi[rank]) {
        /* Own share spent: take the back half of the fullest one. */
        int v = -1;
        uint64_t most = 0;
        for (int r = 0; r < a->nranks; r++) {
            uint64_t b = share_bytes(a, r);
            if (b > most) {
                most = b;
                v = r;
            }
        }
        if (v < 0)
            return a->tail_next < a->n ? (long)at(a, a->tail_next++) : -1;
        size_t mid = a->hi[v] - 1; /* at least the last chunk */
        uint64_t back = pos_bytes(a, mid);
        while (mid > a->lo[v] && back + pos_bytes(a, mid - 1) <= most / 2)
            back += pos_bytes(a, --mid);
        a->lo[rank] = mid;
        a->hi[rank] = a->hi[v];
        a->hi[v] = mid;
    }
    return (long)at(a, a->lo[rank]++);
}

int sf_scan_assign_left(const sf_scan_assign *a)
{
    if (a->shared < a->nfirst || (a->lo && a->tail_next < a->n))
        return 1;
    for (int r = 0; a->lo && r < a->nranks; r++)
        if (a->lo[r] < a->hi[r])
            return 1;
    return 0;
}

void sf_scan_assign_free(sf_scan_assign *a)
{
    free(a->pos_bytes);
    a->pos_bytes = NULL;
    a->lo = a->hi = NULL;
}

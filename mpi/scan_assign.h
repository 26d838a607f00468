/* scan_assign.h - which chunk rank 0 hands to a rank next (dynamic
 * scheduling, mpi/scan.c).
 *
 * Every rank reads one stream of neighbouring chunks: the chunks are split
 * into one contiguous share per rank (about equal bytes), and a rank takes
 * the next chunk of its share, so its reads run on through the file and the
 * kernel's read-ahead, kept on one open file (io/range_reader's spare),
 * never restarts at a chunk's start. A rank whose share is spent takes the
 * back half (by bytes, at least one chunk) of the share with the most bytes
 * left: a new stream of its own, and no rank idles while another has a
 * backlog. Chunks that are whole compressed files come first, one to each
 * asker, before any share (see scan.c's order). Pure bookkeeping: no MPI,
 * no I/O. */
#ifndef SF_SCAN_ASSIGN_H
#define SF_SCAN_ASSIGN_H

#include <stddef.h>

#include "mpi/scan.h"

typedef struct sf_scan_assign {
    const sf_chunk *chunks; /* borrowed */
    const size_t *order;    /* borrowed: hand-out positions -> chunk index; NULL: identity */
    size_t n;
    size_t shared;  /* next of the positions [0, nfirst) handed out in turn */
    size_t nfirst;
    int nranks;
    size_t *lo, *hi; /* owned, per rank: its share is positions [lo, hi); NULL: all in
                      * turn from shared (out of memory) */
} sf_scan_assign;

/* Splits positions [nfirst, n) of order into nranks shares. Without memory
 * for the shares every chunk goes out in order, still correctly. */
void sf_scan_assign_init(sf_scan_assign *a, const sf_chunk *chunks, const size_t *order,
                         size_t n, size_t nfirst, int nranks);

/* The chunk index rank takes next, or -1 when none are left. */
long sf_scan_assign_next(sf_scan_assign *a, int rank);

/* 1 while a chunk is left to hand out. */
int sf_scan_assign_left(const sf_scan_assign *a);

void sf_scan_assign_free(sf_scan_assign *a);

#endif

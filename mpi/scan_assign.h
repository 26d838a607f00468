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
 * backlog. The last chunks smaller than the largest (the guided tail,
 * sf_scan_make_chunks_guided) are in no share: they go out in order once
 * the shares are spent, so the ranks still finish within a small chunk of
 * each other. Chunks that are whole compressed files come first, one to
 * each asker, before any share (see scan.c's order). Pure bookkeeping: no
 * MPI, no I/O. */
#ifndef SF_SCAN_ASSIGN_H
#define SF_SCAN_ASSIGN_H

#include <stddef.h>
#include <stdint.h>

typedef struct sf_scan_assign {
    const size_t *order; /* borrowed: hand-out positions -> chunk index; NULL: identity */
    size_t n;
    size_t shared;  /* next of the positions [0, nfirst) handed out in turn */
    size_t nfirst;
    size_t tail;    /* positions [tail, n): the small last chunks, handed out in turn */
    size_t tail_next;
    int nranks;
    uint64_t *pos_bytes; /* owned: the chunk's bytes at each position */
    size_t *lo, *hi; /* owned (one block with pos_bytes), per rank: its share is
                      * positions [lo, hi); NULL: all in turn from shared (out of
                      * memory) */
} sf_scan_assign;

/* Splits positions [nfirst, tail) of order into nranks shares; bytes[i] is
 * chunk i's size (read here only). Without memory for the shares (or
 * without bytes) every chunk goes out in order, still correctly. */
void sf_scan_assign_init(sf_scan_assign *a, const uint64_t *bytes, const size_t *order,
                         size_t n, size_t nfirst, int nranks);

/* The chunk index rank takes next, or -1 when none are left. */
long sf_scan_assign_next(sf_scan_assign *a, int rank);

/* 1 while a chunk is left to hand out. */
int sf_scan_assign_left(const sf_scan_assign *a);

void sf_scan_assign_free(sf_scan_assign *a);

#endif

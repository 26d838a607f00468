/* scan_internal.h - the state of one scan, shared by mpi/scan.c (chunks)
 * and mpi/scan_feed.c (feeds: inputs rank 0 reads and deals out in
 * blocks). Not a public interface. */
#ifndef SF_SCAN_INTERNAL_H
#define SF_SCAN_INTERNAL_H

#include <mpi.h>
#include <stdint.h>

#include "core/buf.h"
#include "io/range_reader.h"
#include "mpi/scan.h"
#include "mpi/scan_assign.h"

#define TAG_ABORT 103
#define SERVE_EVERY 2048

typedef struct scan_state {
    MPI_Comm comm;
    int rank, nranks;
    const char *const *paths;
    const sf_chunk *chunks;
    size_t nchunks;
    const sf_scan_opts *o;
    const sf_scan_sink *sink;
    sf_stream *stream;
    sf_scan_stats *stats;
    sf_error *err;
    /* rank 0, dynamic */
    int dynamic;
    size_t *order;      /* hand-out order: whole compressed files first (NULL: in order) */
    sf_scan_assign assign; /* which chunk each rank takes next (order's positions) */
    int workers_left;   /* workers not yet told NO_MORE */
    MPI_Request req;
    long req_buf;
    int aborted;        /* rank 0 failed: answer ABORTED */
    MPI_Request *abort_req; /* TAG_ABORT sends of a failed rank */
    int abort_from;     /* rank whose TAG_ABORT arrived, or -1 */
    /* progress (rank 0) */
    sf_progress *progress; /* NULL: none */
    uint64_t total_bytes;
    uint64_t done_bytes; /* chunks finished (dynamic: by any rank; static: by rank 0) */
    int total_unknown;   /* a feed from a descriptor: no total, no ETA */
    int feeding;         /* in the feed phase (done_bytes: chunks + bytes fed) */
    uint64_t chunk_total; /* bytes of the chunks (the feed phase comes after them) */
    int stopped;         /* this rank stopped only because another failed */
    int feeds_pending;   /* feeds follow the chunks: no final progress line yet */
    sf_range_reader_spare spare; /* the last chunk's read buffer, for the next */
} scan_state;

/* Rank 0: updates the progress line (mpi/progress paces the prints; final
 * ends the phase); current is how far rank 0 is into its current chunk. */
void sf_scan_progress(scan_state *s, uint64_t current, int final);

/* Tells every other rank that this one failed (once). */
void sf_scan_send_abort(scan_state *s);

/* 1 if another rank has said it failed (s->abort_from names it). */
int sf_scan_other_failed(scan_state *s);

/* What every reader does each SERVE_EVERY lines: stops on SIGINT/SIGTERM
 * (naming path) or when another rank failed, and polls the row stream.
 * Returns 0 or the SF_E_* with s->err set. */
int sf_scan_tick(scan_state *s, const char *path);

/* The feed phase (scan_feed.c), after the chunks: rc is this rank's
 * verdict so far (a failed rank takes part without parsing). Rank 0
 * appends every block's sf_chunk to *blocks. Every rank calls it. Returns
 * the new verdict. */
int sf_scan_feeds(scan_state *s, int rc, sf_scan_feed *feeds, size_t nfeeds, sf_buf *blocks);

/* After a successful scan: rank 0's blocks and the feeds' results to
 * every rank; *all gets the chunks followed by the blocks (new). Aborts the
 * job when out of memory (every rank is in the broadcast). Collective. */
void sf_scan_share_blocks(scan_state *s, sf_scan_feed *feeds, size_t nfeeds,
                          const sf_buf *blocks, sf_chunk **all, size_t *nall);

#endif

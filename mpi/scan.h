/* scan.h - the scan+map phase: chunks of the fact input through the pipeline.
 *
 * Chunks are byte ranges of input files (a chunk owns the lines that start in
 * it, see io/range_reader.h). Static scheduling gives rank i the i-th
 * contiguous share of chunks; dynamic scheduling lets every rank take the
 * next chunk on request from rank 0, which serves requests between batches
 * of its own lines, so no rank idles while another has a backlog.
 */
#ifndef SF_SCAN_H
#define SF_SCAN_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/pipeline.h"
#include "mpi/run.h"
#include "mpi/stream.h"

typedef struct sf_chunk {
    int32_t file;   /* index into the file list */
    uint64_t start; /* [start, end) */
    uint64_t end;
} sf_chunk;

typedef struct sf_scan_stats {
    uint64_t chunks;   /* chunks this rank scanned */
    uint64_t requests; /* dynamic: chunk requests served (rank 0) */
} sf_scan_stats;

/* Cuts files into chunks of at most chunk_size bytes (empty files give
 * none). Returns a new array (caller frees) and *n, or NULL if out of memory
 * (with *n = 0 also for no chunks at all: check nfiles/sizes). */
sf_chunk *sf_scan_make_chunks(const uint64_t *sizes, size_t nfiles, uint64_t chunk_size,
                              size_t *n);

/* Collective over comm. Scans the chunks this rank is given, pushing every
 * owned line through p. paths[i] names file i. progress: rank 0 prints bytes
 * done, MB/s and ETA at most once a second. stream (may be NULL) is a row
 * stream the pipeline feeds: the scan polls it while it waits, and rank 0
 * serves chunk requests while the stream waits, and the stream is finished
 * (sf_stream_finish) before the scan's closing collective. Returns 0, or an error (read failure, out of memory) after which
 * every rank has stopped scanning and returns the same verdict. */
int sf_scan_run(MPI_Comm comm, const char *const *paths, const sf_chunk *chunks, size_t nchunks,
                const sf_run_opts *o, int progress, sf_pipeline *p, sf_stream *stream,
                sf_scan_stats *stats, sf_error *err);

#endif

/* scan.h - the scan+map phase: chunks of the fact input through the pipeline.
 *
 * Chunks are byte ranges of input files (a chunk owns the lines that start in
 * it, see io/range_reader.h); a chunk of a compressed file is a range of its
 * units (io/decompress.h) and owns the lines that start in its decoded
 * bytes, with offsets counted from its first owned line. Static scheduling gives rank i the i-th
 * contiguous share of chunks; dynamic scheduling lets every rank take its
 * next chunk on request from rank 0, which serves requests between batches
 * of its own lines, so no rank idles while another has a backlog. Each
 * rank's chunks follow one another in the file (mpi/scan_assign: a share
 * of neighbouring chunks per rank, the back half of the fullest share to a
 * rank whose own is spent), read through one open file, so the kernel's
 * read-ahead runs on from chunk to chunk.
 *
 * Feeds. An input that only rank 0 can read, once and in order (stdin, a
 * FIFO: io/inputs.h's streams), or a compressed file that cannot be split
 * and would leave the other ranks idle, is a feed: after the chunks, rank 0
 * reads it in blocks of whole lines (io/decompress, plain or compressed by
 * its magic bytes) and deals the blocks out on request, parsing blocks
 * itself whenever no rank is asking. Each block becomes a chunk of its own
 * (kind SF_CHUNK_BLOCK), numbered after the planned chunks in the order the
 * blocks were read, with the number of its file's lines before it, so line
 * numbers and offsets are exact. Memory: every other rank holds at most two
 * blocks (one it parses, one arriving), rank 0 its own block and the blocks
 * still being sent.
 */
#ifndef SF_SCAN_H
#define SF_SCAN_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "io/range_reader.h"
#include "mpi/progress.h"
#include "mpi/stream.h"

typedef enum { SF_SCHED_DYNAMIC = 0, SF_SCHED_STATIC } sf_schedule;

/* What a scan needs from the command line. */
typedef struct sf_scan_opts {
    sf_schedule schedule;
    uint64_t max_line; /* bytes: longer lines go to the sink's too_long() */
} sf_scan_opts;

/* What a chunk is. */
enum {
    SF_CHUNK_RANGE = 0, /* a byte range (or range of units) its rank reads itself */
    SF_CHUNK_BLOCK = 1, /* a feed's block: whole lines rank 0 read and sent; [start, end)
                         * are the decoded offsets of its bytes in the file */
    SF_CHUNK_LONG = 2   /* a feed's line over max_line, skipped: start is its offset */
};

typedef struct sf_chunk {
    int32_t file;   /* index into the file list */
    int32_t codec;  /* sf_codec of the file (io/decompress.h); 0: plain */
    uint64_t start; /* [start, end) */
    uint64_t end;
    uint64_t prev;  /* compressed: the unit before start (sf_zrange.prev) */
    uint64_t lines_before; /* block, long: the file's lines before it; else 0 */
    int32_t kind;   /* SF_CHUNK_* */
    int32_t pad_;
} sf_chunk;

/* An input rank 0 feeds (see above). */
typedef struct sf_scan_feed {
    int32_t file;   /* index into the file list */
    int fd;         /* rank 0: an open descriptor to read (stays the caller's), or -1 to
                     * open the path */
    uint64_t size;  /* bytes of the input when known (a regular file; progress), else 0 */
    uint64_t block; /* target bytes per block (whole lines; a longer line is one block) */
    int spool_fd;   /* rank 0: every block's bytes are also written here, in order (a
                     * regular file the caller reads again), or -1 */
    /* Results, on every rank after the scan: */
    int32_t codec;  /* sf_codec found by the magic bytes */
    uint64_t cbytes; /* bytes read from the input (compressed if it was) */
    uint64_t ubytes; /* decoded bytes */
    uint64_t lines;  /* lines, too-long ones included */
} sf_scan_feed;

/* Where scanned lines go. line() gets every owned line of a chunk in order
 * (len 0 for an empty line) and returns 0 or an error that stops the scan;
 * too_long() gets a line over --max-line-bytes (skipped) with the reader's
 * message, and may stop the scan too; chunk_begin()/chunk_end() (may be NULL) bracket each chunk this
 * rank scans, chunk_end() with the bytes the chunk owned (decoded bytes for
 * a compressed chunk; for a feed's block, its bytes, whose lines' offsets
 * are the file's decoded offsets). c describes the chunk (borrowed for the
 * call); for a feed's block, chunk is >= the number of planned chunks. */
/* What a sink's window() took (see sf_scan_sink). */
typedef struct sf_scan_take {
    size_t used;  /* bytes of the lines taken, line ends included */
    size_t lines; /* lines taken */
    size_t last;  /* where the last line taken starts, from w->buf */
    int left;     /* 1: it stopped at a line it did not take */
} sf_scan_take;

typedef struct sf_scan_sink {
    int (*line)(void *ctx, const char *line, size_t len, int file, uint64_t offset);
    int (*too_long)(void *ctx, int file, uint64_t offset, const char *msg);
    int (*chunk_begin)(void *ctx, size_t chunk, const sf_chunk *c);
    int (*chunk_end)(void *ctx, size_t chunk, const sf_chunk *c, uint64_t bytes);
    void *ctx;
    /* May be NULL. Offered the next lines of an uncompressed chunk as the
     * bytes from the first one on (w: sf_range_reader_window), for a sink
     * that finds a line's end while it reads the line: it takes lines from
     * w->buf on, at most max_lines (at least 1), each doing what line()
     * would, and stops at the first it leaves (t->left: nothing done for
     * it; it goes to line()), or after one whose line() would have failed
     * (returning that error, t->last where it starts), or whenever it
     * likes; t->used and t->lines say what it took. */
    int (*window)(void *ctx, const sf_range_window *w, int file, size_t max_lines,
                  sf_scan_take *t);
} sf_scan_sink;

typedef struct sf_scan_stats {
    uint64_t chunks;   /* chunks this rank scanned */
    uint64_t requests; /* dynamic: chunk requests served (rank 0) */
} sf_scan_stats;

/* Cuts files into chunks of at most chunk_size bytes (empty files give
 * none). Returns a new array (caller frees) and *n, or NULL if out of memory
 * (with *n = 0 also for no chunks at all: check nfiles/sizes). Not
 * collective: every rank computes the same list. */
sf_chunk *sf_scan_make_chunks(const uint64_t *sizes, size_t nfiles, uint64_t chunk_size,
                              size_t *n);

/* The smallest chunk sf_scan_make_chunks_guided cuts (unless chunk_size is
 * smaller): 1 MiB. */
#define SF_SCAN_GUIDED_FLOOR ((uint64_t)1 << 20)

/* As sf_scan_make_chunks, for dynamic scheduling over nranks ranks: the
 * chunks of the input's last 2 * nranks * chunk_size bytes (all files
 * together, in order) shrink, each a (2 * nranks)-th of the bytes left
 * rounded down to a multiple of the floor, the floor being chunk_size / 16
 * or SF_SCAN_GUIDED_FLOOR, whichever is larger (and at most chunk_size), so
 * the ranks' last chunks end close together: with equal chunks a rank waits
 * for up to one whole chunk of another at the end of the scan (guided
 * self-scheduling). nranks < 2 cuts equal chunks. */
sf_chunk *sf_scan_make_chunks_guided(const uint64_t *sizes, size_t nfiles, uint64_t chunk_size,
                                     int nranks, size_t *n);

/* Collective over comm. Scans the chunks this rank is given, handing every
 * owned line to sink. paths[i] names file i. progress (may be NULL; used
 * on rank 0 only, labelled by the caller) is started with the bytes of all
 * chunks, updated as chunks are done and ended when the scan ends. stream (may be NULL) is a row
 * stream the pipeline feeds: the scan polls it while it waits, and rank 0
 * serves chunk requests while the stream waits, and the stream is finished
 * (sf_stream_finish) before the scan's closing collective. Returns 0, or an error (read failure, out of memory) after which
 * every rank has stopped scanning and returns the same verdict. */
int sf_scan_run(MPI_Comm comm, const char *const *paths, const sf_chunk *chunks, size_t nchunks,
                const sf_scan_opts *o, sf_progress *progress, const sf_scan_sink *sink,
                sf_stream *stream, sf_scan_stats *stats, sf_error *err);

/* Collective over comm. sf_scan_run, then the feeds (nfeeds, the same on
 * every rank, in order; their files have no planned chunks). On success
 * *all (new, every rank; caller frees) is the planned chunks followed by
 * every feed's blocks, *nall their count, and each feed's results are
 * filled in on every rank. Returns as sf_scan_run. */
int sf_scan_run_feeds(MPI_Comm comm, const char *const *paths, const sf_chunk *chunks,
                      size_t nchunks, sf_scan_feed *feeds, size_t nfeeds, const sf_scan_opts *o,
                      sf_progress *progress, const sf_scan_sink *sink, sf_stream *stream,
                      sf_scan_stats *stats, sf_chunk **all, size_t *nall, sf_error *err);

#endif

/* bad_lines.h - the verdicts on a scan's bad lines that run and flatten
 * share: "never a silent empty success" and --max-bad.
 *
 * Both are collective over comm (every rank passes its own counts and gets
 * the same verdict); the error text is set on every rank.
 */
#ifndef SF_CLI_BAD_LINES_H
#define SF_CLI_BAD_LINES_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/run.h"
#include "core/error.h"
#include "core/pipeline.h"
#include "io/badrec.h"
#include "mpi/scan.h"

/* This rank's line counts: rejected, read, blank, and rejected by reason. */
typedef struct sf_bad_counts {
    uint64_t rejected, read, blank;
    const uint64_t *by_reason; /* SF_REJ_NREASONS counts (borrowed) */
} sf_bad_counts;

/* 1 when the ranks together read lines and rejected every one that was not
 * blank: err says how many, the top reason and the first bad line (of the
 * samples of all ranks; paths name their files) and "nothing was
 * committed". 0 otherwise. Collective. */
int sf_bad_all_rejected(MPI_Comm comm, const sf_bad_counts *mine,
                        const sf_reject_sample *samples, size_t nsamples,
                        const char *const *paths, sf_error *err);

/* 1 when the bad lines of all ranks exceed o's --max-bad (a count, or a
 * percentage of the lines read), with err saying so; 0 otherwise (or no
 * limit). Collective. */
int sf_bad_over_limit(MPI_Comm comm, const sf_run_opts *o, uint64_t rejected, uint64_t read,
                      sf_error *err);

/* --mode permissive: spills one bad line (its chunk, its 1-based number in
 * the chunk, file, byte offset, reason, message, text) to *spill, opened
 * at TMPDIR/_bad_records/.spill-RANK on the first one. Returns 0 or
 * SF_E_IO / SF_E_NOMEM. Not collective. */
int sf_bad_spill(sf_badrec_spill **spill, const char *tmpdir, int rank, uint64_t chunk,
                 uint64_t line, int file, uint64_t offset, const char *why, const char *msg,
                 const char *text, size_t len, sf_error *err);

/* 1 when the lines of chunk c have offsets relative to its first decoded
 * byte (a range of a compressed file's units), not the file's. */
static inline int sf_bad_chunk_relative(const sf_chunk *c)
{
    return c->codec != 0 && c->kind == SF_CHUNK_RANGE;
}

/* After the scan, when some chunk's offsets are chunk-relative: a new array
 * (caller frees) of where each chunk starts in its file's decoded bytes,
 * from every rank's chunk_ubytes (the decoded bytes of the chunks it
 * scanned); NULL when no chunk is relative (the same on every rank).
 * Collective. */
uint64_t *sf_bad_offset_bases(MPI_Comm comm, const sf_chunk *chunks, size_t nchunks,
                              const uint64_t *chunk_ubytes);

/* After the scan: every rank's spill becomes TMPDIR/_bad_records/
 * part-RANK.jsonl, numbered from the per-chunk line counts of all ranks
 * (chunk_lines; chunk_ubytes, the decoded bytes of compressed chunks, may
 * be NULL when no chunk is compressed). *spill is consumed; *count gets
 * this rank's records. Collective; returns 0 or SF_E_* (not agreed). */
int sf_bad_write_records(MPI_Comm comm, int rank, sf_badrec_spill **spill, const sf_chunk *chunks,
                         size_t nchunks, const uint64_t *chunk_lines,
                         const uint64_t *chunk_ubytes, const char *const *paths,
                         const char *tmpdir, uint64_t *count, sf_error *err);

#endif

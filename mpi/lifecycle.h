/* lifecycle.h - the life of one command run over MPI, shared by every
 * command that writes an output (run, flatten).
 *
 *   sf_life_init        every rank: communicator, start time
 *   sf_life_runid       collective: rank 0 names the run, every rank learns it
 *   sf_life_expand      rank 0: an input path, glob or directory to files
 *   sf_life_stage       rank 0: the output's claim (io/claim), then staging
 *                       for the output in its write mode (io/commit)
 *   sf_life_share       collective: the files, their sizes and the staging
 *                       paths on every rank
 *   sf_life_add_file    every rank: a file it wrote under the staging dir
 *   sf_life_sync_files  every rank: the files it added, made durable at once
 *   sf_life_gather      collective: the files (sorted by path) and peak RSS
 *                       of every rank, on rank 0
 *   sf_life_commit      rank 0: _METRICS.json, then commit with the manifest
 *   sf_life_say_merged  rank 0: what append / overwrite-partitions merged
 *   sf_life_drop_replaced collective, after the commit is agreed: every
 *                       rank removes its share of the replaced output
 *   sf_life_end         rank 0: on failure, says nothing was committed and
 *                       removes what the run made; releases the claim;
 *                       every rank frees
 *
 * Claim, staging and commit happen here and nowhere else: one writer per
 * output from before staging until after commit or rollback, for run and
 * flatten alike. The manifest's contents are the command's (io/manifest
 * builds it).
 */
#ifndef SF_LIFECYCLE_H
#define SF_LIFECYCLE_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"
#include "io/claim.h"
#include "io/commit.h"
#include "io/inputs.h"
#include "io/manifest.h"

typedef struct sf_lifecycle {
    MPI_Comm comm;
    int rank, nranks;
    double t_start;        /* MPI_Wtime() at sf_life_init */
    char runid[48];
    sf_input_files inputs; /* every input file in order, sizes as planned (all ranks
                            * after sf_life_share) */
    char *out;             /* the output path written (a symlink resolved, io/fsutil
                            * sf_output_target): rank 0 after sf_life_stage, every rank
                            * after sf_life_share; owned */
    sf_output_stage stage; /* paths on every rank after sf_life_share */
    int staging;           /* an output is staged (every rank after sf_life_share) */
    int staged;            /* rank 0: staging exists and is removed on failure */
    int replacing;         /* an existing output is replaced at commit */
    sf_claim *claim;       /* rank 0: the output's claim, from sf_life_stage to sf_life_end */
    sf_out_file *files;    /* the files this rank wrote */
    size_t nfiles;
} sf_lifecycle;

/* Zeroes L and records comm, rank, size and the start time. Cannot fail. */
void sf_life_init(sf_lifecycle *L, MPI_Comm comm);

/* Collective over L->comm: rank 0 makes the run id (UTC time and pid,
 * "20250801T120000-4242") and every rank receives it. Cannot fail. */
void sf_life_runid(sf_lifecycle *L);

/* Rank 0: expands path (named name in messages, io/inputs) and appends its
 * files to L->inputs. Returns 0 or an SF_E_* code with err set. */
int sf_life_expand(sf_lifecycle *L, const char *name, const char *path, sf_error *err);

/* Rank 0: resolves out when it is a symbolic link (L->out: the link's
 * target, said on stderr), takes the claim on it (io/claim; a stale claim broken is
 * said on stderr; claim_timeout in seconds, <= 0: no age rule), then
 * prepares its staging in write mode mode (io/commit: checks, stale staging
 * removed and said in L->stage.note) under L->runid. The claim is held
 * until sf_life_end. Returns 0, SF_E_BUSY (another run holds the claim:
 * err says which) or another SF_E_* code with err set. */
int sf_life_stage(sf_lifecycle *L, const char *out, sf_commit_mode mode, double claim_timeout,
                  sf_error *err);

/* Collective over L->comm: sends rank 0's input files and sizes, and
 * (out not NULL) whether the output is replaced, so that every rank has
 * the inputs and the staging paths. Call after an agreement that rank 0's
 * expand and stage succeeded. Returns 0 or SF_E_NOMEM (this rank; agree on
 * it). */
int sf_life_share(sf_lifecycle *L, const char *out, sf_error *err);

/* Records a file this rank wrote (rel: relative to the output). Returns 0
 * or SF_E_NOMEM. */
int sf_life_add_file(sf_lifecycle *L, const char *rel, uint64_t rows, uint64_t bytes);

/* Every rank: makes the files it added from index first on durable (their
 * writers only started their writeback: io/fsutil sf_writeback_start), their
 * fsyncs issued together (sf_fsync_files), which the file system serves
 * with one journal commit and cache flush where one fsync after another
 * cost one each. Returns 0, SF_E_IO naming the file, or SF_E_NOMEM. */
int sf_life_sync_files(sf_lifecycle *L, size_t first, sf_error *err);

/* Collective over L->comm: every rank's files, sorted by path, as a new
 * array on rank 0 (*nfiles entries; NULL elsewhere), and in *rss (rank 0,
 * new array of nranks entries, NULL elsewhere or when out of memory) every
 * rank's peak RSS. Aborts the job when rank 0 cannot allocate the files. */
sf_out_file *sf_life_gather(sf_lifecycle *L, size_t *nfiles, uint64_t **rss);

/* Rank 0: writes metrics (may be NULL) as _METRICS.json under the staging
 * directory, then commits the output with manifest as _MANIFEST.json; a
 * replaced output is left for sf_life_drop_replaced (or sf_life_end).
 * Returns 0 (nothing left to clean up) or SF_E_* with err set. */
int sf_life_commit(sf_lifecycle *L, const sf_buf *metrics, const sf_buf *manifest,
                   sf_error *err);

/* Rank 0, after a successful sf_life_commit in mode append or
 * overwrite-partitions: prints what the output now holds (files, rows,
 * runs, earlier files kept and replaced) to stderr. Prints nothing in the
 * other modes. */
void sf_life_say_merged(const sf_lifecycle *L);

/* Collective over L->comm, after every rank knows L's commit succeeded
 * (an agreement): the output the commit replaced, which rank 0's
 * sf_life_commit left beside OUT, removed by every rank together, each
 * its share of its entries (unlinking a written file's pages is most of a
 * commit's time: 31 partition files, 5-7 ms of S3 100K/1M's at np 2,
 * with the other ranks idle). Does nothing when OUT was not replaced.
 * Without this call sf_life_end removes it on rank 0 alone. */
void sf_life_drop_replaced(sf_lifecycle *L);

/* Ends the run: when failed, rank 0 says "shardflow: WHAT failed; nothing
 * was committed" (if anything was staged) and removes what the run made;
 * then rank 0 releases the output's claim (a warning if it was lost).
 * Frees what L holds on every rank. Not collective. */
void sf_life_end(sf_lifecycle *L, int failed, const char *what);

#endif

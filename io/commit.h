/* commit.h - atomic output commit: stage under _temporary, then move into place.
 *
 * A run writes its files under ROOT/_temporary/RUNID/. ROOT is OUT itself
 * when OUT does not exist yet, or a sibling OUT.shardflow-RUNID when OUT
 * exists. Commit moves the staged entries into ROOT, writes _MANIFEST.json
 * and then _SUCCESS, and (when OUT exists) swaps ROOT into OUT's place only
 * then, so OUT is never half-written: a failed run leaves no _SUCCESS and
 * an existing OUT untouched.
 *
 * Write modes (Spark's names, --write-mode):
 *   error      OUT must not exist (the default).
 *   overwrite  the new output replaces OUT whole (--overwrite).
 *   overwrite-partitions  dynamic partition overwrite: ROOT also gets hard
 *              links to every file of OUT that lies in a partition
 *              directory the new run did not write, so only the partitions
 *              present in the new result are replaced, then ROOT is swapped
 *              in whole.
 *   append     ROOT gets hard links to all of OUT's files, and this run's
 *              files take run-unique names (part-00000-RUNID.csv), so no
 *              file is ever replaced.
 * In every mode the manifest lists every file with the run that wrote it
 * (append and overwrite-partitions merge the previous manifest's list, see
 * io/filelist.h) and _SUCCESS is written anew.
 *
 * The swap is renameat2(RENAME_EXCHANGE) where the kernel and file system
 * support it (Linux >= 3.15 on ext4, xfs, btrfs, tmpfs, ...): one atomic
 * step, a reader sees the old or the new tree. Elsewhere (NFS, Lustre, old
 * kernels) it is two renames, OUT -> ROOT.old then ROOT -> OUT, with a
 * moment in which OUT does not exist; a run killed in that moment leaves
 * both trees, and the next run puts ROOT.old back (docs/commit.md).
 *
 * Rollback (sf_output_abort) removes only what this run made: its staging,
 * its ROOT, the entries it moved into an OUT it created, and OUT itself
 * only when it created it and it is empty again. It never removes a path it
 * did not make. Only one run may write an output at a time: hold its claim
 * (io/claim.h) from before prepare until after commit or abort.
 */
#ifndef SF_COMMIT_H
#define SF_COMMIT_H

#include <stddef.h>

#include "core/error.h"
#include "io/filelist.h"

/* --write-mode. The values 0 and 1 are the old `overwrite` flag's. */
typedef enum {
    SF_COMMIT_ERROR = 0,
    SF_COMMIT_OVERWRITE = 1,
    SF_COMMIT_OVERWRITE_PARTITIONS = 2,
    SF_COMMIT_APPEND = 3
} sf_commit_mode;

/* Parses "error", "overwrite", "overwrite-partitions" or "append". Returns
 * 0 or SF_E_INVAL. */
int sf_commit_mode_parse(const char *text, sf_commit_mode *mode);

/* The mode's name as --write-mode takes it. Never NULL. */
const char *sf_commit_mode_name(sf_commit_mode mode);

typedef struct sf_output_stage {
    char *out;     /* final output directory */
    char *root;    /* where the committed tree is built */
    char *tmpdir;  /* ROOT/_temporary/RUNID: where ranks write */
    int replacing; /* OUT exists and is replaced at commit */
    int created;   /* this run created ROOT (remove it on abort) */
    char note[1024]; /* what prepare cleaned up (stale staging), or "" */
    sf_commit_mode mode;  /* set by prepare */
    char *runid;
    char **made;   /* paths this run made inside an OUT it did not create
                    * as a whole (ROOT == OUT): removed by abort */
    size_t nmade;
    int exchanged; /* the commit swapped with RENAME_EXCHANGE */
    int two_renames; /* set before commit: swap by the two-rename fallback
                      * even where RENAME_EXCHANGE works (tests) */
    int keep_replaced; /* set before commit: the replaced OUT is left at ROOT
                        * for the caller to remove (several ranks share the
                        * removal: mpi/lifecycle sf_life_drop_replaced) */
    int replaced_left; /* the commit left the replaced OUT at ROOT */
    sf_merge_stats merged; /* append / overwrite-partitions: after commit */
} sf_output_stage;

/* Decides and creates the staging directories for out. Checks first: OUT
 * must not exist in mode error; an existing OUT must be a directory that
 * looks like a shardflow output (has _SUCCESS, _MANIFEST.json or
 * _temporary, or is empty), so no mode ever deletes an unrelated
 * directory; append and overwrite-partitions also need an existing
 * non-empty OUT to have _MANIFEST.json (its file list is merged). Staging
 * left by a run that was killed (OUT/_temporary, OUT.shardflow-* siblings)
 * is removed first and said in st->note (an OUT lost between the two
 * renames of a fallback swap is put back first); an OUT that held nothing
 * but such leftovers counts as absent. Call on one rank only, holding the
 * output's claim (io/claim.h): the stale staging it removes could otherwise
 * be a live run's. Returns 0, SF_E_EXISTS, SF_E_INVAL or SF_E_IO with err
 * set. */
int sf_output_prepare(sf_output_stage *st, const char *out, sf_commit_mode mode,
                      const char *runid, sf_error *err);

/* Fills st's paths as sf_output_prepare() chose them, without touching the
 * file system (for the ranks that did not prepare). Returns 0 or
 * SF_E_NOMEM. */
int sf_output_paths(sf_output_stage *st, const char *out, int replacing, const char *runid);

/* Moves everything staged into place, writes the manifest as
 * _MANIFEST.json, then _SUCCESS, then swaps in a replaced OUT and removes
 * the replaced tree (with st->keep_replaced: leaves it at ROOT and sets
 * st->replaced_left; see sf_output_drop_share). In modes
 * error and overwrite the manifest is written as given; in append and
 * overwrite-partitions it is merged with OUT's previous one
 * (sf_manifest_merge) and st->merged is filled. One rank only. Returns 0,
 * or SF_E_IO / SF_E_EXISTS / SF_E_PARSE / SF_E_NOMEM with err set (OUT is
 * then as it was before the run; call sf_output_abort). */
int sf_output_commit(sf_output_stage *st, const char *manifest, size_t len, sf_error *err);

/* The replaced OUT left at ROOT by a commit with keep_replaced, removed by
 * nranks callers together: sf_output_list_replaced lists ROOT's entries
 * (sorted, new strings in a new array; every caller gets the same list
 * while nothing is removed yet; returns 0 or SF_E_NOMEM with what it
 * listed), sf_output_drop_share removes those whose place in the list is
 * rank modulo nranks and frees the list, and once every share is done
 * the committing rank's sf_output_drop_replaced removes what is left and
 * ROOT itself (and only there: replaced_left is that rank's). Best
 * effort, as the removal inside the commit: errors are ignored. A stage
 * that did not replace an OUT lists nothing. */
int sf_output_list_replaced(const sf_output_stage *st, char ***names, size_t *n);
void sf_output_drop_share(const sf_output_stage *st, char **names, size_t n, int rank,
                          int nranks);
void sf_output_drop_replaced(sf_output_stage *st);

/* Removes what the run made (after a failure), and nothing else: see the
 * banner. One rank only. Errors are ignored: this is best-effort cleanup. */
void sf_output_abort(sf_output_stage *st);

/* Frees the path strings; NULL is a no-op. */
void sf_output_stage_free(sf_output_stage *st);

#endif

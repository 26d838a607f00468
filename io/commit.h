/* commit.h - atomic output commit: stage under _temporary, then move into place.
 *
 * A run writes its files under ROOT/_temporary/RUNID/. ROOT is OUT itself
 * when OUT does not exist yet, or a sibling OUT.shardflow-RUNID when OUT
 * exists and is being overwritten. Commit moves the staged entries into
 * ROOT, writes _MANIFEST.json and then _SUCCESS, and (when overwriting)
 * swaps ROOT into OUT's place only then, so OUT is never half-written: a
 * failed run leaves no _SUCCESS and an existing OUT untouched.
 */
#ifndef SF_COMMIT_H
#define SF_COMMIT_H

#include <stddef.h>

#include "core/error.h"

typedef struct sf_output_stage {
    char *out;     /* final output directory */
    char *root;    /* where the committed tree is built */
    char *tmpdir;  /* ROOT/_temporary/RUNID: where ranks write */
    int replacing; /* OUT exists and is replaced at commit */
    int created;   /* this run created ROOT (remove it on abort) */
    char note[1024]; /* what prepare cleaned up (stale staging), or "" */
} sf_output_stage;

/* Decides and creates the staging directories for out. Checks first: OUT
 * must not exist unless overwrite is set; an existing OUT must be a
 * directory that looks like a shardflow output (has _SUCCESS,
 * _MANIFEST.json or _temporary, or is empty), so --overwrite never deletes
 * an unrelated directory. Staging left by a run that was killed (OUT/_temporary,
 * OUT.shardflow-* siblings) is removed first and said in st->note; an OUT
 * that held nothing but such leftovers counts as absent. Only one run may
 * write an output at a time. Call on one rank only. Returns 0, SF_E_EXISTS,
 * SF_E_INVAL or SF_E_IO with err set. */
int sf_output_prepare(sf_output_stage *st, const char *out, int overwrite, const char *runid,
                      sf_error *err);

/* Fills st's paths as sf_output_prepare() chose them, without touching the
 * file system (for the ranks that did not prepare). Returns 0 or
 * SF_E_NOMEM. */
int sf_output_paths(sf_output_stage *st, const char *out, int replacing, const char *runid);

/* Moves everything staged into place, writes manifest as _MANIFEST.json,
 * then _SUCCESS, then swaps in a replaced OUT. One rank only. Returns 0 or
 * SF_E_IO with err set (OUT is then as it was before the run). */
int sf_output_commit(sf_output_stage *st, const char *manifest, size_t len, sf_error *err);

/* Removes what the run staged (after a failure). One rank only. Errors are
 * ignored: this is best-effort cleanup. */
void sf_output_abort(sf_output_stage *st);

/* Frees the path strings; NULL is a no-op. */
void sf_output_stage_free(sf_output_stage *st);

#endif

/* run_stage.c - `shardflow run`: result rows of the outputs that do not
 * come from the fact scan's combiner (core/spec.h, sf_output_kind):
 *
 *   row output        the rows themselves, as the pipeline kept them on each
 *                     rank (taken after the scan, before the first output's
 *                     shuffle frees the pipeline);
 *   dimension output  a dimension input's rows plus its unknown member: each
 *                     rank makes the rows whose key hash it owns, so a table
 *                     held whole or partitioned by key (before-join) gives
 *                     each row once;
 *   stage ("from")    an earlier output's result rows, kept on each rank
 *                     after its computed columns, grouped into a combiner
 *                     that the usual shuffle, reduce, windows and write take
 *                     from there.
 *
 * Everything here holds rows in memory (docs/pipelines.md says how much);
 * none of it spills under --memory-limit.
 */
#include "cli/run_internal.h"

#include <stdlib.h>
#include <string.h>

#include "partition/keyhash.h"
#include "partition/partitioner.h"

static size_t nouts(const sf_run *R) { return R->spec->noutputs ? R->spec->noutputs : 1; }

int sf_run_take_rows(sf_run *R)
{
    size_t n = nouts(R);
    R->taken = calloc(n, sizeof *R->taken);
    R->kept = calloc(n, sizeof *R->kept);
    if (!R->taken || !R->kept)
        return sf_error_set(&R->err, SF_E_NOMEM, "out of memory");
    for (size_t k = 0; k < n; k++) {
        sf_rows_init(&R->taken[k], 0);
        sf_rows_init(&R->kept[k], 0);
        if (R->spec->outputs[k].kind == SF_OUT_ROWS)
            sf_pipeline_take_output_rows(R->pipe, k, &R->taken[k]);
    }
    return 0;
}

/* A dimension output's rows on this rank: the rows whose key hash it owns,
 * and the unknown member's row (NULL attributes) when the dimension has
 * one that is not among its rows. */
static int dimension_rows(sf_run *R)
{
    const sf_job *job = R->job;
    const sf_job_input *in = &job->inputs[job->kind_input];
    const sf_join_table *t = R->dims[job->kind_input];
    int rc = 0;
    size_t n = sf_join_table_rows(t);
    for (size_t i = 0; i <= n && !rc; i++) {
        const sf_value *drow = i < n ? sf_join_table_row(t, i) : NULL;
        const sf_value *key = drow ? &drow[in->key_col] : &in->unknown;
        if (!drow && (!in->has_unknown || sf_join_table_find(t, key)))
            break;
        uint64_t hash;
        if ((rc = sf_key_hash_value(key, &hash)) != 0)
            break;
        if (sf_partition_rank(hash, R->nparts, R->nranks) != R->rank)
            continue;
        sf_value *dst = sf_rows_append(&R->rows);
        if (!dst) {
            rc = SF_E_NOMEM;
            break;
        }
        for (size_t c = 0; c < in->ncolumns && !rc; c++) {
            dst[c] = drow ? drow[c] : (int)c == in->key_col ? *key : sf_null();
            rc = sf_rows_keep_string(&R->rows, &dst[c]);
        }
    }
    return rc;
}

int sf_run_direct_rows(sf_run *R)
{
    int rc = sf_run_reduce_begin(R);
    if (rc)
        return rc;
    /* Nothing reads the fact scan's combiners from here: a single output's
     * pipeline (and its empty combiner) can go now. */
    sf_groups_free(R->reduced);
    R->reduced = NULL;
    sf_pipeline_free(R->pipe);
    R->pipe = NULL;
    if (R->job->kind == SF_OUT_ROWS) {
        sf_rows_free(&R->rows);
        R->rows = R->taken[R->out_index];
        sf_rows_init(&R->taken[R->out_index], 0);
        return 0;
    }
    rc = dimension_rows(R);
    if (rc)
        sf_error_set(&R->err, rc, "out of memory writing dimension '%s'",
                     R->job->inputs[R->job->kind_input].name);
    return rc;
}

/* Appends the rows of src to what output R->out_index keeps for the
 * stages that read it. Returns 0 or SF_E_NOMEM (R->err set). */
static int keep_rows(sf_run *R, const sf_rows *src)
{
    sf_rows *k = &R->kept[R->out_index];
    if (!k->ncols)
        sf_rows_init(k, src->ncols);
    int rc = sf_rows_reserve(k, k->n + src->n);
    for (size_t i = 0; i < src->n && !rc; i++) {
        sf_value *dst = sf_rows_append(k);
        memcpy(dst, sf_rows_at(src, i), k->ncols * sizeof *dst);
        for (size_t c = 0; c < k->ncols && !rc; c++)
            rc = sf_rows_keep_string(k, &dst[c]);
    }
    if (rc)
        sf_error_set(&R->err, rc, "out of memory keeping the rows of output '%s' for a stage",
                     R->job->output_name);
    return rc;
}

int sf_run_keep_for_stage(sf_run *R)
{
    if (!R->job->read_by_stage)
        return 0;
    /* Under a memory budget some rank exceeded, a limit keeps only the
     * first rows of each pass (run_spill_write.c), not the rows the stage
     * would read without a budget: refused rather than read short. */
    if (R->mem.rows_done)
        return sf_error_set(&R->err, SF_E_INVAL,
                            "output '%s' has a limit and is read by a stage, and its rows went "
                            "through spill passes under --memory-limit; raise --memory-limit "
                            "(or give 'none') for this job",
                            R->job->output_name);
    /* Rows in sorted runs were kept pass by pass (sf_run_keep_pass_for_stage). */
    if (R->mem.row_runs)
        return 0;
    return keep_rows(R, &R->rows);
}

int sf_run_keep_pass_for_stage(sf_run *R)
{
    return R->job->read_by_stage ? keep_rows(R, &R->rows) : 0;
}

int sf_run_stage_groups(sf_run *R)
{
    const sf_job *job = R->job;
    sf_rows *src = &R->kept[job->kind_from];
    sf_groups *g = sf_job_new_groups(job);
    sf_buf key = SF_BUF_INIT;
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    int rc = g ? 0 : SF_E_NOMEM;
    for (size_t i = 0; i < src->n && !rc; i++) {
        const sf_value *row = sf_rows_at(src, i);
        key.n = 0;
        for (size_t c = 0; c < job->ngroup && !rc; c++) {
            const sf_value *v = &row[job->group_slots[c]];
            rc = sf_buf_reserve(&key, sf_value_encoded_size(v));
            if (!rc)
                key.n += sf_value_encode(v, key.p + key.n);
        }
        if (!rc)
            rc = sf_groups_update(g, key.p, key.n, sf_groups_hash(key.p, key.n), row, &scratch);
        sf_arena_reset(&scratch);
    }
    sf_arena_free(&scratch);
    sf_buf_free(&key);
    /* The source's rows go once no later output reads them. */
    int later = 0;
    for (size_t k = R->out_index + 1; k < nouts(R); k++)
        later |= R->spec->outputs[k].kind == SF_OUT_STAGE &&
                 R->spec->outputs[k].kind_from == job->kind_from;
    if (!later)
        sf_rows_free(src);
    sf_groups_free(R->reduced);
    R->reduced = g;
    if (rc) {
        sf_groups_free(g);
        R->reduced = NULL;
        return sf_error_set(&R->err, rc, "out of memory grouping the rows of output '%s'",
                            R->spec->outputs[job->kind_from].output_name);
    }
    return 0;
}

void sf_run_stage_free(sf_run *R)
{
    for (size_t k = 0; R->spec && k < nouts(R); k++) {
        if (R->taken)
            sf_rows_free(&R->taken[k]);
        if (R->kept)
            sf_rows_free(&R->kept[k]);
    }
    free(R->taken);
    free(R->kept);
    R->taken = R->kept = NULL;
}

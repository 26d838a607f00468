/* run_spill.c - `shardflow run` under a memory budget (--memory-limit).
 *
 * The budget (core/budget) is the limit minus what does not grow with the
 * data: the process at start, the read buffer, a shuffle round, the spill
 * write buffers. During the scan the combiner is looked at every 1024
 * lines (or streamed rows); once it holds more than the budget's state
 * share, each of its partial aggregates goes to a spill partition chosen
 * by its key hash (partition/partitioner's sf_partition_spill, independent
 * of the owner rank) and the combiner starts again empty. Partial
 * aggregates merge exactly, so nothing about the answer changes.
 *
 * After the scan, if any rank spilled, every rank spills what its
 * combiner still holds and the shuffle and reduce run in passes: the
 * spill partitions (their sizes summed over ranks, so every rank forms the
 * same passes) are grouped into passes that fit the budget; in each pass a
 * rank reads its files of those partitions, sends each partial to the
 * owner of its key, merges what it owns into a table of this pass only,
 * turns that table into result rows (strings copied) and frees it. So the
 * largest table a rank holds is one pass's share, however many groups
 * there are. Spill records are the group's export record (core/groups)
 * behind the key hash (8 bytes, little-endian) that routes it.
 *
 * The result rows of each pass go to sorted runs and an external merge
 * writes them (run_spill_write.c), except for jobs with windows and
 * --layout single, whose rows stay in memory. Dimension tables are not
 * counted yet.
 */
#include "cli/run_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fmt.h"
#include "partition/partitioner.h"

#define SPILL_BUFFERS ((uint64_t)4 << 20) /* write buffers of all partitions together */
#define READ_BUFFER ((uint64_t)4 << 20)   /* io/range_reader's default */
#define MAX_ROUND ((uint64_t)64 << 20)

/* The fixed part of a budget of limit bytes. A round of the shuffle (and
 * of raw-row streams) is held twice, sent and received; under a limit it
 * takes at most a sixteenth of it unless --shuffle-round says otherwise
 * (R->opts.shuffle_round is set to the round in effect). */
static sf_budget_fixed fixed_for(sf_run *R, uint64_t limit, uint64_t rss)
{
    if (limit && !R->o->shuffle_round_set) {
        uint64_t round = limit / 16;
        R->opts.shuffle_round = round < MAX_ROUND ? round : MAX_ROUND;
    }
    sf_budget_fixed f = {rss, READ_BUFFER, 2 * R->o->shuffle_round, SPILL_BUFFERS};
    return f;
}

int sf_run_budget(sf_run *R)
{
    struct sf_run_budget *M = &R->mem;
    sf_membudget_node(R->comm, &M->node);
    uint64_t limit = M->node.default_limit;
    if (R->o->memory_limit_set)
        limit = R->o->memory_limit;
    else if (R->job->memory_limit_set)
        limit = R->job->memory_limit;
    M->dir = sf_spill_default_dir(R->o->spill_dir);
    uint64_t rss = sf_membudget_rss();
    sf_budget_fixed f = fixed_for(R, limit, rss);
    /* Refused: name the least limit that works with the shuffle round it
     * would get (the round grows with the limit, so iterate to the fixed
     * point; each step adds an eighth of the last). */
    uint64_t need = limit ? sf_budget_minimum(&f) : 0;
    for (int i = 0; i < 12 && need > limit; i++) {
        sf_budget_fixed g = fixed_for(R, need, rss);
        f = g;
        uint64_t next = sf_budget_minimum(&g);
        if (next <= need)
            break;
        need = next;
    }
    if (need <= limit)
        f = fixed_for(R, limit, rss);
    else
        R->opts.shuffle_round = f.shuffle_round / 2;
    int rc = sf_budget_init(&M->b, limit, &f, &R->err);
    if (rc && !R->o->memory_limit_set) {
        /* Say where a limit nobody typed came from. */
        size_t n = strlen(R->err.msg);
        if (R->job->memory_limit_set)
            snprintf(R->err.msg + n, sizeof R->err.msg - n, " (the spec's memory_limit)");
        else
            snprintf(R->err.msg + n, sizeof R->err.msg - n, " (the default: 75%% of this "
                     "node's memory over its %d ranks; give --memory-limit)",
                     M->node.ranks_on_node);
    }
    R->m.memory_limit = limit;
    /* Every rank works with the least state share, so every rank forms the
     * same spill partitions and passes. */
    uint64_t state = rc ? 0 : M->b.state;
    MPI_Allreduce(MPI_IN_PLACE, &state, 1, MPI_UINT64_T, MPI_MIN, R->comm);
    M->b.state = state;
    /* Spill directories of killed runs on this node go first (the node's
     * first rank looks; a live run's directory is never touched), with or
     * without a limit this time. */
    if (M->node.node_rank == 0) {
        char note[512];
        if (sf_spill_clean_stale(M->dir, note, sizeof note) > 0)
            fprintf(stderr, "shardflow: %s\n", note);
    }
    return rc;
}

int sf_run_budget_dims(sf_run *R)
{
    struct sf_run_budget *M = &R->mem;
    uint64_t dims = 0;
    for (size_t i = 0; i < SF_MAX_INPUTS; i++)
        dims += sf_join_table_memory(R->dims[i]);
    MPI_Allreduce(MPI_IN_PLACE, &dims, 1, MPI_UINT64_T, MPI_MAX, R->comm);
    if (!M->b.limit)
        return 0;
    if (M->b.state < dims + SF_BUDGET_MIN_STATE)
        return sf_error_set(&R->err, SF_E_LIMIT,
                            "--memory-limit %lluM is too small for this job's dimension tables "
                            "(%lluM on one rank): it needs at least %lluM per rank",
                            (unsigned long long)(M->b.limit >> 20),
                            (unsigned long long)((dims + (1u << 20) - 1) >> 20),
                            (unsigned long long)((M->b.limit - M->b.state + dims +
                                                  SF_BUDGET_MIN_STATE + (1u << 20) - 1) >> 20));
    M->b.state -= dims;
    return 0;
}

/* Opens this rank's spill files: as many partitions as keep one
 * partition's share of this rank's input within a quarter of the state
 * share. */
static int open_store(sf_run *R)
{
    struct sf_run_budget *M = &R->mem;
    if (M->store)
        return 0;
    if (!M->nspill)
        M->nspill = sf_budget_spill_partitions(R->fact_size / (uint64_t)R->nranks, M->b.state);
    return sf_spill_open(&M->store, M->dir, R->life.runid, R->rank, M->nspill,
                         (size_t)(SPILL_BUFFERS / M->nspill), &R->err);
}

/* Every live group of g to its spill partition. */
static int spill_groups(sf_run *R, sf_groups *g)
{
    struct sf_run_budget *M = &R->mem;
    int rc = open_store(R);
    if (!rc)
        rc = sf_groups_prepare_export(g);
    if (!rc) /* groups with many distinct values are spread in the passes */
        rc = sf_run_distinct_note(R, g);
    sf_buf rec = SF_BUF_INIT;
    size_t n = rc ? 0 : sf_groups_count(g);
    for (size_t i = 0; i < n && !rc; i++) {
        if (!sf_groups_live(g, i))
            continue;
        const unsigned char *key;
        size_t klen;
        uint64_t hash;
        sf_groups_key(g, i, &key, &klen, &hash);
        unsigned char h[8];
        for (int b = 0; b < 8; b++)
            h[b] = (unsigned char)(hash >> (8 * b));
        rec.n = 0;
        rc = sf_buf_append(&rec, h, sizeof h);
        if (!rc)
            rc = sf_groups_export(g, i, &rec);
        if (rc) {
            sf_error_set(&R->err, rc, "out of memory spilling partial aggregates");
            break;
        }
        rc = sf_spill_put(M->store, sf_partition_spill(hash, M->nspill), rec.p, rec.n, &R->err);
    }
    sf_buf_free(&rec);
    return rc;
}

int sf_run_spill_check(sf_run *R)
{
    struct sf_run_budget *M = &R->mem;
    M->tick = 0;
    sf_groups *g = sf_pipeline_groups(R->pipe);
    uint64_t used = sf_groups_memory(g);
    if (used > R->m.largest_table)
        R->m.largest_table = used;
    /* Several outputs: each has its own combiner and spill passes know one;
     * their combiners stay in memory (docs/memory.md). */
    if (R->spec && R->spec->noutputs > 1)
        return 0;
    if (!sf_budget_over(&M->b, used))
        return 0;
    int rc = spill_groups(R, g);
    if (!rc && (rc = sf_pipeline_reset_groups(R->pipe)) != 0)
        sf_error_set(&R->err, rc, "out of memory starting the combiner again after a spill");
    M->flushes++;
    return rc;
}

void sf_run_spill_agree(sf_run *R)
{
    struct sf_run_budget *M = &R->mem;
    int any = M->flushes > 0;
    MPI_Allreduce(MPI_IN_PLACE, &any, 1, MPI_INT, MPI_MAX, R->comm);
    M->spilled = any;
    M->map_bytes = M->store ? sf_spill_total_bytes(M->store) : 0;
    R->m.ph[SF_PH_SCAN].spill_bytes = M->map_bytes;
    R->m.ph[SF_PH_SCAN].spill_passes = M->flushes;
}

/* Rank 0, when progress is on: "reduce: pass K / N, X MB spilled", at
 * most once a second (and the last), in the scan's progress style. */
static void pass_progress(sf_run *R, size_t done, size_t passes, double *last)
{
    int on = R->o->progress >= 0 ? R->o->progress : isatty(STDERR_FILENO);
    double now = MPI_Wtime();
    if (R->rank != 0 || !on || (done < passes && now - *last < 1.0))
        return;
    *last = now;
    int tty = isatty(STDERR_FILENO);
    fprintf(stderr, "%sreduce: spill pass %zu / %zu, %.1f MB spilled on rank 0%s",
            tty ? "\r" : "", done, passes, (double)R->mem.bytes / 1e6,
            tty && done < passes ? "   " : "\n");
    fflush(stderr);
}

static int merge_pass(void *ctx, const unsigned char *rec, size_t len, int source)
{
    sf_run *R = ctx;
    (void)source;
    return sf_groups_merge_record(R->reduced, rec, len, &R->err);
}

static uint64_t get_hash(const unsigned char *p)
{
    uint64_t h = 0;
    for (int b = 7; b >= 0; b--)
        h = h << 8 | p[b];
    return h;
}

/* Reads this rank's spill partitions [first, last), merging the partials
 * it owns into R->reduced and framing the others for their owners. */
static int read_pass(sf_run *R, uint32_t first, uint32_t last, sf_buf *out)
{
    struct sf_run_budget *M = &R->mem;
    int rc = 0;
    for (uint32_t p = first; p < last && !rc; p++) {
        sf_spill_reader *r;
        if ((rc = sf_spill_read_open(M->store, p, &r, &R->err)) != 0)
            break;
        const unsigned char *rec;
        size_t len;
        int more;
        while ((more = sf_spill_read_next(r, &rec, &len, &R->err)) == 1) {
            if (len < 8) {
                more = sf_error_set(&R->err, SF_E_INTERNAL, "spill record of %zu bytes in %s",
                                    len, sf_spill_path(M->store));
                break;
            }
            int to = sf_partition_rank(get_hash(rec), R->nparts, R->nranks), taken;
            rc = sf_run_distinct_pass_record(R, rec + 8, len - 8, &taken);
            if (!rc && !taken)
                rc = to == R->rank
                         ? sf_groups_merge_record(R->reduced, rec + 8, len - 8, &R->err)
                         : sf_shuffle_put(&out[to], rec + 8, len - 8);
            if (rc) {
                if (rc == SF_E_NOMEM)
                    sf_error_set(&R->err, rc, "out of memory in spill pass");
                break;
            }
        }
        sf_spill_read_close(r);
        if (!rc && more < 0)
            rc = more;
        if (!rc)
            rc = sf_spill_drop(M->store, p, &R->err);
    }
    return rc;
}

int sf_run_spill_passes(sf_run *R)
{
    struct sf_run_budget *M = &R->mem;
    /* What the combiner still holds goes to the spill too: the passes are
     * then the only place partials meet. */
    int rc = spill_groups(R, sf_pipeline_groups(R->pipe));
    sf_pipeline_free(R->pipe);
    R->pipe = NULL;
    if (!rc)
        rc = sf_spill_flush(M->store, &R->err);
    if (!rc)
        rc = sf_run_reduce_begin(R);
    if (sf_run_agree(R, rc, 0))
        return SF_RUN_AGREED;
    uint32_t np = M->nspill;
    uint64_t *bytes = calloc(np, sizeof *bytes);
    uint32_t *first = calloc((size_t)np + 1, sizeof *first);
    sf_buf *out = calloc((size_t)R->nranks, sizeof *out);
    rc = bytes && first && out ? 0 : sf_error_set(&R->err, SF_E_NOMEM, "out of memory");
    int drc = sf_run_distinct_spilled(R); /* run_distinct.c */
    if (sf_run_agree(R, rc ? rc : drc, 0)) {
        free(bytes);
        free(first);
        free(out);
        return SF_RUN_AGREED;
    }
    for (uint32_t p = 0; p < np; p++)
        bytes[p] = sf_spill_part_bytes(M->store, p);
    MPI_Allreduce(MPI_IN_PLACE, bytes, (int)np, MPI_UINT64_T, MPI_SUM, R->comm);
    M->bytes = sf_spill_total_bytes(M->store);
    R->m.ph[SF_PH_SHUFFLE].spill_bytes = M->bytes - M->map_bytes;
    /* A pass's partials, spread over the ranks, become a table of about
     * three times their bytes on each owner (measured on S3-like data):
     * let that take half the state share. */
    uint64_t cap = M->b.state / 6 * (uint64_t)R->nranks;
    size_t passes = sf_budget_plan_passes(bytes, np, cap ? cap : 1, first);
    M->passes = passes;
    R->m.ph[SF_PH_SHUFFLE].spill_passes = passes;
    int failed = 0;
    double last = 0;
    for (size_t k = 0; k < passes && !failed; k++) {
        pass_progress(R, k, passes, &last);
        R->reduced = sf_job_new_groups(R->job);
        rc = R->reduced ? 0 : sf_error_set(&R->err, SF_E_NOMEM, "out of memory in spill pass");
        if (!rc)
            rc = read_pass(R, first[k], first[k + 1], out);
        int xrc = R->dist ? sf_run_distinct_pass_exchange(R, rc, out)
                  : sf_shuffle_exchange(R->comm, out, R->o->shuffle_round, merge_pass, R,
                                        &R->shuffle, NULL, rc ? NULL : &R->err);
        if (!rc)
            rc = xrc;
        if (!rc && R->reduced) {
            uint64_t used = sf_groups_memory(R->reduced);
            if (used > R->m.largest_table)
                R->m.largest_table = used;
            rc = sf_run_reduce_groups(R, R->reduced, 1);
        }
        sf_groups_free(R->reduced);
        R->reduced = NULL;
        failed = sf_run_agree(R, rc, 0);
        /* Rows beyond the budget go to sorted runs (run_spill_write.c). */
        if (!failed && sf_run_spill_rows(R))
            failed = sf_run_agree(R, sf_run_spill_rows_pass(R, k, passes), 0);
    }
    if (!failed)
        pass_progress(R, passes, passes, &last);
    for (int d = 0; d < R->nranks; d++)
        sf_buf_free(&out[d]);
    free(out);
    free(bytes);
    free(first);
    return failed ? SF_RUN_AGREED : 0;
}

void sf_run_spill_close(sf_run *R)
{
    sf_spill_close(R->mem.store);
    R->mem.store = NULL;
    sf_spill_close(R->mem.rows);
    R->mem.rows = NULL;
}

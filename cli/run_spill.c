/* run_spill.c - `shardflow run` under a memory budget (--memory-limit).
 *
 * The budget (core/budget) is the limit minus what does not grow with the
 * data: the process at start, the read buffer, a shuffle round, the spill
 * write buffers. During the scan the combiners (one per output) and a
 * dedupe step's table of kept rows are looked at every 1024 lines (or
 * streamed rows); once together they hold more than the budget's state
 * share, the larger goes out: each partial aggregate of each output to a
 * spill partition of that output chosen by its key hash
 * (partition/partitioner's sf_partition_spill, independent of the owner
 * rank), or each kept row to a dedupe partition by the hash of its dedupe
 * key, and the tables start again empty. Partial aggregates merge exactly,
 * and the earliest row per key wins again when a dedupe partition is read
 * back after the scan, so nothing about the answer changes.
 *
 * After the scan, if any rank spilled, every rank spills what its
 * combiners still hold and each output's shuffle and reduce run in
 * passes: its spill partitions (their sizes summed over ranks, so every
 * rank forms the same passes) are grouped into passes that fit the
 * budget; in each pass a rank reads its files of those partitions, sends
 * each partial to the owner of its key, merges what it owns into a table
 * of this pass only, turns that table into result rows (strings copied)
 * and frees it. A partition alone over a pass's share is split again into
 * SPLIT_PARTS by further bits of the hash (up to MAX_SPLIT levels). So the
 * largest table a rank holds is one pass's share, however many groups
 * there are. Spill records are the group's export record (core/groups)
 * behind the key hash (8 bytes, little-endian) that routes it.
 *
 * The result rows of each pass go to sorted runs: of the first window
 * (run_spill_window.c) or of the write (run_spill_write.c), except for
 * jobs with a grid or a limit and --layout single, whose rows stay in
 * memory (a limit keeps only the first N after each pass).
 */
#include "cli/run_internal.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fmt.h"
#include "partition/partitioner.h"

#define SPILL_BUFFERS ((uint64_t)4 << 20) /* write buffers of all partitions together */
#define READ_BUFFER ((uint64_t)4 << 20)   /* io/range_reader's default */
#define MAX_ROUND ((uint64_t)64 << 20)
#define SPLIT_PARTS 16 /* sub-partitions of a spill partition split again */
#define MAX_SPLIT 2    /* levels of splitting (sf_partition_spill_again) */

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
    /* A join that selects one column from a small string-keyed table gets
     * its own index of that column (core/join's sf_join_cells) when the
     * pipeline is made: counted here too. */
    for (size_t k = 0; k < R->job->nsteps; k++) {
        const sf_job_step *st = &R->job->steps[k];
        if (st->kind == SF_STEP_JOIN && !st->to_unknown && st->nselect == 1 && st->input >= 0 &&
            st->input < SF_MAX_INPUTS)
            dims += sf_join_cells_memory(R->dims[st->input]);
    }
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

/* Outputs whose combiners spill: each has nspill partitions of the store,
 * output k's are [k * nspill, (k + 1) * nspill). */
static uint32_t outputs(const sf_run *R)
{
    return R->spec && R->spec->noutputs > 1 ? (uint32_t)R->spec->noutputs : 1;
}

/* Opens this rank's spill files: per output as many partitions as keep
 * one partition's share of this rank's input within a quarter of the
 * state share. */
static int open_store(sf_run *R)
{
    struct sf_run_budget *M = &R->mem;
    if (M->store)
        return 0;
    if (!M->nspill)
        M->nspill = sf_budget_spill_partitions(R->fact_size / (uint64_t)R->nranks, M->b.state);
    uint32_t all = M->nspill * outputs(R);
    return sf_spill_open(&M->store, M->dir, R->life.runid, R->rank, all,
                         (size_t)(SPILL_BUFFERS / all), &R->err);
}

/* A spill record: the key hash (8 bytes, little-endian) that routes it,
 * then the payload. */
static void put_hash(sf_buf *rec, uint64_t hash)
{
    for (int b = 0; b < 8; b++)
        rec->p[b] = (unsigned char)(hash >> (8 * b));
    rec->n = 8;
}

static uint64_t get_hash(const unsigned char *p)
{
    uint64_t h = 0;
    for (int b = 7; b >= 0; b--)
        h = h << 8 | p[b];
    return h;
}

/* Whether count_distinct values are spread over ranks in the spill passes
 * (run_distinct.c): for a job of one output. With several, the noted
 * groups of every output's combiner would share one list, so their values
 * stay with their groups, as without the spread. */
static int spread_in_passes(const sf_run *R) { return outputs(R) == 1; }

/* Every live group of g, output k's combiner (NULL: none), to its spill
 * partition; opens the store either way. */
static int spill_groups(sf_run *R, sf_groups *g, size_t k)
{
    struct sf_run_budget *M = &R->mem;
    int rc = open_store(R);
    if (!rc && g)
        rc = sf_groups_prepare_export(g);
    if (!rc && g && spread_in_passes(R)) /* groups with many distinct values */
        rc = sf_run_distinct_note(R, g);
    sf_buf rec = SF_BUF_INIT;
    if (!rc && g && sf_buf_reserve(&rec, 8) != 0)
        rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory spilling partial aggregates");
    size_t n = rc || !g ? 0 : sf_groups_count(g);
    uint32_t base = (uint32_t)k * M->nspill;
    for (size_t i = 0; i < n && !rc; i++) {
        if (!sf_groups_live(g, i))
            continue;
        const unsigned char *key;
        size_t klen;
        uint64_t hash;
        sf_groups_key(g, i, &key, &klen, &hash);
        put_hash(&rec, hash);
        rc = sf_groups_export(g, i, &rec);
        if (rc) {
            sf_error_set(&R->err, rc, "out of memory spilling partial aggregates");
            break;
        }
        rc = sf_spill_put(M->store, base + sf_partition_spill(hash, M->nspill), rec.p, rec.n,
                          &R->err);
    }
    sf_buf_free(&rec);
    return rc;
}

/* The kept rows of the dedupe step to the dedupe spill (partitioned by
 * their key hash, as groups are), and the table starts again empty. The
 * rows of one key meet again in one partition, where the earliest wins. */
static int spill_dedupe(sf_run *R, sf_dedupe *t)
{
    struct sf_run_budget *M = &R->mem;
    int rc = 0;
    if (!M->nspill)
        M->nspill = sf_budget_spill_partitions(R->fact_size / (uint64_t)R->nranks, M->b.state);
    if (!M->dedupe) {
        char id[sizeof R->life.runid + 8];
        snprintf(id, sizeof id, "%s-dedupe", R->life.runid);
        rc = sf_spill_open(&M->dedupe, M->dir, id, R->rank, M->nspill,
                           (size_t)(SPILL_BUFFERS / M->nspill), &R->err);
    }
    size_t n = rc ? 0 : sf_dedupe_count(t);
    for (size_t i = 0; i < n && !rc; i++) {
        const void *row;
        size_t len;
        sf_dedupe_entry(t, i, &row, &len, NULL, NULL);
        rc = sf_spill_put(M->dedupe, sf_partition_spill(sf_dedupe_hash(t, i), M->nspill), row,
                          len, &R->err);
    }
    if (!rc && (rc = sf_pipeline_dedupe_reset(R->pipe)) != 0)
        sf_error_set(&R->err, rc, "out of memory starting the dedupe table again after a spill");
    M->dedupe_flushes++;
    return rc;
}

int sf_run_spill_check(sf_run *R)
{
    struct sf_run_budget *M = &R->mem;
    M->tick = 0;
    size_t nout = outputs(R);
    uint64_t used = 0;
    for (size_t k = 0; k < nout; k++) {
        sf_groups *g = sf_pipeline_output_groups(R->pipe, k);
        used += g ? sf_groups_memory(g) : 0;
    }
    if (used > R->m.largest_table)
        R->m.largest_table = used;
    sf_dedupe *dd = sf_pipeline_dedupe(R->pipe);
    uint64_t kept = dd ? sf_dedupe_memory(dd) : 0;
    if (!sf_budget_over(&M->b, used + kept))
        return 0;
    int rc = 0;
    /* The larger of the two goes; the combiners, once they are at least
     * half, so that a table of kept rows cannot make them spill tiny. */
    if (dd && kept > used / 2)
        return spill_dedupe(R, dd);
    for (size_t k = 0; k < nout && !rc; k++) {
        rc = spill_groups(R, sf_pipeline_output_groups(R->pipe, k), k);
        if (!rc && (rc = sf_pipeline_reset_output_groups(R->pipe, k)) != 0)
            sf_error_set(&R->err, rc, "out of memory starting the combiner again after a spill");
    }
    M->flushes++;
    return rc;
}

int sf_run_spill_dedupe_finish(sf_run *R)
{
    struct sf_run_budget *M = &R->mem;
    sf_dedupe *dd = sf_pipeline_dedupe(R->pipe);
    if (!M->dedupe || !dd)
        return 0;
    /* What the table holds joins the spill; then partition by partition
     * the rows meet again, the earliest per key is kept and goes on
     * through the steps after the dedupe into the combiners (which spill
     * as during the scan). Only this rank's keys are here: not collective. */
    int rc = spill_dedupe(R, dd);
    M->dedupe_flushes--; /* the end of the scan, not a flush */
    if (!rc)
        rc = sf_spill_flush(M->dedupe, &R->err);
    for (uint32_t p = 0; p < M->nspill && !rc; p++) {
        if ((rc = sf_pipeline_dedupe_reset(R->pipe)) != 0) {
            sf_error_set(&R->err, rc, "out of memory in the dedupe step's spill pass");
            break;
        }
        sf_spill_reader *r;
        if ((rc = sf_spill_read_open(M->dedupe, p, &r, &R->err)) != 0)
            break;
        const unsigned char *row;
        size_t len;
        int more;
        while ((more = sf_spill_read_next(r, &row, &len, &R->err)) == 1) {
            if ((rc = sf_pipeline_dedupe_reoffer(R->pipe, row, len)) != 0) {
                sf_error_set(&R->err, rc, "a spilled row of the dedupe step in %s does not "
                             "decode, or out of memory", sf_spill_path(M->dedupe));
                break;
            }
        }
        sf_spill_read_close(r);
        if (!rc && more < 0)
            rc = more;
        uint64_t kept = sf_dedupe_memory(sf_pipeline_dedupe(R->pipe));
        if (kept > R->m.largest_table)
            R->m.largest_table = kept;
        if (!rc && (rc = sf_pipeline_finish_dedupe(R->pipe)) != 0)
            sf_error_set(&R->err, rc, "out of memory or a bad row finishing the dedupe step");
        if (!rc)
            rc = sf_spill_drop(M->dedupe, p, &R->err);
        if (!rc)
            rc = sf_run_spill_check(R);
    }
    R->m.ph[SF_PH_SCAN].spill_bytes += sf_spill_disk_bytes(M->dedupe);
    sf_spill_close(M->dedupe);
    M->dedupe = NULL;
    return rc;
}

void sf_run_spill_agree(sf_run *R)
{
    struct sf_run_budget *M = &R->mem;
    int any = M->flushes > 0;
    MPI_Allreduce(MPI_IN_PLACE, &any, 1, MPI_INT, MPI_MAX, R->comm);
    M->spilled = any;
    M->map_bytes = M->store ? sf_spill_total_bytes(M->store) : 0;
    R->m.ph[SF_PH_SCAN].spill_bytes += M->map_bytes;
    /* Each output's share, so its shuffle counts only what came after. */
    uint32_t nout = outputs(R);
    free(M->out_scan);
    M->out_scan = calloc(nout, sizeof *M->out_scan);
    for (uint32_t k = 0; M->store && M->out_scan && k < nout; k++) {
        for (uint32_t p = k * M->nspill; p < (k + 1) * M->nspill; p++)
            M->out_scan[k] += sf_spill_part_bytes(M->store, p);
    }
    R->m.ph[SF_PH_SCAN].spill_passes = M->flushes;
    R->m.dedupe_spills = M->dedupe_flushes;
}

int sf_run_spill_outputs(sf_run *R, sf_groups **comb, size_t n)
{
    int rc = 0;
    for (size_t k = 0; k < n; k++) {
        if (!rc)
            rc = spill_groups(R, comb[k], k);
        sf_groups_free(comb[k]);
        comb[k] = NULL;
    }
    return rc ? rc : sf_spill_flush(R->mem.store, &R->err);
}

/* The passes of one output: where they stand, for the progress line and
 * the sorted runs of result rows. */
typedef struct passes {
    sf_buf *out;     /* per rank: partials to send in this pass */
    uint64_t cap;    /* bytes of partials (over all ranks) one pass may take */
    size_t done;     /* passes run */
    size_t planned;  /* passes known so far (a split adds its own) */
    double last;     /* of the last progress line */
} passes;

/* Rank 0, when progress is on: "reduce: pass K / N, X MB spilled", at
 * most once a second (and the last), in the scan's progress style. */
static void pass_progress(sf_run *R, passes *P)
{
    int on = R->o->progress >= 0 ? R->o->progress : isatty(STDERR_FILENO);
    double now = MPI_Wtime();
    size_t done = P->done, all = P->planned;
    if (R->rank != 0 || !on || (done < all && now - P->last < 1.0))
        return;
    P->last = now;
    int tty = isatty(STDERR_FILENO);
    fprintf(stderr, "%sreduce: spill pass %zu / %zu, %.1f MB spilled on rank 0%s",
            tty ? "\r" : "", done, all, (double)R->mem.bytes / 1e6,
            tty && done < all ? "   " : "\n");
    fflush(stderr);
}

static int merge_pass(void *ctx, const unsigned char *rec, size_t len, int source)
{
    sf_run *R = ctx;
    (void)source;
    return sf_groups_merge_record(R->reduced, rec, len, &R->err);
}

/* Reads this rank's partitions [first, last) of s, merging the partials
 * it owns into R->reduced and framing the others for their owners. */
static int read_pass(sf_run *R, sf_spill *s, uint32_t first, uint32_t last, sf_buf *out)
{
    int rc = 0;
    for (uint32_t p = first; p < last && !rc; p++) {
        sf_spill_reader *r;
        if ((rc = sf_spill_read_open(s, p, &r, &R->err)) != 0)
            break;
        const unsigned char *rec;
        size_t len;
        int more;
        while ((more = sf_spill_read_next(r, &rec, &len, &R->err)) == 1) {
            if (len < 8) {
                more = sf_error_set(&R->err, SF_E_INTERNAL, "spill record of %zu bytes in %s",
                                    len, sf_spill_path(s));
                break;
            }
            /* Co-partitioned (R->copart): every partial of a group was
             * made here, so it merges here. */
            int to = R->copart ? R->rank : sf_partition_rank(get_hash(rec), R->nparts, R->nranks);
            int taken;
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
            rc = sf_spill_drop(s, p, &R->err);
    }
    return rc;
}

/* One pass over partitions [first, last) of s: partials to their owners,
 * merged into a table of this pass, turned into result rows. Collective;
 * agrees inside: returns 0 or SF_RUN_AGREED. */
static int one_pass(sf_run *R, sf_spill *s, uint32_t first, uint32_t last, passes *P)
{
    pass_progress(R, P);
    R->reduced = sf_job_new_groups(R->job);
    int rc = R->reduced ? 0 : sf_error_set(&R->err, SF_E_NOMEM, "out of memory in spill pass");
    if (!rc)
        rc = read_pass(R, s, first, last, P->out);
    int xrc = R->dist ? sf_run_distinct_pass_exchange(R, rc, P->out)
              : sf_shuffle_exchange(R->comm, P->out, R->o->shuffle_round, merge_pass, R,
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
    /* The pass's table goes back to the system, not only to the heap
     * (glibc keeps it otherwise): the budget is resident memory. */
    malloc_trim(0);
    int failed = sf_run_agree(R, rc, 0);
    /* Rows beyond the budget go to sorted runs: the first window's, or
     * the write's (run_spill_window.c, run_spill_write.c). */
    if (!failed && sf_run_spill_rows(R))
        failed = sf_run_agree(R, R->job->nwindows || R->job->grid.on
                                     ? sf_run_spill_window_pass(R, P->done, P->planned)
                                     : sf_run_spill_rows_pass(R, P->done, P->planned), 0);
    else if (!failed)
        failed = sf_run_agree(R, sf_run_spill_limit_pass(R), 0);
    P->done++;
    return failed ? SF_RUN_AGREED : 0;
}

static int reduce_parts(sf_run *R, sf_spill *s, uint32_t first, uint32_t last, int level,
                        passes *P);

/* Partition p of s is more than a pass may take (over all ranks): every
 * rank splits its file of p into SPLIT_PARTS sub-partitions by other bits
 * of the key hash (partition/partitioner's sf_partition_spill_again) and
 * the sub-partitions are reduced in passes that fit. Collective; agrees
 * inside: returns 0 or SF_RUN_AGREED. */
static int split_again(sf_run *R, sf_spill *s, uint32_t p, int level, passes *P)
{
    struct sf_run_budget *M = &R->mem;
    char id[sizeof R->life.runid + 24];
    snprintf(id, sizeof id, "%s-split%d", R->life.runid, level + 1);
    sf_spill *sub = NULL;
    /* Its write buffers come out of the spill buffers' share: a quarter
     * of them, beside the partitions of s still waiting. */
    int rc = sf_spill_open(&sub, M->dir, id, R->rank, SPLIT_PARTS,
                           (size_t)(SPILL_BUFFERS / 4 / SPLIT_PARTS), &R->err);
    sf_spill_reader *r = NULL;
    if (!rc)
        rc = sf_spill_read_open(s, p, &r, &R->err);
    const unsigned char *rec;
    size_t len;
    int more = 0;
    while (!rc && (more = sf_spill_read_next(r, &rec, &len, &R->err)) == 1) {
        if (len < 8) {
            rc = sf_error_set(&R->err, SF_E_INTERNAL, "spill record of %zu bytes in %s", len,
                              sf_spill_path(s));
            break;
        }
        rc = sf_spill_put(sub, sf_partition_spill_again(get_hash(rec), SPLIT_PARTS, level + 1),
                          rec, len, &R->err);
    }
    sf_spill_read_close(r);
    if (!rc && more < 0)
        rc = more;
    if (!rc)
        rc = sf_spill_drop(s, p, &R->err);
    if (!rc)
        rc = sf_spill_flush(sub, &R->err);
    int failed = sf_run_agree(R, rc, 0);
    if (!failed) {
        M->splits++;
        R->m.ph[SF_PH_SHUFFLE].spill_bytes += sf_spill_disk_bytes(sub);
        failed = reduce_parts(R, sub, 0, SPLIT_PARTS, level + 1, P);
    }
    sf_spill_close(sub);
    return failed ? SF_RUN_AGREED : 0;
}

/* Reduces partitions [first, last) of s in passes that fit the budget
 * (their sizes summed over the ranks, so every rank forms the same
 * passes); a partition alone over a pass's share is split again, up to
 * MAX_SPLIT levels (past that, or for one key, it is merged as it is).
 * Collective; agrees inside: returns 0 or SF_RUN_AGREED. */
static int reduce_parts(sf_run *R, sf_spill *s, uint32_t first, uint32_t last, int level,
                        passes *P)
{
    uint32_t np = last - first;
    uint64_t *bytes = calloc(np ? np : 1, sizeof *bytes);
    uint32_t *pf = calloc((size_t)np + 1, sizeof *pf);
    int rc = bytes && pf ? 0 : sf_error_set(&R->err, SF_E_NOMEM, "out of memory");
    if (sf_run_agree(R, rc, 0)) {
        free(bytes);
        free(pf);
        return SF_RUN_AGREED;
    }
    for (uint32_t p = 0; p < np; p++)
        bytes[p] = sf_spill_part_bytes(s, first + p);
    MPI_Allreduce(MPI_IN_PLACE, bytes, (int)np, MPI_UINT64_T, MPI_SUM, R->comm);
    size_t n = sf_budget_plan_passes(bytes, np, P->cap, pf);
    /* A split replaces the one pass that was planned for it. */
    P->planned += level ? n - 1 : n;
    int failed = 0;
    for (size_t k = 0; k < n && !failed; k++) {
        uint32_t a = first + pf[k], b = first + pf[k + 1];
        if (b - a == 1 && bytes[pf[k]] > P->cap && level < MAX_SPLIT)
            failed = split_again(R, s, a, level, P);
        else
            failed = one_pass(R, s, a, b, P);
    }
    free(bytes);
    free(pf);
    return failed;
}

int sf_run_spill_passes(sf_run *R)
{
    struct sf_run_budget *M = &R->mem;
    /* What the combiner still holds goes to the spill too: the passes are
     * then the only place partials meet. With several outputs every
     * combiner went there already (sf_run_spill_outputs). */
    sf_groups *rest = R->reduced ? R->reduced : R->pipe ? sf_pipeline_groups(R->pipe) : NULL;
    int rc = spill_groups(R, rest, R->out_index);
    sf_groups_free(R->reduced);
    R->reduced = NULL;
    sf_pipeline_free(R->pipe);
    R->pipe = NULL;
    if (!rc)
        rc = sf_spill_flush(M->store, &R->err);
    if (!rc)
        rc = sf_run_reduce_begin(R);
    passes P = {calloc((size_t)R->nranks, sizeof(sf_buf)), 0, 0, 0, 0};
    if (!rc && !P.out)
        rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory");
    /* The groups noted with many distinct values, agreed (run_distinct.c). */
    int drc = spread_in_passes(R) ? sf_run_distinct_spilled(R) : 0;
    if (sf_run_agree(R, rc ? rc : drc, 0)) {
        free(P.out);
        return SF_RUN_AGREED;
    }
    uint32_t first = (uint32_t)R->out_index * M->nspill, last = first + M->nspill;
    uint64_t mine = 0;
    for (uint32_t p = first; p < last; p++)
        mine += sf_spill_part_bytes(M->store, p);
    M->bytes = sf_spill_total_bytes(M->store);
    R->m.ph[SF_PH_SHUFFLE].spill_bytes = mine - (M->out_scan ? M->out_scan[R->out_index] : 0);
    /* A pass's partials, spread over the ranks, become a table of about
     * three times their bytes on each owner (measured on S3-like data):
     * let that take half the state share. */
    uint64_t cap = M->b.state / 6 * (uint64_t)R->nranks;
    P.cap = cap ? cap : 1;
    M->splits = 0;
    int failed = reduce_parts(R, M->store, first, last, 0, &P);
    M->passes = P.done;
    R->m.ph[SF_PH_SHUFFLE].spill_passes = P.done;
    R->m.spill_splits = M->splits;
    if (!failed)
        pass_progress(R, &P);
    if (!failed && (R->job->nwindows || R->job->grid.on) && sf_run_spill_rows(R))
        failed = sf_run_spill_windows(R);
    for (int d = 0; d < R->nranks; d++)
        sf_buf_free(&P.out[d]);
    free(P.out);
    return failed ? SF_RUN_AGREED : 0;
}

void sf_run_spill_close(sf_run *R)
{
    free(R->mem.out_scan);
    R->mem.out_scan = NULL;
    sf_spill_close(R->mem.dedupe);
    R->mem.dedupe = NULL;
    sf_spill_close(R->mem.win);
    R->mem.win = NULL;
    sf_rows_free(&R->mem.kept);
    sf_spill_close(R->mem.store);
    R->mem.store = NULL;
    sf_spill_close(R->mem.rows);
    R->mem.rows = NULL;
}

/* run_reduce.c - `shardflow run`, after the scan: partial aggregates
 * shuffled to the owners of their keys and merged, reduced to result rows
 * (with the heaviest keys noted for _METRICS.json), and windows evaluated
 * after routing rows by their partition columns. Where a row or group
 * goes is partition/'s decision. */
#include "cli/run_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/bigmem.h"
#include "core/hash.h"
#include "core/value_text.h"
#include "core/window.h"
#include "partition/keyhash.h"
#include "partition/partitioner.h"

/* The groups this rank exports, made round by round, and what arrives
 * meanwhile. */
typedef struct export_cursor {
    sf_run *R;
    size_t next, n; /* groups [0, n) were the combiner's before the exchange */
    /* count_distinct: the export lists of sf_groups_prepare_export() would
     * go stale if records merged while groups are still being exported (a
     * merge may move the table's (group, value) pairs), so the records
     * that arrive wait here, framed, and merge after the exchange (those
     * of the last round too: merge_chunk fetches their groups ahead);
     * making the lists again each round would cost a pass over every
     * group per round. Jobs without count_distinct merge at once. The held records are kept in chunks of about HELD_CHUNK
     * bytes, each freed once merged, so they and the table they merge
     * into never peak together (docs/memory.md). */
    int hold;
    sf_buf *held;   /* chunks; the last one is being filled */
    size_t nheld;
    /* The retired groups' memory goes at each DROP_PARTS-th of the
     * export, so the table's dead groups and the records held meanwhile
     * never peak together (docs/memory.md) - when they are worth a copy
     * of the live groups (worth_dropping). */
    size_t drop_at;
    size_t retired; /* groups retired since the last drop */
} export_cursor;

#define DROP_PARTS 2

/* A drop copies every live group into fresh blocks to give back the
 * retired ones' memory: worth it once they are an eighth of the groups
 * left. Where the combiner stepped aside (S3 at np 2: 7.5% of the
 * groups leave), the export kept copying the whole table twice to give
 * back a few percent of it. */
static int worth_dropping(const export_cursor *x)
{
    return x->retired && x->retired >= sf_groups_live_count(x->R->reduced) / 8;
}

#define HELD_CHUNK ((size_t)8 << 20)

/* Holds one arriving record (framed) in the last chunk, or a new one. */
static int hold_record(export_cursor *x, const unsigned char *rec, size_t len)
{
    if (!x->nheld || x->held[x->nheld - 1].n >= HELD_CHUNK) {
        sf_buf *h = realloc(x->held, (x->nheld + 1) * sizeof *h);
        if (!h)
            return SF_E_NOMEM;
        x->held = h;
        x->held[x->nheld++] = (sf_buf)SF_BUF_INIT;
    }
    return sf_shuffle_put(&x->held[x->nheld - 1], rec, len) ? SF_E_NOMEM : 0;
}

static void free_held(export_cursor *x)
{
    for (size_t c = 0; c < x->nheld; c++)
        sf_buf_free(&x->held[c]);
    free(x->held);
    x->held = NULL;
    x->nheld = 0;
}

int sf_run_merge_group(void *ctx, const unsigned char *rec, size_t len, int source)
{
    sf_run *R = ctx;
    (void)source;
    return sf_groups_merge_record(R->reduced, rec, len, &R->err);
}

/* What arrives during the export (sf_shuffle_fn): merged, or held while
 * count_distinct groups are still being exported - and held after that
 * too, so that every record merges through merge_chunk with its group
 * fetched ahead (S4 sends its groups in one round: all of them came here
 * after the export and merged one cache miss at a time). */
static int merge_group(void *ctx, const unsigned char *rec, size_t len, int source)
{
    export_cursor *x = ctx;
    (void)source;
    if (x->hold)
        return hold_record(x, rec, len) ? sf_error_set(&x->R->err, SF_E_NOMEM,
                                                       "out of memory in the shuffle")
                                        : 0;
    return sf_groups_merge_record(x->R->reduced, rec, len, &x->R->err);
}

/* The join step that alone writes slot, as its key (on) column, or -1:
 * the pipeline then gives the slot's strings with their key ids
 * (core/pipeline setup_ids). */
static int key_join_of(const sf_job *job, int slot)
{
    int found = -1;
    for (size_t i = 0; i < job->nsteps; i++) {
        const sf_job_step *st = &job->steps[i];
        int writes = st->kind == SF_STEP_DERIVE ? st->slot == slot : 0;
        if (st->kind == SF_STEP_JOIN) {
            writes = st->on_slot == slot;
            for (size_t k = 0; k < st->nselect; k++)
                writes |= st->select_slots[k] == slot;
        }
        if (writes && (found >= 0 || st->kind != SF_STEP_JOIN || st->on_slot != slot))
            return -1;
        if (writes)
            found = (int)i;
    }
    return found;
}

/* The count_distinct aggregates whose values are the keys of a dimension
 * every rank holds whole are shipped as the keys' ids
 * (sf_groups_distinct_key_ids), when every rank's table has the same
 * keys in the same order: a partitioned table (each rank's share) or any
 * difference keeps strings. Collective. Returns 0 or SF_E_INVAL. */
static int ship_key_ids(sf_run *R)
{
    const sf_job *job = R->spec;
    int rc = 0;
    for (size_t j = 0; j < R->job->naggs && !rc; j++) {
        const sf_job_agg *a = &R->job->aggs[j];
        int slot = a->kind == SF_AGG_COUNT_DISTINCT && a->arg ? sf_expr_slot(a->arg) : -1;
        int step = slot >= 0 && job->slot_types[slot] == SF_STRING ? key_join_of(job, slot) : -1;
        int input = step >= 0 ? job->steps[step].input : -1;
        const sf_join_table *t = input >= 0 ? R->dims[input] : NULL;
        int key_col = input >= 0 ? job->inputs[input].key_col : -1;
        /* Every rank decides the same for j (the spec is everyone's); the
         * keys' fingerprint then says whether the ids agree. */
        if (step < 0)
            continue;
        uint64_t fp[2] = {0, 0};
        size_t rows = t && key_col >= 0 ? sf_join_table_rows(t) : 0;
        for (size_t r = 0; r < rows; r++) {
            const sf_value *k = &sf_join_table_row(t, r)[key_col];
            fp[0] = sf_hash_u64(fp[0] ^ (k->type == SF_STRING
                                             ? sf_hash_bytes(k->u.s.p, k->u.s.n, r)
                                             : (uint64_t)k->type));
        }
        fp[0] ^= rows;
        fp[1] = ~fp[0];
        MPI_Allreduce(MPI_IN_PLACE, fp, 2, MPI_UINT64_T, MPI_MAX, R->comm);
        int same = fp[0] == ~fp[1] && rows > 0 && (R->repartition != SF_REPART_BEFORE_JOIN ||
                                                   R->join_step < 0 ||
                                                   job->steps[R->join_step].input != input);
        if (same)
            rc = sf_groups_distinct_key_ids(R->reduced, j, t, key_col);
    }
    return rc;
}

/* One round's partial aggregates (sf_shuffle_fill_fn): each group another
 * rank owns is encoded straight into its owner's round buffer and retired
 * here. */
static int export_round(void *ctx, sf_buf *out, size_t quota, int *done)
{
    export_cursor *x = ctx;
    sf_run *R = x->R;
    int rc = 0;
    while (!rc && x->next < x->n) {
        size_t i = x->next++;
        sf_groups_prefetch_export(R->reduced, i + 16, 0); /* blocks lie far apart */
        sf_groups_prefetch_export(R->reduced, i + 8, 1);
        const unsigned char *key;
        size_t klen;
        uint64_t hash;
        sf_groups_key(R->reduced, i, &key, &klen, &hash);
        int to = sf_partition_rank(hash, R->nparts, R->nranks);
        if (to == R->rank)
            continue;
        size_t mark = sf_shuffle_begin(&out[to]);
        rc = mark == SIZE_MAX ? SF_E_NOMEM : sf_groups_export_shipped(R->reduced, i, &out[to]);
        if (!rc)
            rc = sf_shuffle_end(&out[to], mark);
        sf_groups_retire(R->reduced, i);
        x->retired++;
        if (!rc && x->next >= x->drop_at && x->next < x->n) {
            x->drop_at += x->n / DROP_PARTS + 1;
            if (worth_dropping(x)) {
                rc = sf_groups_drop_retired(R->reduced);
                x->retired = 0;
            }
        }
        if (!rc && out[to].n >= quota)
            return 0;
    }
    *done = 1;
    /* Every group another rank owns has left: the last of their memory
     * goes before the held records merge. */
    if (!rc && worth_dropping(x))
        rc = sf_groups_drop_retired(R->reduced);
    if (rc)
        sf_error_set(&R->err, rc, "%s serializing partial aggregates", sf_strerror(rc));
    return rc;
}

/* The records of one chunk of held records, merged in order. The group
 * table is read at random (S4: hundreds of MB), so each record's group
 * is fetched ahead of its merge: its index slot eight records before, its
 * block four before, its count_distinct values two before. */
static int merge_chunk(export_cursor *x, const sf_buf *b)
{
    enum { AHEAD = 8, RING = 16 };
    const sf_groups *g = x->R->reduced;
    const unsigned char *rec[RING];
    size_t rlen[RING], pos = 0, nread = 0, done = 0;
    uint64_t hash[RING]; /* each record's key hash, from its first hint on */
    for (;;) {
        while (nread <= done + AHEAD && pos + 4 <= b->n) {
            const unsigned char *p = b->p + pos;
            size_t len = (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 |
                         (size_t)p[3] << 24;
            rec[nread % RING] = p + 4;
            rlen[nread % RING] = len;
            sf_groups_prefetch_record(g, p + 4, len, 0, &hash[nread % RING]);
            nread++;
            pos += 4 + len;
        }
        if (done == nread)
            return 0;
        size_t a = done + AHEAD / 2, c = done + AHEAD / 4;
        if (a < nread)
            sf_groups_prefetch_record(g, rec[a % RING], rlen[a % RING], 1, &hash[a % RING]);
        if (c < nread)
            sf_groups_prefetch_record(g, rec[c % RING], rlen[c % RING], 2, &hash[c % RING]);
        int rc = sf_groups_merge_record_hashed(x->R->reduced, rec[done % RING],
                                               rlen[done % RING], &hash[done % RING], &x->R->err);
        if (rc)
            return rc;
        done++;
    }
}

/* The records held back during the exchange, merged, each chunk freed
 * as soon as it is. */
static int merge_held(export_cursor *x)
{
    int rc = 0;
    for (size_t c = 0; c < x->nheld && !rc; c++) {
        rc = merge_chunk(x, &x->held[c]);
        sf_buf_free(&x->held[c]);
    }
    return rc;
}

int sf_run_copartitioned(const sf_run *R)
{
    const sf_job *spec = R->spec ? R->spec : R->job, *out = R->job;
    if (R->repartition != SF_REPART_BEFORE_JOIN || R->join_step < 0 || spec->dedupe_step >= 0 ||
        out->kind != SF_OUT_GROUPS)
        return 0;
    const sf_job_step *join = &spec->steps[R->join_step];
    /* "type": "unknown" gives unmatched rows, routed by their own keys,
     * one shared key: that group would be on several ranks. */
    if (join->to_unknown)
        return 0;
    int grouped = 0;
    for (size_t k = 0; k < out->ngroup; k++)
        grouped |= out->group_slots[k] == join->on_slot;
    /* The key's value must reach the group as it was routed: no step from
     * the join on writes its slot again. */
    for (size_t i = (size_t)R->join_step; grouped && i < spec->nsteps; i++) {
        const sf_job_step *st = &spec->steps[i];
        if (st->kind == SF_STEP_DERIVE && st->slot == join->on_slot)
            return 0;
        for (size_t k = 0; st->kind == SF_STEP_JOIN && k < st->nselect; k++)
            if (st->select_slots[k] == join->on_slot)
                return 0;
    }
    return grouped;
}

int sf_run_shuffle_groups(sf_run *R)
{
    /* The combiner becomes the reduce table: groups this rank owns stay
     * where they are; the others are exported to their owners round by
     * round and retired here, and records from other ranks merge in. From
     * here on, whatever reads R->reduced skips groups for which
     * sf_groups_live() is false. With several outputs, R->reduced already
     * holds this output's combiner, taken from the pipeline. */
    if (!R->reduced)
        R->reduced = sf_pipeline_take_groups(R->pipe);
    /* The rest of the pipeline (decoder, dimension lookups) can go. */
    sf_pipeline_free(R->pipe);
    R->pipe = NULL;
    size_t n = sf_groups_count(R->reduced);
    export_cursor x = {R, 0, n, 0, NULL, 0, n / DROP_PARTS + 1, 0};
    for (size_t j = 0; j < R->job->naggs; j++)
        x.hold |= R->job->aggs[j].kind == SF_AGG_COUNT_DISTINCT;
    int rc = sf_groups_prepare_export(R->reduced);
    if (rc)
        sf_error_set(&R->err, rc, "out of memory serializing partial aggregates");
    int irc = R->nranks > 1 ? ship_key_ids(R) : 0; /* collective: every rank calls it */
    if (!rc && irc)
        rc = sf_error_set(&R->err, irc, "count_distinct by dimension ids");
    /* Groups with many distinct values have them counted over every rank
     * first; their records then carry none (run_distinct.c). Collective:
     * every rank calls it, with its verdict so far. */
    rc = sf_run_distinct_spread(R, R->reduced, rc);
    sf_progress_init(&R->prog, R->progress, "run: shuffle");
    /* A failure before the exchange still takes part in it (the fill
     * makes nothing), so every rank reaches the same verdict. Rows met at
     * their join key's owner and the key is a group column: each group is
     * whole where it is, and every rank skips the exchange alike (the
     * verdict is the spec's and the strategy's, the same everywhere). */
    if (rc || R->copart)
        x.next = x.n;
    int xrc = 0;
    if (!R->copart)
        xrc = sf_shuffle_exchange_fill(R->comm, export_round, &x, R->o->shuffle_round,
                                       merge_group, &x, &R->shuffle, &R->prog,
                                       rc ? NULL : &R->err);
    else /* the exchange's verdict, without the exchange */
        xrc = sf_mpi_agree_error(R->comm, rc, &R->err, NULL);
    if (!rc)
        rc = xrc;
    if (!rc)
        rc = merge_held(&x);
    free_held(&x);
    if (!rc)
        rc = sf_run_distinct_settle(R, R->reduced);
    else
        sf_run_distinct_free(R);
    return rc;
}

/* Offers a group to the heaviest-keys list, its key printed as the group
 * values joined with '|'. */
static void offer_key(sf_run *R, const sf_value *row, uint64_t nrows)
{
    sf_buf text = SF_BUF_INIT;
    int rc = 0;
    for (size_t k = 0; k < R->job->ngroup && !rc; k++) {
        char tmp[SF_FMT_BUF];
        const sf_value *v = &row[k];
        const char *p;
        size_t n = sf_value_text(v, tmp, &p);
        rc = k ? sf_buf_append(&text, "|", 1) : 0;
        rc |= v->type == SF_NULL ? sf_buf_printf(&text, "null") : sf_buf_append(&text, p, n);
    }
    if (!rc && sf_buf_append(&text, "", 1) == 0)
        sf_metrics_offer_key(&R->m, (const char *)text.p, nrows);
    sf_buf_free(&text);
}

/* The error for aggregate j of the group whose key values open row: a
 * decimal sum beyond 38 digits fails the run (nothing is committed). */
static int decimal_overflow(sf_run *R, size_t j, const sf_value *row)
{
    const sf_job *job = R->job;
    char key[512] = "", buf[SF_FMT_BUF];
    size_t used = 0;
    for (size_t k = 0; k < job->ngroup && used < sizeof key; k++) {
        const char *p;
        size_t n = row[k].type == SF_NULL ? 4 : sf_value_text(&row[k], buf, &p);
        if (row[k].type == SF_NULL)
            p = "null";
        int w = snprintf(key + used, sizeof key - used, "%s%s=%.*s", k ? ", " : "",
                         job->result_names[k], n > 100 ? 100 : (int)n, p);
        used += w > 0 ? (size_t)w : 0;
    }
    return sf_error_set(&R->err, SF_E_RANGE,
                        "aggregate '%s': the decimal %s of group (%s) needs more than 38 digits",
                        job->aggs[j].name, job->aggs[j].kind == SF_AGG_SUM ? "sum" : "mean",
                        job->ngroup ? key : "all rows");
}

/* "having" on a result row (group keys and aggregates filled): kept when
 * true; false and NULL drop it, as SQL's HAVING does. */
static int keep_having(const sf_job *job, const sf_value *row, sf_arena *scratch)
{
    sf_value v = sf_expr_eval(job->having, row, scratch);
    sf_arena_reset(scratch);
    return v.type == SF_BOOL && v.u.b;
}

/* The error for window win whose frame at row overflowed: names the
 * partition and the order value. */
void sf_run_window_overflow(sf_run *R, const sf_job_window *win, const sf_value *row)
{
    const sf_job *job = R->job;
    char where[512] = "", buf[SF_FMT_BUF];
    size_t used = 0;
    for (size_t k = 0; k <= win->npartition && used < sizeof where; k++) {
        int col = k < win->npartition ? win->partition_by[k] : win->order_by;
        const char *p = "null";
        size_t n = row[col].type == SF_NULL ? 4 : sf_value_text(&row[col], buf, &p);
        int wr = snprintf(where + used, sizeof where - used, "%s%s=%.*s", k ? ", " : "",
                          job->result_names[col], n > 100 ? 100 : (int)n, p);
        used += wr > 0 ? (size_t)wr : 0;
    }
    sf_error_set(&R->err, SF_E_RANGE,
                 "window '%s': the decimal %s at (%s) needs more than 38 digits", win->name,
                 win->func == SF_AGG_SUM ? "sum" : "mean", where);
}

int sf_run_reduce_begin(sf_run *R)
{
    sf_rows_init(&R->rows, R->job->nresult);
    R->part_groups = calloc((size_t)R->nparts, sizeof *R->part_groups);
    R->part_rows = calloc((size_t)R->nparts, sizeof *R->part_rows);
    if (!R->part_groups || !R->part_rows)
        return sf_error_set(&R->err, SF_E_NOMEM, "out of memory building result rows");
    return 0;
}

/* Final rows of this rank's groups: group key values, aggregates, NULL
 * window columns; a row "having" rejects is dropped here, before windows,
 * sort and limit. */
int sf_run_reduce(sf_run *R)
{
    int rc = sf_run_reduce_begin(R);
    /* The table holds the live groups' rows, and one row of room that a
     * retired group is read into and dropped from (sf_groups_take_row):
     * no doubling growth. When the rows go straight to the in-memory
     * repartition write (sf_run_write_early), they are written once in
     * order and the table is advised for huge pages: they fault in 2 MiB
     * at a time (S3: a third of the run's page faults were the reduce's
     * first touch of this table, 4 KiB each). An advised table that
     * grows is copied, not remapped (the advice split its mapping), so
     * with several ranks it also has room for as many rows again, for
     * those the write route brings (about as many as leave: the writers
     * are dealt by rows); room never touched takes no memory. Other
     * routes (windows, one writer for an unpartitioned output) may bring
     * more: their tables take no advice and grow as before. Each row
     * also gets its writer bucket while it is at hand (run_write.c's
     * route then only counts them). */
    int early = !rc && sf_run_write_early(R);
    /* Rows straight into their partitions' CSV text: no rows table
     * (run_write_text.c). */
    /* (Its row numbers are 32-bit: received rows count too.) */
    if (early && sf_run_text_plan(R, NULL) &&
        (!R->reduced || sf_groups_live_count(R->reduced) < UINT32_MAX / 4)) {
        rc = sf_run_text_begin(R, R->reduced ? sf_groups_live_count(R->reduced) : 0);
        if (rc)
            return sf_error_set(&R->err, rc, "out of memory building result rows");
        rc = sf_run_reduce_groups(R, R->reduced, SF_RUN_REDUCE_DRAIN);
        sf_groups_free(R->reduced);
        R->reduced = NULL;
        return rc;
    }
    size_t live = R->reduced ? sf_groups_live_count(R->reduced) + 1 : 1;
    /* The doubled room is address space only; a host that refuses it
     * (strict overcommit) gets the live groups' rows alone. */
    if (!rc && early && R->nranks > 1 && sf_rows_reserve(&R->rows, 2 * live) != 0)
        early = 0;
    if (!rc && (rc = sf_rows_reserve(&R->rows, live)) != 0)
        return sf_error_set(&R->err, rc, "out of memory building result rows");
    if (early)
        sf_bigmem_advise(R->rows.v, R->rows.cap * R->rows.ncols * sizeof *R->rows.v);
    free(R->wbucket);
    R->wbucket = early ? malloc(live * sizeof *R->wbucket) : NULL;
    R->nwbucket = 0;
    /* The rows keep their strings and the group table drains as they are
     * made, so the two are never both whole (docs/memory.md). */
    rc = rc ? rc : sf_run_reduce_groups(R, R->reduced, SF_RUN_REDUCE_DRAIN);
    sf_groups_free(R->reduced);
    R->reduced = NULL;
    return rc;
}

/* Groups between two drains of the table while it becomes rows: a few
 * arena blocks' worth, so a block goes soon after its last group. */
#define DRAIN_EVERY 65536

int sf_run_reduce_groups(sf_run *R, sf_groups *g, int keep_strings)
{
    const sf_job *job = R->job;
    sf_arena scratch; /* strings "having" makes, reset after each row */
    sf_arena_init(&scratch, 0);
    sf_buf pkey = SF_BUF_INIT; /* a row's partition values, for its writer bucket */
    uint16_t *wbucket = keep_strings == SF_RUN_REDUCE_DRAIN ? R->wbucket : NULL;
    /* Text: each row is made in one slot, formatted and forgotten; its
     * strings borrow from g, whose group i lives until the next drain. */
    int text = keep_strings == SF_RUN_REDUCE_DRAIN && R->text;
    sf_value *slot = text ? malloc(R->rows.ncols * sizeof *slot) : NULL;
    if (text && !slot)
        return sf_error_set(&R->err, SF_E_NOMEM, "out of memory building result rows");
    for (size_t c = 0; slot && c < R->rows.ncols; c++)
        slot[c] = sf_null();
    int copy_strings = keep_strings && !text;
    int rc = sf_groups_prepare_export(g);
    size_t n = rc ? 0 : sf_groups_count(g);
    size_t drained = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (keep_strings == SF_RUN_REDUCE_DRAIN && i >= drained + DRAIN_EVERY)
            sf_groups_drain_to(g, drained = i); /* groups before i are rows now */
        /* The group keys and aggregates are set below, or the row is
         * dropped: only the window columns start NULL. */
        sf_value *row = text ? slot : sf_rows_append_filled(&R->rows, job->ngroup + job->naggs);
        if (!row) {
            rc = SF_E_NOMEM;
            break;
        }
        /* Draining: the group's entry is read once (key, row count,
         * results) and its sums' partials go as it is read. */
        sf_groups_entry e;
        size_t bad = 0;
        int overflow = 0;
        if (keep_strings == SF_RUN_REDUCE_DRAIN) {
            overflow = sf_groups_take_row(g, i, &e, row + job->ngroup, &bad);
        } else if (!sf_groups_live(g, i)) {
            overflow = -1;
        } else {
            sf_groups_key(g, i, &e.key, &e.klen, &e.hash);
            e.rows = sf_groups_rows(g, i);
            overflow = sf_groups_result_row(g, i, row + job->ngroup, &bad);
        }
        if (overflow < 0) { /* retired */
            R->rows.n -= !text;
            continue;
        }
        const unsigned char *key = e.key;
        size_t klen = e.klen, p = 0;
        /* Strings borrow from g (R->reduced lives until the rows are
         * routed, sf_run_route_rows, or the run ends), unless they are
         * kept in the rows' own arena: the key from its first string's
         * bytes on is copied there once and the rest of the key decoded
         * from the copy (one copy, not one per string, and no more bytes
         * than the strings and what lies between them); an aggregate's
         * strings (min or max) are kept one by one. */
        const unsigned char *copy = NULL;
        size_t at = 0; /* the copy holds key[at, klen) */
        for (size_t k = 0; !copy_strings && k < job->ngroup; k++)
            p += sf_value_decode(key + p, klen - p, &row[k]);
        for (size_t k = 0; copy_strings && k < job->ngroup; k++) {
            p += sf_value_decode(copy ? copy + (p - at) : key + p, klen - p, &row[k]);
            if (copy || row[k].type != SF_STRING)
                continue;
            at = (size_t)((const unsigned char *)row[k].u.s.p - key);
            if (at == klen) { /* an empty string that ends the key */
                row[k].u.s.p = "";
                continue;
            }
            unsigned char *c = sf_arena_alloc(&R->rows.mem, klen - at);
            if (!c) {
                rc = SF_E_NOMEM;
                break;
            }
            memcpy(c, key + at, klen - at);
            row[k].u.s.p = (const char *)c;
            copy = c;
        }
        if (rc)
            break;
        if (overflow == 2) {
            rc = decimal_overflow(R, bad, row);
            break;
        }
        R->sum_overflow |= overflow;
        for (size_t j = 0; copy_strings && j < job->naggs && !rc; j++) {
            if (row[job->ngroup + j].type == SF_STRING)
                rc = sf_rows_keep_string(&R->rows, &row[job->ngroup + j]);
        }
        uint64_t nrows = e.rows;
        uint32_t part = sf_partition_of(e.hash, (uint32_t)R->nparts);
        R->part_groups[part]++;
        R->part_rows[part] += nrows;
        if (R->m.ntop < SF_TOP_KEYS || nrows >= R->m.top[SF_TOP_KEYS - 1].rows)
            offer_key(R, row, nrows);
        if (job->having && !keep_having(job, row, &scratch)) {
            R->rows.n -= !text; /* the row just appended */
            R->having_dropped++;
        } else if (text) {
            rc = sf_run_text_add(R, row, klen);
        } else if (wbucket) {
            rc = sf_run_write_bucket(R, row, &pkey, &wbucket[R->rows.n - 1]);
        }
    }
    if (wbucket && !rc)
        R->nwbucket = R->rows.n;
    free(slot);
    sf_buf_free(&pkey);
    sf_arena_free(&scratch);
    if (rc == SF_E_NOMEM)
        sf_error_set(&R->err, rc, "out of memory building result rows");
    return rc;
}

/* ---- moving rows between ranks ---- */

/* The rows table while sf_run_route_rows() routes it, in place: rows
 * [0, put) are the table's (kept and received), [put, next) is room
 * left by rows already routed, [next, n0) are still to route, and rows
 * received when there is no room go after n0, to move down at the end.
 * So the table never holds more rows than it had or will have, and a
 * round of records at a time is encoded, not every row that leaves. */
typedef struct route_cursor {
    sf_run *R;
    const int *keys;
    size_t nkeys;
    int dest;
    const uint16_t *bucket; /* per row before routing, or NULL: ... */
    const int *owner;       /* ... the row goes to owner[bucket[row]] */
    size_t next, n0, put;
    sf_arena old; /* the strings of rows still to route */
    int keep_old; /* 1: rows that stay keep their strings in old (see route_rows) */
    sf_buf key;
} route_cursor;

/* Every row routed: the rows received past the room move down to it, and
 * what the routed rows borrowed from goes. Cannot fail. */
static void route_finish(route_cursor *c)
{
    sf_rows *rows = &c->R->rows;
    size_t tail = rows->n - c->n0;
    if (tail && c->put < c->n0)
        memmove(sf_rows_at(rows, c->put), sf_rows_at(rows, c->n0),
                tail * rows->ncols * sizeof(sf_value));
    rows->n = c->put + tail;
    c->next = c->n0 = c->put = rows->n; /* from now on rows append */
    if (c->keep_old)
        sf_arena_put_behind(&rows->mem, &c->old);
    else
        sf_arena_free(&c->old);
    /* Nothing borrows from the group table any more (the old rows did). */
    sf_groups_free(c->R->reduced);
    c->R->reduced = NULL;
}

/* One round of rows that leave (sf_shuffle_fill_fn); the rows that stay
 * move down to put, their strings into the table's new arena. */
static int route_round(void *ctx, sf_buf *out, size_t quota, int *done)
{
    route_cursor *c = ctx;
    sf_run *R = c->R;
    size_t ncols = R->rows.ncols;
    int rc = 0;
    while (!rc && c->next < c->n0) {
        sf_value *row = sf_rows_at(&R->rows, c->next);
        int to = c->bucket ? c->owner[c->bucket[c->next]] : c->dest;
        c->next++;
        uint64_t hash;
        if (to < 0 && (rc = sf_key_hash_columns(row, c->keys, c->nkeys, &c->key, &hash)) == 0)
            to = sf_partition_rank(hash, R->nparts, R->nranks);
        if (rc)
            break;
        if (to == R->rank) {
            sf_value *dst = sf_rows_at(&R->rows, c->put++);
            if (dst != row)
                memcpy(dst, row, ncols * sizeof *dst);
            rc = c->keep_old ? 0 : sf_rows_keep_strings(&R->rows, dst);
            continue;
        }
        unsigned char *p = sf_shuffle_reserve(&out[to], sf_rows_encoded_size(row, ncols));
        if (!p)
            rc = SF_E_NOMEM;
        else
            sf_rows_encode(row, ncols, p);
        if (!rc && out[to].n >= quota)
            return 0;
    }
    if (rc)
        return sf_error_set(&R->err, rc, "out of memory routing rows");
    *done = 1;
    route_finish(c);
    return 0;
}

/* A received row (sf_shuffle_fn): into the room if there is some. */
static int route_keep(void *ctx, const unsigned char *rec, size_t len, int source)
{
    route_cursor *c = ctx;
    sf_rows *rows = &c->R->rows;
    int rc;
    if (c->put < c->next) {
        rc = sf_rows_decode_record(rows, sf_rows_at(rows, c->put), rec, len);
        c->put += rc == 0;
    } else {
        rc = sf_rows_append_record(rows, rec, len);
    }
    if (rc)
        sf_error_set(&c->R->err, rc, "bad or unstorable row record from rank %d", source);
    return rc;
}

/* Sends every row to the rank owning the hash of its key columns, or, when
 * dest >= 0, every row to rank dest; the rows table then holds the rows
 * this rank kept and received, in no particular order. Rows that stay
 * are not encoded, exchanged and decoded: they move down in the same
 * table, and received rows fill the room the others left (route_cursor).
 * Collective. */
static int route_rows(sf_run *R, const int *keys, size_t nkeys, int dest, const uint16_t *bucket,
                      const int *owner, const char *label)
{
    /* A row table owns the strings it references (core/rows.h), except
     * rows made while the group table lives, which may borrow from it
     * and are copied as they stay. Otherwise the strings of rows that
     * stay stay where they are: the old arena joins the table's at the
     * end, with the strings of the rows that left (a few bytes per row,
     * against a copy of every kept string). */
    route_cursor c = {.R = R, .keys = keys, .nkeys = nkeys, .dest = dest, .bucket = bucket,
                      .owner = owner, .n0 = R->rows.n, .old = R->rows.mem,
                      .keep_old = R->reduced == NULL, .key = SF_BUF_INIT};
    sf_arena_init(&R->rows.mem, 0); /* the strings of the rows from here on */
    sf_progress_init(&R->prog, R->progress, label);
    int rc = sf_shuffle_exchange_fill(R->comm, route_round, &c, R->o->shuffle_round, route_keep,
                                      &c, &R->shuffle, &R->prog, &R->err);
    if (c.next < c.n0) /* a failure stopped the routing: no row is whole */
        route_finish(&c);
    if (rc)
        R->rows.n = 0;
    sf_buf_free(&c.key);
    /* The room routing left behind goes back (a rank that sent more than
     * it received). */
    sf_rows_fit(&R->rows);
    return rc;
}

int sf_run_route_rows(sf_run *R, const int *keys, size_t nkeys, int dest, const char *label)
{
    return route_rows(R, keys, nkeys, dest, NULL, NULL, label);
}

int sf_run_route_rows_owned(sf_run *R, const uint16_t *bucket, const int *owner,
                            const char *label)
{
    return route_rows(R, NULL, 0, -1, bucket, owner, label);
}

int sf_run_windows(sf_run *R)
{
    const sf_job *job = R->job;
    for (size_t w = 0; w < job->nwindows; w++) {
        const sf_job_window *win = &job->windows[w];
        int rc = sf_run_route_rows(R, win->partition_by, win->npartition, -1,
                                   "run: window shuffle");
        if (sf_run_agree(R, rc, 0))
            return SF_RUN_AGREED;
        int *keys = malloc((win->npartition + 1) * sizeof *keys);
        rc = keys ? 0 : SF_E_NOMEM;
        if (keys) {
            memcpy(keys, win->partition_by, win->npartition * sizeof *keys);
            keys[win->npartition] = win->order_by;
            rc = sf_rows_sort(&R->rows, keys, win->npartition + 1);
        }
        free(keys);
        size_t bad = 0;
        if (!rc)
            rc = sf_window_eval_at(&R->rows, win, (int)(job->ngroup + job->naggs + w), &bad);
        if (rc == SF_E_RANGE)
            sf_run_window_overflow(R, win, sf_rows_at(&R->rows, bad));
        else if (rc)
            sf_error_set(&R->err, rc, "out of memory evaluating window '%s'", win->name);
        if (sf_run_agree(R, rc, 0))
            return SF_RUN_AGREED;
    }
    return 0;
}


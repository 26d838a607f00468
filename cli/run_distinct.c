/* run_distinct.c - `shardflow run`: count_distinct spread over ranks.
 *
 * A group's distinct values travel with the group to its owner, which is
 * right for groups with few values (S3: about one per group) and wrong for
 * one huge group, whose every value would end up on one rank. So, before
 * the group shuffle, groups that hold more than SPREAD_MIN_VALUES distinct
 * values of a count_distinct on some rank are *spread*:
 *
 *   1. every rank names its big groups; an allgather gives every rank the
 *      same list, and a group's dense id (gid) is its place in it;
 *   2. on every rank that holds such a group, its values (already
 *      deduplicated by the combiner, so a repeated pair is never shipped)
 *      are routed by the hash of (group key, aggregate, value) - see
 *      sf_pairs_hash - and taken out of the group, whose record then
 *      carries none;
 *   3. each rank counts the distinct pairs it receives per (gid,
 *      aggregate) in a core/pairs table: each pair lives on exactly one
 *      rank, so the counts are exact partial counts;
 *   4. an allreduce sums them, and after the group shuffle the owner adds
 *      the sum to the group's count (sf_run_distinct_settle).
 *
 * Groups with few values pay a few small collectives per run (the verdicts
 * and an allgather of the empty list) and nothing per group. The pair
 * table counts against the memory budget: when it would cross its share
 * it is written to spill partitions by the pair's hash and emptied; the
 * partitions are then counted one at a time (a pair always lands in the
 * same partition, so each is deduplicated on its own and the counts add
 * up).
 *
 * When the combiner spilled during the scan (run_spill.c), each flush
 * notes its big groups (sf_run_distinct_note); before the spill passes
 * every rank agrees on them, and in the pass that holds such a group every
 * rank merges its records with the values diverted to the pair shuffle
 * (sf_run_distinct_pass_record); the pass's exchange then moves the
 * values-free groups to their owners, counts the pairs and settles the
 * counts there (sf_run_distinct_pass_exchange). A round of counting is
 * the in-memory shuffle, or one spill pass.
 */
#include "cli/run_internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "core/pairs.h"
#include "partition/partitioner.h"

/* Distinct values of one count_distinct a group must hold on one rank to
 * be spread. Below it, a group's values go to its owner with the group:
 * at most ranks x this many per group, which is what one rank holds anyway. */
#define SPREAD_MIN_VALUES 4096

#define CHECK_EVERY 4096 /* pairs added between looks at the pair table's memory */

struct sf_run_distinct {
    sf_hmap *spread;   /* group key -> uint32 gid (its entry number) */
    uint64_t *ghash;   /* per gid: the group key's hash */
    size_t ngid;
    size_t *aggs;      /* job aggregate of each spreadable count_distinct */
    sf_type *types;    /* and its argument type */
    size_t naggs;
    uint64_t *totals;  /* per gid * naggs + a: distinct values on all ranks */
    /* counting on this rank */
    sf_pairs *pairs;
    uint64_t budget;   /* bytes the pair table may hold; 0: no limit */
    uint32_t since;    /* pairs added since the last look */
    sf_spill *store;   /* pair spill partitions, opened on first use */
    uint32_t nspill;
    uint64_t held;     /* distinct pairs counted here (the metric) */
    sf_buf *pout;      /* per rank: pairs framed for it this round */
    int nranks;
    sf_buf noted;      /* spilled combiners' big groups (key records), until agreed */
    sf_buf rec;
};

static void distinct_free(struct sf_run_distinct *D)
{
    if (!D)
        return;
    sf_hmap_free(D->spread);
    free(D->ghash);
    free(D->aggs);
    free(D->types);
    free(D->totals);
    sf_pairs_free(D->pairs);
    sf_spill_close(D->store);
    for (int r = 0; D->pout && r < D->nranks; r++)
        sf_buf_free(&D->pout[r]);
    free(D->pout);
    sf_buf_free(&D->noted);
    sf_buf_free(&D->rec);
    free(D);
}

void sf_run_distinct_free(sf_run *R)
{
    distinct_free(R->dist);
    R->dist = NULL;
}

/* 1 when the job's aggregate a is a count_distinct whose values can be
 * spread: the job says so alike on every rank, table or no table (the
 * argument types core/groups keeps in its pair table). */
static int agg_spreads(const sf_job_agg *a)
{
    if (a->kind != SF_AGG_COUNT_DISTINCT || !a->arg)
        return 0;
    sf_type t = sf_expr_type(a->arg);
    return t == SF_INT || t == SF_DOUBLE || t == SF_DATE || t == SF_BOOL || t == SF_STRING ||
           t == SF_TIMESTAMP;
}

/* 1 when group i of g (prepared) holds more than SPREAD_MIN_VALUES values
 * of a count_distinct that can spread. */
static int group_is_big(const sf_groups *g, size_t i, size_t naggs)
{
    for (size_t j = 0; j < naggs; j++) {
        if (!sf_groups_distinct_spreadable(g, j))
            continue;
        int overflow = 0;
        if (sf_groups_result(g, i, j, &overflow).u.i > SPREAD_MIN_VALUES)
            return 1;
    }
    return 0;
}

/* This rank's big groups of local, as (key length, key) records. */
static int name_big_groups(const sf_groups *local, size_t naggs, sf_buf *out)
{
    int rc = 0;
    /* Most tables have no big group at all: one look, no pass. */
    size_t n = sf_groups_distinct_max(local) > SPREAD_MIN_VALUES ? sf_groups_count(local) : 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (!sf_groups_live(local, i) || !group_is_big(local, i, naggs))
            continue;
        const unsigned char *key;
        size_t klen;
        uint64_t hash;
        sf_groups_key(local, i, &key, &klen, &hash);
        rc = sf_buf_put_leb(out, klen);
        if (!rc)
            rc = sf_buf_append(out, key, klen);
    }
    return rc;
}

/* Every rank's big groups, the same list everywhere (rank order, first
 * sight wins: the entry number is the gid). Collective. */
static int agree_big_groups(sf_run *R, struct sf_run_distinct *D, const sf_buf *mine)
{
    int *lens = calloc((size_t)R->nranks, sizeof *lens);
    int *displs = calloc((size_t)R->nranks, sizeof *displs);
    int rc = lens && displs ? 0 : SF_E_NOMEM;
    if (!rc && mine->n > (size_t)(INT_MAX / R->nranks))
        rc = SF_E_LIMIT;
    int len = rc ? 0 : (int)mine->n;
    rc = sf_mpi_agree_error(R->comm, rc ? sf_error_set(&R->err, rc, "too many groups with "
                                                       "many distinct values") : 0,
                            &R->err, NULL);
    if (!rc)
        MPI_Allgather(&len, 1, MPI_INT, lens, 1, MPI_INT, R->comm);
    int total = 0;
    for (int r = 0; !rc && r < R->nranks; r++) {
        displs[r] = total;
        total += lens[r]; /* each under INT_MAX / ranks */
    }
    unsigned char *all = rc || !total ? NULL : malloc((size_t)total);
    if (!rc && total)
        rc = sf_mpi_agree_error(R->comm, all ? 0 : sf_error_set(&R->err, SF_E_NOMEM, "out of "
                                "memory agreeing on groups with many distinct values"),
                                &R->err, NULL);
    if (!rc && total)
        MPI_Allgatherv(mine->p, len, MPI_BYTE, all, lens, displs, MPI_BYTE, R->comm);
    for (int p = 0; !rc && p < total;) {
        uint64_t klen;
        size_t used = sf_leb_get(all + p, (size_t)(total - p), &klen);
        if (!used || klen > (uint64_t)(total - p) - used) {
            rc = sf_error_set(&R->err, SF_E_INTERNAL, "malformed list of spread groups");
            break;
        }
        p += (int)used;
        size_t before = sf_hmap_count(D->spread);
        int ins = 0;
        uint32_t *gid = sf_hmap_upsert(D->spread, all + p, (size_t)klen,
                                       sf_groups_hash(all + p, (size_t)klen), &ins);
        if (!gid)
            rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory agreeing on groups");
        else if (ins)
            *gid = (uint32_t)before;
        p += (int)klen;
    }
    free(all);
    free(lens);
    free(displs);
    return rc;
}

/* The gid of a spread group's key, or -1. */
static long gid_of(const struct sf_run_distinct *D, const unsigned char *key, size_t klen,
                   uint64_t hash)
{
    const uint32_t *gid = sf_hmap_find(D->spread, key, klen, hash);
    return gid ? (long)*gid : -1;
}

/* The gid of group i of g when it is live and spread, else -1. */
static long live_gid(const struct sf_run_distinct *D, const sf_groups *g, size_t i)
{
    if (!sf_groups_live(g, i))
        return -1;
    const unsigned char *key;
    size_t klen;
    uint64_t hash;
    sf_groups_key(g, i, &key, &klen, &hash);
    return gid_of(D, key, klen, hash);
}

/* ---- counting pairs on this rank, under the budget ---- */

struct spill_ctx {
    sf_run *R;
    struct sf_run_distinct *D;
};

static int spill_pair(void *ctx, uint32_t gid, uint32_t agg, const sf_value *v)
{
    struct spill_ctx *c = ctx;
    struct sf_run_distinct *D = c->D;
    uint64_t h = sf_pairs_hash(D->ghash[gid], agg, D->types[agg], v);
    D->rec.n = 0;
    int rc = sf_pairs_encode(&D->rec, gid, agg, v);
    if (rc)
        return sf_error_set(&c->R->err, rc, "out of memory spilling distinct pairs");
    return sf_spill_put(D->store, sf_partition_spill(h, D->nspill), D->rec.p, D->rec.n,
                        &c->R->err);
}

/* Writes the pair table to its spill partitions and starts it again
 * empty. */
static int spill_pairs(sf_run *R, struct sf_run_distinct *D)
{
    int rc = 0;
    if (!D->store) {
        char id[sizeof R->life.runid + 8];
        snprintf(id, sizeof id, "%s-pairs", R->life.runid);
        D->nspill = sf_budget_spill_partitions(2 * sf_pairs_memory(D->pairs), D->budget);
        rc = sf_spill_open(&D->store, R->mem.dir, id, R->rank, D->nspill,
                           (size_t)(((uint64_t)4 << 20) / D->nspill), &R->err);
    }
    struct spill_ctx c = {R, D};
    if (!rc)
        rc = sf_pairs_each(D->pairs, spill_pair, &c);
    if (rc)
        return rc;
    sf_pairs_free(D->pairs);
    D->pairs = sf_pairs_new(D->ngid, D->types, D->naggs);
    return D->pairs ? 0 : sf_error_set(&R->err, SF_E_NOMEM, "out of memory counting pairs");
}

static int add_pair(sf_run *R, struct sf_run_distinct *D, uint32_t gid, uint32_t agg,
                    const sf_value *v)
{
    int rc = sf_pairs_add(D->pairs, gid, agg, v, NULL);
    if (rc)
        return sf_error_set(&R->err, rc, rc == SF_E_NOMEM ? "out of memory counting distinct "
                            "pairs" : "distinct pair of an unknown group or wrong type");
    if (D->budget && ++D->since >= CHECK_EVERY) {
        D->since = 0;
        uint64_t used = sf_pairs_memory(D->pairs);
        if (used > R->m.largest_table)
            R->m.largest_table = used;
        if (used > D->budget)
            return spill_pairs(R, D);
    }
    return 0;
}

static int receive_pair(void *ctx, const unsigned char *rec, size_t len, int source)
{
    sf_run *R = ctx;
    uint32_t gid, agg;
    sf_value v;
    if (sf_pairs_decode(rec, len, &gid, &agg, &v) != 0)
        return sf_error_set(&R->err, SF_E_PARSE, "malformed distinct pair from rank %d", source);
    return add_pair(R, R->dist, gid, agg, &v);
}

/* Adds the table's counts to totals (and the pairs to the metric). */
static void take_counts(struct sf_run_distinct *D)
{
    for (uint32_t g = 0; g < D->ngid; g++)
        for (uint32_t a = 0; a < D->naggs; a++)
            D->totals[(size_t)g * D->naggs + a] += sf_pairs_count(D->pairs, g, a);
    D->held += sf_pairs_size(D->pairs);
}

/* The pairs this rank counts, summed into totals: from the table, or,
 * once it spilled, one spill partition at a time. Not collective. */
static int count_pairs(sf_run *R, struct sf_run_distinct *D)
{
    if (!D->store) {
        take_counts(D);
        return 0;
    }
    int rc = spill_pairs(R, D);
    if (!rc)
        rc = sf_spill_flush(D->store, &R->err);
    for (uint32_t p = 0; p < D->nspill && !rc; p++) {
        sf_spill_reader *r;
        if ((rc = sf_spill_read_open(D->store, p, &r, &R->err)) != 0)
            break;
        const unsigned char *rec;
        size_t len;
        int more;
        uint64_t budget = D->budget;
        D->budget = 0; /* a partition is counted whole */
        while ((more = sf_spill_read_next(r, &rec, &len, &R->err)) == 1 &&
               (rc = receive_pair(R, rec, len, R->rank)) == 0) {
        }
        D->budget = budget;
        sf_spill_read_close(r);
        if (!rc && more < 0)
            rc = more;
        if (rc)
            break;
        uint64_t used = sf_pairs_memory(D->pairs);
        if (used > R->m.largest_table)
            R->m.largest_table = used;
        take_counts(D);
        sf_pairs_free(D->pairs);
        D->pairs = sf_pairs_new(D->ngid, D->types, D->naggs);
        if (!D->pairs)
            rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory counting pairs");
        if (!rc)
            rc = sf_spill_drop(D->store, p, &R->err);
    }
    R->m.distinct_spill_bytes = sf_spill_disk_bytes(D->store);
    return rc;
}

/* ---- a round of pair counting: the in-memory shuffle, or one spill pass ---- */

/* The pair table's share of the budget: what the group table g (which
 * stays in memory meanwhile) leaves of the state share, and at least a
 * quarter of it. 0 when there is no limit. */
static uint64_t pair_budget(const sf_run *R, const sf_groups *g)
{
    if (!R->mem.b.limit)
        return 0;
    uint64_t state = R->mem.b.state, used = g ? sf_groups_memory(g) : 0;
    uint64_t left = used < state ? state - used : 0;
    return left > state / 4 ? left : state / 4;
}

/* Allocates what a round needs (on first use) and a fresh pair table
 * with budget bytes. Not collective. */
static int begin_round(sf_run *R, struct sf_run_distinct *D, uint64_t budget)
{
    D->ngid = sf_hmap_count(D->spread);
    if (!D->ghash) {
        D->ghash = malloc(D->ngid * sizeof *D->ghash);
        D->totals = calloc(D->ngid * D->naggs, sizeof *D->totals);
        D->pout = calloc((size_t)R->nranks, sizeof *D->pout);
        D->nranks = R->nranks;
        if (!D->ghash || !D->totals || !D->pout)
            return sf_error_set(&R->err, SF_E_NOMEM, "out of memory spreading distinct pairs");
        for (size_t g = 0; g < D->ngid; g++)
            sf_hmap_entry(D->spread, g, NULL, NULL, &D->ghash[g], NULL);
    }
    D->budget = budget;
    D->since = 0;
    if (!D->pairs && !(D->pairs = sf_pairs_new(D->ngid, D->types, D->naggs)))
        return sf_error_set(&R->err, SF_E_NOMEM, "out of memory counting distinct pairs");
    return 0;
}

/* Sends the round's pairs to their ranks, counts what this rank holds
 * (from spill partitions if the table spilled) and sums the counts over
 * ranks into totals. Collective. Returns 0 or the agreed SF_E_*. */
static int finish_round(sf_run *R, struct sf_run_distinct *D, int rc)
{
    if (!rc && !D->pairs)
        rc = begin_round(R, D, pair_budget(R, R->reduced)); /* nothing routed here yet */
    /* Every rank has its buffers (or every rank stops here). */
    rc = sf_mpi_agree_error(R->comm, rc, &R->err, NULL);
    if (!rc)
        rc = sf_shuffle_exchange(R->comm, D->pout, R->o->shuffle_round, receive_pair, R,
                                 &R->shuffle, NULL, &R->err);
    if (!rc)
        rc = count_pairs(R, D);
    sf_pairs_free(D->pairs);
    D->pairs = NULL;
    sf_spill_close(D->store);
    D->store = NULL;
    R->m.distinct_pairs = D->held;
    R->m.distinct_groups = D->ngid;
    rc = sf_mpi_agree_error(R->comm, rc, &R->err, NULL);
    if (!rc && D->ngid * D->naggs > INT_MAX)
        rc = sf_error_set(&R->err, SF_E_LIMIT, "too many groups with many distinct values");
    if (!rc)
        MPI_Allreduce(MPI_IN_PLACE, D->totals, (int)(D->ngid * D->naggs), MPI_UINT64_T, MPI_SUM,
                      R->comm);
    return rc;
}

/* Adds the round's totals to the spread groups g holds and owns (live),
 * and zeroes them for the next round. Not collective. */
static int settle(sf_run *R, struct sf_run_distinct *D, sf_groups *g)
{
    int rc = 0;
    size_t n = sf_groups_count(g);
    for (size_t i = 0; i < n && !rc; i++) {
        long gid = live_gid(D, g, i);
        for (size_t a = 0; gid >= 0 && a < D->naggs && !rc; a++)
            rc = sf_groups_distinct_add(g, i, D->aggs[a], D->totals[(size_t)gid * D->naggs + a]);
    }
    if (D->totals)
        memset(D->totals, 0, D->ngid * D->naggs * sizeof *D->totals);
    if (rc)
        sf_error_set(&R->err, rc, "out of memory adding spread distinct counts");
    return rc;
}

/* ---- routing ---- */

/* Where value v of group gid's aggregate agg is counted: here, or framed
 * for its rank. */
static int route_pair(sf_run *R, struct sf_run_distinct *D, uint32_t gid, uint32_t agg,
                      const sf_value *v)
{
    uint64_t h = sf_pairs_hash(D->ghash[gid], agg, D->types[agg], v);
    int to = sf_partition_rank(h, R->nranks, R->nranks);
    if (to == R->rank)
        return add_pair(R, D, gid, agg, v);
    D->rec.n = 0;
    int rc = sf_pairs_encode(&D->rec, gid, agg, v);
    if (!rc)
        rc = sf_shuffle_put(&D->pout[to], D->rec.p, D->rec.n);
    return rc ? sf_error_set(&R->err, rc, "out of memory routing distinct pairs") : 0;
}

struct route_ctx {
    sf_run *R;
    struct sf_run_distinct *D;
    uint32_t gid, agg;
};

static int route_value(void *ctx, const sf_value *v)
{
    struct route_ctx *c = ctx;
    return route_pair(c->R, c->D, c->gid, c->agg, v);
}

/* The values of every spread group held in local go to their pair's
 * rank, and out of local. */
static int route_groups(sf_run *R, struct sf_run_distinct *D, sf_groups *local)
{
    struct route_ctx c = {R, D, 0, 0};
    size_t n = sf_groups_count(local);
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        long gid = live_gid(D, local, i);
        if (gid < 0)
            continue;
        c.gid = (uint32_t)gid;
        for (size_t a = 0; a < D->naggs && !rc; a++) {
            c.agg = (uint32_t)a;
            rc = sf_groups_distinct_values(local, i, D->aggs[a], route_value, &c);
            if (!rc)
                rc = sf_groups_distinct_spread(local, i, D->aggs[a]);
        }
    }
    return rc;
}

/* The spreadable count_distinct aggregates of the job, and the empty list
 * of spread groups. Not collective. */
static int setup(sf_run *R, struct sf_run_distinct *D)
{
    const sf_job *job = R->job;
    if (D->spread)
        return 0;
    D->aggs = calloc(job->naggs ? job->naggs : 1, sizeof *D->aggs);
    D->types = calloc(job->naggs ? job->naggs : 1, sizeof *D->types);
    D->spread = sf_hmap_new(sizeof(uint32_t), 64);
    if (!D->aggs || !D->types || !D->spread)
        return SF_E_NOMEM;
    for (size_t j = 0; j < job->naggs; j++) {
        if (!agg_spreads(&job->aggs[j]))
            continue;
        D->aggs[D->naggs] = j;
        D->types[D->naggs++] = sf_expr_type(job->aggs[j].arg);
    }
    return 0;
}

/* 1 when this run spreads anything: the job has a count_distinct that can
 * spread and there is more than one rank. The same on every rank. */
static int run_spreads(const sf_run *R)
{
    int any = 0;
    for (size_t j = 0; j < R->job->naggs; j++)
        any |= agg_spreads(&R->job->aggs[j]);
    return any && R->nranks > 1;
}

/* Agrees on the spread groups from mine (this rank's, as records): R->dist
 * is set up with them, or freed when there are none. Collective. Returns
 * 0 or the agreed SF_E_*. */
static int agree_spread(sf_run *R, int rc, const sf_buf *mine)
{
    struct sf_run_distinct *D = R->dist;
    if (!rc && !D)
        rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory spreading distinct values");
    if (!rc && (rc = setup(R, D)) != 0)
        sf_error_set(&R->err, rc, "out of memory spreading distinct values");
    rc = sf_mpi_agree_error(R->comm, rc, &R->err, NULL);
    if (!rc)
        rc = agree_big_groups(R, D, mine);
    rc = sf_mpi_agree_error(R->comm, rc, &R->err, NULL);
    if (rc || sf_hmap_count(D->spread) == 0)
        sf_run_distinct_free(R);
    return rc;
}

int sf_run_distinct_spread(sf_run *R, sf_groups *local, int rc)
{
    /* A job without a count_distinct that can spread, or a run on one
     * rank (nothing to spread over), makes no collective call at all. */
    if (!run_spreads(R))
        return rc;
    sf_run_distinct_free(R);
    R->dist = calloc(1, sizeof *R->dist);
    sf_buf mine = SF_BUF_INIT;
    if (!rc && R->dist && (rc = name_big_groups(local, R->job->naggs, &mine)) != 0)
        sf_error_set(&R->err, rc, "out of memory finding groups with many distinct values");
    rc = agree_spread(R, rc, &mine);
    sf_buf_free(&mine);
    if (rc || !R->dist)
        return rc;
    struct sf_run_distinct *D = R->dist;
    rc = begin_round(R, D, pair_budget(R, local));
    if (!rc)
        rc = route_groups(R, D, local);
    rc = finish_round(R, D, rc);
    if (rc)
        sf_run_distinct_free(R);
    return rc;
}

int sf_run_distinct_settle(sf_run *R, sf_groups *g)
{
    struct sf_run_distinct *D = R->dist;
    int rc = D ? settle(R, D, g) : 0;
    sf_run_distinct_free(R);
    return rc;
}

/* ---- under the memory budget: spilled combiners and spill passes ---- */

int sf_run_distinct_note(sf_run *R, const sf_groups *g)
{
    if (!run_spreads(R))
        return 0;
    if (!R->dist && !(R->dist = calloc(1, sizeof *R->dist)))
        return sf_error_set(&R->err, SF_E_NOMEM, "out of memory noting distinct values");
    int rc = name_big_groups(g, R->job->naggs, &R->dist->noted);
    return rc ? sf_error_set(&R->err, rc, "out of memory noting distinct values") : 0;
}

int sf_run_distinct_spilled(sf_run *R)
{
    if (!run_spreads(R))
        return 0;
    if (!R->dist)
        R->dist = calloc(1, sizeof *R->dist);
    sf_buf noted = SF_BUF_INIT;
    if (R->dist) {
        noted = R->dist->noted;
        memset(&R->dist->noted, 0, sizeof noted);
    }
    int rc = agree_spread(R, 0, &noted);
    sf_buf_free(&noted);
    return rc;
}

static int divert_value(void *ctx, size_t j, const sf_value *v)
{
    struct route_ctx *c = ctx;
    for (uint32_t a = 0; a < c->D->naggs; a++)
        if (c->D->aggs[a] == j)
            return route_pair(c->R, c->D, c->gid, a, v);
    return SF_E_INTERNAL;
}

int sf_run_distinct_pass_record(sf_run *R, const unsigned char *rec, size_t len, int *taken)
{
    struct sf_run_distinct *D = R->dist;
    *taken = 0;
    const unsigned char *key;
    size_t klen;
    if (!D || sf_groups_record_key(rec, len, &key, &klen) != 0)
        return 0; /* a malformed record fails where it is merged */
    long gid = gid_of(D, key, klen, sf_groups_hash(key, klen));
    if (gid < 0)
        return 0;
    *taken = 1;
    int rc = D->pairs ? 0 : begin_round(R, D, pair_budget(R, R->reduced));
    struct route_ctx c = {R, D, (uint32_t)gid, 0};
    if (!rc)
        rc = sf_groups_merge_record_spread(R->reduced, rec, len, divert_value, &c, &R->err);
    if (rc == SF_E_NOMEM)
        sf_error_set(&R->err, rc, "out of memory in spill pass");
    return rc;
}

int sf_run_distinct_pass_exchange(sf_run *R, int rc, sf_buf *out)
{
    struct sf_run_distinct *D = R->dist;
    sf_buf rec = SF_BUF_INIT;
    /* Spread groups merged here that another rank owns go there now,
     * without their values. */
    size_t n = rc || !R->reduced ? 0 : sf_groups_count(R->reduced);
    if (n)
        rc = sf_groups_prepare_export(R->reduced);
    for (size_t i = 0; i < n && !rc; i++) {
        const unsigned char *key;
        size_t klen;
        uint64_t hash;
        sf_groups_key(R->reduced, i, &key, &klen, &hash);
        int to = R->copart ? R->rank : sf_partition_rank(hash, R->nparts, R->nranks);
        if (to == R->rank || !sf_groups_live(R->reduced, i))
            continue;
        rec.n = 0;
        rc = sf_groups_export(R->reduced, i, &rec);
        if (!rc)
            rc = sf_shuffle_put(&out[to], rec.p, rec.n);
        sf_groups_retire(R->reduced, i);
        if (rc)
            sf_error_set(&R->err, rc, "out of memory in spill pass");
    }
    sf_buf_free(&rec);
    int xrc = sf_shuffle_exchange(R->comm, out, R->o->shuffle_round, sf_run_merge_group, R,
                                  &R->shuffle, NULL, rc ? NULL : &R->err);
    rc = rc ? rc : xrc;
    rc = finish_round(R, D, rc);
    if (!rc && R->reduced)
        rc = settle(R, D, R->reduced);
    return rc;
}

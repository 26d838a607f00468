/* pipeline.c - decode, derive, filter, join, pre-aggregate one line.
 *
 * A fact input with flatten settings or explode paths goes through
 * core/flatten instead of the projection decoder: a line may give several
 * rows. Lines still land in exactly one count, by the fate of their first
 * row; the other rows are counted in rows_exploded and their fates in the
 * exploded_* counts (see pipeline.h). A shipped row of such a pipeline
 * carries a trailing bool saying whether it is its line's first row, so the
 * receiving rank counts it the same way.
 */
#include "core/pipeline.h"

#include "core/decimal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/bytes.h"
#include "core/dedupe.h"
#include "core/flatten.h"
#include "core/fmt.h"
#include "core/hash.h"
#include "core/keycache.h"
#include "core/utf8.h"
#include "core/value_text.h"

/* Rows of output 0 whose groups are looked up together: their slots in
 * the group table's index are prefetched, then the rows update their
 * groups in order (the table sees the same updates in the same order). */
#define AGG_BATCH 32
#define AGG_BATCH_KEYS ((size_t)16 * 1024)
#define AGG_BATCH_STRS ((size_t)64 * 1024)

/* Decoded rows that wait for a join on a dimension table far larger than
 * the caches (S3's 100k users): each row's index slot is prefetched as
 * the row comes in, then, RING rows later, the lookups of the ring's rows
 * load their dimension rows ahead of the steps, so a row waits for memory
 * about once per ring instead of twice per row. Tables at most
 * RING_MIN_TABLE bytes stay in the caches and rows do not wait. */
#define RING 16
#define RING_STRS ((size_t)64 * 1024)
#define RING_MIN_TABLE ((size_t)1 << 20)

struct sf_pipeline {
    const sf_job *job;
    sf_join_table *const *dims;
    sf_decoder *dec;
    sf_groups *groups;
    sf_value *row;
    sf_arena scratch;
    sf_buf key;
    sf_counts counts;
    /* Split pipelines (raw-row shuffle): */
    size_t split;      /* steps [0, split) run before the row is shipped */
    int *route;        /* slots whose values pick the destination */
    size_t nroute;
    int *ship;         /* slots the record carries */
    size_t nship;
    sf_emit_fn emit;   /* NULL: not split */
    void *emit_ctx;
    sf_buf rec;
    sf_value *row_b;   /* receiving side: its own row, scratch and key */
    sf_arena scratch_b;
    sf_buf key_b;
    sf_reject_sample samples[SF_MAX_SAMPLES];
    size_t nsamples;
    int *req;        /* fact column indexes that are required, and how many */
    size_t nreq;
    int last_reason; /* of the last rejected line, -1 before any */
    char last_msg[240];
    sf_flatten *flat; /* flattened fact input; NULL: the projection decoder */
    sf_groups **more; /* combiners of job->outputs[1..noutputs) ("outputs") */
    size_t nmore;
    /* Per output (job->outputs[k]): its kind, and for a row output the
     * table its rows go to (ncols 0 for other kinds). */
    const sf_output_kind *kinds;
    sf_rows *rowsets;
    unsigned char **row_keep; /* per row output: 1 for each slot it reads */
    sf_row_sink_fn *sinks;    /* per output: where its rows go instead, or NULL */
    void **sink_ctx;
    size_t nout;
    int rows_out;             /* some output is a row output */
    /* A dedupe step: the pipeline is split there (by the driver, or with
     * itself as the receiver); shipped rows carry their ordinal, and the
     * receiving side keeps the first per key in dd until
     * sf_pipeline_finish_dedupe() runs the rest of the steps on them. */
    sf_dedupe *dd;
    int dedupe_split;  /* the split is at the dedupe step */
    uint64_t chunk;    /* ordinal of the chunk being read (sf_pipeline_set_chunk) */
    /* The combiner's step-aside (sf_pipeline_set_aside): */
    sf_aside_mode aside_mode;
    int aside;         /* 1: rows of other ranks' groups leave as row records */
    sf_aside_ops aside_ops;
    sf_aside_stats aside_st;
    /* A combining rank in auto mode looks again each time its rows
     * aggregated double (aside_recheck): at aside_next rows, 0 never; the
     * rows and groups at the last look. */
    uint64_t aside_next, aside_rows, aside_groups;
    uint64_t own_groups; /* groups this pipeline's own rows made (not the
                          * records of other ranks' rows it took in) */
    sf_value *aside_args; /* one per aggregate: the argument values of a record */
    /* Dimension ids (core/join) of the row's joined strings: ids[slot] is
     * set by the one join step that fills the slot (id_ok[slot]), 0 for no
     * match; slots without a single such step keep 0. Rows of a split
     * pipeline arrive without them: ids are off there (ids_on 0). */
    uint32_t *ids;
    unsigned char *id_ok;
    int ids_on;
    /* Fixed-width keys of output 0 (core/keycache): tuples of the group
     * values to the combiner's group handle; NULL when the key cannot be
     * fixed-width or the groups outgrew the cache. */
    sf_keycache *kc;
    uint64_t kc_looked, kc_missed; /* tuples looked up and not found, until the verdict */
    /* Group columns of strings that carry no dimension id (a string of the
     * line itself: group by event_type): the cache's tuple takes for each
     * an id from a dictionary of the strings seen (kc_dict[i], for slot
     * kc_islot[i]; ids from 1 in order of first sight, so equal ids are
     * equal strings, as the cache's invariant asks). The cache then reads
     * its ids from kc_ids, where the dimension ids of the other string
     * group columns (kc_copy) are copied; the rows' own ids stay as they
     * are for everything else. kc_nintern 0: the cache reads ids. */
    size_t kc_nintern, kc_ncopy;
    int *kc_islot, *kc_copy;
    sf_hmap **kc_dict;
    struct kc_short *kc_short; /* per interned column: its short strings' index */
    uint32_t *kc_ids;
    /* When every step is a derive, a filter or a join without an unknown
     * member: run_steps_lean (all joins one-column, through their cells)
     * or run_steps_lean_tables; else NULL. */
    int (*steps_lean)(struct sf_pipeline *p, sf_value *row, uint32_t *ids);
    int kc_direct;        /* the job lets aggregate_direct take rows: a key of up to
                           * three columns, no row output, no other output */
    /* Rows of output 0 waiting for their group (see agg_batch_push): the
     * row's values (strings copied into bt_str), ids, encoded key and hash. */
    sf_value *bt_rows;     /* AGG_BATCH rows of nslots values */
    uint32_t *bt_ids;      /* AGG_BATCH rows of nslots ids */
    unsigned char *bt_has_ids;
    unsigned char *bt_key; /* AGG_BATCH_KEYS bytes of keys */
    size_t bt_key_off[AGG_BATCH + 1];
    uint64_t bt_hash[AGG_BATCH];
    char *bt_str;          /* AGG_BATCH_STRS bytes of string values */
    size_t bt_str_n;
    size_t bt_n;
    int *bt_use;           /* the slots output 0's aggregates read: the only
                            * ones a batched row copies (the others stay NULL) */
    size_t bt_nuse;
    sf_arena bt_scratch;
    int bt_rc; /* a flush's error when the groups were read from outside */
    /* Rows waiting for their joins (see RING; ring_push): the decoded
     * slots of each (strings copied into ring_str), and for each join step
     * whose key the line itself gives (pf_step), the dimension row and key
     * id its lookup found once the ring is full. ring_on 0: rows go
     * straight on. */
    int ring_on;
    int ring_busy;        /* a flush is running: records taken in on the way
                           * (the step-aside) must not start another */
    size_t ring_n;
    sf_value *ring_rows;  /* RING rows of nslots values */
    char *ring_str;       /* RING_STRS bytes */
    size_t ring_str_n;
    const sf_value **ring_dim; /* RING rows of nsteps */
    uint32_t *ring_kid;
    unsigned char *pf_step;    /* per step */
    size_t *pf_list;           /* the steps with pf_step set, in order */
    size_t npf;
    int *fact_slots;           /* the slots the decoder fills */
    size_t nfact;
    struct step_plan *plan;    /* per step: what run_steps reads of it (setup_plan) */
};

/* A step as run_steps runs it, packed once (setup_plan): the job's step
 * is read only by the general case. A join without an unknown member is
 * PLAN_JOIN1 when it selects one column (the KPI joins; its id slots
 * settled), else PLAN_JOIN. */
enum { PLAN_DERIVE, PLAN_FILTER, PLAN_FILTER_LEAF, PLAN_JOIN1, PLAN_JOIN, PLAN_FILTER_AND, PLAN_OTHER };
typedef struct step_plan {
    int kind;             /* PLAN_* */
    int slot;             /* derive: its slot; join: the on slot */
    int sel_slot, sel_col; /* PLAN_JOIN1: the selected column's slot and index */
    int input;            /* PLAN_JOIN1: the dimension */
    unsigned char inner;  /* PLAN_JOIN1: an inner join */
    unsigned char key_id, sel_id; /* PLAN_JOIN1: id_ok of slot and sel_slot */
    int kid_slot, cid_slot; /* PLAN_JOIN1: slot and sel_slot where id_ok, else nslots
                             * (p->ids' spare entry): the ids stored without a test */
    sf_join_cells *cells; /* PLAN_JOIN1 of a small string-keyed table: its
                           * one-line index of the selected column, or NULL */
    const sf_expr *expr;  /* derive, filter */
    sf_expr_derive dform; /* PLAN_DERIVE: its inline form (derive_step), or SF_DERIVE_NONE */
    sf_expr_leaf leaf;    /* PLAN_FILTER_LEAF: its test inline; PLAN_FILTER_AND: the
                           * first of its && (S5's filter) */
    sf_expr_leaf leaf2;   /* PLAN_FILTER_AND: the second */
    /* PLAN_FILTER_LEAF right after a PLAN_DERIVE of SF_DERIVE_IF form
     * into the leaf's slot (the KPI's revenue >= 0 after its if()): the
     * filter's answer for each branch the derive can take, known at plan
     * time when the branch is a literal (1 or 0), else -1 (tested). A lean
     * plan skips the test (lean_step); fused 0: no such derive before. */
    unsigned char fused;
    signed char then_true, else_true;
} step_plan;

/* Tuples the key cache holds at most: groups that fit in the caches, as
 * a daily KPI's; with more, the cache is dropped (see core/keycache.h).
 * It is dropped sooner when more than half of the first KEYCACHE_SAMPLE
 * lookups missed: groups close to rows (one user's day) would fill it
 * for nothing. */
#define KEYCACHE_MAX ((size_t)1 << 16)
#define KEYCACHE_SAMPLE 4096

static void mark_slot(void *ctx, int slot);
static void agg_batch_release(sf_pipeline *p);

/* The slots a row output keeps (result column i < nslots is slot i): the
 * written, partition and sort columns and what its computed columns read
 * (all, when a stage reads its rows); the others stay NULL in its table,
 * so their strings are not copied. */
static unsigned char *row_keep_mask(const sf_job *o)
{
    unsigned char *m = calloc(o->nresult + 1, 1);
    if (!m)
        return NULL;
    const sf_job_output *out = &o->output;
    if (o->read_by_stage) { /* a stage may read any of them */
        memset(m, 1, o->nresult);
        return m;
    }
    for (size_t i = 0; i < out->ncolumns; i++)
        m[out->columns[i]] = 1;
    for (size_t i = 0; i < out->npartition; i++)
        m[out->partition_by[i]] = 1;
    for (size_t i = 0; i < out->nsort; i++)
        m[out->sort_by[i]] = 1;
    for (size_t c = 0; c < o->ncomputes; c++)
        sf_expr_visit_columns(o->computes[c].expr, mark_slot, m);
    return m;
}

/* A column's index of its short strings (4 to 16 bytes) to their ids, in
 * front of its dictionary: a string is its length and its two words
 * (sf_bytes_words16), as the joins' cells compare keys, so a lookup
 * neither hashes the bytes nor calls. Filled as the dictionary gives ids,
 * up to half its slots. */
#define KC_SHORT_SLOTS 256
struct kc_short {
    struct kc_short_ent {
        uint64_t w0, w1;
        uint32_t n, id; /* id 0: an empty slot */
    } ent[KC_SHORT_SLOTS];
    size_t used;
};

/* Which slots carry a dimension id (written by exactly one join step and
 * by no derive, so a slot's ids all come from one dimension column), and
 * the key cache when every group column of output 0 can be fixed-width:
 * not a decimal, and a string only with an id. Returns 0 or SF_E_NOMEM. */
static int setup_ids(sf_pipeline *p)
{
    const sf_job *job = p->job;
    size_t n = job->nslots ? job->nslots : 1;
    unsigned char *writers = calloc(n, 1);
    p->ids = calloc(n + 1, sizeof *p->ids); /* [nslots]: where ids nobody reads go */
    p->id_ok = calloc(n, 1);
    if (!writers || !p->ids || !p->id_ok) {
        free(writers);
        return SF_E_NOMEM;
    }
    for (size_t i = 0; i < job->nsteps; i++) {
        const sf_job_step *st = &job->steps[i];
        if (st->kind == SF_STEP_DERIVE) {
            writers[st->slot] = 2; /* written by an expression: no id */
        } else if (st->kind == SF_STEP_JOIN) {
            writers[st->on_slot] = writers[st->on_slot] ? 2 : 1;
            for (size_t k = 0; k < st->nselect; k++)
                writers[st->select_slots[k]] = writers[st->select_slots[k]] ? 2 : 1;
        }
    }
    for (size_t s = 0; s < job->nslots; s++)
        p->id_ok[s] = writers[s] == 1 && job->slot_types[s] == SF_STRING;
    free(writers);
    p->ids_on = 1;
    if (job->ngroup == 0 || job->ngroup > SF_KEYCACHE_MAX_COLS ||
        (job->noutputs ? job->outputs[0].kind : job->kind) != SF_OUT_GROUPS)
        return 0;
    size_t nintern = 0, ncopy = 0;
    for (size_t i = 0; i < job->ngroup; i++) {
        int s = job->group_slots[i];
        if (job->slot_types[s] == SF_DECIMAL)
            return 0;
        if (job->slot_types[s] == SF_STRING) {
            nintern += !p->id_ok[s];
            ncopy += p->id_ok[s];
        }
    }
    if (nintern) {
        p->kc_ids = calloc(n + 2, sizeof *p->kc_ids); /* 8 bytes read at a string's id */
        p->kc_islot = calloc(nintern, sizeof *p->kc_islot);
        p->kc_copy = calloc(ncopy ? ncopy : 1, sizeof *p->kc_copy);
        p->kc_dict = calloc(nintern, sizeof *p->kc_dict);
        p->kc_short = calloc(nintern, sizeof *p->kc_short);
        if (!p->kc_ids || !p->kc_islot || !p->kc_copy || !p->kc_dict || !p->kc_short)
            return SF_E_NOMEM;
        for (size_t i = 0; i < job->ngroup; i++) {
            int s = job->group_slots[i];
            if (job->slot_types[s] != SF_STRING)
                continue;
            if (p->id_ok[s]) {
                p->kc_copy[p->kc_ncopy++] = s;
            } else {
                p->kc_islot[p->kc_nintern] = s;
                if (!(p->kc_dict[p->kc_nintern++] = sf_hmap_new(sizeof(uint32_t), 64)))
                    return SF_E_NOMEM;
            }
        }
    }
    p->kc = sf_keycache_new(job->ngroup + 1, KEYCACHE_MAX);
    return p->kc ? 0 : SF_E_NOMEM;
}

/* Drops the key cache: rows go the long way from here on. */
static void kc_drop(sf_pipeline *p)
{
    sf_keycache_free(p->kc);
    p->kc = NULL;
}

/* The slot of the short strings' index sh that holds s (n bytes) or where
 * it would go, with its key (its words and length) in *key; NULL when s
 * is not 4 to 16 bytes long. */
static inline __attribute__((always_inline)) struct kc_short_ent *
kc_short_slot(struct kc_short *sh, const char *s, size_t n, struct kc_short_ent *key)
{
    if (n - 4 > 12) /* 4 to 16 bytes */
        return NULL;
    sf_bytes_words16(s, n, &key->w0, &key->w1);
    key->n = (uint32_t)n;
    size_t h = (size_t)(((key->w0 ^ (key->w1 * 0x9e3779b97f4a7c15ull) ^ n) *
                         0xbf58476d1ce4e5b9ull) >> 56);
    for (;; h = (h + 1) & (KC_SHORT_SLOTS - 1)) {
        struct kc_short_ent *e = &sh->ent[h];
        if (!e->id || (e->n == key->n && e->w0 == key->w0 && e->w1 == key->w1))
            return e;
    }
}

/* s's id in the dictionary d (ids from 1 in order of first sight), the
 * string added when new; 0 when d would outgrow the key cache's own bound
 * or is out of memory. */
static uint32_t kc_dict_id(sf_hmap *d, const char *s, size_t n)
{
    int inserted = 0;
    uint32_t *slot = sf_hmap_upsert(d, s, n, sf_hash_bytes(s, n, 0), &inserted);
    if (!slot || (inserted && sf_hmap_count(d) > KEYCACHE_MAX))
        return 0;
    if (inserted)
        *slot = (uint32_t)sf_hmap_count(d);
    return *slot;
}

/* kc_key_ids' work for a job with strings to intern: the dimension ids
 * copied, each interned string's id (0 for NULL: the tuple's type tag
 * tells NULL from a string). A dictionary past the cache's own bound
 * (more strings than tuples it may hold) or out of memory drops the cache
 * and gives NULL. */
static __attribute__((noinline)) const uint32_t *kc_intern_row(sf_pipeline *p,
                                                                const sf_value *row,
                                                                const uint32_t *ids)
{
    uint32_t *kids = p->kc_ids;
    for (size_t i = 0; i < p->kc_ncopy; i++)
        kids[p->kc_copy[i]] = ids[p->kc_copy[i]];
    for (size_t i = 0; i < p->kc_nintern; i++) {
        const sf_value *v = &row[p->kc_islot[i]];
        uint32_t id = 0;
        if (v->type == SF_STRING) {
            struct kc_short *sh = &p->kc_short[i];
            struct kc_short_ent key;
            struct kc_short_ent *e = kc_short_slot(sh, v->u.s.p, v->u.s.n, &key);
            id = e ? e->id : 0;
            if (!id) {
                id = kc_dict_id(p->kc_dict[i], v->u.s.p, v->u.s.n);
                if (!id) {
                    kc_drop(p);
                    return NULL;
                }
                if (e && sh->used < KC_SHORT_SLOTS / 2) { /* up to half its slots */
                    key.id = id;
                    *e = key;
                    sh->used++;
                }
            }
        }
        kids[p->kc_islot[i]] = id;
    }
    return kids;
}

/* The ids the key cache builds row's tuple from: ids, or with strings to
 * intern (kc_nintern) kc_ids filled for row; NULL when the cache was
 * dropped (kc_intern_row). */
static inline const uint32_t *kc_key_ids(sf_pipeline *p, const sf_value *row,
                                         const uint32_t *ids)
{
    return p->kc_nintern ? kc_intern_row(p, row, ids) : ids;
}

static int run_steps_lean(sf_pipeline *p, sf_value *row, uint32_t *ids);
static int run_steps_lean_tables(sf_pipeline *p, sf_value *row, uint32_t *ids);
static int run_lean_kpi(sf_pipeline *p, sf_value *row, uint32_t *ids);
static int run_lean_kpi_tables(sf_pipeline *p, sf_value *row, uint32_t *ids);
static int run_lean_selective(sf_pipeline *p, sf_value *row, uint32_t *ids);
static int run_lean_selective_tables(sf_pipeline *p, sf_value *row, uint32_t *ids);

/* The step kinds of the lean plans that run in straight lines (see
 * lean_fixed). */
static const int kpi_kinds[] = {PLAN_DERIVE, PLAN_FILTER_LEAF, PLAN_JOIN1, PLAN_JOIN1,
                                PLAN_DERIVE};
static const int selective_kinds[] = {PLAN_FILTER_AND, PLAN_JOIN1, PLAN_DERIVE};

/* The lean plan's steps in straight lines when its kinds are a shape
 * that has them (see lean_kpi); tables as lean_steps'. */
static void lean_shape(sf_pipeline *p, int tables)
{
    static const struct {
        const int *kinds;
        size_t n;
        int (*fn[2])(sf_pipeline *, sf_value *, uint32_t *);
    } shapes[] = {
        {kpi_kinds, sizeof kpi_kinds / sizeof kpi_kinds[0], {run_lean_kpi, run_lean_kpi_tables}},
        {selective_kinds, sizeof selective_kinds / sizeof selective_kinds[0],
         {run_lean_selective, run_lean_selective_tables}},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t i = 0;
        while (i < shapes[s].n && i < p->job->nsteps && p->plan[i].kind == shapes[s].kinds[i])
            i++;
        if (i == shapes[s].n && i == p->job->nsteps) {
            p->steps_lean = shapes[s].fn[tables];
            return;
        }
    }
}

/* The filter's answer over a row whose slot holds v (a PLAN_FILTER_LEAF
 * reads no other): 1 or 0, -1 when its inline test cannot tell. */
static int leaf_answer(const sf_expr_leaf *l, sf_value v)
{
    sf_value row[1] = {v};
    sf_expr_leaf l1 = *l;
    l1.slot = 0;
    return sf_expr_leaf_true(&l1, row);
}

/* Sets f's fused answers (see step_plan) when d, the step before it, is a
 * derive of SF_DERIVE_IF form into the slot f's leaf tests. */
static void fuse_filter(const step_plan *d, step_plan *f)
{
    if (d->kind != PLAN_DERIVE || d->dform.kind != SF_DERIVE_IF || f->kind != PLAN_FILTER_LEAF ||
        f->leaf.slot != d->slot)
        return;
    int t = d->dform.bslot >= 0 ? -1 : leaf_answer(&f->leaf, d->dform.kb);
    int e = d->dform.cslot >= 0 ? -1 : leaf_answer(&f->leaf, d->dform.kc);
    if (t < 0 && e < 0)
        return;
    f->fused = 1;
    f->then_true = (signed char)t;
    f->else_true = (signed char)e;
}

/* p->plan from the job's steps, after setup_ids (the joins' id slots).
 * Returns 0 or SF_E_NOMEM. */
static int setup_plan(sf_pipeline *p)
{
    const sf_job *job = p->job;
    p->plan = calloc(job->nsteps ? job->nsteps : 1, sizeof *p->plan);
    if (!p->plan)
        return SF_E_NOMEM;
    for (size_t i = 0; i < job->nsteps; i++) {
        const sf_job_step *st = &job->steps[i];
        step_plan *pl = &p->plan[i];
        pl->kind = PLAN_OTHER;
        pl->expr = st->expr;
        sf_expr_leaf_of(st->kind == SF_STEP_FILTER ? st->expr : NULL, &pl->leaf);
        if (st->kind == SF_STEP_DERIVE) {
            pl->kind = PLAN_DERIVE;
            pl->slot = st->slot;
            sf_expr_derive_of(st->expr, &pl->dform);
        } else if (st->kind == SF_STEP_FILTER) {
            pl->kind = pl->leaf.kind != SF_LEAF_NONE ? PLAN_FILTER_LEAF : PLAN_FILTER;
            if (pl->kind == PLAN_FILTER && sf_expr_leaf_and(st->expr, &pl->leaf, &pl->leaf2))
                pl->kind = PLAN_FILTER_AND;
        } else if (st->kind == SF_STEP_JOIN) {
            pl->kind = st->to_unknown ? PLAN_OTHER : st->nselect == 1 ? PLAN_JOIN1 : PLAN_JOIN;
            pl->slot = st->on_slot;
            pl->sel_slot = st->nselect ? st->select_slots[0] : 0;
            pl->sel_col = st->nselect ? st->select_cols[0] : 0;
            pl->input = st->input;
            pl->inner = st->inner != 0;
            pl->key_id = p->id_ok[st->on_slot];
            pl->sel_id = st->nselect ? p->id_ok[st->select_slots[0]] : 0;
            pl->kid_slot = pl->key_id ? pl->slot : (int)job->nslots;
            pl->cid_slot = pl->sel_id ? pl->sel_slot : (int)job->nslots;
            /* NULL (no string keys, a large table, no memory): the table. */
            if (pl->kind == PLAN_JOIN1)
                pl->cells = sf_join_cells_new(p->dims[st->input], (size_t)pl->sel_col);
        }
    }
    for (size_t i = 1; i < job->nsteps; i++)
        fuse_filter(&p->plan[i - 1], &p->plan[i]);
    int lean = 1;
    for (size_t i = 0; lean && i < job->nsteps; i++) {
        int k = p->plan[i].kind;
        if ((k == PLAN_JOIN1 && !p->plan[i].cells) || k == PLAN_JOIN)
            lean = 2;
        else if (k != PLAN_DERIVE && k != PLAN_FILTER_LEAF && k != PLAN_FILTER_AND &&
                 k != PLAN_FILTER && k != PLAN_JOIN1)
            lean = 0;
    }
    p->steps_lean = lean == 1 ? run_steps_lean : lean == 2 ? run_steps_lean_tables : NULL;
    if (lean)
        lean_shape(p, lean == 2);
    return 0;
}

/* The ring (see RING) for a pipeline whose rows aggregate into output 0
 * here (not split, no flattening, no other output) when a join step's key
 * comes from the line itself (no step before it writes the key's slot)
 * and its table is larger than RING_MIN_TABLE. Returns 0 or SF_E_NOMEM. */
static int setup_ring(sf_pipeline *p)
{
    const sf_job *job = p->job;
    if (p->flat || p->emit || p->dd || p->nout != 1 || p->kinds[0] != SF_OUT_GROUPS ||
        !job->nsteps)
        return 0;
    size_t ns = job->nslots ? job->nslots : 1;
    unsigned char *written = calloc(ns, 1);
    p->pf_step = calloc(job->nsteps, 1);
    if (!written || !p->pf_step) {
        free(written);
        return SF_E_NOMEM;
    }
    int any = 0;
    for (size_t i = 0; i < job->nsteps; i++) {
        const sf_job_step *st = &job->steps[i];
        if (st->kind == SF_STEP_DERIVE) {
            written[st->slot] = 1;
        } else if (st->kind == SF_STEP_JOIN) {
            if (!written[st->on_slot] &&
                sf_join_table_memory(p->dims[st->input]) > RING_MIN_TABLE) {
                any = p->pf_step[i] = 1;
                sf_join_cells_free(p->plan[i].cells); /* the ring looks it up */
                p->plan[i].cells = NULL;
            }
            p->npf += p->pf_step[i];
            for (size_t k = 0; k < st->nselect; k++)
                written[st->select_slots[k]] = 1;
            if (st->to_unknown)
                written[st->on_slot] = 1;
        }
    }
    free(written);
    if (!any)
        return 0;
    const sf_job_input *fact = &job->inputs[job->fact];
    p->fact_slots = malloc((fact->ncolumns ? fact->ncolumns : 1) * sizeof *p->fact_slots);
    p->ring_rows = calloc(RING * ns, sizeof *p->ring_rows);
    p->ring_str = malloc(RING_STRS);
    p->ring_dim = calloc(RING * job->nsteps, sizeof *p->ring_dim);
    p->ring_kid = calloc(RING * job->nsteps, sizeof *p->ring_kid);
    p->pf_list = malloc(p->npf * sizeof *p->pf_list);
    if (!p->fact_slots || !p->ring_rows || !p->ring_str || !p->ring_dim || !p->ring_kid ||
        !p->pf_list)
        return SF_E_NOMEM;
    for (size_t i = 0, k = 0; i < job->nsteps; i++) {
        if (p->pf_step[i])
            p->pf_list[k++] = i;
    }
    for (size_t i = 0; i < fact->ncolumns; i++)
        p->fact_slots[p->nfact++] = fact->columns[i].slot;
    p->ring_on = 1;
    return 0;
}

static int self_emit(void *ctx, uint64_t hash, const unsigned char *rec, size_t len)
{
    (void)hash;
    return sf_pipeline_push_row(ctx, rec, len);
}

sf_pipeline *sf_pipeline_new(const sf_job *job, sf_join_table *const *dims,
                             sf_decoder_kind decoder, sf_error *err)
{
    sf_pipeline *p = calloc(1, sizeof *p);
    const sf_job_input *fact = &job->inputs[job->fact];
    sf_decode_field *fields = calloc(fact->ncolumns, sizeof *fields);
    if (!p || !fields)
        goto nomem;
    p->job = job;
    p->dims = dims;
    p->last_reason = -1;
    p->row = calloc(job->nslots ? job->nslots : 1, sizeof *p->row);
    p->req = calloc(fact->ncolumns ? fact->ncolumns : 1, sizeof *p->req);
    if (!p->row || !p->req)
        goto nomem;
    for (size_t i = 0; i < fact->ncolumns; i++) {
        if (fact->columns[i].required)
            p->req[p->nreq++] = (int)i;
    }
    for (size_t i = 0; i < fact->ncolumns; i++) {
        fields[i].path = fact->columns[i].name;
        fields[i].type = fact->columns[i].type;
        fields[i].slot = fact->columns[i].slot;
        fields[i].dec = fact->columns[i].dec;
    }
    p->groups = sf_job_new_groups(job);
    if (!p->groups || setup_ids(p) != 0 || setup_plan(p) != 0)
        goto nomem;
    /* Row outputs take the rows themselves; dimension outputs and stages
     * take nothing from the scan (their combiners stay empty). */
    p->nout = job->noutputs ? job->noutputs : 1;
    p->rowsets = calloc(p->nout, sizeof *p->rowsets);
    sf_output_kind *kinds = calloc(p->nout, sizeof *kinds);
    if (!p->rowsets || !kinds) {
        free(kinds);
        goto nomem;
    }
    for (size_t k = 0; k < p->nout; k++) {
        const sf_job *o = job->noutputs ? &job->outputs[k] : job;
        kinds[k] = o->kind;
        p->rows_out |= o->kind == SF_OUT_ROWS;
        sf_rows_init(&p->rowsets[k], o->kind == SF_OUT_ROWS ? o->nresult : 0);
    }
    p->kinds = kinds;
    p->sinks = calloc(p->nout, sizeof *p->sinks);
    p->sink_ctx = calloc(p->nout, sizeof *p->sink_ctx);
    if (!p->sinks || !p->sink_ctx)
        goto nomem;
    p->row_keep = calloc(p->nout, sizeof *p->row_keep);
    for (size_t k = 0; p->row_keep && k < p->nout; k++) {
        const sf_job *o = job->noutputs ? &job->outputs[k] : job;
        if (kinds[k] == SF_OUT_ROWS && !(p->row_keep[k] = row_keep_mask(o)))
            goto nomem;
    }
    if (!p->row_keep)
        goto nomem;
    /* One scan feeds every output: a combiner per further output. */
    if (job->noutputs > 1) {
        p->more = calloc(job->noutputs - 1, sizeof *p->more);
        if (!p->more)
            goto nomem;
        for (size_t k = 1; k < job->noutputs; k++, p->nmore++) {
            if (!(p->more[k - 1] = sf_job_new_groups(&job->outputs[k])))
                goto nomem;
        }
    }
    if (fact->flatten) {
        /* Only the job's columns are kept; column i is fact column i. */
        sf_flatten_opts o = fact->flatten_opts;
        o.known_only = 1;
        int rc = sf_flatten_new(&o, &p->flat, err);
        for (size_t i = 0; !rc && i < fact->ncolumns; i++) {
            sf_flatten_column c = {fact->columns[i].name, strlen(fact->columns[i].name),
                                   SF_NULL, 0, 0, (uint32_t)i, 0};
            rc = sf_flatten_column_add(p->flat, &c, NULL);
        }
        if (rc == SF_E_NOMEM)
            goto nomem;
        if (rc) {
            free(fields);
            sf_pipeline_free(p);
            return NULL;
        }
    } else {
        p->dec = sf_decoder_new(decoder, fields, fact->ncolumns);
        if (!p->dec)
            goto nomem;
    }
    sf_arena_init(&p->scratch, 16 * 1024);
    free(fields);
    p->kc_direct = job->ngroup <= 3 && !p->rows_out && !p->nmore;
    if (job->dedupe_step < 0 && setup_ring(p) != 0) {
        fields = NULL;
        goto nomem;
    }
    if (job->dedupe_step >= 0) {
        /* One process: rows go from the dedupe step to this pipeline's own
         * table; a driver that ships them re-splits with its emit. */
        const sf_job_step *st = &job->steps[job->dedupe_step];
        p->dd = sf_dedupe_new();
        if (!p->dd || sf_pipeline_split(p, (size_t)job->dedupe_step, st->dedupe_slots,
                                        st->ndedupe, self_emit, p) != 0) {
            fields = NULL;
            goto nomem;
        }
    }
    return p;
nomem:
    free(fields);
    sf_pipeline_free(p);
    sf_error_set(err, SF_E_NOMEM, "out of memory setting up the pipeline");
    return NULL;
}

sf_groups *sf_job_new_groups(const sf_job *job)
{
    sf_agg_def *defs = calloc(job->naggs ? job->naggs : 1, sizeof *defs);
    if (!defs)
        return NULL;
    for (size_t j = 0; j < job->naggs; j++) {
        defs[j].kind = job->aggs[j].kind;
        defs[j].arg = job->aggs[j].arg;
        defs[j].arg_type = job->aggs[j].arg ? sf_expr_type(job->aggs[j].arg) : SF_NULL;
        defs[j].out_type = job->aggs[j].type;
        defs[j].out_dec = job->aggs[j].dec;
        if (job->aggs[j].arg)
            defs[j].arg_dec = sf_expr_decimal(job->aggs[j].arg);
    }
    sf_groups *g = sf_groups_new(defs, job->naggs);
    free(defs);
    return g;
}

void sf_pipeline_free(sf_pipeline *p)
{
    if (!p)
        return;
    sf_decoder_free(p->dec);
    sf_flatten_free(p->flat);
    sf_groups_free(p->groups);
    for (size_t k = 0; k < p->nmore; k++)
        sf_groups_free(p->more[k]);
    free(p->more);
    sf_arena_free(&p->scratch);
    sf_buf_free(&p->key);
    free(p->row);
    free(p->req);
    free(p->route);
    free(p->ship);
    sf_buf_free(&p->rec);
    free(p->row_b);
    if (p->row_b || p->emit)
        sf_arena_free(&p->scratch_b);
    sf_buf_free(&p->key_b);
    agg_batch_release(p);
    sf_arena_free(&p->bt_scratch);
    sf_dedupe_free(p->dd);
    free(p->aside_args);
    free(p->ids);
    free(p->id_ok);
    for (size_t i = 0; i < p->kc_nintern; i++)
        sf_hmap_free(p->kc_dict[i]);
    free(p->kc_dict);
    free(p->kc_short);
    free(p->kc_islot);
    free(p->kc_copy);
    free(p->kc_ids);
    free(p->ring_rows);
    free(p->ring_str);
    free(p->ring_dim);
    free(p->ring_kid);
    free(p->pf_step);
    free(p->pf_list);
    free(p->fact_slots);
    for (size_t i = 0; p->plan && i < p->job->nsteps; i++)
        sf_join_cells_free(p->plan[i].cells);
    free(p->plan);
    sf_keycache_free(p->kc);
    for (size_t k = 0; p->rowsets && k < p->nout; k++)
        sf_rows_free(&p->rowsets[k]);
    for (size_t k = 0; p->row_keep && k < p->nout; k++)
        free(p->row_keep[k]);
    free(p->row_keep);
    free(p->sinks);
    free(p->sink_ctx);
    free(p->rowsets);
    free((void *)p->kinds);
    free(p);
}

static int sample_before(const sf_reject_sample *a, const sf_reject_sample *b)
{
    return a->file != b->file ? a->file < b->file : a->offset < b->offset;
}

void sf_samples_insert(sf_reject_sample *samples, size_t *n, const sf_reject_sample *s)
{
    size_t pos = *n;
    while (pos > 0 && sample_before(s, &samples[pos - 1]))
        pos--;
    if (pos >= SF_MAX_SAMPLES)
        return;
    size_t keep = *n < SF_MAX_SAMPLES ? *n : SF_MAX_SAMPLES - 1;
    memmove(&samples[pos + 1], &samples[pos], (keep - pos) * sizeof *samples);
    samples[pos] = *s;
    if (*n < SF_MAX_SAMPLES)
        (*n)++;
}

static void reject(sf_pipeline *p, int file, uint64_t offset, sf_reject_reason reason,
                   const char *msg)
{
    p->counts.rows_rejected++;
    p->counts.rejected_by_reason[reason]++;
    p->last_reason = (int)reason;
    snprintf(p->last_msg, sizeof p->last_msg, "%s", msg);
    if (p->nsamples == SF_MAX_SAMPLES) {
        const sf_reject_sample *last = &p->samples[SF_MAX_SAMPLES - 1];
        if (file > last->file || (file == last->file && offset > last->offset))
            return;
    }
    sf_reject_sample s;
    s.file = file;
    s.reason = (int32_t)reason;
    s.offset = offset;
    snprintf(s.msg, sizeof s.msg, "%s", msg);
    sf_samples_insert(p->samples, &p->nsamples, &s);
}

void sf_pipeline_reject(sf_pipeline *p, int file, uint64_t offset, sf_reject_reason reason,
                        const char *msg)
{
    p->counts.lines_read++;
    reject(p, file, offset, reason, msg);
}

int sf_pipeline_last_reject(const sf_pipeline *p, const char **msg)
{
    *msg = p->last_msg;
    return p->last_reason;
}

void sf_pipeline_add_bytes(sf_pipeline *p, uint64_t n) { p->counts.bytes_scanned += n; }

/* The ids of the slots join step st filled from dimension row dim (NULL:
 * no match): the key's (the on column now equals it; key_id, as
 * sf_join_table_lookup gave it) and the selected columns'. */
static void join_ids(const sf_pipeline *p, const sf_job_step *st, const sf_value *dim,
                     uint32_t key_id, uint32_t *ids)
{
    if (p->id_ok[st->on_slot])
        ids[st->on_slot] = key_id;
    for (size_t k = 0; k < st->nselect; k++) {
        int s = st->select_slots[k];
        if (p->id_ok[s])
            ids[s] = dim ? sf_join_value_id(&dim[st->select_cols[k]]) : 0;
    }
}

/* The dimension row of plan step i's key in row (NULL: none), its key id
 * in *key_id: from pre_dim and pre_kid when the ring looked it up (as
 * run_steps says). */
static inline const sf_value *plan_lookup(const sf_pipeline *p, const step_plan *pl, size_t i,
                                          const sf_value *row, const sf_value *const *pre_dim,
                                          const uint32_t *pre_kid, uint32_t *key_id)
{
    if (pre_dim && p->pf_step[i]) {
        *key_id = pre_kid[i];
        return pre_dim[i];
    }
    const sf_value *key = &row[pl->slot];
    return key->type == SF_NULL ? NULL : sf_join_table_lookup(p->dims[pl->input], key, key_id);
}

/* Counts a row a filter stopped; returns 0. */
static int filtered(sf_pipeline *p)
{
    p->counts.rows_filtered++;
    return 0;
}

/* Counts a row an inner join to dimension input dropped; returns 0 (the
 * row stops). */
static int drop_by_join(sf_pipeline *p, int input)
{
    p->counts.rows_dropped_by_join++;
    p->counts.dropped_by_join[input]++;
    return 0;
}

/* A PLAN_DERIVE step over row: its inline form when it has one (the KPI
 * revenue's if(), to_date of seconds), else the compiled expression's
 * call. Returns 1 when an SF_DERIVE_IF form took its then branch, else 0. */
static inline __attribute__((always_inline)) int derive_step(const step_plan *pl, sf_value *row,
                                                             sf_arena *scratch)
{
    if (pl->dform.kind == SF_DERIVE_IF)
        return sf_expr_derive_if(&pl->dform, row, &row[pl->slot]);
    if (pl->dform.kind == SF_DERIVE_DAY_SECS)
        sf_expr_derive_day(&pl->dform, row, &row[pl->slot]);
    else
        sf_expr_eval_to(pl->expr, row, scratch, &row[pl->slot]);
    return 0;
}

/* A PLAN_FILTER_LEAF step over row: 1 if the row goes on, 0 if it stops
 * (counted). */
static inline __attribute__((always_inline)) int filter_leaf(sf_pipeline *p, const step_plan *pl,
                                                             const sf_value *row, sf_arena *scratch)
{
    int t = sf_expr_leaf_true(&pl->leaf, row);
    if (t < 0)
        t = sf_expr_test(pl->expr, row, scratch);
    return t ? 1 : filtered(p);
}

/* A PLAN_FILTER_AND step: true when both tests are, the first false ends
 * it. As filter_leaf. */
static inline __attribute__((always_inline)) int filter_and(sf_pipeline *p, const step_plan *pl,
                                                            const sf_value *row, sf_arena *scratch)
{
    int t = sf_expr_leaf_true(&pl->leaf, row);
    if (t > 0)
        t = sf_expr_leaf_true(&pl->leaf2, row);
    if (t < 0)
        t = sf_expr_test(pl->expr, row, scratch);
    return t ? 1 : filtered(p);
}

/* A PLAN_JOIN1 step with its cells: the key, its id and the cell from
 * one line; ids (when not NULL) get the key's and the cell's. 1 if the row
 * goes on, 0 if an inner join drops it (counted). */
static inline __attribute__((always_inline)) int join1_cells(sf_pipeline *p, const step_plan *pl,
                                                             sf_value *row, uint32_t *ids)
{
    uint32_t key_id = 0, cell_id = 0;
    /* a NULL key takes the lookup's other path, which finds no row */
    if (!sf_join_cells_lookup(pl->cells, &row[pl->slot], &row[pl->sel_slot], &key_id, &cell_id)) {
        if (pl->inner)
            return drop_by_join(p, pl->input);
        row[pl->sel_slot] = sf_null();
    }
    if (ids) {
        ids[pl->kid_slot] = key_id;
        ids[pl->cid_slot] = cell_id;
    }
    return 1;
}

/* A PLAN_JOIN1 step without cells once its dimension row dim (NULL: none)
 * and key id are known: the selected cell into row, the ids (when not
 * NULL). 1 if the row goes on, 0 if an inner join drops it (counted). */
static inline __attribute__((always_inline)) int join1_row(sf_pipeline *p, const step_plan *pl,
                                                           sf_value *row, uint32_t *ids,
                                                           const sf_value *dim, uint32_t key_id)
{
    if (!dim && pl->inner)
        return drop_by_join(p, pl->input);
    const sf_value *sel = dim ? &dim[pl->sel_col] : NULL;
    row[pl->sel_slot] = sel ? *sel : sf_null();
    if (ids) {
        if (pl->key_id)
            ids[pl->slot] = key_id;
        if (pl->sel_id)
            ids[pl->sel_slot] = sel ? sf_join_value_id(sel) : 0;
    }
    return 1;
}

/* A PLAN_JOIN step (plan step i, several columns) once its dimension row
 * dim (NULL: none) and key id are known: the selected cells into row, the
 * ids (when not NULL). 1 if the row goes on, 0 if an inner join drops it
 * (counted). */
static inline __attribute__((always_inline)) int joinn_row(sf_pipeline *p, const step_plan *pl,
                                                           size_t i, sf_value *row,
                                                           uint32_t *ids, const sf_value *dim,
                                                           uint32_t key_id)
{
    if (!dim && pl->inner)
        return drop_by_join(p, pl->input);
    const sf_job_step *st = &p->job->steps[i];
    for (size_t k = 0; k < st->nselect; k++)
        row[st->select_slots[k]] = dim ? dim[st->select_cols[k]] : sf_null();
    if (ids)
        join_ids(p, st, dim, key_id, ids);
    return 1;
}

/* One step of a lean plan (kind is pl->kind; a constant where the caller
 * knows the plan's shape, so that the switch goes). tables: some join
 * has no cells (a table of int keys or over 8,192 rows; S2's), a constant
 * in each caller, so that S1's code (all through cells) holds no register
 * for the table's lookup. 1 if the row goes on, 0 if it stops (counted). */
static inline __attribute__((always_inline)) int lean_step(sf_pipeline *p, const step_plan *pl,
                                                           int kind, sf_value *row,
                                                           uint32_t *ids, int tables, int *then)
{
    sf_arena *scratch = &p->scratch;
    switch (kind) {
    case PLAN_DERIVE:
        *then = derive_step(pl, row, scratch);
        return 1;
    case PLAN_FILTER_LEAF:
        if (pl->fused) { /* the derive just before took a branch */
            int t = *then ? pl->then_true : pl->else_true;
            if (t >= 0)
                return t ? 1 : filtered(p);
        }
        return filter_leaf(p, pl, row, scratch);
    case PLAN_FILTER_AND:
        return filter_and(p, pl, row, scratch);
    case PLAN_FILTER: /* a test without an inline form: its compiled one */
        return sf_expr_test(pl->expr, row, scratch) ? 1 : filtered(p);
    default: { /* PLAN_JOIN1, PLAN_JOIN */
        if (kind == PLAN_JOIN1 && (!tables || pl->cells))
            return join1_cells(p, pl, row, ids);
        uint32_t key_id = 0;
        const sf_value *key = &row[pl->slot];
        const sf_value *dim = key->type == SF_NULL
                                  ? NULL
                                  : sf_join_table_lookup(p->dims[pl->input], key, &key_id);
        if (kind == PLAN_JOIN)
            return joinn_row(p, pl, (size_t)(pl - p->plan), row, ids, dim, key_id);
        return join1_row(p, pl, row, ids, dim, key_id);
    }
    }
}

/* run_steps over all the steps of a lean plan (p->steps_lean: derives,
 * filters, joins without an unknown member), looked up by nobody before (no
 * ring): the few cases and arguments leave the row's values in registers.
 * Returns as run_steps. */
static inline __attribute__((always_inline)) int lean_steps(sf_pipeline *p, sf_value *row,
                                                            uint32_t *ids, int tables)
{
    const step_plan *pl = p->plan, *end = pl + p->job->nsteps;
    int then = 0;
    for (; pl < end; pl++)
        if (!lean_step(p, pl, pl->kind, row, ids, tables, &then))
            return 0;
    return 1;
}

/* The two functions of a lean form: NAME for a plan whose joins all have
 * cells, NAME_tables for one with a table join among them
 * (p->steps_lean). */
#define LEAN_FUNCTIONS(name, form)                                                            \
    static int name(sf_pipeline *p, sf_value *row, uint32_t *ids)                             \
    {                                                                                         \
        return form(p, row, ids, 0);                                                          \
    }                                                                                         \
    static int name##_tables(sf_pipeline *p, sf_value *row, uint32_t *ids)                    \
    {                                                                                         \
        return form(p, row, ids, 1);                                                          \
    }

LEAN_FUNCTIONS(run_steps_lean, lean_steps)

/* The lean plans of the daily KPI (S1, S2: derive, filter, join, join,
 * derive) and of the selective job (S5: filter of an &&, join, derive) in
 * straight lines: lean_step() unrolled over kinds known at compile time,
 * no loop and no switch on the step's kind (~7 instructions a step).
 * lean_shape() picks them by the plan's kinds, from the same arrays
 * (kpi_kinds, selective_kinds). */
static inline __attribute__((always_inline)) int lean_fixed(sf_pipeline *p, sf_value *row,
                                                            uint32_t *ids, int tables,
                                                            const int *kinds, size_t n)
{
    const step_plan *pl = p->plan;
    int then = 0;
#pragma GCC unroll 8
    for (size_t i = 0; i < n; i++)
        if (!lean_step(p, &pl[i], kinds[i], row, ids, tables, &then))
            return 0;
    return 1;
}

static inline __attribute__((always_inline)) int lean_kpi(sf_pipeline *p, sf_value *row,
                                                          uint32_t *ids, int tables)
{
    return lean_fixed(p, row, ids, tables, kpi_kinds, sizeof kpi_kinds / sizeof kpi_kinds[0]);
}

LEAN_FUNCTIONS(run_lean_kpi, lean_kpi)

static inline __attribute__((always_inline)) int lean_selective(sf_pipeline *p, sf_value *row,
                                                                uint32_t *ids, int tables)
{
    return lean_fixed(p, row, ids, tables, selective_kinds,
                      sizeof selective_kinds / sizeof selective_kinds[0]);
}

LEAN_FUNCTIONS(run_lean_selective, lean_selective)

/* Runs steps [from, to) over row; a join also sets the dimension ids of
 * the slots it fills in ids (when not NULL). A join step i with
 * p->pf_step[i] takes its lookup's result from pre_dim[i] and pre_kid[i]
 * when pre_dim is not NULL (the ring looked it up already). Returns 1 if
 * the row goes on, 0 if a filter or an inner join stopped it (counted). */
static int run_steps(sf_pipeline *p, sf_value *row, uint32_t *ids, size_t from, size_t to,
                     sf_arena *scratch, const sf_value *const *pre_dim, const uint32_t *pre_kid)
{
    const sf_job *job = p->job;
    const step_plan *plan = p->plan; /* once: a step's stores into row may alias p */
    for (size_t i = from; i < to; i++) {
        const step_plan *pl = &plan[i];
        switch (pl->kind) {
        case PLAN_DERIVE:
            derive_step(pl, row, scratch);
            continue;
        case PLAN_FILTER:
            if (!sf_expr_test(pl->expr, row, scratch))
                return filtered(p);
            continue;
        case PLAN_FILTER_LEAF:
            if (!filter_leaf(p, pl, row, scratch))
                return 0;
            continue;
        case PLAN_JOIN: {
            uint32_t key_id = 0;
            const sf_value *dim = plan_lookup(p, pl, i, row, pre_dim, pre_kid, &key_id);
            if (!joinn_row(p, pl, i, row, ids, dim, key_id))
                return 0;
            continue;
        }
        case PLAN_JOIN1: {
            uint32_t key_id = 0;
            if (pl->cells) {
                if (!join1_cells(p, pl, row, ids))
                    return 0;
                continue;
            }
            const sf_value *dim = plan_lookup(p, pl, i, row, pre_dim, pre_kid, &key_id);
            if (!join1_row(p, pl, row, ids, dim, key_id))
                return 0;
            continue;
        }
        case PLAN_FILTER_AND:
            if (!filter_and(p, pl, row, scratch))
                return 0;
            continue;
        default:
            break;
        }
        const sf_job_step *st = &job->steps[i];
        switch (st->kind) {
        case SF_STEP_DERIVE:
        case SF_STEP_FILTER:
            break; /* planned above */
        case SF_STEP_JOIN: { /* with the unknown member */
            uint32_t key_id = 0;
            const sf_value *dim = plan_lookup(p, pl, i, row, pre_dim, pre_kid, &key_id);
            if (!dim && st->to_unknown) {
                /* The unknown member: the key says so, the attributes are
                 * its row's when the dimension has one, else NULL. */
                row[st->on_slot] = job->inputs[st->input].unknown;
                dim = sf_join_table_lookup(p->dims[st->input], &row[st->on_slot], &key_id);
                p->counts.rows_to_unknown[st->input]++;
            }
            if (!dim && st->inner)
                return drop_by_join(p, st->input);
            for (size_t k = 0; k < st->nselect; k++)
                row[st->select_slots[k]] = dim ? dim[st->select_cols[k]] : sf_null();
            if (ids)
                join_ids(p, st, dim, key_id, ids);
            break;
        }
        case SF_STEP_DEDUPE: /* the pipeline is split here: never run */
            break;
        }
    }
    return 1;
}

/* Appends the encodings of row's values at slots to key. One bound for the
 * whole key (a string's encoding is its bytes plus at most 11, any other
 * value's at most 18) and one capacity check, not one per value: this runs
 * for every row that reaches a group table. */
static int encode_slots(sf_buf *key, const sf_value *row, const int *slots, size_t n)
{
    size_t need = 0;
    for (size_t i = 0; i < n; i++) {
        const sf_value *v = &row[slots[i]];
        need += v->type == SF_STRING ? 11 + v->u.s.n : 18;
    }
    if (key->cap - key->n < need && sf_buf_reserve(key, need) != 0)
        return SF_E_NOMEM;
    unsigned char *out = key->p + key->n;
    for (size_t i = 0; i < n; i++) {
        const sf_value *v = &row[slots[i]];
        /* The common key values inline, byte for byte as sf_value_encode
         * writes them (a tag, a one-byte LEB128 length and the bytes; a
         * date's 4 little-endian bytes): a group key is encoded per row. */
        if (v->type == SF_STRING && v->u.s.n < 0x80) {
            out[0] = SF_STRING;
            out[1] = (unsigned char)v->u.s.n;
            if (v->u.s.n <= 16)
                sf_bytes_copy16(out + 2, v->u.s.p, v->u.s.n);
            else
                memcpy(out + 2, v->u.s.p, v->u.s.n);
            out += 2 + v->u.s.n;
        } else if (v->type == SF_DATE) {
            uint32_t d = (uint32_t)v->u.date;
            out[0] = SF_DATE;
            out[1] = (unsigned char)d;
            out[2] = (unsigned char)(d >> 8);
            out[3] = (unsigned char)(d >> 16);
            out[4] = (unsigned char)(d >> 24);
            out += 5;
        } else {
            out += sf_value_encode(v, out);
        }
    }
    key->n = (size_t)(out - key->p);
    return 0;
}

/* A group key written a word at a time: acc holds the nb (0-7) bytes made
 * since the last whole word, which went to out + off as one 8-byte store.
 * The bytes are those of encode_slots. */
typedef struct key_words {
    unsigned char *out;
    size_t off;
    uint64_t acc;
    unsigned nb;
} key_words;

static inline uint64_t word_le(const char *p) { return sf_get_le((const unsigned char *)p, 8); }

/* 4 bytes little-endian, one load on a little-endian host. */
static inline uint32_t word32_le(const char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap32(v);
#endif
    return v;
}

/* Appends k (1-8) bytes, x's low ones (x is zero above them). */
static inline void key_words_add(key_words *kw, uint64_t x, unsigned k)
{
    unsigned had = kw->nb;
    kw->acc |= x << (8 * had);
    kw->nb = had + k;
    if (kw->nb >= 8) {
        sf_put_le(kw->out + kw->off, kw->acc, 8);
        kw->off += 8;
        kw->nb -= 8;
        kw->acc = kw->nb ? x >> (8 * (8 - had)) : 0;
    }
}

/* The most one value of encode_key_hashed's kinds adds (a string of 127
 * bytes and its two), and the last word's spill past the key. */
#define KEY_VALUE_MAX (2 + 127 + 8)

/* Sets key to the encoding of row's values at slots (as encode_slots) and
 * *hash to sf_groups_hash of it. The key is written in whole 8-byte words
 * and hashed from those words (the same addresses and widths, which the
 * store buffer forwards) and from the register holding its tail: hashing
 * it from memory right after encode_slots' byte-wise stores waited on the
 * stores at every load. Strings under 128 bytes and dates take this way;
 * a key with any other value is encoded by encode_slots and hashed from
 * memory. Returns 0 or SF_E_NOMEM. */
static int encode_key_hashed(sf_buf *key, const sf_value *row, const int *slots, size_t n,
                             uint64_t *hash)
{
    key->n = 0;
    key_words kw = {key->p, 0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        const sf_value *v = &row[slots[i]];
        if (key->cap - kw.off < KEY_VALUE_MAX + 8) {
            if (sf_buf_reserve(key, kw.off + KEY_VALUE_MAX + 8) != 0)
                return SF_E_NOMEM;
            kw.out = key->p;
        }
        if (v->type == SF_DATE) {
            key_words_add(&kw, SF_DATE | (uint64_t)(uint32_t)v->u.date << 8, 5);
            continue;
        }
        if (v->type != SF_STRING || v->u.s.n >= 0x80)
            goto general;
        size_t m = v->u.s.n;
        const char *s = v->u.s.p;
        key_words_add(&kw, SF_STRING | (uint64_t)m << 8, 2);
        size_t j = 0;
        for (; j + 8 <= m; j += 8)
            key_words_add(&kw, word_le(s + j), 8);
        size_t rem = m - j;
        if (!rem)
            continue;
        /* The tail as a little-endian word, zero above, from loads inside
         * the string (as sf_hash_bytes reads a key's tail). */
        uint64_t t;
        if (m >= 8)
            t = word_le(s + m - 8) >> (8 * (8 - rem));
        else if (rem >= 4)
            t = (uint64_t)word32_le(s) | (uint64_t)word32_le(s + m - 4) << (8 * (rem - 4));
        else
            t = (uint64_t)(unsigned char)s[0] | (uint64_t)(unsigned char)s[rem / 2] << (8 * (rem / 2)) |
                (uint64_t)(unsigned char)s[m - 1] << (8 * (rem - 1));
        key_words_add(&kw, t, (unsigned)rem);
    }
    size_t len = kw.off + kw.nb;
    if (kw.nb)
        sf_put_le(kw.out + kw.off, kw.acc, 8); /* up to 7 bytes past the key */
    uint64_t h = sf_hash_start(len, SF_KEY_HASH_SEED);
    for (size_t o = 0; o < kw.off; o += 8)
        h = sf_hash_word(h, sf_get_le(kw.out + o, 8));
    key->n = len;
    *hash = sf_hash_finish(h, len, kw.acc);
    return 0;
general:
    key->n = 0;
    if (encode_slots(key, row, slots, n) != 0)
        return SF_E_NOMEM;
    *hash = sf_groups_hash(key->p, key->n);
    return 0;
}

double sf_aside_new_share(uint64_t n, uint64_t d, uint64_t ahead)
{
    if (ahead == 0)
        return 0;
    if (n == 0 || d >= n)
        return 1;
    /* x = n / K solves (1 - e^-x) / x = d / n, which falls from 1 (x -> 0)
     * to 0: bisection. d <= n / 50 is x > 50, all keys seen. */
    double want = (double)d / (double)n, lo = 0, hi = 50;
    if (d == 0 || want <= (1 - exp(-hi)) / hi)
        return 0;
    for (int it = 0; it < 100; it++) {
        double x = (lo + hi) / 2;
        if (x <= 0 || (-expm1(-x)) / x > want)
            lo = x;
        else
            hi = x;
    }
    double x = (lo + hi) / 2, k = (double)n / x;
    return k * exp(-x) * -expm1(-(double)ahead / k) / (double)ahead;
}

double sf_aside_rate_share(uint64_t m, uint64_t n, double rate, uint64_t ahead)
{
    if (ahead == 0 || rate <= 0)
        return 0;
    if (rate >= 1 || n <= m)
        return rate >= 1 ? 1 : rate;
    /* K (e^(-m/K) - e^(-n/K)) / (n - m), the mean rate over the rows
     * (m, n], rises with K from 0 to 1: bisection over log K. */
    double lo = log(1e-3 * (double)(n - m)), hi = log(1e6 * (double)n + 1), k = 0;
    for (int it = 0; it < 200; it++) {
        k = exp((lo + hi) / 2);
        double mean = k * (exp(-(double)m / k) - exp(-(double)n / k)) / (double)(n - m);
        if (mean < rate)
            lo = (lo + hi) / 2;
        else
            hi = (lo + hi) / 2;
    }
    return k * exp(-(double)n / k) * -expm1(-(double)ahead / k) / (double)ahead;
}

/* Counts a row of the sample (new_group: it made a group) and, at the end
 * of the sample, decides: the combiner steps aside when more than
 * SF_ASIDE_AHEAD_PCT of the rows to come are expected to make a new group
 * (SF_ASIDE_RATIO_PCT of the sampled rows, when how many rows come is not
 * known), as
 * combining then costs a table insert and an export per row and saves
 * little. */
/* On stepping aside with the rows ahead known: the table will take about
 * as many rows as this rank reads (it ships the others' share of its
 * rows and receives its share of theirs), so it is sized once for the
 * groups it holds and the expected new ones among them, instead of
 * growing through a dozen indexes, each allocated, zeroed and refilled
 * at random (S3 1M/10M: ~4M groups a rank). Under a memory budget, for
 * at most half the groups that fit it at the table's bytes per group so
 * far, so that the reserve does not bring its spill closer. Only a
 * saving: when memory is short the table grows as before. */
static void aside_reserve_groups(sf_pipeline *p)
{
    const sf_aside_stats *a = &p->aside_st;
    size_t have = sf_groups_count(p->groups);
    double want = (double)have + a->ahead_new_share * (double)a->rows_ahead;
    double cap = (double)(UINT32_MAX / 2);
    if (p->aside_ops.room && have) {
        double per = (double)sf_groups_memory(p->groups) / (double)have;
        if ((double)p->aside_ops.room / (2 * per) < cap)
            cap = (double)p->aside_ops.room / (2 * per);
    }
    if (want > cap)
        want = cap;
    if (want >= 1 && (size_t)want > have)
        (void)sf_groups_reserve(p->groups, (size_t)want);
}

static void aside_sample(sf_pipeline *p, int new_group)
{
    sf_aside_stats *a = &p->aside_st;
    a->sample_rows++;
    a->sample_groups += (uint64_t)new_group;
    if (a->sample_rows < SF_ASIDE_SAMPLE)
        return;
    double ahead = p->aside_ops.ahead ? p->aside_ops.ahead(p->aside_ops.ctx) : -1;
    /* The rows aggregated so far (the sample, and rows the key cache took
     * without sampling; this one is counted after) stand for the input
     * read so far. */
    double rows = ahead >= 0 ? ahead * (double)(p->counts.rows_aggregated + 1) : 0;
    a->rows_ahead = rows >= 1 && rows < 1e18 ? (uint64_t)rows : 0;
    if (a->rows_ahead) {
        a->ahead_new_share = sf_aside_new_share(a->sample_rows, a->sample_groups, a->rows_ahead);
        p->aside = a->ahead_new_share * 100 > SF_ASIDE_AHEAD_PCT;
        if (p->aside)
            aside_reserve_groups(p);
    } else {
        p->aside = a->sample_groups * 100 > a->sample_rows * SF_ASIDE_RATIO_PCT;
    }
    a->decision = p->aside ? SF_ASIDE_DECIDED_ASIDE : SF_ASIDE_DECIDED_COMBINE;
    if (!p->aside && a->rows_ahead) {
        p->aside_rows = p->counts.rows_aggregated + 1;
        p->aside_groups = p->own_groups;
        p->aside_next = 2 * p->aside_rows;
    }
}

/* A combining rank's later look, from the data since the last one: the
 * share of its rows that made a new group there is the rate of new
 * groups now, and the keys fitted to every row so far say how it falls
 * over the rows still to come. Steps aside when that expects more than
 * SF_ASIDE_AHEAD_PCT percent of them to make a new group (keys that
 * change over the input: a time-sorted one, a skewed one whose tail comes
 * late); else looks again at twice the rows. Stops looking when the rows
 * ahead are not known. */
static void aside_recheck(sf_pipeline *p)
{
    sf_aside_stats *a = &p->aside_st;
    uint64_t n = p->counts.rows_aggregated, d = p->own_groups;
    double ahead = p->aside_ops.ahead(p->aside_ops.ctx) * (double)n;
    p->aside_next = 0;
    if (!(ahead >= 1 && ahead < 1e18) || n <= p->aside_rows)
        return;
    a->looks++;
    double rate = (double)(d - p->aside_groups) / (double)(n - p->aside_rows);
    double share = sf_aside_rate_share(p->aside_rows, n, rate, (uint64_t)ahead);
    a->ahead_new_share = share;
    a->rows_ahead = (uint64_t)ahead;
    if (share * 100 > SF_ASIDE_AHEAD_PCT) {
        p->aside = 1;
        a->decision = SF_ASIDE_DECIDED_ASIDE;
        aside_reserve_groups(p);
        return;
    }
    p->aside_rows = n;
    p->aside_groups = d;
    p->aside_next = 2 * n;
}

/* A row whose group another rank owns, stepped aside: its record goes
 * straight into the send batch for dest, and the row counts as
 * aggregated here (the owner merges the record, counting nothing). */
static int ship_aside(sf_pipeline *p, int dest, const sf_value *row, const sf_buf *key,
                      sf_arena *scratch)
{
    size_t n = sf_groups_row_args(p->groups, key->n, row, scratch, p->aside_args);
    unsigned char *out = p->aside_ops.reserve(p->aside_ops.ctx, dest, n);
    if (!out)
        return SF_E_NOMEM;
    /* reserve() may have taken in other ranks' records (even reset the
     * combiner under a memory limit): only the aggregates' layout, which
     * does not change, is read from p->groups here. */
    sf_groups_row_write(p->groups, key->p, key->n, p->aside_args, out);
    p->aside_st.rows_shipped++;
    p->counts.rows_aggregated++;
    return 0;
}

/* A row output's copy of row: the slots it reads (keep), strings into the
 * table's arena; the others NULL. */
static int keep_row(sf_rows *t, const sf_value *row, size_t nslots, const unsigned char *keep)
{
    sf_value *dst = sf_rows_append(t);
    if (!dst)
        return SF_E_NOMEM;
    for (size_t c = 0; c < nslots; c++) {
        if (!keep[c])
            continue;
        dst[c] = row[c];
        if (dst[c].type == SF_STRING && sf_rows_keep_string(t, &dst[c]) != 0)
            return SF_E_NOMEM;
    }
    return 0;
}

/* Updates the groups of the rows in the batch, in the order they came:
 * their index slots are prefetched first, then each row's state eight
 * rows ahead and what the state points to four rows ahead, so the batch
 * waits for memory about once instead of once a row. (Eight and a batch
 * of 32, not four and 16, since S4's blocks shrank to 120 bytes: its
 * scan CPU 1-3% lower in four of four pairs, S1 and S3 level.) The table sees the updates one by one as without the batch.
 * Returns 0 or the first update's error (the batch is emptied). */
static int agg_batch_flush(sf_pipeline *p)
{
    enum { AHEAD = 8 };
    size_t n = p->bt_n, ns = p->job->nslots;
    const size_t *ko = p->bt_key_off;
    if (!n)
        return 0;
    p->bt_n = 0;
    p->bt_str_n = 0;
    sf_arena_reset(&p->bt_scratch);
    for (size_t i = 0; i < n; i++)
        sf_groups_prefetch(p->groups, p->bt_hash[i], ko[i + 1] - ko[i], 0);
    for (size_t i = 0; i < n && i < AHEAD; i++)
        sf_groups_prefetch(p->groups, p->bt_hash[i], ko[i + 1] - ko[i], 1);
    size_t before = sf_groups_count(p->groups);
    for (size_t i = 0; i < n; i++) {
        if (i + AHEAD < n)
            sf_groups_prefetch(p->groups, p->bt_hash[i + AHEAD],
                               ko[i + AHEAD + 1] - ko[i + AHEAD], 1);
        /* Two rows ahead the state is in: what it points to (the values
         * of a count_distinct) can be fetched. */
        if (i + AHEAD / 2 < n)
            sf_groups_prefetch(p->groups, p->bt_hash[i + AHEAD / 2],
                               ko[i + AHEAD / 2 + 1] - ko[i + AHEAD / 2], 2);
        int rc = sf_groups_update_ids(p->groups, p->bt_key + ko[i], ko[i + 1] - ko[i],
                                      p->bt_hash[i], p->bt_rows + i * ns,
                                      p->bt_has_ids[i] ? p->bt_ids + i * ns : NULL,
                                      &p->bt_scratch, NULL);
        if (rc)
            return rc;
    }
    p->own_groups += sf_groups_count(p->groups) - before;
    return 0;
}

/* Empties the ring (see RING) and the batch before output 0's groups are
 * read, taken or replaced from outside; an error stays in bt_rc, which
 * the next row returns. Returns bt_rc. */
static int ring_settle(sf_pipeline *p);

static int agg_batch_settle(sf_pipeline *p)
{
    ring_settle(p);
    if (p->bt_n && !p->bt_rc)
        p->bt_rc = agg_batch_flush(p);
    return p->bt_rc;
}

/* Frees the batch's buffers (the scratch arena is the pipeline's to
 * free); the batch is then as before its first row. */
static void agg_batch_release(sf_pipeline *p)
{
    free(p->bt_use);
    free(p->bt_rows);
    free(p->bt_ids);
    free(p->bt_has_ids);
    free(p->bt_key);
    free(p->bt_str);
    p->bt_use = NULL;
    p->bt_rows = NULL;
    p->bt_ids = NULL;
    p->bt_has_ids = NULL;
    p->bt_key = NULL;
    p->bt_str = NULL;
}

/* The batch's buffers, and the slots a batched row keeps. Returns 0 or
 * SF_E_NOMEM (nothing allocated). */
static int agg_batch_alloc(sf_pipeline *p)
{
    const sf_job *job = p->job;
    size_t ns = job->nslots ? job->nslots : 1;
    unsigned char *read = calloc(ns, 1);
    p->bt_use = malloc(ns * sizeof *p->bt_use);
    p->bt_rows = calloc(AGG_BATCH * ns, sizeof *p->bt_rows); /* all NULL */
    p->bt_ids = calloc(AGG_BATCH * ns, sizeof *p->bt_ids);
    p->bt_has_ids = malloc(AGG_BATCH);
    p->bt_key = malloc(AGG_BATCH_KEYS);
    p->bt_str = malloc(AGG_BATCH_STRS);
    if (!read || !p->bt_use || !p->bt_rows || !p->bt_ids || !p->bt_has_ids || !p->bt_key ||
        !p->bt_str) {
        free(read);
        agg_batch_release(p);
        return SF_E_NOMEM;
    }
    for (size_t a = 0; a < job->naggs; a++) {
        if (job->aggs[a].arg)
            sf_expr_visit_columns(job->aggs[a].arg, mark_slot, read);
    }
    p->bt_nuse = 0;
    for (size_t c = 0; c < job->nslots; c++) {
        if (read[c])
            p->bt_use[p->bt_nuse++] = (int)c;
    }
    free(read);
    sf_arena_init(&p->bt_scratch, 16 * 1024);
    p->bt_key_off[0] = 0;
    return 0;
}

/* Takes row (key its encoded group key, hash its hash) into the batch of
 * output 0, copying what it borrows (its strings) so that it outlives the
 * line. Returns 0 when taken (the batch is flushed when full), 1 when the
 * row is too large for the batch (it is then empty: the caller updates the
 * row's group itself), or SF_E_NOMEM. */
static int agg_batch_push(sf_pipeline *p, const sf_value *row, const uint32_t *ids,
                          const sf_buf *key, uint64_t hash)
{
    size_t ns = p->job->nslots;
    if (!p->bt_rows && agg_batch_alloc(p) != 0)
        return SF_E_NOMEM;
    const int *use = p->bt_use;
    size_t nuse = p->bt_nuse, strn = 0;
    for (size_t u = 0; u < nuse; u++)
        strn += row[use[u]].type == SF_STRING ? row[use[u]].u.s.n : 0;
    if (key->n > AGG_BATCH_KEYS - p->bt_key_off[p->bt_n] || strn > AGG_BATCH_STRS - p->bt_str_n) {
        int rc = agg_batch_flush(p);
        if (rc)
            return rc;
        if (key->n > AGG_BATCH_KEYS || strn > AGG_BATCH_STRS)
            return 1;
    }
    size_t i = p->bt_n;
    sf_value *dst = p->bt_rows + i * ns;
    uint32_t *dids = p->bt_ids + i * ns;
    p->bt_has_ids[i] = ids != NULL;
    for (size_t u = 0; u < nuse; u++) {
        int c = use[u];
        dst[c] = row[c];
        if (row[c].type == SF_STRING && row[c].u.s.n) {
            if (row[c].u.s.n <= 16)
                sf_bytes_copy16(p->bt_str + p->bt_str_n, row[c].u.s.p, row[c].u.s.n);
            else
                memcpy(p->bt_str + p->bt_str_n, row[c].u.s.p, row[c].u.s.n);
            dst[c].u.s.p = p->bt_str + p->bt_str_n;
            p->bt_str_n += row[c].u.s.n;
        }
        if (ids)
            dids[c] = ids[c];
    }
    memcpy(p->bt_key + p->bt_key_off[i], key->p, key->n);
    p->bt_key_off[i + 1] = p->bt_key_off[i] + key->n;
    p->bt_hash[i] = hash;
    if (++p->bt_n == AGG_BATCH)
        return agg_batch_flush(p);
    return 0;
}

/* Output 0's group of row through the key cache: 1 when the cache knew
 * its fixed-width key and the group was updated (*rc its result), 0 when
 * the row goes the long way (then *w holds its tuple, *fixed says whether
 * it has one). */
static int aggregate_fixed(sf_pipeline *p, const sf_value *row, const uint32_t *ids,
                           sf_arena *scratch, uint64_t *w, uint64_t *h, int *fixed, int *rc)
{
    const sf_job *job = p->job;
    uint64_t group;
    const uint32_t *kids = kc_key_ids(p, row, ids);
    if (!kids) {
        *fixed = 0;
        return 0;
    }
    int found = sf_keycache_find(p->kc, row, kids, job->group_slots, job->ngroup, w, h, &group);
    *fixed = found >= 0;
    if (p->kc_looked < KEYCACHE_SAMPLE && found >= 0) {
        p->kc_missed += found == 0;
        if (++p->kc_looked == KEYCACHE_SAMPLE && 2 * p->kc_missed > KEYCACHE_SAMPLE) {
            sf_keycache_free(p->kc); /* the row goes the long way, uncached */
            p->kc = NULL;
            *fixed = 0;
            return 0;
        }
    }
    if (found <= 0)
        return 0;
    *rc = sf_groups_update_group(p->groups, (sf_group *)(uintptr_t)group, row, ids, scratch);
    if (p->aside_mode == SF_ASIDE_AUTO && !p->aside_st.decision && !*rc)
        aside_sample(p, 0);
    return 1;
}

static int aggregate(sf_pipeline *p, const sf_value *row, const uint32_t *ids, sf_buf *key,
                     sf_arena *scratch)
{
    const sf_job *job = p->job;
    int rc = p->bt_rc;
    if (p->aside_next && p->counts.rows_aggregated >= p->aside_next)
        aside_recheck(p);
    for (size_t k = 0; p->rows_out && k < p->nout && !rc; k++) {
        if (p->kinds[k] == SF_OUT_ROWS)
            rc = p->sinks[k] ? p->sinks[k](p->sink_ctx[k], k, row)
                             : keep_row(&p->rowsets[k], row, job->nslots, p->row_keep[k]);
    }
    /* Fixed-width keys: not once rows of other ranks' groups step aside
     * (they need the encoded key and its hash), nor without ids. */
    uint64_t w[SF_KEYCACHE_MAX_COLS + 1], wh = 0;
    int fixed = 0;
    if (p->kc && p->aside) {
        sf_keycache_free(p->kc);
        p->kc = NULL;
    }
    if (!rc && p->kc && ids && p->bt_n)
        rc = agg_batch_flush(p); /* the cache's updates come after the batch's */
    if (!rc && p->kc && ids && aggregate_fixed(p, row, ids, scratch, w, &wh, &fixed, &rc))
        goto more;
    if (!rc && p->kinds[0] == SF_OUT_GROUPS) {
        uint64_t hash;
        if (encode_key_hashed(key, row, job->group_slots, job->ngroup, &hash) != 0)
            return SF_E_NOMEM;
        int sampling = p->aside_mode == SF_ASIDE_AUTO && !p->aside_st.decision;
        /* Step-aside is only ever on for a job with one output (run_map.c),
         * so a shipped row has no other output to feed. Shipping does not
         * touch the groups here (records it takes in on the way read them
         * through sf_pipeline_groups, which empties the batch first). */
        if (p->aside) {
            int dest = p->aside_ops.owner(p->aside_ops.ctx, hash);
            if (dest >= 0)
                return ship_aside(p, dest, row, key, scratch);
        }
        /* Rows that only update output 0's groups wait in the batch; the
         * others (the step-aside sample, a key to cache, more outputs) go
         * after the rows before them. */
        if (!sampling && !fixed && !p->nmore) {
            int taken = agg_batch_push(p, row, ids, key, hash);
            if (taken <= 0) {
                if (taken == 0)
                    p->counts.rows_aggregated++;
                return taken;
            }
        } else if (p->bt_n && (rc = agg_batch_flush(p)) != 0) {
            return rc;
        }
        size_t before = sf_groups_count(p->groups);
        sf_group *group = NULL;
        rc = sf_groups_update_ids(p->groups, key->p, key->n, hash, row, ids, scratch, &group);
        p->own_groups += sf_groups_count(p->groups) - before;
        if (sampling && !rc)
            aside_sample(p, sf_groups_count(p->groups) > before);
        if (fixed && !rc && p->kc) {
            int added = sf_keycache_add(p->kc, w, wh, (uint64_t)(uintptr_t)group);
            if (added == SF_E_LIMIT) { /* groups past the caches: the long way only */
                sf_keycache_free(p->kc);
                p->kc = NULL;
            } else if (added) {
                return added;
            }
        }
    }
more:
    for (size_t k = 0; k < p->nmore && !rc; k++) {
        const sf_job *o = &job->outputs[k + 1];
        if (o->kind != SF_OUT_GROUPS)
            continue;
        key->n = 0;
        if (encode_slots(key, row, o->group_slots, o->ngroup) != 0)
            return SF_E_NOMEM;
        rc = sf_groups_update_ids(p->more[k], key->p, key->n, sf_groups_hash(key->p, key->n),
                                  row, ids, scratch, NULL);
    }
    if (rc)
        return rc;
    p->counts.rows_aggregated++;
    return 0;
}

/* The counts a row after its line's first moves. Such a row runs through
 * the same code as any (which counts it as a line); recount() then moves
 * what it counted to the exploded_* counts, so the line counts stay lines
 * and the hot path of unflattened inputs is untouched. */
typedef struct fate {
    uint64_t filtered, dropped, aggregated;
    uint64_t by_input[SF_MAX_INPUTS];
} fate;

static void fate_save(const sf_pipeline *p, fate *f)
{
    f->filtered = p->counts.rows_filtered;
    f->dropped = p->counts.rows_dropped_by_join;
    f->aggregated = p->counts.rows_aggregated;
    memcpy(f->by_input, p->counts.dropped_by_join, sizeof f->by_input);
}

static void recount(sf_pipeline *p, const fate *f)
{
    sf_counts *c = &p->counts;
    c->exploded_filtered += c->rows_filtered - f->filtered;
    c->exploded_dropped_by_join += c->rows_dropped_by_join - f->dropped;
    c->exploded_aggregated += c->rows_aggregated - f->aggregated;
    c->rows_filtered = f->filtered;
    c->rows_dropped_by_join = f->dropped;
    c->rows_aggregated = f->aggregated;
    memcpy(c->dropped_by_join, f->by_input, sizeof f->by_input);
}

static int push_flat(sf_pipeline *p, const char *line, size_t len, int file, uint64_t offset);
static inline __attribute__((always_inline)) int push_decoded(sf_pipeline *p, int file, uint64_t offset);

/* Appends a row's ordinal to the record being shipped: file, chunk, byte
 * offset of its line, row within the line (as four int64 values). */
static int encode_ordinal(sf_pipeline *p, int file, uint64_t offset, size_t r)
{
    sf_value v[4] = {sf_int(file), sf_int((int64_t)p->chunk), sf_int((int64_t)offset),
                     sf_int((int64_t)r)};
    for (int k = 0; k < 4; k++) {
        if (sf_buf_reserve(&p->rec, sf_value_encoded_size(&v[k])) != 0)
            return SF_E_NOMEM;
        p->rec.n += sf_value_encode(&v[k], p->rec.p + p->rec.n);
    }
    return 0;
}

void sf_pipeline_set_chunk(sf_pipeline *p, uint64_t chunk) { p->chunk = chunk; }

int sf_pipeline_push(sf_pipeline *p, const char *line, size_t len, int file, uint64_t offset)
{
    sf_value *row = p->row;
    p->counts.lines_read++;
    if (len == 0) {
        p->counts.blank_lines++;
        return 0;
    }
    if (p->flat)
        return push_flat(p, line, len, file, offset);
    char msg[240];
    int rc = sf_decoder_decode(p->dec, line, len, row, msg, sizeof msg);
    if (rc < 0)
        return rc;
    if (rc > 0) {
        reject(p, file, offset, (sf_reject_reason)(rc - 1), msg);
        return 0;
    }
    return push_decoded(p, file, offset);
}

/* aggregate() for a row whose group the key cache's direct array (keys of
 * up to three columns) finds once its verdict is in (the daily KPI's rows after the first 4096), with
 * no row output, other output, batch or step-aside in the way: the update
 * alone, without aggregate's frame. Returns 1 with *rc set when it took
 * the row, 0 when aggregate() must. */
static inline int aggregate_direct(sf_pipeline *p, const sf_value *row, const uint32_t *ids,
                                   sf_arena *scratch, int *rc)
{
    const sf_job *job = p->job;
    uint64_t group;
    if (!p->kc || p->kc_looked < KEYCACHE_SAMPLE || !p->kc_direct || !ids || p->aside || p->bt_n ||
        p->bt_rc ||
        (p->aside_next && p->counts.rows_aggregated >= p->aside_next))
        return 0;
    const uint32_t *kids = kc_key_ids(p, row, ids);
    if (!kids || !sf_keycache_find_direct(p->kc, row, kids, job->group_slots, job->ngroup, &group))
        return 0;
    *rc = sf_groups_update_group(p->groups, (sf_group *)(uintptr_t)group, row, ids, scratch);
    if (p->aside_mode == SF_ASIDE_AUTO && !p->aside_st.decision && !*rc)
        aside_sample(p, 0);
    if (!*rc)
        p->counts.rows_aggregated++;
    return 1;
}

/* Steps and aggregation of a row of an unsplit pipeline (pre_dim,
 * pre_kid: as for run_steps). Returns 0 or an error. */
static inline int run_row(sf_pipeline *p, sf_value *row, const sf_value *const *pre_dim,
                   const uint32_t *pre_kid)
{
    uint32_t *ids = p->ids_on ? p->ids : NULL;
    if (p->scratch.used) /* the arena only allocates: unused, it is as reset */
        sf_arena_reset(&p->scratch);
    if (!(p->steps_lean && !pre_dim
              ? p->steps_lean(p, row, ids)
              : run_steps(p, row, ids, 0, p->job->nsteps, &p->scratch, pre_dim, pre_kid)))
        return 0;
    int rc;
    if (aggregate_direct(p, row, ids, &p->scratch, &rc))
        return rc;
    return aggregate(p, row, ids, &p->key, &p->scratch);
}

/* Runs the rows in the ring, in the order they came: first the lookups of
 * the joins whose index slots ring_push prefetched (by now in the caches),
 * each starting to load the cells it selects, then each row's steps and
 * aggregation, which find those lookups done. Returns 0 or the first
 * error (the ring is emptied either way). A no-op while a flush runs. */
static int ring_flush(sf_pipeline *p)
{
    const sf_job *job = p->job;
    size_t n = p->ring_n, ns = job->nslots, nst = job->nsteps;
    if (!n || p->ring_busy)
        return 0;
    p->ring_busy = 1;
    for (size_t r = 0; r < n; r++) {
        const sf_value *row = p->ring_rows + r * ns;
        for (size_t f = 0; f < p->npf; f++) {
            size_t i = p->pf_list[f];
            const sf_job_step *st = &job->steps[i];
            const sf_value *key = &row[st->on_slot];
            uint32_t kid = 0;
            const sf_value *dim =
                key->type == SF_NULL ? NULL : sf_join_table_lookup(p->dims[st->input], key, &kid);
            p->ring_dim[r * nst + i] = dim;
            p->ring_kid[r * nst + i] = kid;
            for (size_t k = 0; dim && k < st->nselect; k++)
                __builtin_prefetch(&dim[st->select_cols[k]], 0, 3);
        }
    }
    int rc = 0;
    for (size_t r = 0; r < n && !rc; r++)
        rc = run_row(p, p->ring_rows + r * ns, p->ring_dim + r * nst, p->ring_kid + r * nst);
    p->ring_n = 0;
    p->ring_str_n = 0;
    p->ring_busy = 0;
    return rc;
}

/* Takes the decoded row into the ring, its strings copied (they borrow
 * from the line), and prefetches the index slots its joins will read; a
 * full ring runs. A row whose strings do not fit even an empty ring runs
 * at once, after the rows before it. Returns 0 or an error. */
static int ring_push(sf_pipeline *p, sf_value *row)
{
    const sf_job *job = p->job;
    size_t ns = job->nslots, strn = p->ring_str_n;
    if (p->bt_rc)
        return p->bt_rc; /* a flush from outside failed */
    /* One pass: a row that finds no room for its strings is taken again
     * into the emptied ring, or runs at once when it is the only one. */
    sf_value *dst = p->ring_rows + p->ring_n * ns;
    for (size_t f = 0; f < p->nfact; f++) {
        int c = p->fact_slots[f];
        dst[c] = row[c];
        if (row[c].type == SF_STRING && row[c].u.s.n) {
            size_t n = row[c].u.s.n;
            if (n > RING_STRS - strn) {
                if (!p->ring_n)
                    return run_row(p, row, NULL, NULL);
                int rc = ring_flush(p);
                return rc ? rc : ring_push(p, row);
            }
            if (n <= 16) /* ids, codes: inline, not a libc call per string */
                sf_bytes_copy16(p->ring_str + strn, row[c].u.s.p, n);
            else
                memcpy(p->ring_str + strn, row[c].u.s.p, n);
            dst[c].u.s.p = p->ring_str + strn;
            strn += n;
        }
    }
    p->ring_str_n = strn;
    for (size_t f = 0; f < p->npf; f++) {
        const sf_job_step *st = &job->steps[p->pf_list[f]];
        sf_join_table_prefetch(p->dims[st->input], &dst[st->on_slot]);
    }
    if (++p->ring_n == RING)
        return ring_flush(p);
    return 0;
}

/* Runs the rows waiting in the ring before anything reads what they
 * change (counts, groups); an error stays in bt_rc, which the next row
 * returns. Returns bt_rc. */
static int ring_settle(sf_pipeline *p)
{
    if (p->ring_n && !p->ring_busy) {
        int rc = ring_flush(p);
        if (rc && !p->bt_rc)
            p->bt_rc = rc;
    }
    return p->bt_rc;
}

/* The rest of a line once its fact slots are in p->row: required columns,
 * the steps, then the combiner or the row's shipping. */
static inline __attribute__((always_inline)) int push_decoded(sf_pipeline *p, int file, uint64_t offset)
{
    const sf_job *job = p->job;
    sf_value *row = p->row;
    char msg[240];
    for (size_t i = 0; i < p->nreq; i++) {
        const sf_job_column *col = &job->inputs[job->fact].columns[p->req[i]];
        if (row[col->slot].type == SF_NULL) {
            snprintf(msg, sizeof msg, "missing required column '%s'", col->name);
            reject(p, file, offset, SF_REJ_MISSING_COLUMN, msg);
            return 0;
        }
    }
    if (p->ring_on)
        return ring_push(p, row);
    if (!p->emit)
        return run_row(p, row, NULL, NULL);
    sf_arena_reset(&p->scratch);
    if (!run_steps(p, row, NULL, 0, p->split, &p->scratch, NULL, NULL))
        return 0;
    /* Hand the row on: the route key picks the destination, the record
     * carries the slots the rest of the pipeline reads. */
    p->key.n = 0;
    if (encode_slots(&p->key, row, p->route, p->nroute) != 0)
        return SF_E_NOMEM;
    uint64_t hash = sf_groups_hash(p->key.p, p->key.n);
    p->rec.n = 0;
    if (encode_slots(&p->rec, row, p->ship, p->nship) != 0 ||
        (p->dedupe_split && encode_ordinal(p, file, offset, 0) != 0))
        return SF_E_NOMEM;
    p->counts.rows_shipped++;
    return p->emit(p->emit_ctx, hash, p->rec.p, p->rec.n);
}

/* *v for the line pushed when rows_rejected was before. */
static void set_verdict(const sf_pipeline *p, uint64_t before, sf_line_verdict *v)
{
    v->rejected = p->counts.rows_rejected != before;
    v->reason = v->rejected ? (sf_reject_reason)p->last_reason : (sf_reject_reason)0;
    v->msg = v->rejected ? p->last_msg : "";
}

int sf_pipeline_push_cells(sf_pipeline *p, const sf_value *cells, int file, uint64_t offset,
                           sf_line_verdict *v)
{
    const sf_job_input *fact = &p->job->inputs[p->job->fact];
    uint64_t before = p->counts.rows_rejected;
    int rc = 0;
    p->counts.lines_read++;
    for (size_t i = 0; i < fact->ncolumns; i++) {
        const sf_job_column *col = &fact->columns[i];
        sf_value *out = &p->row[col->slot];
        const sf_value *c = &cells[i];
        if (c->type == SF_NULL) {
            *out = sf_null();
            continue;
        }
        size_t k = 0;
        while (k < c->u.s.n) { /* strings stay UTF-8, as JSON's do */
            unsigned char b = (unsigned char)c->u.s.p[k];
            size_t step = b < 0x80 ? 1 : sf_utf8_seq((const unsigned char *)c->u.s.p + k,
                                                     c->u.s.n - k);
            if (!step || b == 0) {
                char msg[240];
                snprintf(msg, sizeof msg, "%s: %s at byte %zu of the field", col->name,
                         b ? "invalid UTF-8" : "a NUL byte", k + 1);
                reject(p, file, offset, b ? SF_REJ_INVALID_UTF8 : SF_REJ_INVALID_CSV, msg);
                goto done;
            }
            k += step;
        }
        double d;
        if (col->type == SF_DOUBLE && sf_parse_double(c->u.s.p, c->u.s.n, &d) == SF_E_RANGE) {
            char msg[240];
            size_t n = sf_utf8_cut(c->u.s.p, c->u.s.n, 40);
            snprintf(msg, sizeof msg, "%s: %.*s%s is beyond the range of a double", col->name,
                     (int)n, c->u.s.p, n < c->u.s.n ? "..." : "");
            reject(p, file, offset, SF_REJ_DOUBLE_OVERFLOW, msg);
            goto done;
        }
        /* A decimal is read at the column's own precision and scale (the
         * text's scale would mix scales within a column). */
        sf_i128 dec = 0;
        int bad = col->type == SF_DECIMAL
                      ? sf_dec_parse(c->u.s.p, c->u.s.n, col->dec.prec, col->dec.scale, &dec)
                      : sf_value_text_parse(c->u.s.p, c->u.s.n, col->type, out);
        if (col->type == SF_DECIMAL && !bad)
            *out = sf_decimal(dec, col->dec.scale);
        if (bad) {
            char msg[240], tb[24];
            size_t n = sf_utf8_cut(c->u.s.p, c->u.s.n, 40);
            snprintf(msg, sizeof msg, "%s: expected %s%s, got \"%.*s%s\"%s", col->name,
                     sf_type_format(col->type, col->dec, tb),
                     col->type == SF_DATE ? " (YYYY-MM-DD)" : "", (int)n, c->u.s.p,
                     n < c->u.s.n ? "..." : "",
                     col->type == SF_DECIMAL && bad == SF_E_RANGE ? " (too many digits)" : "");
            reject(p, file, offset, SF_REJ_TYPE_MISMATCH, msg);
            goto done;
        }
    }
    rc = push_decoded(p, file, offset);
done:
    set_verdict(p, before, v);
    return rc;
}

int sf_pipeline_push_line(sf_pipeline *p, const char *line, size_t len, int file,
                          uint64_t offset, sf_line_verdict *v)
{
    uint64_t before = p->counts.rows_rejected;
    int rc = sf_pipeline_push(p, line, len, file, offset);
    set_verdict(p, before, v);
    return rc;
}

/* The part of aggregate_direct's test that no row decides: the key
 * cache's direct array may take a plain pipeline's rows (lean steps, ids
 * on, nothing sampled or batched, the step-aside settled) until the
 * combiner's next look (aside_next). */
static inline int direct_ready(const sf_pipeline *p)
{
    return p->kc && p->kc_looked >= KEYCACHE_SAMPLE && p->kc_direct && p->ids_on &&
           p->steps_lean && !p->aside && !p->bt_n && !p->bt_rc &&
           !(p->aside_mode == SF_ASIDE_AUTO && !p->aside_st.decision) &&
           (!p->aside_next || p->counts.rows_aggregated < p->aside_next);
}

/* Where sf_pipeline_push_window's loop stands. */
typedef struct window_at {
    size_t pos, lines, last, last_len;
    int left;
} window_at;

/* sf_pipeline_push_window's loop for a plain pipeline while direct_ready
 * holds (checked once, and again after a row the direct array did not
 * find): each line's row through the lean steps and, when kept, into its
 * group through the direct array (its lookup prepared for p->row and
 * p->ids, again after such a row: aggregate() may rebuild the array), as
 * run_row and aggregate_direct would take it, without their checks; the
 * lines, rows and bytes counted in locals and added before anything that
 * may read them (aggregate(), the step-aside's estimate) and at the end. Stops where the loop would, or
 * at the combiner's next look, or once the test fails: the loop goes on
 * from *at. Returns 0 or an error. */
static inline __attribute__((always_inline)) int
window_direct_form(sf_pipeline *p, sf_jsonproj *dec, const sf_line_window *w, size_t max_lines,
                   uint64_t *line_bytes, window_at *at, int intern)
{
    const char *const buf = w->buf;
    const size_t avail = w->avail, owned = w->owned, cap = w->line_cap;
    const sf_job *const job = p->job;
    sf_value *const row = p->row;
    uint32_t *const ids = p->ids;
    int (*const steps)(sf_pipeline *, sf_value *, uint32_t *) = p->steps_lean;
    const int *const slots = job->group_slots;
    const size_t ngroup = job->ngroup;
    sf_keycache_direct kd; /* the lookup laid out for row and ids (kc_ids: see kc_key_ids) */
    const uint32_t *const kids = intern ? p->kc_ids : ids;
    int kd_ok = sf_keycache_direct_prepare(p->kc, row, kids, slots, ngroup, &kd);
    sf_groups *groups = p->groups;
    uint64_t until = p->aside_next ? p->aside_next - p->counts.rows_aggregated : UINT64_MAX;
    size_t pos = at->pos, lines = at->lines, last = at->last, last_len = at->last_len, len;
    uint64_t read = 0, aggregated = 0, bytes = 0;
    int rc = 0;
    while (pos < owned && lines < max_lines && aggregated < until) {
        size_t rest = avail - pos;
        size_t used = sf_jsonproj_decode_window(dec, buf + pos, rest < cap ? rest : cap, row, &len);
        if (used == 0) {
            at->left = 1;
            break;
        }
        read++;
        if (p->scratch.used) /* the arena only allocates: unused, it is as reset */
            sf_arena_reset(&p->scratch);
        int slow = 0;
        if (steps(p, row, ids)) {
            uint64_t group;
            if (kd_ok && (!intern || kc_intern_row(p, row, ids)) &&
                sf_keycache_direct_find(&kd, &group)) {
                rc = sf_groups_update_group(groups, (sf_group *)(uintptr_t)group, row, ids,
                                            &p->scratch);
                aggregated += !rc;
            } else {
                p->counts.lines_read += read;
                p->counts.rows_aggregated += aggregated;
                until -= aggregated;
                *line_bytes += bytes;
                read = aggregated = bytes = 0;
                rc = aggregate(p, row, ids, &p->key, &p->scratch);
                slow = 1;
            }
        }
        last = pos;
        last_len = len;
        pos += used;
        lines++;
        bytes += len + 1;
        if (rc)
            break;
        if (slow) {
            if (!direct_ready(p))
                break;
            kd_ok = sf_keycache_direct_prepare(p->kc, row, kids, slots, ngroup, &kd);
            groups = p->groups;
            until = p->aside_next ? p->aside_next - p->counts.rows_aggregated : UINT64_MAX;
        }
    }
    p->counts.lines_read += read;
    p->counts.rows_aggregated += aggregated;
    *line_bytes += bytes;
    at->pos = pos;
    at->lines = lines;
    at->last = last;
    at->last_len = last_len;
    return rc;
}

/* window_direct_form made twice, so that the loop of a key without
 * strings to intern (the daily KPI's) holds nothing for them. */
static int window_direct(sf_pipeline *p, sf_jsonproj *dec, const sf_line_window *w,
                         size_t max_lines, uint64_t *line_bytes, window_at *at)
{
    return p->kc_nintern ? window_direct_form(p, dec, w, max_lines, line_bytes, at, 1)
                         : window_direct_form(p, dec, w, max_lines, line_bytes, at, 0);
}

int sf_pipeline_push_window(sf_pipeline *p, const sf_line_window *w, int file, size_t max_lines,
                            uint64_t *line_bytes, sf_window_take *t, sf_line_verdict *v)
{
    /* The window in locals: a row's type byte may alias anything, so *w
     * and p would be loaded again after every line. */
    const char *const buf = w->buf;
    const size_t avail = w->avail, owned = w->owned, cap = w->line_cap;
    const uint64_t offset = w->offset;
    sf_jsonproj *const dec = p->flat ? NULL : sf_decoder_fast(p->dec);
    sf_value *const row = p->row;
    /* Plain: no required column, ring or shipping, so nothing rejects a
     * decoded line and push_decoded comes down to run_row. */
    const int plain = !p->nreq && !p->ring_on && !p->emit;
    size_t pos = 0, lines = 0, last = 0, last_len = 0, len;
    uint64_t before = p->counts.rows_rejected;
    int rc = 0;
    t->left = 0;
    if (plain && dec && direct_ready(p)) {
        window_at at = {0, 0, 0, 0, 0};
        rc = window_direct(p, dec, w, max_lines, line_bytes, &at);
        pos = at.pos;
        lines = at.lines;
        last = at.last;
        last_len = at.last_len;
        t->left = at.left;
        if (rc || at.left)
            goto out;
    }
    while (pos < owned && lines < max_lines) {
        size_t rest = avail - pos;
        size_t used = dec ? sf_jsonproj_decode_window(dec, buf + pos, rest < cap ? rest : cap, row,
                                                      &len)
                          : 0;
        if (used == 0) {
            t->left = 1;
            break;
        }
        p->counts.lines_read++;
        rc = plain ? run_row(p, row, NULL, NULL) : push_decoded(p, file, offset + pos);
        last = pos;
        last_len = len;
        pos += used;
        lines++;
        *line_bytes += len + 1;
        if (rc || (!plain && p->counts.rows_rejected != before))
            break;
    }
out:
    t->used = pos;
    t->lines = lines;
    t->last = last;
    t->last_len = last_len;
    set_verdict(p, before, v);
    return rc;
}

/* ---- flattened fact input ---- */

/* The reference's description of a value in a type-mismatch message. */
static void describe(const sf_value *v, char *out, size_t cap)
{
    char b[SF_FMT_BUF];
    switch (v->type) {
    case SF_STRING:
        snprintf(out, cap, "string \"%.*s%s\"", (int)(v->u.s.n > 40 ? 40 : v->u.s.n), v->u.s.p,
                 v->u.s.n > 40 ? "..." : "");
        break;
    case SF_INT: snprintf(out, cap, "int64 %lld", (long long)v->u.i); break;
    case SF_DOUBLE: sf_fmt_double(v->u.d, b); snprintf(out, cap, "double %s", b); break;
    case SF_BOOL: snprintf(out, cap, "bool %s", v->u.b ? "true" : "false"); break;
    default: snprintf(out, cap, "null"); break;
    }
}

/* A flattened value as the type of fact column col, as the decoders
 * convert: int64 to double, an ISO text to a date. Returns 0, or 1 with a
 * type-mismatch message in msg (when msg is not NULL). */
static int convert_cell(const sf_job_column *col, const sf_value *v, sf_value *out, char *msg,
                        size_t cap)
{
    int32_t days;
    if (v->type == SF_NULL || v->type == col->type) {
        *out = *v;
        return 0;
    }
    if (col->type == SF_DOUBLE && v->type == SF_INT) {
        *out = sf_double((double)v->u.i);
        return 0;
    }
    if (col->type == SF_DATE && v->type == SF_STRING &&
        sf_parse_iso_date(v->u.s.p, v->u.s.n, &days) == 0) {
        *out = sf_date(days);
        return 0;
    }
    if (col->type == SF_TIMESTAMP &&
        (v->type == SF_STRING ? sf_parse_iso_timestamp(v->u.s.p, v->u.s.n, &out->u.i) == 0
         : v->type == SF_INT && sf_timestamp_from_unix(v->u.i, SF_US_PER_SEC, &out->u.i) == 0)) {
        out->type = SF_TIMESTAMP;
        return 0;
    }
    /* Flattened reals arrive as doubles: a decimal takes the shortest text
     * of the double, exact for the 15 significant digits a double keeps. */
    if (col->type == SF_DECIMAL && (v->type == SF_INT || v->type == SF_DOUBLE)) {
        sf_i128 x;
        int rc = v->type == SF_INT
                     ? sf_dec_rescale(v->u.i, 0, col->dec.scale, col->dec.prec, &x)
                     : sf_dec_from_double(v->u.d, col->dec.prec, col->dec.scale, &x);
        if (rc == 0) {
            *out = sf_decimal(x, col->dec.scale);
            return 0;
        }
    }
    if (msg) {
        char what[96], tb[24];
        describe(v, what, sizeof what);
        snprintf(msg, cap, "%s: expected %s%s, got %s", col->name,
                 sf_type_format(col->type, col->dec, tb),
                 col->type == SF_DATE ? " (YYYY-MM-DD)"
                 : col->type == SF_TIMESTAMP ? " (ISO-8601 text or unix seconds)" : "", what);
    }
    return 1;
}

/* Fills the fact slots of row from flattened row r (the values were checked). */
static void fill_row(sf_pipeline *p, size_t r, sf_value *row)
{
    const sf_job_input *fact = &p->job->inputs[p->job->fact];
    for (size_t i = 0; i < fact->ncolumns; i++)
        row[fact->columns[i].slot] = sf_null();
    size_t nc;
    const sf_flatten_cell *cells = sf_flatten_row(p->flat, r, &nc);
    for (size_t k = 0; k < nc; k++) {
        const sf_job_column *col = &fact->columns[cells[k].col];
        convert_cell(col, &cells[k].v, &row[col->slot], NULL, 0);
    }
}

static int push_flat(sf_pipeline *p, const char *line, size_t len, int file, uint64_t offset)
{
    const sf_job *job = p->job;
    const sf_job_input *fact = &job->inputs[job->fact];
    char msg[240];
    int rc = sf_flatten_record(p->flat, line, len, offset, msg, sizeof msg);
    if (rc < 0)
        return rc;
    if (rc > 0) {
        reject(p, file, offset, (sf_reject_reason)(rc - 1), msg);
        return 0;
    }
    size_t nrows = sf_flatten_nrows(p->flat);
    /* A line is rejected or taken whole: every value is checked first. */
    for (size_t r = 0; r < nrows; r++) {
        size_t nc;
        const sf_flatten_cell *cells = sf_flatten_row(p->flat, r, &nc);
        for (size_t k = 0; k < nc; k++) {
            sf_value v;
            if (convert_cell(&fact->columns[cells[k].col], &cells[k].v, &v, msg, sizeof msg)) {
                reject(p, file, offset, SF_REJ_TYPE_MISMATCH, msg);
                return 0;
            }
        }
        for (size_t i = 0; i < p->nreq; i++) {
            size_t k = 0;
            while (k < nc && !((int)cells[k].col == p->req[i] && cells[k].v.type != SF_NULL))
                k++;
            if (k == nc) {
                snprintf(msg, sizeof msg, "missing required column '%s'",
                         fact->columns[p->req[i]].name);
                reject(p, file, offset, SF_REJ_MISSING_COLUMN, msg);
                return 0;
            }
        }
    }
    p->counts.rows_exploded += nrows - 1;
    sf_value *row = p->row;
    for (size_t r = 0; r < nrows; r++) {
        fate before;
        if (r > 0)
            fate_save(p, &before);
        fill_row(p, r, row);
        sf_arena_reset(&p->scratch);
        rc = 0;
        if (!p->emit) {
            uint32_t *ids = p->ids_on ? p->ids : NULL;
            if (run_steps(p, row, ids, 0, job->nsteps, &p->scratch, NULL, NULL))
                rc = aggregate(p, row, ids, &p->key, &p->scratch);
            if (r > 0)
                recount(p, &before);
            if (rc)
                return rc;
            continue;
        }
        int on = run_steps(p, row, NULL, 0, p->split, &p->scratch, NULL, NULL);
        /* Recounted before emit(), which may take in rows from other
         * ranks (sf_pipeline_push_row) and count them. */
        if (r > 0)
            recount(p, &before);
        if (!on)
            continue;
        p->key.n = 0;
        p->rec.n = 0;
        sf_value first = sf_bool(r == 0);
        if (encode_slots(&p->key, row, p->route, p->nroute) != 0 ||
            encode_slots(&p->rec, row, p->ship, p->nship) != 0 ||
            sf_buf_reserve(&p->rec, sf_value_encoded_size(&first)) != 0)
            return SF_E_NOMEM;
        p->rec.n += sf_value_encode(&first, p->rec.p + p->rec.n);
        if (p->dedupe_split && encode_ordinal(p, file, offset, r) != 0)
            return SF_E_NOMEM;
        p->counts.rows_shipped++;
        rc = p->emit(p->emit_ctx, sf_groups_hash(p->key.p, p->key.n), p->rec.p, p->rec.n);
        if (rc)
            return rc;
    }
    return 0;
}

/* Decodes a shipped record into row: the shipped slots, the first-row flag
 * of a flattened input (*first, else 1) and the ordinal of a dedupe split
 * (*ord). Returns 0 or SF_E_PARSE. */
static int decode_rec(const sf_pipeline *p, const unsigned char *rec, size_t len, sf_value *row,
                      int *first, sf_dedupe_ord *ord)
{
    size_t pos = 0;
    for (size_t i = 0; i < p->nship; i++) {
        size_t used = sf_value_decode(rec + pos, len - pos, &row[p->ship[i]]);
        if (!used)
            return SF_E_PARSE;
        pos += used;
    }
    /* Rows of a flattened input say whether they are their line's first. */
    *first = 1;
    if (p->flat) {
        sf_value f;
        size_t used = sf_value_decode(rec + pos, len - pos, &f);
        if (!used || f.type != SF_BOOL)
            return SF_E_PARSE;
        pos += used;
        *first = f.u.b;
    }
    if (p->dedupe_split) {
        uint64_t *o[4] = {&ord->file, &ord->chunk, &ord->offset, &ord->row};
        for (int k = 0; k < 4; k++) {
            sf_value v;
            size_t used = sf_value_decode(rec + pos, len - pos, &v);
            if (!used || v.type != SF_INT || v.u.i < 0)
                return SF_E_PARSE;
            pos += used;
            *o[k] = (uint64_t)v.u.i;
        }
    }
    return pos == len ? 0 : SF_E_PARSE;
}

/* Runs steps [from, n) and the aggregation on a received row. */
static int finish_row(sf_pipeline *p, sf_value *row, size_t from, int first)
{
    sf_arena_reset(&p->scratch_b);
    fate before;
    if (!first)
        fate_save(p, &before);
    int rc = 0;
    if (run_steps(p, row, NULL, from, p->job->nsteps, &p->scratch_b, NULL, NULL))
        rc = aggregate(p, row, NULL, &p->key_b, &p->scratch_b);
    if (!first)
        recount(p, &before);
    return rc;
}

static void count_duplicate(sf_pipeline *p, int first)
{
    if (first)
        p->counts.rows_deduped++;
    else
        p->counts.exploded_deduped++;
}

/* A received row (received = 1) or a spilled kept row offered again. */
static int offer_row(sf_pipeline *p, const unsigned char *rec, size_t len, int received)
{
    sf_value *row = p->row_b;
    int first;
    sf_dedupe_ord ord;
    if (decode_rec(p, rec, len, row, &first, &ord) != 0)
        return SF_E_PARSE;
    p->counts.rows_received += (uint64_t)received;
    if (!p->dedupe_split)
        return finish_row(p, row, p->split, first);
    /* The dedupe step: keep the earliest row per key until the scan ends. */
    const sf_job_step *st = &p->job->steps[p->split];
    p->key_b.n = 0;
    if (encode_slots(&p->key_b, row, st->dedupe_slots, st->ndedupe) != 0)
        return SF_E_NOMEM;
    int old_first = 1;
    int rc = sf_dedupe_offer(p->dd, p->key_b.p, p->key_b.n,
                             sf_groups_hash(p->key_b.p, p->key_b.n), &ord, rec, len, first,
                             &old_first);
    if (rc < 0)
        return rc;
    if (rc == SF_DEDUPE_REPLACED)
        count_duplicate(p, old_first);
    else if (rc == SF_DEDUPE_DROPPED)
        count_duplicate(p, first);
    return 0;
}

int sf_pipeline_push_row(sf_pipeline *p, const unsigned char *rec, size_t len)
{
    return offer_row(p, rec, len, 1);
}

sf_dedupe *sf_pipeline_dedupe(sf_pipeline *p) { return p->dd; }

int sf_pipeline_dedupe_reset(sf_pipeline *p)
{
    if (!p->dedupe_split)
        return 0;
    sf_dedupe *t = sf_dedupe_new();
    if (!t)
        return SF_E_NOMEM;
    sf_dedupe_free(p->dd);
    p->dd = t;
    return 0;
}

int sf_pipeline_dedupe_reoffer(sf_pipeline *p, const unsigned char *rec, size_t len)
{
    return p->dd ? offer_row(p, rec, len, 0) : SF_E_INVAL;
}

int sf_pipeline_finish_dedupe(sf_pipeline *p)
{
    if (!p->dd)
        return 0;
    int rc = 0;
    size_t n = sf_dedupe_count(p->dd);
    for (size_t i = 0; i < n && !rc; i++) {
        const void *rec;
        size_t len;
        int first;
        sf_dedupe_ord ord;
        sf_dedupe_entry(p->dd, i, &rec, &len, NULL, NULL);
        rc = decode_rec(p, rec, len, p->row_b, &first, &ord);
        if (!rc)
            rc = finish_row(p, p->row_b, p->split + 1, first);
    }
    if (!rc) {
        sf_dedupe_free(p->dd);
        p->dd = NULL;
    }
    return rc;
}

static void mark_slot(void *ctx, int slot)
{
    ((unsigned char *)ctx)[slot] = 1;
}

int sf_pipeline_split(sf_pipeline *p, size_t split, const int *route, size_t nroute,
                      sf_emit_fn emit, void *ctx)
{
    const sf_job *job = p->job;
    /* Rows past a dedupe step must meet at their key's owner first. */
    if (job->dedupe_step >= 0 && split != (size_t)job->dedupe_step)
        return SF_E_INVAL;
    /* Shipped rows go on as they come: no ring. */
    int rc = agg_batch_settle(p);
    if (rc)
        return rc;
    p->ring_on = 0;
    unsigned char *defined = calloc(job->nslots + 1, 1);
    unsigned char *needed = calloc(job->nslots + 1, 1);
    free(p->route);
    free(p->ship);
    p->route = malloc((nroute + 1) * sizeof *p->route);
    p->ship = malloc((job->nslots + 1) * sizeof *p->ship);
    p->row_b = p->row_b ? p->row_b : calloc(job->nslots + 1, sizeof *p->row_b);
    if (!defined || !needed || !p->route || !p->ship || !p->row_b) {
        free(defined);
        free(needed);
        return SF_E_NOMEM;
    }
    /* Defined before the split: the fact columns and what steps [0, split)
     * set. Needed after it: what steps [split, n) read, the group keys and
     * the aggregates' arguments. */
    const sf_job_input *fact = &job->inputs[job->fact];
    for (size_t i = 0; i < fact->ncolumns; i++)
        defined[fact->columns[i].slot] = 1;
    for (size_t i = 0; i < split; i++) {
        const sf_job_step *st = &job->steps[i];
        if (st->kind == SF_STEP_DERIVE)
            defined[st->slot] = 1;
        for (size_t k = 0; st->kind == SF_STEP_JOIN && k < st->nselect; k++)
            defined[st->select_slots[k]] = 1;
    }
    for (size_t i = split; i < job->nsteps; i++) {
        const sf_job_step *st = &job->steps[i];
        if (st->expr)
            sf_expr_visit_columns(st->expr, mark_slot, needed);
        if (st->kind == SF_STEP_JOIN)
            needed[st->on_slot] = 1;
        for (size_t k = 0; st->kind == SF_STEP_DEDUPE && k < st->ndedupe; k++)
            needed[st->dedupe_slots[k]] = 1;
    }
    for (size_t k = 0; k < (job->noutputs ? job->noutputs : 1); k++) {
        const sf_job *o = job->noutputs ? &job->outputs[k] : job;
        for (size_t s = 0; o->kind == SF_OUT_ROWS && s < job->nslots; s++)
            needed[s] |= p->row_keep[k][s]; /* the row itself is written */
        if (o->kind != SF_OUT_GROUPS)
            continue; /* a stage's group keys are another output's columns */
        for (size_t i = 0; i < o->ngroup; i++)
            needed[o->group_slots[i]] = 1;
        for (size_t j = 0; j < o->naggs; j++) {
            if (o->aggs[j].arg)
                sf_expr_visit_columns(o->aggs[j].arg, mark_slot, needed);
        }
    }
    p->nship = 0;
    for (size_t s = 0; s < job->nslots; s++) {
        if (defined[s] && needed[s])
            p->ship[p->nship++] = (int)s;
    }
    memcpy(p->route, route, nroute * sizeof *route);
    p->nroute = nroute;
    p->split = split;
    p->dedupe_split = job->dedupe_step >= 0;
    p->ids_on = 0; /* received rows carry no ids; aggregate() runs on them */
    sf_keycache_free(p->kc);
    p->kc = NULL;
    p->emit = emit;
    p->emit_ctx = ctx;
    sf_arena_init(&p->scratch_b, 16 * 1024);
    free(defined);
    free(needed);
    return 0;
}

int sf_pipeline_flush(sf_pipeline *p) { return agg_batch_settle(p); }

const sf_counts *sf_pipeline_counts(sf_pipeline *p)
{
    ring_settle(p);
    return &p->counts;
}

const sf_reject_sample *sf_pipeline_samples(sf_pipeline *p, size_t *n)
{
    ring_settle(p);
    *n = p->nsamples;
    return p->samples;
}

sf_groups *sf_pipeline_groups(sf_pipeline *p)
{
    agg_batch_settle(p);
    return p->groups;
}

const sf_groups *sf_pipeline_groups_now(const sf_pipeline *p) { return p->groups; }

int sf_pipeline_set_aside(sf_pipeline *p, sf_aside_mode mode, const sf_aside_ops *ops)
{
    if (mode == SF_ASIDE_OFF)
        return 0;
    if (agg_batch_settle(p) != 0)
        return p->bt_rc;
    if (p->emit || p->nmore || !ops || !ops->owner || !ops->reserve)
        return SF_E_INVAL;
    free(p->aside_args);
    p->aside_args = calloc(p->job->naggs ? p->job->naggs : 1, sizeof *p->aside_args);
    if (!p->aside_args)
        return SF_E_NOMEM;
    p->aside_mode = mode;
    p->aside_ops = *ops;
    p->aside = mode == SF_ASIDE_ON;
    p->aside_st.decision = p->aside ? SF_ASIDE_DECIDED_ASIDE : SF_ASIDE_UNDECIDED;
    return 0;
}

const sf_aside_stats *sf_pipeline_aside_stats(sf_pipeline *p)
{
    ring_settle(p);
    return &p->aside_st;
}

int sf_pipeline_reset_groups(sf_pipeline *p) { return sf_pipeline_reset_output_groups(p, 0); }

sf_groups *sf_pipeline_output_groups(sf_pipeline *p, size_t k)
{
    if (k == 0) {
        agg_batch_settle(p);
        return p->groups;
    }
    return k <= p->nmore ? p->more[k - 1] : NULL;
}

int sf_pipeline_reset_output_groups(sf_pipeline *p, size_t k)
{
    if (k > p->nmore)
        return SF_E_INVAL;
    if (k == 0 && agg_batch_settle(p) != 0)
        return p->bt_rc;
    sf_groups *g = sf_job_new_groups(k ? &p->job->outputs[k] : p->job);
    if (!g)
        return SF_E_NOMEM;
    sf_groups **slot = k ? &p->more[k - 1] : &p->groups;
    sf_groups_free(*slot);
    *slot = g;
    if (k == 0 && p->kc)
        sf_keycache_clear(p->kc); /* its indexes were the old table's */
    return 0;
}

sf_groups *sf_pipeline_take_groups(sf_pipeline *p)
{
    if (agg_batch_settle(p) != 0)
        return NULL;
    sf_groups *g = p->groups;
    p->groups = NULL;
    sf_keycache_free(p->kc);
    p->kc = NULL;
    return g;
}

int sf_pipeline_set_row_sink(sf_pipeline *p, size_t k, sf_row_sink_fn fn, void *ctx)
{
    if (k >= p->nout || p->kinds[k] != SF_OUT_ROWS)
        return SF_E_INVAL;
    p->sinks[k] = fn;
    p->sink_ctx[k] = ctx;
    return 0;
}

int sf_pipeline_take_output_rows(sf_pipeline *p, size_t k, sf_rows *out)
{
    if (k >= p->nout || p->kinds[k] != SF_OUT_ROWS)
        return SF_E_INVAL;
    *out = p->rowsets[k];
    sf_rows_init(&p->rowsets[k], out->ncols);
    return 0;
}

sf_groups *sf_pipeline_take_output_groups(sf_pipeline *p, size_t k)
{
    if (k == 0)
        return sf_pipeline_take_groups(p);
    if (k > p->nmore)
        return NULL;
    sf_groups *g = p->more[k - 1];
    p->more[k - 1] = NULL;
    return g;
}

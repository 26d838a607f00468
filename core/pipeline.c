/* pipeline.c - decode, derive, filter, join, pre-aggregate one line. */
#include "core/pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/buf.h"

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
    int last_reason; /* of the last rejected line, -1 before any */
    char last_msg[240];
};

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
    if (!p->row)
        goto nomem;
    for (size_t i = 0; i < fact->ncolumns; i++) {
        fields[i].path = fact->columns[i].name;
        fields[i].type = fact->columns[i].type;
        fields[i].slot = fact->columns[i].slot;
    }
    p->groups = sf_job_new_groups(job);
    if (!p->groups)
        goto nomem;
    p->dec = sf_decoder_new(decoder, fields, fact->ncolumns);
    if (!p->dec)
        goto nomem;
    sf_arena_init(&p->scratch, 16 * 1024);
    free(fields);
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
    sf_groups_free(p->groups);
    sf_arena_free(&p->scratch);
    sf_buf_free(&p->key);
    free(p->row);
    free(p->route);
    free(p->ship);
    sf_buf_free(&p->rec);
    free(p->row_b);
    if (p->row_b || p->emit)
        sf_arena_free(&p->scratch_b);
    sf_buf_free(&p->key_b);
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

/* Runs steps [from, to) over row. Returns 1 if the row goes on, 0 if a
 * filter or an inner join stopped it (counted). */
static int run_steps(sf_pipeline *p, sf_value *row, size_t from, size_t to, sf_arena *scratch)
{
    const sf_job *job = p->job;
    for (size_t i = from; i < to; i++) {
        const sf_job_step *st = &job->steps[i];
        switch (st->kind) {
        case SF_STEP_DERIVE:
            row[st->slot] = sf_expr_eval(st->expr, row, scratch);
            break;
        case SF_STEP_FILTER: {
            sf_value v = sf_expr_eval(st->expr, row, scratch);
            if (v.type != SF_BOOL || !v.u.b) {
                p->counts.rows_filtered++;
                return 0;
            }
            break;
        }
        case SF_STEP_JOIN: {
            const sf_value *key = &row[st->on_slot];
            const sf_value *dim =
                key->type == SF_NULL ? NULL : sf_join_table_find(p->dims[st->input], key);
            if (!dim && st->inner) {
                p->counts.rows_dropped_by_join++;
                p->counts.dropped_by_join[st->input]++;
                return 0;
            }
            for (size_t k = 0; k < st->nselect; k++)
                row[st->select_slots[k]] = dim ? dim[st->select_cols[k]] : sf_null();
            break;
        }
        }
    }
    return 1;
}

/* Appends the encodings of row's values at slots to key. */
static int encode_slots(sf_buf *key, const sf_value *row, const int *slots, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const sf_value *v = &row[slots[i]];
        if (sf_buf_reserve(key, sf_value_encoded_size(v)) != 0)
            return SF_E_NOMEM;
        key->n += sf_value_encode(v, key->p + key->n);
    }
    return 0;
}

static int aggregate(sf_pipeline *p, const sf_value *row, sf_buf *key, sf_arena *scratch)
{
    const sf_job *job = p->job;
    key->n = 0;
    if (encode_slots(key, row, job->group_slots, job->ngroup) != 0)
        return SF_E_NOMEM;
    int rc = sf_groups_update(p->groups, key->p, key->n, sf_groups_hash(key->p, key->n), row,
                              scratch);
    if (rc)
        return rc;
    p->counts.rows_aggregated++;
    return 0;
}

int sf_pipeline_push(sf_pipeline *p, const char *line, size_t len, int file, uint64_t offset)
{
    const sf_job *job = p->job;
    sf_value *row = p->row;
    p->counts.lines_read++;
    if (len == 0) {
        p->counts.blank_lines++;
        return 0;
    }
    char msg[240];
    int rc = sf_decoder_decode(p->dec, line, len, row, msg, sizeof msg);
    if (rc < 0)
        return rc;
    if (rc > 0) {
        reject(p, file, offset, (sf_reject_reason)(rc - 1), msg);
        return 0;
    }
    sf_arena_reset(&p->scratch);
    if (!p->emit) {
        if (!run_steps(p, row, 0, job->nsteps, &p->scratch))
            return 0;
        return aggregate(p, row, &p->key, &p->scratch);
    }
    if (!run_steps(p, row, 0, p->split, &p->scratch))
        return 0;
    /* Hand the row on: the route key picks the destination, the record
     * carries the slots the rest of the pipeline reads. */
    p->key.n = 0;
    if (encode_slots(&p->key, row, p->route, p->nroute) != 0)
        return SF_E_NOMEM;
    uint64_t hash = sf_groups_hash(p->key.p, p->key.n);
    p->rec.n = 0;
    if (encode_slots(&p->rec, row, p->ship, p->nship) != 0)
        return SF_E_NOMEM;
    p->counts.rows_shipped++;
    return p->emit(p->emit_ctx, hash, p->rec.p, p->rec.n);
}

int sf_pipeline_push_row(sf_pipeline *p, const unsigned char *rec, size_t len)
{
    sf_value *row = p->row_b;
    size_t pos = 0;
    for (size_t i = 0; i < p->nship; i++) {
        size_t used = sf_value_decode(rec + pos, len - pos, &row[p->ship[i]]);
        if (!used)
            return SF_E_PARSE;
        pos += used;
    }
    if (pos != len)
        return SF_E_PARSE;
    p->counts.rows_received++;
    sf_arena_reset(&p->scratch_b);
    if (!run_steps(p, row, p->split, p->job->nsteps, &p->scratch_b))
        return 0;
    return aggregate(p, row, &p->key_b, &p->scratch_b);
}

static void mark_slot(void *ctx, int slot)
{
    ((unsigned char *)ctx)[slot] = 1;
}

int sf_pipeline_split(sf_pipeline *p, size_t split, const int *route, size_t nroute,
                      sf_emit_fn emit, void *ctx)
{
    const sf_job *job = p->job;
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
    }
    for (size_t i = 0; i < job->ngroup; i++)
        needed[job->group_slots[i]] = 1;
    for (size_t j = 0; j < job->naggs; j++) {
        if (job->aggs[j].arg)
            sf_expr_visit_columns(job->aggs[j].arg, mark_slot, needed);
    }
    p->nship = 0;
    for (size_t s = 0; s < job->nslots; s++) {
        if (defined[s] && needed[s])
            p->ship[p->nship++] = (int)s;
    }
    memcpy(p->route, route, nroute * sizeof *route);
    p->nroute = nroute;
    p->split = split;
    p->emit = emit;
    p->emit_ctx = ctx;
    sf_arena_init(&p->scratch_b, 16 * 1024);
    free(defined);
    free(needed);
    return 0;
}

const sf_counts *sf_pipeline_counts(const sf_pipeline *p) { return &p->counts; }

const sf_reject_sample *sf_pipeline_samples(const sf_pipeline *p, size_t *n)
{
    *n = p->nsamples;
    return p->samples;
}

sf_groups *sf_pipeline_groups(sf_pipeline *p) { return p->groups; }

/* run_rowstream.c - `shardflow run`: row outputs without a sort streamed to
 * their files, so the fact rows are never all held.
 *
 * A row output (core/spec.h, SF_OUT_ROWS) with no sort_by, no limit, a hive
 * layout and no stage reading it is streamed: each row, as the pipeline
 * hands it over (the row sink), gets its computed columns, goes to the
 * rank owning the hash of its partition values (rank 0 when unpartitioned:
 * one file) through a row stream (mpi/stream: bounded batches, no rank
 * blocks another) and is appended there to its partition's open file
 * (io/table_writer), DIR/part-00000.<ext>, as --write repartition names
 * them. Rows reach the sink during the scan (the row stream is the scan's
 * stream then) or, with a dedupe step, when the kept rows go on after it
 * (the stream is finished once they all have). The order of rows in a file
 * is the order they arrived: the same rows on any rank count, not the same
 * order. Other row outputs (and any with --repartition before-join or none
 * and no dedupe step, whose rows arrive inside the raw-row stream) are held
 * and sorted (run_stage.c).
 */
#include "cli/run_internal.h"

#include <stdlib.h>
#include <string.h>

#include "io/fsutil.h"
#include "io/hive.h"
#include "io/table_writer.h"
#include "partition/keyhash.h"
#include "partition/partitioner.h"

/* One open file: a partition value of a streamed output on its writer. */
typedef struct rowfile {
    char *rel; /* under the output's staging dir */
    sf_table_writer *w;
    uint64_t rows;
} rowfile;

/* A streamed row output. */
struct sf_run_rowout {
    size_t k;               /* index in spec->outputs */
    const sf_job *view;
    sf_lifecycle *life;     /* its claim and staging */
    const char **names;     /* written columns (owned) */
    sf_type *types;
    sf_dec_type *decs;
    sf_h5_options h5opt;
    sf_parquet_options pqopt;
    sf_csv_options csvopt;
    sf_table_format format;
    unsigned char *send;    /* result columns a record carries (written, partition) */
    rowfile *files;
    size_t nfiles, cap;
    size_t last;            /* the file the previous row went to */
    uint64_t digest;        /* of the rows this rank wrote */
    sf_value *row;          /* a full result row (sender and receiver) */
};

/* The row stream's messages tag (the raw-row stream is 201, the
 * combiner's step-aside records 202). */
#define ROWSTREAM_TAG 203

static sf_lifecycle *life_of(sf_run *R, size_t k) { return k ? &R->lives[k - 1] : &R->life; }

/* Whether output k of the spec is streamed (see the banner). */
static int streamable(const sf_run *R, const sf_job *o)
{
    return o->kind == SF_OUT_ROWS && o->output.nsort == 0 && o->output.limit < 0 &&
           !o->read_by_stage && strcmp(o->output.layout, "hive") == 0 &&
           (R->job->dedupe_step >= 0 || !R->stream);
}

/* Output k's writer settings, made by sf_run_prepare_output and kept. */
static int prepare(sf_run *R, struct sf_run_rowout *ro)
{
    sf_job *saved = R->job;
    R->job = &R->spec->outputs[ro->k];
    int rc = sf_run_prepare_output(R);
    if (!rc) {
        ro->names = R->out_names;
        ro->types = R->out_types;
        ro->decs = R->out_dec;
        R->out_names = NULL;
        R->out_types = NULL;
        R->out_dec = NULL;
        ro->h5opt = R->h5opt;
        ro->pqopt = R->pqopt;
        ro->pqopt.decs = ro->decs;
        ro->csvopt = R->csvopt;
        /* A file's close only starts its writeback: finish syncs the
         * output's files together. */
        ro->h5opt.sync_later = ro->pqopt.sync_later = ro->csvopt.sync_later = 1;
        sf_table_format_parse(ro->view->output.format, &ro->format);
    }
    R->job = saved;
    return rc ? rc : sf_run_prepare_output(R); /* the current output's again */
}

/* The result row of a fact row: its slots, then the computed columns. */
static void result_row(struct sf_run_rowout *ro, const sf_value *slots, size_t nslots,
                       sf_arena *scratch)
{
    const sf_job *o = ro->view;
    memcpy(ro->row, slots, nslots * sizeof *ro->row);
    for (size_t c = 0; c < o->ncomputes; c++)
        ro->row[o->computes[c].column] = sf_expr_eval(o->computes[c].expr, ro->row, scratch);
}

/* The row sink (sender side): the row's result columns, hashed by its
 * partition values, to their writer. */
static int sink(void *ctx, size_t k, const sf_value *row)
{
    sf_run *R = ctx;
    struct sf_run_rowout *ro = NULL;
    for (size_t i = 0; i < R->nrowouts && !ro; i++)
        ro = R->rowouts[i].k == k ? &R->rowouts[i] : NULL;
    const sf_job *o = ro->view;
    sf_arena_reset(&R->rowscratch);
    result_row(ro, row, R->spec->nslots, &R->rowscratch);
    int dest = 0;
    R->rowrec.n = 0;
    if (o->output.npartition) {
        uint64_t hash;
        int rc = sf_key_hash_columns(ro->row, o->output.partition_by, o->output.npartition,
                                     &R->rowrec, &hash);
        if (rc)
            return rc;
        dest = sf_partition_rank(hash, R->nparts, R->nranks);
        R->rowrec.n = 0;
    }
    sf_value idx = sf_int((int64_t)(ro - R->rowouts));
    size_t need = sf_value_encoded_size(&idx);
    for (size_t c = 0; c < o->nresult; c++)
        need += ro->send[c] ? sf_value_encoded_size(&ro->row[c]) : 0;
    if (sf_buf_reserve(&R->rowrec, need) != 0)
        return SF_E_NOMEM;
    R->rowrec.n += sf_value_encode(&idx, R->rowrec.p);
    for (size_t c = 0; c < o->nresult; c++) {
        if (ro->send[c])
            R->rowrec.n += sf_value_encode(&ro->row[c], R->rowrec.p + R->rowrec.n);
    }
    return sf_stream_put(R->rowstream, dest, R->rowrec.p, R->rowrec.n);
}

/* The file of the partition value of ro->row on this rank, opened on its
 * first row. Returns 0 and *f, or SF_E_* with R->err. */
static int file_of(sf_run *R, struct sf_run_rowout *ro, rowfile **f)
{
    const sf_job_output *out = &ro->view->output;
    sf_buf rel = SF_BUF_INIT;
    sf_value pv[16];
    const char *pn[16];
    for (size_t i = 0; i < out->npartition; i++) {
        pv[i] = ro->row[out->partition_by[i]];
        if (pv[i].type == SF_STRING && pv[i].u.s.n == 0)
            pv[i] = sf_null(); /* as sf_run_write_normalize: Hive's default partition */
        pn[i] = ro->view->result_names[out->partition_by[i]];
    }
    int rc = sf_hive_dirname(pn, pv, out->npartition, &rel);
    if (!rc)
        rc = sf_buf_printf(&rel, "%spart-00000.%s", rel.n ? "/" : "",
                           sf_table_file_ext(ro->format, &ro->csvopt));
    if (rc) {
        sf_buf_free(&rel);
        return sf_error_set(&R->err, rc, "out of memory naming a partition");
    }
    if (ro->last < ro->nfiles && strcmp(ro->files[ro->last].rel, (const char *)rel.p) == 0) {
        sf_buf_free(&rel);
        *f = &ro->files[ro->last];
        return 0;
    }
    for (size_t i = 0; i < ro->nfiles; i++) {
        if (strcmp(ro->files[i].rel, (const char *)rel.p) == 0) {
            sf_buf_free(&rel);
            ro->last = i;
            *f = &ro->files[i];
            return 0;
        }
    }
    if (ro->nfiles == ro->cap) {
        size_t cap = ro->cap ? 2 * ro->cap : 16;
        rowfile *nf = realloc(ro->files, cap * sizeof *nf);
        if (!nf) {
            sf_buf_free(&rel);
            return sf_error_set(&R->err, SF_E_NOMEM, "out of memory");
        }
        ro->files = nf;
        ro->cap = cap;
    }
    rowfile *nf = &ro->files[ro->nfiles];
    memset(nf, 0, sizeof *nf);
    nf->rel = malloc(rel.n + 1);
    size_t n = strlen(ro->life->stage.tmpdir) + rel.n + 2;
    char *path = nf->rel ? malloc(n) : NULL;
    if (nf->rel) {
        memcpy(nf->rel, rel.p, rel.n);
        nf->rel[rel.n] = '\0';
    }
    sf_buf_free(&rel);
    if (!path)
        rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory");
    if (!rc) {
        snprintf(path, n, "%s/%s", ro->life->stage.tmpdir, nf->rel);
        *strrchr(path, '/') = '\0';
        rc = sf_mkdirs(path, &R->err);
        path[strlen(path)] = '/';
    }
    sf_table_schema schema = {ro->view->output.ncolumns, ro->names, ro->types, &ro->h5opt, 1,
                              &ro->pqopt, &ro->csvopt};
    if (!rc)
        rc = sf_table_writer_open(&nf->w, ro->format, path, &schema, &R->err);
    free(path);
    if (rc) {
        free(nf->rel);
        return rc;
    }
    ro->last = ro->nfiles++;
    *f = nf;
    return 0;
}

/* The stream's receiver: a row for one of this rank's files. */
static int receive(void *ctx, const unsigned char *rec, size_t len, int source)
{
    sf_run *R = ctx;
    sf_value idx;
    size_t pos = sf_value_decode(rec, len, &idx);
    if (!pos || idx.type != SF_INT || idx.u.i < 0 || (size_t)idx.u.i >= R->nrowouts)
        return sf_error_set(&R->err, SF_E_PARSE, "bad row record from rank %d", source);
    struct sf_run_rowout *ro = &R->rowouts[idx.u.i];
    const sf_job *o = ro->view;
    for (size_t c = 0; c < o->nresult; c++) {
        size_t used = 1;
        ro->row[c] = sf_null();
        if (ro->send[c])
            used = pos < len ? sf_value_decode(rec + pos, len - pos, &ro->row[c]) : 0;
        if (!used)
            return sf_error_set(&R->err, SF_E_PARSE, "bad row record from rank %d", source);
        pos += ro->send[c] ? used : 0;
    }
    rowfile *f;
    int rc = file_of(R, ro, &f);
    if (rc)
        return rc;
    rc = sf_table_writer_append(f->w, ro->row, o->output.columns);
    if (rc)
        return sf_error_set(&R->err, rc, "%s: cannot write a row", f->rel);
    f->rows++;
    /* The digest hashes the result row as the write phase does (the width
     * it reads is the rows table's). */
    size_t ncols = R->rows.ncols;
    R->rows.ncols = o->nresult;
    ro->digest += sf_run_row_hash(R, ro->row);
    R->rows.ncols = ncols;
    return 0;
}

int sf_run_rowstream_setup(sf_run *R)
{
    size_t n = R->spec->noutputs, m = 0;
    for (size_t k = 0; k < n; k++)
        m += streamable(R, &R->spec->outputs[k]);
    if (!m)
        return 0;
    R->rowouts = calloc(m, sizeof *R->rowouts);
    if (!R->rowouts)
        return sf_error_set(&R->err, SF_E_NOMEM, "out of memory");
    int rc = 0;
    for (size_t k = 0; k < n && !rc; k++) {
        const sf_job *o = &R->spec->outputs[k];
        if (!streamable(R, o))
            continue;
        struct sf_run_rowout *ro = &R->rowouts[R->nrowouts++];
        ro->k = k;
        ro->view = o;
        ro->life = life_of(R, k);
        ro->last = SIZE_MAX;
        ro->send = calloc(o->nresult + 1, 1);
        ro->row = calloc(o->nresult + 1, sizeof *ro->row);
        if (!ro->send || !ro->row)
            return sf_error_set(&R->err, SF_E_NOMEM, "out of memory");
        for (size_t c = 0; c < o->output.ncolumns; c++)
            ro->send[o->output.columns[c]] = 1;
        for (size_t c = 0; c < o->output.npartition; c++)
            ro->send[o->output.partition_by[c]] = 1;
        rc = prepare(R, ro);
        if (!rc)
            sf_pipeline_set_row_sink(R->pipe, k, sink, R);
    }
    if (rc)
        return rc;
    sf_arena_init(&R->rowscratch, 0);
    size_t batch = R->o->shuffle_round / (uint64_t)R->nranks;
    if (batch > ((size_t)4 << 20))
        batch = (size_t)4 << 20;
    R->rowstream = sf_stream_new(R->comm, ROWSTREAM_TAG, batch, receive, R, NULL, NULL);
    if (!R->rowstream)
        return sf_error_set(&R->err, SF_E_NOMEM, "out of memory setting up the row stream");
    /* Without a raw-row stream the scan drives this one: it polls it while
     * it waits, rank 0 serves chunks from its waits, and it is finished
     * before the scan's closing collective. */
    if (!R->stream) {
        R->stream = R->rowstream;
        R->rowstream_in_scan = 1;
    }
    return 0;
}

int sf_run_rowstream_finish(sf_run *R, int failed)
{
    if (!R->nrowouts)
        return 0;
    int rc = 0;
    if (!R->rowstream_in_scan && R->rowstream && !failed) {
        rc = sf_stream_finish(R->rowstream, &R->err);
        sf_stream_stats(R->rowstream, &R->shuffle);
    }
    if (!R->rowstream_in_scan)
        sf_stream_free(R->rowstream);
    R->rowstream = NULL; /* the scan's own was freed with R->stream */
    for (size_t i = 0; i < R->nrowouts; i++) {
        struct sf_run_rowout *ro = &R->rowouts[i];
        /* An unpartitioned output is one file even without rows. */
        if (!rc && !failed && R->rank == 0 && ro->view->output.npartition == 0 && !ro->nfiles) {
            rowfile *f;
            sf_value *row = ro->row;
            for (size_t c = 0; c < ro->view->nresult; c++)
                row[c] = sf_null();
            rc = file_of(R, ro, &f);
        }
        size_t first = ro->life->nfiles;
        for (size_t j = 0; j < ro->nfiles; j++) {
            rowfile *f = &ro->files[j];
            uint64_t bytes = 0;
            if (rc || failed) {
                sf_table_writer_discard(f->w, NULL);
                continue;
            }
            rc = sf_table_writer_close(f->w, NULL, &bytes, &R->err);
            if (!rc && sf_life_add_file(ro->life, f->rel, f->rows, bytes) != 0)
                rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory");
        }
        if (!rc && !failed)
            rc = sf_life_sync_files(ro->life, first, &R->err);
        for (size_t j = 0; j < ro->nfiles; j++)
            free(ro->files[j].rel);
        ro->nfiles = 0;
    }
    return rc;
}

int sf_run_rowstream_written(sf_run *R)
{
    for (size_t i = 0; i < R->nrowouts; i++) {
        if (R->rowouts[i].k == R->out_index) {
            R->digest = R->rowouts[i].digest;
            return 1;
        }
    }
    return 0;
}

void sf_run_rowstream_free(sf_run *R)
{
    for (size_t i = 0; R->rowouts && i < R->nrowouts; i++) {
        struct sf_run_rowout *ro = &R->rowouts[i];
        for (size_t j = 0; j < ro->nfiles; j++) {
            sf_table_writer_discard(ro->files[j].w, NULL);
            free(ro->files[j].rel);
        }
        free(ro->files);
        free(ro->names);
        free(ro->types);
        free(ro->decs);
        free(ro->send);
        free(ro->row);
    }
    free(R->rowouts);
    R->rowouts = NULL;
    R->nrowouts = 0;
    if (!R->rowstream_in_scan)
        sf_stream_free(R->rowstream);
    R->rowstream = NULL;
    sf_buf_free(&R->rowrec);
    sf_arena_free(&R->rowscratch);
}

/* run.c - `shardflow run` and `shardflow validate`.
 *
 * Every phase ends with agree(): an MPI_Allreduce of the phase's status, so a
 * failure on any rank stops every rank at the same point (no hang), the
 * failing rank prints its own message, and rank 0 removes what was staged.
 * Errors that every rank hits identically (a bad spec, an unreadable input
 * checked by rank 0 and broadcast) are printed once, by rank 0.
 */
#include "mpi/run.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/fmt.h"
#include "core/groups.h"
#include "core/hash.h"
#include "core/pipeline.h"
#include "core/rows.h"
#include "core/spec.h"
#include "core/window.h"
#include "io/badrec.h"
#include "io/commit.h"
#include "io/csv.h"
#include "io/dimtable.h"
#include "io/fsutil.h"
#include "io/h5file.h"
#include "io/hive.h"
#include "io/inputs.h"
#include "mpi/collective.h"
#include "mpi/h5single.h"
#include "mpi/manifest.h"
#include "mpi/metrics.h"
#include "mpi/scan.h"
#include "mpi/shuffle.h"
#include "mpi/stream.h"
#include "partition/partitioner.h"

typedef sf_out_file out_file;

typedef struct run {
    MPI_Comm comm;
    int rank, nranks;
    const sf_run_opts *o;
    sf_error err;
    sf_job *job;
    sf_join_table *dims[SF_MAX_INPUTS];
    uint64_t fact_size;  /* all fact files */
    uint64_t input_size[SF_MAX_INPUTS];
    sf_input_files facts; /* the fact input's files, in order (every rank) */
    struct file_acct {    /* per fact file, this rank's share */
        uint64_t lines, blank, rejected, bytes;
    } *acct;
    const sf_chunk *chunks; /* of the scan under way */
    size_t nchunks;
    size_t cur_chunk;       /* chunk being scanned, and lines read in it */
    uint64_t cur_line;
    uint64_t *chunk_lines;  /* lines of each chunk this rank scanned */
    sf_badrec_spill *spill; /* --mode permissive: this rank's bad lines */
    uint64_t bad_written;   /* bad records written (all ranks, rank 0) */
    int exit_code;          /* for a failed run: 1, or 2 for bad input */
    struct file_acct *acct_all; /* summed over ranks (rank 0, at the end) */
    uint64_t chunk_size; /* in effect */
    sf_repartition repartition; /* in effect (may differ from --repartition) */
    int join_step;       /* before-join: the partitioned join step, else -1 */
    sf_stream *stream;   /* raw-row stream of split pipelines */
    struct hot {         /* space-saving sketch of route keys (--salt) */
        uint64_t hash, count;
    } hot[64];
    int nhot;
    uint64_t routed;     /* rows routed so far */
    char runid[48];
    int replacing;
    sf_output_stage stage;
    int staged;
    sf_pipeline *pipe;
    sf_groups *reduced;
    sf_rows rows;
    int sum_overflow;
    out_file *files;
    size_t nfiles;
    sf_metrics m;
    sf_run_result *res;    /* where to report, or NULL */
    const char **out_names; /* names and types of the output columns */
    sf_type *out_types;
    sf_h5_options h5opt;
    char spec_hash[24];
    uint64_t digest;       /* sum of this rank's output row hashes */
    int nparts;            /* shuffle partitions; partition p belongs to rank p % nranks */
    uint64_t *part_groups; /* per partition: groups and input rows this rank owns */
    uint64_t *part_rows;
    sf_shuffle_stats shuffle;
    sf_scan_stats scan;
    sf_counts local_counts; /* this rank's, kept when the pipeline is freed */
    sf_reject_sample local_samples[SF_MAX_SAMPLES];
    size_t nlocal_samples;
    sf_counts counts; /* summed over ranks, on rank 0 */
    sf_reject_sample samples[SF_MAX_SAMPLES];
    size_t nsamples;
} run;

volatile sig_atomic_t sf_interrupted;

static void on_signal(int sig) { sf_interrupted = sig; }

void sf_run_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGXFSZ, SIG_IGN);
}

void sf_run_opts_init(sf_run_opts *o)
{
    memset(o, 0, sizeof *o); /* chunk_size 0: automatic */
    o->schedule = SF_SCHED_DYNAMIC;
    o->shuffle_round = (uint64_t)64 << 20;
    o->max_line = (uint64_t)16 << 20;
    o->broadcast_limit = (uint64_t)64 << 20;
    o->max_bad_pct = -1;
    o->progress = -1;
}

uint64_t sf_run_chunk_size(uint64_t requested, uint64_t input_bytes, int nranks)
{
    if (requested)
        return requested;
    uint64_t cs = (uint64_t)64 << 20, floor = (uint64_t)1 << 20;
    uint64_t fair = input_bytes / (4 * (uint64_t)(nranks > 0 ? nranks : 1));
    if (fair < cs)
        cs = fair > floor ? fair : floor;
    return cs;
}

/* ---- agreement and errors ---- */

static int agree(run *R, int rc, int same_everywhere)
{
    return sf_mpi_agree(R->comm, rc, same_everywhere, &R->err);
}

static char *bcast_bytes(run *R, char *data, int64_t *len)
{
    return sf_mpi_bcast_bytes(R->comm, data, len);
}

/* ---- plan ---- */

static const char *write_mode_text(const sf_run_opts *o);
static int prepare_output(run *R);
static int same_values(const sf_value *a, const sf_value *b, const int *cols, size_t n);

static sf_job_overrides overrides_of(const sf_run_opts *o)
{
    sf_job_overrides ov = {o->input_names, o->input_paths, (size_t)o->ninputs, o->output,
                           o->format,      o->layout,      o->compression};
    return ov;
}

static uint32_t partition_of(const run *R, uint64_t hash);
static int owner_of(const run *R, uint32_t partition);

static int load_job(run *R)
{
    char *text = NULL;
    size_t len = 0;
    int64_t n = -1;
    if (R->rank == 0 && sf_read_file(R->o->job_path, &text, &len, &R->err) == 0)
        n = (int64_t)len;
    text = bcast_bytes(R, text, &n);
    int rc = text ? 0 : SF_E_IO;
    if (rc == 0) {
        sf_job_overrides ov = overrides_of(R->o);
        rc = sf_job_load(text, (size_t)n, R->o->job_path, &ov, &R->job, &R->err);
        snprintf(R->spec_hash, sizeof R->spec_hash, "%016llx",
                 (unsigned long long)sf_hash_bytes(text, (size_t)n, 0));
    }
    free(text);
    if (rc == 0)
        rc = prepare_output(R);
    return rc;
}

/* Output column names and types, HDF5 options and the checks that need the
 * output format; the same on every rank. */
static int prepare_output(run *R)
{
    const sf_job *job = R->job;
    const sf_job_output *o = &job->output;
    R->out_names = calloc(o->ncolumns + 1, sizeof *R->out_names);
    R->out_types = calloc(o->ncolumns + 1, sizeof *R->out_types);
    if (!R->out_names || !R->out_types)
        return sf_error_set(&R->err, SF_E_NOMEM, "out of memory");
    for (size_t c = 0; c < o->ncolumns; c++) {
        R->out_names[c] = job->result_names[o->columns[c]];
        R->out_types[c] = job->result_types[o->columns[c]];
    }
    sf_h5_options_init(&R->h5opt);
    R->h5opt.job = job->name;
    R->h5opt.spec_hash = R->spec_hash;
    if (strcmp(o->format, "hdf5") != 0)
        return 0;
    int rc = sf_h5_parse_compression(o->compression, &R->h5opt, &R->err);
    if (!rc)
        rc = sf_h5_check_columns(o->ncolumns, R->out_names, &R->err);
    if (!rc && strcmp(o->layout, "single") == 0 && R->o->write_mode != SF_WRITE_REPARTITION)
        rc = sf_error_set(&R->err, SF_E_SPEC, "--layout single writes each partition once: it "
                          "takes --write repartition, not %s", write_mode_text(R->o));
    if (rc)
        sf_error_prefix(&R->err, "%s", job->source);
    return rc ? SF_E_SPEC : 0;
}

static void make_runid(run *R)
{
    if (R->rank == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        struct tm tm;
        gmtime_r(&ts.tv_sec, &tm);
        snprintf(R->runid, sizeof R->runid, "%04d%02d%02dT%02d%02d%02d-%ld", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)getpid());
    }
    MPI_Bcast(R->runid, sizeof R->runid, MPI_CHAR, 0, R->comm);
}

/* Fault injection for the tests (docs/testing.md): SF_FAULT=grow:PATH makes
 * rank 0 append a line to PATH once the run is planned, as a writer
 * appending to an input during the run would. */
static void inject_fault(run *R)
{
    const char *f = getenv("SF_FAULT");
    if (R->rank != 0 || !f || strncmp(f, "grow:", 5) != 0)
        return;
    FILE *fp = fopen(f + 5, "a");
    if (fp) {
        fputs("{\"appended\": true}\n", fp);
        fclose(fp);
    }
}

/* Sends rank 0's list of fact files (paths and planned sizes) to every
 * rank. Collective. */
static int bcast_facts(run *R)
{
    uint64_t n = R->facts.n;
    MPI_Bcast(&n, 1, MPI_UINT64_T, 0, R->comm);
    sf_buf names = SF_BUF_INIT;
    for (size_t i = 0; R->rank == 0 && i < n; i++)
        sf_buf_append(&names, R->facts.paths[i], strlen(R->facts.paths[i]) + 1);
    int64_t len = (int64_t)names.n;
    char *text = bcast_bytes(R, (char *)names.p, &len);
    if (R->rank == 0)
        names.p = NULL; /* bcast_bytes returned rank 0's own buffer */
    int rc = text ? 0 : SF_E_NOMEM;
    if (R->rank != 0 && !rc) {
        R->facts.n = (size_t)n;
        R->facts.paths = calloc(n ? n : 1, sizeof *R->facts.paths);
        R->facts.sizes = calloc(n ? n : 1, sizeof *R->facts.sizes);
        if (!R->facts.paths || !R->facts.sizes)
            MPI_Abort(R->comm, 1); /* cannot take part in the next broadcast */
        const char *p = text;
        for (size_t i = 0; i < n; i++) {
            R->facts.paths[i] = strdup(p);
            if (!R->facts.paths[i])
                MPI_Abort(R->comm, 1);
            p += strlen(p) + 1;
        }
    }
    MPI_Bcast(R->facts.sizes, (int)n, MPI_UINT64_T, 0, R->comm);
    R->acct = calloc(n ? n : 1, sizeof *R->acct);
    if (!R->acct)
        rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory");
    free(text);
    sf_buf_free(&names);
    return rc;
}

/* Keeps only the rows of a dimension table whose key this rank owns. */
static int partition_dimension(run *R, int input)
{
    sf_join_table *all = R->dims[input];
    const sf_job_input *in = &R->job->inputs[input];
    sf_join_table *mine = sf_join_table_new(in->ncolumns, in->key_col);
    unsigned char small[256];
    int rc = mine ? 0 : SF_E_NOMEM;
    for (size_t i = 0; i < sf_join_table_rows(all) && !rc; i++) {
        const sf_value *row = sf_join_table_row(all, i);
        size_t klen = sf_value_encoded_size(&row[in->key_col]);
        unsigned char *k = klen <= sizeof small ? small : malloc(klen);
        if (!k) {
            rc = SF_E_NOMEM;
            break;
        }
        sf_value_encode(&row[in->key_col], k);
        if (owner_of(R, partition_of(R, sf_groups_hash(k, klen))) == R->rank)
            rc = sf_join_table_add(mine, row);
        if (k != small)
            free(k);
    }
    if (rc) {
        sf_join_table_free(mine);
        return sf_error_set(&R->err, SF_E_NOMEM, "out of memory partitioning '%s'", in->name);
    }
    sf_join_table_free(all);
    R->dims[input] = mine;
    return 0;
}

/* Settles --repartition: before-join takes the join with the largest
 * dimension table; before-aggregate switches to a partitioned join on its
 * own for a table over --broadcast-limit (and says so). */
static int choose_strategy(run *R)
{
    const sf_job *job = R->job;
    R->repartition = R->o->repartition;
    R->join_step = -1;
    for (size_t i = 0; i < job->nsteps; i++) {
        const sf_job_step *st = &job->steps[i];
        if (st->kind != SF_STEP_JOIN)
            continue;
        uint64_t size = R->input_size[st->input];
        if (R->repartition == SF_REPART_BEFORE_JOIN &&
            (R->join_step < 0 || size > R->input_size[job->steps[R->join_step].input]))
            R->join_step = (int)i;
        if (R->repartition == SF_REPART_BEFORE_AGGREGATE && size > R->o->broadcast_limit) {
            R->repartition = SF_REPART_BEFORE_JOIN;
            R->join_step = (int)i;
            if (R->rank == 0)
                fprintf(stderr, "shardflow: dimension '%s' (%llu bytes) is larger than "
                        "--broadcast-limit (%llu bytes): joining it partitioned "
                        "(--repartition before-join)\n", job->inputs[st->input].name,
                        (unsigned long long)size, (unsigned long long)R->o->broadcast_limit);
        }
    }
    if (R->repartition == SF_REPART_BEFORE_JOIN && R->join_step < 0)
        return sf_error_set(&R->err, SF_E_SPEC, "--repartition before-join: the job has no "
                            "join step");
    if (R->repartition == SF_REPART_BEFORE_JOIN)
        return partition_dimension(R, job->steps[R->join_step].input);
    return 0;
}

/* Rank 0 checks every input and the output before any work; then the fact
 * size and the dimension tables' bytes are broadcast. */
static int plan(run *R)
{
    const sf_job *job = R->job;
    int rc = 0;
    if (R->rank == 0) {
        for (size_t i = 0; i < job->ninputs && !rc; i++) {
            uint64_t size;
            if ((int)i == job->fact) {
                rc = sf_inputs_expand(job->inputs[i].name, job->inputs[i].path, &R->facts,
                                      &R->err);
                for (size_t f = 0; !rc && f < R->facts.n; f++)
                    R->fact_size += R->facts.sizes[f];
                R->input_size[i] = R->fact_size;
                continue;
            }
            rc = sf_file_size(job->inputs[i].path, &size, &R->err);
            if (rc == SF_E_NOTFOUND || rc == SF_E_INVAL)
                sf_error_prefix(&R->err, "input '%s'", job->inputs[i].name);
            if (!rc)
                R->input_size[i] = size;
            if (!rc && access(job->inputs[i].path, R_OK) != 0)
                rc = sf_error_set(&R->err, SF_E_IO, "input '%s': cannot read '%s'",
                                  job->inputs[i].name, job->inputs[i].path);
        }
        if (!rc) {
            rc = sf_output_prepare(&R->stage, job->output.path, R->o->overwrite, R->runid,
                                   &R->err);
            if (!rc && R->stage.note[0])
                fprintf(stderr, "shardflow: %s\n", R->stage.note);
            R->staged = rc == 0;
            R->replacing = R->stage.replacing;
        }
    }
    if (agree(R, rc, 1))
        return -1;
    int64_t hdr[2] = {(int64_t)R->fact_size, R->replacing};
    MPI_Bcast(hdr, 2, MPI_INT64_T, 0, R->comm);
    MPI_Bcast(R->input_size, SF_MAX_INPUTS, MPI_UINT64_T, 0, R->comm);
    R->fact_size = (uint64_t)hdr[0];
    if (R->rank != 0) {
        if (sf_output_paths(&R->stage, job->output.path, (int)hdr[1], R->runid) != 0)
            rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory");
    }
    if (!rc)
        rc = bcast_facts(R);
    if (agree(R, rc, 0))
        return -1;

    for (size_t i = 0; i < job->ninputs; i++) {
        if ((int)i == job->fact)
            continue;
        const sf_job_input *in = &job->inputs[i];
        char *data = NULL;
        size_t len = 0;
        int64_t n = -1;
        if (R->rank == 0 && sf_read_file(in->path, &data, &len, &R->err) == 0)
            n = (int64_t)len;
        data = bcast_bytes(R, data, &n);
        rc = data ? sf_dimtable_load(in, data, (size_t)n, &R->dims[i], &R->err) : SF_E_IO;
        free(data);
        if (agree(R, rc, 1))
            return -1;
    }
    rc = choose_strategy(R);
    if (agree(R, rc, 1))
        return -1;
    inject_fault(R);
    return 0;
}

/* ---- shuffle partial aggregates, reduce ---- */

/* The partition of a key hash, and the rank that owns a partition. */
static uint32_t partition_of(const run *R, uint64_t hash)
{
    return sf_partition_of(hash, (uint32_t)R->nparts);
}

static int owner_of(const run *R, uint32_t partition)
{
    return (int)(partition % (uint32_t)R->nranks);
}

static int merge_group(void *ctx, const unsigned char *rec, size_t len, int source)
{
    run *R = ctx;
    (void)source;
    return sf_groups_merge_record(R->reduced, rec, len, &R->err);
}

static int shuffle_groups(run *R)
{
    sf_groups *local = sf_pipeline_groups(R->pipe);
    sf_buf *out = calloc((size_t)R->nranks, sizeof *out);
    sf_buf rec = SF_BUF_INIT;
    int rc = out ? sf_groups_prepare_export(local) : SF_E_NOMEM;
    /* The combiner becomes the reduce table: groups this rank owns stay
     * where they are; the others are exported to their owners and retired
     * here, and records from other ranks merge in. */
    R->reduced = sf_pipeline_take_groups(R->pipe);
    size_t n = rc ? 0 : sf_groups_count(local);
    for (size_t i = 0; i < n && !rc; i++) {
        const unsigned char *key;
        size_t klen;
        uint64_t hash;
        sf_groups_key(local, i, &key, &klen, &hash);
        int to = owner_of(R, partition_of(R, hash));
        if (to == R->rank)
            continue;
        rec.n = 0;
        rc = sf_groups_export(local, i, &rec);
        if (!rc)
            rc = sf_shuffle_put(&out[to], rec.p, rec.n);
        sf_groups_retire(R->reduced, i);
    }
    sf_buf_free(&rec);
    sf_pipeline_free(R->pipe);
    R->pipe = NULL;
    if (rc)
        sf_error_set(&R->err, rc, "out of memory serializing partial aggregates");
    if (out)
        rc = sf_shuffle_exchange(R->comm, out, R->o->shuffle_round, merge_group, R, &R->shuffle,
                                 rc ? NULL : &R->err);
    for (int d = 0; out && d < R->nranks; d++)
        sf_buf_free(&out[d]);
    free(out);
    return rc;
}

/* Offers a group to the heaviest-keys list, its key printed as the group
 * values joined with '|'. */
static void offer_key(run *R, const sf_value *row, uint64_t nrows)
{
    sf_buf text = SF_BUF_INIT;
    int rc = 0;
    for (size_t k = 0; k < R->job->ngroup && !rc; k++) {
        char tmp[SF_FMT_BUF];
        const sf_value *v = &row[k];
        rc = k ? sf_buf_append(&text, "|", 1) : 0;
        switch ((sf_type)v->type) {
        case SF_NULL: rc |= sf_buf_printf(&text, "null"); break;
        case SF_BOOL: rc |= sf_buf_printf(&text, "%s", v->u.b ? "true" : "false"); break;
        case SF_INT: sf_fmt_int(v->u.i, tmp); rc |= sf_buf_printf(&text, "%s", tmp); break;
        case SF_DOUBLE: sf_fmt_double(v->u.d, tmp); rc |= sf_buf_printf(&text, "%s", tmp); break;
        case SF_DATE: sf_fmt_date(v->u.date, tmp); rc |= sf_buf_printf(&text, "%s", tmp); break;
        case SF_STRING: rc |= sf_buf_append(&text, v->u.s.p, v->u.s.n); break;
        }
    }
    if (!rc && sf_buf_append(&text, "", 1) == 0)
        sf_metrics_offer_key(&R->m, (const char *)text.p, nrows);
    sf_buf_free(&text);
}

/* Final rows of this rank's groups: group key values, aggregates, NULL
 * window columns. */
static int reduce(run *R)
{
    const sf_job *job = R->job;
    sf_rows_init(&R->rows, job->nresult);
    R->part_groups = calloc((size_t)R->nparts, sizeof *R->part_groups);
    R->part_rows = calloc((size_t)R->nparts, sizeof *R->part_rows);
    int rc = R->part_groups && R->part_rows ? sf_groups_prepare_export(R->reduced) : SF_E_NOMEM;
    if (!rc)
        rc = sf_rows_reserve(&R->rows, sf_groups_live_count(R->reduced));
    size_t n = rc ? 0 : sf_groups_count(R->reduced);
    for (size_t i = 0; i < n && !rc; i++) {
        if (!sf_groups_live(R->reduced, i))
            continue;
        sf_value *row = sf_rows_append(&R->rows);
        if (!row) {
            rc = SF_E_NOMEM;
            break;
        }
        const unsigned char *key;
        size_t klen, p = 0;
        uint64_t hash;
        sf_groups_key(R->reduced, i, &key, &klen, &hash);
        for (size_t k = 0; k < job->ngroup; k++)
            p += sf_value_decode(key + p, klen - p, &row[k]);
        for (size_t j = 0; j < job->naggs; j++)
            row[job->ngroup + j] = sf_groups_result(R->reduced, i, j, &R->sum_overflow);
        /* Strings borrow from R->reduced, which lives until the rows
         * are routed (route_rows) or the run ends. */
        uint64_t nrows = sf_groups_rows(R->reduced, i);
        uint32_t part = partition_of(R, hash);
        R->part_groups[part]++;
        R->part_rows[part] += nrows;
        if (R->m.ntop < SF_TOP_KEYS || nrows >= R->m.top[SF_TOP_KEYS - 1].rows)
            offer_key(R, row, nrows);
    }
    if (rc)
        sf_error_set(&R->err, rc, "out of memory building result rows");
    return rc;
}

/* ---- moving rows between ranks ---- */

static int keep_row(void *ctx, const unsigned char *rec, size_t len, int source)
{
    run *R = ctx;
    (void)source;
    int rc = sf_rows_append_record(&R->rows, rec, len);
    if (rc)
        sf_error_set(&R->err, rc, "bad or unstorable row record from rank %d", source);
    return rc;
}

/* Sends every row to the rank owning the hash of its key columns, or, when
 * dest >= 0, every row to rank dest; the rows table then holds the rows
 * this rank kept and received. Collective. */
static int route_rows(run *R, const int *keys, size_t nkeys, int dest)
{
    sf_buf *out = calloc((size_t)R->nranks, sizeof *out);
    sf_buf key = SF_BUF_INIT;
    int rc = out ? 0 : SF_E_NOMEM;
    size_t ncols = R->rows.ncols;
    /* Rows that stay on this rank are not encoded, exchanged and decoded:
     * they move down to the front of the same table (row i to kept <= i),
     * with copies of their strings in a new arena, so no second table is
     * ever held. */
    sf_rows mine;
    sf_rows_init(&mine, ncols);
    size_t kept = 0;
    for (size_t i = 0; i < R->rows.n && !rc; i++) {
        const sf_value *row = sf_rows_at(&R->rows, i);
        int to = dest;
        if (to < 0) {
            key.n = 0;
            for (size_t k = 0; k < nkeys && !rc; k++) {
                rc = sf_buf_reserve(&key, sf_value_encoded_size(&row[keys[k]]));
                if (!rc)
                    key.n += sf_value_encode(&row[keys[k]], key.p + key.n);
            }
            to = owner_of(R, partition_of(R, sf_groups_hash(key.p, key.n)));
        }
        if (to == R->rank && !rc) {
            sf_value *dst = sf_rows_at(&R->rows, kept++);
            if (dst != row)
                memcpy(dst, row, ncols * sizeof *dst);
            for (size_t c = 0; c < ncols && !rc; c++)
                rc = sf_rows_keep_string(&mine, &dst[c]);
            continue;
        }
        unsigned char *p = rc ? NULL : sf_shuffle_reserve(&out[to],
                                                         sf_rows_encoded_size(row, ncols));
        if (!p)
            rc = SF_E_NOMEM;
        else
            sf_rows_encode(row, ncols, p);
    }
    sf_buf_free(&key);
    if (rc)
        sf_error_set(&R->err, rc, "out of memory routing rows");
    /* The records hold copies of the rows that left; the kept rows and
     * the arena of their strings make the new table, and the old arena
     * goes before anything is received. */
    sf_arena_free(&R->rows.mem);
    R->rows.mem = mine.mem;
    R->rows.n = rc ? 0 : kept;
    /* Nothing borrows from the group table any more (the old rows did):
     * free it before the new rows arrive. */
    sf_groups_free(R->reduced);
    R->reduced = NULL;
    if (out)
        rc = sf_shuffle_exchange(R->comm, out, R->o->shuffle_round, keep_row, R, &R->shuffle,
                                 rc ? NULL : &R->err);
    for (int d = 0; out && d < R->nranks; d++)
        sf_buf_free(&out[d]);
    free(out);
    return rc;
}

static int windows(run *R)
{
    const sf_job *job = R->job;
    for (size_t w = 0; w < job->nwindows; w++) {
        const sf_job_window *win = &job->windows[w];
        int rc = route_rows(R, win->partition_by, win->npartition, -1);
        if (agree(R, rc, 0))
            return -1;
        int *keys = malloc((win->npartition + 1) * sizeof *keys);
        rc = keys ? 0 : SF_E_NOMEM;
        if (keys) {
            memcpy(keys, win->partition_by, win->npartition * sizeof *keys);
            keys[win->npartition] = win->order_by;
            rc = sf_rows_sort(&R->rows, keys, win->npartition + 1);
        }
        free(keys);
        if (!rc)
            rc = sf_window_eval(&R->rows, win, (int)(job->ngroup + job->naggs + w));
        if (rc)
            sf_error_set(&R->err, rc, "out of memory evaluating window '%s'", win->name);
        if (agree(R, rc, 0))
            return -1;
    }
    return 0;
}

/* ---- write ---- */

static int add_file(run *R, const char *rel, uint64_t rows, uint64_t bytes)
{
    return sf_out_files_add(&R->files, &R->nfiles, rel, rows, bytes);
}

/* Hash of a whole result row; summed over all written rows it gives a
 * digest of the output that does not depend on how rows were split. */
static uint64_t row_hash(run *R, const sf_value *row)
{
    unsigned char small[512];
    size_t n = sf_rows_encoded_size(row, R->rows.ncols);
    unsigned char *p = n <= sizeof small ? small : malloc(n);
    if (!p)
        return 0;
    sf_rows_encode(row, R->rows.ncols, p);
    uint64_t h = sf_groups_hash(p, n);
    if (p != small)
        free(p);
    return h;
}

/* Writes rows [lo, hi) - one partition value - to DIR/part-NNNNN.csv. */
/* The Hive directory of the partition that starts at row lo ("" when the
 * output is not partitioned), appended to out. */
static int partition_dir(run *R, size_t lo, sf_buf *out)
{
    const sf_job *job = R->job;
    const sf_job_output *o = &job->output;
    const sf_value *first = sf_rows_at(&R->rows, lo);
    sf_value pv[16] = {{0}}; /* the spec allows at most 16 partition columns */
    const char *pn[16] = {0};
    for (size_t k = 0; k < o->npartition; k++) {
        pv[k] = first[o->partition_by[k]];
        pn[k] = job->result_names[o->partition_by[k]];
    }
    return sf_hive_dirname(pn, pv, o->npartition, out);
}

static int write_csv(run *R, const char *path, size_t lo, size_t hi, uint64_t *bytes)
{
    const sf_job_output *o = &R->job->output;
    sf_csv_writer *w = NULL;
    int rc = sf_csv_writer_open(&w, path, &R->err);
    if (rc)
        return rc;
    for (size_t c = 0; c < o->ncolumns; c++)
        sf_csv_write_field(w, R->out_names[c], strlen(R->out_names[c]));
    sf_csv_end_row(w);
    for (size_t i = lo; i < hi; i++) {
        const sf_value *row = sf_rows_at(&R->rows, i);
        for (size_t c = 0; c < o->ncolumns; c++)
            sf_csv_write_value(w, &row[o->columns[c]]);
        sf_csv_end_row(w);
    }
    return sf_csv_writer_close(w, bytes, &R->err);
}

static int write_h5(run *R, const char *path, size_t lo, size_t hi, uint64_t *bytes)
{
    const sf_job_output *o = &R->job->output;
    sf_h5_writer *w = NULL;
    int rc = sf_h5_writer_open(&w, path, o->ncolumns, R->out_names, R->out_types, &R->h5opt,
                               &R->err);
    for (size_t i = lo; i < hi && !rc; i++)
        rc = sf_h5_writer_append_cols(w, sf_rows_at(&R->rows, i), o->columns);
    if (rc) {
        sf_error ignored;
        if (rc != SF_E_IO && rc != SF_E_NOMEM && rc != SF_E_TYPE)
            rc = SF_E_IO;
        if (w)
            sf_h5_writer_close(w, NULL, NULL, &ignored);
        if (!R->err.msg[0])
            sf_error_set(&R->err, rc, "%s: cannot write a row", path);
        return rc;
    }
    uint64_t rows = 0;
    return sf_h5_writer_close(w, &rows, bytes, &R->err);
}

/* Writes rows [lo, hi) - one partition value - to DIR/part-NNNNN.csv|h5. */
static int write_partition(run *R, size_t lo, size_t hi, int part)
{
    int h5 = strcmp(R->job->output.format, "hdf5") == 0;
    sf_buf rel = SF_BUF_INIT;
    int rc = partition_dir(R, lo, &rel);
    if (!rc)
        rc = sf_buf_printf(&rel, "%spart-%05d.%s", rel.n ? "/" : "", part, h5 ? "h5" : "csv");
    char *dir = NULL, *path = NULL;
    if (!rc) {
        size_t n = strlen(R->stage.tmpdir) + rel.n + 2;
        path = malloc(n);
        dir = malloc(n);
        if (!path || !dir)
            rc = SF_E_NOMEM;
        else {
            snprintf(path, n, "%s/%s", R->stage.tmpdir, (const char *)rel.p);
            snprintf(dir, n, "%s", path);
            *strrchr(dir, '/') = '\0';
        }
    }
    if (rc)
        sf_error_set(&R->err, rc, "out of memory");
    if (!rc)
        rc = sf_mkdirs(dir, &R->err);
    uint64_t bytes = 0;
    if (!rc)
        rc = h5 ? write_h5(R, path, lo, hi, &bytes) : write_csv(R, path, lo, hi, &bytes);
    if (!rc && add_file(R, (const char *)rel.p, hi - lo, bytes) != 0)
        rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory");
    for (size_t i = lo; i < hi && !rc; i++)
        R->digest += row_hash(R, sf_rows_at(&R->rows, i));
    sf_buf_free(&rel);
    free(dir);
    free(path);
    return rc;
}

/* --layout single: every rank's partitions go into one OUT/output.h5 with a
 * group per partition value, written collectively. Collective. */
static int write_single(run *R)
{
    const sf_job_output *o = &R->job->output;
    size_t cap = 16, nparts = 0;
    sf_h5single_part *parts = malloc(cap * sizeof *parts);
    sf_buf names = SF_BUF_INIT; /* NUL-separated partition names */
    size_t *name_at = malloc(cap * sizeof *name_at);
    int rc = parts && name_at ? 0 : SF_E_NOMEM;
    size_t lo = 0;
    for (size_t i = 1; i <= R->rows.n && !rc; i++) {
        if (i < R->rows.n && same_values(sf_rows_at(&R->rows, lo), sf_rows_at(&R->rows, i),
                                         o->partition_by, o->npartition))
            continue;
        if (nparts == cap) {
            cap *= 2;
            sf_h5single_part *p2 = realloc(parts, cap * sizeof *parts);
            size_t *n2 = p2 ? realloc(name_at, cap * sizeof *name_at) : NULL;
            if (p2)
                parts = p2;
            if (n2)
                name_at = n2;
            if (!p2 || !n2) {
                rc = SF_E_NOMEM;
                break;
            }
        }
        name_at[nparts] = names.n;
        rc = partition_dir(R, lo, &names);
        if (!rc)
            rc = sf_buf_append(&names, "", 1);
        parts[nparts].rows = sf_rows_at(&R->rows, lo);
        parts[nparts].nrows = i - lo;
        nparts++;
        for (size_t k = lo; k < i; k++)
            R->digest += row_hash(R, sf_rows_at(&R->rows, k));
        lo = i;
    }
    /* An unpartitioned output with no rows still gets its (empty) table. */
    uint64_t mine = R->rows.n, all = 0;
    MPI_Allreduce(&mine, &all, 1, MPI_UINT64_T, MPI_SUM, R->comm);
    if (!rc && all == 0 && o->npartition == 0 && R->rank == 0) {
        name_at[0] = names.n;
        rc = sf_buf_append(&names, "", 1);
        parts[0].rows = NULL;
        parts[0].nrows = 0;
        nparts = 1;
    }
    for (size_t k = 0; k < nparts && !rc; k++)
        parts[k].name = (const char *)names.p + name_at[k];
    if (rc)
        sf_error_set(&R->err, rc, "out of memory collecting partitions");
    /* Everyone must reach the collective write, or no one. */
    if (agree(R, rc, 0)) {
        free(parts);
        free(name_at);
        sf_buf_free(&names);
        return -1;
    }
    size_t n = strlen(R->stage.tmpdir) + 16;
    char *path = malloc(n);
    if (!path)
        MPI_Abort(R->comm, 1); /* cannot skip the collective write */
    snprintf(path, n, "%s/output.h5", R->stage.tmpdir);
    sf_h5single_table table = {o->ncolumns, R->out_names, R->out_types, o->columns,
                               R->rows.ncols};
    uint64_t rows = 0, bytes = 0;
    rc = sf_h5single_write(R->comm, path, &table, parts, nparts, &R->h5opt, &rows, &bytes,
                           &R->err);
    if (!rc && R->rank == 0 && add_file(R, "output.h5", rows, bytes) != 0)
        rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory");
    free(path);
    free(parts);
    free(name_at);
    sf_buf_free(&names);
    return rc;
}

static int same_values(const sf_value *a, const sf_value *b, const int *cols, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        if (sf_value_cmp(&a[cols[k]], &b[cols[k]]) != 0)
            return 0;
    }
    return 1;
}

/* Forms the output files as --write says: repartition sends each row to the
 * owner of its partition value (one part-00000 per value); coalesce=N sends
 * all rows of ranks [k*P/N, (k+1)*P/N) to writer k without rehashing (at
 * most N files per value, part-<k>); local writes what each rank holds
 * (part-<rank>). Within a file rows are in sort_by order. */
static int write_output(run *R)
{
    const sf_job_output *o = &R->job->output;
    int part = 0, rc = 0;
    switch (R->o->write_mode) {
    case SF_WRITE_REPARTITION:
        rc = route_rows(R, o->partition_by, o->npartition, -1);
        break;
    case SF_WRITE_COALESCE: {
        int n = R->o->coalesce < R->nranks ? R->o->coalesce : R->nranks;
        part = (int)((int64_t)R->rank * n / R->nranks);
        /* Writer k is the first rank of its group, so writers are spread. */
        int writer = (int)(((int64_t)part * R->nranks + n - 1) / n);
        rc = route_rows(R, NULL, 0, writer);
        break;
    }
    case SF_WRITE_LOCAL:
        part = R->rank;
        break;
    }
    if (agree(R, rc, 0))
        return -1;
    /* Partition, sort_by, then the written columns in their order: the same
     * order `shardflow cat` merges split partitions in, so any split of a
     * partition into files prints the same. */
    size_t nkeys = o->npartition + o->nsort + o->ncolumns;
    int *keys = malloc((nkeys + 1) * sizeof *keys);
    rc = keys ? 0 : sf_error_set(&R->err, SF_E_NOMEM, "out of memory");
    if (keys) {
        memcpy(keys, o->partition_by, o->npartition * sizeof *keys);
        memcpy(keys + o->npartition, o->sort_by, o->nsort * sizeof *keys);
        memcpy(keys + o->npartition + o->nsort, o->columns, o->ncolumns * sizeof *keys);
        if (sf_rows_sort(&R->rows, keys, nkeys) != 0)
            rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory sorting output rows");
    }
    free(keys);
    if (strcmp(o->layout, "single") == 0)
        return agree(R, rc, 0) ? -1 : write_single(R);
    size_t lo = 0;
    for (size_t i = 1; i <= R->rows.n && !rc; i++) {
        if (i == R->rows.n || !same_values(sf_rows_at(&R->rows, lo), sf_rows_at(&R->rows, i),
                                           o->partition_by, o->npartition)) {
            rc = write_partition(R, lo, i, part);
            lo = i;
        }
    }
    /* An unpartitioned output with no rows at all still gets one file (a
     * header), from rank 0. */
    uint64_t mine = R->rows.n, all = 0;
    MPI_Allreduce(&mine, &all, 1, MPI_UINT64_T, MPI_SUM, R->comm);
    if (!rc && o->npartition == 0 && all == 0 && R->rank == 0)
        rc = write_partition(R, 0, 0, 0);
    return rc;
}

/* ---- manifest and summary (rank 0, after gathering) ---- */

static void *gather_bytes(run *R, const void *data, size_t len, size_t *total)
{
    return sf_mpi_gather_bytes(R->comm, data, len, total);
}

static void gather_stats(run *R)
{
    MPI_Reduce(&R->local_counts, &R->counts, sizeof R->counts / sizeof(uint64_t), MPI_UINT64_T,
               MPI_SUM, 0, R->comm);
    size_t total = 0;
    sf_reject_sample *all = gather_bytes(R, R->local_samples,
                                         R->nlocal_samples * sizeof *all, &total);
    for (size_t i = 0; all && i < total / sizeof *all; i++)
        sf_samples_insert(R->samples, &R->nsamples, &all[i]);
    free(all);
}


static const char *repartition_text(sf_repartition r)
{
    return r == SF_REPART_BEFORE_JOIN ? "before-join"
           : r == SF_REPART_NONE      ? "none"
                                      : "before-aggregate";
}

static const char *write_mode_text(const sf_run_opts *o)
{
    static char text[32];
    if (o->write_mode == SF_WRITE_LOCAL)
        return "local";
    if (o->write_mode == SF_WRITE_COALESCE) {
        snprintf(text, sizeof text, "coalesce=%d", o->coalesce);
        return text;
    }
    return "repartition";
}

static int build_manifest(run *R, const out_file *files, size_t nfiles, const double *tmax,
                          const uint64_t *rss, const sf_shuffle_stats *sh, double wall,
                          sf_buf *m)
{
    const sf_job *job = R->job;
    const sf_counts *c = &R->counts;
    uint64_t out_rows = 0, out_bytes = 0;
    for (size_t i = 0; i < nfiles; i++) {
        out_rows += files[i].rows;
        out_bytes += files[i].bytes;
    }
    int rc = sf_buf_printf(m, "{\n  \"shardflow_version\": \"%s\",\n  \"job\": ", SF_VERSION);
    rc |= sf_buf_json_string(m, job->name, strlen(job->name));
    rc |= sf_buf_printf(m, ",\n  \"run_id\": \"%s\",\n  \"ranks\": %d,\n  \"schedule\": \"%s\","
                        "\n  \"decoder\": \"%s\",\n  \"chunk_size\": %llu,\n  \"repartition\": \"%s\",\n"
                        "  \"partitioned_join\": %s%s%s,\n  \"partitions\": %d,\n"
                        "  \"write\": \"%s\",\n  \"status\": \"committed\",\n  \"inputs\": [",
                        R->runid, R->nranks,
                        R->o->schedule == SF_SCHED_STATIC ? "static" : "dynamic",
                        sf_decoder_kind_name((sf_decoder_kind)R->o->decoder),
                        (unsigned long long)R->chunk_size, repartition_text(R->repartition),
                        R->join_step >= 0 ? "\"" : "",
                        R->join_step >= 0 ? job->inputs[job->steps[R->join_step].input].name
                                          : "null",
                        R->join_step >= 0 ? "\"" : "", R->nparts, write_mode_text(R->o));
    for (size_t i = 0; i < job->ninputs; i++) {
        uint64_t size = R->input_size[i]; /* as planned; all files for the fact input */
        rc |= sf_buf_printf(m, "%s\n    {\"name\": \"%s\", \"role\": \"%s\", \"path\": ",
                            i ? "," : "", job->inputs[i].name,
                            job->inputs[i].is_fact ? "fact" : "dimension");
        rc |= sf_buf_json_string(m, job->inputs[i].path, strlen(job->inputs[i].path));
        rc |= sf_buf_printf(m, ", \"bytes\": %llu", (unsigned long long)size);
        if (!job->inputs[i].is_fact)
            rc |= sf_buf_printf(m, ", \"rows\": %zu", sf_join_table_rows(R->dims[i]));
        for (size_t f = 0; job->inputs[i].is_fact && f < R->facts.n; f++) {
            const struct file_acct *a = &R->acct_all[f];
            rc |= sf_buf_printf(m, "%s\n      {\"path\": ", f ? "," : ", \"files\": [");
            rc |= sf_buf_json_string(m, R->facts.paths[f], strlen(R->facts.paths[f]));
            rc |= sf_buf_printf(m, ", \"bytes\": %llu, \"lines\": %llu, \"blank\": %llu, "
                                "\"rejected\": %llu}%s", (unsigned long long)a->bytes,
                                (unsigned long long)a->lines, (unsigned long long)a->blank,
                                (unsigned long long)a->rejected,
                                f + 1 == R->facts.n ? "]" : "");
        }
        rc |= sf_buf_printf(m, "}");
    }
    const sf_job_output *out = &job->output;
    rc |= sf_buf_printf(m, "\n  ],\n  \"output\": {\"format\": \"%s\", \"layout\": \"%s\", "
                        "\"partition_by\": [", out->format, out->layout);
    for (size_t k = 0; k < out->npartition; k++)
        rc |= sf_buf_printf(m, "%s\"%s\"", k ? ", " : "", job->result_names[out->partition_by[k]]);
    rc |= sf_buf_printf(m, "],\n    \"columns\": [");
    for (size_t k = 0; k < out->ncolumns; k++)
        rc |= sf_buf_printf(m, "%s{\"name\": \"%s\", \"type\": \"%s\"}", k ? ", " : "",
                            R->out_names[k], sf_type_name(R->out_types[k]));
    rc |= sf_buf_printf(m, "],\n    \"sort_by\": [");
    for (size_t k = 0; k < out->nsort; k++)
        rc |= sf_buf_printf(m, "%s\"%s\"", k ? ", " : "", job->result_names[out->sort_by[k]]);
    rc |= sf_buf_printf(m, "]},");
    rc |= sf_buf_printf(m, "\n  \"counts\": {\n    \"lines_read\": %llu,\n"
                        "    \"blank_lines\": %llu,\n    \"rows_rejected\": %llu,\n"
                        "    \"rows_filtered\": %llu,\n    \"rows_dropped_by_join\": %llu,\n"
                        "    \"rows_aggregated\": %llu,\n    \"groups\": %llu,\n"
                        "    \"output_rows\": %llu,\n    \"rejected_by_reason\": {",
                        (unsigned long long)c->lines_read, (unsigned long long)c->blank_lines,
                        (unsigned long long)c->rows_rejected, (unsigned long long)c->rows_filtered,
                        (unsigned long long)c->rows_dropped_by_join,
                        (unsigned long long)c->rows_aggregated, (unsigned long long)out_rows,
                        (unsigned long long)out_rows);
    int first = 1;
    for (int r = 0; r < SF_REJ_NREASONS; r++) {
        if (!c->rejected_by_reason[r])
            continue;
        rc |= sf_buf_printf(m, "%s\"%s\": %llu", first ? "" : ", ",
                            sf_reject_reason_name((sf_reject_reason)r),
                            (unsigned long long)c->rejected_by_reason[r]);
        first = 0;
    }
    rc |= sf_buf_printf(m, "},\n    \"dropped_by_join\": {");
    first = 1;
    for (size_t i = 0; i < job->ninputs; i++) {
        if (job->inputs[i].is_fact)
            continue;
        rc |= sf_buf_printf(m, "%s\"%s\": %llu", first ? "" : ", ", job->inputs[i].name,
                            (unsigned long long)c->dropped_by_join[i]);
        first = 0;
    }
    rc |= sf_buf_printf(m, "}\n  },\n  \"exploded\": {\"rows\": %llu, \"filtered\": %llu, "
                        "\"dropped_by_join\": %llu, \"aggregated\": %llu},",
                        (unsigned long long)c->rows_exploded,
                        (unsigned long long)c->exploded_filtered,
                        (unsigned long long)c->exploded_dropped_by_join,
                        (unsigned long long)c->exploded_aggregated);
    rc |= sf_buf_printf(m, "\n  \"mode\": \"%s\",\n  \"bad_records\": %llu,\n"
                        "  \"rejected_samples\": ",
                        R->o->mode == SF_MODE_FAILFAST        ? "failfast"
                        : R->o->mode == SF_MODE_DROPMALFORMED ? "dropmalformed"
                                                              : "permissive",
                        (unsigned long long)R->bad_written);
    rc |= sf_manifest_samples(m, R->samples, R->nsamples,
                              (const char *const *)R->facts.paths);
    rc |= sf_buf_printf(m, ",\n  \"files\": ");
    rc |= sf_manifest_files(m, files, nfiles);
    rc |= sf_buf_printf(m, ",\n  \"output_bytes\": %llu,\n  \"bytes_scanned\": %llu,\n"
                        "  \"phases_seconds\": {",
                        (unsigned long long)out_bytes,
                        (unsigned long long)c->bytes_scanned);
    for (int p = 0; p < SF_PH_COUNT; p++)
        rc |= sf_buf_printf(m, "%s\"%s\": %.6f", p ? ", " : "", sf_phase_name(p), tmax[p]);
    rc |= sf_buf_printf(m, "},\n  \"wall_seconds\": %.6f,\n  \"shuffle\": {\"bytes_sent\": %llu, "
                        "\"records_sent\": %llu, \"messages_sent\": %llu, \"rounds\": %llu},\n"
                        "  \"peak_rss_bytes\": [",
                        wall, (unsigned long long)sh->bytes_sent,
                        (unsigned long long)sh->records_sent, (unsigned long long)sh->messages_sent,
                        (unsigned long long)sh->rounds);
    for (int r = 0; r < R->nranks; r++)
        rc |= sf_buf_printf(m, "%s%llu", r ? ", " : "", (unsigned long long)rss[r]);
    rc |= sf_buf_printf(m, "]\n}\n");
    return rc ? SF_E_NOMEM : 0;
}

static void print_summary(run *R, const out_file *files, size_t nfiles,
                          const sf_phase_stat *total, const uint64_t *rss, double wall)
{
    const sf_counts *c = &R->counts;
    uint64_t rows = 0, maxrss = 0;
    for (size_t i = 0; i < nfiles; i++)
        rows += files[i].rows;
    for (int r = 0; r < R->nranks; r++)
        maxrss = rss[r] > maxrss ? rss[r] : maxrss;
    double mb = (double)c->bytes_scanned / 1e6;
    fprintf(stderr, "shardflow: %s: %llu lines, %.1f MB in %.2f s on %d rank%s (%.1f MB/s)\n",
            R->job->name, (unsigned long long)c->lines_read, mb, wall, R->nranks,
            R->nranks == 1 ? "" : "s", wall > 0 ? mb / wall : 0);
    fprintf(stderr, "  %-10s %9s %12s %12s %10s\n", "phase", "max s", "rows in", "rows out",
            "MB sent");
    for (int p = 0; p < SF_PH_COUNT; p++)
        fprintf(stderr, "  %-10s %9.3f %12llu %12llu %10.2f\n", sf_phase_name(p), total[p].secs,
                (unsigned long long)total[p].rows_in, (unsigned long long)total[p].rows_out,
                (double)total[p].bytes_sent / 1e6);
    fprintf(stderr, "  lines read %llu = aggregated %llu + filtered %llu + rejected %llu + "
            "dropped by join %llu + blank %llu\n",
            (unsigned long long)c->lines_read, (unsigned long long)c->rows_aggregated,
            (unsigned long long)c->rows_filtered, (unsigned long long)c->rows_rejected,
            (unsigned long long)c->rows_dropped_by_join, (unsigned long long)c->blank_lines);
    if (c->rows_exploded)
        fprintf(stderr, "  rows from explode beyond each line's first: %llu = aggregated %llu + "
                "filtered %llu + dropped by join %llu\n", (unsigned long long)c->rows_exploded,
                (unsigned long long)c->exploded_aggregated,
                (unsigned long long)c->exploded_filtered,
                (unsigned long long)c->exploded_dropped_by_join);
    for (size_t i = 0; i < R->nsamples && i < 3; i++)
        fprintf(stderr, "  rejected: %s: byte %llu: %s\n", R->facts.paths[R->samples[i].file],
                (unsigned long long)R->samples[i].offset, R->samples[i].msg);
    if (c->rows_rejected > 3)
        fprintf(stderr, "  (%llu rejected lines in all; see _MANIFEST.json)\n",
                (unsigned long long)c->rows_rejected);
    if (R->sum_overflow)
        fprintf(stderr, "  warning: an int64 sum overflowed; its value is empty in the output\n");
    fprintf(stderr, "  peak RSS per rank: %.1f MiB (max)\n", (double)maxrss / 1048576.0);
    fprintf(stderr, "  output: %s (%zu file%s, %llu rows)\n", R->stage.out, nfiles,
            nfiles == 1 ? "" : "s", (unsigned long long)rows);
}

/* Per fact file: every byte planned was scanned, the lines add up, and the
 * file has not changed size since it was planned (rank 0). */
static int check_files(run *R)
{
    const char *name = R->job->inputs[R->job->fact].name;
    uint64_t lines = 0;
    for (size_t f = 0; f < R->facts.n; f++) {
        const struct file_acct *a = &R->acct_all[f];
        uint64_t now = 0;
        sf_error e;
        lines += a->lines;
        if (sf_file_size(R->facts.paths[f], &now, &e) != 0 || now != R->facts.sizes[f])
            return sf_error_set(&R->err, SF_E_IO, "input '%s': '%s' changed during the run "
                                "(%llu bytes when planned, %llu now); nothing was committed",
                                name, R->facts.paths[f], (unsigned long long)R->facts.sizes[f],
                                (unsigned long long)now);
        if (a->bytes != R->facts.sizes[f])
            return sf_error_set(&R->err, SF_E_INTERNAL, "internal error: input '%s': scanned "
                                "%llu bytes of '%s', planned %llu", name,
                                (unsigned long long)a->bytes, R->facts.paths[f],
                                (unsigned long long)R->facts.sizes[f]);
        if (a->blank + a->rejected > a->lines)
            return sf_error_set(&R->err, SF_E_INTERNAL, "internal error: input '%s': line "
                                "counts of '%s' do not add up", name, R->facts.paths[f]);
    }
    if (lines != R->counts.lines_read)
        return sf_error_set(&R->err, SF_E_INTERNAL, "internal error: %llu lines counted per "
                            "file, %llu in all", (unsigned long long)lines,
                            (unsigned long long)R->counts.lines_read);
    return 0;
}

static void fill_result(run *R, const out_file *files, size_t nfiles, const double *tmax,
                        const sf_shuffle_stats *sh, double wall, uint64_t digest,
                        const sf_metrics_summary *sum)
{
    sf_run_result *res = R->res;
    memset(res, 0, sizeof *res);
    res->wall = wall;
    for (int p = 0; p < SF_PH_COUNT; p++)
        res->phase[p] = tmax[p];
    res->bytes_moved = sh->bytes_sent;
    res->messages = sh->messages_sent;
    res->files = nfiles;
    for (size_t i = 0; i < nfiles; i++) {
        res->output_bytes += files[i].bytes;
        res->output_rows += files[i].rows;
    }
    res->digest = digest;
    res->repartition = repartition_text(R->repartition);
    res->groups_skew = sum->groups_skew;
    res->stream_skew = sum->stream_skew;
    res->rows_skew = sum->rows_skew;
}

/* Gathers metrics, builds the manifest and commits (rank 0). Collective. */
static int finish(run *R, double t_start)
{
    size_t nbytes = 0;
    out_file *files = gather_bytes(R, R->files, R->nfiles * sizeof *R->files, &nbytes);
    size_t nfiles = nbytes / sizeof *files;
    gather_stats(R);
    uint64_t myrss = sf_peak_rss_bytes();
    uint64_t *rss = R->rank == 0 ? calloc((size_t)R->nranks, sizeof *rss) : NULL;
    MPI_Gather(&myrss, 1, MPI_UINT64_T, rss, 1, MPI_UINT64_T, 0, R->comm);
    sf_shuffle_stats sh;
    MPI_Reduce(&R->shuffle, &sh, sizeof sh / sizeof(uint64_t), MPI_UINT64_T, MPI_SUM, 0,
               R->comm);
    int overflow = 0;
    MPI_Reduce(&R->sum_overflow, &overflow, 1, MPI_INT, MPI_MAX, 0, R->comm);
    R->sum_overflow = overflow;
    uint64_t digest = 0;
    MPI_Reduce(&R->digest, &digest, 1, MPI_UINT64_T, MPI_SUM, 0, R->comm);
    size_t nf = R->facts.n;
    R->acct_all = R->rank == 0 ? calloc(nf ? nf : 1, sizeof *R->acct_all) : NULL;
    if (R->rank == 0 && !R->acct_all)
        MPI_Abort(R->comm, 1); /* cannot take part in the reduction */
    MPI_Reduce(R->acct, R->acct_all, (int)(4 * nf), MPI_UINT64_T, MPI_SUM, 0, R->comm);

    /* Commit is rank 0's work; its time is measured up to the metrics
     * report, which has to be written before the commit moves it. */
    sf_metrics_begin(&R->m, &R->shuffle);
    int rc = 0;
    if (R->rank == 0) {
        sf_out_files_sort(files, nfiles);
        const sf_counts *c = &R->counts;
        if (c->lines_read != c->blank_lines + c->rows_rejected + c->rows_filtered +
                                 c->rows_dropped_by_join + c->rows_aggregated ||
            c->rows_exploded != c->exploded_filtered + c->exploded_dropped_by_join +
                                    c->exploded_aggregated)
            rc = sf_error_set(&R->err, SF_E_INTERNAL, "internal error: line accounting does not "
                              "add up (read %llu)", (unsigned long long)c->lines_read);
        if (!rc)
            rc = check_files(R);
        sf_metrics_end(&R->m, SF_PH_COMMIT, &R->shuffle, nfiles, nfiles);
    }
    sf_buf metrics = SF_BUF_INIT;
    sf_metrics_summary sum;
    memset(&sum, 0, sizeof sum);
    double tmax[SF_PH_COUNT] = {0};
    sf_file_stats fstats = {0, 0, 0, 0};
    for (size_t i = 0; i < nfiles; i++) {
        uint64_t b = files[i].bytes;
        fstats.count++;
        fstats.bytes += b;
        fstats.min_bytes = i == 0 || b < fstats.min_bytes ? b : fstats.min_bytes;
        fstats.max_bytes = b > fstats.max_bytes ? b : fstats.max_bytes;
    }
    if (sf_metrics_report(R->comm, &R->m, R->part_groups, R->part_rows, R->nparts, &fstats,
                          &metrics, &sum) != 0 && !rc)
        rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory building _METRICS.json");
    for (int p = 0; p < SF_PH_COUNT; p++)
        tmax[p] = sum.total[p].secs;
    if (R->rank == 0) {
        double t0 = MPI_Wtime();
        sf_buf m = SF_BUF_INIT;
        double wall = MPI_Wtime() - t_start;
        if (!rc && build_manifest(R, files, nfiles, tmax, rss, &sh, wall, &m) != 0)
            rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory building the manifest");
        if (!rc) {
            size_t n = strlen(R->stage.tmpdir) + 16;
            char *path = malloc(n);
            if (!path)
                rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory");
            else {
                snprintf(path, n, "%s/_METRICS.json", R->stage.tmpdir);
                rc = sf_write_file_atomic(path, metrics.p, metrics.n, &R->err);
                free(path);
            }
        }
        if (!rc)
            rc = sf_output_commit(&R->stage, (const char *)m.p, m.n, &R->err);
        tmax[SF_PH_COMMIT] += MPI_Wtime() - t0;
        wall = MPI_Wtime() - t_start;
        if (!rc)
            R->staged = 0;
        if (!rc && R->res)
            fill_result(R, files, nfiles, tmax, &sh, wall, digest, &sum);
        if (!rc && !R->o->quiet)
            print_summary(R, files, nfiles, sum.total, rss, wall);
        sf_buf_free(&m);
    }
    sf_buf_free(&metrics);
    free(files);
    free(rss);
    return rc;
}

/* ---- the scan's sink: the pipeline, plus accounting per fact file ---- */

/* A line the pipeline rejected, as --mode says: spilled for
 * _bad_records (permissive), only counted (dropmalformed), or the end of
 * the run with file:line:offset (failfast). */
static int bad_line(run *R, int file, uint64_t offset, const char *text, size_t len)
{
    const char *msg;
    int reason = sf_pipeline_last_reject(R->pipe, &msg);
    const char *why = sf_reject_reason_name((sf_reject_reason)reason);
    const char *path = R->facts.paths[file];
    if (R->o->mode == SF_MODE_FAILFAST) {
        uint64_t before = 0;
        sf_error e;
        if (sf_count_lines_before(path, offset, &before, &e) != 0)
            return sf_error_set(&R->err, SF_E_PARSE, "%s:?:%llu: %s (--mode failfast)", path,
                                (unsigned long long)offset, msg);
        R->exit_code = 2;
        return sf_error_set(&R->err, SF_E_PARSE, "%s:%llu:%llu: %s (--mode failfast)", path,
                            (unsigned long long)before + 1, (unsigned long long)offset, msg);
    }
    if (R->o->mode != SF_MODE_PERMISSIVE)
        return 0;
    if (!R->spill) {
        size_t n = strlen(R->stage.tmpdir) + 64;
        char *dir = malloc(n), *spill = malloc(n);
        int rc = dir && spill ? 0 : sf_error_set(&R->err, SF_E_NOMEM, "out of memory");
        if (!rc) {
            snprintf(dir, n, "%s/_bad_records", R->stage.tmpdir);
            snprintf(spill, n, "%s/.spill-%05d", dir, R->rank);
            rc = sf_mkdirs(dir, &R->err);
        }
        if (!rc)
            rc = sf_badrec_open(&R->spill, spill, &R->err);
        free(dir);
        free(spill);
        if (rc)
            return rc;
    }
    if (sf_badrec_add(R->spill, R->cur_chunk, R->cur_line, file, offset, why, msg, text, len))
        return sf_error_set(&R->err, SF_E_IO, "cannot spill bad records under %s: %s",
                            R->stage.tmpdir, strerror(errno));
    return 0;
}

static int run_line(void *ctx, const char *line, size_t len, int file, uint64_t offset)
{
    run *R = ctx;
    struct file_acct *a = &R->acct[file];
    uint64_t rejected = sf_pipeline_counts(R->pipe)->rows_rejected;
    a->lines++;
    a->blank += len == 0;
    R->cur_line++;
    int rc = sf_pipeline_push(R->pipe, line, len, file, offset);
    if (!rc && sf_pipeline_counts(R->pipe)->rows_rejected != rejected) {
        a->rejected++;
        rc = bad_line(R, file, offset, line, len);
    }
    return rc;
}

static int run_too_long(void *ctx, int file, uint64_t offset, const char *msg)
{
    run *R = ctx;
    R->acct[file].lines++;
    R->acct[file].rejected++;
    R->cur_line++;
    sf_pipeline_reject(R->pipe, file, offset, SF_REJ_LINE_TOO_LONG, msg);
    return bad_line(R, file, offset, "", 0);
}

static int run_chunk_begin(void *ctx, size_t chunk)
{
    run *R = ctx;
    R->cur_chunk = chunk;
    R->cur_line = 0;
    return 0;
}

static int run_chunk_end(void *ctx, size_t chunk, uint64_t bytes)
{
    run *R = ctx;
    sf_pipeline_add_bytes(R->pipe, bytes);
    R->acct[R->chunks[chunk].file].bytes += bytes;
    R->chunk_lines[chunk] = R->cur_line;
    return 0;
}

/* After the scan: --max-bad, then (permissive) every rank's spill becomes
 * _bad_records/part-<rank>.jsonl, numbered from the per-chunk line counts
 * of all ranks. Collective. */
static int finish_bad_lines(run *R)
{
    uint64_t mine[2] = {sf_pipeline_counts(R->pipe)->rows_rejected,
                        sf_pipeline_counts(R->pipe)->lines_read};
    uint64_t all[2];
    MPI_Allreduce(mine, all, 2, MPI_UINT64_T, MPI_SUM, R->comm);
    const sf_run_opts *o = R->o;
    double pct = all[1] ? 100.0 * (double)all[0] / (double)all[1] : 0;
    if (o->max_bad_set && (o->max_bad_pct >= 0 ? pct > o->max_bad_pct : all[0] > o->max_bad)) {
        char limit[64];
        if (o->max_bad_pct >= 0)
            snprintf(limit, sizeof limit, "%g%%", o->max_bad_pct);
        else
            snprintf(limit, sizeof limit, "%llu", (unsigned long long)o->max_bad);
        R->exit_code = 2;
        sf_error_set(&R->err, SF_E_LIMIT, "%llu bad lines (%.3g%% of %llu read) exceed "
                     "--max-bad %s; nothing was committed", (unsigned long long)all[0], pct,
                     (unsigned long long)all[1], limit);
        return agree(R, SF_E_LIMIT, 1) ? -1 : 0;
    }
    int any = R->spill != NULL;
    MPI_Allreduce(MPI_IN_PLACE, &any, 1, MPI_INT, MPI_MAX, R->comm);
    if (!any)
        return 0;
    uint64_t *lines = calloc(R->nchunks ? R->nchunks : 1, sizeof *lines);
    if (!lines)
        MPI_Abort(R->comm, 1); /* cannot take part in the reduction */
    MPI_Allreduce(R->chunk_lines, lines, (int)R->nchunks, MPI_UINT64_T, MPI_SUM, R->comm);
    /* First line number of each chunk: 1 + the lines of the earlier chunks
     * of its file (chunks are in file order, then offset order). */
    uint64_t next = 1;
    for (size_t c = 0; c < R->nchunks; c++) {
        if (c == 0 || R->chunks[c].file != R->chunks[c - 1].file)
            next = 1;
        uint64_t n = lines[c];
        lines[c] = next;
        next += n;
    }
    int rc = 0;
    uint64_t count = 0;
    if (R->spill) {
        size_t n = strlen(R->stage.tmpdir) + 64;
        char *path = malloc(n);
        if (!path)
            rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory");
        else {
            snprintf(path, n, "%s/_bad_records/part-%05d.jsonl", R->stage.tmpdir, R->rank);
            rc = sf_badrec_finish(R->spill, path, (const char *const *)R->facts.paths, lines,
                                  &count, &R->err);
        }
        R->spill = NULL;
        free(path);
    }
    free(lines);
    MPI_Reduce(&count, &R->bad_written, 1, MPI_UINT64_T, MPI_SUM, 0, R->comm);
    return agree(R, rc, 0) ? -1 : 0;
}

/* ---- raw-row streams (before-join, none) ---- */

/* Counts a route key in the space-saving sketch (Metwally et al.): a key
 * not in the full sketch replaces the smallest counter, inheriting its
 * count. Returns the key's estimated count (an upper bound). */
static uint64_t sketch_count(run *R, uint64_t hash)
{
    int min = 0;
    for (int i = 0; i < R->nhot; i++) {
        if (R->hot[i].hash == hash)
            return ++R->hot[i].count;
        if (R->hot[i].count < R->hot[min].count)
            min = i;
    }
    if (R->nhot < (int)(sizeof R->hot / sizeof R->hot[0])) {
        R->hot[R->nhot].hash = hash;
        R->hot[R->nhot].count = 1;
        return R->hot[R->nhot++].count;
    }
    R->hot[min].hash = hash;
    return ++R->hot[min].count;
}

static int emit_row(void *ctx, uint64_t hash, const unsigned char *rec, size_t len)
{
    run *R = ctx;
    R->routed++;
    int dest = owner_of(R, partition_of(R, hash));
    if (R->o->salt > 1 && R->repartition == SF_REPART_NONE) {
        /* A key with more than half a partition's fair share of the rows
         * seen so far is hot: its rows rotate over salt consecutive ranks
         * from its owner (as partial owners); the group shuffle then merges
         * the partials exactly. */
        uint64_t c = sketch_count(R, hash);
        if (R->routed >= 1024 && c * 2 * (uint64_t)R->nparts > R->routed)
            dest = (int)(((uint64_t)dest + R->routed % (uint64_t)R->o->salt) %
                         (uint64_t)R->nranks);
    }
    return sf_stream_put(R->stream, dest, rec, len);
}

static int take_row(void *ctx, const unsigned char *rec, size_t len, int source)
{
    run *R = ctx;
    R->m.stream_rows_in++;
    int rc = sf_pipeline_push_row(R->pipe, rec, len);
    if (rc)
        sf_error_set(&R->err, rc, "bad or unstorable row from rank %d", source);
    return rc;
}

/* Splits the pipeline where the strategy ships raw rows and opens the row
 * stream; before-aggregate needs neither. */
static int setup_stream(run *R)
{
    const sf_job *job = R->job;
    if (R->repartition == SF_REPART_BEFORE_AGGREGATE)
        return 0;
    size_t split = job->nsteps;
    const int *route = job->group_slots;
    size_t nroute = job->ngroup;
    if (R->repartition == SF_REPART_BEFORE_JOIN) {
        split = (size_t)R->join_step;
        route = &job->steps[R->join_step].on_slot;
        nroute = 1;
    }
    size_t batch = R->o->shuffle_round / (uint64_t)R->nranks;
    if (batch > ((size_t)4 << 20))
        batch = (size_t)4 << 20;
    R->stream = sf_stream_new(R->comm, 201, batch, take_row, R, NULL, NULL);
    if (!R->stream || sf_pipeline_split(R->pipe, split, route, nroute, emit_row, R) != 0)
        return sf_error_set(&R->err, SF_E_NOMEM, "out of memory setting up the row stream");
    return 0;
}

/* ---- entry points ---- */

static int run_job(run *R)
{
    double t_start = MPI_Wtime();
    if (load_job(R) != 0) {
        if (R->rank == 0)
            fprintf(stderr, "shardflow: %s\n", R->err.msg);
        return 2;
    }
    make_runid(R);
    R->nparts = R->o->partitions > 0 ? R->o->partitions : R->nranks;
    sf_metrics_begin(&R->m, &R->shuffle);
    if (plan(R) != 0)
        return 1;
    int progress = R->o->progress >= 0 ? R->o->progress : isatty(STDERR_FILENO);
    int rc = 0;
    R->pipe = sf_pipeline_new(R->job, R->dims, (sf_decoder_kind)R->o->decoder, &R->err);
    if (!R->pipe)
        rc = SF_E_NOMEM;
    size_t nchunks = 0;
    R->chunk_size = sf_run_chunk_size(R->o->chunk_size, R->fact_size, R->nranks);
    sf_chunk *chunks = rc ? NULL : sf_scan_make_chunks(R->facts.sizes, R->facts.n,
                                                       R->chunk_size, &nchunks);
    if (!rc && !chunks)
        rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory planning chunks");
    if (!rc)
        rc = setup_stream(R);
    sf_metrics_end(&R->m, SF_PH_PLAN, &R->shuffle, 0, 0);
    if (agree(R, rc, 0)) {
        free(chunks);
        return 1;
    }

    sf_metrics_begin(&R->m, &R->shuffle);
    sf_scan_sink sink = {run_line, run_too_long, run_chunk_begin, run_chunk_end, R};
    R->chunks = chunks;
    R->nchunks = nchunks;
    R->chunk_lines = calloc(nchunks ? nchunks : 1, sizeof *R->chunk_lines);
    if (!R->chunk_lines)
        MPI_Abort(R->comm, 1); /* every rank is about to start the scan */
    rc = sf_scan_run(R->comm, (const char *const *)R->facts.paths, chunks, nchunks, R->o,
                     progress, &sink, R->stream, &R->scan, &R->err);
    if (R->stream) {
        sf_stream_stats(R->stream, &R->shuffle);
        sf_stream_free(R->stream);
        R->stream = NULL;
    }
    /* Keep the counts: the shuffle frees the pipeline. */
    R->local_counts = *sf_pipeline_counts(R->pipe);
    const sf_reject_sample *s = sf_pipeline_samples(R->pipe, &R->nlocal_samples);
    memcpy(R->local_samples, s, R->nlocal_samples * sizeof *s);
    uint64_t local_groups = sf_groups_count(sf_pipeline_groups(R->pipe));
    sf_metrics_end(&R->m, SF_PH_SCAN, &R->shuffle, R->local_counts.lines_read, local_groups);
    if (agree(R, rc, 0)) {
        free(chunks);
        R->chunks = NULL;
        MPI_Allreduce(MPI_IN_PLACE, &R->exit_code, 1, MPI_INT, MPI_MAX, R->comm);
        return R->exit_code;
    }
    rc = finish_bad_lines(R);
    free(chunks);
    R->chunks = NULL;
    if (rc)
        return R->exit_code;

    sf_metrics_begin(&R->m, &R->shuffle);
    rc = shuffle_groups(R);
    sf_metrics_end(&R->m, SF_PH_SHUFFLE, &R->shuffle, local_groups,
                   R->reduced ? sf_groups_live_count(R->reduced) : 0);
    if (agree(R, rc, 0))
        return 1;

    sf_metrics_begin(&R->m, &R->shuffle);
    rc = reduce(R);
    sf_metrics_end(&R->m, SF_PH_REDUCE, &R->shuffle, sf_groups_live_count(R->reduced), R->rows.n);
    if (agree(R, rc, 0))
        return 1;

    sf_metrics_begin(&R->m, &R->shuffle);
    uint64_t rows_before = R->rows.n;
    rc = windows(R);
    sf_metrics_end(&R->m, SF_PH_WINDOW, &R->shuffle, rows_before, R->rows.n);
    if (rc)
        return 1;

    sf_metrics_begin(&R->m, &R->shuffle);
    rows_before = R->rows.n;
    rc = write_output(R);
    uint64_t written = 0;
    for (size_t i = 0; i < R->nfiles; i++)
        written += R->files[i].rows;
    sf_metrics_end(&R->m, SF_PH_WRITE, &R->shuffle, rows_before, written);
    if (agree(R, rc, 0))
        return 1;

    rc = finish(R, t_start);
    if (agree(R, rc, 1))
        return 1;
    return 0;
}

static void run_free(run *R)
{
    sf_stream_free(R->stream);
    sf_badrec_discard(R->spill);
    free(R->chunk_lines);
    sf_pipeline_free(R->pipe);
    sf_groups_free(R->reduced);
    sf_rows_free(&R->rows);
    for (size_t i = 0; i < SF_MAX_INPUTS; i++)
        sf_join_table_free(R->dims[i]);
    if (R->rank == 0 && R->staged)
        sf_output_abort(&R->stage);
    sf_output_stage_free(&R->stage);
    sf_job_free(R->job);
    sf_inputs_free(&R->facts);
    free(R->acct);
    free(R->acct_all);
    free(R->out_names);
    free(R->out_types);
    free(R->files);
    free(R->part_groups);
    free(R->part_rows);
}

int sf_run_main(const sf_run_opts *o) { return sf_run_job(o, NULL); }

int sf_run_job(const sf_run_opts *o, sf_run_result *res)
{
    run *R = calloc(1, sizeof *R);
    if (!R) {
        fprintf(stderr, "shardflow: out of memory\n");
        return 1;
    }
    R->comm = MPI_COMM_WORLD;
    MPI_Comm_rank(R->comm, &R->rank);
    MPI_Comm_size(R->comm, &R->nranks);
    R->o = o;
    R->res = res;
    R->exit_code = 1;
    sf_error_clear(&R->err);
    sf_rows_init(&R->rows, 0);
    int rc = run_job(R);
    if (rc && R->rank == 0 && R->staged)
        fprintf(stderr, "shardflow: run failed; nothing was committed%s\n",
                R->replacing ? " and the previous output is untouched" : "");
    run_free(R);
    free(R);
    return rc;
}

static void print_plan(const sf_job *job)
{
    printf("job %s: valid\n", job->name);
    for (size_t i = 0; i < job->ninputs; i++) {
        const sf_job_input *in = &job->inputs[i];
        printf("  input %-10s %-9s %-5s %s\n", in->name, in->is_fact ? "fact" : "dimension",
               in->format == SF_FORMAT_CSV ? "csv" : "jsonl", in->path);
        for (size_t c = 0; c < in->ncolumns; c++)
            printf("      %-24s %s%s\n", in->columns[c].name, sf_type_name(in->columns[c].type),
                   (int)c == in->key_col ? " (key)" : "");
        if (in->is_fact && in->flatten) {
            const sf_flatten_opts *f = &in->flatten_opts;
            printf("      flattened with separator '%s'", f->sep ? f->sep : ".");
            for (size_t k = 0; k < f->nexplode; k++)
                printf("%s%s", k ? ", " : "; exploding ", f->explode[k]);
            printf("\n");
        }
    }
    for (size_t i = 0; i < job->nsteps; i++) {
        const sf_job_step *st = &job->steps[i];
        if (st->kind == SF_STEP_DERIVE)
            printf("  %s derive %s: %s\n", st->field, job->slot_names[st->slot],
                   sf_type_name(job->slot_types[st->slot]));
        else if (st->kind == SF_STEP_FILTER)
            printf("  %s filter\n", st->field);
        else
            printf("  %s %s join %s on %s (+%zu column%s)\n", st->field,
                   st->inner ? "inner" : "left", job->inputs[st->input].name,
                   job->slot_names[st->on_slot], st->nselect, st->nselect == 1 ? "" : "s");
    }
    printf("  group by:");
    for (size_t i = 0; i < job->ngroup; i++)
        printf("%s %s", i ? "," : "", job->slot_names[job->group_slots[i]]);
    printf("%s\n  result columns:\n", job->ngroup ? "" : " (one group)");
    for (size_t i = 0; i < job->nresult; i++)
        printf("      %-24s %s\n", job->result_names[i], sf_type_name(job->result_types[i]));
    printf("  output: %s (%s", job->output.path, job->output.format);
    for (size_t i = 0; i < job->output.npartition; i++)
        printf("%s%s=...", i ? "/" : ", partitioned by ",
               job->result_names[job->output.partition_by[i]]);
    printf(")\n");
}

int sf_validate_main(const sf_run_opts *o)
{
    char *text = NULL;
    size_t len = 0;
    sf_error err;
    sf_error_clear(&err);
    if (sf_read_file(o->job_path, &text, &len, &err) != 0) {
        fprintf(stderr, "shardflow: %s\n", err.msg);
        return 2;
    }
    sf_job_overrides ov = overrides_of(o);
    sf_job *job = NULL;
    int rc = sf_job_load(text, len, o->job_path, &ov, &job, &err);
    free(text);
    if (rc) {
        fprintf(stderr, "shardflow: %s\n", err.msg);
        return 2;
    }
    print_plan(job);
    sf_job_free(job);
    return 0;
}

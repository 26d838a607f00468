/* run_plan.c - `shardflow run`, plan: the spec on every rank, rank 0's
 * checks of the inputs and the output, the dimension tables broadcast as
 * bytes, and the strategy (--repartition) settled. */
#include "cli/run_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/bigmem.h"
#include "core/buf.h"
#include "core/hash.h"
#include "io/decompress.h"
#include "io/dimtable.h"
#include "io/fsutil.h"
#include "mpi/h5api.h"
#include "partition/dimension.h"


const char *sf_run_repartition_text(sf_repartition r)
{
    return r == SF_REPART_BEFORE_JOIN ? "before-join"
           : r == SF_REPART_NONE      ? "none"
                                      : "before-aggregate";
}

const char *sf_run_write_mode_text(const sf_run_opts *o)
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

sf_job_overrides sf_run_overrides(const sf_run_opts *o)
{
    sf_job_overrides ov = {o->input_names, o->input_paths, (size_t)o->ninputs, o->output,
                           o->format,      o->layout,      o->compression, NULL,
                           NULL,           NULL,           0};
    ov.param_names = o->param_names;
    ov.param_values = o->param_values;
    ov.nparams = (size_t)o->nparams;
    /* Paths in the spec are relative to the spec file's directory. One job
     * per process: the directory lives in static storage. */
    static char dir[4096];
    const char *slash = o->job_path ? strrchr(o->job_path, '/') : NULL;
    if (slash && (size_t)(slash - o->job_path) < sizeof dir) {
        size_t n = slash == o->job_path ? 1 : (size_t)(slash - o->job_path);
        memcpy(dir, o->job_path, n);
        dir[n] = '\0';
        ov.spec_dir = dir;
    }
    return ov;
}


int sf_run_load_job(sf_run *R)
{
    char *text = NULL;
    size_t len = 0;
    int64_t n = -1;
    if (R->rank == 0 && sf_read_file(R->o->job_path, &text, &len, &R->err) == 0)
        n = (int64_t)len;
    text = sf_mpi_bcast_bytes(R->comm, text, &n);
    int rc = text ? 0 : SF_E_IO;
    if (rc == 0) {
        sf_job_overrides ov = sf_run_overrides(R->o);
        rc = sf_job_load(text, (size_t)n, R->o->job_path, &ov, &R->job, &R->err);
        snprintf(R->spec_hash, sizeof R->spec_hash, "%016llx",
                 (unsigned long long)sf_hash_bytes(text, (size_t)n, 0));
    }
    free(text);
    R->spec = R->job;
    /* Every output's format options are checked now, before any work; the
     * first output's stay prepared. */
    for (size_t k = R->spec ? R->spec->noutputs : 0; rc == 0 && k-- > 0;) {
        R->job = &R->spec->outputs[k];
        rc = sf_run_prepare_output(R);
    }
    R->job = R->spec;
    return rc;
}

/* Output column names and types, HDF5 options and the checks that need the
 * output format; the same on every rank. */
int sf_run_prepare_output(sf_run *R)
{
    const sf_job *job = R->job;
    const sf_job_output *o = &job->output;
    free(R->out_names);
    free(R->out_types);
    memset(&R->csvopt, 0, sizeof R->csvopt);
    R->out_names = calloc(o->ncolumns + 1, sizeof *R->out_names);
    R->out_types = calloc(o->ncolumns + 1, sizeof *R->out_types);
    if (!R->out_names || !R->out_types)
        return sf_error_set(&R->err, SF_E_NOMEM, "out of memory");
    for (size_t c = 0; c < o->ncolumns; c++) {
        R->out_names[c] = job->result_names[o->columns[c]];
        R->out_types[c] = job->result_types[o->columns[c]];
    }
    free(R->out_dec); /* the previous output's (several outputs) */
    R->out_dec = calloc(o->ncolumns + 1, sizeof *R->out_dec);
    if (!R->out_dec)
        return sf_error_set(&R->err, SF_E_NOMEM, "out of memory");
    for (size_t c = 0; c < o->ncolumns; c++)
        R->out_dec[c] = sf_job_result_dec(job, o->columns[c]);
    sf_h5_options_init(&R->h5opt);
    R->h5opt.job = job->name;
    R->h5opt.spec_hash = R->spec_hash;
    sf_parquet_options_init(&R->pqopt);
    R->pqopt.decs = R->out_dec;
    if (strcmp(o->format, "parquet") == 0) {
        /* The run id is named later (sf_life_runid); the writer copies the
         * values when a file is opened, after that. */
        const char *keys[4] = {"shardflow.job", "shardflow.spec_hash", "shardflow.version",
                               "shardflow.run_id"};
        const char *vals[4] = {job->name, R->spec_hash, SF_VERSION, R->life.runid};
        memcpy(R->pq_kv_keys, keys, sizeof keys);
        memcpy(R->pq_kv_values, vals, sizeof vals);
        R->pqopt.kv_keys = R->pq_kv_keys;
        R->pqopt.kv_values = R->pq_kv_values;
        R->pqopt.nkv = 4;
        int rc = sf_parquet_parse_codec(o->compression, &R->pqopt, &R->err);
        if (!rc && R->o->row_group_size)
            rc = sf_parquet_parse_row_group_size(R->o->row_group_size, &R->pqopt, &R->err);
        if (rc)
            sf_error_prefix(&R->err, "%s", job->source);
        return rc ? SF_E_SPEC : 0;
    }
    if (strcmp(o->format, "csv") == 0) {
        int rc = sf_csv_parse_compression(o->compression, &R->csvopt, &R->err);
        if (rc)
            sf_error_prefix(&R->err, "%s: %s", job->source,
                            R->o->compression ? "--compression" : "output.compression");
        return rc ? SF_E_SPEC : 0;
    }
    if (strcmp(o->format, "hdf5") != 0)
        return 0;
    /* HDF5 is a plugin (mpi/h5api.h): a run that cannot load it stops
     * here, when the job is loaded, before any data is read. */
    int rc = sf_h5_load(&R->err);
    if (rc)
        return rc;
    rc = sf_h5_parse_compression(o->compression, &R->h5opt, &R->err);
    if (!rc)
        rc = sf_h5_check_columns(o->ncolumns, R->out_names, &R->err);
    if (!rc && strcmp(o->layout, "single") == 0 && R->o->write_mode != SF_WRITE_REPARTITION)
        rc = sf_error_set(&R->err, SF_E_SPEC, "--layout single writes each partition once: it "
                          "takes --write repartition, not %s", sf_run_write_mode_text(R->o));
    if (!rc && strcmp(o->layout, "single") == 0 &&
        R->o->commit_mode == SF_COMMIT_OVERWRITE_PARTITIONS)
        rc = sf_error_set(&R->err, SF_E_SPEC, "--layout single keeps every partition in one "
                          "file: --write-mode overwrite-partitions needs --layout hive");
    if (rc)
        sf_error_prefix(&R->err, "%s", job->source);
    return rc ? SF_E_SPEC : 0;
}

/* Fault injection for the tests (docs/testing.md): SF_FAULT=grow:PATH makes
 * rank 0 append a line to PATH once the run is planned, as a writer
 * appending to an input during the run would. */
static void inject_fault(sf_run *R)
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

/* Keeps only the rows of a dimension table whose key this rank owns. */
static int partition_dimension(sf_run *R, int input)
{
    const sf_job_input *in = &R->job->inputs[input];
    sf_join_table *mine = NULL;
    if (sf_partition_join_table(R->dims[input], in->ncolumns, in->key_col, R->nparts, R->nranks,
                                R->rank, &mine) != 0)
        return sf_error_set(&R->err, SF_E_NOMEM, "out of memory partitioning '%s'", in->name);
    sf_join_table_free(R->dims[input]);
    R->dims[input] = mine;
    return 0;
}

#define SAMPLE_BYTES ((size_t)64 << 10)

/* Rank 0: what the first SAMPLE_BYTES of a plain JSON Lines file say of
 * input in's projection (its columns' top-level names). A file that
 * cannot be sampled (CSV, compressed, a stream, unreadable) gives no
 * lines: fraction 1. */
static void sample_input(const sf_job_input *in, const char *path, sf_joinplan_sample *out)
{
    memset(out, 0, sizeof *out);
    sf_codec codec = SF_CODEC_NONE;
    sf_error err;
    if (in->format == SF_FORMAT_CSV || sf_codec_of_file(path, &codec, &err) != 0 ||
        codec != SF_CODEC_NONE)
        return;
    FILE *fp = fopen(path, "rb");
    char *buf = fp ? malloc(SAMPLE_BYTES) : NULL;
    size_t n = buf ? fread(buf, 1, SAMPLE_BYTES, fp) : 0;
    /* Top-level names: "props.price" reads the member "props". */
    char names[64][64];
    const char *np[64];
    size_t nn = 0;
    for (size_t c = 0; c < in->ncolumns && nn < 64; c++) {
        size_t len = strcspn(in->columns[c].name, ".");
        if (len >= sizeof names[0])
            continue;
        memcpy(names[nn], in->columns[c].name, len);
        names[nn][len] = '\0';
        np[nn] = names[nn];
        nn++;
    }
    if (n)
        sf_joinplan_scan_sample(buf, n, np, nn, out);
    free(buf);
    if (fp)
        fclose(fp);
}

/* Rank 0 samples the fact input's first file and every joined dimension;
 * every rank gets the fractions. Collective. */
static void sample_inputs(sf_run *R, double *fact_fraction, double *dim_fraction,
                          double *dim_line)
{
    const sf_job *job = R->job;
    double v[1 + 2 * SF_MAX_INPUTS];
    memset(v, 0, sizeof v);
    v[0] = 1.0;
    if (R->rank == 0) {
        sf_joinplan_sample s;
        const sf_input_files *in = &R->life.inputs;
        if (in->n > 0 && !in->streamed[0] && in->sizes[0] > 0) {
            sample_input(&job->inputs[job->fact], in->paths[0], &s);
            v[0] = sf_joinplan_fraction(&s);
        }
        for (size_t i = 0; i < job->ninputs && i < SF_MAX_INPUTS; i++) {
            if (!R->jplan[i].on)
                continue;
            sample_input(&job->inputs[i], job->inputs[i].path, &s);
            v[1 + 2 * i] = sf_joinplan_fraction(&s);
            v[2 + 2 * i] = s.lines ? (double)s.bytes / (double)s.lines : 0;
        }
    }
    MPI_Bcast(v, 1 + 2 * SF_MAX_INPUTS, MPI_DOUBLE, 0, R->comm);
    *fact_fraction = v[0];
    for (size_t i = 0; i < SF_MAX_INPUTS; i++) {
        dim_fraction[i] = v[1 + 2 * i];
        dim_line[i] = v[2 + 2 * i];
    }
}

/* Settles --repartition: before-join takes the join with the largest
 * dimension table; before-aggregate joins a table partitioned on its own
 * where core/joinplan says so (an explicit --broadcast-limit, else the
 * table's memory against the budget and its copies' bytes against the
 * fact rows' that would move), the largest such table if several. Rank 0
 * prints each join's plan with its figures (not with --quiet).
 * Collective. */
static int choose_strategy(sf_run *R)
{
    const sf_job *job = R->job;
    R->repartition = R->o->repartition;
    R->join_step = -1;
    if (job->dedupe_step >= 0 && R->repartition != SF_REPART_BEFORE_AGGREGATE)
        return sf_error_set(&R->err, SF_E_SPEC, "--repartition %s: the job has a dedupe step "
                            "(%s), which ships rows by its columns; only before-aggregate "
                            "runs it", sf_run_repartition_text(R->repartition),
                            job->steps[job->dedupe_step].field);
    int joins = 0;
    for (size_t i = 0; i < job->nsteps; i++) {
        const sf_job_step *st = &job->steps[i];
        if (st->kind == SF_STEP_JOIN && st->input >= 0 && st->input < SF_MAX_INPUTS) {
            R->jplan[st->input].on = 1;
            joins++;
        }
    }
    /* The room a broadcast table may take a quarter of: the budget's
     * state share, or with no limit the node's default share. */
    uint64_t room = R->mem.b.limit ? R->mem.b.state : R->mem.node.default_limit;
    MPI_Allreduce(MPI_IN_PLACE, &room, 1, MPI_UINT64_T, MPI_MIN, R->comm);
    double fact_fraction = 1.0, dim_fraction[SF_MAX_INPUTS], dim_line[SF_MAX_INPUTS];
    if (joins && R->repartition == SF_REPART_BEFORE_AGGREGATE && job->dedupe_step < 0)
        sample_inputs(R, &fact_fraction, dim_fraction, dim_line);
    for (size_t i = 0; i < job->nsteps; i++) {
        const sf_job_step *st = &job->steps[i];
        if (st->kind != SF_STEP_JOIN)
            continue;
        uint64_t size = R->input_size[st->input];
        if (R->repartition == SF_REPART_BEFORE_JOIN &&
            (R->join_step < 0 || size > R->input_size[job->steps[R->join_step].input]))
            R->join_step = (int)i;
        if (R->repartition != SF_REPART_BEFORE_AGGREGATE || job->dedupe_step >= 0)
            continue; /* said below, once the partitioned join is known */
        struct sf_run_jplan *jp = &R->jplan[st->input];
        const sf_job_input *in = &job->inputs[st->input];
        jp->in = (sf_joinplan_in){size,          dim_fraction[st->input], dim_line[st->input],
                                  in->ncolumns,  R->fact_size,            fact_fraction,
                                  R->nranks,     room,                    R->o->broadcast_limit,
                                  R->o->broadcast_limit_set};
        sf_joinplan_decide(&jp->in, &jp->plan);
        if (R->rank == 0 && !R->o->quiet) {
            char text[512];
            sf_joinplan_text(&jp->in, &jp->plan, in->name, text, sizeof text);
            fprintf(stderr, "shardflow: %s\n", text);
        }
        if (jp->plan.partitioned && (R->join_step < 0 ||
                                     size > R->input_size[job->steps[R->join_step].input]))
            R->join_step = (int)i;
    }
    if (R->join_step >= 0 && R->repartition == SF_REPART_BEFORE_AGGREGATE) {
        R->repartition = SF_REPART_BEFORE_JOIN;
        /* One join is partitioned: the others the rule would partition
         * too are broadcast after all. */
        int chosen = job->steps[R->join_step].input;
        for (size_t i = 0; i < job->ninputs && i < SF_MAX_INPUTS; i++) {
            if ((int)i == chosen || !R->jplan[i].plan.partitioned)
                continue;
            R->jplan[i].plan.partitioned = 0;
            if (R->rank == 0 && !R->o->quiet)
                fprintf(stderr, "shardflow: join '%s': broadcast after all: only one join "
                        "is partitioned, the largest ('%s')\n", job->inputs[i].name,
                        job->inputs[chosen].name);
        }
    }
    else if (R->join_step >= 0)
        R->jplan[job->steps[R->join_step].input].forced = 1;
    if (R->repartition == SF_REPART_BEFORE_JOIN && R->join_step < 0)
        return sf_error_set(&R->err, SF_E_SPEC, "--repartition before-join: the job has no "
                            "join step");
    /* Joins the rule did not weigh: what decided instead. */
    for (size_t i = 0; R->rank == 0 && !R->o->quiet && i < job->ninputs && i < SF_MAX_INPUTS;
         i++) {
        if (!R->jplan[i].on || R->jplan[i].in.nranks)
            continue;
        int part = R->join_step >= 0 && job->steps[R->join_step].input == (int)i;
        fprintf(stderr, "shardflow: join '%s': %s: %s\n", job->inputs[i].name,
                part ? "partitioned (before-join)" : "broadcast",
                job->dedupe_step >= 0 ? "a dedupe step runs before-aggregate"
                : R->o->repartition == SF_REPART_NONE ? "--repartition none"
                : part ? "--repartition before-join (the largest table)"
                       : "--repartition before-join partitions the largest table");
    }
    return 0;
}

/* The input whose table is partitioned (before-join), or -1. */
static int partitioned_input(const sf_run *R)
{
    if (R->repartition != SF_REPART_BEFORE_JOIN || R->join_step < 0)
        return -1;
    return R->job->steps[R->join_step].input;
}

static int keep_mine(void *ctx, const sf_value *row)
{
    sf_run *R = ctx;
    const sf_job_input *in = &R->job->inputs[partitioned_input(R)];
    return sf_partition_dimension_keeps(&row[in->key_col], R->nparts, R->nranks, R->rank);
}

#define DIM_PIECE ((size_t)8 << 20)

/* Rank 0: the next piece of fp into buf (whole lines of about DIM_PIECE
 * bytes; a longer line makes a longer piece; at the end, what is left):
 * its length, 0 at the end, or -1 on a read or allocation failure. */
static int64_t next_piece(FILE *fp, char **buf, size_t *have, size_t *cap, int *eof)
{
    while (!*eof) {
        if (*have == *cap) {
            /* The first piece's room is read into whole: in huge pages. */
            char *b = *buf ? realloc(*buf, *cap + DIM_PIECE + 1) /* + 1: bcast's NUL */
                           : sf_bigmem_alloc(DIM_PIECE + 1);
            if (!b)
                return -1;
            *buf = b;
            *cap += DIM_PIECE;
        }
        size_t got = fread(*buf + *have, 1, *cap - *have, fp);
        *have += got;
        if (ferror(fp))
            return -1;
        *eof = got == 0;
        if (*have == *cap) {
            size_t n = *have;
            while (n > 0 && (*buf)[n - 1] != '\n')
                n--;
            if (n > 0)
                return (int64_t)n;
        }
    }
    return (int64_t)*have;
}

/* Makes dimension input's table before its first piece (n bytes of whole
 * lines at piece) is loaded, told the rows to expect: the piece's lines
 * scaled to the file's size (less 1/32), so its index is made once at its
 * final size. Returns 0 or SF_E_NOMEM (err set). */
static int dim_new_sized(sf_run *R, int input, const char *piece, size_t n)
{
    const sf_job_input *in = &R->job->inputs[input];
    size_t lines = 0;
    for (const char *p = piece, *end = piece + n; p < end; lines++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : end;
    }
    /* Told a little less than the estimate: sizes are powers of two, and
     * an estimate just over a boundary the real count is under would
     * double the index for nothing; one under it costs one late growth. */
    double total = (double)R->input_size[input];
    double expect = total > (double)n ? (double)lines * total / (double)n : (double)lines;
    expect -= expect / 32;
    if (!(R->dims[input] = sf_join_table_new(in->ncolumns, in->key_col)))
        return sf_error_set(&R->err, SF_E_NOMEM, "%s: out of memory", in->path);
    if (expect < (double)UINT32_MAX)
        sf_join_table_reserve(R->dims[input], (size_t)expect);
    return 0;
}

/* Whether every rank reads dimension input's file itself (1) or rank 0
 * reads it and broadcasts it (0): rank 0's verdict, the same on every
 * rank. Every rank reads when all of them share one node and the file is a
 * regular one: each copies its pieces from the page cache, all at once,
 * where the broadcast had the others wait for rank 0's read of each piece
 * and then for the copy between them (S3's 9.6 MB users table: the plan
 * 0.026 -> 0.021 s at np 2). Across nodes rank 0 reads alone, so that
 * one rank, not every one, asks a shared file system for the file; and a
 * FIFO is read once. Collective. */
static int dim_read_by_all(sf_run *R, const char *path)
{
    int all = 0;
    struct stat st;
    if (R->rank == 0)
        all = R->nranks > 1 && R->mem.node.ranks_on_node == R->nranks && stat(path, &st) == 0 &&
              S_ISREG(st.st_mode);
    MPI_Bcast(&all, 1, MPI_INT, 0, R->comm);
    return all;
}

/* A JSONL dimension table in pieces of whole lines (about 8 MiB), each
 * read by every rank (dim_read_by_all) or by rank 0 and broadcast; every
 * rank indexes it, keeping only its own rows when the table is
 * partitioned. So no rank holds the whole file, and a partitioned table
 * never exists whole. Collective. */
static int load_jsonl_pieces(sf_run *R, int input)
{
    const sf_job_input *in = &R->job->inputs[input];
    int mine = input == partitioned_input(R);
    int all = dim_read_by_all(R, in->path);
    int reader = all || R->rank == 0;
    FILE *fp = NULL;
    char *buf = NULL;
    size_t have = 0, cap = 0;
    int eof = 0, rc = 0;
    long line = 0;
    if (reader && !(fp = fopen(in->path, "rb")))
        sf_error_set(&R->err, SF_E_IO, "cannot open '%s'", in->path);
    for (;;) {
        int64_t n = 0;
        char saved = 0;
        if (reader) {
            n = fp ? next_piece(fp, &buf, &have, &cap, &eof) : -1;
            if (n < 0 && fp)
                sf_error_set(&R->err, SF_E_IO, "cannot read '%s'", in->path);
            if (n > 0)
                saved = buf[n]; /* a NUL goes there, as the broadcast's */
        }
        char none[1] = {0};
        char *piece;
        if (all) {
            piece = n > 0 ? buf : none;
            if (n > 0)
                buf[n] = 0;
        } else {
            piece = sf_mpi_bcast_bytes(R->comm, n > 0 ? buf : n == 0 ? none : NULL, &n);
        }
        if (n < 0) {
            rc = SF_E_IO;
            if (!reader)
                sf_error_set(&R->err, SF_E_IO, "cannot read '%s' (rank 0 could not)", in->path);
            break;
        }
        if (n > 0 && !rc && !mine && !R->dims[input])
            rc = dim_new_sized(R, input, piece, (size_t)n);
        if (n > 0 && !rc)
            rc = sf_dimtable_load_jsonl_part(in, piece, (size_t)n, &line, mine ? keep_mine : NULL,
                                             R, &R->dims[input], &R->dim_dropped[input],
                                             &R->err);
        if (!reader) {
            free(piece);
        } else if (n > 0) {
            buf[n] = saved;
            memmove(buf, buf + n, have - (size_t)n);
            have -= (size_t)n;
        }
        if (n == 0)
            break;
    }
    if (fp)
        fclose(fp);
    free(buf);
    if (!rc && !R->dims[input])
        rc = sf_dimtable_load_jsonl_part(in, "", 0, &line, NULL, NULL, &R->dims[input], NULL,
                                         &R->err);
    /* A partitioned table's duplicates were seen by the rank owning their
     * key: the count is the sum (every rank calls this, rc or not). */
    if (mine)
        MPI_Allreduce(MPI_IN_PLACE, &R->dim_dropped[input], 1, MPI_UINT64_T, MPI_SUM, R->comm);
    return rc;
}

/* Rank 0 checks every input and the output before any work; then the fact
 * size and the dimension tables' bytes are broadcast. */
int sf_run_plan(sf_run *R)
{
    const sf_job *job = R->job;
    int rc = 0;
    if (R->rank == 0) {
        for (size_t i = 0; i < job->ninputs && !rc; i++) {
            uint64_t size;
            if ((int)i == job->fact) {
                rc = sf_life_expand(&R->life, job->inputs[i].name, job->inputs[i].path,
                                    &R->err);
                for (size_t f = 0; !rc && f < R->life.inputs.n; f++)
                    R->fact_size += R->life.inputs.sizes[f];
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
            rc = sf_life_stage(&R->life, job->output.path, R->o->commit_mode,
                               R->o->claim_timeout, &R->err);
            if (!rc && R->life.stage.note[0])
                fprintf(stderr, "shardflow: %s\n", R->life.stage.note);
        }
        /* Several outputs: each is claimed and staged as the first is. */
        for (size_t k = 1; !rc && k < job->noutputs; k++) {
            sf_lifecycle *L = &R->lives[k - 1];
            rc = sf_life_stage(L, job->outputs[k].output.path, R->o->commit_mode,
                               R->o->claim_timeout, &R->err);
            if (!rc && L->stage.note[0])
                fprintf(stderr, "shardflow: %s\n", L->stage.note);
        }
    }
    if (sf_run_agree(R, rc, 1))
        return SF_RUN_AGREED;
    MPI_Bcast(&R->fact_size, 1, MPI_UINT64_T, 0, R->comm);
    MPI_Bcast(R->input_size, SF_MAX_INPUTS, MPI_UINT64_T, 0, R->comm);
    rc = sf_life_share(&R->life, job->output.path, &R->err);
    for (size_t k = 1; k < job->noutputs; k++) {
        int krc = sf_life_share(&R->lives[k - 1], job->outputs[k].output.path, &R->err);
        rc = rc ? rc : krc;
    }
    size_t nf = R->life.inputs.n;
    R->acct = calloc(nf ? nf : 1, sizeof *R->acct);
    if (!rc && !R->acct)
        rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory");
    if (sf_run_agree(R, rc, 0))
        return SF_RUN_AGREED;

    /* The strategy first (it needs only the sizes): a partitioned table
     * is then kept partitioned while it loads. */
    rc = choose_strategy(R);
    if (sf_run_agree(R, rc, 1))
        return SF_RUN_AGREED;
    for (size_t i = 0; i < job->ninputs; i++) {
        if ((int)i == job->fact)
            continue;
        const sf_job_input *in = &job->inputs[i];
        if (in->format != SF_FORMAT_CSV) {
            /* A duplicate key shows on the rank that keeps it. */
            rc = load_jsonl_pieces(R, (int)i);
            if (sf_run_agree(R, rc, (int)i != partitioned_input(R)))
                return SF_RUN_AGREED;
            continue;
        }
        /* CSV fields may hold newlines: the file goes whole. */
        char *data = NULL;
        size_t len = 0;
        int64_t n = -1;
        if (R->rank == 0 && sf_read_file(in->path, &data, &len, &R->err) == 0)
            n = (int64_t)len;
        data = sf_mpi_bcast_bytes(R->comm, data, &n);
        rc = data ? sf_dimtable_load_counted(in, data, (size_t)n, &R->dims[i],
                                                       &R->dim_dropped[i], &R->err) : SF_E_IO;
        free(data);
        if (!rc && (int)i == partitioned_input(R))
            rc = partition_dimension(R, (int)i);
        if (sf_run_agree(R, rc, 1))
            return SF_RUN_AGREED;
    }
    inject_fault(R);
    return 0;
}


int sf_run_plan_compressed(sf_run *R, sf_chunk **chunks, size_t *n)
{
    int rc = 0, any = 0;
    sf_buf plan = SF_BUF_INIT;
    const sf_input_files *in = &R->life.inputs;
    if (R->rank == 0 && !R->fact_codec) {
        R->fact_codec = calloc(in->n ? in->n : 1, sizeof *R->fact_codec);
        if (!R->fact_codec)
            rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory planning chunks");
    }
    for (size_t f = 0; R->rank == 0 && *chunks && !rc && f < in->n; f++) {
        const char *path = in->paths[f];
        sf_codec codec = SF_CODEC_NONE;
        if (in->sizes[f] > 0)
            rc = sf_codec_of_file(path, &codec, &R->err);
        if (!rc && !sf_codec_supported(codec))
            rc = sf_error_set(&R->err, SF_E_INVAL, "%s is %s-compressed; shardflow reads gzip "
                              "and zstd inputs (decompress it first)", path,
                              sf_codec_name(codec));
        if (rc)
            break;
        R->fact_codec[f] = (int32_t)codec;
        if (codec == SF_CODEC_NONE) {
            for (size_t i = 0; i < *n; i++)
                if ((*chunks)[i].file == (int32_t)f)
                    rc |= sf_buf_append(&plan, &(*chunks)[i], sizeof **chunks);
            continue;
        }
        any = 1;
        sf_zrange *zr = NULL;
        size_t nz = 0, units = 0;
        rc = sf_decompress_split(path, codec, in->sizes[f], R->chunk_size, &zr, &nz, &units,
                                 &R->err);
        /* A range also decodes the unit before it (for its last byte): with
         * large units (zstd frames of a few MiB) and the automatic chunk
         * size, ranges of a few units would decode a third more than the
         * file. Fewer, larger ranges, while there are still two per rank. */
        size_t per = units / (2 * (size_t)R->nranks);
        per = per > 8 ? 8 : per;
        if (!rc && !R->o->chunk_size && nz > 1 && per > 1 && units / nz < per) {
            free(zr);
            zr = NULL;
            rc = sf_decompress_split(path, codec, in->sizes[f], in->sizes[f] / units * per, &zr,
                                     &nz, NULL, &R->err);
        }
        for (size_t i = 0; !rc && i < nz; i++) {
            sf_chunk c = {(int32_t)f, (int32_t)codec, zr[i].start, zr[i].end, zr[i].prev, 0,
                          SF_CHUNK_RANGE, 0};
            rc = sf_buf_append(&plan, &c, sizeof c);
        }
        free(zr);
    }
    /* sf_mpi_bcast_bytes ends rank 0's buffer with a NUL: room for it. */
    if (!rc && R->rank == 0)
        rc = sf_buf_reserve(&plan, 1);
    if (rc && !R->err.msg[0])
        rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory planning chunks");
    int flag[2] = {rc != 0, any};
    MPI_Bcast(flag, 2, MPI_INT, 0, R->comm);
    if (flag[0] || !flag[1]) {
        sf_buf_free(&plan);
        return rc;
    }
    int64_t len = (int64_t)plan.n;
    char *bytes = sf_mpi_bcast_bytes(R->comm, (char *)plan.p, &len);
    if (R->rank == 0)
        plan.p = NULL; /* sf_mpi_bcast_bytes returned rank 0's own buffer */
    sf_buf_free(&plan);
    free(*chunks);
    *chunks = (sf_chunk *)(void *)bytes;
    *n = (size_t)len / sizeof **chunks;
    return 0;
}

/* Bytes of whole lines per block of a feed: --chunk-size when smaller,
 * else 4 MiB (a few blocks per rank are in memory at once). */
static uint64_t feed_block(const sf_run *R)
{
    uint64_t b = (uint64_t)4 << 20;
    return R->o->chunk_size && R->o->chunk_size < b ? R->o->chunk_size : b;
}

int sf_run_plan_feeds(sf_run *R, sf_chunk *chunks, size_t *n)
{
    const sf_input_files *in = &R->life.inputs;
    R->feeds = calloc(in->n ? in->n : 1, sizeof *R->feeds);
    if (!R->feeds)
        return sf_error_set(&R->err, SF_E_NOMEM, "out of memory planning feeds");
    /* A CSV fact file's header is read from the file itself by each rank
     * (cli/run_csv.c), which a stream cannot give; and a fed block would
     * leave every other rank without it. */
    const int csv = R->job->inputs[R->job->fact].format == SF_FORMAT_CSV;
    for (size_t f = 0; f < in->n; f++) {
        if (csv && in->streamed[f])
            return sf_error_set(&R->err, SF_E_INVAL, "input '%s': a CSV fact input cannot be "
                                "read from stdin or a FIFO yet; write it to a file (gzip or "
                                "zstd are fine)", R->job->inputs[R->job->fact].name);
        int feed = !csv && in->streamed[f];
        size_t first = *n, count = 0;
        for (size_t i = 0; i < *n; i++) {
            if (chunks[i].file == (int32_t)f) {
                first = count++ ? first : i;
            }
        }
        /* A compressed file that is one chunk and most of the input would
         * keep one rank decoding and parsing while the others wait: rank 0
         * decodes it and every rank parses. Smaller ones stay a chunk each,
         * decoded in parallel by the ranks that take them. */
        if (!feed && !csv && count == 1 && chunks[first].codec && R->nranks > 1 &&
            in->sizes[f] * 2 > R->fact_size)
            feed = 1;
        if (!feed)
            continue;
        if (count == 1) {
            memmove(chunks + first, chunks + first + 1, (*n - first - 1) * sizeof *chunks);
            (*n)--;
        }
        sf_scan_feed *fd = &R->feeds[R->nfeeds++];
        fd->file = (int32_t)f;
        fd->fd = strcmp(in->paths[f], "-") == 0 ? STDIN_FILENO : -1;
        fd->size = in->streamed[f] ? 0 : in->sizes[f];
        fd->block = feed_block(R);
        fd->spool_fd = -1;
    }
    return 0;
}

/* flatten.c - `shardflow flatten` and `shardflow schema` (see flatten.h).
 *
 * Phases, each ending with agree() (an MPI_Allreduce of the status) so a
 * failure anywhere stops every rank at the same point and rank 0 removes
 * what was staged:
 *  1. plan (rank 0, broadcast): expand the inputs, stage the output;
 *  2. schema pass: every owned line through a core/flatten engine; the
 *     engines' column dictionaries are gathered and merged on rank 0, which
 *     orders them by first appearance (record position in the input, then
 *     place in the record) and broadcasts the result;
 *  3. write pass: the same chunks again through an engine seeded with that
 *     dictionary, so a column id is its place in the header; chunk k's rows
 *     go to part-k (input order within and across parts), or to
 *     DIR/part-k per partition value, or (--single-file) to a headerless
 *     piece that is then copied in place at its offset (an exclusive sum of
 *     the pieces' sizes in chunk order) by the rank that wrote it;
 *  4. commit (rank 0): the accounting is checked (lines read = records +
 *     rejected + blank, and the write pass saw what the schema pass saw),
 *     then _MANIFEST.json and _SUCCESS as for jobs.
 * Values are written as their column's inferred type, in CSV and HDF5
 * alike (an int64 in a double column becomes a double, any value in a string
 * column its CSV text), so both formats hold the same typed table and
 * `shardflow cat` prints them the same.
 */
#include "mpi/flatten.h"

#include <errno.h>
#include <fcntl.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/decode.h"
#include "core/expr.h"
#include "core/flatten.h"
#include "core/fmt.h"
#include "core/hash.h"
#include "core/pipeline.h"
#include "io/badrec.h"
#include "io/claim.h"
#include "io/commit.h"
#include "io/csv.h"
#include "io/fsutil.h"
#include "io/h5file.h"
#include "io/hive.h"
#include "io/inputs.h"
#include "mpi/cli.h"
#include "mpi/collective.h"
#include "mpi/manifest.h"
#include "mpi/run.h"
#include "mpi/scan.h"

#define MAX_INPUTS 64
#define MAX_PARTITION 16

const char *const sf_flatten_usage =
    "usage: shardflow flatten INPUT... -o OUT [OPTIONS]\n"
    "\n"
    "Flattens nested JSON Lines into a flat table: nested keys joined with the\n"
    "separator (user.profile.name), arrays by the list policy, chosen arrays\n"
    "exploded into one row per element. The header is the union of all keys in\n"
    "order of first appearance, with types inferred over the whole input; the\n"
    "output keeps input order and is the same bytes for any number of ranks.\n"
    "INPUT is a file, a glob or a directory. OUT is committed atomically:\n"
    "OUT/part-NNNNN.csv (one per input chunk, in input order), _MANIFEST.json\n"
    "and _SUCCESS. See docs/flatten.md.\n"
    "\n"
    "flatten options:\n"
    "  --sep S               key separator (default \".\"; e.g. _ or __)\n"
    "  --lists index|join|json  arrays: tags.0, tags.1 (default, 0-based); one\n"
    "                        string joined with --join-sep (arrays of scalars\n"
    "                        only, else index); or the array's JSON text\n"
    "  --join-sep S          separator for --lists join (default \",\")\n"
    "  --explode PATH        one row per element of the array at PATH (keys\n"
    "                        joined with '.', e.g. items or orders.items);\n"
    "                        repeatable: several paths give the cartesian product\n"
    "  --max-depth N         objects and arrays deeper than N keys stay JSON text\n"
    "  --max-rows-per-record N  a record exploding into more rows is an error\n"
    "                        naming the line (default 10000)\n"
    "  --on-collision error|first|last  two paths giving one column ({\"a.b\":1,\n"
    "                        \"a\":{\"b\":2}}): reject the line (default), keep the\n"
    "                        first or the last value\n"
    "\n"
    "output options:\n"
    "  -o OUT, --output OUT  output directory (required)\n"
    "  --single-file         one OUT/part-00000.csv in input order\n"
    "  --partition-by P      Hive directories by P: a column (left out of the\n"
    "                        files) or NAME=EXPR, e.g. date=to_date(ts); repeatable\n"
    "  --format csv|hdf5     output format (default csv; hdf5 columns are typed)\n"
    "  --compression C       hdf5: none, gzip or gzip:N (default gzip:4)\n"
    "  --write-mode MODE     error (default), overwrite, overwrite-partitions (replace\n"
    "                        only the partition directories written, keep the rest)\n"
    "                        or append (run-unique file names, nothing replaced)\n"
    "  --overwrite           the same as --write-mode overwrite\n"
    "  --claim-timeout T     break another host's claim on OUT after T (default 1d)\n"
    "\n"
    "run options:\n"
    "  --chunk-size SIZE     bytes per scan chunk (default 64M, cut down to give at\n"
    "                        least 4 chunks per rank, not below 1M)\n"
    "  --schedule dynamic|static  chunk scheduling (default dynamic)\n"
    "  --max-line-bytes SIZE longer lines are rejected (default 16M)\n"
    "  --progress, --no-progress, --quiet, -h/--help\n"
    "\n"
    "examples:\n"
    "  mpirun -np 4 shardflow flatten orders.jsonl -o out/orders\n"
    "  shardflow flatten api.jsonl --sep _ --lists join -o out/api --single-file\n"
    "  shardflow flatten orders.jsonl --explode items --explode discounts -o out/lines\n"
    "  shardflow flatten events.jsonl --partition-by date=to_date(ts) -o out/events\n";

const char *const sf_schema_usage =
    "usage: shardflow schema INPUT... [OPTIONS]\n"
    "\n"
    "Prints the flat schema of nested JSON Lines: every column `flatten` would\n"
    "write with the same options, in the same order, with its type inferred over\n"
    "the whole input (bool, int64, double, string; int64 and double widen to\n"
    "double, any other mix to string; a column holding only nulls is string) and\n"
    "how many rows hold a value. The inference is a distributed pass over all\n"
    "lines, not a sample.\n"
    "\n"
    "options:\n"
    "  --ddl duckdb|postgres|snowflake  print CREATE TABLE instead of the table\n"
    "  --table NAME          table name for --ddl (default: the first input's name)\n"
    "  --sep, --lists, --join-sep, --explode, --max-depth, --max-rows-per-record,\n"
    "  --on-collision        as for `shardflow flatten`\n"
    "  --chunk-size, --schedule, --max-line-bytes, --progress, --no-progress\n"
    "\n"
    "example:\n"
    "  shardflow schema orders.jsonl --explode items --ddl duckdb\n";

typedef struct fl_opts {
    const char *inputs[MAX_INPUTS];
    int ninputs;
    const char *output;
    sf_flatten_opts fo;
    const char *explode[SF_FLATTEN_MAX_EXPLODE];
    int single_file;
    const char *partition[MAX_PARTITION];
    int npartition;
    const char *format;
    const char *compression;
    const char *ddl;
    const char *table;
    sf_run_opts run; /* overwrite, chunk size, schedule, max line, progress, quiet */
} fl_opts;

/* Counts of one rank (summed on rank 0): all uint64_t, reduced as an array. */
typedef struct fl_counts {
    uint64_t lines_read;
    uint64_t blank_lines;
    uint64_t rows_rejected;
    uint64_t records;
    uint64_t rows;
    uint64_t duplicate_keys;
    uint64_t collisions;
    uint64_t bytes_scanned;
    uint64_t rejected_by_reason[SF_REJ_NREASONS];
} fl_counts;

typedef sf_out_file out_file;

/* A partition key: a column (written in the path, left out of the files)
 * or NAME=EXPR. */
typedef struct pspec {
    char *name;
    const char *text; /* the EXPR, or the column name */
    int col;          /* the column, or -1 */
    sf_expr *expr;
} pspec;

/* A file open for the chunk being written. */
typedef struct part {
    char *rel;
    sf_csv_writer *csv;
    sf_h5_writer *h5;
    uint64_t rows;
} part;

typedef struct fl {
    MPI_Comm comm;
    int rank, nranks;
    fl_opts *o;
    int schema_only;
    int h5;
    sf_error err;
    double t0, tphase[4]; /* plan, schema, write, commit */
    /* inputs */
    char **paths;
    uint64_t *sizes, *base;
    size_t nfiles;
    uint64_t total;
    sf_chunk *chunks;
    size_t nchunks;
    uint64_t chunk_size;
    int digits; /* of part numbers */
    /* output */
    char runid[48];
    sf_output_stage stage;
    int staged, replacing;
    sf_claim *claim; /* rank 0: the output's claim, from plan to fl_free */
    sf_h5_options h5opt;
    /* passes */
    sf_flatten *eng;
    int pass;
    fl_counts c, all; /* this rank's (current pass), summed on rank 0 */
    fl_counts first;  /* this rank's schema-pass counts */
    sf_reject_sample samples[SF_MAX_SAMPLES], all_samples[SF_MAX_SAMPLES];
    size_t nsamples, nall_samples;
    /* the schema, in header order (all ranks) */
    size_t ncols;
    const char **names;
    sf_type *types;
    uint64_t *nonnull;
    /* the write pass */
    int *fcols; /* columns written to files */
    size_t nfcols;
    const char **fnames;
    sf_type *ftypes;
    pspec ps[MAX_PARTITION];
    size_t nps;
    int *prefs; /* columns partition keys read */
    size_t nprefs;
    sf_value *dense, *typedrow, *hrow, pvals[MAX_PARTITION];
    sf_arena scratch;
    sf_buf dir;
    size_t chunk; /* being written */
    part *parts;
    size_t nparts, partcap;
    sf_hmap *partmap; /* partition path -> index in parts */
    out_file *files;
    size_t nfiles_out;
    uint64_t *piece; /* --single-file: bytes of each chunk's piece (0 unless mine) */
} fl;

/* ---- options ---- */

static int parse_count(const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (!*text || *end || errno || text[0] == '-')
        return -1;
    *out = v;
    return 0;
}

static int parse_opts(int argc, char **argv, const char *usage, int schema, fl_opts *o)
{
    memset(o, 0, sizeof *o);
    sf_flatten_opts_init(&o->fo);
    sf_run_opts_init(&o->run);
    o->format = "csv";
    o->compression = "gzip:4";
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *val = NULL;
        char name[48];
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;
        if (eq && (size_t)(eq - a) < sizeof name) {
            memcpy(name, a, (size_t)(eq - a));
            name[eq - a] = '\0';
            val = eq + 1;
            a = name;
        }
        static const char *const flags[] = {"--single-file", "--overwrite", "--progress",
                                            "--no-progress", "--quiet", NULL};
        int is_flag = 0;
        for (int k = 0; flags[k]; k++)
            is_flag |= strcmp(a, flags[k]) == 0;
        if (is_flag) {
            if (val)
                return sf_cli_usage_error(usage, "option %s takes no value", a);
            if (strcmp(a, "--single-file") == 0 && !schema)
                o->single_file = 1;
            else if (strcmp(a, "--overwrite") == 0 && !schema)
                o->run.commit_mode = SF_COMMIT_OVERWRITE;
            else if (strcmp(a, "--progress") == 0)
                o->run.progress = 1;
            else if (strcmp(a, "--no-progress") == 0)
                o->run.progress = 0;
            else if (strcmp(a, "--quiet") == 0)
                o->run.quiet = 1;
            else
                return sf_cli_usage_error(usage, "unknown option '%s'", a);
            continue;
        }
        if (a[0] != '-' || a[1] == '\0') {
            if (o->ninputs == MAX_INPUTS)
                return sf_cli_usage_error(usage, "too many inputs (at most %s)", "64");
            o->inputs[o->ninputs++] = a;
            continue;
        }
        if (!val) {
            if (i + 1 >= argc)
                return sf_cli_usage_error(usage, "option %s needs a value", a);
            val = argv[++i];
        }
        uint64_t n;
        if (strcmp(a, "--sep") == 0) {
            if (!*val)
                return sf_cli_usage_error(usage, "--sep must not be empty%s", "");
            o->fo.sep = val;
        } else if (strcmp(a, "--lists") == 0) {
            if (sf_lists_policy_parse(val, &o->fo.lists) != 0)
                return sf_cli_usage_error(usage, "--lists takes index, join or json, got '%s'",
                                          val);
        } else if (strcmp(a, "--join-sep") == 0) {
            o->fo.join_sep = val;
        } else if (strcmp(a, "--explode") == 0) {
            if (o->fo.nexplode == SF_FLATTEN_MAX_EXPLODE)
                return sf_cli_usage_error(usage, "too many --explode paths (at most %s)", "64");
            o->explode[o->fo.nexplode++] = val;
        } else if (strcmp(a, "--max-depth") == 0) {
            if (parse_count(val, &n) != 0 || n > 100000)
                return sf_cli_usage_error(usage, "--max-depth takes a number >= 0, got '%s'",
                                          val);
            o->fo.max_depth = (int)n;
        } else if (strcmp(a, "--max-rows-per-record") == 0) {
            if (parse_count(val, &n) != 0 || n == 0)
                return sf_cli_usage_error(usage, "--max-rows-per-record takes a number >= 1, "
                                          "got '%s'", val);
            o->fo.max_rows = n;
        } else if (strcmp(a, "--on-collision") == 0) {
            if (sf_collision_policy_parse(val, &o->fo.on_collision) != 0)
                return sf_cli_usage_error(usage, "--on-collision takes error, first or last, "
                                          "got '%s'", val);
        } else if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && !schema) {
            o->output = val;
        } else if (strcmp(a, "--partition-by") == 0 && !schema) {
            if (o->npartition == MAX_PARTITION)
                return sf_cli_usage_error(usage, "too many --partition-by keys (at most %s)",
                                          "16");
            if (!*val || val[0] == '=')
                return sf_cli_usage_error(usage, "--partition-by takes a column or NAME=EXPR, "
                                          "got '%s'", val);
            o->partition[o->npartition++] = val;
        } else if (strcmp(a, "--format") == 0 && !schema) {
            if (strcmp(val, "csv") != 0 && strcmp(val, "hdf5") != 0)
                return sf_cli_usage_error(usage, "--format takes csv or hdf5, got '%s'", val);
            o->format = val;
        } else if (strcmp(a, "--compression") == 0 && !schema) {
            o->compression = val;
        } else if (strcmp(a, "--write-mode") == 0 && !schema) {
            if (sf_commit_mode_parse(val, &o->run.commit_mode) != 0)
                return sf_cli_usage_error(usage, "--write-mode takes error, overwrite, "
                                          "overwrite-partitions or append, got '%s'", val);
        } else if (strcmp(a, "--claim-timeout") == 0 && !schema) {
            if (sf_cli_parse_seconds(val, &o->run.claim_timeout) != 0)
                return sf_cli_usage_error(usage, "--claim-timeout takes seconds (or a number "
                                          "with s, m, h or d), got '%s'", val);
        } else if (strcmp(a, "--ddl") == 0 && schema) {
            if (strcmp(val, "duckdb") != 0 && strcmp(val, "postgres") != 0 &&
                strcmp(val, "snowflake") != 0)
                return sf_cli_usage_error(usage, "--ddl takes duckdb, postgres or snowflake, "
                                          "got '%s'", val);
            o->ddl = val;
        } else if (strcmp(a, "--table") == 0 && schema) {
            o->table = val;
        } else if (strcmp(a, "--chunk-size") == 0 || strcmp(a, "--max-line-bytes") == 0) {
            uint64_t *dst = a[2] == 'c' ? &o->run.chunk_size : &o->run.max_line;
            if (sf_parse_size(val, dst) != 0 || *dst == 0)
                return sf_cli_usage_error(usage, "invalid size '%s' (e.g. 4M, 64M, 1G)", val);
        } else if (strcmp(a, "--schedule") == 0) {
            if (strcmp(val, "dynamic") == 0)
                o->run.schedule = SF_SCHED_DYNAMIC;
            else if (strcmp(val, "static") == 0)
                o->run.schedule = SF_SCHED_STATIC;
            else
                return sf_cli_usage_error(usage, "--schedule takes static or dynamic, got '%s'",
                                          val);
        } else {
            return sf_cli_usage_error(usage, "unknown option '%s'", a);
        }
    }
    o->fo.explode = o->explode;
    if (o->ninputs == 0)
        return sf_cli_usage_error(usage, "missing INPUT%s", "");
    if (!schema && (!o->output || !*o->output))
        return sf_cli_usage_error(usage, "missing -o OUT%s", "");
    if (o->single_file && o->npartition)
        return sf_cli_usage_error(usage, "--single-file and --partition-by exclude each "
                                  "other%s", "");
    if (o->single_file && strcmp(o->format, "hdf5") == 0)
        return sf_cli_usage_error(usage, "--single-file writes CSV; for one HDF5 table per "
                                  "chunk drop it%s", "");
    return 0;
}

/* ---- agreement and moving bytes ---- */

static int agree(fl *F, int rc, int same_everywhere)
{
    return sf_mpi_agree(F->comm, rc, same_everywhere, &F->err);
}

static char *bcast_bytes(fl *F, char *data, int64_t *len)
{
    return sf_mpi_bcast_bytes(F->comm, data, len);
}

static void *gather_bytes(fl *F, const void *data, size_t len, size_t *total)
{
    return sf_mpi_gather_bytes(F->comm, data, len, total);
}

/* ---- plan ---- */

static int nomem(fl *F) { return sf_error_set(&F->err, SF_E_NOMEM, "out of memory"); }

/* Rank 0: the input files (NUL-separated paths) and the output stage. */
static int plan_rank0(fl *F, sf_buf *list)
{
    for (int i = 0; i < F->o->ninputs; i++) {
        sf_input_files in = {0};
        int rc = sf_inputs_expand("input", F->o->inputs[i], &in, &F->err);
        for (size_t k = 0; !rc && k < in.n; k++) {
            if (sf_buf_append(list, in.paths[k], strlen(in.paths[k]) + 1) != 0)
                rc = nomem(F);
        }
        sf_inputs_free(&in);
        if (rc)
            return rc;
    }
    if (F->schema_only)
        return 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(F->runid, sizeof F->runid, "%04d%02d%02dT%02d%02d%02d-%ld", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)getpid());
    /* One writer per output, from before staging to after commit. */
    char note[1024];
    int rc = sf_claim_take(&F->claim, F->o->output, F->runid, F->o->run.claim_timeout, note,
                           sizeof note, &F->err);
    if (note[0])
        fprintf(stderr, "shardflow: %s\n", note);
    if (!rc)
        rc = sf_output_prepare(&F->stage, F->o->output, F->o->run.commit_mode, F->runid,
                               &F->err);
    F->staged = rc == 0;
    F->replacing = F->stage.replacing;
    return rc;
}

static int plan(fl *F)
{
    sf_buf list = SF_BUF_INIT;
    int rc = F->rank == 0 ? plan_rank0(F, &list) : 0;
    if (!rc && F->rank == 0 && sf_buf_reserve(&list, 1) != 0)
        rc = nomem(F); /* bcast_bytes() terminates the list in place */
    if (agree(F, rc, 1)) {
        sf_buf_free(&list);
        return -1;
    }
    int64_t n = (int64_t)list.n;
    char *bytes = bcast_bytes(F, (char *)list.p, &n);
    if (F->rank == 0)
        list.p = NULL; /* bytes is list's buffer on rank 0 */
    sf_buf_free(&list);
    MPI_Bcast(F->runid, sizeof F->runid, MPI_CHAR, 0, F->comm);
    MPI_Bcast(&F->replacing, 1, MPI_INT, 0, F->comm);
    for (int64_t i = 0; i < n; i++)
        F->nfiles += bytes[i] == '\0';
    F->paths = calloc(F->nfiles ? F->nfiles : 1, sizeof *F->paths);
    F->sizes = calloc(F->nfiles ? F->nfiles : 1, sizeof *F->sizes);
    F->base = calloc(F->nfiles ? F->nfiles : 1, sizeof *F->base);
    rc = F->paths && F->sizes && F->base ? 0 : nomem(F);
    size_t k = 0;
    for (int64_t i = 0; !rc && i < n; i += (int64_t)strlen(bytes + i) + 1) {
        F->paths[k] = strdup(bytes + i);
        if (!F->paths[k++])
            rc = nomem(F);
    }
    free(bytes);
    if (!rc && F->rank == 0) {
        for (size_t i = 0; i < F->nfiles && !rc; i++)
            rc = sf_file_size(F->paths[i], &F->sizes[i], &F->err);
    }
    if (!rc && !F->schema_only && F->rank != 0 &&
        sf_output_paths(&F->stage, F->o->output, F->replacing, F->runid) != 0)
        rc = nomem(F);
    if (agree(F, rc, 0))
        return -1;
    MPI_Bcast(F->sizes, (int)F->nfiles, MPI_UINT64_T, 0, F->comm);
    for (size_t i = 0; i < F->nfiles; i++) {
        F->base[i] = F->total;
        F->total += F->sizes[i];
    }
    F->chunk_size = sf_run_chunk_size(F->o->run.chunk_size, F->total, F->nranks);
    F->chunks = sf_scan_make_chunks(F->sizes, F->nfiles, F->chunk_size, &F->nchunks);
    rc = F->chunks ? 0 : nomem(F);
    F->digits = 5;
    for (size_t c = F->nchunks; c >= 100000; c /= 10)
        F->digits++;
    if (!rc && F->h5) {
        sf_h5_options_init(&F->h5opt);
        F->h5opt.job = "flatten";
        rc = sf_h5_parse_compression(F->o->compression, &F->h5opt, &F->err);
    }
    return agree(F, rc, 1) ? -1 : 0;
}

/* ---- lines (both passes) ---- */

static void reject(fl *F, int file, uint64_t offset, int reason, const char *msg)
{
    F->c.rows_rejected++;
    F->c.rejected_by_reason[reason]++;
    if (F->pass != 1)
        return;
    sf_reject_sample s;
    s.file = file;
    s.reason = reason;
    s.offset = offset;
    snprintf(s.msg, sizeof s.msg, "%s", msg);
    sf_samples_insert(F->samples, &F->nsamples, &s);
}

static int write_rows(fl *F);

static int on_line(void *ctx, const char *line, size_t len, int file, uint64_t offset)
{
    fl *F = ctx;
    F->c.lines_read++;
    if (len == 0) {
        F->c.blank_lines++;
        return 0;
    }
    char msg[240];
    int rc = sf_flatten_record(F->eng, line, len, F->base[file] + offset, msg, sizeof msg);
    if (rc < 0)
        return sf_error_set(&F->err, rc, "%s: byte %llu: out of memory flattening a line",
                            F->paths[file], (unsigned long long)offset);
    if (rc == 1 + SF_REJ_TOO_MANY_ROWS) {
        /* An unintended explosion: stop, naming the line. */
        uint64_t before = 0;
        sf_error ignored;
        if (sf_count_lines_before(F->paths[file], offset, &before, &ignored) != 0)
            return sf_error_set(&F->err, SF_E_LIMIT, "%s: byte %llu: %s", F->paths[file],
                                (unsigned long long)offset, msg);
        return sf_error_set(&F->err, SF_E_LIMIT, "%s:%llu (byte %llu): %s", F->paths[file],
                            (unsigned long long)before + 1, (unsigned long long)offset, msg);
    }
    if (rc > 0) {
        reject(F, file, offset, rc - 1, msg);
        return 0;
    }
    F->c.records++;
    F->c.rows += sf_flatten_nrows(F->eng);
    return F->pass == 2 ? write_rows(F) : 0;
}

static int on_too_long(void *ctx, int file, uint64_t offset, const char *msg)
{
    fl *F = ctx;
    F->c.lines_read++;
    reject(F, file, offset, SF_REJ_LINE_TOO_LONG, msg);
    return 0;
}

static int on_chunk_end_schema(void *ctx, size_t chunk, uint64_t bytes)
{
    (void)chunk;
    ((fl *)ctx)->c.bytes_scanned += bytes;
    return 0;
}

static int new_engine(fl *F)
{
    sf_flatten_free(F->eng);
    F->eng = NULL;
    return sf_flatten_new(&F->o->fo, &F->eng, &F->err);
}

/* ---- the schema pass ---- */

static int merge_columns(fl *F)
{
    sf_buf mine = SF_BUF_INIT, final = SF_BUF_INIT;
    int rc = sf_flatten_columns_encode(F->eng, &mine) ? nomem(F) : 0;
    size_t total = 0;
    unsigned char *all = gather_bytes(F, mine.p, rc ? 0 : mine.n, &total);
    sf_buf_free(&mine);
    if (F->rank == 0 && !rc) {
        /* Merge every rank's dictionary, then re-add the columns in their
         * final order, so column ids are header positions. */
        sf_flatten *m = NULL, *ordered = NULL;
        uint32_t *order = NULL;
        rc = sf_flatten_new(&F->o->fo, &m, &F->err);
        if (!rc)
            rc = sf_flatten_new(&F->o->fo, &ordered, &F->err);
        if (!rc && sf_flatten_columns_merge(m, all, total) != 0)
            rc = sf_error_set(&F->err, SF_E_INTERNAL, "cannot merge the column dictionaries");
        size_t n = rc ? 0 : sf_flatten_ncolumns(m);
        order = malloc((n ? n : 1) * sizeof *order);
        if (!rc && (!order || sf_flatten_columns_order(m, order) != 0))
            rc = nomem(F);
        for (size_t i = 0; i < n && !rc; i++) {
            sf_flatten_column c;
            sf_flatten_column_get(m, order[i], &c);
            if (sf_flatten_column_add(ordered, &c, NULL) != 0)
                rc = nomem(F);
        }
        if (!rc && sf_flatten_columns_encode(ordered, &final) != 0)
            rc = nomem(F);
        free(order);
        sf_flatten_free(m);
        sf_flatten_free(ordered);
    }
    free(all);
    if (F->rank == 0 && !rc && sf_buf_reserve(&final, 1) != 0)
        rc = nomem(F); /* bcast_bytes() terminates the buffer in place */
    int64_t len = rc ? -1 : (int64_t)final.n;
    if (F->rank != 0)
        len = 0;
    char *bytes = bcast_bytes(F, (char *)final.p, &len);
    if (F->rank == 0)
        final.p = NULL;
    sf_buf_free(&final);
    if (!bytes)
        return rc ? rc : sf_error_set(&F->err, SF_E_INTERNAL, "rank 0 could not merge the schema");
    /* The write pass's engine starts with the final dictionary. */
    rc = new_engine(F);
    if (!rc && sf_flatten_columns_merge(F->eng, (const unsigned char *)bytes, (size_t)len) != 0)
        rc = nomem(F);
    free(bytes);
    if (rc)
        return rc;
    F->ncols = sf_flatten_ncolumns(F->eng);
    F->names = calloc(F->ncols + 1, sizeof *F->names);
    F->types = calloc(F->ncols + 1, sizeof *F->types);
    F->nonnull = calloc(F->ncols + 1, sizeof *F->nonnull);
    if (!F->names || !F->types || !F->nonnull)
        return nomem(F);
    for (size_t i = 0; i < F->ncols; i++) {
        sf_flatten_column c;
        sf_flatten_column_get(F->eng, (uint32_t)i, &c);
        F->names[i] = c.name;
        F->types[i] = c.type == SF_NULL ? SF_STRING : c.type;
        F->nonnull[i] = c.nonnull;
    }
    return 0;
}

/* Sums the counts (and merges the samples) of every rank on rank 0. */
static void gather_counts(fl *F, int samples)
{
    memset(&F->all, 0, sizeof F->all);
    MPI_Reduce(&F->c, &F->all, sizeof F->c / sizeof(uint64_t), MPI_UINT64_T, MPI_SUM, 0,
               F->comm);
    if (!samples)
        return;
    size_t total = 0;
    sf_reject_sample *all = gather_bytes(F, F->samples, F->nsamples * sizeof *F->samples, &total);
    for (size_t i = 0; all && i < total / sizeof *all; i++)
        sf_samples_insert(F->all_samples, &F->nall_samples, &all[i]);
    free(all);
}

static int scan(fl *F, sf_scan_sink *sink)
{
    int progress = F->o->run.progress >= 0 ? F->o->run.progress : isatty(STDERR_FILENO);
    sf_scan_stats st = {0, 0};
    return sf_scan_run(F->comm, (const char *const *)F->paths, F->chunks, F->nchunks,
                       &F->o->run, progress, sink, NULL, &st, &F->err);
}

static int schema_pass(fl *F)
{
    F->pass = 1;
    memset(&F->c, 0, sizeof F->c);
    int rc = new_engine(F);
    if (agree(F, rc, 1))
        return -1;
    sf_scan_sink sink = {on_line, on_too_long, NULL, on_chunk_end_schema, F};
    rc = scan(F, &sink);
    if (agree(F, rc, 0))
        return -1;
    const sf_flatten_stats *st = sf_flatten_get_stats(F->eng);
    F->c.duplicate_keys = st->duplicate_keys;
    F->c.collisions = st->collisions;
    F->first = F->c;
    gather_counts(F, 1);
    rc = merge_columns(F);
    return agree(F, rc, 0) ? -1 : 0;
}

/* ---- schema output ---- */

static const char *sql_type(sf_type t, const char *ddl)
{
    int pg = strcmp(ddl, "postgres") == 0, sf = strcmp(ddl, "snowflake") == 0;
    switch (t) {
    case SF_BOOL: return pg ? "boolean" : "BOOLEAN";
    case SF_INT: return pg ? "bigint" : sf ? "NUMBER(19,0)" : "BIGINT";
    case SF_DOUBLE: return pg ? "double precision" : sf ? "FLOAT" : "DOUBLE";
    default: return pg ? "text" : "VARCHAR";
    }
}

/* Prints s as a double-quoted SQL identifier. */
static void print_ident(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"')
            putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static void print_schema(fl *F)
{
    uint64_t rows = F->all.rows;
    if (!F->o->ddl) {
        size_t w = 6;
        for (size_t i = 0; i < F->ncols; i++)
            w = strlen(F->names[i]) > w ? strlen(F->names[i]) : w;
        printf("%-*s  %-7s  %12s  %s\n", (int)w, "column", "type", "non-null", "nullable");
        for (size_t i = 0; i < F->ncols; i++)
            printf("%-*s  %-7s  %12llu  %s\n", (int)w, F->names[i], sf_type_name(F->types[i]),
                   (unsigned long long)F->nonnull[i], F->nonnull[i] < rows ? "yes" : "no");
        printf("(%zu columns; %llu rows from %llu records, %llu lines rejected)\n", F->ncols,
               (unsigned long long)rows, (unsigned long long)F->all.records,
               (unsigned long long)F->all.rows_rejected);
        return;
    }
    char table[256];
    if (F->o->table) {
        snprintf(table, sizeof table, "%s", F->o->table);
    } else {
        const char *b = strrchr(F->o->inputs[0], '/');
        snprintf(table, sizeof table, "%s", b ? b + 1 : F->o->inputs[0]);
        char *dot = strchr(table, '.');
        if (dot && dot != table)
            *dot = '\0';
    }
    printf("CREATE TABLE ");
    print_ident(table);
    printf(" (\n");
    for (size_t i = 0; i < F->ncols; i++) {
        printf("    ");
        print_ident(F->names[i]);
        printf(" %s%s%s\n", sql_type(F->types[i], F->o->ddl),
               F->nonnull[i] == rows && rows > 0 ? " NOT NULL" : "", i + 1 < F->ncols ? "," : "");
    }
    printf(");\n");
}

/* ---- the write pass ---- */

static int resolve_column(void *ctx, const char *name, size_t len, int *slot, sf_type *type)
{
    fl *F = ctx;
    int64_t id = sf_flatten_column_find(F->eng, name, len);
    if (id < 0)
        return -1;
    *slot = (int)id;
    *type = F->types[id];
    return 0;
}

static void mark_ref(void *ctx, int slot)
{
    fl *F = ctx;
    for (size_t i = 0; i < F->nprefs; i++) {
        if (F->prefs[i] == slot)
            return;
    }
    F->prefs[F->nprefs++] = slot;
}

static int setup_write(fl *F)
{
    F->prefs = calloc(F->ncols + MAX_PARTITION + 1, sizeof *F->prefs);
    F->fcols = calloc(F->ncols + 1, sizeof *F->fcols);
    F->fnames = calloc(F->ncols + 1, sizeof *F->fnames);
    F->ftypes = calloc(F->ncols + 1, sizeof *F->ftypes);
    F->dense = calloc(F->ncols + 1, sizeof *F->dense);
    F->typedrow = calloc(F->ncols + 1, sizeof *F->typedrow);
    F->hrow = calloc(F->ncols + 1, sizeof *F->hrow);
    F->piece = calloc(F->nchunks + 1, sizeof *F->piece);
    if (!F->prefs || !F->fcols || !F->fnames || !F->ftypes || !F->dense || !F->typedrow ||
        !F->hrow || !F->piece)
        return nomem(F);
    sf_arena_init(&F->scratch, 16 * 1024);
    for (int k = 0; k < F->o->npartition; k++) {
        pspec *p = &F->ps[F->nps++];
        const char *arg = F->o->partition[k], *eq = strchr(arg, '=');
        p->col = -1;
        p->name = eq ? strndup(arg, (size_t)(eq - arg)) : strdup(arg);
        if (!p->name)
            return nomem(F);
        p->text = eq ? eq + 1 : arg;
        if (!eq) {
            int64_t id = sf_flatten_column_find(F->eng, arg, strlen(arg));
            if (id < 0)
                return sf_error_set(&F->err, SF_E_SPEC, "--partition-by %s: no such column "
                                    "(give NAME=EXPR for a derived key)", arg);
            p->col = (int)id;
            mark_ref(F, p->col);
            continue;
        }
        if (sf_flatten_column_find(F->eng, p->name, strlen(p->name)) >= 0)
            return sf_error_set(&F->err, SF_E_SPEC, "--partition-by %s: '%s' is already a "
                                "column; name the key differently", arg, p->name);
        sf_expr_columns cols = {resolve_column, F};
        sf_error e;
        sf_error_clear(&e);
        p->expr = sf_expr_parse(p->text, &cols, 0, &e);
        if (!p->expr)
            return sf_error_set(&F->err, e.code == SF_E_NOMEM ? SF_E_NOMEM : SF_E_SPEC,
                                "--partition-by %s: %s", arg, e.msg);
        sf_expr_visit_columns(p->expr, mark_ref, F);
    }
    for (size_t i = 0; i < F->ncols; i++) {
        int skip = 0;
        for (size_t k = 0; k < F->nps; k++)
            skip |= F->ps[k].col == (int)i;
        if (skip)
            continue;
        F->fcols[F->nfcols] = (int)i;
        F->fnames[F->nfcols] = F->names[i];
        F->ftypes[F->nfcols] = F->types[i];
        F->nfcols++;
    }
    if (F->h5 && F->nfcols && sf_h5_check_columns(F->nfcols, F->fnames, &F->err) != 0)
        return SF_E_SPEC;
    return 0;
}

/* v as a value of column type t: int64 widens to double, anything else in
 * a string column becomes its CSV text (in the scratch arena). */
static sf_value typed(fl *F, const sf_value *v, sf_type t)
{
    if (v->type == SF_NULL || v->type == t)
        return *v;
    if (t == SF_DOUBLE && v->type == SF_INT)
        return sf_double((double)v->u.i);
    char b[SF_FMT_BUF];
    const char *p = b;
    size_t n;
    switch (v->type) {
    case SF_BOOL: p = v->u.b ? "true" : "false"; n = strlen(p); break;
    case SF_INT: n = (size_t)sf_fmt_int(v->u.i, b); break;
    case SF_DOUBLE: n = (size_t)sf_fmt_double(v->u.d, b); break;
    default: return *v;
    }
    char *s = sf_arena_memdup(&F->scratch, p, n);
    return s ? sf_string(s, n) : sf_null();
}

/* The file of the current chunk for the partition path in F->dir ("" when
 * unpartitioned): opened on first use. */
static int open_part(fl *F, part **out)
{
    const char *dir = F->dir.n ? (const char *)F->dir.p : "";
    uint64_t h = sf_hash_bytes(dir, F->dir.n, 0);
    uint32_t *idx = F->partmap ? sf_hmap_find(F->partmap, dir, F->dir.n, h) : NULL;
    if (idx) {
        *out = &F->parts[*idx];
        return 0;
    }
    if (!F->partmap && !(F->partmap = sf_hmap_new(sizeof(uint32_t), 16)))
        return nomem(F);
    if (F->nparts == F->partcap) {
        size_t cap = F->partcap ? F->partcap * 2 : 8;
        part *p = realloc(F->parts, cap * sizeof *p);
        if (!p)
            return nomem(F);
        F->parts = p;
        F->partcap = cap;
    }
    part *p = &F->parts[F->nparts];
    memset(p, 0, sizeof *p);
    sf_buf rel = SF_BUF_INIT;
    int rc;
    if (F->o->single_file)
        rc = sf_buf_printf(&rel, "_pieces/piece-%0*zu.csv", F->digits, F->chunk);
    else
        rc = sf_buf_printf(&rel, "%.*s%spart-%0*zu.%s", (int)F->dir.n, dir, F->dir.n ? "/" : "",
                           F->digits, F->chunk, F->h5 ? "h5" : "csv");
    char *path = NULL;
    if (!rc) {
        size_t n = strlen(F->stage.tmpdir) + rel.n + 2;
        path = malloc(n);
        if (path)
            snprintf(path, n, "%s/%s", F->stage.tmpdir, (const char *)rel.p);
    }
    if (rc || !path) {
        sf_buf_free(&rel);
        free(path);
        return nomem(F);
    }
    *strrchr(path, '/') = '\0';
    rc = sf_mkdirs(path, &F->err);
    path[strlen(path)] = '/';
    if (!rc && F->h5)
        rc = sf_h5_writer_open(&p->h5, path, F->nfcols, F->fnames, F->ftypes, &F->h5opt,
                               &F->err);
    else if (!rc)
        rc = sf_csv_writer_open(&p->csv, path, &F->err);
    free(path);
    if (rc) {
        sf_buf_free(&rel);
        return rc;
    }
    p->rel = (char *)rel.p;
    if (p->csv && !F->o->single_file) {
        for (size_t i = 0; i < F->nfcols; i++)
            sf_csv_write_field(p->csv, F->fnames[i], strlen(F->fnames[i]));
        sf_csv_end_row(p->csv);
    }
    int inserted;
    uint32_t *slot = sf_hmap_upsert(F->partmap, dir, F->dir.n, h, &inserted);
    if (!slot)
        return nomem(F);
    *slot = (uint32_t)F->nparts++;
    *out = p;
    return 0;
}

static int write_rows(fl *F)
{
    sf_arena_reset(&F->scratch);
    for (size_t r = 0; r < sf_flatten_nrows(F->eng); r++) {
        size_t nc;
        const sf_flatten_cell *cells = sf_flatten_row(F->eng, r, &nc);
        for (size_t i = 0; i < nc; i++) {
            if (cells[i].col >= F->ncols)
                return sf_error_set(&F->err, SF_E_INTERNAL, "the write pass found a column the "
                                    "schema pass did not see: did the input change?");
            F->dense[cells[i].col] = cells[i].v;
        }
        F->dir.n = 0;
        if (F->nps) {
            for (size_t i = 0; i < F->nprefs; i++)
                F->typedrow[F->prefs[i]] = typed(F, &F->dense[F->prefs[i]],
                                                 F->types[F->prefs[i]]);
            const char *names[MAX_PARTITION];
            for (size_t k = 0; k < F->nps; k++) {
                const pspec *p = &F->ps[k];
                names[k] = p->name;
                F->pvals[k] = p->expr ? sf_expr_eval(p->expr, F->typedrow, &F->scratch)
                                      : F->typedrow[p->col];
            }
            if (sf_hive_dirname(names, F->pvals, F->nps, &F->dir) != 0)
                return nomem(F);
        }
        part *p;
        int rc = open_part(F, &p);
        if (rc)
            return rc;
        if (p->h5) {
            for (size_t i = 0; i < F->nfcols; i++)
                F->hrow[i] = typed(F, &F->dense[F->fcols[i]], F->ftypes[i]);
            rc = sf_h5_writer_append(p->h5, F->hrow);
            if (rc)
                return sf_error_set(&F->err, rc, "%s: cannot buffer a row", p->rel);
        } else {
            for (size_t i = 0; i < F->nfcols; i++) {
                sf_value v = typed(F, &F->dense[F->fcols[i]], F->ftypes[i]);
                if (v.type == SF_DOUBLE) {
                    /* The same text sf_csv_write_value() prints, found faster. */
                    char b[SF_FMT_BUF];
                    sf_csv_write_field(p->csv, b, (size_t)sf_fmt_double(v.u.d, b));
                } else {
                    sf_csv_write_value(p->csv, &v);
                }
            }
            sf_csv_end_row(p->csv);
        }
        p->rows++;
        for (size_t i = 0; i < nc; i++)
            F->dense[cells[i].col] = sf_null();
    }
    return 0;
}

static int add_file(fl *F, const char *rel, uint64_t rows, uint64_t bytes)
{
    return sf_out_files_add(&F->files, &F->nfiles_out, rel, rows, bytes) ? nomem(F) : 0;
}

/* Closes the files of the chunk just written; keeps the first error. */
static int close_parts(fl *F, int rc)
{
    for (size_t i = 0; i < F->nparts; i++) {
        part *p = &F->parts[i];
        uint64_t bytes = 0, rows = 0;
        sf_error e;
        int crc = p->h5 ? sf_h5_writer_close(p->h5, &rows, &bytes, &e)
                        : sf_csv_writer_close(p->csv, &bytes, &e);
        if (crc && !rc) {
            F->err = e;
            rc = crc;
        }
        if (!rc && F->o->single_file)
            F->piece[F->chunk] = bytes;
        else if (!rc)
            rc = add_file(F, p->rel, p->rows, bytes);
        free(p->rel);
    }
    F->nparts = 0;
    sf_hmap_free(F->partmap);
    F->partmap = NULL;
    return rc;
}

static int on_chunk_begin(void *ctx, size_t chunk)
{
    fl *F = ctx;
    F->chunk = chunk;
    return 0;
}

static int on_chunk_end_write(void *ctx, size_t chunk, uint64_t bytes)
{
    fl *F = ctx;
    (void)chunk;
    F->c.bytes_scanned += bytes;
    return close_parts(F, 0);
}

/* --single-file: each rank copies its pieces into OUT/part-00000.csv at
 * their offsets, after the header. Collective. */
static int assemble_single(fl *F)
{
    uint64_t *sizes = calloc(F->nchunks + 1, sizeof *sizes);
    if (!sizes)
        MPI_Abort(F->comm, 1); /* cannot take part in the reduction */
    MPI_Allreduce(F->piece, sizes, (int)F->nchunks, MPI_UINT64_T, MPI_SUM, F->comm);
    int rc = 0;
    size_t n = strlen(F->stage.tmpdir) + 64;
    char *path = malloc(n), *piece = malloc(n);
    if (!path || !piece)
        MPI_Abort(F->comm, 1);
    snprintf(path, n, "%s/part-%0*d.csv", F->stage.tmpdir, F->digits, 0);
    uint64_t header = 0;
    if (F->rank == 0) {
        sf_csv_writer *w = NULL;
        rc = sf_csv_writer_open(&w, path, &F->err);
        if (!rc) {
            for (size_t i = 0; i < F->nfcols; i++)
                sf_csv_write_field(w, F->fnames[i], strlen(F->fnames[i]));
            sf_csv_end_row(w);
            rc = sf_csv_writer_close(w, &header, &F->err);
        }
    }
    MPI_Bcast(&header, 1, MPI_UINT64_T, 0, F->comm);
    if (agree(F, rc, 0)) {
        free(sizes);
        free(path);
        free(piece);
        return -1;
    }
    int fd = open(path, O_WRONLY);
    if (fd < 0)
        rc = sf_error_set(&F->err, SF_E_IO, "cannot open '%s': %s", path, strerror(errno));
    uint64_t off = header;
    char *buf = rc ? NULL : malloc((size_t)4 << 20);
    if (!rc && !buf)
        rc = nomem(F);
    for (size_t k = 0; k < F->nchunks && !rc; k++) {
        uint64_t at = off;
        off += sizes[k];
        if (!F->piece[k])
            continue;
        snprintf(piece, n, "%s/_pieces/piece-%0*zu.csv", F->stage.tmpdir, F->digits, k);
        int in = open(piece, O_RDONLY);
        if (in < 0) {
            rc = sf_error_set(&F->err, SF_E_IO, "cannot open '%s': %s", piece, strerror(errno));
            break;
        }
        for (;;) {
            ssize_t got = read(in, buf, (size_t)4 << 20);
            if (got < 0 && errno == EINTR)
                continue;
            if (got < 0) {
                rc = sf_error_set(&F->err, SF_E_IO, "cannot read '%s': %s", piece,
                                  strerror(errno));
                break;
            }
            if (got == 0)
                break;
            for (ssize_t done = 0; done < got && !rc;) {
                ssize_t w = pwrite(fd, buf + done, (size_t)(got - done), (off_t)at);
                if (w < 0 && errno == EINTR)
                    continue;
                if (w < 0)
                    rc = sf_error_set(&F->err, SF_E_IO, "cannot write '%s': %s", path,
                                      strerror(errno));
                else {
                    done += w;
                    at += (uint64_t)w;
                }
            }
            if (rc)
                break;
        }
        close(in);
        unlink(piece);
    }
    free(buf);
    if (fd >= 0 && fsync(fd) != 0 && !rc)
        rc = sf_error_set(&F->err, SF_E_IO, "cannot sync '%s': %s", path, strerror(errno));
    if (fd >= 0 && close(fd) != 0 && !rc)
        rc = sf_error_set(&F->err, SF_E_IO, "cannot close '%s': %s", path, strerror(errno));
    if (agree(F, rc, 0)) {
        free(sizes);
        free(path);
        free(piece);
        return -1;
    }
    if (F->rank == 0) {
        snprintf(piece, n, "%s/_pieces", F->stage.tmpdir);
        sf_error ignored;
        sf_rmtree(piece, &ignored);
        if (truncate(path, (off_t)off) != 0)
            rc = sf_error_set(&F->err, SF_E_IO, "cannot truncate '%s': %s", path,
                              strerror(errno));
        if (!rc)
            rc = add_file(F, path + strlen(F->stage.tmpdir) + 1, 0, off);
    }
    free(sizes);
    free(path);
    free(piece);
    return agree(F, rc, 0) ? -1 : 0;
}

static int write_pass(fl *F)
{
    int rc = setup_write(F);
    if (agree(F, rc, 1))
        return -1;
    F->pass = 2;
    memset(&F->c, 0, sizeof F->c);
    sf_scan_sink sink = {on_line, on_too_long, on_chunk_begin, on_chunk_end_write, F};
    rc = scan(F, &sink);
    rc = close_parts(F, rc);
    if (agree(F, rc, 0))
        return -1;
    /* An unpartitioned output with no rows still gets its header. */
    uint64_t mine = F->c.rows, rows = 0;
    MPI_Allreduce(&mine, &rows, 1, MPI_UINT64_T, MPI_SUM, F->comm);
    if (rows == 0 && F->nps == 0 && !F->o->single_file && F->rank == 0) {
        F->chunk = 0;
        F->dir.n = 0;
        part *p;
        rc = open_part(F, &p);
        rc = close_parts(F, rc);
    }
    if (agree(F, rc, 0))
        return -1;
    if (F->o->single_file && assemble_single(F) != 0)
        return -1;
    return 0;
}

/* ---- manifest and commit ---- */


static int json_strings(sf_buf *m, const char *const *v, size_t n)
{
    int rc = sf_buf_printf(m, "[");
    for (size_t i = 0; i < n; i++) {
        rc |= sf_buf_printf(m, "%s", i ? ", " : "");
        rc |= sf_buf_json_string(m, v[i], strlen(v[i]));
    }
    return rc | sf_buf_printf(m, "]");
}

static int build_manifest(fl *F, out_file *files, size_t nfiles, const uint64_t *rss,
                          double wall, sf_buf *m)
{
    const fl_counts *c = &F->all;
    const sf_flatten_opts *fo = &F->o->fo;
    uint64_t out_rows = 0, out_bytes = 0;
    for (size_t i = 0; i < nfiles; i++) {
        out_rows += files[i].rows;
        out_bytes += files[i].bytes;
    }
    int rc = sf_buf_printf(m, "{\n  \"shardflow_version\": \"%s\",\n  \"command\": \"flatten\","
                           "\n  \"run_id\": \"%s\",\n  \"ranks\": %d,\n  \"schedule\": \"%s\",\n"
                           "  \"chunk_size\": %llu,\n  \"status\": \"committed\",\n  \"inputs\": [",
                           SF_VERSION, F->runid, F->nranks,
                           F->o->run.schedule == SF_SCHED_STATIC ? "static" : "dynamic",
                           (unsigned long long)F->chunk_size);
    for (size_t i = 0; i < F->nfiles; i++) {
        rc |= sf_buf_printf(m, "%s\n    {\"path\": ", i ? "," : "");
        rc |= sf_buf_json_string(m, F->paths[i], strlen(F->paths[i]));
        rc |= sf_buf_printf(m, ", \"bytes\": %llu}", (unsigned long long)F->sizes[i]);
    }
    rc |= sf_buf_printf(m, "\n  ],\n  \"flatten\": {\"sep\": ");
    rc |= sf_buf_json_string(m, fo->sep, strlen(fo->sep));
    rc |= sf_buf_printf(m, ", \"lists\": \"%s\", \"join_sep\": ", sf_lists_policy_name(fo->lists));
    rc |= sf_buf_json_string(m, fo->join_sep, strlen(fo->join_sep));
    rc |= sf_buf_printf(m, ", \"explode\": ");
    rc |= json_strings(m, fo->explode, fo->nexplode);
    if (fo->max_depth >= 0)
        rc |= sf_buf_printf(m, ", \"max_depth\": %d", fo->max_depth);
    else
        rc |= sf_buf_printf(m, ", \"max_depth\": null");
    rc |= sf_buf_printf(m, ", \"max_rows_per_record\": %llu, \"on_collision\": \"%s\"},\n",
                        (unsigned long long)fo->max_rows,
                        sf_collision_policy_name(fo->on_collision));
    const char *pnames[MAX_PARTITION];
    for (size_t k = 0; k < F->nps; k++)
        pnames[k] = F->ps[k].name;
    rc |= sf_buf_printf(m, "  \"output\": {\"format\": \"%s\", \"layout\": \"%s\", "
                        "\"order\": \"input\", \"partition_by\": ", F->h5 ? "hdf5" : "csv",
                        F->o->single_file ? "single" : "hive");
    rc |= json_strings(m, pnames, F->nps);
    rc |= sf_buf_printf(m, ",\n    \"columns\": [");
    for (size_t i = 0; i < F->nfcols; i++) {
        rc |= sf_buf_printf(m, "%s{\"name\": ", i ? ", " : "");
        rc |= sf_buf_json_string(m, F->fnames[i], strlen(F->fnames[i]));
        rc |= sf_buf_printf(m, ", \"type\": \"%s\"}", sf_type_name(F->ftypes[i]));
    }
    rc |= sf_buf_printf(m, "]},\n  \"counts\": {\n    \"lines_read\": %llu,\n"
                        "    \"blank_lines\": %llu,\n    \"rows_rejected\": %llu,\n"
                        "    \"records\": %llu,\n    \"rows\": %llu,\n"
                        "    \"rows_exploded\": %llu,\n    \"duplicate_keys\": %llu,\n"
                        "    \"collisions\": %llu,\n    \"output_rows\": %llu,\n"
                        "    \"rejected_by_reason\": {",
                        (unsigned long long)c->lines_read, (unsigned long long)c->blank_lines,
                        (unsigned long long)c->rows_rejected, (unsigned long long)c->records,
                        (unsigned long long)c->rows,
                        (unsigned long long)(c->rows - c->records),
                        (unsigned long long)c->duplicate_keys, (unsigned long long)c->collisions,
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
    rc |= sf_buf_printf(m, "}\n  },\n  \"rejected_samples\": ");
    rc |= sf_manifest_samples(m, F->all_samples, F->nall_samples,
                              (const char *const *)F->paths);
    rc |= sf_buf_printf(m, ",\n  \"files\": ");
    rc |= sf_manifest_files(m, files, nfiles, F->runid);
    rc |= sf_buf_printf(m, ",\n  \"output_bytes\": %llu,\n  \"bytes_scanned\": %llu,\n"
                        "  \"phases_seconds\": {\"plan\": %.6f, \"schema\": %.6f, "
                        "\"write\": %.6f, \"commit\": %.6f},\n  \"wall_seconds\": %.6f,\n"
                        "  \"peak_rss_bytes\": [",
                        (unsigned long long)out_bytes,
                        (unsigned long long)c->bytes_scanned, F->tphase[0], F->tphase[1],
                        F->tphase[2], F->tphase[3], wall);
    for (int r = 0; r < F->nranks; r++)
        rc |= sf_buf_printf(m, "%s%llu", r ? ", " : "", (unsigned long long)rss[r]);
    rc |= sf_buf_printf(m, "]\n}\n");
    return rc ? SF_E_NOMEM : 0;
}

static void print_summary(fl *F, size_t nfiles, uint64_t rows, const uint64_t *rss, double wall)
{
    const fl_counts *c = &F->all;
    uint64_t maxrss = 0;
    for (int r = 0; r < F->nranks; r++)
        maxrss = rss[r] > maxrss ? rss[r] : maxrss;
    double mb = (double)c->bytes_scanned / 1e6;
    fprintf(stderr, "shardflow: flatten: %llu lines, %.1f MB in %.2f s on %d rank%s "
            "(%.1f MB/s, two passes)\n", (unsigned long long)c->lines_read, mb, wall, F->nranks,
            F->nranks == 1 ? "" : "s", wall > 0 ? mb / wall : 0);
    fprintf(stderr, "  lines read %llu = records %llu + rejected %llu + blank %llu\n",
            (unsigned long long)c->lines_read, (unsigned long long)c->records,
            (unsigned long long)c->rows_rejected, (unsigned long long)c->blank_lines);
    fprintf(stderr, "  rows %llu (%llu from explode), %zu columns, %llu duplicate keys, "
            "%llu collisions resolved\n", (unsigned long long)rows,
            (unsigned long long)(c->rows - c->records), F->nfcols,
            (unsigned long long)c->duplicate_keys, (unsigned long long)c->collisions);
    for (size_t i = 0; i < F->nall_samples && i < 3; i++)
        fprintf(stderr, "  rejected: %s: byte %llu: %s\n", F->paths[F->all_samples[i].file],
                (unsigned long long)F->all_samples[i].offset, F->all_samples[i].msg);
    fprintf(stderr, "  phases: plan %.2f s, schema %.2f s, write %.2f s, commit %.2f s; peak RSS "
            "per rank %.1f MiB (max)\n", F->tphase[0], F->tphase[1], F->tphase[2], F->tphase[3],
            (double)maxrss / 1048576.0);
    fprintf(stderr, "  output: %s (%zu file%s)\n", F->stage.out, nfiles, nfiles == 1 ? "" : "s");
    if (F->stage.mode == SF_COMMIT_APPEND || F->stage.mode == SF_COMMIT_OVERWRITE_PARTITIONS)
        fprintf(stderr, "  %s: the output now holds %zu files, %llu rows from %zu run%s (%zu "
                "earlier files kept, %zu replaced)\n", sf_commit_mode_name(F->stage.mode),
                F->stage.merged.files_total, (unsigned long long)F->stage.merged.rows_total,
                F->stage.merged.runs, F->stage.merged.runs == 1 ? "" : "s",
                F->stage.merged.files_kept, F->stage.merged.files_dropped);
}

static int finish(fl *F)
{
    double t = MPI_Wtime();
    /* The write pass must have seen what the schema pass saw. */
    gather_counts(F, 0);
    fl_counts second = F->all;
    F->c = F->first;
    gather_counts(F, 0);
    size_t nbytes = 0;
    out_file *files = gather_bytes(F, F->files, F->nfiles_out * sizeof *F->files, &nbytes);
    size_t nfiles = nbytes / sizeof *files;
    uint64_t myrss = sf_peak_rss_bytes();
    uint64_t *rss = F->rank == 0 ? calloc((size_t)F->nranks, sizeof *rss) : NULL;
    MPI_Gather(&myrss, 1, MPI_UINT64_T, rss, 1, MPI_UINT64_T, 0, F->comm);
    int rc = 0;
    if (F->rank == 0) {
        const fl_counts *c = &F->all;
        uint64_t rows = 0;
        for (size_t i = 0; i < nfiles; i++)
            rows += files[i].rows;
        if (F->o->single_file && nfiles == 1)
            files[0].rows = rows = c->rows;
        sf_out_files_sort(files, nfiles);
        if (!rss)
            rc = nomem(F);
        else if (c->lines_read != c->records + c->rows_rejected + c->blank_lines)
            rc = sf_error_set(&F->err, SF_E_INTERNAL, "internal error: line accounting does not "
                              "add up (read %llu)", (unsigned long long)c->lines_read);
        else if (c->bytes_scanned != F->total || second.bytes_scanned != F->total)
            rc = sf_error_set(&F->err, SF_E_INTERNAL, "scanned %llu bytes of %llu (did the input "
                              "change during the run?)", (unsigned long long)c->bytes_scanned,
                              (unsigned long long)F->total);
        else if (second.lines_read != c->lines_read || second.rows != c->rows ||
                 second.rows_rejected != c->rows_rejected || rows != c->rows)
            rc = sf_error_set(&F->err, SF_E_INTERNAL, "the write pass read %llu lines and wrote "
                              "%llu rows, the schema pass %llu and %llu: did the input change "
                              "during the run?", (unsigned long long)second.lines_read,
                              (unsigned long long)rows, (unsigned long long)c->lines_read,
                              (unsigned long long)c->rows);
        sf_buf m = SF_BUF_INIT;
        F->tphase[3] = MPI_Wtime() - t;
        double wall = MPI_Wtime() - F->t0;
        if (!rc && build_manifest(F, files, nfiles, rss, wall, &m) != 0)
            rc = nomem(F);
        if (!rc)
            rc = sf_output_commit(&F->stage, (const char *)m.p, m.n, &F->err);
        if (!rc)
            F->staged = 0;
        sf_buf_free(&m);
        F->tphase[3] = MPI_Wtime() - t;
        if (!rc && !F->o->run.quiet)
            print_summary(F, nfiles, rows, rss, MPI_Wtime() - F->t0);
    }
    free(files);
    free(rss);
    return agree(F, rc, 1) ? -1 : 0;
}

/* ---- entry points ---- */

static void fl_free(fl *F)
{
    if (F->rank == 0 && F->staged)
        sf_output_abort(&F->stage);
    sf_error cerr;
    if (sf_claim_release(F->claim, &cerr) != 0)
        fprintf(stderr, "shardflow: warning: %s\n", cerr.msg);
    sf_output_stage_free(&F->stage);
    for (size_t i = 0; i < F->nfiles; i++)
        free(F->paths ? F->paths[i] : NULL);
    free(F->paths);
    free(F->sizes);
    free(F->base);
    free(F->chunks);
    sf_flatten_free(F->eng);
    free(F->names);
    free(F->types);
    free(F->nonnull);
    free(F->fcols);
    free(F->fnames);
    free(F->ftypes);
    for (size_t k = 0; k < F->nps; k++) {
        free(F->ps[k].name);
        sf_expr_free(F->ps[k].expr);
    }
    free(F->prefs);
    free(F->dense);
    free(F->typedrow);
    free(F->hrow);
    sf_arena_free(&F->scratch);
    sf_buf_free(&F->dir);
    for (size_t i = 0; i < F->nparts; i++) {
        sf_error ignored;
        if (F->parts[i].h5)
            sf_h5_writer_close(F->parts[i].h5, NULL, NULL, &ignored);
        else
            sf_csv_writer_close(F->parts[i].csv, NULL, &ignored);
        free(F->parts[i].rel);
    }
    free(F->parts);
    sf_hmap_free(F->partmap);
    free(F->files);
    free(F->piece);
}

static int run(fl *F)
{
    F->t0 = MPI_Wtime();
    {
        /* The engine options are checked once, before any file is touched. */
        sf_flatten *probe = NULL;
        int rc = sf_flatten_new(&F->o->fo, &probe, &F->err);
        sf_flatten_free(probe);
        if (rc) {
            if (F->rank == 0)
                fprintf(stderr, "shardflow: %s\n", F->err.msg);
            return 2;
        }
    }
    if (plan(F) != 0)
        return 1;
    F->tphase[0] = MPI_Wtime() - F->t0;
    double t = MPI_Wtime();
    if (schema_pass(F) != 0)
        return 1;
    F->tphase[1] = MPI_Wtime() - t;
    if (F->schema_only) {
        if (F->rank == 0)
            print_schema(F);
        return 0;
    }
    t = MPI_Wtime();
    if (write_pass(F) != 0)
        return 1;
    F->tphase[2] = MPI_Wtime() - t;
    return finish(F) != 0 ? 1 : 0;
}

static int main_common(int argc, char **argv, int rank, int schema)
{
    const char *usage = schema ? sf_schema_usage : sf_flatten_usage;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            if (rank == 0)
                fputs(usage, stdout);
            return 0;
        }
    }
    fl_opts *o = calloc(1, sizeof *o);
    fl *F = calloc(1, sizeof *F);
    if (!o || !F) {
        free(o);
        free(F);
        fprintf(stderr, "shardflow: out of memory\n");
        return 1;
    }
    sf_cli_set_quiet(rank != 0);
    int rc = parse_opts(argc, argv, usage, schema, o);
    if (rc == 0) {
        F->comm = MPI_COMM_WORLD;
        F->rank = rank;
        MPI_Comm_size(F->comm, &F->nranks);
        F->o = o;
        F->schema_only = schema;
        F->h5 = strcmp(o->format, "hdf5") == 0;
        sf_error_clear(&F->err);
        rc = run(F);
        if (rc && F->rank == 0 && F->staged)
            fprintf(stderr, "shardflow: flatten failed; nothing was committed%s\n",
                    F->replacing ? " and the previous output is untouched" : "");
        fl_free(F);
    }
    free(F);
    free(o);
    return rc;
}

int sf_flatten_main(int argc, char **argv, int rank) { return main_common(argc, argv, rank, 0); }

int sf_schema_main(int argc, char **argv, int rank) { return main_common(argc, argv, rank, 1); }

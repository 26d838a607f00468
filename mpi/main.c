/* main.c - the shardflow command line: dispatches to run, validate and gen.
 *
 * MPI is initialized only for the commands that use it, so --help, --version
 * and validate start instantly and work without mpirun. Options are parsed on
 * every rank from the same argv, so every rank agrees on them; only rank 0
 * prints usage errors.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fmt.h"
#include "mpi/gen.h"
#include "mpi/run.h"

static const char *const main_usage =
    "usage: shardflow COMMAND [OPTIONS]\n"
    "\n"
    "Turns JSON Lines files into analytics tables on MPI ranks.\n"
    "Run under mpirun / srun for several ranks; without them it runs on one.\n"
    "\n"
    "commands:\n"
    "  run JOB.json        run a job spec (see docs/job-spec.md)\n"
    "  validate JOB.json   check a job spec without reading data\n"
    "  gen kpi             generate the daily KPI sample dataset\n"
    "\n"
    "options:\n"
    "  -h, --help          this help; `shardflow COMMAND --help` for a command\n"
    "  --version           print the version\n"
    "\n"
    "examples:\n"
    "  mpirun -np 4 shardflow run jobs/daily_kpi.json --output out/daily_kpi\n"
    "  mpirun -np 2 shardflow gen kpi --events 1M -o data/kpi_1m\n";

static const char *const run_usage =
    "usage: shardflow run JOB.json [OPTIONS]\n"
    "\n"
    "Runs the job on every rank of the MPI world and commits its output\n"
    "atomically: OUT/<partition dirs>/part-NNNNN.csv, then _MANIFEST.json and\n"
    "_SUCCESS. A failed run leaves no _SUCCESS and an existing OUT untouched.\n"
    "\n"
    "options:\n"
    "  --input NAME=PATH     read input NAME from PATH instead of the spec's path\n"
    "                        (repeatable)\n"
    "  --output DIR, -o DIR  output directory (default: the spec's output.path)\n"
    "  --overwrite           replace an existing output once the new one is complete\n"
    "  --chunk-size SIZE     bytes per scan chunk (K/M/G suffixes; default 64M, cut\n"
    "                        down to give at least 4 chunks per rank, not below 1M)\n"
    "  --schedule MODE       dynamic (default): ranks take chunks on request;\n"
    "                        static: rank i takes the i-th contiguous share\n"
    "  --shuffle-round SIZE  bytes per all-to-all round over all ranks (default 64M)\n"
    "  --repartition MODE    where data moves before aggregation: before-aggregate\n"
    "                        (default: pre-aggregate per rank, shuffle partial\n"
    "                        aggregates), before-join (shuffle raw rows by the key\n"
    "                        of the largest dimension table and partition that table:\n"
    "                        a partitioned hash join), none (no combiner: shuffle raw\n"
    "                        rows by group key, aggregate after the shuffle)\n"
    "  --broadcast-limit SIZE  a dimension table larger than this is joined\n"
    "                        partitioned (before-join) automatically (default 64M)\n"
    "  --partitions P        shuffle partitions (default: one per rank); partition p\n"
    "                        belongs to rank p mod ranks\n"
    "  --write MODE          how output files are formed: repartition (default: one\n"
    "                        file per partition value, written by its owner),\n"
    "                        coalesce=N (N writers take whole groups of ranks' rows:\n"
    "                        at most N files per value), local (every rank writes\n"
    "                        what it holds: up to one file per rank per value)\n"
    "  --max-line-bytes SIZE longer lines are rejected (default 16M)\n"
    "  --progress            progress on stderr (default: when stderr is a terminal)\n"
    "  --no-progress         no progress lines\n"
    "  --quiet               no end-of-run summary\n"
    "  -h, --help            this help\n";

static const char *const validate_usage =
    "usage: shardflow validate JOB.json [--input NAME=PATH]...\n"
    "\n"
    "Loads the job spec, checks every field, column and expression, and prints\n"
    "the plan (inputs, columns, steps, groups, aggregates, windows, output)\n"
    "without reading any data. Exit code 0 if valid, 2 if not.\n";

static int wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    }
    return 0;
}

/* Set on ranks other than 0: every rank parses the same argv and reaches the
 * same verdict, so one copy of a usage error is enough. */
static int usage_silent;

static int usage_error(const char *usage, const char *fmt, const char *arg)
{
    if (usage_silent)
        return 2;
    fprintf(stderr, "shardflow: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n\n%s", usage);
    return 2;
}

static int parse_size_opt(const char *name, const char *text, uint64_t *out)
{
    if (sf_parse_size(text, out) != 0 || *out == 0) {
        if (!usage_silent)
            fprintf(stderr, "shardflow: %s: invalid size '%s' (e.g. 4M, 64M, 1G)\n", name, text);
        return -1;
    }
    return 0;
}

/* Parses the options shared by run and validate. Returns 0, or 2 after
 * printing a usage error (only from the calling rank). */
static int parse_run_opts(int argc, char **argv, const char *usage, int allow_run_opts,
                          sf_run_opts *o)
{
    sf_run_opts_init(o);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
#define NEXT_VALUE()                                                                  \
    do {                                                                              \
        const char *eq = strchr(a, '=');                                              \
        if (strncmp(a, "--", 2) == 0 && eq) {                                         \
            val = eq + 1;                                                             \
        } else if (i + 1 < argc) {                                                    \
            val = argv[++i];                                                          \
        } else {                                                                      \
            return usage_error(usage, "option %s needs a value", a);                  \
        }                                                                             \
    } while (0)
#define IS_OPT(name) (strcmp(a, name) == 0 || strncmp(a, name "=", sizeof(name)) == 0)
        if (IS_OPT("--input")) {
            /* --input=NAME=PATH would be ambiguous with the '=' split; the
             * first '=' after "--input" separates the option. */
            if (strcmp(a, "--input") == 0) {
                if (i + 1 >= argc)
                    return usage_error(usage, "option %s needs NAME=PATH", a);
                val = argv[++i];
            } else {
                val = a + strlen("--input=");
            }
            const char *eq = strchr(val, '=');
            if (!eq || eq == val || !eq[1])
                return usage_error(usage, "--input takes NAME=PATH, got '%s'", val);
            if (o->ninputs >= SF_MAX_INPUT_OVERRIDES)
                return usage_error(usage, "too many --input options (at most %s)", "64");
            size_t n = (size_t)(eq - val);
            char *name = malloc(n + 1);
            if (!name)
                return 2;
            memcpy(name, val, n);
            name[n] = '\0';
            o->input_names[o->ninputs] = name;
            o->input_paths[o->ninputs] = eq + 1;
            o->ninputs++;
        } else if (allow_run_opts && (IS_OPT("--output") || strcmp(a, "-o") == 0)) {
            NEXT_VALUE();
            o->output = val;
        } else if (allow_run_opts && strcmp(a, "--overwrite") == 0) {
            o->overwrite = 1;
        } else if (allow_run_opts && IS_OPT("--chunk-size")) {
            NEXT_VALUE();
            if (parse_size_opt("--chunk-size", val, &o->chunk_size) != 0)
                return 2;
        } else if (allow_run_opts && IS_OPT("--shuffle-round")) {
            NEXT_VALUE();
            if (parse_size_opt("--shuffle-round", val, &o->shuffle_round) != 0)
                return 2;
        } else if (allow_run_opts && IS_OPT("--max-line-bytes")) {
            NEXT_VALUE();
            if (parse_size_opt("--max-line-bytes", val, &o->max_line) != 0)
                return 2;
        } else if (allow_run_opts && IS_OPT("--repartition")) {
            NEXT_VALUE();
            if (strcmp(val, "before-aggregate") == 0)
                o->repartition = SF_REPART_BEFORE_AGGREGATE;
            else if (strcmp(val, "before-join") == 0)
                o->repartition = SF_REPART_BEFORE_JOIN;
            else if (strcmp(val, "none") == 0)
                o->repartition = SF_REPART_NONE;
            else
                return usage_error(usage, "--repartition takes before-aggregate, before-join or "
                                   "none, got '%s'", val);
        } else if (allow_run_opts && IS_OPT("--broadcast-limit")) {
            NEXT_VALUE();
            if (parse_size_opt("--broadcast-limit", val, &o->broadcast_limit) != 0)
                return 2;
        } else if (allow_run_opts && IS_OPT("--partitions")) {
            NEXT_VALUE();
            char *end;
            long p = strtol(val, &end, 10);
            if (*end || p < 1 || p > 1000000)
                return usage_error(usage, "--partitions takes a number from 1 to 1000000, got '%s'",
                                   val);
            o->partitions = (int)p;
        } else if (allow_run_opts && IS_OPT("--write")) {
            NEXT_VALUE();
            if (strcmp(val, "repartition") == 0) {
                o->write_mode = SF_WRITE_REPARTITION;
            } else if (strcmp(val, "local") == 0) {
                o->write_mode = SF_WRITE_LOCAL;
            } else if (strncmp(val, "coalesce=", 9) == 0) {
                char *end;
                long n = strtol(val + 9, &end, 10);
                if (*end || n < 1 || n > 1000000)
                    return usage_error(usage, "--write coalesce=N takes N >= 1, got '%s'", val);
                o->write_mode = SF_WRITE_COALESCE;
                o->coalesce = (int)n;
            } else {
                return usage_error(usage, "--write takes repartition, coalesce=N or local, got "
                                   "'%s'", val);
            }
        } else if (allow_run_opts && IS_OPT("--schedule")) {
            NEXT_VALUE();
            if (strcmp(val, "dynamic") == 0)
                o->schedule = SF_SCHED_DYNAMIC;
            else if (strcmp(val, "static") == 0)
                o->schedule = SF_SCHED_STATIC;
            else
                return usage_error(usage, "--schedule takes static or dynamic, got '%s'", val);
        } else if (allow_run_opts && strcmp(a, "--progress") == 0) {
            o->progress = 1;
        } else if (allow_run_opts && strcmp(a, "--no-progress") == 0) {
            o->progress = 0;
        } else if (allow_run_opts && strcmp(a, "--quiet") == 0) {
            o->quiet = 1;
        } else if (a[0] == '-' && a[1] != '\0') {
            return usage_error(usage, "unknown option '%s'", a);
        } else if (!o->job_path) {
            o->job_path = a;
        } else {
            return usage_error(usage, "unexpected argument '%s'", a);
        }
#undef NEXT_VALUE
#undef IS_OPT
    }
    if (!o->job_path)
        return usage_error(usage, "%s", "missing JOB.json");
    return 0;
}

static void free_run_opts(sf_run_opts *o)
{
    for (int i = 0; i < o->ninputs; i++)
        free((char *)o->input_names[i]);
    o->ninputs = 0;
}

/* Runs fn(sub_argc, sub_argv, rank) between MPI_Init and MPI_Finalize. */
static int with_mpi(int argc, char **argv, int (*fn)(int, char **, int), int sub_argc,
                    char **sub_argv)
{
    MPI_Init(&argc, &argv);
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    int rc = fn(sub_argc, sub_argv, rank);
    MPI_Finalize();
    return rc;
}

static int cmd_run(int argc, char **argv, int rank)
{
    sf_run_opts o;
    usage_silent = rank != 0;
    int rc = parse_run_opts(argc, argv, run_usage, 1, &o);
    if (rc == 0)
        rc = sf_run_main(&o);
    free_run_opts(&o);
    return rc;
}

static int cmd_gen(int argc, char **argv, int rank)
{
    (void)rank;
    return sf_gen_main(argc, argv, MPI_COMM_WORLD);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(main_usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        fputs(main_usage, stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("shardflow %s\n", SF_VERSION);
        return 0;
    }
    if (strcmp(cmd, "run") == 0) {
        if (wants_help(argc - 2, argv + 2)) {
            fputs(run_usage, stdout);
            return 0;
        }
        return with_mpi(argc, argv, cmd_run, argc - 2, argv + 2);
    }
    if (strcmp(cmd, "validate") == 0) {
        if (wants_help(argc - 2, argv + 2)) {
            fputs(validate_usage, stdout);
            return 0;
        }
        sf_run_opts o;
        int rc = parse_run_opts(argc - 2, argv + 2, validate_usage, 0, &o);
        if (rc == 0)
            rc = sf_validate_main(&o);
        free_run_opts(&o);
        return rc;
    }
    if (strcmp(cmd, "gen") == 0)
        return with_mpi(argc, argv, cmd_gen, argc - 2, argv + 2);
    fprintf(stderr, "shardflow: unknown command '%s'\n\n%s", cmd, main_usage);
    return 2;
}

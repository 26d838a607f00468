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
#if defined(__GLIBC__) /* defined by the C library's headers above */
#include <malloc.h>
#endif

#include "core/bigmem.h"
#include "core/fmt.h"
#include "cli/options.h"
#include "io/fsutil.h"
#include "io/hostmem.h"
#include "mpi/collective.h"
#include "mpi/h5api.h"
#include "cli/experiment.h"
#include "cli/flatten.h"
#include "cli/gen.h"
#include "cli/inspect.h"
#include "cli/run.h"

static const char *const main_usage =
    "usage: shardflow COMMAND [OPTIONS]\n"
    "\n"
    "Turns JSON Lines files into analytics tables on MPI ranks.\n"
    "Run under mpirun / srun for several ranks; without them it runs on one.\n"
    "\n"
    "commands:\n"
    "  run JOB.json        run a job spec (see docs/job-spec.md)\n"
    "  validate JOB.json   check a job spec and that its inputs are readable\n"
    "  experiment JOB.json run every strategy and write mode, compare, report\n"
    "  flatten INPUT...    nested JSON Lines to a flat CSV/HDF5 table (docs/flatten.md)\n"
    "  schema INPUT...     the flat schema flatten infers: a table, SQL DDL or a\n"
    "                      draft job spec\n"
    "  gen DATASET         generate a sample dataset: kpi, orders, learning, video\n"
    "  inspect PATH        partitions, files, columns and row counts of an output\n"
    "  cat PATH            print an output (CSV, HDF5 or Parquet) as CSV\n"
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
    "                        (repeatable; relative to the current directory, while\n"
    "                        paths in the spec are relative to the spec file); the\n"
    "                        fact input may be - (stdin) or a FIFO, plain, gzip or\n"
    "                        zstd, read by rank 0 and dealt out in blocks (under\n"
    "                        mpirun only rank 0 has stdin)\n"
    "  --param NAME=VALUE    set the job parameter NAME (declared in the spec's\n"
    "                        \"params\"; ${NAME} in its expressions) (repeatable)\n"
    "  --output DIR, -o DIR  output directory (default: the spec's output.path); a\n"
    "                        job with several \"outputs\" writes DIR/<name> for each\n"
    "  --write-mode MODE     error (default: OUT must not exist), overwrite (replace\n"
    "                        OUT once the new one is complete), overwrite-partitions\n"
    "                        (replace only the partition directories this run\n"
    "                        writes, keep the rest), append (add files with\n"
    "                        run-unique names, never replacing one)\n"
    "  --overwrite           the same as --write-mode overwrite\n"
    "  --claim-timeout T     a claim on OUT held by a run on another host is broken\n"
    "                        after T (seconds, or with s/m/h/d; default 1d; 0: never)\n"
    "  --format csv|hdf5|parquet  output format (default: the spec's output.format,\n"
    "                        csv)\n"
    "  --layout hive|single  hdf5: a file per partition value (hive, default) or one\n"
    "                        OUT/output.h5 with a group per value, written by all\n"
    "                        ranks at once with parallel HDF5 (single); csv and\n"
    "                        parquet are hive only\n"
    "  --compression C       hdf5: none, gzip or gzip:N (0-9; default gzip:4);\n"
    "                        parquet: none, snappy (default), gzip[:N], zstd[:N];\n"
    "                        csv: none (default), gzip[:N] (1-9) or zstd[:N] (1-22),\n"
    "                        written as part-NNNNN.csv.gz / .csv.zst\n"
    "  --row-group-size R    parquet: rows (1000000), bytes (64MiB) or both\n"
    "                        (1000000,64MiB) per row group (default 1048576 rows\n"
    "                        or 128 MiB)\n"
    "  --chunk-size SIZE     bytes per scan chunk (K/M/G suffixes; default 64M, cut\n"
    "                        down to give at least 4 chunks per rank, not below 1M;\n"
    "                        under --schedule dynamic the default's last chunks\n"
    "                        shrink so that the ranks finish together)\n"
    "  --schedule MODE       dynamic (default): ranks take chunks on request, each\n"
    "                        the next of its own run of neighbouring chunks;\n"
    "                        static: rank i takes the i-th contiguous share\n"
    "  --shuffle-round SIZE  bytes per all-to-all round over all ranks (default 64M)\n"
    "  --repartition MODE    where data moves before aggregation: before-aggregate\n"
    "                        (default: pre-aggregate per rank, shuffle partial\n"
    "                        aggregates), before-join (shuffle raw rows by the key\n"
    "                        of the largest dimension table and partition that table:\n"
    "                        a partitioned hash join; with its key among the group\n"
    "                        columns the group shuffle is skipped), none (no\n"
    "                        combiner: shuffle raw rows by group key, aggregate\n"
    "                        after the shuffle); a job with a dedupe step ships its\n"
    "                        rows by the dedupe key and runs before-aggregate only\n"
    "  --salt K              with --repartition none: rows of hot group keys (found\n"
    "                        by a heavy-hitter sketch on each rank) go to K partial\n"
    "                        owners, merged exactly afterwards (default 1: off)\n"
    "  --broadcast-limit SIZE  a dimension table larger than this is joined\n"
    "                        partitioned (before-join), any other broadcast (default:\n"
    "                        broadcast a table that fits in a quarter of a rank's\n"
    "                        memory budget and whose copies cost no more than moving\n"
    "                        the fact rows; up to 10 MB always; the run prints why)\n"
    "  --partitions P        shuffle partitions (default: one per rank); partition p\n"
    "                        belongs to rank p mod ranks\n"
    "  --write MODE          how output files are formed: repartition (default: one\n"
    "                        file per partition value, the values dealt to ranks\n"
    "                        by their rows),\n"
    "                        coalesce=N (N writers take whole groups of ranks' rows:\n"
    "                        at most N files per value), local (every rank writes\n"
    "                        what it holds: up to one file per rank per value)\n"
    "  --memory-limit SIZE   memory per rank (K/M/G; or none); beyond it partial\n"
    "                        aggregates (of every output), a dedupe step's rows\n"
    "                        and result rows (sorted runs, windows included)\n"
    "                        spill to --spill-dir and are merged back one\n"
    "                        partition at a time (default: the spec's\n"
    "                        memory_limit, else 75% of the node's memory over the\n"
    "                        ranks on that node); a limit too small to make\n"
    "                        progress is refused with the minimum it needs\n"
    "  --spill-dir DIR       node-local directory for spill files (default $TMPDIR,\n"
    "                        else /tmp); each rank writes under\n"
    "                        DIR/shardflow-RUNID-rRANK/, removed at the end\n"
    "  --max-line-bytes SIZE longer lines are rejected (default 16M)\n"
    "  --mode MODE           bad lines: permissive (default: counted and written to\n"
    "                        OUT/_bad_records/part-NNNNN.jsonl with file, line,\n"
    "                        byte offset and reason), dropmalformed (counted only),\n"
    "                        failfast (the first stops the run, exit code 2)\n"
    "  --max-bad N|P%        fail (exit code 2) when more than N lines, or P% of the\n"
    "                        lines read, are bad (default 10%; 100% turns it off)\n"
    "  --decoder KIND        JSON decoder: fast (default; a strict projection\n"
    "                        decoder) or jansson (the reference; same results)\n"
    "  --progress            progress on stderr also into a file or pipe, one line\n"
    "                        per update (default: one line rewritten in place when\n"
    "                        stderr, or mpirun's stderr, is a terminal)\n"
    "  --no-progress         no progress lines\n"
    "  --quiet               no end-of-run summary\n"
    "  --verbose             the summary also says, per rank, whether its combiner\n"
    "                        pre-aggregated or stepped aside (groups close to rows:\n"
    "                        rows go straight to their group's owner), and why\n"
    "  -h, --help            this help\n";

static const char *const validate_usage =
    "usage: shardflow validate JOB.json [--input NAME=PATH]... [--param NAME=VALUE]...\n"
    "\n"
    "Loads the job spec, checks every field, column and expression, and prints\n"
    "the plan (inputs, columns, steps, groups, aggregates, having, windows,\n"
    "output, sort and limit) without reading any data. Then checks that every\n"
    "input exists and is readable, and prints the path each one resolved to:\n"
    "relative paths in the spec are relative to the spec file's directory,\n"
    "--input paths to the current directory. Exit code 0 if valid, 2 if not.\n";

static int wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    }
    return 0;
}

/* This process's rank as the launcher told it in the environment (Open
 * MPI's mpirun, PMIx, PMI, srun), before MPI_Init can; 0 when started
 * alone. */
static int launcher_rank(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK",
                                       "SLURM_PROCID", NULL};
    for (int i = 0; vars[i]; i++) {
        const char *v = getenv(vars[i]);
        if (v && *v)
            return atoi(v);
    }
    return 0;
}

/* Whether path is a small regular file (a job spec, not an input) that
 * names "hdf5" as a JSON string. */
static int spec_names_hdf5(const char *path)
{
    sf_error err;
    uint64_t size;
    char *text;
    size_t n;
    if (sf_file_size(path, &size, &err) != 0 || size > (1 << 20) ||
        sf_read_file(path, &text, &n, &err) != 0)
        return 0;
    int found = strstr(text, "\"hdf5\"") != NULL;
    free(text);
    return found;
}

/* Whether the command will write HDF5, from its arguments alone (every
 * rank reads the same ones before MPI_Init): 2 when --format says hdf5, 0
 * when it says anything else, else 1 when a job spec named among the
 * arguments (JOB.json) has the string "hdf5" (its output.format, likely),
 * 0 otherwise. A run told 1 or 0 wrongly still works: the plan loads HDF5
 * when the output is HDF5 (mpi/h5api.h), only after MPI_Init. */
static int will_use_hdf5(int argc, char **argv)
{
    int spec = 0;
    for (int i = 0; i < argc && strcmp(argv[i], "--") != 0; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--format") == 0 && i + 1 < argc)
            return strcmp(argv[i + 1], "hdf5") == 0 ? 2 : 0;
        if (strncmp(a, "--format=", 9) == 0)
            return strcmp(a + 9, "hdf5") == 0 ? 2 : 0;
        size_t n = strlen(a);
        if (!spec && a[0] != '-' && n > 5 && strcmp(a + n - 5, ".json") == 0)
            spec = spec_names_hdf5(a);
    }
    return spec;
}

/* Checks a command's arguments with check (0; an exit code after printing
 * a usage error on the launcher's rank 0 only; -1 after printing the help
 * there: exit 0), then runs
 * fn(sub_argc, sub_argv, rank) between MPI_Init and MPI_Finalize. Usage
 * errors end the process before MPI_Init: no MPI runtime starts for a
 * typo, and nothing but the error is printed (mpirun adds lines of its own
 * for any non-zero exit unless run with -q: README). */
static int with_mpi(int argc, char **argv, int (*check)(int, char **),
                    int (*fn)(int, char **, int), int sub_argc, char **sub_argv)
{
    sf_cli_set_quiet(launcher_rank() != 0);
    int crc = check(sub_argc, sub_argv);
    sf_cli_set_quiet(0);
    /* The launcher's other ranks printed nothing: they exit 0 and leave the
     * job's status to rank 0. Were they to exit non-zero first, mpirun
     * would kill rank 0 (after its SIGKILL grace time, default 1 s, 0 in
     * the tests) before its message is out. */
    if (crc > 0 && launcher_rank() != 0)
        return 0;
    if (crc)
        return crc < 0 ? 0 : crc;
    /* HDF5 starts before MPI and never shuts down on its own: initialized
     * under MPI, it would close leftover files in MPI_Finalize, and HDF5
     * 1.10 crashes there on a file whose close failed (disk full). Every
     * HDF5 object is closed explicitly, so nothing is lost. HDF5 is a
     * plugin loaded only by the runs that write it (mpi/h5api.h): one that
     * cannot be loaded ends a run told --format hdf5 here, before MPI;
     * for a spec that names hdf5 the plan reports it. */
    int h5 = will_use_hdf5(sub_argc, sub_argv);
    if (h5) {
        sf_error err;
        sf_error_clear(&err);
        if (sf_h5_load(&err) != 0 && h5 == 2) {
            if (launcher_rank() != 0)
                return 0;
            fprintf(stderr, "shardflow: %s\n", err.msg);
            return 1;
        }
    }
    sf_mpi_prefer_one_node();
    /* FUNNELED: the scan's read-ahead threads (io/readahead) run beside
     * the main thread, and only the main thread calls MPI. */
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    sf_mpi_catch_signals(); /* after MPI_Init, which installs handlers of its own */
    sf_mpi_launcher_nodelay();
    int rank = 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    int rc = fn(sub_argc, sub_argv, rank);
    MPI_Finalize();
    return rc;
}

static int cmd_run(int argc, char **argv, int rank)
{
    sf_run_opts o;
    sf_cli_set_quiet(rank != 0);
    int rc = sf_cli_parse_run(argc, argv, run_usage, 1, &o);
    if (rc == 0)
        rc = sf_run_main(&o);
    sf_cli_free_run(&o);
    return rc;
}

static int check_run(int argc, char **argv)
{
    sf_run_opts o;
    int rc = sf_cli_parse_run(argc, argv, run_usage, 1, &o);
    sf_cli_free_run(&o);
    return rc;
}

static int check_flatten(int argc, char **argv) { return sf_flatten_check_args(argc, argv, 0); }

static int check_schema(int argc, char **argv) { return sf_flatten_check_args(argc, argv, 1); }

static int cmd_gen(int argc, char **argv, int rank)
{
    (void)rank;
    return sf_gen_main(argc, argv, MPI_COMM_WORLD);
}

static const char *const commands[] = {"run",  "validate", "experiment", "flatten", "schema",
                                       "gen",  "inspect",  "cat",        "help",    "version",
                                       NULL};

/* "unknown command" with the nearest command within edit distance 2. */
static int unknown_command(const char *cmd)
{
    const char *best = NULL;
    size_t bestd = 3;
    for (int i = 0; commands[i]; i++) {
        size_t d = sf_cli_edit_distance(cmd, strlen(cmd), commands[i], strlen(commands[i]));
        if (d < bestd) {
            bestd = d;
            best = commands[i];
        }
    }
    fprintf(stderr, "shardflow: unknown command '%s'", cmd);
    if (best)
        fprintf(stderr, "; did you mean %s?", best);
    fputc('\n', stderr);
    sf_cli_try_line(main_usage);
    return 2;
}

/* glibc raises its mmap threshold to the size of each large block freed
 * (up to 32 MiB), after which blocks of that size come from the heap,
 * where freed memory between live blocks is not given back: the group
 * table's and the rows' arena blocks, the shuffle's round and held
 * buffers, freed phase by phase, then stay resident. A fixed threshold
 * keeps every block from 128 KiB up in its own mapping, returned on free
 * (docs/memory.md: about 300 MiB less per rank at S3's peak). */
static void keep_large_blocks_mapped(void)
{
#if defined(__GLIBC__)
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
#endif
}

/* Where the host backs a fresh huge page at its first touch (a guest that
 * reports its free memory: io/hostmem), blocks filled in order take 4 KiB
 * pages and only the tables read at random huge ones (core/bigmem's
 * policy tables; docs/memory.md, "Huge pages"). SHARDFLOW_HUGE_PAGES,
 * when set, decides instead. */
static void choose_huge_pages(void)
{
    if (!getenv("SHARDFLOW_HUGE_PAGES") && sf_hostmem_reports_free_pages(NULL))
        sf_bigmem_set_policy(SF_BIGMEM_TABLES);
}

int main(int argc, char **argv)
{
    keep_large_blocks_mapped();
    choose_huge_pages();
    if (argc < 2) {
        fputs(main_usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0 && argc >= 3) {
        /* `shardflow help CMD` is `shardflow CMD --help`, word for word. */
        if (argc > 3)
            return sf_cli_usage_error(main_usage, "help takes one command, got '%s'", argv[3]);
        char help[] = "--help";
        char *hargv[] = {argv[0], argv[2], help, NULL};
        if (strcmp(argv[2], "help") == 0 || argv[2][0] == '-') {
            fputs(main_usage, stdout);
            return 0;
        }
        return main(3, hargv);
    }
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
        return with_mpi(argc, argv, check_run, cmd_run, argc - 2, argv + 2);
    }
    if (strcmp(cmd, "validate") == 0) {
        if (wants_help(argc - 2, argv + 2)) {
            fputs(validate_usage, stdout);
            return 0;
        }
        sf_run_opts o;
        int rc = sf_cli_parse_run(argc - 2, argv + 2, validate_usage, 0, &o);
        if (rc == 0)
            rc = sf_validate_main(&o);
        sf_cli_free_run(&o);
        return rc;
    }
    if (strcmp(cmd, "inspect") == 0)
        return sf_inspect_main(argc - 2, argv + 2);
    if (strcmp(cmd, "cat") == 0)
        return sf_cat_main(argc - 2, argv + 2);
    if (strcmp(cmd, "experiment") == 0)
        return with_mpi(argc, argv, sf_experiment_check_args, sf_experiment_main, argc - 2,
                        argv + 2);
    if (strcmp(cmd, "gen") == 0)
        return with_mpi(argc, argv, sf_gen_check_args, cmd_gen, argc - 2, argv + 2);
    if (strcmp(cmd, "flatten") == 0)
        return with_mpi(argc, argv, check_flatten, sf_flatten_main, argc - 2, argv + 2);
    if (strcmp(cmd, "schema") == 0)
        return with_mpi(argc, argv, check_schema, sf_schema_main, argc - 2, argv + 2);
    if (cmd[0] == '-')
        return sf_cli_unknown_option(main_usage, cmd);
    return unknown_command(cmd);
}

/* experiment.c - strategy sweeps inside one MPI world, and their report. */
#include "cli/experiment.h"

#include <mpi.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "io/fsutil.h"
#include "io/inputs.h"
#include "cli/options.h"
#include "mpi/metrics.h"
#include "cli/run.h"
#include "cli/verdict.h"

#define MAX_CHOICES 16

static const char *const usage =
    "usage: shardflow experiment JOB.json --report DIR [OPTIONS]\n"
    "\n"
    "Runs the job once per combination of strategy and write mode (after one\n"
    "warm-up run), --repeat times, in this MPI world; checks that all outputs\n"
    "hold the same rows; writes DIR/report.csv (one row per run), DIR/report.md\n"
    "(min, median and max wall time; a combination marked fastest only when its\n"
    "range lies below all others'; a one-line recommendation) and, with gnuplot,\n"
    "DIR/bytes.png|svg and DIR/phases.png|svg. Each combination's last output\n"
    "is kept under DIR/runs/.\n"
    "\n"
    "options:\n"
    "  --report DIR          where the report goes (required)\n"
    "  --strategies LIST     comma-separated --repartition modes, each optionally\n"
    "                        with /salt=K (default before-aggregate,before-join,none;\n"
    "                        e.g. none,none/salt=4)\n"
    "  --write LIST          comma-separated write modes (default repartition;\n"
    "                        e.g. repartition,coalesce=2,local)\n"
    "  --repeat N            runs per combination (default 3)\n"
    "  --input NAME=PATH, --chunk-size, --schedule, --shuffle-round, --partitions,\n"
    "  --broadcast-limit, --max-line-bytes, --format csv|hdf5|parquet,\n"
    "  --compression, --row-group-size: as for `shardflow run`\n";

typedef struct combo {
    char strategy[32];
    char write[32];
    sf_run_result *runs; /* repeat results (rank 0) */
} combo;

/* Splits a comma list into at most MAX_CHOICES items of at most 31 chars. */
static int split_list(const char *text, char out[][32], int *n)
{
    *n = 0;
    const char *p = text;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0 || len >= 32 || *n >= MAX_CHOICES)
            return -1;
        memcpy(out[*n], p, len);
        out[*n][len] = '\0';
        (*n)++;
        p += len + (comma != NULL);
    }
    return *n ? 0 : -1;
}

/* Applies a strategy and a write mode (texts as --repartition/--write take
 * them) to o. Returns 0 or -1 for an unknown text. */
static int apply(sf_run_opts *o, const char *strategy_text, const char *write)
{
    /* "none/salt=4": a strategy with --salt. */
    char strategy[32];
    snprintf(strategy, sizeof strategy, "%s", strategy_text);
    char *slash = strchr(strategy, '/');
    o->salt = 1;
    if (slash) {
        *slash = '\0';
        if (strncmp(slash + 1, "salt=", 5) != 0 || atoi(slash + 6) < 1)
            return -1;
        o->salt = atoi(slash + 6);
    }
    if (strcmp(strategy, "before-aggregate") == 0)
        o->repartition = SF_REPART_BEFORE_AGGREGATE;
    else if (strcmp(strategy, "before-join") == 0)
        o->repartition = SF_REPART_BEFORE_JOIN;
    else if (strcmp(strategy, "none") == 0)
        o->repartition = SF_REPART_NONE;
    else
        return -1;
    if (strcmp(write, "repartition") == 0) {
        o->write_mode = SF_WRITE_REPARTITION;
    } else if (strcmp(write, "local") == 0) {
        o->write_mode = SF_WRITE_LOCAL;
    } else if (strncmp(write, "coalesce=", 9) == 0 && atoi(write + 9) > 0) {
        o->write_mode = SF_WRITE_COALESCE;
        o->coalesce = atoi(write + 9);
    } else {
        return -1;
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const sf_run_result *runs, int n, size_t offset)
{
    double v[64];
    int k = n < 64 ? n : 64;
    for (int i = 0; i < k; i++)
        v[i] = *(const double *)((const char *)&runs[i] + offset);
    qsort(v, (size_t)k, sizeof *v, cmp_double);
    return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
}

static double median_u64(const sf_run_result *runs, int n, size_t offset)
{
    sf_run_result tmp[64];
    int k = n < 64 ? n : 64;
    for (int i = 0; i < k; i++)
        tmp[i].wall = (double)*(const uint64_t *)((const char *)&runs[i] + offset);
    return median(tmp, k, offsetof(sf_run_result, wall));
}

static int write_text(const char *dir, const char *name, const sf_buf *b)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    sf_error err;
    if (sf_write_file_atomic(path, b->p, b->n, &err) != 0) {
        fprintf(stderr, "shardflow: %s\n", err.msg);
        return -1;
    }
    return 0;
}

static int report(const char *dir, combo *c, int ncombo, int repeat, int nranks)
{
    sf_buf csv = SF_BUF_INIT, md = SF_BUF_INIT, dat = SF_BUF_INIT, gp = SF_BUF_INIT;
    sf_buf_printf(&csv, "strategy,write,ranks,repeat,wall_s");
    for (int p = 0; p < SF_PH_COUNT; p++)
        sf_buf_printf(&csv, ",%s_s", sf_phase_name(p));
    sf_buf_printf(&csv, ",bytes_moved,messages,rows_skew,groups_skew,stream_skew,files,"
                  "output_bytes,output_rows,effective_strategy\n");
    for (int i = 0; i < ncombo; i++) {
        for (int r = 0; r < repeat; r++) {
            const sf_run_result *x = &c[i].runs[r];
            sf_buf_printf(&csv, "%s,%s,%d,%d,%.6f", c[i].strategy, c[i].write, nranks, r + 1,
                          x->wall);
            for (int p = 0; p < SF_PH_COUNT; p++)
                sf_buf_printf(&csv, ",%.6f", x->phase[p]);
            sf_buf_printf(&csv, ",%llu,%llu,%.4f,%.4f,%.4f,%llu,%llu,%llu,%s\n",
                          (unsigned long long)x->bytes_moved, (unsigned long long)x->messages,
                          x->rows_skew, x->groups_skew, x->stream_skew,
                          (unsigned long long)x->files,
                          (unsigned long long)x->output_bytes,
                          (unsigned long long)x->output_rows, x->repartition);
        }
    }
    /* The verdict: min..max of each combination's repeats; "fastest" only
     * when one range lies below all the others. */
    sf_range wall_r[MAX_CHOICES * MAX_CHOICES];
    double mb_med[MAX_CHOICES * MAX_CHOICES], scan_share[MAX_CHOICES * MAX_CHOICES];
    char labels[MAX_CHOICES * MAX_CHOICES][72];
    const char *names[MAX_CHOICES * MAX_CHOICES];
    for (int i = 0; i < ncombo; i++) {
        double walls[64];
        int k = repeat < 64 ? repeat : 64;
        for (int r = 0; r < k; r++)
            walls[r] = c[i].runs[r].wall;
        sf_range_of(walls, k, &wall_r[i]);
        mb_med[i] = median_u64(c[i].runs, repeat, offsetof(sf_run_result, bytes_moved)) / 1e6;
        double scan = median(c[i].runs, repeat,
                             offsetof(sf_run_result, phase) + sizeof(double) * SF_PH_SCAN);
        scan_share[i] = wall_r[i].median > 0 ? scan / wall_r[i].median : 0;
        snprintf(labels[i], sizeof labels[i], "%s/%s", c[i].strategy, c[i].write);
        names[i] = labels[i];
    }
    int fastest = sf_verdict_fastest(wall_r, ncombo);
    char verdict[1536];
    /* Every combination ran on the same data: the first run's counts and
     * the key skew of the combination that hashes rows by group key. */
    sf_shape shape = {(double)c[0].runs[0].rows_in, (double)c[0].runs[0].output_rows, 0};
    for (int i = 0; i < ncombo; i++) {
        double skew = median(c[i].runs, repeat, offsetof(sf_run_result, rows_skew));
        shape.skew = skew > shape.skew ? skew : shape.skew;
    }
    sf_verdict_line(verdict, sizeof verdict, names, wall_r, mb_med, scan_share, ncombo, &shape);
    double base = wall_r[0].median;
    fprintf(stderr, "shardflow: experiment: %s\n", verdict);
    int have_gnuplot = system("gnuplot --version > /dev/null 2>&1") == 0;
    sf_buf_printf(&md, "# Strategy experiment\n\n%d rank%s, %d repeat%s per combination. "
                  "Wall time: min, median and max of the repeats; other columns: medians. "
                  "Ratio: median wall time over the first combination's (%s, %s). A "
                  "combination is marked fastest only when its whole range lies below "
                  "every other's.\n\n**Recommendation:** %s\n\n",
                  nranks, nranks == 1 ? "" : "s", repeat, repeat == 1 ? "" : "s",
                  c[0].strategy, c[0].write, verdict);
    if (have_gnuplot)
        sf_buf_printf(&md, "![Bytes moved per strategy](bytes.png)\n\n"
                      "![Phase time per strategy](phases.png)\n\n");
    sf_buf_printf(&md, "| strategy | write | wall min s | wall median s | wall max s | ratio |");
    for (int p = 0; p < SF_PH_COUNT; p++)
        sf_buf_printf(&md, " %s s |", sf_phase_name(p));
    sf_buf_printf(&md, " MB moved | messages | rows skew | stream skew | files |\n"
                  "|---|---|---:|---:|---:|---:|");
    for (int p = 0; p < SF_PH_COUNT; p++)
        sf_buf_printf(&md, "---:|");
    sf_buf_printf(&md, "---:|---:|---:|---:|---:|\n");
    sf_buf_printf(&dat, "# combo");
    for (int p = 0; p < SF_PH_COUNT; p++)
        sf_buf_printf(&dat, " %s", sf_phase_name(p));
    sf_buf_printf(&dat, " mb_moved\n");
    for (int i = 0; i < ncombo; i++) {
        const sf_run_result *runs = c[i].runs;
        double wall = wall_r[i].median;
        sf_buf_printf(&md, "| %s%s%s | %s | %.3f | %.3f | %.3f | %.2f |",
                      i == fastest ? "**" : "", c[i].strategy, i == fastest ? "** (fastest)" : "",
                      c[i].write, wall_r[i].min, wall, wall_r[i].max,
                      base > 0 ? wall / base : 0);
        sf_buf_printf(&dat, "\"%s %s\"", c[i].strategy, c[i].write);
        for (int p = 0; p < SF_PH_COUNT; p++) {
            double v = median(runs, repeat, offsetof(sf_run_result, phase) + sizeof(double) * p);
            sf_buf_printf(&md, " %.3f |", v);
            sf_buf_printf(&dat, " %.6f", v);
        }
        double mb = mb_med[i];
        sf_buf_printf(&md, " %.2f | %.0f | %.3f | %.3f | %.0f |\n", mb,
                      median_u64(runs, repeat, offsetof(sf_run_result, messages)),
                      median(runs, repeat, offsetof(sf_run_result, rows_skew)),
                      median(runs, repeat, offsetof(sf_run_result, stream_skew)),
                      median_u64(runs, repeat, offsetof(sf_run_result, files)));
        sf_buf_printf(&dat, " %.6f\n", mb);
    }
    int rc = write_text(dir, "report.csv", &csv) | write_text(dir, "report.md", &md) |
             write_text(dir, "report.dat", &dat);

    /* Plots: stacked phase bars and bytes moved, when gnuplot is there. */
    if (have_gnuplot) {
        for (int svg = 0; svg <= 1; svg++) {
            const char *term = svg ? "svg size 900,500" : "pngcairo size 900,500";
            const char *ext = svg ? "svg" : "png";
            sf_buf_printf(&gp, "set terminal %s\nset output '%s/phases.%s'\n"
                          "set title 'Phase time per strategy (median, s)'\n"
                          "set style data histograms\nset style histogram rowstacked\n"
                          "set style fill solid 0.8 border -1\nset boxwidth 0.7\n"
                          "set key outside right\nset xtics rotate by -30\nset ylabel 's'\n"
                          "plot '%s/report.dat' using 2:xtic(1) title '%s'",
                          term, dir, ext, dir, sf_phase_name(0));
            for (int p = 1; p < SF_PH_COUNT; p++)
                sf_buf_printf(&gp, ", '' using %d title '%s'", p + 2, sf_phase_name(p));
            sf_buf_printf(&gp, "\nset output '%s/bytes.%s'\nset title 'Bytes moved per "
                          "strategy (median, MB)'\nset style histogram clustered\n"
                          "set ylabel 'MB'\nplot '%s/report.dat' using %d:xtic(1) notitle\n",
                          dir, ext, dir, SF_PH_COUNT + 2);
        }
        rc |= write_text(dir, "report.gp", &gp);
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "gnuplot '%s/report.gp'", dir);
        if (rc == 0 && system(cmd) != 0) {
            fprintf(stderr, "shardflow: gnuplot failed on %s/report.gp; no plots\n", dir);
            rc = -1;
        }
    } else {
        fprintf(stderr, "shardflow: gnuplot is not installed: skipping plots "
                "(apt-get install gnuplot-nox)\n");
    }
    sf_buf_free(&csv);
    sf_buf_free(&md);
    sf_buf_free(&dat);
    sf_buf_free(&gp);
    return rc;
}

/* The parsed command line of an experiment. */
typedef struct exp_args {
    char strategies[MAX_CHOICES][32], writes[MAX_CHOICES][32];
    int nstrat, nwrite, repeat;
    const char *dir;
    char **rest; /* the options for the run parser (new; exp_args_free) */
    int nrest;
    int help;    /* -h/--help seen: nothing else was checked */
    sf_run_opts o;
} exp_args;

static void exp_args_free(exp_args *a)
{
    if (a->rest)
        sf_cli_free_run(&a->o);
    free(a->rest);
    a->rest = NULL;
}

/* Parses the command line into a (exp_args_free releases it, whatever
 * the result). Returns 0, 1 (out of memory) or 2 after a usage error
 * (printed unless quiet). No MPI call, so main can check the arguments
 * before MPI_Init. */
static int exp_parse(int argc, char **argv, exp_args *a)
{
    memset(a, 0, sizeof *a);
    a->repeat = 3;
    a->rest = calloc((size_t)argc + 1, sizeof *a->rest);
    if (!a->rest)
        return 1;
    sf_run_opts_init(&a->o);
    split_list("before-aggregate,before-join,none", a->strategies, &a->nstrat);
    split_list("repartition", a->writes, &a->nwrite);
    int rc = 0;
    for (int i = 0; i < argc && !rc; i++) {
        const char *a_ = argv[i];
        if (strcmp(a_, "--") == 0) {
            /* "--" ends the options: it and the rest go to the run parser */
            while (i < argc)
                a->rest[a->nrest++] = argv[i++];
            break;
        }
        if (strcmp(a_, "-h") == 0 || strcmp(a_, "--help") == 0) {
            a->help = 1;
            return 0;
        }
        int takes = strcmp(a_, "--strategies") == 0 || strcmp(a_, "--write") == 0 ||
                    strcmp(a_, "--repeat") == 0 || strcmp(a_, "--report") == 0;
        if (!takes) {
            a->rest[a->nrest++] = argv[i];
            continue;
        }
        if (i + 1 >= argc) {
            rc = sf_cli_usage_error(usage, "option %s needs a value", a_);
            break;
        }
        const char *v = argv[++i];
        if (strcmp(a_, "--strategies") == 0 && split_list(v, a->strategies, &a->nstrat) != 0)
            rc = sf_cli_usage_error(usage, "--strategies takes a comma list, got '%s'", v);
        else if (strcmp(a_, "--write") == 0 && split_list(v, a->writes, &a->nwrite) != 0)
            rc = sf_cli_usage_error(usage, "--write takes a comma list, got '%s'", v);
        else if (strcmp(a_, "--repeat") == 0 && ((a->repeat = atoi(v)) < 1 || a->repeat > 64))
            rc = sf_cli_usage_error(usage, "--repeat takes 1 to 64, got '%s'", v);
        else if (strcmp(a_, "--report") == 0)
            a->dir = v;
    }
    if (!rc)
        rc = sf_cli_parse_run(a->nrest, a->rest, usage, 1, &a->o);
    if (!rc && !a->dir)
        rc = sf_cli_usage_error(usage, "%s", "--report DIR is required");
    for (int i = 0; !rc && i < a->o.ninputs; i++) {
        /* Every combination reads the input again: a stream is read once. */
        if (sf_inputs_is_stream(a->o.input_paths[i]))
            rc = sf_cli_usage_error(usage, "--input %s: an experiment runs the job several "
                                    "times and stdin or a FIFO can be read once; give a file",
                                    a->o.input_paths[i]);
    }
    for (int s = 0; !rc && s < a->nstrat; s++) {
        for (int w = 0; !rc && w < a->nwrite; w++) {
            sf_run_opts t = a->o;
            if (apply(&t, a->strategies[s], a->writes[w]) != 0)
                rc = sf_cli_usage_error(usage, "unknown strategy or write mode in '%s' (see "
                                        "--help)", apply(&t, a->strategies[s], "repartition")
                                                       ? a->strategies[s] : a->writes[w]);
        }
    }
    return rc;
}

int sf_experiment_check_args(int argc, char **argv)
{
    exp_args *a = malloc(sizeof *a);
    int rc = a ? exp_parse(argc, argv, a) : 1;
    if (!rc && a->help) {
        if (!sf_cli_is_quiet())
            fputs(usage, stdout);
        rc = -1;
    }
    if (a)
        exp_args_free(a);
    free(a);
    return rc;
}

int sf_experiment_main(int argc, char **argv, int rank)
{
    sf_cli_set_quiet(rank != 0);
    exp_args *a = malloc(sizeof *a);
    int rc = a ? exp_parse(argc, argv, a) : 1;
    if (!rc && a->help && rank == 0)
        fputs(usage, stdout);
    if (rc || a->help) {
        if (a)
            exp_args_free(a);
        free(a);
        return rc;
    }
    char (*strategies)[32] = a->strategies, (*writes)[32] = a->writes;
    int nstrat = a->nstrat, nwrite = a->nwrite, repeat = a->repeat;
    const char *dir = a->dir;
    sf_run_opts o = a->o;

    int nranks;
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    int ncombo = nstrat * nwrite;
    combo *c = calloc((size_t)ncombo, sizeof *c);
    int ok = c != NULL;
    for (int i = 0; ok && i < ncombo; i++) {
        snprintf(c[i].strategy, sizeof c[i].strategy, "%s", strategies[i / nwrite]);
        snprintf(c[i].write, sizeof c[i].write, "%s", writes[i % nwrite]);
        ok = (c[i].runs = calloc((size_t)repeat, sizeof *c[i].runs)) != NULL;
    }
    sf_error err;
    char runs_dir[4096];
    snprintf(runs_dir, sizeof runs_dir, "%s/runs", dir ? dir : ".");
    if (rank == 0 && ok && sf_mkdirs(runs_dir, &err) != 0) {
        fprintf(stderr, "shardflow: %s\n", err.msg);
        ok = 0;
    }
    MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    uint64_t digest = 0;
    int mismatch = 0;
    for (int r = -1; ok && r < repeat; r++) {
        for (int i = 0; ok && i < ncombo; i++) {
            if (r < 0 && i > 0)
                break; /* one warm-up run */
            sf_run_opts t = o;
            apply(&t, c[i].strategy, c[i].write);
            char out[4200];
            snprintf(out, sizeof out, "%s/%s%s__%s", runs_dir, r < 0 ? "warmup__" : "",
                     c[i].strategy, c[i].write);
            for (char *p = out + strlen(runs_dir); *p; p++)
                *p = *p == '=' ? '-' : *p;
            t.output = out;
            t.commit_mode = SF_COMMIT_OVERWRITE;
            t.quiet = 1;
            t.progress = 0;
            sf_run_result res;
            memset(&res, 0, sizeof res);
            if (rank == 0)
                fprintf(stderr, "shardflow: experiment: %s, %s, %s\n", c[i].strategy,
                        c[i].write, r < 0 ? "warm-up" : "run");
            if (sf_run_job(&t, &res) != 0) {
                ok = 0;
                break;
            }
            if (rank == 0) {
                if (r < 0) {
                    digest = res.digest;
                    continue;
                }
                c[i].runs[r] = res;
                if (res.digest != digest) {
                    fprintf(stderr, "shardflow: experiment: %s, %s wrote different rows than "
                            "the warm-up run\n", c[i].strategy, c[i].write);
                    mismatch = 1;
                }
            }
        }
    }
    if (rank == 0 && ok && !mismatch) {
        if (report(dir, c, ncombo, repeat, nranks) == 0)
            fprintf(stderr, "shardflow: experiment: all %d runs wrote the same rows; report in "
                    "%s/report.md\n", ncombo * repeat, dir);
        else
            ok = 0;
    }
    for (int i = 0; c && i < ncombo; i++)
        free(c[i].runs);
    free(c);
    exp_args_free(a);
    free(a);
    MPI_Allreduce(MPI_IN_PLACE, &mismatch, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    return ok && !mismatch ? 0 : 1;
}

/* validate.c - `shardflow validate`: loads and checks a job spec without
 * reading data, prints the plan, and checks that every input (its path
 * resolved against the spec file's directory, or as --input gives it)
 * names readable files. No MPI. */
#include "cli/run_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/value_text.h"
#include "io/fsutil.h"
#include "io/inputs.h"

static void print_output(const sf_job *spec, const sf_job *job);

static void print_dedupe(const sf_job *job, const sf_job_step *st)
{
    printf("  %s dedupe on", st->field);
    for (size_t k = 0; k < st->ndedupe; k++)
        printf("%s %s", k ? "," : "", job->slot_names[st->dedupe_slots[k]]);
    printf(" (keep the first row in input order)\n");
}

static void print_plan(const sf_job *job)
{
    printf("job %s: valid\n", job->name);
    for (size_t i = 0; i < job->ninputs; i++) {
        const sf_job_input *in = &job->inputs[i];
        printf("  input %-10s %-9s %-5s %s\n", in->name, in->is_fact ? "fact" : "dimension",
               in->format == SF_FORMAT_CSV ? "csv" : "jsonl", in->path);
        for (size_t c = 0; c < in->ncolumns; c++) {
            char tb[24];
            printf("      %-24s %s%s\n", in->columns[c].name,
                   sf_type_format(in->columns[c].type, in->columns[c].dec, tb),
                   (int)c == in->key_col ? " (key)" : "");
        }
        if (in->has_unknown) {
            char vb[SF_FMT_BUF];
            const char *p;
            size_t n = sf_value_text(&in->unknown, vb, &p);
            printf("      unknown member: key '%.*s'\n", (int)n, p);
        }
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
        char tb[24];
        if (st->kind == SF_STEP_DERIVE)
            printf("  %s %s %s: %s\n", st->field, st->replace ? "replace" : "derive",
                   job->slot_names[st->slot],
                   sf_type_format(job->slot_types[st->slot], sf_job_slot_dec(job, st->slot), tb));
        else if (st->kind == SF_STEP_FILTER)
            printf("  %s filter\n", st->field);
        else if (st->kind == SF_STEP_DEDUPE)
            print_dedupe(job, st);
        else
            printf("  %s %s join %s on %s (+%zu column%s)\n", st->field,
                   st->inner ? "inner" : st->to_unknown ? "unknown" : "left",
                   job->inputs[st->input].name,
                   job->slot_names[st->on_slot], st->nselect, st->nselect == 1 ? "" : "s");
    }
    for (size_t k = 0; k < job->noutputs; k++)
        print_output(job, &job->outputs[k]);
}

/* One output: its groups, result columns, having, directory, order, limit. */
static void print_output(const sf_job *spec, const sf_job *job)
{
    if (job->output_name)
        printf("  output '%s':\n", job->output_name);
    if (job->kind == SF_OUT_ROWS)
        printf("  rows: each row after the steps%s\n", job->output.nsort || job->output.limit >= 0 ||
                                                             job->read_by_stage
                                                         ? " (held, sorted)"
                                                         : " (streamed to its files, unsorted)");
    else if (job->kind == SF_OUT_DIMENSION)
        printf("  rows: dimension '%s'%s\n", job->inputs[job->kind_input].name,
               job->inputs[job->kind_input].has_unknown ? " and its unknown member" : "");
    else if (job->kind == SF_OUT_STAGE)
        printf("  from: the result rows of output '%s'\n", spec->outputs[job->kind_from].output_name);
    if (job->kind == SF_OUT_GROUPS || job->kind == SF_OUT_STAGE) {
        printf("  group by:");
        for (size_t i = 0; i < job->ngroup; i++)
            printf("%s %s", i ? "," : "", job->slot_names[job->group_slots[i]]);
        printf("%s\n", job->ngroup ? "" : " (one group)");
    }
    printf("  result columns:\n");
    for (size_t i = 0; i < job->nresult; i++) {
        char tb[24];
        printf("      %-24s %s\n", job->result_names[i],
               sf_type_format(job->result_types[i], sf_job_result_dec(job, (int)i), tb));
    }
    if (job->having)
        printf("  having: a filter on group keys and aggregates\n");
    if (job->grid.on && job->grid.key < 0) {
        printf("  grid: every %s of the range (before the windows)\n",
               job->result_names[job->grid.date]);
    } else if (job->grid.on) {
        const sf_job_grid *g = &job->grid;
        const sf_job_input *in = &job->inputs[g->input];
        printf("  grid: every %s of %s x every %s", job->result_names[g->key], in->name,
               job->result_names[g->date]);
        if (g->from_col >= 0)
            printf(" from its %s", in->columns[g->from_col].name);
        printf(" (before the windows)\n");
    }
    for (size_t i = 0; i < job->ncomputes; i++)
        printf("  compute %s (after the windows)\n", job->computes[i].name);
    printf("  output: %s (%s", job->output.path, job->output.format);
    for (size_t i = 0; i < job->output.npartition; i++)
        printf("%s%s=...", i ? "/" : ", partitioned by ",
               job->result_names[job->output.partition_by[i]]);
    if (job->output.npartition == 0)
        printf(", one file");
    printf(")\n");
    printf("  sorted by:");
    for (size_t i = 0; i < job->output.nsort; i++)
        printf("%s %s%s", i ? "," : "", job->result_names[job->output.sort_by[i]],
               job->output.sort_desc[i] ? " desc" : "");
    printf("%s\n", job->output.nsort ? "" : " (every column)");
    if (job->output.limit >= 0)
        printf("  limit: %lld rows\n", (long long)job->output.limit);
}

/* Every input's path, resolved (relative paths in the spec are relative to
 * the spec file): it must name readable files, as a run checks them before
 * any work. Prints what each resolved to. Returns 0 or 2 (the first
 * failure printed). */
static int check_inputs(const sf_job *job)
{
    for (size_t i = 0; i < job->ninputs; i++) {
        const sf_job_input *in = &job->inputs[i];
        sf_error err;
        sf_error_clear(&err);
        if (!in->is_fact) {
            /* As run checks a dimension: one file, its size, readable. */
            uint64_t size = 0;
            int rc = sf_file_size(in->path, &size, &err);
            if (!rc && access(in->path, R_OK) != 0)
                rc = sf_error_set(&err, SF_E_IO, "cannot read '%s'", in->path);
            if (rc) {
                fprintf(stderr, "shardflow: %s: inputs.%s: %s\n", job->source, in->name,
                        err.msg);
                return 2;
            }
            printf("  input %s: %s (%llu bytes, readable)\n", in->name, in->path,
                   (unsigned long long)size);
            continue;
        }
        sf_input_files files = {0};
        if (sf_inputs_expand(in->name, in->path, &files, &err) != 0) {
            fprintf(stderr, "shardflow: %s: inputs.%s: %s\n", job->source, in->name, err.msg);
            return 2;
        }
        uint64_t bytes = 0;
        for (size_t f = 0; f < files.n; f++)
            bytes += files.sizes[f];
        printf("  input %s: %s (%zu file%s, %llu bytes, readable)\n", in->name, in->path,
               files.n, files.n == 1 ? "" : "s", (unsigned long long)bytes);
        for (size_t f = 0; f < files.n && files.n > 1 && f < 10; f++)
            printf("      %s\n", files.paths[f]);
        if (files.n > 10)
            printf("      ... and %zu more\n", files.n - 10);
        sf_inputs_free(&files);
    }
    return 0;
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
    sf_job_overrides ov = sf_run_overrides(o);
    sf_job *job = NULL;
    int rc = sf_job_load(text, len, o->job_path, &ov, &job, &err);
    free(text);
    if (rc) {
        fprintf(stderr, "shardflow: %s\n", err.msg);
        return 2;
    }
    print_plan(job);
    rc = check_inputs(job);
    sf_job_free(job);
    return rc;
}

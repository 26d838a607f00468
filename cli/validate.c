/* validate.c - `shardflow validate`: loads and checks a job spec without
 * reading data, and prints the plan. No MPI. */
#include "cli/run_internal.h"

#include <stdio.h>
#include <stdlib.h>

#include "io/fsutil.h"

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
        else if (st->kind == SF_STEP_DEDUPE)
            print_dedupe(job, st);
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
    sf_job_overrides ov = sf_run_overrides(o);
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

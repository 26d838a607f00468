/* run_report.c - `shardflow run`, the end: every rank's counts, samples,
 * files, figures and peak RSS gathered on rank 0, the accounting checked
 * (lines read = aggregated + filtered + rejected + dropped by join + blank,
 * every fact file scanned to its planned size and unchanged), then
 * _METRICS.json, _MANIFEST.json (io/manifest) and the commit through the
 * lifecycle, and the summary on stderr. */
#include "cli/run_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/decode.h"
#include "io/decompress.h"
#include "io/fsutil.h"

static void gather_stats(sf_run *R)
{
    MPI_Reduce(&R->local_counts, &R->counts, sizeof R->counts / sizeof(uint64_t), MPI_UINT64_T,
               MPI_SUM, 0, R->comm);
    size_t total = 0;
    sf_reject_sample *all = sf_mpi_gather_bytes(R->comm, R->local_samples,
                                         R->nlocal_samples * sizeof *all, &total);
    for (size_t i = 0; all && i < total / sizeof *all; i++)
        sf_samples_insert(R->samples, &R->nsamples, &all[i]);
    free(all);
}


/* `,\n    "NAME": {"input": n, ...}` over the inputs pick[] selects (value
 * v[i]); nothing when it selects none. Returns 0 or SF_E_NOMEM. */
static int per_input(sf_buf *m, const char *name, const sf_job *job, const unsigned char *pick,
                     const uint64_t *v)
{
    int rc = 0, first = 1;
    for (size_t i = 0; i < job->ninputs; i++) {
        if (!pick[i])
            continue;
        rc |= first ? sf_buf_printf(m, ",\n    \"%s\": {", name) : sf_buf_printf(m, ", ");
        rc |= sf_buf_printf(m, "\"%s\": %llu", job->inputs[i].name, (unsigned long long)v[i]);
        first = 0;
    }
    return first ? rc : rc | sf_buf_printf(m, "}");
}

/* "join_plan": how each join met its table and why (core/joinplan), and
 * "group_shuffle": whether the groups moved. */
static int join_plan_json(const sf_run *R, sf_buf *m)
{
    const sf_job *job = R->spec ? R->spec : R->job;
    int rc = sf_buf_printf(m, "  \"join_plan\": [");
    int first = 1;
    for (size_t i = 0; i < job->ninputs && i < SF_MAX_INPUTS; i++) {
        const struct sf_run_jplan *jp = &R->jplan[i];
        if (!jp->on)
            continue;
        int part = R->join_step >= 0 && job->steps[R->join_step].input == (int)i;
        const int decided = jp->in.nranks > 0;
        rc |= sf_buf_printf(m, "%s{\"dimension\": \"%s\", \"join\": \"%s\", \"reason\": \"%s\"",
                            first ? "" : ", ", job->inputs[i].name,
                            part ? "partitioned" : "broadcast",
                            decided ? sf_joinplan_reason_name(jp->plan.reason)
                                    : R->o->repartition == SF_REPART_BEFORE_AGGREGATE
                                        ? "dedupe step"
                                        : R->o->repartition == SF_REPART_NONE
                                            ? "forced (--repartition none)"
                                            : "forced (--repartition before-join)");
        if (decided)
            rc |= sf_buf_printf(m, ", \"copies_bytes\": %llu, \"fact_bytes_moved\": %llu, "
                                "\"memory_estimate\": %llu",
                                (unsigned long long)jp->plan.broadcast_bytes,
                                (unsigned long long)jp->plan.shuffle_bytes,
                                (unsigned long long)jp->plan.dim_memory);
        rc |= sf_buf_printf(m, "}");
        first = 0;
    }
    rc |= sf_buf_printf(m, "],\n  \"group_shuffle\": ");
    if (R->copart)
        rc |= sf_buf_printf(m, "\"skipped: rows met at the owner of join key '%s', a group "
                            "column\",\n", job->slot_names[job->steps[R->join_step].on_slot]);
    else
        rc |= sf_buf_printf(m, "\"exchanged\",\n");
    return rc;
}

static int build_manifest(sf_run *R, const sf_out_file *files, size_t nfiles, const double *tmax,
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
    int rc = sf_manifest_begin(m, "job", job->name, R->life.runid, R->nranks,
                               R->o->scan.schedule == SF_SCHED_STATIC ? "static" : "dynamic");
    if (job->output_name) /* one of several outputs of the job */
        rc |= sf_buf_printf(m, ",\n  \"output_name\": \"%s\"", job->output_name);
    rc |= sf_buf_printf(m, ",\n  \"decoder\": \"%s\",\n  \"chunk_size\": %llu,\n  \"repartition\": \"%s\",\n"
                        "  \"partitioned_join\": %s%s%s,\n  \"partitions\": %d,\n"
                        "  \"write\": \"%s\",\n",
                        sf_decoder_kind_name((sf_decoder_kind)R->o->decoder),
                        (unsigned long long)R->chunk_size, sf_run_repartition_text(R->repartition),
                        R->join_step >= 0 ? "\"" : "",
                        R->join_step >= 0 ? job->inputs[job->steps[R->join_step].input].name
                                          : "null",
                        R->join_step >= 0 ? "\"" : "", R->nparts, sf_run_write_mode_text(R->o));
    rc |= join_plan_json(R, m);
    rc |= sf_buf_printf(m, "  \"status\": \"committed\",\n  \"inputs\": [");
    for (size_t i = 0; i < job->ninputs; i++) {
        uint64_t size = R->input_size[i]; /* as planned; all files for the fact input */
        rc |= sf_buf_printf(m, "%s\n    {\"name\": \"%s\", \"role\": \"%s\", \"path\": ",
                            i ? "," : "", job->inputs[i].name,
                            job->inputs[i].is_fact ? "fact" : "dimension");
        rc |= sf_buf_json_string(m, job->inputs[i].path, strlen(job->inputs[i].path));
        rc |= sf_buf_printf(m, ", \"bytes\": %llu", (unsigned long long)size);
        if (!job->inputs[i].is_fact)
            rc |= sf_buf_printf(m, ", \"rows\": %zu", sf_join_table_rows(R->dims[i]));
        for (size_t f = 0; job->inputs[i].is_fact && f < R->life.inputs.n; f++) {
            const struct sf_run_acct *a = &R->acct_all[f];
            rc |= sf_buf_printf(m, "%s\n      {\"path\": ", f ? "," : ", \"files\": [");
            rc |= sf_buf_json_string(m, R->life.inputs.paths[f], strlen(R->life.inputs.paths[f]));
            rc |= sf_buf_printf(m, ", \"bytes\": %llu, \"lines\": %llu, \"blank\": %llu, "
                                "\"rejected\": %llu, \"codec\": \"%s\", "
                                "\"uncompressed_bytes\": %llu}%s",
                                (unsigned long long)a->bytes, (unsigned long long)a->lines,
                                (unsigned long long)a->blank, (unsigned long long)a->rejected,
                                sf_codec_name(R->fact_codec ? (sf_codec)R->fact_codec[f]
                                                            : SF_CODEC_NONE),
                                (unsigned long long)a->ubytes,
                                f + 1 == R->life.inputs.n ? "]" : "");
        }
        rc |= sf_buf_printf(m, "}");
    }
    const sf_job_output *out = &job->output;
    rc |= sf_buf_printf(m, "\n  ],\n  \"output\": {\"format\": \"%s\", \"layout\": \"%s\", "
                        "\"partition_by\": [", out->format, out->layout);
    for (size_t k = 0; k < out->npartition; k++)
        rc |= sf_buf_printf(m, "%s\"%s\"", k ? ", " : "", job->result_names[out->partition_by[k]]);
    rc |= sf_buf_printf(m, "],\n    \"columns\": [");
    for (size_t k = 0; k < out->ncolumns; k++) {
        char tb[24];
        rc |= sf_buf_printf(m, "%s{\"name\": \"%s\", \"type\": \"%s\"}", k ? ", " : "",
                            R->out_names[k], sf_type_format(R->out_types[k], R->out_dec[k], tb));
    }
    rc |= sf_buf_printf(m, "],\n    \"sort_by\": [");
    for (size_t k = 0; k < out->nsort; k++)
        rc |= sf_buf_printf(m, "%s\"%s%s\"", k ? ", " : "", job->result_names[out->sort_by[k]],
                            out->sort_desc[k] ? " desc" : "");
    rc |= sf_buf_printf(m, "]},");
    rc |= sf_buf_printf(m, "\n  \"counts\": {\n    \"lines_read\": %llu,\n"
                        "    \"blank_lines\": %llu,\n    \"rows_rejected\": %llu,\n"
                        "    \"rows_filtered\": %llu,\n    \"rows_dropped_by_join\": %llu,\n"
                        "    \"rows_aggregated\": %llu,\n    \"groups\": %llu,\n",
                        (unsigned long long)c->lines_read, (unsigned long long)c->blank_lines,
                        (unsigned long long)c->rows_rejected, (unsigned long long)c->rows_filtered,
                        (unsigned long long)c->rows_dropped_by_join,
                        (unsigned long long)c->rows_aggregated,
                        (unsigned long long)(out_rows + R->having_dropped + R->limit_dropped +
                                             R->grid_dropped - R->grid_added));
    if (job->grid.on)
        rc |= sf_buf_printf(m, "    \"grid_rows_added\": %llu,\n"
                            "    \"groups_dropped_by_grid\": %llu,\n",
                            (unsigned long long)R->grid_added,
                            (unsigned long long)R->grid_dropped);
    /* Only for a job that has them: other manifests keep their keys. */
    if (job->having)
        rc |= sf_buf_printf(m, "    \"groups_dropped_by_having\": %llu,\n",
                            (unsigned long long)R->having_dropped);
    if (out->limit >= 0)
        rc |= sf_buf_printf(m, "    \"rows_dropped_by_limit\": %llu,\n",
                            (unsigned long long)R->limit_dropped);
    rc |= sf_buf_printf(m, "    \"output_rows\": %llu,\n    \"rejected_by_reason\": ",
                        (unsigned long long)out_rows);
    rc |= sf_manifest_reasons(m, c->rejected_by_reason);
    /* Only jobs that dedupe have the count, so other manifests keep their shape. */
    if (job->dedupe_step >= 0)
        rc |= sf_buf_printf(m, ",\n    \"duplicates_dropped\": %llu",
                            (unsigned long long)c->rows_deduped);
    /* Only for jobs whose dimensions have them, so other manifests keep
     * their shape. */
    uint64_t unknown[SF_MAX_INPUTS];
    unsigned char keep_first[SF_MAX_INPUTS], has_unknown[SF_MAX_INPUTS];
    for (size_t i = 0; i < job->ninputs; i++) {
        keep_first[i] = (unsigned char)job->inputs[i].keep_first_key;
        has_unknown[i] = (unsigned char)job->inputs[i].has_unknown;
        unknown[i] = c->rows_to_unknown[i];
    }
    rc |= per_input(m, "dimension_duplicates_dropped", job, keep_first, R->dim_dropped);
    rc |= per_input(m, "rows_to_unknown", job, has_unknown, unknown);
    rc |= sf_buf_printf(m, ",\n    \"dropped_by_join\": {");
    int first = 1;
    for (size_t i = 0; i < job->ninputs; i++) {
        if (job->inputs[i].is_fact)
            continue;
        rc |= sf_buf_printf(m, "%s\"%s\": %llu", first ? "" : ", ", job->inputs[i].name,
                            (unsigned long long)c->dropped_by_join[i]);
        first = 0;
    }
    rc |= sf_buf_printf(m, "}\n  },\n  \"exploded\": {\"rows\": %llu, \"filtered\": %llu, "
                        "\"dropped_by_join\": %llu, \"aggregated\": %llu",
                        (unsigned long long)c->rows_exploded,
                        (unsigned long long)c->exploded_filtered,
                        (unsigned long long)c->exploded_dropped_by_join,
                        (unsigned long long)c->exploded_aggregated);
    if (job->dedupe_step >= 0)
        rc |= sf_buf_printf(m, ", \"duplicates_dropped\": %llu",
                            (unsigned long long)c->exploded_deduped);
    rc |= sf_buf_printf(m, "},");
    rc |= sf_buf_printf(m, "\n  \"mode\": \"%s\",\n  \"bad_records\": %llu,\n",
                        R->o->mode == SF_MODE_FAILFAST        ? "failfast"
                        : R->o->mode == SF_MODE_DROPMALFORMED ? "dropmalformed"
                                                              : "permissive",
                        /* With several outputs the bad records are in the
                         * first output's _bad_records/ only. */
                        (unsigned long long)(R->out_index ? 0 : R->bad_written));
    if (R->out_index && R->bad_written)
        rc |= sf_buf_printf(m, "  \"bad_records_in_output\": \"%s\",\n",
                            R->spec->outputs[0].output_name);
    rc |= sf_buf_printf(m, "  \"rejected_samples\": ");
    rc |= sf_manifest_samples(m, R->samples, R->nsamples,
                              (const char *const *)R->life.inputs.paths);
    rc |= sf_buf_printf(m, ",\n  \"files\": ");
    rc |= sf_manifest_files(m, files, nfiles, R->life.runid);
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
    rc |= sf_manifest_u64s(m, rss, (size_t)R->nranks);
    rc |= sf_buf_printf(m, "]\n}\n");
    return rc ? SF_E_NOMEM : 0;
}

static void print_summary(sf_run *R, const sf_out_file *files, size_t nfiles,
                          const sf_metrics_summary *sum, const uint64_t *rss, double wall)
{
    const sf_phase_stat *total = sum->total;
    const sf_counts *c = &R->counts;
    uint64_t rows = 0, maxrss = 0;
    for (size_t i = 0; i < nfiles; i++)
        rows += files[i].rows;
    for (int r = 0; r < R->nranks; r++)
        maxrss = rss[r] > maxrss ? rss[r] : maxrss;
    double mb = (double)c->bytes_scanned / 1e6;
    fprintf(stderr, "shardflow: %s%s%s%s: %llu lines, %.1f MB in %.2f s on %d rank%s "
            "(%.1f MB/s)\n", R->job->name, R->job->output_name ? " (output '" : "",
            R->job->output_name ? R->job->output_name : "", R->job->output_name ? "')" : "",
            (unsigned long long)c->lines_read, mb, wall, R->nranks, R->nranks == 1 ? "" : "s",
            wall > 0 ? mb / wall : 0);
    fprintf(stderr, "  %-10s %9s %12s %12s %10s\n", "phase", "max s", "rows in", "rows out",
            "MB sent");
    for (int p = 0; p < SF_PH_COUNT; p++)
        fprintf(stderr, "  %-10s %9.3f %12llu %12llu %10.2f\n", sf_phase_name(p), total[p].secs,
                (unsigned long long)total[p].rows_in, (unsigned long long)total[p].rows_out,
                (double)total[p].bytes_sent / 1e6);
    if (R->copart) {
        const sf_job *spec = R->spec ? R->spec : R->job;
        fprintf(stderr, "  group shuffle skipped: rows met at the owner of join key '%s', a "
                "group column, so every group is whole on one rank\n",
                spec->slot_names[spec->steps[R->join_step].on_slot]);
    }
    fprintf(stderr, "  lines read %llu = aggregated %llu + filtered %llu + rejected %llu + "
            "dropped by join %llu + blank %llu\n",
            (unsigned long long)c->lines_read, (unsigned long long)c->rows_aggregated,
            (unsigned long long)c->rows_filtered, (unsigned long long)c->rows_rejected,
            (unsigned long long)c->rows_dropped_by_join, (unsigned long long)c->blank_lines);
    if (R->job->dedupe_step >= 0)
        fprintf(stderr, "    + duplicates dropped %llu (%s)\n", (unsigned long long)c->rows_deduped,
                R->job->steps[R->job->dedupe_step].field);
    if (c->rows_exploded)
        fprintf(stderr, "  rows from explode beyond each line's first: %llu = aggregated %llu + "
                "filtered %llu + dropped by join %llu\n", (unsigned long long)c->rows_exploded,
                (unsigned long long)c->exploded_aggregated,
                (unsigned long long)c->exploded_filtered,
                (unsigned long long)c->exploded_dropped_by_join);
    if (c->rows_exploded && R->job->dedupe_step >= 0)
        fprintf(stderr, "    + duplicates dropped %llu\n",
                (unsigned long long)c->exploded_deduped);
    for (size_t i = 0; i < R->nsamples && i < 3; i++)
        fprintf(stderr, "  rejected: %s: byte %llu: %s\n", R->life.inputs.paths[R->samples[i].file],
                (unsigned long long)R->samples[i].offset, R->samples[i].msg);
    if (c->rows_rejected > 3)
        fprintf(stderr, "  (%llu rejected lines in all; see _MANIFEST.json)\n",
                (unsigned long long)c->rows_rejected);
    if (R->bad_written && R->out_index == 0)
        fprintf(stderr, "  bad lines: %llu in %s/_bad_records/\n",
                (unsigned long long)R->bad_written, R->life.stage.out);
    else if (R->bad_written)
        fprintf(stderr, "  bad lines: %llu in the _bad_records/ of output '%s'\n",
                (unsigned long long)R->bad_written, R->spec->outputs[0].output_name);
    if (R->sum_overflow)
        fprintf(stderr, "  warning: an int64 sum overflowed; its value is empty in the output\n");
    fprintf(stderr, "  peak RSS per rank: %.1f MiB (max)", (double)maxrss / 1048576.0);
    if (R->mem.b.limit)
        fprintf(stderr, "; memory limit %.1f MiB per rank", (double)R->mem.b.limit / 1048576.0);
    fputc('\n', stderr);
    const sf_phase_stat *sc = &total[SF_PH_SCAN], *sh = &total[SF_PH_SHUFFLE];
    const sf_phase_stat *wr = &total[SF_PH_WRITE];
    if (sc->spill_bytes + sh->spill_bytes) {
        fprintf(stderr, "  spilled to %s: scan+map %.2f MB (combiner written out %llu time%s, "
                "most on one rank", R->mem.dir, (double)sc->spill_bytes / 1e6,
                (unsigned long long)sc->spill_passes, sc->spill_passes == 1 ? "" : "s");
        if (sum->dedupe_spills)
            fprintf(stderr, "; dedupe table %llu time%s", (unsigned long long)sum->dedupe_spills,
                    sum->dedupe_spills == 1 ? "" : "s");
        fprintf(stderr, "), shuffle %.2f MB; reduced in %llu pass%s", (double)sh->spill_bytes / 1e6,
                (unsigned long long)sh->spill_passes, sh->spill_passes == 1 ? "" : "es");
        if (sum->spill_splits)
            fprintf(stderr, " (%llu spill partition%s split again)",
                    (unsigned long long)sum->spill_splits, sum->spill_splits == 1 ? "" : "s");
        if (wr->spill_bytes)
            fprintf(stderr, "; write %.2f MB of sorted runs, merged", (double)wr->spill_bytes / 1e6);
        fputc('\n', stderr);
    }
    if (R->job->having)
        fprintf(stderr, "  having dropped %llu group%s\n", (unsigned long long)R->having_dropped,
                R->having_dropped == 1 ? "" : "s");
    if (R->job->output.limit >= 0)
        fprintf(stderr, "  limit %lld dropped %llu row%s\n", (long long)R->job->output.limit,
                (unsigned long long)R->limit_dropped, R->limit_dropped == 1 ? "" : "s");
    fprintf(stderr, "  output: %s (%zu file%s, %llu rows%s)\n", R->life.stage.out, nfiles,
            nfiles == 1 ? "" : "s", (unsigned long long)rows,
            R->pending ? "; committed once every output is written" : "");
    sf_life_say_merged(&R->life);
}

/* Per fact file: every byte planned was scanned, the lines add up, and the
 * file has not changed size since it was planned (rank 0). */
static int check_files(sf_run *R)
{
    const char *name = R->job->inputs[R->job->fact].name;
    uint64_t lines = 0;
    for (size_t f = 0; f < R->life.inputs.n; f++) {
        const struct sf_run_acct *a = &R->acct_all[f];
        uint64_t now = 0;
        sf_error e;
        lines += a->lines;
        if (!R->life.inputs.streamed[f] &&
            (sf_file_size(R->life.inputs.paths[f], &now, &e) != 0 || now != R->life.inputs.sizes[f]))
            return sf_error_set(&R->err, SF_E_IO, "input '%s': '%s' changed during the run "
                                "(%llu bytes when planned, %llu now); nothing was committed",
                                name, R->life.inputs.paths[f], (unsigned long long)R->life.inputs.sizes[f],
                                (unsigned long long)now);
        if (a->bytes != R->life.inputs.sizes[f])
            return sf_error_set(&R->err, SF_E_INTERNAL, "internal error: input '%s': scanned "
                                "%llu bytes of '%s', planned %llu", name,
                                (unsigned long long)a->bytes, R->life.inputs.paths[f],
                                (unsigned long long)R->life.inputs.sizes[f]);
        if (a->blank + a->rejected > a->lines)
            return sf_error_set(&R->err, SF_E_INTERNAL, "internal error: input '%s': line "
                                "counts of '%s' do not add up", name, R->life.inputs.paths[f]);
    }
    if (lines != R->counts.lines_read)
        return sf_error_set(&R->err, SF_E_INTERNAL, "internal error: %llu lines counted per "
                            "file, %llu in all", (unsigned long long)lines,
                            (unsigned long long)R->counts.lines_read);
    return 0;
}

/* --verbose: what each rank's combiner did (all, rank 0 only: the
 * gathered figures of every rank, 5 each). */
static void print_combiner(const sf_run *R, const uint64_t *all)
{
    for (int r = 0; r < R->nranks; r++) {
        const uint64_t *a = all + 8 * (size_t)r;
        fprintf(stderr, "  combiner, rank %d: %s", r, sf_combiner_name((int)a[0]));
        if (a[1])
            fprintf(stderr, "; sample %llu rows, %llu new groups (%.0f%%)",
                    (unsigned long long)a[1], (unsigned long long)a[2],
                    100.0 * (double)a[2] / (double)a[1]);
        if (a[5])
            fprintf(stderr, "; looked ahead %llu time%s, last: %llu rows ahead, %.1f%% of them "
                    "new groups (expected)", (unsigned long long)a[7] + 1, a[7] ? "s" : "",
                    (unsigned long long)a[5], (double)a[6] / 10);
        fprintf(stderr, "; rows shipped %llu, received %llu\n", (unsigned long long)a[3],
                (unsigned long long)a[4]);
    }
}

static void fill_result(sf_run *R, const sf_out_file *files, size_t nfiles, const double *tmax,
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
    res->repartition = sf_run_repartition_text(R->repartition);
    res->groups_skew = sum->groups_skew;
    res->stream_skew = sum->stream_skew;
    res->rows_skew = sum->rows_skew;
    res->rows_in = R->counts.rows_aggregated;
}

int sf_run_finish(sf_run *R)
{
    double t_start = R->life.t_start;
    size_t nfiles = 0;
    uint64_t *rss = NULL;
    sf_out_file *files = sf_life_gather(&R->life, &nfiles, &rss);
    gather_stats(R);
    sf_shuffle_stats sh;
    MPI_Reduce(&R->shuffle, &sh, sizeof sh / sizeof(uint64_t), MPI_UINT64_T, MPI_SUM, 0,
               R->comm);
    int overflow = 0;
    MPI_Reduce(&R->sum_overflow, &overflow, 1, MPI_INT, MPI_MAX, 0, R->comm);
    R->sum_overflow = overflow;
    uint64_t digest = 0;
    MPI_Reduce(&R->digest, &digest, 1, MPI_UINT64_T, MPI_SUM, 0, R->comm);
    uint64_t dropped[4] = {R->having_dropped, R->limit_dropped, R->grid_added, R->grid_dropped};
    uint64_t all_dropped[4] = {0, 0, 0, 0};
    MPI_Reduce(dropped, all_dropped, 4, MPI_UINT64_T, MPI_SUM, 0, R->comm);
    R->having_dropped = all_dropped[0];
    R->limit_dropped = all_dropped[1];
    R->grid_added = all_dropped[2];
    R->grid_dropped = all_dropped[3];
    uint64_t comb[8] = {(uint64_t)R->m.combiner, R->m.aside_sample_rows, R->m.aside_sample_groups,
                        R->m.aside_rows_out, R->m.aside_rows_in, R->aside_ahead[0],
                        R->aside_ahead[1], R->aside_ahead[2]};
    uint64_t *comb_all = R->o->verbose && R->rank == 0 ? calloc((size_t)R->nranks, sizeof comb)
                                                       : NULL;
    if (R->o->verbose)
        MPI_Gather(comb, 8, MPI_UINT64_T, comb_all, 8, MPI_UINT64_T, 0, R->comm);
    size_t nf = R->life.inputs.n;
    free(R->acct_all); /* several outputs: finished once each */
    R->acct_all = R->rank == 0 ? calloc(nf ? nf : 1, sizeof *R->acct_all) : NULL;
    if (R->rank == 0 && !R->acct_all)
        MPI_Abort(R->comm, 1); /* cannot take part in the reduction */
    MPI_Reduce(R->acct, R->acct_all, (int)(sizeof *R->acct / sizeof(uint64_t) * nf), MPI_UINT64_T,
               MPI_SUM, 0, R->comm);

    /* Commit is rank 0's work; its time is measured up to the metrics
     * report, which has to be written before the commit moves it. */
    sf_metrics_begin(&R->m, &R->shuffle);
    int rc = 0;
    if (R->rank == 0) {
        const sf_counts *c = &R->counts;
        if (c->lines_read != c->blank_lines + c->rows_rejected + c->rows_filtered +
                                 c->rows_dropped_by_join + c->rows_aggregated + c->rows_deduped ||
            c->rows_exploded != c->exploded_filtered + c->exploded_dropped_by_join +
                                    c->exploded_aggregated + c->exploded_deduped)
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
        if (!rc && R->pending) {
            /* Several outputs: committed together once all are written
             * (cli/run.c, run_outputs). */
            struct sf_run_pending *p = &R->pending[R->out_index];
            p->metrics = metrics;
            p->manifest = m;
            metrics = (sf_buf)SF_BUF_INIT;
            m = (sf_buf)SF_BUF_INIT;
            p->ready = 1;
        } else if (!rc) {
            rc = sf_life_commit(&R->life, &metrics, &m, &R->err);
        }
        tmax[SF_PH_COMMIT] += MPI_Wtime() - t0;
        wall = MPI_Wtime() - t_start;
        if (!rc && R->res)
            fill_result(R, files, nfiles, tmax, &sh, wall, digest, &sum);
        if (!rc && !R->o->quiet)
            print_summary(R, files, nfiles, &sum, rss, wall);
        if (!rc && comb_all)
            print_combiner(R, comb_all);
        sf_buf_free(&m);
    }
    sf_buf_free(&metrics);
    free(comb_all);
    free(files);
    free(rss);
    return rc;
}


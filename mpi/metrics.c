/* metrics.c - phase measurements and their JSON report. */
#include "mpi/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/bigmem.h"
#include "core/error.h"

static const char *const names[SF_PH_COUNT] = {"plan",   "scan+map", "shuffle", "reduce",
                                               "window", "write",    "commit"};

const char *sf_combiner_name(int combiner)
{
    static const char *const what[] = {
        "combine (no step-aside here)", "combine (forced)", "combine (undecided)",
        "combine (fewer rows than the sample)", "combine (sample)", "step-aside (sample)",
        "step-aside (forced)"};
    return combiner >= 0 && combiner <= SF_ASIDE_FORCED ? what[combiner] : "?";
}

const char *sf_phase_name(int phase)
{
    return phase >= 0 && phase < SF_PH_COUNT ? names[phase] : "unknown";
}

/* This process's CPU time (user + system), seconds: a phase's CPU time
 * tells its cost apart from waiting on a machine shared with others. */
static double cpu_now(void)
{
    struct timespec t;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t) != 0)
        return 0;
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

void sf_metrics_begin(sf_metrics *m, const sf_shuffle_stats *sh)
{
    m->start = MPI_Wtime();
    m->cpu_start = cpu_now();
    m->at_start = *sh;
}

void sf_metrics_end(sf_metrics *m, int phase, const sf_shuffle_stats *sh, uint64_t rows_in,
                    uint64_t rows_out)
{
    sf_phase_stat *p = &m->ph[phase];
    p->secs += MPI_Wtime() - m->start;
    p->cpu_secs += cpu_now() - m->cpu_start;
    p->rows_in += rows_in;
    p->rows_out += rows_out;
    p->bytes_sent += sh->bytes_sent - m->at_start.bytes_sent;
    p->bytes_recv += sh->bytes_received - m->at_start.bytes_received;
    p->msgs_sent += sh->messages_sent - m->at_start.messages_sent;
    p->msgs_recv += sh->messages_received - m->at_start.messages_received;
    p->recs_sent += sh->records_sent - m->at_start.records_sent;
    p->recs_recv += sh->records_received - m->at_start.records_received;
}

void sf_metrics_offer_key(sf_metrics *m, const char *key, uint64_t rows)
{
    sf_heavy_key k;
    snprintf(k.key, sizeof k.key, "%s", key);
    k.rows = rows;
    sf_skew_top_insert(m->top, &m->ntop, &k);
}

int sf_metrics_report(MPI_Comm comm, const sf_metrics *m, const uint64_t *part_groups,
                      const uint64_t *part_rows, int nparts, const sf_file_stats *files,
                      sf_buf *out, sf_metrics_summary *sum)
{
    int rank, nranks;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &nranks);
    /* Partition sizes: summed over ranks (each partition has one owner). */
    uint64_t *parts = calloc(2 * (size_t)nparts, sizeof *parts);
    uint64_t *sums = rank == 0 ? calloc(2 * (size_t)nparts, sizeof *sums) : NULL;
    if (!parts || (rank == 0 && !sums))
        MPI_Abort(comm, 1); /* cannot take part in the reduction */
    for (int p = 0; p < nparts && part_groups; p++) {
        parts[p] = part_groups[p];
        parts[nparts + p] = part_rows[p];
    }
    MPI_Reduce(parts, sums, 2 * nparts, MPI_UINT64_T, MPI_SUM, 0, comm);
    free(parts);
    sf_metrics *all = rank == 0 ? calloc((size_t)nranks, sizeof *all) : NULL;
    if (rank == 0 && !all)
        MPI_Abort(comm, 1); /* cannot take part in the gather */
    MPI_Gather(m, (int)sizeof *m, MPI_BYTE, all, (int)sizeof *m, MPI_BYTE, 0, comm);
    if (rank != 0)
        return 0;

    size_t nsecs = (size_t)nranks, nvals = (size_t)nparts;
    double *secs = malloc((nsecs + 2 * nvals) * sizeof *secs);
    if (!secs) {
        free(all);
        free(sums);
        return SF_E_NOMEM;
    }
    double *groups = secs + nsecs, *rows = groups + nvals;
    int rc = 0;
    rc |= sf_buf_printf(out, "{\n  \"ranks\": %d,\n  \"phases\": [", nranks);
    for (int p = 0; p < SF_PH_COUNT; p++) {
        double max, mean;
        for (int r = 0; r < nranks; r++)
            secs[r] = all[r].ph[p].secs;
        sf_skew_stats(secs, nranks, &max, &mean);
        sf_phase_stat *total = sum->total;
        memset(&total[p], 0, sizeof total[p]);
        total[p].secs = max;
        for (int r = 0; r < nranks; r++) {
            const sf_phase_stat *s = &all[r].ph[p];
            total[p].rows_in += s->rows_in;
            total[p].rows_out += s->rows_out;
            total[p].bytes_sent += s->bytes_sent;
            total[p].bytes_recv += s->bytes_recv;
            total[p].msgs_sent += s->msgs_sent;
            total[p].msgs_recv += s->msgs_recv;
            total[p].recs_sent += s->recs_sent;
            total[p].recs_recv += s->recs_recv;
            total[p].spill_bytes += s->spill_bytes;
            if (s->spill_passes > total[p].spill_passes)
                total[p].spill_passes = s->spill_passes;
        }
        rc |= sf_buf_printf(out, "%s\n    {\"phase\": \"%s\", \"seconds_max\": %.6f, "
                            "\"seconds_mean\": %.6f, \"per_rank\": [", p ? "," : "",
                            names[p], max, mean);
        for (int r = 0; r < nranks; r++) {
            const sf_phase_stat *s = &all[r].ph[p];
            rc |= sf_buf_printf(out, "%s\n      {\"rank\": %d, \"seconds\": %.6f, \"rows_in\": "
                                "%llu, \"rows_out\": %llu, \"bytes_sent\": %llu, "
                                "\"bytes_received\": %llu, \"messages_sent\": %llu, "
                                "\"messages_received\": %llu, \"records_sent\": %llu, "
                                "\"records_received\": %llu, \"spill_bytes\": %llu, "
                                "\"spill_passes\": %llu, \"cpu_seconds\": %.6f}", r ? "," : "", r, s->secs,
                                (unsigned long long)s->rows_in, (unsigned long long)s->rows_out,
                                (unsigned long long)s->bytes_sent,
                                (unsigned long long)s->bytes_recv,
                                (unsigned long long)s->msgs_sent,
                                (unsigned long long)s->msgs_recv,
                                (unsigned long long)s->recs_sent,
                                (unsigned long long)s->recs_recv,
                                (unsigned long long)s->spill_bytes,
                                (unsigned long long)s->spill_passes, s->cpu_secs);
        }
        rc |= sf_buf_printf(out, "\n    ]}");
    }
    for (int p = 0; p < nparts; p++) {
        groups[p] = (double)sums[p];
        rows[p] = (double)sums[nparts + p];
    }
    double gmax, gmean, rmax, rmean;
    sf_skew_stats(groups, nparts, &gmax, &gmean);
    sf_skew_stats(rows, nparts, &rmax, &rmean);
    rc |= sf_buf_printf(out, "\n  ],\n  \"partitions\": {\"count\": %d, \"groups\": [", nparts);
    for (int p = 0; p < nparts; p++)
        rc |= sf_buf_printf(out, "%s%llu", p ? ", " : "", (unsigned long long)sums[p]);
    rc |= sf_buf_printf(out, "], \"rows\": [");
    for (int p = 0; p < nparts; p++)
        rc |= sf_buf_printf(out, "%s%llu", p ? ", " : "", (unsigned long long)sums[nparts + p]);
    for (int r = 0; r < nranks; r++)
        secs[r] = (double)all[r].stream_rows_in;
    double smax, smean;
    sf_skew_stats(secs, nranks, &smax, &smean);
    sum->stream_skew = sf_skew_ratio(smax, smean);
    sum->groups_skew = sf_skew_ratio(gmax, gmean);
    sum->rows_skew = sf_skew_ratio(rmax, rmean);
    rc |= sf_buf_printf(out, "],\n    \"groups_skew\": %.4f, \"rows_skew\": %.4f},\n"
                        "  \"stream\": {\"rows_received\": [", sum->groups_skew, sum->rows_skew);
    for (int r = 0; r < nranks; r++)
        rc |= sf_buf_printf(out, "%s%llu", r ? ", " : "",
                            (unsigned long long)all[r].stream_rows_in);
    rc |= sf_buf_printf(out, "], \"skew\": %.4f},\n  \"combiner\": {\"decision\": [",
                        sum->stream_skew);
    for (int r = 0; r < nranks; r++)
        rc |= sf_buf_printf(out, "%s\"%s\"", r ? ", " : "", sf_combiner_name(all[r].combiner));
    const char *cols[] = {"sample_rows", "sample_new_groups", "rows_shipped", "rows_received"};
    for (int k = 0; k < 4; k++) {
        rc |= sf_buf_printf(out, "], \"%s\": [", cols[k]);
        for (int r = 0; r < nranks; r++) {
            const sf_metrics *a = &all[r];
            uint64_t v = k == 0 ? a->aside_sample_rows : k == 1 ? a->aside_sample_groups
                         : k == 2 ? a->aside_rows_out : a->aside_rows_in;
            rc |= sf_buf_printf(out, "%s%llu", r ? ", " : "", (unsigned long long)v);
        }
    }
    rc |= sf_buf_printf(out, "]},\n  \"memory\": {\"limit_bytes\": [");
    for (int r = 0; r < nranks; r++)
        rc |= sf_buf_printf(out, "%s%llu", r ? ", " : "", (unsigned long long)all[r].memory_limit);
    rc |= sf_buf_printf(out, "], \"largest_table_bytes\": [");
    for (int r = 0; r < nranks; r++)
        rc |= sf_buf_printf(out, "%s%llu", r ? ", " : "",
                            (unsigned long long)all[r].largest_table);
    sum->spill_splits = sum->dedupe_spills = 0;
    for (int r = 0; r < nranks; r++) {
        if (all[r].spill_splits > sum->spill_splits)
            sum->spill_splits = all[r].spill_splits;
        if (all[r].dedupe_spills > sum->dedupe_spills)
            sum->dedupe_spills = all[r].dedupe_spills;
    }
    rc |= sf_buf_printf(out, "], \"huge_pages\": \"%s\"",
                        sf_bigmem_policy_name(sf_bigmem_policy()));
    rc |= sf_buf_printf(out, ", \"spill_splits\": %llu, \"dedupe_spills\": %llu",
                        (unsigned long long)sum->spill_splits,
                        (unsigned long long)sum->dedupe_spills);
    rc |= sf_buf_printf(out, ", \"spill_bytes\": %llu, \"spill_passes\": %llu},\n"
                        "  \"distinct\": {\"spread_groups\": %llu, \"pairs\": [",
                        (unsigned long long)(sum->total[SF_PH_SCAN].spill_bytes +
                                             sum->total[SF_PH_SHUFFLE].spill_bytes +
                                             sum->total[SF_PH_WRITE].spill_bytes),
                        (unsigned long long)sum->total[SF_PH_SHUFFLE].spill_passes,
                        (unsigned long long)all[0].distinct_groups);
    for (int r = 0; r < nranks; r++)
        rc |= sf_buf_printf(out, "%s%llu", r ? ", " : "",
                            (unsigned long long)all[r].distinct_pairs);
    rc |= sf_buf_printf(out, "], \"spill_bytes\": [");
    for (int r = 0; r < nranks; r++)
        rc |= sf_buf_printf(out, "%s%llu", r ? ", " : "",
                            (unsigned long long)all[r].distinct_spill_bytes);
    rc |= sf_buf_printf(out, "]},\n"
                        "  \"output_files\": {\"count\": %llu, "
                        "\"bytes\": %llu, \"min_bytes\": %llu, \"max_bytes\": %llu, "
                        "\"mean_bytes\": %.1f},\n  \"heaviest_keys\": [",
                        (unsigned long long)files->count, (unsigned long long)files->bytes,
                        (unsigned long long)files->min_bytes,
                        (unsigned long long)files->max_bytes,
                        files->count ? (double)files->bytes / (double)files->count : 0.0);
    sf_heavy_key top[SF_TOP_KEYS];
    int ntop = 0;
    for (int r = 0; r < nranks; r++) {
        for (int i = 0; i < all[r].ntop; i++)
            sf_skew_top_insert(top, &ntop, &all[r].top[i]);
    }
    for (int i = 0; i < ntop; i++) {
        rc |= sf_buf_printf(out, "%s\n    {\"key\": ", i ? "," : "");
        rc |= sf_buf_json_string(out, top[i].key, strlen(top[i].key));
        rc |= sf_buf_printf(out, ", \"rows\": %llu}", (unsigned long long)top[i].rows);
    }
    rc |= sf_buf_printf(out, "%s]\n}\n", ntop ? "\n  " : "");
    free(secs);
    free(sums);
    free(all);
    return rc ? SF_E_NOMEM : 0;
}

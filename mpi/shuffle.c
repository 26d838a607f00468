/* shuffle.c - bounded-round MPI_Alltoallv record exchange.
 *
 * Frame: 4-byte little-endian length, then the record. Each round every rank
 * agrees (MPI_Allreduce) whether anyone still has data or failed, so all
 * ranks run the same number of collectives and an error on one rank cannot
 * leave the others waiting.
 */
#include "mpi/shuffle.h"

#include <stdlib.h>
#include <string.h>

#define MAX_RECORD ((size_t)1 << 30)

unsigned char *sf_shuffle_reserve(sf_buf *dest, size_t len)
{
    if (len > MAX_RECORD || sf_buf_reserve(dest, 4 + len) != 0)
        return NULL;
    unsigned char *p = dest->p + dest->n;
    for (int k = 0; k < 4; k++)
        p[k] = (unsigned char)(len >> (8 * k));
    dest->n += 4 + len;
    return p + 4;
}

int sf_shuffle_put(sf_buf *dest, const void *rec, size_t len)
{
    unsigned char *p = sf_shuffle_reserve(dest, len);
    if (!p)
        return SF_E_NOMEM;
    if (len)
        memcpy(p, rec, len);
    return 0;
}

static size_t frame_len(const unsigned char *p)
{
    return (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24;
}

int sf_shuffle_exchange(MPI_Comm comm, sf_buf *out, uint64_t round_bytes, sf_shuffle_fn fn,
                        void *ctx, sf_shuffle_stats *stats, sf_progress *progress, sf_error *err)
{
    int nranks, rank;
    MPI_Comm_size(comm, &nranks);
    MPI_Comm_rank(comm, &rank);
    /* Keep a round's displacements (int) far from INT_MAX. */
    if (round_bytes > ((uint64_t)1 << 30))
        round_bytes = (uint64_t)1 << 30;
    size_t quota = round_bytes / (uint64_t)nranks;
    if (quota < 4096)
        quota = 4096;
    int *scount = calloc((size_t)nranks, sizeof(int));
    int *sdispl = calloc((size_t)nranks, sizeof(int));
    int *rcount = calloc((size_t)nranks, sizeof(int));
    int *rdispl = calloc((size_t)nranks, sizeof(int));
    size_t *sent = calloc((size_t)nranks, sizeof(size_t)); /* bytes of out[d] already sent */
    unsigned char *sbuf = NULL, *rbuf = NULL;
    size_t scap = 0, rcap = 0;
    int rc = (scount && sdispl && rcount && rdispl && sent) ? 0 : SF_E_NOMEM;
    if (rc)
        sf_error_set(err, rc, "shuffle: out of memory");
    sf_shuffle_stats local = {0};
    if (rank != 0 || (progress && progress->mode == SF_PROGRESS_OFF))
        progress = NULL;
    uint64_t total_left = 0; /* all ranks' bytes to send, at the first round */

    for (;;) {
        /* Agree on whether to go on: anyone with data left (the sum of the
         * bytes left, which also drives the progress line), or anyone
         * failed. */
        uint64_t mine[2] = {0, rc ? 1 : 0}, all[2];
        for (int d = 0; d < nranks && !rc; d++)
            mine[0] += out[d].n - sent[d];
        MPI_Allreduce(mine, all, 2, MPI_UINT64_T, MPI_SUM, comm);
        if (progress) {
            if (local.rounds == 0) {
                total_left = all[0];
                sf_progress_start(progress, total_left);
            }
            if (all[0] && !all[1])
                sf_progress_update(progress, total_left - all[0]);
            else
                sf_progress_end(progress, total_left - all[0]);
        }
        if (all[1]) {
            if (!rc) {
                rc = SF_E_INTERNAL;
                sf_error_set(err, rc, "shuffle stopped: another rank failed");
            }
            break;
        }
        if (!all[0])
            break;

        /* Pick whole records up to the quota for each destination. */
        size_t total = 0;
        for (int d = 0; d < nranks; d++) {
            size_t start = sent[d], pos = start;
            while (pos < out[d].n) {
                size_t rec = 4 + frame_len(out[d].p + pos);
                if (pos > start && pos - start + rec > quota)
                    break;
                pos += rec;
                if (pos - start >= quota)
                    break;
            }
            scount[d] = (int)(pos - start);
            sdispl[d] = (int)total;
            total += pos - start;
        }
        if (total > (size_t)INT32_MAX && !rc)
            rc = sf_error_set(err, SF_E_LIMIT, "shuffle: a round would exceed 2 GiB (records "
                              "too large); lower --shuffle-round");
        if (total > scap) {
            free(sbuf);
            scap = total;
            sbuf = malloc(scap);
            if (!sbuf) {
                scap = 0;
                rc = sf_error_set(err, SF_E_NOMEM, "shuffle: out of memory for a send round");
            }
        }
        if (rc) {
            memset(scount, 0, (size_t)nranks * sizeof(int));
            total = 0;
        }
        for (int d = 0; d < nranks && total; d++) {
            if (scount[d]) /* out[d].p may be NULL for a destination with no records */
                memcpy(sbuf + sdispl[d], out[d].p + sent[d], (size_t)scount[d]);
            sent[d] += (size_t)scount[d];
            local.bytes_sent += (uint64_t)scount[d];
            local.messages_sent += scount[d] > 0;
        }
        MPI_Alltoall(scount, 1, MPI_INT, rcount, 1, MPI_INT, comm);
        size_t rtotal = 0;
        for (int s = 0; s < nranks; s++) {
            rdispl[s] = (int)rtotal;
            rtotal += (size_t)rcount[s];
        }
        if (rtotal > rcap) {
            free(rbuf);
            rcap = rtotal;
            rbuf = malloc(rcap);
            if (!rbuf) {
                /* Cannot receive: abort the job rather than desynchronize. */
                sf_error_set(err, SF_E_NOMEM, "shuffle: out of memory for a receive round");
                MPI_Abort(comm, 1);
            }
        }
        MPI_Alltoallv(sbuf, scount, sdispl, MPI_BYTE, rbuf, rcount, rdispl, MPI_BYTE, comm);
        local.rounds++;
        for (int s = 0; s < nranks; s++) {
            const unsigned char *p = rbuf + rdispl[s], *end = p + rcount[s];
            local.bytes_received += (uint64_t)rcount[s];
            local.messages_received += rcount[s] > 0;
            while (p < end && !rc) {
                size_t len = frame_len(p);
                if ((size_t)(end - p) < 4 + len) {
                    rc = sf_error_set(err, SF_E_INTERNAL, "shuffle: truncated record from rank %d",
                                      s);
                    break;
                }
                rc = fn(ctx, p + 4, len, s);
                local.records_received++;
                p += 4 + len;
            }
        }
    }
    for (int d = 0; d < nranks; d++) {
        const unsigned char *p = out[d].p, *end = p + out[d].n;
        while (p && p < end) {
            local.records_sent++;
            p += 4 + frame_len(p);
        }
        out[d].n = 0;
    }
    if (stats) {
        stats->bytes_sent += local.bytes_sent;
        stats->bytes_received += local.bytes_received;
        stats->records_sent += local.records_sent;
        stats->records_received += local.records_received;
        stats->messages_sent += local.messages_sent;
        stats->messages_received += local.messages_received;
        stats->rounds += local.rounds;
    }
    free(sbuf);
    free(rbuf);
    free(scount);
    free(sdispl);
    free(rcount);
    free(rdispl);
    free(sent);
    return rc;
}

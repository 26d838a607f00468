/* shuffle.c - bounded-round record exchange.
 *
 * Frame: 4-byte little-endian length, then the record. Each round every rank
 * agrees (MPI_Allreduce) whether anyone still has data or failed, so all
 * ranks run the same number of collectives and an error on one rank cannot
 * leave the others waiting. The counts go round with MPI_Alltoall; the
 * bytes go point to point (MPI_Isend / MPI_Irecv, one tag, waited for in
 * the round) straight from the caller's buffers, so nothing is copied into
 * a send buffer, and a rank's records to itself are handed over in place.
 */
#include "mpi/shuffle.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/bigmem.h"

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

size_t sf_shuffle_begin(sf_buf *dest)
{
    if (sf_buf_reserve(dest, 4) != 0)
        return SIZE_MAX;
    dest->n += 4;
    return dest->n - 4;
}

int sf_shuffle_end(sf_buf *dest, size_t mark)
{
    size_t len = dest->n - mark - 4;
    if (len > MAX_RECORD)
        return SF_E_LIMIT;
    for (int k = 0; k < 4; k++)
        dest->p[mark + k] = (unsigned char)(len >> (8 * k));
    return 0;
}

#define TAG_ROUND 301

/* One exchange: where each destination's bytes of the current round are
 * (views into the caller's buffers: nothing is copied to send) and the
 * receive buffer, reused from round to round. */
typedef struct xchg {
    MPI_Comm comm;
    int nranks, rank;
    size_t quota;
    const unsigned char **sptr;
    int *scount, *rcount;
    size_t *rdispl;
    MPI_Request *req;
    unsigned char *rbuf;
    size_t rcap;
    sf_shuffle_stats st;
} xchg;

static int xchg_init(xchg *x, MPI_Comm comm, uint64_t round_bytes)
{
    memset(x, 0, sizeof *x);
    x->comm = comm;
    MPI_Comm_size(comm, &x->nranks);
    MPI_Comm_rank(comm, &x->rank);
    /* Keep a round's counts (int) far from INT_MAX. */
    if (round_bytes > ((uint64_t)1 << 30))
        round_bytes = (uint64_t)1 << 30;
    x->quota = round_bytes / (uint64_t)x->nranks;
    if (x->quota < 4096)
        x->quota = 4096;
    size_t n = (size_t)x->nranks;
    x->sptr = calloc(n, sizeof *x->sptr);
    x->scount = calloc(n, sizeof *x->scount);
    x->rcount = calloc(n, sizeof *x->rcount);
    x->rdispl = calloc(n, sizeof *x->rdispl);
    x->req = calloc(2 * n, sizeof *x->req);
    return x->sptr && x->scount && x->rcount && x->rdispl && x->req ? 0 : SF_E_NOMEM;
}

static void xchg_free(xchg *x, sf_shuffle_stats *stats)
{
    if (stats) {
        stats->bytes_sent += x->st.bytes_sent;
        stats->bytes_received += x->st.bytes_received;
        stats->records_sent += x->st.records_sent;
        stats->records_received += x->st.records_received;
        stats->messages_sent += x->st.messages_sent;
        stats->messages_received += x->st.messages_received;
        stats->rounds += x->st.rounds;
    }
    free(x->sptr);
    free(x->scount);
    free(x->rcount);
    free(x->rdispl);
    free(x->req);
    free(x->rbuf);
}

/* Agrees on going on: 1 when some rank has bytes this round and none
 * failed; 0 when everyone is done; -1 when some rank failed (*rc is then
 * set here if it was not). Drives the progress line with the bytes left
 * (left: this rank's bytes still to send, this round included; 0 when
 * unknown). */
static int xchg_agree(xchg *x, uint64_t round, uint64_t left, int *rc, sf_progress *progress,
                      uint64_t *total_left, sf_error *err)
{
    uint64_t mine[3] = {round, *rc ? 1 : 0, left}, all[3];
    MPI_Allreduce(mine, all, 3, MPI_UINT64_T, MPI_SUM, x->comm);
    if (progress) {
        if (x->st.rounds == 0) {
            *total_left = all[2];
            sf_progress_start(progress, *total_left);
        }
        if (all[0] && !all[1])
            sf_progress_update(progress, *total_left - all[2]);
        else
            sf_progress_end(progress, *total_left - all[2]);
    }
    if (all[1]) {
        if (!*rc)
            *rc = sf_error_set(err, SF_E_INTERNAL, "shuffle stopped: another rank failed");
        return -1;
    }
    return all[0] != 0;
}

/* Counts the framed records of n bytes at p. */
static uint64_t count_frames(const unsigned char *p, size_t n)
{
    uint64_t k = 0;
    for (size_t pos = 0; pos + 4 <= n; pos += 4 + frame_len(p + pos))
        k++;
    return k;
}

/* Hands every framed record of n bytes at p (from rank s) to fn. */
static int deliver(const unsigned char *p, size_t n, int s, sf_shuffle_fn fn, void *ctx,
                   xchg *x, sf_error *err)
{
    const unsigned char *end = p + n;
    while (p < end) {
        size_t len = frame_len(p);
        if ((size_t)(end - p) < 4 + len)
            return sf_error_set(err, SF_E_INTERNAL, "shuffle: truncated record from rank %d",
                                s);
        int rc = fn(ctx, p + 4, len, s);
        x->st.records_received++;
        if (rc)
            return rc;
        p += 4 + len;
    }
    return 0;
}

/* One round: every rank sends sptr[d]/scount[d] to rank d straight from
 * where the bytes are, point to point, and hands what it receives to fn,
 * sources in rank order (its own bytes without a copy). Collective. */
static int xchg_round(xchg *x, sf_shuffle_fn fn, void *ctx, int rc, sf_error *err)
{
    int n = x->nranks;
    MPI_Alltoall(x->scount, 1, MPI_INT, x->rcount, 1, MPI_INT, x->comm);
    size_t rtotal = 0;
    for (int s = 0; s < n; s++) {
        x->rdispl[s] = rtotal;
        rtotal += s == x->rank ? 0 : (size_t)x->rcount[s];
    }
    if (rtotal > x->rcap) {
        free(x->rbuf);
        x->rcap = rtotal;
        /* Filled once, in order, by MPI's copy: huge pages fault it in
         * 2 MiB at a time. */
        x->rbuf = sf_bigmem_alloc(rtotal);
        if (!x->rbuf) {
            /* Cannot receive: abort the job rather than desynchronize. */
            sf_error_set(err, SF_E_NOMEM, "shuffle: out of memory for a receive round");
            MPI_Abort(x->comm, 1);
        }
    }
    int nreq = 0;
    for (int k = 1; k < n; k++) {
        int s = (x->rank - k + n) % n, d = (x->rank + k) % n;
        if (x->rcount[s])
            MPI_Irecv(x->rbuf + x->rdispl[s], x->rcount[s], MPI_BYTE, s, TAG_ROUND, x->comm,
                      &x->req[nreq++]);
        if (x->scount[d]) {
            MPI_Isend(x->sptr[d], x->scount[d], MPI_BYTE, d, TAG_ROUND, x->comm,
                      &x->req[nreq++]);
            x->st.bytes_sent += (uint64_t)x->scount[d];
            x->st.messages_sent++;
            x->st.records_sent += count_frames(x->sptr[d], (size_t)x->scount[d]);
        }
    }
    MPI_Waitall(nreq, x->req, MPI_STATUSES_IGNORE);
    x->st.rounds++;
    for (int s = 0; s < n && !rc; s++) {
        const unsigned char *p = s == x->rank ? x->sptr[s] : x->rbuf + x->rdispl[s];
        if (s != x->rank) {
            x->st.bytes_received += (uint64_t)x->rcount[s];
            x->st.messages_received += x->rcount[s] > 0;
        } else { /* counted as the old all-to-all did: sent and received */
            x->st.bytes_sent += (uint64_t)x->rcount[s];
            x->st.bytes_received += (uint64_t)x->rcount[s];
            x->st.messages_sent += x->rcount[s] > 0;
            x->st.messages_received += x->rcount[s] > 0;
            x->st.records_sent += count_frames(p, (size_t)x->rcount[s]);
        }
        if (x->rcount[s])
            rc = deliver(p, (size_t)x->rcount[s], s, fn, ctx, x, err);
    }
    return rc;
}

int sf_shuffle_exchange(MPI_Comm comm, sf_buf *out, uint64_t round_bytes, sf_shuffle_fn fn,
                        void *ctx, sf_shuffle_stats *stats, sf_progress *progress, sf_error *err)
{
    xchg x;
    int rc = xchg_init(&x, comm, round_bytes);
    size_t *sent = calloc((size_t)x.nranks, sizeof *sent); /* bytes of out[d] already sent */
    if (rc || !sent)
        rc = sf_error_set(err, SF_E_NOMEM, "shuffle: out of memory");
    if (x.rank != 0 || (progress && progress->mode == SF_PROGRESS_OFF))
        progress = NULL;
    uint64_t total_left = 0;
    for (;;) {
        /* Whole records up to the quota for each destination, sent from
         * where they lie in out[d]. */
        uint64_t round = 0, left = 0;
        for (int d = 0; d < x.nranks && !rc; d++) {
            size_t start = sent[d], pos = start;
            while (pos < out[d].n) {
                size_t rec = 4 + frame_len(out[d].p + pos);
                if (pos > start && pos - start + rec > x.quota)
                    break;
                pos += rec;
                if (pos - start >= x.quota)
                    break;
            }
            if (pos - start > (size_t)INT32_MAX)
                rc = sf_error_set(err, SF_E_LIMIT, "shuffle: a round would exceed 2 GiB "
                                  "(records too large); lower --shuffle-round");
            x.sptr[d] = out[d].p ? out[d].p + start : NULL;
            x.scount[d] = (int)(pos - start);
            round += pos - start;
            left += out[d].n - start;
        }
        if (rc && x.scount)
            memset(x.scount, 0, (size_t)x.nranks * sizeof *x.scount);
        int go = xchg_agree(&x, rc ? 0 : round, rc ? 0 : left, &rc, progress, &total_left, err);
        if (go <= 0)
            break;
        rc = xchg_round(&x, fn, ctx, rc, err);
        for (int d = 0; d < x.nranks && sent; d++)
            sent[d] += (size_t)x.scount[d];
    }
    for (int d = 0; d < x.nranks; d++)
        out[d].n = 0;
    free(sent);
    xchg_free(&x, stats);
    return rc;
}

int sf_shuffle_exchange_fill(MPI_Comm comm, sf_shuffle_fill_fn fill, void *fctx,
                             uint64_t round_bytes, sf_shuffle_fn fn, void *ctx,
                             sf_shuffle_stats *stats, sf_progress *progress, sf_error *err)
{
    xchg x;
    int rc = xchg_init(&x, comm, round_bytes);
    sf_buf *rb = calloc((size_t)x.nranks, sizeof *rb); /* this round's records per rank */
    if (rc || !rb)
        rc = sf_error_set(err, SF_E_NOMEM, "shuffle: out of memory");
    if (x.rank != 0 || (progress && progress->mode == SF_PROGRESS_OFF))
        progress = NULL;
    uint64_t total_left = 0;
    int done = 0;
    for (;;) {
        uint64_t round = 0;
        for (int d = 0; d < x.nranks && rb; d++)
            rb[d].n = 0;
        if (!rc && !done && (rc = fill(fctx, rb, x.quota, &done)) != 0 && err && !err->msg[0])
            sf_error_set(err, rc, "shuffle: %s making records", sf_strerror(rc));
        for (int d = 0; d < x.nranks && rb; d++) {
            if (rb[d].n > (size_t)INT32_MAX / 2 && !rc)
                rc = sf_error_set(err, SF_E_LIMIT, "shuffle: a record too large for a round");
            x.sptr[d] = rb[d].p;
            x.scount[d] = rc ? 0 : (int)rb[d].n;
            round += (uint64_t)x.scount[d];
        }
        /* The bytes still to come are not known ahead: the progress line
         * has no total here, only its start and end. */
        int go = xchg_agree(&x, rc ? 0 : round, 0, &rc, progress, &total_left, err);
        if (go <= 0)
            break;
        rc = xchg_round(&x, fn, ctx, rc, err);
    }
    for (int d = 0; rb && d < x.nranks; d++)
        sf_buf_free(&rb[d]);
    free(rb);
    xchg_free(&x, stats);
    return rc;
}

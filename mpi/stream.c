/* stream.c - batched MPI_Isend record streams with polling receives.
 *
 * Message format: framed records (4-byte little-endian length + bytes), as
 * in mpi/shuffle.c; a zero-length message means "the sender is done".
 * Invariant: a rank only ever blocks inside poll loops, so a rendezvous send
 * to it always finds its receive posted soon.
 */
#include "mpi/stream.h"

#include <stdlib.h>
#include <string.h>

#include "core/bigmem.h"

#define INFLIGHT 2
#define NOTES (2 * SF_STREAM_AHEAD)

typedef struct dest_state {
    unsigned char *fill;            /* batch being filled */
    size_t n;
    size_t cap;                     /* fill's bytes */
    unsigned char *sending[INFLIGHT]; /* batches in flight */
    size_t sending_cap[INFLIGHT];
    /* A sent batch's buffer of s->batch bytes, kept for the next fill:
     * a fresh malloc of a few MiB comes from mmap, whose pages fault in
     * again (4 KiB at a time) while the records are written. */
    unsigned char *spare;
    MPI_Request req[INFLIGHT];
} dest_state;

struct sf_stream {
    MPI_Comm comm;
    int rank, nranks, tag;
    size_t batch;
    sf_stream_fn fn;
    void *ctx;
    sf_stream_idle_fn idle;
    void *idle_ctx;
    sf_stream_ahead_fn ahead;
    /* The look-ahead's words: record j of a message has notes[j % NOTES]
     * from its stage 0 to its delivery (at most SF_STREAM_AHEAD + 1
     * records are between the two at once). */
    uint64_t notes[NOTES];
    const uint64_t *note; /* the delivered record's, during its callback */
    int delivering;       /* deliveries under way (a callback may poll) */
    dest_state *dest;
    unsigned char *rbuf;
    size_t rcap;
    int done_from;   /* ranks that said they are done */
    int rc;          /* first callback error */
    sf_shuffle_stats st;
};

sf_stream *sf_stream_new(MPI_Comm comm, int tag, size_t batch, sf_stream_fn fn, void *ctx,
                         sf_stream_idle_fn idle, void *idle_ctx)
{
    sf_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->comm = comm;
    MPI_Comm_rank(comm, &s->rank);
    MPI_Comm_size(comm, &s->nranks);
    s->tag = tag;
    s->batch = batch < 4096 ? 4096 : batch;
    s->fn = fn;
    s->ctx = ctx;
    s->idle = idle;
    s->idle_ctx = idle_ctx;
    s->dest = calloc((size_t)s->nranks, sizeof *s->dest);
    if (!s->dest) {
        free(s);
        return NULL;
    }
    for (int d = 0; d < s->nranks; d++) {
        for (int k = 0; k < INFLIGHT; k++)
            s->dest[d].req[k] = MPI_REQUEST_NULL;
    }
    return s;
}

void sf_stream_set_idle(sf_stream *s, sf_stream_idle_fn idle, void *idle_ctx)
{
    s->idle = idle;
    s->idle_ctx = idle_ctx;
}

static size_t frame_len(const unsigned char *p)
{
    return (size_t)p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16 | (size_t)p[3] << 24;
}

void sf_stream_set_ahead(sf_stream *s, sf_stream_ahead_fn ahead) { s->ahead = ahead; }

const uint64_t *sf_stream_note(const sf_stream *s) { return s->note; }

/* The look-ahead: stage k's cursor (at[k], record number seen[k]) runs
 * SF_STREAM_AHEAD >> k records in front of record i, the next delivered;
 * *stages is the number of stages still run for this message (a stage
 * the hook said has nothing to do is dropped with those after it). */
static void hint_ahead(sf_stream *s, const unsigned char **at, size_t *seen, size_t i,
                       const unsigned char *end, int *stages)
{
    for (int k = 0; k < *stages; k++) {
        while (seen[k] <= i + (SF_STREAM_AHEAD >> k) && at[k] + 4 <= end) {
            size_t len = frame_len(at[k]);
            if ((size_t)(end - at[k]) < 4 + len)
                break; /* deliver() reports it */
            int idle = s->ahead(s->ctx, at[k] + 4, len, k, &s->notes[seen[k] % NOTES]);
            at[k] += 4 + len;
            seen[k]++;
            if (idle && k > 0) {
                *stages = k;
                return;
            }
        }
    }
}

static void deliver(sf_stream *s, const unsigned char *p, size_t n, int source)
{
    const unsigned char *end = p + n, *at[3] = {p, p, p};
    size_t seen[3] = {0, 0, 0};
    int stages = 3;
    /* A delivery inside a callback (a record that made the receiver send,
     * and so poll) gives no hints: the notes stay those of the outer
     * message's records, whose callback reads its note again after. */
    const uint64_t *outer = s->note;
    int hints = s->ahead && !s->delivering;
    s->delivering++;
    for (size_t i = 0; p + 4 <= end; i++) {
        size_t len = frame_len(p);
        if ((size_t)(end - p) < 4 + len) {
            if (!s->rc)
                s->rc = SF_E_INTERNAL;
            break;
        }
        if (hints && !s->rc)
            hint_ahead(s, at, seen, i, end, &stages);
        if (!s->rc) {
            s->note = hints && seen[0] > i ? &s->notes[i % NOTES] : NULL;
            s->rc = s->fn(s->ctx, p + 4, len, source);
        }
        s->st.records_received++;
        p += 4 + len;
    }
    s->note = outer;
    s->delivering--;
}

int sf_stream_poll(sf_stream *s)
{
    for (;;) {
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, s->tag, s->comm, &flag, &st);
        if (!flag)
            return s->rc;
        int count = 0;
        MPI_Get_count(&st, MPI_BYTE, &count);
        /* A poll inside a callback (a record whose processing sent, and a
         * send waited for a free slot) must not receive into the buffer
         * the outer delivery is still reading: it takes a buffer of its
         * own. */
        unsigned char *buf = s->rbuf;
        if (s->delivering) {
            buf = malloc(count ? (size_t)count : 1);
            if (!buf)
                MPI_Abort(s->comm, 1); /* a probed message must be received */
        } else if ((size_t)count > s->rcap) {
            /* In huge pages from 2 MiB on: the first receive faults it
             * in 2 MiB at a time. Nothing in it is kept. */
            size_t cap = (size_t)count;
            free(s->rbuf);
            unsigned char *p = sf_bigmem_alloc(cap);
            if (!p)
                MPI_Abort(s->comm, 1); /* a probed message must be received */
            s->rbuf = buf = p;
            s->rcap = cap;
        }
        MPI_Recv(buf, count, MPI_BYTE, st.MPI_SOURCE, s->tag, s->comm, MPI_STATUS_IGNORE);
        if (count == 0) {
            s->done_from++;
        } else {
            s->st.bytes_received += (uint64_t)count;
            s->st.messages_received++;
            deliver(s, buf, (size_t)count, st.MPI_SOURCE);
        }
        if (buf != s->rbuf)
            free(buf);
    }
}

/* Waits (polling) until destination d has a free in-flight slot; returns it. */
static int free_slot(sf_stream *s, dest_state *ds)
{
    for (;;) {
        for (int k = 0; k < INFLIGHT; k++) {
            int flag = 1;
            if (ds->req[k] != MPI_REQUEST_NULL)
                MPI_Test(&ds->req[k], &flag, MPI_STATUS_IGNORE);
            if (flag) {
                if (ds->sending[k] && !ds->spare && ds->sending_cap[k] == s->batch)
                    ds->spare = ds->sending[k];
                else
                    free(ds->sending[k]);
                ds->sending[k] = NULL;
                return k;
            }
        }
        sf_stream_poll(s);
        if (s->idle)
            s->idle(s->idle_ctx);
    }
}

static void send_batch(sf_stream *s, int d)
{
    dest_state *ds = &s->dest[d];
    if (ds->n == 0)
        return;
    int k = free_slot(s, ds);
    ds->sending[k] = ds->fill;
    ds->sending_cap[k] = ds->cap;
    MPI_Isend(ds->fill, (int)ds->n, MPI_BYTE, d, s->tag, s->comm, &ds->req[k]);
    s->st.bytes_sent += ds->n;
    s->st.messages_sent++;
    ds->fill = NULL;
    ds->n = 0;
}

/* Frames a record of len bytes for rank dest in its batch (a full batch
 * leaves first, so the record can be written in place) and returns where
 * its bytes go, or NULL when out of memory. */
static unsigned char *frame(sf_stream *s, int dest, size_t len)
{
    dest_state *ds = &s->dest[dest];
    size_t need = 4 + len;
    if (ds->fill && ds->n + need > s->batch)
        send_batch(s, dest);
    if (!ds->fill && ds->spare && need <= s->batch) {
        ds->fill = ds->spare;
        ds->cap = s->batch;
        ds->spare = NULL;
    } else if (!ds->fill) {
        size_t cap = need > s->batch ? need : s->batch;
        if (!(ds->fill = malloc(cap)))
            return NULL;
        ds->cap = cap;
    }
    unsigned char *p = ds->fill + ds->n;
    for (int k = 0; k < 4; k++)
        p[k] = (unsigned char)(len >> (8 * k));
    ds->n += need;
    return p + 4;
}

int sf_stream_put(sf_stream *s, int dest, const void *rec, size_t len)
{
    s->st.records_sent++;
    if (dest == s->rank) {
        /* Local records skip MPI; the framing is only for the wire. */
        s->st.records_received++;
        const uint64_t *outer = s->note; /* no hook saw this record */
        s->note = NULL;
        if (!s->rc)
            s->rc = s->fn(s->ctx, rec, len, s->rank);
        s->note = outer;
        return s->rc;
    }
    unsigned char *p = frame(s, dest, len);
    if (!p)
        return SF_E_NOMEM;
    memcpy(p, rec, len);
    if (s->dest[dest].n >= s->batch)
        send_batch(s, dest);
    return s->rc;
}

unsigned char *sf_stream_reserve(sf_stream *s, int dest, size_t len)
{
    unsigned char *p = frame(s, dest, len);
    s->st.records_sent += p != NULL;
    return p;
}

int sf_stream_finish(sf_stream *s, sf_error *err)
{
    for (int d = 0; d < s->nranks; d++) {
        if (d != s->rank)
            send_batch(s, d);
    }
    /* The done markers go out after the data on the same (ordered) channel. */
    MPI_Request *done = calloc((size_t)s->nranks, sizeof *done);
    if (!done)
        MPI_Abort(s->comm, 1);
    for (int d = 0; d < s->nranks; d++) {
        done[d] = MPI_REQUEST_NULL;
        if (d != s->rank)
            MPI_Isend(NULL, 0, MPI_BYTE, d, s->tag, s->comm, &done[d]);
    }
    for (;;) {
        sf_stream_poll(s);
        int sent = 0;
        MPI_Testall(s->nranks, done, &sent, MPI_STATUSES_IGNORE);
        for (int d = 0; d < s->nranks && sent; d++) {
            for (int k = 0; k < INFLIGHT; k++) {
                int flag = 1;
                if (s->dest[d].req[k] != MPI_REQUEST_NULL)
                    MPI_Test(&s->dest[d].req[k], &flag, MPI_STATUS_IGNORE);
                sent &= flag;
            }
        }
        if (sent && s->done_from == s->nranks - 1)
            break;
        if (s->idle)
            s->idle(s->idle_ctx);
    }
    free(done);
    /* The handler's own message (a full spill disk, a bad row) is kept
     * when it set one for the code it returned. */
    if (s->rc && err && !(err->code == s->rc && err->msg[0]))
        sf_error_set(err, s->rc, "%s while receiving streamed rows", sf_strerror(s->rc));
    return s->rc;
}

void sf_stream_stats(const sf_stream *s, sf_shuffle_stats *stats)
{
    stats->bytes_sent += s->st.bytes_sent;
    stats->bytes_received += s->st.bytes_received;
    stats->records_sent += s->st.records_sent;
    stats->records_received += s->st.records_received;
    stats->messages_sent += s->st.messages_sent;
    stats->messages_received += s->st.messages_received;
}

void sf_stream_free(sf_stream *s)
{
    if (!s)
        return;
    for (int d = 0; d < s->nranks; d++) {
        free(s->dest[d].fill);
        free(s->dest[d].spare);
        for (int k = 0; k < INFLIGHT; k++)
            free(s->dest[d].sending[k]);
    }
    free(s->dest);
    free(s->rbuf);
    free(s);
}

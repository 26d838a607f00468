/* scan.c - chunk scheduling and line reading.
 *
 * Dynamic protocol: a worker sends TAG_REQ (the index of the chunk it last
 * finished, or -1) to rank 0 and waits for TAG_CHUNK (the next index, or -1
 * when none are left, or -2 when the scan is aborted), asking one chunk
 * ahead: the request for the next goes out as the current one starts
 * (not with feeds, where it goes out at the current one's end); which chunk a rank
 * gets is mpi/scan_assign's (the next of its own run of chunks). Rank 0 polls for
 * requests with MPI_Test every SERVE_EVERY lines of its own work, and serves
 * the remaining requests once its own share is done. Done bytes reported in
 * requests drive the progress line.
 *
 * A rank that fails (a read error, a signal) sends TAG_ABORT to every other
 * rank; all ranks probe for it between batches of lines, so the whole scan
 * stops within a batch instead of at the end of every rank's share.
 */
#include "mpi/scan.h"
#include "mpi/scan_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/decompress.h"
#include "io/range_reader.h"
#include "mpi/collective.h"
#include "mpi/scan_assign.h"

#define TAG_REQ 101
#define TAG_CHUNK 102
#define NO_MORE (-1)
#define ABORTED (-2)
/* How far a helper thread keeps the kernel reading ahead of each rank's
 * reads, in steps of SCAN_READAHEAD_STEP (io/readahead). */
#define SCAN_READAHEAD ((uint64_t)64 << 20)
#define SCAN_READAHEAD_STEP ((uint64_t)8 << 20)

/* Cuts the files in order into chunks of chunk_size bytes; with div > 0,
 * a chunk that starts when fewer than div * chunk_size bytes of all the
 * files are left takes a div-th of what is left, rounded down to a multiple
 * of floor (so chunks still start at multiples of it), but at least floor
 * bytes. Writes the chunks to c when it is not NULL; returns their count. */
static size_t cut_chunks(const uint64_t *sizes, size_t nfiles, uint64_t chunk_size, uint64_t div,
                         uint64_t floor, sf_chunk *c)
{
    uint64_t left = 0;
    for (size_t f = 0; f < nfiles; f++)
        left += sizes[f];
    size_t n = 0;
    for (size_t f = 0; f < nfiles; f++) {
        for (uint64_t s = 0; s < sizes[f];) {
            uint64_t step = chunk_size;
            if (div && left / div < chunk_size)
                step = left / div > floor ? left / div / floor * floor : floor;
            uint64_t e = sizes[f] - s > step ? s + step : sizes[f];
            if (c) {
                memset(&c[n], 0, sizeof c[n]);
                c[n].file = (int32_t)f;
                c[n].kind = SF_CHUNK_RANGE;
                c[n].prev = s;
                c[n].start = s;
                c[n].end = e;
            }
            n++;
            left -= e - s;
            s = e;
        }
    }
    return n;
}

static sf_chunk *make_chunks(const uint64_t *sizes, size_t nfiles, uint64_t chunk_size,
                             uint64_t div, uint64_t floor, size_t *n)
{
    *n = 0;
    size_t total = cut_chunks(sizes, nfiles, chunk_size, div, floor, NULL);
    sf_chunk *c = malloc((total ? total : 1) * sizeof *c);
    if (!c)
        return NULL;
    *n = cut_chunks(sizes, nfiles, chunk_size, div, floor, c);
    return c;
}

sf_chunk *sf_scan_make_chunks(const uint64_t *sizes, size_t nfiles, uint64_t chunk_size,
                              size_t *n)
{
    return make_chunks(sizes, nfiles, chunk_size, 0, chunk_size, n);
}

sf_chunk *sf_scan_make_chunks_guided(const uint64_t *sizes, size_t nfiles, uint64_t chunk_size,
                                     int nranks, size_t *n)
{
    if (nranks < 2 || chunk_size == 0)
        return make_chunks(sizes, nfiles, chunk_size, 0, chunk_size, n);
    uint64_t floor = chunk_size / 16 > SF_SCAN_GUIDED_FLOOR ? chunk_size / 16 : SF_SCAN_GUIDED_FLOOR;
    if (floor > chunk_size)
        floor = chunk_size;
    return make_chunks(sizes, nfiles, chunk_size, 2 * (uint64_t)nranks, floor, n);
}

static uint64_t chunk_bytes(const sf_chunk *c) { return c->end - c->start; }

/* Updates the progress line; current is how far rank 0 is into its current
 * chunk. With static scheduling rank 0 sees only its own share, so the
 * total is estimated as its share's progress times the number of ranks. A
 * stream of unknown length has no total: bytes read and the rate, no ETA
 * (mpi/progress). */
void sf_scan_progress(scan_state *s, uint64_t current, int final)
{
    if (!s->progress || (final && s->feeds_pending))
        return;
    uint64_t done = s->done_bytes + current;
    if (!s->dynamic && !s->feeding)
        done *= (uint64_t)s->nranks;
    if (!s->total_unknown && (final || done > s->total_bytes))
        done = s->total_bytes;
    if (final)
        sf_progress_end(s->progress, done);
    else
        sf_progress_update(s->progress, done);
}

/* The next chunk rank takes, or -1 (mpi/scan_assign: a run of
 * neighbouring chunks per rank). Compressed files that are one chunk each
 * (a gzip file, one zstd frame: files are then the unit of work) go first,
 * largest first, so that a big one starts early instead of holding up the
 * end of the scan; every other chunk keeps file order. */
static long next_chunk(scan_state *s, int rank)
{
    return sf_scan_assign_next(&s->assign, rank);
}

static const sf_chunk *order_chunks; /* for cmp_size (qsort has no context) */
static size_t order_n;

/* A compressed file's only chunk: the whole file is the unit of work. */
static int whole_compressed(size_t i)
{
    const sf_chunk *c = order_chunks;
    return c[i].codec && (i == 0 || c[i - 1].file != c[i].file) &&
           (i + 1 == order_n || c[i + 1].file != c[i].file);
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    int wx = whole_compressed(x), wy = whole_compressed(y);
    if (wx != wy)
        return wx ? -1 : 1;
    if (wx) {
        uint64_t nx = order_chunks[x].end - order_chunks[x].start;
        uint64_t ny = order_chunks[y].end - order_chunks[y].start;
        if (nx != ny)
            return nx > ny ? -1 : 1;
    }
    return x < y ? -1 : x > y; /* file order among the rest */
}

/* Rank 0: answers every request that has arrived (blocking until one does
 * if wait is set). */
static void serve(scan_state *s, int wait)
{
    for (;;) {
        if (s->workers_left == 0)
            return;
        int flag = 0;
        MPI_Status st;
        MPI_Test(&s->req, &flag, &st);
        while (!flag && wait) {
            /* Poll instead of blocking: a stream send to this rank must
             * find its receive. */
            if (s->stream)
                sf_stream_poll(s->stream);
            MPI_Test(&s->req, &flag, &st);
        }
        if (!flag)
            return;
        if (s->req_buf >= 0)
            s->done_bytes += chunk_bytes(&s->chunks[s->req_buf]);
        long answer;
        if (s->aborted)
            answer = ABORTED;
        else
            answer = next_chunk(s, st.MPI_SOURCE); /* NO_MORE when none is left */
        if (answer < 0)
            s->workers_left--;
        s->stats->requests++;
        MPI_Send(&answer, 1, MPI_LONG, st.MPI_SOURCE, TAG_CHUNK, s->comm);
        if (s->workers_left > 0)
            MPI_Irecv(&s->req_buf, 1, MPI_LONG, MPI_ANY_SOURCE, TAG_REQ, s->comm, &s->req);
        sf_scan_progress(s, 0, 0);
        wait = 0;
    }
}

/* Tells every other rank that this one failed (once). */
void sf_scan_send_abort(scan_state *s)
{
    static const int one = 1;
    if (s->abort_req || s->abort_from >= 0)
        return;
    s->abort_req = calloc((size_t)s->nranks, sizeof *s->abort_req);
    if (!s->abort_req)
        return; /* the closing agreement still stops everyone, only later */
    for (int r = 0; r < s->nranks; r++) {
        s->abort_req[r] = MPI_REQUEST_NULL;
        if (r != s->rank)
            MPI_Isend(&one, 1, MPI_INT, r, TAG_ABORT, s->comm, &s->abort_req[r]);
    }
}

/* 1 if another rank has said it failed. */
int sf_scan_other_failed(scan_state *s)
{
    if (s->abort_from >= 0)
        return 1;
    int flag = 0;
    MPI_Status st;
    MPI_Iprobe(MPI_ANY_SOURCE, TAG_ABORT, s->comm, &flag, &st);
    if (!flag)
        return 0;
    int one;
    MPI_Recv(&one, 1, MPI_INT, st.MPI_SOURCE, TAG_ABORT, s->comm, MPI_STATUS_IGNORE);
    s->abort_from = st.MPI_SOURCE;
    return 1;
}

int sf_scan_tick(scan_state *s, const char *path)
{
    if (sf_interrupted)
        return sf_error_set(s->err, SF_E_INTR, "interrupted by %s while reading %s",
                            sf_interrupted == SIGINT ? "SIGINT" : "SIGTERM", path);
    if (s->nranks > 1 && sf_scan_other_failed(s)) {
        s->stopped = 1;
        return sf_error_set(s->err, SF_E_PEER, "scan stopped: rank %d failed", s->abort_from);
    }
    if (s->stream)
        sf_stream_poll(s->stream);
    return 0;
}

/* What a rank does every SERVE_EVERY lines of a chunk: notice an
 * interrupt or a failed peer, serve chunk requests, report progress. */
static int scan_every(scan_state *s, const char *path, sf_range_reader *r, sf_zreader *z)
{
    int rc = sf_scan_tick(s, path);
    if (rc)
        return rc;
    if (s->rank == 0 && s->dynamic)
        serve(s, 0);
    if (s->rank == 0)
        sf_scan_progress(s, z ? sf_zreader_cbytes(z) : sf_range_reader_bytes(r), 0);
    return 0;
}

/* A line the sink failed on: err names the place unless the sink did. */
static int line_failed(scan_state *s, const char *path, uint64_t off, int rc)
{
    if (!s->err->msg[0] || s->err->code != rc)
        sf_error_set(s->err, rc, "%s: byte %llu: %s", path, (unsigned long long)off,
                     sf_strerror(rc));
    return rc;
}

/* Offers the sink's window() the lines buffered in r, as many at a time
 * as the next SERVE_EVERY tick allows, while it takes them; *taken counts
 * them. 0 when it leaves a line (or the buffer's whole lines are spent):
 * sf_range_reader_next hands out the next; otherwise what stops the scan. */
static int scan_window(scan_state *s, sf_range_reader *r, int file, const char *path,
                       uint64_t *nlines, uint64_t *taken)
{
    sf_range_window w;
    *taken = 0;
    if (!sf_range_reader_window(r, &w))
        return 0;
    size_t pos = 0;
    int rc = 0;
    while (pos < w.owned) {
        sf_range_window at = {w.buf + pos, w.avail - pos, w.owned - pos, w.line_cap,
                              w.offset + pos};
        sf_scan_take t = {0, 0, 0, 0};
        rc = s->sink->window(s->sink->ctx, &at, file,
                             (size_t)(SERVE_EVERY - *nlines % SERVE_EVERY), &t);
        pos += t.used;
        *taken += t.lines;
        *nlines += t.lines;
        if (rc) {
            line_failed(s, path, at.offset + t.last, rc);
            break;
        }
        if (!t.lines)
            break;
        if (*nlines % SERVE_EVERY == 0) {
            sf_range_reader_consume(r, pos); /* the progress counts them */
            w.buf += pos;
            w.avail -= pos;
            w.owned -= pos;
            w.offset += pos;
            pos = 0;
            if ((rc = scan_every(s, path, r, NULL)) != 0)
                break;
        }
        if (t.left)
            break;
    }
    sf_range_reader_consume(r, pos);
    return rc;
}

static int scan_chunk(scan_state *s, const sf_chunk *c)
{
    sf_range_reader *r = NULL;
    sf_zreader *z = NULL; /* a compressed file's chunk */
    const char *path = s->paths[c->file];
    size_t index = (size_t)(c - s->chunks);
    int rc = s->sink->chunk_begin ? s->sink->chunk_begin(s->sink->ctx, index, c) : 0;
    if (rc)
        return rc;
    if (c->codec) {
        sf_zrange zr = {c->start, c->end, c->prev};
        rc = sf_zreader_open(&z, path, (sf_codec)c->codec, &zr, 0, (size_t)s->o->max_line,
                             s->err);
    } else {
        rc = sf_range_reader_open_spare(&r, path, c->start, c->end, 0, (size_t)s->o->max_line,
                                        &s->spare, s->err);
    }
    if (rc)
        return rc;
    const char *line;
    size_t len;
    uint64_t off, nlines = 0, taken, skip = 0, backoff = 0;
    for (;;) {
        /* A sink that finds a line's end itself takes the lines it can
         * from the buffer; the line it leaves goes the usual way. When it
         * leaves the first line of window after window (an input of shapes
         * the decoder does not keep), the next 1, 2, 4, ... 4096 lines go
         * the usual way without the offer. */
        if (r && s->sink->window && skip == 0) {
            if ((rc = scan_window(s, r, c->file, path, &nlines, &taken)) != 0)
                break;
            backoff = taken ? 0 : backoff ? (backoff < 4096 ? 2 * backoff : 4096) : 1;
            skip = backoff;
        }
        skip -= skip > 0;
        rc = z ? sf_zreader_next(z, &line, &len, &off, s->err)
               : sf_range_reader_next(r, &line, &len, &off, s->err);
        if (rc == 1) {
            rc = s->sink->line(s->sink->ctx, line, len, c->file, off);
            if (rc) {
                line_failed(s, path, off, rc);
                break;
            }
        } else if (rc == SF_E_LIMIT) {
            char msg[sizeof s->err->msg];
            memcpy(msg, s->err->msg, sizeof msg);
            sf_error_clear(s->err);
            rc = s->sink->too_long(s->sink->ctx, c->file, off, msg);
            if (rc)
                break;
        } else {
            break; /* 0: end of range; < 0: read error with err set */
        }
        if (++nlines % SERVE_EVERY == 0 && (rc = scan_every(s, path, r, z)) != 0)
            break;
    }
    if (rc && s->abort_from < 0)
        sf_scan_send_abort(s);
    uint64_t bytes = z ? sf_zreader_ubytes(z) : sf_range_reader_bytes(r);
    sf_range_reader_close_spare(r, &s->spare);
    sf_zreader_close(z);
    s->stats->chunks++;
    if (!rc && s->sink->chunk_end)
        rc = s->sink->chunk_end(s->sink->ctx, index, c, bytes);
    return rc;
}

/* The stream's idle hook: rank 0 keeps serving chunk requests while the
 * stream waits for a send to complete. */
static void scan_idle(void *ctx)
{
    scan_state *s = ctx;
    if (s->rank == 0 && s->dynamic)
        serve(s, 0);
}

/* A worker's request to rank 0: done is the chunk it finished (-1: none
 * yet); the answer (the next chunk, NO_MORE or ABORTED) comes into *k
 * through *r. */
static void worker_ask(scan_state *s, long done, long *k, MPI_Request *r)
{
    MPI_Send(&done, 1, MPI_LONG, 0, TAG_REQ, s->comm);
    MPI_Irecv(k, 1, MPI_LONG, 0, TAG_CHUNK, s->comm, r);
}

/* Waits for the answer of worker_ask, polling the row stream meanwhile. */
static void worker_answer(scan_state *s, MPI_Request *r)
{
    for (int flag = 0; !flag;) {
        MPI_Test(r, &flag, MPI_STATUS_IGNORE);
        if (!flag && s->stream)
            sf_stream_poll(s->stream);
    }
}

static int scan_dynamic(scan_state *s)
{
    int rc = 0;
    if (s->rank == 0) {
        s->workers_left = s->nranks - 1;
        if (s->workers_left > 0)
            MPI_Irecv(&s->req_buf, 1, MPI_LONG, MPI_ANY_SOURCE, TAG_REQ, s->comm, &s->req);
        for (long k; !rc && (k = next_chunk(s, 0)) >= 0;) {
            rc = scan_chunk(s, &s->chunks[k]);
            s->done_bytes += chunk_bytes(&s->chunks[k]);
            serve(s, 0);
        }
        if (rc)
            s->aborted = 1;
        while (s->workers_left > 0)
            serve(s, 1);
        sf_scan_progress(s, 0, 1);
    } else {
        /* One request ahead: the next chunk is asked for as this one
         * starts, so its answer is here when this one ends. Rank 0 answers
         * only between batches of its own lines, and later when the load
         * takes its core: asked at the end, the answer took 0.1-37 ms (S1
         * 10M at np 2, load 4). A rank then holds one chunk more than it
         * reads, at the end one of the small last chunks. Not with feeds,
         * whose blocks follow the chunks' last answer. */
        const int ahead = !s->feeds_pending;
        long done = -1, k = NO_MORE, next = NO_MORE;
        MPI_Request r;
        worker_ask(s, done, &k, &r);
        worker_answer(s, &r);
        while (k >= 0) {
            if (ahead)
                worker_ask(s, done, &next, &r);
            if (rc == 0)
                rc = scan_chunk(s, &s->chunks[k]);
            /* After a failure keep asking (and skipping) so rank 0 is not
             * left waiting; the failure is agreed on after the scan. */
            done = k;
            if (!ahead)
                worker_ask(s, done, &next, &r);
            worker_answer(s, &r);
            k = next;
        }
    }
    return rc;
}

int sf_scan_run(MPI_Comm comm, const char *const *paths, const sf_chunk *chunks, size_t nchunks,
                const sf_scan_opts *o, sf_progress *progress, const sf_scan_sink *sink,
                sf_stream *stream, sf_scan_stats *stats, sf_error *err)
{
    return sf_scan_run_feeds(comm, paths, chunks, nchunks, NULL, 0, o, progress, sink, stream,
                             stats, NULL, NULL, err);
}

int sf_scan_run_feeds(MPI_Comm comm, const char *const *paths, const sf_chunk *chunks,
                      size_t nchunks, sf_scan_feed *feeds, size_t nfeeds, const sf_scan_opts *o,
                      sf_progress *progress, const sf_scan_sink *sink, sf_stream *stream,
                      sf_scan_stats *stats, sf_chunk **all, size_t *nall, sf_error *err)
{
    scan_state s;
    memset(&s, 0, sizeof s);
    if (all) {
        *all = NULL;
        *nall = 0;
    }
    s.comm = comm;
    MPI_Comm_rank(comm, &s.rank);
    MPI_Comm_size(comm, &s.nranks);
    s.paths = paths;
    s.chunks = chunks;
    s.nchunks = nchunks;
    s.o = o;
    s.sink = sink;
    s.stream = stream;
    s.stats = stats;
    s.err = err;
    s.dynamic = o->schedule == SF_SCHED_DYNAMIC && s.nranks > 1;
    s.progress = s.rank == 0 && progress && progress->mode != SF_PROGRESS_OFF ? progress : NULL;
    for (size_t i = 0; i < nchunks; i++)
        s.total_bytes += chunk_bytes(&chunks[i]);
    s.feeds_pending = nfeeds > 0; /* the chunks' end is not the scan's */
    for (size_t i = 0; i < nfeeds; i++) {
        s.total_bytes += feeds[i].size;
        s.total_unknown |= feeds[i].size == 0;
    }
    if (s.progress)
        sf_progress_start(s.progress, s.total_unknown ? 0 : s.total_bytes);
    s.abort_from = -1;

    int rc = 0;
    if (nchunks > 0)
        sf_range_reader_spare_readahead(&s.spare, SCAN_READAHEAD, SCAN_READAHEAD_STEP);
    if (stream)
        sf_stream_set_idle(stream, scan_idle, &s);
    if (s.dynamic && s.rank == 0) {
        /* Without memory for the order, chunks go out in file order. */
        size_t nfirst = 0;
        s.order = nchunks > 1 ? malloc(nchunks * sizeof *s.order) : NULL;
        for (size_t i = 0; s.order && i < nchunks; i++)
            s.order[i] = i;
        if (s.order) {
            order_chunks = chunks;
            order_n = nchunks;
            qsort(s.order, nchunks, sizeof *s.order, cmp_size);
            while (nfirst < nchunks && whole_compressed(s.order[nfirst]))
                nfirst++;
        }
        uint64_t *bytes = malloc((nchunks ? nchunks : 1) * sizeof *bytes);
        for (size_t i = 0; bytes && i < nchunks; i++)
            bytes[i] = chunk_bytes(&chunks[i]);
        sf_scan_assign_init(&s.assign, bytes, s.order, nchunks, nfirst, s.nranks);
        free(bytes);
    }
    if (s.dynamic) {
        rc = scan_dynamic(&s);
    } else {
        size_t lo = nchunks * (size_t)s.rank / (size_t)s.nranks;
        size_t hi = nchunks * (size_t)(s.rank + 1) / (size_t)s.nranks;
        for (size_t k = lo; k < hi && !rc; k++) {
            rc = scan_chunk(&s, &chunks[k]);
            s.done_bytes += chunk_bytes(&chunks[k]);
        }
        if (s.rank == 0)
            sf_scan_progress(&s, 0, 1);
    }
    sf_range_reader_spare_free(&s.spare);
    sf_buf blocks = SF_BUF_INIT;
    if (nfeeds)
        rc = sf_scan_feeds(&s, rc, feeds, nfeeds, &blocks);
    if (stream) {
        /* Finish the stream before any blocking collective: a rank waiting
         * in one would stop receiving and hold up every sender. Every rank
         * finishes it, failed or not. */
        int src = sf_stream_finish(stream, rc ? NULL : err);
        rc = rc ? rc : src;
        sf_stream_set_idle(stream, NULL, NULL);
    }
    /* Agree: a failed rank makes every rank fail, with the message of the
     * lowest rank that failed by itself (not one that only stopped because
     * another failed), so a failfast stop names the bad line. */
    int primary = rc && !s.stopped ? rc : 0;
    int bad = rc != 0, anybad = 0;
    MPI_Allreduce(&bad, &anybad, 1, MPI_INT, MPI_MAX, comm);
    if (s.abort_req) {
        MPI_Waitall(s.nranks, s.abort_req, MPI_STATUSES_IGNORE);
        free(s.abort_req);
    }
    /* Take in the abort notices that arrived after their rank stopped, so
     * none is left pending for a later scan in this MPI world. */
    if (anybad) {
        s.abort_from = -1;
        while (sf_scan_other_failed(&s))
            s.abort_from = -1;
    }
    if (anybad) {
        int code = sf_mpi_agree_error(comm, primary, err, NULL);
        if (code)
            rc = code;
        else if (!rc)
            rc = sf_error_set(err, SF_E_PEER, "scan stopped: another rank failed");
    }
    free(s.order);
    sf_scan_assign_free(&s.assign);
    if (!anybad && all)
        sf_scan_share_blocks(&s, feeds, nfeeds, &blocks, all, nall);
    sf_buf_free(&blocks);
    return rc;
}

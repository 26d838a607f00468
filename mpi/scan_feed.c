/* scan_feed.c - feeds: inputs rank 0 reads once, in order, and deals out in
 * blocks of whole lines (see scan.h).
 *
 * Protocol (credits). Every other rank keeps FEED_DEPTH receives posted for
 * TAG_BLOCK from rank 0, one per credit it has sent (TAG_CREDIT, an int
 * count). Rank 0 answers every credit with exactly one message: a block
 * (header + bytes) while the feeds last, then an end marker. A rank stops
 * after FEED_DEPTH end markers, when every receive it posted has been
 * answered, so nothing is left pending. Blocks to one rank arrive in the
 * order rank 0 sent them (MPI's non-overtaking rule), and the receives are
 * matched in the order they were posted.
 *
 * Rank 0 reads a block only for a rank that has a credit, and parses a
 * block itself when no rank asks; while it parses it serves credits every
 * SERVE_EVERY lines. Each block is numbered (a chunk index after the
 * planned chunks) and carries the number of its file's lines before it, in
 * the order read: line numbers are exact whoever parses it.
 *
 * Failure: a failed rank sends TAG_ABORT (scan.c); rank 0 then stops
 * reading and answers the remaining credits with ABORTED markers, and the
 * others stop parsing.
 */
#include "mpi/scan_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/decompress.h"
#include "mpi/collective.h"

#define TAG_CREDIT 104
#define TAG_BLOCK 105
#define FEED_DEPTH 2
#define FEED_END (-1)
#define FEED_ABORTED (-2)
#define DEFAULT_BLOCK ((uint64_t)4 << 20)

/* Every message of TAG_BLOCK starts with this header; a block's bytes
 * follow it. */
typedef struct feed_hdr {
    int64_t index; /* chunk index, or FEED_END / FEED_ABORTED */
    int32_t file;
    int32_t kind;  /* SF_CHUNK_BLOCK or SF_CHUNK_LONG */
    int32_t codec;
    int32_t pad_;
    uint64_t start;        /* decoded offset of the first byte (or of the long line) */
    uint64_t lines_before; /* the file's lines before it */
    uint64_t nbytes;       /* bytes that follow */
} feed_hdr;

/* A message buffer of rank 0 and its send. */
typedef struct feed_slot {
    char *buf;
    MPI_Request req;
    int busy;
} feed_slot;

typedef struct feed_state {
    scan_state *s;
    sf_scan_feed *feeds;
    size_t nfeeds;
    sf_buf *blocks; /* rank 0: every block's sf_chunk */
    size_t cap;     /* bytes a block may hold */
    size_t msg_cap; /* header + cap */
    int rc;         /* this rank's verdict */
    /* rank 0 */
    size_t cur;        /* feed being read */
    sf_zreader *z;
    int fd, own_fd;
    uint64_t cbase;    /* compressed bytes of the feeds before cur (progress) */
    int eof;           /* every feed read */
    int aborted;       /* stop reading: answer with FEED_ABORTED */
    int *credits;      /* per rank */
    int *ends;         /* end markers sent per rank */
    int next_rank;     /* round robin over ranks with credits */
    MPI_Request credit_req;
    int credit_buf;
    feed_slot *slots;
    size_t nslots;
    char *own;         /* rank 0's own block */
    uint64_t nblocks;
    uint64_t spooled;  /* decoded bytes of the current feed in its spool */
} feed_state;

static size_t block_target(const feed_state *f, const sf_scan_feed *fd)
{
    uint64_t t = fd->block ? fd->block : DEFAULT_BLOCK;
    return t < f->cap ? (size_t)t : f->cap;
}

/* The message of a line over max_line (io/range_reader's words). */
static void long_msg(char *out, size_t cap, const char *path, uint64_t offset, uint64_t max)
{
    snprintf(out, cap, "%s: byte %llu: line longer than %llu bytes (--max-line-bytes)", path,
             (unsigned long long)offset, (unsigned long long)max);
}

/* The chunk a block stands for, as the sink and the block list see it. */
static sf_chunk chunk_of(const feed_hdr *h)
{
    sf_chunk c;
    memset(&c, 0, sizeof c);
    c.file = h->file;
    c.codec = h->codec;
    c.kind = h->kind;
    c.start = c.prev = h->start;
    c.end = h->start + h->nbytes;
    c.lines_before = h->lines_before;
    return c;
}

/* Parses one block (its header and bytes) into the sink. Rank 0 serves
 * credits between batches of lines (serve may be NULL). */
static int feed_parse(feed_state *f, const feed_hdr *h, const char *bytes,
                      void (*serve)(feed_state *))
{
    scan_state *s = f->s;
    sf_chunk c = chunk_of(h);
    size_t index = (size_t)h->index;
    const char *path = s->paths[h->file];
    int rc = s->sink->chunk_begin ? s->sink->chunk_begin(s->sink->ctx, index, &c) : 0;
    if (rc)
        return rc;
    if (h->kind == SF_CHUNK_LONG) {
        char msg[sizeof s->err->msg];
        long_msg(msg, sizeof msg, path, h->start, s->o->max_line);
        rc = s->sink->too_long(s->sink->ctx, h->file, h->start, msg);
    }
    size_t pos = 0, len;
    const char *line;
    uint64_t rel, n = 0;
    while (!rc && h->kind == SF_CHUNK_BLOCK &&
           sf_zblock_next_line(bytes, (size_t)h->nbytes, &pos, &line, &len, &rel)) {
        rc = s->sink->line(s->sink->ctx, line, len, h->file, h->start + rel);
        if (rc) {
            if (!s->err->msg[0] || s->err->code != rc)
                sf_error_set(s->err, rc, "%s: byte %llu: %s", path,
                             (unsigned long long)(h->start + rel), sf_strerror(rc));
            break;
        }
        if (++n % SERVE_EVERY == 0) {
            if ((rc = sf_scan_tick(s, path)) != 0)
                break;
            if (serve)
                serve(f);
        }
    }
    s->stats->chunks++;
    if (!rc && s->sink->chunk_end)
        rc = s->sink->chunk_end(s->sink->ctx, index, &c, h->nbytes);
    return rc;
}

/* ---- rank 0 ---- */

/* Rank 0 failed or heard of a failure: stop reading, tell the others. */
static void feed_fail(feed_state *f, int rc)
{
    if (!f->rc)
        f->rc = rc;
    if (!f->aborted) {
        f->aborted = 1;
        if (f->s->abort_from < 0)
            sf_scan_send_abort(f->s);
    }
}

/* Opens feed f->cur (rank 0). Returns 0 or SF_E_*. */
static int feed_open(feed_state *f)
{
    scan_state *s = f->s;
    sf_scan_feed *fd = &f->feeds[f->cur];
    const char *path = s->paths[fd->file];
    f->own_fd = fd->fd < 0;
    f->fd = fd->fd;
    if (f->own_fd) {
        f->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (f->fd < 0)
            return sf_error_set(s->err, SF_E_IO, "cannot open '%s': %s", path, strerror(errno));
        (void)posix_fadvise(f->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    }
    int rc = sf_zreader_open_fd(&f->z, f->fd, path, 0, (size_t)s->o->max_line, s->err);
    if (!rc && !sf_codec_supported(sf_zreader_codec(f->z)))
        rc = sf_error_set(s->err, SF_E_INVAL, "%s is %s-compressed; shardflow reads gzip and "
                          "zstd inputs (decompress it first)", path,
                          sf_codec_name(sf_zreader_codec(f->z)));
    if (!rc)
        fd->codec = (int32_t)sf_zreader_codec(f->z);
    return rc;
}

/* Closes the current feed, recording its totals. */
static void feed_close(feed_state *f)
{
    if (f->z) {
        sf_scan_feed *fd = &f->feeds[f->cur];
        fd->cbytes = sf_zreader_cbytes(f->z);
        fd->ubytes = sf_zreader_ubytes(f->z);
        f->cbase += fd->cbytes;
    }
    sf_zreader_close(f->z);
    f->z = NULL;
    if (f->own_fd && f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}

/* Writes n bytes to the spool. Returns 0 or SF_E_IO. */
static int spool_write(feed_state *f, int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return sf_error_set(f->s->err, SF_E_IO, "cannot write the spool of %s: %s",
                                f->s->paths[f->feeds[f->cur].file],
                                k < 0 ? strerror(errno) : "short write");
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Brings the spool up to decoded offset at: the bytes the reader skipped
 * there are a UTF-8 BOM (at the start) or a line over max_line, which the
 * spool holds as a line of as many bytes, so that reading it again gives
 * the same lines, offsets and verdicts. Returns 0 or SF_E_IO. */
static int spool_gap(feed_state *f, int fd, uint64_t at)
{
    if (at <= f->spooled)
        return 0;
    uint64_t gap = at - f->spooled;
    int rc = 0;
    if (f->spooled == 0 && gap == 3) {
        rc = spool_write(f, fd, "\xEF\xBB\xBF", 3);
    } else {
        char fill[4096];
        memset(fill, 'x', sizeof fill);
        for (uint64_t left = gap - 1; !rc && left > 0;) {
            size_t k = left < sizeof fill ? (size_t)left : sizeof fill;
            rc = spool_write(f, fd, fill, k);
            left -= k;
        }
        if (!rc)
            rc = spool_write(f, fd, "\n", 1);
    }
    f->spooled = at;
    return rc;
}

/* Rank 0 reads the next block into msg (header + bytes). Returns 1, 0
 * when every feed is read (f->eof set), or SF_E_* (f->rc set). */
static int feed_read(feed_state *f, char *msg)
{
    scan_state *s = f->s;
    feed_hdr *h = (feed_hdr *)(void *)msg;
    char *dst = msg + sizeof *h;
    for (;;) {
        if (f->eof || f->aborted)
            return 0;
        int rc = 0;
        if (!f->z && f->cur < f->nfeeds)
            rc = feed_open(f);
        if (rc) {
            feed_fail(f, rc);
            return rc;
        }
        sf_scan_feed *fd = &f->feeds[f->cur];
        size_t used = 0;
        uint64_t off = 0, lines = 0;
        rc = sf_zreader_fill_block(f->z, dst, f->cap, block_target(f, fd), &used, &off, &lines,
                                   s->err);
        if (rc == 0) {
            if (fd->spool_fd >= 0 && (rc = spool_gap(f, fd->spool_fd, sf_zreader_ubytes(f->z)))) {
                feed_fail(f, rc);
                return rc;
            }
            f->spooled = 0;
            feed_close(f);
            if (++f->cur == f->nfeeds)
                f->eof = 1;
            continue;
        }
        memset(h, 0, sizeof *h);
        h->file = fd->file;
        h->codec = fd->codec;
        h->start = off;
        h->lines_before = fd->lines;
        if (rc == SF_E_LIMIT) {
            sf_error_clear(s->err);
            h->kind = SF_CHUNK_LONG;
            fd->lines++;
            if (fd->spool_fd >= 0 && (rc = spool_gap(f, fd->spool_fd, off)) != 0) {
                feed_fail(f, rc);
                return rc;
            }
        } else if (rc < 0) {
            feed_fail(f, rc);
            return rc;
        } else {
            h->kind = SF_CHUNK_BLOCK;
            h->nbytes = used;
            fd->lines += lines;
            if (fd->spool_fd >= 0 && ((rc = spool_gap(f, fd->spool_fd, off)) != 0 ||
                                      (rc = spool_write(f, fd->spool_fd, dst, used)) != 0)) {
                feed_fail(f, rc);
                return rc;
            }
            f->spooled += used;
        }
        h->index = (int64_t)(s->nchunks + f->nblocks++);
        sf_chunk c = chunk_of(h);
        if (sf_buf_append(f->blocks, &c, sizeof c) != 0) {
            rc = sf_error_set(s->err, SF_E_NOMEM, "out of memory listing blocks");
            feed_fail(f, rc);
            return rc;
        }
        s->done_bytes = s->chunk_total + f->cbase + sf_zreader_cbytes(f->z);
        sf_scan_progress(s, 0, 0);
        return 1;
    }
}

/* A free message buffer of rank 0 (sends that completed free theirs). */
static feed_slot *free_slot(feed_state *f)
{
    for (size_t i = 0; i < f->nslots; i++) {
        feed_slot *sl = &f->slots[i];
        if (sl->busy) {
            int done = 0;
            MPI_Test(&sl->req, &done, MPI_STATUS_IGNORE);
            sl->busy = !done;
        }
        if (!sl->busy)
            return sl;
    }
    feed_slot *ns = realloc(f->slots, (f->nslots + 1) * sizeof *ns);
    if (!ns)
        return NULL;
    f->slots = ns;
    feed_slot *sl = &f->slots[f->nslots];
    sl->buf = malloc(f->msg_cap);
    if (!sl->buf)
        return NULL;
    sl->busy = 0;
    sl->req = MPI_REQUEST_NULL;
    f->nslots++;
    return sl;
}

/* Takes in the credits that have arrived. */
static void take_credits(feed_state *f)
{
    while (f->s->nranks > 1) {
        int flag = 0;
        MPI_Status st;
        MPI_Test(&f->credit_req, &flag, &st);
        if (!flag)
            return;
        f->credits[st.MPI_SOURCE] += f->credit_buf;
        MPI_Irecv(&f->credit_buf, 1, MPI_INT, MPI_ANY_SOURCE, TAG_CREDIT, f->s->comm,
                  &f->credit_req);
    }
}

/* Rank 0: answers every credit it holds: a block while there are any, else
 * an end marker. */
static void feed_serve(feed_state *f)
{
    scan_state *s = f->s;
    take_credits(f);
    if (!f->aborted && s->nranks > 1 && sf_scan_other_failed(s)) {
        s->stopped = !f->rc;
        feed_fail(f, sf_error_set(s->err, SF_E_PEER, "scan stopped: rank %d failed",
                                  s->abort_from));
    }
    for (int k = 0; k < s->nranks; k++) {
        int r = (f->next_rank + k) % s->nranks;
        while (r != 0 && f->credits[r] > 0) {
            feed_slot *sl = free_slot(f);
            if (!sl) {
                /* No buffer for even an end marker: rank r would wait for
                 * its answer forever. */
                fprintf(stderr, "shardflow: rank 0: out of memory feeding blocks\n");
                MPI_Abort(s->comm, 1);
            }
            int got = feed_read(f, sl->buf);
            feed_hdr *h = (feed_hdr *)(void *)sl->buf;
            size_t n = sizeof *h;
            if (got == 1) {
                n += (size_t)h->nbytes;
            } else {
                memset(h, 0, sizeof *h);
                h->index = f->aborted ? FEED_ABORTED : FEED_END;
                f->ends[r]++;
            }
            MPI_Isend(sl->buf, (int)n, MPI_BYTE, r, TAG_BLOCK, s->comm, &sl->req);
            sl->busy = 1;
            f->credits[r]--;
        }
    }
    f->next_rank = (f->next_rank + 1) % s->nranks;
}

static int feed_rank0(feed_state *f)
{
    scan_state *s = f->s;
    int n = s->nranks;
    f->credits = calloc((size_t)n, sizeof *f->credits);
    f->ends = calloc((size_t)n, sizeof *f->ends);
    f->own = malloc(f->msg_cap);
    f->fd = -1;
    if (!f->credits || !f->ends || !f->own)
        feed_fail(f, sf_error_set(s->err, SF_E_NOMEM, "out of memory feeding blocks"));
    if (n > 1)
        MPI_Irecv(&f->credit_buf, 1, MPI_INT, MPI_ANY_SOURCE, TAG_CREDIT, s->comm,
                  &f->credit_req);
    for (;;) {
        if (f->credits && f->ends)
            feed_serve(f);
        if (!f->eof && !f->aborted && f->own) {
            /* Nobody is asking: parse a block here, serving meanwhile. */
            int got = feed_read(f, f->own);
            if (got == 1) {
                const feed_hdr *h = (const feed_hdr *)(void *)f->own;
                int rc = feed_parse(f, h, f->own + sizeof *h, feed_serve);
                if (rc)
                    feed_fail(f, rc);
            }
            continue;
        }
        /* Every credit is answered with an end marker from here on. */
        int done = 1;
        for (int r = 1; r < n && done; r++)
            done = f->ends && f->ends[r] >= FEED_DEPTH;
        if (done)
            break;
        if (!f->credits || !f->ends)
            MPI_Abort(s->comm, 1); /* cannot answer the others */
        if (s->stream)
            sf_stream_poll(s->stream);
        sched_yield();
    }
    if (n > 1) {
        /* Every credit has come in and been answered: the receive posted
         * for one more will not match. */
        MPI_Cancel(&f->credit_req);
        MPI_Wait(&f->credit_req, MPI_STATUS_IGNORE);
    }
    feed_close(f);
    for (size_t i = 0; i < f->nslots; i++) {
        if (f->slots[i].busy)
            MPI_Wait(&f->slots[i].req, MPI_STATUS_IGNORE);
        free(f->slots[i].buf);
    }
    free(f->slots);
    free(f->credits);
    free(f->ends);
    free(f->own);
    return f->rc;
}

/* ---- the other ranks ---- */

static int feed_worker(feed_state *f)
{
    scan_state *s = f->s;
    char *buf[FEED_DEPTH];
    MPI_Request req[FEED_DEPTH];
    int ok = 1;
    for (int i = 0; i < FEED_DEPTH; i++) {
        buf[i] = malloc(f->msg_cap);
        ok &= buf[i] != NULL;
    }
    if (!ok)
        MPI_Abort(s->comm, 1); /* rank 0 would wait for this rank's credits forever */
    for (int i = 0; i < FEED_DEPTH; i++)
        MPI_Irecv(buf[i], (int)f->msg_cap, MPI_BYTE, 0, TAG_BLOCK, s->comm, &req[i]);
    int credits = FEED_DEPTH;
    MPI_Send(&credits, 1, MPI_INT, 0, TAG_CREDIT, s->comm);
    int ends = 0, one = 1;
    for (int i = 0; ends < FEED_DEPTH; i = (i + 1) % FEED_DEPTH) {
        for (int flag = 0; !flag;) {
            MPI_Test(&req[i], &flag, MPI_STATUS_IGNORE);
            if (!flag && s->stream)
                sf_stream_poll(s->stream);
            if (!flag)
                sched_yield(); /* rank 0 may be decoding on this core */
        }
        const feed_hdr *h = (const feed_hdr *)(void *)buf[i];
        if (h->index < 0) {
            ends++;
            continue; /* the other receive gets its end marker too */
        }
        if (!f->rc)
            f->rc = feed_parse(f, h, buf[i] + sizeof *h, NULL);
        if (f->rc && s->abort_from < 0)
            sf_scan_send_abort(s);
        MPI_Irecv(buf[i], (int)f->msg_cap, MPI_BYTE, 0, TAG_BLOCK, s->comm, &req[i]);
        MPI_Send(&one, 1, MPI_INT, 0, TAG_CREDIT, s->comm);
    }
    for (int i = 0; i < FEED_DEPTH; i++)
        free(buf[i]);
    return f->rc;
}

int sf_scan_feeds(scan_state *s, int rc, sf_scan_feed *feeds, size_t nfeeds, sf_buf *blocks)
{
    feed_state f;
    memset(&f, 0, sizeof f);
    f.s = s;
    f.feeds = feeds;
    f.nfeeds = nfeeds;
    f.blocks = blocks;
    f.rc = rc;
    f.fd = -1;
    f.credit_req = MPI_REQUEST_NULL;
    /* A block holds at least one line of max_line bytes and its "\r\n". */
    uint64_t cap = DEFAULT_BLOCK;
    for (size_t i = 0; i < nfeeds; i++) {
        if (feeds[i].block > cap)
            cap = feeds[i].block;
        feeds[i].codec = 0;
        feeds[i].cbytes = feeds[i].ubytes = feeds[i].lines = 0;
    }
    if (cap < s->o->max_line + 2)
        cap = s->o->max_line + 2;
    if (cap > (uint64_t)INT_MAX - sizeof(feed_hdr))
        /* Every rank computes the same and stops before the protocol. */
        return rc ? rc : sf_error_set(s->err, SF_E_LIMIT, "--max-line-bytes %llu: a block of "
                                      "a stream is one MPI message, at most 2 GiB",
                                      (unsigned long long)s->o->max_line);
    f.cap = (size_t)cap;
    f.msg_cap = sizeof(feed_hdr) + f.cap;
    s->feeding = 1;
    s->feeds_pending = 0;
    for (size_t i = 0; i < nfeeds; i++)
        s->total_bytes -= feeds[i].size;
    s->chunk_total = s->total_bytes; /* the chunks are done */
    for (size_t i = 0; i < nfeeds; i++)
        s->total_bytes += feeds[i].size;
    if (s->rank == 0) {
        if (rc || (s->nranks > 1 && sf_scan_other_failed(s)))
            f.aborted = 1;
        rc = feed_rank0(&f);
        sf_scan_progress(s, 0, 1);
    } else {
        rc = feed_worker(&f);
    }
    return rc;
}

void sf_scan_share_blocks(scan_state *s, sf_scan_feed *feeds, size_t nfeeds,
                          const sf_buf *blocks, sf_chunk **all, size_t *nall)
{
    uint64_t nb = s->rank == 0 ? blocks->n / sizeof(sf_chunk) : 0;
    MPI_Bcast(&nb, 1, MPI_UINT64_T, 0, s->comm);
    size_t n = s->nchunks + (size_t)nb;
    sf_chunk *c = malloc((n ? n : 1) * sizeof *c);
    if (!c)
        MPI_Abort(s->comm, 1);
    memcpy(c, s->chunks, s->nchunks * sizeof *c);
    if (s->rank == 0 && nb)
        memcpy(c + s->nchunks, blocks->p, (size_t)nb * sizeof *c);
    /* In pieces: an MPI count is an int. */
    size_t at = s->nchunks, left = (size_t)nb, step = ((size_t)1 << 30) / sizeof *c;
    while (left > 0) {
        size_t k = left < step ? left : step;
        MPI_Bcast(c + at, (int)(k * sizeof *c), MPI_BYTE, 0, s->comm);
        at += k;
        left -= k;
    }
    for (size_t i = 0; i < nfeeds; i++) {
        uint64_t r[4] = {(uint64_t)feeds[i].codec, feeds[i].cbytes, feeds[i].ubytes,
                         feeds[i].lines};
        MPI_Bcast(r, 4, MPI_UINT64_T, 0, s->comm);
        feeds[i].codec = (int32_t)r[0];
        feeds[i].cbytes = r[1];
        feeds[i].ubytes = r[2];
        feeds[i].lines = r[3];
    }
    *all = c;
    *nall = n;
}

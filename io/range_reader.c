/* range_reader.c - the lines a byte range [start, end) of a file owns.
 *
 * Buffer invariant: buf[head, tail) holds file bytes [base + head, base + tail)
 * not yet handed out; buf[head, scan) is known to hold no '\n', so a line
 * spanning several reads is scanned once. A partial line is moved to buf[0]
 * before the next read; the buffer grows (doubling, up to max_cap, which fits
 * max_line plus "\r\n") only when such a line fills it.
 *
 * Ownership: a line starts at offset 0 (3 after a UTF-8 BOM) or right after a
 * '\n'; the range owns the lines that start in [start, end). A range starting
 * inside the BOM owns the first line (it starts at 3); the BOM bytes are
 * counted by the range that starts at 0, so the byte counts of a partition
 * add up to the file size.
 */
#include "io/range_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/bigmem.h"
#include "io/readahead.h"

#define RR_DEFAULT_BUF ((size_t)4 << 20)
#define RR_DEFAULT_MAX_LINE ((size_t)16 << 20)
/* Past the range end only the last line is left: read in small steps
 * (growing with the pending line) instead of a whole buffer. */
#define RR_TAIL_STEP ((size_t)64 << 10)

struct sf_range_reader {
    int fd;
    char *path;
    uint64_t end;
    char *buf;
    size_t cap;     /* current buffer size */
    size_t max_cap; /* the largest it may grow to */
    size_t head, scan, tail;
    uint64_t base;  /* file offset of buf[0] */
    uint64_t bytes; /* consumed bytes of owned lines (+ BOM) */
    size_t max_line;
    int eof;        /* pread returned 0 */
    int skip_first; /* drop up to the first '\n' before the first line */
    int done;
    int io_errno;   /* a failed read is reported again by every later call */
    uint64_t io_at;
    sf_readahead *ra; /* borrowed from the spare: told where the reads are, NULL: none */
};

static int rr_read_error(sf_range_reader *r, uint64_t at, int e, sf_error *err)
{
    r->io_errno = e;
    r->io_at = at;
    int rc = sf_error_set(err, SF_E_IO, "%s: read at byte %" PRIu64 ": %s", r->path, at,
                          strerror(e));
    if (err)
        err->offset = (int64_t)at;
    return rc;
}

/* Reads more bytes into buf[tail, cap). Returns the count (0 at end of
 * file, which also sets eof) or SF_E_IO. */
static int64_t rr_read(sf_range_reader *r, sf_error *err)
{
    size_t space = r->cap - r->tail;
    uint64_t fpos = r->base + r->tail;
    size_t want = space;
    if (fpos < r->end) {
        if (r->end - fpos < want)
            want = (size_t)(r->end - fpos);
    } else {
        size_t step = r->tail - r->head;
        if (step < RR_TAIL_STEP)
            step = RR_TAIL_STEP;
        if (step < want)
            want = step;
    }
    for (;;) {
        ssize_t got = pread(r->fd, r->buf + r->tail, want, (off_t)fpos);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return rr_read_error(r, fpos, errno, err);
        }
        if (got == 0)
            r->eof = 1;
        r->tail += (size_t)got;
        sf_readahead_post(r->ra, fpos + (uint64_t)got);
        return got;
    }
}

/* Moves the pending bytes to buf[0] and, when they fill the buffer, grows
 * it. The caller guarantees the pending bytes are fewer than max_cap. */
static int rr_make_room(sf_range_reader *r, sf_error *err)
{
    if (r->head > 0) {
        size_t pending = r->tail - r->head;
        memmove(r->buf, r->buf + r->head, pending);
        r->base += r->head;
        r->scan -= r->head;
        r->tail = pending;
        r->head = 0;
    }
    if (r->tail == r->cap) {
        size_t ncap = r->cap > r->max_cap / 2 ? r->max_cap : r->cap * 2;
        char *nbuf = realloc(r->buf, ncap);
        if (!nbuf)
            return sf_error_set(err, SF_E_NOMEM, "%s: out of memory growing the line buffer to %zu bytes",
                                r->path, ncap);
        r->buf = nbuf;
        r->cap = ncap;
    }
    return 0;
}

/* Drops bytes up to and including the next '\n' (or to end of file) without
 * keeping them. Returns the number dropped, or SF_E_IO. */
static int64_t rr_discard_line(sf_range_reader *r, sf_error *err)
{
    uint64_t dropped = 0;
    for (;;) {
        char *nl = memchr(r->buf + r->scan, '\n', r->tail - r->scan);
        if (nl) {
            size_t upto = (size_t)(nl - r->buf) + 1;
            dropped += upto - r->head;
            r->head = r->scan = upto;
            return (int64_t)dropped;
        }
        dropped += r->tail - r->head;
        r->base += r->tail;
        r->head = r->scan = r->tail = 0;
        if (r->eof)
            return (int64_t)dropped;
        int64_t got = rr_read(r, err);
        if (got < 0)
            return got;
    }
}

static int rr_too_long(const sf_range_reader *r, uint64_t off, sf_error *err)
{
    int rc = sf_error_set(err, SF_E_LIMIT,
                          "%s: byte %" PRIu64 ": line longer than %zu bytes (--max-line-bytes)",
                          r->path, off, r->max_line);
    if (err)
        err->offset = (int64_t)off;
    return rc;
}

int sf_range_reader_open(sf_range_reader **out, const char *path, uint64_t start,
                         uint64_t end, size_t buf_size, size_t max_line, sf_error *err)
{
    return sf_range_reader_open_spare(out, path, start, end, buf_size, max_line, NULL, err);
}

int sf_range_reader_open_spare(sf_range_reader **out, const char *path, uint64_t start,
                               uint64_t end, size_t buf_size, size_t max_line,
                               sf_range_reader_spare *spare, sf_error *err)
{
    *out = NULL;
    if (buf_size == 0)
        buf_size = RR_DEFAULT_BUF;
    if (max_line == 0)
        max_line = RR_DEFAULT_MAX_LINE;
    if (max_line > SIZE_MAX / 4)
        max_line = SIZE_MAX / 4;

    sf_range_reader *r = calloc(1, sizeof *r);
    if (!r)
        return sf_error_set(err, SF_E_NOMEM, "%s: out of memory", path);
    r->fd = -1;
    r->path = strdup(path);
    r->max_line = max_line;
    r->max_cap = max_line + 2 > buf_size ? max_line + 2 : buf_size;
    if (spare && spare->buf && spare->cap >= buf_size && spare->cap <= r->max_cap) {
        r->buf = spare->buf; /* it may have grown for a long line: keep its size */
        r->cap = spare->cap;
        spare->buf = NULL;
        spare->cap = 0;
    } else {
        r->cap = buf_size;
        r->buf = sf_bigmem_alloc(buf_size); /* filled whole by each read: huge pages */
    }
    if (!r->path || !r->buf) {
        sf_range_reader_close(r);
        return sf_error_set(err, SF_E_NOMEM, "%s: out of memory for a %zu-byte read buffer", path,
                            buf_size);
    }
    r->end = end;
    if (spare && spare->path && strcmp(spare->path, path) == 0) {
        r->fd = spare->fd; /* its read-ahead goes on where the last range left it */
        free(spare->path);
        spare->path = NULL;
    } else {
        r->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (r->fd >= 0) {
            (void)posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
            if (spare)
                sf_readahead_file(spare->ra, r->fd, start);
        }
    }
    r->ra = spare ? spare->ra : NULL;
    if (r->fd < 0) {
        int e = errno;
        sf_range_reader_close(r);
        return sf_error_set(err, SF_E_IO, "cannot open '%s': %s", path, strerror(e));
    }
    if (start >= end) {
        r->done = 1;
        *out = r;
        return 0;
    }

    /* The BOM check needs the first bytes of the file whenever the range
     * starts inside them, since the first line then starts at 3. */
    int bom = 0;
    if (start <= 3) {
        unsigned char head[3];
        size_t have = 0;
        while (have < sizeof head) {
            ssize_t got = pread(r->fd, head + have, sizeof head - have, (off_t)have);
            if (got < 0 && errno == EINTR)
                continue;
            if (got < 0) {
                int e = errno;
                rr_read_error(r, have, e, err);
                sf_range_reader_close(r);
                return SF_E_IO;
            }
            if (got == 0)
                break;
            have += (size_t)got;
        }
        bom = have == 3 && head[0] == 0xEF && head[1] == 0xBB && head[2] == 0xBF;
    }
    if (bom) {
        r->base = 3;
        if (start == 0)
            r->bytes = 3;
    } else if (start == 0) {
        r->base = 0;
    } else {
        /* Start one byte early: if it is '\n' the line at start is ours,
         * otherwise the partial line belongs to the previous range. */
        r->base = start - 1;
        r->skip_first = 1;
    }
    *out = r;
    return 0;
}

/* Drops the used bytes of a line (its '\n' included, if any) from the
 * buffer's head. */
static inline void rr_take(sf_range_reader *r, size_t used)
{
    r->head += used;
    r->scan = r->head;
    r->bytes += used;
}

/* Hands out the line of n bytes at p (file offset off) that used bytes
 * of the buffer held (its '\n' included, if any). */
static inline int rr_hand_out(sf_range_reader *r, char *p, size_t n, size_t used, uint64_t off,
                              const char **line, size_t *len, uint64_t *offset, sf_error *err)
{
    rr_take(r, used);
    if (n > 0 && p[n - 1] == '\r')
        n--;
    *offset = off;
    if (n > r->max_line)
        return rr_too_long(r, off, err);
    *line = p;
    *len = n;
    return 1;
}

/* Every case of sf_range_reader_next: a failed or finished reader, the
 * first partial line, the range end, a line not yet whole in the buffer. */
static __attribute__((noinline)) int rr_next_slow(sf_range_reader *r, const char **line,
                                                  size_t *len, uint64_t *offset, sf_error *err)
{
    if (r->io_errno)
        return rr_read_error(r, r->io_at, r->io_errno, err);
    if (r->done)
        return 0;
    if (r->skip_first) {
        int64_t got = rr_discard_line(r, err);
        if (got < 0)
            return (int)got;
        r->skip_first = 0;
    }
    for (;;) {
        uint64_t off = r->base + r->head;
        if (off >= r->end) {
            r->done = 1;
            return 0;
        }
        char *p = r->buf + r->head;
        char *nl = memchr(r->buf + r->scan, '\n', r->tail - r->scan);
        size_t n, used;
        if (nl) {
            n = (size_t)(nl - p);
            used = n + 1;
        } else if (r->eof) {
            if (r->tail == r->head) {
                r->done = 1;
                return 0;
            }
            n = used = r->tail - r->head;
        } else {
            size_t pending = r->tail - r->head;
            r->scan = r->tail;
            if (pending > r->max_line + 1) {
                /* Too long even if a '\r' and the '\n' come next. */
                r->bytes += pending;
                r->head = r->scan = r->tail;
                int64_t rest = rr_discard_line(r, err);
                if (rest < 0)
                    return (int)rest;
                r->bytes += (uint64_t)rest;
                *offset = off;
                return rr_too_long(r, off, err);
            }
            int rc = rr_make_room(r, err);
            if (rc < 0)
                return rc;
            int64_t got = rr_read(r, err);
            if (got < 0)
                return (int)got;
            continue;
        }
        return rr_hand_out(r, p, n, used, off, line, len, offset, err);
    }
}

/* The common case first, with one test of the reader's state: a whole line
 * in the buffer before the range end. The rest is rr_next_slow's, out of
 * line, so this frame stays small (S1's 135-byte lines: 75 -> 64
 * instructions a call besides memchr). */
int sf_range_reader_next(sf_range_reader *r, const char **line, size_t *len,
                         uint64_t *offset, sf_error *err)
{
    uint64_t off = r->base + r->head;
    if (__builtin_expect(r->io_errno | r->done | r->skip_first, 0) || off >= r->end)
        return rr_next_slow(r, line, len, offset, err);
    char *p = r->buf + r->head;
    char *nl = memchr(r->buf + r->scan, '\n', r->tail - r->scan);
    if (!nl)
        return rr_next_slow(r, line, len, offset, err);
    size_t n = (size_t)(nl - p);
    return rr_hand_out(r, p, n, n + 1, off, line, len, offset, err);
}

int sf_range_reader_window(sf_range_reader *r, sf_range_window *w)
{
    uint64_t off = r->base + r->head;
    if ((r->io_errno | r->done | r->skip_first) || off >= r->end || r->tail == r->head)
        return 0;
    w->buf = r->buf + r->head;
    w->avail = r->tail - r->head;
    w->owned = r->end - off < w->avail ? (size_t)(r->end - off) : w->avail;
    w->line_cap = r->max_line + 1; /* a '\n' at line_cap - 1 ends max_line bytes */
    w->offset = off;
    return 1;
}

void sf_range_reader_consume(sf_range_reader *r, size_t used)
{
    rr_take(r, used);
}

uint64_t sf_range_reader_bytes(const sf_range_reader *r)
{
    return r->bytes;
}

/* Closes the file spare holds, if any. */
static void rr_spare_drop_file(sf_range_reader_spare *spare)
{
    if (spare->path)
        close(spare->fd);
    free(spare->path);
    spare->path = NULL;
}

void sf_range_reader_close_spare(sf_range_reader *r, sf_range_reader_spare *spare)
{
    if (r && spare && r->buf) {
        free(spare->buf);
        spare->buf = r->buf;
        spare->cap = r->cap;
        r->buf = NULL;
    }
    if (r && spare && r->fd >= 0 && !r->io_errno) {
        rr_spare_drop_file(spare);
        spare->path = r->path; /* the open file goes with its name */
        spare->fd = r->fd;
        r->path = NULL;
        r->fd = -1;
    }
    sf_range_reader_close(r);
}

void sf_range_reader_spare_readahead(sf_range_reader_spare *spare, uint64_t depth, uint64_t step)
{
    if (!spare->ra)
        spare->ra = sf_readahead_start(depth, step);
}

void sf_range_reader_spare_free(sf_range_reader_spare *spare)
{
    free(spare->buf);
    spare->buf = NULL;
    spare->cap = 0;
    rr_spare_drop_file(spare);
    sf_readahead_stop(spare->ra);
    spare->ra = NULL;
}

void sf_range_reader_close(sf_range_reader *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    free(r->buf);
    free(r->path);
    free(r);
}

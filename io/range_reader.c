/* range_reader.c - the lines a byte range [start, end) of a file owns.
 *
 * Buffer invariant: buf[head, tail) holds file bytes [base + head, base + tail)
 * not yet handed out; buf[head, scan) is known to hold no '\n', so a line
 * spanning several reads is scanned once. A partial line is moved to buf[0]
 * before the next read; the buffer grows (doubling, up to max_cap, which fits
 * max_line plus "\r\n") only when such a line fills it.
 *
 * Mapped mode. A regular file is read through a window of its pages mapped
 * read-only (mmap) instead of pread()s into the buffer: buf is then the
 * window (base its page-aligned file offset, tail the bytes it maps), and
 * what would have been a read maps the next window from the page that
 * holds the first byte still needed (a pending partial line is not moved:
 * the new window starts at its page, twice as large until it holds the
 * line; a window of 4 MiB or more starts at the 2 MiB boundary below
 * instead, so that the 2 MiB folios the page cache may hold map with one
 * entry each: S1 at np 2 took 0.79-0.81 s with its file in 4 KiB folios,
 * 0.72-0.73 s in 2 MiB ones). The kernel's copy out of the page cache
 * goes away: S1 on one rank, six alternating pairs, 1.47 -> 1.34-1.37 s,
 * system time 0.27 -> 0.11 s (the lines are parsed straight from the
 * cache's pages, whose misses the parser's own loads then take). Started
 * at the 2 MiB boundary, a window of short lines still holds about 2 MiB
 * or more past the bytes its predecessor held. A window's touched pages
 * count in the process's RSS until it is unmapped, so the window is as
 * large as the pread buffer would have been (4 MiB by default). A page a
 * mapping can no longer read (the file made shorter under it, a disk
 * error) turns the read into SIGBUS: the reader's handler names the file
 * and the byte and ends the process with exit code 1, so the run commits
 * nothing (a pread reader would end the range early at a shorter file's
 * end); other SIGBUS go to the handler that was there before.
 * SHARDFLOW_READ=pread (or sf_range_reader_set_mode) keeps every reader
 * on pread.
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
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/bigmem.h"
#include "io/readahead.h"

#define RR_DEFAULT_BUF ((size_t)4 << 20)
#define RR_DEFAULT_MAX_LINE ((size_t)16 << 20)
/* Past the range end only the last line is left: read in small steps
 * (growing with the pending line) instead of a whole buffer. */
#define RR_TAIL_STEP ((size_t)64 << 10)
/* A huge page: mapped windows start at a multiple of it. */
#define RR_HUGE ((uint64_t)2 << 20)

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
    int mapped;     /* buf is a window of the file's pages (mapped mode) */
    size_t win;     /* mapped: the least window, in bytes (whole pages) */
    uint64_t fsize; /* mapped: the file's size when it was opened */
    int slot;       /* mapped: its rr_maps entry */
    sf_readahead *ra; /* borrowed from the spare: told where the reads are, NULL: none */
};

/* ---- mapped mode: the windows in use, for the SIGBUS handler ---- */

/* Readers open at once in one process: a scan's one, a CSV reader's. A
 * reader that finds no free entry reads with pread. */
#define RR_MAPS 8

typedef struct rr_map_entry {
    char *volatile p; /* NULL: free */
    volatile size_t len;
    volatile uint64_t off;
    const char *volatile path;
} rr_map_entry;

static rr_map_entry rr_maps[RR_MAPS];
static struct sigaction rr_old_bus; /* the SIGBUS handler before rr_on_bus */
static int rr_mode = -1; /* SF_RANGE_READ_*, -1: not decided yet */

void sf_range_reader_set_mode(int mode)
{
    rr_mode = mode;
}

static int rr_read_mode(void)
{
    if (rr_mode < 0) {
        const char *v = getenv("SHARDFLOW_READ");
        rr_mode = v && strcmp(v, "pread") == 0 ? SF_RANGE_READ_PREAD : SF_RANGE_READ_AUTO;
    }
    return rr_mode;
}

/* Writes a decimal number with write(2) (async-signal-safe). */
static void rr_put_u64(uint64_t v)
{
    char t[24];
    size_t i = sizeof t;
    do {
        t[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    ssize_t w = write(2, t + i, sizeof t - i);
    (void)w;
}

static void rr_put(const char *s)
{
    ssize_t w = write(2, s, strlen(s));
    (void)w;
}

/* SIGBUS: a read of a window's page the file no longer has. */
static void rr_on_bus(int sig, siginfo_t *si, void *uc)
{
    const char *a = si ? (const char *)si->si_addr : NULL;
    for (int i = 0; a && i < RR_MAPS; i++) {
        const char *p = rr_maps[i].p;
        if (p && a >= p && a < p + rr_maps[i].len) {
            rr_put("shardflow: ");
            rr_put(rr_maps[i].path);
            rr_put(": cannot read byte ");
            rr_put_u64(rr_maps[i].off + (uint64_t)(a - p));
            rr_put(" (the file became shorter while it was read, or the disk failed);"
                   " the run stops and commits nothing\n");
            _exit(1);
        }
    }
    /* Not ours: the handler before (Open MPI's backtrace), or the default. */
    if (rr_old_bus.sa_flags & SA_SIGINFO) {
        if (rr_old_bus.sa_sigaction) {
            rr_old_bus.sa_sigaction(sig, si, uc);
            return;
        }
    } else if (rr_old_bus.sa_handler != SIG_DFL && rr_old_bus.sa_handler != SIG_IGN) {
        rr_old_bus.sa_handler(sig);
        return;
    }
    /* The default action: pending until the handler returns (the signal
     * is blocked while it runs), then it ends the process. */
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Takes a registry entry for a window (installing the handler first);
 * -1 when none is free or the handler cannot be set. */
static int rr_map_slot(void)
{
    /* Looked at each time: a library may have set its own since. */
    struct sigaction cur;
    if (sigaction(SIGBUS, NULL, &cur) != 0)
        return -1;
    if (!(cur.sa_flags & SA_SIGINFO) || cur.sa_sigaction != rr_on_bus) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = rr_on_bus;
        sa.sa_flags = SA_SIGINFO;
        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGBUS, &sa, &rr_old_bus) != 0)
            return -1;
    }
    for (int i = 0; i < RR_MAPS; i++)
        if (!rr_maps[i].p && !rr_maps[i].path)
            return i;
    return -1;
}

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

/* The page size: where a mapping may start. */
static size_t rr_page(void)
{
    static size_t page;
    if (!page) {
        long ps = sysconf(_SC_PAGESIZE);
        page = ps > 0 ? (size_t)ps : 4096;
    }
    return page;
}

/* A mapped reader's buf between windows: never NULL, so that the
 * reader's memchr calls get a valid pointer even for 0 bytes. */
static char rr_no_window[1];

/* Unmaps the reader's window, if any. */
static void rr_unmap(sf_range_reader *r)
{
    rr_map_entry *m = &rr_maps[r->slot];
    char *p = m->p;
    if (p) {
        m->p = NULL;
        munmap(p, m->len);
    }
    r->buf = rr_no_window;
}

/* Mapped mode's read: maps the window that starts at the page holding the
 * first byte still needed (buf[head]): win bytes, doubled until it is half
 * again as large as the bytes already known from that page on (so a long
 * pending line gets room to end), up to the file's end (which sets eof).
 * buf[head, scan) stays known to hold no '\n'. Returns the count of bytes
 * it made available past the old tail (0 at end of file) or SF_E_IO. */
static int64_t rr_map(sf_range_reader *r, sf_error *err)
{
    const size_t page = rr_page();
    uint64_t pos = r->base + r->head, had = r->base + r->tail;
    size_t scanned = r->scan - r->head;
    /* A window of 4 MiB or more starts at the 2 MiB boundary below: the
     * kernel places a file mapping at an address that agrees with its
     * offset modulo 2 MiB, so each whole 2 MiB the window spans maps with
     * one entry when the page cache holds it in a 2 MiB folio (as a
     * sequential read() or large writes leave a file here; readahead(2),
     * which the scan's read-ahead helper uses, leaves 4 KiB folios). A
     * smaller window starts at the page. */
    uint64_t align = r->win >= 2 * RR_HUGE && RR_HUGE % page == 0 ? RR_HUGE : page;
    uint64_t off = pos - pos % align;
    if (pos >= r->fsize) {
        rr_unmap(r);
        r->base = pos;
        r->head = r->scan = r->tail = 0;
        r->eof = 1;
        return 0;
    }
    size_t need = (size_t)(had - off); /* the bytes known so far, from off */
    size_t len = r->win;
    while (len < need + need / 2 + page)
        len *= 2;
    if (len > r->fsize - off)
        len = (size_t)(r->fsize - off);
    rr_unmap(r);
    void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, r->fd, (off_t)off);
    if (p == MAP_FAILED) {
        r->base = pos;
        r->head = r->scan = r->tail = 0;
        return rr_read_error(r, pos, errno, err);
    }
    (void)madvise(p, len, MADV_SEQUENTIAL);
    rr_map_entry *m = &rr_maps[r->slot];
    m->len = len;
    m->off = off;
    m->p = p;
    r->buf = p;
    r->base = off;
    r->head = (size_t)(pos - off);
    r->scan = r->head + scanned;
    r->tail = len;
    r->eof = off + len >= r->fsize;
    sf_readahead_post(r->ra, pos); /* the window's pages are still to be read */
    return (int64_t)(off + len - had);
}

/* Reads more bytes into buf[tail, cap). Returns the count (0 at end of
 * file, which also sets eof) or SF_E_IO. */
static int64_t rr_read(sf_range_reader *r, sf_error *err)
{
    if (r->mapped)
        return rr_map(r, err);
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
    if (r->mapped)
        return 0; /* rr_map moves the window instead */
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
    r->slot = -1;
    r->path = strdup(path);
    r->max_line = max_line;
    r->max_cap = max_line + 2 > buf_size ? max_line + 2 : buf_size;
    r->end = end;
    if (!r->path) {
        sf_range_reader_close(r);
        return sf_error_set(err, SF_E_NOMEM, "%s: out of memory", path);
    }
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
    struct stat st;
    if (rr_read_mode() != SF_RANGE_READ_PREAD && fstat(r->fd, &st) == 0 && S_ISREG(st.st_mode) &&
        st.st_size > 0 && (r->slot = rr_map_slot()) >= 0) {
        r->mapped = 1;
        r->buf = rr_no_window;
        r->fsize = (uint64_t)st.st_size;
        r->win = (buf_size + rr_page() - 1) / rr_page() * rr_page();
        rr_maps[r->slot].path = r->path;
    } else if (spare && spare->buf && spare->cap >= buf_size && spare->cap <= r->max_cap) {
        r->buf = spare->buf; /* it may have grown for a long line: keep its size */
        r->cap = spare->cap;
        spare->buf = NULL;
        spare->cap = 0;
    } else {
        r->cap = buf_size;
        r->buf = sf_bigmem_alloc(buf_size); /* filled whole by each read: huge pages */
        if (!r->buf) {
            sf_range_reader_close(r);
            return sf_error_set(err, SF_E_NOMEM, "%s: out of memory for a %zu-byte read buffer",
                                path, buf_size);
        }
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
    if (r->mapped && rr_map(r, err) < 0) {
        sf_range_reader_close(r);
        return SF_E_IO;
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
    if (r && spare && r->buf && !r->mapped) {
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
    if (r->mapped) {
        rr_unmap(r);
        rr_maps[r->slot].path = NULL;
    } else {
        free(r->buf);
    }
    if (r->fd >= 0)
        close(r->fd);
    free(r->path);
    free(r);
}

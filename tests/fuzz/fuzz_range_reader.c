/* fuzz_range_reader.c - fuzz target: the newline-aligned range reader
 * (io/range_reader.h) against a plain model of line splitting.
 *
 * Input: 3 header bytes, then 2 bytes per cut point, then the file content.
 *   byte 0: read buffer size (1..96 bytes, or 255: the 4 MiB default)
 *   byte 1: max line length (< 128: the 16 MiB default, else 1..128)
 *   byte 2: low 3 bits: number of cut points; bits 3-5: k, and when k > 0
 *           up to k lines at a time are taken from the reader's window
 *           (sf_range_reader_window, sf_range_reader_consume) before each
 *           call of sf_range_reader_next; bit 6: the readers pread into
 *           their buffer (else the file is read through mapped windows,
 *           the default for a regular file); bit 7: the last range ends at
 *           UINT64_MAX instead of at the file size
 * The content is written to a scratch file and read as the ranges the cut
 * points make. Aborts unless every range yields exactly the model's lines
 * whose first byte lies in it (same offset, same bytes, without '\n' and one
 * trailing '\r', BOM skipped), over-long lines come back as SF_E_LIMIT at
 * their offset, and each range's byte count is its lines' extents (plus the
 * BOM for the range at 0), so the counts add up to the file size. Lines
 * taken from a window must be the same lines, each one's '\n' within
 * line_cap bytes of its start, the window's owned part inside the range.
 */
/* SF_FUZZ_SOURCES: io/range_reader.c io/readahead.c */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/range_reader.h"
#include "tests/fuzz/scratch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_CUTS 7

typedef struct model_line {
    uint64_t off;    /* first byte */
    uint64_t extent; /* bytes up to the next line's start ('\n' included) */
    size_t len;      /* content length, '\r' stripped */
} model_line;

static void die(const char *what, uint64_t start, uint64_t end, uint64_t off)
{
    fprintf(stderr, "fuzz_range_reader: %s (range [%llu, %llu), offset %llu)\n", what,
            (unsigned long long)start, (unsigned long long)end, (unsigned long long)off);
    abort();
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Splits file[0..n) the way the reader's header says, independently of the
 * reader's code: BOM at 0 skipped, lines end at '\n', a final line without
 * '\n' still counts, one trailing '\r' is dropped. Returns the line count;
 * *bom is 3 or 0. */
static size_t model_split(const uint8_t *file, size_t n, model_line *lines, size_t *bom)
{
    size_t pos = 0, count = 0;
    *bom = 0;
    if (n >= 3 && file[0] == 0xEF && file[1] == 0xBB && file[2] == 0xBF)
        pos = *bom = 3;
    while (pos < n) {
        const uint8_t *nl = memchr(file + pos, '\n', n - pos);
        size_t stop = nl ? (size_t)(nl - file) : n;
        size_t next = nl ? stop + 1 : n;
        size_t len = stop - pos;
        if (len > 0 && file[stop - 1] == '\r')
            len--;
        lines[count].off = pos;
        lines[count].extent = next - pos;
        lines[count].len = len;
        count++;
        pos = next;
    }
    return count;
}

/* Takes up to k lines from r's window as a parser that finds each line's
 * end itself would, checking them against the model from lines[*want]. */
static void take_window(sf_range_reader *r, const uint8_t *file, uint64_t start, uint64_t end,
                        size_t eff_max_line, const model_line *lines, size_t nlines, size_t *want,
                        uint64_t *want_bytes, unsigned k)
{
    sf_range_window w;
    if (!sf_range_reader_window(r, &w))
        return;
    if (*want >= nlines || lines[*want].off >= end)
        die("a window past the range's own lines", start, end, w.offset);
    if (w.offset != lines[*want].off || w.avail == 0 || w.owned == 0 || w.owned > w.avail ||
        w.offset + w.owned > end || memcmp(w.buf, file + w.offset, w.avail) != 0)
        die("window differs from the file", start, end, w.offset);
    size_t pos = 0;
    for (unsigned i = 0; i < k && pos < w.owned; i++) {
        size_t n = w.avail - pos < w.line_cap ? w.avail - pos : w.line_cap;
        const char *nl = memchr(w.buf + pos, '\n', n);
        if (!nl)
            break;
        size_t raw = (size_t)(nl - (w.buf + pos)), len = raw;
        if (len > 0 && w.buf[pos + len - 1] == '\r')
            len--;
        if (*want >= nlines)
            die("window line beyond the model's", start, end, w.offset + pos);
        const model_line *m = &lines[*want];
        if (m->off != w.offset + pos || m->len != len || m->extent != raw + 1)
            die("window line differs from the model", start, end, w.offset + pos);
        if (len > eff_max_line)
            die("window line over the limit inside line_cap", start, end, m->off);
        pos += raw + 1;
        *want_bytes += m->extent;
        (*want)++;
    }
    sf_range_reader_consume(r, pos);
}

static uint64_t check_range(const char *path, const uint8_t *file, uint64_t start, uint64_t end,
                            size_t buf_size, size_t max_line, size_t eff_max_line,
                            const model_line *lines, size_t nlines, size_t bom, unsigned k)
{
    sf_range_reader *r = NULL;
    sf_error err;
    sf_error_clear(&err);
    if (sf_range_reader_open(&r, path, start, end, buf_size, max_line, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        die("open failed", start, end, 0);
    }
    /* The model's lines this range owns, in order. */
    size_t want = 0;
    while (want < nlines && lines[want].off < start)
        want++;
    uint64_t want_bytes = start == 0 && start < end ? bom : 0;
    for (;;) {
        const char *line = NULL;
        size_t len = 0;
        uint64_t off = UINT64_MAX;
        if (k)
            take_window(r, file, start, end, eff_max_line, lines, nlines, &want, &want_bytes, k);
        int rc = sf_range_reader_next(r, &line, &len, &off, &err);
        int owned = want < nlines && lines[want].off < end;
        if (rc == 0) {
            if (owned)
                die("range ended before an owned line", start, end, lines[want].off);
            break;
        }
        if (!owned)
            die("line beyond the range's own lines", start, end, off);
        const model_line *m = &lines[want];
        if (off != m->off)
            die("line offset differs from the model", start, end, off);
        if (rc == SF_E_LIMIT) {
            if (m->len <= eff_max_line)
                die("SF_E_LIMIT on a line within the limit", start, end, off);
            if (err.offset != (int64_t)off || err.msg[0] == '\0')
                die("SF_E_LIMIT without its offset or message", start, end, off);
        } else if (rc == 1) {
            if (m->len > eff_max_line)
                die("over-long line returned", start, end, off);
            if (len != m->len)
                die("line length differs from the model", start, end, off);
            if (len > 0 && (memcmp(line, file + off, len) != 0 || memchr(line, '\n', len)))
                die("line bytes differ from the file", start, end, off);
        } else {
            fprintf(stderr, "rc %d: %s\n", rc, err.msg);
            die("unexpected return code", start, end, off);
        }
        want_bytes += m->extent;
        want++;
    }
    /* A finished range stays finished. */
    const char *line;
    size_t len;
    uint64_t off;
    if (sf_range_reader_next(r, &line, &len, &off, &err) != 0)
        die("a second end-of-range call returned a line", start, end, 0);
    uint64_t bytes = sf_range_reader_bytes(r);
    if (bytes != want_bytes)
        die("byte count differs from the owned lines' extents", start, end, bytes);
    sf_range_reader_close(r);
    return bytes;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t hdr[3] = {0, 0, 0};
    size_t used = size < 3 ? size : 3;
    memcpy(hdr, data, used);
    size_t buf_size = hdr[0] == 255 ? 0 : 1 + hdr[0] % 96;
    size_t max_line = hdr[1] < 128 ? 0 : (size_t)hdr[1] - 127;
    size_t eff_max_line = max_line ? max_line : (size_t)16 << 20;
    size_t ncuts = hdr[2] & 7;
    unsigned k = (hdr[2] >> 3) & 7;
    int open_end = (hdr[2] & 0x80) != 0;
    sf_range_reader_set_mode((hdr[2] & 0x40) ? SF_RANGE_READ_PREAD : SF_RANGE_READ_AUTO);

    uint16_t raw_cuts[MAX_CUTS];
    for (size_t i = 0; i < ncuts; i++) {
        raw_cuts[i] = 0;
        for (int b = 0; b < 2; b++) {
            raw_cuts[i] = (uint16_t)(raw_cuts[i] << 8);
            if (used < size)
                raw_cuts[i] |= data[used++];
        }
    }
    const uint8_t *file = data + used;
    size_t n = size - used;

    uint64_t cuts[MAX_CUTS + 2];
    cuts[0] = 0;
    for (size_t i = 0; i < ncuts; i++)
        cuts[1 + i] = raw_cuts[i] % (n + 1);
    qsort(cuts + 1, ncuts, sizeof cuts[0], cmp_u64);
    cuts[ncuts + 1] = open_end ? UINT64_MAX : n;

    fuzz_scratch *s = fuzz_scratch_get("range_reader");
    fuzz_scratch_fill(s, file, n);

    model_line *lines = malloc((n + 1) * sizeof *lines);
    if (!lines)
        abort();
    size_t bom;
    size_t nlines = model_split(file, n, lines, &bom);

    uint64_t total = 0;
    for (size_t i = 0; i <= ncuts; i++)
        total += check_range(s->path, file, cuts[i], cuts[i + 1], buf_size, max_line,
                             eff_max_line, lines, nlines, bom, k);
    if (total != n)
        die("byte counts do not add up to the file size", 0, n, total);
    free(lines);
    return 0;
}

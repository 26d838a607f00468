/* fuzz_decompress.c - fuzz target: the decompress-and-split path
 * (io/decompress.h) against a plain model of line splitting.
 *
 * Input: 4 header bytes, then the payload.
 *   byte 0: low 2 bits, how the payload becomes the file:
 *           0 the payload is the file as it is (any bytes: a corrupt or
 *             truncated stream must give an error, never a crash);
 *           1 BGZF blocks of the payload, 2 zstd frames (with content size
 *             when bit 2 is clear), 3 gzip members; each unit holds
 *             16 + byte 1 * 4 payload bytes (cut anywhere in a line)
 *   byte 2: target compressed bytes per range (1..256)
 *   byte 3: line buffer size (16..271) and max line (bit 7: 64 bytes)
 * For modes 1-3 the lines of every range, in order, must be the model's
 * lines of the payload (same bytes without '\n' and one '\r', BOM at 0
 * skipped, same offset once the earlier ranges' ubytes are added), and the
 * whole file read as one stream, and read in blocks of whole lines
 * (sf_zreader_fill_block, at the capacity or a smaller target), must give
 * the same. For mode 0, whatever
 * the whole read gives, a split read that succeeds must give the same.
 */
/* SF_FUZZ_SOURCES: io/decompress.c */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>
#include <zstd.h>

#include "io/decompress.h"
#include "tests/fuzz/scratch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct buf {
    unsigned char *p;
    size_t n, cap;
} buf;

static void put(buf *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            abort();
    }
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void put_le(buf *b, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) {
        unsigned char c = (unsigned char)(v >> (8 * i));
        put(b, &c, 1);
    }
}

static void die(const char *what)
{
    fprintf(stderr, "fuzz_decompress: %s\n", what);
    abort();
}

static void deflate_into(buf *out, const unsigned char *p, size_t n, int wbits)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 1, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        die("deflateInit2");
    size_t cap = deflateBound(&z, (uLong)n) + 16;
    unsigned char *tmp = malloc(cap);
    z.next_in = (Bytef *)p;
    z.avail_in = (uInt)n;
    z.next_out = tmp;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END)
        die("deflate");
    put(out, tmp, cap - z.avail_out);
    deflateEnd(&z);
    free(tmp);
}

static void bgzf_block(buf *out, const unsigned char *p, size_t n)
{
    buf d = {0};
    deflate_into(&d, p, n, -15);
    static const unsigned char head[] = {0x1F, 0x8B, 8, 4, 0, 0, 0, 0, 0, 0xFF, 6, 0, 'B', 'C', 2, 0};
    put(out, head, sizeof head);
    put_le(out, 18 + d.n + 8 - 1, 2);
    put(out, d.p, d.n);
    put_le(out, crc32(crc32(0, NULL, 0), p, (uInt)n), 4);
    put_le(out, n, 4);
    free(d.p);
}

static void zstd_frame(buf *out, const unsigned char *p, size_t n, int sized)
{
    static ZSTD_CCtx *c;
    if (!c && !(c = ZSTD_createCCtx()))
        die("ZSTD_createCCtx");
    ZSTD_CCtx_reset(c, ZSTD_reset_session_and_parameters);
    ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, 1);
    ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, sized);
    size_t cap = ZSTD_compressBound(n) + 32;
    unsigned char *tmp = malloc(cap);
    ZSTD_inBuffer ib = {p, n, 0};
    ZSTD_outBuffer ob = {tmp, cap, 0};
    size_t r;
    do {
        r = ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_end);
        if (ZSTD_isError(r))
            die("ZSTD_compressStream2");
    } while (r);
    put(out, tmp, ob.pos);
    free(tmp);
}

typedef struct lines {
    size_t n, cap;
    uint64_t *off;
    size_t *len;
    const unsigned char **p;
} lines;

static lines model(const unsigned char *t, size_t n)
{
    lines s = {0};
    s.off = malloc((n + 1) * sizeof *s.off);
    s.len = malloc((n + 1) * sizeof *s.len);
    s.p = malloc((n + 1) * sizeof *s.p);
    if (!s.off || !s.len || !s.p)
        abort();
    size_t i = n >= 3 && memcmp(t, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    while (i < n) {
        const unsigned char *nl = memchr(t + i, '\n', n - i);
        size_t e = nl ? (size_t)(nl - t) : n, k = e - i;
        if (k && t[e - 1] == '\r')
            k--;
        s.off[s.n] = i;
        s.len[s.n] = k;
        s.p[s.n++] = t + i;
        i = e + 1;
    }
    return s;
}

/* Reads the ranges; returns 0 with every line checked against want (when
 * want is given) or collected into got, or the first error. */
static int read_ranges(const char *path, sf_codec codec, const sf_zrange *r, size_t nr,
                       size_t bufsz, size_t maxline, const lines *want, lines *got)
{
    size_t k = 0;
    uint64_t base = 0;
    for (size_t i = 0; i < nr; i++) {
        sf_zreader *z;
        sf_error err;
        int rc = sf_zreader_open(&z, path, codec, &r[i], bufsz, maxline, &err);
        if (rc)
            return rc;
        const char *line;
        size_t len;
        uint64_t off;
        while ((rc = sf_zreader_next(z, &line, &len, &off, &err)) == 1 || rc == SF_E_LIMIT) {
            if (rc == SF_E_LIMIT) {
                if (want && (k >= want->n || want->len[k] <= maxline))
                    die("a limit error for a line within max_line");
                if (want && base + off != want->off[k])
                    die("a limit error at the wrong offset");
                k++;
                continue;
            }
            if (len > maxline + 1)
                die("a line longer than max_line");
            if (want) {
                if (k >= want->n)
                    die("more lines than the model");
                if (len != want->len[k] || memcmp(line, want->p[k], len) != 0)
                    die("a line differs from the model");
                if (base + off != want->off[k])
                    die("a line offset differs from the model");
            } else {
                if (got->n == got->cap) {
                    got->cap = got->cap * 2 + 16;
                    got->off = realloc(got->off, got->cap * sizeof *got->off);
                    got->len = realloc(got->len, got->cap * sizeof *got->len);
                    if (!got->off || !got->len)
                        abort();
                }
                got->off[got->n] = base + off;
                got->len[got->n++] = len;
            }
            k++;
        }
        base += sf_zreader_ubytes(z);
        sf_zreader_close(z);
        if (rc)
            return rc;
    }
    if (want && k != want->n)
        die("fewer lines than the model");
    return 0;
}

/* Reads the whole file in blocks of whole lines (sf_zreader_next_block,
 * what a rank streaming to others would send) and checks them against
 * want. */
static void read_blocks(const char *path, sf_codec codec, uint64_t size, size_t bufsz,
                        size_t maxline, const lines *want)
{
    sf_zrange whole = {0, size, 0};
    sf_zreader *z;
    sf_error err;
    if (sf_zreader_open(&z, path, codec, &whole, bufsz, maxline, &err) != 0)
        die("cannot open for blocks");
    size_t cap = maxline + 2 + (size_t)(size % 7), used, k = 0;
    char *block = malloc(cap);
    if (!block)
        abort();
    /* Blocks closed at a target below the capacity (a feed's blocks,
     * mpi/scan_feed.c) hold whole lines too, and say how many. */
    size_t target = size % 3 ? 1 + (size_t)(size * 31) % cap : cap;
    uint64_t off, nlines;
    int rc;
    while ((rc = sf_zreader_fill_block(z, block, cap, target, &used, &off, &nlines, &err)) == 1 ||
           rc == SF_E_LIMIT) {
        if (rc == SF_E_LIMIT) {
            if (used || k >= want->n || want->len[k] <= maxline || off != want->off[k])
                die("a block limit error out of place");
            k++;
            continue;
        }
        size_t pos = 0, len;
        const char *line;
        uint64_t rel, in_block = 0;
        while (sf_zblock_next_line(block, used, &pos, &line, &len, &rel)) {
            if (k >= want->n || len != want->len[k] || memcmp(line, want->p[k], len) != 0 ||
                off + rel != want->off[k])
                die("a block line differs from the model");
            k++;
            in_block++;
        }
        if (in_block != nlines || (used > target && nlines != 1))
            die("a block's line count or size is wrong");
    }
    if (rc != 0 || k != want->n)
        die("blocks do not give every line");
    free(block);
    sf_zreader_close(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    int mode = data[0] & 3, sized = !(data[0] & 4);
    size_t unit = 16 + (size_t)data[1] * 4;
    uint64_t target = 1 + (uint64_t)data[2];
    size_t bufsz = 16 + (data[3] & 0x7F) * 2, maxline = data[3] & 0x80 ? 64 : 1 << 20;
    const unsigned char *pay = data + 4;
    size_t n = size - 4;

    buf file = {0};
    for (size_t i = 0; mode && i < n; i += unit) {
        size_t k = n - i < unit ? n - i : unit;
        if (mode == 1)
            bgzf_block(&file, pay + i, k);
        else if (mode == 2)
            zstd_frame(&file, pay + i, k, sized);
        else
            deflate_into(&file, pay + i, k, 15 + 16);
    }
    if (mode == 0)
        put(&file, pay, n);
    fuzz_scratch *s = fuzz_scratch_get("decompress");
    fuzz_scratch_fill(s, file.p, file.n);

    sf_codec codec = sf_codec_detect(file.p, file.n);
    if (mode && n && codec != (mode == 2 ? SF_CODEC_ZSTD : SF_CODEC_GZIP))
        die("the codec of a made file is not detected");
    if (!sf_codec_supported(codec)) {
        free(file.p);
        return 0;
    }
    sf_zrange whole = {0, file.n, 0}, *ranges = NULL;
    size_t nr = 0;
    sf_error err;
    int split_rc = sf_decompress_split(s->path, codec, file.n, target, &ranges, &nr, NULL, &err);
    if (mode) {
        if (split_rc)
            die("a made file does not split");
        lines want = model(pay, n);
        if (read_ranges(s->path, codec, &whole, 1, bufsz, maxline, &want, NULL) != 0)
            die("a made file does not read whole");
        if (read_ranges(s->path, codec, ranges, nr, bufsz, maxline, &want, NULL) != 0)
            die("a made file does not read in ranges");
        read_blocks(s->path, codec, file.n, bufsz, maxline, &want);
        if (mode == 1 && n > unit * 2 && target < unit / 8 && nr < 2)
            die("BGZF blocks were not split");
        free(want.off);
        free(want.len);
        free(want.p);
    } else {
        lines a = {0}, b = {0};
        int ra = read_ranges(s->path, codec, &whole, 1, bufsz, maxline, NULL, &a);
        int rb = split_rc ? split_rc : read_ranges(s->path, codec, ranges, nr, bufsz, maxline,
                                                   NULL, &b);
        if (ra == 0 && rb == 0) {
            if (a.n != b.n)
                die("split and whole reads differ in lines");
            for (size_t i = 0; i < a.n; i++)
                if (a.off[i] != b.off[i] || a.len[i] != b.len[i])
                    die("split and whole reads differ");
        }
        free(a.off);
        free(a.len);
        free(b.off);
        free(b.len);
    }
    free(ranges);
    free(file.p);
    return 0;
}

/* decompress.c - codecs by magic bytes, unit splitting, and the line reader
 * over a range of compressed units (contract in decompress.h).
 *
 * Decode coordinates: 0 is the first byte decoded from range.prev. The
 * reader feeds the codec compressed bytes up to a limit: first range.start
 * (only while decoding the unit before the range, whose output is dropped
 * but for its last byte), then range.end, then without limit (the last
 * line's tail). When the codec has consumed exactly up to a limit and ended
 * a unit there, the bytes produced so far mark a boundary: U_s, then U_e.
 *
 * Line buffer invariant (as io/range_reader.c): buf[head, tail) holds
 * decoded bytes [ubase + head, ubase + tail) not yet handed out, buf[head,
 * scan) holds no '\n'; a partial line moves to buf[0] before more is
 * decoded, and the buffer grows only when one line fills it.
 */
#include "io/decompress.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>
#include <zstd.h>

#define ZR_DEFAULT_BUF ((size_t)4 << 20)
#define ZR_DEFAULT_MAX_LINE ((size_t)16 << 20)
#define ZR_IN_BUF ((size_t)128 << 10)

/* ---- magic bytes ------------------------------------------------------- */

sf_codec sf_codec_detect(const void *head, size_t n)
{
    const unsigned char *b = head;
    if (n >= 2 && b[0] == 0x1F && b[1] == 0x8B)
        return SF_CODEC_GZIP;
    if (n >= 4 && b[0] == 0x28 && b[1] == 0xB5 && b[2] == 0x2F && b[3] == 0xFD)
        return SF_CODEC_ZSTD;
    /* A zstd file may open with a skippable frame (pzstd writes one before
     * each frame): magic 0x184D2A50 to 0x184D2A5F, little-endian. */
    if (n >= 4 && (b[0] & 0xF0) == 0x50 && b[1] == 0x2A && b[2] == 0x4D && b[3] == 0x18)
        return SF_CODEC_ZSTD;
    if (n >= 4 && b[0] == 'B' && b[1] == 'Z' && b[2] == 'h' && b[3] >= '1' && b[3] <= '9')
        return SF_CODEC_BZIP2;
    if (n >= 6 && memcmp(b, "\xFD" "7zXZ\0", 6) == 0)
        return SF_CODEC_XZ;
    return SF_CODEC_NONE;
}

const char *sf_codec_name(sf_codec c)
{
    switch (c) {
    case SF_CODEC_NONE: return "none";
    case SF_CODEC_GZIP: return "gzip";
    case SF_CODEC_ZSTD: return "zstd";
    case SF_CODEC_BZIP2: return "bzip2";
    case SF_CODEC_XZ: return "xz";
    }
    return "unknown";
}

int sf_codec_supported(sf_codec c)
{
    return c == SF_CODEC_NONE || c == SF_CODEC_GZIP || c == SF_CODEC_ZSTD;
}

/* pread of exactly n bytes (fewer only at end of file). Returns the count
 * or -errno. */
static ssize_t pread_full(int fd, void *buf, size_t n, uint64_t at)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, (char *)buf + got, n - got, (off_t)(at + got));
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (k == 0)
            break;
        got += (size_t)k;
    }
    return (ssize_t)got;
}

int sf_codec_of_file(const char *path, sf_codec *out, sf_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sf_error_set(err, SF_E_IO, "cannot open '%s': %s", path, strerror(errno));
    unsigned char head[SF_CODEC_MAGIC_LEN];
    ssize_t n = pread_full(fd, head, sizeof head, 0);
    close(fd);
    if (n < 0)
        return sf_error_set(err, SF_E_IO, "%s: read at byte 0: %s", path, strerror((int)-n));
    *out = sf_codec_detect(head, (size_t)n);
    return 0;
}

/* ---- units ------------------------------------------------------------- */

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The BGZF block at off: 1 with its total size and decoded size (ISIZE),
 * 0 when the member there is not a BGZF block, or SF_E_IO / SF_E_PARSE. */
static int bgzf_block(int fd, const char *path, uint64_t off, uint64_t size, uint64_t *len,
                      uint32_t *isize, sf_error *err)
{
    unsigned char h[12 + 256];
    ssize_t n = pread_full(fd, h, 12, off);
    if (n < 0)
        return sf_error_set(err, SF_E_IO, "%s: read at byte %" PRIu64 ": %s", path, off,
                            strerror((int)-n));
    if (n < 12 || h[0] != 0x1F || h[1] != 0x8B || h[2] != 8 || !(h[3] & 4))
        return 0;
    size_t xlen = (size_t)h[10] | (size_t)h[11] << 8;
    if (xlen > 256)
        return 0;
    n = pread_full(fd, h + 12, xlen, off + 12);
    if (n < 0 || (size_t)n < xlen)
        return n < 0 ? sf_error_set(err, SF_E_IO, "%s: read at byte %" PRIu64 ": %s", path,
                                    off + 12, strerror((int)-n))
                     : 0;
    /* Subfields: SI1 SI2 SLEN(2) data; BGZF's is 'B' 'C' 2 BSIZE(2). */
    for (size_t i = 12; i + 4 <= 12 + xlen;) {
        size_t slen = (size_t)h[i + 2] | (size_t)h[i + 3] << 8;
        if (h[i] == 'B' && h[i + 1] == 'C' && slen == 2 && i + 6 <= 12 + xlen) {
            uint64_t bsize = ((uint64_t)h[i + 4] | (uint64_t)h[i + 5] << 8) + 1;
            if (bsize < 12 + xlen + 8 || off + bsize > size)
                return sf_error_set(err, SF_E_PARSE,
                                    "%s: BGZF block at byte %" PRIu64 " is cut short", path, off);
            unsigned char t[4];
            n = pread_full(fd, t, 4, off + bsize - 4);
            if (n != 4)
                return sf_error_set(err, SF_E_IO, "%s: read at byte %" PRIu64 " failed", path,
                                    off + bsize - 4);
            *len = bsize;
            *isize = le32(t);
            return 1;
        }
        i += 4 + slen;
    }
    return 0;
}

/* The zstd frame (or skippable frame) at off: 1 with its total size and
 * *known set when it declares its decoded size (*usize) or, failing that,
 * holds a block that decodes to bytes (a raw or RLE block of non-zero size,
 * or a compressed block, which no encoder writes for nothing: *usize 1);
 * 0 when no frame starts there, or SF_E_IO / SF_E_PARSE. Walks the block
 * headers only. */
static int zstd_frame(int fd, const char *path, uint64_t off, uint64_t size, uint64_t *len,
                      int *skippable, int *known, uint64_t *usize, sf_error *err)
{
    unsigned char h[18];
    ssize_t n = pread_full(fd, h, sizeof h, off);
    if (n < 0)
        return sf_error_set(err, SF_E_IO, "%s: read at byte %" PRIu64 ": %s", path, off,
                            strerror((int)-n));
    if (n < 8)
        return 0;
    uint32_t magic = le32(h);
    *skippable = 0;
    *known = 0;
    if ((magic & 0xFFFFFFF0u) == 0x184D2A50u) {
        *len = 8 + (uint64_t)le32(h + 4);
        *skippable = 1;
        if (off + *len > size)
            return sf_error_set(err, SF_E_PARSE, "%s: skippable frame at byte %" PRIu64
                                " is cut short", path, off);
        return 1;
    }
    if (magic != 0xFD2FB528u)
        return 0;
    unsigned fhd = h[4];
    unsigned fcs_flag = fhd >> 6, single = (fhd >> 5) & 1, checksum = (fhd >> 2) & 1;
    static const unsigned did_size[4] = {0, 1, 2, 4};
    unsigned fcs_size = fcs_flag == 0 ? single : fcs_flag == 1 ? 2 : fcs_flag == 2 ? 4 : 8;
    size_t hdr = 5 + !single + did_size[fhd & 3];
    if (fcs_size) {
        if ((size_t)n < hdr + fcs_size)
            return sf_error_set(err, SF_E_PARSE, "%s: zstd frame at byte %" PRIu64
                                " is cut short", path, off);
        uint64_t v = 0;
        for (unsigned i = 0; i < fcs_size; i++)
            v |= (uint64_t)h[hdr + i] << (8 * i);
        *usize = fcs_size == 2 ? v + 256 : v;
        *known = 1;
    }
    uint64_t p = off + hdr + fcs_size;
    for (;;) {
        unsigned char b[3];
        if (pread_full(fd, b, 3, p) != 3)
            return sf_error_set(err, SF_E_PARSE, "%s: zstd frame at byte %" PRIu64
                                " is cut short", path, off);
        uint32_t bh = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16;
        unsigned last = bh & 1, type = (bh >> 1) & 3;
        uint64_t bsize = bh >> 3;
        if (type == 3)
            return sf_error_set(err, SF_E_PARSE, "%s: zstd block at byte %" PRIu64
                                " has a reserved type", path, p);
        if (!fcs_size && (bsize > 0 || type == 2)) {
            *known = 1;
            *usize = 1;
        }
        p += 3 + (type == 1 ? 1 : bsize);
        if (p > size)
            return sf_error_set(err, SF_E_PARSE, "%s: zstd frame at byte %" PRIu64
                                " is cut short", path, off);
        if (last)
            break;
    }
    p += checksum ? 4 : 0;
    if (p > size)
        return sf_error_set(err, SF_E_PARSE, "%s: zstd frame at byte %" PRIu64 " is cut short",
                            path, off);
    *len = p - off;
    return 1;
}

int sf_decompress_split(const char *path, sf_codec codec, uint64_t size, uint64_t target,
                        sf_zrange **ranges, size_t *n, size_t *units, sf_error *err)
{
    *ranges = NULL;
    *n = 0;
    if (units)
        *units = 0;
    size_t cap = 16, count = 0, nunits = 0;
    sf_zrange *r = malloc(cap * sizeof *r);
    if (!r)
        return sf_error_set(err, SF_E_NOMEM, "out of memory");
    int fd = -1, rc = 0, splittable = codec == SF_CODEC_GZIP || codec == SF_CODEC_ZSTD;
    if (splittable && size > 0) {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            free(r);
            return sf_error_set(err, SF_E_IO, "cannot open '%s': %s", path, strerror(errno));
        }
        /* Only headers are read: no readahead of the data between them. */
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
    }
    /* A cut may only follow a unit known to decode to at least one byte:
     * the next range reads that unit for its last byte. */
    uint64_t off = 0, range_start = 0, cut_prev = 0, last_nonempty = 0;
    int have_nonempty = 0;
    while (splittable && off < size) {
        uint64_t len = 0, usize = 0;
        int nonempty = 0, got;
        if (codec == SF_CODEC_GZIP) {
            uint32_t isize = 0;
            got = bgzf_block(fd, path, off, size, &len, &isize, err);
            nonempty = isize > 0;
        } else {
            int skippable = 0, known = 0;
            got = zstd_frame(fd, path, off, size, &len, &skippable, &known, &usize, err);
            nonempty = !skippable && known && usize > 0;
        }
        if (got < 0) {
            rc = got;
            break;
        }
        if (got == 0) {
            /* Not made of units (a plain gzip member, trailing bytes):
             * one range, decoded by one reader. */
            splittable = 0;
            break;
        }
        nunits++;
        if (have_nonempty && off - range_start >= target) {
            if (count == cap) {
                sf_zrange *nr = realloc(r, (cap *= 2) * sizeof *r);
                if (!nr) {
                    rc = sf_error_set(err, SF_E_NOMEM, "out of memory");
                    break;
                }
                r = nr;
            }
            r[count].start = range_start;
            r[count].end = off;
            r[count].prev = cut_prev;
            count++;
            range_start = off;
            cut_prev = last_nonempty;
            have_nonempty = 0;
        }
        if (nonempty) {
            last_nonempty = off;
            have_nonempty = 1;
        }
        off += len;
    }
    if (fd >= 0)
        close(fd);
    if (rc) {
        free(r);
        return rc;
    }
    if (!splittable) {
        count = 0;
        nunits = 0;
        range_start = cut_prev = 0;
    }
    if (count == cap) {
        sf_zrange *nr = realloc(r, (cap + 1) * sizeof *r);
        if (!nr) {
            free(r);
            return sf_error_set(err, SF_E_NOMEM, "out of memory");
        }
        r = nr;
    }
    r[count].start = range_start;
    r[count].end = size;
    r[count].prev = count ? cut_prev : range_start;
    count++;
    *ranges = r;
    *n = count;
    if (units)
        *units = nunits;
    return 0;
}

/* ---- the reader -------------------------------------------------------- */

struct sf_zreader {
    int fd;
    int own_fd;
    int stream; /* sequential read() of a descriptor */
    char *path;
    sf_codec codec;
    z_stream z;
    int z_live;
    ZSTD_DStream *zd;
    int unit_done; /* the codec ended a member/frame and holds nothing */
    unsigned char *in;
    size_t in_pos, in_len;
    uint64_t cpos;       /* next compressed offset to read */
    uint64_t climit;     /* read no further while phase < 2 */
    int phase;           /* 0: the unit before the range; 1: the range; 2: past it */
    int in_eof;
    uint64_t cread;      /* compressed bytes read */
    char *buf;
    size_t cap, max_cap, head, scan, tail;
    uint64_t ubase;
    uint64_t ustart, uend;
    int uend_known;
    uint64_t origin; /* decode coordinate of offset 0 */
    uint64_t bytes;  /* owned bytes consumed */
    size_t max_line;
    int started, skip_first, skipping, done, out_eof;
    sf_zrange range;
    /* sf_zreader_next_block: a line read that did not fit, kept for the
     * next call (it stays valid: nothing is decoded before it is taken) */
    int held, held_limit; /* held_limit: an SF_E_LIMIT to report next */
    sf_error held_err;
    const char *held_p;
    size_t held_n;
    uint64_t held_off;
    int failed; /* a sticky error code */
    sf_error ferr;
};

static int zr_failf(sf_zreader *r, int code, sf_error *err, const char *what)
{
    r->failed = code;
    sf_error_set(&r->ferr, code, "%s: %s at compressed byte %" PRIu64, r->path, what,
                 r->cpos - (uint64_t)(r->in_len - r->in_pos));
    if (err)
        *err = r->ferr;
    return code;
}

static int zr_init_codec(sf_zreader *r, sf_error *err)
{
    if (r->codec == SF_CODEC_GZIP) {
        memset(&r->z, 0, sizeof r->z);
        if (inflateInit2(&r->z, 15 + 16) != Z_OK)
            return sf_error_set(err, SF_E_NOMEM, "%s: cannot start zlib", r->path);
        r->z_live = 1;
    } else if (r->codec == SF_CODEC_ZSTD) {
        r->zd = ZSTD_createDStream();
        if (!r->zd || ZSTD_isError(ZSTD_initDStream(r->zd)))
            return sf_error_set(err, SF_E_NOMEM, "%s: cannot start zstd", r->path);
    } else if (r->codec != SF_CODEC_NONE) {
        return sf_error_set(err, SF_E_INVAL, "%s: %s-compressed input is not supported (gzip "
                            "and zstd are)", r->path, sf_codec_name(r->codec));
    }
    r->unit_done = 1;
    return 0;
}

static int zr_alloc(sf_zreader **out, const char *name, size_t buf_size, size_t max_line,
                    sf_error *err)
{
    sf_zreader *r = calloc(1, sizeof *r);
    if (!r)
        return sf_error_set(err, SF_E_NOMEM, "out of memory");
    r->fd = -1;
    r->max_line = max_line ? max_line : ZR_DEFAULT_MAX_LINE;
    r->cap = buf_size ? buf_size : ZR_DEFAULT_BUF;
    r->max_cap = r->max_line + 2 > r->cap ? r->max_line + 2 : r->cap;
    r->path = strdup(name);
    r->buf = malloc(r->cap);
    r->in = malloc(ZR_IN_BUF);
    if (!r->path || !r->buf || !r->in) {
        sf_zreader_close(r);
        return sf_error_set(err, SF_E_NOMEM, "out of memory");
    }
    *out = r;
    return 0;
}

int sf_zreader_open(sf_zreader **out, const char *path, sf_codec codec, const sf_zrange *range,
                    size_t buf_size, size_t max_line, sf_error *err)
{
    sf_zreader *r = NULL;
    int rc = zr_alloc(&r, path, buf_size, max_line, err);
    if (rc)
        return rc;
    r->codec = codec;
    r->range = *range;
    if ((rc = zr_init_codec(r, err)) != 0) {
        sf_zreader_close(r);
        return rc;
    }
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        rc = sf_error_set(err, SF_E_IO, "cannot open '%s': %s", path, strerror(errno));
        sf_zreader_close(r);
        return rc;
    }
    r->own_fd = 1;
    (void)posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    r->cpos = range->prev;
    if (range->prev < range->start) {
        r->phase = 0;
        r->climit = range->start;
    } else {
        r->phase = 1;
        r->climit = range->end;
    }
    *out = r;
    return 0;
}

int sf_zreader_open_fd(sf_zreader **out, int fd, const char *name, size_t buf_size,
                       size_t max_line, sf_error *err)
{
    sf_zreader *r = NULL;
    int rc = zr_alloc(&r, name, buf_size, max_line, err);
    if (rc)
        return rc;
    r->fd = fd;
    r->stream = 1;
    r->phase = 2; /* no limit: the whole stream is the range */
    /* Detect from the first bytes read; they stay in the input buffer. */
    while (r->in_len < SF_CODEC_MAGIC_LEN) {
        ssize_t k = read(fd, r->in + r->in_len, ZR_IN_BUF - r->in_len);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            rc = sf_error_set(err, SF_E_IO, "%s: read failed: %s", name, strerror(errno));
            sf_zreader_close(r);
            return rc;
        }
        if (k == 0) {
            r->in_eof = 1;
            break;
        }
        r->in_len += (size_t)k;
        r->cread += (uint64_t)k;
    }
    r->cpos = r->in_len;
    r->codec = sf_codec_detect(r->in, r->in_len);
    if ((rc = zr_init_codec(r, err)) != 0) {
        sf_zreader_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

sf_codec sf_zreader_codec(const sf_zreader *r) { return r->codec; }
uint64_t sf_zreader_ubytes(const sf_zreader *r) { return r->bytes; }
uint64_t sf_zreader_cbytes(const sf_zreader *r) { return r->cread; }

void sf_zreader_close(sf_zreader *r)
{
    if (!r)
        return;
    if (r->own_fd && r->fd >= 0)
        close(r->fd);
    if (r->z_live)
        inflateEnd(&r->z);
    ZSTD_freeDStream(r->zd);
    free(r->in);
    free(r->buf);
    free(r->path);
    free(r);
}

/* Refills the compressed buffer. Returns 1 with bytes, 0 when nothing more
 * may be read now (the limit or the end of input), or SF_E_IO. */
static int zr_fill_in(sf_zreader *r, sf_error *err)
{
    if (r->in_pos < r->in_len)
        return 1;
    if (r->in_eof)
        return 0;
    size_t want = ZR_IN_BUF;
    if (!r->stream && r->phase < 2) {
        if (r->cpos >= r->climit)
            return 0;
        if (r->climit - r->cpos < want)
            want = (size_t)(r->climit - r->cpos);
    }
    ssize_t k;
    for (;;) {
        k = r->stream ? read(r->fd, r->in, want) : pread(r->fd, r->in, want, (off_t)r->cpos);
        if (k >= 0 || errno != EINTR)
            break;
    }
    if (k < 0) {
        r->failed = SF_E_IO;
        sf_error_set(&r->ferr, SF_E_IO, "%s: read at compressed byte %" PRIu64 ": %s", r->path,
                     r->cpos, strerror(errno));
        if (err)
            *err = r->ferr;
        return SF_E_IO;
    }
    if (k == 0) {
        r->in_eof = 1;
        return 0;
    }
    r->in_pos = 0;
    r->in_len = (size_t)k;
    r->cpos += (uint64_t)k;
    r->cread += (uint64_t)k;
    return 1;
}

/* Runs the codec from the input buffer into buf[tail, cap). */
static int zr_decode(sf_zreader *r, sf_error *err)
{
    size_t avail_in = r->in_len - r->in_pos, space = r->cap - r->tail;
    if (r->codec == SF_CODEC_NONE) {
        size_t k = avail_in < space ? avail_in : space;
        memcpy(r->buf + r->tail, r->in + r->in_pos, k);
        r->in_pos += k;
        r->tail += k;
        r->unit_done = 1;
        return 0;
    }
    if (r->codec == SF_CODEC_GZIP) {
        if (r->unit_done && avail_in) {
            /* Another member follows: it must be gzip too. */
            if (r->in[r->in_pos] != 0x1F)
                return zr_failf(r, SF_E_PARSE, err, "bytes after the last gzip member");
            inflateReset(&r->z);
            r->unit_done = 0;
        }
        r->z.next_in = r->in + r->in_pos;
        r->z.avail_in = (uInt)avail_in;
        r->z.next_out = (Bytef *)r->buf + r->tail;
        r->z.avail_out = (uInt)space;
        int zrc = inflate(&r->z, Z_NO_FLUSH);
        r->in_pos = r->in_len - r->z.avail_in;
        r->tail = r->cap - r->z.avail_out;
        if (zrc == Z_STREAM_END)
            r->unit_done = 1;
        else if (zrc == Z_BUF_ERROR && avail_in == 0)
            return 0;
        else if (zrc != Z_OK && zrc != Z_BUF_ERROR)
            return zr_failf(r, SF_E_PARSE, err,
                            zrc == Z_MEM_ERROR ? "out of memory in zlib" : "corrupt gzip data");
        return 0;
    }
    ZSTD_inBuffer ib = {r->in + r->in_pos, avail_in, 0};
    ZSTD_outBuffer ob = {r->buf + r->tail, space, 0};
    size_t zrc = ZSTD_decompressStream(r->zd, &ob, &ib);
    if (ZSTD_isError(zrc)) {
        sf_error_set(&r->ferr, SF_E_PARSE, "%s: corrupt zstd data (%s) at compressed byte %" PRIu64,
                     r->path, ZSTD_getErrorName(zrc), r->cpos - (r->in_len - r->in_pos));
        r->failed = SF_E_PARSE;
        if (err)
            *err = r->ferr;
        return SF_E_PARSE;
    }
    r->in_pos += ib.pos;
    r->tail += ob.pos;
    r->unit_done = zrc == 0;
    return 0;
}

/* Decodes more into buf[tail, cap) (which must have room). Sets out_eof
 * when the stream ended; records the boundaries U_s and U_e. Returns 0 or
 * an error. */
static int zr_produce(sf_zreader *r, sf_error *err)
{
    size_t before = r->tail;
    for (;;) {
        int got = zr_fill_in(r, err);
        if (got < 0)
            return got;
        if (got > 0) {
            int rc = zr_decode(r, err);
            if (rc)
                return rc;
        } else if (r->codec != SF_CODEC_NONE && !r->unit_done && r->tail < r->cap) {
            /* No input now: let the codec flush what it holds. */
            size_t t = r->tail;
            int rc = zr_decode(r, err);
            if (rc)
                return rc;
            if (r->tail == t && !r->unit_done) {
                /* Stuck at the limit: the file ends there, or the range's
                 * end is not a unit boundary. */
                unsigned char one;
                if (!r->in_eof && !r->stream && pread_full(r->fd, &one, 1, r->cpos) == 0)
                    r->in_eof = 1;
                if (r->in_eof)
                    return zr_failf(r, SF_E_PARSE, err, "compressed stream cut short");
                return zr_failf(r, SF_E_PARSE, err, "no unit boundary");
            }
        }
        if (r->in_pos == r->in_len && r->unit_done && r->phase < 2 &&
            (r->cpos >= r->climit || r->in_eof)) {
            /* A boundary: everything before the limit is decoded. */
            uint64_t at = r->ubase + r->tail;
            if (r->phase == 0) {
                r->ustart = at;
                r->phase = 1;
                r->climit = r->range.end;
                if (at == 0)
                    return zr_failf(r, SF_E_INVAL, err, "the unit before the range is empty");
            } else {
                r->uend = at;
                r->uend_known = 1;
                r->phase = 2;
            }
            continue;
        }
        if (got == 0 && r->in_eof && r->unit_done) {
            if (!r->uend_known) {
                r->uend = r->ubase + r->tail;
                r->uend_known = 1;
            }
            r->out_eof = 1;
            return 0;
        }
        if (r->tail > before || r->tail == r->cap)
            return 0;
    }
}

/* Makes room: moves buf[keep, tail) to buf[0] (keep <= head). */
static void zr_compact(sf_zreader *r, size_t keep)
{
    if (keep == 0)
        return;
    memmove(r->buf, r->buf + keep, r->tail - keep);
    r->ubase += keep;
    r->head -= keep;
    r->scan -= keep;
    r->tail -= keep;
}

/* Decodes more with the pending bytes kept; grows the buffer when a line
 * fills it. Returns 0 (maybe with out_eof set) or an error. */
static int zr_more(sf_zreader *r, sf_error *err)
{
    if (r->out_eof)
        return 0;
    zr_compact(r, r->head);
    if (r->tail == r->cap) {
        if (r->cap >= r->max_cap)
            return 0; /* the caller sees a full buffer: a line too long */
        size_t nc = r->cap * 2 < r->max_cap ? r->cap * 2 : r->max_cap;
        char *nb = realloc(r->buf, nc);
        if (!nb)
            return sf_error_set(err, SF_E_NOMEM, "out of memory");
        r->buf = nb;
        r->cap = nc;
    }
    return zr_produce(r, err);
}

/* Decodes the unit before the range, keeping only its last byte, and
 * places head at U_s. */
static int zr_start(sf_zreader *r, sf_error *err)
{
    while (r->phase == 0) {
        if (r->tail > 1) {
            r->head = r->scan = r->tail - 1;
            zr_compact(r, r->head);
        }
        if (r->tail == r->cap)
            zr_compact(r, r->tail - 1);
        int rc = zr_produce(r, err);
        if (rc)
            return rc;
        if (r->out_eof && r->phase == 0)
            return zr_failf(r, SF_E_PARSE, err, "stream ended before the range");
    }
    size_t at = (size_t)(r->ustart - r->ubase);
    r->head = r->scan = at;
    if (r->ustart > 0) {
        r->skip_first = r->buf[at - 1] != '\n';
    } else {
        while (r->tail - r->head < 3 && !r->out_eof) {
            int rc = zr_more(r, err);
            if (rc)
                return rc;
        }
        if (r->tail - r->head >= 3 && memcmp(r->buf + r->head, "\xEF\xBB\xBF", 3) == 0) {
            r->head += 3;
            r->scan = r->head;
            r->bytes += 3;
        }
    }
    r->origin = r->ustart;
    r->started = 1;
    return 0;
}

/* SF_E_LIMIT for a line over max_line at offset, in io/range_reader's
 * words. The byte is named only where offsets are the file's (the first
 * range, a stream): elsewhere they count from the range, and the caller
 * knows the place. */
static int zr_too_long(sf_zreader *r, uint64_t offset, sf_error *err)
{
    if (r->ustart == 0)
        return sf_error_set(err, SF_E_LIMIT, "%s: byte %" PRIu64 ": line longer than %zu "
                            "bytes (--max-line-bytes)", r->path, offset, r->max_line);
    return sf_error_set(err, SF_E_LIMIT, "%s: line longer than %zu bytes (--max-line-bytes)",
                        r->path, r->max_line);
}

int sf_zreader_next(sf_zreader *r, const char **line, size_t *len, uint64_t *offset,
                    sf_error *err)
{
    if (r->failed) {
        if (err)
            *err = r->ferr;
        return r->failed;
    }
    if (r->done)
        return 0;
    int rc;
    if (!r->started && (rc = zr_start(r, err)) != 0)
        return rc;
    for (;;) {
        /* Past the partial first line (it belongs to the range before),
         * or past a line over max_line. */
        while (r->skip_first || r->skipping) {
            char *nl = memchr(r->buf + r->head, '\n', r->tail - r->head);
            if (nl) {
                size_t skipped = (size_t)(nl + 1 - (r->buf + r->head));
                if (r->skipping)
                    r->bytes += skipped;
                r->head = r->scan = (size_t)(nl + 1 - r->buf);
                if (r->skip_first)
                    r->origin = r->ubase + r->head;
                r->skip_first = r->skipping = 0;
                break;
            }
            if (r->skipping)
                r->bytes += r->tail - r->head;
            r->head = r->scan = r->tail;
            if (r->out_eof) {
                r->done = 1;
                return 0;
            }
            if ((rc = zr_more(r, err)) != 0)
                return rc;
        }
        uint64_t p = r->ubase + r->head;
        if (r->head == r->tail && !r->out_eof && !(r->uend_known && p >= r->uend)) {
            if ((rc = zr_more(r, err)) != 0)
                return rc;
            continue;
        }
        if ((r->uend_known && p >= r->uend) || (r->head == r->tail && r->out_eof)) {
            r->done = 1;
            return 0;
        }
        char *nl = memchr(r->buf + r->scan, '\n', r->tail - r->scan);
        if (!nl && !r->out_eof) {
            r->scan = r->tail;
            size_t pending = r->tail - r->head;
            if (pending > r->max_line + 1) {
                /* Too long: skip the rest of it. */
                *offset = p - r->origin;
                r->skipping = 1;
                r->bytes += pending;
                r->head = r->scan = r->tail;
                return zr_too_long(r, *offset, err);
            }
            if ((rc = zr_more(r, err)) != 0)
                return rc;
            continue;
        }
        char *s = r->buf + r->head;
        size_t n = nl ? (size_t)(nl - s) : r->tail - r->head;
        size_t adv = nl ? n + 1 : n;
        if (n > r->max_line + (n && s[n - 1] == '\r')) {
            *offset = p - r->origin;
            r->bytes += adv;
            r->head = r->scan = r->head + adv;
            return zr_too_long(r, *offset, err);
        }
        r->head += adv;
        r->scan = r->head;
        r->bytes += adv;
        if (n && s[n - 1] == '\r')
            n--;
        *line = s;
        *len = n;
        *offset = p - r->origin;
        return 1;
    }
}

int sf_zreader_next_block(sf_zreader *r, char *dst, size_t cap, size_t *used, uint64_t *offset,
                          sf_error *err)
{
    uint64_t lines;
    return sf_zreader_fill_block(r, dst, cap, cap, used, offset, &lines, err);
}

int sf_zreader_fill_block(sf_zreader *r, char *dst, size_t cap, size_t target, size_t *used,
                          uint64_t *offset, uint64_t *lines, sf_error *err)
{
    *used = 0;
    *lines = 0;
    if (r->held_limit) {
        r->held_limit = 0;
        *offset = r->held_off;
        if (err)
            *err = r->held_err;
        return SF_E_LIMIT;
    }
    for (;;) {
        const char *p;
        size_t raw;
        uint64_t off;
        if (r->held) {
            p = r->held_p;
            raw = r->held_n;
            off = r->held_off;
            r->held = 0;
        } else {
            const char *line;
            size_t len;
            int rc = sf_zreader_next(r, &line, &len, &off, err);
            if (rc == SF_E_LIMIT) {
                if (!*used) {
                    *offset = off;
                    return rc;
                }
                /* Send the lines before it first. */
                r->held_limit = 1;
                r->held_off = off;
                if (err)
                    r->held_err = *err;
                return 1;
            }
            if (rc <= 0)
                return *used ? 1 : rc;
            p = line;
            raw = (size_t)(r->buf + r->head - line); /* as it was: '\r', '\n' too */
        }
        if (*used + raw > cap || (*used && *used + raw > target)) {
            if (!*used)
                return sf_error_set(err, SF_E_INVAL, "%s: a block of %zu bytes cannot hold a "
                                    "line of %zu", r->path, cap, raw);
            r->held = 1;
            r->held_p = p;
            r->held_n = raw;
            r->held_off = off;
            return 1;
        }
        if (!*used)
            *offset = off;
        memcpy(dst + *used, p, raw);
        *used += raw;
        (*lines)++;
        if (*used >= target)
            return 1;
    }
}

int sf_zblock_next_line(const char *block, size_t n, size_t *pos, const char **line,
                        size_t *len, uint64_t *rel)
{
    if (*pos >= n)
        return 0;
    const char *s = block + *pos;
    const char *nl = memchr(s, '\n', n - *pos);
    size_t k = nl ? (size_t)(nl - s) : n - *pos;
    *line = s;
    *rel = *pos;
    *pos += nl ? k + 1 : k;
    *len = k && s[k - 1] == '\r' ? k - 1 : k;
    return 1;
}

int sf_zcount_before(const char *path, sf_codec codec, uint64_t cstart, uint64_t *lines,
                     uint64_t *ubytes, sf_error *err)
{
    *lines = *ubytes = 0;
    if (cstart == 0)
        return 0;
    sf_zrange before = {0, cstart, 0};
    sf_zreader *r;
    int rc = sf_zreader_open(&r, path, codec, &before, 0, 0, err);
    if (rc)
        return rc;
    const char *line;
    size_t len;
    uint64_t off, n = 0;
    while ((rc = sf_zreader_next(r, &line, &len, &off, err)) == 1 || rc == SF_E_LIMIT)
        n++;
    if (!rc) {
        *lines = n;
        *ubytes = sf_zreader_ubytes(r);
    }
    sf_zreader_close(r);
    return rc;
}

/* csv.c - RFC 4180 CSV writer (buffered, write(2) in 1 MiB blocks) and
 * in-memory reader.
 *
 * Writer invariant: after the first failed write nothing more is written;
 * the errno is kept and reported by sf_csv_writer_close(), so row code never
 * checks errors.
 * Reader invariant: r->pos is always at the start of a record (or at len);
 * r->line is the 1-based line of r->pos and r->line_start the offset where
 * that line begins, so every error can name line, column and byte.
 */
#include "io/csv.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>
#include <zstd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "core/bytes.h"
#include "core/fmt.h"
#include "core/value_text.h"
#include "io/fsutil.h"

#define CSV_WBUF ((size_t)1 << 20)
#define CSV_SLACK 8 /* bytes past CSV_WBUF a row may scribble on (never written out) */
#define CSV_ZBUF ((size_t)256 << 10) /* compressed bytes between write(2)s */

struct sf_csv_writer {
    int fd;
    int err_no;    /* first write/fsync/close error, 0 if none */
    int zfail;     /* the codec failed (its message is in zmsg) */
    int row_open;  /* a field was written to the current row */
    char *path;
    char *buf;     /* text not yet written (or compressed) */
    size_t len;
    uint64_t written; /* bytes in the file */
    sf_csv_codec codec;
    int sync_later; /* close starts the writeback; the caller fsyncs (sf_csv_options) */
    char *zbuf;    /* compressed output, CSV_ZBUF bytes (owned; NULL when plain) */
    z_stream gz;   /* gzip: deflate state (initialised when codec is GZIP) */
    ZSTD_CCtx *zc; /* zstd: owned */
    char zmsg[128];
};

int sf_csv_parse_compression(const char *text, sf_csv_options *opt, sf_error *err)
{
    opt->codec = SF_CSV_PLAIN;
    opt->level = 0;
    opt->sync_later = 0;
    if (!text || strcmp(text, "none") == 0)
        return 0;
    int level = -1;
    char extra = 0;
    if (strcmp(text, "gzip") == 0) {
        opt->codec = SF_CSV_GZIP;
        opt->level = 6;
        return 0;
    }
    if (strcmp(text, "zstd") == 0) {
        opt->codec = SF_CSV_ZSTD;
        opt->level = 3;
        return 0;
    }
    if (sscanf(text, "gzip:%d%c", &level, &extra) == 1 && level >= 1 && level <= 9) {
        opt->codec = SF_CSV_GZIP;
        opt->level = level;
        return 0;
    }
    if (sscanf(text, "zstd:%d%c", &level, &extra) == 1 && level >= 1 && level <= 22) {
        opt->codec = SF_CSV_ZSTD;
        opt->level = level;
        return 0;
    }
    return sf_error_set(err, SF_E_INVAL,
                        "'%s' is not a csv codec: must be none, gzip, gzip:N (N in 1..9), "
                        "zstd or zstd:N (N in 1..22)", text);
}

const char *sf_csv_ext(const sf_csv_options *opt)
{
    if (!opt)
        return "csv";
    return opt->codec == SF_CSV_GZIP ? "csv.gz" : opt->codec == SF_CSV_ZSTD ? "csv.zst" : "csv";
}

static void csv_write_all(sf_csv_writer *w, const char *p, size_t n)
{
    while (n > 0 && !w->err_no) {
        ssize_t k = write(w->fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            w->err_no = errno;
            return;
        }
        p += k;
        n -= (size_t)k;
        w->written += (uint64_t)k;
    }
}

/* Compresses p[0..n) into the file; with end set, also ends the gzip
 * member or zstd frame. Output goes through zbuf, CSV_ZBUF bytes at a time. */
static void csv_deflate(sf_csv_writer *w, const char *p, size_t n, int end)
{
    if (w->codec == SF_CSV_GZIP) {
        w->gz.next_in = (Bytef *)p;
        w->gz.avail_in = (uInt)n; /* n <= CSV_WBUF */
        for (;;) {
            w->gz.next_out = (Bytef *)w->zbuf;
            w->gz.avail_out = (uInt)CSV_ZBUF;
            int zr = deflate(&w->gz, end ? Z_FINISH : Z_NO_FLUSH);
            if (zr == Z_STREAM_ERROR) {
                w->zfail = 1;
                snprintf(w->zmsg, sizeof w->zmsg, "gzip: deflate failed");
                return;
            }
            csv_write_all(w, w->zbuf, CSV_ZBUF - w->gz.avail_out);
            if (w->err_no)
                return;
            if (end ? zr == Z_STREAM_END : w->gz.avail_in == 0 && w->gz.avail_out != 0)
                return;
        }
    }
    ZSTD_inBuffer in = {p, n, 0};
    for (;;) {
        ZSTD_outBuffer out = {w->zbuf, CSV_ZBUF, 0};
        size_t left = ZSTD_compressStream2(w->zc, &out, &in, end ? ZSTD_e_end : ZSTD_e_continue);
        if (ZSTD_isError(left)) {
            w->zfail = 1;
            snprintf(w->zmsg, sizeof w->zmsg, "zstd: %s", ZSTD_getErrorName(left));
            return;
        }
        csv_write_all(w, w->zbuf, out.pos);
        if (w->err_no)
            return;
        if (end ? left == 0 : in.pos == in.size)
            return;
    }
}

static void csv_flush(sf_csv_writer *w)
{
    if (w->codec == SF_CSV_PLAIN)
        csv_write_all(w, w->buf, w->len);
    else if (!w->zfail && !w->err_no)
        csv_deflate(w, w->buf, w->len, 0);
    w->len = 0;
}

static void csv_put(sf_csv_writer *w, const char *p, size_t n)
{
    if (w->err_no)
        return;
    if (n > CSV_WBUF - w->len) {
        csv_flush(w);
        if (n >= CSV_WBUF) {
            if (w->codec == SF_CSV_PLAIN) {
                csv_write_all(w, p, n);
                return;
            }
            for (size_t k; n > 0 && !w->zfail && !w->err_no; p += k, n -= k) {
                k = n < CSV_WBUF ? n : CSV_WBUF;
                csv_deflate(w, p, k, 0);
            }
            return;
        }
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void csv_putc(sf_csv_writer *w, char c)
{
    if (w->len == CSV_WBUF)
        csv_flush(w);
    if (!w->err_no)
        w->buf[w->len++] = c;
}

/* One write buffer kept from a closed writer for the next one: a run
 * writes its partitions' files one after another, and glibc gives a
 * freed 1 MiB buffer back to the kernel, so each file's fresh one
 * faulted in 256 pages (S3: 1 in 10 of the run's page faults). Atomic,
 * so writers on several threads stay safe (each takes its own). */
static _Atomic(char *) spare_wbuf;

static char *wbuf_take(void)
{
    char *b = atomic_exchange(&spare_wbuf, NULL);
    return b ? b : malloc(CSV_WBUF + CSV_SLACK);
}

static void wbuf_give(char *b)
{
    if (b)
        free(atomic_exchange(&spare_wbuf, b)); /* the one kept before, if any */
}

static void csv_writer_free(sf_csv_writer *w)
{
    if (w->codec == SF_CSV_GZIP)
        deflateEnd(&w->gz);
    ZSTD_freeCCtx(w->zc);
    free(w->zbuf);
    free(w->path);
    wbuf_give(w->buf);
    free(w);
}

/* Starts the codec of a writer whose path and buffers exist. */
static int csv_codec_start(sf_csv_writer *w, const sf_csv_options *opt, sf_error *err)
{
    if (!opt || opt->codec == SF_CSV_PLAIN)
        return 0;
    w->zbuf = malloc(CSV_ZBUF);
    if (!w->zbuf)
        return sf_error_set(err, SF_E_NOMEM, "%s: out of memory for the compression buffer",
                            w->path);
    if (opt->codec == SF_CSV_GZIP) {
        /* windowBits 15 + 16: a gzip header and trailer around deflate. */
        if (deflateInit2(&w->gz, opt->level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            return sf_error_set(err, SF_E_INTERNAL, "%s: gzip: cannot start the compressor",
                                w->path);
        w->codec = SF_CSV_GZIP;
        return 0;
    }
    w->zc = ZSTD_createCCtx();
    if (!w->zc)
        return sf_error_set(err, SF_E_NOMEM, "%s: out of memory for the zstd compressor",
                            w->path);
    size_t zr = ZSTD_CCtx_setParameter(w->zc, ZSTD_c_compressionLevel, opt->level);
    if (!ZSTD_isError(zr))
        zr = ZSTD_CCtx_setParameter(w->zc, ZSTD_c_checksumFlag, 1);
    if (ZSTD_isError(zr))
        return sf_error_set(err, SF_E_INTERNAL, "%s: zstd: %s", w->path, ZSTD_getErrorName(zr));
    w->codec = SF_CSV_ZSTD;
    return 0;
}

int sf_csv_writer_open(sf_csv_writer **out, const char *path, sf_error *err)
{
    return sf_csv_writer_open_opt(out, path, NULL, err);
}

int sf_csv_writer_open_opt(sf_csv_writer **out, const char *path, const sf_csv_options *opt,
                           sf_error *err)
{
    *out = NULL;
    sf_csv_writer *w = calloc(1, sizeof *w);
    if (!w)
        return sf_error_set(err, SF_E_NOMEM, "%s: out of memory", path);
    w->fd = -1;
    w->path = strdup(path);
    w->buf = wbuf_take();
    if (!w->path || !w->buf) {
        free(w->path);
        wbuf_give(w->buf);
        free(w);
        return sf_error_set(err, SF_E_NOMEM, "%s: out of memory for the write buffer", path);
    }
    w->sync_later = opt && opt->sync_later;
    int rc = csv_codec_start(w, opt, err);
    if (rc) {
        csv_writer_free(w);
        return rc;
    }
    w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (w->fd < 0) {
        int e = errno;
        csv_writer_free(w);
        return sf_error_set(err, SF_E_IO, "cannot create '%s': %s", path, strerror(e));
    }
    *out = w;
    return 0;
}

static void csv_separate(sf_csv_writer *w)
{
    if (w->row_open)
        csv_putc(w, ',');
    w->row_open = 1;
}

/* The bytes that make a field quoted. */
static const unsigned char csv_special[256] = {['\n'] = 1, ['\r'] = 1, ['"'] = 1, [','] = 1};

/* 1 if a byte of the 8 in x is ',', '"', LF or CR: v has a zero byte
 * exactly when (v - 0x01..) & ~v & 0x80.. is not zero, and a byte below
 * n (n <= 128) when (v - n * 0x01..) & ~v & 0x80.. is not. The four are
 * below '-' (0x2d), so a word of letters and digits (ids, names) is
 * cleared by that one test. */
static inline int special_in_word(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    if (!((x - ones * 0x2d) & ~x & high))
        return 0;
    uint64_t a = x ^ (ones * ','), b = x ^ (ones * '"'), c = x ^ (ones * '\n'),
             d = x ^ (ones * '\r');
    return ((((a - ones) & ~a) | ((b - ones) & ~b) | ((c - ones) & ~c) | ((d - ones) & ~d)) &
            high) != 0;
}

/* The empty string is quoted ("") so that an empty field means NULL only:
 * loaders (DuckDB, Spark, pandas) read an empty field as NULL. Sixteen
 * bytes at a time where SSE2 is there (every x86-64), the last sixteen
 * overlapping; 8 to 15 bytes as two overlapping words; shorter ones byte by
 * byte. Never reads outside p[0..n). */
static inline __attribute__((always_inline)) int csv_needs_quotes(const char *p, size_t n)
{
    if (n == 0)
        return 1;
    if (n < 8) {
        for (size_t i = 0; i < n; i++) {
            if (csv_special[(unsigned char)p[i]])
                return 1;
        }
        return 0;
    }
    if (n < 16) {
        uint64_t x, y;
        memcpy(&x, p, 8);
        memcpy(&y, p + n - 8, 8);
        return special_in_word(x) || special_in_word(y);
    }
#ifdef __SSE2__
    const __m128i comma = _mm_set1_epi8(','), quote = _mm_set1_epi8('"'),
                  lf = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');
    for (size_t i = 0;; i += 16) {
        if (i + 16 > n)
            i = n - 16; /* the last block overlaps the one before */
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(p + i));
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, comma), _mm_cmpeq_epi8(x, quote)),
                                   _mm_or_si128(_mm_cmpeq_epi8(x, lf), _mm_cmpeq_epi8(x, cr)));
        if (_mm_movemask_epi8(hit))
            return 1;
        if (i + 16 == n)
            return 0;
    }
#else
    for (size_t i = 0;; i += 8) {
        if (i + 8 > n)
            i = n - 8;
        uint64_t x;
        memcpy(&x, p + i, 8);
        if (special_in_word(x))
            return 1;
        if (i + 8 == n)
            return 0;
    }
#endif
}

void sf_csv_write_field(sf_csv_writer *w, const char *p, size_t n)
{
    csv_separate(w);
    if (!csv_needs_quotes(p, n)) {
        csv_put(w, p, n);
        return;
    }
    csv_putc(w, '"');
    const char *end = p + n;
    while (p < end) {
        const char *q = memchr(p, '"', (size_t)(end - p));
        if (!q) {
            csv_put(w, p, (size_t)(end - p));
            break;
        }
        /* Emit up to and including the quote, then its double. */
        csv_put(w, p, (size_t)(q - p) + 1);
        csv_putc(w, '"');
        p = q + 1;
    }
    csv_putc(w, '"');
}

int sf_csv_needs_quotes(const char *p, size_t n) { return csv_needs_quotes(p, n); }

void sf_csv_write_value(sf_csv_writer *w, const sf_value *v)
{
    if (v->type == SF_STRING) {
        sf_csv_write_field(w, v->u.s.p, v->u.s.n);
        return;
    }
    if (v->type == SF_NULL) { /* an empty field; wide flattened rows are mostly these */
        csv_separate(w);
        return;
    }
    char tmp[SF_FMT_BUF];
    size_t n = sf_value_text_format(v, tmp);
    csv_separate(w);
    csv_put(w, tmp, n);
}

/* The text of a non-NULL v as a field at o (room: sf_csv_field_room);
 * returns the byte after it. */
static inline __attribute__((always_inline)) char *csv_put_value(char *o, const sf_value *v)
{
    switch ((sf_type)v->type) {
    case SF_STRING: {
        const char *p = v->u.s.p;
        size_t k = v->u.s.n;
        if (!csv_needs_quotes(p, k)) {
            sf_bytes_copy(o, p, k);
            return o + k;
        }
        *o++ = '"';
        for (size_t i = 0; i < k; i++) {
            if (p[i] == '"')
                *o++ = '"';
            *o++ = p[i];
        }
        *o++ = '"';
        return o;
    }
    case SF_INT:
        if ((uint64_t)v->u.i < 10) { /* counts are often one digit */
            *o = (char)('0' + v->u.i);
            return o + 1;
        }
        return o + sf_fmt_int(v->u.i, o);
    case SF_DOUBLE:
        if (v->u.d == 0.0) { /* sums of nothing: sf_fmt_double's text, without the call */
            int neg = signbit(v->u.d) != 0;
            memcpy(o, neg ? "-0.0" : "0.0,", 4);
            return o + 3 + neg;
        }
        return o + sf_fmt_double(v->u.d, o);
    default: return o + sf_value_text_format(v, o);
    }
}

size_t sf_csv_format_value(const sf_value *v, char *out)
{
    return v->type == SF_NULL ? 0 : (size_t)(csv_put_value(out, v) - out);
}

size_t sf_csv_format_row(const sf_value *row, size_t n, const int *cols, char *out)
{
    /* Each field is followed by a comma, the last one's then made the
     * newline (an empty row is one newline). */
    char *o = out;
    if (cols) {
        for (size_t c = 0; c < n; c++) {
            const sf_value *v = &row[cols[c]];
            if (v->type != SF_NULL)
                o = csv_put_value(o, v);
            *o++ = ',';
        }
    } else {
        for (size_t c = 0; c < n; c++) {
            if (row[c].type != SF_NULL)
                o = csv_put_value(o, &row[c]);
            *o++ = ',';
        }
    }
    if (o == out)
        o++;
    o[-1] = '\n';
    return (size_t)(o - out);
}

void sf_csv_write_text(sf_csv_writer *w, const char *p, size_t n)
{
    if (n <= CSV_WBUF - w->len && !w->err_no) {
        memcpy(w->buf + w->len, p, n);
        w->len += n;
        return;
    }
    csv_put(w, p, n);
}

/* Rows ahead of the one written whose offset is fetched; their texts
 * half as far. */
#define TEXTS_AHEAD 16

void sf_csv_write_texts(sf_csv_writer *w, const char *text, const uint64_t *at,
                        const uint32_t *ids, const uint32_t *order, size_t n)
{
#define TEXT_ROW(k) (ids ? (size_t)ids[order[k]] : (size_t)order[k])
    for (size_t k = 0; k < n; k++) {
        if (k + TEXTS_AHEAD < n)
            __builtin_prefetch(&at[TEXT_ROW(k + TEXTS_AHEAD)]);
        if (k + TEXTS_AHEAD / 2 < n)
            __builtin_prefetch(text + at[TEXT_ROW(k + TEXTS_AHEAD / 2)]);
        size_t j = TEXT_ROW(k), m = (size_t)(at[j + 1] - at[j]);
        if (m <= CSV_WBUF - w->len && !w->err_no) {
            memcpy(w->buf + w->len, text + at[j], m);
            w->len += m;
        } else {
            csv_put(w, text + at[j], m);
        }
    }
#undef TEXT_ROW
}

void sf_csv_write_row(sf_csv_writer *w, const sf_value *row, size_t n, const int *cols)
{
    /* Fields go straight into the buffer (o, its end kept in locals). The
     * buffer always has room for the row's remaining commas and its
     * newline, so a NULL (most fields of a wide flattened row) is one
     * comma; any other field first makes room for itself, by a flush, and
     * a string that might not fit even then takes sf_csv_write_field's
     * way. */
    if (w->err_no)
        return;
    if (n + 2 > CSV_WBUF) { /* a row wider than the buffer: field by field */
        for (size_t c = 0; c < n; c++)
            sf_csv_write_value(w, &row[cols ? (size_t)cols[c] : c]);
        sf_csv_end_row(w);
        return;
    }
    if (n + 2 > CSV_WBUF - w->len) {
        csv_flush(w);
        if (w->err_no)
            return;
    }
    char *o = w->buf + w->len;
    int sep = w->row_open;
    for (size_t c = 0; c < n; c++) {
        const sf_value *v = &row[cols ? (size_t)cols[c] : c];
        if (v->type == SF_NULL) {
            if (sep)
                *o++ = ',';
            sep = 1;
            continue;
        }
        size_t room = (v->type == SF_STRING ? v->u.s.n * 2 + 4 : SF_FMT_BUF + 2) + (n - c) + 1;
        if (room > (size_t)(w->buf + CSV_WBUF - o)) {
            w->len = (size_t)(o - w->buf);
            csv_flush(w);
            if (w->err_no)
                return;
            o = w->buf + w->len;
            if (room > CSV_WBUF) {
                w->row_open = sep;
                sf_csv_write_field(w, v->u.s.p, v->u.s.n);
                if (w->err_no)
                    return;
                sep = 1;
                /* Room for the rest of the row's commas again. */
                if (n + 2 > CSV_WBUF - w->len) {
                    csv_flush(w);
                    if (w->err_no)
                        return;
                }
                o = w->buf + w->len;
                continue;
            }
        }
        if (sep)
            *o++ = ',';
        sep = 1;
        o = csv_put_value(o, v);
    }
    *o++ = '\n';
    w->len = (size_t)(o - w->buf);
    w->row_open = 0;
}

/* Puts the separators that bring *done up to need at *o: eight commas
 * at a time into the buffer's slack (CSV_SLACK), the pointer moved by the
 * gap. */
static inline void put_commas(char **o, size_t *done, size_t need)
{
    size_t g = need - *done;
    memcpy(*o, ",,,,,,,,", 8);
    for (size_t k = 8; k < g; k += 8)
        memcpy(*o + k, ",,,,,,,,", 8);
    *o += g;
    *done = need;
}

void sf_csv_write_sparse(sf_csv_writer *w, size_t n, const uint64_t *bits,
                         const char *const *text, const uint32_t *len, size_t bytes)
{
    if (w->err_no)
        return;
    /* An open row (fields written before) puts a separator before field
     * 0. done: separators written; field c needs c + shift before it. */
    size_t shift = w->row_open ? 1 : 0, done = 0, total = n + shift;
    w->row_open = 0;
    if (total + bytes + 1 <= CSV_WBUF) {
        /* The whole row fits the buffer: one check for it. */
        if (total + bytes + 1 > CSV_WBUF - w->len) {
            csv_flush(w);
            if (w->err_no)
                return;
        }
        char *o = w->buf + w->len;
        for (size_t word = 0; word * 64 < n; word++) {
            for (uint64_t m = bits[word]; m; m &= m - 1) {
                size_t c = word * 64 + (size_t)__builtin_ctzll(m);
                if (c + shift > done)
                    put_commas(&o, &done, c + shift);
                sf_bytes_copy(o, text[c], len[c]);
                o += len[c];
            }
        }
        if (done + 1 < total)
            put_commas(&o, &done, total - 1);
        *o++ = '\n';
        w->len = (size_t)(o - w->buf);
        return;
    }
    /* A row larger than the buffer: through csv_put, which flushes as it
     * goes. */
    for (size_t word = 0; word * 64 < n; word++) {
        for (uint64_t m = bits[word]; m; m &= m - 1) {
            size_t c = word * 64 + (size_t)__builtin_ctzll(m);
            for (; done < c + shift; done++)
                csv_putc(w, ',');
            csv_put(w, text[c], len[c]);
        }
    }
    for (; done + 1 < total; done++)
        csv_putc(w, ',');
    csv_putc(w, '\n');
}

void sf_csv_end_row(sf_csv_writer *w)
{
    csv_putc(w, '\n');
    w->row_open = 0;
}

int sf_csv_writer_close(sf_csv_writer *w, uint64_t *bytes, sf_error *err)
{
    if (!w)
        return 0;
    csv_flush(w);
    if (w->codec != SF_CSV_PLAIN && !w->zfail && !w->err_no)
        csv_deflate(w, "", 0, 1);
    /* Devices and pipes cannot be synced (EINVAL); that is not a failure
     * of the data already written to them. */
    if (w->sync_later && !w->err_no)
        sf_writeback_start(w->fd);
    else if (!w->err_no && fsync(w->fd) != 0 && errno != EINVAL)
        w->err_no = errno;
    if (close(w->fd) != 0 && !w->err_no && errno != EINTR)
        w->err_no = errno;
    int rc = 0;
    if (w->err_no)
        rc = sf_error_set(err, SF_E_IO, "cannot write '%s': %s", w->path, strerror(w->err_no));
    else if (w->zfail)
        rc = sf_error_set(err, SF_E_IO, "cannot write '%s': %s", w->path, w->zmsg);
    else if (bytes)
        *bytes = w->written;
    csv_writer_free(w);
    return rc;
}

/* ---- reader ---- */

struct sf_csv_reader {
    const char *data;
    size_t len;
    size_t pos;
    char *name;
    int64_t line;       /* line of pos */
    size_t line_start;  /* offset of the start of that line */
    int64_t rec_line;   /* line where the last returned record starts */
    sf_csv_field *fields;
    size_t *boff;       /* per field: offset in buf, or SIZE_MAX if in data */
    size_t fcap;
    char *buf;          /* unescaped text of fields with doubled quotes */
    size_t blen, bcap;
    const char *what;   /* the last syntax error, without its place */
};

sf_csv_reader *sf_csv_reader_new(const char *data, size_t len, const char *name)
{
    sf_csv_reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->name = strdup(name ? name : "csv");
    if (!r->name) {
        free(r);
        return NULL;
    }
    r->data = data;
    r->len = len;
    r->line = 1;
    return r;
}

static int csv_error(sf_csv_reader *r, size_t at, int64_t line, size_t line_start,
                     const char *what, sf_error *err)
{
    r->what = what;
    int rc = sf_error_set(err, SF_E_PARSE, "%s: line %lld (byte %zu): %s", r->name,
                          (long long)line, at, what);
    if (err) {
        err->offset = (int64_t)at;
        err->line = line > (int64_t)0x7fffffff ? 0x7fffffff : (int)line;
        err->column = (int)(at - line_start + 1);
    }
    return rc;
}

static int csv_buf_append(sf_csv_reader *r, const char *p, size_t n)
{
    if (n > r->bcap - r->blen) {
        size_t ncap = r->bcap ? r->bcap : 256;
        while (ncap - r->blen < n)
            ncap *= 2;
        char *nb = realloc(r->buf, ncap);
        if (!nb)
            return -1;
        r->buf = nb;
        r->bcap = ncap;
    }
    memcpy(r->buf + r->blen, p, n);
    r->blen += n;
    return 0;
}

static int csv_push_field(sf_csv_reader *r, size_t nf, const char *p, size_t n,
                          size_t boff, int quoted)
{
    if (nf == r->fcap) {
        size_t ncap = r->fcap ? r->fcap * 2 : 16;
        sf_csv_field *nfld = realloc(r->fields, ncap * sizeof *nfld);
        if (!nfld)
            return -1;
        r->fields = nfld;
        size_t *nboff = realloc(r->boff, ncap * sizeof *nboff);
        if (!nboff)
            return -1;
        r->boff = nboff;
        r->fcap = ncap;
    }
    r->fields[nf].p = p;
    r->fields[nf].n = n;
    r->fields[nf].quoted = quoted;
    r->boff[nf] = boff;
    return 0;
}

/* Counts the newlines of data[from, to) into the line position. */
static void csv_count_lines(sf_csv_reader *r, size_t from, size_t to)
{
    const char *p = r->data + from, *end = r->data + to;
    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        p++;
        r->line++;
        r->line_start = (size_t)(p - r->data);
    }
}

static int csv_parse_record(sf_csv_reader *r, const sf_csv_field **fields, size_t *nfields,
                            sf_error *err)
{
    const char *d = r->data;
    size_t len = r->len, pos = r->pos, nf = 0;
    r->blen = 0;
    for (;;) {
        /* pos is at the start of a field. */
        if (pos < len && d[pos] == '"') {
            size_t open = pos;
            int64_t open_line = r->line;
            size_t open_line_start = r->line_start;
            size_t seg = pos + 1, boff = SIZE_MAX;
            const char *close;
            for (;;) {
                const char *q = memchr(d + seg, '"', len - seg);
                /* A pair "" inside the field is one literal quote. */
                if (q && (size_t)(q - d) + 1 < len && q[1] == '"') {
                    if (boff == SIZE_MAX)
                        boff = r->blen;
                    if (csv_buf_append(r, d + seg, (size_t)(q - d) + 1 - seg) != 0)
                        goto nomem;
                    seg = (size_t)(q - d) + 2;
                    continue;
                }
                if (!q)
                    return csv_error(r, open, open_line, open_line_start,
                                     "unterminated quoted field", err);
                close = q;
                break;
            }
            size_t cpos = (size_t)(close - d);
            csv_count_lines(r, open + 1, cpos);
            int rc;
            if (boff == SIZE_MAX) {
                rc = csv_push_field(r, nf, d + open + 1, cpos - open - 1, SIZE_MAX, 1);
            } else {
                if (csv_buf_append(r, d + seg, cpos - seg) != 0)
                    goto nomem;
                rc = csv_push_field(r, nf, NULL, r->blen - boff, boff, 1);
            }
            if (rc != 0)
                goto nomem;
            nf++;
            pos = cpos + 1;
            if (pos < len && d[pos] != ',' && d[pos] != '\n' &&
                !(d[pos] == '\r' && pos + 1 < len && d[pos + 1] == '\n'))
                return csv_error(r, pos, r->line, r->line_start,
                                 "unexpected character after closing quote", err);
        } else {
            size_t s = pos;
            while (pos < len) {
                char c = d[pos];
                if (c == ',' || c == '\n')
                    break;
                if (c == '\r') {
                    if (pos + 1 < len && d[pos + 1] == '\n')
                        break;
                    return csv_error(r, pos, r->line, r->line_start,
                                     "carriage return without line feed in unquoted field",
                                     err);
                }
                if (c == '"')
                    return csv_error(r, pos, r->line, r->line_start,
                                     "quote inside unquoted field", err);
                pos++;
            }
            if (csv_push_field(r, nf, d + s, pos - s, SIZE_MAX, 0) != 0)
                goto nomem;
            nf++;
        }
        /* pos is at ',', a row end or the end of data. */
        if (pos < len && d[pos] == ',') {
            pos++;
            continue;
        }
        if (pos < len) {
            pos += d[pos] == '\r' ? 2 : 1;
            r->line++;
            r->line_start = pos;
        }
        break;
    }
    for (size_t i = 0; i < nf; i++)
        if (r->boff[i] != SIZE_MAX)
            r->fields[i].p = r->buf + r->boff[i];
    r->pos = pos;
    *fields = r->fields;
    *nfields = nf;
    return 1;
nomem:
    return sf_error_set(err, SF_E_NOMEM, "%s: line %lld: out of memory", r->name,
                        (long long)r->line);
}

int sf_csv_reader_next(sf_csv_reader *r, const sf_csv_field **fields, size_t *nfields,
                       sf_error *err)
{
    if (r->pos >= r->len)
        return 0;
    int64_t line = r->line;
    size_t line_start = r->line_start;
    int rc = csv_parse_record(r, fields, nfields, err);
    if (rc < 0) {
        /* Stay at the record start, so a retry reports the same place. */
        r->line = line;
        r->line_start = line_start;
    } else {
        r->rec_line = line;
    }
    return rc;
}

int sf_csv_reader_one_line(sf_csv_reader *r, const char *line, size_t len,
                           const sf_csv_field **fields, size_t *nfields, char *msg, size_t cap)
{
    r->data = line;
    r->len = len;
    r->pos = 0;
    r->line = 1;
    r->line_start = 0;
    sf_error err;
    sf_error_clear(&err);
    int rc = csv_parse_record(r, fields, nfields, &err);
    if (rc == 1 && r->pos < len) /* a record ended by a newline inside the line */
        rc = csv_error(r, r->pos - 1, 1, 0, "a line break inside the line", &err);
    if (rc != SF_E_PARSE)
        return rc;
    if (strcmp(r->what, "unterminated quoted field") == 0)
        snprintf(msg, cap, "quoted field from column %d runs past the end of the line (a "
                 "newline inside a quoted field is not supported in CSV fact inputs)",
                 err.column);
    else
        snprintf(msg, cap, "%s at column %d", r->what, err.column);
    return SF_E_PARSE;
}

int64_t sf_csv_reader_line(const sf_csv_reader *r)
{
    return r->rec_line;
}

void sf_csv_reader_free(sf_csv_reader *r)
{
    if (!r)
        return;
    free(r->fields);
    free(r->boff);
    free(r->buf);
    free(r->name);
    free(r);
}

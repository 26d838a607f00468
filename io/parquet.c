/* parquet.c - the Parquet writer (see parquet.h for the file it makes).
 *
 * Per column and row group the writer keeps: a definition level per row
 * (def), the dictionary indices of the values appended while the
 * dictionary was open (idx), and the PLAIN encoding of the values appended
 * after it closed (plain; booleans as one byte each, packed at page time).
 * fb_row is the first row of the chunk written PLAIN: rows before it go to
 * RLE_DICTIONARY pages, rows from it to PLAIN pages, so a reader sees the
 * dictionary pages first, as the format requires.
 *
 * Invariant: after the first error w->failed holds it and nothing more is
 * written; close reports it.
 */
#include "io/parquet.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/decimal.h"
#include "core/buf.h"
#include "core/fmt.h"
#include "core/hash.h"
#include "io/fsutil.h"
#include "io/parquet_format.h"
#include "io/thrift_compact.h"

#define PQ_PAGE_ROWS 65536            /* rows per data page at most */
#define PQ_PAGE_BYTES ((size_t)1 << 20) /* PLAIN value bytes per data page (soft) */
#define PQ_OBUF ((size_t)1 << 20)     /* output buffer */
#define PQ_DICT_SEED 0x7061727175657431ull
#define PQ_DICT_ENTRY_COST 64 /* bytes a dictionary entry holds beyond its key */
/* The early verdict: once a column chunk's dictionary has taken
 * PQ_DICT_PROBE values (the first chunk that gets that far), a column with
 * more than PQ_DICT_PROBE / PQ_DICT_DISTINCT_DIV distinct values among them
 * (ids, timestamps) is written PLAIN from there on, in this chunk and every
 * later chunk of the file: its dictionary would save little and cost a hash
 * lookup per value. */
#define PQ_DICT_PROBE 1024
#define PQ_DICT_DISTINCT_DIV 2

typedef struct pq_col {
    char *name;
    sf_type type; /* SF_BOOL, SF_INT, SF_DOUBLE, SF_STRING, SF_DATE; SF_DECIMAL for
                     a 16-byte decimal (one of P <= 18 is an SF_INT column) */
    int phys;     /* PQ_* physical type */
    sf_dec_type dec; /* decimal columns: P and S ({0, 0} otherwise) */

    uint8_t *def; /* per row of the row group: 1 present, 0 NULL */
    size_t def_cap;

    uint32_t *idx; /* dictionary indices of present values before fb_row */
    size_t nidx, idx_cap;
    sf_hmap *dict; /* PLAIN bytes of a value (strings: the bytes) -> uint32 index */
    uint64_t dict_bytes; /* PLAIN size of the dictionary page */
    int fallen;          /* the dictionary is closed for this chunk */
    int probed;          /* the early verdict is taken (in this file) */
    int plain_only;      /* ... and it was PLAIN: later chunks have no dictionary */
    uint64_t fb_row;     /* first row written PLAIN */

    sf_buf plain;   /* PLAIN values from fb_row on (bool: one byte each) */
    size_t nplain;

    /* statistics of the chunk */
    uint64_t nulls, nans;
    int has_minmax;
    int64_t imin, imax; /* bool, int64, date */
    sf_i128 decmin, decmax; /* 16-byte decimals: scaled integers */
    double dmin, dmax;
    sf_buf smin, smax;
} pq_col;

struct sf_parquet_writer {
    char *path;
    int fd;
    int failed;        /* first error code, 0 if none */
    sf_error ferr;     /* its message */
    sf_parquet_options opt;
    int codec;         /* thrift codec */
    char **kv_keys, **kv_values;

    size_t ncols;
    pq_col *cols;
    sf_value *gather; /* ncols slots for _append_cols */
    uint64_t rg_rows;  /* rows buffered in the current row group */
    uint64_t rg_bytes; /* their estimated PLAIN size */
    uint64_t rg_mem;   /* memory they hold (levels, indices, dictionaries, PLAIN values) */
    uint64_t rows;     /* rows in finished row groups */
    uint64_t nrg;

    uint64_t offset; /* file offset of the next byte (written + buffered) */
    sf_buf obuf;     /* bytes not yet written */
    sf_buf rgmeta;   /* serialized RowGroup structs, one after another */

    sf_buf page, comp, hdr, levels, chunkmeta; /* scratch */
};

/* ---- options ----------------------------------------------------------- */

void sf_parquet_options_init(sf_parquet_options *o)
{
    memset(o, 0, sizeof *o);
    o->codec = SF_PQ_SNAPPY;
    o->row_group_rows = (uint64_t)1 << 20;
    o->row_group_bytes = (uint64_t)128 << 20;
    o->dict_limit_bytes = (uint64_t)1 << 20;
}

const char *sf_parquet_codec_name(sf_parquet_codec c)
{
    switch (c) {
    case SF_PQ_NONE: return "none";
    case SF_PQ_SNAPPY: return "snappy";
    case SF_PQ_GZIP: return "gzip";
    case SF_PQ_ZSTD: return "zstd";
    }
    return "?";
}

int sf_parquet_parse_codec(const char *text, sf_parquet_options *o, sf_error *err)
{
    static const struct { const char *name; sf_parquet_codec c; int maxlevel; } codecs[] = {
        {"none", SF_PQ_NONE, 0}, {"snappy", SF_PQ_SNAPPY, 0},
        {"gzip", SF_PQ_GZIP, 9}, {"zstd", SF_PQ_ZSTD, 22}};
    const char *colon = strchr(text, ':');
    size_t n = colon ? (size_t)(colon - text) : strlen(text);
    for (size_t i = 0; i < sizeof codecs / sizeof codecs[0]; i++) {
        if (strlen(codecs[i].name) != n || strncmp(text, codecs[i].name, n) != 0)
            continue;
        int level = 0;
        if (colon) {
            if (!codecs[i].maxlevel)
                return sf_error_set(err, SF_E_INVAL,
                                    "compression '%s': %s takes no level", text, codecs[i].name);
            char *end;
            errno = 0;
            long v = strtol(colon + 1, &end, 10);
            if (colon[1] < '0' || colon[1] > '9' || *end || errno || v < 1 ||
                v > codecs[i].maxlevel)
                return sf_error_set(err, SF_E_INVAL,
                                    "compression '%s': the level must be 1..%d", text,
                                    codecs[i].maxlevel);
            level = (int)v;
        }
        o->codec = codecs[i].c;
        o->level = level;
        return 0;
    }
    return sf_error_set(err, SF_E_INVAL,
                        "compression '%s': must be none, snappy, gzip[:1-9] or zstd[:1-22]", text);
}

int sf_parquet_parse_row_group_size(const char *text, sf_parquet_options *o, sf_error *err)
{
    uint64_t rows = o->row_group_rows, bytes = o->row_group_bytes;
    int have_rows = 0, have_bytes = 0;
    const char *p = text;
    for (int item = 0; item < 2; item++) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char part[64];
        if (n == 0 || n >= sizeof part)
            goto bad;
        memcpy(part, p, n);
        part[n] = '\0';
        int unit = part[n - 1] < '0' || part[n - 1] > '9';
        uint64_t v;
        if (sf_parse_size(part, &v) != 0 || v == 0)
            goto bad;
        if (unit ? have_bytes++ : have_rows++)
            goto bad;
        *(unit ? &bytes : &rows) = v;
        if (!comma)
            break;
        if (item == 1)
            goto bad;
        p = comma + 1;
    }
    o->row_group_rows = rows;
    o->row_group_bytes = bytes;
    return 0;
bad:
    return sf_error_set(err, SF_E_INVAL,
                        "--row-group-size '%s': give rows (1000000), a size (128MiB) or both "
                        "(1000000,128MiB), each above 0", text);
}

/* ---- output ------------------------------------------------------------ */

static int pq_fail(sf_parquet_writer *w, int code, const char *fmt, const char *detail)
{
    if (!w->failed) {
        w->failed = code;
        sf_error_set(&w->ferr, code, fmt, w->path, detail);
    }
    return code;
}

static int pq_write_all(sf_parquet_writer *w, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t k = write(w->fd, c, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return pq_fail(w, SF_E_IO, "%s: write failed: %s", strerror(errno));
        }
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

static int pq_flush_obuf(sf_parquet_writer *w)
{
    int rc = w->failed ? w->failed : pq_write_all(w, w->obuf.p, w->obuf.n);
    w->obuf.n = 0;
    return rc;
}

static int pq_out(sf_parquet_writer *w, const void *p, size_t n)
{
    if (w->failed)
        return w->failed;
    w->offset += n;
    if (n >= PQ_OBUF / 4) {
        if (pq_flush_obuf(w) != 0)
            return w->failed;
        return pq_write_all(w, p, n);
    }
    if (sf_buf_append(&w->obuf, p, n) != 0)
        return pq_fail(w, SF_E_NOMEM, "%s: out of memory%s", "");
    if (w->obuf.n >= PQ_OBUF)
        return pq_flush_obuf(w);
    return 0;
}

/* ---- open -------------------------------------------------------------- */

static void pq_col_reset(pq_col *c)
{
    c->nidx = 0;
    sf_hmap_free(c->dict);
    c->dict = NULL;
    c->dict_bytes = 0;
    c->fallen = c->type == SF_BOOL || c->plain_only; /* booleans are always PLAIN */
    c->fb_row = c->fallen ? 0 : UINT64_MAX;
    c->plain.n = 0;
    c->nplain = 0;
    c->nulls = c->nans = 0;
    c->has_minmax = 0;
    c->smin.n = c->smax.n = 0;
}

static void pq_writer_free(sf_parquet_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; w->cols && i < w->ncols; i++) {
        pq_col *c = &w->cols[i];
        free(c->name);
        free(c->def);
        free(c->idx);
        sf_hmap_free(c->dict);
        sf_buf_free(&c->plain);
        sf_buf_free(&c->smin);
        sf_buf_free(&c->smax);
    }
    free(w->cols);
    free(w->gather);
    for (size_t i = 0; i < w->opt.nkv; i++) {
        if (w->kv_keys)
            free(w->kv_keys[i]);
        if (w->kv_values)
            free(w->kv_values[i]);
    }
    free(w->kv_keys);
    free(w->kv_values);
    sf_buf_free(&w->obuf);
    sf_buf_free(&w->rgmeta);
    sf_buf_free(&w->page);
    sf_buf_free(&w->comp);
    sf_buf_free(&w->hdr);
    sf_buf_free(&w->levels);
    sf_buf_free(&w->chunkmeta);
    free(w->path);
    free(w);
}

int sf_parquet_writer_open(sf_parquet_writer **out, const char *path, size_t ncols,
                           const char *const *names, const sf_type *types,
                           const sf_parquet_options *opt, sf_error *err)
{
    *out = NULL;
    sf_parquet_options defaults;
    if (!opt) {
        sf_parquet_options_init(&defaults);
        opt = &defaults;
    }
    if (ncols == 0)
        return sf_error_set(err, SF_E_INVAL, "%s: a Parquet file needs at least one column", path);
    if (opt->row_group_rows == 0 || opt->row_group_bytes == 0)
        return sf_error_set(err, SF_E_INVAL, "%s: row group limits must be positive", path);
    static const int thrift_codec[] = {PQ_CODEC_UNCOMPRESSED, PQ_CODEC_SNAPPY, PQ_CODEC_GZIP,
                                       PQ_CODEC_ZSTD};
    if ((unsigned)opt->codec > SF_PQ_ZSTD)
        return sf_error_set(err, SF_E_INVAL, "%s: unknown codec %d", path, (int)opt->codec);

    sf_parquet_writer *w = calloc(1, sizeof *w);
    if (!w)
        return sf_error_set(err, SF_E_NOMEM, "%s: out of memory", path);
    w->fd = -1;
    w->opt = *opt;
    w->opt.kv_keys = w->opt.kv_values = NULL;
    w->codec = thrift_codec[opt->codec];
    w->path = strdup(path);
    w->ncols = ncols;
    w->cols = calloc(ncols, sizeof *w->cols);
    w->gather = calloc(ncols, sizeof *w->gather);
    if (opt->nkv) {
        w->kv_keys = calloc(opt->nkv, sizeof *w->kv_keys);
        w->kv_values = calloc(opt->nkv, sizeof *w->kv_values);
    }
    if (!w->path || !w->cols || !w->gather || (opt->nkv && (!w->kv_keys || !w->kv_values))) {
        w->opt.nkv = 0;
        pq_writer_free(w);
        return sf_error_set(err, SF_E_NOMEM, "%s: out of memory", path);
    }
    for (size_t i = 0; i < opt->nkv; i++) {
        w->kv_keys[i] = strdup(opt->kv_keys[i] ? opt->kv_keys[i] : "");
        w->kv_values[i] = opt->kv_values[i] ? strdup(opt->kv_values[i]) : NULL;
        if (!w->kv_keys[i] || (opt->kv_values[i] && !w->kv_values[i])) {
            pq_writer_free(w);
            return sf_error_set(err, SF_E_NOMEM, "%s: out of memory", path);
        }
    }
    for (size_t i = 0; i < ncols; i++) {
        pq_col *c = &w->cols[i];
        c->type = types[i] == SF_NULL ? SF_STRING : types[i];
        if (c->type == SF_DECIMAL) {
            if (!opt || !opt->decs) {
                pq_writer_free(w);
                return sf_error_set(err, SF_E_INVAL, "%s: decimal column %zu without its "
                                    "precision and scale", path, i);
            }
            c->dec = opt->decs[i];
            if (c->dec.prec <= PQ_DECIMAL_INT64_MAX_PREC)
                c->type = SF_INT; /* the scaled integer as INT64 */
        }
        switch (c->type) {
        case SF_BOOL: c->phys = PQ_BOOLEAN; break;
        case SF_INT:
        case SF_TIMESTAMP: c->phys = PQ_INT64; break;
        case SF_DOUBLE: c->phys = PQ_DOUBLE; break;
        case SF_STRING: c->phys = PQ_BYTE_ARRAY; break;
        case SF_DATE: c->phys = PQ_INT32; break;
        case SF_DECIMAL: c->phys = PQ_FIXED_LEN_BYTE_ARRAY; break;
        default:
            pq_writer_free(w);
            return sf_error_set(err, SF_E_INVAL, "%s: column %zu has an unknown type %d", path,
                                i, (int)types[i]);
        }
        c->name = strdup(names[i]);
        if (!c->name) {
            pq_writer_free(w);
            return sf_error_set(err, SF_E_NOMEM, "%s: out of memory", path);
        }
        pq_col_reset(c);
    }
    w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (w->fd < 0) {
        int e = errno;
        pq_writer_free(w);
        return sf_error_set(err, e == ENOENT ? SF_E_NOTFOUND : SF_E_IO, "%s: cannot create: %s",
                            path, strerror(e));
    }
    if (pq_out(w, "PAR1", 4) != 0) {
        if (err)
            *err = w->ferr;
        int rc = w->failed;
        close(w->fd);
        pq_writer_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

/* ---- append ------------------------------------------------------------ */

static int bytes_less(const void *a, size_t an, const void *b, size_t bn)
{
    size_t m = an < bn ? an : bn;
    int c = m ? memcmp(a, b, m) : 0;
    return c < 0 || (c == 0 && an < bn);
}

static int pq_set_buf(sf_buf *b, const void *p, size_t n)
{
    b->n = 0;
    return n ? sf_buf_append(b, p, n) : sf_buf_reserve(b, 1);
}

/* Updates the chunk statistics with a present value. */
static int pq_stats(pq_col *c, const sf_value *v)
{
    switch (c->type) {
    case SF_DOUBLE: {
        double d = v->u.d;
        if (isnan(d)) {
            c->nans++;
            return 0;
        }
        if (!c->has_minmax) {
            c->dmin = c->dmax = d;
            c->has_minmax = 1;
        } else {
            if (d < c->dmin)
                c->dmin = d;
            if (d > c->dmax)
                c->dmax = d;
        }
        return 0;
    }
    case SF_STRING: {
        const char *p = v->u.s.p;
        size_t n = v->u.s.n;
        if (!c->has_minmax) {
            c->has_minmax = 1;
            if (pq_set_buf(&c->smin, p, n) || pq_set_buf(&c->smax, p, n))
                return SF_E_NOMEM;
            return 0;
        }
        if (bytes_less(p, n, c->smin.p, c->smin.n) && pq_set_buf(&c->smin, p, n))
            return SF_E_NOMEM;
        if (bytes_less(c->smax.p, c->smax.n, p, n) && pq_set_buf(&c->smax, p, n))
            return SF_E_NOMEM;
        return 0;
    }
    case SF_DECIMAL: { /* one scale per column: the scaled integers order the values */
        sf_i128 x = sf_decimal_get(v);
        if (!c->has_minmax) {
            c->decmin = c->decmax = x;
            c->has_minmax = 1;
        } else {
            if (x < c->decmin)
                c->decmin = x;
            if (x > c->decmax)
                c->decmax = x;
        }
        return 0;
    }
    default: {
        int64_t i = c->type == SF_BOOL ? v->u.b : c->type == SF_DATE ? v->u.date : v->u.i;
        if (!c->has_minmax) {
            c->imin = c->imax = i;
            c->has_minmax = 1;
        } else {
            if (i < c->imin)
                c->imin = i;
            if (i > c->imax)
                c->imax = i;
        }
        return 0;
    }
    }
}

/* The PLAIN bytes of a present value (strings: without the length). */
static const void *pq_value_bytes(const pq_col *c, const sf_value *v, unsigned char *tmp,
                                  size_t *n)
{
    switch (c->type) {
    case SF_BOOL:
        tmp[0] = (unsigned char)(v->u.b != 0);
        *n = 1;
        return tmp;
    case SF_DATE:
        sf_pq_put32(tmp, (uint32_t)v->u.date);
        *n = 4;
        return tmp;
    case SF_INT:
    case SF_TIMESTAMP:
        sf_pq_put64(tmp, (uint64_t)v->u.i);
        *n = 8;
        return tmp;
    case SF_DOUBLE: {
        uint64_t bits;
        memcpy(&bits, &v->u.d, 8);
        sf_pq_put64(tmp, bits);
        *n = 8;
        return tmp;
    }
    case SF_DECIMAL: {
        sf_u128 x = (sf_u128)sf_decimal_get(v);
        for (int k = PQ_DECIMAL_FLBA_LEN - 1; k >= 0; k--, x >>= 8)
            tmp[k] = (unsigned char)x;
        *n = PQ_DECIMAL_FLBA_LEN;
        return tmp;
    }
    default:
        *n = v->u.s.n;
        return v->u.s.p;
    }
}

static int pq_flush_row_group(sf_parquet_writer *w);

/* The dictionary's hash of a value's PLAIN bytes: fixed-width values
 * (4, 8 bytes) as one word through a mixer, longer ones as bytes. */
static uint64_t pq_dict_hash(const void *bytes, size_t n)
{
    if (n == 8 || n == 4) {
        uint64_t x = 0;
        memcpy(&x, bytes, n);
        return sf_hash_u64(x ^ PQ_DICT_SEED);
    }
    return sf_hash_bytes(bytes, n, PQ_DICT_SEED);
}

static int pq_append_value(sf_parquet_writer *w, pq_col *c, uint64_t row, const sf_value *v,
                           sf_value *conv)
{
    if (v->type != c->type) {
        if (c->type == SF_DOUBLE && v->type == SF_INT) {
            *conv = sf_double((double)v->u.i);
            v = conv;
        } else if (c->type == SF_INT && c->dec.prec && v->type == SF_DECIMAL &&
                   v->scale == c->dec.scale) {
            *conv = sf_int((int64_t)sf_decimal_get(v)); /* |v| < 10^18 */
            v = conv;
        } else {
            char msg[160];
            snprintf(msg, sizeof msg, "column '%.64s' of type %s got a %s value", c->name,
                     sf_type_name(c->type), sf_type_name((sf_type)v->type));
            return pq_fail(w, SF_E_TYPE, "%s: %s", msg);
        }
    }
    if (c->type == SF_STRING && v->u.s.n > (size_t)INT32_MAX - 64)
        return pq_fail(w, SF_E_LIMIT, "%s: a string of column '%s' is over Parquet's 2 GiB",
                       c->name);
    unsigned char tmp[PQ_DECIMAL_FLBA_LEN];
    size_t n;
    const void *bytes = pq_value_bytes(c, v, tmp, &n);
    size_t plain_size = c->type == SF_STRING ? 4 + n : n;
    w->rg_bytes += plain_size;
    uint32_t *slot = NULL;
    int seen = 0; /* already in this chunk's dictionary, so in its min/max */
    if (!c->fallen) {
        uint64_t h = pq_dict_hash(bytes, n);
        if (c->dict_bytes + plain_size <= w->opt.dict_limit_bytes) {
            /* a new value would fit: one probe finds or inserts it */
            if (!c->dict && !(c->dict = sf_hmap_new(sizeof(uint32_t), 8)))
                return pq_fail(w, SF_E_NOMEM, "%s: out of memory%s", "");
            size_t count = sf_hmap_count(c->dict);
            int inserted;
            slot = sf_hmap_upsert(c->dict, bytes, n, h, &inserted);
            if (!slot)
                return pq_fail(w, SF_E_NOMEM, "%s: out of memory%s", "");
            seen = !inserted;
            if (inserted) {
                *slot = (uint32_t)count;
                c->dict_bytes += plain_size;
                /* the key padded in the arena, its value block, entry and slots */
                w->rg_mem += ((n + 15) & ~(size_t)15) + PQ_DICT_ENTRY_COST;
            }
        } else {
            slot = c->dict ? sf_hmap_find(c->dict, bytes, n, h) : NULL;
            seen = slot != NULL;
            if (!slot) {
                c->fallen = 1;
                c->fb_row = row;
            }
        }
    }
    /* A repeat leaves min/max as they are; NaNs are counted per value. */
    if (seen) {
        if (c->type == SF_DOUBLE && isnan(v->u.d))
            c->nans++;
    } else if (pq_stats(c, v) != 0) {
        return pq_fail(w, SF_E_NOMEM, "%s: out of memory%s", "");
    }
    if (slot) {
        if (c->nidx == c->idx_cap) {
            size_t cap = c->idx_cap ? c->idx_cap * 2 : 64;
            uint32_t *p = realloc(c->idx, cap * sizeof *p);
            if (!p)
                return pq_fail(w, SF_E_NOMEM, "%s: out of memory%s", "");
            c->idx = p;
            c->idx_cap = cap;
        }
        c->idx[c->nidx++] = *slot;
        w->rg_mem += sizeof(uint32_t);
        if (!c->probed && c->nidx == PQ_DICT_PROBE) {
            c->probed = 1;
            if (sf_hmap_count(c->dict) > PQ_DICT_PROBE / PQ_DICT_DISTINCT_DIV) {
                c->plain_only = 1;
                c->fallen = 1;
                c->fb_row = row + 1;
            }
        }
        return 0;
    }
    if (c->type == SF_STRING) {
        unsigned char len[4];
        sf_pq_put32(len, (uint32_t)n);
        if (sf_buf_append(&c->plain, len, 4) != 0)
            return pq_fail(w, SF_E_NOMEM, "%s: out of memory%s", "");
    }
    if (n && sf_buf_append(&c->plain, bytes, n) != 0)
        return pq_fail(w, SF_E_NOMEM, "%s: out of memory%s", "");
    c->nplain++;
    w->rg_mem += plain_size;
    return 0;
}

int sf_parquet_writer_append(sf_parquet_writer *w, const sf_value *row, sf_error *err)
{
    if (w->failed) {
        if (err)
            *err = w->ferr;
        return w->failed;
    }
    uint64_t r = w->rg_rows;
    for (size_t i = 0; i < w->ncols; i++) {
        pq_col *c = &w->cols[i];
        if (r == c->def_cap) {
            size_t cap = c->def_cap ? c->def_cap * 2 : 64;
            uint8_t *p = realloc(c->def, cap);
            if (!p) {
                pq_fail(w, SF_E_NOMEM, "%s: out of memory%s", "");
                break;
            }
            c->def = p;
            c->def_cap = cap;
        }
        if (row[i].type == SF_NULL) {
            c->def[r] = 0;
            c->nulls++;
            continue;
        }
        c->def[r] = 1;
        sf_value conv;
        if (pq_append_value(w, c, r, &row[i], &conv) != 0)
            break;
    }
    if (!w->failed) {
        w->rg_rows++;
        w->rg_bytes += w->ncols / 8 + 1;
        w->rg_mem += w->ncols; /* definition levels */
        if (w->rg_rows >= w->opt.row_group_rows || w->rg_bytes >= w->opt.row_group_bytes ||
            w->rg_mem >= w->opt.row_group_bytes)
            pq_flush_row_group(w);
    }
    if (w->failed && err)
        *err = w->ferr;
    return w->failed;
}

int sf_parquet_writer_append_cols(sf_parquet_writer *w, const sf_value *row, const int *cols,
                                  sf_error *err)
{
    for (size_t i = 0; i < w->ncols; i++)
        w->gather[i] = row[cols[i]];
    return sf_parquet_writer_append(w, w->gather, err);
}

/* ---- pages ------------------------------------------------------------- */

/* Compresses w->page and writes header + body. Adds to the chunk's sizes. */
static int pq_write_page(sf_parquet_writer *w, int type, int32_t num_values, int encoding,
                         uint64_t *unc, uint64_t *comp)
{
    sf_error e;
    sf_error_clear(&e);
    if (sf_pq_compress(w->codec, w->opt.level, w->page.p, w->page.n, &w->comp, &e) != 0) {
        return pq_fail(w, e.code, "%s: %s", e.msg);
    }
    w->hdr.n = 0;
    sf_tc_writer t;
    sf_tc_writer_init(&t, &w->hdr);
    sf_tc_struct_begin(&t);
    sf_tc_field_i32(&t, 1, type);
    sf_tc_field_i32(&t, 2, (int32_t)w->page.n);
    sf_tc_field_i32(&t, 3, (int32_t)w->comp.n);
    if (type == PQ_PAGE_DICTIONARY) {
        sf_tc_field_struct(&t, 7);
        sf_tc_field_i32(&t, 1, num_values);
        sf_tc_field_i32(&t, 2, PQ_ENC_PLAIN);
        sf_tc_struct_end(&t);
    } else {
        sf_tc_field_struct(&t, 5);
        sf_tc_field_i32(&t, 1, num_values);
        sf_tc_field_i32(&t, 2, encoding);
        sf_tc_field_i32(&t, 3, PQ_ENC_RLE);
        sf_tc_field_i32(&t, 4, PQ_ENC_RLE);
        sf_tc_struct_end(&t);
    }
    sf_tc_struct_end(&t);
    if (t.err)
        return pq_fail(w, SF_E_NOMEM, "%s: out of memory%s", "");
    *unc += w->hdr.n + w->page.n;
    *comp += w->hdr.n + w->comp.n;
    if (pq_out(w, w->hdr.p, w->hdr.n) != 0)
        return w->failed;
    return pq_out(w, w->comp.p, w->comp.n);
}

/* The dictionary page of c: its entries PLAIN, in index order. */
static int pq_write_dict_page(sf_parquet_writer *w, pq_col *c, uint64_t *unc, uint64_t *comp)
{
    size_t count = sf_hmap_count(c->dict);
    w->page.n = 0;
    if (sf_buf_reserve(&w->page, c->dict_bytes) != 0)
        return pq_fail(w, SF_E_NOMEM, "%s: out of memory%s", "");
    for (size_t i = 0; i < count; i++) {
        const void *key;
        size_t klen;
        sf_hmap_entry(c->dict, i, &key, &klen, NULL, NULL);
        if (c->type == SF_STRING) {
            sf_pq_put32(w->page.p + w->page.n, (uint32_t)klen);
            w->page.n += 4;
        }
        if (klen)
            memcpy(w->page.p + w->page.n, key, klen);
        w->page.n += klen;
    }
    return pq_write_page(w, PQ_PAGE_DICTIONARY, (int32_t)count, PQ_ENC_PLAIN, unc, comp);
}

/* Starts w->page with the definition levels of rows [r0, r1) (4-byte
 * length, then the hybrid runs of bit width 1). */
static int pq_page_levels(sf_parquet_writer *w, const pq_col *c, uint64_t r0, uint64_t r1)
{
    w->levels.n = 0;
    if (sf_pq_hybrid_encode_u8(c->def + r0, (size_t)(r1 - r0), 1, &w->levels) != 0)
        return pq_fail(w, SF_E_NOMEM, "%s: out of memory%s", "");
    unsigned char len[4];
    sf_pq_put32(len, (uint32_t)w->levels.n);
    w->page.n = 0;
    if (sf_buf_append(&w->page, len, 4) != 0 ||
        sf_buf_append(&w->page, w->levels.p, w->levels.n) != 0)
        return pq_fail(w, SF_E_NOMEM, "%s: out of memory%s", "");
    return 0;
}

static uint64_t pq_present(const pq_col *c, uint64_t r0, uint64_t r1)
{
    uint64_t k = 0;
    for (uint64_t r = r0; r < r1; r++)
        k += c->def[r];
    return k;
}

/* Writes one column chunk and appends its ColumnChunk struct to meta. */
static int pq_write_chunk(sf_parquet_writer *w, pq_col *c, uint64_t nrows, sf_tc_writer *meta,
                          uint64_t *rg_unc, uint64_t *rg_comp, uint64_t *rg_first)
{
    uint64_t unc = 0, comp = 0;
    int has_dict = c->dict && sf_hmap_count(c->dict) > 0;
    uint64_t dict_rows = c->fallen ? c->fb_row : nrows;
    uint64_t dict_off = 0, data_off;
    if (has_dict) {
        dict_off = w->offset;
        if (pq_write_dict_page(w, c, &unc, &comp) != 0)
            return w->failed;
    } else {
        dict_rows = 0; /* every value so far was NULL: write those rows PLAIN */
    }
    data_off = w->offset;
    *rg_first = has_dict ? dict_off : data_off;

    /* RLE_DICTIONARY pages. */
    size_t idx_at = 0;
    int width = has_dict ? sf_pq_bit_width(sf_hmap_count(c->dict) - 1) : 0;
    if (width == 0)
        width = 1; /* bit width 0 is legal but not read by every reader */
    for (uint64_t r0 = 0; r0 < dict_rows && !w->failed;) {
        uint64_t r1 = r0 + PQ_PAGE_ROWS < dict_rows ? r0 + PQ_PAGE_ROWS : dict_rows;
        size_t k = (size_t)pq_present(c, r0, r1);
        if (pq_page_levels(w, c, r0, r1) != 0)
            return w->failed;
        unsigned char bw = (unsigned char)width;
        if (sf_buf_append(&w->page, &bw, 1) != 0 ||
            sf_pq_hybrid_encode(c->idx + idx_at, k, width, &w->page) != 0)
            return pq_fail(w, SF_E_NOMEM, "%s: out of memory%s", "");
        idx_at += k;
        if (pq_write_page(w, PQ_PAGE_DATA, (int32_t)(r1 - r0), PQ_ENC_RLE_DICTIONARY, &unc,
                          &comp) != 0)
            return w->failed;
        r0 = r1;
    }

    /* PLAIN pages. */
    size_t at = 0; /* byte offset in c->plain */
    for (uint64_t r0 = dict_rows; r0 < nrows && !w->failed;) {
        uint64_t r1 = r0;
        size_t bytes = 0, k = 0;
        while (r1 < nrows && r1 - r0 < PQ_PAGE_ROWS && bytes < PQ_PAGE_BYTES) {
            if (c->def[r1]) {
                size_t vn = c->type == SF_STRING ? 4 + sf_pq_get32(c->plain.p + at + bytes)
                            : c->type == SF_INT || c->type == SF_DOUBLE ||
                                      c->type == SF_TIMESTAMP
                                  ? 8
                            : c->type == SF_DECIMAL ? PQ_DECIMAL_FLBA_LEN
                            : c->type == SF_DATE ? 4 : 1;
                bytes += vn;
                k++;
            }
            r1++;
        }
        if (pq_page_levels(w, c, r0, r1) != 0)
            return w->failed;
        if (c->type == SF_BOOL) {
            size_t nb = (k + 7) / 8;
            if (sf_buf_reserve(&w->page, nb) != 0)
                return pq_fail(w, SF_E_NOMEM, "%s: out of memory%s", "");
            unsigned char *q = w->page.p + w->page.n;
            memset(q, 0, nb);
            for (size_t i = 0; i < k; i++)
                q[i / 8] |= (unsigned char)(c->plain.p[at + i] << (i % 8));
            w->page.n += nb;
        } else if (bytes && sf_buf_append(&w->page, c->plain.p + at, bytes) != 0) {
            return pq_fail(w, SF_E_NOMEM, "%s: out of memory%s", "");
        }
        at += bytes;
        if (pq_write_page(w, PQ_PAGE_DATA, (int32_t)(r1 - r0), PQ_ENC_PLAIN, &unc, &comp) != 0)
            return w->failed;
        r0 = r1;
    }
    if (w->failed)
        return w->failed;

    /* ColumnChunk */
    sf_pq_chunk_meta m;
    memset(&m, 0, sizeof m);
    m.name = c->name;
    m.phys = c->phys;
    m.codec = w->codec;
    m.encodings = 1u << PQ_ENC_PLAIN | 1u << PQ_ENC_RLE;
    if (has_dict && dict_rows > 0)
        m.encodings |= 1u << PQ_ENC_RLE_DICTIONARY;
    m.num_values = (int64_t)nrows;
    m.unc = (int64_t)unc;
    m.comp = (int64_t)comp;
    m.data_off = (int64_t)data_off;
    m.dict_off = has_dict ? (int64_t)dict_off : 0;
    m.has_null_count = 1;
    m.null_count = (int64_t)c->nulls;
    m.has_nan_count = c->type == SF_DOUBLE;
    m.nan_count = (int64_t)c->nans;
    unsigned char mn[PQ_DECIMAL_FLBA_LEN], mx[PQ_DECIMAL_FLBA_LEN];
    if (c->has_minmax) {
        m.has_min = m.has_max = m.min_exact = m.max_exact = 1;
        m.min = mn;
        m.max = mx;
        switch (c->type) {
        case SF_BOOL:
            mn[0] = (unsigned char)c->imin;
            mx[0] = (unsigned char)c->imax;
            m.nmin = m.nmax = 1;
            break;
        case SF_DATE:
            sf_pq_put32(mn, (uint32_t)c->imin);
            sf_pq_put32(mx, (uint32_t)c->imax);
            m.nmin = m.nmax = 4;
            break;
        case SF_INT:
        case SF_TIMESTAMP:
            sf_pq_put64(mn, (uint64_t)c->imin);
            sf_pq_put64(mx, (uint64_t)c->imax);
            m.nmin = m.nmax = 8;
            break;
        case SF_DOUBLE: {
            /* The spec's rule for zeros: min -0.0, max +0.0. */
            double dmin = c->dmin == 0 ? -0.0 : c->dmin;
            double dmax = c->dmax == 0 ? 0.0 : c->dmax;
            uint64_t b;
            memcpy(&b, &dmin, 8);
            sf_pq_put64(mn, b);
            memcpy(&b, &dmax, 8);
            sf_pq_put64(mx, b);
            m.nmin = m.nmax = 8;
            break;
        }
        case SF_DECIMAL: { /* big-endian two's complement, as the values */
            sf_value lo = sf_decimal(c->decmin, 0), hi = sf_decimal(c->decmax, 0);
            size_t n;
            pq_value_bytes(c, &lo, mn, &n); /* writes the 16 bytes into mn */
            pq_value_bytes(c, &hi, mx, &n);
            m.nmin = m.nmax = n;
            break;
        }
        default:
            m.min = c->smin.p;
            m.nmin = c->smin.n;
            m.max = c->smax.p;
            m.nmax = c->smax.n;
        }
    }
    sf_pq_put_column_chunk(meta, &m);
    *rg_unc += unc;
    *rg_comp += comp;
    return 0;
}

static int pq_flush_row_group(sf_parquet_writer *w)
{
    if (w->failed || w->rg_rows == 0)
        return w->failed;
    uint64_t nrows = w->rg_rows;
    w->chunkmeta.n = 0;
    sf_tc_writer meta;
    sf_tc_writer_init(&meta, &w->chunkmeta);
    uint64_t unc = 0, comp = 0, first = 0;
    for (size_t i = 0; i < w->ncols; i++) {
        uint64_t f = 0;
        if (pq_write_chunk(w, &w->cols[i], nrows, &meta, &unc, &comp, &f) != 0)
            return w->failed;
        if (i == 0)
            first = f;
        pq_col_reset(&w->cols[i]);
    }
    sf_tc_writer rg;
    sf_tc_writer_init(&rg, &w->rgmeta);
    sf_pq_put_row_group(&rg, w->chunkmeta.p, w->chunkmeta.n, w->ncols, (int64_t)unc,
                        (int64_t)nrows, (int64_t)first, (int64_t)comp, (int64_t)w->nrg);
    if (meta.err || rg.err)
        return pq_fail(w, SF_E_NOMEM, "%s: out of memory%s", "");
    w->nrg++;
    w->rows += nrows;
    w->rg_rows = 0;
    w->rg_bytes = 0;
    w->rg_mem = 0;
    return 0;
}

uint64_t sf_parquet_writer_row_groups(const sf_parquet_writer *w) { return w->nrg; }

/* ---- close ------------------------------------------------------------- */

static int pq_write_footer(sf_parquet_writer *w)
{
    sf_buf foot = SF_BUF_INIT;
    const char **names = malloc(w->ncols * sizeof *names);
    sf_type *types = malloc(w->ncols * sizeof *types);
    sf_dec_type *decs = malloc(w->ncols * sizeof *decs);
    int rc = names && types && decs ? 0 : SF_E_NOMEM;
    for (size_t i = 0; !rc && i < w->ncols; i++) {
        names[i] = w->cols[i].name;
        types[i] = w->cols[i].dec.prec ? SF_DECIMAL : w->cols[i].type;
        decs[i] = w->cols[i].dec;
    }
    if (!rc)
        rc = sf_pq_put_footer(&foot, w->ncols, names, types, decs, w->rows, w->nrg, w->rgmeta.p,
                              w->rgmeta.n, (const char *const *)w->kv_keys,
                              (const char *const *)w->kv_values, w->opt.nkv);
    free(names);
    free(types);
    free(decs);
    if (rc) {
        sf_buf_free(&foot);
        return pq_fail(w, SF_E_NOMEM, "%s: out of memory%s", "");
    }
    pq_out(w, foot.p, foot.n);
    sf_buf_free(&foot);
    return w->failed;
}

int sf_parquet_writer_close(sf_parquet_writer *w, uint64_t *rows, uint64_t *bytes, sf_error *err)
{
    if (rows)
        *rows = 0;
    if (bytes)
        *bytes = 0;
    pq_flush_row_group(w);
    if (!w->failed)
        pq_write_footer(w);
    if (!w->failed)
        pq_flush_obuf(w);
    if (!w->failed && w->opt.sync_later)
        sf_writeback_start(w->fd);
    else if (!w->failed && fsync(w->fd) != 0 && errno != EINVAL)
        pq_fail(w, SF_E_IO, "%s: fsync failed: %s", strerror(errno));
    if (close(w->fd) != 0 && !w->failed)
        pq_fail(w, SF_E_IO, "%s: close failed: %s", strerror(errno));
    int rc = w->failed;
    if (rc) {
        if (err)
            *err = w->ferr;
    } else {
        if (rows)
            *rows = w->rows;
        if (bytes)
            *bytes = w->offset;
    }
    pq_writer_free(w);
    return rc;
}

void sf_parquet_writer_discard(sf_parquet_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    pq_writer_free(w);
}

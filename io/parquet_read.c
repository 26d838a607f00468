/* parquet_read.c - the Parquet reader (see parquet_read.h).
 *
 * Invariants: every number taken from the file (offsets, sizes, counts) is
 * checked against the file size, the chunk or page it must fit in, or a
 * fixed cap (PR_MAX_PAGE_BYTES, PR_MAX_PAGE_VALUES) before memory is
 * allocated or read; after the first error r->failed holds it and reads
 * stop. A column's state is one chunk (compressed, as in the file), its
 * decoded dictionary and one decompressed page with its levels and indices
 * decoded.
 */
#include "io/parquet_read.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/decimal.h"
#include "io/parquet_format.h"
#include "io/thrift_compact.h"

#define PR_MAX_FOOTER ((uint64_t)1 << 30)
#define PR_MAX_PAGE_BYTES ((uint64_t)1 << 30)
#define PR_MAX_PAGE_VALUES ((uint64_t)1 << 24)

typedef struct pr_stat {
    const unsigned char *p; /* borrowed from the footer */
    size_t n;
    int set;
} pr_stat;

typedef struct pr_chunk {
    int phys, codec;
    int64_t num_values, comp, unc, data_off, dict_off;
    int has_dict_off;
    uint32_t encodings; /* bit e set for each Encoding e < 32 listed */
    int has_null, has_nan;
    int64_t null_count, nan_count;
    pr_stat min, max, min_old, max_old;
    int min_exact, max_exact;
    uint64_t start, len; /* byte range of the pages */
} pr_chunk;

typedef struct pr_col {
    char *name;
    sf_type type;
    int phys;
    sf_dec_type dec;     /* SF_DECIMAL: P and S */
    int32_t type_length; /* FIXED_LEN_BYTE_ARRAY: bytes per value */
    int optional;

    unsigned char *chunk; /* current chunk's bytes */
    size_t chunk_len, pos, chunk_cap;
    int codec;
    uint64_t values_left; /* values of the chunk not yet in a page */
    int pages_seen;

    sf_value *dict;
    size_t ndict, dict_cap;
    unsigned char *dict_buf;
    size_t dict_buf_cap;

    unsigned char *page;
    size_t page_cap;
    uint64_t page_vals, page_at; /* values (NULLs included) in the page, consumed */
    uint32_t *defs;              /* per value, when optional */
    size_t defs_cap;
    uint32_t *idx;               /* dictionary indices / RLE bools of present values */
    size_t idx_cap, idx_at, npresent;
    int enc;                     /* PQ_ENC_PLAIN, _RLE (bool) or dictionary */
    const unsigned char *vp, *vend; /* PLAIN value cursor */
    size_t bit;                  /* PLAIN boolean bit cursor */
} pr_col;

struct sf_parquet_reader {
    char *path;
    int fd;
    uint64_t size;
    unsigned char *footer;
    size_t footer_len;
    size_t ncols;
    pr_col *cols;
    size_t nrg;
    uint64_t *rg_rows;
    pr_chunk *chunks; /* nrg * ncols */
    uint64_t nrows;
    char *created_by;
    char **kv_keys, **kv_values;
    size_t nkv;

    size_t rg;        /* row group being read (nrg at the end) */
    int rg_loaded;
    uint64_t rg_left; /* its rows not yet returned */
    sf_value *batch;
    size_t batch_cap;
    int failed;
    sf_error ferr;
};

/* ---- small helpers ----------------------------------------------------- */

static int pr_fail(sf_parquet_reader *r, sf_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int pr_fail(sf_parquet_reader *r, sf_error *err, int code, const char *fmt, ...)
{
    if (!r->failed) {
        char msg[900];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        sf_error_set(&r->ferr, code, "%s: %s", r->path, msg);
        r->failed = code;
    }
    if (err)
        *err = r->ferr;
    return r->failed;
}

static char *pr_strndup(const unsigned char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        if (n)
            memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

static int pr_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    void *q = realloc(*p, n * elem);
    if (!q)
        return SF_E_NOMEM;
    *p = q;
    *cap = n;
    return 0;
}

static int pr_pread(sf_parquet_reader *r, void *buf, size_t n, uint64_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t k = pread(r->fd, (char *)buf + done, n - done, (off_t)(off + done));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        done += (size_t)k;
    }
    return 0;
}

/* ---- footer ------------------------------------------------------------ */

typedef struct pr_schema_el {
    int type, repetition, converted, logical, has_children;
    int32_t type_length, scale, precision;
    int32_t num_children;
    const unsigned char *name;
    size_t name_len;
} pr_schema_el;

static void pr_read_logical(sf_tc_reader *t, int *logical)
{
    if (!sf_tc_struct_enter(t))
        return;
    int16_t last = 0, id;
    int type;
    while (sf_tc_next_field(t, &last, &id, &type)) {
        *logical = id;
        sf_tc_skip(t, type);
    }
}

static void pr_read_schema_el(sf_tc_reader *t, pr_schema_el *e)
{
    memset(e, 0, sizeof *e);
    e->type = e->repetition = e->converted = -1;
    if (!sf_tc_struct_enter(t))
        return;
    int16_t last = 0, id;
    int type;
    while (sf_tc_next_field(t, &last, &id, &type)) {
        switch (id) {
        case 1:
            if (sf_tc_expect(t, type, SF_TC_I32))
                e->type = sf_tc_read_i32(t);
            break;
        case 2:
            if (sf_tc_expect(t, type, SF_TC_I32))
                e->type_length = sf_tc_read_i32(t);
            break;
        case 3:
            if (sf_tc_expect(t, type, SF_TC_I32))
                e->repetition = sf_tc_read_i32(t);
            break;
        case 7:
            if (sf_tc_expect(t, type, SF_TC_I32))
                e->scale = sf_tc_read_i32(t);
            break;
        case 8:
            if (sf_tc_expect(t, type, SF_TC_I32))
                e->precision = sf_tc_read_i32(t);
            break;
        case 4:
            if (sf_tc_expect(t, type, SF_TC_BINARY))
                sf_tc_read_binary(t, &e->name, &e->name_len);
            break;
        case 5:
            if (sf_tc_expect(t, type, SF_TC_I32)) {
                e->num_children = sf_tc_read_i32(t);
                e->has_children = 1;
            }
            break;
        case 6:
            if (sf_tc_expect(t, type, SF_TC_I32))
                e->converted = sf_tc_read_i32(t);
            break;
        case 10:
            if (sf_tc_expect(t, type, SF_TC_STRUCT))
                pr_read_logical(t, &e->logical);
            break;
        default:
            sf_tc_skip(t, type);
        }
    }
}

static void pr_read_stats(sf_tc_reader *t, pr_chunk *c)
{
    if (!sf_tc_struct_enter(t))
        return;
    int16_t last = 0, id;
    int type;
    while (sf_tc_next_field(t, &last, &id, &type)) {
        pr_stat *s = id == 1 ? &c->max_old : id == 2 ? &c->min_old : id == 5 ? &c->max
                   : id == 6 ? &c->min : NULL;
        if (s) {
            if (sf_tc_expect(t, type, SF_TC_BINARY)) {
                sf_tc_read_binary(t, &s->p, &s->n);
                s->set = 1;
            }
        } else if (id == 3 && type == SF_TC_I64) {
            c->null_count = sf_tc_read_i64(t);
            c->has_null = 1;
        } else if (id == 9 && type == SF_TC_I64) {
            c->nan_count = sf_tc_read_i64(t);
            c->has_nan = 1;
        } else if ((id == 7 || id == 8) && (type == SF_TC_TRUE || type == SF_TC_FALSE)) {
            *(id == 7 ? &c->max_exact : &c->min_exact) = type == SF_TC_TRUE;
        } else {
            sf_tc_skip(t, type);
        }
    }
}

static int pr_read_i64_field(sf_tc_reader *t, int type, int64_t *v)
{
    if (type == SF_TC_I32 || type == SF_TC_I64) {
        *v = sf_tc_read_i64(t);
        return 1;
    }
    return sf_tc_fail(t, "field of an unexpected type");
}

/* ColumnChunk: returns 0 when meta_data is missing or a file_path is set. */
static int pr_read_column_chunk(sf_tc_reader *t, pr_chunk *c, const char **why)
{
    memset(c, 0, sizeof *c);
    c->phys = c->codec = -1;
    c->num_values = c->comp = c->data_off = -1;
    int have_meta = 0, external = 0;
    if (!sf_tc_struct_enter(t))
        return 0;
    int16_t last = 0, id;
    int type;
    while (sf_tc_next_field(t, &last, &id, &type)) {
        if (id == 1) {
            external = 1;
            sf_tc_skip(t, type);
        } else if (id == 3 && sf_tc_expect(t, type, SF_TC_STRUCT)) {
            have_meta = 1;
            if (!sf_tc_struct_enter(t))
                break;
            int16_t mlast = 0, mid;
            int mtype;
            while (sf_tc_next_field(t, &mlast, &mid, &mtype)) {
                switch (mid) {
                case 1:
                    if (sf_tc_expect(t, mtype, SF_TC_I32))
                        c->phys = sf_tc_read_i32(t);
                    break;
                case 2:
                    if (sf_tc_expect(t, mtype, SF_TC_LIST)) {
                        int et;
                        size_t n;
                        sf_tc_read_list(t, &et, &n);
                        if (et != SF_TC_I32)
                            n = 0, sf_tc_fail(t, "bad encodings list");
                        for (size_t k = 0; k < n && !t->err; k++) {
                            int32_t e = sf_tc_read_i32(t);
                            if (e >= 0 && e < 32)
                                c->encodings |= 1u << e;
                        }
                    }
                    break;
                case 4:
                    if (sf_tc_expect(t, mtype, SF_TC_I32))
                        c->codec = sf_tc_read_i32(t);
                    break;
                case 5: pr_read_i64_field(t, mtype, &c->num_values); break;
                case 6: pr_read_i64_field(t, mtype, &c->unc); break;
                case 7: pr_read_i64_field(t, mtype, &c->comp); break;
                case 9: pr_read_i64_field(t, mtype, &c->data_off); break;
                case 11:
                    pr_read_i64_field(t, mtype, &c->dict_off);
                    c->has_dict_off = 1;
                    break;
                case 12:
                    if (sf_tc_expect(t, mtype, SF_TC_STRUCT))
                        pr_read_stats(t, c);
                    break;
                default:
                    sf_tc_skip(t, mtype);
                }
            }
        } else {
            sf_tc_skip(t, type);
        }
    }
    if (t->err)
        return 0;
    if (external) {
        *why = "column data in another file (file_path) is not supported";
        return 0;
    }
    if (!have_meta || c->phys < 0 || c->codec < 0 || c->num_values < 0 || c->comp < 0 ||
        c->data_off < 0) {
        *why = "column chunk without its metadata";
        return 0;
    }
    return 1;
}

static int pr_parse_footer(sf_parquet_reader *r, sf_error *err)
{
    sf_tc_reader t;
    sf_tc_reader_init(&t, r->footer, r->footer_len);
    pr_schema_el *schema = NULL;
    size_t nschema = 0;
    int64_t num_rows = -1;
    int have_rg = 0;
    const char *why = NULL;
    unsigned char *rg_start = NULL;
    size_t rg_count = 0;
    sf_tc_reader rg_reader;
    int rc = 0;

    if (!sf_tc_struct_enter(&t))
        goto bad;
    int16_t last = 0, id;
    int type;
    while (sf_tc_next_field(&t, &last, &id, &type)) {
        if (id == 2 && sf_tc_expect(&t, type, SF_TC_LIST)) {
            int et;
            size_t n;
            sf_tc_read_list(&t, &et, &n);
            if (t.err || et != SF_TC_STRUCT || n < 2 || schema) {
                why = n < 2 ? "a schema without columns" : "bad schema list";
                goto bad;
            }
            schema = calloc(n, sizeof *schema);
            if (!schema) {
                rc = SF_E_NOMEM;
                goto out;
            }
            for (size_t i = 0; i < n && !t.err; i++)
                pr_read_schema_el(&t, &schema[i]);
            nschema = n;
        } else if (id == 3) {
            pr_read_i64_field(&t, type, &num_rows);
        } else if (id == 4 && sf_tc_expect(&t, type, SF_TC_LIST)) {
            int et;
            sf_tc_read_list(&t, &et, &rg_count);
            if (t.err || (rg_count && et != SF_TC_STRUCT) || have_rg) {
                why = "bad row group list";
                goto bad;
            }
            have_rg = 1;
            /* Parsed after the schema (which may come later); skip now. */
            rg_start = (unsigned char *)(uintptr_t)t.p;
            for (size_t i = 0; i < rg_count && !t.err; i++)
                sf_tc_skip(&t, SF_TC_STRUCT);
            sf_tc_reader_init(&rg_reader, rg_start, (size_t)(t.p - rg_start));
        } else if (id == 5 && sf_tc_expect(&t, type, SF_TC_LIST)) {
            int et;
            size_t n;
            sf_tc_read_list(&t, &et, &n);
            if (t.err || et != SF_TC_STRUCT || r->kv_keys) {
                why = "bad key-value metadata";
                goto bad;
            }
            r->kv_keys = calloc(n ? n : 1, sizeof *r->kv_keys);
            r->kv_values = calloc(n ? n : 1, sizeof *r->kv_values);
            if (!r->kv_keys || !r->kv_values) {
                rc = SF_E_NOMEM;
                goto out;
            }
            for (size_t i = 0; i < n && !t.err; i++) {
                if (!sf_tc_struct_enter(&t))
                    break;
                int16_t kl = 0, kid;
                int kt;
                const unsigned char *kp = NULL, *vp = NULL;
                size_t kn = 0, vn = 0;
                int has_v = 0;
                while (sf_tc_next_field(&t, &kl, &kid, &kt)) {
                    if (kid == 1 && sf_tc_expect(&t, kt, SF_TC_BINARY))
                        sf_tc_read_binary(&t, &kp, &kn);
                    else if (kid == 2 && sf_tc_expect(&t, kt, SF_TC_BINARY)) {
                        sf_tc_read_binary(&t, &vp, &vn);
                        has_v = 1;
                    } else
                        sf_tc_skip(&t, kt);
                }
                if (t.err)
                    break;
                r->kv_keys[i] = pr_strndup(kp ? kp : (const unsigned char *)"", kn);
                r->kv_values[i] = has_v ? pr_strndup(vp, vn) : NULL;
                r->nkv = i + 1;
                if (!r->kv_keys[i] || (has_v && !r->kv_values[i])) {
                    rc = SF_E_NOMEM;
                    goto out;
                }
            }
        } else if (id == 6 && sf_tc_expect(&t, type, SF_TC_BINARY)) {
            const unsigned char *p;
            size_t n;
            sf_tc_read_binary(&t, &p, &n);
            if (!t.err && !r->created_by && !(r->created_by = pr_strndup(p, n))) {
                rc = SF_E_NOMEM;
                goto out;
            }
        } else {
            sf_tc_skip(&t, type);
        }
    }
    if (t.err)
        goto bad;
    if (!schema || num_rows < 0 || !have_rg) {
        why = "FileMetaData lacks the schema, num_rows or row_groups";
        goto bad;
    }

    /* Schema: a root with n leaf children. */
    if (schema[0].num_children != (int32_t)(nschema - 1) || !schema[0].has_children) {
        why = "nested schemas are not supported (the root must hold every column)";
        goto bad;
    }
    r->ncols = nschema - 1;
    r->cols = calloc(r->ncols, sizeof *r->cols);
    if (!r->cols) {
        rc = SF_E_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < r->ncols; i++) {
        const pr_schema_el *e = &schema[i + 1];
        pr_col *c = &r->cols[i];
        c->name = pr_strndup(e->name ? e->name : (const unsigned char *)"", e->name_len);
        if (!c->name) {
            rc = SF_E_NOMEM;
            goto out;
        }
        if ((e->has_children && e->num_children != 0) || e->type < 0) {
            rc = pr_fail(r, err, SF_E_PARSE, "column '%s': nested columns are not supported",
                         c->name);
            goto out;
        }
        if (e->repetition != PQ_REQUIRED && e->repetition != PQ_OPTIONAL) {
            rc = pr_fail(r, err, SF_E_PARSE,
                         "column '%s': repeated columns are not supported", c->name);
            goto out;
        }
        c->optional = e->repetition == PQ_OPTIONAL;
        c->phys = e->type;
        if (e->converted == PQ_CT_DECIMAL || e->logical == PQ_LT_DECIMAL) {
            /* INT32, INT64 or a FIXED_LEN_BYTE_ARRAY of at most 16 bytes */
            if (e->precision < 1 || e->precision > 38 || e->scale < 0 ||
                e->scale > e->precision ||
                (e->type != PQ_INT32 && e->type != PQ_INT64 &&
                 (e->type != PQ_FIXED_LEN_BYTE_ARRAY || e->type_length < 1 ||
                  e->type_length > 16))) {
                rc = pr_fail(r, err, SF_E_PARSE, "column '%s': unsupported decimal(%d,%d) "
                             "of physical type %d", c->name, (int)e->precision, (int)e->scale,
                             e->type);
                goto out;
            }
            c->type = SF_DECIMAL;
            c->dec.prec = (uint8_t)e->precision;
            c->dec.scale = (uint8_t)e->scale;
            c->type_length = e->type_length;
            continue;
        }
        switch (e->type) {
        case PQ_BOOLEAN: c->type = SF_BOOL; break;
        case PQ_INT32:
            c->type = (e->converted == PQ_CT_DATE || e->logical == PQ_LT_DATE) ? SF_DATE : SF_INT;
            break;
        case PQ_INT64:
            /* Only microsecond timestamps read as timestamps (shardflow
             * writes those); a millisecond one stays the int64 it stores. */
            c->type = e->converted == PQ_CT_TIMESTAMP_MICROS ||
                              (e->logical == PQ_LT_TIMESTAMP &&
                               e->converted != PQ_CT_TIMESTAMP_MILLIS)
                          ? SF_TIMESTAMP
                          : SF_INT;
            break;
        case PQ_FLOAT:
        case PQ_DOUBLE: c->type = SF_DOUBLE; break;
        case PQ_BYTE_ARRAY: c->type = SF_STRING; break;
        default:
            rc = pr_fail(r, err, SF_E_PARSE, "column '%s': physical type %d is not supported",
                         c->name, e->type);
            goto out;
        }
    }

    /* Row groups. */
    r->nrg = rg_count;
    r->rg_rows = calloc(rg_count ? rg_count : 1, sizeof *r->rg_rows);
    if (rg_count > SIZE_MAX / sizeof(pr_chunk) / r->ncols) {
        why = "too many row groups";
        goto bad;
    }
    r->chunks = calloc(rg_count * r->ncols + 1, sizeof *r->chunks);
    if (!r->rg_rows || !r->chunks) {
        rc = SF_E_NOMEM;
        goto out;
    }
    uint64_t total = 0;
    uint64_t data_end = r->size - 8 - r->footer_len;
    for (size_t g = 0; g < rg_count; g++) {
        if (!sf_tc_struct_enter(&rg_reader))
            goto bad_rg;
        int16_t gl = 0, gid;
        int gt;
        int64_t rows = -1;
        size_t ncc = 0;
        int have_cols = 0;
        while (sf_tc_next_field(&rg_reader, &gl, &gid, &gt)) {
            if (gid == 1 && sf_tc_expect(&rg_reader, gt, SF_TC_LIST) && !have_cols) {
                int et;
                sf_tc_read_list(&rg_reader, &et, &ncc);
                have_cols = 1;
                if (rg_reader.err || et != SF_TC_STRUCT || ncc != r->ncols) {
                    why = "a row group's column count differs from the schema";
                    goto bad;
                }
                for (size_t i = 0; i < ncc; i++) {
                    if (!pr_read_column_chunk(&rg_reader, &r->chunks[g * r->ncols + i], &why))
                        goto bad_rg;
                }
            } else if (gid == 3) {
                pr_read_i64_field(&rg_reader, gt, &rows);
            } else {
                sf_tc_skip(&rg_reader, gt);
            }
        }
        if (rg_reader.err)
            goto bad_rg;
        if (!have_cols || rows < 0) {
            why = "a row group without columns or num_rows";
            goto bad;
        }
        r->rg_rows[g] = (uint64_t)rows;
        total += (uint64_t)rows;
        if (total < (uint64_t)rows) {
            why = "row counts overflow";
            goto bad;
        }
        for (size_t i = 0; i < r->ncols; i++) {
            pr_chunk *c = &r->chunks[g * r->ncols + i];
            const pr_col *col = &r->cols[i];
            if (c->phys != col->phys) {
                rc = pr_fail(r, err, SF_E_PARSE,
                             "row group %zu, column '%s': type differs from the schema", g,
                             col->name);
                goto out;
            }
            if (c->num_values != rows) {
                rc = pr_fail(r, err, SF_E_PARSE,
                             "row group %zu, column '%s': %lld values for %lld rows", g,
                             col->name, (long long)c->num_values, (long long)rows);
                goto out;
            }
            uint64_t start = (uint64_t)c->data_off;
            if (c->has_dict_off && c->dict_off > 0 && (uint64_t)c->dict_off < start)
                start = (uint64_t)c->dict_off;
            if (start < 4 || start > data_end || (uint64_t)c->comp > data_end - start) {
                rc = pr_fail(r, err, SF_E_PARSE,
                             "row group %zu, column '%s': pages outside the file's data", g,
                             col->name);
                goto out;
            }
            c->start = start;
            c->len = (uint64_t)c->comp;
        }
    }
    if (total != (uint64_t)num_rows) {
        why = "num_rows is not the sum of the row groups' rows";
        goto bad;
    }
    r->nrows = total;
    goto out;

bad_rg:
    if (!why)
        why = rg_reader.why ? rg_reader.why : "malformed row group";
bad:
    if (!why)
        why = t.why ? t.why : "malformed";
    rc = pr_fail(r, err, SF_E_PARSE, "bad footer: %s", why);
out:
    if (rc == SF_E_NOMEM)
        rc = pr_fail(r, err, SF_E_NOMEM, "out of memory reading the footer");
    free(schema);
    return rc;
}

/* ---- open / close ------------------------------------------------------ */

void sf_parquet_reader_close(sf_parquet_reader *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    for (size_t i = 0; r->cols && i < r->ncols; i++) {
        pr_col *c = &r->cols[i];
        free(c->name);
        free(c->chunk);
        free(c->dict);
        free(c->dict_buf);
        free(c->page);
        free(c->defs);
        free(c->idx);
    }
    free(r->cols);
    for (size_t i = 0; i < r->nkv; i++) {
        free(r->kv_keys[i]);
        free(r->kv_values[i]);
    }
    free(r->kv_keys);
    free(r->kv_values);
    free(r->created_by);
    free(r->rg_rows);
    free(r->chunks);
    free(r->batch);
    free(r->footer);
    free(r->path);
    free(r);
}

int sf_parquet_reader_open(sf_parquet_reader **out, const char *path, sf_error *err)
{
    *out = NULL;
    sf_parquet_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        return sf_error_set(err, SF_E_NOMEM, "%s: out of memory", path);
    }
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        int e = errno;
        int rc = pr_fail(r, err, e == ENOENT ? SF_E_NOTFOUND : SF_E_IO, "cannot open: %s",
                         strerror(e));
        sf_parquet_reader_close(r);
        return rc;
    }
    struct stat st;
    if (fstat(r->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int rc = pr_fail(r, err, SF_E_IO, "not a regular file");
        sf_parquet_reader_close(r);
        return rc;
    }
    r->size = (uint64_t)st.st_size;
    unsigned char head[4], tail[8];
    if (r->size < 12 || pr_pread(r, head, 4, 0) != 0 || pr_pread(r, tail, 8, r->size - 8) != 0 ||
        memcmp(head, "PAR1", 4) != 0 || memcmp(tail + 4, "PAR1", 4) != 0) {
        int rc = pr_fail(r, err, SF_E_PARSE, "not a Parquet file (no PAR1 magic at both ends)");
        sf_parquet_reader_close(r);
        return rc;
    }
    uint64_t flen = sf_pq_get32(tail);
    if (flen == 0 || flen > r->size - 12 || flen > PR_MAX_FOOTER) {
        int rc = pr_fail(r, err, SF_E_PARSE, "bad footer length %llu", (unsigned long long)flen);
        sf_parquet_reader_close(r);
        return rc;
    }
    r->footer_len = (size_t)flen;
    r->footer = malloc(r->footer_len);
    if (!r->footer) {
        int rc = pr_fail(r, err, SF_E_NOMEM, "out of memory for a footer of %zu bytes",
                         r->footer_len);
        sf_parquet_reader_close(r);
        return rc;
    }
    if (pr_pread(r, r->footer, r->footer_len, r->size - 8 - flen) != 0) {
        int rc = pr_fail(r, err, SF_E_IO, "cannot read the footer: %s", strerror(errno));
        sf_parquet_reader_close(r);
        return rc;
    }
    int rc = pr_parse_footer(r, err);
    if (rc != 0) {
        sf_parquet_reader_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

size_t sf_parquet_reader_ncols(const sf_parquet_reader *r) { return r->ncols; }
const char *sf_parquet_reader_name(const sf_parquet_reader *r, size_t col)
{
    return r->cols[col].name;
}
sf_type sf_parquet_reader_type(const sf_parquet_reader *r, size_t col)
{
    return r->cols[col].type;
}
sf_dec_type sf_parquet_reader_dec(const sf_parquet_reader *r, size_t col)
{
    return r->cols[col].dec;
}
uint64_t sf_parquet_reader_nrows(const sf_parquet_reader *r) { return r->nrows; }
const char *sf_parquet_reader_created_by(const sf_parquet_reader *r) { return r->created_by; }
size_t sf_parquet_reader_row_groups(const sf_parquet_reader *r) { return r->nrg; }

const char *sf_parquet_reader_kv(const sf_parquet_reader *r, const char *key)
{
    for (size_t i = 0; i < r->nkv; i++)
        if (strcmp(r->kv_keys[i], key) == 0)
            return r->kv_values[i];
    return NULL;
}

/* A PLAIN statistic as a value of the column's type; 0 if its size is not
 * the type's. */
/* An INT32/INT64 value of column c: a decimal's scaled integer, or int64. */
static sf_value pr_int(const pr_col *c, int64_t i)
{
    if (c->type == SF_DECIMAL)
        return sf_decimal(i, c->dec.scale);
    return c->type == SF_TIMESTAMP ? sf_timestamp(i) : sf_int(i);
}

/* A FIXED_LEN_BYTE_ARRAY decimal: big-endian two's complement. */
static sf_value pr_flba_decimal(const pr_col *c, const unsigned char *p)
{
    sf_u128 x = p[0] & 0x80 ? ~(sf_u128)0 : 0; /* sign extension */
    for (int32_t k = 0; k < c->type_length; k++)
        x = x << 8 | p[k];
    return sf_decimal((sf_i128)x, c->dec.scale);
}

static int pr_stat_value(const pr_col *col, const pr_stat *s, sf_value *v)
{
    if (!s->set)
        return 0;
    switch (col->phys) {
    case PQ_BOOLEAN:
        if (s->n != 1)
            return 0;
        *v = sf_bool(s->p[0] & 1);
        return 1;
    case PQ_INT32:
        if (s->n != 4)
            return 0;
        *v = col->type == SF_DATE ? sf_date((int32_t)sf_pq_get32(s->p))
                                  : pr_int(col, (int32_t)sf_pq_get32(s->p));
        return 1;
    case PQ_INT64: {
        if (s->n != 8)
            return 0;
        *v = pr_int(col, (int64_t)sf_pq_get64(s->p));
        return 1;
    }
    case PQ_FIXED_LEN_BYTE_ARRAY:
        if (col->type != SF_DECIMAL || s->n != (size_t)col->type_length)
            return 0;
        *v = pr_flba_decimal(col, s->p);
        return 1;
    case PQ_FLOAT: {
        if (s->n != 4)
            return 0;
        uint32_t b = sf_pq_get32(s->p);
        float f;
        memcpy(&f, &b, 4);
        *v = sf_double(f);
        return 1;
    }
    case PQ_DOUBLE: {
        if (s->n != 8)
            return 0;
        uint64_t b = sf_pq_get64(s->p);
        double d;
        memcpy(&d, &b, 8);
        *v = sf_double(d);
        return 1;
    }
    default:
        *v = sf_string((const char *)s->p, s->n);
        return 1;
    }
}

void sf_parquet_reader_chunk(const sf_parquet_reader *r, size_t rg, size_t col,
                             sf_parquet_chunk_info *info)
{
    const pr_chunk *c = &r->chunks[rg * r->ncols + col];
    const pr_col *pc = &r->cols[col];
    memset(info, 0, sizeof *info);
    info->rows = r->rg_rows[rg];
    info->num_values = (uint64_t)c->num_values;
    info->compressed = (uint64_t)c->comp;
    info->uncompressed = c->unc > 0 ? (uint64_t)c->unc : 0;
    info->codec = sf_pq_codec_name(c->codec);
    info->dictionary = c->has_dict_off && c->dict_off > 0;
    info->encodings = c->encodings;
    info->has_null_count = c->has_null;
    info->null_count = c->has_null && c->null_count > 0 ? (uint64_t)c->null_count : 0;
    info->has_nan_count = c->has_nan;
    info->nan_count = c->has_nan && c->nan_count > 0 ? (uint64_t)c->nan_count : 0;
    const pr_stat *mn = &c->min, *mx = &c->max;
    if (!mn->set && !mx->set && pc->phys != PQ_BYTE_ARRAY) {
        mn = &c->min_old; /* signed order: the legacy fields agree for these types */
        mx = &c->max_old;
    }
    info->has_minmax = pr_stat_value(pc, mn, &info->min) && pr_stat_value(pc, mx, &info->max);
}

/* ---- pages ------------------------------------------------------------- */

typedef struct pr_page_header {
    int type;
    int64_t unc, comp;
    int64_t num_values;
    int encoding, def_enc;
    int64_t v2_nulls, v2_def_len, v2_rep_len;
    int v2_compressed;
    int has_data, has_dict, has_v2;
} pr_page_header;

static void pr_read_page_header(sf_tc_reader *t, pr_page_header *h)
{
    memset(h, 0, sizeof *h);
    h->type = h->encoding = h->def_enc = -1;
    h->unc = h->comp = h->num_values = -1;
    h->v2_compressed = 1;
    if (!sf_tc_struct_enter(t))
        return;
    int16_t last = 0, id;
    int type;
    while (sf_tc_next_field(t, &last, &id, &type)) {
        if (id == 1 && sf_tc_expect(t, type, SF_TC_I32)) {
            h->type = sf_tc_read_i32(t);
        } else if (id == 2 && sf_tc_expect(t, type, SF_TC_I32)) {
            h->unc = sf_tc_read_i32(t);
        } else if (id == 3 && sf_tc_expect(t, type, SF_TC_I32)) {
            h->comp = sf_tc_read_i32(t);
        } else if ((id == 5 || id == 7 || id == 8) && sf_tc_expect(t, type, SF_TC_STRUCT)) {
            if (!sf_tc_struct_enter(t))
                return;
            int16_t sl = 0, sid;
            int st;
            if (id == 5)
                h->has_data = 1;
            else if (id == 7)
                h->has_dict = 1;
            else
                h->has_v2 = 1;
            while (sf_tc_next_field(t, &sl, &sid, &st)) {
                if (st == SF_TC_TRUE || st == SF_TC_FALSE) {
                    if (id == 8 && sid == 7)
                        h->v2_compressed = st == SF_TC_TRUE;
                    continue;
                }
                if (st != SF_TC_I32) {
                    sf_tc_skip(t, st);
                    continue;
                }
                int32_t v = sf_tc_read_i32(t);
                if (sid == 1)
                    h->num_values = v;
                else if (id == 5 ? sid == 2 : id == 7 ? sid == 2 : sid == 4)
                    h->encoding = v;
                else if (id == 5 && sid == 3)
                    h->def_enc = v;
                else if (id == 8 && sid == 2)
                    h->v2_nulls = v;
                else if (id == 8 && sid == 5)
                    h->v2_def_len = v;
                else if (id == 8 && sid == 6)
                    h->v2_rep_len = v;
            }
        } else {
            sf_tc_skip(t, type);
        }
    }
}

/* Decompresses src[0..n) into c->page (or buf for the dictionary). */
static int pr_inflate(sf_parquet_reader *r, pr_col *c, unsigned char **buf, size_t *cap,
                      const unsigned char *src, size_t n, uint64_t unc, sf_error *err,
                      const char *where)
{
    if (unc > PR_MAX_PAGE_BYTES)
        return pr_fail(r, err, SF_E_PARSE, "%s: a page of %llu bytes is over the reader's limit",
                       where, (unsigned long long)unc);
    /* Bound the claimed size by what the codec can expand to before
     * allocating, so a small hostile file cannot ask for a huge buffer. */
    if ((c->codec == PQ_CODEC_UNCOMPRESSED && unc != n) ||
        (c->codec == PQ_CODEC_SNAPPY && unc > (uint64_t)n * 64 + 64) ||
        (c->codec == PQ_CODEC_GZIP && unc > (uint64_t)n * 1100 + 64))
        return pr_fail(r, err, SF_E_PARSE, "%s: page sizes do not fit the codec", where);
    if (pr_grow((void **)buf, cap, (size_t)unc + 8, 1) != 0)
        return pr_fail(r, err, SF_E_NOMEM, "%s: out of memory for a page", where);
    sf_error e;
    sf_error_clear(&e);
    int rc = sf_pq_decompress(c->codec, src, n, *buf, (size_t)unc, &e);
    if (rc != 0)
        return pr_fail(r, err, rc == SF_E_NOMEM ? rc : SF_E_PARSE, "%s: %s", where, e.msg);
    return 0;
}

static int pr_decode_dict(sf_parquet_reader *r, pr_col *c, uint64_t len, int64_t count,
                          sf_error *err, const char *where)
{
    if (count < 0 || (uint64_t)count > len * 8 + 8 || (uint64_t)count > PR_MAX_PAGE_VALUES)
        return pr_fail(r, err, SF_E_PARSE, "%s: bad dictionary size", where);
    if (pr_grow((void **)&c->dict, &c->dict_cap, (size_t)count + 1, sizeof(sf_value)) != 0)
        return pr_fail(r, err, SF_E_NOMEM, "%s: out of memory for a dictionary", where);
    const unsigned char *p = c->dict_buf, *end = c->dict_buf + len;
    for (int64_t i = 0; i < count; i++) {
        sf_value *v = &c->dict[i];
        size_t need = c->phys == PQ_INT64 || c->phys == PQ_DOUBLE ? 8
                      : c->phys == PQ_INT32 || c->phys == PQ_FLOAT ? 4
                      : c->phys == PQ_BYTE_ARRAY ? 4
                      : c->phys == PQ_FIXED_LEN_BYTE_ARRAY ? (size_t)c->type_length : 0;
        if (c->phys == PQ_BOOLEAN) {
            if ((uint64_t)i / 8 >= len)
                return pr_fail(r, err, SF_E_PARSE, "%s: dictionary page too short", where);
            *v = sf_bool((c->dict_buf[i / 8] >> (i % 8)) & 1);
            continue;
        }
        if ((size_t)(end - p) < need)
            return pr_fail(r, err, SF_E_PARSE, "%s: dictionary page too short", where);
        switch (c->phys) {
        case PQ_INT64: *v = pr_int(c, (int64_t)sf_pq_get64(p)); break;
        case PQ_INT32:
            *v = c->type == SF_DATE ? sf_date((int32_t)sf_pq_get32(p))
                                    : pr_int(c, (int32_t)sf_pq_get32(p));
            break;
        case PQ_FIXED_LEN_BYTE_ARRAY: *v = pr_flba_decimal(c, p); break;
        case PQ_DOUBLE: {
            uint64_t b = sf_pq_get64(p);
            double d;
            memcpy(&d, &b, 8);
            *v = sf_double(d);
            break;
        }
        case PQ_FLOAT: {
            uint32_t b = sf_pq_get32(p);
            float f;
            memcpy(&f, &b, 4);
            *v = sf_double(f);
            break;
        }
        default: {
            uint32_t sl = sf_pq_get32(p);
            if (sl > (size_t)(end - p) - 4)
                return pr_fail(r, err, SF_E_PARSE, "%s: dictionary string past the page", where);
            *v = sf_string((const char *)p + 4, sl);
            need += sl;
        }
        }
        p += need;
    }
    c->ndict = (size_t)count;
    return 0;
}

/* Loads the next data page of column ci (reading past a dictionary page
 * and index pages). */
static int pr_next_page(sf_parquet_reader *r, size_t ci, sf_error *err)
{
    pr_col *c = &r->cols[ci];
    char where[160];
    snprintf(where, sizeof where, "row group %zu, column '%.80s'", r->rg, c->name);
    for (;;) {
        if (c->values_left == 0 || c->pos >= c->chunk_len)
            return pr_fail(r, err, SF_E_PARSE, "%s: the pages end before the rows do", where);
        sf_tc_reader t;
        sf_tc_reader_init(&t, c->chunk + c->pos, c->chunk_len - c->pos);
        pr_page_header h;
        pr_read_page_header(&t, &h);
        if (t.err)
            return pr_fail(r, err, SF_E_PARSE, "%s: bad page header: %s", where, t.why);
        size_t hlen = (size_t)(t.p - (c->chunk + c->pos));
        if (h.type < 0 || h.unc < 0 || h.comp < 0 ||
            (uint64_t)h.comp > c->chunk_len - c->pos - hlen)
            return pr_fail(r, err, SF_E_PARSE, "%s: page sizes outside the column chunk", where);
        const unsigned char *body = c->chunk + c->pos + hlen;
        c->pos += hlen + (size_t)h.comp;
        int first = c->pages_seen++ == 0;

        if (h.type == PQ_PAGE_DICTIONARY) {
            if (!first || !h.has_dict || (h.encoding != PQ_ENC_PLAIN &&
                                          h.encoding != PQ_ENC_PLAIN_DICTIONARY))
                return pr_fail(r, err, SF_E_PARSE, "%s: misplaced or unsupported dictionary page",
                               where);
            if (pr_inflate(r, c, &c->dict_buf, &c->dict_buf_cap, body, (size_t)h.comp,
                           (uint64_t)h.unc, err, where) != 0)
                return r->failed;
            if (pr_decode_dict(r, c, (uint64_t)h.unc, h.num_values, err, where) != 0)
                return r->failed;
            continue;
        }
        if (h.type != PQ_PAGE_DATA && h.type != PQ_PAGE_DATA_V2)
            continue; /* index pages carry no values */
        if ((h.type == PQ_PAGE_DATA && !h.has_data) || (h.type == PQ_PAGE_DATA_V2 && !h.has_v2))
            return pr_fail(r, err, SF_E_PARSE, "%s: data page without its header", where);
        if (h.num_values < 0 || (uint64_t)h.num_values > c->values_left ||
            (uint64_t)h.num_values > PR_MAX_PAGE_VALUES)
            return pr_fail(r, err, SF_E_PARSE, "%s: bad value count %lld in a page", where,
                           (long long)h.num_values);
        size_t nv = (size_t)h.num_values;
        const unsigned char *vals, *pend;
        const char *why = NULL;
        if (pr_grow((void **)&c->defs, &c->defs_cap, nv + 1, sizeof(uint32_t)) != 0)
            return pr_fail(r, err, SF_E_NOMEM, "%s: out of memory", where);
        if (h.type == PQ_PAGE_DATA) {
            if (pr_inflate(r, c, &c->page, &c->page_cap, body, (size_t)h.comp, (uint64_t)h.unc,
                           err, where) != 0)
                return r->failed;
            vals = c->page;
            pend = c->page + h.unc;
            if (c->optional) {
                if (h.def_enc != PQ_ENC_RLE)
                    return pr_fail(r, err, SF_E_PARSE,
                                   "%s: definition levels in encoding %d are not supported",
                                   where, h.def_enc);
                if (pend - vals < 4 || sf_pq_get32(vals) > (uint64_t)(pend - vals - 4))
                    return pr_fail(r, err, SF_E_PARSE, "%s: definition levels past the page",
                                   where);
                uint32_t dl = sf_pq_get32(vals);
                if (sf_pq_hybrid_decode(vals + 4, dl, 1, nv, c->defs, &why) != 0)
                    return pr_fail(r, err, SF_E_PARSE, "%s: definition levels: %s", where, why);
                vals += 4 + dl;
            }
        } else {
            int64_t lv = h.v2_def_len, lr = h.v2_rep_len;
            if (lv < 0 || lr != 0 || lv > h.comp || lv > h.unc)
                return pr_fail(r, err, SF_E_PARSE, "%s: bad level sizes in a v2 page", where);
            uint64_t unc_vals = (uint64_t)(h.unc - lv);
            if (pr_grow((void **)&c->page, &c->page_cap, (size_t)lv + 8, 1) != 0)
                return pr_fail(r, err, SF_E_NOMEM, "%s: out of memory", where);
            if (c->optional) {
                if (sf_pq_hybrid_decode(body, (size_t)lv, 1, nv, c->defs, &why) != 0)
                    return pr_fail(r, err, SF_E_PARSE, "%s: definition levels: %s", where, why);
            }
            int saved = c->codec;
            if (!h.v2_compressed)
                c->codec = PQ_CODEC_UNCOMPRESSED;
            int rc = pr_inflate(r, c, &c->page, &c->page_cap, body + lv, (size_t)(h.comp - lv),
                                unc_vals, err, where);
            c->codec = saved;
            if (rc != 0)
                return r->failed;
            vals = c->page;
            pend = c->page + unc_vals;
        }
        size_t present = nv;
        if (c->optional) {
            present = 0;
            for (size_t i = 0; i < nv; i++) {
                if (c->defs[i] > 1)
                    return pr_fail(r, err, SF_E_PARSE, "%s: definition level over 1", where);
                present += c->defs[i];
            }
        }
        c->enc = h.encoding;
        c->npresent = present;
        c->idx_at = 0;
        c->vp = vals;
        c->vend = pend;
        c->bit = 0;
        if (h.encoding == PQ_ENC_RLE_DICTIONARY || h.encoding == PQ_ENC_PLAIN_DICTIONARY) {
            if (!c->dict)
                return pr_fail(r, err, SF_E_PARSE, "%s: dictionary-encoded page without a dictionary",
                               where);
            if (pr_grow((void **)&c->idx, &c->idx_cap, present + 1, sizeof(uint32_t)) != 0)
                return pr_fail(r, err, SF_E_NOMEM, "%s: out of memory", where);
            if (present) {
                if (vals >= pend)
                    return pr_fail(r, err, SF_E_PARSE, "%s: missing index bit width", where);
                int width = vals[0];
                if (sf_pq_hybrid_decode(vals + 1, (size_t)(pend - vals - 1), width, present,
                                        c->idx, &why) != 0)
                    return pr_fail(r, err, SF_E_PARSE, "%s: dictionary indices: %s", where, why);
                for (size_t i = 0; i < present; i++)
                    if (c->idx[i] >= c->ndict)
                        return pr_fail(r, err, SF_E_PARSE, "%s: dictionary index out of range",
                                       where);
            }
        } else if (h.encoding == PQ_ENC_RLE && c->phys == PQ_BOOLEAN) {
            if (pr_grow((void **)&c->idx, &c->idx_cap, present + 1, sizeof(uint32_t)) != 0)
                return pr_fail(r, err, SF_E_NOMEM, "%s: out of memory", where);
            if (pend - vals < 4 || sf_pq_get32(vals) > (uint64_t)(pend - vals - 4))
                return pr_fail(r, err, SF_E_PARSE, "%s: boolean runs past the page", where);
            if (sf_pq_hybrid_decode(vals + 4, sf_pq_get32(vals), 1, present, c->idx, &why) != 0)
                return pr_fail(r, err, SF_E_PARSE, "%s: booleans: %s", where, why);
        } else if (h.encoding != PQ_ENC_PLAIN) {
            return pr_fail(r, err, SF_E_PARSE, "%s: encoding %d is not supported", where,
                           h.encoding);
        }
        c->page_vals = nv;
        c->page_at = 0;
        c->values_left -= nv;
        if (nv)
            return 0;
    }
}

/* The next present value of column c's page. */
static int pr_value(sf_parquet_reader *r, pr_col *c, sf_value *v, sf_error *err)
{
    if (c->enc == PQ_ENC_RLE_DICTIONARY || c->enc == PQ_ENC_PLAIN_DICTIONARY) {
        *v = c->dict[c->idx[c->idx_at++]];
        return 0;
    }
    if (c->enc == PQ_ENC_RLE) {
        *v = sf_bool((int)c->idx[c->idx_at++]);
        return 0;
    }
    size_t left = (size_t)(c->vend - c->vp);
    switch (c->phys) {
    case PQ_BOOLEAN:
        if (c->bit / 8 >= left)
            break;
        *v = sf_bool((c->vp[c->bit / 8] >> (c->bit % 8)) & 1);
        c->bit++;
        return 0;
    case PQ_INT64:
        if (left < 8)
            break;
        *v = pr_int(c, (int64_t)sf_pq_get64(c->vp));
        c->vp += 8;
        return 0;
    case PQ_INT32:
        if (left < 4)
            break;
        *v = c->type == SF_DATE ? sf_date((int32_t)sf_pq_get32(c->vp))
                                : pr_int(c, (int32_t)sf_pq_get32(c->vp));
        c->vp += 4;
        return 0;
    case PQ_FIXED_LEN_BYTE_ARRAY:
        if (left < (size_t)c->type_length)
            break;
        *v = pr_flba_decimal(c, c->vp);
        c->vp += c->type_length;
        return 0;
    case PQ_DOUBLE: {
        if (left < 8)
            break;
        uint64_t b = sf_pq_get64(c->vp);
        double d;
        memcpy(&d, &b, 8);
        *v = sf_double(d);
        c->vp += 8;
        return 0;
    }
    case PQ_FLOAT: {
        if (left < 4)
            break;
        uint32_t b = sf_pq_get32(c->vp);
        float f;
        memcpy(&f, &b, 4);
        *v = sf_double(f);
        c->vp += 4;
        return 0;
    }
    default: {
        if (left < 4 || sf_pq_get32(c->vp) > left - 4)
            break;
        uint32_t n = sf_pq_get32(c->vp);
        *v = sf_string((const char *)c->vp + 4, n);
        c->vp += 4 + n;
        return 0;
    }
    }
    return pr_fail(r, err, SF_E_PARSE, "row group %zu, column '%s': values end before the page",
                   r->rg, c->name);
}

static int pr_load_row_group(sf_parquet_reader *r, sf_error *err)
{
    for (size_t i = 0; i < r->ncols; i++) {
        pr_col *c = &r->cols[i];
        const pr_chunk *k = &r->chunks[r->rg * r->ncols + i];
        if (pr_grow((void **)&c->chunk, &c->chunk_cap, (size_t)k->len + 1, 1) != 0)
            return pr_fail(r, err, SF_E_NOMEM, "row group %zu, column '%s': out of memory", r->rg,
                           c->name);
        if (pr_pread(r, c->chunk, (size_t)k->len, k->start) != 0)
            return pr_fail(r, err, SF_E_IO, "row group %zu, column '%s': read failed", r->rg,
                           c->name);
        c->chunk_len = (size_t)k->len;
        c->pos = 0;
        c->codec = k->codec;
        c->values_left = (uint64_t)k->num_values;
        c->pages_seen = 0;
        c->ndict = 0;
        free(c->dict);
        c->dict = NULL;
        c->dict_cap = 0;
        c->page_vals = c->page_at = 0;
    }
    r->rg_left = r->rg_rows[r->rg];
    r->rg_loaded = 1;
    return 0;
}

int sf_parquet_reader_next(sf_parquet_reader *r, size_t max, const sf_value **rows, size_t *n,
                           sf_error *err)
{
    *rows = NULL;
    *n = 0;
    if (r->failed) {
        if (err)
            *err = r->ferr;
        return r->failed;
    }
    if (max == 0)
        max = 1;
    while (r->rg < r->nrg && (!r->rg_loaded || r->rg_left == 0)) {
        if (r->rg_loaded) {
            for (size_t i = 0; i < r->ncols; i++) {
                const pr_col *c = &r->cols[i];
                if (c->page_at != c->page_vals || c->values_left != 0)
                    return pr_fail(r, err, SF_E_PARSE,
                                   "row group %zu, column '%s': more values than rows", r->rg,
                                   c->name);
            }
            r->rg++;
            r->rg_loaded = 0;
            continue;
        }
        if (r->rg_rows[r->rg] == 0) {
            r->rg++;
            continue;
        }
        if (pr_load_row_group(r, err) != 0)
            return r->failed;
    }
    if (r->rg >= r->nrg)
        return 0;
    size_t want = max < r->rg_left ? max : (size_t)r->rg_left;
    for (size_t i = 0; i < r->ncols; i++) {
        pr_col *c = &r->cols[i];
        if (c->page_at == c->page_vals && pr_next_page(r, i, err) != 0)
            return r->failed;
        if (c->page_vals - c->page_at < want)
            want = (size_t)(c->page_vals - c->page_at);
    }
    if (want > SIZE_MAX / sizeof(sf_value) / r->ncols ||
        pr_grow((void **)&r->batch, &r->batch_cap, want * r->ncols, sizeof(sf_value)) != 0)
        return pr_fail(r, err, SF_E_NOMEM, "out of memory for a batch");
    for (size_t i = 0; i < r->ncols; i++) {
        pr_col *c = &r->cols[i];
        for (size_t k = 0; k < want; k++) {
            sf_value *v = &r->batch[k * r->ncols + i];
            if (c->optional && !c->defs[c->page_at + k]) {
                *v = sf_null();
                continue;
            }
            if (pr_value(r, c, v, err) != 0)
                return r->failed;
        }
        c->page_at += want;
    }
    r->rg_left -= want;
    *rows = r->batch;
    *n = want;
    return 0;
}

/* ---- concatenation ------------------------------------------------------ */

int sf_parquet_piece_range(const char *path, uint64_t *off, uint64_t *len, sf_error *err)
{
    sf_parquet_reader *r;
    int rc = sf_parquet_reader_open(&r, path, err);
    if (rc)
        return rc;
    *off = 4;
    *len = r->size - 8 - r->footer_len - 4;
    sf_parquet_reader_close(r);
    return 0;
}

/* Checks that piece r has the columns a shardflow writer makes for
 * names/types. */
static int pr_same_schema(sf_parquet_reader *r, size_t ncols, const char *const *names,
                          const sf_type *types, sf_error *err)
{
    if (r->ncols != ncols)
        return pr_fail(r, err, SF_E_INVAL, "has %zu columns, the output %zu", r->ncols, ncols);
    for (size_t i = 0; i < ncols; i++) {
        const pr_col *c = &r->cols[i];
        sf_type t = types[i] == SF_NULL ? SF_STRING : types[i];
        int phys_ok = t == SF_DECIMAL ? c->phys == PQ_INT64 || c->phys == PQ_FIXED_LEN_BYTE_ARRAY
                                      : c->phys == sf_pq_phys_of(t);
        if (strcmp(c->name, names[i]) != 0 || !c->optional || c->type != t || !phys_ok)
            return pr_fail(r, err, SF_E_INVAL,
                           "column %zu is '%s' (%s), the output's '%s' (%s): not a piece of it",
                           i, c->name, sf_type_name(c->type), names[i], sf_type_name(t));
    }
    return 0;
}

int sf_parquet_concat_footer(size_t ncols, const char *const *names, const sf_type *types,
                             const char *const *pieces, size_t n, const uint64_t *at,
                             const sf_parquet_options *opt, sf_buf *footer, uint64_t *rows,
                             sf_error *err)
{
    sf_buf rgs = SF_BUF_INIT, chunks = SF_BUF_INIT;
    uint64_t total = 0, nrg = 0;
    /* decimals keep the precision and scale of the pieces */
    sf_dec_type *decs = calloc(ncols ? ncols : 1, sizeof *decs);
    int rc = decs ? 0 : sf_error_set(err, SF_E_NOMEM, "out of memory");
    for (size_t p = 0; p < n && !rc; p++) {
        sf_parquet_reader *r;
        rc = sf_parquet_reader_open(&r, pieces[p], err);
        if (rc)
            break;
        rc = pr_same_schema(r, ncols, names, types, err);
        for (size_t i = 0; !rc && i < ncols; i++) {
            if (p > 0 && (r->cols[i].dec.prec != decs[i].prec ||
                          r->cols[i].dec.scale != decs[i].scale))
                rc = pr_fail(r, err, SF_E_INVAL, "column %zu has another decimal type", i);
            decs[i] = r->cols[i].dec;
        }
        uint64_t body_end = r->size - 8 - r->footer_len;
        if (!rc && at[p] < 4)
            rc = pr_fail(r, err, SF_E_INVAL, "placed at offset %llu, before the magic",
                         (unsigned long long)at[p]);
        int64_t shift = (int64_t)at[p] - 4;
        for (size_t g = 0; !rc && g < r->nrg; g++) {
            chunks.n = 0;
            sf_tc_writer t;
            sf_tc_writer_init(&t, &chunks);
            int64_t unc = 0, comp = 0, first = INT64_MAX;
            for (size_t i = 0; i < ncols; i++) {
                const pr_chunk *k = &r->chunks[g * ncols + i];
                if (k->start + k->len > body_end) {
                    rc = pr_fail(r, err, SF_E_PARSE, "a column chunk overlaps the footer");
                    break;
                }
                sf_pq_chunk_meta m;
                memset(&m, 0, sizeof m);
                m.name = names[i];
                m.phys = k->phys;
                m.codec = k->codec;
                m.encodings = k->encodings;
                m.num_values = k->num_values;
                m.unc = k->unc;
                m.comp = k->comp;
                m.data_off = k->data_off + shift;
                m.dict_off = k->has_dict_off && k->dict_off > 0 ? k->dict_off + shift : 0;
                m.has_null_count = k->has_null;
                m.null_count = k->null_count;
                m.has_nan_count = k->has_nan;
                m.nan_count = k->nan_count;
                m.has_min = k->min.set;
                m.min = k->min.p;
                m.nmin = k->min.n;
                m.min_exact = k->min_exact;
                m.has_max = k->max.set;
                m.max = k->max.p;
                m.nmax = k->max.n;
                m.max_exact = k->max_exact;
                sf_pq_put_column_chunk(&t, &m);
                unc += k->unc > 0 ? k->unc : 0;
                comp += k->comp;
                if ((int64_t)k->start + shift < first)
                    first = (int64_t)k->start + shift;
            }
            if (rc)
                break;
            sf_tc_writer rt;
            sf_tc_writer_init(&rt, &rgs);
            sf_pq_put_row_group(&rt, chunks.p, chunks.n, ncols, unc, (int64_t)r->rg_rows[g],
                                first, comp, (int64_t)nrg);
            if (t.err || rt.err)
                rc = pr_fail(r, err, SF_E_NOMEM, "out of memory");
            nrg++;
            total += r->rg_rows[g];
        }
        sf_parquet_reader_close(r);
    }
    if (!rc) {
        sf_parquet_options defaults;
        if (!opt) {
            sf_parquet_options_init(&defaults);
            opt = &defaults;
        }
        rc = sf_pq_put_footer(footer, ncols, names, types, decs, total, nrg, rgs.p, rgs.n,
                              opt->kv_keys, opt->kv_values, opt->nkv);
        if (rc)
            rc = sf_error_set(err, SF_E_NOMEM, "out of memory building a Parquet footer");
    }
    if (!rc && rows)
        *rows = total;
    sf_buf_free(&rgs);
    sf_buf_free(&chunks);
    free(decs);
    return rc;
}

static int pr_write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t k = write(fd, c, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

int sf_parquet_concat(const char *out, size_t ncols, const char *const *names,
                      const sf_type *types, const char *const *pieces, size_t n,
                      const sf_parquet_options *opt, uint64_t *rows, uint64_t *bytes,
                      sf_error *err)
{
    uint64_t *at = calloc(n + 1, sizeof *at);
    char *buf = malloc((size_t)1 << 20);
    sf_buf footer = SF_BUF_INIT;
    int rc = 0, fd = -1;
    uint64_t pos = 4;
    if (!at || !buf) {
        rc = sf_error_set(err, SF_E_NOMEM, "%s: out of memory", out);
        goto done;
    }
    fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0 || pr_write_all(fd, "PAR1", 4) != 0) {
        rc = sf_error_set(err, SF_E_IO, "%s: cannot write: %s", out, strerror(errno));
        goto done;
    }
    for (size_t p = 0; p < n; p++) {
        uint64_t off, len;
        rc = sf_parquet_piece_range(pieces[p], &off, &len, err);
        if (rc)
            goto done;
        int in = open(pieces[p], O_RDONLY | O_CLOEXEC);
        if (in < 0) {
            rc = sf_error_set(err, SF_E_IO, "%s: cannot open: %s", pieces[p], strerror(errno));
            goto done;
        }
        at[p] = pos;
        for (uint64_t done = 0; done < len && !rc;) {
            size_t want = len - done < ((uint64_t)1 << 20) ? (size_t)(len - done) : (size_t)1 << 20;
            ssize_t k = pread(in, buf, want, (off_t)(off + done));
            if (k < 0 && errno == EINTR)
                continue;
            if (k <= 0)
                rc = sf_error_set(err, SF_E_IO, "%s: read failed: %s", pieces[p],
                                  k ? strerror(errno) : "file shrank");
            else if (pr_write_all(fd, buf, (size_t)k) != 0)
                rc = sf_error_set(err, SF_E_IO, "%s: write failed: %s", out, strerror(errno));
            else
                done += (uint64_t)k;
        }
        close(in);
        if (rc)
            goto done;
        pos += len;
    }
    rc = sf_parquet_concat_footer(ncols, names, types, pieces, n, at, opt, &footer, rows, err);
    if (rc)
        goto done;
    if (pr_write_all(fd, footer.p, footer.n) != 0 || (fsync(fd) != 0 && errno != EINVAL)) {
        rc = sf_error_set(err, SF_E_IO, "%s: write failed: %s", out, strerror(errno));
        goto done;
    }
    pos += footer.n;
    if (bytes)
        *bytes = pos;
done:
    if (fd >= 0 && close(fd) != 0 && !rc)
        rc = sf_error_set(err, SF_E_IO, "%s: close failed: %s", out, strerror(errno));
    free(at);
    free(buf);
    sf_buf_free(&footer);
    return rc;
}

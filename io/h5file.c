/* h5file.c - HDF5 table writer for one partition per file, and the dataset,
 * attribute and column-buffer helpers the single-file layout shares.
 *
 * Invariant: a writer creates its file at open (so a bad path fails before
 * any row is buffered) but writes nothing into it before close, because the
 * dataset shapes (row count, chunk size, string form, whether a ".valid"
 * dataset exists) are only known once every row is in.
 */
#include "io/h5file.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/value_text.h"
#include "io/fsutil.h"

#define H5_DATE_UNITS "days since 1970-01-01"
#define H5_TIMESTAMP_UNITS "microseconds since 1970-01-01T00:00:00Z"

void sf_h5_quiet(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static herr_t innermost_cb(unsigned n, const H5E_error2_t *e, void *data)
{
    (void)n;
    char *out = data;
    /* The walk goes upward, from the most specific error to the API call. */
    if (out[0] || !e->desc || !e->desc[0])
        return 0;
    /* A failed system call is described as "file write failed: time = ...,
     * filename = ..., errno = 28, error message = 'No space left on device',
     * ...": keep the operation and the system's message. */
    const char *em = strstr(e->desc, "error message = '");
    const char *colon = strchr(e->desc, ':');
    if (em && colon && colon < em) {
        em += strlen("error message = '");
        const char *end = strchr(em, '\'');
        snprintf(out, 256, "%.*s: %.*s", (int)(colon - e->desc), e->desc,
                 (int)(end ? end - em : (ptrdiff_t)strlen(em)), em);
    } else {
        snprintf(out, 256, "%s", e->desc);
    }
    return 0;
}

int sf_h5_fail(sf_error *err, int code, const char *fmt, ...)
{
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    char why[256] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost_cb, why);
    H5Eclear2(H5E_DEFAULT);
    if (why[0])
        return sf_error_set(err, code, "%s: %s", what, why);
    return sf_error_set(err, code, "%s", what);
}

/* ---- types, names, attributes ---- */

static hid_t bool_type(hid_t base)
{
    hid_t t = H5Tenum_create(base);
    if (t < 0)
        return H5I_INVALID_HID;
    signed char f = 0, tr = 1;
    if (H5Tenum_insert(t, "FALSE", &f) < 0 || H5Tenum_insert(t, "TRUE", &tr) < 0) {
        H5Tclose(t);
        return H5I_INVALID_HID;
    }
    return t;
}

static hid_t string_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t < 0)
        return H5I_INVALID_HID;
    if (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0) {
        H5Tclose(t);
        return H5I_INVALID_HID;
    }
    return t;
}

hid_t sf_h5_type(sf_type type, int nul_bytes, int in_memory)
{
    switch (type) {
    case SF_INT:
    case SF_TIMESTAMP:
        return H5Tcopy(in_memory ? H5T_NATIVE_INT64 : H5T_STD_I64LE);
    case SF_DOUBLE:
        return H5Tcopy(in_memory ? H5T_NATIVE_DOUBLE : H5T_IEEE_F64LE);
    case SF_BOOL:
        return bool_type(in_memory ? H5T_NATIVE_SCHAR : H5T_STD_I8LE);
    case SF_DATE:
        return H5Tcopy(in_memory ? H5T_NATIVE_INT32 : H5T_STD_I32LE);
    case SF_STRING:
    case SF_DECIMAL: /* decimals are stored as their exact text */
        if (nul_bytes)
            return H5Tvlen_create(in_memory ? H5T_NATIVE_UCHAR : H5T_STD_U8LE);
        return string_type();
    case SF_NULL:
        return H5Tcopy(in_memory ? H5T_NATIVE_UINT8 : H5T_STD_U8LE);
    }
    return H5I_INVALID_HID;
}

int sf_h5_link_name(const char *column, int validity, sf_buf *out)
{
    int rc = 0;
    if (strcmp(column, ".") == 0) {
        rc = sf_buf_append(out, "%2E", 3);
    } else {
        for (const char *p = column; *p && !rc; p++) {
            if (*p == '/')
                rc = sf_buf_append(out, "%2F", 3);
            else if (*p == '%')
                rc = sf_buf_append(out, "%25", 3);
            else
                rc = sf_buf_append(out, p, 1);
        }
    }
    if (!rc && validity)
        rc = sf_buf_append(out, ".valid", 6);
    if (!rc)
        rc = sf_buf_append(out, "", 1);
    if (!rc)
        out->n--; /* keep the NUL out of the length */
    return rc ? SF_E_NOMEM : 0;
}

/* Writes an attribute of type t and shape space holding buf. */
static int put_attr(hid_t loc, const char *name, hid_t t, hid_t space, const void *buf,
                    const char *where, sf_error *err)
{
    int rc = 0;
    hid_t a = H5I_INVALID_HID;
    if (t < 0 || space < 0)
        rc = sf_h5_fail(err, SF_E_IO, "%s: cannot make the type of attribute '%s'", where, name);
    if (!rc) {
        a = H5Acreate2(loc, name, t, space, H5P_DEFAULT, H5P_DEFAULT);
        if (a < 0 || H5Awrite(a, t, buf) < 0)
            rc = sf_h5_fail(err, SF_E_IO, "%s: cannot write attribute '%s'", where, name);
    }
    if (a >= 0)
        H5Aclose(a);
    return rc;
}

int sf_h5_attr_string(hid_t loc, const char *name, const char *value, const char *where,
                      sf_error *err)
{
    hid_t t = string_type();
    hid_t s = H5Screate(H5S_SCALAR);
    const char *v = value ? value : "";
    int rc = put_attr(loc, name, t, s, &v, where, err);
    if (t >= 0)
        H5Tclose(t);
    if (s >= 0)
        H5Sclose(s);
    return rc;
}

int sf_h5_attr_strings(hid_t loc, const char *name, const char *const *values, size_t n,
                       const char *where, sf_error *err)
{
    hid_t t = string_type();
    hsize_t dim = n;
    hid_t s = H5Screate_simple(1, &dim, NULL);
    int rc = put_attr(loc, name, t, s, values, where, err);
    if (t >= 0)
        H5Tclose(t);
    if (s >= 0)
        H5Sclose(s);
    return rc;
}

int sf_h5_attr_u64(hid_t loc, const char *name, uint64_t value, const char *where, sf_error *err)
{
    hid_t s = H5Screate(H5S_SCALAR);
    int rc = put_attr(loc, name, H5T_STD_U64LE, s, &value, where, err);
    if (s >= 0)
        H5Sclose(s);
    return rc;
}

int sf_h5_table_attrs(hid_t loc, size_t ncols, const char *const *names, const sf_type *types,
                      uint64_t rows, const char *where, sf_error *err)
{
    const char **tn = malloc((ncols ? ncols : 1) * sizeof *tn);
    if (!tn)
        return sf_error_set(err, SF_E_NOMEM, "%s: out of memory", where);
    for (size_t c = 0; c < ncols; c++)
        tn[c] = sf_type_name(types[c]);
    int rc = sf_h5_attr_strings(loc, "columns", names, ncols, where, err);
    if (!rc)
        rc = sf_h5_attr_strings(loc, "types", tn, ncols, where, err);
    if (!rc)
        rc = sf_h5_attr_u64(loc, "row_count", rows, where, err);
    free(tn);
    return rc;
}

int sf_h5_file_attrs(hid_t file, const char *layout, const sf_h5_options *opt, const char *where,
                     sf_error *err)
{
    int rc = sf_h5_attr_string(file, "shardflow_layout", layout, where, err);
    if (!rc)
        rc = sf_h5_attr_string(file, "job", opt->job, where, err);
    if (!rc)
        rc = sf_h5_attr_string(file, "spec_hash", opt->spec_hash, where, err);
    if (!rc)
        rc = sf_h5_attr_string(file, "shardflow_version", opt->version ? opt->version : SF_VERSION,
                               where, err);
    return rc;
}

int sf_h5_dataset_create(hid_t loc, const char *column, sf_type type, int validity, int nul_bytes,
                         uint64_t rows, const sf_h5_options *opt, const char *where, hid_t *out,
                         sf_error *err)
{
    *out = H5I_INVALID_HID;
    sf_buf name = SF_BUF_INIT;
    if (sf_h5_link_name(column, validity, &name) != 0)
        return sf_error_set(err, SF_E_NOMEM, "%s: out of memory", where);
    hid_t t = validity ? H5Tcopy(H5T_STD_U8LE) : sf_h5_type(type, nul_bytes, 0);
    hsize_t dim = rows;
    hid_t space = H5Screate_simple(1, &dim, &dim);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t d = H5I_INVALID_HID;
    int rc = 0;
    if (t < 0 || space < 0 || dcpl < 0 || H5Pset_obj_track_times(dcpl, 0) < 0)
        rc = SF_E_IO;
    int variable = !rc && !validity && type == SF_STRING;
    /* Variable-length datasets need a fill value to exist; every other
     * dataset is written in full, so filling it first is wasted I/O. */
    if (!rc && !variable && H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) < 0)
        rc = SF_E_IO;
    if (!rc && rows > 0) {
        hsize_t chunk = opt->chunk_rows ? opt->chunk_rows : SF_H5_CHUNK_ROWS;
        if (chunk > rows)
            chunk = rows;
        if (H5Pset_chunk(dcpl, 1, &chunk) < 0)
            rc = SF_E_IO;
        if (!rc && opt->gzip != SF_H5_NO_COMPRESSION &&
            (H5Pset_shuffle(dcpl) < 0 || H5Pset_deflate(dcpl, (unsigned)opt->gzip) < 0))
            rc = SF_E_IO;
    }
    if (!rc) {
        d = H5Dcreate2(loc, (const char *)name.p, t, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        if (d < 0)
            rc = SF_E_IO;
    }
    if (rc)
        rc = sf_h5_fail(err, rc, "%s: cannot create dataset '%s'", where, (const char *)name.p);
    if (!rc && !validity) {
        char what[512];
        snprintf(what, sizeof what, "%s: dataset '%s'", where, (const char *)name.p);
        rc = sf_h5_attr_string(d, "type", sf_type_name(type), what, err);
        if (!rc && type == SF_DATE)
            rc = sf_h5_attr_string(d, "units", H5_DATE_UNITS, what, err);
        if (!rc && type == SF_TIMESTAMP)
            rc = sf_h5_attr_string(d, "units", H5_TIMESTAMP_UNITS, what, err);
    }
    if (rc && d >= 0) {
        H5Dclose(d);
        d = H5I_INVALID_HID;
    }
    if (t >= 0)
        H5Tclose(t);
    if (space >= 0)
        H5Sclose(space);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    sf_buf_free(&name);
    *out = d;
    return rc;
}

/* ---- column buffers ---- */

static size_t elem_size(sf_type type)
{
    switch (type) {
    case SF_INT:
    case SF_DOUBLE:
    case SF_TIMESTAMP:
        return 8;
    case SF_DATE:
        return 4;
    case SF_STRING:
    case SF_DECIMAL:
        return sizeof(size_t);
    case SF_BOOL:
    case SF_NULL:
        break;
    }
    return 1;
}

void sf_h5_column_init(sf_h5_column *c, sf_type type)
{
    memset(c, 0, sizeof *c);
    c->type = type == SF_DECIMAL ? SF_STRING : type; /* decimals as their text */
}

static int column_grow(sf_h5_column *c)
{
    size_t ncap = c->cap ? c->cap * 2 : 1024;
    size_t es = elem_size(c->type);
    if (ncap > SIZE_MAX / es - 1)
        return SF_E_NOMEM;
    /* Strings keep one offset more than values: the end of the last one. */
    unsigned char *d = realloc(c->data, (ncap + 1) * es);
    if (!d)
        return SF_E_NOMEM;
    c->data = d;
    if (c->cap == 0 && c->type == SF_STRING)
        ((size_t *)c->data)[0] = 0;
    uint8_t *v = realloc(c->valid, ncap);
    if (!v)
        return SF_E_NOMEM;
    c->valid = v;
    c->cap = ncap;
    return 0;
}

static int column_put_bytes(sf_h5_column *c, const char *p, size_t n)
{
    if (n + 1 > c->bcap - c->nbytes) {
        size_t need = c->nbytes + n + 1;
        if (need < n)
            return SF_E_NOMEM;
        size_t ncap = c->bcap ? c->bcap : 4096;
        while (ncap < need)
            ncap *= 2;
        char *b = realloc(c->bytes, ncap);
        if (!b)
            return SF_E_NOMEM;
        c->bytes = b;
        c->bcap = ncap;
    }
    if (n)
        memcpy(c->bytes + c->nbytes, p, n);
    c->bytes[c->nbytes + n] = '\0';
    c->nbytes += n + 1;
    return 0;
}

int sf_h5_column_push(sf_h5_column *c, const sf_value *v)
{
    if (c->type == SF_STRING && v->type == SF_DECIMAL) {
        /* decimals are stored as their exact text (the bytes are copied) */
        char b[SF_FMT_BUF];
        sf_value s = sf_string(b, sf_value_text_format(v, b));
        return sf_h5_column_push(c, &s);
    }
    int isnull = v->type == SF_NULL;
    if (!isnull && v->type != c->type)
        return SF_E_TYPE;
    if (c->n == c->cap && column_grow(c) != 0)
        return SF_E_NOMEM;
    size_t i = c->n;
    switch (c->type) {
    case SF_INT:
    case SF_TIMESTAMP:
        ((int64_t *)c->data)[i] = isnull ? 0 : v->u.i;
        break;
    case SF_DOUBLE:
        ((double *)c->data)[i] = isnull ? NAN : v->u.d;
        break;
    case SF_BOOL:
        ((signed char *)c->data)[i] = (signed char)(isnull ? 0 : v->u.b != 0);
        break;
    case SF_DATE:
        ((int32_t *)c->data)[i] = isnull ? 0 : v->u.date;
        break;
    case SF_STRING: {
        const char *p = isnull ? "" : v->u.s.p;
        size_t n = isnull ? 0 : v->u.s.n;
        if (column_put_bytes(c, p, n) != 0)
            return SF_E_NOMEM;
        ((size_t *)c->data)[i + 1] = c->nbytes;
        if (n && memchr(p, '\0', n))
            c->nul_bytes = 1;
        break;
    }
    case SF_NULL:
    case SF_DECIMAL: /* never: sf_h5_column_init makes it a string column */
        ((uint8_t *)c->data)[i] = 0;
        break;
    }
    c->valid[i] = !isnull;
    c->nnull += (size_t)isnull;
    c->n++;
    return 0;
}

/* Points c->ptrs at each string: char * (as_seq 0) or hvl_t (as_seq 1). */
static int column_string_ptrs(sf_h5_column *c, int as_seq)
{
    size_t es = as_seq ? sizeof(hvl_t) : sizeof(char *);
    if (c->n > SIZE_MAX / es)
        return SF_E_NOMEM;
    if (c->n * es > c->pcap) {
        void *p = realloc(c->ptrs, c->n * es);
        if (!p)
            return SF_E_NOMEM;
        c->ptrs = p;
        c->pcap = c->n * es;
    }
    const size_t *off = (const size_t *)c->data;
    for (size_t i = 0; i < c->n; i++) {
        char *s = c->bytes + off[i];
        if (as_seq) {
            hvl_t *h = (hvl_t *)c->ptrs + i;
            h->len = off[i + 1] - off[i] - 1;
            h->p = s;
        } else {
            ((char **)c->ptrs)[i] = s;
        }
    }
    return 0;
}

/* H5Dwrite of n elements at offset at from buf. */
static herr_t write_slab(hid_t dset, hid_t mtype, uint64_t at, size_t n, hid_t dxpl,
                         const void *buf)
{
    hsize_t start = at, count = n;
    hid_t fs = H5Dget_space(dset);
    hid_t ms = H5Screate_simple(1, &count, NULL);
    herr_t e = -1;
    if (fs >= 0 && ms >= 0 &&
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &count, NULL) >= 0)
        e = H5Dwrite(dset, mtype, ms, fs, dxpl, buf);
    if (fs >= 0)
        H5Sclose(fs);
    if (ms >= 0)
        H5Sclose(ms);
    return e;
}

int sf_h5_column_write(sf_h5_column *c, hid_t dset, hid_t valid, uint64_t at, hid_t dxpl,
                       const char *what, sf_error *err)
{
    if (c->n == 0)
        return 0;
    int as_seq = 0;
    if (c->type == SF_STRING) {
        hid_t ft = H5Dget_type(dset);
        if (ft < 0)
            return sf_h5_fail(err, SF_E_IO, "%s: cannot get the dataset type", what);
        as_seq = H5Tget_class(ft) == H5T_VLEN;
        H5Tclose(ft);
        if (!as_seq && c->nul_bytes)
            return sf_error_set(err, SF_E_INTERNAL,
                                "%s: a string holds a NUL byte but the dataset stores "
                                "NUL-terminated strings",
                                what);
        if (column_string_ptrs(c, as_seq) != 0)
            return sf_error_set(err, SF_E_NOMEM, "%s: out of memory", what);
    }
    hid_t mt = sf_h5_type(c->type, as_seq, 1);
    if (mt < 0)
        return sf_h5_fail(err, SF_E_IO, "%s: cannot make the memory type", what);
    const void *buf = c->type == SF_STRING ? c->ptrs : c->data;
    /* Both writes are attempted even if the first fails: with collective
     * transfers every rank must make the same H5Dwrite calls. */
    herr_t e1 = write_slab(dset, mt, at, c->n, dxpl, buf);
    H5Tclose(mt);
    herr_t e2 = valid >= 0 ? write_slab(valid, H5T_NATIVE_UINT8, at, c->n, dxpl, c->valid) : 0;
    if (e1 < 0)
        return sf_h5_fail(err, SF_E_IO, "%s: cannot write %zu values at row %llu", what, c->n,
                          (unsigned long long)at);
    if (e2 < 0)
        return sf_h5_fail(err, SF_E_IO, "%s: cannot write the validity of %zu values at row %llu",
                          what, c->n, (unsigned long long)at);
    return 0;
}

void sf_h5_column_clear(sf_h5_column *c)
{
    c->n = 0;
    c->nnull = 0;
    c->nbytes = 0;
    c->nul_bytes = 0;
}

void sf_h5_column_free(sf_h5_column *c)
{
    free(c->data);
    free(c->valid);
    free(c->bytes);
    free(c->ptrs);
    sf_h5_column_init(c, c->type);
}

/* ---- the per-partition writer ---- */

struct sf_h5_writer {
    char *path;
    hid_t file;
    size_t ncols;
    char **names;
    sf_type *types;
    sf_h5_column *cols;
    sf_h5_options opt; /* its strings point at the copies below */
    char *job, *spec_hash, *version;
    uint64_t rows;
    int rc;       /* first append failure, 0 if none */
    sf_error err; /* its message */
};

static char *dup_or_null(const char *s, int *bad)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *bad = 1;
    return d;
}

static void writer_free(sf_h5_writer *w)
{
    if (w->file >= 0)
        H5Fclose(w->file);
    for (size_t c = 0; c < w->ncols; c++) {
        if (w->names)
            free(w->names[c]);
        if (w->cols)
            sf_h5_column_free(&w->cols[c]);
    }
    free(w->names);
    free(w->types);
    free(w->cols);
    free(w->job);
    free(w->spec_hash);
    free(w->version);
    free(w->path);
    free(w);
}

int sf_h5_writer_open(sf_h5_writer **out, const char *path, size_t ncols,
                      const char *const *names, const sf_type *types, const sf_h5_options *opt,
                      sf_error *err)
{
    *out = NULL;
    int rc = sf_h5_check_columns(ncols, names, err);
    if (rc) {
        sf_error_prefix(err, "%s", path);
        return rc;
    }
    sf_h5_quiet();
    sf_h5_writer *w = calloc(1, sizeof *w);
    if (!w)
        return sf_error_set(err, SF_E_NOMEM, "%s: out of memory", path);
    w->file = H5I_INVALID_HID;
    w->ncols = ncols;
    int bad = 0;
    w->path = dup_or_null(path, &bad);
    w->names = calloc(ncols ? ncols : 1, sizeof *w->names);
    w->types = malloc((ncols ? ncols : 1) * sizeof *w->types);
    w->cols = calloc(ncols ? ncols : 1, sizeof *w->cols);
    if (!w->names || !w->types || !w->cols)
        bad = 1;
    for (size_t c = 0; c < ncols && !bad; c++) {
        w->names[c] = dup_or_null(names[c], &bad);
        /* A decimal column is a string column of exact texts ("990.15"). */
        w->types[c] = types[c] == SF_DECIMAL ? SF_STRING : types[c];
        sf_h5_column_init(&w->cols[c], w->types[c]);
    }
    if (opt)
        w->opt = *opt;
    else
        sf_h5_options_init(&w->opt);
    w->job = dup_or_null(w->opt.job, &bad);
    w->spec_hash = dup_or_null(w->opt.spec_hash, &bad);
    w->version = dup_or_null(w->opt.version, &bad);
    w->opt.job = w->job;
    w->opt.spec_hash = w->spec_hash;
    w->opt.version = w->version;
    if (bad) {
        writer_free(w);
        return sf_error_set(err, SF_E_NOMEM, "%s: out of memory", path);
    }
    if (w->opt.gzip != SF_H5_NO_COMPRESSION && (w->opt.gzip < 0 || w->opt.gzip > 9)) {
        writer_free(w);
        return sf_error_set(err, SF_E_INVAL, "%s: deflate level %d is not in 0..9", path,
                            opt ? opt->gzip : 0);
    }
    w->file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (w->file < 0) {
        rc = sf_h5_fail(err, SF_E_IO, "cannot create HDF5 file '%s'", path);
        writer_free(w);
        return rc;
    }
    *out = w;
    return 0;
}

static int writer_push(sf_h5_writer *w, size_t c, const sf_value *v)
{
    int rc = sf_h5_column_push(&w->cols[c], v);
    if (rc && !w->rc) {
        w->rc = rc;
        if (rc == SF_E_TYPE)
            sf_error_set(&w->err, rc, "%s: row %llu, column '%s': a %s value in a %s column",
                         w->path, (unsigned long long)w->rows + 1, w->names[c],
                         sf_type_name((sf_type)v->type), sf_type_name(w->types[c]));
        else
            sf_error_set(&w->err, rc, "%s: row %llu: out of memory buffering column '%s'",
                         w->path, (unsigned long long)w->rows + 1, w->names[c]);
    }
    return rc;
}

/* A failed row leaves the columns of unequal length, so after the first
 * failure no row is taken any more: close reports it and writes nothing. */
int sf_h5_writer_append(sf_h5_writer *w, const sf_value *row)
{
    if (w->rc)
        return w->rc;
    for (size_t c = 0; c < w->ncols; c++) {
        int rc = writer_push(w, c, &row[c]);
        if (rc)
            return rc;
    }
    w->rows++;
    return 0;
}

int sf_h5_writer_append_cols(sf_h5_writer *w, const sf_value *row, const int *cols)
{
    if (w->rc)
        return w->rc;
    for (size_t c = 0; c < w->ncols; c++) {
        int rc = writer_push(w, c, &row[cols[c]]);
        if (rc)
            return rc;
    }
    w->rows++;
    return 0;
}

/* Creates and writes column c's datasets. */
static int writer_column(sf_h5_writer *w, size_t c, sf_error *err)
{
    sf_h5_column *col = &w->cols[c];
    hid_t d = H5I_INVALID_HID, v = H5I_INVALID_HID;
    int rc = sf_h5_dataset_create(w->file, w->names[c], w->types[c], 0, col->nul_bytes, w->rows,
                                  &w->opt, w->path, &d, err);
    if (!rc && col->nnull && w->types[c] != SF_NULL)
        rc = sf_h5_dataset_create(w->file, w->names[c], w->types[c], 1, 0, w->rows, &w->opt,
                                  w->path, &v, err);
    if (!rc) {
        char what[512];
        snprintf(what, sizeof what, "%s: column '%s'", w->path, w->names[c]);
        rc = sf_h5_column_write(col, d, v, 0, H5P_DEFAULT, what, err);
    }
    if (d >= 0 && H5Dclose(d) < 0 && !rc)
        rc = sf_h5_fail(err, SF_E_IO, "%s: cannot close column '%s'", w->path, w->names[c]);
    if (v >= 0 && H5Dclose(v) < 0 && !rc)
        rc = sf_h5_fail(err, SF_E_IO, "%s: cannot close column '%s'", w->path, w->names[c]);
    /* Its memory is not needed any more: the next column can reuse it. */
    sf_h5_column_free(col);
    return rc;
}

/* fsync and size of a closed file, as the CSV writer gives them; later:
 * its writeback started instead, the caller syncs it with the others. */
static int sync_and_size(const char *path, int later, uint64_t *bytes, sf_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sf_error_set(err, SF_E_IO, "cannot open '%s' to sync it: %s", path,
                            strerror(errno));
    struct stat st;
    int rc = 0;
    if (later)
        sf_writeback_start(fd);
    if (!later && fsync(fd) != 0 && errno != EINVAL)
        rc = sf_error_set(err, SF_E_IO, "cannot sync '%s': %s", path, strerror(errno));
    else if (fstat(fd, &st) != 0)
        rc = sf_error_set(err, SF_E_IO, "cannot stat '%s': %s", path, strerror(errno));
    else if (bytes)
        *bytes = (uint64_t)st.st_size;
    close(fd);
    return rc;
}

int sf_h5_writer_close(sf_h5_writer *w, uint64_t *rows, uint64_t *bytes, sf_error *err)
{
    if (!w)
        return 0;
    int rc = w->rc;
    if (rc) {
        if (err)
            *err = w->err;
        writer_free(w);
        return rc;
    }
    rc = sf_h5_file_attrs(w->file, "hive", &w->opt, w->path, err);
    if (!rc)
        rc = sf_h5_table_attrs(w->file, w->ncols, (const char *const *)w->names, w->types,
                               w->rows, w->path, err);
    for (size_t c = 0; c < w->ncols && !rc; c++)
        rc = writer_column(w, c, err);
    herr_t e = H5Fclose(w->file);
    w->file = H5I_INVALID_HID;
    if (e < 0 && !rc)
        rc = sf_h5_fail(err, SF_E_IO, "cannot close HDF5 file '%s'", w->path);
    if (!rc)
        rc = sync_and_size(w->path, w->opt.sync_later, bytes, err);
    if (!rc && rows)
        *rows = w->rows;
    writer_free(w);
    return rc;
}

/* h5read.c - reader of shardflow HDF5 tables (both layouts).
 *
 * Invariant: variable-length data read by HDF5 (strings) is allocated from
 * r->heap through a custom VL memory manager, and the heap is reset at the
 * start of every batch, so a batch of strings costs no malloc once the heap
 * has grown to the largest batch, and nothing has to be reclaimed.
 */
#include "io/h5read.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/arena.h"
#include "io/h5file.h"

typedef struct rcol {
    char *name;
    sf_type type;
    int seq;     /* strings stored as uint8 sequences (they hold NUL bytes) */
    hid_t dset;  /* H5I_INVALID_HID for a column of type null */
    hid_t valid; /* the ".valid" dataset, or H5I_INVALID_HID */
    hid_t mtype; /* memory type of dset */
} rcol;

enum { ATTR_JOB, ATTR_HASH, ATTR_VERSION, ATTR_LAYOUT, NATTRS };
static const char *const attr_names[NATTRS] = {"job", "spec_hash", "shardflow_version",
                                               "shardflow_layout"};

struct sf_h5_reader {
    char *path;
    char *group;
    hid_t file, loc, dxpl;
    size_t ncols;
    rcol *cols;
    uint64_t nrows, pos, storage;
    char *attrs[NATTRS];
    sf_value *vals;       /* cap rows of ncols values */
    unsigned char *buf;   /* cap elements of the widest memory type */
    uint8_t *vbuf;        /* cap validity flags */
    size_t cap;
    sf_arena heap;
};

/* ---- attributes ---- */

static void free_strings(char **s, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        free(s[i]);
    free(s);
}

/* Reads a string attribute (scalar or 1-D, variable or fixed length) into
 * new strings. Returns 0, SF_E_NOTFOUND (absent), SF_E_PARSE (not strings)
 * or SF_E_NOMEM. */
static int read_strings(hid_t loc, const char *name, char ***out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (H5Aexists(loc, name) <= 0)
        return SF_E_NOTFOUND;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t ft = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
    hid_t sp = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
    hid_t mt = H5I_INVALID_HID;
    int rc = 0;
    if (ft < 0 || sp < 0 || H5Tget_class(ft) != H5T_STRING || H5Sget_simple_extent_ndims(sp) > 1)
        rc = SF_E_PARSE;
    hssize_t count = rc ? 0 : H5Sget_simple_extent_npoints(sp);
    if (count < 0)
        rc = SF_E_PARSE;
    char **s = NULL;
    void *raw = NULL;
    int variable = !rc && H5Tis_variable_str(ft) > 0;
    size_t width = rc || variable ? sizeof(char *) : H5Tget_size(ft);
    if (!rc) {
        mt = H5Tcopy(ft);
        s = calloc((size_t)count + 1, sizeof *s);
        raw = calloc((size_t)count + 1, width);
        if (mt < 0 || !s || !raw)
            rc = SF_E_NOMEM;
    }
    if (!rc && H5Aread(a, mt, raw) < 0)
        rc = SF_E_PARSE;
    for (hssize_t i = 0; !rc && i < count; i++) {
        if (variable) {
            const char *v = ((char **)raw)[i];
            s[i] = strdup(v ? v : "");
        } else {
            s[i] = strndup((const char *)raw + (size_t)i * width, width);
        }
        if (!s[i])
            rc = SF_E_NOMEM;
    }
    if (variable && raw) {
        for (hssize_t i = 0; i < count; i++)
            if (((char **)raw)[i])
                H5free_memory(((char **)raw)[i]);
    }
    free(raw);
    if (mt >= 0)
        H5Tclose(mt);
    if (ft >= 0)
        H5Tclose(ft);
    if (sp >= 0)
        H5Sclose(sp);
    if (a >= 0)
        H5Aclose(a);
    H5Eclear2(H5E_DEFAULT);
    if (rc) {
        free_strings(s, (size_t)count);
        return rc;
    }
    *out = s;
    *n = (size_t)count;
    return 0;
}

static int read_u64(hid_t loc, const char *name, uint64_t *out)
{
    if (H5Aexists(loc, name) <= 0)
        return SF_E_NOTFOUND;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t ft = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
    int rc = 0;
    if (ft < 0 || H5Tget_class(ft) != H5T_INTEGER || H5Aread(a, H5T_NATIVE_UINT64, out) < 0)
        rc = SF_E_PARSE;
    if (ft >= 0)
        H5Tclose(ft);
    if (a >= 0)
        H5Aclose(a);
    H5Eclear2(H5E_DEFAULT);
    return rc;
}

/* ---- listing tables ---- */

typedef struct table_list {
    char **names;
    size_t n, cap;
} table_list;

static int list_push(table_list *l, const char *name)
{
    if (l->n == l->cap) {
        size_t ncap = l->cap ? l->cap * 2 : 16;
        char **p = realloc(l->names, ncap * sizeof *p);
        if (!p)
            return SF_E_NOMEM;
        l->names = p;
        l->cap = ncap;
    }
    l->names[l->n] = strdup(name);
    if (!l->names[l->n])
        return SF_E_NOMEM;
    l->n++;
    return 0;
}

/* Adds the tables among the groups below g (whose path is prefix). */
static int walk_groups(hid_t g, const char *prefix, table_list *l, int depth)
{
    H5G_info_t info;
    if (depth > 64 || H5Gget_info(g, &info) < 0)
        return SF_E_PARSE;
    int rc = 0;
    for (hsize_t i = 0; i < info.nlinks && !rc; i++) {
        ssize_t len = H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, NULL, 0,
                                         H5P_DEFAULT);
        if (len < 0)
            return SF_E_PARSE;
        size_t plen = strlen(prefix);
        char *path = malloc(plen + (size_t)len + 2);
        if (!path)
            return SF_E_NOMEM;
        char *name = path + plen + (plen ? 1 : 0);
        memcpy(path, prefix, plen);
        if (plen)
            path[plen] = '/';
        H5Lget_name_by_idx(g, ".", H5_INDEX_NAME, H5_ITER_INC, i, name, (size_t)len + 1,
                           H5P_DEFAULT);
        hid_t o = H5Oopen(g, name, H5P_DEFAULT);
        if (o >= 0 && H5Iget_type(o) == H5I_GROUP) {
            if (H5Aexists(o, "columns") > 0)
                rc = list_push(l, path);
            else
                rc = walk_groups(o, path, l, depth + 1);
        }
        if (o >= 0)
            H5Oclose(o);
        /* A dangling or external link is not part of any table. */
        H5Eclear2(H5E_DEFAULT);
        free(path);
    }
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Opens path read-only; SF_E_NOTFOUND / SF_E_PARSE with err set. */
static int open_file(const char *path, hid_t *file, sf_error *err)
{
    sf_h5_quiet();
    struct stat st;
    if (stat(path, &st) != 0)
        return sf_error_set(err, errno == ENOENT ? SF_E_NOTFOUND : SF_E_IO, "cannot open '%s': %s",
                            path, strerror(errno));
    *file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (*file < 0)
        return sf_h5_fail(err, SF_E_PARSE, "'%s' is not a readable HDF5 file", path);
    return 0;
}

int sf_h5_tables(const char *path, char ***names, size_t *n, sf_error *err)
{
    *names = NULL;
    *n = 0;
    hid_t f;
    int rc = open_file(path, &f, err);
    if (rc)
        return rc;
    table_list l = {NULL, 0, 0};
    if (H5Aexists(f, "columns") > 0)
        rc = list_push(&l, "");
    else
        rc = walk_groups(f, "", &l, 0);
    H5Fclose(f);
    H5Eclear2(H5E_DEFAULT);
    if (rc) {
        sf_h5_tables_free(l.names, l.n);
        if (rc == SF_E_NOMEM)
            return sf_error_set(err, rc, "%s: out of memory listing tables", path);
        return sf_error_set(err, rc, "%s: cannot list the groups of the file", path);
    }
    if (l.n > 1)
        qsort(l.names, l.n, sizeof *l.names, cmp_names);
    *names = l.names;
    *n = l.n;
    return 0;
}

void sf_h5_tables_free(char **names, size_t n)
{
    free_strings(names, n);
}

/* ---- reader ---- */

static void *heap_alloc(size_t size, void *info)
{
    return sf_arena_alloc(info, size ? size : 1);
}

static void heap_free(void *mem, void *info)
{
    (void)mem;
    (void)info;
}

size_t sf_h5_reader_ncols(const sf_h5_reader *r) { return r->ncols; }
const char *sf_h5_reader_name(const sf_h5_reader *r, size_t col) { return r->cols[col].name; }
sf_type sf_h5_reader_type(const sf_h5_reader *r, size_t col) { return r->cols[col].type; }
uint64_t sf_h5_reader_nrows(const sf_h5_reader *r) { return r->nrows; }
uint64_t sf_h5_reader_storage(const sf_h5_reader *r) { return r->storage; }

const char *sf_h5_reader_attr(const sf_h5_reader *r, const char *name)
{
    for (int i = 0; i < NATTRS; i++) {
        if (strcmp(name, attr_names[i]) == 0)
            return r->attrs[i];
    }
    return NULL;
}

void sf_h5_reader_close(sf_h5_reader *r)
{
    if (!r)
        return;
    for (size_t c = 0; r->cols && c < r->ncols; c++) {
        rcol *col = &r->cols[c];
        free(col->name);
        if (col->dset >= 0)
            H5Dclose(col->dset);
        if (col->valid >= 0)
            H5Dclose(col->valid);
        if (col->mtype >= 0)
            H5Tclose(col->mtype);
    }
    free(r->cols);
    for (int i = 0; i < NATTRS; i++)
        free(r->attrs[i]);
    if (r->dxpl >= 0)
        H5Pclose(r->dxpl);
    if (r->loc >= 0 && r->loc != r->file)
        H5Gclose(r->loc);
    if (r->file >= 0)
        H5Fclose(r->file);
    free(r->vals);
    free(r->buf);
    free(r->vbuf);
    sf_arena_free(&r->heap);
    free(r->path);
    free(r->group);
    free(r);
}

/* Whether a dataset of type ft can be read as a column of type t; sets
 * *seq for uint8-sequence strings. */
static int type_fits(hid_t ft, sf_type t, int *seq)
{
    H5T_class_t cl = H5Tget_class(ft);
    *seq = 0;
    switch (t) {
    case SF_INT:
    case SF_DATE:
    case SF_TIMESTAMP:
        return cl == H5T_INTEGER;
    case SF_DOUBLE:
        return cl == H5T_FLOAT;
    case SF_BOOL:
        return cl == H5T_ENUM;
    case SF_DECIMAL: /* never a column type here: decimals are written as strings */
        return 0;
    case SF_STRING:
        if (cl == H5T_STRING)
            return H5Tis_variable_str(ft) > 0;
        if (cl == H5T_VLEN) {
            hid_t base = H5Tget_super(ft);
            int ok = base >= 0 && H5Tget_class(base) == H5T_INTEGER && H5Tget_size(base) == 1;
            if (base >= 0)
                H5Tclose(base);
            *seq = 1;
            return ok;
        }
        return 0;
    case SF_NULL:
        return 1;
    }
    return 0;
}

/* Opens the datasets of column c and checks them against the table. */
static int open_column(sf_h5_reader *r, size_t c, const char *where, sf_error *err)
{
    rcol *col = &r->cols[c];
    sf_buf link = SF_BUF_INIT, vlink = SF_BUF_INIT;
    int rc = 0;
    if (sf_h5_link_name(col->name, 0, &link) != 0 || sf_h5_link_name(col->name, 1, &vlink) != 0)
        rc = sf_error_set(err, SF_E_NOMEM, "%s: out of memory", where);
    if (!rc && H5Lexists(r->loc, (const char *)link.p, H5P_DEFAULT) <= 0)
        rc = sf_error_set(err, SF_E_PARSE, "%s: column '%s' has no dataset '%s'", where,
                          col->name, (const char *)link.p);
    if (!rc) {
        col->dset = H5Dopen2(r->loc, (const char *)link.p, H5P_DEFAULT);
        if (col->dset < 0)
            rc = sf_h5_fail(err, SF_E_PARSE, "%s: cannot open dataset '%s'", where,
                            (const char *)link.p);
    }
    if (!rc && H5Lexists(r->loc, (const char *)vlink.p, H5P_DEFAULT) > 0) {
        col->valid = H5Dopen2(r->loc, (const char *)vlink.p, H5P_DEFAULT);
        if (col->valid < 0)
            rc = sf_h5_fail(err, SF_E_PARSE, "%s: cannot open dataset '%s'", where,
                            (const char *)vlink.p);
    }
    for (int k = 0; k < 2 && !rc; k++) {
        hid_t d = k ? col->valid : col->dset;
        if (d < 0)
            continue;
        hid_t sp = H5Dget_space(d);
        hsize_t dim = 0;
        int nd = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
        if (nd == 1)
            H5Sget_simple_extent_dims(sp, &dim, NULL);
        if (sp >= 0)
            H5Sclose(sp);
        if (nd != 1 || dim != r->nrows)
            rc = sf_error_set(err, SF_E_PARSE,
                              "%s: dataset '%s' is not 1-D with %llu elements (row_count)", where,
                              (const char *)(k ? vlink.p : link.p),
                              (unsigned long long)r->nrows);
    }
    if (!rc) {
        hid_t ft = H5Dget_type(col->dset);
        if (ft < 0 || !type_fits(ft, col->type, &col->seq))
            rc = sf_error_set(err, SF_E_PARSE, "%s: dataset '%s' cannot hold a %s column", where,
                              (const char *)link.p, sf_type_name(col->type));
        if (ft >= 0)
            H5Tclose(ft);
    }
    if (!rc && col->type != SF_NULL) {
        col->mtype = sf_h5_type(col->type, col->seq, 1);
        if (col->mtype < 0)
            rc = sf_h5_fail(err, SF_E_IO, "%s: cannot make a memory type", where);
    }
    if (!rc) {
        r->storage += H5Dget_storage_size(col->dset);
        if (col->valid >= 0)
            r->storage += H5Dget_storage_size(col->valid);
    }
    H5Eclear2(H5E_DEFAULT);
    sf_buf_free(&link);
    sf_buf_free(&vlink);
    return rc;
}

int sf_h5_reader_open(sf_h5_reader **out, const char *path, const char *group, sf_error *err)
{
    *out = NULL;
    if (!group)
        group = "";
    sf_h5_reader *r = calloc(1, sizeof *r);
    if (!r)
        return sf_error_set(err, SF_E_NOMEM, "%s: out of memory", path);
    r->file = r->loc = r->dxpl = H5I_INVALID_HID;
    sf_arena_init(&r->heap, 0);
    r->path = strdup(path);
    r->group = strdup(group);
    char where[600];
    snprintf(where, sizeof where, "%s%s%s", path, group[0] ? ":/" : "", group);
    int rc = !r->path || !r->group ? sf_error_set(err, SF_E_NOMEM, "%s: out of memory", where) : 0;
    if (!rc)
        rc = open_file(path, &r->file, err);
    if (!rc) {
        if (group[0]) {
            r->loc = H5Gopen2(r->file, group, H5P_DEFAULT);
            if (r->loc < 0)
                rc = sf_h5_fail(err, SF_E_NOTFOUND, "%s: no group '%s'", path, group);
        } else {
            r->loc = r->file;
        }
    }
    for (int i = 0; i < NATTRS && !rc; i++) {
        char **s = NULL;
        size_t n = 0;
        int arc = read_strings(r->file, attr_names[i], &s, &n);
        if (arc == SF_E_NOMEM)
            rc = sf_error_set(err, arc, "%s: out of memory", where);
        if (!arc && n == 1) {
            r->attrs[i] = s[0];
            s[0] = NULL;
        }
        free_strings(s, n);
    }
    char **names = NULL, **types = NULL;
    size_t nn = 0, nt = 0;
    if (!rc) {
        int arc = read_strings(r->loc, "columns", &names, &nn);
        if (!arc)
            arc = read_strings(r->loc, "types", &types, &nt);
        if (!arc)
            arc = read_u64(r->loc, "row_count", &r->nrows);
        if (arc == SF_E_NOMEM)
            rc = sf_error_set(err, arc, "%s: out of memory", where);
        else if (arc)
            rc = sf_error_set(err, SF_E_PARSE,
                              "%s: not a shardflow table (attributes columns, types and "
                              "row_count are missing or malformed)",
                              where);
        else if (nn != nt)
            rc = sf_error_set(err, SF_E_PARSE, "%s: %zu columns but %zu types", where, nn, nt);
    }
    if (!rc) {
        r->ncols = nn;
        r->cols = calloc(nn ? nn : 1, sizeof *r->cols);
        if (!r->cols)
            rc = sf_error_set(err, SF_E_NOMEM, "%s: out of memory", where);
    }
    for (size_t c = 0; !rc && c < nn; c++) {
        rcol *col = &r->cols[c];
        col->dset = col->valid = col->mtype = H5I_INVALID_HID;
        col->name = names[c];
        names[c] = NULL;
        if (sf_type_parse(types[c], &col->type) != 0)
            rc = sf_error_set(err, SF_E_PARSE, "%s: column '%s' has unknown type '%s'", where,
                              col->name, types[c]);
    }
    for (size_t c = 0; !rc && c < nn; c++) {
        if (r->cols[c].type == SF_NULL)
            continue;
        rc = open_column(r, c, where, err);
    }
    free_strings(names, nn);
    free_strings(types, nt);
    if (!rc) {
        r->dxpl = H5Pcreate(H5P_DATASET_XFER);
        if (r->dxpl < 0 ||
            H5Pset_vlen_mem_manager(r->dxpl, heap_alloc, &r->heap, heap_free, NULL) < 0)
            rc = sf_h5_fail(err, SF_E_IO, "%s: cannot set up a transfer property list", where);
    }
    if (rc) {
        sf_h5_reader_close(r);
        return rc;
    }
    *out = r;
    return 0;
}

static int reserve_batch(sf_h5_reader *r, size_t k)
{
    if (k <= r->cap)
        return 0;
    /* hvl_t is the widest memory element read (16 bytes). */
    size_t width = sizeof(hvl_t) > 8 ? sizeof(hvl_t) : 8;
    if (r->ncols && k > SIZE_MAX / sizeof(sf_value) / r->ncols)
        return SF_E_NOMEM;
    sf_value *v = realloc(r->vals, k * (r->ncols ? r->ncols : 1) * sizeof *v);
    if (!v)
        return SF_E_NOMEM;
    r->vals = v;
    unsigned char *b = realloc(r->buf, k * width);
    if (!b)
        return SF_E_NOMEM;
    r->buf = b;
    uint8_t *vb = realloc(r->vbuf, k);
    if (!vb)
        return SF_E_NOMEM;
    r->vbuf = vb;
    r->cap = k;
    return 0;
}

static herr_t read_slab(hid_t dset, hid_t mtype, uint64_t at, size_t k, hid_t dxpl, void *buf)
{
    hsize_t start = at, count = k;
    hid_t fs = H5Dget_space(dset);
    hid_t ms = H5Screate_simple(1, &count, NULL);
    herr_t e = -1;
    if (fs >= 0 && ms >= 0 &&
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &count, NULL) >= 0)
        e = H5Dread(dset, mtype, ms, fs, dxpl, buf);
    if (fs >= 0)
        H5Sclose(fs);
    if (ms >= 0)
        H5Sclose(ms);
    return e;
}

/* Fills column c of the k rows in r->vals from r->buf. */
static void convert_column(sf_h5_reader *r, size_t c, size_t k)
{
    const rcol *col = &r->cols[c];
    sf_value *v = r->vals + c;
    size_t step = r->ncols;
    for (size_t i = 0; i < k; i++, v += step) {
        switch (col->type) {
        case SF_INT:
            *v = sf_int(((const int64_t *)r->buf)[i]);
            break;
        case SF_TIMESTAMP:
            *v = sf_timestamp(((const int64_t *)r->buf)[i]);
            break;
        case SF_DOUBLE:
            *v = sf_double(((const double *)r->buf)[i]);
            break;
        case SF_BOOL:
            *v = sf_bool(((const signed char *)r->buf)[i]);
            break;
        case SF_DATE:
            *v = sf_date(((const int32_t *)r->buf)[i]);
            break;
        case SF_STRING:
            if (col->seq) {
                const hvl_t *h = (const hvl_t *)r->buf + i;
                *v = sf_string(h->len ? h->p : "", h->len);
            } else {
                const char *s = ((char *const *)r->buf)[i];
                *v = s ? sf_string(s, strlen(s)) : sf_string("", 0);
            }
            break;
        case SF_NULL:
        case SF_DECIMAL: /* never: type_fits() refuses it */
            *v = sf_null();
            break;
        }
    }
}

int sf_h5_reader_next(sf_h5_reader *r, size_t max, const sf_value **rows, size_t *n,
                      sf_error *err)
{
    *rows = r->vals;
    *n = 0;
    if (r->pos >= r->nrows)
        return 0;
    size_t k = max ? max : 1;
    if ((uint64_t)k > r->nrows - r->pos)
        k = (size_t)(r->nrows - r->pos);
    if (reserve_batch(r, k) != 0)
        return sf_error_set(err, SF_E_NOMEM, "%s: out of memory for %zu rows", r->path, k);
    sf_arena_reset(&r->heap);
    for (size_t c = 0; c < r->ncols; c++) {
        rcol *col = &r->cols[c];
        if (col->type == SF_NULL) {
            convert_column(r, c, k);
            continue;
        }
        if (read_slab(col->dset, col->mtype, r->pos, k, r->dxpl, r->buf) < 0)
            return sf_h5_fail(err, SF_E_IO, "%s%s%s: cannot read column '%s' at row %llu",
                              r->path, r->group[0] ? ":/" : "", r->group, col->name,
                              (unsigned long long)r->pos);
        convert_column(r, c, k);
        if (col->valid < 0)
            continue;
        if (read_slab(col->valid, H5T_NATIVE_UINT8, r->pos, k, H5P_DEFAULT, r->vbuf) < 0)
            return sf_h5_fail(err, SF_E_IO,
                              "%s%s%s: cannot read the validity of column '%s' at row %llu",
                              r->path, r->group[0] ? ":/" : "", r->group, col->name,
                              (unsigned long long)r->pos);
        for (size_t i = 0; i < k; i++) {
            if (!r->vbuf[i])
                r->vals[i * r->ncols + c] = sf_null();
        }
    }
    r->pos += k;
    *rows = r->vals;
    *n = k;
    return 0;
}

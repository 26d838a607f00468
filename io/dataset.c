/* dataset.c - a shardflow output's tables, listed and opened (see
 * dataset.h). */
#include "io/dataset.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>
#include <zstd.h>

#include "io/decompress.h"

void sf_dataset_free(sf_dataset *o)
{
    for (size_t i = 0; i < o->n; i++) {
        free(o->s[i].part);
        free(o->s[i].file);
        free(o->s[i].name);
        free(o->s[i].group);
    }
    free(o->s);
    o->s = NULL;
    o->n = o->cap = 0;
}

/* "a" + sep + "b", or the non-empty one of them. New string or NULL. */
char *sf_dataset_join(const char *a, const char *sep, const char *b)
{
    if (!a[0] || !b[0]) {
        return strdup(a[0] ? a : b);
    }
    size_t n = strlen(a) + strlen(sep) + strlen(b) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s%s", a, sep, b);
    return s;
}

static int push_source(sf_dataset *o, sf_dataset_kind kind, const char *file, const char *part,
                       const char *name, const char *group, sf_error *err)
{
    if (o->n == o->cap) {
        size_t ncap = o->cap ? o->cap * 2 : 32;
        sf_dataset_source *s = realloc(o->s, ncap * sizeof *s);
        if (!s)
            return sf_error_set(err, SF_E_NOMEM, "out of memory");
        o->s = s;
        o->cap = ncap;
    }
    sf_dataset_source *s = &o->s[o->n];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->file = strdup(file);
    s->part = strdup(part);
    s->name = group && group[0] ? sf_dataset_join(name, ":/", group) : strdup(name);
    s->group = group ? strdup(group) : NULL;
    o->n++;
    if (!s->file || !s->part || !s->name || (group && !s->group))
        return sf_error_set(err, SF_E_NOMEM, "out of memory");
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* 1 if the file starts with the HDF5 signature. */
static int looks_hdf5(const char *path)
{
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    unsigned char head[8];
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t n = fread(head, 1, sizeof head, f);
    fclose(f);
    return n == sizeof head && memcmp(head, sig, sizeof sig) == 0;
}

static const char *kind_name(sf_dataset_kind k)
{
    return k == SRC_H5 ? "HDF5" : k == SRC_PQ ? "Parquet" : "CSV";
}

/* 1 if the file starts with the Parquet magic. */
static int looks_parquet(const char *path)
{
    unsigned char b[4] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    return n == 4 && memcmp(b, "PAR1", 4) == 0;
}

/* Adds the tables of one file. partdir is the partition directory it sits
 * in; name is what inspect shows. direct: the file was named on the command
 * line, so its kind is sniffed rather than taken from its extension. */
static int add_file(sf_dataset *o, const char *file, const char *partdir, const char *name,
                    int direct, sf_error *err)
{
    int h5 = ends_with(file, ".h5") || ends_with(file, ".hdf5");
    int csv = ends_with(file, ".csv") || ends_with(file, ".csv.gz") || ends_with(file, ".csv.zst");
    int pq = ends_with(file, ".parquet");
    if (direct && !h5 && !csv && !pq) {
        h5 = looks_hdf5(file);
        pq = !h5 && looks_parquet(file);
        csv = !h5 && !pq;
    }
    if (pq)
        return push_source(o, SRC_PQ, file, partdir, name, NULL, err);
    if (csv)
        return push_source(o, SRC_CSV, file, partdir, name, NULL, err);
    if (!h5)
        return 0; /* not a part file: a README or the like */
    char **tables = NULL;
    size_t nt = 0;
    int rc = sf_h5_tables(file, &tables, &nt, err);
    for (size_t i = 0; i < nt && !rc; i++) {
        char *part = sf_dataset_join(partdir, "/", tables[i]);
        rc = part ? push_source(o, SRC_H5, file, part, name, tables[i], err)
                  : sf_error_set(err, SF_E_NOMEM, "out of memory");
        free(part);
    }
    sf_h5_tables_free(tables, nt);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Walks dir (whose path relative to the sf_dataset is rel). */
static int walk(sf_dataset *o, const char *dir, const char *rel, int depth, sf_error *err)
{
    if (depth > 32)
        return sf_error_set(err, SF_E_LIMIT, "%s: directories nested too deep", dir);
    DIR *d = opendir(dir);
    if (!d)
        return sf_error_set(err, SF_E_IO, "cannot read directory '%s': %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while (!rc && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '_' || e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **p = realloc(names, cap * sizeof *p);
            if (!p) {
                rc = sf_error_set(err, SF_E_NOMEM, "out of memory");
                break;
            }
            names = p;
        }
        names[n] = strdup(e->d_name);
        if (!names[n])
            rc = sf_error_set(err, SF_E_NOMEM, "out of memory");
        else
            n++;
    }
    closedir(d);
    /* qsort wants a non-NULL array even for no elements. */
    if (!rc && n > 1)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n && !rc; i++) {
        char *path = sf_dataset_join(dir, "/", names[i]);
        char *relpath = sf_dataset_join(rel, "/", names[i]);
        struct stat st;
        if (!path || !relpath)
            rc = sf_error_set(err, SF_E_NOMEM, "out of memory");
        else if (stat(path, &st) != 0)
            rc = sf_error_set(err, SF_E_IO, "cannot stat '%s': %s", path, strerror(errno));
        else if (S_ISDIR(st.st_mode))
            rc = walk(o, path, relpath, depth + 1, err);
        else if (S_ISREG(st.st_mode))
            rc = add_file(o, path, rel, relpath, 0, err);
        free(path);
        free(relpath);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

static int cmp_source(const void *a, const void *b)
{
    const sf_dataset_source *x = a, *y = b;
    int c = strcmp(x->part, y->part);
    return c ? c : strcmp(x->name, y->name);
}

/* Lists the tables of the sf_dataset at path, in partition order. */
int sf_dataset_open(sf_dataset *o, const char *path, sf_error *err)
{
    memset(o, 0, sizeof *o);
    o->path = path;
    struct stat st;
    if (stat(path, &st) != 0)
        return sf_error_set(err, errno == ENOENT ? SF_E_NOTFOUND : SF_E_IO, "cannot open '%s': %s",
                            path, strerror(errno));
    int rc;
    if (S_ISDIR(st.st_mode)) {
        o->is_dir = 1;
        rc = walk(o, path, "", 0, err);
    } else {
        const char *base = strrchr(path, '/');
        rc = add_file(o, path, "", base ? base + 1 : path, 1, err);
    }
    if (rc)
        return rc;
    if (o->n > 1)
        qsort(o->s, o->n, sizeof *o->s, cmp_source);
    for (size_t i = 1; i < o->n; i++) {
        if (o->s[i].kind != o->s[0].kind)
            return sf_error_set(err, SF_E_INVAL, "%s: mixes %s and %s files ('%s' and '%s')",
                                path, kind_name(o->s[0].kind < o->s[i].kind ? o->s[0].kind
                                                                            : o->s[i].kind),
                                kind_name(o->s[0].kind < o->s[i].kind ? o->s[i].kind
                                                                      : o->s[0].kind),
                                o->s[0].name, o->s[i].name);
    }
    return 0;
}

static int map_file(const char *path, sf_dataset_map *m, sf_error *err)
{
    m->p = NULL;
    m->n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sf_error_set(err, SF_E_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = sf_error_set(err, SF_E_IO, "cannot stat '%s': %s", path, strerror(errno));
    } else if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED)
            rc = sf_error_set(err, SF_E_IO, "cannot map '%s': %s", path, strerror(errno));
        else {
            m->p = p;
            m->n = (size_t)st.st_size;
        }
    }
    close(fd);
    return rc;
}

static void unmap_file(sf_dataset_map *m)
{
    if (m->p && m->heap)
        free(m->p);
    else if (m->p)
        munmap(m->p, m->n);
    m->p = NULL;
    m->heap = 0;
}

/* Appends to the growing buffer *out (*n used, *cap allocated) room for at
 * least want more bytes. Returns 0 or SF_E_NOMEM. */
static int grow(char **out, size_t n, size_t *cap, size_t want)
{
    if (*cap - n >= want)
        return 0;
    size_t ncap = *cap ? *cap : (size_t)1 << 16;
    while (ncap - n < want)
        ncap *= 2;
    char *p = realloc(*out, ncap);
    if (!p)
        return SF_E_NOMEM;
    *out = p;
    *cap = ncap;
    return 0;
}

/* Decodes the whole compressed CSV in (a mapping of n bytes): every gzip
 * member or zstd frame in turn, so concatenated pieces read as one text.
 * Returns 0 with m holding a malloc'ed copy, or SF_E_PARSE / SF_E_NOMEM. */
static int inflate_file(const char *path, sf_codec codec, const char *in, size_t n,
                        sf_dataset_map *m, sf_error *err)
{
    char *out = NULL;
    size_t used = 0, cap = 0;
    int rc = 0;
    if (codec == SF_CODEC_GZIP) {
        z_stream z;
        memset(&z, 0, sizeof z);
        if (inflateInit2(&z, 15 + 32) != Z_OK)
            return sf_error_set(err, SF_E_NOMEM, "%s: cannot start gzip decoding", path);
        z.next_in = (Bytef *)in;
        z.avail_in = 0;
        size_t left = n;
        for (;;) {
            if (z.avail_in == 0 && left > 0) {
                z.avail_in = left > (1u << 30) ? (1u << 30) : (uInt)left;
                left -= z.avail_in;
            }
            if ((rc = grow(&out, used, &cap, (size_t)1 << 16)) != 0)
                break;
            z.next_out = (Bytef *)out + used;
            z.avail_out = (uInt)(cap - used > (1u << 30) ? (1u << 30) : cap - used);
            uInt before = z.avail_out;
            int zr = inflate(&z, Z_NO_FLUSH);
            used += before - z.avail_out;
            if (zr == Z_STREAM_END) {
                if (z.avail_in == 0 && left == 0)
                    break;
                inflateReset(&z); /* the next member */
            } else if (zr != Z_OK && !(zr == Z_BUF_ERROR && z.avail_out == 0)) {
                rc = sf_error_set(err, SF_E_PARSE, "%s: gzip data %s", path,
                                  zr == Z_BUF_ERROR ? "ends early" : "is corrupt");
                break;
            }
        }
        inflateEnd(&z);
    } else {
        ZSTD_DCtx *d = ZSTD_createDCtx();
        if (!d)
            return sf_error_set(err, SF_E_NOMEM, "%s: out of memory for zstd", path);
        ZSTD_inBuffer zi = {in, n, 0};
        size_t last = 1;
        while (!rc && (zi.pos < zi.size || last != 0)) {
            if ((rc = grow(&out, used, &cap, ZSTD_DStreamOutSize())) != 0)
                break;
            ZSTD_outBuffer zo = {out + used, cap - used, 0};
            size_t pos = zi.pos;
            last = ZSTD_decompressStream(d, &zo, &zi);
            used += zo.pos;
            if (ZSTD_isError(last))
                rc = sf_error_set(err, SF_E_PARSE, "%s: zstd: %s", path,
                                  ZSTD_getErrorName(last));
            else if (last != 0 && zi.pos == zi.size && zo.pos == 0 && pos == zi.pos)
                rc = sf_error_set(err, SF_E_PARSE, "%s: zstd data ends early", path);
        }
        ZSTD_freeDCtx(d);
    }
    if (rc == SF_E_NOMEM)
        sf_error_set(err, SF_E_NOMEM, "%s: out of memory decoding", path);
    if (rc) {
        free(out);
        return rc;
    }
    m->p = out;
    m->n = used;
    m->heap = 1;
    return 0;
}

void sf_dataset_table_close(sf_dataset_table *t)
{
    sf_csv_reader_free(t->csv);
    unmap_file(&t->map);
    sf_h5_reader_close(t->h5);
    sf_parquet_reader_close(t->pq);
    for (size_t c = 0; c < t->ncols; c++)
        free(t->cols[c]);
    free(t->cols);
    memset(t, 0, sizeof *t);
}

int sf_dataset_table_open(sf_dataset_table *t, const sf_dataset_source *s, sf_error *err)
{
    memset(t, 0, sizeof *t);
    t->src = s;
    int rc;
    if (s->kind == SRC_H5) {
        rc = sf_h5_reader_open(&t->h5, s->file, s->group, err);
        if (rc)
            return rc;
        t->ncols = sf_h5_reader_ncols(t->h5);
        t->cols = calloc(t->ncols ? t->ncols : 1, sizeof *t->cols);
        if (!t->cols)
            return sf_error_set(err, SF_E_NOMEM, "out of memory");
        for (size_t c = 0; c < t->ncols; c++) {
            t->cols[c] = strdup(sf_h5_reader_name(t->h5, c));
            if (!t->cols[c])
                return sf_error_set(err, SF_E_NOMEM, "out of memory");
        }
        return 0;
    }
    if (s->kind == SRC_PQ) {
        rc = sf_parquet_reader_open(&t->pq, s->file, err);
        if (rc)
            return rc;
        t->ncols = sf_parquet_reader_ncols(t->pq);
        t->cols = calloc(t->ncols ? t->ncols : 1, sizeof *t->cols);
        if (!t->cols)
            return sf_error_set(err, SF_E_NOMEM, "out of memory");
        for (size_t c = 0; c < t->ncols; c++) {
            t->cols[c] = strdup(sf_parquet_reader_name(t->pq, c));
            if (!t->cols[c])
                return sf_error_set(err, SF_E_NOMEM, "out of memory");
        }
        return 0;
    }
    sf_codec codec = SF_CODEC_NONE;
    rc = sf_codec_of_file(s->file, &codec, err);
    if (!rc)
        rc = map_file(s->file, &t->map, err);
    if (rc)
        return rc;
    if (codec == SF_CODEC_GZIP || codec == SF_CODEC_ZSTD) {
        sf_dataset_map z = {0};
        rc = inflate_file(s->file, codec, t->map.p ? t->map.p : "", t->map.n, &z, err);
        unmap_file(&t->map);
        if (rc)
            return rc;
        t->map = z;
    } else if (codec != SF_CODEC_NONE) {
        return sf_error_set(err, SF_E_INVAL, "%s: %s-compressed CSV is not read here (gzip "
                            "and zstd are)", s->file, sf_codec_name(codec));
    }
    t->csv = sf_csv_reader_new(t->map.p ? t->map.p : "", t->map.n, s->file);
    if (!t->csv)
        return sf_error_set(err, SF_E_NOMEM, "out of memory");
    const sf_csv_field *f;
    size_t nf;
    rc = sf_csv_reader_next(t->csv, &f, &nf, err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return sf_error_set(err, SF_E_PARSE, "%s: empty CSV file (no header line)", s->file);
    t->ncols = nf;
    t->cols = calloc(nf ? nf : 1, sizeof *t->cols);
    if (!t->cols)
        return sf_error_set(err, SF_E_NOMEM, "out of memory");
    for (size_t c = 0; c < nf; c++) {
        t->cols[c] = strndup(f[c].p, f[c].n);
        if (!t->cols[c])
            return sf_error_set(err, SF_E_NOMEM, "out of memory");
    }
    return 0;
}

int sf_dataset_table_next(sf_dataset_table *t, size_t max, const sf_value **rows, size_t *n,
                          sf_error *err)
{
    if (t->pq)
        return sf_parquet_reader_next(t->pq, max, rows, n, err);
    return sf_h5_reader_next(t->h5, max, rows, n, err);
}

/* Emits up to *left rows of t (led by the partition fields), counting
 * them down. */

/* pq_cases.c - writes the Parquet files the DuckDB check reads
 * (tests/parquet/duckdb_check.mjs), and OUTDIR/cases.json describing them.
 *
 * usage: pq_cases OUTDIR
 *        pq_cases --dump FILE   (a file's rows as io/parquet_read reads them)
 *
 * Files: edge values (NULL and empty string apart, NaN, -0.0, +-inf, int64
 * extremes, 1 MB strings, non-ASCII, extreme dates) in several row groups
 * with a dictionary that falls back to PLAIN, once per codec; the four
 * joined into one by sf_parquet_concat; a larger
 * dictionary-fallback table; a table whose distinct columns go PLAIN
 * after the writer's early probe and stay PLAIN in later row groups; zero
 * rows; columns that are all NULL or all NaN. For each file cases.json holds the columns, every row, and per row
 * group and column the statistics the writer stored, read back with
 * io/parquet_read and first checked here against statistics computed
 * independently from the rows (the spec's rules: NaN never in min/max,
 * min -0.0 and max +0.0 for zeros, unsigned byte order for strings).
 * Values in JSON: bool true/false, int64 as a decimal string, double as
 * the hex of its IEEE bits, string as a JSON string, date as days.
 * Exits 1 with a message when anything disagrees.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "io/parquet.h"
#include "io/parquet_read.h"

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "pq_cases: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

static sf_buf json = SF_BUF_INIT;

static void put_value(const sf_value *v)
{
    switch (v->type) {
    case SF_NULL: sf_buf_printf(&json, "null"); break;
    case SF_BOOL: sf_buf_printf(&json, v->u.b ? "true" : "false"); break;
    case SF_INT: sf_buf_printf(&json, "\"%" PRId64 "\"", v->u.i); break;
    case SF_DATE: sf_buf_printf(&json, "%d", (int)v->u.date); break;
    case SF_DOUBLE: {
        uint64_t bits;
        memcpy(&bits, &v->u.d, 8);
        sf_buf_printf(&json, "\"%016" PRIx64 "\"", bits);
        break;
    }
    default: sf_buf_json_string(&json, v->u.s.p, v->u.s.n);
    }
}

static int bytes_cmp(const sf_value *a, const sf_value *b)
{
    size_t m = a->u.s.n < b->u.s.n ? a->u.s.n : b->u.s.n;
    int c = m ? memcmp(a->u.s.p, b->u.s.p, m) : 0;
    return c ? c : (a->u.s.n > b->u.s.n) - (a->u.s.n < b->u.s.n);
}

/* Statistics of rows [r0, r1) of column c, computed from the rows. */
typedef struct stats {
    uint64_t nulls, nans;
    int has;
    sf_value min, max;
} stats;

static stats compute(const sf_value *rows, size_t ncols, size_t c, sf_type t, size_t r0, size_t r1)
{
    stats s = {0, 0, 0, sf_null(), sf_null()};
    for (size_t r = r0; r < r1; r++) {
        sf_value v = rows[r * ncols + c];
        if (v.type == SF_NULL) {
            s.nulls++;
            continue;
        }
        if (t == SF_DOUBLE && isnan(v.u.d)) {
            s.nans++;
            continue;
        }
        int less, more;
        if (!s.has) {
            s.min = s.max = v;
            s.has = 1;
            continue;
        }
        switch (t) {
        case SF_STRING:
            less = bytes_cmp(&v, &s.min) < 0;
            more = bytes_cmp(&v, &s.max) > 0;
            break;
        case SF_DOUBLE: less = v.u.d < s.min.u.d; more = v.u.d > s.max.u.d; break;
        case SF_BOOL: less = v.u.b < s.min.u.b; more = v.u.b > s.max.u.b; break;
        case SF_DATE: less = v.u.date < s.min.u.date; more = v.u.date > s.max.u.date; break;
        default: less = v.u.i < s.min.u.i; more = v.u.i > s.max.u.i;
        }
        if (less)
            s.min = v;
        if (more)
            s.max = v;
    }
    if (s.has && t == SF_DOUBLE) {
        if (s.min.u.d == 0)
            s.min.u.d = -0.0;
        if (s.max.u.d == 0)
            s.max.u.d = 0.0;
    }
    return s;
}

static int same(const sf_value *a, const sf_value *b)
{
    if (a->type != b->type)
        return 0;
    if (a->type == SF_STRING)
        return bytes_cmp(a, b) == 0;
    if (a->type == SF_DOUBLE)
        return memcmp(&a->u.d, &b->u.d, 8) == 0;
    if (a->type == SF_BOOL)
        return a->u.b == b->u.b;
    if (a->type == SF_DATE)
        return a->u.date == b->u.date;
    return a->u.i == b->u.i;
}

static void describe(const char *dir, const char *name, size_t ncols, const char *const *names,
                     const sf_type *types, const sf_value *rows, size_t nrows, const char *codec);

static void write_case(const char *dir, const char *name, size_t ncols, const char *const *names,
                       const sf_type *types, const sf_value *rows, size_t nrows,
                       const sf_parquet_options *opt)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.parquet", dir, name);
    sf_parquet_writer *w;
    sf_error err;
    sf_error_clear(&err);
    if (sf_parquet_writer_open(&w, path, ncols, names, types, opt, &err) != 0)
        die("open", err.msg);
    for (size_t r = 0; r < nrows; r++)
        if (sf_parquet_writer_append(w, rows + r * ncols, &err) != 0)
            die("append", err.msg);
    if (sf_parquet_writer_close(w, NULL, NULL, &err) != 0)
        die("close", err.msg);
    describe(dir, name, ncols, names, types, rows, nrows, sf_parquet_codec_name(opt->codec));
}

/* Appends the case of file DIR/NAME.parquet to cases.json, after checking
 * its stored statistics against the rows'. */
static void describe(const char *dir, const char *name, size_t ncols, const char *const *names,
                     const sf_type *types, const sf_value *rows, size_t nrows, const char *codec)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.parquet", dir, name);
    sf_error err;
    sf_error_clear(&err);
    sf_parquet_reader *rd;
    if (sf_parquet_reader_open(&rd, path, &err) != 0)
        die("reader", err.msg);
    if (json.n > 1)
        sf_buf_printf(&json, ",\n");
    sf_buf_printf(&json, "{\"file\": \"%s.parquet\", \"codec\": \"%s\", \"columns\": [", name,
                  codec);
    for (size_t c = 0; c < ncols; c++)
        sf_buf_printf(&json, "%s{\"name\": \"%s\", \"type\": \"%s\"}", c ? ", " : "", names[c],
                      sf_type_name(types[c] == SF_NULL ? SF_STRING : types[c]));
    sf_buf_printf(&json, "],\n \"rows\": [");
    for (size_t r = 0; r < nrows; r++) {
        sf_buf_printf(&json, "%s[", r ? ",\n  " : "");
        for (size_t c = 0; c < ncols; c++) {
            if (c)
                sf_buf_printf(&json, ", ");
            put_value(&rows[r * ncols + c]);
        }
        sf_buf_printf(&json, "]");
    }
    sf_buf_printf(&json, "],\n \"row_groups\": [");
    size_t r0 = 0;
    for (size_t g = 0; g < sf_parquet_reader_row_groups(rd); g++) {
        sf_buf_printf(&json, "%s{\"chunks\": [", g ? ",\n  " : "");
        size_t r1 = r0;
        for (size_t c = 0; c < ncols; c++) {
            sf_parquet_chunk_info in;
            sf_parquet_reader_chunk(rd, g, c, &in);
            r1 = r0 + (size_t)in.rows;
            sf_type t = types[c] == SF_NULL ? SF_STRING : types[c];
            stats s = compute(rows, ncols, c, t, r0, r1);
            char where[200];
            snprintf(where, sizeof where, "%s row group %zu column %s", name, g, names[c]);
            if (!in.has_null_count || in.null_count != s.nulls || in.has_minmax != s.has ||
                (s.has && (!same(&in.min, &s.min) || !same(&in.max, &s.max))) ||
                (t == SF_DOUBLE && (!in.has_nan_count || in.nan_count != s.nans)) ||
                in.num_values != in.rows)
                die("stored statistics differ from the rows'", where);
            sf_buf_printf(&json,
                          "%s{\"num_values\": %" PRIu64 ", \"null_count\": %" PRIu64
                          ", \"codec\": \"%s\", \"dictionary\": %s, \"min\": ",
                          c ? ", " : "", in.num_values, in.null_count, in.codec,
                          in.dictionary ? "true" : "false");
            sf_value none = sf_null();
            put_value(in.has_minmax ? &in.min : &none);
            sf_buf_printf(&json, ", \"max\": ");
            put_value(in.has_minmax ? &in.max : &none);
            sf_buf_printf(&json, "}");
        }
        sf_buf_printf(&json, "], \"rows\": %zu}", r1 - r0);
        r0 = r1;
    }
    if (r0 != nrows)
        die("row groups do not cover the rows", name);
    sf_buf_printf(&json, "]}");
    sf_parquet_reader_close(rd);
}

/* --dump FILE: prints the file's columns and rows as read by
 * io/parquet_read, in the JSON of cases.json (one object). */
static int dump(const char *path)
{
    sf_parquet_reader *r;
    sf_error err;
    sf_error_clear(&err);
    if (sf_parquet_reader_open(&r, path, &err) != 0)
        die("dump", err.msg);
    size_t nc = sf_parquet_reader_ncols(r);
    sf_buf_printf(&json, "{\"columns\": [");
    for (size_t c = 0; c < nc; c++) {
        sf_buf_printf(&json, "%s{\"name\": ", c ? ", " : "");
        const char *name = sf_parquet_reader_name(r, c);
        sf_buf_json_string(&json, name, strlen(name));
        sf_buf_printf(&json, ", \"type\": \"%s\"}", sf_type_name(sf_parquet_reader_type(r, c)));
    }
    sf_buf_printf(&json, "], \"row_groups\": %zu, \"rows\": [", sf_parquet_reader_row_groups(r));
    size_t total = 0;
    for (;;) {
        const sf_value *rows;
        size_t n;
        if (sf_parquet_reader_next(r, 1000, &rows, &n, &err) != 0)
            die("dump", err.msg);
        if (n == 0)
            break;
        for (size_t i = 0; i < n; i++, total++) {
            sf_buf_printf(&json, "%s[", total ? ",\n  " : "");
            for (size_t c = 0; c < nc; c++) {
                if (c)
                    sf_buf_printf(&json, ", ");
                put_value(&rows[i * nc + c]);
            }
            sf_buf_printf(&json, "]");
        }
    }
    sf_buf_printf(&json, "]}\n");
    fwrite(json.p, 1, json.n, stdout);
    sf_parquet_reader_close(r);
    sf_buf_free(&json);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--dump") == 0)
        return dump(argv[2]);
    if (argc != 2) {
        fprintf(stderr, "usage: pq_cases OUTDIR | pq_cases --dump FILE\n");
        return 2;
    }
    const char *dir = argv[1];
    sf_buf_printf(&json, "[");

    /* Edge values, 3 row groups, a dictionary that falls back. */
    const char *enames[] = {"b", "i", "d", "s", "dt", "s_dict"};
    const sf_type etypes[] = {SF_BOOL, SF_INT, SF_DOUBLE, SF_STRING, SF_DATE, SF_STRING};
    size_t big = (size_t)1 << 20;
    char *mb = malloc(big);
    for (size_t i = 0; i < big; i++)
        mb[i] = (char)('A' + i % 26);
    mb[17] = '\xc3'; /* keep it valid UTF-8 with a 2-byte character */
    mb[18] = '\xa9';
    static const char *strs[] = {"", "a", "Zürich", "日本語", "emoji \xF0\x9F\x98\x80",
                                 "with\nnewline,\"quote\"", "z", "tab\there"};
    const double ds[] = {0.0, -0.0, NAN, INFINITY, -INFINITY, 1.5, -2.25, 5e-324,
                         1.7976931348623157e308, 0.1};
    const int64_t is[] = {INT64_MIN, INT64_MAX, 0, -1, 1, 42, 1000000007};
    const int32_t dts[] = {0, -719528, 2932896, 20000, -1};
    size_t n = 300;
    sf_value *rows = calloc(n * 6, sizeof *rows);
    char *keys = malloc(n * 16);
    for (size_t i = 0; i < n; i++) {
        sf_value *r = rows + i * 6;
        r[0] = i % 7 == 3 ? sf_null() : sf_bool(i % 3 == 0);
        r[1] = i % 5 == 4 ? sf_null() : sf_int(is[i % 7]);
        r[2] = i % 11 == 10 ? sf_null() : sf_double(ds[i % 10]);
        r[3] = i % 4 == 1 ? sf_null()
             : i % 97 == 5 ? sf_string(mb, big)
                           : sf_string(strs[i % 8], strlen(strs[i % 8]));
        r[4] = i % 6 == 5 ? sf_null() : sf_date(dts[i % 5]);
        int len = snprintf(keys + i * 16, 16, "key-%zu", i < 150 ? i % 5 : i);
        r[5] = i % 9 == 0 ? sf_null() : sf_string(keys + i * 16, (size_t)len);
    }
    const char *codecs[] = {"none", "snappy", "gzip", "zstd:5"};
    for (size_t k = 0; k < 4; k++) {
        sf_parquet_options o;
        sf_parquet_options_init(&o);
        sf_error err;
        if (sf_parquet_parse_codec(codecs[k], &o, &err) != 0)
            die("codec", err.msg);
        o.row_group_rows = 120;
        o.dict_limit_bytes = 600;
        char name[64];
        snprintf(name, sizeof name, "edge_%s", sf_parquet_codec_name(o.codec));
        write_case(dir, name, 6, enames, etypes, rows, n, &o);
    }

    /* The four edge files joined by sf_parquet_concat (pages copied, mixed
     * codecs in one file). */
    {
        char paths[4][4096];
        const char *list[4];
        sf_value *all = malloc(4 * n * 6 * sizeof *all);
        for (size_t k = 0; k < 4; k++) {
            static const char *nm[] = {"none", "snappy", "gzip", "zstd"};
            snprintf(paths[k], sizeof paths[k], "%s/edge_%s.parquet", dir, nm[k]);
            list[k] = paths[k];
            memcpy(all + k * n * 6, rows, n * 6 * sizeof *all);
        }
        char out[4096];
        snprintf(out, sizeof out, "%s/concat.parquet", dir);
        sf_error err;
        sf_error_clear(&err);
        if (sf_parquet_concat(out, 6, enames, etypes, list, 4, NULL, NULL, NULL, &err) != 0)
            die("concat", err.msg);
        describe(dir, "concat", 6, enames, etypes, all, 4 * n, "mixed");
        free(all);
    }

    /* A bigger dictionary fallback in the middle of one chunk. */
    size_t fn = 20000;
    const char *fnames[] = {"k", "v", "x"};
    const sf_type ftypes[] = {SF_STRING, SF_INT, SF_DOUBLE};
    sf_value *frows = calloc(fn * 3, sizeof *frows);
    char *fkeys = malloc(fn * 24);
    for (size_t i = 0; i < fn; i++) {
        size_t key = i < 8000 ? i % 50 : i * 7;
        int len = snprintf(fkeys + i * 24, 24, "customer-%zu", key);
        frows[i * 3] = sf_string(fkeys + i * 24, (size_t)len);
        frows[i * 3 + 1] = i % 17 == 0 ? sf_null() : sf_int((int64_t)key * -3);
        frows[i * 3 + 2] = sf_double((double)key / 3);
    }
    sf_parquet_options o;
    sf_parquet_options_init(&o);
    o.dict_limit_bytes = 16384;
    write_case(dir, "fallback", 3, fnames, ftypes, frows, fn, &o);

    /* The early verdict: distinct ids and int64s go PLAIN after the probe's
     * 1024 values (a dictionary page, then PLAIN pages) and stay PLAIN in
     * the later row groups; repeated strings and doubles keep dictionaries. */
    size_t pn = 6000;
    const char *pnames[] = {"id", "ts", "rep", "amount"};
    const sf_type ptypes[] = {SF_STRING, SF_INT, SF_STRING, SF_DOUBLE};
    sf_value *prows = calloc(pn * 4, sizeof *prows);
    char *pkeys = malloc(pn * 24);
    static const char *preps[] = {"play", "pause", "seek", "Zürich", ""};
    for (size_t i = 0; i < pn; i++) {
        int len = snprintf(pkeys + i * 24, 24, "ev-%08zu", i * 7919 % 1000003);
        prows[i * 4] = sf_string(pkeys + i * 24, (size_t)len);
        prows[i * 4 + 1] = i % 13 == 0 ? sf_null() : sf_int(1700000000000000 + (int64_t)i * 977);
        prows[i * 4 + 2] = sf_string(preps[i % 5], strlen(preps[i % 5]));
        prows[i * 4 + 3] = sf_double((double)(i % 40) / 4);
    }
    sf_parquet_options_init(&o);
    o.row_group_rows = 2500;
    write_case(dir, "early_plain", 4, pnames, ptypes, prows, pn, &o);

    /* Zero rows. */
    write_case(dir, "zero_rows", 6, enames, etypes, NULL, 0, &o);

    /* All NULL, all NaN, an unknown-type (NULL) column. */
    const char *anames[] = {"all_null_i", "all_nan", "unknown"};
    const sf_type atypes[] = {SF_INT, SF_DOUBLE, SF_NULL};
    sf_value arows[4 * 3];
    for (size_t i = 0; i < 4; i++) {
        arows[i * 3] = sf_null();
        arows[i * 3 + 1] = i == 2 ? sf_null() : sf_double(NAN);
        arows[i * 3 + 2] = sf_null();
    }
    sf_parquet_options_init(&o);
    o.codec = SF_PQ_ZSTD;
    write_case(dir, "all_null_nan", 3, anames, atypes, arows, 4, &o);

    sf_buf_printf(&json, "]\n");
    char path[4096];
    snprintf(path, sizeof path, "%s/cases.json", dir);
    FILE *f = fopen(path, "w");
    if (!f || fwrite(json.p, 1, json.n, f) != json.n || fclose(f) != 0)
        die("cannot write", path);
    printf("pq_cases: wrote 8 Parquet files and %s\n", path);
    free(rows);
    free(keys);
    free(frows);
    free(fkeys);
    free(prows);
    free(pkeys);
    free(mb);
    sf_buf_free(&json);
    return 0;
}

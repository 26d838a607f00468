/* parquet_bench.c - write throughput of the Parquet writer per codec, with
 * the CSV writer on the same rows for scale.
 *
 * usage: sf_bench_parquet DIR [ROWS]
 *
 * Builds ROWS (default 1,000,000) rows of 8 columns shaped like a KPI or
 * flatten output: date (a few hundred days), country (50 values), category
 * (200 values), an id string (all distinct), two int64 counters, two
 * doubles (one with NULLs); generating them is timed apart. Then writes
 * DIR/bench.csv and DIR/bench_<codec>.parquet and prints, per format,
 * seconds, rows/s, MB/s of CSV-equivalent bytes and the file size. The
 * machine may be shared: treat one run as a rough figure.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/csv.h"
#include "io/parquet.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: sf_bench_parquet DIR [ROWS]\n");
        return 2;
    }
    size_t n = argc > 2 ? (size_t)strtoull(argv[2], NULL, 10) : 1000000;
    const size_t nc = 8;
    const char *names[] = {"date", "country", "category", "order_id", "events", "purchases",
                           "revenue", "avg_price"};
    const sf_type types[] = {SF_DATE, SF_STRING, SF_STRING, SF_STRING, SF_INT, SF_INT,
                             SF_DOUBLE, SF_DOUBLE};
    sf_value *rows = malloc(n * nc * sizeof *rows);
    char *ids = malloc(n * 16);
    static char countries[50][4], cats[200][16];
    for (int i = 0; i < 50; i++)
        snprintf(countries[i], sizeof countries[i], "%c%c", 'A' + i % 26, 'A' + (i * 7) % 26);
    for (int i = 0; i < 200; i++)
        snprintf(cats[i], sizeof cats[i], "category_%03d", i);
    uint64_t x = 42;
    for (size_t i = 0; i < n; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        sf_value *r = rows + i * nc;
        r[0] = sf_date(20000 + (int32_t)(i * 365 / n));
        r[1] = sf_string(countries[(x >> 33) % 50], 2);
        r[2] = sf_string(cats[(x >> 40) % 200], 12);
        int len = snprintf(ids + i * 16, 16, "o%014zu", i * 7919);
        r[3] = sf_string(ids + i * 16, (size_t)len);
        r[4] = sf_int((int64_t)((x >> 20) % 100000));
        r[5] = sf_int((int64_t)((x >> 30) % 1000));
        r[6] = sf_double((double)((x >> 11) % 10000000) / 100.0);
        r[7] = (x >> 7) % 10 == 0 ? sf_null() : sf_double((double)((x >> 17) % 100000) / 7.0);
    }
    char path[4096];
    sf_error err;
    sf_error_clear(&err);

    snprintf(path, sizeof path, "%s/bench.csv", argv[1]);
    double t0 = now();
    sf_csv_writer *cw;
    if (sf_csv_writer_open(&cw, path, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    for (size_t c = 0; c < nc; c++)
        sf_csv_write_field(cw, names[c], strlen(names[c]));
    sf_csv_end_row(cw);
    for (size_t i = 0; i < n; i++) {
        for (size_t c = 0; c < nc; c++)
            sf_csv_write_value(cw, &rows[i * nc + c]);
        sf_csv_end_row(cw);
    }
    uint64_t csv_bytes = 0;
    if (sf_csv_writer_close(cw, &csv_bytes, &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    double tc = now() - t0;
    printf("%-14s %8s %12s %10s %14s %8s\n", "format", "seconds", "rows/s", "MB/s(csv)", "bytes",
           "vs csv");
    printf("%-14s %8.3f %12.0f %10.1f %14" PRIu64 " %7.2fx\n", "csv", tc, n / tc,
           csv_bytes / tc / 1e6, csv_bytes, 1.0);

    const char *codecs[] = {"none", "snappy", "zstd", "gzip"};
    for (size_t k = 0; k < 4; k++) {
        sf_parquet_options o;
        sf_parquet_options_init(&o);
        sf_parquet_parse_codec(codecs[k], &o, &err);
        snprintf(path, sizeof path, "%s/bench_%s.parquet", argv[1], codecs[k]);
        t0 = now();
        sf_parquet_writer *w;
        if (sf_parquet_writer_open(&w, path, nc, names, types, &o, &err) != 0) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        for (size_t i = 0; i < n; i++)
            if (sf_parquet_writer_append(w, rows + i * nc, &err) != 0) {
                fprintf(stderr, "%s\n", err.msg);
                return 1;
            }
        uint64_t bytes = 0;
        if (sf_parquet_writer_close(w, NULL, &bytes, &err) != 0) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        double t = now() - t0;
        char label[32];
        snprintf(label, sizeof label, "parquet/%s", codecs[k]);
        printf("%-14s %8.3f %12.0f %10.1f %14" PRIu64 " %7.2fx\n", label, t, n / t,
               csv_bytes / t / 1e6, bytes, (double)bytes / csv_bytes);
    }
    free(rows);
    free(ids);
    return 0;
}

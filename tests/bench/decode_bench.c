/* decode_bench.c - micro-benchmark of one line decoder on a JSON Lines file.
 *
 * Decodes every line with the chosen decoder over the daily KPI projection
 * (user_id int64, item_id int64, event_type string, ts int64, props.price
 * double) and reports the decode rate. The file is read in blocks and split
 * at newlines (a trailing CR is dropped, empty lines are skipped, as the
 * pipeline does); only the decode calls are timed. With --repeat N the file
 * is decoded N times and the fastest pass is reported, which is the useful
 * number on a shared, noisy machine.
 *
 * usage: sf_bench_decode [--decoder fast|jansson] [--repeat N] [--limit LINES]
 *                        [--string-ids] [--window] FILE
 * (--string-ids: user_id and item_id as strings, for `gen kpi --ids string`;
 * --window: each line is first offered to sf_decoder_decode_window, which
 * finds its end while decoding it, as the scan does; the lines it leaves
 * are split and decoded as without it)
 * prints: FILE: decoder D: N lines (R rejected), B bytes, T s, X MB/s, Y ns/line
 *         (MB = 1e6 bytes of line text, newlines excluded)
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/decode.h"

#define BLOCK (16u << 20)

static sf_decode_field kpi_fields[] = {
    {"user_id", SF_INT, 0, {0, 0}},   {"item_id", SF_INT, 1, {0, 0}},          {"event_type", SF_STRING, 2, {0, 0}},
    {"ts", SF_INT, 3, {0, 0}},        {"props.price", SF_DOUBLE, 4, {0, 0}},
};
#define NFIELDS (sizeof kpi_fields / sizeof kpi_fields[0])

typedef struct pass {
    uint64_t lines, rejected, bytes;
    uint64_t by_reason[SF_REJ_NREASONS];
    double secs;
} pass;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Decodes the complete lines of buf[0, n) and returns the bytes used. */
static int window; /* --window */

static size_t decode_block(sf_decoder *d, const char *buf, size_t n, int final, uint64_t limit,
                           pass *ps, int *err)
{
    sf_value row[NFIELDS];
    char msg[256];
    size_t pos = 0;
    double t0 = now();
    while (pos < n && ps->lines < limit) {
        const char *p = buf + pos;
        size_t wlen, used = window ? sf_decoder_decode_window(d, p, n - pos, row, &wlen) : 0;
        if (used) {
            pos += used;
            ps->lines++;
            ps->bytes += wlen;
            continue;
        }
        const char *nl = memchr(p, '\n', n - pos);
        if (!nl && !final)
            break;
        size_t len = nl ? (size_t)(nl - p) : n - pos;
        pos += len + (nl != NULL);
        if (len > 0 && p[len - 1] == '\r')
            len--;
        if (len == 0)
            continue;
        int rc = sf_decoder_decode(d, p, len, row, msg, sizeof msg);
        if (rc < 0) {
            *err = rc;
            break;
        }
        ps->lines++;
        ps->bytes += len;
        if (rc > 0) {
            ps->rejected++;
            if (rc - 1 < SF_REJ_NREASONS)
                ps->by_reason[rc - 1]++;
        }
    }
    ps->secs += now() - t0;
    return pos;
}

static int run_pass(sf_decoder *d, const char *path, char *buf, uint64_t limit, pass *ps)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return 1;
    }
    memset(ps, 0, sizeof *ps);
    size_t have = 0;
    int err = 0, eof = 0;
    while (!eof && !err && ps->lines < limit) {
        size_t got = fread(buf + have, 1, BLOCK - have, f);
        have += got;
        eof = got == 0 || feof(f);
        if (ferror(f)) {
            fprintf(stderr, "%s: read error\n", path);
            fclose(f);
            return 1;
        }
        size_t used = decode_block(d, buf, have, eof, limit, ps, &err);
        if (used == 0 && have == BLOCK) {
            fprintf(stderr, "%s: a line is longer than %u bytes\n", path, BLOCK);
            fclose(f);
            return 1;
        }
        memmove(buf, buf + used, have - used);
        have -= used;
    }
    fclose(f);
    if (err) {
        fprintf(stderr, "%s: decoder failed (%d)\n", path, err);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *kind_name = "fast", *path = NULL;
    long repeat = 1;
    uint64_t limit = UINT64_MAX;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--decoder") == 0 && i + 1 < argc)
            kind_name = argv[++i];
        else if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc)
            repeat = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--string-ids") == 0)
            kpi_fields[0].type = kpi_fields[1].type = SF_STRING;
        else if (strcmp(argv[i], "--window") == 0)
            window = 1;
        else if (strcmp(argv[i], "--limit") == 0 && i + 1 < argc)
            limit = strtoull(argv[++i], NULL, 10);
        else if (argv[i][0] != '-' && !path)
            path = argv[i];
        else
            path = NULL, i = argc;
    }
    sf_decoder_kind kind;
    if (!path || repeat < 1 || sf_decoder_kind_parse(kind_name, &kind) != 0) {
        fprintf(stderr,
                "usage: %s [--decoder fast|jansson] [--repeat N] [--limit LINES] [--string-ids] "
                "[--window] FILE.jsonl\n",
                argv[0]);
        return 2;
    }
    sf_decoder *d = sf_decoder_new(kind, kpi_fields, NFIELDS);
    char *buf = malloc(BLOCK);
    if (!d || !buf) {
        fprintf(stderr, "out of memory\n");
        sf_decoder_free(d);
        free(buf);
        return 1;
    }
    pass best = {0}, ps;
    for (long r = 0; r < repeat; r++) {
        if (run_pass(d, path, buf, limit, &ps) != 0) {
            sf_decoder_free(d);
            free(buf);
            return 1;
        }
        if (r == 0 || ps.secs < best.secs)
            best = ps;
    }
    double secs = best.secs > 0 ? best.secs : 1e-9;
    printf("%s: decoder %s: %llu lines (%llu rejected), %llu bytes, %.3f s, %.1f MB/s, "
           "%.1f ns/line\n",
           path, sf_decoder_kind_name(kind), (unsigned long long)best.lines,
           (unsigned long long)best.rejected, (unsigned long long)best.bytes, secs,
           (double)best.bytes / secs / 1e6, best.lines ? secs * 1e9 / (double)best.lines : 0.0);
    for (int r = 0; r < SF_REJ_NREASONS; r++)
        if (best.by_reason[r])
            printf("  rejected (%s): %llu\n", sf_reject_reason_name((sf_reject_reason)r),
                   (unsigned long long)best.by_reason[r]);
    sf_decoder_free(d);
    free(buf);
    return 0;
}

/* zread_bench.c - times reading a (compressed) JSON Lines file into lines
 * with io/decompress: whole, or split into ranges of a target size read
 * one after the other (what ranks would read in parallel).
 *
 * usage: sf_bench_zread FILE [TARGET_BYTES]
 * Prints the codec, the ranges, lines, uncompressed MB and MB/s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "io/decompress.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE [TARGET_BYTES]\n", argv[0]);
        return 2;
    }
    struct stat st;
    if (stat(argv[1], &st) != 0) {
        perror(argv[1]);
        return 1;
    }
    uint64_t target = argc > 2 ? strtoull(argv[2], NULL, 10) : UINT64_MAX;
    sf_error err;
    sf_codec codec;
    sf_zrange *ranges;
    size_t n, units;
    if (sf_codec_of_file(argv[1], &codec, &err) != 0 ||
        sf_decompress_split(argv[1], codec, (uint64_t)st.st_size, target, &ranges, &n, &units,
                            &err) != 0) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t lines = 0, bytes = 0, sum = 0;
    for (size_t i = 0; i < n; i++) {
        sf_zreader *r;
        if (sf_zreader_open(&r, argv[1], codec, &ranges[i], 0, 0, &err) != 0) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        const char *line;
        size_t len;
        uint64_t off;
        int rc;
        while ((rc = sf_zreader_next(r, &line, &len, &off, &err)) == 1) {
            lines++;
            sum += len ? (unsigned char)line[0] : 0;
        }
        if (rc) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        bytes += sf_zreader_ubytes(r);
        sf_zreader_close(r);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("%s: %s, %zu unit(s), %zu range(s), %llu lines, %.1f MB in %.3f s: %.0f MB/s "
           "(check %llu)\n",
           argv[1], sf_codec_name(codec), units, n, (unsigned long long)lines, bytes / 1e6, s,
           bytes / 1e6 / s, (unsigned long long)sum);
    free(ranges);
    return 0;
}

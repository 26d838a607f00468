/* jansson_parse.c - baseline for scripts/bench: how fast jansson alone
 * parses a JSON Lines file on one core (read in big blocks, split with
 * memchr, json_loadb and json_decref per line, nothing else), so shardflow's
 * single-rank rate can be read as a fraction of the parser's.
 *
 * usage: sf_bench_jansson_parse FILE
 * prints: FILE: N lines, E invalid, B bytes, T s, R MB/s   (MB = 1e6 bytes)
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLOCK (16u << 20)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void parse_line(const char *p, size_t n, uint64_t *lines, uint64_t *invalid)
{
    if (n > 0 && p[n - 1] == '\r')
        n--;
    if (n == 0)
        return;
    (*lines)++;
    json_error_t jerr;
    json_t *doc = json_loadb(p, n, 0, &jerr);
    if (!doc)
        (*invalid)++;
    json_decref(doc);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE.jsonl\n", argv[0]);
        return 2;
    }
    const char *path = argv[1];
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return 1;
    }
    size_t cap = BLOCK;
    char *buf = malloc(cap);
    if (!buf) {
        fprintf(stderr, "out of memory\n");
        close(fd);
        return 1;
    }
    uint64_t lines = 0, invalid = 0, bytes = 0;
    size_t have = 0; /* bytes of an unfinished line kept at the buffer start */
    double t0 = now();
    for (;;) {
        if (have == cap) {
            /* one line longer than the buffer: make room for the rest */
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                fprintf(stderr, "out of memory for a line of over %zu bytes\n", cap);
                free(buf);
                close(fd);
                return 1;
            }
            buf = bigger;
            cap *= 2;
        }
        ssize_t got = read(fd, buf + have, cap - have);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "%s: read: %s\n", path, strerror(errno));
            free(buf);
            close(fd);
            return 1;
        }
        if (got == 0)
            break;
        bytes += (uint64_t)got;
        size_t end = have + (size_t)got;
        size_t start = 0;
        const char *nl;
        while ((nl = memchr(buf + start, '\n', end - start)) != NULL) {
            size_t at = (size_t)(nl - buf);
            parse_line(buf + start, at - start, &lines, &invalid);
            start = at + 1;
        }
        have = end - start;
        memmove(buf, buf + start, have);
    }
    if (have > 0)
        parse_line(buf, have, &lines, &invalid);
    double secs = now() - t0;
    free(buf);
    close(fd);
    printf("%s: %llu lines, %llu invalid, %llu bytes, %.3f s, %.1f MB/s\n", path,
           (unsigned long long)lines, (unsigned long long)invalid, (unsigned long long)bytes,
           secs, secs > 0 ? (double)bytes / secs / 1e6 : 0.0);
    return 0;
}

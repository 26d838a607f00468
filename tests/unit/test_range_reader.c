/* test_range_reader.c - unit tests of the byte-range line reader.
 *
 * The oracle is an independent split of the whole file into lines (offset,
 * text, consumed bytes). Each test cuts a file into ranges in every possible
 * way and checks that the lines of all ranges, in order, are exactly the
 * oracle's lines, each once, with the right offsets, each inside the range
 * that returned it, and that the byte counts add up to the file size.
 *
 * The tests run twice: with every reader on pread into its buffer, and in
 * the default mode, where a regular file is read through mapped windows
 * of its pages (io/range_reader.c, "Mapped mode").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/fsutil.h"
#include "io/range_reader.h"

static char tmpdir[256];
static char path[300];

typedef struct ref_line {
    uint64_t off;
    const char *p;
    size_t len; /* without '\n' and one '\r' */
} ref_line;

#define MAX_REF 4096

static ref_line refs[MAX_REF];
static size_t nrefs;

static void ref_split(const char *data, size_t size)
{
    size_t pos = 0;
    nrefs = 0;
    if (size >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
        pos = 3;
    while (pos < size) {
        size_t e = pos;
        while (e < size && data[e] != '\n')
            e++;
        assert_true(nrefs < MAX_REF);
        refs[nrefs].off = pos;
        refs[nrefs].p = data + pos;
        refs[nrefs].len = (e > pos && data[e - 1] == '\r') ? e - pos - 1 : e - pos;
        nrefs++;
        pos = e + 1;
    }
}

static void write_file(const char *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (size)
        assert_int_equal(fwrite(data, 1, size, f), size);
    assert_int_equal(fclose(f), 0);
}

static void write_str(const char *s)
{
    write_file(s, strlen(s));
}

/* Reads the ranges bounds[0..n] (range i is [bounds[i], bounds[i+1])) and
 * checks them against refs as described at the top. */
static void check_ranges(const uint64_t *bounds, size_t n, size_t buf_size, size_t max_line,
                         uint64_t size)
{
    size_t k = 0;
    uint64_t bytes = 0;
    size_t limit = max_line ? max_line : (size_t)16 << 20;
    /* Every other call hands each range's buffer to the next range, as a
     * scan of chunks does (it may have grown for a long line). */
    static unsigned calls;
    int use_spare = calls++ & 1;
    sf_range_reader_spare spare = {0};
    for (size_t i = 0; i < n; i++) {
        sf_range_reader *r = NULL;
        sf_error err;
        sf_error_clear(&err);
        assert_int_equal(sf_range_reader_open_spare(&r, path, bounds[i], bounds[i + 1], buf_size,
                                                    max_line, use_spare ? &spare : NULL, &err),
                         0);
        for (;;) {
            const char *line = NULL;
            size_t len = 0;
            uint64_t off = UINT64_MAX;
            int rc = sf_range_reader_next(r, &line, &len, &off, &err);
            if (rc == 0)
                break;
            if (k >= nrefs)
                fail_msg("range [%llu,%llu) buf %zu: extra line at %llu",
                         (unsigned long long)bounds[i], (unsigned long long)bounds[i + 1], buf_size,
                         (unsigned long long)off);
            if (off != refs[k].off)
                fail_msg("range [%llu,%llu) buf %zu: line at %llu, expected %llu",
                         (unsigned long long)bounds[i], (unsigned long long)bounds[i + 1], buf_size,
                         (unsigned long long)off, (unsigned long long)refs[k].off);
            assert_true(off >= bounds[i] && off < bounds[i + 1]);
            if (rc == SF_E_LIMIT) {
                assert_true(refs[k].len > limit);
                assert_int_equal(err.offset, (int64_t)off);
                assert_non_null(strstr(err.msg, "line longer than"));
            } else {
                assert_int_equal(rc, 1);
                assert_true(refs[k].len <= limit);
                assert_int_equal(len, refs[k].len);
                assert_memory_equal(line, refs[k].p, len);
            }
            k++;
        }
        /* The end is sticky. */
        const char *line;
        size_t len;
        uint64_t off;
        assert_int_equal(sf_range_reader_next(r, &line, &len, &off, &err), 0);
        bytes += sf_range_reader_bytes(r);
        sf_range_reader_close_spare(r, use_spare ? &spare : NULL);
    }
    sf_range_reader_spare_free(&spare);
    if (k != nrefs)
        fail_msg("buf %zu: %zu lines read, expected %zu", buf_size, k, nrefs);
    assert_int_equal(bytes, size);
}

/* Every set of 1, 2 and 3 cuts c1 <= c2 <= c3 in [0, size] (so empty ranges
 * too), then every chunk size 1..size+1, for several buffer sizes. */
static void check_all_cuts(const char *data, size_t size, size_t max_line)
{
    static const size_t bufs[] = {1, 5, 16, 0};
    write_file(data, size);
    ref_split(data, size);
    for (size_t b = 0; b < sizeof bufs / sizeof bufs[0]; b++) {
        size_t buf = bufs[b];
        uint64_t bounds[5];
        bounds[0] = 0;
        for (uint64_t c1 = 0; c1 <= size; c1++) {
            bounds[1] = c1;
            bounds[2] = size;
            check_ranges(bounds, 2, buf, max_line, size);
            if (buf == 0)
                continue; /* the 4 MiB default: single cuts are enough */
            for (uint64_t c2 = c1; c2 <= size; c2++) {
                bounds[2] = c2;
                bounds[3] = size;
                check_ranges(bounds, 3, buf, max_line, size);
                for (uint64_t c3 = c2; c3 <= size; c3++) {
                    bounds[3] = c3;
                    bounds[4] = size;
                    check_ranges(bounds, 4, buf, max_line, size);
                }
            }
        }
        uint64_t *many = malloc((size + 2) * sizeof *many);
        assert_non_null(many);
        for (uint64_t chunk = 1; chunk <= size + 1; chunk++) {
            size_t n = 0;
            for (uint64_t s = 0; s < size; s += chunk)
                many[n++] = s;
            many[n] = size;
            if (n == 0)
                many[++n] = size; /* empty file: one empty range */
            check_ranges(many, n, buf, max_line, size);
        }
        free(many);
    }
}

#define CHECK_ALL(lit, max_line) check_all_cuts(lit, sizeof(lit) - 1, max_line)

/* Reads one range and returns its lines joined by '|', LIMIT as '!'. */
static void read_range(uint64_t start, uint64_t end, size_t buf, size_t max_line, char *out,
                       size_t cap, uint64_t *bytes)
{
    sf_range_reader *r;
    sf_error err;
    assert_int_equal(sf_range_reader_open(&r, path, start, end, buf, max_line, &err), 0);
    size_t n = 0, count = 0;
    out[0] = '\0';
    for (;;) {
        const char *line;
        size_t len;
        uint64_t off;
        int rc = sf_range_reader_next(r, &line, &len, &off, &err);
        if (rc == 0)
            break;
        if (count++)
            out[n++] = '|';
        if (rc == SF_E_LIMIT) {
            out[n++] = '!';
        } else {
            assert_int_equal(rc, 1);
            assert_true(n + len + 2 < cap);
            memcpy(out + n, line, len);
            n += len;
        }
        out[n] = '\0';
    }
    if (bytes)
        *bytes = sf_range_reader_bytes(r);
    sf_range_reader_close(r);
}

/* The group's read mode (SF_RANGE_READ_*). */
static int group_mode;

static int setup(void **state)
{
    (void)state;
    sf_range_reader_set_mode(group_mode);
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/sf_rr_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(path, sizeof path, "%s/in.jsonl", tmpdir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sf_error err;
    return sf_rmtree(tmpdir, &err) == 0 ? 0 : -1;
}

static void test_empty_file_yields_no_lines(void **state)
{
    (void)state;
    write_str("");
    char out[64];
    uint64_t bytes = 1;
    read_range(0, 0, 0, 0, out, sizeof out, &bytes);
    assert_string_equal(out, "");
    assert_int_equal(bytes, 0);
    read_range(0, 100, 16, 0, out, sizeof out, &bytes);
    assert_string_equal(out, "");
    assert_int_equal(bytes, 0);
    CHECK_ALL("", 0);
}

static void test_only_blank_lines_are_returned_as_empty_lines(void **state)
{
    (void)state;
    write_str("\n\n\n");
    char out[64];
    uint64_t bytes;
    read_range(0, 3, 16, 0, out, sizeof out, &bytes);
    assert_string_equal(out, "||");
    assert_int_equal(bytes, 3);
    CHECK_ALL("\n\n\n\n\n\n\n", 0);
}

static void test_blank_lines_between_lines_all_cuts(void **state)
{
    (void)state;
    CHECK_ALL("a\n\nbb\n\n\nccc\n\n", 0);
}

static void test_no_final_newline_all_cuts(void **state)
{
    (void)state;
    write_str("alpha\nbeta");
    char out[64];
    uint64_t bytes;
    read_range(0, 10, 16, 0, out, sizeof out, &bytes);
    assert_string_equal(out, "alpha|beta");
    assert_int_equal(bytes, 10);
    CHECK_ALL("alpha\nbeta\n\ngamma", 0);
}

static void test_crlf_strips_exactly_one_carriage_return(void **state)
{
    (void)state;
    write_str("a\r\nb\r\r\n\r\nc\rd\n");
    char out[64];
    read_range(0, 13, 3, 0, out, sizeof out, NULL);
    assert_string_equal(out, "a|b\r||c\rd");
    CHECK_ALL("a\r\nbb\r\n\r\nccc\r\r\nlast\r", 0);
}

static void test_bom_is_skipped_and_first_offset_is_three(void **state)
{
    (void)state;
    write_str("\xEF\xBB\xBF{\"a\":1}\n{}\n");
    sf_range_reader *r;
    sf_error err;
    assert_int_equal(sf_range_reader_open(&r, path, 0, 14, 0, 0, &err), 0);
    const char *line;
    size_t len;
    uint64_t off;
    assert_int_equal(sf_range_reader_next(r, &line, &len, &off, &err), 1);
    assert_int_equal(off, 3);
    assert_int_equal(len, 7);
    assert_memory_equal(line, "{\"a\":1}", 7);
    assert_int_equal(sf_range_reader_next(r, &line, &len, &off, &err), 1);
    assert_int_equal(off, 11);
    assert_int_equal(sf_range_reader_next(r, &line, &len, &off, &err), 0);
    assert_int_equal(sf_range_reader_bytes(r), 14);
    sf_range_reader_close(r);
    CHECK_ALL("\xEF\xBB\xBF{\"a\":1}\n\n{}\r\nx", 0);
}

static void test_bom_counts_only_for_the_range_at_zero(void **state)
{
    (void)state;
    write_str("\xEF\xBB\xBF" "ab\ncd\n");
    char out[64];
    uint64_t bytes;
    /* [0,2) owns no line but the BOM; [2,9) owns both lines. */
    read_range(0, 2, 16, 0, out, sizeof out, &bytes);
    assert_string_equal(out, "");
    assert_int_equal(bytes, 3);
    read_range(2, 9, 16, 0, out, sizeof out, &bytes);
    assert_string_equal(out, "ab|cd");
    assert_int_equal(bytes, 6);
    CHECK_ALL("\xEF\xBB\xBF", 0);
    CHECK_ALL("\xEF\xBB\xBF\n", 0);
}

static void test_bom_after_offset_zero_is_data(void **state)
{
    (void)state;
    write_str("a\n\xEF\xBB\xBF" "b\n");
    char out[64];
    read_range(0, 7, 16, 0, out, sizeof out, NULL);
    assert_string_equal(out, "a|\xEF\xBB\xBF" "b");
    CHECK_ALL("\xEF\xBB", 0);
    CHECK_ALL("a\n\xEF\xBB\xBF" "b\n", 0);
}

static void test_newline_at_last_byte_of_range_leaves_next_line_to_next_range(void **state)
{
    (void)state;
    write_str("abc\ndef\n");
    char out[64];
    uint64_t b1, b2;
    read_range(0, 4, 16, 0, out, sizeof out, &b1); /* '\n' at end-1 */
    assert_string_equal(out, "abc");
    read_range(4, 8, 16, 0, out, sizeof out, &b2);
    assert_string_equal(out, "def");
    assert_int_equal(b1 + b2, 8);
}

static void test_newline_at_range_end_byte_is_read_past_end(void **state)
{
    (void)state;
    write_str("abc\ndef\n");
    char out[64];
    uint64_t b1, b2;
    read_range(0, 3, 16, 0, out, sizeof out, &b1); /* '\n' at byte end */
    assert_string_equal(out, "abc");
    assert_int_equal(b1, 4);
    read_range(3, 8, 16, 0, out, sizeof out, &b2);
    assert_string_equal(out, "def");
    assert_int_equal(b2, 4);
}

static void test_line_longer_than_chunk_all_cuts(void **state)
{
    (void)state;
    write_str("x\n0123456789abcdefghij\ny\n");
    char out[64];
    read_range(1, 3, 16, 0, out, sizeof out, NULL);
    assert_string_equal(out, "0123456789abcdefghij");
    read_range(3, 23, 16, 0, out, sizeof out, NULL);
    assert_string_equal(out, "");
    CHECK_ALL("x\n0123456789abcdefghijklmnopqrstu\ny\n", 0);
}

static void test_line_longer_than_buffer_grows_the_buffer(void **state)
{
    (void)state;
    char data[300];
    for (size_t i = 0; i < 250; i++)
        data[i] = (char)('a' + i % 26);
    memcpy(data + 250, "\nz\n", 3);
    write_file(data, 253);
    sf_range_reader *r;
    sf_error err;
    assert_int_equal(sf_range_reader_open(&r, path, 0, 253, 4, 0, &err), 0);
    const char *line;
    size_t len;
    uint64_t off;
    assert_int_equal(sf_range_reader_next(r, &line, &len, &off, &err), 1);
    assert_int_equal(len, 250);
    assert_memory_equal(line, data, 250);
    assert_int_equal(sf_range_reader_next(r, &line, &len, &off, &err), 1);
    assert_int_equal(off, 251);
    assert_int_equal(len, 1);
    assert_int_equal(sf_range_reader_next(r, &line, &len, &off, &err), 0);
    sf_range_reader_close(r);
    CHECK_ALL("ab\nabcdefghijklmnopqrstuvwxyz0123456789\n\nc", 0);
}

static void test_spare_buffer_passes_to_the_next_reader_of_its_size(void **state)
{
    (void)state;
    sf_range_reader_set_mode(SF_RANGE_READ_PREAD); /* a mapped reader has no buffer */
    write_str("one\ntwo\nthree\n");
    sf_range_reader_spare spare = {0};
    sf_range_reader *r;
    sf_error err;
    const char *line;
    size_t len;
    uint64_t off;
    assert_int_equal(sf_range_reader_open_spare(&r, path, 0, 4, 8, 0, &spare, &err), 0);
    assert_int_equal(sf_range_reader_next(r, &line, &len, &off, &err), 1);
    sf_range_reader_close_spare(r, &spare);
    char *kept = spare.buf;
    assert_non_null(kept);
    assert_int_equal(spare.cap, 8);
    /* A reader wanting a larger buffer leaves the spare alone. */
    assert_int_equal(sf_range_reader_open_spare(&r, path, 4, 8, 16, 0, &spare, &err), 0);
    assert_ptr_equal(spare.buf, kept);
    sf_range_reader_close(r);
    /* One of its size takes it and reads the right lines into it. */
    assert_int_equal(sf_range_reader_open_spare(&r, path, 4, 14, 8, 0, &spare, &err), 0);
    assert_null(spare.buf);
    assert_int_equal(sf_range_reader_next(r, &line, &len, &off, &err), 1);
    assert_ptr_equal(line, kept + 1); /* a range after 0 reads from the byte before it */
    assert_int_equal(len, 3);
    assert_memory_equal(line, "two", 3);
    assert_int_equal(sf_range_reader_next(r, &line, &len, &off, &err), 1);
    assert_memory_equal(line, "three", 5);
    assert_int_equal(sf_range_reader_next(r, &line, &len, &off, &err), 0);
    sf_range_reader_close_spare(r, &spare);
    assert_ptr_equal(spare.buf, kept);
    sf_range_reader_spare_free(&spare);
    assert_null(spare.buf);
    sf_range_reader_set_mode(group_mode);
}

/* The spare keeps the last reader's open file for the next reader of the
 * same path (the kernel's read-ahead lives in it), not for another path,
 * and closes what it no longer keeps. */
static void test_spare_keeps_the_open_file_for_the_same_path(void **state)
{
    (void)state;
    write_str("one\ntwo\n");
    char path2[sizeof path + 4];
    snprintf(path2, sizeof path2, "%s.b", path);
    FILE *f = fopen(path2, "wb");
    assert_non_null(f);
    fputs("uno\ndos\n", f);
    assert_int_equal(fclose(f), 0);
    sf_range_reader_spare spare = {0};
    sf_range_reader *r;
    sf_error err;
    const char *line;
    size_t len;
    uint64_t off;
    assert_int_equal(sf_range_reader_open_spare(&r, path, 0, 4, 0, 0, &spare, &err), 0);
    sf_range_reader_close_spare(r, &spare);
    assert_string_equal(spare.path, path);
    int fd1 = spare.fd;
    assert_true(fcntl(fd1, F_GETFD) >= 0);
    /* Another file: opened anew; the spare then holds it, the first closed. */
    assert_int_equal(sf_range_reader_open_spare(&r, path2, 0, 4, 0, 0, &spare, &err), 0);
    assert_string_equal(spare.path, path);
    assert_int_equal(sf_range_reader_next(r, &line, &len, &off, &err), 1);
    assert_memory_equal(line, "uno", 3);
    sf_range_reader_close_spare(r, &spare);
    assert_string_equal(spare.path, path2);
    int fd2 = spare.fd;
    assert_true(fd2 != fd1);
    assert_int_equal(fcntl(fd1, F_GETFD), -1);
    /* The same file: read through the kept descriptor. */
    assert_int_equal(sf_range_reader_open_spare(&r, path2, 4, 8, 0, 0, &spare, &err), 0);
    assert_null(spare.path);
    assert_int_equal(sf_range_reader_next(r, &line, &len, &off, &err), 1);
    assert_memory_equal(line, "dos", 3);
    assert_int_equal(off, 4);
    assert_int_equal(sf_range_reader_next(r, &line, &len, &off, &err), 0);
    sf_range_reader_close_spare(r, &spare);
    assert_string_equal(spare.path, path2);
    assert_int_equal(spare.fd, fd2);
    sf_range_reader_spare_free(&spare);
    assert_null(spare.path);
    assert_int_equal(fcntl(fd2, F_GETFD), -1);
    unlink(path2);
}

static void test_line_longer_than_max_line_is_reported_and_skipped(void **state)
{
    (void)state;
    const char *data = "short\n01234567890123456789\nnext\n";
    write_file(data, strlen(data));
    sf_range_reader *r;
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_range_reader_open(&r, path, 0, 100, 4, 10, &err), 0);
    const char *line;
    size_t len;
    uint64_t off;
    assert_int_equal(sf_range_reader_next(r, &line, &len, &off, &err), 1);
    assert_int_equal(sf_range_reader_next(r, &line, &len, &off, &err), SF_E_LIMIT);
    assert_int_equal(off, 6);
    char want[400];
    snprintf(want, sizeof want, "%s: byte 6: line longer than 10 bytes (--max-line-bytes)", path);
    assert_string_equal(err.msg, want);
    assert_int_equal(err.offset, 6);
    assert_int_equal(sf_range_reader_next(r, &line, &len, &off, &err), 1);
    assert_int_equal(off, 27);
    assert_int_equal(len, 4);
    assert_memory_equal(line, "next", 4);
    assert_int_equal(sf_range_reader_next(r, &line, &len, &off, &err), 0);
    assert_int_equal(sf_range_reader_bytes(r), strlen(data));
    sf_range_reader_close(r);
    CHECK_ALL("short\n01234567890123456789\nnext\n0123456789abc", 10);
}

static void test_line_of_exactly_max_line_bytes_with_crlf_is_accepted(void **state)
{
    (void)state;
    write_str("0123456789\r\n0123456789a\r\n");
    char out[64];
    read_range(0, 25, 1, 10, out, sizeof out, NULL);
    assert_string_equal(out, "0123456789|!");
    CHECK_ALL("0123456789\r\n0123456789a\n0123456789", 10);
}

static void test_range_past_end_of_file_is_empty(void **state)
{
    (void)state;
    write_str("a\nb\n");
    char out[64];
    uint64_t bytes;
    read_range(4, 100, 16, 0, out, sizeof out, &bytes);
    assert_string_equal(out, "");
    assert_int_equal(bytes, 0);
    read_range(50, 100, 16, 0, out, sizeof out, &bytes);
    assert_string_equal(out, "");
    read_range(2, UINT64_MAX, 16, 0, out, sizeof out, &bytes);
    assert_string_equal(out, "b");
    assert_int_equal(bytes, 2);
}

static void test_missing_file_is_io_error_naming_it(void **state)
{
    (void)state;
    char missing[400];
    snprintf(missing, sizeof missing, "%s/nope.jsonl", tmpdir);
    sf_range_reader *r = (sf_range_reader *)1;
    sf_error err;
    assert_int_equal(sf_range_reader_open(&r, missing, 0, 10, 0, 0, &err), SF_E_IO);
    assert_null(r);
    assert_non_null(strstr(err.msg, missing));
    assert_non_null(strstr(err.msg, "No such file or directory"));
}

static void test_read_error_is_io_error_naming_file_and_reason(void **state)
{
    (void)state;
    /* A directory opens but cannot be read: pread fails with EISDIR. */
    sf_range_reader *r = NULL;
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_range_reader_open(&r, tmpdir, 10, 20, 0, 0, &err), 0);
    const char *line;
    size_t len;
    uint64_t off;
    assert_int_equal(sf_range_reader_next(r, &line, &len, &off, &err), SF_E_IO);
    assert_non_null(strstr(err.msg, tmpdir));
    assert_non_null(strstr(err.msg, "Is a directory"));
    /* The failure is not mistaken for the end of the range later. */
    assert_int_equal(sf_range_reader_next(r, &line, &len, &off, &err), SF_E_IO);
    sf_range_reader_close(r);
    assert_int_equal(sf_range_reader_open(&r, tmpdir, 0, 20, 0, 0, &err), SF_E_IO);
    assert_non_null(strstr(err.msg, "Is a directory"));
}

static void test_close_null_is_noop(void **state)
{
    (void)state;
    sf_range_reader_close(NULL);
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Writes n random printable bytes at data[size], then one '\r' one time
 * in five; returns the new size. */
static size_t put_random_line(char *data, size_t size, size_t n)
{
    for (size_t i = 0; i < n; i++)
        data[size++] = (char)('A' + rnd() % 58);
    if (rnd() % 5 == 0)
        data[size++] = '\r';
    return size;
}

/* Cuts [0, size] at up to ncuts random points, each a step below
 * size / div + 2 after the last, none past size: bounds[0] = 0, the points,
 * bounds[n] = size (bounds holds ncuts + 2). Returns n, the ranges. */
static size_t random_cuts(uint64_t *bounds, size_t ncuts, size_t size, size_t div)
{
    size_t n = 0;
    uint64_t at = 0;
    bounds[n++] = 0;
    for (size_t c = 0; c < ncuts && size > 0; c++) {
        at += rnd() % (size / div + 2);
        if (at > size)
            break;
        bounds[n++] = at;
    }
    bounds[n] = size;
    return n;
}

/* data[0, size) as the file and as the reference lines, and up to ncuts
 * random cuts of it into bounds (as random_cuts). Returns the ranges. */
static size_t file_with_cuts(const char *data, size_t size, uint64_t *bounds, size_t ncuts,
                             size_t div)
{
    write_file(data, size);
    ref_split(data, size);
    return random_cuts(bounds, ncuts, size, div);
}

static void test_random_files_random_cuts_small_buffer(void **state)
{
    (void)state;
    static char data[8192];
    for (int iter = 0; iter < 300; iter++) {
        size_t size = 0;
        size_t lines = rnd() % 60;
        if (rnd() % 8 == 0) {
            memcpy(data, "\xEF\xBB\xBF", 3);
            size = 3;
        }
        for (size_t l = 0; l < lines; l++) {
            size = put_random_line(data, size, rnd() % 8 == 0 ? rnd() % 120 : rnd() % 20);
            if (l + 1 < lines || rnd() % 2)
                data[size++] = '\n';
        }
        uint64_t bounds[64];
        size_t n = file_with_cuts(data, size, bounds, rnd() % 20, 4);
        size_t buf = 1 + rnd() % 16;
        size_t max_line = rnd() % 3 == 0 ? 40 + rnd() % 60 : 0;
        check_ranges(bounds, n, buf, max_line, size);
        check_ranges(bounds, n, 16, max_line, size);
    }
}

/* Files of several pages whose lines, up to 9,000 bytes, cross window
 * ends (a buffer or window of one page, then the default), cut into
 * random ranges. */
static void test_random_files_across_windows(void **state)
{
    (void)state;
    static char data[48 << 10];
    for (int iter = 0; iter < 40; iter++) {
        size_t size = 0;
        while (size + 9100 < sizeof data && rnd() % 40 != 0) {
            size = put_random_line(data, size, rnd() % 6 == 0 ? rnd() % 9000 : rnd() % 300);
            if (rnd() % 9 != 0)
                data[size++] = '\n';
        }
        uint64_t bounds[40];
        size_t n = file_with_cuts(data, size, bounds, rnd() % 30, 8);
        size_t max_line = rnd() % 3 == 0 ? 2000 + rnd() % 6000 : 0;
        check_ranges(bounds, n, 1, max_line, size);
        check_ranges(bounds, n, 4096, max_line, size);
        check_ranges(bounds, n, 0, max_line, size);
    }
}

/* Files of about 10 MiB, so that windows of the default size (4 MiB)
 * start at the 2 MiB boundaries below the bytes they need (the mapped
 * reader's alignment for huge pages), with a few lines of up to 5 MiB
 * that outgrow a window; cut into random ranges and read with the
 * default window, then with one of 1 MiB and a page (smaller windows
 * start at the page). */
static void test_large_files_across_huge_page_boundaries(void **state)
{
    (void)state;
    static char data[11 << 20];
    for (int iter = 0; iter < 3; iter++) {
        size_t size = 0;
        while (size < ((size_t)10 << 20)) {
            size_t n = rnd() % 300 == 0 ? rnd() % ((size_t)5 << 20) : 1000 + rnd() % 7000;
            if (size + n + 2 > sizeof data)
                break;
            size = put_random_line(data, size, n);
            if (rnd() % 9 != 0)
                data[size++] = '\n';
        }
        uint64_t bounds[16];
        size_t n = file_with_cuts(data, size, bounds, rnd() % 12, 4);
        check_ranges(bounds, n, 0, 0, size);
        check_ranges(bounds, n, ((size_t)1 << 20) + 4096, 0, size);
    }
}

/* 1 when /proc/self/maps shows a mapping of path. */
static int mapped_now(const char *file)
{
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    char line[1024];
    int found = 0;
    size_t n = strlen(file);
    while (fgets(line, sizeof line, f)) {
        size_t len = strlen(line);
        while (len && line[len - 1] == '\n')
            line[--len] = '\0';
        if (len >= n && strcmp(line + len - n, file) == 0)
            found = 1;
    }
    fclose(f);
    return found;
}

/* The default mode maps a regular file while its reader is open, and
 * unmaps it at close; pread mode never maps it. */
static void test_regular_file_is_read_through_a_mapping_by_default(void **state)
{
    (void)state;
    write_str("one\ntwo\n");
    sf_range_reader *r;
    sf_error err;
    const char *line;
    size_t len;
    uint64_t off;
    assert_int_equal(sf_range_reader_open(&r, path, 0, 8, 0, 0, &err), 0);
    assert_int_equal(sf_range_reader_next(r, &line, &len, &off, &err), 1);
    assert_memory_equal(line, "one", 3);
    assert_int_equal(mapped_now(path), group_mode == SF_RANGE_READ_AUTO);
    sf_range_reader_close(r);
    assert_int_equal(mapped_now(path), 0);
}

/* Runs fn in a child with stderr into a pipe; returns its wait status and
 * what it wrote in out. */
static int in_child(void (*fn)(void), char *out, size_t cap)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        fn();
        _exit(0);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t got;
    while (n + 1 < cap && (got = read(fds[0], out + n, cap - 1 - n)) > 0)
        n += (size_t)got;
    out[n] = '\0';
    close(fds[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

/* Opens a reader on a three-page file, reads a line, cuts the file to one
 * page and reads on: the lines of the lost pages are gone. */
static void read_a_file_made_shorter(void)
{
    signal(SIGBUS, SIG_DFL); /* not cmocka's: as in a program */
    static char data[3 * 4096];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = i % 100 == 99 ? '\n' : (char)('a' + i % 26);
    write_file(data, sizeof data);
    sf_range_reader *r;
    sf_error err;
    const char *line;
    size_t len;
    uint64_t off;
    if (sf_range_reader_open(&r, path, 0, sizeof data, 3 * 4096, 0, &err) != 0 ||
        sf_range_reader_next(r, &line, &len, &off, &err) != 1)
        _exit(3);
    if (truncate(path, 4096) != 0)
        _exit(4);
    int rc;
    while ((rc = sf_range_reader_next(r, &line, &len, &off, &err)) == 1)
        ;
    fprintf(stderr, "reader returned %d: %s\n", rc, err.msg);
    _exit(rc == 0 ? 5 : 6);
}

/* A file cut under a mapped reader: the process ends with exit code 1 and
 * a message naming the file and the first byte it lost (a pread reader
 * reads the shorter file to its end). */
static void test_file_made_shorter_under_a_mapping_ends_the_process_naming_it(void **state)
{
    (void)state;
    if (group_mode != SF_RANGE_READ_AUTO)
        skip();
    char out[1024];
    int status = in_child(read_a_file_made_shorter, out, sizeof out);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 1)
        fail_msg("status %d, stderr: %s", status, out);
    assert_non_null(strstr(out, path));
    assert_non_null(strstr(out, ": cannot read byte 4096 (the file became shorter while it was read"));
    assert_non_null(strstr(out, "commits nothing"));
}

static void raise_sigbus_after_a_mapping(void)
{
    signal(SIGBUS, SIG_DFL); /* not cmocka's: as in a program */
    write_str("one\ntwo\n");
    sf_range_reader *r;
    sf_error err;
    if (sf_range_reader_open(&r, path, 0, 8, 0, 0, &err) != 0)
        _exit(3);
    raise(SIGBUS);
    _exit(4);
}

/* A SIGBUS that is no window's keeps its default action. */
static void test_sigbus_from_elsewhere_keeps_its_default_action(void **state)
{
    (void)state;
    if (group_mode != SF_RANGE_READ_AUTO)
        skip();
    char out[256];
    int status = in_child(raise_sigbus_after_a_mapping, out, sizeof out);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGBUS)
        fail_msg("status %d, stderr: %s", status, out);
    assert_null(strstr(out, "cannot read byte"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_file_yields_no_lines),
        cmocka_unit_test(test_only_blank_lines_are_returned_as_empty_lines),
        cmocka_unit_test(test_blank_lines_between_lines_all_cuts),
        cmocka_unit_test(test_no_final_newline_all_cuts),
        cmocka_unit_test(test_crlf_strips_exactly_one_carriage_return),
        cmocka_unit_test(test_bom_is_skipped_and_first_offset_is_three),
        cmocka_unit_test(test_bom_counts_only_for_the_range_at_zero),
        cmocka_unit_test(test_bom_after_offset_zero_is_data),
        cmocka_unit_test(test_newline_at_last_byte_of_range_leaves_next_line_to_next_range),
        cmocka_unit_test(test_newline_at_range_end_byte_is_read_past_end),
        cmocka_unit_test(test_line_longer_than_chunk_all_cuts),
        cmocka_unit_test(test_line_longer_than_buffer_grows_the_buffer),
        cmocka_unit_test(test_spare_buffer_passes_to_the_next_reader_of_its_size),
        cmocka_unit_test(test_spare_keeps_the_open_file_for_the_same_path),
        cmocka_unit_test(test_line_longer_than_max_line_is_reported_and_skipped),
        cmocka_unit_test(test_line_of_exactly_max_line_bytes_with_crlf_is_accepted),
        cmocka_unit_test(test_range_past_end_of_file_is_empty),
        cmocka_unit_test(test_missing_file_is_io_error_naming_it),
        cmocka_unit_test(test_read_error_is_io_error_naming_file_and_reason),
        cmocka_unit_test(test_close_null_is_noop),
        cmocka_unit_test(test_random_files_random_cuts_small_buffer),
        cmocka_unit_test(test_random_files_across_windows),
        cmocka_unit_test(test_large_files_across_huge_page_boundaries),
        cmocka_unit_test(test_regular_file_is_read_through_a_mapping_by_default),
        cmocka_unit_test(test_file_made_shorter_under_a_mapping_ends_the_process_naming_it),
        cmocka_unit_test(test_sigbus_from_elsewhere_keeps_its_default_action),
    };
    group_mode = SF_RANGE_READ_PREAD;
    int failed = cmocka_run_group_tests_name("pread", tests, setup, teardown);
    group_mode = SF_RANGE_READ_AUTO;
    failed += cmocka_run_group_tests_name("mapped", tests, setup, teardown);
    return failed;
}

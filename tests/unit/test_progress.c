/* test_progress.c - mpi/progress.h: the text of a progress line, the mode
 * picked from the options, and what reaches stderr in each mode (in place
 * with "\r" on a terminal, one line per update otherwise). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "mpi/progress.h"

static void test_line_has_done_total_rate_and_eta(void **state)
{
    (void)state;
    char b[160];
    /* 74.6 of 114.1 MB at 14.8 MB/s: 39.5 MB left is 2.7 s. */
    size_t n = sf_progress_format(b, sizeof b, "run: scan", NULL, 74600000, 114100000,
                                  74.6 / 14.8, 0);
    assert_string_equal(b, "run: scan: 74.6 / 114.1 MB (65%)  14.8 MB/s  ETA 3 s");
    assert_int_equal(n, strlen(b));
}

static void test_no_eta_before_a_rate_or_without_a_total(void **state)
{
    (void)state;
    char b[160];
    sf_progress_format(b, sizeof b, "run: shuffle", NULL, 0, 5000000, 0, 0);
    assert_string_equal(b, "run: shuffle: 0.0 / 5.0 MB (0%)  0.0 MB/s");
    sf_progress_format(b, sizeof b, "x", NULL, 3000000, 0, 2, 0);
    assert_string_equal(b, "x: 3.0 MB  1.5 MB/s");
}

static void test_done_past_total_is_capped_and_long_eta_in_minutes(void **state)
{
    (void)state;
    char b[160];
    sf_progress_format(b, sizeof b, "s", NULL, 9000000, 4000000, 1, 0);
    assert_string_equal(b, "s: 4.0 / 4.0 MB (100%)  4.0 MB/s  ETA 0 s");
    sf_progress_format(b, sizeof b, "s", NULL, 1000000, 1001000000, 1, 0);
    assert_string_equal(b, "s: 1.0 / 1001.0 MB (0%)  1.0 MB/s  ETA 17 min");
    char small[8];
    size_t n = sf_progress_format(small, sizeof small, "run: scan", NULL, 1, 2, 1, 0);
    assert_int_equal(n, 7);
    assert_int_equal(strlen(small), 7);
}

static void test_final_line_says_time_and_rate(void **state)
{
    (void)state;
    char b[160];
    sf_progress_format(b, sizeof b, "flatten: pass 2/2 write", NULL, 20000000, 20000000, 4, 1);
    assert_string_equal(b, "flatten: pass 2/2 write: 20.0 MB in 4.0 s (5.0 MB/s)");
}

static void test_a_row_count_says_rows(void **state)
{
    (void)state;
    char b[160];
    sf_progress_format(b, sizeof b, "run: write", "rows", 1200000, 4100000, 2, 0);
    assert_string_equal(b, "run: write: 1200000 / 4100000 rows (29%)  600000 rows/s  ETA 5 s");
    sf_progress_format(b, sizeof b, "run: write", "rows", 1240, 1240, 0.5, 1);
    assert_string_equal(b, "run: write: 1240 rows in 0.5 s (2480 rows/s)");
    sf_progress p;
    sf_progress_init(&p, SF_PROGRESS_LINES, "run: write");
    assert_string_equal(p.unit, "MB");
    sf_progress_count_rows(&p);
    assert_string_equal(p.unit, "rows");
}

static void test_pick_follows_the_options(void **state)
{
    (void)state;
    assert_int_equal(sf_progress_pick(1, 1), SF_PROGRESS_OFF);  /* not rank 0 */
    assert_int_equal(sf_progress_pick(-1, 3), SF_PROGRESS_OFF);
    assert_int_equal(sf_progress_pick(0, 0), SF_PROGRESS_OFF);  /* --no-progress */
    if (sf_progress_stderr_is_terminal()) {
        assert_int_equal(sf_progress_pick(-1, 0), SF_PROGRESS_TTY);
        assert_int_equal(sf_progress_pick(1, 0), SF_PROGRESS_TTY);
    } else {
        /* Under ctest stderr is a pipe and the parent is no launcher. */
        assert_int_equal(sf_progress_pick(-1, 0), SF_PROGRESS_OFF);
        assert_int_equal(sf_progress_pick(1, 0), SF_PROGRESS_LINES);
    }
}

/* Runs updates of done bytes and an end in mode with stderr sent to a
 * file; returns what was written (static buffer). */
static const char *capture(sf_progress_mode mode, const uint64_t *done, int n, uint64_t end)
{
    static char out[2048];
    char path[] = "/tmp/sf_test_progress_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    setenv("SHARDFLOW_PROGRESS_INTERVAL", "0", 1);
    sf_progress p;
    sf_progress_init(&p, mode, "run: scan");
    sf_progress_start(&p, 10000000);
    for (int i = 0; i < n; i++)
        sf_progress_update(&p, done[i]);
    sf_progress_end(&p, end);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    unsetenv("SHARDFLOW_PROGRESS_INTERVAL");
    ssize_t len = pread(fd, out, sizeof out - 1, 0);
    close(fd);
    unlink(path);
    out[len > 0 ? len : 0] = '\0';
    return out;
}

static void test_terminal_rewrites_one_line_and_clears_it(void **state)
{
    (void)state;
    uint64_t done[] = {5000000, 10000000};
    const char *s = capture(SF_PROGRESS_TTY, done, 2, 10000000);
    assert_null(strchr(s, '\n'));
    assert_memory_equal(s, "\rrun: scan: 5.0 / 10.0 MB (50%)", 31);
    const char *second = strstr(s + 1, "\rrun: scan: 10.0 / 10.0 MB (100%)");
    assert_non_null(second);
    /* The end: "\r", blanks over the last text, "\r". */
    const char *last = strrchr(s, '\r');
    assert_string_equal(last, "\r");
    const char *clear = last - 1;
    while (clear > s && *clear == ' ')
        clear--;
    assert_true(*clear == '\r');
    assert_int_equal((size_t)(last - clear - 1), strlen(second + 1) - strlen(clear));
}

static void test_lines_mode_writes_a_line_per_update_and_a_final_one(void **state)
{
    (void)state;
    uint64_t done[] = {2500000, 7500000};
    const char *s = capture(SF_PROGRESS_LINES, done, 2, 10000000);
    assert_null(strchr(s, '\r'));
    const char *l2 = strchr(s, '\n') + 1, *l3 = strchr(l2, '\n') + 1;
    assert_memory_equal(s, "run: scan: 2.5 / 10.0 MB (25%)", 30);
    assert_memory_equal(l2, "run: scan: 7.5 / 10.0 MB (75%)", 30);
    assert_memory_equal(l3, "run: scan: 10.0 MB in ", 22);
    assert_int_equal(strchr(l3, '\n')[1], '\0');
}

static void test_off_writes_nothing(void **state)
{
    (void)state;
    uint64_t done[] = {1, 2};
    assert_string_equal(capture(SF_PROGRESS_OFF, done, 2, 3), "");
    sf_progress_update(NULL, 1);
    sf_progress_end(NULL, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_has_done_total_rate_and_eta),
        cmocka_unit_test(test_no_eta_before_a_rate_or_without_a_total),
        cmocka_unit_test(test_done_past_total_is_capped_and_long_eta_in_minutes),
        cmocka_unit_test(test_final_line_says_time_and_rate),
        cmocka_unit_test(test_a_row_count_says_rows),
        cmocka_unit_test(test_pick_follows_the_options),
        cmocka_unit_test(test_terminal_rewrites_one_line_and_clears_it),
        cmocka_unit_test(test_lines_mode_writes_a_line_per_update_and_a_final_one),
        cmocka_unit_test(test_off_writes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

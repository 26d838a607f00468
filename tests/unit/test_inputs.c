/* test_inputs.c - unit tests of io/inputs: which paths are streams (read
 * once, by rank 0) and how they are listed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/inputs.h"

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/sf_in_XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char p[512];
    snprintf(p, sizeof p, "%s/fifo", tmpdir);
    unlink(p);
    snprintf(p, sizeof p, "%s/a.jsonl", tmpdir);
    unlink(p);
    return rmdir(tmpdir);
}

static void test_dash_fifo_and_devices_are_streams_files_are_not(void **state)
{
    (void)state;
    char fifo[512], file[512];
    snprintf(fifo, sizeof fifo, "%s/fifo", tmpdir);
    snprintf(file, sizeof file, "%s/a.jsonl", tmpdir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fputs("{}\n", fp);
    fclose(fp);
    assert_int_equal(sf_inputs_is_stream("-"), 1);
    assert_int_equal(sf_inputs_is_stream(fifo), 1);
    assert_int_equal(sf_inputs_is_stream("/dev/null"), 1); /* a character device */
    assert_int_equal(sf_inputs_is_stream(file), 0);
    assert_int_equal(sf_inputs_is_stream(tmpdir), 0);
    char missing[600];
    snprintf(missing, sizeof missing, "%s/none", tmpdir);
    assert_int_equal(sf_inputs_is_stream(missing), 0);
}

static void test_a_fifo_is_listed_without_being_opened(void **state)
{
    (void)state;
    char fifo[512];
    snprintf(fifo, sizeof fifo, "%s/fifo", tmpdir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    /* Opening a FIFO with no writer would block: the test would hang. */
    sf_input_files in;
    sf_error err;
    assert_int_equal(sf_inputs_expand("events", fifo, &in, &err), 0);
    assert_int_equal(in.n, 1);
    assert_string_equal(in.paths[0], fifo);
    assert_int_equal(in.streamed[0], 1);
    assert_true(in.sizes[0] == 0);
    sf_inputs_free(&in);
    assert_int_equal(sf_inputs_expand("events", "-", &in, &err), 0);
    assert_int_equal(in.n, 1);
    assert_int_equal(in.streamed[0], 1);
    sf_inputs_free(&in);
}

static void test_a_regular_file_is_not_streamed(void **state)
{
    (void)state;
    char file[512];
    snprintf(file, sizeof file, "%s/a.jsonl", tmpdir);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fputs("{\"a\":1}\n", fp);
    fclose(fp);
    sf_input_files in;
    sf_error err;
    assert_int_equal(sf_inputs_expand("events", file, &in, &err), 0);
    assert_int_equal(in.n, 1);
    assert_int_equal(in.streamed[0], 0);
    assert_true(in.sizes[0] == 8);
    sf_inputs_free(&in);
}

static void test_a_process_substitution_that_is_gone_says_what_to_do(void **state)
{
    (void)state;
    sf_input_files in;
    sf_error err;
    assert_int_equal(sf_inputs_expand("events", "/dev/fd/987", &in, &err), SF_E_NOTFOUND);
    assert_non_null(strstr(err.msg, "process substitution"));
    assert_non_null(strstr(err.msg, "--input events=-"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dash_fifo_and_devices_are_streams_files_are_not,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_fifo_is_listed_without_being_opened, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_a_regular_file_is_not_streamed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_process_substitution_that_is_gone_says_what_to_do,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

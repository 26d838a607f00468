/* test_manifest.c - io/manifest.h: the pieces every manifest is built
 * from, and reading output.columns / output.sort_by back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "io/manifest.h"

static void assert_buf(const sf_buf *b, const char *want)
{
    assert_int_equal(b->n, strlen(want));
    assert_memory_equal(b->p, want, b->n);
}

static void test_files_are_sorted_and_listed(void **state)
{
    (void)state;
    sf_out_file *f = NULL;
    size_t n = 0;
    assert_int_equal(sf_out_files_add(&f, &n, "b/part-00000.csv", 2, 20), 0);
    assert_int_equal(sf_out_files_add(&f, &n, "a/part-00000.csv", 1, 10), 0);
    sf_out_files_sort(f, n);
    sf_buf m = SF_BUF_INIT;
    assert_int_equal(sf_manifest_files(&m, f, n, "R1"), 0);
    assert_buf(&m, "[\n    {\"path\": \"a/part-00000.csv\", \"rows\": 1, \"bytes\": 10, "
                   "\"run_id\": \"R1\"},"
                   "\n    {\"path\": \"b/part-00000.csv\", \"rows\": 2, \"bytes\": 20, "
                   "\"run_id\": \"R1\"}\n  ]");
    sf_buf_free(&m);
    free(f);
}

static void test_reasons_list_only_nonzero_counts(void **state)
{
    (void)state;
    uint64_t counts[SF_REJ_NREASONS] = {0};
    sf_buf m = SF_BUF_INIT;
    assert_int_equal(sf_manifest_reasons(&m, counts), 0);
    assert_buf(&m, "{}");
    counts[SF_REJ_INVALID_JSON] = 3;
    counts[SF_REJ_LINE_TOO_LONG] = 1;
    m.n = 0;
    assert_int_equal(sf_manifest_reasons(&m, counts), 0);
    assert_buf(&m, "{\"invalid JSON\": 3, \"line too long\": 1}");
    sf_buf_free(&m);
}

static void test_strings_and_numbers(void **state)
{
    (void)state;
    const char *v[2] = {"a\"b", "c"};
    uint64_t u[3] = {1, 22, 333};
    sf_buf m = SF_BUF_INIT;
    assert_int_equal(sf_manifest_strings(&m, v, 2), 0);
    assert_int_equal(sf_manifest_u64s(&m, u, 3), 0);
    assert_buf(&m, "[\"a\\\"b\", \"c\"]1, 22, 333");
    sf_buf_free(&m);
}

static void test_begin_writes_the_common_head(void **state)
{
    (void)state;
    sf_buf m = SF_BUF_INIT;
    assert_int_equal(sf_manifest_begin(&m, "job", "daily \"kpi\"", "20250801T120000-42", 3,
                                       "static"), 0);
    assert_buf(&m, "{\n  \"shardflow_version\": \"" SF_VERSION "\",\n  \"job\": "
                   "\"daily \\\"kpi\\\"\",\n  \"run_id\": \"20250801T120000-42\",\n"
                   "  \"ranks\": 3,\n  \"schedule\": \"static\"");
    sf_buf_free(&m);
}

static void write_manifest(const char *dir, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/_MANIFEST.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_read_columns_gives_names_types_and_sort(void **state)
{
    (void)state;
    char dir[] = "/tmp/sf_manifest_XXXXXX";
    assert_non_null(mkdtemp(dir));
    write_manifest(dir, "{\"output\": {\"columns\": [{\"name\": \"country\", \"type\": \"string\"},"
                        " {\"name\": \"revenue\", \"type\": \"double\"}],"
                        " \"sort_by\": [\"country\", 7]}}");
    sf_manifest_columns c;
    assert_int_equal(sf_manifest_read_columns(dir, &c), 1);
    assert_int_equal(c.ncols, 2);
    assert_string_equal(c.names[0], "country");
    assert_int_equal(c.types[1], SF_DOUBLE);
    assert_int_equal(c.nsort, 2);
    assert_string_equal(c.sort_by[0], "country");
    assert_null(c.sort_by[1]); /* not a string: matches nothing */
    sf_manifest_columns_free(&c);
    assert_int_equal(c.ncols, 0);

    write_manifest(dir, "{\"output\": {\"columns\": [{\"name\": \"x\", \"type\": \"blob\"}],"
                        " \"sort_by\": []}}");
    assert_int_equal(sf_manifest_read_columns(dir, &c), 0); /* unknown type */
    assert_null(c.names);
    char path[512];
    snprintf(path, sizeof path, "%s/_MANIFEST.json", dir);
    unlink(path);
    assert_int_equal(sf_manifest_read_columns(dir, &c), 0); /* no manifest */
    rmdir(dir);
}

static void test_read_columns_gives_sort_directions(void **state)
{
    (void)state;
    char dir[] = "/tmp/sf_manifest_XXXXXX";
    assert_non_null(mkdtemp(dir));
    write_manifest(dir, "{\"output\": {\"columns\": [{\"name\": \"country\", "
                        "\"type\": \"string\"}, {\"name\": \"revenue\", \"type\": "
                        "\"double\"}], \"sort_by\": [\"revenue desc\", \"country asc\", "
                        "\"x\"]}}");
    sf_manifest_columns c;
    assert_int_equal(sf_manifest_read_columns(dir, &c), 1);
    assert_int_equal(c.nsort, 3);
    assert_string_equal(c.sort_by[0], "revenue");
    assert_int_equal(c.sort_desc[0], 1);
    assert_string_equal(c.sort_by[1], "country");
    assert_int_equal(c.sort_desc[1], 0);
    assert_string_equal(c.sort_by[2], "x");
    assert_int_equal(c.sort_desc[2], 0);
    sf_manifest_columns_free(&c);
    char path[512];
    snprintf(path, sizeof path, "%s/_MANIFEST.json", dir);
    unlink(path);
    rmdir(dir);
}

static void test_read_runs_lists_the_runs_of_an_output(void **state)
{
    (void)state;
    char dir[] = "/tmp/sf_manifest_XXXXXX";
    assert_non_null(mkdtemp(dir));
    sf_manifest_run *runs = NULL;
    size_t n = 7;
    sf_error err;
    assert_int_equal(sf_manifest_read_runs(dir, &runs, &n, &err), SF_E_NOTFOUND);
    assert_int_equal(n, 0);
    /* Files grouped by run in order of first appearance. */
    write_manifest(dir, "{\"run_id\": \"B\", \"files\": ["
                        "{\"path\": \"d=1/p.csv\", \"rows\": 3, \"bytes\": 9, "
                        "\"run_id\": \"A\"},"
                        "{\"path\": \"d=2/p.csv\", \"rows\": 4, \"bytes\": 9, "
                        "\"run_id\": \"B\"},"
                        "{\"path\": \"d=3/p.csv\", \"rows\": 5, \"bytes\": 9, "
                        "\"run_id\": \"A\"}]}");
    assert_int_equal(sf_manifest_read_runs(dir, &runs, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(runs[0].run_id, "A");
    assert_int_equal(runs[0].files, 2);
    assert_int_equal(runs[0].rows, 8);
    assert_string_equal(runs[1].run_id, "B");
    assert_int_equal(runs[1].rows, 4);
    free(runs);
    write_manifest(dir, "not json");
    assert_int_equal(sf_manifest_read_runs(dir, &runs, &n, &err), SF_E_PARSE);
    assert_non_null(strstr(err.msg, "_MANIFEST.json")); /* names the file */
    char path[512];
    snprintf(path, sizeof path, "%s/_MANIFEST.json", dir);
    unlink(path);
    rmdir(dir);
}

static void test_read_counts_gives_rows_rejects_by_reason_and_bad_records(void **state)
{
    (void)state;
    char dir[] = "/tmp/sf_manifest_XXXXXX";
    assert_non_null(mkdtemp(dir));
    sf_manifest_counts c;
    assert_int_equal(sf_manifest_read_counts(dir, &c), 0); /* no manifest */
    write_manifest(dir, "{\"mode\": \"permissive\", \"bad_records\": 5, \"counts\": {"
                        "\"lines_read\": 100, \"rows_rejected\": 5, \"output_rows\": 42,"
                        " \"rejected_by_reason\": {\"invalid JSON\": 3, \"type\": 2}}}");
    assert_int_equal(sf_manifest_read_counts(dir, &c), 1);
    assert_int_equal(c.lines_read, 100);
    assert_int_equal(c.rows_rejected, 5);
    assert_int_equal(c.output_rows, 42);
    assert_int_equal(c.bad_records, 5);
    assert_string_equal(c.mode, "permissive");
    assert_int_equal(c.nreasons, 2);
    assert_string_equal(c.reason[0], "invalid JSON");
    assert_int_equal(c.reason_count[0], 3);
    assert_string_equal(c.reason[1], "type");
    assert_int_equal(c.reason_count[1], 2);
    assert_false(c.has_duplicates);
    write_manifest(dir, "{\"counts\": {\"lines_read\": 9, \"duplicates_dropped\": 4}}");
    assert_int_equal(sf_manifest_read_counts(dir, &c), 1);
    assert_true(c.has_duplicates);
    assert_int_equal(c.duplicates_dropped, 4);
    /* Missing fields read as zero; no counts object is no answer. */
    write_manifest(dir, "{\"counts\": {\"lines_read\": 7}}");
    assert_int_equal(sf_manifest_read_counts(dir, &c), 1);
    assert_int_equal(c.lines_read, 7);
    assert_int_equal(c.nreasons, 0);
    assert_int_equal(c.bad_records, 0);
    assert_string_equal(c.mode, "");
    write_manifest(dir, "{\"files\": []}");
    assert_int_equal(sf_manifest_read_counts(dir, &c), 0);
    char path[512];
    snprintf(path, sizeof path, "%s/_MANIFEST.json", dir);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_files_are_sorted_and_listed),
        cmocka_unit_test(test_reasons_list_only_nonzero_counts),
        cmocka_unit_test(test_strings_and_numbers),
        cmocka_unit_test(test_begin_writes_the_common_head),
        cmocka_unit_test(test_read_columns_gives_names_types_and_sort),
        cmocka_unit_test(test_read_columns_gives_sort_directions),
        cmocka_unit_test(test_read_runs_lists_the_runs_of_an_output),
        cmocka_unit_test(test_read_counts_gives_rows_rejects_by_reason_and_bad_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

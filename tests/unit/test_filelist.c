/* test_filelist.c - the manifest's file list across runs (io/filelist.h):
 * reading a manifest's list, run-unique names, merges for append and
 * overwrite-partitions, and the merged manifest's "files" and "runs". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/error.h"
#include "io/filelist.h"

static void test_unique_name_goes_before_the_extension(void **state)
{
    (void)state;
    char out[128];
    assert_int_equal(sf_filelist_unique_name("date=x/part-00000.csv", "R1", out, sizeof out), 0);
    assert_string_equal(out, "date=x/part-00000-R1.csv");
    assert_int_equal(sf_filelist_unique_name("a.b/part", "R1", out, sizeof out), 0);
    assert_string_equal(out, "a.b/part-R1");
    assert_int_equal(sf_filelist_unique_name("output.h5", "R1", out, sizeof out), 0);
    assert_string_equal(out, "output-R1.h5");
    assert_int_equal(sf_filelist_unique_name("d=1/part-00000.csv.gz", "R1", out, sizeof out), 0);
    assert_string_equal(out, "d=1/part-00000-R1.csv.gz");
    assert_int_equal(sf_filelist_unique_name("part-00000.csv.zst", "R1", out, sizeof out), 0);
    assert_string_equal(out, "part-00000-R1.csv.zst");
    assert_int_equal(sf_filelist_unique_name("x.gz", "R1", out, sizeof out), 0);
    assert_string_equal(out, "x-R1.gz");
    assert_int_equal(sf_filelist_unique_name("output.h5", "R1", out, 8), SF_E_RANGE);
}

static void test_entries_without_run_id_take_the_manifests(void **state)
{
    (void)state;
    const char *m = "{\"run_id\": \"top\", \"files\": [{\"path\": \"a/p.csv\", \"rows\": 2, "
                    "\"bytes\": 9}, {\"path\": \"b/p.csv\", \"rows\": 1, \"bytes\": 3, "
                    "\"run_id\": \"older\"}]}";
    sf_filelist fl = SF_FILELIST_INIT;
    sf_error err;
    assert_int_equal(sf_filelist_from_manifest(m, strlen(m), &fl, &err), 0);
    assert_int_equal(fl.n, 2);
    assert_string_equal(fl.v[0].run_id, "top");
    assert_int_equal(fl.v[0].rows, 2);
    assert_int_equal(fl.v[0].bytes, 9);
    assert_string_equal(fl.v[1].run_id, "older");
    sf_filelist_free(&fl);
    sf_filelist_free(&fl);
    sf_filelist_free(NULL);
}

static void test_malformed_entries_are_parse_errors(void **state)
{
    (void)state;
    const char *bad[] = {"[1]", "{\"files\": 3}", "{\"files\": [{\"path\": \"a\"}]}",
                         "{\"files\": [{\"path\": \"a\", \"rows\": -1, \"bytes\": 0}]}", "{"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sf_filelist fl = SF_FILELIST_INIT;
        sf_error err;
        assert_int_equal(sf_filelist_from_manifest(bad[i], strlen(bad[i]), &fl, &err),
                         SF_E_PARSE);
        sf_filelist_free(&fl);
    }
}

static void list(sf_filelist *fl, const char *const *paths, const char *run)
{
    for (size_t i = 0; paths[i]; i++)
        assert_int_equal(sf_filelist_add(fl, paths[i], i + 1, 10, run), 0);
}

static void test_replace_partitions_drops_only_rewritten_directories(void **state)
{
    (void)state;
    const char *old[] = {"date=1/c=a/p.csv", "date=1/c=b/p.csv", "date=2/c=a/p.csv",
                         "_bad_records/p.jsonl", NULL};
    const char *neu[] = {"date=1/c=a/p.csv", "date=3/c=a/p.csv", NULL};
    sf_filelist prev = SF_FILELIST_INIT, next = SF_FILELIST_INIT, out = SF_FILELIST_INIT;
    list(&prev, old, "r0");
    list(&next, neu, "r1");
    size_t kept = 0, dropped = 0;
    sf_error err;
    assert_int_equal(sf_filelist_merge(&prev, &next, SF_MERGE_REPLACE_PARTITIONS, &out, &kept,
                                       &dropped, &err), 0);
    assert_int_equal(kept, 3);
    assert_int_equal(dropped, 1);
    const char *want[][2] = {{"_bad_records/p.jsonl", "r0"}, {"date=1/c=a/p.csv", "r1"},
                             {"date=1/c=b/p.csv", "r0"}, {"date=2/c=a/p.csv", "r0"},
                             {"date=3/c=a/p.csv", "r1"}};
    assert_int_equal(out.n, 5);
    for (size_t i = 0; i < 5; i++) {
        assert_string_equal(out.v[i].path, want[i][0]);
        assert_string_equal(out.v[i].run_id, want[i][1]);
    }
    sf_filelist_free(&prev);
    sf_filelist_free(&next);
    sf_filelist_free(&out);
}

static void test_append_refuses_a_path_already_in_the_output(void **state)
{
    (void)state;
    const char *old[] = {"d/p.csv", NULL};
    sf_filelist prev = SF_FILELIST_INIT, next = SF_FILELIST_INIT, out = SF_FILELIST_INIT;
    list(&prev, old, "r0");
    list(&next, old, "r1");
    sf_error err;
    assert_int_equal(sf_filelist_merge(&prev, &next, SF_MERGE_APPEND, &out, NULL, NULL, &err),
                     SF_E_EXISTS);
    assert_non_null(strstr(err.msg, "'d/p.csv' is in the output already (written by run r0)"));
    sf_filelist_free(&prev);
    sf_filelist_free(&next);
    sf_filelist_free(&out);
}

static void test_manifest_merge_keeps_the_new_fields_and_lists_the_runs(void **state)
{
    (void)state;
    const char *prev = "{\"run_id\": \"r0\", \"counts\": {\"x\": 1}, \"files\": ["
                       "{\"path\": \"d=1/p.csv\", \"rows\": 4, \"bytes\": 40},"
                       "{\"path\": \"d=2/p.csv\", \"rows\": 6, \"bytes\": 60}]}";
    const char *next = "{\"run_id\": \"r1\", \"counts\": {\"x\": 2}, \"wall_seconds\": 0.5, "
                       "\"files\": [{\"path\": \"d=2/p.csv\", \"rows\": 1, \"bytes\": 10}]}";
    char *out = NULL;
    size_t len = 0;
    sf_merge_stats ms;
    sf_error err;
    assert_int_equal(sf_manifest_merge(prev, strlen(prev), next, strlen(next), "r1",
                                       "overwrite-partitions", SF_MERGE_REPLACE_PARTITIONS,
                                       &out, &len, &ms, &err), 0);
    assert_int_equal(len, strlen(out));
    assert_int_equal(ms.files_total, 2);
    assert_int_equal(ms.rows_total, 5);
    assert_int_equal(ms.runs, 2);
    json_error_t je;
    json_t *m = json_loads(out, 0, &je);
    assert_non_null(m);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(m, "counts"), "x")), 2);
    assert_true(json_real_value(json_object_get(m, "wall_seconds")) == 0.5);
    assert_string_equal(json_string_value(json_object_get(m, "write_mode")),
                        "overwrite-partitions");
    json_t *runs = json_object_get(m, "runs");
    assert_int_equal(json_array_size(runs), 2);
    json_t *r0 = json_array_get(runs, 0), *r1 = json_array_get(runs, 1);
    assert_string_equal(json_string_value(json_object_get(r0, "run_id")), "r0");
    assert_int_equal(json_integer_value(json_object_get(r0, "files")), 1);
    assert_int_equal(json_integer_value(json_object_get(r0, "rows")), 4);
    assert_string_equal(json_string_value(json_object_get(r1, "run_id")), "r1");
    assert_int_equal(json_integer_value(json_object_get(r1, "rows")), 1);
    json_decref(m);
    free(out);

    /* A run that replaced every file of an older one drops it from "runs". */
    const char *all = "{\"files\": [{\"path\": \"d=1/p.csv\", \"rows\": 1, \"bytes\": 1},"
                      "{\"path\": \"d=2/p.csv\", \"rows\": 1, \"bytes\": 1}]}";
    assert_int_equal(sf_manifest_merge(prev, strlen(prev), all, strlen(all), "r2",
                                       "overwrite-partitions", SF_MERGE_REPLACE_PARTITIONS,
                                       &out, &len, &ms, &err), 0);
    assert_int_equal(ms.runs, 1);
    assert_int_equal(ms.files_dropped, 2);
    free(out);
}

static void test_runs_come_from_runs_or_from_the_files(void **state)
{
    (void)state;
    sf_manifest_run *runs = NULL;
    size_t n = 0;
    sf_error err;
    const char *merged = "{\"runs\": [{\"run_id\": \"a\", \"write_mode\": \"error\", "
                         "\"files\": 3, \"rows\": 30}, {\"run_id\": \"b\", \"write_mode\": "
                         "\"append\", \"files\": 1, \"rows\": 5}]}";
    assert_int_equal(sf_manifest_runs(merged, strlen(merged), &runs, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(runs[1].run_id, "b");
    assert_string_equal(runs[1].write_mode, "append");
    assert_int_equal(runs[0].files, 3);
    assert_int_equal(runs[0].rows, 30);
    free(runs);
    const char *one = "{\"run_id\": \"r\", \"files\": [{\"path\": \"p\", \"rows\": 2, "
                      "\"bytes\": 1, \"run_id\": \"r\"}, {\"path\": \"q\", \"rows\": 3, "
                      "\"bytes\": 1, \"run_id\": \"r\"}]}";
    assert_int_equal(sf_manifest_runs(one, strlen(one), &runs, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(runs[0].run_id, "r");
    assert_int_equal(runs[0].files, 2);
    assert_int_equal(runs[0].rows, 5);
    assert_string_equal(runs[0].write_mode, "");
    free(runs);
    const char *empty = "{\"run_id\": \"solo\", \"files\": []}";
    assert_int_equal(sf_manifest_runs(empty, strlen(empty), &runs, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(runs[0].run_id, "solo");
    free(runs);
    assert_int_equal(sf_manifest_runs("nope", 4, &runs, &n, &err), SF_E_PARSE);
    assert_null(runs);
}

static void test_merge_refuses_an_output_of_another_shape(void **state)
{
    (void)state;
    const char *prev = "{\"output\": {\"format\": \"csv\", \"columns\": [{\"name\": \"a\", "
                       "\"type\": \"int64\"}, {\"name\": \"b\", \"type\": \"string\"}]}, "
                       "\"files\": []}";
    const char *swapped = "{\"output\": {\"format\": \"csv\", \"columns\": [{\"name\": "
                          "\"b\", \"type\": \"string\"}, {\"name\": \"a\", \"type\": "
                          "\"int64\"}]}, \"files\": []}";
    const char *h5 = "{\"output\": {\"format\": \"hdf5\"}, \"files\": []}";
    const char *same = "{\"output\": {\"format\": \"csv\", \"columns\": [{\"name\": \"a\", "
                       "\"type\": \"int64\"}, {\"name\": \"b\", \"type\": \"string\"}]}, "
                       "\"files\": []}";
    char *out = NULL;
    size_t len;
    sf_error err;
    assert_int_equal(sf_manifest_merge(prev, strlen(prev), swapped, strlen(swapped), "r",
                                       "append", SF_MERGE_APPEND, &out, &len, NULL, &err),
                     SF_E_INVAL);
    assert_null(out);
    assert_non_null(strstr(err.msg, "--write-mode append: the new output has columns "
                                    "[{\"name\":\"b\""));
    assert_int_equal(sf_manifest_merge(prev, strlen(prev), h5, strlen(h5), "r", "append",
                                       SF_MERGE_APPEND, &out, &len, NULL, &err), SF_E_INVAL);
    assert_non_null(strstr(err.msg, "the new output has format \"hdf5\", the existing output \"csv\""));
    assert_int_equal(sf_manifest_merge(prev, strlen(prev), same, strlen(same), "r", "append",
                                       SF_MERGE_APPEND, &out, &len, NULL, &err), 0);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unique_name_goes_before_the_extension),
        cmocka_unit_test(test_entries_without_run_id_take_the_manifests),
        cmocka_unit_test(test_malformed_entries_are_parse_errors),
        cmocka_unit_test(test_replace_partitions_drops_only_rewritten_directories),
        cmocka_unit_test(test_append_refuses_a_path_already_in_the_output),
        cmocka_unit_test(test_manifest_merge_keeps_the_new_fields_and_lists_the_runs),
        cmocka_unit_test(test_runs_come_from_runs_or_from_the_files),
        cmocka_unit_test(test_merge_refuses_an_output_of_another_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_dataset.c - io/dataset.h: the sources of an output directory
 * (part files in partition then name order, '_' and '.' entries skipped)
 * and a CSV table opened on its header. */
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

#include "io/dataset.h"
#include "io/fsutil.h"

static void put(const char *dir, const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    sf_error err;
    assert_int_equal(sf_mkdirs(path, &err), 0);
    *slash = '/';
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_sources_are_sorted_and_skip_underscore_entries(void **state)
{
    (void)state;
    char dir[] = "/tmp/sf_dataset_XXXXXX";
    assert_non_null(mkdtemp(dir));
    put(dir, "date=2025-08-02/part-00000.csv", "a,b\n1,x\n");
    put(dir, "date=2025-08-01/part-00001.csv", "a,b\n2,y\n");
    put(dir, "date=2025-08-01/part-00000.csv", "a,b\n3,z\n");
    put(dir, "_SUCCESS", "");
    put(dir, "_temporary/x/part-00000.csv", "a,b\n");
    put(dir, ".hidden", "");
    sf_dataset o;
    memset(&o, 0, sizeof o);
    sf_error err;
    assert_int_equal(sf_dataset_open(&o, dir, &err), 0);
    assert_true(o.is_dir);
    assert_int_equal(o.n, 3);
    assert_string_equal(o.s[0].part, "date=2025-08-01");
    assert_non_null(strstr(o.s[0].file, "part-00000.csv"));
    assert_non_null(strstr(o.s[1].file, "part-00001.csv"));
    assert_string_equal(o.s[2].part, "date=2025-08-02");
    assert_int_equal(o.s[0].kind, SRC_CSV);

    sf_dataset_table t;
    assert_int_equal(sf_dataset_table_open(&t, &o.s[2], &err), 0);
    assert_int_equal(t.ncols, 2);
    assert_string_equal(t.cols[0], "a");
    assert_string_equal(t.cols[1], "b");
    const sf_csv_field *f;
    size_t nf;
    assert_int_equal(sf_csv_reader_next(t.csv, &f, &nf, &err), 1);
    assert_int_equal(nf, 2);
    assert_memory_equal(f[0].p, "1", 1);
    sf_dataset_table_close(&t);
    sf_dataset_free(&o);
    assert_int_equal(sf_rmtree(dir, &err), 0);
}

static void test_missing_path_is_not_found(void **state)
{
    (void)state;
    sf_dataset o;
    memset(&o, 0, sizeof o);
    sf_error err;
    assert_int_equal(sf_dataset_open(&o, "/nonexistent/sf_dataset", &err), SF_E_NOTFOUND);
    sf_dataset_free(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sources_are_sorted_and_skip_underscore_entries),
        cmocka_unit_test(test_missing_path_is_not_found),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_verdict.c - cli/verdict.h: ranges of repeats, "faster" only when the
 * ranges do not overlap, and the recommendation line that says why. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "cli/verdict.h"

static void test_range_is_min_median_max(void **state)
{
    (void)state;
    double v[] = {2.21, 0.66, 2.03};
    sf_range r;
    sf_range_of(v, 3, &r);
    assert_true(r.min == 0.66 && r.median == 2.03 && r.max == 2.21);
    double w[] = {4, 1, 3, 2};
    sf_range_of(w, 4, &r);
    assert_true(r.min == 1 && r.median == 2.5 && r.max == 4);
    assert_true(v[0] == 2.21); /* the input is not reordered */
}

static void test_overlapping_ranges_name_no_fastest(void **state)
{
    (void)state;
    /* The case: one combination ran 2.03, 2.21 and 0.66 s; the
     * other has the lower median but its range overlaps. */
    double a[] = {2.03, 2.21, 0.66}, b[] = {1.10, 1.20, 1.30};
    sf_range r[2];
    sf_range_of(a, 3, &r[0]);
    sf_range_of(b, 3, &r[1]);
    assert_int_equal(sf_verdict_fastest(r, 2), -1);

    const char *names[] = {"before-aggregate/local", "before-aggregate/coalesce=1"};
    double mb[] = {27.0, 4.5}, share[] = {0.8, 0.7};
    char line[512];
    sf_verdict_line(line, sizeof line, names, r, mb, share, 2, NULL);
    assert_non_null(strstr(line, "No clear difference at this size"));
    assert_non_null(strstr(line, "before-aggregate/coalesce=1 moves the least"));
    assert_non_null(strstr(line, "4.50 MB"));
    assert_non_null(strstr(line, "75%")); /* the scan share, averaged */
    assert_null(strstr(line, "Use "));
}

static void test_disjoint_ranges_name_the_fastest(void **state)
{
    (void)state;
    double a[] = {2.0, 2.1, 2.2}, b[] = {1.0, 1.1, 1.9}, c[] = {3.0, 3.5, 4.0};
    sf_range r[3];
    sf_range_of(a, 3, &r[0]);
    sf_range_of(b, 3, &r[1]);
    sf_range_of(c, 3, &r[2]);
    assert_int_equal(sf_verdict_fastest(r, 3), 1);

    const char *names[] = {"x", "y", "z"};
    double mb[] = {10, 2, 30}, share[] = {0.5, 0.5, 0.5};
    char line[512];
    sf_verdict_line(line, sizeof line, names, r, mb, share, 3, NULL);
    assert_non_null(strstr(line, "Use y: faster in every repeat"));
    assert_non_null(strstr(line, "2.000 s at best for x"));
    assert_non_null(strstr(line, "moves 2.00 MB (all combinations: 2.00..30.00 MB)"));
    assert_non_null(strstr(line, "scan is 50%"));
}

static void test_touching_ranges_and_one_combination_are_not_a_verdict(void **state)
{
    (void)state;
    sf_range r[2] = {{1.0, 1.5, 2.0}, {2.0, 2.5, 3.0}};
    assert_int_equal(sf_verdict_fastest(r, 2), -1); /* max == other's min */
    assert_int_equal(sf_verdict_fastest(r, 1), -1);
    r[0].max = 1.99;
    assert_int_equal(sf_verdict_fastest(r, 2), 0);
    char small[8];
    const char *names[] = {"a", "b"};
    double mb[] = {1, 2}, share[] = {0, 0};
    sf_verdict_line(small, sizeof small, names, r, mb, share, 2, NULL);
    assert_int_equal(strlen(small), 7); /* truncated, terminated */
}

static void test_recommendation_names_the_data_shape(void **state)
{
    (void)state;
    double a[] = {1.0, 1.1}, b[] = {1.05, 1.2};
    sf_range r[2];
    sf_range_of(a, 2, &r[0]);
    sf_range_of(b, 2, &r[1]);
    const char *names[] = {"before-aggregate/repartition", "none/repartition"};
    double mb[] = {0.35, 27.0}, share[] = {0.3, 0.3};
    sf_shape few = {1000000, 2480, 1.02};
    char line[1024];
    sf_verdict_line(line, sizeof line, names, r, mb, share, 2, &few);
    /* The verdict first, as without a shape; then the shape and why. */
    assert_memory_equal(line, "No clear difference at this size", 32);
    assert_non_null(strstr(line, "before-aggregate/repartition moves the least (0.35 MB "
                               "against 27.00 MB at most)"));
    assert_non_null(strstr(line, " Data shape: 1000000 rows into 2480 groups (0.25%: a "
                               "combiner shrinks the rows to move), partition skew 1.02 "
                               "(max/mean rows: even)."));
    assert_null(strstr(line, "salt"));
    assert_null(strchr(line, '\n'));
}

static void test_skewed_shape_suggests_salting(void **state)
{
    (void)state;
    double a[] = {1.0, 1.1}, b[] = {2.0, 2.2};
    sf_range r[2];
    sf_range_of(a, 2, &r[0]);
    sf_range_of(b, 2, &r[1]);
    const char *names[] = {"none/salt=4", "none"};
    double mb[] = {30, 28}, share[] = {0.5, 0.5};
    sf_shape hot = {1000000, 900000, 3.25};
    char line[1024];
    sf_verdict_line(line, sizeof line, names, r, mb, share, 2, &hot);
    assert_memory_equal(line, "Use none/salt=4: faster in every repeat", 39);
    assert_non_null(strstr(line, "(90.00%: nearly a group per row, so a combiner barely "
                               "helps), partition skew 3.25 (max/mean rows: skewed keys)."));
    assert_non_null(strstr(line, "Hot keys make one partition 3.2x the mean: try none/salt=K"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_range_is_min_median_max),
        cmocka_unit_test(test_overlapping_ranges_name_no_fastest),
        cmocka_unit_test(test_disjoint_ranges_name_the_fastest),
        cmocka_unit_test(test_touching_ranges_and_one_combination_are_not_a_verdict),
        cmocka_unit_test(test_recommendation_names_the_data_shape),
        cmocka_unit_test(test_skewed_shape_suggests_salting),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_window.c - rolling windows of core/window.h over sorted core/rows.h
 * tables: ROWS BETWEEN n PRECEDING AND CURRENT ROW within partitions, sum,
 * mean, min and max, NULLs skipped, all-NULL frames, exact sums.
 *
 * Tables have the columns (group, day, value, out); rows are appended in
 * window order, as sf_rows_sort leaves them. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/error.h"
#include "core/rows.h"
#include "core/window.h"

enum { C_GROUP, C_DAY, C_VALUE, C_OUT, NCOLS };

static uint64_t bits_of(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static int partition_cols[] = {C_GROUP};

static sf_job_window window(sf_agg_kind func, int preceding, sf_type type)
{
    sf_job_window w;
    memset(&w, 0, sizeof w);
    w.name = "w";
    w.func = func;
    w.column = C_VALUE;
    w.preceding = preceding;
    w.partition_by = partition_cols;
    w.npartition = 1;
    w.order_by = C_DAY;
    w.type = type;
    return w;
}

static void add_row(sf_rows *r, const char *group, int32_t day, sf_value v)
{
    sf_value *row = sf_rows_append(r);
    assert_non_null(row);
    row[C_GROUP] = sf_string(group, strlen(group));
    row[C_DAY] = sf_date(day);
    row[C_VALUE] = v;
    row[C_OUT] = sf_string("stale", 5); /* must be overwritten */
}

static void add_doubles(sf_rows *r, const char *group, const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        add_row(r, group, (int32_t)i, sf_double(v[i]));
}

static void assert_out_double(const sf_rows *r, size_t i, double want)
{
    const sf_value *v = &sf_rows_at(r, i)[C_OUT];
    assert_int_equal(v->type, SF_DOUBLE);
    assert_int_equal(bits_of(v->u.d), bits_of(want));
}

static void assert_out_null(const sf_rows *r, size_t i)
{
    assert_int_equal(sf_rows_at(r, i)[C_OUT].type, SF_NULL);
}

static void eval(sf_rows *r, sf_agg_kind func, int preceding, sf_type type)
{
    sf_job_window w = window(func, preceding, type);
    assert_int_equal(sf_window_eval(r, &w, C_OUT), 0);
}

static void test_sum_over_current_and_two_preceding_rows(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, NCOLS);
    const double v[] = {1, 2, 3, 4, 5};
    add_doubles(&r, "a", v, 5);
    eval(&r, SF_AGG_SUM, 2, SF_DOUBLE);
    const double want[] = {1, 3, 6, 9, 12};
    for (size_t i = 0; i < 5; i++)
        assert_out_double(&r, i, want[i]);
    sf_rows_free(&r);
}

static void test_partition_boundary_resets_the_frame(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, NCOLS);
    const double a[] = {1, 2, 3}, b[] = {10, 20, 30, 40}, c[] = {100};
    add_doubles(&r, "a", a, 3);
    add_doubles(&r, "b", b, 4);
    add_doubles(&r, "c", c, 1);
    eval(&r, SF_AGG_SUM, 2, SF_DOUBLE);
    const double want[] = {1, 3, 6, 10, 30, 60, 90, 100};
    for (size_t i = 0; i < 8; i++)
        assert_out_double(&r, i, want[i]);
    sf_rows_free(&r);
}

static void test_no_partition_columns_is_one_partition(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, NCOLS);
    const double a[] = {1, 2}, b[] = {4, 8};
    add_doubles(&r, "a", a, 2);
    add_doubles(&r, "b", b, 2);
    sf_job_window w = window(SF_AGG_SUM, 1, SF_DOUBLE);
    w.npartition = 0;
    assert_int_equal(sf_window_eval(&r, &w, C_OUT), 0);
    const double want[] = {1, 3, 6, 12};
    for (size_t i = 0; i < 4; i++)
        assert_out_double(&r, i, want[i]);
    sf_rows_free(&r);
}

static void test_preceding_zero_is_the_current_row(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, NCOLS);
    const double v[] = {7, -1, 0.5};
    add_doubles(&r, "a", v, 3);
    eval(&r, SF_AGG_SUM, 0, SF_DOUBLE);
    for (size_t i = 0; i < 3; i++)
        assert_out_double(&r, i, v[i]);
    sf_rows_free(&r);
}

static void test_mean_over_the_frame(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, NCOLS);
    const double a[] = {2, 4, 9, 1}, b[] = {5};
    add_doubles(&r, "a", a, 4);
    add_doubles(&r, "b", b, 1);
    eval(&r, SF_AGG_MEAN, 1, SF_DOUBLE);
    const double want[] = {2, 3, 6.5, 5, 5};
    for (size_t i = 0; i < 5; i++)
        assert_out_double(&r, i, want[i]);
    sf_rows_free(&r);
}

static void test_mean_of_int_column_is_double(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, NCOLS);
    add_row(&r, "a", 0, sf_int(1));
    add_row(&r, "a", 1, sf_int(2));
    add_row(&r, "a", 2, sf_int(4));
    eval(&r, SF_AGG_MEAN, 2, SF_DOUBLE);
    assert_out_double(&r, 0, 1.0);
    assert_out_double(&r, 1, 1.5);
    assert_out_double(&r, 2, 7.0 / 3.0);
    sf_rows_free(&r);
}

static void test_min_and_max_over_the_frame(void **state)
{
    (void)state;
    sf_rows r, s;
    sf_rows_init(&r, NCOLS);
    sf_rows_init(&s, NCOLS);
    const double v[] = {5, 3, 8, 1, 9, 2};
    add_doubles(&r, "a", v, 6);
    add_doubles(&s, "a", v, 6);
    eval(&r, SF_AGG_MIN, 2, SF_DOUBLE);
    eval(&s, SF_AGG_MAX, 2, SF_DOUBLE);
    const double mins[] = {5, 3, 3, 1, 1, 1}, maxs[] = {5, 5, 8, 8, 9, 9};
    for (size_t i = 0; i < 6; i++) {
        assert_out_double(&r, i, mins[i]);
        assert_out_double(&s, i, maxs[i]);
    }
    sf_rows_free(&r);
    sf_rows_free(&s);
}

static void test_min_and_max_of_strings_order_bytewise(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, NCOLS);
    const char *words[] = {"pear", "apple", "zebra", "fig"};
    for (int i = 0; i < 4; i++)
        add_row(&r, "a", i, sf_string(words[i], strlen(words[i])));
    eval(&r, SF_AGG_MAX, 1, SF_STRING);
    const char *want[] = {"pear", "pear", "zebra", "zebra"};
    for (size_t i = 0; i < 4; i++) {
        const sf_value *v = &sf_rows_at(&r, i)[C_OUT];
        assert_int_equal(v->type, SF_STRING);
        assert_int_equal(v->u.s.n, strlen(want[i]));
        assert_memory_equal(v->u.s.p, want[i], v->u.s.n);
    }
    eval(&r, SF_AGG_MIN, 3, SF_STRING);
    for (size_t i = 0; i < 4; i++) {
        const sf_value *v = &sf_rows_at(&r, i)[C_OUT];
        const char *w = i == 0 ? "pear" : "apple";
        assert_int_equal(v->u.s.n, strlen(w));
        assert_memory_equal(v->u.s.p, w, v->u.s.n);
    }
    sf_rows_free(&r);
}

static void test_nulls_are_skipped(void **state)
{
    (void)state;
    sf_rows r, m;
    sf_rows_init(&r, NCOLS);
    sf_rows_init(&m, NCOLS);
    const sf_value v[] = {sf_double(1), sf_null(), sf_double(3), sf_null(), sf_double(6)};
    for (int i = 0; i < 5; i++) {
        add_row(&r, "a", i, v[i]);
        add_row(&m, "a", i, v[i]);
    }
    eval(&r, SF_AGG_SUM, 2, SF_DOUBLE);
    eval(&m, SF_AGG_MEAN, 2, SF_DOUBLE);
    const double sums[] = {1, 1, 4, 3, 9}, means[] = {1, 1, 2, 3, 4.5};
    for (size_t i = 0; i < 5; i++) {
        assert_out_double(&r, i, sums[i]);
        assert_out_double(&m, i, means[i]);
    }
    sf_rows_free(&r);
    sf_rows_free(&m);
}

static void test_frame_of_only_nulls_gives_null(void **state)
{
    (void)state;
    const sf_agg_kind funcs[] = {SF_AGG_SUM, SF_AGG_MEAN, SF_AGG_MIN, SF_AGG_MAX};
    for (size_t f = 0; f < 4; f++) {
        sf_rows r;
        sf_rows_init(&r, NCOLS);
        add_row(&r, "a", 0, sf_double(2));
        add_row(&r, "b", 0, sf_null());
        add_row(&r, "b", 1, sf_null());
        add_row(&r, "b", 2, sf_double(5));
        add_row(&r, "b", 3, sf_null());
        add_row(&r, "b", 4, sf_null());
        eval(&r, funcs[f], 1, SF_DOUBLE);
        assert_out_double(&r, 0, 2);
        assert_out_null(&r, 1); /* the 2 of partition a is not in the frame */
        assert_out_null(&r, 2);
        assert_out_double(&r, 3, 5);
        assert_out_double(&r, 4, 5);
        assert_out_null(&r, 5);
        sf_rows_free(&r);
    }
}

static void test_double_sum_is_exact_where_naive_addition_is_not(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, NCOLS);
    /* Naive: (1e16 + 1) + -1e16 = 0; exact: 1. */
    const double v[] = {1e16, 1.0, -1e16};
    add_doubles(&r, "a", v, 3);
    eval(&r, SF_AGG_SUM, 2, SF_DOUBLE);
    volatile double naive = v[0];
    naive += v[1];
    naive += v[2];
    assert_true(naive == 0.0);
    assert_out_double(&r, 2, 1.0);
    sf_rows_free(&r);
}

static void test_ten_tenths_sum_to_exactly_one(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, NCOLS);
    for (int i = 0; i < 10; i++)
        add_row(&r, "a", i, sf_double(0.1));
    eval(&r, SF_AGG_SUM, 9, SF_DOUBLE);
    assert_out_double(&r, 9, 1.0); /* naive addition gives 0.9999999999999999 */
    assert_out_double(&r, 2, 0.30000000000000004); /* fsum([.1, .1, .1]) */
    sf_rows_free(&r);
}

static void test_int_sum_is_exact_beyond_2_pow_53(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, NCOLS);
    add_row(&r, "a", 0, sf_int(9007199254740992LL));
    add_row(&r, "a", 1, sf_int(1));
    add_row(&r, "a", 2, sf_int(-3));
    eval(&r, SF_AGG_SUM, 1, SF_INT);
    const int64_t want[] = {9007199254740992LL, 9007199254740993LL, -2};
    for (size_t i = 0; i < 3; i++) {
        const sf_value *v = &sf_rows_at(&r, i)[C_OUT];
        assert_int_equal(v->type, SF_INT);
        assert_int_equal(v->u.i, want[i]);
    }
    sf_rows_free(&r);
}

static void test_empty_table_is_fine(void **state)
{
    (void)state;
    sf_rows r;
    sf_rows_init(&r, NCOLS);
    eval(&r, SF_AGG_SUM, 6, SF_DOUBLE);
    assert_int_equal(r.n, 0);
    sf_rows_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sum_over_current_and_two_preceding_rows),
        cmocka_unit_test(test_partition_boundary_resets_the_frame),
        cmocka_unit_test(test_no_partition_columns_is_one_partition),
        cmocka_unit_test(test_preceding_zero_is_the_current_row),
        cmocka_unit_test(test_mean_over_the_frame),
        cmocka_unit_test(test_mean_of_int_column_is_double),
        cmocka_unit_test(test_min_and_max_over_the_frame),
        cmocka_unit_test(test_min_and_max_of_strings_order_bytewise),
        cmocka_unit_test(test_nulls_are_skipped),
        cmocka_unit_test(test_frame_of_only_nulls_gives_null),
        cmocka_unit_test(test_double_sum_is_exact_where_naive_addition_is_not),
        cmocka_unit_test(test_ten_tenths_sum_to_exactly_one),
        cmocka_unit_test(test_int_sum_is_exact_beyond_2_pow_53),
        cmocka_unit_test(test_empty_table_is_fine),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

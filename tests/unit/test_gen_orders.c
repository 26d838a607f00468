/* test_gen_orders.c - unit tests of the orders generator: line framing and
 * size, the shape and ranges of every field (read back with jansson,
 * independently of how lines are printed), determinism, and the variety
 * the flatten tests rely on (empty item lists, optional fields with mixed
 * types, notes that need CSV quoting). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "core/gen_orders.h"

static const sf_gen_orders_params params = {.seed = 42, .orders = 100000, .customers = 500,
                                            .skus = 200};

#define LINES 20000

/* Generates line i with a guard zone after the maximum and checks its
 * framing. Returns the length. */
static size_t gen_checked(const sf_gen_orders_params *p, uint64_t i, char *buf)
{
    memset(buf, 0x7f, SF_GEN_ORDERS_LINE_MAX + 16);
    size_t n = sf_gen_orders_line(p, i, buf);
    assert_true(n > 2 && n <= SF_GEN_ORDERS_LINE_MAX);
    for (size_t k = n; k < SF_GEN_ORDERS_LINE_MAX + 16; k++)
        assert_int_equal(buf[k], 0x7f);
    assert_int_equal(buf[n - 1], '\n');
    assert_null(memchr(buf, '\n', n - 1));
    assert_null(memchr(buf, '\0', n));
    return n;
}

static json_t *parse(const char *buf, size_t n)
{
    json_error_t jerr;
    json_t *doc = json_loadb(buf, n - 1, 0, &jerr);
    if (!doc)
        fail_msg("generated line does not parse: %s: %.*s", jerr.text, (int)n, buf);
    assert_true(json_is_object(doc));
    return doc;
}

static json_int_t int_at(json_t *obj, const char *key, json_int_t lo, json_int_t hi)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v))
        fail_msg("%s is not an integer", key);
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        fail_msg("%s = %lld out of [%lld, %lld]", key, (long long)x, (long long)lo,
                 (long long)hi);
    return x;
}

static double real_at(json_t *obj, const char *key, double lo, double hi)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_real(v))
        fail_msg("%s is not a real", key);
    double x = json_real_value(v);
    if (x < lo || x > hi)
        fail_msg("%s = %g out of range", key, x);
    return x;
}

static const char *str_at(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_string(v))
        fail_msg("%s is not a string", key);
    return json_string_value(v);
}

static void test_lines_are_framed_and_average_about_600_bytes(void **state)
{
    (void)state;
    char *buf = malloc(SF_GEN_ORDERS_LINE_MAX + 16);
    assert_non_null(buf);
    size_t total = 0;
    for (uint64_t i = 0; i < LINES; i++)
        total += gen_checked(&params, i, buf);
    size_t avg = total / LINES;
    assert_true(avg >= 500 && avg <= 700);
    free(buf);
}

static void test_every_field_has_its_shape_and_range(void **state)
{
    (void)state;
    char *buf = malloc(SF_GEN_ORDERS_LINE_MAX + 16);
    assert_non_null(buf);
    for (uint64_t i = 0; i < LINES; i += 7) {
        size_t n = gen_checked(&params, i, buf);
        json_t *o = parse(buf, n);
        char id[16];
        snprintf(id, sizeof id, "o%010llu", (unsigned long long)i + 1);
        assert_string_equal(str_at(o, "order_id"), id);
        int_at(o, "ts", 1753920000, 1756598399);
        json_t *c = json_object_get(o, "customer");
        assert_true(json_is_object(c));
        json_int_t cid = int_at(c, "id", 1, 500);
        char name[32];
        snprintf(name, sizeof name, "Customer %lld", (long long)cid);
        assert_string_equal(str_at(c, "name"), name);
        json_t *addr = json_object_get(c, "address");
        assert_int_equal(strlen(str_at(addr, "zip")), 5);
        assert_int_equal(strlen(str_at(addr, "country")), 2);
        json_t *items = json_object_get(o, "items");
        assert_true(json_is_array(items) && json_array_size(items) <= 5);
        for (size_t k = 0; k < json_array_size(items); k++) {
            json_t *it = json_array_get(items, k);
            const char *sku = str_at(it, "sku");
            assert_int_equal(strncmp(sku, "SKU-", 4), 0);
            int num = atoi(sku + 4);
            assert_true(num >= 1 && num <= 200);
            int_at(it, "qty", 1, 5);
            real_at(it, "price", 1.99, 200.0);
            assert_true(json_array_size(json_object_get(it, "tags")) <= 2);
        }
        json_t *d = json_object_get(o, "discounts");
        assert_true(json_is_array(d) && json_array_size(d) <= 2);
        assert_true(json_is_boolean(json_object_get(o, "gift")));
        json_t *pay = json_object_get(o, "payment");
        const char *m = str_at(pay, "method");
        assert_int_equal(json_object_get(pay, "card") != NULL, strcmp(m, "card") == 0);
        json_decref(o);
    }
    free(buf);
}

static void test_a_line_is_a_pure_function_of_seed_and_index(void **state)
{
    (void)state;
    char a[SF_GEN_ORDERS_LINE_MAX], b[SF_GEN_ORDERS_LINE_MAX];
    size_t na = sf_gen_orders_line(&params, 12345, a);
    /* Other lines in between change nothing. */
    sf_gen_orders_line(&params, 1, b);
    size_t nb = sf_gen_orders_line(&params, 12345, b);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na);
    sf_gen_orders_params other = params;
    other.seed = 43;
    nb = sf_gen_orders_line(&other, 12345, b);
    assert_false(na == nb && memcmp(a, b, na) == 0);
}

static void test_optional_fields_and_empty_lists_vary(void **state)
{
    (void)state;
    char buf[SF_GEN_ORDERS_LINE_MAX];
    int empty_items = 0, no_disc = 0, coupon_str = 0, coupon_int = 0, rating_real = 0;
    int rating_null = 0, quoted_note = 0, newline_note = 0;
    for (uint64_t i = 0; i < LINES; i++) {
        size_t n = sf_gen_orders_line(&params, i, buf);
        json_t *o = parse(buf, n);
        empty_items += json_array_size(json_object_get(o, "items")) == 0;
        no_disc += json_array_size(json_object_get(o, "discounts")) == 0;
        json_t *cp = json_object_get(o, "coupon");
        coupon_str += json_is_string(cp);
        coupon_int += json_is_integer(cp);
        json_t *r = json_object_get(o, "rating");
        rating_real += json_is_real(r);
        rating_null += r && json_is_null(r);
        json_t *note = json_object_get(o, "note");
        if (json_is_string(note)) {
            quoted_note += strchr(json_string_value(note), '"') != NULL;
            newline_note += strchr(json_string_value(note), '\n') != NULL;
        }
        json_decref(o);
    }
    assert_true(empty_items > LINES / 100 && empty_items < LINES / 25);
    assert_true(no_disc > LINES / 2);
    assert_true(coupon_str > 0 && coupon_int > 0);
    assert_true(rating_real > 0 && rating_null > 0);
    assert_true(quoted_note > 0 && newline_note > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_are_framed_and_average_about_600_bytes),
        cmocka_unit_test(test_every_field_has_its_shape_and_range),
        cmocka_unit_test(test_a_line_is_a_pure_function_of_seed_and_index),
        cmocka_unit_test(test_optional_fields_and_empty_lists_vary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

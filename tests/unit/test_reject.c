/* test_reject.c - core/reject.h: every reason has its own manifest name,
 * and a value outside the list is "unknown". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/reject.h"

static void test_every_reason_has_a_distinct_name(void **state)
{
    (void)state;
    for (int a = 0; a < SF_REJ_NREASONS; a++) {
        const char *na = sf_reject_reason_name((sf_reject_reason)a);
        assert_string_not_equal(na, "unknown");
        for (int b = a + 1; b < SF_REJ_NREASONS; b++)
            assert_string_not_equal(na, sf_reject_reason_name((sf_reject_reason)b));
    }
}

static void test_manifest_names_are_stable(void **state)
{
    (void)state;
    assert_string_equal(sf_reject_reason_name(SF_REJ_INVALID_JSON), "invalid JSON");
    assert_string_equal(sf_reject_reason_name(SF_REJ_LINE_TOO_LONG), "line too long");
    assert_string_equal(sf_reject_reason_name(SF_REJ_MISSING_COLUMN), "missing required column");
    assert_string_equal(sf_reject_reason_name(SF_REJ_NREASONS), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_reason_has_a_distinct_name),
        cmocka_unit_test(test_manifest_names_are_stable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* test_ere.c - the regcomp pre-check of core/ere.h: its estimates on
 * patterns whose glibc cost was measured (see ere.h), its refusals, and
 * that syntax it does not judge is left to regcomp. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/ere.h"

static int check(const char *pat, sf_ere_cost *cost, char *why, size_t why_len)
{
    return sf_ere_check(pat, strlen(pat), cost, why, why_len);
}

static void expect_cost(const char *pat, double nodes, double closure)
{
    sf_ere_cost c;
    char why[400];
    assert_int_equal(check(pat, &c, why, sizeof why), 0);
    assert_string_equal(why, "");
    if (c.nodes != nodes || c.closure != closure)
        fail_msg("%s: nodes %.0f closure %.0f, want %.0f %.0f", pat, c.nodes, c.closure, nodes,
                 closure);
}

static void expect_refused(const char *pat, const char *part)
{
    char why[400];
    assert_int_equal(check(pat, NULL, why, sizeof why), -1);
    if (!strstr(why, part))
        fail_msg("%s: reason '%s' lacks '%s'", pat, why, part);
}

static void test_everyday_patterns_cost_little(void **state)
{
    (void)state;
    expect_cost("", 0, 0);
    expect_cost("abc", 3, 3);
    /* '^' and '$' are epsilon nodes; '+' is one copy and a starred one. */
    expect_cost("^[A-Z]{2}-[0-9]+$", 8, 11);
    expect_cost("a|b", 3, 5);
    expect_cost("^S.*-(ab|xy)-[a-d]+$", 15, 22);
    expect_cost("[[:alpha:]]{3,}", 5, 6);
}

static void test_counts_multiply_without_expanding(void **state)
{
    (void)state;
    expect_cost("a{1000}", 1000, 1000);
    expect_cost("(a{1000}){100}", 100000, 100000);
    expect_cost("((a{100}){100}){10}", 100000, 100000);
    expect_cost("a{0}", 0, 0);
    expect_cost("a{,2}", 4, 8);    /* two optional copies: a? then a? */
    expect_cost("a{2,}b", 5, 7);   /* a a a* b */
    expect_cost("(a|b){32767}", 98301, 163835);
    expect_cost("(ab|)?{3}", 12, 39);
}

static void test_runs_of_optional_copies_grow_with_their_square(void **state)
{
    (void)state;
    /* k optional copies in a row: each reaches every later one. */
    expect_cost("a?a?a?", 6, 15);
    expect_cost("a{1,1000}", 1999, 1000000);
    expect_cost("(a?){1000}", 2000, 1002000);
    /* glibc: 790 MB and 0.4 s; 8 GB and 14 s; 790 MB. */
    expect_refused("a{1,10000}", "grows with its square");
    expect_refused("a{1,32767}", "past 200000 automaton nodes or 4000000 closure entries");
    expect_refused("(a*){10000}", "closure entries");
    /* Counts past glibc's RE_DUP_MAX saturate instead of overflowing. */
    expect_refused("a{99999999999999999999}", "automaton nodes");
}

static void test_each_plus_doubles(void **state)
{
    (void)state;
    expect_cost("a+", 3, 4); /* a a* */
    expect_cost("a++", 7, 14);
    /* 16 '+': 131071 nodes, 42 MB in glibc; 17: 85 MB; 18: 172 MB. */
    expect_cost("a++++++++++++++++", 131071, 2031618);
    expect_refused("a+++++++++++++++++", "each '+' doubles");
    /* The fuzzer's input that took regcomp past 2 GB (CI, stop 30); its
     * '(ab|)++' already repeats a part that matches the empty string. */
    expect_refused("^(ab|)++\xab""++++++++++++++++++++++++++++++++++++++++++++++++++sum(um%+++++++++++++(so.+++++++c)+[0-9]{2\xfe""\xff""\xff""\xfa"",}$",
                   "a part that can match the empty string");
}

static void test_loops_over_the_empty_string_are_refused(void **state)
{
    (void)state;
    /* glibc: '^a*+++++c' 8.8 s, '^(a?)+++++c' 8.8 s, '^((a*|b*)+){12}c'
     * past 30 s; each more '+' multiplies the time. */
    const char *refused[] = {"(a?)*", "(x*)+", "(a|b|)+", "a**", "()*", "(a*b*){2,}",
                             "^a*+++++c", "^((a*|b*)+){12}c", "\\<a*+++++c"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        expect_refused(refused[i], "a part that can match the empty string");
    /* The fuzzer's input that took regcomp past CI's 20 s (this round). */
    expect_refused("^(ab|)++\xab""++*++++++++csum(i * j)\x19\x19)+[0-9]y2,}$",
                   "(a?)*");
    /* Loops over parts that cannot match empty, and optional copies
     * without a loop, are fine. */
    expect_cost("(a?b)*", 4, 9);
    expect_cost("a*b*", 4, 8);
    expect_cost("(ab|cd)*", 6, 11);
    expect_cost("((a?)?){2}", 6, 18);
}

static void test_anchors_before_empty_runs_are_bounded(void **state)
{
    (void)state;
    /* glibc copies what an anchor reaches by epsilon for its constraint:
     * '^(a{0,3}){0,300}' 1.7 s and 308 MB, the same without '^' 0.005 s
     * and 9 MB. */
    const char *refused[] = {"^(a{0,3}){0,300}", "\\<(a{0,3}){0,300}", "(^|,)(a{0,3}){0,300}",
                             "^.*(a{0,3}){0,300}", "^(a?){500}c"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        expect_refused(refused[i], "is followed by about");
    /* What the anchor reaches stops at the first part that cannot match
     * empty; an anchor at the end reaches nothing. */
    sf_ere_cost c;
    char why[400];
    assert_int_equal(check("^[0-9]{1,1000}", &c, why, sizeof why), 0);
    assert_true(c.anchored == 1);
    assert_int_equal(check("^x(a{0,3}){0,300}", &c, why, sizeof why), 0);
    assert_true(c.anchored == 1);
    assert_int_equal(check("(a{0,3}){0,300}$", &c, why, sizeof why), 0);
    assert_true(c.anchored == 0);
    assert_int_equal(check("^(a?){300}c", &c, why, sizeof why), 0);
    assert_true(c.anchored > 90000 && c.anchored < SF_ERE_MAX_ANCHORED);
}

static void test_back_references_are_refused(void **state)
{
    (void)state;
    expect_refused("(a*)*\\1b", "back-reference '\\1' at byte 6");
    expect_refused("(x)\\9", "POSIX extended expressions have none");
    /* Other escapes are ordinary characters. */
    expect_cost("\\.\\(", 2, 2);
    expect_cost("a\\", 2, 2);
}

static void test_syntax_is_left_to_regcomp(void **state)
{
    (void)state;
    /* Unclosed groups and brackets, stray braces and repetitions with
     * nothing to repeat are estimated as characters, not refused here. */
    expect_cost("a(b", 2, 2);
    expect_cost("[a-", 1, 1);
    expect_cost("a{", 2, 2);
    expect_cost("a{x}", 4, 4);
    expect_cost("*a", 2, 2);
    expect_cost("a)b", 3, 3);
    expect_cost("[]a]b", 2, 2);
    expect_cost("[[:digit:]]]", 2, 2);
}

static void test_nesting_is_bounded(void **state)
{
    (void)state;
    char pat[600];
    memset(pat, '(', 257);
    pat[257] = 'a';
    memset(pat + 258, ')', 257);
    pat[515] = '\0';
    expect_refused(pat, "more than 256 nested groups");
    char ok[600];
    memset(ok, '(', 256);
    ok[256] = 'a';
    memset(ok + 257, ')', 256);
    ok[513] = '\0';
    expect_cost(ok, 1, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_everyday_patterns_cost_little),
        cmocka_unit_test(test_counts_multiply_without_expanding),
        cmocka_unit_test(test_runs_of_optional_copies_grow_with_their_square),
        cmocka_unit_test(test_each_plus_doubles),
        cmocka_unit_test(test_loops_over_the_empty_string_are_refused),
        cmocka_unit_test(test_anchors_before_empty_runs_are_bounded),
        cmocka_unit_test(test_back_references_are_refused),
        cmocka_unit_test(test_syntax_is_left_to_regcomp),
        cmocka_unit_test(test_nesting_is_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

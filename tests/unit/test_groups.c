/* test_groups.c - the combiner of core/groups.h: every aggregate over rows
 * built by hand, NULL handling, int64 overflow, and the promise that makes
 * shuffles safe: splitting rows over several tables in any order, exporting
 * every group and merging the records gives bit-identical results to one
 * table fed every row (count_distinct included, with values shared across
 * the splits). Malformed records are refused with SF_E_PARSE.
 *
 * Aggregate arguments are parsed with sf_expr_parse over a fixed column list;
 * the group key is the encoded country column. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/expr.h"
#include "core/groups.h"

enum { C_COUNTRY, C_N, C_PRICE, C_USER, C_KIND, C_DAY, C_AT, NCOLS };

static const struct {
    const char *name;
    sf_type type;
} columns[NCOLS] = {
    {"country", SF_STRING}, {"n", SF_INT}, {"price", SF_DOUBLE},
    {"user", SF_INT},       {"kind", SF_STRING}, {"day", SF_DATE},
    {"at", SF_TIMESTAMP},
};

static int resolve(void *ctx, const char *name, size_t len, int *slot, sf_type *type)
{
    (void)ctx;
    for (int i = 0; i < NCOLS; i++) {
        if (strlen(columns[i].name) == len && memcmp(columns[i].name, name, len) == 0) {
            *slot = i;
            *type = columns[i].type;
            return 0;
        }
    }
    return -1;
}

enum {
    A_COUNT,
    A_BUYS,
    A_SUM_N,
    A_SUM_PRICE,
    A_MIN_PRICE,
    A_MAX_PRICE,
    A_MIN_N,
    A_MAX_N,
    A_MIN_KIND,
    A_MAX_KIND,
    A_MEAN_N,
    A_MEAN_PRICE,
    A_USERS,
    A_KINDS,
    A_PRICES,
    NAGGS
};

static const char *const agg_texts[NAGGS] = {
    "count()",        "count_if(kind == 'buy')", "sum(n)",        "sum(price)",
    "min(price)",     "max(price)",              "min(n)",        "max(n)",
    "min(kind)",      "max(kind)",               "mean(n)",       "mean(price)",
    "count_distinct(user)", "count_distinct(kind)", "count_distinct(price)",
};

typedef struct aggs {
    sf_expr *exprs[NAGGS];
    sf_agg_def defs[NAGGS];
} aggs;

static int setup(void **state)
{
    aggs *a = calloc(1, sizeof *a);
    if (!a)
        return -1;
    const sf_expr_columns cols = {resolve, NULL, NULL};
    for (int j = 0; j < NAGGS; j++) {
        sf_error err;
        sf_error_clear(&err);
        a->exprs[j] = sf_expr_parse(agg_texts[j], &cols, SF_EXPR_ALLOW_AGG, &err);
        if (!a->exprs[j]) {
            fprintf(stderr, "%s: %s\n", agg_texts[j], err.msg);
            return -1;
        }
        a->defs[j].kind = sf_expr_agg_kind(a->exprs[j]);
        a->defs[j].arg = sf_expr_agg_arg(a->exprs[j]);
        a->defs[j].arg_type = a->defs[j].arg ? sf_expr_type(a->defs[j].arg) : SF_NULL;
        a->defs[j].out_type = sf_expr_type(a->exprs[j]);
    }
    *state = a;
    return 0;
}

static int teardown(void **state)
{
    aggs *a = *state;
    for (int j = 0; j < NAGGS; j++)
        sf_expr_free(a->exprs[j]);
    free(a);
    return 0;
}

/* One input row; a NULL pointer or the NUL sentinel means SQL NULL. */
typedef struct in_row {
    const char *country;
    int has_n;
    int64_t n;
    int has_price;
    double price;
    int64_t user; /* < 0: NULL */
    const char *kind;
} in_row;

/* The row of r and its key (the group by country). */
static size_t row_of(const in_row *r, sf_value *row, unsigned char *key)
{
    row[C_COUNTRY] = r->country ? sf_string(r->country, strlen(r->country)) : sf_null();
    row[C_N] = r->has_n ? sf_int(r->n) : sf_null();
    row[C_PRICE] = r->has_price ? sf_double(r->price) : sf_null();
    row[C_USER] = r->user >= 0 ? sf_int(r->user) : sf_null();
    row[C_KIND] = r->kind ? sf_string(r->kind, strlen(r->kind)) : sf_null();
    /* n as a day number (its low 31 bits, signed) and as a timestamp */
    row[C_DAY] = r->has_n ? sf_date((int32_t)(r->n % 1000000007)) : sf_null();
    row[C_AT] = r->has_n ? sf_timestamp(r->n) : sf_null();
    return sf_value_encode(&row[C_COUNTRY], key);
}

static void feed(sf_groups *g, const in_row *r, sf_arena *scratch)
{
    sf_value row[NCOLS];
    unsigned char key[64];
    size_t klen = row_of(r, row, key);
    sf_arena_reset(scratch);
    assert_int_equal(sf_groups_update(g, key, klen, sf_groups_hash(key, klen), row, scratch), 0);
}

static sf_groups *table_of(const aggs *a, const in_row *rows, size_t n)
{
    sf_groups *g = sf_groups_new(a->defs, NAGGS);
    assert_non_null(g);
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    for (size_t i = 0; i < n; i++)
        feed(g, &rows[i], &scratch);
    sf_arena_free(&scratch);
    assert_int_equal(sf_groups_prepare_export(g), 0);
    return g;
}

/* Index of the group whose key is country (NULL: the NULL key), or -1. */
static long group_of(const sf_groups *g, const char *country)
{
    sf_value v = country ? sf_string(country, strlen(country)) : sf_null();
    unsigned char want[64];
    size_t wlen = sf_value_encode(&v, want);
    for (size_t i = 0; i < sf_groups_count(g); i++) {
        const unsigned char *key;
        size_t klen;
        uint64_t hash;
        sf_groups_key(g, i, &key, &klen, &hash);
        if (klen == wlen && memcmp(key, want, wlen) == 0)
            return (long)i;
    }
    return -1;
}

static sf_value result(const sf_groups *g, const char *country, int j)
{
    long i = group_of(g, country);
    assert_true(i >= 0);
    int overflow = 0;
    sf_value v = sf_groups_result(g, (size_t)i, (size_t)j, &overflow);
    assert_int_equal(overflow, 0);
    return v;
}

static void assert_int_result(const sf_groups *g, const char *country, int j, int64_t want)
{
    sf_value v = result(g, country, j);
    assert_int_equal(v.type, SF_INT);
    assert_int_equal(v.u.i, want);
}

static void assert_double_result(const sf_groups *g, const char *country, int j, double want)
{
    sf_value v = result(g, country, j);
    assert_int_equal(v.type, SF_DOUBLE);
    uint64_t a, b;
    memcpy(&a, &v.u.d, 8);
    memcpy(&b, &want, 8);
    assert_int_equal(a, b);
}

static void assert_string_result(const sf_groups *g, const char *country, int j,
                                 const char *want)
{
    sf_value v = result(g, country, j);
    assert_int_equal(v.type, SF_STRING);
    assert_int_equal(v.u.s.n, strlen(want));
    assert_memory_equal(v.u.s.p, want, v.u.s.n);
}

static void assert_null_result(const sf_groups *g, const char *country, int j)
{
    assert_int_equal(result(g, country, j).type, SF_NULL);
}

#define ROW(c, n, p, u, k) {c, 1, n, 1, p, u, k}

static const in_row small[] = {
    ROW("FR", 3, 10.5, 1, "buy"),
    ROW("DE", 7, 2.25, 2, "view"),
    ROW("FR", -1, 0.5, 1, "view"),
    ROW("FR", 10, 4.0, 3, "buy"),
    ROW("DE", 1, 8.0, 2, "buy"),
    ROW("US", 5, 1.0, 9, "cart"),
};

static void test_groups_are_created_once_per_key(void **state)
{
    sf_groups *g = table_of(*state, small, 6);
    assert_int_equal(sf_groups_count(g), 3);
    assert_true(group_of(g, "FR") >= 0);
    assert_true(group_of(g, "DE") >= 0);
    assert_true(group_of(g, "US") >= 0);
    assert_int_equal(group_of(g, "UK"), -1);
    for (size_t i = 0; i < 3; i++) {
        const unsigned char *key;
        size_t klen;
        uint64_t hash;
        sf_groups_key(g, i, &key, &klen, &hash);
        assert_int_equal(hash, sf_groups_hash(key, klen));
    }
    assert_true(sf_groups_memory(g) > 0);
    sf_groups_free(g);
}

static void test_count_and_count_if(void **state)
{
    sf_groups *g = table_of(*state, small, 6);
    assert_int_result(g, "FR", A_COUNT, 3);
    assert_int_result(g, "DE", A_COUNT, 2);
    assert_int_result(g, "US", A_COUNT, 1);
    assert_int_result(g, "FR", A_BUYS, 2);
    assert_int_result(g, "DE", A_BUYS, 1);
    assert_int_result(g, "US", A_BUYS, 0);
    sf_groups_free(g);
}

static void test_int_and_double_sums(void **state)
{
    sf_groups *g = table_of(*state, small, 6);
    assert_int_result(g, "FR", A_SUM_N, 12);
    assert_int_result(g, "DE", A_SUM_N, 8);
    assert_double_result(g, "FR", A_SUM_PRICE, 15.0);
    assert_double_result(g, "DE", A_SUM_PRICE, 10.25);
    assert_double_result(g, "US", A_SUM_PRICE, 1.0);
    sf_groups_free(g);
}

static void test_min_and_max_of_numbers_and_strings(void **state)
{
    sf_groups *g = table_of(*state, small, 6);
    assert_double_result(g, "FR", A_MIN_PRICE, 0.5);
    assert_double_result(g, "FR", A_MAX_PRICE, 10.5);
    assert_int_result(g, "FR", A_MIN_N, -1);
    assert_int_result(g, "FR", A_MAX_N, 10);
    assert_string_result(g, "FR", A_MIN_KIND, "buy");
    assert_string_result(g, "FR", A_MAX_KIND, "view");
    assert_string_result(g, "US", A_MIN_KIND, "cart");
    assert_string_result(g, "US", A_MAX_KIND, "cart");
    sf_groups_free(g);
}

static void test_min_max_strings_are_copied_from_the_row(void **state)
{
    const aggs *a = *state;
    sf_groups *g = sf_groups_new(a->defs, NAGGS);
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    char kind[] = "mmm";
    in_row r = ROW("FR", 1, 1.0, 1, kind);
    feed(g, &r, &scratch);
    memcpy(kind, "zzz", 3);
    sf_arena_free(&scratch);
    assert_int_equal(sf_groups_prepare_export(g), 0);
    assert_string_result(g, "FR", A_MIN_KIND, "mmm");
    assert_string_result(g, "FR", A_MAX_KIND, "mmm");
    sf_groups_free(g);
}

static void test_mean_of_int_and_double(void **state)
{
    sf_groups *g = table_of(*state, small, 6);
    assert_double_result(g, "FR", A_MEAN_N, 4.0);
    assert_double_result(g, "DE", A_MEAN_N, 4.0);
    assert_double_result(g, "FR", A_MEAN_PRICE, 5.0);
    assert_double_result(g, "DE", A_MEAN_PRICE, 5.125);
    sf_groups_free(g);
}

static void test_count_distinct_counts_each_value_once(void **state)
{
    sf_groups *g = table_of(*state, small, 6);
    assert_int_result(g, "FR", A_USERS, 2);
    assert_int_result(g, "DE", A_USERS, 1);
    assert_int_result(g, "US", A_USERS, 1);
    assert_int_result(g, "FR", A_KINDS, 2);
    assert_int_result(g, "DE", A_KINDS, 2);
    assert_int_result(g, "FR", A_PRICES, 3);
    sf_groups_free(g);
}

/* A group's first distinct value is kept in its state block, the later
 * ones in the set's tables: a value seen again (in the same table or
 * merged from another) must not count twice, whichever place holds it,
 * and an exported group carries all its values. */
static void test_count_distinct_first_value_counts_once_wherever_it_lives(void **state)
{
    const aggs *a = *state;
    static const in_row one[] = {
        ROW("FR", 1, 1.0, 7, "buy"), ROW("FR", 1, 1.0, 7, "buy"), ROW("DE", 1, 2.0, 5, "view"),
    };
    static const in_row two[] = {
        ROW("DE", 1, 2.0, 6, "buy"), ROW("FR", 1, 1.0, 8, "view"), ROW("FR", 1, 3.0, 7, "buy"),
        ROW("DE", 1, 2.0, 5, "buy"),
    };
    sf_groups *g1 = table_of(a, one, 3), *g2 = table_of(a, two, 4);
    assert_int_result(g1, "FR", A_USERS, 1);
    assert_int_result(g1, "FR", A_KINDS, 1);
    assert_int_result(g1, "FR", A_PRICES, 1);
    assert_int_result(g2, "FR", A_USERS, 2);
    assert_int_result(g2, "DE", A_USERS, 2);
    assert_int_result(g2, "FR", A_PRICES, 2);
    /* Both orders of merging give the union. */
    sf_groups *m[2] = {sf_groups_new(a->defs, NAGGS), sf_groups_new(a->defs, NAGGS)};
    assert_non_null(m[0]);
    assert_non_null(m[1]);
    sf_buf rec = SF_BUF_INIT;
    sf_error err;
    for (int k = 0; k < 2; k++) {
        sf_groups *from[2] = {k ? g2 : g1, k ? g1 : g2};
        for (int t = 0; t < 2; t++) {
            for (size_t i = 0; i < sf_groups_count(from[t]); i++) {
                rec.n = 0;
                assert_int_equal(sf_groups_export(from[t], i, &rec), 0);
                assert_int_equal(sf_groups_merge_record(m[k], rec.p, rec.n, &err), 0);
            }
        }
        assert_int_equal(sf_groups_prepare_export(m[k]), 0);
        assert_int_result(m[k], "FR", A_USERS, 2);
        assert_int_result(m[k], "DE", A_USERS, 2);
        assert_int_result(m[k], "FR", A_KINDS, 2);
        assert_int_result(m[k], "DE", A_KINDS, 2);
        assert_int_result(m[k], "FR", A_PRICES, 2);
        assert_int_result(m[k], "DE", A_PRICES, 1);
    }
    sf_buf_free(&rec);
    for (int k = 0; k < 2; k++)
        sf_groups_free(m[k]);
    sf_groups_free(g1);
    sf_groups_free(g2);
}

/* count_distinct of int64 values switches to per-group bitmaps once it has
 * seen 65536 values in a small range; values outside the range (before and
 * after the switch) stay in the pair table. Counts must stay exact through
 * the switch, across split tables and merges. */
static void test_count_distinct_exact_through_dense_mode(void **state)
{
    const aggs *a = *state;
    enum { NGROUPS = 7, PER_TABLE = 100000 };
    static const char *const countries[NGROUPS] = {"A", "B", "C", "D", "E", "F", "G"};
    /* Expected counts: a bitset per group over the values used. */
    static unsigned char seen[NGROUPS][4000 + 64];
    memset(seen, 0, sizeof seen);
    sf_groups *parts[2], *merged = sf_groups_new(a->defs, NAGGS);
    assert_non_null(merged);
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    uint64_t x = 12345;
    for (int t = 0; t < 2; t++) {
        parts[t] = sf_groups_new(a->defs, NAGGS);
        assert_non_null(parts[t]);
        for (int i = 0; i < PER_TABLE; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            int grp = (int)((x >> 33) % NGROUPS);
            /* Mostly users 1..1000; 1 in 50 far outside (ids 3001..4000
             * are "outside" only until the range is learned: the first
             * 65536 values decide it). */
            int64_t user = (x >> 40) % 50 == 0 ? 3001 + (int64_t)((x >> 20) % 1000)
                                              : 1 + (int64_t)((x >> 10) % 1000);
            if (t == 1 && i > PER_TABLE / 2 && (x >> 45) % 7 == 0)
                user = 100000 + (int64_t)((x >> 12) % 50); /* beyond any range */
            in_row r = {countries[grp], 1, 1, 1, 1.0, user, "k"};
            feed(parts[t], &r, &scratch);
            if (user < 4000 + 64)
                seen[grp][user] = 1;
        }
    }
    /* Far values, counted apart. */
    int far[NGROUPS][50];
    memset(far, 0, sizeof far);
    x = 12345;
    for (int t = 0; t < 2; t++) {
        for (int i = 0; i < PER_TABLE; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            int grp = (int)((x >> 33) % NGROUPS);
            if (t == 1 && i > PER_TABLE / 2 && (x >> 45) % 7 == 0)
                far[grp][(x >> 12) % 50] = 1;
        }
    }
    sf_buf rec = SF_BUF_INIT;
    sf_error err;
    for (int t = 0; t < 2; t++) {
        assert_int_equal(sf_groups_prepare_export(parts[t]), 0);
        for (size_t i = 0; i < sf_groups_count(parts[t]); i++) {
            rec.n = 0;
            assert_int_equal(sf_groups_export(parts[t], i, &rec), 0);
            assert_int_equal(sf_groups_merge_record(merged, rec.p, rec.n, &err), 0);
        }
    }
    assert_int_equal(sf_groups_prepare_export(merged), 0);
    for (int grp = 0; grp < NGROUPS; grp++) {
        int64_t want = 0;
        for (int v = 0; v < 4000 + 64; v++)
            want += seen[grp][v];
        for (int v = 0; v < 50; v++)
            want += far[grp][v];
        assert_int_result(merged, countries[grp], A_USERS, want);
    }
    sf_buf_free(&rec);
    sf_arena_free(&scratch);
    for (int t = 0; t < 2; t++)
        sf_groups_free(parts[t]);
    sf_groups_free(merged);
}

/* count_distinct of strings interns them into dense ids, which go to
 * bitmaps once enough values were seen; ids are local to a table, so the
 * merged counts must still be exact when the two tables met the strings in
 * different orders. */
static void test_count_distinct_of_strings_exact_through_ids_and_merges(void **state)
{
    const aggs *a = *state;
    enum { NGROUPS = 5, PER_TABLE = 80000, NKINDS = 3000 };
    static const char *const countries[NGROUPS] = {"A", "B", "C", "D", "E"};
    static unsigned char seen[NGROUPS][NKINDS];
    memset(seen, 0, sizeof seen);
    sf_groups *parts[2], *merged = sf_groups_new(a->defs, NAGGS);
    assert_non_null(merged);
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    uint64_t x = 777;
    char kind[32];
    for (int t = 0; t < 2; t++) {
        parts[t] = sf_groups_new(a->defs, NAGGS);
        assert_non_null(parts[t]);
        for (int i = 0; i < PER_TABLE; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            int grp = (int)((x >> 33) % NGROUPS);
            /* Table 1 sees the kinds in the reverse order of table 0. */
            int k = (int)((x >> 40) % (t == 0 ? 2000 : NKINDS));
            if (t == 1)
                k = NKINDS - 1 - k;
            snprintf(kind, sizeof kind, "kind-%d", k);
            in_row r = {countries[grp], 1, 1, 1, 1.0, 1, kind};
            feed(parts[t], &r, &scratch);
            seen[grp][k] = 1;
        }
    }
    sf_buf rec = SF_BUF_INIT;
    sf_error err;
    for (int t = 0; t < 2; t++) {
        assert_int_equal(sf_groups_prepare_export(parts[t]), 0);
        for (size_t i = 0; i < sf_groups_count(parts[t]); i++) {
            rec.n = 0;
            assert_int_equal(sf_groups_export(parts[t], i, &rec), 0);
            assert_int_equal(sf_groups_merge_record(merged, rec.p, rec.n, &err), 0);
        }
    }
    assert_int_equal(sf_groups_prepare_export(merged), 0);
    for (int grp = 0; grp < NGROUPS; grp++) {
        int64_t want = 0;
        for (int k = 0; k < NKINDS; k++)
            want += seen[grp][k];
        assert_int_result(merged, countries[grp], A_KINDS, want);
    }
    sf_buf_free(&rec);
    sf_arena_free(&scratch);
    for (int t = 0; t < 2; t++)
        sf_groups_free(parts[t]);
    sf_groups_free(merged);
}

/* The dictionary's id cache keys a string of at most 16 bytes by two
 * words read with overlapping loads: strings of every length up to 20 that
 * differ in one byte anywhere (a middle byte of a 9-15 byte string is in
 * both words), fed over and over, each counted once per group. */
static void test_count_distinct_of_short_strings_differing_in_one_byte(void **state)
{
    const aggs *a = *state;
    enum { MAXLEN = 20, LETTERS = 3, ROUNDS = 3 };
    static const char *const countries[2] = {"A", "B"};
    sf_groups *g = sf_groups_new(a->defs, NAGGS);
    assert_non_null(g);
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    int64_t want[2] = {0, 0};
    char s[MAXLEN + 1];
    for (int round = 0; round < ROUNDS; round++) {
        for (int len = 0; len <= MAXLEN; len++) {
            /* Per length: the plain string, then one byte changed at each
             * position to each letter; group B sees the even lengths only. */
            for (int pos = -1; pos < len; pos++) {
                for (int c = 0; c < (pos < 0 ? 1 : LETTERS); c++) {
                    memset(s, 'p', (size_t)len);
                    s[len] = '\0';
                    if (pos >= 0)
                        s[pos] = (char)('a' + c);
                    for (int grp = 0; grp < 2; grp++) {
                        if (grp == 1 && len % 2)
                            continue;
                        in_row r = {countries[grp], 1, 1, 1, 1.0, 1, s};
                        feed(g, &r, &scratch);
                        want[grp] += round == 0;
                    }
                }
            }
        }
    }
    assert_int_equal(sf_groups_prepare_export(g), 0);
    assert_int_result(g, "A", A_KINDS, want[0]);
    assert_int_result(g, "B", A_KINDS, want[1]);
    sf_arena_free(&scratch);
    sf_groups_free(g);
}

/* A table kept as the reduce table: the groups exported elsewhere are
 * retired; the rest take merges as before, and a retired key refuses
 * updates and records. */
static void test_retired_groups_are_skipped_and_refuse_updates(void **state)
{
    const aggs *a = *state;
    sf_groups *g = table_of(a, small, 6);
    long fr = group_of(g, "FR"), de = group_of(g, "DE");
    assert_true(fr >= 0 && de >= 0);
    size_t n = sf_groups_count(g);
    sf_buf rec = SF_BUF_INIT;
    assert_int_equal(sf_groups_export(g, (size_t)de, &rec), 0);
    sf_groups_retire(g, (size_t)de);
    sf_groups_retire(g, (size_t)de);
    assert_int_equal(sf_groups_count(g), n);
    assert_int_equal(sf_groups_live_count(g), n - 1);
    assert_false(sf_groups_live(g, (size_t)de));
    assert_true(sf_groups_live(g, (size_t)fr));
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_groups_merge_record(g, rec.p, rec.n, &err), SF_E_INVAL);
    sf_value row[NCOLS] = {sf_string("DE", 2), sf_int(1), sf_double(1), sf_int(1),
                           sf_string("a", 1)};
    unsigned char key[64];
    size_t klen = sf_value_encode(&row[C_COUNTRY], key);
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    assert_int_equal(sf_groups_update(g, key, klen, sf_groups_hash(key, klen), row, &scratch),
                     SF_E_INVAL);
    /* A live group still merges: FR twice over. */
    sf_groups *other = table_of(a, small, 6);
    rec.n = 0;
    assert_int_equal(sf_groups_export(other, (size_t)group_of(other, "FR"), &rec), 0);
    assert_int_equal(sf_groups_merge_record(g, rec.p, rec.n, &err), 0);
    assert_int_equal(sf_groups_prepare_export(g), 0);
    sf_groups *once = table_of(a, small, 6);
    assert_int_result(g, "FR", A_COUNT, 2 * result(once, "FR", A_COUNT).u.i);
    assert_int_result(g, "FR", A_USERS, result(once, "FR", A_USERS).u.i);
    sf_arena_free(&scratch);
    sf_buf_free(&rec);
    sf_groups_free(once);
    sf_groups_free(other);
    sf_groups_free(g);
}

/* sf_groups_value_fn that marks user values (int64 below 64) in a bitmask
 * and fails on a value listed twice. */
static int mark_user(void *ctx, const sf_value *v)
{
    uint64_t *seen = ctx;
    if (v->type != SF_INT || v->u.i < 0 || v->u.i >= 64 || (*seen >> v->u.i & 1))
        return -1;
    *seen |= 1ull << v->u.i;
    return 0;
}

/* A group's values after the first live in its own small vector, which
 * grows through its size classes (4, 8, 16, 32 values) and then moves
 * into the set's pair table: the count stays exact at every step, each
 * value is listed once wherever it lives, and tables split at any point
 * merge to the same counts. A retired group's vectors go back to the pool
 * (sf_groups_drop_retired) and are reused without mixing groups. */
static void test_count_distinct_small_vectors_grow_into_the_pair_table(void **state)
{
    const aggs *a = *state;
    enum { NROWS = 120, NUSERS = 50 };
    sf_groups *all = sf_groups_new(a->defs, NAGGS), *half[2];
    half[0] = sf_groups_new(a->defs, NAGGS);
    half[1] = sf_groups_new(a->defs, NAGGS);
    assert_non_null(all);
    assert_non_null(half[0]);
    assert_non_null(half[1]);
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    uint64_t want = 0;
    char kinds[NROWS][8];
    for (int k = 0; k < NROWS; k++) {
        /* 7 is prime to 50: every user once in the first 50 rows, then
         * again; DE rows in between take vectors from the same pool. */
        in_row fr = ROW("FR", k, 1.0, (k * 7) % NUSERS, kinds[k]);
        in_row de = ROW("DE", k, 2.0, (k * 3) % 11, "x");
        snprintf(kinds[k], sizeof kinds[k], "k%d", k % 37);
        feed(all, &fr, &scratch);
        feed(all, &de, &scratch);
        feed(half[k % 2], &fr, &scratch);
        want |= 1ull << ((k * 7) % NUSERS);
        assert_int_equal(sf_groups_prepare_export(all), 0);
        assert_int_result(all, "FR", A_USERS, __builtin_popcountll(want));
        assert_int_result(all, "FR", A_KINDS, k + 1 < 37 ? k + 1 : 37);
        assert_int_result(all, "DE", A_USERS, k + 1 < 11 ? k + 1 : 11);
        uint64_t seen = 0;
        assert_int_equal(
            sf_groups_distinct_values(all, (size_t)group_of(all, "FR"), A_USERS, mark_user, &seen),
            0);
        assert_true(seen == want);
    }
    /* The halves, exported and merged in both orders, give the same. */
    for (int order = 0; order < 2; order++) {
        sf_groups *m = sf_groups_new(a->defs, NAGGS);
        assert_non_null(m);
        sf_buf rec = SF_BUF_INIT;
        sf_error err;
        for (int t = 0; t < 2; t++) {
            sf_groups *from = half[order ^ t];
            assert_int_equal(sf_groups_prepare_export(from), 0);
            rec.n = 0;
            assert_int_equal(sf_groups_export(from, 0, &rec), 0);
            assert_int_equal(sf_groups_merge_record(m, rec.p, rec.n, &err), 0);
        }
        assert_int_equal(sf_groups_prepare_export(m), 0);
        assert_int_result(m, "FR", A_USERS, NUSERS);
        assert_int_result(m, "FR", A_KINDS, 37);
        sf_buf_free(&rec);
        sf_groups_free(m);
    }
    /* DE retired and dropped: its vectors are reused by FR's new values. */
    sf_groups_retire(all, (size_t)group_of(all, "DE"));
    assert_int_equal(sf_groups_drop_retired(all), 0);
    for (int k = 0; k < 20; k++) {
        in_row fr = ROW("FR", k, 1.0, NUSERS + (k % 10), "k0");
        in_row us = ROW("US", k, 1.0, k % 6, "k1");
        feed(all, &fr, &scratch);
        feed(all, &us, &scratch);
    }
    assert_int_equal(sf_groups_prepare_export(all), 0);
    assert_int_result(all, "FR", A_USERS, NUSERS + 10);
    assert_int_result(all, "US", A_USERS, 6);
    assert_int_result(all, "US", A_KINDS, 1);
    sf_arena_free(&scratch);
    sf_groups_free(all);
    sf_groups_free(half[0]);
    sf_groups_free(half[1]);
}

/* Each kind "k<n>" seen, as a bit of a 64-bit mask (n < 64); -1 on a
 * kind listed twice or not of that form. */
static int mark_kind(void *ctx, const sf_value *v)
{
    uint64_t *seen = ctx;
    if (v->type != SF_STRING || v->u.s.n < 2 || v->u.s.n > 3 || v->u.s.p[0] != 'k')
        return -1;
    int n = 0;
    for (size_t i = 1; i < v->u.s.n; i++) {
        if (v->u.s.p[i] < '0' || v->u.s.p[i] > '9')
            return -1;
        n = 10 * n + (v->u.s.p[i] - '0');
    }
    if (n >= 64 || (*seen >> n & 1))
        return -1;
    *seen |= 1ull << n;
    return 0;
}

/* A set of strings keeps its small vectors' values as 4-byte dictionary
 * ids: groups that grow side by side through every size class (4, 8, 16,
 * 32 values, then the pair table), taking and giving back vectors of one
 * pool, each list exactly their own strings, after every row; so do their
 * records merged into another table. */
static void test_count_distinct_of_strings_small_vectors_hold_every_id(void **state)
{
    const aggs *a = *state;
    enum { NGROUPS = 6, NKINDS = 40 };
    static const char *const countries[NGROUPS] = {"A", "B", "C", "D", "E", "F"};
    sf_groups *g = sf_groups_new(a->defs, NAGGS), *m = sf_groups_new(a->defs, NAGGS);
    assert_non_null(g);
    assert_non_null(m);
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    uint64_t want[NGROUPS] = {0};
    char kind[8];
    for (int step = 0; step < NKINDS; step++) {
        for (int c = 0; c < NGROUPS; c++) {
            /* Group c takes a new kind on every step up to its own limit
             * (8 + 6c: 8 .. 38), then repeats; the kinds differ in order
             * per group, so the dictionary's ids interleave. */
            int k = step < 8 + 6 * c ? (step * (2 * c + 1) + c) % NKINDS : c;
            if (want[c] >> k & 1 && step < 8 + 6 * c)
                k = __builtin_ctzll(~want[c]); /* the lowest kind not seen yet */
            snprintf(kind, sizeof kind, "k%d", k);
            in_row r = {countries[c], 1, 1, 1, 1.0, 1, kind};
            feed(g, &r, &scratch);
            want[c] |= 1ull << k;
        }
        assert_int_equal(sf_groups_prepare_export(g), 0);
        for (int c = 0; c < NGROUPS; c++) {
            assert_int_result(g, countries[c], A_KINDS, __builtin_popcountll(want[c]));
            uint64_t seen = 0;
            assert_int_equal(sf_groups_distinct_values(g, (size_t)group_of(g, countries[c]),
                                                       A_KINDS, mark_kind, &seen),
                             0);
            assert_true(seen == want[c]);
        }
    }
    sf_buf rec = SF_BUF_INIT;
    sf_error err;
    for (size_t i = 0; i < sf_groups_count(g); i++) {
        rec.n = 0;
        assert_int_equal(sf_groups_export(g, i, &rec), 0);
        assert_int_equal(sf_groups_merge_record(m, rec.p, rec.n, &err), 0);
    }
    assert_int_equal(sf_groups_prepare_export(m), 0);
    for (int c = 0; c < NGROUPS; c++) {
        uint64_t seen = 0;
        assert_int_equal(sf_groups_distinct_values(m, (size_t)group_of(m, countries[c]), A_KINDS,
                                                   mark_kind, &seen),
                         0);
        assert_true(seen == want[c]);
    }
    sf_buf_free(&rec);
    sf_arena_free(&scratch);
    sf_groups_free(g);
    sf_groups_free(m);
}

/* Exports every group of src and merges the records into dst (below). */
static void export_into(sf_groups *src, sf_groups *dst, int reverse);

/* A string set's small vectors hold 2-byte ids while their ids are below
 * 65536, and a vector moves to 4-byte ids at the first id past that
 * (the dictionary passed 65536 strings): groups of every size (no vector
 * yet, a full class, the last class, past it into the pair table) take
 * ids past 65536, then small ones and repeats, and list exactly their
 * strings, after a merge too. */
static void test_count_distinct_small_vectors_widen_past_65536_ids(void **state)
{
    const aggs *a = *state;
    enum { NG = 9 };
    static const char *const countries[NG] = {"A", "B", "C", "D", "E", "F", "G", "H", "I"};
    static const int before[NG] = {0, 1, 2, 5, 8, 9, 17, 31, 30};
    static const int after[NG] = {1, 2, 4, 1, 3, 4, 8, 1, 8};
    sf_groups *g = sf_groups_new(a->defs, NAGGS), *m = sf_groups_new(a->defs, NAGGS);
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    uint64_t want[NG] = {0};
    char kind[16];
    for (int c = 0; c < NG; c++) { /* ids 0-30 */
        for (int k = 0; k < before[c]; k++) {
            snprintf(kind, sizeof kind, "k%d", k);
            in_row r = {countries[c], 1, 1, 1, 1.0, 1, kind};
            feed(g, &r, &scratch);
            want[c] |= 1ull << k;
        }
    }
    for (int f = 0; f < 65536; f++) { /* the dictionary past 65536 */
        snprintf(kind, sizeof kind, "f%d", f);
        in_row r = {"Z", 1, 1, 1, 1.0, 1, kind};
        feed(g, &r, &scratch);
    }
    for (int c = 0; c < NG; c++) {
        for (int k = 0; k < after[c]; k++) { /* ids past 65536, a repeat */
            snprintf(kind, sizeof kind, "k%d", 32 + k);
            in_row r = {countries[c], 1, 1, 1, 1.0, 1, kind};
            feed(g, &r, &scratch);
            feed(g, &r, &scratch);
            want[c] |= 1ull << (32 + k);
        }
        for (int k = before[c]; k < before[c] + 2 && k < 32; k++) { /* small ids again */
            snprintf(kind, sizeof kind, "k%d", k);
            in_row r = {countries[c], 1, 1, 1, 1.0, 1, kind};
            feed(g, &r, &scratch);
            want[c] |= 1ull << k;
        }
        if (before[c]) {
            in_row r = {countries[c], 1, 1, 1, 1.0, 1, "k0"};
            feed(g, &r, &scratch);
        }
    }
    sf_arena_free(&scratch);
    assert_int_equal(sf_groups_prepare_export(g), 0);
    assert_int_result(g, "Z", A_KINDS, 65536);
    export_into(g, m, 0);
    assert_int_equal(sf_groups_prepare_export(m), 0);
    const sf_groups *both[2] = {g, m};
    for (int t = 0; t < 2; t++) {
        for (int c = 0; c < NG; c++) {
            assert_int_result(both[t], countries[c], A_KINDS, __builtin_popcountll(want[c]));
            uint64_t seen = 0;
            assert_int_equal(sf_groups_distinct_values(both[t],
                                                       (size_t)group_of(both[t], countries[c]),
                                                       A_KINDS, mark_kind, &seen),
                             0);
            assert_true(seen == want[c]);
        }
    }
    sf_groups_free(g);
    sf_groups_free(m);
}

static void test_count_distinct_is_per_group(void **state)
{
    /* The same user in two groups counts once in each. */
    const in_row rows[] = {
        ROW("FR", 1, 1, 5, "a"), ROW("DE", 1, 1, 5, "a"), ROW("FR", 1, 1, 5, "a"),
        ROW("DE", 1, 1, 6, "a"),
    };
    sf_groups *g = table_of(*state, rows, 4);
    assert_int_result(g, "FR", A_USERS, 1);
    assert_int_result(g, "DE", A_USERS, 2);
    sf_groups_free(g);
}

static void test_null_inputs_are_skipped(void **state)
{
    const in_row rows[] = {
        ROW("FR", 4, 2.0, 1, "buy"),
        {"FR", 0, 0, 0, 0, -1, NULL},
        ROW("FR", 2, 6.0, 1, "view"),
        {"FR", 0, 0, 1, -1.0, 2, NULL},
    };
    sf_groups *g = table_of(*state, rows, 4);
    assert_int_result(g, "FR", A_COUNT, 4);
    assert_int_result(g, "FR", A_BUYS, 1);
    assert_int_result(g, "FR", A_SUM_N, 6);
    assert_double_result(g, "FR", A_SUM_PRICE, 7.0);
    assert_double_result(g, "FR", A_MEAN_N, 3.0);
    assert_double_result(g, "FR", A_MEAN_PRICE, 7.0 / 3.0);
    assert_int_result(g, "FR", A_MIN_N, 2);
    assert_double_result(g, "FR", A_MIN_PRICE, -1.0);
    assert_string_result(g, "FR", A_MIN_KIND, "buy");
    assert_int_result(g, "FR", A_USERS, 2);
    assert_int_result(g, "FR", A_KINDS, 2);
    assert_int_result(g, "FR", A_PRICES, 3);
    sf_groups_free(g);
}

static void test_group_with_only_nulls_gives_null_sums_and_zero_counts(void **state)
{
    const in_row rows[] = {
        {"XX", 0, 0, 0, 0, -1, NULL},
        {"XX", 0, 0, 0, 0, -1, NULL},
    };
    sf_groups *g = table_of(*state, rows, 2);
    assert_int_result(g, "XX", A_COUNT, 2);
    assert_int_result(g, "XX", A_BUYS, 0);
    assert_null_result(g, "XX", A_SUM_N);
    assert_null_result(g, "XX", A_SUM_PRICE);
    assert_null_result(g, "XX", A_MEAN_N);
    assert_null_result(g, "XX", A_MEAN_PRICE);
    assert_null_result(g, "XX", A_MIN_PRICE);
    assert_null_result(g, "XX", A_MAX_N);
    assert_null_result(g, "XX", A_MAX_KIND);
    assert_int_result(g, "XX", A_USERS, 0);
    assert_int_result(g, "XX", A_PRICES, 0);
    sf_groups_free(g);
}

static void test_null_key_is_a_group_of_its_own(void **state)
{
    const in_row rows[] = {ROW(NULL, 1, 1, 1, "a"), ROW("", 2, 1, 1, "a"),
                           ROW(NULL, 3, 1, 1, "a")};
    sf_groups *g = table_of(*state, rows, 3);
    assert_int_equal(sf_groups_count(g), 2);
    assert_int_result(g, NULL, A_SUM_N, 4);
    assert_int_result(g, "", A_SUM_N, 2);
    sf_groups_free(g);
}

static void test_int64_sum_overflow_sets_overflow(void **state)
{
    const in_row rows[] = {ROW("FR", INT64_MAX, 0, 1, "a"), ROW("FR", 1, 0, 1, "a"),
                           ROW("DE", INT64_MIN, 0, 1, "a"), ROW("DE", -1, 0, 1, "a")};
    sf_groups *g = table_of(*state, rows, 4);
    int overflow = 0;
    sf_value v = sf_groups_result(g, (size_t)group_of(g, "FR"), A_SUM_N, &overflow);
    assert_int_equal(overflow, 1);
    assert_int_equal(v.type, SF_NULL);
    overflow = 0;
    v = sf_groups_result(g, (size_t)group_of(g, "DE"), A_SUM_N, &overflow);
    assert_int_equal(overflow, 1);
    assert_int_equal(v.type, SF_NULL);
    /* mean of the same values does not overflow. */
    overflow = 0;
    v = sf_groups_result(g, (size_t)group_of(g, "FR"), A_MEAN_N, &overflow);
    assert_int_equal(overflow, 0);
    assert_int_equal(v.type, SF_DOUBLE);
    assert_true(v.u.d == 4611686018427387904.0);
    sf_groups_free(g);
}

static void test_result_row_gives_every_result_and_the_worst_overflow(void **state)
{
    const in_row rows[] = {ROW("FR", INT64_MAX, 1.5, 1, "a"), ROW("FR", 1, 2.0, 2, "b"),
                           ROW("DE", 4, 0.25, 1, "c")};
    sf_groups *g = table_of(*state, rows, 3);
    assert_int_equal(sf_groups_prepare_export(g), 0);
    for (size_t i = 0; i < sf_groups_count(g); i++) {
        sf_value out[NAGGS];
        size_t bad = SIZE_MAX;
        int worst = sf_groups_result_row(g, i, out, &bad);
        int want_worst = 0;
        for (size_t j = 0; j < NAGGS; j++) {
            int overflow = 0;
            sf_value v = sf_groups_result(g, i, j, &overflow);
            want_worst |= overflow;
            assert_int_equal(out[j].type, v.type);
            assert_int_equal(sf_value_cmp(&out[j], &v), 0);
        }
        /* FR's int64 sum left the range: 1, and no aggregate is named. */
        assert_int_equal(worst, want_worst);
        assert_int_equal(worst, (long)i == group_of(g, "FR") ? 1 : 0);
        assert_int_equal(bad, SIZE_MAX);
    }
    sf_groups_free(g);
}

static void test_int64_sum_may_pass_beyond_range_and_come_back(void **state)
{
    const in_row rows[] = {ROW("FR", INT64_MAX, 0, 1, "a"), ROW("FR", INT64_MAX, 0, 1, "a"),
                           ROW("FR", INT64_MIN, 0, 1, "a"), ROW("FR", -2, 0, 1, "a")};
    sf_groups *g = table_of(*state, rows, 4);
    assert_int_result(g, "FR", A_SUM_N, INT64_MAX - 3);
    sf_groups_free(g);
}

/* ---- split, export, merge ---- */

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

#define NGEN 240

/* Rows whose double sums depend on addition order and whose users repeat
 * across groups and splits. */
static void generate(in_row *rows)
{
    static const char *const countries[] = {"FR", "DE", "US", "", NULL};
    static const char *const kinds[] = {"buy", "view", "cart", NULL};
    static const double prices[] = {0.1, 1e16, -1e16, 3.3, 1e-3, 0.7, 2.5e-8, -0.1, 1e100,
                                    -1e100, 123.456};
    uint64_t s = 42;
    for (int i = 0; i < NGEN; i++) {
        in_row *r = &rows[i];
        r->country = countries[lcg(&s) % 5];
        r->has_n = i % 7 != 3;
        r->n = (int64_t)(lcg(&s) % 2001) - 1000;
        if (i % 31 == 0) /* partial sums may leave int64 on the way */
            r->n = i % 62 == 0 ? INT64_MAX / 2 : -(INT64_MAX / 2);
        r->has_price = i % 5 != 1;
        r->price = prices[lcg(&s) % 11];
        r->user = i % 13 == 0 ? -1 : (int64_t)(lcg(&s) % 12);
        r->kind = kinds[lcg(&s) % 4];
    }
}

/* Exports every group of src and merges the records into dst. */
static void export_into(sf_groups *src, sf_groups *dst, int reverse)
{
    assert_int_equal(sf_groups_prepare_export(src), 0);
    size_t n = sf_groups_count(src);
    for (size_t k = 0; k < n; k++) {
        size_t i = reverse ? n - 1 - k : k;
        sf_buf rec = SF_BUF_INIT;
        assert_int_equal(sf_groups_export(src, i, &rec), 0);
        sf_error err;
        sf_error_clear(&err);
        assert_int_equal(sf_groups_merge_record(dst, rec.p, rec.n, &err), 0);
        memset(rec.p, 0xcd, rec.n); /* merged results must not borrow the record */
        sf_buf_free(&rec);
    }
}

/* The index of the group of g whose key is key (its hash in *hash), or
 * -1. */
static long index_of_key(const sf_groups *g, const unsigned char *key, size_t klen,
                         uint64_t *hash)
{
    long k = -1;
    for (size_t m = 0; m < sf_groups_count(g); m++) {
        const unsigned char *key2;
        size_t klen2;
        uint64_t hash2;
        sf_groups_key(g, m, &key2, &klen2, &hash2);
        if (klen2 == klen && memcmp(key2, key, klen) == 0) {
            k = (long)m;
            *hash = hash2;
        }
    }
    return k;
}

/* Each group of want is in got, aggregate j of got's results being
 * aggregate cols[j] of want's (n of them; cols NULL: all NAGGS, j for j). */
static void assert_same_results_of(const sf_groups *want, const sf_groups *got, const int *cols,
                                   size_t n)
{
    assert_int_equal(sf_groups_count(want), sf_groups_count(got));
    for (size_t i = 0; i < sf_groups_count(want); i++) {
        const unsigned char *key;
        size_t klen;
        uint64_t hash;
        sf_groups_key(want, i, &key, &klen, &hash);
        uint64_t hash2 = 0;
        long k = index_of_key(got, key, klen, &hash2);
        assert_true(k >= 0);
        assert_int_equal(hash2, hash);
        for (size_t j = 0; j < n; j++) {
            int o1 = 0, o2 = 0;
            sf_value a = sf_groups_result(want, i, cols ? (size_t)cols[j] : j, &o1);
            sf_value b = sf_groups_result(got, (size_t)k, j, &o2);
            assert_int_equal(o1, o2);
            /* sf_value_same compares doubles bit for bit. */
            assert_int_equal(a.type, b.type);
            assert_true(sf_value_same(&a, &b));
        }
    }
}

static void assert_same_results(const sf_groups *want, const sf_groups *got)
{
    assert_same_results_of(want, got, NULL, NAGGS);
}

/* An int64 sum is kept in 8 bytes while it fits and moves to the
 * table's side array of 128-bit sums at the first add or merge that
 * would leave int64: 200 groups go there (the array grows past its
 * first 64), one by each of its ways (a row; a merged partial in range
 * that overflows the total; a merged partial beyond int64), and come
 * back; results, means and records are the same as a reference sum's,
 * also after the live groups' blocks moved (sf_groups_drop_retired). */
static void test_int64_sums_widen_through_rows_merges_and_moves(void **state)
{
    const aggs *a = *state;
    enum { NG = 300 };
    static char names[NG][8];
    sf_groups *g = sf_groups_new(a->defs, NAGGS), *part = sf_groups_new(a->defs, NAGGS);
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    __int128 want[NG];
    int64_t nrows[NG];
    for (int k = 0; k < NG; k++) {
        snprintf(names[k], sizeof names[k], "i%d", k);
        int64_t big = k % 2 ? INT64_MIN + k : INT64_MAX - k;
        in_row r = ROW(names[k], big, 1.0, 1, "a");
        want[k] = big;
        nrows[k] = 1;
        feed(g, &r, &scratch);
        if (k % 3 == 0 && k < 200) { /* a row past int64 */
            feed(g, &r, &scratch);
            want[k] += big;
            nrows[k]++;
        }
        if (k % 3 == 1 && k < 200) { /* a partial in range, the total past */
            feed(part, &r, &scratch);
            want[k] += big;
            nrows[k]++;
        }
        if (k % 3 == 2 && k < 200) { /* a partial past int64 itself */
            feed(part, &r, &scratch);
            feed(part, &r, &scratch);
            want[k] += 2 * (__int128)big;
            nrows[k] += 2;
        }
        if (k % 5 == 0) { /* and back into range */
            in_row back = ROW(names[k], k % 2 ? INT64_MAX : INT64_MIN, 1.0, 1, "a");
            feed(g, &back, &scratch);
            want[k] += k % 2 ? INT64_MAX : INT64_MIN;
            nrows[k]++;
        }
    }
    sf_arena_free(&scratch);
    export_into(part, g, 1);
    for (int pass = 0; pass < 2; pass++) {
        assert_int_equal(sf_groups_prepare_export(g), 0);
        sf_groups *copy = sf_groups_new(a->defs, NAGGS);
        for (size_t i = 0; i < sf_groups_count(g); i++) {
            if (!sf_groups_live(g, i))
                continue;
            sf_buf rec = SF_BUF_INIT;
            assert_int_equal(sf_groups_export(g, i, &rec), 0);
            sf_error err;
            sf_error_clear(&err);
            assert_int_equal(sf_groups_merge_record(copy, rec.p, rec.n, &err), 0);
            sf_buf_free(&rec);
        }
        assert_int_equal(sf_groups_prepare_export(copy), 0);
        const sf_groups *both[2] = {g, copy};
        for (int t = 0; t < 2; t++) {
            for (int k = 0; k < NG; k++) {
                long i = group_of(both[t], names[k]);
                if (pass && k % 7 == 0) {
                    assert_true(i < 0 || !sf_groups_live(both[t], (size_t)i));
                    continue;
                }
                assert_true(i >= 0);
                int overflow = 0;
                sf_value v = sf_groups_result(both[t], (size_t)i, A_SUM_N, &overflow);
                if (want[k] > INT64_MAX || want[k] < INT64_MIN) {
                    assert_int_equal(overflow, 1);
                    assert_int_equal(v.type, SF_NULL);
                } else {
                    assert_int_equal(overflow, 0);
                    assert_int_equal(v.type, SF_INT);
                    assert_true(v.u.i == (int64_t)want[k]);
                }
                overflow = 0;
                v = sf_groups_result(both[t], (size_t)i, A_MEAN_N, &overflow);
                assert_int_equal(overflow, 0);
                assert_int_equal(v.type, SF_DOUBLE);
                assert_true(v.u.d == (double)want[k] / (double)nrows[k]);
                assert_int_equal(sf_groups_rows(both[t], (size_t)i), nrows[k]);
            }
        }
        sf_groups_free(copy);
        if (pass == 0) {
            for (int k = 0; k < NG; k += 7)
                sf_groups_retire(g, (size_t)group_of(g, names[k]));
            assert_int_equal(sf_groups_drop_retired(g), 0);
        }
    }
    sf_groups_free(part);
    sf_groups_free(g);
}

/* *g fed rows in order, and *merged from two tables fed the even and the
 * odd rows, exported and merged (the odd rows' first); both prepared. */
static void fed_and_merged(const sf_agg_def *defs, size_t ndefs, const in_row *rows,
                           size_t nrows, sf_groups **g, sf_groups **merged)
{
    sf_groups *halves[2] = {sf_groups_new(defs, ndefs), sf_groups_new(defs, ndefs)};
    *g = sf_groups_new(defs, ndefs);
    *merged = sf_groups_new(defs, ndefs);
    assert_true(*g && *merged && halves[0] && halves[1]);
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    for (size_t r = 0; r < nrows; r++) {
        feed(*g, &rows[r], &scratch);
        feed(halves[r % 2], &rows[r], &scratch);
    }
    sf_arena_free(&scratch);
    export_into(halves[1], *merged, 0);
    export_into(halves[0], *merged, 1);
    assert_int_equal(sf_groups_prepare_export(*g), 0);
    assert_int_equal(sf_groups_prepare_export(*merged), 0);
    sf_groups_free(halves[0]);
    sf_groups_free(halves[1]);
}

/* In g, every aggregate j < ndefs of the groups NO, FR, DE and US gives
 * the same value as aggregate j % period. */
static void assert_repeats_agree(const sf_groups *g, int ndefs, int period)
{
    static const char *const keys[] = {"NO", "FR", "DE", "US"};
    for (int k = 0; k < 4; k++) {
        for (int j = 0; j < ndefs; j++) {
            sf_value v = result(g, keys[k], j), w = result(g, keys[k], j % period);
            assert_int_equal(v.type, w.type);
            assert_true(sf_value_same(&v, &w));
        }
    }
}

/* A table keeps its first 24 min/max of doubles in 8 bytes each and any
 * more as sf_values: both kinds give the same results, through a merge
 * too, for groups of no value, NULLs first, NaN and signed zeros. */
static void test_min_max_of_doubles_past_the_flags_agree(void **state)
{
    const aggs *a = *state;
    enum { NMM = 30 };
    sf_agg_def defs[NMM];
    for (int j = 0; j < NMM; j++)
        defs[j] = a->defs[j % 2 ? A_MAX_PRICE : A_MIN_PRICE];
    const in_row rows[] = {
        {"NO", 0, 0, 0, 0, 1, "a"},     {"NO", 0, 0, 0, 0, 1, "a"},
        {"FR", 0, 0, 0, 0, 1, "a"},     {"FR", 0, 0, 1, -0.0, 1, "a"},
        {"FR", 0, 0, 1, 0.0, 1, "a"},   {"DE", 0, 0, 1, NAN, 1, "a"},
        {"DE", 0, 0, 1, 5.0, 1, "a"},   {"DE", 0, 0, 1, -7.5, 1, "a"},
        {"US", 0, 0, 1, 1e300, 1, "a"}, {"US", 0, 0, 1, -1e-300, 1, "a"},
    };
    sf_groups *g, *merged;
    fed_and_merged(defs, NMM, rows, sizeof rows / sizeof rows[0], &g, &merged);
    const sf_groups *both[2] = {g, merged};
    for (int t = 0; t < 2; t++) {
        assert_repeats_agree(both[t], NMM, 2);
        assert_null_result(both[t], "NO", 0);
        assert_null_result(both[t], "NO", NMM - 1);
        assert_true(isnan(result(both[t], "DE", NMM - 1).u.d));
        sf_value mn = result(both[t], "DE", NMM - 2);
        assert_true(mn.u.d == -7.5);
    }
    /* -0.0 came first in FR: it stays as both the min and the max of the
     * table fed in order. */
    assert_double_result(g, "FR", NMM - 2, -0.0);
    assert_double_result(g, "FR", NMM - 1, -0.0);
    sf_groups_free(merged);
    sf_groups_free(g);
}

/* The same for min and max of int64, date and timestamp arguments: the
 * first 24 in 8 bytes each, the rest as sf_values ordered by
 * sf_value_cmp, through updates and a merge, at the int64 bounds, for
 * groups of no value and NULLs first. */
static void test_min_max_of_ints_dates_and_timestamps_past_the_flags_agree(void **state)
{
    (void)state;
    static const char *const texts[] = {"min(n)",   "max(n)",  "min(day)",
                                        "max(day)", "min(at)", "max(at)"};
    enum { NT = 6, NMM = 30 };
    sf_expr *exprs[NT];
    sf_agg_def kinds[NT], defs[NMM];
    const sf_expr_columns cols = {resolve, NULL, NULL};
    for (int t = 0; t < NT; t++) {
        sf_error err;
        sf_error_clear(&err);
        exprs[t] = sf_expr_parse(texts[t], &cols, SF_EXPR_ALLOW_AGG, &err);
        assert_non_null(exprs[t]);
        kinds[t].kind = sf_expr_agg_kind(exprs[t]);
        kinds[t].arg = sf_expr_agg_arg(exprs[t]);
        kinds[t].arg_type = sf_expr_type(kinds[t].arg);
        kinds[t].out_type = sf_expr_type(exprs[t]);
    }
    for (int j = 0; j < NMM; j++)
        defs[j] = kinds[j % NT];
    const in_row rows[] = {
        {"NO", 0, 0, 0, 0, 1, "a"},          {"NO", 0, 0, 0, 0, 1, "a"},
        {"FR", 0, 0, 0, 0, 1, "a"},          {"FR", 1, 5, 0, 0, 1, "a"},
        {"FR", 1, -3, 0, 0, 1, "a"},         {"FR", 1, 5, 0, 0, 1, "a"},
        {"DE", 1, INT64_MAX, 0, 0, 1, "a"},  {"DE", 1, INT64_MIN, 0, 0, 1, "a"},
        {"DE", 1, 0, 0, 0, 1, "a"},          {"US", 1, 1754006400, 0, 0, 1, "a"},
        {"US", 1, -1754006400, 0, 0, 1, "a"}, {"US", 0, 0, 0, 0, 1, "a"},
    };
    sf_groups *g, *merged;
    fed_and_merged(defs, NMM, rows, sizeof rows / sizeof rows[0], &g, &merged);
    const sf_groups *both[2] = {g, merged};
    for (int t = 0; t < 2; t++) {
        assert_repeats_agree(both[t], NMM, NT);
        for (int j = NMM - NT; j < NMM; j++)
            assert_null_result(both[t], "NO", j);
        sf_value v = result(both[t], "FR", NMM - NT);
        assert_true(v.type == SF_INT && v.u.i == -3);
        v = result(both[t], "FR", NMM - NT + 1);
        assert_true(v.type == SF_INT && v.u.i == 5);
        v = result(both[t], "DE", NMM - NT);
        assert_true(v.type == SF_INT && v.u.i == INT64_MIN);
        v = result(both[t], "DE", NMM - NT + 5);
        assert_true(v.type == SF_TIMESTAMP && v.u.i == INT64_MAX);
        v = result(both[t], "US", NMM - NT + 2);
        assert_true(v.type == SF_DATE && v.u.date == (int32_t)(-1754006400 % 1000000007));
        v = result(both[t], "US", NMM - NT + 3);
        assert_true(v.type == SF_DATE && v.u.date == (int32_t)(1754006400 % 1000000007));
    }
    sf_groups_free(merged);
    sf_groups_free(g);
    for (int t = 0; t < NT; t++)
        sf_expr_free(exprs[t]);
}

static void test_split_in_any_order_merges_to_identical_results(void **state)
{
    const aggs *a = *state;
    static in_row rows[NGEN];
    generate(rows);
    sf_groups *whole = table_of(a, rows, NGEN);

    /* Split 1: three tables, round robin, fed forward. */
    sf_groups *parts[3];
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    for (int t = 0; t < 3; t++)
        parts[t] = sf_groups_new(a->defs, NAGGS);
    for (int i = 0; i < NGEN; i++)
        feed(parts[i % 3], &rows[i], &scratch);
    sf_groups *merged = sf_groups_new(a->defs, NAGGS);
    export_into(parts[2], merged, 0);
    export_into(parts[0], merged, 1);
    export_into(parts[1], merged, 0);
    for (int t = 0; t < 3; t++)
        sf_groups_free(parts[t]);
    assert_int_equal(sf_groups_prepare_export(merged), 0);
    assert_same_results(whole, merged);
    sf_groups_free(merged);

    /* Split 2: two uneven tables in contiguous blocks, fed backwards. */
    for (int t = 0; t < 2; t++)
        parts[t] = sf_groups_new(a->defs, NAGGS);
    for (int i = NGEN - 1; i >= 0; i--)
        feed(parts[i < 50 ? 0 : 1], &rows[i], &scratch);
    merged = sf_groups_new(a->defs, NAGGS);
    export_into(parts[1], merged, 1);
    export_into(parts[0], merged, 0);
    for (int t = 0; t < 2; t++)
        sf_groups_free(parts[t]);
    assert_int_equal(sf_groups_prepare_export(merged), 0);
    assert_same_results(whole, merged);
    sf_groups_free(merged);
    sf_arena_free(&scratch);
    sf_groups_free(whole);
}

/* Tables of a few of the aggregates, in orders where the ops interleave
 * and repeat, run the update compiled per table (one aggregate of each
 * op: the straight path of its signature; two of an op: a loop per op;
 * a min: the walk over every case). Each result equals that aggregate's
 * in a table of all of them (which has a min: the walk). */
/* The aggregates of the setup and one more, count_if(kind == 'view'),
 * whose argument has an inline test (a literal of 4 bytes: 'buy' has
 * none), at A_VIEWS: into all[NAGGS + 1]; its expression goes to *views
 * (the caller frees it). */
enum { A_VIEWS = NAGGS };

static void defs_with_views(const aggs *a, sf_agg_def *all, sf_expr **views)
{
    const sf_expr_columns cols = {resolve, NULL, NULL};
    sf_error err;
    sf_error_clear(&err);
    *views = sf_expr_parse("count_if(kind == 'view')", &cols, SF_EXPR_ALLOW_AGG, &err);
    assert_non_null(*views);
    memcpy(all, a->defs, sizeof a->defs);
    all[A_VIEWS] = (sf_agg_def){.kind = sf_expr_agg_kind(*views),
                                .arg = sf_expr_agg_arg(*views),
                                .arg_type = SF_BOOL,
                                .out_type = sf_expr_type(*views)};
    sf_expr_leaf leaf;
    sf_expr_leaf_of(all[A_VIEWS].arg, &leaf);
    assert_int_equal(leaf.kind, SF_LEAF_STR);
}

static void test_compiled_update_gives_the_results_of_every_order(void **state)
{
    const aggs *a = *state;
    sf_expr *views;
    sf_agg_def all[NAGGS + 1];
    defs_with_views(a, all, &views);
    static in_row rows[NGEN];
    generate(rows);
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    sf_groups *whole = sf_groups_new(all, NAGGS + 1);
    assert_non_null(whole);
    for (int i = 0; i < NGEN; i++)
        feed(whole, &rows[i], &scratch);
    assert_int_equal(sf_groups_prepare_export(whole), 0);
    static const int sets[][8] = {
        {A_COUNT, A_VIEWS, A_SUM_PRICE, A_USERS, -1},
        {A_USERS, A_SUM_PRICE, A_VIEWS, A_SUM_N, A_COUNT, -1},
        {A_KINDS, A_SUM_N, A_COUNT, A_USERS, A_VIEWS, A_COUNT, A_MEAN_N, -1},
        {A_PRICES, A_MEAN_PRICE, A_SUM_PRICE, A_VIEWS, A_VIEWS, -1},
        {A_SUM_N, A_VIEWS, -1},
        {A_USERS, A_MIN_PRICE, A_VIEWS, A_COUNT, -1},
    };
    for (size_t t = 0; t < sizeof sets / sizeof sets[0]; t++) {
        sf_agg_def defs[8];
        size_t n = 0;
        while (sets[t][n] >= 0) {
            defs[n] = all[sets[t][n]];
            n++;
        }
        sf_groups *g = sf_groups_new(defs, n);
        assert_non_null(g);
        for (int i = 0; i < NGEN; i++)
            feed(g, &rows[i], &scratch);
        assert_int_equal(sf_groups_prepare_export(g), 0);
        assert_same_results_of(whole, g, sets[t], n);
        sf_groups_free(g);
    }
    sf_arena_free(&scratch);
    sf_groups_free(whole);
    sf_expr_free(views);
}

/* Thousands of groups whose keys run through every length from 1 to 60
 * bytes: the table's index grows many times and blocks of every padding
 * are laid out, yet each group keeps its key, hash, insertion index and
 * states, and an export/merge in reverse gives identical results. */
static void test_many_groups_of_every_key_length_survive_growth(void **state)
{
    const aggs *a = *state;
    enum { NG = 3000 };
    static char names[NG][64];
    static in_row rows[2 * NG];
    for (int i = 0; i < NG; i++) {
        int len = 1 + i % 60;
        int head = snprintf(names[i], sizeof names[i], "%d-", i);
        for (int b = head; b < len; b++)
            names[i][b] = (char)('a' + (i + b) % 26);
        names[i][len > head ? len : head] = '\0';
        in_row r = ROW(names[i], i, 0.25 * i, i % 7, i % 2 ? "buy" : "view");
        rows[2 * i] = r;
        rows[2 * i + 1] = r;
    }
    sf_groups *g = table_of(a, rows, 2 * NG);
    assert_int_equal(sf_groups_count(g), NG);
    for (int i = 0; i < NG; i++) {
        const unsigned char *key;
        size_t klen;
        uint64_t hash;
        sf_groups_key(g, (size_t)i, &key, &klen, &hash);
        sf_value v = sf_string(names[i], strlen(names[i]));
        unsigned char want[64];
        size_t wlen = sf_value_encode(&v, want);
        assert_int_equal(klen, wlen);
        assert_memory_equal(key, want, wlen);
        assert_int_equal(hash, sf_groups_hash(key, klen));
        assert_int_equal(sf_groups_rows(g, (size_t)i), 2);
        int overflow = 0;
        assert_int_equal(sf_groups_result(g, (size_t)i, A_COUNT, &overflow).u.i, 2);
        assert_int_equal(sf_groups_result(g, (size_t)i, A_SUM_N, &overflow).u.i, 2 * i);
    }
    sf_groups *merged = sf_groups_new(a->defs, NAGGS);
    assert_non_null(merged);
    export_into(g, merged, 1);
    assert_int_equal(sf_groups_prepare_export(merged), 0);
    assert_same_results(g, merged);
    sf_groups_free(merged);
    sf_groups_free(g);
}

static void test_merged_tables_merge_again_identically(void **state)
{
    /* Two levels, as a tree reduction would: (p0 + p1) + (p2 + p3). */
    const aggs *a = *state;
    static in_row rows[NGEN];
    generate(rows);
    sf_groups *whole = table_of(a, rows, NGEN);
    sf_groups *parts[4];
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    for (int t = 0; t < 4; t++)
        parts[t] = sf_groups_new(a->defs, NAGGS);
    for (int i = 0; i < NGEN; i++)
        feed(parts[(i * 7) % 4], &rows[i], &scratch);
    sf_arena_free(&scratch);
    sf_groups *left = sf_groups_new(a->defs, NAGGS), *right = sf_groups_new(a->defs, NAGGS);
    export_into(parts[0], left, 0);
    export_into(parts[1], left, 1);
    export_into(parts[3], right, 0);
    export_into(parts[2], right, 0);
    sf_groups *top = sf_groups_new(a->defs, NAGGS);
    export_into(right, top, 1);
    export_into(left, top, 0);
    assert_int_equal(sf_groups_prepare_export(top), 0);
    assert_same_results(whole, top);
    for (int t = 0; t < 4; t++)
        sf_groups_free(parts[t]);
    sf_groups_free(left);
    sf_groups_free(right);
    sf_groups_free(top);
    sf_groups_free(whole);
}

/* A group per magnitude: its integer sum is 0 or +-2^k (k < 64, and
 * -2^64) and its double sum +-2^(k-63) (k < 127, past the compact sum's
 * 127 bits at the top), so the records' 128-bit sums take every byte
 * count their form has (0 to 16) and both forms of a double sum. Split
 * over two tables and merged, each gives the whole table's results. */
static void test_sums_of_every_width_survive_export_and_merge(void **state)
{
    const aggs *a = *state;
    enum { NW = 129 };
    static char names[NW][8];
    static in_row rows[2 * NW];
    size_t n = 0;
    for (int k = 0; k < NW; k++) {
        snprintf(names[k], sizeof names[k], "w%d", k);
        int sign = k % 2 ? -1 : 1;
        int64_t m = k < 63 ? (int64_t)1 << k : INT64_MAX;
        double p = ldexp(1.0, k - 64);
        for (int r = 0; r < 2; r++) {
            in_row *row = &rows[n++];
            *row = (in_row){names[k], 1, sign * m, 1, sign * p, k, "buy"};
            if (k == NW - 2) /* opposite halves: sums of 0 */
                row->n = r ? -5 : 5, row->price = r ? -1.5 : 1.5;
            if (k == NW - 1) /* -2^64 */
                row->n = INT64_MIN;
        }
    }
    sf_groups *whole = table_of(a, rows, n);
    sf_groups *parts[2];
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    for (int t = 0; t < 2; t++)
        parts[t] = sf_groups_new(a->defs, NAGGS);
    for (size_t i = 0; i < n; i++)
        feed(parts[i % 2], &rows[i], &scratch);
    sf_arena_free(&scratch);
    sf_groups *merged = sf_groups_new(a->defs, NAGGS);
    export_into(parts[1], merged, 0);
    export_into(parts[0], merged, 1);
    assert_int_equal(sf_groups_prepare_export(merged), 0);
    assert_same_results(whole, merged);
    assert_int_result(whole, "w3", A_SUM_N, -16);
    assert_int_result(merged, "w127", A_SUM_N, 0);
    assert_double_result(merged, "w1", A_SUM_PRICE, -ldexp(1.0, -62));
    for (int t = 0; t < 2; t++)
        sf_groups_free(parts[t]);
    sf_groups_free(merged);
    sf_groups_free(whole);
}

/* min and max of doubles order them as sf_value_cmp does: NaN above
 * every number, and of two equal values (0.0 and -0.0) the first stays;
 * through updates and through a merge alike. */
static void test_min_max_of_doubles_order_nan_and_signed_zeros(void **state)
{
    const aggs *a = *state;
    const in_row rows[] = {
        {"FR", 0, 0, 1, 0.0, 1, "buy"},  {"FR", 0, 0, 1, -0.0, 1, "buy"},
        {"FR", 0, 0, 1, 3.5, 1, "buy"},  {"FR", 0, 0, 1, NAN, 1, "buy"},
        {"FR", 0, 0, 1, -2.0, 1, "buy"}, {"DE", 0, 0, 1, -0.0, 1, "buy"},
        {"DE", 0, 0, 1, 0.0, 1, "buy"},  {"US", 0, 0, 1, 0.0, 1, "buy"},
        {"US", 0, 0, 0, 0, 1, "buy"},    {"US", 0, 0, 1, -0.0, 1, "buy"},
    };
    sf_groups *g = table_of(a, rows, sizeof rows / sizeof rows[0]);
    sf_groups *merged = sf_groups_new(a->defs, NAGGS);
    export_into(g, merged, 1);
    assert_int_equal(sf_groups_prepare_export(merged), 0);
    const sf_groups *both[2] = {g, merged};
    for (int t = 0; t < 2; t++) {
        assert_double_result(both[t], "FR", A_MIN_PRICE, -2.0);
        sf_value mx = result(both[t], "FR", A_MAX_PRICE);
        assert_int_equal(mx.type, SF_DOUBLE);
        assert_true(isnan(mx.u.d));
        assert_double_result(both[t], "DE", A_MIN_PRICE, -0.0);
        assert_double_result(both[t], "DE", A_MAX_PRICE, -0.0);
        assert_double_result(both[t], "US", A_MIN_PRICE, 0.0);
        assert_double_result(both[t], "US", A_MAX_PRICE, 0.0);
    }
    sf_groups_free(merged);
    sf_groups_free(g);
}

static void test_count_distinct_exact_across_overlapping_splits(void **state)
{
    const aggs *a = *state;
    /* Every split sees users 0..9 of FR; each also has one of its own. */
    sf_groups *parts[3];
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    for (int t = 0; t < 3; t++) {
        parts[t] = sf_groups_new(a->defs, NAGGS);
        for (int u = 0; u < 10; u++) {
            in_row r = ROW("FR", 1, 1, (9 - u + t * 3) % 10, "a");
            feed(parts[t], &r, &scratch);
            feed(parts[t], &r, &scratch);
        }
        in_row own = ROW("FR", 1, 1, 100 + t, "a");
        feed(parts[t], &own, &scratch);
    }
    sf_arena_free(&scratch);
    sf_groups *merged = sf_groups_new(a->defs, NAGGS);
    for (int t = 0; t < 3; t++) {
        assert_int_equal(sf_groups_prepare_export(parts[t]), 0);
        assert_int_result(parts[t], "FR", A_USERS, 11);
        export_into(parts[t], merged, 0);
    }
    assert_int_equal(sf_groups_prepare_export(merged), 0);
    assert_int_result(merged, "FR", A_USERS, 13);
    assert_int_result(merged, "FR", A_COUNT, 63);
    assert_int_result(merged, "FR", A_KINDS, 1);
    for (int t = 0; t < 3; t++)
        sf_groups_free(parts[t]);
    sf_groups_free(merged);
}

static void test_prepare_after_more_updates_recounts_distinct(void **state)
{
    const aggs *a = *state;
    sf_groups *g = table_of(a, small, 6);
    assert_int_result(g, "FR", A_USERS, 2);
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    in_row more = ROW("FR", 1, 1, 77, "buy");
    feed(g, &more, &scratch);
    sf_arena_free(&scratch);
    assert_int_equal(sf_groups_prepare_export(g), 0);
    assert_int_result(g, "FR", A_USERS, 3);
    sf_groups_free(g);
}

struct value_sum {
    uint64_t n;
    int64_t sum;
};

static int sum_value(void *ctx, const sf_value *v)
{
    struct value_sum *vs = ctx;
    vs->n++;
    vs->sum += v->type == SF_INT ? v->u.i : 0;
    return 0;
}

/* The bitmap word of a count_distinct value is set a value late (its
 * write put off to the set's next one, so that the row does not wait for
 * the word): the last value must count in a preparation, a value added
 * after one (set at once) must count in the next, and a value put off
 * after that must be in the set's value list before the next. Fails when
 * a preparation or the value list misses the put-off word. */
static void test_count_distinct_bitmap_write_put_off_is_never_lost(void **state)
{
    const aggs *a = *state;
    sf_groups *g = sf_groups_new(a->defs, NAGGS);
    assert_non_null(g);
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    /* Users 1..1000 but 499, 500 and 501, past the dense decision (65,536
     * values after the first and the small vector's). */
    for (int i = 0; i < 70000; i++) {
        int64_t user = 1 + i % 1000;
        in_row r = {"A", 1, 1, 1, 1.0, user >= 499 && user <= 501 ? 1 : user, "k"};
        feed(g, &r, &scratch);
    }
    in_row u500 = {"A", 1, 1, 1, 1.0, 500, "k"}, u501 = {"A", 1, 1, 1, 1.0, 501, "k"},
           u499 = {"A", 1, 1, 1, 1.0, 499, "k"};
    feed(g, &u500, &scratch);
    assert_int_equal(sf_groups_prepare_export(g), 0);
    assert_int_result(g, "A", A_USERS, 998);
    feed(g, &u501, &scratch); /* set at once: the table was prepared */
    feed(g, &u499, &scratch); /* put off: it no longer is */
    long i = group_of(g, "A");
    assert_true(i >= 0);
    struct value_sum vs = {0, 0};
    assert_int_equal(sf_groups_distinct_values(g, (size_t)i, A_USERS, sum_value, &vs), 0);
    assert_int_equal(vs.n, 1000);
    assert_int_equal(vs.sum, 1000 * 1001 / 2);
    feed(g, &u500, &scratch); /* the same word again */
    assert_int_equal(sf_groups_prepare_export(g), 0);
    assert_int_result(g, "A", A_USERS, 1000);
    sf_arena_free(&scratch);
    sf_groups_free(g);
}

/* A group past the dense decision keeps its bitmap in its block (the
 * values go there without the set's bitmap table). Spreading its values
 * forgets the bitmap there without giving it to the small vectors' pool:
 * new groups' vectors, then more values of the spread group, count
 * apart. It fails when the spread hands the bitmap to the pool, or when
 * a value past the bitmap's range is lost. */
static void test_count_distinct_bitmap_held_by_a_group_is_never_a_small_vector(void **state)
{
    const aggs *a = *state;
    sf_groups *g = sf_groups_new(a->defs, NAGGS);
    assert_non_null(g);
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    /* Users 1..1000 in A and B, past the dense decision, then more. */
    for (int i = 0; i < 80000; i++) {
        in_row r = {i % 2 ? "B" : "A", 1, 1, 1, 1.0, 1 + (i / 2) % 1000, "k"};
        feed(g, &r, &scratch);
    }
    in_row far = {"B", 1, 1, 1, 1.0, 1000000, "k"}; /* past the bitmap's range */
    feed(g, &far, &scratch);
    assert_int_equal(sf_groups_prepare_export(g), 0);
    assert_int_result(g, "A", A_USERS, 1000);
    assert_int_result(g, "B", A_USERS, 1001);
    long ia = group_of(g, "A");
    assert_true(ia >= 0);
    assert_int_equal(sf_groups_distinct_spread(g, (size_t)ia, A_USERS), 0);
    static const char *const fresh[] = {"C", "D", "E", "F", "G", "H"};
    for (int k = 0; k < 6; k++)
        for (int u = 0; u < 10; u++) {
            in_row r = {fresh[k], 1, 1, 1, 1.0, 2001 + u, "k"};
            feed(g, &r, &scratch);
        }
    for (int u = 1; u <= 10; u++) {
        in_row r = {"A", 1, 1, 1, 1.0, u, "k"};
        feed(g, &r, &scratch);
    }
    in_row b2 = {"B", 1, 1, 1, 1.0, 1000001, "k"};
    feed(g, &b2, &scratch);
    assert_int_equal(sf_groups_prepare_export(g), 0);
    assert_int_result(g, "A", A_USERS, 10);
    assert_int_result(g, "B", A_USERS, 1002);
    for (int k = 0; k < 6; k++)
        assert_int_result(g, fresh[k], A_USERS, 10);
    struct value_sum vs = {0, 0};
    assert_int_equal(sf_groups_distinct_values(g, (size_t)group_of(g, "C"), A_USERS, sum_value, &vs),
                     0);
    assert_int_equal(vs.n, 10);
    assert_int_equal(vs.sum, 10 * 2001 + 45);
    sf_arena_free(&scratch);
    sf_groups_free(g);
}

struct spread_seen {
    int users, other;
};

static int see_value(void *ctx, size_t j, const sf_value *v)
{
    struct spread_seen *seen = ctx;
    (void)v;
    if (j == A_USERS)
        seen->users++;
    else
        seen->other++;
    return 0;
}

/* A group's values handed out, taken out and counted back (the spread of
 * count_distinct over ranks): the other groups and aggregates keep theirs,
 * its export carries none, and an added count shows in its result. */
static void test_count_distinct_spread_takes_values_out_and_adds_counts(void **state)
{
    const aggs *a = *state;
    enum { N = 100000 };
    in_row *rows = calloc(N + 2, sizeof *rows);
    assert_non_null(rows);
    for (int k = 0; k < N; k++)
        rows[k] = (in_row)ROW("DE", 1, 1, (k * 7) % N, "view");
    rows[N] = (in_row)ROW("FR", 1, 1, 5, "buy");
    rows[N + 1] = (in_row)ROW("FR", 1, 1, 6, "buy");
    sf_groups *g = table_of(a, rows, N + 2);
    long de = group_of(g, "DE"), fr = group_of(g, "FR");
    assert_int_equal(sf_groups_distinct_max(g), N);
    struct value_sum vs = {0, 0};
    assert_int_equal(sf_groups_distinct_values(g, (size_t)de, A_USERS, sum_value, &vs), 0);
    assert_int_equal(vs.n, N);
    assert_int_equal(vs.sum, (int64_t)N * (N - 1) / 2);
    assert_true(sf_groups_distinct_spreadable(g, A_USERS));
    assert_false(sf_groups_distinct_spreadable(g, A_COUNT));
    assert_int_equal(sf_groups_distinct_spread(g, 0, A_COUNT), SF_E_INVAL);
    assert_int_equal(sf_groups_distinct_spread(g, (size_t)de, A_USERS), 0);
    assert_int_equal(sf_groups_prepare_export(g), 0);
    assert_int_result(g, "DE", A_USERS, 0);
    assert_int_result(g, "DE", A_KINDS, 1);
    assert_int_result(g, "DE", A_COUNT, N);
    assert_int_result(g, "FR", A_USERS, 2);
    vs.n = 0;
    assert_int_equal(sf_groups_distinct_values(g, (size_t)de, A_USERS, sum_value, &vs), 0);
    assert_int_equal(vs.n, 0);

    /* Its record merges as a group with no users. */
    sf_buf rec = SF_BUF_INIT;
    assert_int_equal(sf_groups_export(g, (size_t)de, &rec), 0);
    sf_groups *h = sf_groups_new(a->defs, NAGGS);
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_groups_merge_record(h, rec.p, rec.n, &err), 0);
    assert_int_equal(sf_groups_prepare_export(h), 0);
    assert_int_result(h, "DE", A_USERS, 0);
    assert_int_result(h, "DE", A_COUNT, N);

    /* A record with values merged "spread": the values go to the
     * callback, the rest of the group merges as usual. */
    sf_buf rec2 = SF_BUF_INIT;
    assert_int_equal(sf_groups_export(g, (size_t)fr, &rec2), 0);
    const unsigned char *key;
    size_t klen;
    assert_int_equal(sf_groups_record_key(rec2.p, rec2.n, &key, &klen), 0);
    assert_int_equal(sf_groups_record_key(rec2.p, 0, &key, &klen), SF_E_PARSE);
    struct spread_seen seen = {0, 0};
    sf_groups *k = sf_groups_new(a->defs, NAGGS);
    assert_int_equal(sf_groups_merge_record_spread(k, rec2.p, rec2.n, see_value, &seen, &err), 0);
    assert_int_equal(seen.users, 2);
    assert_int_equal(seen.other, 2); /* one kind, one price */
    assert_int_equal(sf_groups_prepare_export(k), 0);
    assert_int_result(k, "FR", A_USERS, 0);
    assert_int_result(k, "FR", A_COUNT, 2);
    assert_int_equal(sf_groups_merge_record_spread(k, rec2.p, rec2.n, see_value, &seen, &err), 0);
    assert_int_equal(sf_groups_distinct_add(k, 0, A_USERS, 2), 0);
    assert_int_equal(sf_groups_prepare_export(k), 0);
    assert_int_result(k, "FR", A_USERS, 2);
    assert_int_result(k, "FR", A_COUNT, 4);
    sf_groups_free(k);
    sf_buf_free(&rec2);

    /* Counts found elsewhere add up, beside values held here. */
    assert_int_equal(sf_groups_distinct_add(h, 0, A_USERS, 1234), 0);
    assert_int_equal(sf_groups_distinct_add(h, 0, A_USERS, 1), 0);
    assert_int_equal(sf_groups_prepare_export(h), 0);
    assert_int_result(h, "DE", A_USERS, 1235);
    assert_int_equal(sf_groups_distinct_add(g, (size_t)fr, A_KINDS, 10), 0);
    assert_int_equal(sf_groups_prepare_export(g), 0);
    assert_int_result(g, "FR", A_KINDS, 11);
    vs.n = 0;
    assert_int_equal(sf_groups_distinct_values(g, (size_t)fr, A_KINDS, sum_value, &vs), 0);
    assert_int_equal(vs.n, 1);
    /* More rows after the spread still count, once each. */
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    in_row more[2] = {ROW("DE", 1, 1, 3, "view"), ROW("DE", 1, 1, 3, "view")};
    feed(g, &more[0], &scratch);
    feed(g, &more[1], &scratch);
    sf_arena_free(&scratch);
    assert_int_equal(sf_groups_prepare_export(g), 0);
    assert_int_result(g, "DE", A_USERS, 1);
    sf_buf_free(&rec);
    sf_groups_free(h);
    sf_groups_free(g);
    free(rows);
}

static void test_truncated_record_is_parse_error(void **state)
{
    const aggs *a = *state;
    sf_groups *g = table_of(a, small, 6);
    sf_buf rec = SF_BUF_INIT;
    assert_int_equal(sf_groups_export(g, (size_t)group_of(g, "FR"), &rec), 0);
    for (size_t cut = 0; cut < rec.n; cut++) {
        sf_groups *dst = sf_groups_new(a->defs, NAGGS);
        sf_error err;
        sf_error_clear(&err);
        int rc = sf_groups_merge_record(dst, rec.p, cut, &err);
        assert_int_equal(rc, SF_E_PARSE);
        assert_int_equal(err.code, SF_E_PARSE);
        assert_non_null(strstr(err.msg, "malformed group record: "));
        sf_groups_free(dst);
    }
    sf_buf_free(&rec);
    sf_groups_free(g);
}

static void test_record_with_trailing_bytes_is_parse_error(void **state)
{
    const aggs *a = *state;
    sf_groups *g = table_of(a, small, 6);
    sf_buf rec = SF_BUF_INIT;
    assert_int_equal(sf_groups_export(g, 0, &rec), 0);
    assert_int_equal(sf_buf_append(&rec, "\0", 1), 0);
    sf_groups *dst = sf_groups_new(a->defs, NAGGS);
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_groups_merge_record(dst, rec.p, rec.n, &err), SF_E_PARSE);
    assert_string_equal(err.msg, "malformed group record: trailing bytes");
    sf_groups_free(dst);
    sf_buf_free(&rec);
    sf_groups_free(g);
}

static void test_record_with_oversized_key_length_is_parse_error(void **state)
{
    const aggs *a = *state;
    const unsigned char rec[] = {0x7f, SF_NULL};
    sf_groups *dst = sf_groups_new(a->defs, NAGGS);
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_groups_merge_record(dst, rec, sizeof rec, &err), SF_E_PARSE);
    assert_string_equal(err.msg, "malformed group record: key");
    assert_int_equal(sf_groups_count(dst), 0);
    sf_groups_free(dst);
}

static void test_free_null_is_a_no_op(void **state)
{
    (void)state;
    sf_groups_free(NULL);
}

/* ---- one-row records (the combiner's step-aside) ---- */

/* Ships r as a row record from src's layout and applies it to dst; the
 * record is scribbled over afterwards (dst must not borrow from it). */
static void ship_row(sf_groups *src, sf_groups *dst, const in_row *r, sf_arena *scratch)
{
    sf_value row[NCOLS], args[NAGGS];
    unsigned char key[64], rec[512];
    size_t klen = row_of(r, row, key);
    sf_arena_reset(scratch);
    size_t n = sf_groups_row_args(src, klen, row, scratch, args);
    assert_true(n < sizeof rec);
    memset(rec, 0xee, sizeof rec);
    sf_groups_row_write(src, key, klen, args, rec);
    assert_int_equal(rec[n], 0xee); /* the size was exact: nothing written past it */
    assert_int_not_equal(rec[n - 1], 0xee);
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_groups_update_record(dst, rec, n, &err), 0);
    memset(rec, 0xcd, sizeof rec);
}

static void test_row_records_give_the_results_of_updates(void **state)
{
    const aggs *a = *state;
    static in_row rows[NGEN];
    generate(rows);
    sf_groups *whole = table_of(a, rows, NGEN);
    /* Owner: some rows directly, the rest as records from a sender whose
     * table stays empty; then a combined part merged in as a partial. */
    sf_groups *owner = sf_groups_new(a->defs, NAGGS), *sender = sf_groups_new(a->defs, NAGGS);
    sf_groups *part = sf_groups_new(a->defs, NAGGS);
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    for (int i = 0; i < NGEN; i++) {
        if (i % 3 == 0)
            feed(owner, &rows[i], &scratch);
        else if (i % 3 == 1)
            ship_row(sender, owner, &rows[i], &scratch);
        else
            feed(part, &rows[i], &scratch);
    }
    sf_arena_free(&scratch);
    assert_int_equal(sf_groups_count(sender), 0);
    export_into(part, owner, 1);
    assert_int_equal(sf_groups_prepare_export(owner), 0);
    assert_same_results(whole, owner);
    static const char *const keys[] = {"FR", "DE", "US", "", NULL};
    for (int k = 0; k < 5; k++) /* a record counts as one input row */
        assert_int_equal(sf_groups_rows(owner, (size_t)group_of(owner, keys[k])),
                         sf_groups_rows(whole, (size_t)group_of(whole, keys[k])));
    sf_groups_free(part);
    sf_groups_free(sender);
    sf_groups_free(owner);
    sf_groups_free(whole);
}

/* The stream's look-ahead path: a record's key is hashed once, at stage
 * 0, into its note; the later stages and the update take it there. The
 * note is the key's group hash, and records applied that way give the
 * same table as plain updates. Hints on cut records read only their bytes
 * (ASan checks) and change nothing. */
/* A group record merged with the hash its prefetch noted gives what a
 * plain merge gives. */
static void test_group_record_hash_noted_once_gives_the_same_results(void **state)
{
    const aggs *a = *state;
    static in_row rows[NGEN];
    generate(rows);
    sf_groups *src = table_of(a, rows, NGEN);
    sf_groups *plain = sf_groups_new(a->defs, NAGGS), *noted = sf_groups_new(a->defs, NAGGS);
    for (size_t i = 0; i < sf_groups_count(src); i++) {
        sf_buf rec = SF_BUF_INIT;
        assert_int_equal(sf_groups_export(src, i, &rec), 0);
        uint64_t note = 0;
        for (int stage = 0; stage < 3; stage++)
            sf_groups_prefetch_record(noted, rec.p, rec.n, stage, &note);
        const unsigned char *key;
        size_t klen;
        assert_int_equal(sf_groups_record_key(rec.p, rec.n, &key, &klen), 0);
        assert_true(note == sf_groups_hash(key, klen));
        sf_error err;
        sf_error_clear(&err);
        assert_int_equal(sf_groups_merge_record_hashed(noted, rec.p, rec.n, &note, &err), 0);
        assert_int_equal(sf_groups_merge_record(plain, rec.p, rec.n, &err), 0);
        sf_buf_free(&rec);
    }
    assert_int_equal(sf_groups_prepare_export(plain), 0);
    assert_int_equal(sf_groups_prepare_export(noted), 0);
    assert_same_results(plain, noted);
    assert_same_results(src, noted);
    sf_groups_free(noted);
    sf_groups_free(plain);
    sf_groups_free(src);
}

/* A record's stage 2 (count_distinct vectors) says when it has nothing
 * to load: while fewer than one group in 8 has a vector; stages 0 and 1
 * never do. */
static void test_prefetch_record_says_when_stage_two_has_nothing_to_load(void **state)
{
    const aggs *a = *state;
    sf_groups *g = sf_groups_new(a->defs, NAGGS);
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    char name[16];
    sf_value row[NCOLS];
    for (int c = 0; c < NCOLS; c++)
        row[c] = sf_null();
    /* 16 groups of one row each: one value per set, no vector. */
    for (int i = 0; i < 16; i++) {
        int n = snprintf(name, sizeof name, "g%02d", i);
        row[C_COUNTRY] = sf_string(name, (size_t)n);
        row[C_USER] = sf_int(i);
        row[C_KIND] = sf_string("view", 4);
        unsigned char key[32];
        size_t klen = sf_value_encode(&row[C_COUNTRY], key);
        assert_int_equal(sf_groups_update(g, key, klen, sf_groups_hash(key, klen), row, &scratch), 0);
    }
    unsigned char key[32], rec[256];
    sf_value args[NAGGS];
    size_t klen = sf_value_encode(&row[C_COUNTRY], key);
    size_t n = sf_groups_row_args(g, klen, row, &scratch, args);
    assert_true(n <= sizeof rec);
    sf_groups_row_write(g, key, klen, args, rec);
    uint64_t note = 0;
    assert_int_equal(sf_groups_prefetch_record(g, rec, n, 0, &note), 0);
    assert_int_equal(sf_groups_prefetch_record(g, rec, n, 1, &note), 0);
    assert_int_equal(sf_groups_prefetch_record(g, rec, n, 2, &note), 1);
    /* Two groups with a second user: two vectors, one group in 8. */
    for (int i = 0; i < 2; i++) {
        int m = snprintf(name, sizeof name, "g%02d", i);
        row[C_COUNTRY] = sf_string(name, (size_t)m);
        row[C_USER] = sf_int(100 + i);
        unsigned char k2[32];
        size_t kl2 = sf_value_encode(&row[C_COUNTRY], k2);
        assert_int_equal(sf_groups_update(g, k2, kl2, sf_groups_hash(k2, kl2), row, &scratch), 0);
    }
    assert_int_equal(sf_groups_prefetch_record(g, rec, n, 2, &note), 0);
    assert_int_equal(sf_groups_prefetch_record(g, rec, n, 1, &note), 0);
    sf_arena_free(&scratch);
    sf_groups_free(g);
}

/* Stage 1 (the group's block) says it has nothing to load once 4096
 * lookups have told that more than 3 in 4 make a new group, and loads
 * again when groups repeat. */
static void test_prefetch_record_skips_stage_one_while_most_keys_are_new(void **state)
{
    const aggs *a = *state;
    sf_groups *g = sf_groups_new(a->defs, NAGGS);
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    sf_value row[NCOLS];
    for (int c = 0; c < NCOLS; c++)
        row[c] = sf_null();
    unsigned char key[32], rec[256];
    sf_value args[NAGGS];
    uint64_t note = 0;
    for (int i = 0; i < 6000; i++) { /* a new group each */
        row[C_USER] = sf_int(i);
        size_t klen = sf_value_encode(&row[C_USER], key);
        assert_int_equal(sf_groups_update(g, key, klen, sf_groups_hash(key, klen), row, &scratch), 0);
        size_t n = sf_groups_row_args(g, klen, row, &scratch, args);
        sf_groups_row_write(g, key, klen, args, rec);
        assert_int_equal(sf_groups_prefetch_record(g, rec, n, 0, &note), 0);
        /* the 4096th lookup is the first that tells */
        assert_int_equal(sf_groups_prefetch_record(g, rec, n, 1, &note), i >= 4095);
    }
    for (int i = 0; i < 3 * 6000; i++) { /* every group again, three times */
        row[C_USER] = sf_int(i % 6000);
        size_t klen = sf_value_encode(&row[C_USER], key);
        assert_int_equal(sf_groups_update(g, key, klen, sf_groups_hash(key, klen), row, &scratch), 0);
    }
    size_t klen = sf_value_encode(&row[C_USER], key);
    size_t n = sf_groups_row_args(g, klen, row, &scratch, args);
    sf_groups_row_write(g, key, klen, args, rec);
    assert_int_equal(sf_groups_prefetch_record(g, rec, n, 0, &note), 0);
    assert_int_equal(sf_groups_prefetch_record(g, rec, n, 1, &note), 0);
    sf_arena_free(&scratch);
    sf_groups_free(g);
}

static void test_row_record_hash_noted_once_gives_the_same_results(void **state)
{
    const aggs *a = *state;
    static in_row rows[NGEN];
    generate(rows);
    sf_groups *plain = sf_groups_new(a->defs, NAGGS), *noted = sf_groups_new(a->defs, NAGGS);
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    for (int i = 0; i < NGEN; i++) {
        sf_value row[NCOLS], args[NAGGS];
        unsigned char key[64], rec[512];
        size_t klen = row_of(&rows[i], row, key);
        sf_arena_reset(&scratch);
        size_t n = sf_groups_row_args(noted, klen, row, &scratch, args);
        assert_true(n < sizeof rec);
        sf_groups_row_write(noted, key, klen, args, rec);
        if (i < 8) {
            size_t before = sf_groups_count(noted);
            for (size_t cut = 0; cut < n; cut++) {
                uint64_t note = 7;
                unsigned char *part = malloc(cut ? cut : 1);
                assert_non_null(part);
                memcpy(part, rec, cut);
                for (int stage = 0; stage < 3; stage++)
                    sf_groups_prefetch_record(noted, part, cut, stage, &note);
                free(part);
            }
            assert_int_equal(sf_groups_count(noted), before);
        }
        uint64_t note = 0;
        for (int stage = 0; stage < 3; stage++)
            sf_groups_prefetch_record(noted, rec, n, stage, &note);
        assert_true(note == sf_groups_hash(key, klen));
        sf_error err;
        sf_error_clear(&err);
        assert_int_equal(sf_groups_update_record_hashed(noted, rec, n, &note, &err), 0);
        assert_int_equal(sf_groups_update_record(plain, rec, n, &err), 0);
    }
    sf_arena_free(&scratch);
    assert_int_equal(sf_groups_prepare_export(plain), 0);
    assert_int_equal(sf_groups_prepare_export(noted), 0);
    assert_same_results(plain, noted);
    sf_groups_free(noted);
    sf_groups_free(plain);
}

/* A record's bytes are the LEB128 key length, the key, then each
 * aggregate's argument as sf_value_encode() writes it (docs/architecture.md),
 * whether the value has its aggregate's type (written inline) or not: NULL
 * arguments, strings of 0 to 300 bytes around the one-byte length's limit,
 * an integer where sum(price) takes doubles. Applied, the records give
 * what updates give; every cut of one is a parse error. */
static void test_row_record_bytes_are_each_argument_encoded(void **state)
{
    const aggs *a = *state;
    static const size_t lens[] = {0, 1, 15, 127, 128, 129, 300};
    char text[301];
    memset(text, 'k', sizeof text);
    sf_groups *sender = sf_groups_new(a->defs, NAGGS), *owner = sf_groups_new(a->defs, NAGGS);
    sf_groups *fed = sf_groups_new(a->defs, NAGGS), *scrap = sf_groups_new(a->defs, NAGGS);
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    for (size_t i = 0; i < 4 * sizeof lens / sizeof lens[0]; i++) {
        sf_value row[NCOLS], args[NAGGS], want_arg;
        unsigned char key[64], rec[1024], want[1024];
        size_t len = lens[i / 4], w = 0;
        row[C_COUNTRY] = i % 3 ? sf_string("FR", 2) : sf_null();
        row[C_N] = i % 4 == 1 ? sf_null() : sf_int((int64_t)i * 1000003 - 7);
        row[C_PRICE] = i % 4 == 2 ? sf_int((int64_t)i) : i % 4 == 3 ? sf_null() : sf_double(0.25 * (double)i);
        row[C_USER] = sf_int((int64_t)i);
        row[C_KIND] = i % 4 == 3 ? sf_null() : sf_string(text, len);
        size_t klen = sf_value_encode(&row[C_COUNTRY], key);
        sf_arena_reset(&scratch);
        size_t n = sf_groups_row_args(sender, klen, row, &scratch, args);
        assert_true(n <= sizeof rec);
        sf_groups_row_write(sender, key, klen, args, rec);
        want[w++] = (unsigned char)klen;
        memcpy(want + w, key, klen);
        w += klen;
        for (int j = 0; j < NAGGS; j++) {
            want_arg = a->defs[j].arg ? sf_expr_eval(a->defs[j].arg, row, &scratch) : sf_null();
            w += sf_value_encode(&want_arg, want + w);
        }
        assert_int_equal(n, w);
        assert_memory_equal(rec, want, n);
        for (size_t cut = 0; cut < n; cut++) {
            sf_error err;
            sf_error_clear(&err);
            /* a cut record may have updated its group before the error */
            assert_int_equal(sf_groups_update_record(scrap, rec, cut, &err), SF_E_PARSE);
        }
        sf_error err;
        sf_error_clear(&err);
        assert_int_equal(sf_groups_update_record(owner, rec, n, &err), 0);
        assert_int_equal(sf_groups_update(fed, key, klen, sf_groups_hash(key, klen), row, &scratch), 0);
    }
    sf_arena_free(&scratch);
    assert_int_equal(sf_groups_count(sender), 0);
    assert_int_equal(sf_groups_prepare_export(owner), 0);
    assert_int_equal(sf_groups_prepare_export(fed), 0);
    assert_same_results(fed, owner);
    sf_groups_free(scrap);
    sf_groups_free(fed);
    sf_groups_free(owner);
    sf_groups_free(sender);
}

/* The record's key and its short strings are copied inline: every
 * length from 0 to 40 (each branch of the copy and the memcpy past 32),
 * bytes that differ from each other, land where sf_value_encode and the
 * key's own bytes say. */
static void test_row_record_copies_keys_and_strings_of_every_short_length(void **state)
{
    const aggs *a = *state;
    unsigned char text[48];
    for (size_t b = 0; b < sizeof text; b++)
        text[b] = (unsigned char)(0x21 + b * 7 % 90);
    sf_groups *sender = sf_groups_new(a->defs, NAGGS);
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    for (size_t len = 0; len <= 40; len++) {
        sf_value row[NCOLS], args[NAGGS], want_arg;
        unsigned char rec[512], want[512];
        size_t w = 0;
        row[C_COUNTRY] = sf_string("FR", 2);
        row[C_N] = sf_int((int64_t)len);
        row[C_PRICE] = sf_double(0.5 * (double)len);
        row[C_USER] = sf_int((int64_t)len);
        row[C_KIND] = sf_string((const char *)text + 40 - len, len);
        sf_arena_reset(&scratch);
        size_t n = sf_groups_row_args(sender, len, row, &scratch, args);
        assert_true(n < sizeof rec);
        memset(rec, 0xee, sizeof rec);
        sf_groups_row_write(sender, text + len % 5, len, args, rec);
        want[w++] = (unsigned char)len;
        memcpy(want + w, text + len % 5, len);
        w += len;
        for (int j = 0; j < NAGGS; j++) {
            want_arg = a->defs[j].arg ? sf_expr_eval(a->defs[j].arg, row, &scratch) : sf_null();
            w += sf_value_encode(&want_arg, want + w);
        }
        assert_int_equal(n, w);
        assert_memory_equal(rec, want, n);
        assert_int_equal(rec[n], 0xee); /* nothing written past the record */
    }
    sf_arena_free(&scratch);
    sf_groups_free(sender);
}

/* count_if over a string comparison with an inline form (a literal of
 * 4-16 bytes) writes its field from that form: the bytes are still
 * sf_value_encode of the argument's value, true, false or NULL, for
 * either operator and values of every length around the literal's. */
static void test_row_record_of_an_inline_count_if_is_its_argument_encoded(void **state)
{
    (void)state;
    static const char *const texts[] = {"count_if(kind == 'purchase')",
                                        "count_if(kind != 'purchase')"};
    const sf_expr_columns cols = {resolve, NULL, NULL};
    static const char *const kinds[] = {"purchase", "purchasf", "qurchase", "purchases",
                                        "purchas", "", "view", "add_to_cart", NULL};
    for (size_t t = 0; t < 2; t++) {
        sf_error err;
        sf_error_clear(&err);
        sf_expr *e = sf_expr_parse(texts[t], &cols, SF_EXPR_ALLOW_AGG, &err);
        assert_non_null(e);
        sf_agg_def def = {0};
        def.kind = sf_expr_agg_kind(e);
        def.arg = sf_expr_agg_arg(e);
        def.arg_type = sf_expr_type(def.arg);
        def.out_type = sf_expr_type(e);
        sf_expr_leaf leaf;
        sf_expr_leaf_of(def.arg, &leaf);
        assert_int_equal(leaf.kind, SF_LEAF_STR); /* the case under test */
        sf_groups *sender = sf_groups_new(&def, 1);
        assert_non_null(sender);
        sf_arena scratch;
        sf_arena_init(&scratch, 0);
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
            sf_value row[NCOLS], args[1];
            for (int c = 0; c < NCOLS; c++)
                row[c] = sf_null();
            if (kinds[k])
                row[C_KIND] = sf_string(kinds[k], strlen(kinds[k]));
            unsigned char key[] = {SF_NULL}, rec[64], want[64];
            size_t n = sf_groups_row_args(sender, 1, row, &scratch, args);
            assert_true(n <= sizeof rec);
            sf_groups_row_write(sender, key, 1, args, rec);
            sf_value v = sf_expr_eval(def.arg, row, &scratch);
            size_t w = 0;
            want[w++] = 1;
            want[w++] = SF_NULL;
            w += sf_value_encode(&v, want + w);
            assert_int_equal(n, w);
            assert_memory_equal(rec, want, n);
        }
        sf_arena_free(&scratch);
        sf_groups_free(sender);
        sf_expr_free(e);
    }
}

static void test_malformed_row_records_are_parse_errors(void **state)
{
    const aggs *a = *state;
    sf_groups *g = sf_groups_new(a->defs, NAGGS);
    sf_value row[NCOLS], args[NAGGS];
    unsigned char key[64], rec[512];
    in_row r = ROW("FR", 3, 10.5, 1, "buy");
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    size_t klen = row_of(&r, row, key);
    size_t n = sf_groups_row_args(g, klen, row, &scratch, args);
    sf_groups_row_write(g, key, klen, args, rec);
    for (size_t cut = 0; cut < n; cut++) {
        sf_error err;
        sf_error_clear(&err);
        assert_int_equal(sf_groups_update_record(g, rec, cut, &err), SF_E_PARSE);
        assert_non_null(strstr(err.msg, "malformed group record: "));
    }
    rec[n] = SF_NULL;
    sf_error err;
    sf_error_clear(&err);
    assert_int_equal(sf_groups_update_record(g, rec, n + 1, &err), SF_E_PARSE);
    assert_string_equal(err.msg, "malformed group record: trailing bytes after a row");
    sf_arena_free(&scratch);
    sf_groups_free(g);
}

/* Draining while reading groups in order (the reduce's rows): every group
 * from the drain point on answers as an undrained twin table does, the
 * memory shrinks, and the drained table frees cleanly (sums spilled to
 * the heap included; ASan checks for leaks and stale reads). */
/* Rows of ng groups "g<i>" with per rows each: prices of very different
 * sizes spill the exact double sum's partials to the heap, and `users`
 * users a group exercise count_distinct. Static storage: the last call's. */
static const in_row *numbered_rows(int ng, int per, int users)
{
    enum { MAXG = 20000, MAXPER = 6 };
    static char names[MAXG][16];
    static in_row rows[MAXG * MAXPER];
    assert_true(ng <= MAXG && per <= MAXPER);
    for (int i = 0; i < ng; i++) {
        snprintf(names[i], sizeof names[i], "g%05d", i);
        for (int r = 0; r < per; r++) {
            in_row row = ROW(names[i], i + r, r % 2 ? 1e300 * (r + 1) : 1e-300 * (i + 1),
                             (i + r) % users, r % 3 ? "buy" : "view");
            rows[i * per + r] = row;
        }
    }
    return rows;
}

/* Group i of g and of twin (the same rows, another history) agree: key,
 * hash, rows and every result, down to the bits. */
static void assert_same_group(const sf_groups *g, const sf_groups *twin, size_t i)
{
    const unsigned char *k1, *k2;
    size_t l1, l2;
    uint64_t h1, h2;
    sf_groups_key(g, i, &k1, &l1, &h1);
    sf_groups_key(twin, i, &k2, &l2, &h2);
    assert_int_equal(l1, l2);
    assert_memory_equal(k1, k2, l1);
    assert_int_equal(h1, h2);
    assert_int_equal(sf_groups_rows(g, i), sf_groups_rows(twin, i));
    for (size_t j = 0; j < NAGGS; j++) {
        int o1 = 0, o2 = 0;
        sf_value v1 = sf_groups_result(g, i, j, &o1), v2 = sf_groups_result(twin, i, j, &o2);
        assert_int_equal(o1, o2);
        assert_int_equal(v1.type, v2.type);
        if (v1.type == SF_STRING) {
            assert_int_equal(v1.u.s.n, v2.u.s.n);
            assert_memory_equal(v1.u.s.p, v2.u.s.p, v1.u.s.n);
        } else if (v1.type == SF_DOUBLE) {
            assert_memory_equal(&v1.u.d, &v2.u.d, sizeof v1.u.d);
        } else if (v1.type != SF_NULL) {
            assert_int_equal(v1.type, SF_INT);
            assert_int_equal(v1.u.i, v2.u.i);
        }
    }
}

static void test_drain_keeps_the_groups_ahead_and_frees_those_behind(void **state)
{
    const aggs *a = *state;
    enum { NG = 20000, PER = 6 };
    const in_row *rows = numbered_rows(NG, PER, 4);
    sf_groups *g = table_of(a, rows, NG * PER);
    sf_groups *twin = table_of(a, rows, NG * PER);
    sf_groups_retire(g, 7);
    sf_groups_retire(twin, 7);
    size_t before = sf_groups_memory(g);
    for (size_t i = 0; i < NG; i++) {
        if (i % 1500 == 0)
            sf_groups_drain_to(g, i);
        assert_int_equal(sf_groups_live(g, i), sf_groups_live(twin, i));
        assert_same_group(g, twin, i);
    }
    sf_groups_drain_to(g, NG);
    assert_true(sf_groups_memory(g) < before / 2);
    sf_groups_free(g);
    sf_groups_free(twin);
}

/* The shuffle's end: the retired groups' memory goes, the live ones keep
 * their indexes, states and distinct counts, and new groups still come. */
static void test_drop_retired_frees_them_and_keeps_the_live_groups(void **state)
{
    const aggs *a = *state;
    enum { NG = 20000, PER = 4 };
    const in_row *rows = numbered_rows(NG, PER, 5);
    sf_groups *g = table_of(a, rows, NG * PER);
    sf_groups *twin = table_of(a, rows, NG * PER);
    assert_int_equal(sf_groups_drop_retired(g), 0); /* nothing retired: no-op */
    for (size_t i = 0; i < NG; i++) {
        if (i % 4) {
            sf_groups_retire(g, i);
            sf_groups_retire(twin, i);
        }
    }
    size_t before = sf_groups_memory(g);
    assert_int_equal(sf_groups_drop_retired(g), 0);
    assert_true(sf_groups_memory(g) < before);
    assert_int_equal(sf_groups_count(g), NG);
    assert_int_equal(sf_groups_live_count(g), NG / 4);
    sf_groups_retire(g, 1); /* a dropped group stays retired */
    assert_int_equal(sf_groups_live_count(g), NG / 4);
    /* A group that was never here comes in after the drop. */
    sf_value row[NCOLS] = {sf_string("new", 3), sf_int(2), sf_double(1), sf_int(1),
                           sf_string("a", 1)};
    unsigned char key[64];
    size_t klen = sf_value_encode(&row[C_COUNTRY], key);
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    assert_int_equal(sf_groups_update(g, key, klen, sf_groups_hash(key, klen), row, &scratch), 0);
    assert_int_equal(sf_groups_update(twin, key, klen, sf_groups_hash(key, klen), row, &scratch), 0);
    sf_arena_free(&scratch);
    assert_int_equal(sf_groups_prepare_export(g), 0);
    assert_int_equal(sf_groups_prepare_export(twin), 0);
    for (size_t i = 0; i <= NG; i++) {
        assert_int_equal(sf_groups_live(g, i), sf_groups_live(twin, i));
        if (!sf_groups_live(g, i)) {
            assert_int_equal(sf_groups_rows(g, i), 0);
            continue;
        }
        assert_same_group(g, twin, i);
        sf_buf r1 = SF_BUF_INIT, r2 = SF_BUF_INIT;
        assert_int_equal(sf_groups_export(g, i, &r1), 0);
        assert_int_equal(sf_groups_export(twin, i, &r2), 0);
        assert_int_equal(r1.n, r2.n);
        assert_memory_equal(r1.p, r2.p, r1.n);
        sf_buf_free(&r1);
        sf_buf_free(&r2);
    }
    assert_int_equal(group_of(g, "g00001"), -1);
    assert_int_equal(group_of(g, "g00004"), 4);
    sf_groups_free(g);
    sf_groups_free(twin);
}

/* A count_distinct over a string with dimension ids counts the strings,
 * however each arrived: by an id (looked up by it after the first time),
 * or without one (a fact row the join did not match), by key or by the
 * group's handle; the counts and the exported records equal those of
 * a table fed the same rows without ids. */
static void test_distinct_over_dimension_ids_counts_the_strings(void **state)
{
    aggs *a = *state;
    sf_groups *with = sf_groups_new(a->defs, NAGGS), *without = sf_groups_new(a->defs, NAGGS);
    assert_non_null(with);
    assert_non_null(without);
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    static const struct {
        const char *country, *kind;
        uint32_t id; /* the kind's dimension id; 0: none */
    } rows[] = {{"FR", "buy", 5},  {"FR", "buy", 0},  {"FR", "view", 7}, {"FR", "view", 7},
                {"DE", "view", 7}, {"DE", "view", 0}, {"DE", "buy", 5},  {"FR", "cart", 0},
                {"FR", "cart", 9}, {"DE", NULL, 0}};
    uint32_t ids[NCOLS] = {0};
    sf_group *fr = NULL;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        sf_value row[NCOLS];
        row[C_COUNTRY] = sf_string(rows[i].country, strlen(rows[i].country));
        row[C_N] = sf_int(1);
        row[C_PRICE] = sf_double(1.5);
        row[C_USER] = sf_int(1);
        row[C_KIND] = rows[i].kind ? sf_string(rows[i].kind, strlen(rows[i].kind)) : sf_null();
        ids[C_KIND] = rows[i].id;
        unsigned char key[16];
        size_t klen = sf_value_encode(&row[C_COUNTRY], key);
        uint64_t h = sf_groups_hash(key, klen);
        sf_group *group = NULL;
        if (i % 2 && fr && strcmp(rows[i].country, "FR") == 0) {
            assert_int_equal(sf_groups_update_group(with, fr, row, ids, &scratch), 0);
        } else {
            assert_int_equal(
                sf_groups_update_ids(with, key, klen, h, row, ids, &scratch, &group), 0);
            assert_non_null(group);
            if (strcmp(rows[i].country, "FR") == 0) {
                assert_true(!fr || group == fr); /* one handle per group */
                fr = group;
            }
        }
        assert_int_equal(sf_groups_update(without, key, klen, h, row, &scratch), 0);
    }
    assert_int_equal(sf_groups_prepare_export(with), 0);
    assert_int_equal(sf_groups_prepare_export(without), 0);
    assert_int_equal(sf_groups_count(with), 2);
    int overflow = 0;
    assert_int_equal(sf_groups_result(with, 0, A_KINDS, &overflow).u.i, 3); /* buy view cart */
    assert_int_equal(sf_groups_result(with, 1, A_KINDS, &overflow).u.i, 2); /* view buy */
    for (size_t i = 0; i < 2; i++) {
        sf_buf x = {0}, y = {0};
        assert_int_equal(sf_groups_export(with, i, &x), 0);
        assert_int_equal(sf_groups_export(without, i, &y), 0);
        assert_int_equal(x.n, y.n);
        assert_memory_equal(x.p, y.p, x.n);
        sf_buf_free(&x);
        sf_buf_free(&y);
    }
    sf_arena_free(&scratch);
    sf_groups_free(with);
    sf_groups_free(without);
}

/* A count_distinct over a replicated dimension's keys ships a group's
 * values as sorted delta-coded key ids when each has one (a record far
 * shorter than the strings), as strings when one has none; a table set up
 * with the same dimension merges either form to the same counts, a table
 * without it refuses ids, and an id past the table is a parse error. */
static void test_distinct_key_ids_ship_as_ids_and_merge_back(void **state)
{
    aggs *a = *state;
    sf_join_table *t = sf_join_table_new(1, 0);
    assert_non_null(t);
    static const char *const kinds[] = {"buy", "view", "cart", "click"};
    for (size_t i = 0; i < 4; i++) {
        sf_value r = sf_string(kinds[i], strlen(kinds[i]));
        assert_int_equal(sf_join_table_add(t, &r), 0);
    }
    sf_groups *from = sf_groups_new(a->defs, NAGGS), *to = sf_groups_new(a->defs, NAGGS),
              *plain = sf_groups_new(a->defs, NAGGS);
    assert_non_null(from);
    assert_non_null(to);
    assert_non_null(plain);
    assert_int_equal(sf_groups_distinct_key_ids(from, A_USERS, t, 0), SF_E_INVAL); /* ints */
    assert_int_equal(sf_groups_distinct_key_ids(from, A_KINDS, t, 0), 0);
    assert_int_equal(sf_groups_distinct_key_ids(to, A_KINDS, t, 0), 0);
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    static const struct {
        const char *country;
        size_t kind;  /* into kinds */
        uint32_t id;  /* its key id; 0: none (a join without a match) */
    } rows[] = {{"FR", 3, 4}, {"FR", 0, 1}, {"FR", 2, 0}, {"DE", 1, 2},
                {"DE", 3, 4}, {"DE", 0, 1}, {"DE", 1, 2}};
    uint32_t ids[NCOLS] = {0};
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        sf_value row[NCOLS] = {sf_string(rows[i].country, 2), sf_int(1), sf_double(1), sf_int(1),
                               sf_string(kinds[rows[i].kind], strlen(kinds[rows[i].kind]))};
        ids[C_KIND] = rows[i].id;
        unsigned char key[16];
        size_t klen = sf_value_encode(&row[C_COUNTRY], key);
        assert_int_equal(sf_groups_update_ids(from, key, klen, sf_groups_hash(key, klen), row,
                                              ids, &scratch, NULL),
                         0);
    }
    assert_int_equal(sf_groups_prepare_export(from), 0);
    sf_error err;
    sf_error_clear(&err);
    for (size_t i = 0; i < 2; i++) { /* FR: cart has no id; DE: all have */
        sf_buf x = {0}, y = {0};
        assert_int_equal(sf_groups_export_shipped(from, i, &x), 0);
        assert_int_equal(sf_groups_export(from, i, &y), 0);
        if (i == 0) {
            assert_int_equal(x.n, y.n);
            assert_memory_equal(x.p, y.p, x.n);
        } else {
            /* 3 values: a type and a length byte and view, click, buy as
             * strings; a byte each as ids. */
            assert_int_equal(y.n - x.n, 3 * 2 + 4 + 5 + 3 - 3);
            /* count_distinct(price) follows: 1 << 1, a type byte, 8 bytes. */
            unsigned char *ids = x.p + x.n - 10 - 4;
            assert_int_equal(ids[0], 3 << 1 | 1);
            assert_int_equal(ids[1], 1); /* buy */
            assert_int_equal(ids[2], 1); /* view: 2 */
            assert_int_equal(ids[3], 2); /* click: 4 */
            assert_int_equal(sf_groups_merge_record(plain, x.p, x.n, &err), SF_E_PARSE);
            assert_int_equal(sf_groups_distinct_key_ids(plain, A_KINDS, t, 0), 0);
            ids[3] = 3; /* click + 1: past the table's 4 keys */
            assert_int_equal(sf_groups_merge_record(plain, x.p, x.n, &err), SF_E_PARSE);
            ids[3] = 2;
        }
        assert_int_equal(sf_groups_merge_record(to, x.p, x.n, &err), 0);
        assert_int_equal(sf_groups_merge_record(to, x.p, x.n, &err), 0); /* twice: no change */
        sf_buf_free(&x);
        sf_buf_free(&y);
    }
    int overflow = 0;
    assert_int_equal(sf_groups_prepare_export(to), 0);
    assert_int_equal(sf_groups_result(to, 0, A_KINDS, &overflow).u.i, 3);
    assert_int_equal(sf_groups_result(to, 1, A_KINDS, &overflow).u.i, 3);
    assert_int_equal(sf_groups_result(to, 1, A_COUNT, &overflow).u.i, 8);
    sf_arena_free(&scratch);
    sf_groups_free(from);
    sf_groups_free(to);
    sf_groups_free(plain);
    sf_join_table_free(t);
}

/* A group's rows (sf_groups_rows) are its input rows whether or not the
 * table has a count() (which then holds them: core/groups.c's layout),
 * wherever the count is among the aggregates, through rows applied at
 * once, rows put off (sf_groups_update_group) and records merged; and
 * count() gives the same number. Fails when a row is counted twice into
 * the shared word, or missed. */
static void test_rows_are_the_input_rows_with_or_without_a_count(void **state)
{
    const aggs *a = *state;
    static const int plans[][5] = {
        {A_COUNT, A_BUYS, A_SUM_PRICE, A_KINDS, -1}, /* S3's: the put-off path */
        {A_BUYS, A_KINDS, A_COUNT, -1},              /* the count not first */
        {A_SUM_N, A_BUYS, -1},                       /* no count: a rows word */
        {A_MIN_KIND, A_COUNT, A_MEAN_PRICE, -1},     /* the walk over every case */
    };
    static in_row rows[NGEN];
    generate(rows);
    for (size_t pl = 0; pl < sizeof plans / sizeof plans[0]; pl++) {
        sf_agg_def defs[5];
        size_t nd = 0, jc = 99;
        for (; plans[pl][nd] >= 0; nd++) {
            defs[nd] = a->defs[plans[pl][nd]];
            if (plans[pl][nd] == A_COUNT)
                jc = nd;
        }
        sf_groups *g = sf_groups_new(defs, nd);
        assert_non_null(g);
        sf_arena scratch;
        sf_arena_init(&scratch, 0);
        for (int i = 0; i < NGEN; i++) {
            const in_row *r = &rows[i];
            if (i % 2 == 0) {
                feed(g, r, &scratch);
                continue;
            }
            sf_value row[NCOLS];
            unsigned char key[64];
            size_t klen = row_of(r, row, key);
            sf_arena_reset(&scratch);
            sf_group *group = NULL;
            assert_int_equal(sf_groups_update_ids(g, key, klen, sf_groups_hash(key, klen), row,
                                                  NULL, &scratch, &group),
                             0);
            if (i % 4 == 1) /* the same row again by its handle */
                assert_int_equal(sf_groups_update_group(g, group, row, NULL, &scratch), 0);
        }
        sf_arena_free(&scratch);
        sf_groups *merged = sf_groups_new(defs, nd);
        assert_non_null(merged);
        export_into(g, merged, 1);
        assert_int_equal(sf_groups_prepare_export(merged), 0);
        assert_int_equal(sf_groups_count(merged), sf_groups_count(g));
        for (size_t m = 0; m < sf_groups_count(g); m++) {
            const unsigned char *key;
            size_t klen;
            uint64_t hash;
            sf_groups_key(g, m, &key, &klen, &hash);
            uint64_t want = 0;
            for (int i = 0; i < NGEN; i++) {
                sf_value r2[NCOLS];
                unsigned char k2[64];
                size_t n2 = row_of(&rows[i], r2, k2);
                if (n2 == klen && memcmp(k2, key, klen) == 0)
                    want += i % 4 == 1 ? 2 : 1;
            }
            assert_int_equal(sf_groups_rows(g, m), want);
            uint64_t h2 = 0;
            long k = index_of_key(merged, key, klen, &h2);
            assert_true(k >= 0);
            assert_int_equal(sf_groups_rows(merged, (size_t)k), want);
            int overflow = 0;
            if (jc < nd) {
                assert_int_equal(sf_groups_result(g, m, jc, &overflow).u.i, (int64_t)want);
                assert_int_equal(sf_groups_result(merged, (size_t)k, jc, &overflow).u.i,
                                 (int64_t)want);
            }
        }
        assert_same_results_of(g, merged, NULL, nd);
        sf_groups_free(merged);
        sf_groups_free(g);
    }
}

/* A retired group refuses an update by its handle as it does by its key. */
static void test_update_by_handle_refuses_a_retired_group(void **state)
{
    aggs *a = *state;
    sf_groups *g = sf_groups_new(a->defs, NAGGS);
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    sf_value row[NCOLS] = {sf_string("FR", 2), sf_int(1), sf_double(1), sf_int(1),
                           sf_string("buy", 3)};
    unsigned char key[16];
    size_t klen = sf_value_encode(&row[C_COUNTRY], key);
    sf_group *group = NULL;
    assert_int_equal(sf_groups_update_ids(g, key, klen, sf_groups_hash(key, klen), row, NULL,
                                          &scratch, &group),
                     0);
    assert_int_equal(sf_groups_update_group(g, group, row, NULL, &scratch), 0);
    assert_int_equal(sf_groups_rows(g, 0), 2);
    sf_groups_retire(g, 0);
    assert_int_equal(sf_groups_update_group(g, group, row, NULL, &scratch), SF_E_INVAL);
    sf_arena_free(&scratch);
    sf_groups_free(g);
}

/* Every update case (count, count_if, int and double sums and means,
 * count_distinct, min/max), with arguments that are slots and arguments
 * that are expressions, NULLs among them: a table fed the rows gives the
 * results of a table fed the same rows as row records, which go through
 * the generic per-value path (add_value). */
static void test_update_cases_agree_with_row_records(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "count()",       "count_if(n > 3)", "count_if(kind == 'buy')", "sum(n + 1)",
        "sum(price * 2)", "mean(n * 3)",    "mean(price)",              "count_distinct(user + 0)",
        "count_distinct(kind)", "min(n - 1)", "max(kind)",             "sum(n)",
    };
    enum { N = sizeof texts / sizeof texts[0] };
    const sf_expr_columns cols = {resolve, NULL, NULL};
    sf_expr *exprs[N];
    sf_agg_def defs[N];
    memset(defs, 0, sizeof defs);
    for (size_t j = 0; j < N; j++) {
        sf_error err;
        sf_error_clear(&err);
        exprs[j] = sf_expr_parse(texts[j], &cols, SF_EXPR_ALLOW_AGG, &err);
        if (!exprs[j])
            fail_msg("%s: %s", texts[j], err.msg);
        defs[j].kind = sf_expr_agg_kind(exprs[j]);
        defs[j].arg = sf_expr_agg_arg(exprs[j]);
        defs[j].arg_type = defs[j].arg ? sf_expr_type(defs[j].arg) : SF_NULL;
        defs[j].out_type = sf_expr_type(exprs[j]);
    }
    const in_row rows[] = {
        ROW("FR", 3, 10.5, 1, "buy"), ROW("DE", 7, 2.25, 2, "view"),
        {"FR", 0, 0, 0, 0, -1, NULL}, ROW("FR", 10, 4.0, 3, "buy"),
        ROW("DE", 1, 8.0, 2, "buy"),  {"US", 1, 5, 1, -1.5, 4, "cart"},
        {"US", 0, 0, 1, 0.25, -1, "cart"},
    };
    sf_groups *a = sf_groups_new(defs, N), *b = sf_groups_new(defs, N);
    assert_non_null(a);
    assert_non_null(b);
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const in_row *r = &rows[i];
        sf_value row[NCOLS];
        row[C_COUNTRY] = sf_string(r->country, strlen(r->country));
        row[C_N] = r->has_n ? sf_int(r->n) : sf_null();
        row[C_PRICE] = r->has_price ? sf_double(r->price) : sf_null();
        row[C_USER] = r->user >= 0 ? sf_int(r->user) : sf_null();
        row[C_KIND] = r->kind ? sf_string(r->kind, strlen(r->kind)) : sf_null();
        unsigned char key[64], rec[512];
        size_t klen = sf_value_encode(&row[C_COUNTRY], key);
        sf_arena_reset(&scratch);
        assert_int_equal(sf_groups_update(a, key, klen, sf_groups_hash(key, klen), row, &scratch), 0);
        sf_value args[N];
        size_t n = sf_groups_row_args(b, klen, row, &scratch, args);
        assert_true(n <= sizeof rec);
        sf_groups_row_write(b, key, klen, args, rec);
        assert_int_equal(sf_groups_update_record(b, rec, n, NULL), 0);
    }
    assert_int_equal(sf_groups_prepare_export(a), 0);
    assert_int_equal(sf_groups_prepare_export(b), 0);
    assert_int_equal(sf_groups_count(a), 3);
    assert_int_equal(sf_groups_count(b), 3);
    for (size_t i = 0; i < 3; i++) {
        for (size_t j = 0; j < N; j++) {
            int oa = 0, ob = 0;
            sf_value va = sf_groups_result(a, i, j, &oa), vb = sf_groups_result(b, i, j, &ob);
            assert_int_equal(oa, ob);
            assert_int_equal(sf_value_cmp(&va, &vb), 0);
            assert_int_equal(va.type, vb.type);
        }
    }
    /* A spot check that the cases count what they should: FR had n 3, NULL, 10. */
    assert_int_result(a, "FR", 0, 3);  /* count() counts the row of NULLs too */
    assert_int_result(a, "FR", 1, 1);  /* n > 3: only 10 (NULL is not true) */
    assert_int_result(a, "FR", 2, 2);
    assert_int_result(a, "FR", 3, 15); /* (3 + 1) + (10 + 1) */
    assert_int_result(a, "US", 7, 1);  /* user 4 and a NULL */
    sf_arena_free(&scratch);
    sf_groups_free(a);
    sf_groups_free(b);
    for (size_t j = 0; j < N; j++)
        sf_expr_free(exprs[j]);
}

/* Rows through sf_groups_update_group of a table with a signature are
 * put off a row (their block fetched meanwhile): every reader sees them
 * all the same, the results and row counts read with no preparation
 * between, a preparation, rows after one (applied at once) and after
 * the table is unprepared again, and a retirement. Compared with the
 * walk of a table of all the aggregates fed the same rows. */
static void test_rows_put_off_are_seen_by_every_reader(void **state)
{
    const aggs *a = *state;
    sf_expr *views;
    sf_agg_def all[NAGGS + 1];
    defs_with_views(a, all, &views);
    static const int cols[] = {A_COUNT, A_VIEWS, A_SUM_PRICE, A_USERS};
    sf_agg_def defs[4];
    for (int j = 0; j < 4; j++)
        defs[j] = all[cols[j]];
    sf_groups *g = sf_groups_new(defs, 4), *whole = sf_groups_new(all, NAGGS + 1);
    assert_non_null(g);
    assert_non_null(whole);
    static in_row rows[NGEN];
    generate(rows);
    sf_arena scratch;
    sf_arena_init(&scratch, 0);
    const char *keys[8];
    sf_group *handles[8];
    size_t nkeys = 0;
    for (int i = 0; i < NGEN; i++) {
        sf_value row[NCOLS];
        unsigned char key[64];
        size_t klen = row_of(&rows[i], row, key);
        sf_arena_reset(&scratch);
        assert_int_equal(sf_groups_update(whole, key, klen, sf_groups_hash(key, klen), row,
                                          &scratch),
                         0);
        size_t k = 0;
        while (k < nkeys && keys[k] != rows[i].country)
            k++;
        if (k == nkeys) { /* the group's first row makes it */
            keys[nkeys++] = rows[i].country;
            assert_int_equal(sf_groups_update_ids(g, key, klen, sf_groups_hash(key, klen), row,
                                                  NULL, &scratch, &handles[k]),
                             0);
        } else {
            assert_int_equal(sf_groups_update_group(g, handles[k], row, NULL, &scratch), 0);
        }
        if (i % 37 == 36) { /* counts and sums as of this row, unprepared */
            /* This row's group first, by one reader or the other (any
             * reader applies the row put off, so the first is the test). */
            long cur = group_of(g, rows[i].country), wcur = group_of(whole, rows[i].country);
            if (i % 74 == 36) {
                assert_int_equal(sf_groups_rows(g, (size_t)cur), sf_groups_rows(whole, (size_t)wcur));
            } else {
                int o1 = 0, o2 = 0;
                sf_value want = sf_groups_result(whole, (size_t)wcur, A_COUNT, &o1);
                sf_value got = sf_groups_result(g, (size_t)cur, 0, &o2);
                assert_true(sf_value_same(&want, &got));
            }
            for (size_t m = 0; m < sf_groups_count(g); m++) {
                const unsigned char *gk;
                size_t gklen;
                uint64_t h;
                sf_groups_key(g, m, &gk, &gklen, &h);
                long w = index_of_key(whole, gk, gklen, &h);
                assert_true(w >= 0);
                assert_int_equal(sf_groups_rows(g, m), sf_groups_rows(whole, (size_t)w));
                for (int j = 0; j < 3; j++) {
                    int o1 = 0, o2 = 0;
                    sf_value want = sf_groups_result(whole, (size_t)w, (size_t)cols[j], &o1);
                    sf_value got = sf_groups_result(g, m, (size_t)j, &o2);
                    assert_true(sf_value_same(&want, &got));
                }
            }
        }
        if (i == NGEN / 2) { /* prepared: the next rows apply at once */
            /* A value new to its group put off just before: the
             * preparation counts it. */
            in_row r = rows[i];
            r.user = 2000;
            klen = row_of(&r, row, key);
            assert_int_equal(sf_groups_update(whole, key, klen, sf_groups_hash(key, klen), row,
                                              &scratch),
                             0);
            assert_int_equal(sf_groups_update_group(g, handles[k], row, NULL, &scratch), 0);
            assert_int_equal(sf_groups_prepare_export(g), 0);
            assert_int_equal(sf_groups_prepare_export(whole), 0);
            assert_same_results_of(whole, g, cols, 4);
        }
    }
    assert_int_equal(sf_groups_prepare_export(g), 0);
    assert_int_equal(sf_groups_prepare_export(whole), 0);
    assert_same_results_of(whole, g, cols, 4);
    /* A row put off, then a retirement of its group: applied first. */
    sf_value row[NCOLS];
    unsigned char key[64];
    in_row extra = ROW("FR", 2, 7.0, 1001, "view"); /* users 1001-1003: new to FR */
    size_t klen = row_of(&extra, row, key);
    assert_int_equal(sf_groups_update_ids(g, key, klen, sf_groups_hash(key, klen), row, NULL,
                                          &scratch, &handles[0]),
                     0);
    extra.user = 1002; /* a new value unprepared g: this row is put off */
    row_of(&extra, row, key);
    assert_int_equal(sf_groups_update_group(g, handles[0], row, NULL, &scratch), 0);
    extra.user = 1003;
    row_of(&extra, row, key);
    assert_int_equal(sf_groups_update_group(g, handles[0], row, NULL, &scratch), 0);
    long fr = group_of(g, "FR");
    assert_true(fr >= 0);
    uint64_t before = sf_groups_rows(whole, (size_t)group_of(whole, "FR"));
    sf_groups_retire(g, (size_t)fr);
    assert_int_equal(sf_groups_rows(g, (size_t)fr), before + 3);
    assert_int_equal(sf_groups_prepare_export(g), 0);
    int o = 0;
    sf_value users = sf_groups_result(g, (size_t)fr, 3, &o);
    sf_value users_before = sf_groups_result(whole, (size_t)group_of(whole, "FR"), A_USERS, &o);
    assert_int_equal(users.u.i, users_before.u.i + 3);
    sf_arena_free(&scratch);
    sf_groups_free(g);
    sf_groups_free(whole);
    sf_expr_free(views);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_groups_are_created_once_per_key),
        cmocka_unit_test(test_count_and_count_if),
        cmocka_unit_test(test_update_cases_agree_with_row_records),
        cmocka_unit_test(test_distinct_over_dimension_ids_counts_the_strings),
        cmocka_unit_test(test_update_by_handle_refuses_a_retired_group),
        cmocka_unit_test(test_int_and_double_sums),
        cmocka_unit_test(test_min_and_max_of_numbers_and_strings),
        cmocka_unit_test(test_min_max_strings_are_copied_from_the_row),
        cmocka_unit_test(test_mean_of_int_and_double),
        cmocka_unit_test(test_count_distinct_counts_each_value_once),
        cmocka_unit_test(test_count_distinct_of_strings_exact_through_ids_and_merges),
        cmocka_unit_test(test_count_distinct_of_short_strings_differing_in_one_byte),
        cmocka_unit_test(test_retired_groups_are_skipped_and_refuse_updates),
        cmocka_unit_test(test_drop_retired_frees_them_and_keeps_the_live_groups),
        cmocka_unit_test(test_count_distinct_is_per_group),
        cmocka_unit_test(test_count_distinct_first_value_counts_once_wherever_it_lives),
        cmocka_unit_test(test_count_distinct_exact_through_dense_mode),
        cmocka_unit_test(test_count_distinct_bitmap_write_put_off_is_never_lost),
        cmocka_unit_test(test_count_distinct_bitmap_held_by_a_group_is_never_a_small_vector),
        cmocka_unit_test(test_null_inputs_are_skipped),
        cmocka_unit_test(test_group_with_only_nulls_gives_null_sums_and_zero_counts),
        cmocka_unit_test(test_null_key_is_a_group_of_its_own),
        cmocka_unit_test(test_int64_sum_overflow_sets_overflow),
        cmocka_unit_test(test_result_row_gives_every_result_and_the_worst_overflow),
        cmocka_unit_test(test_int64_sum_may_pass_beyond_range_and_come_back),
        cmocka_unit_test(test_int64_sums_widen_through_rows_merges_and_moves),
        cmocka_unit_test(test_min_max_of_doubles_past_the_flags_agree),
        cmocka_unit_test(test_min_max_of_ints_dates_and_timestamps_past_the_flags_agree),
        cmocka_unit_test(test_split_in_any_order_merges_to_identical_results),
        cmocka_unit_test(test_many_groups_of_every_key_length_survive_growth),
        cmocka_unit_test(test_merged_tables_merge_again_identically),
        cmocka_unit_test(test_sums_of_every_width_survive_export_and_merge),
        cmocka_unit_test(test_min_max_of_doubles_order_nan_and_signed_zeros),
        cmocka_unit_test(test_count_distinct_exact_across_overlapping_splits),
        cmocka_unit_test(test_prepare_after_more_updates_recounts_distinct),
        cmocka_unit_test(test_count_distinct_spread_takes_values_out_and_adds_counts),
        cmocka_unit_test(test_truncated_record_is_parse_error),
        cmocka_unit_test(test_record_with_trailing_bytes_is_parse_error),
        cmocka_unit_test(test_record_with_oversized_key_length_is_parse_error),
        cmocka_unit_test(test_free_null_is_a_no_op),
        cmocka_unit_test(test_drain_keeps_the_groups_ahead_and_frees_those_behind),
        cmocka_unit_test(test_row_records_give_the_results_of_updates),
        cmocka_unit_test(test_row_record_hash_noted_once_gives_the_same_results),
        cmocka_unit_test(test_group_record_hash_noted_once_gives_the_same_results),
        cmocka_unit_test(test_row_record_bytes_are_each_argument_encoded),
        cmocka_unit_test(test_row_record_copies_keys_and_strings_of_every_short_length),
        cmocka_unit_test(test_malformed_row_records_are_parse_errors),
        cmocka_unit_test(test_row_record_of_an_inline_count_if_is_its_argument_encoded),
        cmocka_unit_test_setup_teardown(test_prefetch_record_says_when_stage_two_has_nothing_to_load,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefetch_record_skips_stage_one_while_most_keys_are_new,
                                        setup, teardown),
        cmocka_unit_test(test_count_distinct_small_vectors_grow_into_the_pair_table),
        cmocka_unit_test(test_count_distinct_of_strings_small_vectors_hold_every_id),
        cmocka_unit_test(test_count_distinct_small_vectors_widen_past_65536_ids),
        cmocka_unit_test(test_distinct_key_ids_ship_as_ids_and_merge_back),
        cmocka_unit_test_setup_teardown(test_compiled_update_gives_the_results_of_every_order,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_rows_are_the_input_rows_with_or_without_a_count,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_rows_put_off_are_seen_by_every_reader, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

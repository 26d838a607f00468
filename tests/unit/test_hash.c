/* test_hash.c - byte hash stability and spread; the insertion-ordered map. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/hash.h"

#define SEED 0x5f3759dfu

static uint64_t hs(const char *s)
{
    return sf_hash_bytes(s, strlen(s), SEED);
}

static void test_hash_same_bytes_same_value_at_any_alignment(void **state)
{
    (void)state;
    const char text[] = "2025-08-01|US|books-and-magazines|x"; /* 35 bytes: blocks and a tail */
    size_t n = sizeof text - 1;
    uint64_t ref = sf_hash_bytes(text, n, SEED);
    _Alignas(16) unsigned char buf[64];
    for (size_t off = 0; off < 16; off++) {
        memset(buf, 0xa5, sizeof buf);
        memcpy(buf + off, text, n);
        assert_int_equal(sf_hash_bytes(buf + off, n, SEED), ref);
    }
}

static void test_hash_values_are_fixed_across_builds(void **state)
{
    (void)state;
    /* Ranks route rows by these values: a change here changes where every
     * key goes and must be deliberate. */
    assert_int_equal(sf_hash_bytes("", 0, 0), 0x2da1050f4becf15full);
    assert_int_equal(sf_hash_bytes("a", 1, 0), 0x919af8f4931b8191ull);
    assert_int_equal(sf_hash_bytes("2025-08-01|US", 13, 0), 0x6b26628df8db9f26ull);
    assert_int_equal(sf_hash_u64(0), 0x794a6348269ec044ull);
}

/* Every tail length (0..7 bytes after the words) at three alignments, as
 * one fixed digest: the tail is loaded with overlapping words, which must
 * give what a byte loop gives. */
static void test_hash_of_every_length_and_alignment_is_fixed(void **state)
{
    (void)state;
    unsigned char b[64];
    for (int i = 0; i < 64; i++)
        b[i] = (unsigned char)(i * 37 + 11);
    uint64_t acc = 0;
    for (int n = 0; n <= 40; n++) {
        for (int off = 0; off < 3; off++)
            acc = acc * 31 + sf_hash_bytes(b + off, (size_t)n, (uint64_t)n * 7);
    }
    assert_int_equal(acc, 0x11147ce7c21498a6ull);
}

static void test_hash_depends_on_length_seed_and_every_byte(void **state)
{
    (void)state;
    assert_int_not_equal(sf_hash_bytes("a", 1, SEED), sf_hash_bytes("a\0", 2, SEED));
    assert_int_not_equal(sf_hash_bytes("", 0, SEED), sf_hash_bytes("\0", 1, SEED));
    assert_int_not_equal(sf_hash_bytes("abc", 3, 1), sf_hash_bytes("abc", 3, 2));
    /* Flipping any one bit of a 24-byte key changes about half the hash bits. */
    unsigned char key[24];
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (unsigned char)(i * 37 + 11);
    uint64_t ref = sf_hash_bytes(key, sizeof key, SEED);
    long total = 0;
    for (size_t bit = 0; bit < sizeof key * 8; bit++) {
        key[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        uint64_t h = sf_hash_bytes(key, sizeof key, SEED);
        key[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        int flipped = __builtin_popcountll(h ^ ref);
        assert_in_range(flipped, 12, 52);
        total += flipped;
    }
    long avg100 = total * 100 / (long)(sizeof key * 8);
    assert_in_range(avg100, 2900, 3500);
}

/* Chi-square of 100000 hashes over 1024 buckets; with 1023 degrees of
 * freedom it is 1023 +- 45 for a uniform hash. */
static void check_buckets(const unsigned *count)
{
    double expect = 100000.0 / 1024;
    double chi2 = 0;
    for (int b = 0; b < 1024; b++) {
        assert_in_range(count[b], 50, 150);
        chi2 += (count[b] - expect) * (count[b] - expect) / expect;
    }
    assert_true(chi2 < 1300.0);
}

/* The hash in steps (sf_hash_start, one sf_hash_word per whole word,
 * sf_hash_finish with the tail) is sf_hash_bytes of the same bytes, for
 * every length up to five words and either seed. */
static void test_hash_in_steps_is_the_hash_of_the_bytes(void **state)
{
    (void)state;
    unsigned char b[48];
    for (size_t i = 0; i < sizeof b; i++)
        b[i] = (unsigned char)(i * 37 + 11);
    const uint64_t seeds[] = {SEED, SF_KEY_HASH_SEED};
    for (size_t k = 0; k < 2; k++) {
        for (size_t n = 0; n <= 40; n++) {
            uint64_t h = sf_hash_start(n, seeds[k]);
            size_t i = 0;
            for (; i + 8 <= n; i += 8) {
                uint64_t w = 0;
                for (size_t j = 0; j < 8; j++)
                    w |= (uint64_t)b[i + j] << (8 * j);
                h = sf_hash_word(h, w);
            }
            uint64_t tail = 0;
            for (size_t j = 0; i + j < n; j++)
                tail |= (uint64_t)b[i + j] << (8 * j);
            assert_true(sf_hash_finish(h, n, tail) == sf_hash_bytes(b, n, seeds[k]));
        }
    }
}

static void test_hash_of_sequential_decimal_strings_spreads(void **state)
{
    (void)state;
    static unsigned low[1024], high[1024];
    memset(low, 0, sizeof low);
    memset(high, 0, sizeof high);
    for (int i = 0; i < 100000; i++) {
        char s[16];
        int n = snprintf(s, sizeof s, "%d", i);
        uint64_t h = sf_hash_bytes(s, (size_t)n, SEED);
        low[h & 1023]++;
        high[h >> 54]++;
    }
    check_buckets(low);
    check_buckets(high);
}

static void test_hash_u64_of_sequential_integers_spreads(void **state)
{
    (void)state;
    static unsigned low[1024];
    memset(low, 0, sizeof low);
    for (uint64_t i = 0; i < 100000; i++)
        low[sf_hash_u64(i << 20) & 1023]++; /* only high input bits vary */
    check_buckets(low);
}

static void test_find_in_empty_map_is_null(void **state)
{
    (void)state;
    sf_hmap *m = sf_hmap_new(8, 0);
    assert_non_null(m);
    assert_int_equal(sf_hmap_count(m), 0);
    assert_null(sf_hmap_find(m, "x", 1, hs("x")));
    sf_hmap_free(m);
    sf_hmap_free(NULL);
}

/* sf_hmap_peek is a guess from the home slot: for a key held there it is
 * the key's value, for any other key it is NULL (another key's value
 * never: the hash and length must match), and it is NULL once the map
 * is drained (no index). */
static void test_peek_gives_the_home_slot_value_or_null(void **state)
{
    (void)state;
    sf_hmap *m = sf_hmap_new(sizeof(int64_t), 16);
    assert_non_null(m);
    const int n = 20000;
    for (int i = 0; i < n; i++) {
        char k[32];
        int kl = snprintf(k, sizeof k, "peek-%d", i);
        int64_t *v = sf_hmap_upsert(m, k, (size_t)kl, hs(k), NULL);
        assert_non_null(v);
        *v = i;
    }
    int hits = 0;
    for (int i = 0; i < 2 * n; i++) {
        char k[32];
        int kl = snprintf(k, sizeof k, "peek-%d", i);
        void *p = sf_hmap_peek(m, hs(k), (size_t)kl);
        void *f = sf_hmap_find(m, k, (size_t)kl, hs(k));
        assert_true(p == NULL || p == f);
        hits += p != NULL;
        if (i >= n)
            assert_null(p); /* absent keys */
        assert_null(sf_hmap_peek(m, hs(k), (size_t)kl + 1)); /* another length */
    }
    assert_true(hits > n / 2); /* most keys sit in their home slot */
    sf_hmap_drain_to(m, 0);
    assert_null(sf_hmap_peek(m, hs("peek-1"), 6));
    sf_hmap_free(m);
}

/* Keys whose hashes share a home slot (the low bits) but not a tag (the
 * top bits) sit one after another on the probe path: peek finds each of
 * them, not only the one in the home slot, and a key of the same tag but
 * another hash is not taken for it. */
static void test_peek_follows_the_probe_path_past_the_home_slot(void **state)
{
    (void)state;
    sf_hmap *m = sf_hmap_new(sizeof(int64_t), 64);
    assert_non_null(m);
    enum { N = 5 };
    const uint64_t home = 0x15;
    for (int i = 0; i < N; i++) {
        char k[2] = {(char)('a' + i), 0};
        uint64_t h = (uint64_t)(i + 1) << 60 | home;
        int64_t *v = sf_hmap_upsert(m, k, 1, h, NULL);
        assert_non_null(v);
        *v = 100 + i;
    }
    for (int i = 0; i < N; i++) {
        char k[2] = {(char)('a' + i), 0};
        uint64_t h = (uint64_t)(i + 1) << 60 | home;
        int64_t *p = sf_hmap_peek(m, h, 1);
        assert_non_null(p);
        assert_ptr_equal(p, sf_hmap_find(m, k, 1, h));
        assert_int_equal(*p, 100 + i);
        sf_hmap_prefetch(m, h, 1, 0); /* hints: no effect to see, no fault */
        sf_hmap_prefetch(m, h, 1, 1);
    }
    /* The tag of the third key, another hash: no entry of its own. */
    assert_null(sf_hmap_peek(m, (uint64_t)3 << 60 | home | 0x100, 1));
    assert_null(sf_hmap_peek(m, (uint64_t)9 << 60 | home, 1)); /* an empty slot ends it */
    sf_hmap_free(m);
}

static void test_insert_and_find_many_keys(void **state)
{
    (void)state;
    sf_hmap *m = sf_hmap_new(sizeof(int64_t), 16);
    assert_non_null(m);
    const int n = 50000;
    for (int i = 0; i < n; i++) {
        char k[32];
        int kl = snprintf(k, sizeof k, "key-%d", i);
        int inserted = -1;
        int64_t *v = sf_hmap_upsert(m, k, (size_t)kl, sf_hash_bytes(k, (size_t)kl, SEED), &inserted);
        assert_non_null(v);
        assert_int_equal(inserted, 1);
        assert_int_equal(*v, 0);
        *v = (int64_t)i * 3;
    }
    assert_int_equal(sf_hmap_count(m), n);
    for (int i = 0; i < n; i++) {
        char k[32];
        int kl = snprintf(k, sizeof k, "key-%d", i);
        int64_t *v = sf_hmap_find(m, k, (size_t)kl, sf_hash_bytes(k, (size_t)kl, SEED));
        assert_non_null(v);
        assert_int_equal(*v, (int64_t)i * 3);
        char a[32];
        int al = snprintf(a, sizeof a, "absent-%d", i);
        assert_null(sf_hmap_find(m, a, (size_t)al, sf_hash_bytes(a, (size_t)al, SEED)));
    }
    sf_hmap_free(m);
}

static void test_upsert_of_existing_key_returns_same_block(void **state)
{
    (void)state;
    sf_hmap *m = sf_hmap_new(sizeof(double), 4);
    assert_non_null(m);
    int inserted = -1;
    double *a = sf_hmap_upsert(m, "US", 2, hs("US"), &inserted);
    assert_int_equal(inserted, 1);
    *a = 2.5;
    double *b = sf_hmap_upsert(m, "US", 2, hs("US"), &inserted);
    assert_int_equal(inserted, 0);
    assert_ptr_equal(a, b);
    assert_true(*b == 2.5);
    assert_non_null(sf_hmap_upsert(m, "FR", 2, hs("FR"), NULL));
    assert_int_equal(sf_hmap_count(m), 2);
    sf_hmap_free(m);
}

static void test_growth_keeps_entries_in_insertion_order(void **state)
{
    (void)state;
    sf_hmap *m = sf_hmap_new(sizeof(int32_t), 1);
    assert_non_null(m);
    size_t mem0 = sf_hmap_memory(m);
    const int n = 20000;
    for (int i = 0; i < n; i++) {
        char k[32];
        int kl = snprintf(k, sizeof k, "%d", (i * 7919) % n); /* not sorted */
        int32_t *v = sf_hmap_upsert(m, k, (size_t)kl, sf_hash_bytes(k, (size_t)kl, SEED), NULL);
        assert_non_null(v);
        *v = i;
    }
    assert_true(sf_hmap_memory(m) > mem0);
    assert_int_equal(sf_hmap_count(m), n);
    for (int i = 0; i < n; i++) {
        char k[32];
        int kl = snprintf(k, sizeof k, "%d", (i * 7919) % n);
        const void *key;
        size_t klen;
        uint64_t hash;
        void *value;
        sf_hmap_entry(m, (size_t)i, &key, &klen, &hash, &value);
        assert_int_equal(klen, kl);
        assert_memory_equal(key, k, (size_t)kl);
        assert_int_equal(((const char *)key)[klen], '\0');
        assert_int_equal(hash, sf_hash_bytes(k, (size_t)kl, SEED));
        assert_int_equal(*(int32_t *)value, i);
    }
    sf_hmap_entry(m, 0, NULL, NULL, NULL, NULL);
    sf_hmap_free(m);
}

static void test_value_and_key_pointers_stable_across_growth(void **state)
{
    (void)state;
    sf_hmap *m = sf_hmap_new(sizeof(double) * 2, 2);
    assert_non_null(m);
    double *first = sf_hmap_upsert(m, "first", 5, hs("first"), NULL);
    assert_non_null(first);
    first[0] = 1.25;
    first[1] = -7.0;
    const void *key0;
    sf_hmap_entry(m, 0, &key0, NULL, NULL, NULL);
    for (int i = 0; i < 100000; i++) {
        char k[32];
        int kl = snprintf(k, sizeof k, "other-%d", i);
        assert_non_null(sf_hmap_upsert(m, k, (size_t)kl, sf_hash_bytes(k, (size_t)kl, SEED), NULL));
    }
    assert_ptr_equal(sf_hmap_find(m, "first", 5, hs("first")), first);
    assert_true(first[0] == 1.25 && first[1] == -7.0);
    const void *key1;
    sf_hmap_entry(m, 0, &key1, NULL, NULL, NULL);
    assert_ptr_equal(key0, key1);
    assert_memory_equal(key1, "first", 5);
    sf_hmap_free(m);
}

static void test_value_blocks_are_zeroed_and_16_byte_aligned(void **state)
{
    (void)state;
    sf_hmap *m = sf_hmap_new(24, 0);
    assert_non_null(m);
    for (int i = 0; i < 1000; i++) {
        char k[32];
        int kl = snprintf(k, sizeof k, "%.*s", 1 + i % 20, "abcdefghijklmnopqrstuvwxyz");
        kl += snprintf(k + kl, sizeof k - (size_t)kl, "%d", i);
        unsigned char *v = sf_hmap_upsert(m, k, (size_t)kl, sf_hash_bytes(k, (size_t)kl, SEED), NULL);
        assert_non_null(v);
        assert_int_equal((uintptr_t)v % 16, 0);
        for (int b = 0; b < 24; b++)
            assert_int_equal(v[b], 0);
        memset(v, 0xff, 24); /* must not spill into the next key or block */
    }
    for (int i = 0; i < 1000; i++) {
        const void *key;
        size_t klen;
        sf_hmap_entry(m, (size_t)i, &key, &klen, NULL, NULL);
        char k[32];
        int kl = snprintf(k, sizeof k, "%.*s", 1 + i % 20, "abcdefghijklmnopqrstuvwxyz");
        kl += snprintf(k + kl, sizeof k - (size_t)kl, "%d", i);
        assert_int_equal(klen, kl);
        assert_memory_equal(key, k, klen);
    }
    sf_hmap_free(m);
}

static void test_zero_length_key_is_one_key(void **state)
{
    (void)state;
    sf_hmap *m = sf_hmap_new(sizeof(int64_t), 0);
    assert_non_null(m);
    uint64_t h = sf_hash_bytes(NULL, 0, SEED);
    assert_int_equal(h, sf_hash_bytes("", 0, SEED));
    int inserted;
    int64_t *a = sf_hmap_upsert(m, NULL, 0, h, &inserted);
    assert_non_null(a);
    assert_int_equal(inserted, 1);
    *a = 41;
    int64_t *b = sf_hmap_upsert(m, "", 0, h, &inserted);
    assert_int_equal(inserted, 0);
    assert_ptr_equal(a, b);
    assert_null(sf_hmap_find(m, "\0", 1, sf_hash_bytes("\0", 1, SEED)));
    size_t klen = 99;
    const void *key = NULL;
    sf_hmap_entry(m, 0, &key, &klen, NULL, NULL);
    assert_int_equal(klen, 0);
    assert_non_null(key);
    sf_hmap_free(m);
}

static void test_binary_keys_with_nul_bytes_are_distinct(void **state)
{
    (void)state;
    sf_hmap *m = sf_hmap_new(sizeof(int), 0);
    assert_non_null(m);
    static const struct {
        const char *k;
        size_t n;
    } keys[] = {{"a", 1}, {"a\0", 2}, {"a\0b", 3}, {"a\0c", 3}, {"\0\0\0\0\0\0\0\0\0", 9},
                {"\0\0\0\0\0\0\0\0", 8}};
    size_t nk = sizeof keys / sizeof keys[0];
    for (size_t i = 0; i < nk; i++) {
        int inserted;
        int *v = sf_hmap_upsert(m, keys[i].k, keys[i].n, sf_hash_bytes(keys[i].k, keys[i].n, SEED),
                                &inserted);
        assert_non_null(v);
        assert_int_equal(inserted, 1);
        *v = (int)i + 100;
    }
    assert_int_equal(sf_hmap_count(m), nk);
    for (size_t i = 0; i < nk; i++) {
        int *v = sf_hmap_find(m, keys[i].k, keys[i].n, sf_hash_bytes(keys[i].k, keys[i].n, SEED));
        assert_non_null(v);
        assert_int_equal(*v, (int)i + 100);
    }
    sf_hmap_free(m);
}

static void test_keys_colliding_on_hash_are_told_apart(void **state)
{
    (void)state;
    /* A caller-supplied hash that is the same for every key forces full
     * probing and key compares. */
    sf_hmap *m = sf_hmap_new(sizeof(int), 0);
    assert_non_null(m);
    for (int i = 0; i < 200; i++) {
        char k[16];
        int kl = snprintf(k, sizeof k, "c%d", i);
        int *v = sf_hmap_upsert(m, k, (size_t)kl, 42, NULL);
        assert_non_null(v);
        *v = i;
    }
    for (int i = 0; i < 200; i++) {
        char k[16];
        int kl = snprintf(k, sizeof k, "c%d", i);
        int *v = sf_hmap_find(m, k, (size_t)kl, 42);
        assert_non_null(v);
        assert_int_equal(*v, i);
    }
    assert_null(sf_hmap_find(m, "c200", 4, 42));
    sf_hmap_free(m);
}

static void test_value_size_zero_is_a_set(void **state)
{
    (void)state;
    sf_hmap *m = sf_hmap_new(0, 0);
    assert_non_null(m);
    int inserted;
    assert_non_null(sf_hmap_upsert(m, "x", 1, hs("x"), &inserted));
    assert_int_equal(inserted, 1);
    assert_non_null(sf_hmap_upsert(m, "y", 1, hs("y"), &inserted));
    assert_int_equal(inserted, 1);
    assert_non_null(sf_hmap_upsert(m, "x", 1, hs("x"), &inserted));
    assert_int_equal(inserted, 0);
    assert_int_equal(sf_hmap_count(m), 2);
    assert_non_null(sf_hmap_find(m, "y", 1, hs("y")));
    assert_null(sf_hmap_find(m, "z", 1, hs("z")));
    const void *key;
    sf_hmap_entry(m, 1, &key, NULL, NULL, NULL);
    assert_memory_equal(key, "y", 1);
    sf_hmap_free(m);
}

/* The index keeps only the top 20 hash bits in a slot: keys whose hashes
 * agree there and in the slot bits must still be told apart by the full
 * hash stored with the key, and by the key itself. */
static void test_keys_sharing_tag_and_slot_are_told_apart(void **state)
{
    (void)state;
    sf_hmap *m = sf_hmap_new(sizeof(int), 0);
    assert_non_null(m);
    const uint64_t base = 0xabcde00000000007ull; /* tag 0xabcde, slot bits 7 */
    for (int i = 0; i < 300; i++) {
        char k[16];
        int kl = snprintf(k, sizeof k, "t%d", i);
        /* Middle bits only: the same tag and home slot at every index size
         * this test reaches (512 slots at most). */
        uint64_t h = base | (uint64_t)(i % 3) << 20;
        int *v = sf_hmap_upsert(m, k, (size_t)kl, h, NULL);
        assert_non_null(v);
        *v = i;
    }
    assert_int_equal(sf_hmap_count(m), 300);
    for (int i = 0; i < 300; i++) {
        char k[16];
        int kl = snprintf(k, sizeof k, "t%d", i);
        uint64_t h = base | (uint64_t)(i % 3) << 20;
        int *v = sf_hmap_find(m, k, (size_t)kl, h);
        assert_non_null(v);
        assert_int_equal(*v, i);
        /* The same key under another hash of the same tag is absent. */
        assert_null(sf_hmap_find(m, k, (size_t)kl, base | (uint64_t)3 << 20));
    }
    sf_hmap_free(m);
}

/* Keys of every length around the 16-byte padding of a block, with values
 * filled to their last byte, through many index doublings: no value write
 * reaches another entry's key, and every key is found where it was put. */
static void test_keys_of_every_length_survive_growth_and_full_values(void **state)
{
    (void)state;
    enum { N = 5000, VS = 40 };
    sf_hmap *m = sf_hmap_new(VS, 0);
    assert_non_null(m);
    unsigned char k[80];
    for (int i = 0; i < N; i++) {
        size_t kl = (size_t)(i % 70);
        for (size_t b = 0; b < kl; b++)
            k[b] = (unsigned char)(i * 31 + (int)b * 7);
        if (kl >= 4)
            memcpy(k, &i, sizeof i); /* distinct from length 4 on */
        int inserted = 0;
        unsigned char *v = sf_hmap_upsert(m, k, kl, sf_hash_bytes(k, kl, SEED), &inserted);
        assert_non_null(v);
        if (!inserted)
            continue; /* short keys repeat: i % 70 < 4 */
        assert_int_equal((uintptr_t)v % 16, 0);
        memset(v, (unsigned char)i, VS);
    }
    for (int i = 0; i < N; i++) {
        size_t kl = (size_t)(i % 70);
        if (kl < 4)
            continue;
        for (size_t b = 0; b < kl; b++)
            k[b] = (unsigned char)(i * 31 + (int)b * 7);
        memcpy(k, &i, sizeof i);
        const unsigned char *v = sf_hmap_find(m, k, kl, sf_hash_bytes(k, kl, SEED));
        assert_non_null(v);
        for (int b = 0; b < VS; b++)
            assert_int_equal(v[b], (unsigned char)i);
    }
    for (size_t e = 0; e < sf_hmap_count(m); e++) {
        const void *key;
        size_t klen;
        uint64_t hash;
        void *value;
        sf_hmap_entry(m, e, &key, &klen, &hash, &value);
        assert_int_equal(hash, sf_hash_bytes(key, klen, SEED));
        assert_int_equal(((const char *)key)[klen], '\0');
        assert_ptr_equal(sf_hmap_find(m, key, klen, hash), value);
    }
    sf_hmap_free(m);
}

/* A drain in insertion order: the index and the arena blocks behind the
 * drain point go, everything from it on still reads back whole, and the
 * map frees cleanly afterwards (ASan checks the rest). */
static void test_drain_frees_blocks_behind_and_keeps_the_rest(void **state)
{
    (void)state;
    enum { N = 20000, VS = 96 };
    sf_hmap *m = sf_hmap_new(VS, 0);
    assert_non_null(m);
    for (int i = 0; i < N; i++) {
        char k[32];
        int kl = snprintf(k, sizeof k, "key-%d", i);
        unsigned char *v = sf_hmap_upsert(m, k, (size_t)kl, sf_hash_bytes(k, (size_t)kl, SEED), NULL);
        assert_non_null(v);
        memset(v, (unsigned char)i, VS);
    }
    size_t before = sf_hmap_memory(m), last = before;
    for (size_t at = 0; at <= N; at += 1000) {
        sf_hmap_drain_to(m, at);
        size_t now = sf_hmap_memory(m);
        assert_true(now <= last);
        last = now;
        for (size_t e = at; e < N; e++) {
            const void *key;
            size_t klen;
            void *value;
            sf_hmap_entry(m, e, &key, &klen, NULL, &value);
            char want[32];
            int wl = snprintf(want, sizeof want, "key-%zu", e);
            assert_int_equal(klen, (size_t)wl);
            assert_memory_equal(key, want, klen);
            for (int b = 0; b < VS; b++)
                assert_int_equal(((unsigned char *)value)[b], (unsigned char)e);
        }
    }
    /* The index and every arena block but the newest (about half of the
     * doubling blocks) are gone by the end. */
    assert_true(last < before * 3 / 4);
    assert_int_equal(sf_hmap_count(m), N);
    sf_hmap_free(m);
}

/* keep function of the compaction tests: entries whose number is not a
 * multiple of 3 go. */
static int keep_thirds(void *ctx, size_t i, void *value)
{
    size_t *seen = ctx;
    (*seen)++;
    assert_int_equal(*(unsigned char *)value, (unsigned char)i);
    return i % 3 == 0;
}

static void key_of(size_t i, char *k, int *kl)
{
    *kl = snprintf(k, 32, "key-%zu", i);
}

/* A map of n entries "key-<i>", each value vs bytes of (unsigned char)i. */
static sf_hmap *numbered_map(size_t n, size_t vs)
{
    sf_hmap *m = sf_hmap_new(vs, 0);
    assert_non_null(m);
    for (size_t i = 0; i < n; i++) {
        char k[32];
        int kl;
        key_of(i, k, &kl);
        unsigned char *v = sf_hmap_upsert(m, k, (size_t)kl, sf_hash_bytes(k, (size_t)kl, SEED), NULL);
        assert_non_null(v);
        memset(v, (unsigned char)i, vs);
    }
    return m;
}

static void test_compact_removes_entries_and_keeps_numbers_and_values(void **state)
{
    (void)state;
    enum { N = 30000, VS = 40 };
    sf_hmap *m = numbered_map(N, VS);
    size_t before = sf_hmap_memory(m), seen = 0;
    assert_int_equal(sf_hmap_compact(m, keep_thirds, &seen), 0);
    assert_int_equal(seen, N);
    assert_int_equal(sf_hmap_count(m), N);
    /* Two thirds of the blocks are gone; the index keeps its slots. */
    assert_true(sf_hmap_memory(m) < before * 3 / 4);
    for (size_t i = 0; i < N; i++) {
        char k[32];
        int kl;
        key_of(i, k, &kl);
        const void *key;
        size_t klen;
        uint64_t hash;
        void *value;
        sf_hmap_entry(m, i, &key, &klen, &hash, &value);
        unsigned char *found = sf_hmap_find(m, k, (size_t)kl, sf_hash_bytes(k, (size_t)kl, SEED));
        if (i % 3) {
            assert_null(key);
            assert_null(value);
            assert_int_equal(klen, 0);
            assert_int_equal(hash, 0);
            assert_null(found);
            continue;
        }
        assert_int_equal(klen, (size_t)kl);
        assert_memory_equal(key, k, klen);
        assert_int_equal(hash, sf_hash_bytes(k, (size_t)kl, SEED));
        assert_ptr_equal(found, value);
        for (int b = 0; b < VS; b++)
            assert_int_equal(found[b], (unsigned char)i);
    }
    /* A second pass sees only the entries still there. */
    seen = 0;
    assert_int_equal(sf_hmap_compact(m, keep_thirds, &seen), 0);
    assert_int_equal(seen, (N + 2) / 3);
    sf_hmap_free(m);
}

/* Adds keys from..to-1 (key_of), each new, its value's first byte its
 * number. */
static void add_numbered(sf_hmap *m, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        char k[32];
        int kl;
        key_of(i, k, &kl);
        int inserted = 0;
        unsigned char *v = sf_hmap_upsert(m, k, (size_t)kl, sf_hash_bytes(k, (size_t)kl, SEED),
                                          &inserted);
        assert_non_null(v);
        assert_int_equal(inserted, 1);
        *v = (unsigned char)i;
    }
}

/* Keys 0..n-1 of a map compacted by keep_thirds, then keys n..to-1 added:
 * each is found with its number, but the removed ones. */
static void assert_thirds_and_added_found(const sf_hmap *m, size_t n, size_t to)
{
    for (size_t i = 0; i < to; i++) {
        char k[32];
        int kl;
        key_of(i, k, &kl);
        unsigned char *v = sf_hmap_find(m, k, (size_t)kl, sf_hash_bytes(k, (size_t)kl, SEED));
        if (i < n && i % 3) {
            assert_null(v);
            continue;
        }
        assert_non_null(v);
        assert_int_equal(*v, (unsigned char)i);
    }
}

static void test_compacted_entries_leave_room_in_the_index(void **state)
{
    (void)state;
    enum { N = 7000 }; /* 7000 entries need 16384 slots at load 0.7 */
    sf_hmap *m = numbered_map(N, 8);
    size_t seen = 0;
    assert_int_equal(sf_hmap_compact(m, keep_thirds, &seen), 0);
    size_t after = sf_hmap_memory(m);
    /* As many new keys as were removed: the live count is back where it
     * was, so the index does not double; every key, old and new, is
     * found, and a removed key can come back as a new entry. */
    add_numbered(m, N, N + N * 2 / 3);
    assert_true(sf_hmap_memory(m) < after + (size_t)N * 64);
    assert_thirds_and_added_found(m, N, N + N * 2 / 3);
    int inserted = 0;
    assert_non_null(sf_hmap_upsert(m, "key-1", 5, hs("key-1"), &inserted));
    assert_int_equal(inserted, 1);
    assert_int_equal(sf_hmap_count(m), N + N * 2 / 3 + 1);
    sf_hmap_free(m);
}

/* The index refill after a growth fetches slots ahead over the entries,
 * removed ones among them: growing a compacted map through several
 * doublings keeps every live key, old and new, and no removed one. */
static void test_growth_after_compact_refills_every_live_key(void **state)
{
    (void)state;
    enum { N = 3000, MORE = 40000 };
    sf_hmap *m = numbered_map(N, 8);
    size_t seen = 0;
    assert_int_equal(sf_hmap_compact(m, keep_thirds, &seen), 0);
    add_numbered(m, N, N + MORE);
    assert_thirds_and_added_found(m, N, N + MORE);
    sf_hmap_free(m);
}

static void test_reserve_keeps_entries_and_makes_room_once(void **state)
{
    (void)state;
    enum { N = 3000, TO = 40000 }; /* 40000 entries need 65536 slots at load 0.7 */
    sf_hmap *m = numbered_map(N, 8);
    size_t before = sf_hmap_memory(m);
    assert_int_equal(sf_hmap_reserve(m, 10), 0); /* room already: nothing moves */
    assert_int_equal(sf_hmap_memory(m), before);
    assert_int_equal(sf_hmap_reserve(m, TO), 0);
    /* 8192 slots and 4096 entries before; 65536 and TO after */
    assert_true(sf_hmap_memory(m) >= before + (65536 - 8192) * 8 + (TO - 4096) * sizeof(void *));
    assert_int_equal(sf_hmap_count(m), N);
    for (size_t i = 0; i < N; i++) {
        const void *key;
        void *value;
        char k[32];
        int kl;
        key_of(i, k, &kl);
        sf_hmap_entry(m, i, &key, NULL, NULL, &value);
        assert_memory_equal(key, k, (size_t)kl);
        assert_int_equal(*(unsigned char *)value, (unsigned char)i);
        assert_ptr_equal(sf_hmap_find(m, k, (size_t)kl, sf_hash_bytes(k, (size_t)kl, SEED)),
                         value);
    }
    add_numbered(m, N, TO);
    size_t seen = 0;
    assert_int_equal(sf_hmap_compact(m, keep_thirds, &seen), 0);
    assert_int_equal(seen, TO);
    assert_thirds_and_added_found(m, TO, TO);
    sf_hmap_drain_to(m, 1);
    assert_int_equal(sf_hmap_reserve(m, 2 * TO), -1);
    sf_hmap_free(m);
}

static void test_drain_after_compact_skips_removed_entries(void **state)
{
    (void)state;
    enum { N = 20000, VS = 64 };
    sf_hmap *m = numbered_map(N, VS);
    size_t seen = 0;
    assert_int_equal(sf_hmap_compact(m, keep_thirds, &seen), 0);
    for (size_t at = 1; at <= N; at += 999) {
        sf_hmap_drain_to(m, at); /* at is never a kept entry's number */
        for (size_t e = at; e < N; e += 3 - e % 3) {
            if (e % 3)
                continue;
            void *value;
            sf_hmap_entry(m, e, NULL, NULL, NULL, &value);
            assert_int_equal(*(unsigned char *)value, (unsigned char)e);
        }
    }
    sf_hmap_drain_to(m, N);
    assert_int_equal(sf_hmap_compact(m, keep_thirds, &seen), -1);
    sf_hmap_free(m);
}

/* An 8-aligned map: a 23-byte key and an 88-byte value (S3's groups) take
 * 128 bytes a block, not 144; values stay 8-aligned and found by every key
 * length; only an empty map switches. */
static void test_align8_packs_blocks_and_keeps_every_key(void **state)
{
    (void)state;
    sf_hmap *m = sf_hmap_new(88, 16);
    assert_non_null(m);
    assert_int_equal(sf_hmap_set_align8(m), 0);
    char key[48];
    memset(key, 'k', sizeof key);
    char *prev = NULL;
    for (int i = 0; i < 8; i++) {
        key[0] = (char)('a' + i);
        int ins = 0;
        char *v = sf_hmap_upsert(m, key, 23, sf_hash_bytes(key, 23, 1), &ins);
        assert_non_null(v);
        assert_int_equal(ins, 1);
        assert_int_equal((uintptr_t)v % 8, 0);
        if (prev)
            assert_int_equal(v - prev, 128);
        memset(v, i + 1, 88);
        prev = v;
    }
    for (size_t n = 0; n <= 40; n++) {
        key[0] = 'Z';
        char *v = sf_hmap_upsert(m, key, n, sf_hash_bytes(key, n, 1), NULL);
        assert_non_null(v);
        assert_int_equal((uintptr_t)v % 8, 0);
        memset(v, (int)n, 88);
    }
    for (size_t n = 0; n <= 40; n++) {
        key[0] = 'Z';
        const unsigned char *v = sf_hmap_find(m, key, n, sf_hash_bytes(key, n, 1));
        assert_non_null(v);
        assert_int_equal(v[0], n);
        assert_int_equal(v[87], n);
    }
    assert_int_equal(sf_hmap_set_align8(m), -1);
    sf_hmap_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash_same_bytes_same_value_at_any_alignment),
        cmocka_unit_test(test_hash_values_are_fixed_across_builds),
        cmocka_unit_test(test_hash_of_every_length_and_alignment_is_fixed),
        cmocka_unit_test(test_hash_depends_on_length_seed_and_every_byte),
        cmocka_unit_test(test_hash_in_steps_is_the_hash_of_the_bytes),
        cmocka_unit_test(test_hash_of_sequential_decimal_strings_spreads),
        cmocka_unit_test(test_hash_u64_of_sequential_integers_spreads),
        cmocka_unit_test(test_find_in_empty_map_is_null),
        cmocka_unit_test(test_peek_follows_the_probe_path_past_the_home_slot),
        cmocka_unit_test(test_insert_and_find_many_keys),
        cmocka_unit_test(test_upsert_of_existing_key_returns_same_block),
        cmocka_unit_test(test_growth_keeps_entries_in_insertion_order),
        cmocka_unit_test(test_value_and_key_pointers_stable_across_growth),
        cmocka_unit_test(test_value_blocks_are_zeroed_and_16_byte_aligned),
        cmocka_unit_test(test_zero_length_key_is_one_key),
        cmocka_unit_test(test_binary_keys_with_nul_bytes_are_distinct),
        cmocka_unit_test(test_keys_colliding_on_hash_are_told_apart),
        cmocka_unit_test(test_value_size_zero_is_a_set),
        cmocka_unit_test(test_keys_sharing_tag_and_slot_are_told_apart),
        cmocka_unit_test(test_keys_of_every_length_survive_growth_and_full_values),
        cmocka_unit_test(test_growth_after_compact_refills_every_live_key),
        cmocka_unit_test(test_drain_frees_blocks_behind_and_keeps_the_rest),
        cmocka_unit_test(test_compact_removes_entries_and_keeps_numbers_and_values),
        cmocka_unit_test(test_compacted_entries_leave_room_in_the_index),
        cmocka_unit_test(test_drain_after_compact_skips_removed_entries),
        cmocka_unit_test(test_reserve_keeps_entries_and_makes_room_once),
        cmocka_unit_test(test_peek_gives_the_home_slot_value_or_null),
        cmocka_unit_test(test_align8_packs_blocks_and_keeps_every_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

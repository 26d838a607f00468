/* groups.c - group table with mergeable aggregate states.
 *
 * Layout of a group's state block (from the hash map: 16-byte aligned, or 8
 * when no state needs 16, as S3's do not: sf_hmap_set_align8):
 *   uint32 group index (insertion order), uint8 retired flag, 3 bytes
 *   of has-a-value flags of min/max of doubles (mm_has), uint64 input rows
 *   (for skew metrics), then one slot per aggregate at def_off[j]. A table with a count() has no rows word: its
 *   rows are that count's state (the two are the same number: one a row,
 *   the same sums merged), at rows_off, so the states start at byte 8
 *   (S3's group: 112 bytes with its key and the map's header, not 128).
 * Invariant: rows_alias tables add a row to the count's state only; the
 * rows increments below are for tables without one.
 * Invariant: a state block only ever holds exact or order-free states, so
 * merging partial blocks in any order gives identical results.
 */
#include "core/groups.h"

#include <stdlib.h>
#include <string.h>

#include "core/bigmem.h"
#include "core/bytes.h"
#include "core/hash.h"
#include "core/pairs.h"
#include "core/xsum.h"
#include "core/decimal.h"

/* sum/mean of int64s in 16 bytes: the sum while it fits an int64, and n.
 * The first add or merge that would leave the int64 range moves the sum
 * to the table's side array of exact 128-bit sums (isum_widen): sum is
 * then its index there, and n's top bit (ISUM_WIDE) says so, for good.
 * Exact either way; n (the low 63 bits) counts rows, far below 2^63. */
typedef struct isum {
    int64_t sum;
    int64_t n;
} isum;
#define ISUM_WIDE INT64_MIN

typedef struct dsum {
    sf_xsumc x;
    int64_t n;
} dsum;

/* sum/mean of decimals: an exact 192-bit sum of the scaled integers
 * (sf_dec_acc, flattened so the state takes 32 bytes). */
typedef struct decsum {
    sf_u128 lo;
    int64_t hi;
    int64_t n;
} decsum;

/* The state of a sum or mean of doubles (an sf_xsumc to free). */
static int is_xsum(const sf_agg_def *d)
{
    return (d->kind == SF_AGG_SUM || d->kind == SF_AGG_MEAN) && d->arg_type != SF_INT &&
           d->arg_type != SF_DECIMAL;
}
/* A count_distinct state in the group's block. The group's first value of
 * a fixed-width set (its bits) is kept here, beside the other states: with
 * groups close to rows (one value per group, the common case of S3) most
 * groups never go further, which saves a cache miss per row. The next
 * SMALL_MAX values go to the group's own small vector (a few words from
 * the set's pool, found through the block, so a batch of updates can
 * prefetch it): with a few values per group (S4: about 15) each lookup is
 * a scan of one or two cache lines, and counting or exporting a group
 * reads its vector, not a chain through the shared table. A group with
 * more values moves them to the set's bitmaps and pair table ("big") and
 * keeps adding there. Each value lives in exactly one place: here, in the
 * small vector, in a bitmap or in the pair table. */
typedef struct dstate {
    uint64_t first; /* bits of the first value (fixed sets only); SPREAD:
                     * the count other ranks found (sf_groups_distinct_add) */
    uint64_t w;     /* the rest, packed (ds_* below): the address of small
                     * (fixed sets: values after the first, NULL none, from
                     * the pool) in bits 0-47, has_first (1: first holds a
                     * value; SPREAD: the values went) in 48-49, big (1:
                     * values after the first are in bitmaps and pairs;
                     * BIG_BITMAP: as 1, and small is the group's bitmap)
                     * in 50-51, nsmall (values in small, at most
                     * SMALL_MAX) in 52-62, w4 (a narrow set's small
                     * holds 4-byte ids, else 2-byte) in 63 */
} dstate; /* 16 bytes (24 with its fields apart); the count is the
           * set's (counts), not the group's */

/* has_first of a group whose values of this aggregate were spread over
 * ranks (sf_groups_distinct_spread): they are counted there, and the
 * count comes back in first. */
#define SPREAD 2

/* big of a group whose bitmap exists (dense mode): small points at it, so
 * a value in the bitmap's range is set without the set's bitmap table
 * (distinct_add_bits). The bitmap is the set's (ds->bitmaps[idx]), never
 * a small vector: nsmall stays 0 and small_clear only forgets it. */
#define BIG_BITMAP 2

/* dstate's packed fields. A small vector's or bitmap's address takes 48
 * bits, as the user address spaces of x86-64 and AArch64 do (the hash
 * map's index slots rely on the same): ds_addr_ok says whether one does,
 * and memory above that fails like an allocation. */
#define DS_ADDR_MASK ((1ull << 48) - 1)

static inline int ds_addr_ok(const void *p) { return ((uint64_t)(uintptr_t)p & ~DS_ADDR_MASK) == 0; }
static inline uint64_t *ds_small(const dstate *d) { return (uint64_t *)(uintptr_t)(d->w & DS_ADDR_MASK); }
static inline unsigned ds_has_first(const dstate *d) { return (unsigned)(d->w >> 48) & 3; }
static inline unsigned ds_big(const dstate *d) { return (unsigned)(d->w >> 50) & 3; }
static inline uint32_t ds_nsmall(const dstate *d) { return (uint32_t)(d->w >> 52) & 0x7ffu; }
static inline unsigned ds_w4(const dstate *d) { return (unsigned)(d->w >> 63); }

static inline void ds_set_small(dstate *d, const uint64_t *p)
{
    d->w = (d->w & ~DS_ADDR_MASK) | (uint64_t)(uintptr_t)p;
}

static inline void ds_set_has_first(dstate *d, unsigned v)
{
    d->w = (d->w & ~(3ull << 48)) | (uint64_t)v << 48;
}

static inline void ds_set_big(dstate *d, unsigned v)
{
    d->w = (d->w & ~(3ull << 50)) | (uint64_t)v << 50;
}

static inline void ds_set_nsmall(dstate *d, uint32_t n)
{
    d->w = (d->w & ~(0x7ffull << 52)) | (uint64_t)n << 52;
}

static inline void ds_set_w4(dstate *d, unsigned v)
{
    d->w = (d->w & ~(1ull << 63)) | (uint64_t)v << 63;
}

/* Tag of a pair-table slot whose pair was taken out (a spread group's):
 * probes go past it, growing drops it. */
#define TOMB UINT64_MAX

/* A group's small vector holds at most SMALL_MAX values, in size classes
 * of SMALL_MIN << c values (4, 8, 16, 32); a full one moves to the next
 * class, and the old one goes to the free list of its bytes. A value takes
 * 8 bytes, or in a set of strings (narrow: its values are dictionary ids,
 * which dict_id keeps below UINT32_MAX) 2 while each of the vector's ids
 * is below 65535 and 4 from the first that is not (small_widen, that
 * vector alone: dstate's w4), so that S4's ~7 user ids a group and rank
 * take 16 bytes of fresh memory, not 32. */
#define SMALL_MIN 4
#define SMALL_MAX 32
#define SMALL_CLASSES 6 /* free lists by bytes: 8 << k, k = 0..5 */
/* A 2-byte vector's unused slots (small_add reads them four values at a
 * time); its ids are below it. */
#define SMALL_NONE2 0xffffu
/* Entries of a string distinct set's id cache (a power of two, 96 KiB:
 * four per value of a dictionary of ~1000, such as S3's item ids). */
#define DICT_CACHE 4096

/* The distinct (group, value) pairs of one count_distinct aggregate. Values
 * of a fixed-width type (int64, double, date, bool) live inline in a flat
 * open-addressing table of pairs - one cache line per probe, no allocation
 * per value. Strings are interned first: each distinct string gets a dense
 * id (0, 1, 2, ... in order of first sight on this rank) from a dictionary,
 * and the (group, id) pairs go to the same pair table - or to bitmaps over
 * the ids, which are a small range by construction. The ids never leave the
 * rank: export writes the strings themselves, or, for a set of a
 * replicated dimension's keys (sf_groups_distinct_key_ids), the keys'
 * dimension ids, which every rank shares. Other types (none today) go
 * to a generic map keyed by group index + encoding. */
typedef struct distinct_set {
    sf_type type;    /* static type of the argument */
    int fixed;       /* 1: pair table; 0: generic map */
    sf_hmap *dict;   /* strings: string bytes -> uint32 id (its entry number) */
    uint32_t *byid;  /* strings: a dimension id of the value (core/join, passed to
                      * sf_groups_update_ids) -> its dictionary id + 1, 0 unknown yet,
                      * so a joined string is looked up by its id, not hashed */
    size_t nbyid;
    /* strings: the dictionary's ids of recent values of at most 16 bytes
     * (dict_id), direct-mapped, DICT_CACHE entries allocated at the first
     * value, or NULL; len 0 = empty, else the length + 1 */
    struct dict_cached {
        uint64_t w0, w1;
        uint32_t len, id;
    } *dcache;
    uint32_t *srcof; /* strings: dictionary id -> its dimension id, 0 unknown */
    size_t nsrcof;
    const sf_join_table *idtab; /* the replicated dimension whose key ids the
                                 * values carry (sf_groups_distinct_key_ids), or NULL */
    int idcol;       /* its key column */
    uint64_t *pairs; /* fixed: 2 words per slot: group index + 1 (0 = empty), value bits */
    size_t mask;     /* fixed: slots - 1 */
    size_t count;    /* fixed: pairs stored */
    sf_hmap *set;    /* generic: keys are uint32 group index (LE) + encoded value */
    uint32_t *head;  /* per group: first entry (slot or map entry) + 1, 0 = none */
    uint32_t *next;  /* per entry: next entry + 1 in the same group */
    /* Dense mode, for int64/date values in a small range: a bitmap per group
     * (bit k = value base + k), which keeps the whole set in cache. Values
     * outside [base, base + span), and groups past the memory budget, stay
     * in the pair table; each value lives in exactly one of the two. */
    int dense;       /* 0 undecided, 1 on, -1 never (range too wide) */
    uint64_t seen;   /* values offered while undecided */
    int64_t vmin, vmax;
    int64_t base;
    uint64_t span;   /* bits per bitmap, a multiple of 64 */
    uint64_t **bitmaps; /* per group index: bitmap, NULL undecided, or NO_BITMAP */
    size_t nbitmaps;
    /* A bitmap word's write put off to the set's next one (big_add): the
     * word is fetched when found and set a row later, when it has come
     * in, instead of the row waiting for it. NULL: none. Only while the
     * table is not prepared; sf_groups_prepare_export sets it, and
     * sf_groups_distinct_values reads it with the word. */
    uint64_t *pend;
    uint64_t pend_bit;
    size_t bitmap_bytes;
    sf_arena bitmem;
    /* Per group index: its distinct values, set by sf_groups_prepare_export
     * (a row of the table is read only after it) and kept through
     * sf_groups_drain_to, which frees the rest of the set; in the set, not
     * in each group's block, so that a group of S3's aggregates takes 128
     * bytes (two cache lines) instead of 144. */
    int64_t *counts;
    size_t ncounts;
    /* The groups' small vectors: */
    size_t state_off;   /* offset of this set's dstate in a group's block */
    int narrow;         /* 1: small vectors of 2- or 4-byte values (a dict's ids) */
    sf_arena smallmem;
    uint64_t *small_free[SMALL_CLASSES]; /* free vectors, linked by word 0 */
} distinct_set;

#define DENSE_DECIDE_AFTER 65536          /* values seen before choosing dense mode */
#define DENSE_MAX_SPAN ((uint64_t)1 << 21) /* bits per group bitmap at most */
#define DENSE_BUDGET ((size_t)32 << 20)    /* bitmap bytes per distinct set at most */
static uint64_t no_bitmap_mark;
#define NO_BITMAP (&no_bitmap_mark)

/* How update_state adds a row to an aggregate: its kind and argument
 * type folded into one case when the table is made, so the loop that runs
 * for every row branches once per aggregate (add_value, which the other
 * paths share, asks kind then type). */
enum { UP_COUNT, UP_COUNT_IF, UP_SUM_INT, UP_SUM_XSUM, UP_DISTINCT, UP_MIN8, UP_MAX8, UP_OTHER,
       UP_END /* after the last aggregate: update_state's loop ends on it */ };

typedef struct agg_up {
    int op;      /* UP_* */
    int slot;    /* the argument as a row slot, or -1 */
    size_t off;  /* of the state in the block */
    int set;     /* UP_DISTINCT: index into sets */
    int rtype;   /* the argument's type in a row record (sf_type; SF_NULL for
                  * count()): its field is written and read inline when the
                  * value has it (rec_put, rec_get) */
    sf_expr_leaf test; /* UP_COUNT_IF: its argument's inline form, or SF_LEAF_NONE */
    unsigned j;  /* the aggregate's index (defs, up) */
    int bit;     /* UP_MIN8, UP_MAX8: the state's has-a-value flag (mm_has) */
} agg_up;

/* The cases update_byop takes, in the order it runs them. */
#define UP_BYOP_KINDS (UP_DISTINCT + 1)
/* g->sig of a table whose byop has at most one case of each op (bit op
 * set when it has one). */
#define UP_SIG(c, i, s, x, d) ((c) | (i) << 1 | (s) << 2 | (x) << 3 | (d) << 4)
#define UP_SIG_NONE 32 /* more than one of an op: update_byop */
/* UP_CASE(c, i, s, x, d) of each of the 32 signatures, for a switch on
 * g->sig that runs code made for each. */
#define UP_CASE2(c, i, s, x) UP_CASE(c, i, s, x, 0) UP_CASE(c, i, s, x, 1)
#define UP_CASE4(c, i, s) UP_CASE2(c, i, s, 0) UP_CASE2(c, i, s, 1)
#define UP_CASE8(c, i) UP_CASE4(c, i, 0) UP_CASE4(c, i, 1)
#define UP_CASE16(c) UP_CASE8(c, 0) UP_CASE8(c, 1)
#define UP_SIG_CASES UP_CASE16(0) UP_CASE16(1)

struct sf_groups {
    sf_agg_def *defs;
    size_t ndefs;
    agg_up *up;         /* per aggregate: its update case; then one UP_END */
    /* The update compiled per table (update_byop): the cases grouped by
     * op in UP_* order (count, count_if with an inline test, integer sum,
     * exact sum, count_distinct; arguments in row slots), each group in
     * the aggregates' order, nbyop[op] of each. A row then runs one short
     * loop per op instead of a dispatch per aggregate. NULL when an
     * aggregate has another case (min, max, a computed argument): the walk
     * over up then. */
    agg_up *byop;
    unsigned nbyop[UP_BYOP_KINDS];
    int sig; /* UP_SIG of the counts when each is 0 or 1, else UP_SIG_NONE */
    const agg_up *walk; /* up when byop is NULL, else NULL: update_state's one
                         * load says which way a row goes */
    /* A row put off (update_put_off): sf_groups_update_group of a table
     * with a signature, while unprepared and with no group retired, keeps
     * the row's inputs by value (count_if's answer, the sums' arguments,
     * the distinct value's bits), starts its block's fetch and applies
     * the row put off before, whose block has come in by now. Every
     * function that reads or changes states applies it first (off_flush;
     * the const readers too, through a cast: g is never a const object),
     * so rows are applied in their order and no reader sees one missing.
     * An error of a row applied late stays in off_rc: the next
     * sf_groups_update_group, sf_groups_prepare_export (which every path
     * to an output takes), merge or row record returns it. */
    struct put_off {
        char *st;        /* the group's block; NULL: none */
        int64_t cif;     /* count_if's answer */
        sf_value isum;   /* the integer sum's argument */
        sf_value xsum;   /* the exact sum's argument */
        uint64_t dbits;  /* count_distinct's value as its set's bits */
        int dnull;       /* that value was NULL */
    } off_row;
    int off_rc;
    int put_off_ok;     /* byop with a signature: rows may be put off */
    int *argslot;       /* aggregate j's argument as a row slot, or -1 */
    int *mmbit;         /* aggregate j: the flag of its 8-byte min/max state
                         * (mm_has), or -1 for any other state */
    sf_buf wide;        /* the integer sums past the int64 range (isum), __int128 each */
    size_t *off;        /* offset of each aggregate's state */
    int *distinct;      /* aggregate j -> index into sets, or -1 */
    distinct_set *sets;
    size_t nsets;
    size_t block;       /* state block size */
    size_t rows_off;    /* where a group's rows are: ROWS_OFF, or a count()'s state */
    int rows_alias;     /* 1: rows_off is a count()'s state, counted by its update */
    sf_hmap *map;
    sf_arena strings;   /* min/max string copies */
    sf_buf tmp;         /* distinct key scratch */
    int prepared;
    size_t nretired;
    size_t drained;       /* groups [0, drained) are gone (sf_groups_drain_to) */
    size_t sums_taken;    /* groups [0, sums_taken) have no heap partials (sf_groups_take_row) */
    int64_t distinct_max; /* largest count_distinct count, as of the last preparation */
    size_t nvectors;      /* small vectors started (small_add), for the look-ahead's
                           * stage 2 (sf_groups_prefetch): not worth it when few
                           * groups have one */
    uint64_t upserts, inserts; /* group lookups, and those that made the group:
                                * a record's stage 1 (its group's block) finds
                                * nothing to load when most make one */
};

#define HDR 16
#define RETIRED_OFF 4
#define ROWS_OFF 8
/* The header's bytes 5-7: one has-a-value bit per min/max kept in 8 bytes
 * (mm_type: a double's bits, an int64's or a timestamp's value, a date's
 * day number; a zeroed block is every state empty, and no double's bits
 * can mark "none": NaNs and -0.0 are kept as they came). A table with more
 * such aggregates keeps the rest as sf_values. */
#define MM_FLAGS_OFF 5
#define MM_FLAGS 24

static inline int mm_has(const char *st, int bit)
{
    return ((unsigned char)st[MM_FLAGS_OFF + (bit >> 3)] >> (bit & 7)) & 1;
}

static inline void mm_set(char *st, int bit)
{
    st[MM_FLAGS_OFF + (bit >> 3)] |= (char)(1 << (bit & 7));
}

/* 1 when a min/max over values of static type t keeps an 8-byte state. */
static int mm_type(sf_type t)
{
    return t == SF_DOUBLE || t == SF_INT || t == SF_TIMESTAMP || t == SF_DATE;
}

/* An 8-byte min/max state's value (t: its argument's static type), or
 * NULL before the first. */
static inline sf_value mm_value(const char *st, int bit, const char *s, sf_type t)
{
    if (!mm_has(st, bit))
        return sf_null();
    if (t == SF_DOUBLE) {
        double d;
        memcpy(&d, s, sizeof d);
        return sf_double(d);
    }
    int64_t i;
    memcpy(&i, s, sizeof i);
    return t == SF_INT ? sf_int(i) : t == SF_TIMESTAMP ? sf_timestamp(i) : sf_date((int32_t)i);
}

/* v into the 8-byte min (want_max 0) or max state at s of the block st,
 * in sf_value_cmp's order (NaN above every number; of equal values, such
 * as 0.0 and -0.0, the first stays), as keep_minmax keeps an sf_value.
 * The argument's static type is double; an int64 (none comes today: the
 * decoders and expressions give a double column doubles) counts as its
 * double. Returns 0, or SF_E_INVAL for a value of another type. */
static inline int mm_add_double(char *st, int bit, char *s, const sf_value *v, int want_max)
{
    double a;
    if (v->type == SF_DOUBLE)
        a = v->u.d;
    else if (v->type == SF_NULL)
        return 0;
    else if (v->type == SF_INT)
        a = (double)v->u.i;
    else
        return SF_E_INVAL;
    if (mm_has(st, bit)) {
        double b;
        memcpy(&b, s, sizeof b);
        int an = a != a, bn = b != b;
        int c = an || bn ? an - bn : (a > b) - (a < b);
        if (want_max ? c <= 0 : c >= 0)
            return 0;
    } else {
        mm_set(st, bit);
    }
    memcpy(s, &a, sizeof a);
    return 0;
}

/* v into the 8-byte min or max state at s of an int64, timestamp or date
 * argument (t, its static type): as keep_minmax, whose sf_value_cmp orders
 * two values of one of these types by their numbers. Returns 0, or
 * SF_E_INVAL for a value of another type. */
static inline int mm_add_int(char *st, int bit, char *s, const sf_value *v, int want_max,
                             sf_type t)
{
    if (v->type == SF_NULL)
        return 0;
    if (v->type != t)
        return SF_E_INVAL;
    int64_t a = t == SF_DATE ? (int64_t)v->u.date : v->u.i;
    if (mm_has(st, bit)) {
        int64_t b;
        memcpy(&b, s, sizeof b);
        if (want_max ? a <= b : a >= b)
            return 0;
    } else {
        mm_set(st, bit);
    }
    memcpy(s, &a, sizeof a);
    return 0;
}

/* v into an 8-byte min/max state of argument type t (mm_type). */
static inline int mm_add(char *st, int bit, char *s, const sf_value *v, int want_max, sf_type t)
{
    return t == SF_DOUBLE ? mm_add_double(st, bit, s, v, want_max)
                          : mm_add_int(st, bit, s, v, want_max, t);
}

/* The wide sum at index k of g's side array. */
static inline __int128 *wide_at(const sf_groups *g, uint64_t k)
{
    return (__int128 *)(void *)(g->wide.p + k * sizeof(__int128));
}

/* isum's value, and its n. */
static inline __int128 isum_get(const sf_groups *g, const isum *s)
{
    return s->n < 0 ? *wide_at(g, (uint64_t)s->sum) : (__int128)s->sum;
}

static inline int64_t isum_n(const isum *s)
{
    return s->n & INT64_MAX;
}

/* Adds v (n rows) to s in the side array, moving s there first if it is
 * not yet. Returns 0, or SF_E_NOMEM (s unchanged). */
static __attribute__((noinline)) int isum_widen(sf_groups *g, isum *s, __int128 v, int64_t n)
{
    if (s->n >= 0) {
        __int128 first = s->sum;
        if (sf_buf_append(&g->wide, &first, sizeof first) != 0)
            return SF_E_NOMEM;
        s->sum = (int64_t)(g->wide.n / sizeof first - 1);
        s->n |= ISUM_WIDE;
    }
    *wide_at(g, (uint64_t)s->sum) += v;
    s->n += n;
    return 0;
}

/* Adds one row's v to s. Returns 0 or SF_E_NOMEM (s unchanged). */
static inline __attribute__((always_inline)) int isum_add(sf_groups *g, isum *s, int64_t v)
{
    int64_t r;
    if (__builtin_expect(s->n >= 0 && !__builtin_add_overflow(s->sum, v, &r), 1)) {
        s->sum = r;
        s->n++;
        return 0;
    }
    return isum_widen(g, s, v, 1);
}

/* Merges a partial sum (sum of n rows) into s. Returns 0 or SF_E_NOMEM. */
static int isum_merge(sf_groups *g, isum *s, __int128 sum, int64_t n)
{
    int64_t r;
    if (s->n >= 0 && sum >= INT64_MIN && sum <= INT64_MAX &&
        !__builtin_add_overflow(s->sum, (int64_t)sum, &r)) {
        s->sum = r;
        s->n += n;
        return 0;
    }
    return isum_widen(g, s, sum, n);
}

static size_t state_size(const sf_agg_def *d)
{
    switch (d->kind) {
    case SF_AGG_SUM:
    case SF_AGG_MEAN:
        return d->arg_type == SF_INT ? sizeof(isum)
               : d->arg_type == SF_DECIMAL ? sizeof(decsum)
                                           : sizeof(dsum);
    case SF_AGG_MIN:
    case SF_AGG_MAX: return sizeof(sf_value);
    case SF_AGG_COUNT_DISTINCT: return sizeof(dstate);
    default: return sizeof(int64_t);
    }
}

static size_t state_align(const sf_agg_def *d)
{
    if ((d->kind == SF_AGG_SUM || d->kind == SF_AGG_MEAN) && d->arg_type == SF_DECIMAL)
        return _Alignof(decsum);
    return 8;
}

/* Makes g->byop from g->up when every case is one update_byop takes
 * (else leaves it NULL). Returns 0 or SF_E_NOMEM. */
static int byop_plan(sf_groups *g)
{
    for (size_t j = 0; j < g->ndefs; j++) {
        const agg_up *u = &g->up[j];
        if (u->op >= UP_BYOP_KINDS || (u->op == UP_COUNT_IF && u->test.kind == SF_LEAF_NONE) ||
            (u->op != UP_COUNT && u->op != UP_COUNT_IF && u->slot < 0))
            return 0;
    }
    g->byop = calloc(g->ndefs ? g->ndefs : 1, sizeof *g->byop);
    if (!g->byop)
        return SF_E_NOMEM;
    size_t n = 0;
    for (int op = 0; op < UP_BYOP_KINDS; op++)
        for (size_t j = 0; j < g->ndefs; j++)
            if (g->up[j].op == op) {
                g->byop[n++] = g->up[j];
                g->nbyop[op]++;
            }
    g->sig = 0;
    for (int op = 0; op < UP_BYOP_KINDS; op++)
        g->sig |= (int)g->nbyop[op] << op;
    for (int op = 0; op < UP_BYOP_KINDS; op++)
        if (g->nbyop[op] > 1)
            g->sig = UP_SIG_NONE;
    return 0;
}

sf_groups *sf_groups_new(const sf_agg_def *defs, size_t ndefs)
{
    sf_groups *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->defs = calloc(ndefs ? ndefs : 1, sizeof *defs);
    g->off = calloc(ndefs ? ndefs : 1, sizeof *g->off);
    g->distinct = calloc(ndefs ? ndefs : 1, sizeof *g->distinct);
    g->sets = calloc(ndefs ? ndefs : 1, sizeof *g->sets);
    g->argslot = calloc(ndefs ? ndefs : 1, sizeof *g->argslot);
    g->mmbit = calloc(ndefs ? ndefs : 1, sizeof *g->mmbit);
    g->up = calloc(ndefs + 1, sizeof *g->up);
    if (!g->defs || !g->off || !g->distinct || !g->sets || !g->argslot || !g->mmbit ||
        !g->up) {
        sf_groups_free(g);
        return NULL;
    }
    memcpy(g->defs, defs, ndefs * sizeof *defs);
    g->ndefs = ndefs;
    for (size_t j = 0; j < ndefs; j++)
        g->argslot[j] = sf_expr_slot(defs[j].arg);
    /* The first count() is the rows word (see the layout above). */
    size_t jrows = ndefs;
    for (size_t j = 0; j < ndefs && jrows == ndefs; j++)
        if (defs[j].kind == SF_AGG_COUNT)
            jrows = j;
    size_t off = jrows < ndefs ? ROWS_OFF : HDR;
    int nmm = 0;
    for (size_t j = 0; j < ndefs; j++) {
        /* Each state at its own alignment (16 for a decimal sum's
         * integers, 8 for the rest), not every one at 16: a group of
         * S3's aggregates takes 112 bytes instead of 144. */
        size_t align = state_align(&defs[j]);
        off = (off + align - 1) & ~(align - 1);
        g->off[j] = off;
        g->mmbit[j] = (defs[j].kind == SF_AGG_MIN || defs[j].kind == SF_AGG_MAX) &&
                              mm_type(defs[j].arg_type) && nmm < MM_FLAGS
                          ? nmm++
                          : -1;
        off += g->mmbit[j] >= 0 ? sizeof(double) : state_size(&defs[j]);
        g->distinct[j] = -1;
        if (defs[j].kind == SF_AGG_COUNT_DISTINCT) {
            distinct_set *ds = &g->sets[g->nsets];
            g->distinct[j] = (int)g->nsets++;
            ds->type = defs[j].arg_type;
            ds->fixed = ds->type == SF_INT || ds->type == SF_DOUBLE || ds->type == SF_DATE ||
                        ds->type == SF_BOOL || ds->type == SF_STRING ||
                        ds->type == SF_TIMESTAMP;
            sf_arena_init(&ds->bitmem, 256 * 1024);
            sf_arena_init(&ds->smallmem, 1024 * 1024);
            ds->state_off = g->off[j];
            if (ds->type != SF_INT && ds->type != SF_DATE && ds->type != SF_STRING)
                ds->dense = -1;
            if (ds->type == SF_STRING && !(ds->dict = sf_hmap_new(sizeof(uint32_t), 1024))) {
                sf_groups_free(g);
                return NULL;
            }
            ds->narrow = ds->dict != NULL;
            if (ds->fixed) {
                ds->mask = 1023;
                ds->pairs = calloc(2 * (ds->mask + 1), sizeof *ds->pairs);
            } else {
                ds->set = sf_hmap_new(0, 1024);
            }
            if (!ds->pairs && !ds->set) {
                sf_groups_free(g);
                return NULL;
            }
        }
    }
    for (size_t j = 0; j < ndefs; j++) {
        const sf_agg_def *d = &defs[j];
        agg_up *u = &g->up[j];
        u->j = (unsigned)j;
        u->slot = g->argslot[j];
        u->off = g->off[j];
        u->set = g->distinct[j];
        u->bit = g->mmbit[j];
        u->rtype = d->kind == SF_AGG_COUNT_IF ? SF_BOOL : d->arg ? (int)d->arg_type : SF_NULL;
        sf_expr_leaf_of(d->kind == SF_AGG_COUNT_IF ? d->arg : NULL, &u->test);
        u->op = d->kind == SF_AGG_COUNT                                   ? UP_COUNT
                : d->kind == SF_AGG_COUNT_IF                              ? UP_COUNT_IF
                : d->kind == SF_AGG_COUNT_DISTINCT                        ? UP_DISTINCT
                : is_xsum(d)                                              ? UP_SUM_XSUM
                : d->kind == SF_AGG_MIN && g->mmbit[j] >= 0               ? UP_MIN8
                : d->kind == SF_AGG_MAX && g->mmbit[j] >= 0               ? UP_MAX8
                : (d->kind == SF_AGG_SUM || d->kind == SF_AGG_MEAN) &&
                        d->arg_type == SF_INT                             ? UP_SUM_INT
                                                                          : UP_OTHER;
    }
    g->up[ndefs].op = UP_END;
    g->rows_alias = jrows < ndefs;
    g->rows_off = g->rows_alias ? g->off[jrows] : ROWS_OFF;
    if (byop_plan(g) != 0) {
        sf_groups_free(g);
        return NULL;
    }
    g->walk = g->byop ? NULL : g->up;
    g->put_off_ok = g->byop && g->sig != UP_SIG_NONE;
    g->block = off;
    g->map = sf_hmap_new(off, 1024);
    if (!g->map) {
        sf_groups_free(g);
        return NULL;
    }
    size_t align = 8;
    for (size_t j = 0; j < ndefs; j++)
        align = state_align(&defs[j]) > align ? state_align(&defs[j]) : align;
    if (align <= 8)
        (void)sf_hmap_set_align8(g->map); /* no 16-byte state: 8 bytes less a group */
    sf_arena_init(&g->strings, 0);
    return g;
}

/* Frees the heap partials of the double sums of groups [from, to). */
static void free_sums(sf_groups *g, size_t from, size_t to)
{
    if (from < g->sums_taken)
        from = g->sums_taken; /* sf_groups_take_row() freed those */
    for (size_t i = from; i < to; i++) {
        void *st;
        sf_hmap_entry(g->map, i, NULL, NULL, NULL, &st);
        for (size_t j = 0; st && j < g->ndefs; j++) {
            if (is_xsum(&g->defs[j]))
                sf_xsumc_free(&((dsum *)((char *)st + g->off[j]))->x);
        }
    }
}

/* Frees what a distinct set holds and leaves it empty (freeing it again
 * is a no-op). */
static void distinct_set_free(distinct_set *ds)
{
    sf_hmap_free(ds->set);
    sf_hmap_free(ds->dict);
    free(ds->pairs);
    free(ds->byid);
    free(ds->srcof);
    free(ds->bitmaps);
    sf_arena_free(&ds->bitmem);
    sf_arena_free(&ds->smallmem);
    memset(ds->small_free, 0, sizeof ds->small_free);
    free(ds->head);
    free(ds->next);
    ds->set = ds->dict = NULL;
    free(ds->dcache);
    ds->dcache = NULL;
    ds->pairs = NULL;
    ds->byid = NULL;
    ds->nbyid = 0;
    ds->srcof = NULL;
    ds->nsrcof = 0;
    ds->bitmaps = NULL;
    ds->pend = NULL; /* its word went with bitmem */
    ds->head = ds->next = NULL;
    ds->mask = ds->count = ds->nbitmaps = 0;
}

void sf_groups_free(sf_groups *g)
{
    if (!g)
        return;
    if (g->map) {
        free_sums(g, g->drained, sf_hmap_count(g->map));
        sf_hmap_free(g->map);
    }
    for (size_t s = 0; s < g->nsets; s++) {
        distinct_set_free(&g->sets[s]);
        free(g->sets[s].counts);
    }
    sf_arena_free(&g->strings);
    sf_buf_free(&g->tmp);
    free(g->sets);
    free(g->distinct);
    free(g->argslot);
    free(g->mmbit);
    sf_buf_free(&g->wide);
    free(g->up);
    free(g->byop);
    free(g->off);
    free(g->defs);
    free(g);
}

uint64_t sf_groups_hash(const unsigned char *key, size_t klen)
{
    return sf_hash_bytes(key, klen, SF_KEY_HASH_SEED);
}

/* Finds or creates a group; new groups get their index and initial states. */
static char *group_upsert(sf_groups *g, const unsigned char *key, size_t klen, uint64_t hash)
{
    int inserted = 0;
    char *st = sf_hmap_upsert(g->map, key, klen, hash, &inserted);
    g->upserts++;
    if (!st || !inserted)
        return st;
    g->inserts++;
    uint32_t idx = (uint32_t)(sf_hmap_count(g->map) - 1);
    memcpy(st, &idx, sizeof idx);
    /* The map gives a zeroed block, which is every state's empty value
     * already: counts and sums 0 (an all-zero sf_xsumc is an empty sum),
     * min/max SF_NULL (0), a count_distinct without values. */
    g->prepared = 0;
    return st;
}

static int keep_minmax(sf_groups *g, sf_value *cur, const sf_value *v, int want_max)
{
    if (cur->type != SF_NULL) {
        int c = sf_value_cmp(v, cur);
        if (want_max ? c <= 0 : c >= 0)
            return 0;
    }
    *cur = *v;
    if (v->type == SF_STRING) {
        char *copy = sf_arena_memdup(&g->strings, v->u.s.p, v->u.s.n);
        if (!copy)
            return SF_E_NOMEM;
        cur->u.s.p = copy;
    }
    return 0;
}

/* The value a pair's bits stand for (strings borrowed from the set's
 * dictionary). */
static sf_value fixed_value(const distinct_set *ds, uint64_t bits)
{
    if (ds->dict) {
        const void *k;
        size_t kl;
        sf_hmap_entry(ds->dict, (size_t)bits, &k, &kl, NULL, NULL);
        return sf_string(k, kl);
    }
    return sf_pairs_bits_value(ds->type, bits);
}

static size_t pair_slot(const distinct_set *ds, uint64_t tag, uint64_t bits)
{
    size_t pos = (size_t)sf_hash_u64(bits ^ (tag * 0x9e3779b97f4a7c15ull)) & ds->mask;
    while (ds->pairs[2 * pos] && (ds->pairs[2 * pos] != tag || ds->pairs[2 * pos + 1] != bits))
        pos = (pos + 1) & ds->mask;
    return pos;
}

static int pairs_grow(distinct_set *ds)
{
    size_t slots = 2 * (ds->mask + 1);
    uint64_t *old = ds->pairs, *fresh = calloc(2 * slots, sizeof *fresh);
    if (!fresh)
        return SF_E_NOMEM;
    size_t old_slots = ds->mask + 1;
    ds->pairs = fresh;
    ds->mask = slots - 1;
    ds->count = 0;
    for (size_t i = 0; i < old_slots; i++) {
        if (!old[2 * i] || old[2 * i] == TOMB)
            continue;
        ds->count++;
        size_t pos = pair_slot(ds, old[2 * i], old[2 * i + 1]);
        ds->pairs[2 * pos] = old[2 * i];
        ds->pairs[2 * pos + 1] = old[2 * i + 1];
    }
    free(old);
    return 0;
}

/* The int64 a dense-capable value stands for (int64, date or string id). */
static int64_t dense_value(sf_type t, uint64_t bits)
{
    return t == SF_DATE ? (int64_t)(int32_t)(uint32_t)bits : (int64_t)bits;
}

/* The bitmap of group idx, allocated on its first use while the budget
 * lasts; NULL when the group has none (its values stay in the pair table).
 * *nomem is set when memory ran out. */
static uint64_t *group_bitmap(distinct_set *ds, uint32_t idx, int *nomem)
{
    if (idx >= ds->nbitmaps) {
        size_t n = ds->nbitmaps ? ds->nbitmaps : 1024;
        while (n <= idx)
            n *= 2;
        uint64_t **b = realloc(ds->bitmaps, n * sizeof *b);
        if (!b) {
            *nomem = 1;
            return NULL;
        }
        memset(b + ds->nbitmaps, 0, (n - ds->nbitmaps) * sizeof *b);
        ds->bitmaps = b;
        ds->nbitmaps = n;
    }
    uint64_t *bm = ds->bitmaps[idx];
    if (bm == NO_BITMAP)
        return NULL;
    if (bm)
        return bm;
    size_t bytes = ds->span / 8;
    if (ds->bitmap_bytes + bytes > DENSE_BUDGET) {
        ds->bitmaps[idx] = NO_BITMAP; /* decided for good: no value moves later */
        return NULL;
    }
    bm = sf_arena_alloc(&ds->bitmem, bytes);
    if (!bm) {
        *nomem = 1;
        return NULL;
    }
    memset(bm, 0, bytes);
    ds->bitmap_bytes += bytes;
    ds->bitmaps[idx] = bm;
    return bm;
}

/* Sets value x of group idx in its bitmap if it belongs there. Returns 1 if
 * it did (*added says whether the bit was new), 0 if x stays in the pair
 * table, or SF_E_NOMEM. */
static int dense_set(distinct_set *ds, uint32_t idx, int64_t x, int *added)
{
    if (x < ds->base || (uint64_t)x - (uint64_t)ds->base >= ds->span)
        return 0;
    int nomem = 0;
    uint64_t *bm = group_bitmap(ds, idx, &nomem);
    if (nomem)
        return SF_E_NOMEM;
    if (!bm)
        return 0;
    uint64_t off = (uint64_t)x - (uint64_t)ds->base, bit = 1ull << (off & 63);
    *added = !(bm[off >> 6] & bit);
    bm[off >> 6] |= bit;
    return 1;
}

static int pair_insert(distinct_set *ds, uint64_t tag, uint64_t bits, int *added)
{
    if ((ds->count + 1) * 10 > (ds->mask + 1) * 7 && pairs_grow(ds) != 0)
        return SF_E_NOMEM;
    size_t pos = pair_slot(ds, tag, bits);
    *added = !ds->pairs[2 * pos];
    if (*added) {
        ds->pairs[2 * pos] = tag;
        ds->pairs[2 * pos + 1] = bits;
        ds->count++;
    }
    return 0;
}

/* After enough values: if their range is small, switch to bitmaps and move
 * every pair that belongs in one there. */
static int maybe_go_dense(distinct_set *ds, size_t ngroups)
{
    uint64_t range = (uint64_t)ds->vmax - (uint64_t)ds->vmin + 1;
    /* Room for values past the range seen: as much again around numbers;
     * a quarter above dictionary ids (from 0), which grow only with
     * strings not seen in the first DENSE_DECIDE_AFTER values (S1's
     * user ids: 1,000 strings, all seen by then). The smaller bitmaps
     * stay in the caches longer while the input streams past them. */
    uint64_t top = (uint64_t)ds->vmax + 1; /* a dictionary's bitmaps start at id 0 */
    uint64_t span = ((ds->dict ? top + top / 4 : 2 * range) + 63) & ~(uint64_t)63;
    /* Bitmaps pay when groups hold many values: ngroups bitmaps of span
     * bits against about 32 bytes of pair table per pair stored (a 4x
     * margin for the bitmaps' speed). With groups close to rows (one or
     * two values each) they would be almost all zeros. */
    if (range == 0 || range > DENSE_MAX_SPAN / 2 || span > DENSE_MAX_SPAN ||
        ngroups * (span / 8) > DENSE_BUDGET ||
        (uint64_t)ngroups * span > 1024 * (uint64_t)ds->count || ds->vmin < INT64_MIN / 2 ||
        ds->vmax > INT64_MAX / 2) {
        ds->dense = -1;
        return 0;
    }
    ds->dense = 1;
    ds->span = span;
    /* String ids start at 0 and only grow: all the room goes above. */
    ds->base = ds->dict ? 0 : ds->vmin - (int64_t)((span - range) / 2);
    uint64_t *old = ds->pairs;
    size_t old_slots = ds->mask + 1;
    ds->pairs = calloc(2 * old_slots, sizeof *ds->pairs);
    if (!ds->pairs) {
        ds->pairs = old;
        return SF_E_NOMEM;
    }
    ds->count = 0;
    int rc = 0;
    for (size_t i = 0; i < old_slots && !rc; i++) {
        if (!old[2 * i] || old[2 * i] == TOMB)
            continue;
        int added;
        rc = dense_set(ds, (uint32_t)(old[2 * i] - 1), dense_value(ds->type, old[2 * i + 1]),
                       &added);
        if (rc == 0)
            rc = pair_insert(ds, old[2 * i], old[2 * i + 1], &added);
        else if (rc == 1)
            rc = 0;
    }
    free(old);
    return rc;
}

/* Makes (*v)[at] exist in a zero-filled array of *n uint32 (doubled from
 * 1024). Returns 0 or SF_E_NOMEM (*v unchanged). */
static int u32_room(uint32_t **v, size_t *n, uint64_t at)
{
    if (at < *n)
        return 0;
    size_t m = *n ? *n : 1024;
    while (m <= at)
        m *= 2;
    uint32_t *b = realloc(*v, m * sizeof *b);
    if (!b)
        return SF_E_NOMEM;
    memset(b + *n, 0, (m - *n) * sizeof *b);
    *v = b;
    *n = m;
    return 0;
}

/* Remembers that dimension id src stands for dictionary id bits, and the
 * other way round (srcof). Returns 0 or SF_E_NOMEM. */
static int byid_set(distinct_set *ds, uint32_t src, uint64_t bits)
{
    if (u32_room(&ds->byid, &ds->nbyid, src) != 0 ||
        u32_room(&ds->srcof, &ds->nsrcof, bits) != 0)
        return SF_E_NOMEM;
    ds->byid[src] = (uint32_t)bits + 1;
    ds->srcof[bits] = src;
    return 0;
}

/* The size class of a small vector holding n values (n >= 1). */
static unsigned small_class(uint32_t n)
{
    unsigned c = 0;
    while ((uint32_t)SMALL_MIN << c < n)
        c++;
    return c;
}

/* Bytes a value of dst's small vector takes: 8, or a narrow set's 2 or
 * 4. */
static inline unsigned small_width(const distinct_set *ds, const dstate *dst)
{
    return ds->narrow ? 2u << ds_w4(dst) : 8u;
}

/* Value k of the small vector of dst (k < its nsmall). */
static inline uint64_t small_get(const distinct_set *ds, const dstate *dst, uint32_t k)
{
    switch (small_width(ds, dst)) {
    case 2: return ((const uint16_t *)ds_small(dst))[k];
    case 4: return ((const uint32_t *)ds_small(dst))[k];
    default: return ds_small(dst)[k];
    }
}

/* Bytes of a small vector of class c of values of width bytes (at least
 * 8: the free list's link), and the free list of that size. */
static inline size_t small_bytes(unsigned width, unsigned c)
{
    return ((size_t)SMALL_MIN << c) * width;
}

static inline unsigned small_list(unsigned width, unsigned c)
{
    return c + (width == 2 ? 0 : width == 4 ? 1 : 2);
}

/* Gives a small vector of class c (of width-byte values) back to the
 * set's pool. */
static void small_release(distinct_set *ds, uint64_t *v, unsigned width, unsigned c)
{
    unsigned k = small_list(width, c);
    v[0] = (uint64_t)(uintptr_t)ds->small_free[k];
    ds->small_free[k] = v;
}

/* A vector of class c of width-byte values from the pool. Returns NULL
 * when out of memory. */
static uint64_t *small_take(distinct_set *ds, unsigned width, unsigned c)
{
    unsigned k = small_list(width, c);
    uint64_t *v = ds->small_free[k];
    if (v) {
        ds->small_free[k] = (uint64_t *)(uintptr_t)v[0];
        return v;
    }
    v = sf_arena_alloc(&ds->smallmem, small_bytes(width, c));
    return ds_addr_ok(v) ? v : NULL; /* the arena keeps a piece past 48 bits */
}

/* Empties the small vector of dst (its values are dropped). */
static void small_clear(distinct_set *ds, dstate *dst)
{
    if (ds_big(dst) == BIG_BITMAP)
        ds_set_big(dst, 1); /* small was the bitmap: the set keeps it */
    else if (ds_small(dst))
        small_release(ds, ds_small(dst), small_width(ds, dst),
                      small_class(ds_nsmall(dst) ? ds_nsmall(dst) : 1));
    ds_set_small(dst, NULL);
    ds_set_nsmall(dst, 0);
    ds_set_w4(dst, 0);
}

/* Makes the 2-byte ids of a narrow set's small vector 4-byte ones, in a
 * vector of the same class (for an id of SMALL_NONE2 or more to come). Returns 0
 * or SF_E_NOMEM (dst unchanged). */
static __attribute__((noinline)) int small_widen(distinct_set *ds, dstate *dst)
{
    uint32_t n = ds_nsmall(dst);
    if (n) {
        unsigned c = small_class(n);
        uint32_t *w = (uint32_t *)small_take(ds, 4, c);
        if (!w)
            return SF_E_NOMEM;
        const uint16_t *v = (const uint16_t *)ds_small(dst);
        for (uint32_t k = 0; k < n; k++)
            w[k] = v[k];
        small_release(ds, ds_small(dst), 2, c);
        ds_set_small(dst, (uint64_t *)w);
    }
    ds_set_w4(dst, 1);
    return 0;
}

static inline int big_add(sf_groups *g, distinct_set *ds, uint32_t idx, uint64_t bits,
                          int *added);

/* Adds bits (not the first value) to the small vector of group idx.
 * Returns 0 when done (*added says whether it was new), 1 when the vector
 * was full: its values moved to the set's bitmaps and pair table and the
 * group is big from now on (bits is not added: the caller adds it there),
 * or SF_E_NOMEM (dst unchanged but for values already moved). */
static int small_add(sf_groups *g, distinct_set *ds, dstate *dst, uint32_t idx, uint64_t bits,
                     int *added)
{
    uint64_t *v = ds_small(dst);
    uint32_t n = ds_nsmall(dst);
    unsigned width = small_width(ds, dst);
    int hit = 0;
    if (width == 2 && bits >= SMALL_NONE2) { /* not among its ids: widen them */
        int rc = small_widen(ds, dst);
        if (rc)
            return rc;
        v = ds_small(dst);
        width = 4;
    } else if (width == 2) {
        /* Four ids a word, the lanes past n SMALL_NONE2 (never an id
         * here): a lane equal to bits is a zero lane of x, which the
         * borrow test finds exactly. No early exit, as below. */
        const uint64_t ones = 0x0001000100010001ull, key = (uint64_t)(uint16_t)bits * ones;
        uint64_t acc = 0;
        for (uint32_t k = 0; k < n; k += 4) {
            uint64_t x;
            memcpy(&x, (const uint16_t *)v + k, sizeof x);
            x ^= key;
            acc |= (x - ones) & ~x & (ones << 15);
        }
        hit = acc != 0;
    } else if (width == 4) { /* bits < UINT32_MAX (dict_id) */
        const uint32_t *v4 = (const uint32_t *)v;
        for (uint32_t k = 0; k < n; k++)
            hit |= v4[k] == (uint32_t)bits;
    } else {
        for (uint32_t k = 0; k < n; k++)
            hit |= v[k] == bits; /* no early exit: a new value reads them all anyway */
    }
    *added = !hit;
    if (hit)
        return 0;
    if (n == SMALL_MAX) {
        for (uint32_t k = 0; k < n; k++) {
            int a = 0, rc = big_add(g, ds, idx, small_get(ds, dst, k), &a);
            if (rc)
                return rc;
        }
        small_clear(ds, dst);
        ds_set_big(dst, 1);
        return 1;
    }
    if (n == 0 || (n >= SMALL_MIN && (n & (n - 1)) == 0)) {
        /* Full (or none yet): the next class up. */
        unsigned c = n ? small_class(n) + 1 : 0;
        uint64_t *w = small_take(ds, width, c);
        if (!w)
            return SF_E_NOMEM;
        if (width == 2)
            memset(w, 0xff, small_bytes(2, c)); /* SMALL_NONE2 past the values */
        g->nvectors += n == 0;
        if (n) {
            memcpy(w, v, small_bytes(width, c - 1)); /* full: n values */
            small_release(ds, v, width, c - 1);
        }
        ds_set_small(dst, v = w);
    }
    if (width == 2)
        ((uint16_t *)v)[n] = (uint16_t)bits;
    else if (width == 4)
        ((uint32_t *)v)[n] = (uint32_t)bits;
    else
        v[n] = bits;
    ds_set_nsmall(dst, n + 1);
    return 0;
}

/* Sets the set's put-off bitmap word, if any (a new bit unprepares g). */
static inline __attribute__((always_inline)) void pend_flush(sf_groups *g, distinct_set *ds)
{
    uint64_t *w = ds->pend;
    if (w) {
        if (!(*w & ds->pend_bit)) {
            *w |= ds->pend_bit;
            g->prepared = 0;
        }
        ds->pend = NULL;
    }
}

static inline int off_flush(sf_groups *g);

/* pend_flush of every set, after the row put off (off_flush): before
 * anything reads the bitmaps, or moves or drops groups. */
static void pend_flush_all(sf_groups *g)
{
    (void)off_flush(g); /* its error stays in off_rc */
    for (size_t s = 0; s < g->nsets; s++)
        pend_flush(g, &g->sets[s]);
}

/* Sets bit in bitmap word w of set ds. Returns 1 when the bit is known
 * to be new, else 0 (it may be: the write is put off). Once g is
 * prepared the word is set at once (distinct_add's and
 * distinct_spread's counts rely on the prepared state). Before, the word
 * is seldom in the caches (S1: 2,480 bitmaps of 160 bytes while the
 * input streams past): the one put off before, which has come in by
 * now, is set, and this one is put off with its fetch started. Bits only
 * add, so the order of the writes changes nothing; pend_flush unprepares
 * g for a new one. */
static inline __attribute__((always_inline)) int bitmap_add(sf_groups *g, distinct_set *ds,
                                                            uint64_t *w, uint64_t bit)
{
    if (g->prepared) {
        int added = !(*w & bit);
        *w |= bit;
        return added;
    }
    pend_flush(g, ds);
    ds->pend = w;
    ds->pend_bit = bit;
    __builtin_prefetch(w, 1, 3);
    return 0;
}

/* Adds bits of group idx to the set's bitmaps or pair table (a big
 * group's values past the first), deciding on dense mode once enough
 * values came this way. Returns 0 (*added says whether it was new) or
 * SF_E_NOMEM. Inlined: S1's rows all come this way. */
static inline __attribute__((always_inline)) int big_add(sf_groups *g, distinct_set *ds,
                                                         uint32_t idx, uint64_t bits, int *added)
{
    int rc;
    if (ds->dense == 1) {
        /* A group whose bitmap exists sets its bit here; dense_set makes
         * the bitmap, or sends the value to the pairs. */
        int64_t x = dense_value(ds->type, bits);
        uint64_t off = (uint64_t)x - (uint64_t)ds->base, *bm;
        if (x >= ds->base && off < ds->span && idx < ds->nbitmaps &&
            (bm = ds->bitmaps[idx]) != NULL && bm != NO_BITMAP) {
            *added = bitmap_add(g, ds, bm + (off >> 6), 1ull << (off & 63));
            return 0;
        }
        rc = dense_set(ds, idx, x, added);
        if (rc < 0)
            return rc;
        if (rc == 1)
            return 0;
    }
    if ((rc = pair_insert(ds, (uint64_t)idx + 1, bits, added)) != 0)
        return rc;
    if (ds->dense == 0) {
        int64_t x = dense_value(ds->type, bits);
        ds->vmin = ds->seen == 0 || x < ds->vmin ? x : ds->vmin;
        ds->vmax = ds->seen == 0 || x > ds->vmax ? x : ds->vmax;
        if (++ds->seen == DENSE_DECIDE_AFTER)
            return maybe_go_dense(ds, sf_hmap_count(g->map));
    }
    return 0;
}

/* The bytes of a string of at most 16 bytes as two words and its cache
 * entry: with the length, the words say every byte (loads that overlap
 * when n is not 4, 8 or 16; zero-padded below 4 bytes). */
static inline size_t dict_words(const char *p, size_t n, uint64_t *w0, uint64_t *w1)
{
    uint64_t a = 0, b = 0;
    if (n >= 8) {
        memcpy(&a, p, 8);
        memcpy(&b, p + n - 8, 8);
    } else if (n >= 4) {
        uint32_t lo, hi;
        memcpy(&lo, p, 4);
        memcpy(&hi, p + n - 4, 4);
        a = (uint64_t)lo | (uint64_t)hi << 32;
    } else {
        for (size_t i = 0; i < n; i++)
            a |= (uint64_t)(unsigned char)p[i] << (8 * i);
    }
    *w0 = a;
    *w1 = b;
    /* Ids that differ in their last digits differ in b's top bytes only:
     * folded down before the multiply, which carries them to the top. */
    uint64_t h = a * 0x9E3779B97F4A7C15ull ^ (b + n);
    h ^= h >> 31;
    h *= 0xC2B2AE3D27D4EB4Full;
    return (size_t)(h >> 52) & (DICT_CACHE - 1);
}

/* The dictionary id of string v (its entry number: the dictionary is
 * insertion-ordered, sf_hmap_entry() finds it again), v added when new.
 * Short values go through the set's cache first: a fact column's
 * strings (S3's item ids) repeat, and the cache's two words replace the
 * hash and the probe. Returns 0 or SF_E_NOMEM. */
static int dict_id(distinct_set *ds, const sf_value *v, uint64_t *bits)
{
    const char *p = v->u.s.p;
    size_t n = v->u.s.n, slot = 0;
    uint64_t w0 = 0, w1 = 0;
    if (!ds->dcache && !(ds->dcache = calloc(DICT_CACHE, sizeof *ds->dcache)))
        return SF_E_NOMEM;
    if (n <= 16) {
        slot = dict_words(p, n, &w0, &w1);
        if (ds->dcache[slot].len == n + 1 && ds->dcache[slot].w0 == w0 &&
            ds->dcache[slot].w1 == w1) {
            *bits = ds->dcache[slot].id;
            return 0;
        }
    }
    size_t before = sf_hmap_count(ds->dict);
    int ins = 0;
    uint32_t *id = before >= UINT32_MAX - 1
                       ? NULL
                       : sf_hmap_upsert(ds->dict, p, n, sf_hash_bytes(p, n, 0x44495354ull), &ins);
    if (!id)
        return SF_E_NOMEM;
    if (ins)
        *id = (uint32_t)before;
    *bits = *id;
    if (n <= 16) {
        ds->dcache[slot].w0 = w0;
        ds->dcache[slot].w1 = w1;
        ds->dcache[slot].len = (uint32_t)n + 1;
        ds->dcache[slot].id = *id;
    }
    return 0;
}

/* distinct_add_bits of a value that is not the group's first and not
 * in its bitmap's range: to its small vector, or to the set's bitmaps or
 * pair table (out of line: a group's first 33 values, and values of sets
 * without bitmaps). Returns 0 or SF_E_NOMEM. */
static __attribute__((noinline)) int distinct_add_rest(sf_groups *g, distinct_set *ds,
                                                       dstate *dst, uint32_t idx, uint64_t bits)
{
    int added = 0, rc = ds_big(dst) ? 1 : small_add(g, ds, dst, idx, bits, &added);
    if (rc == 1)
        rc = big_add(g, ds, idx, bits, &added);
    if (added)
        g->prepared = 0;
    if (ds_big(dst) == 1 && ds->dense == 1 && idx < ds->nbitmaps && ds->bitmaps[idx] &&
        ds->bitmaps[idx] != NO_BITMAP && ds_addr_ok(ds->bitmaps[idx])) {
        ds_set_small(dst, ds->bitmaps[idx]); /* set for good: a bitmap never goes */
        ds_set_big(dst, BIG_BITMAP);
    }
    return rc;
}

/* Adds the value whose bits (in fixed set ds) are bits to group idx
 * (state dst). Returns 0 or SF_E_NOMEM. */
static inline __attribute__((always_inline)) int distinct_add_bits(sf_groups *g,
                                                                   distinct_set *ds,
                                                                   dstate *dst, uint32_t idx,
                                                                   uint64_t bits)
{
    if (!ds_has_first(dst)) {
        ds_set_has_first(dst, 1);
        dst->first = bits;
        g->prepared = 0;
        return 0;
    }
    if (ds_has_first(dst) == 1 && dst->first == bits)
        return 0;
    if (ds_big(dst) == BIG_BITMAP) {
        /* As big_add's dense path, the bitmap found through the block
         * (one load fewer, and none of the set's bitmap table). */
        uint64_t off = (uint64_t)dense_value(ds->type, bits) - (uint64_t)ds->base;
        if (off < ds->span) { /* base <= x < base + span: the range is far from wrapping */
            if (bitmap_add(g, ds, ds_small(dst) + (off >> 6), 1ull << (off & 63)))
                g->prepared = 0;
            return 0;
        }
    }
    return distinct_add_rest(g, ds, dst, idx, bits);
}

/* The bits of non-NULL value v (dimension id src) in set ds when they
 * come without a dictionary lookup of v's bytes (a joined string whose
 * id is known, a fixed-width value): 1 with *bits, else 0. */
static inline int distinct_bits_by_value(const distinct_set *ds, const sf_value *v,
                                         uint32_t src, uint64_t *bits)
{
    if (!ds->fixed)
        return 0;
    if (src < ds->nbyid && ds->byid[src]) { /* as distinct_add_in */
        *bits = ds->byid[src] - 1;
        return 1;
    }
    if (ds->dict)
        return 0;
    *bits = sf_pairs_value_bits(ds->type, v);
    return 1;
}

/* Adds value v of group idx; src is v's dimension id (0: none). Inlined
 * in up_apply (every row's count_distinct); distinct_add for the rest. */
static inline __attribute__((always_inline)) int
distinct_add_in(sf_groups *g, int set, dstate *dst, uint32_t idx, const sf_value *v,
                uint32_t src)
{
    distinct_set *ds = &g->sets[set];
    if (ds->fixed) {
        uint64_t bits;
        /* byid exists only for a dict and is set only for src > 0, so
         * byid[0] is 0: src < nbyid and a non-zero word say it all. */
        if (src < ds->nbyid && ds->byid[src]) {
            bits = ds->byid[src] - 1;
        } else if (ds->dict) {
            if (v->type != SF_STRING)
                return SF_E_PARSE;
            if (dict_id(ds, v, &bits) != 0)
                return SF_E_NOMEM;
            if (src && byid_set(ds, src, bits) != 0)
                return SF_E_NOMEM;
        } else {
            bits = sf_pairs_value_bits(ds->type, v);
        }
        return distinct_add_bits(g, ds, dst, idx, bits);
    }
    g->tmp.n = 0;
    size_t need = 4 + sf_value_encoded_size(v);
    if (sf_buf_reserve(&g->tmp, need) != 0)
        return SF_E_NOMEM;
    memcpy(g->tmp.p, &idx, 4);
    sf_value_encode(v, g->tmp.p + 4);
    uint64_t h = sf_hash_bytes(g->tmp.p, need, 0x44495354ull);
    int inserted = 0;
    if (!sf_hmap_upsert(ds->set, g->tmp.p, need, h, &inserted))
        return SF_E_NOMEM;
    if (inserted)
        g->prepared = 0;
    return 0;
}

static int distinct_add(sf_groups *g, int set, dstate *dst, uint32_t idx, const sf_value *v,
                        uint32_t src)
{
    return distinct_add_in(g, set, dst, idx, v, src);
}

/* Adds v to aggregate j of the group whose state is st; src is v's
 * dimension id (0: none). */
static int add_value(sf_groups *g, char *st, size_t j, const sf_value *v, uint32_t src)
{
    const sf_agg_def *d = &g->defs[j];
    char *s = st + g->off[j];
    switch (d->kind) {
    case SF_AGG_COUNT:
        (*(int64_t *)s)++;
        return 0;
    case SF_AGG_COUNT_IF:
        if (v->type == SF_BOOL && v->u.b)
            (*(int64_t *)s)++;
        return 0;
    case SF_AGG_SUM:
    case SF_AGG_MEAN:
        if (v->type == SF_NULL)
            return 0;
        if (d->arg_type == SF_INT)
            return isum_add(g, (isum *)s, v->u.i);
        if (d->arg_type == SF_DECIMAL) {
            decsum *ds = (decsum *)s;
            sf_dec_acc a = {ds->lo, ds->hi};
            sf_dec_acc_add(&a, sf_decimal_get(v));
            ds->lo = a.lo;
            ds->hi = a.hi;
            ds->n++;
            return 0;
        }
        ((dsum *)s)->n++;
        return sf_xsumc_add(&((dsum *)s)->x, v->type == SF_INT ? (double)v->u.i : v->u.d);
    case SF_AGG_MIN:
    case SF_AGG_MAX:
        if (g->mmbit[j] >= 0)
            return mm_add(st, g->mmbit[j], s, v, d->kind == SF_AGG_MAX, d->arg_type);
        if (v->type == SF_NULL)
            return 0;
        return keep_minmax(g, (sf_value *)s, v, d->kind == SF_AGG_MAX);
    case SF_AGG_COUNT_DISTINCT: {
        if (v->type == SF_NULL)
            return 0;
        uint32_t idx;
        memcpy(&idx, st, sizeof idx);
        return distinct_add(g, g->distinct[j], (dstate *)s, idx, v, src);
    }
    case SF_AGG_NONE:
        break;
    }
    return 0;
}

/* min or max of two doubles in place, as keep_minmax with sf_value_cmp's
 * order (NaN above every number; of equal values the first stays), for
 * the common case of both values doubles: returns 1 when done, 0 when
 * the caller must take the long way. */
static inline int minmax_double(sf_value *cur, const sf_value *v, int want_max)
{
    if (v->type != SF_DOUBLE || cur->type != SF_DOUBLE)
        return 0;
    double a = v->u.d, b = cur->u.d;
    int an = a != a, bn = b != b;
    int c = an || bn ? an - bn : (a > b) - (a < b);
    if (want_max ? c > 0 : c < 0)
        cur->u.d = a;
    return 1;
}

/* Adds v to the state in st of the aggregate whose update case is u
 * (src: v's dictionary id, or 0). Inlined in update_state and, through
 * up_apply, the row records' apply, both per row. */
/* The cases of up_apply_case that update_byop runs too: v into the
 * state at s (st: the group's block). */
static inline __attribute__((always_inline)) int up_sum_int(sf_groups *g, char *s,
                                                            const sf_value *v)
{
    return v->type != SF_NULL ? isum_add(g, (isum *)s, v->u.i) : 0;
}

static inline __attribute__((always_inline)) int up_sum_xsum(char *s, const sf_value *v)
{
    if (v->type == SF_NULL)
        return 0;
    ((dsum *)s)->n++;
    return sf_xsumc_add(&((dsum *)s)->x, v->type == SF_INT ? (double)v->u.i : v->u.d);
}

static inline __attribute__((always_inline)) int up_distinct(sf_groups *g, char *st,
                                                             const agg_up *u, const sf_value *v,
                                                             uint32_t src)
{
    if (v->type == SF_NULL)
        return 0;
    uint32_t idx;
    memcpy(&idx, st, sizeof idx);
    return distinct_add_in(g, u->set, (dstate *)(st + u->off), idx, v, src);
}

static inline __attribute__((always_inline)) int up_apply_case(sf_groups *g, char *st,
                                                               const agg_up *u,
                                                               const sf_value *v, uint32_t src)
{
    char *s = st + u->off;
    int rc = 0;
    switch (u->op) {
    case UP_COUNT:
        (*(int64_t *)s)++;
        break;
    case UP_COUNT_IF:
        *(int64_t *)s += v->type == SF_BOOL && v->u.b;
        break;
    case UP_SUM_INT:
        rc = up_sum_int(g, s, v);
        break;
    case UP_SUM_XSUM:
        rc = up_sum_xsum(s, v);
        break;
    case UP_MIN8:
    case UP_MAX8:
        rc = mm_add(st, u->bit, s, v, u->op == UP_MAX8, (sf_type)u->rtype);
        break;
    case UP_DISTINCT:
        rc = up_distinct(g, st, u, v, src);
        break;
    default:
        rc = add_value(g, st, (size_t)(u - g->up), v, src);
        break;
    }
    return rc;
}

/* up_apply_case of aggregate j. */
static inline __attribute__((always_inline)) int up_apply(sf_groups *g, char *st, size_t j,
                                                          const sf_value *v, uint32_t src)
{
    return up_apply_case(g, st, &g->up[j], v, src);
}

/* count_if's answer over row (case u, with an inline test): 1 or 0. */
static inline __attribute__((always_inline)) int up_if_answer(const sf_groups *g,
                                                              const agg_up *u,
                                                              const sf_value *row,
                                                              sf_arena *scratch)
{
    int t = sf_expr_leaf_true(&u->test, row);
    return t >= 0 ? t : sf_expr_test(g->defs[u->j].arg, row, scratch);
}

/* update_state's rows through g->byop: one loop per op, each of a count
 * known at plan time. The ops are of different aggregates' states, so
 * their order changes no result. */
static inline __attribute__((always_inline)) int update_byop(sf_groups *g, char *st,
                                                             const sf_value *row,
                                                             const uint32_t *ids,
                                                             sf_arena *scratch)
{
    const agg_up *u = g->byop;
    int rc;
    for (unsigned n = g->nbyop[UP_COUNT]; n; n--, u++)
        (*(int64_t *)(st + u->off))++;
    for (unsigned n = g->nbyop[UP_COUNT_IF]; n; n--, u++)
        *(int64_t *)(st + u->off) += up_if_answer(g, u, row, scratch);
    for (unsigned n = g->nbyop[UP_SUM_INT]; n; n--, u++)
        if ((rc = up_sum_int(g, st + u->off, &row[u->slot])) != 0)
            return rc;
    for (unsigned n = g->nbyop[UP_SUM_XSUM]; n; n--, u++)
        if ((rc = up_sum_xsum(st + u->off, &row[u->slot])) != 0)
            return rc;
    for (unsigned n = g->nbyop[UP_DISTINCT]; n; n--, u++)
        if ((rc = up_distinct(g, st, u, &row[u->slot], ids ? ids[u->slot] : 0)) != 0)
            return rc;
    return 0;
}

/* update_byop for tables with at most one aggregate of each op (S1 and
 * S2: count, count_if, exact sum, count_distinct), made once per
 * signature with the counts as constants (c: count, i: count_if, s:
 * integer sum, x: exact sum, d: count_distinct; 0 or 1 each): no loop,
 * no count loaded, each case's address in byop a constant. */
static inline __attribute__((always_inline)) int update_sig(sf_groups *g, char *st,
                                                            const sf_value *row,
                                                            const uint32_t *ids,
                                                            sf_arena *scratch, int c, int i,
                                                            int s, int x, int d)
{
    const agg_up *b = g->byop;
    int rc;
    if (c)
        (*(int64_t *)(st + b[0].off))++;
    if (i)
        *(int64_t *)(st + b[c].off) += up_if_answer(g, &b[c], row, scratch);
    if (s && (rc = up_sum_int(g, st + b[c + i].off, &row[b[c + i].slot])) != 0)
        return rc;
    if (x && (rc = up_sum_xsum(st + b[c + i + s].off, &row[b[c + i + s].slot])) != 0)
        return rc;
    if (d) {
        const agg_up *u = &b[c + i + s + x];
        if ((rc = up_distinct(g, st, u, &row[u->slot], ids ? ids[u->slot] : 0)) != 0)
            return rc;
    }
    return 0;
}

/* The rows through g->byop: update_sig of the table's signature, or
 * update_byop. */
static inline __attribute__((always_inline)) int update_planned(sf_groups *g, char *st,
                                                                const sf_value *row,
                                                                const uint32_t *ids,
                                                                sf_arena *scratch)
{
    switch (g->sig) {
#define UP_CASE(c, i, s, x, d)                                                                 \
    case UP_SIG(c, i, s, x, d):                                                                \
        return update_sig(g, st, row, ids, scratch, c, i, s, x, d);
        UP_SIG_CASES
#undef UP_CASE
    default:
        return update_byop(g, st, row, ids, scratch);
    }
}

/* Applies row r put off (its inputs by value) to its block, as
 * update_state would have applied the row itself (c, i, s, x, d: as
 * update_sig). Returns 0 or an error. */
static inline __attribute__((always_inline)) int off_apply(sf_groups *g, const struct put_off *r,
                                                           int c, int i, int s, int x, int d)
{
    const agg_up *b = g->byop;
    char *st = r->st;
    int rc;
    if (c)
        (*(int64_t *)(st + b[0].off))++; /* the rows word too (rows_alias) */
    else
        (*(uint64_t *)(st + ROWS_OFF))++;
    if (i)
        *(int64_t *)(st + b[c].off) += r->cif;
    if (s && (rc = up_sum_int(g, st + b[c + i].off, &r->isum)) != 0)
        return rc;
    if (x && (rc = up_sum_xsum(st + b[c + i + s].off, &r->xsum)) != 0)
        return rc;
    if (d && !r->dnull) {
        const agg_up *u = &b[c + i + s + x];
        uint32_t idx;
        memcpy(&idx, st, sizeof idx);
        return distinct_add_bits(g, &g->sets[u->set], (dstate *)(st + u->off), idx, r->dbits);
    }
    return 0;
}

/* off_flush's application of the row put off (out of line: the check
 * runs for every row of the general path). */
static __attribute__((noinline)) void off_flush_row(sf_groups *g)
{
    struct put_off r = g->off_row;
    g->off_row.st = NULL;
    int rc = off_apply(g, &r, (int)g->nbyop[UP_COUNT], (int)g->nbyop[UP_COUNT_IF],
                       (int)g->nbyop[UP_SUM_INT], (int)g->nbyop[UP_SUM_XSUM],
                       (int)g->nbyop[UP_DISTINCT]);
    if (rc && !g->off_rc)
        g->off_rc = rc;
}

/* Applies the row put off, if any. Returns 0, or the first error of a
 * row applied late (kept in off_rc). */
static inline int off_flush(sf_groups *g)
{
    if (g->off_row.st)
        off_flush_row(g);
    return g->off_rc;
}

/* off_flush for a reader that takes g as const: g is never a const
 * object (sf_groups_new allocates it), so the row is applied through a
 * cast; an error is kept for the next call that can return it. */
static void off_flush_reader(const sf_groups *g)
{
    if (g->off_row.st)
        (void)off_flush((sf_groups *)(uintptr_t)g);
}

/* update_sig of a row put off: its inputs kept by value, its block's
 * fetch started, the row put off before applied (see struct put_off).
 * A row whose distinct value needs its bytes (a string not joined yet)
 * is applied at once, after the one put off. Only while g->put_off_ok,
 * unprepared and with no group retired (the retired byte is not read). */
static inline __attribute__((always_inline)) int off_sig(sf_groups *g, char *st,
                                                         const sf_value *row, const uint32_t *ids,
                                                         sf_arena *scratch, int c, int i, int s,
                                                         int x, int d)
{
    const agg_up *b = g->byop;
    int64_t cif = 0;
    uint64_t dbits = 0;
    int dnull = 1;
    if (i)
        cif = up_if_answer(g, &b[c], row, scratch);
    if (d) {
        const agg_up *u = &b[c + i + s + x];
        const sf_value *v = &row[u->slot];
        dnull = v->type == SF_NULL;
        if (!dnull &&
            !distinct_bits_by_value(&g->sets[u->set], v, ids ? ids[u->slot] : 0, &dbits)) {
            int rc = off_flush(g);
            if (rc)
                return rc;
            if (!c)
                (*(uint64_t *)(st + ROWS_OFF))++; /* else the count is the rows word */
            return update_sig(g, st, row, ids, scratch, c, i, s, x, d);
        }
    }
    __builtin_prefetch(st, 1, 3);
    __builtin_prefetch(st + g->block - 1, 1, 3);
    struct put_off *r = &g->off_row;
    if (r->st) {
        int rc = off_apply(g, r, c, i, s, x, d);
        if (rc && !g->off_rc)
            g->off_rc = rc;
    }
    /* This row's inputs by value, over the one just applied: up_sum_int
     * and up_sum_xsum read a value's type and number alone. */
    r->st = st;
    r->cif = cif;
    if (s)
        r->isum = row[b[c + i].slot];
    if (x)
        r->xsum = row[b[c + i + s].slot];
    r->dbits = dbits;
    r->dnull = dnull;
    return g->off_rc;
}

/* off_sig of the table's signature. */
static inline __attribute__((always_inline)) int update_put_off(sf_groups *g, char *st,
                                                                const sf_value *row,
                                                                const uint32_t *ids,
                                                                sf_arena *scratch)
{
    switch (g->sig) {
#define UP_CASE(c, i, s, x, d)                                                                 \
    case UP_SIG(c, i, s, x, d):                                                                \
        return off_sig(g, st, row, ids, scratch, c, i, s, x, d);
        UP_SIG_CASES
#undef UP_CASE
    default:
        return SF_E_INVAL; /* put_off_ok says the table has a signature */
    }
}

/* One input row into the group whose state is st (inlined in both callers:
 * it runs for every row). */
static inline __attribute__((always_inline)) int update_state(sf_groups *g, char *st, const sf_value *row, const uint32_t *ids,
                        sf_arena *scratch)
{
    if (st[RETIRED_OFF])
        return SF_E_INVAL;
    if (!g->rows_alias)
        (*(uint64_t *)(st + ROWS_OFF))++;
    const agg_up *u = g->walk;
    if (!u)
        return update_planned(g, st, row, ids, scratch);
    /* Walks the cases to UP_END: no count to keep and reload (the states'
     * stores may alias g), no index to scale. */
    for (;; u++) {
        char *s = st + u->off;
        sf_value tmp;
        const sf_value *v;
        /* count(), count_if's inline test and an argument in a row slot
         * in one dispatch; an argument computed per row as below. */
        switch (u->op) {
        case UP_END:
            return 0;
        case UP_COUNT:
            (*(int64_t *)s)++;
            continue;
        case UP_COUNT_IF:
            if (u->test.kind == SF_LEAF_NONE)
                break;
            int t = sf_expr_leaf_true(&u->test, row);
            *(int64_t *)s += t >= 0 ? t : sf_expr_test(g->defs[u - g->up].arg, row, scratch);
            continue;
        default:
            if (u->slot < 0)
                break;
            int rc = up_apply_case(g, st, u, &row[u->slot], ids ? ids[u->slot] : 0);
            if (rc)
                return rc;
            continue;
        }
        if (u->slot >= 0) {
            v = &row[u->slot];
        } else if (u->op == UP_COUNT_IF) { /* true, not NULL: as the test of a filter */
            *(int64_t *)s += sf_expr_test(g->defs[u - g->up].arg, row, scratch);
            continue;
        } else {
            const sf_expr *arg = g->defs[u - g->up].arg;
            tmp = arg ? sf_expr_eval(arg, row, scratch) : sf_null();
            v = &tmp;
        }
        int rc = up_apply_case(g, st, u, v, ids && u->slot >= 0 ? ids[u->slot] : 0);
        if (rc)
            return rc;
    }
}

int sf_groups_update(sf_groups *g, const unsigned char *key, size_t klen, uint64_t hash,
                     const sf_value *row, sf_arena *scratch)
{
    return sf_groups_update_ids(g, key, klen, hash, row, NULL, scratch, NULL);
}

int sf_groups_update_ids(sf_groups *g, const unsigned char *key, size_t klen, uint64_t hash,
                         const sf_value *row, const uint32_t *ids, sf_arena *scratch,
                         sf_group **group)
{
    if (g->off_row.st) /* its error, if any, comes back from the preparation */
        off_flush_row(g);
    char *st = group_upsert(g, key, klen, hash);
    if (!st)
        return SF_E_NOMEM;
    if (group)
        *group = (sf_group *)st; /* the state block, stable until drained */
    return update_state(g, st, row, ids, scratch);
}

/* Whether the look-ahead's stage 2 (a group's small vectors) pays: not
 * when fewer than one group in 8 has a vector (S3: one value a group,
 * where the peek for a vector found one for ~3% of the rows and cost ~100
 * instructions a row). Only a prefetch: results never depend on it. */
static inline int vectors_worth(const sf_groups *g)
{
    return g->nsets && g->nvectors * 8 >= sf_hmap_count(g->map);
}

/* Stage 1 (the group's block) finds nothing to load for a key that makes
 * its group: not worth it while more than 3 lookups in 4 made one (S3: a
 * group per 1.1-1.2 rows), once 4096 have told. */
static inline int blocks_worth(const sf_groups *g)
{
    return g->upserts < 4096 || (g->upserts - g->inserts) * 4 >= g->upserts;
}

void sf_groups_prefetch(const sf_groups *g, uint64_t hash, size_t klen, int stage)
{
    if (stage < 2) {
        if (stage == 0 || blocks_worth(g))
            sf_hmap_prefetch(g->map, hash, klen, stage);
        return;
    }
    const char *st = vectors_worth(g) ? sf_hmap_peek(g->map, hash, klen) : NULL;
    for (size_t s = 0; st && s < g->nsets; s++) {
        const dstate *dst = (const dstate *)(st + g->sets[s].state_off);
        if (ds_small(dst)) {
            /* Its first line and the line of its last value (a vector
             * lies at 16-byte alignment: 64 bytes may span two lines). */
            const char *v = (const char *)ds_small(dst);
            const char *last = v + (size_t)ds_nsmall(dst) * small_width(&g->sets[s], dst) - 1;
            __builtin_prefetch(v, 0, 3);
            if (ds_nsmall(dst) && ((uintptr_t)last >> 6) != ((uintptr_t)v >> 6))
                __builtin_prefetch(last, 0, 3);
        }
    }
}

int sf_groups_update_group(sf_groups *g, sf_group *group, const sf_value *row,
                           const uint32_t *ids, sf_arena *scratch)
{
    if (g->put_off_ok && !g->prepared && !g->nretired)
        return update_put_off(g, (char *)group, row, ids, scratch);
    int rc = off_flush(g);
    return rc ? rc : update_state(g, (char *)group, row, ids, scratch);
}

int sf_groups_reserve(sf_groups *g, size_t n)
{
    return sf_hmap_reserve(g->map, n) == 0 ? 0 : SF_E_NOMEM;
}

size_t sf_groups_count(const sf_groups *g) { return sf_hmap_count(g->map); }

static void off_flush_reader(const sf_groups *g);

/* Group i's block, the row put off applied first. */
static char *state_of(const sf_groups *g, size_t i)
{
    off_flush_reader(g);
    void *st;
    sf_hmap_entry(g->map, i, NULL, NULL, NULL, &st);
    return st;
}

void sf_groups_retire(sf_groups *g, size_t i)
{
    pend_flush_all(g);
    char *st = state_of(g, i);
    if (st && !st[RETIRED_OFF]) {
        st[RETIRED_OFF] = 1;
        g->nretired++;
    }
}

int sf_groups_live(const sf_groups *g, size_t i)
{
    const char *st = state_of(g, i);
    return st && !st[RETIRED_OFF];
}

size_t sf_groups_live_count(const sf_groups *g) { return sf_hmap_count(g->map) - g->nretired; }

void sf_groups_key(const sf_groups *g, size_t i, const unsigned char **key, size_t *klen,
                   uint64_t *hash)
{
    const void *k;
    sf_hmap_entry(g->map, i, &k, klen, hash, NULL);
    *key = k;
}

int sf_groups_prepare_export(sf_groups *g)
{
    pend_flush_all(g);
    if (g->off_rc)
        return g->off_rc;
    if (g->prepared)
        return 0;
    size_t ngroups = sf_hmap_count(g->map);
    for (size_t s = 0; s < g->nsets; s++) {
        distinct_set *ds = &g->sets[s];
        size_t n = ds->fixed ? ds->mask + 1 : sf_hmap_count(ds->set);
        if (n > UINT32_MAX - 1)
            return SF_E_LIMIT;
        free(ds->head);
        free(ds->next);
        ds->head = calloc(ngroups ? ngroups : 1, sizeof *ds->head);
        ds->next = calloc(n ? n : 1, sizeof *ds->next);
        if (!ds->head || !ds->next)
            return SF_E_NOMEM;
        for (size_t e = n; e-- > 0;) {
            uint32_t idx;
            if (ds->fixed) {
                if (!ds->pairs[2 * e] || ds->pairs[2 * e] == TOMB)
                    continue;
                idx = (uint32_t)(ds->pairs[2 * e] - 1);
            } else {
                const void *k;
                sf_hmap_entry(ds->set, e, &k, NULL, NULL, NULL);
                memcpy(&idx, k, 4);
            }
            ds->next[e] = ds->head[idx];
            ds->head[idx] = (uint32_t)e + 1;
        }
    }
    for (size_t s = 0; s < g->nsets; s++) {
        distinct_set *ds = &g->sets[s];
        if (ds->ncounts < ngroups) {
            int64_t *c = realloc(ds->counts, (ngroups ? ngroups : 1) * sizeof *c);
            if (!c)
                return SF_E_NOMEM;
            sf_bigmem_advise(c, ngroups * sizeof *c); /* filled in order */
            ds->counts = c;
            ds->ncounts = ngroups;
        }
    }
    g->distinct_max = 0;
    for (size_t i = 0; i < ngroups && g->nsets; i++) {
        void *st;
        sf_hmap_prefetch_entry(g->map, i + 16); /* blocks lie far apart */
        sf_hmap_entry(g->map, i, NULL, NULL, NULL, &st);
        for (size_t s = 0; st && s < g->nsets; s++) {
            distinct_set *ds = &g->sets[s];
            dstate *dst = (dstate *)((char *)st + ds->state_off);
            int64_t c = ds_has_first(dst) == SPREAD ? (int64_t)dst->first : ds_has_first(dst) ? 1 : 0;
            c += ds_nsmall(dst);
            for (uint32_t e = ds->head[i]; e; e = ds->next[e - 1])
                c++;
            const uint64_t *bm = i < ds->nbitmaps ? ds->bitmaps[i] : NULL;
            for (uint64_t w = 0; bm && bm != NO_BITMAP && w < ds->span / 64; w++)
                c += __builtin_popcountll(bm[w]);
            ds->counts[i] = c;
            if (c > g->distinct_max)
                g->distinct_max = c;
        }
    }
    g->prepared = 1;
    return 0;
}

void sf_groups_prefetch_export(const sf_groups *g, size_t i, int stage)
{
    if (stage == 0) {
        sf_hmap_prefetch_entry(g->map, i);
        return;
    }
    const char *st = g->nsets && i < sf_hmap_count(g->map) ? state_of(g, i) : NULL;
    for (size_t s = 0; st && s < g->nsets; s++) {
        const dstate *dst = (const dstate *)(st + g->sets[s].state_off);
        if (ds_small(dst))
            __builtin_prefetch(ds_small(dst), 0, 3);
    }
}

int sf_groups_distinct_values(const sf_groups *g, size_t i, size_t j, sf_groups_value_fn fn,
                               void *ctx)
{
    const distinct_set *ds = &g->sets[g->distinct[j]];
    const dstate *dst = (const dstate *)(state_of(g, i) + g->off[j]);
    int rc = 0;
    if (ds_has_first(dst) == 1) {
        sf_value v = fixed_value(ds, dst->first);
        rc = fn(ctx, &v);
    }
    for (uint32_t k = 0; k < ds_nsmall(dst) && !rc; k++) {
        sf_value v = fixed_value(ds, small_get(ds, dst, k));
        rc = fn(ctx, &v);
    }
    const uint64_t *bm = i < ds->nbitmaps ? ds->bitmaps[i] : NULL;
    for (uint64_t w = 0; bm && bm != NO_BITMAP && w < ds->span / 64 && !rc; w++) {
        uint64_t pend = ds->pend == bm + w ? ds->pend_bit : 0; /* not set yet */
        for (uint64_t word = bm[w] | pend; word && !rc; word &= word - 1) {
            int64_t x = ds->base + (int64_t)(w * 64 + (uint64_t)__builtin_ctzll(word));
            sf_value v = ds->type == SF_DATE ? sf_date((int32_t)x)
                         : ds->dict         ? fixed_value(ds, (uint64_t)x)
                                            : sf_int(x);
            rc = fn(ctx, &v);
        }
    }
    for (uint32_t e = ds->head[i]; e && rc == 0; e = ds->next[e - 1]) {
        sf_value v;
        if (ds->fixed) {
            v = fixed_value(ds, ds->pairs[2 * (e - 1) + 1]);
        } else {
            const void *k;
            size_t kl;
            sf_hmap_entry(ds->set, e - 1, &k, &kl, NULL, NULL);
            if (!sf_value_decode((const unsigned char *)k + 4, kl - 4, &v))
                return SF_E_INTERNAL;
        }
        rc = fn(ctx, &v);
    }
    return rc;
}

int64_t sf_groups_distinct_max(const sf_groups *g) { return g->distinct_max; }

int sf_groups_distinct_spreadable(const sf_groups *g, size_t j)
{
    return g->distinct[j] >= 0 && g->sets[g->distinct[j]].fixed;
}

int sf_groups_distinct_spread(sf_groups *g, size_t i, size_t j)
{
    if (!sf_groups_distinct_spreadable(g, j))
        return SF_E_INVAL;
    distinct_set *ds = &g->sets[g->distinct[j]];
    dstate *dst = (dstate *)(state_of(g, i) + g->off[j]);
    if (ds_has_first(dst) == SPREAD)
        return 0;
    if (!ds_has_first(dst)) {
        /* No first value, so no value at all: nothing to take out (no
         * preparation either, which merges rely on). */
        ds_set_has_first(dst, SPREAD);
        dst->first = 0;
        if (g->prepared && i < ds->ncounts)
            ds->counts[i] = 0;
        return 0;
    }
    int rc = sf_groups_prepare_export(g);
    if (rc)
        return rc;
    /* Only group i's chain and bitmap change, so the other groups' chains
     * stay right and the table stays prepared. */
    for (uint32_t e = ds->head[i]; e; e = ds->next[e - 1])
        ds->pairs[2 * (e - 1)] = TOMB;
    ds->head[i] = 0;
    small_clear(ds, dst);
    uint64_t *bm = i < ds->nbitmaps ? ds->bitmaps[i] : NULL;
    if (bm && bm != NO_BITMAP)
        memset(bm, 0, ds->span / 8);
    ds_set_has_first(dst, SPREAD);
    dst->first = 0;
    ds->counts[i] = 0;
    return 0;
}

int sf_groups_distinct_add(sf_groups *g, size_t i, size_t j, uint64_t n)
{
    if (!sf_groups_distinct_spreadable(g, j))
        return SF_E_INVAL;
    pend_flush_all(g);
    dstate *dst = (dstate *)(state_of(g, i) + g->off[j]);
    if (ds_has_first(dst) != SPREAD) {
        /* Values that are here stay counted here: a first value goes where
         * a second one would (a bitmap or the pair table). */
        uint64_t had = ds_has_first(dst), bits = dst->first;
        ds_set_has_first(dst, SPREAD);
        dst->first = 0;
        g->prepared = 0;
        if (had == 1) {
            sf_value v = fixed_value(&g->sets[g->distinct[j]], bits);
            int rc = distinct_add(g, g->distinct[j], dst, (uint32_t)i, &v, 0);
            if (rc)
                return rc;
        }
    }
    dst->first += n;
    distinct_set *ds = &g->sets[g->distinct[j]];
    if (g->prepared && i < ds->ncounts)
        ds->counts[i] += (int64_t)n; /* else counted at the next preparation */
    return 0;
}

static int encode_value(void *ctx, const sf_value *v)
{
    sf_buf *out = ctx;
    int rc = sf_buf_reserve(out, sf_value_encoded_size(v));
    if (!rc)
        out->n += sf_value_encode(v, out->p + out->n);
    return rc;
}

/* sf_buf_append() and sf_buf_put_leb() for the fields of a record: inlined
 * (a record is a dozen small fields, their sizes mostly constants), growing
 * out only when the field does not fit. Return 0 or SF_E_NOMEM. */
static inline int put_bytes(sf_buf *out, const void *p, size_t n)
{
    if (n > out->cap - out->n && sf_buf_reserve(out, n) != 0)
        return SF_E_NOMEM;
    memcpy(out->p + out->n, p, n);
    out->n += n;
    return 0;
}

static inline int put_leb(sf_buf *out, uint64_t v)
{
    if (10 > out->cap - out->n && sf_buf_reserve(out, 10) != 0)
        return SF_E_NOMEM;
    unsigned char *o = out->p + out->n;
    size_t k = 0;
    for (; v >= 0x80; v >>= 7)
        o[k++] = (unsigned char)(v | 0x80);
    o[k++] = (unsigned char)v;
    out->n += k;
    return 0;
}

/* A signed 128-bit integer (a sum) as one byte n (0-16) and the n low
 * bytes of its zigzag form, little-endian: a fixed-cost store and load
 * where zigzag leb128 took a 128-bit shift per 7 bits (a compact sum of
 * prices is 10-19 of them; the merge spent a quarter of its
 * instructions there). */
static inline int put_zz128(sf_buf *out, __int128 v)
{
    if (17 > out->cap - out->n && sf_buf_reserve(out, 17) != 0)
        return SF_E_NOMEM;
    unsigned __int128 u = ((unsigned __int128)v << 1) ^ (unsigned __int128)(v >> 127);
    uint64_t lo = (uint64_t)u, hi = (uint64_t)(u >> 64);
    unsigned n = hi ? 16 - (unsigned)__builtin_clzll(hi) / 8
                 : lo ? 8 - (unsigned)__builtin_clzll(lo) / 8
                      : 0;
    unsigned char *o = out->p + out->n;
    o[0] = (unsigned char)n;
    sf_put_le(o + 1, lo, 8); /* room for all 16: only n count */
    sf_put_le(o + 9, hi, 8);
    out->n += 1 + n;
    return 0;
}

/* Reads put_zz128's form; returns the bytes read, 0 if truncated or
 * longer than 16 bytes. */
static inline size_t get_zz128(const unsigned char *p, size_t avail, __int128 *v)
{
    if (!avail || p[0] > 16 || p[0] >= avail)
        return 0;
    unsigned n = p[0];
    uint64_t lo = 0, hi = 0;
    if (avail >= 17) {
        lo = sf_get_le(p + 1, 8);
        hi = sf_get_le(p + 9, 8);
        if (n < 8)
            lo = n ? lo & (~0ull >> (64 - 8 * n)) : 0;
        hi = n <= 8 ? 0 : n < 16 ? hi & (~0ull >> (128 - 8 * n)) : hi;
    } else { /* the record's last bytes: no load past them */
        for (unsigned k = 0; k < n; k++) {
            if (k < 8)
                lo |= (uint64_t)p[1 + k] << (8 * k);
            else
                hi |= (uint64_t)p[1 + k] << (8 * (k - 8));
        }
    }
    unsigned __int128 u = (unsigned __int128)hi << 64 | lo;
    *v = (__int128)(u >> 1) ^ -(__int128)(u & 1);
    return 1 + n;
}

/* A record's leb128 field at rec + *p, or 0 when it is not there. */
static inline int get_leb_field(const unsigned char *rec, size_t len, size_t *p, uint64_t *v)
{
    if (*p < len && rec[*p] < 0x80) { /* most counts: one byte, read inline */
        *v = rec[(*p)++];
        return 1;
    }
    size_t used = sf_leb_get(rec + *p, len - *p, v);
    *p += used;
    return used != 0;
}

/* The dimension ids of group i's values of aggregate j (its set ds, its
 * state dst) into ids, ascending, when the group holds at most
 * 1 + SMALL_MAX values outside the bitmaps and pair table and each has a
 * known id. Returns their number, or 0 when they must travel as strings. */
static size_t shipped_ids(const distinct_set *ds, const dstate *dst,
                          uint32_t ids[1 + SMALL_MAX])
{
    if (!ds->idtab || ds_big(dst) || ds_has_first(dst) != 1)
        return 0;
    size_t n = 0;
    for (uint32_t k = 0; k <= ds_nsmall(dst); k++) {
        uint64_t bits = k ? small_get(ds, dst, k - 1) : dst->first;
        uint32_t id = bits < ds->nsrcof ? ds->srcof[bits] : 0;
        if (!id)
            return 0;
        size_t at = n++; /* insertion sort: a handful of ids */
        for (; at > 0 && ids[at - 1] > id; at--)
            ids[at] = ids[at - 1];
        ids[at] = id;
    }
    return n;
}

/* Group i as a record (sf_groups_export); shipped: the record goes to
 * another rank of the run, so values may travel as dimension ids. A
 * count_distinct's values start with leb128(n << 1 | form): form 0, n
 * encoded values (sf_value_encode); form 1, n ascending dimension key ids,
 * the first as leb128(id), each next as leb128(id - previous id). */
static int export_record(const sf_groups *g, size_t i, sf_buf *out, int shipped)
{
    off_flush_reader(g);
    const void *key;
    size_t klen;
    void *stv;
    sf_hmap_entry(g->map, i, &key, &klen, NULL, &stv);
    const char *st = stv;
    int rc = put_leb(out, klen);
    if (rc == 0)
        rc = put_bytes(out, key, klen);
    if (rc == 0)
        rc = put_leb(out, *(const uint64_t *)(st + g->rows_off));
    for (size_t j = 0; j < g->ndefs && rc == 0; j++) {
        const sf_agg_def *d = &g->defs[j];
        const char *s = st + g->off[j];
        switch (d->kind) {
        case SF_AGG_COUNT:
        case SF_AGG_COUNT_IF:
            rc = put_leb(out, *(const uint64_t *)s);
            break;
        case SF_AGG_SUM:
        case SF_AGG_MEAN:
            if (d->arg_type == SF_INT) {
                const isum *is = (const isum *)s;
                rc = put_zz128(out, isum_get(g, is));
                if (!rc)
                    rc = put_leb(out, (uint64_t)isum_n(is));
            } else if (d->arg_type == SF_DECIMAL) {
                rc = put_bytes(out, s, 32); /* lo, hi, n */
            } else {
                /* leb128(n << 1 | form): form 0, the integer of the
                 * compact sum (put_zz128); form 1, a serialized sf_xsum. */
                const dsum *ds = (const dsum *)s;
                __int128 v;
                int is_int = sf_xsumc_get_int(&ds->x, &v);
                rc = put_leb(out, (uint64_t)ds->n << 1 | (uint64_t)!is_int);
                if (rc == 0 && is_int) {
                    rc = put_zz128(out, v);
                } else if (rc == 0) {
                    size_t n = sf_xsumc_serialized_size(&ds->x);
                    if ((rc = sf_buf_reserve(out, n)) == 0)
                        out->n += sf_xsumc_serialize(&ds->x, out->p + out->n);
                }
            }
            break;
        case SF_AGG_MIN:
        case SF_AGG_MAX: {
            sf_value mv;
            const sf_value *v = (const sf_value *)s;
            if (g->mmbit[j] >= 0) {
                mv = mm_value(st, g->mmbit[j], s, d->arg_type);
                v = &mv;
            }
            size_t need = sf_value_encoded_size(v);
            if (need <= out->cap - out->n || (rc = sf_buf_reserve(out, need)) == 0)
                out->n += sf_value_encode(v, out->p + out->n);
            break;
        }
        case SF_AGG_COUNT_DISTINCT: {
            /* The values themselves; a count other ranks found for a
             * spread group is not among them and is not exported. */
            const dstate *dst = (const dstate *)s;
            uint32_t ids[1 + SMALL_MAX];
            size_t nid = shipped ? shipped_ids(&g->sets[g->distinct[j]], dst, ids) : 0;
            if (nid) {
                rc = put_leb(out, (uint64_t)nid << 1 | 1);
                for (size_t k = 0; k < nid && !rc; k++)
                    rc = put_leb(out, ids[k] - (k ? ids[k - 1] : 0));
                break;
            }
            const distinct_set *ds = &g->sets[g->distinct[j]];
            int64_t c = i < ds->ncounts ? ds->counts[i] : 0;
            uint64_t n = (uint64_t)c - (ds_has_first(dst) == SPREAD ? dst->first : 0);
            rc = put_leb(out, n << 1);
            if (!rc)
                rc = sf_groups_distinct_values(g, i, j, encode_value, out);
            break;
        }
        case SF_AGG_NONE:
            break;
        }
    }
    return rc;
}

int sf_groups_export(const sf_groups *g, size_t i, sf_buf *out)
{
    return export_record(g, i, out, 0);
}

int sf_groups_export_shipped(const sf_groups *g, size_t i, sf_buf *out)
{
    return export_record(g, i, out, 1);
}

int sf_groups_distinct_key_ids(sf_groups *g, size_t j, const sf_join_table *t, int key_col)
{
    if (j >= g->ndefs || g->distinct[j] < 0 || !g->sets[g->distinct[j]].dict || !t ||
        key_col < 0)
        return SF_E_INVAL;
    pend_flush_all(g); /* the rows before count with the old setting */
    g->sets[g->distinct[j]].idtab = t;
    g->sets[g->distinct[j]].idcol = key_col;
    return 0;
}

static int bad_record(sf_error *err, const char *what)
{
    return sf_error_set(err, SF_E_PARSE, "malformed group record: %s", what);
}

int sf_groups_record_key(const unsigned char *rec, size_t len, const unsigned char **key,
                         size_t *klen)
{
    uint64_t n;
    size_t p = sf_leb_get(rec, len, &n);
    if (!p || n > len - p)
        return SF_E_PARSE;
    *key = rec + p;
    *klen = (size_t)n;
    return 0;
}

static int merge_record(sf_groups *g, const unsigned char *rec, size_t len, const uint64_t *hash,
                        sf_groups_spread_fn fn, void *ctx, sf_error *err);

int sf_groups_merge_record(sf_groups *g, const unsigned char *rec, size_t len, sf_error *err)
{
    return merge_record(g, rec, len, NULL, NULL, NULL, err);
}

int sf_groups_merge_record_hashed(sf_groups *g, const unsigned char *rec, size_t len,
                                  const uint64_t *hash, sf_error *err)
{
    return merge_record(g, rec, len, hash, NULL, NULL, err);
}

int sf_groups_merge_record_spread(sf_groups *g, const unsigned char *rec, size_t len,
                                  sf_groups_spread_fn fn, void *ctx, sf_error *err)
{
    return merge_record(g, rec, len, NULL, fn, ctx, err);
}

/* The merges above; hash: the key's hash when known (NULL: computed). */
static int merge_record(sf_groups *g, const unsigned char *rec, size_t len, const uint64_t *hash,
                        sf_groups_spread_fn fn, void *ctx, sf_error *err)
{
    int rc0 = off_flush(g);
    if (rc0)
        return rc0;
    const unsigned char *key;
    size_t klen;
    if (sf_groups_record_key(rec, len, &key, &klen) != 0)
        return bad_record(err, "key");
    size_t p = (size_t)(key - rec) + klen;
    uint64_t nrows;
    if (!get_leb_field(rec, len, &p, &nrows))
        return bad_record(err, "row count");
    char *st = group_upsert(g, key, klen, hash ? *hash : sf_groups_hash(key, klen));
    if (!st)
        return SF_E_NOMEM;
    if (st[RETIRED_OFF])
        return sf_error_set(err, SF_E_INVAL, "group record for a retired group");
    if (!g->rows_alias)
        *(uint64_t *)(st + ROWS_OFF) += nrows; /* else the count's merge adds them */
    for (size_t j = 0; j < g->ndefs; j++) {
        const sf_agg_def *d = &g->defs[j];
        char *s = st + g->off[j];
        int rc = 0;
        switch (d->kind) {
        case SF_AGG_COUNT:
        case SF_AGG_COUNT_IF: {
            uint64_t c;
            if (!get_leb_field(rec, len, &p, &c))
                return bad_record(err, "count");
            *(int64_t *)s += (int64_t)c;
            break;
        }
        case SF_AGG_SUM:
        case SF_AGG_MEAN:
            if (d->arg_type == SF_DECIMAL) {
                decsum in;
                if (len - p < 32)
                    return bad_record(err, "decimal sum");
                memcpy(&in.lo, rec + p, 16);
                memcpy(&in.hi, rec + p + 16, 8);
                memcpy(&in.n, rec + p + 24, 8);
                p += 32;
                decsum *ds = (decsum *)s;
                sf_dec_acc a = {ds->lo, ds->hi}, b = {in.lo, in.hi};
                sf_dec_acc_merge(&a, &b);
                ds->lo = a.lo;
                ds->hi = a.hi;
                ds->n += in.n;
            } else if (d->arg_type == SF_INT) {
                __int128 sum;
                uint64_t n;
                size_t used = get_zz128(rec + p, len - p, &sum);
                p += used;
                if (!used || !get_leb_field(rec, len, &p, &n) || n > INT64_MAX)
                    return bad_record(err, "sum");
                rc = isum_merge(g, (isum *)s, sum, (int64_t)n);
            } else {
                size_t used = 0;
                uint64_t nf;
                if (!get_leb_field(rec, len, &p, &nf))
                    return bad_record(err, "exact sum");
                if (nf & 1) {
                    rc = sf_xsumc_merge_serialized(&((dsum *)s)->x, rec + p, len - p, &used);
                } else {
                    __int128 v;
                    if ((used = get_zz128(rec + p, len - p, &v)) != 0)
                        rc = sf_xsumc_add_int(&((dsum *)s)->x, v);
                }
                if (rc == SF_E_PARSE || !used)
                    return bad_record(err, "exact sum");
                if (rc)
                    return rc;
                p += used;
                ((dsum *)s)->n += (int64_t)(nf >> 1);
            }
            break;
        case SF_AGG_MIN:
        case SF_AGG_MAX: {
            sf_value v;
            size_t used = sf_value_decode(rec + p, len - p, &v);
            if (!used)
                return bad_record(err, "min/max");
            p += used;
            if (g->mmbit[j] >= 0)
                rc = mm_add(st, g->mmbit[j], s, &v, d->kind == SF_AGG_MAX, d->arg_type);
            else if (v.type != SF_NULL && !minmax_double((sf_value *)s, &v, d->kind == SF_AGG_MAX))
                rc = keep_minmax(g, (sf_value *)s, &v, d->kind == SF_AGG_MAX);
            break;
        }
        case SF_AGG_COUNT_DISTINCT: {
            uint64_t n;
            size_t used;
            if (!get_leb_field(rec, len, &p, &n))
                return bad_record(err, "distinct count");
            const distinct_set *ds = &g->sets[g->distinct[j]];
            int form = (int)(n & 1);
            n >>= 1;
            if (form && !ds->idtab)
                return bad_record(err, "distinct ids without their dimension");
            uint64_t id = 0, rows = form ? sf_join_table_rows(ds->idtab) : 0;
            uint32_t idx;
            memcpy(&idx, st, sizeof idx);
            /* Values of a spread group go to fn, not into the set. */
            int spread = fn && sf_groups_distinct_spreadable(g, j);
            if (spread && (rc = sf_groups_distinct_spread(g, idx, j)) != 0)
                return rc;
            for (uint64_t k = 0; k < n; k++) {
                sf_value v;
                uint64_t delta = 0;
                if (form && p < len && rec[p] < 0x80) /* most deltas: one byte */
                    delta = rec[p], used = 1;
                else
                    used = form ? sf_leb_get(rec + p, len - p, &delta)
                                : sf_value_decode(rec + p, len - p, &v);
                if (!used)
                    return bad_record(err, "distinct value");
                p += used;
                if (form) {
                    /* Ascending ids, each a key of the dimension. */
                    if (delta == 0 || delta > rows - id)
                        return bad_record(err, "distinct id");
                    id += delta;
                    v = sf_join_table_row(ds->idtab, (size_t)(id - 1))[ds->idcol];
                }
                rc = spread ? fn(ctx, j, &v)
                            : distinct_add(g, g->distinct[j], (dstate *)s, idx, &v,
                                           (uint32_t)id);
                if (rc)
                    return rc;
            }
            break;
        }
        case SF_AGG_NONE:
            break;
        }
        if (rc)
            return rc;
    }
    if (p != len)
        return bad_record(err, "trailing bytes");
    return 0;
}

/* Stores v at out field by field: a copy of the whole value as built by
 * result_of() (two byte stores, then one 16-byte load over them) waits
 * for the stores to retire, a stall of every aggregate of every row. */
static inline void put_result(sf_value *out, sf_value v)
{
    out->type = v.type;
    out->scale = v.type == SF_DECIMAL ? v.scale : 0; /* others leave it unset */
    if (v.type == SF_STRING || v.type == SF_DECIMAL)
        out->u = v.u;
    else
        out->u.i = v.u.i; /* one word: no 16-byte reload over an 8-byte store */
}

/* The result of aggregate j from the group's state block st, into *r. */
static inline void result_of(const sf_groups *g, const char *st, size_t j, int *overflow,
                             sf_value *r)
{
    const char *s = st + g->off[j];
    const sf_agg_def *d = &g->defs[j];
    sf_value v = sf_null();
    switch (d->kind) {
    case SF_AGG_COUNT:
    case SF_AGG_COUNT_IF:
        put_result(r, sf_int(*(const int64_t *)s));
        return;
    case SF_AGG_COUNT_DISTINCT: {
        const distinct_set *ds = &g->sets[g->distinct[j]];
        uint32_t idx;
        memcpy(&idx, st, sizeof idx);
        put_result(r, sf_int(idx < ds->ncounts ? ds->counts[idx] : 0));
        return;
    }
    case SF_AGG_SUM:
    case SF_AGG_MEAN:
        if (d->arg_type == SF_DECIMAL) {
            const decsum *ds = (const decsum *)s;
            sf_dec_acc a = {ds->lo, ds->hi};
            sf_i128 sum, out;
            if (ds->n == 0)
                break;
            if (sf_dec_acc_get(&a, SF_DEC_MAX_PREC, &sum) != 0 ||
                (d->kind == SF_AGG_MEAN &&
                 sf_dec_mean(sum, ds->n, d->out_dec.scale - d->arg_dec.scale, d->out_dec.prec,
                             &out) != 0)) {
                *overflow = 2;
                break;
            }
            v = sf_decimal(d->kind == SF_AGG_MEAN ? out : sum, d->out_dec.scale);
        } else if (d->arg_type == SF_INT) {
            const isum *is = (const isum *)s;
            if (isum_n(is) == 0)
                break;
            __int128 sum = isum_get(g, is);
            if (d->kind == SF_AGG_MEAN)
                v = sf_double((double)sum / (double)isum_n(is));
            else if (sum > INT64_MAX || sum < INT64_MIN)
                *overflow = 1;
            else
                v = sf_int((int64_t)sum);
        } else {
            const dsum *ds = (const dsum *)s;
            if (ds->n == 0)
                break;
            double sum = sf_xsumc_round(&ds->x);
            put_result(r, sf_double(d->kind == SF_AGG_MEAN ? sum / (double)ds->n : sum));
            return;
        }
        break;
    case SF_AGG_MIN:
    case SF_AGG_MAX:
        v = g->mmbit[j] >= 0 ? mm_value(st, g->mmbit[j], s, d->arg_type) : *(const sf_value *)s;
        break;
    case SF_AGG_NONE:
        break;
    }
    put_result(r, v);
}

sf_value sf_groups_result(const sf_groups *g, size_t i, size_t j, int *overflow)
{
    sf_value v;
    result_of(g, state_of(g, i), j, overflow, &v);
    return v;
}

int sf_groups_result_row(const sf_groups *g, size_t i, sf_value *out, size_t *bad)
{
    const char *st = state_of(g, i);
    int worst = 0;
    for (size_t j = 0; j < g->ndefs; j++) {
        int overflow = 0;
        result_of(g, st, j, &overflow, &out[j]);
        if (overflow == 2) {
            *bad = j;
            return 2;
        }
        worst |= overflow;
    }
    return worst;
}

/* Frees the heap partials of the double sums of the state block st from
 * aggregate j on (its group is not read again). */
static void take_free_sums(sf_groups *g, char *st, size_t j)
{
    for (; j < g->ndefs; j++) {
        sf_xsumc *x = &((dsum *)(st + g->off[j]))->x;
        if (g->up[j].op == UP_SUM_XSUM && sf_xsumc_big(x))
            sf_xsumc_free(x);
    }
}

int sf_groups_take_row(sf_groups *g, size_t i, sf_groups_entry *e, sf_value *out, size_t *bad)
{
    (void)off_flush(g); /* flushed by the preparation before: a no-op */
    const void *key;
    void *v;
    sf_hmap_entry(g->map, i, &key, &e->klen, &e->hash, &v);
    char *st = v;
    if (i >= g->sums_taken)
        g->sums_taken = i + 1;
    if (!st)
        return -1;
    if (st[RETIRED_OFF]) {
        take_free_sums(g, st, 0);
        return -1;
    }
    e->key = key;
    e->rows = *(const uint64_t *)(st + g->rows_off);
    /* One pass over the update cases (each aggregate's kind and type in
     * one): counts are read inline, a double sum's partials go as soon
     * as it is read, the rest is result_of's. */
    int worst = 0;
    for (size_t j = 0; j < g->ndefs; j++) {
        const agg_up *u = &g->up[j];
        int overflow = 0;
        if (u->op == UP_COUNT || u->op == UP_COUNT_IF) {
            out[j].type = SF_INT;
            out[j].scale = 0;
            out[j].u.i = *(const int64_t *)(st + u->off);
            continue;
        }
        result_of(g, st, j, &overflow, &out[j]);
        if (u->op == UP_SUM_XSUM && sf_xsumc_big(&((dsum *)(st + u->off))->x))
            sf_xsumc_free(&((dsum *)(st + u->off))->x);
        if (overflow == 2) {
            *bad = j;
            take_free_sums(g, st, j + 1);
            return 2;
        }
        worst |= overflow;
    }
    return worst;
}

void sf_groups_drain_to(sf_groups *g, size_t i)
{
    pend_flush_all(g);
    size_t n = sf_hmap_count(g->map);
    if (i > n)
        i = n;
    if (i <= g->drained && g->drained)
        return;
    /* The counts are in the states since sf_groups_prepare_export(): the
     * sets themselves are not read again. */
    for (size_t s = 0; s < g->nsets; s++)
        distinct_set_free(&g->sets[s]);
    free_sums(g, g->drained, i);
    g->drained = i;
    sf_hmap_drain_to(g->map, i);
}

uint64_t sf_groups_rows(const sf_groups *g, size_t i)
{
    off_flush_reader(g);
    void *st;
    sf_hmap_entry(g->map, i, NULL, NULL, NULL, &st);
    return st ? *(const uint64_t *)((const char *)st + g->rows_off) : 0;
}

/* sf_hmap_keep_fn of sf_groups_drop_retired(): live groups stay; a
 * retired one's heap partials and small vectors go with it. */
static int keep_live(void *ctx, size_t i, void *value)
{
    sf_groups *g = ctx;
    char *st = value;
    (void)i;
    if (!st[RETIRED_OFF])
        return 1;
    for (size_t j = 0; j < g->ndefs; j++) {
        if (g->up[j].op == UP_SUM_XSUM && sf_xsumc_big(&((dsum *)(st + g->off[j]))->x))
            sf_xsumc_free(&((dsum *)(st + g->off[j]))->x);
        else if (g->up[j].op == UP_DISTINCT)
            small_clear(&g->sets[g->distinct[j]], (dstate *)(st + g->off[j]));
    }
    return 0;
}

int sf_groups_drop_retired(sf_groups *g)
{
    if (!g->nretired || g->drained)
        return 0;
    pend_flush_all(g);
    return sf_hmap_compact(g->map, keep_live, g) ? SF_E_NOMEM : 0;
}

size_t sf_groups_memory(const sf_groups *g)
{
    size_t m = sf_hmap_memory(g->map) + g->strings.reserved + g->tmp.cap +
               g->wide.cap;
    for (size_t s = 0; s < g->nsets; s++) {
        const distinct_set *ds = &g->sets[s];
        m += ds->fixed ? 16 * (ds->mask + 1) + ds->bitmem.reserved + ds->smallmem.reserved
                       : sf_hmap_memory(ds->set);
        m += ds->dict ? sf_hmap_memory(ds->dict) + ds->nbyid * sizeof *ds->byid : 0;
        m += ds->dcache ? DICT_CACHE * sizeof *ds->dcache : 0;
        m += ds->ncounts * sizeof *ds->counts;
    }
    return m;
}

/* ---- one-row records (the combiner's step-aside; added at the end of
 * the file so the table's rework above stays apart) ----
 * Record: LEB128 key length, the key, then each aggregate's argument as
 * sf_value_encode() writes it (NULL for count()). Applying one is exactly
 * sf_groups_update() on the row it came from. */

/* A record field's plan is its aggregate's rtype: a value of that type is
 * sized, written and read here inline (the bytes sf_value_encode() gives:
 * type, then the payload little-endian; a string's length in one byte up
 * to 127); any other value (a NULL argument, an int in a double sum, a long
 * string, a decimal) takes sf_value_encode()/sf_value_decode(). */
static inline size_t rec_size(const sf_value *v, int rtype)
{
    if (v->type == rtype) {
        switch (rtype) {
        case SF_NULL: return 1;
        case SF_BOOL: return 2;
        case SF_INT:
        case SF_TIMESTAMP:
        case SF_DOUBLE: return 9;
        case SF_STRING:
            if (v->u.s.n < 0x80)
                return 2 + v->u.s.n;
            break;
        default: break;
        }
    }
    return sf_value_encoded_size(v);
}

static inline size_t rec_put(unsigned char *out, const sf_value *v, int rtype)
{
    if (v->type == rtype) {
        switch (rtype) {
        case SF_NULL: out[0] = SF_NULL; return 1;
        case SF_BOOL:
            out[0] = SF_BOOL;
            out[1] = (unsigned char)v->u.b;
            return 2;
        case SF_INT:
        case SF_TIMESTAMP:
            out[0] = (unsigned char)rtype;
            sf_put_le(out + 1, (uint64_t)v->u.i, 8);
            return 9;
        case SF_DOUBLE: {
            uint64_t bits;
            memcpy(&bits, &v->u.d, 8);
            out[0] = SF_DOUBLE;
            sf_put_le(out + 1, bits, 8);
            return 9;
        }
        case SF_STRING:
            if (v->u.s.n < 0x80) {
                out[0] = SF_STRING;
                out[1] = (unsigned char)v->u.s.n;
                sf_bytes_copy(out + 2, v->u.s.p, v->u.s.n);
                return 2 + v->u.s.n;
            }
            break;
        default: break;
        }
    }
    return sf_value_encode(v, out);
}

/* Reads one field of avail bytes at p into v: its size, or 0 if malformed
 * (as sf_value_decode()). */
static inline size_t rec_get(const unsigned char *p, size_t avail, int rtype, sf_value *v)
{
    if (avail && p[0] == rtype) {
        switch (rtype) {
        case SF_NULL: *v = sf_null(); return 1;
        case SF_BOOL:
            if (avail < 2)
                return 0;
            *v = sf_bool(p[1]);
            return 2;
        case SF_INT:
            if (avail < 9)
                return 0;
            *v = sf_int((int64_t)sf_get_le(p + 1, 8));
            return 9;
        case SF_TIMESTAMP:
            if (avail < 9)
                return 0;
            *v = sf_timestamp((int64_t)sf_get_le(p + 1, 8));
            return 9;
        case SF_DOUBLE: {
            if (avail < 9)
                return 0;
            uint64_t bits = sf_get_le(p + 1, 8);
            double d;
            memcpy(&d, &bits, 8);
            *v = sf_double(d);
            return 9;
        }
        case SF_STRING:
            if (avail >= 2 && p[1] < 0x80) {
                if (p[1] > avail - 2)
                    return 0;
                *v = sf_string((const char *)p + 2, p[1]);
                return 2 + (size_t)p[1];
            }
            break;
        default: break;
        }
    }
    return sf_value_decode(p, avail, v);
}

size_t sf_groups_row_args(const sf_groups *g, size_t klen, const sf_value *row,
                          sf_arena *scratch, sf_value *args)
{
    size_t n = klen + 1;
    for (size_t k = klen; k >= 0x80; k >>= 7)
        n++;
    for (size_t j = 0; j < g->ndefs; j++) {
        const agg_up *u = &g->up[j];
        /* count_if's string comparison in its inline form (as the row's
         * own update runs it), where its value is the test's: a string
         * column == or != a literal gives true or false unless the column
         * is NULL, which goes to sf_expr_eval like any other argument. */
        if (u->op == UP_COUNT_IF && u->test.kind == SF_LEAF_STR &&
            row[u->test.slot].type == SF_STRING) {
            args[j] = sf_bool(sf_expr_leaf_true(&u->test, row));
            n += 2;
            continue;
        }
        args[j] = u->slot >= 0       ? row[u->slot]
                  : g->defs[j].arg ? sf_expr_eval(g->defs[j].arg, row, scratch)
                                   : sf_null();
        n += rec_size(&args[j], u->rtype);
    }
    return n;
}

void sf_groups_row_write(const sf_groups *g, const unsigned char *key, size_t klen,
                         const sf_value *args, unsigned char *out)
{
    size_t k = klen;
    for (; k >= 0x80; k >>= 7)
        *out++ = (unsigned char)(k | 0x80);
    *out++ = (unsigned char)k;
    sf_bytes_copy(out, key, klen);
    out += klen;
    for (size_t j = 0; j < g->ndefs; j++)
        out += rec_put(out, &args[j], g->up[j].rtype);
}

/* A record's key length (LEB128; one byte inline, as for every key
 * under 128 bytes): the bytes it took, or 0. */
static inline size_t rec_key_len(const unsigned char *rec, size_t len, uint64_t *klen)
{
    if (len && rec[0] < 0x80) {
        *klen = rec[0];
        return 1;
    }
    return sf_leb_get(rec, len, klen);
}

int sf_groups_prefetch_record(const sf_groups *g, const unsigned char *rec, size_t len,
                              int stage, uint64_t *hash)
{
    if (stage >= 2 && !vectors_worth(g)) /* 2: vectors only */
        return 1;
    if (stage == 1 && !blocks_worth(g))
        return 1;
    uint64_t klen;
    size_t p = rec_key_len(rec, len, &klen);
    if (!p || klen > len - p)
        return 0;
    uint64_t h;
    if (hash && stage > 0) {
        h = *hash;
    } else {
        h = sf_groups_hash(rec + p, klen);
        if (hash)
            *hash = h;
    }
    sf_groups_prefetch(g, h, klen, stage);
    return 0;
}

int sf_groups_update_record(sf_groups *g, const unsigned char *rec, size_t len, sf_error *err)
{
    return sf_groups_update_record_hashed(g, rec, len, NULL, err);
}

int sf_groups_update_record_hashed(sf_groups *g, const unsigned char *rec, size_t len,
                                   const uint64_t *hash, sf_error *err)
{
    int rc0 = off_flush(g);
    if (rc0)
        return rc0;
    uint64_t klen;
    size_t p = rec_key_len(rec, len, &klen);
    if (!p || klen > len - p)
        return bad_record(err, "row key");
    const unsigned char *key = rec + p;
    p += klen;
    char *st = group_upsert(g, key, klen, hash ? *hash : sf_groups_hash(key, klen));
    if (!st)
        return SF_E_NOMEM;
    if (st[RETIRED_OFF])
        return sf_error_set(err, SF_E_INVAL, "row record for a retired group");
    if (!g->rows_alias)
        (*(uint64_t *)(st + ROWS_OFF))++;
    for (size_t j = 0; j < g->ndefs; j++) {
        const agg_up *u = &g->up[j];
        const unsigned char *f = rec + p;
        if (u->op == UP_COUNT && p < len && f[0] == SF_NULL) { /* count(): its NULL */
            (*(int64_t *)(st + u->off))++;
            p++;
            continue;
        }
        if (u->op == UP_COUNT_IF && len - p >= 2 && f[0] == SF_BOOL) {
            *(int64_t *)(st + u->off) += f[1] != 0;
            p += 2;
            continue;
        }
        sf_value v;
        size_t used = rec_get(f, len - p, u->rtype, &v);
        if (!used)
            return bad_record(err, "row value");
        p += used;
        int rc = up_apply(g, st, j, &v, 0);
        if (rc)
            return rc;
    }
    return p == len ? 0 : bad_record(err, "trailing bytes after a row");
}

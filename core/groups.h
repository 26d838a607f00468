/* groups.h - the table of groups and their aggregate states (the combiner).
 *
 * Keys are encoded group-by values (sf_value_encode, concatenated); each
 * group holds one state block with every aggregate's state. The same table
 * type pre-aggregates on each rank and merges partial aggregates that arrive
 * through the shuffle, so a group's final state is the same whichever rank
 * saw which rows: counts, int and decimal sums are integers, double sums are exact
 * (sf_xsum), min/max are order-free, and count_distinct keeps the distinct
 * (group, value) pairs themselves, which are shipped with their group -
 * or, for a group with many values, spread over ranks by the pair's hash
 * and counted there (core/pairs, cli/run_distinct.c).
 */
#ifndef SF_GROUPS_H
#define SF_GROUPS_H

#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/error.h"
#include "core/expr.h"
#include "core/join.h"
#include "core/value.h"

typedef struct sf_agg_def {
    sf_agg_kind kind;
    const sf_expr *arg; /* evaluated over the input row; NULL for count() */
    sf_type arg_type;   /* static type of arg */
    sf_type out_type;   /* result type */
    sf_dec_type arg_dec; /* decimal argument / result: P and S */
    sf_dec_type out_dec;
} sf_agg_def;

typedef struct sf_groups sf_groups;

/* One group's state in a table: a handle that sf_groups_update_ids()
 * gives and sf_groups_update_group() takes, valid until the table is
 * drained or freed. */
typedef struct sf_group sf_group;

/* New empty table for these aggregates (defs are copied). Returns NULL when
 * out of memory. */
sf_groups *sf_groups_new(const sf_agg_def *defs, size_t ndefs);

/* Frees g; NULL is a no-op. */
void sf_groups_free(sf_groups *g);

/* Hash of an encoded key, as the table and the partitioner use it. */
uint64_t sf_groups_hash(const unsigned char *key, size_t klen);

/* Adds one input row to the group with this key (created on first use):
 * evaluates each aggregate's argument over row. Returns 0 or SF_E_NOMEM. */
int sf_groups_update(sf_groups *g, const unsigned char *key, size_t klen, uint64_t hash,
                     const sf_value *row, sf_arena *scratch);

/* A hint before sf_groups_update_ids() of a key of klen bytes with this
 * hash: starts loading its index slot (stage 0) or, once that is in, its
 * group's state (stage 1) or, once that is in too, the values its
 * count_distinct aggregates keep apart from it (stage 2). Stages 1 and 2
 * do nothing while they would find nothing: stage 1 while more than 3 in
 * 4 of g's lookups so far made a new group (no block yet), stage 2 while
 * fewer than 1 group in 8 has a vector. Changes nothing. Cannot fail. */
void sf_groups_prefetch(const sf_groups *g, uint64_t hash, size_t klen, int stage);

/* sf_groups_update() with the row's dimension ids: ids[slot] is the dense
 * id (core/join's sf_join_table_id) of the string at row[slot], 0 for
 * none; ids may be NULL. A count_distinct over a slot with an id looks its
 * string up by the id after the first time, instead of hashing it again:
 * the caller keeps every id of one slot from one dimension column, for
 * the life of g. The group's handle goes to *group (group may be NULL).
 * Returns 0, SF_E_INVAL for a retired group, or SF_E_NOMEM. */
int sf_groups_update_ids(sf_groups *g, const unsigned char *key, size_t klen, uint64_t hash,
                         const sf_value *row, const uint32_t *ids, sf_arena *scratch,
                         sf_group **group);

/* Adds one input row to group (a handle of g's) as sf_groups_update_ids()
 * adds it to the group of its key: for a caller that found the group
 * itself (core/keycache). Returns 0, SF_E_INVAL for a retired group, or
 * SF_E_NOMEM. */
int sf_groups_update_group(sf_groups *g, sf_group *group, const sf_value *row,
                           const uint32_t *ids, sf_arena *scratch);

/* Makes room for n groups in all (sf_hmap_reserve of the table's map):
 * for a caller that expects about that many, so the table does not grow
 * through its smaller indexes. Changes no group. Returns 0, or SF_E_NOMEM
 * (g unchanged and valid; a reserve is only a saving). */
int sf_groups_reserve(sf_groups *g, size_t n);

/* Number of groups (retired ones included: indexes run to this). */
size_t sf_groups_count(const sf_groups *g);

/* Marks group i as retired: its partial state went to another table (the
 * shuffle exported it to the rank that owns it), so this table no longer
 * answers for it. A retired group keeps its index and memory, takes no
 * more updates from sf_groups_update() or sf_groups_merge_record() for its
 * key (both return SF_E_INVAL), and is skipped by whoever reads results.
 * This lets a rank keep its combiner as its reduce table: only the groups
 * it does not own are exported and retired. */
void sf_groups_retire(sf_groups *g, size_t i);

/* Gives back the memory of every retired group: their keys leave the
 * index and their state blocks go; the live groups' blocks move (keys
 * and strings borrowed from them before are stale) but keep their
 * indexes, and a retired group stays retired (sf_groups_live() 0,
 * skipped by readers). From then on a retired group's key is unknown to
 * the table: an update or merge for it would make a new group, so call
 * this once nothing will come for those keys (the shuffle has exported
 * them to their owners). The distinct sets keep their (group, value)
 * pairs. Returns 0, or SF_E_NOMEM (g stays valid; some retired groups
 * may keep their memory). A no-op after sf_groups_drain_to(). */
int sf_groups_drop_retired(sf_groups *g);

/* 1 if group i is not retired. */
int sf_groups_live(const sf_groups *g, size_t i);

/* Number of groups that are not retired. */
size_t sf_groups_live_count(const sf_groups *g);

/* Drain in group order, for a reader that turns groups into rows once
 * (after sf_groups_prepare_export()): groups [0, i) will not be read
 * again. Their memory goes as whole arena blocks are passed, and the
 * table's index and distinct sets go at the first call, so nothing may
 * update, merge, export or look up from then on; sf_groups_key(),
 * sf_groups_live(), sf_groups_result() and sf_groups_rows() of group i and
 * later still answer. A string from a drained group (its key, a min/max)
 * is gone with it unless copied first. sf_groups_free() frees the rest. */
void sf_groups_drain_to(sf_groups *g, size_t i);

/* Key of group i (borrowed, stable) and its hash. */
void sf_groups_key(const sf_groups *g, size_t i, const unsigned char **key, size_t *klen,
                   uint64_t *hash);

/* A hint before sf_groups_export() of group i, for an export that walks
 * the groups in order (their blocks lie far apart in a large table):
 * starts loading its block (stage 0), then the count_distinct values it
 * points to (stage 1, once the block had time to come). Changes
 * nothing. Cannot fail. */
void sf_groups_prefetch_export(const sf_groups *g, size_t i, int stage);

/* Appends group i - key, states and its distinct values - to out as one
 * record that sf_groups_merge_record() understands. Returns 0 or SF_E_NOMEM.
 * Call sf_groups_prepare_export() once before exporting groups. */
int sf_groups_prepare_export(sf_groups *g);
int sf_groups_export(const sf_groups *g, size_t i, sf_buf *out);

/* Says that the values of count_distinct aggregate j are the key column
 * key_col of dimension table t, and come with their key ids
 * (sf_join_table_key_id, through sf_groups_update_ids), and that every
 * rank holds t whole with the same ids (a replicated table, checked by
 * the caller): sf_groups_export_shipped() may then send a group's values
 * as ids, and a merge maps ids in a record to strings through t. t must
 * outlive g's merges. Returns 0, or SF_E_INVAL when j is not a
 * count_distinct of strings. */
int sf_groups_distinct_key_ids(sf_groups *g, size_t j, const sf_join_table *t, int key_col);

/* sf_groups_export() for a record that goes to another rank of the run:
 * the values of a count_distinct set up by sf_groups_distinct_key_ids()
 * travel as a sorted delta-coded list of key ids when the group has at
 * most 33 of them and each has a known id (else as strings, as in
 * sf_groups_export). Never for a record that leaves the run (a spill
 * file, an output): ids mean nothing there. Returns 0 or SF_E_NOMEM. */
int sf_groups_export_shipped(const sf_groups *g, size_t i, sf_buf *out);

/* ---- count_distinct spread over ranks (cli/run_distinct.c) ----
 * A group with many distinct values can have them counted elsewhere: its
 * values of aggregate j are handed out (sf_groups_distinct_values), taken
 * out of the table (sf_groups_distinct_spread), and the count found for
 * them comes back with sf_groups_distinct_add. */

/* Calls fn(ctx, value) for every distinct value of count_distinct
 * aggregate j held for group i (strings borrowed from g). Call
 * sf_groups_prepare_export() first. Returns fn's first non-zero return
 * value, else 0. */
typedef int (*sf_groups_value_fn)(void *ctx, const sf_value *v);
int sf_groups_distinct_values(const sf_groups *g, size_t i, size_t j, sf_groups_value_fn fn,
                               void *ctx);

/* The largest count of any count_distinct of any group, as the last
 * sf_groups_prepare_export() counted (retired groups included). Cannot
 * fail. */
int64_t sf_groups_distinct_max(const sf_groups *g);

/* 1 if aggregate j is a count_distinct whose values can be spread (every
 * argument type but decimal). Cannot fail. */
int sf_groups_distinct_spreadable(const sf_groups *g, size_t j);

/* Takes group i's values of aggregate j out of g (they are counted
 * elsewhere from now on); its count is 0 until sf_groups_distinct_add.
 * Returns 0, SF_E_INVAL when j cannot be spread, or the error of
 * sf_groups_prepare_export(). */
int sf_groups_distinct_spread(sf_groups *g, size_t i, size_t j);

/* Adds n values counted elsewhere to group i's count of aggregate j. The
 * added count is not exported (sf_groups_export carries the values held
 * here only): add once the group has reached its final table. Returns 0,
 * SF_E_INVAL when j cannot be spread, or SF_E_NOMEM. */
int sf_groups_distinct_add(sf_groups *g, size_t i, size_t j, uint64_t n);

/* The group key of an exported record (borrowed from rec). Returns 0 or
 * SF_E_PARSE. */
int sf_groups_record_key(const unsigned char *rec, size_t len, const unsigned char **key,
                         size_t *klen);

/* sf_groups_merge_record(), except that the group's values of every
 * count_distinct that can spread go to fn(ctx, j, value) instead of its
 * set, and are taken out of it (sf_groups_distinct_spread). fn's non-zero
 * return value stops the merge and is returned. */
typedef int (*sf_groups_spread_fn)(void *ctx, size_t j, const sf_value *v);
int sf_groups_merge_record_spread(sf_groups *g, const unsigned char *rec, size_t len,
                                  sf_groups_spread_fn fn, void *ctx, sf_error *err);

/* Merges one exported record (len bytes) into g. Returns 0, SF_E_PARSE for a
 * malformed record, or SF_E_NOMEM. */
int sf_groups_merge_record(sf_groups *g, const unsigned char *rec, size_t len, sf_error *err);

/* sf_groups_merge_record() with the record's key hash already known
 * (*hash, as sf_groups_prefetch_record() left it; hash NULL: computed
 * here). */
int sf_groups_merge_record_hashed(sf_groups *g, const unsigned char *rec, size_t len,
                                  const uint64_t *hash, sf_error *err);

/* Final value of aggregate j of group i. Strings are borrowed from g.
 * Call sf_groups_prepare_export() (it also counts distinct values) first.
 * *overflow is set to 1 when an int64 sum left the int64 range, and to 2 when
 * a decimal sum or mean needs more than 38 digits (the value is then NULL;
 * 2 is an error for the caller, which names the group). Decimal sums are
 * exact 192-bit sums, so the verdict does not depend on how rows were
 * spread over ranks. */
sf_value sf_groups_result(const sf_groups *g, size_t i, size_t j, int *overflow);

/* sf_groups_result of every aggregate of group i into out[0, ndefs), the
 * state found once instead of once per aggregate. Returns 0, 1 when an
 * int64 sum left the int64 range (that value is NULL), or 2 when a
 * decimal sum or mean needs more than 38 digits: *bad is then that
 * aggregate, and out[] is filled only up to it. Cannot fail otherwise. */
int sf_groups_result_row(const sf_groups *g, size_t i, sf_value *out, size_t *bad);

/* What sf_groups_take_row() tells of a group besides its results. */
typedef struct sf_groups_entry {
    const unsigned char *key; /* borrowed from g, as sf_groups_key() */
    size_t klen;
    uint64_t hash;
    uint64_t rows; /* sf_groups_rows() */
} sf_groups_entry;

/* Group i as a result row for a reader that drains g in group order
 * (sf_groups_drain_to() follows, and group i is not read again): its
 * entry is found once for the key, hash, row count and results, and its
 * double sums' heap partials go now instead of in a second pass over
 * the groups at the drain. Call it for each group in turn from 0, after
 * sf_groups_prepare_export(). Returns -1 for a retired group (only its
 * partials go), else as sf_groups_result_row() with out[] and *bad. */
int sf_groups_take_row(sf_groups *g, size_t i, sf_groups_entry *e, sf_value *out, size_t *bad);

/* Number of input rows that went into group i (summed over merges). */
uint64_t sf_groups_rows(const sf_groups *g, size_t i);

/* Bytes of memory held. */
size_t sf_groups_memory(const sf_groups *g);

/* One-row records: the combiner's step-aside ships a row to the rank that
 * owns its group as the group key and each aggregate's argument, and that
 * rank applies it as sf_groups_update() would have. */

/* Evaluates each aggregate's argument over row into args (one per
 * aggregate, the caller's; strings borrow from row or scratch) and returns
 * the size of the record of a klen-byte key. Cannot fail. */
size_t sf_groups_row_args(const sf_groups *g, size_t klen, const sf_value *row,
                          sf_arena *scratch, sf_value *args);

/* Writes that record (exactly the size sf_groups_row_args() returned) at
 * out. Cannot fail. */
void sf_groups_row_write(const sf_groups *g, const unsigned char *key, size_t klen,
                         const sf_value *args, unsigned char *out);

/* Applies one row record (len bytes) to g: its group is created on first
 * use and updated as by sf_groups_update(). Returns 0, SF_E_PARSE for a
 * malformed record (err says what), SF_E_INVAL for a retired group, or
 * SF_E_NOMEM. */
int sf_groups_update_record(sf_groups *g, const unsigned char *rec, size_t len, sf_error *err);

/* sf_groups_update_record() with the record's key hash already known
 * (*hash, as sf_groups_prefetch_record() left it; hash NULL: computed
 * here). */
int sf_groups_update_record_hashed(sf_groups *g, const unsigned char *rec, size_t len,
                                   const uint64_t *hash, sf_error *err);

/* A hint before sf_groups_update_record() of rec, or
 * sf_groups_merge_record() of an exported one (both start with the
 * key): sf_groups_prefetch() of
 * the record's key at stage (0, 1 or 2, each once the one before is in).
 * hash, when not NULL, is the record's own word: stage 0 stores the key's
 * hash there, later stages and sf_groups_update_record_hashed() take it
 * instead of hashing the key again. A malformed record is left alone.
 * Changes nothing in g. Returns 1 when the stage has nothing to load in
 * g as it is (stage 2 while too few groups have count_distinct vectors;
 * stage 1 while most lookups so far made a new group, which has no block
 * to load), which holds for every record until g has taken in more: a
 * caller may skip that stage and those after it for a batch of records;
 * else 0. Cannot fail. */
int sf_groups_prefetch_record(const sf_groups *g, const unsigned char *rec, size_t len,
                              int stage, uint64_t *hash);

#endif

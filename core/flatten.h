/* flatten.h - nested JSON records to flat rows: the flatten engine.
 *
 * One JSON object per call (a line of JSON Lines) in, one or more rows of
 * (column, value) cells out. The line goes through the strict decoder of
 * core/jsonproj in visitor mode, so a line is accepted or rejected exactly
 * as a job's decoder would (same reasons, same messages). Rules, documented
 * with examples in docs/flatten.md:
 *  - nested objects give joined keys: {"a":{"b":1}} -> a.b (sep ".");
 *  - arrays: SF_LISTS_INDEX gives a.0, a.1 (0-based); SF_LISTS_JOIN gives
 *    one string of the elements joined with join_sep when every element is
 *    a scalar (null as an empty string; else index); SF_LISTS_JSON keeps the
 *    array as compact JSON text;
 *  - an empty object or array is a null under its own key; null is null;
 *  - objects and arrays deeper than max_depth keys are kept as JSON text
 *    (pandas' max_level: 0 keeps every top-level container as text);
 *  - explode paths (keys joined with '.', whatever sep is): one row per
 *    element of the array there, its fields under the path (items.sku), the
 *    rest of the record repeated; several paths give the cartesian product
 *    in document order (the first path varies slowest), and a path below an
 *    exploded one (orders.items) explodes inside each element. A missing key
 *    gives nothing, an empty array or null a null under the path, and any
 *    other value is flattened as if it were the array's only element, so no
 *    record disappears. More than max_rows rows reject the record
 *    (SF_REJ_TOO_MANY_ROWS) before any row is built;
 *  - duplicate keys in one object: the last value wins at the place of the
 *    first (jansson, Python), counted in stats.duplicate_keys;
 *  - two paths giving the same column in one row ({"a.b":1,"a":{"b":2}}):
 *    SF_COLLISION_ERROR rejects the record (SF_REJ_KEY_COLLISION, naming
 *    the column), FIRST keeps the first value in document order, LAST the
 *    last; both count stats.collisions.
 * Cells of a row are in document order; a column is never twice in a row.
 *
 * Columns: the engine keeps a dictionary of every column it has produced,
 * with its type inferred so far and the place it first appeared (the
 * caller's order of the record, then the leaf's place in it), so the
 * dictionaries of several engines (chunks, ranks) merge into one that does
 * not depend on how the input was split: sf_flatten_columns_encode() and
 * sf_flatten_columns_merge(), then sf_flatten_columns_order(). Types widen
 * along null < bool | int64 < double < string: int64 and double give
 * double, any other mix gives string; a column that only held nulls stays
 * SF_NULL. A column dictionary seeded before use (sf_flatten_column_add)
 * fixes the ids of those columns, e.g. to the final output order.
 *
 * Invariant for maintainers: the columns of a record are created only once
 * the record is accepted (they are provisional until then), so a rejected
 * line leaves no trace in the dictionary or the types.
 * Memory: nothing is allocated per record once the engine has seen records
 * as large (a per-record arena, reused arrays).
 */
#ifndef SF_FLATTEN_H
#define SF_FLATTEN_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/value.h"

typedef enum sf_lists_policy {
    SF_LISTS_INDEX = 0, /* tags.0, tags.1 */
    SF_LISTS_JOIN,      /* "a,b" for arrays of scalars, else index */
    SF_LISTS_JSON       /* "[\"a\",\"b\"]" */
} sf_lists_policy;

typedef enum sf_collision_policy {
    SF_COLLISION_ERROR = 0, /* reject the record */
    SF_COLLISION_FIRST,     /* keep the first value in document order */
    SF_COLLISION_LAST       /* keep the last */
} sf_collision_policy;

#define SF_FLATTEN_MAX_ROWS_DEFAULT 10000
#define SF_FLATTEN_MAX_EXPLODE 64

typedef struct sf_flatten_opts {
    const char *sep;      /* between keys of a column name; default "." */
    sf_lists_policy lists;
    const char *join_sep; /* SF_LISTS_JOIN; default "," */
    const char *const *explode; /* array paths, keys joined with '.' */
    size_t nexplode;      /* at most SF_FLATTEN_MAX_EXPLODE */
    int max_depth;        /* < 0: no limit (default) */
    uint64_t max_rows;    /* rows per record; default SF_FLATTEN_MAX_ROWS_DEFAULT */
    sf_collision_policy on_collision;
    int known_only;       /* 1: only columns already in the dictionary (seeded
                           * with sf_flatten_column_add) get cells; other
                           * leaves are dropped and create no column */
    int tree_only;        /* 1: every record through the record tree, never the
                           * direct pass (the same output; tests compare them) */
} sf_flatten_opts;

/* Defaults as above. Cannot fail. */
void sf_flatten_opts_init(sf_flatten_opts *o);

/* Names of the policies as the CLI and job specs spell them ("index",
 * "join", "json"; "error", "first", "last"), and the reverse (0 or
 * SF_E_INVAL). */
const char *sf_lists_policy_name(sf_lists_policy p);
int sf_lists_policy_parse(const char *name, sf_lists_policy *p);
const char *sf_collision_policy_name(sf_collision_policy p);
int sf_collision_policy_parse(const char *name, sf_collision_policy *p);

typedef struct sf_flatten sf_flatten;

/* New engine (options and strings copied). Returns 0 and *out, or
 * SF_E_INVAL (empty separator, bad explode path: empty, an empty key, the
 * same path twice, too many) or SF_E_NOMEM, with err saying which. */
int sf_flatten_new(const sf_flatten_opts *o, sf_flatten **out, sf_error *err);

/* Frees f; NULL is a no-op. */
void sf_flatten_free(sf_flatten *f);

typedef struct sf_flatten_cell {
    uint32_t col; /* column id, see sf_flatten_column_get() */
    sf_value v;   /* never SF_DATE; strings borrowed until the next record; a
                   * double's scale as the visitor gave it (core/jsonproj.h) */
} sf_flatten_cell;

/* Flattens one line (len bytes, no newline). order places the record in
 * the input (e.g. its global byte offset) for the first-appearance order
 * of new columns. Returns 0 with the rows available below, 1 +
 * sf_reject_reason with a message in msg (invalid JSON or UTF-8, not an
 * object, int64 overflow, nesting too deep, key collision, too many rows),
 * or SF_E_NOMEM. */
int sf_flatten_record(sf_flatten *f, const char *line, size_t len, uint64_t order, char *msg,
                      size_t msgcap);

/* Rows of the last accepted record (at least one), and row i's cells
 * (borrowed until the next record). */
size_t sf_flatten_nrows(const sf_flatten *f);
const sf_flatten_cell *sf_flatten_row(const sf_flatten *f, size_t i, size_t *ncells);

typedef struct sf_flatten_stats {
    uint64_t records;        /* accepted */
    uint64_t rows;           /* produced by accepted records */
    uint64_t duplicate_keys; /* repeated keys in accepted records (last wins) */
    uint64_t collisions;     /* cells dropped by --on-collision first|last */
} sf_flatten_stats;

/* Counts since the engine was made (borrowed). */
const sf_flatten_stats *sf_flatten_get_stats(const sf_flatten *f);

/* 1 if a record given to f held explode path i (of the options' explode
 * list; any value, even null or an empty array), else 0: a path no record
 * holds is likely a typo. Cannot fail. */
int sf_flatten_explode_seen(const sf_flatten *f, size_t i);

/* ---- the column dictionary ---- */

typedef struct sf_flatten_column {
    const char *name; /* borrowed from the engine, NUL-terminated */
    size_t len;
    sf_type type;     /* inferred so far; SF_NULL: no non-null value yet */
    uint64_t nonnull; /* rows holding a non-null value in it */
    uint64_t first;   /* order of the record it first appeared in ... */
    uint32_t ordinal; /* ... and its leaf's place in that record */
    unsigned seen;    /* bit 1 << t for each type t of its non-null values (a
                       * string column of several types is a mix, say int64
                       * and string); add ORs it in */
} sf_flatten_column;

size_t sf_flatten_ncolumns(const sf_flatten *f);

/* Column id (0 <= id < ncolumns). Cannot fail. */
void sf_flatten_column_get(const sf_flatten *f, uint32_t id, sf_flatten_column *c);

/* Id of the column named name, or -1. */
int64_t sf_flatten_column_find(const sf_flatten *f, const char *name, size_t len);

/* Adds column c (a new id at the end), or merges it into the column of the
 * same name: types widen, non-null counts add, the earlier first
 * appearance wins. Sets *id (may be NULL). Returns 0 or SF_E_NOMEM. */
int sf_flatten_column_add(sf_flatten *f, const sf_flatten_column *c, uint32_t *id);

/* Appends every column to out as one record (see sf_flatten_columns_merge).
 * Returns 0 or SF_E_NOMEM. */
int sf_flatten_columns_encode(const sf_flatten *f, sf_buf *out);

/* Merges every column of an encoded record (from any engine) into f, as
 * sf_flatten_column_add does. Returns 0, SF_E_PARSE for a malformed record
 * or SF_E_NOMEM. */
int sf_flatten_columns_merge(sf_flatten *f, const unsigned char *rec, size_t len);

/* Fills order[0..ncolumns) with the column ids sorted by first appearance
 * (first, then ordinal, then name), which is the input order of the whole
 * input once every engine's columns are merged. Returns 0 or SF_E_NOMEM. */
int sf_flatten_columns_order(const sf_flatten *f, uint32_t *order);

/* The wider of two inferred types (see the banner). Cannot fail. */
sf_type sf_flatten_type_merge(sf_type a, sf_type b);


#endif

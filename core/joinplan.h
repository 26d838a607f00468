/* joinplan.h - how a join meets its dimension table: broadcast (every
 * rank holds the whole table, fact rows stay where they are read) or
 * partitioned (fact rows travel to the owner of their join key, each rank
 * holds its share of the table). Pure arithmetic and a text scan of a
 * sample the caller read: no MPI, no I/O.
 *
 * The rule (the one Spark's and DuckDB's planners weigh): broadcast when
 * the table fits comfortably in a rank's memory budget AND shipping every
 * other rank a copy costs less than repartitioning the fact rows:
 *
 *   fits:     estimated table memory <= a quarter of the per-rank room
 *   cheaper:  dimension bytes x (ranks - 1)
 *               <= fact bytes x projected fraction x (ranks - 1) / ranks
 *
 * A table of at most SF_JOINPLAN_SMALL bytes that fits is broadcast
 * without weighing (Spark's spark.sql.autoBroadcastJoinThreshold default,
 * 10 MB): its copies cost milliseconds, and a partitioned join would ship
 * raw fact rows where the combiner ships partial aggregates.
 *
 * An explicit --broadcast-limit replaces the rule: a table over it is
 * joined partitioned, any other broadcast (the user's hard limit).
 */
#ifndef SF_JOINPLAN_H
#define SF_JOINPLAN_H

#include <stddef.h>
#include <stdint.h>

#define SF_JOINPLAN_SMALL ((uint64_t)10 << 20)

/* What a sample of a JSON Lines file says about its projection. */
typedef struct sf_joinplan_sample {
    uint64_t lines;       /* whole lines seen */
    uint64_t bytes;       /* their bytes, newlines included */
    uint64_t value_bytes; /* bytes of the projected top-level fields' values */
} sf_joinplan_sample;

/* Scans the whole lines of buf[0, n) (a trailing partial line is left
 * out): for each line that is a JSON object, the bytes of the values of
 * its top-level members named in names[0, nnames) are added to
 * value_bytes. A line that is not an object counts whole. out is filled
 * anew. Cannot fail. */
void sf_joinplan_scan_sample(const char *buf, size_t n, const char *const *names,
                             size_t nnames, sf_joinplan_sample *out);

/* The projected fraction of a sample (value_bytes / bytes), or 1.0 when
 * the sample saw no whole line. Cannot fail. */
double sf_joinplan_fraction(const sf_joinplan_sample *s);

/* What the decision weighs, for one join. */
typedef struct sf_joinplan_in {
    uint64_t dim_bytes;     /* the dimension file's size */
    double dim_fraction;    /* its projected fraction (sf_joinplan_fraction) */
    double dim_line_bytes;  /* mean bytes per line of its sample (0: unknown) */
    size_t dim_columns;     /* columns the table keeps */
    uint64_t fact_bytes;    /* all fact files (0: not known, e.g. stdin) */
    double fact_fraction;   /* projected fraction of a fact line */
    int nranks;
    uint64_t room;          /* per-rank memory the table may use a quarter of
                             * (the budget's state share); 0: no limit known */
    uint64_t limit;         /* an explicit --broadcast-limit, when limit_set */
    int limit_set;
} sf_joinplan_in;

typedef enum {
    SF_JOINPLAN_ONE_RANK = 0,  /* broadcast: one rank, nothing travels either way */
    SF_JOINPLAN_CHEAPER,       /* broadcast: fits, and a copy each costs less */
    SF_JOINPLAN_UNDER_LIMIT,   /* broadcast: within the explicit --broadcast-limit */
    SF_JOINPLAN_SMALL_TABLE,   /* broadcast: at most SF_JOINPLAN_SMALL bytes, and fits */
    SF_JOINPLAN_TOO_BIG,       /* partitioned: does not fit comfortably */
    SF_JOINPLAN_COSTLIER,      /* partitioned: copies cost more than moving fact rows */
    SF_JOINPLAN_OVER_LIMIT     /* partitioned: over the explicit --broadcast-limit */
} sf_joinplan_reason;

typedef struct sf_joinplan {
    int partitioned;           /* 1: join partitioned (before-join) */
    sf_joinplan_reason reason;
    uint64_t dim_memory;       /* estimated bytes of the whole table on one rank */
    uint64_t broadcast_bytes;  /* dimension bytes x (ranks - 1) */
    uint64_t shuffle_bytes;    /* fact bytes that would travel partitioned */
} sf_joinplan;

/* Decides for one join. Cannot fail. */
void sf_joinplan_decide(const sf_joinplan_in *in, sf_joinplan *out);

/* One line (no newline) saying which way and why, with the figures, into
 * buf (always NUL-terminated). Cannot fail. */
void sf_joinplan_text(const sf_joinplan_in *in, const sf_joinplan *p, const char *dim_name,
                      char *buf, size_t size);

/* The reason as a short word for the manifest: "one-rank", "cheaper",
 * "under-limit", "small", "too-big", "costlier" or "over-limit". */
const char *sf_joinplan_reason_name(sf_joinplan_reason r);

#endif

/* budget.h - a rank's memory budget: pure accounting, no MPI, no I/O.
 *
 * A run gets a limit per rank (--memory-limit, the spec's "memory_limit",
 * or the node's share that mpi/membudget works out). Part of it is fixed:
 * what the process holds before any data (its resident size at start:
 * code, MPI, HDF5) and the buffers that do not grow with the data (the
 * read buffer, a shuffle round, the spill write buffers). The rest is the
 * state share: what group tables, distinct sets and the tables of one
 * spill pass may hold. A limit that leaves less than SF_BUDGET_MIN_STATE
 * for state cannot make progress and is refused with the minimum it needs.
 *
 * Invariant: state + fixed == limit whenever limit != 0; limit 0 means
 * unlimited (state is then UINT64_MAX and nothing ever spills).
 */
#ifndef SF_BUDGET_H
#define SF_BUDGET_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* The least state a run needs to make progress: one spill pass's table of
 * a few thousand groups. */
#define SF_BUDGET_MIN_STATE ((uint64_t)4 << 20)

/* Memory that does not grow with the data, per rank. */
typedef struct sf_budget_fixed {
    uint64_t base;          /* resident bytes before any data (measured at start) */
    uint64_t read_buffer;   /* the scan's read buffer */
    uint64_t shuffle_round; /* send and receive buffers of one shuffle round */
    uint64_t spill_buffers; /* write buffers of the spill partitions */
} sf_budget_fixed;

typedef struct sf_budget {
    uint64_t limit; /* bytes per rank; 0 = unlimited */
    uint64_t fixed; /* sum of sf_budget_fixed */
    uint64_t state; /* limit - fixed: what growing state may hold */
} sf_budget;

/* Sum of the fixed parts plus SF_BUDGET_MIN_STATE: the smallest limit a
 * run can make progress with. Cannot fail (saturates at UINT64_MAX). */
uint64_t sf_budget_minimum(const sf_budget_fixed *f);

/* Sets b up for limit bytes (0: unlimited). Returns 0, or SF_E_LIMIT with
 * err saying the minimum when limit is below sf_budget_minimum(f). */
int sf_budget_init(sf_budget *b, uint64_t limit, const sf_budget_fixed *f, sf_error *err);

/* 1 when state_bytes of growing state is over the budget's state share
 * (never when unlimited). Cannot fail. */
static inline int sf_budget_over(const sf_budget *b, uint64_t state_bytes)
{
    return b->limit != 0 && state_bytes > b->state;
}

/* The default limit of a rank: 75% of the node's memory (mem_total bytes)
 * over the ranks on the node (at least 1). Cannot fail. */
uint64_t sf_budget_node_default(uint64_t mem_total, int ranks_on_node);

/* Groups spill partitions [0, nparts) into passes of consecutive
 * partitions: part_bytes[p] is partition p's size (the same array on every
 * rank, so every rank forms the same passes); a pass takes partitions
 * while their sum stays within cap (a partition alone over cap is a pass
 * of its own). Writes pass_first[k] = first partition of pass k, for k in
 * [0, passes], with pass_first[passes] = nparts (pass_first holds nparts +
 * 1 entries). Returns the number of passes (at least 1 when nparts > 0).
 * Cannot fail. */
size_t sf_budget_plan_passes(const uint64_t *part_bytes, size_t nparts, uint64_t cap,
                             uint32_t *pass_first);

/* Number of spill partitions for a run whose growing state may reach
 * state_estimate bytes on one rank with state bytes to work in: a power
 * of two in [8, 256], enough that one partition's share fits a quarter of
 * state. Cannot fail. */
uint32_t sf_budget_spill_partitions(uint64_t state_estimate, uint64_t state);

#endif

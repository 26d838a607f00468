/* membudget.h - the memory budget across a node: how much memory the node
 * has, how many ranks share it, what a rank holds before any data.
 *
 * The accounting itself is core/budget (pure); this module only looks at
 * the machine: /proc/meminfo's MemTotal, capped by the cgroup's limit when
 * the job runs in one (cgroup v2 memory.max, v1 memory.limit_in_bytes),
 * the ranks on the node from MPI_Comm_split_type(MPI_COMM_TYPE_SHARED),
 * and this process's resident size from /proc/self/statm.
 */
#ifndef SF_MEMBUDGET_H
#define SF_MEMBUDGET_H

#include <mpi.h>
#include <stdint.h>

/* What a node offers a rank. */
typedef struct sf_node_memory {
    uint64_t mem_total;   /* bytes the node (or its cgroup) has; 0: unknown */
    int ranks_on_node;    /* ranks of comm sharing this node */
    int node_rank;        /* this rank's number among them (0: the node's first) */
    uint64_t default_limit; /* 75% of mem_total over ranks_on_node; 0 when unknown */
} sf_node_memory;

/* Collective over comm: splits it by shared-memory node to count the ranks
 * on each node, and reads the node's memory. Cannot fail (an unknown
 * size leaves mem_total and default_limit 0: no default limit). */
void sf_membudget_node(MPI_Comm comm, sf_node_memory *out);

/* This process's resident bytes now (/proc/self/statm), or 0 when unknown.
 * Not collective; cannot fail. */
uint64_t sf_membudget_rss(void);

#endif

/* bigmem.h - zeroed blocks for large random-access tables.
 *
 * A hash index of millions of slots (a dimension table's key index, a
 * group table's index) is read and written at random: each access is a
 * TLB miss on 4 KiB pages, and a software prefetch of such a slot waits
 * for the page walk. Blocks of at least SF_BIGMEM_STREAM bytes are aligned
 * to 2 MiB and advised for transparent huge pages (Linux madvise
 * MADV_HUGEPAGE; a no-op where that is missing or refused), so one TLB
 * entry covers 512 times as many slots. Smaller blocks are plain calloc.
 * Large blocks filled in order (an arena's) take the advice alone: their
 * first touch then faults 2 MiB at a time.
 *
 * Where a fresh huge page costs more than it saves. On a virtual machine
 * whose guest reports its free memory to the host (virtio-balloon free
 * page reporting), a huge page the guest has not used lately is backed by
 * the host at its first touch: measured on this project's 2-vCPU guest,
 * 0.35-0.41 GB/s against 1.3-1.6 GB/s for 4 KiB pages and 7-8 GB/s for a
 * huge page freed moments before. A table read at random still pays for
 * its huge pages in TLB misses saved; a block filled in order (an arena,
 * a received message, a result array) may not. Which way a run goes
 * depends on what the guest freed in the seconds before it (a measure of
 * one fresh huge page at the first such block was tried and found
 * recycled pages even where most of the run's were fresh), so the policy
 * (sf_bigmem_policy) follows the machine: cli/main.c sets tables (zeroed
 * tables only: sf_bigmem_calloc) on a guest that reports its free pages
 * (io/hostmem), else it is all (every large block); the environment
 * variable SHARDFLOW_HUGE_PAGES (all, tables, none) overrides both.
 */
#ifndef SF_CORE_BIGMEM_H
#define SF_CORE_BIGMEM_H

#include <stddef.h>

/* sf_bigmem_advise() advises blocks this large or larger. */
#define SF_BIGMEM_HUGE ((size_t)4 << 20)

/* sf_bigmem_calloc() and sf_bigmem_alloc() take huge pages from this size
 * on: a block's first touch then faults 2 MiB at a time, not 4 KiB (a
 * fault, a memcg charge and an LRU insertion each). */
#define SF_BIGMEM_STREAM ((size_t)2 << 20)

/* The huge-page policy (see the top of this file). */
typedef enum sf_bigmem_policy_kind {
    SF_BIGMEM_ALL,    /* every block of SF_BIGMEM_STREAM bytes or more */
    SF_BIGMEM_TABLES, /* zeroed tables (sf_bigmem_calloc) only */
    SF_BIGMEM_NONE    /* no huge-page advice */
} sf_bigmem_policy_kind;

/* The policy named by text (all, tables, none); -1 for any other text.
 * NULL is all. */
int sf_bigmem_policy_parse(const char *text);

/* The policy's name, as sf_bigmem_policy_parse reads it. */
const char *sf_bigmem_policy_name(sf_bigmem_policy_kind policy);

/* The process's policy: set by sf_bigmem_set_policy, else read once from
 * SHARDFLOW_HUGE_PAGES (unset or an unknown value: all). Cannot fail. */
sf_bigmem_policy_kind sf_bigmem_policy(void);

/* Sets the process's policy (tests, or a caller that read its own
 * setting). */
void sf_bigmem_set_policy(sf_bigmem_policy_kind policy);

/* A zeroed block of n * size bytes (new: the caller frees it with free()):
 * from SF_BIGMEM_STREAM bytes on aligned to 2 MiB and advised for huge
 * pages (under every policy but none), its whole pages zeroed by the kernel at their first touch (so
 * only the pages used become resident). NULL when out of memory or when
 * n * size overflows. */
void *sf_bigmem_calloc(size_t n, size_t size);

/* An uninitialized block of n bytes for data written once in order as it
 * arrives (a received message, a broadcast piece; new: the caller frees it
 * with free()). From SF_BIGMEM_STREAM bytes on it starts on a 2 MiB boundary
 * and is advised for huge pages under policy all; only its whole 2 MiB pages can be huge, so no byte past n becomes
 * resident. NULL when out of memory. */
void *sf_bigmem_alloc(size_t n);

/* Advises the 2 MiB-aligned pages inside p[0, n) for huge pages when n is
 * at least SF_BIGMEM_HUGE (a block from malloc that is filled in order,
 * as an arena's: its pages then fault in 2 MiB at a time, not 4 KiB) under
 * policy all. Changes no byte and cannot fail
 * (refused advice is ignored). */
void sf_bigmem_advise(void *p, size_t n);

#endif

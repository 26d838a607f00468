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

/* A zeroed block of n * size bytes (new: the caller frees it with free()):
 * from SF_BIGMEM_STREAM bytes on aligned to 2 MiB and advised for huge
 * pages, its whole pages zeroed by the kernel at their first touch (so
 * only the pages used become resident). NULL when out of memory or when
 * n * size overflows. */
void *sf_bigmem_calloc(size_t n, size_t size);

/* An uninitialized block of n bytes for data written once in order as it
 * arrives (a received message, a broadcast piece; new: the caller frees it
 * with free()). From SF_BIGMEM_STREAM bytes on it starts on a 2 MiB boundary
 * and is advised for huge pages; only its whole 2 MiB pages can be huge,
 * so no byte past n becomes resident. NULL when out of memory. */
void *sf_bigmem_alloc(size_t n);

/* Advises the 2 MiB-aligned pages inside p[0, n) for huge pages when n is
 * at least SF_BIGMEM_HUGE (a block from malloc that is filled in order,
 * as an arena's: its pages then fault in 2 MiB at a time, not 4 KiB).
 * Changes no byte and cannot fail (refused advice is ignored). */
void sf_bigmem_advise(void *p, size_t n);

#endif

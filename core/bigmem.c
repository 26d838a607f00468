/* bigmem.c - zeroed blocks for large random-access tables (see bigmem.h).
 *
 * The advice is given before the block is first written, so the pages
 * fault in huge; the zeroing then writes them once. madvise names memory,
 * not files: core/ still does no file I/O.
 */
#include "core/bigmem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define HUGE_ALIGN ((size_t)2 << 20)

void *sf_bigmem_alloc(size_t n)
{
    if (n < SF_BIGMEM_STREAM)
        return malloc(n ? n : 1);
    void *p = NULL;
    if (posix_memalign(&p, HUGE_ALIGN, n) != 0)
        return NULL;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, n, MADV_HUGEPAGE); /* advice only: refused is fine */
#endif
    return p;
}

void *sf_bigmem_calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    size_t bytes = n * size;
    /* Zeroed whole, so every page becomes resident anyway: huge pages from
     * the first whole one on cost no memory. */
    if (bytes < SF_BIGMEM_STREAM)
        return calloc(n ? n : 1, size ? size : 1);
    void *p = sf_bigmem_alloc(bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}

void sf_bigmem_advise(void *p, size_t n)
{
    if (!p || n < SF_BIGMEM_HUGE)
        return;
    uintptr_t lo = ((uintptr_t)p + HUGE_ALIGN - 1) & ~(uintptr_t)(HUGE_ALIGN - 1);
    uintptr_t hi = ((uintptr_t)p + n) & ~(uintptr_t)(HUGE_ALIGN - 1);
#ifdef MADV_HUGEPAGE
    if (hi > lo)
        (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
    (void)lo;
    (void)hi;
#endif
}

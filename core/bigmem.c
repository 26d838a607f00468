/* bigmem.c - zeroed blocks for large random-access tables (see bigmem.h).
 *
 * The advice is given before the block is first written, so the pages
 * fault in huge; a zeroed block's whole pages are the kernel's zero-filled
 * ones (zero_block), not written by a memset. madvise names memory,
 * not files: core/ still does no file I/O.
 */
#include "core/bigmem.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define SF_BIGMEM_MEMCHECK 1
#endif
#endif

#define HUGE_ALIGN ((size_t)2 << 20)

/* The policy + 1 (0: not read yet). Atomic: a helper thread may
 * allocate too. */
static atomic_int policy_now;

/* The policies' names, by sf_bigmem_policy_kind. */
static const char *const policy_names[] = {"all", "tables", "none"};

int sf_bigmem_policy_parse(const char *text)
{
    if (!text)
        return SF_BIGMEM_ALL;
    for (int i = 0; i < 3; i++) {
        if (strcmp(text, policy_names[i]) == 0)
            return i;
    }
    return -1;
}

const char *sf_bigmem_policy_name(sf_bigmem_policy_kind policy)
{
    return policy_names[(unsigned)policy < 3 ? policy : SF_BIGMEM_ALL];
}

sf_bigmem_policy_kind sf_bigmem_policy(void)
{
    int p = atomic_load(&policy_now);
    if (!p) {
        int v = sf_bigmem_policy_parse(getenv("SHARDFLOW_HUGE_PAGES"));
        p = (v < 0 ? SF_BIGMEM_ALL : v) + 1;
        atomic_store(&policy_now, p);
    }
    return (sf_bigmem_policy_kind)(p - 1);
}

void sf_bigmem_set_policy(sf_bigmem_policy_kind policy)
{
    atomic_store(&policy_now, (int)policy + 1);
}

/* A block of n >= SF_BIGMEM_STREAM bytes on a 2 MiB boundary, advised for
 * huge pages when huge says so. */
static void *aligned_block(size_t n, int huge)
{
    void *p = NULL;
    if (posix_memalign(&p, HUGE_ALIGN, n) != 0)
        return NULL;
#ifdef MADV_HUGEPAGE
    if (huge)
        (void)madvise(p, n, MADV_HUGEPAGE); /* advice only: refused is fine */
#else
    (void)huge;
#endif
    return p;
}

void *sf_bigmem_alloc(size_t n)
{
    if (n < SF_BIGMEM_STREAM)
        return malloc(n ? n : 1);
    return aligned_block(n, sf_bigmem_policy() == SF_BIGMEM_ALL);
}

/* Zeroes a block from sf_bigmem_alloc without writing its whole pages:
 * they are given back to the kernel (MADV_DONTNEED; malloc's memory is
 * private and anonymous, so they read as zero and fault in zeroed, huge
 * where advised, at their first touch); only the partial pages at the
 * ends are written. A block past the mmap threshold is a fresh mapping,
 * zero already: the memset wrote every byte a second time (S3's plan:
 * 14.7 M of its 133 M instructions, the 100k users' key index). memcheck
 * is told the bytes are defined (it does not model the advice). */
static void zero_block(void *p, size_t n)
{
#if defined(__linux__) && defined(MADV_DONTNEED) /* elsewhere the advice need not zero */
    static size_t page;
    if (!page) {
        long ps = sysconf(_SC_PAGESIZE);
        page = ps > 0 ? (size_t)ps : 4096;
    }
    uintptr_t b = (uintptr_t)p, lo = (b + page - 1) & ~(uintptr_t)(page - 1);
    uintptr_t hi = (b + n) & ~(uintptr_t)(page - 1);
    if (hi > lo && madvise((void *)lo, hi - lo, MADV_DONTNEED) == 0) {
        memset(p, 0, lo - b);
        memset((void *)hi, 0, b + n - hi);
#ifdef SF_BIGMEM_MEMCHECK
        VALGRIND_MAKE_MEM_DEFINED(p, n);
#endif
        return;
    }
#endif
    memset(p, 0, n);
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
    void *p = aligned_block(bytes, sf_bigmem_policy() != SF_BIGMEM_NONE);
    if (p)
        zero_block(p, bytes);
    return p;
}

void sf_bigmem_advise(void *p, size_t n)
{
    if (!p || n < SF_BIGMEM_HUGE || sf_bigmem_policy() != SF_BIGMEM_ALL)
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

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
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define SF_BIGMEM_MEMCHECK 1
#endif
#endif

#define HUGE_ALIGN ((size_t)2 << 20)

/* The policy + 1 (0: not read yet), and for blocks filled in order 1 + 1
 * huge, 0 + 1 small (0: not measured yet). Atomic: a helper thread may
 * allocate too. */
static atomic_int policy_now;
static atomic_int inorder_now;
static double probe_huge_s, probe_small_s; /* written before inorder_now */

int sf_bigmem_policy_parse(const char *text)
{
    static const char *const names[] = {"auto", "all", "tables", "none"};
    if (!text)
        return SF_BIGMEM_AUTO;
    for (int i = 0; i < 4; i++) {
        if (strcmp(text, names[i]) == 0)
            return i;
    }
    return -1;
}

sf_bigmem_policy_kind sf_bigmem_policy(void)
{
    int p = atomic_load(&policy_now);
    if (!p) {
        int v = sf_bigmem_policy_parse(getenv("SHARDFLOW_HUGE_PAGES"));
        p = (v < 0 ? SF_BIGMEM_AUTO : v) + 1;
        atomic_store(&policy_now, p);
    }
    return (sf_bigmem_policy_kind)(p - 1);
}

void sf_bigmem_set_policy(sf_bigmem_policy_kind policy)
{
    atomic_store(&policy_now, (int)policy + 1);
    atomic_store(&inorder_now, 0);
    probe_huge_s = probe_small_s = 0;
}

int sf_bigmem_huge_pays(double huge_s, double small_s)
{
    return !(huge_s > 2 * small_s);
}

static double mono_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Seconds to write one byte a 4 KiB page over 2 MiB at p (fresh). */
static double first_touch_s(volatile char *p)
{
    double t = mono_s();
    for (size_t i = 0; i < HUGE_ALIGN; i += 4096)
        p[i] = 1;
    return mono_s() - t;
}

/* The measure of the top of bigmem.h: one fresh huge page against 2 MiB
 * of fresh 4 KiB pages, each in a mapping of its own. The huge page stays
 * mapped (2 MiB a process, once): given back at once it would be the next
 * process's "fresh" one (another rank measuring in the same second found
 * it at a twentieth of the cost). 4 KiB pages given back cost the next
 * taker about what fresh ones do. Where the kernel refuses the advice
 * (no THP) there is nothing to measure: the advice is given (a no-op
 * there). Where THP is set to never, the advice is taken but no huge page
 * comes: both touches fault 4 KiB pages and cost the same. */
static int measure_inorder_huge(void)
{
#if defined(MADV_HUGEPAGE) && defined(MADV_NOHUGEPAGE) && defined(MAP_ANONYMOUS)
    size_t span = 2 * HUGE_ALIGN;
    char *a = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (a == MAP_FAILED)
        return 1;
    char *h = (char *)(((uintptr_t)a + HUGE_ALIGN - 1) & ~(uintptr_t)(HUGE_ALIGN - 1));
    if (madvise(h, HUGE_ALIGN, MADV_HUGEPAGE) != 0) {
        munmap(a, span);
        return 1;
    }
    char *b = mmap(NULL, HUGE_ALIGN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (b == MAP_FAILED) {
        munmap(a, span);
        return 1;
    }
    (void)madvise(b, HUGE_ALIGN, MADV_NOHUGEPAGE);
    /* The unaligned ends of a's span are never touched: not resident. */
    probe_small_s = first_touch_s(b);
    probe_huge_s = first_touch_s(h);
    munmap(b, HUGE_ALIGN);
    return sf_bigmem_huge_pays(probe_huge_s, probe_small_s);
#else
    return 1;
#endif
}

/* Whether a block of n bytes filled in order takes the huge-page advice. */
static int inorder_huge(size_t n)
{
    switch (sf_bigmem_policy()) {
    case SF_BIGMEM_ALL:
        return 1;
    case SF_BIGMEM_TABLES:
    case SF_BIGMEM_NONE:
        return 0;
    case SF_BIGMEM_AUTO:
        break;
    }
    int d = atomic_load(&inorder_now);
    if (d)
        return d - 1;
    if (n < SF_BIGMEM_HUGE)
        return 1; /* too small to measure for: advised as before */
    d = measure_inorder_huge() + 1;
    atomic_store(&inorder_now, d);
    return d - 1;
}

int sf_bigmem_inorder_huge(double *huge_s, double *small_s)
{
    int d = atomic_load(&inorder_now);
    sf_bigmem_policy_kind p = sf_bigmem_policy();
    *huge_s = d ? probe_huge_s : 0;
    *small_s = d ? probe_small_s : 0;
    if (p == SF_BIGMEM_ALL)
        return 1;
    if (p != SF_BIGMEM_AUTO)
        return 0;
    return d ? d - 1 : -1;
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
    return aligned_block(n, inorder_huge(n));
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
    if (!p || n < SF_BIGMEM_HUGE || !inorder_huge(n))
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

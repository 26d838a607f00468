/* arena.c - bump allocator.
 *
 * Invariant: after sf_arena_reset() the arena holds at most one block, large
 * enough for everything allocated before the reset, so a steady per-row
 * workload reaches a fixed point with no further malloc.
 */
#include "core/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

struct sf_arena_block {
    sf_arena_block *next;
    size_t size; /* usable bytes after the header */
    /* data follows, 16-aligned */
};

#define SF_ARENA_HDR ((sizeof(sf_arena_block) + 15) & ~(size_t)15)

void sf_arena_init(sf_arena *a, size_t block_size)
{
    memset(a, 0, sizeof *a);
    a->block_size = block_size ? block_size : 64 * 1024;
}

void sf_mem_hint_huge(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = (uintptr_t)2 << 20;
    if (n < SF_MEM_HUGE_MIN)
        return;
    uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1);
    uintptr_t hi = ((uintptr_t)p + n) & ~(huge - 1);
    if (hi > lo)
        (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
    (void)p;
    (void)n;
#endif
}

static int arena_grow(sf_arena *a, size_t n)
{
    size_t size = a->block_size;
    while (size < n)
        size *= 2;
    sf_arena_block *b = malloc(SF_ARENA_HDR + size);
    if (!b)
        return -1;
    sf_mem_hint_huge(b, SF_ARENA_HDR + size);
    b->next = a->head;
    b->size = size;
    a->head = b;
    a->cur = (char *)b + SF_ARENA_HDR;
    a->end = a->cur + size;
    a->reserved += size;
    if (a->block_size < (size_t)64 << 20)
        a->block_size *= 2;
    return 0;
}

void *sf_arena_alloc(sf_arena *a, size_t n)
{
    size_t need = (n + 15) & ~(size_t)15;
    if (need < n)
        return NULL;
    if ((size_t)(a->end - a->cur) < need || !a->cur) {
        if (arena_grow(a, need) != 0)
            return NULL;
    }
    void *p = a->cur;
    a->cur += need;
    a->used += need;
    return p;
}

char *sf_arena_memdup(sf_arena *a, const void *p, size_t n)
{
    char *q = sf_arena_alloc(a, n + 1);
    if (!q)
        return NULL;
    if (n)
        memcpy(q, p, n);
    q[n] = '\0';
    return q;
}

void sf_arena_reset(sf_arena *a)
{
    if (!a->head)
        return;
    if (a->head->next) {
        /* Several blocks: replace them by one that fits them all. */
        size_t total = a->reserved;
        sf_arena_free(a);
        a->block_size = total;
        if (arena_grow(a, total) != 0)
            return; /* arena is empty but valid; the next alloc retries */
    } else {
        a->cur = (char *)a->head + SF_ARENA_HDR;
        a->end = a->cur + a->head->size;
    }
    a->used = 0;
}

size_t sf_arena_release_before(sf_arena *a, const void *p)
{
    const char *c = p;
    sf_arena_block *b = a->head;
    while (b && !(c >= (char *)b + SF_ARENA_HDR && c < (char *)b + SF_ARENA_HDR + b->size))
        b = b->next;
    if (!b)
        return 0;
    size_t released = 0;
    sf_arena_block *old = b->next;
    b->next = NULL;
    while (old) {
        sf_arena_block *next = old->next;
        released += old->size;
        free(old);
        old = next;
    }
    a->reserved -= released;
    a->used = a->used > released ? a->used - released : 0;
    return released;
}

void sf_arena_put_behind(sf_arena *a, sf_arena *older)
{
    if (older->head) {
        if (!a->head) {
            a->head = older->head;
            a->cur = older->cur;
            a->end = older->end;
        } else {
            sf_arena_block *t = a->head;
            while (t->next)
                t = t->next;
            t->next = older->head;
        }
        a->used += older->used;
        a->reserved += older->reserved;
    }
    sf_arena_init(older, older->block_size);
}

void sf_arena_free(sf_arena *a)
{
    sf_arena_block *b = a->head;
    while (b) {
        sf_arena_block *next = b->next;
        free(b);
        b = next;
    }
    size_t bs = a->block_size;
    memset(a, 0, sizeof *a);
    a->block_size = bs ? bs : 64 * 1024;
}

/* arena.h - bump allocator for per-row scratch and long-lived tables.
 *
 * Allocation is a pointer bump; memory is given back all at once with
 * sf_arena_reset() (keeps the memory for reuse, so a per-row reset costs no
 * malloc once the arena has grown to the largest row) or sf_arena_free().
 * Every pointer from an arena is valid until the next reset or free.
 */
#ifndef SF_ARENA_H
#define SF_ARENA_H

#include <stddef.h>

typedef struct sf_arena_block sf_arena_block;

typedef struct sf_arena {
    sf_arena_block *head; /* block being filled; older blocks follow */
    char *cur;
    char *end;
    size_t block_size; /* size of the next block to allocate */
    size_t used;       /* bytes handed out since the last reset */
    size_t reserved;   /* bytes held in blocks */
} sf_arena;

/* Initializes an empty arena; the first block is allocated on first use.
 * block_size 0 means 64 KiB. Cannot fail. */
void sf_arena_init(sf_arena *a, size_t block_size);

/* Returns n bytes aligned to 16, or NULL when out of memory. */
void *sf_arena_alloc(sf_arena *a, size_t n);

/* Copies n bytes into the arena. Returns the copy, or NULL when out of memory.
 * The copy is followed by a NUL byte (not counted in n). */
char *sf_arena_memdup(sf_arena *a, const void *p, size_t n);

/* Forgets every allocation but keeps (coalesced) memory for reuse. */
void sf_arena_reset(sf_arena *a);

/* Gives back every block older than the one holding p (the blocks are
 * filled one after another, so those hold only what was allocated before
 * p): for a reader that walks allocations in order and will not look back.
 * Nothing happens when no block holds p. Returns the bytes given back.
 * The arena stays usable; its counters then count what it still holds. */
size_t sf_arena_release_before(sf_arena *a, const void *p);

/* Moves every block of older behind a's blocks, as if they had been
 * allocated from a before a's own: a's allocations stay where they are
 * and a goes on filling its newest block. older is left empty (as after
 * sf_arena_init with its block size). Cannot fail. */
void sf_arena_put_behind(sf_arena *a, sf_arena *older);

/* Asks the kernel to back the whole 2 MiB pages inside [p, p + n) with
 * huge pages (Linux transparent huge pages, where enabled in "madvise"
 * mode): a table of hundreds of MB read at random (the group table, its
 * index) then costs one TLB entry per 2 MiB instead of one per 4 KiB,
 * and one page fault. Only regions of SF_MEM_HUGE_MIN bytes or more; a
 * hint, no result depends on it, so it cannot fail. */
#define SF_MEM_HUGE_MIN ((size_t)8 << 20)
void sf_mem_hint_huge(void *p, size_t n);

/* Gives all memory back; the arena may be used again after sf_arena_init. */
void sf_arena_free(sf_arena *a);

#endif

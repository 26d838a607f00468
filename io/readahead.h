/* readahead.h - a thread that keeps the kernel reading ahead of a reader.
 *
 * The kernel's own read-ahead keeps at most twice the disk's read_ahead_kb
 * (16 MiB on this project's machine, with POSIX_FADV_SEQUENTIAL) ahead of a
 * sequential reader, and asks for more only when the reader reaches its
 * mark, inside the reader's own read(): the page allocation and the
 * submission happen on the parsing thread, and when the disk lags for a
 * moment the parser waits. This helper asks readahead(2) for the depth
 * bytes after the reader's position, step bytes at a time, on a thread of
 * its own; the reader only posts where it is (a mutex and a signal per
 * read). It follows one file at a time, through its own duplicate of the
 * reader's descriptor, and starts over where the reader jumps (another
 * range). Memory: none of its own; the pages it asks for are the page
 * cache's, read a little earlier than the reader's reads would have.
 * Uses POSIX threads; the thread blocks every signal.
 */
#ifndef SF_READAHEAD_H
#define SF_READAHEAD_H

#include <stdint.h>

typedef struct sf_readahead sf_readahead;

/* Starts the thread; NULL when it cannot (no memory, no thread): callers
 * then read without it, as the kernel alone reads ahead. */
sf_readahead *sf_readahead_start(uint64_t depth, uint64_t step);

/* The reader opened fd (a file the helper does not follow yet) and reads
 * it from byte pos: the helper follows it from now on, through a
 * duplicate. ra may be NULL. */
void sf_readahead_file(sf_readahead *ra, int fd, uint64_t pos);

/* The reader has read up to byte pos of the file followed. ra may be
 * NULL. */
void sf_readahead_post(sf_readahead *ra, uint64_t pos);

/* Stops and joins the thread and closes its descriptors; NULL is a
 * no-op. */
void sf_readahead_stop(sf_readahead *ra);

#endif

/* spill.h - partitioned run files on node-local disk: state that does not
 * fit a rank's memory budget, written out and read back one partition at
 * a time.
 *
 * A rank's spill lives in its own directory DIR/shardflow-<run id>-r<rank>/
 * (DIR is --spill-dir: node-local, $TMPDIR or /tmp by default). It holds
 * an "owner" file (host, pid and the pid's start time) and one file per
 * partition that has data, part-NNNNN.run. Records are appended to a
 * partition through a bounded write buffer (block_bytes per partition,
 * allocated on first use) and written as blocks:
 *
 *   "SFSP" | payload length (u32 LE) | checksum of the payload (u64 LE) |
 *   payload = records, each a u32 LE length and its bytes
 *
 * A block holds whole records (one record larger than a block is a block
 * of its own). Reading checks every block's checksum and length, so a torn
 * or corrupted file is an error naming the file and the offset, never a
 * wrong answer. The order of records within a partition is the order they
 * were put.
 *
 * sf_spill_close() removes the directory (success, failure and SIGINT all
 * end there); sf_spill_clean_stale() removes the directories that killed
 * runs left on this host (their owner process is gone), as the next run's
 * start does. Not collective: one handle per rank, used by one thread.
 */
#ifndef SF_SPILL_H
#define SF_SPILL_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct sf_spill sf_spill;
typedef struct sf_spill_reader sf_spill_reader;

/* Bytes of a block header. */
#define SF_SPILL_BLOCK_HEADER 16

/* The spill directory to use: dir when given (not NULL or ""), else
 * $TMPDIR when set and not empty, else "/tmp". Borrowed (from dir or the
 * environment). Cannot fail. */
const char *sf_spill_default_dir(const char *dir);

/* Creates DIR/shardflow-<runid>-r<rank>/ with its owner file, for nparts
 * partitions with block_bytes write buffers each. Returns 0 with *out set
 * (new: sf_spill_close), or SF_E_IO (err names the directory) or
 * SF_E_NOMEM. */
int sf_spill_open(sf_spill **out, const char *dir, const char *runid, int rank, uint32_t nparts,
                  size_t block_bytes, sf_error *err);

/* Appends one record of len bytes to partition part (< nparts). Writes a
 * block when the partition's buffer is full. Returns 0, SF_E_IO (err names
 * the file; a full disk says "spill directory DIR is full"), SF_E_LIMIT
 * for a record over 1 GiB, or SF_E_NOMEM. */
int sf_spill_put(sf_spill *s, uint32_t part, const void *rec, size_t len, sf_error *err);

/* Raises the number of partitions to nparts (no-op when it is not more):
 * the new ones start empty, with the handle's block size. For runs whose
 * count is only known as they are written (a spill pass split again adds
 * passes). Returns 0 or SF_E_NOMEM (s unchanged). */
int sf_spill_grow(sf_spill *s, uint32_t nparts, sf_error *err);

/* Writes partition part's buffered records and frees its write buffer:
 * for runs written one after another, so that only the run being written
 * holds a buffer. Records may still be put (a new buffer is made).
 * Returns 0 or SF_E_IO. */
int sf_spill_seal(sf_spill *s, uint32_t part, sf_error *err);

/* Writes every partition's buffered records. Returns 0 or SF_E_IO. */
int sf_spill_flush(sf_spill *s, sf_error *err);

/* Bytes put into partition part (framing included, headers not), buffered
 * ones too; and over all partitions. Cannot fail. */
uint64_t sf_spill_part_bytes(const sf_spill *s, uint32_t part);
uint64_t sf_spill_total_bytes(const sf_spill *s);

/* Bytes written to disk so far (block headers included). Cannot fail. */
uint64_t sf_spill_disk_bytes(const sf_spill *s);

/* Number of partitions; the directory (borrowed, valid until close).
 * Cannot fail. */
uint32_t sf_spill_nparts(const sf_spill *s);
const char *sf_spill_path(const sf_spill *s);

/* Opens partition part for reading after writing its buffered records.
 * Returns 0 with *out set (new: sf_spill_read_close), SF_E_IO or
 * SF_E_NOMEM. A partition with no records reads as empty. */
int sf_spill_read_open(sf_spill *s, uint32_t part, sf_spill_reader **out, sf_error *err);

/* The next record: returns 1 with *rec (borrowed until the next call or
 * close) and *len, 0 at the end, or SF_E_IO for a short read or a block
 * whose checksum or framing is wrong (err names file and offset). */
int sf_spill_read_next(sf_spill_reader *r, const unsigned char **rec, size_t *len,
                       sf_error *err);

/* Closes a reader; NULL is a no-op. */
void sf_spill_read_close(sf_spill_reader *r);

/* Removes partition part's file and forgets its records (after it has
 * been read). Returns 0 or SF_E_IO. */
int sf_spill_drop(sf_spill *s, uint32_t part, sf_error *err);

/* Removes the directory and everything in it and frees s; NULL is a no-op.
 * Cannot fail (what cannot be removed is left for the next run's
 * sf_spill_clean_stale). */
void sf_spill_close(sf_spill *s);

/* Removes DIR/shardflow-*-r* directories whose owner file names this host
 * and a process that is gone. Writes "removed N spill directories of
 * killed runs under DIR" to note (cap bytes; "" when none). Returns the
 * number removed (>= 0); cannot fail (a directory it cannot read or
 * remove is left). */
int sf_spill_clean_stale(const char *dir, char *note, size_t cap);

#endif

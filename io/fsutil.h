/* fsutil.h - small file-system helpers for output commit and input planning.
 * Every error message names the path and the system error text. */
#ifndef SF_FSUTIL_H
#define SF_FSUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

/* mkdir -p with mode 0777 (umask applies). Returns 0 or SF_E_IO. */
int sf_mkdirs(const char *path, sf_error *err);

/* rm -rf; a missing path is success. Does not follow symlinks. Returns 0 or
 * SF_E_IO. */
int sf_rmtree(const char *path, sf_error *err);

/* 1 if path exists (any type, not following a final symlink), else 0. */
int sf_path_exists(const char *path);

/* The path to write for output out: out itself (trailing slashes dropped),
 * or, when out is a symbolic link, the real path of what it points to, so
 * that the claim, the staging and the commit act on the directory the link
 * names and a run given the link and one given the target share one claim.
 * A link to nothing is an error. Returns a new string (free it) or NULL
 * with err set. */
char *sf_output_target(const char *out, sf_error *err);

/* 1 if path is a directory, else 0. */
int sf_is_dir(const char *path);

/* Size of a regular file. Returns 0, SF_E_NOTFOUND (missing), SF_E_INVAL (a
 * directory or other non-regular file) or SF_E_IO (e.g. unreadable). */
int sf_file_size(const char *path, uint64_t *size, sf_error *err);

/* Reads a whole file into a new buffer (caller frees; NUL-terminated, the NUL
 * not counted in *len). Returns 0, SF_E_NOTFOUND, SF_E_IO or SF_E_NOMEM. */
int sf_read_file(const char *path, char **data, size_t *len, sf_error *err);

/* Writes data to path atomically: a temporary file in the same directory,
 * fsync, rename, fsync of the directory. An empty file that does not exist
 * yet is made under its own name instead (nothing partial to hide), with
 * the same two fsyncs. Returns 0 or SF_E_IO (the temporary file, or the
 * empty file made, is removed). */
int sf_write_file_atomic(const char *path, const void *data, size_t len, sf_error *err);

/* sf_write_file_atomic without the fsync of the directory: for a staged
 * file that a commit moves into a directory it then syncs (the staging's
 * _METRICS.json), so its staging directory, removed right after, is not
 * synced for nothing. Returns 0 or SF_E_IO. */
int sf_write_file_staged(const char *path, const void *data, size_t len, sf_error *err);

/* rename(2) with an error naming both paths. Returns 0 or SF_E_IO. */
int sf_rename(const char *from, const char *to, sf_error *err);

/* fsync of a directory, so renames in it are durable. Returns 0 or SF_E_IO. */
int sf_fsync_dir(const char *path, sf_error *err);

/* Starts writing fd's dirty pages to the device without waiting for them
 * (Linux sync_file_range SYNC_FILE_RANGE_WRITE; elsewhere nothing). Not a
 * durability step: an fsync must follow (sf_fsync_file). An error here is
 * left for that fsync to report. */
void sf_writeback_start(int fd);

/* fsync of a closed regular file by its path: durable once this returns 0.
 * For a set of files, sf_fsync_files. Returns 0 or SF_E_IO naming the
 * path. */
int sf_fsync_file(const char *path, sf_error *err);

/* sf_fsync_file of each of the n paths, the fsyncs issued together from
 * up to SF_FSYNC_THREADS threads (the calling one among them) so that
 * they wait together: a file system that gives each fsync its own
 * journal commit or device cache flush when they come one after another
 * (ext4 on this project's VM: 3-7 ms each) serves fsyncs that wait at
 * the same time with one. All are durable once this returns 0. The files
 * are opened SF_FSYNC_BATCH at a time (a bound on open descriptors). The
 * threads block every signal; if none can be started, the calling thread
 * syncs them alone. Returns 0, or SF_E_IO naming the first path (in
 * order) that could not be opened or synced (the batches from its on are
 * not synced), or SF_E_NOMEM. */
#define SF_FSYNC_THREADS 8
#define SF_FSYNC_BATCH 256
int sf_fsync_files(const char *const *paths, size_t n, sf_error *err);

#endif

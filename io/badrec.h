/* badrec.h - the bad-records sink: OUT/_bad_records/part-NNNNN.jsonl.
 *
 * Line numbers are only known once every chunk before a line has been
 * counted, so a rank first spills its bad lines (binary, with chunk-relative
 * line numbers) and converts the spill to JSONL after the scan, when the
 * per-chunk line counts of all ranks give each chunk's first line number.
 * Each record: {"file", "offset", "line", "reason", "message", "text"}, the
 * text cut to 4 KiB ("text_truncated": true) with invalid UTF-8 bytes
 * replaced by U+FFFD ("text_lossy": true), so every record is valid JSON.
 */
#ifndef SF_BADREC_H
#define SF_BADREC_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"

#define SF_BADREC_TEXT_MAX 4096

typedef struct sf_badrec_spill sf_badrec_spill;

/* Creates the spill file path. Returns 0 or SF_E_IO / SF_E_NOMEM. */
int sf_badrec_open(sf_badrec_spill **out, const char *path, sf_error *err);

/* Spills one bad line: its chunk, its 1-based number within the chunk,
 * file index, byte offset, reason text, message and the line's text (len
 * bytes; only the first SF_BADREC_TEXT_MAX are kept). Returns 0 or SF_E_IO
 * (the error is remembered and reported again by sf_badrec_finish). */
int sf_badrec_add(sf_badrec_spill *s, uint64_t chunk, uint64_t line_in_chunk, int32_t file,
                  uint64_t offset, const char *reason, const char *msg, const char *text,
                  size_t len);

/* Converts the spill to JSONL at out_path (created), numbering lines with
 * first_line[chunk] + line_in_chunk - 1 and adding offset_base[chunk] to
 * offsets (chunk-relative offsets of compressed inputs; NULL adds
 * nothing), naming files by files[i]; removes the spill and frees s.
 * *count gets the records written. Returns 0 or SF_E_IO / SF_E_NOMEM /
 * SF_E_PARSE (a corrupt spill). */
int sf_badrec_finish(sf_badrec_spill *s, const char *out_path, const char *const *files,
                     const uint64_t *first_line, const uint64_t *offset_base, uint64_t *count,
                     sf_error *err);

/* Removes the spill (after a failed run) and frees s; NULL is a no-op. */
void sf_badrec_discard(sf_badrec_spill *s);

/* Appends text as a JSON string: at most max bytes (cut at a character
 * boundary; *cut set), invalid UTF-8 replaced by U+FFFD (*lossy set). */
int sf_badrec_json_text(sf_buf *out, const char *text, size_t len, size_t max, int *lossy,
                        int *cut);

/* Counts the '\n' bytes of path before offset (so the line starting at
 * offset is number *lines + 1). Returns 0 or SF_E_IO. */
int sf_count_lines_before(const char *path, uint64_t offset, uint64_t *lines, sf_error *err);

#endif

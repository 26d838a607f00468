/* rejmsg.h - the text of a rejected line's message, both directions.
 *
 * The decoders say where in a line they stopped as "REASON at column N:
 * WHAT" (N the 1-based byte of the line); this module writes that form and
 * reads it back, so that a report can put the place first the way
 * compilers and editors read it: "FILE:LINE:COLUMN: REASON: WHAT (byte
 * offset OFFSET)". Every message written here is valid UTF-8.
 */
#ifndef SF_REJMSG_H
#define SF_REJMSG_H

#include <stddef.h>
#include <stdint.h>

/* Writes "reason at column column: what" to msg (at most cap bytes, cut at a
 * character boundary). Cannot fail. */
void sf_rejmsg_at(char *msg, size_t cap, const char *reason, size_t column, const char *what);

/* The column of a message written by sf_rejmsg_at (0 if msg names none);
 * *reason_len gets the length of its reason and *what its text after ": "
 * (msg itself when there is no column). */
size_t sf_rejmsg_column(const char *msg, size_t *reason_len, const char **what);

/* The report of a bad line: "path:line:column: reason: what (byte offset
 * offset)" for a message with a column, else "path:line: msg (byte offset
 * offset)"; line 0 (unknown) gives "path:?". note, when not NULL, is
 * appended inside the parentheses after "; ". Writes at most cap bytes.
 * Cannot fail. */
void sf_rejmsg_place(char *out, size_t cap, const char *path, uint64_t line, uint64_t offset,
                     const char *msg, const char *note);

/* The error of a run that read lines and rejected every one that was not
 * blank (so it would have committed an empty result): "all READ lines
 * read were rejected (REJECTED; most as 'TOP': COUNT); first: PATH:
 * byte OFFSET: MSG". codec, when not NULL, is the compression the file's
 * magic bytes show ("gzip"), which is then named as the likely cause.
 * sample_path NULL leaves out the sample. Writes at most cap bytes. Cannot
 * fail. */
void sf_rejmsg_all_rejected(char *out, size_t cap, uint64_t read, uint64_t rejected,
                            const char *top, uint64_t top_count, const char *sample_path,
                            uint64_t sample_offset, const char *sample_msg, const char *codec);

#endif

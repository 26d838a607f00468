/* csv.h - RFC 4180 CSV: a buffered writer and an in-memory reader.
 *
 * Writer: fields are separated by ',' and rows end in '\n'; a field is quoted
 * when it is empty or contains ',', '"', '\r' or '\n' (quotes doubled
 * inside). Values print as: NULL -> empty field (the only empty field),
 * bool -> true/false, int64 -> decimal, double -> sf_fmt_double, date ->
 * YYYY-MM-DD, string -> its bytes, the empty string as "" - so NULL and ""
 * stay apart, as RFC 4180 allows and loaders (DuckDB, Spark) read them.
 * Reader: parses a whole buffer (e.g. a broadcast dimension table), accepts
 * '\n' or "\r\n" row ends and quoted fields with embedded newlines.
 */
#ifndef SF_CSV_H
#define SF_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/fmt.h"
#include "core/value.h"

typedef struct sf_csv_writer sf_csv_writer;

/* How the bytes of a CSV file are stored: plain, one gzip member (zlib) or
 * one zstd frame (libzstd), streamed into the file through bounded buffers.
 * Several such files concatenated are still one valid .gz / .zst stream. */
typedef enum sf_csv_codec { SF_CSV_PLAIN = 0, SF_CSV_GZIP, SF_CSV_ZSTD } sf_csv_codec;

typedef struct sf_csv_options {
    sf_csv_codec codec;
    int level; /* gzip 1..9 (default 6), zstd 1..22 (default 3) */
    /* 0: sf_csv_writer_close fsyncs the file. 1: it only starts the
     * file's writeback (sf_writeback_start) and the caller fsyncs it later
     * (sf_fsync_file), with the other files it wrote, before the file
     * counts as written. */
    int sync_later;
} sf_csv_options;

/* Parses a --compression value for CSV: "none", "gzip", "gzip:N" (1..9),
 * "zstd" or "zstd:N" (1..22); NULL is "none". Returns 0 or SF_E_INVAL with
 * err naming the option and the accepted values. */
int sf_csv_parse_compression(const char *text, sf_csv_options *opt, sf_error *err);

/* The file name extension for opt (NULL: plain), without the dot: "csv",
 * "csv.gz" or "csv.zst". */
const char *sf_csv_ext(const sf_csv_options *opt);

/* Creates (truncates) path. Returns 0 and *out, or SF_E_IO / SF_E_NOMEM
 * with err naming the file. */
int sf_csv_writer_open(sf_csv_writer **out, const char *path, sf_error *err);

/* As sf_csv_writer_open, compressing as opt says (NULL: plain). Returns 0,
 * SF_E_IO, SF_E_NOMEM or SF_E_INTERNAL (the codec could not start). */
int sf_csv_writer_open_opt(sf_csv_writer **out, const char *path, const sf_csv_options *opt,
                           sf_error *err);

/* Appends one field to the current row. They cannot fail: write errors are
 * remembered and reported by sf_csv_writer_close(). */
void sf_csv_write_field(sf_csv_writer *w, const char *p, size_t n);
void sf_csv_write_value(sf_csv_writer *w, const sf_value *v);

/* Appends the fields row[cols[0..n)] (row[0..n) when cols is NULL) as
 * sf_csv_write_value would, one by one, and ends the row; the same bytes
 * with one call per row and no copy through a field buffer. Cannot fail
 * (as above). */
void sf_csv_write_row(sf_csv_writer *w, const sf_value *row, size_t n, const int *cols);

/* Bytes sf_csv_format_row may write for the row (its columns as
 * sf_csv_write_row takes them; inline: the reduce asks for every row). */
static inline size_t sf_csv_row_room(const sf_value *row, size_t n, const int *cols)
{
    size_t room = n + 1; /* separators and the newline */
    for (size_t c = 0; c < n; c++) {
        const sf_value *v = &row[cols ? (size_t)cols[c] : c];
        room += v->type == SF_NULL ? 0 : v->type == SF_STRING ? 2 * v->u.s.n + 2 : SF_FMT_BUF;
    }
    return room;
}

/* Writes the bytes sf_csv_write_row would write for a row at out (room:
 * sf_csv_row_room), its newline included, and returns their length: a
 * row formatted once, in whatever order suits the caller, and written
 * later with sf_csv_write_text. Cannot fail. */
size_t sf_csv_format_row(const sf_value *row, size_t n, const int *cols, char *out);

/* Appends n bytes as they are: whole rows already in their CSV form
 * (sf_csv_format_row), at the start of a row. Cannot fail (as above). */
void sf_csv_write_text(sf_csv_writer *w, const char *p, size_t n);

/* Appends n rows as sf_csv_write_text does, row k being text[at[j],
 * at[j + 1]) with j = ids[order[k]] (ids NULL: j = order[k]): rows
 * written in an order other than the one they were made in, so their
 * offsets and texts are fetched ahead. Cannot fail (as above). */
void sf_csv_write_texts(sf_csv_writer *w, const char *text, const uint64_t *at,
                        const uint32_t *ids, const uint32_t *order, size_t n);

/* Bytes sf_csv_format_value may write for v. */
static inline size_t sf_csv_field_room(const sf_value *v)
{
    return v->type == SF_STRING ? 2 * v->u.s.n + 2 : SF_FMT_BUF;
}

/* Writes the field v becomes in a row (as sf_csv_write_value writes it,
 * quoted where needed; nothing for NULL) at out, which has room for
 * sf_csv_field_room(v) bytes, and returns its length. For callers that
 * keep fields as text before they know their row (flatten's row spool).
 * Cannot fail. */
size_t sf_csv_format_value(const sf_value *v, char *out);

/* Appends one row of n fields, all empty (NULL) but the fields c whose
 * bit (c % 64) of bits[c / 64] is set, which hold text[c] of len[c] bytes
 * already in their field form (sf_csv_format_value), copied as they are;
 * bytes is the sum of those lengths. Ends the row. For wide rows that are
 * mostly NULL, such as flattened records: a row costs its fields and a
 * comma per column. Cannot fail (as above). */
void sf_csv_write_sparse(sf_csv_writer *w, size_t n, const uint64_t *bits,
                         const char *const *text, const uint32_t *len, size_t bytes);

/* 1 if a field with these bytes must be quoted (empty, ',', '"', CR or LF). */
int sf_csv_needs_quotes(const char *p, size_t n);

/* Ends the current row. */
void sf_csv_end_row(sf_csv_writer *w);

/* Flushes (ends the gzip member / zstd frame), fsyncs (or with sync_later
 * starts the writeback, the fsync left to the caller) and closes; frees w.
 * Returns 0 and (if bytes is not NULL) the file size on disk, or SF_E_IO with err naming the file and the system error
 * (e.g. "No space left on device") - also for a write that failed earlier.
 * NULL w is a no-op returning 0. */
int sf_csv_writer_close(sf_csv_writer *w, uint64_t *bytes, sf_error *err);

typedef struct sf_csv_reader sf_csv_reader;

typedef struct sf_csv_field {
    const char *p; /* unescaped bytes, borrowed until the next call */
    size_t n;
    int quoted;    /* 1 if the field was quoted ("" vs empty) */
} sf_csv_field;

/* Reader over data[0..len) (borrowed; must outlive the reader). name is used
 * in error messages. Returns NULL when out of memory. */
sf_csv_reader *sf_csv_reader_new(const char *data, size_t len, const char *name);

/* Next record. Returns 1 with *fields and *nfields (borrowed until the next
 * call), 0 at the end, or SF_E_PARSE with err giving name, line and byte
 * offset (e.g. an unterminated quote). */
int sf_csv_reader_next(sf_csv_reader *r, const sf_csv_field **fields, size_t *nfields,
                       sf_error *err);

/* One line of a CSV fact input (line: len bytes without its newline,
 * borrowed) as one record, reusing r's buffers (r then reads that line;
 * its own data is forgotten). Returns 1 with *fields and *nfields
 * (borrowed until the next call on r), SF_E_PARSE with what is wrong and
 * the 1-based byte column in msg (cap bytes; a quote left open at the end
 * of the line says a newline inside a quoted field is not supported), or
 * SF_E_NOMEM. */
int sf_csv_reader_one_line(sf_csv_reader *r, const char *line, size_t len,
                           const sf_csv_field **fields, size_t *nfields, char *msg, size_t cap);

/* 1-based line number where the record last returned starts. */
int64_t sf_csv_reader_line(const sf_csv_reader *r);

/* Frees r; NULL is a no-op. */
void sf_csv_reader_free(sf_csv_reader *r);

#endif

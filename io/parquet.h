/* parquet.h - the Parquet file writer (apache/parquet-format).
 *
 * One flat table per file: every column is OPTIONAL (NULLs are definition
 * level 0; an empty string is a present value of length 0), written as data
 * pages v1 with RLE/bit-packed definition levels. Types: bool -> BOOLEAN,
 * int64 -> INT64, double -> DOUBLE, string -> BYTE_ARRAY (STRING / UTF8),
 * date -> INT32 (DATE). Values are dictionary-encoded (a PLAIN dictionary
 * page, RLE_DICTIONARY data pages) until a column chunk's dictionary passes
 * dict_limit_bytes; the rest of that chunk is PLAIN (booleans are always
 * PLAIN). A column whose first 1024 dictionary-encoded values hold more
 * than 512 distinct ones (ids, timestamps) is PLAIN from the next value on,
 * in that chunk and every later chunk of the file; the choice depends only
 * on the rows given to this writer, in their order. Each column chunk carries statistics (min_value, max_value,
 * null_count; nan_count for doubles) under TypeDefinedOrder, doubles
 * following the spec's rules: NaN never in min/max, no min/max when every
 * value is NaN, a zero min written as -0.0 and a zero max as +0.0.
 *
 * Memory: one row group is buffered, per column (fixed-width values in
 * arrays, strings in one byte buffer, dictionary indices as uint32), and
 * written when it reaches row_group_rows, or row_group_bytes of either its
 * estimated uncompressed size or the memory it holds (dictionaries
 * included, which matters for wide tables of many small dictionaries);
 * appends do no allocation per row except when a buffer grows. The file is written with write(2) as row groups complete; the
 * footer (FileMetaData) is written by sf_parquet_writer_close().
 */
#ifndef SF_PARQUET_H
#define SF_PARQUET_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "core/value.h"

typedef struct sf_parquet_writer sf_parquet_writer;

typedef enum sf_parquet_codec { SF_PQ_NONE, SF_PQ_SNAPPY, SF_PQ_GZIP, SF_PQ_ZSTD } sf_parquet_codec;

typedef struct sf_parquet_options {
    sf_parquet_codec codec;
    int level;                 /* 0 = the codec's default (gzip 6, zstd 3) */
    uint64_t row_group_rows;   /* default 1,048,576 */
    uint64_t row_group_bytes;  /* default 128 MiB (uncompressed, estimated; also caps the
                                  memory a buffered row group holds) */
    uint64_t dict_limit_bytes; /* per column chunk; past it fall back to PLAIN; default 1 MiB */
    const char *const *kv_keys, *const *kv_values; /* key-value metadata (borrowed until open returns) */
    size_t nkv;
    /* Per column: precision and scale of SF_DECIMAL columns (borrowed until
     * open returns); a decimal column needs it. Written as Parquet DECIMAL:
     * INT64 for P <= 18, else a 16-byte FIXED_LEN_BYTE_ARRAY (big-endian
     * two's complement); min/max statistics for both. */
    const sf_dec_type *decs;
    /* 0: sf_parquet_writer_close fsyncs the file. 1: it only starts the
     * file's writeback (io/fsutil sf_writeback_start) and the caller makes
     * it durable, with the other files it wrote (sf_fsync_files). */
    int sync_later;
} sf_parquet_options;

/* Defaults: snappy, codec level default, 1,048,576 rows or 128 MiB per row
 * group, 1 MiB dictionaries, no key-value metadata. Cannot fail. */
void sf_parquet_options_init(sf_parquet_options *o);

/* Parses a --compression value into o->codec and o->level: "none",
 * "snappy", "gzip", "gzip:N" (1..9), "zstd", "zstd:N" (1..22). Returns 0,
 * or SF_E_INVAL with err quoting text; o is unchanged on failure. */
int sf_parquet_parse_codec(const char *text, sf_parquet_options *o, sf_error *err);

/* Parses a --row-group-size value: a bare number is rows, a size with a
 * unit (64MiB, 128M, 1G, 500KB) is bytes, and "ROWS,SIZE" (either order)
 * sets both; what is not given keeps its value in o. Returns 0, or
 * SF_E_INVAL with err quoting text (o unchanged). */
int sf_parquet_parse_row_group_size(const char *text, sf_parquet_options *o, sf_error *err);

/* Name of a codec as parse accepts it: "none", "snappy", "gzip", "zstd". */
const char *sf_parquet_codec_name(sf_parquet_codec c);

/* Creates (truncates) path and writes the magic. names and types (ncols of
 * each, ncols >= 1) are copied; a type of SF_NULL (a column of unknown type
 * that only holds NULLs) is written as an all-NULL string column. Options
 * may be NULL for the defaults; key-value strings are copied. Returns 0 and
 * *out (new: sf_parquet_writer_close or _discard frees it), or SF_E_INVAL
 * (bad options, no columns), SF_E_IO or SF_E_NOMEM, err naming path. */
int sf_parquet_writer_open(sf_parquet_writer **out, const char *path, size_t ncols,
                           const char *const *names, const sf_type *types,
                           const sf_parquet_options *opt, sf_error *err);

/* Appends one row: row[ncols], each SF_NULL or the column's type (an
 * SF_INT in a double column is converted; anything else is SF_E_TYPE).
 * Strings are copied. May write a row group (SF_E_IO, SF_E_NOMEM,
 * SF_E_LIMIT for a value over Parquet's 2 GiB page limit). After a failure
 * the writer only accepts _discard (or _close, which reports the error). */
int sf_parquet_writer_append(sf_parquet_writer *w, const sf_value *row, sf_error *err);

/* The same for a row whose column i is row[cols[i]] (a result row with
 * more slots than the file has columns, as run's output rows are). */
int sf_parquet_writer_append_cols(sf_parquet_writer *w, const sf_value *row, const int *cols,
                                  sf_error *err);

/* Writes the last row group and the footer, fsyncs and closes the file,
 * and frees w (also on failure). *rows and *bytes (either may be NULL) get
 * the rows written and the file size. Returns 0, or the first error of the
 * writer (SF_E_IO, SF_E_NOMEM, ...) with err naming path. */
int sf_parquet_writer_close(sf_parquet_writer *w, uint64_t *rows, uint64_t *bytes, sf_error *err);

/* Abort path: closes the fd and frees w; the partial file stays where it
 * is (the caller's staging removes it). NULL is a no-op. */
void sf_parquet_writer_discard(sf_parquet_writer *w);

/* Row groups written so far (all of them after close would have run).
 * Cannot fail. */
uint64_t sf_parquet_writer_row_groups(const sf_parquet_writer *w);

#endif

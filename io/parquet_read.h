/* parquet_read.h - reads Parquet files back as rows of sf_value.
 *
 * Reads what io/parquet.h writes and the same shape from other writers: a
 * flat schema of REQUIRED or OPTIONAL columns of BOOLEAN, INT32 (DATE or
 * plain, read as int64), INT64, DOUBLE, FLOAT (read as double) and
 * BYTE_ARRAY (read as string); data pages v1 and v2 with PLAIN,
 * PLAIN_DICTIONARY or RLE_DICTIONARY values; codecs none, snappy, gzip and
 * zstd. Anything else (nested columns, other encodings or codecs) is
 * refused with SF_E_PARSE naming the column. Every offset, length and count
 * in the file is checked before use, so a malformed file gives an error,
 * never a crash (tests/fuzz/fuzz_parquet.c).
 *
 * Memory: the footer, and per column the current column chunk (compressed
 * bytes), its dictionary and one decompressed page. Rows come in batches
 * that never cross a page boundary of any column, so a batch's strings
 * point into pages that stay until the next call.
 */
#ifndef SF_PARQUET_READ_H
#define SF_PARQUET_READ_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/value.h"
#include "io/parquet.h"

typedef struct sf_parquet_reader sf_parquet_reader;

/* Opens path and parses its footer (schema, row groups, statistics).
 * Returns 0 and *out (new: free with sf_parquet_reader_close), or
 * SF_E_NOTFOUND (no such file), SF_E_IO, SF_E_PARSE (not a Parquet file,
 * malformed metadata or an unsupported schema, with the reason) or
 * SF_E_NOMEM; err names path. */
int sf_parquet_reader_open(sf_parquet_reader **out, const char *path, sf_error *err);

/* The table's shape; names are borrowed until close. They cannot fail
 * (col must be < ncols). */
size_t sf_parquet_reader_ncols(const sf_parquet_reader *r);
const char *sf_parquet_reader_name(const sf_parquet_reader *r, size_t col);
sf_type sf_parquet_reader_type(const sf_parquet_reader *r, size_t col);
/* Precision and scale of a SF_DECIMAL column ({0, 0} for other types). */
sf_dec_type sf_parquet_reader_dec(const sf_parquet_reader *r, size_t col);
uint64_t sf_parquet_reader_nrows(const sf_parquet_reader *r);

/* The footer's created_by, or NULL; borrowed until close. */
const char *sf_parquet_reader_created_by(const sf_parquet_reader *r);

/* The value of key-value metadata key (NUL-terminated copy, borrowed until
 * close), or NULL when the file has none. */
const char *sf_parquet_reader_kv(const sf_parquet_reader *r, const char *key);

/* Row groups, and what the footer says of one column chunk (for inspect). */
size_t sf_parquet_reader_row_groups(const sf_parquet_reader *r);

typedef struct sf_parquet_chunk_info {
    uint64_t rows;             /* of the row group */
    uint64_t num_values;       /* of the chunk, NULLs included */
    uint64_t compressed;       /* bytes, page headers included */
    uint64_t uncompressed;
    const char *codec;         /* "UNCOMPRESSED", "SNAPPY", "GZIP", "ZSTD", ... */
    int dictionary;            /* 1 if the chunk has a dictionary page */
    uint32_t encodings;        /* bit e set for each thrift Encoding e listed (PLAIN 0,
                                  RLE 3, RLE_DICTIONARY 8) */
    int has_null_count;
    uint64_t null_count;
    int has_nan_count;
    uint64_t nan_count;
    int has_minmax;            /* min_value and max_value present */
    sf_value min, max;         /* in the column's type; strings borrowed until close */
} sf_parquet_chunk_info;

/* Fills *info for chunk (rg, col); rg < row_groups, col < ncols. Cannot
 * fail. */
void sf_parquet_reader_chunk(const sf_parquet_reader *r, size_t rg, size_t col,
                             sf_parquet_chunk_info *info);

/* Reads the next at most max rows (max 0 means 1), fewer at a page
 * boundary. Returns 0 with *rows (*n rows of ncols values each, borrowed
 * until the next call or close) and *n, which is 0 only at the end of the
 * file; or SF_E_IO / SF_E_PARSE / SF_E_NOMEM with err naming path, row
 * group and column. After an error the reader returns the same error. */
int sf_parquet_reader_next(sf_parquet_reader *r, size_t max, const sf_value **rows, size_t *n,
                           sf_error *err);

/* Closes the file and frees r; NULL is a no-op. */
void sf_parquet_reader_close(sf_parquet_reader *r);

/* ---- concatenation: one file from the row groups of several pieces -----
 *
 * Pieces are files the writer made with the same columns (names and
 * types); their pages are copied, not decoded, and the new footer moves
 * every offset. The pieces' key-value metadata is dropped; opt (may be
 * NULL) gives the output's. Errors name the piece or the output file. */

/* The bytes of piece that hold its row groups: [*off, *off + *len) (from
 * after the magic to the footer). Returns 0, or the errors of
 * sf_parquet_reader_open(). */
int sf_parquet_piece_range(const char *path, uint64_t *off, uint64_t *len, sf_error *err);

/* The footer (FileMetaData, its length and "PAR1") of a file made of
 * "PAR1" and then, for each piece i, its range placed at output offset
 * at[i] (the first at 4), appended to *footer; *rows (may be NULL) gets
 * the rows. For pieces copied in parallel (each rank writes its pieces at
 * their offsets, one rank appends the footer). Returns 0, SF_E_INVAL (a
 * piece of other columns), the reader's errors, or SF_E_NOMEM. */
int sf_parquet_concat_footer(size_t ncols, const char *const *names, const sf_type *types,
                             const char *const *pieces, size_t n, const uint64_t *at,
                             const sf_parquet_options *opt, sf_buf *footer, uint64_t *rows,
                             sf_error *err);

/* The whole job on one process: creates out, copies every piece's range in
 * order, appends the footer, fsyncs. *rows and *bytes (may be NULL) get the
 * rows and the file size. Zero pieces make a valid file with no rows. The
 * pieces are left in place. Returns 0, SF_E_IO, or the errors above. */
int sf_parquet_concat(const char *out, size_t ncols, const char *const *names,
                      const sf_type *types, const char *const *pieces, size_t n,
                      const sf_parquet_options *opt, uint64_t *rows, uint64_t *bytes,
                      sf_error *err);

#endif

/* parquet_format.h - what io/parquet.c (the writer) and io/parquet_read.c
 * (the reader) share: the enum values of parquet.thrift, page compression
 * with the four codecs, and the RLE/bit-packing hybrid encoding of
 * definition levels and dictionary indices (apache/parquet-format,
 * Encodings.md). Internal to the Parquet module; commands use parquet.h
 * and parquet_read.h.
 */
#ifndef SF_PARQUET_FORMAT_H
#define SF_PARQUET_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/value.h"
#include "io/thrift_compact.h"

/* parquet.thrift enums (only the values shardflow writes or reads). */
enum { PQ_BOOLEAN = 0, PQ_INT32 = 1, PQ_INT64 = 2, PQ_INT96 = 3, PQ_FLOAT = 4,
       PQ_DOUBLE = 5, PQ_BYTE_ARRAY = 6, PQ_FIXED_LEN_BYTE_ARRAY = 7 };
enum { PQ_CT_UTF8 = 0, PQ_CT_DECIMAL = 5, PQ_CT_DATE = 6, PQ_CT_TIMESTAMP_MILLIS = 9,
       PQ_CT_TIMESTAMP_MICROS = 10 };
enum { PQ_REQUIRED = 0, PQ_OPTIONAL = 1, PQ_REPEATED = 2 };
enum { PQ_ENC_PLAIN = 0, PQ_ENC_PLAIN_DICTIONARY = 2, PQ_ENC_RLE = 3,
       PQ_ENC_BIT_PACKED = 4, PQ_ENC_RLE_DICTIONARY = 8 };
enum { PQ_CODEC_UNCOMPRESSED = 0, PQ_CODEC_SNAPPY = 1, PQ_CODEC_GZIP = 2,
       PQ_CODEC_ZSTD = 6 };
enum { PQ_PAGE_DATA = 0, PQ_PAGE_INDEX = 1, PQ_PAGE_DICTIONARY = 2, PQ_PAGE_DATA_V2 = 3 };
/* LogicalType union members. */
enum { PQ_LT_STRING = 1, PQ_LT_DECIMAL = 5, PQ_LT_DATE = 6, PQ_LT_TIMESTAMP = 8 };
/* TimeUnit union members (TimestampType.unit). */
enum { PQ_TU_MILLIS = 1, PQ_TU_MICROS = 2, PQ_TU_NANOS = 3 };
/* decimal(P,S): INT64 for P <= 18, else FIXED_LEN_BYTE_ARRAY of this many
 * bytes (big-endian two's complement), as the Parquet spec allows. */
#define PQ_DECIMAL_INT64_MAX_PREC 18
#define PQ_DECIMAL_FLBA_LEN 16

/* Name of a thrift CompressionCodec value ("UNCOMPRESSED", "SNAPPY", ...;
 * "codec N" text is not produced: unknown values give "UNKNOWN"). */
const char *sf_pq_codec_name(int codec);

/* Compresses src[0..n) with thrift codec `codec` (level 0 = the codec's
 * default) into out (replacing its content). Returns 0, SF_E_NOMEM, or
 * SF_E_INTERNAL with err when the library fails. */
int sf_pq_compress(int codec, int level, const void *src, size_t n, sf_buf *out, sf_error *err);

/* Decompresses src[0..n) into exactly `expect` bytes at dst. Returns 0, or
 * SF_E_PARSE when the input is not valid for the codec or does not give
 * exactly expect bytes, or SF_E_INVAL for a codec shardflow does not read. */
int sf_pq_decompress(int codec, const void *src, size_t n, void *dst, size_t expect,
                     sf_error *err);

/* Bits needed for values up to max (0 for 0). */
int sf_pq_bit_width(uint64_t max);

/* Appends values v[0..n) (each < 2^width, width 0..32) to out in the
 * RLE/bit-packing hybrid, without the length prefix. Returns 0 or
 * SF_E_NOMEM. */
int sf_pq_hybrid_encode(const uint32_t *v, size_t n, int width, sf_buf *out);
int sf_pq_hybrid_encode_u8(const uint8_t *v, size_t n, int width, sf_buf *out);

/* Decodes exactly n values of `width` bits from p[0..len) into out. Returns
 * 0, or SF_E_PARSE (with a static reason in *why) when the runs end early,
 * a run is malformed or a value does not fit the width. Bytes after the
 * n-th value are ignored (bit-packed runs are padded to groups of 8). */
int sf_pq_hybrid_decode(const unsigned char *p, size_t len, int width, size_t n, uint32_t *out,
                        const char **why);

/* ---- footer serialization (the writer and sf_parquet_concat) ---------- */

/* What the footer says of one column chunk. */
typedef struct sf_pq_chunk_meta {
    const char *name;        /* path_in_schema, one element */
    int phys, codec;
    uint32_t encodings;      /* bit e set for each Encoding e */
    int64_t num_values, unc, comp; /* unc/comp: bytes with page headers */
    int64_t data_off, dict_off;    /* dict_off 0: no dictionary page */
    int has_null_count;
    int64_t null_count;
    int has_nan_count;
    int64_t nan_count;
    int has_min, has_max, min_exact, max_exact;
    const void *min, *max;   /* PLAIN bytes (strings without the length) */
    size_t nmin, nmax;
} sf_pq_chunk_meta;

/* Appends a ColumnChunk struct (file_offset 0, meta_data with statistics). */
void sf_pq_put_column_chunk(sf_tc_writer *t, const sf_pq_chunk_meta *m);

/* Appends a RowGroup struct whose columns list holds the ncols ColumnChunk
 * structs already serialized in chunks[0..nchunks). */
void sf_pq_put_row_group(sf_tc_writer *t, const void *chunks, size_t nchunks, size_t ncols,
                         int64_t total_unc, int64_t num_rows, int64_t file_offset,
                         int64_t total_comp, int64_t ordinal);

/* The physical type shardflow writes for a column type (SF_NULL as string). */
int sf_pq_phys_of(sf_type t);

/* Appends FileMetaData (schema of OPTIONAL leaves typed as the writer types
 * them, num_rows, the nrg RowGroup structs serialized in rgs[0..rgs_len),
 * key-value metadata, created_by, TypeDefinedOrder for every column), then
 * its 4-byte length and "PAR1". A SF_DECIMAL column takes its precision
 * and scale from decs[i] (DECIMAL converted and logical type; INT64 or
 * FIXED_LEN_BYTE_ARRAY, see PQ_DECIMAL_*). Returns 0 or SF_E_NOMEM. */
int sf_pq_put_footer(sf_buf *out, size_t ncols, const char *const *names, const sf_type *types,
                     const sf_dec_type *decs, uint64_t num_rows, uint64_t nrg, const void *rgs, size_t rgs_len,
                     const char *const *kv_keys, const char *const *kv_values, size_t nkv);

/* Little-endian stores and loads. */
static inline void sf_pq_put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static inline void sf_pq_put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static inline uint32_t sf_pq_get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t sf_pq_get64(const unsigned char *p)
{
    return (uint64_t)sf_pq_get32(p) | (uint64_t)sf_pq_get32(p + 4) << 32;
}

#endif

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

/* parquet.thrift enums (only the values shardflow writes or reads). */
enum { PQ_BOOLEAN = 0, PQ_INT32 = 1, PQ_INT64 = 2, PQ_INT96 = 3, PQ_FLOAT = 4,
       PQ_DOUBLE = 5, PQ_BYTE_ARRAY = 6, PQ_FIXED_LEN_BYTE_ARRAY = 7 };
enum { PQ_CT_UTF8 = 0, PQ_CT_DATE = 6 };
enum { PQ_REQUIRED = 0, PQ_OPTIONAL = 1, PQ_REPEATED = 2 };
enum { PQ_ENC_PLAIN = 0, PQ_ENC_PLAIN_DICTIONARY = 2, PQ_ENC_RLE = 3,
       PQ_ENC_BIT_PACKED = 4, PQ_ENC_RLE_DICTIONARY = 8 };
enum { PQ_CODEC_UNCOMPRESSED = 0, PQ_CODEC_SNAPPY = 1, PQ_CODEC_GZIP = 2,
       PQ_CODEC_ZSTD = 6 };
enum { PQ_PAGE_DATA = 0, PQ_PAGE_INDEX = 1, PQ_PAGE_DICTIONARY = 2, PQ_PAGE_DATA_V2 = 3 };
/* LogicalType union members. */
enum { PQ_LT_STRING = 1, PQ_LT_DATE = 6 };

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

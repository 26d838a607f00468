/* parquet_format.c - codecs and the RLE/bit-packing hybrid shared by the
 * Parquet writer and reader (see parquet_format.h).
 *
 * Codecs as Parquet's Compression.md defines them: SNAPPY is the raw snappy
 * block format (no framing), GZIP is a gzip member (RFC 1952), ZSTD is a
 * zstd frame. Every page is compressed on its own.
 */
#include "io/parquet_format.h"

#include <snappy-c.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#ifndef SF_VERSION
#define SF_VERSION "unknown"
#endif

const char *sf_pq_codec_name(int codec)
{
    switch (codec) {
    case PQ_CODEC_UNCOMPRESSED: return "UNCOMPRESSED";
    case PQ_CODEC_SNAPPY: return "SNAPPY";
    case PQ_CODEC_GZIP: return "GZIP";
    case 3: return "LZO";
    case 4: return "BROTLI";
    case 5: return "LZ4";
    case PQ_CODEC_ZSTD: return "ZSTD";
    case 7: return "LZ4_RAW";
    default: return "UNKNOWN";
    }
}

static int gzip_compress(int level, const void *src, size_t n, sf_buf *out, sf_error *err)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    /* windowBits 15 + 16 asks zlib for the gzip wrapper. */
    if (deflateInit2(&z, level ? level : Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return sf_error_set(err, SF_E_NOMEM, "gzip: deflateInit2 failed");
    size_t cap = deflateBound(&z, (uLong)n) + 32;
    if (sf_buf_reserve(out, cap) != 0) {
        deflateEnd(&z);
        return sf_error_set(err, SF_E_NOMEM, "out of memory compressing a page");
    }
    z.next_in = (Bytef *)(uintptr_t)src;
    z.avail_in = (uInt)n;
    z.next_out = out->p;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    size_t got = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END)
        return sf_error_set(err, SF_E_INTERNAL, "gzip: deflate failed (%d)", rc);
    out->n = got;
    return 0;
}

int sf_pq_compress(int codec, int level, const void *src, size_t n, sf_buf *out, sf_error *err)
{
    out->n = 0;
    if (n > (size_t)INT32_MAX)
        return sf_error_set(err, SF_E_LIMIT, "a page of %zu bytes is over Parquet's 2 GiB", n);
    switch (codec) {
    case PQ_CODEC_UNCOMPRESSED:
        if (sf_buf_append(out, src, n) != 0)
            return sf_error_set(err, SF_E_NOMEM, "out of memory compressing a page");
        return 0;
    case PQ_CODEC_SNAPPY: {
        size_t cap = snappy_max_compressed_length(n);
        if (sf_buf_reserve(out, cap) != 0)
            return sf_error_set(err, SF_E_NOMEM, "out of memory compressing a page");
        size_t got = cap;
        if (snappy_compress(src, n, (char *)out->p, &got) != SNAPPY_OK)
            return sf_error_set(err, SF_E_INTERNAL, "snappy: compression failed");
        out->n = got;
        return 0;
    }
    case PQ_CODEC_GZIP:
        return gzip_compress(level, src, n, out, err);
    case PQ_CODEC_ZSTD: {
        size_t cap = ZSTD_compressBound(n);
        if (sf_buf_reserve(out, cap) != 0)
            return sf_error_set(err, SF_E_NOMEM, "out of memory compressing a page");
        size_t got = ZSTD_compress(out->p, cap, src, n, level ? level : ZSTD_CLEVEL_DEFAULT);
        if (ZSTD_isError(got))
            return sf_error_set(err, SF_E_INTERNAL, "zstd: %s", ZSTD_getErrorName(got));
        out->n = got;
        return 0;
    }
    default:
        return sf_error_set(err, SF_E_INVAL, "codec %d is not written by shardflow", codec);
    }
}

int sf_pq_decompress(int codec, const void *src, size_t n, void *dst, size_t expect,
                     sf_error *err)
{
    switch (codec) {
    case PQ_CODEC_UNCOMPRESSED:
        if (n != expect)
            return sf_error_set(err, SF_E_PARSE,
                                "uncompressed page of %zu bytes, header says %zu", n, expect);
        if (n)
            memcpy(dst, src, n);
        return 0;
    case PQ_CODEC_SNAPPY: {
        size_t len = 0;
        if (snappy_uncompressed_length(src, n, &len) != SNAPPY_OK || len != expect)
            return sf_error_set(err, SF_E_PARSE, "snappy page: bad length header");
        size_t got = expect;
        if (snappy_uncompress(src, n, dst, &got) != SNAPPY_OK || got != expect)
            return sf_error_set(err, SF_E_PARSE, "snappy page: corrupt data");
        return 0;
    }
    case PQ_CODEC_GZIP: {
        z_stream z;
        memset(&z, 0, sizeof z);
        if (inflateInit2(&z, 15 + 32) != Z_OK) /* +32: gzip or zlib header */
            return sf_error_set(err, SF_E_NOMEM, "gzip: inflateInit2 failed");
        z.next_in = (Bytef *)(uintptr_t)src;
        z.avail_in = (uInt)n;
        z.next_out = dst;
        z.avail_out = (uInt)expect;
        int rc = inflate(&z, Z_FINISH);
        size_t got = z.total_out;
        inflateEnd(&z);
        if (rc != Z_STREAM_END || got != expect)
            return sf_error_set(err, SF_E_PARSE, "gzip page: corrupt data or wrong size");
        return 0;
    }
    case PQ_CODEC_ZSTD: {
        size_t got = ZSTD_decompress(dst, expect, src, n);
        if (ZSTD_isError(got) || got != expect)
            return sf_error_set(err, SF_E_PARSE, "zstd page: %s",
                                ZSTD_isError(got) ? ZSTD_getErrorName(got) : "wrong size");
        return 0;
    }
    default:
        return sf_error_set(err, SF_E_INVAL, "codec %s is not supported",
                            sf_pq_codec_name(codec));
    }
}

int sf_pq_bit_width(uint64_t max)
{
    int w = 0;
    while (max) {
        w++;
        max >>= 1;
    }
    return w;
}

/* ---- RLE / bit-packing hybrid ---------------------------------------- */

static inline uint32_t hy_get(const void *v, int u8, size_t i)
{
    return u8 ? ((const uint8_t *)v)[i] : ((const uint32_t *)v)[i];
}

static int hy_varint(sf_buf *out, uint64_t v)
{
    unsigned char b[10];
    size_t n = 0;
    while (v >= 0x80) {
        b[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    b[n++] = (unsigned char)v;
    return sf_buf_append(out, b, n);
}

/* Up to 63 groups of 8 bit-packed values wait here, so their run header is
 * one byte. */
typedef struct hy_pending {
    unsigned char bytes[63 * 32];
    size_t nbytes;
    int groups;
} hy_pending;

static int hy_flush(hy_pending *pb, sf_buf *out)
{
    if (!pb->groups)
        return 0;
    if (hy_varint(out, ((uint64_t)pb->groups << 1) | 1) != 0 ||
        sf_buf_append(out, pb->bytes, pb->nbytes) != 0)
        return SF_E_NOMEM;
    pb->groups = 0;
    pb->nbytes = 0;
    return 0;
}

static int hy_encode(const void *v, int u8, size_t n, int width, sf_buf *out)
{
    hy_pending pb;
    pb.nbytes = 0;
    pb.groups = 0;
    size_t vbytes = (size_t)(width + 7) / 8;
    size_t i = 0;
    while (i < n) {
        uint32_t first = hy_get(v, u8, i);
        size_t j = i + 1;
        while (j < n && hy_get(v, u8, j) == first)
            j++;
        if (j - i >= 8) {
            if (hy_flush(&pb, out) != 0)
                return SF_E_NOMEM;
            while (i < j) {
                size_t run = j - i;
                if (run > (size_t)INT32_MAX)
                    run = (size_t)INT32_MAX;
                unsigned char val[4];
                sf_pq_put32(val, first);
                if (hy_varint(out, (uint64_t)run << 1) != 0 ||
                    sf_buf_append(out, val, vbytes) != 0)
                    return SF_E_NOMEM;
                i += run;
            }
            continue;
        }
        uint64_t acc = 0;
        int bits = 0;
        for (size_t k = i; k < i + 8; k++) {
            acc |= (uint64_t)(k < n ? hy_get(v, u8, k) : 0) << bits;
            bits += width;
            while (bits >= 8) {
                pb.bytes[pb.nbytes++] = (unsigned char)acc;
                acc >>= 8;
                bits -= 8;
            }
        }
        i += 8;
        if (++pb.groups == 63 && hy_flush(&pb, out) != 0)
            return SF_E_NOMEM;
    }
    return hy_flush(&pb, out);
}

int sf_pq_hybrid_encode(const uint32_t *v, size_t n, int width, sf_buf *out)
{
    return hy_encode(v, 0, n, width, out);
}

int sf_pq_hybrid_encode_u8(const uint8_t *v, size_t n, int width, sf_buf *out)
{
    return hy_encode(v, 1, n, width, out);
}

int sf_pq_hybrid_decode(const unsigned char *p, size_t len, int width, size_t n, uint32_t *out,
                        const char **why)
{
    const unsigned char *end = p + len;
    size_t vbytes = (size_t)(width + 7) / 8;
    uint32_t mask = width >= 32 ? 0xffffffffu : ((1u << width) - 1);
    if (width < 0 || width > 32) {
        *why = "bit width over 32";
        return SF_E_PARSE;
    }
    size_t i = 0;
    while (i < n) {
        uint64_t h = 0;
        int shift = 0;
        for (;;) {
            if (p >= end) {
                *why = "runs end before the values do";
                return SF_E_PARSE;
            }
            unsigned c = *p++;
            h |= (uint64_t)(c & 0x7f) << shift;
            if (!(c & 0x80))
                break;
            shift += 7;
            if (shift > 28) {
                *why = "run header too long";
                return SF_E_PARSE;
            }
        }
        uint64_t count = h >> 1;
        if (count == 0) {
            *why = "empty run";
            return SF_E_PARSE;
        }
        if (h & 1) {
            count *= 8;
            size_t take = count < n - i ? (size_t)count : n - i;
            uint64_t need = ((uint64_t)take * (uint64_t)width + 7) / 8;
            uint64_t full = count / 8 * (uint64_t)width;
            if (need > (uint64_t)(end - p)) {
                *why = "bit-packed run longer than the data";
                return SF_E_PARSE;
            }
            uint64_t acc = 0;
            int bits = 0;
            const unsigned char *q = p;
            for (size_t k = 0; k < take; k++) {
                while (bits < width) {
                    acc |= (uint64_t)*q++ << bits;
                    bits += 8;
                }
                out[i + k] = (uint32_t)acc & mask;
                acc >>= width;
                bits -= width;
            }
            /* Skip the whole run when it is all there (a last run may be
             * cut after its last needed byte). */
            p += full <= (uint64_t)(end - p) ? full : need;
            i += take;
        } else {
            if (vbytes > (size_t)(end - p)) {
                *why = "RLE run value missing";
                return SF_E_PARSE;
            }
            uint32_t val = 0;
            for (size_t k = 0; k < vbytes; k++)
                val |= (uint32_t)p[k] << (8 * k);
            p += vbytes;
            if (val & ~mask) {
                *why = "RLE run value wider than the bit width";
                return SF_E_PARSE;
            }
            size_t take = count < n - i ? (size_t)count : n - i;
            for (size_t k = 0; k < take; k++)
                out[i + k] = val;
            i += take;
        }
    }
    return 0;
}

/* ---- footer serialization ----------------------------------------------- */

void sf_pq_put_column_chunk(sf_tc_writer *t, const sf_pq_chunk_meta *m)
{
    sf_tc_struct_begin(t);
    sf_tc_field_i64(t, 2, 0);
    sf_tc_field_struct(t, 3);
    sf_tc_field_i32(t, 1, m->phys);
    size_t nenc = 0;
    for (int e = 0; e < 32; e++)
        nenc += (m->encodings >> e) & 1;
    sf_tc_field_list(t, 2, SF_TC_I32, nenc);
    for (int e = 0; e < 32; e++)
        if ((m->encodings >> e) & 1)
            sf_tc_i32(t, e);
    sf_tc_field_list(t, 3, SF_TC_BINARY, 1);
    sf_tc_binary(t, m->name, strlen(m->name));
    sf_tc_field_i32(t, 4, m->codec);
    sf_tc_field_i64(t, 5, m->num_values);
    sf_tc_field_i64(t, 6, m->unc);
    sf_tc_field_i64(t, 7, m->comp);
    sf_tc_field_i64(t, 9, m->data_off);
    if (m->dict_off)
        sf_tc_field_i64(t, 11, m->dict_off);
    sf_tc_field_struct(t, 12);
    if (m->has_null_count)
        sf_tc_field_i64(t, 3, m->null_count);
    if (m->has_max)
        sf_tc_field_binary(t, 5, m->max, m->nmax);
    if (m->has_min)
        sf_tc_field_binary(t, 6, m->min, m->nmin);
    if (m->has_max && m->max_exact)
        sf_tc_field_bool(t, 7, 1);
    if (m->has_min && m->min_exact)
        sf_tc_field_bool(t, 8, 1);
    if (m->has_nan_count)
        sf_tc_field_i64(t, 9, m->nan_count);
    sf_tc_struct_end(t); /* Statistics */
    sf_tc_struct_end(t); /* ColumnMetaData */
    sf_tc_struct_end(t); /* ColumnChunk */
}

void sf_pq_put_row_group(sf_tc_writer *t, const void *chunks, size_t nchunks, size_t ncols,
                         int64_t total_unc, int64_t num_rows, int64_t file_offset,
                         int64_t total_comp, int64_t ordinal)
{
    sf_tc_struct_begin(t);
    sf_tc_field_list(t, 1, SF_TC_STRUCT, ncols);
    sf_tc_raw(t, chunks, nchunks);
    sf_tc_field_i64(t, 2, total_unc);
    sf_tc_field_i64(t, 3, num_rows);
    sf_tc_field_i64(t, 5, file_offset);
    sf_tc_field_i64(t, 6, total_comp);
    if (ordinal <= INT16_MAX) {
        sf_tc_field(t, 7, SF_TC_I16);
        sf_tc_i32(t, (int32_t)ordinal);
    }
    sf_tc_struct_end(t);
}

int sf_pq_phys_of(sf_type t)
{
    switch (t) {
    case SF_BOOL: return PQ_BOOLEAN;
    case SF_INT: return PQ_INT64;
    case SF_TIMESTAMP: return PQ_INT64;
    case SF_DOUBLE: return PQ_DOUBLE;
    case SF_DATE: return PQ_INT32;
    default: return PQ_BYTE_ARRAY;
    }
}

int sf_pq_put_footer(sf_buf *out, size_t ncols, const char *const *names, const sf_type *types,
                     const sf_dec_type *decs, uint64_t num_rows, uint64_t nrg, const void *rgs, size_t rgs_len,
                     const char *const *kv_keys, const char *const *kv_values, size_t nkv)
{
    size_t start = out->n;
    sf_tc_writer t;
    sf_tc_writer_init(&t, out);
    sf_tc_struct_begin(&t);
    sf_tc_field_i32(&t, 1, 1);
    sf_tc_field_list(&t, 2, SF_TC_STRUCT, ncols + 1);
    sf_tc_struct_begin(&t);
    sf_tc_field_string(&t, 4, "schema");
    sf_tc_field_i32(&t, 5, (int32_t)ncols);
    sf_tc_struct_end(&t);
    for (size_t i = 0; i < ncols; i++) {
        sf_type ty = types[i] == SF_NULL ? SF_STRING : types[i];
        sf_tc_struct_begin(&t);
        if (ty == SF_DECIMAL) {
            sf_dec_type d = decs ? decs[i] : (sf_dec_type){38, 0};
            int flba = d.prec > PQ_DECIMAL_INT64_MAX_PREC;
            sf_tc_field_i32(&t, 1, flba ? PQ_FIXED_LEN_BYTE_ARRAY : PQ_INT64);
            if (flba)
                sf_tc_field_i32(&t, 2, PQ_DECIMAL_FLBA_LEN);
            sf_tc_field_i32(&t, 3, PQ_OPTIONAL);
            sf_tc_field_string(&t, 4, names[i]);
            sf_tc_field_i32(&t, 6, PQ_CT_DECIMAL);
            sf_tc_field_i32(&t, 7, d.scale);
            sf_tc_field_i32(&t, 8, d.prec);
            sf_tc_field_struct(&t, 10);            /* LogicalType */
            sf_tc_field_struct(&t, PQ_LT_DECIMAL); /* DecimalType */
            sf_tc_field_i32(&t, 1, d.scale);
            sf_tc_field_i32(&t, 2, d.prec);
            sf_tc_struct_end(&t);
            sf_tc_struct_end(&t);
            sf_tc_struct_end(&t);
            continue;
        }
        sf_tc_field_i32(&t, 1, sf_pq_phys_of(ty));
        sf_tc_field_i32(&t, 3, PQ_OPTIONAL);
        sf_tc_field_string(&t, 4, names[i]);
        if (ty == SF_STRING || ty == SF_DATE) {
            sf_tc_field_i32(&t, 6, ty == SF_STRING ? PQ_CT_UTF8 : PQ_CT_DATE);
            sf_tc_field_struct(&t, 10); /* LogicalType */
            sf_tc_field_struct(&t, ty == SF_STRING ? PQ_LT_STRING : PQ_LT_DATE);
            sf_tc_struct_end(&t);
            sf_tc_struct_end(&t);
        }
        if (ty == SF_TIMESTAMP) {
            /* TIMESTAMP(isAdjustedToUTC=true, MICROS), and the converted
             * type older readers know it by. */
            sf_tc_field_i32(&t, 6, PQ_CT_TIMESTAMP_MICROS);
            sf_tc_field_struct(&t, 10);              /* LogicalType */
            sf_tc_field_struct(&t, PQ_LT_TIMESTAMP); /* TimestampType */
            sf_tc_field_bool(&t, 1, 1);              /* isAdjustedToUTC */
            sf_tc_field_struct(&t, 2);               /* unit: TimeUnit */
            sf_tc_field_struct(&t, PQ_TU_MICROS);    /* MicroSeconds {} */
            sf_tc_struct_end(&t);
            sf_tc_struct_end(&t);
            sf_tc_struct_end(&t);
            sf_tc_struct_end(&t);
        }
        sf_tc_struct_end(&t);
    }
    sf_tc_field_i64(&t, 3, (int64_t)num_rows);
    sf_tc_field_list(&t, 4, SF_TC_STRUCT, (size_t)nrg);
    sf_tc_raw(&t, rgs, rgs_len);
    if (nkv) {
        sf_tc_field_list(&t, 5, SF_TC_STRUCT, nkv);
        for (size_t i = 0; i < nkv; i++) {
            sf_tc_struct_begin(&t);
            sf_tc_field_string(&t, 1, kv_keys[i] ? kv_keys[i] : "");
            if (kv_values[i])
                sf_tc_field_string(&t, 2, kv_values[i]);
            sf_tc_struct_end(&t);
        }
    }
    sf_tc_field_string(&t, 6, "shardflow version " SF_VERSION);
    sf_tc_field_list(&t, 7, SF_TC_STRUCT, ncols);
    for (size_t i = 0; i < ncols; i++) {
        sf_tc_struct_begin(&t);    /* ColumnOrder */
        sf_tc_field_struct(&t, 1); /* TYPE_ORDER: TypeDefinedOrder {} */
        sf_tc_struct_end(&t);
        sf_tc_struct_end(&t);
    }
    sf_tc_struct_end(&t);
    size_t len = out->n - start;
    if (t.err || len > UINT32_MAX)
        return SF_E_NOMEM;
    unsigned char tail[8];
    sf_pq_put32(tail, (uint32_t)len);
    memcpy(tail + 4, "PAR1", 4);
    return sf_buf_append(out, tail, 8);
}

/* decompress.h - compressed inputs: told by their magic bytes, read as
 * streams of lines in bounded memory, and split where the format allows.
 *
 * Codecs: gzip (zlib; one member or several concatenated, BGZF included)
 * and zstd (libzstd; one frame or several, skippable frames skipped). bzip2
 * and xz are recognised (so a message can name them) but not decoded.
 *
 * Splitting. A compressed file is a sequence of units that decode on their
 * own: BGZF blocks (gzip members whose header holds the "BC" extra field
 * giving the block size, as bgzip writes them) and zstd frames (found by
 * walking the frame and block headers, no decompression). sf_decompress_split
 * groups units into ranges of about a target compressed size. A file that
 * is not made of such units (a plain gzip file, one zstd frame) is one range.
 * A range only starts after a unit that decodes to at least one byte: a
 * BGZF block with a non-zero ISIZE, a zstd frame with a non-zero content
 * size or, without one, with a block that holds data.
 *
 * Ownership is io/range_reader.h's rule in uncompressed bytes: the range of
 * units [start, end) decodes to the bytes [U_s, U_e) of the whole stream
 * and owns the lines whose first byte lies there; the last one is read past
 * U_e, into the following units, to its '\n'. Whether the line at U_s starts
 * there depends on byte U_s - 1, the last byte of the unit before start, so
 * a range other than the first decodes that unit too (range.prev) and only
 * looks at its last byte. The ranges of a file together yield every line
 * once. U_s itself is not known to a range (units do not say their decoded
 * size): offsets come relative to it, and the ubytes of the ranges before a
 * range (sf_zreader_ubytes, e.g. summed across ranks) give it.
 *
 * Memory per reader: the compressed read buffer (128 KiB), the line buffer
 * (buf_size, grown only for a longer line, up to max_line) and the codec's
 * state (zlib 32 KiB window; zstd up to its window, 8 MiB at the default
 * levels, larger for --long files). Nothing is allocated per line.
 */
#ifndef SF_DECOMPRESS_H
#define SF_DECOMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef enum sf_codec {
    SF_CODEC_NONE = 0, /* not compressed (or not a format known here) */
    SF_CODEC_GZIP,
    SF_CODEC_ZSTD,
    SF_CODEC_BZIP2, /* recognised only */
    SF_CODEC_XZ     /* recognised only */
} sf_codec;

/* Bytes of a file's start that sf_codec_detect needs to tell every codec. */
#define SF_CODEC_MAGIC_LEN 6

/* The codec whose magic bytes head starts with (n bytes; fewer than
 * SF_CODEC_MAGIC_LEN can only miss). Cannot fail. */
sf_codec sf_codec_detect(const void *head, size_t n);

/* "none", "gzip", "zstd", "bzip2", "xz". Never NULL. */
const char *sf_codec_name(sf_codec c);

/* 1 when this build decodes c (none, gzip, zstd). */
int sf_codec_supported(sf_codec c);

/* Reads the first bytes of the regular file path and detects its codec.
 * Returns 0 or SF_E_IO. */
int sf_codec_of_file(const char *path, sf_codec *out, sf_error *err);

/* A range of units: compressed bytes [start, end), both unit boundaries;
 * prev is the start of the unit before start (prev == start for the first
 * range of a file). */
typedef struct sf_zrange {
    uint64_t start, end, prev;
} sf_zrange;

/* Splits the compressed file path (size bytes, codec as detected) into
 * ranges of about target compressed bytes each (at least one unit each)
 * at unit boundaries; one range [0, size) when the file is not made of
 * independent units. *ranges is new (caller frees), *n >= 1; *units gets
 * the number of units found (0 when unsplittable), may be NULL. Returns 0,
 * SF_E_IO, SF_E_NOMEM, or SF_E_PARSE for a corrupt header (err names the
 * file and offset). */
int sf_decompress_split(const char *path, sf_codec codec, uint64_t size, uint64_t target,
                        sf_zrange **ranges, size_t *n, size_t *units, sf_error *err);

typedef struct sf_zreader sf_zreader;

/* The lines and uncompressed bytes owned by the ranges before the unit
 * boundary cstart (0 for cstart 0): decodes [0, cstart), so a rank can
 * turn its range's line numbers and offsets into the file's without a
 * collective (failfast reports). Returns 0, or the errors of
 * sf_zreader_open / sf_zreader_next. */
int sf_zcount_before(const char *path, sf_codec codec, uint64_t cstart, uint64_t *lines,
                     uint64_t *ubytes, sf_error *err);

/* Opens path for one range of its units (from sf_decompress_split; a range
 * {0, size, 0} reads the whole file). codec may be SF_CODEC_NONE (the bytes
 * as they are). buf_size 0 means 4 MiB; max_line 0 means 16 MiB. Returns 0
 * and *out, or SF_E_IO / SF_E_NOMEM / SF_E_INVAL (a codec not decoded
 * here) with err naming the file. */
int sf_zreader_open(sf_zreader **out, const char *path, sf_codec codec, const sf_zrange *range,
                    size_t buf_size, size_t max_line, sf_error *err);

/* Reads the whole stream of the open descriptor fd (a pipe, a FIFO, a
 * terminal or a file; read sequentially, never seeked) with sequential
 * read()s, detecting the codec from its first bytes. name is used in
 * messages. fd stays the caller's. Returns as sf_zreader_open. */
int sf_zreader_open_fd(sf_zreader **out, int fd, const char *name, size_t buf_size,
                       size_t max_line, sf_error *err);

/* The codec being decoded. */
sf_codec sf_zreader_codec(const sf_zreader *r);

/* Next owned line, without its '\n' and one trailing '\r' (a UTF-8 BOM at
 * the start of the stream is skipped). Returns 1 with *line (borrowed until
 * the next call), *len and *offset (of the line's first byte, counted from
 * the range's first uncompressed byte U_s); 0 at the end of the range;
 * SF_E_LIMIT for a line longer than max_line (skipped; the next call goes
 * on after it); SF_E_IO on a read error; SF_E_PARSE for corrupt compressed
 * data or a stream cut short (err names the file and the compressed
 * offset). */
int sf_zreader_next(sf_zreader *r, const char **line, size_t *len, uint64_t *offset,
                    sf_error *err);

/* Streaming whole lines to other ranks (stdin, a FIFO, one compressed file
 * that cannot be split): rank 0 reads blocks of whole lines and sends them;
 * the receivers walk each block with sf_zblock_next_line.
 *
 * Copies the next owned lines as they are in the stream ('\r' and '\n'
 * included; a last line without '\n' as it is) into dst, as many whole
 * lines as fit in cap bytes (cap must be at least max_line + 2, so any line
 * sf_zreader_next would return fits). Returns 1 with *used > 0 bytes and
 * *offset of the block's first byte (as sf_zreader_next counts offsets);
 * 0 at the end; SF_E_LIMIT for a line over max_line (skipped; *offset is
 * its offset, *used 0: the lines before it came in the block before); or
 * sf_zreader_next's errors. A line that does not fit is kept for the next
 * call. */
int sf_zreader_next_block(sf_zreader *r, char *dst, size_t cap, size_t *used, uint64_t *offset,
                          sf_error *err);

/* As sf_zreader_next_block, but a block holds as many whole lines as fit
 * in target bytes (target <= cap; a first line longer than target is
 * taken alone if it fits cap), and
 * *lines gets the number of lines copied (a too-long line is not one of
 * them: it is reported as SF_E_LIMIT, with *lines 0). With target == cap
 * this is sf_zreader_next_block. */
int sf_zreader_fill_block(sf_zreader *r, char *dst, size_t cap, size_t target, size_t *used,
                          uint64_t *offset, uint64_t *lines, sf_error *err);

/* The next line of a block from sf_zreader_next_block (n bytes), from *pos
 * (0 for the first): returns 1 with *line (pointing into block), *len
 * (without '\n' and one '\r') and *rel (its offset from the block's first
 * byte, to add to the block's offset), and advances *pos; 0 at the end of
 * the block. Cannot fail. */
int sf_zblock_next_line(const char *block, size_t n, size_t *pos, const char **line,
                        size_t *len, uint64_t *rel);

/* Uncompressed bytes of the range: U_e - U_s once sf_zreader_next has
 * returned 0 (before that, the owned bytes consumed so far). */
uint64_t sf_zreader_ubytes(const sf_zreader *r);

/* Compressed bytes read so far (for progress on compressed sizes). */
uint64_t sf_zreader_cbytes(const sf_zreader *r);

/* Closes (a descriptor from sf_zreader_open_fd stays open) and frees r;
 * NULL is a no-op. */
void sf_zreader_close(sf_zreader *r);

#endif

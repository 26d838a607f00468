/* range_reader.h - reads the lines a byte range of a file owns.
 *
 * A range [start, end) owns exactly the lines whose first byte lies in it:
 * when start > 0 and byte start-1 is not '\n', the partial first line belongs
 * to the previous range and is skipped; the last owned line is read past end
 * to its '\n' (or to end of file). So the ranges of a partition of a file
 * together yield every line exactly once.
 *
 * Lines come without their '\n' and without one trailing '\r' (CRLF files);
 * a UTF-8 byte order mark at offset 0 is skipped. Empty lines are returned
 * too (len 0) so callers can count them. A regular file is read through
 * read-only mapped windows of its pages, any other file by large sequential
 * pread()s into one reused buffer (sf_range_reader_set_mode): no allocation
 * per line; memory is the buffer or window size, grown only for a line
 * longer than it (up to max_line).
 */
#ifndef SF_RANGE_READER_H
#define SF_RANGE_READER_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"

typedef struct sf_range_reader sf_range_reader;

/* Opens path for the range [start, end). buf_size 0 means 4 MiB; max_line 0
 * means 16 MiB. Returns 0 and *out, or SF_E_IO / SF_E_NOMEM with err naming
 * the file. */
int sf_range_reader_open(sf_range_reader **out, const char *path, uint64_t start,
                         uint64_t end, size_t buf_size, size_t max_line, sf_error *err);

/* Next owned line. Returns 1 with *line (borrowed until the next call), *len
 * and *offset (file offset of the line's first byte); 0 at the end of the
 * range; SF_E_LIMIT for a line longer than max_line (err names file and
 * offset, *offset is set; the line is skipped and the next call goes on after
 * it); SF_E_IO on a read error. */
int sf_range_reader_next(sf_range_reader *r, const char **line, size_t *len,
                         uint64_t *offset, sf_error *err);

/* What a parser that finds each line's end itself may read: the buffered
 * bytes from the next owned line's first byte on. */
typedef struct sf_range_window {
    const char *buf; /* borrowed until the next call on the reader */
    size_t avail;    /* bytes at buf */
    size_t owned;    /* the lines that start in buf[0, owned) are the range's */
    size_t line_cap; /* a line taken must have its '\n' within its first line_cap bytes
                      * (so that it is at most max_line bytes long) */
    uint64_t offset; /* file offset of buf[0] */
} sf_range_window;

/* Fills *w and returns 1 when the next owned line starts in the buffer;
 * returns 0 otherwise (a pending error, the range's end or its first
 * partial line, an empty buffer): call sf_range_reader_next. Either way the
 * reader is unchanged. Lines are taken from the window's start, each up to
 * and with its '\n' (which the window holds), as sf_range_reader_next
 * would have handed them out: a line's bytes lose one '\r' before the
 * '\n'. */
int sf_range_reader_window(sf_range_reader *r, sf_range_window *w);

/* Takes the first used bytes of the window just given, whole lines with
 * their '\n': the reader goes on after them. */
void sf_range_reader_consume(sf_range_reader *r, size_t used);

/* Bytes of owned lines consumed so far, newlines included. */
uint64_t sf_range_reader_bytes(const sf_range_reader *r);

/* How readers read a regular file: through mapped windows of its pages
 * where they can (SF_RANGE_READ_AUTO), or with pread into a buffer
 * (SF_RANGE_READ_PREAD, as for pipes and other files that cannot be
 * mapped). The default is AUTO unless the environment variable
 * SHARDFLOW_READ is "pread"; sf_range_reader_set_mode applies to the
 * readers opened after it. */
enum { SF_RANGE_READ_AUTO = 0, SF_RANGE_READ_PREAD = 1 };
void sf_range_reader_set_mode(int mode);

/* Closes the file and frees r; NULL is a no-op. */
void sf_range_reader_close(sf_range_reader *r);

/* A read buffer and an open file handed from one reader to the next: a
 * scan of many ranges then faults the buffer's pages in once, not once a
 * range (a fresh 4 MiB buffer is about a thousand page faults), and reads
 * neighbouring ranges of a file through one open file, whose read-ahead
 * (the kernel's, per open file) then runs on from one range into the next
 * instead of starting over, with the range's first read waiting for the
 * disk. Owned by the caller; zero-initialize, free with
 * sf_range_reader_spare_free. */
typedef struct sf_range_reader_spare {
    char *buf;
    size_t cap;
    char *path; /* the file fd has open (owned), NULL: none */
    int fd;
    struct sf_readahead *ra; /* owned: reads ahead of the readers (io/readahead), NULL: none */
} sf_range_reader_spare;

/* sf_range_reader_open that reads into spare's buffer when it holds one of
 * at least buf_size bytes and no more than this reader may grow to, and
 * through spare's open file when it is path (taking them: spare is left
 * without them); spare may be NULL. */
int sf_range_reader_open_spare(sf_range_reader **out, const char *path, uint64_t start,
                               uint64_t end, size_t buf_size, size_t max_line,
                               sf_range_reader_spare *spare, sf_error *err);

/* Gives spare a thread that reads depth bytes ahead of the readers that
 * use it (io/readahead); without one (it could not start) the kernel's
 * read-ahead alone reads ahead. */
void sf_range_reader_spare_readahead(sf_range_reader_spare *spare, uint64_t depth, uint64_t step);

/* sf_range_reader_close that gives r's buffer and open file to spare
 * (freeing or closing the ones it held) for the next
 * sf_range_reader_open_spare. */
void sf_range_reader_close_spare(sf_range_reader *r, sf_range_reader_spare *spare);

/* Frees spare's buffer, closes its file, stops its read-ahead thread. */
void sf_range_reader_spare_free(sf_range_reader_spare *spare);

#endif

/* rejmsg.c - reject messages with a column, written and read back
 * (rejmsg.h). */
#include "core/rejmsg.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/utf8.h"

static const char AT[] = " at column ";

void sf_rejmsg_at(char *msg, size_t cap, const char *reason, size_t column, const char *what)
{
    if (!cap)
        return;
    snprintf(msg, cap, "%s%s%zu: %s", reason, AT, column, what);
    sf_utf8_clean(msg);
}

size_t sf_rejmsg_column(const char *msg, size_t *reason_len, const char **what)
{
    const char *at = strstr(msg, AT);
    *reason_len = 0;
    *what = msg;
    if (!at)
        return 0;
    const char *p = at + sizeof AT - 1;
    size_t col = 0;
    while (*p >= '0' && *p <= '9')
        col = col * 10 + (size_t)(*p++ - '0');
    if (p == at + sizeof AT - 1 || p[0] != ':' || p[1] != ' ')
        return 0;
    *reason_len = (size_t)(at - msg);
    *what = p + 2;
    return col;
}

void sf_rejmsg_place(char *out, size_t cap, const char *path, uint64_t line, uint64_t offset,
                     const char *msg, const char *note)
{
    if (!cap)
        return;
    char where[32];
    if (line)
        snprintf(where, sizeof where, "%" PRIu64, line);
    else
        snprintf(where, sizeof where, "?");
    size_t rlen;
    const char *what;
    size_t col = sf_rejmsg_column(msg, &rlen, &what);
    if (col)
        snprintf(out, cap, "%s:%s:%zu: %.*s: %s (byte offset %" PRIu64 "%s%s)", path, where, col,
                 (int)rlen, msg, what, offset, note ? "; " : "", note ? note : "");
    else
        snprintf(out, cap, "%s:%s: %s (byte offset %" PRIu64 "%s%s)", path, where, msg, offset,
                 note ? "; " : "", note ? note : "");
    sf_utf8_clean(out);
}

void sf_rejmsg_all_rejected(char *out, size_t cap, uint64_t read, uint64_t rejected,
                            const char *top, uint64_t top_count, const char *sample_path,
                            uint64_t sample_offset, const char *sample_msg, const char *codec)
{
    if (!cap)
        return;
    int n = snprintf(out, cap,
                     "all %" PRIu64 " lines read were rejected (%" PRIu64 " bad, the rest "
                     "blank; most as '%s': %" PRIu64 ")",
                     read, rejected, top, top_count);
    if (sample_path && n >= 0 && (size_t)n < cap)
        n += snprintf(out + n, cap - (size_t)n, "; first: %s: byte %" PRIu64 ": %s", sample_path,
                      sample_offset, sample_msg);
    if (codec && n >= 0 && (size_t)n < cap)
        snprintf(out + n, cap - (size_t)n,
                 "; %s looks %s-compressed (its first bytes are %s's magic): decompress it "
                 "first, e.g. zcat/zstdcat into a file",
                 sample_path ? sample_path : "the input", codec, codec);
    sf_utf8_clean(out);
}

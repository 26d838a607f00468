/* badrec.c - bad-record spill and JSONL. */
#include "io/badrec.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct sf_badrec_spill {
    FILE *f;
    char *path;
    int failed;
};

/* Spill record: u64 chunk, u64 line, i32 file, u64 offset, then three
 * u32-length-prefixed strings: reason, message, text. Native byte order:
 * a spill never leaves the rank that wrote it. */

int sf_badrec_open(sf_badrec_spill **out, const char *path, sf_error *err)
{
    sf_badrec_spill *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return sf_error_set(err, SF_E_NOMEM, "out of memory");
    }
    s->f = fopen(path, "w+b");
    if (!s->f) {
        int e = errno;
        free(s->path);
        free(s);
        return sf_error_set(err, SF_E_IO, "cannot create '%s': %s", path, strerror(e));
    }
    *out = s;
    return 0;
}

static void put_str(sf_badrec_spill *s, const char *p, size_t n)
{
    uint32_t len = (uint32_t)n;
    if (fwrite(&len, sizeof len, 1, s->f) != 1 || (n && fwrite(p, 1, n, s->f) != n))
        s->failed = errno ? errno : EIO;
}

int sf_badrec_add(sf_badrec_spill *s, uint64_t chunk, uint64_t line_in_chunk, int32_t file,
                  uint64_t offset, const char *reason, const char *msg, const char *text,
                  size_t len)
{
    if (s->failed)
        return SF_E_IO;
    if (fwrite(&chunk, 8, 1, s->f) != 1 || fwrite(&line_in_chunk, 8, 1, s->f) != 1 ||
        fwrite(&file, 4, 1, s->f) != 1 || fwrite(&offset, 8, 1, s->f) != 1)
        s->failed = errno ? errno : EIO;
    put_str(s, reason, strlen(reason));
    put_str(s, msg, strlen(msg));
    /* One byte past the cut tells finish that the text was truncated. */
    put_str(s, text, len > SF_BADREC_TEXT_MAX ? SF_BADREC_TEXT_MAX + 1 : len);
    return s->failed ? SF_E_IO : 0;
}

/* Length of the valid UTF-8 sequence at p (1-4), or 0 if invalid. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
    if (p[0] < 0x80)
        return 1;
    size_t k = p[0] >= 0xF0 ? 4 : p[0] >= 0xE0 ? 3 : p[0] >= 0xC2 ? 2 : 0;
    if (k == 0 || p[0] > 0xF4 || k > n)
        return 0;
    for (size_t i = 1; i < k; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    }
    uint32_t c = k == 2 ? (uint32_t)(p[0] & 0x1F) << 6 | (p[1] & 0x3F)
                 : k == 3 ? (uint32_t)(p[0] & 0x0F) << 12 | (uint32_t)(p[1] & 0x3F) << 6 |
                                (p[2] & 0x3F)
                          : (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3F) << 12 |
                                (uint32_t)(p[2] & 0x3F) << 6 | (p[3] & 0x3F);
    if ((k == 3 && (c < 0x800 || (c >= 0xD800 && c <= 0xDFFF))) ||
        (k == 4 && (c < 0x10000 || c > 0x10FFFF)))
        return 0;
    return k;
}

int sf_badrec_json_text(sf_buf *out, const char *text, size_t len, size_t max, int *lossy,
                        int *cut)
{
    const unsigned char *p = (const unsigned char *)text;
    int rc = sf_buf_append(out, "\"", 1);
    size_t i = 0;
    *lossy = *cut = 0;
    while (i < len && !rc) {
        size_t k = utf8_len(p + i, len - i);
        if (i + (k ? k : 1) > max) {
            *cut = 1;
            break;
        }
        if (k == 0) {
            rc = sf_buf_append(out, "\xEF\xBF\xBD", 3); /* U+FFFD */
            *lossy = 1;
            i++;
        } else if (k == 1 && (p[i] == '"' || p[i] == '\\')) {
            char esc[2] = {'\\', (char)p[i]};
            rc = sf_buf_append(out, esc, 2);
            i++;
        } else if (k == 1 && p[i] < 0x20) {
            rc = sf_buf_printf(out, "\\u%04x", p[i]);
            i++;
        } else {
            rc = sf_buf_append(out, p + i, k);
            i += k;
        }
    }
    if (i < len && !*cut && !rc)
        *cut = 1;
    return rc ? rc : sf_buf_append(out, "\"", 1);
}

static int get_str(FILE *f, sf_buf *b)
{
    uint32_t len;
    if (fread(&len, sizeof len, 1, f) != 1 || sf_buf_reserve(b, (size_t)len + 1) != 0)
        return -1;
    b->n = 0;
    if (len && fread(b->p, 1, len, f) != len)
        return -1;
    b->n = len;
    b->p[len] = '\0';
    return 0;
}

int sf_badrec_finish(sf_badrec_spill *s, const char *out_path, const char *const *files,
                     const uint64_t *first_line, const uint64_t *offset_base, uint64_t *count,
                     sf_error *err)
{
    *count = 0;
    int rc = 0;
    if (s->failed || fflush(s->f) != 0)
        rc = sf_error_set(err, SF_E_IO, "cannot write '%s': %s", s->path,
                          strerror(s->failed ? s->failed : errno));
    FILE *out = rc ? NULL : fopen(out_path, "wb");
    if (!rc && !out)
        rc = sf_error_set(err, SF_E_IO, "cannot create '%s': %s", out_path, strerror(errno));
    if (!rc)
        rewind(s->f);
    sf_buf reason = SF_BUF_INIT, msg = SF_BUF_INIT, text = SF_BUF_INIT, line = SF_BUF_INIT;
    while (!rc) {
        uint64_t chunk, lic, offset;
        int32_t file;
        if (fread(&chunk, 8, 1, s->f) != 1)
            break; /* end of the spill */
        if (fread(&lic, 8, 1, s->f) != 1 || fread(&file, 4, 1, s->f) != 1 ||
            fread(&offset, 8, 1, s->f) != 1 || get_str(s->f, &reason) || get_str(s->f, &msg) ||
            get_str(s->f, &text)) {
            rc = sf_error_set(err, SF_E_PARSE, "%s: truncated bad-record spill", s->path);
            break;
        }
        int lossy, cut;
        line.n = 0;
        rc = sf_buf_printf(&line, "{\"file\": ");
        rc |= sf_buf_json_string(&line, files[file], strlen(files[file]));
        rc |= sf_buf_printf(&line, ", \"offset\": %llu, \"line\": %llu, \"reason\": ",
                            (unsigned long long)(offset + (offset_base ? offset_base[chunk] : 0)),
                            (unsigned long long)(first_line[chunk] + lic - 1));
        rc |= sf_buf_json_string(&line, (const char *)reason.p, reason.n);
        rc |= sf_buf_printf(&line, ", \"message\": ");
        rc |= sf_buf_json_string(&line, (const char *)msg.p, msg.n);
        rc |= sf_buf_printf(&line, ", \"text\": ");
        rc |= sf_badrec_json_text(&line, (const char *)text.p, text.n, SF_BADREC_TEXT_MAX, &lossy,
                                  &cut);
        if (cut)
            rc |= sf_buf_printf(&line, ", \"text_truncated\": true");
        if (lossy)
            rc |= sf_buf_printf(&line, ", \"text_lossy\": true");
        rc |= sf_buf_printf(&line, "}\n");
        if (rc) {
            rc = sf_error_set(err, SF_E_NOMEM, "out of memory writing bad records");
            break;
        }
        if (fwrite(line.p, 1, line.n, out) != line.n)
            rc = sf_error_set(err, SF_E_IO, "cannot write '%s': %s", out_path, strerror(errno));
        (*count)++;
    }
    if (out && (fflush(out) != 0 || fsync(fileno(out)) != 0) && !rc)
        rc = sf_error_set(err, SF_E_IO, "cannot write '%s': %s", out_path, strerror(errno));
    if (out && fclose(out) != 0 && !rc)
        rc = sf_error_set(err, SF_E_IO, "cannot write '%s': %s", out_path, strerror(errno));
    sf_buf_free(&reason);
    sf_buf_free(&msg);
    sf_buf_free(&text);
    sf_buf_free(&line);
    sf_badrec_discard(s);
    return rc;
}

void sf_badrec_discard(sf_badrec_spill *s)
{
    if (!s)
        return;
    fclose(s->f);
    unlink(s->path);
    free(s->path);
    free(s);
}

int sf_count_lines_before(const char *path, uint64_t offset, uint64_t *lines, sf_error *err)
{
    *lines = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return sf_error_set(err, SF_E_IO, "cannot open '%s': %s", path, strerror(errno));
    enum { BLOCK = 1 << 20 };
    char *buf = malloc(BLOCK);
    int rc = buf ? 0 : sf_error_set(err, SF_E_NOMEM, "out of memory");
    for (uint64_t at = 0; at < offset && !rc;) {
        size_t want = offset - at < BLOCK ? (size_t)(offset - at) : BLOCK;
        ssize_t got = pread(fd, buf, want, (off_t)at);
        if (got <= 0) {
            rc = sf_error_set(err, SF_E_IO, "cannot read '%s': %s", path,
                              got < 0 ? strerror(errno) : "file shrank");
            break;
        }
        for (const char *p = buf, *end = buf + got; (p = memchr(p, '\n', (size_t)(end - p)));
             p++)
            (*lines)++;
        at += (uint64_t)got;
    }
    free(buf);
    close(fd);
    return rc;
}

/* flatten_spool.c - `shardflow flatten`: the rows of the schema pass kept
 * for the write pass, so the input is decoded and flattened once.
 *
 * In the schema pass every rank appends the rows of each record it accepts
 * to its own file, STAGING/_rows-RANK: per row its byte length and cell
 * count (4 bytes each, host order: the file never leaves the process), then
 * each cell as its column id in this rank's engine (LEB128), a type byte
 * and the value: nothing for NULL, one byte for a bool, 8 for an int64 or
 * a double, a 4-byte length and the bytes for a string (core/value's byte
 * codec after the tag 0xff for anything else). Each chunk's rows are
 * one range of the file, noted with the chunk's number. Once the columns
 * are merged, the write pass reads the ranges back in the order they were
 * written, maps each local column id to its place in the header, and hands
 * the rows to the same row writer the re-scan used (flatten_write.c), so
 * chunk k's rows still go to part-k in input order and the files are
 * byte for byte what a second scan writes.
 *
 * A CSV output with no partition keys keeps its cells as CSV text instead
 * (flatten_textspool.c); the ranges, reads and files are the same.
 *
 * Used for plain input files only: a fed input's blocks (stdin, FIFOs,
 * compressed files) are numbered otherwise than the chunks of its spool
 * that the write pass cuts, so those runs scan twice as before.
 * Invariant: a range is complete only after its chunk's end; a failed
 * write is kept in spool_errno and reported at the end of the pass.
 */
#include "cli/flatten_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SPOOL_FLUSH ((size_t)1 << 20) /* encoded bytes between write(2)s */
#define SPOOL_READ ((size_t)1 << 20)  /* bytes read at a time */

int sf_fl_spool_open(fl *F)
{
    F->spool_fd = -1;
    if (F->schema_only || F->nfeeds > 0)
        return 0;
    size_t n = strlen(F->life.stage.tmpdir) + 32;
    F->spool_path = malloc(n);
    if (!F->spool_path)
        return sf_fl_nomem(F);
    snprintf(F->spool_path, n, "%s/_rows-%05d", F->life.stage.tmpdir, F->rank);
    F->spool_fd = open(F->spool_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (F->spool_fd < 0)
        return sf_error_set(&F->err, SF_E_IO, "cannot create the row spool '%s': %s",
                            F->spool_path, strerror(errno));
    F->spooling = 1;
    F->spool_text = F->fmt == SF_TABLE_CSV && F->o->npartition == 0;
    return 0;
}

static void spool_flush(fl *F)
{
    const unsigned char *p = F->spool_out.p;
    size_t n = F->spool_out.n;
    while (n > 0 && !F->spool_errno) {
        ssize_t k = pwrite(F->spool_fd, p, n, (off_t)F->spool_bytes);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            F->spool_errno = errno;
            break;
        }
        p += k;
        n -= (size_t)k;
        F->spool_bytes += (uint64_t)k;
    }
    F->spool_out.n = 0;
}

#define TAG_OTHER 0xff /* a value in core/value's byte codec */

/* Appends one cell at o (room for it made by the caller). */
static inline unsigned char *put_cell(unsigned char *o, const sf_flatten_cell *c)
{
    const sf_value *v = &c->v;
    o = sf_fl_put_leb(o, c->col);
    switch ((sf_type)v->type) {
    case SF_NULL: *o++ = SF_NULL; return o;
    case SF_BOOL: *o++ = SF_BOOL; *o++ = (unsigned char)v->u.b; return o;
    case SF_INT: *o++ = SF_INT; memcpy(o, &v->u.i, 8); return o + 8;
    case SF_DOUBLE: *o++ = SF_DOUBLE; memcpy(o, &v->u.d, 8); return o + 8;
    case SF_STRING:
        if (v->u.s.n <= UINT32_MAX) {
            uint32_t n = (uint32_t)v->u.s.n;
            *o++ = SF_STRING;
            memcpy(o, &n, 4);
            if (n)
                memcpy(o + 4, v->u.s.p, n);
            return o + 4 + n;
        }
        break;
    default: break;
    }
    *o++ = TAG_OTHER;
    return o + sf_value_encode(v, o);
}

/* Bytes put_cell may take for c. */
static inline size_t cell_room(const sf_flatten_cell *c)
{
    return 11 + 1 + (c->v.type == SF_STRING ? 14 + c->v.u.s.n : 18);
}

/* The record's rows in the binary form (see the banner). */
static int spool_value_rows(fl *F)
{
    sf_buf *b = &F->spool_out;
    for (size_t r = 0; r < sf_flatten_nrows(F->eng); r++) {
        size_t nc;
        const sf_flatten_cell *cells = sf_flatten_row(F->eng, r, &nc);
        if (b->cap - b->n < 8 && sf_buf_reserve(b, 8) != 0)
            return sf_fl_nomem(F);
        size_t head = b->n;
        b->n += 8;
        for (size_t i = 0; i < nc; i++) {
            size_t room = cell_room(&cells[i]);
            if (b->cap - b->n < room && sf_buf_reserve(b, room) != 0)
                return sf_fl_nomem(F);
            b->n = (size_t)(put_cell(b->p + b->n, &cells[i]) - b->p);
        }
        if (b->n - head - 8 > UINT32_MAX || nc > UINT32_MAX)
            return sf_error_set(&F->err, SF_E_LIMIT, "a flattened row of %zu bytes is too large "
                                "to keep", b->n - head - 8);
        uint32_t len = (uint32_t)(b->n - head - 8), n32 = (uint32_t)nc;
        memcpy(b->p + head, &len, 4);
        memcpy(b->p + head + 4, &n32, 4);
    }
    return 0;
}

int sf_fl_spool_rows(fl *F)
{
    int rc = F->spool_text ? sf_fl_text_rows(F) : spool_value_rows(F);
    if (!rc && F->spool_out.n >= SPOOL_FLUSH)
        spool_flush(F);
    return rc;
}

int sf_fl_spool_chunk(fl *F, size_t chunk, int end)
{
    if (!end) {
        if (F->nspool_chunks == F->spool_chunkcap) {
            size_t cap = F->spool_chunkcap ? F->spool_chunkcap * 2 : 16;
            fl_spool_range *p = realloc(F->spool_chunks, cap * sizeof *p);
            if (!p)
                return sf_fl_nomem(F);
            F->spool_chunks = p;
            F->spool_chunkcap = cap;
        }
        fl_spool_range *s = &F->spool_chunks[F->nspool_chunks];
        s->chunk = chunk;
        s->from = F->spool_bytes + F->spool_out.n;
        return 0;
    }
    fl_spool_range *s = &F->spool_chunks[F->nspool_chunks++];
    s->to = F->spool_bytes + F->spool_out.n;
    return 0;
}

int sf_fl_spool_map(fl *F, const sf_flatten *local)
{
    size_t n = sf_flatten_ncolumns(local);
    F->spool_map = malloc((n ? n : 1) * sizeof *F->spool_map);
    if (!F->spool_map)
        return sf_fl_nomem(F);
    for (size_t i = 0; i < n; i++) {
        sf_flatten_column c;
        sf_flatten_column_get(local, (uint32_t)i, &c);
        int64_t id = sf_flatten_column_find(F->eng, c.name, c.len);
        if (id < 0)
            return sf_error_set(&F->err, SF_E_INTERNAL, "column '%s' is missing from the merged "
                                "schema", c.name);
        F->spool_map[i] = (uint32_t)id;
    }
    F->spool_ncols = n;
    return 0;
}

/* Reads the spool's bytes [*at, to) into buf, keeping the unread tail
 * (from *pos): at least want bytes from *pos are there afterwards, unless
 * the range ends first. Returns 0 or SF_E_IO / SF_E_NOMEM. */
static int spool_fill(fl *F, sf_buf *buf, size_t *pos, uint64_t *at, uint64_t to, size_t want)
{
    size_t have = buf->n - *pos;
    if (have >= want || *at >= to)
        return 0;
    if (have) /* the buffer may not exist yet */
        memmove(buf->p, buf->p + *pos, have);
    buf->n = have;
    *pos = 0;
    size_t room = want > SPOOL_READ ? want : SPOOL_READ;
    if (sf_buf_reserve(buf, room) != 0)
        return sf_fl_nomem(F);
    while (buf->n < want && *at < to) {
        size_t k = buf->cap - buf->n;
        if (k > to - *at)
            k = (size_t)(to - *at);
        ssize_t got = pread(F->spool_fd, buf->p + buf->n, k, (off_t)*at);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return sf_error_set(&F->err, SF_E_IO, "cannot read the row spool '%s': %s",
                                F->spool_path, got < 0 ? strerror(errno) : "it is shorter "
                                "than written");
        buf->n += (size_t)got;
        *at += (uint64_t)got;
    }
    return 0;
}

int sf_fl_spool_corrupt(fl *F)
{
    return sf_error_set(&F->err, SF_E_INTERNAL, "the row spool '%s' is corrupt", F->spool_path);
}

/* Reads one cell at p (before end) into c. Returns the byte after it, or
 * NULL for a malformed cell. */
static const unsigned char *get_cell(const fl *F, const unsigned char *p,
                                     const unsigned char *end, sf_flatten_cell *c)
{
    uint64_t col = 0;
    if (p < end && *p < 0x80) {
        col = *p++;
    } else {
        size_t k = sf_leb_get(p, (size_t)(end - p), &col);
        if (!k)
            return NULL;
        p += k;
    }
    if (col >= F->spool_ncols || p >= end)
        return NULL;
    c->col = F->spool_map[col];
    sf_value *v = &c->v;
    unsigned char tag = *p++;
    size_t left = (size_t)(end - p);
    uint32_t n;
    switch (tag) {
    case SF_NULL: *v = sf_null(); return p;
    case SF_BOOL:
        if (left < 1)
            return NULL;
        *v = sf_bool(*p);
        return p + 1;
    case SF_INT:
    case SF_DOUBLE:
        if (left < 8)
            return NULL;
        v->type = tag;
        memcpy(&v->u.i, p, 8);
        return p + 8;
    case SF_STRING:
        if (left < 4)
            return NULL;
        memcpy(&n, p, 4);
        if (n > left - 4)
            return NULL;
        *v = sf_string((const char *)p + 4, n);
        return p + 4 + n;
    case TAG_OTHER: {
        size_t k = sf_value_decode(p, left, v);
        return k ? p + k : NULL;
    }
    default: return NULL;
    }
}

/* Writes one chunk's rows from the spool. */
static int replay_range(fl *F, const fl_spool_range *s, sf_buf *buf, sf_flatten_cell **cells,
                        size_t *cap, sf_progress *prog, uint64_t done)
{
    size_t pos = 0;
    uint64_t at = s->from;
    buf->n = 0;
    while (pos < buf->n || at < s->to) {
        int rc = spool_fill(F, buf, &pos, &at, s->to, 8);
        if (rc)
            return rc;
        if (buf->n - pos < 8)
            return sf_fl_spool_corrupt(F);
        uint32_t len, nc;
        memcpy(&len, buf->p + pos, 4);
        memcpy(&nc, buf->p + pos + 4, 4);
        pos += 8;
        if ((rc = spool_fill(F, buf, &pos, &at, s->to, len)) != 0)
            return rc;
        if (buf->n - pos < len || nc > len)
            return sf_fl_spool_corrupt(F);
        const unsigned char *p = buf->p + pos, *end = p + len;
        pos += len;
        if (F->spool_text) {
            if ((rc = sf_fl_text_write_row(F, p, end, nc)) != 0)
                return rc;
            if ((++F->c.rows & 1023) == 0)
                sf_progress_update(prog, done + (at - s->from) - (buf->n - pos));
            continue;
        }
        if (nc > *cap) {
            sf_flatten_cell *c = realloc(*cells, nc * sizeof *c);
            if (!c)
                return sf_fl_nomem(F);
            *cells = c;
            *cap = nc;
        }
        for (uint32_t i = 0; i < nc; i++) {
            if (!(p = get_cell(F, p, end, &(*cells)[i])))
                return sf_fl_spool_corrupt(F);
        }
        if (p != end)
            return sf_fl_spool_corrupt(F);
        sf_arena_reset(&F->scratch);
        if ((rc = sf_fl_write_row(F, *cells, nc)) != 0)
            return rc;
        if ((++F->c.rows & 1023) == 0)
            sf_progress_update(prog, done + (at - s->from) - (buf->n - pos));
    }
    return 0;
}

int sf_fl_spool_replay(fl *F)
{
    spool_flush(F);
    if (F->spool_errno)
        return sf_error_set(&F->err, SF_E_IO, "cannot write the row spool '%s': %s",
                            F->spool_path, strerror(F->spool_errno));
    /* Rank 0's progress line shows its own share (nothing is collective
     * here): the spool bytes it has read back. */
    uint64_t total = 0, done = 0;
    for (size_t i = 0; i < F->nspool_chunks; i++)
        total += F->spool_chunks[i].to - F->spool_chunks[i].from;
    sf_progress prog;
    sf_progress_init(&prog, sf_progress_pick(F->o->run.progress, F->rank),
                     "flatten: pass 2/2 write");
    sf_progress_start(&prog, total);
    sf_buf buf = SF_BUF_INIT;
    sf_flatten_cell *cells = NULL;
    size_t cap = 0;
    int rc = 0;
    for (size_t i = 0; i < F->nspool_chunks && !rc; i++) {
        const fl_spool_range *s = &F->spool_chunks[i];
        F->chunk = s->chunk;
        rc = replay_range(F, s, &buf, &cells, &cap, &prog, done);
        rc = sf_fl_close_parts(F, rc);
        done += s->to - s->from;
        sf_progress_update(&prog, done);
    }
    sf_progress_end(&prog, done);
    sf_buf_free(&buf);
    free(cells);
    return rc;
}

void sf_fl_spool_free(fl *F)
{
    if (F->spool_fd >= 0) {
        close(F->spool_fd);
        if (unlink(F->spool_path) != 0 && errno != ENOENT)
            fprintf(stderr, "shardflow: warning: cannot remove '%s': %s\n", F->spool_path,
                    strerror(errno));
    }
    F->spool_fd = -1;
    free(F->spool_path);
    F->spool_path = NULL;
    sf_buf_free(&F->spool_out);
    free(F->spool_chunks);
    F->spool_chunks = NULL;
    free(F->spool_map);
    F->spool_map = NULL;
    sf_fl_text_free(F);
}

/* spill.c - partitioned run files on node-local disk (see spill.h).
 *
 * Invariant: a partition's file only ever holds whole, checksummed blocks
 * (a block is written with one write loop and the count of bytes on disk
 * advances only after it completed), so a reader that finds a short or
 * wrong block knows the file was damaged, not half-written by us.
 */
#include "io/spill.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/hash.h"
#include "io/claim.h"
#include "io/fsutil.h"

#define SPILL_SEED 0x5350494c4c424c4bull /* checksum seed: "SPILLBLK" */
#define SPILL_MAX_RECORD ((size_t)1 << 30)

static const unsigned char magic[4] = {'S', 'F', 'S', 'P'};

typedef struct spill_part {
    int fd;                /* -1 until the first block is written */
    unsigned char *buf;    /* block being filled: header room + payload */
    size_t n, cap;         /* bytes in buf (header included), capacity */
    uint64_t bytes;        /* record bytes put (framing included) */
    uint64_t disk;         /* bytes written to the file */
} spill_part;

struct sf_spill {
    char *path;            /* DIR/shardflow-<runid>-r<rank> */
    char *dir;             /* DIR */
    uint32_t nparts;
    size_t block;          /* payload bytes per block */
    uint64_t disk;         /* written over all partitions */
    spill_part *parts;
};

struct sf_spill_reader {
    int fd;
    char *file;
    uint64_t off;          /* offset of the next block */
    unsigned char *buf;    /* payload of the current block */
    size_t cap, n, pos;
};

const char *sf_spill_default_dir(const char *dir)
{
    if (dir && *dir)
        return dir;
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static char *part_file(const sf_spill *s, uint32_t part)
{
    size_t n = strlen(s->path) + 32;
    char *f = malloc(n);
    if (f)
        snprintf(f, n, "%s/part-%05u.run", s->path, (unsigned)part);
    return f;
}

static int write_error(const sf_spill *s, const char *file, int e, sf_error *err)
{
    if (e == ENOSPC || e == EDQUOT)
        return sf_error_set(err, SF_E_IO, "spill directory %s is full (%s) writing '%s'; give "
                            "--spill-dir a node-local directory with more room or raise "
                            "--memory-limit", s->dir, strerror(e), file);
    return sf_error_set(err, SF_E_IO, "cannot write spill file '%s': %s", file, strerror(e));
}

int sf_spill_open(sf_spill **out, const char *dir, const char *runid, int rank, uint32_t nparts,
                  size_t block_bytes, sf_error *err)
{
    *out = NULL;
    sf_spill *s = calloc(1, sizeof *s);
    size_t n = strlen(dir) + strlen(runid) + 48;
    if (s) {
        s->path = malloc(n);
        s->dir = strdup(dir);
        s->parts = calloc(nparts ? nparts : 1, sizeof *s->parts);
    }
    if (!s || !s->path || !s->dir || !s->parts) {
        sf_spill_close(s);
        return sf_error_set(err, SF_E_NOMEM, "out of memory opening the spill directory");
    }
    snprintf(s->path, n, "%s/shardflow-%s-r%d", dir, runid, rank);
    s->nparts = nparts;
    s->block = block_bytes > 64 ? block_bytes : 64;
    for (uint32_t p = 0; p < nparts; p++)
        s->parts[p].fd = -1;
    int rc = sf_mkdirs(dir, err);
    if (!rc && mkdir(s->path, 0700) != 0)
        rc = sf_error_set(err, SF_E_IO, "cannot create spill directory '%s': %s", s->path,
                          strerror(errno));
    if (rc) {
        free(s->path);
        s->path = NULL; /* not ours: nothing to remove */
        sf_spill_close(s);
        return rc;
    }
    /* The owner file lets the next run on this host tell a killed run's
     * directory from a live one's. */
    char host[256], text[400];
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = '\0';
    long pid = (long)getpid();
    int tn = snprintf(text, sizeof text, "%s\n%ld\n%llu\n", host, pid,
                      sf_claim_process_start(pid));
    char *owner = malloc(strlen(s->path) + 8);
    if (!owner) {
        sf_spill_close(s);
        return sf_error_set(err, SF_E_NOMEM, "out of memory opening the spill directory");
    }
    sprintf(owner, "%s/owner", s->path);
    int fd = open(owner, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    ssize_t w = fd >= 0 ? write(fd, text, (size_t)tn) : -1;
    int e = errno;
    if (fd >= 0)
        close(fd);
    if (w != tn) {
        rc = write_error(s, owner, w < 0 || fd < 0 ? e : ENOSPC, err);
        free(owner);
        sf_spill_close(s);
        return rc;
    }
    free(owner);
    *out = s;
    return 0;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (w == 0)
            return ENOSPC;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Writes partition p's buffered records as one block. */
static int flush_part(sf_spill *s, uint32_t p, sf_error *err)
{
    spill_part *sp = &s->parts[p];
    if (sp->n <= SF_SPILL_BLOCK_HEADER)
        return 0;
    size_t payload = sp->n - SF_SPILL_BLOCK_HEADER;
    memcpy(sp->buf, magic, 4);
    put_u32(sp->buf + 4, (uint32_t)payload);
    put_u64(sp->buf + 8, sf_hash_bytes(sp->buf + SF_SPILL_BLOCK_HEADER, payload, SPILL_SEED));
    char *file = part_file(s, p);
    if (!file)
        return sf_error_set(err, SF_E_NOMEM, "out of memory writing a spill file");
    if (sp->fd < 0) {
        sp->fd = open(file, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (sp->fd < 0) {
            int rc = write_error(s, file, errno, err);
            free(file);
            return rc;
        }
    }
    int e = write_all(sp->fd, sp->buf, sp->n);
    if (e) {
        /* Cut back to the last whole block, so the file stays readable. */
        if (ftruncate(sp->fd, (off_t)sp->disk) != 0 || lseek(sp->fd, (off_t)sp->disk, SEEK_SET) < 0)
            e = e ? e : errno;
        int rc = write_error(s, file, e, err);
        free(file);
        return rc;
    }
    free(file);
    sp->disk += sp->n;
    s->disk += sp->n;
    sp->n = SF_SPILL_BLOCK_HEADER;
    return 0;
}

int sf_spill_put(sf_spill *s, uint32_t part, const void *rec, size_t len, sf_error *err)
{
    if (len > SPILL_MAX_RECORD)
        return sf_error_set(err, SF_E_LIMIT, "a spilled record of %zu bytes is over 1 GiB", len);
    spill_part *sp = &s->parts[part];
    size_t need = 4 + len;
    if (sp->n > SF_SPILL_BLOCK_HEADER && sp->n + need > SF_SPILL_BLOCK_HEADER + s->block) {
        int rc = flush_part(s, part, err);
        if (rc)
            return rc;
    }
    if (sp->n + need > sp->cap) {
        size_t cap = SF_SPILL_BLOCK_HEADER + (need > s->block ? need : s->block);
        unsigned char *b = realloc(sp->buf, cap);
        if (!b)
            return sf_error_set(err, SF_E_NOMEM, "out of memory buffering spilled records");
        sp->buf = b;
        sp->cap = cap;
        if (sp->n == 0)
            sp->n = SF_SPILL_BLOCK_HEADER;
    }
    put_u32(sp->buf + sp->n, (uint32_t)len);
    memcpy(sp->buf + sp->n + 4, rec, len);
    sp->n += need;
    sp->bytes += need;
    /* A record bigger than a block leaves an oversized buffer: write it now
     * and shrink back to one block. */
    if (sp->cap > SF_SPILL_BLOCK_HEADER + s->block) {
        int rc = flush_part(s, part, err);
        if (rc)
            return rc;
        unsigned char *b = realloc(sp->buf, SF_SPILL_BLOCK_HEADER + s->block);
        if (b) {
            sp->buf = b;
            sp->cap = SF_SPILL_BLOCK_HEADER + s->block;
        }
    }
    return 0;
}

int sf_spill_grow(sf_spill *s, uint32_t nparts, sf_error *err)
{
    if (nparts <= s->nparts)
        return 0;
    spill_part *p = realloc(s->parts, (size_t)nparts * sizeof *p);
    if (!p)
        return sf_error_set(err, SF_E_NOMEM, "out of memory adding spill partitions");
    memset(p + s->nparts, 0, (size_t)(nparts - s->nparts) * sizeof *p);
    for (uint32_t k = s->nparts; k < nparts; k++)
        p[k].fd = -1;
    s->parts = p;
    s->nparts = nparts;
    return 0;
}

int sf_spill_seal(sf_spill *s, uint32_t part, sf_error *err)
{
    spill_part *sp = &s->parts[part];
    int rc = flush_part(s, part, err);
    if (rc)
        return rc;
    free(sp->buf);
    sp->buf = NULL;
    sp->n = sp->cap = 0;
    return 0;
}

int sf_spill_flush(sf_spill *s, sf_error *err)
{
    for (uint32_t p = 0; p < s->nparts; p++) {
        int rc = flush_part(s, p, err);
        if (rc)
            return rc;
    }
    return 0;
}

uint64_t sf_spill_part_bytes(const sf_spill *s, uint32_t part) { return s->parts[part].bytes; }

uint64_t sf_spill_total_bytes(const sf_spill *s)
{
    uint64_t t = 0;
    for (uint32_t p = 0; p < s->nparts; p++)
        t += s->parts[p].bytes;
    return t;
}

uint64_t sf_spill_disk_bytes(const sf_spill *s) { return s->disk; }
uint32_t sf_spill_nparts(const sf_spill *s) { return s->nparts; }
const char *sf_spill_path(const sf_spill *s) { return s->path; }

int sf_spill_read_open(sf_spill *s, uint32_t part, sf_spill_reader **out, sf_error *err)
{
    *out = NULL;
    int rc = flush_part(s, part, err);
    if (rc)
        return rc;
    sf_spill_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->file = part_file(s, part))) {
        free(r);
        return sf_error_set(err, SF_E_NOMEM, "out of memory reading a spill file");
    }
    r->fd = -1;
    if (s->parts[part].fd >= 0) {
        r->fd = open(r->file, O_RDONLY | O_CLOEXEC);
        if (r->fd < 0) {
            rc = sf_error_set(err, SF_E_IO, "cannot open spill file '%s': %s", r->file,
                              strerror(errno));
            sf_spill_read_close(r);
            return rc;
        }
    }
    *out = r;
    return 0;
}

/* Reads exactly n bytes at the reader's offset; 0, 1 at a clean end
 * (nothing read), or an errno-style failure (-1: short). */
static int read_exact(sf_spill_reader *r, unsigned char *p, size_t n, int *eof)
{
    size_t got = 0;
    *eof = 0;
    while (got < n) {
        ssize_t k = pread(r->fd, p + got, n - got, (off_t)(r->off + got));
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (k == 0) {
            *eof = got == 0;
            return got == 0 ? 0 : -1;
        }
        got += (size_t)k;
    }
    return 0;
}

static int bad_block(sf_spill_reader *r, const char *why, sf_error *err)
{
    return sf_error_set(err, SF_E_IO, "spill file '%s': block at offset %llu %s", r->file,
                        (unsigned long long)r->off, why);
}

int sf_spill_read_next(sf_spill_reader *r, const unsigned char **rec, size_t *len,
                       sf_error *err)
{
    while (r->pos >= r->n) {
        if (r->fd < 0)
            return 0;
        unsigned char h[SF_SPILL_BLOCK_HEADER];
        int eof;
        int e = read_exact(r, h, sizeof h, &eof);
        if (e == 0 && eof)
            return 0;
        if (e)
            return e > 0 ? sf_error_set(err, SF_E_IO, "cannot read spill file '%s': %s", r->file,
                                        strerror(e))
                         : bad_block(r, "is cut short", err);
        if (memcmp(h, magic, 4) != 0)
            return bad_block(r, "has no block header", err);
        size_t n = get_u32(h + 4);
        if (n > r->cap) {
            unsigned char *b = realloc(r->buf, n);
            if (!b)
                return sf_error_set(err, SF_E_NOMEM, "out of memory reading a spill file");
            r->buf = b;
            r->cap = n;
        }
        r->off += sizeof h;
        e = read_exact(r, r->buf, n, &eof);
        if (e || (eof && n))
            return e > 0 ? sf_error_set(err, SF_E_IO, "cannot read spill file '%s': %s", r->file,
                                        strerror(e))
                         : bad_block(r, "is cut short", err);
        r->off -= sizeof h;
        if (sf_hash_bytes(r->buf, n, SPILL_SEED) != get_u64(h + 8))
            return bad_block(r, "fails its checksum", err);
        r->off += sizeof h + n;
        r->n = n;
        r->pos = 0;
    }
    if (r->n - r->pos < 4 || get_u32(r->buf + r->pos) > r->n - r->pos - 4)
        return bad_block(r, "holds a record that overruns it", err);
    *len = get_u32(r->buf + r->pos);
    *rec = r->buf + r->pos + 4;
    r->pos += 4 + *len;
    return 1;
}

void sf_spill_read_close(sf_spill_reader *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    free(r->file);
    free(r->buf);
    free(r);
}

int sf_spill_drop(sf_spill *s, uint32_t part, sf_error *err)
{
    spill_part *sp = &s->parts[part];
    int rc = 0;
    if (sp->fd >= 0) {
        close(sp->fd);
        sp->fd = -1;
        char *file = part_file(s, part);
        if (!file)
            return sf_error_set(err, SF_E_NOMEM, "out of memory removing a spill file");
        if (unlink(file) != 0 && errno != ENOENT)
            rc = sf_error_set(err, SF_E_IO, "cannot remove spill file '%s': %s", file,
                              strerror(errno));
        free(file);
    }
    free(sp->buf);
    sp->buf = NULL;
    sp->n = sp->cap = 0;
    sp->bytes = 0;
    sp->disk = 0;
    return rc;
}

void sf_spill_close(sf_spill *s)
{
    if (!s)
        return;
    for (uint32_t p = 0; s->parts && p < s->nparts; p++) {
        if (s->parts[p].fd >= 0)
            close(s->parts[p].fd);
        free(s->parts[p].buf);
    }
    if (s->path) {
        sf_error e;
        sf_rmtree(s->path, &e);
    }
    free(s->parts);
    free(s->path);
    free(s->dir);
    free(s);
}

/* 1 when the spill directory path was left by a process of this host that
 * is gone. */
static int stale_dir(const char *path)
{
    char owner[4200], buf[400], host[256];
    if ((size_t)snprintf(owner, sizeof owner, "%s/owner", path) >= sizeof owner)
        return 0;
    FILE *fp = fopen(owner, "r");
    if (!fp)
        return 0; /* being created, or not ours: leave it */
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    fclose(fp);
    buf[n] = '\0';
    char *nl = strchr(buf, '\n');
    if (!nl)
        return 0;
    *nl = '\0';
    long pid = 0;
    unsigned long long start = 0;
    if (sscanf(nl + 1, "%ld %llu", &pid, &start) < 1 || pid <= 0)
        return 0;
    if (gethostname(host, sizeof host) != 0)
        return 0;
    host[sizeof host - 1] = '\0';
    return strcmp(host, buf) == 0 && sf_claim_process_gone(pid, start);
}

int sf_spill_clean_stale(const char *dir, char *note, size_t cap)
{
    if (cap)
        note[0] = '\0';
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        if (strncmp(name, "shardflow-", 10) != 0 || !strstr(name, "-r"))
            continue;
        char path[4096];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
            continue;
        if (!sf_is_dir(path) || !stale_dir(path))
            continue;
        sf_error err;
        if (sf_rmtree(path, &err) == 0)
            removed++;
    }
    closedir(d);
    if (removed && cap)
        snprintf(note, cap, "removed %d spill director%s of killed runs under %s", removed,
                 removed == 1 ? "y" : "ies", dir);
    return removed;
}

/* test_decompress.c - compressed inputs (io/decompress): magic bytes, the
 * streaming reader, and splitting into ranges that together own every line
 * once.
 *
 * Fixtures are made here with zlib and libzstd (one gzip member, several
 * members cut mid-line, BGZF blocks written by hand from the format, zstd
 * frames with and without their content size, skippable frames), and with
 * the bgzip, zstd -T0 and pzstd tools when they are installed. Every file
 * is read whole and in ranges of every size; the lines and their global
 * offsets must be those of the plain text.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>
#include <zstd.h>

#include "io/decompress.h"

/* ---- growing byte strings ---- */

typedef struct bytes {
    unsigned char *p;
    size_t n, cap;
} bytes;

static void put(bytes *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void put_le(bytes *b, uint64_t v, int n)
{
    unsigned char t[8];
    for (int i = 0; i < n; i++)
        t[i] = (unsigned char)(v >> (8 * i));
    put(b, t, (size_t)n);
}

/* ---- the text and its lines ---- */

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* JSON-ish lines of varied lengths, some empty, some CRLF, a few long ones
 * that span many blocks; with a BOM at the start and no final newline. */
static bytes make_text(size_t nlines, unsigned long_every)
{
    bytes t = {0};
    put(&t, "\xEF\xBB\xBF", 3);
    for (size_t i = 0; i < nlines; i++) {
        char line[256];
        uint64_t r = next_rand();
        size_t len;
        if (r % 23 == 0) {
            len = 0;
        } else {
            len = (size_t)snprintf(line, sizeof line, "{\"i\":%zu,\"u\":%llu,\"s\":\"%.*s\"}", i,
                                   (unsigned long long)(r % 100000), (int)(r % 60),
                                   "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ");
        }
        put(&t, line, len);
        if (r % long_every == 1) { /* a long line */
            for (size_t k = 0; k < 100000 / 16; k++)
                put(&t, "0123456789abcdef", 16);
        }
        if (i + 1 < nlines)
            put(&t, r % 31 == 2 ? "\r\n" : "\n", r % 31 == 2 ? 2 : 1);
    }
    return t;
}

typedef struct line_set {
    size_t n;
    uint64_t *off;
    size_t *len;
    const unsigned char **p;
} line_set;

/* The lines of text as the readers must give them. */
static line_set split_text(const bytes *t)
{
    line_set s = {0};
    s.off = calloc(t->n + 1, sizeof *s.off);
    s.len = calloc(t->n + 1, sizeof *s.len);
    s.p = calloc(t->n + 1, sizeof *s.p);
    size_t i = t->n >= 3 && memcmp(t->p, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
    while (i < t->n) {
        const unsigned char *nl = memchr(t->p + i, '\n', t->n - i);
        size_t e = nl ? (size_t)(nl - t->p) : t->n;
        size_t n = e - i;
        if (n && t->p[e - 1] == '\r')
            n--;
        s.off[s.n] = i;
        s.len[s.n] = n;
        s.p[s.n] = t->p + i;
        s.n++;
        i = e + 1;
    }
    return s;
}

static void free_lines(line_set *s)
{
    free(s->off);
    free(s->len);
    free(s->p);
}

/* ---- compressors ---- */

static void gzip_member(bytes *out, const unsigned char *p, size_t n)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, (uLong)n);
    unsigned char *buf = malloc(cap);
    z.next_in = (Bytef *)p;
    z.avail_in = (uInt)n;
    z.next_out = buf;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    put(out, buf, cap - z.avail_out);
    deflateEnd(&z);
    free(buf);
}

/* One BGZF block: a gzip member with the "BC" extra field (RFC 1952 and
 * the SAM/BAM specification's BGZF section). */
static void bgzf_block(bytes *out, const unsigned char *p, size_t n)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    unsigned char buf[70000];
    z.next_in = (Bytef *)p;
    z.avail_in = (uInt)n;
    z.next_out = buf;
    z.avail_out = sizeof buf;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t clen = sizeof buf - z.avail_out;
    deflateEnd(&z);
    static const unsigned char head[] = {0x1F, 0x8B, 8, 4, 0, 0, 0, 0, 0, 0xFF, 6, 0, 'B', 'C', 2, 0};
    put(out, head, sizeof head);
    put_le(out, 18 + clen + 8 - 1, 2);
    put(out, buf, clen);
    put_le(out, crc32(crc32(0, NULL, 0), p, (uInt)n), 4);
    put_le(out, n, 4);
}

static bytes make_gzip(const bytes *t) { bytes o = {0}; gzip_member(&o, t->p, t->n); return o; }

static bytes make_gzip_members(const bytes *t)
{
    bytes o = {0};
    size_t i = 0;
    while (i < t->n) {
        size_t k = 1 + next_rand() % 70000;
        if (k > t->n - i)
            k = t->n - i;
        gzip_member(&o, t->p + i, k);
        i += k;
    }
    return o;
}

static bytes make_bgzf(const bytes *t, size_t block)
{
    bytes o = {0};
    for (size_t i = 0; i < t->n; i += block)
        bgzf_block(&o, t->p + i, t->n - i < block ? t->n - i : block);
    bgzf_block(&o, (const unsigned char *)"", 0); /* the EOF marker block */
    return o;
}

static bytes make_zstd(const bytes *t)
{
    bytes o = {0};
    size_t cap = ZSTD_compressBound(t->n);
    unsigned char *buf = malloc(cap);
    size_t k = ZSTD_compress(buf, cap, t->p, t->n, 3);
    assert_false(ZSTD_isError(k));
    put(&o, buf, k);
    free(buf);
    return o;
}

static void skippable(bytes *o, size_t n)
{
    put_le(o, 0x184D2A53u, 4);
    put_le(o, n, 4);
    for (size_t i = 0; i < n; i++)
        put(o, "s", 1);
}

/* Frames of varied sizes cut mid-line, with skippable frames here and there
 * (first of all, as pzstd writes them); streamed frames when no_size (their
 * header does not give the decoded size). */
static bytes make_zstd_frames(const bytes *t, int no_size)
{
    bytes o = {0};
    ZSTD_CCtx *c = ZSTD_createCCtx();
    size_t i = 0;
    skippable(&o, 4);
    while (i < t->n) {
        size_t k = 1 + next_rand() % 90000;
        if (k > t->n - i)
            k = t->n - i;
        size_t cap = ZSTD_compressBound(k) + 64;
        unsigned char *buf = malloc(cap);
        size_t got;
        if (no_size) {
            ZSTD_CCtx_reset(c, ZSTD_reset_session_only);
            ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0);
            ZSTD_inBuffer ib = {t->p + i, k, 0};
            ZSTD_outBuffer ob = {buf, cap, 0};
            size_t r;
            do {
                r = ZSTD_compressStream2(c, &ob, &ib, ZSTD_e_end);
                assert_false(ZSTD_isError(r));
            } while (r);
            got = ob.pos;
        } else {
            got = ZSTD_compressCCtx(c, buf, cap, t->p + i, k, 1);
            assert_false(ZSTD_isError(got));
        }
        put(&o, buf, got);
        free(buf);
        if (next_rand() % 3 == 0)
            skippable(&o, (size_t)(next_rand() % 20));
        i += k;
    }
    ZSTD_freeCCtx(c);
    return o;
}

/* ---- files ---- */

static char tmpdir[256];

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sf_test_decompress.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *write_file(const char *name, const bytes *b)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (b->n)
        assert_int_equal(fwrite(b->p, 1, b->n, f), b->n);
    assert_int_equal(fclose(f), 0);
    return path;
}

/* ---- checks ---- */

/* Reads path in ranges of about target compressed bytes and checks the
 * lines against want, global offsets included. Returns the range count. */
static size_t check_ranges(const char *path, sf_codec codec, uint64_t target,
                           const line_set *want, size_t buf_size)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    sf_zrange *ranges;
    size_t n, units;
    sf_error err;
    if (sf_decompress_split(path, codec, (uint64_t)st.st_size, target, &ranges, &n, &units,
                            &err) != 0)
        fail_msg("split: %s", err.msg);
    assert_true(n >= 1);
    assert_true(ranges[0].start == 0 && ranges[n - 1].end == (uint64_t)st.st_size);
    size_t k = 0;
    uint64_t base = 0;
    for (size_t i = 0; i < n; i++) {
        if (i)
            assert_true(ranges[i].start == ranges[i - 1].end && ranges[i].prev < ranges[i].start);
        if (n <= 64 || i % (n / 16) == 0) {
            /* What the ranges before own, found by decoding them. */
            uint64_t lines_before, bytes_before;
            if (sf_zcount_before(path, codec, ranges[i].start, &lines_before, &bytes_before,
                                 &err) != 0)
                fail_msg("count before: %s", err.msg);
            assert_true(lines_before == k);
            assert_true(bytes_before == base);
        }
        sf_zreader *r;
        if (sf_zreader_open(&r, path, codec, &ranges[i], buf_size, 0, &err) != 0)
            fail_msg("open: %s", err.msg);
        const char *line;
        size_t len;
        uint64_t off;
        int rc;
        while ((rc = sf_zreader_next(r, &line, &len, &off, &err)) == 1) {
            if (k >= want->n)
                fail_msg("range %zu: more lines than the text has", i);
            if (len != want->len[k] || memcmp(line, want->p[k], len) != 0)
                fail_msg("range %zu: line %zu differs (len %zu, want %zu)", i, k, len,
                         want->len[k]);
            if (base + off != want->off[k])
                fail_msg("range %zu: line %zu at %llu, want %llu", i, k,
                         (unsigned long long)(base + off), (unsigned long long)want->off[k]);
            k++;
        }
        if (rc != 0)
            fail_msg("range %zu: %d %s", i, rc, err.msg);
        base += sf_zreader_ubytes(r);
        sf_zreader_close(r);
    }
    if (k != want->n)
        fail_msg("%zu lines read, the text has %zu", k, want->n);
    free(ranges);
    return n;
}

typedef struct fixture {
    bytes text;
    line_set lines;
} fixture;

static int setup(void **state)
{
    if (setup_dir(state))
        return -1;
    fixture *f = calloc(1, sizeof *f);
    f->text = make_text(4000, 400);
    f->lines = split_text(&f->text);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    free_lines(&f->lines);
    free(f->text.p);
    free(f);
    return remove_dir(state);
}

/* ---- tests ---- */

static void test_magic_bytes_name_the_codec(void **state)
{
    (void)state;
    assert_int_equal(sf_codec_detect("\x1F\x8B\x08\x00", 4), SF_CODEC_GZIP);
    assert_int_equal(sf_codec_detect("\x28\xB5\x2F\xFD\x00", 5), SF_CODEC_ZSTD);
    assert_int_equal(sf_codec_detect("\x5A\x2A\x4D\x18\x04\x00", 6), SF_CODEC_ZSTD);
    assert_int_equal(sf_codec_detect("BZh91AY", 7), SF_CODEC_BZIP2);
    assert_int_equal(sf_codec_detect("\xFD" "7zXZ\0\0", 7), SF_CODEC_XZ);
    assert_int_equal(sf_codec_detect("{\"a\":1}", 7), SF_CODEC_NONE);
    assert_int_equal(sf_codec_detect("\x1F", 1), SF_CODEC_NONE);
    assert_int_equal(sf_codec_detect("", 0), SF_CODEC_NONE);
    assert_string_equal(sf_codec_name(SF_CODEC_ZSTD), "zstd");
    assert_true(sf_codec_supported(SF_CODEC_GZIP));
    assert_false(sf_codec_supported(SF_CODEC_XZ));
}

static void test_file_codec_is_found_by_content_not_name(void **state)
{
    fixture *f = *state;
    bytes gz = make_gzip(&f->text);
    const char *path = write_file("looks_plain.jsonl", &gz);
    sf_codec c;
    sf_error err;
    assert_int_equal(sf_codec_of_file(path, &c, &err), 0);
    assert_int_equal(c, SF_CODEC_GZIP);
    path = write_file("looks_gzipped.gz", &f->text);
    assert_int_equal(sf_codec_of_file(path, &c, &err), 0);
    assert_int_equal(c, SF_CODEC_NONE);
    free(gz.p);
}

static void test_plain_text_reads_through_the_same_reader(void **state)
{
    fixture *f = *state;
    const char *path = write_file("plain.jsonl", &f->text);
    assert_int_equal(check_ranges(path, SF_CODEC_NONE, 1, &f->lines, 0), 1);
}

static void test_gzip_single_member_reads_every_line(void **state)
{
    fixture *f = *state;
    bytes gz = make_gzip(&f->text);
    const char *path = write_file("one.gz", &gz);
    /* Not made of BGZF blocks: one range, whatever the target. */
    assert_int_equal(check_ranges(path, SF_CODEC_GZIP, 1000, &f->lines, 0), 1);
    assert_int_equal(check_ranges(path, SF_CODEC_GZIP, 1000, &f->lines, 64), 1);
    free(gz.p);
}

static void test_gzip_members_cut_mid_line_read_as_one_stream(void **state)
{
    fixture *f = *state;
    bytes gz = make_gzip_members(&f->text);
    const char *path = write_file("members.gz", &gz);
    assert_int_equal(check_ranges(path, SF_CODEC_GZIP, 1, &f->lines, 0), 1);
    free(gz.p);
}

static void test_bgzf_splits_at_blocks_and_ranges_own_each_line_once(void **state)
{
    fixture *f = *state;
    static const size_t blocks[] = {65280, 1000};
    for (size_t b = 0; b < 2; b++) {
        bytes gz = make_bgzf(&f->text, blocks[b]);
        const char *path = write_file("blocks.bgz", &gz);
        size_t whole = check_ranges(path, SF_CODEC_GZIP, UINT64_MAX, &f->lines, 0);
        assert_int_equal(whole, 1);
        static const uint64_t targets[] = {1, 100, 5000, 100000};
        for (size_t t = 0; t < 4; t++) {
            size_t n = check_ranges(path, SF_CODEC_GZIP, targets[t], &f->lines, 256);
            if (targets[t] < gz.n / 4)
                assert_true(n > 2);
        }
        free(gz.p);
    }
}

static void test_tiny_bgzf_blocks_each_a_range(void **state)
{
    (void)state;
    bytes t = make_text(300, 1000000);
    line_set lines = split_text(&t);
    bytes gz = make_bgzf(&t, 7);
    const char *path = write_file("tiny.bgz", &gz);
    /* Blocks of 7 bytes: most ranges own no line start, some one. */
    assert_true(check_ranges(path, SF_CODEC_GZIP, 1, &lines, 16) > 1000);
    free_lines(&lines);
    free(t.p);
    free(gz.p);
}

static void test_zstd_single_frame_reads_every_line(void **state)
{
    fixture *f = *state;
    bytes z = make_zstd(&f->text);
    const char *path = write_file("one.zst", &z);
    assert_int_equal(check_ranges(path, SF_CODEC_ZSTD, 1, &f->lines, 0), 1);
    free(z.p);
}

static void test_zstd_frames_with_content_size_split_at_frames(void **state)
{
    fixture *f = *state;
    bytes z = make_zstd_frames(&f->text, 0);
    const char *path = write_file("frames.zst", &z);
    static const uint64_t targets[] = {1, 3000, 50000, UINT64_MAX};
    for (size_t t = 0; t < 4; t++) {
        size_t n = check_ranges(path, SF_CODEC_ZSTD, targets[t], &f->lines, 100);
        if (t == 0)
            assert_true(n > 5);
    }
    free(z.p);
}

static void test_zstd_frames_without_content_size_split_by_their_blocks(void **state)
{
    fixture *f = *state;
    bytes z = make_zstd_frames(&f->text, 1);
    const char *path = write_file("streamed.zst", &z);
    assert_true(check_ranges(path, SF_CODEC_ZSTD, 1, &f->lines, 0) > 5);
    free(z.p);
}

static void test_empty_frames_are_never_the_unit_before_a_range(void **state)
{
    (void)state;
    /* Empty frames (a raw block of size 0) between full ones. */
    bytes t = make_text(200, 1000000);
    line_set lines = split_text(&t);
    bytes z = {0};
    size_t half = t.n / 2;
    const unsigned char *parts[2] = {t.p, t.p + half};
    size_t sizes[2] = {half, t.n - half};
    for (int i = 0; i < 2; i++) {
        size_t cap = ZSTD_compressBound(sizes[i]);
        unsigned char *buf = malloc(cap);
        size_t k = ZSTD_compress(buf, cap, parts[i], sizes[i], 1);
        assert_false(ZSTD_isError(k));
        put(&z, buf, k);
        free(buf);
        put(&z, "\x28\xB5\x2F\xFD\x00\x00\x01\x00\x00", 9); /* no FCS, empty raw block */
        put(&z, "\x28\xB5\x2F\xFD\x20\x00\x01\x00\x00", 9); /* FCS 0 */
    }
    const char *path = write_file("empties.zst", &z);
    /* [F1] [E E F2] [E E]: every cut follows a full frame. */
    assert_int_equal(check_ranges(path, SF_CODEC_ZSTD, 1, &lines, 0), 3);
    free_lines(&lines);
    free(t.p);
    free(z.p);
}

static void test_tool_made_files_split_and_read_alike(void **state)
{
    fixture *f = *state;
    const char *plain = write_file("tool.jsonl", &f->text);
    char cmd[1024];
    static const struct {
        const char *tool, *cmd, *ext;
        sf_codec codec;
    } tools[] = {
        {"bgzip", "bgzip -c '%s' > '%s'", "bgz", SF_CODEC_GZIP},
        {"gzip", "gzip -c '%s' > '%s'", "gz", SF_CODEC_GZIP},
        {"zstd", "zstd -q -T0 -c '%s' > '%s'", "zst", SF_CODEC_ZSTD},
        {"pzstd", "pzstd -q -p 2 -c '%s' > '%s' 2>/dev/null", "pzst", SF_CODEC_ZSTD},
    };
    int ran = 0;
    for (size_t i = 0; i < sizeof tools / sizeof tools[0]; i++) {
        snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", tools[i].tool);
        if (system(cmd) != 0) {
            print_message("%s not installed: skipped\n", tools[i].tool);
            continue;
        }
        char out[600];
        snprintf(out, sizeof out, "%s/tool.%s", tmpdir, tools[i].ext);
        snprintf(cmd, sizeof cmd, tools[i].cmd, plain, out);
        assert_int_equal(system(cmd), 0);
        sf_codec c;
        sf_error err;
        assert_int_equal(sf_codec_of_file(out, &c, &err), 0);
        assert_int_equal(c, tools[i].codec);
        size_t n = check_ranges(out, c, 4000, &f->lines, 0);
        print_message("%s: %zu range(s) of ~4 KB\n", tools[i].tool, n);
        if (strcmp(tools[i].tool, "bgzip") == 0)
            assert_true(n > 3);
        ran++;
    }
    assert_true(ran > 0); /* gzip at least is always there */
}

static void test_stream_from_a_pipe_detects_and_decodes(void **state)
{
    fixture *f = *state;
    bytes inputs[3] = {make_zstd_frames(&f->text, 0), make_gzip_members(&f->text), f->text};
    static const sf_codec codecs[3] = {SF_CODEC_ZSTD, SF_CODEC_GZIP, SF_CODEC_NONE};
    for (int i = 0; i < 3; i++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            size_t w = 0;
            while (w < inputs[i].n) {
                ssize_t k = write(fds[1], inputs[i].p + w, inputs[i].n - w);
                if (k <= 0)
                    _exit(1);
                w += (size_t)k;
            }
            _exit(0);
        }
        close(fds[1]);
        sf_zreader *r;
        sf_error err;
        assert_int_equal(sf_zreader_open_fd(&r, fds[0], "-", 128, 0, &err), 0);
        assert_int_equal(sf_zreader_codec(r), codecs[i]);
        const char *line;
        size_t len, k = 0;
        uint64_t off;
        int rc;
        while ((rc = sf_zreader_next(r, &line, &len, &off, &err)) == 1) {
            assert_true(k < f->lines.n);
            assert_int_equal(len, f->lines.len[k]);
            assert_memory_equal(line, f->lines.p[k], len);
            assert_true(off == f->lines.off[k]);
            k++;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(k, f->lines.n);
        assert_true(sf_zreader_ubytes(r) == f->text.n);
        assert_true(sf_zreader_cbytes(r) == inputs[i].n);
        sf_zreader_close(r);
        close(fds[0]);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (i < 2)
            free(inputs[i].p);
    }
}

static void test_cut_or_corrupt_input_is_a_parse_error(void **state)
{
    fixture *f = *state;
    bytes gz = make_gzip(&f->text);
    gz.n /= 2;
    const char *path = write_file("cut.gz", &gz);
    sf_zrange whole = {0, gz.n, 0};
    sf_zreader *r;
    sf_error err;
    assert_int_equal(sf_zreader_open(&r, path, SF_CODEC_GZIP, &whole, 0, 0, &err), 0);
    const char *line;
    size_t len;
    uint64_t off;
    int rc;
    while ((rc = sf_zreader_next(r, &line, &len, &off, &err)) == 1)
        ;
    assert_int_equal(rc, SF_E_PARSE);
    if (!strstr(err.msg, "cut short"))
        fail_msg("%s", err.msg);
    /* The error sticks. */
    assert_int_equal(sf_zreader_next(r, &line, &len, &off, &err), SF_E_PARSE);
    sf_zreader_close(r);

    bytes z = make_zstd(&f->text);
    z.p[z.n / 2] ^= 0x55;
    z.p[z.n / 2 + 1] ^= 0x55;
    path = write_file("corrupt.zst", &z);
    whole.end = z.n;
    assert_int_equal(sf_zreader_open(&r, path, SF_CODEC_ZSTD, &whole, 0, 0, &err), 0);
    while ((rc = sf_zreader_next(r, &line, &len, &off, &err)) == 1)
        ;
    assert_int_equal(rc, SF_E_PARSE);
    sf_zreader_close(r);
    free(gz.p);
    free(z.p);
}

static void test_unsupported_codec_is_refused_by_name(void **state)
{
    (void)state;
    bytes b = {0};
    put(&b, "BZh91AY&SY", 10);
    const char *path = write_file("x.bz2", &b);
    sf_zrange whole = {0, b.n, 0};
    sf_zreader *r = NULL;
    sf_error err;
    assert_int_equal(sf_zreader_open(&r, path, SF_CODEC_BZIP2, &whole, 0, 0, &err), SF_E_INVAL);
    assert_non_null(strstr(err.msg, "bzip2"));
    free(b.p);
}

static void test_line_over_max_line_is_skipped_with_a_limit_error(void **state)
{
    (void)state;
    bytes t = {0};
    put(&t, "short\n", 6);
    for (int i = 0; i < 1000; i++)
        put(&t, "xxxxxxxxxx", 10);
    put(&t, "\nafter\n", 7);
    bytes gz = make_gzip(&t);
    const char *path = write_file("long.gz", &gz);
    sf_zrange whole = {0, gz.n, 0};
    sf_zreader *r;
    sf_error err;
    assert_int_equal(sf_zreader_open(&r, path, SF_CODEC_GZIP, &whole, 64, 1000, &err), 0);
    const char *line;
    size_t len;
    uint64_t off;
    assert_int_equal(sf_zreader_next(r, &line, &len, &off, &err), 1);
    assert_int_equal(len, 5);
    assert_int_equal(sf_zreader_next(r, &line, &len, &off, &err), SF_E_LIMIT);
    assert_true(off == 6);
    assert_int_equal(sf_zreader_next(r, &line, &len, &off, &err), 1);
    assert_int_equal(len, 5);
    assert_memory_equal(line, "after", 5);
    assert_true(off == 10007);
    assert_int_equal(sf_zreader_next(r, &line, &len, &off, &err), 0);
    assert_true(sf_zreader_ubytes(r) == t.n);
    sf_zreader_close(r);
    free(t.p);
    free(gz.p);
}

static void test_empty_files_have_no_lines(void **state)
{
    (void)state;
    bytes empty = {0};
    bytes gz = {0}, z = {0};
    gzip_member(&gz, (const unsigned char *)"", 0);
    put(&z, "\x28\xB5\x2F\xFD\x20\x00\x01\x00\x00", 9); /* one empty raw block */
    const bytes *files[3] = {&empty, &gz, &z};
    static const sf_codec codecs[3] = {SF_CODEC_NONE, SF_CODEC_GZIP, SF_CODEC_ZSTD};
    for (int i = 0; i < 3; i++) {
        const char *path = write_file("empty", files[i]);
        sf_zrange *ranges;
        size_t n, units;
        sf_error err;
        assert_int_equal(sf_decompress_split(path, codecs[i], files[i]->n, 1, &ranges, &n,
                                             &units, &err),
                         0);
        assert_int_equal(n, 1);
        sf_zreader *r;
        if (sf_zreader_open(&r, path, codecs[i], &ranges[0], 0, 0, &err) != 0)
            fail_msg("%s", err.msg);
        const char *line;
        size_t len;
        uint64_t off;
        int rc = sf_zreader_next(r, &line, &len, &off, &err);
        if (rc != 0)
            fail_msg("codec %d: %d %s", i, rc, err.msg);
        sf_zreader_close(r);
        free(ranges);
    }
    free(gz.p);
    free(z.p);
}

static void test_blocks_of_whole_lines_rebuild_every_line_and_offset(void **state)
{
    fixture *f = *state;
    bytes z = make_zstd_frames(&f->text, 0);
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        for (size_t w = 0; w < z.n;) {
            ssize_t k = write(fds[1], z.p + w, z.n - w);
            if (k <= 0)
                _exit(1);
            w += (size_t)k;
        }
        _exit(0);
    }
    close(fds[1]);
    sf_zreader *r;
    sf_error err;
    const size_t max_line = 120000;
    assert_int_equal(sf_zreader_open_fd(&r, fds[0], "-", 0, max_line, &err), 0);
    size_t cap = max_line + 2;
    char *block = malloc(cap);
    size_t used, k = 0, blocks = 0;
    uint64_t off;
    int rc;
    while ((rc = sf_zreader_next_block(r, block, cap, &used, &off, &err)) == 1) {
        assert_true(used > 0 && used <= cap);
        blocks++;
        size_t pos = 0, len;
        const char *line;
        uint64_t rel;
        while (sf_zblock_next_line(block, used, &pos, &line, &len, &rel)) {
            assert_true(k < f->lines.n);
            assert_int_equal(len, f->lines.len[k]);
            assert_memory_equal(line, f->lines.p[k], len);
            assert_true(off + rel == f->lines.off[k]);
            k++;
        }
    }
    assert_int_equal(rc, 0);
    assert_int_equal(k, f->lines.n);
    assert_true(blocks > 10);
    free(block);
    sf_zreader_close(r);
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    free(z.p);
}

static void test_block_reports_a_too_long_line_after_the_lines_before_it(void **state)
{
    (void)state;
    bytes t = {0};
    put(&t, "ab\r\ncd\n", 7);
    for (int i = 0; i < 300; i++)
        put(&t, "x", 1);
    put(&t, "\nef", 3);
    const char *path = write_file("blk.txt", &t);
    sf_zrange whole = {0, t.n, 0};
    sf_zreader *r;
    sf_error err;
    assert_int_equal(sf_zreader_open(&r, path, SF_CODEC_NONE, &whole, 64, 100, &err), 0);
    char block[102];
    size_t used;
    uint64_t off;
    /* The lines before the long one come first, then its error. */
    assert_int_equal(sf_zreader_next_block(r, block, sizeof block, &used, &off, &err), 1);
    assert_int_equal(used, 7);
    assert_true(off == 0);
    assert_memory_equal(block, "ab\r\ncd\n", 7);
    assert_int_equal(sf_zreader_next_block(r, block, sizeof block, &used, &off, &err),
                     SF_E_LIMIT);
    assert_int_equal(used, 0);
    assert_true(off == 7);
    assert_non_null(strstr(err.msg, "longer than 100"));
    assert_int_equal(sf_zreader_next_block(r, block, sizeof block, &used, &off, &err), 1);
    assert_int_equal(used, 2);
    assert_true(off == 308);
    assert_memory_equal(block, "ef", 2);
    assert_int_equal(sf_zreader_next_block(r, block, sizeof block, &used, &off, &err), 0);
    sf_zreader_close(r);
    free(t.p);
}

static void test_fill_block_closes_at_target_and_counts_lines(void **state)
{
    (void)state;
    bytes t = {0};
    for (int i = 0; i < 100; i++) {
        char l[32];
        int n = snprintf(l, sizeof l, "{\"i\":%d}\n", i);
        put(&t, l, (size_t)n);
    }
    const char *path = write_file("fill.txt", &t);
    sf_zrange whole = {0, t.n, 0};
    sf_zreader *r;
    sf_error err;
    assert_int_equal(sf_zreader_open(&r, path, SF_CODEC_NONE, &whole, 64, 100, &err), 0);
    char block[102];
    size_t used, total = 0, nblocks = 0;
    uint64_t off, lines, all = 0;
    int rc;
    while ((rc = sf_zreader_fill_block(r, block, sizeof block, 40, &used, &off, &lines, &err)) ==
           1) {
        /* As many whole lines as fit in the target: the next one would
         * not (lines here are 8 to 11 bytes); never a cut line. */
        assert_true(used <= 40);
        assert_true(used > 40 - 11 || total + used == t.n);
        assert_true(off == total);
        assert_memory_equal(block, t.p + total, used);
        assert_int_equal(block[used - 1], '\n');
        size_t pos = 0, len;
        const char *line;
        uint64_t rel, n = 0;
        while (sf_zblock_next_line(block, used, &pos, &line, &len, &rel))
            n++;
        assert_true(n == lines);
        all += lines;
        total += used;
        nblocks++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(total, t.n);
    assert_true(all == 100);
    assert_true(nblocks > 20);
    sf_zreader_close(r);
    free(t.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_magic_bytes_name_the_codec),
        cmocka_unit_test_setup_teardown(test_fill_block_closes_at_target_and_counts_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_codec_is_found_by_content_not_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plain_text_reads_through_the_same_reader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gzip_single_member_reads_every_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gzip_members_cut_mid_line_read_as_one_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bgzf_splits_at_blocks_and_ranges_own_each_line_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tiny_bgzf_blocks_each_a_range, setup_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_zstd_single_frame_reads_every_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zstd_frames_with_content_size_split_at_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zstd_frames_without_content_size_split_by_their_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_frames_are_never_the_unit_before_a_range, setup_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_tool_made_files_split_and_read_alike, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_from_a_pipe_detects_and_decodes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cut_or_corrupt_input_is_a_parse_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsupported_codec_is_refused_by_name, setup_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_line_over_max_line_is_skipped_with_a_limit_error, setup_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_empty_files_have_no_lines, setup_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_blocks_of_whole_lines_rebuild_every_line_and_offset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_block_reports_a_too_long_line_after_the_lines_before_it, setup_dir, remove_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

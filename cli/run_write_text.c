/* run_write_text.c - `shardflow run`, the in-memory repartition write to
 * CSV without a table of result rows: the reduce formats each row into
 * its partition's CSV text and a byte image of its sort keys
 * (sf_rows_image_append) as it makes the row; the write route ships each
 * partition's text and images to its writer (chosen as route_balanced
 * chooses, run_write.c), and the writer sorts each partition's images
 * and writes its texts in that order.
 *
 * Invariant: the order is sf_rows_sort_dir's over the write's keys
 * (sf_run_write_keys). That holds because the image's columns are the
 * keys after the partition columns, each once, up to the last group
 * column, and every group column is among them (sf_run_text_plan): rows
 * are groups, so no two rows of a partition have equal images, and the
 * keys after those and every tie-break never decide. Partition columns
 * must not be strings: the write makes an empty string NULL, which
 * could give two groups one partition and one image. */
#include "cli/run_internal.h"

#include <stdlib.h>
#include <string.h>

#include "core/bigmem.h"
#include "core/hash.h"
#include "io/table_writer.h"
#include "partition/partitioner.h"

/* One partition value's rows on this rank: their numbers in the store
 * (sf_run_text), in the order they came. */
typedef struct text_part {
    unsigned char *pk; /* the partition values, encoded (sf_value_encode) */
    size_t pklen;
    uint16_t bucket; /* its writer bucket (sf_run_write_bucket) */
    size_t n, sent;  /* rows; rows shipped so far */
    sf_buf ids;      /* uint32_t per row */
} text_part;

#define TEXT_CACHE 256

struct sf_run_text {
    int cols[64];           /* the image's columns ... */
    unsigned char desc[64]; /* ... and their directions */
    size_t ncols;
    sf_hmap *map; /* encoded partition values -> part number + 1 */
    text_part *part;
    size_t npart, cap;
    /* Every row's text and image, made or received, one after the other
     * in one buffer each (row r: text[tat[r], tat[r + 1])): their pages
     * are touched in order, and large ones fault in as huge pages
     * (store_reserve). */
    sf_buf text, img, tat, iat;
    sf_buf key;     /* a row's encoded partition values */
    sf_buf hashkey; /* sf_run_write_bucket's buffer */
    /* One partition column: its recent values' parts, by a hash of the
     * value (a miss, or NULL, asks the map). */
    int64_t cval[TEXT_CACHE];
    uint32_t cpart[TEXT_CACHE]; /* part number + 1; 0 empty */
    /* A row's room in the stores from its key's length (key_room), or
     * key_mult 0: measured value by value. */
    size_t text_fixed, img_fixed, key_mult;
    uint64_t rows;  /* rows held (made and received, less those shipped) */
    size_t next;    /* the route: the part being shipped */
    const int *owner;
};

/* Rows a route record holds at most. */
#define TEXT_RECORD_ROWS 1024

/* Rows text_round fetches ahead of the one it reads. */
#define ROUTE_AHEAD 16

int sf_run_text_plan(const sf_run *R, sf_run_text *t)
{
    const sf_job *job = R->job;
    const sf_job_output *o = &job->output;
    sf_table_format f = SF_TABLE_CSV;
    sf_table_format_parse(o->format, &f);
    if (!sf_run_write_early(R) || f != SF_TABLE_CSV || strcmp(o->layout, "single") == 0 ||
        R->res || job->ngroup == 0 || job->nresult != job->ngroup + job->naggs)
        return 0;
    for (size_t k = 0; k < o->npartition; k++) {
        sf_type pt = job->result_types[o->partition_by[k]];
        if (pt != SF_DATE && pt != SF_INT && pt != SF_TIMESTAMP && pt != SF_BOOL)
            return 0;
    }
    /* The keys after the partition columns: sort_by, then the written
     * columns; each column once (a repeat compares equal), partition
     * columns never (equal within a partition). */
    size_t nk = o->nsort + o->ncolumns, n = 0, left = job->ngroup, used[64] = {0};
    for (size_t k = 0; k < o->npartition; k++) {
        if ((size_t)o->partition_by[k] < job->ngroup)
            left--;
        used[o->partition_by[k] & 63] = 1;
    }
    if (job->nresult > 64)
        return 0;
    for (size_t k = 0; k < nk && left; k++) {
        int c = k < o->nsort ? o->sort_by[k] : o->columns[k - o->nsort];
        int d = k < o->nsort ? o->sort_desc[k] : 0;
        if (used[c])
            continue;
        sf_type ct = job->result_types[c];
        if ((size_t)c >= job->ngroup ||
            (ct != SF_STRING && ct != SF_DATE && ct != SF_INT && ct != SF_TIMESTAMP &&
             ct != SF_BOOL))
            return 0; /* an aggregate, or a type without an image, before the last group */
        used[c] = 1;
        left--;
        if (t) {
            t->cols[n] = c;
            t->desc[n] = (unsigned char)(d != 0);
        }
        n++;
    }
    if (left)
        return 0;
    if (t)
        t->ncols = n;
    return 1;
}

/* store_reserve's growth: a buffer of SF_BIGMEM_HUGE or more is made
 * anew, advised for huge pages, and the bytes copied (realloc would
 * touch the new pages before the advice could be given, 4 KiB at a
 * time). Returns 0 or SF_E_NOMEM. */
static int store_grow(sf_buf *b, size_t need)
{
    size_t cap = b->cap ? 2 * b->cap : (size_t)1 << 16;
    while (cap - b->n < need)
        cap *= 2;
    if (cap < SF_BIGMEM_HUGE)
        return sf_buf_reserve(b, need);
    unsigned char *p = malloc(cap);
    if (!p)
        return SF_E_NOMEM;
    sf_bigmem_advise(p, cap);
    if (b->n)
        memcpy(p, b->p, b->n);
    free(b->p);
    b->p = p;
    b->cap = cap;
    return 0;
}

/* Room for need more bytes in b (the check inline: the reduce asks twice
 * a row). Returns 0 or SF_E_NOMEM. */
static inline int store_reserve(sf_buf *b, size_t need)
{
    return b->cap - b->n >= need ? 0 : store_grow(b, need);
}

static inline int put_at(sf_buf *b, uint64_t at)
{
    if (b->cap - b->n < sizeof at && store_reserve(b, sizeof at) != 0)
        return SF_E_NOMEM;
    memcpy(b->p + b->n, &at, sizeof at);
    b->n += sizeof at;
    return 0;
}

/* When every string a row can hold is a group value (no aggregate
 * written is a min or max), their lengths add up to at most the group
 * key's length (each value is encoded in it), so a row's text takes at
 * most text_fixed + 2 * key_mult * klen bytes (sf_csv_row_room: 2n + 2
 * for a string, SF_FMT_BUF for another value, a separator each; key_mult
 * the most times one group column is written) and its image at most
 * img_fixed + 2 * klen (sf_rows_image_size): one check a row, not a pass
 * over its values for each store. */
static void key_room(const sf_job *job, sf_run_text *t)
{
    const sf_job_output *o = &job->output;
    size_t mult = 1;
    for (size_t k = 0; k < o->ncolumns; k++) {
        size_t c = (size_t)o->columns[k], m = 0;
        if (c >= job->ngroup && job->aggs[c - job->ngroup].kind != SF_AGG_COUNT &&
            job->aggs[c - job->ngroup].kind != SF_AGG_COUNT_IF &&
            job->aggs[c - job->ngroup].kind != SF_AGG_COUNT_DISTINCT &&
            job->aggs[c - job->ngroup].kind != SF_AGG_SUM &&
            job->aggs[c - job->ngroup].kind != SF_AGG_MEAN)
            return; /* a min or max: it may be a string (key_mult stays 0) */
        for (size_t q = 0; q < o->ncolumns; q++)
            m += o->columns[q] == (int)c;
        mult = m > mult ? m : mult;
    }
    t->key_mult = mult;
    t->text_fixed = o->ncolumns * (SF_FMT_BUF + 3) + 1;
    t->img_fixed = t->ncols * 12;
}

int sf_run_text_begin(sf_run *R, size_t rows)
{
    sf_run_text_free(R);
    sf_run_text *t = calloc(1, sizeof *t);
    if (!t)
        return SF_E_NOMEM;
    sf_run_text_plan(R, t);
    key_room(R->job, t);
    t->map = sf_hmap_new(sizeof(uint32_t), 64);
    t->key = t->hashkey = (sf_buf)SF_BUF_INIT;
    t->text = t->img = t->tat = t->iat = (sf_buf)SF_BUF_INIT;
    R->text = t;
    /* The offsets of rows this rank makes, and about as many again that
     * the route brings (the writers are dealt by rows). */
    size_t room = (R->nranks > 1 ? 2 : 1) * rows + 1;
    /* The texts and images at a guess of 64 and 32 bytes a row (S3: 61
     * and 19): address space only until written, in huge pages; more
     * grows the store. */
    if (!t->map || store_reserve(&t->tat, room * 8) || store_reserve(&t->iat, room * 8) ||
        store_reserve(&t->text, room * 64) || store_reserve(&t->img, room * 32) ||
        put_at(&t->tat, 0) || put_at(&t->iat, 0))
        return SF_E_NOMEM;
    return 0;
}

static void part_free(text_part *p)
{
    free(p->pk);
    sf_buf_free(&p->ids);
}

void sf_run_text_free(sf_run *R)
{
    sf_run_text *t = R->text;
    if (!t)
        return;
    for (size_t i = 0; i < t->npart; i++)
        part_free(&t->part[i]);
    free(t->part);
    sf_buf_free(&t->text);
    sf_buf_free(&t->img);
    sf_buf_free(&t->tat);
    sf_buf_free(&t->iat);
    sf_hmap_free(t->map);
    sf_buf_free(&t->key);
    sf_buf_free(&t->hashkey);
    free(t);
    R->text = NULL;
}

uint64_t sf_run_text_rows(const sf_run *R)
{
    return R->text ? R->text->rows : 0;
}

/* The one partition value's cache slot (a date, int64, timestamp or
 * bool: sf_run_text_plan). */
static inline size_t cache_slot(int64_t v)
{
    return (size_t)(((uint64_t)v * 0x9e3779b97f4a7c15ull) >> 56);
}

static inline int64_t cache_value(const sf_value *v)
{
    return v->type == SF_DATE ? v->u.date : v->type == SF_BOOL ? v->u.b : v->u.i;
}

/* The part of the partition values in t->key (new: empty, with bucket).
 * Returns it, or NULL when out of memory. */
static text_part *part_of(sf_run_text *t, uint16_t bucket)
{
    int inserted = 0;
    uint32_t *id = sf_hmap_upsert(t->map, t->key.p, t->key.n,
                                  sf_hash_bytes(t->key.p, t->key.n, 0), &inserted);
    if (!id)
        return NULL;
    if (*id)
        return &t->part[*id - 1];
    if (t->npart == t->cap) {
        size_t m = t->cap ? 2 * t->cap : 64;
        text_part *p = realloc(t->part, m * sizeof *p);
        if (!p)
            return NULL;
        t->part = p;
        t->cap = m;
    }
    text_part *p = &t->part[t->npart];
    *p = (text_part){.pk = malloc(t->key.n ? t->key.n : 1), .pklen = t->key.n,
                     .bucket = bucket, .ids = SF_BUF_INIT};
    if (!p->pk)
        return NULL;
    memcpy(p->pk, t->key.p, t->key.n);
    *id = (uint32_t)++t->npart;
    return p;
}

/* The row whose text and image were just appended to the store: its
 * offsets, and its number in part p's list. Returns 0 or SF_E_NOMEM. */
static int add_row(sf_run_text *t, text_part *p)
{
    uint32_t r = (uint32_t)(t->tat.n / 8 - 1);
    if (put_at(&t->tat, t->text.n) || put_at(&t->iat, t->img.n) ||
        (p->ids.cap - p->ids.n < sizeof r && sf_buf_reserve(&p->ids, sizeof r) != 0))
        return SF_E_NOMEM;
    memcpy(p->ids.p + p->ids.n, &r, sizeof r);
    p->ids.n += sizeof r;
    p->n++;
    t->rows++;
    return 0;
}

int sf_run_text_add(sf_run *R, sf_value *row, size_t klen)
{
    sf_run_text *t = R->text;
    const sf_job_output *o = &R->job->output;
    const sf_value *pv = o->npartition == 1 ? &row[o->partition_by[0]] : NULL;
    int cached = pv && pv->type == R->job->result_types[o->partition_by[0]];
    size_t cs = cached ? cache_slot(cache_value(pv)) : 0;
    text_part *p = NULL;
    int rc = 0;
    if (cached && t->cpart[cs] && t->cval[cs] == cache_value(pv)) {
        p = &t->part[t->cpart[cs] - 1];
    } else {
        t->key.n = 0;
        for (size_t k = 0; k < o->npartition; k++) {
            const sf_value *v = &row[o->partition_by[k]];
            if (sf_buf_reserve(&t->key, sf_value_encoded_size(v)) != 0)
                return SF_E_NOMEM;
            t->key.n += sf_value_encode(v, t->key.p + t->key.n);
        }
        uint16_t bucket = 0;
        rc = sf_run_write_bucket(R, row, &t->hashkey, &bucket);
        p = rc ? NULL : part_of(t, bucket);
        if (!p)
            return SF_E_NOMEM;
        if (cached) {
            t->cval[cs] = cache_value(pv);
            t->cpart[cs] = (uint32_t)(p - t->part) + 1;
        }
    }
    /* Room for the images in the store (an image is at most 2 + 2 * n +
     * 2 bytes for a string of n, 10 otherwise), then each written there
     * inline. */
    size_t iroom = t->img_fixed + 2 * klen;
    for (size_t c = 0; !t->key_mult && c < t->ncols; c++)
        iroom += sf_rows_image_size(&row[t->cols[c]]);
    if (store_reserve(&t->img, iroom))
        return SF_E_NOMEM;
    for (size_t c = 0; c < t->ncols && !rc; c++) {
        size_t w = sf_rows_image_put(t->img.p + t->img.n, &row[t->cols[c]], t->desc[c]);
        t->img.n += w;
        rc = w ? 0 : SF_E_TYPE;
    }
    if (rc == SF_E_TYPE) /* a group value of another type than its column's */
        return sf_error_set(&R->err, rc, "column '%s': a value that cannot be ordered "
                            "by its bytes", R->job->result_names[t->cols[0]]);
    size_t room = t->key_mult ? t->text_fixed + 2 * t->key_mult * klen
                              : sf_csv_row_room(row, o->ncolumns, o->columns);
    if (rc || store_reserve(&t->text, room))
        return SF_E_NOMEM;
    t->text.n += sf_csv_format_row(row, o->ncolumns, o->columns, (char *)t->text.p + t->text.n);
    return add_row(t, p);
}

/* ---- the route: each partition's rows to its writer ---- */

static inline void put_u32(unsigned char *p, uint32_t v)
{
    memcpy(p, &v, sizeof v);
}

static inline uint32_t get_u32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* One round of records (sf_shuffle_fill_fn). A record: the partition
 * values' length and bytes, a row count m, m (text, image) lengths, the
 * texts, the images. A partition whose rows have all left is freed. */
static int text_round(void *ctx, sf_buf *out, size_t quota, int *done)
{
    sf_run *R = ctx;
    sf_run_text *t = R->text;
    for (; t->next < t->npart; t->next++) {
        text_part *p = &t->part[t->next];
        int to = t->owner[p->bucket];
        if (to == R->rank)
            continue;
        const uint64_t *ta = (const uint64_t *)(const void *)t->tat.p;
        const uint64_t *ia = (const uint64_t *)(const void *)t->iat.p;
        const uint32_t *id = (const uint32_t *)(const void *)p->ids.p;
        while (p->sent < p->n) {
            size_t a = p->sent, m = p->n - a < TEXT_RECORD_ROWS ? p->n - a : TEXT_RECORD_ROWS;
            size_t tb = 0, ib = 0;
            /* A partition's rows lie scattered among every other's: their
             * offsets, then their texts and images, are fetched ahead. */
            for (size_t k = a; k < a + m; k++) {
                if (k + ROUTE_AHEAD < p->n) {
                    __builtin_prefetch(&ta[id[k + ROUTE_AHEAD]]);
                    __builtin_prefetch(&ia[id[k + ROUTE_AHEAD]]);
                }
                tb += (size_t)(ta[id[k] + 1] - ta[id[k]]);
                ib += (size_t)(ia[id[k] + 1] - ia[id[k]]);
            }
            /* A round's records for a rank fill one buffer, kept for the
             * next round: made at once for the whole quota (huge pages,
             * store_reserve), not grown from 256 bytes by copies and
             * 4 KiB faults. */
            size_t need = 4 + 8 + p->pklen + 8 * m + tb + ib;
            unsigned char *q = NULL;
            if (out[to].cap - out[to].n >= need ||
                store_reserve(&out[to], out[to].n ? need : quota + need) == 0)
                q = sf_shuffle_reserve(&out[to], need - 4);
            if (!q)
                return sf_error_set(&R->err, SF_E_NOMEM, "out of memory routing rows");
            put_u32(q, (uint32_t)p->pklen);
            memcpy(q + 4, p->pk, p->pklen);
            q += 4 + p->pklen;
            put_u32(q, (uint32_t)m);
            q += 4;
            unsigned char *qt = q + 8 * m, *qi = qt + tb;
            for (size_t k = a; k < a + m; k++, q += 8) {
                if (k + ROUTE_AHEAD / 2 < a + m) {
                    __builtin_prefetch(t->text.p + ta[id[k + ROUTE_AHEAD / 2]]);
                    __builtin_prefetch(t->img.p + ia[id[k + ROUTE_AHEAD / 2]]);
                }
                size_t tn = (size_t)(ta[id[k] + 1] - ta[id[k]]);
                size_t in = (size_t)(ia[id[k] + 1] - ia[id[k]]);
                put_u32(q, (uint32_t)tn);
                put_u32(q + 4, (uint32_t)in);
                memcpy(qt, t->text.p + ta[id[k]], tn);
                memcpy(qi, t->img.p + ia[id[k]], in);
                qt += tn;
                qi += in;
            }
            p->sent += m;
            if (out[to].n >= quota)
                return 0;
        }
        t->rows -= p->n;
        sf_buf_free(&p->ids);
        p->n = 0;
    }
    *done = 1;
    return 0;
}

/* A received record (sf_shuffle_fn): its rows appended to their
 * partition's. */
static int text_keep(void *ctx, const unsigned char *rec, size_t len, int source)
{
    sf_run *R = ctx;
    sf_run_text *t = R->text;
    size_t pk = len >= 8 ? get_u32(rec) : SIZE_MAX, m = 0, tb = 0, ib = 0;
    int rc = len >= 8 && pk <= len - 8 ? 0 : SF_E_PARSE;
    const unsigned char *q = rec + 4 + (rc ? 0 : pk);
    if (!rc) {
        m = get_u32(q);
        q += 4;
        rc = m <= (len - 8 - pk) / 8 ? 0 : SF_E_PARSE;
    }
    for (size_t k = 0; k < m && !rc; k++) {
        tb += get_u32(q + 8 * k);
        ib += get_u32(q + 8 * k + 4);
    }
    rc = rc ? rc : (8 + pk + 8 * m + tb + ib == len ? 0 : SF_E_PARSE);
    text_part *p = NULL;
    t->key.n = 0;
    if (!rc)
        rc = sf_buf_append(&t->key, rec + 4, pk) ? SF_E_NOMEM : 0;
    if (!rc)
        rc = (p = part_of(t, 0)) != NULL ? 0 : SF_E_NOMEM;
    const unsigned char *texts = q + 8 * m, *imgs = texts + tb;
    if (!rc && (store_reserve(&t->text, tb) || store_reserve(&t->img, ib)))
        rc = SF_E_NOMEM;
    /* The record's texts and images lie one after the other, as in the
     * store: each block in one copy, then the rows' ends. */
    if (!rc) {
        memcpy(t->text.p + t->text.n, texts, tb);
        memcpy(t->img.p + t->img.n, imgs, ib);
    }
    for (size_t k = 0; k < m && !rc; k++) {
        t->text.n += get_u32(q + 8 * k);
        t->img.n += get_u32(q + 8 * k + 4);
        rc = add_row(t, p);
    }
    if (rc)
        sf_error_set(&R->err, rc, "bad or unstorable row text record from rank %d", source);
    return rc;
}

/* ---- the writer ---- */

/* Partitions in output order: by their values, each partition column in
 * its direction (qsort has no context: the run writes one table at a
 * time, on one thread). */
static const sf_job_output *order_out;
static const sf_value *order_vals;

static int cmp_part_vals(const void *a, const void *b)
{
    size_t np = order_out->npartition;
    const sf_value *x = order_vals + *(const uint32_t *)a * np;
    const sf_value *y = order_vals + *(const uint32_t *)b * np;
    for (size_t k = 0; k < np; k++) {
        int c = sf_value_cmp(&x[k], &y[k]);
        if (c)
            return c; /* partition keys ascend (sf_run_write_keys) */
    }
    return 0;
}

/* Partition p's file: its rows' texts in the order of their images. */
static int write_part(sf_run *R, const text_part *p, const sf_value *pv, uint32_t *order,
                      sf_rows_image_room **room)
{
    const sf_run_text *t = R->text;
    const sf_job *job = R->job;
    const sf_job_output *o = &job->output;
    sf_value first[64];
    for (size_t c = 0; c < job->nresult; c++)
        first[c] = sf_null();
    for (size_t k = 0; k < o->npartition; k++)
        first[o->partition_by[k]] = pv[k];
    const uint32_t *id = (const uint32_t *)(const void *)p->ids.p;
    int rc = sf_rows_sort_images(t->img.p, (const uint64_t *)(const void *)t->iat.p, id, p->n,
                                 order, room);
    if (rc)
        return sf_error_set(&R->err, rc, "out of memory sorting output rows");
    return sf_run_write_texts(R, first, 0, (const char *)t->text.p,
                              (const uint64_t *)(const void *)t->tat.p, id, order, p->n);
}

/* This rank's partitions, each sorted and written. */
static int write_parts(sf_run *R)
{
    sf_run_text *t = R->text;
    const sf_job_output *o = &R->job->output;
    size_t np = o->npartition, nw = 0, largest = 0;
    uint32_t *idx = malloc((t->npart ? t->npart : 1) * sizeof *idx);
    sf_value *vals = malloc((t->npart ? t->npart : 1) * (np ? np : 1) * sizeof *vals);
    int rc = idx && vals ? 0 : SF_E_NOMEM;
    for (size_t i = 0; i < t->npart && !rc; i++) {
        const text_part *p = &t->part[i];
        if (!p->n)
            continue;
        size_t at = 0;
        for (size_t k = 0; k < np && !rc; k++) {
            size_t used = at < p->pklen ? sf_value_decode(p->pk + at, p->pklen - at,
                                                          &vals[nw * np + k])
                                        : 0;
            rc = used ? 0 : SF_E_PARSE;
            at += used;
        }
        idx[nw++] = (uint32_t)i;
        largest = p->n > largest ? p->n : largest;
    }
    if (rc) {
        free(idx);
        free(vals);
        return sf_error_set(&R->err, rc,
                            rc == SF_E_PARSE ? "bad partition values in a row text record"
                                             : "out of memory writing rows");
    }
    /* idx[k] is a part number and vals its k-th set: sort positions. */
    uint32_t *pos = malloc((nw ? nw : 1) * sizeof *pos);
    uint32_t *order = malloc((largest ? largest : 1) * sizeof *order);
    rc = pos && order ? 0 : sf_error_set(&R->err, SF_E_NOMEM, "out of memory writing rows");
    for (size_t k = 0; k < nw; k++)
        pos[k] = (uint32_t)k;
    order_out = o;
    order_vals = vals;
    if (pos)
        qsort(pos, nw, sizeof *pos, cmp_part_vals);
    uint64_t done = 0;
    sf_rows_image_room *room = NULL;
    if (!rc && sf_rows_image_room_reserve(&room, largest) != 0)
        rc = sf_error_set(&R->err, SF_E_NOMEM, "out of memory sorting output rows");
    for (size_t k = 0; k < nw && !rc; k++) {
        const text_part *p = &t->part[idx[pos[k]]];
        rc = write_part(R, p, &vals[pos[k] * np], order, &room);
        done += p->n;
        sf_progress_update(&R->prog, done);
    }
    sf_rows_image_room_free(room);
    free(pos);
    free(order);
    free(idx);
    free(vals);
    return rc;
}

int sf_run_text_write(sf_run *R)
{
    sf_run_text *t = R->text;
    uint64_t *count = calloc(2 * SF_RUN_WRITE_BUCKETS, sizeof *count);
    int *owner = malloc(SF_RUN_WRITE_BUCKETS * sizeof *owner);
    int rc = count && owner ? 0 : SF_E_NOMEM;
    for (size_t i = 0; i < t->npart && !rc; i++)
        count[t->part[i].bucket] += t->part[i].n;
    if (rc)
        sf_error_set(&R->err, rc, "out of memory routing rows to their writers");
    if (!sf_run_agree(R, rc, 0)) {
        rc = sf_run_write_deal(R, count, count + SF_RUN_WRITE_BUCKETS, owner);
        if (sf_run_agree(R, rc, 0)) {
            rc = SF_RUN_AGREED;
        } else {
            t->owner = owner;
            t->next = 0;
            sf_progress_init(&R->prog, R->progress, "run: write shuffle");
            rc = R->nranks > 1
                     ? sf_shuffle_exchange_fill(R->comm, text_round, R, R->o->shuffle_round,
                                                text_keep, R, &R->shuffle, &R->prog, &R->err)
                     : 0;
            t->owner = NULL;
            rc = sf_run_agree(R, rc, 0) ? SF_RUN_AGREED : 0;
        }
    } else {
        rc = SF_RUN_AGREED;
    }
    free(count);
    free(owner);
    if (rc)
        return rc;
    sf_progress_init(&R->prog, R->progress, "run: write, rank 0");
    sf_progress_count_rows(&R->prog);
    sf_progress_start(&R->prog, t->rows);
    rc = write_parts(R);
    sf_progress_end(&R->prog, t->rows);
    /* Written: the next output of a several-output job starts without. */
    sf_run_text_free(R);
    return rc;
}

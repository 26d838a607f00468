/* thrift_compact.c - Thrift compact protocol writer and reader (see the
 * header for the subset and the invariants). */
#include "io/thrift_compact.h"

#include <string.h>

#include "core/error.h"

/* ---- writer ---------------------------------------------------------- */

void sf_tc_writer_init(sf_tc_writer *w, sf_buf *out)
{
    memset(w, 0, sizeof *w);
    w->out = out;
}

static void tc_put(sf_tc_writer *w, const void *p, size_t n)
{
    if (!w->err && sf_buf_append(w->out, p, n) != 0)
        w->err = SF_E_NOMEM;
}

static void tc_byte(sf_tc_writer *w, unsigned v)
{
    unsigned char c = (unsigned char)v;
    tc_put(w, &c, 1);
}

static void tc_varint(sf_tc_writer *w, uint64_t v)
{
    unsigned char b[10];
    size_t n = 0;
    while (v >= 0x80) {
        b[n++] = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    b[n++] = (unsigned char)v;
    tc_put(w, b, n);
}

static uint64_t zigzag(int64_t v) { return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63); }

void sf_tc_struct_begin(sf_tc_writer *w)
{
    if (w->depth >= SF_TC_MAX_DEPTH) {
        w->err = SF_E_INTERNAL;
        return;
    }
    w->last[w->depth++] = 0;
}

void sf_tc_struct_end(sf_tc_writer *w)
{
    tc_byte(w, SF_TC_STOP);
    if (w->depth > 0)
        w->depth--;
    else
        w->err = SF_E_INTERNAL;
}

void sf_tc_field(sf_tc_writer *w, int16_t id, int type)
{
    if (w->depth == 0) {
        w->err = SF_E_INTERNAL;
        return;
    }
    int16_t *last = &w->last[w->depth - 1];
    int delta = id - *last;
    if (delta > 0 && delta <= 15) {
        tc_byte(w, (unsigned)(delta << 4) | (unsigned)type);
    } else {
        tc_byte(w, (unsigned)type);
        tc_varint(w, zigzag(id));
    }
    *last = id;
}

void sf_tc_field_bool(sf_tc_writer *w, int16_t id, int v)
{
    sf_tc_field(w, id, v ? SF_TC_TRUE : SF_TC_FALSE);
}

void sf_tc_field_i32(sf_tc_writer *w, int16_t id, int32_t v)
{
    sf_tc_field(w, id, SF_TC_I32);
    sf_tc_i32(w, v);
}

void sf_tc_field_i64(sf_tc_writer *w, int16_t id, int64_t v)
{
    sf_tc_field(w, id, SF_TC_I64);
    sf_tc_i64(w, v);
}

void sf_tc_field_binary(sf_tc_writer *w, int16_t id, const void *p, size_t n)
{
    sf_tc_field(w, id, SF_TC_BINARY);
    sf_tc_binary(w, p, n);
}

void sf_tc_field_string(sf_tc_writer *w, int16_t id, const char *s)
{
    sf_tc_field_binary(w, id, s, strlen(s));
}

void sf_tc_field_struct(sf_tc_writer *w, int16_t id)
{
    sf_tc_field(w, id, SF_TC_STRUCT);
    sf_tc_struct_begin(w);
}

void sf_tc_field_list(sf_tc_writer *w, int16_t id, int elem_type, size_t n)
{
    sf_tc_field(w, id, SF_TC_LIST);
    sf_tc_list_header(w, elem_type, n);
}

void sf_tc_list_header(sf_tc_writer *w, int elem_type, size_t n)
{
    if (n > INT32_MAX) {
        w->err = SF_E_INTERNAL;
        return;
    }
    if (n <= 14) {
        tc_byte(w, (unsigned)(n << 4) | (unsigned)elem_type);
    } else {
        tc_byte(w, 0xF0u | (unsigned)elem_type);
        tc_varint(w, n);
    }
}

void sf_tc_i8(sf_tc_writer *w, int8_t v) { tc_byte(w, (unsigned char)v); }
void sf_tc_i32(sf_tc_writer *w, int32_t v) { tc_varint(w, zigzag(v)); }
void sf_tc_i64(sf_tc_writer *w, int64_t v) { tc_varint(w, zigzag(v)); }

void sf_tc_double(sf_tc_writer *w, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, 8);
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(bits >> (8 * i));
    tc_put(w, b, 8);
}

void sf_tc_binary(sf_tc_writer *w, const void *p, size_t n)
{
    tc_varint(w, n);
    if (n)
        tc_put(w, p, n);
}

void sf_tc_bool_elem(sf_tc_writer *w, int v) { tc_byte(w, v ? 1 : 0); }

void sf_tc_raw(sf_tc_writer *w, const void *p, size_t n) { tc_put(w, p, n); }

/* ---- reader ---------------------------------------------------------- */

void sf_tc_reader_init(sf_tc_reader *r, const void *p, size_t n)
{
    memset(r, 0, sizeof *r);
    r->p = p;
    r->end = r->p + n;
}

int sf_tc_fail(sf_tc_reader *r, const char *why)
{
    if (!r->err) {
        r->err = 1;
        r->why = why;
    }
    r->p = r->end;
    return 0;
}

static uint64_t tc_read_varint(sf_tc_reader *r, int max_bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < max_bytes; i++) {
        if (r->err || r->p >= r->end) {
            sf_tc_fail(r, "truncated varint");
            return 0;
        }
        unsigned c = *r->p++;
        v |= (uint64_t)(c & 0x7f) << (7 * i);
        if (!(c & 0x80))
            return v;
    }
    sf_tc_fail(r, "varint too long");
    return 0;
}

static int64_t unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

int sf_tc_struct_enter(sf_tc_reader *r)
{
    if (r->err)
        return 0;
    if (r->depth >= SF_TC_MAX_DEPTH)
        return sf_tc_fail(r, "structs nested too deeply");
    r->depth++;
    return 1;
}

int sf_tc_next_field(sf_tc_reader *r, int16_t *last, int16_t *id, int *type)
{
    if (r->err)
        return 0;
    if (r->p >= r->end)
        return sf_tc_fail(r, "truncated struct");
    unsigned c = *r->p++;
    if (c == SF_TC_STOP) {
        r->depth--;
        return 0;
    }
    int t = (int)(c & 0x0f);
    int delta = (int)(c >> 4);
    int64_t fid;
    if (delta)
        fid = *last + delta;
    else
        fid = unzigzag(tc_read_varint(r, 3));
    if (r->err)
        return 0;
    if (fid <= 0 || fid > INT16_MAX)
        return sf_tc_fail(r, "bad field id");
    if (t < SF_TC_TRUE || t > SF_TC_STRUCT)
        return sf_tc_fail(r, "unknown field type");
    *last = (int16_t)fid;
    *id = (int16_t)fid;
    *type = t;
    return 1;
}

int32_t sf_tc_read_i32(sf_tc_reader *r)
{
    int64_t v = unzigzag(tc_read_varint(r, 5));
    if (v < INT32_MIN || v > INT32_MAX) {
        sf_tc_fail(r, "i32 out of range");
        return 0;
    }
    return (int32_t)v;
}

int64_t sf_tc_read_i64(sf_tc_reader *r) { return unzigzag(tc_read_varint(r, 10)); }

int8_t sf_tc_read_i8(sf_tc_reader *r)
{
    if (r->err || r->p >= r->end) {
        sf_tc_fail(r, "truncated byte");
        return 0;
    }
    return (int8_t)*r->p++;
}

double sf_tc_read_double(sf_tc_reader *r)
{
    if (r->err || r->end - r->p < 8) {
        sf_tc_fail(r, "truncated double");
        return 0;
    }
    uint64_t bits = 0;
    for (int i = 0; i < 8; i++)
        bits |= (uint64_t)r->p[i] << (8 * i);
    r->p += 8;
    double d;
    memcpy(&d, &bits, 8);
    return d;
}

void sf_tc_read_binary(sf_tc_reader *r, const unsigned char **p, size_t *n)
{
    *p = NULL;
    *n = 0;
    uint64_t len = tc_read_varint(r, 5);
    if (r->err)
        return;
    if (len > (uint64_t)(r->end - r->p)) {
        sf_tc_fail(r, "binary longer than the input");
        return;
    }
    *p = r->p;
    *n = (size_t)len;
    r->p += len;
}

void sf_tc_read_list(sf_tc_reader *r, int *elem_type, size_t *n)
{
    *elem_type = 0;
    *n = 0;
    if (r->err || r->p >= r->end) {
        sf_tc_fail(r, "truncated list header");
        return;
    }
    unsigned c = *r->p++;
    uint64_t size = c >> 4;
    if (size == 15)
        size = tc_read_varint(r, 5);
    if (r->err)
        return;
    int t = (int)(c & 0x0f);
    if (t < SF_TC_TRUE || t > SF_TC_STRUCT)
        sf_tc_fail(r, "unknown list element type");
    else if (size > (uint64_t)(r->end - r->p))
        sf_tc_fail(r, "list longer than the input");
    if (r->err)
        return;
    *elem_type = t;
    *n = (size_t)size;
}

int sf_tc_read_bool_elem(sf_tc_reader *r)
{
    int8_t v = sf_tc_read_i8(r);
    if (v != 0 && v != 1 && v != 2) /* 2 is what some old writers sent for false */
        sf_tc_fail(r, "bad bool element");
    return v == 1;
}

void sf_tc_skip(sf_tc_reader *r, int type)
{
    const unsigned char *p;
    size_t n;
    switch (type) {
    case SF_TC_TRUE:
    case SF_TC_FALSE:
        return; /* a bool field's value is in its header */
    case SF_TC_I8:
        sf_tc_read_i8(r);
        return;
    case SF_TC_I16:
    case SF_TC_I32:
    case SF_TC_I64:
        tc_read_varint(r, 10);
        return;
    case SF_TC_DOUBLE:
        sf_tc_read_double(r);
        return;
    case SF_TC_BINARY:
        sf_tc_read_binary(r, &p, &n);
        return;
    case SF_TC_LIST:
    case SF_TC_SET: {
        int et;
        sf_tc_read_list(r, &et, &n);
        if (!sf_tc_struct_enter(r)) /* counts toward the depth limit */
            return;
        for (size_t i = 0; i < n && !r->err; i++) {
            if (et == SF_TC_TRUE || et == SF_TC_FALSE)
                sf_tc_read_bool_elem(r);
            else
                sf_tc_skip(r, et);
        }
        r->depth--;
        return;
    }
    case SF_TC_MAP: {
        uint64_t size = tc_read_varint(r, 5);
        if (r->err || size == 0)
            return;
        if (size > (uint64_t)(r->end - r->p)) {
            sf_tc_fail(r, "map longer than the input");
            return;
        }
        int8_t kv = sf_tc_read_i8(r);
        int kt = (kv >> 4) & 0x0f, vt = kv & 0x0f;
        if (kt < SF_TC_TRUE || kt > SF_TC_STRUCT || vt < SF_TC_TRUE || vt > SF_TC_STRUCT) {
            sf_tc_fail(r, "unknown map element type");
            return;
        }
        if (!sf_tc_struct_enter(r))
            return;
        for (uint64_t i = 0; i < size && !r->err; i++) {
            if (kt == SF_TC_TRUE || kt == SF_TC_FALSE)
                sf_tc_read_bool_elem(r);
            else
                sf_tc_skip(r, kt);
            if (vt == SF_TC_TRUE || vt == SF_TC_FALSE)
                sf_tc_read_bool_elem(r);
            else
                sf_tc_skip(r, vt);
        }
        r->depth--;
        return;
    }
    case SF_TC_STRUCT: {
        if (!sf_tc_struct_enter(r))
            return;
        int16_t last = 0, id;
        int t;
        while (sf_tc_next_field(r, &last, &id, &t))
            sf_tc_skip(r, t);
        return;
    }
    default:
        sf_tc_fail(r, "unknown type");
    }
}

int sf_tc_expect(sf_tc_reader *r, int type, int want)
{
    int ok;
    if (want == SF_TC_TRUE || want == SF_TC_FALSE)
        ok = type == SF_TC_TRUE || type == SF_TC_FALSE;
    else
        ok = type == want;
    if (!ok)
        sf_tc_fail(r, "field of an unexpected type");
    return ok;
}

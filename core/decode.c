/* decode.c - the decoder front: the jansson reference decoder, and dispatch
 * to the fast projection decoder (core/jsonproj.c).
 *
 * jansson only offers process-wide allocation hooks, so the arena the hooks
 * use is a file-level pointer owned by the single live jansson decoder.
 * jansson never reallocs, and its frees become no-ops: the arena is reset
 * before each line. A fast decoder never touches jansson's hooks.
 */
#include "core/decode.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "core/error.h"
#include "core/fmt.h"
#include "core/jsonproj.h"

typedef struct field {
    sf_decode_field f;
    char **segs; /* path split at '.' */
    size_t nsegs;
} field;

struct sf_decoder {
    sf_decoder_kind kind;
    sf_jsonproj *fast; /* SF_DECODER_FAST only */
    field *fields;
    size_t nfields;
    sf_arena arena;
    int oom;
};

static sf_decoder *live; /* the decoder whose arena jansson allocates from */

static void *arena_malloc(size_t n)
{
    void *p = sf_arena_alloc(&live->arena, n);
    if (!p)
        live->oom = 1;
    return p;
}

static void arena_free(void *p) { (void)p; }

const char *sf_decoder_kind_name(sf_decoder_kind k)
{
    switch (k) {
    case SF_DECODER_FAST: return "fast";
    case SF_DECODER_JANSSON: return "jansson";
    }
    return "unknown";
}

int sf_decoder_kind_parse(const char *name, sf_decoder_kind *k)
{
    if (strcmp(name, "fast") == 0)
        *k = SF_DECODER_FAST;
    else if (strcmp(name, "jansson") == 0)
        *k = SF_DECODER_JANSSON;
    else
        return SF_E_INVAL;
    return 0;
}

sf_decoder *sf_decoder_new(sf_decoder_kind kind, const sf_decode_field *fields, size_t nfields)
{
    if (kind == SF_DECODER_JANSSON)
        return sf_decoder_new_jansson(fields, nfields);
    if (kind != SF_DECODER_FAST)
        return NULL;
    sf_decoder *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->kind = SF_DECODER_FAST;
    d->fast = sf_jsonproj_new(fields, nfields);
    if (!d->fast) {
        free(d);
        return NULL;
    }
    return d;
}

sf_decoder *sf_decoder_new_jansson(const sf_decode_field *fields, size_t nfields)
{
    if (live)
        return NULL;
    sf_decoder *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->kind = SF_DECODER_JANSSON;
    d->fields = calloc(nfields ? nfields : 1, sizeof *d->fields);
    if (!d->fields) {
        free(d);
        return NULL;
    }
    d->nfields = nfields;
    for (size_t i = 0; i < nfields; i++) {
        field *f = &d->fields[i];
        f->f = fields[i];
        const char *p = fields[i].path;
        size_t nseg = 1;
        for (const char *q = p; *q; q++)
            nseg += *q == '.';
        f->segs = calloc(nseg, sizeof *f->segs);
        if (!f->segs) {
            d->nfields = i + 1;
            sf_decoder_free(d);
            return NULL;
        }
        for (;;) {
            const char *dot = strchr(p, '.');
            size_t n = dot ? (size_t)(dot - p) : strlen(p);
            f->segs[f->nsegs] = malloc(n + 1);
            if (!f->segs[f->nsegs]) {
                d->nfields = i + 1;
                sf_decoder_free(d);
                return NULL;
            }
            memcpy(f->segs[f->nsegs], p, n);
            f->segs[f->nsegs++][n] = '\0';
            if (!dot)
                break;
            p = dot + 1;
        }
    }
    sf_arena_init(&d->arena, 64 * 1024);
    live = d;
    json_set_alloc_funcs(arena_malloc, arena_free);
    return d;
}

void sf_decoder_free(sf_decoder *d)
{
    if (!d)
        return;
    if (d->kind == SF_DECODER_FAST) {
        sf_jsonproj_free(d->fast);
        free(d);
        return;
    }
    if (live == d) {
        json_set_alloc_funcs(malloc, free);
        live = NULL;
    }
    for (size_t i = 0; i < d->nfields; i++) {
        for (size_t s = 0; s < d->fields[i].nsegs; s++)
            free(d->fields[i].segs[s]);
        free(d->fields[i].segs);
    }
    free(d->fields);
    sf_arena_free(&d->arena);
    free(d);
}

/* A short description of a JSON value for type-mismatch messages. */
static void describe(const json_t *v, char *out, size_t cap)
{
    switch (json_typeof(v)) {
    case JSON_STRING: {
        size_t n = json_string_length(v);
        snprintf(out, cap, "string \"%.*s%s\"", (int)(n > 40 ? 40 : n), json_string_value(v),
                 n > 40 ? "..." : "");
        break;
    }
    case JSON_INTEGER: snprintf(out, cap, "int64 %lld", (long long)json_integer_value(v)); break;
    case JSON_REAL: {
        char b[SF_FMT_BUF];
        sf_fmt_double(json_real_value(v), b);
        snprintf(out, cap, "double %s", b);
        break;
    }
    case JSON_TRUE: snprintf(out, cap, "bool true"); break;
    case JSON_FALSE: snprintf(out, cap, "bool false"); break;
    case JSON_OBJECT: snprintf(out, cap, "an object"); break;
    case JSON_ARRAY: snprintf(out, cap, "an array"); break;
    case JSON_NULL: snprintf(out, cap, "null"); break;
    }
}

static int mismatch(const field *f, const json_t *v, char *msg, size_t cap)
{
    char what[96];
    describe(v, what, sizeof what);
    snprintf(msg, cap, "%s: expected %s%s, got %s", f->f.path, sf_type_name(f->f.type),
             f->f.type == SF_DATE ? " (YYYY-MM-DD)" : "", what);
    return 1 + SF_REJ_TYPE_MISMATCH;
}

static int convert(const field *f, const json_t *v, sf_value *out, char *msg, size_t cap)
{
    if (!v || json_is_null(v)) {
        *out = sf_null();
        return 0;
    }
    switch (f->f.type) {
    case SF_INT:
        if (!json_is_integer(v))
            return mismatch(f, v, msg, cap);
        *out = sf_int(json_integer_value(v));
        return 0;
    case SF_DOUBLE:
        if (json_is_integer(v))
            *out = sf_double((double)json_integer_value(v));
        else if (json_is_real(v))
            *out = sf_double(json_real_value(v));
        else
            return mismatch(f, v, msg, cap);
        return 0;
    case SF_STRING:
        if (!json_is_string(v))
            return mismatch(f, v, msg, cap);
        *out = sf_string(json_string_value(v), json_string_length(v));
        return 0;
    case SF_BOOL:
        if (!json_is_boolean(v))
            return mismatch(f, v, msg, cap);
        *out = sf_bool(json_is_true(v));
        return 0;
    case SF_DATE: {
        int32_t days;
        if (!json_is_string(v) ||
            sf_parse_iso_date(json_string_value(v), json_string_length(v), &days) != 0)
            return mismatch(f, v, msg, cap);
        *out = sf_date(days);
        return 0;
    }
    case SF_NULL:
        break;
    }
    *out = sf_null();
    return 0;
}

int sf_decoder_decode(sf_decoder *d, const char *line, size_t len, sf_value *row, char *msg,
                      size_t msgcap)
{
    if (d->kind == SF_DECODER_FAST)
        return sf_jsonproj_decode(d->fast, line, len, row, msg, msgcap);
    sf_arena_reset(&d->arena);
    d->oom = 0;
    json_error_t jerr;
    json_t *root = json_loadb(line, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (d->oom)
        return SF_E_NOMEM;
    if (!root) {
        int reason = SF_REJ_INVALID_JSON;
        switch (json_error_code(&jerr)) {
        case json_error_invalid_utf8: reason = SF_REJ_INVALID_UTF8; break;
        case json_error_numeric_overflow:
            /* jansson also reports reals beyond double range this way. */
            if (strstr(jerr.text, "integer"))
                reason = SF_REJ_INT_OVERFLOW;
            break;
        case json_error_stack_overflow: reason = SF_REJ_TOO_DEEP; break;
        case json_error_out_of_memory: return SF_E_NOMEM;
        default: break;
        }
        snprintf(msg, msgcap, "%s at column %d: %s", sf_reject_reason_name(reason),
                 jerr.column, jerr.text);
        return 1 + reason;
    }
    if (!json_is_object(root)) {
        snprintf(msg, msgcap, "not an object: the line is %s",
                 json_is_array(root) ? "an array" : "a scalar");
        return 1 + SF_REJ_NOT_OBJECT;
    }
    for (size_t i = 0; i < d->nfields; i++) {
        const field *f = &d->fields[i];
        const json_t *v = root;
        for (size_t s = 0; s < f->nsegs && v; s++)
            v = json_is_object(v) ? json_object_get(v, f->segs[s]) : NULL;
        int rc = convert(f, v, &row[f->f.slot], msg, msgcap);
        if (rc)
            return rc;
    }
    return 0;
}

/* fuzz_decode.c - differential fuzz target: the fast projection decoder
 * against the jansson reference.
 *
 * Decodes the input as one line with both decoders over a fixed projection
 * (the daily KPI columns, plus nested, string, bool, date and conflicting
 * paths) and aborts on any disagreement: accept vs reject, the reason, the
 * message where it must be identical (type mismatch, not an object), or any
 * extracted value (numbers to the bit, strings byte for byte). Built by
 * scripts/fuzz with libFuzzer, and by tests/fuzz/CMakeLists.txt with a plain
 * replay driver over the committed corpus.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/decode.h"
#include "core/value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const sf_decode_field fields[] = {
    {"user_id", SF_INT, 0},
    {"item_id", SF_INT, 1},
    {"event_type", SF_STRING, 2},
    {"ts", SF_INT, 3},
    {"props.price", SF_DOUBLE, 4},
    {"props.quantity", SF_INT, 5},
    {"props.tag", SF_STRING, 6},
    {"props.deep.x", SF_DOUBLE, 7},
    {"ok", SF_BOOL, 8},
    {"day", SF_DATE, 9},
    {"name", SF_STRING, 10},
    {"a", SF_DOUBLE, 11},
    {"a.b", SF_INT, 12},
    {"n", SF_NULL, 13},
    {"", SF_STRING, 14},
    {"user_id", SF_DOUBLE, 15},
};
#define NFIELDS (sizeof fields / sizeof fields[0])

static void fail(const char *what, size_t field, const char *m1, const char *m2)
{
    fprintf(stderr, "fuzz_decode: decoders disagree: %s (field %zu)\n  fast:    %s\n  jansson: %s\n",
            what, field, m1, m2);
    abort();
}

static int same_value(const sf_value *a, const sf_value *b)
{
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case SF_NULL: return 1;
    case SF_BOOL: return a->u.b == b->u.b;
    case SF_INT: return a->u.i == b->u.i;
    case SF_DOUBLE: return memcmp(&a->u.d, &b->u.d, sizeof a->u.d) == 0;
    case SF_DATE: return a->u.date == b->u.date;
    case SF_STRING:
        return a->u.s.n == b->u.s.n && (a->u.s.n == 0 || memcmp(a->u.s.p, b->u.s.p, a->u.s.n) == 0);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static sf_decoder *fast, *ref;
    if (!fast) {
        fast = sf_decoder_new(SF_DECODER_FAST, fields, NFIELDS);
        ref = sf_decoder_new(SF_DECODER_JANSSON, fields, NFIELDS);
        if (!fast || !ref) {
            fprintf(stderr, "fuzz_decode: cannot create the decoders\n");
            abort();
        }
    }
    /* An exact-size copy, so reading past the line is caught by ASan. */
    char *line = malloc(size ? size : 1);
    if (!line)
        abort();
    if (size)
        memcpy(line, data, size);
    sf_value r1[NFIELDS], r2[NFIELDS];
    char m1[512], m2[512];
    memset(r1, 0, sizeof r1);
    memset(r2, 0, sizeof r2);
    strcpy(m1, "(none)");
    strcpy(m2, "(none)");
    int rc1 = sf_decoder_decode(fast, line, size, r1, m1, sizeof m1);
    int rc2 = sf_decoder_decode(ref, line, size, r2, m2, sizeof m2);
    if (rc1 != rc2)
        fail("return code", 0, m1, m2);
    if (rc1 == 1 + SF_REJ_TYPE_MISMATCH || rc1 == 1 + SF_REJ_NOT_OBJECT) {
        if (strcmp(m1, m2) != 0)
            fail("message", 0, m1, m2);
    }
    if (rc1 == 0) {
        for (size_t i = 0; i < NFIELDS; i++)
            if (!same_value(&r1[i], &r2[i]))
                fail("value", i, m1, m2);
    }
    free(line);
    return 0;
}

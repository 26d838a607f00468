/* thrift_compact.h - the Thrift compact protocol, both directions, for
 * Parquet's metadata (page headers and the file footer).
 *
 * Only what Parquet uses: structs (field headers with id deltas, stop),
 * bool fields (value in the header), i8/i16/i32/i64 (zigzag varints),
 * double (8 bytes little-endian), binary/string (varint length + bytes) and
 * lists. Unions are structs with one field.
 *
 * Writer invariant: the writer keeps the last field id of every open struct
 * on a small stack, so nested structs restart their deltas at 0; memory
 * errors are remembered (w->err) and reported once by the caller.
 * Reader invariant: every read checks the bytes left; a malformed or
 * truncated input sets r->err and every later read fails too, so a parser
 * can check once at the end of a struct. Nesting is limited to
 * SF_TC_MAX_DEPTH so a hostile footer cannot exhaust the stack.
 */
#ifndef SF_THRIFT_COMPACT_H
#define SF_THRIFT_COMPACT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* Compact-protocol type ids of field headers. */
enum {
    SF_TC_STOP = 0,
    SF_TC_TRUE = 1, /* bool field, value true; as a list element type: bool */
    SF_TC_FALSE = 2, /* bool field, value false; list element type: bool */
    SF_TC_I8 = 3,
    SF_TC_I16 = 4,
    SF_TC_I32 = 5,
    SF_TC_I64 = 6,
    SF_TC_DOUBLE = 7,
    SF_TC_BINARY = 8,
    SF_TC_LIST = 9,
    SF_TC_SET = 10,
    SF_TC_MAP = 11,
    SF_TC_STRUCT = 12
};

#define SF_TC_MAX_DEPTH 32

/* ---- writer ---------------------------------------------------------- */

typedef struct sf_tc_writer {
    sf_buf *out;                      /* borrowed; bytes are appended */
    int16_t last[SF_TC_MAX_DEPTH];    /* last field id per open struct */
    int depth;                        /* open structs; 0 = top level */
    int err;                          /* first error (SF_E_NOMEM / SF_E_INTERNAL) */
} sf_tc_writer;

/* Starts writing into out (appending). Cannot fail. */
void sf_tc_writer_init(sf_tc_writer *w, sf_buf *out);

/* A struct at the top level or as a list element: begin pushes a field-id
 * context, end writes the stop byte and pops it. */
void sf_tc_struct_begin(sf_tc_writer *w);
void sf_tc_struct_end(sf_tc_writer *w);

/* A field header of the given type and id (delta from the previous field of
 * the same struct; ids must increase). Then write the value. */
void sf_tc_field(sf_tc_writer *w, int16_t id, int type);

/* Field helpers: header and value in one call. A struct field needs
 * sf_tc_struct_end() after its fields; a list field is followed by its
 * elements. */
void sf_tc_field_bool(sf_tc_writer *w, int16_t id, int v);
void sf_tc_field_i32(sf_tc_writer *w, int16_t id, int32_t v);
void sf_tc_field_i64(sf_tc_writer *w, int16_t id, int64_t v);
void sf_tc_field_binary(sf_tc_writer *w, int16_t id, const void *p, size_t n);
void sf_tc_field_string(sf_tc_writer *w, int16_t id, const char *s);
void sf_tc_field_struct(sf_tc_writer *w, int16_t id); /* begins the struct */
void sf_tc_field_list(sf_tc_writer *w, int16_t id, int elem_type, size_t n);

/* Bare values (list elements). */
void sf_tc_list_header(sf_tc_writer *w, int elem_type, size_t n);
void sf_tc_i8(sf_tc_writer *w, int8_t v);
void sf_tc_i32(sf_tc_writer *w, int32_t v); /* also i16 and enums */
void sf_tc_i64(sf_tc_writer *w, int64_t v);
void sf_tc_double(sf_tc_writer *w, double v);
void sf_tc_binary(sf_tc_writer *w, const void *p, size_t n);
void sf_tc_bool_elem(sf_tc_writer *w, int v);

/* Raw bytes (e.g. a struct serialized earlier with its own writer). */
void sf_tc_raw(sf_tc_writer *w, const void *p, size_t n);

/* ---- reader ---------------------------------------------------------- */

typedef struct sf_tc_reader {
    const unsigned char *p;   /* next byte (borrowed) */
    const unsigned char *end;
    int depth;                /* open structs (for the nesting limit) */
    int err;                  /* 1 once anything was malformed */
    const char *why;          /* static text of the first error */
} sf_tc_reader;

/* Reads from [p, p+n). Cannot fail. */
void sf_tc_reader_init(sf_tc_reader *r, const void *p, size_t n);

/* Marks r as failed with a static reason (the first one is kept). Returns 0. */
int sf_tc_fail(sf_tc_reader *r, const char *why);

/* Enters a struct (checks the depth limit). The caller keeps the struct's
 * field-id context, an int16_t starting at 0, and passes it to
 * sf_tc_next_field(). Returns 1, or 0 on error. */
int sf_tc_struct_enter(sf_tc_reader *r);

/* Reads the next field header of the current struct. Returns 1 with *id and
 * *type (for bools, SF_TC_TRUE/SF_TC_FALSE carry the value), 0 at the stop
 * byte (the struct is left) or on error (r->err set). */
int sf_tc_next_field(sf_tc_reader *r, int16_t *last, int16_t *id, int *type);

/* Values. On error they return 0 (and set r->err); they check the type of
 * the field they read when given it through sf_tc_expect(). */
int32_t sf_tc_read_i32(sf_tc_reader *r);
int64_t sf_tc_read_i64(sf_tc_reader *r);
int8_t sf_tc_read_i8(sf_tc_reader *r);
double sf_tc_read_double(sf_tc_reader *r);

/* A binary value, borrowed from the input: *p and *n. */
void sf_tc_read_binary(sf_tc_reader *r, const unsigned char **p, size_t *n);

/* A list or set header: *elem_type and *n (checked against the bytes left:
 * every element takes at least one byte). */
void sf_tc_read_list(sf_tc_reader *r, int *elem_type, size_t *n);

/* A bool list element. */
int sf_tc_read_bool_elem(sf_tc_reader *r);

/* Skips one value of the given type (recursively, depth-limited). */
void sf_tc_skip(sf_tc_reader *r, int type);

/* 1 if a field value of wire type `type` may hold a value of `want`:
 * i8/i16/i32/i64 are interchangeable only with themselves; bool fields
 * accept TRUE and FALSE. Sets r->err when not. */
int sf_tc_expect(sf_tc_reader *r, int type, int want);

#endif

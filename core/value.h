/* value.h - the typed value every layer passes around.
 *
 * A row on the hot path is an array of sf_value slots, one per column the job
 * uses, indexed by a slot number fixed when the job is planned. Strings are
 * borrowed: s.p points into the current line buffer, a per-row scratch arena
 * or a table's arena, and is valid only as long as that storage.
 */
#ifndef SF_VALUE_H
#define SF_VALUE_H

#include <stddef.h>
#include <stdint.h>

typedef enum sf_type {
    SF_NULL = 0, /* also "no value" / SQL NULL */
    SF_BOOL,
    SF_INT,    /* int64 */
    SF_DOUBLE, /* IEEE double */
    SF_STRING, /* UTF-8 bytes, not NUL-terminated */
    SF_DATE    /* days since 1970-01-01 (UTC), int32 */
} sf_type;

typedef struct sf_value {
    uint8_t type; /* sf_type */
    union {
        int b; /* 0 or 1 */
        int64_t i;
        double d;
        int32_t date;
        struct {
            const char *p;
            size_t n;
        } s;
    } u;
} sf_value;

static inline sf_value sf_null(void) { sf_value v; v.type = SF_NULL; v.u.i = 0; return v; }
static inline sf_value sf_bool(int b) { sf_value v; v.type = SF_BOOL; v.u.b = b != 0; return v; }
static inline sf_value sf_int(int64_t i) { sf_value v; v.type = SF_INT; v.u.i = i; return v; }
static inline sf_value sf_double(double d) { sf_value v; v.type = SF_DOUBLE; v.u.d = d; return v; }
static inline sf_value sf_date(int32_t days) { sf_value v; v.type = SF_DATE; v.u.i = 0; v.u.date = days; return v; }
static inline sf_value sf_string(const char *p, size_t n) { sf_value v; v.type = SF_STRING; v.u.s.p = p; v.u.s.n = n; return v; }

/* Name of a type as used in job specs: "null", "bool", "int64", "double",
 * "string", "date". Never NULL. */
const char *sf_type_name(sf_type t);

/* Parses a spec type name (the names above; "int" and "float" are accepted
 * as aliases). Returns 0 and sets *t, or SF_E_INVAL. */
int sf_type_parse(const char *name, sf_type *t);

#endif

/* reject.h - why an input line is rejected.
 *
 * One list of reasons for every stage that can turn a line away: decoding
 * (invalid JSON or UTF-8, not an object, type mismatch, int64 or double
 * overflow, nesting too deep), reading (line too long), flattening (key collision,
 * too many rows) and the job spec (missing required column). Decoders,
 * the flattener and the pipeline return 1 + a reason; the manifest and
 * _bad_records print its name. Depends on nothing.
 */
#ifndef SF_REJECT_H
#define SF_REJECT_H

typedef enum sf_reject_reason {
    SF_REJ_INVALID_JSON = 0,
    SF_REJ_INVALID_UTF8,
    SF_REJ_NOT_OBJECT,
    SF_REJ_TYPE_MISMATCH,
    SF_REJ_INT_OVERFLOW,
    SF_REJ_TOO_DEEP,
    SF_REJ_LINE_TOO_LONG,
    SF_REJ_KEY_COLLISION,  /* flatten: two paths give one column (core/flatten.h) */
    SF_REJ_TOO_MANY_ROWS,  /* flatten: explode over the rows-per-record limit */
    SF_REJ_MISSING_COLUMN, /* a required column (job spec) is missing or null */
    SF_REJ_DOUBLE_OVERFLOW, /* a number read as a double is beyond its range */
    SF_REJ_INVALID_CSV,     /* a CSV fact line: bad quoting, a field count unlike the header's */
    SF_REJ_NREASONS
} sf_reject_reason;

/* Short name of a reason as used in manifests: "invalid JSON", ...;
 * "unknown" for a value outside the list. Borrowed, static. */
const char *sf_reject_reason_name(sf_reject_reason r);

#endif

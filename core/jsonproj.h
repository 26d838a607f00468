/* jsonproj.h - the hot-path JSON decoder: strict, streaming, projecting.
 *
 * Validates one line as a JSON text as the jansson reference decoder in
 * core/decode.c does (RFC 8259, UTF-8, no NaN/Infinity, `\u0000` allowed in
 * strings and in keys, lone surrogate escapes rejected, nesting deeper than
 * jansson's limit rejected, nothing but whitespace after the value: a NUL
 * byte anywhere is invalid), builds no tree and allocates nothing per line,
 * and extracts only the projected paths into typed row slots. Duplicate
 * keys: the last occurrence wins, for nested paths too (a later "props"
 * object replaces an earlier one).
 *
 * Numbers are checked against the grammar only; a number is converted only
 * when a field reads it, so a 30-digit id or 1e400 in a field the job does
 * not read never rejects a line. Into a double field any number becomes the
 * nearest double, and one beyond the double range is rejected as "double
 * overflow"; into an int64 field a real or an integer outside int64 is a
 * type mismatch whose message quotes the number (sf_jsonproj_big_number).
 * Into a decimal(P,S) field a number is parsed exactly from its text
 * (core/decimal.h; extra places round half to even), and one that needs
 * more than P digits is a type mismatch quoting the number.
 * Messages are always valid UTF-8.
 *
 * A decoder learns the shapes of the objects it accepts (their bytes
 * outside the scalars) and reads a later line of a known shape without the
 * general walk, finding that line's end itself when it is given the input
 * from the line on (sf_jsonproj_decode_window); only the speed depends on
 * what it has seen, never a result.
 *
 * Agreement with the reference is the contract: for every input both accept
 * or both reject with the same sf_reject_reason, and every extracted value
 * is equal (numbers to the bit, strings byte for byte after unescaping).
 * Differential fuzzing (tests/fuzz/) checks it.
 *
 * The same pass also serves whole-record work (flatten, explode): in visitor
 * mode (sf_jsonproj_visit) it reports every object and array boundary, key
 * and scalar of the line instead of projecting, with the same validation
 * and the same reject reasons and messages; the grammar is written once.
 */
#ifndef SF_JSONPROJ_H
#define SF_JSONPROJ_H

#include <stddef.h>

#include "core/reject.h"
#include "core/value.h"

/* One projected column: where it is in the line and where it goes in the
 * row. Shared by both decoders (core/decode.h). */
typedef struct sf_decode_field {
    const char *path; /* dotted path: "props.price" */
    sf_type type;
    int slot;
    sf_dec_type dec; /* SF_DECIMAL: precision and scale */
} sf_decode_field;

typedef struct sf_jsonproj sf_jsonproj;

/* New decoder for these fields (copied). NULL when out of memory. */
sf_jsonproj *sf_jsonproj_new(const sf_decode_field *fields, size_t nfields);

/* Same contract as sf_decoder_decode(): 0 with every field's slot set
 * (SF_NULL when missing/null), 1 + sf_reject_reason with a message, or
 * SF_E_NOMEM. Strings are borrowed from line or from p (unescaped copies),
 * valid until the next call. The message for a type mismatch is the same
 * text as the reference's ("ts: expected int64, got string \"abc\"");
 * invalid JSON messages give the byte column. */
int sf_jsonproj_decode(sf_jsonproj *p, const char *line, size_t len, sf_value *row, char *msg,
                       size_t msgcap);

/* sf_jsonproj_decode of the line that starts at buf, found inside the
 * avail bytes there: the line a range reader would hand out (up to the
 * first '\n', without one '\r' before it; io/range_reader.h). Decodes it
 * only when it has a learned shape and every field converts: then the row
 * is set as sf_jsonproj_decode sets it, *len is the line's length and the
 * return value the bytes it takes with its line end ("\n" or "\r\n").
 * Otherwise returns 0, having decided nothing (row and *len in any state):
 * hand the line to sf_jsonproj_decode, which gives the verdict and every
 * message. So the decoder finds the line's end in the same pass that reads
 * it, and a caller needs no search for it. Strings as for
 * sf_jsonproj_decode, borrowed from buf. */
size_t sf_jsonproj_decode_window(sf_jsonproj *p, const char *buf, size_t avail, sf_value *row,
                                 size_t *len);

/* The verdict for a number literal (n bytes at text, valid JSON) that is an
 * integer outside int64 or a real beyond the double range, read by the field
 * path of type type: 0 with *out (double: the nearest double; a NULL type:
 * null), or 1 + SF_REJ_DOUBLE_OVERFLOW / 1 + SF_REJ_TYPE_MISMATCH with a
 * message quoting the number. scratch holds at least n + 1 bytes. Both
 * decoders use it so that they agree to the byte. Cannot fail otherwise. */
int sf_jsonproj_big_number(const char *path, sf_type type, const char *text, size_t n,
                           char *scratch, sf_value *out, char *msg, size_t cap);

/* Events of a visit, in document order. Every callback is required and
 * returns 0 to go on or a negative SF_E_* code, which stops the visit and is
 * its return value. key() comes before the value it names; scalar() gets
 * null (SF_NULL), true/false (SF_BOOL), an integer literal (SF_INT), a real
 * literal (SF_DOUBLE, the same double as jansson/strtod; its scale is 1 +
 * the literal's digits after the point when it has at most 15 significant
 * digits and no exponent, which sf_fmt_double_places writes back without a
 * search, or 0 when the visit does not say) or a string
 * (SF_STRING, unescaped UTF-8 that may hold NUL bytes). Key and string
 * bytes are borrowed from the line or from the decoder and stay valid until
 * the next decode or visit call on the same decoder. Duplicate keys are
 * reported as they occur; last-wins is the visitor's business. */
typedef struct sf_json_visitor {
    int (*object_begin)(void *ctx);
    int (*object_end)(void *ctx);
    int (*array_begin)(void *ctx);
    int (*array_end)(void *ctx);
    int (*key)(void *ctx, const char *k, size_t n);
    int (*scalar)(void *ctx, const sf_value *v);
    void *ctx;
} sf_json_visitor;

/* Visits one line (p's fields are ignored: sf_jsonproj_new(NULL, 0) is
 * enough). Returns 0 for a valid object, 1 + sf_reject_reason with the same
 * message sf_jsonproj_decode() gives (invalid JSON/UTF-8, nesting too deep,
 * and "not an object" for any other valid JSON text, whose events were all
 * delivered), a callback's negative return, or SF_E_NOMEM. A visit reads
 * every value, so a valid object holding an integer outside int64 or a real
 * beyond the double range is then rejected as "int64 overflow" or "double
 * overflow" (the first such number; all events were delivered, that number
 * as a null scalar).
 * A line found invalid part-way has had the events before its error
 * delivered: discard what they built. Allocates nothing once p has seen a
 * line as long. */
int sf_jsonproj_visit(sf_jsonproj *p, const char *line, size_t len, const sf_json_visitor *v,
                      char *msg, size_t msgcap);

/* Frees p; NULL is a no-op. */
void sf_jsonproj_free(sf_jsonproj *p);

#endif

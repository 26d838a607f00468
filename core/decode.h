/* decode.h - JSON line decoding into typed column slots.
 *
 * One small interface between the scan and JSON: the bytes of one line go
 * in, the values of the projected columns come out in their row slots, or a
 * reject reason with a message ("ts: expected int64, got string \"abc\"").
 * The jansson implementation is the reference; a faster projection decoder
 * can replace it behind the same calls.
 *
 * The jansson decoder routes jansson's allocations to an arena that is reset
 * per line, so decoding costs no malloc per line once warm. While a jansson
 * decoder exists, json_* values created elsewhere in the process also come
 * from that arena: create it after loading specs and dimension tables, and
 * free it before using jansson for anything else.
 */
#ifndef SF_DECODE_H
#define SF_DECODE_H

#include <stddef.h>

#include "core/jsonproj.h" /* sf_decode_field; decode dispatches to jsonproj, never the reverse */
#include "core/reject.h"
#include "core/value.h"

typedef struct sf_decoder sf_decoder;

typedef enum sf_decoder_kind {
    SF_DECODER_FAST = 0, /* core/jsonproj: streaming projection decoder */
    SF_DECODER_JANSSON   /* the reference */
} sf_decoder_kind;

/* Name of a decoder kind ("fast", "jansson"), and the reverse (0 or
 * SF_E_INVAL). */
const char *sf_decoder_kind_name(sf_decoder_kind k);
int sf_decoder_kind_parse(const char *name, sf_decoder_kind *k);

/* New decoder of the given kind for these fields (copied). NULL when out of
 * memory, or for a second live jansson decoder (see the banner). */
sf_decoder *sf_decoder_new(sf_decoder_kind kind, const sf_decode_field *fields, size_t nfields);

/* Same as sf_decoder_new(SF_DECODER_JANSSON, ...). */
sf_decoder *sf_decoder_new_jansson(const sf_decode_field *fields, size_t nfields);

/* Decodes one line (len bytes, no newline). On success returns 0 and sets
 * every field's slot in row (SF_NULL for a missing or null value); strings
 * are borrowed until the next call. A bad line returns 1 + its
 * sf_reject_reason and writes a message of at most msgcap bytes to msg.
 * Returns SF_E_NOMEM when memory runs out. */
int sf_decoder_decode(sf_decoder *d, const char *line, size_t len, sf_value *row, char *msg,
                      size_t msgcap);

/* sf_jsonproj_decode_window for a fast decoder: the line at buf decoded
 * with its end found in the same pass, or 0 (always, for the reference)
 * when the line must go to sf_decoder_decode. */
size_t sf_decoder_decode_window(sf_decoder *d, const char *buf, size_t avail, sf_value *row,
                                size_t *len);

/* The fast decoder inside d (borrowed while d lives), so that a loop over
 * a window's lines calls sf_jsonproj_decode_window without this module's
 * call in between; NULL for the reference, which takes no window. */
sf_jsonproj *sf_decoder_fast(sf_decoder *d);

/* Frees d (a jansson decoder restores jansson's default allocator); NULL is
 * a no-op. */
void sf_decoder_free(sf_decoder *d);

#endif

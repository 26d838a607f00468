/* reject.c - names of the reject reasons. */
#include "core/reject.h"

const char *sf_reject_reason_name(sf_reject_reason r)
{
    switch (r) {
    case SF_REJ_INVALID_JSON: return "invalid JSON";
    case SF_REJ_INVALID_UTF8: return "invalid UTF-8";
    case SF_REJ_NOT_OBJECT: return "not an object";
    case SF_REJ_TYPE_MISMATCH: return "type mismatch";
    case SF_REJ_INT_OVERFLOW: return "int64 overflow";
    case SF_REJ_TOO_DEEP: return "nesting too deep";
    case SF_REJ_LINE_TOO_LONG: return "line too long";
    case SF_REJ_KEY_COLLISION: return "key collision";
    case SF_REJ_TOO_MANY_ROWS: return "too many rows";
    case SF_REJ_MISSING_COLUMN: return "missing required column";
    case SF_REJ_DOUBLE_OVERFLOW: return "double overflow";
    case SF_REJ_INVALID_CSV: return "invalid CSV";
    case SF_REJ_NREASONS: break;
    }
    return "unknown";
}

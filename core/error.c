/* error.c - error codes and messages. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *sf_strerror(int code)
{
    switch (code) {
    case SF_OK: return "success";
    case SF_E_NOMEM: return "out of memory";
    case SF_E_IO: return "I/O error";
    case SF_E_PARSE: return "parse error";
    case SF_E_SPEC: return "invalid job spec";
    case SF_E_TYPE: return "type error";
    case SF_E_RANGE: return "value out of range";
    case SF_E_INVAL: return "invalid argument";
    case SF_E_NOTFOUND: return "not found";
    case SF_E_EXISTS: return "already exists";
    case SF_E_LIMIT: return "limit exceeded";
    case SF_E_INTERNAL: return "internal error";
    case SF_E_INTR: return "interrupted";
    case SF_E_BUSY: return "busy";
    case SF_E_PEER: return "another rank failed";
    default: return "unknown error";
    }
}

void sf_error_clear(sf_error *err)
{
    if (!err)
        return;
    err->code = 0;
    err->offset = -1;
    err->line = 0;
    err->column = 0;
    err->msg[0] = '\0';
}

int sf_error_set(sf_error *err, int code, const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

void sf_error_prefix(sf_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    char head[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    char old[sizeof err->msg];
    memcpy(old, err->msg, sizeof old);
    /* Truncation is acceptable: the place comes first, the tail is cut. */
    size_t n = strlen(head);
    if (n > sizeof err->msg - 3)
        n = sizeof err->msg - 3;
    memcpy(err->msg, head, n);
    memcpy(err->msg + n, ": ", 2);
    size_t rest = sizeof err->msg - n - 3;
    size_t m = strlen(old) < rest ? strlen(old) : rest;
    memcpy(err->msg + n + 2, old, m);
    err->msg[n + 2 + m] = '\0';
}

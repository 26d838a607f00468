/* error.h - error codes and the error record every fallible call fills.
 *
 * Library functions return 0 on success or a negative SF_E_* code and, when
 * given an sf_error, describe the failure there with its place (file, byte
 * offset, line, column, spec field) folded into one human-readable message.
 * Only mpi/ driver code turns an error into an exit.
 */
#ifndef SF_ERROR_H
#define SF_ERROR_H

#include <stdint.h>

enum {
    SF_OK = 0,
    SF_E_NOMEM = -1,    /* allocation failed */
    SF_E_IO = -2,       /* a system call on a file failed */
    SF_E_PARSE = -3,    /* malformed input text (JSON, CSV, expression) */
    SF_E_SPEC = -4,     /* invalid job spec */
    SF_E_TYPE = -5,     /* a value or expression has the wrong type */
    SF_E_RANGE = -6,    /* a number out of range */
    SF_E_INVAL = -7,    /* invalid argument */
    SF_E_NOTFOUND = -8, /* missing file, column or key */
    SF_E_EXISTS = -9,   /* something that must not exist does */
    SF_E_LIMIT = -10,   /* a configured limit was hit */
    SF_E_INTERNAL = -11, /* an invariant broke: a bug */
    SF_E_INTR = -12,     /* interrupted by a signal */
    SF_E_BUSY = -13,     /* held by someone else (an output claimed by another run) */
    SF_E_PEER = -14      /* stopped because another rank failed (its error is the one to report) */
};

typedef struct sf_error {
    int code;        /* SF_E_* (0 while no error was set) */
    int64_t offset;  /* byte offset in the input text, -1 if none */
    int line;        /* 1-based line, 0 if none */
    int column;      /* 1-based column, 0 if none */
    char msg[1024];  /* full message, place included */
} sf_error;

/* Text of an SF_E_* code. Never NULL; cannot fail. */
const char *sf_strerror(int code);

/* Clears err (NULL is allowed). */
void sf_error_clear(sf_error *err);

/* Sets err->code and formats err->msg (printf-style); err may be NULL.
 * Returns code so callers can write `return sf_error_set(err, ...)`. */
int sf_error_set(sf_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "prefix: " to err->msg, e.g. the spec field or file name. */
void sf_error_prefix(sf_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif

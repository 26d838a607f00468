/* value.c - type names. */
#include "core/value.h"

#include <string.h>

#include "core/error.h"

const char *sf_type_name(sf_type t)
{
    switch (t) {
    case SF_NULL: return "null";
    case SF_BOOL: return "bool";
    case SF_INT: return "int64";
    case SF_DOUBLE: return "double";
    case SF_STRING: return "string";
    case SF_DATE: return "date";
    }
    return "unknown";
}

int sf_type_parse(const char *name, sf_type *t)
{
    static const struct { const char *name; sf_type t; } names[] = {
        {"bool", SF_BOOL},     {"int64", SF_INT},     {"int", SF_INT},
        {"double", SF_DOUBLE}, {"float", SF_DOUBLE},  {"string", SF_STRING},
        {"date", SF_DATE},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i].name) == 0) {
            *t = names[i].t;
            return 0;
        }
    }
    return SF_E_INVAL;
}

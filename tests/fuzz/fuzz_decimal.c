/* fuzz_decimal.c - fuzz target: decimal text parsing (core/decimal.h).
 *
 * The first byte chooses decimal(P,S) (P = 1 + b % 38, S = (b / 38) % (P + 1)),
 * the rest is the text. Aborts when
 * - sf_dec_parse returns anything but 0, SF_E_PARSE or SF_E_RANGE;
 * - a parsed value has more than P digits;
 * - its printed text does not have exactly S places, or does not parse
 *   back to the same value (at P, and at 38 digits);
 * - the value compares unequal to itself at one more place (when that fits),
 *   or the printed text reads as a different double than the value.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/decimal.h"
#include "core/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what, const char *text)
{
    fprintf(stderr, "fuzz_decimal: %s: '%s'\n", what, text);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 512)
        return 0;
    int prec = 1 + data[0] % 38, scale = (data[0] / 38) % (prec + 1);
    const char *text = (const char *)data + 1;
    size_t n = size - 1;
    sf_i128 v;
    int rc = sf_dec_parse(text, n, prec, scale, &v);
    if (rc != 0 && rc != SF_E_PARSE && rc != SF_E_RANGE)
        die("unexpected return code", "");
    if (rc != 0)
        return 0;
    char buf[SF_DEC_BUF];
    size_t len = sf_dec_format(v, scale, buf);
    if (len != strlen(buf) || !sf_dec_fits(v, prec))
        die("value beyond its precision", buf);
    const char *dot = strchr(buf, '.');
    if (scale == 0 ? dot != NULL : (!dot || strlen(dot + 1) != (size_t)scale))
        die("printed text does not have S places", buf);
    sf_i128 w;
    if (sf_dec_parse(buf, len, prec, scale, &w) != 0 || w != v)
        die("printed text does not parse back", buf);
    if (sf_dec_parse(buf, len, 38, scale, &w) != 0 || w != v)
        die("printed text does not parse back at 38 digits", buf);
    if (scale < 38 && prec < 38) {
        sf_i128 up;
        if (sf_dec_rescale(v, scale, scale + 1, prec + 1, &up) != 0 ||
            sf_dec_cmp(v, scale, up, scale + 1) != 0 || sf_dec_cmp(up, scale + 1, v, scale) != 0)
            die("rescaled value compares unequal", buf);
    }
    if (sf_dec_to_double(v, scale) != strtod(buf, NULL))
        die("double of the value differs from the double of its text", buf);
    return 0;
}

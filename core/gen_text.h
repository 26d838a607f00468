/* gen_text.h - what the dataset generators share: counter-based random
 * draws and hand-written number formatting.
 *
 * Every draw is a pure function of a key and a field number (splitmix64's
 * output function), so a generated line does not depend on which rank
 * writes it. Numbers are formatted from integers by hand: no locale and no
 * float rounding can change the bytes. Changing anything here changes every
 * generated dataset.
 */
#ifndef SF_GEN_TEXT_H
#define SF_GEN_TEXT_H

#include <stdint.h>

#define SF_GEN_GOLDEN 0x9e3779b97f4a7c15ULL

/* splitmix64's output function (Steele, Lea, Flood 2014). */
uint64_t sf_gen_mix64(uint64_t z);

/* Uniform in [0, n) by multiply-shift (bias n / 2^64, negligible). */
uint64_t sf_gen_draw(uint64_t key, unsigned field, uint64_t n);

/* Each writes at b and returns the end. */
char *sf_gen_put_lit(char *b, const char *s);
char *sf_gen_put_u64w(char *b, uint64_t v, int width); /* zero-padded to width */
char *sf_gen_put_u64(char *b, uint64_t v);
char *sf_gen_put_cents(char *b, int64_t cents);        /* -35441 -> "-354.41" */
char *sf_gen_put_date(char *b, int64_t days);          /* days since 1970 -> YYYY-MM-DD */

#endif

/* ere.h - vets a POSIX extended regular expression before regcomp(3).
 *
 * glibc's regcomp expands every repetition into copies of its operand and
 * then computes, for each epsilon node, the set of nodes it reaches without
 * consuming input. Both can blow up on short patterns: each '+' doubles
 * its operand ('a' and eighteen '+' are 2^19 nodes: 172 MB), and a run
 * of optional pieces is quadratic ('a{1,10000}' or '(a*){10000}' takes
 * 790 MB and 0.4 s, 'a{1,32767}' 8 GB and 14 s). Matching with a
 * back-reference ('\1'), which POSIX EREs do not have, takes time
 * exponential in the subject's length. A job's pattern runs on every row
 * of a 100 GB input, so such a pattern is refused when the job is loaded,
 * with a message that says why, instead of exhausting a rank's memory.
 *
 * sf_ere_check estimates, in one pass over the pattern and without
 * expanding it, how many nodes the expanded pattern has and how many
 * entries its epsilon closures hold in all (a Thompson construction:
 * concatenation joins the nullable exits of the left side to the epsilon
 * entries of the right side, so a run of k optional pieces costs k^2/2).
 * The estimate is an upper bound of the same order as glibc's own work;
 * it does not validate the syntax, which is left to regcomp.
 */
#ifndef SF_ERE_H
#define SF_ERE_H

#include <stddef.h>

/* Limits of an accepted pattern: about 20-70 MB and 0.05 s of regcomp. */
#define SF_ERE_MAX_NODES 200000.0
#define SF_ERE_MAX_CLOSURE 4000000.0

typedef struct sf_ere_cost {
    double nodes;   /* nodes of the expanded pattern */
    double closure; /* entries of all epsilon closures together */
} sf_ere_cost;

/* Estimates the cost of pattern p[0..n) (NUL bytes are not special).
 * Returns 0 if the pattern is within the limits above; -1 if it is not or
 * holds a back-reference, with a one-line reason in why (why_len > 0;
 * always NUL-terminated). cost, if not NULL, receives the estimate (the
 * part scanned so far when a back-reference stopped the scan). */
int sf_ere_check(const char *p, size_t n, sf_ere_cost *cost, char *why, size_t why_len);

#endif

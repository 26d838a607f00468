/* ere.h - vets a POSIX extended regular expression before regcomp(3).
 *
 * glibc's regcomp expands every repetition into copies of its operand and
 * then computes, for each epsilon node, the set of nodes it reaches without
 * consuming input. Both can blow up on short patterns: each '+' doubles
 * its operand ('a' and eighteen '+' are 2^19 nodes: 172 MB), and a run
 * of optional pieces is quadratic ('a{1,10000}' or '(a*){10000}' takes
 * 790 MB and 0.4 s, 'a{1,32767}' 8 GB and 14 s). Matching with a
 * back-reference ('\1'), which POSIX EREs do not have, takes time
 * exponential in the subject's length. Two shapes make regcomp itself
 * take exponential time: a loop whose body can match the empty string
 * ('^a*+++++c' 8.8 s, one more '+' past 30 s), and an anchor followed by
 * a long run of parts that can all match the empty string, which glibc
 * copies for the anchor's constraint ('^(a{0,3}){0,300}' 1.7 s and 308
 * MB; without the '^' 0.005 s and 9 MB). A job's pattern runs on every row
 * of a 100 GB input, so such a pattern is refused when the job is loaded,
 * with a message that says why, instead of exhausting a rank's memory.
 *
 * sf_ere_check estimates, in one pass over the pattern and without
 * expanding it, how many nodes the expanded pattern has and how many
 * entries its epsilon closures hold in all (a Thompson construction:
 * concatenation joins the nullable exits of the left side to the epsilon
 * entries of the right side, so a run of k optional pieces costs k^2/2).
 * It also marks loops over the empty string, and sums the closure entries
 * an anchor reaches by epsilon. The estimate is of the same order as
 * glibc's own work (tested against it on random patterns); it does not
 * validate the syntax, which is left to regcomp.
 */
#ifndef SF_ERE_H
#define SF_ERE_H

#include <stddef.h>

/* Limits of an accepted pattern: about 20-70 MB and 0.05 s of regcomp. */
#define SF_ERE_MAX_NODES 200000.0
#define SF_ERE_MAX_CLOSURE 4000000.0
/* Closure entries reachable by epsilon from an anchor: glibc duplicates
 * those nodes for the anchor's constraint, at about 30 times the cost. */
#define SF_ERE_MAX_ANCHORED 100000.0

typedef struct sf_ere_cost {
    double nodes;   /* nodes of the expanded pattern */
    double closure; /* entries of all epsilon closures together */
    double anchored; /* closure entries reachable by epsilon from anchors */
} sf_ere_cost;

/* Estimates the cost of pattern p[0..n) (NUL bytes are not special).
 * Returns 0 if the pattern is within the limits above; -1 if it is not,
 * holds a back-reference or a loop over the empty string, with a one-line
 * reason in why (why_len > 0; always NUL-terminated). cost, if not NULL,
 * receives the estimate (the part scanned so far when a back-reference
 * stopped the scan). */
int sf_ere_check(const char *p, size_t n, sf_ere_cost *cost, char *why, size_t why_len);

#endif

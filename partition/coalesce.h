/* coalesce.h - which rank writes a rank's rows under --write coalesce=N.
 *
 * Like Spark's coalesce(N): no rehashing; the ranks are cut into N
 * contiguous groups [k*R/N, (k+1)*R/N) and all rows of group k go to one
 * writer, the first rank of the group, so writers are spread over the
 * ranks (and over the nodes of a block-mapped job).
 */
#ifndef SF_COALESCE_H
#define SF_COALESCE_H

/* For rank of nranks and n writers (n > nranks counts as nranks, n >= 1):
 * sets *file to the group k the rank belongs to (its files are part-<k>)
 * and returns the writer rank of that group. Cannot fail. */
int sf_coalesce_writer(int rank, int nranks, int n, int *file);

#endif

/* shuffle.h - all-to-all exchange of records in rounds of bounded size.
 *
 * Senders frame records into one buffer per destination rank with
 * sf_shuffle_put() (or make each round's records on demand,
 * sf_shuffle_exchange_fill()); the exchange moves them in rounds: in each round a rank sends each destination whole records worth
 * at most round_bytes / nranks (at least one record), so a message never
 * nears MPI's 2 GiB int-count limit and receive memory stays bounded. Every
 * received record is handed to a callback, sources in rank order.
 */
#ifndef SF_SHUFFLE_H
#define SF_SHUFFLE_H

#include <mpi.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/error.h"
#include "mpi/progress.h"

typedef struct sf_shuffle_stats {
    uint64_t bytes_sent, bytes_received; /* record bytes, framing included */
    uint64_t records_sent, records_received;
    uint64_t messages_sent, messages_received; /* non-empty (src,dst) pairs per round */
    uint64_t rounds;
} sf_shuffle_stats;

/* Appends one record (len bytes) to a destination's buffer, framed with its
 * length. Not collective. Returns 0 or SF_E_NOMEM. */
int sf_shuffle_put(sf_buf *dest, const void *rec, size_t len);

/* Reserves a record of len bytes in dest and returns where to write it, or
 * NULL when out of memory. Not collective. */
unsigned char *sf_shuffle_reserve(sf_buf *dest, size_t len);

/* Starts a record in dest whose length is not known yet (the caller then
 * appends its bytes to dest): returns the mark sf_shuffle_end() takes, or
 * SIZE_MAX when out of memory. Not collective. */
size_t sf_shuffle_begin(sf_buf *dest);

/* Ends the record begun at mark: its length is what was appended since.
 * Returns 0, or SF_E_LIMIT for a record over 1 GiB. Cannot fail else. */
int sf_shuffle_end(sf_buf *dest, size_t mark);

typedef int (*sf_shuffle_fn)(void *ctx, const unsigned char *rec, size_t len, int source);

/* Makes one round's records: appends whole framed records for rank d to
 * out[d] (empty at the call) until some out[d] holds quota bytes or
 * nothing is left, and sets *done once everything has been made. Records
 * received in earlier rounds have reached their callback by then. Returns
 * 0 or an SF_E_* code. */
typedef int (*sf_shuffle_fill_fn)(void *ctx, sf_buf *out, size_t quota, int *done);

/* Collective over comm. Sends out[d] (framed records) to rank d for every d,
 * calling fn for every record received. The out buffers are emptied.
 * stats (may be NULL) is added to. progress (may be NULL; rank 0 only,
 * labelled by the caller) shows the bytes all ranks have sent. Returns 0, or the first error of any rank
 * (fn's return value, SF_E_NOMEM, SF_E_LIMIT for a record over 1 GiB); every
 * rank returns the same verdict, and err is filled on the rank that failed. */
int sf_shuffle_exchange(MPI_Comm comm, sf_buf *out, uint64_t round_bytes, sf_shuffle_fn fn,
                        void *ctx, sf_shuffle_stats *stats, sf_progress *progress,
                        sf_error *err);

/* Collective over comm. As sf_shuffle_exchange(), but fill makes each
 * round's records just before the round (encoding them straight into the
 * buffers the round sends from), so a rank holds one round of records at
 * a time, not all it sends. Every rank returns the same verdict; err is
 * filled on the rank that failed. */
int sf_shuffle_exchange_fill(MPI_Comm comm, sf_shuffle_fill_fn fill, void *fctx,
                             uint64_t round_bytes, sf_shuffle_fn fn, void *ctx,
                             sf_shuffle_stats *stats, sf_progress *progress, sf_error *err);

#endif

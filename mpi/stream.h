/* stream.h - streaming record exchange while ranks scan at their own pace.
 *
 * The all-to-all shuffle (mpi/shuffle.h) needs every rank at the same
 * collective; raw rows, in contrast, are produced during the scan, where
 * ranks run independently (dynamic chunk scheduling). A stream batches
 * records per destination and sends full batches with MPI_Isend; received
 * batches are taken in whenever the owner polls, and every wait inside the
 * stream polls too and calls an idle hook (rank 0 serves chunk requests
 * there), so no rank can block another. Records for the rank itself are
 * delivered at once. Memory is bounded: at most two batches in flight per
 * destination, one being filled, one being received.
 *
 * Callbacks may run inside sf_stream_put()/sf_stream_poll(); they must not
 * use the stream themselves.
 */
#ifndef SF_STREAM_H
#define SF_STREAM_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "mpi/shuffle.h"

typedef struct sf_stream sf_stream;

/* Receives one record from rank source. Returns 0 or an error; after an
 * error the stream keeps exchanging (so no rank hangs) but drops records,
 * and sf_stream_finish() returns the error. */
typedef int (*sf_stream_fn)(void *ctx, const unsigned char *rec, size_t len, int source);

/* Called while the stream waits for a send to complete or for other ranks
 * to finish; may be NULL. */
typedef void (*sf_stream_idle_fn)(void *ctx);

/* New stream over comm (not collective: every rank makes its own, with the
 * same tag). batch is the bytes per message to one destination. Returns
 * NULL when out of memory. */
sf_stream *sf_stream_new(MPI_Comm comm, int tag, size_t batch, sf_stream_fn fn, void *ctx,
                         sf_stream_idle_fn idle, void *idle_ctx);

/* Replaces the idle hook (NULL for none). Not collective. */
void sf_stream_set_idle(sf_stream *s, sf_stream_idle_fn idle, void *idle_ctx);

/* A hint about a record still to be delivered from the same message, at
 * stage 0, 1 or 2 (SF_STREAM_AHEAD records ahead of it, then half that,
 * then a quarter: a receiver can start loading what the record touches,
 * then what that points to). note is the record's own word: what stage 0
 * writes there (a hash of the record's key, say) stages 1 and 2 read, and
 * so does the record's callback (sf_stream_note). Must not change what
 * the records mean nor use the stream. Returns 0, or 1 when the stage has
 * nothing to do for now: the stream then skips that stage for the rest
 * of the message (stage 0, whose note the others read, is never
 * skipped). */
typedef int (*sf_stream_ahead_fn)(void *ctx, const unsigned char *rec, size_t len, int stage,
                                  uint64_t *note);

enum { SF_STREAM_AHEAD = 8 };

/* Sets the look-ahead hook (NULL for none); it shares the records'
 * callback's ctx. Not collective. */
void sf_stream_set_ahead(sf_stream *s, sf_stream_ahead_fn ahead);

/* Inside the records' callback: the word the look-ahead hook's stage 0
 * wrote for the record being delivered (borrowed: valid during the
 * callback), or NULL when no hook saw it (no hook, or a record the hook
 * was not shown). Not collective. */
const uint64_t *sf_stream_note(const sf_stream *s);

/* Queues one record (len bytes) for rank dest; a full batch is sent
 * point to point. Not collective. Returns 0, an earlier callback error, or
 * SF_E_NOMEM. */
int sf_stream_put(sf_stream *s, int dest, const void *rec, size_t len);

/* Frames a record of len bytes for rank dest (not this rank) in its batch
 * and returns where to write the len bytes, now, before any other call on
 * s; the batch leaves when the next record would not fit, or at
 * sf_stream_finish(). May send (and so poll) first. Not collective.
 * Returns NULL when out of memory. */
unsigned char *sf_stream_reserve(sf_stream *s, int dest, size_t len);

/* Takes in every batch that has arrived. Cheap when nothing has. Not
 * collective. */
int sf_stream_poll(sf_stream *s);

/* Collective over the stream's comm: sends what is buffered, tells every
 * rank this one is done, and receives until every rank has said so. Every
 * rank must call it once (it does not synchronize more than that). Returns
 * 0 or the first error of this rank. */
int sf_stream_finish(sf_stream *s, sf_error *err);

/* Adds this stream's traffic to stats. Not collective. */
void sf_stream_stats(const sf_stream *s, sf_shuffle_stats *stats);

/* Frees s; NULL is a no-op. Call only after sf_stream_finish(). */
void sf_stream_free(sf_stream *s);

#endif

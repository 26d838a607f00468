/* window.h - rolling window functions over sorted result rows.
 *
 * Rows must be sorted by the window's partition columns, then its order
 * column (sf_rows_sort does that, with a total tie-break). For each row the
 * frame is the current row and up to `preceding` rows before it in the same
 * partition (SQL: ROWS BETWEEN n PRECEDING AND CURRENT ROW), or with
 * range >= 0 the rows of the partition whose date order value lies in
 * [v - range, v] (SQL: RANGE BETWEEN n PRECEDING AND CURRENT ROW, peers
 * included; NULL order values frame each other). Linear in the rows. NULL
 * inputs are
 * skipped; a frame with no non-NULL input gives NULL. Sums are exact
 * (correctly rounded, like math.fsum), so they do not depend on row order.
 */
#ifndef SF_WINDOW_H
#define SF_WINDOW_H

#include "core/rows.h"
#include "core/spec.h"

/* Computes window w into column out_col of every row. Returns 0,
 * SF_E_NOMEM, or SF_E_RANGE when a decimal sum or mean needs more than 38
 * digits. Decimal sums are exact (core/decimal.h). */
int sf_window_eval(sf_rows *rows, const sf_job_window *w, int out_col);

/* As sf_window_eval, and on failure *failed_row is the row whose frame
 * failed (its partition names the failure). */
int sf_window_eval_at(sf_rows *rows, const sf_job_window *w, int out_col, size_t *failed_row);

#endif

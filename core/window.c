/* window.c - rolling sum/mean/min/max over rows frames and range frames.
 *
 * Within a partition both ends of the frame only move forward (a rows
 * frame [i - n, i]; a range frame [first row >= v - n, last peer of v] over
 * sorted order values), so each row enters and leaves a running state once:
 * evaluation is linear in the rows. The running state keeps sums exact: an
 * int64 sum in 128 bits, a double sum as an exact sf_xsum to which a row's
 * leaving adds its negation (exact, so the result is the correctly rounded
 * sum of the frame whatever came and went before); min and max keep a
 * monotonic queue of row indexes. A frame holding an infinity or NaN, or
 * whose running double sum overflowed, is recomputed from its rows, so
 * those results stay what IEEE addition of the frame gives.
 *
 * Decimal sums run in a 192-bit sf_dec_acc the same way (a leaving row adds
 * its negation), so they stay exact.
 *
 * Invariant: slide_add/slide_remove see each row of a partition at most
 * once each, in row order, and remove only rows they added.
 */
#include "core/window.h"

#include <math.h>
#include <stdlib.h>

#include "core/decimal.h"
#include "core/error.h"
#include "core/xsum.h"

static int same_partition(const sf_rows *rows, const sf_job_window *w, size_t a, size_t b)
{
    const sf_value *x = sf_rows_at(rows, a), *y = sf_rows_at(rows, b);
    for (size_t k = 0; k < w->npartition; k++) {
        if (sf_value_cmp(&x[w->partition_by[k]], &y[w->partition_by[k]]) != 0)
            return 0;
    }
    return 1;
}

/* sum or mean of a decimal column: exact; SF_E_RANGE beyond 38 digits. */
static int eval_decimal_frame(const sf_rows *rows, const sf_job_window *w, size_t lo, size_t hi,
                              sf_value *out)
{
    sf_dec_acc acc;
    sf_dec_acc_init(&acc);
    int64_t n = 0;
    int scale = 0;
    for (size_t i = lo; i <= hi; i++) {
        const sf_value *v = &sf_rows_at(rows, i)[w->column];
        if (v->type != SF_DECIMAL)
            continue;
        sf_dec_acc_add(&acc, sf_decimal_get(v));
        scale = v->scale;
        n++;
    }
    if (n == 0)
        return 0;
    sf_i128 sum, mean;
    if (sf_dec_acc_get(&acc, SF_DEC_MAX_PREC, &sum) != 0)
        return SF_E_RANGE;
    if (w->func == SF_AGG_SUM) {
        *out = sf_decimal(sum, scale);
        return 0;
    }
    if (sf_dec_mean(sum, n, w->dec.scale - scale, w->dec.prec, &mean) != 0)
        return SF_E_RANGE;
    *out = sf_decimal(mean, w->dec.scale);
    return 0;
}

/* One frame computed from its rows [lo, hi]: the definition the running
 * state must agree with, and the path for frames with inf/NaN. */
static int eval_frame(const sf_rows *rows, const sf_job_window *w, size_t lo, size_t hi,
                      sf_value *out)
{
    const int col = w->column;
    *out = sf_null();
    if (w->func == SF_AGG_MIN || w->func == SF_AGG_MAX) {
        for (size_t i = lo; i <= hi; i++) {
            const sf_value *v = &sf_rows_at(rows, i)[col];
            if (v->type == SF_NULL)
                continue;
            int c = out->type == SF_NULL ? 0 : sf_value_cmp(v, out);
            if (out->type == SF_NULL || (w->func == SF_AGG_MIN ? c < 0 : c > 0))
                *out = *v;
        }
        return 0;
    }
    if (w->type == SF_DECIMAL)
        return eval_decimal_frame(rows, w, lo, hi, out);
    sf_xsum x;
    sf_xsum_init(&x);
    __int128 isum = 0;
    int64_t n = 0, nint = 0;
    int rc = 0;
    for (size_t i = lo; i <= hi && !rc; i++) {
        const sf_value *v = &sf_rows_at(rows, i)[col];
        if (v->type == SF_INT) {
            isum += v->u.i;
            rc = sf_xsum_add(&x, (double)v->u.i);
            n++;
            nint++;
        } else if (v->type == SF_DOUBLE) {
            rc = sf_xsum_add(&x, v->u.d);
            n++;
        }
    }
    if (!rc && n > 0) {
        if (w->func == SF_AGG_MEAN)
            *out = sf_double(nint == n ? (double)isum / (double)n
                                       : sf_xsum_round(&x) / (double)n);
        else if (w->type == SF_INT && isum >= INT64_MIN && isum <= INT64_MAX)
            *out = sf_int((int64_t)isum);
        else if (w->type == SF_INT)
            *out = sf_null(); /* an int64 window sum beyond int64 */
        else
            *out = sf_double(sf_xsum_round(&x));
    }
    sf_xsum_free(&x);
    return rc;
}

/* The running state of one partition's frames. */
typedef struct slide {
    const sf_rows *rows;
    const sf_job_window *w;
    __int128 isum;  /* int64 inputs */
    int64_t nint;
    sf_xsum x;      /* finite double inputs */
    int64_t ndbl;
    int64_t nspecial; /* inf/NaN inputs in the frame */
    sf_dec_acc dsum;  /* decimal inputs: exact, a leaving row adds its negation */
    int64_t ndec;
    int dscale;       /* their scale (one per column) */
    size_t *q;      /* min/max: row indexes, values monotonic from head */
    size_t qhead, qtail;
} slide;

static void slide_reset(slide *s)
{
    s->isum = 0;
    s->nint = s->ndbl = s->nspecial = s->ndec = 0;
    sf_dec_acc_init(&s->dsum);
    sf_xsum_free(&s->x);
    sf_xsum_init(&s->x);
    s->qhead = s->qtail = 0;
}

static const sf_value *cell(const slide *s, size_t i)
{
    return &sf_rows_at(s->rows, i)[s->w->column];
}

static int slide_add(slide *s, size_t i)
{
    const sf_value *v = cell(s, i);
    if (v->type == SF_NULL)
        return 0;
    if (s->w->func == SF_AGG_MIN || s->w->func == SF_AGG_MAX) {
        /* Equal values stay queued, so the head is the earliest extreme. */
        int want = s->w->func == SF_AGG_MIN ? 1 : -1;
        while (s->qtail > s->qhead && sf_value_cmp(cell(s, s->q[s->qtail - 1]), v) * want > 0)
            s->qtail--;
        s->q[s->qtail++] = i;
        return 0;
    }
    if (v->type == SF_DECIMAL) {
        sf_dec_acc_add(&s->dsum, sf_decimal_get(v));
        s->dscale = v->scale;
        s->ndec++;
    } else if (v->type == SF_INT) {
        s->isum += v->u.i;
        s->nint++;
    } else if (v->type == SF_DOUBLE) {
        s->ndbl++;
        if (!isfinite(v->u.d))
            s->nspecial++;
        else
            return sf_xsum_add(&s->x, v->u.d);
    }
    return 0;
}

static int slide_remove(slide *s, size_t i)
{
    const sf_value *v = cell(s, i);
    if (v->type == SF_NULL)
        return 0;
    if (s->w->func == SF_AGG_MIN || s->w->func == SF_AGG_MAX) {
        if (s->qtail > s->qhead && s->q[s->qhead] == i)
            s->qhead++;
        return 0;
    }
    if (v->type == SF_DECIMAL) {
        sf_dec_acc_add(&s->dsum, -sf_decimal_get(v)); /* |v| < 10^38: no overflow */
        s->ndec--;
    } else if (v->type == SF_INT) {
        s->isum -= v->u.i;
        s->nint--;
    } else if (v->type == SF_DOUBLE) {
        s->ndbl--;
        if (!isfinite(v->u.d))
            s->nspecial--;
        else
            return sf_xsum_add(&s->x, -v->u.d);
    }
    return 0;
}

/* The window's value over the frame [lo, hi] the state holds. */
static int slide_value(slide *s, size_t lo, size_t hi, sf_value *out)
{
    const sf_job_window *w = s->w;
    *out = sf_null();
    if (w->func == SF_AGG_MIN || w->func == SF_AGG_MAX) {
        if (s->qtail > s->qhead)
            *out = *cell(s, s->q[s->qhead]);
        return 0;
    }
    if (w->type == SF_DECIMAL) {
        if (s->ndec == 0)
            return 0;
        sf_i128 sum, mean;
        if (sf_dec_acc_get(&s->dsum, SF_DEC_MAX_PREC, &sum) != 0)
            return SF_E_RANGE;
        if (w->func == SF_AGG_SUM) {
            *out = sf_decimal(sum, s->dscale);
            return 0;
        }
        if (sf_dec_mean(sum, s->ndec, w->dec.scale - s->dscale, w->dec.prec, &mean) != 0)
            return SF_E_RANGE;
        *out = sf_decimal(mean, w->dec.scale);
        return 0;
    }
    if (s->nspecial > 0 || s->x.overflow)
        return eval_frame(s->rows, w, lo, hi, out);
    int64_t n = s->nint + s->ndbl;
    if (n == 0)
        return 0;
    if (s->ndbl == 0) {
        if (w->func == SF_AGG_MEAN)
            *out = sf_double((double)s->isum / (double)n);
        else if (w->type == SF_INT && s->isum >= INT64_MIN && s->isum <= INT64_MAX)
            *out = sf_int((int64_t)s->isum);
        else if (w->type == SF_INT)
            *out = sf_null(); /* an int64 window sum beyond int64 */
        else
            *out = sf_double((double)s->isum);
        return 0;
    }
    if (s->nint > 0) /* a column mixing int64 and double: not kept running */
        return eval_frame(s->rows, w, lo, hi, out);
    double sum = sf_xsum_round(&s->x);
    *out = sf_double(w->func == SF_AGG_MEAN ? sum / (double)n : sum);
    return 0;
}

/* The range frame's order value: a date's day number; an integer-valued
 * order type (range in its unit) reads u.i. */
static int order_null(const sf_rows *rows, const sf_job_window *w, size_t i)
{
    return sf_rows_at(rows, i)[w->order_by].type == SF_NULL;
}

static int64_t order_at(const sf_rows *rows, const sf_job_window *w, size_t i)
{
    const sf_value *v = &sf_rows_at(rows, i)[w->order_by];
    return v->type == SF_DATE ? (int64_t)v->u.date : v->u.i;
}

/* Evaluates rows [start, end), one partition. */
static int eval_partition(slide *s, size_t start, size_t end, int out_col, size_t *failed_row)
{
    const sf_rows *rows = s->rows;
    const sf_job_window *w = s->w;
    size_t lo = start, next = start; /* the state holds rows [lo, next) */
    int rc = 0;
    slide_reset(s);
    for (size_t i = start; i < end && !rc; i++) {
        size_t want_lo, want_hi; /* the frame of row i: [want_lo, want_hi] */
        if (w->range < 0) {
            want_lo = i - start > (size_t)w->preceding ? i - (size_t)w->preceding : start;
            want_hi = i;
        } else if (order_null(rows, w, i)) {
            /* NULL order values sort first; their rows are each other's
             * peers and their frame. */
            want_lo = start;
            want_hi = i;
            while (want_hi + 1 < end && order_null(rows, w, want_hi + 1))
                want_hi++;
        } else {
            int64_t v = order_at(rows, w, i), from = v - w->range;
            want_lo = lo > i ? i : lo;
            while (want_lo < i && (order_null(rows, w, want_lo) ||
                                   order_at(rows, w, want_lo) < from))
                want_lo++;
            want_hi = i;
            while (want_hi + 1 < end && order_at(rows, w, want_hi + 1) == v)
                want_hi++;
        }
        while (!rc && next <= want_hi)
            rc = slide_add(s, next++);
        while (!rc && lo < want_lo)
            rc = slide_remove(s, lo++);
        sf_value out;
        if (!rc)
            rc = slide_value(s, want_lo, want_hi, &out);
        if (!rc)
            sf_rows_at(rows, i)[out_col] = out;
        else
            *failed_row = i;
    }
    return rc;
}

int sf_window_eval(sf_rows *rows, const sf_job_window *w, int out_col)
{
    size_t at;
    return sf_window_eval_at(rows, w, out_col, &at);
}

int sf_window_eval_at(sf_rows *rows, const sf_job_window *w, int out_col, size_t *failed_row)
{
    slide s;
    s.rows = rows;
    s.w = w;
    sf_xsum_init(&s.x);
    s.q = malloc((rows->n ? rows->n : 1) * sizeof *s.q);
    if (!s.q)
        return SF_E_NOMEM;
    int rc = 0;
    size_t start = 0; /* first row of the current partition */
    for (size_t i = 1; i <= rows->n && !rc; i++) {
        if (i == rows->n || !same_partition(rows, w, i - 1, i)) {
            rc = eval_partition(&s, start, i, out_col, failed_row);
            start = i;
        }
    }
    sf_xsum_free(&s.x);
    free(s.q);
    return rc;
}

/* window.c - rolling sum/mean/min/max. Each frame is recomputed from its
 * rows: O(rows * frame), cheap for the day-scale frames windows are used
 * for, and every result stays exact and independent of evaluation order. */
#include "core/window.h"

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

int sf_window_eval(sf_rows *rows, const sf_job_window *w, int out_col)
{
    size_t at;
    return sf_window_eval_at(rows, w, out_col, &at);
}

int sf_window_eval_at(sf_rows *rows, const sf_job_window *w, int out_col, size_t *failed_row)
{
    size_t start = 0; /* first row of the current partition */
    for (size_t i = 0; i < rows->n; i++) {
        if (i > 0 && !same_partition(rows, w, i - 1, i))
            start = i;
        size_t lo = i - start > (size_t)w->preceding ? i - (size_t)w->preceding : start;
        sf_value v;
        int rc = eval_frame(rows, w, lo, i, &v);
        if (rc) {
            *failed_row = i;
            return rc;
        }
        sf_rows_at(rows, i)[out_col] = v;
    }
    return 0;
}

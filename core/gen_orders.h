/* gen_orders.h - deterministic generator of the nested orders dataset.
 *
 * Every line is a pure function of the parameters and its index (like
 * core/gen_kpi.h), so any rank can produce any slice and the file is
 * identical for any rank count. The lines are nested JSON for the flatten
 * toolkit and the order_lines job, about 600 bytes on average:
 *   {"order_id":"o<i+1, 10 digits>","ts":S,"status":T,"channel":C,
 *    "customer":{"id":N,"name":"Customer N","tier":R,
 *                "address":{"city":Y,"country":K,"zip":"NNNNN"}},
 *    "items":[{"sku":"SKU-NNNN","name":"Product N","qty":1..5,"price":p,
 *              "tags":[...]},...],
 *    "discounts":[{"code":D,"amount":a},...],
 *    "payment":{"method":M,"installments":1|3|6[,"card":{"brand":B,"last4":"NNNN"}]},
 *    "shipping":{"method":"standard"|"express","cost":c},
 *    "gift":true|false,"note":null|text[,"coupon":"CODE"|15][,"rating":4|4.5|null]}
 *   S: uniform unix seconds in [2025-07-31T00:00Z, 2025-08-31T00:00Z);
 *   T: paid, shipped, delivered, cancelled or refunded; C: web, app, store,
 *   phone; N uniform in 1..customers; R: gold, silver, bronze or null;
 *   1 to 5 items (about 2% of orders have none: []), SKUs uniform in
 *   1..skus, prices with two decimals, 0 to 2 tags; 0 to 2 discounts;
 *   notes hold commas, quotes, escaped newlines and non-ASCII text about one
 *   time in eight, so CSV quoting and UTF-8 are exercised; coupon (string or
 *   integer) and rating (integer, real or null) appear on some orders only,
 *   so column sets and type widening vary between lines.
 */
#ifndef SF_GEN_ORDERS_H
#define SF_GEN_ORDERS_H

#include <stddef.h>
#include <stdint.h>

#define SF_GEN_ORDERS_LINE_MAX 2048 /* no generated line is longer, '\n' included */

typedef struct sf_gen_orders_params {
    uint64_t seed;
    uint64_t orders;
    uint64_t customers;
    uint64_t skus;
} sf_gen_orders_params;

/* Writes order i (with its final '\n', no NUL) into buf, which has room for
 * SF_GEN_ORDERS_LINE_MAX bytes, and returns its length. customers and skus
 * must be at least 1. Cannot fail. */
size_t sf_gen_orders_line(const sf_gen_orders_params *p, uint64_t i, char *buf);

#endif

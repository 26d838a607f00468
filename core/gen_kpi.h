/* gen_kpi.h - deterministic generator of the daily KPI dataset.
 *
 * Every line is a pure function of the parameters and its index, so any rank
 * can produce any slice and the files are identical for any rank count.
 *
 * events.jsonl, one per event i (0-based):
 *   {"event_id":"e<i+1, 10 digits>","user_id":U,"item_id":I,"event_type":T,
 *    "ts":S,"props":P}
 *   T: one of view, click, add_to_cart, remove_from_cart, purchase (equally
 *   likely); S: uniform unix seconds in [2025-07-31T00:00Z, 2025-08-31T00:00Z);
 *   P: {} for click and remove_from_cart, {"quantity":1..5} for add_to_cart,
 *   {"duration":5..300} for view, {"price":p} for purchase with p printed
 *   with two decimals, about 14% of them negative (refunds).
 *   U and I are numbers, or with string_ids strings in the seed dataset's
 *   format: "user_000783", "item_000055" (the number zero-padded to 6
 *   digits, more when the count needs them; the same text in users.jsonl
 *   and items.jsonl).
 *   U is uniform in 1..users and I in 1..items (or Zipf-distributed with
 *   exponent zipf_s: id 1 the most frequent), except about 0.2% of events
 *   that name a user or item id that does not exist (users+1.., items+1..),
 *   so inner joins have something to drop.
 * users.jsonl, user_id 1..users (a string with string_ids, as above):
 *   {"user_id":N,"country":C,"age":18..80,"gender":"f"|"m"|"x",
 *    "registration_date":"YYYY-MM-DD"}   C: one of 10 country codes
 * items.jsonl, item_id 1..items (a string with string_ids):
 *   {"item_id":N,"category":K,"price":p,"brand":"brand-NN","name":"item-N"}
 *   K: one of 8 categories
 */
#ifndef SF_GEN_KPI_H
#define SF_GEN_KPI_H

#include <stddef.h>
#include <stdint.h>

#define SF_GEN_LINE_MAX 512 /* no generated line is longer, '\n' included */

typedef struct sf_gen_kpi_params {
    uint64_t seed;
    uint64_t events;
    uint64_t users;
    uint64_t items;
    /* Skew: 0 (uniform ids) or the exponent s of a Zipf law, P(id k) ~ 1/k^s,
     * for user_id and item_id. With s > 0, sf_gen_kpi_prepare() must have
     * built the tables below. */
    double zipf_s;
    int string_ids; /* 1: user_id and item_id as "user_000783", "item_000055" */
    double *user_cdf; /* users entries, cumulative, ending at 1.0 */
    double *item_cdf;
} sf_gen_kpi_params;

/* Builds the Zipf tables when p->zipf_s > 0 (nothing otherwise). Returns 0
 * or SF_E_NOMEM. */
int sf_gen_kpi_prepare(sf_gen_kpi_params *p);

/* Frees the tables; the params stay usable for uniform ids. */
void sf_gen_kpi_release(sf_gen_kpi_params *p);

/* Each writes line i (with its final '\n', no NUL) into buf, which has room
 * for SF_GEN_LINE_MAX bytes, and returns its length. They cannot fail. */
size_t sf_gen_kpi_event(const sf_gen_kpi_params *p, uint64_t i, char *buf);
size_t sf_gen_kpi_user(const sf_gen_kpi_params *p, uint64_t i, char *buf);
size_t sf_gen_kpi_item(const sf_gen_kpi_params *p, uint64_t i, char *buf);

#endif

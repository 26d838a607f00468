/* gen_kpi.c - deterministic generator of the daily KPI dataset.
 *
 * Invariant: every random draw is a counter-based hash of (seed, file,
 * line index, field number), never a sequential PRNG state, so line i comes
 * out the same whichever rank generates it and in whatever order. Changing
 * a stream or field number changes every generated dataset: keep them.
 * Text is formatted by hand from integers (prices are integer cents), both
 * for speed and so no locale or float rounding can creep into the bytes.
 */
#include "core/gen_kpi.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/gen_text.h"


enum { STREAM_EVENT = 1, STREAM_USER = 2, STREAM_ITEM = 3 };

/* Field numbers of the draws inside one line. */
enum {
    F_USER, F_ITEM, F_TYPE, F_TS, F_PROP, F_SIGN, F_BAD, F_BAD_ID,
    F_COUNTRY, F_AGE, F_GENDER, F_REG, F_CATEGORY, F_PRICE, F_BRAND
};

/* 2025-07-31T00:00Z and 2025-08-31T00:00Z. */
#define TS_LO 1753920000LL
#define TS_HI 1756598400LL
/* 2020-01-01 and 2025-07-30 as days since 1970-01-01. */
#define REG_LO 18262
#define REG_HI 20299

static const char *const countries[] = {"US", "DE", "FR", "GB", "JP",
                                        "BR", "IN", "CA", "AU", "ES"};
static const char *const categories[] = {"electronics", "books", "clothing", "home",
                                         "sports", "toys", "beauty", "grocery"};
static const char *const genders[] = {"f", "m", "x"};

enum { EV_VIEW, EV_CLICK, EV_ADD, EV_REMOVE, EV_PURCHASE, EV_COUNT };
static const char *const event_types[EV_COUNT] = {"view", "click", "add_to_cart",
                                                  "remove_from_cart", "purchase"};


static uint64_t line_key(const sf_gen_kpi_params *p, uint64_t stream, uint64_t i)
{
    return sf_gen_mix64(sf_gen_mix64(p->seed ^ (stream << 60)) ^ i);
}



static double *zipf_cdf(uint64_t n, double s)
{
    double *cdf = malloc((n ? n : 1) * sizeof *cdf);
    if (!cdf)
        return NULL;
    double sum = 0;
    for (uint64_t k = 0; k < n; k++) {
        sum += pow((double)(k + 1), -s);
        cdf[k] = sum;
    }
    for (uint64_t k = 0; k < n; k++)
        cdf[k] /= sum;
    if (n)
        cdf[n - 1] = 1.0;
    return cdf;
}

int sf_gen_kpi_prepare(sf_gen_kpi_params *p)
{
    if (p->zipf_s <= 0)
        return 0;
    p->user_cdf = zipf_cdf(p->users, p->zipf_s);
    p->item_cdf = zipf_cdf(p->items, p->zipf_s);
    if (!p->user_cdf || !p->item_cdf) {
        sf_gen_kpi_release(p);
        return SF_E_NOMEM;
    }
    return 0;
}

void sf_gen_kpi_release(sf_gen_kpi_params *p)
{
    free(p->user_cdf);
    free(p->item_cdf);
    p->user_cdf = p->item_cdf = NULL;
}

/* A 0-based id in [0, n): uniform, or by inverse CDF (binary search) under
 * a Zipf table. The uniform double comes from the top 53 bits of a draw. */
static uint64_t draw_id(uint64_t key, unsigned field, uint64_t n, const double *cdf)
{
    if (!cdf || n == 0)
        return sf_gen_draw(key, field, n ? n : 1);
    double u = (double)(sf_gen_mix64(key + (uint64_t)(field + 1) * SF_GEN_GOLDEN) >> 11) * 0x1p-53;
    uint64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (cdf[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* An id as JSON: the number, or with string_ids "<prefix>_<6+ digits>". */
static char *put_id(char *b, const sf_gen_kpi_params *p, const char *prefix, uint64_t id)
{
    if (!p->string_ids)
        return sf_gen_put_u64(b, id);
    *b++ = '"';
    b = sf_gen_put_lit(b, prefix);
    b = sf_gen_put_u64w(b, id, 6);
    *b++ = '"';
    return b;
}

size_t sf_gen_kpi_event(const sf_gen_kpi_params *p, uint64_t i, char *buf)
{
    uint64_t key = line_key(p, STREAM_EVENT, i);
    uint64_t user = 1 + draw_id(key, F_USER, p->users, p->user_cdf);
    uint64_t item = 1 + draw_id(key, F_ITEM, p->items, p->item_cdf);
    /* One event in 500 names an id past the end of a dimension table. */
    uint64_t bad = sf_gen_draw(key, F_BAD, 1000);
    if (bad == 0)
        user = p->users + 1 + sf_gen_draw(key, F_BAD_ID, 10);
    else if (bad == 1)
        item = p->items + 1 + sf_gen_draw(key, F_BAD_ID, 10);
    unsigned type = (unsigned)sf_gen_draw(key, F_TYPE, EV_COUNT);
    int64_t ts = TS_LO + (int64_t)sf_gen_draw(key, F_TS, (uint64_t)(TS_HI - TS_LO));

    char *b = buf;
    b = sf_gen_put_lit(b, "{\"event_id\":\"e");
    b = sf_gen_put_u64w(b, i + 1, 10);
    b = sf_gen_put_lit(b, "\",\"user_id\":");
    b = put_id(b, p, "user_", user);
    b = sf_gen_put_lit(b, ",\"item_id\":");
    b = put_id(b, p, "item_", item);
    b = sf_gen_put_lit(b, ",\"event_type\":\"");
    b = sf_gen_put_lit(b, event_types[type]);
    b = sf_gen_put_lit(b, "\",\"ts\":");
    b = sf_gen_put_u64(b, (uint64_t)ts);
    b = sf_gen_put_lit(b, ",\"props\":{");
    switch (type) {
    case EV_VIEW:
        b = sf_gen_put_lit(b, "\"duration\":");
        b = sf_gen_put_u64(b, 5 + sf_gen_draw(key, F_PROP, 296));
        break;
    case EV_ADD:
        b = sf_gen_put_lit(b, "\"quantity\":");
        b = sf_gen_put_u64(b, 1 + sf_gen_draw(key, F_PROP, 5));
        break;
    case EV_PURCHASE: {
        int64_t cents = 100 + (int64_t)sf_gen_draw(key, F_PROP, 49901);
        if (sf_gen_draw(key, F_SIGN, 100) < 14)
            cents = -cents;
        b = sf_gen_put_lit(b, "\"price\":");
        b = sf_gen_put_cents(b, cents);
        break;
    }
    default:
        break;
    }
    b = sf_gen_put_lit(b, "}}\n");
    return (size_t)(b - buf);
}

size_t sf_gen_kpi_user(const sf_gen_kpi_params *p, uint64_t i, char *buf)
{
    uint64_t key = line_key(p, STREAM_USER, i);
    char *b = buf;
    b = sf_gen_put_lit(b, "{\"user_id\":");
    b = put_id(b, p, "user_", i + 1);
    b = sf_gen_put_lit(b, ",\"country\":\"");
    b = sf_gen_put_lit(b, countries[sf_gen_draw(key, F_COUNTRY, 10)]);
    b = sf_gen_put_lit(b, "\",\"age\":");
    b = sf_gen_put_u64(b, 18 + sf_gen_draw(key, F_AGE, 63));
    b = sf_gen_put_lit(b, ",\"gender\":\"");
    b = sf_gen_put_lit(b, genders[sf_gen_draw(key, F_GENDER, 3)]);
    b = sf_gen_put_lit(b, "\",\"registration_date\":\"");
    b = sf_gen_put_date(b, REG_LO + (int64_t)sf_gen_draw(key, F_REG, REG_HI - REG_LO + 1));
    b = sf_gen_put_lit(b, "\"}\n");
    return (size_t)(b - buf);
}

size_t sf_gen_kpi_item(const sf_gen_kpi_params *p, uint64_t i, char *buf)
{
    uint64_t key = line_key(p, STREAM_ITEM, i);
    char *b = buf;
    b = sf_gen_put_lit(b, "{\"item_id\":");
    b = put_id(b, p, "item_", i + 1);
    b = sf_gen_put_lit(b, ",\"category\":\"");
    b = sf_gen_put_lit(b, categories[sf_gen_draw(key, F_CATEGORY, 8)]);
    b = sf_gen_put_lit(b, "\",\"price\":");
    b = sf_gen_put_cents(b, 100 + (int64_t)sf_gen_draw(key, F_PRICE, 49901));
    b = sf_gen_put_lit(b, ",\"brand\":\"brand-");
    b = sf_gen_put_u64w(b, 1 + sf_gen_draw(key, F_BRAND, 50), 2);
    b = sf_gen_put_lit(b, "\",\"name\":\"item-");
    b = sf_gen_put_u64(b, i + 1);
    b = sf_gen_put_lit(b, "\"}\n");
    return (size_t)(b - buf);
}

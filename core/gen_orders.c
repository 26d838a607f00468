/* gen_orders.c - deterministic generator of the nested orders dataset.
 *
 * Invariant: every random draw is a counter-based hash of (seed, line
 * index, field number), never a sequential PRNG state, so line i comes out
 * the same whichever rank generates it. Field numbers of the k-th item and
 * discount are offsets from F_ITEM and F_DISC; changing any field number
 * changes every generated dataset: keep them. Numbers are printed by hand
 * from integers (prices in cents), so no locale or float rounding can creep
 * into the bytes.
 */
#include "core/gen_orders.h"

#include <string.h>

#include "core/gen_text.h"

#define STREAM_ORDER 4

enum {
    F_TS, F_STATUS, F_CHANNEL, F_CUSTOMER, F_TIER, F_CITY, F_ZIP, F_NITEMS, F_NDISC,
    F_PAY, F_INST, F_CARD, F_LAST4, F_SHIP, F_SHIPCOST, F_GIFT, F_NOTE, F_COUPON,
    F_COUPON_KIND, F_RATING, F_NITEMS_N,
    F_ITEM = 32,  /* item k: F_ITEM + 8k + (0 sku, 1 qty, 2 price, 3 ntags, 4.. tags) */
    F_DISC = 128  /* discount k: F_DISC + 4k + (0 code, 1 amount) */
};

/* 2025-07-31T00:00Z and 2025-08-31T00:00Z. */
#define TS_LO 1753920000LL
#define TS_HI 1756598400LL

static const char *const statuses[] = {"paid", "shipped", "delivered", "cancelled", "refunded"};
static const char *const channels[] = {"web", "app", "store", "phone"};
static const char *const tiers[] = {"\"gold\"", "\"silver\"", "\"bronze\"", "null"};
static const struct {
    const char *city, *country;
} places[] = {{"Berlin", "DE"},   {"M\xc3\xbcnchen", "DE"}, {"Paris", "FR"},
              {"Lyon", "FR"},     {"London", "GB"},         {"Tokyo", "JP"},
              {"S\xc3\xa3o Paulo", "BR"}, {"Z\xc3\xbcrich", "CH"}, {"Austin", "US"},
              {"New York", "US"}};
static const char *const tags[] = {"sale", "new", "eco", "gift", "bulk", "clearance"};
static const char *const codes[] = {"WELCOME10", "SUMMER", "LOYALTY", "FREESHIP", "BUNDLE"};
static const char *const methods[] = {"card", "paypal", "invoice"};
static const char *const brands[] = {"visa", "mastercard", "amex"};
/* JSON text of the notes, as it appears in the line (escapes included). */
static const char *const notes[] = {
    "\"Leave at the door, please\"",
    "\"Ring \\\"twice\\\", then wait\"",
    "\"first line\\nsecond line\"",
    "\"Caf\xc3\xa9 Zo\xc3\xab \xe2\x80\x94 side entrance\"",
    "\"tab\\tseparated; semi;colons\"",
    "\"\"",
};




size_t sf_gen_orders_line(const sf_gen_orders_params *p, uint64_t i, char *buf)
{
    uint64_t key = sf_gen_mix64(sf_gen_mix64(p->seed ^ ((uint64_t)STREAM_ORDER << 60)) ^ i);
    uint64_t cust = 1 + sf_gen_draw(key, F_CUSTOMER, p->customers);
    unsigned place = (unsigned)sf_gen_draw(key, F_CITY, sizeof places / sizeof places[0]);
    char *b = buf;
    b = sf_gen_put_lit(b, "{\"order_id\":\"o");
    b = sf_gen_put_u64w(b, i + 1, 10);
    b = sf_gen_put_lit(b, "\",\"ts\":");
    b = sf_gen_put_u64(b, (uint64_t)TS_LO + sf_gen_draw(key, F_TS, (uint64_t)(TS_HI - TS_LO)));
    b = sf_gen_put_lit(b, ",\"status\":\"");
    b = sf_gen_put_lit(b, statuses[sf_gen_draw(key, F_STATUS, 5)]);
    b = sf_gen_put_lit(b, "\",\"channel\":\"");
    b = sf_gen_put_lit(b, channels[sf_gen_draw(key, F_CHANNEL, 4)]);
    b = sf_gen_put_lit(b, "\",\"customer\":{\"id\":");
    b = sf_gen_put_u64(b, cust);
    b = sf_gen_put_lit(b, ",\"name\":\"Customer ");
    b = sf_gen_put_u64(b, cust);
    b = sf_gen_put_lit(b, "\",\"tier\":");
    b = sf_gen_put_lit(b, tiers[sf_gen_draw(key, F_TIER, 4)]);
    b = sf_gen_put_lit(b, ",\"address\":{\"city\":\"");
    b = sf_gen_put_lit(b, places[place].city);
    b = sf_gen_put_lit(b, "\",\"country\":\"");
    b = sf_gen_put_lit(b, places[place].country);
    b = sf_gen_put_lit(b, "\",\"zip\":\"");
    b = sf_gen_put_u64w(b, sf_gen_draw(key, F_ZIP, 100000), 5);
    b = sf_gen_put_lit(b, "\"}},\"items\":[");
    /* About 2% of orders have no items; the rest 1 to 5. */
    uint64_t nitems = sf_gen_draw(key, F_NITEMS, 50) == 0 ? 0 : 1 + sf_gen_draw(key, F_NITEMS_N, 5);
    for (uint64_t k = 0; k < nitems; k++) {
        unsigned f = F_ITEM + 8 * (unsigned)k;
        if (k)
            *b++ = ',';
        uint64_t sku = 1 + sf_gen_draw(key, f, p->skus);
        b = sf_gen_put_lit(b, "{\"sku\":\"SKU-");
        b = sf_gen_put_u64w(b, sku, 4);
        b = sf_gen_put_lit(b, "\",\"name\":\"Product ");
        b = sf_gen_put_u64(b, sku);
        b = sf_gen_put_lit(b, "\",\"qty\":");
        b = sf_gen_put_u64(b, 1 + sf_gen_draw(key, f + 1, 5));
        b = sf_gen_put_lit(b, ",\"price\":");
        b = sf_gen_put_cents(b, 199 + sf_gen_draw(key, f + 2, 19801));
        b = sf_gen_put_lit(b, ",\"tags\":[");
        uint64_t ntags = sf_gen_draw(key, f + 3, 3);
        for (uint64_t t = 0; t < ntags; t++) {
            if (t)
                *b++ = ',';
            *b++ = '"';
            b = sf_gen_put_lit(b, tags[sf_gen_draw(key, f + 4 + (unsigned)t, 6)]);
            *b++ = '"';
        }
        b = sf_gen_put_lit(b, "]}");
    }
    b = sf_gen_put_lit(b, "],\"discounts\":[");
    uint64_t ndisc = sf_gen_draw(key, F_NDISC, 5);
    ndisc = ndisc < 3 ? 0 : ndisc - 2; /* 0 (60%), 1 or 2 */
    for (uint64_t k = 0; k < ndisc; k++) {
        unsigned f = F_DISC + 4 * (unsigned)k;
        if (k)
            *b++ = ',';
        b = sf_gen_put_lit(b, "{\"code\":\"");
        b = sf_gen_put_lit(b, codes[sf_gen_draw(key, f, 5)]);
        b = sf_gen_put_lit(b, "\",\"amount\":");
        b = sf_gen_put_cents(b, 100 + sf_gen_draw(key, f + 1, 2000));
        *b++ = '}';
    }
    unsigned method = (unsigned)sf_gen_draw(key, F_PAY, 3);
    b = sf_gen_put_lit(b, "],\"payment\":{\"method\":\"");
    b = sf_gen_put_lit(b, methods[method]);
    b = sf_gen_put_lit(b, "\",\"installments\":");
    static const unsigned inst[] = {1, 1, 3, 6};
    b = sf_gen_put_u64(b, inst[sf_gen_draw(key, F_INST, 4)]);
    if (method == 0) {
        b = sf_gen_put_lit(b, ",\"card\":{\"brand\":\"");
        b = sf_gen_put_lit(b, brands[sf_gen_draw(key, F_CARD, 3)]);
        b = sf_gen_put_lit(b, "\",\"last4\":\"");
        b = sf_gen_put_u64w(b, sf_gen_draw(key, F_LAST4, 10000), 4);
        b = sf_gen_put_lit(b, "\"}");
    }
    int express = sf_gen_draw(key, F_SHIP, 4) == 0;
    b = sf_gen_put_lit(b, "},\"shipping\":{\"method\":\"");
    b = sf_gen_put_lit(b, express ? "express" : "standard");
    b = sf_gen_put_lit(b, "\",\"cost\":");
    b = sf_gen_put_cents(b, express ? 999 : 299 + 100 * sf_gen_draw(key, F_SHIPCOST, 3));
    b = sf_gen_put_lit(b, "},\"gift\":");
    b = sf_gen_put_lit(b, sf_gen_draw(key, F_GIFT, 10) == 0 ? "true" : "false");
    b = sf_gen_put_lit(b, ",\"note\":");
    uint64_t note = sf_gen_draw(key, F_NOTE, 8 * (sizeof notes / sizeof notes[0]));
    b = sf_gen_put_lit(b, note < sizeof notes / sizeof notes[0] ? notes[note] : "null");
    if (sf_gen_draw(key, F_COUPON, 10) == 0) {
        b = sf_gen_put_lit(b, ",\"coupon\":");
        b = sf_gen_put_lit(b, sf_gen_draw(key, F_COUPON_KIND, 2) ? "\"SAVE15\"" : "15");
    }
    uint64_t rating = sf_gen_draw(key, F_RATING, 8);
    if (rating < 3) {
        static const char *const ratings[] = {"4", "4.5", "null"};
        b = sf_gen_put_lit(b, ",\"rating\":");
        b = sf_gen_put_lit(b, ratings[rating]);
    }
    b = sf_gen_put_lit(b, "}\n");
    return (size_t)(b - buf);
}

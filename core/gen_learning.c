/* gen_learning.c - deterministic generator of the e-learning churn dataset.
 *
 * Invariant: as in gen_kpi.c, every draw is a counter-based hash of (seed,
 * stream, line index, field number); an event recomputes its user's signup
 * date from the user's own stream, so no table is needed and any rank can
 * write any line. Changing a stream or field number changes the dataset.
 */
#include "core/gen_learning.h"

#include <string.h>

#include "core/gen_text.h"

enum { STREAM_USER = 11, STREAM_EVENT = 12, STREAM_DUP_USER = 13 };

enum {
    F_SIGNUP, F_PLAN, F_PLAN_CASE, F_COUNTRY, F_COUNTRY_CASE,
    F_USER, F_DAY, F_SECOND, F_TYPE, F_TYPE_CASE, F_COURSE, F_WATCH, F_HALF, F_SCORE,
    F_AMOUNT, F_DIRT_USER, F_DIRT_TIME, F_DIRT_TYPE, F_FUTURE, F_DUP, F_DUP_BACK, F_ZONE,
    F_MILLIS, F_WATCH_MISSING, F_DUP_OF
};

#define DAY_2025_01_01 20089
#define DAY_2025_03_31 20178
#define DAY_2025_04_30 20208
#define DAY_2027_01_01 20819

static const char *const countries[] = {"US", "IN", "BR", "DE", "GB", "NG", "ID", "MX"};
static const char *const plans[] = {"free", "basic", "premium"};
static const char *const plans_dirty[] = {"Free", "BASIC", "Premium"};
static const char *const courses[] = {
    "Intro to Python", "Data Science 101", "Linear Algebra", "Spanish A1",
    "Web Development", "Statistics", "Machine Learning", "Photography Basics",
    "Public Speaking", "SQL Fundamentals", "Creative Writing", "Personal Finance"};

enum { EV_LOGIN, EV_WATCH, EV_LOGOUT, EV_QUIZ, EV_ENROLL, EV_PAY, EV_COUNT };
static const char *const types[EV_COUNT] = {"login", "video_watch", "logout",
                                            "quiz_attempt", "course_enroll", "payment_success"};
static const char *const types_dirty[EV_COUNT] = {"LOGIN", "Video_Watch", "Logout",
                                                  "QUIZ_ATTEMPT", "Course_Enroll",
                                                  "Payment_Success"};
/* Cumulative percentages of the event types above. */
static const unsigned type_cum[EV_COUNT] = {30, 60, 75, 90, 96, 100};

static uint64_t line_key(const sf_gen_learning_params *p, uint64_t stream, uint64_t i)
{
    return sf_gen_mix64(sf_gen_mix64(p->seed ^ (stream << 56)) ^ i);
}

static char *put_user_id(char *b, uint64_t user)
{
    b = sf_gen_put_lit(b, "u_");
    return sf_gen_put_u64w(b, user, 6);
}

/* User u's (1-based) signup day, from the user's own stream. */
static int64_t signup_day(const sf_gen_learning_params *p, uint64_t user)
{
    uint64_t key = line_key(p, STREAM_USER, user);
    return DAY_2025_01_01 + (int64_t)sf_gen_draw(key, F_SIGNUP, DAY_2025_03_31 - DAY_2025_01_01 + 1);
}

uint64_t sf_gen_learning_dup_users(const sf_gen_learning_params *p) { return p->users / 50; }

/* A user row: id, then attributes drawn from key. */
static size_t user_row(uint64_t user, uint64_t key, int64_t signup, char *buf)
{
    char *b = put_user_id(buf, user);
    *b++ = ',';
    b = sf_gen_put_date(b, signup);
    *b++ = ',';
    uint64_t r = sf_gen_draw(key, F_PLAN, 100);
    unsigned plan = r < 55 ? 0 : r < 85 ? 1 : 2;
    int dirty = sf_gen_draw(key, F_PLAN_CASE, 10) == 0;
    b = sf_gen_put_lit(b, dirty ? plans_dirty[plan] : plans[plan]);
    *b++ = ',';
    const char *cc = countries[sf_gen_draw(key, F_COUNTRY, 8)];
    if (sf_gen_draw(key, F_COUNTRY_CASE, 10) == 0) {
        *b++ = (char)(cc[0] - 'A' + 'a');
        *b++ = (char)(cc[1] - 'A' + 'a');
    } else {
        b = sf_gen_put_lit(b, cc);
    }
    b = sf_gen_put_lit(b, plan == 0 ? ",false\n" : ",true\n");
    return (size_t)(b - buf);
}

size_t sf_gen_learning_user(const sf_gen_learning_params *p, uint64_t i, char *buf)
{
    if (i == 0) {
        char *b = sf_gen_put_lit(buf, "user_id,signup_date,plan,country,is_paid\n");
        return (size_t)(b - buf);
    }
    if (i <= p->users)
        return user_row(i, line_key(p, STREAM_USER, i), signup_day(p, i), buf);
    /* A duplicate: an earlier user's id with a later signup and other
     * attributes. */
    uint64_t key = line_key(p, STREAM_DUP_USER, i);
    uint64_t user = 1 + sf_gen_draw(key, F_DUP_OF, p->users);
    int64_t signup = signup_day(p, user) + 1 + (int64_t)sf_gen_draw(key, F_SIGNUP, 20);
    return user_row(user, key, signup, buf);
}

static char *put_2(char *b, unsigned v)
{
    *b++ = (char)('0' + v / 10);
    *b++ = (char)('0' + v % 10);
    return b;
}

/* Unix seconds as ISO-8601 in one of four spellings chosen by zone_draw
 * (0..99): 'Z' (80), 'Z' with milliseconds (5), an offset (10), a space and
 * no zone (5). The text always names the same instant. */
static char *put_time(char *b, int64_t t, uint64_t zone_draw, unsigned millis)
{
    int offset_min = 0;
    if (zone_draw >= 85 && zone_draw < 95)
        offset_min = zone_draw % 2 ? 120 : -300;
    int64_t local = t + (int64_t)offset_min * 60;
    int64_t day = local / 86400, sec = local % 86400;
    b = sf_gen_put_date(b, day);
    *b++ = zone_draw >= 95 ? ' ' : 'T';
    b = put_2(b, (unsigned)(sec / 3600));
    *b++ = ':';
    b = put_2(b, (unsigned)(sec / 60 % 60));
    *b++ = ':';
    b = put_2(b, (unsigned)(sec % 60));
    if (zone_draw >= 80 && zone_draw < 85) {
        *b++ = '.';
        b = sf_gen_put_u64w(b, millis, 3);
    }
    if (offset_min != 0) {
        unsigned a = (unsigned)(offset_min < 0 ? -offset_min : offset_min);
        *b++ = offset_min < 0 ? '-' : '+';
        b = put_2(b, a / 60);
        *b++ = ':';
        b = put_2(b, a % 60);
    } else if (zone_draw < 95) {
        *b++ = 'Z';
    }
    return b;
}

size_t sf_gen_learning_event(const sf_gen_learning_params *p, uint64_t i, char *buf)
{
    uint64_t key = line_key(p, STREAM_EVENT, i);
    uint64_t id = i + 1;
    /* About 2% re-send one of the 5 events before them: that event's id,
     * user and type; its own time and amounts. */
    uint64_t src = i;
    if (i >= 5 && sf_gen_draw(key, F_DUP, 50) == 0) {
        src = i - 1 - sf_gen_draw(key, F_DUP_BACK, 5);
        id = src + 1;
    }
    uint64_t skey = line_key(p, STREAM_EVENT, src);
    uint64_t user = 1 + sf_gen_draw(skey, F_USER, p->users);
    uint64_t r = sf_gen_draw(skey, F_TYPE, 100);
    unsigned type = 0;
    while (r >= type_cum[type])
        type++;

    int64_t first = signup_day(p, user);
    int64_t day = first + (int64_t)sf_gen_draw(key, F_DAY, (uint64_t)(DAY_2025_04_30 - first + 1));
    if (sf_gen_draw(key, F_FUTURE, 200) == 0)
        day = DAY_2027_01_01 + (int64_t)sf_gen_draw(key, F_DAY, 30);
    int64_t t = day * 86400 + (int64_t)sf_gen_draw(key, F_SECOND, 86400);

    char *b = sf_gen_put_lit(buf, "{\"event_id\":\"ev");
    b = sf_gen_put_u64w(b, id, 10);
    *b++ = '"';
    uint64_t dirt_user = sf_gen_draw(key, F_DIRT_USER, 1000);
    if (dirt_user >= 6) {
        b = sf_gen_put_lit(b, ",\"user_id\":\"");
        b = put_user_id(b, user);
        *b++ = '"';
    } else if (dirt_user < 2) {
        b = sf_gen_put_lit(b, ",\"user_id\":null");
    }
    if (sf_gen_draw(key, F_DIRT_TIME, 1000) >= 4) {
        b = sf_gen_put_lit(b, ",\"event_time\":\"");
        b = put_time(b, t, sf_gen_draw(key, F_ZONE, 100), (unsigned)sf_gen_draw(key, F_MILLIS, 1000));
        *b++ = '"';
    }
    if (sf_gen_draw(key, F_DIRT_TYPE, 1000) >= 2) {
        b = sf_gen_put_lit(b, ",\"event_type\":\"");
        int dirty = sf_gen_draw(key, F_TYPE_CASE, 25) == 0;
        b = sf_gen_put_lit(b, dirty ? types_dirty[type] : types[type]);
        *b++ = '"';
    }
    if (type == EV_WATCH || type == EV_QUIZ || type == EV_ENROLL) {
        b = sf_gen_put_lit(b, ",\"course_name\":\"");
        b = sf_gen_put_lit(b, courses[sf_gen_draw(skey, F_COURSE, 12)]);
        *b++ = '"';
    }
    if (type == EV_WATCH && sf_gen_draw(key, F_WATCH_MISSING, 100) >= 3) {
        b = sf_gen_put_lit(b, ",\"watch_minutes\":");
        b = sf_gen_put_u64(b, 1 + sf_gen_draw(key, F_WATCH, 90));
        if (sf_gen_draw(key, F_HALF, 10) == 0)
            b = sf_gen_put_lit(b, ".5");
    } else if (type == EV_QUIZ) {
        b = sf_gen_put_lit(b, ",\"quiz_score\":");
        b = sf_gen_put_u64(b, sf_gen_draw(key, F_SCORE, 101));
    } else if (type == EV_PAY) {
        static const int64_t cents[] = {999, 1999, 4900};
        b = sf_gen_put_lit(b, ",\"amount\":");
        b = sf_gen_put_cents(b, cents[sf_gen_draw(key, F_AMOUNT, 3)]);
    }
    b = sf_gen_put_lit(b, "}\n");
    return (size_t)(b - buf);
}

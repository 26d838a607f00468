/* gen_learning.h - deterministic generator of the e-learning churn dataset
 * (the "user_daily" pipeline's input: jobs/user_daily.json).
 *
 * Like core/gen_kpi.h, every line is a pure function of the parameters and
 * its index, so any rank can produce any slice and the files are identical
 * for any rank count. Dates are days of 2025 (UTC).
 *
 * users.csv: line 0 is the header "user_id,signup_date,plan,country,is_paid";
 * line k (1..users) is user k:
 *   u_<6+ digits>,YYYY-MM-DD,PLAN,CC,true|false
 *   signup_date uniform in [2025-01-01, 2025-03-31]; PLAN free (55%), basic
 *   (30%) or premium (15%); is_paid is true unless the plan is free; CC one
 *   of 8 country codes. Dirt: about 10% of plans in other cases ("Premium",
 *   "FREE") and 10% of countries in lower case ("de").
 * Then sf_gen_learning_dup_users() more lines repeat earlier user_ids with
 * other attributes (a later sign-up record): cleaning keeps the first.
 *
 * events.jsonl, event i:
 *   {"event_id":"ev<i+1, 10 digits>","user_id":"u_..","event_time":T,
 *    "event_type":E[,"course_name":C][,"watch_minutes":W][,"quiz_score":Q]
 *    [,"amount":A]}
 *   The user is uniform in 1..users; T falls on or after the user's signup
 *   date, uniform up to 2025-04-30, written as ISO-8601: mostly
 *   "2025-03-14T08:12:55Z", some with milliseconds, some with a +02:00 or
 *   -05:00 offset, some "2025-03-14 08:12:55" (no zone: UTC).
 *   E: login 30%, video_watch 30%, logout 15%, quiz_attempt 15%,
 *   course_enroll 6%, payment_success 4%; video_watch has watch_minutes
 *   (1..90, some with .5, about 3% missing), quiz_attempt quiz_score (0..100),
 *   payment_success amount (9.99, 19.99 or 49.00); video_watch, quiz_attempt
 *   and course_enroll name one of 12 courses.
 *   Dirt: about 4% of event types in other cases ("LOGIN", "Video_Watch");
 *   0.4% without user_id and 0.2% with "user_id":null; 0.4% without
 *   event_time; 0.2% without event_type; about 0.5% of events dated in 2027
 *   (a device clock gone wrong: after any as-of date); about 2% of events
 *   repeat the event_id of one of the 5 events before them (a re-sent event,
 *   same user and type, a fresh time and amounts): dedupe keeps the first.
 */
#ifndef SF_GEN_LEARNING_H
#define SF_GEN_LEARNING_H

#include <stddef.h>
#include <stdint.h>

#define SF_GEN_LEARNING_LINE_MAX 512 /* no generated line is longer, '\n' included */

typedef struct sf_gen_learning_params {
    uint64_t seed;
    uint64_t users;  /* at least 1 */
    uint64_t events;
} sf_gen_learning_params;

/* Number of duplicate user lines after the users proper: users / 50. */
uint64_t sf_gen_learning_dup_users(const sf_gen_learning_params *p);

/* Line i of users.csv (0: header; 1..users; then the duplicates) and event i
 * of events.jsonl, each with its final '\n' into buf (room for
 * SF_GEN_LEARNING_LINE_MAX bytes). Return the length; cannot fail. */
size_t sf_gen_learning_user(const sf_gen_learning_params *p, uint64_t i, char *buf);
size_t sf_gen_learning_event(const sf_gen_learning_params *p, uint64_t i, char *buf);

#endif

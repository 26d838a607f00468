/* gen_video.h - deterministic generator of the video streaming dataset (the
 * star-schema pipeline's input: jobs/video_star.json).
 *
 * Every line is a pure function of the parameters and its index (as in
 * core/gen_kpi.h); the files are identical for any rank count. All events
 * fall in June 2025 (UTC).
 *
 * events.jsonl, event i (nested):
 *   {"event_id":"ve<i+1, 10 digits>","event_time":"2025-06-DDTHH:MM:SSZ",
 *    "event_type":E,"user_id":"usr_<6+>","video_id":"vid_<5+>",
 *    "device_id":"dev_<6+>","session_id":"s<user>-<day>-<n>",
 *    "watch_time_sec":W,"context":{"app_version":"5.N.M","network":NET,
 *    "geo":{"country":CC,"region":R},"player":{"bitrate_kbps":B,
 *    "muted":true|false,"quality":Q}}}
 *   E: play (40%), pause (25%), seek (15%), complete (20%); W for play and
 *   complete 1..3600, for pause and seek 0; the device is one of the user's
 *   two devices.
 *   Dirt: about 2% of events repeat an earlier event's line exactly (a
 *   re-sent event; the same event_id): dedupe keeps one; about 3% of event
 *   types in upper or mixed case; 0.5% name a video_id and 0.5% a device_id
 *   that no dimension row has; 0.3% have "user_id":null; about 2% of plays
 *   have no watch_time_sec; about 1% have no context.player.
 * users.csv: header "user_id,signup_date,country,subscription_tier"; line
 *   k (1..users): usr_..,YYYY-MM-DD (2024-01-01..2025-05-31),CC,free|standard|premium
 * videos.csv: header "video_id,title,category,duration_sec,publish_date";
 *   titles hold commas and double quotes about one time in five, so RFC 4180
 *   quoting is exercised ("Cooking, fast: ""pasta"" in 10 minutes").
 * devices.csv: header "device_id,device_type,os,app_version"; devices
 *   1..2*users (user u owns devices 2u-1 and 2u).
 */
#ifndef SF_GEN_VIDEO_H
#define SF_GEN_VIDEO_H

#include <stddef.h>
#include <stdint.h>

#define SF_GEN_VIDEO_LINE_MAX 640 /* no generated line is longer, '\n' included */

typedef struct sf_gen_video_params {
    uint64_t seed;
    uint64_t events;
    uint64_t users;  /* at least 1 */
    uint64_t videos; /* at least 1 */
} sf_gen_video_params;

/* Line counts of the dimension files, header included. */
uint64_t sf_gen_video_user_lines(const sf_gen_video_params *p);
uint64_t sf_gen_video_video_lines(const sf_gen_video_params *p);
uint64_t sf_gen_video_device_lines(const sf_gen_video_params *p);

/* Line i of each file, with its final '\n', into buf (room for
 * SF_GEN_VIDEO_LINE_MAX bytes). Return the length; cannot fail. */
size_t sf_gen_video_event(const sf_gen_video_params *p, uint64_t i, char *buf);
size_t sf_gen_video_user(const sf_gen_video_params *p, uint64_t i, char *buf);
size_t sf_gen_video_video(const sf_gen_video_params *p, uint64_t i, char *buf);
size_t sf_gen_video_device(const sf_gen_video_params *p, uint64_t i, char *buf);

#endif

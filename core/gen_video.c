/* gen_video.c - deterministic generator of the video streaming dataset.
 *
 * Invariant: as in gen_kpi.c, every draw is a counter-based hash of (seed,
 * stream, line index, field number). A re-sent event is the exact line of
 * the event it repeats: generation follows the chain of repeats back to a
 * fresh event and prints that one.
 */
#include "core/gen_video.h"

#include "core/gen_text.h"

enum { STREAM_EVENT = 21, STREAM_USER = 22, STREAM_VIDEO = 23, STREAM_DEVICE = 24 };

enum {
    F_USER, F_VIDEO, F_DEV, F_TYPE, F_TYPE_CASE, F_DAY, F_SECOND, F_WATCH, F_WATCH_MISSING,
    F_DIRT_VIDEO, F_DIRT_DEVICE, F_DIRT_USER, F_DUP, F_DUP_BACK, F_APP, F_NET, F_COUNTRY,
    F_REGION, F_BITRATE, F_MUTED, F_QUALITY, F_NO_PLAYER, F_SIGNUP, F_TIER, F_TITLE_A,
    F_TITLE_B, F_TITLE_FORM, F_CATEGORY, F_DURATION, F_PUBLISH, F_DEVTYPE, F_OS, F_BAD_ID
};

#define DAY_2024_01_01 19723
#define DAY_2025_05_31 20239
#define DAY_2025_06_01 20240

static const char *const countries[] = {"US", "GB", "DE", "FR", "BR", "IN", "JP", "CA"};
static const char *const regions[] = {"north", "south", "east", "west", "central"};
static const char *const tiers[] = {"free", "standard", "premium"};
static const char *const networks[] = {"wifi", "cellular", "ethernet"};
static const char *const qualities[] = {"480p", "720p", "1080p", "4k"};
static const char *const categories[] = {"cooking", "sports", "music", "news",
                                         "education", "gaming", "travel"};
static const char *const words_a[] = {"Cooking", "Football", "Jazz", "Morning news", "Algebra",
                                      "Speedrun", "Lisbon", "Guitar", "Chess", "Yoga"};
static const char *const words_b[] = {"basics", "highlights", "live", "explained", "in 10 minutes",
                                      "for beginners", "deep dive", "recap"};
static const char *const device_types[] = {"tv", "mobile", "desktop", "tablet"};
static const char *const oses[] = {"android", "ios", "windows", "macos", "tizen", "linux"};

enum { EV_PLAY, EV_PAUSE, EV_SEEK, EV_COMPLETE, EV_COUNT };
static const char *const types[EV_COUNT] = {"play", "pause", "seek", "complete"};
static const char *const types_dirty[EV_COUNT] = {"PLAY", "Pause", "SEEK", "Complete"};
static const unsigned type_cum[EV_COUNT] = {40, 65, 80, 100};

static uint64_t line_key(const sf_gen_video_params *p, uint64_t stream, uint64_t i)
{
    return sf_gen_mix64(sf_gen_mix64(p->seed ^ (stream << 56)) ^ i);
}

static char *put_id(char *b, const char *prefix, uint64_t v, int width)
{
    b = sf_gen_put_lit(b, prefix);
    return sf_gen_put_u64w(b, v, width);
}

static char *put_2(char *b, unsigned v)
{
    *b++ = (char)('0' + v / 10);
    *b++ = (char)('0' + v % 10);
    return b;
}

uint64_t sf_gen_video_user_lines(const sf_gen_video_params *p) { return 1 + p->users; }
uint64_t sf_gen_video_video_lines(const sf_gen_video_params *p) { return 1 + p->videos; }
uint64_t sf_gen_video_device_lines(const sf_gen_video_params *p) { return 1 + 2 * p->users; }

/* Whether event i re-sends an earlier one, and which. */
static int repeats(const sf_gen_video_params *p, uint64_t i, uint64_t *src)
{
    uint64_t key = line_key(p, STREAM_EVENT, i);
    if (i < 20 || sf_gen_draw(key, F_DUP, 50) != 0)
        return 0;
    *src = i - 1 - sf_gen_draw(key, F_DUP_BACK, 20);
    return 1;
}

size_t sf_gen_video_event(const sf_gen_video_params *p, uint64_t i, char *buf)
{
    uint64_t src;
    while (repeats(p, i, &src))
        i = src;
    uint64_t key = line_key(p, STREAM_EVENT, i);
    uint64_t user = 1 + sf_gen_draw(key, F_USER, p->users);
    uint64_t video = 1 + sf_gen_draw(key, F_VIDEO, p->videos);
    uint64_t device = 2 * user - 1 + sf_gen_draw(key, F_DEV, 2);
    if (sf_gen_draw(key, F_DIRT_VIDEO, 200) == 0)
        video = p->videos + 1 + sf_gen_draw(key, F_BAD_ID, 10);
    if (sf_gen_draw(key, F_DIRT_DEVICE, 200) == 0)
        device = 2 * p->users + 1 + sf_gen_draw(key, F_BAD_ID, 10);
    uint64_t r = sf_gen_draw(key, F_TYPE, 100);
    unsigned type = 0;
    while (r >= type_cum[type])
        type++;
    int64_t day = DAY_2025_06_01 + (int64_t)sf_gen_draw(key, F_DAY, 30);
    unsigned sec = (unsigned)sf_gen_draw(key, F_SECOND, 86400);

    char *b = put_id(buf, "{\"event_id\":\"ve", i + 1, 10);
    b = sf_gen_put_lit(b, "\",\"event_time\":\"");
    b = sf_gen_put_date(b, day);
    *b++ = 'T';
    b = put_2(b, sec / 3600);
    *b++ = ':';
    b = put_2(b, sec / 60 % 60);
    *b++ = ':';
    b = put_2(b, sec % 60);
    b = sf_gen_put_lit(b, "Z\",\"event_type\":\"");
    int dirty = sf_gen_draw(key, F_TYPE_CASE, 33) == 0;
    b = sf_gen_put_lit(b, dirty ? types_dirty[type] : types[type]);
    if (sf_gen_draw(key, F_DIRT_USER, 1000) < 3) {
        b = sf_gen_put_lit(b, "\",\"user_id\":null");
    } else {
        b = put_id(b, "\",\"user_id\":\"usr_", user, 6);
        *b++ = '"';
    }
    b = put_id(b, ",\"video_id\":\"vid_", video, 5);
    b = put_id(b, "\",\"device_id\":\"dev_", device, 6);
    b = sf_gen_put_lit(b, "\",\"session_id\":\"s");
    b = sf_gen_put_u64(b, user);
    *b++ = '-';
    b = sf_gen_put_u64(b, (uint64_t)(day - DAY_2025_06_01 + 1));
    *b++ = '-';
    b = sf_gen_put_u64(b, sec / 21600);
    *b++ = '"';
    if (type == EV_PLAY || type == EV_COMPLETE) {
        if (type == EV_COMPLETE || sf_gen_draw(key, F_WATCH_MISSING, 50) != 0) {
            b = sf_gen_put_lit(b, ",\"watch_time_sec\":");
            b = sf_gen_put_u64(b, 1 + sf_gen_draw(key, F_WATCH, 3600));
        }
    } else {
        b = sf_gen_put_lit(b, ",\"watch_time_sec\":0");
    }
    b = sf_gen_put_lit(b, ",\"context\":{\"app_version\":\"5.");
    uint64_t app = sf_gen_draw(key, F_APP, 30);
    b = sf_gen_put_u64(b, app / 10);
    *b++ = '.';
    b = sf_gen_put_u64(b, app % 10);
    b = sf_gen_put_lit(b, "\",\"network\":\"");
    b = sf_gen_put_lit(b, networks[sf_gen_draw(key, F_NET, 3)]);
    b = sf_gen_put_lit(b, "\",\"geo\":{\"country\":\"");
    b = sf_gen_put_lit(b, countries[sf_gen_draw(line_key(p, STREAM_USER, user), F_COUNTRY, 8)]);
    b = sf_gen_put_lit(b, "\",\"region\":\"");
    b = sf_gen_put_lit(b, regions[sf_gen_draw(key, F_REGION, 5)]);
    b = sf_gen_put_lit(b, "\"}");
    if (sf_gen_draw(key, F_NO_PLAYER, 100) != 0) {
        b = sf_gen_put_lit(b, ",\"player\":{\"bitrate_kbps\":");
        b = sf_gen_put_u64(b, 500 + 100 * sf_gen_draw(key, F_BITRATE, 150));
        b = sf_gen_put_lit(b, sf_gen_draw(key, F_MUTED, 10) == 0 ? ",\"muted\":true"
                                                                  : ",\"muted\":false");
        b = sf_gen_put_lit(b, ",\"quality\":\"");
        b = sf_gen_put_lit(b, qualities[sf_gen_draw(key, F_QUALITY, 4)]);
        b = sf_gen_put_lit(b, "\"}");
    }
    b = sf_gen_put_lit(b, "}}\n");
    return (size_t)(b - buf);
}

size_t sf_gen_video_user(const sf_gen_video_params *p, uint64_t i, char *buf)
{
    char *b = buf;
    if (i == 0) {
        b = sf_gen_put_lit(b, "user_id,signup_date,country,subscription_tier\n");
        return (size_t)(b - buf);
    }
    uint64_t key = line_key(p, STREAM_USER, i);
    b = put_id(b, "usr_", i, 6);
    *b++ = ',';
    b = sf_gen_put_date(b, DAY_2024_01_01 + (int64_t)sf_gen_draw(key, F_SIGNUP,
                                                              DAY_2025_05_31 - DAY_2024_01_01 + 1));
    *b++ = ',';
    b = sf_gen_put_lit(b, countries[sf_gen_draw(key, F_COUNTRY, 8)]);
    *b++ = ',';
    b = sf_gen_put_lit(b, tiers[sf_gen_draw(key, F_TIER, 3)]);
    *b++ = '\n';
    return (size_t)(b - buf);
}

size_t sf_gen_video_video(const sf_gen_video_params *p, uint64_t i, char *buf)
{
    char *b = buf;
    if (i == 0) {
        b = sf_gen_put_lit(b, "video_id,title,category,duration_sec,publish_date\n");
        return (size_t)(b - buf);
    }
    uint64_t key = line_key(p, STREAM_VIDEO, i);
    b = put_id(b, "vid_", i, 5);
    *b++ = ',';
    const char *wa = words_a[sf_gen_draw(key, F_TITLE_A, 10)];
    const char *wb = words_b[sf_gen_draw(key, F_TITLE_B, 8)];
    unsigned form = (unsigned)sf_gen_draw(key, F_TITLE_FORM, 10);
    if (form < 2)
        *b++ = '"'; /* a comma or double quotes inside: quoted */
    b = sf_gen_put_lit(b, wa);
    if (form == 0) {
        b = sf_gen_put_lit(b, ", ");
        b = sf_gen_put_lit(b, wb);
    } else if (form == 1) {
        b = sf_gen_put_lit(b, ": \"\""); /* each inner quote doubled */
        b = sf_gen_put_lit(b, wb);
        b = sf_gen_put_lit(b, "\"\"");
    } else {
        *b++ = ' ';
        b = sf_gen_put_lit(b, wb);
    }
    *b++ = ' ';
    b = sf_gen_put_u64(b, i);
    if (form < 2)
        *b++ = '"';
    *b++ = ',';
    b = sf_gen_put_lit(b, categories[sf_gen_draw(key, F_CATEGORY, 7)]);
    *b++ = ',';
    b = sf_gen_put_u64(b, 30 + sf_gen_draw(key, F_DURATION, 7171));
    *b++ = ',';
    b = sf_gen_put_date(b, DAY_2024_01_01 + (int64_t)sf_gen_draw(key, F_PUBLISH,
                                                              DAY_2025_05_31 - DAY_2024_01_01 + 1));
    *b++ = '\n';
    return (size_t)(b - buf);
}

size_t sf_gen_video_device(const sf_gen_video_params *p, uint64_t i, char *buf)
{
    char *b = buf;
    if (i == 0) {
        b = sf_gen_put_lit(b, "device_id,device_type,os,app_version\n");
        return (size_t)(b - buf);
    }
    uint64_t key = line_key(p, STREAM_DEVICE, i);
    b = put_id(b, "dev_", i, 6);
    *b++ = ',';
    b = sf_gen_put_lit(b, device_types[sf_gen_draw(key, F_DEVTYPE, 4)]);
    *b++ = ',';
    b = sf_gen_put_lit(b, oses[sf_gen_draw(key, F_OS, 6)]);
    b = sf_gen_put_lit(b, ",5.");
    uint64_t app = sf_gen_draw(key, F_APP, 30);
    b = sf_gen_put_u64(b, app / 10);
    *b++ = '.';
    b = sf_gen_put_u64(b, app % 10);
    *b++ = '\n';
    return (size_t)(b - buf);
}

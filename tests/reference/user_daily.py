#!/usr/bin/env python3
"""user_daily.py - independent reference of the user-day grid pipeline
(issue 18 A, jobs/user_daily.json), in plain Python 3 (standard library only,
no code shared with the C engine).

usage: user_daily.py --users USERS.csv --events EVENTS.jsonl --out DIR
                     [--as-of YYYY-MM-DD] [--start YYYY-MM-DD] [--end YYYY-MM-DD]
                     [--counts COUNTS.json]

Semantics (the pipeline's contract; docs/pipelines.md describes the same):
 1. Users: country upper-cased, plan lower-cased, a user_id seen before in
    file order dropped (the first row wins). Rows without user_id or with a
    signup_date that is not YYYY-MM-DD are dropped and counted.
 2. Events, in file order: a line that is not a JSON object is rejected;
    event_time parsed as ISO-8601 (YYYY-MM-DD, a 'T' or a space,
    HH:MM:SS, optional .f{1,6}, optional Z or +HH:MM / -HH:MM; no zone is
    UTC); rows missing user_id, event_time or event_type (absent, null, or
    an event_time that does not parse) dropped; event_type lower-cased;
    rows whose UTC date is after --as-of dropped; then duplicates of an
    event_id seen earlier in file order dropped (the first wins); a missing
    watch_minutes counts as 0.
 3. Grid: every cleaned user x every date from --start to --end (default:
    the first and last UTC date of the cleaned events), only dates on or
    after the user's signup_date.
 4. Daily aggregates per (user_id, date) of the cleaned events, left-joined
    onto the grid (no activity: zeros). Events of a user_id with no users
    row are not in the grid, so they count in no output row (counted as
    "events_without_user").
 5. Columns: user_id, as_of_date, total_events, total_logins,
    total_watch_minutes, total_quiz_attempts, distinct_courses, events_7d,
    events_14d, events_30d, watch_minutes_7d, watch_minutes_14d,
    watch_minutes_30d, days_since_last_activity. The N-day columns sum the
    row's day and the N-1 days before it; days_since_last_activity is 0 on a
    day with events, the days since the last such day after it, and empty
    before the user's first active day. Watch minutes are doubles (the
    exact sum of the inputs, printed as the shortest round-trip text).
 6. Rows sorted by user_id, as_of_date, in DIR/month=YYYY-MM/part-00000.csv
    (the month of as_of_date), with a header row.
"""

import argparse
import csv
import json
import os
import re
import sys
from datetime import date, timedelta
from fractions import Fraction

HEADER = ["user_id", "as_of_date", "total_events", "total_logins", "total_watch_minutes",
          "total_quiz_attempts", "distinct_courses", "events_7d", "events_14d", "events_30d",
          "watch_minutes_7d", "watch_minutes_14d", "watch_minutes_30d",
          "days_since_last_activity"]
WINDOWS = (7, 14, 30)

TIME_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(\.\d{1,6})?"
                     r"(Z|[+-]\d{2}:\d{2})?$")


def utc_date(text):
    """The UTC date of an ISO-8601 time, or None when it does not parse."""
    if not isinstance(text, str):
        return None
    m = TIME_RE.match(text)
    if not m:
        return None
    y, mo, d, hh, mi, ss = (int(g) for g in m.groups()[:6])
    if hh > 23 or mi > 59 or ss > 59:
        return None
    try:
        day = date(y, mo, d)
    except ValueError:
        return None
    minutes = hh * 60 + mi
    zone = m.group(8)
    if zone and zone != "Z":
        off = int(zone[1:3]) * 60 + int(zone[4:6])
        minutes -= off if zone[0] == "+" else -off
    return day + timedelta(days=minutes // 1440)


def parse_date(text):
    try:
        return date.fromisoformat(text) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text or "") else None
    except ValueError:
        return None


def load_users(path, counts):
    users = {}
    with open(path, newline="", encoding="utf-8") as f:
        for rec in csv.DictReader(f):
            uid = rec.get("user_id") or None
            signup = parse_date(rec.get("signup_date"))
            if uid is None or signup is None:
                counts["users_dropped_invalid"] += 1
                continue
            if uid in users:
                counts["users_duplicates_dropped"] += 1
                continue
            users[uid] = signup
    return users


def load_events(path, as_of, counts):
    """Cleaned events as (user_id, date, type, course, watch_minutes)."""
    seen = set()
    out = []
    with open(path, "rb") as f:
        for raw in f:
            counts["event_lines"] += 1
            try:
                e = json.loads(raw)
            except ValueError:
                counts["events_rejected"] += 1
                continue
            if not isinstance(e, dict):
                counts["events_rejected"] += 1
                continue
            uid, etype = e.get("user_id"), e.get("event_type")
            day = utc_date(e.get("event_time"))
            if not isinstance(uid, str) or not isinstance(etype, str) or day is None:
                counts["events_missing_fields"] += 1
                continue
            etype = etype.lower()
            if day > as_of:
                counts["events_after_as_of"] += 1
                continue
            eid = e.get("event_id")
            if eid in seen:
                counts["events_duplicates_dropped"] += 1
                continue
            seen.add(eid)
            wm = e.get("watch_minutes")
            wm = Fraction(repr(wm)) if isinstance(wm, (int, float)) and not isinstance(wm, bool) \
                else Fraction(0)
            course = e.get("course_name") if isinstance(e.get("course_name"), str) else None
            out.append((uid, day, etype, course, wm))
    return out


def fmt_double(q):
    return repr(float(q))


def run(args):
    counts = {k: 0 for k in ("users_dropped_invalid", "users_duplicates_dropped", "event_lines",
                             "events_rejected", "events_missing_fields", "events_after_as_of",
                             "events_duplicates_dropped", "events_without_user", "output_rows")}
    as_of = date.fromisoformat(args.as_of)
    users = load_users(args.users, counts)
    events = load_events(args.events, as_of, counts)
    start = date.fromisoformat(args.start) if args.start else min(e[1] for e in events)
    end = date.fromisoformat(args.end) if args.end else max(e[1] for e in events)

    daily = {}  # (uid, day) -> [events, logins, watch, quizzes, set(courses)]
    for uid, day, etype, course, wm in events:
        if uid not in users:
            counts["events_without_user"] += 1
            continue
        a = daily.setdefault((uid, day), [0, 0, Fraction(0), 0, set()])
        a[0] += 1
        a[1] += etype == "login"
        a[2] += wm
        a[3] += etype == "quiz_attempt"
        if course is not None:
            a[4].add(course)

    rows = []
    for uid in sorted(users, key=lambda u: u.encode("utf-8")):
        first = max(start, users[uid])
        n = (end - first).days + 1
        if n <= 0:
            continue
        days = [first + timedelta(days=k) for k in range(n)]
        per = [daily.get((uid, d), [0, 0, Fraction(0), 0, set()]) for d in days]
        last_active = None
        for k, d in enumerate(days):
            a = per[k]
            if a[0] > 0:
                last_active = d
            # windows over calendar days; the user's grid starts at `first`,
            # and a day before it has no events in the grid
            win = {}
            for w in WINDOWS:
                lo = max(0, k - (w - 1))
                # a window sums the day's result values (doubles) exactly,
                # as a window over the total_watch_minutes column does
                win[w] = (sum(per[j][0] for j in range(lo, k + 1)),
                          sum((Fraction(float(per[j][2])) for j in range(lo, k + 1)),
                              Fraction(0)))
            since = "" if last_active is None else str((d - last_active).days)
            rows.append((d, [uid, d.isoformat(), str(a[0]), str(a[1]), fmt_double(a[2]),
                             str(a[3]), str(len(a[4]))]
                         + [str(win[w][0]) for w in WINDOWS]
                         + [fmt_double(win[w][1]) for w in WINDOWS] + [since]))
    counts["output_rows"] = len(rows)

    parts = {}
    for d, fields in rows:
        parts.setdefault("%04d-%02d" % (d.year, d.month), []).append(fields)
    for month, fields in parts.items():
        out = os.path.join(args.out, "month=" + month)
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "part-00000.csv"), "w", encoding="utf-8", newline="") as f:
            f.write(",".join(HEADER) + "\n")
            for r in fields:
                f.write(",".join(r) + "\n")
    if args.counts:
        with open(args.counts, "w", encoding="utf-8") as f:
            json.dump(counts, f, indent=1, sort_keys=True)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", required=True)
    ap.add_argument("--events", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--as-of", default="2025-04-20")
    ap.add_argument("--start")
    ap.add_argument("--end")
    ap.add_argument("--counts")
    return run(ap.parse_args())


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""video_star.py - independent reference of the video star-schema pipeline
(issue 18 B, jobs/video_star.json), in plain Python 3 (standard library only,
no code shared with the C engine).

usage: video_star.py --data DIR --out OUT [--counts COUNTS.json]
  DIR holds events.jsonl, users.csv, videos.csv and devices.csv
  (`shardflow gen video`).

Semantics (the pipeline's contract; docs/pipelines.md describes the same):
  Events, in file order: a line that is not a JSON object is rejected; a row
  without event_id or with an event_time that is not
  YYYY-MM-DDTHH:MM:SS[.f]Z is dropped (counted); event_type lower-cased; a
  repeated event_id dropped (the first in file order wins).
  Keys: a user_id, video_id or device_id that is null, missing, or has no row
  in its dimension becomes the unknown member "unknown"; every dimension
  table gets one row with that key and empty attributes, so no fact key is
  missing from its dimension.
  OUT/fact_video_events/dt=YYYY-MM-DD/part-00000.csv: event_id, event_time,
    event_type, user_id, video_id, device_id, session_id, watch_time_sec,
    app_version, network, geo_country, geo_region, player_bitrate_kbps,
    player_muted, player_quality (the context object flattened), sorted by
    event_time, event_id.
  OUT/dim_users, dim_videos, dim_devices /part-00000.csv: the CSV's columns,
    sorted by key (bytewise), the unknown row included.
  OUT/dim_date/part-00000.csv: dt, year, quarter, month, day, dow (0 =
    Sunday), is_weekend, for every date from the first to the last fact dt.
  OUT/daily_video_engagement/part-00000.csv: dt, video_id, plays (play
    events), watch_time_sec (sum; missing is 0), unique_viewers (distinct
    known user_ids), sorted by dt, video_id.
  OUT/user_retention_cohorts/part-00000.csv: cohort_dt (a known user's first
    fact dt), dt, retained_users (users of that cohort with events on dt),
    sorted by cohort_dt, dt.
  Fields are CSV (RFC 4180 quoting); NULL is an empty field; every file has a
  header row.
"""

import argparse
import csv
import json
import os
import re
import sys
from datetime import date

UNKNOWN = "unknown"
TIME_RE = re.compile(r"^(\d{4}-\d{2}-\d{2})T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
FACT_COLUMNS = ["event_id", "event_time", "event_type", "user_id", "video_id", "device_id",
                "session_id", "watch_time_sec", "app_version", "network", "geo_country",
                "geo_region", "player_bitrate_kbps", "player_muted", "player_quality"]


def field(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    s = str(v)
    if s == "" or any(c in s for c in ',"\r\n'):
        return '"' + s.replace('"', '""') + '"'
    return s


def write(path, header, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(",".join(header) + "\n")
        for r in rows:
            f.write(",".join(field(v) for v in r) + "\n")


def load_dim(path):
    with open(path, newline="", encoding="utf-8") as f:
        rd = csv.reader(f)
        header = next(rd)
        rows = {}
        for rec in rd:
            rows.setdefault(rec[0], [v if v != "" else None for v in rec])
    return header, rows


def obj(v):
    return v if isinstance(v, dict) else {}


def key_or_unknown(v, known):
    return v if isinstance(v, str) and v in known else UNKNOWN


def run(args):
    counts = {k: 0 for k in ("event_lines", "events_rejected", "events_invalid",
                             "events_duplicates_dropped", "unknown_user", "unknown_video",
                             "unknown_device", "fact_rows")}
    dims = {name: load_dim(os.path.join(args.data, name + ".csv"))
            for name in ("users", "videos", "devices")}
    users, videos, devices = (dims[n][1] for n in ("users", "videos", "devices"))
    seen = set()
    facts = []
    with open(os.path.join(args.data, "events.jsonl"), "rb") as f:
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
            eid, t = e.get("event_id"), e.get("event_time")
            m = TIME_RE.match(t) if isinstance(t, str) else None
            if not isinstance(eid, str) or not m:
                counts["events_invalid"] += 1
                continue
            if eid in seen:
                counts["events_duplicates_dropped"] += 1
                continue
            seen.add(eid)
            ctx = obj(e.get("context"))
            geo, player = obj(ctx.get("geo")), obj(ctx.get("player"))
            u = key_or_unknown(e.get("user_id"), users)
            v = key_or_unknown(e.get("video_id"), videos)
            d = key_or_unknown(e.get("device_id"), devices)
            counts["unknown_user"] += u == UNKNOWN
            counts["unknown_video"] += v == UNKNOWN
            counts["unknown_device"] += d == UNKNOWN
            et = e.get("event_type")
            wt = e.get("watch_time_sec")
            facts.append({
                "dt": m.group(1), "event_id": eid, "event_time": t,
                "event_type": et.lower() if isinstance(et, str) else None,
                "user_id": u, "video_id": v, "device_id": d,
                "session_id": e.get("session_id"),
                "watch_time_sec": wt if isinstance(wt, int) and not isinstance(wt, bool) else None,
                "app_version": ctx.get("app_version"), "network": ctx.get("network"),
                "geo_country": geo.get("country"), "geo_region": geo.get("region"),
                "player_bitrate_kbps": player.get("bitrate_kbps"),
                "player_muted": player.get("muted"), "player_quality": player.get("quality"),
            })
    counts["fact_rows"] = len(facts)

    out = args.out
    by_dt = {}
    for r in facts:
        by_dt.setdefault(r["dt"], []).append(r)
    for dt, rows in by_dt.items():
        rows.sort(key=lambda r: (r["event_time"].encode(), r["event_id"].encode()))
        write(os.path.join(out, "fact_video_events", "dt=" + dt, "part-00000.csv"), FACT_COLUMNS,
              [[r[c] for c in FACT_COLUMNS] for r in rows])

    for name in ("users", "videos", "devices"):
        header, rows = dims[name]
        table = dict(rows)
        table[UNKNOWN] = [UNKNOWN] + [None] * (len(header) - 1)
        write(os.path.join(out, "dim_" + name, "part-00000.csv"), header,
              [table[k] for k in sorted(table, key=lambda k: k.encode())])

    first, last = date.fromisoformat(min(by_dt)), date.fromisoformat(max(by_dt))
    cal = []
    for n in range((last - first).days + 1):
        d = date.fromordinal(first.toordinal() + n)
        dow = (d.weekday() + 1) % 7  # Python: Monday 0; here Sunday 0
        cal.append([d.isoformat(), d.year, (d.month - 1) // 3 + 1, d.month, d.day, dow,
                    dow in (0, 6)])
    write(os.path.join(out, "dim_date", "part-00000.csv"),
          ["dt", "year", "quarter", "month", "day", "dow", "is_weekend"], cal)

    eng = {}
    for r in facts:
        a = eng.setdefault((r["dt"], r["video_id"]), [0, 0, set()])
        a[0] += r["event_type"] == "play"
        a[1] += r["watch_time_sec"] or 0
        if r["user_id"] != UNKNOWN:
            a[2].add(r["user_id"])
    write(os.path.join(out, "daily_video_engagement", "part-00000.csv"),
          ["dt", "video_id", "plays", "watch_time_sec", "unique_viewers"],
          [[dt, v, a[0], a[1], len(a[2])]
           for (dt, v), a in sorted(eng.items(), key=lambda kv: (kv[0][0], kv[0][1].encode()))])

    cohort = {}
    active = set()
    for r in facts:
        if r["user_id"] == UNKNOWN:
            continue
        u = r["user_id"]
        cohort[u] = min(cohort.get(u, r["dt"]), r["dt"])
        active.add((u, r["dt"]))
    ret = {}
    for u, dt in active:
        ret[(cohort[u], dt)] = ret.get((cohort[u], dt), 0) + 1
    write(os.path.join(out, "user_retention_cohorts", "part-00000.csv"),
          ["cohort_dt", "dt", "retained_users"],
          [[c, dt, n] for (c, dt), n in sorted(ret.items())])

    if args.counts:
        with open(args.counts, "w", encoding="utf-8") as f:
            json.dump(counts, f, indent=1, sort_keys=True)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--counts")
    return run(ap.parse_args())


if __name__ == "__main__":
    sys.exit(main())

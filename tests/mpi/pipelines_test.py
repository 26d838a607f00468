#!/usr/bin/env python3
"""pipelines_test.py - the shipped pipeline jobs/user_daily.json under
mpiexec, against the independent reference tests/reference/user_daily.py.

usage: pipelines_test.py --shardflow BIN --mpiexec MPIEXEC [--np-flag -n]
                         --jobs DIR --reference DIR --work DIR
                         --case user_daily|user_daily_bounds|calendar --np N

Generates a small e-learning dataset with `shardflow gen learning` (its
dirt: duplicate users and event_ids, mixed-case types, missing fields,
events after the as-of date), runs the job with --chunk-size 16 KiB (so a
user's events and an event_id's duplicates are read by different ranks)
and checks: every partition's bytes equal the reference's; the manifest
counts each kind of dirt as the reference does (rejected lines and their
reason, rows filtered as after the as-of date, duplicate events, duplicate
users) and the grid's rows. The case user_daily_bounds passes --param
as_of, start and end, so the grid is cut on both sides and groups outside
it are dropped and counted. The case calendar runs
tests/cases/pipelines/calendar.json (a grid without a dimension: every day
of a range that starts before the data and ends after it) and compares it
with a calendar computed here from the events (the UTC day of each
parseable event_time, as the reference reads it). Each test writes under
WORK/CASE-nN only.
"""

import importlib.util
import json
import os
import shutil
import sys
from datetime import date, timedelta

import sftest
from sftest import Failure, mpi

sftest.TIMEOUT = 120
CASES = {
    "calendar": [],
    "user_daily": [],
    "user_daily_bounds": [("as_of", "2025-04-10"), ("start", "2025-02-01"),
                          ("end", "2025-04-05")],
}


def run(cmd):
    """Runs cmd (a non-zero exit or a hang raises Failure); returns its
    stderr as text."""
    return sftest.run(cmd, text=True)[2]


def partitions(root):
    """month=... -> the bytes of its one CSV file."""
    out = {}
    for d in sorted(os.listdir(root)):
        if not d.startswith("month="):
            continue
        files = sorted(os.listdir(os.path.join(root, d)))
        if len(files) != 1:
            raise Failure("%s/%s: expected one file, got %s" % (root, d, files))
        with open(os.path.join(root, d, files[0]), "rb") as f:
            out[d] = f.read()
    return out


def check_calendar(a, work, data):
    """tests/cases/pipelines/calendar.json against Python's calendar."""
    spec = importlib.util.spec_from_file_location(
        "user_daily_ref", os.path.join(a.reference, "user_daily.py"))
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    events, logins = {}, {}
    with open(os.path.join(data, "events.jsonl"), "rb") as f:
        for raw in f:
            e = json.loads(raw)
            d = ref.utc_date(e.get("event_time"))
            if d is None or d > date(2025, 4, 30):
                continue
            events[d] = events.get(d, 0) + 1
            t = e.get("event_type")
            logins[d] = logins.get(d, 0) + (isinstance(t, str) and t.lower() == "login")
    lines = ["dt,year,quarter,month,day,dow,is_weekend,events,logins"]
    d, end = date(2024, 12, 25), date(2025, 5, 3)
    while d <= end:
        dow = (d.weekday() + 1) % 7
        lines.append("%s,%d,%d,%d,%d,%d,%s,%d,%d" % (
            d.isoformat(), d.year, (d.month + 2) // 3, d.month, d.day, dow,
            "true" if dow in (0, 6) else "false", events.get(d, 0), logins.get(d, 0)))
        d += timedelta(days=1)
    out = os.path.join(work, "out")
    run([a.mpiexec, a.np_flag, str(a.np), a.shardflow, "run",
         os.path.join(a.cases, "pipelines", "calendar.json"),
         "--input", "events=" + os.path.join(data, "events.jsonl"),
         "--output", out, "--chunk-size", "16KiB", "--quiet"])
    with open(os.path.join(out, "part-00000.csv"), encoding="utf-8") as f:
        got = f.read()
    if got != "\n".join(lines) + "\n":
        raise Failure("calendar differs from Python's:\n%s" % got[:2000])
    with open(os.path.join(out, "_MANIFEST.json"), encoding="utf-8") as f:
        c = json.load(f)["counts"]
    if c["grid_rows_added"] != len(lines) - 1 - len(events) or c["groups_dropped_by_grid"]:
        raise Failure("grid counts %s" % c)
    print("ok: calendar np=%d, %d days, %d filled" % (a.np, len(lines) - 1,
                                                      c["grid_rows_added"]))


def check(a):
    work = os.path.join(a.work, "%s-n%d" % (a.case, a.np))
    shutil.rmtree(work, ignore_errors=True)
    data = os.path.join(work, "data")
    run(mpi(a, 1, ["gen", "learning", "--users", "150", "--events", "8000", "--seed", "11",
         "-o", data]))
    if a.case == "calendar":
        return check_calendar(a, work, data)
    params = CASES[a.case]
    ref_args = []
    for k, v in params:
        ref_args += ["--" + k.replace("_", "-"), v]
    ref_out = os.path.join(work, "ref")
    counts_path = os.path.join(work, "ref_counts.json")
    run([sys.executable, os.path.join(a.reference, "user_daily.py"),
         "--users", os.path.join(data, "users.csv"),
         "--events", os.path.join(data, "events.jsonl"),
         "--out", ref_out, "--counts", counts_path] + ref_args)
    out = os.path.join(work, "out")
    cmd = [a.mpiexec, a.np_flag, str(a.np), a.shardflow, "run",
           os.path.join(a.jobs, "user_daily.json"),
           "--input", "events=" + os.path.join(data, "events.jsonl"),
           "--input", "users=" + os.path.join(data, "users.csv"),
           "--output", out, "--chunk-size", "16KiB", "--quiet"]
    for k, v in params:
        cmd += ["--param", "%s=%s" % (k, v)]
    run(cmd)

    got, want = partitions(out), partitions(ref_out)
    if sorted(got) != sorted(want):
        raise Failure("partitions %s, reference %s" % (sorted(got), sorted(want)))
    for part in want:
        if got[part] != want[part]:
            raise Failure("%s differs from the reference" % part)

    with open(counts_path, encoding="utf-8") as f:
        ref = json.load(f)
    with open(os.path.join(out, "_MANIFEST.json"), encoding="utf-8") as f:
        c = json.load(f)["counts"]
    expect = {
        "lines_read": ref["event_lines"],
        "rows_rejected": ref["events_missing_fields"] + ref["events_rejected"],
        "rows_filtered": ref["events_after_as_of"],
        "duplicates_dropped": ref["events_duplicates_dropped"],
        "output_rows": ref["output_rows"],
    }
    for k, v in expect.items():
        if c[k] != v:
            raise Failure("manifest counts.%s = %s, reference %s" % (k, c[k], v))
    if c["rejected_by_reason"] != {"missing required column": ref["events_missing_fields"]}:
        raise Failure("rejected_by_reason %s" % c["rejected_by_reason"])
    if c["dimension_duplicates_dropped"] != {"users": ref["users_duplicates_dropped"]} or \
            ref["users_duplicates_dropped"] == 0:
        raise Failure("dimension_duplicates_dropped %s, reference %d"
                      % (c["dimension_duplicates_dropped"], ref["users_duplicates_dropped"]))
    if c["groups"] + c["grid_rows_added"] - c["groups_dropped_by_grid"] != c["output_rows"]:
        raise Failure("groups + grid_rows_added - groups_dropped_by_grid != output_rows: %s" % c)
    if (c["groups_dropped_by_grid"] > 0) != (a.case == "user_daily_bounds"):
        raise Failure("groups_dropped_by_grid %d" % c["groups_dropped_by_grid"])
    print("ok: %s np=%d, %d rows in %d partitions" % (a.case, a.np, c["output_rows"], len(got)))


def main():
    return sftest.pipeline_main(check, __doc__, CASES)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""video_star_test.py - the shipped pipeline jobs/video_star.json under
mpiexec, against the independent reference tests/reference/video_star.py.

usage: video_star_test.py --shardflow BIN --mpiexec MPIEXEC [--np-flag -n]
                          --jobs DIR --reference DIR --work DIR
                          --cases DIR --case star|stream|spill --np N

Generates a small video dataset with `shardflow gen video` (its dirt:
re-sent events, mixed-case types, a null user_id, video and device ids no
dimension has, plays without watch time, events without a player), runs
the job with --chunk-size 16 KiB (an event's re-sent copies are read by
other ranks) and checks:
  star: every file of the seven tables (the fact table's dt partitions, the
    three dimensions with their unknown row, the calendar, both marts)
    equals the reference's byte for byte, and the manifests count the dirt
    as the reference does: lines read, rejected lines, duplicates dropped,
    rows given the unknown member per dimension, fact rows, and each
    dimension output's rows (its table plus one unknown row);
  stream: row outputs without sort_by, streamed to their files:
    tests/cases/pipelines/video_fact_stream.json (the fact table after the
    dedupe step) holds per dt file the reference's rows in some order (a
    header first, the sorted lines equal) next to a calendar equal byte for
    byte; tests/cases/pipelines/events_stream.json (no dedupe: streamed
    during the scan) holds every line's event_id under its day; and
    tests/cases/pipelines/stage_rows.json, a stage grouping a (held) row
    output's rows by day, gives the events' days;
  spill: 120k events under --memory-limit 46M (the least this job's
    dimension tables allow is 45M): the run spills and reduces in passes,
    and the stage behind user_retention_cohorts reads user_activity's rows
    from those passes; every table equals the unlimited run's byte for byte.
Each test writes under WORK/CASE-nN only.
"""

import json
import os
import shutil
import sys

import sftest
from sftest import Failure, mpi, read_tree, run

sftest.TIMEOUT = 120

TABLES = ["fact_video_events", "dim_users", "dim_videos", "dim_devices", "dim_date",
          "daily_video_engagement", "user_retention_cohorts"]
CASES = {"star": TABLES, "stream": ["dim_date"], "spill": TABLES}


def files(root):
    """Relative path -> bytes of every data file under root (not _*)."""
    return read_tree(root)


def same_lines(got, want, what):
    """A header, then the same lines in any order."""
    g, w = got.split(b"\n"), want.split(b"\n")
    if g[0] != w[0] or sorted(g[1:]) != sorted(w[1:]):
        raise Failure("%s: not the reference's rows (in any order)" % what)


def check_stream(a, data, ref_out, work):
    """The streamed row outputs (see the banner)."""
    out = os.path.join(work, "out")
    run(run_cmd(a, os.path.join(a.cases, "pipelines", "video_fact_stream.json"), data, out))
    got = files(os.path.join(out, "fact_video_events"))
    want = files(os.path.join(ref_out, "fact_video_events"))
    if sorted(got) != sorted(want):
        raise Failure("fact_video_events: files %s, reference %s" % (sorted(got), sorted(want)))
    for rel in want:
        same_lines(got[rel], want[rel], "fact_video_events/" + rel)
    ev_out = os.path.join(work, "events")
    run_events_job(a, "events_stream.json", data, ev_out)
    by_day = {}
    with open(os.path.join(data, "events.jsonl"), "rb") as f:
        for raw in f:
            e = json.loads(raw)
            rel = "dt=%s/part-00000.csv" % e["event_time"][:10]
            by_day.setdefault(rel, []).append(e["event_id"].encode())
    got = files(ev_out)
    if sorted(got) != sorted(by_day):
        raise Failure("events_stream: files %s, expected %s" % (sorted(got), sorted(by_day)))
    for rel, ids in by_day.items():
        same_lines(got[rel], b"\n".join([b"event_id"] + ids) + b"\n", "events_stream/" + rel)
    # A stage reading a row output: per day events, watch time, users.
    st_out = os.path.join(work, "stage")
    run_events_job(a, "stage_rows.json", data, st_out)
    days = {}
    with open(os.path.join(data, "events.jsonl"), "rb") as f:
        for raw in f:
            e = json.loads(raw)
            d = days.setdefault(e["event_time"][:10], [0, 0, set()])
            d[0] += 1
            d[1] += e.get("watch_time_sec") or 0
            if e.get("user_id") is not None:
                d[2].add(e["user_id"])
    want = "dt,events,watch_time_sec,users\n" + "".join(
        "%s,%d,%d,%d\n" % (k, v[0], v[1], len(v[2])) for k, v in sorted(days.items()))
    with open(os.path.join(st_out, "per_day", "part-00000.csv"), encoding="utf-8") as f:
        if f.read() != want:
            raise Failure("stage_rows: per_day is not the events' days")
    return out


def run_events_job(a, name, data, out):
    """A job of tests/cases/pipelines/ that reads the events alone."""
    run([a.mpiexec, a.np_flag, str(a.np), a.shardflow, "run",
         os.path.join(a.cases, "pipelines", name), "--output", out,
         "--input", "events=" + os.path.join(data, "events.jsonl"), "--chunk-size", "16KiB",
         "--quiet"])


def run_cmd(a, job, data, out):
    cmd = [a.mpiexec, a.np_flag, str(a.np), a.shardflow, "run", job, "--output", out,
           "--chunk-size", "16KiB", "--quiet"]
    for name in ("events.jsonl", "users.csv", "videos.csv", "devices.csv"):
        cmd += ["--input", "%s=%s" % (name.split(".")[0], os.path.join(data, name))]
    return cmd


def manifest(out, table):
    with open(os.path.join(out, table, "_MANIFEST.json"), encoding="utf-8") as f:
        return json.load(f)["counts"]


def check_spill(a, work):
    data = os.path.join(work, "data")
    run(mpi(a, 1, ["gen", "video", "--events", "120000", "--seed", "5", "-o", data]))
    job = os.path.join(a.jobs, "video_star.json")
    free, limited = os.path.join(work, "free"), os.path.join(work, "limited")
    run(run_cmd(a, job, data, free) + ["--memory-limit", "none"])
    run(run_cmd(a, job, data, limited) + ["--memory-limit", "46M"])
    with open(os.path.join(limited, "user_activity", "_METRICS.json"), encoding="utf-8") as f:
        spilled = json.load(f)["memory"]["spill_bytes"]
    if not spilled:
        raise Failure("user_activity did not spill under --memory-limit 46M")
    for table in TABLES:
        got, want = files(os.path.join(limited, table)), files(os.path.join(free, table))
        if got != want:
            raise Failure("%s under --memory-limit 46M differs from the unlimited run" % table)
    print("ok: spill np=%d, %d bytes spilled by user_activity, %d tables the same"
          % (a.np, spilled, len(TABLES)))


def check(a):
    work = os.path.join(a.work, "%s-n%d" % (a.case, a.np))
    if a.case == "spill":
        shutil.rmtree(work, ignore_errors=True)
        return check_spill(a, work)
    shutil.rmtree(work, ignore_errors=True)
    data = os.path.join(work, "data")
    run(mpi(a, 1, ["gen", "video", "--events", "3000", "--users", "60", "--videos", "30",
         "--seed", "5", "-o", data]))
    ref_out = os.path.join(work, "ref")
    counts_path = os.path.join(work, "ref_counts.json")
    run([sys.executable, os.path.join(a.reference, "video_star.py"), "--data", data,
         "--out", ref_out, "--counts", counts_path])
    if a.case == "stream":
        out = check_stream(a, data, ref_out, work)
    else:
        out = os.path.join(work, "out")
        run(run_cmd(a, os.path.join(a.jobs, "video_star.json"), data, out))

    for table in CASES[a.case]:
        got, want = files(os.path.join(out, table)), files(os.path.join(ref_out, table))
        if sorted(got) != sorted(want):
            raise Failure("%s: files %s, reference %s" % (table, sorted(got), sorted(want)))
        for rel in want:
            if got[rel] != want[rel]:
                raise Failure("%s/%s differs from the reference" % (table, rel))

    with open(counts_path, encoding="utf-8") as f:
        ref = json.load(f)
    c = manifest(out, "fact_video_events")
    expect = {
        "lines_read": ref["event_lines"],
        "rows_rejected": ref["events_rejected"] + ref["events_invalid"],
        "duplicates_dropped": ref["events_duplicates_dropped"],
        "output_rows": ref["fact_rows"],
        "rows_to_unknown": {"users": ref["unknown_user"], "videos": ref["unknown_video"],
                            "devices": ref["unknown_device"]},
    }
    for k, v in expect.items():
        if c[k] != v:
            raise Failure("manifest counts.%s = %s, reference %s" % (k, c[k], v))
    if min(ref["events_duplicates_dropped"], ref["unknown_user"], ref["unknown_video"],
           ref["unknown_device"]) == 0:
        raise Failure("the generated data lacks some dirt: %s" % ref)
    if a.case == "star":
        for table in ("dim_users", "dim_videos", "dim_devices"):
            n = manifest(out, table)["output_rows"]
            with open(os.path.join(data, table[4:] + ".csv"), encoding="utf-8") as f:
                lines = sum(1 for _ in f) - 1
            if n != lines + 1:
                raise Failure("%s: %d rows, expected %d and the unknown one" % (table, n, lines))
    print("ok: %s np=%d, %d fact rows, %d tables" % (a.case, a.np, c["output_rows"],
                                                     len(CASES[a.case])))


def main():
    return sftest.pipeline_main(check, __doc__, CASES)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""MPI tests of the memory budget and spill (issue 14), run by ctest.

Subcommands (each generates the small S3-shaped dataset it needs once,
under WORK/spill_data, shared):

  quick    limits on np 2 only (for the sanitizer build's subset)
  limits   a limit too small to make progress is refused at start (exit 2)
           with the minimum it needs, nothing created; that minimum plus a
           few MiB forces the combiner to spill during the scan and the
           shuffle to run in several passes on np 1..4 (dynamic; static on
           2; --repartition none on 3): every output byte-identical to the
           unlimited run, _METRICS.json shows spilled bytes and passes, the
           summary says so, and the spill directory is empty afterwards.
  paths    the spill paths past the combiner, np 1 and 3, each run
           byte-identical to the unlimited one with its spill directory
           empty afterwards: one job with a dedupe step and five outputs
           (two windows and computed columns; a limit; a dense grid, a
           window and a limit; a calendar grid),
           every output spilling and reducing in passes, the dedupe table
           written out, windows evaluated over sorted runs; and the S3 job
           on a gzip copy of the input (its size underestimates the
           state), where spill partitions too big for a pass are split
           again.
  faults   SIGKILL of every rank while spill files exist leaves their
           directories; the next run on the node removes them with a
           message. SIGINT to rank 0 removes them at once. A full spill
           disk (a small tmpfs, when one can be mounted) stops the run
           naming the directory, with nothing committed.
"""
import argparse
import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import sftest
from sftest import Failure, kill_ranks, log, mpi, read_tree, run, run_past_mpi_crash, tail
DATA = {"events": "160000", "users": "16000", "seed": "11"}


def dataset(args):
    """The S3-shaped dataset (string ids, one group per date, user and
    country: groups come close to rows), generated once."""
    d = os.path.join(args.work, "spill_data")
    if not os.path.exists(os.path.join(d, "ok")):
        shutil.rmtree(d, ignore_errors=True)
        run(mpi(args, 2, ["gen", "kpi", "--events", DATA["events"], "--users", DATA["users"],
                          "--seed", DATA["seed"], "--ids", "string", "-o", d]))
        open(os.path.join(d, "ok"), "w").close()
    return [("events", os.path.join(d, "events.jsonl")), ("users", os.path.join(d, "users.jsonl"))]


def run_cmd(args, np, inputs, out, extra):
    sub = ["run", args.job]
    for name, path in inputs:
        sub += ["--input", "%s=%s" % (name, path)]
    return mpi(args, np, sub + ["--output", out, "--no-progress"] + extra)


def same_output(got_dir, want_dir, what):
    got, want = read_tree(got_dir), read_tree(want_dir)
    if sorted(got) != sorted(want):
        raise Failure("%s: files %r, want %r" % (what, sorted(got)[:5], sorted(want)[:5]))
    for k in want:
        if got[k] != want[k]:
            raise Failure("%s: %s differs from the unlimited run" % (what, k))
    if not want:
        raise Failure("%s: no output files" % what)


def minimum_for(args, np, inputs, base):
    """Runs with a 1M limit: refused (exit 2) with the minimum, nothing
    created. Returns the minimum in MiB."""
    out = os.path.join(base, "refused")
    # Every rank refused and agreed (rank 0 printed why), and then a rank
    # may die of a signal while Open MPI 4.1 tears the job down: rank 0's
    # exit 2 makes mpiexec abort the ranks still inside MPI_Finalize. Seen
    # once (SIGSEGV on rank 2 of 3, no frames) in dozens of CI runs; 300
    # runs by hand, valgrind and ASan showed nothing in shardflow's
    # refusal path.
    rc, _, err = run_past_mpi_crash(
        run_cmd(args, np, inputs, out, ["--memory-limit", "1M"]),
        lambda rc, err: (rc != 2 and b"is too small: this run needs at least" in err and
                         b"exited on signal" in err),
        "a rank died of a signal after the agreed refusal (Open MPI teardown)")
    m = re.search(rb"needs at least (\d+)M per rank", err)
    if rc != 2 or not m:
        raise Failure("1M limit on np %d: exit %d, stderr %s" % (np, rc, tail(err)))
    if os.path.exists(out):
        raise Failure("a refused run created %s" % out)
    return int(m.group(1))


def spill_figures(out):
    with open(os.path.join(out, "_METRICS.json")) as fh:
        m = json.load(fh)
    phases = {p["phase"]: p for p in m["phases"]}
    scan = sum(r["spill_bytes"] for r in phases["scan+map"]["per_rank"])
    flushes = max(r["spill_passes"] for r in phases["scan+map"]["per_rank"])
    return scan, flushes, m["memory"]["spill_bytes"], m["memory"]["spill_passes"]


def empty_dir(d):
    left = os.listdir(d) if os.path.isdir(d) else []
    if left:
        raise Failure("spill files left behind in %s: %r" % (d, left))


def fresh(args, name):
    """An empty WORK/name with an empty spill directory in it."""
    base = os.path.join(args.work, name)
    shutil.rmtree(base, ignore_errors=True)
    spill = os.path.join(base, "spill")
    os.makedirs(spill)
    return base, spill


def cmd_limits(args):
    inputs = dataset(args)
    base, spill = fresh(args, "spill_limits")
    ref = os.path.join(base, "unlimited")
    run(run_cmd(args, 1, inputs, ref, ["--memory-limit", "none", "--quiet"]))
    cases = [(1, []), (2, []), (3, []), (4, []), (2, ["--schedule", "static"]),
             (3, ["--repartition", "none"])]
    if args.command == "quick":
        cases = [(2, [])]
    for np, extra in cases:
        need = minimum_for(args, np, inputs, base)
        out = os.path.join(base, "n%d%s" % (np, "".join(extra).replace("-", "")))
        # 2 MiB above the least the start-up asks for (3 let four ranks'
        # shares of this data fit once the groups shrank to 112 bytes and
        # HDF5 left the binary's start-up memory: one run spilled nothing);
        # when the dimension tables then ask for more, 1 above theirs.
        limit = "%dM" % (need + 2)
        cmd = run_cmd(args, np, inputs, out, ["--memory-limit", limit, "--spill-dir", spill] + extra)
        rc, _, err = run(cmd, expect_ok=False)
        m = re.search(rb"too small for this job's dimension tables .* needs at least (\d+)M", err)
        if rc == 2 and m:
            limit = "%dM" % (int(m.group(1)) + 1)
            cmd = run_cmd(args, np, inputs, out, ["--memory-limit", limit, "--spill-dir",
                                                  spill] + extra)
            rc, _, err = run(cmd, expect_ok=False)
        if rc != 0:
            raise Failure("exit code %d: %s: %s" % (rc, " ".join(cmd), tail(err)))
        what = "np %d %s --memory-limit %s" % (np, " ".join(extra), limit)
        same_output(out, ref, what)
        scan, flushes, total, passes = spill_figures(out)
        if scan <= 0 or flushes < 1 or total < scan or passes < 2:
            raise Failure("%s: did not spill in the scan and reduce in passes: scan %d bytes, "
                          "%d flushes, %d in all, %d passes" % (what, scan, flushes, total, passes))
        if b"spilled to " + spill.encode() not in err:
            raise Failure("%s: the summary does not say it spilled: %s" % (what, tail(err)))
        empty_dir(spill)
        log("%s: same output; spilled %d bytes (%d in the scan, %d flushes), %d passes"
            % (what, total, scan, flushes, passes))

    if args.command == "quick":
        return
    # With a window the result rows go through sorted runs per window
    # (routed by the window's partitions), after the same spill passes.
    with open(args.job) as fh:
        spec = json.load(fh)
    spec["windows"] = {"events_7d": {"function": "sum", "column": "events", "preceding": 6,
                                     "partition_by": ["user_id"], "order_by": "date"}}
    wjob = os.path.join(base, "s3_window.json")
    with open(wjob, "w") as fh:
        json.dump(spec, fh)
    wargs = argparse.Namespace(**dict(vars(args), job=wjob))
    wref = os.path.join(base, "window_unlimited")
    run(run_cmd(wargs, 1, inputs, wref, ["--memory-limit", "none", "--quiet"]))
    for np in (2, 3):
        need = minimum_for(wargs, np, inputs, base)
        out = os.path.join(base, "window_n%d" % np)
        run(run_cmd(wargs, np, inputs, out, ["--memory-limit", "%dM" % (need + 3),
                                             "--spill-dir", spill, "--quiet"]))
        same_output(out, wref, "window job on np %d" % np)
        scan, flushes, total, passes = spill_figures(out)
        if scan <= 0 or passes < 2:
            raise Failure("window job on np %d did not spill: %d bytes, %d passes"
                          % (np, scan, passes))
        empty_dir(spill)
        log("window job on np %d: same output after %d spill passes" % (np, passes))


OUTPUTS = ("daily", "top_users", "item_country", "user_grid", "calendar")


def paths_spec(job):
    """One scan, a dedupe step and five outputs: windows and computed
    columns, a limit, grids (the S3 job's inputs and steps)."""
    with open(job) as fh:
        s3 = json.load(fh)
    aggs = {"events": "count()", "revenue": "sum(revenue)", "items": "count_distinct(item_id)"}
    return {
        "name": "spill_paths", "inputs": s3["inputs"],
        "steps": [{"dedupe": ["user_id", "item_id"], "keep": "first"}] + s3["steps"],
        "outputs": [
            {"name": "daily", "group_by": ["date", "user_id", "country"],
             "aggregates": dict(aggs, purchases="count_if(event_type == 'purchase')"),
             "windows": {
                 "events_7d": {"function": "sum", "column": "events", "preceding": 6,
                               "partition_by": ["user_id"], "order_by": "date"},
                 "rev_country_7d": {"function": "sum", "column": "revenue", "range": "6 days",
                                    "partition_by": ["country"], "order_by": "date"}},
             "compute": {"month": "format_date(date, '%Y-%m')", "share": "events / events_7d"},
             "output": {"format": "csv", "partition_by": ["date"], "sort_by": ["user_id"]}},
            {"name": "top_users", "group_by": ["user_id"], "aggregates": aggs,
             "compute": {"per_event": "revenue / events"},
             "output": {"format": "csv", "sort_by": ["per_event desc"], "limit": 50}},
            {"name": "item_country", "group_by": ["item_id", "country"],
             "aggregates": {"events": "count()", "users": "count_distinct(user_id)"},
             "output": {"format": "csv", "partition_by": ["country"]}},
            # A dense grid of every user and three days (rows outside it
            # dropped, missing ones filled), a window over it, and a limit
            # taking the first rows of its last stage's batches.
            {"name": "user_grid", "group_by": ["user_id", "date"],
             "aggregates": {"events": "count()", "revenue": "sum(revenue)"},
             "grid": {"dimension": "users", "key": "user_id", "date": "date",
                      "start": "2025-08-10", "end": "2025-08-12"},
             "windows": {"events_2d": {"function": "sum", "column": "events", "preceding": 1,
                                       "partition_by": ["user_id"], "order_by": "date"}},
             "output": {"format": "csv", "partition_by": ["date"],
                        "sort_by": ["events desc", "user_id"], "limit": 1000}},
            # A calendar grid reaching before and past the data.
            {"name": "calendar", "group_by": ["date"], "aggregates": {"events": "count()"},
             "grid": {"date": "date", "start": "2025-07-20", "end": "2025-08-20"},
             "output": {"format": "csv"}}]}


def output_figures(out):
    """(memory object, write-phase spill bytes) of one output's metrics."""
    with open(os.path.join(out, "_METRICS.json")) as fh:
        m = json.load(fh)
    write = sum(r["spill_bytes"] for p in m["phases"] if p["phase"] == "write"
                for r in p["per_rank"])
    return m["memory"], write


def cmd_paths(args):
    inputs = dataset(args)
    base, spill = fresh(args, "spill_paths")
    # The first 80000 events, plain; all of them gzipped.
    events = dict(inputs)["events"]
    half = os.path.join(base, "events80k.jsonl")
    gz = os.path.join(base, "events.jsonl.gz")
    with open(events, "rb") as src, open(half, "wb") as dst:
        for i, line in enumerate(src):
            if i == 80000:
                break
            dst.write(line)
    with open(events, "rb") as src, gzip.open(gz, "wb", compresslevel=1) as dst:
        shutil.copyfileobj(src, dst)
    users = ("users", dict(inputs)["users"])

    job = os.path.join(base, "paths.json")
    with open(job, "w") as fh:
        json.dump(paths_spec(args.job), fh)
    pargs = argparse.Namespace(**dict(vars(args), job=job))
    small = [("events", half), users]
    ref = os.path.join(base, "ref")
    run(run_cmd(pargs, 1, small, ref, ["--memory-limit", "none", "--quiet"]))
    needs = {}
    for np in (1, 3):
        need = needs[np] = minimum_for(pargs, np, small, base)
        out = os.path.join(base, "n%d" % np)
        _, _, err = run(run_cmd(pargs, np, small, out, ["--memory-limit", "%dM" % (need + 3),
                                                        "--spill-dir", spill]))
        what = "paths job on np %d" % np
        same_output(out, ref, what)
        empty_dir(spill)
        for name in OUTPUTS:
            mem, write = output_figures(os.path.join(out, name))
            if mem["spill_passes"] < 1 or mem["dedupe_spills"] < 1:
                raise Failure("%s, output %s: passes %d, dedupe table written out %d times"
                              % (what, name, mem["spill_passes"], mem["dedupe_spills"]))
            if name in ("daily", "calendar") and write <= 0:
                raise Failure("%s: output %s's rows did not go through sorted runs"
                              % (what, name))
        if b"dedupe table " not in err:
            raise Failure("%s: the summary does not say the dedupe table spilled: %s"
                          % (what, tail(err)))
        log("%s: every output the same; dedupe table and combiners spilled, windows over "
            "sorted runs" % what)

    # The gzip input is a sixth of the bytes the state grows from: the
    # spill partitions, sized by the input, come out too big for a pass
    # (about 1.7 MB each against a pass's 0.7 MB at the least limit + 3M).
    ref = os.path.join(base, "s3_ref")
    run(run_cmd(args, 1, inputs, ref, ["--memory-limit", "none", "--quiet"]))
    need = needs[1]  # the least limit does not depend on the job (dimensions aside)
    out = os.path.join(base, "s3_gz")
    _, _, err = run(run_cmd(args, 1, [("events", gz), users], out,
                            ["--memory-limit", "%dM" % (need + 3), "--spill-dir", spill]))
    same_output(out, ref, "S3 job on gzip input")
    empty_dir(spill)
    mem, _ = output_figures(out)
    if mem["spill_splits"] < 1 or b"split again" not in err:
        raise Failure("S3 job on gzip input: no spill partition was split again: %r, %s"
                      % (mem, tail(err)))
    log("S3 job on gzip input: %d spill partitions split again, %d passes, same output"
        % (mem["spill_splits"], mem["spill_passes"]))


def spill_dirs(d):
    return [n for n in os.listdir(d) if n.startswith("shardflow-")] if os.path.isdir(d) else []


def start_when_spilling(args, np, inputs, out, extra, spill):
    """Starts a run; returns (Popen, rank pids) once its spill files exist."""
    cmd = run_cmd(args, np, inputs, out, extra)
    log("$ " + " ".join(cmd) + " &")
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    t0 = time.time()
    while time.time() - t0 < 60 and p.poll() is None:
        pids = []
        for n in spill_dirs(spill):
            try:
                with open(os.path.join(spill, n, "owner")) as fh:
                    pids.append(int(fh.read().split("\n")[1]))
            except (OSError, ValueError, IndexError):
                pass
        if len(pids) == np:
            return p, pids
        time.sleep(0.01)
    os.killpg(p.pid, signal.SIGKILL)
    p.communicate()
    raise Failure("the run ended or hung before every rank had spill files")


def cmd_faults(args):
    inputs = dataset(args)
    base, spill = fresh(args, "spill_faults")
    need = minimum_for(args, 2, inputs, base)
    slow = ["--memory-limit", "%dM" % (need + 3), "--spill-dir", spill, "--decoder", "jansson",
            "--chunk-size", "1M"]

    # SIGKILL of every rank: nothing can clean up; the next run does.
    out = os.path.join(base, "out")
    p, pids = start_when_spilling(args, 2, inputs, out, slow, spill)
    kill_ranks(p, pids)
    left = spill_dirs(spill)
    if len(left) != 2:
        raise Failure("killed ranks should leave their 2 spill directories: %r" % left)
    _, _, err = run(run_cmd(args, 2, inputs, os.path.join(base, "next"), slow + ["--quiet"]))
    if b"removed 2 spill directories of killed runs under " + spill.encode() not in err:
        raise Failure("the next run did not report the stale spill: %s" % tail(err))
    empty_dir(spill)
    log("SIGKILL of every rank: the next run removed the 2 spill directories left")

    # SIGINT to rank 0: every rank stops and removes its spill.
    out = os.path.join(base, "int")
    p, pids = start_when_spilling(args, 2, inputs, out, slow, spill)
    os.kill(min(pids), signal.SIGINT)
    try:
        _, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        raise Failure("the job did not stop after SIGINT to rank 0")
    if p.returncode == 0 or os.path.exists(os.path.join(out, "_SUCCESS")):
        raise Failure("SIGINT: exit %d, stderr %s" % (p.returncode, tail(err)))
    empty_dir(spill)
    log("SIGINT to rank 0: the run stopped and removed its spill files")

    # A full spill disk.
    small = os.path.join(base, "small")
    os.makedirs(small)
    probe = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", small],
                           capture_output=True)
    if probe.returncode != 0:
        log("full spill disk: not checked (cannot mount a tmpfs here: %s)"
            % probe.stderr.decode(errors="replace").strip())
        return
    try:
        out = os.path.join(base, "full")
        rc, _, err = run(run_cmd(args, 2, inputs, out,
                                 ["--memory-limit", "%dM" % (need + 3), "--spill-dir", small]),
                         expect_ok=False)
        if rc != 1 or b"spill directory " + small.encode() + b" is full" not in err:
            raise Failure("full spill disk: exit %d, stderr %s" % (rc, tail(err)))
        if os.path.exists(out) or os.listdir(small):
            raise Failure("full spill disk left %r / %r" % (os.path.exists(out), os.listdir(small)))
        log("full spill disk: the run stopped naming the directory, nothing committed or left")
    finally:
        subprocess.run(["umount", small])


def main(argv):
    ap = sftest.parser()
    ap.add_argument("--job", required=True)
    ap.add_argument("command", choices=["limits", "quick", "faults", "paths"])
    args = ap.parse_args(argv)
    os.makedirs(args.work, exist_ok=True)
    return sftest.main({"limits": cmd_limits, "quick": cmd_limits, "faults": cmd_faults,
                        "paths": cmd_paths}[args.command], args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

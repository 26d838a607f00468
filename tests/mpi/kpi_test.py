#!/usr/bin/env python3
"""kpi_test.py - MPI integration tests of `shardflow` against the reference.

Runs the shardflow binary under mpiexec and checks its output byte for byte,
and its manifest counts, against tests/reference/daily_kpi.py. CTest calls
one subcommand per test (see tests/mpi/CMakeLists.txt):

  kpi_test.py COMMON_OPTIONS setup
      generate the KPI dataset with 2 ranks and again with 3, check the files
      are identical and that gen fails cleanly on a bad output path, run the
      reference on it (fixture for daily_kpi)
  kpi_test.py COMMON_OPTIONS daily_kpi --np N --schedule static|dynamic
  kpi_test.py COMMON_OPTIONS bad_lines --np N
  kpi_test.py COMMON_OPTIONS existing_output
  kpi_test.py COMMON_OPTIONS parquet --np N

COMMON_OPTIONS: --shardflow BIN --mpiexec MPIEXEC [--np-flag -n] --job JOB
                --oracle daily_kpi.py --cases tests/cases --work DIR

Every check fails loudly: a missing output, a missing manifest, an empty
reference or an engine that exits non-zero is a failure, never a skip.
Exit status 0 = pass, 1 = fail.
"""

import csv
import glob
import gzip
import json
import os
import re
import shutil
import signal
import subprocess
import time
import sys

import sftest
from sftest import (Failure, bad_records, data_files, first_difference, kill_ranks, log,
                    mount_tmpfs, mpi, rank_pids, reset_dir, run, snapshot, tail)

DATASET = {"events": 30000, "users": 300, "items": 60, "seed": 7}
MARKER_FILES = ("_MANIFEST.json", "_SUCCESS")
MAX_REPORTED = 20


def oracle(args, events, users, items, out_dir, counts):
    run([sys.executable, args.oracle, "--events", events, "--users", users,
         "--items", items, "--out", out_dir, "--counts", counts])


def nonzero(d):
    return {k: v for k, v in d.items() if v != 0} if isinstance(d, dict) else d


def compare_counts(got, want):
    """Compares the manifest counts with the reference's. Nested maps
    (rejected_by_reason, dropped_by_join) compare with absent == 0."""
    problems = []
    if not isinstance(got, dict):
        return ["manifest \"counts\" is not an object: %r" % (got,)]
    for k in sorted(set(want) - set(got)):
        problems.append("counts: missing key %r (reference: %r)" % (k, want[k]))
    for k in sorted(set(got) - set(want)):
        problems.append("counts: unexpected key %r = %r" % (k, got[k]))
    for k in sorted(set(got) & set(want)):
        g, w = got[k], want[k]
        if isinstance(w, dict):
            if nonzero(g) != nonzero(w):
                problems.append("counts.%s: got %s, want %s" % (
                    k, json.dumps(g, sort_keys=True), json.dumps(w, sort_keys=True)))
        elif g != w:
            problems.append("counts.%s: got %r, want %r" % (k, g, w))
    return problems


def compare_run(out_dir, ref_dir, ref_counts_path):
    """Raises Failure listing every difference between an engine output
    directory and the reference output."""
    problems = []
    for m in MARKER_FILES:
        if not os.path.isfile(os.path.join(out_dir, m)):
            problems.append("missing %s in %s" % (m, out_dir))
    want_files = data_files(ref_dir)
    if not want_files:
        raise Failure("reference output %s is empty: the test would prove nothing" % ref_dir)
    got_files = data_files(out_dir) if os.path.isdir(out_dir) else []
    for f in sorted(set(want_files) - set(got_files)):
        problems.append("missing data file %s" % f)
    for f in sorted(set(got_files) - set(want_files)):
        problems.append("unexpected data file %s" % f)
    for f in sorted(set(got_files) & set(want_files)):
        with open(os.path.join(out_dir, f), "rb") as fh:
            got = fh.read()
        with open(os.path.join(ref_dir, f), "rb") as fh:
            want = fh.read()
        if got != want:
            problems.append("%s differs from the reference; %s" % (f, first_difference(got, want)))
    manifest = os.path.join(out_dir, "_MANIFEST.json")
    if os.path.isfile(manifest):
        with open(ref_counts_path, encoding="utf-8") as fh:
            want_counts = json.load(fh)
        try:
            with open(manifest, encoding="utf-8") as fh:
                doc = json.load(fh)
        except ValueError as e:
            problems.append("_MANIFEST.json is not valid JSON: %s" % e)
        else:
            if not isinstance(doc, dict) or "counts" not in doc:
                problems.append("_MANIFEST.json has no \"counts\" object")
            else:
                problems.extend(compare_counts(doc["counts"], want_counts))
    if problems:
        shown = problems[:MAX_REPORTED]
        if len(problems) > MAX_REPORTED:
            shown.append("... and %d more" % (len(problems) - MAX_REPORTED))
        raise Failure("output %s does not match reference %s:\n  %s" % (
            out_dir, ref_dir, "\n  ".join(shown)))
    log("output matches the reference: %d data files, counts equal" % len(want_files))


def kpi_dirs(args):
    base = os.path.join(args.work, "kpi")
    return {
        "base": base,
        "data": os.path.join(base, "data"),
        "data_n3": os.path.join(base, "data_n3"),
        "ref": os.path.join(base, "reference"),
        "ref_counts": os.path.join(base, "reference_counts.json"),
        "stamp": os.path.join(base, "setup.ok"),
    }


def gen_args(out_dir):
    return ["gen", "kpi", "--events", str(DATASET["events"]), "--users", str(DATASET["users"]),
            "--items", str(DATASET["items"]), "--seed", str(DATASET["seed"]), "-o", out_dir]


def count_lines(path):
    with open(path, "rb") as fh:
        return fh.read().count(b"\n")


def cmd_setup(args):
    d = kpi_dirs(args)
    reset_dir(d["base"])
    run(mpi(args, 2, gen_args(d["data"])))
    run(mpi(args, 3, gen_args(d["data_n3"])))
    for name in ("events", "users", "items"):
        a = os.path.join(d["data"], name + ".jsonl")
        b = os.path.join(d["data_n3"], name + ".jsonl")
        n = count_lines(a)
        if n != DATASET[name]:
            raise Failure("%s has %d lines, expected %d" % (a, n, DATASET[name]))
        with open(a, "rb") as fa, open(b, "rb") as fb:
            da, db = fa.read(), fb.read()
        if da != db:
            raise Failure("gen with 2 and 3 ranks differ: %s vs %s; %s" % (
                a, b, first_difference(db, da)))
    log("gen output is identical on 2 and 3 ranks")
    # A failure on one rank must fail every rank, not hang the others.
    blocker = os.path.join(d["base"], "not_a_dir")
    with open(blocker, "w") as fh:
        fh.write("a file where gen wants a directory\n")
    rc, _, err = run(mpi(args, 3, gen_args(os.path.join(blocker, "sub"))), expect_ok=False)
    if rc == 0 or b"not_a_dir" not in err:
        raise Failure("gen into a path under a regular file: want a failure naming the path, "
                      "got exit %d, stderr:\n%s" % (rc, tail(err)))
    said = [ln for ln in err.decode("utf-8", "replace").splitlines() if "not_a_dir" in ln]
    log("gen fails cleanly on an unusable output path: %s" % said[0])
    oracle(args, *(os.path.join(d["data"], n + ".jsonl") for n in ("events", "users", "items")),
           d["ref"], d["ref_counts"])
    with open(d["ref_counts"], encoding="utf-8") as fh:
        c = json.load(fh)
    # The dataset must exercise the filter, both joins and the window.
    checks = [
        (c["lines_read"] == DATASET["events"], "lines_read == events"),
        (c["rows_filtered"] > 0, "some refunds filtered"),
        (c["dropped_by_join"]["items"] > 0, "some rows dropped by the items join"),
        (c["dropped_by_join"]["users"] > 0, "some rows dropped by the users join"),
        (c["groups"] > 1000, "many groups"),
        (len(data_files(d["ref"])) >= 28, "a partition per day of August"),
    ]
    bad = [what for ok, what in checks if not ok]
    if bad:
        raise Failure("the reference counts do not look right (%s): %s" % (
            ", ".join(bad), json.dumps(c, sort_keys=True)))
    with open(d["stamp"], "w") as fh:
        fh.write("ok\n")
    log("reference: %d groups over %d partitions" % (c["groups"], len(data_files(d["ref"]))))


def engine_run(args, np, inputs, out_dir, extra, default_max_bad=False):
    """The run command; --max-bad 100% unless extra sets --max-bad or the
    test is about the default (10%): the test inputs are mostly bad."""
    if "--max-bad" not in extra and not default_max_bad:
        extra = extra + ["--max-bad", "100%"]
    sub = ["run", args.job]
    for name, path in inputs:
        sub += ["--input", "%s=%s" % (name, path)]
    return mpi(args, np, sub + ["--output", out_dir] + extra)


def cmd_daily_kpi(args):
    d = kpi_dirs(args)
    if not os.path.isfile(d["stamp"]):
        raise Failure("the dataset fixture (mpi.setup) has not completed: %s missing" % d["stamp"])
    out = os.path.join(d["base"], "out_n%d_%s_%s" % (args.np, args.schedule, args.decoder))
    shutil.rmtree(out, ignore_errors=True)
    inputs = [(n, os.path.join(d["data"], n + ".jsonl")) for n in ("events", "users", "items")]
    run(engine_run(args, args.np, inputs, out,
                   ["--chunk-size", "64K", "--schedule", args.schedule, "--shuffle-round", "16K",
                    "--decoder", args.decoder]))
    compare_run(out, d["ref"], d["ref_counts"])


def bad_lines_reference(args, base):
    case = os.path.join(args.cases, "bad_lines")
    inputs = [(n, os.path.join(case, n + ".jsonl")) for n in ("events", "users", "items")]
    ref = os.path.join(base, "reference")
    counts = os.path.join(base, "reference_counts.json")
    oracle(args, *(p for _, p in inputs), ref, counts)
    return inputs, ref, counts


def cmd_bad_lines(args):
    base = os.path.join(args.work, "bad_lines_n%d_%s" % (args.np, args.decoder))
    if args.simd:
        # The decoder's string scans capped at this width (core/jsonscan.h):
        # the same verdicts and output at every width.
        os.environ["SHARDFLOW_SIMD"] = args.simd
        base += "_" + args.simd
    reset_dir(base)
    inputs, ref, counts = bad_lines_reference(args, base)
    with open(counts, encoding="utf-8") as fh:
        if not json.load(fh)["rows_rejected"]:
            raise Failure("the reference rejected nothing in the bad_lines case")
    out = os.path.join(base, "out")
    # Chunks far smaller than the file, so lines straddle chunk edges.
    err = run(engine_run(args, args.np, inputs, out,
                         ["--chunk-size", "1K", "--schedule", "dynamic", "--shuffle-round", "16K",
                          "--decoder", args.decoder]))[2].decode()
    compare_run(out, ref, counts)
    check_bad_records(out, dict(inputs)["events"])
    with open(os.path.join(out, "_MANIFEST.json"), encoding="utf-8") as fh:
        manifest = json.load(fh)
    bad = manifest["bad_records"]
    # The summary and inspect name where the bad lines went.
    want = "bad lines: %d in %s/_bad_records/" % (bad, out)
    if want not in err:
        raise Failure("the run's summary does not say %r:\n%s" % (want, tail(err.encode())))
    shown = run([args.shardflow, "inspect", out])[1].decode()
    for line in ("columns:    %d (types from _MANIFEST.json)" % len(manifest["output"]["columns"]),
                 "rows:       %d written from %d lines read"
                 % (manifest["counts"]["output_rows"], manifest["counts"]["lines_read"]),
                 "rejected:   %d lines (--mode permissive)" % manifest["counts"]["rows_rejected"],
                 "bad lines:  %d in %s/_bad_records/" % (bad, out)):
        if line not in shown:
            raise Failure("inspect does not show %r:\n%s" % (line, shown))
    for reason, n in manifest["counts"]["rejected_by_reason"].items():
        if not re.search(r"\n  %s +%d\n" % (re.escape(reason), n), shown):
            raise Failure("inspect does not count %d %r:\n%s" % (n, reason, shown))


def check_bad_records(out, events):
    """--mode permissive (the default): _bad_records holds one record per
    rejected line, each naming the right file, offset and line number."""
    with open(events, "rb") as fh:
        data = fh.read()
    starts = {0: 1}
    for i, b in enumerate(data):
        if b == 10:
            starts[i + 1] = len(starts) + 1
    if data.startswith(b"\xef\xbb\xbf"):
        starts[3] = 1
    recs = []
    bad_dir = os.path.join(out, "_bad_records")
    for f in sorted(os.listdir(bad_dir)) if os.path.isdir(bad_dir) else []:
        with open(os.path.join(bad_dir, f), encoding="utf-8") as fh:
            recs += [json.loads(line) for line in fh]
    with open(os.path.join(out, "_MANIFEST.json"), encoding="utf-8") as fh:
        manifest = json.load(fh)
    rejected = manifest["counts"]["rows_rejected"]
    if len(recs) != rejected or manifest["bad_records"] != rejected:
        raise Failure("%d bad records (manifest says %d) for %d rejected lines" % (
            len(recs), manifest["bad_records"], rejected))
    for r in recs:
        if r["file"] != events or starts.get(r["offset"]) != r["line"]:
            raise Failure("bad record with wrong place: %r (line %r starts at that offset)"
                          % (r, starts.get(r["offset"])))
        if not r["reason"] or not r["message"]:
            raise Failure("bad record without a reason: %r" % r)
    log("%d bad records, each with the right file, offset and line" % len(recs))


def cmd_modes(args):
    """--mode failfast stops at the first bad line (exit 2, file:line:column,
    nothing committed); --max-bad over the limit exits 2; dropmalformed
    writes no _bad_records."""
    base = os.path.join(args.work, "modes_n%d" % args.np)
    reset_dir(base)
    case = os.path.join(args.cases, "bad_lines")
    inputs = [(n, os.path.join(case, n + ".jsonl")) for n in ("events", "users", "items")]
    out = os.path.join(base, "out")
    rc, _, err = run(engine_run(args, args.np, inputs, out, ["--mode", "failfast",
                                                               "--chunk-size", "1K"]),
                     expect_ok=False)
    events = dict(inputs)["events"]
    # FILE:LINE:COLUMN first, as compilers write it; the byte offset after.
    if rc != 2 or ("%s:5:30: invalid JSON: " % events).encode() not in err \
            or b"(byte offset 273; --mode failfast)" not in err:
        raise Failure("failfast: exit %d, stderr %r" % (rc, tail(err)))
    if os.path.exists(out):
        raise Failure("failfast left %s behind" % out)
    # 13 bad lines (huge numbers in unread fields are not among them; the
    # price 1e16 is, since it needs 19 digits as a decimal(18,2)).
    rc, _, err = run(engine_run(args, args.np, inputs, out, ["--max-bad", "11"]),
                     expect_ok=False)
    if rc != 2 or b"exceed --max-bad 11" not in err or os.path.exists(out):
        raise Failure("--max-bad 11: exit %d, stderr %r" % (rc, tail(err)))
    # Never a silent empty success: when every line is rejected the run
    # says why (top reason, first bad line) instead of committing.
    arrays = os.path.join(base, "arrays.jsonl")
    with open(arrays, "wb") as fh:
        fh.write(b"[1,2]\n" * 50 + b"\n")
    bad_inputs = [(n, arrays if n == "events" else p) for n, p in inputs]
    rc, _, err = run(engine_run(args, args.np, bad_inputs, out, [], default_max_bad=True),
                     expect_ok=False)
    if rc != 2 or b"all 51 lines read were rejected" not in err \
            or b"most as 'not an object': 50" not in err or os.path.exists(out):
        raise Failure("all-rejected input: exit %d, stderr %r" % (rc, tail(err)))
    # A compressed file it cannot decode is refused by name.
    bz = os.path.join(base, "events.jsonl.bz2")
    with open(bz, "wb") as fh:
        fh.write(b"BZh91AY&SY" + b"\0" * 64)
    bz_inputs = [(n, bz if n == "events" else p) for n, p in inputs]
    rc, _, err = run(engine_run(args, args.np, bz_inputs, out, []), expect_ok=False)
    if rc == 0 or b"is bzip2-compressed" not in err or os.path.exists(out):
        raise Failure("bzip2 input: exit %d, stderr %r" % (rc, tail(err)))
    # The default --max-bad is 10%: bad_lines has 13 bad lines of 56.
    rc, _, err = run(engine_run(args, args.np, inputs, out, [], default_max_bad=True),
                     expect_ok=False)
    if rc != 2 or b"exceed --max-bad 10%" not in err or os.path.exists(out):
        raise Failure("default --max-bad: exit %d, stderr %r" % (rc, tail(err)))
    run(engine_run(args, args.np, inputs, out, ["--max-bad", "13", "--mode", "dropmalformed"]))
    if os.path.exists(os.path.join(out, "_bad_records")):
        raise Failure("dropmalformed wrote _bad_records")
    log("failfast, --max-bad and dropmalformed behave")


def partition_rows(root):
    """{partition dir: (header, sorted data lines)} over every part file of
    an output: the logical content, whatever the split into files."""
    parts = {}
    for f in data_files(root):
        d = os.path.dirname(f)
        with open(os.path.join(root, f), "rb") as fh:
            lines = fh.read().split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        header, rows = (lines[0] if lines else b""), lines[1:]
        old = parts.get(d)
        if old and old[0] != header:
            raise Failure("%s: part files disagree on the header" % d)
        parts[d] = (header, (old[1] if old else []) + rows)
    return {d: (h, sorted(r)) for d, (h, r) in parts.items()}


def files_per_partition(root):
    counts = {}
    for f in data_files(root):
        d = os.path.dirname(f)
        counts[d] = counts.get(d, 0) + 1
    return counts


def check_metrics(out_dir):
    """_METRICS.json parses, and bytes sent equal bytes received over ranks
    in every phase."""
    path = os.path.join(out_dir, "_METRICS.json")
    try:
        with open(path, encoding="utf-8") as fh:
            doc = json.load(fh)
    except (OSError, ValueError) as e:
        raise Failure("%s: %s" % (path, e))
    for ph in doc["phases"]:
        sent = sum(r["bytes_sent"] for r in ph["per_rank"])
        recv = sum(r["bytes_received"] for r in ph["per_rank"])
        if sent != recv:
            raise Failure("%s: phase %s sent %d bytes but received %d" % (
                path, ph["phase"], sent, recv))
        rsent = sum(r["records_sent"] for r in ph["per_rank"])
        rrecv = sum(r["records_received"] for r in ph["per_rank"])
        if rsent != rrecv:
            raise Failure("%s: phase %s sent %d records but received %d" % (
                path, ph["phase"], rsent, rrecv))
    nfiles = len(data_files(out_dir))
    if doc["output_files"]["count"] != nfiles:
        raise Failure("%s: output_files.count is %d, the output has %d data files" % (
            path, doc["output_files"]["count"], nfiles))
    if doc["partitions"]["count"] < 1 or len(doc["partitions"]["rows"]) != doc["partitions"]["count"]:
        raise Failure("%s: partitions entry is inconsistent" % path)


def cmd_strategies(args):
    """Every repartition strategy and write mode gives the reference's rows;
    only the split of rows into files may differ."""
    d = kpi_dirs(args)
    if not os.path.isfile(d["stamp"]):
        raise Failure("the dataset fixture (mpi.setup) has not completed: %s missing" % d["stamp"])
    want = partition_rows(d["ref"])
    inputs = [(n, os.path.join(d["data"], n + ".jsonl")) for n in ("events", "users", "items")]
    combos = [(r, w, []) for r in ("before-aggregate", "before-join", "none")
              for w in ("repartition", "coalesce=2", "local")]
    combos.append(("before-aggregate", "repartition", ["--partitions", "7"]))
    combos.append(("before-aggregate", "repartition", ["--broadcast-limit", "1K"]))
    default_cat = None
    for repart, write, extra in combos:
        out = os.path.join(d["base"], "strategy_n%d" % args.np)
        shutil.rmtree(out, ignore_errors=True)
        run(engine_run(args, args.np, inputs, out,
                       ["--chunk-size", "64K", "--shuffle-round", "16K", "--repartition", repart,
                        "--write", write] + extra))
        what = "--repartition %s --write %s %s" % (repart, write, " ".join(extra))
        got = partition_rows(out)
        if got != want:
            missing = sorted(set(want) - set(got))
            diff = [p for p in sorted(set(want) & set(got)) if got[p] != want[p]]
            raise Failure("%s: rows differ from the reference (missing partitions %s, "
                          "differing %s)" % (what, missing[:3], diff[:3]))
        limit = {"repartition": 1, "coalesce=2": 2, "local": args.np}[write]
        over = {p: n for p, n in files_per_partition(out).items() if n > limit}
        if over:
            raise Failure("%s: more than %d file(s) in %s" % (what, limit, sorted(over)[:3]))
        with open(d["ref_counts"], encoding="utf-8") as fh:
            want_counts = json.load(fh)
        with open(os.path.join(out, "_MANIFEST.json"), encoding="utf-8") as fh:
            manifest = json.load(fh)
        problems = compare_counts(manifest["counts"], want_counts)
        if problems:
            raise Failure("%s: %s" % (what, "; ".join(problems)))
        check_metrics(out)
        cat = run([args.shardflow, "cat", out])[1]
        if default_cat is None:
            default_cat = cat  # the first combination is the default one
        elif cat != default_cat:
            raise Failure("%s: `shardflow cat` differs from the default's; %s"
                          % (what, first_difference(cat, default_cat)))
        log("%s: same rows, same cat, counts and balanced traffic" % what)


def cmd_experiment(args):
    """shardflow experiment: one report row per run, all runs agreeing, and
    plots when gnuplot is installed."""
    d = kpi_dirs(args)
    if not os.path.isfile(d["stamp"]):
        raise Failure("the dataset fixture (mpi.setup) has not completed: %s missing" % d["stamp"])
    report = os.path.join(d["base"], "experiment_n%d" % args.np)
    shutil.rmtree(report, ignore_errors=True)
    sub = ["experiment", args.job]
    for n in ("events", "users", "items"):
        sub += ["--input", "%s=%s" % (n, os.path.join(d["data"], n + ".jsonl"))]
    sub += ["--strategies", "before-aggregate,none", "--write", "repartition,local",
            "--repeat", "2", "--report", report, "--chunk-size", "256K"]
    run(mpi(args, args.np, sub))
    with open(os.path.join(report, "report.csv"), encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if len(rows) != 8:
        raise Failure("report.csv has %d rows, want 8 (2 strategies x 2 writes x 2 repeats)"
                      % len(rows))
    for r in rows:
        if r["output_rows"] != rows[0]["output_rows"]:
            raise Failure("runs disagree on output rows: %r" % r)
        if int(r["ranks"]) != args.np:
            raise Failure("report.csv says %s ranks, want %d" % (r["ranks"], args.np))
    with open(os.path.join(report, "report.md"), encoding="utf-8") as fh:
        md = fh.read()
    # A combination is marked fastest only when its range of repeats lies
    # below every other's; otherwise the recommendation says so.
    if "(fastest)" in md:
        if "**Recommendation:** Use " not in md:
            raise Failure("report.md marks a fastest combination but recommends none")
    elif "**Recommendation:** No clear difference at this size" not in md:
        raise Failure("report.md marks no fastest combination and gives no verdict")
    if "| wall min s | wall median s | wall max s |" not in md:
        raise Failure("report.md lacks min, median and max wall time")
    per_combo = {}
    for r in rows:
        per_combo.setdefault((r["strategy"], r["write"]), []).append(float(r["wall_s"]))
    for (strategy, write), walls in per_combo.items():
        line = [l for l in md.splitlines() if l.startswith("| ") and strategy in l
                and ("| %s |" % write) in l]
        # report.md rounds the wall time to 3 decimals, report.csv to 6:
        # rounding the csv's figure again may land one unit off (0.1235004
        # is 0.124 in the md, 0.123500 -> 0.123 here), so compare within
        # half a unit of the md's last place.
        cells = line[0].split("|") if len(line) == 1 else []
        if len(cells) < 6 or abs(float(cells[3]) - min(walls)) > 0.0005 + 1e-6 \
                or abs(float(cells[5]) - max(walls)) > 0.0005 + 1e-6:
            raise Failure("report.md row for %s/%s lacks min %.6f / max %.6f: %r"
                          % (strategy, write, min(walls), max(walls), line))
    if shutil.which("gnuplot"):
        if not 0 <= md.find("(bytes.png)") < md.find("(phases.png)"):
            raise Failure("report.md does not show the bytes-moved plot first")
        for f in ("phases.png", "phases.svg", "bytes.png", "bytes.svg"):
            if not os.path.getsize(os.path.join(report, f)):
                raise Failure("plot %s is empty" % f)
    else:
        log("gnuplot not installed: plots not checked")
    log("experiment report: %d runs, medians and plots in %s" % (len(rows), report))


def cmd_skew(args):
    """Zipf data (gen --skew): with a hot group key, --repartition none
    --salt spreads the raw rows more evenly than without salt, and every
    variant writes the same output as before-aggregate."""
    base = os.path.join(args.work, "skew_n%d" % args.np)
    reset_dir(base)
    data = os.path.join(base, "data")
    run(mpi(args, 2, ["gen", "kpi", "--events", "40000", "--users", "300", "--items", "50",
                      "--seed", "3", "--skew", "zipf:1.2", "-o", data]))
    job = os.path.join(os.path.dirname(args.job), "user_totals.json")
    inputs = [(n, os.path.join(data, n + ".jsonl")) for n in ("events", "users")]
    outs = {}
    for name, extra in (("default", []), ("none", ["--repartition", "none"]),
                        ("salted", ["--repartition", "none", "--salt", "4"])):
        out = os.path.join(base, name)
        sub = ["run", job]
        for n, path in inputs:
            sub += ["--input", "%s=%s" % (n, path)]
        run(mpi(args, args.np, sub + ["--output", out, "--chunk-size", "64K"] + extra))
        outs[name] = out
    want = partition_rows(outs["default"])
    for name in ("none", "salted"):
        if partition_rows(outs[name]) != want:
            raise Failure("%s: rows differ from before-aggregate's" % name)
    def stream_skew(out):
        with open(os.path.join(out, "_METRICS.json"), encoding="utf-8") as fh:
            return json.load(fh)["stream"]["skew"]
    plain, salted = stream_skew(outs["none"]), stream_skew(outs["salted"])
    if args.np > 1 and not salted < plain:
        raise Failure("salting did not lower the stream skew: %.3f without, %.3f with"
                      % (plain, salted))
    log("same rows; stream skew %.3f without salt, %.3f with" % (plain, salted))


def cmd_parquet(args):
    """Parquet outputs in every write mode (repartition, coalesce, local),
    with several codecs and row group sizes, print through `shardflow cat`
    exactly what the CSV output of the same job prints; the files are
    Parquet (magic at both ends), the manifest says parquet, inspect shows
    row groups and the run id the manifest holds; --layout single is
    refused for Parquet; experiment writes Parquet too."""
    d = kpi_dirs(args)
    if not os.path.isfile(d["stamp"]):
        raise Failure("the dataset fixture (mpi.setup) has not completed: %s missing" % d["stamp"])
    inputs = [(n, os.path.join(d["data"], n + ".jsonl")) for n in ("events", "users", "items")]
    csv_out = os.path.join(d["base"], "parquet_n%d_csv" % args.np)
    shutil.rmtree(csv_out, ignore_errors=True)
    run(engine_run(args, args.np, inputs, csv_out, ["--chunk-size", "64K"]))
    want = run([args.shardflow, "cat", csv_out])[1]
    if not want.count(b"\n") > 100:
        raise Failure("cat of the CSV output printed too little to prove anything")
    coalesce = "coalesce=%d" % max(1, args.np - 1)
    variants = (("repartition", ["--write", "repartition"]),
                ("coalesce", ["--write", coalesce, "--compression", "zstd:5",
                              "--row-group-size", "7"]),
                ("local", ["--write", "local", "--compression", "none",
                           "--row-group-size", "20,64KiB"]))
    for name, extra in variants:
        out = os.path.join(d["base"], "parquet_n%d_%s" % (args.np, name))
        shutil.rmtree(out, ignore_errors=True)
        run(engine_run(args, args.np, inputs, out,
                       ["--chunk-size", "64K", "--format", "parquet"] + extra))
        files = data_files(out)
        if not files or not all(f.endswith(".parquet") for f in files):
            raise Failure("--format parquet (%s) wrote %s" % (name, files[:5]))
        for f in files:
            with open(os.path.join(out, f), "rb") as fh:
                data = fh.read()
            if data[:4] != b"PAR1" or data[-4:] != b"PAR1":
                raise Failure("%s/%s is not a Parquet file" % (out, f))
        with open(os.path.join(out, "_MANIFEST.json"), encoding="utf-8") as fh:
            m = json.load(fh)
        if m["output"]["format"] != "parquet":
            raise Failure("manifest of %s says format %r" % (name, m["output"]["format"]))
        got = run([args.shardflow, "cat", out])[1]
        if got != want:
            raise Failure("cat of the Parquet output (%s) differs from the CSV output's; %s"
                          % (name, first_difference(got, want)))
        text = run([args.shardflow, "inspect", out])[1].decode()
        if "format:     parquet" not in text or "row group 0:" not in text:
            raise Failure("inspect of %s shows no Parquet details:\n%s" % (out, text[:2000]))
        if "run id:     %s" % m["run_id"] not in text:
            raise Failure("inspect of %s does not show the manifest's run id %s"
                          % (out, m["run_id"]))
        if name == "coalesce" and ("ZSTD" not in text or "row group 1:" not in text):
            raise Failure("--compression zstd:5 --row-group-size 7: inspect shows:\n%s"
                          % text[:2000])
        log("  parquet %s: %d files, cat equals the CSV output's" % (name, len(files)))
    bad = os.path.join(d["base"], "parquet_n%d_single" % args.np)
    rc, _, err = run(engine_run(args, 1, inputs, bad, ["--format", "parquet", "--layout",
                                                        "single"]), expect_ok=False)
    if rc == 0 or b"'single' is an hdf5 layout" not in err:
        raise Failure("--format parquet --layout single: want a clear refusal, got exit %d:\n%s"
                      % (rc, tail(err)))
    report = os.path.join(d["base"], "parquet_n%d_experiment" % args.np)
    shutil.rmtree(report, ignore_errors=True)
    sub = ["experiment", args.job, "--format", "parquet", "--report", report,
           "--strategies", "before-aggregate", "--write", "local", "--chunk-size", "256K"]
    for n, path in inputs:
        sub += ["--input", "%s=%s" % (n, path)]
    run(mpi(args, args.np, sub))
    kept = [f for f in glob.glob(os.path.join(report, "runs", "**", "*"), recursive=True)
            if os.path.isfile(f) and not os.path.basename(f).startswith("_")]
    if not kept or not all(f.endswith(".parquet") for f in kept):
        raise Failure("experiment --format parquet kept %s" % kept[:5])
    log("cat of Parquet outputs (repartition, %s, local) equals the CSV output's; "
        "--layout single refused; experiment ran with --format parquet" % coalesce)


def duckdb_count(args, pattern):
    """Rows DuckDB reads with read_csv(pattern, hive_partitioning=true), or
    None (with a message) when DuckDB cannot be installed (scripts/duckdb-setup)."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    rc = subprocess.run([os.path.join(root, "scripts", "duckdb-setup")],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if rc.returncode != 0:
        log("SKIP DuckDB check: scripts/duckdb-setup exited %d: %s"
            % (rc.returncode, rc.stdout.decode("utf-8", "replace").strip()[-300:]))
        return None
    script = os.path.join(root, ".deps", "node", "csv_count.mjs")
    with open(script, "w", encoding="utf-8") as fh:
        fh.write("import { DuckDBInstance } from '@duckdb/node-api';\n"
                 "const inst = await DuckDBInstance.create(':memory:', { threads: '2' });\n"
                 "const con = await inst.connect();\n"
                 "const p = process.argv[2].replace(/'/g, \"''\");\n"
                 "const r = await con.runAndReadAll(`SELECT count(*) AS n FROM read_csv('${p}', "
                 "hive_partitioning=true)`);\n"
                 "console.log(String(r.getRows()[0][0]));\n")
    out = run(["node", script, pattern])[1]
    return int(out.decode().strip())


def cmd_csv_compressed(args):
    """--compression gzip / zstd on CSV writes part-NNNNN.csv.gz / .csv.zst
    (gzip and zstd magic), the manifest lists those names and their sizes,
    and `shardflow cat` prints exactly what it prints for the plain CSV
    output; an unknown codec is refused naming --compression; DuckDB reads
    the .csv.gz output's rows when it can be installed."""
    d = kpi_dirs(args)
    if not os.path.isfile(d["stamp"]):
        raise Failure("the dataset fixture (mpi.setup) has not completed: %s missing" % d["stamp"])
    inputs = [(n, os.path.join(d["data"], n + ".jsonl")) for n in ("events", "users", "items")]
    plain = os.path.join(d["base"], "csvz_n%d_plain" % args.np)
    shutil.rmtree(plain, ignore_errors=True)
    run(engine_run(args, args.np, inputs, plain, ["--chunk-size", "64K"]))
    pfiles = data_files(plain)
    if not pfiles or not all(f.endswith(".csv") for f in pfiles):
        raise Failure("the default CSV output wrote %s" % pfiles[:5])
    want = run([args.shardflow, "cat", plain])[1]
    if not want.count(b"\n") > 100:
        raise Failure("cat of the CSV output printed too little to prove anything")
    rows = want.count(b"\n") - 1
    magic = {"gzip": b"\x1f\x8b", "zstd": b"\x28\xb5\x2f\xfd"}
    for comp, ext, extra in (("gzip", ".csv.gz", []), ("zstd:7", ".csv.zst", []),
                             ("gzip:1", ".csv.gz", ["--write", "local"])):
        out = os.path.join(d["base"], "csvz_n%d_%s" % (args.np, comp.replace(":", "")))
        shutil.rmtree(out, ignore_errors=True)
        run(engine_run(args, args.np, inputs, out,
                       ["--chunk-size", "64K", "--compression", comp] + extra))
        files = data_files(out)
        if not files or not all(f.endswith(ext) for f in files):
            raise Failure("--compression %s wrote %s" % (comp, files[:5]))
        with open(os.path.join(out, "_MANIFEST.json"), encoding="utf-8") as fh:
            mtext = fh.read()
        for f in files:
            path = os.path.join(out, f)
            with open(path, "rb") as fh:
                head = fh.read(4)
            if not head.startswith(magic[comp.split(":")[0]]):
                raise Failure("%s is not %s data (starts %r)" % (path, comp, head))
            if os.path.basename(f) not in mtext:
                raise Failure("the manifest of %s does not list %s" % (out, f))
        m = json.loads(mtext)
        sizes = {}
        def walk(x):
            if isinstance(x, dict):
                if "path" in x and "bytes" in x:
                    sizes[x["path"]] = x["bytes"]
                for v in x.values():
                    walk(v)
            elif isinstance(x, list):
                for v in x:
                    walk(v)
        walk(m)
        for p, b in sizes.items():
            real = os.path.join(out, p)
            if os.path.isfile(real) and os.path.getsize(real) != b:
                raise Failure("manifest says %s has %d bytes, the file has %d"
                              % (p, b, os.path.getsize(real)))
        got = run([args.shardflow, "cat", out])[1]
        if got != want:
            raise Failure("cat of the --compression %s output differs from the plain CSV "
                          "output's; %s" % (comp, first_difference(got, want)))
        log("  csv --compression %s %s: %d files (%d bytes vs %d plain), cat equals plain"
            % (comp, " ".join(extra), len(files),
               sum(os.path.getsize(os.path.join(out, f)) for f in files),
               sum(os.path.getsize(os.path.join(plain, f)) for f in pfiles)))
        if comp == "gzip":
            n = duckdb_count(args, os.path.join(out, "**", "*.csv.gz"))
            if n is not None and n != rows:
                raise Failure("DuckDB read_csv of %s/**/*.csv.gz: %d rows, cat prints %d"
                              % (out, n, rows))
            if n is not None:
                log("  DuckDB read_csv('**/*.csv.gz', hive_partitioning=true): %d rows" % n)
            # append keeps the compression suffix last: part-NNNNN-RUNID.csv.gz
            run(engine_run(args, args.np, inputs, out,
                           ["--chunk-size", "64K", "--compression", comp, "--write-mode",
                            "append"]))
            again = data_files(out)
            if len(again) != 2 * len(files) or not all(f.endswith(ext) for f in again):
                raise Failure("--write-mode append with --compression %s: %d files before, "
                              "now %s" % (comp, len(files), again[:6]))
            text = run([args.shardflow, "cat", out])[1]
            if text.count(b"\n") - 1 != 2 * rows:
                raise Failure("cat after append prints %d rows, want %d"
                              % (text.count(b"\n") - 1, 2 * rows))
            log("  append: %d %s files, cat prints both runs' rows" % (len(again), ext))
    bad = os.path.join(d["base"], "csvz_n%d_bad" % args.np)
    rc, _, err = run(engine_run(args, 1, inputs, bad, ["--compression", "snappy"]),
                     expect_ok=False)
    if rc == 0 or b"--compression" not in err or b"zstd" not in err:
        raise Failure("csv --compression snappy: want a refusal naming --compression and the "
                      "accepted values, got exit %d:\n%s" % (rc, tail(err)))
    if os.path.exists(os.path.join(bad, "_MANIFEST.json")):
        raise Failure("a refused --compression committed an output")
    log("csv --compression gzip / zstd:7 / gzip:1 local: cat equals the plain output's; "
        "snappy refused")


def cmd_hdf5(args):
    """HDF5 outputs (hive and single layouts) print, through `shardflow cat`,
    exactly what the CSV output of the same job prints; h5dump and h5py read
    them when installed."""
    d = kpi_dirs(args)
    if not os.path.isfile(d["stamp"]):
        raise Failure("the dataset fixture (mpi.setup) has not completed: %s missing" % d["stamp"])
    inputs = [(n, os.path.join(d["data"], n + ".jsonl")) for n in ("events", "users", "items")]
    outs = {}
    for name, extra in (("csv", []), ("hive", ["--format", "hdf5"]),
                        ("single", ["--format", "hdf5", "--layout", "single",
                                    "--compression", "none"])):
        out = os.path.join(d["base"], "hdf5_n%d_%s" % (args.np, name))
        shutil.rmtree(out, ignore_errors=True)
        run(engine_run(args, args.np, inputs, out, ["--chunk-size", "64K"] + extra))
        outs[name] = out
    cats = {}
    for name, out in outs.items():
        cats[name] = run([args.shardflow, "cat", out])[1]
    if not cats["csv"].count(b"\n") > 100:
        raise Failure("cat of the CSV output printed too little to prove anything")
    for name in ("hive", "single"):
        if cats[name] != cats["csv"]:
            raise Failure("cat of the %s HDF5 output differs from the CSV output's; %s"
                          % (name, first_difference(cats[name], cats["csv"])))
    single = os.path.join(outs["single"], "output.h5")
    part = next(os.path.join(outs["hive"], f) for f in data_files(outs["hive"]))
    if shutil.which("h5dump"):
        for f in (single, part):
            run(["h5dump", "-H", f])
    else:
        log("h5dump not installed: not checked")
    py = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    probe = subprocess.run([py, "-c", "import h5py"], capture_output=True)
    if probe.returncode == 0:
        script = ("import h5py, sys\n"
                  "f = h5py.File(sys.argv[1], 'r')\n"
                  "n = 0\n"
                  "for g in f.values():\n"
                  "    n += len(g['events_total'])\n"
                  "print(n)\n")
        got = run([py, "-c", script, single])[1].strip()
        want = str(sum(1 for line in cats["csv"].split(b"\n")[1:] if line))
        if got.decode() != want:
            raise Failure("h5py counts %s rows in %s, cat printed %s" % (got, single, want))
    else:
        log("h5py not installed: not checked")
    log("cat of hive and single HDF5 outputs equals the CSV output's")


EVENT = (b'{"user_id":1,"item_id":10,"event_type":"purchase","ts":1754006400,'
         b'"props":{"price":%d.5}}')


def edge_cases(base):
    """The edge inputs of issue 5: name -> (files to write, expected outcome).
    An outcome is a dict of manifest counts that must match, or ("error",
    text the message must contain)."""
    big = EVENT % 1
    ok_line = lambda k: EVENT % k
    nested = b'{"user_id":1,"x":' + b"[" * 100000 + b"]" * 100000 + b"}"
    cases = {
        "empty_file": (b"", {"lines_read": 0, "rows_aggregated": 0}),
        "only_blank_lines": (b"\n\n\n\r\n", {"lines_read": 4, "blank_lines": 4}),
        "no_final_newline": (ok_line(1) + b"\n" + ok_line(2),
                             {"lines_read": 2, "rows_aggregated": 2}),
        "crlf": (ok_line(1) + b"\r\n" + ok_line(2) + b"\r\n",
                 {"lines_read": 2, "rows_aggregated": 2, "rows_rejected": 0}),
        "utf8_bom": (b"\xef\xbb\xbf" + ok_line(1) + b"\n", {"lines_read": 1,
                                                              "rows_aggregated": 1}),
        "nul_bytes": (ok_line(1)[:10] + b"\x00" + ok_line(1)[10:] + b"\n" + ok_line(2) + b"\n",
                      {"lines_read": 2, "rows_rejected": 1, "rows_aggregated": 1}),
        "line_longer_than_a_chunk": (b'{"user_id":1,"item_id":10,"event_type":"purchase",'
                                     b'"ts":1754006400,"pad":"' + b"x" * 5000 + b'"}\n'
                                     + ok_line(3) + b"\n",
                                     {"lines_read": 2, "rows_aggregated": 2}),
        "invalid_utf8": (b'{"user_id":1,"item_id":10,"event_type":"vi\xffew","ts":1}\n'
                         + ok_line(1) + b"\n",
                         {"lines_read": 2, "rows_rejected": 1,
                          "rejected_by_reason": {"invalid UTF-8": 1}}),
        "deep_nesting_100k": (nested + b"\n" + ok_line(1) + b"\n",
                              {"lines_read": 2, "rows_rejected": 1,
                               "rejected_by_reason": {"nesting too deep": 1}}),
        # Beyond int64 in an int64 column: a type mismatch that quotes it.
        "huge_numbers": (b'{"user_id":123456789012345678901234567890,"item_id":10}\n'
                         + ok_line(1) + b"\n",
                         {"lines_read": 2, "rows_rejected": 1,
                          "rejected_by_reason": {"type mismatch": 1}}),
        # ... and in fields the job does not read, no reason to reject.
        "huge_numbers_unread": (ok_line(1)[:-1] + b',"id":123456789012345678901234567890,'
                                b'"r":1e400,"q":-1E+99999}\n' + ok_line(2) + b"\n",
                                {"lines_read": 2, "rows_rejected": 0, "rows_aggregated": 2}),
        "duplicate_keys": (b'{"user_id":1,"item_id":10,"event_type":"view","event_type":"purchase",'
                           b'"ts":1754006400,"props":{"price":7.25}}\n',
                           {"lines_read": 1, "rows_aggregated": 1}),
        "fewer_lines_than_ranks": (ok_line(1) + b"\n", {"lines_read": 1, "rows_aggregated": 1}),
    }
    return cases


def cmd_edge(args):
    """Each edge input gives its expected counts (or a clear error), on
    args.np ranks, with no crash."""
    base = os.path.join(args.work, "edge_n%d" % args.np)
    reset_dir(base)
    case = os.path.join(args.cases, "bad_lines")
    dims = [(n, os.path.join(case, n + ".jsonl")) for n in ("users", "items")]
    for name, (data, want) in edge_cases(base).items():
        path = os.path.join(base, name + ".jsonl")
        with open(path, "wb") as fh:
            fh.write(data)
        out = os.path.join(base, "out_" + name)
        run(engine_run(args, args.np, [("events", path)] + dims, out, ["--chunk-size", "1K"]))
        with open(os.path.join(out, "_MANIFEST.json"), encoding="utf-8") as fh:
            got = json.load(fh)["counts"]
        for k, v in want.items():
            g = nonzero(got.get(k)) if isinstance(v, dict) else got.get(k)
            if g != v:
                raise Failure("%s: counts.%s is %r, want %r" % (name, k, got.get(k), v))
        log("%s: counts as expected" % name)
    # The purchase price of the duplicate-key line is the last one's.
    with open(os.path.join(base, "out_duplicate_keys", "date=2025-08-01", "part-00000.csv"),
              "rb") as fh:
        if b",7.25," not in fh.read():
            raise Failure("duplicate_keys: the last value did not win")
    # Many small files through a glob and a directory: the same output as one file.
    parts = os.path.join(base, "many")
    os.makedirs(parts)
    lines = [EVENT % (i % 50) + b"\n" for i in range(300)]
    whole = b"".join(lines)
    for i in range(30):
        with open(os.path.join(parts, "ev-%03d.jsonl" % i), "wb") as fh:
            fh.write(b"".join(lines[i * 10:(i + 1) * 10]))
    single = os.path.join(base, "whole.jsonl")
    with open(single, "wb") as fh:
        fh.write(whole)
    outs = []
    for name, src in (("single", single), ("glob", os.path.join(parts, "ev-*.jsonl")),
                      ("dir", parts)):
        out = os.path.join(base, "out_many_" + name)
        run(engine_run(args, args.np, [("events", src)] + dims, out, ["--chunk-size", "1K"]))
        outs.append(partition_rows(out))
    if outs[0] != outs[1] or outs[0] != outs[2]:
        raise Failure("30 small files (glob or directory) give other rows than one file")
    # Errors before any work: missing input, empty directory, nothing matching.
    empty_dir = os.path.join(base, "empty_dir")
    os.makedirs(empty_dir)
    for src, text in ((os.path.join(base, "missing.jsonl"), b"No such file"),
                      (empty_dir, b"holds no input files"),
                      (os.path.join(base, "nope-*.jsonl"), b"no file matches")):
        out = os.path.join(base, "out_err")
        rc, _, err = run(engine_run(args, args.np, [("events", src)] + dims, out, []),
                         expect_ok=False)
        if rc == 0 or text not in err or os.path.exists(out):
            raise Failure("input %s: exit %d, stderr %r" % (src, rc, tail(err)))
    # A file that grows during the run: detected, nothing committed.
    grow = os.path.join(base, "grow.jsonl")
    with open(grow, "wb") as fh:
        fh.write(whole)
    out = os.path.join(base, "out_grow")
    env_cmd = ["env", "SF_FAULT=grow:" + grow] + engine_run(args, args.np, [("events", grow)] + dims,
                                                            out, [])
    rc, _, err = run(env_cmd, expect_ok=False)
    if rc == 0 or b"changed during the run" not in err or os.path.exists(
            os.path.join(out, "_SUCCESS")):
        raise Failure("growing input: exit %d, stderr %r" % (rc, tail(err)))
    log("edge inputs, many files, input errors and a growing file behave")


def cmd_huge_line(args):
    """A single 200 MiB line is rejected by --max-line-bytes (16 MiB) without
    holding it in memory."""
    base = os.path.join(args.work, "huge_line")
    reset_dir(base)
    path = os.path.join(base, "events.jsonl")
    with open(path, "wb") as fh:
        fh.write(EVENT % 1 + b"\n")
        fh.write(b'{"pad":"')
        block = b"y" * (1 << 20)
        for _ in range(200):
            fh.write(block)
        fh.write(b'"}\n')
        fh.write(EVENT % 2 + b"\n")
    case = os.path.join(args.cases, "bad_lines")
    dims = [(n, os.path.join(case, n + ".jsonl")) for n in ("users", "items")]
    out = os.path.join(base, "out")
    run(engine_run(args, args.np, [("events", path)] + dims, out, []))
    with open(os.path.join(out, "_MANIFEST.json"), encoding="utf-8") as fh:
        m = json.load(fh)
    c = m["counts"]
    if (c["lines_read"], c["rows_rejected"], c["rows_aggregated"]) != (3, 1, 2) or \
            nonzero(c["rejected_by_reason"]) != {"line too long": 1}:
        raise Failure("200 MiB line: counts %r" % c)
    peak = max(m["peak_rss_bytes"])
    if peak > 128 << 20:
        raise Failure("200 MiB line: peak RSS %d MiB" % (peak >> 20))
    os.remove(path)
    log("200 MiB line rejected, peak RSS %d MiB" % (peak >> 20))


def compressed_dirs(args):
    base = os.path.join(args.work, "compressed")
    return base, os.path.join(base, "data"), os.path.join(base, "setup.json")


def cmd_compressed_setup(args):
    """The fixture of the compressed tests: a KPI dataset with bad lines
    spread through it, CRLF and no final newline, as gzip (one member and
    several members), BGZF, zstd (one frame and several frames) and three
    gzip files of different sizes; made once for every rank count."""
    base, data, stamp = compressed_dirs(args)
    reset_dir(base)
    run(mpi(args, 1, ["gen", "kpi", "--events", "30000", "--users", "200", "--items", "40",
                      "--seed", "11", "-o", data]))
    events = os.path.join(data, "events.jsonl")
    with open(events, "rb") as fh:
        text = fh.read()
    # Bad lines spread through the file, CRLF and a missing final newline.
    lines = text.split(b"\n")[:-1]
    first_bad = 2500  # well past the first chunk: failfast counts what precedes
    for i in range(first_bad, len(lines), 997):
        lines[i] = lines[i][:20]
    lines[5] += b"\r"
    text = b"\n".join(lines)
    first_bad_offset = len(b"\n".join(lines[:first_bad])) + 1
    with open(events, "wb") as fh:
        fh.write(text)
    variants = {"gzip": os.path.join(base, "ev.gzip")}
    with gzip.open(variants["gzip"], "wb") as fh:
        fh.write(text)
    variants["gzip_members"] = os.path.join(base, "ev.members")
    with open(variants["gzip_members"], "wb") as fh:
        step = len(text) // 9 + 101
        for i in range(0, len(text), step):
            fh.write(gzip.compress(text[i:i + step]))
    tools = {"bgzf": "bgzip -c '%s' > '%s'", "zstd": "zstd -q -c '%s' > '%s'",
             "zstd_frames": "pzstd -q -p 2 -c '%s' > '%s' 2>/dev/null"}
    for name, cmd in tools.items():
        if shutil.which(cmd.split()[0]):
            variants[name] = os.path.join(base, "ev." + name)
            subprocess.run(cmd % (events, variants[name]), shell=True, check=True)
        else:
            log("%s not installed: %s skipped" % (cmd.split()[0], name))
    # Many compressed files of different sizes (each one chunk, dealt out
    # largest first).
    many = os.path.join(base, "many")
    os.makedirs(many)
    cut = [0, len(lines) // 10, len(lines) // 3, len(lines)]
    for k in range(3):
        part = b"\n".join(lines[cut[k]:cut[k + 1]]) + b"\n"
        with open(os.path.join(many, "part-%d.jsonl.gz" % k), "wb") as fh:
            fh.write(gzip.compress(part))
    with open(stamp, "w", encoding="utf-8") as fh:
        json.dump({"variants": variants, "many": many, "bytes": len(text),
                   "first_bad": first_bad, "first_bad_offset": first_bad_offset}, fh)
    log("%d compressed variants of %d bytes in %s" % (len(variants), len(text), base))


def cmd_compressed(args):
    """gzip (one member, several members, BGZF) and zstd (one frame, several
    frames) inputs, told by their magic bytes, give byte-identical outputs
    and the same bad records (lines and uncompressed offsets) as the plain
    file on args.np ranks; on one rank also the same failfast place."""
    root, data, stamp = compressed_dirs(args)
    if not os.path.isfile(stamp):
        raise Failure("the fixture (mpi.compressed.setup) has not completed: %s missing" % stamp)
    with open(stamp, encoding="utf-8") as fh:
        made = json.load(fh)
    variants = made["variants"]
    first_bad, first_bad_offset = made["first_bad"], made["first_bad_offset"]
    base = os.path.join(root, "n%d" % args.np)
    reset_dir(base)
    events = os.path.join(data, "events.jsonl")
    dims = [(n, os.path.join(data, n + ".jsonl")) for n in ("users", "items")]
    opts = ["--chunk-size", "16K", "--max-bad", "100%"]
    plain = os.path.join(base, "plain")
    run(engine_run(args, args.np, [("events", events)] + dims, plain, opts))
    want_files = data_files(plain)
    want_bad = bad_records(plain)
    if not want_bad:
        raise Failure("the plain run kept no bad records")
    for name, path in sorted(variants.items()):
        out = os.path.join(base, "out_" + name)
        run(engine_run(args, args.np, [("events", path)] + dims, out, opts))
        if data_files(out) != want_files:
            raise Failure("%s: files %s, plain %s" % (name, data_files(out), want_files))
        for rel in want_files:
            with open(os.path.join(out, rel), "rb") as a, open(os.path.join(plain, rel), "rb") as b:
                if a.read() != b.read():
                    raise Failure("%s: %s differs from the plain run's" % (name, rel))
        if bad_records(out) != want_bad:
            raise Failure("%s: bad records differ from the plain run's" % name)
        with open(os.path.join(out, "_MANIFEST.json"), encoding="utf-8") as fh:
            files = [i for i in json.load(fh)["inputs"] if i["role"] == "fact"][0]["files"]
        codec = "zstd" if name.startswith("zstd") else "gzip"
        if files[0]["codec"] != codec or files[0]["uncompressed_bytes"] != made["bytes"] \
                or files[0]["bytes"] != os.path.getsize(path):
            raise Failure("%s: manifest file entry %r" % (name, files[0]))
        # Failfast on one rank: with several, whichever rank meets a bad line
        # first stops the run, not necessarily the one with the first; so
        # only the one-rank test checks it (the same command for every np).
        if args.np != 1:
            continue
        ff = os.path.join(base, "ff_" + name)
        rc, _, err = run(engine_run(args, 1, [("events", path)] + dims, ff,
                                    opts + ["--mode", "failfast"]), expect_ok=False)
        place = ("%s:%d:21: invalid JSON" % (path, first_bad + 1)).encode()
        if rc != 2 or place not in err \
                or ("(byte offset %d;" % first_bad_offset).encode() not in err:
            raise Failure("%s failfast: exit %d, stderr %r" % (name, rc, tail(err)))
    # Many compressed files of different sizes: the same output as the one
    # plain file.
    out = os.path.join(base, "out_many")
    run(engine_run(args, args.np, [("events", made["many"])] + dims, out, opts))
    for rel in want_files:
        with open(os.path.join(out, rel), "rb") as a, open(os.path.join(plain, rel), "rb") as b:
            if a.read() != b.read():
                raise Failure("many gzip files: %s differs from the plain run's" % rel)
    log("%d compressed variants match the plain file: %s" % (len(variants),
                                                          ", ".join(sorted(variants))))


def start_run(args, np, inputs, out, extra):
    """Starts a run in its own process group; returns the Popen."""
    return sftest.start(engine_run(args, np, inputs, out, extra))


def wait_for_ranks(out, n, timeout=30):
    t0 = time.time()
    while time.time() - t0 < timeout:
        pids = rank_pids(out)
        staging = os.path.join(out, "_temporary")
        if len(pids) >= n and (os.path.isdir(staging) or os.path.isdir(out + ".shardflow")
                               or any(p.startswith(os.path.basename(out) + ".shardflow-")
                                      and not p.endswith("-claim")  # a killed run's claim
                                      for p in os.listdir(os.path.dirname(out)))):
            return pids
        time.sleep(0.05)
    raise Failure("the run writing %s did not start in %d s" % (out, timeout))


def cmd_faults(args):
    """SIGKILL of a rank mid-scan ends the job with no _SUCCESS and the
    previous output untouched, and the next run removes the stale staging
    with a message; SIGINT to rank 0 stops every rank and cleans up; a full
    disk fails cleanly naming the file (when a tmpfs can be mounted)."""
    base = os.path.join(args.work, "faults")
    reset_dir(base)
    data = os.path.join(base, "data")
    run(mpi(args, 2, ["gen", "kpi", "--events", "3000000", "--seed", "5", "-o", data]))
    inputs = [(n, os.path.join(data, n + ".jsonl")) for n in ("events", "users", "items")]
    slow = ["--decoder", "jansson", "--chunk-size", "8M"]
    out = os.path.join(base, "out")
    run(engine_run(args, 1, [(n, os.path.join(args.cases, "bad_lines", n + ".jsonl"))
                             for n in ("events", "users", "items")], out, []))
    before = snapshot(out)

    # SIGKILL one rank while it scans.
    p = start_run(args, 2, inputs, out, slow + ["--overwrite"])
    pids = wait_for_ranks(out, 2)
    time.sleep(0.5)
    os.kill(pids[-1], signal.SIGKILL)
    try:
        p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        raise Failure("the job did not end after a rank was killed")
    if p.returncode == 0:
        raise Failure("the job succeeded although a rank was killed")
    if snapshot(out) != before:
        raise Failure("a killed run changed the previous output %s" % out)
    log("SIGKILL of one rank: the job ended, previous output intact")

    # SIGKILL of every rank (a lost node): nothing can clean up; the next
    # run finds the staging, says so and removes it.
    p = start_run(args, 2, inputs, out, slow + ["--overwrite"])
    pids = wait_for_ranks(out, 2)
    time.sleep(0.5)
    kill_ranks(p, pids)
    if snapshot(out) != before:
        raise Failure("a killed run changed the previous output %s" % out)
    if not any(n.startswith("out.shardflow-") for n in os.listdir(base)):
        raise Failure("killing every rank left no staging to clean up: %r" % os.listdir(base))
    rc, _, err = run(engine_run(args, 2, inputs, out, ["--overwrite", "--quiet"]))
    if b"left by a run that did not finish" not in err:
        raise Failure("the next run did not report the stale staging: %r" % tail(err))
    if any(n.startswith("out.shardflow-") for n in os.listdir(base)):
        raise Failure("stale staging still there: %r" % os.listdir(base))
    log("SIGKILL of every rank: the next run reported and removed the stale staging")

    # SIGINT to rank 0 only.
    before = snapshot(out)
    p = start_run(args, 2, inputs, out, slow + ["--overwrite"])
    pids = wait_for_ranks(out, 2)
    time.sleep(0.5)
    t0 = time.time()
    os.kill(pids[0], signal.SIGINT)
    try:
        _, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        raise Failure("the job did not stop after SIGINT to rank 0")
    took = time.time() - t0
    if p.returncode == 0 or b"interrupted by SIGINT" not in err:
        raise Failure("SIGINT: exit %d, stderr %r" % (p.returncode, tail(err)))
    if snapshot(out) != before or any(n.startswith("out.shardflow-") for n in os.listdir(base)):
        raise Failure("SIGINT left staging behind or changed the previous output")
    log("SIGINT to rank 0: every rank stopped in %.1f s, staging removed" % took)

    # Disk full on a small tmpfs.
    small = os.path.join(base, "small")
    why = mount_tmpfs(small, "256k")
    if why:
        log("disk full: not checked (cannot mount a tmpfs here: %s)" % why)
        return
    try:
        prev = os.path.join(small, "prev")
        os.makedirs(prev)
        with open(os.path.join(prev, "_SUCCESS"), "w"):
            pass
        with open(os.path.join(small, "filler"), "wb") as fh:
            fh.write(b"\0" * 200000)  # leaves less room than the ~100 KB output
        for fmt in ("csv", "hdf5"):
            rc, _, err = run(engine_run(args, 2, inputs[:1] + inputs[1:], prev,
                                        ["--overwrite", "--format", fmt]), expect_ok=False)
            if rc != 1 or b"No space left on device" not in err or b"Segmentation" in err:
                raise Failure("disk full (%s): exit %d, stderr %r" % (fmt, rc, tail(err)))
            if sorted(os.listdir(small)) != ["filler", "prev"] or os.listdir(prev) != ["_SUCCESS"]:
                raise Failure("disk full (%s) left %r" % (fmt, os.listdir(small)))
        log("disk full: clean failure naming the file, previous output intact (csv, hdf5)")
    finally:
        subprocess.run(["umount", small])


def cmd_existing_output(args):
    base = os.path.join(args.work, "existing_output")
    reset_dir(base)
    inputs, ref, counts = bad_lines_reference(args, base)
    out = os.path.join(base, "out")
    opts = ["--chunk-size", "64K", "--schedule", "static", "--shuffle-round", "16K"]
    # An earlier shardflow result, plus a stale partition that only a real
    # overwrite removes.
    run(engine_run(args, 2, inputs, out, opts))
    compare_run(out, ref, counts)
    stale = os.path.join(out, "date=2000-01-01")
    os.makedirs(stale)
    with open(os.path.join(stale, "part-00000.csv"), "w") as fh:
        fh.write("country\nZZ\n")
    before = snapshot(out)
    rc, _, err = run(engine_run(args, 2, inputs, out, opts), expect_ok=False)
    if rc == 0:
        raise Failure("run into an existing output directory without --overwrite succeeded")
    said = err.decode("utf-8", "replace").strip().splitlines()
    log("refused as expected (exit %d): %s" % (rc, said[0] if said else "(no message)"))
    after = snapshot(out)
    if before != after:
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        raise Failure("the refused run changed the existing output: %s" % ", ".join(changed))
    run(engine_run(args, 2, inputs, out, opts + ["--overwrite"]))
    if os.path.exists(stale):
        raise Failure("--overwrite left the old output's %s in place" % stale)
    compare_run(out, ref, counts)


def main(argv):
    ap = sftest.parser("shardflow MPI integration tests")
    ap.add_argument("--job", required=True)
    ap.add_argument("--oracle", required=True)
    ap.add_argument("--cases", required=True)
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("setup")
    p = sub.add_parser("daily_kpi")
    p.add_argument("--np", type=int, required=True)
    p.add_argument("--schedule", choices=("static", "dynamic"), required=True)
    p.add_argument("--decoder", choices=("fast", "jansson"), default="fast")
    p = sub.add_parser("bad_lines")
    p.add_argument("--np", type=int, required=True)
    p.add_argument("--decoder", choices=("fast", "jansson"), default="fast")
    p.add_argument("--simd", choices=("scalar", "sse2", "avx2", "avx512"))
    p = sub.add_parser("strategies")
    p.add_argument("--np", type=int, required=True)
    p = sub.add_parser("experiment")
    p.add_argument("--np", type=int, required=True)
    p = sub.add_parser("skew")
    p.add_argument("--np", type=int, required=True)
    p = sub.add_parser("hdf5")
    p.add_argument("--np", type=int, required=True)
    p = sub.add_parser("parquet")
    p.add_argument("--np", type=int, required=True)
    p = sub.add_parser("modes")
    p.add_argument("--np", type=int, required=True)
    p = sub.add_parser("edge")
    p.add_argument("--np", type=int, required=True)
    p = sub.add_parser("huge_line")
    p.add_argument("--np", type=int, required=True)
    p = sub.add_parser("csv_compressed")
    p.add_argument("--np", type=int, required=True)
    sub.add_parser("compressed_setup")
    p = sub.add_parser("compressed")
    p.add_argument("--np", type=int, required=True)
    sub.add_parser("faults")
    sub.add_parser("existing_output")
    args = ap.parse_args(argv)
    handlers = {"setup": cmd_setup, "daily_kpi": cmd_daily_kpi, "bad_lines": cmd_bad_lines,
                "existing_output": cmd_existing_output, "strategies": cmd_strategies, "experiment": cmd_experiment, "skew": cmd_skew, "hdf5": cmd_hdf5, "parquet": cmd_parquet, "modes": cmd_modes, "edge": cmd_edge,
                "huge_line": cmd_huge_line, "faults": cmd_faults, "compressed": cmd_compressed,
                "compressed_setup": cmd_compressed_setup,
                "csv_compressed": cmd_csv_compressed}
    return sftest.main(handlers[args.command], args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""The combiner's step-aside (issue 12): when groups come close to rows a
rank stops pre-aggregating and ships each row of another rank's group to
that rank as a one-row record. The answer must not change.

Two jobs on a small generated dataset: S3 (per-user daily: count,
count_if, a double sum, count_distinct of strings; groups close to rows)
and S4 (a six-column key with min, max, mean of doubles and ints). Each
runs on 1 rank, and on 3 ranks with SHARDFLOW_COMBINER=combine and
=aside (the test switch, docs/testing.md); every output file must be
byte-identical across these runs, and _METRICS.json must record each rank's decision:
"step-aside (forced)" with rows shipped = rows received > 0 on 3 ranks,
"combine (forced)" with nothing shipped, and "combine (no step-aside
here)" on one rank. The default (auto) on this small input combines
("fewer rows than the sample") and gives the same bytes; --verbose prints
the decisions; a bad SHARDFLOW_COMBINER is refused.

Then the look ahead: S4 on 300k events over few items, on 2 ranks. More
than half of each rank's first 65,536 rows make a new group (the old rule
stepped aside), but the 150k rows of a rank hold about 55k groups, so the
sample, looking ahead over the rank's input, keeps combining ("combine
(sample)"), and the output is the bytes of a forced step-aside. The ranks
take static shares (--schedule static): under dynamic chunks on a loaded
machine one rank could read fewer rows than the sample and decide
"fewer rows than the sample" instead.

usage: combiner_test.py SHARDFLOW MPIEXEC JOBS_DIR WORKDIR
"""
import json
import os
import shutil
import subprocess
import sys

ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")


class Failure(Exception):
    pass


def run(cmd, env=None, ok=True):
    p = subprocess.run(cmd, capture_output=True, text=True, env=env or ENV, timeout=120)
    if ok and p.returncode != 0:
        raise Failure("exit %d: %s\n%s" % (p.returncode, " ".join(cmd), p.stderr[-2000:]))
    return p


def tree(out):
    """Every output file's bytes, by relative path (the manifest and the
    metrics hold timings and the run id, so they are left out)."""
    files = {}
    for root, _, names in os.walk(out):
        for n in names:
            if n in ("_MANIFEST.json", "_METRICS.json", "_SUCCESS"):
                continue
            path = os.path.join(root, n)
            with open(path, "rb") as f:
                files[os.path.relpath(path, out)] = f.read()
    return files


def gen_inputs(exe, mpiexec, data, events, users, items):
    """Generates string-id KPI data into data; returns its --input options
    (events, users, items)."""
    run([mpiexec, "-n", "2", exe, "gen", "kpi", "--events", str(events), "--users", str(users),
         "--items", str(items), "--ids", "string", "--seed", "7", "-o", data])
    ins = []
    for name in ("events", "users", "items"):
        ins += ["--input", "%s=%s" % (name, os.path.join(data, name + ".jsonl"))]
    return ins


def look_ahead(exe, mpiexec, jobs, base):
    ins = gen_inputs(exe, mpiexec, os.path.join(base, "ahead"), 300000, 1000, 12)
    job = os.path.join(jobs, "s4_wide_key.json")
    got = {}
    for mode in ("auto", "aside"):
        out = os.path.join(base, "ahead_" + mode)
        p = run([mpiexec, "-n", "2", exe, "run", job] + ins +
                ["--output", out, "--chunk-size", "1M", "--schedule", "static", "--no-progress",
                 "--verbose"],
                env=dict(ENV, SHARDFLOW_COMBINER=mode))
        got[mode] = tree(out)
        comb = json.load(open(os.path.join(out, "_METRICS.json")))["combiner"]
        if mode == "auto":
            rows, groups = comb["sample_rows"], comb["sample_new_groups"]
            if comb["decision"] != ["combine (sample)"] * 2 or \
                    any(2 * g <= r for r, g in zip(rows, groups)):
                raise Failure("look ahead: decisions %s, samples %s rows, %s new groups" %
                              (comb["decision"], rows, groups))
            if "looked ahead" not in p.stderr or sum(comb["rows_shipped"]) != 0:
                raise Failure("look ahead: no estimate or rows shipped:\n%s" % p.stderr)
    if got["auto"] != got["aside"]:
        raise Failure("look ahead: the combined output differs from the stepped-aside one")
    print("look ahead: samples %s rows, %s new groups; combine (sample) on both ranks, "
          "%d files as a forced step-aside" % (rows, groups, len(got["auto"])))


def main():
    exe, mpiexec, jobs, work = sys.argv[1:5]
    base = os.path.join(work, "combiner")
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(base)
    inputs = gen_inputs(exe, mpiexec, os.path.join(base, "data"), 6000, 1500, 60)

    for shape in ("s3_user_daily", "s4_wide_key"):
        job = os.path.join(jobs, shape + ".json")
        spec = json.load(open(job))
        ins = [a for i in range(0, len(inputs), 2) for a in inputs[i:i + 2]
               if inputs[i + 1].split("=")[0] in spec["inputs"]]
        want = None
        for np in (1, 3):
            for mode in ("combine", "aside", "auto"):
                if mode != "combine" and np == 1:
                    continue  # one rank never steps aside
                out = os.path.join(base, "%s_%s_n%d" % (shape, mode, np))
                env = dict(ENV, SHARDFLOW_COMBINER=mode)
                p = run([mpiexec, "--oversubscribe", "-n", str(np), exe, "run", job] + ins +
                        ["--output", out, "--chunk-size", "64K", "--no-progress", "--verbose"],
                        env=env)
                got = tree(out)
                if not got:
                    raise Failure("%s: no output files" % out)
                if want is None:
                    want = got
                elif got != want:
                    diff = sorted(k for k in set(got) | set(want) if got.get(k) != want.get(k))
                    raise Failure("%s %s on %d ranks: output differs in %s" %
                                  (shape, mode, np, diff[:5]))
                comb = json.load(open(os.path.join(out, "_METRICS.json")))["combiner"]
                dec = comb["decision"]
                if np == 1:
                    expect = ["combine (no step-aside here)"]
                elif mode == "aside":
                    expect = ["step-aside (forced)"] * np
                elif mode == "combine":
                    expect = ["combine (forced)"] * np
                else:
                    expect = ["combine (fewer rows than the sample)"] * np
                if dec != expect:
                    raise Failure("%s %s n%d: decisions %s, want %s" % (shape, mode, np, dec,
                                                                          expect))
                shipped, received = sum(comb["rows_shipped"]), sum(comb["rows_received"])
                if shipped != received or (mode == "aside" and np > 1) != (shipped > 0):
                    raise Failure("%s %s n%d: rows shipped %d, received %d" %
                                  (shape, mode, np, shipped, received))
                for r in range(np):
                    line = "combiner, rank %d: %s" % (r, expect[r])
                    if line not in p.stderr:
                        raise Failure("--verbose does not say %r:\n%s" % (line, p.stderr))
                print("%s, %s, %d rank%s: %d files as the first run; %s; rows shipped %d" %
                      (shape, mode, np, "s" if np > 1 else "", len(got), dec[0], shipped))

    look_ahead(exe, mpiexec, jobs, base)

    p = run([mpiexec, "-n", "2", exe, "run", os.path.join(jobs, "s3_user_daily.json")] +
            inputs[:4] + ["--output", os.path.join(base, "bad"), "--no-progress"],
            env=dict(ENV, SHARDFLOW_COMBINER="sometimes"), ok=False)
    if p.returncode == 0 or "SHARDFLOW_COMBINER takes auto, aside or combine" not in p.stderr:
        raise Failure("a bad SHARDFLOW_COMBINER was not refused: exit %d\n%s" %
                      (p.returncode, p.stderr))
    print("SHARDFLOW_COMBINER=sometimes refused: exit %d" % p.returncode)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        print("FAIL: %s" % e)
        sys.exit(1)

#!/usr/bin/env python3
"""MPI test of count_distinct spread over ranks (issue 14), run by ctest.

One group holds about 560k distinct int64 values and 150k distinct
strings (every other group a few hundred): on 3 ranks its (group, value)
pairs are spread by their hash, so _METRICS.json's per-rank pair counts
each hold about a third of them, and the output is byte-identical to the
one-rank run and to the counts this script computes itself (Python
sets). Under a --memory-limit just above the least one that runs, the
combiner spills, the spread group's pairs are counted in the spill passes
and their tables spill by hash too: the output is still the same bytes.
"""
import argparse
import json
import os
import re
import shutil
import sys

import sftest
from sftest import Failure, log, run

sftest.TIMEOUT = 120

LINES = 600000
SMALL = 61  # small groups: every 16th line


def generate(work):
    """The input and the expected CSV, written once."""
    path = os.path.join(work, "events.jsonl")
    want = os.path.join(work, "want.csv")
    if os.path.exists(want):
        return path, want
    groups = {}
    with open(path + ".tmp", "w") as f:
        chunk = []
        for i in range(LINES):
            g = "g%02d" % (i % SMALL) if i % 16 == 0 else "big"
            v = (i * 2654435761) % 4294967311  # distinct for distinct i
            s = "u%06d" % (i % 150001) if g == "big" else "s%d" % (i % 500)
            if i % 99991 == 7:
                chunk.append('{"g":"%s","v":null,"s":null}\n' % g)
                v = s = None
            else:
                chunk.append('{"g":"%s","v":%d,"s":"%s"}\n' % (g, v, s))
            st = groups.setdefault(g, [0, set(), set()])
            st[0] += 1
            if v is not None:
                st[1].add(v)
                st[2].add(s)
            if len(chunk) >= 100000:
                f.write("".join(chunk))
                chunk = []
        f.write("".join(chunk))
    os.rename(path + ".tmp", path)
    with open(want, "w") as f:
        f.write("g,n,vals,strs\n")
        for g in sorted(groups):
            n, vals, strs = groups[g]
            f.write("%s,%d,%d,%d\n" % (g, n, len(vals), len(strs)))
    return path, want


JOB = {
    "name": "distinct_spread",
    "inputs": {"events": {"role": "fact", "format": "jsonl", "path": "events.jsonl",
                          "columns": {"g": "string", "v": "int64", "s": "string"}}},
    "group_by": ["g"],
    "aggregates": {"n": "count()", "vals": "count_distinct(v)", "strs": "count_distinct(s)"},
    "output": {"path": "out", "format": "csv", "columns": ["g", "n", "vals", "strs"],
               "sort_by": ["g"]},
}


def shardflow(args, np, job, data, out, extra=()):
    return run([args.mpiexec, args.np_flag, str(np), args.shardflow, "run", job,
                "--input", "events=" + data, "--output", out, "--no-progress"] + list(extra))


def output_csv(out):
    with open(os.path.join(out, "part-00000.csv"), "rb") as f:
        return f.read()


def metrics(out):
    with open(os.path.join(out, "_METRICS.json")) as f:
        return json.load(f)


def check_spread(m, what, ranks):
    d = m["distinct"]
    if d["spread_groups"] != 1:
        raise Failure("%s: %r spread groups, want 1" % (what, d["spread_groups"]))
    pairs = d["pairs"]
    total = sum(pairs)
    if len(pairs) != ranks or min(pairs) == 0 or max(pairs) > 0.45 * total:
        raise Failure("%s: pairs per rank %r are not spread over %d ranks" % (what, pairs, ranks))
    log("%s: distinct pairs per rank %r" % (what, pairs))
    return d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shardflow", required=True)
    ap.add_argument("--mpiexec", required=True)
    ap.add_argument("--np-flag", default="-n")
    ap.add_argument("--work", required=True)
    args = ap.parse_args()
    work = os.path.join(args.work, "distinct")
    os.makedirs(work, exist_ok=True)
    data, want_path = generate(work)
    job = os.path.join(work, "job.json")
    with open(job, "w") as f:
        json.dump(JOB, f)
    with open(want_path, "rb") as f:
        want = f.read()
    try:
        outs = {}
        for np in (1, 3):
            out = os.path.join(work, "out%d" % np)
            shutil.rmtree(out, ignore_errors=True)
            shardflow(args, np, job, data, out)
            outs[np] = out
            if output_csv(out) != want:
                raise Failure("np %d: output differs from the reference counts" % np)
        if metrics(outs[1])["distinct"]["spread_groups"] != 0:
            raise Failure("np 1 spread groups over one rank")
        check_spread(metrics(outs[3]), "np 3", 3)

        # The least limit that runs, plus a little: the combiner spills and
        # the spread group's pair tables spill by hash.
        out = os.path.join(work, "out_limit")
        shutil.rmtree(out, ignore_errors=True)
        rc, _, err = run([args.mpiexec, args.np_flag, "3", args.shardflow, "run", job, "--input",
                          "events=" + data, "--output", out, "--memory-limit", "1M"],
                         expect_ok=False)
        m = re.search(rb"needs at least (\d+)M per rank", err)
        if rc != 2 or not m:
            raise Failure("1M limit: exit %d, %s" % (rc, err[-500:]))
        limit = "%dM" % (int(m.group(1)) + 2)
        spill = os.path.join(work, "spill")
        shutil.rmtree(spill, ignore_errors=True)
        os.makedirs(spill)
        shardflow(args, 3, job, data, out, ["--memory-limit", limit, "--spill-dir", spill])
        if output_csv(out) != want:
            raise Failure("--memory-limit %s: output differs" % limit)
        mm = metrics(out)
        d = check_spread(mm, "np 3 --memory-limit " + limit, 3)
        if mm["memory"]["spill_bytes"] == 0 or sum(d["spill_bytes"]) == 0:
            raise Failure("--memory-limit %s: nothing spilled (memory %r, distinct %r)"
                          % (limit, mm["memory"], d))
        if os.listdir(spill):
            raise Failure("spill files left in %s: %r" % (spill, os.listdir(spill)))
    except Failure as e:
        log("FAIL: %s" % e)
        return 1
    log("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Rows that wait for a join on a large dimension table (core/pipeline.c's
ring): when a join's table is larger than the caches (here 40,000 users,
over a MiB of index), decoded rows wait in groups of 16 while their lookups
are prefetched. The answer must not change, and rows that the combiner
ships while they wait (the step-aside) must leave before the row stream
closes at the end of the scan.

S3 (per-user daily, joined to users) and S1 (daily KPI, joined to items
and users) on a small generated dataset with 40,000 users: one rank, three
ranks combining, three ranks stepping aside (SHARDFLOW_COMBINER=aside, the
test switch), with 64 KiB chunks so the ring is flushed at many chunk ends.
Every output file must be byte-identical across the runs, and every line
counted (the manifest's counts equal across the runs, the rows shipped on
three ranks stepping aside > 0). Then S3 on 100,000 events, 4 ranks
stepping aside with small stream batches, three times (nested_deliveries).

usage: join_ring_test.py SHARDFLOW MPIEXEC JOBS_DIR WORKDIR
"""
import json
import os
import sys

import sftest
from sftest import Failure, read_tree as tree

ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")


def run(cmd, env=None):
    return sftest.run(cmd, env=env or ENV, text=True)


def main():
    exe, mpiexec, jobs, work = sys.argv[1:5]
    base = os.path.join(work, "join_ring")
    sftest.reset_dir(base)
    data = os.path.join(base, "data")
    run([mpiexec, "-n", "2", exe, "gen", "kpi", "--events", "5000", "--users", "40000",
         "--items", "60", "--ids", "string", "--seed", "11", "-o", data])
    for shape in ("s3_user_daily", "s1_kpi_string_ids"):
        job = os.path.join(jobs, shape + ".json")
        spec = json.load(open(job))
        ins = []
        for name in spec["inputs"]:
            ins += ["--input", "%s=%s" % (name, os.path.join(data, name + ".jsonl"))]
        want = want_counts = None
        for np, mode in ((1, "combine"), (3, "combine"), (3, "aside")):
            out = os.path.join(base, "%s_%s_n%d" % (shape, mode, np))
            run([mpiexec, "--oversubscribe", "-n", str(np), exe, "run", job] + ins +
                ["--output", out, "--chunk-size", "64K", "--no-progress"],
                env=dict(ENV, SHARDFLOW_COMBINER=mode))
            got = tree(out)
            man = json.load(open(os.path.join(out, "_MANIFEST.json")))
            counts = man["counts"]
            if not got:
                raise Failure("%s np %d %s wrote nothing" % (shape, np, mode))
            if counts["lines_read"] != 5000:
                raise Failure("%s np %d %s read %d lines" % (shape, np, mode, counts["lines_read"]))
            if want is None:
                want, want_counts = got, counts
            elif got != want:
                raise Failure("%s np %d %s: output differs from np 1" % (shape, np, mode))
            elif counts != want_counts:
                raise Failure("%s np %d %s: counts %s, np 1 %s" % (shape, np, mode, counts,
                                                                   want_counts))
            if mode == "aside":
                met = json.load(open(os.path.join(out, "_METRICS.json")))
                if sum(met["combiner"]["rows_shipped"]) == 0:
                    raise Failure("%s np 3 aside: no row was shipped" % shape)
        print("%s: %d files identical on np 1, np 3 combining and np 3 stepping aside"
              % (shape, len(want)))
    nested_deliveries(exe, mpiexec, jobs, base)
    return 0


def nested_deliveries(exe, mpiexec, jobs, base):
    """A row record whose update settles the ring ships the ring's rows; a
    send that waits for a free slot polls, and a message received then must
    not land in the buffer the outer delivery is still reading (it did: a
    record applied twice or lost, one run in six at np 4 below). Small
    stream batches (--shuffle-round 4K) and 100,000 events on 4 ranks
    stepping aside make such nested deliveries likely; the timing decides,
    so three runs."""
    data = os.path.join(base, "nested")
    run([mpiexec, "-n", "2", exe, "gen", "kpi", "--events", "100000", "--users", "40000",
         "--items", "60", "--ids", "string", "--seed", "12", "-o", data])
    job = os.path.join(jobs, "s3_user_daily.json")
    ins = ["--input", "events=" + os.path.join(data, "events.jsonl"),
           "--input", "users=" + os.path.join(data, "users.jsonl")]
    want = None
    for k, np in enumerate((1, 4, 4, 4)):
        out = os.path.join(base, "nested_%d" % k)
        run([mpiexec, "--oversubscribe", "-n", str(np), exe, "run", job] + ins +
            ["--output", out, "--shuffle-round", "4K", "--no-progress"],
            env=dict(ENV, SHARDFLOW_COMBINER="aside"))
        got = tree(out)
        if want is None:
            want = got
        elif got != want:
            raise Failure("s3 np 4 aside, 4K stream batches, run %d: output differs from np 1" % k)
    print("s3, 100000 events: np 4 stepping aside with 4K stream batches as np 1, three runs")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Failure as e:
        print("FAIL:", e, file=sys.stderr)
        sys.exit(1)

#!/usr/bin/env python3
"""MPI golden test of the expression functions and the timestamp type
(tests/cases/expr_funcs/job.json): a small generated JSONL input with every
timestamp form, tie-prone prices, UTF-8 names and malformed codes, run on
1, 2 and 4 ranks with small chunks; every output file must be byte-identical
to tests/reference/expr_funcs.py (Python 3 standard library only). Then the
same job writes Parquet and HDF5 on 2 ranks, and `shardflow cat` of each
must print the bytes `cat` prints for the CSV output (timestamps read back
from Parquet's TIMESTAMP(MICROS) and HDF5's int64 microseconds). When
DuckDB for node is installed (scripts/duckdb-setup, which the "duckdb"
tests run; this test never installs it, so it never waits on npm), DuckDB
must read the Parquet timestamps as TIMESTAMP WITH TIME ZONE with the
reference's instants (expr_duckdb.mjs); otherwise that part is skipped,
with a note.

Usage: expr_test.py --shardflow BIN --mpiexec MPIEXEC --np-flag=-n
                    --job JOB --oracle REF --work DIR
"""
import json
import os
import random
import shutil
import sys

import sftest
from sftest import Failure, compare_trees, data_files

sftest.TIMEOUT = 120


def run(cmd):
    """Runs cmd (a non-zero exit or a hang raises Failure); returns its
    stdout."""
    return sftest.run(cmd)[1]


def gen_events(path, n=600, seed=17):
    """Lines with every timestamp form the docs name (and a few a column
    must reject), so groups span hours, days and the NULL partition."""
    rnd = random.Random(seed)
    base = 1772150400  # 2026-02-27T00:00:00Z
    names = ["Stra\u00dfe", "caf\u00e9 au lait", "na\u00efve skip", "\u65e5\u672c\u8a9e\u30c6\u30ad\u30b9\u30c8",
             "plain", "", "x", "Ab \"quoted\", text", None]
    skus = ["AB-12-x", "ab-7-y", "ZZ-abc-q", "XY- 42 -z", "Q", "AB-99999999999999999999-x",
            "CD-0042-w", "cd-12-X"]
    prices = [2.675, 0.125, 1.005, 0.285, 19.99, 3, 0.1, 1e-7, 123456.785, None]
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            t = base + rnd.randrange(0, 5 * 86400)
            form = rnd.randrange(10)
            if form == 0:
                ts = t
            elif form == 1:
                ts = "%sZ" % iso(t)
            elif form == 2:
                ts = iso(t).replace("T", " ")
            elif form == 3:
                ts = "%s.%s+02:00" % (iso(t + 7200), str(rnd.randrange(10**6)).rjust(6, "0")[:rnd.randrange(1, 7)])
            elif form == 4:
                ts = "%s-0530" % iso(t - 19800)
            elif form == 5:
                ts = None
            elif form == 6 and i % 7 == 0:
                ts = rnd.choice(["2026-02-30T00:00:00Z", "2026-03-01T12:34:60Z", 1.5,
                                 "2026-03-01T12:00:00.1234567Z", "yesterday"])
            else:
                ts = "%s.%03dZ" % (iso(t), rnd.randrange(1000))
            rec = {"id": i, "ts": ts,
                   "ms": None if i % 11 == 0 else (t * 1000 + rnd.randrange(1000)),
                   "day": None if i % 13 == 0 else day_text(t // 86400 - rnd.randrange(0, 70)),
                   "sku": rnd.choice(skus), "name": rnd.choice(names),
                   "price": rnd.choice(prices), "qty": None if i % 17 == 0 else rnd.randrange(1, 6)}
            if i % 19 == 0:
                del rec["ts"]
            fh.write(json.dumps(rec, ensure_ascii=i % 2 == 0) + "\n")


def iso(t):
    import datetime as dt
    return dt.datetime.fromtimestamp(t, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def day_text(days):
    import datetime as dt
    return (dt.date(1970, 1, 1) + dt.timedelta(days=days)).isoformat()


def main(argv):
    ap = sftest.parser()
    ap.add_argument("--job", required=True)
    ap.add_argument("--oracle", required=True)
    a = ap.parse_args(argv)
    work = os.path.join(a.work, "expr_funcs")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    events = os.path.join(work, "events.jsonl")
    gen_events(events)
    ref = os.path.join(work, "ref")
    run([sys.executable, a.oracle, "--events", events, "--out", ref])

    def shardflow_run(np, out, extra):
        run([a.mpiexec, a.np_flag, str(np), a.shardflow, "run", a.job,
             "--input", "events=" + events, "--output", out, "--chunk-size", "4K",
             "--max-bad", "100%"] + extra)

    for np in (1, 2, 4):
        out = os.path.join(work, "out_csv_n%d" % np)
        shardflow_run(np, out, [])
        n = compare_trees(out, ref)
        print("np %d: %d files identical to the reference" % (np, n), flush=True)
    csv_cat = run([a.shardflow, "cat", os.path.join(work, "out_csv_n1")])
    for fmt in ("parquet", "hdf5"):
        out = os.path.join(work, "out_%s_n2" % fmt)
        shardflow_run(2, out, ["--format", fmt])
        got = run([a.shardflow, "cat", out])
        if got != csv_cat:
            raise Failure("cat of the %s output differs from cat of the CSV output" % fmt)
        print("%s: cat prints the CSV output's bytes" % fmt, flush=True)
    duckdb_check(os.path.join(work, "out_parquet_n2"), ref, a.oracle)
    return 0


def duckdb_check(out, ref, oracle):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    node_dir = os.path.join(root, ".deps", "node")
    if not os.path.isfile(os.path.join(node_dir, "node_modules", "@duckdb", "node-api",
                                       "package.json")) or not shutil.which("node"):
        print("DuckDB check skipped: @duckdb/node-api is not installed in .deps/node "
              "(scripts/duckdb-setup)", flush=True)
        return
    shutil.copy(os.path.join(os.path.dirname(os.path.abspath(__file__)), "expr_duckdb.mjs"),
                node_dir)
    got = json.loads(run(["node", os.path.join(node_dir, "expr_duckdb.mjs"), out]))
    for c in ("last_ts", "first_ms"):
        if got["types"].get(c) != "TIMESTAMP WITH TIME ZONE":
            raise Failure("DuckDB reads %s as %s" % (c, got["types"].get(c)))
    # The reference's texts, parsed by the reference's own parser.
    sys.path.insert(0, os.path.dirname(os.path.abspath(oracle)))
    import expr_funcs
    want = {"last_ts": [], "first_ms": []}
    for rel in data_files(ref):
        with open(os.path.join(ref, rel), encoding="utf-8") as fh:
            header = fh.readline().rstrip("\n").split(",")
            for line in fh:
                fields = line.rstrip("\n").split(",")
                for c in want:
                    v = fields[header.index(c)]
                    if v:
                        want[c].append(str(expr_funcs.parse_ts(v)))
    for c in want:
        if sorted(want[c]) != got[c]:
            raise Failure("DuckDB's %s values differ from the reference's" % c)
    print("DuckDB: %d timestamps read as the reference's instants" %
          (len(got["last_ts"]) + len(got["first_ms"])), flush=True)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Failure as e:
        print("FAIL: %s" % e, flush=True)
        sys.exit(1)

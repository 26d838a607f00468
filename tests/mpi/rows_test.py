#!/usr/bin/env python3
"""rows_test.py - the dedupe step, CSV fact inputs and range windows under
mpiexec, against tests/reference/rows.py.

usage: rows_test.py --shardflow BIN --mpiexec MPIEXEC [--np-flag -n]
                    --cases DIR --oracle rows.py --work DIR
                    --case jsonl_dedupe|csv_dedupe --np N

Generates a small input with many duplicate keys spread over many chunks
(--chunk-size 1 KiB, so rows of one key are read by different ranks and
arrive at their owner in any order), bad and blank lines, NULL dates and
gaps between days; runs the case's job (tests/cases/rows/CASE.json) with
both schedules and checks: the output bytes equal the reference's; the
manifest's counts (duplicates_dropped included) equal the reference's;
the _bad_records of all ranks name the reference's (file, line, reason).
Each test writes under WORK/rows-CASE-nN only.
"""

import argparse
import json
import os
import random
import shutil
import sys

import sftest
from sftest import Failure

sftest.TIMEOUT = 120


def run(cmd):
    """Runs cmd (a non-zero exit or a hang raises Failure); returns its
    stderr as text."""
    return sftest.run(cmd, text=True)[2]


def event(rng, eid):
    day = rng.choice([None] + ["2025-08-%02d" % d for d in (1, 2, 3, 5, 9, 10, 11, 17, 30)])
    return {"eid": eid, "country": rng.choice(["FR", "DE", "US", None, ""]), "day": day,
            "price": rng.choice([None, -1.5, 0.1, 0.2, 0.3, 2.5, 10.0, 1e16, -1e16 + 2]),
            "qty": rng.choice([None, 0, 1, 2, 7, -3])}


def gen_jsonl(path, rng):
    with open(path, "w", encoding="utf-8") as f:
        for i in range(900):
            r = rng.random()
            if r < 0.02:
                f.write("{not json\n")
            elif r < 0.03:
                f.write("\n")
            elif r < 0.04:
                f.write(json.dumps({"eid": "x%d" % i, "day": "2025-08-01"}) + "\n")
            elif r < 0.05:
                f.write("[1, 2]\n")
            else:
                e = event(rng, rng.randrange(300))
                f.write(json.dumps({k: v for k, v in e.items() if v is not None or r < 0.5})
                        + "\n")


def csv_text(v, quote):
    if v is None:
        return ""
    s = repr(v) if isinstance(v, float) else str(v)
    if quote or s == "" or any(c in s for c in ',"'):
        return '"' + s.replace('"', '""') + '"'
    return s


def gen_csv(d, rng):
    os.makedirs(d, exist_ok=True)
    orders = [["eid", "country", "day", "price", "qty", "note"],
              ["note", "day", "qty", "price", "country", "eid", "extra"]]
    for k, cols in enumerate(orders):
        with open(os.path.join(d, "part-%d.csv" % k), "w", encoding="utf-8", newline="") as f:
            f.write(("\ufeff" if k else "") + ",".join(cols) + ("\r\n" if k else "\n"))
            for i in range(500):
                e = event(rng, rng.randrange(150))
                e["note"] = rng.choice([None, "", "a,b", 'say "hi"', "plain", "n%d" % (i % 7)])
                e["extra"] = "x"
                r = rng.random()
                cells = [csv_text(e.get(c), rng.random() < 0.1 and e.get(c) is not None)
                         for c in cols]
                if r < 0.02:
                    cells[0] = '"open' + cells[0]  # a quote that runs past the line
                elif r < 0.03:
                    cells = cells[:-1]              # a field short
                elif r < 0.04:
                    cells[cols.index("qty")] = "1.5"
                elif r < 0.05:
                    cells[cols.index("price")] = "1e400"
                elif r < 0.06:
                    cells = []
                f.write(",".join(cells) + ("\r\n" if k else "\n"))


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--shardflow", required=True)
    ap.add_argument("--mpiexec", required=True)
    ap.add_argument("--np-flag", default="-n")
    ap.add_argument("--cases", required=True)
    ap.add_argument("--oracle", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--case", required=True, choices=["jsonl_dedupe", "csv_dedupe"])
    ap.add_argument("--np", type=int, required=True)
    args = ap.parse_args(argv)
    base = os.path.join(args.work, "rows-%s-n%d" % (args.case, args.np))
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(base)
    rng = random.Random(17)
    if args.case == "jsonl_dedupe":
        data = os.path.join(base, "events.jsonl")
        gen_jsonl(data, rng)
    else:
        data = os.path.join(base, "events_csv")
        gen_csv(data, rng)
    ref = os.path.join(base, "ref")
    run([sys.executable, args.oracle, "--case", args.case, "--input", data, "--out", ref,
         "--counts", os.path.join(base, "counts.json"), "--bad", os.path.join(base, "bad.json")])
    with open(os.path.join(base, "counts.json"), encoding="utf-8") as f:
        want_counts = json.load(f)
    with open(os.path.join(base, "bad.json"), encoding="utf-8") as f:
        want_bad = [tuple(b) for b in json.load(f)]
    with open(os.path.join(ref, "part-00000.csv"), "rb") as f:
        want = f.read()
    if want_counts["duplicates_dropped"] == 0 or not want_bad:
        raise Failure("the generated data has no duplicates or no bad lines")
    job = os.path.join(args.cases, "rows", args.case + ".json")
    problems = []
    for schedule in ("static", "dynamic"):
        out = os.path.join(base, "out-" + schedule)
        run([args.mpiexec, args.np_flag, str(args.np), args.shardflow, "run", job,
             "--input", "ev=" + data, "--output", out, "--chunk-size", "1024",
             "--schedule", schedule, "--max-bad", "100%"])
        parts = [n for n in os.listdir(out) if n.startswith("part-")]
        if parts != ["part-00000.csv"]:
            problems.append("%s: output files %s, want part-00000.csv" % (schedule, parts))
            continue
        with open(os.path.join(out, parts[0]), "rb") as f:
            got = f.read()
        if got != want:
            problems.append("%s: output differs from the reference (%d vs %d bytes)" % (
                schedule, len(got), len(want)))
        with open(os.path.join(out, "_MANIFEST.json"), encoding="utf-8") as f:
            counts = json.load(f)["counts"]
        for k, v in want_counts.items():
            if counts.get(k) != v:
                problems.append("%s: counts.%s = %r, reference %r" % (schedule, k, counts.get(k), v))
        bad = []
        bdir = os.path.join(out, "_bad_records")
        for n in sorted(os.listdir(bdir)):
            with open(os.path.join(bdir, n), encoding="utf-8") as f:
                for line in f:
                    rec = json.loads(line)
                    bad.append((os.path.basename(rec["file"]), rec["line"], rec["reason"]))
        if sorted(bad) != want_bad:
            problems.append("%s: _bad_records name %d lines, the reference %d (first "
                            "difference: %r)" % (schedule, len(bad), len(want_bad),
                                                 sorted(set(bad) ^ set(want_bad))[:3]))
    if problems:
        raise Failure("\n".join(problems))
    print("%s on %d rank(s): output and counts equal the reference (%d duplicates dropped, "
          "%d bad lines)" % (args.case, args.np, want_counts["duplicates_dropped"], len(want_bad)))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Failure as e:
        print("FAIL: %s" % e, flush=True)
        sys.exit(1)

#!/usr/bin/env python3
"""decimal_test.py - MPI tests of decimal(P,S) against Python's decimal module.

The reference here is independent of the engine: it reads the same JSON
Lines with json.loads(parse_float=decimal.Decimal), rounds with
ROUND_HALF_EVEN and sums in a 100-digit context, so every figure is exact.

  decimal_test.py COMMON exact --np N [--decoder fast|jansson]
      A job with a decimal(12,2) column read from number text of many
      shapes (more places than 2, exponents, ties, integers, negatives,
      nulls, values beyond 12 digits that must be rejected), a derived
      product, sum, mean (decimal(38,6)), min, max and two rolling
      windows. Output files must equal the reference byte for byte and the
      manifest must count the rejected lines as type mismatches. A second
      job groups by the decimal and partitions by it (Hive directories
      named by its text), and `shardflow cat` reads that back. The first
      job written as Parquet (DECIMAL as INT64 and as 16-byte
      FIXED_LEN_BYTE_ARRAY) and as HDF5 (exact text) must `cat` to the
      bytes of its CSV output.
  decimal_test.py COMMON overflow --np N
      A group whose partial sums pass 2^127 but whose total fits gives the
      exact total; a group whose total passes 38 digits fails the run with
      a message naming the group, and nothing is committed; so does a
      rolling sum past 38 digits, naming its partition and order value.

COMMON: --shardflow BIN --mpiexec MPIEXEC [--np-flag -n] --work DIR
Exit status 0 = pass, 1 = fail.
"""

import decimal
import json
import os
import random
import shutil
import subprocess
import sys

import sftest
from sftest import Failure, data_files, mpi

sftest.TIMEOUT = 120
D = decimal.Decimal
EXACT = decimal.Context(prec=100, rounding=decimal.ROUND_HALF_EVEN, Emax=999999, Emin=-999999)
HEADER = ["day", "n", "total", "avg", "lo", "hi", "gross", "roll", "roll_avg"]


def quantize(v, places):
    q = v.quantize(D(10) ** -places, context=EXACT)
    return abs(q) if q == 0 else q


def text(v, places):
    return "" if v is None else format(quantize(v, places), "f")


# ---- data ---------------------------------------------------------------

def amount_texts(rng):
    """Number texts of every shape JSON allows."""
    shapes = [
        lambda: "%d.%03d" % (rng.randint(0, 999), rng.randint(0, 999)),
        lambda: "-%d.%02d5" % (rng.randint(0, 99), rng.randint(0, 99)),  # ties
        lambda: "%d" % rng.randint(-50, 5000),
        lambda: "%de-%d" % (rng.randint(1, 99999), rng.randint(1, 5)),
        lambda: "%d.%dE+%d" % (rng.randint(1, 9), rng.randint(0, 9), rng.randint(0, 6)),
        lambda: rng.choice(["0.125", "2.675", "-1.005", "0.005", "1e-2", "-0.5", "0", "-0",
                            "9999999999.99", "-9999999999.994", "0.30000000000000004"]),
        lambda: "%d.%d" % (rng.randint(1, 9), rng.randint(0, 10 ** 30)),  # long fractions
    ]
    return rng.choice(shapes)()


def make_events(path, seed):
    rng = random.Random(seed)
    lines = []
    for i in range(600):
        r = rng.random()
        if r < 0.03:
            amount = rng.choice(["12345678901.5", "1e10", "-99999999999", "1e400"])  # too wide
        elif r < 0.07:
            amount = "null"
        elif r < 0.09:
            amount = None  # missing
        else:
            amount = amount_texts(rng)
        fields = ['"k": "g%d"' % rng.randint(0, 4), '"day": %d' % rng.randint(1, 8),
                  '"qty": %d' % rng.randint(1, 6)]
        if amount is not None:
            fields.append('"amount": ' + amount)
        rng.shuffle(fields)
        lines.append("{" + ", ".join(fields) + "}")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


JOB = {
    "name": "decimal_exact",
    "inputs": {"ev": {"role": "fact", "format": "jsonl", "path": "events.jsonl",
                      "columns": {"k": "string", "day": "int64", "qty": "int64",
                                  "amount": "decimal(12,2)"}}},
    "steps": [{"derive": "line_total", "expr": "amount * qty"},
              {"filter": "qty < 6"}],
    "group_by": ["k", "day"],
    "aggregates": {"n": "count()", "total": "sum(amount)", "avg": "mean(amount)",
                   "lo": "min(amount)", "hi": "max(line_total)", "gross": "sum(line_total)"},
    "windows": {
        "roll": {"function": "sum", "column": "total", "preceding": 2,
                 "partition_by": ["k"], "order_by": "day"},
        "roll_avg": {"function": "mean", "column": "gross", "preceding": 2,
                     "partition_by": ["k"], "order_by": "day"}},
    "output": {"path": "out", "format": "csv", "partition_by": ["k"], "columns": HEADER,
               "sort_by": ["day"]},
}


# ---- the reference --------------------------------------------------------

def reference(events_path, out_dir):
    """Writes the expected output files; returns the number of rejected lines."""
    rejected = 0
    groups = {}
    with open(events_path, encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line, parse_float=D)
            amount = doc.get("amount")
            if amount is not None:
                try:
                    q = quantize(D(amount), 2)
                except decimal.InvalidOperation:  # beyond 100 digits
                    q = None
                if q is None or abs(q) >= D(10) ** 10:  # decimal(12,2)
                    rejected += 1
                    continue
                amount = q
            if not doc["qty"] < 6:
                continue
            g = groups.setdefault((doc["k"], doc["day"]), {"n": 0, "vals": [], "totals": []})
            g["n"] += 1
            if amount is not None:
                g["vals"].append(amount)
                g["totals"].append(amount * doc["qty"])
    rows = {}
    for (k, day), g in groups.items():
        vals, totals = g["vals"], g["totals"]
        total = sum(vals, D(0)) if vals else None
        rows.setdefault(k, []).append({
            "day": day, "n": g["n"], "total": total,
            # mean(decimal(12,2)) is decimal(38,6); the window means below
            # are over decimal(38,2) sums, so they keep 2 places.
            "avg": (EXACT.divide(total, len(vals))) if vals else None,
            "lo": min(vals) if vals else None,
            "hi": max(totals) if totals else None,
            "gross": sum(totals, D(0)) if totals else None,
        })
    for k, part in rows.items():
        part.sort(key=lambda r: r["day"])
        for i, r in enumerate(part):
            frame = part[max(0, i - 2):i + 1]
            totals = [p["total"] for p in frame if p["total"] is not None]
            gross = [p["gross"] for p in frame if p["gross"] is not None]
            r["roll"] = sum(totals, D(0)) if totals else None
            r["roll_avg"] = EXACT.divide(sum(gross, D(0)), len(gross)) if gross else None
        d = os.path.join(out_dir, "k=" + k)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "part-00000.csv"), "w", encoding="utf-8", newline="") as f:
            f.write(",".join(HEADER) + "\n")
            for r in part:
                f.write(",".join([str(r["day"]), str(r["n"]), text(r["total"], 2),
                                  text(r["avg"], 6), text(r["lo"], 2), text(r["hi"], 2),
                                  text(r["gross"], 2), text(r["roll"], 2),
                                  text(r["roll_avg"], 2)]) + "\n")
    return rejected


# ---- running --------------------------------------------------------------

def run(args, np, sub, expect_ok=True):
    """shardflow SUB under mpiexec on np ranks; returns the finished
    process (stdout and stderr as bytes)."""
    cmd = mpi(args, np, sub)
    rc, out, err = sftest.run(cmd, expect_ok=expect_ok)
    return subprocess.CompletedProcess(cmd, rc, out, err)


def compare_dirs(got_dir, want_dir):
    sftest.compare_trees(got_dir, want_dir, nonempty=True)


def write_job(path, job):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(job, f, indent=1)


def cmd_exact(args):
    work = os.path.join(args.work, "exact.n%d.%s" % (args.np, args.decoder))
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    events = os.path.join(work, "events.jsonl")
    make_events(events, 17)
    want_dir = os.path.join(work, "want")
    rejected = reference(events, want_dir)
    if rejected == 0:
        raise Failure("the data has no line beyond decimal(12,2): the test would prove less")
    job = json.loads(json.dumps(JOB))
    job["inputs"]["ev"]["path"] = events
    job_path = os.path.join(work, "job.json")
    write_job(job_path, job)
    out = os.path.join(work, "out")
    run(args, args.np, ["run", job_path, "--output", out, "--decoder", args.decoder])
    compare_dirs(out, want_dir)
    with open(os.path.join(out, "_MANIFEST.json"), encoding="utf-8") as f:
        m = json.load(f)
    by_reason = m["counts"]["rejected_by_reason"]
    if by_reason.get("type mismatch") != rejected or m["counts"]["rows_rejected"] != rejected:
        raise Failure("manifest rejects %s, want %d type mismatches" % (by_reason, rejected))
    types = {c["name"]: c["type"] for c in m["output"]["columns"]}
    want_types = {"total": "decimal(38,2)", "avg": "decimal(38,6)", "lo": "decimal(12,2)",
                  "hi": "decimal(31,2)", "roll_avg": "decimal(38,2)"}
    for name, t in want_types.items():
        if types.get(name) != t:
            raise Failure("manifest type of %s is %s, want %s" % (name, types.get(name), t))
    want_cat = run(args, 1, ["cat", out]).stdout
    for fmt in ("parquet", "hdf5"):
        other = os.path.join(work, "out_" + fmt)
        run(args, args.np, ["run", job_path, "--output", other, "--decoder", args.decoder,
                            "--format", fmt])
        got_cat = run(args, 1, ["cat", other]).stdout
        if got_cat != want_cat:
            g, w = got_cat.split(b"\n"), want_cat.split(b"\n")
            i = next(i for i in range(min(len(g), len(w))) if g[i] != w[i]) \
                if any(a != b for a, b in zip(g, w)) else min(len(g), len(w))
            raise Failure("cat of the %s output differs from the CSV output's at line %d:\n"
                          "  got:  %r\n  want: %r" % (fmt, i + 1, g[i] if i < len(g) else None,
                                                      w[i] if i < len(w) else None))
    keys_by_decimal(args, work, events)
    print("exact: np %d, %s decoder: output equals the decimal-module reference, %d rejected"
          % (args.np, args.decoder, rejected))


def keys_by_decimal(args, work, events):
    """Groups by amount rounded to whole units (a decimal(13,0) key, also the
    Hive partition) and by amount itself; checks the rows `cat` prints."""
    job = {"name": "decimal_keys",
           "inputs": {"ev": {"role": "fact", "format": "jsonl", "path": events,
                             "columns": {"amount": "decimal(12,2)", "qty": "int64"}}},
           "steps": [{"derive": "band", "expr": "amount - amount % 1000"}],
           "group_by": ["band", "amount"],
           "aggregates": {"rows": "count()", "qty": "sum(qty)"},
           "output": {"path": "out", "format": "csv", "partition_by": ["band"],
                      "columns": ["amount", "rows", "qty"], "sort_by": ["amount"]}}
    job_path = os.path.join(work, "keys.json")
    write_job(job_path, job)
    out = os.path.join(work, "out_keys")
    run(args, args.np, ["run", job_path, "--output", out, "--decoder", args.decoder])
    groups = {}
    with open(events, encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line, parse_float=D)
            a = doc.get("amount")
            if a is not None:
                try:
                    a = quantize(D(a), 2)
                except decimal.InvalidOperation:
                    continue
                if abs(a) >= D(10) ** 10:
                    continue
            band = None if a is None else a - (a % 1000)  # Decimal % truncates, as C does
            g = groups.setdefault((band, a), [0, 0])
            g[0] += 1
            g[1] += doc["qty"]
    if len(groups) < 50:
        raise Failure("only %d groups: the key test would prove little" % len(groups))
    # cat: the partition column first; partitions in the string order of
    # their directory names, rows by amount (NULL first) within each.
    order = sorted(groups, key=lambda k: (
        "__HIVE_DEFAULT_PARTITION__" if k[0] is None else text(k[0], 2),
        (k[1] is not None, k[1] or 0)))
    want = ["band,amount,rows,qty"] + ["%s,%s,%d,%d" % (text(b, 2), text(a, 2), *groups[(b, a)])
                                       for b, a in order]
    got = run(args, 1, ["cat", out]).stdout.decode("utf-8").rstrip("\n").split("\n")
    if got != want:
        for i, (g, w) in enumerate(zip(got + [""] * len(want), want + [""] * len(got))):
            if g != w:
                raise Failure("cat of the decimal-keyed output, line %d:\n  got:  %r\n  "
                              "want: %r" % (i + 1, g, w))


def cmd_overflow(args):
    work = os.path.join(args.work, "overflow.n%d" % args.np)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    big = "9" * 37
    # g0: +big twenty times, then -big twenty times, then 7: partial sums
    # pass 2^127 on one rank, the total is 7 on every rank count.
    cancel = ['{"k": "g0", "v": %s}' % big] * 20 + ['{"k": "g0", "v": -%s}' % big] * 20
    cancel.append('{"k": "g0", "v": 7}')
    over = ['{"k": "g1", "v": %s}' % big] * 11  # 11 * (10^37 - 1) > 10^38 - 1
    job = {"name": "decimal_overflow",
           "inputs": {"ev": {"role": "fact", "format": "jsonl", "path": "",
                             "columns": {"k": "string", "v": "decimal(37,0)"}}},
           "group_by": ["k"], "aggregates": {"total": "sum(v)", "rows": "count()"},
           "output": {"path": "out", "format": "csv", "columns": ["k", "total", "rows"],
                      "sort_by": ["k"]}}
    for name, lines, ok in (("cancel", cancel, True), ("over", cancel + over, False)):
        events = os.path.join(work, name + ".jsonl")
        with open(events, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        job["inputs"]["ev"]["path"] = events
        job_path = os.path.join(work, name + ".json")
        write_job(job_path, job)
        out = os.path.join(work, "out_" + name)
        p = run(args, args.np, ["run", job_path, "--output", out], expect_ok=ok)
        if ok:
            files = data_files(out)
            body = b"".join(open(os.path.join(out, f), "rb").read() for f in files)
            if body != b"k,total,rows\ng0,7,41\n":
                raise Failure("cancelling sums gave %r" % body)
            continue
        err = p.stderr.decode("utf-8", "replace")
        want = "aggregate 'total': the decimal sum of group (k=g1) needs more than 38 digits"
        if p.returncode == 0 or want not in err:
            raise Failure("overflow run: exit %d, stderr lacks %r:\n%s" % (p.returncode, want,
                                                                          err[-2000:]))
        if os.path.isdir(out) and (os.path.exists(os.path.join(out, "_SUCCESS")) or
                                   data_files(out)):
            raise Failure("a failed run left output in %s" % out)
    # Each day's total fits; two days together do not.
    days = ['{"k": "g0", "day": %d, "v": 6%s}' % (d, "0" * 37) for d in (1, 2, 3)]
    events = os.path.join(work, "window.jsonl")
    with open(events, "w", encoding="utf-8") as f:
        f.write("\n".join(days) + "\n")
    wjob = {"name": "decimal_window_overflow",
            "inputs": {"ev": {"role": "fact", "format": "jsonl", "path": events,
                              "columns": {"k": "string", "day": "int64", "v": "decimal(38,0)"}}},
            "group_by": ["k", "day"], "aggregates": {"total": "sum(v)"},
            "windows": {"roll": {"function": "sum", "column": "total", "preceding": 1,
                                 "partition_by": ["k"], "order_by": "day"}},
            "output": {"path": "out", "format": "csv"}}
    job_path = os.path.join(work, "window.json")
    write_job(job_path, wjob)
    out = os.path.join(work, "out_window")
    p = run(args, args.np, ["run", job_path, "--output", out], expect_ok=False)
    err = p.stderr.decode("utf-8", "replace")
    want = "window 'roll': the decimal sum at (k=g0, day=2) needs more than 38 digits"
    if p.returncode == 0 or want not in err or os.path.exists(os.path.join(out, "_SUCCESS")):
        raise Failure("window overflow: exit %d, stderr lacks %r:\n%s" % (p.returncode, want,
                                                                          err[-2000:]))
    print("overflow: np %d: exact total through 2^127, overflow names the group or the "
          "window partition" % args.np)


def main(argv):
    decimal.setcontext(EXACT)
    ap = sftest.parser(__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("exact")
    e.add_argument("--np", type=int, default=1)
    e.add_argument("--decoder", default="fast", choices=["fast", "jansson"])
    o = sub.add_parser("overflow")
    o.add_argument("--np", type=int, default=1)
    args = ap.parse_args(argv)
    return sftest.main(cmd_exact if args.cmd == "exact" else cmd_overflow, args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

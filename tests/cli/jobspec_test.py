#!/usr/bin/env python3
"""`shardflow schema --format jobspec` round trip (issue 19).

usage: jobspec_test.py SHARDFLOW MPIEXEC

On the generated orders (nested objects, arrays, a `coupon` that is a string
in some records and a number in others) and KPI events (`props` is {} in
some records): the draft is the same on 1 and 2 ranks; `shardflow validate`
accepts it as it is; its columns and types are the schema table's, less the
columns a job cannot read (array indexes, containers, mixed types), each
named on stderr; and `shardflow run` of the draft reads every line with no
line rejected and counts every row (count() over all rows).
"""
import json
import os
import subprocess
import sys
import tempfile

failures = []
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")


def check(cond, what, extra=""):
    if not cond:
        failures.append(what + ("\n  " + extra[-2000:] if extra else ""))


def sh(argv, cwd):
    return subprocess.run(argv, capture_output=True, text=True, env=ENV, cwd=cwd, timeout=300)


def schema_table(exe, cwd, path, opts):
    """{column: type} and the row count from the plain schema table."""
    p = sh([exe, "schema", path, *opts], cwd)
    lines = p.stdout.splitlines()
    cols = {}
    for l in lines[1:-1]:
        name, typ = l.split()[:2]
        cols[name] = typ
    rows = int(lines[-1].split("; ")[1].split()[0])
    return cols, rows


def round_trip(exe, mpiexec, cwd, label, path, opts, expect_left):
    draft = [exe, "schema", path, "--format", "jobspec", *opts]
    p1 = sh(draft, cwd)
    p2 = sh([mpiexec, "-np", "2", *draft], cwd)
    check(p1.returncode == 0, label + ": schema --format jobspec exits 0", p1.stderr)
    check(p1.stdout == p2.stdout and p1.stdout,
          label + ": the same draft on 1 and 2 ranks", p1.stdout + p2.stdout)
    spec = json.loads(p1.stdout)
    with open(os.path.join(cwd, label + ".json"), "w") as f:
        f.write(p1.stdout)
    name = next(iter(spec["inputs"]))
    inp = spec["inputs"][name]
    check(inp["role"] == "fact" and spec["steps"] == [] and spec["group_by"] == [] and
          spec["aggregates"] == {"rows": "count()"},
          label + ": a fact input, no steps, count() over all rows", p1.stdout)

    cols, rows = schema_table(exe, cwd, path, opts)
    for c, t in inp["columns"].items():
        check(cols.get(c) == t, label + ": %s is %s in the schema too (got %s)" %
              (c, t, cols.get(c)))
    left = [c for c in cols if c not in inp["columns"]]
    for c in expect_left:
        check(c in left, label + ": %s is left out" % c, p1.stderr)
        check(("'%s'" % c) in p1.stderr or any(x in p1.stderr for x in left),
              label + ": stderr names what was left out", p1.stderr)
    if not left:
        check(p1.stderr == "", label + ": nothing on stderr when nothing is left out", p1.stderr)

    v = sh([exe, "validate", label + ".json"], cwd)
    check(v.returncode == 0 and "valid" in v.stdout, label + ": validate accepts the draft",
          v.stdout + v.stderr)
    r = sh([exe, "run", label + ".json", "--quiet"], cwd)
    check(r.returncode == 0, label + ": the draft runs", r.stderr)
    out = spec["output"]["path"]
    manifest = json.load(open(os.path.join(cwd, out, "_MANIFEST.json")))
    counts = manifest["counts"]
    check(counts["rows_rejected"] == 0 and counts["lines_read"] > 0,
          label + ": every line read, none rejected", json.dumps(counts))
    data = [f for f in os.listdir(os.path.join(cwd, out)) if f.startswith("part-")]
    got = open(os.path.join(cwd, out, data[0])).read().split()
    check(got == ["rows", str(rows)], label + ": count() is the schema's %d rows (got %r)" %
          (rows, got))


def main():
    exe, mpiexec = sys.argv[1:3]
    with tempfile.TemporaryDirectory() as tmp:
        sh([exe, "gen", "orders", "--orders", "3000", "-o", "orders"], tmp)
        sh([exe, "gen", "kpi", "--events", "3000", "-o", "kpi"], tmp)
        round_trip(exe, mpiexec, tmp, "orders", "orders/orders.jsonl", [],
                   ["items.0.sku", "coupon", "discounts"])
        round_trip(exe, mpiexec, tmp, "lines", "orders/orders.jsonl",
                   ["--explode", "items", "--sep", "_", "--table", "order_lines"], ["coupon"])
        round_trip(exe, mpiexec, tmp, "events", "kpi/events.jsonl", [], ["props"])
        spec = json.load(open(os.path.join(tmp, "lines.json")))
        inp = spec["inputs"].get("order_lines", {})
        check(inp.get("explode") == ["items"] and inp.get("flatten") == {"separator": "_"},
              "lines: --table names the input; explode and flatten settings kept",
              json.dumps(spec))

        # No column a job can name: exit 2 with a message, nothing on stdout.
        with open(os.path.join(tmp, "arrays.jsonl"), "w") as f:
            f.write('{"a": [1, 2]}\n{"a": [3]}\n')
        p = sh([exe, "schema", "arrays.jsonl", "--format", "jobspec"], tmp)
        check(p.returncode == 2 and p.stdout == "" and "nothing to draft" in p.stderr,
              "arrays only: exit 2, nothing to draft", p.stdout + p.stderr)
        p = sh([exe, "schema", "arrays.jsonl", "--format", "jobspec", "--ddl", "duckdb"], tmp)
        check(p.returncode == 2 and "exclude each other" in p.stderr,
              "--format jobspec with --ddl: a usage error", p.stderr)

    for f in failures:
        print("FAIL:", f)
    if failures:
        return 1
    print("jobspec_test: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

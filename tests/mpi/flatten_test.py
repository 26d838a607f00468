#!/usr/bin/env python3
"""flatten_test.py - MPI integration tests of `shardflow flatten` and `schema`.

Runs the shardflow binary under mpiexec on a generated nested dataset (the
orders of `shardflow gen orders`, with hand-written edge lines mixed in) and
checks its output byte for byte, its column types and its manifest counts
against the independent reference tests/reference/flatten.py. CTest calls one
subcommand per test (see tests/mpi/CMakeLists.txt):

  flatten_test.py COMMON setup              dataset (gen on 2 and 3 ranks: same bytes)
  flatten_test.py COMMON variant --name V --np N   one option set against the reference
  flatten_test.py COMMON ranks               1..4 ranks, both schedules: same files
  flatten_test.py COMMON single --np N       --single-file
  flatten_test.py COMMON partition --np N    --partition-by a column and to_date(ts)
  flatten_test.py COMMON hdf5 --np N         --format hdf5 prints like the CSV output
  flatten_test.py COMMON parquet --np N      --format parquet (hive, partitioned, single
                                             file) prints like the CSV output
  flatten_test.py COMMON schema --np N       schema table and DDL against the reference
  flatten_test.py COMMON roundtrip --np N    flatten -> CSV -> read back -> same values
  flatten_test.py COMMON errors --np N       explosion guard, usage errors, no commit
  flatten_test.py COMMON order_lines --np N  jobs/order_lines.json against its reference
  flatten_test.py COMMON badlines --np N     --mode, _bad_records, --max-bad, all rejected
  flatten_test.py COMMON inputs --np N       --explode typo warning, schema --ddl of no column

COMMON: --shardflow BIN --mpiexec MPIEXEC [--np-flag -n] --oracle flatten.py
        --job order_lines.json --job-oracle order_lines.py --work DIR

Every check fails loudly (no skips). Exit status 0 = pass, 1 = fail.
"""

import argparse
import csv
import glob
import importlib.util
import io
import json
import os
import shutil
import sys

import sftest
from sftest import Failure, data_files, first_difference, log, mpi, reset_dir, run, tail

ORDERS = 4000
VARIANTS = {
    "default": [],
    "explode": ["--explode", "items", "--explode", "discounts", "--lists", "join"],
    "options": ["--sep", "_", "--lists", "json", "--max-depth", "2", "--on-collision", "last"],
    "first": ["--on-collision", "first", "--explode", "items", "--max-depth", "1",
              "--lists", "join", "--join-sep", "|"],
    "nested": ["--explode", "orders", "--explode", "orders.items", "--explode", "tags"],
}
COUNT_KEYS = ("lines_read", "blank_lines", "rows_rejected", "records", "rows", "duplicate_keys",
              "collisions")

# Lines mixed into the generated orders: every rule of docs/flatten.md.
EDGE_LINES = [
    b'{"order_id":"x1","dup":1,"dup":2,"p":{"x":1},"p":{"y":2}}',
    b'{"order_id":"x2","a.b":1,"a":{"b":2},"a_b":3,"a":{"b":4}}',
    b'{"bad json',
    b'[1,2,3]',
    b'',
    b'{"order_id":"x3","items":[{"sku":"Z","qty":1,"price":1.5,"tags":["a,b","c\\"d"]}],'
    b'"matrix":[[1,2],[3,[4]]],"empty":{},"nil":null,"uni":"\\u00e9\\u4e2d\xe2\x82\xac",'
    b'"big":9007199254740993,"neg":-0.0,"exp":1e-7,"deep":{"l1":{"l2":{"l3":{"v":true}}}}}',
    b'{"order_id":"x4","items":"not-an-array","discounts":null}',
    b'{}',
    b'{"order_id":"x5","note":"line1\\r\\nline2, \\"quoted\\"","q":"\\t"}',
    b'{"k\\u00e9y":{"x y":1},"customer":{"id":"C-77"},"rating":true}',
    b'{"n":99999999999999999999}',
    b'{"s":"\xff\xfe"}',
    b'   ',
    b'{"orders":[{"o":1,"items":[{"s":"a"},{"s":"b"}]},{"o":2,"items":[]},{"o":3}],'
    b'"tags":["t1",null,"t3"],"x":{"y":[1,{"z":2}]}}',
    b'{"order_id":"x6","items":[],"discounts":[{"code":"A","amount":1},{"code":"B","amount":2}]}',
    b'{"order_id":"x7","coupon":{"code":"nested"},"items":[{"sku":"Q","qty":2,"price":3}]}',
    # a wide object with repeated keys, then the same key again with new keys
    ('{"order_id":"x8","w":{%s,"k5":"five","k40":-1},"w":{%s,"k3":3}}' % (
        ",".join('"k%d":%d' % (i, i) for i in range(60)),
        ",".join('"k%d":%d' % (i, i) for i in range(60, 90)))).encode(),
]


def dataset(args):
    path = os.path.join(args.work, "flatten", "orders.jsonl")
    if not os.path.isfile(path):
        raise Failure("%s is missing: the setup test (mpi.flatten.setup) must run first" % path)
    return path


def oracle(args, inputs, out_dir, extra):
    reset_dir(out_dir)
    run([sys.executable, args.oracle] + inputs + ["--out", out_dir] + extra)
    with open(os.path.join(out_dir, "counts.json")) as f:
        counts = json.load(f)
    if counts["records"] == 0:
        raise Failure("the reference flattened no record: the test would prove nothing")
    return counts


def concat_parts(files):
    """The rows of CSV part files in order, behind one header."""
    out = b""
    for i, path in enumerate(files):
        with open(path, "rb") as f:
            data = f.read()
        if i:
            data = data[data.index(b"\n") + 1:]
        out += data
    return out


def manifest(out_dir):
    for name in ("_SUCCESS", "_MANIFEST.json"):
        if not os.path.isfile(os.path.join(out_dir, name)):
            raise Failure("%s has no %s" % (out_dir, name))
    # The row spools (_rows-RANK) and input spools (_spool-N) of a run are
    # removed before the commit.
    left = [n for n in os.listdir(out_dir) if n.startswith(("_rows-", "_spool-"))]
    if left:
        raise Failure("%s still holds the spools %s" % (out_dir, left))
    with open(os.path.join(out_dir, "_MANIFEST.json")) as f:
        return json.load(f)


def check_manifest(out_dir, ref):
    m = manifest(out_dir)
    got = m["counts"]
    for key in COUNT_KEYS:
        if got[key] != ref[key]:
            raise Failure("manifest counts.%s = %s, reference %s" % (key, got[key], ref[key]))
    if got["lines_read"] != got["records"] + got["rows_rejected"] + got["blank_lines"]:
        raise Failure("manifest line accounting does not add up: %s" % got)
    if got["rows_exploded"] != got["rows"] - got["records"]:
        raise Failure("rows_exploded %s != rows - records" % got["rows_exploded"])
    cols = [(c["name"], c["type"]) for c in m["output"]["columns"]]
    want = [(c["name"], c["type"]) for c in ref["columns"]
            if c["name"] not in m["output"]["partition_by"]]
    if cols != want:
        raise Failure("manifest columns differ from the reference:\n  got  %s\n  want %s" % (
            cols[:12], want[:12]))
    return m


def check_table(out_dir, ref_dir):
    files = sorted(glob.glob(os.path.join(out_dir, "part-*.csv")))
    if not files:
        raise Failure("%s holds no part files" % out_dir)
    got = concat_parts(files)
    with open(os.path.join(ref_dir, "table.csv"), "rb") as f:
        want = f.read()
    if got != want:
        raise Failure("%s differs from the reference: %s" % (out_dir, first_difference(got, want)))
    log("  %s: %d part files, %d bytes, equal to the reference" % (out_dir, len(files), len(got)))


def flatten_run(args, np, out, extra):
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    run(mpi(args, np, ["flatten", dataset(args), "-o", out, "--no-progress", "--quiet"] + extra))


# ---- subcommands ----

def cmd_setup(args):
    base = os.path.join(args.work, "flatten")
    reset_dir(base)
    gens = []
    for np in (2, 3):
        d = os.path.join(base, "gen%d" % np)
        run(mpi(args, np, ["gen", "orders", "--orders", str(ORDERS), "--customers", "300",
                           "--skus", "40", "--seed", "11", "-o", d]))
        with open(os.path.join(d, "orders.jsonl"), "rb") as f:
            gens.append(f.read())
    if gens[0] != gens[1]:
        raise Failure("gen orders wrote different bytes on 2 and 3 ranks")
    lines = gens[0].split(b"\n")[:-1]
    if len(lines) != ORDERS:
        raise Failure("gen orders wrote %d lines, not %d" % (len(lines), ORDERS))
    out = []
    step = len(lines) // (len(EDGE_LINES) + 1)
    for i, line in enumerate(lines):
        out.append(line)
        k = i // step
        if i % step == step - 1 and k < len(EDGE_LINES):
            out.append(EDGE_LINES[k])
    with open(os.path.join(base, "orders.jsonl"), "wb") as f:
        f.write(b"\n".join(out) + b"\n")
    log("dataset: %d lines" % len(out))


def cmd_variant(args):
    extra = VARIANTS[args.name]
    base = os.path.join(args.work, "flatten", "variant_%s_n%d" % (args.name, args.np))
    ref_dir = os.path.join(base, "ref")
    ref = oracle(args, [dataset(args)], ref_dir, extra)
    out = os.path.join(base, "out")
    flatten_run(args, args.np, out, extra)
    check_table(out, ref_dir)
    check_manifest(out, ref)


def cmd_ranks(args):
    base = os.path.join(args.work, "flatten", "ranks")
    extra = ["--explode", "items", "--chunk-size", "64K"]
    ref_dir = os.path.join(base, "ref")
    ref = oracle(args, [dataset(args)], ref_dir, ["--explode", "items"])
    trees = {}
    for np in (1, 2, 3, 4):
        for schedule in ("static", "dynamic"):
            out = os.path.join(base, "n%d_%s" % (np, schedule), "out")
            flatten_run(args, np, out, extra + ["--schedule", schedule])
            check_manifest(out, ref)
            tree = {}
            for rel in data_files(out):
                with open(os.path.join(out, rel), "rb") as f:
                    tree[rel] = f.read()
            trees[(np, schedule)] = tree
    first = trees[(1, "static")]
    if len(first) < 20:
        raise Failure("only %d part files: chunks too large to test anything" % len(first))
    for key, tree in trees.items():
        if tree != first:
            diff = sorted(set(tree) ^ set(first)) or [r for r in tree if tree[r] != first[r]]
            raise Failure("the output of %d ranks (%s) differs from 1 rank: %s" % (
                key[0], key[1], diff[:5]))
    check_table(os.path.join(base, "n1_static", "out"), ref_dir)
    log("  %d part files, byte-identical on 1..4 ranks, both schedules" % len(first))


def cmd_single(args):
    base = os.path.join(args.work, "flatten", "single_n%d" % args.np)
    extra = ["--explode", "items", "--sep", "__"]
    ref_dir = os.path.join(base, "ref")
    ref = oracle(args, [dataset(args)], ref_dir, extra)
    out = os.path.join(base, "out")
    flatten_run(args, args.np, out, extra + ["--single-file", "--chunk-size", "128K"])
    if data_files(out) != ["part-00000.csv"]:
        raise Failure("--single-file wrote %s" % data_files(out))
    with open(os.path.join(out, "part-00000.csv"), "rb") as f:
        got = f.read()
    with open(os.path.join(ref_dir, "table.csv"), "rb") as f:
        want = f.read()
    if got != want:
        raise Failure("single file differs: " + first_difference(got, want))
    m = check_manifest(out, ref)
    if m["files"][0]["rows"] != ref["rows"] or m["output"]["layout"] != "single":
        raise Failure("manifest of the single file: %s" % m["files"])


def cmd_partition(args):
    base = os.path.join(args.work, "flatten", "partition_n%d" % args.np)
    # A string key last: its directory names end without a formatted value.
    keys = ["--partition-by", "day=to_date(ts)", "--partition-by", "status"]
    ref_dir = os.path.join(base, "ref")
    ref = oracle(args, [dataset(args)], ref_dir, ["--explode", "items"] + keys)
    out = os.path.join(base, "out")
    flatten_run(args, args.np, out, ["--explode", "items", "--chunk-size", "256K"] + keys)
    want_dirs = sorted(os.path.relpath(d, os.path.join(ref_dir, "parts"))
                       for d in glob.glob(os.path.join(ref_dir, "parts", "*", "*")))
    got_dirs = sorted(set(os.path.dirname(r) for r in data_files(out)))
    if got_dirs != want_dirs:
        raise Failure("partition directories differ:\n  got  %s\n  want %s" % (
            got_dirs[:8], want_dirs[:8]))
    for d in want_dirs:
        got = concat_parts(sorted(glob.glob(os.path.join(out, d, "part-*.csv"))))
        with open(os.path.join(ref_dir, "parts", d, "rows.csv"), "rb") as f:
            want = f.read()
        if got != want:
            raise Failure("partition %s differs: %s" % (d, first_difference(got, want)))
    m = manifest(out)
    if m["output"]["partition_by"] != ["day", "status"]:
        raise Failure("manifest partition_by: %s" % m["output"]["partition_by"])
    check_manifest(out, ref)
    log("  %d partitions equal to the reference" % len(want_dirs))


def cmd_hdf5(args):
    base = os.path.join(args.work, "flatten", "hdf5_n%d" % args.np)
    extra = ["--explode", "items"]
    ref_dir = os.path.join(base, "ref")
    ref = oracle(args, [dataset(args)], ref_dir, extra)
    out = os.path.join(base, "out")
    flatten_run(args, args.np, out, extra + ["--format", "hdf5", "--chunk-size", "512K"])
    if not all(r.endswith(".h5") for r in data_files(out)):
        raise Failure("--format hdf5 wrote %s" % data_files(out))
    check_manifest(out, ref)
    _, got, _ = run([args.shardflow, "cat", out])
    with open(os.path.join(ref_dir, "table.csv"), "rb") as f:
        want = f.read()
    if got != want:
        raise Failure("cat of the HDF5 output differs from the reference: " +
                      first_difference(got, want))


def cmd_parquet(args):
    """flatten --format parquet: Hive part files, partitioned by an
    expression and a column, and --single-file (pieces joined by their row
    groups and one footer) all print through `shardflow cat` what the CSV
    output of the same flatten prints; the manifest says parquet; a bad
    codec is a usage error."""
    base = os.path.join(args.work, "flatten", "parquet_n%d" % args.np)
    keys = ["--partition-by", "day=to_date(ts)", "--partition-by", "status"]
    cases = (("hive", ["--explode", "items", "--chunk-size", "512K"], []),
             ("partition", ["--explode", "items", "--chunk-size", "256K"] + keys,
              ["--compression", "zstd", "--row-group-size", "50"]),
             ("single", ["--explode", "items", "--sep", "__", "--single-file",
                         "--chunk-size", "128K"], ["--row-group-size", "1000,1MiB"]))
    for name, extra, pq in cases:
        csv_out = os.path.join(base, name + "_csv")
        pq_out = os.path.join(base, name + "_parquet")
        flatten_run(args, args.np, csv_out, extra)
        flatten_run(args, args.np, pq_out, extra + ["--format", "parquet"] + pq)
        files = data_files(pq_out)
        if not files or not all(f.endswith(".parquet") for f in files):
            raise Failure("--format parquet (%s) wrote %s" % (name, files[:5]))
        if name == "single" and files != ["part-00000.parquet"]:
            raise Failure("--single-file --format parquet wrote %s" % files)
        if manifest(pq_out)["output"]["format"] != "parquet":
            raise Failure("manifest of %s: %s" % (pq_out, manifest(pq_out)["output"]))
        _, want, _ = run([args.shardflow, "cat", csv_out])
        _, got, _ = run([args.shardflow, "cat", pq_out])
        if got != want:
            raise Failure("cat of the Parquet output (%s) differs from the CSV output's: %s"
                          % (name, first_difference(got, want)))
        log("  %s: %d Parquet files print like the CSV output (%d bytes)"
            % (name, len(files), len(got)))
    rc, _, err = run(mpi(args, 1, ["flatten", dataset(args), "-o", os.path.join(base, "bad"),
                                   "--format", "parquet", "--compression", "lz4"]),
                     expect_ok=False)
    if rc != 2 or b"lz4" not in err:
        raise Failure("--compression lz4 for Parquet: want a usage error, got exit %d:\n%s"
                      % (rc, tail(err)))


def parse_schema_table(text):
    rows = text.decode("utf-8").splitlines()
    if not rows or not rows[0].startswith("column"):
        raise Failure("schema output has no header: %r" % rows[:2])
    cols = []
    for line in rows[1:]:
        if line.startswith("("):
            break
        parts = line.split()
        cols.append((" ".join(parts[:-3]), parts[-3], int(parts[-2])))
    return cols


def cmd_schema(args):
    base = os.path.join(args.work, "flatten", "schema_n%d" % args.np)
    extra = ["--explode", "items", "--lists", "join"]
    ref = oracle(args, [dataset(args)], os.path.join(base, "ref"), extra)
    _, out, _ = run(mpi(args, args.np, ["schema", dataset(args), "--no-progress"] + extra))
    got = parse_schema_table(out)
    want = [(c["name"], c["type"], c["nonnull"]) for c in ref["columns"]]
    # Names with spaces are joined back by the parser; compare exactly.
    if got != want:
        raise Failure("schema differs from the reference:\n  got  %s\n  want %s" % (
            got[:10], want[:10]))
    sql = {"duckdb": {"int64": "BIGINT", "double": "DOUBLE", "bool": "BOOLEAN",
                      "string": "VARCHAR"},
           "postgres": {"int64": "bigint", "double": "double precision", "bool": "boolean",
                        "string": "text"},
           "snowflake": {"int64": "NUMBER(19,0)", "double": "FLOAT", "bool": "BOOLEAN",
                         "string": "VARCHAR"}}
    for ddl, types in sql.items():
        _, out, _ = run(mpi(args, args.np, ["schema", dataset(args), "--no-progress", "--ddl",
                                            ddl, "--table", "order_lines"] + extra))
        lines = out.decode("utf-8").splitlines()
        if lines[0] != 'CREATE TABLE "order_lines" (' or lines[-1] != ");":
            raise Failure("%s DDL is not one CREATE TABLE: %s" % (ddl, lines[:2]))
        if len(lines) != len(want) + 2:
            raise Failure("%s DDL has %d columns, want %d" % (ddl, len(lines) - 2, len(want)))
        for line, (name, typ, nonnull) in zip(lines[1:-1], want):
            expect = '    "%s" %s%s' % (name.replace('"', '""'), types[typ],
                                       " NOT NULL" if nonnull == ref["rows"] else "")
            if line.rstrip(",") != expect:
                raise Failure("%s DDL line %r, want %r" % (ddl, line, expect))
    log("  %d columns with types and non-null counts equal to the reference" % len(want))


def load_reference(args):
    spec = importlib.util.spec_from_file_location("flatten_reference", args.oracle)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def parse_typed(text, typ):
    if text == "":
        return None
    if typ == "int64":
        return int(text)
    if typ == "double":
        return float(text)
    if typ == "bool":
        if text not in ("true", "false"):
            raise Failure("bool cell %r" % text)
        return text == "true"
    return text


def cmd_roundtrip(args):
    """flatten -> CSV -> shardflow's CSV reader (cat) -> values equal to the
    flattened JSON values, typed by the inferred schema."""
    base = os.path.join(args.work, "flatten", "roundtrip_n%d" % args.np)
    extra = ["--explode", "items", "--lists", "json"]
    out = os.path.join(base, "out")
    flatten_run(args, args.np, out, extra + ["--chunk-size", "256K"])
    m = manifest(out)
    types = {c["name"]: c["type"] for c in m["output"]["columns"]}
    _, text, _ = run([args.shardflow, "cat", out])
    reader = csv.reader(io.StringIO(text.decode("utf-8"), newline=""))
    header = next(reader)
    if header != [c["name"] for c in m["output"]["columns"]]:
        raise Failure("cat header differs from the manifest columns")
    got = [[parse_typed(v, types[h]) for h, v in zip(header, row)] for row in reader]
    # The same records flattened by the reference, values typed the same way.
    ref = load_reference(args)
    opts = argparse.Namespace(sep=".", lists="json", join_sep=",", max_depth=None,
                              max_rows_per_record=10000, on_collision="error",
                              explode=["items"])
    flat, dec = ref.Flattener(opts), ref.Decoder()
    want = []
    for line in ref.read_lines(dataset(args)):
        try:
            rows, _, _ = flat.record(dec.decode(line.decode("utf-8")))
        except (ref.Reject, UnicodeDecodeError):
            continue
        for cells in rows:
            d = dict(cells)
            row = []
            for h in header:
                v = d.get(h)
                if v is not None and types[h] == "double":
                    v = float(v)
                elif v is not None and types[h] == "string":
                    v = ref.text_of(v)
                if v == "":
                    v = None  # CSV cannot tell an empty string from null
                row.append(v)
            want.append(row)
    if len(got) != len(want):
        raise Failure("read back %d rows, flattened %d" % (len(got), len(want)))
    for i, (g, w) in enumerate(zip(got, want)):
        if g != w:
            bad = [(h, a, b) for h, a, b in zip(header, g, w) if a != b]
            raise Failure("row %d read back differs: %s" % (i + 1, bad[:5]))
    log("  %d rows x %d columns read back equal" % (len(got), len(header)))


def cmd_errors(args):
    base = os.path.join(args.work, "flatten", "errors_n%d" % args.np)
    reset_dir(base)
    big = os.path.join(base, "big.jsonl")
    arr = "[" + ",".join(str(i) for i in range(20)) + "]"
    with open(big, "w") as f:
        f.write('{"a":[1],"b":[2]}\n\n{"a":%s,"b":%s}\n{"a":[3]}\n' % (arr, arr))
    out = os.path.join(base, "out")
    rc, _, err = run(mpi(args, args.np, ["flatten", big, "-o", out, "--explode", "a",
                                         "--explode", "b", "--max-rows-per-record", "100"]),
                     expect_ok=False)
    text = err.decode("utf-8", "replace")
    if rc != 1 or "big.jsonl:3: too many rows" not in text or "(byte offset 19)" not in text:
        raise Failure("the explosion guard: exit %d, stderr:\n%s" % (rc, text))
    if os.path.exists(out):
        raise Failure("a failed flatten left %s behind" % out)
    # The same input within the limit is fine, and an existing output is
    # only replaced with --overwrite.
    ok = ["flatten", big, "-o", out, "--explode", "a", "--explode", "b", "--quiet"]
    run(mpi(args, args.np, ok))
    if manifest(out)["counts"]["rows"] != 1 + 400 + 1:
        raise Failure("rows of the exploded input: %s" % manifest(out)["counts"])
    rc, _, err = run(mpi(args, args.np, ok), expect_ok=False)
    if rc == 0 or b"already exists" not in err:
        raise Failure("an existing output was not refused: exit %d" % rc)
    run(mpi(args, args.np, ok + ["--overwrite"]))
    # An empty input commits a header-only table; schema lists no column.
    empty = os.path.join(base, "empty.jsonl")
    open(empty, "w").close()
    eout = os.path.join(base, "empty_out")
    run(mpi(args, args.np, ["flatten", empty, "-o", eout, "--quiet"]))
    if data_files(eout) != ["part-00000.csv"] or manifest(eout)["counts"]["lines_read"] != 0:
        raise Failure("flatten of an empty input: %s" % data_files(eout))
    _, text, _ = run(mpi(args, args.np, ["schema", empty]))
    if b"(0 columns; 0 rows" not in text:
        raise Failure("schema of an empty input: %r" % text)
    for bad, want in ((["--lists", "flat"], b"--lists takes index, join or json"),
                      (["--explode", "a..b"], b"empty key"),
                      (["--partition-by", "d=to_date(nope)"], b"unknown column"),
                      (["--single-file", "--partition-by", "a"], b"exclude each other")):
        rc, _, err = run(mpi(args, args.np, ["flatten", big, "-o", out + "2"] + bad),
                         expect_ok=False)
        if rc == 0 or want not in err:
            raise Failure("%s: exit %d, stderr %r" % (bad, rc, tail(err)))
        if os.path.exists(out + "2"):
            raise Failure("%s left an output behind" % bad)


def cmd_inputs(args):
    """Inputs as users have them: an --explode path no record holds is a
    warning in the summary and the manifest; schema --ddl of an input with
    no column is an error."""
    base = os.path.join(args.work, "flatten", "inputs_n%d" % args.np)
    reset_dir(base)
    tweets = os.path.join(base, "tweets.jsonl")
    with open(tweets, "w") as f:
        for i in range(40):
            f.write('{"id":%d,"entities":{"hashtags":["a","b%d"]}}\n' % (i, i))
    out = os.path.join(base, "typo")
    _, _, err = run(mpi(args, args.np, ["flatten", tweets, "-o", out, "--no-progress",
                                        "--explode", "entities.hashtags",
                                        "--explode", "entities.hashtag"]))
    want = ("--explode entities.hashtag: no record holds this path (a typo?); nothing was "
            "exploded there")
    text = err.decode("utf-8", "replace")
    if ("  warning: " + want) not in text or "entities.hashtags:" in text:
        raise Failure("the explode typo is not in the summary:\n%s" % text)
    m = manifest(out)
    if m.get("warnings") != [want] or m["counts"]["rows"] != 80:
        raise Failure("manifest warnings %r, rows %s" % (m.get("warnings"),
                                                          m["counts"]["rows"]))
    good = os.path.join(base, "good")
    run(mpi(args, args.np, ["flatten", tweets, "-o", good, "--quiet",
                            "--explode", "entities.hashtags"]))
    if manifest(good).get("warnings") != []:
        raise Failure("warnings without a typo: %r" % manifest(good).get("warnings"))
    _, _, err = run(mpi(args, args.np, ["schema", tweets, "--explode", "nope"]))
    if b"warning: --explode nope: no record holds this path" not in err:
        raise Failure("schema does not warn of the explode typo: %r" % tail(err))
    # Every line a JSON array: no column to declare.
    arrays = os.path.join(base, "arrays.jsonl")
    with open(arrays, "w") as f:
        for i in range(30):
            f.write("[%d,%d]\n" % (i, i + 1))
    for ddl in ("duckdb", "postgres"):
        rc, sout, err = run(mpi(args, args.np, ["schema", arrays, "--ddl", ddl]),
                            expect_ok=False)
        if rc != 2 or b"CREATE TABLE" in sout or \
                b"schema --ddl: the input has no columns (30 lines read: 0 records" not in err:
            raise Failure("schema --ddl of arrays: exit %d, stdout %r, stderr %r" % (
                rc, sout, tail(err)))
    # Without --ddl the table of no column is still printed.
    _, sout, _ = run(mpi(args, args.np, ["schema", arrays]))
    if b"(0 columns; 0 rows from 0 records, 30 lines rejected)" not in sout:
        raise Failure("schema of arrays: %r" % sout)


def cmd_badlines(args):
    """Bad lines in each --mode: the exact _bad_records lines (file, offset,
    line, reason, message, text), failfast's FILE:LINE:COLUMN, --max-bad,
    and an input whose lines are all rejected: exit 2, nothing committed."""
    base = os.path.join(args.work, "flatten", "badlines_n%d" % args.np)
    reset_dir(base)
    # About 3 MB, so that 1M chunks spread the lines over every rank and
    # the line numbers of the bad lines cross chunks.
    pad = b"p" * 1500
    lines = [b'{"id":%d,"v":"x%d","pad":"%s"}' % (i, i, pad) for i in range(2000)]
    lines[6] = b'{"id":6,'
    lines[1030] = b'[30]'
    lines[1031] = b''
    lines[1947] = b'{"id":47,"v":"\xff"}'
    data = b"\n".join(lines) + b"\n"
    src = os.path.join(base, "events.jsonl")
    with open(src, "wb") as f:
        f.write(data)

    def offset(i):
        return len(b"\n".join(lines[:i])) + 1

    want = [
        {"file": src, "offset": offset(6), "line": 7, "reason": "invalid JSON",
         "message": "invalid JSON at column 9: unexpected end of input", "text": '{"id":6,'},
        {"file": src, "offset": offset(1030), "line": 1031, "reason": "not an object",
         "message": "not an object: the line is an array", "text": "[30]"},
        {"file": src, "offset": offset(1947), "line": 1948, "reason": "invalid UTF-8",
         "text": '{"id":47,"v":"\ufffd"}', "text_lossy": True},
    ]
    small = ["--chunk-size", "1M", "--no-progress"]
    out = os.path.join(base, "permissive")
    _, _, err = run(mpi(args, args.np, ["flatten", src, "-o", out] + small))
    got = []
    for part in sorted(glob.glob(os.path.join(out, "_bad_records", "part-*.jsonl"))):
        with open(part, "rb") as f:
            got += [json.loads(x) for x in f.read().decode("utf-8").splitlines()]
    got.sort(key=lambda r: r["line"])
    for g in got:
        if g.get("reason") == "invalid UTF-8":
            g.pop("message", None)  # the decoder's wording of the bad byte
    if got != want:
        raise Failure("_bad_records:\n  got  %s\n  want %s" % (got, want))
    m = manifest(out)
    if m["mode"] != "permissive" or m["bad_records"] != 3 or m["counts"]["rows_rejected"] != 3 \
            or m["counts"]["records"] != 1996:
        raise Failure("permissive manifest: mode %s, bad_records %s, counts %s" % (
            m["mode"], m["bad_records"], m["counts"]))
    if b"bad lines: 3 in " not in err:
        raise Failure("the summary does not count the bad lines:\n%s" % tail(err))
    # dropmalformed: counted, no _bad_records, the same table.
    drop = os.path.join(base, "drop")
    run(mpi(args, args.np, ["flatten", src, "-o", drop, "--mode", "dropmalformed"] + small))
    if os.path.exists(os.path.join(drop, "_bad_records")) or \
            manifest(drop)["counts"]["rows_rejected"] != 3 or manifest(drop)["bad_records"] != 0:
        raise Failure("dropmalformed wrote bad records or miscounted: %s" % os.listdir(drop))
    for name in data_files(out):
        with open(os.path.join(out, name), "rb") as a, open(os.path.join(drop, name), "rb") as b:
            if a.read() != b.read():
                raise Failure("%s differs between permissive and dropmalformed" % name)
    # failfast: the first bad line, as compilers place it; nothing committed.
    ff = os.path.join(base, "failfast")
    rc, _, err = run(mpi(args, args.np, ["flatten", src, "-o", ff, "--mode", "failfast"] + small),
                     expect_ok=False)
    msg = ("%s:7:9: invalid JSON: unexpected end of input (byte offset %d; --mode failfast)" % (
        src, offset(6))).encode()
    if rc != 2 or msg not in err or os.path.exists(ff):
        raise Failure("failfast: exit %d, committed %s, stderr:\n%s" % (rc, os.path.exists(ff),
                                                                          tail(err)))
    # --max-bad: 3 of 2000 lines is 0.15%.
    for limit, ok in (("2", False), ("3", True), ("0.1%", False), ("0.2%", True),
                      ("100%", True)):
        mb = os.path.join(base, "maxbad")
        shutil.rmtree(mb, ignore_errors=True)
        rc, _, err = run(mpi(args, args.np, ["flatten", src, "-o", mb, "--max-bad", limit] +
                             small), expect_ok=False)
        if ok != (rc == 0) or (not ok and (rc != 2 or os.path.exists(mb) or
                                           b"3 bad lines (0.15% of 2000 read) exceed --max-bad "
                                           + limit.encode() not in err)):
            raise Failure("--max-bad %s: exit %d, stderr:\n%s" % (limit, rc, tail(err)))
    # The default --max-bad is 10%: 20 bad lines of 60 fail.
    worse = os.path.join(base, "worse.jsonl")
    with open(worse, "wb") as f:
        f.write(b"".join((b"[%d]\n" if i % 3 == 0 else b'{"i":%d}\n') % i for i in range(60)))
    shutil.rmtree(mb, ignore_errors=True)
    rc, _, err = run(mpi(args, args.np, ["flatten", worse, "-o", mb] + small), expect_ok=False)
    if rc != 2 or b"exceed --max-bad 10%" not in err or os.path.exists(mb):
        raise Failure("the default --max-bad: exit %d, stderr:\n%s" % (rc, tail(err)))
    # Every line rejected (a blank one aside): exit 2, nothing committed,
    # the top reason and a sample named.
    arrays = os.path.join(base, "arrays.jsonl")
    with open(arrays, "wb") as f:
        f.write(b"".join(b"[%d,%d]\n" % (i, i) for i in range(25)) + b"\n")
    ao = os.path.join(base, "arrays_out")
    rc, _, err = run(mpi(args, args.np, ["flatten", arrays, "-o", ao, "--max-bad", "100%"] +
                         small), expect_ok=False)
    want_msg = ("all 26 lines read were rejected (25 bad, the rest blank; most as 'not an "
                "object': 25); first: %s: byte 0: not an object" % arrays).encode()
    if rc != 2 or want_msg not in err or b"nothing was committed" not in err or \
            os.path.exists(ao):
        raise Failure("all rejected: exit %d, committed %s, stderr:\n%s" % (
            rc, os.path.exists(ao), tail(err)))
    # Records without any field (all {}): no table to write, in any format.
    empties = os.path.join(base, "empties.jsonl")
    with open(empties, "wb") as f:
        f.write(b"{}\n" * 30)
    for fmt in ("csv", "parquet"):
        eo = os.path.join(base, "empties_" + fmt)
        rc, _, err = run(mpi(args, args.np, ["flatten", empties, "-o", eo, "--format", fmt] +
                             small), expect_ok=False)
        if rc != 2 or b"30 records have no fields" not in err or os.path.exists(eo):
            raise Failure("records without fields to %s: exit %d, committed %s, stderr:\n%s" % (
                fmt, rc, os.path.exists(eo), tail(err)))


def cmd_order_lines(args):
    base = os.path.join(args.work, "flatten", "order_lines_n%d" % args.np)
    reset_dir(base)
    data = dataset(args)
    ref_dir = os.path.join(base, "ref")
    run([sys.executable, args.job_oracle, "--orders", data, "--out", ref_dir,
         "--counts", os.path.join(base, "ref_counts.json")])
    with open(os.path.join(base, "ref_counts.json")) as f:
        want_counts = json.load(f)
    want_files = data_files(ref_dir)
    if not want_files:
        raise Failure("the reference wrote no partition")
    # The default plan, and raw exploded rows shipped to their group's
    # owner (a split pipeline: rows carry their line's first-row flag).
    for strategy in ("before-aggregate", "none"):
        out = os.path.join(base, "out_" + strategy)
        run(mpi(args, args.np, ["run", args.job, "--input", "orders=" + data, "--output", out,
                                "--no-progress", "--quiet", "--chunk-size", "256K",
                                "--repartition", strategy]))
        got_files = data_files(out)
        if got_files != want_files:
            raise Failure("order_lines files differ (%s):\n  got  %s\n  want %s" % (
                strategy, got_files[:5], want_files[:5]))
        for rel in want_files:
            with open(os.path.join(out, rel), "rb") as f:
                got = f.read()
            with open(os.path.join(ref_dir, rel), "rb") as f:
                want = f.read()
            if got != want:
                raise Failure("%s differs (%s): %s" % (rel, strategy, first_difference(got, want)))
        got_counts = manifest(out)["counts"]
        for key, value in want_counts.items():
            if got_counts.get(key) != value:
                raise Failure("manifest counts.%s = %s, reference %s (%s)" % (
                    key, got_counts.get(key), value, strategy))
    log("  %d partitions equal to the reference; counts %s" % (len(want_files), want_counts))


def main(argv):
    ap = sftest.parser("shardflow flatten MPI integration tests")
    ap.add_argument("--oracle", required=True)
    ap.add_argument("--job", required=True)
    ap.add_argument("--job-oracle", required=True)
    ap.add_argument("command", choices=("setup", "variant", "ranks", "single", "partition",
                                        "hdf5", "parquet", "schema", "roundtrip", "errors",
                                        "order_lines", "inputs", "badlines"))
    ap.add_argument("--np", type=int, default=1)
    ap.add_argument("--name", choices=sorted(VARIANTS), default="default")
    args = ap.parse_args(argv)
    os.makedirs(args.work, exist_ok=True)
    return sftest.main(globals()["cmd_" + args.command], args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""shape_test.py - MPI tests of output shaping against tests/reference/shape.py:
`having`, `sort_by` with ` desc`, `limit` over the whole result (with and
without partition_by), one file for an unpartitioned output in every
--write mode, several outputs from one scan ("outputs", OUT/<name>), paths
in a spec relative to the spec file, and `validate` checking the inputs. CTest calls (tests/mpi/CMakeLists.txt):

  shape_test.py --shardflow BIN --mpiexec MPIEXEC [--np-flag -n]
                --oracle shape.py --work DIR --np N

The data (a few hundred lines with ties in revenue, missing countries and
prices) and the specs are written under WORK/shape.nN; each run starts in
another directory, so the specs' relative paths are read against the spec
file. Outputs must equal the reference byte for byte, and so do the
manifest counts of having and limit. Exit status 0 = pass, 1 = fail.
"""
import functools
import json
import os
import random
import shutil
import subprocess
import sys

import sftest
from sftest import Failure, log, mount_tmpfs
from sftest import read_tree as tree

# Commands' stdout and stderr as text.
run = functools.partial(sftest.run, text=True)


def make_events(path):
    rng = random.Random(17)
    with open(path, "w", encoding="utf-8") as f:
        for i in range(700):
            e = {"user": rng.randint(1, 45), "amount": rng.choice([1, 2, 5, 10, 10, 20])}
            c = rng.choice(["AU", "DE", "FR", "NZ", None])
            if c is not None:
                e["country"] = c
            p = rng.choice([0.5, 1.25, 2.5, 3.0, 7, None])
            if p is not None:
                e["price"] = p
            f.write(json.dumps(e) + "\n")


COLUMNS = {"user": "int64", "country": "string", "amount": "int64", "price": "double"}
AGGS = {"orders": "count()", "revenue": "sum(amount)", "top_price": "max(price)"}
SPECS = {
    "top_users": {"group_by": ["country", "user"], "having": "orders >= 2",
                  "output": {"sort_by": ["revenue desc", "top_price desc"], "limit": 8}},
    "top_by_country": {"group_by": ["country", "user"], "having": "top_price > 1.0",
                       "output": {"partition_by": ["country"], "sort_by": ["revenue desc"],
                                  "limit": 10}},
    "having_by_country": {"group_by": ["country", "user"], "having": "orders >= 2",
                          "output": {"partition_by": ["country"], "sort_by": ["revenue desc"]}},
    "desc_by_country": {"group_by": ["country", "user"],
                        "output": {"partition_by": ["country"], "sort_by": ["revenue desc"]}},
    "amount_parts": {"group_by": ["amount", "country", "user"], "having": "orders >= 1",
                     "output": {"partition_by": ["amount"], "sort_by": ["country desc"]}},
    "countries_desc": {"group_by": ["country"], "output": {"sort_by": ["country desc"]}},
    "limit_zero": {"group_by": ["user"], "output": {"sort_by": ["orders asc"], "limit": 0}},
}


def write_spec(path, name, extra):
    spec = {"name": name,
            "inputs": {"ev": {"role": "fact", "path": "../data/events.jsonl",
                              "columns": COLUMNS}},
            "group_by": extra["group_by"], "aggregates": AGGS,
            "output": dict(extra["output"], path="../out/" + name)}
    if "having" in extra:
        spec["having"] = extra["having"]
    with open(path, "w", encoding="utf-8") as f:
        json.dump(spec, f, indent=1)


def compare(got_dir, want_dir, what):
    got, want = tree(got_dir), tree(want_dir)
    if sorted(got) != sorted(want):
        raise Failure("%s: files %s, reference %s" % (what, sorted(got), sorted(want)))
    for rel in sorted(want):
        if got[rel] != want[rel]:
            raise Failure("%s: %s differs\n--- got:\n%s--- want:\n%s"
                          % (what, rel, got[rel].decode(), want[rel].decode()))


def check_counts(out_dir, ref_counts, what):
    with open(os.path.join(out_dir, "_MANIFEST.json"), encoding="utf-8") as f:
        c = json.load(f)["counts"]
    for k, v in ref_counts.items():
        if c.get(k) != v:
            raise Failure("%s: manifest %s = %r, reference %r" % (what, k, c.get(k), v))
    for k in ("groups_dropped_by_having", "rows_dropped_by_limit"):
        if k in c and k not in ref_counts:
            raise Failure("%s: manifest has %s, for a job without it" % (what, k))


def main(argv):
    ap = sftest.parser()
    ap.add_argument("--oracle", required=True)
    ap.add_argument("--np", type=int, required=True)
    a = ap.parse_args(argv)
    base = os.path.abspath(os.path.join(a.work, "shape.n%d" % a.np))
    shutil.rmtree(base, ignore_errors=True)
    for d in ("data", "jobs", "ref", "elsewhere"):
        os.makedirs(os.path.join(base, d))
    events = os.path.join(base, "data", "events.jsonl")
    make_events(events)
    elsewhere = os.path.join(base, "elsewhere")
    mpi = [a.mpiexec, a.np_flag, str(a.np), a.shardflow]
    try:
        for name, extra in sorted(SPECS.items()):
            job = os.path.join(base, "jobs", name + ".json")
            write_spec(job, name, extra)
            ref = os.path.join(base, "ref", name)
            counts = os.path.join(base, "ref", name + ".counts.json")
            run([sys.executable, a.oracle, "--events", events, "--query", name, "--out", ref,
                 "--counts", counts])
            with open(counts, encoding="utf-8") as f:
                ref_counts = json.load(f)
            # From another directory: the spec's ../data and ../out are
            # relative to jobs/, so the output lands in BASE/out/NAME.
            run(mpi + ["run", os.path.relpath(job, elsewhere), "--quiet"], cwd=elsewhere)
            out = os.path.join(base, "out", name)
            compare(out, ref, "%s np=%d" % (name, a.np))
            check_counts(out, ref_counts, "%s np=%d" % (name, a.np))
            log("ok: %s on %d rank(s) (%d rows) equals the reference"
                % (name, a.np, ref_counts["output_rows"]))
            # Every --write mode: an unpartitioned output is still one file.
            for mode in ("local", "coalesce=2"):
                if extra["output"].get("partition_by"):
                    break
                o2 = os.path.join(base, "out", "%s.%s" % (name, mode))
                run(mpi + ["run", job, "--quiet", "--write", mode, "--output", o2])
                compare(o2, ref, "%s --write %s np=%d" % (name, mode, a.np))
            # A partitioned output split over ranks' files: cat merges them
            # in the written order, descending keys included.
            if name == "desc_by_country" and a.np > 1:
                o2 = os.path.join(base, "out", name + ".local")
                run(mpi + ["run", job, "--quiet", "--write", "local", "--output", o2])
                _, split, _ = run([a.shardflow, "cat", o2])
                _, whole, _ = run([a.shardflow, "cat", out])
                if split != whole or len(whole.splitlines()) < 10:
                    raise Failure("%s: cat of --write local differs from one file per "
                                  "partition:\n%s\n---\n%s" % (name, split, whole))
        check_outputs(a, base, mpi)
        if a.np == 1:
            check_validate(a, base, elsewhere)
    except Failure as e:
        log("FAIL: %s" % e)
        return 1
    log("PASS")
    return 0


def check_outputs(a, base, mpi):
    """One spec with "outputs": every output from one scan, each in
    OUT/<name> with its own manifest, equal to the single-output runs'
    reference; and a run whose second output cannot be staged commits
    neither."""
    # amount_parts writes through the reduce's CSV text: the output after
    # it must start without that text.
    names = ["top_users", "top_by_country", "amount_parts", "countries_desc"]
    spec = {"name": "multi",
            "inputs": {"ev": {"role": "fact", "path": "../data/events.jsonl",
                              "columns": COLUMNS}},
            "outputs": []}
    for name in names:
        extra = SPECS[name]
        o = {"name": name, "group_by": extra["group_by"], "aggregates": AGGS,
             "output": dict(extra["output"])}
        if "having" in extra:
            o["having"] = extra["having"]
        spec["outputs"].append(o)
    job = os.path.join(base, "jobs", "multi.json")
    with open(job, "w", encoding="utf-8") as f:
        json.dump(spec, f, indent=1)
    out = os.path.join(base, "out", "multi")
    run(mpi + ["run", job, "--quiet", "--output", out])
    for name in names:
        d = os.path.join(out, name)
        if not os.path.exists(os.path.join(d, "_SUCCESS")):
            raise Failure("multi: no %s/_SUCCESS" % name)
        compare(d, os.path.join(base, "ref", name), "multi/%s np=%d" % (name, a.np))
        with open(os.path.join(base, "ref", name + ".counts.json"), encoding="utf-8") as f:
            check_counts(d, json.load(f), "multi/%s np=%d" % (name, a.np))
        with open(os.path.join(d, "_MANIFEST.json"), encoding="utf-8") as f:
            m = json.load(f)
        if m.get("output_name") != name or m["counts"]["lines_read"] != 700:
            raise Failure("multi/%s: manifest output_name %r, lines_read %r"
                          % (name, m.get("output_name"), m["counts"]["lines_read"]))
    log("ok: %d outputs from one scan on %d rank(s) equal the reference" % (len(names), a.np))
    # The second output's directory is taken: nothing is committed at all.
    bad = os.path.join(base, "out", "multi_bad")
    os.makedirs(os.path.join(bad, names[1]))
    with open(os.path.join(bad, names[1], "keep"), "w") as f:
        f.write("x\n")
    rc, _, err = run(mpi + ["run", job, "--output", bad], expect_ok=False)
    left = sorted(os.listdir(bad))
    if rc == 0 or left != [names[1]] or "nothing was committed" not in err:
        raise Failure("multi with a taken output: exit %d, left %r, stderr %r" % (rc, left, err))
    log("ok: an output that cannot be staged commits no output")
    if a.np == 2:
        check_disk_full(a, base, mpi, spec)


def check_disk_full(a, base, mpi, spec):
    """The last output's disk fills up while it is written: the first
    output, already written to its staging, is not committed either."""
    small = os.path.join(base, "tmpfs")
    why = mount_tmpfs(small, "64k")
    if why:
        log("disk full: not checked (cannot mount a tmpfs here: %s)" % why)
        return
    try:
        with open(os.path.join(small, "filler"), "wb") as f:
            f.write(b"\0" * 60000)
        spec = json.loads(json.dumps(spec))
        earlier = []
        for k, o in enumerate(spec["outputs"][:-1]):
            earlier.append(os.path.join(base, "out", "full_%d" % k))
            o["output"]["path"] = earlier[-1]
        spec["outputs"][-1]["output"]["path"] = os.path.join(small, "last")
        spec["outputs"][-1]["group_by"] = ["country", "user"]  # a ~5 KB file
        job = os.path.join(base, "jobs", "full.json")
        with open(job, "w", encoding="utf-8") as f:
            json.dump(spec, f)
        rc, _, err = run(mpi + ["run", job], expect_ok=False)
        if rc == 0 or "No space left on device" not in err or "Segmentation" in err:
            raise Failure("disk full on the last output: exit %d, stderr %r" % (rc, err))
        left = [d for d in earlier if os.path.exists(d)]
        if left or sorted(os.listdir(small)) != ["filler"]:
            raise Failure("disk full on the last output left %r and %r"
                          % (left, os.listdir(small)))
        log("ok: a disk full on the last output commits no output")
    finally:
        subprocess.run(["umount", small], capture_output=True)


def check_validate(a, base, elsewhere):
    """validate resolves the spec's paths against the spec file, prints
    them, and fails (exit 2) on an input that is not there."""
    job = os.path.relpath(os.path.join(base, "jobs", "top_users.json"), elsewhere)
    _, out, _ = run([a.shardflow, "validate", job], cwd=elsewhere)
    want = "input ev: %s (1 file," % os.path.join(os.path.dirname(job), "../data/events.jsonl")
    if want not in out or "readable" not in out:
        raise Failure("validate does not print the resolved input %r:\n%s" % (want, out))
    missing = os.path.join(base, "jobs", "missing.json")
    with open(os.path.join(base, "jobs", "top_users.json"), encoding="utf-8") as f:
        spec = json.load(f)
    spec["inputs"]["ev"]["path"] = "../data/nope.jsonl"
    with open(missing, "w", encoding="utf-8") as f:
        json.dump(spec, f)
    rc, out, err = run([a.shardflow, "validate", missing], cwd=elsewhere, expect_ok=False)
    if rc != 2 or "nope.jsonl" not in err or "inputs.ev" not in err:
        raise Failure("validate of a missing input: exit %d, stderr %r" % (rc, err))
    # --input is relative to the current directory, not to the spec.
    rc, out, err = run([a.shardflow, "validate", missing, "--input",
                        "ev=../data/events.jsonl"], cwd=os.path.join(base, "jobs"))
    if "input ev: ../data/events.jsonl (1 file," not in out:
        raise Failure("validate --input: %r" % out)
    log("ok: validate resolves, prints and checks input paths")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""A CSV fact input from stdin is refused with a clear message (each rank
reads a CSV file's header from the file, which a stream cannot give; it
crashed before), and a gzipped CSV fact file gives the plain file's output.

usage: csv_stream_test.py SHARDFLOW MPIEXEC WORKDIR
"""
import gzip
import json
import os
import shutil
import subprocess
import sys


def main():
    exe, mpiexec, work = sys.argv[1], sys.argv[2], sys.argv[3]
    base = os.path.join(work, "csv_stream")
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(base)
    rows = "k,v\n" + "".join("%s,%d\n" % ("abc"[i % 3], i) for i in range(500))
    with open(os.path.join(base, "f.csv"), "w") as f:
        f.write(rows)
    with gzip.open(os.path.join(base, "f.csv.gz"), "wt") as f:
        f.write(rows)
    job = {"inputs": {"ev": {"role": "fact", "format": "csv", "path": "f.csv",
                             "columns": {"k": "string", "v": "int64"}}},
           "group_by": ["k"], "aggregates": {"s": "sum(v)", "n": "count()"},
           "output": {"path": "out"}}
    spec = os.path.join(base, "job.json")
    with open(spec, "w") as f:
        json.dump(job, f)
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")

    def run(extra, stdin=None):
        return subprocess.run([mpiexec, "--oversubscribe", "-n", "2", exe, "run", spec,
                               "--no-progress", *extra], input=stdin, capture_output=True,
                              text=True, env=env, timeout=120)

    p = run(["--input", "ev=-", "--output", os.path.join(base, "from_stdin")], rows)
    if p.returncode == 0 or "a CSV fact input cannot be read from stdin" not in p.stderr \
            or os.path.exists(os.path.join(base, "from_stdin")):
        print("FAIL: CSV from stdin: exit %d, stderr:\n%s" % (p.returncode, p.stderr))
        return 1
    outs = {}
    for name in ("f.csv", "f.csv.gz"):
        out = os.path.join(base, "out_" + name)
        p = run(["--input", "ev=" + os.path.join(base, name), "--output", out])
        if p.returncode != 0:
            print("FAIL: %s: exit %d: %s" % (name, p.returncode, p.stderr))
            return 1
        with open(os.path.join(out, "part-00000.csv")) as f:
            outs[name] = f.read()
    if outs["f.csv"] != outs["f.csv.gz"] or "a,41583,167" not in outs["f.csv"]:
        print("FAIL: plain and gzip CSV outputs differ or are wrong:\n%s\n%s"
              % (outs["f.csv"], outs["f.csv.gz"]))
        return 1
    print("CSV from stdin refused with the reason; gzip CSV = plain CSV on 2 ranks")
    return 0


if __name__ == "__main__":
    sys.exit(main())

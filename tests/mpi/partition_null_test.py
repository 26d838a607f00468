#!/usr/bin/env python3
"""A NULL and an empty-string partition value share Hive's
__HIVE_DEFAULT_PARTITION__ directory: every row must still be written
(they used to be two partitions writing the same part file, so one
overwrote the other's rows while the summary counted both).

usage: partition_null_test.py SHARDFLOW MPIEXEC NP WORKDIR
"""
import csv
import glob
import json
import os
import shutil
import subprocess
import sys


def main():
    exe, mpiexec, np, work = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    base = os.path.join(work, "partition_null_n" + np)
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(base)
    with open(os.path.join(base, "ev.jsonl"), "w") as f:
        for i in range(300):
            c = [None, "", "a", "b"][i % 4]
            rec = {"n": i} if c is None and i % 8 == 0 else {"c": c, "n": i}
            f.write(json.dumps(rec) + "\n")
    for fmt in ("csv", "parquet"):
        job = {"inputs": {"ev": {"role": "fact", "path": "ev.jsonl",
                                 "columns": {"c": "string", "n": "int64"}}},
               "group_by": ["c", "n"], "aggregates": {"k": "count()"},
               "output": {"path": "out_" + fmt, "format": fmt, "partition_by": ["c"],
                          "columns": ["n", "k"]}}
        with open(os.path.join(base, "job.json"), "w") as f:
            json.dump(job, f)
        env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
        p = subprocess.run([mpiexec, "--oversubscribe", "-n", np, exe, "run",
                            os.path.join(base, "job.json"), "--no-progress", "--chunk-size", "1K"],
                           capture_output=True, text=True, env=env, timeout=120)
        if p.returncode != 0:
            print("FAIL: run exit %d: %s" % (p.returncode, p.stderr))
            return 1
        out = os.path.join(base, "out_" + fmt)
        dirs = sorted(os.path.basename(d) for d in glob.glob(os.path.join(out, "c=*")))
        if dirs != ["c=__HIVE_DEFAULT_PARTITION__", "c=a", "c=b"]:
            print("FAIL: %s partitions %s" % (fmt, dirs))
            return 1
        c = subprocess.run([exe, "cat", out], capture_output=True, text=True, timeout=60)
        if c.returncode != 0:
            print("FAIL: cat exit %d: %s" % (c.returncode, c.stderr))
            return 1
        rows = list(csv.reader(c.stdout.splitlines()))[1:]
        ns = sorted(int(r[1]) for r in rows)  # cat prints c, n, k
        if len(rows) != 300 or ns != list(range(300)):
            print("FAIL: %s: %d rows read back, want all 300" % (fmt, len(rows)))
            return 1
        print("%s on %s ranks: NULL and '' rows together under __HIVE_DEFAULT_PARTITION__, "
              "all 300 rows written" % (fmt, np))
    return 0


if __name__ == "__main__":
    sys.exit(main())

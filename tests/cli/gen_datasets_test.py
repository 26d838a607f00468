#!/usr/bin/env python3
"""`shardflow gen learning` and `gen video` (issue 18's datasets): the files
each writes, byte-identical on 1 and 3 ranks, line counts as documented, and
usage errors for options of another dataset.

usage: gen_datasets_test.py SHARDFLOW MPIEXEC
"""
import filecmp
import os
import subprocess
import sys
import tempfile

ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")

DATASETS = {
    # dataset: (arguments, {file: expected line count})
    "learning": (["--users", "300", "--events", "5000", "--seed", "5"],
                 {"users.csv": 1 + 300 + 300 // 50, "events.jsonl": 5000}),
    "video": (["--events", "4000", "--users", "120", "--videos", "40", "--seed", "5"],
              {"events.jsonl": 4000, "users.csv": 121, "videos.csv": 41, "devices.csv": 241}),
}


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=120)


def main():
    exe, mpiexec = sys.argv[1], sys.argv[2]
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, (args, files) in DATASETS.items():
            dirs = []
            for np in (1, 3):
                out = os.path.join(tmp, "%s_n%d" % (name, np))
                p = run([mpiexec, "--oversubscribe", "-n", str(np), exe, "gen", name, *args,
                         "-o", out])
                if p.returncode != 0:
                    failures.append("gen %s on %d ranks: exit %d: %s" % (name, np, p.returncode,
                                                                         p.stderr))
                    continue
                dirs.append(out)
                if sorted(os.listdir(out)) != sorted(files):
                    failures.append("gen %s wrote %s, want %s" % (name, sorted(os.listdir(out)),
                                                                 sorted(files)))
            if len(dirs) != 2:
                continue
            for f, lines in files.items():
                with open(os.path.join(dirs[0], f), "rb") as fh:
                    n = fh.read().count(b"\n")
                if n != lines:
                    failures.append("%s/%s has %d lines, want %d" % (name, f, n, lines))
                if not filecmp.cmp(os.path.join(dirs[0], f), os.path.join(dirs[1], f),
                                   shallow=False):
                    failures.append("%s/%s differs between 1 and 3 ranks" % (name, f))
            print("gen %s: %s, identical on 1 and 3 ranks" % (name, ", ".join(sorted(files))))
        # An option of another dataset is a usage error, not silently ignored.
        p = run([exe, "gen", "learning", "--videos", "3", "-o", os.path.join(tmp, "x")])
        if p.returncode != 2 or "--videos" not in p.stderr:
            failures.append("gen learning --videos: want exit 2 naming it, got %d: %r"
                            % (p.returncode, p.stderr))
        p = run([exe, "gen", "video", "--skew", "zipf:1", "-o", os.path.join(tmp, "y")])
        if p.returncode != 2 or "--skew" not in p.stderr:
            failures.append("gen video --skew: want exit 2 naming it, got %d: %r"
                            % (p.returncode, p.stderr))
    for f in failures:
        print("FAIL: " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

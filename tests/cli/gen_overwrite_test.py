#!/usr/bin/env python3
"""`shardflow gen` keeps existing output files unless --overwrite (issue 19).

usage: gen_overwrite_test.py SHARDFLOW
"""
import os
import subprocess
import sys
import tempfile


def sh(exe, *args):
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    return subprocess.run([exe, *args], capture_output=True, text=True, env=env, timeout=120)


def main():
    exe = sys.argv[1]
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "kpi")
        p = sh(exe, "gen", "kpi", "--events", "50", "--users", "5", "--items", "3", "-o", out)
        if p.returncode != 0:
            print("FAIL: first gen exit %d: %s" % (p.returncode, p.stderr))
            return 1
        events = os.path.join(out, "events.jsonl")
        with open(events, "w") as f:
            f.write("precious\n")
        # Refused: exit 1, the file named, nothing touched.
        p = sh(exe, "gen", "kpi", "--events", "50", "--users", "5", "--items", "3", "-o", out)
        if p.returncode == 0:
            failures.append("gen over an existing events.jsonl succeeded")
        if events not in p.stderr or "--overwrite" not in p.stderr:
            failures.append("the refusal names the file and --overwrite: %r" % p.stderr)
        with open(events) as f:
            if f.read() != "precious\n":
                failures.append("the refused gen changed events.jsonl")
        # A single existing file of the set is enough to refuse (orders too).
        orders = os.path.join(tmp, "orders")
        os.makedirs(orders)
        with open(os.path.join(orders, "orders.jsonl"), "w") as f:
            f.write("x\n")
        p = sh(exe, "gen", "orders", "--orders", "10", "-o", orders)
        if p.returncode == 0 or "orders.jsonl exists" not in p.stderr:
            failures.append("gen orders over orders.jsonl: exit %d %r" % (p.returncode, p.stderr))
        # --overwrite replaces them.
        p = sh(exe, "gen", "kpi", "--events", "50", "--users", "5", "--items", "3", "-o", out,
               "--overwrite")
        if p.returncode != 0:
            failures.append("gen --overwrite exit %d: %s" % (p.returncode, p.stderr))
        with open(events) as f:
            if len(f.read().splitlines()) != 50:
                failures.append("gen --overwrite did not rewrite events.jsonl with 50 lines")
    if failures:
        print("FAIL:\n- " + "\n- ".join(failures))
        return 1
    print("gen --overwrite: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

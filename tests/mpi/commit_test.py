#!/usr/bin/env python3
"""commit_test.py - MPI tests of output claims, staging and write modes.

Runs the shardflow binary under mpiexec (see tests/mpi/CMakeLists.txt):

  commit_test.py COMMON_OPTIONS concurrent --writers 2|3 --trials N [--seed S]
      N trials of W runs of the daily KPI job (each over its own dataset, so
      every run's output is recognisable) started on one new OUT at random
      offsets, alternating --write-mode error and overwrite. Every run must
      either exit 0 with its own complete output in place when it commits,
      or fail with the claim message (or, in error mode, because OUT
      already exists); never a success whose output is missing or mixed,
      and nothing left behind (staging, claim).
  commit_test.py COMMON_OPTIONS stale_claim
      a run SIGKILLed mid-way leaves its claim; the next run breaks it with a
      message and commits. A live claim stops a second run at once; a claim
      from another host is broken only after --claim-timeout.
  commit_test.py COMMON_OPTIONS write_modes --tool run|flatten --format csv|hdf5
      overwrite-partitions keeps the bytes of untouched partitions and makes
      replaced ones equal to a fresh run's; append adds run-unique files and
      never replaces one; the manifest lists every file with its run.

COMMON_OPTIONS: --shardflow BIN --mpiexec MPIEXEC [--np-flag -n] --job JOB --work DIR

Exit status 0 = pass, 1 = fail.
"""

import argparse
import datetime
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time

TIMEOUT = 60
CLAIM_SUFFIX = ".shardflow-claim"
CLAIM_MSG = b"is being written by run"


class Failure(Exception):
    pass


def log(msg):
    print(msg, flush=True)


def tail(data, n=30):
    lines = data.decode("utf-8", "replace").splitlines()
    return "\n".join(lines[-n:])


def run(cmd, expect_ok=True):
    log("$ " + " ".join(cmd))
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        raise Failure("timed out: %s\n%s" % (" ".join(cmd), tail(err)))
    if expect_ok and p.returncode != 0:
        raise Failure("exit %d: %s\n%s" % (p.returncode, " ".join(cmd), tail(err)))
    return p.returncode, out, err


def mpi(args, np, sub):
    return [args.mpiexec, args.np_flag, str(np), args.shardflow] + sub


def gen(args, out, events, seed):
    if not os.path.isfile(os.path.join(out, "events.jsonl")):
        run(mpi(args, 1, ["gen", "kpi", "--events", str(events), "--seed", str(seed),
                          "-o", out]))
    return out


def kpi_cmd(args, data, out, extra, np=1):
    sub = ["run", args.job]
    for name in ("events", "users", "items"):
        sub += ["--input", "%s=%s" % (name, os.path.join(data, name + ".jsonl"))]
    return mpi(args, np, sub + ["--output", out, "--quiet"] + extra)


def data_files(root):
    """Data files under root (no component starting with '_' or '.')."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d[0] not in "_."]
        for f in filenames:
            if f[0] not in "_.":
                found.append(os.path.relpath(os.path.join(dirpath, f), root))
    return sorted(found)


def digest(path):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def tree(root):
    """{relative data file: sha256}."""
    return {f: digest(os.path.join(root, f)) for f in data_files(root)}


def manifest(root):
    path = os.path.join(root, "_MANIFEST.json")
    if not os.path.isfile(path):
        raise Failure("%s missing" % path)
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def check_clean(base, out):
    """Nothing but OUT is left beside it, and no staging inside it."""
    left = sorted(n for n in os.listdir(base) if n.startswith(os.path.basename(out) + "."))
    if left:
        raise Failure("left beside %s: %s" % (out, left))
    if os.path.exists(os.path.join(out, "_temporary")):
        raise Failure("%s/_temporary left behind" % out)


def check_manifest_lists_files(out):
    m = manifest(out)
    listed = sorted(f["path"] for f in m["files"])
    on_disk = [f for f in data_files(out)]
    if listed != on_disk:
        raise Failure("%s: manifest lists %s, disk holds %s" % (out, listed, on_disk))
    for f in m["files"]:
        if not f.get("run_id"):
            raise Failure("%s: manifest entry without run_id: %r" % (out, f))
    return m


# ---- concurrent writers ----

def concurrent_trial(args, base, datasets, refs, rng, t, stats):
    mode = "error" if t % 2 == 0 else "overwrite"
    out = os.path.join(base, "out%d" % t)
    order = list(range(args.writers))
    rng.shuffle(order)
    offsets = sorted(rng.uniform(0, 0.4) for _ in order)
    procs = {}
    t0 = time.time()
    for i, off in zip(order, offsets):
        delay = t0 + off - time.time()
        if delay > 0:
            time.sleep(delay)
        extra = [] if mode == "error" else (["--overwrite"] if t % 4 == 1
                                            else ["--write-mode", "overwrite"])
        procs[i] = subprocess.Popen(kpi_cmd(args, datasets[i], out, extra),
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    start_new_session=True)
    results = {}
    for i, p in procs.items():
        try:
            _, err = p.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            raise Failure("trial %d: writer %d hung" % (t, i))
        results[i] = (p.returncode, err)
    ok = [i for i, (rc, _) in results.items() if rc == 0]
    for i, (rc, err) in results.items():
        if rc == 0:
            stats["ok"] += 1
        elif CLAIM_MSG in err:
            stats["claim"] += 1
        elif mode == "error" and b"already exists" in err:
            stats["exists"] += 1
        else:
            raise Failure("trial %d (%s): writer %d failed without the claim message "
                          "(exit %d):\n%s" % (t, mode, i, rc, tail(err)))
    if not ok:
        raise Failure("trial %d (%s): no writer succeeded" % (t, mode))
    if mode == "error" and len(ok) != 1:
        raise Failure("trial %d: %d writers succeeded on one new OUT in error mode"
                      % (t, len(ok)))
    if not os.path.isdir(out):
        raise Failure("trial %d (%s): writers %s exited 0 but %s does not exist"
                      % (t, mode, ok, out))
    # The output in place is the complete output of one successful run
    # (the last to commit), recognised by its fact input.
    m = manifest(out)
    fact = [inp for inp in m["inputs"] if inp["role"] == "fact"][0]["path"]
    owner = [i for i in range(args.writers) if fact.startswith(datasets[i])]
    if len(owner) != 1 or owner[0] not in ok:
        raise Failure("trial %d (%s): the output in place is from %s, successes %s"
                      % (t, mode, fact, ok))
    got = tree(out)
    if got != refs[owner[0]]:
        raise Failure("trial %d (%s): the output of writer %d is incomplete or mixed"
                      % (t, mode, owner[0]))
    if not os.path.exists(os.path.join(out, "_SUCCESS")):
        raise Failure("trial %d: no _SUCCESS" % t)
    check_manifest_lists_files(out)
    check_clean(base, out)
    log("trial %d (%s, offsets %s): %s" % (
        t, mode, ",".join("%.2f" % o for o in offsets),
        " ".join("w%d=%s" % (i, "ok" if results[i][0] == 0 else "refused")
                 for i in sorted(results))))


def cmd_concurrent(args):
    base = os.path.join(args.work, "commit_concurrent_w%d" % args.writers)
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(base)
    shared = os.path.join(args.work, "commit_data")
    sizes = [(120000, 11), (8000, 12), (30000, 13)][:args.writers]
    datasets = [gen(args, os.path.join(shared, "kpi_%d_%d" % s), *s) for s in sizes]
    refs = []
    for i, data in enumerate(datasets):
        ref = os.path.join(base, "ref%d" % i)
        run(kpi_cmd(args, data, ref, []))
        refs.append(tree(ref))
    if len({json.dumps(r, sort_keys=True) for r in refs}) != len(refs):
        raise Failure("the datasets give equal outputs: runs would not be recognisable")
    rng = random.Random(args.seed)
    stats = {"ok": 0, "claim": 0, "exists": 0}
    failed = []
    for t in range(args.trials):
        try:
            concurrent_trial(args, base, datasets, refs, rng, t, stats)
        except Failure as e:
            log("trial %d FAILED: %s" % (t, e))
            failed.append(t)
    if failed:
        raise Failure("%d of %d trials of %d writers failed: %s"
                      % (len(failed), args.trials, args.writers, failed))
    log("%d trials of %d writers: %d runs succeeded, %d refused by the claim, %d refused as "
        "existing; every success complete" % (args.trials, args.writers, stats["ok"],
                                              stats["claim"], stats["exists"]))
    if stats["claim"] == 0:
        raise Failure("no run ever met another's claim: the trials did not overlap")


def main(argv):
    ap = argparse.ArgumentParser(description="shardflow claim and commit tests")
    ap.add_argument("--shardflow", required=True)
    ap.add_argument("--mpiexec", required=True)
    ap.add_argument("--np-flag", default="-n")
    ap.add_argument("--job", required=True)
    ap.add_argument("--work", required=True)
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("concurrent")
    p.add_argument("--writers", type=int, default=2)
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--seed", type=int, default=13)
    args = ap.parse_args(argv)
    handlers = {"concurrent": cmd_concurrent}
    try:
        handlers[args.command](args)
    except Failure as e:
        print("FAIL: %s" % e, file=sys.stderr, flush=True)
        return 1
    log("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

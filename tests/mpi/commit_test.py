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
  commit_test.py COMMON_OPTIONS faults --mode overwrite|overwrite-partitions|append
      SIGKILL, SIGINT and a full disk during a run of that mode leave the
      committed output as it was; the next run after a SIGKILL breaks the
      claim, removes the staging and commits.

COMMON_OPTIONS: --shardflow BIN --mpiexec MPIEXEC [--np-flag -n] --job JOB --work DIR

Exit status 0 = pass, 1 = fail.
"""

import datetime
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time

import sftest
from sftest import (Failure, data_files, log, mount_tmpfs, mpi, rank_pids, run, snapshot,
                    tail)
from sftest import digest_tree as tree

TIMEOUT = 60
sftest.TIMEOUT = TIMEOUT
CLAIM_SUFFIX = ".shardflow-claim"
CLAIM_MSG = b"is being written by run"


def gen(args, out, events, seed):
    """A KPI dataset in out, shared by the tests: generated once, into a
    directory of this process, then renamed into place (tests run at once)."""
    if not os.path.isfile(os.path.join(out, "events.jsonl")):
        tmp = "%s.tmp%d" % (out, os.getpid())
        shutil.rmtree(tmp, ignore_errors=True)
        run(mpi(args, 1, ["gen", "kpi", "--events", str(events), "--seed", str(seed),
                          "-o", tmp]))
        try:
            os.rename(tmp, out)
        except OSError:
            shutil.rmtree(tmp, ignore_errors=True)  # another test made it first
    return out


def kpi_cmd(args, data, out, extra, np=1, direct=False, quiet=True):
    """The daily KPI job over data into out; direct: the binary alone (an
    MPI singleton) instead of under mpiexec."""
    sub = ["run", args.job]
    for name in ("events", "users", "items"):
        sub += ["--input", "%s=%s" % (name, os.path.join(data, name + ".jsonl"))]
    sub += ["--output", out] + (["--quiet"] if quiet else []) + extra
    return [args.shardflow] + sub if direct else mpi(args, np, sub)


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
    offsets = sorted(rng.uniform(0, 0.2) for _ in order)
    procs = {}
    t0 = time.time()
    for i, off in zip(order, offsets):
        delay = t0 + off - time.time()
        if delay > 0:
            time.sleep(delay)
        extra = [] if mode == "error" else (["--overwrite"] if t % 4 == 1
                                            else ["--write-mode", "overwrite"])
        procs[i] = subprocess.Popen(kpi_cmd(args, datasets[i], out, extra,
                                            direct=args.launch == "direct"),
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
    owner = [i for i in range(args.writers) if os.path.dirname(fact) == datasets[i]]
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
    sizes = [(12000, 11), (2000, 12), (5000, 13)][:args.writers]
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


# ---- stale claims ----

def claim_of(out):
    return out.rstrip("/") + CLAIM_SUFFIX


def cmd_stale_claim(args):
    base = os.path.join(args.work, "commit_stale")
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(base)
    shared = os.path.join(args.work, "commit_data")
    big = gen(args, os.path.join(shared, "kpi_400000_21"), 400000, 21)
    small = gen(args, os.path.join(shared, "kpi_4000_12"), 4000, 12)
    ref = os.path.join(base, "ref")
    run(kpi_cmd(args, small, ref, []))
    out = os.path.join(base, "out")

    # A slow run holds the claim; a second run is refused at once.
    slow = ["--decoder", "jansson", "--chunk-size", "1M"]
    cmd = kpi_cmd(args, big, out, slow, np=2)
    log("$ " + " ".join(cmd) + " &")
    holder = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              start_new_session=True)
    t0 = time.time()
    info = None
    while time.time() - t0 < 20 and info is None:
        try:
            with open(claim_of(out), encoding="utf-8") as fh:
                info = json.load(fh)
        except (OSError, ValueError):
            time.sleep(0.02)
    if info is None:
        os.killpg(holder.pid, signal.SIGKILL)
        raise Failure("the slow run took no claim on %s in 20 s" % out)
    t1 = time.time()
    rc, _, err = run(kpi_cmd(args, small, out, [], direct=True), expect_ok=False)
    took = time.time() - t1
    want = ("%s is being written by run %s (host %s, pid %d, since %s)" % (
        out, info["run_id"], info["host"], info["pid"], info["since"])).encode()
    if rc == 0 or want not in err:
        os.killpg(holder.pid, signal.SIGKILL)
        raise Failure("a run on a claimed output: exit %d, want %r in:\n%s"
                      % (rc, want, tail(err)))
    if took > 5:
        raise Failure("the refused run took %.1f s: a claim must refuse at once" % took)
    if holder.poll() is not None:
        raise Failure("the slow run ended before it could be killed: make it slower")
    log("refused in %.2f s: %s" % (took, want.decode()))

    # SIGKILL the holder: its claim stays; the next run breaks it.
    kill_all(holder, out)
    if not os.path.exists(claim_of(out)):
        raise Failure("the killed run's claim is gone: nothing to break")
    rc, _, err = run(kpi_cmd(args, small, out, [], np=2))
    said = ("broke the claim on '%s' left by run %s" % (out, info["run_id"])).encode()
    if said not in err or b"its process is gone" not in err:
        raise Failure("the stale claim was not reported as broken:\n%s" % tail(err))
    if tree(out) != tree(ref):
        raise Failure("the run after a broken claim did not commit its own output")
    check_clean(base, out)
    log("a SIGKILLed holder's claim was broken by the next run, which committed")

    # A claim from another host is only broken after --claim-timeout.
    with open(claim_of(out), "w", encoding="utf-8") as fh:
        json.dump({"run_id": "20250101T000000-99", "host": "node-elsewhere", "pid": 99,
                   "pid_start": 0, "since": "2025-01-01T00:00:00Z",
                   "since_epoch": int(time.time()) - 120}, fh)
    rc, _, err = run(kpi_cmd(args, small, out, ["--write-mode", "overwrite"], direct=True),
                     expect_ok=False)
    if rc == 0 or b"is being written by run 20250101T000000-99 (host node-elsewhere" not in err:
        raise Failure("another host's young claim did not hold:\n%s" % tail(err))
    rc, _, err = run(kpi_cmd(args, small, out, ["--write-mode", "overwrite",
                                                "--claim-timeout", "1m"], direct=True))
    if b"over --claim-timeout 60 s" not in err:
        raise Failure("another host's old claim was not reported as timed out:\n%s" % tail(err))
    check_clean(base, out)
    log("another host's claim held until --claim-timeout, then was broken")

    # An output given as a symbolic link is written through it: the claim
    # is the target's (a run given the link meets a run given the target),
    # the commit replaces the target and the link stays a link.
    link = os.path.join(base, "link")
    os.symlink(out, link)
    with open(claim_of(out), "w", encoding="utf-8") as fh:
        json.dump({"run_id": "20250101T000000-98", "host": "node-elsewhere", "pid": 98,
                   "pid_start": 0, "since": "2025-01-01T00:00:00Z",
                   "since_epoch": int(time.time())}, fh)
    rc, _, err = run(kpi_cmd(args, small, link, ["--write-mode", "overwrite"], direct=True),
                     expect_ok=False)
    if rc == 0 or b"is being written by run 20250101T000000-98" not in err:
        raise Failure("a run through a link did not meet the target's claim:\n%s" % tail(err))
    if os.path.exists(claim_of(link)):
        raise Failure("a claim was made beside the link: %s" % claim_of(link))
    os.unlink(claim_of(out))
    rc, _, err = run(kpi_cmd(args, small, link + "/", ["--write-mode", "overwrite"], np=2))
    if b"is a symbolic link: writing into its target" not in err:
        raise Failure("writing through a link is not said:\n%s" % tail(err))
    if not os.path.islink(link) or tree(out) != tree(ref):
        raise Failure("the link was replaced, or the target does not hold the new output")
    dangling = os.path.join(base, "dangling")
    os.symlink(os.path.join(base, "nowhere"), dangling)
    rc, _, err = run(kpi_cmd(args, small, dangling, [], direct=True), expect_ok=False)
    if rc == 0 or b"is a symbolic link to" not in err or os.path.exists(claim_of(dangling)):
        raise Failure("a link to nothing: exit %d:\n%s" % (rc, tail(err)))
    os.unlink(link)
    os.unlink(dangling)
    check_clean(base, out)
    log("a link as the output: the target's claim, the target replaced, the link kept")


# ---- write modes ----

DAY = "2025-08-16"


def day_events(src, dst):
    """dst gets src's users and items and the events of DAY only."""
    os.makedirs(dst, exist_ok=True)
    lo = int(datetime.datetime(2025, 8, 16, tzinfo=datetime.timezone.utc).timestamp())
    n = 0
    with open(os.path.join(src, "events.jsonl"), encoding="utf-8") as fi, \
            open(os.path.join(dst, "events.jsonl"), "w", encoding="utf-8") as fo:
        for line in fi:
            ts = json.loads(line).get("ts")
            if isinstance(ts, int) and lo <= ts < lo + 86400:
                fo.write(line)
                n += 1
    for name in ("users", "items"):
        shutil.copy(os.path.join(src, name + ".jsonl"), os.path.join(dst, name + ".jsonl"))
    if n < 50:
        raise Failure("only %d events on %s: the day run would prove little" % (n, DAY))
    return dst


def flatten_inputs(full, day, base):
    """Inputs for flatten, whose columns are inferred from the data in order
    of first appearance: an output only takes a run of the same columns in
    the same order. full2 = DAY's lines first, then full's other days; day2
    = DAY's lines with another event_id each, so the partition a day run
    rewrites has other bytes, and the columns come in the same order."""
    lo = int(datetime.datetime(2025, 8, 16, tzinfo=datetime.timezone.utc).timestamp())
    with open(os.path.join(day, "events.jsonl"), encoding="utf-8") as fh:
        day_lines = fh.readlines()
    with open(os.path.join(full, "events.jsonl"), encoding="utf-8") as fh:
        others = [ln for ln in fh if not lo <= json.loads(ln).get("ts", 0) < lo + 86400]
    full2, day2 = os.path.join(base, "flat_full"), os.path.join(base, "flat_day")
    os.makedirs(full2)
    os.makedirs(day2)
    with open(os.path.join(full2, "events.jsonl"), "w", encoding="utf-8") as fh:
        fh.writelines(day_lines + others)
    with open(os.path.join(day2, "events.jsonl"), "w", encoding="utf-8") as fh:
        for ln in day_lines:
            rec = json.loads(ln)
            rec["event_id"] = str(rec.get("event_id")) + "-b"
            fh.write(json.dumps(rec, separators=(",", ":")) + "\n")
    return full2, day2


def content(args, path):
    """What a data file holds: its bytes (CSV), or `shardflow cat` of it
    (HDF5 files embed object times, so equal data need not be equal bytes)."""
    if path.endswith(".h5"):
        return run([args.shardflow, "cat", path])[1]
    with open(path, "rb") as fh:
        return fh.read()


def cmd_write_modes(args):
    base = os.path.join(args.work, "commit_modes_%s_%s" % (args.tool, args.format))
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(base)
    shared = os.path.join(args.work, "commit_data")
    full = gen(args, os.path.join(shared, "kpi_10000_31"), 10000, 31)
    day = day_events(gen(args, os.path.join(shared, "kpi_10000_32"), 10000, 32),
                     os.path.join(base, "day"))
    ext = ".h5" if args.format == "hdf5" else ".csv"
    plain_full = full
    if args.tool == "flatten":
        full, day = flatten_inputs(full, day, base)

    def write(data, out, extra):
        if args.tool == "run":
            cmd = kpi_cmd(args, data, out, ["--format", args.format] + extra, np=2,
                          quiet=False)
        else:
            cmd = mpi(args, 2, ["flatten", os.path.join(data, "events.jsonl"), "-o", out,
                                "--partition-by", "date=to_date(ts)", "--format",
                                args.format, "--chunk-size", "1M"] + extra)
        return run(cmd)[2]

    ref_day = os.path.join(base, "ref_day")
    write(day, ref_day, ["--quiet"])
    ref_files = data_files(ref_day)
    if not ref_files or any(not f.startswith("date=%s/" % DAY) for f in ref_files):
        raise Failure("the day run wrote %s, not only date=%s" % (ref_files, DAY))
    out = os.path.join(base, "out")
    write(full, out, ["--quiet"])
    first_run = manifest(out)["run_id"]
    before = tree(out)
    parts = {f.split("/")[0] for f in before}
    if "date=" + DAY not in parts or len(parts) < 20:
        raise Failure("the full run wrote partitions %s" % sorted(parts))

    # overwrite-partitions: DAY replaced by what a fresh run writes, the rest kept.
    err = write(day, out, ["--write-mode", "overwrite-partitions"])
    if b"overwrite-partitions: the output now holds" not in err:
        raise Failure("no overwrite-partitions summary line:\n%s" % tail(err))
    after = tree(out)
    for f, h in before.items():
        if not f.startswith("date=%s/" % DAY) and after.get(f) != h:
            raise Failure("overwrite-partitions changed the untouched file %s" % f)
    got_day = sorted(f for f in after if f.startswith("date=%s/" % DAY))
    if got_day != ref_files:
        raise Failure("the replaced partition holds %s, a fresh run writes %s"
                      % (got_day, ref_files))
    for f in ref_files:
        if content(args, os.path.join(out, f)) != content(args, os.path.join(ref_day, f)):
            raise Failure("replaced %s differs from a fresh run's" % f)
    if sorted(after) != sorted(before) and set(after) - set(before) - set(ref_files):
        raise Failure("overwrite-partitions added files outside the day: %s"
                      % sorted(set(after) - set(before)))
    m = check_manifest_lists_files(out)
    day_run = m["run_id"]
    for e in m["files"]:
        want = day_run if e["path"].startswith("date=%s/" % DAY) else first_run
        if e["run_id"] != want:
            raise Failure("manifest: %s is from run %s, want %s" % (e["path"], e["run_id"], want))
    if [r["run_id"] for r in m["runs"]] != [first_run, day_run]:
        raise Failure("manifest runs %r" % m["runs"])
    if not os.path.exists(os.path.join(out, "_SUCCESS")):
        raise Failure("no _SUCCESS after overwrite-partitions")
    log("overwrite-partitions: %d untouched files kept their bytes, date=%s equals a fresh "
        "run's" % (len(before) - len(ref_files), DAY))

    # append, twice: new run-unique files, nothing replaced.
    for k in range(2):
        before = tree(out)
        err = write(day, out, ["--write-mode", "append"])
        after = tree(out)
        for f, h in before.items():
            if after.get(f) != h:
                raise Failure("append #%d changed or removed %s" % (k + 1, f))
        m = check_manifest_lists_files(out)
        rid = m["run_id"]
        added = sorted(set(after) - set(before))
        want = sorted(f[:-len(ext)] + "-" + rid + ext for f in ref_files)
        if added != want:
            raise Failure("append #%d added %s, want %s" % (k + 1, added, want))
        for f, r in zip(added, ref_files):
            if content(args, os.path.join(out, f)) != content(args, os.path.join(ref_day, r)):
                raise Failure("appended %s differs from a fresh run's %s" % (f, r))
        if any(e["run_id"] != rid for e in m["files"] if e["path"] in added):
            raise Failure("appended files not recorded with run %s" % rid)
        if m["runs"][-1]["run_id"] != rid or m["runs"][-1]["files"] != len(added):
            raise Failure("manifest runs after append: %r" % m["runs"])
        if b"append: the output now holds" not in err:
            raise Failure("no append summary line:\n%s" % tail(err))
    check_clean(base, out)
    log("append twice: %d files added each time under run-unique names, none replaced"
        % len(ref_files))
    # inspect shows the runs that built the output, oldest first.
    shown = run([args.shardflow, "inspect", out])[1].decode()
    at = [shown.find("  " + r["run_id"] + " ") for r in m["runs"]]
    if "runs:       4" not in shown or min(at) < 0 or at != sorted(at):
        raise Failure("inspect does not list the 4 runs in order:\n%s" % shown)
    for r, mode in zip(m["runs"], ("error", "overwrite-partitions", "append", "append")):
        if r.get("write_mode") != mode:
            raise Failure("manifest runs: %r, want modes error, overwrite-partitions, append x2"
                          % m["runs"])
    log("inspect lists the 4 runs that built the output")
    # ... and the output still reads as one table.
    text = run([args.shardflow, "cat", out])[1]
    rows = sum(e["rows"] for e in m["files"])
    if text.count(b"\n") != rows + 1:
        raise Failure("cat printed %d lines for %d rows" % (text.count(b"\n"), rows))
    log("cat reads the merged output: %d rows" % rows)

    if args.tool == "flatten":
        # Another dataset infers its columns in another order: refused, and
        # the output stays as it was.
        before = snapshot(out)
        cmd = [args.shardflow, "flatten", os.path.join(plain_full, "events.jsonl"), "-o", out,
               "--partition-by", "date=to_date(ts)", "--format", args.format,
               "--write-mode", "append"]  # alone: mpiexec adds 2 s to a failure
        rc, _, err = run(cmd, expect_ok=False)
        if rc == 0 or b"the new output has columns" not in err:
            raise Failure("append of other columns: exit %d:\n%s" % (rc, tail(err)))
        if snapshot(out) != before:
            raise Failure("a refused append changed the output")
        check_clean(base, out)
        log("append of an output with other columns refused, output unchanged")

# ---- faults in every write mode ----

def gone(pid):
    """True once pid has exited (a zombie counts: it holds nothing)."""
    try:
        with open("/proc/%d/stat" % pid) as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def kill_all(p, out):
    """SIGKILL of mpiexec and every rank (ranks are in process groups of
    their own), as a lost node would; waits until they are gone."""
    pids = rank_pids(out)
    os.killpg(p.pid, signal.SIGKILL)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    p.communicate()
    deadline = time.time() + 10
    while time.time() < deadline and not all(gone(pid) for pid in pids):
        time.sleep(0.02)


def start_slow(args, data, out, mode):
    cmd = kpi_cmd(args, data, out, ["--decoder", "jansson", "--chunk-size", "1M",
                                    "--write-mode", mode], np=2)
    p = sftest.start(cmd)
    # Staged: the claim names rank 0 and its tree exists beside OUT.
    t0 = time.time()
    while time.time() - t0 < 20:
        try:
            with open(claim_of(out), encoding="utf-8") as fh:
                info = json.load(fh)
            if os.path.isdir("%s.shardflow-%s" % (out, info["run_id"])):
                time.sleep(0.3)  # into the scan
                if p.poll() is None:
                    return p, info
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.02)
    os.killpg(p.pid, signal.SIGKILL)
    raise Failure("the slow %s run did not stage in time (exit %r)" % (mode, p.poll()))


def cmd_faults(args):
    mode = args.mode
    base = os.path.join(args.work, "commit_faults_" + mode)
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(base)
    shared = os.path.join(args.work, "commit_data")
    big = gen(args, os.path.join(shared, "kpi_400000_21"), 400000, 21)
    full = gen(args, os.path.join(shared, "kpi_10000_31"), 10000, 31)
    out = os.path.join(base, "out")
    run(kpi_cmd(args, full, out, [], direct=True))

    # SIGKILL of every process: OUT untouched; the next run breaks the
    # claim, removes the staging and commits.
    before = snapshot(out)
    p, info = start_slow(args, big, out, mode)
    kill_all(p, out)
    if snapshot(out) != before:
        raise Failure("%s: a SIGKILLed run changed the committed output" % mode)
    rc, _, err = run(kpi_cmd(args, full, out, ["--write-mode", mode], np=2))
    for want in (b"broke the claim", b"left by a run that did not finish"):
        if want not in err:
            raise Failure("%s: after SIGKILL the next run did not say %r:\n%s"
                          % (mode, want, tail(err)))
    check_clean(base, out)
    check_manifest_lists_files(out)
    log("%s: SIGKILL left the output intact; the next run broke the claim and committed" % mode)

    # SIGINT to rank 0: every rank stops, nothing changes, nothing is left.
    before = snapshot(out)
    p, info = start_slow(args, big, out, mode)
    os.kill(info["pid"], signal.SIGINT)
    try:
        _, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        raise Failure("%s: the run did not stop after SIGINT" % mode)
    if p.returncode == 0 or b"interrupted by SIGINT" not in err:
        raise Failure("%s: SIGINT: exit %d:\n%s" % (mode, p.returncode, tail(err)))
    if snapshot(out) != before:
        raise Failure("%s: an interrupted run changed the committed output" % mode)
    check_clean(base, out)
    log("%s: SIGINT stopped the run; output intact, claim released, no staging" % mode)

    # Disk full on a small tmpfs.
    small = os.path.join(base, "small")
    why = mount_tmpfs(small, "256k")
    if why:
        log("disk full: not checked (cannot mount a tmpfs here: %s)" % why)
        return
    try:
        prev = os.path.join(small, "prev")
        put = {"_SUCCESS": "", "_MANIFEST.json": '{"run_id": "old", "files": [{"path": '
               '"date=2000-01-01/part-00000.csv", "rows": 1, "bytes": 3}]}\n',
               "date=2000-01-01/part-00000.csv": "x\n1\n"}
        for rel, text in put.items():
            os.makedirs(os.path.dirname(os.path.join(prev, rel)), exist_ok=True)
            with open(os.path.join(prev, rel), "w") as fh:
                fh.write(text)
        before = snapshot(prev)
        with open(os.path.join(small, "filler"), "wb") as fh:
            fh.write(b"\0" * 200000)  # leaves less room than the ~90 KB output
        for fmt in ("csv", "hdf5"):
            rc, _, err = run(kpi_cmd(args, full, prev, ["--write-mode", mode, "--format", fmt],
                                     direct=True), expect_ok=False)
            if rc != 1 or b"No space left on device" not in err or b"Segmentation" in err:
                raise Failure("%s: disk full (%s): exit %d:\n%s" % (mode, fmt, rc, tail(err)))
            if sorted(os.listdir(small)) != ["filler", "prev"] or snapshot(prev) != before:
                raise Failure("%s: disk full (%s) left %r" % (mode, fmt, os.listdir(small)))
        log("%s: disk full fails cleanly, output intact, claim released (csv, hdf5)" % mode)
    finally:
        subprocess.run(["umount", small])

def main(argv):
    ap = sftest.parser("shardflow claim and commit tests")
    ap.add_argument("--job", required=True)
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("concurrent")
    p.add_argument("--writers", type=int, default=2)
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--seed", type=int, default=13)
    # mpiexec adds about 2 s to every failed run (its teardown), which would
    # put 20 trials far over the time budget; the claim is rank 0's alone,
    # so MPI singletons exercise the same code.
    p.add_argument("--launch", choices=("direct", "mpiexec"), default="direct")
    sub.add_parser("stale_claim")
    p = sub.add_parser("write_modes")
    p.add_argument("--tool", choices=("run", "flatten"), required=True)
    p.add_argument("--format", choices=("csv", "hdf5"), required=True)
    p = sub.add_parser("faults")
    p.add_argument("--mode", choices=("overwrite", "overwrite-partitions", "append"),
                   required=True)
    args = ap.parse_args(argv)
    handlers = {"concurrent": cmd_concurrent, "stale_claim": cmd_stale_claim,
                "write_modes": cmd_write_modes, "faults": cmd_faults}
    return sftest.main(handlers[args.command], args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""slurm_test.py - end-to-end test of slurm/ against a real single-node Slurm.

CTest runs it as slurm.end_to_end (label slurm, see CMakeLists.txt here):

  slurm_test.py --shardflow BIN --mpiexec MPIEXEC [--np-flag -n] --source REPO --work DIR

1. Starts munged, slurmctld and slurmd with scripts/slurm-start (installing
   them with apt-get if needed). Exits 77, which CTest reports as skipped, with
   the reason, when that is impossible here (not root, no apt-get, install or
   start failure) or when SF_SKIP_SLURM=1.
2. Generates a small KPI dataset with `shardflow gen` and runs the daily KPI
   job with `mpirun -np 2` as the reference.
3. Submits slurm/shardflow.sbatch twice on 2 ranks (default launcher, which
   must pick srun with PMIx; and SHARDFLOW_LAUNCHER=mpirun with the arguments
   in SHARDFLOW_ARGS), and slurm/sweep.sh for ranks 1,2 x strategies static,
   dynamic x 1 repeat, strong and weak scaling, with its collector.
4. Waits for every job (squeue every 0.5 s, with a deadline), requires
   JobState=COMPLETED ExitCode=0:0 from `scontrol -o show job` for each job
   and array task, compares every output file except _MANIFEST.json and
   _METRICS.json (run metadata: timings, run id) byte for byte with the
   reference, and checks the collector's CSV (one row per run,
   the strategy's flags really applied, speedup 1 at one rank), its summary,
   and a PNG per study when gnuplot is installed.
   A second sweep runs a copy of the job whose inputs are named clicks,
   customers and products (and whose spec paths lead nowhere): strong
   scaling reads the dataset through `--input NAME=PATH` (no generator), weak
   scaling generates the fact input and finds the dimensions by their keys;
   its strong run must equal the reference too.
5. Always cancels its jobs that are still queued and stops the daemons it
   started (scripts/slurm-stop --state), also on failure or SIGTERM.

Exit status: 0 pass, 1 fail, 77 skip.
"""

import argparse
import csv
import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import time

SKIP = 77
DEADLINE = 135          # seconds for the whole test; CTest's TIMEOUT is above
DATASET = {"events": 20000, "users": 300, "items": 60, "seed": 7}
WEAK_PER_RANK = 10000
STRATEGIES = ["static", "dynamic"]
RANKS = [1, 2]
# Per-run metadata (timings, run id) that differs between any two runs.
MARKERS = ("_MANIFEST.json", "_METRICS.json")


class Failure(Exception):
    pass


class Skip(Exception):
    pass


def log(msg):
    print(msg, flush=True)


START = time.monotonic()


def remaining():
    return DEADLINE - (time.monotonic() - START)


def run(cmd, env=None, timeout=60, check=True, cwd=None):
    """Runs cmd in its own process group; returns (rc, stdout, stderr) as text."""
    log("$ " + " ".join(cmd))
    timeout = max(1.0, min(timeout, remaining()))
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                         cwd=cwd, start_new_session=True, universal_newlines=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        raise Failure("timed out after %.0f s: %s\n%s%s" % (timeout, " ".join(cmd), out, err))
    except BaseException:
        # Stopped by a signal: take the child and its ranks along.
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        raise
    if check and p.returncode != 0:
        raise Failure("exit code %d: %s\n--- stdout:\n%s\n--- stderr:\n%s" % (
            p.returncode, " ".join(cmd), out, err))
    return p.returncode, out, err


def sbatch(args, env):
    _, out, _ = run(["sbatch", "--parsable"] + args, env=env)
    return out.strip().split(";")[0]


def wait_jobs(ids, what):
    """Polls squeue until none of ids is queued or running."""
    joined = ",".join(ids)
    while True:
        p = subprocess.run(["squeue", "-h", "-o", "%i %T %r", "-j", joined],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True)
        if p.returncode == 0 and not p.stdout.strip():
            return
        if remaining() <= 0:
            raise Failure("%s: jobs still queued at the deadline:\n%s%s" % (what, p.stdout, p.stderr))
        time.sleep(0.5)


def job_records(job_id):
    """One dict per job or array task of `scontrol -o show job ID`."""
    _, out, _ = run(["scontrol", "-o", "show", "job", job_id], timeout=20)
    recs = []
    for line in out.splitlines():
        if not line.strip():
            continue
        rec = {}
        for field in line.split():
            if "=" in field:
                k, v = field.split("=", 1)
                rec.setdefault(k, v)
        recs.append(rec)
    return recs


def check_completed(job_id, tasks, logs_hint):
    recs = job_records(job_id)
    if len(recs) != tasks:
        raise Failure("job %s: %d record(s) in scontrol, expected %d" % (job_id, len(recs), tasks))
    for r in recs:
        if r.get("JobState") != "COMPLETED" or r.get("ExitCode") != "0:0":
            raise Failure("job %s%s (%s): JobState=%s ExitCode=%s Reason=%s; logs: %s" % (
                job_id, "_" + r["ArrayTaskId"] if "ArrayTaskId" in r else "", r.get("JobName"),
                r.get("JobState"), r.get("ExitCode"), r.get("Reason"), logs_hint))


def tree_files(root):
    files = {}
    for dirpath, _, names in os.walk(root):
        for n in names:
            full = os.path.join(dirpath, n)
            files[os.path.relpath(full, root)] = full
    return files


def same_output(ref, got, what):
    if not os.path.isfile(os.path.join(got, "_SUCCESS")):
        raise Failure("%s: no _SUCCESS in %s" % (what, got))
    a = {k: v for k, v in tree_files(ref).items() if os.path.basename(k) not in MARKERS}
    b = {k: v for k, v in tree_files(got).items() if os.path.basename(k) not in MARKERS}
    if sorted(a) != sorted(b):
        only_ref = sorted(set(a) - set(b))[:10]
        only_got = sorted(set(b) - set(a))[:10]
        raise Failure("%s: file sets differ from the mpirun output; only in reference: %s; "
                      "only in %s: %s" % (what, only_ref, got, only_got))
    for rel in sorted(a):
        with open(a[rel], "rb") as fa, open(b[rel], "rb") as fb:
            if fa.read() != fb.read():
                raise Failure("%s: %s differs from the mpirun output" % (what, rel))
    log("ok: %s equals the mpirun -np 2 output (%d files)" % (what, len(a)))


def read_text(path):
    with open(path, errors="replace") as f:
        return f.read()


def check_log(path, launcher):
    text = read_text(path)
    if "launcher: %s" % launcher not in text:
        raise Failure("%s does not say 'launcher: %s':\n%s" % (path, launcher, text))
    if "finished with exit code 0" not in text:
        raise Failure("%s does not report exit code 0:\n%s" % (path, text))
    log("ok: %s used %s" % (os.path.basename(path), launcher))


def check_collector(sweep, gnuplot):
    results = os.path.join(sweep, "results")
    with open(os.path.join(results, "results.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    expected = {(study, n, s, 1) for study in ("strong", "weak") for n in RANKS for s in STRATEGIES}
    got = [(r["study"], int(r["ranks"]), r["strategy"], int(r["repeat"])) for r in rows]
    if len(got) != len(expected) or set(got) != expected:
        raise Failure("results.csv rows %s, expected one per run: %s" % (sorted(got), sorted(expected)))
    for r in rows:
        # Each strategy's flags are --schedule NAME, and the manifest says
        # which schedule ran: this shows the flags reached shardflow.
        if r["schedule"] != r["strategy"]:
            raise Failure("run %s: schedule %r, strategy %r" % (r["run_dir"], r["schedule"], r["strategy"]))
        n = int(r["ranks"])
        want_lines = DATASET["events"] if r["study"] == "strong" else WEAK_PER_RANK * n
        if int(r["lines_read"]) != want_lines:
            raise Failure("run %s read %s lines, expected %d" % (r["run_dir"], r["lines_read"], want_lines))
        if float(r["wall_s"]) <= 0 or int(r["bytes_scanned"]) <= 0:
            raise Failure("run %s: wall %s, bytes %s" % (r["run_dir"], r["wall_s"], r["bytes_scanned"]))
        if n == 1 and abs(float(r["speedup"]) - 1.0) > 1e-9:
            raise Failure("run %s: speedup %s at the baseline" % (r["run_dir"], r["speedup"]))
        eff = float(r["efficiency"])
        if abs(eff * n - float(r["speedup"])) > 1e-3:
            raise Failure("run %s: efficiency %s is not speedup/ranks" % (r["run_dir"], eff))
    log("ok: results.csv has one row per run (%d)" % len(rows))
    summary = read_text(os.path.join(results, "summary.md"))
    for heading in ("## Strong scaling", "## Weak scaling"):
        if heading not in summary:
            raise Failure("summary.md lacks '%s'" % heading)
    for study in ("strong", "weak"):
        png = os.path.join(results, "%s_scaling.png" % study)
        if gnuplot:
            with open(png, "rb") as f:
                if f.read(8) != b"\x89PNG\r\n\x1a\n":
                    raise Failure("%s is not a PNG" % png)
        elif os.path.exists(png):
            raise Failure("%s exists but gnuplot is not installed" % png)
    if gnuplot:
        log("ok: a PNG plot per study")
    else:
        if "gnuplot is not installed" not in summary:
            raise Failure("summary.md does not say that gnuplot is missing")
        log("ok: no gnuplot here, and the summary says so")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shardflow", required=True)
    ap.add_argument("--mpiexec", required=True)
    ap.add_argument("--np-flag", default="-n")
    ap.add_argument("--source", required=True)
    ap.add_argument("--work", required=True)
    args = ap.parse_args()

    if os.environ.get("SF_SKIP_SLURM") == "1":
        raise Skip("SF_SKIP_SLURM=1")
    if os.geteuid() != 0:
        raise Skip("not root: a local Slurm needs root to install and start its daemons")

    src = os.path.abspath(args.source)
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    # Two copies of this test on one machine would share the daemons, and
    # one would stop them under the other.
    lock = open(os.path.join(work, ".lock"), "w")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise Failure("another slurm test runs in %s" % work)
    state = os.path.join(work, "slurm.state")
    jobs = []
    stopped = False
    try:
        rc, out, err = run([os.path.join(src, "scripts", "slurm-start"), "--state", state,
                            "--clean", "--timeout", "30"], timeout=90, check=False)
        log(out.strip())
        if rc == SKIP:
            raise Skip(err.strip() or "scripts/slurm-start could not start Slurm")
        if rc != 0:
            raise Failure("scripts/slurm-start failed (%d):\n%s" % (rc, err))
        body(args, src, work, jobs)
    finally:
        stopped = cleanup(src, state, jobs)
        lock.close()
    if not stopped:
        raise Failure("scripts/slurm-stop could not stop a daemon this test started")


def body(args, src, work, jobs):
    for d in ("data", "logs", "ref", "out_srun", "out_mpirun", "sweep", "sweep_renamed"):
        shutil.rmtree(os.path.join(work, d), ignore_errors=True)
    os.makedirs(os.path.join(work, "logs"))
    data = os.path.join(work, "data")
    binary = os.path.abspath(args.shardflow)
    job = os.path.join(src, "jobs", "daily_kpi.json")
    env = dict(os.environ, SHARDFLOW_BIN=binary)
    env.pop("SHARDFLOW_LAUNCHER", None)
    env.pop("SHARDFLOW_ARGS", None)

    run([binary, "gen", "kpi", "--events", str(DATASET["events"]), "--users", str(DATASET["users"]),
         "--items", str(DATASET["items"]), "--seed", str(DATASET["seed"]), "-o", data], env=env)
    inputs = []
    for name in ("events", "users", "items"):
        inputs += ["--input", "%s=%s/%s.jsonl" % (name, data, name)]
    run_args = ["run", job] + inputs + ["--quiet", "--no-progress"]

    logs = os.path.join(work, "logs")
    sb = os.path.join(src, "slurm", "shardflow.sbatch")
    common = ["-n", "2", "--chdir", work, "--time", "5"]
    srun_id = sbatch(common + ["-J", "sf-e2e-srun", "-o", logs + "/%x-%j.out", sb] + run_args +
                     ["--output", os.path.join(work, "out_srun")], env)
    jobs.append(srun_id)
    env_mpirun = dict(env, SHARDFLOW_LAUNCHER="mpirun",
                      SHARDFLOW_ARGS=" ".join(run_args + ["--output", os.path.join(work, "out_mpirun")]))
    mpirun_id = sbatch(common + ["-J", "sf-e2e-mpirun", "-o", logs + "/%x-%j.out", sb], env_mpirun)
    jobs.append(mpirun_id)

    sweep = os.path.join(work, "sweep")
    _, out, _ = run([os.path.join(src, "slurm", "sweep.sh"), "--ranks", ",".join(map(str, RANKS)),
                     "--strategies", ";".join("%s:--schedule %s" % (s, s) for s in STRATEGIES),
                     "--repeats", "1", "--studies", "strong,weak",
                     "--events", str(DATASET["events"]), "--events-per-rank", str(WEAK_PER_RANK),
                     "--users", str(DATASET["users"]), "--items", str(DATASET["items"]),
                     "--seed", str(DATASET["seed"]), "--bin", binary, "--job", job,
                     "--out", sweep, "--time", "5"], env=env, cwd=work)
    log(out.rstrip())
    last = [l for l in out.splitlines() if l.startswith("jobs: ")]
    if not last:
        raise Failure("sweep.sh did not print its job ids")
    sweep_ids = last[-1].split()[1:]
    jobs.extend(sweep_ids)
    if sweep_ids != read_text(os.path.join(sweep, "jobs.txt")).split():
        raise Failure("jobs.txt does not list the ids sweep.sh printed")

    # The same job with other input names, and spec paths that lead nowhere.
    with open(job) as f:
        spec = json.load(f)
    rename = {"events": "clicks", "users": "customers", "items": "products"}
    spec["inputs"] = {rename[k]: dict(v, path="nowhere/%s.jsonl" % k)
                      for k, v in spec["inputs"].items()}
    for step in spec["steps"]:
        if "join" in step:
            step["join"] = rename[step["join"]]
    renamed_job = os.path.join(work, "renamed.json")
    with open(renamed_job, "w") as f:
        json.dump(spec, f, indent=2)
    sweep2 = os.path.join(work, "sweep_renamed")
    _, out2, _ = run([os.path.join(src, "slurm", "sweep.sh"), "--ranks", "2",
                      "--strategies", "dynamic:--schedule dynamic", "--repeats", "1",
                      "--studies", "strong,weak", "--events-per-rank", str(WEAK_PER_RANK),
                      "--users", str(DATASET["users"]), "--items", str(DATASET["items"]),
                      "--seed", str(DATASET["seed"]), "--bin", binary, "--job", renamed_job,
                      "--input", "clicks=%s/events.jsonl" % data,
                      "--input", "customers=%s/users.jsonl" % data,
                      "--input", "products=%s/items.jsonl" % data,
                      "--out", sweep2, "--time", "5"], env=env, cwd=work)
    log(out2.rstrip())
    last2 = [l for l in out2.splitlines() if l.startswith("jobs: ")]
    if not last2:
        raise Failure("sweep.sh (renamed inputs) did not print its job ids")
    sweep2_ids = last2[-1].split()[1:]
    jobs.extend(sweep2_ids)
    if "strong scaling: inputs " not in out2 or out2.count("generator job") != 1:
        raise Failure("renamed sweep: strong scaling should read the --input files and only "
                      "weak scaling generate data")

    # The reference runs while Slurm works through the queue.
    ref = os.path.join(work, "ref")
    run([args.mpiexec, args.np_flag, "2", binary] + run_args + ["--output", ref], env=env,
        cwd=work, timeout=90)

    wait_jobs(jobs, "sbatch and sweep")
    log("all %d jobs left the queue after %.1f s" % (len(jobs), time.monotonic() - START))

    for job_id, launcher in ((srun_id, "srun"), (mpirun_id, "mpirun")):
        check_completed(job_id, 1, logs)
        name = "sf-e2e-%s-%s.out" % (launcher, job_id)
        check_log(os.path.join(logs, name), launcher)
    same_output(ref, os.path.join(work, "out_srun"), "sbatch with srun")
    same_output(ref, os.path.join(work, "out_mpirun"), "sbatch with mpirun")

    # sweep ids in order: strong generator, 2 arrays, then per rank count a
    # weak generator and an array, then the collector.
    tasks = {i: 1 for i in sweep_ids}
    with open(os.path.join(sweep, "runs.tsv"), newline="") as f:
        plan = list(csv.DictReader(f, delimiter="\t"))
    arrays = [l.split("array job ")[1].split()[0] for l in out.splitlines() if "array job " in l]
    if len(arrays) != 2 * len(RANKS):
        raise Failure("sweep.sh reported %d arrays, expected %d" % (len(arrays), 2 * len(RANKS)))
    for a in arrays:
        tasks[a] = len(STRATEGIES)
    for job_id in sweep_ids:
        check_completed(job_id, tasks[job_id], os.path.join(sweep, "logs"))
    log("ok: %d sweep jobs completed with exit code 0" % len(sweep_ids))
    if len(plan) != 2 * len(RANKS) * len(STRATEGIES):
        raise Failure("runs.tsv plans %d runs" % len(plan))
    for p in plan:
        if p["study"] == "strong":
            same_output(ref, os.path.join(sweep, p["run_dir"]), "sweep run " + p["run_dir"])
    check_collector(sweep, shutil.which("gnuplot") is not None)

    # Renamed inputs: a strong array, a weak generator and array, the collector.
    for job_id in sweep2_ids:
        check_completed(job_id, 1, os.path.join(sweep2, "logs"))
    same_output(ref, os.path.join(sweep2, "runs", "strong", "n2", "dynamic", "r1"),
                "renamed-input sweep, strong run")
    with open(os.path.join(sweep2, "results", "results.csv"), newline="") as f:
        rows2 = {r["study"]: r for r in csv.DictReader(f)}
    if sorted(rows2) != ["strong", "weak"]:
        raise Failure("renamed sweep: results.csv studies %s" % sorted(rows2))
    if int(rows2["weak"]["lines_read"]) != 2 * WEAK_PER_RANK:
        raise Failure("renamed sweep: the weak run read %s lines, expected %d" % (
            rows2["weak"]["lines_read"], 2 * WEAK_PER_RANK))
    log("ok: a sweep of a job with other input names (--input and generated)")
    log("slurm.end_to_end passed in %.1f s" % (time.monotonic() - START))


def cleanup(src, state, jobs):
    if jobs:
        p = subprocess.run(["squeue", "-h", "-o", "%i", "-j", ",".join(jobs)],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           universal_newlines=True)
        left = sorted({l.split("_")[0] for l in p.stdout.split()})
        if left:
            log("cancelling jobs still queued: " + " ".join(left))
            subprocess.run(["scancel"] + left)
    p = subprocess.run([os.path.join(src, "scripts", "slurm-stop"), "--state", state],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    if p.stdout.strip():
        log(p.stdout.strip())
    if p.returncode != 0:
        log("scripts/slurm-stop exited %d" % p.returncode)
    return p.returncode == 0


def on_signal(signum, _frame):
    raise Failure("killed by signal %d" % signum)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        main()
    except Skip as e:
        log("SKIP slurm.end_to_end: %s" % e)
        sys.exit(SKIP)
    except Failure as e:
        log("FAIL slurm.end_to_end: %s" % e)
        sys.exit(1)
    sys.exit(0)

#!/usr/bin/env python3
"""shardflow under mpirun as a user runs it in a terminal (issue 19).

usage: mpirun_test.py SHARDFLOW MPIEXEC JOB.json

- Progress: mpirun runs in a pseudo-terminal (python's pty module), so its
  stderr is a terminal while every rank's stderr is a pipe to mpirun. Rank 0
  must still show progress: a line with "ETA" that is rewritten in place (a
  "\\r" and no "\\n" between two updates), every phase named (run: scan, run:
  shuffle; flatten: pass 1/2 schema, pass 2/2 write), and cleared before the
  summary. Into a pipe there is none, unless --progress: then one line per
  update and no "\\r".
- Failures: with `mpirun -q` (Open MPI's switch for its own messages) a
  failed run prints only shardflow's lines: a usage error is two lines, a
  missing input one, a failfast run two; the exit code is shardflow's.
"""
import os
import pty
import re
import select
import subprocess
import sys
import tempfile
import time

failures = []
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           SHARDFLOW_PROGRESS_INTERVAL="0")  # print every update: no timing luck needed


def check(cond, what, out=None):
    if not cond:
        failures.append(what + ("" if out is None else "\n  output: %r" % out[-3000:]))


def in_pty(argv, timeout=120):
    """Runs argv with stdin, stdout and stderr on a new pseudo-terminal;
    returns (exit code, everything written to it)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=ENV,
                         start_new_session=True)
    os.close(slave)
    out = b""
    end = time.time() + timeout
    while time.time() < end:
        r, _, _ = select.select([master], [], [], 1)
        if not r:
            if p.poll() is not None:
                break
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: every writer closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    try:
        rc = p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = -1
    return rc, out.decode("utf-8", "replace")


def piped(argv):
    p = subprocess.run(argv, capture_output=True, text=True, env=ENV, timeout=120)
    return p.returncode, p.stderr


def main():
    exe, mpiexec, job = sys.argv[1:4]
    mpi2 = [mpiexec, "-np", "2"]
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "data")
        subprocess.run([exe, "gen", "kpi", "--events", "60000", "-o", data], check=True,
                       capture_output=True, env=ENV)
        inputs = ["--input", "events=%s/events.jsonl" % data,
                  "--input", "users=%s/users.jsonl" % data,
                  "--input", "items=%s/items.jsonl" % data]
        run = [exe, "run", job, *inputs, "--chunk-size", "1M"]

        # Progress in a terminal, through mpirun.
        rc, out = in_pty(mpi2 + run + ["-o", os.path.join(tmp, "o1")])
        check(rc == 0, "pty run: exit 0", out)
        check("ETA" in out, "pty run: an ETA line appears", out)
        check(re.search(r"\rrun: scan: [^\r\n]*ETA[^\r\n]*\rrun: scan: ", out) is not None,
              "pty run: a scan line is overwritten in place ('\\r', no '\\n' between)", out)
        check("\rrun: shuffle: " in out, "pty run: the shuffle is named", out)
        check(re.search(r"\r +\rshardflow: daily_kpi: ", out) is not None,
              "pty run: the progress line is cleared before the summary", out)
        check(re.search(r"run: scan:[^\r]*\n", out) is None,
              "pty run: no progress line ends with a newline", out)

        orders = os.path.join(tmp, "orders")
        subprocess.run([exe, "gen", "orders", "--orders", "8000", "-o", orders], check=True,
                       capture_output=True, env=ENV)
        rc, out = in_pty(mpi2 + [exe, "flatten", orders + "/orders.jsonl", "-o",
                                 os.path.join(tmp, "f1"), "--chunk-size", "1M"])
        check(rc == 0, "pty flatten: exit 0", out)
        for label in ("flatten: pass 1/2 schema: ", "flatten: pass 2/2 write: "):
            check("\r" + label in out, "pty flatten: %r is shown" % label, out)

        # Into a pipe: nothing by default; with --progress one line per update.
        rc, err = piped(mpi2 + run + ["-o", os.path.join(tmp, "o2")])
        check(rc == 0 and "run: scan" not in err and "\r" not in err,
              "pipe: no progress without --progress", err)
        rc, err = piped(mpi2 + run + ["-o", os.path.join(tmp, "o3"), "--progress", "--quiet"])
        lines = [l for l in err.split("\n") if l.startswith("run: scan: ")]
        check(rc == 0 and len(lines) >= 2 and "\r" not in err,
              "pipe --progress: several 'run: scan' lines, no '\\r'", err)
        check(any("ETA" in l for l in lines), "pipe --progress: lines with ETA", err)

        # Failures under `mpirun -q`: shardflow's lines only, its exit code.
        quiet = [mpiexec, "-q", "-np", "2"]
        version = subprocess.run([mpiexec, "--version"], capture_output=True, text=True).stdout
        if "Open MPI" not in version:
            print("not Open MPI (%r): the -q checks are skipped" % version.split("\n")[0])
        else:
            cases = [
                (run + ["--outptu", "x"], 2, ["shardflow run: unknown option '--outptu'; "
                                              "did you mean --output?",
                                              "Try 'shardflow run --help'."]),
                ([exe, "run", job, "--input", "events=%s/none.jsonl" % tmp, *inputs[2:],
                  "-o", os.path.join(tmp, "o4")], 1, None),
            ]
            bad = os.path.join(tmp, "bad.jsonl")
            with open(bad, "w") as f:
                f.write('{"a": 1}\nnot json\n')
            cases.append(([exe, "run", job, "--input", "events=" + bad, *inputs[2:], "-o",
                           os.path.join(tmp, "o5"), "--mode", "failfast"], 2, None))
            counts = [2, 1, 2]
            for (argv, code, want), n in zip(cases, counts):
                rc, err = piped(quiet + argv)
                got = err.splitlines()
                what = "mpirun -q %s: " % " ".join(argv[1:3] + argv[-2:])
                check(rc == code, what + "exit %d (got %d)" % (code, rc), err)
                check(len(got) == n, what + "%d lines of stderr (got %d)" % (n, len(got)), err)
                check(all(l.startswith("shardflow") for l in got),
                      what + "only shardflow's lines", err)
                if want:
                    check(got == want, what + "the usage error", err)
            # Without -q, mpirun adds its own lines but keeps the exit code.
            rc, err = piped(mpi2 + cases[0][0])
            check(rc == 2 and len(err.splitlines()) > 2,
                  "mpirun without -q: exit 2, and Open MPI's own lines (docs say -q)", err)

    for f in failures:
        print("FAIL:", f)
    if failures:
        return 1
    print("mpirun_test: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

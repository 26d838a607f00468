"""sftest.py - the scaffolding the tests/mpi/*_test.py drivers share.

Python 3 standard library only. A driver imports the names its test bodies
use (`from sftest import Failure, log, run, mpi, tail, ...`), sets
`sftest.TIMEOUT` when its commands need another limit than 100 s, and ends
with `sys.exit(sftest.main(handler, args))`, which turns a `Failure` into
"FAIL: ..." and exit 1.

What lives here is what every driver did the same way: running a command in
a process group of its own (so a hung mpiexec and its ranks can be killed
together) with a time limit, the mpiexec command line, the tail of a long
output, fresh work directories, the data files of an output tree (names
starting with '_' or '.' are markers, manifests, metrics, bad records and
staging, never data), trees compared byte for byte with the first differing
line named, snapshots of a directory, bad records read back, and the PIDs of
the ranks writing an output. What a test checks stays in its driver.
"""

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys

TIMEOUT = 100  # seconds per command; a driver may set sftest.TIMEOUT


class Failure(Exception):
    """A check failed; the message says what and where."""


def log(msg):
    print(msg, flush=True)


def tail(data, n=40):
    """The last n lines of data (bytes or str), with a count of what was
    left out in front."""
    if isinstance(data, bytes):
        data = data.decode("utf-8", "replace")
    lines = data.splitlines()
    if len(lines) > n:
        lines = ["[... %d lines ...]" % (len(lines) - n)] + lines[-n:]
    return "\n".join(lines)


def run(cmd, expect_ok=True, cwd=None, stdin=None, text=False, timeout=None, env=None):
    """Runs cmd in its own process group with stdin bytes (or /dev/null);
    returns (rc, stdout, stderr), as str when text is true. A command still
    running after timeout (default TIMEOUT) seconds is killed with its whole
    group and raises Failure, as does a non-zero exit when expect_ok."""
    limit = TIMEOUT if timeout is None else timeout
    log("$ %s%s%s" % ("(cd %s) " % cwd if cwd else "", " ".join(cmd),
                      " < (%d bytes)" % len(stdin) if stdin is not None else ""))
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd, env=env,
                         start_new_session=True)
    try:
        out, err = p.communicate(input=stdin, timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        raise Failure("timed out after %d s: %s\n--- stdout:\n%s\n--- stderr:\n%s" % (
            limit, " ".join(cmd), tail(out), tail(err)))
    if expect_ok and p.returncode != 0:
        raise Failure("exit code %d: %s\n--- stdout:\n%s\n--- stderr:\n%s" % (
            p.returncode, " ".join(cmd), tail(out), tail(err)))
    if text:
        out, err = out.decode("utf-8", "replace"), err.decode("utf-8", "replace")
    return p.returncode, out, err


def run_past_mpi_crash(cmd, crashed, why, stdin=None):
    """run(cmd) for a run expected to fail, made again (at most three times
    in all, each logged with why) while crashed(rc, err) says that Open MPI
    4.1 itself crashed after shardflow had said what it had to: a known
    fault of the launcher or its teardown, nothing of shardflow's."""
    for attempt in range(3):
        rc, out, err = run(cmd, stdin=stdin, expect_ok=False)
        if not crashed(rc, err):
            break
        log("  %s: run again" % why)
    return rc, out, err


def start(cmd, env=None):
    """Starts cmd in its own process group without waiting; returns the
    Popen (stdout and stderr piped)."""
    log("$ " + " ".join(cmd) + " &")
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            start_new_session=True)


def mpi(args, np, sub):
    """shardflow SUB under mpiexec on np ranks (args: --mpiexec, --np-flag,
    --shardflow as parser() adds them)."""
    return [args.mpiexec, args.np_flag, str(np), args.shardflow] + sub


def parser(description=None, **kw):
    """An ArgumentParser with the options every driver takes: --shardflow,
    --mpiexec, --np-flag (default -n) and --work."""
    ap = argparse.ArgumentParser(description=description, **kw)
    ap.add_argument("--shardflow", required=True)
    ap.add_argument("--mpiexec", required=True)
    ap.add_argument("--np-flag", default="-n")
    ap.add_argument("--work", required=True)
    return ap


def main(handler, args):
    """Calls handler(args); returns the exit status: 0 and "PASS", or 1
    with "FAIL: message" when a check raised Failure."""
    try:
        handler(args)
    except Failure as e:
        print("FAIL: %s" % e, file=sys.stderr, flush=True)
        return 1
    log("PASS")
    return 0


def pipeline_main(handler, doc, cases):
    """main() of a pipeline driver (pipelines_test, video_star_test): the
    common options plus --jobs, --reference, --cases, --case (one of
    cases) and --np, then handler(args) as main() runs it."""
    ap = parser(description=doc.splitlines()[0])
    for opt in ("--jobs", "--reference", "--cases"):
        ap.add_argument(opt, required=True)
    ap.add_argument("--case", required=True, choices=sorted(cases))
    ap.add_argument("--np", type=int, required=True)
    return main(handler, ap.parse_args())


def reset_dir(path):
    """An empty directory at path (whatever was there is removed)."""
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)


def data_files(root):
    """Sorted relative paths of the data files under root: every file
    except those with a path component starting with '_' or '.'
    (_MANIFEST.json, _SUCCESS, _temporary/, metrics and bad records)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d[0] not in "_.")
        for f in filenames:
            if f[0] not in "_.":
                found.append(os.path.relpath(os.path.join(dirpath, f), root))
    return sorted(found)


def read_file(path):
    with open(path, "rb") as fh:
        return fh.read()


def read_tree(root):
    """{relative data file: its bytes} under root."""
    return {f: read_file(os.path.join(root, f)) for f in data_files(root)}


def digest(path):
    """The sha256 of a file's bytes, in hex."""
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def digest_tree(root):
    """{relative data file: sha256}."""
    return {f: digest(os.path.join(root, f)) for f in data_files(root)}


def snapshot(root):
    """Every path under root, markers and directories included: "dir" or
    the file's sha256."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            snap[os.path.relpath(os.path.join(dirpath, name), root)] = "dir"
        for name in filenames:
            p = os.path.join(dirpath, name)
            snap[os.path.relpath(p, root)] = digest(p)
    return snap


def first_difference(got, want):
    """Describes the first differing line of two byte strings."""
    g, w = got.split(b"\n"), want.split(b"\n")
    for i in range(max(len(g), len(w))):
        gl = g[i] if i < len(g) else None
        wl = w[i] if i < len(w) else None
        if gl != wl:
            return "first difference at line %d:\n    got:  %r\n    want: %r" % (
                i + 1, gl if gl is None else gl[:300], wl if wl is None else wl[:300])
    return "files differ (same lines?)"


def compare_trees(got_dir, want_dir, what="output", nonempty=False):
    """Raises Failure unless got_dir holds the same data files as want_dir
    with the same bytes (naming the first differing line); with nonempty,
    also when want_dir holds none. Returns the number of files."""
    want, got = data_files(want_dir), data_files(got_dir)
    if nonempty and not want:
        raise Failure("%s: %s holds no data files: the test would prove nothing"
                      % (what, want_dir))
    if got != want:
        raise Failure("%s: files differ:\n  got:  %s\n  want: %s" % (what, got[:10], want[:10]))
    for rel in want:
        g, w = read_file(os.path.join(got_dir, rel)), read_file(os.path.join(want_dir, rel))
        if g != w:
            raise Failure("%s: %s differs; %s" % (what, rel, first_difference(g, w)))
    return len(want)


def bad_records(out, fix=None):
    """The records of out/_bad_records/ in line order, without their file
    names; fix(record) may rewrite each one first."""
    recs = []
    d = os.path.join(out, "_bad_records")
    for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
        with open(os.path.join(d, name), encoding="utf-8") as fh:
            for line in fh:
                r = json.loads(line)
                r.pop("file", None)
                if fix:
                    fix(r)
                recs.append(r)
    return sorted(recs, key=lambda r: r["line"])


def mount_tmpfs(path, size):
    """Makes the directory path and mounts a tmpfs of size (mount's
    notation: "256k") on it, for a test of a full disk; returns None, or
    why it cannot be mounted here (not root, no mount privilege). The
    caller unmounts it."""
    os.makedirs(path)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", path],
                       capture_output=True)
    if p.returncode == 0:
        return None
    return p.stderr.decode("utf-8", "replace").strip() or "mount exited %d" % p.returncode


def kill_ranks(p, pids):
    """SIGKILLs every rank in pids (a lost node: nothing can clean up)
    and waits up to 60 s for the job p (a start() process) to end; raises
    Failure, killing its whole group, when it does not."""
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    try:
        p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        raise Failure("the job did not end after its ranks were killed")


def rank_pids(out):
    """Sorted PIDs of the shardflow processes (ranks, not mpiexec) whose
    command line names out."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as fh:
                argv = fh.read().split(b"\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0]) == b"shardflow" and out.encode() in argv:
            pids.append(int(d))
    return sorted(pids)

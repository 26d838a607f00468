#!/usr/bin/env python3
"""stdin_test.py - inputs that can be read only once: `-` (standard input)
and a FIFO, plain and compressed, for `run`, `flatten` and `schema`.

Rank 0 reads such an input and deals out blocks of whole lines (mpi/scan.h,
feeds). Every check compares against the same command on the plain file:
byte-identical output files, the same bad records (line numbers and
decoded offsets), the same failfast place, and manifest sizes that say what
was read. CTest calls one subcommand per rank count:

  stdin_test.py COMMON run --np N       run: stdin (gzip), FIFO (zstd), failfast
  stdin_test.py COMMON flatten --np N   flatten from stdin, a FIFO, gzip and zstd files;
                                        schema from a pipe and a gzip file

COMMON: --shardflow BIN --mpiexec MPIEXEC [--np-flag -n] --job daily_kpi.json
        --work DIR

Every check fails loudly (no skips). Exit status 0 = pass, 1 = fail.
"""

import argparse
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import threading

import sftest
from sftest import Failure, data_files, log, mpi, reset_dir, run, run_past_mpi_crash, tail
from sftest import read_tree as tree

sftest.TIMEOUT = 120


def run_failing_on_stdin(cmd, data):
    """run(cmd) with data on stdin. Open MPI 4's mpiexec may crash in its
    own stdin forwarding after the ranks ended (SIGSEGV in
    orte_iof_hnp_read_local_handler: open-mpi/ompi#7483, fixed in 5.0),
    most often when a run stops before reading it all, once after `schema
    -` had read it all; that says nothing of shardflow."""
    return run_past_mpi_crash(
        cmd, lambda rc, err: rc < 0 and b"orte_iof_hnp_read_local_handler" in err,
        "mpiexec itself crashed forwarding stdin (open-mpi/ompi#7483)", stdin=data)


def run_ok_on_stdin(cmd, data):
    """run_failing_on_stdin for a run that must succeed: its stdout."""
    rc, out, err = run_failing_on_stdin(cmd, data)
    if rc != 0:
        raise Failure("exit code %d: %s\n--- stderr:\n%s" % (rc, " ".join(cmd), tail(err)))
    return out


def run_fifo(cmd, fifo, data):
    """Runs cmd while a thread writes data into the FIFO (created here)."""
    if os.path.exists(fifo):
        os.unlink(fifo)
    os.mkfifo(fifo)

    def writer():
        with open(fifo, "wb") as fh:  # blocks until rank 0 opens it
            fh.write(data)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    res = run(cmd)
    t.join(10)
    if t.is_alive():
        raise Failure("the FIFO writer never finished: the input was not read to its end")
    return res


def strip_place(msg):
    """A message without the file name and byte a too-long line's message
    starts with (the record's own fields give them; inside a compressed
    range the byte is not known when the line is read)."""
    return re.sub(r"^.*?: (byte \d+: )?(?=line longer)", "", msg)


def bad_records(out):
    """The bad records of an output without their file names, by line."""
    return sftest.bad_records(out, fix=lambda r: r.update(message=strip_place(r["message"])))


def same_output(name, got, want):
    a, b = tree(got), tree(want)
    if not a:
        raise Failure("%s: no output files" % name)
    if a != b:
        diff = sorted(set(a) ^ set(b)) or [r for r in a if a[r] != b[r]]
        raise Failure("%s: output differs from the plain file's: %s" % (name, diff[:5]))
    if bad_records(got) != bad_records(want):
        raise Failure("%s: bad records differ from the plain file's:\n  got  %s\n  want %s" % (
            name, bad_records(got)[:3], bad_records(want)[:3]))
    log("  %s: %d files and %d bad records as the plain file's" % (
        name, len(a), len(bad_records(got))))


def samples(out):
    """The manifest's rejected samples: offset, reason and message without
    the file's name."""
    with open(os.path.join(out, "_MANIFEST.json"), encoding="utf-8") as fh:
        return [(s["offset"], s["reason"], strip_place(s["message"]))
                for s in json.load(fh)["rejected_samples"]]


def same_samples(name, got, want):
    a, b = samples(got), samples(want)
    if len(b) < 3 or a != b:
        raise Failure("%s: rejected samples differ from the plain file's:\n  got  %s\n"
                      "  want %s" % (name, a, b))


def make_lines(text, bad_from, every):
    """The lines of text with bad ones spread through, one over 2 KiB, a
    CRLF line and no final newline."""
    lines = text.split(b"\n")[:-1]
    for i in range(bad_from, len(lines), every):
        lines[i] = lines[i][:20]
    lines[7] += b"\r"
    lines[len(lines) // 2] = b'{"long":"' + b"x" * 5000 + b'"}'
    return b"\n".join(lines)


# ---- run ----

def cmd_run(args):
    base = os.path.join(args.work, "stdin_run_n%d" % args.np)
    reset_dir(base)
    data = os.path.join(base, "data")
    run(mpi(args, 1, ["gen", "kpi", "--events", "20000", "--users", "200", "--items", "40",
                      "--seed", "5", "-o", data]))
    events = os.path.join(data, "events.jsonl")
    with open(events, "rb") as fh:
        text = make_lines(fh.read(), 1500, 911)
    with open(events, "wb") as fh:
        fh.write(text)
    dims = []
    for n in ("users", "items"):
        dims += ["--input", "%s=%s" % (n, os.path.join(data, n + ".jsonl"))]
    opts = ["--chunk-size", "64K", "--max-line-bytes", "2K", "--max-bad", "100%",
            "--no-progress", "--quiet"] + dims

    def job(inp, out, extra=()):
        return mpi(args, args.np, ["run", args.job, "--input", "events=" + inp, "-o", out] +
                   opts + list(extra))

    plain = os.path.join(base, "plain")
    run(job(events, plain))
    if not bad_records(plain):
        raise Failure("the plain run kept no bad records")

    out = os.path.join(base, "stdin_gzip")
    run(job("-", out), stdin=gzip.compress(text))
    same_output("stdin (gzip)", out, plain)
    same_samples("stdin (gzip)", out, plain)
    with open(os.path.join(out, "_MANIFEST.json"), encoding="utf-8") as fh:
        f = [i for i in json.load(fh)["inputs"] if i["role"] == "fact"][0]["files"][0]
    if f["path"] != "-" or f["codec"] != "gzip" or f["uncompressed_bytes"] != len(text) \
            or f["lines"] != text.count(b"\n") + 1:
        raise Failure("manifest entry of stdin: %r" % f)

    # A BGZF file is split into ranges whose offsets count from their
    # first byte: the samples still name the file's bytes.
    if shutil.which("bgzip"):
        bgzf = os.path.join(base, "events.bgzf")
        with open(bgzf, "wb") as fh:
            fh.write(subprocess.run(["bgzip", "-c"], input=text, stdout=subprocess.PIPE,
                                    check=True).stdout)
        out = os.path.join(base, "bgzf")
        run(job(bgzf, out, ["--chunk-size", "16K"]))
        same_output("BGZF file", out, plain)
        same_samples("BGZF file", out, plain)
    else:
        log("bgzip not installed: the BGZF samples case is skipped")

    out = os.path.join(base, "fifo_plain")
    run_fifo(job(os.path.join(base, "events.fifo"), out), os.path.join(base, "events.fifo"), text)
    same_output("FIFO (plain)", out, plain)

    if shutil.which("zstd"):
        z = subprocess.run(["zstd", "-q", "-c"], input=text, stdout=subprocess.PIPE,
                           check=True).stdout
        out = os.path.join(base, "fifo_zstd")
        run_fifo(job(os.path.join(base, "z.fifo"), out), os.path.join(base, "z.fifo"), z)
        same_output("FIFO (zstd)", out, plain)
    else:
        log("zstd not installed: the zstd FIFO case is skipped")

    # failfast from stdin names the line and column like the plain file
    # (on several ranks whichever rank meets a bad line first stops the
    # run: any bad line, but its exact number).
    rc, _, err = run_failing_on_stdin(job("-", os.path.join(base, "ff"), ["--mode", "failfast"]),
                                      text)
    lines = text.split(b"\n")
    m = re.search(rb"-:(\d+):21: invalid JSON: [^\n]*\(byte offset (\d+);", err)
    if rc != 2 or not m or os.path.exists(os.path.join(base, "ff", "_SUCCESS")):
        raise Failure("failfast from stdin: exit %d, stderr %s" % (rc, tail(err)))
    line, offset = int(m.group(1)), int(m.group(2))
    if (line - 1501) % 911 or len(b"\n".join(lines[:line - 1])) + 1 != offset or \
            (args.np == 1 and line != 1501):
        raise Failure("failfast from stdin named line %d at byte %d" % (line, offset))
    log("  failfast from stdin: line %d, byte %d" % (line, offset))


# ---- flatten and schema ----

def cmd_flatten(args):
    base = os.path.join(args.work, "stdin_flatten_n%d" % args.np)
    reset_dir(base)
    data = os.path.join(base, "data")
    run(mpi(args, 1, ["gen", "orders", "--orders", "2500", "--customers", "100", "--skus", "30",
                      "--seed", "3", "-o", data]))
    src = os.path.join(data, "orders.jsonl")
    with open(src, "rb") as fh:
        text = make_lines(fh.read(), 300, 701)
    # A UTF-8 BOM: skipped by the readers, kept in the spool.
    text = b"\xef\xbb\xbf" + text
    with open(src, "wb") as fh:
        fh.write(text)
    opts = ["--explode", "items", "--chunk-size", "64K", "--max-line-bytes", "2K",
            "--max-bad", "100%", "--no-progress", "--quiet"]

    def flat(inp, out):
        return mpi(args, args.np, ["flatten", inp, "-o", out] + opts)

    plain = os.path.join(base, "plain")
    run(flat(src, plain))
    if len(data_files(plain)) < 5:
        raise Failure("only %d part files: chunks too large to test anything" %
                      len(data_files(plain)))
    out = os.path.join(base, "stdin_gzip")
    run(flat("-", out), stdin=gzip.compress(text))
    same_output("flatten stdin (gzip)", out, plain)
    with open(os.path.join(out, "_MANIFEST.json"), encoding="utf-8") as fh:
        m = json.load(fh)
    with open(os.path.join(plain, "_MANIFEST.json"), encoding="utf-8") as fh:
        mp = json.load(fh)
    if m["counts"] != mp["counts"] or m["inputs"][0]["codec"] != "gzip" \
            or m["inputs"][0]["uncompressed_bytes"] != len(text):
        raise Failure("flatten manifest from stdin: %r %r" % (m["counts"], m["inputs"]))
    leftovers = [n for n in os.listdir(out) if "spool" in n]
    if leftovers or os.path.isdir(os.path.join(out, "_temporary")):
        raise Failure("the spool was left behind: %s" % os.listdir(out))

    out = os.path.join(base, "fifo")
    run_fifo(flat(os.path.join(base, "o.fifo"), out), os.path.join(base, "o.fifo"), text)
    same_output("flatten FIFO (plain)", out, plain)

    # Compressed files (told by their first bytes, whatever their names):
    # fed by rank 0 and spooled like a stream.
    gz = os.path.join(base, "orders.data")
    with open(gz, "wb") as fh:
        fh.write(gzip.compress(text))
    out = os.path.join(base, "file_gzip")
    run(flat(gz, out))
    same_output("flatten gzip file", out, plain)
    if shutil.which("zstd"):
        zst = os.path.join(base, "orders.zst")
        subprocess.run(["zstd", "-q", "-f", src, "-o", zst], check=True)
        out = os.path.join(base, "file_zstd")
        run(flat(zst, out))
        same_output("flatten zstd file", out, plain)

    # schema from a pipe prints what it prints for the file.
    _, want, _ = run(mpi(args, args.np, ["schema", src, "--explode", "items",
                                         "--max-line-bytes", "2K"]))
    got = run_ok_on_stdin(mpi(args, args.np, ["schema", "-", "--explode", "items",
                                              "--max-line-bytes", "2K"]), gzip.compress(text))
    if got != want or b"items.sku" not in got:
        raise Failure("schema from a pipe:\n%s\nfrom the file:\n%s" % (tail(got), tail(want)))
    _, got, _ = run(mpi(args, args.np, ["schema", gz, "--explode", "items",
                                        "--max-line-bytes", "2K"]))
    if got != want:
        raise Failure("schema of a gzip file:\n%s\nfrom the plain file:\n%s" % (tail(got),
                                                                                 tail(want)))
    ddl = run_ok_on_stdin(mpi(args, args.np, ["schema", "-", "--ddl", "duckdb"]), text)
    if not ddl.startswith(b'CREATE TABLE "stdin" ('):
        raise Failure("schema --ddl from stdin: %s" % tail(ddl))
    log("  schema from a pipe: the same %d lines" % got.count(b"\n"))


def main(argv):
    ap = sftest.parser(__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--job", required=True)
    ap.add_argument("command", choices=("run", "flatten"))
    ap.add_argument("--np", type=int, default=2)
    args = ap.parse_args(argv)
    return sftest.main({"run": cmd_run, "flatten": cmd_flatten}[args.command], args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

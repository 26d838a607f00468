#!/usr/bin/env python3
"""GNU-style usage errors of every command (issue 19).

usage: usage_test.py SHARDFLOW

A usage error is one line naming the problem, then "Try 'shardflow CMD
--help'.", exit code 2; a near miss of a known option names it ("did you mean
--output?"); "--" ends the options; `shardflow help CMD` prints exactly what
`shardflow CMD --help` prints.
"""
import os
import subprocess
import sys
import tempfile

failures = []


def sh(exe, *args):
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    return subprocess.run([exe, *args], capture_output=True, text=True, env=env, timeout=120)


def check(cond, what, p=None):
    if not cond:
        extra = "" if p is None else "\n  exit %d\n  stderr: %r" % (p.returncode, p.stderr)
        failures.append(what + extra)


def usage_error(exe, cmd, args, problem, hint=None):
    p = sh(exe, *args)
    lines = p.stderr.splitlines()
    label = "%s: " % " ".join(args)
    check(p.returncode == 2, label + "exit code 2", p)
    check(len(lines) == 2, label + "two lines of stderr", p)
    check(p.stdout == "", label + "nothing on stdout", p)
    if len(lines) == 2:
        check(problem in lines[0], label + "names the problem %r" % problem, p)
        if hint:
            check(lines[0].endswith("did you mean %s?" % hint), label + "hints %s" % hint, p)
        else:
            check("did you mean" not in lines[0], label + "no hint", p)
        try_cmd = "shardflow %s --help" % cmd if cmd else "shardflow --help"
        check(lines[1] == "Try '%s'." % try_cmd, label + "ends with Try '%s'." % try_cmd, p)


def main():
    exe = sys.argv[1]
    # Near misses: edit distance <= 2, or a unique prefix.
    usage_error(exe, "run", ["run", "job.json", "--outptu", "x"], "'--outptu'", "--output")
    usage_error(exe, "run", ["run", "job.json", "--out=x"], "'--out=x'", "--output")
    usage_error(exe, "run", ["run", "job.json", "--repartiton", "none"], "--repartiton",
                "--repartition")
    usage_error(exe, "run", ["run", "job.json", "--zzzzzz"], "unknown option '--zzzzzz'")
    usage_error(exe, "run", ["run"], "missing JOB.json")
    usage_error(exe, "run", ["run", "job.json", "--mode", "lax"], "--mode takes")
    usage_error(exe, "validate", ["validate", "j.json", "--inptu", "a=b"], "--inptu", "--input")
    usage_error(exe, "flatten", ["flatten", "a.jsonl", "--sepp", "_", "-o", "o"], "--sepp",
                "--sep")
    usage_error(exe, "flatten", ["flatten", "a.jsonl"], "missing -o OUT")
    usage_error(exe, "schema", ["schema", "a.jsonl", "--tabel", "t"], "--tabel", "--table")
    usage_error(exe, "gen", ["gen", "kpi", "--evnts", "5", "-o", "x"], "--evnts", "--events")
    usage_error(exe, "gen", ["gen", "kpi"], "missing -o DIR")
    usage_error(exe, "gen", ["gen", "nope", "-o", "x"], "unknown dataset 'nope'")
    usage_error(exe, "inspect", ["inspect", "--hed", "3", "x"], "--hed", "--head")
    usage_error(exe, "cat", ["cat", "x", "--fromat", "csv"], "--fromat", "--format")
    usage_error(exe, "experiment", ["experiment", "j.json", "--repot", "d"], "--repot",
                "--report")
    usage_error(exe, None, ["rnu"], "unknown command 'rnu'", "run")
    usage_error(exe, None, ["--vrsion"], "--vrsion", "--version")

    # "--" ends the options: what follows is an argument, even with a dash.
    with tempfile.TemporaryDirectory() as tmp:
        job = os.path.join(tmp, "-job.json")
        p = sh(exe, "validate", "--", job)
        check(p.returncode != 0 and "unknown option" not in p.stderr and job in p.stderr,
              "validate -- -job.json: '-job.json' is the job path", p)
        p = sh(exe, "inspect", "--", "--head")
        check("unknown option" not in p.stderr and "--head" in p.stderr,
              "inspect -- --head: '--head' is the path", p)
        p = sh(exe, "run", "--", "--help")
        check("usage:" not in p.stdout and "--help" in p.stderr,
              "run -- --help: '--help' is the job path, not a help request", p)
        usage_error(exe, "gen", ["gen", "kpi", "-o", tmp, "--", "extra"],
                    "unexpected argument 'extra'")

    # help CMD == CMD --help, for every command.
    for cmd in ["run", "validate", "experiment", "flatten", "schema", "gen", "inspect", "cat"]:
        a, b = sh(exe, "help", cmd), sh(exe, cmd, "--help")
        check(a.returncode == 0 and b.returncode == 0, "help %s: exit 0" % cmd, a)
        check(a.stdout == b.stdout and a.stdout.startswith("usage: shardflow %s" % cmd),
              "help %s prints what %s --help prints" % (cmd, cmd), a)
    top = sh(exe, "help")
    check(top.returncode == 0 and top.stdout.startswith("usage: shardflow COMMAND"),
          "help: the top-level help", top)
    usage_error(exe, None, ["help", "rnu"], "unknown command 'rnu'", "run")

    if failures:
        print("FAIL:\n- " + "\n- ".join(failures))
        return 1
    print("usage errors: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())

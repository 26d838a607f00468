#!/usr/bin/env python3
"""collect.py - merges the runs of a slurm/sweep.sh sweep into one table.

usage: python3 slurm/collect.py SWEEP_DIR [--results DIR] [--no-plot]

Reads SWEEP_DIR/runs.tsv (the runs sweep.sh planned: study, ranks, strategy,
repeat, run_dir) and each run's _MANIFEST.json (a job with several outputs:
one per output directory, merged), and writes into
SWEEP_DIR/results (or --results):

  results.csv   one row per run: study, ranks, strategy, repeat, wall and phase
                seconds, bytes scanned, MB/s, shuffle bytes, max peak RSS over
                the ranks, speedup, parallel efficiency
  summary.md    per study a table of medians over the repeats, the phase
                breakdown, and the fastest strategy per rank count
  <study>_scaling.png   wall time, speedup and efficiency against ranks, one
                line per strategy (gnuplot with slurm/plot.gp; skipped with a
                message when gnuplot is not installed)

Speedup and efficiency compare each run with the median wall time T_b of the
same study and strategy at the smallest rank count b of the sweep (normally 1):
  strong scaling (same input for every n):   speedup = b*T_b/T_n, efficiency = speedup/n
  weak scaling (input grows with n):         efficiency = T_b/T_n, speedup = n*efficiency
Both are 1.0 at n = b, and ideal scaling keeps efficiency at 1.0.

Exit status: 0 when every planned run has a manifest that matches it (rank
count, committed) and the plots (if gnuplot is there) were drawn; 1 otherwise,
after writing what it could; 2 for bad usage.
Python 3 standard library only.
"""

import argparse
import csv
import json
import os
import re
import shutil
import statistics
import subprocess
import sys

KNOWN_PHASES = ["plan", "scan+map", "shuffle", "reduce", "window", "write", "commit"]
STUDY_ORDER = {"strong": 0, "weak": 1}


def phase_column(name):
    return "phase_" + re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_") + "_s"


def read_plan(sweep):
    path = os.path.join(sweep, "runs.tsv")
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
    except OSError as e:
        raise SystemExit("collect.py: cannot read %s: %s" % (path, e.strerror))
    need = {"study", "ranks", "strategy", "repeat", "run_dir"}
    if not rows or not need.issubset(rows[0].keys()):
        raise SystemExit("collect.py: %s has no runs or lacks the columns %s" %
                         (path, ", ".join(sorted(need))))
    return rows


def read_manifest(run_dir):
    """The run's manifest as (path, dict). A job with several outputs
    ("outputs") has one manifest per output, RUN/NAME/_MANIFEST.json: they
    share the line counts; the run's wall time is the longest (the last
    output written), its output rows the sum. Raises OSError or ValueError."""
    where = os.path.join(run_dir, "_MANIFEST.json")
    if os.path.exists(where) or not os.path.isdir(run_dir):
        with open(where) as f:
            return where, json.load(f)
    parts = sorted(os.path.join(run_dir, d, "_MANIFEST.json") for d in os.listdir(run_dir)
                   if os.path.isfile(os.path.join(run_dir, d, "_MANIFEST.json")))
    if not parts:
        with open(where) as f:  # raises: no manifest at all
            return where, json.load(f)
    ms = []
    for p in parts:
        with open(p) as f:
            ms.append(json.load(f))
    m = dict(max(ms, key=lambda x: x.get("wall_seconds", 0)))
    m["counts"] = dict(m.get("counts", {}))
    m["counts"]["output_rows"] = sum(x.get("counts", {}).get("output_rows", 0) for x in ms)
    m["peak_rss_bytes"] = [max(x.get("peak_rss_bytes") or [0]) for x in ms]
    if any(x.get("status", "committed") != "committed" for x in ms):
        m["status"] = "not committed"
    return os.path.join(run_dir, "*", "_MANIFEST.json"), m


def load_run(sweep, plan):
    """Returns (row, None) or (None, problem) for one planned run."""
    where = os.path.join(sweep, plan["run_dir"], "_MANIFEST.json")
    try:
        where, m = read_manifest(os.path.join(sweep, plan["run_dir"]))
    except OSError as e:
        return None, "%s: %s" % (where, e.strerror)
    except ValueError as e:
        return None, "%s: not JSON: %s" % (where, e)
    ranks = int(plan["ranks"])
    if m.get("ranks") != ranks:
        # A launcher that starts n separate 1-rank programs instead of one
        # n-rank program shows up here.
        return None, "%s: ran on %r ranks, the sweep asked for %d" % (where, m.get("ranks"), ranks)
    if m.get("status", "committed") != "committed":
        return None, "%s: status %r, not committed" % (where, m.get("status"))
    wall = m.get("wall_seconds")
    if not isinstance(wall, (int, float)) or wall <= 0:
        return None, "%s: no positive wall_seconds" % where
    counts = m.get("counts", {})
    scanned = m.get("bytes_scanned", counts.get("bytes_scanned", 0))
    rss = m.get("peak_rss_bytes") or [0]
    row = {
        "study": plan["study"],
        "ranks": ranks,
        "strategy": plan["strategy"],
        "repeat": int(plan["repeat"]),
        "schedule": m.get("schedule", ""),
        "wall_s": float(wall),
        "phases": m.get("phases_seconds", {}),
        "bytes_scanned": int(scanned),
        "mb_per_s": scanned / wall / 1e6,
        "shuffle_bytes": int(m.get("shuffle", {}).get("bytes_sent", 0)),
        "peak_rss_max_bytes": int(max(rss)),
        "lines_read": int(counts.get("lines_read", 0)),
        "output_rows": int(counts.get("output_rows", 0)),
        "run_dir": plan["run_dir"],
    }
    return row, None


def add_scaling(rows):
    """Fills speedup, efficiency and baseline_ranks, per study and strategy."""
    groups = {}
    for r in rows:
        groups.setdefault((r["study"], r["strategy"]), []).append(r)
    for (study, _), runs in groups.items():
        base = min(r["ranks"] for r in runs)
        t_base = statistics.median(r["wall_s"] for r in runs if r["ranks"] == base)
        for r in runs:
            n = r["ranks"]
            if study == "weak":
                r["efficiency"] = t_base / r["wall_s"]
                r["speedup"] = n * r["efficiency"]
            else:
                r["speedup"] = base * t_base / r["wall_s"]
                r["efficiency"] = r["speedup"] / n
            r["baseline_ranks"] = base


def phase_names(rows):
    names = list(KNOWN_PHASES)
    for r in rows:
        for k in r["phases"]:
            if k not in names:
                names.append(k)
    return names


def sort_key(r):
    return (STUDY_ORDER.get(r["study"], 9), r["study"], r["ranks"], r["strategy_index"], r["repeat"])


def write_csv(path, rows, phases):
    cols = (["study", "ranks", "strategy", "repeat", "schedule", "wall_s"] +
            [phase_column(p) for p in phases] +
            ["bytes_scanned", "mb_per_s", "shuffle_bytes", "peak_rss_max_bytes",
             "lines_read", "output_rows", "speedup", "efficiency", "baseline_ranks", "run_dir"])
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(cols)
        for r in rows:
            out = [r["study"], r["ranks"], r["strategy"], r["repeat"], r["schedule"],
                   "%.6f" % r["wall_s"]]
            for p in phases:
                v = r["phases"].get(p)
                out.append("" if v is None else "%.6f" % v)
            out += [r["bytes_scanned"], "%.3f" % r["mb_per_s"], r["shuffle_bytes"],
                    r["peak_rss_max_bytes"], r["lines_read"], r["output_rows"],
                    "%.4f" % r["speedup"], "%.4f" % r["efficiency"], r["baseline_ranks"],
                    r["run_dir"]]
            w.writerow(out)


def medians(rows, study):
    """{(ranks, strategy): dict of medians} for one study."""
    cells = {}
    for r in rows:
        if r["study"] == study:
            cells.setdefault((r["ranks"], r["strategy"]), []).append(r)
    out = {}
    for key, runs in cells.items():
        med = lambda f: statistics.median(f(r) for r in runs)
        out[key] = {
            "n": len(runs),
            "wall": med(lambda r: r["wall_s"]),
            "wall_min": min(r["wall_s"] for r in runs),
            "wall_max": max(r["wall_s"] for r in runs),
            "speedup": med(lambda r: r["speedup"]),
            "efficiency": med(lambda r: r["efficiency"]),
            "mb_per_s": med(lambda r: r["mb_per_s"]),
            "shuffle_mb": med(lambda r: r["shuffle_bytes"]) / 1e6,
            "rss_mb": max(r["peak_rss_max_bytes"] for r in runs) / 1e6,
            "gb": runs[0]["bytes_scanned"] / 1e9,
            "phases": {p: med(lambda r, p=p: r["phases"].get(p, 0.0))
                       for p in set().union(*(r["phases"] for r in runs))},
        }
    return out


def write_summary(path, rows, phases, strategies, problems, plot_note):
    lines = ["# Scaling sweep summary", ""]
    lines.append("%d runs collected; medians over repeats. Speedup and efficiency are relative "
                 "to the same study and strategy at the smallest rank count (see "
                 "slurm/collect.py and docs/slurm.md)." % len(rows))
    lines.append("")
    for study in sorted({r["study"] for r in rows}, key=lambda s: (STUDY_ORDER.get(s, 9), s)):
        cells = medians(rows, study)
        ranks = sorted({k[0] for k in cells})
        base = min(ranks)
        if study == "weak":
            lines.append("## Weak scaling (input grows with the ranks; ideal: constant wall time)")
        else:
            lines.append("## Strong scaling (same input for every rank count; ideal: wall time / n)")
        lines.append("")
        lines.append("Baseline: %d rank%s." % (base, "" if base == 1 else "s"))
        lines.append("")
        lines.append("| ranks | strategy | runs | input GB | wall s (median) | min..max s | speedup "
                     "| efficiency | MB/s | shuffle MB | peak RSS MB |")
        lines.append("|---:|---|---:|---:|---:|---|---:|---:|---:|---:|---:|")
        for n in ranks:
            for s in strategies:
                c = cells.get((n, s))
                if c is None:
                    continue
                lines.append("| %d | %s | %d | %.3f | %.3f | %.3f..%.3f | %.2f | %.2f | %.1f | %.2f | %.1f |" % (
                    n, s, c["n"], c["gb"], c["wall"], c["wall_min"], c["wall_max"], c["speedup"],
                    c["efficiency"], c["mb_per_s"], c["shuffle_mb"], c["rss_mb"]))
        lines.append("")
        lines.append("Phase seconds (median):")
        lines.append("")
        lines.append("| ranks | strategy | " + " | ".join(phases) + " |")
        lines.append("|---:|---|" + "---:|" * len(phases))
        for n in ranks:
            for s in strategies:
                c = cells.get((n, s))
                if c is None:
                    continue
                lines.append("| %d | %s | " % (n, s) + " | ".join(
                    "%.3f" % c["phases"][p] if p in c["phases"] else "" for p in phases) + " |")
        lines.append("")
        lines.append("Fastest strategy (median wall):")
        lines.append("")
        for n in ranks:
            present = [(cells[(n, s)]["wall"], s) for s in strategies if (n, s) in cells]
            if present:
                best = min(present)
                lines.append("- %d rank%s: %s (%.3f s)" % (n, "" if n == 1 else "s", best[1], best[0]))
        lines.append("")
    lines.append("## Plots")
    lines.append("")
    lines.append(plot_note)
    lines.append("")
    if problems:
        lines.append("## Problems")
        lines.append("")
        lines += ["- " + p for p in problems]
        lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))


def plot(results, rows, strategies, gp_script):
    """Draws one PNG per study; returns (note for the summary, ok)."""
    gnuplot = shutil.which("gnuplot")
    if gnuplot is None:
        return "gnuplot is not installed here: no plots (install gnuplot-nox and rerun collect.py).", True
    made = []
    for study in sorted({r["study"] for r in rows}, key=lambda s: (STUDY_ORDER.get(s, 9), s)):
        cells = medians(rows, study)
        used = [s for s in strategies if any(k[1] == s for k in cells)]
        dat = os.path.join(results, "%s_scaling.dat" % study)
        with open(dat, "w") as f:
            f.write("# ranks wall_median_s speedup efficiency, one block per strategy: %s\n" % " ".join(used))
            for s in used:
                f.write("# strategy %s\n" % s)
                for n in sorted(k[0] for k in cells if k[1] == s):
                    c = cells[(n, s)]
                    f.write("%d %.6f %.6f %.6f\n" % (n, c["wall"], c["speedup"], c["efficiency"]))
                f.write("\n\n")
        png = os.path.join(results, "%s_scaling.png" % study)
        ranks = sorted({k[0] for k in cells})
        expr = ("datafile=%s; outfile=%s; study=%s; strategies=%s; maxranks=%d; baseranks=%d" % (
            gp_quote(dat), gp_quote(png), gp_quote(study), gp_quote(" ".join(used)),
            max(ranks), min(ranks)))
        p = subprocess.run([gnuplot, "-e", expr, gp_script], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True)
        if p.returncode != 0 or not os.path.isfile(png) or os.path.getsize(png) == 0:
            return "gnuplot failed on %s: %s" % (dat, p.stdout.strip()), False
        made.append(os.path.basename(png))
    return "Plots: " + ", ".join("![%s](%s)" % (m, m) for m in made), True


def gp_quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main():
    ap = argparse.ArgumentParser(description="Merge a shardflow sweep's manifests into a CSV, "
                                 "a markdown summary and plots.")
    ap.add_argument("sweep", help="the sweep directory (OUT of slurm/sweep.sh)")
    ap.add_argument("--results", help="where to write (default SWEEP/results)")
    ap.add_argument("--no-plot", action="store_true", help="do not run gnuplot")
    args = ap.parse_args()

    sweep = os.path.abspath(args.sweep)
    results = os.path.abspath(args.results or os.path.join(sweep, "results"))
    os.makedirs(results, exist_ok=True)
    plan = read_plan(sweep)

    strategies = []
    for p in plan:
        if p["strategy"] not in strategies:
            strategies.append(p["strategy"])
    rows, problems = [], []
    for p in plan:
        row, problem = load_run(sweep, p)
        if problem:
            problems.append(problem)
        else:
            row["strategy_index"] = strategies.index(row["strategy"])
            rows.append(row)
    if not rows:
        for p in problems:
            print("collect.py: " + p, file=sys.stderr)
        print("collect.py: no run of %s has a usable manifest" % sweep, file=sys.stderr)
        return 1
    add_scaling(rows)
    rows.sort(key=sort_key)
    phases = [p for p in phase_names(rows) if any(p in r["phases"] for r in rows)]

    csv_path = os.path.join(results, "results.csv")
    write_csv(csv_path, rows, phases)
    ok = True
    if args.no_plot:
        note = "Plots not drawn (--no-plot)."
    else:
        gp = os.path.join(os.path.dirname(os.path.abspath(__file__)), "plot.gp")
        note, ok = plot(results, rows, strategies, gp)
    summary = os.path.join(results, "summary.md")
    write_summary(summary, rows, phases, strategies, problems, note)

    print("collect.py: %d of %d runs -> %s" % (len(rows), len(plan), csv_path))
    print("collect.py: summary -> %s" % summary)
    print("collect.py: " + note)
    for p in problems:
        print("collect.py: missing or bad run: " + p, file=sys.stderr)
    if not ok:
        print("collect.py: " + note, file=sys.stderr)
    return 0 if ok and not problems else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# valgrind_run.sh - the CTest test valgrind.run: shardflow under valgrind
# memcheck on one rank, without mpirun.
#
# usage: valgrind_run.sh SHARDFLOW JOB CASES_DIR SUPPRESSIONS WORK_DIR
#
# Builds a small input (3000 generated KPI events followed by every line of
# CASES_DIR/bad_lines/events.jsonl: BOM, CRLF, invalid JSON and UTF-8,
# overflows, a final line without newline), then runs the job on it under
#   valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite
# in several configurations that take different code paths (both decoders,
# CSV and both HDF5 layouts, every repartition mode, every bad-record mode,
# and a failfast run that must stop with exit code 2 and still free
# everything). Any memcheck error (invalid read/write, use of uninitialised
# memory, a definitely lost block) fails the test; SUPPRESSIONS hides only
# Open MPI's own leaks in MPI_Init/MPI_Finalize (see that file).
# Exit 0 = pass, 1 = fail, 77 = skipped (valgrind not installed).
set -euo pipefail

if [[ $# -ne 5 ]]; then
    echo "usage: $0 SHARDFLOW JOB CASES_DIR SUPPRESSIONS WORK_DIR" >&2
    exit 1
fi
shardflow=$1 job=$2 cases=$3 supp=$4 work=$5

if ! command -v valgrind >/dev/null 2>&1; then
    echo "valgrind_run: SKIPPED: valgrind is not installed (scripts/deps installs it)"
    exit 77
fi

rm -rf "$work"
mkdir -p "$work"
data=$work/data
# The generator is not under test here: it runs without valgrind.
"$shardflow" gen kpi --events 3000 --users 100 --items 40 --seed 5 -o "$data" >"$work/gen.log" 2>&1 || {
    echo "valgrind_run: FAIL: shardflow gen kpi failed:" >&2
    cat "$work/gen.log" >&2
    exit 1
}
# Generated lines first: the bad lines' BOM then sits inside the file (a
# rejected line) and their unterminated last line ends the file.
cat "$cases/bad_lines/events.jsonl" >>"$data/events.jsonl"
lines=$(awk 'END { print NR }' "$data/events.jsonl")

status=0
n=0
# run EXPECTED_EXIT NAME [shardflow run options...]
run() {
    local want=$1 name=$2
    shift 2
    n=$((n + 1))
    local out=$work/out_$name log=$work/valgrind_$name.log rc=0
    valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite \
        --num-callers=40 --suppressions="$supp" --log-file="$log" \
        "$shardflow" run "$job" --input events="$data/events.jsonl" \
        --input users="$data/users.jsonl" --input items="$data/items.jsonl" \
        --output "$out" --chunk-size 4K --no-progress "$@" \
        >"$work/run_$name.log" 2>&1 || rc=$?
    local errors
    errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$log" | tail -n 1)
    if [[ -z $errors ]]; then
        echo "valgrind_run: FAIL: $name: no valgrind summary in $log (exit $rc)"
        tail -n 20 "$work/run_$name.log"
        status=1
        return
    fi
    if [[ $errors -ne 0 ]]; then
        echo "valgrind_run: FAIL: $name: $errors memcheck error(s) (exit $rc); from $log:"
        grep -v '^==[0-9]*== *$' "$log" | sed -n '/ERROR SUMMARY/q;p' | tail -n 80
        status=1
        return
    fi
    if [[ $rc -ne $want ]]; then
        echo "valgrind_run: FAIL: $name: shardflow exit code $rc, expected $want:"
        tail -n 20 "$work/run_$name.log"
        status=1
        return
    fi
    if [[ $want -eq 0 ]]; then
        if [[ ! -f $out/_SUCCESS ]] ||
            ! grep -q "\"lines_read\": $lines," "$out/_MANIFEST.json"; then
            echo "valgrind_run: FAIL: $name: no _SUCCESS or lines_read is not $lines in $out"
            status=1
            return
        fi
    elif [[ -e $out/_SUCCESS ]]; then
        echo "valgrind_run: FAIL: $name: a failed run left $out/_SUCCESS"
        status=1
        return
    fi
    echo "valgrind_run: ok: $name (exit $rc, memcheck clean)"
}

run 0 csv_fast_permissive
run 0 csv_jansson_dropmalformed --decoder jansson --mode dropmalformed --repartition none --write local
run 0 hdf5_hive_before_join --format hdf5 --repartition before-join --write coalesce=1
run 0 hdf5_single --format hdf5 --layout single --compression none
run 2 failfast --mode failfast

if [[ $status -eq 0 ]]; then
    echo "valgrind_run: $n runs over $lines input lines, memcheck clean"
fi
exit $status

#!/usr/bin/env bash
# HDF5 part files are made durable before the commit (docs/commit.md): a
# run's and flatten's .h5 files, one per partition and rank (--layout hive)
# or one shared file (--layout single), each fsynced once, all of them
# before _MANIFEST.json and _SUCCESS are; a file that cannot be synced
# fails the run naming it, and nothing is committed.
# The fsyncs are watched by fsync_shim.so (LD_PRELOAD; SF_TEST_FSYNC_LOG,
# SF_TEST_FSYNC_FAIL). A sanitizer build, whose runtime must come first,
# skips the test.
# usage: sync_test.sh BUILD/shardflow MPIEXEC SHIM.so
set -uo pipefail
sf=$1 mpiexec=$2 shim=$3
fail() { echo "FAIL: $*"; exit 1; }
if command -v readelf >/dev/null && readelf -d "$sf" | grep -q 'NEEDED.*lib[at]san'; then
    echo "skipped: a sanitizer build cannot take an LD_PRELOAD library"
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for i in $(seq 0 599); do
    printf '{"k": "p%02d", "v": %d}\n' $((i % 12)) "$i"
done >"$work/in.jsonl"
cat >"$work/job.json" <<JSON
{"name": "h5sync",
 "inputs": {"events": {"role": "fact", "format": "jsonl", "path": "in.jsonl",
                       "columns": {"k": "string", "v": "int64"}}},
 "group_by": ["k", "v"],
 "aggregates": {"n": "count()"},
 "output": {"path": "out", "format": "hdf5", "columns": ["k", "v", "n"],
            "partition_by": ["k"], "sort_by": ["v"]}}
JSON

# Every .h5 file of OUT was fsynced (under its staging path) exactly once,
# and before any _MANIFEST.json or _SUCCESS was.
check_synced() { # OUT LOG WHAT
    local out=$1 log=$2 what=$3 n=0 rel hits last first
    [[ -f $out/_SUCCESS ]] || fail "$what: no _SUCCESS in $out"
    first=$(grep -n '_MANIFEST\|_SUCCESS' "$log" | head -1 | cut -d: -f1)
    [[ -n $first ]] || fail "$what: _MANIFEST.json and _SUCCESS were not synced: $(cat "$log")"
    while read -r rel; do
        rel=${rel#"$out"/}
        hits=$(grep -c "/_temporary/[^/]*/$rel\$" "$log")
        [[ $hits == 1 ]] || fail "$what: $rel fsynced $hits times: $(cat "$log")"
        last=$(grep -n "/_temporary/[^/]*/$rel\$" "$log" | cut -d: -f1)
        ((last < first)) || fail "$what: $rel synced after the commit's files: $(cat "$log")"
        n=$((n + 1))
    done < <(find "$out" -name '*.h5')
    ((n > 0)) || fail "$what: no .h5 file in $out"
    echo "$what: $n .h5 files, each fsynced once before the commit"
}

run2() { # LOG FAIL ARGS...: the job at 2 ranks under the shim
    local log=$1 failon=$2
    shift 2
    SF_TEST_FSYNC_LOG=$log SF_TEST_FSYNC_FAIL=$failon LD_PRELOAD=$shim \
        "$mpiexec" -n 2 -x LD_PRELOAD -x SF_TEST_FSYNC_LOG -x SF_TEST_FSYNC_FAIL \
        "$sf" run "$work/job.json" --quiet "$@"
}

run2 "$work/hive.log" "" -o "$work/hive" >"$work/out.log" 2>&1 ||
    fail "hive run: $(cat "$work/out.log")"
check_synced "$work/hive" "$work/hive.log" "run, --layout hive, 2 ranks"
[[ $(find "$work/hive" -name '*.h5' | wc -l) == 12 ]] || fail "hive run: not 12 files"

run2 "$work/single.log" "" -o "$work/single" --layout single >"$work/out.log" 2>&1 ||
    fail "single run: $(cat "$work/out.log")"
check_synced "$work/single" "$work/single.log" "run, --layout single, 2 ranks"

SF_TEST_FSYNC_LOG=$work/flat.log LD_PRELOAD=$shim \
    "$sf" flatten "$work/in.jsonl" -o "$work/flat" --format hdf5 --partition-by k --quiet \
    >"$work/out.log" 2>&1 || fail "flatten: $(cat "$work/out.log")"
check_synced "$work/flat" "$work/flat.log" "flatten --partition-by, 1 rank"

# One file that cannot be synced: the run fails naming it, before its
# commit: no OUT, no staging beside it, the claim released.
err=$(run2 "$work/fail.log" "k=p07/part-" -o "$work/failed" 2>&1)
rc=$?
[[ $rc != 0 ]] || fail "a run whose fsync failed succeeded"
[[ $err == *"cannot sync '$work/failed/_temporary/"*"/k=p07/part-"*".h5': Input/output error"* ]] ||
    fail "the failed sync's error says: $err"
[[ -e $work/failed ]] && fail "a run whose fsync failed left $work/failed: $(find "$work/failed")"
left=$(find "$work" -maxdepth 1 -name 'failed*')
[[ -z $left ]] && echo "failed sync (run): named the file, nothing committed" ||
    fail "a run whose fsync failed left $left"

err=$(SF_TEST_FSYNC_FAIL="k=p03/part-" LD_PRELOAD=$shim \
      "$sf" flatten "$work/in.jsonl" -o "$work/flatfail" --format hdf5 --partition-by k \
      --quiet 2>&1)
rc=$?
[[ $rc != 0 ]] || fail "a flatten whose fsync failed succeeded"
[[ $err == *"cannot sync '"*"/k=p03/part-"*".h5': Input/output error"* ]] ||
    fail "the failed sync's error (flatten) says: $err"
left=$(find "$work" -maxdepth 1 -name 'flatfail*')
[[ -z $left ]] || fail "a flatten whose fsync failed left $left"
echo "failed sync (flatten): named the file, nothing committed"

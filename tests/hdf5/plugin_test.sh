#!/usr/bin/env bash
# HDF5 is a plugin (mpi/h5api.h): the shardflow binary does not link libhdf5
# and loads BUILD/shardflow-h5.so only for a run that uses HDF5.
# Checks: no libhdf5 among the binary's NEEDED entries; every function the
# plugin takes from the binary is exported by it (mpi/h5plugin.dynlist); an
# HDF5 run and `cat` of its output work; with the plugin unloadable
# (SHARDFLOW_H5_PLUGIN naming a missing file, or a binary copied away from
# its plugin) an HDF5 run fails before any work with the loader's reason,
# under mpiexec too, a spec whose output.format is hdf5 likewise, `cat` of
# an HDF5 file says why, and a CSV run does not notice.
# usage: plugin_test.sh BUILD/shardflow MPIEXEC
set -uo pipefail
sf=$1 mpiexec=$2
fail() { echo "FAIL: $*"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if command -v readelf >/dev/null; then
    needed=$(readelf -d "$sf" | grep NEEDED) || fail "readelf -d $sf"
    grep -qi hdf5 <<<"$needed" && fail "$sf links libhdf5: $needed"
    grep -qi curl <<<"$needed" && fail "$sf links libcurl: $needed"
fi
plugin=$(dirname "$sf")/shardflow-h5.so
[[ -f $plugin ]] || fail "$plugin missing"
if command -v nm >/dev/null; then
    exported=$(nm -D --defined-only "$sf" | awk '{print $3}')
    for s in $(nm -D --undefined-only "$plugin" | awk '$2 ~ /^sf_/ {print $2}'); do
        grep -qx "$s" <<<"$exported" ||
            fail "the plugin calls $s, which $sf does not export: add it to mpi/h5plugin.dynlist"
    done
fi

printf '{"k": "a", "v": 1}\n{"k": "b", "v": 2}\n{"k": "a", "v": 3}\n' >"$work/in.jsonl"
cat >"$work/job.json" <<JSON
{"name": "h5plugin",
 "inputs": {"events": {"role": "fact", "format": "jsonl", "path": "in.jsonl",
                       "columns": {"k": "string", "v": "int64"}}},
 "group_by": ["k"],
 "aggregates": {"n": "count()", "total": "sum(v)"},
 "output": {"path": "out_spec", "format": "hdf5", "columns": ["k", "n", "total"],
            "sort_by": ["k"]}}
JSON

# Works with the plugin: flatten and run write HDF5, cat reads it back.
"$sf" flatten "$work/in.jsonl" -o "$work/flat" --format hdf5 --quiet >"$work/log" 2>&1 ||
    fail "flatten --format hdf5: $(cat "$work/log")"
got=$("$sf" cat "$work/flat" 2>&1) || fail "cat of the HDF5 flatten: $got"
[[ $got == *"a,3"* ]] || fail "cat of the HDF5 flatten printed: $got"
"$mpiexec" -n 2 "$sf" run "$work/job.json" --quiet >"$work/log" 2>&1 ||
    fail "run of an hdf5 spec at 2 ranks: $(cat "$work/log")"
got=$("$sf" cat "$work/out_spec" 2>&1) || fail "cat of the run's output: $got"
[[ $got == *"a,2,4"* ]] || fail "cat of the run's output printed: $got"

# The plugin cannot be loaded.
export SHARDFLOW_H5_PLUGIN=$work/missing-h5.so
why="HDF5 support could not be loaded from SHARDFLOW_H5_PLUGIN=$work/missing-h5.so"
err=$("$sf" flatten "$work/in.jsonl" -o "$work/flat2" --format hdf5 --quiet 2>&1)
rc=$?
[[ $rc == 1 ]] || fail "flatten --format hdf5 without the plugin: exit $rc ($err)"
[[ $err == *"$why"*"cannot open shared object file"* ]] || fail "the error says: $err"
[[ -e $work/flat2 ]] && fail "flatten without the plugin left $work/flat2"
err=$("$mpiexec" -n 2 -x SHARDFLOW_H5_PLUGIN "$sf" run "$work/job.json" -o "$work/out2" \
      --format hdf5 --quiet 2>&1)
rc=$?
[[ $rc != 0 ]] || fail "run --format hdf5 at 2 ranks without the plugin succeeded"
[[ $err == *"$why"* ]] || fail "the error at 2 ranks says: $err"
[[ -e $work/out2 ]] && fail "run without the plugin left $work/out2"
# The spec asks for HDF5, no --format: the job's load stops it (exit 2).
err=$("$sf" run "$work/job.json" -o "$work/out3" --quiet 2>&1)
rc=$?
[[ $rc == 2 && $err == *"$why"* ]] || fail "an hdf5 spec without the plugin: exit $rc ($err)"
[[ -e $work/out3 ]] && fail "an hdf5 spec without the plugin left $work/out3"
err=$("$sf" cat "$work/flat" 2>&1)
[[ $? != 0 && $err == *"$why"* ]] || fail "cat of an HDF5 file without the plugin: $err"
# A CSV run never loads it.
"$sf" run "$work/job.json" -o "$work/out4" --format csv --quiet >"$work/log" 2>&1 ||
    fail "a CSV run with the plugin unloadable: $(cat "$work/log")"
[[ $(cat "$work/out4"/*.csv) == *"a,2,4"* ]] || fail "the CSV run wrote: $(cat "$work/out4"/*.csv)"
unset SHARDFLOW_H5_PLUGIN

# A binary away from its plugin names the places it looked in.
mkdir -p "$work/bin" && cp "$sf" "$work/bin/shardflow"
err=$("$work/bin/shardflow" flatten "$work/in.jsonl" -o "$work/flat5" --format hdf5 --quiet 2>&1)
rc=$?
[[ $rc == 1 && $err == *"looked for $work/bin/shardflow-h5.so"* ]] ||
    fail "a binary without its plugin: exit $rc ($err)"
echo "plugin: not linked, loaded when used, a clear error when it cannot be"

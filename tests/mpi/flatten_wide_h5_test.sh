#!/usr/bin/env bash
# usage: flatten_wide_h5_test.sh SHARDFLOW WORKDIR
# HDF5 output at its column limit (SF_H5_MAX_COLUMNS = 4091): a flatten of
# 4091 columns is written and read back; 4092 columns are refused after the
# schema pass, before any file is written, with an error that names the
# count and the limit and suggests CSV or Parquet; CSV takes the wide table.
set -euo pipefail
[[ $# -eq 2 ]] || { echo "usage: flatten_wide_h5_test.sh SHARDFLOW WORKDIR" >&2; exit 2; }
B=$1 W=$2
rm -rf "$W"
mkdir -p "$W"
wide() { # N FILE: a record with N integer keys k0..k(N-1), and a second one
    awk -v n="$1" 'BEGIN { s = "{"; for (i = 0; i < n; i++) s = s (i ? "," : "") "\"k" i "\":" i;
                           print s "}"; print "{\"k0\":7}" }' > "$2"
}
wide 4091 "$W/w4091.jsonl"
wide 4092 "$W/w4092.jsonl"
"$B" flatten "$W/w4091.jsonl" -o "$W/ok" --format hdf5 2>/dev/null
[[ -f $W/ok/_SUCCESS ]] || { echo "FAIL: 4091 columns not committed"; exit 1; }
[[ $("$B" cat "$W/ok" | head -1 | tr ',' '\n' | wc -l) -eq 4091 ]] || { echo "FAIL: cat header"; exit 1; }
[[ $("$B" cat "$W/ok" | sed -n 3p | cut -d, -f1-3) == "7,," ]] || { echo "FAIL: cat row 2"; exit 1; }
rc=0
"$B" flatten "$W/w4092.jsonl" -o "$W/no" --format hdf5 2> "$W/err.txt" >/dev/null || rc=$?
cat "$W/err.txt"
[[ $rc -ne 0 ]] || { echo "FAIL: 4092 columns were written as HDF5"; exit 1; }
grep -q 'at most 4091 columns' "$W/err.txt" || { echo "FAIL: no limit in the error"; exit 1; }
grep -q 'has 4092' "$W/err.txt" || { echo "FAIL: no column count in the error"; exit 1; }
grep -q -- '--format csv or --format parquet' "$W/err.txt" || { echo "FAIL: no CSV/Parquet hint"; exit 1; }
grep -q 'nothing was committed' "$W/err.txt" || { echo "FAIL: no commit notice"; exit 1; }
if find "$W/no" -name '*.h5' 2>/dev/null | grep -q .; then
    echo "FAIL: an HDF5 file was written before the refusal"; exit 1
fi
"$B" flatten "$W/w4092.jsonl" -o "$W/csv" 2>/dev/null
[[ $(head -1 "$W"/csv/part-*.csv | tr ',' '\n' | wc -l) -eq 4092 ]] || { echo "FAIL: CSV header"; exit 1; }
echo "ok: 4091 columns written as HDF5, 4092 refused up front, CSV takes them"

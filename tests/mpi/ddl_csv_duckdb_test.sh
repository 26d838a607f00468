#!/usr/bin/env bash
# usage: ddl_csv_duckdb_test.sh SHARDFLOW WORKDIR
# Loads `schema --ddl duckdb` plus the CSV of a flatten output that holds
# empty strings and NULLs into DuckDB (@duckdb/node-api, installed by
# scripts/duckdb-setup; exit 77 = skipped, with the reason printed) and
# checks every value comes back, empty strings and NULLs apart. Also checks
# that `cat` prints the CSV as written and the HDF5 output the same text.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
[[ $# -eq 2 ]] || { echo "usage: ddl_csv_duckdb_test.sh SHARDFLOW WORKDIR" >&2; exit 2; }
B=$1 W=$2
rc=0
"$root/scripts/duckdb-setup" || rc=$?
if [[ $rc -ne 0 ]]; then
    echo "skipping the DuckDB load of DDL + CSV (scripts/duckdb-setup exit $rc)"
    exit "$rc"
fi
rm -rf "$W"
mkdir -p "$W"
# name and tag hold a value in every row (NOT NULL) and empty strings;
# city holds NULL, a missing key and an empty string; n is a nullable int.
cat > "$W/people.jsonl" <<'JSON'
{"id":1,"name":"","city":null,"tag":"x","n":1}
{"id":2,"name":"bob","city":"","tag":"y,\"z\""}
{"id":3,"name":"al","tag":"","n":null}
{"id":4,"name":"","city":"Oslo","tag":" ","n":-7}
JSON
"$B" flatten "$W/people.jsonl" -o "$W/out" >/dev/null
"$B" flatten "$W/people.jsonl" -o "$W/out_h5" --format hdf5 >/dev/null
"$B" schema "$W/people.jsonl" --ddl duckdb --table people > "$W/people.sql"
grep -q '"name" VARCHAR NOT NULL' "$W/people.sql" || { echo "FAIL: DDL:"; cat "$W/people.sql"; exit 1; }
expect='id,name,city,tag,n
1,"",,x,1
2,bob,"","y,""z""",
3,al,,"",
4,"",Oslo, ,-7'
got=$(cat "$W"/out/part-*.csv)
[[ $got == "$expect" ]] || { echo "FAIL: CSV is"; echo "$got"; exit 1; }
[[ $("$B" cat "$W/out") == "$expect" ]] || { echo "FAIL: cat of the CSV output differs"; exit 1; }
[[ $("$B" cat "$W/out_h5") == "$expect" ]] || { echo "FAIL: cat of the HDF5 output differs"; exit 1; }
# ES modules resolve packages from the script's own folder.
cp "$here/ddl_csv_duckdb_check.mjs" "$root/.deps/node/ddl_csv_duckdb_check.mjs"
node "$root/.deps/node/ddl_csv_duckdb_check.mjs" "$W/people.sql" "$W/out"

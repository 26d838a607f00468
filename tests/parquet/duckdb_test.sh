#!/usr/bin/env bash
# usage: duckdb_test.sh PQ_CASES WORKDIR
# Installs DuckDB for node (scripts/duckdb-setup; exit 77 = skip), writes the
# Parquet cases into WORKDIR with PQ_CASES and checks them with
# duckdb_check.mjs.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
[[ $# -eq 2 ]] || { echo "usage: duckdb_test.sh PQ_CASES WORKDIR" >&2; exit 2; }
rc=0
"$root/scripts/duckdb-setup" || rc=$?
if [[ $rc -ne 0 ]]; then
    exit "$rc" # 77: skipped, with the reason printed by the setup
fi
rm -rf "$2"
mkdir -p "$2"
"$1" "$2"
# ES modules resolve packages from the script's own folder, so the check
# runs from a copy beside the installed node_modules.
cp "$here/duckdb_check.mjs" "$root/.deps/node/duckdb_check.mjs"
node "$root/.deps/node/duckdb_check.mjs" "$2" "$1"

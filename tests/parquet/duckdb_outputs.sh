#!/usr/bin/env bash
# usage: duckdb_outputs.sh SHARDFLOW MPIEXEC NP_FLAG JOB WORKDIR
# Whole outputs read by DuckDB: installs @duckdb/node-api (scripts/duckdb-setup;
# exit 77 = skip, with the reason printed), makes a small KPI dataset and an
# edge-value JSONL file, writes each output as CSV and as Parquet (the daily
# KPI in every write mode, one with several row groups per file; flatten
# unpartitioned, partitioned, --single-file and the edge values) and checks
# with duckdb_outputs.mjs that read_parquet(..., hive_partitioning=true)
# gives the CSV output's rows and types.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
[[ $# -eq 5 ]] || { echo "usage: duckdb_outputs.sh SHARDFLOW MPIEXEC NP_FLAG JOB WORKDIR" >&2; exit 2; }
sf=$1 mpiexec=$2 npflag=$3 job=$4 work=$5
rc=0
"$root/scripts/duckdb-setup" || rc=$?
if [[ $rc -ne 0 ]]; then
    exit "$rc" # 77: skipped
fi
rm -rf "$work"
mkdir -p "$work"
cd "$work"
mpi() { local n=$1; shift; "$mpiexec" "$npflag" "$n" "$sf" "$@"; }
mpi 2 gen kpi --events 30000 --users 600 --items 200 --seed 11 -o data >/dev/null
in=(--input events=data/events.jsonl --input users=data/users.jsonl --input items=data/items.jsonl)
q=(--quiet --no-progress)
mpi 2 run "$job" "${in[@]}" -o kpi_csv --quiet
mpi 2 run "$job" "${in[@]}" -o kpi_pq --quiet --format parquet
mpi 3 run "$job" "${in[@]}" -o kpi_pq_local --quiet --format parquet --write local \
    --compression zstd --row-group-size 9
mpi 2 run "$job" "${in[@]}" -o kpi_pq_coalesce --quiet --format parquet --write coalesce=1 \
    --compression none
ev=data/events.jsonl
mpi 2 flatten "$ev" -o fl_csv "${q[@]}" --chunk-size 1M
mpi 2 flatten "$ev" -o fl_pq "${q[@]}" --chunk-size 1M --format parquet
mpi 2 flatten "$ev" -o flp_csv "${q[@]}" --partition-by 'day=to_date(ts)' --partition-by event_type
mpi 2 flatten "$ev" -o flp_pq "${q[@]}" --partition-by 'day=to_date(ts)' --partition-by event_type \
    --format parquet --compression gzip
mpi 3 flatten "$ev" -o fls_csv "${q[@]}" --single-file --chunk-size 1M
mpi 3 flatten "$ev" -o fls_pq "${q[@]}" --single-file --chunk-size 1M --format parquet \
    --row-group-size 1000
# Edge values: '' and null apart, int64 extremes, -0.0, huge doubles,
# non-ASCII, CSV specials, a 1 MB string, nested objects and arrays.
python3 - <<'PY'
import json
rows = [
    {"id": 1, "s": "", "i": 9223372036854775807, "d": -0.0, "u": "Zürich 日本語 \U0001F600",
     "o": {"a": [1, 2], "b": None}},
    {"id": 2, "s": None, "i": -9223372036854775808, "d": 1.7976931348623157e308,
     "u": "a,b \"q\"\nline", "o": {"a": [], "b": "x"}},
    {"id": 3, "s": "x" * (1 << 20), "i": 0, "d": 5e-324, "u": "", "t": True},
    {"id": 4, "i": -1, "d": -1e-300, "t": False},
]
with open("edge.jsonl", "w", encoding="utf-8") as f:
    for k in range(3):
        for r in rows:
            r = dict(r, id=r["id"] + 10 * k)
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
PY
mpi 2 flatten edge.jsonl -o edge_csv "${q[@]}"
mpi 2 flatten edge.jsonl -o edge_pq "${q[@]}" --format parquet
cp "$here/duckdb_outputs.mjs" "$root/.deps/node/duckdb_outputs.mjs"
node "$root/.deps/node/duckdb_outputs.mjs" \
    kpi kpi_csv kpi_pq kpi_local kpi_csv kpi_pq_local kpi_coalesce kpi_csv kpi_pq_coalesce \
    flatten fl_csv fl_pq flatten_partitioned flp_csv flp_pq flatten_single fls_csv fls_pq \
    edge edge_csv edge_pq

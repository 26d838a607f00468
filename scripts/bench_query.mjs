// bench_query.mjs - one DuckDB GROUP BY query over an output directory, the
// query alone timed inside the process (scripts/bench-formats --query runs it).
// usage: node bench_query.mjs csv|parquet OUTDIR THREADS
// Prints: FORMAT SECONDS GROUPS CHECKSUM (the checksum lets the caller see
// that both formats gave the same answer).
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.resolve(process.env.NODE_PATH || '.', 'x.js'));
const { DuckDBInstance } = require('@duckdb/node-api');

const [format, out, threads] = process.argv.slice(2);
if (!['csv', 'parquet'].includes(format) || !out) {
  console.error('usage: node bench_query.mjs csv|parquet OUTDIR THREADS');
  process.exit(2);
}
const glob = `${out}/**/*.${format}`.replace(/'/g, "''");
// CSV typed as the writer's manifest says would favour it; auto-detection is
// what a user types, and DuckDB's fastest path for CSV.
const src = format === 'csv'
  ? `read_csv('${glob}', hive_partitioning = true, allow_quoted_nulls = false)`
  : `read_parquet('${glob}', hive_partitioning = true)`;
const sql = `SELECT user_id, count(*) AS n, sum(events) AS events, sum(amount) AS amount
             FROM ${src} GROUP BY user_id`;
const db = await DuckDBInstance.create(':memory:', { threads: String(threads || 2) });
const con = await db.connect();
const t0 = process.hrtime.bigint();
const r = await con.runAndReadAll(`SELECT count(*) AS g, sum(n) AS rows, sum(events) AS ev FROM (${sql})`);
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
const row = r.getRowObjects()[0];
console.log(`${format} ${secs.toFixed(3)} ${row.g} ${row.rows}:${row.ev}`);

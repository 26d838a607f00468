// expr_duckdb.mjs - DuckDB reads the timestamp columns of expr_test.py's
// Parquet output: their SQL type and every value as epoch microseconds.
// usage: node expr_duckdb.mjs OUTDIR   (run from a folder where
// @duckdb/node-api resolves; expr_test.py copies it into .deps/node)
// Prints a JSON object {"types": {...}, "last_ts": [...], "first_ms": [...]}
// with the values sorted as strings of integers.
import { DuckDBInstance } from '@duckdb/node-api';

const dir = process.argv[2];
const inst = await DuckDBInstance.create(':memory:', { threads: '1' });
const con = await inst.connect();
const src = `read_parquet('${dir.replace(/'/g, "''")}/*/*.parquet', hive_partitioning = false)`;
const types = {};
for (const [name, type] of (await con.runAndReadAll(`DESCRIBE SELECT * FROM ${src}`)).getRows())
  types[name] = type;
const col = async (c) => (await con.runAndReadAll(
  `SELECT CAST(epoch_us(${c}) AS VARCHAR) AS v FROM ${src} WHERE ${c} IS NOT NULL ORDER BY v`))
  .getRows().map((r) => r[0]);
console.log(JSON.stringify({ types, last_ts: await col('last_ts'), first_ms: await col('first_ms') }));

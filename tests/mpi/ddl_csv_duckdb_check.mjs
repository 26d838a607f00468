// ddl_csv_duckdb_check.mjs - loads DDL + CSV into DuckDB and compares.
// usage: node ddl_csv_duckdb_check.mjs DDL.sql OUTDIR
// Runs the CREATE TABLE of `schema --ddl duckdb`, COPYs OUTDIR's CSV parts
// into it with allow_quoted_nulls = false (DuckDB's default, true, reads a
// quoted "" as NULL) and checks every row: empty strings and NULLs apart.
import { readFileSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';

const [ddl, out] = process.argv.slice(2);
const con = await (await DuckDBInstance.create(':memory:')).connect();
await con.run(readFileSync(ddl, 'utf8'));
const glob = out.replace(/'/g, "''") + '/part-*.csv';
await con.run(`COPY people FROM '${glob}' (HEADER, allow_quoted_nulls false)`);
const res = await con.runAndReadAll('SELECT id, name, city, tag, n FROM people ORDER BY id');
const got = JSON.stringify(res.getRows(), (k, v) => (typeof v === 'bigint' ? Number(v) : v));
const want = JSON.stringify([
  [1, '', null, 'x', 1],
  [2, 'bob', '', 'y,"z"', null],
  [3, 'al', null, '', null],
  [4, '', 'Oslo', ' ', -7],
]);
const ver = (await con.runAndReadAll('SELECT version()')).getRows()[0][0];
if (got !== want) {
  console.error(`FAIL (DuckDB ${ver}): rows\n  got  ${got}\n  want ${want}`);
  process.exit(1);
}
const nulls = (await con.runAndReadAll(
  "SELECT count(*) FILTER (WHERE city IS NULL), count(*) FILTER (WHERE city = '') FROM people"
)).getRows()[0].map(Number);
if (nulls[0] !== 2 || nulls[1] !== 1) {
  console.error(`FAIL (DuckDB ${ver}): city NULLs/empties ${nulls}, want 2,1`);
  process.exit(1);
}
console.log(`DuckDB ${ver}: DDL + CSV loaded, 4 rows, empty strings and NULLs apart`);

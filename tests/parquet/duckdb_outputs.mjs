// duckdb_outputs.mjs - DuckDB reads whole shardflow outputs: each Parquet
// output, read with read_parquet('OUT/**/*.parquet', hive_partitioning =
// true), must give the same column names, the same types and the same rows
// as the CSV output of the same command read with read_csv (hive
// partitioning, column types from the CSV output's _MANIFEST.json).
// usage: node duckdb_outputs.mjs LABEL CSV_OUT PARQUET_OUT [LABEL CSV PQ ...]
// (run from a folder where @duckdb/node-api resolves; duckdb_outputs.sh
// copies it into .deps/node)
//
// Rows are compared as multisets (EXCEPT ALL both ways, and the counts).
// The CSV format writes an empty string and NULL alike (an empty field), so
// string columns are compared with '' read as NULL; a LABEL starting with
// "edge" must in addition hold both '' and NULL in its column "s" on the
// Parquet side, apart. The footers' statistics must agree with the data:
// rows per file and null counts per column, summed over row groups.
import { readFileSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';

const argv = process.argv.slice(2);
if (argv.length === 0 || argv.length % 3 !== 0) {
  console.error('usage: node duckdb_outputs.mjs LABEL CSV_OUT PARQUET_OUT [...]');
  process.exit(2);
}
const inst = await DuckDBInstance.create(':memory:', { threads: '2' });
const con = await inst.connect();
const q = (s) => "'" + s.replace(/'/g, "''") + "'";
const ident = (s) => '"' + s.replace(/"/g, '""') + '"';
const sqlType = { bool: 'BOOLEAN', int64: 'BIGINT', double: 'DOUBLE', string: 'VARCHAR',
                  date: 'DATE', null: 'VARCHAR' };
const all = async (sql) => (await con.runAndReadAll(sql)).getRows();
// decimal(P,S) in a manifest is DuckDB's DECIMAL(P,S).
const sqlTypeOf = (t) => (t.startsWith('decimal(') ? t.toUpperCase() : sqlType[t]);

let failures = 0;
function fail(label, what) {
  console.error(`duckdb_outputs: ${label}: ${what}`);
  failures++;
}

for (let i = 0; i < argv.length; i += 3) {
  const [label, csvOut, pqOut] = argv.slice(i, i + 3);
  const before = failures;
  const man = JSON.parse(readFileSync(`${csvOut}/_MANIFEST.json`, 'utf8'));
  const cols = man.output.columns.map((c) => `${q(c.name)}: ${q(sqlTypeOf(c.type))}`).join(', ');
  const csvSrc = `read_csv(${q(csvOut + '/**/*.csv')}, hive_partitioning = true, header = true, ` +
                 `columns = {${cols}})`;
  const pqSrc = `read_parquet(${q(pqOut + '/**/*.parquet')}, hive_partitioning = true)`;

  const dc = await all(`DESCRIBE SELECT * FROM ${csvSrc}`);
  const dp = await all(`DESCRIBE SELECT * FROM ${pqSrc}`);
  const shape = (d) => d.map((r) => `${r[0]} ${r[1]}`).join(', ');
  if (shape(dc) !== shape(dp))
    fail(label, `columns differ:\n  parquet ${shape(dp)}\n  csv     ${shape(dc)}`);

  // Both sides as the same expressions: strings with '' as NULL.
  const sel = dp.map((r) => (r[1] === 'VARCHAR' ? `NULLIF(${ident(r[0])}, '')` : ident(r[0])))
    .join(', ');
  const [[nc]] = await all(`SELECT count(*) FROM ${csvSrc}`);
  const [[np]] = await all(`SELECT count(*) FROM ${pqSrc}`);
  if (nc !== np) fail(label, `${np} rows in Parquet, ${nc} in CSV`);
  const [[onlyPq]] = await all(
    `SELECT count(*) FROM (SELECT ${sel} FROM ${pqSrc} EXCEPT ALL SELECT ${sel} FROM ${csvSrc})`);
  const [[onlyCsv]] = await all(
    `SELECT count(*) FROM (SELECT ${sel} FROM ${csvSrc} EXCEPT ALL SELECT ${sel} FROM ${pqSrc})`);
  if (onlyPq !== 0n || onlyCsv !== 0n) {
    fail(label, `${onlyPq} rows only in Parquet, ${onlyCsv} only in CSV`);
    const ex = await all(`SELECT ${sel} FROM ${pqSrc} EXCEPT ALL SELECT ${sel} FROM ${csvSrc} LIMIT 3`);
    console.error('  e.g. Parquet:', ex);
  }

  // Footer statistics against the data.
  const files = (await all(`SELECT file, sum(row_group_num_rows) FROM (SELECT DISTINCT file_name AS file,
      row_group_id, row_group_num_rows FROM parquet_metadata(${q(pqOut + '/**/*.parquet')})) GROUP BY file`));
  for (const [file, rows] of files) {
    const [[n]] = await all(`SELECT count(*) FROM read_parquet(${q(file)})`);
    if (BigInt(rows) !== BigInt(n)) fail(label, `${file}: row groups say ${rows} rows, it has ${n}`);
  }
  const nulls = await all(`SELECT path_in_schema, sum(stats_null_count) FROM
      parquet_metadata(${q(pqOut + '/**/*.parquet')}) GROUP BY path_in_schema`);
  for (const [col, n] of nulls) {
    const [[real]] = await all(`SELECT count(*) - count(${ident(col)}) FROM ${pqSrc}`);
    if (BigInt(n) !== BigInt(real)) fail(label, `column ${col}: statistics say ${n} NULLs, data ${real}`);
  }

  if (label.startsWith('edge')) {
    const [[empty, isnull]] = await all(
      `SELECT count(*) FILTER (WHERE s = ''), count(*) FILTER (WHERE s IS NULL) FROM ${pqSrc}`);
    if (empty === 0n || isnull === 0n)
      fail(label, `column s: ${empty} empty strings and ${isnull} NULLs; want both, apart`);
  }
  if (failures === before)
    console.log(`duckdb_outputs: ${label}: ${np} rows, ${dp.length} columns (${shape(dp)}), ` +
                `${files.length} Parquet file(s): same rows and types as the CSV output`);
}
process.exit(failures ? 1 : 0);

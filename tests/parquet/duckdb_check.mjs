// duckdb_check.mjs - DuckDB reads the Parquet files of pq_cases and must
// return the rows, the types and the statistics the writer stored.
// usage: node duckdb_check.mjs WORKDIR [PQ_CASES]   (run from a folder
// where @duckdb/node-api resolves; duckdb_test.sh copies it into .deps/node)
//
// Per file (WORKDIR/cases.json): DESCRIBE gives the expected SQL types;
// read_parquet(..., file_row_number = true) ordered by file_row_number gives
// every value (doubles compared by their IEEE bits, so -0.0 and NaN count;
// int64 and dates through exact text); parquet_metadata() gives, per row
// group and column, num_values, null count, codec, dictionary page and the
// min/max statistics, which must equal what the writer stored. DuckDB
// hides double min/max of a chunk that holds NaN (its own caution); that is
// accepted only for chunks that really hold NaN.
// Then the other way round, when PQ_CASES is given: DuckDB writes edge
// values with every codec and several row groups, `PQ_CASES --dump FILE`
// reads them with io/parquet_read, and the rows and types must be what
// DuckDB reads from the same file.
// Prints one line per file and exits 1 if anything differs.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { DuckDBInstance } from '@duckdb/node-api';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: node duckdb_check.mjs WORKDIR');
  process.exit(2);
}
const cases = JSON.parse(readFileSync(`${dir}/cases.json`, 'utf8'));
const inst = await DuckDBInstance.create(':memory:', { threads: '2' });
const con = await inst.connect();
const q = (s) => "'" + s.replace(/'/g, "''") + "'";
const ident = (s) => '"' + s.replace(/"/g, '""') + '"';
const sqlType = { bool: 'BOOLEAN', int64: 'BIGINT', double: 'DOUBLE', string: 'VARCHAR', date: 'DATE' };

let failures = 0;
function fail(file, what) {
  console.error(`duckdb_check: ${file}: ${what}`);
  failures++;
}

function bits(x) {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(x);
  return b.readBigUInt64LE().toString(16).padStart(16, '0');
}

// The SQL expression that gives a column's values in the expected JSON form.
function expr(col) {
  const c = ident(col.name);
  switch (col.type) {
    case 'int64': return `CAST(${c} AS VARCHAR)`;
    case 'date': return `CAST(${c} - DATE '1970-01-01' AS VARCHAR)`;
    default: return c;
  }
}

function sameValue(type, got, want) {
  if (want === null || got === null) return want === got;
  switch (type) {
    case 'double': return typeof got === 'number' && bits(got) === want;
    case 'date': return got === String(want);
    default: return got === want;
  }
}

function show(v) {
  const s = typeof v === 'string' ? JSON.stringify(v) : String(v);
  return s.length > 60 ? s.slice(0, 60) + `...(${s.length} chars)` : s;
}

for (const cs of cases) {
  const file = cs.file;
  const path = `${dir}/${file}`;
  const before = failures;

  // Types.
  const desc = (await con.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${q(path)})`)).getRows();
  if (desc.length !== cs.columns.length) fail(file, `${desc.length} columns, want ${cs.columns.length}`);
  cs.columns.forEach((col, i) => {
    if (!desc[i] || desc[i][0] !== col.name || desc[i][1] !== sqlType[col.type])
      fail(file, `column ${i} is ${desc[i] && desc[i].slice(0, 2)}, want ${col.name} ${sqlType[col.type]}`);
  });

  // Rows.
  const sel = cs.columns.map(expr).join(', ');
  const rows = (await con.runAndReadAll(
    `SELECT ${sel} FROM read_parquet(${q(path)}, file_row_number = true) ORDER BY file_row_number`)).getRows();
  if (rows.length !== cs.rows.length) fail(file, `${rows.length} rows, want ${cs.rows.length}`);
  for (let r = 0; r < Math.min(rows.length, cs.rows.length) && failures - before < 5; r++) {
    cs.columns.forEach((col, c) => {
      if (!sameValue(col.type, rows[r][c], cs.rows[r][c]))
        fail(file, `row ${r} column ${col.name}: DuckDB ${show(rows[r][c])}, written ${show(cs.rows[r][c])}`);
    });
  }

  // Statistics and layout.
  const meta = (await con.runAndReadAll(`
    SELECT row_group_id, column_id, num_values, stats_null_count, compression, encodings,
           dictionary_page_offset, stats_min_value, stats_max_value,
           TRY_CAST(stats_min_value AS DOUBLE), TRY_CAST(stats_max_value AS DOUBLE),
           CAST(TRY_CAST(stats_min_value AS DATE) - DATE '1970-01-01' AS VARCHAR),
           CAST(TRY_CAST(stats_max_value AS DATE) - DATE '1970-01-01' AS VARCHAR),
           row_group_num_rows
    FROM parquet_metadata(${q(path)}) ORDER BY row_group_id, column_id`)).getRows();
  const nchunks = cs.row_groups.length * cs.columns.length;
  if (meta.length !== nchunks) fail(file, `${meta.length} column chunks, want ${nchunks}`);
  let first = 0;
  cs.row_groups.forEach((rg, g) => {
    rg.chunks.forEach((want, c) => {
      const m = meta[g * cs.columns.length + c];
      if (!m) return;
      const col = cs.columns[c];
      const where = `row group ${g} column ${col.name}`;
      if (Number(m[13]) !== rg.rows) fail(file, `${where}: ${m[13]} rows, want ${rg.rows}`);
      if (Number(m[2]) !== want.num_values) fail(file, `${where}: num_values ${m[2]}, want ${want.num_values}`);
      if (m[3] === null || Number(m[3]) !== want.null_count)
        fail(file, `${where}: null count ${m[3]}, want ${want.null_count}`);
      if (m[4] !== want.codec) fail(file, `${where}: codec ${m[4]}, want ${want.codec}`);
      const hasDict = m[6] !== null;
      if (hasDict !== want.dictionary) fail(file, `${where}: dictionary page ${hasDict}, want ${want.dictionary}`);
      if (String(m[5]).includes('RLE_DICTIONARY') !== want.dictionary)
        fail(file, `${where}: encodings ${m[5]} with dictionary=${want.dictionary}`);
      const slice = cs.rows.slice(first, first + rg.rows).map((r) => r[c]);
      const hasNaN = col.type === 'double' && slice.some((v) => v !== null && Number.isNaN(
        Buffer.from(v, 'hex').reverse().readDoubleLE(0)));
      for (const [k, raw, dbl, days] of [['min', m[7], m[9], m[11]], ['max', m[8], m[10], m[12]]]) {
        const w = want[k];
        if (w === null) {
          if (raw !== null) fail(file, `${where}: ${k} ${show(raw)}, want none`);
          continue;
        }
        if (raw === null) {
          if (!(col.type === 'double' && hasNaN)) fail(file, `${where}: no ${k}, want ${show(w)}`);
          continue;
        }
        let ok;
        switch (col.type) {
          case 'double': ok = dbl !== null && bits(dbl) === w; break;
          case 'date': ok = days === String(w); break;
          case 'bool': ok = raw === String(w); break;
          default: ok = raw === w;
        }
        if (!ok) fail(file, `${where}: ${k} ${show(raw)}, want ${show(w)}`);
      }
    });
    first += rg.rows;
  });

  const fm = (await con.runAndReadAll(
    `SELECT created_by, num_rows, num_row_groups FROM parquet_file_metadata(${q(path)})`)).getRows()[0];
  if (!String(fm[0]).startsWith('shardflow version ')) fail(file, `created_by ${fm[0]}`);
  if (Number(fm[1]) !== cs.rows.length || Number(fm[2]) !== cs.row_groups.length)
    fail(file, `file metadata says ${fm[1]} rows in ${fm[2]} row groups`);

  if (failures === before)
    console.log(`duckdb_check: ${file}: ${cs.rows.length} rows, ${cs.columns.length} columns, ` +
                `${cs.row_groups.length} row groups (${cs.codec}): rows, types and statistics agree`);
}
// DuckDB writes, shardflow's reader reads.
const pqCases = process.argv[3];
const duckTypes = { BOOLEAN: 'bool', BIGINT: 'int64', INTEGER: 'int64', DOUBLE: 'double',
                    FLOAT: 'double', VARCHAR: 'string', DATE: 'date' };
const edgeSQL = `
  SELECT * FROM (VALUES
    (true, CAST('-9223372036854775808' AS BIGINT), CAST('NaN' AS DOUBLE), '', DATE '1970-01-01', 1::INTEGER, CAST(1.5 AS FLOAT)),
    (false, CAST('9223372036854775807' AS BIGINT), CAST('-0.0' AS DOUBLE), NULL, NULL, NULL, NULL),
    (NULL, NULL, CAST('inf' AS DOUBLE), 'Zürich', DATE '0001-01-01', -2147483648, CAST('-inf' AS FLOAT)),
    (true, 0, CAST('-inf' AS DOUBLE), '日本語 \u{1F600}', DATE '9999-12-31', 2147483647, CAST('NaN' AS FLOAT)),
    (false, -1, NULL, repeat('x', 1000000), DATE '2024-02-29', 0, CAST(-0.0 AS FLOAT))
  ) t(b, i, d, s, dt, i32, f)
  UNION ALL
  SELECT i % 3 = 0, i * 1000003, i / 7, CASE WHEN i % 11 = 0 THEN NULL ELSE 'k' || (i % 50) END,
         DATE '2020-01-01' + (i % 400)::INTEGER, (i % 7)::INTEGER, (i / 3)::FLOAT
  FROM range(5000) r(i)`;
if (pqCases) {
  for (const codec of ['uncompressed', 'snappy', 'gzip', 'zstd']) {
    const file = `duck_${codec}.parquet`;
    const path = `${dir}/${file}`;
    const before = failures;
    await con.run(`COPY (${edgeSQL}) TO ${q(path)} (FORMAT parquet, COMPRESSION ${codec}, ROW_GROUP_SIZE 2048)`);
    let dump;
    try {
      dump = JSON.parse(execFileSync(pqCases, ['--dump', path], { maxBuffer: 1 << 28 }).toString());
    } catch (e) {
      fail(file, `shardflow's reader failed: ${e.stderr || e.message}`);
      continue;
    }
    const desc = (await con.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${q(path)})`)).getRows();
    const cols = desc.map((d) => ({ name: d[0], type: duckTypes[d[1]] }));
    if (JSON.stringify(cols) !== JSON.stringify(dump.columns))
      fail(file, `columns ${JSON.stringify(dump.columns)}, DuckDB ${JSON.stringify(cols)}`);
    const rows = (await con.runAndReadAll(
      `SELECT ${cols.map(expr).join(', ')} FROM read_parquet(${q(path)}, file_row_number = true) ORDER BY file_row_number`)).getRows();
    if (rows.length !== dump.rows.length) fail(file, `${dump.rows.length} rows, DuckDB ${rows.length}`);
    for (let r = 0; r < Math.min(rows.length, dump.rows.length) && failures - before < 5; r++) {
      cols.forEach((col, c) => {
        if (!sameValue(col.type, rows[r][c], dump.rows[r][c]))
          fail(file, `row ${r} column ${col.name}: shardflow ${show(dump.rows[r][c])}, DuckDB ${show(rows[r][c])}`);
      });
    }
    if (failures === before)
      console.log(`duckdb_check: ${file}: written by DuckDB (${codec}), ${rows.length} rows in ` +
                  `${dump.row_groups} row groups: shardflow's reader reads the same rows and types`);
  }
}

if (failures) {
  console.error(`duckdb_check: ${failures} difference(s)`);
  process.exit(1);
}
console.log(`duckdb_check: all ${cases.length} files agree with DuckDB` +
            (pqCases ? ', and shardflow reads DuckDB\'s 4 files as DuckDB does' : ''));

// bench_polars.mjs - the benchmark shapes of scripts/bench as nodejs-polars
// lazy queries, and the check that their results agree with shardflow's.
// usage: node bench_polars.mjs SHAPE MODE THREADS OUTDIR EVENTS [USERS] [ITEMS]
//        node bench_polars.mjs compare SHAPE SHARDFLOW_OUT POLARS_OUT
//   SHAPE  s1 | s2 | s3 | s4 | s5 (the jobs in tests/bench/shapes) or s6
//          (flatten: EVENTS is the orders file)
//   MODE   infer  (scanJson with polars' schema inference from the first
//                  100 lines; the lazy plan reads only the columns it uses)
//          schema (scanJson with the schema of the columns the job reads;
//                  s6 has no fixed schema and runs infer whatever MODE says)
//          stream (schema, run by polars' streaming engine:
//                  collectSync({engine: 'streaming'}); s6 runs infer)
//          eager  (every column of the file read into a DataFrame first,
//                  inferred, then the same query on .lazy(): polars' eager
//                  path, for comparison; readJSON(file, {format: 'lines'})
//                  itself fails in nodejs-polars 0.26.1, "method is not a
//                  function", so this collects scanJson's full frame)
//   THREADS sets POLARS_MAX_THREADS (scripts/bench also sets it in the
//          environment, since polars sizes its pool once, on first use).
// The query is the job's semantics, as shardflow runs it: derives, filter,
// inner joins on the dimension key, the group by with count, count_if,
// sum, min, max, mean, count_distinct (NULLs not counted), S1/S2's window
// as SQL's ROWS BETWEEN 6 PRECEDING AND CURRENT ROW per (country,
// category) in date order. Output: OUTDIR/date=YYYY-MM-DD/part-0.csv with
// the job's output columns in its sort order (s6: one OUTDIR.csv with the
// structs flattened to dotted columns and each list as its JSON text).
// Prints one line: polars SHAPE MODE SECONDS ROWS (SECONDS: the query and
// the write, not node's start-up; the caller measures the whole process).
//
// compare: reads both outputs' CSV files (a hive directory's date=... as a
// column) and prints "agree: N rows" or "DIFFER: ..." (exit 1). Rows are
// matched by their text columns (the group keys; for s6 by position, on
// the columns both have: shardflow's flatten spreads lists over indexed
// columns); numbers must agree to 1e-9 relative (floating sums are summed
// in another order, and shardflow's are exactly rounded).
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const argv = process.argv.slice(2);
if (argv[0] === 'compare') process.exit(compare(argv[1], argv[2], argv[3]));

const [shape, mode, threads, out, events, users, items] = argv;
if (!out || !['infer', 'schema', 'stream', 'eager'].includes(mode)) {
  console.error('usage: node bench_polars.mjs SHAPE infer|schema|stream|eager THREADS OUTDIR EVENTS [USERS] [ITEMS]\n' +
                '       node bench_polars.mjs compare SHAPE SHARDFLOW_OUT POLARS_OUT');
  process.exit(2);
}
process.env.POLARS_MAX_THREADS = String(threads);
const require = createRequire(path.join(process.env.NODE_PATH || '.', 'x.js'));
const pl = require('nodejs-polars');
const { col, lit, when } = pl;

const ids = shape === 's2' ? pl.Int64 : pl.Utf8;
// One JSONL input as a LazyDataFrame; schema mode declares the columns the
// job reads (and only those: polars then skips the rest of each line).
function src(file, schema) {
  if (mode === 'eager') return pl.scanJson(file).collectSync().lazy();
  if ((mode === 'schema' || mode === 'stream') && schema) return pl.scanJson(file, { schema });
  return pl.scanJson(file);
}
const ev = (extra = {}) => src(events, {
  user_id: ids, item_id: ids, event_type: pl.Utf8, ts: pl.Int64,
  props: pl.Struct(extra.duration ? { price: pl.Float64, duration: pl.Int64 } : { price: pl.Float64 }),
});
const itemsOf = (cols) => src(items, { item_id: ids, ...cols }).select('item_id', ...Object.keys(cols));
const usersOf = (cols) => src(users, { user_id: ids, ...cols }).select('user_id', ...Object.keys(cols));
const price = col('props').struct.field('price');
const isPurchase = col('event_type').eq(lit('purchase'));
// to_date(ts): unix seconds to the UTC day, floored (before 1970 too).
const date = col('ts').mul(1000).cast(pl.Datetime('ms')).cast(pl.Date).alias('date');
const revenue = when(isPurchase.and(price.isNotNull())).then(price).otherwise(lit(0.0)).alias('revenue');
const countIf = (e) => e.cast(pl.Int64).sum();
const countDistinct = (c) => col(c).dropNulls().nUnique().cast(pl.Int64);

const query = {
  // S1/S2 (jobs/daily_kpi.json): the joins select category and country.
  s1: () => ev().withColumns(revenue).filter(col('revenue').gtEq(0))
    .join(itemsOf({ category: pl.Utf8 }), { on: 'item_id', how: 'inner' })
    .join(usersOf({ country: pl.Utf8 }), { on: 'user_id', how: 'inner' })
    .withColumns(date)
    .groupBy(['date', 'country', 'category'])
    .agg(pl.len().cast(pl.Int64).alias('events_total'), countIf(isPurchase).alias('purchases'),
         col('revenue').sum().alias('revenue'), countDistinct('user_id').alias('unique_users'))
    .sort(['country', 'category', 'date'])
    .withColumns(col('revenue').rollingSum({ windowSize: 7, minPeriods: 1 })
                   .over(['country', 'category']).alias('revenue_7d'))
    .select('date', 'country', 'category', 'events_total', 'purchases', 'revenue', 'unique_users', 'revenue_7d'),
  // S3: per-user daily activity.
  s3: () => ev().withColumns(revenue)
    .join(usersOf({ country: pl.Utf8 }), { on: 'user_id', how: 'inner' })
    .withColumns(date)
    .groupBy(['date', 'user_id', 'country'])
    .agg(pl.len().cast(pl.Int64).alias('events'), countIf(isPurchase).alias('purchases'),
         col('revenue').sum().alias('revenue'), countDistinct('item_id').alias('items'))
    .sort(['date', 'user_id', 'country']),
  // S4: wide key, eight aggregates.
  s4: () => ev({ duration: true }).withColumns(revenue)
    .join(itemsOf({ category: pl.Utf8, brand: pl.Utf8, price: pl.Float64 }), { on: 'item_id', how: 'inner' })
    .join(usersOf({ country: pl.Utf8, gender: pl.Utf8, age: pl.Int64 }), { on: 'user_id', how: 'inner' })
    .withColumns(date)
    .groupBy(['date', 'country', 'category', 'brand', 'gender', 'event_type'])
    .agg(pl.len().cast(pl.Int64).alias('events'), countIf(isPurchase).alias('purchases'),
         col('revenue').sum().alias('revenue'), col('price').min().alias('min_price'),
         col('price').max().alias('max_price'), col('price').mean().alias('mean_price'),
         col('age').mean().alias('mean_age'), countDistinct('user_id').alias('users'))
    .sort(['date', 'country', 'category', 'brand', 'gender', 'event_type']),
  // S5: selective filter (about 1% of the lines).
  s5: () => ev().filter(isPurchase.and(price.gt(475.0)))
    .join(itemsOf({ category: pl.Utf8 }), { on: 'item_id', how: 'inner' })
    .withColumns(date)
    .groupBy(['date', 'category'])
    .agg(pl.len().cast(pl.Int64).alias('purchases'), price.sum().alias('revenue'),
         countDistinct('user_id').alias('buyers'))
    .sort(['date', 'category']),
};
query.s2 = query.s1;

const t0 = process.hrtime.bigint();
let rows = 0;
if (shape === 's6') {
  const lf = src(events);
  const df = await flattenToFrame(lf);
  df.writeCSV(out + '.csv');
  rows = df.height;
} else {
  const df = mode === 'stream' ? query[shape]().collectSync({ engine: 'streaming' })
                                : await query[shape]().collect();
  rows = df.height;
  fs.rmSync(out, { recursive: true, force: true });
  // One file per date, like the hive layout of shardflow and DuckDB.
  df.partitionBy('date', true, true, (part) => {
    const d = part.getColumn('date').cast(pl.Utf8).get(0);
    const dir = path.join(out, `date=${d ?? '__HIVE_DEFAULT_PARTITION__'}`);
    fs.mkdirSync(dir, { recursive: true });
    part.drop('date').writeCSV(path.join(dir, 'part-0.csv'));
    return 0;
  });
}
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
console.log(`polars ${shape} ${mode} ${secs.toFixed(3)} ${rows}`);

// A LazyDataFrame has no schema of its own in nodejs-polars: plan none of
// the rows and read the frame's.
function schemaOf(lf) { return lf.head(0).collectSync().schema; }

// Flatten: structs to dotted columns until none is left; a list (which
// CSV cannot hold) becomes its JSON text, as DuckDB's CSV keeps a list.
async function flattenToFrame(lf) {
  for (;;) {
    const schema = schemaOf(lf);
    const structs = Object.keys(schema).filter((k) => String(schema[k].variant) === 'Struct');
    if (structs.length === 0) break;
    lf = lf.unnest(structs, '.');
  }
  const schema = schemaOf(lf);
  const exprs = Object.keys(schema).map((k) => {
    const v = String(schema[k].variant);
    if (v !== 'List' && v !== 'Array') return col(k);
    // {"k":[...]} -> [...]: json-encoding takes a struct, so wrap, unwrap.
    return pl.struct([col(k).alias('v')]).struct.jsonEncode()
      .str.replace('^\\{"v":', '', false).str.replace('\\}$', '', false).alias(k);
  });
  return lf.select(...exprs).collect();
}

// ---- compare ----
function parseCsv(text) {
  if (!text.includes('"')) {  // no quoting: lines and commas
    const lines = text.split(/\r?\n/);
    if (lines[lines.length - 1] === '') lines.pop();
    return lines.map((l) => l.split(','));
  }
  const rows = [];
  let row = [], field = '', i = 0, quoted = false;
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') { field += '"'; i += 2; continue; }
        quoted = false; i++; continue;
      }
      field += c; i++; continue;
    }
    if (c === '"') { quoted = true; i++; continue; }
    if (c === ',') { row.push(field); field = ''; i++; continue; }
    if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field); rows.push(row); row = []; field = ''; i++; continue;
    }
    field += c; i++;
  }
  if (field !== '' || row.length) { row.push(field); rows.push(row); }
  return rows;
}
// Every CSV file under DIR (or the file DIR itself), hive keys as columns:
// { cols: [names], rows: [[cells]] } (the files must share their header).
function readTable(p) {
  let cols = null;
  const rows = [];
  const walk = (f, kn, kv) => {
    if (fs.statSync(f).isDirectory()) {
      for (const e of fs.readdirSync(f).sort()) {
        if (e.startsWith('_') || e.startsWith('.')) continue;
        const m = /^([^=]+)=(.*)$/.exec(e);
        walk(path.join(f, e), m ? [...kn, m[1]] : kn, m ? [...kv, decodeURIComponent(m[2])] : kv);
      }
    } else if (f.endsWith('.csv')) {
      const t = parseCsv(fs.readFileSync(f, 'utf8'));
      if (t.length === 0) return;
      const c = [...kn, ...t[0]];
      if (cols === null) cols = c;
      else if (c.join('\u0001') !== cols.join('\u0001')) throw new Error(`${f}: header differs from the first file's`);
      for (let i = 1; i < t.length; i++) rows.push(kv.length ? kv.concat(t[i]) : t[i]);
    }
  };
  walk(p, [], []);
  return { cols: cols ?? [], rows };
}
function isNum(s) { return s !== '' && !Number.isNaN(Number(s)) && /^[-+0-9.eE]+$/.test(s); }
function same(a, b) {
  if (a === b) return true;
  if (!isNum(a) || !isNum(b)) return false;
  const x = Number(a), y = Number(b);
  return Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(x), Math.abs(y));
}
function compare(shape, sfOut, plOut) {
  if (!sfOut || !plOut) { console.error('usage: node bench_polars.mjs compare SHAPE SF_OUT PL_OUT'); return 2; }
  for (const p of [sfOut, plOut]) {
    if (!fs.existsSync(p)) { console.log(`DIFFER: no output at ${p}`); return 1; }
  }
  const A = readTable(sfOut), B = readTable(plOut);
  const a = A.rows, b = B.rows;
  if (a.length !== b.length) { console.log(`DIFFER: ${a.length} rows from shardflow, ${b.length} from polars`); return 1; }
  if (a.length === 0) { console.log('agree: 0 rows'); return 0; }
  // s6: a list's column (JSON text in polars) is left out where shardflow
  // has it as indexed columns (c.0, ...) or as the column of empty lists.
  const listed = (c) => A.cols.some((d) => d.startsWith(c + '.'));
  const common = A.cols.filter((c) => B.cols.includes(c) && (shape !== 's6' || !listed(c)));
  if (shape !== 's6' && (common.length !== A.cols.length || common.length !== B.cols.length)) {
    console.log(`DIFFER: columns [${A.cols}] from shardflow, [${B.cols}] from polars`);
    return 1;
  }
  const ia = common.map((c) => A.cols.indexOf(c)), ib = common.map((c) => B.cols.indexOf(c));
  const cell = (r, i) => r[i] ?? '';
  const rowDiffers = (r, s) => {
    for (let j = 0; j < common.length; j++) {
      if (!same(cell(r, ia[j]), cell(s, ib[j]))) return j;
    }
    return -1;
  };
  if (shape === 's6') {
    // Input order on both sides; lists are indexed columns in shardflow's.
    for (let i = 0; i < a.length; i++) {
      const j = rowDiffers(a[i], b[i]);
      if (j >= 0) {
        console.log(`DIFFER: row ${i + 1} column ${common[j]}: shardflow '${cell(a[i], ia[j])}', polars '${cell(b[i], ib[j])}'`);
        return 1;
      }
    }
    console.log(`agree: ${a.length} rows, ${common.length} common columns (of ${A.cols.length} and ${B.cols.length})`);
    return 0;
  }
  // Group keys: the columns that are not all numbers on shardflow's side.
  const keys = [...common.keys()].filter((j) => a.some((r) => cell(r, ia[j]) !== '' && !isNum(cell(r, ia[j]))));
  const keyOf = (r, idx) => keys.map((j) => cell(r, idx[j])).join('\u0001');
  const byKey = new Map(b.map((r) => [keyOf(r, ib), r]));
  const keyNames = keys.map((j) => common[j]);
  if (byKey.size !== b.length) { console.log(`DIFFER: polars rows not unique by [${keyNames}]`); return 1; }
  for (const r of a) {
    const k = keyOf(r, ia), s = byKey.get(k);
    if (!s) { console.log(`DIFFER: no polars row for [${k.split('\u0001')}]`); return 1; }
    const j = rowDiffers(r, s);
    if (j >= 0) {
      console.log(`DIFFER: at [${k.split('\u0001')}] column ${common[j]}: shardflow '${cell(r, ia[j])}', polars '${cell(s, ib[j])}'`);
      return 1;
    }
  }
  console.log(`agree: ${a.length} rows, ${common.length} columns, keyed by [${keyNames}]`);
  return 0;
}

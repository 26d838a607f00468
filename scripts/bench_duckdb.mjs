// bench_duckdb.mjs - the benchmark shapes of scripts/bench in DuckDB SQL.
// usage: node bench_duckdb.mjs SHAPE MODE THREADS OUTDIR EVENTS [USERS] [ITEMS]
//   SHAPE  s1 | s2 | s3 | s4 | s5 (the jobs in tests/bench/shapes) or s6
//          (flatten: EVENTS is the orders file)
//   MODE   auto (read_ndjson with type auto-detection; DuckDB reads only
//          the columns the query uses) or explicit (read_ndjson with a
//          columns = {...} schema of the columns the job reads)
// Runs with NODE_PATH pointing at a node_modules that has @duckdb/node-api
// (scripts/bench installs it into .deps/node). Prints one line:
//   duckdb SHAPE MODE SECONDS ROWS
// where SECONDS is the query alone (the caller measures the whole process)
// and ROWS the number of rows written.
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.join(process.env.NODE_PATH || '.', 'x.js'));
const { DuckDBInstance } = require('@duckdb/node-api');

const [shape, mode, threads, out, events, users, items] = process.argv.slice(2);
if (!out || !['auto', 'explicit'].includes(mode)) {
  console.error('usage: node bench_duckdb.mjs SHAPE auto|explicit THREADS OUTDIR EVENTS [USERS] [ITEMS]');
  process.exit(2);
}
const q = (s) => "'" + s.replace(/'/g, "''") + "'";
const ids = shape === 's2' ? 'BIGINT' : 'VARCHAR';

// read_ndjson of a file; explicit mode names the columns the job reads.
function src(file, cols) {
  if (mode === 'auto') return `read_ndjson(${q(file)})`;
  const spec = Object.entries(cols).map(([k, t]) => `${k}: '${t}'`).join(', ');
  return `read_ndjson(${q(file)}, columns = {${spec}})`;
}
const ev = (extra = {}) => src(events, { user_id: ids, item_id: ids, event_type: 'VARCHAR', ts: 'BIGINT',
  props: 'STRUCT(price DOUBLE' + (extra.duration ? ', duration BIGINT' : '') + ')' });
const dayOf = "DATE '1970-01-01' + CAST(floor(ts / 86400) AS INTEGER)";
const revenue = "CASE WHEN event_type = 'purchase' AND props.price IS NOT NULL THEN props.price ELSE 0.0 END";

const sql = {
  // S1/S2: jobs/daily_kpi.json
  s1: () => `
    WITH j AS (
      SELECT ${dayOf} AS date, u.country, i.category, e.event_type, ${revenue} AS revenue, e.user_id
      FROM ${ev()} e
      JOIN ${src(items, { item_id: ids, category: 'VARCHAR' })} i ON e.item_id = i.item_id
      JOIN ${src(users, { user_id: ids, country: 'VARCHAR' })} u ON e.user_id = u.user_id
      WHERE ${revenue} >= 0),
    d AS (
      SELECT date, country, category, count(*) AS events_total,
             count(*) FILTER (WHERE event_type = 'purchase') AS purchases,
             sum(revenue) AS revenue, count(DISTINCT user_id) AS unique_users
      FROM j GROUP BY ALL)
    SELECT *, sum(revenue) OVER (PARTITION BY country, category ORDER BY date
                                 ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) AS revenue_7d
    FROM d`,
  // S3: per-user daily activity
  s3: () => `
    SELECT ${dayOf} AS date, e.user_id, u.country, count(*) AS events,
           count(*) FILTER (WHERE event_type = 'purchase') AS purchases,
           sum(${revenue}) AS revenue, count(DISTINCT item_id) AS items
    FROM ${ev()} e JOIN ${src(users, { user_id: ids, country: 'VARCHAR' })} u USING (user_id)
    GROUP BY ALL`,
  // S4: wide key, eight aggregates
  s4: () => `
    SELECT ${dayOf} AS date, u.country, i.category, i.brand, u.gender, e.event_type,
           count(*) AS events, count(*) FILTER (WHERE event_type = 'purchase') AS purchases,
           sum(${revenue}) AS revenue, min(i.price) AS min_price, max(i.price) AS max_price,
           avg(i.price) AS mean_price, avg(u.age) AS mean_age, count(DISTINCT e.user_id) AS users
    FROM ${ev({ duration: true })} e
    JOIN ${src(items, { item_id: ids, category: 'VARCHAR', brand: 'VARCHAR', price: 'DOUBLE' })} i USING (item_id)
    JOIN ${src(users, { user_id: ids, country: 'VARCHAR', gender: 'VARCHAR', age: 'BIGINT' })} u USING (user_id)
    GROUP BY ALL`,
  // S5: selective filter (about 1% of the lines)
  s5: () => `
    SELECT ${dayOf} AS date, i.category, count(*) AS purchases, sum(props.price) AS revenue,
           count(DISTINCT user_id) AS buyers
    FROM ${ev()} e JOIN ${src(items, { item_id: ids, category: 'VARCHAR' })} i USING (item_id)
    WHERE event_type = 'purchase' AND props.price > 475.0
    GROUP BY ALL`,
};
sql.s2 = sql.s1;

const inst = await DuckDBInstance.create(':memory:', { threads: String(threads) });
const con = await inst.connect();
let stmt;
if (shape === 's6') {
  // Flatten: nested structs to dotted columns, lists kept as they are.
  stmt = `COPY (SELECT unnest(o, recursive := true) FROM read_ndjson(${q(events)}) o)
          TO ${q(out + '.csv')} (FORMAT CSV, HEADER)`;
} else {
  stmt = `COPY (${sql[shape]()}) TO ${q(out)} (FORMAT CSV, HEADER, PARTITION_BY (date), OVERWRITE_OR_IGNORE)`;
}
const t0 = process.hrtime.bigint();
const res = await con.run(stmt);
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
let rows = '-';
try { rows = String(res.rowsChanged ?? '-'); } catch { /* older API */ }
console.log(`duckdb ${shape} ${mode} ${secs.toFixed(3)} ${rows}`);

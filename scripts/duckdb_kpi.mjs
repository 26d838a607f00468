// duckdb_kpi.mjs - the daily KPI job in DuckDB SQL, for scripts/bench.
// usage: node duckdb_kpi.mjs EVENTS USERS ITEMS OUTDIR THREADS
// Runs from a folder where @duckdb/node-api is installed (scripts/bench
// installs it into .bench/duckdb and copies this file there). Prints the
// wall seconds of the query (read_json + join + GROUP BY + window +
// partitioned COPY) and the number of output rows.
import { DuckDBInstance } from '@duckdb/node-api';

const [events, users, items, out, threads] = process.argv.slice(2);
if (!threads) {
  console.error('usage: node duckdb_kpi.mjs EVENTS USERS ITEMS OUTDIR THREADS');
  process.exit(2);
}
const q = (s) => "'" + s.replace(/'/g, "''") + "'";
const inst = await DuckDBInstance.create(':memory:', { threads: String(threads) });
const con = await inst.connect();
const sql = `
COPY (
  WITH ev AS (
    SELECT user_id, item_id, event_type, ts, props.price AS price
    FROM read_json(${q(events)}, format = 'newline_delimited',
      columns = {event_id: 'VARCHAR', user_id: 'BIGINT', item_id: 'BIGINT',
                 event_type: 'VARCHAR', ts: 'BIGINT',
                 props: 'STRUCT(price DOUBLE, quantity BIGINT, duration BIGINT)'})
  ),
  items AS (SELECT * FROM read_json(${q(items)}, format = 'newline_delimited',
      columns = {item_id: 'BIGINT', category: 'VARCHAR', price: 'DOUBLE', brand: 'VARCHAR', name: 'VARCHAR'})),
  users AS (SELECT * FROM read_json(${q(users)}, format = 'newline_delimited',
      columns = {user_id: 'BIGINT', country: 'VARCHAR', age: 'BIGINT', gender: 'VARCHAR', registration_date: 'DATE'})),
  rev AS (
    SELECT *, CASE WHEN event_type = 'purchase' AND price IS NOT NULL THEN price ELSE 0.0 END AS revenue
    FROM ev
  ),
  joined AS (
    SELECT DATE '1970-01-01' + CAST(floor(r.ts / 86400) AS INTEGER) AS date,
           u.country, i.category, r.event_type, r.revenue, r.user_id
    FROM rev r JOIN items i ON r.item_id = i.item_id JOIN users u ON r.user_id = u.user_id
    WHERE r.revenue >= 0
  ),
  daily AS (
    SELECT date, country, category, count(*) AS events_total,
           count(*) FILTER (WHERE event_type = 'purchase') AS purchases,
           sum(revenue) AS revenue, count(DISTINCT user_id) AS unique_users
    FROM joined GROUP BY date, country, category
  )
  SELECT date, country, category, events_total, purchases, revenue, unique_users,
         sum(revenue) OVER (PARTITION BY country, category ORDER BY date
                            ROWS BETWEEN 6 PRECEDING AND CURRENT ROW) AS revenue_7d
  FROM daily ORDER BY date, country, category
) TO ${q(out)} (FORMAT CSV, HEADER, PARTITION_BY (date), OVERWRITE_OR_IGNORE)`;
const t0 = process.hrtime.bigint();
await con.run(sql);
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
const rows = await con.runAndReadAll(
  `SELECT count(*) FROM read_csv(${q(out + '/*/*.csv')}, hive_partitioning = true)`);
console.log(`duckdb ${secs.toFixed(3)} s ${rows.getRows()[0][0]} rows`);

// bench_pipelines.mjs - jobs/user_daily.json written as DuckDB SQL, for the
// comparison in docs/pipelines.md (the same cleaning, grid, windows and
// month-partitioned Parquet output).
// usage: NODE_PATH=.deps/node/node_modules node scripts/bench_pipelines.mjs \
//          user_daily THREADS DATADIR OUTDIR [AS_OF]
//   DATADIR holds users.csv and events.jsonl (`shardflow gen learning`).
// Prints one line: duckdb user_daily SECONDS ROWS (the query alone).
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.join(process.env.NODE_PATH || '.', 'x.js'));
const { DuckDBInstance } = require('@duckdb/node-api');

const [pipeline, threads, data, out, asOf = '2025-04-20'] = process.argv.slice(2);
if (pipeline !== 'user_daily' || !out) {
  console.error('usage: node bench_pipelines.mjs user_daily THREADS DATADIR OUTDIR [AS_OF]');
  process.exit(2);
}
const q = (s) => "'" + s.replace(/'/g, "''") + "'";
const sql = `
COPY (
WITH users AS (
  SELECT user_id, signup_date FROM (
    SELECT *, row_number() OVER (PARTITION BY user_id ORDER BY rn) AS k
    FROM (SELECT *, row_number() OVER () AS rn
          FROM read_csv(${q(data + '/users.csv')}, header = true,
                        columns = {'user_id': 'VARCHAR', 'signup_date': 'DATE', 'plan': 'VARCHAR',
                                   'country': 'VARCHAR', 'is_paid': 'BOOLEAN'})))
  WHERE k = 1),
raw AS (
  SELECT *, row_number() OVER () AS rn
  FROM read_ndjson(${q(data + '/events.jsonl')},
                   columns = {'event_id': 'VARCHAR', 'user_id': 'VARCHAR', 'event_time': 'VARCHAR',
                              'event_type': 'VARCHAR', 'course_name': 'VARCHAR',
                              'watch_minutes': 'DOUBLE'})),
clean AS (
  SELECT event_id, user_id, lower(event_type) AS etype, course_name,
         coalesce(watch_minutes, 0.0) AS watch,
         CAST(CAST(event_time AS TIMESTAMPTZ) AS DATE) AS d, rn
  FROM raw
  WHERE user_id IS NOT NULL AND event_time IS NOT NULL AND event_type IS NOT NULL),
dedup AS (
  SELECT * FROM (
    SELECT *, row_number() OVER (PARTITION BY event_id ORDER BY rn) AS k
    FROM clean WHERE d <= DATE ${q(asOf)})
  WHERE k = 1),
daily AS (
  SELECT user_id, d, count(*) AS total_events,
         count(*) FILTER (WHERE etype = 'login') AS total_logins,
         sum(watch) AS total_watch_minutes,
         count(*) FILTER (WHERE etype = 'quiz_attempt') AS total_quiz_attempts,
         count(DISTINCT course_name) AS distinct_courses
  FROM dedup GROUP BY user_id, d),
bounds AS (SELECT min(d) AS lo, max(d) AS hi FROM dedup),
grid AS (
  SELECT u.user_id, CAST(g.d AS DATE) AS d
  FROM users u, bounds b,
       LATERAL generate_series(CAST(greatest(b.lo, u.signup_date) AS TIMESTAMP),
                               CAST(b.hi AS TIMESTAMP), INTERVAL 1 DAY) AS g(d)),
filled AS (
  SELECT g.user_id, g.d, coalesce(a.total_events, 0) AS total_events,
         coalesce(a.total_logins, 0) AS total_logins,
         coalesce(a.total_watch_minutes, 0.0) AS total_watch_minutes,
         coalesce(a.total_quiz_attempts, 0) AS total_quiz_attempts,
         coalesce(a.distinct_courses, 0) AS distinct_courses,
         CASE WHEN a.total_events > 0 THEN g.d END AS active_day
  FROM grid g LEFT JOIN daily a USING (user_id, d))
SELECT user_id, d AS as_of_date, total_events, total_logins, total_watch_minutes,
       total_quiz_attempts, distinct_courses,
       sum(total_events) OVER w7 AS events_7d, sum(total_events) OVER w14 AS events_14d,
       sum(total_events) OVER w30 AS events_30d,
       sum(total_watch_minutes) OVER w7 AS watch_minutes_7d,
       sum(total_watch_minutes) OVER w14 AS watch_minutes_14d,
       sum(total_watch_minutes) OVER w30 AS watch_minutes_30d,
       date_diff('day', max(active_day) OVER wall, d) AS days_since_last_activity,
       strftime(d, '%Y-%m') AS month
FROM filled
WINDOW w7 AS (PARTITION BY user_id ORDER BY d ROWS 6 PRECEDING),
       w14 AS (PARTITION BY user_id ORDER BY d ROWS 13 PRECEDING),
       w30 AS (PARTITION BY user_id ORDER BY d ROWS 29 PRECEDING),
       wall AS (PARTITION BY user_id ORDER BY d ROWS UNBOUNDED PRECEDING)
ORDER BY user_id, as_of_date
) TO ${q(out)} (FORMAT parquet, PARTITION_BY (month), OVERWRITE_OR_IGNORE true)`;

const inst = await DuckDBInstance.create(':memory:', { threads: String(threads) });
const con = await inst.connect();
await con.run("SET TimeZone = 'UTC'");
const t0 = process.hrtime.bigint();
const r = await con.runAndReadAll(sql);
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
const rows = r.getRows().length ? String(r.getRows()[0][0]) : '?';
console.log(`duckdb user_daily ${secs.toFixed(2)} ${rows}`);

// bench_pipelines.mjs - the shipped pipelines written as DuckDB SQL, for the
// comparisons in docs/pipelines.md:
//   user_daily  jobs/user_daily.json (the same cleaning, grid, windows and
//               month-partitioned Parquet output);
//   video_star  jobs/video_star.json (the same cleaning, dedupe, unknown
//               members, the eight tables as Parquet, the fact table
//               partitioned by dt). SCHEMA: explicit (default: the columns
//               and types given, as the job gives them) or auto (DuckDB
//               detects the JSON's schema).
// usage: NODE_PATH=.deps/node/node_modules node scripts/bench_pipelines.mjs \
//          user_daily THREADS DATADIR OUTDIR [AS_OF]
//        ... video_star THREADS DATADIR OUTDIR [explicit|auto]
//   DATADIR holds the generator's files (`shardflow gen learning` / `gen video`).
// Prints one line: duckdb PIPELINE SECONDS ROWS (the queries alone; ROWS is
// the output rows of user_daily, the fact rows of video_star).
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(path.join(process.env.NODE_PATH || '.', 'x.js'));
const { DuckDBInstance } = require('@duckdb/node-api');

const [pipeline, threads, data, out, arg5] = process.argv.slice(2);
if (!['user_daily', 'video_star'].includes(pipeline) || !out) {
  console.error('usage: node bench_pipelines.mjs user_daily|video_star THREADS DATADIR OUTDIR ' +
                '[AS_OF | explicit|auto]');
  process.exit(2);
}
const asOf = pipeline === 'user_daily' && arg5 ? arg5 : '2025-04-20';
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

// jobs/video_star.json: first row per key of each dimension (file order),
// events with event_id and event_time, the first row per event_id, keys
// without a dimension row -> 'unknown'; then the tables.
function videoStar(schema) {
  const csv = (name, cols) =>
    `read_csv(${q(data + '/' + name + '.csv')}, header = true, columns = {${cols}})`;
  const dim = (name, key, cols) => `
CREATE TEMP TABLE ${name} AS
  SELECT * EXCLUDE (rn) FROM (SELECT *, row_number() OVER () AS rn FROM ${csv(name, cols)})
  QUALIFY row_number() OVER (PARTITION BY ${key} ORDER BY rn) = 1;`;
  const events = schema === 'auto'
    ? `read_json_auto(${q(data + '/events.jsonl')}, format = 'newline_delimited')`
    : `read_ndjson(${q(data + '/events.jsonl')}, columns = {
         'event_id': 'VARCHAR', 'event_time': 'VARCHAR', 'event_type': 'VARCHAR',
         'user_id': 'VARCHAR', 'video_id': 'VARCHAR', 'device_id': 'VARCHAR',
         'session_id': 'VARCHAR', 'watch_time_sec': 'BIGINT',
         'context': 'STRUCT(app_version VARCHAR, network VARCHAR, geo STRUCT(country VARCHAR, '
                    || 'region VARCHAR), player STRUCT(bitrate_kbps BIGINT, muted BOOLEAN, '
                    || 'quality VARCHAR))'})`;
  const to = (t) => q(out + '/' + t);
  const pq = (t) => q(out + '/' + t + '/part-00000.parquet');
  return [
    dim('users', 'user_id', `'user_id': 'VARCHAR', 'signup_date': 'DATE', 'country': 'VARCHAR',
                            'subscription_tier': 'VARCHAR'`),
    dim('videos', 'video_id', `'video_id': 'VARCHAR', 'title': 'VARCHAR', 'category': 'VARCHAR',
                              'duration_sec': 'BIGINT', 'publish_date': 'DATE'`),
    dim('devices', 'device_id', `'device_id': 'VARCHAR', 'device_type': 'VARCHAR', 'os': 'VARCHAR',
                                'app_version': 'VARCHAR'`),
    `CREATE TEMP TABLE fact AS
     WITH raw AS (SELECT *, row_number() OVER () AS rn FROM ${events}),
     dedup AS (SELECT * FROM raw WHERE event_id IS NOT NULL AND event_time IS NOT NULL
               QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY rn) = 1)
     SELECT e.event_id, CAST(e.event_time AS TIMESTAMPTZ) AS event_time,
            lower(e.event_type) AS event_type,
            CASE WHEN u.user_id IS NULL THEN 'unknown' ELSE e.user_id END AS user_id,
            CASE WHEN v.video_id IS NULL THEN 'unknown' ELSE e.video_id END AS video_id,
            CASE WHEN d.device_id IS NULL THEN 'unknown' ELSE e.device_id END AS device_id,
            e.session_id, CAST(e.watch_time_sec AS BIGINT) AS watch_time_sec,
            e.context.app_version AS app_version, e.context.network AS network,
            e.context.geo.country AS geo_country, e.context.geo.region AS geo_region,
            CAST(e.context.player.bitrate_kbps AS BIGINT) AS player_bitrate_kbps,
            e.context.player.muted AS player_muted, e.context.player.quality AS player_quality,
            CAST(CAST(e.event_time AS TIMESTAMPTZ) AS DATE) AS dt
     FROM dedup e LEFT JOIN users u ON e.user_id = u.user_id
          LEFT JOIN videos v ON e.video_id = v.video_id
          LEFT JOIN devices d ON e.device_id = d.device_id`,
    `COPY (SELECT * FROM fact ORDER BY event_time, event_id) TO ${to('fact_video_events')}
     (FORMAT parquet, PARTITION_BY (dt), OVERWRITE_OR_IGNORE true)`,
    `COPY (SELECT * FROM users UNION ALL SELECT 'unknown', NULL, NULL, NULL ORDER BY user_id)
     TO ${pq('dim_users')} (FORMAT parquet)`,
    `COPY (SELECT * FROM videos UNION ALL SELECT 'unknown', NULL, NULL, NULL, NULL
           ORDER BY video_id) TO ${pq('dim_videos')} (FORMAT parquet)`,
    `COPY (SELECT * FROM devices UNION ALL SELECT 'unknown', NULL, NULL, NULL
           ORDER BY device_id) TO ${pq('dim_devices')} (FORMAT parquet)`,
    `COPY (SELECT CAST(g.d AS DATE) AS dt, year(g.d) AS year, quarter(g.d) AS quarter,
                  month(g.d) AS month, day(g.d) AS day, dayofweek(g.d) AS dow,
                  dayofweek(g.d) IN (0, 6) AS is_weekend
           FROM (SELECT min(dt) AS lo, max(dt) AS hi FROM fact) b,
                LATERAL generate_series(CAST(b.lo AS TIMESTAMP), CAST(b.hi AS TIMESTAMP),
                                        INTERVAL 1 DAY) AS g(d) ORDER BY dt)
     TO ${pq('dim_date')} (FORMAT parquet)`,
    `COPY (SELECT dt, video_id, count(*) FILTER (WHERE event_type = 'play') AS plays,
                  sum(coalesce(watch_time_sec, 0)) AS watch_time_sec,
                  count(DISTINCT user_id) FILTER (WHERE user_id <> 'unknown') AS unique_viewers
           FROM fact GROUP BY dt, video_id ORDER BY dt, video_id)
     TO ${pq('daily_video_engagement')} (FORMAT parquet)`,
    `CREATE TEMP TABLE user_activity AS
     SELECT user_id, dt, count(*) AS events, sum(coalesce(watch_time_sec, 0)) AS watch_time_sec,
            min(dt) OVER (PARTITION BY user_id) AS cohort_dt
     FROM fact WHERE user_id <> 'unknown' GROUP BY user_id, dt`,
    `COPY (SELECT * FROM user_activity ORDER BY user_id, dt)
     TO ${pq('user_activity')} (FORMAT parquet)`,
    `COPY (SELECT cohort_dt, dt, count(*) AS retained_users FROM user_activity
           GROUP BY cohort_dt, dt ORDER BY cohort_dt, dt)
     TO ${pq('user_retention_cohorts')} (FORMAT parquet)`,
    `SELECT count(*) FROM fact`,
  ];
}

const inst = await DuckDBInstance.create(':memory:', { threads: String(threads) });
const con = await inst.connect();
await con.run("SET TimeZone = 'UTC'");
if (pipeline === 'video_star') {
  const fs = await import('node:fs');
  for (const t of ['dim_users', 'dim_videos', 'dim_devices', 'dim_date', 'daily_video_engagement',
                   'user_activity', 'user_retention_cohorts'])
    fs.mkdirSync(path.join(out, t), { recursive: true });
}
const stmts = pipeline === 'video_star' ? videoStar(arg5 || 'explicit') : [sql];
const t0 = process.hrtime.bigint();
let r;
for (const s of stmts)
  r = await con.runAndReadAll(s);
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
const rows = r.getRows().length ? String(r.getRows()[0][0]) : '?';
console.log(`duckdb ${pipeline}${pipeline === 'video_star' ? ' ' + (arg5 || 'explicit') : ''} ` +
            `${secs.toFixed(2)} ${rows}`);

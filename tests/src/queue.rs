//! The tests' and benchmarks' view of the job queue: what they count,
//! list, arrange and clear in it. The only file of this crate that names
//! the queue's tables, as `shared::jobs::queue` and `shared::ops` are in
//! production code, so an upgrade of the queue changes one file here too.
//!
//! States are the operators' (`shared::ops::STATES`: `pending`, `scheduled`,
//! `running`, `done`, `failed`, `dead`, `killed`), not apalis's status words.
//! Before a helper is added here, look for it in `shared::jobs::queue`
//! (`in_flight`, `enqueue`) and `shared::ops` (`queue_stats`, or
//! [`crate::wait_queue_drained`] to wait until nothing is left to run).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;

/// One job as a test sees it.
#[derive(Clone, Debug)]
pub struct QueuedJob {
    pub id: String,
    /// The operators' state (`shared::ops::STATES`).
    pub state: String,
    pub attempts: i32,
    /// The job's payload, as enqueued.
    pub payload: Value,
    pub run_at: DateTime<Utc>,
}

/// The jobs of `queue`, in the order they were enqueued.
pub async fn jobs(pool: &PgPool, queue: &str) -> Vec<QueuedJob> {
    let rows: Vec<(String, String, i32, Value, DateTime<Utc>)> = sqlx::query_as(
        "SELECT id, kisum_job_state(status, attempts, max_attempts, run_at), attempts,
                convert_from(job, 'UTF8')::jsonb, run_at
           FROM apalis.jobs WHERE job_type = $1 ORDER BY id",
    )
    .bind(queue)
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(id, state, attempts, payload, run_at)| QueuedJob {
            id,
            state,
            attempts,
            payload,
            run_at,
        })
        .collect()
}

/// Jobs of `queue`, in any state.
pub async fn count(pool: &PgPool, queue: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM apalis.jobs WHERE job_type = $1")
        .bind(queue)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Jobs of every queue, in any state.
pub async fn count_all(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM apalis.jobs")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Jobs of `queue` that ran to success.
pub async fn count_done(pool: &PgPool, queue: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM apalis.jobs WHERE job_type = $1 AND status = 'Done'")
        .bind(queue)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Jobs of every queue that ran to success at or after `since`.
pub async fn count_done_since(pool: &PgPool, since: DateTime<Utc>) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM apalis.jobs WHERE status = 'Done' AND done_at >= $1")
        .bind(since)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// How many jobs of `queue` are in each apalis status, and, for those not
/// done, which worker holds them: `(status, holder, count)`.
pub async fn states_by_holder(pool: &PgPool, queue: &str) -> Vec<(String, Option<String>, i64)> {
    sqlx::query_as(
        "SELECT status, CASE WHEN status <> 'Done' THEN lock_by END, count(*)
           FROM apalis.jobs WHERE job_type = $1 GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .bind(queue)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Jobs finished since `since`, by queue: `{queue: count}`.
pub async fn done_by_queue_since(
    pool: &PgPool,
    since: DateTime<Utc>,
) -> std::collections::BTreeMap<String, i64> {
    sqlx::query_as(
        "SELECT job_type, count(*) FROM apalis.jobs
          WHERE status = 'Done' AND done_at >= $1 GROUP BY job_type",
    )
    .bind(since)
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .collect()
}

/// The id of some job, of any queue: for a route that takes one.
pub async fn some_job_id(pool: &PgPool) -> String {
    sqlx::query_scalar("SELECT id::text FROM apalis.jobs LIMIT 1")
        .fetch_one(pool)
        .await
        .unwrap()
}

/// A digest of every job row: equal before and after means the queue did
/// not change.
pub async fn digest(pool: &PgPool) -> String {
    sqlx::query_scalar(
        "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM apalis.jobs t",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Deletes the jobs of `queue`; returns how many.
pub async fn delete(pool: &PgPool, queue: &str) -> u64 {
    sqlx::query("DELETE FROM apalis.jobs WHERE job_type = $1")
        .bind(queue)
        .execute(pool)
        .await
        .unwrap()
        .rows_affected()
}

/// Deletes every job of every queue.
pub async fn delete_all(pool: &PgPool) {
    sqlx::query("DELETE FROM apalis.jobs")
        .execute(pool)
        .await
        .unwrap();
}

/// Deletes the jobs of `queue` whose payload field `field` is `value` (as
/// text): a job lost for one record. Returns how many.
pub async fn delete_about(pool: &PgPool, queue: &str, field: &str, value: &str) -> u64 {
    sqlx::query(
        "DELETE FROM apalis.jobs WHERE job_type = $1
            AND convert_from(job, 'UTF8')::jsonb ->> $2 = $3",
    )
    .bind(queue)
    .bind(field)
    .bind(value)
    .execute(pool)
    .await
    .unwrap()
    .rows_affected()
}

/// `VACUUM ANALYZE` of the job table: a benchmark's fresh start after it
/// deleted many jobs, or its accurate plans after it enqueued many.
pub async fn vacuum(pool: &PgPool) {
    sqlx::raw_sql("VACUUM ANALYZE apalis.jobs")
        .execute(pool)
        .await
        .unwrap();
}

/// The job table's name, its rows and its size on disk in bytes (table,
/// indexes and TOAST), for a benchmark's bytes per row.
pub async fn footprint(pool: &PgPool) -> (String, i64, i64) {
    sqlx::query_as(
        "SELECT 'apalis.jobs', count(*), pg_total_relation_size('apalis.jobs') FROM apalis.jobs",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// The job table's size: rows, then bytes of the table, its indexes, and
/// the rest (TOAST and maps).
pub async fn table_sizes(conn: &mut sqlx::PgConnection) -> (i64, i64, i64, i64) {
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM apalis.jobs), pg_relation_size('apalis.jobs'),
                pg_indexes_size('apalis.jobs'),
                pg_total_relation_size('apalis.jobs') - pg_relation_size('apalis.jobs')
                    - pg_indexes_size('apalis.jobs')",
    )
    .fetch_one(conn)
    .await
    .unwrap()
}

/// Marks every pending job done, at times spread evenly over the last
/// `days` days, as if workers had run them then.
pub async fn finish_pending_over(conn: &mut sqlx::PgConnection, days: f64) {
    sqlx::query(
        "UPDATE apalis.jobs SET status = 'Done', attempts = 1, lock_at = NULL, lock_by = NULL,
                done_at = now() - make_interval(secs => random() * $1 * 86400)
          WHERE status = 'Pending'",
    )
    .bind(days)
    .execute(conn)
    .await
    .unwrap();
}

/// How a job of a test's scenario ended, as if a worker had run it.
#[derive(Clone, Copy, Debug)]
pub struct Ending<'a> {
    /// Done, or else dead: failed with every attempt spent.
    pub done: bool,
    /// How long ago it ended.
    pub ago: Duration,
    /// The worker that ran it, as its row in the workers table names it.
    pub by: Option<&'a str>,
}

impl<'a> Ending<'a> {
    /// Done after one attempt, `ago`.
    pub fn done(ago: Duration) -> Self {
        Self {
            done: true,
            ago,
            by: None,
        }
    }

    /// Dead (every attempt failed), `ago`.
    pub fn dead(ago: Duration) -> Self {
        Self {
            done: false,
            ago,
            by: None,
        }
    }

    /// Run by worker `id`.
    pub fn by(self, id: &'a str) -> Self {
        Self {
            by: Some(id),
            ..self
        }
    }
}

/// Ends the jobs of `queue` in the order they were enqueued: the first
/// takes `endings[0]`, and so on; jobs past the last ending are left as
/// they are. Lets a test arrange history without running the jobs.
pub async fn end_jobs(pool: &PgPool, queue: &str, endings: &[Ending<'_>]) {
    let done: Vec<bool> = endings.iter().map(|e| e.done).collect();
    let ago: Vec<f64> = endings.iter().map(|e| e.ago.as_secs_f64()).collect();
    let by: Vec<Option<String>> = endings.iter().map(|e| e.by.map(str::to_owned)).collect();
    sqlx::query(
        "WITH j AS (SELECT id, row_number() OVER (ORDER BY id) AS n FROM apalis.jobs WHERE job_type = $1),
              e AS (SELECT * FROM unnest($2::bool[], $3::float8[], $4::text[])
                                  WITH ORDINALITY AS e (done, ago, by_worker, n))
         UPDATE apalis.jobs SET
             status = CASE WHEN e.done THEN 'Done' ELSE 'Failed' END,
             attempts = CASE WHEN e.done THEN 1 ELSE max_attempts END,
             lock_by = e.by_worker,
             done_at = now() - make_interval(secs => e.ago)
           FROM j JOIN e ON e.n = j.n WHERE apalis.jobs.id = j.id",
    )
    .bind(queue)
    .bind(&done)
    .bind(&ago)
    .bind(&by)
    .execute(pool)
    .await
    .unwrap();
}

/// A worker row of `queue` with id `id`, as a process registers it, last
/// seen `last_seen_ago` and started `started_ago`: a pod long gone.
pub async fn add_worker(
    pool: &PgPool,
    id: &str,
    queue: &str,
    last_seen_ago: Duration,
    started_ago: Duration,
) {
    sqlx::query(
        "INSERT INTO apalis.workers (id, worker_type, storage_name, last_seen, started_at)
         VALUES ($1, $2, 'PostgresStorage', now() - make_interval(secs => $3),
                 now() - make_interval(secs => $4))",
    )
    .bind(id)
    .bind(queue)
    .bind(last_seen_ago.as_secs_f64())
    .bind(started_ago.as_secs_f64())
    .execute(pool)
    .await
    .unwrap();
}

/// A worker registered for one queue. Its id is
/// `queue@host:pid#restarts.boot` (the worker's `register_queue!`).
#[derive(Clone, Debug)]
pub struct QueueWorker {
    pub id: String,
    pub queue: String,
}

/// Every worker row, live or gone.
pub async fn workers(pool: &PgPool) -> Vec<QueueWorker> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT id, worker_type FROM apalis.workers ORDER BY id")
            .fetch_all(pool)
            .await
            .unwrap();
    rows.into_iter()
        .map(|(id, queue)| QueueWorker { id, queue })
        .collect()
}

/// When a benchmark's jobs of one queue ran, and how many are done.
#[derive(Clone, Copy, Debug)]
pub struct RunSummary {
    /// The first fetch by a worker.
    pub first_lock: DateTime<Utc>,
    pub first_done: DateTime<Utc>,
    pub last_done: DateTime<Utc>,
    pub done: i64,
    pub not_done: i64,
}

/// The run of every job of `queue`.
pub async fn run_summary(pool: &PgPool, queue: &str) -> RunSummary {
    let (first_lock, first_done, last_done, done, not_done) = sqlx::query_as(
        "SELECT min(lock_at), min(done_at), max(done_at),
                count(*) FILTER (WHERE status = 'Done'), count(*) FILTER (WHERE status <> 'Done')
           FROM apalis.jobs WHERE job_type = $1",
    )
    .bind(queue)
    .fetch_one(pool)
    .await
    .unwrap();
    RunSummary {
        first_lock,
        first_done,
        last_done,
        done,
        not_done,
    }
}

/// Of each done job of `queue`: milliseconds from due to fetched, and from
/// due to done.
pub async fn latencies_ms(pool: &PgPool, queue: &str) -> Vec<(f64, f64)> {
    sqlx::query_as(
        "SELECT extract(epoch FROM lock_at - run_at)::float8 * 1000,
                extract(epoch FROM done_at - run_at)::float8 * 1000
           FROM apalis.jobs WHERE job_type = $1 AND status = 'Done'",
    )
    .bind(queue)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Connections of `kisum-worker` processes to this database.
pub async fn worker_connections(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
          WHERE datname = current_database() AND application_name = 'kisum'",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

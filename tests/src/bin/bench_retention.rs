//! The queue table's size after `JOBS` (1,000,000) done jobs, without and
//! with retention (`JOB_RETENTION_HOURS`, 24 by default).
//!
//! - without: `JOBS` no-op jobs enqueued (`shared::jobs::enqueue_many`) and
//!   marked done over the last `DAYS` (10) days, as a queue that is never
//!   pruned holds them: the table's, its indexes' and its TOAST's size.
//! - with: the same jobs, then the maintenance job's pruning
//!   (`shared::ops::prune_done`, 5,000 a statement) with a 24-hour
//!   retention: seconds, rows deleted, batches; then `VACUUM` (what
//!   autovacuum does after it) and the sizes; then the same number of jobs
//!   again, pruned the same way: a queue at steady state reuses the space
//!   the pruning freed instead of growing.
//!
//! Run: `./deploy/bench.sh retention`. Knobs: `JOBS`, `DAYS`. One JSON line.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use kisum_tests::TestDb;
use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};

/// The maintenance job's batch (`worker/src/jobs/maintenance.rs`).
const PRUNE_BATCH: i64 = 5000;

fn env_num(key: &str, default: i64) -> i64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn mib(bytes: i64) -> f64 {
    (bytes as f64 / 1_048_576.0 * 10.0).round() / 10.0
}

/// Table, indexes and the rest of the job table, in MiB, and its rows.
async fn sizes(conn: &mut PgConnection) -> Value {
    let (rows, table, indexes, rest) = kisum_tests::queue::table_sizes(conn).await;
    json!({
        "rows": rows,
        "table_mib": mib(table),
        "indexes_mib": mib(indexes),
        "toast_and_maps_mib": mib(rest),
        "total_mib": mib(table + indexes + rest),
    })
}

/// Enqueues `jobs` no-op jobs and marks them done, spread evenly over the
/// last `days` days.
async fn done_jobs(conn: &mut PgConnection, jobs: i64, days: i64) {
    let chunk: Vec<shared::jobs::Noop> = (0..10_000).map(|n| shared::jobs::Noop { n }).collect();
    let mut left = jobs;
    while left > 0 {
        let n = usize::try_from(left.min(10_000)).unwrap();
        shared::jobs::enqueue_many(conn, &chunk[..n], None)
            .await
            .unwrap();
        left -= i64::try_from(n).unwrap();
    }
    kisum_tests::queue::finish_pending_over(conn, days as f64).await;
}

/// Prunes as the maintenance job does: batches until one is short.
async fn prune(conn: &mut PgConnection, hours: i64) -> Value {
    let started = Instant::now();
    let (mut deleted, mut batches) = (0u64, 0u64);
    loop {
        let n = shared::ops::prune_done(conn, chrono::Duration::hours(hours), PRUNE_BATCH)
            .await
            .unwrap();
        deleted += n;
        batches += 1;
        if n < PRUNE_BATCH.unsigned_abs() {
            break;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    json!({
        "deleted": deleted,
        "batches": batches,
        "seconds": (seconds * 100.0).round() / 100.0,
        "rows_per_s": (deleted as f64 / seconds).round(),
    })
}

#[tokio::main]
async fn main() {
    let jobs = env_num("JOBS", 1_000_000);
    let days = env_num("DAYS", 10);
    let hours = env_num("JOB_RETENTION_HOURS", 24);
    let db = TestDb::migrated().await;
    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    let pool = db.pool().await;
    // As autovacuum would, after each step.
    let vacuum = || kisum_tests::queue::vacuum(&pool);

    eprintln!("[bench_retention] {jobs} done jobs over {days} days, never pruned");
    done_jobs(&mut conn, jobs, days).await;
    vacuum().await;
    let without = sizes(&mut conn).await;

    eprintln!("[bench_retention] pruning to {hours} h");
    let first = prune(&mut conn, hours).await;
    vacuum().await;
    let pruned = sizes(&mut conn).await;

    eprintln!("[bench_retention] {jobs} more, pruned the same way");
    done_jobs(&mut conn, jobs, days).await;
    let second = prune(&mut conn, hours).await;
    vacuum().await;
    let steady = sizes(&mut conn).await;

    let report = json!({
        "bench": "queue_retention",
        "jobs": jobs,
        "days": days,
        "retention_hours": hours,
        "without_retention": without,
        "first_prune": first,
        "after_prune": pruned,
        "second_prune": second,
        "after_second_round": steady,
    });
    println!("{report}");
}

//! The queue as many replicas see it: the worker processes with their
//! heartbeats and running jobs, per-minute throughput, bulk retry of a
//! queue's dead jobs, and queue counts computed by one replica and shared
//! for a few seconds (`ops_snapshots`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;

use super::QueueStats;
use crate::DomainError;
use crate::jobs::QUEUES;

/// A worker process without a heartbeat for this long is shown as gone
/// (the default orphan timeout: its jobs are being re-run elsewhere).
pub const GONE_AFTER_SECONDS: i64 = 30;

/// Workers gone for this long are pruned (once no job names them).
pub const PRUNE_AFTER_HOURS: i32 = 1;

/// A job a worker process is running.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RunningJob {
    pub id: String,
    pub queue: String,
    pub attempts: i32,
    pub started_at: Option<DateTime<Utc>>,
}

/// One `kisum-worker` process (a pod), from the heartbeats of its queues'
/// workers.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct WorkerProcess {
    /// `host:pid`, as in job errors and canaries.
    pub instance: String,
    pub host: String,
    /// The queues it polls.
    pub queues: Vec<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub last_heartbeat: DateTime<Utc>,
    /// `live`, or `gone` without a heartbeat for 30 s.
    pub status: String,
    pub running: Vec<RunningJob>,
}

/// The worker processes seen within the pruning horizon, live ones first,
/// then by last heartbeat.
pub async fn worker_processes(conn: &mut PgConnection) -> Result<Vec<WorkerProcess>, DomainError> {
    // Worker ids are `queue@host:pid#restarts.boot` (see the worker's
    // `register_queue`).
    let workers = sqlx::query!(
        r#"SELECT split_part(split_part(id, '@', 2), '#', 1) AS "instance!",
                  array_agg(DISTINCT split_part(id, '@', 1) ORDER BY split_part(id, '@', 1)) AS "queues!",
                  min(started_at) AS started_at, max(last_seen) AS "last_seen!",
                  max(last_seen) > now() - make_interval(secs => $1) AS "live!"
             FROM apalis.workers
            WHERE last_seen > now() - make_interval(hours => $2)
            GROUP BY 1
            ORDER BY 5 DESC, 4 DESC"#,
        GONE_AFTER_SECONDS as f64,
        PRUNE_AFTER_HOURS,
    )
    .fetch_all(&mut *conn)
    .await?;
    let running = sqlx::query!(
        r#"SELECT split_part(split_part(lock_by, '@', 2), '#', 1) AS "instance!", id, job_type,
                  attempts, lock_at
             FROM apalis.jobs
            WHERE status IN ('Queued', 'Running') AND lock_by IS NOT NULL
            ORDER BY lock_at"#
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut by_instance: BTreeMap<String, Vec<RunningJob>> = BTreeMap::new();
    for r in running {
        by_instance.entry(r.instance).or_default().push(RunningJob {
            id: r.id,
            queue: r.job_type,
            attempts: r.attempts,
            started_at: r.lock_at,
        });
    }
    Ok(workers
        .into_iter()
        .map(|w| WorkerProcess {
            host: w
                .instance
                .rsplit_once(':')
                .map_or_else(|| w.instance.clone(), |(host, _)| host.to_owned()),
            running: by_instance.remove(&w.instance).unwrap_or_default(),
            instance: w.instance,
            queues: w.queues,
            started_at: w.started_at,
            last_heartbeat: w.last_seen,
            status: if w.live { "live" } else { "gone" }.to_owned(),
        })
        .collect())
}

/// Deletes the rows of workers gone for [`PRUNE_AFTER_HOURS`] that no job
/// names any more (pods come and go; a done job keeps its worker's name
/// until it is pruned itself).
pub async fn prune_workers(pool: &PgPool) -> Result<u64, DomainError> {
    Ok(sqlx::query!(
        "DELETE FROM apalis.workers w
          WHERE w.last_seen < now() - make_interval(hours => $1)
            AND NOT EXISTS (SELECT 1 FROM apalis.jobs j WHERE j.lock_by = w.id)",
        PRUNE_AFTER_HOURS,
    )
    .execute(pool)
    .await?
    .rows_affected())
}

/// Jobs done per minute of the last hour, per queue.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct QueueThroughput {
    pub queue: String,
    /// 60 counts, the oldest minute first; the last is the current minute.
    pub done_per_minute: Vec<i64>,
    pub failed_per_minute: Vec<i64>,
}

/// Per-queue throughput of the last hour, from the done-time index and the
/// failed attempts; every known queue is listed, idle ones with zeros.
pub async fn throughput(conn: &mut PgConnection) -> Result<Vec<QueueThroughput>, DomainError> {
    let done = sqlx::query!(
        r#"SELECT job_type AS "queue!",
                  59 - floor(extract(epoch FROM now() - done_at) / 60)::int AS "minute!",
                  count(*) AS "n!"
             FROM apalis.jobs
            WHERE status = 'Done' AND done_at > now() - interval '60 minutes'
            GROUP BY 1, 2"#
    )
    .fetch_all(&mut *conn)
    .await?;
    let failed = sqlx::query!(
        r#"SELECT queue AS "queue!",
                  59 - floor(extract(epoch FROM now() - failed_at) / 60)::int AS "minute!",
                  count(*) AS "n!"
             FROM job_errors
            WHERE failed_at > now() - interval '60 minutes'
            GROUP BY 1, 2"#
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut series: BTreeMap<String, QueueThroughput> = QUEUES
        .iter()
        .map(|q| {
            (
                (*q).to_owned(),
                QueueThroughput {
                    queue: (*q).to_owned(),
                    done_per_minute: vec![0; 60],
                    failed_per_minute: vec![0; 60],
                },
            )
        })
        .collect();
    let mut add = |queue: String, minute: i32, n: i64, failed: bool| {
        let Ok(minute) = usize::try_from(minute) else {
            return;
        };
        let entry = series
            .entry(queue.clone())
            .or_insert_with(|| QueueThroughput {
                queue,
                done_per_minute: vec![0; 60],
                failed_per_minute: vec![0; 60],
            });
        let counts = if failed {
            &mut entry.failed_per_minute
        } else {
            &mut entry.done_per_minute
        };
        if let Some(slot) = counts.get_mut(minute) {
            *slot += n;
        }
    };
    for r in done {
        add(r.queue, r.minute, r.n, false);
    }
    for r in failed {
        add(r.queue, r.minute, r.n, true);
    }
    Ok(series.into_values().collect())
}

/// The outcome of a bulk retry.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct BulkRetry {
    pub queue: String,
    /// Dead jobs made pending again, each audited.
    pub retried: i64,
}

/// Most dead jobs one bulk retry moves; a larger backlog takes more calls.
pub const BULK_RETRY_MAX: i64 = 10_000;

/// Runs every dead job of `queue` again now (attempts reset), up to
/// [`BULK_RETRY_MAX`], auditing each as a retry by `actor`, in the
/// caller's transaction. An unknown queue is not found.
pub async fn retry_dead(
    conn: &mut PgConnection,
    queue: &str,
    actor: &str,
) -> Result<BulkRetry, DomainError> {
    if !QUEUES.contains(&queue) {
        return Err(DomainError::NotFound);
    }
    let retried = sqlx::query_scalar!(
        r#"WITH dead AS (
               SELECT id FROM apalis.jobs
                WHERE job_type = $1 AND status = 'Failed' AND attempts >= max_attempts
                ORDER BY done_at NULLS LAST
                LIMIT $3
                FOR UPDATE SKIP LOCKED
           ), retried AS (
               UPDATE apalis.jobs j
                  SET status = 'Pending', attempts = 0, run_at = now(),
                      lock_by = NULL, lock_at = NULL, done_at = NULL
                 FROM dead WHERE j.id = dead.id
               RETURNING j.id
           ), audited AS (
               INSERT INTO ops_audit (job_id, queue, action, from_status, to_status, actor)
               SELECT id, $1, 'retry', 'dead', 'pending', $2 FROM retried
               RETURNING 1
           )
           SELECT count(*) AS "n!" FROM audited"#,
        queue,
        actor,
        BULK_RETRY_MAX,
    )
    .fetch_one(&mut *conn)
    .await?;
    if retried > 0 {
        super::wake(&mut *conn, queue, None).await?;
    }
    tracing::info!(queue, retried, actor, "bulk retry of dead jobs");
    Ok(BulkRetry {
        queue: queue.to_owned(),
        retried,
    })
}

/// Queue counts no older than `max_age_seconds`: the stored snapshot when
/// fresh, else recomputed by the one replica that takes the snapshot's
/// advisory lock (the others serve the previous snapshot meanwhile). A
/// scrape of N replicas thus costs one primary-key read each, and one
/// count per period in all.
pub async fn queue_stats_cached(
    pool: &PgPool,
    max_age_seconds: f64,
) -> Result<Vec<QueueStats>, DomainError> {
    let stored = sqlx::query!(
        r#"SELECT body, taken_at > now() - make_interval(secs => $1) AS "fresh!"
             FROM ops_snapshots WHERE name = 'queue_stats'"#,
        max_age_seconds,
    )
    .fetch_optional(pool)
    .await?;
    let stale = match stored {
        Some(row) if row.fresh => return Ok(serde_json::from_value(row.body).unwrap_or_default()),
        Some(row) => serde_json::from_value::<Vec<QueueStats>>(row.body).ok(),
        None => None,
    };
    let mut tx = pool.begin().await?;
    let ours: bool = sqlx::query_scalar!(
        r#"SELECT pg_try_advisory_xact_lock(hashtext('kisum.ops_snapshots.queue_stats')) AS "got!""#
    )
    .fetch_one(&mut *tx)
    .await?;
    if !ours && let Some(stale) = stale {
        return Ok(stale);
    }
    let stats = super::queue_stats(&mut tx).await?;
    if ours {
        let body = serde_json::to_value(&stats).map_err(anyhow::Error::from)?;
        sqlx::query!(
            "INSERT INTO ops_snapshots (name, taken_at, body) VALUES ('queue_stats', now(), $1)
             ON CONFLICT (name) DO UPDATE SET taken_at = excluded.taken_at, body = excluded.body",
            body
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(stats)
}

//! Operations on the job queue (SPEC 5.9): counts per queue and state, job
//! lists and details with every failed attempt, retry and cancel (audited),
//! cron schedules with their last run, retention, and dashboard sessions.
//!
//! apalis-postgres has no API for any of this, so the SQL lives here, once.
//! States are those of `kisum_job_state` (migration `..._ops.sql`):
//! `pending`, `scheduled`, `running`, `done`, `failed`, `dead`, `killed`.
//! Queue canaries, the end-to-end check of the queue, are in [`canary`].

pub mod canary;
pub mod fleet;

use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use utoipa::ToSchema;

use crate::Code;
use crate::DomainError;
use crate::jobs::{QUEUES, SCHEDULES};
use crate::pagination::{Page, PageRequest};
use crate::unnamed::Unnamed;

/// The states a job can be in, as operators see them.
pub const STATES: &[&str] = &[
    "pending",
    "scheduled",
    "running",
    "done",
    "failed",
    "dead",
    "killed",
];

/// Counts of one queue.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct QueueStats {
    pub queue: String,
    pub pending: i64,
    pub scheduled: i64,
    pub running: i64,
    /// Done in the last hour (done jobs are pruned after the retention
    /// period, so an all-time count would mean nothing).
    pub done_last_hour: i64,
    pub failed: i64,
    pub dead: i64,
    pub killed: i64,
    /// Age of the oldest due job still waiting, in seconds.
    pub oldest_pending_seconds: Option<f64>,
    /// Median and 95th percentile run time of jobs done in the last hour.
    pub p50_run_ms: Option<f64>,
    pub p95_run_ms: Option<f64>,
    /// Failed attempts in the last hour.
    pub failures_last_hour: i64,
}

/// Counts of every queue, cheap with millions of done jobs: open states
/// come from a partial index that leaves done jobs out, done ones from an
/// index on completion time.
pub async fn queue_stats(conn: &mut PgConnection) -> Result<Vec<QueueStats>, DomainError> {
    let mut stats: Vec<QueueStats> = QUEUES
        .iter()
        .map(|q| QueueStats {
            queue: (*q).to_owned(),
            ..QueueStats::default()
        })
        .collect();
    let open = sqlx::query!(
        r#"SELECT job_type AS "queue!", kisum_job_state(status, attempts, max_attempts, run_at) AS "state!",
                  count(*) AS "n!",
                  extract(epoch FROM now() - min(run_at) FILTER (WHERE status = 'Pending' AND run_at <= now()))::float8 AS oldest
             FROM apalis.jobs WHERE status <> 'Done'
            GROUP BY 1, 2"#
    )
    .fetch_all(&mut *conn)
    .await?;
    let done = sqlx::query!(
        r#"SELECT job_type AS "queue!", count(*) AS "n!",
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM done_at - lock_at) * 1000) AS p50,
                  percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM done_at - lock_at) * 1000) AS p95
             FROM apalis.jobs WHERE status = 'Done' AND done_at > now() - interval '1 hour'
            GROUP BY 1"#
    )
    .fetch_all(&mut *conn)
    .await?;
    let failures = sqlx::query!(
        r#"SELECT queue, count(*) AS "n!" FROM job_errors WHERE failed_at > now() - interval '1 hour' GROUP BY 1"#
    )
    .fetch_all(&mut *conn)
    .await?;
    let index_of = |stats: &mut Vec<QueueStats>, queue: &str| -> usize {
        match stats.iter().position(|s| s.queue == queue) {
            Some(i) => i,
            None => {
                stats.push(QueueStats {
                    queue: queue.to_owned(),
                    ..QueueStats::default()
                });
                stats.len() - 1
            }
        }
    };
    for row in open {
        let i = index_of(&mut stats, &row.queue);
        let s = &mut stats[i];
        match row.state.as_str() {
            "pending" => {
                s.pending = row.n;
                s.oldest_pending_seconds = row.oldest;
            }
            "scheduled" => s.scheduled = row.n,
            "running" => s.running = row.n,
            "failed" => s.failed = row.n,
            "dead" => s.dead = row.n,
            _ => s.killed += row.n,
        }
    }
    for row in done {
        let i = index_of(&mut stats, &row.queue);
        stats[i].done_last_hour = row.n;
        stats[i].p50_run_ms = row.p50;
        stats[i].p95_run_ms = row.p95;
    }
    for row in failures {
        let i = index_of(&mut stats, &row.queue);
        stats[i].failures_last_hour = row.n;
    }
    Ok(stats)
}

/// A job in a list.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct JobSummary {
    pub id: String,
    pub queue: String,
    pub state: String,
    pub attempts: i32,
    pub max_attempts: i32,
    pub run_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
    /// The last error, if the last attempt failed.
    pub last_error: Option<String>,
}

#[derive(Debug, Default)]
pub struct JobFilter {
    pub queue: Option<String>,
    pub state: Option<String>,
    /// Text in the last error or in any attempt's error.
    pub q: Option<String>,
}

/// Jobs, newest first (ids are time-ordered ULIDs), keyset-paginated on id.
pub async fn list_jobs(
    conn: &mut PgConnection,
    filter: &JobFilter,
    page: &PageRequest<String>,
) -> Result<Page<JobSummary>, DomainError> {
    if let Some(state) = filter.state.as_deref()
        && !STATES.contains(&state)
    {
        return Err(DomainError::invalid(
            "state",
            format!("must be one of {}", STATES.join(", ")),
        ));
    }
    let pattern = filter
        .q
        .as_deref()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(|q| {
            format!(
                "%{}%",
                q.replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            )
        });
    // Done jobs are most of the table and carry no error: every filter but
    // `done` leaves them out, so the partial index on open jobs answers; a
    // text search starts from the errors that match.
    let jobs = match pattern {
        Some(pattern) => {
            // Unnamed: a cached statement's generic plan skips the optional filters' indexes.
            sqlx::query_as!(
                JobSummary,
                r#"WITH matched AS (
                       SELECT e.job_id AS id FROM job_errors e WHERE e.error ILIKE $3
                       UNION
                       SELECT o.id FROM apalis.jobs o WHERE o.status <> 'Done' AND o.last_result->>'Err' ILIKE $3
                   )
                   SELECT j.id, job_type AS queue, kisum_job_state(status, attempts, max_attempts, run_at) AS "state!",
                          attempts, max_attempts, run_at AS "run_at!", done_at, last_result->>'Err' AS last_error
                     FROM matched m JOIN apalis.jobs j ON j.id = m.id
                    WHERE ($1::text IS NULL OR job_type = $1)
                      AND ($2::text IS NULL OR kisum_job_state(status, attempts, max_attempts, run_at) = $2)
                      AND ($4::text IS NULL OR j.id < $4)
                    ORDER BY j.id DESC LIMIT $5"#,
                filter.queue.as_deref(),
                filter.state.as_deref(),
                pattern,
                page.after.as_deref(),
                page.fetch_limit(),
            )
            .fetch_all(Unnamed(&mut *conn))
            .await?
        }
        None => {
            // Unnamed: a cached statement's generic plan skips the optional filters' indexes.
            sqlx::query_as!(
                JobSummary,
                r#"SELECT id, job_type AS queue, kisum_job_state(status, attempts, max_attempts, run_at) AS "state!",
                          attempts, max_attempts, run_at AS "run_at!", done_at, last_result->>'Err' AS last_error
                     FROM apalis.jobs
                    WHERE ($1::text IS NULL OR job_type = $1)
                      AND ($2::text IS NULL OR kisum_job_state(status, attempts, max_attempts, run_at) = $2)
                      AND ($2::text IS NULL OR $2 = 'done' OR status <> 'Done')
                      AND ($3::text IS NULL OR id < $3)
                    ORDER BY id DESC LIMIT $4"#,
                filter.queue.as_deref(),
                filter.state.as_deref(),
                page.after.as_deref(),
                page.fetch_limit(),
            )
            .fetch_all(Unnamed(&mut *conn))
            .await?
        }
    };
    Ok(Page::from_rows(jobs, page.limit, |j| j.id.clone()))
}

/// One failed attempt.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AttemptError {
    pub attempt: i32,
    pub error: String,
    pub worker: String,
    pub failed_at: DateTime<Utc>,
}

/// An operator action on a job.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    pub action: String,
    pub from_state: String,
    pub to_state: String,
    pub actor: String,
    pub at: DateTime<Utc>,
}

/// Everything known about one job.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct JobDetail {
    #[serde(flatten)]
    pub summary: JobSummary,
    /// The job's arguments (JSON).
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    pub priority: i32,
    pub idempotency_key: Option<String>,
    pub locked_by: Option<String>,
    pub locked_at: Option<DateTime<Utc>>,
    /// The last result as the queue stored it (`{"Ok": ...}` or `{"Err": ...}`).
    #[schema(value_type = Option<Object>)]
    pub last_result: Option<serde_json::Value>,
    /// Every failed attempt, oldest first.
    pub errors: Vec<AttemptError>,
    pub audit: Vec<AuditEntry>,
}

pub async fn job(conn: &mut PgConnection, id: &str) -> Result<JobDetail, DomainError> {
    let summary = sqlx::query_as!(
        JobSummary,
        r#"SELECT id, job_type AS queue, kisum_job_state(status, attempts, max_attempts, run_at) AS "state!",
                  attempts, max_attempts, run_at AS "run_at!", done_at, last_result->>'Err' AS last_error
             FROM apalis.jobs WHERE id = $1"#,
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DomainError::NotFound)?;
    let r = sqlx::query!(
        r#"SELECT job, priority AS "priority!", idempotency_key, lock_by, lock_at, last_result
             FROM apalis.jobs WHERE id = $1"#,
        id
    )
    .fetch_one(&mut *conn)
    .await?;
    let payload = serde_json::from_slice(&r.job).unwrap_or_else(|_| {
        serde_json::Value::String(String::from_utf8_lossy(&r.job).into_owned())
    });
    let errors = sqlx::query_as!(
        AttemptError,
        "SELECT attempt, error, worker, failed_at FROM job_errors WHERE job_id = $1 ORDER BY id",
        id
    )
    .fetch_all(&mut *conn)
    .await?;
    let audit = sqlx::query_as!(
        AuditEntry,
        "SELECT action, from_status AS from_state, to_status AS to_state, actor, at FROM ops_audit WHERE job_id = $1 ORDER BY id",
        id
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(JobDetail {
        summary,
        payload,
        priority: r.priority,
        idempotency_key: r.idempotency_key,
        locked_by: r.lock_by,
        locked_at: r.lock_at,
        last_result: r.last_result,
        errors,
        audit,
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Run a failed, dead or killed job again now, with its attempts reset.
    Retry,
    /// Stop a job that has not started (pending, scheduled) or waits to be
    /// tried again (failed).
    Cancel,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Self::Retry => "retry",
            Self::Cancel => "cancel",
        }
    }

    /// The state the action leaves the job in.
    fn to_state(self) -> &'static str {
        match self {
            Self::Retry => "pending",
            Self::Cancel => "killed",
        }
    }
}

/// Applies `action` to a job and audits it, in the caller's transaction.
/// A running job is never touched: its worker would overwrite the change.
pub async fn act(
    conn: &mut PgConnection,
    id: &str,
    action: Action,
    actor: &str,
) -> Result<JobDetail, DomainError> {
    let before = sqlx::query!(
        r#"SELECT job_type, kisum_job_state(status, attempts, max_attempts, run_at) AS "state!"
             FROM apalis.jobs WHERE id = $1 FOR UPDATE"#,
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DomainError::NotFound)?;
    let allowed = match action {
        Action::Retry => matches!(before.state.as_str(), "failed" | "dead" | "killed"),
        Action::Cancel => matches!(before.state.as_str(), "pending" | "scheduled" | "failed"),
    };
    if !allowed {
        return Err(DomainError::conflict(
            Code::InvalidTransition,
            format!(
                "a {} job cannot be {}",
                before.state,
                match action {
                    Action::Retry => "retried",
                    Action::Cancel => "cancelled",
                }
            ),
        ));
    }
    match action {
        Action::Retry => {
            sqlx::query!(
                "UPDATE apalis.jobs SET status = 'Pending', attempts = 0, run_at = now(),
                        lock_by = NULL, lock_at = NULL, done_at = NULL
                  WHERE id = $1",
                id
            )
            .execute(&mut *conn)
            .await?;
            wake(&mut *conn, &before.job_type, Some(id)).await?;
        }
        Action::Cancel => {
            sqlx::query!(
                "UPDATE apalis.jobs SET status = 'Killed', done_at = now(), lock_by = NULL, lock_at = NULL,
                        last_result = jsonb_build_object('Err', 'cancelled by ' || $2::text)
                  WHERE id = $1",
                id,
                actor
            )
            .execute(&mut *conn)
            .await?;
        }
    }
    sqlx::query!(
        "INSERT INTO ops_audit (job_id, queue, action, from_status, to_status, actor) VALUES ($1, $2, $3, $4, $5, $6)",
        id,
        before.job_type,
        action.as_str(),
        before.state,
        action.to_state(),
        actor,
    )
    .execute(&mut *conn)
    .await?;
    tracing::info!(job = id, queue = %before.job_type, action = action.as_str(), actor, "job action");
    job(conn, id).await
}

/// Deletes a failed, dead or killed job for good, with its attempts'
/// errors, and audits it (`purge`, to `purged`), in the caller's
/// transaction. Other jobs are refused (409): pending and scheduled ones
/// are cancelled first, a running one is its worker's, and done ones go by
/// retention (`JOB_RETENTION_HOURS`).
pub async fn purge(conn: &mut PgConnection, id: &str, actor: &str) -> Result<(), DomainError> {
    let before = sqlx::query!(
        r#"SELECT job_type, kisum_job_state(status, attempts, max_attempts, run_at) AS "state!"
             FROM apalis.jobs WHERE id = $1 FOR UPDATE"#,
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(DomainError::NotFound)?;
    if !matches!(before.state.as_str(), "failed" | "dead" | "killed") {
        return Err(DomainError::conflict(
            Code::InvalidTransition,
            format!("a {} job cannot be purged", before.state),
        ));
    }
    sqlx::query!("DELETE FROM apalis.jobs WHERE id = $1", id)
        .execute(&mut *conn)
        .await?;
    sqlx::query!("DELETE FROM job_errors WHERE job_id = $1", id)
        .execute(&mut *conn)
        .await?;
    sqlx::query!(
        "INSERT INTO ops_audit (job_id, queue, action, from_status, to_status, actor)
         VALUES ($1, $2, 'purge', $3, 'purged', $4)",
        id,
        before.job_type,
        before.state,
        actor,
    )
    .execute(&mut *conn)
    .await?;
    tracing::info!(job = id, queue = %before.job_type, action = "purge", actor, "job action");
    Ok(())
}

/// Wakes `queue`'s workers the way an insert does (delivered at commit):
/// a job made pending again by an update fires no insert trigger.
pub(crate) async fn wake(
    conn: &mut PgConnection,
    queue: &str,
    id: Option<&str>,
) -> Result<(), DomainError> {
    sqlx::query!(
        "SELECT pg_notify('apalis::job::insert', json_build_object('job_type', $1::text, 'id', $2::text, 'run_at', now())::text)",
        queue,
        id
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A failed attempt, as the worker reports it.
pub async fn record_failure(
    conn: &mut PgConnection,
    job_id: &str,
    queue: &str,
    attempt: i32,
    error: &str,
    worker: &str,
) -> Result<(), DomainError> {
    // Errors can be long (a chain of causes); keep a readable amount.
    let error: String = error.chars().take(4000).collect();
    sqlx::query!(
        "INSERT INTO job_errors (job_id, queue, attempt, error, worker) VALUES ($1, $2, $3, $4, $5)",
        job_id,
        queue,
        attempt,
        error,
        worker,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A cron schedule and how its last run went.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ScheduleStatus {
    pub name: String,
    pub queue: String,
    /// Cron expression with seconds, UTC.
    pub schedule: String,
    pub next_run: Option<DateTime<Utc>>,
    pub last_run: Option<LastRun>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct LastRun {
    pub job_id: String,
    /// The tick it ran for.
    pub run_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
    pub state: String,
    pub last_error: Option<String>,
}

pub async fn schedules(conn: &mut PgConnection) -> Result<Vec<ScheduleStatus>, DomainError> {
    let now = Utc::now();
    let mut out = Vec::with_capacity(SCHEDULES.len());
    for (queue, expression) in SCHEDULES {
        let next_run = cron::Schedule::from_str(expression)
            .ok()
            .and_then(|s| s.after(&now).next());
        // Tick jobs (key `tick:<unix seconds>`) have their own small index.
        let last = sqlx::query!(
            r#"SELECT id, run_at AS "run_at!", done_at, kisum_job_state(status, attempts, max_attempts, run_at) AS "state!",
                      last_result->>'Err' AS last_error
                 FROM apalis.jobs WHERE job_type = $1 AND idempotency_key LIKE 'tick:%'
                ORDER BY run_at DESC LIMIT 1"#,
            queue
        )
        .fetch_optional(&mut *conn)
        .await?;
        out.push(ScheduleStatus {
            name: (*queue).to_owned(),
            queue: (*queue).to_owned(),
            schedule: (*expression).to_owned(),
            next_run,
            last_run: last.map(|r| LastRun {
                job_id: r.id,
                run_at: r.run_at,
                done_at: r.done_at,
                state: r.state,
                last_error: r.last_error,
            }),
        });
    }
    Ok(out)
}

/// Deletes up to `batch` done jobs older than `retention`, and the errors
/// of jobs gone; failed, dead and killed jobs stay until resolved.
pub async fn prune_done(
    conn: &mut PgConnection,
    retention: Duration,
    batch: i64,
) -> Result<u64, DomainError> {
    let cutoff = Utc::now() - retention;
    let deleted = sqlx::query!(
        "DELETE FROM apalis.jobs WHERE id IN (
             SELECT id FROM apalis.jobs WHERE status = 'Done' AND done_at < $1 ORDER BY done_at LIMIT $2)",
        cutoff,
        batch
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    sqlx::query!(
        "DELETE FROM job_errors e WHERE e.failed_at < $1
            AND NOT EXISTS (SELECT 1 FROM apalis.jobs j WHERE j.id = e.job_id)",
        cutoff
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!("DELETE FROM ops_sessions WHERE expires_at < now()")
        .execute(&mut *conn)
        .await?;
    Ok(deleted)
}

fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// How long a dashboard login lasts.
pub const SESSION_HOURS: i64 = 12;

/// Opens a dashboard session; returns the cookie value (only its hash is
/// stored).
pub async fn open_session(conn: &mut PgConnection) -> Result<String, DomainError> {
    let token = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    sqlx::query!(
        "INSERT INTO ops_sessions (token_sha256, expires_at) VALUES ($1, now() + make_interval(hours => $2))",
        &token_hash(&token)[..],
        i32::try_from(SESSION_HOURS).unwrap_or(12),
    )
    .execute(conn)
    .await?;
    Ok(token)
}

pub async fn session_valid(conn: &mut PgConnection, token: &str) -> Result<bool, DomainError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM ops_sessions WHERE token_sha256 = $1 AND expires_at > now()) AS "ok!""#,
        &token_hash(token)[..],
    )
    .fetch_one(conn)
    .await?)
}

pub async fn close_session(conn: &mut PgConnection, token: &str) -> Result<(), DomainError> {
    sqlx::query!(
        "DELETE FROM ops_sessions WHERE token_sha256 = $1",
        &token_hash(token)[..],
    )
    .execute(conn)
    .await?;
    Ok(())
}

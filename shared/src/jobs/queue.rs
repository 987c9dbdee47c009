//! The queue's storage: the only code outside `ops` (and the worker's
//! fetch/ack in `kisum_worker::queue`) that names the `apalis` tables.
//!
//! Domain code asks here ("is a job of this type in flight", "for which of
//! these records") and enqueues through here, so the apalis schema and its
//! status words are known in one place.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use sqlx::migrate::Migrator;
use uuid::Uuid;

use super::{Job, Schedule, Scheduled};

/// apalis's statuses of a job that will not run again by itself: done,
/// dead (`Failed` with its attempts spent) or killed by an operator.
const FINISHED: &[&str] = &["Done", "Failed", "Killed"];

fn encode<J: Job>(job: &J) -> Result<Vec<u8>, sqlx::Error> {
    serde_json::to_vec(job).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

fn max_attempts<J: Job>() -> i32 {
    i32::try_from(J::MAX_ATTEMPTS).unwrap_or(i32::MAX)
}

/// Enqueues `job` on the caller's connection (normally inside its
/// transaction). Returns `false` when an idempotency key made it a no-op.
/// A duplicate key never aborts the caller's transaction.
pub async fn enqueue<J: Job>(
    conn: &mut PgConnection,
    job: &J,
    schedule: Schedule,
) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query!(
        "INSERT INTO apalis.jobs
             (id, job_type, job, status, attempts, max_attempts, run_at, priority, metadata, idempotency_key)
         VALUES ($1, $2, $3, 'Pending', 0, $4, COALESCE($5, now()), $6, ''::hstore, $7)
         ON CONFLICT (job_type, idempotency_key) DO NOTHING",
        ulid::Ulid::new().to_string(),
        J::QUEUE,
        encode(job)?,
        max_attempts::<J>(),
        schedule.run_at,
        schedule.priority,
        schedule.idempotency_key,
    )
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

/// Jobs of any types that one write causes, enqueued together in one
/// statement ([`Batch::enqueue`]), each row exactly as [`enqueue`] writes
/// it: a write that causes several jobs pays one round trip for them.
#[derive(Debug, Default)]
pub struct Batch {
    ids: Vec<String>,
    types: Vec<&'static str>,
    payloads: Vec<Vec<u8>>,
    max_attempts: Vec<i32>,
    run_at: Vec<Option<DateTime<Utc>>>,
    priorities: Vec<i32>,
    keys: Vec<Option<String>>,
}

impl Batch {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `job`, to be enqueued as [`enqueue`] would with `schedule`.
    pub fn push<J: Job>(&mut self, job: &J, schedule: Schedule) -> Result<&mut Self, sqlx::Error> {
        self.payloads.push(encode(job)?);
        self.ids.push(ulid::Ulid::new().to_string());
        self.types.push(J::QUEUE);
        self.max_attempts.push(max_attempts::<J>());
        self.run_at.push(schedule.run_at);
        self.priorities.push(schedule.priority);
        self.keys.push(schedule.idempotency_key);
        Ok(self)
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Enqueues the jobs on the caller's connection in one statement (none
    /// when the batch is empty). A job whose idempotency key is taken is
    /// left out, and never aborts the caller's transaction.
    pub async fn enqueue(self, conn: &mut PgConnection) -> Result<(), sqlx::Error> {
        if self.is_empty() {
            return Ok(());
        }
        sqlx::query!(
            "INSERT INTO apalis.jobs
                 (id, job_type, job, status, attempts, max_attempts, run_at, priority, metadata, idempotency_key)
             SELECT t.id, t.job_type, t.job, 'Pending', 0, t.max_attempts, COALESCE(t.run_at, now()), t.priority, ''::hstore, t.key
               FROM unnest($1::text[], $2::text[], $3::bytea[], $4::int4[], $5::timestamptz[], $6::int4[], $7::text[])
                    AS t (id, job_type, job, max_attempts, run_at, priority, key)
             ON CONFLICT (job_type, idempotency_key) DO NOTHING",
            &self.ids,
            &self.types as &[&str],
            &self.payloads,
            &self.max_attempts,
            &self.run_at as &[Option<DateTime<Utc>>],
            &self.priorities,
            &self.keys as &[Option<String>],
        )
        .execute(conn)
        .await?;
        Ok(())
    }
}

/// Jobs per `INSERT` of [`enqueue_many`]: keeps each request well under
/// 16 KiB, the TLS record size, past which a request stalls about 40 ms on
/// Nagle's algorithm (sqlx leaves it on).
const ENQUEUE_CHUNK: usize = 200;

/// Enqueues many jobs of one type, a few hundred per statement, on the
/// caller's connection: for imports and backfills, where one `INSERT` per
/// job would cost a round trip each. All or none: the statements run in one
/// transaction (a savepoint inside the caller's), which also makes one
/// commit of them instead of one each. No idempotency keys: use [`enqueue`]
/// for jobs that must be deduplicated. Returns how many were inserted.
pub async fn enqueue_many<J: Job>(
    conn: &mut PgConnection,
    jobs: &[J],
    run_at: Option<DateTime<Utc>>,
) -> Result<u64, sqlx::Error> {
    if jobs.len() > ENQUEUE_CHUNK {
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        let inserted = insert_chunks(&mut tx, jobs, run_at).await?;
        tx.commit().await?;
        return Ok(inserted);
    }
    insert_chunks(conn, jobs, run_at).await
}

async fn insert_chunks<J: Job>(
    conn: &mut PgConnection,
    jobs: &[J],
    run_at: Option<DateTime<Utc>>,
) -> Result<u64, sqlx::Error> {
    let mut inserted = 0;
    for chunk in jobs.chunks(ENQUEUE_CHUNK) {
        let mut ids = Vec::with_capacity(chunk.len());
        let mut payloads = Vec::with_capacity(chunk.len());
        for job in chunk {
            ids.push(ulid::Ulid::new().to_string());
            payloads.push(encode(job)?);
        }
        inserted += sqlx::query!(
            "INSERT INTO apalis.jobs
                 (id, job_type, job, status, attempts, max_attempts, run_at, priority, metadata)
             SELECT t.id, $3, t.job, 'Pending', 0, $4, COALESCE($5, now()), 0, ''::hstore
               FROM unnest($1::text[], $2::bytea[]) AS t (id, job)",
            &ids,
            &payloads,
            J::QUEUE,
            max_attempts::<J>(),
            run_at,
        )
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    Ok(inserted)
}

/// The idempotency key of a scheduled run: one job per (queue, tick) ever,
/// however many worker replicas see the tick.
pub fn tick_key(tick: i64) -> String {
    format!("tick:{tick}")
}

/// Enqueues the run of tick `tick` (Unix seconds) of a scheduled job type.
/// Every worker replica calls it at each tick; all but the first are
/// no-ops. The one implementation behind every cron schedule.
pub async fn enqueue_tick<J: Scheduled>(
    conn: &mut PgConnection,
    tick: i64,
) -> Result<bool, sqlx::Error> {
    enqueue(
        conn,
        &J::for_tick(tick),
        Schedule::now().dedupe(tick_key(tick)),
    )
    .await
}

/// Whether a job of type `J` is queued, scheduled, running or waiting for
/// a retry: one that will still run without anyone's help.
pub async fn in_flight<J: Job>(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM apalis.jobs
                           WHERE job_type = $1 AND status <> ALL ($2)) AS "in_flight!""#,
        J::QUEUE,
        FINISHED as &[&str],
    )
    .fetch_one(conn)
    .await
}

/// Of `subjects`, those a job of type `J` in flight is about: the payload
/// field `J::SUBJECT` names the record (e.g. a handoff's id). Empty for a
/// type without a subject field.
pub async fn in_flight_for<J: Job>(
    conn: &mut PgConnection,
    subjects: &[Uuid],
) -> Result<HashSet<Uuid>, sqlx::Error> {
    let Some(field) = J::SUBJECT else {
        return Ok(HashSet::new());
    };
    if subjects.is_empty() {
        return Ok(HashSet::new());
    }
    let found = sqlx::query_scalar!(
        r#"SELECT DISTINCT s.id AS "id!"
             FROM apalis.jobs j
             JOIN unnest($3::uuid[]) AS s (id)
               ON convert_from(j.job, 'UTF8')::jsonb ->> $4 = s.id::text
            WHERE j.job_type = $1 AND j.status <> ALL ($2)"#,
        J::QUEUE,
        FINISHED as &[&str],
        subjects,
        field,
    )
    .fetch_all(conn)
    .await?;
    Ok(found.into_iter().collect())
}

/// The queue's own migrations (schema `apalis`, own history table).
pub fn migrator() -> Migrator {
    apalis_postgres::PostgresStorage::migrations()
}

/// The versions of the queue's migrations applied, or `None` before the
/// queue's schema exists.
pub async fn applied_migrations(conn: &mut PgConnection) -> Result<Option<Vec<i64>>, sqlx::Error> {
    let table: Option<String> =
        sqlx::query_scalar("SELECT to_regclass('apalis._sqlx_migrations')::text")
            .fetch_one(&mut *conn)
            .await?;
    if table.is_none() {
        return Ok(None);
    }
    let versions = sqlx::query_scalar("SELECT version FROM apalis._sqlx_migrations WHERE success")
        .fetch_all(conn)
        .await?;
    Ok(Some(versions))
}

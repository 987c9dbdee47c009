//! Queue canaries: an operator (or a test) asks for one, and the worker runs
//! its job. `attempts` counts executions and `completions` counts effects,
//! so a canary shows whether its job ran, how often, and on which worker.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::Code;
use crate::jobs::{self, Job, QueueCanary, Schedule};
use crate::{DomainError, FieldError};

#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct Canary {
    pub id: Uuid,
    pub requested_by: String,
    /// How long each run works before completing.
    pub work_ms: i32,
    /// How many first attempts fail on purpose (to exercise retries).
    pub fail_attempts: i32,
    pub attempts: i32,
    pub completions: i32,
    pub last_worker: Option<String>,
    pub created_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CanaryIn {
    #[serde(default)]
    pub work_ms: i32,
    #[serde(default)]
    pub fail_attempts: i32,
}

/// Records a canary and enqueues its job on the same connection.
pub async fn request(
    conn: &mut PgConnection,
    requested_by: &str,
    input: &CanaryIn,
) -> Result<Canary, DomainError> {
    let mut errors = Vec::new();
    if !(0..=600_000).contains(&input.work_ms) {
        errors.push(FieldError::new("work_ms", "must be between 0 and 600000"));
    }
    // Up to every attempt: a canary failing all of them ends dead, and
    // succeeds once an operator retries it.
    let max_failures = i32::try_from(QueueCanary::MAX_ATTEMPTS).unwrap_or(i32::MAX);
    if !(0..=max_failures).contains(&input.fail_attempts) {
        errors.push(FieldError::new(
            "fail_attempts",
            format!("must be between 0 and {max_failures}"),
        ));
    }
    if !errors.is_empty() {
        return Err(DomainError::Validation(errors));
    }
    let canary = sqlx::query_as!(
        Canary,
        "INSERT INTO queue_canaries (id, requested_by, work_ms, fail_attempts)
         VALUES ($1, $2, $3, $4)
         RETURNING id, requested_by, work_ms, fail_attempts, attempts, completions,
                   last_worker, created_at, completed_at",
        Uuid::now_v7(),
        requested_by,
        input.work_ms,
        input.fail_attempts,
    )
    .fetch_one(&mut *conn)
    .await?;
    jobs::enqueue(
        conn,
        &QueueCanary {
            canary_id: canary.id,
        },
        Schedule::now(),
    )
    .await?;
    Ok(canary)
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Canary, DomainError> {
    sqlx::query_as!(
        Canary,
        "SELECT id, requested_by, work_ms, fail_attempts, attempts, completions,
                last_worker, created_at, completed_at
           FROM queue_canaries WHERE id = $1",
        id,
    )
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound)
}

/// One execution of a canary's job. A canary already completed is a no-op
/// (besides counting the attempt); a planned failure returns an error.
pub async fn run(pool: &PgPool, id: Uuid, worker: &str) -> Result<(), DomainError> {
    let row = sqlx::query!(
        r#"UPDATE queue_canaries SET attempts = attempts + 1, last_worker = $2
            WHERE id = $1
        RETURNING attempts, fail_attempts, work_ms, completed_at IS NOT NULL AS "done!""#,
        id,
        worker,
    )
    .fetch_optional(pool)
    .await?;
    // A canary deleted meanwhile leaves nothing to do.
    let Some(row) = row else {
        return Ok(());
    };
    if row.done {
        return Ok(());
    }
    if row.attempts <= row.fail_attempts {
        return Err(DomainError::Unprocessable {
            code: Code::PlannedFailure,
            detail: format!(
                "canary attempt {} of {} planned failures",
                row.attempts, row.fail_attempts
            ),
        });
    }
    tokio::time::sleep(Duration::from_millis(
        u64::try_from(row.work_ms).unwrap_or(0),
    ))
    .await;
    sqlx::query!(
        "UPDATE queue_canaries SET completions = completions + 1, completed_at = now()
          WHERE id = $1 AND completed_at IS NULL",
        id,
    )
    .execute(pool)
    .await?;
    Ok(())
}

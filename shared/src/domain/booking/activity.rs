//! The booking activity trail: append-only (a trigger refuses updates and
//! deletes), one row per state change, with actor and time.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::DomainError;

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Activity {
    pub id: Uuid,
    pub subject_type: String,
    pub subject_id: Uuid,
    pub action: String,
    pub from_status: Option<String>,
    pub to_status: Option<String>,
    pub actor: String,
    pub details: serde_json::Value,
    pub at: DateTime<Utc>,
}

/// One state change of a subject.
pub struct Change<'a> {
    pub artist_id: Uuid,
    pub subject_type: &'a str,
    pub subject_id: Uuid,
    pub action: &'a str,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub actor: &'a str,
    pub details: serde_json::Value,
}

pub async fn record(conn: &mut PgConnection, change: Change<'_>) -> Result<(), DomainError> {
    sqlx::query!(
        "INSERT INTO booking_activity (id, artist_id, subject_type, subject_id, action, from_status, to_status, actor, details)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        Uuid::now_v7(),
        change.artist_id,
        change.subject_type,
        change.subject_id,
        change.action,
        change.from,
        change.to,
        change.actor,
        change.details,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The trail of one subject, oldest first.
pub async fn of_subject(
    conn: &mut PgConnection,
    subject_type: &str,
    subject_id: Uuid,
) -> Result<Vec<Activity>, DomainError> {
    Ok(sqlx::query_as!(
        Activity,
        "SELECT id, subject_type, subject_id, action, from_status, to_status, actor, details, at
           FROM booking_activity WHERE subject_type = $1 AND subject_id = $2 ORDER BY at, id",
        subject_type,
        subject_id
    )
    .fetch_all(conn)
    .await?)
}

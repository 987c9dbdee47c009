//! The booking activity trail: append-only (a trigger refuses updates and
//! deletes), one row per state change, with actor and time. Stored in
//! monthly partitions of `at` ([`crate::history`]). A trigger makes each
//! entry an event of the change feed ([`crate::domain::events`]).

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
    // Every change of a deal is a change of its parties' dashboards (and,
    // for holds and bookings, of the artist's open dates).
    crate::domain::changes::mark_subject(
        &mut *conn,
        change.artist_id,
        change.subject_type,
        change.subject_id,
    )
    .await?;
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

/// The trail of a deal, oldest first: every change of the given offers and
/// requests, of the offers answering those requests, of the request each
/// offer answers, and of the holds, bookings, contracts, logistics
/// proposals and Finance reports of all those offers. Requests, offers, holds, bookings and
/// contracts all show the same story. Finance's reports are shown only
/// with `finance` (the caller reads finance: `artist.finance.read`).
pub async fn deal_trail(
    conn: &mut PgConnection,
    offer_ids: &[Uuid],
    request_ids: &[Uuid],
    finance: bool,
) -> Result<Vec<Activity>, DomainError> {
    Ok(sqlx::query_as!(
        Activity,
        r#"WITH o AS (
               SELECT id, booking_request_id FROM offers WHERE id = ANY ($1) OR booking_request_id = ANY ($2)
           ),
           subjects (subject_type, subject_id) AS (
               SELECT 'offer', id FROM o
               UNION SELECT 'request', booking_request_id FROM o WHERE booking_request_id IS NOT NULL
               UNION SELECT 'request', r FROM unnest($2::uuid[]) r
               UNION SELECT 'hold', h.id FROM holds h JOIN o ON h.offer_id = o.id
               UNION SELECT 'booking', b.id FROM bookings b JOIN o ON b.offer_id = o.id
               UNION SELECT 'hold', b.hold_id FROM bookings b JOIN o ON b.offer_id = o.id WHERE b.hold_id IS NOT NULL
               UNION SELECT 'contract', c.id FROM contracts c JOIN bookings b ON c.booking_id = b.id JOIN o ON b.offer_id = o.id
               UNION SELECT 'proposal', p.id FROM logistics_proposals p JOIN bookings b ON p.booking_id = b.id JOIN o ON b.offer_id = o.id
               UNION SELECT 'finance', b.id FROM bookings b JOIN o ON b.offer_id = o.id WHERE $3
           )
           SELECT a.id, a.subject_type, a.subject_id, a.action, a.from_status, a.to_status, a.actor, a.details, a.at
             FROM booking_activity a
             JOIN subjects s ON s.subject_type = a.subject_type AND s.subject_id = a.subject_id
            ORDER BY a.at, a.id"#,
        offer_ids,
        request_ids,
        finance,
    )
    .fetch_all(conn)
    .await?)
}

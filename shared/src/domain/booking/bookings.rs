//! Bookings: an accepted offer confirmed by either party.
//!
//! Confirming converts the offer's hold on that date (or the promoter's
//! best live hold there) and releases the other live holds on the date,
//! unless the offer allows same-day shows, in which case they stay. No two
//! confirmed bookings for one artist on one date unless allowed: a unique
//! index decides a race, and the loser gets 409.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use sqlx::types::Json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::activity::{self, Activity, Change};
use super::deal::Deal;
use super::offers::{self, party_of};
use crate::DomainError;
use crate::pagination::{Page, PageRequest};
use crate::validate::Check;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum BookingStatus {
    Confirmed,
    Cancelled,
    Completed,
}

impl BookingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::Cancelled => "cancelled",
            Self::Completed => "completed",
        }
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Booking {
    pub id: Uuid,
    pub offer_id: Uuid,
    pub artist_id: Uuid,
    pub agency_company_id: Uuid,
    pub promoter_company_id: Uuid,
    pub event_date: NaiveDate,
    pub hold_id: Option<Uuid>,
    pub allow_same_day: bool,
    /// The accepted deal.
    pub deal: Deal,
    pub status: BookingStatus,
    pub cancel_reason: Option<String>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingIn {
    pub offer_id: Uuid,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelIn {
    #[serde(default)]
    pub reason: Option<String>,
}

const SUBJECT: &str = "booking";

async fn load(conn: &mut PgConnection, id: Uuid) -> Result<Booking, DomainError> {
    let row = sqlx::query!(
        r#"SELECT id, offer_id, artist_id, agency_company_id, promoter_company_id, event_date, hold_id, allow_same_day,
                  deal AS "deal: Json<Deal>", status AS "status: BookingStatus", cancel_reason, version, created_at, updated_at
             FROM bookings WHERE id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound)?;
    Ok(Booking {
        id: row.id,
        offer_id: row.offer_id,
        artist_id: row.artist_id,
        agency_company_id: row.agency_company_id,
        promoter_company_id: row.promoter_company_id,
        event_date: row.event_date,
        hold_id: row.hold_id,
        allow_same_day: row.allow_same_day,
        deal: row.deal.0,
        status: row.status,
        cancel_reason: row.cancel_reason,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// A booking the org is party to (404 otherwise).
pub async fn get_for(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
) -> Result<Booking, DomainError> {
    let booking = load(&mut *conn, id).await?;
    match party_of(
        &mut *conn,
        booking.agency_company_id,
        booking.promoter_company_id,
        org_id,
    )
    .await?
    {
        Some(_) => Ok(booking),
        None => Err(DomainError::NotFound),
    }
}

/// Confirms an accepted offer into a booking.
pub async fn confirm(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    input: BookingIn,
) -> Result<Booking, DomainError> {
    let offer = offers::accepted_for_booking(&mut *conn, org_id, input.offer_id)
        .await
        .map_err(|e| match e {
            DomainError::NotFound => DomainError::invalid("offer_id", "is not an offer of yours"),
            e => e,
        })?;
    let already = sqlx::query_scalar!("SELECT id FROM bookings WHERE offer_id = $1", offer.id)
        .fetch_optional(&mut *conn)
        .await?;
    if already.is_some() {
        return Err(DomainError::conflict(
            "offer_already_booked",
            "this offer is already confirmed",
        ));
    }
    // Serialise with hold changes on that date.
    let key = format!("hold:{}:{}", offer.artist_id, offer.event_date);
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 7205))",
        key
    )
    .execute(&mut *conn)
    .await?;
    let hold = sqlx::query_scalar!(
        "SELECT id FROM holds
          WHERE artist_id = $1 AND hold_date = $2 AND status IN ('active', 'challenged')
            AND (offer_id = $3 OR (offer_id IS NULL AND promoter_company_id = $4))
          ORDER BY (offer_id = $3) DESC NULLS LAST, priority LIMIT 1",
        offer.artist_id,
        offer.event_date,
        offer.id,
        offer.promoter_company_id,
    )
    .fetch_optional(&mut *conn)
    .await?;
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO bookings (id, offer_id, artist_id, agency_company_id, promoter_company_id, event_date, hold_id,
                               allow_same_day, deal, status, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'confirmed', $10)",
        id,
        offer.id,
        offer.artist_id,
        offer.agency_company_id,
        offer.promoter_company_id,
        offer.event_date,
        hold,
        offer.allow_same_day,
        Json(&offer.deal) as _,
        actor,
    )
    .execute(&mut *conn)
    .await?;
    let ended = sqlx::query!(
        "UPDATE holds SET status = CASE WHEN id = $3 THEN 'converted' ELSE 'released' END,
                version = version + 1, updated_at = now(), ended_at = now()
          WHERE artist_id = $1 AND hold_date = $2 AND status IN ('active', 'challenged')
            AND (id = $3 OR NOT $4)
          RETURNING id, status",
        offer.artist_id,
        offer.event_date,
        hold,
        offer.allow_same_day,
    )
    .fetch_all(&mut *conn)
    .await?;
    for h in ended {
        activity::record(
            &mut *conn,
            Change {
                artist_id: offer.artist_id,
                subject_type: "hold",
                subject_id: h.id,
                action: if h.status == "converted" {
                    "converted"
                } else {
                    "released"
                },
                from: Some("active"),
                to: Some(&h.status),
                actor,
                details: serde_json::json!({"booking_id": id, "reason": "the date was booked"}),
            },
        )
        .await?;
    }
    activity::record(
        &mut *conn,
        Change {
            artist_id: offer.artist_id,
            subject_type: SUBJECT,
            subject_id: id,
            action: "confirmed",
            from: None,
            to: Some("confirmed"),
            actor,
            details: serde_json::json!({"offer_id": offer.id, "hold_id": hold}),
        },
    )
    .await?;
    load(conn, id).await
}

async fn change(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    id: Uuid,
    to: BookingStatus,
    reason: Option<String>,
    expected_version: Option<i32>,
) -> Result<Booking, DomainError> {
    get_for(&mut *conn, org_id, id).await?;
    sqlx::query_scalar!("SELECT id FROM bookings WHERE id = $1 FOR UPDATE", id)
        .fetch_one(&mut *conn)
        .await?;
    // Read again under the lock: a change committed meanwhile decides.
    let booking = load(&mut *conn, id).await?;
    if expected_version.is_some_and(|v| v != booking.version) {
        return Err(DomainError::StaleVersion);
    }
    if booking.status != BookingStatus::Confirmed {
        return Err(DomainError::conflict(
            "invalid_transition",
            format!(
                "the booking is {} and cannot change",
                booking.status.as_str()
            ),
        ));
    }
    if to == BookingStatus::Completed && booking.event_date > Utc::now().date_naive() {
        return Err(DomainError::conflict(
            "booking_in_future",
            "a booking is completed on or after its date",
        ));
    }
    sqlx::query!(
        "UPDATE bookings SET status = $2, cancel_reason = $3, version = version + 1, updated_at = now() WHERE id = $1",
        id,
        to as BookingStatus,
        reason,
    )
    .execute(&mut *conn)
    .await?;
    activity::record(
        &mut *conn,
        Change {
            artist_id: booking.artist_id,
            subject_type: SUBJECT,
            subject_id: id,
            action: to.as_str(),
            from: Some("confirmed"),
            to: Some(to.as_str()),
            actor,
            details: serde_json::json!({"reason": reason}),
        },
    )
    .await?;
    load(conn, id).await
}

pub async fn cancel(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    id: Uuid,
    input: CancelIn,
    expected_version: Option<i32>,
) -> Result<Booking, DomainError> {
    let mut check = Check::new();
    let reason = check.opt_text("reason", input.reason.as_deref(), 2000);
    check.finish()?;
    change(
        conn,
        org_id,
        actor,
        id,
        BookingStatus::Cancelled,
        reason,
        expected_version,
    )
    .await
}

pub async fn complete(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    id: Uuid,
    expected_version: Option<i32>,
) -> Result<Booking, DomainError> {
    change(
        conn,
        org_id,
        actor,
        id,
        BookingStatus::Completed,
        None,
        expected_version,
    )
    .await
}

/// Bookings the org is party to, newest first.
pub async fn list_for(
    conn: &mut PgConnection,
    org_id: Uuid,
    page: &PageRequest<Uuid>,
) -> Result<Page<Booking>, DomainError> {
    let ids = sqlx::query_scalar!(
        "SELECT b.id FROM bookings b
          WHERE EXISTS (SELECT 1 FROM artists_company_claims c
                         WHERE c.org_id = $1 AND c.status = 'approved'
                           AND c.company_id IN (b.agency_company_id, b.promoter_company_id))
            AND ($2::uuid IS NULL OR b.id < $2)
          ORDER BY b.id DESC LIMIT $3",
        org_id,
        page.after,
        page.fetch_limit(),
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut bookings = Vec::with_capacity(ids.len());
    for id in ids {
        bookings.push(load(&mut *conn, id).await?);
    }
    Ok(Page::from_rows(bookings, page.limit, |b| b.id))
}

/// The whole trail of a booking: its own changes, its offer's, its
/// request's and its holds', oldest first.
pub async fn activity(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
) -> Result<Vec<Activity>, DomainError> {
    let booking = get_for(&mut *conn, org_id, id).await?;
    activity::deal_trail(conn, &[booking.offer_id], &[]).await
}

//! Bookings: an accepted offer confirmed by either party.
//!
//! The booking's own rules. What its confirmation, cancellation and
//! completion cause in other areas (the Finance handoff, voiding its open
//! contract, trust marks) is wired above them, in
//! [`crate::domain::consequences`], in the same transaction; call those.
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
use super::deal::{Deal, StoredDeal};
use super::holds::{HoldEvent, HoldStatus};
use super::offers;
use crate::Code;
use crate::DomainError;
use crate::access::{self, Parties, Party};
use crate::domain::{guarded, precondition};
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

/// What happens to a confirmed booking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BookingEvent {
    Cancel,
    /// The show happened (on or after its date).
    Complete,
}

impl BookingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "confirmed",
            Self::Cancelled => "cancelled",
            Self::Completed => "completed",
        }
    }

    /// The one transition function of a booking: a confirmed booking is
    /// cancelled or completed, and then it is final.
    pub fn apply(self, event: BookingEvent) -> Result<Self, DomainError> {
        match (self, event) {
            (Self::Confirmed, BookingEvent::Cancel) => Ok(Self::Cancelled),
            (Self::Confirmed, BookingEvent::Complete) => Ok(Self::Completed),
            (from, _) => Err(DomainError::conflict(
                Code::InvalidTransition,
                format!("the booking is {} and cannot change", from.as_str()),
            )),
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

struct Row {
    id: Uuid,
    offer_id: Uuid,
    artist_id: Uuid,
    agency_company_id: Uuid,
    promoter_company_id: Uuid,
    event_date: NaiveDate,
    hold_id: Option<Uuid>,
    allow_same_day: bool,
    deal: Json<StoredDeal>,
    status: BookingStatus,
    cancel_reason: Option<String>,
    version: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Row> for Booking {
    fn from(row: Row) -> Self {
        Booking {
            id: row.id,
            offer_id: row.offer_id,
            artist_id: row.artist_id,
            agency_company_id: row.agency_company_id,
            promoter_company_id: row.promoter_company_id,
            event_date: row.event_date,
            hold_id: row.hold_id,
            allow_same_day: row.allow_same_day,
            deal: row.deal.0.into(),
            status: row.status,
            cancel_reason: row.cancel_reason,
            version: row.version,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

impl Booking {
    pub fn parties(&self) -> Parties {
        Parties {
            agency: self.agency_company_id,
            promoter: self.promoter_company_id,
        }
    }
}

async fn load(conn: &mut PgConnection, id: Uuid) -> Result<Booking, DomainError> {
    sqlx::query_as!(
        Row,
        r#"SELECT id, offer_id, artist_id, agency_company_id, promoter_company_id, event_date, hold_id, allow_same_day,
                  deal AS "deal: Json<StoredDeal>", status AS "status: BookingStatus", cancel_reason, version, created_at, updated_at
             FROM bookings WHERE id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?
    .map(Booking::from)
    .ok_or(DomainError::NotFound)
}

/// A booking the org is party to (404 otherwise).
pub async fn get_for(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
) -> Result<Booking, DomainError> {
    let booking = load(&mut *conn, id).await?;
    access::require_party(&mut *conn, org_id, booking.parties()).await?;
    Ok(booking)
}

/// Confirms an accepted offer into a booking.
pub(crate) async fn confirm(
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
            Code::OfferAlreadyBooked,
            "this offer is already confirmed",
        ));
    }
    super::lock_artist_date(&mut *conn, offer.artist_id, offer.event_date).await?;
    let live = sqlx::query!(
        r#"SELECT id, status AS "status: HoldStatus", version, offer_id, promoter_company_id, priority
             FROM holds
            WHERE artist_id = $1 AND hold_date = $2 AND status IN ('active', 'challenged')
            ORDER BY priority"#,
        offer.artist_id,
        offer.event_date,
    )
    .fetch_all(&mut *conn)
    .await?;
    // The offer's own hold, else the promoter's best hold without an offer.
    let hold = live
        .iter()
        .find(|h| h.offer_id == Some(offer.id))
        .or_else(|| {
            live.iter().find(|h| {
                h.offer_id.is_none() && h.promoter_company_id == offer.promoter_company_id
            })
        })
        .map(|h| h.id);
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
        Json(offer.deal.stored()) as _,
        actor,
    )
    .execute(&mut *conn)
    .await?;
    // The booked hold converts; unless same-day shows are allowed, the
    // other live holds on the date are released.
    for h in &live {
        let event = if Some(h.id) == hold {
            HoldEvent::Convert
        } else if offer.allow_same_day {
            continue;
        } else {
            HoldEvent::Release
        };
        let to = h.status.apply(event)?;
        let rows = sqlx::query!(
            "UPDATE holds SET status = $2, version = version + 1, updated_at = now(), ended_at = now()
              WHERE id = $1 AND status = $3 AND version = $4",
            h.id,
            to as HoldStatus,
            h.status as HoldStatus,
            h.version,
        )
        .execute(&mut *conn)
        .await?
        .rows_affected();
        guarded(rows, None)?;
        activity::record(
            &mut *conn,
            Change {
                artist_id: offer.artist_id,
                subject_type: "hold",
                subject_id: h.id,
                action: if event == HoldEvent::Convert {
                    "converted"
                } else {
                    "released"
                },
                from: Some(h.status.as_str()),
                to: Some(to.as_str()),
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
    event: BookingEvent,
    reason: Option<String>,
    if_match: Option<i32>,
) -> Result<Booking, DomainError> {
    let booking = get_for(&mut *conn, org_id, id).await?;
    precondition(if_match, booking.version)?;
    let to = booking.status.apply(event)?;
    if event == BookingEvent::Complete && booking.event_date > Utc::now().date_naive() {
        return Err(DomainError::conflict(
            Code::BookingInFuture,
            "a booking is completed on or after its date",
        ));
    }
    let parties = Parties {
        agency: booking.agency_company_id,
        promoter: booking.promoter_company_id,
    };
    // Cancellations count against the side that cancelled.
    let cancelled_by = match event {
        BookingEvent::Cancel => access::party_of(&mut *conn, org_id, parties).await?,
        BookingEvent::Complete => None,
    };
    let rows = sqlx::query!(
        "UPDATE bookings SET status = $2, cancel_reason = $3, cancelled_by = $6, ended_at = now(),
                version = version + 1, updated_at = now()
          WHERE id = $1 AND status = $4 AND version = $5",
        id,
        to as BookingStatus,
        reason,
        booking.status as BookingStatus,
        if_match.unwrap_or(booking.version),
        cancelled_by as Option<Party>,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if rows == 0 {
        // Changed meanwhile: say what it is now when the change no longer fits.
        load(&mut *conn, id).await?.status.apply(event)?;
    }
    guarded(rows, if_match)?;
    activity::record(
        &mut *conn,
        Change {
            artist_id: booking.artist_id,
            subject_type: SUBJECT,
            subject_id: id,
            action: to.as_str(),
            from: Some(booking.status.as_str()),
            to: Some(to.as_str()),
            actor,
            details: serde_json::json!({"reason": reason}),
        },
    )
    .await?;
    load(conn, id).await
}

pub(crate) async fn cancel(
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
        BookingEvent::Cancel,
        reason,
        expected_version,
    )
    .await
}

pub(crate) async fn complete(
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
        BookingEvent::Complete,
        None,
        expected_version,
    )
    .await
}

/// Bookings the org is party to, newest first, in one query.
pub async fn list_for(
    conn: &mut PgConnection,
    org_id: Uuid,
    page: &PageRequest<Uuid>,
) -> Result<Page<Booking>, DomainError> {
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT b.id, b.offer_id, b.artist_id, b.agency_company_id, b.promoter_company_id, b.event_date, b.hold_id,
                  b.allow_same_day, b.deal AS "deal: Json<StoredDeal>", b.status AS "status: BookingStatus", b.cancel_reason,
                  b.version, b.created_at, b.updated_at
             FROM bookings b
            WHERE EXISTS (SELECT 1 FROM org_companies oc
                           WHERE oc.org_id = $1 AND oc.company_id IN (b.agency_company_id, b.promoter_company_id))
              AND b.id < COALESCE($2, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)
            ORDER BY b.id DESC LIMIT $3"#,
        org_id,
        page.after,
        page.fetch_limit(),
    )
    .fetch_all(conn)
    .await?;
    let bookings = rows.into_iter().map(Booking::from).collect();
    Ok(Page::from_rows(bookings, page.limit, |b| b.id))
}

/// The whole trail of a booking: its own changes, its offer's, its
/// request's and its holds', oldest first.
pub async fn activity(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
    finance: bool,
) -> Result<Vec<Activity>, DomainError> {
    let booking = get_for(&mut *conn, org_id, id).await?;
    activity::deal_trail(conn, &[booking.offer_id], &[], finance).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booking_transitions() {
        use BookingEvent::*;
        use BookingStatus::*;
        assert_eq!(Confirmed.apply(Cancel).unwrap(), Cancelled);
        assert_eq!(Confirmed.apply(Complete).unwrap(), Completed);
        for ended in [Cancelled, Completed] {
            for event in [Cancel, Complete] {
                assert!(ended.apply(event).is_err(), "{ended:?} {event:?}");
            }
        }
    }
}

//! An artist's booking history: completed and cancelled bookings, with
//! what each viewer may see. The parties of a booking see its companies,
//! terms and cancel reason; everyone else sees its date, status, venue
//! and city only.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use sqlx::types::Json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::DomainError;
use crate::access::{self, Party};
use crate::domain::booking::bookings::BookingStatus;
use crate::domain::booking::deal::{Deal, StoredDeal};
use crate::domain::booking::offers::Venue;
use crate::pagination::{Page, PageRequest};

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct HistoryEntry {
    /// The booking; `null` when my org is not a party.
    pub booking_id: Option<Uuid>,
    pub event_date: NaiveDate,
    /// `completed` or `cancelled`.
    pub status: BookingStatus,
    /// When it was completed or cancelled; `null` when my org is not a
    /// party.
    pub ended_at: Option<DateTime<Utc>>,
    pub venue_name: Option<String>,
    pub city_id: Option<i64>,
    pub city: Option<String>,
    pub country_code: Option<String>,
    /// My org's side of the booking; `null` when it is not a party, and
    /// then the fields below are `null` too.
    pub your_side: Option<Party>,
    pub agency_company_id: Option<Uuid>,
    pub promoter_company_id: Option<Uuid>,
    pub cancelled_by: Option<Party>,
    pub cancel_reason: Option<String>,
    pub deal: Option<Deal>,
}

/// Newest show first; 404 for an artist that does not exist. Ties on a
/// date are broken by a hash of the booking id, so the cursor a non-party
/// gets names no booking.
pub async fn list(
    conn: &mut PgConnection,
    org_id: Uuid,
    artist_id: Uuid,
    page: &PageRequest<(NaiveDate, String)>,
) -> Result<Page<HistoryEntry>, DomainError> {
    crate::domain::directory::artists::get(&mut *conn, artist_id).await?;
    let owned: HashSet<Uuid> = access::owned_companies(&mut *conn, org_id)
        .await?
        .into_iter()
        .map(|c| c.id)
        .collect();
    let (after_date, after_key) = page.after.clone().unzip();
    let rows = sqlx::query!(
        r#"SELECT b.id, b.event_date, b.status AS "status: BookingStatus", b.ended_at, b.cancelled_by,
                  b.cancel_reason, b.agency_company_id, b.promoter_company_id, b.deal AS "deal: Json<StoredDeal>",
                  o.venue AS "venue: Json<Venue>", o.venue_city_id, ci.name AS "city?",
                  ci.country_code::text AS "country_code?",
                  md5(b.id::text) AS "tiebreak!"
             FROM bookings b
             JOIN offers o ON o.id = b.offer_id
             LEFT JOIN cities ci ON ci.id = o.venue_city_id
            WHERE b.artist_id = $1 AND b.status IN ('completed', 'cancelled')
              AND (b.event_date, md5(b.id::text)) < (COALESCE($2, 'infinity'::date), $3::text)
            ORDER BY b.event_date DESC, md5(b.id::text) DESC
            LIMIT $4"#,
        artist_id,
        after_date,
        after_key,
        page.fetch_limit(),
    )
    .fetch_all(conn)
    .await?;
    let entries: Vec<(HistoryEntry, String)> = rows
        .into_iter()
        .map(|r| {
            let side = access::side(
                owned.contains(&r.agency_company_id),
                owned.contains(&r.promoter_company_id),
            );
            let party = side.is_some();
            let cancelled_by = match r.cancelled_by.as_deref() {
                Some("agency") => Some(Party::Agency),
                Some("promoter") => Some(Party::Promoter),
                _ => None,
            };
            let entry = HistoryEntry {
                booking_id: party.then_some(r.id),
                event_date: r.event_date,
                status: r.status,
                ended_at: r.ended_at.filter(|_| party),
                venue_name: r.venue.0.name,
                city_id: r.venue_city_id,
                city: r.city,
                country_code: r.country_code,
                your_side: side,
                agency_company_id: party.then_some(r.agency_company_id),
                promoter_company_id: party.then_some(r.promoter_company_id),
                cancelled_by: cancelled_by.filter(|_| party),
                cancel_reason: r.cancel_reason.filter(|_| party),
                deal: party.then_some(r.deal.0.into()),
            };
            (entry, r.tiebreak)
        })
        .collect();
    Ok(Page::from_rows(entries, page.limit, |(e, t)| (e.event_date, t.clone())).map(|(e, _)| e))
}

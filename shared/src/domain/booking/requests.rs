//! Booking requests (inquiries): a promoter company asks to book an artist;
//! the request goes to the artist's booking agency, which answers with an
//! offer (the request is then `converted`) or declines it.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use sqlx::types::Json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::activity::{self, Change};
use super::offers::{Party, Venue, party_of};
use crate::DomainError;
use crate::jobs::{self, RequestExpiry, Schedule};
use crate::pagination::{Page, PageRequest};
use crate::validate::Check;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum BookingRequestStatus {
    Open,
    Converted,
    Declined,
    Withdrawn,
    Expired,
}

impl BookingRequestStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Converted => "converted",
            Self::Declined => "declined",
            Self::Withdrawn => "withdrawn",
            Self::Expired => "expired",
        }
    }
}

/// Which way a request goes for my org.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestDirection {
    /// To my agency.
    Incoming,
    /// From my promoter companies.
    Outgoing,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct BookingRequest {
    pub id: Uuid,
    pub artist_id: Uuid,
    pub promoter_company_id: Uuid,
    pub agency_company_id: Uuid,
    pub event_date: NaiveDate,
    pub venue: Venue,
    pub message: Option<String>,
    /// The promoter asks the agency to hold the date.
    pub wants_hold: bool,
    pub status: BookingRequestStatus,
    /// An open request not answered by then expires.
    pub expires_at: DateTime<Utc>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingRequestIn {
    pub artist_id: Uuid,
    pub promoter_company_id: Uuid,
    pub event_date: NaiveDate,
    #[serde(default)]
    pub venue: Venue,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub wants_hold: bool,
    /// When an unanswered request expires: at most the end of the event
    /// date; by default 14 days from now or the end of the event date,
    /// whichever comes first.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

/// How long a request waits for an answer unless it says otherwise.
pub const DEFAULT_TTL_DAYS: i64 = 14;

const SUBJECT: &str = "request";

async fn load(conn: &mut PgConnection, id: Uuid) -> Result<BookingRequest, DomainError> {
    let row = sqlx::query!(
        r#"SELECT id, artist_id, promoter_company_id, agency_company_id, event_date, venue AS "venue: Json<Venue>",
                  message, wants_hold, status AS "status: BookingRequestStatus", expires_at, version, created_at, updated_at
             FROM booking_requests WHERE id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound)?;
    Ok(BookingRequest {
        id: row.id,
        artist_id: row.artist_id,
        promoter_company_id: row.promoter_company_id,
        agency_company_id: row.agency_company_id,
        event_date: row.event_date,
        venue: row.venue.0,
        message: row.message,
        wants_hold: row.wants_hold,
        status: row.status,
        expires_at: row.expires_at,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// A request the org is party to, with its side (404 otherwise).
pub async fn get_for(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
) -> Result<(BookingRequest, Party), DomainError> {
    let request = load(&mut *conn, id).await?;
    match party_of(
        &mut *conn,
        request.agency_company_id,
        request.promoter_company_id,
        org_id,
    )
    .await?
    {
        Some(party) => Ok((request, party)),
        None => Err(DomainError::NotFound),
    }
}

pub async fn create(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    input: BookingRequestIn,
) -> Result<BookingRequest, DomainError> {
    let mut check = Check::new();
    let message = check.opt_text("message", input.message.as_deref(), 5000);
    check.opt_text("venue.name", input.venue.name.as_deref(), 200);
    if input.venue.capacity.is_some_and(|c| c <= 0) {
        check.add("venue.capacity", "must be positive");
    }
    let now = Utc::now();
    if input.event_date < now.date_naive() {
        check.add("event_date", "must not be in the past");
    }
    // The request is moot once the event date is over.
    let latest = (input.event_date + Duration::days(1))
        .and_time(NaiveTime::MIN)
        .and_utc();
    let expires_at = match input.expires_at {
        Some(at) if at <= now => {
            check.add("expires_at", "must be in the future");
            at
        }
        Some(at) if at > latest => {
            check.add("expires_at", "must not be after the event date");
            at
        }
        Some(at) => at,
        None => latest.min(now + Duration::days(DEFAULT_TTL_DAYS)),
    };
    check.finish()?;
    let company = sqlx::query!(
        r#"SELECT c.kind, EXISTS (SELECT 1 FROM artists_company_claims cl
                                    WHERE cl.company_id = c.id AND cl.org_id = $2 AND cl.status = 'approved') AS "owned!"
             FROM companies c WHERE c.id = $1"#,
        input.promoter_company_id,
        org_id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| DomainError::invalid("promoter_company_id", "is not a known company"))?;
    if !company.owned {
        return Err(DomainError::Forbidden(
            "requests are sent by a promoter company your org owns",
        ));
    }
    if !matches!(company.kind.as_str(), "promoter" | "venue" | "other") {
        return Err(DomainError::invalid(
            "promoter_company_id",
            "must be a promoter or venue company",
        ));
    }
    let agency = sqlx::query_scalar!(
        "SELECT l.company_id FROM roster_links l JOIN artists a ON a.id = l.artist_id AND a.archived_at IS NULL
          WHERE l.artist_id = $1 AND l.role = 'booking' ORDER BY l.created_at LIMIT 1",
        input.artist_id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| DomainError::invalid("artist_id", "the artist has no booking agency to send a request to"))?;
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO booking_requests (id, artist_id, promoter_company_id, agency_company_id, event_date, venue, message,
                                       wants_hold, status, expires_at, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', $9, $10)",
        id,
        input.artist_id,
        input.promoter_company_id,
        agency,
        input.event_date,
        Json(&input.venue) as _,
        message,
        input.wants_hold,
        expires_at,
        actor,
    )
    .execute(&mut *conn)
    .await?;
    jobs::enqueue(
        &mut *conn,
        &RequestExpiry { request_id: id },
        Schedule::at(expires_at).dedupe(format!("{id}:{}", expires_at.timestamp())),
    )
    .await?;
    record(
        &mut *conn,
        input.artist_id,
        id,
        "requested",
        None,
        BookingRequestStatus::Open,
        actor,
    )
    .await?;
    load(conn, id).await
}

async fn record(
    conn: &mut PgConnection,
    artist_id: Uuid,
    id: Uuid,
    action: &str,
    from: Option<BookingRequestStatus>,
    to: BookingRequestStatus,
    actor: &str,
) -> Result<(), DomainError> {
    activity::record(
        conn,
        Change {
            artist_id,
            subject_type: SUBJECT,
            subject_id: id,
            action,
            from: from.map(BookingRequestStatus::as_str),
            to: Some(to.as_str()),
            actor,
            details: serde_json::json!({}),
        },
    )
    .await
}

/// Requests my org sends or receives, newest first.
pub async fn list_for(
    conn: &mut PgConnection,
    org_id: Uuid,
    direction: Option<RequestDirection>,
    page: &PageRequest<Uuid>,
) -> Result<Page<BookingRequest>, DomainError> {
    let incoming = direction != Some(RequestDirection::Outgoing);
    let outgoing = direction != Some(RequestDirection::Incoming);
    let ids = sqlx::query_scalar!(
        "SELECT r.id FROM booking_requests r
          WHERE ((($2 AND EXISTS (SELECT 1 FROM artists_company_claims c
                                   WHERE c.company_id = r.agency_company_id AND c.org_id = $1 AND c.status = 'approved')))
              OR ($3 AND EXISTS (SELECT 1 FROM artists_company_claims c
                                   WHERE c.company_id = r.promoter_company_id AND c.org_id = $1 AND c.status = 'approved')))
            AND ($4::uuid IS NULL OR r.id < $4)
          ORDER BY r.id DESC LIMIT $5",
        org_id,
        incoming,
        outgoing,
        page.after,
        page.fetch_limit(),
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut requests = Vec::with_capacity(ids.len());
    for id in ids {
        requests.push(load(&mut *conn, id).await?);
    }
    Ok(Page::from_rows(requests, page.limit, |r| r.id))
}

/// Declines (the agency) or withdraws (the promoter) an open request.
pub async fn close(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    id: Uuid,
    to: BookingRequestStatus,
) -> Result<BookingRequest, DomainError> {
    let (request, party) = get_for(&mut *conn, org_id, id).await?;
    let allowed = matches!(
        (to, party),
        (BookingRequestStatus::Declined, Party::Agency)
            | (BookingRequestStatus::Withdrawn, Party::Promoter)
    );
    if !allowed {
        return Err(DomainError::Forbidden(
            "the agency declines a request; the promoter withdraws it",
        ));
    }
    let changed = sqlx::query!(
        "UPDATE booking_requests SET status = $2, version = version + 1, updated_at = now()
          WHERE id = $1 AND status = 'open' AND expires_at > now()",
        id,
        to as BookingRequestStatus,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(not_open(&request, "invalid_transition"));
    }
    record(
        &mut *conn,
        request.artist_id,
        id,
        to.as_str(),
        Some(BookingRequestStatus::Open),
        to,
        actor,
    )
    .await?;
    load(conn, id).await
}

/// Marks an open request converted by an offer answering it; checks the
/// offer matches the request.
pub async fn convert(
    conn: &mut PgConnection,
    id: Uuid,
    artist_id: Uuid,
    promoter_company_id: Uuid,
    actor: &str,
) -> Result<(), DomainError> {
    let request = load(&mut *conn, id).await.map_err(|_| {
        DomainError::invalid("booking_request_id", "is not a known booking request")
    })?;
    if request.artist_id != artist_id || request.promoter_company_id != promoter_company_id {
        return Err(DomainError::invalid(
            "booking_request_id",
            "is a request for another artist or promoter",
        ));
    }
    let changed = sqlx::query!(
        "UPDATE booking_requests SET status = 'converted', version = version + 1, updated_at = now()
          WHERE id = $1 AND status = 'open' AND expires_at > now()",
        id
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    if changed == 0 {
        return Err(not_open(&request, "request_not_open"));
    }
    record(
        conn,
        artist_id,
        id,
        "converted",
        Some(BookingRequestStatus::Open),
        BookingRequestStatus::Converted,
        actor,
    )
    .await
}

/// Why a request read before an update that changed nothing cannot change.
fn not_open(request: &BookingRequest, code: &'static str) -> DomainError {
    if request.status == BookingRequestStatus::Open {
        DomainError::conflict("request_expired", "the request expired unanswered")
    } else {
        DomainError::conflict(
            code,
            format!(
                "the request is {} and can no longer change",
                request.status.as_str()
            ),
        )
    }
}

/// Expires the request if it is still open and due; true when it did.
/// Idempotent: a second run, or a run after an answer, changes nothing.
pub async fn expire_if_due(
    conn: &mut PgConnection,
    id: Uuid,
    actor: &str,
) -> Result<bool, DomainError> {
    let artist = sqlx::query_scalar!(
        "UPDATE booking_requests SET status = 'expired', version = version + 1, updated_at = now()
          WHERE id = $1 AND status = 'open' AND expires_at <= now()
          RETURNING artist_id",
        id
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(artist_id) = artist else {
        return Ok(false);
    };
    record(
        conn,
        artist_id,
        id,
        "expired",
        Some(BookingRequestStatus::Open),
        BookingRequestStatus::Expired,
        actor,
    )
    .await?;
    Ok(true)
}

/// Open requests past their expiry, most overdue first.
pub async fn overdue(conn: &mut PgConnection, limit: i64) -> Result<Vec<Uuid>, DomainError> {
    Ok(sqlx::query_scalar!(
        "SELECT id FROM booking_requests WHERE status = 'open' AND expires_at <= now() ORDER BY expires_at LIMIT $1",
        limit
    )
    .fetch_all(conn)
    .await?)
}

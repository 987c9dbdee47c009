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
use super::offers::Venue;
use crate::Code;
use crate::DomainError;
use crate::access::{self, AgencyOf, Parties, Party};
use crate::domain::guarded;
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

/// What happens to a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestEvent {
    /// An offer answers it.
    Convert,
    /// The agency says no.
    Decline,
    /// The promoter takes it back.
    Withdraw,
    /// Nobody answered in time.
    Expire,
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

    /// The one transition function of a request: only an open request
    /// changes, and every change ends it.
    pub fn apply(self, event: RequestEvent) -> Result<Self, DomainError> {
        use BookingRequestStatus::*;
        match (self, event) {
            (Open, RequestEvent::Convert) => Ok(Converted),
            (Open, RequestEvent::Decline) => Ok(Declined),
            (Open, RequestEvent::Withdraw) => Ok(Withdrawn),
            (Open, RequestEvent::Expire) => Ok(Expired),
            (from, _) => Err(DomainError::conflict(
                Code::InvalidTransition,
                format!("the request is {} and can no longer change", from.as_str()),
            )),
        }
    }
}

impl RequestEvent {
    /// Who may cause it: the agency declines, the promoter withdraws;
    /// conversion and expiry are checked by their own paths.
    pub fn allowed_for(self, party: Party) -> bool {
        match self {
            Self::Decline => party == Party::Agency,
            Self::Withdraw => party == Party::Promoter,
            Self::Convert | Self::Expire => false,
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

struct Row {
    id: Uuid,
    artist_id: Uuid,
    promoter_company_id: Uuid,
    agency_company_id: Uuid,
    event_date: NaiveDate,
    venue: Json<Venue>,
    message: Option<String>,
    wants_hold: bool,
    status: BookingRequestStatus,
    expires_at: DateTime<Utc>,
    version: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Row> for BookingRequest {
    fn from(row: Row) -> Self {
        BookingRequest {
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
        }
    }
}

async fn load(conn: &mut PgConnection, id: Uuid) -> Result<BookingRequest, DomainError> {
    sqlx::query_as!(
        Row,
        r#"SELECT id, artist_id, promoter_company_id, agency_company_id, event_date, venue AS "venue: Json<Venue>",
                  message, wants_hold, status AS "status: BookingRequestStatus", expires_at, version, created_at, updated_at
             FROM booking_requests WHERE id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?
    .map(BookingRequest::from)
    .ok_or(DomainError::NotFound)
}

/// A request the org is party to, with its side (404 otherwise).
pub async fn get_for(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
) -> Result<(BookingRequest, Party), DomainError> {
    let request = load(&mut *conn, id).await?;
    let party = access::require_party(&mut *conn, org_id, request.parties()).await?;
    Ok((request, party))
}

impl BookingRequest {
    pub fn parties(&self) -> Parties {
        Parties {
            agency: self.agency_company_id,
            promoter: self.promoter_company_id,
        }
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
    super::deal::check_references(&mut *conn, None, input.venue.city_id).await?;
    let owned = access::promoter_company(
        &mut *conn,
        org_id,
        input.promoter_company_id,
        "promoter_company_id",
    )
    .await?;
    if !owned {
        return Err(DomainError::Forbidden(
            "requests are sent by a promoter company your org owns",
        ));
    }
    let agency = access::booking_agency(
        &mut *conn,
        input.artist_id,
        AgencyOf::Anyone,
        input.venue.city_id,
    )
    .await?
    .ok_or_else(|| {
        DomainError::invalid(
            "artist_id",
            "the artist has no booking agency to send a request to",
        )
    })?;
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

/// Requests my org sends or receives, newest first, in one query.
pub async fn list_for(
    conn: &mut PgConnection,
    org_id: Uuid,
    direction: Option<RequestDirection>,
    page: &PageRequest<Uuid>,
) -> Result<Page<BookingRequest>, DomainError> {
    let incoming = direction != Some(RequestDirection::Outgoing);
    let outgoing = direction != Some(RequestDirection::Incoming);
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT r.id, r.artist_id, r.promoter_company_id, r.agency_company_id, r.event_date,
                  r.venue AS "venue: Json<Venue>", r.message, r.wants_hold, r.status AS "status: BookingRequestStatus",
                  r.expires_at, r.version, r.created_at, r.updated_at
             FROM booking_requests r
            WHERE EXISTS (SELECT 1 FROM org_companies oc
                           WHERE oc.org_id = $1
                             AND ((($2 AND oc.company_id = r.agency_company_id))
                                  OR ($3 AND oc.company_id = r.promoter_company_id)))
              AND r.id < COALESCE($4, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid)
            ORDER BY r.id DESC LIMIT $5"#,
        org_id,
        incoming,
        outgoing,
        page.after,
        page.fetch_limit(),
    )
    .fetch_all(conn)
    .await?;
    let requests = rows.into_iter().map(BookingRequest::from).collect();
    Ok(Page::from_rows(requests, page.limit, |r| r.id))
}

/// Declines (the agency) or withdraws (the promoter) an open request.
pub async fn close(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    id: Uuid,
    event: RequestEvent,
) -> Result<BookingRequest, DomainError> {
    let (request, party) = get_for(&mut *conn, org_id, id).await?;
    if !event.allowed_for(party) {
        return Err(DomainError::Forbidden(
            "the agency declines a request; the promoter withdraws it",
        ));
    }
    let to = transition(&mut *conn, &request, event).await?;
    record(
        &mut *conn,
        request.artist_id,
        id,
        to.as_str(),
        Some(request.status),
        to,
        actor,
    )
    .await?;
    load(conn, id).await
}

/// The guarded transition of a request read as `request`; an open
/// request past its expiry can no longer be answered.
async fn transition(
    conn: &mut PgConnection,
    request: &BookingRequest,
    event: RequestEvent,
) -> Result<BookingRequestStatus, DomainError> {
    let to = request.status.apply(event)?;
    let live = event == RequestEvent::Expire || request.expires_at > Utc::now();
    if !live {
        return Err(DomainError::conflict(
            Code::RequestExpired,
            "the request expired unanswered",
        ));
    }
    let rows = sqlx::query!(
        "UPDATE booking_requests SET status = $2, version = version + 1, updated_at = now()
          WHERE id = $1 AND status = $3 AND version = $4
            AND (CASE WHEN $2 = 'expired' THEN expires_at <= now() ELSE expires_at > now() END)",
        request.id,
        to as BookingRequestStatus,
        request.status as BookingRequestStatus,
        request.version,
    )
    .execute(conn)
    .await?
    .rows_affected();
    guarded(rows, None)?;
    Ok(to)
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
    if request.status != BookingRequestStatus::Open {
        return Err(DomainError::conflict(
            Code::RequestNotOpen,
            format!(
                "the request is {} and can no longer change",
                request.status.as_str()
            ),
        ));
    }
    let to = transition(&mut *conn, &request, RequestEvent::Convert).await?;
    record(
        conn,
        artist_id,
        id,
        "converted",
        Some(request.status),
        to,
        actor,
    )
    .await
}

/// Expires the request if it is still open and due; true when it did.
/// Idempotent: a second run, or a run after an answer, changes nothing.
pub async fn expire_if_due(
    conn: &mut PgConnection,
    id: Uuid,
    actor: &str,
) -> Result<bool, DomainError> {
    let Ok(request) = load(&mut *conn, id).await else {
        return Ok(false);
    };
    if request.status != BookingRequestStatus::Open || request.expires_at > Utc::now() {
        return Ok(false);
    }
    let to = match transition(&mut *conn, &request, RequestEvent::Expire).await {
        Ok(to) => to,
        // Answered or expired by another run meanwhile.
        Err(DomainError::Conflict { .. }) => return Ok(false),
        Err(e) => return Err(e),
    };
    record(
        conn,
        request.artist_id,
        id,
        "expired",
        Some(request.status),
        to,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_transitions() {
        use BookingRequestStatus::*;
        use RequestEvent::*;
        assert_eq!(Open.apply(Convert).unwrap(), Converted);
        assert_eq!(Open.apply(Decline).unwrap(), Declined);
        assert_eq!(Open.apply(Withdraw).unwrap(), Withdrawn);
        assert_eq!(Open.apply(Expire).unwrap(), Expired);
        for ended in [Converted, Declined, Withdrawn, Expired] {
            for event in [Convert, Decline, Withdraw, Expire] {
                assert!(ended.apply(event).is_err(), "{ended:?} {event:?}");
            }
        }
    }

    #[test]
    fn the_agency_declines_and_the_promoter_withdraws() {
        use RequestEvent::*;
        assert!(Decline.allowed_for(Party::Agency));
        assert!(!Decline.allowed_for(Party::Promoter));
        assert!(Withdraw.allowed_for(Party::Promoter));
        assert!(!Withdraw.allowed_for(Party::Agency));
        for party in [Party::Agency, Party::Promoter] {
            assert!(!Convert.allowed_for(party));
            assert!(!Expire.allowed_for(party));
        }
    }
}

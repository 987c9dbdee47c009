//! Offers: a versioned deal between the artist's booking agency and a
//! promoter. Either party writes an offer; a version is accepted, declined
//! or countered only by the party that did not write it; a counter is a new
//! version and every version is kept.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use sqlx::types::Json;
use utoipa::ToSchema;
use uuid::Uuid;

use super::activity::{self, Change};
use super::deal::{Deal, StoredDeal};
use crate::Code;
use crate::access::{self, BookingAsk, Parties, Party};
use crate::domain::changes::{self, Marks};
use crate::domain::machine::Machine;
use crate::domain::{guarded, precondition};
use crate::jobs::{self, OfferExpiry, Schedule};
use crate::pagination::{Page, PageRequest};
use crate::unnamed::Unnamed;
use crate::validate::Check;
use crate::{DomainError, FieldError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum OfferStatus {
    Draft,
    Sent,
    Countered,
    Accepted,
    Declined,
    Withdrawn,
    Expired,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OfferEvent {
    Send,
    Counter,
    Accept,
    Decline,
    Withdraw,
    Expire,
}

impl OfferStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Sent => "sent",
            Self::Countered => "countered",
            Self::Accepted => "accepted",
            Self::Declined => "declined",
            Self::Withdrawn => "withdrawn",
            Self::Expired => "expired",
        }
    }

    /// The one transition function of an offer.
    pub fn apply(self, event: OfferEvent) -> Result<Self, DomainError> {
        use OfferEvent::*;
        use OfferStatus::*;
        match (self, event) {
            (Draft, Send) => Ok(Sent),
            (Sent | Countered, Counter) => Ok(Countered),
            (Sent | Countered, Accept) => Ok(Accepted),
            (Sent | Countered, Decline) => Ok(Declined),
            (Draft | Sent | Countered, Withdraw) => Ok(Withdrawn),
            (Sent | Countered, Expire) => Ok(Expired),
            (from, _) => Err(DomainError::conflict(
                Code::InvalidTransition,
                format!("the offer is {} and cannot change that way", from.as_str()),
            )),
        }
    }
}

impl Machine for OfferStatus {
    type Event = OfferEvent;
    const ALL: &'static [Self] = &[
        Self::Draft,
        Self::Sent,
        Self::Countered,
        Self::Accepted,
        Self::Declined,
        Self::Withdrawn,
        Self::Expired,
    ];
    fn name(self) -> &'static str {
        self.as_str()
    }
    fn step(self, event: OfferEvent) -> Result<Self, DomainError> {
        self.apply(event)
    }
}

/// Who may do `event` to a version written by `author`.
pub fn may(event: OfferEvent, actor: Party, author: Party) -> bool {
    match event {
        OfferEvent::Send | OfferEvent::Withdraw => actor == author,
        OfferEvent::Counter | OfferEvent::Accept | OfferEvent::Decline => actor != author,
        OfferEvent::Expire => false,
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Venue {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub city_id: Option<i64>,
    #[serde(default)]
    pub capacity: Option<i32>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Offer {
    pub id: Uuid,
    pub artist_id: Uuid,
    pub promoter_company_id: Uuid,
    pub agency_company_id: Uuid,
    pub booking_request_id: Option<Uuid>,
    pub event_date: NaiveDate,
    pub venue: Venue,
    pub allow_same_day: bool,
    pub status: OfferStatus,
    /// The deal of the current version.
    pub deal: Deal,
    pub current_version: i32,
    /// The party that wrote the current version; the other one answers it.
    pub written_by: Party,
    pub expires_at: DateTime<Utc>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct OfferVersion {
    pub number: i32,
    pub deal: Deal,
    pub written_by: Party,
    pub note: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfferIn {
    pub artist_id: Uuid,
    pub promoter_company_id: Uuid,
    #[serde(default)]
    pub booking_request_id: Option<Uuid>,
    pub event_date: NaiveDate,
    #[serde(default)]
    pub venue: Venue,
    pub deal: Deal,
    pub expires_at: DateTime<Utc>,
    #[serde(default)]
    pub allow_same_day: bool,
    /// Send at once instead of keeping a draft.
    #[serde(default)]
    pub send: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CounterIn {
    pub deal: Deal,
    #[serde(default)]
    pub note: Option<String>,
    /// A new answer deadline; the current one stays otherwise.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
}

const SUBJECT: &str = "offer";

struct Row {
    id: Uuid,
    artist_id: Uuid,
    promoter_company_id: Uuid,
    agency_company_id: Uuid,
    booking_request_id: Option<Uuid>,
    event_date: NaiveDate,
    venue: Json<Venue>,
    allow_same_day: bool,
    status: OfferStatus,
    deal: Json<StoredDeal>,
    current_version: i32,
    written_by_side: Party,
    expires_at: DateTime<Utc>,
    version: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<Row> for Offer {
    fn from(r: Row) -> Self {
        Offer {
            id: r.id,
            artist_id: r.artist_id,
            promoter_company_id: r.promoter_company_id,
            agency_company_id: r.agency_company_id,
            booking_request_id: r.booking_request_id,
            event_date: r.event_date,
            venue: r.venue.0,
            allow_same_day: r.allow_same_day,
            status: r.status,
            deal: r.deal.0.into(),
            current_version: r.current_version,
            written_by: r.written_by_side,
            expires_at: r.expires_at,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

async fn load(conn: &mut PgConnection, id: Uuid, lock: bool) -> Result<Offer, DomainError> {
    if lock {
        sqlx::query_scalar!("SELECT id FROM offers WHERE id = $1 FOR UPDATE", id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(DomainError::NotFound)?;
    }
    let row = sqlx::query_as!(
        Row,
        r#"SELECT o.id, o.artist_id, o.promoter_company_id, o.agency_company_id, o.booking_request_id, o.event_date,
                  o.venue AS "venue: Json<Venue>", o.allow_same_day, o.status AS "status: OfferStatus",
                  v.deal AS "deal: Json<StoredDeal>", o.current_version, o.written_by_side AS "written_by_side: Party",
                  o.expires_at, o.version, o.created_at, o.updated_at
             FROM offers o JOIN offer_versions v ON v.offer_id = o.id AND v.number = o.current_version
            WHERE o.id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound)?;
    Ok(row.into())
}

/// An offer the org is party to, with its side (404 otherwise).
pub async fn get_for(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
) -> Result<(Offer, Party), DomainError> {
    let offer = load(&mut *conn, id, false).await?;
    let party = access::require_party(&mut *conn, org_id, offer.parties()).await?;
    Ok((offer, party))
}

impl Offer {
    pub fn parties(&self) -> Parties {
        Parties {
            agency: self.agency_company_id,
            promoter: self.promoter_company_id,
        }
    }
}

fn check_deal(
    deal: &Deal,
    event_date: NaiveDate,
    expires_at: DateTime<Utc>,
) -> Result<(), DomainError> {
    let now = Utc::now();
    let mut errors: Vec<FieldError> = deal.problems(event_date, now.date_naive());
    if event_date < now.date_naive() {
        errors.push(FieldError::new("event_date", "must not be in the past"));
    }
    if expires_at <= now {
        errors.push(FieldError::new("expires_at", "must be in the future"));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(DomainError::Validation(errors))
    }
}

/// Writes an offer: a draft, or sent at once.
pub async fn create(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    input: OfferIn,
) -> Result<Offer, DomainError> {
    check_deal(&input.deal, input.event_date, input.expires_at)?;
    let mut check = Check::new();
    check.opt_text("venue.name", input.venue.name.as_deref(), 200);
    if input.venue.capacity.is_some_and(|c| c <= 0) {
        check.add("venue.capacity", "must be positive");
    }
    check.finish()?;
    let city = input.venue.city_id;
    let refs = super::deal::references(Some(&input.deal), city);
    let sides = access::booking_sides(
        &mut *conn,
        BookingAsk {
            org_id: Some(org_id),
            artist_id: input.artist_id,
            city_id: city,
            promoter_company_id: Some(input.promoter_company_id),
            refs: &refs,
        },
    )
    .await?;
    sides.references(&refs)?;
    let promoter_owned = sides.promoter_company("promoter_company_id")?;
    let (party, agency) = match (sides.own_agency, promoter_owned) {
        (Some(agency), _) => (Party::Agency, agency),
        (None, true) => {
            let agency = sides.agency.ok_or_else(|| {
                DomainError::invalid(
                    "artist_id",
                    "the artist has no booking agency to make an offer to",
                )
            })?;
            (Party::Promoter, agency)
        }
        (None, false) => {
            return Err(DomainError::Forbidden(
                "offers are written by the artist's booking agency or by the promoter company's org",
            ));
        }
    };
    let status = if input.send {
        OfferStatus::Sent
    } else {
        OfferStatus::Draft
    };
    if let Some(request) = input.booking_request_id {
        super::requests::convert(
            &mut *conn,
            request,
            input.artist_id,
            input.promoter_company_id,
            actor,
        )
        .await?;
    }
    let id = Uuid::now_v7();
    let companies = [agency, input.promoter_company_id];
    let marks = Marks::of_subject(input.artist_id, SUBJECT, &companies);
    // One statement: the offer, its first version, its activity entry, the
    // marks of the parties' dashboards and (a new pair meets: their
    // relationship memory starts) of their trust.
    let row = sqlx::query!(
        r#"WITH o AS (
               INSERT INTO offers (id, artist_id, promoter_company_id, agency_company_id, booking_request_id, event_date, venue,
                                   allow_same_day, status, written_by_side, expires_at, created_by)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
               RETURNING id, artist_id, promoter_company_id, agency_company_id, booking_request_id, event_date, venue,
                         allow_same_day, status, current_version, written_by_side, expires_at, version, created_at, updated_at
           ), v AS (
               INSERT INTO offer_versions (offer_id, number, deal, written_by_side, written_by)
               VALUES ($1, 1, $13, $10, $12)
               RETURNING deal
           ), entry AS (
               INSERT INTO booking_activity (id, artist_id, subject_type, subject_id, action, from_status, to_status, actor, details)
               VALUES ($14, $2, 'offer', $1, 'written', NULL, $9, $12, $15)
           )
           SELECT o.id AS "id!", o.artist_id AS "artist_id!", o.promoter_company_id AS "promoter_company_id!",
                  o.agency_company_id AS "agency_company_id!", o.booking_request_id, o.event_date AS "event_date!",
                  o.venue AS "venue!: Json<Venue>", o.allow_same_day AS "allow_same_day!", o.status AS "status!: OfferStatus",
                  v.deal AS "deal!: Json<StoredDeal>", o.current_version AS "current_version!",
                  o.written_by_side AS "written_by_side!: Party", o.expires_at AS "expires_at!", o.version AS "version!",
                  o.created_at AS "created_at!", o.updated_at AS "updated_at!",
                  kisum_mark_read_models($16, $17) AS "fresh!", kisum_mark_trust($18) AS fresh_trust
             FROM o, v"#,
        id,
        input.artist_id,
        input.promoter_company_id,
        agency,
        input.booking_request_id,
        input.event_date,
        Json(&input.venue) as _,
        input.allow_same_day,
        status as OfferStatus,
        party as Party,
        input.expires_at,
        actor,
        Json(input.deal.stored()) as _,
        Uuid::now_v7(),
        serde_json::json!({"party": party, "version": 1}),
        marks.models() as &[&str],
        marks.keys(),
        &companies,
    )
    .fetch_one(&mut *conn)
    .await?;
    let mut jobs = jobs::Batch::new();
    if status == OfferStatus::Sent {
        jobs.push(
            &OfferExpiry { offer_id: id },
            expiry_schedule(id, input.expires_at),
        )?;
    }
    changes::follow_ups(&mut jobs, &row.fresh, row.fresh_trust)?;
    jobs.enqueue(conn).await?;
    Ok(Offer::from(Row {
        id: row.id,
        artist_id: row.artist_id,
        promoter_company_id: row.promoter_company_id,
        agency_company_id: row.agency_company_id,
        booking_request_id: row.booking_request_id,
        event_date: row.event_date,
        venue: row.venue,
        allow_same_day: row.allow_same_day,
        status: row.status,
        deal: row.deal,
        current_version: row.current_version,
        written_by_side: row.written_by_side,
        expires_at: row.expires_at,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }))
}

#[allow(clippy::too_many_arguments)]
async fn record(
    conn: &mut PgConnection,
    artist_id: Uuid,
    id: Uuid,
    action: &str,
    from: Option<OfferStatus>,
    to: Option<OfferStatus>,
    actor: &str,
    details: serde_json::Value,
) -> Result<(), DomainError> {
    activity::record(
        conn,
        Change {
            artist_id,
            subject_type: SUBJECT,
            subject_id: id,
            action,
            from: from.map(OfferStatus::as_str),
            to: to.map(OfferStatus::as_str),
            actor,
            details,
        },
    )
    .await
}

/// Applies `event` by `org_id`, checking party, turn and expiry; the
/// caller's guarded update checks state and version.
async fn transition(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
    event: OfferEvent,
    if_match: Option<i32>,
) -> Result<(Offer, OfferStatus), DomainError> {
    let (offer, party) = get_for(&mut *conn, org_id, id).await?;
    precondition(if_match, offer.version)?;
    let to = offer.status.apply(event)?;
    if !may(event, party, offer.written_by) {
        return Err(DomainError::Forbidden(match event {
            OfferEvent::Send | OfferEvent::Withdraw => {
                "only the party that wrote this version may do that"
            }
            _ => "only the party that did not write this version may answer it",
        }));
    }
    if matches!(
        event,
        OfferEvent::Send | OfferEvent::Accept | OfferEvent::Counter | OfferEvent::Decline
    ) && offer.expires_at <= Utc::now()
    {
        return Err(DomainError::conflict(
            Code::OfferExpired,
            "the offer expired; write a new one",
        ));
    }
    Ok((offer, to))
}

/// The guarded transition of an offer read as `offer`: changes nothing
/// unless the offer is still in that state and version (or the version the
/// caller named).
async fn set_status(
    conn: &mut PgConnection,
    offer: &Offer,
    event: OfferEvent,
    to: OfferStatus,
    if_match: Option<i32>,
) -> Result<(), DomainError> {
    let rows = sqlx::query!(
        "UPDATE offers SET status = $2, version = version + 1, updated_at = now()
          WHERE id = $1 AND status = $3 AND version = $4",
        offer.id,
        to as OfferStatus,
        offer.status as OfferStatus,
        if_match.unwrap_or(offer.version),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    changed_meanwhile(conn, offer.id, event, rows).await?;
    guarded(rows, if_match)
}

/// After a guarded update that changed nothing: the offer's state now, when
/// the event no longer fits it.
async fn changed_meanwhile(
    conn: &mut PgConnection,
    id: Uuid,
    event: OfferEvent,
    rows: u64,
) -> Result<(), DomainError> {
    if rows == 0 {
        load(conn, id, false).await?.status.apply(event)?;
    }
    Ok(())
}

/// Send, accept, decline or withdraw.
pub async fn act(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    id: Uuid,
    event: OfferEvent,
    expected_version: Option<i32>,
) -> Result<Offer, DomainError> {
    let (offer, to) = transition(&mut *conn, org_id, id, event, expected_version).await?;
    set_status(&mut *conn, &offer, event, to, expected_version).await?;
    if event == OfferEvent::Send {
        schedule_expiry(&mut *conn, id, offer.expires_at).await?;
    }
    let action = match event {
        OfferEvent::Send => "sent",
        OfferEvent::Accept => "accepted",
        OfferEvent::Decline => "declined",
        OfferEvent::Withdraw => "withdrawn",
        OfferEvent::Counter => "countered",
        OfferEvent::Expire => "expired",
    };
    record(
        &mut *conn,
        offer.artist_id,
        id,
        action,
        Some(offer.status),
        Some(to),
        actor,
        serde_json::json!({"version": offer.current_version}),
    )
    .await?;
    load(conn, id, false).await
}

/// Counters with a new version of the deal.
pub async fn counter(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    id: Uuid,
    input: CounterIn,
    expected_version: Option<i32>,
) -> Result<Offer, DomainError> {
    let (offer, to) = transition(
        &mut *conn,
        org_id,
        id,
        OfferEvent::Counter,
        expected_version,
    )
    .await?;
    let expires_at = input.expires_at.unwrap_or(offer.expires_at);
    check_deal(&input.deal, offer.event_date, expires_at)?;
    let mut check = Check::new();
    let note = check.opt_text("note", input.note.as_deref(), 2000);
    check.finish()?;
    super::deal::check_references(&mut *conn, Some(&input.deal), None).await?;
    let author = offer.written_by.other();
    let number = offer.current_version + 1;
    let rows = sqlx::query!(
        "UPDATE offers SET status = $2, current_version = $3, written_by_side = $4, expires_at = $5,
                version = version + 1, updated_at = now()
          WHERE id = $1 AND status = $6 AND version = $7",
        id,
        to as OfferStatus,
        number,
        author as Party,
        expires_at,
        offer.status as OfferStatus,
        expected_version.unwrap_or(offer.version),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    changed_meanwhile(&mut *conn, id, OfferEvent::Counter, rows).await?;
    guarded(rows, expected_version)?;
    sqlx::query!(
        "INSERT INTO offer_versions (offer_id, number, deal, written_by_side, written_by, note) VALUES ($1, $2, $3, $4, $5, $6)",
        id,
        number,
        Json(input.deal.stored()) as _,
        author as Party,
        actor,
        note,
    )
    .execute(&mut *conn)
    .await?;
    record(
        &mut *conn,
        offer.artist_id,
        id,
        "countered",
        Some(offer.status),
        Some(to),
        actor,
        serde_json::json!({"version": number}),
    )
    .await?;
    schedule_expiry(&mut *conn, id, expires_at).await?;
    load(conn, id, false).await
}

/// Enqueues the offer's expiry for `expires_at`, in the caller's
/// transaction; one job per (offer, expiry), so a counter that keeps the
/// expiry adds none.
async fn schedule_expiry(
    conn: &mut PgConnection,
    id: Uuid,
    expires_at: DateTime<Utc>,
) -> Result<(), DomainError> {
    jobs::enqueue(
        conn,
        &OfferExpiry { offer_id: id },
        expiry_schedule(id, expires_at),
    )
    .await?;
    Ok(())
}

/// When an offer's expiry runs, keyed by (offer, expiry).
fn expiry_schedule(id: Uuid, expires_at: DateTime<Utc>) -> Schedule {
    Schedule::at(expires_at).dedupe(format!("{id}:{}", expires_at.timestamp()))
}

/// Expires the offer if it still waits for an answer and is due; true when
/// it did. Idempotent: a second run, or a run after an answer or a counter
/// with a later expiry, changes nothing. Whether the offer still waits is
/// `OfferStatus::apply`'s to say.
pub async fn expire_if_due(
    conn: &mut PgConnection,
    id: Uuid,
    actor: &str,
) -> Result<bool, DomainError> {
    let Some(offer) = sqlx::query!(
        r#"SELECT status AS "status: OfferStatus", artist_id, current_version, expires_at <= now() AS "due!"
             FROM offers WHERE id = $1 FOR UPDATE"#,
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    else {
        return Ok(false);
    };
    let Ok(to) = offer.status.apply(OfferEvent::Expire) else {
        return Ok(false);
    };
    if !offer.due {
        return Ok(false);
    }
    let rows = sqlx::query!(
        "UPDATE offers SET status = $2, version = version + 1, updated_at = now()
          WHERE id = $1 AND status = $3",
        id,
        to as OfferStatus,
        offer.status as OfferStatus,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    guarded(rows, None)?;
    record(
        conn,
        offer.artist_id,
        id,
        "expired",
        Some(offer.status),
        Some(to),
        actor,
        serde_json::json!({"version": offer.current_version}),
    )
    .await?;
    Ok(true)
}

/// Offers waiting for an answer past their expiry, most overdue first. The
/// states are written out so the partial index `offers_due_idx` serves the
/// query; a unit test holds them to the states `OfferEvent::Expire` leaves.
pub async fn overdue(conn: &mut PgConnection, limit: i64) -> Result<Vec<Uuid>, DomainError> {
    Ok(sqlx::query_scalar!(
        "SELECT id FROM offers WHERE status IN ('sent', 'countered') AND expires_at <= now() ORDER BY expires_at LIMIT $1",
        limit
    )
    .fetch_all(conn)
    .await?)
}

/// Every version of an offer, oldest first.
pub async fn versions(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
) -> Result<Vec<OfferVersion>, DomainError> {
    get_for(&mut *conn, org_id, id).await?;
    let rows = sqlx::query!(
        r#"SELECT number, deal AS "deal: Json<StoredDeal>", written_by_side AS "written_by_side: Party", note, created_at
             FROM offer_versions WHERE offer_id = $1 ORDER BY number"#,
        id
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| OfferVersion {
            number: r.number,
            deal: r.deal.0.into(),
            written_by: r.written_by_side,
            note: r.note,
            created_at: r.created_at,
        })
        .collect())
}

/// Offers the org is party to, newest first, in one query.
pub async fn list_for(
    conn: &mut PgConnection,
    org_id: Uuid,
    status: Option<OfferStatus>,
    page: &PageRequest<Uuid>,
) -> Result<Page<Offer>, DomainError> {
    // Unnamed: a cached statement's generic plan skips the optional filters' indexes.
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT o.id, o.artist_id, o.promoter_company_id, o.agency_company_id, o.booking_request_id, o.event_date,
                  o.venue AS "venue: Json<Venue>", o.allow_same_day, o.status AS "status: OfferStatus",
                  v.deal AS "deal: Json<StoredDeal>", o.current_version, o.written_by_side AS "written_by_side: Party",
                  o.expires_at, o.version, o.created_at, o.updated_at
             FROM offers o JOIN offer_versions v ON v.offer_id = o.id AND v.number = o.current_version
            WHERE EXISTS (SELECT 1 FROM org_companies oc
                           WHERE oc.org_id = $1 AND oc.company_id IN (o.agency_company_id, o.promoter_company_id))
              AND ($2::text IS NULL OR o.status = $2)
              AND ($3::uuid IS NULL OR o.id < $3)
            ORDER BY o.id DESC LIMIT $4"#,
        org_id,
        status.map(OfferStatus::as_str),
        page.after,
        page.fetch_limit(),
    )
    .fetch_all(Unnamed(conn))
    .await?;
    let offers = rows.into_iter().map(Offer::from).collect();
    Ok(Page::from_rows(offers, page.limit, |o| o.id))
}

/// The accepted offer a booking confirms, locked (for `bookings`).
pub async fn accepted_for_booking(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
) -> Result<Offer, DomainError> {
    get_for(&mut *conn, org_id, id).await?;
    let offer = load(conn, id, true).await?;
    if offer.status != OfferStatus::Accepted {
        return Err(DomainError::conflict(
            Code::OfferNotAccepted,
            "only an accepted offer is confirmed into a booking",
        ));
    }
    Ok(offer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offer_transitions_and_turns() {
        use OfferEvent::*;
        use OfferStatus::*;
        assert_eq!(Draft.apply(Send).unwrap(), Sent);
        assert_eq!(Sent.apply(Counter).unwrap(), Countered);
        assert_eq!(Countered.apply(Counter).unwrap(), Countered);
        assert_eq!(Countered.apply(Accept).unwrap(), Accepted);
        assert!(Draft.apply(Accept).is_err());
        for ended in [Accepted, Declined, Withdrawn, Expired] {
            for event in [Send, Counter, Accept, Decline, Withdraw, Expire] {
                assert!(ended.apply(event).is_err(), "{ended:?} {event:?}");
            }
        }
        crate::domain::machine::assert_exhaustive(
            &[Send, Counter, Accept, Decline, Withdraw, Expire],
            &[
                (Draft, Send, Sent),
                (Draft, Withdraw, Withdrawn),
                (Sent, Counter, Countered),
                (Sent, Accept, Accepted),
                (Sent, Decline, Declined),
                (Sent, Withdraw, Withdrawn),
                (Sent, Expire, Expired),
                (Countered, Counter, Countered),
                (Countered, Accept, Accepted),
                (Countered, Decline, Declined),
                (Countered, Withdraw, Withdrawn),
                (Countered, Expire, Expired),
            ],
        );
        // `overdue` and `offers_due_idx` name the states an offer expires from.
        assert_eq!(OfferStatus::sources(Expire), ["sent", "countered"]);
        assert!(may(Accept, Party::Promoter, Party::Agency));
        assert!(!may(Accept, Party::Agency, Party::Agency));
        assert!(may(Withdraw, Party::Agency, Party::Agency));
        assert!(!may(Send, Party::Promoter, Party::Agency));
    }
}

//! Finance handoff (SPEC 5.9): a booking confirmed, cancelled or completed
//! is told to Finance by a Standard Webhooks POST.
//!
//! The change writes the handoff (its `webhook-id`, derived from the booking
//! and the event, and the exact bytes to send) and enqueues its first
//! delivery in the same transaction. Each delivery attempt is its own job:
//! a failure records the attempt and enqueues the next one after the retry
//! schedule's delay (or the answer's `Retry-After`, when longer); after the
//! last one the handoff is `dead` and its job is dead-lettered with the
//! error. A 410 disables the Finance endpoint: handoffs wait as `paused`
//! until an operator enables it again.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use sqlx::types::Json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::Code;
use crate::DomainError;
use crate::domain::booking::deal::{Bonus, Deal, DealType, PercentageBasis, StoredDeal};
use crate::domain::booking::offers::Venue;
use crate::domain::guarded;
use crate::domain::machine::Machine;
use crate::jobs::FinanceHandoff;

/// What happened to the booking.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub enum HandoffEvent {
    #[serde(rename = "booking.confirmed")]
    Confirmed,
    #[serde(rename = "booking.cancelled")]
    Cancelled,
    #[serde(rename = "booking.completed")]
    Completed,
}

impl HandoffEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Confirmed => "booking.confirmed",
            Self::Cancelled => "booking.cancelled",
            Self::Completed => "booking.completed",
        }
    }
}

/// Where a handoff's delivery stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum HandoffStatus {
    /// Its next attempt is due or under way.
    Pending,
    Delivered,
    /// Every attempt failed; an operator may retry its job.
    Dead,
    /// Waiting for the endpoint to be enabled (or a URL configured).
    Paused,
}

/// What happens to a handoff's delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryEvent {
    /// An attempt got a 2xx.
    Succeeded,
    /// An attempt failed and the next one is scheduled.
    Failed,
    /// The last attempt failed.
    Exhausted,
    /// An attempt got 410: the endpoint is disabled.
    Gone,
    /// The endpoint is disabled or nowhere is configured: the handoff waits
    /// instead of being attempted.
    Park,
    /// The endpoint is usable again: a paused handoff gets its next attempt.
    Resume,
    /// A pending handoff whose job was lost gets its next attempt.
    Revive,
}

impl HandoffStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
            Self::Paused => "paused",
        }
    }

    /// The one transition function of a handoff. A delivered handoff is
    /// final. An attempt's outcome counts from any other state: a dead
    /// handoff is attempted again when an operator retries its job, and an
    /// attempt already under way when the handoff was parked still counts.
    /// Only a handoff waiting for an attempt is parked, only a parked one
    /// resumed, only a pending one revived.
    pub fn apply(self, event: DeliveryEvent) -> Result<Self, DomainError> {
        use DeliveryEvent::*;
        use HandoffStatus::*;
        match (self, event) {
            (Pending | Dead | Paused, Succeeded) => Ok(Delivered),
            (Pending | Dead | Paused, Failed) => Ok(Pending),
            (Pending | Dead | Paused, Exhausted) => Ok(Dead),
            (Pending | Dead | Paused, Gone) => Ok(Paused),
            (Pending | Dead, Park) => Ok(Paused),
            (Paused, Resume) => Ok(Pending),
            (Pending, Revive) => Ok(Pending),
            (from, _) => Err(DomainError::conflict(
                Code::InvalidTransition,
                format!(
                    "the handoff is {} and cannot change that way",
                    from.as_str()
                ),
            )),
        }
    }
}

impl Machine for HandoffStatus {
    type Event = DeliveryEvent;
    const ALL: &'static [Self] = &[Self::Pending, Self::Delivered, Self::Dead, Self::Paused];
    fn name(self) -> &'static str {
        self.as_str()
    }
    fn step(self, event: DeliveryEvent) -> Result<Self, DomainError> {
        self.apply(event)
    }
}

/// The message Finance receives: `{"type", "timestamp", "data"}`, as the
/// Standard Webhooks specification recommends.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct FinanceBookingEvent {
    #[serde(rename = "type")]
    pub event: HandoffEvent,
    /// When the booking changed.
    pub timestamp: DateTime<Utc>,
    pub data: FinanceBookingTerms,
}

/// What was agreed, as Finance needs it. Money is integer minor units of
/// `deal.currency`; percentages are basis points.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct FinanceBookingTerms {
    pub booking_id: Uuid,
    pub offer_id: Uuid,
    pub status: String,
    pub cancel_reason: Option<String>,
    pub artist: FinanceParty,
    pub agency: FinanceParty,
    pub promoter: FinanceParty,
    pub event_date: NaiveDate,
    pub venue: FinanceVenue,
    pub deal: FinanceDeal,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct FinanceParty {
    pub id: Uuid,
    pub name: String,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct FinanceVenue {
    pub name: Option<String>,
    pub city_id: Option<i64>,
    pub city: Option<String>,
    pub country_code: Option<String>,
    pub capacity: Option<i32>,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct FinanceDeal {
    #[serde(rename = "type")]
    pub kind: DealType,
    /// ISO 4217.
    pub currency: String,
    pub guarantee_amount: Option<i64>,
    /// The artist's percentage, basis points (8500 is 85%).
    pub percentage_bp: Option<i64>,
    pub percentage_basis: Option<PercentageBasis>,
    pub bonuses: Vec<Bonus>,
    /// Deposit, basis points of the guarantee.
    pub deposit_bp: Option<i64>,
    pub deposit_due_date: Option<NaiveDate>,
    pub ticket_price: Option<i64>,
    pub capacity: Option<i32>,
}

impl From<Deal> for FinanceDeal {
    fn from(d: Deal) -> Self {
        let (percentage_bp, deposit_bp) = (d.percentage_bp(), d.deposit_bp());
        FinanceDeal {
            kind: d.kind,
            currency: d.currency,
            guarantee_amount: d.guarantee_amount,
            percentage_bp,
            percentage_basis: d.percentage_basis,
            bonuses: d.bonuses,
            deposit_bp,
            deposit_due_date: d.deposit_due_date,
            ticket_price: d.ticket_price,
            capacity: d.capacity,
        }
    }
}

/// The webhook id of a booking's event: the same on every attempt and from
/// every worker.
pub fn webhook_id(booking_id: Uuid, event: HandoffEvent) -> String {
    format!("msg_{}_{}", booking_id.simple(), event.as_str())
}

/// Writes the handoff of `event` for a booking and enqueues its first
/// delivery, on the caller's transaction. A second call for the same
/// booking and event is a no-op.
pub async fn record(
    conn: &mut PgConnection,
    booking_id: Uuid,
    event: HandoffEvent,
) -> Result<(), DomainError> {
    let row = sqlx::query!(
        r#"SELECT b.id, b.offer_id, b.status, b.cancel_reason, b.event_date, b.updated_at,
                  b.deal AS "deal: Json<StoredDeal>", o.venue AS "venue: Json<Venue>",
                  a.id AS artist_id, a.name AS artist_name,
                  ag.id AS agency_id, ag.name AS agency_name,
                  pc.id AS promoter_id, pc.name AS promoter_name,
                  ci.name AS "city?", ci.country_code::text AS "country_code?"
             FROM bookings b
             JOIN offers o ON o.id = b.offer_id
             JOIN artists a ON a.id = b.artist_id
             JOIN companies ag ON ag.id = b.agency_company_id
             JOIN companies pc ON pc.id = b.promoter_company_id
             LEFT JOIN cities ci ON ci.id = o.venue_city_id
            WHERE b.id = $1"#,
        booking_id
    )
    .fetch_one(&mut *conn)
    .await?;
    let venue = row.venue.0;
    let message = FinanceBookingEvent {
        event,
        timestamp: row.updated_at,
        data: FinanceBookingTerms {
            booking_id: row.id,
            offer_id: row.offer_id,
            status: row.status,
            cancel_reason: row.cancel_reason,
            artist: FinanceParty {
                id: row.artist_id,
                name: row.artist_name,
            },
            agency: FinanceParty {
                id: row.agency_id,
                name: row.agency_name,
            },
            promoter: FinanceParty {
                id: row.promoter_id,
                name: row.promoter_name,
            },
            event_date: row.event_date,
            venue: FinanceVenue {
                name: venue.name,
                city_id: venue.city_id,
                city: row.city,
                country_code: row.country_code,
                capacity: venue.capacity,
            },
            deal: Deal::from(row.deal.0).into(),
        },
    };
    let payload = serde_json::to_vec(&message).map_err(|e| DomainError::Internal(e.into()))?;
    let id = sqlx::query_scalar!(
        "INSERT INTO finance_handoffs (id, booking_id, event, webhook_id, payload)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (booking_id, event) DO NOTHING
         RETURNING id",
        Uuid::now_v7(),
        booking_id,
        event.as_str(),
        webhook_id(booking_id, event),
        payload,
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = id {
        FinanceHandoff::enqueue_attempt(conn, id, 1, None).await?;
    }
    Ok(())
}

/// A handoff as its delivery job reads it.
#[derive(Debug)]
pub struct Delivery {
    pub id: Uuid,
    pub webhook_id: String,
    pub payload: Vec<u8>,
    pub status: HandoffStatus,
    pub attempts: i32,
    pub endpoint_disabled: bool,
    /// An earlier handoff of the same booking is still on its way (pending
    /// or paused): Finance hears of a booking's changes in order, so this
    /// one waits.
    pub earlier_in_flight: bool,
}

impl Delivery {
    /// Whether the job of attempt `job_attempt` (from 1) has anything to
    /// do: not for a delivered handoff, nor for a stale attempt (a later
    /// one already ran). A dead handoff runs again only when an operator
    /// retries its job, whatever the attempt.
    pub fn is_due(&self, job_attempt: i32) -> bool {
        match self.status {
            HandoffStatus::Delivered => false,
            HandoffStatus::Dead => true,
            HandoffStatus::Pending | HandoffStatus::Paused => self.attempts < job_attempt,
        }
    }
}

/// A handoff as its delivery job needs it, in one statement: the message,
/// where its delivery stands, the endpoint's state and whether an earlier
/// handoff of its booking is still on its way.
pub async fn delivery(conn: &mut PgConnection, id: Uuid) -> Result<Option<Delivery>, DomainError> {
    Ok(sqlx::query_as!(
        Delivery,
        r#"SELECT h.id, h.webhook_id, h.payload, h.status AS "status: HandoffStatus", h.attempts,
                  (SELECT disabled_at IS NOT NULL FROM finance_endpoint) AS "endpoint_disabled!",
                  EXISTS (SELECT 1 FROM finance_handoffs e
                           WHERE e.booking_id = h.booking_id AND e.id <> h.id
                             AND (e.created_at, e.id) < (h.created_at, h.id)
                             AND e.status IN ('pending', 'paused')) AS "earlier_in_flight!"
             FROM finance_handoffs h WHERE h.id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?)
}

/// One attempt's outcome, as recorded.
#[derive(Debug)]
pub struct AttemptRecord<'a> {
    pub attempt: i32,
    pub status_code: Option<i32>,
    pub duration_ms: i32,
    pub error: Option<&'a str>,
    pub excerpt: Option<&'a str>,
    pub worker: &'a str,
}

/// What follows an attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Try again at this time.
    Retry(DateTime<Utc>),
    /// The last attempt failed.
    Dead,
    /// Finance answered 410: the endpoint is disabled.
    Gone,
}

/// What follows attempt `attempt` (from 1) that got `status` (`None`: no
/// answer): 2xx is delivered, 410 disables the endpoint, anything else is
/// tried again after the schedule's next delay, or `Retry-After` when that
/// is longer, until the schedule is spent. Pure.
pub fn outcome(
    status: Option<u16>,
    retry_after: Option<std::time::Duration>,
    attempt: i32,
    schedule: &[std::time::Duration],
    now: DateTime<Utc>,
) -> Outcome {
    match status {
        Some(s) if (200..300).contains(&s) => return Outcome::Delivered,
        Some(410) => return Outcome::Gone,
        _ => {}
    }
    let next = usize::try_from(attempt).unwrap_or(usize::MAX);
    match schedule.get(next) {
        None => Outcome::Dead,
        Some(delay) => {
            // A Retry-After may stretch the wait, up to a day.
            let cap = std::time::Duration::from_secs(86_400).max(*delay);
            let wait = retry_after.map_or(*delay, |r| r.max(*delay)).min(cap);
            let wait = chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::days(1));
            Outcome::Retry(now.checked_add_signed(wait).unwrap_or(now))
        }
    }
}

impl Outcome {
    pub fn event(&self) -> DeliveryEvent {
        match self {
            Self::Delivered => DeliveryEvent::Succeeded,
            Self::Retry(_) => DeliveryEvent::Failed,
            Self::Dead => DeliveryEvent::Exhausted,
            Self::Gone => DeliveryEvent::Gone,
        }
    }
}

/// Times [`settle`] decides a transition again after a concurrent change.
const SETTLE_TRIES: usize = 3;

/// Records an attempt and its outcome atomically; for a retry the next
/// attempt's job is enqueued with it. An attempt that finishes after
/// another one delivered the handoff is recorded and changes nothing else.
///
/// The usual case is one statement: the attempt's row and the transition,
/// guarded on the state the attempt started from. A retry or a 410 has
/// more to write with it, and a change meanwhile (another attempt
/// delivered it, an operator paused it) is decided again from the state
/// now stored; both run in a transaction of their own (a savepoint inside
/// the caller's).
pub async fn settle(
    conn: &mut PgConnection,
    id: Uuid,
    seen: HandoffStatus,
    attempt: AttemptRecord<'_>,
    outcome: &Outcome,
) -> Result<(), DomainError> {
    if matches!(outcome, Outcome::Delivered | Outcome::Dead)
        && record_and_move(&mut *conn, id, seen, &attempt, outcome).await?
    {
        return Ok(());
    }
    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
    let mut from = seen;
    let mut settled = false;
    for _ in 0..SETTLE_TRIES {
        if record_and_move(&mut tx, id, from, &attempt, outcome).await? {
            settled = true;
            break;
        }
        from = sqlx::query_scalar!(
            r#"SELECT status AS "status: HandoffStatus" FROM finance_handoffs WHERE id = $1"#,
            id
        )
        .fetch_one(&mut *tx)
        .await?;
    }
    guarded(u64::from(settled), None)?;
    match outcome {
        Outcome::Retry(at) => {
            FinanceHandoff::enqueue_attempt(&mut tx, id, attempt.attempt + 1, Some(*at)).await?;
        }
        Outcome::Gone => {
            sqlx::query!(
                "UPDATE finance_endpoint SET disabled_at = COALESCE(disabled_at, now()),
                        disabled_reason = COALESCE(disabled_reason, $1)",
                format!("Finance answered 410 Gone (attempt {})", attempt.attempt),
            )
            .execute(&mut *tx)
            .await?;
        }
        _ => {}
    }
    tx.commit().await?;
    Ok(())
}

/// In one statement, records the attempt (once: a repeated attempt is
/// kept as first recorded) and moves the handoff from `from` by the
/// outcome's event, guarded on `from`. A delivered handoff stays as it is;
/// the attempt is still recorded. Returns whether the handoff is settled:
/// false when it was no longer `from`.
async fn record_and_move(
    conn: &mut PgConnection,
    id: Uuid,
    from: HandoffStatus,
    attempt: &AttemptRecord<'_>,
    outcome: &Outcome,
) -> Result<bool, DomainError> {
    let to = match from.apply(outcome.event()) {
        Ok(to) => Some(to),
        Err(_) if from == HandoffStatus::Delivered => None,
        Err(e) => return Err(e),
    };
    let next = match outcome {
        Outcome::Retry(at) => Some(*at),
        _ => None,
    };
    let moved = sqlx::query_scalar!(
        r#"WITH attempt AS (
               INSERT INTO finance_handoff_attempts
                      (handoff_id, attempt, status_code, duration_ms, error, response_excerpt, worker)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (handoff_id, attempt) DO NOTHING
           ),
           moved AS (
               UPDATE finance_handoffs
                  SET status = $8::text, attempts = GREATEST(attempts, $2), next_attempt_at = $9,
                      delivered_at = CASE WHEN $8::text = 'delivered' THEN now() ELSE delivered_at END,
                      last_error = $5, updated_at = now()
                WHERE id = $1 AND status = $10 AND $8::text IS NOT NULL
                RETURNING id
           )
           SELECT EXISTS (SELECT 1 FROM moved) AS "moved!""#,
        id,
        attempt.attempt,
        attempt.status_code,
        attempt.duration_ms,
        attempt.error,
        attempt.excerpt,
        attempt.worker,
        to as Option<HandoffStatus>,
        next,
        from as HandoffStatus,
    )
    .fetch_one(conn)
    .await?;
    Ok(moved || to.is_none())
}

/// Where an attempt of `delivery` goes: `url`, unless the handoff is
/// parked instead, because the endpoint is disabled or because nowhere is
/// configured (`url` is `None`); it then waits until the endpoint is
/// enabled or a URL is configured (maintenance resumes it).
pub async fn destination<'u, U>(
    conn: &mut PgConnection,
    delivery: &Delivery,
    url: Option<&'u U>,
) -> Result<Option<&'u U>, DomainError> {
    if delivery.endpoint_disabled && pause(&mut *conn, delivery.id, false).await? {
        return Ok(None);
    }
    if url.is_none() {
        tracing::info!(handoff = %delivery.id, "FINANCE_BASE_URL is not set; the handoff is paused");
        pause(conn, delivery.id, true).await?;
    }
    Ok(url)
}

/// Parks a handoff (pending, or dead and retried by an operator) while
/// the endpoint is disabled; with `always`, because nowhere is configured.
/// Returns whether it was parked: the endpoint's row is read under a share
/// lock, so an enable that commits meanwhile is seen, and the caller then
/// delivers instead. A handoff the machine does not let park (already
/// paused, or delivered meanwhile) is left as it is.
async fn pause(conn: &mut PgConnection, id: Uuid, always: bool) -> Result<bool, DomainError> {
    let park = HandoffStatus::set_transition(DeliveryEvent::Park)?;
    let rows = sqlx::query!(
        "UPDATE finance_handoffs SET status = $3, updated_at = now()
          WHERE id = $1 AND status = ANY($4)
            AND ($2 OR EXISTS (SELECT 1 FROM finance_endpoint WHERE disabled_at IS NOT NULL FOR SHARE))",
        id,
        always,
        park.to as HandoffStatus,
        &park.from as &[&str],
    )
    .execute(conn)
    .await?
    .rows_affected();
    Ok(rows == 1)
}

/// Handoffs no job will move: pending past their due time with no live
/// job (an attempt's job died of a database error before it could record
/// itself), and, when a Finance URL is configured and the endpoint is
/// enabled, paused ones. The maintenance job enqueues their next attempt.
///
/// Safe to run concurrently: rows are locked (`SKIP LOCKED`) and touched,
/// so a run that meets a row another run has just resumed re-checks it,
/// finds it fresh, and leaves it.
pub async fn stranded(
    conn: &mut PgConnection,
    url_configured: bool,
    limit: i64,
) -> Result<Vec<(Uuid, i32)>, DomainError> {
    let rows = sqlx::query!(
        r#"SELECT h.id, h.attempts, h.status AS "status: HandoffStatus" FROM finance_handoffs h
            WHERE (h.status = 'pending' AND COALESCE(h.next_attempt_at, h.updated_at) < now() - interval '2 minutes')
               OR (h.status = 'paused' AND $1 AND (SELECT disabled_at IS NULL FROM finance_endpoint))
            ORDER BY h.created_at
            LIMIT $2
              FOR UPDATE OF h SKIP LOCKED"#,
        url_configured,
        limit,
    )
    .fetch_all(&mut *conn)
    .await?;
    // A handoff a live job will still move is not stranded.
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let moving = crate::jobs::queue::in_flight_for::<FinanceHandoff>(&mut *conn, &ids).await?;
    let rows: Vec<_> = rows
        .into_iter()
        .filter(|r| !moving.contains(&r.id))
        .collect();
    let mut found = Vec::with_capacity(rows.len());
    for r in rows {
        let event = match r.status {
            HandoffStatus::Paused => DeliveryEvent::Resume,
            _ => DeliveryEvent::Revive,
        };
        let to = r.status.apply(event)?;
        let rows = sqlx::query!(
            "UPDATE finance_handoffs SET status = $2, next_attempt_at = NULL, updated_at = now()
              WHERE id = $1 AND status = $3",
            r.id,
            to as HandoffStatus,
            r.status as HandoffStatus,
        )
        .execute(&mut *conn)
        .await?
        .rows_affected();
        guarded(rows, None)?;
        FinanceHandoff::enqueue_resumed(&mut *conn, r.id, r.attempts + 1).await?;
        found.push((r.id, r.attempts + 1));
    }
    Ok(found)
}

/// Whether the Finance endpoint is disabled, since when and why.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct FinanceEndpoint {
    pub disabled_at: Option<DateTime<Utc>>,
    pub disabled_reason: Option<String>,
    /// Handoffs waiting for the endpoint.
    pub paused: i64,
}

pub async fn endpoint(conn: &mut PgConnection) -> Result<FinanceEndpoint, DomainError> {
    Ok(sqlx::query_as!(
        FinanceEndpoint,
        r#"SELECT e.disabled_at, e.disabled_reason,
                  (SELECT count(*) FROM finance_handoffs WHERE status = 'paused') AS "paused!"
             FROM finance_endpoint e"#
    )
    .fetch_one(conn)
    .await?)
}

/// An operator enables the endpoint again: every paused handoff gets its
/// next attempt now.
pub async fn enable_endpoint(conn: &mut PgConnection) -> Result<FinanceEndpoint, DomainError> {
    sqlx::query!("UPDATE finance_endpoint SET disabled_at = NULL, disabled_reason = NULL")
        .execute(&mut *conn)
        .await?;
    let resume = HandoffStatus::set_transition(DeliveryEvent::Resume)?;
    let resumed = sqlx::query!(
        "UPDATE finance_handoffs SET status = $1, updated_at = now()
          WHERE status = ANY($2) RETURNING id, attempts",
        resume.to as HandoffStatus,
        &resume.from as &[&str],
    )
    .fetch_all(&mut *conn)
    .await?;
    for h in resumed {
        FinanceHandoff::enqueue_resumed(&mut *conn, h.id, h.attempts + 1).await?;
    }
    endpoint(conn).await
}

/// One delivery attempt, as the parties see it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct HandoffAttempt {
    pub attempt: i32,
    pub at: DateTime<Utc>,
    /// The HTTP status Finance answered; `null` when it did not answer.
    pub status_code: Option<i32>,
    pub duration_ms: i32,
    pub error: Option<String>,
    pub response_excerpt: Option<String>,
}

/// A handoff with its attempts.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Handoff {
    pub id: Uuid,
    pub event: HandoffEvent,
    pub webhook_id: String,
    /// `pending`, `delivered`, `dead` (every attempt failed) or `paused`
    /// (the endpoint is disabled).
    pub status: HandoffStatus,
    pub attempts: Vec<HandoffAttempt>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// Every handoff of a booking the org is party to (404 otherwise).
pub async fn list_for(
    conn: &mut PgConnection,
    org_id: Uuid,
    booking_id: Uuid,
) -> Result<Vec<Handoff>, DomainError> {
    crate::domain::booking::bookings::get_for(&mut *conn, org_id, booking_id).await?;
    let rows = sqlx::query!(
        r#"SELECT h.id, h.event, h.webhook_id, h.status AS "status: HandoffStatus", h.next_attempt_at, h.delivered_at, h.created_at,
                  COALESCE(jsonb_agg(jsonb_build_object(
                      'attempt', a.attempt, 'at', a.at, 'status_code', a.status_code,
                      'duration_ms', a.duration_ms, 'error', a.error, 'response_excerpt', a.response_excerpt)
                      ORDER BY a.attempt) FILTER (WHERE a.attempt IS NOT NULL), '[]') AS "attempts!"
             FROM finance_handoffs h
             LEFT JOIN finance_handoff_attempts a ON a.handoff_id = h.id
            WHERE h.booking_id = $1
            GROUP BY h.id
            ORDER BY h.created_at, h.id"#,
        booking_id
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            let event = match r.event.as_str() {
                "booking.cancelled" => HandoffEvent::Cancelled,
                "booking.completed" => HandoffEvent::Completed,
                _ => HandoffEvent::Confirmed,
            };
            let attempts = attempts_from(r.attempts)?;
            Ok(Handoff {
                id: r.id,
                event,
                webhook_id: r.webhook_id,
                status: r.status,
                attempts,
                next_attempt_at: r.next_attempt_at,
                delivered_at: r.delivered_at,
                created_at: r.created_at,
            })
        })
        .collect()
}

fn attempts_from(value: serde_json::Value) -> Result<Vec<HandoffAttempt>, DomainError> {
    #[derive(serde::Deserialize)]
    struct Raw {
        attempt: i32,
        at: DateTime<Utc>,
        status_code: Option<i32>,
        duration_ms: i32,
        error: Option<String>,
        response_excerpt: Option<String>,
    }
    let raw: Vec<Raw> =
        serde_json::from_value(value).map_err(|e| DomainError::Internal(e.into()))?;
    Ok(raw
        .into_iter()
        .map(|r| HandoffAttempt {
            attempt: r.attempt,
            at: r.at,
            status_code: r.status_code,
            duration_ms: r.duration_ms,
            error: r.error,
            response_excerpt: r.response_excerpt,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn schedule() -> Vec<Duration> {
        [0, 5, 300].map(Duration::from_secs).to_vec()
    }

    #[test]
    fn success_gone_retry_and_dead() {
        let now = Utc::now();
        let s = schedule();
        assert_eq!(outcome(Some(200), None, 1, &s, now), Outcome::Delivered);
        assert_eq!(outcome(Some(204), None, 3, &s, now), Outcome::Delivered);
        assert_eq!(outcome(Some(410), None, 1, &s, now), Outcome::Gone);
        // Attempt 1 failed: attempt 2 after the second delay.
        assert_eq!(
            outcome(Some(503), None, 1, &s, now),
            Outcome::Retry(now + chrono::Duration::seconds(5))
        );
        assert_eq!(
            outcome(None, None, 2, &s, now),
            Outcome::Retry(now + chrono::Duration::seconds(300))
        );
        // A redirect or a 4xx is no success either.
        assert!(matches!(
            outcome(Some(302), None, 1, &s, now),
            Outcome::Retry(_)
        ));
        assert_eq!(outcome(Some(500), None, 3, &s, now), Outcome::Dead);
    }

    #[test]
    fn retry_after_is_capped_at_a_day() {
        let now = Utc::now();
        assert_eq!(
            outcome(
                Some(503),
                Some(Duration::from_secs(10_000_000_000_000)),
                1,
                &schedule(),
                now
            ),
            Outcome::Retry(now + chrono::Duration::days(1))
        );
    }

    #[test]
    fn retry_after_waits_longer_never_shorter() {
        let now = Utc::now();
        let s = schedule();
        assert_eq!(
            outcome(Some(429), Some(Duration::from_secs(60)), 1, &s, now),
            Outcome::Retry(now + chrono::Duration::seconds(60))
        );
        assert_eq!(
            outcome(Some(503), Some(Duration::from_secs(1)), 2, &s, now),
            Outcome::Retry(now + chrono::Duration::seconds(300))
        );
    }

    #[test]
    fn handoff_transitions() {
        use DeliveryEvent::*;
        use HandoffStatus::*;
        let mut allowed = Vec::new();
        for from in [Pending, Dead, Paused] {
            allowed.push((from, Succeeded, Delivered));
            allowed.push((from, Failed, Pending));
            allowed.push((from, Exhausted, Dead));
            allowed.push((from, Gone, Paused));
        }
        allowed.extend([
            (Pending, Park, Paused),
            (Dead, Park, Paused),
            (Paused, Resume, Pending),
            (Pending, Revive, Pending),
        ]);
        crate::domain::machine::assert_exhaustive(
            &[Succeeded, Failed, Exhausted, Gone, Park, Resume, Revive],
            &allowed,
        );
        // The set-based updates: park and resume.
        assert_eq!(
            HandoffStatus::set_transition(Park).unwrap().from,
            ["pending", "dead"]
        );
        assert_eq!(HandoffStatus::set_transition(Resume).unwrap().to, Pending);
    }

    #[test]
    fn which_jobs_attempt() {
        let at = |status, attempts| Delivery {
            id: Uuid::nil(),
            webhook_id: String::new(),
            payload: Vec::new(),
            status,
            attempts,
            endpoint_disabled: false,
            earlier_in_flight: false,
        };
        assert!(at(HandoffStatus::Pending, 0).is_due(1));
        assert!(!at(HandoffStatus::Pending, 1).is_due(1));
        assert!(at(HandoffStatus::Paused, 2).is_due(3));
        assert!(!at(HandoffStatus::Paused, 3).is_due(3));
        assert!(at(HandoffStatus::Dead, 8).is_due(8));
        assert!(!at(HandoffStatus::Delivered, 1).is_due(5));
        for event in [Outcome::Delivered, Outcome::Dead, Outcome::Gone] {
            assert!(HandoffStatus::Delivered.apply(event.event()).is_err());
        }
    }

    #[test]
    fn webhook_ids_are_stable_per_booking_and_event() {
        let booking = Uuid::now_v7();
        assert_eq!(
            webhook_id(booking, HandoffEvent::Confirmed),
            webhook_id(booking, HandoffEvent::Confirmed)
        );
        assert_ne!(
            webhook_id(booking, HandoffEvent::Confirmed),
            webhook_id(booking, HandoffEvent::Cancelled)
        );
    }
}

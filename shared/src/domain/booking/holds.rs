//! Holds on an artist's date.
//!
//! Rules: the representing agency (an org owning a company with a booking
//! roster link for the artist) places and releases holds; the promoter sees
//! its own; everyone else gets 404. A new hold takes the next free priority
//! (1, 2, 3 ...); at most one live hold per (artist, date, priority), a
//! unique index. A hold backing an offer is on that offer's artist, date
//! and promoter. Every hold expires; its `hold_expiry` job is enqueued in the
//! transaction that places it, scheduled for `expires_at`, and a sweep
//! backs it up. When a hold is released or expires, the holds below it move
//! up in order. Placing and promoting for one (artist, date) is serialised
//! by a transaction-scoped advisory lock.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::activity::{self, Change};
use super::{lock_artist_date, try_lock_artist_date};
use crate::Code;
use crate::DomainError;
use crate::access::{self, BookingAsk, Parties, Party};
use crate::domain::changes::{self, Marks};
use crate::domain::{guarded, precondition};
use crate::jobs::{self, HoldExpiry, Schedule};
use crate::pagination::{Page, PageRequest};
use crate::reference::Refs;
use crate::unnamed::Unnamed;
use crate::validate::Check;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum HoldStatus {
    Active,
    Challenged,
    Released,
    Expired,
    Converted,
}

/// What happens to a hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldEvent {
    Release,
    Expire,
    Challenge,
    /// The challenged hold confirmed in time.
    AnswerChallenge,
    Convert,
}

impl HoldStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Challenged => "challenged",
            Self::Released => "released",
            Self::Expired => "expired",
            Self::Converted => "converted",
        }
    }

    pub fn is_live(self) -> bool {
        matches!(self, Self::Active | Self::Challenged)
    }

    /// The one transition function of a hold.
    pub fn apply(self, event: HoldEvent) -> Result<Self, DomainError> {
        use HoldEvent::*;
        use HoldStatus::*;
        match (self, event) {
            (Active | Challenged, Release) => Ok(Released),
            (Active | Challenged, Expire) => Ok(Expired),
            (Active | Challenged, Convert) => Ok(Converted),
            (Active, Challenge) => Ok(Challenged),
            (Challenged, AnswerChallenge) => Ok(Active),
            (from, _) => Err(DomainError::conflict(
                Code::InvalidTransition,
                format!("the hold is {} and cannot change that way", from.as_str()),
            )),
        }
    }
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Hold {
    pub id: Uuid,
    pub artist_id: Uuid,
    pub date: NaiveDate,
    pub agency_company_id: Uuid,
    pub promoter_company_id: Uuid,
    pub offer_id: Option<Uuid>,
    /// 1 is the first hold; lower holds move up as higher ones end.
    pub priority: i32,
    pub status: HoldStatus,
    pub expires_at: DateTime<Utc>,
    pub note: Option<String>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldIn {
    pub artist_id: Uuid,
    pub date: NaiveDate,
    pub promoter_company_id: Uuid,
    #[serde(default)]
    pub offer_id: Option<Uuid>,
    /// When the hold lapses unless confirmed: in the future, and no later
    /// than the end of the held day.
    pub expires_at: DateTime<Utc>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Default)]
pub struct HoldFilter {
    pub artist_id: Option<Uuid>,
    pub date: Option<NaiveDate>,
    pub status: Option<HoldStatus>,
}

const SUBJECT: &str = "hold";

async fn load(conn: &mut PgConnection, id: Uuid) -> Result<Hold, DomainError> {
    sqlx::query_as!(
        Hold,
        r#"SELECT id, artist_id, hold_date AS date, agency_company_id, promoter_company_id, offer_id, priority,
                  status AS "status: HoldStatus", expires_at, note, version, created_at, updated_at
             FROM holds WHERE id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound)
}

/// A hold the org is party to (404 otherwise).
pub async fn get_for(conn: &mut PgConnection, org_id: Uuid, id: Uuid) -> Result<Hold, DomainError> {
    Ok(get_with_party(conn, org_id, id).await?.0)
}

/// A hold the org is party to, with its side (404 otherwise).
async fn get_with_party(
    conn: &mut PgConnection,
    org_id: Uuid,
    id: Uuid,
) -> Result<(Hold, Party), DomainError> {
    let hold = load(&mut *conn, id).await?;
    let party = access::require_party(&mut *conn, org_id, hold.parties()).await?;
    Ok((hold, party))
}

impl Hold {
    pub fn parties(&self) -> Parties {
        Parties {
            agency: self.agency_company_id,
            promoter: self.promoter_company_id,
        }
    }
}

/// Places a hold with the next free priority and schedules its expiry.
pub async fn place(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    input: HoldIn,
) -> Result<Hold, DomainError> {
    let now = Utc::now();
    let mut check = Check::new();
    let note = check.opt_text("note", input.note.as_deref(), 2000);
    if input.date < now.date_naive() {
        check.add("date", "must not be in the past");
    }
    let day_end = input
        .date
        .succ_opt()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .unwrap_or(now);
    if input.expires_at <= now {
        check.add("expires_at", "must be in the future");
    } else if input.expires_at > day_end + Duration::hours(12) {
        check.add("expires_at", "must not run past the held day");
    }
    check.finish()?;
    let refs = Refs::new();
    let sides = access::booking_sides(
        &mut *conn,
        BookingAsk {
            org_id: Some(org_id),
            artist_id: input.artist_id,
            city_id: None,
            promoter_company_id: Some(input.promoter_company_id),
            refs: &refs,
        },
    )
    .await?;
    if !sides.artist_known {
        return Err(DomainError::invalid("artist_id", "is not a known artist"));
    }
    let agency = sides
        .own_agency
        .ok_or_else(|| DomainError::Forbidden("holds are placed by the artist's booking agency"))?;
    sides.promoter_company("promoter_company_id")?;
    if let Some(offer_id) = input.offer_id {
        let offer = match super::offers::get_for(&mut *conn, org_id, offer_id).await {
            Ok((offer, _)) => offer,
            Err(DomainError::NotFound) => {
                return Err(DomainError::invalid("offer_id", "is not a known offer"));
            }
            Err(e) => return Err(e),
        };
        if offer.artist_id != input.artist_id
            || offer.event_date != input.date
            || offer.promoter_company_id != input.promoter_company_id
        {
            return Err(DomainError::invalid(
                "offer_id",
                "is an offer for another artist, date or promoter",
            ));
        }
    }
    let id = Uuid::now_v7();
    let marks = Marks::of_subject(
        input.artist_id,
        SUBJECT,
        &[agency, input.promoter_company_id],
    );
    // One statement: the priority (read under the date's lock, see
    // `kisum_next_hold_priority`), the hold, its activity entry and its
    // marks; the unique index on live priorities decides the rest.
    let placed = sqlx::query!(
        r#"WITH h AS (
               INSERT INTO holds (id, artist_id, hold_date, agency_company_id, promoter_company_id, offer_id, priority,
                                  status, expires_at, note, created_by)
               VALUES ($1, $2, $3, $4, $5, $6, kisum_next_hold_priority($2, $3), 'active', $7, $8, $9)
               RETURNING id, artist_id, hold_date, agency_company_id, promoter_company_id, offer_id, priority, status,
                         expires_at, note, version, created_at, updated_at
           ), entry AS (
               INSERT INTO booking_activity (id, artist_id, subject_type, subject_id, action, from_status, to_status, actor, details)
               SELECT $10, h.artist_id, 'hold', h.id, 'placed', NULL, 'active', $9,
                      $11::jsonb || jsonb_build_object('priority', h.priority)
                 FROM h
           )
           SELECT h.id AS "id!", h.artist_id AS "artist_id!", h.hold_date AS "date!", h.agency_company_id AS "agency_company_id!",
                  h.promoter_company_id AS "promoter_company_id!", h.offer_id, h.priority AS "priority!",
                  h.status AS "status!: HoldStatus", h.expires_at AS "expires_at!", h.note, h.version AS "version!",
                  h.created_at AS "created_at!", h.updated_at AS "updated_at!",
                  kisum_mark_read_models($12, $13) AS "fresh!"
             FROM h"#,
        id,
        input.artist_id,
        input.date,
        agency,
        input.promoter_company_id,
        input.offer_id,
        input.expires_at,
        note,
        actor,
        Uuid::now_v7(),
        serde_json::json!({"date": input.date, "expires_at": input.expires_at}),
        marks.models() as &[&str],
        marks.keys(),
    )
    .fetch_one(&mut *conn)
    .await?;
    let mut jobs = jobs::Batch::new();
    jobs.push(
        &HoldExpiry { hold_id: id },
        Schedule::at(input.expires_at).dedupe(format!("{id}:{}", input.expires_at.timestamp())),
    )?;
    changes::follow_ups(&mut jobs, &placed.fresh, None)?;
    jobs.enqueue(conn).await?;
    Ok(Hold {
        id: placed.id,
        artist_id: placed.artist_id,
        date: placed.date,
        agency_company_id: placed.agency_company_id,
        promoter_company_id: placed.promoter_company_id,
        offer_id: placed.offer_id,
        priority: placed.priority,
        status: placed.status,
        expires_at: placed.expires_at,
        note: placed.note,
        version: placed.version,
        created_at: placed.created_at,
        updated_at: placed.updated_at,
    })
}

/// Holds the org is party to, newest first.
pub async fn list_for(
    conn: &mut PgConnection,
    org_id: Uuid,
    filter: &HoldFilter,
    page: &PageRequest<Uuid>,
) -> Result<Page<Hold>, DomainError> {
    // Unnamed: a cached statement's generic plan skips the optional filters' indexes.
    let rows = sqlx::query_as!(
        Hold,
        r#"SELECT h.id, h.artist_id, h.hold_date AS date, h.agency_company_id, h.promoter_company_id, h.offer_id, h.priority,
                  h.status AS "status: HoldStatus", h.expires_at, h.note, h.version, h.created_at, h.updated_at
             FROM holds h
            WHERE EXISTS (SELECT 1 FROM org_companies oc
                           WHERE oc.org_id = $1 AND oc.company_id IN (h.agency_company_id, h.promoter_company_id))
              AND ($2::uuid IS NULL OR h.artist_id = $2)
              AND ($3::date IS NULL OR h.hold_date = $3)
              AND ($4::text IS NULL OR h.status = $4)
              AND ($5::uuid IS NULL OR h.id < $5)
            ORDER BY h.id DESC LIMIT $6"#,
        org_id,
        filter.artist_id,
        filter.date,
        filter.status.map(HoldStatus::as_str),
        page.after,
        page.fetch_limit(),
    )
    .fetch_all(Unnamed(conn))
    .await?;
    Ok(Page::from_rows(rows, page.limit, |h| h.id))
}

/// Ends a live hold (`Release` or `Expire`) and moves the holds below it
/// up. `if_match` is the version the caller named, if any.
async fn end(
    conn: &mut PgConnection,
    hold: &Hold,
    event: HoldEvent,
    actor: &str,
    if_match: Option<i32>,
) -> Result<(), DomainError> {
    let to = hold.status.apply(event)?;
    let rows = sqlx::query!(
        "UPDATE holds SET status = $2, version = version + 1, updated_at = now(), ended_at = now()
          WHERE id = $1 AND status = $3 AND version = $4",
        hold.id,
        to as HoldStatus,
        hold.status as HoldStatus,
        if_match.unwrap_or(hold.version),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    guarded(rows, if_match)?;
    activity::record(
        &mut *conn,
        Change {
            artist_id: hold.artist_id,
            subject_type: SUBJECT,
            subject_id: hold.id,
            action: if event == HoldEvent::Release {
                "released"
            } else {
                "expired"
            },
            from: Some(hold.status.as_str()),
            to: Some(to.as_str()),
            actor,
            details: serde_json::json!({"priority": hold.priority}),
        },
    )
    .await?;
    promote(conn, hold.artist_id, hold.date, hold.priority, actor).await
}

/// Moves live holds below `freed` up by one, in order (each step frees the
/// slot the next one takes, so the unique index holds throughout).
async fn promote(
    conn: &mut PgConnection,
    artist_id: Uuid,
    date: NaiveDate,
    freed: i32,
    actor: &str,
) -> Result<(), DomainError> {
    let below = sqlx::query!(
        "SELECT id, priority FROM holds
          WHERE artist_id = $1 AND hold_date = $2 AND status IN ('active', 'challenged') AND priority > $3
          ORDER BY priority",
        artist_id,
        date,
        freed,
    )
    .fetch_all(&mut *conn)
    .await?;
    for hold in below {
        sqlx::query!(
            "UPDATE holds SET priority = priority - 1, version = version + 1, updated_at = now() WHERE id = $1",
            hold.id
        )
        .execute(&mut *conn)
        .await?;
        activity::record(
            &mut *conn,
            Change {
                artist_id,
                subject_type: SUBJECT,
                subject_id: hold.id,
                action: "promoted",
                from: None,
                to: None,
                actor,
                details: serde_json::json!({"from_priority": hold.priority, "to_priority": hold.priority - 1}),
            },
        )
        .await?;
    }
    Ok(())
}

/// The agency releases a hold; `If-Match` version optional.
pub async fn release(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    id: Uuid,
    expected_version: Option<i32>,
) -> Result<Hold, DomainError> {
    let (hold, party) = get_with_party(&mut *conn, org_id, id).await?;
    if party != Party::Agency {
        return Err(DomainError::Forbidden(
            "holds are released by the artist's booking agency",
        ));
    }
    lock_artist_date(&mut *conn, hold.artist_id, hold.date).await?;
    let hold = load(&mut *conn, id).await?;
    precondition(expected_version, hold.version)?;
    end(
        &mut *conn,
        &hold,
        HoldEvent::Release,
        actor,
        expected_version,
    )
    .await?;
    load(conn, id).await
}

/// Expires the hold if it is live and due; a no-op otherwise (a job run
/// twice, or a hold released or extended meanwhile). Returns whether it
/// expired.
pub async fn expire_if_due(
    conn: &mut PgConnection,
    id: Uuid,
    actor: &str,
) -> Result<bool, DomainError> {
    let Ok(hold) = load(&mut *conn, id).await else {
        return Ok(false);
    };
    lock_artist_date(&mut *conn, hold.artist_id, hold.date).await?;
    let hold = load(&mut *conn, id).await?;
    if !hold.status.is_live() {
        return Ok(false);
    }
    let now = Utc::now();
    if hold.expires_at <= now {
        end(conn, &hold, HoldEvent::Expire, actor, None).await?;
        return Ok(true);
    }
    let deadline = sqlx::query_scalar!("SELECT challenge_deadline FROM holds WHERE id = $1", id)
        .fetch_one(&mut *conn)
        .await?;
    if hold.status == HoldStatus::Challenged && deadline.is_some_and(|d| d <= now) {
        // The first hold did not confirm in time: it loses its place.
        end(conn, &hold, HoldEvent::Release, actor, None).await?;
        return Ok(true);
    }
    Ok(false)
}

/// Expires up to `limit` due holds in the caller's transaction, skipping
/// any whose date another transaction is working on; returns how many
/// expired. Only try-locks are taken, so a transaction that already holds
/// a date's lock can call this without risking a deadlock. One
/// transaction for many holds is what makes a burst of due holds cheap:
/// the commit, not the work, dominates a single expiry.
pub async fn expire_due(
    conn: &mut PgConnection,
    limit: i64,
    actor: &str,
) -> Result<usize, DomainError> {
    let due = sqlx::query!(
        "SELECT id, artist_id, hold_date FROM holds
          WHERE (status IN ('active', 'challenged') AND expires_at <= now())
             OR (status = 'challenged' AND challenge_deadline <= now())
          ORDER BY LEAST(expires_at, challenge_deadline) LIMIT $1",
        limit
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut expired = 0;
    for hold in due {
        let locked = try_lock_artist_date(&mut *conn, hold.artist_id, hold.hold_date).await?;
        if locked && expire_if_due(&mut *conn, hold.id, actor).await? {
            expired += 1;
        }
    }
    Ok(expired)
}

/// A lower hold backed by an accepted offer challenges the first hold on
/// its date: the first hold gets `window` to confirm (its offer booked) or
/// loses its place. The deadline job is enqueued in this transaction.
pub async fn challenge(
    conn: &mut PgConnection,
    org_id: Uuid,
    actor: &str,
    id: Uuid,
    window: Duration,
) -> Result<Hold, DomainError> {
    let challenger = get_for(&mut *conn, org_id, id).await?;
    lock_artist_date(&mut *conn, challenger.artist_id, challenger.date).await?;
    let challenger = load(&mut *conn, id).await?;
    if !challenger.status.is_live() || challenger.priority == 1 {
        return Err(DomainError::conflict(
            Code::ChallengeNotPossible,
            "only a live hold below the first one can challenge",
        ));
    }
    let accepted = match challenger.offer_id {
        Some(offer) => sqlx::query_scalar!(
            r#"SELECT EXISTS (SELECT 1 FROM offers WHERE id = $1 AND status = 'accepted') AS "ok!""#,
            offer
        )
        .fetch_one(&mut *conn)
        .await?,
        None => false,
    };
    if !accepted {
        return Err(DomainError::conflict(
            Code::ChallengeNeedsAcceptedOffer,
            "a challenge is backed by an accepted offer on the challenging hold",
        ));
    }
    let first_id = sqlx::query_scalar!(
        "SELECT id FROM holds WHERE artist_id = $1 AND hold_date = $2 AND priority = 1 AND status IN ('active', 'challenged')",
        challenger.artist_id,
        challenger.date,
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| {
        DomainError::conflict(
            Code::ChallengeNotPossible,
            "no live first hold on this date to challenge",
        )
    })?;
    let first = load(&mut *conn, first_id).await?;
    let to = first.status.apply(HoldEvent::Challenge)?;
    let deadline = Utc::now() + window;
    let rows = sqlx::query!(
        "UPDATE holds SET status = $2, challenge_deadline = $3, challenged_by = $4, version = version + 1, updated_at = now()
          WHERE id = $1 AND status = $5 AND version = $6",
        first.id,
        to as HoldStatus,
        deadline,
        challenger.id,
        first.status as HoldStatus,
        first.version,
    )
    .execute(&mut *conn)
    .await?
    .rows_affected();
    guarded(rows, None)?;
    jobs::enqueue(
        &mut *conn,
        &HoldExpiry { hold_id: first.id },
        Schedule::at(deadline).dedupe(format!("{}:challenge:{}", first.id, deadline.timestamp())),
    )
    .await?;
    activity::record(
        &mut *conn,
        Change {
            artist_id: first.artist_id,
            subject_type: SUBJECT,
            subject_id: first.id,
            action: "challenged",
            from: Some(first.status.as_str()),
            to: Some(to.as_str()),
            actor,
            details: serde_json::json!({"challenged_by": challenger.id, "deadline": deadline}),
        },
    )
    .await?;
    load(conn, first.id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hold_transitions() {
        use HoldEvent::*;
        use HoldStatus::*;
        assert_eq!(Active.apply(Release).unwrap(), Released);
        assert_eq!(Active.apply(Expire).unwrap(), Expired);
        assert_eq!(Active.apply(Challenge).unwrap(), Challenged);
        assert_eq!(Challenged.apply(AnswerChallenge).unwrap(), Active);
        assert_eq!(Challenged.apply(Expire).unwrap(), Expired);
        assert!(Active.apply(AnswerChallenge).is_err());
        assert!(Challenged.apply(Challenge).is_err());
        for ended in [Released, Expired, Converted] {
            for event in [Release, Expire, Challenge, AnswerChallenge, Convert] {
                assert!(ended.apply(event).is_err(), "{ended:?} {event:?}");
            }
        }
    }
}

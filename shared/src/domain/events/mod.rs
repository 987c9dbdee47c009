//! The change feed (SPEC 5.10): what changed in the records an org is a
//! party to, oldest first, for frontends to follow without polling each
//! record.
//!
//! An event is derived from each entry of the booking activity trail
//! ([`crate::domain::booking::activity`]) by a trigger, in the transaction
//! of the state change, with the two companies of the record (its parties)
//! and its version after the change (migration `20261206003000`). An org sees an event when
//! it owns one of them ([`crate::access`]), and Finance's reports only with
//! `artist.finance.read`, the rule of the activity routes. `data` holds only
//! the status before and after.
//!
//! Events are served in the order of their [`Position`] (transaction id,
//! then sequence) and only below the oldest transaction still running, so
//! every event a page passes over has committed: a transaction that took
//! its id early and commits late is served after the cursor, never skipped
//! (the marketplace index reads `artist_search_changes` by transaction id
//! for the same reason). The cost: a long write transaction holds the feed
//! back until it ends.

pub mod hub;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{Code, DomainError};

/// Largest page of `GET /api/v1/events`.
pub const MAX_LIMIT: i64 = 500;

/// Where an event stands in the feed: its transaction id and its sequence
/// number. Its text form `<xid>-<seq>` is the event's `id`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub xid: u64,
    pub seq: i64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.xid, self.seq)
    }
}

impl FromStr for Position {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || DomainError::invalid("after", "is not an event id");
        let (xid, seq) = s.trim().split_once('-').ok_or_else(bad)?;
        let position = Self {
            xid: xid.parse().map_err(|_| bad())?,
            seq: seq.parse().map_err(|_| bad())?,
        };
        if position.seq < 0 {
            return Err(bad());
        }
        Ok(position)
    }
}

/// One change, as clients see it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Event {
    /// Opaque and stable; pass it back as `after` or `Last-Event-ID`.
    #[schema(example = "7423-118")]
    pub id: String,
    /// `<subject>.<action>`, e.g. `offer.countered`, `hold.placed`,
    /// `booking.confirmed`, `contract.signed`,
    /// `logistics_proposal.approved`, `finance.deposit_paid`.
    #[serde(rename = "type")]
    pub kind: String,
    pub at: DateTime<Utc>,
    /// `request`, `offer`, `hold`, `booking`, `contract`,
    /// `logistics_proposal` or `finance` (whose id is the booking's).
    pub subject_type: String,
    pub subject_id: Uuid,
    /// The subject's version after the change (its `ETag`); none for
    /// Finance's reports.
    pub version: Option<i32>,
    /// `{"from": status, "to": status}`, either null when the change has
    /// none (a hold promoted in the queue, the logistics sheet edited).
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// An event with what decides who sees it: its position and parties.
#[derive(Clone, Debug)]
pub struct Stored {
    pub position: Position,
    pub agency: Uuid,
    pub promoter: Uuid,
    pub event: Event,
}

/// Who reads the feed: the companies the org owns, and whether it reads
/// Finance's reports.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub companies: Vec<Uuid>,
    pub finance: bool,
}

impl Viewer {
    /// The viewer of `org_id` now, by [`crate::access::owned_companies`].
    pub async fn of(
        conn: &mut PgConnection,
        org_id: Uuid,
        finance: bool,
    ) -> Result<Self, DomainError> {
        let companies = crate::access::owned_companies(conn, org_id)
            .await?
            .into_iter()
            .map(|c| c.id)
            .collect();
        Ok(Self { companies, finance })
    }

    /// Whether the viewer may see `stored`: it owns one of its parties,
    /// and a Finance report needs `finance`. [`page`] filters by the same
    /// rule in SQL.
    pub fn sees(&self, stored: &Stored) -> bool {
        (self.companies.contains(&stored.agency) || self.companies.contains(&stored.promoter))
            && (self.finance || stored.event.subject_type != FINANCE)
    }
}

const FINANCE: &str = "finance";

struct Row {
    xid: String,
    seq: i64,
    at: DateTime<Utc>,
    kind: String,
    subject_type: String,
    subject_id: Uuid,
    version: Option<i32>,
    data: serde_json::Value,
    agency: Uuid,
    promoter: Uuid,
}

impl Row {
    fn stored(self) -> Result<Stored, DomainError> {
        let position = Position {
            xid: self
                .xid
                .parse()
                .map_err(|e| DomainError::Internal(anyhow::anyhow!("xid {}: {e}", self.xid)))?,
            seq: self.seq,
        };
        Ok(Stored {
            position,
            agency: self.agency,
            promoter: self.promoter,
            event: Event {
                id: position.to_string(),
                kind: self.kind,
                at: self.at,
                subject_type: self.subject_type,
                subject_id: self.subject_id,
                version: self.version,
                data: self.data,
            },
        })
    }
}

/// Answers 410 `events_expired` when events after `after` may have been
/// pruned: the client reloads its state and follows from the head.
async fn require_retained(conn: &mut PgConnection, after: Position) -> Result<(), DomainError> {
    let pruned = sqlx::query!(r#"SELECT xid::text AS "xid!", seq FROM org_events_pruned"#)
        .fetch_optional(conn)
        .await?;
    if let Some(p) = pruned {
        let pruned = Position {
            xid: p.xid.parse().unwrap_or(u64::MAX),
            seq: p.seq,
        };
        if after < pruned {
            return Err(DomainError::Gone {
                code: Code::EventsExpired,
                detail: "events after this id are past their retention; reload and follow from \
                         the newest event"
                    .into(),
            });
        }
    }
    Ok(())
}

/// The viewer's events after `after` (from the oldest kept when `None`),
/// oldest first, at most `limit`; 410 when events after `after` were
/// pruned.
pub async fn page(
    conn: &mut PgConnection,
    viewer: &Viewer,
    after: Option<Position>,
    limit: i64,
) -> Result<Vec<Event>, DomainError> {
    if let Some(after) = after {
        require_retained(&mut *conn, after).await?;
    }
    let after = after.unwrap_or_default();
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT e.xid::text AS "xid!", e.seq, e.at, e.type AS kind, e.subject_type, e.subject_id,
                  e.version, e.data, e.agency_company_id AS agency, e.promoter_company_id AS promoter
             FROM org_events e
            WHERE (e.xid, e.seq) > ($1::text::xid8, $2::bigint)
              AND e.xid < pg_snapshot_xmin(pg_current_snapshot())
              AND (e.agency_company_id = ANY ($3) OR e.promoter_company_id = ANY ($3))
              AND (e.subject_type <> 'finance' OR $4)
            ORDER BY e.xid, e.seq
            LIMIT $5"#,
        after.xid.to_string(),
        after.seq,
        &viewer.companies,
        viewer.finance,
        limit.clamp(1, MAX_LIMIT),
    )
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|r| r.stored().map(|s| s.event))
        .collect()
}

/// Every org's events after `after`, oldest first, at most `limit`: what
/// a process's [`hub::Hub`] reads once per wake-up for all its streams.
pub async fn since(
    conn: &mut PgConnection,
    after: Position,
    limit: i64,
) -> Result<Vec<Stored>, DomainError> {
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT e.xid::text AS "xid!", e.seq, e.at, e.type AS kind, e.subject_type, e.subject_id,
                  e.version, e.data, e.agency_company_id AS agency, e.promoter_company_id AS promoter
             FROM org_events e
            WHERE (e.xid, e.seq) > ($1::text::xid8, $2::bigint)
              AND e.xid < pg_snapshot_xmin(pg_current_snapshot())
            ORDER BY e.xid, e.seq
            LIMIT $3"#,
        after.xid.to_string(),
        after.seq,
        limit,
    )
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(Row::stored).collect()
}

/// The position of the newest event served now: a stream without a cursor
/// follows from here.
pub async fn head(conn: &mut PgConnection) -> Result<Position, DomainError> {
    let row = sqlx::query!(
        r#"SELECT xid::text AS "xid!", seq FROM org_events
            WHERE xid < pg_snapshot_xmin(pg_current_snapshot())
            ORDER BY xid DESC, seq DESC LIMIT 1"#
    )
    .fetch_optional(conn)
    .await?;
    Ok(match row {
        Some(r) => Position {
            xid: r
                .xid
                .parse()
                .map_err(|e| DomainError::Internal(anyhow::anyhow!("xid {}: {e}", r.xid)))?,
            seq: r.seq,
        },
        None => Position::default(),
    })
}

/// Deletes the events older than `retention` (and every event before the
/// newest of them, so what is kept is one unbroken tail), remembering the
/// newest position deleted so an older `after=` answers 410. The
/// maintenance job calls it.
pub async fn prune(
    conn: &mut PgConnection,
    retention: std::time::Duration,
    now: DateTime<Utc>,
) -> Result<u64, DomainError> {
    let cutoff = now
        - chrono::Duration::from_std(retention)
            .map_err(|e| DomainError::Internal(anyhow::anyhow!(e)))?;
    let deleted = sqlx::query_scalar!(
        r#"WITH cut AS (
               SELECT xid, seq FROM org_events WHERE at < $1 ORDER BY xid DESC, seq DESC LIMIT 1
           ),
           marked AS (
               INSERT INTO org_events_pruned (xid, seq) SELECT xid, seq FROM cut
               ON CONFLICT (one) DO UPDATE SET xid = excluded.xid, seq = excluded.seq
               WHERE (org_events_pruned.xid, org_events_pruned.seq) < (excluded.xid, excluded.seq)
           ),
           deleted AS (
               DELETE FROM org_events e USING cut WHERE (e.xid, e.seq) <= (cut.xid, cut.seq)
               RETURNING 1
           )
           SELECT count(*) AS "n!" FROM deleted"#,
        cutoff,
    )
    .fetch_one(conn)
    .await?;
    Ok(u64::try_from(deleted).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_read_back_and_order_by_transaction_then_sequence() {
        let p: Position = "7423-118".parse().unwrap();
        assert_eq!(
            p,
            Position {
                xid: 7423,
                seq: 118
            }
        );
        assert_eq!(p.to_string(), "7423-118");
        assert!(Position { xid: 7, seq: 900 } < Position { xid: 8, seq: 1 });
        for bad in ["", "7423", "x-1", "1-x", "1--2", "-1-2"] {
            assert!(bad.parse::<Position>().is_err(), "{bad}");
        }
    }

    fn stored(subject_type: &str, agency: Uuid, promoter: Uuid) -> Stored {
        Stored {
            position: Position::default(),
            agency,
            promoter,
            event: Event {
                id: "0-0".into(),
                kind: format!("{subject_type}.x"),
                at: Utc::now(),
                subject_type: subject_type.into(),
                subject_id: Uuid::nil(),
                version: None,
                data: serde_json::Value::Null,
            },
        }
    }

    #[test]
    fn an_org_sees_the_records_it_is_a_party_to_and_finance_only_with_the_permission() {
        let (a, p, other) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let promoter = Viewer {
            companies: vec![p],
            finance: false,
        };
        assert!(promoter.sees(&stored("offer", a, p)));
        assert!(!promoter.sees(&stored("finance", a, p)));
        let stranger = Viewer {
            companies: vec![other],
            finance: true,
        };
        assert!(!stranger.sees(&stored("offer", a, p)));
        let agency = Viewer {
            companies: vec![a],
            finance: true,
        };
        assert!(agency.sees(&stored("finance", a, p)));
    }
}

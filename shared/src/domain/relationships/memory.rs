//! Reading relationship memory and trust: the rows the worker keeps
//! (`relationships`, `trust_scores`), with the reading org's own notes
//! and flags beside them. Nothing here computes a score.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use super::trust::{self, TrustBand, TrustFactor};
use crate::DomainError;
use crate::pagination::{Page, PageRequest};
use crate::unnamed::Unnamed;

/// A company's trust as the worker last computed it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Trust {
    pub company_id: Uuid,
    /// 0-100; `null` below the minimum history (`band` says so).
    pub score: Option<i16>,
    pub band: TrustBand,
    /// Completed and cancelled bookings in the window.
    pub sample_size: i32,
    pub window_from: NaiveDate,
    pub window_to: NaiveDate,
    /// Every factor; the contributions sum to the score.
    pub factors: Vec<TrustFactor>,
    /// Up to four reason codes, the factor costing most first:
    /// `cancellations`, `low_ratings`, `late_payments`,
    /// `slow_contract_signing`.
    pub reasons: Vec<String>,
    pub formula_version: i16,
    /// When it was computed; `null` while the company has not been
    /// computed yet (then nothing else is known either).
    pub computed_at: Option<DateTime<Utc>>,
}

/// The stored trust of a company; 404 for a company that does not exist.
pub async fn trust(conn: &mut PgConnection, company_id: Uuid) -> Result<Trust, DomainError> {
    let row = sqlx::query!(
        r#"SELECT c.id, t.score, t.band AS "band?: TrustBand", t.sample_size AS "sample_size?",
                  t.window_from AS "window_from?", t.window_to AS "window_to?", t.factors AS "factors?",
                  t.reasons AS "reasons?", t.formula_version AS "formula_version?", t.computed_at AS "computed_at?"
             FROM companies c LEFT JOIN trust_scores t ON t.company_id = c.id
            WHERE c.id = $1"#,
        company_id
    )
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound)?;
    let today = Utc::now().date_naive();
    let factors = match row.factors {
        Some(f) => serde_json::from_value(f).map_err(|e| DomainError::Internal(e.into()))?,
        None => Vec::new(),
    };
    let reasons = match row.reasons {
        Some(r) => serde_json::from_value(r).map_err(|e| DomainError::Internal(e.into()))?,
        None => Vec::new(),
    };
    Ok(Trust {
        company_id: row.id,
        score: row.score,
        band: row.band.unwrap_or(TrustBand::InsufficientHistory),
        sample_size: row.sample_size.unwrap_or(0),
        window_from: row
            .window_from
            .unwrap_or(today - chrono::Duration::days(trust::WINDOW_DAYS)),
        window_to: row.window_to.unwrap_or(today),
        factors,
        reasons,
        formula_version: row.formula_version.unwrap_or(trust::FORMULA_VERSION),
        computed_at: row.computed_at,
    })
}

/// One of my companies' memory of a counterparty.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Relationship {
    /// My company.
    pub company_id: Uuid,
    pub company_name: String,
    pub counterparty_id: Uuid,
    pub counterparty_name: String,
    pub counterparty_kind: String,
    pub first_interaction_at: DateTime<Utc>,
    pub last_interaction_at: DateTime<Utc>,
    /// Offers between us, from either side.
    pub offers: i32,
    pub bookings_confirmed: i32,
    pub bookings_completed: i32,
    pub bookings_cancelled: i32,
    pub cancelled_by_us: i32,
    pub cancelled_by_them: i32,
    pub contracts_signed: i32,
    /// Average days from a contract sent to signed; `null` without one.
    pub avg_days_to_sign: Option<f64>,
    /// Deposits of bookings where they were the promoter, as Finance
    /// reported them.
    pub their_deposits_on_time: i32,
    pub their_deposits_late: i32,
    pub ratings_given: i32,
    pub ratings_given_avg: Option<f64>,
    pub ratings_received: i32,
    pub ratings_received_avg: Option<f64>,
    /// The counterparty's trust; `null` until computed.
    pub counterparty_trust_score: Option<i16>,
    pub counterparty_trust_band: Option<TrustBand>,
    /// My org's notes and flag kinds on the counterparty.
    pub notes: i64,
    pub flags: Vec<String>,
    /// When the worker last recomputed this row.
    pub refreshed_at: DateTime<Utc>,
}

/// How a relationship list is sorted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = RelationshipSort)]
pub enum Sort {
    /// Most recent interaction first (the default).
    #[default]
    LastInteraction,
    /// Most bookings (of any state) first.
    Bookings,
    /// Counterparty name, A to Z.
    Name,
}

impl Sort {
    fn as_str(self) -> &'static str {
        match self {
            Self::LastInteraction => "last_interaction",
            Self::Bookings => "bookings",
            Self::Name => "name",
        }
    }
}

/// The keyset of a relationship list: a text key, a number key, then the
/// pair; which keys are used depends on the sort.
pub type Cursor = (String, i64, Uuid, Uuid);

struct Row {
    company_id: Uuid,
    company_name: String,
    counterparty_id: Uuid,
    counterparty_name: String,
    counterparty_kind: String,
    first_interaction_at: DateTime<Utc>,
    last_interaction_at: DateTime<Utc>,
    offers: i32,
    bookings_confirmed: i32,
    bookings_completed: i32,
    bookings_cancelled: i32,
    cancelled_by_us: i32,
    cancelled_by_them: i32,
    contracts_signed: i32,
    avg_days_to_sign: Option<f64>,
    their_deposits_on_time: i32,
    their_deposits_late: i32,
    ratings_given: i32,
    ratings_given_avg: Option<f64>,
    ratings_received: i32,
    ratings_received_avg: Option<f64>,
    counterparty_trust_score: Option<i16>,
    counterparty_trust_band: Option<TrustBand>,
    notes: i64,
    flags: Vec<String>,
    refreshed_at: DateTime<Utc>,
    key_text: String,
    key_n: i64,
}

impl From<Row> for Relationship {
    fn from(r: Row) -> Self {
        Self {
            company_id: r.company_id,
            company_name: r.company_name,
            counterparty_id: r.counterparty_id,
            counterparty_name: r.counterparty_name,
            counterparty_kind: r.counterparty_kind,
            first_interaction_at: r.first_interaction_at,
            last_interaction_at: r.last_interaction_at,
            offers: r.offers,
            bookings_confirmed: r.bookings_confirmed,
            bookings_completed: r.bookings_completed,
            bookings_cancelled: r.bookings_cancelled,
            cancelled_by_us: r.cancelled_by_us,
            cancelled_by_them: r.cancelled_by_them,
            contracts_signed: r.contracts_signed,
            avg_days_to_sign: r.avg_days_to_sign,
            their_deposits_on_time: r.their_deposits_on_time,
            their_deposits_late: r.their_deposits_late,
            ratings_given: r.ratings_given,
            ratings_given_avg: r.ratings_given_avg,
            ratings_received: r.ratings_received,
            ratings_received_avg: r.ratings_received_avg,
            counterparty_trust_score: r.counterparty_trust_score,
            counterparty_trust_band: r.counterparty_trust_band,
            notes: r.notes,
            flags: r.flags,
            refreshed_at: r.refreshed_at,
        }
    }
}

/// Relationships of the org's companies (or of one of them), one page.
/// `counterparty` narrows to one counterparty (the detail view).
pub async fn list(
    conn: &mut PgConnection,
    org_id: Uuid,
    company_id: Option<Uuid>,
    counterparty: Option<Uuid>,
    sort: Sort,
    page: &PageRequest<Cursor>,
) -> Result<Page<Relationship>, DomainError> {
    let after = page.after.clone();
    // Unnamed: a cached statement's generic plan skips the optional filters' indexes.
    let rows = sqlx::query_as!(
        Row,
        r#"SELECT x.company_id AS "company_id!", x.company_name AS "company_name!",
                  x.counterparty_id AS "counterparty_id!", x.counterparty_name AS "counterparty_name!",
                  x.counterparty_kind AS "counterparty_kind!", x.first_interaction_at AS "first_interaction_at!",
                  x.last_interaction_at AS "last_interaction_at!", x.offers AS "offers!",
                  x.bookings_confirmed AS "bookings_confirmed!", x.bookings_completed AS "bookings_completed!",
                  x.bookings_cancelled AS "bookings_cancelled!", x.cancelled_by_us AS "cancelled_by_us!",
                  x.cancelled_by_them AS "cancelled_by_them!", x.contracts_signed AS "contracts_signed!",
                  x.avg_days_to_sign, x.their_deposits_on_time AS "their_deposits_on_time!",
                  x.their_deposits_late AS "their_deposits_late!", x.ratings_given AS "ratings_given!",
                  x.ratings_given_avg, x.ratings_received AS "ratings_received!", x.ratings_received_avg,
                  x.counterparty_trust_score, x.counterparty_trust_band AS "counterparty_trust_band: TrustBand",
                  x.notes AS "notes!", x.flags AS "flags!", x.refreshed_at AS "refreshed_at!",
                  x.key_text AS "key_text!", x.key_n AS "key_n!"
             FROM (
             SELECT r.company_id, mc.name AS company_name, r.counterparty_id, c.name AS counterparty_name,
                    c.kind AS counterparty_kind, r.first_interaction_at, r.last_interaction_at, r.offers,
                    r.bookings_confirmed, r.bookings_completed, r.bookings_cancelled, r.cancelled_by_us,
                    r.cancelled_by_them, r.contracts_signed, r.avg_days_to_sign::float8 AS avg_days_to_sign,
                    r.their_deposits_on_time, r.their_deposits_late, r.ratings_given,
                    r.ratings_given_avg::float8 AS ratings_given_avg, r.ratings_received,
                    r.ratings_received_avg::float8 AS ratings_received_avg,
                    t.score AS counterparty_trust_score, t.band AS counterparty_trust_band,
                    (SELECT count(*) FROM relationship_notes n
                      WHERE n.org_id = $1 AND n.counterparty_id = r.counterparty_id) AS notes,
                    ARRAY(SELECT DISTINCT f.kind FROM relationship_flags f
                           WHERE f.org_id = $1 AND f.counterparty_id = r.counterparty_id ORDER BY f.kind) AS flags,
                    r.refreshed_at,
                    CASE WHEN $4 = 'name' THEN c.search_name ELSE '' END AS key_text,
                    CASE $4 WHEN 'bookings' THEN -(r.bookings_confirmed + r.bookings_completed + r.bookings_cancelled)::bigint
                            WHEN 'last_interaction' THEN -(EXTRACT(EPOCH FROM r.last_interaction_at) * 1000000)::bigint
                            ELSE 0 END AS key_n
               FROM relationships r
               JOIN companies c ON c.id = r.counterparty_id
               JOIN companies mc ON mc.id = r.company_id
               LEFT JOIN trust_scores t ON t.company_id = r.counterparty_id
              WHERE r.company_id IN (SELECT company_id FROM org_companies WHERE org_id = $1)
                AND ($2::uuid IS NULL OR r.company_id = $2)
                AND ($3::uuid IS NULL OR r.counterparty_id = $3)
           ) x
           WHERE $5::text IS NULL OR (x.key_text, x.key_n, x.counterparty_id, x.company_id) > ($5, $6, $7, $8)
           ORDER BY x.key_text, x.key_n, x.counterparty_id, x.company_id
           LIMIT $9"#,
        org_id,
        company_id,
        counterparty,
        sort.as_str(),
        after.as_ref().map(|a| a.0.clone()),
        after.as_ref().map(|a| a.1),
        after.as_ref().map(|a| a.2),
        after.as_ref().map(|a| a.3),
        page.fetch_limit(),
    )
    .fetch_all(Unnamed(conn))
    .await?;
    Ok(Page::from_rows(rows, page.limit, |r| {
        (r.key_text.clone(), r.key_n, r.counterparty_id, r.company_id)
    })
    .map(Relationship::from))
}

/// A counterparty as my org knows it: its trust, each of my companies'
/// memory of it, and my org's notes and flags.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct RelationshipDetail {
    pub counterparty_id: Uuid,
    pub counterparty_name: String,
    pub counterparty_kind: String,
    pub trust: Trust,
    /// One row per company of my org that has dealt with it.
    pub relationships: Vec<Relationship>,
    pub notes: i64,
    pub flags: Vec<String>,
}

/// Most rows the detail shows (companies of one org).
const DETAIL_ROWS: i64 = 200;

pub async fn detail(
    conn: &mut PgConnection,
    org_id: Uuid,
    counterparty_id: Uuid,
) -> Result<RelationshipDetail, DomainError> {
    let trust = trust(&mut *conn, counterparty_id).await?;
    let company = sqlx::query!(
        r#"SELECT c.name, c.kind,
                  (SELECT count(*) FROM relationship_notes n WHERE n.org_id = $2 AND n.counterparty_id = c.id) AS "notes!",
                  ARRAY(SELECT DISTINCT f.kind FROM relationship_flags f
                         WHERE f.org_id = $2 AND f.counterparty_id = c.id ORDER BY f.kind) AS "flags!"
             FROM companies c WHERE c.id = $1"#,
        counterparty_id,
        org_id
    )
    .fetch_one(&mut *conn)
    .await?;
    let page = PageRequest {
        limit: DETAIL_ROWS,
        after: None,
    };
    let rows = list(
        conn,
        org_id,
        None,
        Some(counterparty_id),
        Sort::LastInteraction,
        &page,
    )
    .await?;
    Ok(RelationshipDetail {
        counterparty_id,
        counterparty_name: company.name,
        counterparty_kind: company.kind,
        trust,
        relationships: rows.items,
        notes: company.notes,
        flags: company.flags,
    })
}

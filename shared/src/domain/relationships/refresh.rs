//! Keeping trust and relationships current: writes mark companies dirty
//! in their transaction ([`crate::domain::changes::mark_trust`]); the `trust_score` job drains them
//! ([`drain`]) and recomputes both ([`refresh`]); the nightly sweep runs
//! [`refresh`] over every company ([`sweep_batch`]). Reads only ever see
//! the stored rows.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::trust::{self, Computed, EndedBooking, Inputs, Received};
use crate::DomainError;
use crate::access::Party;
use crate::jobs::{Schedule, TrustScore, enqueue};

/// Enqueues one more `trust_score` run when companies are still marked
/// (held by a writer that had not committed when the job drained).
pub async fn requeue_if_pending(conn: &mut PgConnection) -> Result<(), DomainError> {
    let pending = sqlx::query_scalar!("SELECT company_id FROM trust_dirty LIMIT 1")
        .fetch_optional(&mut *conn)
        .await?;
    if let Some(company_id) = pending {
        crate::domain::changes::enqueue_trust(conn, company_id).await?;
    }
    Ok(())
}

/// Takes up to `limit` dirty companies off the set, in the caller's
/// transaction: rows other runs hold are skipped, and a failure puts them
/// back with the rollback.
pub async fn drain(conn: &mut PgConnection, limit: i64) -> Result<Vec<Uuid>, DomainError> {
    Ok(sqlx::query_scalar!(
        "DELETE FROM trust_dirty WHERE company_id IN (
             SELECT company_id FROM trust_dirty ORDER BY marked_at
              LIMIT $1 FOR UPDATE SKIP LOCKED)
         RETURNING company_id",
        limit
    )
    .fetch_all(conn)
    .await?)
}

/// Whether companies have waited in the dirty set for over five minutes
/// with no live `trust_score` job (its job ended dead): if so, one more is
/// enqueued. Run by the maintenance job.
pub async fn resume_stranded(conn: &mut PgConnection) -> Result<bool, DomainError> {
    if crate::jobs::queue::in_flight::<TrustScore>(&mut *conn).await? {
        return Ok(false);
    }
    let stranded = sqlx::query_scalar!(
        "SELECT company_id FROM trust_dirty
          WHERE marked_at < now() - interval '5 minutes'
          ORDER BY marked_at LIMIT 1"
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(company_id) = stranded else {
        return Ok(false);
    };
    enqueue(conn, &TrustScore { company_id }, Schedule::now()).await?;
    Ok(true)
}

fn party(side: &str) -> Party {
    if side == "agency" {
        Party::Agency
    } else {
        Party::Promoter
    }
}

/// What the trust formula reads of each company, in four queries.
pub async fn inputs(
    conn: &mut PgConnection,
    ids: &[Uuid],
    now: DateTime<Utc>,
) -> Result<HashMap<Uuid, Inputs>, DomainError> {
    let since = now - chrono::Duration::days(trust::WINDOW_DAYS);
    let mut all: HashMap<Uuid, Inputs> = ids.iter().map(|id| (*id, Inputs::default())).collect();
    let bookings = sqlx::query!(
        r#"SELECT b.agency_company_id AS "company_id!", 'agency' AS "side!", b.status AS "status!", b.cancelled_by,
                  b.event_date AS "event_date!", b.ended_at AS "ended_at!"
             FROM bookings b
            WHERE b.agency_company_id = ANY ($1) AND b.status IN ('completed', 'cancelled') AND b.ended_at >= $2
           UNION ALL
           SELECT b.promoter_company_id, 'promoter', b.status, b.cancelled_by, b.event_date, b.ended_at
             FROM bookings b
            WHERE b.promoter_company_id = ANY ($1) AND b.status IN ('completed', 'cancelled') AND b.ended_at >= $2"#,
        ids,
        since,
    )
    .fetch_all(&mut *conn)
    .await?;
    for b in bookings {
        if let Some(i) = all.get_mut(&b.company_id) {
            i.bookings.push(EndedBooking {
                side: party(&b.side),
                cancelled: b.status == "cancelled",
                cancelled_by: b.cancelled_by.as_deref().map(party),
                event_date: b.event_date,
                ended_at: b.ended_at,
            });
        }
    }
    let ratings = sqlx::query!(
        "SELECT ratee_company_id, rater_company_id, overall, created_at
           FROM booking_ratings WHERE ratee_company_id = ANY ($1) AND created_at >= $2",
        ids,
        since,
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in ratings {
        if let Some(i) = all.get_mut(&r.ratee_company_id) {
            i.ratings.push(Received {
                rater_company_id: r.rater_company_id,
                overall: r.overall,
                at: r.created_at,
            });
        }
    }
    let deposits = sqlx::query!(
        r#"SELECT b.promoter_company_id, d.outcome AS "outcome!", d.at AS "at!"
             FROM bookings b JOIN deposit_outcomes d ON d.booking_id = b.id
            WHERE b.promoter_company_id = ANY ($1) AND d.at >= $2"#,
        ids,
        since,
    )
    .fetch_all(&mut *conn)
    .await?;
    for d in deposits {
        if let Some(i) = all.get_mut(&d.promoter_company_id) {
            i.deposits.push((d.outcome == "on_time", d.at));
        }
    }
    let signings = sqlx::query!(
        r#"SELECT CASE s.party WHEN 'agency' THEN c.agency_company_id ELSE c.promoter_company_id END AS "company_id!",
                  max(g.signed_at) AS "signed_at!",
                  (EXTRACT(EPOCH FROM max(g.signed_at) - c.sent_at) / 86400.0)::float8 AS "days!"
             FROM contracts c
             JOIN contract_signers s ON s.contract_id = c.id
             JOIN contract_signatures g ON g.signer_id = s.id AND g.version_number = c.current_version
            WHERE c.status = 'signed' AND c.sent_at IS NOT NULL AND c.signed_at >= $2
              AND ((s.party = 'agency' AND c.agency_company_id = ANY ($1))
                   OR (s.party = 'promoter' AND c.promoter_company_id = ANY ($1)))
            GROUP BY c.id, s.party"#,
        ids,
        since,
    )
    .fetch_all(&mut *conn)
    .await?;
    for s in signings {
        if let Some(i) = all.get_mut(&s.company_id) {
            i.signings.push((s.days, s.signed_at));
        }
    }
    Ok(all)
}

/// Upserts computed scores, counting each computation.
pub async fn store(
    conn: &mut PgConnection,
    computed: &[Computed],
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    let mut ids = Vec::with_capacity(computed.len());
    let mut scores = Vec::with_capacity(computed.len());
    let mut bands = Vec::with_capacity(computed.len());
    let mut samples = Vec::with_capacity(computed.len());
    let mut froms = Vec::with_capacity(computed.len());
    let mut tos = Vec::with_capacity(computed.len());
    let mut factors = Vec::with_capacity(computed.len());
    let mut reasons = Vec::with_capacity(computed.len());
    for c in computed {
        ids.push(c.company_id);
        scores.push(c.score);
        bands.push(c.band.as_str().to_owned());
        samples.push(c.sample_size);
        froms.push(c.window_from);
        tos.push(c.window_to);
        factors
            .push(serde_json::to_value(&c.factors).map_err(|e| DomainError::Internal(e.into()))?);
        reasons
            .push(serde_json::to_value(&c.reasons).map_err(|e| DomainError::Internal(e.into()))?);
    }
    sqlx::query!(
        "INSERT INTO trust_scores AS t (company_id, score, band, sample_size, window_from, window_to,
                                        factors, reasons, formula_version, computed_at)
         SELECT u.company_id, u.score, u.band, u.sample_size, u.window_from, u.window_to, u.factors, u.reasons, $9, $10
           FROM unnest($1::uuid[], $2::int2[], $3::text[], $4::int4[], $5::date[], $6::date[], $7::jsonb[], $8::jsonb[])
                AS u (company_id, score, band, sample_size, window_from, window_to, factors, reasons)
         ON CONFLICT (company_id) DO UPDATE SET
                score = excluded.score, band = excluded.band, sample_size = excluded.sample_size,
                window_from = excluded.window_from, window_to = excluded.window_to,
                factors = excluded.factors, reasons = excluded.reasons,
                formula_version = excluded.formula_version, computed_at = excluded.computed_at,
                computations = t.computations + 1",
        &ids,
        &scores as &[Option<i16>],
        &bands,
        &samples,
        &froms,
        &tos,
        &factors,
        &reasons,
        trust::FORMULA_VERSION,
        now,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Rewrites every relationship row of the given companies (their view of
/// each counterparty) from bookings, offers, contracts, Finance reports
/// and ratings.
pub async fn relationships(
    conn: &mut PgConnection,
    ids: &[Uuid],
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    sqlx::query!("DELETE FROM relationships WHERE company_id = ANY ($1)", ids)
        .execute(&mut *conn)
        .await?;
    sqlx::query!(
        r#"WITH b AS (
               SELECT b.agency_company_id AS company_id, b.promoter_company_id AS counterparty_id, 'agency' AS side,
                      b.id, b.status, b.cancelled_by, b.created_at, b.updated_at
                 FROM bookings b WHERE b.agency_company_id = ANY ($1)
               UNION ALL
               SELECT b.promoter_company_id, b.agency_company_id, 'promoter',
                      b.id, b.status, b.cancelled_by, b.created_at, b.updated_at
                 FROM bookings b WHERE b.promoter_company_id = ANY ($1)
           ),
           o AS (
               SELECT o.agency_company_id AS company_id, o.promoter_company_id AS counterparty_id, o.created_at, o.updated_at
                 FROM offers o WHERE o.agency_company_id = ANY ($1)
               UNION ALL
               SELECT o.promoter_company_id, o.agency_company_id, o.created_at, o.updated_at
                 FROM offers o WHERE o.promoter_company_id = ANY ($1)
           ),
           bs AS (
               SELECT company_id, counterparty_id, min(created_at) AS first_at, max(updated_at) AS last_at,
                      count(*) FILTER (WHERE status = 'confirmed') AS confirmed,
                      count(*) FILTER (WHERE status = 'completed') AS completed,
                      count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
                      count(*) FILTER (WHERE status = 'cancelled' AND cancelled_by = side) AS by_us,
                      count(*) FILTER (WHERE status = 'cancelled' AND cancelled_by <> side) AS by_them
                 FROM b GROUP BY company_id, counterparty_id
           ),
           os AS (
               SELECT company_id, counterparty_id, count(*) AS n, min(created_at) AS first_at, max(updated_at) AS last_at
                 FROM o GROUP BY company_id, counterparty_id
           ),
           cs AS (
               SELECT b.company_id, b.counterparty_id, count(*) AS n,
                      round(avg(EXTRACT(EPOCH FROM c.signed_at - c.sent_at) / 86400.0), 1) AS avg_days
                 FROM b JOIN contracts c ON c.booking_id = b.id
                WHERE c.status = 'signed' AND c.sent_at IS NOT NULL AND c.signed_at IS NOT NULL
                GROUP BY b.company_id, b.counterparty_id
           ),
           ds AS (
               SELECT b.company_id, b.counterparty_id,
                      count(*) FILTER (WHERE d.outcome = 'on_time') AS on_time,
                      count(*) FILTER (WHERE d.outcome = 'late') AS late
                 FROM b JOIN deposit_outcomes d ON d.booking_id = b.id
                WHERE b.side = 'agency'
                GROUP BY b.company_id, b.counterparty_id
           ),
           rg AS (
               SELECT rater_company_id AS company_id, ratee_company_id AS counterparty_id, count(*) AS n,
                      round(avg(overall), 2) AS avg
                 FROM booking_ratings WHERE rater_company_id = ANY ($1)
                GROUP BY rater_company_id, ratee_company_id
           ),
           rr AS (
               SELECT ratee_company_id AS company_id, rater_company_id AS counterparty_id, count(*) AS n,
                      round(avg(overall), 2) AS avg
                 FROM booking_ratings WHERE ratee_company_id = ANY ($1)
                GROUP BY ratee_company_id, rater_company_id
           ),
           pairs AS (
               SELECT company_id, counterparty_id FROM bs
               UNION SELECT company_id, counterparty_id FROM os
           )
           INSERT INTO relationships (company_id, counterparty_id, first_interaction_at, last_interaction_at,
                  offers, bookings_confirmed, bookings_completed, bookings_cancelled, cancelled_by_us,
                  cancelled_by_them, contracts_signed, avg_days_to_sign, their_deposits_on_time,
                  their_deposits_late, ratings_given, ratings_given_avg, ratings_received,
                  ratings_received_avg, refreshed_at)
           SELECT p.company_id, p.counterparty_id,
                  LEAST(bs.first_at, os.first_at), GREATEST(bs.last_at, os.last_at),
                  COALESCE(os.n, 0), COALESCE(bs.confirmed, 0), COALESCE(bs.completed, 0),
                  COALESCE(bs.cancelled, 0), COALESCE(bs.by_us, 0), COALESCE(bs.by_them, 0),
                  COALESCE(cs.n, 0), cs.avg_days, COALESCE(ds.on_time, 0), COALESCE(ds.late, 0),
                  COALESCE(rg.n, 0), rg.avg, COALESCE(rr.n, 0), rr.avg, $2
             FROM pairs p
             LEFT JOIN bs USING (company_id, counterparty_id)
             LEFT JOIN os USING (company_id, counterparty_id)
             LEFT JOIN cs USING (company_id, counterparty_id)
             LEFT JOIN ds USING (company_id, counterparty_id)
             LEFT JOIN rg USING (company_id, counterparty_id)
             LEFT JOIN rr USING (company_id, counterparty_id)
            WHERE p.company_id <> p.counterparty_id
           ON CONFLICT (company_id, counterparty_id) DO UPDATE SET
                  first_interaction_at = excluded.first_interaction_at,
                  last_interaction_at = excluded.last_interaction_at, offers = excluded.offers,
                  bookings_confirmed = excluded.bookings_confirmed, bookings_completed = excluded.bookings_completed,
                  bookings_cancelled = excluded.bookings_cancelled, cancelled_by_us = excluded.cancelled_by_us,
                  cancelled_by_them = excluded.cancelled_by_them, contracts_signed = excluded.contracts_signed,
                  avg_days_to_sign = excluded.avg_days_to_sign,
                  their_deposits_on_time = excluded.their_deposits_on_time,
                  their_deposits_late = excluded.their_deposits_late, ratings_given = excluded.ratings_given,
                  ratings_given_avg = excluded.ratings_given_avg, ratings_received = excluded.ratings_received,
                  ratings_received_avg = excluded.ratings_received_avg, refreshed_at = excluded.refreshed_at"#,
        ids,
        now,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Recomputes trust and relationships of `ids`, in the caller's
/// transaction.
pub async fn refresh(
    conn: &mut PgConnection,
    ids: &[Uuid],
    now: DateTime<Utc>,
) -> Result<(), DomainError> {
    if ids.is_empty() {
        return Ok(());
    }
    let inputs = inputs(&mut *conn, ids, now).await?;
    let computed: Vec<Computed> = ids
        .iter()
        .map(|id| trust::compute(*id, &inputs[id], now))
        .collect();
    store(&mut *conn, &computed, now).await?;
    relationships(conn, ids, now).await
}

/// Marks the marketplace rows of the companies' artists (they show the
/// booking agency's trust band). Called in a transaction of its own after
/// a recomputation commits: the recomputing transaction holds `trust_dirty`
/// rows, and a write may hold a search mark while it waits to mark trust,
/// so marking inside it could deadlock. Should the worker stop between the
/// two, the nightly read-model rebuild shows the new band.
pub async fn mark_artists_of(conn: &mut PgConnection, ids: &[Uuid]) -> Result<(), DomainError> {
    let artists = sqlx::query_scalar!(
        "SELECT DISTINCT artist_id FROM roster_links WHERE company_id = ANY ($1) AND role = 'booking'",
        ids
    )
    .fetch_all(&mut *conn)
    .await?;
    crate::domain::changes::mark(conn, crate::domain::changes::Model::ArtistSearch, &artists).await
}

/// One batch of the full sweep: the next `limit` companies after `after`
/// (by id), recomputed. Returns them, in id order; none when none were
/// left.
pub async fn sweep_batch(
    conn: &mut PgConnection,
    after: Option<Uuid>,
    limit: i64,
    now: DateTime<Utc>,
) -> Result<Vec<Uuid>, DomainError> {
    let ids = sqlx::query_scalar!(
        "SELECT id FROM companies WHERE id > COALESCE($1, '00000000-0000-0000-0000-000000000000'::uuid) ORDER BY id LIMIT $2",
        after,
        limit
    )
    .fetch_all(&mut *conn)
    .await?;
    // What the sweep recomputes is no longer dirty (rows a drain holds are
    // waited for, so neither overwrites the other with older data).
    sqlx::query!("DELETE FROM trust_dirty WHERE company_id = ANY ($1)", &ids)
        .execute(&mut *conn)
        .await?;
    refresh(conn, &ids, now).await?;
    Ok(ids)
}

//! Dashboards (SPEC 5.8): each company's agency and promoter sections,
//! kept by the worker in `company_dashboards`. A read combines the rows of
//! the org's companies and applies the clock (what is upcoming, what
//! expires within 48 hours, what is overdue today): it never recomputes.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::DomainError;
use crate::domain::finance;
use crate::money::ratio_bp;

/// Items kept per list of a section.
pub const LIST_MAX: i64 = 50;
/// Hours ahead a hold counts as expiring.
pub const EXPIRING_HOURS: i64 = 48;

/// A booking on a dashboard.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DashboardBooking {
    pub booking_id: Uuid,
    pub artist_id: Uuid,
    pub artist_name: String,
    pub event_date: NaiveDate,
    /// The other party's company.
    pub counterparty_id: Uuid,
    pub counterparty_name: String,
    pub venue_name: Option<String>,
    pub city: Option<String>,
}

/// A request, offer, hold, contract or proposal waiting on someone.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DashboardItem {
    pub id: Uuid,
    /// `request`, `offer`, `hold`, `contract` or `proposal`.
    pub kind: String,
    pub status: String,
    pub artist_id: Uuid,
    pub artist_name: String,
    pub event_date: NaiveDate,
    pub counterparty_id: Uuid,
    pub counterparty_name: String,
    /// When it expires (requests, offers, holds, contracts).
    pub expires_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// Fees of confirmed and completed bookings in one month and currency.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct MonthlyFees {
    /// `YYYY-MM` of the show.
    pub month: String,
    pub currency: String,
    /// Sum of guarantees in minor units.
    pub amount: i64,
    pub bookings: i64,
}

/// Inquiry to offer to booking, over the last 90 days.
#[derive(Clone, Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct Conversion {
    pub inquiries: i64,
    /// Inquiries answered by an offer.
    pub offers: i64,
    /// Those offers confirmed into a booking.
    pub bookings: i64,
    /// offers / inquiries in basis points; `null` without inquiries.
    pub inquiry_to_offer_bp: Option<i64>,
    /// bookings / offers in basis points; `null` without offers.
    pub offer_to_booking_bp: Option<i64>,
}

/// A deposit Finance reported on a booking of the promoter.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DashboardDeposit {
    pub booking_id: Uuid,
    pub artist_name: String,
    pub event_date: NaiveDate,
    pub status: String,
    pub amount: Option<i64>,
    pub currency: Option<String>,
    pub due_date: Option<NaiveDate>,
    /// Finance said overdue, or the due date has passed unpaid, as of the
    /// read: the same rule as a booking's `deposit_overdue`.
    pub overdue: bool,
}

/// A company's stored agency section.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct AgencySection {
    upcoming: Vec<DashboardBooking>,
    open_inquiries: i64,
    inquiries: Vec<DashboardItem>,
    offers_awaiting_us: i64,
    offers: Vec<DashboardItem>,
    holds: Vec<DashboardItem>,
    #[serde(default)]
    challenged: Vec<DashboardItem>,
    contracts_awaiting_signature: i64,
    contracts: Vec<DashboardItem>,
    proposals_awaiting_approval: i64,
    proposals: Vec<DashboardItem>,
    fees: Vec<MonthlyFees>,
    conversion: Conversion,
}

/// A company's stored promoter section.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct PromoterSection {
    offers_by_state: BTreeMap<String, i64>,
    upcoming: Vec<DashboardBooking>,
    proposals: Vec<DashboardItem>,
    deposits: Vec<DashboardDeposit>,
}

/// Rewrites the dashboard rows of `companies`.
pub async fn refresh(conn: &mut PgConnection, companies: &[Uuid]) -> Result<(), DomainError> {
    sqlx::query!(
        r#"WITH c AS (SELECT id FROM companies WHERE id = ANY ($1)),
           upcoming AS (
               SELECT c.id AS company_id, b.agency_company_id = c.id AS as_agency,
                      jsonb_build_object('booking_id', b.id, 'artist_id', b.artist_id, 'artist_name', a.name,
                          'event_date', b.event_date,
                          'counterparty_id', CASE WHEN b.agency_company_id = c.id THEN b.promoter_company_id ELSE b.agency_company_id END,
                          'counterparty_name', cp.name, 'venue_name', o.venue ->> 'name', 'city', ci.name) AS item,
                      row_number() OVER (PARTITION BY c.id, b.agency_company_id = c.id ORDER BY b.event_date, b.id) AS n
                 FROM c JOIN bookings b ON c.id IN (b.agency_company_id, b.promoter_company_id)
                 JOIN artists a ON a.id = b.artist_id
                 JOIN offers o ON o.id = b.offer_id
                 JOIN companies cp ON cp.id = CASE WHEN b.agency_company_id = c.id THEN b.promoter_company_id ELSE b.agency_company_id END
                 LEFT JOIN cities ci ON ci.id = o.venue_city_id
                WHERE b.status = 'confirmed' AND b.event_date >= current_date - 1
           ),
           items AS (
               SELECT c.id AS company_id, x.section, x.kind, x.waiting,
                      jsonb_build_object('id', x.id, 'kind', x.kind, 'status', x.status, 'artist_id', x.artist_id,
                          'artist_name', a.name, 'event_date', x.event_date, 'counterparty_id', x.counterparty_id,
                          'counterparty_name', cp.name, 'expires_at', x.expires_at, 'updated_at', x.updated_at) AS item,
                      row_number() OVER (PARTITION BY c.id, x.section, x.kind ORDER BY x.expires_at NULLS LAST, x.updated_at DESC, x.id) AS n
                 FROM c CROSS JOIN LATERAL (
                     SELECT 'agency' AS section, 'request' AS kind, r.id, r.status, r.artist_id, r.event_date,
                            r.promoter_company_id AS counterparty_id, r.expires_at, r.updated_at, true AS waiting
                       FROM booking_requests r WHERE r.agency_company_id = c.id AND r.status = 'open'
                     UNION ALL
                     SELECT 'agency', 'offer', o.id, o.status, o.artist_id, o.event_date, o.promoter_company_id,
                            o.expires_at, o.updated_at, true
                       FROM offers o WHERE o.agency_company_id = c.id AND o.status IN ('sent', 'countered')
                        AND o.written_by_side = 'promoter'
                     UNION ALL
                     SELECT 'agency', 'hold', h.id, h.status, h.artist_id, h.hold_date, h.promoter_company_id,
                            h.expires_at, h.updated_at, true
                       FROM holds h WHERE h.agency_company_id = c.id AND h.status IN ('active', 'challenged')
                     UNION ALL
                     SELECT 'agency', 'challenged', h.id, h.status, h.artist_id, h.hold_date, h.promoter_company_id,
                            h.expires_at, h.updated_at, true
                       FROM holds h WHERE h.agency_company_id = c.id AND h.status = 'challenged'
                     UNION ALL
                     SELECT 'agency', 'contract', k.id, k.status, k.artist_id, b.event_date, k.promoter_company_id,
                            k.expires_at, k.updated_at, true
                       FROM contracts k JOIN bookings b ON b.id = k.booking_id
                      WHERE k.agency_company_id = c.id AND k.status IN ('out_for_signature', 'partially_signed')
                     UNION ALL
                     SELECT 'agency', 'proposal', p.id, p.status, b.artist_id, b.event_date, b.promoter_company_id,
                            NULL, p.updated_at, true
                       FROM logistics_proposals p JOIN bookings b ON b.id = p.booking_id
                      WHERE b.agency_company_id = c.id AND p.status = 'submitted'
                     UNION ALL
                     SELECT 'promoter', 'proposal', p.id, p.status, b.artist_id, b.event_date, b.agency_company_id,
                            NULL, p.updated_at, false
                       FROM logistics_proposals p JOIN bookings b ON b.id = p.booking_id
                      WHERE b.promoter_company_id = c.id AND p.status <> 'superseded'
                 ) x
                 JOIN artists a ON a.id = x.artist_id
                 JOIN companies cp ON cp.id = x.counterparty_id
           ),
           counts AS (
               SELECT company_id, section, kind, count(*) AS n FROM items GROUP BY company_id, section, kind
           ),
           fees AS (
               SELECT c.id AS company_id, to_char(b.event_date, 'YYYY-MM') AS month, b.deal ->> 'currency' AS currency,
                      sum(COALESCE((b.deal ->> 'guarantee_amount')::bigint, 0)) AS amount, count(*) AS n
                 FROM c JOIN bookings b ON b.agency_company_id = c.id
                WHERE b.status IN ('confirmed', 'completed')
                  AND b.event_date BETWEEN date_trunc('month', current_date) - interval '11 months'
                                       AND date_trunc('month', current_date) + interval '13 months' - interval '1 day'
                GROUP BY c.id, 2, 3
           ),
           conv AS (
               SELECT c.id AS company_id,
                      (SELECT count(*) FROM booking_requests r WHERE r.agency_company_id = c.id
                          AND r.created_at >= now() - interval '90 days') AS inquiries,
                      (SELECT count(*) FROM booking_requests r WHERE r.agency_company_id = c.id
                          AND r.created_at >= now() - interval '90 days'
                          AND EXISTS (SELECT 1 FROM offers o WHERE o.booking_request_id = r.id)) AS offers,
                      (SELECT count(*) FROM booking_requests r WHERE r.agency_company_id = c.id
                          AND r.created_at >= now() - interval '90 days'
                          AND EXISTS (SELECT 1 FROM offers o JOIN bookings b ON b.offer_id = o.id
                                       WHERE o.booking_request_id = r.id)) AS bookings
                 FROM c
           ),
           offer_states AS (
               SELECT c.id AS company_id, jsonb_object_agg(s.status, s.n) AS states
                 FROM c CROSS JOIN LATERAL (SELECT o.status, count(*) AS n FROM offers o
                                             WHERE o.promoter_company_id = c.id GROUP BY o.status) s
                GROUP BY c.id
           ),
           deposits AS (
               SELECT c.id AS company_id,
                      jsonb_agg(jsonb_build_object('booking_id', b.id, 'artist_name', a.name, 'event_date', b.event_date,
                          'status', f.deposit_status, 'amount', f.deposit_amount, 'currency', f.deposit_currency,
                          'due_date', f.deposit_due_date,
                          'overdue', kisum_deposit_overdue(f.deposit_status, f.deposit_due_date, false,
                                                           (now() AT TIME ZONE 'UTC')::date))
                          ORDER BY f.deposit_due_date NULLS LAST, b.id) AS items
                 FROM c JOIN bookings b ON b.promoter_company_id = c.id
                 JOIN booking_finance f ON f.booking_id = b.id
                 JOIN artists a ON a.id = b.artist_id
                WHERE f.deposit_status IN ('invoiced', 'overdue') AND b.status <> 'cancelled'
                GROUP BY c.id
           ),
           rows AS (
               SELECT c.id,
                      jsonb_build_object(
                          'upcoming', COALESCE((SELECT jsonb_agg(u.item ORDER BY u.n) FROM upcoming u
                                                 WHERE u.company_id = c.id AND u.as_agency AND u.n <= $2), '[]'),
                          'open_inquiries', COALESCE((SELECT n FROM counts WHERE company_id = c.id AND section = 'agency' AND kind = 'request'), 0),
                          'inquiries', COALESCE((SELECT jsonb_agg(i.item ORDER BY i.n) FROM items i
                                                  WHERE i.company_id = c.id AND i.section = 'agency' AND i.kind = 'request' AND i.n <= $2), '[]'),
                          'offers_awaiting_us', COALESCE((SELECT n FROM counts WHERE company_id = c.id AND section = 'agency' AND kind = 'offer'), 0),
                          'offers', COALESCE((SELECT jsonb_agg(i.item ORDER BY i.n) FROM items i
                                               WHERE i.company_id = c.id AND i.section = 'agency' AND i.kind = 'offer' AND i.n <= $2), '[]'),
                          'holds', COALESCE((SELECT jsonb_agg(i.item ORDER BY i.n) FROM items i
                                              WHERE i.company_id = c.id AND i.section = 'agency' AND i.kind = 'hold' AND i.n <= $2), '[]'),
                          'challenged', COALESCE((SELECT jsonb_agg(i.item ORDER BY i.n) FROM items i
                                                   WHERE i.company_id = c.id AND i.section = 'agency' AND i.kind = 'challenged' AND i.n <= $2), '[]'),
                          'contracts_awaiting_signature', COALESCE((SELECT n FROM counts WHERE company_id = c.id AND section = 'agency' AND kind = 'contract'), 0),
                          'contracts', COALESCE((SELECT jsonb_agg(i.item ORDER BY i.n) FROM items i
                                                  WHERE i.company_id = c.id AND i.section = 'agency' AND i.kind = 'contract' AND i.n <= $2), '[]'),
                          'proposals_awaiting_approval', COALESCE((SELECT n FROM counts WHERE company_id = c.id AND section = 'agency' AND kind = 'proposal'), 0),
                          'proposals', COALESCE((SELECT jsonb_agg(i.item ORDER BY i.n) FROM items i
                                                  WHERE i.company_id = c.id AND i.section = 'agency' AND i.kind = 'proposal' AND i.n <= $2), '[]'),
                          'fees', COALESCE((SELECT jsonb_agg(jsonb_build_object('month', month, 'currency', currency,
                                                   'amount', amount, 'bookings', n) ORDER BY month, currency)
                                              FROM fees WHERE company_id = c.id), '[]'),
                          'conversion', (SELECT jsonb_build_object('inquiries', inquiries, 'offers', offers, 'bookings', bookings,
                                              'inquiry_to_offer_bp', CASE WHEN inquiries > 0 THEN offers * 10000 / inquiries END,
                                              'offer_to_booking_bp', CASE WHEN offers > 0 THEN bookings * 10000 / offers END)
                                           FROM conv WHERE company_id = c.id)
                      ) AS agency,
                      jsonb_build_object(
                          'offers_by_state', COALESCE((SELECT states FROM offer_states WHERE company_id = c.id), '{}'),
                          'upcoming', COALESCE((SELECT jsonb_agg(u.item ORDER BY u.n) FROM upcoming u
                                                 WHERE u.company_id = c.id AND NOT u.as_agency AND u.n <= $2), '[]'),
                          'proposals', COALESCE((SELECT jsonb_agg(i.item ORDER BY i.n) FROM items i
                                                  WHERE i.company_id = c.id AND i.section = 'promoter' AND i.n <= $2), '[]'),
                          'deposits', COALESCE((SELECT items FROM deposits WHERE company_id = c.id), '[]')
                      ) AS promoter
                 FROM c
           )
           INSERT INTO company_dashboards AS d (company_id, agency, promoter, refreshed_at)
           SELECT id, agency, promoter, now() FROM rows
           ON CONFLICT (company_id) DO UPDATE SET agency = excluded.agency, promoter = excluded.promoter,
                                                  refreshed_at = excluded.refreshed_at"#,
        companies,
        LIST_MAX,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A chart series: one value per label.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Series {
    pub name: String,
    pub labels: Vec<String>,
    pub values: Vec<i64>,
}

/// The agency dashboard of the org's companies (or one of them).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AgencyDashboard {
    pub companies: Vec<Uuid>,
    /// Confirmed shows from today, soonest first.
    pub upcoming_bookings: Vec<DashboardBooking>,
    pub open_inquiries: i64,
    pub inquiries: Vec<DashboardItem>,
    /// Offers the promoter sent or countered: our move.
    pub offers_awaiting_us: i64,
    pub offers: Vec<DashboardItem>,
    /// Live holds expiring within 48 hours.
    pub holds_expiring: Vec<DashboardItem>,
    /// Challenged holds.
    pub holds_challenged: Vec<DashboardItem>,
    pub contracts_awaiting_signature: i64,
    pub contracts: Vec<DashboardItem>,
    pub proposals_awaiting_approval: i64,
    pub proposals: Vec<DashboardItem>,
    /// Guarantees of confirmed and completed shows by month and currency,
    /// from 11 months back to 12 ahead.
    pub fees_by_month: Vec<MonthlyFees>,
    /// One series per currency over the same months, for charts.
    pub fee_series: Vec<Series>,
    pub conversion_90d: Conversion,
    /// When the oldest company row was refreshed; `null` before the
    /// worker reached any.
    pub refreshed_at: Option<DateTime<Utc>>,
}

/// The promoter dashboard of the org's companies (or one of them).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct PromoterDashboard {
    pub companies: Vec<Uuid>,
    /// Offers by state (`draft`, `sent`, `countered`, `accepted`, ...).
    pub offers_by_state: BTreeMap<String, i64>,
    /// The same as a chart series.
    pub offer_series: Series,
    pub upcoming_bookings: Vec<DashboardBooking>,
    /// Logistics proposals and the artist side's answers.
    pub proposals: Vec<DashboardItem>,
    /// Deposits invoiced and not yet paid, due date first.
    pub deposits_due: Vec<DashboardDeposit>,
    /// Of those, the overdue ones.
    pub deposits_overdue: Vec<DashboardDeposit>,
    pub refreshed_at: Option<DateTime<Utc>>,
}

struct Stored {
    agency: serde_json::Value,
    promoter: serde_json::Value,
    refreshed_at: DateTime<Utc>,
}

/// The org's companies (or `company_id`, 404 unless the org owns it),
/// with their stored rows.
async fn stored(
    conn: &mut PgConnection,
    org_id: Uuid,
    company_id: Option<Uuid>,
) -> Result<(Vec<Uuid>, Vec<Stored>), DomainError> {
    let companies: Vec<Uuid> = crate::access::owned_companies(&mut *conn, org_id)
        .await?
        .into_iter()
        .map(|c| c.id)
        .filter(|id| company_id.is_none_or(|c| c == *id))
        .collect();
    if company_id.is_some() && companies.is_empty() {
        return Err(DomainError::NotFound);
    }
    let rows = sqlx::query_as!(
        Stored,
        "SELECT agency, promoter, refreshed_at FROM company_dashboards
          WHERE company_id = ANY ($1) ORDER BY company_id",
        &companies
    )
    .fetch_all(conn)
    .await?;
    Ok((companies, rows))
}

fn section<T: for<'de> Deserialize<'de> + Default>(
    value: serde_json::Value,
) -> Result<T, DomainError> {
    serde_json::from_value(value).map_err(|e| DomainError::Internal(e.into()))
}

pub async fn agency(
    conn: &mut PgConnection,
    org_id: Uuid,
    company_id: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<AgencyDashboard, DomainError> {
    let (companies, rows) = stored(conn, org_id, company_id).await?;
    let today = now.date_naive();
    let mut d = AgencyDashboard {
        companies,
        upcoming_bookings: Vec::new(),
        open_inquiries: 0,
        inquiries: Vec::new(),
        offers_awaiting_us: 0,
        offers: Vec::new(),
        holds_expiring: Vec::new(),
        holds_challenged: Vec::new(),
        contracts_awaiting_signature: 0,
        contracts: Vec::new(),
        proposals_awaiting_approval: 0,
        proposals: Vec::new(),
        fees_by_month: Vec::new(),
        fee_series: Vec::new(),
        conversion_90d: Conversion::default(),
        refreshed_at: rows.iter().map(|r| r.refreshed_at).min(),
    };
    let mut fees: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    for row in rows {
        let s: AgencySection = section(row.agency)?;
        d.upcoming_bookings
            .extend(s.upcoming.into_iter().filter(|b| b.event_date >= today));
        d.open_inquiries += s.open_inquiries;
        d.inquiries.extend(s.inquiries);
        d.offers_awaiting_us += s.offers_awaiting_us;
        d.offers.extend(s.offers);
        d.holds_challenged.extend(s.challenged);
        for h in s.holds {
            if h.expires_at
                .is_some_and(|e| e > now && e <= now + Duration::hours(EXPIRING_HOURS))
            {
                d.holds_expiring.push(h);
            }
        }
        d.contracts_awaiting_signature += s.contracts_awaiting_signature;
        d.contracts.extend(s.contracts);
        d.proposals_awaiting_approval += s.proposals_awaiting_approval;
        d.proposals.extend(s.proposals);
        for f in s.fees {
            let e = fees.entry((f.month, f.currency)).or_default();
            e.0 += f.amount;
            e.1 += f.bookings;
        }
        d.conversion_90d.inquiries += s.conversion.inquiries;
        d.conversion_90d.offers += s.conversion.offers;
        d.conversion_90d.bookings += s.conversion.bookings;
    }
    let c = &mut d.conversion_90d;
    c.inquiry_to_offer_bp = ratio_bp(c.offers, c.inquiries);
    c.offer_to_booking_bp = ratio_bp(c.bookings, c.offers);
    d.upcoming_bookings
        .sort_by_key(|b| (b.event_date, b.booking_id));
    d.upcoming_bookings.truncate(LIST_MAX as usize);
    // Soonest expiry first; what never expires last, as stored.
    let by_expiry = |a: &DashboardItem, b: &DashboardItem| {
        (a.expires_at.is_none(), a.expires_at, a.id).cmp(&(
            b.expires_at.is_none(),
            b.expires_at,
            b.id,
        ))
    };
    for list in [
        &mut d.inquiries,
        &mut d.offers,
        &mut d.holds_expiring,
        &mut d.holds_challenged,
        &mut d.contracts,
        &mut d.proposals,
    ] {
        list.sort_by(by_expiry);
        list.truncate(LIST_MAX as usize);
    }
    // Months from 11 back to 12 ahead, one series per currency.
    let months = month_labels(today);
    let currencies: std::collections::BTreeSet<String> =
        fees.keys().map(|(_, c)| c.clone()).collect();
    d.fee_series = currencies
        .iter()
        .map(|cur| Series {
            name: cur.clone(),
            labels: months.clone(),
            values: months
                .iter()
                .map(|m| fees.get(&(m.clone(), cur.clone())).map_or(0, |v| v.0))
                .collect(),
        })
        .collect();
    d.fees_by_month = fees
        .into_iter()
        .filter(|((month, _), _)| months.contains(month))
        .map(|((month, currency), (amount, bookings))| MonthlyFees {
            month,
            currency,
            amount,
            bookings,
        })
        .collect();
    Ok(d)
}

fn month_labels(today: NaiveDate) -> Vec<String> {
    use chrono::Datelike;
    let start = today.year() * 12 + today.month0() as i32 - 11;
    (0..24)
        .map(|i| {
            let m = start + i;
            format!("{:04}-{:02}", m.div_euclid(12), m.rem_euclid(12) + 1)
        })
        .collect()
}

const OFFER_STATES: [&str; 7] = [
    "draft",
    "sent",
    "countered",
    "accepted",
    "declined",
    "withdrawn",
    "expired",
];

pub async fn promoter(
    conn: &mut PgConnection,
    org_id: Uuid,
    company_id: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<PromoterDashboard, DomainError> {
    let (companies, rows) = stored(&mut *conn, org_id, company_id).await?;
    let today = now.date_naive();
    let refreshed_at = rows.iter().map(|r| r.refreshed_at).min();
    let mut states: BTreeMap<String, i64> =
        OFFER_STATES.iter().map(|s| ((*s).to_owned(), 0)).collect();
    let mut upcoming = Vec::new();
    let mut proposals = Vec::new();
    let mut due = Vec::new();
    for row in rows {
        let s: PromoterSection = section(row.promoter)?;
        for (k, v) in s.offers_by_state {
            *states.entry(k).or_default() += v;
        }
        upcoming.extend(s.upcoming.into_iter().filter(|b| b.event_date >= today));
        proposals.extend(s.proposals);
        due.extend(s.deposits);
    }
    // The section holds no deposit of a cancelled booking.
    let deposits: Vec<(String, Option<NaiveDate>)> =
        due.iter().map(|d| (d.status.clone(), d.due_date)).collect();
    let flags = finance::status::overdue_on(&mut *conn, &deposits, today).await?;
    for (deposit, overdue) in due.iter_mut().zip(flags) {
        deposit.overdue = overdue;
    }
    upcoming.sort_by_key(|b: &DashboardBooking| (b.event_date, b.booking_id));
    upcoming.truncate(LIST_MAX as usize);
    proposals.sort_by(|a: &DashboardItem, b| b.updated_at.cmp(&a.updated_at).then(a.id.cmp(&b.id)));
    proposals.truncate(LIST_MAX as usize);
    due.sort_by_key(|d| (d.due_date, d.booking_id));
    let overdue = due.iter().filter(|d| d.overdue).cloned().collect();
    Ok(PromoterDashboard {
        companies,
        offer_series: Series {
            name: "offers".to_owned(),
            labels: states.keys().cloned().collect(),
            values: states.values().copied().collect(),
        },
        offers_by_state: states,
        upcoming_bookings: upcoming,
        proposals,
        deposits_due: due,
        deposits_overdue: overdue,
        refreshed_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_labels_span_two_years_across_a_new_year() {
        let m = month_labels(NaiveDate::from_ymd_opt(2026, 1, 15).unwrap());
        assert_eq!(m.len(), 24);
        assert_eq!(m[0], "2025-02");
        assert_eq!(m[11], "2026-01");
        assert_eq!(m[23], "2027-01");
    }
}

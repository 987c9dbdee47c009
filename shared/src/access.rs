//! Access: which companies an org owns, and which party of a record it is.
//!
//! An org acts through the market companies it owns, an ownership that an
//! approved company claim gives (`IsCompanyOwnedByOrg`). In SQL that rule is
//! the view `org_companies (org_id, company_id)`; every query that asks
//! "does this org own that company" reads the view, and every area asks
//! through the functions here: ownership of a company, the right to edit an
//! artist, the party an org is on for a booking-linked record, the artist's
//! booking agency, and the company kinds that may stand on the promoter's
//! side. A record the caller is no party to answers 404, never 403.

use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::DomainError;
use crate::reference::Refs;
use crate::unnamed::Unnamed;

/// The side of a booking-linked record (request, offer, hold, booking,
/// contract, proposal) an org stands on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Party {
    /// The artist's representing (booking) agency.
    Agency,
    /// The promoter company (a promoter, venue or other buyer).
    Promoter,
}

impl Party {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agency => "agency",
            Self::Promoter => "promoter",
        }
    }

    /// The party across the table.
    pub fn other(self) -> Self {
        match self {
            Self::Agency => Self::Promoter,
            Self::Promoter => Self::Agency,
        }
    }
}

/// The two companies of a booking-linked record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parties {
    pub agency: Uuid,
    pub promoter: Uuid,
}

/// What a market company is; its kind decides which side of a record it
/// may stand on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum CompanyKind {
    Agency,
    Promoter,
    Venue,
    Management,
    Label,
    Other,
}

impl CompanyKind {
    /// Whether a company of this kind may buy shows: stand on the promoter's
    /// side of a request, offer, hold or booking.
    pub fn buys_shows(self) -> bool {
        matches!(self, Self::Promoter | Self::Venue | Self::Other)
    }

    /// Whether a company of this kind represents artists (and so may
    /// create them in the directory and hold roster links).
    pub fn represents_artists(self) -> bool {
        matches!(self, Self::Agency | Self::Management)
    }
}

/// Whether `org_id` owns `company_id`.
pub async fn owns(
    conn: &mut PgConnection,
    org_id: Uuid,
    company_id: Uuid,
) -> Result<bool, DomainError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM org_companies WHERE company_id = $1 AND org_id = $2) AS "owned!""#,
        company_id,
        org_id,
    )
    .fetch_one(conn)
    .await?)
}

/// Ok when `org_id` owns the company; 404 when the company does not exist,
/// 403 when it does (companies are public) but belongs to someone else.
pub async fn require_company_owner(
    conn: &mut PgConnection,
    company_id: Uuid,
    org_id: Uuid,
) -> Result<(), DomainError> {
    let row = sqlx::query!(
        r#"SELECT EXISTS (SELECT 1 FROM org_companies WHERE company_id = c.id AND org_id = $2) AS "owned!"
             FROM companies c WHERE c.id = $1"#,
        company_id,
        org_id,
    )
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound)?;
    if row.owned {
        Ok(())
    } else {
        Err(DomainError::Forbidden(
            "only the org that owns this company may change it",
        ))
    }
}

/// The org that owns `company_id`, if any.
pub async fn owner_of(
    conn: &mut PgConnection,
    company_id: Uuid,
) -> Result<Option<Uuid>, DomainError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT org_id AS "org_id!" FROM org_companies WHERE company_id = $1"#,
        company_id
    )
    .fetch_optional(conn)
    .await?)
}

/// The agency an org owns (at most one, a unique index), if any.
pub async fn owned_agency(
    conn: &mut PgConnection,
    org_id: Uuid,
) -> Result<Option<Uuid>, DomainError> {
    Ok(sqlx::query_scalar!(
        "SELECT c.id FROM companies c JOIN org_companies oc ON oc.company_id = c.id
          WHERE oc.org_id = $1 AND c.kind = 'agency'",
        org_id
    )
    .fetch_optional(conn)
    .await?)
}

/// A company an org owns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OwnedCompany {
    pub id: Uuid,
    pub kind: CompanyKind,
}

/// The companies an org owns, by kind, name and id.
pub async fn owned_companies(
    conn: &mut PgConnection,
    org_id: Uuid,
) -> Result<Vec<OwnedCompany>, DomainError> {
    Ok(sqlx::query_as!(
        OwnedCompany,
        r#"SELECT c.id, c.kind AS "kind: CompanyKind"
             FROM companies c JOIN org_companies oc ON oc.company_id = c.id
            WHERE oc.org_id = $1
            ORDER BY c.kind, c.name, c.id"#,
        org_id
    )
    .fetch_all(conn)
    .await?)
}

/// The company on the promoter's side of a new request, offer or hold: it
/// must exist and be of a kind that buys shows. 422 on `field` otherwise.
/// Returns whether `org_id` owns it.
pub async fn promoter_company(
    conn: &mut PgConnection,
    org_id: Uuid,
    company_id: Uuid,
    field: &str,
) -> Result<bool, DomainError> {
    let row = sqlx::query!(
        r#"SELECT c.kind AS "kind: CompanyKind",
                  EXISTS (SELECT 1 FROM org_companies oc WHERE oc.company_id = c.id AND oc.org_id = $2) AS "owned!"
             FROM companies c WHERE c.id = $1"#,
        company_id,
        org_id,
    )
    .fetch_optional(conn)
    .await?;
    buying_company(row.map(|r| (r.kind, r.owned)), field)
}

/// The rule of [`promoter_company`] over its answer: the company's kind
/// and whether the org owns it, `None` when it does not exist.
fn buying_company(company: Option<(CompanyKind, bool)>, field: &str) -> Result<bool, DomainError> {
    let (kind, owned) =
        company.ok_or_else(|| DomainError::invalid(field, "is not a known company"))?;
    if !kind.buys_shows() {
        return Err(DomainError::invalid(
            field,
            "must be a promoter or venue company",
        ));
    }
    Ok(owned)
}

/// Which party `org_id` is on for a record between these companies, if
/// any. An org owning both sides acts as the agency.
pub async fn party_of(
    conn: &mut PgConnection,
    org_id: Uuid,
    parties: Parties,
) -> Result<Option<Party>, DomainError> {
    let row = sqlx::query!(
        r#"SELECT EXISTS (SELECT 1 FROM org_companies WHERE company_id = $1 AND org_id = $3) AS "agency!",
                  EXISTS (SELECT 1 FROM org_companies WHERE company_id = $2 AND org_id = $3) AS "promoter!""#,
        parties.agency,
        parties.promoter,
        org_id,
    )
    .fetch_one(conn)
    .await?;
    Ok(side(row.agency, row.promoter))
}

/// The party of an org that owns the agency side (`agency`) and/or the
/// promoter side (`promoter`) of a record: an org owning both acts as the
/// agency. The one tie-break every area uses.
pub fn side(agency: bool, promoter: bool) -> Option<Party> {
    if agency {
        Some(Party::Agency)
    } else if promoter {
        Some(Party::Promoter)
    } else {
        None
    }
}

/// The party `org_id` is on; 404 when it is none, so other tenants' ids
/// cannot be probed.
pub async fn require_party(
    conn: &mut PgConnection,
    org_id: Uuid,
    parties: Parties,
) -> Result<Party, DomainError> {
    party_of(conn, org_id, parties)
        .await?
        .ok_or(DomainError::NotFound)
}

/// Whether `org_id` may edit `artist_id`: it owns a company that
/// represents the artist (a roster link), or the company that created it.
pub async fn can_edit_artist(
    conn: &mut PgConnection,
    artist_id: Uuid,
    org_id: Uuid,
) -> Result<bool, DomainError> {
    Ok(sqlx::query_scalar!(
        r#"SELECT EXISTS (
             SELECT 1 FROM artists a JOIN org_companies oc ON oc.company_id = a.created_by_company_id
              WHERE a.id = $1 AND oc.org_id = $2
             UNION ALL
             SELECT 1 FROM roster_links l JOIN org_companies oc ON oc.company_id = l.company_id
              WHERE l.artist_id = $1 AND oc.org_id = $2
           ) AS "editable!""#,
        artist_id,
        org_id,
    )
    .fetch_one(conn)
    .await?)
}

/// Ok when `org_id` may edit the artist; 404 when the artist does not
/// exist (or is archived), 403 otherwise.
pub async fn require_artist_editor(
    conn: &mut PgConnection,
    artist_id: Uuid,
    org_id: Uuid,
) -> Result<(), DomainError> {
    let exists = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM artists WHERE id = $1 AND archived_at IS NULL) AS "exists!""#,
        artist_id
    )
    .fetch_one(&mut *conn)
    .await?;
    if !exists {
        return Err(DomainError::NotFound);
    }
    if can_edit_artist(conn, artist_id, org_id).await? {
        Ok(())
    } else {
        Err(DomainError::Forbidden(
            "only the artist's representing company may change it",
        ))
    }
}

/// Whose booking agency to look for.
#[derive(Clone, Copy, Debug)]
pub enum AgencyOf {
    /// Any company (a promoter addressing the artist's agency).
    Anyone,
    /// Only companies this org owns (the agency acting for the artist).
    Org(Uuid),
}

/// The artist's booking agency: a company with a `booking` roster link for
/// the artist, which must exist and not be archived. A link whose territory
/// covers the event's city (`city_id`, when given) comes first, then a
/// worldwide one, then the oldest; roster links carry no dates, so the
/// agency answers for every date. `None` when there is none.
pub async fn booking_agency(
    conn: &mut PgConnection,
    artist_id: Uuid,
    of: AgencyOf,
    city_id: Option<i64>,
) -> Result<Option<Uuid>, DomainError> {
    let sides = booking_sides(
        conn,
        BookingAsk {
            org_id: match of {
                AgencyOf::Anyone => None,
                AgencyOf::Org(org) => Some(org),
            },
            artist_id,
            city_id,
            promoter_company_id: None,
            refs: &Refs::new(),
        },
    )
    .await?;
    Ok(match of {
        AgencyOf::Anyone => sides.agency,
        AgencyOf::Org(_) => sides.own_agency,
    })
}

/// What a new request, offer or hold asks before it is written.
#[derive(Clone, Copy, Debug)]
pub struct BookingAsk<'a> {
    /// The org acting (`None`: no org's own agency is asked for).
    pub org_id: Option<Uuid>,
    pub artist_id: Uuid,
    /// The event's city, which orders the artist's agencies.
    pub city_id: Option<i64>,
    /// The company named for the promoter's side.
    pub promoter_company_id: Option<Uuid>,
    /// The reference data the write names, checked in the same statement.
    pub refs: &'a Refs,
}

/// The answers to a [`BookingAsk`], from one statement.
#[derive(Clone, Debug)]
pub struct BookingSides {
    /// The artist exists and is not archived.
    pub artist_known: bool,
    /// The artist's booking agency ([`booking_agency`] for anyone).
    pub agency: Option<Uuid>,
    /// The artist's booking agency among the org's companies
    /// ([`booking_agency`] for the org).
    pub own_agency: Option<Uuid>,
    promoter: Option<(CompanyKind, bool)>,
    unknown_refs: Vec<i64>,
}

impl BookingSides {
    /// [`promoter_company`]'s answer for the company asked about: whether
    /// the org owns it, or 422 on `field`.
    pub fn promoter_company(&self, field: &str) -> Result<bool, DomainError> {
        buying_company(self.promoter, field)
    }

    /// 422 naming every reference value asked about that does not exist
    /// ([`Refs::check`]'s answer).
    pub fn references(&self, refs: &Refs) -> Result<(), DomainError> {
        refs.refuse(&self.unknown_refs)
    }
}

/// Answers a [`BookingAsk`] in one statement: whether the artist is known,
/// its booking agency (for anyone and among the org's companies, by the
/// rule of [`booking_agency`]), the promoter company's kind and owner, and
/// which reference values are unknown. The caller applies the answers in
/// the order its errors should come.
pub async fn booking_sides(
    conn: &mut PgConnection,
    ask: BookingAsk<'_>,
) -> Result<BookingSides, DomainError> {
    let row = sqlx::query!(
        r#"WITH links AS (
               SELECT l.company_id,
                      EXISTS (SELECT 1 FROM org_companies oc WHERE oc.company_id = l.company_id AND oc.org_id = $2) AS owned,
                      row_number() OVER (
                          ORDER BY EXISTS (SELECT 1 FROM unnest(l.areas) area
                                            WHERE area IN (ci.country_code::text, ci.region_code)) DESC,
                                   l.worldwide DESC, l.created_at, l.company_id) AS rank
                 FROM roster_links l
                 JOIN artists a ON a.id = l.artist_id AND a.archived_at IS NULL
                 LEFT JOIN cities ci ON ci.id = $3
                WHERE l.artist_id = $1 AND l.role = 'booking'
           )
           SELECT EXISTS (SELECT 1 FROM artists WHERE id = $1 AND archived_at IS NULL) AS "artist_known!",
                  (SELECT company_id FROM links ORDER BY rank LIMIT 1) AS "agency?",
                  (SELECT company_id FROM links WHERE owned ORDER BY rank LIMIT 1) AS "own_agency?",
                  (SELECT c.kind FROM companies c WHERE c.id = $4) AS "promoter_kind?: CompanyKind",
                  EXISTS (SELECT 1 FROM org_companies oc WHERE oc.company_id = $4 AND oc.org_id = $2) AS "promoter_owned!",
                  kisum_unknown_references($5, $6) AS "unknown_refs!""#,
        ask.artist_id,
        ask.org_id,
        ask.city_id,
        ask.promoter_company_id,
        &ask.refs.kinds() as &[&str],
        &ask.refs.values() as &[&str],
    )
    .fetch_one(conn)
    .await?;
    Ok(BookingSides {
        artist_known: row.artist_known,
        agency: row.agency,
        own_agency: row.own_agency,
        promoter: row.promoter_kind.map(|kind| (kind, row.promoter_owned)),
        unknown_refs: row.unknown_refs,
    })
}

/// How an org stands to a tour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TourRole {
    /// It owns the company keeping the tour: it sees and changes everything.
    ArtistSide,
    /// It owns the promoter company of a confirmed (or completed) booking
    /// on one of the tour's stops: it sees the tour and the shared
    /// itinerary of those shows' days, and changes nothing.
    Promoter,
}

/// A tour as one org may reach it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TourAccess {
    pub tour_id: Uuid,
    pub artist_id: Uuid,
    pub company_id: Uuid,
    pub role: TourRole,
    /// The days whose shared itinerary the org sees as a promoter: the
    /// dates of its shows on the tour (empty for the artist side).
    pub promoter_days: Vec<chrono::NaiveDate>,
}

impl TourAccess {
    /// The rule: the artist side when the org owns the company keeping the
    /// tour, else a promoter when it promotes one of its shows (`days`),
    /// else no access.
    fn of(
        tour_id: Uuid,
        artist_id: Uuid,
        company_id: Uuid,
        artist_side: bool,
        days: Vec<chrono::NaiveDate>,
    ) -> Option<Self> {
        let role = if artist_side {
            TourRole::ArtistSide
        } else if !days.is_empty() {
            TourRole::Promoter
        } else {
            return None;
        };
        Some(Self {
            tour_id,
            artist_id,
            company_id,
            role,
            promoter_days: if role == TourRole::Promoter {
                days
            } else {
                Vec::new()
            },
        })
    }

    /// Ok for the artist side; 403 for a promoter, who may see the tour but
    /// not change it.
    pub fn require_artist_side(&self) -> Result<(), DomainError> {
        match self.role {
            TourRole::ArtistSide => Ok(()),
            TourRole::Promoter => Err(DomainError::Forbidden(
                "only the artist side may change a tour",
            )),
        }
    }

    /// Whether this org may see an itinerary item of `day` with `shared`
    /// visibility (the artist side sees every item).
    pub fn sees_item(&self, day: chrono::NaiveDate, shared: bool) -> bool {
        match self.role {
            TourRole::ArtistSide => true,
            TourRole::Promoter => shared && self.promoter_days.contains(&day),
        }
    }
}

/// How `org_id` may reach tour `tour_id`; 404 when it is neither the artist
/// side nor a promoter of one of its shows.
pub async fn tour_access(
    conn: &mut PgConnection,
    org_id: Uuid,
    tour_id: Uuid,
) -> Result<TourAccess, DomainError> {
    let row = sqlx::query!(
        r#"SELECT t.artist_id, t.company_id,
                  EXISTS (SELECT 1 FROM org_companies oc WHERE oc.company_id = t.company_id AND oc.org_id = $2) AS "artist_side!",
                  ARRAY (SELECT DISTINCT s.stop_date
                           FROM tour_stops s
                           JOIN bookings b ON b.id = s.booking_id AND b.status IN ('confirmed', 'completed')
                           JOIN org_companies oc ON oc.company_id = b.promoter_company_id AND oc.org_id = $2
                          WHERE s.tour_id = t.id
                          ORDER BY s.stop_date) AS "promoter_days!"
             FROM tours t WHERE t.id = $1"#,
        tour_id,
        org_id,
    )
    .fetch_optional(conn)
    .await?
    .ok_or(DomainError::NotFound)?;
    TourAccess::of(
        tour_id,
        row.artist_id,
        row.company_id,
        row.artist_side,
        row.promoter_days,
    )
    .ok_or(DomainError::NotFound)
}

/// The tours `org_id` reaches, by id after `after` (of `artist_id` when
/// given), at most `limit`: [`tour_access`]'s rule as a set, for lists.
pub async fn tours_reached(
    conn: &mut PgConnection,
    org_id: Uuid,
    artist_id: Option<Uuid>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<TourAccess>, DomainError> {
    // Unnamed: a cached statement's generic plan skips the optional filters' indexes.
    let rows = sqlx::query!(
        r#"SELECT t.id, t.artist_id, t.company_id, r.artist_side AS "artist_side!", r.promoter_days AS "promoter_days!"
             FROM tours t
            CROSS JOIN LATERAL (
                  SELECT EXISTS (SELECT 1 FROM org_companies oc WHERE oc.company_id = t.company_id AND oc.org_id = $1) AS artist_side,
                         ARRAY (SELECT DISTINCT s.stop_date
                                  FROM tour_stops s
                                  JOIN bookings b ON b.id = s.booking_id AND b.status IN ('confirmed', 'completed')
                                  JOIN org_companies oc ON oc.company_id = b.promoter_company_id AND oc.org_id = $1
                                 WHERE s.tour_id = t.id
                                 ORDER BY s.stop_date) AS promoter_days) r
            WHERE ($2::uuid IS NULL OR t.artist_id = $2) AND ($3::uuid IS NULL OR t.id > $3)
              AND (r.artist_side OR cardinality(r.promoter_days) > 0)
            ORDER BY t.id LIMIT $4"#,
        org_id,
        artist_id,
        after,
        limit,
    )
    .fetch_all(Unnamed(conn))
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            TourAccess::of(
                r.id,
                r.artist_id,
                r.company_id,
                r.artist_side,
                r.promoter_days,
            )
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parties_face_each_other() {
        assert_eq!(Party::Agency.other(), Party::Promoter);
        assert_eq!(Party::Promoter.other(), Party::Agency);
    }

    #[test]
    fn only_buyers_stand_on_the_promoter_side() {
        use CompanyKind::*;
        for kind in [Promoter, Venue, Other] {
            assert!(kind.buys_shows(), "{kind:?}");
        }
        for kind in [Agency, Management, Label] {
            assert!(!kind.buys_shows(), "{kind:?}");
        }
    }
}
